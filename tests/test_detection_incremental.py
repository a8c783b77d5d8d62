"""Detection as data arrives: running it again adds nothing, and running it after more data
extends or closes the events that were still open instead of adding new ones. The result of
detecting in two steps equals detecting once over all the data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from seasight.analysis.detection import detect_store
from seasight.geo.zones import load_zones
from seasight.ingest.pipeline import ingest_paths
from seasight.sim import simulate, write_simulation
from seasight.store import Store


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("incremental")
    write_simulation(simulate("indo-pacific", hours=40, vessels=120, seed=5), folder)
    return folder


def _split(feed: Path, folder: Path) -> tuple[Path, Path]:
    """The feed cut in two at the line closest to 60 % of the file."""
    lines = (feed / "feed.nmea").read_bytes().splitlines(keepends=True)
    cut = int(len(lines) * 0.6)
    first, second = folder / "part1.nmea", folder / "part2.nmea"
    first.write_bytes(b"".join(lines[:cut]))
    second.write_bytes(b"".join(lines[cut:]))
    return first, second


def _events(store: Store) -> pl.DataFrame:
    return store.table("events").drop("detector").sort("event_id")


def test_two_step_detection_equals_one_pass(feed: Path, tmp_path: Path) -> None:
    zones = load_zones([feed / "zones.geojson"])
    with Store(tmp_path / "once.duckdb") as once:
        ingest_paths([feed / "feed.nmea"], store=once)
        detect_store(once, zones)
        expected = _events(once)
    part1, part2 = _split(feed, tmp_path)
    with Store(tmp_path / "steps.duckdb") as steps:
        ingest_paths([part1], store=steps)
        first = detect_store(steps, zones)
        assert first.added > 0
        open_before = steps.count("events")
        assert steps.query("SELECT count(*) AS n FROM events WHERE is_open")["n"][0] > 0
        again = detect_store(steps, zones)
        assert (again.added, again.updated, again.removed) == (0, 0, 0)
        assert steps.count("events") == open_before
        ingest_paths([part2], store=steps)
        second = detect_store(steps, zones)
        assert second.updated > 0  # open events were extended or closed
        got = _events(steps)
    assert got["event_id"].to_list() == expected["event_id"].to_list()
    assert got.equals(expected)
