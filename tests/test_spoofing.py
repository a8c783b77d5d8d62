"""The spoofing detector (seasight.events.spoofing) on synthetic tracks and the Solent data."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from seasight.events import spoofing
from seasight.events.model import DetectionInputs
from seasight.schema import EVENTS
from seasight.sources.csv_tracks import read_track_csv
from seasight.tracks import build_tracks
from tracks_synth import T0, concat, positions, track

# the shared reference data sits beside the repository (see tests/conftest.py)
SHARED_TRACKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tracks"
SOLENT = SHARED_TRACKS / "solent_ais_20160112.csv"


def _detect(frame: pl.DataFrame, params: spoofing.Params = spoofing.Params(),
            **kwargs: object) -> pl.DataFrame:
    tracks = build_tracks(frame)
    inputs = DetectionInputs(points=tracks.points, segments=tracks.segments, **kwargs)  # type: ignore[arg-type]
    return spoofing.detect(inputs, params)


def _two_transmitters() -> pl.DataFrame:
    # East China Sea: the real vessel, and a second transmitter ~300 km away that starts
    # 20 minutes later and stops after 2 hours
    a = track(412000001, lat=30.0, lon=124.0, n=900, dt_s=20, sog=10, cog=45)
    b = track(412000001, lat=28.0, lon=126.0, n=240, dt_s=30, t0_s=1200, sog=8, cog=200)
    return concat(a, b)


def test_module_contract() -> None:
    assert spoofing.KIND == "spoofing"
    assert isinstance(spoofing.VERSION, int)
    assert spoofing.detect(DetectionInputs()).columns == list(EVENTS)


def test_two_transmitters_give_one_event_with_evidence() -> None:
    events = _detect(_two_transmitters())
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["kind"] == "spoofing" and ev["mmsi"] == 412000001 and ev["other_mmsi"] is None
    assert ev["start"] == T0 + timedelta(seconds=1200)
    assert ev["end"] >= T0 + timedelta(seconds=1200 + 239 * 30 - 30)
    assert ev["end"] <= T0 + timedelta(seconds=1200 + 239 * 30)
    assert abs(ev["lat"] - 28.0) < 1e-6 and abs(ev["lon"] - 126.0) < 1e-6  # the newcomer
    assert ev["detector"] == "spoofing/1"
    assert 0.5 <= ev["score"] <= 1.0
    assert not ev["is_open"]  # the second transmitter stopped 2 h before the data ends
    evidence = json.loads(ev["evidence"])
    assert evidence["reason"] == "two_positions"
    assert evidence["segment_ids"] == ["412000001-1", "412000001-2"]
    assert evidence["n_conflicts"] >= 200
    assert 250 < evidence["median_distance_km"] < 350
    assert 1 <= len(evidence["examples"]) <= spoofing.Params().max_examples
    example = evidence["examples"][0]
    assert example["distance_km"] > 250 and example["implied_speed_kn"] > 1000


def test_event_is_open_when_both_transmitters_run_to_the_end() -> None:
    a = track(412000001, lat=30.0, lon=124.0, n=360, dt_s=20)
    b = track(412000001, lat=28.0, lon=126.0, n=240, dt_s=30, t0_s=5)
    events = _detect(concat(a, b))
    assert events["is_open"].to_list() == [True]


def test_ids_are_stable_when_more_data_arrives() -> None:
    a = track(412000001, lat=30.0, lon=124.0, n=360, dt_s=20, sog=10, cog=45)
    b = track(412000001, lat=28.0, lon=126.0, n=240, dt_s=30, t0_s=5, sog=8, cog=200)
    first = _detect(concat(a.head(200), b.head(120)))
    later = _detect(concat(a, b))
    assert first["event_id"].to_list() == later["event_id"].to_list()
    assert later["end"][0] > first["end"][0]


def test_three_transmitters_give_three_pair_events_with_distinct_ids() -> None:
    frames = [
        track(412000001, lat=30.0, lon=124.0, n=200, dt_s=30),
        track(412000001, lat=27.0, lon=124.0, n=200, dt_s=30, t0_s=10),
        track(412000001, lat=30.0, lon=128.0, n=200, dt_s=30, t0_s=20),
    ]
    events = _detect(concat(*frames))
    assert events.height == 3
    assert events["event_id"].n_unique() == 3
    pairs = {tuple(json.loads(e)["segment_ids"]) for e in events["evidence"]}
    assert pairs == {("412000001-1", "412000001-2"), ("412000001-1", "412000001-3"),
                     ("412000001-2", "412000001-3")}


def test_separate_overlap_periods_give_separate_events() -> None:
    a = track(412000001, lat=30.0, lon=124.0, n=24 * 60, dt_s=60, sog=0.5)
    b1 = track(412000001, lat=28.0, lon=126.0, n=60, dt_s=60, t0_s=3600, sog=0.5)
    b2 = track(412000001, lat=28.0, lon=126.0, n=60, dt_s=60, t0_s=15 * 3600, sog=0.5)
    events = _detect(concat(a, b1, b2))
    assert events.height == 2
    assert events["start"].to_list() == [T0 + timedelta(hours=1), T0 + timedelta(hours=15)]


def test_ais_gap_is_not_spoofing() -> None:
    full = track(412000004, lat=12.0, lon=92.0, n=36 * 60, dt_s=60, sog=12, cog=100)
    silent = full.filter((pl.int_range(pl.len()) < 200) | (pl.int_range(pl.len()) > 200 + 26 * 60))
    assert _detect(silent).height == 0
    # reappearing somewhere impossible after the gap: a new segment, but no overlap in time
    far = concat(
        full.head(200),
        track(412000004, lat=-10.0, lon=70.0, n=200, dt_s=60, t0_s=200 * 60 + 20 * 3600),
    )
    assert _detect(far).height == 0


def test_single_jumps_and_short_glitches_are_not_spoofing() -> None:
    a = track(412000002, lat=30.0, lon=124.0, n=300, dt_s=20).with_row_index()
    glitch = pl.col("index").is_in([50, 51, 150, 250])
    a = a.with_columns(
        pl.when(glitch).then(pl.col("lat") + 1.5).otherwise(pl.col("lat")).alias("lat")
    ).drop("index")
    assert _detect(a).height == 0


def test_other_vessels_nearby_are_not_spoofing() -> None:
    a = track(412000001, lat=30.0, lon=124.0, n=300, dt_s=20)
    b = track(412000002, lat=30.01, lon=124.0, n=300, dt_s=20, t0_s=5)  # convoy, 1 km apart
    assert _detect(concat(a, b)).height == 0


def test_teleport_inland_is_reported_as_on_land() -> None:
    # a ship off Valencia; its positions then jump to Madrid (about 300 km inland) and stay
    sea = track(224000001, lat=39.3, lon=0.2, n=120, dt_s=30, sog=10, cog=0)
    land = track(224000001, lat=40.42, lon=-3.70, n=60, dt_s=30, t0_s=120 * 30, sog=0.0)
    events = _detect(concat(sea, land))
    assert events.height == 1
    evidence = json.loads(events["evidence"][0])
    assert evidence["reason"] == "on_land"
    assert evidence["median_inland_km"] > 100
    assert evidence["previous_segment_id"] == "224000001-1"
    assert events["start"][0] == T0 + timedelta(seconds=120 * 30)
    assert _detect(concat(sea, land), spoofing.Params(on_land=False)).height == 0


def test_consistent_track_on_land_is_not_spoofing() -> None:
    # a laker on Lake Michigan (land in both land layers) and a barge up the Rhine
    lake = track(366000001, lat=43.0, lon=-87.3, n=200, dt_s=60, sog=12, cog=0)
    rhine = track(211000001, lat=50.94, lon=6.96, n=200, dt_s=60, sog=6, cog=160)
    assert _detect(concat(lake, rhine)).height == 0


def test_solent_has_no_spoofing() -> None:
    batch = read_track_csv(SOLENT)
    assert _detect(batch.positions).height == 0


_SCENARIO = concat(
    _two_transmitters(),
    track(235000001, lat=50.0, lon=-3.0, n=100, dt_s=10),
    positions(mmsi=[235000001], t_s=[505], lat=[50.5], lon=[-3.0]),
)
_EXPECTED = _detect(_SCENARIO)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_events_do_not_depend_on_row_order(seed: int) -> None:
    got = _detect(_SCENARIO.sample(fraction=1.0, shuffle=True, seed=seed))
    assert_frame_equal(got, _EXPECTED)


def test_detect_accepts_points_without_segments_table() -> None:
    tracks = build_tracks(_two_transmitters())
    events = spoofing.detect(DetectionInputs(points=tracks.points))
    assert events.height == 1


def test_crowded_mmsi_is_one_event() -> None:
    frames = [
        track(412000001, lat=20.0 + 2 * k, lon=124.0, n=60, dt_s=60, t0_s=k) for k in range(4)
    ]
    events = _detect(concat(*frames), spoofing.Params(max_segments=3))
    assert events.height == 1
    evidence = json.loads(events["evidence"][0])
    assert evidence["reason"] == "many_transmitters" and evidence["n_segments"] == 4
    assert _detect(concat(*frames)).height == 6  # every pair
