"""Planted behaviour: the events a detector must find, and look-alikes it must not report.

Every planted event is made well past its detector's thresholds (``seasight.events``):

* **encounter** -- two vessels meet at sea >= 10 km from any port and lie 60-250 m apart,
  drifting together at 0.3-0.8 kn for 3-8 h (thresholds: 500 m, 2 h, median < 2 kn). Both
  vessels are then also *loitering* (slow, away from port), which the truth lists too;
* **loitering** -- one vessel drifts alone at 0.5-1 kn for 2-6 h far from shore (threshold:
  < 2 kn average for 1 h, away from ports; >= 20 nm from shore for carriers);
* **gap** -- a vessel switches AIS off for 14-30 h where it is >= 65 nm from shore (threshold:
  12 h, last seen >= 50 nm from shore);
* **fishing fleet** -- fishing vessels loiter on separate patches (>= 1.4 km apart: not
  encounters), some sailing in from port and some leaving, across a zone boundary;
* **spoofing** -- a second transmitter sends a vessel's MMSI hundreds of kilometres away from
  it, from some time until the end; or (*sparse*) is heard only 3-4 times, 1.2-2.5 h apart,
  while the real vessel keeps its ordinary satellite-thinned coverage;
* **identity_change** -- a vessel's static reports change name and call sign.

Look-alikes: *short_dropout* (1-4 h silences far from shore), *passing* (two vessels on
reciprocal courses at >= 10 kn passing ~100-250 m apart), *convoy* (three vessels 2-5 km
apart on one route at 7-11 kn), *slowdown* (< 2 kn for 12-25 min at sea) and
*anchored_together* (two vessels 120-350 m apart at one port's berth for hours: port visits,
not an encounter).

Everything here is planned on tracks; :mod:`seasight.sim.truth` fits the windows to the reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seasight.geo.distance import KM_PER_NM, destination, haversine_km
from seasight.geo.land import distance_to_shore_km, on_land
from seasight.geo.port_areas import port_areas
from seasight.geo.ports import PORT_RADIUS_KM, nearest_port
from seasight.geo.zones import Zone, zone_membership
from seasight.sim.fleet import (
    SHIP_CLASSES,
    ShipClass,
    make_vessels,
    random_callsign,
    random_name,
)
from seasight.sim.geography import Geography
from seasight.sim.model import Exempt, Heard, Plan, Planted, Rename, Silence
from seasight.sim.scenario import (
    EncounterPlant,
    FishingFleetPlant,
    GapPlant,
    LoiterPlant,
    Scenario,
    watchlist_vessel,
)
from seasight.sim.traffic import (
    DRIFT,
    FISH,
    SAIL,
    Track,
    TrackBuilder,
    TrafficParams,
    drift_path,
    sail_profile,
)

__all__ = [
    "PlantParams",
    "Planter",
    "PlantingError",
    "ordinary_vessel_kinds",
    "planted_vessel_count",
]

_KN_TO_KM_S = KM_PER_NM / 3600.0


class PlantingError(ValueError):
    """A planted behaviour could not be placed (scenario geography or span too small)."""


@dataclass(frozen=True)
class PlantParams:
    """Parameters of planted behaviour and look-alikes (see the module docstring).

    Attributes:
        edge_s: planted windows keep this far from the span's ends, seconds.
        exempt_pad_s: satellite thinning is off this long around planted windows, seconds.
        min_port_km: planted meetings and loitering keep this far from any port point or
            named anchorage, km.
        dropout_hours: (low, high) short dropout length, hours.
        dropout_min_shore_nm: a short dropout starts at least this far from shore.
        passing_offset_s: the second passing vessel reaches the meeting point this much later
            (sets the passing distance), seconds.
        passing_min_kn: passing vessels sail at least this fast, knots.
        convoy_size: vessels in a convoy.
        convoy_kn: (low, high) convoy speed, knots.
        convoy_spacing_km: (low, high) distance between convoy vessels, km.
        slowdown_minutes: (low, high) length of a slow-down, minutes.
        slowdown_kn: (low, high) speed during a slow-down, knots.
        anchored_m: (low, high) distance between two vessels anchored together, metres.
        anchored_hours: (low, high) time they lie together, hours.
        spoof_kn: (low, high) speed of a spoofing transmitter, knots.
        spoof_min_km: a spoofing transmitter stays at least this far from the real vessel, km.
        spoof_start: (low, high) start of spoofing as a share of the span.
        sparse_fixes: (low, high) fixes of a sparse spoofing transmitter (heard rarely).
        sparse_every_h: (low, high) hours between a sparse transmitter's fixes.
        rename_at: (low, high) time of a name change as a share of the span.
        tries: attempts at placing one behaviour before giving up.
    """

    edge_s: float = 2 * 3600.0
    exempt_pad_s: float = 2 * 3600.0
    min_port_km: float = 15.0
    dropout_hours: tuple[float, float] = (1.0, 4.0)
    dropout_min_shore_nm: float = 55.0
    passing_offset_s: tuple[float, float] = (10.0, 30.0)
    passing_min_kn: float = 10.0
    convoy_size: int = 3
    convoy_kn: tuple[float, float] = (7.0, 11.0)
    convoy_spacing_km: tuple[float, float] = (2.0, 5.0)
    slowdown_minutes: tuple[float, float] = (12.0, 25.0)
    slowdown_kn: tuple[float, float] = (0.5, 1.5)
    anchored_m: tuple[float, float] = (120.0, 350.0)
    anchored_hours: tuple[float, float] = (6.0, 20.0)
    spoof_kn: tuple[float, float] = (10.0, 13.0)
    spoof_min_km: float = 500.0
    spoof_start: tuple[float, float] = (0.3, 0.6)
    sparse_fixes: tuple[int, int] = (3, 4)
    sparse_every_h: tuple[float, float] = (1.2, 2.5)
    rename_at: tuple[float, float] = (0.3, 0.7)
    tries: int = 200


def _class(name: str) -> ShipClass:
    for sc in SHIP_CLASSES:
        if sc.name == name:
            return sc
    raise KeyError(f"unknown ship class {name!r}")


def planted_vessel_count(scenario: Scenario, params: PlantParams = PlantParams()) -> int:
    """Vessels the scenario's plants add (spoofed, renamed and dropout vessels are ordinary
    traffic and not counted)."""
    la = scenario.lookalikes
    return (2 * len(scenario.encounters) + len(scenario.gaps) + len(scenario.loiters)
            + sum(f.vessels for f in scenario.fishing_fleets) + 2 * la.passing
            + params.convoy_size * la.convoys + la.slowdowns + 2 * la.anchored_together)


class Planter:
    """Plants a scenario's behaviour into a :class:`~seasight.sim.model.Plan`.

    Args:
        rng: the simulation's random generator (all randomness of planting comes from it).
        geo: the scenario geography.
        scenario: what to plant.
        span_s: simulated span, seconds.
        plan: the plan to add vessels, tracks and planted records to.
        traffic: ordinary traffic parameters (harbour speeds, stays, margins).
        params: :class:`PlantParams`.
        zones: the scenario's zones (spoofing transmitters keep out of them).
    """

    def __init__(self, rng: np.random.Generator, geo: Geography, scenario: Scenario,
                 span_s: float, plan: Plan, traffic: TrafficParams, params: PlantParams,
                 zones: list[Zone], used_mmsi: set[int]) -> None:
        self.rng = rng
        self.geo = geo
        self.scenario = scenario
        self.span = span_s
        self.plan = plan
        self.traffic = traffic
        self.p = params
        self.zones = zones
        self.used_mmsi = used_mmsi
        self._sea_routes: dict[tuple[int, float, float, bool], np.ndarray] = {}

    # -- helpers -------------------------------------------------------------------------------

    def _vessel(self, kind: str, flag: str | None = None) -> int:
        v = make_vessels(self.rng, [_class(kind)], self.used_mmsi, [flag])[0]
        i = self.plan.add_vessel(v)
        self.plan.busy.add(i)
        return i

    def _port(self, codes: tuple[str, ...]) -> int:
        idx = [self.geo.index[c] for c in codes if c in self.geo.index]
        if not idx:
            idx = list(range(len(self.geo.ports)))
        return int(self.rng.choice(idx))

    def _sea_route(self, port: int, lat: float, lon: float, outbound: bool) -> np.ndarray:
        """Route from port ``port``'s berth to a sea point (``outbound``) or back."""
        key = (port, round(lat, 5), round(lon, 5), outbound)
        got = self._sea_routes.get(key)
        if got is None:
            p = self.geo.ports[port]
            got = self.geo.route_points(p.berth_lat, p.berth_lon, lat, lon)
            self._sea_routes[key] = got
        return got if outbound else got[::-1]

    def _harbour_kn(self) -> float:
        return float(self.rng.uniform(*self.traffic.harbour_kn))

    def _arrive(self, vi: int, port: int, lat: float, lon: float, t: float,
                speed: float | None = None) -> TrackBuilder:
        """A vessel that left port ``port``'s berth and reaches (lat, lon) at time ``t``
        (at berth before it left)."""
        v = self.plan.vessels[vi]
        speed = v.speed_kn if speed is None else speed
        spot = self.geo.berth_spot(self.rng, port)
        route = np.concatenate([[spot], self._sea_route(port, lat, lon, True)[1:]])
        route[-1] = (lat, lon)
        harbour = self._harbour_kn()
        _, el = sail_profile(route, speed, depart_km=self.traffic.harbour_km,
                             harbour_kn=harbour)
        depart = t - float(el[-1])
        start = min(depart, -self.traffic.margin_s) - 3600.0
        b = TrackBuilder(start, *spot)
        b.start_leg(self.geo.ports[port].locode, None)
        b.hold_until(depart)
        b.start_leg("", None)
        b.sail(route, speed, depart_km=self.traffic.harbour_km, harbour_kn=harbour)
        return b

    def _go_to_port(self, b: TrackBuilder, vi: int, port: int,
                    speed: float | None = None) -> None:
        """From where it is, sail to port ``port`` and lie at berth to the end."""
        v = self.plan.vessels[vi]
        speed = v.speed_kn if speed is None else speed
        lat, lon = b.position
        spot = self.geo.berth_spot(self.rng, port)
        route = np.concatenate([self._sea_route(port, lat, lon, False)[:-1], [spot]])
        route[0] = (lat, lon)
        harbour = self._harbour_kn()
        _, el = sail_profile(route, speed, arrive_km=self.traffic.harbour_km,
                             harbour_kn=harbour)
        b.start_leg(self.geo.ports[port].locode, b.now + float(el[-1]))
        b.sail(route, speed, arrive_km=self.traffic.harbour_km, harbour_kn=harbour)
        b.hold_until(max(b.now, self.span) + self.traffic.margin_s + 3600.0)

    def _through(self, vi: int, a: int, b_port: int,
                 pick: Callable[[np.ndarray, np.ndarray], int | None], t_anchor: float,
                 speed: float | None = None, pause_s: float = 0.0,
                 pause_kn: tuple[float, float] = (0.5, 1.0),
                 ) -> tuple[TrackBuilder, float, float] | None:
        """A voyage from port ``a`` to port ``b_port`` passing the route point ``pick`` chooses
        at ``t_anchor`` (optionally pausing there ``pause_s`` at ``pause_kn``), at berth
        before and after. Returns the builder and the anchor point, or None when ``pick``
        finds no point."""
        v = self.plan.vessels[vi]
        speed = v.speed_kn if speed is None else speed
        spot_a = self.geo.berth_spot(self.rng, a)
        spot_b = self.geo.berth_spot(self.rng, b_port)
        route = np.concatenate([[spot_a], self.geo.route(a, b_port), [spot_b]])
        cum = np.concatenate([[0.0], np.cumsum(haversine_km(
            route[:-1, 0], route[:-1, 1], route[1:, 0], route[1:, 1]))])
        i = pick(route, cum)
        if i is None:
            return None
        harbour = self._harbour_kn()
        hk = self.traffic.harbour_km
        first, second = route[: i + 1], route[i:]
        _, el1 = sail_profile(first, speed, depart_km=hk, harbour_kn=harbour)
        _, el2 = sail_profile(second, speed, arrive_km=hk, harbour_kn=harbour)
        depart = t_anchor - float(el1[-1])
        start = min(depart, -self.traffic.margin_s) - 3600.0
        b = TrackBuilder(start, *spot_a)
        b.start_leg(self.geo.ports[a].locode, None)
        b.hold_until(depart)
        eta = t_anchor + pause_s + float(el2[-1])
        b.start_leg(self.geo.ports[b_port].locode, eta)
        b.sail(first, speed, depart_km=hk, harbour_kn=harbour)
        if pause_s > 0:
            tt, la, lo = drift_path(self.rng, b.position[0], b.position[1], pause_s, pause_kn,
                                    radius_km=0.5, step_s=min(300.0, pause_s / 3))
            b.path(tt, la, lo, DRIFT)
            second = np.concatenate([[b.position], second[1:]])
        b.sail(second, speed, arrive_km=hk, harbour_kn=harbour)
        b.hold_until(max(b.now, self.span) + self.traffic.margin_s + 3600.0)
        return b, float(route[i, 0]), float(route[i, 1])

    def _add(self, b: TrackBuilder, vi: int, transmitter: int = 0) -> int:
        return self.plan.add_track(b.build(vi, self.span, self.traffic.margin_s, transmitter))

    def _exempt(self, track: int, t0: float, t1: float) -> None:
        pad = self.p.exempt_pad_s
        self.plan.exempt.append(Exempt(track, t0 - pad, t1 + pad))

    def _window(self, hours: float, lo: float = 0.0, hi: float = 1.0) -> float:
        """A start time for a window of ``hours`` inside the span (between shares lo, hi)."""
        e = self.p.edge_s
        a = max(e, lo * self.span)
        b = min(self.span - e - hours * 3600.0, hi * self.span)
        if b < a:
            raise PlantingError(f"a {hours:.1f} h window does not fit in the span")
        return float(self.rng.uniform(a, b))

    def _check_far_from_ports(self, lat: float, lon: float, what: str) -> None:
        d = port_areas().distance_km(lat, lon)[0]
        if float(d) < self.p.min_port_km:
            raise PlantingError(f"{what} at ({lat}, {lon}) is {float(d):.1f} km from a port")

    # -- events --------------------------------------------------------------------------------

    def encounter(self, e: EncounterPlant) -> None:
        """Two vessels meet at (e.lat, e.lon) and lie together; each also loiters."""
        self._check_far_from_ports(e.lat, e.lon, "encounter")
        hours = float(self.rng.uniform(*e.hours))
        hours = min(hours, self.span / 3600.0 - 2 * self.p.edge_s / 3600.0 - 1.0)
        if hours < 2.5:
            raise PlantingError("span too short for an encounter")
        t0 = self._window(hours, 0.15, 0.6)
        t1 = t0 + hours * 3600.0
        a = self._vessel(e.kind_a)
        if e.watchlist_b:
            wl = watchlist_vessel(self.rng, self.used_mmsi)
            b = self._vessel(e.kind_b, "KP")
            vb = self.plan.vessels[b]
            self.used_mmsi.discard(vb.mmsi)
            vb.mmsi, vb.name, vb.callsign, vb.imo, vb.flag = (
                wl.mmsi, wl.name, wl.callsign, wl.imo, "KP")
            self.plan.watchlist.append({
                "mmsi": wl.mmsi, "name": wl.name, "imo": wl.imo, "program": wl.program,
                "mmsi_source": wl.mmsi_source, "ofac_ent_num": wl.ent_num,
                "list": "ofac_sdn_vessels_2021-07.csv",
                "note": ("the list gives this MMSI" if wl.mmsi_source == "list" else
                         "the list has no MMSI for this vessel: the simulator invented a "
                         "plausible one (MID 445, North Korea); its type 5 reports carry the "
                         "listed IMO and name"),
            })
        else:
            b = self._vessel(e.kind_b)
        sep_km = float(self.rng.uniform(*e.separation_m)) / 1000.0
        bearing = float(self.rng.uniform(0, 360))
        lat_b, lon_b = (float(x) for x in destination(e.lat, e.lon, bearing, sep_km))
        tt, la, lo = drift_path(self.rng, e.lat, e.lon, hours * 3600.0, e.drift_kn,
                                radius_km=1.5)
        dlat, dlon = lat_b - e.lat, lon_b - e.lon
        pa, pb = self._port(e.ports_a), self._port(e.ports_b)
        ba = self._arrive(a, pa, e.lat, e.lon, t0)
        bb = self._arrive(b, pb, lat_b, lon_b, t0)
        ba.path(tt, la, lo, DRIFT)
        bb.path(tt, la + dlat, lo + dlon, DRIFT)
        self._go_to_port(ba, a, self._port(e.ports_a))
        self._go_to_port(bb, b, self._port(e.ports_b))
        ta, tb = self._add(ba, a), self._add(bb, b)
        for tr in (ta, tb):
            self._exempt(tr, t0, t1)
        details = {"separation_m": round(sep_km * 1000.0, 1),
                   "drift_kn": list(e.drift_kn)}
        if e.watchlist_b:
            details["watchlist"] = self.plan.watchlist[-1]
        self.plan.planted.append(Planted("encounter", (ta, tb), t0, t1, details=details))
        for tr in (ta, tb):
            self.plan.planted.append(Planted("loitering", (tr,), t0, t1,
                                             details={"during": "encounter"}))
        if e.rename_a_after_hours is not None:
            t = t1 + e.rename_a_after_hours * 3600.0
            if t < self.span - self.p.edge_s:
                self._rename(a, ta, t)

    def loiter(self, e: LoiterPlant) -> None:
        """One vessel drifts alone at (e.lat, e.lon)."""
        self._check_far_from_ports(e.lat, e.lon, "loitering")
        hours = float(self.rng.uniform(*e.hours))
        t0 = self._window(hours, 0.15, 0.8)
        vi = self._vessel(e.kind)
        b = self._arrive(vi, self._port(e.ports), e.lat, e.lon, t0)
        tt, la, lo = drift_path(self.rng, e.lat, e.lon, hours * 3600.0, e.speed_kn,
                                radius_km=2.0)
        b.path(tt, la, lo, DRIFT)
        self._go_to_port(b, vi, self._port(e.ports))
        tr = self._add(b, vi)
        self._exempt(tr, t0, t0 + hours * 3600.0)
        self.plan.planted.append(Planted("loitering", (tr,), t0, t0 + hours * 3600.0))

    def gap(self, e: GapPlant) -> None:
        """A vessel on a voyage through ``e.region`` goes dark there for 14-30 h."""
        max_h = self.span / 3600.0 - 2 * self.p.edge_s / 3600.0 - 2.0
        hours = min(float(self.rng.uniform(*e.hours)), max_h)
        if hours < 13.0:
            raise PlantingError("span too short for an AIS gap")
        t0 = self._window(hours, 0.1, 0.9)
        lat0, lat1, lon0, lon1 = e.region
        need_km = e.min_shore_nm * KM_PER_NM

        def pick(route: np.ndarray, cum: np.ndarray) -> int | None:
            idx = np.flatnonzero((route[:, 0] >= lat0) & (route[:, 0] <= lat1)
                                 & (route[:, 1] >= lon0) & (route[:, 1] <= lon1))
            idx = idx[idx > 0]
            if not len(idx):
                return None
            # the point and the stretch before it (where the last report falls) are far out
            far = ((distance_to_shore_km(route[idx, 0], route[idx, 1]) >= need_km)
                   & (distance_to_shore_km(route[idx - 1, 0], route[idx - 1, 1]) >= need_km))
            ok = idx[far]
            return int(self.rng.choice(ok)) if len(ok) else None

        ports = [c for c in e.ports if c in self.geo.index]
        for _ in range(self.p.tries):
            a, bp = (self.geo.index[c] for c in self.rng.choice(ports, 2, replace=False))
            vi = self._vessel(str(self.rng.choice(["tanker", "bulk", "general cargo"])))
            got = self._through(vi, a, bp, pick, t0)
            if got is not None:
                b, lat, lon = got
                tr = self._add(b, vi)
                t1 = t0 + hours * 3600.0
                self.plan.silences.append(Silence(tr, t0, t1, "gap"))
                self._exempt(tr, t0, t1)
                self.plan.planted.append(Planted("gap", (tr,), t0, t1, details={
                    "planned_lat": round(lat, 5), "planned_lon": round(lon, 5)}))
                return
            self.plan.vessels.pop()
            self.plan.busy.discard(vi)
        raise PlantingError(f"no route through the gap region {e.region}")

    def fishing_fleet(self, e: FishingFleetPlant) -> None:
        """Fishing vessels working separate patches of one ground."""
        self._check_far_from_ports(e.lat, e.lon, "fishing ground")
        span_h = self.span / 3600.0
        n = e.vessels
        order = self.rng.permutation(n)
        n_there = round(e.already_there * n)
        n_leave = max(1, round(e.leave * n))
        for k, (lat, lon) in enumerate(_patches(e)):
            vi = self._vessel("fishing", str(self.rng.choice(["PH", "CN", "VN"])))
            there = bool(order[k] < n_there) or span_h < 10.0
            leaves = bool(order[k] >= n - n_leave)
            if there:
                t_in = -self.traffic.margin_s - 3600.0
                b = TrackBuilder(t_in, lat, lon)
                b.start_leg("FISHING GROUND", None)
            else:
                t_in = float(self.rng.uniform(0.05, 0.4) * self.span)
                b = self._arrive(vi, self._port(e.ports), lat, lon, t_in)
            t_out = self.span + self.traffic.margin_s + 3600.0
            if leaves:
                lo_t = max(t_in, 0.0) + 4 * 3600.0
                hi_t = self.span - self.p.edge_s
                if hi_t > lo_t:
                    t_out = float(self.rng.uniform(lo_t, hi_t))
            tt, la, lo = drift_path(self.rng, lat, lon, t_out - b.now, e.fish_kn,
                                    radius_km=e.patch_km)
            b.path(tt, la, lo, FISH)
            if t_out < self.span:
                self._go_to_port(b, vi, self._port(e.ports))
            tr = self._add(b, vi)
            w0, w1 = max(t_in, 0.0), min(t_out, self.span)
            self._exempt(tr, w0, w1)
            self.plan.planted.append(Planted("loitering", (tr,), w0, w1,
                                             details={"during": "fishing"}))

    def spoofing(self, n: int, ordinary: list[int], sparse: bool = False) -> None:
        """``n`` ordinary vessels get a second transmitter far away using their MMSI.

        ``sparse``: the second transmitter is heard only ``sparse_fixes`` times,
        ``sparse_every_h`` apart (a distant ship far offshore that satellites hear on a few
        passes), and the real vessel keeps its ordinary (satellite-thinned) coverage.
        """
        if n <= 0:
            return
        done = 0
        cand = [i for i in ordinary if not self.plan.vessels[self.plan.tracks[i].vessel].class_b]
        for _ in range(self.p.tries):
            if done >= n or not cand:
                break
            real = int(self.rng.choice(cand))
            vi = self.plan.tracks[real].vessel
            if vi in self.plan.busy:
                continue
            ts = float(self.rng.uniform(*self.p.spoof_start)) * self.span
            times = np.arange(ts - 3600.0, self.span + 1.0, 600.0)
            lat_r, lon_r, st_r = _at(self.plan.tracks[real], times)
            if (st_r != SAIL).any():
                continue
            a, bp = (int(x) for x in self.rng.choice(len(self.geo.ports), 2, replace=False))
            speed = float(self.rng.uniform(*self.p.spoof_kn))
            need_km = speed * _KN_TO_KM_S * (self.span - ts + self.traffic.margin_s)

            def pick(route: np.ndarray, cum: np.ndarray, need_km: float = need_km) -> int | None:
                ok = np.flatnonzero((cum >= 80.0) & (cum <= cum[-1] - need_km - 80.0))
                return int(self.rng.choice(ok)) if len(ok) else None

            got = self._through(vi, a, bp, pick, ts, speed=speed)
            if got is None:
                continue
            track = got[0].build(vi, self.span, self.traffic.margin_s, transmitter=1)
            lat_s, lon_s, _ = _at(track, times)
            if float(haversine_km(lat_r, lon_r, lat_s, lon_s).min()) < self.p.spoof_min_km:
                continue
            if float(port_areas().distance_km(lat_s, lon_s).min()) < PORT_RADIUS_KM + 3.0:
                continue
            if self.zones and zone_membership(self.zones, lat_s, lon_s).any():
                continue
            t_end = self.span
            details: dict[str, object] = {}
            if sparse:
                k = int(self.rng.integers(self.p.sparse_fixes[0], self.p.sparse_fixes[1] + 1))
                steps = self.rng.uniform(*self.p.sparse_every_h, size=k - 1) * 3600.0
                heard = ts + np.concatenate([[0.0], np.cumsum(steps)])
                if heard[-1] > self.span - self.p.edge_s:
                    continue
                t_end = float(heard[-1]) + 600.0
            tr = self.plan.add_track(track)
            self.plan.silences.append(Silence(tr, -np.inf, ts, "inactive"))
            if sparse:
                self.plan.silences.append(Silence(tr, t_end, np.inf, "inactive"))
                self.plan.heard_only.append(Heard(tr, tuple(float(x) for x in heard)))
                self._exempt(tr, ts, t_end)  # satellite passes: exactly these fixes
                details["heard"] = len(heard)
            else:
                for t_ in (real, tr):  # both heard throughout, so the overlap is plain
                    self._exempt(t_, ts, self.span)
            self.plan.busy.add(vi)
            details["min_distance_km"] = round(
                float(haversine_km(lat_r, lon_r, lat_s, lon_s).min()), 1)
            self.plan.planted.append(Planted("spoofing", (real, tr), ts, t_end, details=details))
            done += 1
        if done < n:
            raise PlantingError("could not place a spoofing transmitter")

    def _rename(self, vi: int, track: int, t: float) -> None:
        v = self.plan.vessels[vi]
        new_name = random_name(self.rng, v.kind)
        while new_name == v.name:
            new_name = random_name(self.rng, v.kind)
        new_call = random_callsign(self.rng, v.flag)
        self.plan.renames.append(Rename(vi, t, new_name, new_call))
        self.plan.planted.append(Planted("identity_change", (track,), t, t, details={
            "old": {"shipname": v.name, "callsign": v.callsign},
            "new": {"shipname": new_name, "callsign": new_call}}))

    def renames(self, n: int, ordinary: list[int]) -> None:
        """``n`` ordinary class A vessels change name and call sign."""
        cand = [i for i in ordinary if not self.plan.vessels[self.plan.tracks[i].vessel].class_b
                and self.plan.tracks[i].vessel not in self.plan.busy]
        for tr in self.rng.choice(cand, min(n, len(cand)), replace=False).tolist():
            vi = self.plan.tracks[tr].vessel
            self.plan.busy.add(vi)
            self._rename(vi, tr, float(self.rng.uniform(*self.p.rename_at)) * self.span)

    # -- look-alikes ---------------------------------------------------------------------------

    def dropouts(self, n: int, ordinary: list[int]) -> None:
        """``n`` ordinary vessels fall silent for 1-4 h far from shore."""
        done = 0
        need_km = self.p.dropout_min_shore_nm * KM_PER_NM
        for _ in range(self.p.tries * 4):
            if done >= n:
                break
            tr = int(self.rng.choice(ordinary))
            vi = self.plan.tracks[tr].vessel
            if vi in self.plan.busy:
                continue
            hours = float(self.rng.uniform(*self.p.dropout_hours))
            try:
                t0 = self._window(hours, 0.1, 0.9)
            except PlantingError:
                return
            t1 = t0 + hours * 3600.0
            times = np.arange(t0 - 3600.0, t1 + 3600.0, 600.0)
            lat, lon, st = _at(self.plan.tracks[tr], times)
            if (st != SAIL).any():
                continue
            if float(distance_to_shore_km(lat[6], lon[6])) < need_km:
                continue
            self.plan.busy.add(vi)
            self.plan.silences.append(Silence(tr, t0, t1, "dropout"))
            self._exempt(tr, t0, t1)
            self.plan.planted.append(Planted("short_dropout", (tr,), t0, t1, lookalike=True,
                                             details={"cause": "dropout"}))
            done += 1

    def _mid_route(self, min_end_km: float) -> Callable[[np.ndarray, np.ndarray], int | None]:
        def pick(route: np.ndarray, cum: np.ndarray) -> int | None:
            ok = np.flatnonzero((cum >= min_end_km) & (cum <= cum[-1] - min_end_km))
            if not len(ok):
                return None
            d = port_areas().distance_km(route[ok, 0], route[ok, 1])
            ok = ok[d >= self.p.min_port_km]
            return int(self.rng.choice(ok)) if len(ok) else None
        return pick

    def _pair(self, min_km: float) -> tuple[int, int]:
        n = len(self.geo.ports)
        for _ in range(self.p.tries):
            a, b = (int(x) for x in self.rng.choice(n, 2, replace=False))
            if self.geo.direct_km(a, b) >= min_km:
                return a, b
        raise PlantingError("no port pair far enough apart")

    def passing(self, n: int) -> None:
        """``n`` pairs of vessels on reciprocal courses pass close at speed."""
        for _ in range(n):
            for _ in range(self.p.tries):
                a, b = self._pair(400.0)
                tm = self._window(1.0, 0.15, 0.85)
                v1 = self._vessel("container")
                v2 = self._vessel("bulk")
                for v in (v1, v2):
                    vv = self.plan.vessels[v]
                    vv.speed_kn = max(vv.speed_kn, self.p.passing_min_kn)
                got1 = self._through(v1, a, b, self._mid_route(150.0), tm)
                if got1 is None:
                    self._drop_vessels(2)
                    continue
                b1, lat, lon = got1
                offset = float(self.rng.uniform(*self.p.passing_offset_s))

                def at_point(route: np.ndarray, cum: np.ndarray, lat: float = lat,
                             lon: float = lon) -> int | None:
                    d = haversine_km(route[:, 0], route[:, 1], lat, lon)
                    i = int(np.argmin(d))
                    return i if float(d[i]) < 1e-3 else None

                got2 = self._through(v2, b, a, at_point, tm + offset)
                if got2 is None:
                    self._drop_vessels(2)
                    continue
                t1, t2 = self._add(b1, v1), self._add(got2[0], v2)
                for tr in (t1, t2):
                    self._exempt(tr, tm - 1800.0, tm + 1800.0)
                self.plan.planted.append(Planted(
                    "passing", (t1, t2), tm - 600.0, tm + 600.0, lookalike=True,
                    details={"lat": round(lat, 5), "lon": round(lon, 5),
                             "offset_s": round(offset, 1)}))
                break

    def _drop_vessels(self, k: int) -> None:
        for _ in range(k):
            self.plan.busy.discard(len(self.plan.vessels) - 1)
            self.plan.vessels.pop()

    def convoys(self, n: int) -> None:
        """``n`` convoys: vessels on one route, a few km apart, at 7-11 kn."""
        for _ in range(n):
            for _ in range(self.p.tries):
                a, b = self._pair(300.0)
                tm = self._window(1.0, 0.3, 0.7)
                speed = float(self.rng.uniform(*self.p.convoy_kn))
                kinds = ["general cargo", "tanker", "general cargo"]
                vs = [self._vessel(kinds[k % 3]) for k in range(self.p.convoy_size)]
                got = self._through(vs[0], a, b, self._mid_route(100.0), tm, speed=speed)
                if got is None:
                    self._drop_vessels(len(vs))
                    continue
                lead, lat, lon = got
                builders = [lead]
                gap_km = 0.0
                for v in vs[1:]:
                    gap_km += float(self.rng.uniform(*self.p.convoy_spacing_km))
                    delay = gap_km / (speed * _KN_TO_KM_S)

                    def at_point(route: np.ndarray, cum: np.ndarray, lat: float = lat,
                                 lon: float = lon) -> int | None:
                        d = haversine_km(route[:, 0], route[:, 1], lat, lon)
                        i = int(np.argmin(d))
                        return i if float(d[i]) < 1e-3 else None

                    got_k = self._through(v, a, b, at_point, tm + delay, speed=speed)
                    assert got_k is not None
                    builders.append(got_k[0])
                trs = tuple(self._add(bb, v) for bb, v in zip(builders, vs, strict=True))
                # together while all are under way at sea
                times = np.arange(0.0, self.span, 300.0)
                sailing = np.ones(len(times), bool)
                for tr in trs:
                    _, _, st = _at(self.plan.tracks[tr], times)
                    sailing &= st == SAIL
                if not sailing.any():
                    continue
                w = times[sailing]
                self.plan.planted.append(Planted(
                    "convoy", trs, float(w[0]), float(w[-1]), lookalike=True,
                    details={"speed_kn": round(speed, 1), "spacing_km": round(gap_km, 2)}))
                break

    def slowdowns(self, n: int) -> None:
        """``n`` vessels slow below 2 kn at sea for 12-25 minutes."""
        for _ in range(n):
            for _ in range(self.p.tries):
                a, b = self._pair(300.0)
                minutes = float(self.rng.uniform(*self.p.slowdown_minutes))
                t0 = self._window(1.0, 0.15, 0.85)
                vi = self._vessel(str(self.rng.choice(["bulk", "container", "tanker"])))
                got = self._through(vi, a, b, self._mid_route(100.0), t0,
                                    pause_s=minutes * 60.0, pause_kn=self.p.slowdown_kn)
                if got is None:
                    self._drop_vessels(1)
                    continue
                tr = self._add(got[0], vi)
                self._exempt(tr, t0, t0 + minutes * 60.0)
                self.plan.planted.append(Planted(
                    "slowdown", (tr,), t0, t0 + minutes * 60.0, lookalike=True,
                    details={"minutes": round(minutes, 1)}))
                break

    def anchored_together(self, n: int) -> None:
        """``n`` pairs of vessels lying close together at one port's berth for hours."""
        for _ in range(n):
            for _ in range(self.p.tries):
                port = int(self.rng.choice(len(self.geo.ports)))
                lat, lon = self.geo.berth_spot(self.rng, port)
                sep = float(self.rng.uniform(*self.p.anchored_m)) / 1000.0
                lat2, lon2 = (float(x) for x in destination(lat, lon,
                                                            float(self.rng.uniform(0, 360)), sep))
                if bool(on_land(lat2, lon2)):
                    continue
                _, d = nearest_port(np.array([lat, lat2]), np.array([lon, lon2]))
                if float(d.max()) > PORT_RADIUS_KM - 0.6:
                    continue
                hours = float(self.rng.uniform(*self.p.anchored_hours))
                hours = min(hours, self.span / 3600.0 - 1.0)
                vs = [self._vessel(str(self.rng.choice(["bulk", "tanker"]))) for _ in range(2)]
                builders = []
                try:
                    for v, (la, lo) in zip(vs, ((lat, lon), (lat2, lon2)), strict=True):
                        b = TrackBuilder(-self.traffic.margin_s - 3600.0, la, lo)
                        b.start_leg(self.geo.ports[port].locode, None)
                        b.hold_until(float(hours * 3600.0 * self.rng.uniform(1.0, 1.3)))
                        dest = int(self.rng.choice([j for j in range(len(self.geo.ports))
                                                    if j != port]))
                        self._go_to_port(b, v, dest)
                        builders.append(b)
                except ValueError:  # no lane route from this spot: try another port
                    continue
                trs = [self._add(b, v) for b, v in zip(builders, vs, strict=True)]
                self.plan.planted.append(Planted(
                    "anchored_together", tuple(trs), 0.0, hours * 3600.0, lookalike=True,
                    details={"port": self.geo.ports[port].name,
                             "separation_m": round(sep * 1000.0, 1)}))
                break


def _patches(e: FishingFleetPlant) -> list[tuple[float, float]]:
    """Patch centres of a fishing fleet: lattice points ``spacing_km`` apart, nearest to the
    ground's centre first, with water all around (rocks and reefs on the land grid avoided)."""
    k = int(np.ceil(np.sqrt(e.vessels))) + 3
    grid = np.arange(-k, k + 1) * e.spacing_km
    dy, dx = (a.ravel() for a in np.meshgrid(grid, grid, indexing="ij"))
    order = np.argsort(np.hypot(dy, dx), kind="stable")
    dy, dx = dy[order], dx[order]
    lat = e.lat + dy / 111.2
    lon = e.lon + dx / (111.2 * np.cos(np.radians(e.lat)))
    reach = e.patch_km + 0.8
    ring = np.linspace(-reach, reach, 9)
    oy, ox = (a.ravel() for a in np.meshgrid(ring, ring, indexing="ij"))
    disk = np.hypot(oy, ox) <= reach
    oy, ox = oy[disk], ox[disk]
    out: list[tuple[float, float]] = []
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        pts_lat = la + oy / 111.2
        pts_lon = lo + ox / (111.2 * np.cos(np.radians(la)))
        if not on_land(pts_lat, pts_lon).any():
            out.append((la, lo))
        if len(out) == e.vessels:
            return out
    raise PlantingError("no room for the fishing fleet's patches at sea")


def _at(track: Track, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lon, state) of one track at ``times`` (linear between knots)."""
    lat = np.interp(times, track.t, track.lat)
    lon = np.interp(times, track.t, track.lon)
    k = np.clip(np.searchsorted(track.t, times, side="right") - 1, 0, len(track.t) - 1)
    return lat, lon, track.state[k]


def ordinary_vessel_kinds(rng: np.random.Generator, n: int) -> list[ShipClass]:
    """Ship classes of ``n`` ordinary vessels drawn from the traffic mix."""
    share = np.array([sc.share for sc in SHIP_CLASSES])
    return [SHIP_CLASSES[i] for i in rng.choice(len(SHIP_CLASSES), n, p=share / share.sum())]

