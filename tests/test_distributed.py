"""The distributed engine gives exactly the events of the single-process run.

The proof: a simulated 72-hour scenario (80 vessels, three days) with encounters planted on
the corners of the 5-degree encounter tiles and lasting 14-30 hours, so that events cross both
day and tile boundaries, runs through :func:`seasight.analysis.detection.detect_events` in this
process
and through :func:`seasight.distributed.detect_lake` on a 2-worker Dask LocalCluster; the two
sets of events are compared on (event_id, kind, mmsi, other_mmsi, start, end, is_open).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.analysis.detection import POSITION_COLUMNS, detect_events
from seasight.cli import app
from seasight.distributed import detect_lake, make_client
from seasight.distributed.tiles import assign_tiles, event_tiles, near_edge, tile_of
from seasight.geo.zones import Zone, load_zones
from seasight.lake import Lake, ingest_lake
from seasight.sim import simulate, write_simulation
from seasight.sim.scenario import EncounterPlant, get_scenario
from seasight.store import Store

COMPARED = ["event_id", "kind", "mmsi", "other_mmsi", "start", "end", "is_open"]
TILE_DEG = 5.0
MARGIN_DEG = 0.25
#: Workers as processes (True) or threads of this process (False, faster to start).
PROCESSES = True
runner = CliRunner()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, list[Zone], Path]:
    base = get_scenario("indo-pacific")
    corners = [(10.0, 115.0), (15.0, 115.0), (5.0, 110.0)]  # tile corners, at sea
    extra = tuple(
        EncounterPlant(lat, lon, hours=(14.0, 30.0), ports_a=("SGSIN", "MYTPP", "VNVUT"),
                       ports_b=("HKHKG", "PHMNL", "CNYTN"))
        for lat, lon in corners)
    sc = dataclasses.replace(base, encounters=base.encounters + extra)
    folder = tmp_path_factory.mktemp("distributed")
    write_simulation(simulate(sc, hours=72, vessels=80, seed=1), folder)
    lake = Lake(str(folder / "lake"), buckets=8)
    ingest_lake([folder / "feed.nmea"], lake)
    return lake, load_zones([folder / "zones.geojson"]), folder


@pytest.fixture(scope="module")
def reference(scenario: tuple[Lake, list[Zone], Path]) -> pl.DataFrame:
    lake, zones, _ = scenario
    positions = lake.read("positions", columns=list(POSITION_COLUMNS)).filter(
        pl.col("ts").is_not_null() & pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    static = lake.read("static").filter(pl.col("ts").is_not_null())
    horizon = positions["ts"].max()
    assert isinstance(horizon, datetime)
    return detect_events(positions, static, zones, horizon_end=horizon).events


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    c = make_client(workers=2, processes=PROCESSES)
    try:
        yield c
    finally:
        c.close()
        c.cluster.close()


def test_two_workers_find_exactly_the_single_process_events(
    scenario: tuple[Lake, list[Zone], Path], reference: pl.DataFrame, client: Any
) -> None:
    lake, zones, _ = scenario
    ticks: list[tuple[int, int]] = []
    got = detect_lake(lake, client, zones, tile_deg=TILE_DEG, margin_deg=MARGIN_DEG,
                      progress=lambda done, total: ticks.append((done, total)))
    assert got.days == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert ticks and ticks[-1][0] == ticks[-1][1] == got.tasks
    assert not (Path(lake.root) / "_scratch").exists()  # the tile shuffle is cleaned up
    assert got.encounters_at_tile_edge == 0
    want = reference.select(COMPARED).sort("event_id")
    have = got.events.select(COMPARED).sort("event_id")
    assert have["event_id"].is_unique().all()
    assert have.equals(want), (
        f"only single-process: {want.join(have, on='event_id', how='anti')}\n"
        f"only distributed: {have.join(want, on='event_id', how='anti')}")
    # the scenario proves something: every kind the detectors know of shows up ...
    kinds = set(want["kind"].to_list())
    assert {"encounter", "gap", "loitering", "port_visit", "zone_entry", "zone_exit",
            "spoofing", "identity_change"} <= kinds
    # ... events span midnight, encounters among them ...
    crossing = want.filter(pl.col("start").dt.date() != pl.col("end").dt.date())
    assert crossing.height >= 10
    assert crossing.filter(pl.col("kind") == "encounter").height >= 2
    assert crossing.filter(pl.col("kind") != "encounter")["kind"].n_unique() >= 3
    # ... and encounters lie across tile edges, so that neighbouring tiles see them too
    enc = reference.filter(pl.col("kind") == "encounter")
    row, col = event_tiles(enc, TILE_DEG)
    r_ev, c_ev = tile_of(enc["lat"].to_numpy(), enc["lon"].to_numpy(), TILE_DEG)
    near_edge = [
        min(abs(v / TILE_DEG - round(v / TILE_DEG)) * TILE_DEG for v in (lat, lon)) < 0.05
        for lat, lon in zip(enc["lat"].to_list(), enc["lon"].to_list(), strict=True)
    ]
    assert sum(near_edge) >= 3
    assert ((row != r_ev) | (col != c_ev)).any() or sum(near_edge) >= 3


def test_cli_detect_over_a_lake(scenario: tuple[Lake, list[Zone], Path],
                                reference: pl.DataFrame, client: Any, tmp_path: Path) -> None:
    lake, _, folder = scenario
    db = tmp_path / "events.duckdb"
    result = runner.invoke(app, ["detect", "--lake", lake.root, "--engine", "dask",
                                 "--scheduler", client.scheduler.address, "--kind", "gap",
                                 "--kind", "spoofing", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    want = reference.filter(pl.col("kind").is_in(["gap", "spoofing"]))
    assert sum(summary["events"].values()) == want.height == summary["added"]
    with Store(db, read_only=True) as store:
        assert sorted(store.table("events")["event_id"]) == sorted(want["event_id"])
    stored = lake.read("events")
    assert sorted(stored["event_id"]) == sorted(want["event_id"])
    assert not (folder / "seasight.duckdb").exists()


def test_cli_detect_usage_errors(scenario: tuple[Lake, list[Zone], Path],
                                 tmp_path: Path) -> None:
    lake, _, _ = scenario
    bad_engine = runner.invoke(app, ["detect", "--lake", lake.root, "--engine", "spark"])
    assert bad_engine.exit_code == 2
    no_lake = runner.invoke(app, ["detect", "--db", str(tmp_path / "x.duckdb"),
                                  "--scheduler", "tcp://127.0.0.1:1"])
    assert no_lake.exit_code == 2
    empty = runner.invoke(app, ["detect", "--lake", str(tmp_path / "nothing")])
    assert empty.exit_code == 1 and "no positions" in empty.output


def test_tiles_cover_the_margin_and_wrap_the_antimeridian() -> None:
    points = pl.DataFrame({
        "lat": [12.0, 14.99, -0.1], "lon": [179.9, 102.0, 0.0],
        "prev_lat": [None, None, None], "prev_lon": [None, None, None],
        "next_lat": [None, 15.2, None], "next_lon": [None, 102.0, None],
    }, schema_overrides={c: pl.Float64 for c in ("prev_lat", "prev_lon", "next_lat",
                                                "next_lon")})
    tiled = assign_tiles(points, 5.0, 0.25)
    cells = {(int(r), int(c)) for r, c in zip(tiled["tile_row"], tiled["tile_col"],
                                              strict=True)}
    by_point = tiled.group_by("lat").agg(pl.struct("tile_row", "tile_col").alias("t"))
    counts = dict(zip(by_point["lat"].to_list(), [len(t) for t in by_point["t"]], strict=True))
    assert counts[12.0] == 2  # near the antimeridian: its tile and the one across
    assert (20, 0) in cells and (20, 71) in cells
    assert counts[14.99] == 2  # its own tile and the one north of it (its next leg)
    assert counts[-0.1] == 4  # a corner of four tiles
    r, c = tile_of(np.array([-90.0, 90.0]), np.array([-180.0, 180.0]), 5.0)
    assert list(r) == [0, 35] and list(c) == [0, 0]
    with pytest.raises(ValueError):
        assign_tiles(points, 0.0, 0.25)


def test_encounters_reaching_beyond_the_margin_are_flagged(reference: pl.DataFrame) -> None:
    enc = reference.filter(pl.col("kind") == "encounter")
    row, col = event_tiles(enc, TILE_DEG)
    own = [near_edge(enc[i : i + 1], (int(row[i]), int(col[i])), TILE_DEG, MARGIN_DEG, 500.0)[0]
           for i in range(enc.height)]
    assert not any(own)  # slow drifting pairs stay well inside their tile and its margin
    # seen from a tile two columns away, the same encounters are far outside
    far = [near_edge(enc[i : i + 1], (int(row[i]), int(col[i]) + 2), TILE_DEG, MARGIN_DEG,
                     500.0)[0] for i in range(enc.height)]
    assert all(far)


def test_engine_rejects_bad_parameters(scenario: tuple[Lake, list[Zone], Path],
                                       client: Any) -> None:
    lake, zones, _ = scenario
    with pytest.raises(ValueError, match="unknown event kind"):
        detect_lake(lake, client, zones, kinds=["teleport"])
    with pytest.raises(ValueError, match="margin_deg"):
        detect_lake(lake, client, zones, margin_deg=0.001)
