"""User zones: named areas (EEZs, protected areas, exercise or anchorage areas) from GeoJSON.

A zone is a polygon or multipolygon with a name and the properties it came with. Zones are read
from GeoJSON files (RFC 7946: longitude first, WGS 84 degrees) holding a FeatureCollection, a
single Feature, or a bare Polygon / MultiPolygon geometry. The name of a zone is its feature's
``name``, ``NAME`` or ``id`` property, else the feature's own ``id``, else ``<file stem>-<n>``
(n counting features from 1); names must be unique, because events refer to zones by name.

Only areas make zones. A file that is not JSON, not GeoJSON, has no features, has a feature
without a geometry, a geometry of another type (points, lines, collections), coordinates out of
range, or an empty polygon is refused with a ``ValueError`` that names the file and the feature;
nothing is skipped silently. Self-intersecting polygons (a hand-drawn "bow tie") are repaired
with ``shapely.make_valid``, keeping the polygonal part.

Size limits (:class:`ZoneLimits`) bound what one request may cost: zones per request, vertices
per zone and per request are counted on the GeoJSON before shapely parses anything, and a
request over them is refused with :class:`ZoneLimitError`. Valid polygons are only checked
(``is_valid``, n log n); the invalid ones of a request are repaired together in a separate
process with a hard time limit (:func:`seasight.geo.polygon_repair.repair_polygons`), so that a
pathological polygon costs at most that time and never blocks the caller's thread or shutdown.

Polygons are taken as drawn in longitude/latitude, edges straight in those coordinates, which is
how GeoJSON and web maps treat them. A zone that crosses the antimeridian must be split into
parts on either side of it (as RFC 7946 asks); one drawn with longitudes beyond 180 is refused.

:func:`zone_membership` tests many positions against many zones at once with shapely's
vectorised ``contains_xy`` on prepared geometries, after a bounding-box filter. Points exactly on
a zone's boundary count as outside.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

from seasight.geo.polygon_repair import REPAIR_TIMEOUT_S, RepairError, repair_polygons

#: GeoJSON geometry types a zone can have.
ZONE_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")

#: Property keys looked up, in order, for a zone's name.
NAME_KEYS = ("name", "NAME", "id")

#: Most vertices one zone may have (all rings of all its parts).
MAX_ZONE_VERTICES: Final = 100_000

#: Most zones one request (``POST /api/zones``) may hold.
MAX_ZONES_PER_REQUEST: Final = 100

#: Most vertices all zones of one request may have together.
MAX_REQUEST_VERTICES: Final = 250_000

#: Most zones one organisation may keep.
MAX_ZONES_PER_ORGANISATION: Final = 500

#: Most vertices all zones of one organisation may have together.
MAX_ORGANISATION_VERTICES: Final = 1_000_000


class ZoneLimitError(ValueError):
    """Zones over a size limit (too many, or too many vertices); nothing was parsed or stored."""


@dataclass(frozen=True)
class ZoneLimits:
    """What one batch of zones may cost; None is no limit."""

    zones: int | None = MAX_ZONES_PER_REQUEST
    vertices_per_zone: int | None = MAX_ZONE_VERTICES
    vertices: int | None = MAX_REQUEST_VERTICES
    #: seconds the repair of the batch's invalid polygons may take
    repair_timeout_s: float = REPAIR_TIMEOUT_S


#: The limits of an API request.
REQUEST_LIMITS: Final = ZoneLimits()

#: The limits of files given by the operator and of zones already stored: no size limit (the
#: operator chose them), still the repair time limit.
TRUSTED_LIMITS: Final = ZoneLimits(zones=None, vertices_per_zone=None, vertices=None)


@dataclass(frozen=True, eq=False)
class Zone:
    """A named area: a shapely Polygon or MultiPolygon in lon/lat degrees, and its properties.

    The geometry is prepared (shapely.prepare) on creation, for fast repeated point tests.
    Zones compare by identity.
    """

    name: str
    geometry: BaseGeometry
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"zone name must be a non-empty string, got {self.name!r}")
        if self.geometry.geom_type not in ZONE_GEOMETRY_TYPES:
            raise ValueError(
                f"zone {self.name!r}: geometry must be a Polygon or MultiPolygon, "
                f"got {self.geometry.geom_type}"
            )
        shapely.prepare(self.geometry)


def _feature_list(obj: object, source: str) -> list[dict[str, Any]]:
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError(f"{source}: not a GeoJSON object (expected a dict with a 'type')")
    kind = obj["type"]
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise ValueError(f"{source}: FeatureCollection without a 'features' list")
        if not features:
            raise ValueError(f"{source}: FeatureCollection has no features")
        for i, feature in enumerate(features, start=1):
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise ValueError(f"{source}: item {i} of 'features' is not a Feature")
        return features
    if kind == "Feature":
        return [obj]
    if kind in ZONE_GEOMETRY_TYPES:
        return [{"type": "Feature", "geometry": obj, "properties": {}}]
    raise ValueError(
        f"{source}: GeoJSON type {kind!r} cannot be a zone; use a FeatureCollection, a Feature, "
        f"or a Polygon / MultiPolygon geometry"
    )


def count_vertices(geom: object) -> int:
    """Positions in a GeoJSON Polygon or MultiPolygon's coordinates (closing ones included),
    counted on the parsed JSON without building a geometry; 0 for anything else."""
    if not isinstance(geom, dict):
        return 0
    coords = geom.get("coordinates")
    if not isinstance(coords, list):
        return 0
    polygons = [coords] if geom.get("type") == "Polygon" else (
        coords if geom.get("type") == "MultiPolygon" else [])
    return sum(len(ring) for polygon in polygons if isinstance(polygon, list)
               for ring in polygon if isinstance(ring, list))


def _check_sizes(features: list[dict[str, Any]], source: str, limits: ZoneLimits) -> None:
    if limits.zones is not None and len(features) > limits.zones:
        raise ZoneLimitError(f"{source}: {len(features):,} zones; at most {limits.zones:,} "
                             f"may be given at once")
    total = 0
    for i, feature in enumerate(features, start=1):
        n = count_vertices(feature.get("geometry"))
        if limits.vertices_per_zone is not None and n > limits.vertices_per_zone:
            raise ZoneLimitError(f"{source}: feature {i}: {n:,} vertices; a zone may have at "
                                 f"most {limits.vertices_per_zone:,} (simplify it)")
        total += n
    if limits.vertices is not None and total > limits.vertices:
        raise ZoneLimitError(f"{source}: {total:,} vertices in all; at most "
                             f"{limits.vertices:,} may be given at once")


def check_organisation_quota(stored: Iterable[tuple[str, int]], new: Iterable[Zone],
                             organisation: str,
                             max_zones: int | None = MAX_ZONES_PER_ORGANISATION,
                             max_vertices: int | None = MAX_ORGANISATION_VERTICES) -> None:
    """Refuse (:class:`ZoneLimitError`) ``new`` zones that would take ``organisation`` over
    ``max_zones`` zones or ``max_vertices`` vertices; ``stored`` is (name, vertices) of the
    zones it keeps now. A new zone replacing a stored one of the same name replaces its count.
    """
    kept = dict(stored)
    for zone in new:
        kept[zone.name] = vertex_count(zone.geometry)
    if max_zones is not None and len(kept) > max_zones:
        raise ZoneLimitError(f"organisation {organisation!r} would keep {len(kept):,} zones; "
                             f"at most {max_zones:,} are allowed")
    total = sum(kept.values())
    if max_vertices is not None and total > max_vertices:
        raise ZoneLimitError(f"organisation {organisation!r} would keep {total:,} zone "
                             f"vertices; at most {max_vertices:,} are allowed")


def vertex_count(geometry: BaseGeometry) -> int:
    """Vertices of a geometry (closing ones included), as :func:`count_vertices` counts."""
    return int(shapely.get_num_coordinates(geometry))


def _zone_geometry(geom: object, where: str) -> BaseGeometry:
    """The checked shapely geometry of a GeoJSON geometry; still possibly invalid (repair is
    done for a whole batch, off this thread)."""
    if geom is None:
        raise ValueError(f"{where}: feature has no geometry")
    if not isinstance(geom, dict) or geom.get("type") not in ZONE_GEOMETRY_TYPES:
        kind = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
        raise ValueError(
            f"{where}: geometry type {kind!r} is not an area; zones must be Polygon or MultiPolygon"
        )
    try:
        shape = shapely.from_geojson(json.dumps(geom))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise ValueError(f"{where}: malformed {geom['type']} coordinates ({exc})") from exc
    if shape is None or shape.is_empty:
        raise ValueError(f"{where}: empty {geom['type']}")
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    if min_lon < -180.0 or max_lon > 180.0 or min_lat < -90.0 or max_lat > 90.0:
        raise ValueError(
            f"{where}: coordinates out of range (lon {min_lon}..{max_lon}, lat {min_lat}.."
            f"{max_lat}); GeoJSON is [longitude, latitude] in degrees, and zones crossing the "
            f"antimeridian must be split at 180"
        )
    return shape


def _zone_name(feature: Mapping[str, Any], props: Mapping[str, Any], default: str) -> str:
    for key in NAME_KEYS:
        value = props.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    fid = feature.get("id")
    if fid is not None and str(fid).strip():
        return str(fid).strip()
    return default


def zones_from_geojson(obj: object, source: str = "zones",
                       limits: ZoneLimits = REQUEST_LIMITS) -> list[Zone]:
    """Zones from a parsed GeoJSON object; ``source`` names it in errors and default names.

    Raises:
        ZoneLimitError: more zones or vertices than ``limits`` allow (checked first).
        ValueError: anything that is not a usable area, including self-intersecting polygons
            whose repair takes longer than ``limits.repair_timeout_s``.
        seasight.geo.polygon_repair.RepairBusyError: no repair slot became free in that time.
    """
    features = _feature_list(obj, source)
    _check_sizes(features, source, limits)
    found = []
    for i, feature in enumerate(features, start=1):
        where = f"{source}: feature {i}"
        props = feature.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, dict):
            raise ValueError(f"{where}: 'properties' must be an object or null")
        if "geometry" not in feature:
            raise ValueError(f"{where}: feature has no geometry")
        geometry = _zone_geometry(feature["geometry"], where)
        found.append((where, feature, props, geometry))
    invalid = [k for k, (_, _, _, geometry) in enumerate(found) if not geometry.is_valid]
    try:
        repaired = repair_polygons([found[k][3] for k in invalid], limits.repair_timeout_s)
    except RepairError as exc:
        names = ", ".join(found[k][0].removeprefix(f"{source}: ") for k in invalid)
        raise ValueError(f"{source}: {names}: {exc}") from None
    for k, shape in zip(invalid, repaired, strict=True):
        where, feature, props, geometry = found[k]
        if shape is None:
            kind = feature["geometry"]["type"]
            raise ValueError(f"{where}: invalid {kind} with no area left after repair")
        found[k] = (where, feature, props, shape)
    zones = []
    for i, (where, feature, props, geometry) in enumerate(found, start=1):
        if geometry.area == 0:
            raise ValueError(f"{where}: {feature['geometry']['type']} has no area")
        zones.append(Zone(_zone_name(feature, props, f"{source}-{i}"), geometry, dict(props)))
    return zones


def _check_unique(zones: list[Zone]) -> None:
    dup = sorted(name for name, n in Counter(z.name for z in zones).items() if n > 1)
    if dup:
        raise ValueError(f"zone names must be unique; repeated: {', '.join(dup)}")


def load_zones(paths: str | Path | Iterable[str | Path],
               limits: ZoneLimits = TRUSTED_LIMITS) -> list[Zone]:
    """Zones from one or more GeoJSON files, in file order then feature order.

    Raises ``ValueError`` naming the file (and feature) for anything that is not a usable area
    (including polygons whose repair exceeds ``limits.repair_timeout_s``, or files over the
    other ``limits``), and for names repeated across the files; ``FileNotFoundError`` for a
    missing file.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    zones: list[Zone] = []
    for raw in paths:
        path = Path(raw)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text ({exc})") from exc
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        zones.extend(zones_from_geojson(obj, source=path.stem, limits=limits))
    _check_unique(zones)
    return zones


def zones_to_geojson(zones: Iterable[Zone]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the zones; ``properties.name`` holds each zone's name.

    :func:`load_zones` reads it back to the same names, geometries and properties.
    """
    features = []
    for zone in zones:
        features.append(
            {
                "type": "Feature",
                "properties": {**zone.properties, "name": zone.name},
                "geometry": json.loads(shapely.to_geojson(zone.geometry)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def zone_membership(zones: list[Zone], lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Which zones contain which positions: bool array of shape ``(n_points, n_zones)``.

    ``lat`` and ``lon`` are broadcast and flattened to ``n_points``. Positions with NaN
    coordinates are in no zone; longitudes are not wrapped (a zone lies within [-180, 180]).
    """
    la, lo = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, np.float64))
    la = la.ravel()
    lo = lo.ravel()
    out = np.zeros((la.size, len(zones)), dtype=bool)
    finite = np.isfinite(la) & np.isfinite(lo)
    for j, zone in enumerate(zones):
        min_lon, min_lat, max_lon, max_lat = zone.geometry.bounds
        cand = np.flatnonzero(
            finite & (lo >= min_lon) & (lo <= max_lon) & (la >= min_lat) & (la <= max_lat)
        )
        if cand.size:
            out[cand, j] = shapely.contains_xy(zone.geometry, lo[cand], la[cand])
    return out
