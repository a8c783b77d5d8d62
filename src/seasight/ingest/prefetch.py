"""Overlap producing and consuming: run an iterator in a background thread.

Decoding (numba kernels, which release the GIL) and storing (DuckDB, which releases it too) then
use both cores at once, while at most ``depth`` items wait in between, so memory stays bounded.
A live feed read this way also lets its consumer act while the feed is quiet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _run(items: Iterable[T], depth: int, idle_s: float | None,
         q: queue.Queue[object] | None = None) -> Iterator[T | None]:
    q = q if q is not None else queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, not swallowed
            q.put(_Failure(exc))

    worker = threading.Thread(target=produce, name="seasight-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = q.get(timeout=idle_s)
            except queue.Empty:
                yield None
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)


class Prefetched(Iterator[T]):
    """Iterator over items computed ahead in a worker thread; :meth:`ready` tells whether the
    next item is already waiting (so a consumer can batch what is ready and act at once when
    nothing is)."""

    def __init__(self, items: Iterable[T], depth: int) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._items = cast(Iterator[T], _run(items, depth, None, self._queue))

    def __next__(self) -> T:
        return next(self._items)

    def ready(self) -> bool:
        """True when the next item (or the end) is already computed."""
        return not self._queue.empty()

    def close(self) -> None:
        """Stop the worker (also done when the iterator is exhausted or collected)."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


def prefetched(items: Iterable[T], depth: int = 1) -> Prefetched[T]:
    """Yield ``items`` in order, computing up to ``depth`` of them ahead in a worker thread.

    An exception raised by the producer is re-raised in the consumer, at its place in the order.
    If the consumer stops early, the producer stops at its next item.

    Example:
        >>> list(prefetched(x * x for x in range(5)))
        [0, 1, 4, 9, 16]
    """
    return Prefetched(items, depth)


def with_idle_ticks(items: Iterable[T], idle_s: float) -> Iterator[T | None]:
    """Yield ``items`` as they come, and ``None`` whenever none has come for ``idle_s``
    seconds (so a consumer can flush while a live feed is quiet)."""
    return _run(items, 64, idle_s)
