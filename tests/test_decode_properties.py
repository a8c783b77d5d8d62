"""Property tests: pyais as the oracle, and streaming == one-shot decoding.

1. Random field values (ranges of ITU-R M.1371, with the not-available sentinels and invalid
   values drawn often) for types 1, 2, 3, 4, 5, 9, 11, 18, 19, 21, 24 A/B and 27 are encoded with
   ``pyais.encode_dict``; the sentences are decoded by pyais and by SeaSight; every field pyais
   returns must match SeaSight's record under the documented conventions (``expected``):
   not available -> null, empty text -> null, text ends at the first '@', an aid-to-navigation
   name includes its extension, code tables compared through pyais' enum fallback, lat/lon
   within pyais' 6-decimal rounding. Fields SeaSight does not decode are listed.
   Each example is a batch of messages decoded in one go (one SeaSight call per example).
2. Splitting a real file at random byte offsets and feeding ``NmeaDecoder`` chunk by chunk gives
   the same tables, rejects and skipped counts as ``decode_nmea`` in one go.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import pyais
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from conftest import decode_lines, pyais_as_seasight, read_shared_bytes, sorted_tables
from seasight.ais import NmeaDecoder, decode_nmea
from seasight.ais.records import to_records
from seasight.model.batch import Batch

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SIXBIT = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"
PER_DEGREE = 600_000

#: pyais fields SeaSight does not decode (SeaSight's records docstring).
NOT_DECODED = {
    "radio", "reserved_1", "reserved_2", "spare_1", "cs", "display", "dsc", "band", "msg22",
    "gnss", "name_ext", "full_name",
}
CODE_TABLES = {"status", "maneuver", "epfd", "ship_type", "aid_type"}
NOT_DECODED_FOR = {(9, "dte"), (9, "assigned"), (18, "assigned"), (19, "assigned")}

# --- strategies -------------------------------------------------------------------------------


def _raw(lo: int, hi: int, *special: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi], with the special values (sentinels, limits) drawn often."""
    if special:
        return st.one_of(st.sampled_from(special), st.integers(lo, hi))
    return st.integers(lo, hi)


def _tenths(raw: st.SearchStrategy[int]) -> st.SearchStrategy[float]:
    # pyais encodes int(value * 10): a quarter of an LSB above keeps the intended raw value
    return raw.map(lambda r: (r + 0.25) / 10)


def _coord(bits: int, limit: int, na: int, per_degree: int) -> st.SearchStrategy[float]:
    top = 2 ** (bits - 1) - 1
    specials = (na * per_degree, limit * per_degree, -limit * per_degree, 0,
                limit * per_degree + 1, -(limit * per_degree) - 1, top, -top - 1)
    return _raw(-top - 1, top, *specials).map(lambda r: r / per_degree)


def _turn() -> st.SearchStrategy[float]:
    # raw rate-of-turn indicator -128..127 as the deg/min value pyais encodes back to it
    def value(r: int) -> float:
        if abs(r) >= 127 or r == 0:
            return float(r)
        return math.copysign((r / 4.733) ** 2, r)

    return _raw(-128, 127, -128, -127, 127, 0, 1, -1, 126, -126).map(value)


def _text(nchar: int) -> st.SearchStrategy[str]:
    letters = st.sampled_from("ABCXYZ0189 -./")
    odd = st.sampled_from(SIXBIT)
    return st.lists(st.one_of(letters, letters, odd), max_size=nchar).map("".join)


MMSI = st.one_of(st.integers(0, 2**30 - 1), st.integers(980_000_000, 989_999_999),
                 st.sampled_from([0, 2**30 - 1, 999_999_999]))
HEADER = {"mmsi": MMSI, "repeat": st.integers(0, 3)}
LON = _coord(28, 180, 181, PER_DEGREE)
LAT = _coord(27, 90, 91, PER_DEGREE)
SOG = _tenths(_raw(0, 1023, 1023, 1022, 0))
COG = _tenths(_raw(0, 4095, 3600, 3599, 3601, 4095, 0))
HEADING = _raw(0, 511, 511, 359, 360, 510)
SECOND = _raw(0, 63, 59, 60, 61, 62, 63)
DIMS = {
    "to_bow": _raw(0, 511, 0, 511),
    "to_stern": _raw(0, 511, 0, 511),
    "to_port": _raw(0, 63, 0, 63),
    "to_starboard": _raw(0, 63, 0, 63),
}
EPFD = _raw(0, 15, 0, 15)

POSITION_A = {
    **HEADER,
    "status": _raw(0, 15),
    "turn": _turn(),
    "speed": SOG,
    "accuracy": st.booleans(),
    "lon": LON,
    "lat": LAT,
    "course": COG,
    "heading": HEADING,
    "second": SECOND,
    "maneuver": _raw(0, 3),
    "raim": st.booleans(),
    "radio": st.integers(0, 2**19 - 1),
}
BASE = {
    **HEADER,
    "year": _raw(0, 16383, 0, 2024, 16383),
    "month": _raw(0, 15, 0, 1, 12, 13),
    "day": _raw(0, 31, 0, 1, 31),
    "hour": _raw(0, 31, 0, 23, 24, 25),
    "minute": _raw(0, 63, 0, 59, 60, 61),
    "second": SECOND,
    "accuracy": st.booleans(),
    "lon": LON,
    "lat": LAT,
    "epfd": EPFD,
    "raim": st.booleans(),
}
STATIC_5 = {
    **HEADER,
    "ais_version": _raw(0, 3),
    "imo": _raw(0, 2**30 - 1, 0, 9_134_270),
    "callsign": _text(7),
    "shipname": _text(20),
    "ship_type": _raw(0, 255, 0, 70, 99, 100, 255),
    **DIMS,
    "epfd": EPFD,
    "month": _raw(0, 15, 0, 12, 13),
    "day": _raw(0, 31, 0, 31),
    "hour": _raw(0, 31, 23, 24, 25),
    "minute": _raw(0, 63, 59, 60, 63),
    "draught": _tenths(_raw(0, 255, 0, 255)),
    "destination": _text(20),
    "dte": st.booleans(),
}
SAR = {
    **HEADER,
    "alt": _raw(0, 4095, 4095, 4094, 0),
    "speed": _raw(0, 1023, 1023, 1022, 0).map(float),
    "accuracy": st.booleans(),
    "lon": LON,
    "lat": LAT,
    "course": COG,
    "second": SECOND,
    "dte": st.booleans(),
    "assigned": st.booleans(),
    "raim": st.booleans(),
}
CLASS_B = {
    **HEADER,
    "speed": SOG,
    "accuracy": st.booleans(),
    "lon": LON,
    "lat": LAT,
    "course": COG,
    "heading": HEADING,
    "second": SECOND,
    "cs": st.booleans(),
    "raim": st.booleans(),
}
CLASS_B_EXTENDED = {
    **CLASS_B,
    "shipname": _text(20),
    "ship_type": _raw(0, 255, 0, 37, 255),
    **DIMS,
    "epfd": EPFD,
    "dte": st.booleans(),
    "assigned": st.booleans(),
}
AID = {
    **HEADER,
    "aid_type": _raw(0, 31),
    "name": _text(20),
    "accuracy": st.booleans(),
    "lon": LON,
    "lat": LAT,
    **DIMS,
    "epfd": EPFD,
    "second": SECOND,
    "off_position": st.booleans(),
    "raim": st.booleans(),
    "virtual_aid": st.booleans(),
    "assigned": st.booleans(),
    "name_ext": _text(14),
}
PART_A = {**HEADER, "partno": st.just(0), "shipname": _text(20)}
PART_B = {
    **HEADER,
    "partno": st.just(1),
    "ship_type": _raw(0, 255, 0, 37),
    "vendorid": _text(3),
    "model": _raw(0, 15),
    "serial": _raw(0, 2**20 - 1),
    "callsign": _text(7),
    **DIMS,
    "mothership_mmsi": st.integers(0, 2**30 - 1),
}
LONG_RANGE = {
    **HEADER,
    "accuracy": st.booleans(),
    "raim": st.booleans(),
    "status": _raw(0, 15),
    "lon": _coord(18, 180, 181, 600),
    "lat": _coord(17, 90, 91, 600),
    "speed": _raw(0, 63, 63, 62, 0).map(float),
    "course": _raw(0, 511, 511, 359, 360, 510, 0).map(float),
    "gnss": st.booleans(),
}

LAYOUTS: dict[int, dict[str, st.SearchStrategy[Any]]] = {
    1: POSITION_A, 2: POSITION_A, 3: POSITION_A, 4: BASE, 5: STATIC_5, 9: SAR, 11: BASE,
    18: CLASS_B, 19: CLASS_B_EXTENDED, 21: AID, 27: LONG_RANGE,
}


def _days_in_month(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def _possible_calendar_date(fields: dict[str, Any]) -> dict[str, Any]:
    """Types 4/11: keep the day within its month when year, month and day are all valid, so the
    oracle comparison covers real dates (impossible ones are tested in test_decode_basics)."""
    y, m, d = fields["year"], fields["month"], fields["day"]
    if y > 0 and 1 <= m <= 12 and d > 0:
        fields["day"] = min(d, _days_in_month(y, m))
    return fields


@st.composite
def ais_message(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([*LAYOUTS, "24A", "24B"]))
    if kind == "24A":
        fields = {"type": 24, **draw(st.fixed_dictionaries(PART_A))}
    elif kind == "24B":
        fields = {"type": 24, **draw(st.fixed_dictionaries(PART_B))}
        if not 980_000_000 <= fields["mmsi"] <= 989_999_999:
            del fields["mothership_mmsi"]
    else:
        fields = {"type": kind, **draw(st.fixed_dictionaries(LAYOUTS[kind]))}
        if kind in (4, 11):
            fields = _possible_calendar_date(fields)
    return fields


ENVELOPE = st.fixed_dictionaries({
    "talker_id": st.sampled_from(["AI", "AB", "BS", "SA", "AN", "AR"]),
    "sentence_type": st.sampled_from(["VDM", "VDO"]),
    "radio_channel": st.sampled_from(["A", "B"]),
})

# --- the convention mapping -------------------------------------------------------------------


def _norm_text(value: str | None) -> str:
    """pyais text -> SeaSight's: ends at the first '@', stripped."""
    return (value or "").split("@")[0].strip()


def assert_same(oracle: dict[str, Any], rec: dict[str, Any], where: Any) -> None:
    t = oracle["msg_type"]
    for field, value in oracle.items():
        if field in NOT_DECODED or (t, field) in NOT_DECODED_FOR or isinstance(value, bytes):
            continue
        assert field in rec, (where, f"pyais field {field!r} missing in SeaSight's record")
        got = rec[field]
        if isinstance(value, enum.Enum) and field not in CODE_TABLES:
            value = value.value  # e.g. pyais' TurnRate members for -128/-127/127
        elif isinstance(value, enum.Enum):
            # code tables through pyais' own fallback for codes it does not know
            raw = 0 if got is None and field == "ship_type" else got
            assert int(type(value).from_value(raw)) == int(value), (where, field, value, got)
            continue
        if field == "name" and t == 21:
            want = (_norm_text(oracle["name"]) + _norm_text(oracle.get("name_ext"))) or None
        else:
            want = pyais_as_seasight(field, value, t)
        if want is None or got is None:
            assert got is want, (where, field, value, want, got)
        elif field in ("lat", "lon"):
            assert math.isclose(got, want, abs_tol=6e-7), (where, field, want, got)
        elif isinstance(want, float):
            assert math.isclose(got, want, abs_tol=1e-6), (where, field, want, got)
        elif isinstance(got, bool):
            assert got == bool(want), (where, field, want, got)
        else:
            assert got == want, (where, field, want, got)
    if t == 24 and oracle.get("partno") == 1 and "mothership_mmsi" in oracle:
        assert rec["to_bow"] is None and rec["to_starboard"] is None, where
    if t == 24 and oracle.get("partno") == 1 and "mothership_mmsi" not in oracle:
        assert rec["mothership_mmsi"] is None, where


@SETTINGS
@given(st.lists(st.tuples(ais_message(), ENVELOPE), min_size=1, max_size=12))
def test_pyais_is_the_oracle(batch: list[tuple[dict[str, Any], dict[str, str]]]) -> None:
    lines: list[str] = []
    firsts: list[int] = []
    oracles: list[dict[str, Any]] = []
    for i, (fields, env) in enumerate(batch):
        sentences = pyais.encode_dict(fields, seq_id=i % 10, **env)
        firsts.append(len(lines) + 1)
        lines.extend(sentences)
        oracles.append(pyais.decode(*sentences).asdict())
    decoded = decode_lines(lines)
    assert decoded.rejects.is_empty(), decoded.rejects.to_dicts()
    recs = to_records(decoded)
    assert [r["line_no"] for r in recs] == firsts
    for (fields, env), oracle, rec in zip(batch, oracles, recs, strict=True):
        assert rec["channel"] == env["radio_channel"]
        assert_same(oracle, rec, fields)


# --- streaming == one-shot --------------------------------------------------------------------

STREAM_FILES = (
    "conformance/pyais/nmea_data_sample.txt",
    "conformance/gpsd/sample.aivdm",
    "conformance/libais/tagblock.nmea",
    "conformance/libais/test.aivdm",
    "conformance/libais/uscg_nais_sample_lines.txt",
)
DATA = {name: read_shared_bytes(name) for name in STREAM_FILES}
ONE_SHOT = {name: decode_nmea(data, source="file") for name, data in DATA.items()}


def _stream(data: bytes, cuts: list[int]) -> Batch:
    dec = NmeaDecoder("file")
    parts = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        parts.append(dec.feed(data[prev:cut]))
        prev = cut
    parts.append(dec.finish())
    return Batch.concat(parts)


def assert_same_batches(one: Batch, other: Batch) -> None:
    a, b = sorted_tables(one), sorted_tables(other)
    for name in a:
        assert_frame_equal(a[name], b[name], check_dtypes=True)
    assert +one.skipped == +other.skipped


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(STREAM_FILES), st.data())
def test_streaming_equals_one_shot(name: str, data: st.DataObject) -> None:
    raw = DATA[name]
    cuts = data.draw(st.lists(st.integers(1, len(raw) - 1), max_size=16), label="cuts")
    assert_same_batches(ONE_SHOT[name], _stream(raw, cuts))


@pytest.mark.parametrize("name", STREAM_FILES)
def test_streaming_byte_by_byte(name: str) -> None:
    """Tiny chunks: a cut after every byte of the first 150 bytes, then the rest in one piece."""
    raw = DATA[name]
    assert_same_batches(ONE_SHOT[name], _stream(raw, list(range(1, 150))))


GATEHOUSE = read_shared_bytes("conformance/pyais/timestamped.ais")
GATEHOUSE_LINE_ENDS = [i + 1 for i, b in enumerate(GATEHOUSE) if b == ord("\n")][:-1]

@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.lists(st.integers(1, len(GATEHOUSE) - 1), max_size=8))
@example([41, 42])  # the minimal failing split hypothesis found
def test_streaming_gatehouse_any_cuts(cuts: list[int]) -> None:
    """$PGHP time headers across arbitrary chunk boundaries: same rows (with their times),
    rejects and skipped lines."""
    whole = decode_nmea(GATEHOUSE, source="file")
    streamed = _stream(GATEHOUSE, cuts)
    assert +streamed.skipped == +whole.skipped
    a = sorted_tables(whole)
    b = sorted_tables(streamed)
    for name in a:
        assert_frame_equal(a[name], b[name])


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(GATEHOUSE_LINE_ENDS), max_size=8))
def test_streaming_gatehouse_cut_at_line_ends(cuts: list[int]) -> None:
    """Chunks ending at line ends (each feed() has complete lines): same rows and rejects."""
    a = sorted_tables(decode_nmea(GATEHOUSE, source="file"))
    b = sorted_tables(_stream(GATEHOUSE, cuts))
    for name in a:
        assert_frame_equal(a[name], b[name])
