"""Export writers: GeoJSON, CSV, KML, Parquet for events, tracks and positions."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from seasight.model.schema import UTC_US
from seasight.sharing.exports import ExportError, export_frame, tracks

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture
def positions() -> pl.DataFrame:
    return pl.DataFrame({
        "mmsi": [2, 1, 1, 1, 3],
        "ts": [T0, T0 + timedelta(minutes=2), T0, T0 + timedelta(minutes=1), T0],
        "lat": [10.0, 1.2, 1.0, 1.1, None],
        "lon": [20.0, 3.2, 3.0, 3.1, 5.0],
        "origin": ["navy", "local", "local", "local", "local"],
    }, schema_overrides={"mmsi": pl.UInt32, "ts": UTC_US})


@pytest.fixture
def events() -> pl.DataFrame:
    return pl.DataFrame({
        "event_id": ["e1", "e2"], "kind": ["encounter", "gap"], "mmsi": [1, 2],
        "other_mmsi": [2, None], "start": [T0, T0], "end": [T0 + timedelta(hours=1), None],
        "lat": [1.5, None], "lon": [3.5, None],
        "evidence": ['{"note": "<b>&\'\\"</b>"}', "ctrl\x01char"],
        "origins": [["local", "navy"], ["local"]],
    }, schema_overrides={"mmsi": pl.UInt32, "other_mmsi": pl.UInt32, "start": UTC_US,
                         "end": UTC_US})


def test_tracks_are_ordered_lines_per_vessel(positions: pl.DataFrame) -> None:
    t = tracks(positions)
    assert t["mmsi"].to_list() == [1, 2]  # mmsi 3 has no located report
    assert t.filter(pl.col("mmsi") == 1)["lat"].to_list() == [[1.0, 1.1, 1.2]]
    doc = json.loads(export_frame(positions, "tracks", "geojson"))
    geoms = {f["properties"]["mmsi"]: f["geometry"] for f in doc["features"]}
    assert geoms[1] == {"type": "LineString", "coordinates": [[3.0, 1.0], [3.1, 1.1],
                                                                [3.2, 1.2]]}
    assert geoms[2]["type"] == "Point"
    assert doc["features"][0]["properties"]["n_points"] == 3


def test_geojson_points(positions: pl.DataFrame, events: pl.DataFrame) -> None:
    doc = json.loads(export_frame(positions, "positions", "geojson"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 5
    first = doc["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [20.0, 10.0]}
    assert first["properties"]["ts"] == "2026-03-01T00:00:00Z"
    assert doc["features"][4]["geometry"] is None
    ev = json.loads(export_frame(events, "events", "geojson"))
    assert ev["features"][0]["properties"]["origins"] == ["local", "navy"]
    assert ev["features"][1]["geometry"] is None


def test_csv(positions: pl.DataFrame, events: pl.DataFrame) -> None:
    back = pl.read_csv(io.BytesIO(export_frame(positions, "positions", "csv")))
    assert back.height == 5 and back["ts"][0] == "2026-03-01T00:00:00Z"
    ev = pl.read_csv(io.BytesIO(export_frame(events, "events", "csv")))
    assert ev["origins"].to_list() == ["local;navy", "local"]
    tr = pl.read_csv(io.BytesIO(export_frame(positions, "tracks", "csv")))
    assert tr["wkt"][0] == "LINESTRING (3.0 1.0, 3.1 1.1, 3.2 1.2)"
    assert tr["wkt"][1] == "POINT (20.0 10.0)"


def test_kml_is_valid_escaped_xml(positions: pl.DataFrame, events: pl.DataFrame) -> None:
    root = ET.fromstring(export_frame(events, "events", "kml"))
    marks = root.findall(f"{KML}Document/{KML}Placemark")
    assert len(marks) == 2
    values = {d.get("name"): d.findtext(f"{KML}value")
              for d in marks[0].iter(f"{KML}Data")}
    assert values["evidence"] == '{"note": "<b>&\'\\"</b>"}'  # escaped and read back
    assert marks[0].findtext(f"{KML}Point/{KML}coordinates") == "3.5,1.5"
    assert marks[1].find(f"{KML}Point") is None
    root = ET.fromstring(export_frame(positions, "tracks", "kml"))
    line = root.find(f"{KML}Document/{KML}Placemark/{KML}LineString/{KML}coordinates")
    assert line is not None and line.text == "3.0,1.0 3.1,1.1 3.2,1.2"
    root = ET.fromstring(export_frame(positions, "positions", "kml"))
    assert len(root.findall(f"{KML}Document/{KML}Placemark")) == 5


def test_parquet_round_trip(positions: pl.DataFrame, events: pl.DataFrame) -> None:
    assert pl.read_parquet(io.BytesIO(export_frame(positions, "positions", "parquet"))
                           ).equals(positions)
    assert pl.read_parquet(io.BytesIO(export_frame(events, "events", "parquet"))
                           ).equals(events)
    tr = pl.read_parquet(io.BytesIO(export_frame(positions, "tracks", "parquet")))
    assert tr["n_points"].to_list() == [3, 1]


def test_empty_frames_and_errors(positions: pl.DataFrame) -> None:
    empty = positions.clear()
    for fmt in ("geojson", "csv", "kml", "parquet"):
        for kind in ("positions", "tracks"):
            assert export_frame(empty, kind, fmt)
    with pytest.raises(ExportError, match="format"):
        export_frame(positions, "positions", "shp")
    with pytest.raises(ExportError, match="kind"):
        export_frame(positions, "vessels", "csv")
    with pytest.raises(ExportError, match="lat"):
        export_frame(positions.drop("lat"), "tracks", "csv")
