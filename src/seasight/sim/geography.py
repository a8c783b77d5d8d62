"""The simulator's map: the scenario's ports with a berth each, and routes between them.

A port's reference point (from ``ports.geojson``) often lies on a quay or up a river, which the
1 km land grid calls land. Each simulated port therefore gets a *berth*: a water point within
:attr:`GeoParams.berth_radius_km` of the port point, as far from the shore as possible (an outer
basin or the anchorage) and joined to the lane network by open water, where visiting vessels lie
at berth or at anchor, inside :data:`~seasight.geo.ports.PORT_RADIUS_KM` of the port and clearly
nearer to it than to any other port. Routes join berths along the MARNET lanes
(:mod:`seasight.geo.lanes`), so they leave and enter ports over water.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from seasight.geo.distance import destination, haversine_km
from seasight.geo.land import distance_to_shore_km, on_land
from seasight.geo.lanes import (
    LaneParams,
    SeaLanes,
    default_lanes,
    route_land_points,
    route_length_km,
)
from seasight.geo.ports import PORT_RADIUS_KM, load_ports, nearest_port, ports_within

__all__ = ["GeoParams", "Geography", "SimPort", "find_port", "split_route"]


@dataclass(frozen=True)
class GeoParams:
    """Where vessels lie in port.

    Attributes:
        berth_radius_km: a port's berth lies within this distance of its port point, km.
        berth_grid_km: spacing of the candidate berth points searched, km.
        berth_clearance_km: a berth has water at this distance all around it, km.
        berth_spread_m: vessels in one port lie within this distance of its berth, metres.
        berth_margin_km: a berth is at least this much nearer to its port point than to any
            other port point, km.
        berth_tries: candidate berths tried, best first, for one joined to the lanes by open
            water; a port without one is left out of the scenario.
        berth_land_km: land closer than this to a berth is tolerated on its way out (the 1 km
            land grid at quays and moles), km; also the lanes' end tolerance for routes between
            berths.
    """

    berth_radius_km: float = 0.75 * PORT_RADIUS_KM
    berth_grid_km: float = 0.25
    berth_clearance_km: float = 0.5
    berth_spread_m: float = 350.0
    berth_tries: int = 12
    berth_margin_km: float = 1.0
    berth_land_km: float = 0.5


@dataclass(frozen=True)
class SimPort:
    """A port of a scenario: its row in the port layer and its berth."""

    locode: str
    name: str
    lat: float
    lon: float
    berth_lat: float
    berth_lon: float
    weight: float


def find_port(locode: str, name: str | None = None) -> tuple[str, float, float]:
    """(name, lat, lon) of a port in the port layer by UN/LOCODE (and name, for the few codes
    with several points).

    Raises:
        KeyError: no such port.
    """
    ports = load_ports()
    rows = ports.filter(ports["locode"] == locode)
    if name is not None:
        named = rows.filter(rows["name"].str.to_lowercase() == name.lower())
        rows = named if named.height else rows
    if not rows.height:
        raise KeyError(f"no port {locode!r} in the port layer")
    r = rows.row(0, named=True)
    return str(r["name"]), float(r["lat"]), float(r["lon"])


@cache
def _berth_candidates(lat: float, lon: float, radius_km: float, grid_km: float,
                      clearance_km: float, margin_km: float) -> np.ndarray:
    """(k, 2) water points near a port point with clearance, at least ``margin_km`` nearer to
    it than to any other port point, best first (furthest from the shore; among near-equals,
    nearest to the port point)."""
    n = int(np.ceil(radius_km / grid_km))
    k = np.arange(-n, n + 1) * grid_km
    dy, dx = np.meshgrid(k, k, indexing="ij")
    inside = np.hypot(dy, dx) <= radius_km
    dy, dx = dy[inside], dx[inside]
    cand_lat = lat + dy / 111.2
    cand_lon = lon + dx / (111.2 * np.cos(np.radians(lat)))
    ok = ~on_land(cand_lat, cand_lon)
    for b in range(0, 360, 45):
        nlat, nlon = destination(cand_lat, cand_lon, float(b), clearance_km)
        ok &= ~on_land(nlat, nlon)
    # the port must be the nearest one, clearly: a berth between two ports' points would make
    # a vessel's stay jump between them
    own, _ = nearest_port(lat, lon)
    point, port, dist = ports_within(cand_lat, cand_lon, radius_km + margin_km + 1.0)
    first = np.ones(len(point), bool)
    first[1:] = point[1:] != point[:-1]
    nearest_own = np.zeros(len(cand_lat), bool)
    nearest_own[point[first]] = port[first] == int(own)
    second = np.full(len(cand_lat), np.inf)
    later = ~first & np.concatenate([[False], first[:-1]])  # the second row of each point
    second[point[later]] = dist[later]
    own_d = np.full(len(cand_lat), np.inf)
    own_d[point[first]] = dist[first]
    ok &= nearest_own & (second - own_d >= margin_km)
    if not ok.any():
        return np.empty((0, 2))
    cand_lat, cand_lon = cand_lat[ok], cand_lon[ok]
    score = distance_to_shore_km(cand_lat, cand_lon) - 0.05 * np.hypot(dy[ok], dx[ok])
    order = np.argsort(-score, kind="stable")
    return np.stack([cand_lat[order], cand_lon[order]], axis=1)


def split_route(route: np.ndarray, depart_km: float, arrive_km: float,
                seg_km: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``route`` with points inserted ``depart_km`` from its start and ``arrive_km`` from its
    end; the length of each leg (km); and whether a leg lies in one of those two stretches
    (all legs when the route is shorter than both). ``seg_km``: the legs' lengths, if known."""
    route = np.asarray(route, dtype=np.float64)
    d = np.asarray(haversine_km(route[:-1, 0], route[:-1, 1], route[1:, 0], route[1:, 1])) \
        if seg_km is None else seg_km
    cum = np.concatenate([[0.0], np.cumsum(d)])
    total = float(cum[-1])
    cuts = np.array([c for c in (depart_km, total - arrive_km) if 0.0 < c < total]) \
        if depart_km + arrive_km < total else np.zeros(0)
    if len(cuts):
        i = np.clip(np.searchsorted(cum, cuts, side="right") - 1, 0, len(d) - 1)
        f = np.where(d[i] > 0, (cuts - cum[i]) / np.where(d[i] > 0, d[i], 1.0), 0.0)
        route = np.insert(route, i + 1, route[i] + f[:, None] * (route[i + 1] - route[i]),
                          axis=0)
        cum = np.insert(cum, i + 1, cuts)
    mid = (cum[:-1] + cum[1:]) / 2
    return route, np.diff(cum), (mid < depart_km) | (mid > total - arrive_km)


class Geography:
    """Ports (with berths) of a scenario and cached routes between them.

    Args:
        ports: (locode, name or None, weight) of each port; ports without water near their
            port point are left out (see :attr:`skipped`).
        params: :class:`GeoParams`.
        lanes: the lane network (default: MARNET).
    """

    def __init__(self, ports: list[tuple[str, str | None, float]],
                 params: GeoParams = GeoParams(), lanes: SeaLanes | None = None) -> None:
        self.params = params
        self.lanes = lanes if lanes is not None else default_lanes(
            LaneParams(end_tolerance_km=params.berth_land_km))
        self.ports: list[SimPort] = []
        #: LOCODEs left out: no berth found.
        self.skipped: list[str] = []
        for locode, name, weight in ports:
            pname, lat, lon = find_port(locode, name)
            cand = _berth_candidates(lat, lon, params.berth_radius_km, params.berth_grid_km,
                                     params.berth_clearance_km, params.berth_margin_km)
            berth = next((c for c in cand[: params.berth_tries]
                          if self._joined(float(c[0]), float(c[1]))), None)
            if berth is None:
                self.skipped.append(locode)
                continue
            self.ports.append(SimPort(locode, pname, lat, lon, float(berth[0]), float(berth[1]),
                                      weight))
        self._routes: dict[tuple[int, int], np.ndarray] = {}
        self._lengths: dict[tuple[int, int], float] = {}
        self._spots: dict[int, np.ndarray] = {}
        self._legs: dict[tuple[int, int], np.ndarray] = {}
        self._profiles: dict[tuple[int, int, float], tuple[np.ndarray, np.ndarray,
                                                           np.ndarray]] = {}
        #: LOCODE -> index into :attr:`ports`
        self.index = {p.locode: i for i, p in enumerate(self.ports)}
        blat = np.array([p.berth_lat for p in self.ports])
        blon = np.array([p.berth_lon for p in self.ports])
        #: great-circle distances between berths, km
        self.direct = np.asarray(haversine_km(blat[:, None], blon[:, None], blat[None, :],
                                              blon[None, :]))

    def _joined(self, lat: float, lon: float) -> bool:
        """Whether the route from (lat, lon) to its lane vertex stays over water beyond
        :attr:`GeoParams.berth_land_km`."""
        node = self.lanes.nodes[self.lanes.snap(lat, lon).node]
        r = self.lanes.route(lat, lon, float(node[0]), float(node[1]))
        return len(route_land_points(r, 0.25, self.params.berth_land_km)) == 0

    def route(self, a: int, b: int) -> np.ndarray:
        """Waypoints (k, 2) from the berth of port ``a`` to the berth of port ``b``."""
        key = (min(a, b), max(a, b))
        got = self._routes.get(key)
        if got is None:
            pa, pb = self.ports[key[0]], self.ports[key[1]]
            got = self.lanes.route(pa.berth_lat, pa.berth_lon, pb.berth_lat, pb.berth_lon)
            self._routes[key] = got
            self._lengths[key] = route_length_km(got)
        return got if a <= b else got[::-1]

    def route_profile(self, a: int, b: int, harbour_km: float,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`route` split ``harbour_km`` from each end (see :func:`split_route`)."""
        key = (a, b, harbour_km)
        got = self._profiles.get(key)
        if got is None:
            got = self._profiles[key] = split_route(self.route(a, b), harbour_km, harbour_km)
        return got

    def route_legs_km(self, a: int, b: int) -> np.ndarray:
        """Lengths of the legs of :meth:`route`, km."""
        key = (min(a, b), max(a, b))
        got = self._legs.get(key)
        if got is None:
            r = self.route(*key)
            got = self._legs[key] = np.asarray(haversine_km(r[:-1, 0], r[:-1, 1], r[1:, 0],
                                                            r[1:, 1]))
        return got if a <= b else got[::-1]

    def route_km(self, a: int, b: int) -> float:
        """Length of :meth:`route`, km."""
        self.route(a, b)
        return self._lengths[(min(a, b), max(a, b))]

    def direct_km(self, a: int, b: int) -> float:
        """Great-circle distance between two ports' berths, km."""
        return float(self.direct[a, b])

    def route_points(self, lat1: float, lon1: float, lat2: float, lon2: float) -> np.ndarray:
        """Waypoints between two arbitrary sea points along the lanes."""
        return self.lanes.route(lat1, lon1, lat2, lon2)

    def berth_spot(self, rng: np.random.Generator, port: int) -> tuple[float, float]:
        """A random place to lie within :attr:`GeoParams.berth_spread_m` of a port's berth,
        over water."""
        spots = self._spots.get(port)
        if spots is None:
            p = self.ports[port]
            pool = np.random.default_rng(port)
            d = self.params.berth_spread_m / 1000.0 * np.sqrt(pool.random(256))
            lat, lon = destination(p.berth_lat, p.berth_lon, pool.uniform(0, 360, 256), d)
            ok = ~on_land(lat, lon)
            spots = np.stack([lat[ok], lon[ok]], axis=1) if ok.any() else \
                np.array([[p.berth_lat, p.berth_lon]])
            self._spots[port] = spots
        lat, lon = spots[int(rng.integers(0, len(spots)))]
        return float(lat), float(lon)
