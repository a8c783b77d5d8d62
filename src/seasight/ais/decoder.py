"""Decode NMEA text into SeaSight's tables: the streaming :class:`NmeaDecoder` and
:func:`decode_nmea`.

Timestamps follow one rule, recorded per row in ``ts_source``: the tag block's ``c:`` field;
else a per-line time written by the receiver or a logger (a receive-time prefix, a Gatehouse
``$PGHP`` header, USCG/aishub trailing unix time: ``line``); else the ``c:`` of a tag block that
failed its own check (``tagblock_unverified``); else, for live feeds only, the arrival time;
else null (``none``). For a message in several fragments, the first fragment that carries a
time gives it.

Memory does not grow with the length of a line: a line still without its end after
:data:`MAX_PENDING_BYTES` is rejected at once as ``oversize_line`` with its first
:data:`MAX_REJECT_BYTES`, and the rest of it is dropped as it arrives (the decoder's state says
so, and survives a checkpoint); rejects of any reason keep at most :data:`MAX_REJECT_BYTES`.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa

from seasight.ais import layouts
from seasight.ais.assembly import MAX_GAP_LINES, assemble
from seasight.ais.bits import Payloads, decode_numeric, gather_payloads
from seasight.ais.columns import (
    armored_payloads,
    characters,
    coded_strings,
    decode_columns,
    layout_plan,
    numeric,
    rate_of_turn,
    slices,
)
from seasight.ais.framing import (
    BLANK,
    COMMENT,
    MAX_LINE_BYTES,
    NO_TS,
    REJECTED,
    SENTENCE,
    TIME_HEADER,
    TS_ARRIVAL,
    TS_NONE,
    Frames,
    civil_times_us,
    first_line_end,
    frame_lines,
    last_line_end,
)
from seasight.model.batch import Batch
from seasight.model.rejects import REASON_CODES, REASON_NAMES
from seasight.model.schema import TABLES, TS_SOURCES, conform

#: Storage type of each decoded column (Arrow), by SeaSight column name.
_KINDS = {
    "msg_type": "u8", "repeat": "u8", "mmsi": "u32", "nav_status": "u8", "rot_raw": "i8",
    "sog": "f32", "cog": "f32", "heading": "u16", "lat": "f64", "lon": "f64", "second": "u8",
    "maneuver": "u8", "altitude_m": "u16", "ais_version": "u8", "imo": "u32", "ship_type": "u8",
    "to_bow": "u16", "to_stern": "u16", "to_port": "u8", "to_starboard": "u8", "epfd": "u8",
    "eta_month": "u8", "eta_day": "u8", "eta_hour": "u8", "eta_minute": "u8", "draught": "f32",
    "part_num": "u8", "model": "u8", "serial": "u32", "mothership_mmsi": "u32", "year": "u16",
    "month": "u8", "day": "u8", "hour": "u8", "minute": "u8", "aid_type": "u8",
}

R_TRUNCATED = REASON_CODES["truncated_message"]
R_UNKNOWN_TYPE = REASON_CODES["unknown_message_type"]
R_MISSING = REASON_CODES["missing_fragment"]
R_OVERSIZE = REASON_CODES["oversize_line"]

_REASON_LOOKUP = tuple(REASON_NAMES.get(i, "unknown") for i in range(64))

#: A line still without its end after this many bytes is rejected as oversize_line at once;
#: the rest of it is dropped as it arrives, never held.
MAX_PENDING_BYTES = 64 * 1024

#: Raw bytes kept of a rejected line: the first ones (only oversize lines are longer).
MAX_REJECT_BYTES = 4096


@nb.njit(cache=True, nogil=True)
def _message_meta(line_start, lines, ts_us, ts_source, st_start, st_len, channel):  # type: ignore[no-untyped-def]
    nm = len(line_start) - 1
    first = np.empty(nm, np.int64)
    ts = np.empty(nm, np.int64)
    tss = np.empty(nm, np.int8)
    ss = np.zeros(nm, np.int64)
    sl = np.zeros(nm, np.int64)
    ch = np.zeros(nm, np.uint8)
    for m in range(nm):
        a = line_start[m]
        first[m] = lines[a]
        ts[m] = NO_TS
        tss[m] = TS_NONE
        ch[m] = channel[lines[a]]
        for j in range(a, line_start[m + 1]):
            ln = lines[j]
            if ts[m] == NO_TS and ts_us[ln] != NO_TS:
                ts[m] = ts_us[ln]
                tss[m] = ts_source[ln]
            if sl[m] == 0 and st_len[ln] > 0:
                ss[m] = st_start[ln]
                sl[m] = st_len[ln]
    return first, ts, tss, ss, sl, ch


@dataclass
class _Context:
    """Everything the table builders need about one decoded chunk."""

    buf: np.ndarray
    payloads: Payloads
    msg_type: np.ndarray
    repeat: np.ndarray
    mmsi: np.ndarray
    line_no: np.ndarray  # per message: line number of the first fragment
    ts: np.ndarray
    ts_source: np.ndarray
    st_start: np.ndarray
    st_len: np.ndarray
    channel: np.ndarray
    part: np.ndarray  # type 24 part number (0 = A, 1 = B), -1 for other types or if missing
    source: str

    def provenance(self, rows: np.ndarray) -> dict[str, pa.Array]:
        n = len(rows)
        all_valid = np.ones(n, bool)
        ts = self.ts[rows]
        st_len = self.st_len[rows]
        return {
            "mmsi": numeric(self.mmsi[rows], all_valid, "u32"),
            "ts": numeric(ts, ts != NO_TS, "ts"),
            "msg_type": numeric(self.msg_type[rows], all_valid, "u8"),
            "repeat": numeric(self.repeat[rows], all_valid, "u8"),
            "line_no": pa.array(self.line_no[rows], type=pa.int64()),
            "station": slices(self.buf, self.st_start[rows], st_len, st_len > 0),
            "channel": characters(self.channel[rows]),
            "ts_source": coded_strings(self.ts_source[rows], TS_SOURCES),
            "msg_hash": pa.array(self.payloads.msg_hash[rows], type=pa.int64()),
        }


#: Every message's type, repeat indicator and MMSI, plus bits 38-39 (a type 24's part number).
_HEADER = ((*layouts.HEADER, layouts.Field("part_num", 38, 2)),)


def _header(payloads: Payloads, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """(msg_type, repeat, mmsi, bits 38-39, whether the payload reaches bit 39) in one pass."""
    plan = layout_plan(_HEADER)
    values, valid = decode_numeric(payloads.sixbits, payloads.start, payloads.nbits, rows,
                                   np.zeros(len(rows), np.int64), plan.bit, plan.width,
                                   plan.signed, plan.na, plan.lo, plan.hi)
    ints = values.astype(np.int64)
    return ints[0], ints[1], ints[2], ints[3], valid[3]


def _frame(columns: dict[str, pa.Array], table: str, source: str,
           *derived: pl.Expr) -> pl.DataFrame:
    """The table's frame: ``columns``, then the ``derived`` ones, and ``source`` on every row
    (added by Polars as one value, not built as a column of copies)."""
    frame = cast(pl.DataFrame, pl.from_arrow(pa.table(columns)))
    return conform(frame.with_columns(*derived, source=pl.lit(source, pl.String)),
                   TABLES[table])


def _rows(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def _table(ctx: _Context, rows: np.ndarray, variant: np.ndarray,
           variants: list[tuple[layouts.Field, ...]], table: str) -> pl.DataFrame:
    if not len(rows):
        return pl.DataFrame(schema=TABLES[table])
    cols = {**ctx.provenance(rows),
            **decode_columns(ctx.payloads, rows, variant, variants, _KINDS)}
    if "rot_raw" in cols:
        raw = cols["rot_raw"]
        valid = ~np.asarray(raw.is_null())
        rot, ok = rate_of_turn(np.asarray(raw.fill_null(0)), valid)
        cols["rot"] = numeric(rot, ok, "f32")
    return _frame(cols, table, ctx.source)


_POSITION_VARIANTS = [layouts.POSITION_A, layouts.POSITION_SAR, layouts.POSITION_B,
                      layouts.POSITION_B_EXTENDED, layouts.POSITION_LONG_RANGE]
_POSITION_VARIANT_OF_TYPE = np.full(64, -1, np.int64)
for _t, _lay in layouts.POSITION_TYPES.items():
    _POSITION_VARIANT_OF_TYPE[_t] = next(
        i for i, v in enumerate(_POSITION_VARIANTS) if v is _lay)

_STATIC_VARIANTS = [layouts.STATIC_VOYAGE, layouts.STATIC_B_EXTENDED, layouts.STATIC_B_PART_A,
                    layouts.STATIC_B_PART_B,
                    (*layouts.STATIC_B_PART_B[:6], layouts.MOTHERSHIP_MMSI)]


def _positions(ctx: _Context) -> pl.DataFrame:
    variant = _POSITION_VARIANT_OF_TYPE[ctx.msg_type]
    rows = _rows(variant >= 0)
    return _table(ctx, rows, variant[rows], _POSITION_VARIANTS, "positions")


def _static(ctx: _Context) -> pl.DataFrame:
    """Types 5, 19 and 24; a type 24 part B from an auxiliary craft (MMSI 98xxxxxxx) carries its
    mothership's MMSI where other vessels send their dimensions."""
    variant = np.full(len(ctx.msg_type), -1, np.int64)
    variant[ctx.msg_type == 5] = 0
    variant[ctx.msg_type == 19] = 1
    variant[ctx.part == 0] = 2
    aux = (ctx.mmsi // 10_000_000) == 98
    variant[(ctx.part == 1) & ~aux] = 3
    variant[(ctx.part == 1) & aux] = 4
    rows = _rows(variant >= 0)
    return _table(ctx, rows, variant[rows], _STATIC_VARIANTS, "static")


def _base_stations(ctx: _Context) -> pl.DataFrame:
    rows = _rows(np.isin(ctx.msg_type, list(layouts.BASE_STATION_TYPES)))
    frame = _table(ctx, rows, np.zeros(len(rows), np.int64), [layouts.BASE_STATION],
                   "base_stations")
    parts = [frame[c].fill_null(0).cast(pl.Int64).to_numpy()
             for c in ("year", "month", "day", "hour", "minute", "second")]
    t = civil_times_us(*parts)
    complete = frame.select(pl.all_horizontal(
        pl.col("year", "month", "day", "hour", "minute", "second").is_not_null()))
    valid = complete.to_series().to_numpy() & (t != NO_TS)
    station_time = pa.array(t, type=pa.int64(), mask=~valid).cast(pa.timestamp("us", "UTC"))
    return frame.with_columns(station_time=pl.Series(station_time))


def _aids(ctx: _Context) -> pl.DataFrame:
    rows = _rows(ctx.msg_type == 21)
    if not len(rows):
        return pl.DataFrame(schema=TABLES["aids_to_navigation"])
    cols = {**ctx.provenance(rows),
            **decode_columns(ctx.payloads, rows, np.zeros(len(rows), np.int64),
                             [(*layouts.AID_TO_NAVIGATION, layouts.NAME_EXTENSION)], _KINDS)}
    name = (pl.when(pl.col("name_ext").is_not_null())
            .then(pl.concat_str(pl.col("name").fill_null(""), pl.col("name_ext")))
            .otherwise(pl.col("name")).alias("name"))
    return _frame(cols, "aids_to_navigation", ctx.source, name)


def _other(ctx: _Context, rows: np.ndarray) -> pl.DataFrame:
    if not len(rows):
        return pl.DataFrame(schema=TABLES["other_messages"])
    p = ctx.payloads
    payload = armored_payloads(p.sixbits, p.start, p.nchars, rows)
    cols = {**ctx.provenance(rows), "payload": payload,
            "fill_bits": numeric(p.fill_bits[rows], np.ones(len(rows), bool), "u8")}
    return _frame(cols, "other_messages", ctx.source)


@dataclass
class CarriedLine:
    """A line held back for the next chunk: a fragment of an incomplete message, or a
    Gatehouse time header whose sentence has not arrived yet."""

    raw: bytes
    line_no: int
    ts_us: int
    ts_source: int


@dataclass
class DecoderState:
    """What a :class:`NmeaDecoder` remembers between chunks; JSON-serialisable via
    :meth:`to_json` so an interrupted ingest can resume exactly where it committed."""

    next_line_no: int = 1
    tail: bytes = b""  # the start of a line whose end has not arrived (at most MAX_PENDING_BYTES)
    carried: list[CarriedLine] = field(default_factory=list)
    discarding: bool = False  # inside an oversize line, already rejected: drop until its end
    after_cr: bool = False  # the last byte was a CR: an LF right after it ends no other line

    def to_json(self) -> dict[str, object]:
        return {
            "next_line_no": self.next_line_no,
            "discarding": self.discarding,
            "after_cr": self.after_cr,
            "tail": base64.b64encode(self.tail).decode(),
            "carried": [
                [base64.b64encode(c.raw).decode(), c.line_no, c.ts_us, c.ts_source]
                for c in self.carried
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DecoderState:
        carried = [
            CarriedLine(base64.b64decode(r), int(n), int(t), int(s))
            for r, n, t, s in data.get("carried", [])  # type: ignore[attr-defined]
        ]
        return cls(int(data["next_line_no"]), base64.b64decode(str(data.get("tail", ""))),  # type: ignore[call-overload]
                   carried, bool(data.get("discarding", False)),
                   bool(data.get("after_cr", False)))


class NmeaDecoder:
    """Streaming decoder: feed it bytes in chunks of any size, get
    :class:`~seasight.model.batch.Batch`es.

    Lines (ending in LF, CR LF or a lone CR) may be split across chunks; fragments of a
    multi-part message may arrive in different chunks. Every input line ends up exactly once as
    part of a decoded message, as a reject (``rejects``), or as a skipped blank/comment line
    (``Batch.skipped``). A line of any length is handled in bounded memory (see the module).

    Args:
        source: name recorded in every row (file path, ``tcp://host:port``, ...).
        max_line_bytes: lines longer than this are rejected as ``oversize_line``.
        max_gap_lines: fragments further apart than this many lines are not joined.
        state: resume from a :class:`DecoderState` saved by :attr:`state`.

    Example:
        >>> dec = NmeaDecoder("example")
        >>> batch = dec.feed(b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\n")
        >>> batch.positions["mmsi"][0], round(batch.positions["lat"][0], 6)
        (367533950, 37.808418)
    """

    def __init__(
        self,
        source: str = "-",
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_gap_lines: int = MAX_GAP_LINES,
        state: DecoderState | None = None,
    ) -> None:
        self.source = source
        self.max_line_bytes = max_line_bytes
        self.max_gap_lines = max_gap_lines
        self.state = state if state is not None else DecoderState()

    def feed(self, data: bytes, arrival_ts_us: int | None = None) -> Batch:
        """Decode the complete lines now available; keep a partial last line for later.

        ``arrival_ts_us`` (live feeds) timestamps messages that carry no time of their own.
        """
        st = self.state
        view = memoryview(data).cast("B")
        if len(view):
            if st.after_cr and view[0] == 10:
                view = view[1:]  # the LF of a CR LF split between chunks
            st.after_cr = False
        if st.discarding:
            end = int(first_line_end(np.frombuffer(view, np.uint8)))
            if end < 0:
                return Batch()
            st.discarding = False
            if view[end] == 13:
                if end + 1 < len(view):
                    end += view[end + 1] == 10
                else:
                    st.after_cr = True
            view = view[end + 1:]
        text = st.tail + view if st.tail else view
        buf = np.frombuffer(text, np.uint8)
        cut = int(last_line_end(buf)) + 1
        batch = self._decode(text[:cut], final=False, arrival_ts_us=arrival_ts_us)
        if cut and cut == len(buf) and buf[-1] == 13:
            st.after_cr = True
        if len(buf) - cut > max(MAX_PENDING_BYTES, self.max_line_bytes):
            # no line is that long: reject it now, keep none of it, drop the rest as it comes
            head = bytes(text[cut:cut + MAX_REJECT_BYTES])
            batch.rejects = pl.concat([batch.rejects, self._oversize(head)])
            st.tail = b""
            st.discarding = True
        else:
            st.tail = bytes(text[cut:])
        return batch

    def finish(self, arrival_ts_us: int | None = None) -> Batch:
        """Decode what is left: a last line without newline, fragments that never completed."""
        text, self.state.tail = self.state.tail, b""
        self.state.discarding = self.state.after_cr = False
        return self._decode(text, final=True, arrival_ts_us=arrival_ts_us)

    def _oversize(self, head: bytes) -> pl.DataFrame:
        """The reject of the line starting with ``head`` that is too long to hold."""
        line_no = self.state.next_line_no
        self.state.next_line_no += 1
        return _frame({
            "line_no": pa.array([line_no], type=pa.int64()),
            "raw": pa.array([head], type=pa.binary()),
            "reason": pa.array(["oversize_line"], type=pa.string()),
        }, "rejects", self.source)

    def _decode(self, text: bytes | memoryview, *, final: bool,
                arrival_ts_us: int | None) -> Batch:
        st = self.state
        carried = st.carried
        if not text and (not carried or not final):
            return Batch()
        prefix = b"".join(c.raw + b"\n" for c in carried)
        buf = np.frombuffer(prefix + text if prefix else text, dtype=np.uint8)
        fr = frame_lines(buf, self.max_line_bytes)
        n_new = len(fr) - len(carried)
        line_no = np.concatenate([
            np.array([c.line_no for c in carried], np.int64),
            np.arange(st.next_line_no, st.next_line_no + n_new, dtype=np.int64),
        ])
        st.next_line_no += n_new
        for i, c in enumerate(carried):
            if c.ts_us != NO_TS and fr.ts_us[i] == NO_TS:
                fr.ts_us[i] = c.ts_us
                fr.ts_source[i] = c.ts_source
        msgs = assemble(fr.kind, fr.frag_count, fr.frag_num, fr.seq_id, fr.channel,
                        fr.station_hash, fr.reason, self.max_gap_lines, line_no)
        keep = np.zeros(len(fr), bool)
        if final:
            fr.reason[msgs.open_lines] = R_MISSING
        else:
            keep[msgs.open_lines] = True
            if len(fr) and fr.kind[-1] == TIME_HEADER:
                keep[-1] = True
        st.carried = [
            CarriedLine(bytes(buf[fr.start[i]:fr.end[i]]), int(line_no[i]), int(fr.ts_us[i]),
                        int(fr.ts_source[i]))
            for i in np.flatnonzero(keep)
        ]
        batch = self._tables(buf, fr, msgs, line_no, arrival_ts_us)
        new = ~keep  # carried lines were not counted when they were held back
        batch.skipped = Counter({
            "blank": int(np.count_nonzero(new & (fr.kind == BLANK))),
            "comment": int(np.count_nonzero(new & (fr.kind == COMMENT))),
            "time_header": int(np.count_nonzero(new & (fr.kind == TIME_HEADER))),
        })
        batch.rejects = self._rejects(buf, fr, line_no)
        warned = fr.warning[new & (fr.kind == SENTENCE) & (fr.reason == 0) & (fr.warning != 0)]
        if len(warned):
            batch.warnings = Counter({REASON_NAMES[int(code)]: int(count) for code, count
                                      in enumerate(np.bincount(warned)) if count})
        return batch

    def _tables(self, buf: np.ndarray, fr: Frames, msgs, line_no: np.ndarray,  # type: ignore[no-untyped-def]
                arrival_ts_us: int | None) -> Batch:
        nm = len(msgs)
        if nm == 0:
            return Batch()
        payloads = gather_payloads(buf, msgs.line_start, msgs.lines, fr.payload_start,
                                   fr.payload_len, fr.fill_bits)
        first, ts, tss, ss, sl, ch = _message_meta(
            msgs.line_start, msgs.lines, fr.ts_us, fr.ts_source, fr.station_start,
            fr.station_len, fr.channel)
        if arrival_ts_us is not None:
            none = ts == NO_TS
            ts[none] = arrival_ts_us
            tss[none] = TS_ARRIVAL
        all_rows = np.arange(nm, dtype=np.int64)
        msg_type, repeat, mmsi, number, number_ok = _header(payloads, all_rows)
        # Message-level rejects mark every line of the message.
        bad = np.zeros(nm, np.int8)
        bad[(msg_type == 0) | (msg_type > 27)] = R_UNKNOWN_TYPE
        bad[payloads.nbits < layouts.MIN_BITS] = R_TRUNCATED
        if bad.any():
            counts = np.diff(msgs.line_start)
            fr.reason[msgs.lines] = np.where(np.repeat(bad, counts) != 0,
                                             np.repeat(bad, counts), fr.reason[msgs.lines])
        msg_type[bad != 0] = 0
        is24 = msg_type == 24
        part = np.where(is24 & number_ok & (number <= 1), number, -1)
        ctx = _Context(buf, payloads, msg_type, repeat, mmsi, line_no[first], ts, tss, ss, sl, ch,
                       part, self.source)
        # Undecoded types, and type 24 messages with no or an unknown part number, are kept raw.
        decoded = np.isin(msg_type, list(layouts.DECODED_TYPES)) & ~(is24 & (part < 0))
        other_rows = _rows((bad == 0) & ~decoded)
        return Batch(
            positions=_positions(ctx),
            static=_static(ctx),
            base_stations=_base_stations(ctx),
            aids_to_navigation=_aids(ctx),
            other_messages=_other(ctx, other_rows),
        )

    def _rejects(self, buf: np.ndarray, fr: Frames, line_no: np.ndarray) -> pl.DataFrame:
        rows = np.flatnonzero((fr.kind == REJECTED) | ((fr.kind == SENTENCE) & (fr.reason != 0)))
        if not len(rows):
            return pl.DataFrame(schema=TABLES["rejects"])
        starts = fr.start[rows]
        lengths = np.minimum(_raw_ends(buf, fr.start, rows) - starts, MAX_REJECT_BYTES)
        raw = slices(buf, starts, lengths, np.ones(len(rows), bool), binary=True)
        return _frame({
            "line_no": pa.array(line_no[rows], type=pa.int64()),
            "raw": raw,
            "reason": coded_strings(fr.reason[rows], _REASON_LOOKUP),
        }, "rejects", self.source)


def _raw_ends(buf: np.ndarray, line_starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """End of each line ``rows`` without its line ending (CR LF, LF or CR), blanks kept: rejects
    keep the bytes exactly as received."""
    starts = line_starts[rows]
    nxt = rows + 1
    ends = np.where(nxt < len(line_starts), line_starts[np.minimum(nxt, len(line_starts) - 1)],
                    len(buf)).astype(np.int64)
    has_lf = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 10)
    ends -= has_lf
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    return ends - has_cr


def decode_nmea(data: bytes, *, source: str = "-", arrival_ts_us: int | None = None) -> Batch:
    """Decode a whole NMEA text (bytes) at once. See :class:`NmeaDecoder`.

    Example:
        >>> batch = decode_nmea(b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C\\n")
        >>> batch.positions.select("mmsi", "msg_type").row(0)
        (366053209, 1)
    """
    decoder = NmeaDecoder(source)
    return Batch.concat([decoder.feed(data, arrival_ts_us), decoder.finish(arrival_ts_us)])
