"""Conformance with pyais: every case of ``pyais/pyais_decode_vectors.json``.

Each of the 195 cases is handled by exactly one rule (``test_every_case_is_handled``):

``decode``
    SeaSight decodes the sentences; ``expected`` (pyais names, enums as their value),
    ``expected_rounded``, ``expected_as_str``, ``expected_nmea`` (the envelope fields SeaSight
    keeps: channel, message id, payload and fill bits of raw types), ``expected_tag_block``
    (``receiver_timestamp`` -> ``ts``, ``source_station`` -> ``station``), JSON texts of
    ``to_json()`` checks and the field checks of ``other_checks`` are compared field by field.
``reject`` (``EXPECT_REJECT``)
    pyais raises on malformed input (InvalidNMEAChecksum, InvalidNMEAMessageException,
    MissingMultipartMessageException, TooManyMessagesException, UnknownMessageException,
    MissingPayloadException) or says it is invalid (``is_valid`` false): SeaSight must reject
    every line with the listed reason, decode nothing and never raise.
``differs`` (``DOCUMENTED_DIFFERENCES``)
    pyais decodes, SeaSight rejects by design (pyais does not verify checksums by default, decodes
    lone fragments, type 0, type 28, messages too short to hold an MMSI, out-of-order
    fragments). The reject reason is asserted; where the only problem is a wrong checksum in
    pyais' vector the test also recomputes it and compares the fields. (A tag block that fails
    its own check is no difference: SeaSight decodes its sentence too, ``tagblock_unverified``.)
``not applicable`` (``NOT_APPLICABLE``)
    the case tests pyais' Python API (KeyError/TypeError/ValueError on misuse, queues, tag block
    builders) and has no input to feed.
``bug`` (``KNOWN_BUGS``)
    a decoder bug: the expected behaviour is asserted, marked xfail(strict=True).

Conventions mapped (SeaSight's records docstring): not available -> null instead of pyais'
sentinels (turn -128.0, speed 102.3, course 360.0, heading 511, lat 91, lon 181, second 60-63,
imo 0, draught 0, ship type 0, ETA month/day 0, hour 24, minute 60, alt 4095); empty text ->
null; an aid-to-navigation's ``name`` is pyais' ``full_name``; code tables are compared through
pyais' own enum fallback (pyais maps unknown codes, e.g. EPFD 14, to a default member; SeaSight
keeps the transmitted code); lat/lon within 6e-7 degree (pyais rounds to 6 decimals).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pyais
import pytest
from pyais.constants import EpfdType, ManeuverIndicator, NavAid, NavigationStatus, ShipType

from conftest import (
    decode_lines,
    fix_checksum,
    pyais_as_seasight,
    read_shared_json,
    record_time,
    sentence,
    utc,
)
from seasight.ais.records import to_records
from seasight.model.rejects import REASON_NAMES

VECTORS = read_shared_json("conformance/pyais/pyais_decode_vectors.json")
CASES: list[dict[str, Any]] = VECTORS["cases"]
BY_ID: dict[str, dict[str, Any]] = {c["id"]: c for c in CASES}

RAW_TYPES = frozenset({6, 7, 8, 10, 12, 13, 14, 15, 16, 17, 20, 22, 23, 25, 26})
ENUMS = {
    "status": NavigationStatus,
    "maneuver": ManeuverIndicator,
    "epfd": EpfdType,
    "ship_type": ShipType,
    "aid_type": NavAid,
}

#: pyais fields SeaSight does not decode (records docstring), with the reason.
PYAIS_NOT_DECODED: dict[str, str] = {
    "radio": "radio status not decoded",
    "communication_state_raw": "radio status not decoded",
    "reserved_1": "regional/reserved bits not decoded",
    "reserved_2": "regional/reserved bits not decoded",
    "spare_1": "spare bits not decoded",
    "cs": "class B unit flags not decoded",
    "display": "class B unit flags not decoded",
    "dsc": "class B unit flags not decoded",
    "band": "class B unit flags not decoded",
    "msg22": "class B unit flags not decoded",
    "gnss": "type 27 GNSS flag not decoded",
    "name_ext": "SeaSight's name includes the name extension (compared via full_name)",
    # Gatehouse $PGHP fields other than the time (the time is checked as the next row's ts)
    "country": "Gatehouse header field, not stored",
    "region": "Gatehouse header field, not stored",
    "pss": "Gatehouse header field, not stored",
    "online_data": "Gatehouse header field, not stored",
}
#: pyais fields decoded by SeaSight for some types only.
PYAIS_NOT_DECODED_FOR: dict[tuple[int, str], str] = {
    (9, "dte"): "type 9 DTE flag not decoded",
    (9, "assigned"): "type 9 assigned-mode flag not decoded",
    (18, "assigned"): "type 18 assigned-mode flag not decoded",
    (19, "assigned"): "type 19 assigned-mode flag not decoded",
}
#: Envelope / tag-block fields SeaSight does not store.
NMEA_NOT_STORED: dict[str, str] = {
    "talker": "any talker is accepted (the row existing is the check); not stored",
    "type": "VDM and VDO are both accepted (the row existing is the check); not stored",
    "frag_cnt": "fragment bookkeeping is not stored (assembled messages only)",
    "frag_num": "fragment bookkeeping is not stored",
    "seq_id": "fragment bookkeeping is not stored",
    "checksum": "verified (a bad checksum is a reject); the value is not stored",
    "destination_station": "tag block d: not stored",
    "line_count": "tag block n: not stored",
    "relative_time": "tag block r: not stored",
    "text": "tag block t: not stored",
    "group.sentence_num": "tag block g: is not stored (fragments are joined by sequence id)",
    "group.sentence_tot": "tag block g: is not stored",
    "group.group_id": "tag block g: is not stored",
}

#: Malformed input (pyais raises or calls it invalid): the reasons SeaSight must give, one list
#: per input in order (``None``: a blank line, counted in ``skipped``, neither row nor reject).
EXPECT_REJECT: dict[str, tuple[list[list[str | None]], str]] = {
    "tests/test_decode.py::TestAIS.test_nmea_decode_unknown_msg#1": (
        [["bad_checksum"]], "UnknownMessageException; the checksum is wrong too (12 vs 13)"),
    "tests/test_decode.py::TestAIS.test_decode_does_raise_an_error_if_error_if_checksum_invalid_is_true": (  # noqa: E501
        [["bad_checksum"]], "InvalidNMEAChecksum"),
    "tests/test_decode.py::TestAIS.test_common_invalid_inputs_to_the_decode_function#1": (
        [["unsupported_sentence"]], "UnknownMessageException: $ANABK is not AIS"),
    "tests/test_decode.py::TestAIS.test_common_invalid_inputs_to_the_decode_function#2": (
        [["malformed_sentence"], ["unsupported_sentence"], ["malformed_sentence"], [None]],
        "InvalidNMEAMessageException: 'AAA', '$AAA', '?!?!', '' (an empty line is a blank line "
        "for SeaSight: counted in skipped, not a reject)"),
    "tests/test_decode.py::TestAIS.test_common_invalid_inputs_to_the_decode_function#4": (
        [["malformed_sentence", "unsupported_sentence"]],
        "InvalidNMEAMessageException: '$AIVDM,' ($ start: not an AIS encapsulation sentence)"),
    "tests/test_decode.py::TestAIS.test_common_invalid_inputs_to_the_decode_function#5": (
        [["malformed_sentence", "unsupported_sentence"]],
        "InvalidNMEAMessageException: '$AIVDM,,,,,,'"),
    "tests/test_decode.py::TestAIS.test_invalid_timestamp_message#1": (
        [["bad_timestamp"]], "InvalidNMEAMessageException: '$PGHP,0,21' (no checksum, type 0)"),
    "tests/test_decode.py::TestAIS.test_invalid_timestamp_message#2": (
        [["bad_timestamp", "bad_checksum"]],
        "InvalidNMEAMessageException: year 11, and checksum 56 (computed 73)"),
    "tests/test_decode.py::TestAIS.test_invalid_timestamp_message#3": (
        [["malformed_sentence"]], "UnknownMessageException: ',n:4,r:3543...,foo bar 200'"),
    "tests/test_decode.py::TestAIS.test_decode_with_empty_payload": (
        [["empty_payload"]], "MissingPayloadException"),
    "tests/test_decode.py::TestAIS.test_decode_fragment_count_0": (
        [["bad_fragment_number"]], "TooManyMessagesException: fragment count 0"),
    "tests/test_nmea.py::TestNMEA.test_values#1": (
        [["malformed_sentence"]], "InvalidNMEAMessageException: fields missing"),
    "tests/test_tag_block.py::TagBlockTestCase.test_that_the_factory_is_gentle_with_malformed_tag_blocks#3": (  # noqa: E501
        [["malformed_sentence"]], "UnknownMessageException: '\\s:2573535,\\c:...' broken tag "
        "block: it ends at the second backslash, 'c:1671533231\\!BSVDM...' is no sentence"),
    "tests/test_decode_raw.py::TestDecode.test_bytes_invalid": (
        [["malformed_sentence"]], "InvalidNMEAMessageException: '!AIVDM,1,1,,A'"),
    "tests/test_decode_raw.py::TestDecode.test_multipart_error_message#1": (
        [["missing_fragment"]], "MissingMultipartMessageException: fragment 1 of 2 alone"),
    "tests/test_decode_raw.py::TestDecode.test_multipart_error_message#3": (
        [["orphan_fragment"]], "MissingMultipartMessageException: fragment 2 of 2 alone"),
    "tests/test_decode_raw.py::TestDecode.test_multipart_error_message#4": (
        [["bad_checksum"]],
        "MissingMultipartMessageException: fragment 2 of 3 alone; its checksum is wrong too "
        "(68 vs 6A); with the checksum fixed it is an orphan_fragment (checked below)"),
    # pyais' NMEA validity checks (is_valid false): the checksum does not match
    "tests/test_nmea.py::TestNMEA.test_validity#2": (
        [["bad_checksum"]], "is_valid false: payload altered, checksum kept"),
    "tests/test_nmea.py::TestNMEA.test_that_an_invalid_checksum_is_correctly_identified": (
        [["bad_checksum"]], "is_valid false"),
    "tests/test_nmea.py::TestNMEA.test_that_an_invalid_checksum_is_correctly_identified_for_multi_part_msgs#1": (  # noqa: E501
        [["bad_checksum"], ["orphan_fragment"]],
        "is_valid false: fragment 1's checksum is wrong, so fragment 2 has no first fragment"),
    "tests/test_nmea.py::TestNMEA.test_that_an_invalid_checksum_is_correctly_identified_for_multi_part_msgs#2": (  # noqa: E501
        [["missing_fragment"], ["bad_checksum"]],
        "is_valid false: fragment 2's checksum is wrong, so fragment 1 never completes"),
}

#: pyais decodes these, SeaSight rejects them by design: (reasons per line, why, follow-up).
#: follow-up ``fix_checksum``: pyais' vector has a wrong checksum (pyais does not check by
#: default); the test recomputes it and then compares the expected fields, or asserts the
#: reason SeaSight gives once the checksum is right.
DOCUMENTED_DIFFERENCES: dict[str, tuple[list[str], str, str | None]] = {
    "tests/test_decode.py::TestAIS.test_decode_pos_1_2_3": (
        ["unknown_message_type"],
        "message type 0 does not exist; pyais decodes it with the type 1 layout", None),
    "tests/test_decode.py::TestAIS.test_decode_1_speed": (
        ["bad_checksum"], "checksum 67, computed 7E", "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_msg_type_8_multipart": (
        ["bad_checksum", "orphan_fragment"], "fragment 1: checksum 5F, computed 5D",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_msg_type_28_authed": (
        ["unknown_message_type"],
        "type 28 (ITU-R M.1371-6) is above 27: rejected as unknown, pyais 3 decodes it", None),
    "tests/test_decode.py::TestAIS.test_msg_with_more_that_82_chars_payload": (
        ["bad_checksum"], "checksum 35, computed 36", "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_decode_out_of_order": (
        ["orphan_fragment", "missing_fragment"],
        "fragments must arrive in order (assembly docstring); pyais sorts them", None),
    "tests/test_decode.py::TestAIS.test_issue_46_a": (
        ["missing_fragment"],
        "a lone fragment 1 of 2: pyais decodes it on its own (decoded_via), SeaSight waits for "
        "fragment 2 and rejects the line as missing_fragment", None),
    "tests/test_decode.py::TestAIS.test_msg_too_short_enum_is_none#1": (
        ["bad_checksum"], "checksum 52, computed 7F; 28 bits, too short for an MMSI",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_msg_too_short_enum_is_none#2": (
        ["bad_checksum"], "checksum 5C, computed 5A; 24 bits, too short for an MMSI",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_msg_too_short_enum_is_none#3": (
        ["bad_checksum"],
        "checksum 00, computed 23; a lone fragment 1 of 2 (decoded_via): missing_fragment",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_type_25_very_short": (
        ["bad_checksum"], "checksum 65, computed 0A; 12 bits, too short for an MMSI",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_type_26_very_short": (
        ["bad_checksum"], "checksum 4E, computed 6A; 14 bits, too short for an MMSI",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_type_22_very_short": (
        ["bad_checksum"], "checksum 74, computed 63; 30 bits, too short for an MMSI",
        "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_decode_does_not_raise_an_error_if_error_if_checksum_invalid_is_false": (  # noqa: E501
        ["bad_checksum"], "checksum FF, computed 05: pyais decodes when told to", "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_decode_does_not_raise_an_error_by_default": (
        ["bad_checksum"], "checksum FF, computed 05: pyais decodes by default", "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_issue_88": (
        ["bad_checksum"],
        "checksum 45, computed 55; the payload holds '!', which is not a 6-bit armoring "
        "character: with the checksum fixed it is bad_payload", "fix_checksum"),
    "tests/test_decode.py::TestAIS.test_timestamp_message": (
        ["bad_checksum"],
        "a $PGHP line with checksum 56 (computed 57): its time is not used; with the checksum "
        "fixed, its time stamps the next sentence (checked)", "fix_checksum"),
    "tests/test_tag_block.py::TagBlockQueueTestCase.test_put_single_w_group#2": (
        ["bad_checksum"], "sentence checksum 1C, computed 1F (its tag block's 50, computed 53, "
        "alone would only be a warning)", "fix_checksum"),
    "tests/test_tag_block.py::TagBlockQueueTestCase.test_put_single_wo_group#2": (
        ["bad_checksum"], "sentence checksum 1C, computed 1F", "fix_checksum"),
    "tests/test_tag_block.py::TagBlockTestCase.test_tag_block_with_group": (
        ["bad_checksum"], "sentence checksum 1C, computed 1F (tag block fine)", "fix_checksum"),
    "tests/test_tag_block.py::TagBlockTestCase.test_that_the_factory_removes_the_leading_tag_block": (  # noqa: E501
        ["orphan_fragment"], "a lone fragment 2 of 2 (the pyais test is about tag-block "
        "splitting)", None),
    "tests/test_tag_block.py::TagBlockTestCase.test_that_the_factory_pre_processes_correctly": (
        ["orphan_fragment"], "a lone fragment 2 of 2 (pyais test of tag-block splitting)", None),
    "tests/test_tag_block.py::TagBlockTestCase.test_that_the_factory_is_gentle_with_malformed_tag_blocks#1": (  # noqa: E501
        ["orphan_fragment"], "a lone fragment 2 of 2 behind a tag block without '*hh' checksum "
        "(NMEA 4.0 requires it: counted as a bad_tagblock warning, the sentence is framed)",
        None),
    "tests/test_tag_block.py::TagBlockTestCase.test_create_from_tag_block": (
        ["malformed_sentence"], "the sentence has no '*hh' checksum (',013'); its tag block's "
        "'*A' is not a two-digit checksum either (pyais test of TagBlock.create())", None),
}

#: After fixing the checksum: the reasons SeaSight gives (other fix_checksum cases decode).
AFTER_FIX_REJECT: dict[str, list[str]] = {
    "tests/test_decode.py::TestAIS.test_msg_too_short_enum_is_none#1": ["truncated_message"],
    "tests/test_decode.py::TestAIS.test_msg_too_short_enum_is_none#2": ["truncated_message"],
    "tests/test_decode.py::TestAIS.test_msg_too_short_enum_is_none#3": ["missing_fragment"],
    "tests/test_decode.py::TestAIS.test_type_25_very_short": ["truncated_message"],
    "tests/test_decode.py::TestAIS.test_type_26_very_short": ["truncated_message"],
    "tests/test_decode.py::TestAIS.test_type_22_very_short": ["truncated_message"],
    "tests/test_decode.py::TestAIS.test_issue_88": ["bad_payload"],
    "tests/test_decode_raw.py::TestDecode.test_multipart_error_message#4": ["orphan_fragment"],
}

#: Cases about pyais' Python API, with no input SeaSight could be given.
NOT_APPLICABLE: dict[str, str] = {
    "tests/test_decode.py::TestAIS.test_byte_stream#2": "counts messages of pyais' stream API",
    "tests/test_decode.py::TestAIS.test_nmea_decode_unknown_msg#2": "no input transcribed",
    "tests/test_decode.py::TestAIS.test_common_invalid_inputs_to_the_decode_function#3": (
        "TypeError for a wrong Python argument type of pyais.decode() (the sentence itself "
        "is valid: decoded below)"),
    "tests/test_nmea.py::TestNMEA.test_wrong_type#1": (
        "ValueError from NMEAMessage() given a non-bytes object (the sentence is valid: "
        "decoded below)"),
    "tests/test_nmea.py::TestNMEA.test_wrong_type#2": "ValueError on misuse of NMEAMessage()",
    "tests/test_nmea.py::TestNMEA.test_get_item_raises_key_error": (
        "KeyError on dict-style access msg['foo'] (the sentence is valid: decoded below)"),
    "tests/test_nmea.py::TestNMEA.test_get_item_raises_type_error": (
        "TypeError on dict-style access with a non-str key (sentence decoded below)"),
    "tests/test_tag_block.py::TagBlockQueueTestCase.test_put_single_w_group#1": "queue API",
    "tests/test_tag_block.py::TagBlockQueueTestCase.test_put_single_wo_group#1": "queue API",
    "tests/test_tag_block.py::TagBlockQueueTestCase.test_put_multiple_w_groups": (
        "queue API, no input transcribed"),
    "tests/test_tag_block.py::TagBlockTestCase.test_spire_maritime_format": "no input transcribed",
    "tests/test_tag_block.py::TagBlockTestCase.test_multiple_messages": "no input transcribed",
    "tests/test_tag_block.py::TagBlockTestCase.test_that_the_factory_is_gentle_with_malformed_tag_blocks#2": (  # noqa: E501
        "no input transcribed"),
    "tests/test_decode_raw.py::TestDecode.test_too_many_messages#2": "exception text of pyais",
    "tests/test_decode_raw.py::TestDecode.test_multipart_error_message#2": (
        "exception text of pyais"),
}
#: Cases in NOT_APPLICABLE whose sentences are nevertheless valid and must decode.
NOT_APPLICABLE_BUT_DECODES = {
    "tests/test_decode.py::TestAIS.test_common_invalid_inputs_to_the_decode_function#3",
    "tests/test_nmea.py::TestNMEA.test_wrong_type#1",
    "tests/test_nmea.py::TestNMEA.test_get_item_raises_key_error",
    "tests/test_nmea.py::TestNMEA.test_get_item_raises_type_error",
}

#: pyais' decode() takes one message: four sentences of two complete messages raise
#: TooManyMessagesException. That is API, not malformed input: a stream decodes both.
TWO_MESSAGES = {
    "tests/test_decode.py::TestAIS.test_byte_stream#1",
    "tests/test_decode_raw.py::TestDecode.test_too_many_messages#1",
}

#: A lone Gatehouse header: pyais raises MissingMultipartMessageException (nothing to decode);
#: for SeaSight it is a valid time header with no sentence after it: a skipped line.
TIME_HEADER_ONLY = {"tests/test_decode.py::TestAIS.test_gh_ais_message_decode#2"}

#: Decoder bugs found by these vectors, now fixed and checked by the rules above:
#: test_that_decode_works_for_fragmented_messages_with_empty_payloads (an empty last fragment
#: was rejected as empty_payload, losing the type 8 message) and test_gh_ais_message_decode#2
#: (a trailing $PGHP line was neither decoded, rejected nor skipped). A new bug goes here as
#: id -> description, with a test asserting the expected behaviour, xfail(strict=True).
KNOWN_BUGS: dict[str, str] = {}

#: Decoded cases whose tag block fails its own checksum (the sentence's is right): pyais does not
#: check it; SeaSight decodes the sentence too, uses the block's fields, marks the time
#: ``tagblock_unverified`` and counts a ``tagblock_checksum`` warning.
UNVERIFIED_TAG_BLOCKS = {
    "tests/test_tag_block.py::TagBlockTestCase.test_tag_block_with_line_count",  # 1C, not 5E
}


def case_rule(case: dict[str, Any]) -> str:
    cid = case["id"]
    rules = [
        name
        for name, table in (
            ("bug", KNOWN_BUGS),
            ("reject", EXPECT_REJECT),
            ("differs", DOCUMENTED_DIFFERENCES),
            ("not_applicable", NOT_APPLICABLE),
            ("two_messages", TWO_MESSAGES),
            ("time_header_only", TIME_HEADER_ONLY),
        )
        if cid in table
    ]
    assert len(rules) <= 1, (cid, rules)
    if rules:
        return rules[0]
    assert case["sentences"], cid
    assert "expect_exception" not in case, cid
    return "decode"


def _ids(rule: str) -> list[str]:
    return [c["id"] for c in CASES if case_rule(c) == rule]


def test_every_case_is_handled() -> None:
    assert len(CASES) == 195
    counts: dict[str, int] = {}
    for c in CASES:
        rule = case_rule(c)
        counts[rule] = counts.get(rule, 0) + 1
        if "expect_exception" in c and rule in ("decode", "differs"):
            pytest.fail(f"{c['id']}: pyais raises, SeaSight must reject: not listed")
    for table in (EXPECT_REJECT, DOCUMENTED_DIFFERENCES, NOT_APPLICABLE, KNOWN_BUGS,
                  AFTER_FIX_REJECT):
        assert set(table) <= set(BY_ID), set(table) - set(BY_ID)
    assert counts["decode"] >= 120, counts


def test_every_exception_case_is_rejected_or_explained() -> None:
    """Every case where pyais raises is a reject, API misuse, a two-message stream or a bug."""
    for c in CASES:
        if "expect_exception" in c:
            assert case_rule(c) in ("reject", "not_applicable", "two_messages", "bug",
                                    "time_header_only"), c["id"]
            if case_rule(c) == "not_applicable":
                assert c["expect_exception"] in ("TypeError", "ValueError", "KeyError",
                                                 "UnknownMessageException"), c["id"]


# --- mapping pyais values to SeaSight's ---------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def compare(field: str, want_pyais: Any, rec: dict[str, Any], where: str) -> None:
    """Compare one pyais field to SeaSight's record ``rec`` (field must be decoded)."""
    t = rec["msg_type"]
    got = rec.get("name") if field == "full_name" else rec[field]
    if field in ENUMS:
        enum = ENUMS[field]
        raw = 0 if got is None and field == "ship_type" else got
        mapped = None if raw is None else int(enum.from_value(raw))
        want = _plain(want_pyais)
        assert mapped == (None if want is None else int(want)), (
            f"{where}: {field}: pyais {want!r}, SeaSight {got!r} (-> {mapped!r})")
        return
    if field == "name" and t == 21:
        want = pyais_as_seasight(field, want_pyais, t)
        assert (got is None and want is None) or (got or "").startswith(want or ""), (
            f"{where}: name: pyais {want!r} is not the start of SeaSight's {got!r}")
        return
    want = pyais_as_seasight(field, want_pyais, t)
    if want is None or got is None:
        assert got is want, f"{where}: {field}: pyais {want_pyais!r} -> {want!r}, SeaSight {got!r}"
    elif isinstance(got, bool):
        assert got == bool(want), f"{where}: {field}: pyais {want!r}, SeaSight {got!r}"
    elif field in ("lat", "lon"):
        assert math.isclose(got, want, abs_tol=6e-7), f"{where}: {field}: {want} vs {got}"
    elif isinstance(want, float) or isinstance(got, float):
        assert math.isclose(got, want, abs_tol=1e-6), f"{where}: {field}: {want} vs {got}"
    else:
        assert got == want, f"{where}: {field}: pyais {want!r}, SeaSight {got!r}"


def is_decoded_field(field: str, msg_type: int, rec: dict[str, Any]) -> bool:
    if field == "full_name":
        return msg_type == 21
    if field in ("msg_type", "repeat", "mmsi"):
        return True
    if msg_type in RAW_TYPES:
        return False  # kept raw in other_messages: only the header and payload
    if field in PYAIS_NOT_DECODED or (msg_type, field) in PYAIS_NOT_DECODED_FOR:
        return False
    assert field in rec, f"pyais field {field!r} of type {msg_type} is neither decoded nor listed"
    return True


def compare_expected(expected: dict[str, Any], rec: dict[str, Any], where: str) -> int:
    n = 0
    for field, want in expected.items():
        if isinstance(want, dict) and ("bytes_hex" in want or "datetime" in want):
            if field == "timestamp":
                continue  # Gatehouse time: checked as the next sentence's ts
            assert rec["msg_type"] in RAW_TYPES or field in PYAIS_NOT_DECODED, (where, field)
            continue
        if is_decoded_field(field, rec["msg_type"], rec):
            compare(field, want, rec, where)
            n += 1
    return n


def _asdict_field(check: dict[str, Any]) -> str | None:
    """The message field an ``other_checks`` entry tests, when it tests one."""
    path = [p for p in check["field"] if isinstance(p, str)]
    if path[:2] == ["decode()", "asdict()"] and len(path) == 3:
        return path[2]
    if path[:2] == ["NMEAMessage()", "decode()"] and len(path) == 3:
        return path[2]
    if len(path) == 1 and not path[0].endswith(")") and path[0] not in ("tag_block",):
        return path[0]
    return None


#: Keys of pyais' ``decode_and_merge()`` that belong to the NMEA envelope, not the message.
NMEA_KEYS = frozenset({"ais_id", "channel", "is_valid", "checksum", "fill_bits", "frag_cnt",
                       "frag_num", "payload", "raw", "seq_id", "talker", "type"})


def check_other(check: dict[str, Any], rec: dict[str, Any], where: str) -> bool:
    """Evaluate an ``other_checks`` entry on SeaSight's record when it is a field check."""
    op = check["op"]
    if op == "==" and check.get("field") == ["decode()", "to_json()"]:
        compare_expected(json.loads(check["expected"]), rec, where + " to_json")
        return True
    if op == "==" and check.get("field") == ["NMEAMessage()", "decode_and_merge()"]:
        merged = check["expected"]
        compare_expected({k: v for k, v in merged.items() if k not in NMEA_KEYS}, rec, where)
        assert rec["channel"] == merged["channel"] and rec["msg_type"] == merged["ais_id"]
        return True
    field = _asdict_field(check)
    if field is None or not is_decoded_field(field, rec["msg_type"], rec):
        return False
    got = rec["name"] if field == "full_name" else rec[field]
    if op == "truthy":
        assert got, (where, field, got)
    elif op == "falsy":
        assert not got, (where, field, got)
    elif op in ("is", "is None"):
        assert got is None, (where, field, got)
    elif op == "==":
        compare(field, check["expected"], rec, where)
    else:
        return False  # isinstance of pyais' Python types
    return True


def compare_case(case: dict[str, Any], batch: Any, where: str) -> int:
    recs = to_records(batch)
    assert len(recs) == 1, (where, recs, batch.rejects.to_dicts())
    rec = recs[0]
    if case.get("msg_type") is not None:
        assert rec["msg_type"] == case["msg_type"], where
    n = 1
    if rec["msg_type"] in RAW_TYPES:
        assert batch.other_messages.height == 1
    n += compare_expected(case.get("expected", {}), rec, where)
    for field, spec in case.get("expected_rounded", {}).items():
        assert is_decoded_field(field, rec["msg_type"], rec)
        assert rec[field] is not None and round(rec[field], spec["ndigits"]) == spec["value"], (
            where, field, rec[field], spec)
        n += 1
    for field, text in case.get("expected_as_str", {}).items():
        compare(field, float(text), rec, where)
        n += 1
    for field, want in case.get("expected_nmea", {}).items():
        want = _plain(want)
        if field == "channel":
            assert rec["channel"] == (want or None), where
        elif field == "ais_id":
            assert rec["msg_type"] == want, where
        elif field in ("payload", "fill_bits") and rec["msg_type"] in RAW_TYPES:
            if isinstance(want, dict):
                want = bytes.fromhex(want["bytes_hex"]).decode()
            assert rec[field] == want, (where, field)
        elif field in ("payload", "fill_bits"):
            continue  # decoded types keep the decoded fields, not the armored text
        else:
            assert field in NMEA_NOT_STORED, (where, field)
            continue
        n += 1
    for field, want in case.get("expected_tag_block", {}).items():
        if field == "receiver_timestamp":
            ts = datetime.fromtimestamp(int(want), UTC)
            source = ("tagblock_unverified" if case["id"] in UNVERIFIED_TAG_BLOCKS
                      else "tagblock")
            assert (record_time(rec), rec["ts_source"]) == (ts, source), where
        elif field == "source_station":
            assert rec["station"] == want, where
        else:
            assert field in NMEA_NOT_STORED, (where, field)
            continue
        n += 1
    for check in case.get("other_checks", []):
        n += check_other(check, rec, where)
    return n


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("cid", _ids("decode"))
def test_decode_case(cid: str) -> None:
    """The transcribed expectations, then every field of the installed pyais' own decode of the
    same sentences (many cases only assert pyais API behaviour such as comm-state helpers)."""
    case = BY_ID[cid]
    batch = decode_lines(case["sentences"])
    assert batch.rejects.is_empty(), (cid, batch.rejects.to_dicts())
    assert batch.warnings == ({"tagblock_checksum": 1} if cid in UNVERIFIED_TAG_BLOCKS else {})
    compare_case(case, batch, cid)
    sentences = [s for s in case["sentences"] if s.lstrip().startswith(("!", "\\"))]
    oracle = pyais.decode(*sentences).asdict(enum_as_int=True)
    (rec,) = to_records(batch)
    fields = {k: v for k, v in oracle.items() if not isinstance(v, bytes)}
    assert compare_expected(fields, rec, cid + " (installed pyais)") >= 3


@pytest.mark.parametrize("cid", sorted(NOT_APPLICABLE_BUT_DECODES))
def test_not_applicable_api_cases_still_decode(cid: str) -> None:
    case = BY_ID[cid]
    batch = decode_lines(case["sentences"])
    assert batch.rejects.is_empty()
    assert len(to_records(batch)) == 1


@pytest.mark.parametrize("cid", sorted(EXPECT_REJECT))
def test_malformed_input_is_rejected(cid: str) -> None:
    case = BY_ID[cid]
    inputs = case["sentences"] or case["exception_inputs"]
    reasons, _why = EXPECT_REJECT[cid]
    assert len(inputs) == len(reasons), cid
    batch = decode_lines(inputs)  # never raises
    assert to_records(batch) == [], cid
    got = dict(zip(batch.rejects["line_no"], batch.rejects["reason"], strict=True))
    for line_no, allowed in enumerate(reasons, start=1):
        if allowed == [None]:
            assert line_no not in got and batch.skipped["blank"] >= 1, (cid, line_no)
            continue
        assert got.get(line_no) in allowed, (cid, line_no, got.get(line_no), allowed)
    assert set(got.values()) <= set(REASON_NAMES.values())
    raws = dict(zip(batch.rejects["line_no"], batch.rejects["raw"], strict=True))
    for line_no, raw in raws.items():
        assert raw == inputs[line_no - 1].encode(), (cid, line_no)
    if cid in AFTER_FIX_REJECT:
        fixed = decode_lines([fix_checksum(s) for s in inputs])
        assert fixed.rejects["reason"].to_list() == AFTER_FIX_REJECT[cid]
        assert to_records(fixed) == []


@pytest.mark.parametrize("cid", sorted(DOCUMENTED_DIFFERENCES))
def test_documented_difference(cid: str) -> None:
    case = BY_ID[cid]
    reasons, _why, follow_up = DOCUMENTED_DIFFERENCES[cid]
    batch = decode_lines(case["sentences"])
    assert to_records(batch) == [], cid
    assert batch.rejects.sort("line_no")["reason"].to_list() == reasons, (
        cid, batch.rejects.to_dicts())
    if follow_up != "fix_checksum":
        return
    if cid.endswith("test_timestamp_message"):
        pghp = "$" + case["sentences"][0][1:]
        body = pghp[1 : pghp.index("*")]
        fixed_pghp = f"${body}*{fix_checksum('!' + body + '*00')[-2:]}"
        nxt = "!AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0*09"
        fixed = decode_lines([fixed_pghp, nxt])
        (rec,) = to_records(fixed)
        want = utc(case["expected"]["timestamp"]["datetime"])
        assert (record_time(rec), rec["ts_source"]) == (want, "line")
        return
    fixed_lines = []
    for s in case["sentences"]:
        if s.startswith("\\"):
            close = s.index("\\", 1)
            tb = s[1:close]
            body = tb[: tb.index("*")]
            s = f"\\{body}*{fix_checksum('!' + body + '*00')[-2:]}\\" + s[close + 1 :]
        fixed_lines.append(fix_checksum(s))
    fixed = decode_lines(fixed_lines)
    if cid in AFTER_FIX_REJECT:
        assert fixed.rejects["reason"].to_list() == AFTER_FIX_REJECT[cid], cid
        assert to_records(fixed) == []
        return
    assert fixed.rejects.is_empty(), (cid, fixed.rejects.to_dicts())
    compare_case(case, fixed, cid + " (checksum fixed)")


@pytest.mark.parametrize("cid", sorted(TWO_MESSAGES))
def test_stream_of_two_messages_decodes_both(cid: str) -> None:
    case = BY_ID[cid]
    batch = decode_lines(case["sentences"])
    recs = to_records(batch)
    assert batch.rejects.is_empty()
    assert [(r["msg_type"], r["mmsi"], r["line_no"]) for r in recs] == [
        (5, 210035000, 1), (5, 210035000, 3)]
    for rec in recs:
        compare_expected(BY_ID[cid].get("expected", {}), rec, cid)
        assert rec["shipname"] == "NORDIC HAMBURG"


@pytest.mark.parametrize("cid", sorted(TIME_HEADER_ONLY))
def test_lone_gatehouse_header_is_a_skipped_line(cid: str) -> None:
    batch = decode_lines(BY_ID[cid]["sentences"])
    assert batch.rejects.is_empty() and to_records(batch) == []
    assert batch.skipped["time_header"] == 1, batch.skipped


def test_gatehouse_time_stamps_the_next_sentence() -> None:
    case = BY_ID["tests/test_decode.py::TestAIS.test_gh_ais_message_decode#1"]
    (rec,) = to_records(decode_lines(case["sentences"]))
    assert (record_time(rec), rec["ts_source"]) == (utc("2008-05-09T00:00:00.010"), "line")


def test_lone_fragment_decoded_by_pyais_is_missing_fragment() -> None:
    """pyais decodes a lone fragment 1 (``decoded_via``); SeaSight rejects it."""
    lone = [c for c in CASES if c.get("decoded_via")]
    assert len(lone) == 2
    for c in lone:
        batch = decode_lines([fix_checksum(s) for s in c["sentences"]])
        assert batch.rejects["reason"].to_list() == ["missing_fragment"], c["id"]


def test_talkers_and_vdo_are_accepted() -> None:
    """The same payload under every talker of pyais' talker tests decodes to the same row."""
    talkers = [c for c in CASES if "test_talker_ids" in c["id"]]
    assert len(talkers) == 10
    body = "VDM,1,1,,B,K5DfMB9FLsM?P00d,0"
    rows = []
    for c in talkers:
        talker = _plain(c["expected_nmea"]["talker"])
        (rec,) = to_records(decode_lines([sentence(talker + body)]))
        rows.append({k: v for k, v in rec.items() if k != "line_no"})
    assert all(r == rows[0] for r in rows) and rows[0]["msg_type"] == 27
    (vdo,) = to_records(decode_lines([sentence("AIVDO,1,1,,A,K01;FQh?PbtE3P00,0")]))
    assert vdo["mmsi"] == 1234567
