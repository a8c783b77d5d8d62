"""Every detector on tracks crossing the 180th meridian, south of Fiji.

Longitudes jump from +180 to -180 there: positions, medians and distances must wrap, so that
events are neither dropped nor placed on the other side of the world (a plain median of
-179.98 and +179.98 is about 0).
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import shapely

from events_tracks import at, identities, join, leg, still
from seasight.events import (
    encounter,
    gap,
    identity_change,
    loitering,
    port_visit,
    spoofing,
    zone_entry,
    zone_exit,
)
from seasight.events.model import DetectionInputs, group_median_position
from seasight.geo.zones import Zone
from seasight.tracks import build_tracks, identity_history
from tracks_synth import concat, positions, static, track

#: Open ocean on the meridian south of Fiji, about 80 nm from Ono-i-Lau, the nearest land.
LAT = -21.5


def _wrapped(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(((pl.col("lon") + 540.0) % 360.0 - 180.0).alias("lon"))


def _near_meridian(lon: float) -> bool:
    return abs(lon) > 179.0


def test_group_median_position_straddling_the_meridian() -> None:
    lon = np.array([179.98, -179.98, 179.99, -179.99])
    lat = np.full(4, LAT)
    _, med = group_median_position(np.zeros(4, np.int64), lat, lon, 1)
    assert _near_meridian(float(med[0]))
    assert abs(float(pl.Series(lon).median())) < 1  # what a plain median gives


def test_encounter_straddling_the_meridian_is_placed_on_it() -> None:
    # two vessels 150 m apart drifting east at 0.5 kn together across the meridian: half of
    # the 36 midpoints (5 h 50 min at 10 min steps) lie on each side
    start_lon = 180.0 - 0.5 * 1.852 * 2.9167 / (111.195 * math.cos(math.radians(LAT)))
    a = _wrapped(leg(512000001, 0, 35 / 6, LAT, start_lon, speed_kn=0.5, jitter_m=5, seed=1))
    b = _wrapped(leg(512000002, 0, 35 / 6, LAT + 150 / 111_195, start_lon, speed_kn=0.5,
                     jitter_m=5, seed=2))
    assert (a["lon"] < 0).any() and (a["lon"] > 0).any()
    events = encounter.detect(DetectionInputs(points=join(a, b)))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert abs(abs(ev["lon"]) - 180.0) < 0.01 and abs(ev["lat"] - LAT) < 0.01
    assert json.loads(ev["evidence"])["median_distance_m"] < 250


def test_gap_across_the_meridian() -> None:
    # eastbound at 10 kn, silent for 14 h from 179.2 E, reappearing past the meridian
    before = leg(512000011, 0, 3, LAT, 179.0, course=90, speed_kn=10)
    after = leg(512000011, 17, 3, LAT, -178.3, course=90, speed_kn=10)
    events = gap.detect(DetectionInputs(points=join(before, after)))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["lon"] > 179.0 and ev["start"] == at(3)
    evidence = json.loads(ev["evidence"])
    assert 150 < evidence["distance_km"] < 250  # not 37,000 km the long way round


def test_loitering_on_the_meridian() -> None:
    drift = still(512000021, 0, 4, LAT, 180.0 - 0.0002, sog=0.5, jitter_m=60, seed=3)
    drift = drift.with_columns(((pl.col("lon") + 540.0) % 360.0 - 180.0).alias("lon"))
    assert (drift["lon"] < 0).any() and (drift["lon"] > 0).any()
    inputs = DetectionInputs(points=drift, identities=identities({512000021: 70}))
    events = loitering.detect(inputs)
    assert events.height == 1
    assert _near_meridian(events["lon"][0])


def test_port_visit_at_a_port_on_the_meridian() -> None:
    # a port point just east of the meridian (as Taveuni's anchorages are); the vessel lies at
    # anchor just west of it
    ports = pl.DataFrame({"name": ["Dateline Harbour"], "lat": [-16.8], "lon": [-179.9995]})
    params = port_visit.Params(ports=ports)
    arrive = leg(512000031, 0, 1.5, -16.8, 179.75, course=90, speed_kn=9)
    stay = still(512000031, 1.55, 6, -16.8, 179.999, jitter_m=30, seed=4)
    stay = stay.with_columns(((pl.col("lon") + 540.0) % 360.0 - 180.0).alias("lon"))
    depart = leg(512000031, 7.6, 1.5, -16.8, -179.995, course=90, speed_kn=9)
    events = port_visit.detect(DetectionInputs(points=join(arrive, stay, depart)), params)
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["zone"] == "Dateline Harbour" and _near_meridian(ev["lon"])
    assert not ev["is_open"]


def test_zone_split_at_the_meridian_gives_one_entry_and_one_exit() -> None:
    # a watched box from 179.5 E to 179.5 W, split into its two halves as RFC 7946 asks
    box = shapely.MultiPolygon([shapely.box(179.5, -22.0, 180.0, -21.0),
                                shapely.box(-180.0, -22.0, -179.5, -21.0)])
    zone = Zone("dateline box", box, {})
    points = leg(512000041, 0, 10, LAT, 179.2, course=90, speed_kn=10)
    points = points.with_columns(((pl.col("lon") + 540.0) % 360.0 - 180.0).alias("lon"))
    inputs = DetectionInputs(points=points, zones=[zone])
    entries, exits = zone_entry.detect(inputs), zone_exit.detect(inputs)
    assert entries.height == 1 and exits.height == 1  # crossing 180 inside is no exit
    assert 179.5 < entries["lon"][0] < 179.6
    assert -179.5 < exits["lon"][0] < -179.4


def test_track_crossing_the_meridian_is_one_segment_and_not_spoofing() -> None:
    crossing = track(512000051, lat=LAT, lon=179.5, n=240, dt_s=60, sog=12, cog=90)
    crossing = crossing.with_columns(((pl.col("lon") + 540.0) % 360.0 - 180.0).alias("lon"))
    tracks = build_tracks(crossing)
    assert tracks.segments.height == 1 and tracks.segmented.n_outliers == 0
    inputs = DetectionInputs(points=tracks.points, segments=tracks.segments)
    assert spoofing.detect(inputs).height == 0


def test_spoofing_across_the_meridian() -> None:
    # the real vessel crosses the meridian; a second transmitter 300 km east (both rules)
    real = _wrapped(track(512000061, lat=LAT, lon=179.5, n=8 * 30, dt_s=120, sog=12, cog=90))
    dense = _wrapped(track(512000061, lat=LAT, lon=-176.5, n=60, dt_s=120, t0_s=3600,
                           sog=9, cog=270))
    sparse = positions(mmsi=[512000061] * 3, t_s=[3637, 3 * 3600 + 37, 5 * 3600 + 37],
                       lat=[LAT - 1.0, LAT - 1.05, LAT - 1.1], lon=[-177.0, -177.1, -177.2])
    for other, reason in ((dense, "two_positions"), (sparse, "sparse_transmitter")):
        tracks = build_tracks(concat(real, other))
        events = spoofing.detect(DetectionInputs(points=tracks.points, segments=tracks.segments))
        assert events.height == 1, reason
        evidence = json.loads(events["evidence"][0])
        assert evidence["reason"] == reason
        assert 150 < evidence["median_distance_km"] < 400
        assert events["lon"][0] < -176.0  # the newcomer, east of the meridian


def test_identity_change_across_the_meridian() -> None:
    crossing = _wrapped(track(512000071, lat=LAT, lon=179.9, n=300, dt_s=60, sog=12, cog=90))
    rows = [dict(mmsi=512000071, t_s=600 * k, msg_type=5, imo=9074729, callsign="BXYZ",
                 shipname="SEA STAR" if k < 5 else "OCEAN GLORY", ship_type=80)
            for k in range(9)]
    points = build_tracks(crossing).points
    events = identity_change.detect(
        DetectionInputs(identities=identity_history(static(rows)), points=points))
    assert events.height == 1
    assert _near_meridian(events["lon"][0]) and events["lon"][0] < 0  # past the meridian
