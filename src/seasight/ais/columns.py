"""Turn decoded bit fields into Arrow/Polars columns without a per-row Python loop."""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

from seasight.ais.bits import Payloads, extract_fields, extract_text
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


def _convert(field: Field, raw: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply a field's not-available values, valid range and scale to its raw values."""
    for na in field.na:
        ok &= raw != na
    if field.lo is not None:
        ok &= raw >= field.lo
    if field.hi is not None:
        ok &= raw <= field.hi
    if field.scale is not None:
        return raw / field.scale, ok
    return raw, ok


def field_values(
    fields: tuple[Field, ...], payloads: Payloads, rows: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Decode numeric or boolean ``fields`` for the messages ``rows``: (values, valid) each.

    Not-available sentinels, out-of-range raw values and fields beyond the end of a short
    payload are invalid; values are scaled when the field has a scale.
    """
    p = payloads
    raw, ok = extract_fields(
        p.sixbits, p.start, p.nbits, rows,
        np.array([f.bit for f in fields], np.int64),
        np.array([f.width for f in fields], np.int64),
        np.array([f.kind == "i" for f in fields], np.bool_),
    )
    return [_convert(f, raw[i], ok[i]) for i, f in enumerate(fields)]


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
    ``kinds`` gives each numeric column's storage type (``u8``, ``f64``, ...).
    """
    n = len(rows)
    names: dict[str, Field] = {}
    text: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    lens: dict[str, np.ndarray] = {}
    single = len(variants) == 1 or bool(np.all(variant == variant[0])) if n else True
    for v, lay in enumerate(variants):
        sub = np.arange(n) if single and n and variant[0] == v else np.flatnonzero(variant == v)
        if not len(sub) or (single and n and variant[0] != v):
            continue
        for f in lay:
            names.setdefault(f.name, f)
        numeric_fields = tuple(f for f in lay if f.kind != "t")
        for f, (vals, ok) in zip(numeric_fields,
                                 field_values(numeric_fields, payloads, rows[sub]), strict=True):
            if single:
                values[f.name], valid[f.name] = vals, ok
                continue
            if f.name not in values:
                values[f.name] = np.zeros(n, np.float64 if f.scale is not None else np.int64)
                valid[f.name] = np.zeros(n, np.bool_)
            if vals.dtype.kind == "f" and values[f.name].dtype.kind != "f":
                values[f.name] = values[f.name].astype(np.float64)
            values[f.name][sub] = vals
            valid[f.name][sub] = ok
        for f in lay:
            if f.kind != "t":
                continue
            c, ln, ok = extract_text(payloads.sixbits, payloads.start, payloads.nbits,
                                     rows[sub], f.bit, f.width // 6)
            if f.name not in text:
                width = max(g.width // 6 for lay2 in variants for g in lay2 if g.name == f.name)
                text[f.name] = np.zeros((n, width), np.uint8)
                lens[f.name] = np.zeros(n, np.int64)
                valid[f.name] = np.zeros(n, np.bool_)
            text[f.name][sub, : c.shape[1]] = c
            lens[f.name][sub] = ln
            valid[f.name][sub] = ok
    out: dict[str, pa.Array] = {}
    for name, f in names.items():
        if f.kind == "t":
            out[name] = strings_from_matrix(text[name], lens[name], valid[name] & (lens[name] > 0))
        elif f.kind == "b":
            out[name] = pa.array(values[name].astype(bool), type=pa.bool_(), mask=~valid[name])
        else:
            out[name] = numeric(values[name], valid[name], kinds.get(name, "u8"))
    return out


def rate_of_turn(rot_raw: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degrees per minute from the transmitted ROT indicator, as ITU-R M.1371 defines it.

    ROT_AIS = 4.733 * sqrt(ROT_sensor), signed; rounded to whole degrees per minute as pyais and
    gpsd report it. +-127 means "turning faster than 5 deg / 30 s, no turn indicator": the rate is
    unknown, so null (``rot_raw`` keeps the indicator).
    """
    rot = np.copysign(np.round((rot_raw / 4.733) ** 2), rot_raw)
    return rot, valid & (np.abs(rot_raw) < 127)


def constant_strings(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` (dictionary-encoded: one copy in memory)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), pa.array([value]))


def coded_strings(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Strings ``names[codes[i]]`` (dictionary-encoded)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int8, copy=False)), pa.array(list(names))
    )


_ONE_CHAR = tuple(chr(i) for i in range(128))


def characters(codes: np.ndarray) -> pa.Array:
    """One-character strings from ASCII codes; code 0 is null."""
    idx = codes.astype(np.int8, copy=False) if len(codes) else codes.astype(np.int8)
    valid = (codes > 0) & (codes < 128)
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(valid, idx, 0), mask=~valid), pa.array(list(_ONE_CHAR))
    )


@nb.njit(cache=True, nogil=True)
def _armor_kernel(six, start, nchars, rows):  # type: ignore[no-untyped-def]
    total = 0
    for r in rows:
        total += nchars[r]
    out = np.empty(total, np.uint8)
    offsets = np.zeros(len(rows) + 1, np.int32)
    p = 0
    for j in range(len(rows)):
        m = rows[j]
        for k in range(start[m], start[m] + nchars[m]):
            v = six[k]
            out[p] = v + 48 if v < 40 else v + 56
            p += 1
        offsets[j + 1] = p
    return out, offsets


def armored_payloads(
    sixbits: np.ndarray, start: np.ndarray, nchars: np.ndarray, rows: np.ndarray
) -> pa.Array:
    """The armored (NMEA) payload text of messages ``rows``, re-assembled across fragments."""
    data, offsets = _armor_kernel(sixbits, start, nchars, rows)
    return pa.Array.from_buffers(
        pa.string(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(data)], 0
    )
