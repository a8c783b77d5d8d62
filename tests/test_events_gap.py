"""Gap detector: vessels going dark far offshore, and the dropouts that must not count."""

from __future__ import annotations

import json

import polars as pl

from events_tracks import at, end_position, join, leg
from seasight.events import gap
from seasight.events.model import DetectionInputs
from seasight.model.schema import EVENTS

BAY_OF_BENGAL = (8.0, 84.0)  # ~130 nm east of Sri Lanka
ANDAMAN_SEA = (11.0, 95.5)  # ~150 nm from the Andaman Islands and Myanmar
OFF_COLOMBO = (6.93, 79.77)  # ~5 nm off Colombo


def dark(mmsi: int, where: tuple[float, float], dark_h: float, moved_deg: float = 1.0,
         segment_after: str | None = None) -> pl.DataFrame:
    """6 h sailing east, ``dark_h`` hours of silence, then 6 h more further east."""
    before = leg(mmsi, 0, 6, *where, course=90, speed_kn=10)
    lat, lon = end_position(before)
    after = leg(mmsi, 6 + dark_h, 6, lat, lon + moved_deg, course=90, speed_kn=10,
                segment=segment_after)
    return join(before, after)


def test_vessel_going_dark_east_of_sri_lanka() -> None:
    events = gap.detect(DetectionInputs(points=dark(412000001, BAY_OF_BENGAL, 20)))
    assert events.schema == pl.Schema(EVENTS)
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["kind"] == "gap" and ev["mmsi"] == 412000001 and ev["other_mmsi"] is None
    assert ev["start"] == at(6) and ev["end"] == at(26)
    assert not ev["is_open"]
    assert ev["detector"] == "gap/1"
    assert 0.5 <= ev["score"] <= 1.0
    evidence = json.loads(ev["evidence"])
    assert evidence["duration_h"] == 20.0
    assert evidence["distance_to_shore_nm"] > 100
    assert evidence["on"]["ts"] == "2024-03-02T02:00:00Z"
    assert 100 < evidence["distance_km"] < 120  # one degree of longitude at 8 N
    assert 2.5 < evidence["implied_speed_kn"] < 3.5


def test_vessel_going_dark_in_the_andaman_sea_reappears_as_a_new_segment() -> None:
    points = dark(533000002, ANDAMAN_SEA, 30, moved_deg=3.0, segment_after="533000002-2")
    events = gap.detect(DetectionInputs(points=points))
    assert events.height == 1
    evidence = json.loads(events["evidence"][0])
    assert evidence["off"]["segment_id"] == "533000002-1"
    assert evidence["on"]["segment_id"] == "533000002-2"
    assert evidence["same_segment"] is False


def test_short_dropout_is_not_a_gap() -> None:
    assert gap.detect(DetectionInputs(points=dark(412000003, BAY_OF_BENGAL, 3))).height == 0


def test_gap_close_to_shore_is_not_reported() -> None:
    assert gap.detect(DetectionInputs(points=dark(417000004, OFF_COLOMBO, 20, 0.0))).height == 0


def test_open_gap_at_the_end_of_the_data() -> None:
    points = leg(412000005, 0, 6, *BAY_OF_BENGAL)
    open_inputs = DetectionInputs(points=points, horizon_end=at(20))
    events = gap.detect(open_inputs)
    assert events.height == 1
    ev = events.row(0, named=True)
    assert ev["is_open"] and ev["start"] == at(6) and ev["end"] == at(20)
    assert json.loads(ev["evidence"])["on"] is None
    # not yet 12 h silent: nothing
    assert gap.detect(DetectionInputs(points=points, horizon_end=at(17))).height == 0
    # when the vessel reappears, the same event (same id) is closed
    later = dark(412000005, BAY_OF_BENGAL, 20)
    closed = gap.detect(DetectionInputs(points=later, horizon_end=at(40)))
    assert closed["event_id"].to_list() == events["event_id"].to_list()
    assert not closed["is_open"][0]


def test_silence_covered_by_a_second_transmitter_is_not_a_gap() -> None:
    """One MMSI, two transmitters: one goes quiet for 20 h while the other keeps reporting."""
    first = dark(412000006, BAY_OF_BENGAL, 20)
    other = leg(412000006, 0, 32, 10.0, 88.0, course=180, speed_kn=8, every_min=30,
                segment="412000006-2")
    events = gap.detect(DetectionInputs(points=join(first, other)))
    assert events.height == 0


def test_score_rises_with_duration() -> None:
    short = gap.detect(DetectionInputs(points=dark(412000007, BAY_OF_BENGAL, 14)))
    long = gap.detect(DetectionInputs(points=dark(412000007, BAY_OF_BENGAL, 40)))
    assert long["score"][0] > short["score"][0]


def test_parameters_change_the_thresholds() -> None:
    points = dark(412000008, BAY_OF_BENGAL, 8)
    assert gap.detect(DetectionInputs(points=points)).height == 0
    assert gap.detect(DetectionInputs(points=points), gap.Params(min_gap_h=6)).height == 1
    far = gap.Params(min_shore_nm=500)
    assert gap.detect(DetectionInputs(points=dark(412000008, BAY_OF_BENGAL, 20)), far).height == 0


def test_a_vessel_never_tracked_does_not_go_dark() -> None:
    # a single offshore fix (a sparse source, a satellite pass) followed by a day of other
    # traffic is not a gap; the same vessel tracked for 6 h before the silence is one
    lone = leg(412000009, 0, 0.01, *ANDAMAN_SEA, course=90, speed_kn=10)
    tracked = leg(412000010, 0, 6, *BAY_OF_BENGAL, course=90, speed_kn=10)
    other = leg(412000011, 0, 40, *OFF_COLOMBO, course=0, speed_kn=0.1)
    events = gap.detect(DetectionInputs(points=join(lone, tracked, other)))
    assert events["mmsi"].to_list() == [412000010]
    assert events["is_open"].to_list() == [True]
