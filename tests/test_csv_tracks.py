"""CSV track readers (``seasight.sources.csv_tracks``) on the real samples in ``shared/data``.

Expected values were read by hand from the files (line numbers count the header as line 1).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seasight.model.batch import Batch
from seasight.model.rejects import REASON_CODES
from seasight.model.schema import TABLES
from seasight.sources import csv_blocks
from seasight.sources.csv_tracks import (
    CsvLayoutError,
    detect_layout,
    position_hash,
    read_track_csv,
)
from seasight.sources.errors import SourceError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRACKS = SHARED_DATA / "tracks"
SOLENT = TRACKS / "solent_ais_20160112.csv"
MARINECADASTRE = TRACKS / "marinecadastre_sample_20230111.csv"
DMA = TRACKS / "dma_aisdk_sample_20180208.csv"

DMA_HEADER = (
    "# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,"
    "Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length,"
    "Type of position fixing device,Draught,Destination,ETA,Data source type,A,B,C,D"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def header_of(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


def row(frame: pl.DataFrame, line_no: int) -> dict:
    rows = frame.filter(pl.col("line_no") == line_no).to_dicts()
    assert len(rows) == 1, f"expected one row for line {line_no}, got {len(rows)}"
    return rows[0]


def data_lines(raw: bytes) -> int:
    """Lines after the header, a last line without newline counted."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return len(lines) - 1


def assert_well_formed(batch: Batch, raw: bytes) -> None:
    """Schemas are exact, other tables empty, and every data line is accounted for once."""
    fix_tables = ("positions", "base_stations", "aids_to_navigation")
    for name, schema in TABLES.items():
        frame = getattr(batch, name)
        assert frame.schema == pl.Schema(schema), name
        if name not in (*fix_tables, "static", "rejects"):
            assert frame.height == 0, name
    assert set(batch.rejects["reason"].to_list()) <= set(REASON_CODES)
    assert (batch.base_stations["msg_type"] == 4).all()
    assert (batch.aids_to_navigation["msg_type"] == 21).all()
    fixes = pl.concat([getattr(batch, name).select("line_no") for name in fix_tables])
    used = fixes.height + batch.rejects.height + batch.skipped["blank"]
    if batch.rejects.filter(pl.col("reason") == "bad_csv_header").height == 0:
        assert used == data_lines(raw)
    lines = fixes["line_no"].to_list() + batch.rejects["line_no"].to_list()
    assert len(lines) == len(set(lines)), "a line is both used and rejected, or used twice"
    assert set(batch.static["line_no"].to_list()) <= set(fixes["line_no"].to_list())


# --- layout detection ---------------------------------------------------------------------------


def test_detect_layout_on_the_real_headers() -> None:
    assert detect_layout(header_of(SOLENT)) == "generic"
    assert detect_layout(header_of(MARINECADASTRE)) == "marinecadastre"
    # the DMA sample starts with an unnamed pandas index column
    assert header_of(DMA)[0] == ""
    assert detect_layout(header_of(DMA)) == "dma"


@pytest.mark.parametrize(
    ("header", "layout"),
    [
        (DMA_HEADER.split(","), "dma"),
        (["Timestamp", "Type of mobile", "MMSI", "Latitude", "Longitude"], "dma"),
        (  # MarineCadastre's 2024+ snake_case spelling
            ["mmsi", "base_date_time", "longitude", "latitude", "sog", "cog", "heading"],
            "marinecadastre",
        ),
        (["BaseDateTime", "MMSI", "LAT", "LON"], "marinecadastre"),
        (["timestamp", "MMSI", "lat", "lng", "speed", "course"], "generic"),
        ([" Time ", "mmsi", "LATITUDE", "LONGITUDE"], "generic"),
        (["\ufefftime", "mmsi", "lat", "lon", "sog_knots", "cog_degrees", "heading"], "generic"),
        (["id", "time", "mmsi", "latitude_degrees", "longitude_degrees"], "generic"),
    ],
)
def test_detect_layout_aliases(header: list[str], layout: str) -> None:
    assert detect_layout(header) == layout


@pytest.mark.parametrize(
    "header",
    [
        [],
        [""],
        ["foo", "bar"],
        ["time", "mmsi", "lat"],  # no longitude
        ["Type of mobile", "MMSI", "Latitude", "Longitude"],  # DMA without a timestamp
        ["MMSI", "BaseDateTime", "LAT"],
    ],
)
def test_detect_layout_rejects_unknown_headers(header: list[str]) -> None:
    with pytest.raises(CsvLayoutError) as info:
        detect_layout(header)
    assert isinstance(info.value, SourceError)
    assert "no known layout" in str(info.value)


# --- the three real samples ---------------------------------------------------------------------


def test_solent_generic_file() -> None:
    batch = read_track_csv(SOLENT)
    assert_well_formed(batch, SOLENT.read_bytes())
    pos = batch.positions
    assert pos.height == 18_623
    assert batch.rejects.height == 0
    assert batch.static.height == 0
    assert pos["line_no"].to_list() == list(range(2, 18_625))
    assert pos["mmsi"].n_unique() == 91
    assert pos["source"].unique().to_list() == [str(SOLENT)]
    assert pos["ts_source"].cast(pl.String).unique().to_list() == ["csv"]
    assert pos["msg_type"].null_count() == pos.height
    assert pos["heading"].null_count() == pos.height  # no heading column in this file
    span = pos["ts"].max() - pos["ts"].min()  # type: ignore[operator]
    assert timedelta(minutes=84) < span < timedelta(minutes=85)

    # 2016-01-12 13:02:11.218,235070762,50.7730133333333,-1.092935,157.8,5.9
    first = row(pos, 2)
    assert first["ts"] == utc(2016, 1, 12, 13, 2, 11, 218_000)
    assert first["mmsi"] == 235070762
    assert first["lat"] == 50.7730133333333
    assert first["lon"] == -1.092935
    assert first["cog"] == pytest.approx(157.8, abs=1e-4)
    assert first["sog"] == pytest.approx(5.9, abs=1e-5)
    assert first["station"] is None and first["channel"] is None
    # 2016-01-12 13:02:11.327,235031618,50.7345,-1.213,221,0.2
    assert row(pos, 4)["cog"] == 221.0
    # 2016-01-12 14:26:41.924,235010000,50.7946883333333,-1.10866333333333,153.2,0
    last = row(pos, 18_624)
    assert last["ts"] == utc(2016, 1, 12, 14, 26, 41, 924_000)
    assert last["mmsi"] == 235010000
    assert last["lat"] == 50.7946883333333
    assert last["lon"] == -1.10866333333333
    assert last["sog"] == 0.0


def test_marinecadastre_file() -> None:
    batch = read_track_csv(MARINECADASTRE)
    assert_well_formed(batch, MARINECADASTRE.read_bytes())
    pos, static = batch.positions, batch.static
    assert pos.height == 1_000
    assert batch.rejects.height == 0
    assert pos["line_no"].to_list() == list(range(2, 1_002))

    # 367752440,2023-01-11T00:00:00,43.07917,-70.75733,0.0,360.0,95.0,SAN JOSE,,WDI9818,31,
    # 0.0,,,,52.0,A
    first = row(pos, 2)
    assert first["mmsi"] == 367752440
    assert first["ts"] == utc(2023, 1, 11)
    assert (first["lat"], first["lon"]) == (43.07917, -70.75733)
    assert first["sog"] == 0.0
    assert first["cog"] is None  # 360 = not available
    assert first["heading"] == 95
    assert first["nav_status"] == 0
    assert first["msg_type"] == 1  # class A
    # 636021061,...,8.8,272.7,270.0,MSC NAISHA III,IMO9307839,5LCB4,70,8.0,208.0,30.0,8.0,70.0,A
    second = row(pos, 3)
    assert second["sog"] == pytest.approx(8.8, abs=1e-5)
    assert second["cog"] == pytest.approx(272.7, abs=1e-4)
    assert (second["heading"], second["nav_status"]) == (270, 8)
    # 338228393,2023-01-11T00:00:13,34.40572,-119.68983,0.0,208.2,511.0,GITANA,,,37,,,,,,B
    class_b = row(pos, 86)
    assert class_b["msg_type"] == 18
    assert class_b["heading"] is None  # 511 = not available
    assert class_b["nav_status"] is None  # empty Status
    # 338926283,2023-01-11T00:00:00,42.93588,-78.90928,102.3,360.0,511.0,,,,0,15.0,...,A
    sentinels = row(pos, 810)
    assert (sentinels["sog"], sentinels["cog"], sentinels["heading"]) == (None, None, None)
    assert sentinels["nav_status"] == 15

    # whole-file counts of the not-available values (counted in the file with grep)
    assert pos["heading"].null_count() == 426  # Heading 511.0
    assert pos["cog"].null_count() == 90  # COG 360.0
    assert pos["sog"].null_count() == 4  # SOG 102.3
    assert pos["nav_status"].null_count() == 46  # empty Status
    assert dict(pos["msg_type"].value_counts().iter_rows()) == {1: 954, 18: 46}

    # Static rows: every row with identity, i.e. all but lines 524 and 810 (type 0, nothing else)
    assert static.height == 998
    assert 524 not in static["line_no"] and 810 not in static["line_no"]
    san_jose = row(static, 2)
    assert san_jose["shipname"] == "SAN JOSE"
    assert san_jose["callsign"] == "WDI9818"
    assert san_jose["imo"] is None
    assert san_jose["ship_type"] == 31
    assert san_jose["draught"] is None
    assert san_jose["msg_type"] is None
    assert san_jose["ts"] == utc(2023, 1, 11)
    assert san_jose["msg_hash"] == first["msg_hash"]
    naisha = row(static, 3)
    assert (naisha["imo"], naisha["callsign"], naisha["shipname"]) == (
        9307839,
        "5LCB4",
        "MSC NAISHA III",
    )
    assert (naisha["ship_type"], naisha["draught"]) == (70, 8.0)
    assert static["imo"].null_count() == 1_000 - 2 - 420  # 558 empty, 22 IMO0000000
    # MarineCadastre gives only overall Length/Width: no split into the four distances
    for name in ("to_bow", "to_stern", "to_port", "to_starboard", "destination", "eta_month"):
        assert static[name].null_count() == static.height, name


def test_dma_file() -> None:
    batch = read_track_csv(DMA)
    assert_well_formed(batch, DMA.read_bytes())
    pos = batch.positions
    assert pos.height == 10
    assert batch.rejects.height == 0
    assert batch.static.height == 0  # IMO "Unknown", names empty, ship type "Undefined"
    assert pos["line_no"].to_list() == list(range(2, 12))
    # 60,08/02/2018 00:00:00,Class A,265177000,57.602225,11.644943,Under way using engine,0.0,
    # 15.7,61.4,63.0,Unknown,...
    first = row(pos, 2)
    assert first["ts"] == utc(2018, 2, 8)
    assert first["mmsi"] == 265177000
    assert (first["lat"], first["lon"]) == (57.602225, 11.644943)
    assert first["nav_status"] == 0
    assert first["rot"] == 0.0
    assert first["sog"] == pytest.approx(15.7, abs=1e-5)
    assert first["cog"] == pytest.approx(61.4, abs=1e-4)
    assert first["heading"] == 63
    assert first["msg_type"] == 1
    # 92,08/02/2018 00:00:00,Class A,244678000,57.549578,11.666492,At anchor,-5.4,0.2,162.7,227.0
    anchored = row(pos, 3)
    assert (anchored["nav_status"], anchored["heading"]) == (1, 227)
    assert anchored["rot"] == pytest.approx(-5.4, abs=1e-5)
    # 258,08/02/2018 00:00:02,...
    assert row(pos, 11)["ts"] == utc(2018, 2, 8, 0, 0, 2)
    # Under way using engine, At anchor, ..., Reserved for future amendment [HSC] (9),
    # Unknown value (15), ..., Engaged in fishing (7)
    assert pos["nav_status"].to_list() == [0, 1, 0, 9, 15, 0, 7, 0, 15, 0]
    assert pos["msg_type"].to_list() == [1] * 10


def test_dma_identity_columns_and_dimensions(tmp_path: Path) -> None:
    rows = [
        "27/02/2023 10:15:30,Class A,219000873,55.6761,12.5683,Moored,0.0,0.0,,511,9301249,"
        'OXPQ2,"BIRK, NIELSEN",Cargo,,16,100,GPS,5.2,AARHUS,01/03/2023 06:00:00,AIS,80,20,8,8',
        "27/02/2023 10:15:31,Class B,219000874,55.0,12.0,Unknown value,,0.1,12.3,,Unknown,,,"
        "Undefined,,,,Undefined,,,,AIS,,,,",
        "27/02/2023 10:15:32,Base Station,2190047,55.0,12.0,Unknown value,,,,,Unknown,,,"
        "Undefined,,,,Surveyed,,,,AIS,,,,",
        "27/02/2023 10:15:35,Class A,219000876,55.5,12.5,Power-driven vessel pushing ahead or "
        "towing alongside,-720,5,5,5,Unknown,OXAB,,Towing long/wide,,,,Galileo,0,,"
        "00/00/2023 24:60:00,AIS,0,0,0,0",
        "27/02/2023 10:15:36,AtoN,992191000,55.0,12.0,Unknown value,,,,,Unknown,,,Undefined,,,,,"
        ",,,AIS,0,0,0,0",
    ]
    path = tmp_path / "aisdk.csv"
    raw = (DMA_HEADER + "\n" + "\n".join(rows) + "\n").encode()
    path.write_bytes(raw)
    batch = read_track_csv(path)
    assert_well_formed(batch, raw)
    pos, static = batch.positions, batch.static
    assert pos["msg_type"].to_list() == [1, 18, 1]
    assert pos["nav_status"].to_list() == [5, 15, 12]
    assert row(pos, 5)["rot"] is None  # beyond +-708
    # the base station's and the aid to navigation's fixes go to their own tables
    assert batch.base_stations.select("line_no", "mmsi").rows() == [(4, 2190047)]
    assert batch.aids_to_navigation.select("line_no", "mmsi").rows() == [(6, 992191000)]
    assert static["line_no"].to_list() == [2, 5]  # other rows say nothing about identity
    birk = row(static, 2)
    assert birk["shipname"] == "BIRK, NIELSEN"  # quoted field with a comma
    assert (birk["imo"], birk["callsign"], birk["ship_type"]) == (9301249, "OXPQ2", 70)
    assert (birk["to_bow"], birk["to_stern"], birk["to_port"], birk["to_starboard"]) == (
        80,
        20,
        8,
        8,
    )
    assert (birk["epfd"], birk["draught"], birk["destination"]) == (1, pytest.approx(5.2), "AARHUS")
    assert [birk[f"eta_{p}"] for p in ("month", "day", "hour", "minute")] == [3, 1, 6, 0]
    towing = row(static, 5)
    assert (towing["ship_type"], towing["epfd"], towing["callsign"]) == (32, 8, "OXAB")
    assert towing["draught"] is None  # 0 = not available
    # ETA 00/00 24:60 is AIS "not available" throughout
    assert [towing[f"eta_{p}"] for p in ("month", "day", "hour", "minute")] == [None] * 4


# --- bad input ----------------------------------------------------------------------------------

GOOD_MC = (
    b"367752440,2023-01-11T00:00:00,43.07917,-70.75733,0.0,360.0,95.0,SAN JOSE,,WDI9818,31,"
    b"0.0,,,,52.0,A"
)

#: (bytes of the inserted line, expected reason, a piece of the expected detail)
CORRUPT_LINES: list[tuple[bytes, str | None, str]] = [
    (GOOD_MC.replace(b"2023-01-11T", b"2023-13-11T"), "bad_timestamp", "cannot parse time"),
    (GOOD_MC.replace(b"2023-01-11T00:00:00", b"yesterday"), "bad_timestamp", "cannot parse"),
    (GOOD_MC.replace(b"2023-01-11T00:00:00", b""), "bad_timestamp", "time missing"),
    (GOOD_MC.replace(b"2023-01-11", b"1970-01-01"), "bad_timestamp", "outside 1990-01-01"),
    (GOOD_MC.replace(b"43.07917", b"95.5"), "impossible_position", "latitude 95.5 outside"),
    (GOOD_MC.replace(b"-70.75733", b"-180.5"), "impossible_position", "longitude -180.5"),
    (GOOD_MC.replace(b"43.07917,-70.75733", b"91,181"), "impossible_position", "not available"),
    (GOOD_MC.replace(b"43.07917", b"north"), "bad_csv_row", 'latitude "north" is not a number'),
    (GOOD_MC.replace(b"43.07917", b""), "bad_csv_row", "latitude missing"),
    (b",".join(GOOD_MC.split(b",")[:3]), "bad_csv_row", "expected 17 fields, found 3"),
    (GOOD_MC + b",extra", "bad_csv_row", "expected 17 fields, found 18"),
    (GOOD_MC.replace(b"SAN JOSE", b'"SAN JOSE'), "bad_csv_row", "quotes"),
    (b"\x00\x01\x02garbage\x7f#~", "bad_csv_row", "expected 17 fields, found 1"),
    (b"\x89PNG\r\x1a binary", "bad_character", "not valid UTF-8: byte 0x89 at column 1"),
    (GOOD_MC.replace(b"SAN JOSE", b"S\xc3O JOS\xc9"), "bad_character", "byte 0xc3 at column 66"),
    (GOOD_MC.replace(b"367752440", b""), "bad_mmsi", "MMSI missing"),
    (GOOD_MC.replace(b"367752440", b"3677524x0"), "bad_mmsi", 'MMSI "3677524x0"'),
    (GOOD_MC.replace(b"367752440", b"3677524400"), "bad_mmsi", "at most 9 digits"),
    (b"", None, "blank"),
    (b"   \t", None, "blank"),
]


def corrupted_marinecadastre() -> tuple[bytes, dict[int, tuple[bytes, str | None, str]]]:
    """The MarineCadastre sample with the corrupt lines spread through it.

    Returns the file's bytes and, per inserted line number, what was inserted there.
    """
    lines = MARINECADASTRE.read_bytes().split(b"\n")
    assert lines[-1] == b""
    header, body = lines[0], lines[1:-1]
    out = [header]
    inserted: dict[int, tuple[bytes, str | None, str]] = {}
    for i, good in enumerate(body):
        if i % 50 == 7 and i // 50 < len(CORRUPT_LINES):
            case = CORRUPT_LINES[i // 50]
            out.append(case[0])
            inserted[len(out)] = case
        out.append(good)
    # one of the good rows with Windows line ending, and a final line without newline
    out[5] += b"\r"
    return b"\n".join(out), inserted


def test_corrupted_copy_keeps_every_good_row(tmp_path: Path) -> None:
    raw, inserted = corrupted_marinecadastre()
    path = tmp_path / "broken.csv"
    path.write_bytes(raw)
    batch = read_track_csv(path)
    assert_well_formed(batch, raw)

    clean = read_track_csv(MARINECADASTRE)
    keep = ["mmsi", "ts", "msg_type", "lat", "lon", "sog", "cog", "heading", "nav_status"]
    assert batch.positions.select(keep).equals(clean.positions.select(keep))
    assert batch.positions["msg_hash"].equals(clean.positions["msg_hash"])
    assert batch.static.drop("line_no", "source").equals(clean.static.drop("line_no", "source"))

    expected = Counter(reason for _, reason, _ in inserted.values() if reason)
    assert batch.rejects_by_reason() == expected
    assert expected == {
        "bad_timestamp": 4,
        "impossible_position": 3,
        "bad_csv_row": 6,
        "bad_character": 2,
        "bad_mmsi": 3,
    }
    assert batch.skipped == Counter({"blank": 2})
    rejects = {r["line_no"]: r for r in batch.rejects.to_dicts()}
    for line_no, (line, reason, detail) in inserted.items():
        if reason is None:
            assert line_no not in rejects
            continue
        got = rejects[line_no]
        assert got["reason"] == reason, (line_no, line, got)
        assert detail in got["detail"], (line_no, got["detail"])
        # kept byte for byte (the line terminator is not part of the line)
        assert got["raw"] == line.removesuffix(b"\r"), line_no
        assert got["source"] == str(path)


def test_small_blocks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    raw, _ = corrupted_marinecadastre()
    whole = read_track_csv(raw)
    monkeypatch.setattr(csv_blocks, "_CHUNK_BYTES", 2_000)
    monkeypatch.setattr(csv_blocks, "_READ_BYTES", 97)
    pieces = read_track_csv(raw)
    for name in ("positions", "static", "rejects"):
        assert getattr(pieces, name).equals(getattr(whole, name)), name
    assert pieces.skipped == whole.skipped


def test_wrong_header_rejects_the_file_once(tmp_path: Path) -> None:
    raw = b"ship;when;where\n" + MARINECADASTRE.read_bytes().split(b"\n", 1)[1]
    path = tmp_path / "wrong.csv"
    path.write_bytes(raw)
    with pytest.raises(CsvLayoutError):
        detect_layout(["ship;when;where"])
    batch = read_track_csv(path)
    assert_well_formed(batch, raw)
    assert batch.positions.height == 0 and batch.static.height == 0
    assert batch.rejects.height == 1
    reject = batch.rejects.row(0, named=True)
    assert reject["reason"] == "bad_csv_header"
    assert reject["line_no"] == 1
    assert reject["raw"] == b"ship;when;where"
    assert "no known layout" in reject["detail"]
    assert batch.skipped == Counter({"after_bad_header": 1_000})


@pytest.mark.parametrize("raw", [b"", b"\n", b"\xff\xfe\x00t\x00i\x00m\x00e\n1\n"])
def test_empty_or_undecodable_header(raw: bytes) -> None:
    batch = read_track_csv(raw)
    assert batch.rejects["reason"].to_list() == ["bad_csv_header"]
    assert batch.positions.height == 0


def test_header_only_file() -> None:
    batch = read_track_csv(b"time,mmsi,lat,lon\n")
    assert batch.positions.height == 0 and batch.rejects.height == 0


# --- inputs: gzip, bytes, source names ----------------------------------------------------------


def test_gzip_path_bytes_and_source(tmp_path: Path) -> None:
    raw = SOLENT.read_bytes()
    plain = read_track_csv(SOLENT)
    gz_path = tmp_path / "solent.csv.gz"
    gz_path.write_bytes(gzip.compress(raw))
    from_gz = read_track_csv(gz_path)
    assert from_gz.positions["source"].unique().to_list() == [str(gz_path)]
    assert from_gz.positions.drop("source").equals(plain.positions.drop("source"))

    from_bytes = read_track_csv(raw)
    assert from_bytes.positions["source"].unique().to_list() == ["-"]
    assert from_bytes.positions.drop("source").equals(plain.positions.drop("source"))

    named = read_track_csv(memoryview(gzip.compress(raw)), source="feed:solent")
    assert named.positions["source"].unique().to_list() == ["feed:solent"]
    assert named.positions.height == 18_623


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    raw = SOLENT.read_bytes()
    packed = gzip.compress(raw)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    batch = read_track_csv(path)
    n = batch.positions.height
    assert 5_000 < n < 18_623
    assert batch.positions["line_no"].to_list() == list(range(2, n + 2))
    full = read_track_csv(SOLENT).positions
    assert batch.positions.drop("source").equals(full.head(n).drop("source"))
    # one reject where the damage starts, holding the part of that line that was recovered;
    # the cut line is not parsed (its last number could look valid)
    assert batch.rejects.height == 1
    cut = batch.rejects.row(0, named=True)
    assert cut["reason"] == "bad_csv_row"
    assert "compressed stream is corrupt or truncated" in cut["detail"]
    assert cut["line_no"] == n + 2
    assert raw.split(b"\n")[n + 1].startswith(cut["raw"])


def test_bom_and_crlf() -> None:
    raw = (
        "\ufeffTime,MMSI,Latitude,Longitude\r\n"
        "2020-05-01T12:00:00Z,123456789,10.5,20.25\r\n"
        "\r\n"
        '"2020-05-01T12:00:01Z","123456789","10.5","20.25"\r\n'
    ).encode()
    batch = read_track_csv(raw)
    assert_well_formed(batch, raw)
    assert batch.positions["line_no"].to_list() == [2, 4]
    assert batch.positions["ts"].to_list() == [utc(2020, 5, 1, 12), utc(2020, 5, 1, 12, 0, 1)]
    assert batch.skipped == Counter({"blank": 1})


# --- time forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-05-01T12:00:00", utc(2020, 5, 1, 12)),
        ("2020-05-01 12:00:00", utc(2020, 5, 1, 12)),
        ("2020-05-01T12:00:00Z", utc(2020, 5, 1, 12)),
        ("2020-05-01T12:00:00.5Z", utc(2020, 5, 1, 12, 0, 0, 500_000)),
        ("2020-05-01T14:00:00+02:00", utc(2020, 5, 1, 12)),
        ("2020-05-01T10:30:00-0130", utc(2020, 5, 1, 12)),
        ("2020-05-01T12:00:00.123456789+00", utc(2020, 5, 1, 12, 0, 0, 123_456)),
        ("2020-05-01 12:00", utc(2020, 5, 1, 12)),
        ("2020-05-01T23:59:60Z", utc(2020, 5, 2)),  # leap second
        ("1588334400", utc(2020, 5, 1, 12)),
        ("1588334400.25", utc(2020, 5, 1, 12, 0, 0, 250_000)),
        ("  1588334400 ", utc(2020, 5, 1, 12)),
        ("2020-02-30T12:00:00", None),
        ("2020-05-01T25:00:00", None),
        ("2020-05-01T12:00:00+25:00", None),
        ("2020-05-01", None),
        ("01/05/2020 12:00:00", None),  # day or month first? nothing in the file says
        ("1588334400000", utc(2020, 5, 1, 12)),  # milliseconds, told apart by size
        ("1588334400250000", utc(2020, 5, 1, 12, 0, 0, 250_000)),  # microseconds
        ("1.5883344e9", utc(2020, 5, 1, 12)),  # exponent form
        ("1.58833440025E+09", utc(2020, 5, 1, 12, 0, 0, 250_000)),
        ("2020/05/01 12:00:00", utc(2020, 5, 1, 12)),
        ("13/05/2020 12:00", utc(2020, 5, 13, 12)),  # day first: 13 is no month
        ("05/13/2020 12:00", utc(2020, 5, 13, 12)),  # month first: 13 is no month
        ("13.05.2020 12:00:30", utc(2020, 5, 13, 12, 0, 30)),
        ("0", None),  # 1970: out of range
        ("2100-01-01T00:00:00", None),
        ("now", None),
    ],
)
def test_generic_time_forms(text: str, expected: datetime | None) -> None:
    raw = f"time,mmsi,lat,lon\n{text},123456789,1.5,2.5\n".encode()
    batch = read_track_csv(raw)
    if expected is None:
        assert batch.positions.height == 0
        assert batch.rejects["reason"].to_list() == ["bad_timestamp"]
    else:
        assert batch.rejects.height == 0, batch.rejects["detail"].to_list()
        assert batch.positions["ts"].to_list() == [expected]


def test_dma_times_are_day_first() -> None:
    lines = [
        "# Timestamp,Type of mobile,MMSI,Latitude,Longitude",
        "08/02/2018 00:00:00,Class A,265177000,57.6,11.6",
        "31/12/2018 23:59:59,Class B,265177000,57.6,11.6",
        "2018-02-08T01:00:00,Class A,265177000,57.6,11.6",
        "30/02/2018 00:00:00,Class A,265177000,57.6,11.6",
        "13/13/2018 00:00:00,Class A,265177000,57.6,11.6",
    ]
    batch = read_track_csv("\n".join(lines).encode())
    assert batch.positions["ts"].to_list() == [
        utc(2018, 2, 8),
        utc(2018, 12, 31, 23, 59, 59),
        utc(2018, 2, 8, 1),
    ]
    assert batch.rejects["line_no"].to_list() == [5, 6]
    assert set(batch.rejects["reason"]) == {"bad_timestamp"}


def test_generic_sentinels_and_ranges() -> None:
    raw = (
        b"time,mmsi,lat,lon,sog,cog,heading\n"
        b"2020-05-01T12:00:00Z,123456789,-90,-180,102.3,360,511\n"
        b"2020-05-01T12:00:01Z,123456789,90,180,102.2,359.9,359\n"
        b"2020-05-01T12:00:02Z,123456789,0,0,-1,-0.1,abc\n"
        b"2020-05-01T12:00:03Z,123456789,1,1,nan,inf,\n"
    )
    pos = read_track_csv(raw).positions
    assert pos.select("sog", "cog", "heading").rows() == [
        (None, None, None),
        (pytest.approx(102.2), pytest.approx(359.9), 359),
        (None, None, None),
        (None, None, None),
    ]
    assert pos.select("lat", "lon").rows() == [(-90.0, -180.0), (90.0, 180.0), (0.0, 0.0), (1, 1)]


# --- msg_hash -----------------------------------------------------------------------------------


def test_msg_hash_is_pinned_and_deduplicates() -> None:
    pos = read_track_csv(SOLENT).positions
    # pinned: the hash must not change between processes, platforms or library versions
    assert row(pos, 2)["msg_hash"] == 6897282080675562385
    direct = position_hash(
        np.array([235070762], dtype=np.uint32),
        np.array([1452603731218000], dtype=np.int64),
        np.array([50.7730133333333]),
        np.array([-1.092935]),
    )
    assert direct.tolist() == [6897282080675562385]
    # one hash per distinct fix (the file repeats 3 fixes)
    assert pos["msg_hash"].n_unique() == pos.select("mmsi", "ts", "lat", "lon").n_unique()
    assert pos["msg_hash"].n_unique() == 18_620
    # the same fix written differently hashes the same; another fix does not
    raw = (
        b"time,mmsi,lat,lon,sog\n"
        b"2016-01-12T13:02:11.218Z,235070762,50.7730133333333,-1.0929350,1\n"
        b"1452603731.218,0235070762.0,50.7730133333333,-1.092935,2\n"
        b"2016-01-12 13:02:11.219,235070762,50.7730133333333,-1.092935,1\n"
    )
    hashes = read_track_csv(raw).positions["msg_hash"].to_list()
    assert hashes[0] == hashes[1] == 6897282080675562385
    assert hashes[2] != hashes[0]


def test_position_hash_folds_negative_zero() -> None:
    a = position_hash(np.array([1]), np.array([0]), np.array([0.0]), np.array([-0.0]))
    b = position_hash(np.array([1]), np.array([0]), np.array([-0.0]), np.array([0.0]))
    assert a.tolist() == b.tolist()
    assert a.dtype == np.int64


# --- property: random valid generic rows round-trip -----------------------------------------------

PLUS_0530 = timezone(timedelta(hours=5, minutes=30))

fixes = st.lists(
    st.tuples(
        st.integers(1, 999_999_999),
        st.integers(
            int(datetime(1990, 1, 1, tzinfo=UTC).timestamp() * 1_000_000),
            int(datetime(2099, 12, 31, tzinfo=UTC).timestamp() * 1_000_000),
        ),
        st.floats(-90, 90, allow_nan=False),
        st.floats(-180, 180, allow_nan=False),
        st.one_of(st.none(), st.integers(0, 1022).map(lambda v: v / 10)),
        st.one_of(st.none(), st.integers(0, 3599).map(lambda v: v / 10)),
        st.one_of(st.none(), st.integers(0, 359)),
        st.sampled_from(["iso", "iso_z", "offset", "unix"]),
    ),
    min_size=1,
    max_size=40,
)


def _time_text(us: int, form: str) -> str:
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    if form == "iso":
        return when.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if form == "iso_z":
        return when.strftime("%Y-%m-%d %H:%M:%S.%fZ")
    if form == "offset":
        return when.astimezone(PLUS_0530).isoformat()
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fixes)
def test_random_generic_rows_round_trip(rows: list[tuple]) -> None:
    out = io.StringIO()
    out.write("Timestamp,MMSI,Latitude,Longitude,SOG,COG,Heading\n")
    for mmsi, us, lat, lon, sog, cog, heading, form in rows:
        fields = [_time_text(us, form), str(mmsi), repr(lat), repr(lon)]
        fields += ["" if v is None else str(v) for v in (sog, cog, heading)]
        out.write(",".join(fields) + "\n")
    batch = read_track_csv(out.getvalue().encode())
    assert batch.rejects.height == 0, batch.rejects["detail"].to_list()
    pos = batch.positions
    assert pos.height == len(rows)
    assert pos["line_no"].to_list() == list(range(2, len(rows) + 2))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for got, (mmsi, us, lat, lon, sog, cog, heading, _) in zip(
        pos.iter_rows(named=True), rows, strict=True
    ):
        assert got["mmsi"] == mmsi
        assert got["ts"] == epoch + timedelta(microseconds=us)
        assert got["lat"] == lat + 0.0 and got["lon"] == lon + 0.0
        assert got["sog"] == (None if sog is None else pytest.approx(sog, abs=1e-5))
        assert got["cog"] == (None if cog is None else pytest.approx(cog, abs=1e-4))
        assert got["heading"] == heading
    hashes = position_hash(
        pos["mmsi"].to_numpy(), pos["ts"].to_numpy(), pos["lat"].to_numpy(), pos["lon"].to_numpy()
    )
    assert hashes.tolist() == pos["msg_hash"].to_list()


# --- scale --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_many_rows_in_many_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header, body = MARINECADASTRE.read_bytes().split(b"\n", 1)
    path = tmp_path / "big.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(header + b"\n")
        for _ in range(300):
            fh.write(body)
    monkeypatch.setattr(csv_blocks, "_CHUNK_BYTES", 4 << 20)  # about 9 blocks
    batch = read_track_csv(path)
    assert batch.positions.height == 300_000
    assert batch.static.height == 998 * 300
    assert batch.rejects.height == 0
    assert batch.positions["line_no"].to_list() == list(range(2, 300_002))
    clean = read_track_csv(MARINECADASTRE).positions.drop("source", "line_no")
    assert batch.positions.tail(1_000).drop("source", "line_no").equals(clean)
