"""How long a file's fingerprint takes, against hashing the whole file.

``python -m seasight.bench.fingerprint [--mb 100]`` writes a file of that many MB of NMEA-like
text to a temporary folder and times :func:`seasight.sources.files.fingerprint` (size,
modification time, SHA-1 of the first and last MiB) and a SHA-1 of every byte, each after the
file was just written (in the page cache: the cheapest case for the full hash; from a cold disk
the full hash also pays for reading every byte). An ingest checks the fingerprint of every file
it is given, including those it then skips as already ingested.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from seasight.sources.files import fingerprint

_LINE = b"\\s:rxA,c:1700000000*00\\!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\n"


def full_hash(path: Path) -> str:
    """SHA-1 of every byte of ``path``."""
    digest = hashlib.sha1()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    """Print the time of each way to identify a file of ``--mb`` MB (best of ``--repeat``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="file size in MB")
    parser.add_argument("--repeat", type=int, default=5, help="timings taken (best shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.nmea"
        block = _LINE * ((1 << 20) // len(_LINE))
        with path.open("wb") as fh:
            for _ in range(args.mb):
                fh.write(block)
        size = path.stat().st_size / 1e6
        for name, fn in (("fingerprint (size, mtime, first+last MiB)", fingerprint),
                         ("SHA-1 of the whole file", full_hash)):
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                fn(path)
                best = min(best, time.perf_counter() - started)
            print(f"{name:45s} {size:8.1f} MB  {best * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
