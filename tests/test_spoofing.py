"""The spoofing detector (seasight.events.spoofing) on synthetic tracks and the Solent data."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from seasight.events import spoofing
from seasight.events.model import DetectionInputs
from seasight.geo.distance import KM_PER_NM, destination
from seasight.model.schema import EVENTS
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


def _far_offshore_vessel(hours: float = 8.0) -> pl.DataFrame:
    # a tanker in the Philippine Sea, heard every 2 minutes
    return track(412000005, lat=18.0, lon=130.0, n=round(hours * 30), dt_s=120, sog=11,
                 cog=60)


def _sparse(lat: float, lon: float, times_h: list[float], sog: float = 9.0,
            cog: float = 250.0) -> pl.DataFrame:
    """A second transmitter of the same MMSI heard at ``times_h`` only, sailing a course."""
    t_s = np.asarray(times_h) * 3600.0 + 37.0  # not on the real vessel's report times
    dist_km = sog * KM_PER_NM * (t_s - t_s[0]) / 3600.0
    la, lo = destination(np.full(len(t_s), lat), np.full(len(t_s), lon),
                         np.full(len(t_s), cog), dist_km)
    return positions(mmsi=[412000005] * len(t_s), t_s=t_s, lat=la, lon=lo,
                     sog=[sog] * len(t_s), cog=[cog] * len(t_s))


def test_second_transmitter_heard_three_times_far_away_is_spoofing() -> None:
    # three satellite fixes over 4 h, about 400 km from the real vessel, sailing consistently
    events = _detect(concat(_far_offshore_vessel(), _sparse(16.5, 126.6, [1.5, 3.5, 5.5])))
    assert events.height == 1
    ev = events.row(0, named=True)
    evidence = json.loads(ev["evidence"])
    assert evidence["reason"] == "sparse_transmitter"
    assert evidence["n_conflicts"] == 3 and evidence["segment_points"][1] == 3
    assert evidence["median_distance_km"] > 350
    assert ev["start"] == T0 + timedelta(hours=1.5, seconds=37)
    assert ev["end"] == T0 + timedelta(hours=5.5, seconds=37)
    assert abs(ev["lat"] - 16.5) < 1e-6 and abs(ev["lon"] - 126.6) < 1e-6  # the newcomer
    assert 0.5 <= ev["score"] <= 1.0 and not ev["is_open"]
    # four fixes over six hours: one event as well
    four = _detect(concat(_far_offshore_vessel(), _sparse(16.5, 126.6, [1, 3, 5, 7])))
    assert four.height == 1 and json.loads(four["evidence"][0])["n_conflicts"] == 4


def test_sparse_rule_thresholds() -> None:
    both = concat(_far_offshore_vessel(), _sparse(16.5, 126.6, [1.5, 3.5, 5.5]))
    assert _detect(both, spoofing.Params(min_sparse_points=4)).height == 0
    assert _detect(both, spoofing.Params(sparse_min_span_h=5.0)).height == 0
    assert _detect(both, spoofing.Params(min_distance_km=600.0)).height == 0


def test_single_bad_fix_that_jumps_and_returns_is_not_spoofing() -> None:
    real = _far_offshore_vessel()
    bad = positions(mmsi=[412000005], t_s=[3 * 3600 + 37], lat=[16.5], lon=[126.6])
    assert _detect(concat(real, bad)).height == 0


def test_two_bad_fixes_are_not_spoofing() -> None:
    real = _far_offshore_vessel()
    # far from the vessel and from each other (no vessel could sail between them): two
    # lone jumps, each dropped by the segmenter
    apart = positions(mmsi=[412000005] * 2, t_s=[2 * 3600 + 37, 4 * 3600 + 37],
                      lat=[16.5, 22.0], lon=[126.6, 135.0])
    assert _detect(concat(real, apart)).height == 0
    # two fixes that one vessel could have made are still too few (min_sparse_points = 3)
    assert _detect(concat(real, _sparse(16.5, 126.6, [2, 4]))).height == 0


def test_burst_of_fixes_within_minutes_is_not_spoofing() -> None:
    burst = _sparse(16.5, 126.6, [3.0, 3.05, 3.1])  # 6 minutes: under sparse_min_span_h
    assert _detect(concat(_far_offshore_vessel(), burst)).height == 0


def test_sparse_fixes_that_no_vessel_could_join_are_not_one_transmitter() -> None:
    # hand-made segments (bypassing the segmenter): the "segment" jumps 1000 km in 2 h
    real = build_tracks(_far_offshore_vessel()).points
    jumpy = build_tracks(concat(
        _sparse(16.5, 126.6, [1.5]), _sparse(25.0, 126.0, [3.5]), _sparse(16.6, 126.6, [5.5]),
    )).points.with_columns(pl.lit("412000005-9").alias("segment_id"))
    inputs = DetectionInputs(points=pl.concat([real, jumpy]).sort(["mmsi", "ts"]))
    assert spoofing.detect(inputs).height == 0
    steady = build_tracks(_sparse(16.5, 126.6, [1.5, 3.5, 5.5])).points.with_columns(
        pl.lit("412000005-9").alias("segment_id"))
    inputs = DetectionInputs(points=pl.concat([real, steady]).sort(["mmsi", "ts"]))
    assert spoofing.detect(inputs).height == 1


def test_sparse_fixes_near_the_real_track_are_not_spoofing() -> None:
    # the real vessel's own fixes heard by a second receiver with a skewed clock would form a
    # short segment a few km off the track: under min_distance_km, never spoofing
    real = _far_offshore_vessel()
    near = real.filter(pl.int_range(pl.len()).is_in([45, 105, 165])).with_columns(
        pl.col("lat") + 0.03, pl.col("ts") + timedelta(seconds=37))  # 3.3 km north
    assert _detect(concat(real, near)).height == 0


def test_corrupted_copy_of_the_track_far_away_is_not_spoofing() -> None:
    # the same bit wrong in the latitude field of a few reports: a copy of the track 1.5
    # degrees (167 km) north, moving exactly as the vessel does
    real = _far_offshore_vessel()
    copy = real.filter(pl.int_range(pl.len()).is_in([45, 105, 165])).with_columns(
        pl.col("lat") + 1.5, pl.col("ts") + timedelta(seconds=37))
    assert _detect(concat(real, copy)).height == 0
    # a vessel lying still while the impostor lies still far away is not a copy: reported
    anchored = track(412000005, lat=18.0, lon=130.0, n=240, dt_s=120, sog=0.0)
    still = _sparse(16.5, 126.6, [1.5, 3.5, 5.5], sog=0.0)
    assert _detect(concat(anchored, still)).height == 1


def test_sparse_transmitter_after_the_real_track_ended_is_not_compared() -> None:
    # the real vessel stops transmitting after 3 h; fixes after that are a jump, not overlap
    events = _detect(concat(_far_offshore_vessel(3.0), _sparse(16.5, 126.6, [4, 6, 8])))
    assert events.height == 0


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
