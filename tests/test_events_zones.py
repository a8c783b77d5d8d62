"""Zone entry / exit detectors: crossings of user zones, per transmitter."""

from __future__ import annotations

import json

import shapely

from events_tracks import T0, at, join, leg
from seasight.events import zone_entry, zone_exit
from seasight.events.model import DetectionInputs
from seasight.geo.zones import Zone

#: An exercise area in the South China Sea: 112-113 E, 10-11 N.
AREA = Zone("exercise area", shapely.box(112.0, 10.0, 113.0, 11.0), {"kind": "exercise"})
REEF = Zone("reef", shapely.box(114.0, 10.0, 114.5, 10.5), {})


def test_crossing_a_zone_gives_one_entry_and_one_exit() -> None:
    # west to east across the area at 10 kn: 1 degree at 10.5 N is ~59 nm, ~5.9 h
    points = leg(412000301, 0, 10, 10.5, 111.8, course=90, speed_kn=10)
    inputs = DetectionInputs(points=points, zones=[AREA, REEF])
    entries = zone_entry.detect(inputs)
    exits = zone_exit.detect(inputs)
    assert entries.height == 1 and exits.height == 1
    entry, exit_ = entries.row(0, named=True), exits.row(0, named=True)
    assert entry["zone"] == "exercise area" and exit_["zone"] == "exercise area"
    assert entry["start"] == entry["end"] and exit_["start"] == exit_["end"]
    assert at(1) < entry["start"] < at(1.5) < at(7) < exit_["start"] < at(7.5)
    assert entry["lon"] > 112.0 and exit_["lon"] > 113.0
    evidence = json.loads(entry["evidence"])
    assert evidence["previous_point"]["lon"] < 112.0 < evidence["point"]["lon"]
    assert evidence["zone_properties"] == {"kind": "exercise"}
    assert entry["score"] == 1.0 and not entry["is_open"]
    assert entry["detector"] == "zone_entry/1" and exit_["detector"] == "zone_exit/1"


def test_vessel_first_seen_inside_has_no_entry() -> None:
    points = leg(412000302, 0, 4, 10.5, 112.8, course=90, speed_kn=10)
    inputs = DetectionInputs(points=points, zones=[AREA])
    assert zone_entry.detect(inputs).height == 0
    assert zone_exit.detect(inputs).height == 1


def test_second_transmitter_does_not_make_the_vessel_flicker() -> None:
    """One MMSI: one transmitter inside the area, one outside, reports interleaved in time."""
    inside = leg(412000303, 0, 4, 10.5, 112.5, course=0, speed_kn=1, segment="412000303-1")
    outside = leg(412000303, 1 / 60, 4, 10.5, 111.0, course=0, speed_kn=1,
                  segment="412000303-2")
    inputs = DetectionInputs(points=join(inside, outside), zones=[AREA])
    assert zone_entry.detect(inputs).height == 0
    assert zone_exit.detect(inputs).height == 0


def test_entry_after_a_long_hole_scores_lower() -> None:
    before = leg(412000304, 0, 1, 10.5, 111.5, course=90, speed_kn=10)
    after = leg(412000304, 30, 1, 10.5, 112.5, course=90, speed_kn=10)
    inputs = DetectionInputs(points=join(before, after), zones=[AREA])
    entries = zone_entry.detect(inputs)
    assert entries.height == 1
    assert entries["score"][0] == 0.5
    assert json.loads(entries["evidence"][0])["hole_h"] > 28


def test_no_zones_no_events() -> None:
    points = leg(412000305, 0, 10, 10.5, 111.8, course=90, speed_kn=10)
    assert zone_entry.detect(DetectionInputs(points=points)).height == 0
    assert zone_exit.detect(DetectionInputs(points=points)).height == 0
    assert T0.tzinfo is not None
