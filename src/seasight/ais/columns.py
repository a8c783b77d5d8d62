"""Turn decoded bit fields into Arrow/Polars columns without a per-row Python loop."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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
}


def _validity(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    nulls = int(len(valid) - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def strings_from_matrix(chars: np.ndarray, lens: np.ndarray, valid: np.ndarray) -> pa.Array:
    """An Arrow string array from a (rows, width) byte matrix and per-row lengths."""
    n = len(lens)
    lens = np.where(valid, lens, 0)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    if chars.shape[1]:
        data = chars[np.arange(chars.shape[1])[None, :] < lens[:, None]]
    else:
        data = np.zeros(0, np.uint8)
    bitmap, nulls = _validity(valid)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)), bitmap, nulls
    )


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
    data, offsets = _gather_slices(buf, starts.astype(np.int64), lens)
    bitmap, nulls = _validity(valid)
    if offsets[-1] < 2**31:
        typ, off = (pa.binary() if binary else pa.string()), offsets.astype(np.int32)
    else:  # pragma: no cover - chunks are far smaller
        typ, off = (pa.large_binary() if binary else pa.large_string()), offsets
    return pa.Array.from_buffers(
        typ, len(lens), [bitmap, pa.py_buffer(off), pa.py_buffer(data)], nulls
    )


def numeric(values: np.ndarray, valid: np.ndarray, kind: str) -> pa.Array:
    """An Arrow array of ``values`` cast to ``kind`` (see ``_ARROW_TYPES``), null where invalid."""
    typ = _ARROW_TYPES[kind]
    arr = values.astype(typ.to_pandas_dtype(), copy=False)
    if valid.all():
        return pa.array(arr, type=typ)
    return pa.array(arr, type=typ, mask=~valid)


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
    values, valid = decode_numeric(p.sixbits, p.start, p.nbits, rows, variant, plan.bit,
                                   plan.width, plan.signed, plan.na, plan.lo, plan.hi, plan.scale)
    out: dict[str, pa.Array] = {}
    for i, f in enumerate(plan.numeric):
        if f.kind == "b":
            out[f.name] = pa.array(values[i] != 0, type=pa.bool_(), mask=~valid[i])
        else:
            out[f.name] = numeric(values[i], valid[i], kinds.get(f.name, "u8"))
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


@nb.njit(cache=True, nogil=True)
def _coded_kernel(codes, name_bytes, name_offsets):  # type: ignore[no-untyped-def]
    n = len(codes)
    offsets = np.zeros(n + 1, np.int32)
    for i in range(n):
        c = codes[i]
        offsets[i + 1] = offsets[i] + name_offsets[c + 1] - name_offsets[c]
    data = np.empty(offsets[n], np.uint8)
    for i in range(n):
        c = codes[i]
        a = name_offsets[c]
        p = offsets[i]
        for k in range(name_offsets[c + 1] - a):
            data[p + k] = name_bytes[a + k]
    return data, offsets


def coded_strings(codes: np.ndarray, names: tuple[str, ...],
                  valid: np.ndarray | None = None) -> pa.Array:
    """The strings ``names[codes[i]]`` as a plain Arrow string array (null where not valid)."""
    encoded = [name.encode() for name in names]
    name_offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=name_offsets[1:])
    name_bytes = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    data, offsets = _coded_kernel(codes.astype(np.int64), name_bytes, name_offsets)
    bitmap, nulls = _validity(valid) if valid is not None else (None, 0)
    return pa.Array.from_buffers(
        pa.string(), len(codes), [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)], nulls
    )


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
