"""Sea lanes: routing between ports along the MARNET shipping-lane network.

MARNET (shipped as ``seasight/data/geo/sea_lanes_marnet.geojson``, from searoute-py) is a network
of LineStrings along the world's shipping lanes, joined where their vertices coincide; straits and
canals carry a ``passage`` property. :class:`SeaLanes` turns it into a weighted graph (one node
per distinct vertex, edge weights in great-circle kilometres) and answers shortest-path queries
with :func:`scipy.sparse.csgraph.dijkstra`.

A route between two arbitrary points (typically a berth in a port) leaves the start point on a
straight leg to one of its nearest lane vertices, follows the network, and joins the end point on
a straight leg from one of its nearest vertices. Among the candidate legs only those that do not
cross land are used (checked every :attr:`LaneParams.land_step_km` with
:func:`seasight.geo.land.on_land`), except within :attr:`LaneParams.end_tolerance_km` of the end
points: a port's reference point often sits on the quay, which the 1 km land grid calls land.
When no candidate leg is free of land the nearest vertex is used anyway (:meth:`SeaLanes.snap`
reports it).

Routes are returned densified along great circles to at most :attr:`LaneParams.densify_km`
between waypoints, so that straight-line (linear in latitude/longitude) interpolation between
consecutive waypoints stays within metres of the great circle. Longitudes are unwrapped (they
may leave [-180, 180) on a route across the antimeridian); wrap them before display.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from seasight.geo.distance import haversine_km

__all__ = [
    "LaneParams",
    "SeaLanes",
    "default_lanes",
    "densify",
    "land_fraction",
    "route_land_points",
    "route_length_km",
]

@dataclass(frozen=True)
class LaneParams:
    """Parameters of the lane graph and of route construction.

    Attributes:
        densify_km: largest spacing of the returned waypoints, kilometres.
        snap_candidates: how many of the nearest lane vertices are tried as the first (last)
            vertex of a route from (to) an arbitrary point.
        max_snap_km: candidate vertices further than this from the point are not tried
            (unless none is nearer), kilometres.
        land_step_km: spacing of the points checked for land along a leg, kilometres.
        end_tolerance_km: land within this distance of a route's end points is tolerated
            (port reference points on quays, 1 km land grid at coasts), kilometres.
        vertex_decimals: vertices closer than this many decimal degrees are one node.
        detour_pad_km: a detour around land leaves the lane this far before the land and
            rejoins it this far after, kilometres.
        detour_margin_km: the detour search window extends this far around the detour's ends,
            kilometres; doubled on each of ``detour_tries`` attempts.
        detour_tries: attempts with a growing window before a stretch is left unrepaired.
        grid_deg: resolution of the detour search grid, degrees (the 1 km land grid's).
        clearance_cells: detours keep this many grid cells off land where the water allows.
        clearance_km: a lane passing closer than this to land (north, south, east or west of a
            sampled point) counts as crossing it and is repaired, km.
        max_grid_cells: above this many cells the detour grid is coarsened.
        max_reroutes: lanes over land that cannot be repaired are dropped and the route searched
            again at most this many times.
    """

    densify_km: float = 10.0
    snap_candidates: int = 4
    max_snap_km: float = 300.0
    land_step_km: float = 0.5
    end_tolerance_km: float = 3.0
    vertex_decimals: int = 5
    detour_pad_km: float = 3.0
    detour_margin_km: float = 15.0
    detour_tries: int = 3
    grid_deg: float = 1.0 / 120.0
    clearance_cells: int = 1
    clearance_km: float = 0.2
    max_grid_cells: int = 250_000
    max_reroutes: int = 4


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def route_length_km(route: np.ndarray) -> float:
    """Great-circle length of a route of (lat, lon) waypoints, kilometres."""
    if len(route) < 2:
        return 0.0
    return float(haversine_km(route[:-1, 0], route[:-1, 1], route[1:, 0], route[1:, 1]).sum())


def densify(route: np.ndarray, step_km: float) -> np.ndarray:
    """Waypoints ``route`` (k, 2) with points inserted along each great circle so that no two
    consecutive waypoints are more than ``step_km`` apart. Longitudes come back unwrapped."""
    return _densify(route, step_km)[0]


def _densify(route: np.ndarray, step_km: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`densify`, and for each leg of the result the index of the input leg it is on."""
    route = np.asarray(route, dtype=np.float64)
    if len(route) < 2:
        return route.copy(), np.zeros(0, np.int64)
    d = haversine_km(route[:-1, 0], route[:-1, 1], route[1:, 0], route[1:, 1])
    n = np.maximum(np.ceil(d / step_km).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(d)), n)
    frac = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    f = frac / np.repeat(n, n)
    a = _xyz(route[:-1, 0], route[:-1, 1])
    b = _xyz(route[1:, 0], route[1:, 1])
    omega = np.arccos(np.clip((a * b).sum(axis=1), -1.0, 1.0))
    so = np.sin(omega)
    small = so < 1e-12
    so = np.where(small, 1.0, so)
    om = omega[seg]
    wa = np.where(small[seg], 1.0 - f, np.sin((1.0 - f) * om) / so[seg])
    wb = np.where(small[seg], f, np.sin(f * om) / so[seg])
    p = wa[:, None] * a[seg] + wb[:, None] * b[seg]
    p /= np.linalg.norm(p, axis=1)[:, None]
    lat = np.degrees(np.arcsin(np.clip(p[:, 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
    out = np.concatenate([np.stack([lat, lon], axis=1), route[-1:]])
    out[:, 1] = np.degrees(np.unwrap(np.radians(out[:, 1])))
    # the input points themselves, exactly (their longitudes unwrapped like the rest)
    starts = np.flatnonzero(frac == 0)
    shift = np.round((out[starts, 1] - route[seg[starts], 1]) / 360.0) * 360.0
    out[starts, 0] = route[seg[starts], 0]
    out[starts, 1] = route[seg[starts], 1] + shift
    return out, seg


def _sample(route: np.ndarray, step_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_km`` along ``route`` (linear between waypoints) and their distance
    from the route's start, kilometres."""
    pts, along, _ = _sample_legs(route, step_km)
    return pts, along


def _sample_legs(route: np.ndarray, step_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_sample`, and the leg of ``route`` each point is on."""
    d = haversine_km(route[:-1, 0], route[:-1, 1], route[1:, 0], route[1:, 1])
    n = np.maximum(np.ceil(d / step_km).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(d)), n)
    f = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    pts = route[seg] + f[:, None] * (route[seg + 1] - route[seg])
    along = (np.concatenate([[0.0], np.cumsum(d)])[seg] + f * d[seg])
    pts = np.concatenate([pts, route[-1:]])
    along = np.concatenate([along, [d.sum()]])
    return pts, along, np.append(seg, len(d) - 1)


def _wrap(lon: np.ndarray) -> np.ndarray:
    return (lon + 180.0) % 360.0 - 180.0


def _near_land(lat: np.ndarray, lon: np.ndarray, clearance_km: float) -> np.ndarray:
    """On land, or land within ``clearance_km`` north, south, east or west."""
    from seasight.geo.land import on_land

    if clearance_km <= 0:
        return np.asarray(on_land(lat, _wrap(lon)), dtype=bool)
    dlat = clearance_km / 111.2
    dlon = clearance_km / (111.2 * np.maximum(np.cos(np.radians(lat)), 0.05))
    la = np.concatenate([lat, lat + dlat, lat - dlat, lat, lat])
    lo = np.concatenate([lon, lon, lon, lon + dlon, lon - dlon])
    hit = np.asarray(on_land(np.clip(la, -90.0, 90.0), _wrap(lo)), dtype=bool)
    return np.asarray(hit.reshape(5, len(lat)).any(axis=0))


def route_land_points(route: np.ndarray, step_km: float = 0.5,
                      end_tolerance_km: float = 0.0) -> np.ndarray:
    """Points (m, 2) sampled every ``step_km`` along ``route`` (linear between waypoints, as a
    simulator moves) that :func:`seasight.geo.land.on_land` calls land, ignoring the first and
    last ``end_tolerance_km``."""
    from seasight.geo.land import on_land

    route = np.asarray(route, dtype=np.float64)
    if len(route) < 2:
        return np.empty((0, 2))
    pts, along = _sample(route, step_km)
    total = along[-1]
    inner = (along >= end_tolerance_km) & (along <= total - end_tolerance_km)
    land = np.asarray(on_land(pts[:, 0], _wrap(pts[:, 1])), dtype=bool) & inner
    return pts[land]


def land_fraction(route: np.ndarray, step_km: float = 0.5, end_tolerance_km: float = 0.0) -> float:
    """Share of the route's sampled points on land (see :func:`route_land_points`)."""
    route = np.asarray(route, dtype=np.float64)
    if len(route) < 2:
        return 0.0
    _, along = _sample(route, step_km)
    inner = (along >= end_tolerance_km) & (along <= along[-1] - end_tolerance_km)
    if not inner.any():
        return 0.0
    return len(route_land_points(route, step_km, end_tolerance_km)) / int(inner.sum())


def _lines(geojson: dict[str, Any]) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for feature in geojson.get("features", []):
        geom = feature.get("geometry") or {}
        if geom.get("type") == "LineString":
            parts = [geom["coordinates"]]
        elif geom.get("type") == "MultiLineString":
            parts = geom["coordinates"]
        else:
            continue
        for part in parts:
            arr = np.asarray(part, dtype=np.float64)[:, :2]
            if len(arr) >= 2:
                out.append(arr)
    return out


def _runs(mask: np.ndarray) -> np.ndarray:
    """(k, 2) first and last index of each run of True in ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1], axis=1)


def _point_at(route: np.ndarray, cum: np.ndarray, s: float) -> tuple[np.ndarray, int]:
    """The point at distance ``s`` along ``route`` (linear between waypoints) and the index of
    the waypoint that starts its leg."""
    i = int(np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(route) - 2))
    span = cum[i + 1] - cum[i]
    f = 0.0 if span <= 0 else min(max((s - cum[i]) / span, 0.0), 1.0)
    return route[i] + f * (route[i + 1] - route[i]), i


def _walk(pred: np.ndarray, source: int, target: int) -> list[int]:
    """Vertices of the shortest path from ``source`` to ``target`` (dijkstra predecessors)."""
    path = [target]
    while path[-1] != source:
        nxt = int(pred[path[-1]])
        if nxt < 0:
            raise ValueError("sea lanes: no path between the two points")
        path.append(nxt)
    return path[::-1]


class _Detour:
    """Grid search around land on the 1 km land grid (see :meth:`SeaLanes.repair`)."""

    def __init__(self, params: LaneParams) -> None:
        self.p = params
        self.cache: dict[tuple[float, ...], np.ndarray | None] = {}

    def clear(self, a: np.ndarray, b: np.ndarray, skip_a_km: float = 0.0,
              skip_b_km: float = 0.0) -> bool:
        from seasight.geo.land import on_land

        seg = np.array([a, b])
        pts, along = _sample(seg, 20 * self.p.land_step_km)  # a coarse check first
        keep = (along >= skip_a_km) & (along <= along[-1] - skip_b_km)
        if (np.asarray(on_land(pts[:, 0], _wrap(pts[:, 1]))) & keep).any():
            return False
        pts, along = _sample(seg, self.p.land_step_km / 2)
        keep = (along >= skip_a_km) & (along <= along[-1] - skip_b_km)
        return not bool((_near_land(pts[:, 0], pts[:, 1], self.p.clearance_km) & keep).any())

    def find(self, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        key = (*np.round(a, 5).tolist(), *np.round(b, 5).tolist())
        if key not in self.cache:
            got = None
            margin = self.p.detour_margin_km
            for _ in range(self.p.detour_tries):
                got = self._search(a, b, margin)
                if got is not None:
                    break
                margin *= 2.0
            self.cache[key] = got
        return self.cache[key]

    def _search(self, a: np.ndarray, b: np.ndarray, margin_km: float) -> np.ndarray | None:
        from scipy.ndimage import binary_dilation

        from seasight.geo.land import on_land

        p = self.p
        mid_lat = float(np.clip((a[0] + b[0]) / 2, -80.0, 80.0))
        m_lat = margin_km / 111.2
        m_lon = margin_km / (111.2 * np.cos(np.radians(mid_lat)))
        lat0, lat1 = min(a[0], b[0]) - m_lat, max(a[0], b[0]) + m_lat
        lon0, lon1 = min(a[1], b[1]) - m_lon, max(a[1], b[1]) + m_lon
        res = p.grid_deg
        cells = (lat1 - lat0) / res * (lon1 - lon0) / res
        if cells > p.max_grid_cells:
            res *= float(np.sqrt(cells / p.max_grid_cells))
        ny = int(np.ceil((lat1 - lat0) / res))
        nx = int(np.ceil((lon1 - lon0) / res))
        cy = lat0 + (np.arange(ny) + 0.5) * res
        cx = lon0 + (np.arange(nx) + 0.5) * res
        land = np.asarray(on_land(cy[:, None], _wrap(cx[None, :])))
        blocked = binary_dilation(land, iterations=p.clearance_cells) if p.clearance_cells else land
        cell_km = res * 111.2
        reach = max(1, int(np.ceil(p.end_tolerance_km / (cell_km * np.cos(np.radians(mid_lat))))))

        def cell_of(pt: np.ndarray, free: np.ndarray) -> int | None:
            r = int(np.clip((pt[0] - lat0) // res, 0, ny - 1))
            c = int(np.clip((pt[1] - lon0) // res, 0, nx - 1))
            if free[r, c]:
                return r * nx + c
            r0, r1 = max(r - reach, 0), min(r + reach + 1, ny)
            c0, c1 = max(c - reach, 0), min(c + reach + 1, nx)
            rr, cc = np.nonzero(free[r0:r1, c0:c1])
            if not len(rr):
                return None
            k = int(np.argmin((rr + r0 - r) ** 2 + (cc + c0 - c) ** 2))
            return int((rr[k] + r0) * nx + cc[k] + c0)

        for free in (~blocked, ~land):
            s, e = cell_of(a, free), cell_of(b, free)
            if s is not None and e is not None:
                break
        else:
            return None
        idx = np.arange(ny * nx).reshape(ny, nx)
        rows, cols, wts = [], [], []
        kx = np.cos(np.radians(cy))[:, None] * cell_km
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            ys, ys2 = slice(0, ny - dy), slice(dy, ny)
            xs = slice(max(0, -dx), nx - max(0, dx))
            xs2 = slice(max(0, dx), nx + min(0, dx))
            ok = free[ys, xs] & free[ys2, xs2]
            if dy and dx:  # no cutting corners: both cells beside a diagonal step are water
                ok &= free[ys2, xs] & free[ys, xs2]
            w = np.broadcast_to(np.sqrt((dy * cell_km) ** 2 + (dx * kx[ys]) ** 2), ok.shape)
            rows.append(idx[ys, xs][ok])
            cols.append(idx[ys2, xs2][ok])
            wts.append(w[ok])
        u, v, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(wts)
        ncell = ny * nx
        key = np.minimum(u, v) * ncell + np.maximum(u, v)
        by_key = np.argsort(key)
        # grid steps must be clear of land as sampled (the grids are not aligned): with some
        # clearance where the water allows (position noise), else just clear
        for clearance in (self.p.clearance_km / 2, 0.0):
            alive = np.ones(len(u), bool)
            for _ in range(8):
                graph = csr_matrix((w[alive], (u[alive], v[alive])), shape=(ncell, ncell))
                dist, pred = dijkstra(graph, directed=False, indices=s,
                                      return_predecessors=True)
                if not np.isfinite(dist[e]):
                    break
                path = [e]
                while path[-1] != s:
                    path.append(int(pred[path[-1]]))
                path.reverse()
                pr, pc = np.divmod(np.array(path), nx)
                poly = np.stack([cy[pr], cx[pc]], axis=1)
                f = np.linspace(0.0, 1.0, 9)
                pts = poly[:-1, None, :] + f[None, :, None] * (poly[1:] - poly[:-1])[:, None, :]
                near = _near_land(pts[..., 0].ravel(), pts[..., 1].ravel(), clearance)
                bad = np.flatnonzero(near.reshape(len(poly) - 1, len(f)).any(axis=1))
                if not len(bad):
                    return self._simplify(np.concatenate([[a], poly, [b]]))
                pa = np.asarray(path)
                bk = np.minimum(pa[bad], pa[bad + 1]) * ncell + np.maximum(pa[bad], pa[bad + 1])
                alive[by_key[np.searchsorted(key, bk, sorter=by_key)]] = False
        return None

    def _simplify(self, poly: np.ndarray) -> np.ndarray:
        """Greedy line of sight: keep a vertex only where a straight leg would touch land. Land is
        tolerated near an end that is itself on land (a route's end in port)."""
        from seasight.geo.land import on_land

        ends_on_land = np.asarray(on_land(poly[[0, -1], 0], _wrap(poly[[0, -1], 1])))
        tol_a = self.p.end_tolerance_km if ends_on_land[0] else 0.0
        tol_b = self.p.end_tolerance_km if ends_on_land[1] else 0.0
        n = len(poly)
        out = [0]
        i = 0
        while i < n - 1:

            def ok(j: int, i: int = i) -> bool:
                return self.clear(poly[i], poly[j], tol_a if i == 0 else 0.0,
                                  tol_b if j == n - 1 else 0.0)

            best, step = i + 1, 1
            while best + step < n and ok(best + step):
                best += step
                step *= 2
            lo, hi = best, min(best + step, n)  # ok(lo); hi unknown or failing
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if ok(mid):
                    lo = mid
                else:
                    hi = mid
            i = lo
            out.append(i)
        return poly[out]


@dataclass(frozen=True)
class Snap:
    """How a point joins the network: the chosen vertex, the leg length (km), and whether the
    straight leg was checked free of land."""

    node: int
    leg_km: float
    land_free: bool


class SeaLanes:
    """The MARNET lane graph with shortest-path routing between arbitrary sea points.

    Lanes that the 1 km land grid says cross land (small islands, capes, harbour moles: MARNET
    was drawn on coarser coastlines) are repaired when a route uses them: each stretch over land
    is replaced by a detour found on the land grid (:meth:`repair`), keeping
    :attr:`LaneParams.clearance_cells` off the coast where the water allows.

    Args:
        geojson: a FeatureCollection of LineStrings (MultiLineStrings are split).
        params: :class:`LaneParams`.

    Example:
        >>> lanes = default_lanes()
        >>> r = lanes.route(1.26, 103.83, 22.29, 114.17)  # Singapore to Hong Kong
        >>> 2400 < route_length_km(r) < 3200
        True
    """

    def __init__(self, geojson: dict[str, Any], params: LaneParams = LaneParams()) -> None:
        self.params = params
        lines = _lines(geojson)
        if not lines:
            raise ValueError("sea lanes: no LineString features")
        pts = np.concatenate(lines)
        lon = _wrap(pts[:, 0])
        key = np.round(np.stack([pts[:, 1], lon], axis=1), params.vertex_decimals)
        nodes, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        ends = np.cumsum([len(line) for line in lines])
        a = np.arange(len(pts) - 1)
        a = a[~np.isin(a, ends - 1)]  # no edge from one line's last vertex to the next line
        u, v = inverse[a], inverse[a + 1]
        keep = u != v
        u, v = u[keep], v[keep]
        w = haversine_km(nodes[u, 0], nodes[u, 1], nodes[v, 0], nodes[v, 1])
        n = len(nodes)
        # parallel edges (lines sharing two vertices): keep the shortest
        uu, vv, ww = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
        order = np.lexsort((ww, vv, uu))
        uu, vv, ww = uu[order], vv[order], ww[order]
        first = np.ones(len(uu), bool)
        first[1:] = (uu[1:] != uu[:-1]) | (vv[1:] != vv[:-1])
        #: the lane graph: symmetric sparse matrix of edge lengths, kilometres.
        self.graph = csr_matrix((ww[first], (uu[first], vv[first])), shape=(n, n))
        #: (n, 2) lane vertices as (lat, lon).
        self.nodes = nodes
        self._tree = cKDTree(_xyz(nodes[:, 0], nodes[:, 1]))
        self._dist_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._snap_cache: dict[tuple[float, float], list[Snap]] = {}
        self._clean: dict[tuple[int, int], bool] = {}
        self._detour = _Detour(params)

    @classmethod
    def from_file(cls, path: str | Path, params: LaneParams = LaneParams()) -> SeaLanes:
        """Load a lane network from a GeoJSON file."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), params)

    def candidates(self, lat: float, lon: float) -> list[Snap]:
        """The nearest lane vertices to (lat, lon) whose straight leg avoids land (nearest
        first; land within :attr:`LaneParams.end_tolerance_km` of the point is tolerated), or
        the single nearest vertex (``land_free=False``) when none does."""
        key = (round(float(lat), 6), round(float(lon), 6))
        got = self._snap_cache.get(key)
        if got is not None:
            return got
        p = self.params
        k = min(p.snap_candidates, len(self.nodes))
        _, idx = self._tree.query(_xyz(np.array([lat]), np.array([lon]))[0], k=k)
        idx = np.atleast_1d(idx)
        d = haversine_km(lat, lon, self.nodes[idx, 0], self.nodes[idx, 1])
        order = np.argsort(d, kind="stable")
        point = np.array([lat, lon], dtype=np.float64)
        out: list[Snap] = []
        for i in order.tolist():
            if d[i] > p.max_snap_km and out:
                break
            node = self.nodes[int(idx[i])].copy()
            node[1] = lon + ((node[1] - lon + 180.0) % 360.0 - 180.0)
            if self._detour.clear(point, node, p.end_tolerance_km, 0.0):
                out.append(Snap(int(idx[i]), float(d[i]), True))
        if not out:
            out = [Snap(int(idx[order[0]]), float(d[order[0]]), False)]
        self._snap_cache[key] = out
        return out

    def open_water(self, lat: float, lon: float, tolerance_km: float = 0.0) -> bool:
        """Whether a straight leg over water (land tolerated within ``tolerance_km`` of the
        point) joins (lat, lon) to one of its :attr:`LaneParams.snap_candidates` nearest lane
        vertices."""
        k = min(self.params.snap_candidates, len(self.nodes))
        _, idx = self._tree.query(_xyz(np.array([lat]), np.array([lon]))[0], k=k)
        point = np.array([lat, lon], dtype=np.float64)
        for i in np.atleast_1d(idx).tolist():
            node = self.nodes[int(i)].copy()
            node[1] = lon + ((node[1] - lon + 180.0) % 360.0 - 180.0)
            if self._detour.clear(point, node, tolerance_km, 0.0):
                return True
        return False

    def snap(self, lat: float, lon: float) -> Snap:
        """The vertex a route from (lat, lon) starts from when going nowhere in particular: the
        nearest one reachable on a straight leg over water."""
        return self.candidates(lat, lon)[0]

    def _distances(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        got = self._dist_cache.get(node)
        if got is None:
            dist, pred = dijkstra(self.graph, directed=False, indices=node,
                                  return_predecessors=True)
            got = self._dist_cache[node] = (np.asarray(dist), np.asarray(pred))
        return got

    def route(self, lat1: float, lon1: float, lat2: float, lon2: float) -> np.ndarray:
        """Waypoints (k, 2) as (lat, lon) from (lat1, lon1) to (lat2, lon2) along the lanes.

        The first and last waypoints are the two points themselves. A direct leg is used when it
        is shorter than any lane route and free of land. Waypoints are at most
        :attr:`LaneParams.densify_km` apart along great circles, except on detours around land
        (straight legs between grid cells, see :meth:`repair`). When a lane's stretch over land
        cannot be repaired (a strait the land grid closes), the route is searched again without
        that lane, up to :attr:`LaneParams.max_reroutes` times. A route depends only on its two
        end points, never on the routes asked before.

        Raises:
            ValueError: the two points are on unconnected parts of the network.
        """
        a = np.array([[lat1, lon1], [lat2, lon2]], dtype=np.float64)
        tol = self.params.end_tolerance_km
        start = self.candidates(lat1, lon1)
        end = self.candidates(lat2, lon2)
        graph: csr_matrix | None = None  # the network without the lanes found unusable
        out = np.empty((0, 2))
        for _ in range(self.params.max_reroutes + 1):
            best = (np.inf, -1, -1)
            preds: dict[int, np.ndarray] = {}
            for sn in start:
                if graph is None:
                    dist, pred = self._distances(sn.node)
                else:
                    dist, pred = dijkstra(graph, directed=False, indices=sn.node,
                                          return_predecessors=True)
                preds[sn.node] = pred
                for en in end:
                    total = sn.leg_km + float(dist[en.node]) + en.leg_km
                    if total < best[0]:
                        best = (total, sn.node, en.node)
            if (float(haversine_km(lat1, lon1, lat2, lon2)) <= best[0]
                    and self._detour.clear(a[0], a[1], tol, tol)):
                return densify(a, self.params.densify_km)
            if not np.isfinite(best[0]):
                raise ValueError("sea lanes: no path between the two points")
            path = _walk(preds[best[1]], best[1], best[2])
            pts = np.concatenate([a[:1], self.nodes[path], a[1:]])
            pts[:, 1] = np.degrees(np.unwrap(np.radians(pts[:, 1])))
            dense, leg = _densify(pts, self.params.densify_km)
            # lane edges known to be clear of land need no sampling
            clean = np.array([False] + [self._edge_clean(path[i], path[i + 1])
                                        for i in range(len(path) - 1)] + [False])
            out, failed = self._repair(dense, ~clean[leg])
            if not failed:
                return out
            # lane edges under an unrepaired stretch leave the network (for this route only)
            cum = np.concatenate([[0.0], np.cumsum(
                haversine_km(pts[:-1, 0], pts[:-1, 1], pts[1:, 0], pts[1:, 1]))])
            blocked = [(path[i - 1], path[i]) for s0, s1 in failed
                       for i in range(1, len(pts) - 2) if cum[i] < s1 and cum[i + 1] > s0]
            if not blocked:
                return out  # the land is on a leg to or from a point: nothing to reroute
            g = (self.graph if graph is None else graph).copy()
            for u, v in blocked:
                for x, y in ((u, v), (v, u)):
                    row = slice(g.indptr[x], g.indptr[x + 1])
                    g.data[row][g.indices[row] == y] = 0.0
            g.eliminate_zeros()
            graph = g
        return out

    def _edge_clean(self, u: int, v: int) -> bool:
        """Whether lane edge (u, v) keeps :attr:`LaneParams.clearance_km` off land."""
        key = (min(u, v), max(u, v))
        got = self._clean.get(key)
        if got is None:
            pts = self.nodes[list(key)].copy()
            pts[1, 1] = pts[0, 1] + ((pts[1, 1] - pts[0, 1] + 180.0) % 360.0 - 180.0)
            samples, _ = _sample(densify(pts, self.params.densify_km), self.params.land_step_km)
            got = not bool(_near_land(samples[:, 0], samples[:, 1],
                                      self.params.clearance_km).any())
            self._clean[key] = got
        return got

    def repair(self, route: np.ndarray) -> np.ndarray:
        """``route`` with every stretch over land (by :func:`seasight.geo.land.on_land`,
        sampled every :attr:`LaneParams.land_step_km`, land within
        :attr:`LaneParams.end_tolerance_km` of the ends tolerated) replaced by a detour over
        water found on the land grid. A stretch for which no detour is found within the search
        windows is left as it is (:func:`route_land_points` then reports it)."""
        return self._repair(route)[0]

    def _repair(self, route: np.ndarray, check: np.ndarray | None = None,
                ) -> tuple[np.ndarray, list[tuple[float, float]]]:
        """:meth:`repair`, checking only the legs of ``route`` flagged in ``check``; also
        returns the stretches (distances along the route) left unrepaired."""
        p = self.params
        route = np.asarray(route, dtype=np.float64)
        if len(route) < 2:
            return route, []
        pts, along, leg = _sample_legs(route, p.land_step_km)
        total = along[-1]
        inner = (along >= p.end_tolerance_km) & (along <= total - p.end_tolerance_km)
        if check is not None:
            inner &= check[leg]
        land = np.zeros(len(pts), bool)
        land[inner] = _near_land(pts[inner, 0], pts[inner, 1], p.clearance_km)
        if not land.any():
            return route, []
        # merge runs closer than two pads: one detour for both
        spans: list[list[float]] = []
        for i0, i1 in _runs(land).tolist():
            s0 = max(along[i0] - p.detour_pad_km, 0.0)
            s1 = min(along[i1] + p.detour_pad_km, total)
            if spans and s0 <= spans[-1][1]:
                spans[-1][1] = s1
            else:
                spans.append([s0, s1])
        cum = np.concatenate([[0.0], np.cumsum(
            haversine_km(route[:-1, 0], route[:-1, 1], route[1:, 0], route[1:, 1]))])
        pieces: list[np.ndarray] = [route[:1]]
        failed: list[tuple[float, float]] = []
        pos_s, pos_i = 0.0, 0  # copied up to distance pos_s (waypoint pos_i starts its leg)
        for s0, s1 in spans:
            a, ia = _point_at(route, cum, s0)
            b, ib = _point_at(route, cum, s1)
            detour = self._detour.find(a, b)
            if detour is None:
                failed.append((s0, s1))
                continue
            pieces.append(route[pos_i + 1:ia + 1][cum[pos_i + 1:ia + 1] > pos_s])
            pieces.append(detour)
            pos_s, pos_i = s1, ib
        pieces.append(route[pos_i + 1:][cum[pos_i + 1:] > pos_s])
        out = np.concatenate(pieces)
        keep = np.ones(len(out), bool)
        keep[1:] = np.any(np.abs(np.diff(out, axis=0)) > 1e-9, axis=1)
        return out[keep], failed


@functools.cache
def _marnet() -> dict[str, Any]:
    ref = resources.files("seasight") / "data" / "geo" / "sea_lanes_marnet.geojson"
    return json.loads(ref.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def default_lanes(params: LaneParams = LaneParams()) -> SeaLanes:
    """The MARNET network shipped with SeaSight (one per ``params``, loaded once)."""
    return SeaLanes(_marnet(), params)
