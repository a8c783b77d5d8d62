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
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

#: GeoJSON geometry types a zone can have.
ZONE_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")

#: Property keys looked up, in order, for a zone's name.
NAME_KEYS = ("name", "NAME", "id")


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


def _zone_geometry(geom: object, where: str) -> BaseGeometry:
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
    if not shape.is_valid:
        repaired = shapely.make_valid(shape)
        parts = [p for p in shapely.get_parts(repaired) if p.geom_type in ZONE_GEOMETRY_TYPES]
        shape = shapely.union_all(parts) if parts else None
        if shape is None or shape.is_empty or shape.area == 0:
            raise ValueError(f"{where}: invalid {geom['type']} with no area left after repair")
    if shape.area == 0:
        raise ValueError(f"{where}: {geom['type']} has no area")
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


def zones_from_geojson(obj: object, source: str = "zones") -> list[Zone]:
    """Zones from a parsed GeoJSON object; ``source`` names it in errors and default names."""
    zones = []
    for i, feature in enumerate(_feature_list(obj, source), start=1):
        where = f"{source}: feature {i}"
        props = feature.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, dict):
            raise ValueError(f"{where}: 'properties' must be an object or null")
        if "geometry" not in feature:
            raise ValueError(f"{where}: feature has no geometry")
        geometry = _zone_geometry(feature["geometry"], where)
        zones.append(Zone(_zone_name(feature, props, f"{source}-{i}"), geometry, dict(props)))
    return zones


def _check_unique(zones: list[Zone]) -> None:
    dup = sorted(name for name, n in Counter(z.name for z in zones).items() if n > 1)
    if dup:
        raise ValueError(f"zone names must be unique; repeated: {', '.join(dup)}")


def load_zones(paths: str | Path | Iterable[str | Path]) -> list[Zone]:
    """Zones from one or more GeoJSON files, in file order then feature order.

    Raises ``ValueError`` naming the file (and feature) for anything that is not a usable area,
    and for names repeated across the files; ``FileNotFoundError`` for a missing file.
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
        zones.extend(zones_from_geojson(obj, source=path.stem))
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
