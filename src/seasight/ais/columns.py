"""Turn decoded bit fields into Arrow/Polars columns without a per-row Python loop."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import cast

import numba as nb
import numpy as np
import pyarrow as pa

from seasight.ais.bits import Payloads, decode_numeric, extract_text
from seasight.ais.layouts import Field

_ARROW_TYPES = {
    "u8": pa.uint8(),
    "u16": pa.uint16(),
    "u32": pa.uint32(),
    "i8": pa.int8(),
    "i64": pa.int64(),
    "f32": pa.float32(),
    "f64": pa.float64(),
    "ts": pa.timestamp("us", "UTC"),  # from microseconds since the epoch
}


_NUMPY_TYPES = {kind: np.dtype("int64" if kind == "ts" else typ.to_pandas_dtype())
                for kind, typ in _ARROW_TYPES.items()}


def _validity(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    nulls = int(len(valid) - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


#: Bytes of a string kept inside its 16-byte view (Arrow's string view layout).
_INLINE = 12


@nb.njit(cache=True, nogil=True, parallel=True)
def _view_kernel(src, starts, lens):  # type: ignore[no-untyped-def]
    """Arrow string views of ``src[starts[i]:starts[i]+lens[i]]``: 16 bytes per string (length,
    then the bytes if they fit in 12, else a 4-byte prefix, buffer 0 and the offset of a copy in
    the returned data buffer)."""
    n = len(lens)
    at = np.empty(n, np.int64)  # where each long string's copy starts
    total = 0
    for i in range(n):
        at[i] = total
        if lens[i] > _INLINE:
            total += lens[i]
    views = np.zeros((n, 16), np.uint8)
    data = np.empty(total, np.uint8)
    for i in nb.prange(n):
        ln = lens[i]
        s = starts[i]
        for k in range(4):
            views[i, k] = (ln >> (8 * k)) & 255
        if ln <= _INLINE:
            for k in range(ln):
                views[i, 4 + k] = src[s + k]
            continue
        p = at[i]
        for k in range(4):
            views[i, 4 + k] = src[s + k]
            views[i, 12 + k] = (p >> (8 * k)) & 255
        for k in range(ln):
            data[p + k] = src[s + k]
    return views, data


def _string_views(views: np.ndarray, data: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    bitmap, nulls = _validity(valid) if valid is not None else (None, 0)
    return pa.Array.from_buffers(
        pa.string_view(), len(views), [bitmap, pa.py_buffer(views), pa.py_buffer(data)], nulls
    )


def strings_from_matrix(chars: np.ndarray, lens: np.ndarray, valid: np.ndarray) -> pa.Array:
    """An Arrow string array from a (rows, width) byte matrix and per-row lengths."""
    n, width = chars.shape
    lens = np.where(valid, lens, 0).astype(np.int64)
    starts = np.arange(n, dtype=np.int64) * width
    views, data = _view_kernel(np.ascontiguousarray(chars).reshape(-1), starts, lens)
    return _string_views(views, data, valid)


@nb.njit(cache=True, nogil=True)
def _gather_slices(buf, starts, lens):  # type: ignore[no-untyped-def]
    total = 0
    for i in range(len(lens)):
        total += lens[i]
    out = np.empty(total, np.uint8)
    offsets = np.zeros(len(lens) + 1, np.int64)
    p = 0
    for i in range(len(lens)):
        s = starts[i]
        for k in range(lens[i]):
            out[p] = buf[s + k]
            p += 1
        offsets[i + 1] = p
    return out, offsets


def slices(
    buf: np.ndarray, starts: np.ndarray, lens: np.ndarray, valid: np.ndarray, binary: bool = False
) -> pa.Array:
    """An Arrow string (or binary) array of ``buf[starts[i]:starts[i]+lens[i]]``."""
    lens = np.where(valid, lens, 0).astype(np.int64)
    if not binary:
        views, data = _view_kernel(buf, starts.astype(np.int64), lens)
        return _string_views(views, data, valid)
    data, offsets = _gather_slices(buf, starts.astype(np.int64), lens)
    bitmap, nulls = _validity(valid)
    if offsets[-1] < 2**31:
        typ, off = pa.binary(), offsets.astype(np.int32)
    else:  # pragma: no cover - chunks are far smaller
        typ, off = pa.large_binary(), offsets
    return pa.Array.from_buffers(
        typ, len(lens), [bitmap, pa.py_buffer(off), pa.py_buffer(data)], nulls
    )


def numeric(values: np.ndarray, valid: np.ndarray, kind: str) -> pa.Array:
    """An Arrow array of ``values`` cast to ``kind`` (see ``_ARROW_TYPES``), null where invalid."""
    typ = _ARROW_TYPES[kind]
    arr = np.ascontiguousarray(values.astype(_NUMPY_TYPES[kind], copy=False))
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(typ, len(arr), [bitmap, pa.py_buffer(arr)], nulls)


def flags(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    """An Arrow boolean array, true where ``values`` is not zero, null where not ``valid``."""
    bits = pa.py_buffer(np.packbits(values != 0, bitorder="little"))
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(pa.bool_(), len(values), [bitmap, bits], nulls)


_NEVER = -(2**62)


@dataclass(frozen=True)
class LayoutPlan:
    """The layouts of one table as matrices [layout, column] for :func:`decode_numeric`."""

    numeric: tuple[Field, ...]  # one representative field per numeric column
    bit: np.ndarray
    width: np.ndarray
    signed: np.ndarray
    na: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    scale: np.ndarray
    text: tuple[tuple[str, int, tuple[tuple[int, Field], ...]], ...]  # name, width, (layout, field)


@cache
def layout_plan(variants: tuple[tuple[Field, ...], ...]) -> LayoutPlan:
    names: dict[str, Field] = {}
    for lay in variants:
        for f in lay:
            if f.kind != "t":
                names.setdefault(f.name, f)
    shape = (len(variants), len(names))
    bit = np.zeros(shape, np.int64)
    width = np.zeros(shape, np.int64)
    signed = np.zeros(shape, np.bool_)
    na = np.full((*shape, 2), _NEVER, np.int64)
    lo = np.full(shape, _NEVER, np.int64)
    hi = np.full(shape, -_NEVER, np.int64)
    scale = np.ones(shape, np.float64)
    col = {name: i for i, name in enumerate(names)}
    text: dict[str, list[tuple[int, Field]]] = {}
    for v, lay in enumerate(variants):
        for f in lay:
            if f.kind == "t":
                text.setdefault(f.name, []).append((v, f))
                continue
            i = col[f.name]
            bit[v, i], width[v, i], signed[v, i] = f.bit, f.width, f.kind == "i"
            for k, value in enumerate(f.na[:2]):
                na[v, i, k] = value
            if f.lo is not None:
                lo[v, i] = f.lo
            if f.hi is not None:
                hi[v, i] = f.hi
            if f.scale is not None:
                scale[v, i] = f.scale
    text_plan = tuple(
        (name, max(f.width // 6 for _, f in parts), tuple(parts)) for name, parts in text.items()
    )
    return LayoutPlan(tuple(names.values()), bit, width, signed, na, lo, hi, scale, text_plan)


def decode_columns(
    payloads: Payloads,
    rows: np.ndarray,
    variant: np.ndarray,
    variants: list[tuple[Field, ...]],
    kinds: dict[str, str],
) -> dict[str, pa.Array]:
    """Decode the messages ``rows`` into Arrow columns, one per field name.

    Message ``rows[j]`` has the layout ``variants[variant[j]]``; a column gets its values from
    whichever layout of each row declares it, and is null where the row's layout lacks it.
    Not-available sentinels, out-of-range raw values and fields beyond the end of a short
    payload are null. ``kinds`` gives each numeric column's storage type (``u8``, ``f64``, ...).
    """
    p = payloads
    plan = layout_plan(tuple(variants))
    raw, valid = decode_numeric(p.sixbits, p.start, p.nbits, rows, variant, plan.bit,
                                plan.width, plan.signed, plan.na, plan.lo, plan.hi)
    out: dict[str, pa.Array] = {}
    for i, f in enumerate(plan.numeric):
        if f.kind == "b":
            out[f.name] = flags(raw[i], valid[i])
            continue
        scale = plan.scale[:, i]
        if (scale != 1).any():  # per layout: a long-range report's lat is in 1/10 minutes
            value = raw[i] / (scale[variant] if (scale != scale[0]).any() else scale[0])
        else:
            value = raw[i]
        out[f.name] = numeric(value, valid[i], kinds.get(f.name, "u8"))
    n = len(rows)
    for name, width, parts in plan.text:
        chars = np.zeros((n, width), np.uint8)
        lens = np.zeros(n, np.int64)
        ok = np.zeros(n, np.bool_)
        for v, f in parts:
            sub = np.flatnonzero(variant == v)
            if not len(sub):
                continue
            c, ln, o = extract_text(p.sixbits, p.start, p.nbits, rows[sub], f.bit, f.width // 6)
            chars[sub, : c.shape[1]] = c
            lens[sub] = ln
            ok[sub] = o
        out[name] = strings_from_matrix(chars, lens, ok & (lens > 0))
    return out


def rate_of_turn(rot_raw: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degrees per minute from the transmitted ROT indicator, as ITU-R M.1371 defines it.

    ROT_AIS = 4.733 * sqrt(ROT_sensor), signed; rounded to whole degrees per minute as pyais and
    gpsd report it. +-127 means "turning faster than 5 deg / 30 s, no turn indicator": the rate is
    unknown, so null (``rot_raw`` keeps the indicator).
    """
    rot = np.copysign(np.round((rot_raw / 4.733) ** 2), rot_raw)
    return rot, valid & (np.abs(rot_raw) < 127)


@cache
def _name_views(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [name.encode() for name in names]
    lens = np.array([len(b) for b in encoded], np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    src = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    return cast(tuple[np.ndarray, np.ndarray], _view_kernel(src, starts, lens))


def coded_strings(codes: np.ndarray, names: tuple[str, ...],
                  valid: np.ndarray | None = None) -> pa.Array:
    """The strings ``names[codes[i]]`` as an Arrow string array (null where not valid): each
    name's view is made once and copied to its rows."""
    views, data = _name_views(names)
    rows = np.take(views.view(np.uint64), codes, axis=0)  # 16 bytes a row, as two words
    return _string_views(rows, data, valid)


_ONE_CHAR = tuple(chr(i) for i in range(128))


def characters(codes: np.ndarray) -> pa.Array:
    """One-character strings from ASCII codes; code 0 (and non-ASCII) is null."""
    valid = (codes > 0) & (codes < 128)
    return coded_strings(np.where(valid, codes, 0), _ONE_CHAR, valid)


def armored_payloads(
    sixbits: np.ndarray, start: np.ndarray, nchars: np.ndarray, rows: np.ndarray
) -> pa.Array:
    """The armored (NMEA) payload text of messages ``rows``, re-assembled across fragments."""
    data, offsets = _gather_slices(sixbits, start[rows].astype(np.int64),
                                   nchars[rows].astype(np.int64))
    data = np.where(data < 40, data + 48, data + 56).astype(np.uint8)
    return pa.Array.from_buffers(
        pa.string(), len(rows), [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)],
        0,
    )
