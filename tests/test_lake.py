"""The lake: a partitioned Parquet dataset (day x MMSI bucket) that ingest writes, a database
exports to, and the distributed engine reads; local folders and fsspec URLs (memory://)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.cli import app
from seasight.ingest.pipeline import ingest_paths
from seasight.lake import Lake, export_lake, ingest_lake
from seasight.lake.dataset import bucket_of
from seasight.sim import simulate, write_simulation
from seasight.store import Store

runner = CliRunner()
SORT = ["mmsi", "ts", "msg_hash", "line_no"]


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lakefeed")
    write_simulation(simulate("indo-pacific", hours=30, vessels=40, seed=11), folder)
    return folder / "feed.nmea"


@pytest.fixture(scope="module")
def database(feed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("lakedb") / "x.duckdb"
    ingest_paths([feed], db)
    return db


def test_layout_partitions_by_day_and_bucket(feed: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    report = ingest_lake([feed], str(root))
    assert report.added["positions"] > 1000
    lake = Lake(str(root))
    assert lake.buckets == 16
    assert lake.days() == ["2024-03-01", "2024-03-02"]  # 30 h from midnight: two days
    parts = sorted(root.glob("positions/day=*/bucket=*/part-*.parquet"))
    assert parts and not list(root.rglob("*.tmp"))
    for part in parts:
        frame = pl.read_parquet(part)
        day = part.parts[-3].removeprefix("day=")
        bucket = int(part.parts[-2].removeprefix("bucket="))
        assert (frame["mmsi"].cast(pl.Int64) % 16 == bucket).all()
        assert (frame["ts"].dt.date().cast(pl.String) == day).all()
    # rejects (no MMSI, no time) have their partition too
    assert list(root.glob("rejects/day=none/bucket=00/part-*.parquet"))
    assert json.loads((root / "_lake.json").read_text())["buckets"] == 16


def test_lake_holds_what_the_database_holds(feed: Path, database: Path, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"), buckets=4)
    ingest_lake([feed], lake)
    with Store(database, read_only=True) as store:
        for table in ("positions", "static", "rejects"):
            want = store.table(table)
            got = lake.read(table)
            assert got.height == want.height > 0, table
            keys = SORT if table != "rejects" else ["source", "line_no"]
            assert got.sort(keys).equals(want.select(got.columns).sort(keys)), table


def test_reingest_adds_nothing_even_forced(feed: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    first = ingest_lake([feed], root)
    again = ingest_lake([feed], root)
    assert again.already_ingested == first.sources and not again.added
    forced = ingest_lake([feed], root, force=True)
    assert forced.n_messages == first.n_messages
    assert sum(forced.added.values()) == 0
    assert Lake(root).read("positions").height == first.added["positions"]


def test_interrupted_ingest_ends_with_the_same_rows(feed: Path, tmp_path: Path) -> None:
    lines = feed.read_bytes().splitlines(keepends=True)
    head = tmp_path / "feed.nmea"
    head.write_bytes(b"".join(lines[: len(lines) // 3]))  # as if killed a third of the way
    root = str(tmp_path / "lake")
    ingest_lake([head], root, commit_rows=5_000)
    head.write_bytes(b"".join(lines))  # the same source, now complete: read again
    ingest_lake([head], root, commit_rows=5_000)
    whole = ingest_lake([feed], str(tmp_path / "whole"))
    assert Lake(root).read("positions").height == whole.added["positions"]


def test_memory_url_and_events_replace_by_id() -> None:
    lake = Lake(f"memory://seasight-{uuid.uuid4().hex}", buckets=8)
    t0 = datetime(2024, 3, 1, 22, tzinfo=UTC)
    ev = pl.DataFrame({
        "event_id": ["a", "b"], "kind": ["gap", "loitering"], "mmsi": [9, 10],
        "start": [t0, t0], "end": [t0, t0], "is_open": [True, True],
    })
    assert lake.write_events(ev) == 2
    assert [p.bucket for p in lake.partitions("events")] == [1, 2]
    closed = ev.head(1).with_columns(pl.lit(False).alias("is_open"),
                                     pl.lit(datetime(2024, 3, 2, 3, tzinfo=UTC)).alias("end"))
    lake.write_events(closed)
    got = lake.read("events").sort("event_id")
    assert got["event_id"].to_list() == ["a", "b"]
    assert got["is_open"].to_list() == [False, True]
    # a detection over all data that no longer finds the open 'b' retires it
    lake.replace_open_events(closed, ["gap", "loitering"])
    assert lake.read("events")["event_id"].to_list() == ["a"]


def test_export_from_a_database(database: Path) -> None:
    lake = Lake(f"memory://seasight-{uuid.uuid4().hex}")
    with Store(database, read_only=True) as store:
        written = export_lake(store, lake, batch_rows=10_000)
        assert written["positions"] == store.count("positions")
        assert written["rejects"] == store.count("rejects")
        again = export_lake(store, lake)
    assert again["positions"] == 0 and again["static"] == 0 and again["rejects"] == 0
    assert lake.read("positions").height == written["positions"]


def test_a_repeat_across_midnight_is_dropped(tmp_path: Path) -> None:
    """A reception stored in one day's partition and another station's reception of the same
    message a second later, after midnight, in the next day's: stored once."""
    from seasight.ais import decode_nmea

    lake = Lake(str(tmp_path / "m"), buckets=4)
    payload = "!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24"
    first = decode_nmea(f"\\s:north,c:1709337599*{_tag_sum('s:north,c:1709337599')}\\"
                        f"{payload}\n".encode())
    second = decode_nmea(f"\\s:south,c:1709337600*{_tag_sum('s:south,c:1709337600')}\\"
                         f"{payload}\n".encode())
    assert first.positions.height == second.positions.height == 1
    assert lake.append_batch(first)["positions"] == 1
    assert lake.append_batch(second)["positions"] == 0
    assert [p.day for p in lake.partitions("positions")] == ["2024-03-01"]


def _tag_sum(body: str) -> str:
    check = 0
    for ch in body.encode():
        check ^= ch
    return f"{check:02X}"


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "l"), buckets=4)
    lake.write_events(pl.DataFrame({"event_id": ["x"], "kind": ["gap"], "mmsi": [1],
                                    "start": [datetime(2024, 1, 1, tzinfo=UTC)]}))
    with pytest.raises(ValueError, match="4 buckets"):
        Lake(str(tmp_path / "l"), buckets=8)
    with pytest.raises(ValueError, match="unknown table"):
        lake.read("nope")
    with pytest.raises(ValueError, match="no column"):
        lake.read("positions", columns=["mmsi", "speed"])
    with pytest.raises(ValueError, match="at least 1"):
        Lake(str(tmp_path / "m"), buckets=0)
    assert bucket_of(123456789, 16) == 123456789 % 16
    assert lake.read("positions").height == 0  # an empty table reads as an empty frame


def test_cli_ingest_lake(feed: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    result = runner.invoke(app, ["ingest", str(feed), "--lake", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_added"]["positions"] > 1000
    again = runner.invoke(app, ["ingest", str(feed), "--lake", str(root), "--json"])
    assert json.loads(again.stdout)["rows_added"] == {}
    assert not (tmp_path / "seasight.duckdb").exists()
    bad = runner.invoke(app, ["ingest", "--udp", "10110", "--lake", str(root)])
    assert bad.exit_code == 2


def test_cli_export_lake(database: Path, tmp_path: Path) -> None:
    root = tmp_path / "exported"
    result = runner.invoke(app, ["export", "--lake", str(root), "--db", str(database)])
    assert result.exit_code == 0, result.output
    with Store(database, read_only=True) as store:
        assert Lake(str(root)).read("positions").height == store.count("positions")
    # a whole-database copy is not an organisation's export
    mixed = runner.invoke(app, ["export", "events", "--lake", str(root), "--db", str(database)])
    assert mixed.exit_code != 0 and "--lake" in mixed.output
    missing = runner.invoke(app, ["export", "--db", str(database)])
    assert missing.exit_code != 0 and "--out" in missing.output
