"""Repair of invalid polygons in a separate process, with a hard time limit.

Making a self-intersecting polygon valid costs GEOS time that grows with the number of crossings
(quadratically for a ring that crosses itself everywhere), inside C code that no Python thread
can interrupt: done in the service's own process, one hostile polygon would hold a worker
thread, and the service's shutdown, for as long as GEOS takes. :func:`repair_polygons` therefore
runs the repair in a child Python process (``python -m seasight.geo.polygon_repair``, which imports
nothing but shapely) and kills it when the time limit passes; at most :data:`REPAIRS_AT_ONCE`
such processes run at a time, and the child lowers its own priority so that the service keeps
its cores.

The repair is ``shapely.make_valid(method="structure")``: the area covered by the shells minus
the holes, polygonal parts only. It is much faster than the default "linework" method on rings
that cross themselves often (2.4 s instead of 41 s on a 20,000-vertex tangled ring,
``python -m seasight.bench.zones``) and keeps every area the drawing encloses.

The protocol on the child's standard input and output is a sequence of length-prefixed WKB
geometries (8-byte little-endian length, then the bytes); an empty answer (length 0) means that
no area was left.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Final

import shapely
from shapely.geometry.base import BaseGeometry

#: Seconds a repair may take (all invalid polygons of one request or file together) before its
#: process is killed and the polygons refused.
REPAIR_TIMEOUT_S: Final = 10.0

#: Repair processes that may run at once; a repair waits up to its time limit for a turn.
REPAIRS_AT_ONCE: Final = 2

_LENGTH = struct.Struct("<Q")
_POLYGONAL = ("Polygon", "MultiPolygon")
_turns = threading.BoundedSemaphore(REPAIRS_AT_ONCE)


class RepairError(ValueError):
    """A repair that did not finish: too slow (the process was killed) or failed."""


class RepairBusyError(RuntimeError):
    """Every repair slot stayed taken for the whole time limit; try again later."""


def _pack(blobs: Sequence[bytes]) -> bytes:
    return b"".join(_LENGTH.pack(len(b)) + b for b in blobs)


def _unpack(data: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        if at + _LENGTH.size > len(data):
            raise RepairError("repair process answered a truncated message")
        (n,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        if at + n > len(data):
            raise RepairError("repair process answered a truncated message")
        out.append(data[at:at + n])
        at += n
    return out


def make_polygonal(shape: BaseGeometry) -> BaseGeometry | None:
    """``shape`` made valid (``method="structure"``), polygonal parts only; None when no area
    is left. Pure, and as slow as GEOS makes it: call it through :func:`repair_polygons`."""
    repaired = shapely.make_valid(shape, method="structure", keep_collapsed=False)
    if repaired.geom_type not in _POLYGONAL:  # a collection: keep its areas
        parts = [p for p in shapely.get_parts(repaired) if p.geom_type in _POLYGONAL]
        repaired = shapely.union_all(parts) if parts else None
    if repaired is None or repaired.is_empty or repaired.area == 0:
        return None
    return repaired


def repair_polygons(shapes: Sequence[BaseGeometry], timeout_s: float = REPAIR_TIMEOUT_S
                    ) -> list[BaseGeometry | None]:
    """Each of ``shapes`` repaired by :func:`make_polygonal` in a child process.

    Raises:
        RepairError: the child took longer than ``timeout_s`` seconds (it is killed) or failed.
        RepairBusyError: no repair slot became free within ``timeout_s``.
    """
    if not shapes:
        return []
    if not _turns.acquire(timeout=timeout_s):
        raise RepairBusyError(f"other polygon repairs are running; none finished within "
                              f"{timeout_s:g} s")
    try:
        payload = _pack([shapely.to_wkb(s) for s in shapes])
        env = dict(os.environ)
        here = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
        try:
            done = subprocess.run([sys.executable, "-m", "seasight.geo.polygon_repair"],
                                  input=payload, capture_output=True, timeout=timeout_s,
                                  env=env, check=False)
        except subprocess.TimeoutExpired:  # run() has killed and reaped the child
            raise RepairError(f"repairing the self-intersecting polygon(s) took longer than "
                              f"{timeout_s:g} s; simplify them") from None
    finally:
        _turns.release()
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise RepairError(f"the polygon repair failed (exit {done.returncode}: {tail[0]})")
    blobs = _unpack(done.stdout)
    if len(blobs) != len(shapes):
        raise RepairError(f"repair process answered {len(blobs)} of {len(shapes)} polygons")
    return [shapely.from_wkb(b) if b else None for b in blobs]


def _serve(source: BinaryIO, sink: BinaryIO) -> None:
    """The child's side: read length-prefixed WKB, answer each repaired (empty: no area)."""
    if hasattr(os, "nice"):
        os.nice(10)
    answers = []
    for blob in _unpack(source.read()):
        fixed = make_polygonal(shapely.from_wkb(blob))
        answers.append(b"" if fixed is None else shapely.to_wkb(fixed))
    sink.write(_pack(answers))
    sink.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
