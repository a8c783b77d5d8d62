"""Framing: split a buffer of NMEA text into lines and parse each AIS sentence's envelope.

One compiled pass over the bytes does what a per-line Python parser would do, at memory speed:

* NMEA 0183 ``!ccVDM`` / ``!ccVDO`` sentences with any two-character talker (AI, AB, BS, SA, ...),
  the checksum verified;
* NMEA 4.0 tag blocks before the sentence, ``\\s:station,c:unixtime,g:1-2-42*hh\\``, their own
  checksum verified; a tag block that fails its check does not cost a sentence whose own
  checksum is right: the sentence is framed, the block's fields that parse are used, and the line
  carries a warning (``tagblock_checksum`` or ``bad_tagblock``) and ``ts_source``
  ``tagblock_unverified``;
* a receive time written by a logger before the sentence (or its tag block), separated by blanks
  or a comma: unix time in seconds, milliseconds, microseconds or nanoseconds (the unit inferred
  from the number of integer digits, see :func:`_unix_digits_to_us`; decimals allowed) or ISO
  8601 (``2019-02-16T07:52:46.167Z``, ``T`` or a blank between date and time, ``Z``, ``+hh:mm``
  or no offset, which means UTC);
* Gatehouse ``$PGHP,1,yyyy,mm,dd,hh,mm,ss,ms,...*hh`` lines, whose time applies to the next
  sentence;
* USCG / aishub trailing metadata after the checksum (``,d-98,S0,t...,r003669946,1325394060``,
  ``,raishub,1342569600``): a station field (``r``/``b``/``D`` prefix or plain text) and the first
  unix time.

Lines end at LF, CR LF or a lone CR (Python's universal newlines).

Nothing here allocates per line: results are written into preallocated column arrays
(:class:`Frames`), with a reject reason code (``seasight.model.rejects``) for lines that fail.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numba as nb
import numpy as np

from seasight.model.rejects import REASON_CODES

NO_TS = np.iinfo(np.int64).min

# Line kinds.
BLANK = 0
COMMENT = 1
SENTENCE = 2
REJECTED = 3
TIME_HEADER = 4  # a Gatehouse $PGHP line: its time is carried to the next sentence

# Timestamp sources (indices into seasight.model.schema.TS_SOURCES).
TS_TAGBLOCK = 0
TS_LINE = 1
TS_CSV = 2
TS_ARRIVAL = 3
TS_NONE = 4
TS_TAGBLOCK_UNVERIFIED = 5

#: Longest line accepted, in bytes: a full sentence is at most 82 characters, tag blocks and
#: receiver metadata add a few hundred at most.
MAX_LINE_BYTES = 1024

R_BAD_CHECKSUM = REASON_CODES["bad_checksum"]
R_MALFORMED = REASON_CODES["malformed_sentence"]
R_BAD_CHAR = REASON_CODES["bad_character"]
R_OVERSIZE = REASON_CODES["oversize_line"]
R_BAD_PAYLOAD = REASON_CODES["bad_payload"]
R_BAD_FILL = REASON_CODES["bad_fill_bits"]
R_BAD_FRAGMENT = REASON_CODES["bad_fragment_number"]
R_BAD_TAGBLOCK = REASON_CODES["bad_tagblock"]
R_EMPTY_PAYLOAD = REASON_CODES["empty_payload"]
R_UNSUPPORTED = REASON_CODES["unsupported_sentence"]
R_BAD_TIMESTAMP = REASON_CODES["bad_timestamp"]
R_TAGBLOCK_CHECKSUM = REASON_CODES["tagblock_checksum"]

#: A receive-time prefix is taken as a time only between these (1990-01-01 and 2100-01-01, in
#: microseconds); another number before a sentence (a line counter, say) is not a time.
PREFIX_MIN_US = 631_152_000_000_000
PREFIX_MAX_US = 4_102_444_800_000_000


@dataclass
class Frames:
    """Per-line results of :func:`frame_lines`; every array has one entry per line."""

    start: np.ndarray  # int64: first byte of the line
    end: np.ndarray  # int64: one past the last byte, without CR/LF and trailing blanks
    kind: np.ndarray  # int8: BLANK, COMMENT, SENTENCE, REJECTED, TIME_HEADER
    reason: np.ndarray  # int8: reject reason code, 0 if none
    frag_count: np.ndarray  # int8
    frag_num: np.ndarray  # int8
    seq_id: np.ndarray  # int8, -1 when empty
    channel: np.ndarray  # uint8 character, 0 when empty
    payload_start: np.ndarray  # int64
    payload_len: np.ndarray  # int32
    fill_bits: np.ndarray  # int8
    ts_us: np.ndarray  # int64, NO_TS when unknown
    ts_source: np.ndarray  # int8, TS_* code
    station_start: np.ndarray  # int64
    station_len: np.ndarray  # int32, 0 when unknown
    station_hash: np.ndarray  # int64: station of multi-fragment sentences, 0 when unknown
    warning: np.ndarray  # int8: reason code of a problem a framed sentence has, 0 if none

    def __len__(self) -> int:
        return len(self.start)


@nb.njit(cache=True, inline="always")
def _hex_value(c: int) -> int:
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@nb.njit(cache=True, nogil=True)
def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@nb.njit(cache=True, nogil=True)
def civil_to_us(y: int, mo: int, d: int, h: int, mi: int, s: int, ms: int) -> int:
    """UTC microseconds since the epoch of a calendar time; NO_TS when out of range."""
    if y < 1970 or y > 2200 or mo < 1 or mo > 12 or d < 1 or d > 31:
        return NO_TS
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if d > 30 + ((mo + (mo >= 8)) & 1) - (mo == 2) * (2 - leap):
        return NO_TS  # no such day in that month
    if h > 23 or mi > 59 or s > 60 or ms > 999:
        return NO_TS
    days = _days_from_civil(y, mo, d)
    return ((days * 86400 + h * 3600 + mi * 60 + s) * 1000 + ms) * 1000


@nb.njit(cache=True, nogil=True)
def civil_times_us(y, mo, d, h, mi, s):  # type: ignore[no-untyped-def]
    """Vectorised :func:`civil_to_us` over int64 arrays; NO_TS where a date is impossible."""
    out = np.empty(len(y), np.int64)
    for i in range(len(y)):
        out[i] = civil_to_us(y[i], mo[i], d[i], h[i], mi[i], s[i], 0)
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _unix_digits_to_us(buf: np.ndarray, a: int, b: int) -> int:
    """Parse buf[a:b] as a unix time, optionally with a ``.fraction``, in microseconds.

    The unit is inferred from the number of integer digits: up to 10 seconds (until 2286), 11-13
    milliseconds, 14-16 microseconds, 17-19 nanoseconds. NO_TS when it is not such a number.
    """
    if b <= a or b - a > 40:
        return NO_TS
    v = 0
    nd = 0
    frac = 0
    frac_scale = 1
    in_frac = False
    for k in range(a, b):
        c = buf[k]
        if 48 <= c <= 57:
            if in_frac:
                if frac_scale < 1_000_000_000:
                    frac = frac * 10 + (c - 48)
                    frac_scale *= 10
            else:
                if nd == 0 and c == 48 and k + 1 < b and 48 <= buf[k + 1] <= 57:
                    continue  # leading zeros do not count as digits
                if nd == 18 and v >= 922_337_203_685_477_580:  # would overflow int64
                    return NO_TS
                v = v * 10 + (c - 48)
                nd += 1
        elif c == 46 and not in_frac:  # '.'
            in_frac = True
        else:
            return NO_TS
    if nd == 0 or nd > 19:
        return NO_TS
    if nd <= 10:  # seconds
        return v * 1_000_000 + (frac * 1_000_000) // frac_scale
    if nd <= 13:  # milliseconds
        return v * 1000 + (frac * 1000) // frac_scale
    if nd <= 16:  # microseconds
        return v + frac // frac_scale
    return v // 1000  # nanoseconds


@nb.njit(cache=True, nogil=True)
def _fnv1a(buf, a, b):  # type: ignore[no-untyped-def]
    h = np.uint64(14695981039346656037)
    for k in range(a, b):
        h = (h ^ np.uint64(buf[k])) * np.uint64(1099511628211)
    return np.int64(h)


_SIXBIT_OK = np.zeros(256, np.bool_)
_SIXBIT_OK[48:88] = True  # '0'..'W'
_SIXBIT_OK[96:120] = True  # '`'..'w'


@nb.njit(cache=True, inline="always")
def _has_bad_char(buf, a, b):  # type: ignore[no-untyped-def]
    for k in range(a, b):  # noqa: SIM110 - compiled by numba, which has no generator any()
        if buf[k] < 32 or buf[k] > 126:
            return True
    return False


@nb.njit(cache=True, nogil=True)
def _parse_tagblock(buf, a, b, out_i):  # type: ignore[no-untyped-def]
    """Parse the tag block between buf[a] (after '\\') and buf[b] (the closing '\\').

    Writes into out_i: [status, ts_us, station_start, station_len]. status is 0 when the block
    is verified, else the reason code of what is wrong (R_TAGBLOCK_CHECKSUM: its checksum does
    not match; R_BAD_TAGBLOCK: no ``*hh`` or a field that does not parse). The fields that parse
    are written in every case.
    """
    out_i[0] = 0
    out_i[1] = NO_TS
    out_i[2] = 0
    out_i[3] = 0
    star = -1
    cs = 0
    for k in range(a, b):
        if buf[k] == 42:  # '*'
            star = k
            break
        cs ^= buf[k]
    fields_end = b if star < 0 else star
    if star < 0 or star + 3 != b:
        out_i[0] = R_BAD_TAGBLOCK
    else:
        h1 = _hex_value(buf[star + 1])
        h2 = _hex_value(buf[star + 2])
        if h1 < 0 or h2 < 0:
            out_i[0] = R_BAD_TAGBLOCK
        elif h1 * 16 + h2 != cs:
            out_i[0] = R_TAGBLOCK_CHECKSUM
    k = a
    while k < fields_end:
        e = k
        while e < fields_end and buf[e] != 44:  # ','
            e += 1
        if e - k >= 2 and buf[k + 1] == 58:  # 'x:'
            key = buf[k]
            if key == 99:  # 'c'
                ts = _unix_digits_to_us(buf, k + 2, e)
                if ts == NO_TS:
                    out_i[0] = R_BAD_TAGBLOCK
                else:
                    out_i[1] = ts
            elif key == 115:  # 's'
                out_i[2] = k + 2
                out_i[3] = e - (k + 2)
        elif e > k:
            out_i[0] = R_BAD_TAGBLOCK
        k = e + 1


@nb.njit(cache=True, nogil=True, inline="always")
def _digits(buf, k, e, count):  # type: ignore[no-untyped-def]
    """The value of ``count`` decimal digits at buf[k:], -1 if they are not all digits."""
    if k + count > e:
        return -1
    v = 0
    for j in range(k, k + count):
        c = buf[j]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@nb.njit(cache=True, nogil=True)
def _iso_time(buf, a, e):  # type: ignore[no-untyped-def]
    """An ISO 8601 time at buf[a:] (``yyyy-mm-dd``, ``T`` or a blank, ``hh:mm:ss``, optional
    ``.fraction`` or ``,fraction``, optional ``Z`` or ``+hh:mm`` / ``+hhmm`` / ``+hh``; no offset
    means UTC). Returns (index after it, microseconds since the epoch); the index is -1 when
    there is no such time, the time NO_TS when the date or time is impossible."""
    y = _digits(buf, a, e, 4)
    mo = _digits(buf, a + 5, e, 2)
    d = _digits(buf, a + 8, e, 2)
    if y < 0 or mo < 0 or d < 0 or buf[a + 4] != 45 or buf[a + 7] != 45 or a + 10 >= e:
        return -1, NO_TS
    sep = buf[a + 10]
    if sep != 84 and sep != 32:  # 'T' or ' '
        return -1, NO_TS
    k = a + 11
    h = _digits(buf, k, e, 2)
    mi = _digits(buf, k + 3, e, 2)
    sec = _digits(buf, k + 6, e, 2)
    if h < 0 or mi < 0 or sec < 0 or buf[k + 2] != 58 or buf[k + 5] != 58:
        return -1, NO_TS
    k += 8
    frac = 0
    scale = 1
    if k + 1 < e and (buf[k] == 46 or buf[k] == 44) and 48 <= buf[k + 1] <= 57:
        k += 1
        while k < e and 48 <= buf[k] <= 57:
            if scale < 1_000_000:
                frac = frac * 10 + (buf[k] - 48)
                scale *= 10
            k += 1
    offset_s = 0
    if k < e and buf[k] == 90:  # 'Z'
        k += 1
    elif k < e and (buf[k] == 43 or buf[k] == 45):  # '+' or '-'
        sign = 1 if buf[k] == 43 else -1
        oh = _digits(buf, k + 1, e, 2)
        if oh < 0:
            return -1, NO_TS
        k += 3
        om = 0
        if k < e and buf[k] == 58:
            om = _digits(buf, k + 1, e, 2)
            k += 3
        elif _digits(buf, k, e, 2) >= 0:
            om = _digits(buf, k, e, 2)
            k += 2
        if om < 0 or oh > 23 or om > 59:
            return -1, NO_TS
        offset_s = sign * (oh * 3600 + om * 60)
    t = civil_to_us(y, mo, d, h, mi, sec, 0)
    if t == NO_TS:
        return k, NO_TS
    return k, t + (frac * 1_000_000) // scale - offset_s * 1_000_000


@nb.njit(cache=True, nogil=True)
def _receive_time(buf, a, e):  # type: ignore[no-untyped-def]
    """A logger's receive time before a sentence: ``1550303566167726840 !AIVDM,...``.

    buf[a] is a digit. The time (unix time, unit by its digits, see :func:`_unix_digits_to_us`,
    or ISO 8601, see :func:`_iso_time`) is followed by blanks or by a comma (and blanks), then by
    ``!`` or a tag block's ``\\``. Returns (index of that ``!`` or ``\\``, time, whether the
    time is plausible: see PREFIX_MIN_US); the index is -1 when the line has no such prefix.
    """
    k = a
    while k < e and 48 <= buf[k] <= 57:
        k += 1
    if k - a == 4 and k < e and buf[k] == 45:  # 'yyyy-': ISO 8601
        k, t = _iso_time(buf, a, e)
        if k < 0:
            return -1, NO_TS, False
    else:
        if k < e and buf[k] == 46:  # '.': decimals
            k += 1
            while k < e and 48 <= buf[k] <= 57:
                k += 1
        t = _unix_digits_to_us(buf, a, k)
    # the separator: blanks, or a comma and blanks
    s = k
    if k < e and buf[k] == 44:
        k += 1
    while k < e and (buf[k] == 32 or buf[k] == 9):
        k += 1
    if k == s or k >= e or (buf[k] != 33 and buf[k] != 92):  # '!' or '\\'
        return -1, NO_TS, False
    ok = t != NO_TS and PREFIX_MIN_US <= t < PREFIX_MAX_US
    return k, t, ok


@nb.njit(cache=True, nogil=True)
def _parse_gatehouse(buf, a, b):  # type: ignore[no-untyped-def]
    """Time of a ``$PGHP,1,yyyy,mm,dd,hh,mm,ss,ms,...*hh`` line.

    NO_TS when the line is not one, -2 on a checksum mismatch, -1 when its fields are bad.
    """
    # buf[a] == '$'; check "PGHP,1,"
    if b - a < 8:
        return NO_TS
    if not (buf[a + 1] == 80 and buf[a + 2] == 71 and buf[a + 3] == 72 and buf[a + 4] == 80):
        return NO_TS
    star = -1
    cs = 0
    for k in range(a + 1, b):
        if buf[k] == 42:
            star = k
            break
        cs ^= buf[k]
    if star < 0 or star + 3 > b:
        return -1
    h1 = _hex_value(buf[star + 1])
    h2 = _hex_value(buf[star + 2])
    if h1 < 0 or h2 < 0:
        return -1
    if h1 * 16 + h2 != cs:
        return -2
    vals = np.zeros(9, np.int64)
    nf = 0
    k = a + 6  # after "$PGHP,"
    while k < star and nf < 9:
        e = k
        v = 0
        while e < star and buf[e] != 44:
            c = buf[e]
            if c < 48 or c > 57:
                return -1
            v = v * 10 + (c - 48)
            e += 1
        if e == k:
            return -1
        vals[nf] = v
        nf += 1
        k = e + 1
    if nf < 8 or vals[0] != 1:
        return -1
    ms = vals[7] if vals[7] < 1000 else 0
    ts = civil_to_us(vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], ms)
    if ts == NO_TS:
        return -1
    return ts


@nb.njit(cache=True, inline="always")
def _fast_tagblock(buf, a):  # type: ignore[no-untyped-def]
    """One pass over a well-formed tag block body starting at ``a`` (after the backslash):
    checksum, ``c:`` time and ``s:`` station. Returns (index of the closing backslash, time,
    station start, station length); the index is -1 for anything unusual (left to the general
    path). Only scalars cross the call: passing arrays costs reference counting per line."""
    n = len(buf)
    q = a
    cs = 0
    field = a
    ts = NO_TS
    st_s = 0
    st_l = 0
    while q < n:
        c = buf[q]
        if c == 42 or c == 44:  # '*' or ',' ends a field
            if q - field >= 2 and buf[field + 1] == 58:
                key = buf[field]
                if key == 99:  # 'c'
                    ts = _unix_digits_to_us(buf, field + 2, q)
                    if ts == NO_TS:
                        return -1, ts, st_s, st_l
                elif key == 115:  # 's'
                    st_s = field + 2
                    st_l = q - field - 2
            elif q > field:
                return -1, ts, st_s, st_l
            if c == 42:
                break
            field = q + 1
        elif c < 32 or c > 126 or c == 92:
            return -1, ts, st_s, st_l
        cs ^= c
        q += 1
    if q + 3 >= n or buf[q + 3] != 92:
        return -1, ts, st_s, st_l
    h1 = _hex_value(buf[q + 1])
    h2 = _hex_value(buf[q + 2])
    if h1 < 0 or h2 < 0 or h1 * 16 + h2 != cs:
        return -1, ts, st_s, st_l
    return q + 3, ts, st_s, st_l


@nb.njit(cache=True, inline="always")
def _fast_sentence(buf, pos):  # type: ignore[no-untyped-def]
    """One pass over a well-formed ``[receive time ][\\tagblock\\]!ccVDM,...*hh`` line, the
    common case.

    Returns (start of the next line, end of this line, fragment count, fragment number,
    sequence id, channel, payload start, payload length, fill bits, time, time source, station
    start, station length). The next line's start is -1 when the line needs the general
    (slower) path: anything unusual, including every kind of error, goes there, so results are
    identical.
    """
    n = len(buf)
    p = pos
    ts = NO_TS
    tss = TS_NONE
    st_s = 0
    st_l = 0
    fail = (-1, 0, 0, 0, 0, 0, 0, 0, 0, ts, tss, 0, 0)
    if p < n and 48 <= buf[p] <= 57:  # a receive time before the sentence
        q, ts, ok = _receive_time(buf, p, n)
        if q < 0 or not ok:
            return fail
        tss = TS_LINE
        p = q
    if p < n and buf[p] == 92:  # tag block
        q, tb_ts, st_s, st_l = _fast_tagblock(buf, p + 1)
        if q < 0:
            return fail
        if tb_ts != NO_TS:
            ts = tb_ts
            tss = TS_TAGBLOCK
        p = q + 1
    if p + 12 >= n or buf[p] != 33 or buf[p + 6] != 44:
        return fail
    if not (buf[p + 3] == 86 and buf[p + 4] == 68 and (buf[p + 5] == 77 or buf[p + 5] == 79)):
        return fail
    cs = 0
    for k in range(p + 1, p + 7):
        c = buf[k]
        if c < 32 or c > 126 or c == 42:
            return fail
        cs ^= c
    k = p + 7
    fc = buf[k] - 48
    fn = buf[k + 2] - 48
    if fc < 1 or fc > 9 or fn < 1 or fn > fc or buf[k + 1] != 44 or buf[k + 3] != 44:
        return fail
    cs ^= buf[k] ^ buf[k + 1] ^ buf[k + 2] ^ buf[k + 3]
    k += 4
    sq = -1
    c = buf[k]
    if 48 <= c <= 57:
        sq = c - 48
        cs ^= c
        k += 1
    if buf[k] != 44:
        return fail
    cs ^= 44
    k += 1
    ch = 0
    c = buf[k]
    if c != 44:
        if c < 33 or c > 126 or c == 42:
            return fail
        ch = c
        cs ^= c
        k += 1
        if k >= n or buf[k] != 44:
            return fail
    cs ^= 44
    k += 1
    ps = k
    while k < n:
        c = buf[k]
        if not _SIXBIT_OK[c]:
            break
        cs ^= c
        k += 1
    plen = k - ps
    if plen == 0 or k + 5 > n or buf[k] != 44:
        return fail
    f = buf[k + 1]
    if f < 48 or f > 53 or buf[k + 2] != 42:
        return fail
    cs ^= 44 ^ f
    h1 = _hex_value(buf[k + 3])
    h2 = _hex_value(buf[k + 4])
    if h1 < 0 or h2 < 0 or h1 * 16 + h2 != cs:
        return fail
    e = k + 5
    if e < n:
        c = buf[e]
        if c == 13:
            nxt = e + 2 if e + 1 < n and buf[e + 1] == 10 else e + 1
        elif c == 10:
            nxt = e + 1
        else:
            return fail
    else:
        nxt = n
    return nxt, e, fc, fn, sq, ch, ps, plen, f - 48, ts, tss, st_s, st_l


@nb.njit(cache=True, nogil=True)
def _frame_range(  # type: ignore[no-untyped-def]
    buf,
    pos,
    first_line,
    n_lines,
    max_line,
    start,
    end,
    kind,
    reason,
    frag_count,
    frag_num,
    seq_id,
    channel,
    payload_start,
    payload_len,
    fill_bits,
    ts_us,
    ts_source,
    station_start,
    station_len,
    station_hash,
    warning,
):
    n = len(buf)
    tb = np.zeros(4, np.int64)
    fs = np.empty(6, np.int64)
    fe = np.empty(6, np.int64)
    for i in range(first_line, first_line + n_lines):
        start[i] = pos
        reason[i] = 0
        frag_count[i] = 0
        frag_num[i] = 0
        seq_id[i] = -1
        channel[i] = 0
        payload_start[i] = 0
        payload_len[i] = 0
        fill_bits[i] = 0
        ts_us[i] = NO_TS
        ts_source[i] = TS_NONE
        station_start[i] = 0
        station_len[i] = 0
        warning[i] = 0
        nxt, e, fc, fn, sq, ch, ps, plen, fill, ts, tss, st_s, st_l = _fast_sentence(buf, pos)
        if nxt >= 0 and e - pos <= max_line:
            end[i] = e
            kind[i] = SENTENCE
            frag_count[i] = fc
            frag_num[i] = fn
            seq_id[i] = sq
            channel[i] = ch
            payload_start[i] = ps
            payload_len[i] = plen
            fill_bits[i] = fill
            if ts != NO_TS:
                ts_us[i] = ts
                ts_source[i] = tss
            if st_l > 0:
                station_start[i] = st_s
                station_len[i] = st_l
            pos = nxt
            continue
        # the general path: find the end of the line, classify it, say what is wrong
        frag_count[i] = 0
        ts_us[i] = NO_TS
        ts_source[i] = TS_NONE
        station_len[i] = 0
        e = pos
        while e < n and buf[e] != 10 and buf[e] != 13:
            e += 1
        nxt = e + 2 if e + 1 < n and buf[e] == 13 and buf[e + 1] == 10 else e + 1
        # strip trailing blanks
        while e > pos and (buf[e - 1] == 32 or buf[e - 1] == 9):
            e -= 1
        s = pos
        while s < e and (buf[s] == 32 or buf[s] == 9):
            s += 1
        end[i] = e
        pos = nxt
        if s == e:
            kind[i] = BLANK
            continue
        if buf[s] == 35:  # '#'
            kind[i] = COMMENT
            continue
        kind[i] = REJECTED
        if e - s > max_line:
            reason[i] = R_OVERSIZE
            continue
        p = s
        warn = 0
        line_ts = NO_TS  # a time written on the line: receive-time prefix, trailing metadata
        unverified_ts = NO_TS  # the time of a tag block that failed its check
        if 48 <= buf[p] <= 57:  # a receive time before the sentence
            q, t, ok = _receive_time(buf, p, e)
            if q >= 0:
                if ok:
                    line_ts = t
                else:
                    warn = R_BAD_TIMESTAMP
                p = q
        # tag block
        if buf[p] == 92:  # '\\'
            q = p + 1
            while q < e and buf[q] != 92:
                if buf[q] < 32 or buf[q] > 126:
                    break
                q += 1
            if q >= e or buf[q] != 92:
                reason[i] = R_BAD_CHAR if q < e else R_BAD_TAGBLOCK
                continue
            _parse_tagblock(buf, p + 1, q, tb)
            if tb[0] != 0:  # unverified: its fields are used, the time after any other
                warn = tb[0]
                unverified_ts = tb[1]
            elif tb[1] != NO_TS:
                ts_us[i] = tb[1]
                ts_source[i] = TS_TAGBLOCK
            if tb[3] > 0:
                station_start[i] = tb[2]
                station_len[i] = tb[3]
            p = q + 1
            if p >= e:  # a tag block alone on its line
                reason[i] = R_MALFORMED
                continue
        if buf[p] == 36:  # '$'
            if _has_bad_char(buf, p, e):
                reason[i] = R_BAD_CHAR
                continue
            g = _parse_gatehouse(buf, p, e)
            if g == NO_TS:
                vdm = e - p > 6 and buf[p + 3] == 86 and buf[p + 4] == 68
                reason[i] = R_MALFORMED if vdm else R_UNSUPPORTED  # '$AIVDM' is a typo'd '!'
            elif g == -2:
                reason[i] = R_BAD_CHECKSUM
            elif g == -1:
                reason[i] = R_BAD_TIMESTAMP
            else:  # its time goes to the next sentence: see _apply_time_headers
                kind[i] = TIME_HEADER
                ts_us[i] = g
                ts_source[i] = TS_LINE
            continue
        if buf[p] != 33:  # '!'
            reason[i] = R_BAD_CHAR if _has_bad_char(buf, p, e) else R_MALFORMED
            continue
        # One pass over the sentence: checksum, field boundaries, character checks.
        star = -1
        cs = 0
        nf = 0
        fs[0] = p + 7
        bad_char = False
        bad_payload = False
        for k in range(p + 1, e):
            c = buf[k]
            if c < 32 or c > 126:
                bad_char = True
                break
            if star >= 0:
                continue
            if c == 42:  # '*'
                star = k
                fe[min(nf, 5)] = k
                continue
            cs ^= c
            if c == 44 and k >= p + 7:  # ','
                if nf < 5:
                    fe[nf] = k
                    nf += 1
                    fs[nf] = k + 1
                else:
                    nf += 1
            elif nf == 4 and k >= p + 7 and not _SIXBIT_OK[c]:
                bad_payload = True
        if bad_char:
            reason[i] = R_BAD_CHAR
            continue
        if e - p < 7 or buf[p + 6] != 44:
            reason[i] = R_MALFORMED
            continue
        if not (buf[p + 3] == 86 and buf[p + 4] == 68 and (buf[p + 5] == 77 or buf[p + 5] == 79)):
            reason[i] = R_UNSUPPORTED
            continue
        if star < 0 or star + 3 > e:
            reason[i] = R_MALFORMED
            continue
        h1 = _hex_value(buf[star + 1])
        h2 = _hex_value(buf[star + 2])
        if h1 < 0 or h2 < 0:
            reason[i] = R_MALFORMED
            continue
        if h1 * 16 + h2 != cs:
            reason[i] = R_BAD_CHECKSUM
            continue
        if nf != 5:
            reason[i] = R_MALFORMED
            continue
        # fragment count and number: one digit 1-9
        if fe[0] - fs[0] != 1 or fe[1] - fs[1] != 1:
            reason[i] = R_BAD_FRAGMENT
            continue
        fc = buf[fs[0]] - 48
        fn = buf[fs[1]] - 48
        if fc < 1 or fc > 9 or fn < 1 or fn > fc:
            reason[i] = R_BAD_FRAGMENT
            continue
        sq = -1
        if fe[2] - fs[2] == 1 and 48 <= buf[fs[2]] <= 57:
            sq = buf[fs[2]] - 48
        elif fe[2] != fs[2]:
            reason[i] = R_MALFORMED
            continue
        ch = 0
        if fe[3] - fs[3] == 1:
            ch = buf[fs[3]]
        elif fe[3] != fs[3]:
            reason[i] = R_MALFORMED
            continue
        if fe[5] - fs[5] != 1 or buf[fs[5]] < 48 or buf[fs[5]] > 53:
            reason[i] = R_BAD_FILL
            continue
        plen = fe[4] - fs[4]
        if plen == 0 and fn == 1:  # a later fragment may be empty (pyais issue 157)
            reason[i] = R_EMPTY_PAYLOAD
            continue
        if bad_payload:
            reason[i] = R_BAD_PAYLOAD
            continue
        if ts_us[i] == NO_TS and line_ts != NO_TS:
            ts_us[i] = line_ts
            ts_source[i] = TS_LINE
        # trailing receiver metadata: ,field,field,... (USCG / aishub)
        k = star + 3
        while k < e and buf[k] == 44:
            a = k + 1
            b = a
            while b < e and buf[b] != 44:
                b += 1
            if b > a:
                c0 = buf[a]
                if 48 <= c0 <= 57:
                    if ts_us[i] == NO_TS and b - a >= 9:
                        t = _unix_digits_to_us(buf, a, b)
                        if t != NO_TS:
                            ts_us[i] = t
                            ts_source[i] = TS_LINE
                elif station_len[i] == 0 and (c0 == 114 or c0 == 98 or c0 == 68):
                    # r..., b..., D...: receiving station
                    station_start[i] = a
                    station_len[i] = b - a
            k = b
        if ts_us[i] == NO_TS and unverified_ts != NO_TS:
            ts_us[i] = unverified_ts
            ts_source[i] = TS_TAGBLOCK_UNVERIFIED
        warning[i] = warn
        kind[i] = SENTENCE
        frag_count[i] = fc
        frag_num[i] = fn
        seq_id[i] = sq
        channel[i] = ch
        payload_start[i] = fs[4]
        payload_len[i] = plen
        fill_bits[i] = buf[fs[5]] - 48
    return pos


@nb.njit(cache=True, parallel=True, nogil=True)
def _frame_blocks(buf, block_pos, block_line, max_line, start, end, kind, reason, frag_count,  # type: ignore[no-untyped-def]
                  frag_num, seq_id, channel, payload_start, payload_len, fill_bits, ts_us,
                  ts_source, station_start, station_len, station_hash, warning):
    for b in nb.prange(len(block_pos) - 1):
        _frame_range(buf, block_pos[b], block_line[b], block_line[b + 1] - block_line[b],
                     max_line, start, end, kind, reason, frag_count, frag_num, seq_id, channel,
                     payload_start, payload_len, fill_bits, ts_us, ts_source, station_start,
                     station_len, station_hash, warning)


@nb.njit(cache=True, nogil=True)
def _hash_stations(buf, kind, frag_count, station_start, station_len, station_hash):  # type: ignore[no-untyped-def]
    """Hash the receiving station of multi-fragment sentences, which assembly matches on."""
    for i in range(len(kind)):
        if kind[i] == SENTENCE and frag_count[i] > 1 and station_len[i] > 0:
            a = station_start[i]
            station_hash[i] = _fnv1a(buf, a, a + station_len[i])


@nb.njit(cache=True, nogil=True)
def _apply_time_headers(kind, ts_us, ts_source):  # type: ignore[no-untyped-def]
    """Give each Gatehouse header's time to the sentence right after it (if it has none, or
    only an unverified tag block's)."""
    pending = NO_TS
    for i in range(len(kind)):
        k = kind[i]
        if k == TIME_HEADER:
            pending = ts_us[i]
        elif k == SENTENCE or k == REJECTED:  # noqa: SIM109 - numba compiles this faster
            if k == SENTENCE and pending != NO_TS and (
                    ts_us[i] == NO_TS or ts_source[i] == TS_TAGBLOCK_UNVERIFIED):
                ts_us[i] = pending
                ts_source[i] = TS_LINE
            pending = NO_TS


@nb.njit(cache=True, nogil=True)
def _next_line_start(buf, pos):  # type: ignore[no-untyped-def]
    n = len(buf)
    while pos < n and not (buf[pos - 1] == 10 or (buf[pos - 1] == 13 and buf[pos] != 10)):
        pos += 1
    return pos


@nb.njit(cache=True, nogil=True)
def _lone_cr_counts(buf, block_pos):  # type: ignore[no-untyped-def]
    """CRs not followed by an LF (line ends of their own) in each block."""
    nb_ = len(block_pos) - 1
    counts = np.zeros(nb_, np.int64)
    n = len(buf)
    for b in range(nb_):
        c = 0
        for k in range(block_pos[b], block_pos[b + 1]):
            if buf[k] == 13 and (k + 1 == n or buf[k + 1] != 10):
                c += 1
        counts[b] = c
    return counts


@nb.njit(cache=True, nogil=True)
def first_line_end(buf):  # type: ignore[no-untyped-def]
    """Index of the first LF or CR in ``buf``, -1 if none."""
    for k in range(len(buf)):
        if buf[k] == 10 or buf[k] == 13:
            return k
    return -1


@nb.njit(cache=True, nogil=True)
def last_line_end(buf):  # type: ignore[no-untyped-def]
    """Index of the last LF or CR in ``buf``, -1 if none."""
    for k in range(len(buf) - 1, -1, -1):
        if buf[k] == 10 or buf[k] == 13:
            return k
    return -1


#: Inputs smaller than this are framed in one block, larger ones in parallel blocks.
_BLOCK_BYTES = 1 << 18


def _blocks(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte positions and first line numbers of blocks that start at line starts."""
    n = len(buf)
    k = max(1, min(64, n // _BLOCK_BYTES, nb.get_num_threads() * 8))
    pos = [0]
    for j in range(1, k):
        p = _next_line_start(buf, max(j * n // k, pos[-1] + 1))
        if p < n:
            pos.append(p)
    pos.append(n)
    block_pos = np.array(pos, np.int64)
    counts = np.array([np.count_nonzero(buf[a:b] == 10) for a, b in itertools.pairwise(pos)],
                      np.int64)
    if np.count_nonzero(buf == 13):
        counts += _lone_cr_counts(buf, block_pos)
    if n and buf[-1] != 10 and buf[-1] != 13:
        counts[-1] += 1
    return block_pos, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def frame_lines(buf: np.ndarray, max_line_bytes: int = MAX_LINE_BYTES) -> Frames:
    """Parse every line of ``buf`` (uint8 array of NMEA text) into per-line columns."""
    block_pos, block_line = _blocks(buf)
    n = int(block_line[-1])
    f = Frames(
        start=np.empty(n, np.int64),
        end=np.empty(n, np.int64),
        kind=np.empty(n, np.int8),
        reason=np.empty(n, np.int8),
        frag_count=np.empty(n, np.int8),
        frag_num=np.empty(n, np.int8),
        seq_id=np.empty(n, np.int8),
        channel=np.empty(n, np.uint8),
        payload_start=np.empty(n, np.int64),
        payload_len=np.empty(n, np.int32),
        fill_bits=np.empty(n, np.int8),
        ts_us=np.empty(n, np.int64),
        ts_source=np.empty(n, np.int8),
        station_start=np.empty(n, np.int64),
        station_len=np.empty(n, np.int32),
        station_hash=np.zeros(n, np.int64),
        warning=np.zeros(n, np.int8),
    )
    if n:
        _frame_blocks(
            buf,
            block_pos,
            block_line,
            max_line_bytes,
            f.start,
            f.end,
            f.kind,
            f.reason,
            f.frag_count,
            f.frag_num,
            f.seq_id,
            f.channel,
            f.payload_start,
            f.payload_len,
            f.fill_bits,
            f.ts_us,
            f.ts_source,
            f.station_start,
            f.station_len,
            f.station_hash,
            f.warning,
        )
        _apply_time_headers(f.kind, f.ts_us, f.ts_source)
        _hash_stations(buf, f.kind, f.frag_count, f.station_start, f.station_len, f.station_hash)
    return f
