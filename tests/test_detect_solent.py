"""Detection on real data: 84 minutes of AIS in the Solent (18,623 fixes from 91 vessels), and
the ``detect`` / ``events`` / ``evaluate`` command-line contract."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seasight.analysis.detection import detect_store
from seasight.cli import app
from seasight.ingest.pipeline import ingest_paths
from seasight.store import Store

SOLENT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tracks" / \
    "solent_ais_20160112.csv"

runner = CliRunner()


@pytest.fixture(scope="module")
def solent_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("solent") / "solent.duckdb"
    ingest_paths([SOLENT], db)
    result = runner.invoke(app, ["detect", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return db


def _events(db: Path, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["events", "--db", str(db), "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_solent_events_are_plausible(solent_db: Path) -> None:
    events = _events(solent_db)
    kinds = Counter(e["kind"] for e in events)
    # Pinned: 61 vessels in Portsmouth Harbour (the naval base, ferry berths, Gosport) make port
    # visits; 3 ships at anchor in St Helens Roads, within 3 km of Global Fishing Watch's
    # SAINT HELENS anchorages, visit that port; 6 ships anchored farther out (the Nab anchorage
    # east of the Isle of Wight, beyond every named anchorage) loiter: slow for over an hour,
    # outside every port area. Nothing else: 84 minutes hold no 12-hour gap, no two-hour
    # encounter, and these are honest transmitters.
    assert kinds == {"port_visit": 64, "loitering": 6}
    visits = Counter(e["zone"] for e in events if e["kind"] == "port_visit")
    assert visits == {"Portsmouth": 61, "Saint Helens": 3}
    for e in events:
        if e["kind"] == "loitering":
            assert 50.55 < e["lat"] < 50.85 and -1.10 < e["lon"] < -0.95, e
            assert e["evidence"]["avg_speed_kn"] < 2.0
            assert e["evidence"]["duration_h"] >= 1.0
    # ferries at their berths are port visits, never encounters
    assert not any(e["kind"] == "encounter" for e in events)


def test_detecting_again_adds_nothing(solent_db: Path) -> None:
    with Store(solent_db) as store:
        before = store.count("events")
        again = detect_store(store)
        assert (again.added, again.updated) == (0, 0)
        assert store.count("events") == before
        assert store.count("segments") == 91


def test_events_filters_and_formats(solent_db: Path) -> None:
    loiter = _events(solent_db, "--kind", "loitering")
    assert len(loiter) == 6 and all(len(e["mmsi"]) == 1 for e in loiter)
    late = _events(solent_db, "--since", "2016-01-12T14:25:00Z")
    assert 0 < len(late) < 70
    assert all(e["end"] >= "2016-01-12T14:25:00Z" for e in late)
    geo = runner.invoke(app, ["events", "--db", str(solent_db), "--geojson"])
    assert geo.exit_code == 0
    features = json.loads(geo.stdout)["features"]
    assert len(features) == 70 and features[0]["geometry"]["type"] == "Point"
    table = runner.invoke(app, ["events", "--db", str(solent_db), "--csv"])
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert len(rows) == 70 and {r["kind"] for r in rows} == {"port_visit", "loitering"}


def test_bad_parameters_are_usage_errors(solent_db: Path, tmp_path: Path) -> None:
    bad_kind = runner.invoke(app, ["events", "--db", str(solent_db), "--kind", "piracy"])
    assert bad_kind.exit_code == 2 and "piracy" in bad_kind.output
    bad_time = runner.invoke(app, ["events", "--db", str(solent_db), "--since", "yesterday"])
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    missing = runner.invoke(app, ["events", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no such database" in missing.output
    zones = tmp_path / "bad.geojson"
    zones.write_text("{not json")
    bad_zone = runner.invoke(app, ["detect", "--db", str(solent_db), "--zones", str(zones)])
    assert bad_zone.exit_code == 1 and "bad.geojson" in bad_zone.output


def test_zone_events_from_a_user_zone(solent_db: Path, tmp_path: Path) -> None:
    # Portsmouth Harbour mouth as a zone: ferries cross it in and out during 84 minutes.
    zone = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Harbour mouth"},
        "geometry": {"type": "Polygon", "coordinates": [[
            [-1.125, 50.785], [-1.095, 50.785], [-1.095, 50.800], [-1.125, 50.800],
            [-1.125, 50.785]]]}}]}
    path = tmp_path / "mouth.geojson"
    path.write_text(json.dumps(zone))
    db = tmp_path / "copy.duckdb"
    shutil.copy(solent_db, db)  # leave the shared database as the other tests expect it
    result = runner.invoke(app, ["detect", "--db", str(db), "--zones", str(path),
                                 "--kind", "zone_entry", "--kind", "zone_exit", "--json"])
    assert result.exit_code == 0, result.output
    entries = _events(db, "--kind", "zone_entry")
    exits = _events(db, "--kind", "zone_exit")
    assert entries and exits
    assert {e["zone"] for e in entries + exits} == {"Harbour mouth"}
    for e in entries:
        assert e["start"] == e["end"]
    # the zone is kept in the database: a later run without --zones still watches it
    with Store(db) as store:
        assert [z.name for z in store.zones()] == ["Harbour mouth"]
        again = detect_store(store)
        assert (again.added, again.updated, again.removed) == (0, 0, 0)
        assert store.delete_zone("Harbour mouth") and not store.zones()
