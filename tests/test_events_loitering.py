"""Loitering detector: slow vessels at sea, not brief slow-downs nor ships in port."""

from __future__ import annotations

import json

import polars as pl

from events_tracks import at, end_position, identities, join, leg, still
from seasight.events import loitering
from seasight.events.model import DetectionInputs

NEAR_SCARBOROUGH = (15.0, 117.32)  # ~150 nm off Luzon
OFF_COLOMBO_10NM = (6.93, 79.68)
OFF_COLOMBO_40NM = (6.93, 79.17)
SINGAPORE_BERTH = (1.26, 103.84)


def fishing_fleet_vessel(mmsi: int, where: tuple[float, float], slow_h: float,
                         seed: int = 0) -> pl.DataFrame:
    """2 h steaming at 10 kn, then drifting at 0.8 kn for ``slow_h`` hours, then steaming on."""
    lat, lon = where
    approach = leg(mmsi, 0, 2, lat, lon - 0.31, course=90, speed_kn=10)
    drift = still(mmsi, 2 + 1 / 30, slow_h, lat, lon, sog=0.8, jitter_m=30, seed=seed)
    la, lo = end_position(drift)
    depart = leg(mmsi, 2 + 2 / 30 + slow_h, 2, la, lo, course=90, speed_kn=10)
    return join(approach, drift, depart)


def test_fishing_vessel_loitering_near_a_reef() -> None:
    points = fishing_fleet_vessel(412000101, NEAR_SCARBOROUGH, 3)
    events = loitering.detect(DetectionInputs(points=points))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["kind"] == "loitering" and ev["detector"] == "loitering/1"
    assert ev["start"] == at(2 + 1 / 30) and ev["end"] == at(5 + 1 / 30)
    assert not ev["is_open"]
    assert abs(ev["lat"] - NEAR_SCARBOROUGH[0]) < 0.01
    evidence = json.loads(ev["evidence"])
    assert evidence["avg_speed_kn"] == 0.8 and evidence["duration_h"] == 3.0
    assert evidence["n_points"] == 91 and evidence["carrier"] is False
    assert evidence["distance_to_shore_nm"] > 100


def test_twenty_minute_slow_down_does_not_fire() -> None:
    points = fishing_fleet_vessel(412000102, NEAR_SCARBOROUGH, 20 / 60)
    assert loitering.detect(DetectionInputs(points=points)).height == 0


def test_ship_at_berth_is_in_port_not_loitering() -> None:
    points = still(563000103, 0, 8, *SINGAPORE_BERTH, sog=0.0)
    assert loitering.detect(DetectionInputs(points=points)).height == 0


def test_carrier_rule_needs_twenty_miles_from_shore() -> None:
    near = still(563000104, 0, 4, *OFF_COLOMBO_10NM, sog=0.5)
    far = still(563000105, 0, 4, *OFF_COLOMBO_40NM, sog=0.5)
    points = join(near, far)
    carriers = identities({563000104: 70, 563000105: 79})
    events = loitering.detect(DetectionInputs(points=points, identities=carriers))
    assert events["mmsi"].to_list() == [563000105]
    assert json.loads(events["evidence"][0])["carrier"] is True
    # fishing vessels (type 30) loiter anywhere away from port
    fishing = identities({563000104: 30, 563000105: 30})
    events = loitering.detect(DetectionInputs(points=points, identities=fishing))
    assert sorted(events["mmsi"].to_list()) == [563000104, 563000105]
    # the rule is a parameter
    lenient = loitering.Params(carrier_min_shore_nm=5.0)
    events = loitering.detect(DetectionInputs(points=points, identities=carriers), lenient)
    assert events.height == 2


def test_long_hole_splits_a_run() -> None:
    lat, lon = NEAR_SCARBOROUGH
    points = join(still(412000106, 0, 0.75, lat, lon, sog=0.5),
                  still(412000106, 3.75, 0.75, lat, lon, sog=0.5))
    assert loitering.detect(DetectionInputs(points=points)).height == 0
    joined = loitering.Params(max_hole_h=4)
    assert loitering.detect(DetectionInputs(points=points), joined).height == 1


def test_fast_average_is_not_loitering() -> None:
    """Slow by the point threshold but 1.9-2.9 kn: the time-weighted average decides."""
    lat, lon = NEAR_SCARBOROUGH
    points = still(412000107, 0, 3, lat, lon, sog=1.9)
    assert loitering.detect(DetectionInputs(points=points)).height == 1
    points = still(412000107, 0, 3, lat, lon, sog=2.5)
    relaxed = loitering.Params(max_point_speed_kn=3.0)
    assert loitering.detect(DetectionInputs(points=points), relaxed).height == 0


def test_loitering_open_at_the_end_of_the_data() -> None:
    lat, lon = NEAR_SCARBOROUGH
    points = still(412000108, 0, 3, lat, lon, sog=0.3)
    events = loitering.detect(DetectionInputs(points=points))
    assert events.height == 1 and events["is_open"][0]
    later = loitering.detect(DetectionInputs(points=points, horizon_end=at(10)))
    assert not later["is_open"][0]
    assert later["event_id"].to_list() == events["event_id"].to_list()


def test_positions_on_land_do_not_loiter() -> None:
    lat, lon = NEAR_SCARBOROUGH
    points = still(412000109, 0, 3, lat, lon, sog=0.3).with_columns(pl.lit(True).alias("on_land"))
    assert loitering.detect(DetectionInputs(points=points)).height == 0
