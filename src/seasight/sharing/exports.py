"""Export writers: frames to GeoJSON, CSV, KML or Parquet bytes (pure, no I/O).

Kinds
    ``events``
        one point per event at ``lat``/``lon`` (events without a position get a null
        geometry in GeoJSON and no ``Point`` in KML), every other column as properties.
    ``positions``
        one point per position report.
    ``tracks``
        positions grouped by ``mmsi``, ordered by ``ts``: one ``LineString`` per vessel (a
        ``Point`` for a vessel with a single located report) with ``mmsi``, ``start``, ``end``
        and ``n_points``. CSV and Parquet give one row per vessel with the line as WKT (CSV) or
        as ``lon``/``lat``/``ts`` lists (Parquet).

Formats
    ``geojson`` (RFC 7946 FeatureCollection, times ISO 8601 UTC), ``csv`` (lists joined with
    ``;``), ``kml`` (KML 2.2, text escaped, characters XML cannot hold removed), ``parquet``.

The caller filters the frame first (:func:`seasight.sharing.permitted`): writers export what
they are given.
"""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Final

import polars as pl

from seasight.model.csv_cells import safe_text_columns

#: What can be exported, and how.
KINDS: Final = ("events", "tracks", "positions")
FORMATS: Final = ("geojson", "csv", "kml", "parquet")

#: File suffix of each format.
SUFFIX: Final = {"geojson": ".geojson", "csv": ".csv", "kml": ".kml", "parquet": ".parquet"}

_KML_NS = "http://www.opengis.net/kml/2.2"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ExportError(ValueError):
    """A frame that cannot be exported as asked (unknown kind or format, missing columns)."""


def _require(frame: pl.DataFrame, kind: str, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ExportError(f"{kind}: the frame lacks column(s) {', '.join(missing)}")


def _plain(value: Any) -> Any:
    """A JSON-friendly value: times ISO 8601, NaN as null, lists recursively."""
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _coord(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


# --------------------------------------------------------------------------- tracks


def tracks(positions: pl.DataFrame) -> pl.DataFrame:
    """One row per ``mmsi``: ``start``, ``end``, ``n_points`` and ``lon``/``lat``/``ts``
    lists in time order (reports without a position left out)."""
    _require(positions, "tracks", ("mmsi", "ts", "lat", "lon"))
    located = positions.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null()
                               & pl.col("lat").is_finite() & pl.col("lon").is_finite())
    return (located.sort("mmsi", "ts", nulls_last=True)
            .group_by("mmsi", maintain_order=True)
            .agg(pl.col("ts").min().alias("start"), pl.col("ts").max().alias("end"),
                 pl.len().alias("n_points"), pl.col("lon").cast(pl.Float64),
                 pl.col("lat").cast(pl.Float64), pl.col("ts")))


def _track_geometry(lon: list[float], lat: list[float]) -> dict[str, Any]:
    coords = [[x, y] for x, y in zip(lon, lat, strict=True)]
    if len(coords) == 1:
        return {"type": "Point", "coordinates": coords[0]}
    return {"type": "LineString", "coordinates": coords}


def _features(frame: pl.DataFrame, kind: str) -> Iterator[tuple[dict[str, Any] | None,
                                                               dict[str, Any]]]:
    """(geometry, properties) of each feature."""
    if kind == "tracks":
        for r in tracks(frame).iter_rows(named=True):
            props = {"mmsi": r["mmsi"], "start": _plain(r["start"]),
                     "end": _plain(r["end"]), "n_points": r["n_points"]}
            yield _track_geometry(r["lon"], r["lat"]), props
        return
    _require(frame, kind, ("lat", "lon"))
    for r in frame.iter_rows(named=True):
        x, y = _coord(r["lon"]), _coord(r["lat"])
        point = None if x is None or y is None else {"type": "Point", "coordinates": [x, y]}
        yield point, {k: _plain(v) for k, v in r.items() if k not in ("lat", "lon")}


# --------------------------------------------------------------------------- writers


def _geojson(frame: pl.DataFrame, kind: str) -> bytes:
    features = [{"type": "Feature", "geometry": g, "properties": p}
                for g, p in _features(frame, kind)]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":")).encode()


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns CSV can hold: lists joined with ``;``, nested values as JSON text."""
    cols = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List | pl.Array):
            cols.append(pl.col(name).cast(pl.List(pl.String)).list.join(";").alias(name))
        elif isinstance(dtype, pl.Struct | pl.Object):
            cols.append(pl.col(name).map_elements(lambda v: json.dumps(_plain(v)),
                                                  return_dtype=pl.String).alias(name))
        else:
            cols.append(pl.col(name))
    return frame.select(cols)


def _csv(frame: pl.DataFrame, kind: str) -> bytes:
    if kind == "tracks":
        t = tracks(frame)
        wkt = [(f"POINT ({lo[0]} {la[0]})" if len(lo) == 1 else
                "LINESTRING ({})".format(", ".join(f"{x} {y}" for x, y in
                                                   zip(lo, la, strict=True))))
               for lo, la in zip(t["lon"].to_list(), t["lat"].to_list(), strict=True)]
        frame = t.select("mmsi", "start", "end", "n_points").with_columns(
            pl.Series("wkt", wkt, pl.String))
    buf = io.BytesIO()
    safe_text_columns(_flat(frame)).write_csv(buf, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
    return buf.getvalue()


def _parquet(frame: pl.DataFrame, kind: str) -> bytes:
    buf = io.BytesIO()
    (tracks(frame) if kind == "tracks" else frame).write_parquet(buf)
    return buf.getvalue()


def _text(value: Any) -> str:
    v = _plain(value)
    text = v if isinstance(v, str) else json.dumps(v)
    return _XML_BAD.sub("", text)


def _kml(frame: pl.DataFrame, kind: str) -> bytes:
    ET.register_namespace("", _KML_NS)
    root = ET.Element(f"{{{_KML_NS}}}kml")
    doc = ET.SubElement(root, f"{{{_KML_NS}}}Document")
    ET.SubElement(doc, f"{{{_KML_NS}}}name").text = f"SeaSight {kind}"
    for geom, props in _features(frame, kind):
        pm = ET.SubElement(doc, f"{{{_KML_NS}}}Placemark")
        label = props.get("event_id") or props.get("mmsi")
        title = f"{props.get('kind', '')} {label}".strip() if kind == "events" else str(label)
        ET.SubElement(pm, f"{{{_KML_NS}}}name").text = _text(title)
        when = props.get("ts") or props.get("start")
        if kind == "tracks" or (kind == "events" and props.get("start")):
            span = ET.SubElement(pm, f"{{{_KML_NS}}}TimeSpan")
            if props.get("start"):
                ET.SubElement(span, f"{{{_KML_NS}}}begin").text = _text(props["start"])
            if props.get("end"):
                ET.SubElement(span, f"{{{_KML_NS}}}end").text = _text(props["end"])
        elif when:
            stamp = ET.SubElement(pm, f"{{{_KML_NS}}}TimeStamp")
            ET.SubElement(stamp, f"{{{_KML_NS}}}when").text = _text(when)
        ext = ET.SubElement(pm, f"{{{_KML_NS}}}ExtendedData")
        for k, v in props.items():
            if v is None:
                continue
            data = ET.SubElement(ext, f"{{{_KML_NS}}}Data", name=_text(k))
            ET.SubElement(data, f"{{{_KML_NS}}}value").text = _text(v)
        if geom is None:
            continue
        if geom["type"] == "Point":
            pt = ET.SubElement(pm, f"{{{_KML_NS}}}Point")
            x, y = geom["coordinates"]
            ET.SubElement(pt, f"{{{_KML_NS}}}coordinates").text = f"{x},{y}"
        else:
            line = ET.SubElement(pm, f"{{{_KML_NS}}}LineString")
            ET.SubElement(line, f"{{{_KML_NS}}}tessellate").text = "1"
            ET.SubElement(line, f"{{{_KML_NS}}}coordinates").text = " ".join(
                f"{x},{y}" for x, y in geom["coordinates"])
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


_WRITERS = {"geojson": _geojson, "csv": _csv, "kml": _kml, "parquet": _parquet}


def export_frame(frame: pl.DataFrame, kind: str, fmt: str) -> bytes:
    """``frame`` (events, or positions for ``positions`` / ``tracks``) as ``fmt`` bytes.

    Raises:
        ExportError: unknown kind or format, or a column the kind needs is missing
            (positions and tracks need ``mmsi``, ``ts``, ``lat``, ``lon``; events ``lat``,
            ``lon``).
    """
    if kind not in KINDS:
        raise ExportError(f"unknown export kind {kind!r}; choose from {', '.join(KINDS)}")
    if fmt not in _WRITERS:
        raise ExportError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if kind in ("positions", "tracks"):
        _require(frame, kind, ("mmsi", "ts", "lat", "lon"))
    else:
        _require(frame, kind, ("lat", "lon"))
    return _WRITERS[fmt](frame, kind)


__all__ = ["FORMATS", "KINDS", "SUFFIX", "ExportError", "export_frame", "tracks"]
