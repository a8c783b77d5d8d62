"""Line framing on real-feed forms: tag blocks that fail their own check, receive-time prefixes
written by loggers, odd talkers, CR-only line ends, and lines far longer than a chunk (bounded
memory, README "Interrupted ingests resume exactly ... Memory is bounded"). Every line here is
written for the test."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import nmea_checksum, sorted_tables
from seasight.ais import DecoderState, NmeaDecoder, decode_nmea
from seasight.ais.decoder import MAX_REJECT_BYTES
from seasight.ais.records import to_records
from seasight.ingest.pipeline import ingest_paths
from seasight.model.batch import Batch
from seasight.store import Store

# a type 1 report (mmsi 366053209) and a type 5 in two fragments, bodies without '!' and '*hh'
POS_BODY = "AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0"
T5_BODIES = ("BSVDM,2,1,3,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0",
             "BSVDM,2,2,3,A,88888888880,2")
#: 2019-02-16T07:52:46.167726Z
T_US = 1_550_303_566_167_726


def nmea(body: str) -> str:
    return f"!{body}*{nmea_checksum(body)}"


def tag(fields: str, *, wrong: bool = False) -> str:
    check = int(nmea_checksum(fields), 16) ^ (0x5A if wrong else 0)
    return f"\\{fields}*{check:02X}\\"


def decode(lines: list[str], ending: str = "\n") -> Batch:
    return decode_nmea("".join(ln + ending for ln in lines).encode())


def when(rec: dict[str, object]) -> int:
    ts = rec["ts"]
    assert isinstance(ts, str)
    t = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution


# --- tag blocks that fail their own check ---------------------------------------------------


def test_group_tag_blocks_with_wrong_checksums_cost_no_message() -> None:
    """The coastal feed of issue 16: both fragments of a type 5 behind NMEA 4.0 group tag
    blocks whose own checksums are wrong, while each sentence's checksum is right."""
    lines = [tag("g:1-2-9999,c:1565218798", wrong=True) + nmea(T5_BODIES[0]),
             tag("g:2-2-9999", wrong=True) + nmea(T5_BODIES[1]),
             tag("g:1-1-10000,s:STA2,c:1565218799", wrong=True) + nmea(POS_BODY)]
    batch = decode(lines)
    assert batch.rejects.is_empty(), batch.rejects.to_dicts()
    assert batch.static.height == 1 and batch.positions.height == 1
    static = to_records(Batch(static=batch.static))[0]
    assert (static["shipname"], static["line_no"], static["ts_source"]) == (
        "EVER DIADEM", 1, "tagblock_unverified")
    assert when(static) == 1_565_218_798_000_000
    pos = to_records(Batch(positions=batch.positions))[0]
    assert (pos["station"], pos["ts_source"]) == ("STA2", "tagblock_unverified")
    assert batch.warnings == {"tagblock_checksum": 3}


def test_a_wrong_sentence_checksum_is_still_rejected() -> None:
    bad = nmea(POS_BODY)[:-2] + "00"
    batch = decode([tag("c:1565218798", wrong=True) + bad, tag("c:1565218798") + bad])
    assert batch.rejects["reason"].to_list() == ["bad_checksum", "bad_checksum"]
    assert batch.warnings == {}


def test_an_unverified_tag_block_time_gives_way_to_a_time_on_the_line() -> None:
    line = "1550303566.167726 " + tag("c:1565218798", wrong=True) + nmea(POS_BODY)
    (rec,) = to_records(decode([line]))
    assert (when(rec), rec["ts_source"]) == (T_US, "line")
    # a verified tag block's time comes first
    (rec,) = to_records(decode(["1550303566.167726 " + tag("c:1565218798") + nmea(POS_BODY)]))
    assert (when(rec), rec["ts_source"]) == (1_565_218_798_000_000, "tagblock")


# --- receive-time prefixes ------------------------------------------------------------------

PREFIXES = {
    "nanoseconds": ("1550303566167726840", T_US),
    "microseconds": ("1550303566167726", T_US),
    "milliseconds": ("1550303566167", 1_550_303_566_167_000),
    "seconds": ("1550303566", 1_550_303_566_000_000),
    "seconds with decimals": ("1550303566.167726", T_US),
    "milliseconds with decimals": ("1550303566167.726", T_US),
    "ISO 8601 Z": ("2019-02-16T07:52:46.167726Z", T_US),
    "ISO 8601 offset": ("2019-02-16T08:52:46.167726+01:00", T_US),
    "ISO 8601 offset hhmm": ("2019-02-16T02:52:46.167726-0500", T_US),
    "ISO 8601 naive, blank": ("2019-02-16 07:52:46.167726", T_US),
    "ISO 8601 seconds": ("2019-02-16T07:52:46Z", 1_550_303_566_000_000),
}
SEPARATORS = {"blank": " ", "comma": ",", "tab": "\t", "comma and blank": ", ", "blanks": "  "}


@pytest.mark.parametrize("form", sorted(PREFIXES))
@pytest.mark.parametrize("separator", sorted(SEPARATORS))
def test_receive_time_prefix(form: str, separator: str) -> None:
    prefix, want = PREFIXES[form]
    lines = [prefix + SEPARATORS[separator] + nmea(POS_BODY),
             prefix + SEPARATORS[separator] + nmea(T5_BODIES[0]),
             prefix + SEPARATORS[separator] + nmea(T5_BODIES[1])]
    batch = decode(lines)
    assert batch.rejects.is_empty(), batch.rejects.to_dicts()
    recs = to_records(batch)
    assert len(recs) == 2
    for rec in recs:
        assert (when(rec), rec["ts_source"]) == (want, "line"), rec
    assert batch.warnings == {}


def test_a_prefix_before_a_tag_block() -> None:
    line = "1550303566167726840 " + tag("s:STA9") + nmea(POS_BODY)
    (rec,) = to_records(decode([line]))
    assert (when(rec), rec["ts_source"], rec["station"]) == (T_US, "line", "STA9")


def test_a_number_that_is_no_time_does_not_cost_the_sentence() -> None:
    """A line counter (or a time before 1990 / after 2100) before the sentence: decoded without a
    time, counted as a bad_timestamp warning."""
    batch = decode(["12 " + nmea(POS_BODY), "99999999999999999999 " + nmea(POS_BODY),
                    "2019-13-16T07:52:46Z " + nmea(POS_BODY)])
    recs = to_records(batch)
    assert [(r["line_no"], r["ts_source"]) for r in recs] == [(1, "none"), (2, "none"),
                                                              (3, "none")]
    assert batch.warnings == {"bad_timestamp": 3}


def test_text_before_a_sentence_is_still_malformed() -> None:
    batch = decode(["1550303566 hello " + nmea(POS_BODY), "1550303566" + nmea(POS_BODY)])
    assert batch.rejects["reason"].to_list() == ["malformed_sentence", "malformed_sentence"]


# --- talkers ----------------------------------------------------------------------------------

TALKERS = ["AI", "AB", "AD", "AN", "AR", "AS", "AT", "AX", "BS", "SA", "=I", "XX"]


@pytest.mark.parametrize("talker", TALKERS)
def test_talker(talker: str) -> None:
    lines = [nmea(talker + POS_BODY[2:]),
             "1550303566167726840 " + nmea(talker + POS_BODY[2:].replace("VDM", "VDO")),
             nmea(talker + T5_BODIES[0][2:]), nmea(talker + T5_BODIES[1][2:])]
    batch = decode(lines)
    assert batch.rejects.is_empty(), batch.rejects.to_dicts()
    assert batch.positions.height == 2 and batch.static.height == 1


# --- line ends --------------------------------------------------------------------------------


def _feed_lines() -> list[str]:
    return ["# a comment", nmea(POS_BODY), "", tag("c:1565218798") + nmea(T5_BODIES[0]),
            "1550303566 " + nmea(T5_BODIES[1]), "garbage", nmea(POS_BODY)[:-2] + "00",
            "$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17", nmea(POS_BODY)]


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_cr_and_crlf_files_decode_as_the_lf_file(ending: str) -> None:
    lf = decode(_feed_lines(), "\n")
    other = decode(_feed_lines(), ending)
    assert lf.positions.height == 2 and lf.static.height == 1
    for name, frame in sorted_tables(lf).items():
        assert frame.equals(sorted_tables(other)[name]), name
    assert other.skipped == lf.skipped


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_cr_files_stream_across_every_cut(ending: str) -> None:
    data = "".join(ln + ending for ln in _feed_lines()).encode()
    whole = decode_nmea(data)
    for cut in range(1, len(data)):
        dec = NmeaDecoder("-")
        streamed = Batch.concat([dec.feed(data[:cut]), dec.feed(data[cut:]), dec.finish()])
        for name, frame in sorted_tables(whole).items():
            assert frame.equals(sorted_tables(streamed)[name]), (cut, name)
        assert streamed.skipped == whole.skipped, cut


def test_crlf_split_between_chunks_across_a_checkpoint() -> None:
    data = (nmea(POS_BODY) + "\r\n\r\n" + nmea(POS_BODY) + "\r\n").encode()
    cut = data.index(b"\n")  # the chunk ends between CR and LF
    dec = NmeaDecoder("-")
    first = dec.feed(data[:cut])
    resumed = NmeaDecoder("-", state=DecoderState.from_json(dec.state.to_json()))
    rest = Batch.concat([resumed.feed(data[cut:]), resumed.finish()])
    assert first.positions["line_no"].to_list() == [1]
    assert rest.positions["line_no"].to_list() == [3]
    assert rest.skipped["blank"] == 1


# --- lines longer than a chunk: bounded memory ----------------------------------------------

LONG = 80 * 1024 * 1024  # far more than a chunk, and than MAX_PENDING_BYTES
PIECE = 1024 * 1024


def _long_line_pieces(fill: bytes) -> list[bytes]:
    piece = fill * (PIECE // len(fill))
    return [piece] * (LONG // PIECE)


@pytest.mark.parametrize("fill", [b"x", b"\x00", nmea(POS_BODY).encode()])
def test_a_line_longer_than_memory_allows_is_cut_without_being_held(fill: bytes) -> None:
    """A single 80 MiB line streamed in 1 MiB pieces: one oversize_line reject keeping the first
    MAX_REJECT_BYTES, the lines around it intact, and Python's peak allocation (numpy included)
    a small fraction of the line."""
    dec = NmeaDecoder("-")
    parts = [dec.feed((nmea(POS_BODY) + "\n").encode())]
    tracemalloc.start()
    try:
        for piece in _long_line_pieces(fill):
            parts.append(dec.feed(piece))
        parts.append(dec.feed(("\n" + nmea(POS_BODY) + "\n").encode()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    parts.append(dec.finish())
    batch = Batch.concat(parts)
    assert peak < 4 * PIECE, peak
    assert batch.rejects.select("line_no", "reason").rows() == [(2, "oversize_line")]
    raw = batch.rejects["raw"][0]
    assert len(raw) == MAX_REJECT_BYTES and raw == (fill * MAX_REJECT_BYTES)[:MAX_REJECT_BYTES]
    assert batch.positions["line_no"].to_list() == [1, 3]


def test_a_checkpoint_inside_a_long_line_resumes_dropping_it() -> None:
    dec = NmeaDecoder("-")
    first = dec.feed(b"x" * (200 * 1024))
    state = dec.state.to_json()
    assert state["discarding"] is True and len(str(state)) < 1000
    resumed = NmeaDecoder("-", state=DecoderState.from_json(state))
    rest = Batch.concat([resumed.feed(b"y" * (200 * 1024) + b"\r"),
                         resumed.feed(("\n" + nmea(POS_BODY)).encode()), resumed.finish()])
    assert first.rejects["line_no"].to_list() == [1] and rest.rejects.is_empty()
    assert rest.positions["line_no"].to_list() == [2]


def test_ingest_of_a_sparse_file_stays_bounded(tmp_path: Path) -> None:
    """A file that is one 80 MiB line of NUL bytes (sparse) before a good line: one reject with
    a bounded prefix, the good line stored, and the ingest's Python allocations far below the
    line's size (they were several times it when long lines were accumulated)."""
    feed = tmp_path / "sparse.nmea"
    with feed.open("wb") as fh:
        fh.truncate(LONG)
        fh.seek(LONG)
        fh.write(("\n" + nmea(POS_BODY) + "\n").encode())
    tracemalloc.start()
    try:
        report = ingest_paths([feed], tmp_path / "db.duckdb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dict(report.rejects) == {"oversize_line": 1} and report.n_messages == 1
    assert peak < LONG // 2, peak
    with Store(tmp_path / "db.duckdb", read_only=True) as store:
        rejects = store.table("rejects")
    assert rejects["line_no"].to_list() == [1]
    assert rejects["raw"][0] == b"\x00" * MAX_REJECT_BYTES
