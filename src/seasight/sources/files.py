"""File sources: paths, directories, ``.gz`` and standard input, read in chunks of lines."""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO


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
    """Size and SHA-1 of the first 64 KiB: identifies a file without reading all of it."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    return f"{path.stat().st_size}:{hashlib.sha1(head).hexdigest()}"


def open_source(path: Path) -> BinaryIO:
    """A binary reader for ``path``: ``-`` is standard input, ``.gz`` is decompressed."""
    if str(path) == "-":
        return sys.stdin.buffer
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def line_chunks(fh: BinaryIO, chunk_bytes: int, *, first_bytes: int | None = None
                ) -> Iterator[bytes]:
    """Chunks cut after a line end (LF or CR), the first read ``first_bytes`` at a time if
    given. A chunk without any line end (part of a line longer than a chunk) is passed on as it
    is, never accumulated: :class:`~seasight.ais.NmeaDecoder` rejects such a line without
    holding it, so memory stays bounded by the chunk size whatever the line lengths."""
    tail = b""
    size = first_bytes or chunk_bytes
    while True:
        block = fh.read(size)
        size = chunk_bytes
        if not block:
            if tail:
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
