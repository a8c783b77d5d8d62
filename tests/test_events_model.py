"""The detectors' shared contract: inputs, stable event ids, the EVENTS frame, the registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from events_tracks import T0, at, join, leg, still
from seasight.events import DetectionInputs, make_event_ids
from seasight.events.model import (
    empty_events,
    events_frame,
    evidence_json,
    horizon_end_us,
    mmsi_time_order,
    to_us,
    track_arrays,
)
from seasight.events.run import DETECTORS, KINDS, detector_params, run_detectors
from seasight.model.schema import EVENTS


def test_event_ids_are_stable_hex_and_distinct() -> None:
    ids = make_event_ids("gap", [1, 2], None, [T0, T0], None)
    assert ids.dtype == pl.String and ids.len() == 2
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert ids[0] != ids[1]
    # the same key from ints, datetimes or a Series gives the same id
    start_us = to_us(T0)
    starts = pl.Series([T0]).dt.convert_time_zone("UTC")
    again = make_event_ids(pl.Series(["gap"]), np.array([1]), [None], starts, [None])
    assert again[0] == ids[0] == make_event_ids("gap", 1, None, start_us)[0]
    # pinned: the id must not change between versions (the store relies on it)
    assert make_event_ids("gap", 1, None, 0, None)[0] == make_event_ids("gap", 1, None, 0)[0]
    assert make_event_ids("encounter", 1, 2, 0)[0] != make_event_ids("encounter", 2, 1, 0)[0]
    assert make_event_ids("zone_entry", 1, None, 0, "a")[0] != make_event_ids(
        "zone_entry", 1, None, 0, "b"
    )[0]


def test_events_frame_conforms_sorts_and_clips() -> None:
    frame = events_frame(
        [
            {"kind": "gap", "mmsi": 5, "start": at(2), "end": at(3), "score": 1.7,
             "evidence": {"x": float("nan"), "n": np.int64(3)}},
            {"kind": "gap", "mmsi": 4, "start": at(1), "score": -1.0, "evidence": "{}"},
        ],
        detector="gap/1",
    )
    assert frame.schema == pl.Schema(EVENTS)
    assert frame["mmsi"].to_list() == [4, 5]
    assert frame["score"].to_list() == [0.0, 1.0]
    assert frame["end"][0] == at(1)  # end defaults to start
    assert frame["is_open"].to_list() == [False, False]
    assert frame["detector"].to_list() == ["gap/1", "gap/1"]
    assert json.loads(frame["evidence"][1]) == {"n": 3, "x": None}
    assert frame["event_id"][1] == make_event_ids("gap", 5, None, at(2))[0]
    assert events_frame([]).schema == pl.Schema(EVENTS)
    assert empty_events().height == 0


def test_events_frame_keeps_one_row_per_id() -> None:
    rows = [{"kind": "gap", "mmsi": 1, "start": at(1), "end": at(2 + i), "evidence": {}}
            for i in range(3)]
    frame = events_frame(rows)
    assert frame.height == 1 and frame["end"][0] == at(2)


def test_evidence_json_is_canonical() -> None:
    assert evidence_json({"b": 1, "a": [1.5, float("inf")]}) == '{"a":[1.5,null],"b":1}'
    assert evidence_json({"t": datetime(2024, 1, 1, tzinfo=UTC)}) == '{"t":"2024-01-01T00:00:00Z"}'


def test_track_arrays_sorts_dedups_and_segments() -> None:
    a = leg(2, 0, 1, 10.0, 100.0, every_min=10)
    b = join(leg(1, 0, 1, 11.0, 101.0, every_min=10, segment="1-b"),
             leg(1, 0.05, 1, 12.0, 102.0, every_min=10, segment="1-a"))
    points = pl.concat([a, b, a.head(3)]).sample(fraction=1.0, shuffle=True, seed=1)
    arrays = track_arrays(points)
    assert arrays.n == 7 + 14
    assert arrays.n_segments == 3
    assert arrays.mmsi.tolist() == sorted(arrays.mmsi.tolist())
    for k in range(arrays.n_segments):
        rows = slice(arrays.seg_start[k], arrays.seg_start[k + 1])
        assert np.all(np.diff(arrays.ts[rows]) > 0)
        assert len(set(arrays.seg[rows].tolist())) == 1
    assert sorted(arrays.segment_ids) == ["1-a", "1-b", "2-1"]
    order = mmsi_time_order(arrays)
    assert order is not None
    assert np.all(np.diff(arrays.ts[order][arrays.mmsi[order] == 1]) >= 0)
    assert mmsi_time_order(track_arrays(a)) is None


def test_horizon_end() -> None:
    points = leg(1, 0, 2, 10.0, 100.0)
    assert horizon_end_us(DetectionInputs(points=points)) == to_us(at(2))
    assert horizon_end_us(DetectionInputs(points=points, horizon_end=at(5))) == to_us(at(5))
    assert horizon_end_us(DetectionInputs()) is None


def test_registry_has_every_kind_with_the_same_interface() -> None:
    assert KINDS == (
        "gap", "encounter", "loitering", "port_visit", "zone_entry", "zone_exit",
        "spoofing", "identity_change",
    )
    for kind, module in DETECTORS.items():
        assert kind == module.KIND
        assert isinstance(module.VERSION, int)
        params = module.Params()
        with pytest.raises(AttributeError):
            params.__setattr__(next(iter(params.__dataclass_fields__)), None)  # frozen
        events = module.detect(DetectionInputs())
        assert events.schema == pl.Schema(EVENTS) and events.height == 0


def test_run_detectors_concatenates_in_canonical_order() -> None:
    lat, lon = 30.5, 125.0
    points = join(
        still(636000001, 0, 4, lat, lon, seed=1),
        still(636000002, 0, 4, lat + 0.002, lon, seed=2),
        leg(412000001, 0, 30, 8.0, 84.0).filter(~pl.col("ts").is_between(at(2), at(20))),
    )
    events = run_detectors(DetectionInputs(points=points))
    assert events.schema == pl.Schema(EVENTS)
    assert set(events["kind"]) >= {"encounter", "loitering", "gap"}
    assert events.sort(["start", "kind", "mmsi"]).equals(events)
    only = run_detectors(DetectionInputs(points=points), kinds=["gap"])
    assert set(only["kind"]) == {"gap"}
    strict = run_detectors(
        DetectionInputs(points=points), kinds=["encounter"],
        params={"encounter": {"max_distance_m": 100.0}},
    )
    assert strict.height == 0
    with pytest.raises(ValueError, match="unknown event kind"):
        run_detectors(DetectionInputs(points=points), kinds=["teleport"])
    with pytest.raises(ValueError, match="unknown encounter parameter"):
        detector_params("encounter", {"radius": 1})
    assert detector_params("gap") == DETECTORS["gap"].Params()
