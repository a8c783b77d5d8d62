"""World ports: where they are, which is nearest, and which are within reach of a position.

The port layer is searoute-py's ``ports.geojson`` (Apache-2.0; see
``seasight/data/geo/LICENSES.md``): 3,962 port points with a UN/LOCODE, a name and a country,
plus the few ports it lacks that SeaSight's reference data needs (``ports_supplement.csv``,
positions from UN/LOCODE, e.g. Portsmouth GBPME on the Solent).
Each point stands for a whole port, usually near its main basin or quay; a vessel within
:data:`PORT_RADIUS_KM` of one is taken to be in that port. The layer holds no anchorages and no
port outlines: the detectors use :mod:`seasight.geo.port_areas`, which joins these points with
the named anchorages of Global Fishing Watch and the World Port Index.

A few LOCODEs appear more than once (38 codes: old and new names such as Bombay and Mumbai,
several terminals of one port) and one row has the bare code ``EG``; the frame keeps every row
as it is, so an index from :func:`nearest_port` always points to one row.

Nearest-port searches use a k-d tree of 3-D unit vectors built once per process, so they are
exact great-circle searches, with no trouble at the antimeridian.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from seasight.geo.distance import chord_to_km, km_to_chord, unit_vectors

#: A vessel within this great-circle distance (km) of a port point is "in port".
PORT_RADIUS_KM = 5.0

#: Columns of :func:`load_ports`, in order.
PORT_COLUMNS: dict[str, pl.DataType] = {
    "locode": pl.String(),  # UN/LOCODE, e.g. SGSIN
    "name": pl.String(),
    "country": pl.String(),  # ISO 3166-1 alpha-2, the first two letters of the LOCODE
    "country_name": pl.String(),  # English name as in the source (``South_korea`` -> South Korea)
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "terminal": pl.Boolean(),  # searoute's "t" flag: a main (terminal) port; null if unknown
}

#: Neighbours asked of the k-d tree at once by :func:`ports_within` before falling back to a
#: ball search for the rare points with more ports than this in reach.
_WITHIN_K = 16


_LOWER_WORDS = frozenset({"and", "of", "the", "da", "de", "del", "du", "la"})


def _country_name(raw: object) -> str | None:
    """searoute spells countries like ``South_korea``; make that ``South Korea``."""
    words = str(raw or "").replace("_", " ").split()
    if not words:
        return None
    return " ".join(
        w if i and w.lower() in _LOWER_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


@cache
def _ports() -> pl.DataFrame:
    ref = resources.files("seasight") / "data" / "geo" / "ports.geojson"
    data = json.loads(ref.read_text(encoding="utf-8"))
    rows: dict[str, list[object]] = {name: [] for name in PORT_COLUMNS}
    for i, feature in enumerate(data["features"]):
        props = feature.get("properties") or {}
        geom = feature.get("geometry") or {}
        if geom.get("type") != "Point":
            raise ValueError(f"ports.geojson feature {i} is not a Point")
        lon, lat = geom["coordinates"][:2]
        locode = str(props.get("port") or "")
        terminal = props.get("t")
        rows["locode"].append(locode)
        rows["name"].append(props.get("name"))
        rows["country"].append(locode[:2] or None)
        rows["country_name"].append(_country_name(props.get("cty")))
        rows["lat"].append(float(lat))
        rows["lon"].append(float(lon))
        rows["terminal"].append(None if terminal is None else bool(terminal))
    layer = pl.DataFrame(rows, schema=PORT_COLUMNS)
    return pl.concat([layer, _supplement()])


def _supplement() -> pl.DataFrame:
    """Ports missing from searoute's layer (``ports_supplement.csv``, from UN/LOCODE)."""
    ref = resources.files("seasight") / "data" / "geo" / "ports_supplement.csv"
    extra = pl.read_csv(ref.read_bytes(), schema_overrides={"lat": pl.Float64,
                                                             "lon": pl.Float64})
    return extra.with_columns(pl.lit(None, pl.Boolean).alias("terminal")).select(
        [pl.col(c).cast(t) for c, t in PORT_COLUMNS.items()])


def load_ports() -> pl.DataFrame:
    """The world port layer: one row per port point, columns :data:`PORT_COLUMNS`.

    Read once per process; the frame's row order is the index space of :func:`nearest_port`
    and :func:`ports_within`.
    """
    return _ports()


@cache
def _port_tree() -> cKDTree:
    ports = _ports()
    return cKDTree(unit_vectors(ports["lat"].to_numpy(), ports["lon"].to_numpy()))


def _points(lat: ArrayLike, lon: ArrayLike) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    la, lo = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, np.float64))
    return la.ravel(), lo.ravel(), la.shape


def _valid(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
    return np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90.0)


def nearest_port(lat: ArrayLike, lon: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Nearest port to each position: ``(row index into load_ports(), distance in km)``.

    Broadcasts ``lat`` and ``lon``; both results have their broadcast shape. Invalid positions
    (NaN, latitude beyond 90) get index -1 and distance NaN.
    """
    la, lo, shape = _points(lat, lon)
    ok = _valid(la, lo)
    index = np.full(la.shape, -1, dtype=np.int64)
    dist = np.full(la.shape, np.nan)
    if ok.any():
        chord, idx = _port_tree().query(unit_vectors(la[ok], lo[ok]), k=1)
        index[ok] = idx
        dist[ok] = chord_to_km(chord)
    return index.reshape(shape), dist.reshape(shape)


def ports_within(
    lat: ArrayLike, lon: ArrayLike, radius_km: float = PORT_RADIUS_KM
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (position, port) pair closer than ``radius_km``, as three flat arrays.

    Returns ``(point, port, distance_km)``: ``point`` indexes the flattened broadcast of
    ``lat``/``lon``, ``port`` indexes :func:`load_ports`; sorted by point, then by distance.
    A position with no port in reach has no row; invalid positions have none either. For just
    "is it in port, and which one", :func:`nearest_port` with ``distance <= radius_km`` is
    simpler and faster.
    """
    if not radius_km >= 0:
        raise ValueError(f"radius_km must be >= 0, got {radius_km}")
    la, lo, _ = _points(lat, lon)
    ok_idx = np.flatnonzero(_valid(la, lo))
    empty = np.empty(0, np.int64)
    if ok_idx.size == 0:
        return empty, empty.copy(), np.empty(0)
    tree = _port_tree()
    xyz = unit_vectors(la[ok_idx], lo[ok_idx])
    r = float(km_to_chord(radius_km))
    k = min(_WITHIN_K, tree.n)
    chord, idx = tree.query(xyz, k=k, distance_upper_bound=r)
    chord = chord.reshape(len(ok_idx), k)
    idx = idx.reshape(len(ok_idx), k)
    hit = np.isfinite(chord)
    points = [np.repeat(ok_idx, hit.sum(axis=1))]
    ports = [idx[hit]]
    chords = [chord[hit]]
    full = np.flatnonzero(hit[:, -1]) if k < tree.n else np.empty(0, np.int64)
    if full.size:
        # more ports in reach than k: replace those rows by a complete ball search
        keep = ~np.isin(points[0], ok_idx[full])
        points, ports, chords = [points[0][keep]], [ports[0][keep]], [chords[0][keep]]
        for row in full:
            found = np.asarray(tree.query_ball_point(xyz[row], r), dtype=np.int64)
            points.append(np.full(found.size, ok_idx[row], dtype=np.int64))
            ports.append(found)
            chords.append(np.linalg.norm(tree.data[found] - xyz[row], axis=1))
    p = np.concatenate(points).astype(np.int64)
    q = np.concatenate(ports).astype(np.int64)
    c = np.concatenate(chords)
    order = np.lexsort((c, p))
    return p[order], q[order], chord_to_km(c[order])
