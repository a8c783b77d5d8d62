"""Invariants of every detector (hypothesis): order, repetition and re-runs change nothing."""

from __future__ import annotations

import numpy as np
import polars as pl
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events_tracks import join, leg, still
from seasight.events.model import DetectionInputs
from seasight.events.run import run_detectors
from seasight.geo.zones import Zone

ZONE = Zone("box", shapely.box(124.9, 30.4, 125.1, 30.6), {})


@st.composite
def scenes(draw: st.DrawFn) -> pl.DataFrame:
    """A few vessels near one spot of the East China Sea: drifting, steaming, going dark."""
    n = draw(st.integers(1, 4))
    frames = []
    for v in range(n):
        mmsi = 412000000 + v
        lat = 30.5 + draw(st.floats(-0.01, 0.01))
        lon = 125.0 + draw(st.floats(-0.01, 0.01))
        start = draw(st.floats(0, 3))
        hours = draw(st.floats(0.5, 5))
        if draw(st.booleans()):
            frame = still(mmsi, start, hours, lat, lon, sog=draw(st.floats(0, 3)),
                          every_min=draw(st.sampled_from([2.0, 5.0, 10.0])), seed=v)
        else:
            frame = leg(mmsi, start, hours, lat, lon, course=draw(st.floats(0, 359)),
                        speed_kn=draw(st.floats(0, 14)), every_min=5.0)
        if draw(st.booleans()):  # a silence of up to 16 h, then more reports
            frame = join(frame, still(mmsi, start + hours + draw(st.floats(1, 16)), 1, lat,
                                      lon, every_min=10.0, seed=v))
        frames.append(frame)
    return join(*frames)


def _detect(points: pl.DataFrame) -> pl.DataFrame:
    return run_detectors(DetectionInputs(points=points, zones=[ZONE]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.integers(0, 2**32 - 1))
def test_shuffled_and_repeated_input_gives_the_same_events(points: pl.DataFrame,
                                                           seed: int) -> None:
    expected = _detect(points)
    rng = np.random.default_rng(seed)
    repeated = pl.concat([points, points.sample(fraction=0.3, seed=seed)])
    shuffled = repeated[rng.permutation(repeated.height).tolist()]
    assert _detect(shuffled).equals(expected)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_detection_is_idempotent_and_well_formed(points: pl.DataFrame) -> None:
    first = _detect(points)
    assert _detect(points).equals(first)
    assert first["event_id"].n_unique() == first.height
    assert first["score"].is_between(0.0, 1.0).all()
    assert (first["end"] >= first["start"]).all()
    enc = first.filter(pl.col("kind") == "encounter")
    assert (enc["mmsi"] < enc["other_mmsi"]).all()
    single = first.filter(pl.col("kind").is_in(["gap", "loitering", "port_visit", "zone_entry",
                                                "zone_exit"]))
    assert single["other_mmsi"].null_count() == single.height
    instant = first.filter(pl.col("kind").is_in(["zone_entry", "zone_exit"]))
    assert (instant["start"] == instant["end"]).all() and not instant["is_open"].any()
