"""Events as the records other tools read: JSON objects, GeoJSON features and CSV rows.

The JSON record is the command-line contract of ``seasight events --json``: ``kind``, ``start``
and ``end`` (ISO 8601 UTC), ``mmsi`` (a list: one vessel, or both vessels of an encounter),
``lat``, ``lon``, ``zone`` (zone and port events), ``score``, ``is_open``, ``evidence`` (an
object), ``event_id`` and ``detector``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import polars as pl

from seasight.model.csv_cells import safe_cell

__all__ = ["event_records", "events_csv", "events_geojson"]


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_records(events: pl.DataFrame) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per event (EVENTS schema), in the frame's order."""
    for row in events.iter_rows(named=True):
        vessels = [row["mmsi"]] + ([row["other_mmsi"]] if row["other_mmsi"] is not None else [])
        score = row["score"]
        yield {
            "event_id": row["event_id"],
            "kind": row["kind"],
            "start": _iso(row["start"]),
            "end": _iso(row["end"]),
            "mmsi": vessels,
            "lat": row["lat"],
            "lon": row["lon"],
            "zone": row["zone"],
            "score": None if score is None else round(float(score), 3),
            "is_open": row["is_open"],
            "evidence": json.loads(row["evidence"]) if row["evidence"] else {},
            "detector": row["detector"],
        }


def events_geojson(events: pl.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with one Point feature per event (at its ``lat``/``lon``);
    events without a position have a null geometry."""
    features = []
    for rec in event_records(events):
        lat, lon = rec["lat"], rec["lon"]
        geometry = None if lat is None or lon is None else {
            "type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "id": rec["event_id"], "geometry": geometry,
                         "properties": rec})
    return {"type": "FeatureCollection", "features": features}


_CSV_COLUMNS = ("event_id", "kind", "start", "end", "mmsi", "other_mmsi", "lat", "lon", "zone",
                "score", "is_open", "detector", "evidence")


def events_csv(events: pl.DataFrame) -> str:
    """Events as CSV text: one row each, vessels in ``mmsi``/``other_mmsi``, evidence as JSON.

    Rows end with CRLF (RFC 4180), so that a carriage return inside a text is quoted too (with
    bare newlines as row ends, Python's writer leaves it bare, and a spreadsheet would start a
    new row there); text cells pass :func:`seasight.model.csv_cells.safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for rec in event_records(events):
        vessels = rec["mmsi"]
        row = [
            rec["event_id"], rec["kind"], rec["start"], rec["end"], vessels[0],
            vessels[1] if len(vessels) > 1 else "", rec["lat"], rec["lon"], rec["zone"] or "",
            rec["score"], rec["is_open"], rec["detector"],
            json.dumps(rec["evidence"], separators=(",", ":")),
        ]
        writer.writerow([safe_cell(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()
