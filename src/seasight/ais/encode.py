"""Encode SeaSight's tables back into AIS: armored payloads and ``!AIVDM`` sentences.

The inverse of :mod:`seasight.ais.decoder`, driven by the same bit layouts
(:mod:`seasight.ais.layouts`): every field a decoder reads is written from the column of the same
name, whole columns at a time. Used by the traffic simulator (:mod:`seasight.sim`) to write a
realistic feed, and by tests to make sentences with known content.

Supported messages: position reports of types 1, 2, 3 (class A), 18, 19 (class B) and 27 (long
range) from frames in the :data:`~seasight.model.schema.POSITIONS` schema; static reports of types
5,
19 and 24 parts A and B from frames in the :data:`~seasight.model.schema.STATIC` schema. A type 19
carries both position and static fields: each encoder takes the other half from the frame's
columns when present (e.g. a positions frame with ``shipname`` and ``ship_type`` columns), and
sends "not available" otherwise.

Value rules (what a decoder gives back):

* nulls become the field's "not available" value (``sog`` 102.3, ``heading`` 511, ``lat`` 91,
  ``second`` 60, ``nav_status`` 15, empty text, ...);
* scaled fields are rounded to their resolution (1/10 000 minute for positions, 0.1 kn, 0.1
  degree), angles wrapped to [0, 360), out-of-range values clipped to the range;
* ``rot_raw`` is sent as given; when it is missing but ``rot`` is there, the indicator is
  computed as ``4.733 * sqrt(|rot|)`` with the sign of ``rot``;
* text is upper-cased, characters outside the 6-bit AIS alphabet become ``?``, and it is cut to
  the field's length and padded with ``@``.

Sentences (:func:`sentences`): payloads of more than :data:`MAX_FRAGMENT_CHARS` characters (a
type 5) are split into fragments sharing a sequential message id (0-9, cycling per channel).
An optional NMEA 4.0 tag block ``\\s:station,c:unixtime*hh\\`` (with ``g:n-m-id`` on fragments)
carries the receiving station and the time in whole seconds. All checksums are computed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np
import polars as pl

from seasight.ais import layouts
from seasight.ais.layouts import Field

__all__ = [
    "MAX_FRAGMENT_CHARS",
    "MESSAGE_BITS",
    "Lines",
    "Payloads",
    "encode_positions",
    "encode_static",
    "payloads",
    "position_payloads",
    "sentences",
    "static_payloads",
    "to_sixbit_text",
]

#: Armored characters per sentence before a message is split into fragments (a full sentence
#: then stays within NMEA's 82 characters).
MAX_FRAGMENT_CHARS = 60

#: Length in bits of each encoded message, by (type, type 24 part number or 0).
MESSAGE_BITS: dict[tuple[int, int], int] = {
    (1, 0): 168, (2, 0): 168, (3, 0): 168, (18, 0): 168, (19, 0): 312, (27, 0): 96,
    (5, 0): 424, (24, 0): 160, (24, 1): 168,
}

POSITION_MESSAGE_TYPES = frozenset({1, 2, 3, 18, 19, 27})
STATIC_MESSAGE_TYPES = frozenset({5, 19, 24})

#: Constant bits that a layout does not name (flags every class B "CS" unit sends).
_CLASS_B_CS_FLAGS = (Field("cs", 141, 1), Field("display", 142, 1), Field("dsc", 143, 1),
                     Field("band", 144, 1), Field("msg22", 145, 1))
_CONSTANTS: dict[tuple[int, int], dict[str, int]] = {
    (18, 0): {"cs": 1, "band": 1, "msg22": 1},
}

#: Defaults for nulls in fields whose layout has no "not available" value.
_NULL_DEFAULTS = {"nav_status": 15, "second": 60}


def _layout(msg_type: int, part: int) -> tuple[Field, ...]:
    head = layouts.HEADER
    if msg_type in (1, 2, 3):
        return (*head, *layouts.POSITION_A)
    if msg_type == 18:
        return (*head, *layouts.POSITION_B, *_CLASS_B_CS_FLAGS)
    if msg_type == 19:
        return (*head, *layouts.POSITION_B_EXTENDED, *layouts.STATIC_B_EXTENDED)
    if msg_type == 27:
        return (*head, *layouts.POSITION_LONG_RANGE)
    if msg_type == 5:
        return (*head, *layouts.STATIC_VOYAGE)
    if msg_type == 24:
        return (*head, *(layouts.STATIC_B_PART_A if part == 0 else layouts.STATIC_B_PART_B))
    raise ValueError(f"cannot encode AIS message type {msg_type}")


# -- 6-bit text ------------------------------------------------------------------------------

_TEXT_CODE = np.full(256, 63, np.uint8)  # '?' for anything outside the alphabet
for _c in range(32, 64):
    _TEXT_CODE[_c] = _c
for _c in range(64, 96):
    _TEXT_CODE[_c] = _c - 64
for _c in range(97, 123):
    _TEXT_CODE[_c] = _c - 96  # lower case -> upper case
_TEXT_CODE[0] = 0  # padding


def to_sixbit_text(values: Sequence[str | None], nchar: int) -> np.ndarray:
    """6-bit codes (n, ``nchar``) of strings: upper-cased, cut, padded with ``@`` (code 0)."""
    uniq: dict[str | None, int] = {}
    index = np.fromiter((uniq.setdefault(v, len(uniq)) for v in values), np.int64,
                        count=len(values))
    raw = np.zeros((len(uniq), nchar), np.uint8)
    for v, i in uniq.items():
        if v:
            b = v.encode("latin-1", "replace")[:nchar]
            raw[i, : len(b)] = np.frombuffer(b, np.uint8)
    return _TEXT_CODE[raw][index]


# -- bit packing -----------------------------------------------------------------------------


def _put(six: np.ndarray, bit: int, width: int, raw: np.ndarray) -> None:
    """OR the ``width``-bit unsigned values ``raw`` into 6-bit characters at ``bit``."""
    end = bit + width
    for c in range(bit // 6, (end - 1) // 6 + 1):
        s, e = max(bit, 6 * c), min(end, 6 * c + 6)
        part = (raw >> np.uint64(end - e)) & np.uint64((1 << (e - s)) - 1)
        six[:, c] |= (part << np.uint64(6 * c + 6 - e)).astype(np.uint8)


def _column(frame: pl.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(values as float64 with nulls as 0, valid mask) of a numeric or boolean column."""
    if name not in frame.columns:
        return None
    s = frame[name]
    valid = s.is_not_null().to_numpy()
    if s.dtype == pl.Boolean:
        values = s.fill_null(False).cast(pl.Float64).to_numpy()
    else:
        values = s.cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
        valid &= np.isfinite(s.cast(pl.Float64).fill_null(0.0).to_numpy())
    return values, valid


def _raw_values(frame: pl.DataFrame, f: Field, constants: dict[str, int]) -> np.ndarray:
    """Raw (as transmitted, two's complement masked) values of field ``f`` for every row."""
    n = frame.height
    width_max = (1 << f.width) - 1
    if f.name in constants:
        return np.full(n, constants[f.name], np.uint64)
    col = _column(frame, f.name)
    if f.name == "rot_raw" and col is not None and "rot" in frame.columns:
        rot = _column(frame, "rot")
        assert rot is not None
        derived = np.copysign(np.minimum(np.round(4.733 * np.sqrt(np.abs(rot[0]))), 126), rot[0])
        col = (np.where(col[1], col[0], derived), col[1] | rot[1])
    elif f.name == "rot_raw" and col is None and "rot" in frame.columns:
        rot = _column(frame, "rot")
        assert rot is not None
        col = (np.copysign(np.minimum(np.round(4.733 * np.sqrt(np.abs(rot[0]))), 126), rot[0]),
               rot[1])
    if f.kind == "b":
        v = np.zeros(n, np.int64) if col is None else (col[0] != 0).astype(np.int64)
        return v.astype(np.uint64)
    if f.kind == "i":
        lo_w, hi_w = -(1 << (f.width - 1)), (1 << (f.width - 1)) - 1
    else:
        lo_w, hi_w = 0, width_max
    lo = f.lo if f.lo is not None else lo_w
    hi = f.hi if f.hi is not None else hi_w
    if f.na and f.na[0] == hi_w and f.hi is None:
        hi = hi_w - 1  # the top value means "not available"
    if f.na and f.na[0] == lo_w and f.lo is None:
        lo = lo_w + 1
    null = f.na[0] if f.na else _NULL_DEFAULTS.get(f.name, 0)
    if col is None:
        raw = np.full(n, null, np.int64)
    else:
        values, valid = col
        scaled = values * f.scale if f.scale else values
        r = np.round(scaled)
        if f.name in ("cog", "heading"):
            r = np.mod(r, hi + 1)
        r = np.clip(r, lo, hi).astype(np.int64)
        raw = np.where(valid, r, null)
    return (raw & width_max).astype(np.uint64)


@dataclass(frozen=True)
class Payloads:
    """Armored payloads of ``n`` messages.

    Attributes:
        chars: uint8 (n, width) ASCII armored characters, each row padded with zeros.
        nchars: int64 (n,) characters used in each row.
        fill_bits: int64 (n,) fill bits of each payload (0-5).
    """

    chars: np.ndarray
    nchars: np.ndarray
    fill_bits: np.ndarray

    def __len__(self) -> int:
        return len(self.nchars)

    def strings(self) -> list[str]:
        """The payloads as Python strings."""
        return [bytes(row[:k]).decode("ascii") for row, k in
                zip(self.chars, self.nchars.tolist(), strict=True)]

    def take(self, rows: np.ndarray) -> Payloads:
        """The payloads of messages ``rows``."""
        return Payloads(self.chars[rows], self.nchars[rows], self.fill_bits[rows])


    @staticmethod
    def concat(parts: Sequence[Payloads]) -> Payloads:
        """The payloads of ``parts``, in order."""
        width = max((p.chars.shape[1] for p in parts), default=0)
        chars = np.zeros((sum(len(p) for p in parts), width), np.uint8)
        o = 0
        for p in parts:
            chars[o:o + len(p), : p.chars.shape[1]] = p.chars
            o += len(p)
        return Payloads(chars, np.concatenate([p.nchars for p in parts]),
                        np.concatenate([p.fill_bits for p in parts]))


def _armor(six: np.ndarray) -> np.ndarray:
    return (six + 48 + 8 * (six >= 40)).astype(np.uint8)


def _pack_group(frame: pl.DataFrame, msg_type: int, part: int) -> tuple[np.ndarray, int]:
    nbits = MESSAGE_BITS[(msg_type, part)]
    nchars = -(-nbits // 6)
    six = np.zeros((frame.height, nchars), np.uint8)
    constants = {"msg_type": msg_type, **_CONSTANTS.get((msg_type, part), {})}
    if msg_type == 24:
        constants["part_num"] = part
    for f in _layout(msg_type, part):
        if f.kind == "t":
            nchar = f.width // 6
            col = frame[f.name].to_list() if f.name in frame.columns else [None] * frame.height
            codes = to_sixbit_text(col, nchar).astype(np.uint64)
            for j in range(nchar):
                _put(six, f.bit + 6 * j, 6, codes[:, j])
        else:
            _put(six, f.bit, f.width, _raw_values(frame, f, constants))
    return _armor(six), nchars * 6 - nbits


def payloads(frame: pl.DataFrame, *, dedupe: bool = True) -> Payloads:
    """Armored payloads of every row of ``frame`` by its ``msg_type`` (and ``part_num`` for
    type 24), in row order.

    ``dedupe``: rows that would encode identically (static reports repeat every few minutes) are
    packed once; the result is the same either way.

    Raises:
        ValueError: a row's message type cannot be encoded, or ``msg_type`` is missing.
    """
    if "msg_type" not in frame.columns:
        raise ValueError("payloads: the frame has no msg_type column")
    n = frame.height
    mt = frame["msg_type"].fill_null(0).cast(pl.Int64).to_numpy()
    part = (frame["part_num"].fill_null(0).cast(pl.Int64).to_numpy()
            if "part_num" in frame.columns else np.zeros(n, np.int64))
    part = np.where(mt == 24, part, 0)
    kinds = {(int(k) // 4, int(k) % 4) for k in np.unique(mt * 4 + np.clip(part, 0, 3))}
    bad = sorted(kinds - set(MESSAGE_BITS))
    if bad:
        raise ValueError(f"cannot encode AIS message type(s) {bad}")
    groups: list[tuple[np.ndarray, np.ndarray, int]] = []
    for t in np.unique(mt).tolist():
        for p in (np.unique(part[mt == t]).tolist() if t == 24 else [0]):
            rows = np.flatnonzero((mt == t) & (part == p))
            sub = frame[rows]
            if dedupe and len(rows) > 1:
                cols = [c for c in sub.columns if c in _payload_columns(t, p)]
                key = sub.select(cols).hash_rows(seed=7).to_numpy()
                _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
                packed, nfill = _pack_group(sub[first], t, p)
                packed = packed[inverse.ravel()]
            else:
                packed, nfill = _pack_group(sub, t, p)
            groups.append((rows, packed, nfill))
    width = max((g[1].shape[1] for g in groups), default=0)
    chars = np.zeros((n, width), np.uint8)
    nchars = np.zeros(n, np.int64)
    fill = np.zeros(n, np.int64)
    for rows, packed, nfill in groups:
        chars[rows, : packed.shape[1]] = packed
        nchars[rows] = packed.shape[1]
        fill[rows] = nfill
    return Payloads(chars, nchars, fill)


def _payload_columns(msg_type: int, part: int) -> set[str]:
    names = {f.name for f in _layout(msg_type, part)}
    if "rot_raw" in names:
        names.add("rot")
    return names


def position_payloads(frame: pl.DataFrame) -> Payloads:
    """Payloads of a POSITIONS-schema frame (types 1, 2, 3, 18, 19, 27)."""
    _check_types(frame, POSITION_MESSAGE_TYPES, "position")
    return payloads(frame, dedupe=False)


def static_payloads(frame: pl.DataFrame) -> Payloads:
    """Payloads of a STATIC-schema frame (types 5, 19, 24 parts A and B)."""
    _check_types(frame, STATIC_MESSAGE_TYPES, "static")
    return payloads(frame, dedupe=True)


def _check_types(frame: pl.DataFrame, allowed: frozenset[int], what: str) -> None:
    if "msg_type" not in frame.columns:
        raise ValueError(f"{what} frame has no msg_type column")
    got = set(frame["msg_type"].drop_nulls().unique().to_list())
    if frame["msg_type"].null_count() or got - allowed:
        raise ValueError(f"{what} frame holds message types {sorted(got - allowed)} "
                         f"(or nulls); supported: {sorted(allowed)}")


# -- sentences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lines:
    """Lines of NMEA text in one buffer: line ``i`` is ``buf[offsets[i]:offsets[i + 1]]``,
    newline included; ``message[i]`` is the row of the message it belongs to (-1 for none)."""

    buf: np.ndarray
    offsets: np.ndarray
    message: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def to_bytes(self) -> bytes:
        """The whole text."""
        return self.buf.tobytes()

    def strings(self) -> list[str]:
        """Each line without its newline."""
        text = self.buf.tobytes().decode("latin-1")
        o = self.offsets.tolist()
        return [text[a : b - 1] for a, b in itertools.pairwise(o)]

    def take(self, rows: np.ndarray) -> Lines:
        """Lines ``rows`` (any order, repeats allowed)."""
        rows = np.asarray(rows, np.int64)
        starts = self.offsets[rows]
        lens = self.offsets[rows + 1] - starts
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        return Lines(_gather(self.buf, starts, lens, offsets), offsets, self.message[rows])

    @staticmethod
    def concat(parts: Sequence[Lines]) -> Lines:
        """All lines of ``parts``, in order (message rows are kept as they are)."""
        if not parts:
            return Lines(np.zeros(0, np.uint8), np.zeros(1, np.int64), np.zeros(0, np.int64))
        shifts = np.cumsum([0] + [len(p.buf) for p in parts[:-1]])
        offsets = np.concatenate([parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in
                                                           zip(parts, shifts, strict=True)])
        return Lines(np.concatenate([p.buf for p in parts]), offsets.astype(np.int64),
                     np.concatenate([p.message for p in parts]))

    @staticmethod
    def from_strings(lines: Sequence[str], message: np.ndarray | None = None) -> Lines:
        """Lines from Python strings (a newline is added to each)."""
        data = [(s + "\n").encode("latin-1") for s in lines]
        offsets = np.concatenate([[0], np.cumsum([len(d) for d in data])]).astype(np.int64)
        buf = np.frombuffer(b"".join(data), np.uint8).copy()
        msg = np.full(len(lines), -1, np.int64) if message is None else np.asarray(message)
        return Lines(buf, offsets, msg.astype(np.int64))


@nb.njit(cache=True, nogil=True)
def _gather(buf, starts, lens, offsets):  # type: ignore[no-untyped-def]
    out = np.empty(offsets[-1], np.uint8)
    for i in range(len(starts)):
        a = starts[i]
        o = offsets[i]
        for k in range(lens[i]):
            out[o + k] = buf[a + k]
    return out


_HEX = np.frombuffer(b"0123456789ABCDEF", np.uint8)


@nb.njit(cache=True, inline="always")
def _ndigits(v):  # type: ignore[no-untyped-def]
    d = 1
    while v >= 10:
        v //= 10
        d += 1
    return d


@nb.njit(cache=True, inline="always")
def _put_uint(out, o, v):  # type: ignore[no-untyped-def]
    """Write the decimal digits of ``v`` >= 0 at ``out[o:]``; return the offset after them."""
    d = _ndigits(v)
    for k in range(d - 1, -1, -1):
        out[o + k] = 48 + v % 10
        v //= 10
    return o + d


@nb.njit(cache=True, nogil=True)
def _write_lines(  # type: ignore[no-untyped-def]
    chars, nchars, fill, line_msg, frag_num, frag_count, seq, channel, talker,
    ts, st_index, st_bytes, st_len, group, max_chars, hexd,
):
    """Write every line (two passes: lengths, then bytes); ``line_msg`` gives each line's
    payload row. ts < 0: no ``c:``; st_index < 0: no ``s:``; both absent: no tag block.
    group >= 0 adds ``g:num-count-group``."""
    n = len(line_msg)
    lens = np.empty(n, np.int64)
    for i in range(n):
        m = line_msg[i]
        k = min(max_chars, nchars[m] - (frag_num[i] - 1) * max_chars)
        ln = 1 + 2 + 4 + 2 + 2 + (1 if seq[i] >= 0 else 0) + 1 + (1 if channel[i] else 0) + 1
        ln += k + 1 + 1 + 3 + 1  # payload, ",fill*hh\n"
        tb = 0
        if ts[i] >= 0 or st_index[i] >= 0 or group[i] >= 0:
            tb = 2 + 3  # backslashes, "*hh"
            nf = 0
            if st_index[i] >= 0:
                tb += 2 + st_len[st_index[i]]
                nf += 1
            if ts[i] >= 0:
                tb += 2 + _ndigits(ts[i])
                nf += 1
            if group[i] >= 0:
                tb += 2 + 1 + 1 + 1 + 1 + _ndigits(group[i])
                nf += 1
            tb += nf - 1
        lens[i] = ln + tb
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + lens[i]
    out = np.empty(offsets[n], np.uint8)
    for i in range(n):
        o = offsets[i]
        m = line_msg[i]
        if ts[i] >= 0 or st_index[i] >= 0 or group[i] >= 0:
            out[o] = 92  # backslash
            o += 1
            a = o
            first = True
            if st_index[i] >= 0:
                out[o] = 115  # s
                out[o + 1] = 58
                o += 2
                s = st_index[i]
                for k in range(st_len[s]):
                    out[o + k] = st_bytes[s, k]
                o += st_len[s]
                first = False
            if ts[i] >= 0:
                if not first:
                    out[o] = 44
                    o += 1
                out[o] = 99  # c
                out[o + 1] = 58
                o = _put_uint(out, o + 2, ts[i])
                first = False
            if group[i] >= 0:
                if not first:
                    out[o] = 44
                    o += 1
                out[o] = 103  # g
                out[o + 1] = 58
                out[o + 2] = 48 + frag_num[i]
                out[o + 3] = 45
                out[o + 4] = 48 + frag_count[i]
                out[o + 5] = 45
                o = _put_uint(out, o + 6, group[i])
            cs = 0
            for k in range(a, o):
                cs ^= out[k]
            out[o] = 42
            out[o + 1] = hexd[cs >> 4]
            out[o + 2] = hexd[cs & 15]
            out[o + 3] = 92
            o += 4
        out[o] = 33  # !
        o += 1
        a = o
        out[o] = talker[0]
        out[o + 1] = talker[1]
        out[o + 2] = 86  # V
        out[o + 3] = 68  # D
        out[o + 4] = 77  # M
        out[o + 5] = 44
        out[o + 6] = 48 + frag_count[i]
        out[o + 7] = 44
        out[o + 8] = 48 + frag_num[i]
        out[o + 9] = 44
        o += 10
        if seq[i] >= 0:
            out[o] = 48 + seq[i]
            o += 1
        out[o] = 44
        o += 1
        if channel[i]:
            out[o] = channel[i]
            o += 1
        out[o] = 44
        o += 1
        start = (frag_num[i] - 1) * max_chars
        k = min(max_chars, nchars[m] - start)
        for j in range(k):
            out[o + j] = chars[m, start + j]
        o += k
        out[o] = 44
        out[o + 1] = 48 + (fill[m] if frag_num[i] == frag_count[i] else 0)
        o += 2
        cs = 0
        for j in range(a, o):
            cs ^= out[j]
        out[o] = 42
        out[o + 1] = hexd[cs >> 4]
        out[o + 2] = hexd[cs & 15]
        out[o + 3] = 10
    return out, offsets


def sentences(
    payloads: Payloads,
    *,
    ts_s: np.ndarray | None = None,
    station: Sequence[str | None] | str | None = None,
    station_index: np.ndarray | None = None,
    station_names: Sequence[str] = (),
    channel: Sequence[str] | np.ndarray | str = "A",
    talker: str = "AI",
    seq_start: int = 0,
    group_start: int = 1,
    max_chars: int = MAX_FRAGMENT_CHARS,
    rows: np.ndarray | None = None,
) -> Lines:
    """NMEA lines of ``payloads``, fragments of one message on consecutive lines.

    Args:
        payloads: from :func:`payloads` / :func:`position_payloads` / :func:`static_payloads`.
        ts_s: per message unix time in whole seconds for the tag block ``c:`` field (negative:
            none), or None for no time.
        station: per message station names (or one for all) for the tag block ``s:`` field;
            None / empty for none. A message with neither time nor station gets no tag block.
        station_index: instead of ``station``, per message an index into ``station_names``
            (-1 for none): faster for millions of messages.
        station_names: the station names ``station_index`` points into.
        channel: ``A``/``B`` per message or for all (empty string for none), or an array of
            character codes (0 for none).
        talker: the two-character talker (``AI``, ``AB``, ``BS``, ...).
        seq_start: sequential message id of the first multi-fragment message; ids then
            cycle 0-9 per channel.
        group_start: tag block group id (``g:``) of the first multi-fragment message.
        max_chars: armored characters per fragment.
        rows: the messages are ``payloads`` rows ``rows`` (repeats allowed, e.g. one message
            heard by several stations), instead of every row once; the per-message arguments
            and :attr:`Lines.message` then follow ``rows``.
    """
    prow = np.arange(len(payloads), dtype=np.int64) if rows is None else \
        np.asarray(rows, np.int64)
    n = len(prow)
    if len(talker) != 2:
        raise ValueError("talker must be two characters")
    nfrag = np.maximum(1, -(-payloads.nchars[prow] // max_chars))
    if nfrag.max(initial=1) > 9:
        raise ValueError("a message needs more than 9 fragments")
    line_msg = np.repeat(np.arange(n, dtype=np.int64), nfrag)
    first_line = np.cumsum(nfrag) - nfrag
    frag_num = (np.arange(len(line_msg)) - np.repeat(first_line, nfrag) + 1).astype(np.int64)
    frag_count = np.repeat(nfrag, nfrag).astype(np.int64)
    # channels
    if isinstance(channel, str):
        ch = np.full(n, ord(channel) if channel else 0, np.uint8)
    elif isinstance(channel, np.ndarray) and channel.dtype.kind in "iu":
        ch = channel.astype(np.uint8)
    else:
        ch = np.array([ord(c) if c else 0 for c in channel], np.uint8)
    multi = nfrag > 1
    seq_msg = np.full(n, -1, np.int64)
    grp_msg = np.full(n, -1, np.int64)
    for c in np.unique(ch[multi]).tolist():
        rows = np.flatnonzero(multi & (ch == c))
        seq_msg[rows] = (seq_start + np.arange(len(rows))) % 10
    grp_msg[multi] = group_start + np.arange(int(multi.sum()))
    # tag blocks
    ts_line = np.full(len(line_msg), -1, np.int64)
    if ts_s is not None:
        ts_line = np.asarray(ts_s, np.int64)[line_msg]
    names: list[str] = []
    st_msg = np.full(n, -1, np.int64)
    if station_index is not None:
        names = list(station_names)
        st_msg = np.asarray(station_index, np.int64)
        if len(st_msg) != n or (st_msg >= len(names)).any():
            raise ValueError("station_index must give each message an index into station_names")
    elif isinstance(station, str):
        if station:
            names = [station]
            st_msg[:] = 0
    elif station is not None:
        index: dict[str, int] = {}
        st_msg = np.fromiter((index.setdefault(s, len(index)) if s else -1 for s in station),
                             np.int64, count=n)
        names = list(index)
    st_len = np.array([len(s.encode("ascii")) for s in names] or [0], np.int64)
    st_bytes = np.zeros((max(len(names), 1), int(st_len.max(initial=1)) or 1), np.uint8)
    for i, s in enumerate(names):
        if any(c in s for c in ",*\\"):
            raise ValueError(f"station name {s!r} holds a tag block delimiter")
        st_bytes[i, : len(s)] = np.frombuffer(s.encode("ascii"), np.uint8)
    st_line = st_msg[line_msg]
    has_tag = (ts_line >= 0) | (st_line >= 0)
    group_line = np.where(has_tag, grp_msg[line_msg], -1)
    buf, offsets = _write_lines(
        payloads.chars, payloads.nchars, payloads.fill_bits, prow[line_msg], frag_num,
        frag_count,
        seq_msg[line_msg], ch[line_msg], np.frombuffer(talker.encode("ascii"), np.uint8),
        ts_line, st_line, st_bytes, st_len, group_line, max_chars, _HEX)
    return Lines(buf, offsets, line_msg)


def _tag_columns(frame: pl.DataFrame, tag_block: bool) -> dict[str, object]:
    kw: dict[str, object] = {}
    if tag_block and "ts" in frame.columns:
        ts = frame["ts"].dt.epoch("s").fill_null(-1).to_numpy()
        kw["ts_s"] = ts
    if tag_block and "station" in frame.columns:
        kw["station"] = frame["station"].to_list()
    if "channel" in frame.columns:
        kw["channel"] = frame["channel"].fill_null("A").to_list()
    return kw


def encode_positions(frame: pl.DataFrame, *, tag_block: bool = True, talker: str = "AI",
                     seq_start: int = 0) -> Lines:
    """``!AIVDM`` lines of a POSITIONS-schema frame, one message per row in row order.

    With ``tag_block``, the tag block carries ``ts`` (whole seconds) and ``station`` when the
    frame has them; ``channel`` is taken from the frame (``A`` when missing).
    """
    return sentences(position_payloads(frame), talker=talker, seq_start=seq_start,
                     **_tag_columns(frame, tag_block))  # type: ignore[arg-type]


def encode_static(frame: pl.DataFrame, *, tag_block: bool = True, talker: str = "AI",
                  seq_start: int = 0) -> Lines:
    """``!AIVDM`` lines of a STATIC-schema frame (a type 5 as two fragments), in row order.
    See :func:`encode_positions` for the tag block."""
    return sentences(static_payloads(frame), talker=talker, seq_start=seq_start,
                     **_tag_columns(frame, tag_block))  # type: ignore[arg-type]
