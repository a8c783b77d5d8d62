"""A CSV file read in blocks of whole lines, in bounded memory, with line numbers and the lines
that are not UTF-8 (used by :mod:`seasight.sources.csv_tracks`)."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl
import pyarrow as pa

#: What :func:`read_track_csv` accepts: a path (``str`` is always a path) or the file's bytes.
TrackCsvInput = str | os.PathLike[str] | bytes | bytearray | memoryview

# Bytes read from the (decompressed) file per block; blocks end on a line boundary.
_CHUNK_BYTES = 64 << 20
# Bytes asked of the stream per read (read1: a damaged gzip stream still yields what precedes
# the damage).
_READ_BYTES = 1 << 20
_GZIP_MAGIC: Final = b"\x1f\x8b"
_BOM: Final = b"\xef\xbb\xbf"

# --------------------------------------------------------------------------------------------
# Reading blocks of whole lines
# --------------------------------------------------------------------------------------------


class _Blocks:
    """Iterate over a file's (decompressed) bytes in blocks that end on a line boundary.

    A corrupt or truncated gzip stream ends the iteration early; the error is kept in
    :attr:`error` (and the incomplete line it cut, in :attr:`partial`) instead of being raised.
    """

    def __init__(self, data: TrackCsvInput) -> None:
        self._data = data
        self._stack = contextlib.ExitStack()
        self.error: str | None = None
        self.partial = b""  # the incomplete last line before a decompression error

    def __enter__(self) -> _Blocks:
        data = self._data
        raw: io.BufferedIOBase
        if isinstance(data, bytes | bytearray | memoryview):
            raw = io.BytesIO(data)
        else:
            raw = self._stack.enter_context(open(os.fspath(data), "rb"))
        head = raw.read(2)
        raw.seek(0)
        if head == _GZIP_MAGIC:
            raw = self._stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        self._stream = raw
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def __iter__(self) -> Iterator[bytes]:
        pieces: list[bytes] = []
        held = 0
        while True:
            try:
                piece = self._stream.read1(_READ_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                # Everything decompressed before the damage has been returned by read1; a last
                # line cut short by the damage is not parsed (it could look valid).
                self.error = f"{type(exc).__name__}: {exc}"
                buf = b"".join(pieces)
                cut = buf.rfind(b"\n") + 1
                self.partial = buf[cut:]
                if cut:
                    yield buf[:cut]
                return
            if not piece:
                break
            pieces.append(piece)
            held += len(piece)
            if held < _CHUNK_BYTES:
                continue
            buf = b"".join(pieces)
            cut = buf.rfind(b"\n")
            if cut < 0:  # one very long line: keep reading
                pieces, held = [buf], len(buf)
                continue
            yield buf[: cut + 1]
            rest = buf[cut + 1 :]
            pieces, held = ([rest], len(rest)) if rest else ([], 0)
        if held:
            yield b"".join(pieces)


@dataclass
class _Lines:
    """One block as columns ``line_no`` and ``text`` ("" for lines that are not UTF-8)."""

    frame: pl.DataFrame
    n_lines: int
    bad_utf8: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # index -> detail, raw


def _split_lines(block: bytes, first_line_no: int) -> _Lines:
    """Cut ``block`` into lines (without ``\\n`` / ``\\r\\n``) as an Arrow-backed column.

    The column is built on the block's own buffer (each line still ending in its newline,
    stripped by Polars afterwards). When some lines are not UTF-8, their bytes are kept aside
    for the rejects and a copy of the block without them is used instead.
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    size = arr.size
    if size == 0:
        return _Lines(pl.DataFrame(schema={"line_no": pl.Int64, "text": pl.String}), 0)
    newlines = np.flatnonzero(arr == 0x0A)
    ends = newlines if newlines.size and newlines[-1] == size - 1 else np.append(newlines, size)
    n = ends.size
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = np.minimum(ends + 1, size)  # each line with its newline
    bad = _invalid_utf8_lines(block, arr, offsets[:-1], ends)
    bad_utf8: dict[int, tuple[str, bytes]] = {}
    data = arr
    if bad:
        keep = np.ones(size, dtype=bool)
        lengths = np.diff(offsets)
        for i, detail in bad.items():  # their text becomes "", their bytes go to the rejects
            bad_utf8[i] = (detail, block[offsets[i] : ends[i]].removesuffix(b"\r"))
            keep[offsets[i] : offsets[i + 1]] = False
            lengths[i] = 0
        data = arr[keep]
        np.cumsum(lengths, out=offsets[1:])
    text = pl.from_arrow(_arrow(pa.large_string(), n, offsets, data))
    frame = pl.DataFrame(
        {"line_no": np.arange(first_line_no, first_line_no + n, dtype=np.int64), "text": text}
    ).with_columns(pl.col("text").str.strip_suffix("\n").str.strip_suffix("\r"))
    return _Lines(frame, n, bad_utf8)


def _arrow(dtype: pa.DataType, n: int, offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(dtype, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _invalid_utf8_lines(
    block: bytes, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> dict[int, str]:
    """Line index -> description, for the lines of ``block`` that are not valid UTF-8.

    Pure ASCII (the usual case) is recognised with one vectorised comparison; otherwise the
    block is decoded by the C codec, restarting after each bad line, so the Python work is
    proportional to the number of bad lines.
    """
    if arr.size == 0 or int(arr.max()) < 0x80:
        return {}
    bad: dict[int, str] = {}
    view = memoryview(block)
    pos = 0
    while pos < len(block):
        try:
            codecs.utf_8_decode(view[pos:], "strict", True)
            break
        except UnicodeDecodeError as exc:
            at = pos + exc.start
            line = int(np.searchsorted(starts, at, side="right")) - 1
            bad[line] = (
                f"not valid UTF-8: byte 0x{block[at]:02x} at column {at - int(starts[line]) + 1}"
            )
            pos = int(ends[line]) + 1
    return bad
