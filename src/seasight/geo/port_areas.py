"""Port areas: is a position in a port (at a quay or at one of its anchorages), and which port.

The port layer joins three sources into one table of named ports (:func:`port_areas`):

- the UN/LOCODE port points of :mod:`seasight.geo.ports` (searoute-py plus SeaSight's
  supplement): one point per port, usually at its main basin;
- Global Fishing Watch's named anchorages (:func:`seasight.geo.anchorages.load_anchorages`):
  60,410 cells where ships are seen stopped, each labelled with its port, outer anchorages
  included;
- the World Port Index (:func:`seasight.geo.anchorages.load_wpi_ports`): port points.

A GFW port label or a WPI port is the same port as a UN/LOCODE point when the point lies within
:data:`MATCH_KM` of it and their names agree (after dropping case, punctuation and words such
as PORT or HARBOUR); otherwise it is a port of its own. A port's ``country`` is the UN/LOCODE
country (ISO alpha-2); ports known only to GFW or the WPI get theirs from the alpha-3 code
through the pairs seen among matched ports.

A position is **in a port** when it is within :data:`PORT_RADIUS_KM` (5 km) of one of the
port's points or within :data:`ANCHORAGE_RADIUS_KM` (3 km, Global Fishing Watch's port-entry
distance) of one of its anchorages; so a port's area reaches out over its outer anchorages, as
in GFW's port visits. When several ports are in reach, the position belongs to the one it is
deepest inside (the smallest distance minus radius: the *excess*, negative inside).

Lookups use two k-d trees of 3-D unit vectors (port points, anchorages: each has one radius,
so the nearest point of each tree decides), behind a 0.1 degree bitmap that skips the open sea.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache, cached_property

import numba as nb
import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from rapidfuzz import fuzz
from scipy.spatial import cKDTree

from seasight.geo.anchorages import load_anchorages, load_wpi_ports
from seasight.geo.distance import chord_to_km, km_to_chord, unit_vectors
from seasight.geo.ports import PORT_RADIUS_KM, load_ports

#: A position within this distance of an anchorage cell is at that anchorage, km (GFW: 3 km).
ANCHORAGE_RADIUS_KM = 3.0

#: A GFW label or WPI port and a UN/LOCODE point this close, with agreeing names, are one port.
MATCH_KM = 30.0

#: Name similarity (rapidfuzz token-set ratio, 0-100) from which two port names agree.
NAME_MATCH_SCORE = 88.0

#: Cell size (degrees) of the bitmap that lets lookups skip the open sea.
_GRID_DEG = 0.1

#: Columns of :attr:`PortAreas.ports`, in order.
PORT_AREA_COLUMNS: dict[str, pl.DataType] = {
    "port_id": pl.Int64(),  # row number
    "name": pl.String(),
    "locode": pl.String(),  # UN/LOCODE, null when the port has none in the layer
    "country": pl.String(),  # ISO 3166-1 alpha-2, null if unknown
    "country_name": pl.String(),  # English name (UN/LOCODE ports), null if unknown
    "iso3": pl.String(),  # ISO 3166-1 alpha-3 (GFW, WPI), null if unknown
    "lat": pl.Float64(),  # the port point, or the centre of its anchorages
    "lon": pl.Float64(),
    "n_anchorages": pl.Int64(),  # GFW anchorage cells of the port
    "sources": pl.String(),  # which layers know it: unlocode, gfw, wpi, joined by +
}

_GENERIC_WORDS = frozenset({"PORT", "PORTO", "PUERTO", "HARBOR", "HARBOUR", "OF", "THE", "DE",
                            "TERMINAL", "ANCHORAGE", "OFFSHORE"})


def normalise_port_name(name: str | None) -> str:
    """Upper case letters and digits only, generic words (PORT, HARBOUR, ...) dropped.

    >>> normalise_port_name("Port of Singapore")
    'SINGAPORE'
    >>> normalise_port_name("St. John's Harbour")
    'ST JOHN S'
    """
    words = re.sub(r"[^0-9A-Z]+", " ", (name or "").upper()).split()
    kept = [w for w in words if w not in _GENERIC_WORDS]
    return " ".join(kept or words)


def _names_agree(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return a == b or fuzz.token_set_ratio(a, b) >= NAME_MATCH_SCORE


@dataclass(frozen=True)
class PortAreas:
    """A port layer ready for lookups: the ports, their points and their anchorages.

    ``ports`` has the columns :data:`PORT_AREA_COLUMNS`; ``point_port`` / ``anchorage_port``
    give the port (row of ``ports``) of each point / anchorage of the trees.
    """

    ports: pl.DataFrame
    point_lat: np.ndarray
    point_lon: np.ndarray
    point_port: np.ndarray
    anchorage_lat: np.ndarray
    anchorage_lon: np.ndarray
    anchorage_port: np.ndarray
    port_radius_km: float = PORT_RADIUS_KM
    anchorage_radius_km: float = ANCHORAGE_RADIUS_KM

    @classmethod
    def from_points(cls, ports: pl.DataFrame, radius_km: float = PORT_RADIUS_KM) -> PortAreas:
        """A layer of port points only (no anchorages), from a frame with columns ``name``,
        ``lat``, ``lon`` and optionally ``locode``, ``country``: for tests and user tables."""
        n = ports.height
        frame = pl.DataFrame({
            "port_id": np.arange(n, dtype=np.int64),
            "name": ports["name"].cast(pl.String),
            "locode": _column(ports, "locode", n),
            "country": _column(ports, "country", n),
            "country_name": _column(ports, "country_name", n),
            "iso3": _column(ports, "iso3", n),
            "lat": ports["lat"].cast(pl.Float64),
            "lon": ports["lon"].cast(pl.Float64),
            "n_anchorages": np.zeros(n, np.int64),
            "sources": ["user"] * n,
        }, schema=PORT_AREA_COLUMNS)
        lat = frame["lat"].to_numpy().astype(np.float64)
        lon = frame["lon"].to_numpy().astype(np.float64)
        return cls(frame, lat, lon, np.arange(n, dtype=np.int64), np.empty(0), np.empty(0),
                   np.empty(0, np.int64), port_radius_km=radius_km)

    # -- trees and bitmap ------------------------------------------------------------------

    @cached_property
    def _trees(self) -> tuple[cKDTree | None, cKDTree | None]:
        p = (cKDTree(unit_vectors(self.point_lat, self.point_lon))
             if self.point_lat.size else None)
        a = (cKDTree(unit_vectors(self.anchorage_lat, self.anchorage_lon))
             if self.anchorage_lat.size else None)
        return p, a

    @cached_property
    def _bitmaps(self) -> dict[float, np.ndarray]:
        return {}

    def _bitmap(self, margin_km: float) -> np.ndarray:
        """The 0.1 degree cells where some point is within its radius + ``margin_km``."""
        key = round(float(margin_km), 6)
        found = self._bitmaps.get(key)
        if found is None:
            cells = [
                _cells_within(self.point_lat, self.point_lon, self.port_radius_km + key),
                _cells_within(self.anchorage_lat, self.anchorage_lon,
                              self.anchorage_radius_km + key),
            ]
            found = self._bitmaps[key] = _bitmap(np.unique(np.concatenate(cells)))
        return found

    # -- queries ---------------------------------------------------------------------------

    def lookup(self, lat: ArrayLike, lon: ArrayLike,
               margin_km: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The port each position is in (or near): ``(port row, excess km)``.

        ``excess`` is the distance to the nearest point minus its radius (5 km for port points,
        3 km for anchorages), the smaller of the two kinds: <= 0 inside the port. Positions
        whose excess would be above ``margin_km`` get port -1 and excess ``inf`` (so do invalid
        positions).
        """
        la = np.asarray(lat, dtype=np.float64).ravel()
        lo = np.asarray(lon, dtype=np.float64).ravel()
        port = np.full(la.size, -1, np.int64)
        excess = np.full(la.size, np.inf)
        sel = np.flatnonzero(_near_kernel(la, lo, self._bitmap(margin_km), _GRID_DEG))
        if sel.size == 0:
            return port, excess
        xyz = unit_vectors(la[sel], lo[sel])
        p_tree, a_tree = self._trees
        for tree, radius, owner in ((p_tree, self.port_radius_km, self.point_port),
                                    (a_tree, self.anchorage_radius_km, self.anchorage_port)):
            if tree is None:
                continue
            bound = float(km_to_chord(radius + margin_km)) * (1 + 1e-9)
            chord, idx = tree.query(xyz, k=1, distance_upper_bound=bound)
            hit = np.isfinite(chord)
            e = np.where(hit, chord_to_km(np.where(hit, chord, 0.0)) - radius, np.inf)
            better = hit & (e < excess[sel])
            excess[sel[better]] = e[better]
            port[sel[better]] = owner[idx[better]]
        outside = excess > margin_km
        port[outside] = -1
        excess[outside] = np.inf
        return port, excess

    def in_port(self, lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
        """True where a position is inside some port's area."""
        port, _ = self.lookup(lat, lon)
        return port >= 0

    def distance_km(self, lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
        """Great-circle distance (km) to the nearest port point or anchorage, any port.

        NaN for invalid positions; ``inf`` when the layer is empty.
        """
        la = np.asarray(lat, dtype=np.float64).ravel()
        lo = np.asarray(lon, dtype=np.float64).ravel()
        out = np.full(la.size, np.inf)
        ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90.0)
        out[~ok] = np.nan
        if ok.any():
            xyz = unit_vectors(la[ok], lo[ok])
            best = np.full(xyz.shape[0], np.inf)
            for tree in self._trees:
                if tree is not None:
                    chord, _ = tree.query(xyz, k=1)
                    best = np.fmin(best, chord_to_km(chord))
            out[ok] = best
        return out


def _column(frame: pl.DataFrame, name: str, n: int) -> pl.Series:
    if name in frame.columns:
        return frame[name].cast(pl.String)
    return pl.Series(name, [None] * n, dtype=pl.String)


def _bitmap(cells: np.ndarray) -> np.ndarray:
    """The grid as a flat bool array, True in ``cells`` (6.5 MB at 0.1 degree)."""
    n_rows = round(180 / _GRID_DEG) + 1
    n_cols = round(360 / _GRID_DEG)
    out = np.zeros(n_rows * n_cols, dtype=np.bool_)
    out[cells] = True
    return out


@nb.njit(cache=True, nogil=True)
def _near_kernel(lat, lon, bitmap, grid_deg):  # type: ignore[no-untyped-def]
    # the cell of each point (as _cells_within numbers them), looked up in the grid bitmap
    n = len(lat)
    out = np.zeros(n, np.bool_)
    n_cols = np.int64(round(360.0 / grid_deg))
    for i in range(n):
        la = lat[i]
        lo = lon[i]
        if not (np.isfinite(la) and np.isfinite(lo)):
            continue
        la = min(max(la, -90.0), 90.0)
        row = np.int64(math.floor((la + 90.0) / grid_deg))
        col = np.int64(math.floor(((lo + 180.0) % 360.0) / grid_deg)) % n_cols
        out[i] = bitmap[row * n_cols + col]
    return out


def _cells_within(lat: np.ndarray, lon: np.ndarray, radius_km: float) -> np.ndarray:
    """Ids of the 0.1 degree grid cells within ``radius_km`` (plus a margin) of the points
    (the cell numbering of :func:`_near_kernel`)."""
    if lat.size == 0:
        return np.zeros(0, np.int64)
    n_cols = round(360 / _GRID_DEG)
    n_rows = round(180 / _GRID_DEG) + 1
    row = np.floor((np.clip(lat, -90, 90) + 90) / _GRID_DEG).astype(np.int64)
    col = np.floor(((lon + 180.0) % 360.0) / _GRID_DEG).astype(np.int64) % n_cols
    dlat = radius_km / 111.0
    n_lat = int(np.ceil(dlat / _GRID_DEG)) + 1
    c = np.maximum(np.cos(np.radians(np.minimum(np.abs(lat) + dlat + _GRID_DEG, 89.9))), 1e-3)
    n_lon = np.minimum(np.ceil(radius_km / (111.0 * c) / _GRID_DEG).astype(np.int64) + 1,
                       n_cols // 2)
    return _stencil_cells(row, col, n_lon, n_lat, n_rows, n_cols)


@nb.njit(cache=True)
def _stencil_cells(row, col, n_lon, n_lat, n_rows, n_cols):  # type: ignore[no-untyped-def]
    total = 0
    for i in range(len(row)):
        total += (2 * n_lat + 1) * (2 * n_lon[i] + 1)
    out = np.empty(total, np.int64)
    k = 0
    for i in range(len(row)):
        for r in range(row[i] - n_lat, row[i] + n_lat + 1):
            if r < 0 or r > n_rows - 1:
                continue
            for c in range(col[i] - n_lon[i], col[i] + n_lon[i] + 1):
                out[k] = r * n_cols + (c % n_cols)
                k += 1
    return np.unique(out[:k])


# -- building the default layer --------------------------------------------------------------


def _match(names: list[str], lat: np.ndarray, lon: np.ndarray, tree: cKDTree,
           target_names: list[str]) -> np.ndarray:
    """For each (name, position), the nearest target within MATCH_KM whose name agrees; -1."""
    out = np.full(len(names), -1, np.int64)
    if not names or tree.n == 0:
        return out
    xyz = unit_vectors(lat, lon)
    near = tree.query_ball_point(xyz, float(km_to_chord(MATCH_KM)))
    for i, cand in enumerate(near):
        if not cand:
            continue
        cand = sorted(cand, key=lambda j: float(np.linalg.norm(tree.data[j] - xyz[i])))
        for j in cand:
            if _names_agree(names[i], target_names[j]):
                out[i] = j
                break
    return out


def _centres(group: np.ndarray, lat: np.ndarray, lon: np.ndarray,
             n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean position of each group (mean of unit vectors: safe across the antimeridian)."""
    xyz = unit_vectors(lat, lon)
    s = np.zeros((n, 3))
    np.add.at(s, group, xyz)
    norm = np.linalg.norm(s, axis=1, keepdims=True)
    s = s / np.where(norm == 0, 1.0, norm)
    return np.degrees(np.arcsin(np.clip(s[:, 2], -1, 1))), np.degrees(np.arctan2(s[:, 1],
                                                                                 s[:, 0]))


@cache
def port_areas() -> PortAreas:
    """The shipped port layer (UN/LOCODE points, GFW named anchorages, World Port Index),
    built once per process (about a second)."""
    un = load_ports()
    anch = load_anchorages()
    wpi = load_wpi_ports()
    un_lat = un["lat"].to_numpy().astype(np.float64)
    un_lon = un["lon"].to_numpy().astype(np.float64)
    un_names = [normalise_port_name(x) for x in un["name"].to_list()]
    un_tree = cKDTree(unit_vectors(un_lat, un_lon))

    # GFW labels: one candidate port per (label, iso3), placed at its anchorages' centre
    labels = anch.select("label", "iso3").unique(maintain_order=True)
    label_key = {(r[0], r[1]): i for i, r in enumerate(labels.iter_rows())}
    a_group = np.array([label_key[(a, b)] for a, b in
                        zip(anch["label"].to_list(), anch["iso3"].to_list(), strict=True)],
                       dtype=np.int64)
    a_lat = anch["lat"].to_numpy().astype(np.float64)
    a_lon = anch["lon"].to_numpy().astype(np.float64)
    g_lat, g_lon = _centres(a_group, a_lat, a_lon, labels.height)
    g_names = [normalise_port_name(x) for x in labels["label"].to_list()]
    g_to_un = _match(g_names, g_lat, g_lon, un_tree, un_names)

    w_names = [normalise_port_name(x) for x in wpi["label"].to_list()]
    w_lat = wpi["lat"].to_numpy().astype(np.float64)
    w_lon = wpi["lon"].to_numpy().astype(np.float64)
    w_to_un = _match(w_names, w_lat, w_lon, un_tree, un_names)
    g_tree = cKDTree(unit_vectors(g_lat, g_lon))
    w_to_g = _match(w_names, w_lat, w_lon, g_tree, g_names)

    # alpha-3 -> alpha-2, from the pairs seen among matched ports
    pairs: dict[str, Counter[str]] = {}
    un_country = un["country"].to_list()
    for iso3s, links in ((labels["iso3"].to_list(), g_to_un), (wpi["iso3"].to_list(), w_to_un)):
        for iso3, j in zip(iso3s, links.tolist(), strict=True):
            if j >= 0 and iso3 and un_country[j]:
                pairs.setdefault(iso3, Counter())[un_country[j]] += 1
    iso2_of = {k: v.most_common(1)[0][0] for k, v in pairs.items()}

    # the port table: UN/LOCODE rows, then unmatched GFW labels, then unmatched WPI ports
    n_un = un.height
    g_port = np.where(g_to_un >= 0, g_to_un, -1)
    new_g = np.flatnonzero(g_to_un < 0)
    g_port[new_g] = n_un + np.arange(new_g.size)
    w_port = np.where(w_to_un >= 0, w_to_un, np.where(w_to_g >= 0, g_port[np.maximum(w_to_g, 0)],
                                                      -1))
    new_w = np.flatnonzero(w_port < 0)
    w_port[new_w] = n_un + new_g.size + np.arange(new_w.size)
    n_ports = n_un + new_g.size + new_w.size

    sources: list[set[str]] = [{"unlocode"} for _ in range(n_un)]
    sources += [{"gfw"} for _ in range(new_g.size)] + [{"wpi"} for _ in range(new_w.size)]
    for p in g_port.tolist():
        sources[p].add("gfw")
    for p in w_port.tolist():
        sources[p].add("wpi")
    iso3_col: list[str | None] = [None] * n_ports
    for iso3s, links in ((labels["iso3"].to_list(), g_port), (wpi["iso3"].to_list(), w_port)):
        for iso3, p in zip(iso3s, links.tolist(), strict=True):
            if iso3_col[p] is None:
                iso3_col[p] = iso3
    g_label = labels["label"].to_list()
    w_label = wpi["label"].to_list()
    names = un["name"].to_list() + [g_label[i].title() for i in new_g.tolist()] + [
        w_label[i].title() for i in new_w.tolist()]
    locodes = un["locode"].to_list() + [None] * (new_g.size + new_w.size)
    countries = un_country + [iso2_of.get(iso3_col[n_un + k] or "") for k in
                              range(new_g.size + new_w.size)]
    lat = np.concatenate([un_lat, g_lat[new_g], w_lat[new_w]])
    lon = np.concatenate([un_lon, g_lon[new_g], w_lon[new_w]])
    anchor_port = g_port[a_group]
    n_anch = np.bincount(anchor_port, minlength=n_ports)
    ports = pl.DataFrame({
        "port_id": np.arange(n_ports, dtype=np.int64),
        "name": names,
        "locode": locodes,
        "country": countries,
        "country_name": un["country_name"].to_list() + [None] * (new_g.size + new_w.size),
        "iso3": iso3_col,
        "lat": lat,
        "lon": lon,
        "n_anchorages": n_anch.astype(np.int64),
        "sources": ["+".join(s for s in ("unlocode", "gfw", "wpi") if s in src)
                    for src in sources],
    }, schema=PORT_AREA_COLUMNS)
    # port points: every UN/LOCODE point and every WPI point (WPI points of matched ports too:
    # they widen the port where the WPI puts it elsewhere)
    point_lat = np.concatenate([un_lat, w_lat])
    point_lon = np.concatenate([un_lon, w_lon])
    point_port = np.concatenate([np.arange(n_un, dtype=np.int64), w_port])
    return PortAreas(ports, point_lat, point_lon, point_port, a_lat, a_lon,
                     anchor_port.astype(np.int64))


def port_stays(new_stay: np.ndarray, port: np.ndarray, excess: np.ndarray,
               exit_margin_km: float) -> np.ndarray:
    """The port each report is in, with hysteresis, from :meth:`PortAreas.lookup` results
    made with ``margin_km=exit_margin_km``.

    A vessel enters the port it is inside (``excess <= 0``) and stays in it while it is within
    ``exit_margin_km`` beyond that port's area; entering another port's area moves it there.
    ``new_stay`` marks reports where any stay ends first (a new track, a long hole). Returns
    the port row of each report, -1 when not in port.
    """
    return _stays_kernel(new_stay.astype(np.bool_), port.astype(np.int64),
                         excess.astype(np.float64), float(exit_margin_km))


@nb.njit(cache=True, nogil=True)
def _stays_kernel(new_stay, port, excess, margin):  # type: ignore[no-untyped-def]
    n = len(port)
    out = np.full(n, -1, np.int64)
    cur = -1
    for i in range(n):
        if new_stay[i]:
            cur = -1
        p = port[i]
        e = excess[i]
        if p >= 0 and e <= 0.0:
            cur = p  # inside a port's area: that port
        elif cur >= 0 and not (p >= 0 and e <= margin):
            cur = -1  # beyond the exit margin of every port: left
        # else: within the exit margin of some port area: stays where it was
        out[i] = cur
    return out


@cache
def port_areas_with(port_radius_km: float = PORT_RADIUS_KM,
                    anchorage_radius_km: float = ANCHORAGE_RADIUS_KM) -> PortAreas:
    """The shipped port layer with other entry radii (cached per pair of radii)."""
    default = port_areas()
    if (port_radius_km, anchorage_radius_km) == (default.port_radius_km,
                                                 default.anchorage_radius_km):
        return default
    return dataclasses.replace(default, port_radius_km=float(port_radius_km),
                               anchorage_radius_km=float(anchorage_radius_km))
