"""The traffic simulator: determinism, geography, truth consistency and the noisy feed.

The truth is checked against the clean reports by re-deriving each definition here, in the
simplest way (so a mistake in the simulator's truth and one in a detector cannot agree by
accident): gaps, encounters, loitering, zone crossings, spoofing, identity changes, and the
look-alikes.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.spatial import cKDTree
from typer.testing import CliRunner

from seasight.ais import decode_nmea
from seasight.cli import app
from seasight.geo.distance import KM_PER_NM, haversine_km, unit_vectors
from seasight.geo.land import distance_to_shore_km, on_land
from seasight.geo.port_areas import port_areas
from seasight.geo.ports import PORT_RADIUS_KM, nearest_port
from seasight.geo.zones import load_zones, zone_membership
from seasight.model.schema import POSITIONS, STATIC
from seasight.sim import Simulation, build_feed, simulate, write_simulation
from seasight.sim.feed import Feed
from seasight.store.dedup import drop_duplicates

EVENT_KINDS = {"gap", "encounter", "loitering", "port_visit", "zone_entry", "zone_exit",
               "spoofing", "identity_change"}
LOOKALIKE_KINDS = {"short_dropout", "passing", "convoy", "slowdown", "anchored_together"}
SEED = 11


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate("indo-pacific", hours=48, vessels=70, seed=SEED)


@pytest.fixture(scope="module")
def feed(sim: Simulation) -> Feed:
    return build_feed(sim)


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _tracks(sim: Simulation) -> dict[int, pl.DataFrame]:
    """Clean positions per MMSI, by time (all transmitters of an MMSI together)."""
    p = sim.positions.with_columns(t=pl.col("ts").dt.epoch("s").cast(pl.Float64))
    return {int(k[0]): g.sort("t") for k, g in p.group_by("mmsi")}  # type: ignore[index]


def _events(sim: Simulation, kind: str) -> list[dict[str, Any]]:
    return [e for e in sim.truth["events"] if e["kind"] == kind]


def _grid(track: pl.DataFrame, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = track["t"].to_numpy()
    return (np.interp(grid, t, track["lat"].to_numpy()),
            np.interp(grid, t, track["lon"].to_numpy()))


# -- determinism and shape ----------------------------------------------------------------------


def test_same_seed_same_simulation(sim: Simulation) -> None:
    again = simulate("indo-pacific", hours=48, vessels=70, seed=SEED)
    assert again.positions.equals(sim.positions)
    assert again.static.equals(sim.static)
    assert again.truth == sim.truth
    other = simulate("indo-pacific", hours=48, vessels=70, seed=SEED + 1)
    assert not other.positions.equals(sim.positions)


def test_frames_follow_the_schemas(sim: Simulation) -> None:
    assert sim.positions.schema == pl.Schema(POSITIONS)
    assert sim.static.schema == pl.Schema(STATIC)
    assert len(sim.plan.vessels) == 70 == sim.truth["vessels"]
    assert sim.positions["mmsi"].n_unique() == 70
    types = set(sim.positions["msg_type"].unique().to_list())
    assert {1, 3, 18} <= types <= {1, 3, 18, 19}
    assert {5, 24} <= set(sim.static["msg_type"].unique().to_list())
    ts = sim.positions["ts"]
    assert ts.min() >= sim.start and (ts.max() - sim.start).total_seconds() < 48 * 3600
    # class A reports every ~2-6 minutes when heard by terrestrial stations
    dt = (sim.positions.sort("mmsi", "ts").group_by("mmsi", maintain_order=True)
          .agg(pl.col("ts").diff().dt.total_seconds().median())["ts"])
    assert 100 < float(dt.median()) < 400


def test_no_position_on_land(sim: Simulation) -> None:
    lat, lon = sim.positions["lat"].to_numpy(), sim.positions["lon"].to_numpy()
    assert not on_land(lat, lon).any()


def test_vessels_in_port_lie_at_berth(sim: Simulation) -> None:
    moored = sim.positions.filter(pl.col("nav_status") == 5)
    assert moored.height > 100
    _, d = nearest_port(moored["lat"].to_numpy(), moored["lon"].to_numpy())
    assert (d < PORT_RADIUS_KM).all()
    assert (moored["sog"] < 0.5).all()


# -- the truth, re-derived from the clean positions ---------------------------------------------


def test_truth_records_are_well_formed(sim: Simulation) -> None:
    truth = sim.truth
    assert truth["scenario"] == "indo-pacific" and truth["seed"] == SEED
    assert {e["kind"] for e in truth["events"]} == EVENT_KINDS
    assert {e["kind"] for e in truth["lookalikes"]} <= LOOKALIKE_KINDS
    for e in truth["events"] + truth["lookalikes"]:
        assert isinstance(e["mmsi"], list) and e["mmsi"]
        assert e["start"].endswith("Z") and _t(e["start"]) <= _t(e["end"])
        assert -90 <= e["lat"] <= 90 and -180 <= e["lon"] <= 180
        if e["kind"] in ("zone_entry", "zone_exit", "port_visit"):
            assert e["zone"]
    wl = truth["watchlist"][0]
    assert wl["program"].startswith("DPRK") and wl["imo"]
    sts = [e for e in _events(sim, "encounter") if "watchlist" in e]
    assert len(sts) == 1 and wl["mmsi"] in sts[0]["mmsi"]
    assert 28 <= sts[0]["lat"] <= 33 and 122 <= sts[0]["lon"] <= 127  # East China Sea
    static = sim.static.filter(pl.col("mmsi") == wl["mmsi"], pl.col("msg_type") == 5)
    assert set(static["imo"].to_list()) == {wl["imo"]}
    assert set(static["shipname"].to_list()) == {wl["name"]}


def test_gaps_are_silences_of_12_hours_far_from_shore(sim: Simulation) -> None:
    tracks = _tracks(sim)
    gaps = _events(sim, "gap")
    assert len(gaps) == 1
    g = gaps[0]
    assert 6 <= g["lat"] <= 15 and 92 <= g["lon"] <= 99  # the Andaman Sea
    t = tracks[g["mmsi"][0]]["t"].to_numpy()
    a, b = _t(g["start"]), _t(g["end"])
    assert a in t and b in t and not ((t > a) & (t < b)).any()
    assert b - a >= 13 * 3600
    assert distance_to_shore_km(g["lat"], g["lon"]) >= 50 * KM_PER_NM
    # every silence of 12 h or more far from shore is in the truth
    found = set()
    for mmsi, tr in tracks.items():
        t = tr["t"].to_numpy()
        for i in np.flatnonzero(np.diff(t) >= 12 * 3600):
            shore = distance_to_shore_km(tr["lat"][int(i)], tr["lon"][int(i)])
            if shore >= 50 * KM_PER_NM:
                found.add((mmsi, t[i]))
    assert found == {(g["mmsi"][0], _t(g["start"])) for g in gaps}


def _slow_pairs(sim: Simulation, step_s: float = 600.0) -> dict[tuple[int, int], float]:
    """Hours that each pair of MMSIs spent within 500 m of each other, both slow (< 2 kn) and
    at least 10 km from any port, on a regular time grid (pairs found per grid time with a
    k-d tree, not by looping over all pairs)."""
    tracks = _tracks(sim)
    grid = np.arange(0, 48 * 3600, step_s) + sim.start.timestamp()
    mmsis = sorted(tracks)
    lat = np.full((len(mmsis), len(grid)), np.nan)
    lon = np.full_like(lat, np.nan)
    slow = np.zeros_like(lat, dtype=bool)
    for k, m in enumerate(mmsis):
        tr = tracks[m]
        t = tr["t"].to_numpy()
        inside = (grid >= t[0]) & (grid <= t[-1])
        lat[k, inside], lon[k, inside] = (x[inside] for x in _grid(tr, grid))
        sog = np.interp(grid, t, tr["sog"].to_numpy())
        slow[k] = inside & (sog < 2.0)
    hours: dict[tuple[int, int], float] = {}
    for j in range(len(grid)):
        ok = np.flatnonzero(slow[:, j])
        if len(ok) < 2:
            continue
        tree = cKDTree(unit_vectors(lat[ok, j], lon[ok, j]))
        for a, b in tree.query_pairs(0.5 / 6371.0):
            i1, i2 = ok[a], ok[b]
            _, d = nearest_port(lat[[i1, i2], j], lon[[i1, i2], j])
            if (d >= 10.0).all():
                key = (mmsis[min(i1, i2)], mmsis[max(i1, i2)])
                hours[key] = hours.get(key, 0.0) + step_s / 3600.0
    return hours


def test_encounters_are_the_only_slow_meetings_at_sea(sim: Simulation) -> None:
    encounters = _events(sim, "encounter")
    assert len(encounters) == 2
    pairs = {k: h for k, h in _slow_pairs(sim).items() if h >= 1.5}
    assert set(pairs) == {tuple(sorted(e["mmsi"])) for e in encounters}
    tracks = _tracks(sim)
    for e in encounters:
        a, b = _t(e["start"]), _t(e["end"])
        assert 2.5 * 3600 <= b - a <= 8.5 * 3600
        grid = np.arange(a, b, 300.0)
        (la1, lo1), (la2, lo2) = (_grid(tracks[m], grid) for m in e["mmsi"])
        assert haversine_km(la1, lo1, la2, lo2).max() < 0.3
        for m in e["mmsi"]:
            tr = tracks[m].filter((pl.col("t") >= a) & (pl.col("t") <= b))
            assert tr["sog"].median() < 2.0
        assert port_areas().distance_km(e["lat"], e["lon"])[0] >= 10.0


def test_loitering_is_complete(sim: Simulation) -> None:
    loiters = _events(sim, "loitering")
    by_mmsi: dict[int, list[tuple[float, float]]] = {}
    for e in loiters:
        by_mmsi.setdefault(e["mmsi"][0], []).append((_t(e["start"]), _t(e["end"])))
    # each encounter vessel loiters during its encounter
    for e in _events(sim, "encounter"):
        for m in e["mmsi"]:
            assert any(a <= _t(e["start"]) + 600 and b >= _t(e["end"]) - 600
                       for a, b in by_mmsi[m])
    # every run of slow reports away from ports lasting an hour is a listed loitering
    for mmsi, tr in _tracks(sim).items():
        in_port = port_areas().in_port(tr["lat"].to_numpy(), tr["lon"].to_numpy())
        slow = (tr["sog"].to_numpy() < 2.0) & ~in_port
        t = tr["t"].to_numpy()
        edges = np.diff(np.concatenate([[0], slow.astype(np.int8), [0]]))
        for i, j in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1,
                        strict=True):
            if t[j] - t[i] >= 3600:
                assert any(a <= t[i] + 1 and t[j] <= b + 1 for a, b in by_mmsi.get(mmsi, [])), \
                    (mmsi, t[i], t[j])
    for e in loiters:
        tr = _tracks(sim)[e["mmsi"][0]].filter((pl.col("t") >= _t(e["start"]))
                                                & (pl.col("t") <= _t(e["end"])))
        assert tr["sog"].mean() < 2.0
        assert _t(e["end"]) - _t(e["start"]) >= 3600
    fleet = [e for e in loiters if e.get("during") == "fishing"]
    assert len(fleet) == 8
    assert all(14.9 < e["lat"] < 15.4 and 117.4 < e["lon"] < 118.0 for e in fleet)


def test_zone_crossings_match_the_data(sim: Simulation, tmp_path: Path) -> None:
    write_simulation(sim, tmp_path)
    zones = load_zones(tmp_path / "zones.geojson")
    assert [z.name for z in zones] == ["Scarborough Shoal", "Second Thomas Shoal"]
    want = set()
    for mmsi, tr in _tracks(sim).items():
        inside = zone_membership(zones, tr["lat"].to_numpy(), tr["lon"].to_numpy())
        t = tr["t"].to_numpy()
        for z, zone in enumerate(zones):
            for i in np.flatnonzero(np.diff(inside[:, z].astype(np.int8)) != 0) + 1:
                kind = "zone_entry" if inside[i, z] else "zone_exit"
                want.add((kind, mmsi, zone.name, t[i]))
    got = {(e["kind"], e["mmsi"][0], e["zone"], _t(e["start"])) for e in sim.truth["events"]
           if e["kind"] in ("zone_entry", "zone_exit")}
    assert got == want and any(k == "zone_entry" for k, *_ in got)


def test_port_visits_are_stays_in_port(sim: Simulation) -> None:
    visits = _events(sim, "port_visit")
    assert len(visits) > 20
    areas = port_areas()
    ports = _scenario_ports(sim)
    # a visit is to a scenario port, or to the port whose area holds a scenario port's berth
    # (a neighbouring port's anchorages can reach a berth: Xiamen's and Zhangzhou's)
    at_berths, _ = areas.lookup([p.berth_lat for p in ports], [p.berth_lon for p in ports])
    names = {p.name for p in ports} | {areas.ports["name"][int(i)] for i in at_berths if i >= 0}
    tracks = _tracks(sim)
    for v in visits:
        assert v["zone"] in names
        tr = tracks[v["mmsi"][0]].filter((pl.col("t") >= _t(v["start"]))
                                         & (pl.col("t") <= _t(v["end"])))
        _, excess = areas.lookup(tr["lat"].to_numpy(), tr["lon"].to_numpy(), 1.0)
        assert excess[0] <= 0 and (excess <= 1.0).all()  # entered the area; hysteresis
        assert (tr["sog"] < 1.0).any() and _t(v["end"]) - _t(v["start"]) >= 1800


def _scenario_ports(sim: Simulation) -> list[Any]:
    from seasight.sim.simulation import geography

    return geography(sim.scenario).ports


def test_spoofing_is_one_mmsi_in_two_places(sim: Simulation) -> None:
    (s,) = [e for e in _events(sim, "spoofing") if "heard" not in e]
    tr = _tracks(sim)[s["mmsi"][0]]
    inside = tr.filter(pl.col("t") >= _t(s["start"]))
    lat, lon, t = (inside[c].to_numpy() for c in ("lat", "lon", "t"))
    jump = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    speed_kn = jump / np.maximum(np.diff(t), 1.0) * 3600 / KM_PER_NM
    assert (speed_kn > 100).sum() >= 10  # alternating between two places far apart
    assert haversine_km(s["lat"], s["lon"], s["real_lat"], s["real_lon"]) > 100


def test_sparse_second_transmitter_is_heard_three_or_four_times(sim: Simulation) -> None:
    (s,) = [e for e in _events(sim, "spoofing") if "heard" in e]
    assert s["heard"] in (3, 4) and not s["open"]
    tr = _tracks(sim)[s["mmsi"][0]]
    far = tr.filter(pl.struct("lat", "lon").map_batches(lambda c: pl.Series(
        haversine_km(c.struct.field("lat").to_numpy(), c.struct.field("lon").to_numpy(),
                     s["lat"], s["lon"]) < 200)))
    assert far.height == s["heard"]  # only those fixes near the second transmitter
    assert far["t"][0] == _t(s["start"]) and far["t"][-1] == _t(s["end"])
    assert 1.0 <= (far["t"][-1] - far["t"][0]) / 3600 <= 3 * 2.5
    assert haversine_km(s["lat"], s["lon"], s["real_lat"], s["real_lon"]) > 300


def test_dateline_zone_is_split_at_the_meridian() -> None:
    from seasight.sim.scenario import DATELINE

    zone = DATELINE.zones[0].zone()
    assert zone.geometry.geom_type == "MultiPolygon"
    west, east = sorted(zone.geometry.geoms, key=lambda g: g.bounds[0])
    assert west.bounds[0] == -180.0 and east.bounds[2] == 180.0
    assert zone_membership([zone], np.array([-19.5, -19.5, -19.5]),
                           np.array([179.9, -179.9, 0.0])).ravel().tolist() == [True, True, False]


def test_identity_changes(sim: Simulation) -> None:
    changes = _events(sim, "identity_change")
    assert len(changes) == 2
    for c in changes:
        st = sim.static.filter(pl.col("mmsi") == c["mmsi"][0], pl.col("msg_type") == 5)
        st = st.with_columns(t=pl.col("ts").dt.epoch("s"))
        before = st.filter(pl.col("t") < _t(c["start"]))
        after = st.filter(pl.col("t") >= _t(c["start"]))
        assert set(before["shipname"]) == {c["old"]["shipname"]}
        assert set(after["shipname"]) == {c["new"]["shipname"]}
        assert set(after["callsign"]) == {c["new"]["callsign"]}
    others = sim.static.filter(~pl.col("mmsi").is_in([c["mmsi"][0] for c in changes]))
    names = others.filter(pl.col("shipname").is_not_null()).group_by("mmsi").agg(
        pl.col("shipname").n_unique())
    assert (names["shipname"] == 1).all()


def test_lookalikes_stay_below_the_thresholds(sim: Simulation) -> None:
    tracks = _tracks(sim)
    kinds = {e["kind"] for e in sim.truth["lookalikes"]}
    assert kinds == LOOKALIKE_KINDS
    for e in sim.truth["lookalikes"]:
        a, b = _t(e["start"]), _t(e["end"])
        if e["kind"] == "short_dropout":
            assert 3600 <= b - a < 12 * 3600
            continue
        grid = np.arange(a, b + 1, 5.0)
        pos = [_grid(tracks[m], grid) for m in e["mmsi"]]
        sog = [tracks[m].filter((pl.col("t") >= a) & (pl.col("t") <= b))["sog"]
               for m in e["mmsi"]]
        if e["kind"] == "passing":
            d = haversine_km(*pos[0], *pos[1])
            assert d.min() < 0.5 and (d < 0.5).mean() * (b - a) < 1800
            assert all(s.min() > 8 for s in sog)
        elif e["kind"] == "convoy":
            d = haversine_km(*pos[0], *pos[1])
            assert d.min() > 1.0 and d.max() < 6.0 and b - a > 3 * 3600
            assert all(s.min() >= 6 and s.max() <= 12.5 for s in sog)
        elif e["kind"] == "slowdown":
            assert b - a < 1800 and sog[0].max() < 2.0
        elif e["kind"] == "anchored_together":
            d = haversine_km(*pos[0], *pos[1])
            assert d.max() < 0.5
            _, dp = nearest_port(pos[0][0], pos[0][1])
            assert (dp < PORT_RADIUS_KM).all()


# -- the feed -----------------------------------------------------------------------------------


def test_feed_decodes_to_the_clean_reports(sim: Simulation, feed: Feed) -> None:
    batch = decode_nmea(feed.to_bytes())
    stats = feed.stats
    assert batch.rejects.height == stats["rejected_lines"] > 0
    reasons = batch.rejects.group_by("reason").len().rows()
    assert dict(reasons)["bad_checksum"] == stats["bad_checksum"]
    assert sum(n for r, n in reasons if r in ("malformed_sentence", "bad_character")) == \
        stats["truncated"] + stats["garbage"]
    assert stats["duplicates"] > 0 and stats["late"] > 0
    positions = drop_duplicates(batch.positions)
    assert positions.height == sim.positions.height
    assert batch.positions.height > positions.height  # duplicate receptions, dropped
    cols = ["mmsi", "ts", "msg_type", "nav_status", "heading", "second"]
    got = positions.sort("mmsi", "ts")
    want = sim.positions.sort("mmsi", "ts")
    assert got.select(cols).equals(want.select(cols))
    assert np.abs(got["lat"].to_numpy() - want["lat"].to_numpy()).max() < 1e-6
    assert np.abs(got["sog"].to_numpy() - want["sog"].to_numpy()).max() < 0.051
    static = drop_duplicates(batch.static)
    assert static.height == sim.static.height
    assert static.sort("mmsi", "ts", "part_num")["shipname"].to_list() == \
        sim.static.sort("mmsi", "ts", "part_num")["shipname"].to_list()


def test_feed_noise_looks_like_receivers(sim: Simulation, feed: Feed) -> None:
    text = feed.to_bytes().decode("latin-1").splitlines()
    tagged = [ln for ln in text if ln.startswith("\\s:")]
    assert len(tagged) > 0.95 * feed.stats["sentence_lines"]
    times = [int(ln.split("c:")[1].split(",")[0].split("*")[0]) for ln in tagged]
    assert sum(b < a for a, b in itertools.pairwise(times)) > 0  # out of order
    stations = {ln[3:].split(",")[0] for ln in tagged}
    assert any(s.startswith("sat-") for s in stations) and "rSGSIN" in stations
    # a duplicate: the same sentence from another station a few seconds later
    body: dict[str, tuple[str, int]] = {}
    dups = 0
    for ln, t in zip(tagged, times, strict=True):
        st, sentence = ln[3:].split(",")[0], ln.split("\\")[2]
        if not sentence.startswith("!AIVDM,1,1,"):
            continue  # second fragments of different type 5 messages may look alike
        if sentence in body and body[sentence][0] != st:
            dt = abs(t - body[sentence][1])
            assert dt <= 5 or dt > 60  # a duplicate, or a later identical static report
            dups += dt <= 5
        body[sentence] = (st, t)
    assert dups > 0


def test_write_and_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", "--vessels", "45", "--hours", "24", "--seed", "2",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["vessels"] == 45 and summary["feed"]["lines"] > 1000
    truth = json.loads((out / "truth.json").read_text())
    assert truth["feed"] == summary["feed"] and truth["hours"] == 24
    assert (out / "feed.nmea").stat().st_size > 100_000
    bad = runner.invoke(app, ["simulate", "--scenario", "atlantis", "--out", str(out)])
    assert bad.exit_code == 2 and "indo-pacific" in bad.output
    few = runner.invoke(app, ["simulate", "--vessels", "5", "--out", str(out)])
    assert few.exit_code == 1 and "at least" in few.output


def test_plants_that_do_not_fit_are_skipped() -> None:
    short = simulate("indo-pacific", hours=8, vessels=45, seed=3)
    assert len(short.plan.vessels) == 45 == short.positions["mmsi"].n_unique()
    assert any(s.startswith("gap") for s in short.truth["skipped_plants"])
    assert not [e for e in short.truth["events"] if e["kind"] == "gap"]
    with pytest.raises(ValueError, match="at least 38"):
        simulate("indo-pacific", hours=8, vessels=20, seed=3)
