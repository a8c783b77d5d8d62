"""File sources: paths, directories, ``.gz`` and standard input, read in chunks of lines.

A ``.gz`` file is read by :class:`GzipReader`, which never raises for damaged data: a truncated
file (cut before its end-of-stream marker) or a corrupt one (not gzip at all, bad deflate data,
a wrong checksum) yields every byte decompressed before the damage and then ends, with the
damage described in :attr:`GzipReader.damage`. The ingest keeps the lines read and records the
damage as one reject (``truncated_compressed_file`` or ``corrupt_compressed_file``).
"""

from __future__ import annotations

import hashlib
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, cast

import polars as pl

from seasight.model.schema import TABLES

#: Bytes hashed at each end of a file for its fingerprint.
FINGERPRINT_EDGE_BYTES = 1 << 20

#: Compressed bytes read from a ``.gz`` file at a time.
_GZ_READ_BYTES = 1 << 20

#: Decompressed bytes produced at a time (bounds memory whatever the compression ratio).
_GZ_OUT_BYTES = 8 << 20

_GZIP_MAGIC = b"\x1f\x8b"


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and every regular file under directories named (sorted, hidden skipped).

    ``-`` (standard input) is passed through.
    """
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if str(p) == "-":
            out.append(path)
        elif path.is_dir():
            out.extend(
                f for f in sorted(path.rglob("*"))
                if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
            )
        else:
            out.append(path)
    return out


def fingerprint(path: Path) -> str:
    """What identifies the content of ``path`` without reading all of it: its size, its
    modification time (ns) and a SHA-1 of its first and last :data:`FINGERPRINT_EDGE_BYTES`.

    Any change that keeps the size and the ends (an edit in the middle) still changes the
    modification time, unless the tool that made it set the time back; a file whose time alone
    changed (``touch``, a copy) is read again, which stores nothing twice.
    """
    st = path.stat()
    digest = hashlib.sha1()
    with path.open("rb") as fh:
        digest.update(fh.read(FINGERPRINT_EDGE_BYTES))
        if st.st_size > FINGERPRINT_EDGE_BYTES:
            fh.seek(max(FINGERPRINT_EDGE_BYTES, st.st_size - FINGERPRINT_EDGE_BYTES))
            digest.update(fh.read(FINGERPRINT_EDGE_BYTES))
    return f"{st.st_size}:{st.st_mtime_ns}:{digest.hexdigest()}"


@dataclass
class Damage:
    """Why a compressed file ended early: a reason of :mod:`seasight.model.rejects`, what was wrong,
    and the incomplete last line the damage cut (filled in by :func:`line_chunks`)."""

    reason: str
    detail: str
    partial: bytes = b""


class GzipReader:
    """Decompresses a gzip file (one member or several, as ``cat a.gz b.gz`` makes) and ends at
    the first damage instead of raising; see the module docstring.

    Example:
        >>> import gzip, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cut.gz"
        >>> _ = path.write_bytes(gzip.compress(b"line 1\\nline 2\\n" * 1000)[:-20])
        >>> with GzipReader(path) as fh:
        ...     data = fh.read()
        >>> data.startswith(b"line 1\\nline 2\\n"), fh.damage.reason
        (True, 'truncated_compressed_file')
    """

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        self._z = zlib.decompressobj(wbits=31)
        self._pending = b""  # compressed bytes not yet given to the decompressor
        self._started = False  # a member has begun (its header was seen)
        self._members = 0  # members read to their end
        self._eof = False
        self._pos = 0
        self.damage: Damage | None = None

    def __enter__(self) -> GzipReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def readable(self) -> bool:
        """True: a reader."""
        return True

    def tell(self) -> int:
        """Decompressed bytes returned so far."""
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move forward to decompressed byte ``offset`` (from the start; by reading)."""
        if whence != 0 or offset < self._pos:
            raise OSError("a gzip stream can only be read forward")
        while self._pos < offset and self.read(min(offset - self._pos, _GZ_OUT_BYTES)):
            pass
        return self._pos

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decompressed bytes (all if negative); ``b""`` at the end or at the
        damage."""
        parts: list[bytes] = []
        got = 0
        while (size < 0 or got < size) and not self._eof:
            want = _GZ_OUT_BYTES if size < 0 else min(size - got, _GZ_OUT_BYTES)
            piece = self._inflate(want)
            if piece:
                parts.append(piece)
                got += len(piece)
        self._pos += got
        return b"".join(parts)

    def _inflate(self, want: int) -> bytes:
        """At most ``want`` more decompressed bytes (possibly none); sets ``_eof`` at the end."""
        if self._z.unconsumed_tail:
            data, self._pending = self._z.unconsumed_tail, b""
        else:
            if not self._pending:
                self._pending = self._file.read(_GZ_READ_BYTES)
            data, self._pending = self._pending, b""
        if not data:
            if self._started and not self._z.eof:
                self._end("truncated_compressed_file",
                          "the file ends before its gzip end-of-stream marker")
            else:
                self._eof = True
            return b""
        if not self._started:
            if self._members:
                data = data.lstrip(b"\x00")  # zero padding after a member is allowed
                if not data:
                    return b""
            if len(data) < 2:
                data += self._file.read(_GZ_READ_BYTES)
            if not data.startswith(_GZIP_MAGIC):
                if data == _GZIP_MAGIC[:1]:
                    self._end("truncated_compressed_file", "the file ends inside a gzip header")
                else:
                    self._end("corrupt_compressed_file", "not gzip data (no gzip header)"
                              if not self._members else
                              "bytes after the last gzip member are not gzip data")
                return b""
            self._started = True
        try:
            out = self._z.decompress(data, want)
        except zlib.error as exc:
            self._end("corrupt_compressed_file", f"damaged gzip data: {exc}")
            return b""
        if self._z.eof:  # this member is complete: the next one (if any) starts afresh
            self._pending = self._z.unused_data + self._pending
            self._z = zlib.decompressobj(wbits=31)
            self._started = False
            self._members += 1
        return out

    def _end(self, reason: str, detail: str) -> None:
        self.damage = Damage(reason, detail)
        self._eof = True


def open_source(path: Path) -> BinaryIO:
    """A binary reader for ``path``: ``-`` is standard input, ``.gz`` is decompressed by a
    :class:`GzipReader` (see :func:`damage_of`)."""
    if str(path) == "-":
        return sys.stdin.buffer
    if path.suffix == ".gz":
        return cast(BinaryIO, GzipReader(path))
    return path.open("rb")


def damage_of(fh: object) -> Damage | None:
    """The damage that ended a reader from :func:`open_source` early, if any (after it has
    been read to its end)."""
    return fh.damage if isinstance(fh, GzipReader) else None


def damage_rejects(damage: Damage, source: str, line_no: int) -> pl.DataFrame:
    """The ``rejects`` row that records ``damage``: at ``line_no`` (the line the damage cut,
    or the line after the last one read), with the cut line's bytes as ``raw``."""
    return pl.DataFrame(
        {"source": [source], "line_no": [line_no], "raw": [damage.partial],
         "reason": [damage.reason], "detail": [damage.detail]},
        schema=TABLES["rejects"],
    )


def line_chunks(fh: BinaryIO, chunk_bytes: int, *, first_bytes: int | None = None
                ) -> Iterator[bytes]:
    """Chunks cut after a line end (LF or CR), the first read ``first_bytes`` at a time if
    given. A chunk without any line end (part of a line longer than a chunk) is passed on as it
    is, never accumulated: :class:`~seasight.ais.NmeaDecoder` rejects such a line without
    holding it, so memory stays bounded by the chunk size whatever the line lengths.

    When a damaged compressed file ends the reader (:func:`damage_of`), a last line without
    its line end is not yielded (the damage cut it: it could look valid) but kept in the
    damage's ``partial``.
    """
    tail = b""
    size = first_bytes or chunk_bytes
    while True:
        block = fh.read(size)
        size = chunk_bytes
        if not block:
            damage = damage_of(fh)
            if damage is not None:
                damage.partial = tail
            elif tail:
                yield tail
            return
        data = tail + block if tail else block
        lf = data.rfind(b"\n")
        cut = max(lf, data.rfind(b"\r", lf + 1)) + 1
        if cut == 0:
            tail = b""
            yield data
            continue
        tail = data[cut:]
        yield data[:cut]
