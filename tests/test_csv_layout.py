"""CSV files in layouts of the real world: recognised automatically where it is safe, described
by a layout (file, command line, Python) otherwise. Every file here is written for its test.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.analysis.detection import detect_events
from seasight.cli import app
from seasight.ingest.pipeline import ingest_paths
from seasight.model.schema import SYNTHETIC_MMSI_MAX, SYNTHETIC_MMSI_MIN, TABLES
from seasight.sources import csv_tracks, vessel_ids
from seasight.sources.csv_layout import CsvLayout, LayoutError, load_layout
from seasight.sources.csv_tracks import detect_layout, read_track_csv
from seasight.sources.vessel_ids import synthetic_mmsi
from seasight.store import Store
from seasight.tracks.identity import flags_of, invalid_mmsi, mmsi_kind

runner = CliRunner()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def one(frame: pl.DataFrame, line_no: int) -> dict:
    rows = frame.filter(pl.col("line_no") == line_no).to_dicts()
    assert len(rows) == 1, (line_no, frame)
    return rows[0]


# --- forms recognised without a layout ------------------------------------------------------------


def test_anonymised_id_column_gets_a_synthetic_mmsi_and_keeps_the_id() -> None:
    raw = csv_bytes(
        "ID,time,lat,lon,sog,name",
        "A-17,2021-03-20T00:22:00Z,57.1,11.2,3.5,",
        "b9f3c2,2021-03-20T00:23:00Z,57.2,11.3,4.0,NORDLYS",
        "A-17,2021-03-20T00:24:00Z,57.1,11.21,3.6,",
    )
    assert detect_layout(["ID", "time", "lat", "lon"]) == "generic"
    batch = read_track_csv(raw)
    assert batch.rejects.height == 0
    pos = batch.positions
    a, b = synthetic_mmsi("A-17"), synthetic_mmsi("b9f3c2")
    assert pos["mmsi"].to_list() == [a, b, a]
    assert all(SYNTHETIC_MMSI_MIN <= m <= SYNTHETIC_MMSI_MAX for m in (a, b)) and a != b
    # the id is kept: one static row per vessel at least, with the id as written
    static = batch.static
    assert static.schema == pl.Schema(TABLES["static"])
    assert dict(zip(static["mmsi"], static["vessel_id"], strict=True)) == {a: "A-17", b: "b9f3c2"}
    assert one(static, 3)["shipname"] == "NORDLYS"
    # downstream: a vessel of unknown flag, not a non-vessel, not an invalid MMSI
    assert mmsi_kind([a, b]).tolist() == ["synthetic", "synthetic"]
    assert invalid_mmsi([a, b]).tolist() == [False, False]
    assert flags_of([a, b]).to_list() == [None, None]


def test_mmsi_column_wins_over_an_id_column() -> None:
    raw = csv_bytes("id,mmsi,time,lat,lon", "1,235070762,2021-03-20T00:22:00,50.1,-1.2")
    assert read_track_csv(raw).positions["mmsi"].to_list() == [235070762]


def test_synthetic_mmsi_is_stable_and_outside_every_aisable_value() -> None:
    # pinned: the number must never change between versions (tracks join across files)
    assert synthetic_mmsi("A-17") == synthetic_mmsi(" A-17".strip())
    assert synthetic_mmsi("A-17") == 2_583_369_077
    assert SYNTHETIC_MMSI_MIN == 2**30 > 999_999_999  # above 9 digits and the 30-bit AIS field
    assert SYNTHETIC_MMSI_MAX == 2**32 - 1  # fits the UInt32 mmsi columns
    values = {synthetic_mmsi(f"vessel-{i}") for i in range(2000)}
    assert len(values) == 2000
    assert vessel_ids.is_synthetic([2**30 - 1, 2**30, 2**32 - 1]).tolist() == [False, True, True]


def test_day_first_dates_semicolons_null_markers_and_decimal_commas() -> None:
    raw = csv_bytes(
        "MMSI;Timestamp;Latitude;Longitude;SOG;COG",
        "235070762;20/03/2021 00:22;50,7730;-1,0929;NULL;157,8",
        "235070762;20/03/2021 00:23;50,7731;-1,0930;5,9;NA",
        "NULL;20/03/2021 00:24;50,7732;-1,0931;6,0;158,0",
    )
    batch = read_track_csv(raw)
    pos = batch.positions
    assert pos["ts"].to_list() == [utc(2021, 3, 20, 0, 22), utc(2021, 3, 20, 0, 23)]
    assert pos["lat"].to_list() == [50.7730, 50.7731]
    assert pos["sog"].to_list()[0] is None and pos["cog"].to_list()[1] is None
    assert math.isclose(pos["sog"][1], 5.9, rel_tol=1e-6)
    rej = one(batch.rejects, 4)
    assert (rej["reason"], rej["detail"]) == ("bad_mmsi", 'column "MMSI": MMSI missing')


def test_day_or_month_first_is_decided_by_the_file() -> None:
    # 03/04 alone could be either; 25/04 in the same file says the day comes first
    raw = csv_bytes("mmsi,time,lat,lon", "235070762,03/04/2021 10:00,50,-1",
                    "235070762,25/04/2021 10:00,50,-1")
    assert read_track_csv(raw).positions["ts"].to_list() == [utc(2021, 4, 3, 10),
                                                             utc(2021, 4, 25, 10)]
    us = csv_bytes("mmsi,time,lat,lon", "235070762,03/04/2021 10:00,50,-1",
                   "235070762,04/25/2021 10:00,50,-1")
    assert read_track_csv(us).positions["ts"].to_list() == [utc(2021, 3, 4, 10),
                                                            utc(2021, 4, 25, 10)]
    ambiguous = read_track_csv(csv_bytes("mmsi,time,lat,lon", "235070762,03/04/2021 10:00,50,-1"))
    rej = one(ambiguous.rejects, 2)
    assert rej["reason"] == "bad_timestamp"
    assert 'column "time"' in rej["detail"] and "dmy or mdy" in rej["detail"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1616199720", utc(2021, 3, 20, 0, 22)),
        ("1.61619972e9", utc(2021, 3, 20, 0, 22)),
        ("1.61619972E+09", utc(2021, 3, 20, 0, 22)),
        ("1616199720000", utc(2021, 3, 20, 0, 22)),  # milliseconds
        ("1616199720.5", utc(2021, 3, 20, 0, 22, 0, 500_000)),
    ],
)
def test_epoch_seconds_in_every_notation(text: str, expected: datetime) -> None:
    batch = read_track_csv(csv_bytes("mmsi,timestamp,lat,lon", f"235070762,{text},50,-1"))
    assert batch.positions["ts"].to_list() == [expected]


@pytest.mark.parametrize("index_header", ["", '""', "idx"])
def test_leading_index_column(index_header: str) -> None:
    lines = ["0,235070762,2021-03-20 00:22:00,50.1,-1.2",
             "1,235070762,2021-03-20 00:23:00,50.2,-1.3"]
    header = "mmsi,time,lat,lon" if index_header == "" else f"{index_header},mmsi,time,lat,lon"
    batch = read_track_csv(csv_bytes(header, *lines))
    assert batch.rejects.height == 0, batch.rejects["detail"].to_list()
    assert batch.positions["lat"].to_list() == [50.1, 50.2]
    assert batch.positions["mmsi"].to_list() == [235070762, 235070762]


def test_separator_ending_every_row() -> None:
    raw = csv_bytes("mmsi;time;lat;lon", "235070762;2021-03-20 00:22;50,1;-1,2;",
                    "235070762;2021-03-20 00:23;50,2;-1,3;")
    batch = read_track_csv(raw)
    assert batch.rejects.height == 0 and batch.positions["lat"].to_list() == [50.1, 50.2]


def test_tab_separated_with_quotes() -> None:
    raw = csv_bytes('mmsi\ttime\tlat\tlon\tname', '235070762\t2021-03-20 00:22\t50.1\t-1.2\t"A\tB"')
    batch = read_track_csv(raw)
    assert batch.positions.height == 1 and batch.rejects.height == 0


# --- layouts --------------------------------------------------------------------------------------

PARTNER = csv_bytes(
    "rowid;Zeit;Schiff;Breite;Laenge;Fahrt;Kurs;Name",
    "1;20.03.2021 01:22;X1;54,5;10,25;123;90;-",
    "2;20.03.2021 01:27;X1;54,51;10,26;125;91;-",
    "3;31.02.2021 01:32;X1;54,52;10,27;125;91;-",
    "4;20.03.2021 01:37;;54,52;10,27;125;91;-",
    "5;20.03.2021 01:42;X2;95,0;10,27;;;SEA DOG",
    "6;20.03.2021 01:47;X2;north;10,27;;;SEA DOG",
)

PARTNER_LAYOUT = """\
# partner export: Danish local time, speed in tenths of a knot
separator = ";"
time_format = "%d.%m.%Y %H:%M"
timezone = "Europe/Copenhagen"
nulls = ["-"]

[columns]
time = "Zeit"
id = "Schiff"
lat = "Breite"
lon = 5
sog = "Fahrt"
cog = "Kurs"
name = "Name"

[scale]
sog = 0.1
"""


def test_layout_file_reads_any_layout_and_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "partner.toml"
    path.write_text(PARTNER_LAYOUT)
    layout = load_layout(path)
    batch = read_track_csv(PARTNER, layout=layout)
    pos = batch.positions
    assert pos["line_no"].to_list() == [2, 3]
    # 01:22 in Copenhagen (UTC+1 in March) is 00:22 UTC
    assert pos["ts"].to_list() == [utc(2021, 3, 20, 0, 22), utc(2021, 3, 20, 0, 27)]
    assert pos["sog"].to_list() == pytest.approx([12.3, 12.5])
    assert pos["lat"].to_list() == [54.5, 54.51] and pos["lon"].to_list() == [10.25, 10.26]
    assert set(pos["mmsi"]) == {synthetic_mmsi("X1")}
    assert batch.static["shipname"].to_list() == [None]  # "-" is null
    details = {r["line_no"]: (r["reason"], r["detail"]) for r in batch.rejects.to_dicts()}
    assert details == {
        4: ("bad_timestamp", 'column "Zeit": cannot parse time "31.02.2021 01:32" as '
                             "%d.%m.%Y %H:%M (or not a valid local time in Europe/Copenhagen)"),
        5: ("bad_vessel_id", 'column "Schiff": vessel id missing'),
        6: ("impossible_position", 'column "Breite": latitude 95.0 outside [-90, 90]'),
        7: ("bad_csv_row", 'column "Breite": latitude "north" is not a number'),
    }


def test_layout_naming_a_missing_column_rejects_the_header() -> None:
    layout = CsvLayout(columns={"time": "Zeit", "id": "Boot", "lat": "Breite", "lon": "Laenge"})
    batch = read_track_csv(PARTNER, layout=layout)
    assert batch.positions.height == 0
    rej = one(batch.rejects, 1)
    assert rej["reason"] == "bad_csv_header"
    assert "'Boot' for id is not in the header" in rej["detail"]
    assert batch.skipped["after_bad_header"] == 6


def test_unknown_header_says_how_to_describe_the_file() -> None:
    batch = read_track_csv(PARTNER)
    assert "--layout" in one(batch.rejects, 1)["detail"]


def test_layout_without_columns_keeps_header_recognition() -> None:
    raw = csv_bytes("mmsi,time,lat,lon,sog", "235070762,2021-03-20 01:22,50.1,-1.2,-")
    layout = CsvLayout(timezone="Europe/London", nulls=("-",))
    batch = read_track_csv(raw, layout=layout)
    assert batch.positions["ts"].to_list() == [utc(2021, 3, 20, 1, 22)]  # GMT in March
    assert batch.positions["sog"].to_list() == [None]
    summer = read_track_csv(raw.replace(b"03-20", b"07-20"), layout=layout)
    assert summer.positions["ts"].to_list() == [utc(2021, 7, 20, 0, 22)]  # BST


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("epoch_ms", "1616199720123", utc(2021, 3, 20, 0, 22, 0, 123_000)),
        ("epoch_s", "1.61619972e9", utc(2021, 3, 20, 0, 22)),
        ("mdy", "03/20/2021 00:22", utc(2021, 3, 20, 0, 22)),
        ("dmy", "01/02/2021 00:22:05", utc(2021, 2, 1, 0, 22, 5)),
        ("iso", "2021-03-20T01:22+01:00", utc(2021, 3, 20, 0, 22)),
        ("%Y%m%d%H%M%S", "20210320002200", utc(2021, 3, 20, 0, 22)),
        ("%Y-%m-%d %H:%M %z", "2021-03-20 01:22 +0100", utc(2021, 3, 20, 0, 22)),
    ],
)
def test_time_formats(fmt: str, text: str, expected: datetime) -> None:
    layout = CsvLayout(time_format=fmt)
    batch = read_track_csv(csv_bytes("mmsi,time,lat,lon", f"235070762,{text},50,-1"),
                           layout=layout)
    assert batch.positions["ts"].to_list() == [expected], batch.rejects["detail"].to_list()


def test_layout_round_trip_toml_and_json(tmp_path: Path) -> None:
    layout = CsvLayout(
        columns={"time": "Base Date/Time", "id": "Anon \"ID\"", "lat": 3, "lon": 4},
        separator="\t", time_format="%d/%m/%Y %H:%M", timezone="America/New_York",
        nulls=("NULL", "ñ/a"), scale={"sog": 0.1, "lat": 1e-6},
    )
    toml_path = tmp_path / "layout.toml"
    toml_path.write_text(layout.to_toml())
    assert load_layout(toml_path) == layout
    json_path = tmp_path / "layout.json"
    json_path.write_text(json.dumps(layout.to_mapping()))
    assert load_layout(json_path) == layout
    assert load_layout(json_path).digest() == layout.digest() != CsvLayout().digest()
    assert CsvLayout().to_toml() == "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns]\ntime = 'a'\nlat = 'b'\nlon = 'c'\n", "one of mmsi"),
        ("[columns]\ntime = 'a'\nmmsi = 'b'\nlat = 'c'\nspeed = 'd'\nlon = 'e'\n",
         "unknown field 'speed'"),
        ("[columns]\ntime = 'a'\nmmsi = 'b'\nlat = 0\nlon = 'e'\n", "columns.lat"),
        ("separator = ';;'\n", "separator"),
        ("time_format = 'yesterday'\n", "time_format"),
        ("timezone = 'Mars/Olympus'\n", "Mars/Olympus"),
        ("[scale]\nsog = 0\n", "scale.sog"),
        ("[scale]\nmmsi = 2\n", "'mmsi' cannot be scaled"),
        ("nulls = 'NULL'\n", "nulls"),
        ("delimiter = ';'\n", "unknown setting 'delimiter'"),
        ("separator = \n", "line 1"),
    ],
)
def test_bad_layout_files_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(LayoutError) as info:
        load_layout(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_colliding_vessel_ids_are_rejected_not_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_tracks, "synthetic_mmsi", lambda vid: SYNTHETIC_MMSI_MIN + 7)
    raw = csv_bytes("ID,time,lat,lon", "B,2021-03-20 00:22,50,-1", "A,2021-03-20 00:22,51,-1",
                    "B,2021-03-20 00:23,50,-1")
    batch = read_track_csv(raw)
    assert batch.positions["line_no"].to_list() == [3]  # "A" sorts first and keeps the number
    assert batch.rejects["reason"].to_list() == ["bad_vessel_id", "bad_vessel_id"]
    assert 'vessel id "B" has the same synthetic MMSI' in batch.rejects["detail"][0]


# --- ingest, command line, store ------------------------------------------------------------------


def test_cli_layout_file_and_inline_options(tmp_path: Path) -> None:
    data = tmp_path / "partner.txt"  # not a .csv name: the layout says what it is
    data.write_bytes(PARTNER)
    layout = tmp_path / "partner.toml"
    layout.write_text(PARTNER_LAYOUT)
    db = tmp_path / "x.duckdb"
    result = runner.invoke(app, ["ingest", str(data), "--db", str(db), "--layout", str(layout),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["csv_rows"] == 2
    assert summary["rejects_by_reason"] == {"bad_timestamp": 1, "bad_vessel_id": 1,
                                            "impossible_position": 1, "bad_csv_row": 1}
    with Store(db, read_only=True) as store:
        assert store.table("static")["vessel_id"].to_list() == ["X1"]
    # the same with inline options, into another database; --csv-tz overrides nothing here
    db2 = tmp_path / "y.duckdb"
    result = runner.invoke(app, [
        "ingest", str(data), "--db", str(db2), "--json",
        "--csv-columns", "time=Zeit,id=Schiff,lat=Breite,lon=Laenge,sog=Fahrt",
        "--csv-sep", "semicolon", "--csv-time-format", "%d.%m.%Y %H:%M",
        "--csv-tz", "Europe/Copenhagen", "--csv-scale", "sog=0.1", "--csv-null", "-",
    ])
    assert result.exit_code == 0, result.output
    with Store(db2, read_only=True) as store:
        pos = store.table("positions").sort("line_no")
        assert pos["sog"].to_list() == pytest.approx([12.3, 12.5])
        assert pos["ts"].to_list() == [utc(2021, 3, 20, 0, 22), utc(2021, 3, 20, 0, 27)]


def test_cli_bad_layout_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "a.csv"
    data.write_bytes(PARTNER)
    result = runner.invoke(app, ["ingest", str(data), "--db", str(tmp_path / "x.duckdb"),
                                 "--csv-columns", "time=Zeit,lat"])
    assert result.exit_code == 2
    assert "expected field=value" in result.output
    result = runner.invoke(app, ["ingest", str(data), "--db", str(tmp_path / "x.duckdb"),
                                 "--csv-scale", "sog=fast"])
    assert result.exit_code == 2 and "not a number" in result.output


def test_another_layout_reads_an_ingested_file_again(tmp_path: Path) -> None:
    data = tmp_path / "partner.csv"
    data.write_bytes(PARTNER)
    db = tmp_path / "x.duckdb"
    first = ingest_paths([data], db)  # unknown header: nothing but the header reject
    assert first.rejects == {"bad_csv_header": 1}
    layout = load_layout_text(tmp_path, PARTNER_LAYOUT)
    second = ingest_paths([data], db, layout=layout)
    assert second.already_ingested == [] and second.added["positions"] == 2
    third = ingest_paths([data], db, layout=layout)
    assert third.already_ingested == [str(data.resolve())]


def load_layout_text(tmp_path: Path, text: str) -> CsvLayout:
    path = tmp_path / "layout.toml"
    path.write_text(text)
    return load_layout(path)


def test_database_made_before_vessel_id_gets_the_column(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with Store(db) as store:
        store.con.execute("ALTER TABLE static DROP COLUMN vessel_id")
    data = tmp_path / "anon.csv"
    data.write_bytes(csv_bytes("ID,time,lat,lon", "A-17,2021-03-20 00:22,50,-1"))
    report = ingest_paths([data], db)
    assert report.added["static"] == 1
    with Store(db, read_only=True) as store:
        assert store.table("static")["vessel_id"].to_list() == ["A-17"]


def test_events_on_an_anonymised_file(tmp_path: Path) -> None:
    """Two ID-keyed vessels drifting 150 m apart for four hours in the East China Sea, in a
    partner's layout: the encounter is found and names both vessels through their ids."""
    lat0, lon0 = 30.5, 125.0
    start = datetime(2021, 3, 20, 8, 0)  # Shanghai time, UTC+8
    lines = ["Idx;Tid;Vessel;Lat;Lon;SpeedDecikn"]
    n = 0
    for step in range(0, 4 * 60 + 1, 3):
        for vid, north_m in (("anon-7", 0.0), ("anon-9", 150.0)):
            t = start + timedelta(minutes=step)
            lat = lat0 + (north_m + 5 * math.sin(step + north_m)) / 111_195.0
            lon = lon0 + 5 * math.cos(step) / 96_000.0
            lines.append(f"{n};{t:%d/%m/%Y %H:%M};{vid};{lat:.6f};{lon:.6f};4")
            n += 1
    data = tmp_path / "anon.csv"
    data.write_bytes(csv_bytes(*lines))
    layout = CsvLayout(columns={"time": "Tid", "id": "Vessel", "lat": "Lat", "lon": "Lon",
                                "sog": "SpeedDecikn"},
                       time_format="dmy", timezone="Asia/Shanghai", scale={"sog": 0.1})
    db = tmp_path / "x.duckdb"
    report = ingest_paths([data], db, layout=layout)
    assert report.n_rejects == 0 and report.csv_rows == n
    with Store(db, read_only=True) as store:
        positions, static = store.table("positions"), store.table("static")
    assert positions["ts"].min() == utc(2021, 3, 20, 0, 0)
    result = detect_events(positions, static)
    assert result.dropped.get("not_a_vessel", 0) == 0
    encounters = result.events.filter(pl.col("kind") == "encounter")
    assert encounters.height == 1
    ev = encounters.row(0, named=True)
    ids = dict(zip(static["mmsi"], static["vessel_id"], strict=True))
    assert {ids[ev["mmsi"]], ids[ev["other_mmsi"]]} == {"anon-7", "anon-9"}


def test_api_serves_a_vessel_with_a_synthetic_mmsi(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from conftest import issue_admin_key
    from seasight.api import create_app

    data = tmp_path / "anon.csv"
    data.write_bytes(csv_bytes("ID,time,lat,lon", "A-17,2021-03-20 00:22,50,-1",
                               "A-17,2021-03-20 00:32,50.01,-1"))
    db = tmp_path / "x.duckdb"
    ingest_paths([data], db)
    key = issue_admin_key(db)
    mmsi = synthetic_mmsi("A-17")
    with TestClient(create_app(db, stream_poll_s=0.1),
                    headers={"Authorization": f"Bearer {key}"}) as client:
        track = client.get(f"/api/vessels/{mmsi}/track")
        assert track.status_code == 200, track.text
        assert len(track.json()["geometry"]["coordinates"]) == 2
        dossier = client.get(f"/api/vessels/{mmsi}")
        assert dossier.status_code == 200, dossier.text
        assert client.get("/api/vessels/1000000000/track").status_code == 400  # no such key
