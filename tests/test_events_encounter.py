"""Encounter detector: ship-to-ship meetings at sea, and the look-alikes that must not fire."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from events_tracks import at, join, leg, still
from seasight.events import encounter
from seasight.events.model import DetectionInputs, track_arrays

EAST_CHINA_SEA = (30.5, 125.0)
SINGAPORE_ANCHORAGE = (1.26, 103.84)  # 2.5 km from the Singapore port point
M_PER_DEG_LAT = 111_195.0


def north_of(lat: float, metres: float) -> float:
    return lat + metres / M_PER_DEG_LAT


def test_two_vessels_meeting_in_the_east_china_sea() -> None:
    lat, lon = EAST_CHINA_SEA
    tanker = still(636000001, 0, 7, lat, lon, sog=0.3, seed=1)
    dprk = still(445000002, 0.5, 4, north_of(lat, 150), lon, sog=0.5, seed=2, every_min=3)
    events = encounter.detect(DetectionInputs(points=join(tanker, dprk)))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["kind"] == "encounter"
    assert (ev["mmsi"], ev["other_mmsi"]) == (445000002, 636000001)  # stored once, mmsi < other
    assert ev["start"] == at(0.5) and ev["end"] == at(4.5)
    assert abs(ev["lat"] - north_of(lat, 75)) < 0.001 and abs(ev["lon"] - lon) < 0.001
    evidence = json.loads(ev["evidence"])
    assert 100 < evidence["median_distance_m"] < 200
    assert evidence["min_distance_m"] <= evidence["median_distance_m"]
    assert evidence["median_speed_kn"] == 0.5 and evidence["other_median_speed_kn"] == 0.3
    assert evidence["n_steps"] == 25 and evidence["duration_h"] == 4.0
    assert evidence["port_distance_km"] > 100
    assert 0.6 <= ev["score"] <= 1.0
    assert not ev["is_open"]  # the tanker reports until 07:00, long after the meeting


def test_encounter_open_at_the_end_of_the_data() -> None:
    lat, lon = EAST_CHINA_SEA
    a = still(636000001, 0, 4, lat, lon, seed=1)
    b = still(636000003, 0, 4, north_of(lat, 300), lon, seed=2)
    events = encounter.detect(DetectionInputs(points=join(a, b)))
    assert events.height == 1 and events["is_open"][0]


def test_passing_at_speed_is_not_an_encounter() -> None:
    lat, lon = EAST_CHINA_SEA
    a = leg(636000001, 0, 3, lat, lon, course=90, speed_kn=12)
    b = leg(636000004, 0, 3, north_of(lat, 300), lon, course=90, speed_kn=12)
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 0


def test_convoy_three_km_apart_is_not_an_encounter() -> None:
    lat, lon = EAST_CHINA_SEA
    a = still(636000001, 0, 5, lat, lon, sog=1.0, seed=1)
    b = still(636000005, 0, 5, north_of(lat, 3000), lon, sog=1.0, seed=2)
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 0


def test_ships_anchored_together_inside_a_port_are_not_an_encounter() -> None:
    lat, lon = SINGAPORE_ANCHORAGE
    a = still(563000001, 0, 8, lat, lon, sog=0.0, seed=1)
    b = still(563000002, 0, 8, north_of(lat, 200), lon, sog=0.0, seed=2)
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 0
    # the same pair away from port would be one
    far = encounter.Params(min_port_distance_km=0.0, in_port_km=0.0, in_anchorage_km=0.0)
    assert encounter.detect(DetectionInputs(points=join(a, b)), far).height == 1


def test_brief_meeting_is_not_an_encounter() -> None:
    lat, lon = EAST_CHINA_SEA
    a = still(636000001, 0, 1.5, lat, lon, seed=1)
    b = still(636000006, 0, 1.5, north_of(lat, 100), lon, seed=2)
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 0


def test_same_mmsi_is_never_an_encounter_with_itself() -> None:
    lat, lon = EAST_CHINA_SEA
    a = still(636000001, 0, 5, lat, lon, seed=1, segment="636000001-1")
    b = still(636000001, 0, 5, north_of(lat, 100), lon, seed=2, segment="636000001-2")
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 0


def test_drifting_apart_briefly_does_not_split_the_encounter() -> None:
    lat, lon = EAST_CHINA_SEA
    a = still(636000001, 0, 5, lat, lon, seed=1)
    near = still(636000007, 0, 5, north_of(lat, 200), lon, seed=2)
    away = still(636000007, 0, 5, north_of(lat, 800), lon, seed=2)
    drift = pl.col("ts").is_between(at(2.0), at(2.3))  # 20 minutes at 800 m: two steps
    b = pl.concat([near.filter(~drift), away.filter(drift)]).sort("ts")
    events = encounter.detect(DetectionInputs(points=join(a, b)))
    assert events.height == 1 and events["start"][0] == at(0) and events["end"][0] == at(5)
    strict = encounter.Params(max_missing_steps=0)
    assert encounter.detect(DetectionInputs(points=join(a, b)), strict).height == 2


def test_long_silence_splits_the_encounter() -> None:
    lat, lon = EAST_CHINA_SEA
    a = still(636000001, 0, 6, lat, lon, seed=1)
    b = still(636000008, 0, 6, north_of(lat, 200), lon, seed=2)
    b = b.filter(~pl.col("ts").is_between(at(2.5), at(3.5)))  # 64 min: not interpolated
    events = encounter.detect(DetectionInputs(points=join(a, b)))
    # the grid times 02:30 .. 03:30 are empty; the second part starts at the first grid time
    # after the vessel reappears (03:32)
    assert events["start"].to_list() == [at(0), at(3 + 40 / 60)]
    wide = encounter.Params(max_missing_steps=8)
    events = encounter.detect(DetectionInputs(points=join(a, b)), wide)
    assert events.height == 1 and events["start"][0] == at(0) and events["end"][0] == at(6)


def test_encounter_across_the_antimeridian() -> None:
    a = still(512000001, 0, 4, -20.0, 179.9995, seed=1, jitter_m=0)
    b = still(512000002, 0, 4, -20.0, -179.9995, seed=2, jitter_m=0)
    events = encounter.detect(DetectionInputs(points=join(a, b)))
    assert events.height == 1
    assert json.loads(events["evidence"][0])["median_distance_m"] < 150


def test_resampling_does_not_invent_positions_across_long_holes() -> None:
    a = join(still(636000001, 0, 1, 30.5, 125.0), still(636000001, 3, 1, 30.5, 125.0))
    arrays = track_arrays(a)
    samples = encounter.resample(arrays, arrays.sog, 600_000_000, 3_600_000_000)
    hours = (samples["k"] * 600 - samples["k"][0] * 600) / 3600
    assert not np.any((hours > 1.0) & (hours < 3.0))
    assert samples["k"].size == 14


def test_pairing_matches_brute_force() -> None:
    """Random crowded vessels: the binned pairing finds exactly the pairs a brute force finds."""
    rng = np.random.default_rng(7)
    n = 400
    lat = 60.0 + rng.uniform(0, 0.05, n)  # high latitude: narrow longitude cells
    lon = 179.97 + rng.uniform(0, 0.06, n)
    lon = np.where(lon >= 180, lon - 360, lon)
    samples = {
        "k": rng.integers(0, 3, n).astype(np.int64),
        "seg": np.arange(n, dtype=np.int64),
        "mmsi": np.arange(n, dtype=np.int64),
        "lat": lat,
        "lon": lon,
        "speed": np.zeros(n),
    }
    pairs = encounter.close_pairs(samples, 500.0, 1.0)
    found = {tuple(sorted(p)) for p in zip(pairs["i"].tolist(), pairs["j"].tolist(), strict=True)}
    assert len(found) == pairs["i"].size
    from seasight.geo.distance import haversine_km

    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) * 1000
    same_k = samples["k"][:, None] == samples["k"][None, :]
    i, j = np.nonzero(np.triu(same_k & (d <= 500.0), k=1))
    assert found == set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(found) > 50
