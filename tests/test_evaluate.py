"""Scoring detected events against ground truth, and storing events repeatably."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from seasight.analysis.evaluate import evaluate, load_truth
from seasight.events.formats import event_records, events_csv, events_geojson
from seasight.events.model import events_frame
from seasight.store import Store

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def truth_file(tmp_path: Path) -> Path:
    truth = {
        "scenario": "unit", "seed": 1,
        "events": [
            {"kind": "gap", "mmsi": [111], "start": _iso(_h(1)), "end": _iso(_h(20)),
             "lat": 10.0, "lon": 90.0},
            {"kind": "encounter", "mmsi": [222, 333], "start": _iso(_h(5)),
             "end": _iso(_h(9)), "lat": 30.0, "lon": 125.0},
            {"kind": "zone_entry", "mmsi": [444], "start": _iso(_h(3)), "end": _iso(_h(3)),
             "zone": "Reef"},
            {"kind": "loitering", "mmsi": [555], "start": _iso(_h(2)), "end": _iso(_h(5))},
        ],
        "lookalikes": [
            {"kind": "passing", "mmsi": [666, 777], "start": _iso(_h(4)), "end": _iso(_h(4.2))},
        ],
    }
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(truth))
    return path


def _events(rows: list[dict[str, object]]) -> pl.DataFrame:
    return events_frame(rows, detector="test/1")


def test_perfect_detection_scores_one(truth_file: Path) -> None:
    found = _events([
        {"kind": "gap", "mmsi": 111, "start": _h(1.05), "end": _h(19.9)},
        {"kind": "encounter", "mmsi": 222, "other_mmsi": 333, "start": _h(5.1), "end": _h(9)},
        {"kind": "zone_entry", "mmsi": 444, "start": _h(3.2), "zone": "reef"},
        {"kind": "loitering", "mmsi": 555, "start": _h(2), "end": _h(5)},
    ])
    scores = {s.kind: s for s in evaluate(found, load_truth(truth_file))}
    assert set(scores) == {"gap", "encounter", "zone_entry", "loitering"}
    for s in scores.values():
        assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0), s


def test_misses_false_alarms_and_lookalikes_are_counted(truth_file: Path) -> None:
    found = _events([
        # encounter with the vessels the other way round still matches
        {"kind": "encounter", "mmsi": 333, "other_mmsi": 222, "start": _h(5), "end": _h(8)},
        # the same encounter reported twice: the second is a false positive
        {"kind": "encounter", "mmsi": 222, "other_mmsi": 333, "start": _h(5.5), "end": _h(8)},
        # a passing look-alike reported as an encounter
        {"kind": "encounter", "mmsi": 666, "other_mmsi": 777, "start": _h(4), "end": _h(6)},
        # zone entry into the wrong zone and too late
        {"kind": "zone_entry", "mmsi": 444, "start": _h(3.1), "zone": "Elsewhere"},
        {"kind": "zone_entry", "mmsi": 444, "start": _h(6), "zone": "Reef"},
    ])
    scores = {s.kind: s for s in evaluate(found, load_truth(truth_file))}
    enc = scores["encounter"]
    assert (enc.n_truth, enc.n_detected, enc.n_matched_truth) == (1, 3, 1)
    assert enc.precision == pytest.approx(1 / 3) and enc.recall == 1.0
    assert enc.n_lookalike_hits == 1
    assert scores["zone_entry"].recall == 0.0 and scores["zone_entry"].precision == 0.0
    assert scores["gap"].recall == 0.0 and scores["gap"].precision == 1.0


def test_truth_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nothing": []}))
    with pytest.raises(ValueError, match="not a SeaSight truth file"):
        load_truth(bad)


def test_events_upsert_is_idempotent_and_extends_open_events(tmp_path: Path) -> None:
    open_gap = _events([
        {"kind": "gap", "mmsi": 111, "start": _h(1), "end": _h(14), "is_open": True,
         "lat": 10.0, "lon": 90.0, "score": 0.7, "evidence": {"duration_h": 13}},
        {"kind": "loitering", "mmsi": 555, "start": _h(2), "end": _h(5)},
    ])
    with Store(tmp_path / "ev.duckdb") as store:
        assert store.upsert_events(open_gap) == (2, 0, 0)
        assert store.upsert_events(open_gap) == (0, 0, 0)
        closed = open_gap.with_columns(
            pl.when(pl.col("kind") == "gap").then(pl.lit(_h(20))).otherwise(pl.col("end"))
            .alias("end"),
            pl.lit(False).alias("is_open"),
        )
        before = store.last_rowid("events")
        assert store.upsert_events(closed) == (0, 1, 0)
        # the changed event is stored anew, after the rows a follower (the stream) has read
        moved = store.query("SELECT kind FROM events WHERE rowid > ?", [before])
        assert moved["kind"].to_list() == ["gap"]
        stored = store.table("events").sort("kind")
        assert stored.height == 2
        gap = stored.row(0, named=True)
        assert gap["end"] == _h(20) and gap["is_open"] is False


def test_event_formats_follow_the_cli_contract() -> None:
    found = _events([
        {"kind": "encounter", "mmsi": 222, "other_mmsi": 333, "start": _h(5), "end": _h(9),
         "lat": 30.5, "lon": 125.25, "score": 0.9, "evidence": {"median_distance_m": 120}},
        {"kind": "zone_exit", "mmsi": 444, "start": _h(3), "zone": "Reef", "lat": 9.7,
         "lon": 115.9},
    ])
    recs = list(event_records(found))
    enc = next(r for r in recs if r["kind"] == "encounter")
    assert enc["mmsi"] == [222, 333]
    assert enc["start"] == "2024-03-01T05:00:00Z" and enc["end"] == "2024-03-01T09:00:00Z"
    assert enc["evidence"] == {"median_distance_m": 120}
    zone = next(r for r in recs if r["kind"] == "zone_exit")
    assert zone["mmsi"] == [444] and zone["zone"] == "Reef"
    geo = events_geojson(found)
    assert geo["type"] == "FeatureCollection"
    assert geo["features"][0]["geometry"]["type"] == "Point"
    lines = events_csv(found).splitlines()
    assert lines[0].startswith("event_id,kind,start,end,mmsi,other_mmsi")
    assert len(lines) == 3


def test_stale_open_events_are_retired_closed_ones_kept(tmp_path: Path) -> None:
    first = _events([
        {"kind": "loitering", "mmsi": 555, "start": _h(2), "end": _h(5), "is_open": True},
        {"kind": "loitering", "mmsi": 556, "start": _h(1), "end": _h(3), "is_open": False},
    ])
    later = _events([
        {"kind": "loitering", "mmsi": 555, "start": _h(2.5), "end": _h(7), "is_open": False},
    ])
    with Store(tmp_path / "ev.duckdb") as store:
        store.upsert_events(first)
        assert store.upsert_events(later, retire_open=["loitering"]) == (1, 0, 1)
        kept = store.table("events").sort("mmsi")
        assert kept["mmsi"].to_list() == [555, 556]
        assert kept["start"].to_list() == [_h(2.5), _h(1)]
