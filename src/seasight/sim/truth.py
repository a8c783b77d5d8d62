"""Ground truth: every event the generated data contains, by the detectors' definitions.

Planted events (encounters, loitering, gaps, spoofing, identity changes) carry planned windows;
here they are fitted to the reports actually generated (after satellite thinning): an event
starts at the first report inside its window and ends at the last. Events that any traffic
produces are found in the data itself, per transmitter, exactly as defined:

* **port_visit** -- a run of consecutive reports in one port (entered in the port's area of
  the port layer, :mod:`seasight.geo.port_areas`, left beyond :attr:`TruthParams.exit_margin_km`
  outside every port's area) lasting at least
  :attr:`TruthParams.visit_minutes` with a report below :attr:`TruthParams.stop_kn` (the vessel
  stopped there); start = first report inside, end = last report inside; ``zone`` = the port's
  name. Stays cut by the start or end of the data count when what is seen of them qualifies.
* **zone_entry** / **zone_exit** -- a report inside (outside) a scenario zone right after one
  outside (inside); start = end = that report.
* **gap** -- no position from a transmitter for :attr:`TruthParams.gap_hours` where it was last
  seen at least :attr:`TruthParams.gap_shore_nm` from shore; start = last report before, end =
  first report after (or the span's end when it never reappears: ``open``).

Silences of an hour or more that are not gaps (planted dropouts, satellite coverage holes) are
listed as ``short_dropout`` look-alikes. Times are ISO 8601 UTC; ``mmsi`` is a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from seasight.events.model import group_median_position
from seasight.geo.distance import KM_PER_NM
from seasight.geo.port_areas import ANCHORAGE_RADIUS_KM, port_areas_with, port_stays
from seasight.geo.ports import PORT_RADIUS_KM
from seasight.geo.zones import Zone, zone_membership
from seasight.sim.model import Plan

__all__ = ["TruthParams", "build_truth", "iso"]


@dataclass(frozen=True)
class TruthParams:
    """Definitions used to find events in the generated data (the detectors' defaults).

    Attributes:
        port_radius_km: a report this close to a port point enters that port, km.
        anchorage_radius_km: ... or this close to one of its named anchorages, km.
        exit_margin_km: ... and the vessel stays in it until it is this much farther than
            those from every port, km.
        stop_kn: a port visit has a report below this speed, knots; the visit's
            ``stop_hours`` is the longest run of such reports.
        visit_minutes: a port visit lasts at least this long (first to last report in port),
            minutes.
        gap_hours: a silence at least this long is a gap, hours.
        gap_shore_nm: ... when the vessel was last seen at least this far from shore.
        dropout_hours: shorter silences of at least this length are listed as look-alikes.
    """

    port_radius_km: float = PORT_RADIUS_KM
    anchorage_radius_km: float = ANCHORAGE_RADIUS_KM
    exit_margin_km: float = 1.0
    stop_kn: float = 1.0
    visit_minutes: float = 30.0
    gap_hours: float = 12.0
    gap_shore_nm: float = 50.0
    dropout_hours: float = 1.0


def iso(t: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` (whole seconds)."""
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class _Reports:
    """Clean position reports, sorted by track then time."""

    track: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    sog: np.ndarray
    starts: np.ndarray  # offsets per track

    def of(self, tr: int) -> slice:
        return slice(int(self.starts[tr]), int(self.starts[tr + 1]))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist(),
                    strict=True))


class _Builder:
    def __init__(self, start: datetime, plan: Plan, reports: _Reports, shore_km: np.ndarray,
                 span_s: float, params: TruthParams,
                 static_times: dict[int, np.ndarray]) -> None:
        self.static_times = static_times
        self.start = start
        self.plan = plan
        self.r = reports
        self.shore = shore_km
        self.span = span_s
        self.p = params
        self.events: list[dict[str, Any]] = []
        self.lookalikes: list[dict[str, Any]] = []

    def when(self, t: float) -> str:
        return iso(self.start + timedelta(seconds=float(t)))

    def mmsi(self, tr: int) -> int:
        return self.plan.vessels[self.plan.tracks[tr].vessel].mmsi

    def record(self, kind: str, tracks: tuple[int, ...], t0: float, t1: float, lat: float,
               lon: float, zone: str | None = None, **extra: Any) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "kind": kind, "mmsi": [self.mmsi(tr) for tr in tracks],
            "start": self.when(t0), "end": self.when(t1),
            "lat": round(float(lat), 5), "lon": round(float(lon), 5),
        }
        if zone is not None:
            rec["zone"] = zone
        rec.update(extra)
        return rec

    def window(self, tr: int, t0: float, t1: float) -> np.ndarray:
        """Indices of track ``tr``'s reports in [t0, t1]."""
        s = self.r.of(tr)
        t = self.r.t[s]
        a, b = np.searchsorted(t, t0, side="left"), np.searchsorted(t, t1, side="right")
        return np.arange(s.start + a, s.start + b)

    # -- planted -------------------------------------------------------------------------------

    def planted(self) -> None:
        for pl in self.plan.planted:
            out = self.lookalikes if pl.lookalike else self.events
            kind = pl.kind
            if kind in ("gap", "short_dropout"):
                rec = self._silence(pl.tracks[0], pl.t0, pl.t1, kind, pl.details)
            elif kind == "identity_change":
                rec = self._identity(pl.tracks[0], pl.t0, pl.details)
            elif kind == "spoofing":
                rec = self._spoofing(pl.tracks, pl.t0, pl.t1, pl.details)
            else:
                rec = self._span(kind, pl.tracks, pl.t0, pl.t1, pl.details)
            if rec is not None:
                out.append(rec)

    def _span(self, kind: str, tracks: tuple[int, ...], t0: float, t1: float,
              details: dict[str, Any]) -> dict[str, Any] | None:
        idx = [self.window(tr, t0, t1) for tr in tracks]
        if any(not len(i) for i in idx):
            return None
        a = max(float(self.r.t[i[0]]) for i in idx)
        b = min(float(self.r.t[i[-1]]) for i in idx)
        if b <= a:
            return None
        allidx = np.concatenate(idx)
        extra = {k: v for k, v in details.items() if k not in ("lat", "lon")}
        last = max(int(i[-1]) for i in idx)
        open_end = kind == "loitering" and t1 >= self.span and \
            float(self.r.t[last]) >= self.span - 3600.0
        if kind in ("encounter", "loitering"):
            extra["open"] = bool(open_end)
            extra["from_start"] = bool(t0 <= 0.0)
        c_lat, c_lon = group_median_position(
            np.zeros(len(allidx), np.int64), self.r.lat[allidx], self.r.lon[allidx], 1)
        lat = details.get("lat", float(c_lat[0]))
        lon = details.get("lon", float(c_lon[0]))
        return self.record(kind, tracks, a, b, lat, lon, **extra)

    def _silence(self, tr: int, t0: float, t1: float, kind: str,
                 details: dict[str, Any]) -> dict[str, Any] | None:
        s = self.r.of(tr)
        t = self.r.t[s]
        i = int(np.searchsorted(t, t0, side="right")) - 1
        j = int(np.searchsorted(t, t1, side="left"))
        if i < 0:
            return None
        last = s.start + i
        end = float(t[j]) if j < len(t) else self.span
        extra = {k: v for k, v in details.items() if not k.startswith("planned_")}
        extra["hours"] = round((end - float(t[i])) / 3600.0, 2)
        extra["shore_nm"] = round(float(self.shore[last]) / KM_PER_NM, 1)
        extra["open"] = j >= len(t)
        if j < len(t):
            extra["end_lat"] = round(float(self.r.lat[s.start + j]), 5)
            extra["end_lon"] = round(float(self.r.lon[s.start + j]), 5)
        return self.record(kind, (tr,), float(t[i]), end, self.r.lat[last], self.r.lon[last],
                           **extra)

    def _identity(self, tr: int, t: float, details: dict[str, Any]) -> dict[str, Any] | None:
        st = self.static_times.get(self.plan.tracks[tr].vessel)
        if st is None:
            return None
        k = int(np.searchsorted(st, t, side="left"))
        if k >= len(st) or k == 0:
            return None
        when = float(st[k])
        idx = self.window(tr, when - 3600.0, when + 3600.0)
        s = self.r.of(tr)
        if not len(idx):
            idx = np.arange(s.start, s.stop)
        near = idx[np.argmin(np.abs(self.r.t[idx] - when))]
        return self.record("identity_change", (tr,), when, when, self.r.lat[near],
                           self.r.lon[near], previous=self.when(float(st[k - 1])), **details)

    def _spoofing(self, tracks: tuple[int, ...], t0: float, t1: float,
                  details: dict[str, Any]) -> dict[str, Any] | None:
        real, fake = tracks
        idx = self.window(fake, t0, t1)
        if not len(idx):
            return None
        a, b = float(self.r.t[idx[0]]), float(self.r.t[idx[-1]])
        ridx = self.window(real, a, b)
        rec = self.record("spoofing", (real,), a, b, self.r.lat[idx[0]], self.r.lon[idx[0]],
                          open=bool(b >= self.span - 3600.0), **details)
        if len(ridx):
            rec["real_lat"] = round(float(self.r.lat[ridx[0]]), 5)
            rec["real_lon"] = round(float(self.r.lon[ridx[0]]), 5)
        return rec

    # -- found in the data ---------------------------------------------------------------------

    def silences(self) -> None:
        """Gaps and short silences that no plant explains (coverage holes, ...)."""
        planted = {(pl.tracks[0], pl.kind) for pl in self.plan.planted
                   if pl.kind in ("gap", "short_dropout")}
        planted_tracks = {tr for tr, _ in planted}
        t = self.r.t
        same = self.r.track[1:] == self.r.track[:-1]
        dt = np.diff(t)
        long = np.flatnonzero(same & (dt >= self.p.dropout_hours * 3600.0))
        gap_s = self.p.gap_hours * 3600.0
        for i in long.tolist():
            tr = int(self.r.track[i])
            if tr in planted_tracks:
                # planted silences are recorded from the plan; other silences of the same
                # track are still reported below when they are not the planted one
                pl = [p for p in self.plan.planted if p.tracks[0] == tr
                      and p.kind in ("gap", "short_dropout")]
                if any(t[i] <= p.t0 + 1 and t[i + 1] >= p.t1 - 1 for p in pl):
                    continue
            is_gap = dt[i] >= gap_s and self.shore[i] >= self.p.gap_shore_nm * KM_PER_NM
            rec = self.record(
                "gap" if is_gap else "short_dropout", (tr,), float(t[i]), float(t[i + 1]),
                self.r.lat[i], self.r.lon[i], hours=round(float(dt[i]) / 3600.0, 2),
                shore_nm=round(float(self.shore[i]) / KM_PER_NM, 1), open=False,
                cause="unplanned" if is_gap else "satellite")
            (self.events if is_gap else self.lookalikes).append(rec)
        # transmitters never heard again: open gaps
        ends = self.r.starts[1:] - 1
        for tr in range(len(self.r.starts) - 1):
            s = self.r.of(tr)
            if s.stop <= s.start:
                continue
            last = int(ends[tr])
            if any(si.track == tr and si.cause == "inactive" and si.t1 >= self.span
                   for si in self.plan.silences):
                continue  # a second transmitter going off the air: its MMSI goes on
            if self.span - t[last] >= gap_s and self.shore[last] >= \
                    self.p.gap_shore_nm * KM_PER_NM:
                self.events.append(self.record(
                    "gap", (tr,), float(t[last]), self.span, self.r.lat[last],
                    self.r.lon[last], hours=round((self.span - float(t[last])) / 3600.0, 2),
                    shore_nm=round(float(self.shore[last]) / KM_PER_NM, 1), open=True,
                    cause="unplanned"))

    def port_visits(self) -> None:
        areas = port_areas_with(self.p.port_radius_km, self.p.anchorage_radius_km)
        names = areas.ports["name"].to_list()
        locodes = areas.ports["locode"].to_list()
        r = self.r
        n = len(r.t)
        if not n:
            return
        new_track = np.ones(n, bool)
        new_track[1:] = r.track[1:] != r.track[:-1]
        near, excess = areas.lookup(r.lat, r.lon, self.p.exit_margin_km)
        port = port_stays(new_track, near, excess, self.p.exit_margin_km)
        # runs of consecutive reports of one track near one port
        brk = new_track.copy()
        brk[1:] |= port[1:] != port[:-1]
        run = np.cumsum(brk) - 1
        first = np.flatnonzero(brk)
        last = np.append(first[1:] - 1, n - 1)
        # the longest stop (consecutive slow reports) in each run
        slow = r.sog < self.p.stop_kn
        sbrk = brk.copy()
        sbrk[1:] |= slow[1:] != slow[:-1]
        sfirst = np.flatnonzero(sbrk)
        slast = np.append(sfirst[1:] - 1, n - 1)
        sdur = np.where(slow[sfirst], r.t[slast] - r.t[sfirst], -1.0)
        stop = np.full(len(first), -1.0)
        np.maximum.at(stop, run[sfirst], sdur)
        stopped = np.zeros(len(first), bool)
        np.logical_or.at(stopped, run[slow], True)
        visit = ((port[first] >= 0) & stopped
                 & (r.t[last] - r.t[first] >= self.p.visit_minutes * 60.0))
        c_lat, c_lon = group_median_position(run, r.lat, r.lon, len(first))
        track_end = np.append(np.flatnonzero(new_track)[1:] - 1, n - 1)[np.cumsum(new_track)
                                                                         [first] - 1]
        for k in np.flatnonzero(visit).tolist():
            a, b, pt = int(first[k]), int(last[k]), int(port[first[k]])
            self.events.append(self.record(
                "port_visit", (int(r.track[a]),), float(r.t[a]), float(r.t[b]),
                float(c_lat[k]), float(c_lon[k]),
                zone=names[pt], locode=locodes[pt], stop_hours=round(float(stop[k]) / 3600.0, 2),
                from_start=bool(new_track[a] and r.t[a] < 3600.0),
                open=bool(b == track_end[k] and r.t[b] > self.span - 3600.0)))

    def zone_crossings(self, zones: list[Zone]) -> None:
        if not zones:
            return
        member = zone_membership(zones, self.r.lat, self.r.lon)
        same = self.r.track[1:] == self.r.track[:-1]
        for z, zone in enumerate(zones):
            m = member[:, z]
            change = np.flatnonzero(same & (m[1:] != m[:-1])) + 1
            for i in change.tolist():
                kind = "zone_entry" if m[i] else "zone_exit"
                tr = int(self.r.track[i])
                self.events.append(self.record(
                    kind, (tr,), float(self.r.t[i]), float(self.r.t[i]), self.r.lat[i],
                    self.r.lon[i], zone=zone.name,
                    previous=self.when(float(self.r.t[i - 1]))))


def build_truth(*, scenario: str, seed: int, start: datetime, span_s: float, plan: Plan,
                track: np.ndarray, t: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                sog: np.ndarray, shore_km: np.ndarray, static_vessel: np.ndarray,
                static_t: np.ndarray, zones: list[Zone],
                params: TruthParams = TruthParams()) -> dict[str, Any]:
    """The truth document (see ``truth.json`` in :mod:`seasight.sim`).

    Args:
        track, t, lat, lon, sog: the clean position reports (any order).
        shore_km: distance to shore of each report, km.
        static_vessel, static_t: vessel and time of each static report.
    """
    order = np.lexsort((t, track))
    n_tracks = len(plan.tracks)
    reports = _Reports(track[order], t[order], lat[order], lon[order], sog[order],
                       np.searchsorted(track[order], np.arange(n_tracks + 1)))
    so = np.lexsort((static_t, static_vessel))
    sv, stt = static_vessel[so], static_t[so]
    cut = np.searchsorted(sv, np.arange(len(plan.vessels) + 1))
    static_times = {v: stt[cut[v]:cut[v + 1]] for v in range(len(plan.vessels))
                    if cut[v + 1] > cut[v]}
    b = _Builder(start, plan, reports, shore_km[order], span_s, params, static_times)
    b.planted()
    b.silences()
    b.port_visits()
    b.zone_crossings(zones)
    events = sorted(b.events, key=lambda e: (e["start"], e["kind"], e["mmsi"]))
    lookalikes = sorted(b.lookalikes, key=lambda e: (e["start"], e["kind"], e["mmsi"]))
    counts: dict[str, int] = {}
    for e in events:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    return {
        "scenario": scenario,
        "seed": seed,
        "start": iso(start),
        "end": iso(start + timedelta(seconds=span_s)),
        "vessels": len(plan.vessels),
        "transmitters": n_tracks,
        "counts": dict(sorted(counts.items())),
        "events": events,
        "lookalikes": lookalikes,
        "watchlist": plan.watchlist,
        "definitions": {
            "port_radius_km": params.port_radius_km,
            "anchorage_radius_km": params.anchorage_radius_km,
            "exit_margin_km": params.exit_margin_km,
            "stop_kn": params.stop_kn,
            "visit_minutes": params.visit_minutes, "gap_hours": params.gap_hours,
            "gap_shore_nm": params.gap_shore_nm, "encounter_m": 500, "encounter_hours": 2,
            "slow_kn": 2, "loiter_hours": 1, "encounter_port_km": 10,
        },
    }

