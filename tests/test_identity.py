"""MMSI structure, flags, identity history and the identity_change detector."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from seasight.events import identity_change
from seasight.events.model import DetectionInputs
from seasight.model.schema import EVENTS, IDENTITIES
from seasight.tracks import (
    IdentityParams,
    build_tracks,
    flag_of,
    flags_of,
    identity_history,
    invalid_mmsi,
    mid_of,
    mmsi_kind,
    valid_imo,
)
from seasight.tracks.identity import mid_table
from tracks_synth import T0, static, track

# --------------------------------------------------------------------------------------------
# MMSI, MID, flag, IMO
# --------------------------------------------------------------------------------------------


def test_mmsi_kinds_follow_itu_r_m585() -> None:
    cases = {
        235070762: "ship",
        412000001: "ship",
        23500001: "group",  # 023500001
        2320001: "coast",  # 002320001
        111232500: "sar_aircraft",
        823512345: "handheld",
        970012345: "sart",
        972012345: "mob",
        974012345: "epirb",
        982351234: "craft",
        992351234: "aton",
        0: "invalid",
        1234567: "invalid",  # 001234567: MID 123 is not allocated
        123456789: "invalid",
        111111111: "invalid",  # SAR aircraft of MID 111: not allocated
        999999999: "invalid",
        1_000_000_000: "invalid",
        200000000: "invalid",  # MID 200 not allocated
    }
    kinds = mmsi_kind(list(cases))
    assert dict(zip(cases, kinds.tolist(), strict=True)) == cases
    invalid = invalid_mmsi(list(cases))
    assert invalid.tolist() == [v != "ship" for v in cases.values()]


def test_mid_and_flag() -> None:
    assert mid_of(235070762) == 235 and flag_of(235070762) == "GB"
    assert flag_of(412000001) == "CN"
    assert flag_of(636012345) == "LR"
    assert flag_of(659000001) == "NA"  # Namibia's code is not a missing value
    assert mid_of(2320001) == 232 and flag_of(111232500) == "GB"
    assert mid_of(123456789) is None and flag_of(123456789) is None
    assert flags_of([235070762, 0, 538001234]).to_list() == ["GB", None, "MH"]
    assert len(mid_table()) > 280


def test_imo_check_digit() -> None:
    assert valid_imo([9074729, 9074728, 1234567, 123456, 0, np.nan]).tolist() == [
        True, False, True, False, False, False,
    ]


# --------------------------------------------------------------------------------------------
# identity history
# --------------------------------------------------------------------------------------------


def _type5(mmsi: int, t_s: float, name: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = dict(
        mmsi=mmsi, t_s=t_s, msg_type=5, imo=9074729, callsign="BXYZ", shipname=name,
        ship_type=80, to_bow=100, to_stern=20, to_port=10, to_starboard=10,
    )
    row.update(kw)
    return row


def _class_b(mmsi: int, t_s: float, name: str | None, callsign: str | None) -> list[dict]:
    rows: list[dict[str, object]] = []
    if name is not None:
        rows.append(dict(mmsi=mmsi, t_s=t_s, msg_type=24, part_num=0, shipname=name))
    if callsign is not None:
        rows.append(dict(mmsi=mmsi, t_s=t_s + 5, msg_type=24, part_num=1, callsign=callsign,
                         ship_type=37, to_bow=5, to_stern=5, to_port=1, to_starboard=2))
    return rows


def _rows() -> list[dict[str, object]]:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(10)]
    rows += [_type5(412000001, 600 * k, "OCEAN GLORY") for k in range(10, 20)]
    for k in range(6):
        rows += _class_b(235000002, 300 * k, "LITTLE ONE", "MABC1")
    rows += _class_b(235000002, 4000, "LITTLE 0NE", None)  # one garbled name
    for k in range(6):
        rows += _class_b(235000002, 5000 + 300 * k, "LITTLE ONE", None)
    return rows


def test_identity_periods_merge_reports_and_ignore_noise() -> None:
    ids = identity_history(static(_rows()))
    assert ids.columns == list(IDENTITIES)
    b = ids.filter(pl.col("mmsi") == 235000002)
    assert b.height == 1  # 24A + 24B are one identity; the garbled name is noise
    row = b.row(0, named=True)
    assert (row["shipname"], row["callsign"], row["ship_type"]) == ("LITTLE ONE", "MABC1", 37)
    assert (row["length_m"], row["beam_m"], row["flag"]) == (10, 3, "GB")
    assert row["n_reports"] == 19  # 6 x (24A + 24B), the garbled 24A, 6 more 24A
    a = ids.filter(pl.col("mmsi") == 412000001).sort("valid_from")
    assert a["shipname"].to_list() == ["SEA STAR", "OCEAN GLORY"]
    assert a["valid_from"].to_list() == [T0, T0 + timedelta(seconds=6000)]
    assert a["valid_to"].to_list() == [T0 + timedelta(seconds=5400), T0 + timedelta(seconds=11400)]
    assert a["flag"].to_list() == ["CN", "CN"]
    assert a["imo"].to_list() == [9074729, 9074729]


def test_a_missing_field_is_not_a_change() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(5)]
    rows += [_type5(412000001, 600 * k, "SEA STAR", callsign=None, imo=None) for k in range(5, 9)]
    ids = identity_history(static(rows))
    assert ids.height == 1
    assert ids["callsign"][0] == "BXYZ" and ids["imo"][0] == 9074729


def test_min_reports_debounce() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(5)]
    rows += [_type5(412000001, 3000, "SEA STAX")]
    rows += [_type5(412000001, 600 * k, "SEA STAR") for k in range(6, 9)]
    assert identity_history(static(rows)).height == 1
    assert identity_history(static(rows), IdentityParams(min_reports=1)).height == 3


def test_identity_history_empty() -> None:
    empty = identity_history(pl.DataFrame())
    assert empty.columns == list(IDENTITIES) and empty.height == 0


_STATIC = static(_rows())
_EXPECTED_IDS = identity_history(_STATIC)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_identity_history_does_not_depend_on_row_order(seed: int) -> None:
    got = identity_history(_STATIC.sample(fraction=1.0, shuffle=True, seed=seed))
    assert_frame_equal(got, _EXPECTED_IDS)


# --------------------------------------------------------------------------------------------
# identity_change detector
# --------------------------------------------------------------------------------------------


def test_module_contract() -> None:
    assert identity_change.KIND == "identity_change"
    assert isinstance(identity_change.VERSION, int)
    assert identity_change.detect(DetectionInputs()).columns == list(EVENTS)


def test_name_change_event() -> None:
    points = build_tracks(track(412000001, lat=30.0, lon=124.0, n=300, dt_s=60)).points
    events = identity_change.detect(
        DetectionInputs(identities=_EXPECTED_IDS, points=points)
    )
    assert events.height == 1  # nothing for the class B vessel's 24A -> 24B
    ev = events.row(0, named=True)
    assert ev["mmsi"] == 412000001 and ev["other_mmsi"] is None
    assert ev["start"] == ev["end"] == T0 + timedelta(seconds=6000)
    assert ev["detector"] == "identity_change/1"
    evidence = json.loads(ev["evidence"])
    assert evidence["shipname"] == {"old": "SEA STAR", "new": "OCEAN GLORY"}
    assert "callsign" not in evidence and "imo" not in evidence
    assert evidence["new_period"]["valid_from"] == "2024-03-01T01:40:00Z"
    # the position is the vessel's fix at the change (track starts at 30N 124E, 12 kn east)
    assert abs(ev["lat"] - 30.0) < 0.1 and 124.0 < ev["lon"] < 124.7
    again = identity_change.detect(DetectionInputs(identities=_EXPECTED_IDS, points=points))
    assert again["event_id"].to_list() == events["event_id"].to_list()


def test_several_fields_and_type_change() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(5)]
    rows += [_type5(412000001, 600 * k, "SEA STAR", callsign="BQQQ", ship_type=70)
             for k in range(5, 9)]
    events = identity_change.detect(DetectionInputs(identities=identity_history(static(rows))))
    evidence = json.loads(events["evidence"][0])
    assert evidence["callsign"] == {"old": "BXYZ", "new": "BQQQ"}
    assert evidence["ship_type"] == {"old": 80, "new": 70}
    assert events["score"][0] > 0.85
    only_name = identity_change.detect(
        DetectionInputs(identities=identity_history(static(rows))),
        identity_change.Params(fields=("shipname",)),
    )
    assert only_name.height == 0


def test_dimension_change_alone_is_no_event() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(5)]
    rows += [_type5(412000001, 600 * k, "SEA STAR", to_bow=150) for k in range(5, 9)]
    ids = identity_history(static(rows))
    assert ids.height == 2
    assert identity_change.detect(DetectionInputs(identities=ids)).height == 0


def test_reflagging_under_a_new_mmsi_is_linked_by_imo() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(5)]
    rows += [_type5(636012345, 86400 + 600 * k, "OCEAN GLORY", callsign="D5AB1")
             for k in range(5)]
    ids = identity_history(static(rows))
    events = identity_change.detect(DetectionInputs(identities=ids))
    assert events.height == 1
    ev = events.row(0, named=True)
    assert (ev["mmsi"], ev["other_mmsi"]) == (636012345, 412000001)
    evidence = json.loads(ev["evidence"])
    assert evidence["mmsi"] == {"old": 412000001, "new": 636012345}
    assert evidence["flag"] == {"old": "CN", "new": "LR"}
    assert evidence["shipname"] == {"old": "SEA STAR", "new": "OCEAN GLORY"}
    assert ev["score"] >= 0.9
    off = identity_change.detect(DetectionInputs(identities=ids),
                                 identity_change.Params(link_by_imo=False))
    assert off.height == 0


def test_one_imo_on_two_mmsis_at_once_or_invalid_imo_is_not_reflagging() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(5)]
    rows += [_type5(636012345, 300 + 600 * k, "SEA STAR") for k in range(5)]  # overlapping
    rows += [_type5(412000002, 600 * k, "A", imo=1234568) for k in range(3)]  # bad check digit
    rows += [_type5(412000003, 9000 + 600 * k, "B", imo=1234568) for k in range(3)]
    ids = identity_history(static(rows))
    assert identity_change.detect(DetectionInputs(identities=ids)).height == 0


def test_alternating_mmsis_with_one_imo_are_not_reflagging() -> None:
    rows = [_type5(412000001, 600 * k, "SEA STAR") for k in range(3)]
    rows += [_type5(636012345, 3000 + 600 * k, "SEA STAR") for k in range(3)]
    rows += [_type5(412000001, 9000 + 600 * k, "SEA STAR") for k in range(3)]  # back again
    ids = identity_history(static(rows))
    assert identity_change.detect(DetectionInputs(identities=ids)).height == 0
