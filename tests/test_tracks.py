"""Track cleaning and segmentation (seasight.tracks.clean / segment) on synthetic and real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from seasight.model.schema import SEGMENTS, TRACK_POINTS
from seasight.sources.csv_tracks import read_track_csv
from seasight.tracks import (
    CleanParams,
    SegmentParams,
    build_tracks,
    clean_positions,
    segment_tracks,
)
from seasight.tracks._sort import sort_index
from seasight.tracks.clean import DROP_REASONS
from tracks_synth import concat, positions, track

# the shared reference data sits beside the repository (see tests/conftest.py)
SHARED_TRACKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tracks"
SOLENT = SHARED_TRACKS / "solent_ais_20160112.csv"


# --------------------------------------------------------------------------------------------
# cleaning
# --------------------------------------------------------------------------------------------


def test_clean_drops_unusable_rows_with_reasons() -> None:
    good = track(235000001, lat=50.0, lon=-3.0, n=5)
    bad = positions(
        mmsi=[235000001, 235000001, 235000001, 235000001, 235000001, 992351234, 111232500,
              2320001, 970012345],
        t_s=[1000, 1001, 1002, 1003, 1004, 10, 20, 30, 40],
        lat=[np.nan, 95.0, 0.0, 50.0, 91.0, 50.0, 50.0, 50.0, 50.0],
        lon=[-3.0, -3.0, 0.0, 200.0, 181.0, -3.0, -3.0, -3.0, -3.0],
    )
    sar = positions(mmsi=[235000009], t_s=[5], lat=[50.0], lon=[-3.0], msg_type=9)
    no_ts = good.head(1).with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("ts"))
    result = clean_positions(concat(good, bad, sar, no_ts))
    assert result.points.height == 5
    assert result.points.columns == list(TRACK_POINTS)
    assert result.points["segment_id"].null_count() == 5
    assert dict(result.counts) == {
        "no_timestamp": 1,
        "no_position": 2,  # NaN latitude, 91/181 not available
        "impossible_position": 2,  # lat 95, lon 200
        "null_island": 1,
        "not_a_vessel": 5,  # AtoN, SAR aircraft (MMSI and type 9), coast station, SART
    }
    assert set(result.dropped["reason"]) <= set(DROP_REASONS)
    assert result.dropped.height + result.points.height == 5 + 9 + 1 + 1


def test_clean_keeps_invalid_ship_mmsis_and_nulls_impossible_speed() -> None:
    frame = concat(
        track(123456789, lat=10.0, lon=60.0, n=3),
        track(0, lat=11.0, lon=61.0, n=3),
        positions(mmsi=[235000001], t_s=[0], lat=[10.0], lon=[60.0], sog=[150.0], cog=[400.0]),
    )
    result = clean_positions(frame)
    assert result.points.height == 7
    assert result.sog_nulled == 1
    row = result.points.filter(pl.col("mmsi") == 235000001)
    assert row["sog"][0] is None and row["cog"][0] is None


def test_clean_sorts_and_collapses_duplicates_keeping_most_complete() -> None:
    base = track(235000001, lat=50.0, lon=-3.0, n=20)
    sparse = base.head(5).with_columns(
        pl.lit(None, dtype=pl.Float32).alias("sog"), pl.lit(None, dtype=pl.Float32).alias("cog")
    )
    other = track(235000002, lat=51.0, lon=-2.0, n=20)
    frame = concat(sparse, other, base, base.head(3)).sample(fraction=1.0, shuffle=True, seed=3)
    result = clean_positions(frame)
    pts = result.points
    assert pts.height == 40
    assert result.counts["duplicate"] == 8
    assert pts.select(pl.col("mmsi", "ts")).equals(pts.select(pl.col("mmsi", "ts")).sort("mmsi",
                                                                                        "ts"))
    assert pts["sog"].null_count() == 0  # the complete copies won


def test_clean_flags_on_land() -> None:
    frame = positions(mmsi=[235000001, 235000002], t_s=[0, 0], lat=[47.0, 45.0],
                      lon=[2.5, -30.0])  # central France, mid-Atlantic
    pts = clean_positions(frame).points.sort("mmsi")
    assert pts["on_land"].to_list() == [True, False]
    off = clean_positions(frame, CleanParams(flag_on_land=False)).points
    assert off["on_land"].null_count() == 2


def test_clean_empty() -> None:
    result = clean_positions(positions(mmsi=[], t_s=[], lat=[], lon=[]))
    assert result.points.height == 0 and result.dropped.height == 0


def test_sort_index_matches_a_full_sort() -> None:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {"mmsi": rng.integers(0, 50, 5000).astype(np.uint32), "ts": rng.integers(0, 10**9, 5000)}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    order = sort_index(frame["mmsi"], frame["ts"])
    assert order is not None
    assert frame[order].equals(frame.sort(["mmsi", "ts"], maintain_order=True))
    assert sort_index(frame.sort(["mmsi", "ts"])["mmsi"], frame.sort(["mmsi", "ts"])["ts"]) is None


# --------------------------------------------------------------------------------------------
# segmentation
# --------------------------------------------------------------------------------------------


def _segments(frame: pl.DataFrame, params: SegmentParams = SegmentParams()) -> pl.DataFrame:
    return segment_tracks(clean_positions(frame).points, params).segments


def test_one_vessel_is_one_segment_with_jitter_and_clock_skew() -> None:
    rng = np.random.default_rng(1)
    base = track(412000001, lat=30.0, lon=124.0, sog=18, cog=30, n=600, dt_s=10)
    jittered = base.with_columns(
        (pl.col("lat") + pl.Series(rng.normal(0, 2e-4, 600))).alias("lat"),  # ~20 m
        (pl.col("lon") + pl.Series(rng.normal(0, 2e-4, 600))).alias("lon"),
        # receiver clocks up to 8 s off: fixes arrive out of order
        (pl.col("ts") + pl.duration(microseconds=pl.Series(rng.integers(-8e6, 8e6, 600))))
        .alias("ts"),
    )
    result = segment_tracks(clean_positions(jittered).points)
    assert result.segments.height == 1
    assert result.n_outliers == 0
    assert result.segments["segment_id"][0] == "412000001-1"
    assert result.segments.columns == list(SEGMENTS)


def test_two_transmitters_on_one_mmsi_become_two_segments() -> None:
    a = track(412000001, lat=30.0, lon=124.0, n=360, dt_s=20, sog=10, cog=45)
    b = track(412000001, lat=28.0, lon=126.0, n=240, dt_s=30, t0_s=7, sog=8, cog=200)
    result = segment_tracks(clean_positions(concat(a, b)).points)
    segs = result.segments.sort("segment_id")
    assert segs["n_points"].to_list() == [360, 240]
    assert segs["segment_id"].to_list() == ["412000001-1", "412000001-2"]
    assert result.n_outliers == 0
    # every point is in its transmitter's segment
    pts = result.points
    north = pts.filter(pl.col("lat") > 29.0)["segment_id"].unique().to_list()
    assert north == ["412000001-1"]


def test_close_transmitters_are_separated_too() -> None:
    # 15 km apart, reporting within seconds of each other: impossible for one ship
    a = track(412000001, lat=30.0, lon=124.0, n=200, dt_s=10, sog=12, cog=90)
    b = track(412000001, lat=30.135, lon=124.0, n=200, dt_s=10, t0_s=3, sog=12, cog=90)
    assert _segments(concat(a, b)).height == 2


@pytest.mark.parametrize("where", [0, 40, 99])
def test_single_jump_is_an_outlier(where: int) -> None:
    a = track(412000002, lat=30.0, lon=124.0, n=100, dt_s=60).with_row_index()
    a = a.with_columns(
        pl.when(pl.col("index") == where).then(pl.col("lat") + 0.8).otherwise(pl.col("lat"))
        .alias("lat")
    ).drop("index")
    result = segment_tracks(clean_positions(a).points)
    assert result.segments.height == 1
    assert result.n_outliers == 1
    assert result.outliers["lat"][0] > 30.7
    assert result.points.height == 99


def test_jump_after_silence_is_discarded_by_look_back() -> None:
    # 3 h of silence, then a first fix 100 km off (reachable in 3 h), then the real track
    full = track(412000003, lat=10.0, lon=70.0, n=400, dt_s=60, sog=10, cog=0)
    kept = full.filter((pl.int_range(pl.len()) < 100) | (pl.int_range(pl.len()) >= 280))
    glitch = positions(mmsi=[412000003], t_s=[280 * 60 - 30], lat=[10.5], lon=[70.8])
    result = segment_tracks(clean_positions(concat(kept, glitch)).points)
    assert result.segments.height == 1
    assert result.outliers["reason"].to_list() == ["jump"]


def test_long_gap_with_plausible_reappearance_keeps_one_segment() -> None:
    full = track(412000004, lat=12.0, lon=92.0, n=2400, dt_s=60, sog=12, cog=100)
    silent = full.filter((pl.int_range(pl.len()) < 200) | (pl.int_range(pl.len()) > 1400))  # 20 h
    result = segment_tracks(clean_positions(silent).points)
    assert result.segments.height == 1
    assert result.n_outliers == 0


def test_impossible_reappearance_after_gap_is_a_new_segment_not_overlapping() -> None:
    a = track(412000005, lat=12.0, lon=92.0, n=200, dt_s=60, sog=12, cog=100)
    # 20 h later, 3000 km away (> 80 kn)
    b = track(412000005, lat=-10.0, lon=70.0, n=200, dt_s=60, t0_s=200 * 60 + 20 * 3600)
    segs = _segments(concat(a, b)).sort("start")
    assert segs.height == 2
    assert segs["end"][0] < segs["start"][1]


def test_max_gap_closes_segments() -> None:
    a = track(412000006, lat=12.0, lon=92.0, n=50, dt_s=60, sog=0.0)
    b = track(412000006, lat=12.0, lon=92.0, n=50, dt_s=60, sog=0.0, t0_s=10 * 86400)
    assert _segments(concat(a, b)).height == 2
    assert _segments(concat(a, b), SegmentParams(max_gap_h=30 * 24)).height == 1


def test_many_transmitters_beyond_max_open() -> None:
    frames = [
        track(412000007, lat=10.0 + 2 * k, lon=80.0, n=30, dt_s=60, t0_s=k) for k in range(5)
    ]
    assert _segments(concat(*frames)).height == 5
    segs = _segments(concat(*frames), SegmentParams(max_open=2))
    assert segs.height >= 5  # evicted segments reopen; nothing is lost
    assert int(segs["n_points"].sum()) == 150


def test_segment_empty_and_unsorted_input() -> None:
    empty = segment_tracks(clean_positions(positions(mmsi=[], t_s=[], lat=[], lon=[])).points)
    assert empty.points.height == 0 and empty.segments.height == 0
    pts = clean_positions(track(412000008, lat=1.0, lon=100.0, n=50)).points
    shuffled = pts.sample(fraction=1.0, shuffle=True, seed=1)
    assert_frame_equal(segment_tracks(shuffled).points, segment_tracks(pts).points)


# --------------------------------------------------------------------------------------------
# order invariance (hypothesis)
# --------------------------------------------------------------------------------------------


def _scenario() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    a = track(412000001, lat=30.0, lon=124.0, n=120, dt_s=20, sog=10, cog=45)
    b = track(412000001, lat=28.0, lon=126.0, n=80, dt_s=30, t0_s=7, sog=8, cog=200)
    c = track(235000001, lat=50.0, lon=-3.0, n=100, dt_s=10, sog=15, cog=270)
    jump = positions(mmsi=[235000001], t_s=[505], lat=[50.5], lon=[-3.0])
    dup = c.head(10).with_columns(pl.lit(None, dtype=pl.Float32).alias("sog"))
    noisy = c.with_columns(
        (pl.col("lat") + pl.Series(rng.normal(0, 1e-4, 100))).alias("lat")
    ).head(30).with_columns(pl.col("ts") + pl.duration(seconds=1))
    return concat(a, b, c, jump, dup, noisy)


_SCENARIO = _scenario()
_EXPECTED = build_tracks(_SCENARIO)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), repeat=st.integers(0, 20))
def test_tracks_do_not_depend_on_row_order_or_repeats(seed: int, repeat: int) -> None:
    frame = _SCENARIO
    if repeat:
        frame = concat(frame, frame.sample(n=repeat, seed=seed))
    frame = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    got = build_tracks(frame)
    assert_frame_equal(got.points, _EXPECTED.points)
    assert_frame_equal(got.segments, _EXPECTED.segments)
    assert_frame_equal(got.segmented.outliers, _EXPECTED.segmented.outliers)


@settings(max_examples=30, deadline=None)
@given(
    dt=st.lists(st.floats(1.0, 3600.0), min_size=2, max_size=60),
    sog=st.floats(0.0, 30.0),
    cog=st.floats(0.0, 359.9),
)
def test_any_physically_possible_track_is_one_segment(
    dt: list[float], sog: float, cog: float
) -> None:
    t_s = np.cumsum(dt)
    from seasight.geo.distance import KM_PER_NM, destination

    lat, lon = destination(
        np.full(len(t_s), 20.0), np.full(len(t_s), 60.0), np.full(len(t_s), cog),
        sog * KM_PER_NM * (t_s - t_s[0]) / 3600,
    )
    frame = positions(mmsi=[412000009] * len(t_s), t_s=t_s, lat=lat, lon=lon,
                      sog=[sog] * len(t_s), cog=[cog] * len(t_s))
    result = segment_tracks(clean_positions(frame, CleanParams(flag_on_land=False)).points)
    assert result.segments.height == 1
    assert result.n_outliers == 0


# --------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------


def test_solent_segments_are_plausible() -> None:
    batch = read_track_csv(SOLENT)
    tracks = build_tracks(batch.positions)
    n_vessels = batch.positions["mmsi"].n_unique()
    assert n_vessels == 91
    # 84 minutes of coastal traffic: about one segment per vessel, hardly any outliers
    assert n_vessels <= tracks.segments.height <= n_vessels + 5
    assert tracks.segmented.n_outliers <= 10
    assert tracks.points.height >= 0.99 * batch.positions.height
