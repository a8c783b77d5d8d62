"""Small hand-checkable decoding cases: sentinels, times, tag blocks, receiver metadata,
talkers, fragments, streaming, and every reject reason the NMEA decoder can give."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyais
import pytest

from conftest import (
    decode_lines,
    line_accounting,
    nmea_checksum,
    read_shared_bytes,
    record_time,
    sentence,
    split_lines,
    tag_block,
    utc,
)
from seasight.ais import NmeaDecoder, decode_nmea
from seasight.ais.records import to_records
from seasight.model.batch import Batch
from seasight.model.rejects import REASON_NAMES

# A type 1 report (pyais' test_msg_type_1_a) and a 2-fragment type 5 (gpsd sample lines 124-125)
POS = "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
POS_BODY = "VDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0"
T5_A = "55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8"
T5_B = "88888888880"


def t5(seq: int = 1, channel: str = "A", talker: str = "AI") -> tuple[str, str]:
    return (sentence(f"{talker}VDM,2,1,{seq},{channel},{T5_A},0"),
            sentence(f"{talker}VDM,2,2,{seq},{channel},{T5_B},2"))


def encode(fields: dict[str, Any]) -> list[str]:
    return pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel="A")


def one(lines: list[str]) -> dict[str, Any]:
    batch = decode_lines(lines)
    assert batch.rejects.is_empty(), batch.rejects.to_dicts()
    (rec,) = to_records(batch)
    return rec


def reasons(batch: Batch) -> dict[int, str]:
    return dict(zip(batch.rejects["line_no"], batch.rejects["reason"], strict=True))


def stream(chunks: list[bytes]) -> Batch:
    dec = NmeaDecoder("chunks")
    parts = [dec.feed(c) for c in chunks]
    parts.append(dec.finish())
    return Batch.concat(parts)


# --- sentinels: not available -> null -----------------------------------------------------------


def test_class_a_sentinels_are_null() -> None:
    rec = one(encode({"type": 1, "mmsi": 366053209, "lat": 91, "lon": 181, "speed": 102.3,
                      "course": 360, "heading": 511, "second": 60, "turn": -128}))
    assert rec["mmsi"] == 366053209
    for field in ("lat", "lon", "speed", "course", "heading", "second", "turn"):
        assert rec[field] is None, field


def test_valid_values_next_to_the_sentinels_are_kept() -> None:
    rec = one(encode({"type": 1, "mmsi": 1, "lat": 90, "lon": -180, "speed": 102.2,
                      "course": 359.9, "heading": 359, "second": 59, "turn": 127}))
    assert (rec["lat"], rec["lon"], rec["heading"], rec["second"]) == (90.0, -180.0, 359, 59)
    assert rec["speed"] == pytest.approx(102.2) and rec["course"] == pytest.approx(359.9)
    assert rec["turn"] == 127.0  # turning right faster than 5 deg / 30 s: the indicator


@pytest.mark.parametrize("second", [60, 61, 62, 63])
def test_second_60_to_63_is_null(second: int) -> None:
    assert one(encode({"type": 1, "mmsi": 1, "second": second}))["second"] is None
    assert one(encode({"type": 18, "mmsi": 1, "second": second}))["second"] is None


@pytest.mark.parametrize("heading", [360, 400, 510, 511])
def test_heading_360_to_511_is_null(heading: int) -> None:
    assert one(encode({"type": 1, "mmsi": 1, "heading": heading}))["heading"] is None


@pytest.mark.parametrize("raw", [3601, 4095])
def test_course_above_360_is_null(raw: int) -> None:
    assert one(encode({"type": 18, "mmsi": 1, "course": (raw + 0.25) / 10}))["course"] is None


@pytest.mark.parametrize(("lat", "lon"), [(90.5, 0.0), (-91.0, 0.0), (0.0, 180.5), (0.0, -200.0)])
def test_out_of_range_coordinate_nulls_that_field_only(lat: float, lon: float) -> None:
    rec = one(encode({"type": 1, "mmsi": 7, "lat": lat, "lon": lon, "speed": 3.2}))
    assert (rec["lat"] is None) == (abs(lat) > 90) and (rec["lon"] is None) == (abs(lon) > 180)
    assert rec["speed"] == pytest.approx(3.2) and rec["mmsi"] == 7


def test_long_range_sentinels_are_null() -> None:
    rec = one(encode({"type": 27, "mmsi": 2, "lat": 91, "lon": 181, "speed": 63, "course": 511}))
    assert (rec["lat"], rec["lon"], rec["speed"], rec["course"]) == (None, None, None, None)
    rec = one(encode({"type": 27, "mmsi": 2, "lat": -50.121667, "lon": -13.368333,
                      "speed": 62, "course": 359}))
    assert rec["lat"] == pytest.approx(-50.121667, abs=1e-6) and rec["speed"] == 62.0


def test_static_sentinels_are_null() -> None:
    rec = one(encode({"type": 5, "mmsi": 3, "imo": 0, "ship_type": 0, "draught": 0,
                      "month": 0, "day": 0, "hour": 24, "minute": 60, "callsign": "",
                      "shipname": "", "destination": ""}))
    for field in ("imo", "ship_type", "draught", "month", "day", "hour", "minute", "callsign",
                  "shipname", "destination"):
        assert rec[field] is None, field


def test_base_station_sentinels_are_null() -> None:
    rec = one(encode({"type": 4, "mmsi": 4, "year": 0, "month": 0, "day": 0, "hour": 24,
                      "minute": 60, "second": 60, "lat": 91, "lon": 181}))
    for field in ("year", "month", "day", "hour", "minute", "second", "lat", "lon"):
        assert rec[field] is None, field
    batch = decode_lines(encode({"type": 4, "mmsi": 4, "year": 2019, "month": 11, "day": 9,
                                 "hour": 10, "minute": 41, "second": 11}))
    assert batch.base_stations["station_time"].to_list() == [
        datetime(2019, 11, 9, 10, 41, 11, tzinfo=UTC)]


def test_sar_aircraft_sentinels_are_null() -> None:
    rec = one(encode({"type": 9, "mmsi": 111232511, "alt": 4095, "speed": 1023, "course": 360,
                      "lat": 91, "lon": 181, "second": 63}))
    for field in ("alt", "speed", "course", "lat", "lon", "second"):
        assert rec[field] is None, field


def test_type_24_part_numbers() -> None:
    """Parts A (0) and B (1) are static rows; parts 2 and 3 do not exist: kept raw."""
    a = one(encode({"type": 24, "mmsi": 5, "partno": 0, "shipname": "PROGUY"}))
    b = one(encode({"type": 24, "mmsi": 5, "partno": 1, "callsign": "TC6163", "to_bow": 3}))
    assert (a["partno"], a["shipname"], b["partno"], b["callsign"], b["to_bow"]) == (
        0, "PROGUY", 1, "TC6163", 3)
    body = encode({"type": 24, "mmsi": 5, "partno": 1})[0]
    payload = body.split(",")[5]
    # part number 3: set bits 38-39 (character 6 holds bits 36-41)
    six = ord(payload[6]) - 48 - (8 if ord(payload[6]) > 87 else 0)
    six |= 0b1100
    char = chr(six + 48 + (8 if six > 39 else 0))
    raw3 = payload[:6] + char + payload[7:]
    batch = decode_lines([sentence(f"AIVDM,1,1,,A,{raw3},0")])
    assert batch.static.is_empty() and batch.rejects.is_empty()
    assert batch.other_messages.select("msg_type", "mmsi", "payload").rows() == [(24, 5, raw3)]


def test_text_ends_at_first_at_sign_and_is_stripped() -> None:
    rec = one(encode({"type": 24, "mmsi": 5, "partno": 0, "shipname": "  AB C@DEF"}))
    assert rec["shipname"] == "AB C"


# --- times --------------------------------------------------------------------------------------


def test_tag_block_c_in_seconds_and_in_milliseconds() -> None:
    secs = one([tag_block("s:STA1,c:1428451253") + POS])
    millis = one([tag_block("c:1428451253123") + POS])
    assert (record_time(secs), secs["ts_source"], secs["station"]) == (
        utc("2015-04-08T00:00:53"), "tagblock", "STA1")
    assert (record_time(millis), millis["ts_source"]) == (utc("2015-04-08T00:00:53.123"),
                                                          "tagblock")


def test_no_time_at_all() -> None:
    rec = one([POS])
    assert (rec["ts"], rec["ts_source"], rec["station"], rec["channel"]) == (None, "none",
                                                                             None, "B")


def test_arrival_time_only_for_rows_without_their_own() -> None:
    batch = decode_nmea(f"{POS}\n{tag_block('c:1428451253')}{POS}\n".encode(),
                        arrival_ts_us=1_700_000_000_000_000)
    a, b = to_records(batch)
    assert (record_time(a), a["ts_source"]) == (utc("2023-11-14T22:13:20"), "arrival")
    assert (record_time(b), b["ts_source"]) == (utc("2015-04-08T00:00:53"), "tagblock")


def test_a_tag_block_failing_its_check_costs_no_good_sentence() -> None:
    good = tag_block("s:STA1,c:1428451253")
    bad = good.replace("*", "*0").replace("*0", "*", 1)[:-3] + "00\\"
    assert bad != good
    bad_sentence = POS[:-2] + "00"
    batch = decode_lines([bad + POS, good[:-4] + "\\" + POS, "\\s:X,c:1428451253" + POS,
                          bad + bad_sentence])
    # no end to the tag block: no sentence to find; the sentence's own checksum still counts
    assert reasons(batch) == {3: "bad_tagblock", 4: "bad_checksum"}
    recs = to_records(batch)
    assert [(r["line_no"], r["station"], r["ts_source"]) for r in recs] == [
        (1, "STA1", "tagblock_unverified"), (2, "STA1", "tagblock_unverified")]
    assert record_time(recs[0]) == utc("2015-04-08T00:00:53")
    assert batch.warnings == {"tagblock_checksum": 1, "bad_tagblock": 1}


def test_gatehouse_time_applies_to_the_next_sentence() -> None:
    data = read_shared_bytes("conformance/pyais/gatehouse.nmea")
    batch = decode_nmea(data)
    recs = to_records(batch)
    first = recs[0]
    assert (first["line_no"], record_time(first), first["ts_source"]) == (
        2, utc("2008-05-09T00:00:00.010"), "line")
    assert all(r["ts"] is None for r in recs[1:])  # one header, one sentence
    acc = line_accounting(data, batch)
    assert acc["decoded"] + acc["rejected"] + acc["skipped"] == acc["total"], acc


def test_timestamped_file() -> None:
    data = read_shared_bytes("conformance/pyais/timestamped.ais")
    batch = decode_nmea(data)
    times = {r["line_no"]: (r["ts"] and record_time(r), r["ts_source"]) for r in to_records(batch)}
    assert times[2] == (utc("2008-05-09T00:00:00.010"), "line")
    assert times[6] == (None, "none")
    # line 7: '$PGHP,1,2009,...*17' has a wrong checksum (17 is 2008's): its time is not used
    assert 7 in reasons(batch) and times[8] == (None, "none")
    assert times[9] == (None, "none")


def test_three_gatehouse_headers_in_a_row_the_last_one_counts() -> None:
    lines = ["$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17",
             "$PGHP,1,2009,5,9,0,0,0,10,338,2,,1,09*16",
             "$PGHP,1,2010,5,9,0,0,0,10,338,2,,1,09*1E", POS]
    rec = one(lines)
    assert record_time(rec) == utc("2010-05-09T00:00:00.010")


def _metadata(line: bytes) -> tuple[float | None, str | None]:
    """Trailing USCG/aishub metadata: the first unix time and the r/b/D station field."""
    text = line.decode("ascii", "replace")
    fields = text[text.index("*") + 3 :].split(",")[1:]
    ts = next((float(f) for f in fields if f[:1].isdigit() and len(f) >= 9
               and f.replace(".", "", 1).isdigit()), None)
    station = next((f for f in fields if f[:1] in ("r", "b", "D")), None)
    return ts, station


@pytest.mark.parametrize("name", ["conformance/libais/uscg_nais_sample_lines.txt",
                                  "conformance/libais/test.aivdm"])
def test_uscg_trailing_metadata_gives_time_and_station(name: str) -> None:
    data = read_shared_bytes(name)
    lines = split_lines(data)
    batch = decode_nmea(data)
    recs = to_records(batch)
    assert len(recs) > 60
    with_time = 0
    for rec in recs:
        ts, station = _metadata(lines[rec["line_no"] - 1])
        if ts is None:
            # a later fragment may carry the metadata
            continue
        with_time += 1
        assert rec["ts_source"] == "line", rec
        got = record_time(rec)
        assert got is not None and abs(got.timestamp() - ts) < 1e-3, (rec, ts)
        if station is not None:
            assert rec["station"] == station, rec
    assert with_time > 60
    acc = line_accounting(data, batch)
    assert acc["decoded"] + acc["rejected"] + acc["skipped"] == acc["total"], acc


# --- talkers, channels ---------------------------------------------------------------------------


@pytest.mark.parametrize("talker", ["AI", "AB", "BS", "SA", "AN", "AD", "AR", "AS", "AT", "AX"])
def test_any_talker(talker: str) -> None:
    rec = one([sentence(talker + POS_BODY)])
    assert (rec["mmsi"], rec["msg_type"], rec["channel"]) == (366053209, 1, "B")


def test_vdo_own_vessel_reports_are_decoded() -> None:
    rec = one([sentence("AIVDO,1,1,,A,K01;FQh?PbtE3P00,0")])
    assert (rec["mmsi"], rec["lat"]) == (1234567, pytest.approx(-50.121667, abs=1e-6))


@pytest.mark.parametrize(("channel", "want"), [("A", "A"), ("B", "B"), ("1", "1"), ("2", "2"),
                                               ("", None)])
def test_channel(channel: str, want: str | None) -> None:
    assert one([sentence(f"AIVDM,1,1,,{channel},15M67FC000G?ufbE`FepT@3n00Sa,0")])[
        "channel"] == want


# --- fragments ----------------------------------------------------------------------------------


def test_two_fragment_message() -> None:
    rec = one(list(t5()))
    assert (rec["msg_type"], rec["mmsi"], rec["shipname"], rec["line_no"]) == (
        5, 351759000, "EVER DIADEM", 1)


def test_interleaved_fragments_from_two_stations_with_the_same_sequence_id() -> None:
    a1, a2 = t5(seq=3)
    lines = [tag_block("s:S1") + a1, tag_block("s:S2") + a1, POS,
             tag_block("s:S2") + a2, tag_block("s:S1") + a2]
    batch = decode_lines(lines)
    assert batch.rejects.is_empty()
    recs = [r for r in to_records(batch) if r["msg_type"] == 5]
    assert [(r["line_no"], r["station"]) for r in recs] == [(1, "S1"), (2, "S2")]


def test_interleaved_sequence_ids_and_channels() -> None:
    a1, a2 = t5(seq=1, channel="A")
    b1, b2 = t5(seq=2, channel="A")
    c1, c2 = t5(seq=1, channel="B")
    batch = decode_lines([a1, b1, c1, POS, c2, a2, b2])
    assert batch.rejects.is_empty()
    assert sorted(r["line_no"] for r in to_records(batch)) == [1, 2, 3, 4]


def test_tag_block_group_with_station_on_the_first_line_only() -> None:
    """NMEA 4.0 groups: often only the first line of a group carries s: and c:."""
    a1, a2 = t5(seq=4)
    rec = one([tag_block("g:1-2-42,s:STA,c:1428451253") + a1, tag_block("g:2-2-42") + a2])
    assert (rec["mmsi"], rec["station"], record_time(rec)) == (
        351759000, "STA", utc("2015-04-08T00:00:53"))


def test_real_tag_block_group_from_pyais_mixed_file() -> None:
    data = read_shared_bytes("conformance/pyais/mixed.txt")
    recs = {r["line_no"]: r for r in to_records(decode_nmea(data))}
    assert (recs[24]["msg_type"], recs[24]["mmsi"], recs[24]["station"]) == (
        5, 366989380, "b003669710")


def test_duplicate_first_fragment() -> None:
    a1, a2 = t5()
    batch = decode_lines([a1, a1, a2])
    assert reasons(batch) == {1: "missing_fragment"}
    assert [r["line_no"] for r in to_records(batch)] == [2]


def test_duplicate_last_fragment() -> None:
    a1, a2 = t5()
    batch = decode_lines([a1, a2, a2])
    assert reasons(batch) == {3: "orphan_fragment"}
    assert [r["line_no"] for r in to_records(batch)] == [1]


def test_missing_and_orphan_fragments() -> None:
    a1, a2 = t5()
    batch = decode_lines([a1, POS])
    assert reasons(batch) == {1: "missing_fragment"}
    batch = decode_lines([a2, POS])
    assert reasons(batch) == {1: "orphan_fragment"}


def test_three_fragments_with_the_middle_one_missing() -> None:
    f1 = sentence("AIVDM,3,1,7,A,85Mwp=iKfGwushJ?gNlt2QU3osVGe:4?cNhQqf2VH8t,0")
    f3 = sentence("AIVDM,3,3,7,A,Uq:1Kk`e8,4")
    batch = decode_lines([f1, f3])
    assert reasons(batch) == {1: "missing_fragment", 2: "orphan_fragment"}


def test_fragments_in_separate_feed_calls() -> None:
    a1, a2 = t5()
    dec = NmeaDecoder("split")
    first = dec.feed(f"{a1}\n{POS}\n".encode())
    assert [r["line_no"] for r in to_records(first)] == [2] and first.rejects.is_empty()
    second = dec.feed(f"{a2}\n".encode())
    assert [(r["line_no"], r["mmsi"]) for r in to_records(second)] == [(1, 351759000)]
    assert dec.finish().rejects.is_empty()


def test_a_line_split_across_feed_calls() -> None:
    data = f"{POS}\n{POS}\n".encode()
    batch = stream([data[:10], data[10:50], data[50:]])
    assert [r["line_no"] for r in to_records(batch)] == [1, 2]


def test_unfinished_message_at_the_end_is_missing_fragment() -> None:
    a1, _ = t5()
    dec = NmeaDecoder("x")
    assert dec.feed(f"{a1}\n".encode()).rejects.is_empty()  # still waiting
    assert reasons(dec.finish()) == {1: "missing_fragment"}


def test_empty_payload() -> None:
    batch = decode_lines(["!AIVDM,1,1,,B,,0*25"])
    assert reasons(batch) == {1: "empty_payload"}


def test_empty_last_fragment_completes_its_message() -> None:
    """pyais issue 157: '!AIVDM,2,2,0,A,,0*16' closes a message whose bits are in fragment 1."""
    lines = ["!AIVDM,2,1,0,A,8@2R5Ph0GhRbUqe?n>KS?wvlFR06EuOwiOl?wnSwe7wvlOwwsAwwnSGmwvwt,0*4E",
             "!AIVDM,2,2,0,A,,0*16"]
    rec = one(lines)
    assert (rec["msg_type"], rec["mmsi"]) == (8, 2655619)


def test_whole_file_is_accounted_for_with_blank_and_comment_lines() -> None:
    data = read_shared_bytes("conformance/pyais/messages.ais")
    batch = decode_nmea(data)
    acc = line_accounting(data, batch)
    assert acc["decoded"] + acc["rejected"] + acc["skipped"] == acc["total"], acc
    assert batch.skipped["comment"] >= 1 and batch.skipped["blank"] >= 1


# --- every reject reason ------------------------------------------------------------------------

#: One hand-made input per reason the NMEA decoder gives.
REJECT_EXAMPLES: dict[str, list[str | bytes]] = {
    "bad_checksum": [POS[:-2] + "00"],
    "malformed_sentence": ["!AIVDM,1,1,,A", "IamNotAnAisMessage1111",
                           tag_block("c:1428451253")],  # a tag block alone on its line
    "bad_character": [POS[:20].encode() + b"\xff" + POS[20:].encode(),
                      POS[:20].encode() + b"\x00" + POS[20:].encode()],
    "oversize_line": [POS + "," + "x" * 2000],
    "bad_payload": [sentence("AIVDM,1,1,,B,15M67FC000G?ufbE`Fe~T@3n00Sa,0")],
    "bad_fill_bits": [sentence("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,6"),
                      sentence("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,")],
    "bad_fragment_number": [sentence("AIVDM,0,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0"),
                            sentence("AIVDM,1,2,,B,15M67FC000G?ufbE`FepT@3n00Sa,0"),
                            sentence("AIVDM,10,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0")],
    "missing_fragment": [t5()[0]],
    "orphan_fragment": [t5()[1]],
    "bad_tagblock": ["\\c:1428451253*00" + POS, "\\s:X,c:1428451253" + POS],  # no end
    "empty_payload": ["!AIVDM,1,1,,B,,0*25"],
    "truncated_message": [sentence("AIVDM,1,1,,B,15M6,0")],
    "unsupported_sentence": ["$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,"
                             "M,,0000*6D", sentence("AIVDX,1,1,,B,15M6,0")],
    "unknown_message_type": [sentence("AIVDM,1,1,,B,0S9edj0P03PecbBN`ja@0?w42cFC,0"),
                             sentence("AIVDO,1,1,,A,L1mg=5@@G:uk?S:I0@ph>A5E>L@1,0")],
    "bad_timestamp": [  # month 13 and year 11 (checksums right), no checksum at all
        "$" + (_m13 := "PGHP,1,2008,13,9,0,0,0,10,338,2,,1,09") + "*" + nmea_checksum(_m13),
        "$" + (_y11 := "PGHP,1,11,11,11,11,11,58,999,219,11,1,6D") + "*" + nmea_checksum(_y11),
        "$PGHP,0,21"],
}
#: Reasons of the shared table that only CSV sources give.
CSV_ONLY = {"bad_csv_row", "bad_csv_header", "impossible_position", "bad_mmsi", "bad_vessel_id"}
#: Reasons given for a whole damaged file, not a line (tested in test_ingest).
FILE_ONLY = {"truncated_compressed_file", "corrupt_compressed_file"}


@pytest.mark.parametrize("reason", sorted(REJECT_EXAMPLES))
def test_reject_reason(reason: str) -> None:
    lines = REJECT_EXAMPLES[reason]
    data = b"".join((ln.encode() if isinstance(ln, str) else ln) + b"\n" for ln in lines)
    batch = decode_nmea(data)
    assert to_records(batch) == []
    assert set(reasons(batch).values()) == {reason}, batch.rejects.to_dicts()
    assert batch.rejects.height == len(lines)
    for line_no, raw in zip(batch.rejects["line_no"], batch.rejects["raw"], strict=True):
        src = lines[line_no - 1]
        assert raw == (src.encode() if isinstance(src, str) else src)


#: Reasons that are only warnings: the line is decoded and counted in Batch.warnings
#: (tests/test_decode_framing.py).
WARNING_ONLY = {"tagblock_checksum"}


def test_every_reason_the_nmea_decoder_can_give_is_exercised() -> None:
    assert (set(REJECT_EXAMPLES) | CSV_ONLY | FILE_ONLY | WARNING_ONLY
            == set(REASON_NAMES.values()))


# --- Gatehouse headers at chunk ends (bugs found by these tests; fixed ones stay as tests) -------


def test_gatehouse_header_at_the_end_is_counted() -> None:
    """A lone '$PGHP' line (pyais test_gh_ais_message_decode#2) is a skipped time header."""
    batch = decode_lines(["$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17"])
    assert batch.rejects.is_empty() and batch.skipped["time_header"] == 1


def test_gatehouse_header_before_unterminated_last_line_is_counted() -> None:
    data = f"$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17\n{POS}".encode()
    batch = decode_nmea(data)
    acc = line_accounting(data, batch)
    assert acc == {"total": 2, "decoded": 1, "rejected": 0, "skipped": 1}


def test_gatehouse_header_carried_across_chunks_is_counted() -> None:
    header = b"$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17\n"
    batch = stream([header, f"{POS}\n".encode()])
    assert batch.skipped["time_header"] == 1
    (rec,) = to_records(batch)
    assert record_time(rec) == utc("2008-05-09T00:00:00.010")


def test_gatehouse_header_survives_a_feed_without_complete_line() -> None:
    header = b"$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17\n"
    body = f"{POS}\n".encode()
    batch = stream([header, body[:1], body[1:]])
    (rec,) = to_records(batch)
    assert (record_time(rec), rec["ts_source"]) == (utc("2008-05-09T00:00:00.010"), "line")
    assert batch.skipped["time_header"] == 1


@pytest.mark.parametrize(("year", "month", "day"), [(2024, 2, 31), (2023, 2, 29), (2024, 4, 31),
                                                    (2019, 11, 31)])
def test_impossible_base_station_date_does_not_raise(year: int, month: int, day: int) -> None:
    """A base station's impossible calendar date must null ``station_time``, not fail the
    whole decode (one such message in a file made the batch raise polars' ComputeError)."""
    lines = [*encode({"type": 4, "mmsi": 2442102, "year": year, "month": month, "day": day,
                      "hour": 1, "minute": 2, "second": 3}), POS]
    batch = decode_lines(lines)
    assert batch.base_stations["station_time"].to_list() == [None]
    assert (batch.base_stations["day"].to_list(), batch.positions.height) == ([day], 1)


def test_base_station_year_beyond_9999_keeps_the_table_usable() -> None:
    """gpsd sample line 1026: year 10196. ``station_time`` must not be a datetime Python (and
    pyarrow's to_pylist) cannot represent: ``base_stations.to_dicts()`` raised OverflowError."""
    batch = decode_lines(encode({"type": 4, "mmsi": 2442102, "year": 10196, "month": 5,
                                 "day": 24, "hour": 9, "minute": 57, "second": 37}))
    assert batch.base_stations["year"].to_list() == [10196]
    rows = batch.base_stations.to_dicts()
    assert rows[0]["station_time"] is None


def test_gatehouse_header_with_bad_checksum_is_bad_checksum() -> None:
    """'$PGHP,1,2009,...*17' (pyais timestamped.ais) has a parseable time and a wrong checksum."""
    batch = decode_lines(["$PGHP,1,2009,5,9,0,0,0,10,338,2,,1,09*17", POS])
    assert reasons(batch) == {1: "bad_checksum"}


def test_reject_raw_keeps_trailing_blanks() -> None:
    """Rejects are 'kept byte for byte': only the line ending (LF, CRLF) is not part of raw."""
    line = POS[:-2] + "00  \t"
    batch = decode_nmea(f"{line}\r\n".encode())
    assert batch.rejects["raw"].to_list() == [line.encode()]
