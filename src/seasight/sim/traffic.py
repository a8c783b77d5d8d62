"""Vessel movement: planned tracks along routes, and position reports sampled from them.

Each transmitter follows a *track*: knots (time, lat, lon) with straight-line (linear in
latitude/longitude) movement between them and a state for each stretch (sailing, at berth,
drifting, fishing). Tracks are built per vessel from voyages (berth, sail along a route, berth,
...) by :class:`TrackBuilder`; everything after that is vectorised over all vessels at once:
report times are drawn for every transmitter together, and positions, speeds and courses come
from one sorted search of all report times among all knots (:class:`Knots`).

An ordinary vessel (:func:`ordinary_track`) lies at berth in one scenario port, sails along the
lanes to another at its cruise speed (slowing to harbour speed for the first and last
:attr:`TrafficParams.harbour_km`), lies at berth there, and so on; the simulated span starts at a
random point of that cycle. Times are seconds from the scenario start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seasight.geo.distance import KM_PER_NM, bearing_deg, destination, haversine_km
from seasight.sim.fleet import Vessel
from seasight.sim.geography import Geography, split_route

__all__ = [
    "BERTH",
    "DRIFT",
    "FISH",
    "SAIL",
    "Knots",
    "Leg",
    "Track",
    "TrackBuilder",
    "TrafficParams",
    "drift_path",
    "next_port",
    "ordinary_track",
    "report_times",
    "sail_profile",
]

#: Track states (of the stretch that starts at a knot).
SAIL, BERTH, DRIFT, FISH = 0, 1, 2, 3

_KN_TO_KM_S = KM_PER_NM / 3600.0


@dataclass(frozen=True)
class TrafficParams:
    """Parameters of ordinary traffic.

    Attributes:
        position_interval_s: (low, high) seconds between position reports of one transmitter in
            the (thinned, terrestrial) feed.
        static_interval_s: (low, high) seconds between static reports (type 5, 24 A/B).
        stay_hours: (low, high) time at berth in a port, hours.
        harbour_km: distance sailed at harbour speed when leaving and entering a port, km.
        harbour_kn: (low, high) harbour speed, knots.
        type3_share: share of class A position reports sent as type 3 (the rest type 1).
        extended_b_every: a class B vessel with an extended transponder sends every n-th
            position as a type 19.
        margin_s: knots are kept this far beyond the simulated span, seconds.
    """

    position_interval_s: tuple[float, float] = (120.0, 360.0)
    static_interval_s: tuple[float, float] = (330.0, 390.0)
    stay_hours: tuple[float, float] = (8.0, 30.0)
    harbour_km: float = 8.0
    harbour_kn: tuple[float, float] = (6.0, 8.0)
    type3_share: float = 0.15
    extended_b_every: int = 6
    margin_s: float = 6 * 3600.0


@dataclass(frozen=True)
class Leg:
    """A voyage leg as a static report announces it: destination and ETA (seconds)."""

    destination: str
    eta_s: float | None


@dataclass
class Track:
    """One transmitter's planned movement.

    Attributes:
        vessel: index of the vessel whose MMSI it transmits.
        t, lat, lon: knots, seconds from the scenario start, strictly increasing.
        state: per knot, the state of the stretch that starts there (SAIL, BERTH, ...).
        leg: per knot, index into :attr:`legs` of the voyage leg under way.
        legs: the voyage legs.
        transmitter: 0 for the vessel itself, 1 for a second transmitter using its MMSI.
    """

    vessel: int
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    state: np.ndarray
    leg: np.ndarray
    legs: list[Leg] = field(default_factory=list)
    transmitter: int = 0


def _seg_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return np.asarray(haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:]))


def sail_profile(route: np.ndarray, speed_kn: float, *, depart_km: float = 0.0,
                 arrive_km: float = 0.0, harbour_kn: float = 7.0,
                 seg_km: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Waypoints (k, 2) and elapsed seconds at each for sailing ``route`` at ``speed_kn``, at
    ``harbour_kn`` for the first ``depart_km`` and the last ``arrive_km``. ``seg_km``: the
    lengths of the route's legs, when known."""
    pts, legs, harbour = split_route(route, depart_km, arrive_km, seg_km)
    v = np.where(harbour, min(harbour_kn, speed_kn), speed_kn) * _KN_TO_KM_S
    return pts, np.concatenate([[0.0], np.cumsum(legs / v)])


def drift_path(rng: np.random.Generator, lat: float, lon: float, duration_s: float,
               speed_kn: tuple[float, float], radius_km: float, step_s: float = 600.0,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A slow random walk of ``duration_s`` from (lat, lon), staying within ``radius_km`` of
    it: (elapsed seconds, lat, lon), starting with (0, lat, lon)."""
    n = max(1, int(np.ceil(duration_s / step_s)))
    t = np.linspace(0.0, duration_s, n + 1)
    out_lat = np.empty(n + 1)
    out_lon = np.empty(n + 1)
    out_lat[0], out_lon[0] = lat, lon
    heading = float(rng.uniform(0, 360))
    for i in range(n):
        dist = float(rng.uniform(*speed_kn)) * _KN_TO_KM_S * (t[i + 1] - t[i])
        away = float(haversine_km(lat, lon, out_lat[i], out_lon[i]))
        if away > 0.6 * radius_km:
            back = float(bearing_deg(out_lat[i], out_lon[i], lat, lon))
            heading = back + float(rng.normal(0, 20))
        else:
            heading += float(rng.normal(0, 35))
        la, lo = destination(out_lat[i], out_lon[i], heading % 360.0, dist)
        out_lat[i + 1], out_lon[i + 1] = float(la), float(lo)
    return t, out_lat, out_lon


class TrackBuilder:
    """Builds a :class:`Track` forward in time from a start time and place."""

    def __init__(self, t: float, lat: float, lon: float) -> None:
        # knots in chunks of arrays: (t, lat, lon, state of the stretch ending there, leg)
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, int, int]] = [
            (np.array([float(t)]), np.array([float(lat)]), np.array([float(lon)]), BERTH, -1)]
        self._now = float(t)
        self._pos = (float(lat), float(lon))
        self.legs: list[Leg] = []
        self.leg = -1

    @property
    def now(self) -> float:
        """Time of the last knot, seconds."""
        return self._now

    @property
    def position(self) -> tuple[float, float]:
        """(lat, lon) of the last knot."""
        return self._pos

    def start_leg(self, destination: str, eta_s: float | None) -> None:
        """From now on, static reports announce this destination and ETA."""
        self.legs.append(Leg(destination, eta_s))
        self.leg = len(self.legs) - 1

    def _append(self, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, state: int) -> None:
        """Knots after the current one (times absolute, increasing, > now)."""
        if not len(t):
            return
        self._chunks.append((np.asarray(t, np.float64), np.asarray(lat, np.float64),
                             np.asarray(lon, np.float64), state, self.leg))
        self._now = float(t[-1])
        self._pos = (float(lat[-1]), float(lon[-1]))

    def hold(self, duration_s: float, state: int = BERTH) -> None:
        """Stay where it is for ``duration_s``."""
        if duration_s > 0:
            lat, lon = self.position
            self._append(np.array([self.now + duration_s]), np.array([lat]), np.array([lon]),
                         state)

    def hold_until(self, t: float, state: int = BERTH) -> None:
        """Stay where it is until ``t``."""
        self.hold(t - self.now, state)

    def path(self, t_rel: np.ndarray, lat: np.ndarray, lon: np.ndarray, state: int) -> None:
        """Follow a path given as (elapsed seconds from now, lat, lon); its first point must be
        the current position at elapsed 0."""
        self._append(self.now + np.asarray(t_rel[1:]), np.asarray(lat[1:]), np.asarray(lon[1:]),
                     state)

    def sail(self, route: np.ndarray, speed_kn: float, *, depart_km: float = 0.0,
             arrive_km: float = 0.0, harbour_kn: float = 7.0, state: int = SAIL) -> None:
        """Sail ``route`` (starting at the current position) at ``speed_kn``."""
        pts, elapsed = sail_profile(route, speed_kn, depart_km=depart_km, arrive_km=arrive_km,
                                    harbour_kn=harbour_kn)
        self.path(elapsed, pts[:, 0], pts[:, 1], state)

    def sail_planned(self, profile: tuple[np.ndarray, np.ndarray], state: int = SAIL) -> None:
        """Sail a route planned with :func:`sail_profile` (starting at the current position)."""
        pts, elapsed = profile
        self.path(elapsed, pts[:, 0], pts[:, 1], state)

    def build(self, vessel: int, span_s: float, margin_s: float, transmitter: int = 0) -> Track:
        """The track, with knots outside [-margin, span + margin] dropped (the knot on each side
        of that window kept)."""
        if len(self._chunks) == 1:
            self.hold(1.0)
        t = np.concatenate([c[0] for c in self._chunks])
        if not np.all(np.diff(t) > 0):
            raise ValueError("track knots must be strictly increasing in time")
        sizes = [len(c[0]) for c in self._chunks]
        # the state and leg of a stretch are stored at its first knot: shift by one knot
        ending_state = np.repeat([c[3] for c in self._chunks], sizes)
        ending_leg = np.repeat([c[4] for c in self._chunks], sizes)
        state = np.append(ending_state[1:], ending_state[-1]).astype(np.int8)
        leg = np.append(ending_leg[1:], self.leg).astype(np.int32)
        lo = max(int(np.searchsorted(t, -margin_s, side="right")) - 1, 0)
        hi = min(int(np.searchsorted(t, span_s + margin_s, side="left")) + 1, len(t))
        sl = slice(lo, hi)
        lat = np.concatenate([c[1] for c in self._chunks])
        lon = np.concatenate([c[2] for c in self._chunks])
        return Track(vessel, t[sl], lat[sl], lon[sl], state[sl], leg[sl], list(self.legs),
                     transmitter)


def next_port(rng: np.random.Generator, geo: Geography, current: int, max_km: float) -> int:
    """A port to sail to from ``current``: weighted by port weight, preferring nearer ports,
    within ``max_km`` (great circle) when any is."""
    n = len(geo.ports)
    d = geo.direct[current].copy()
    d[current] = np.inf
    ok = np.isfinite(d) & (d <= max_km)
    if not ok.any():
        ok = np.isfinite(d)
    w = np.array([p.weight for p in geo.ports]) / (1.0 + d / 2500.0)
    w = np.where(ok, w, 0.0)
    return int(rng.choice(n, p=w / w.sum()))


def _port_weights(geo: Geography) -> np.ndarray:
    w = np.array([p.weight for p in geo.ports], dtype=np.float64)
    return w / w.sum()


def _voyage(geo: Geography, here: int, there: int, start: tuple[float, float],
            spot: tuple[float, float], speed: float, harbour_kn: float,
            params: TrafficParams) -> tuple[np.ndarray, np.ndarray]:
    """Profile of a voyage from ``start`` (a berth spot in port ``here``) along the lanes to
    ``spot`` (a berth spot in port ``there``): the legs to and from the berth spots, and the
    first and last :attr:`TrafficParams.harbour_km` of the route, at harbour speed."""
    pts, seg, harbour = geo.route_profile(here, there, params.harbour_km)
    ends = _seg_km(np.array([start[0], pts[0, 0], pts[-1, 0], spot[0]]),
                   np.array([start[1], pts[0, 1], pts[-1, 1], spot[1]]))
    slow = min(harbour_kn, speed) * _KN_TO_KM_S
    dt = np.concatenate([[ends[0] / slow], seg / np.where(harbour, slow, speed * _KN_TO_KM_S),
                         [ends[2] / slow]])
    return (np.concatenate([[start], pts, [spot]]), np.concatenate([[0.0], np.cumsum(dt)]))


def ordinary_track(rng: np.random.Generator, geo: Geography, vessel_index: int, vessel: Vessel,
                   max_route_km: float, span_s: float, params: TrafficParams) -> Track:
    """The track of an ordinary vessel: berth, voyage, berth, ... over the whole span, entered
    at a random point of its first berth-and-voyage cycle."""
    here = int(rng.choice(len(geo.ports), p=_port_weights(geo)))
    harbour = float(rng.uniform(*params.harbour_kn))
    stay = float(rng.uniform(*params.stay_hours)) * 3600.0
    there = next_port(rng, geo, here, max_route_km)
    start = geo.berth_spot(rng, here)
    spot = geo.berth_spot(rng, there)
    profile = _voyage(geo, here, there, start, spot, vessel.speed_kn, harbour, params)
    u = float(rng.uniform(0.0, stay + profile[1][-1]))
    b = TrackBuilder(-u, *start)
    b.start_leg(geo.ports[here].locode, None)
    b.hold(stay)
    while True:
        b.start_leg(geo.ports[there].locode, b.now + float(profile[1][-1]))
        b.sail_planned(profile)
        b.hold(float(rng.uniform(*params.stay_hours)) * 3600.0)
        if b.now > span_s + params.margin_s:
            break
        here, there = there, next_port(rng, geo, there, max_route_km)
        spot = geo.berth_spot(rng, there)
        profile = _voyage(geo, here, there, b.position, spot, vessel.speed_kn, harbour, params)
    return b.build(vessel_index, span_s, params.margin_s)


# -- vectorised sampling -----------------------------------------------------------------------


def report_times(rng: np.random.Generator, n_tracks: int, span_s: float,
                 interval_s: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Report times of ``n_tracks`` transmitters over [0, span): ``(track, t)`` sorted by track
    then time, intervals uniform in ``interval_s``, the first at a random phase."""
    lo, hi = interval_s
    if n_tracks == 0 or span_s <= 0:
        return np.zeros(0, np.int64), np.zeros(0)
    n = int(np.ceil(span_s / lo)) + 1
    steps = rng.uniform(lo, hi, size=(n_tracks, n))
    steps[:, 0] = rng.uniform(0, hi, size=n_tracks)
    t = np.cumsum(steps, axis=1)
    keep = t < span_s
    track = np.broadcast_to(np.arange(n_tracks)[:, None], t.shape)[keep]
    return track.astype(np.int64), t[keep]


class Knots:
    """All tracks' knots in one sorted table, for locating many (track, time) pairs at once."""

    #: time offset making every knot time positive, and the stride between tracks, seconds
    _SHIFT = 1.0e7
    _STRIDE = 1.0e8

    def __init__(self, tracks: list[Track]) -> None:
        self.tracks = tracks
        sizes = np.array([len(tr.t) for tr in tracks], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.track = np.repeat(np.arange(len(tracks)), sizes)
        self.t = np.concatenate([tr.t for tr in tracks]) if tracks else np.zeros(0)
        self.lat = np.concatenate([tr.lat for tr in tracks]) if tracks else np.zeros(0)
        self.lon = np.concatenate([tr.lon for tr in tracks]) if tracks else np.zeros(0)
        self.state = np.concatenate([tr.state for tr in tracks]) if tracks else \
            np.zeros(0, np.int8)
        self.leg = np.concatenate([tr.leg for tr in tracks]) if tracks else np.zeros(0, np.int32)
        if (self.t < -self._SHIFT).any() or (self.t > self._STRIDE - 2 * self._SHIFT).any():
            raise ValueError("track times out of the supported range")
        self._key = self.track * self._STRIDE + (self.t + self._SHIFT)
        # speed (knots) and course (degrees) of the stretch starting at each knot
        nxt = np.minimum(np.arange(len(self.t)) + 1, len(self.t) - 1)
        same = (self.track[nxt] == self.track) & (nxt != np.arange(len(self.t)))
        d = np.asarray(haversine_km(self.lat, self.lon, self.lat[nxt], self.lon[nxt]))
        dt = np.where(same, self.t[nxt] - self.t, 1.0)
        self.speed_kn = np.where(same, d / np.maximum(dt, 1e-9) / _KN_TO_KM_S, 0.0)
        self.course = np.where(same & (d > 0),
                               np.asarray(bearing_deg(self.lat, self.lon, self.lat[nxt],
                                                      self.lon[nxt])), np.nan)

    def locate(self, track: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Position and motion of each (track, time): ``lat``, ``lon``, ``sog`` (knots),
        ``cog`` (degrees, NaN when still), ``state``, ``leg`` and ``knot`` (the stretch's first
        knot). Times outside a track's knots are clamped to its ends."""
        key = track * self._STRIDE + (t + self._SHIFT)
        k = np.searchsorted(self._key, key, side="right") - 1
        first = self.offsets[track]
        last = self.offsets[track + 1] - 1
        k = np.clip(k, first, np.maximum(last - 1, first))
        k1 = np.minimum(k + 1, last)
        span = self.t[k1] - self.t[k]
        f = np.where(span > 0, np.clip((t - self.t[k]) / np.where(span > 0, span, 1.0), 0, 1),
                     0.0)
        lat = self.lat[k] + f * (self.lat[k1] - self.lat[k])
        dlon = (self.lon[k1] - self.lon[k] + 180.0) % 360.0 - 180.0
        lon = (self.lon[k] + f * dlon + 180.0) % 360.0 - 180.0
        return {"lat": lat, "lon": lon, "sog": self.speed_kn[k], "cog": self.course[k],
                "state": self.state[k], "leg": self.leg[k], "knot": k}
