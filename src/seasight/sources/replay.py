"""Replay a recorded NMEA feed as if it were arriving live, at an accelerated pace.

A training room, a demo or a test needs a live feed without a receiver: :func:`replay_chunks`
reads a capture (plain or ``.gz``) and yields its lines as :class:`~seasight.sources.live.LiveChunk`
objects, paced by the times in their NMEA 4.0 tag blocks (``c:``, seconds or milliseconds):
the line stamped ``t`` is released ``(t - t0) / speed`` seconds after the start. Lines without
a time travel with the line before them; a time earlier than one already released (receivers
deliver out of order) does not hold the replay back, and neither does a lone line stamped far
ahead of its neighbours (a delayed or mis-stamped report): the replay clock jumps only when
:data:`JUMP_CONFIRM_LINES` lines in a row agree (a real pause in the capture). The lines keep
their tag blocks, so stored reports carry their original times, exactly as a batch ingest of
the same file gives.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from seasight.sources.files import open_source
from seasight.sources.live import LiveChunk

#: Longest wall time one chunk gathers lines before it is released, seconds.
CHUNK_WALL_S: Final[float] = 0.2

#: Lines due within this many seconds of each other are released together.
MIN_HOLD_S: Final[float] = 0.05
#: A line stamped more than this ahead of the replay clock is out of order, seconds...
MAX_STEP_S: Final[float] = 600.0
#: ...unless this many timed lines in a row are as far ahead (the capture paused).
JUMP_CONFIRM_LINES: Final[int] = 50

_TAG_TIME = re.compile(rb"^\\[^\\]*?\bc:(\d{9,13})")


def line_time(line: bytes) -> float | None:
    """The tag-block time of a line in seconds since the epoch, or None."""
    m = _TAG_TIME.match(line)
    if m is None:
        return None
    value = int(m.group(1))
    return value / 1000.0 if value > 10**11 else float(value)


def replay_chunks(
    path: str | Path,
    *,
    speed: float = 60.0,
    stop: threading.Event | None = None,
    source: str | None = None,
) -> Iterator[LiveChunk]:
    """The lines of the capture at ``path``, released at ``speed`` times their recorded pace.

    ``speed`` is a factor (60: an hour of traffic a minute; ``float('inf')``: as fast as the
    consumer takes them). The iterator ends at the end of the file or when ``stop`` is set.
    """
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    path = Path(path)
    name = source or f"replay:{path.name}"
    started = time.monotonic()
    t0: float | None = None
    newest: float | None = None
    pending: list[bytes] = []
    gathered_at = time.monotonic()
    ahead = 0  # timed lines in a row stamped more than MAX_STEP_S ahead

    def chunk() -> LiveChunk:
        data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in pending)
        pending.clear()
        return LiveChunk(data, time.time_ns() // 1000, name)

    with open_source(path) as fh:
        for line in fh:
            if stop is not None and stop.is_set():
                return
            t = line_time(line)
            if t is not None and newest is not None and t - newest > MAX_STEP_S:
                ahead += 1
                if ahead < JUMP_CONFIRM_LINES:
                    t = None  # out of order: released with its neighbours
            elif t is not None:
                ahead = 0
            if t is not None and (newest is None or t > newest):
                ahead = 0
                newest = t
                if t0 is None:
                    t0 = t
                due = started + (t - t0) / speed
                wait = due - time.monotonic()
                if wait > 0:
                    if pending and (wait >= MIN_HOLD_S
                                    or time.monotonic() - gathered_at >= CHUNK_WALL_S):
                        yield chunk()
                    if stop is not None:
                        if stop.wait(wait):
                            return
                    else:
                        time.sleep(wait)
                    if not pending:
                        gathered_at = time.monotonic()
            pending.append(line)
            if time.monotonic() - gathered_at >= CHUNK_WALL_S or len(pending) >= 20_000:
                yield chunk()
                gathered_at = time.monotonic()
    if pending:
        yield chunk()


__all__ = ["line_time", "replay_chunks"]
