"""Port-visit detector: calls at real ports (Singapore), and vessels only passing by."""

from __future__ import annotations

import json

import polars as pl

from events_tracks import at, end_position, join, leg, still
from seasight.events import port_visit
from seasight.events.model import DetectionInputs

SINGAPORE_BERTH = (1.26, 103.84)  # 2.5 km from the Singapore port point (SGSIN)


def port_call(mmsi: int, stay_h: float, sog: float = 0.0) -> pl.DataFrame:
    """Arrive from the south-west at 8 kn, lie at berth for ``stay_h`` hours, leave east."""
    lat, lon = SINGAPORE_BERTH
    arrive = leg(mmsi, 0, 1.5, lat - 0.15, lon - 0.15, course=45, speed_kn=8.5)
    berth = still(mmsi, 1.55, stay_h, lat, lon, sog=sog)
    la, lo = end_position(berth)
    leave = leg(mmsi, 1.6 + stay_h, 1.5, la, lo, course=120, speed_kn=8)
    return join(arrive, berth, leave)


def test_ship_calls_at_singapore() -> None:
    events = port_visit.detect(DetectionInputs(points=port_call(563000201, 6)))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["kind"] == "port_visit" and ev["zone"] == "Singapore"
    assert not ev["is_open"]
    # the entry is on the approach (within 5 km), before the berth; the exit after it, out
    # past the anchorages east of the port (GFW's SINGAPORE cells), about 6 km from the berth
    assert at(1.0) < ev["start"] < at(1.55)
    assert at(8.1) < ev["end"] < at(8.6)
    evidence = json.loads(ev["evidence"])
    assert evidence["locode"] == "SGSIN" and evidence["country"] == "SG"
    assert evidence["entry_observed"] and evidence["exit_observed"]
    assert 5.9 <= evidence["stop_duration_h"] <= 6.1
    assert evidence["min_speed_kn"] == 0.0
    assert evidence["min_area_excess_km"] < -2  # well inside the port area
    assert ev["score"] > 0.9


def test_passing_a_port_at_speed_is_not_a_visit() -> None:
    lat, lon = SINGAPORE_BERTH
    points = leg(563000202, 0, 2, lat - 0.02, lon - 0.15, course=90, speed_kn=12)
    assert port_visit.detect(DetectionInputs(points=points)).height == 0


def test_minimum_time_in_port_is_a_parameter() -> None:
    points = port_call(563000203, 0.1)  # ~45 min inside the 5 km circle, 6 min stopped
    assert port_visit.detect(DetectionInputs(points=points)).height == 1
    longer = port_visit.Params(min_duration_min=120)
    assert port_visit.detect(DetectionInputs(points=points), longer).height == 0


def test_vessel_first_seen_at_berth_and_still_there() -> None:
    points = still(563000204, 0, 5, *SINGAPORE_BERTH, sog=0.0)
    events = port_visit.detect(DetectionInputs(points=points))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["is_open"] and ev["start"] == at(0) and ev["end"] == at(5)
    evidence = json.loads(ev["evidence"])
    assert evidence["entry_observed"] is False and evidence["exit_observed"] is False
    assert ev["score"] < 0.9
    # much later, with no news from the vessel: no longer open
    stale = port_visit.detect(DetectionInputs(points=points, horizon_end=at(40)))
    assert not stale["is_open"][0]
    assert stale["event_id"].to_list() == events["event_id"].to_list()


def test_two_ships_anchored_together_each_visit() -> None:
    lat, lon = SINGAPORE_BERTH
    a = still(563000205, 0, 8, lat, lon, sog=0.0, seed=1)
    b = still(563000206, 0, 8, lat + 0.002, lon, sog=0.0, seed=2)
    events = port_visit.detect(DetectionInputs(points=join(a, b)))
    assert sorted(events["mmsi"].to_list()) == [563000205, 563000206]


def test_hysteresis_keeps_a_vessel_at_the_edge_in_one_visit() -> None:
    """Lying about 5 km from the port point, jittering across the 5 km circle: one visit."""
    ports = pl.DataFrame(
        {"locode": ["XXTST"], "name": ["Test"], "country": ["XX"], "lat": [10.0], "lon": [100.0]}
    )
    edge_lat = 10.0 + 4.9 / 111.195
    points = still(563000207, 0, 6, edge_lat, 100.0, sog=0.2, jitter_m=300, seed=3)
    params = port_visit.Params(ports=ports)
    events = port_visit.detect(DetectionInputs(points=points), params)
    assert events.height == 1 and events["zone"][0] == "Test"
    no_hysteresis = port_visit.Params(ports=ports, exit_margin_km=0.0)
    # without it the vessel flickers in and out: no stay is long enough to count
    assert port_visit.detect(DetectionInputs(points=points), no_hysteresis).height == 0
