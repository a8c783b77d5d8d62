"""Land and sea: is a position on land, and how far is it from the shore.

Two reference layers, each loaded lazily on first use and cached for the life of the process:

- :func:`on_land` reads the 1 km (30 arc-second) land/sea grid shipped in the PyPI package
  ``global-land-mask`` (derived from NOAA's GLOBE elevation data; MIT licence). The grid is
  21,600 x 43,200 cells, 933 MB as a boolean array; SeaSight decompresses it once, in blocks,
  and keeps only the cell indices where ocean and land alternate (row-major order, about 0.8
  million ``uint32``, 3 MB). A cell's value is then the parity of the number of alternations up
  to it, one ``numpy.searchsorted`` per point: 2 to 4 million points per second per core. The
  first call costs about 3 s (the decompression) and 50 MB of transient memory.

  A 1 km grid misclassifies positions within about a kilometre of the coast (quays, narrow
  harbours and rivers, small islets): ports themselves are often "on land" in it. Use it to
  flag positions far inland (spoofing, bad fixes), not to decide which side of a quay a ship is.

  The grid counts inland water as land: lakes, rivers and estuaries upstream of the coast (the
  Great Lakes, the St Lawrence above Quebec, river ports). SeaSight corrects it with the water
  where ships are known to be (:func:`inland_water`, :func:`anchorage_water_cells`):

  * the Natural Earth 1:50 m lakes (405 lakes and reservoirs: the Great Lakes, Ladoga, Vänern,
    the IJsselmeer...) and the holes of its land polygons (the Caspian Sea);
  * Global Fishing Watch's named anchorage cells (:mod:`seasight.geo.anchorages`), places
    where ships are seen stopped, river and estuary ports included: every grid cell within
    :data:`ANCHORAGE_WATER_KM` of an anchorage's position is water.

  Rivers with no anchorage on them (and narrow channels) remain land in the grid.

- :func:`distance_to_shore_km` measures the great-circle distance to the nearest point of the
  Natural Earth 1:50 m land polygons' boundaries (coastlines, islands, and the shores of the
  Caspian Sea, the layer's one hole) and of its 1:50 m lakes (so a ship on Lake Superior is
  near the lake's shore, not hundreds of km from the sea). The boundaries are sampled every
  :data:`SHORE_SAMPLE_KM` or closer and put in a k-d tree of 3-D unit vectors (no trouble at
  the antimeridian or the poles); the nearest sample is at most half a sample spacing farther
  than the true nearest boundary point. The map's own generalisation at 1:50 m is of the same
  order (a few hundred metres to a couple of km), so the result is good to about 1-2 km near
  the coast and far better than that as a fraction of the distance away from it. Building the
  index takes well under a second; queries run at 200,000 to 900,000 points per second
  (fastest near coasts).

  Points that :func:`on_land` puts on land are at distance 0, so both functions agree on what is
  land. The artificial edges where Natural Earth cuts polygons at the antimeridian or closes
  Antarctica along the pole are not shoreline and are left out.

Latitudes and longitudes are WGS 84 degrees; longitudes outside ``[-180, 180)`` are wrapped.
Positions with NaN or latitudes outside ``[-90, 90]`` are not on land, and their distance to
shore is NaN.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from seasight.geo.distance import chord_to_km, haversine_km, unit_vectors

#: Largest spacing, in km, between consecutive shoreline samples in the distance-to-shore index.
#: The index overestimates a distance by at most half of it (for points right at the coast).
SHORE_SAMPLE_KM = 2.0

#: A land-grid cell within this distance (km) of a GFW anchorage cell's position is water.
ANCHORAGE_WATER_KM = 0.35

#: Distance to shore (km) given at most to water that is water only because of an anchorage:
#: about one cell of the 1 km grid, whose land is next to it.
HARBOUR_SHORE_KM = 1.0

#: Threads used by the k-d tree query (-1: all cores).
QUERY_WORKERS = -1

_MASK_PACKAGE = "global_land_mask"
_MASK_FILE = "globe_combined_mask_compressed.npz"
#: Rows of the land grid decompressed at a time (256 rows = 11 MB).
_MASK_BLOCK_ROWS = 256


@dataclass(frozen=True)
class _LandGrid:
    """The ocean grid as the sorted flat indices where its value changes."""

    changes: np.ndarray  # uint32, sorted; the value before the first index is "not ocean"
    n_rows: int
    n_cols: int
    lat0: float  # latitude of row 0 (90)
    dlat: float  # step between rows (negative)
    lat_min: float
    lat_max: float
    lon0: float  # longitude of column 0 (-180)
    dlon: float
    lon_min: float
    lon_max: float


def _mask_path() -> Path:
    """The grid file inside global-land-mask, found without importing the package.

    Importing ``global_land_mask`` loads the whole 933 MB array at once; SeaSight reads the file
    itself, block by block.
    """
    spec = importlib.util.find_spec(_MASK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "seasight.geo.land needs the 'global-land-mask' package (pip install global-land-mask)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _MASK_FILE
    if not path.is_file():
        raise FileNotFoundError(f"land grid missing from global-land-mask: {path}")
    return path


def _read_npy_header(fh: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


@cache
def _land_grid() -> _LandGrid:
    path = _mask_path()
    with np.load(path) as npz:
        lat = np.asarray(npz["lat"], dtype=np.float64)
        lon = np.asarray(npz["lon"], dtype=np.float64)
    parts: list[np.ndarray] = []
    with zipfile.ZipFile(path) as zf, zf.open("mask.npy") as fh:
        shape, fortran, dtype = _read_npy_header(fh)
        if len(shape) != 2 or fortran or dtype.itemsize != 1:
            raise ValueError(f"unexpected land grid layout in {path}: {shape}, {dtype}")
        n_rows, n_cols = int(shape[0]), int(shape[1])
        if n_rows * n_cols >= 2**32:
            raise ValueError(f"land grid too large for 32-bit indices: {shape}")
        block = _MASK_BLOCK_ROWS * n_cols
        prev = 0
        offset = 0
        while True:
            buf = fh.read(block)
            if not buf:
                break
            a = np.frombuffer(buf, dtype=np.uint8)
            if a[0] != prev:
                parts.append(np.array([offset], dtype=np.uint32))
            idx = np.flatnonzero(a[1:] != a[:-1]) + 1
            parts.append((idx + offset).astype(np.uint32))
            prev = int(a[-1])
            offset += a.size
        if offset != n_rows * n_cols:
            raise ValueError(f"land grid truncated: {offset} of {n_rows * n_cols} cells")
    return _LandGrid(
        changes=np.concatenate(parts),
        n_rows=n_rows,
        n_cols=n_cols,
        lat0=float(lat[0]),
        dlat=float(lat[1] - lat[0]),
        lat_min=float(lat.min()),
        lat_max=float(lat.max()),
        lon0=float(lon[0]),
        dlon=float(lon[1] - lon[0]),
        lon_min=float(lon.min()),
        lon_max=float(lon.max()),
    )


def _wrap_lon(lon: np.ndarray) -> np.ndarray:
    return np.where((lon >= -180.0) & (lon < 180.0), lon, (lon + 180.0) % 360.0 - 180.0)


def on_land(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """True where a position falls in a land cell of the 1 km global land grid.

    Broadcasts ``lat`` and ``lon``; returns a bool array of their broadcast shape. For
    longitudes in ``[-180, 180)`` the answer is exactly ``global_land_mask.globe.is_land``'s
    (checked on 2 million random positions and on cell edges) except on the inland water of
    :func:`inland_water` and :func:`anchorage_water_cells` (lakes, the Caspian Sea, anchorages),
    which is water here; other longitudes are wrapped into that range first (``globe`` refuses
    them, and puts 180 in the last column, not the first).
    """
    la, lo = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, np.float64))
    out, _ = _land_and_harbour_water(la.ravel(), lo.ravel())
    return out.reshape(la.shape)


def _land_and_harbour_water(la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(on land, water only because of an anchorage) for flat arrays of positions."""
    lo = _wrap_lon(lo)
    ok = np.isfinite(la) & np.isfinite(lo) & (la >= -90.0) & (la <= 90.0)
    out = np.zeros(la.shape, dtype=bool)
    harbour = np.zeros(la.shape, dtype=bool)
    if ok.any():
        g = _land_grid()
        cell = _grid_cells(g, la[ok], lo[ok])
        # the grid marks ocean cells; an even number of changes up to a cell means "not ocean"
        land = (np.searchsorted(g.changes, cell, side="right") & 1) == 0
        water_cells = anchorage_water_cells()
        if water_cells.size:
            pos = np.minimum(np.searchsorted(water_cells, cell), water_cells.size - 1)
            at_anchorage = land & (water_cells[pos] == cell)
            harbour[ok] = at_anchorage
            land &= ~at_anchorage
        out[ok] = land
        cand = np.flatnonzero(out)
        if cand.size:
            # only positions inside some lake's bounding box are tested exactly
            boxes = _inland_water_boxes()
            row = np.floor((la[cand] + 90.0) / _BOX_DEG).astype(np.int64)
            col = np.floor((lo[cand] + 180.0) / _BOX_DEG).astype(np.int64) % boxes.shape[1]
            cand = cand[boxes[np.clip(row, 0, boxes.shape[0] - 1), col]]
        if cand.size:
            pairs = inland_water().query(shapely.points(lo[cand], la[cand]), predicate="within")
            out[cand[np.unique(pairs[0])]] = False
    return out, harbour


#: Cell size (degrees) of the bitmap of inland-water bounding boxes.
_BOX_DEG = 0.1


@cache
def _inland_water_boxes() -> np.ndarray:
    """(rows, cols) bitmap of the cells touched by the bounding box of an inland-water polygon:
    positions elsewhere cannot be in one."""
    n_rows, n_cols = round(180 / _BOX_DEG) + 1, round(360 / _BOX_DEG)
    boxes = np.zeros((n_rows, n_cols), dtype=bool)
    tree = inland_water()
    for min_lon, min_lat, max_lon, max_lat in shapely.bounds(tree.geometries):
        r0, r1 = (int(np.floor((v + 90.0) / _BOX_DEG)) for v in (min_lat, max_lat))
        c0, c1 = (int(np.floor((v + 180.0) / _BOX_DEG)) for v in (min_lon, max_lon))
        boxes[max(r0, 0):min(r1, n_rows - 1) + 1, max(c0, 0):min(c1, n_cols - 1) + 1] = True
    return boxes


def _grid_cells(g: _LandGrid, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Flat indices (uint32) of the grid cells holding valid, wrapped positions."""
    row = ((np.clip(lat, g.lat_min, g.lat_max) - g.lat0) / g.dlat).astype(np.int64)
    col = ((np.clip(lon, g.lon_min, g.lon_max) - g.lon0) / g.dlon).astype(np.int64)
    np.clip(row, 0, g.n_rows - 1, out=row)
    np.clip(col, 0, g.n_cols - 1, out=col)
    return (row * g.n_cols + col).astype(np.uint32)


@cache
def inland_water() -> shapely.STRtree:
    """Water the land grid counts as land, as an STR tree of polygons: the Natural Earth
    1:50 m lakes (with their islands as holes) and the holes of its land polygons (the
    Caspian Sea)."""
    polygons = [
        shapely.Polygon(np.asarray(polygon[0], np.float64)[:, :2],
                        [np.asarray(r, np.float64)[:, :2] for r in polygon[1:]])
        for polygon in _lake_polygons()
    ]
    for polygon in _land_polygons(_land_geojson()):
        polygons.extend(shapely.Polygon(np.asarray(ring, dtype=np.float64)[:, :2])
                        for ring in polygon[1:])
    return shapely.STRtree(polygons)


@cache
def anchorage_water_cells() -> np.ndarray:
    """Sorted flat indices of the land-grid cells that hold water because a GFW anchorage is
    within about :data:`ANCHORAGE_WATER_KM` (its position and four points that far north,
    south, east and west of it, roughly the anchorage's S2 cell)."""
    from seasight.geo.anchorages import load_anchorages

    anchorages = load_anchorages()
    lat = anchorages["lat"].to_numpy().astype(np.float64)
    lon = anchorages["lon"].to_numpy().astype(np.float64)
    dlat = ANCHORAGE_WATER_KM / 111.2
    dlon = dlat / np.maximum(np.cos(np.radians(lat)), 1e-3)
    g = _land_grid()
    cells = [_grid_cells(g, np.clip(lat + a * dlat, -90, 90), _wrap_lon(lon + b * dlon))
             for a, b in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))]
    return np.unique(np.concatenate(cells))


def _land_geojson() -> dict[str, Any]:
    ref = resources.files("seasight") / "data" / "geo" / "ne_50m_land.json"
    return json.loads(ref.read_text(encoding="utf-8"))


@cache
def _lake_polygons() -> tuple[list[Any], ...]:
    """The Natural Earth 1:50 m lakes (GeoJSON coordinate lists: outer ring, then islands)."""
    ref = resources.files("seasight") / "data" / "geo" / "ne_50m_lakes.json"
    return tuple(_land_polygons(json.loads(ref.read_text(encoding="utf-8"))))


def _land_polygons(data: dict[str, Any]) -> list[list[Any]]:
    """The polygons (GeoJSON coordinate lists: outer ring, then holes) of the land layer."""
    features = data.get("features")
    if not isinstance(features, list):
        raise ValueError("land layer is not a GeoJSON FeatureCollection")
    polygons: list[list[Any]] = []
    for feature in features:
        geom = feature["geometry"]
        if geom["type"] == "Polygon":
            polygons.append(geom["coordinates"])
        elif geom["type"] == "MultiPolygon":
            polygons.extend(geom["coordinates"])
        else:
            raise ValueError(f"land layer has a {geom['type']} geometry")
    return polygons


def _land_rings(data: dict[str, Any]) -> list[np.ndarray]:
    """Every ring (outer and holes) of the land layer, as (n, 2) lon/lat arrays."""
    return [
        np.asarray(ring, dtype=np.float64)[:, :2]
        for polygon in _land_polygons(data)
        for ring in polygon
    ]


def shoreline_samples(sample_km: float = SHORE_SAMPLE_KM) -> tuple[np.ndarray, np.ndarray]:
    """Points along the Natural Earth 1:50 m shorelines (sea and lakes), at most ``sample_km``
    apart.

    Returns ``(lat, lon)`` arrays in degrees. Segments are interpolated linearly in latitude
    and longitude (the polygons' own edges are straight in those coordinates); the artificial
    cut lines along the antimeridian and the pole are dropped.
    """
    if not sample_km > 0:
        raise ValueError(f"sample_km must be positive, got {sample_km}")
    rings = _land_rings(_land_geojson()) + [
        np.asarray(ring, dtype=np.float64)[:, :2] for polygon in _lake_polygons()
        for ring in polygon]
    coords = np.concatenate(rings)
    ring = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    lon, lat = coords[:, 0], coords[:, 1]
    lat_a, lon_a, lat_b, lon_b = lat[:-1], lon[:-1], lat[1:], lon[1:]
    same_ring = ring[1:] == ring[:-1]
    cut = ((np.abs(lon_a) == 180.0) & (lon_a == lon_b)) | ((lat_a <= -89.99) & (lat_b <= -89.99))
    kept = np.flatnonzero(same_ring & ~cut)
    # a segment's end point is the next kept segment's start, except where a run of kept
    # segments ends (end of a ring, or a dropped cut line follows)
    run_end = np.append(kept[1:] != kept[:-1] + 1, True)
    lat_a, lon_a, lat_b, lon_b = lat_a[kept], lon_a[kept], lat_b[kept], lon_b[kept]
    length = haversine_km(lat_a, lon_a, lat_b, lon_b)
    n = np.maximum(1, np.ceil(length / sample_km)).astype(np.int64)
    seg = np.repeat(np.arange(n.size), n)
    first = np.repeat(np.cumsum(n) - n, n)
    frac = (np.arange(seg.size) - first) / n[seg]
    s_lat = lat_a[seg] + frac * (lat_b[seg] - lat_a[seg])
    s_lon = lon_a[seg] + frac * (lon_b[seg] - lon_a[seg])
    s_lat = np.concatenate([s_lat, lat_b[run_end]])
    s_lon = np.concatenate([s_lon, lon_b[run_end]])
    return s_lat, s_lon


@cache
def _shore_tree() -> cKDTree:
    s_lat, s_lon = shoreline_samples(SHORE_SAMPLE_KM)
    return cKDTree(unit_vectors(s_lat, s_lon), balanced_tree=False, compact_nodes=False)


def shoreline_distance_km(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Great-circle distance in km to the nearest Natural Earth 1:50 m shoreline, land or sea.

    Unlike :func:`distance_to_shore_km` it is not 0 on land: on land it says how far inland a
    position is. NaN for invalid positions. Broadcasts ``lat`` and ``lon``.
    """
    la, lo = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, np.float64))
    shape = la.shape
    la = la.ravel()
    lo = lo.ravel()
    ok = np.isfinite(la) & np.isfinite(lo) & (la >= -90.0) & (la <= 90.0)
    out = np.full(la.shape, np.nan)
    if ok.any():
        chord, _ = _shore_tree().query(unit_vectors(la[ok], lo[ok]), k=1, workers=QUERY_WORKERS)
        out[ok] = chord_to_km(chord)
    return out.reshape(shape)


def distance_to_shore_km(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Great-circle distance in km to the nearest Natural Earth 1:50 m shoreline (sea or lake).

    0 for positions :func:`on_land` puts on land, NaN for invalid positions. Water that is
    water only because of an anchorage (a river or harbour basin the 1 km grid calls land) is
    at most :data:`HARBOUR_SHORE_KM` from the shore: the grid's land is that close, whatever
    the distance to the coastline (a river port 300 km up the Yangtze is not open sea).
    Broadcasts ``lat`` and ``lon``; returns a float64 array of their broadcast shape.
    """
    la, lo = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, np.float64))
    shape = la.shape
    la = la.ravel()
    lo = lo.ravel()
    out = np.zeros(la.shape)
    land, harbour = _land_and_harbour_water(la, lo)
    out[~land] = shoreline_distance_km(la[~land], lo[~land])
    out[harbour] = np.minimum(out[harbour], HARBOUR_SHORE_KM)
    return out.reshape(shape)
