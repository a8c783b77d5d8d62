"""One store shared by the threads of a long-running process (the service, live ingest).

DuckDB connections must not be used by two threads at once, so each user takes its own cursor
of the one connection (:meth:`SharedStore.reading`); writers additionally hold one lock, so two
writers never race on the same rows. Readers never wait for writers (DuckDB's MVCC gives each
cursor a consistent snapshot).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from seasight.store.database import Store

T = TypeVar("T")

#: Longest wait, on closing, for the uses of the store under way.
CLOSE_WAIT_S = 30.0


class ReadOnlyError(PermissionError):
    """A write was asked of a store opened read-only."""


class SharedStore:
    """A :class:`Store` handed out as a fresh cursor per use."""

    def __init__(self, db: str | Path, *, read_only: bool = False) -> None:
        self.store = Store(db, read_only=read_only)
        self.read_only = read_only
        self.write_lock = threading.Lock()
        # cursors in use, so that closing waits for them (DuckDB refuses to close a
        # connection while a cursor of it runs a statement in another thread)
        self._active = 0
        self._closing = False
        self._idle = threading.Condition()

    @property
    def path(self) -> Path:
        return Path(self.store.path)

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A store on a fresh cursor (closed afterwards)."""
        with self._idle:
            if self._closing:
                raise RuntimeError(f"{self.store.path} is being closed")
            self._active += 1
        try:
            s = self.store.cursor()
            try:
                yield s
            finally:
                s.con.close()
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """A store on a fresh cursor, holding the write lock."""
        if self.read_only:
            raise ReadOnlyError(f"{self.store.path} is open read-only")
        with self.write_lock, self.reading() as s:
            yield s

    def read(self, fn: Callable[[Store], T]) -> T:
        """``fn(store)`` on a fresh cursor."""
        with self.reading() as s:
            return fn(s)

    def write(self, fn: Callable[[Store], T]) -> T:
        """``fn(store)`` on a fresh cursor, holding the write lock."""
        with self.writing() as s:
            return fn(s)

    def close(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Refuse new uses, wait up to ``timeout`` seconds for those under way (a thread still
        answering a request when the service stops), then close the connection."""
        with self._idle:
            self._closing = True
            self._idle.wait_for(lambda: self._active == 0, timeout)
        self.store.close()


__all__ = ["ReadOnlyError", "SharedStore"]
