"""One store shared by the threads of a long-running process (the service, live ingest).

DuckDB connections must not be used by two threads at once, so each user takes its own cursor
of the one connection (:meth:`SharedStore.reading`); writers additionally hold one lock, so two
writers never race on the same rows. Readers never wait for writers (DuckDB's MVCC gives each
cursor a consistent snapshot).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from seasight.store.database import Store

T = TypeVar("T")


class ReadOnlyError(PermissionError):
    """A write was asked of a store opened read-only."""


class SharedStore:
    """A :class:`Store` handed out as a fresh cursor per use."""

    def __init__(self, db: str | Path, *, read_only: bool = False) -> None:
        self.store = Store(db, read_only=read_only)
        self.read_only = read_only
        self.write_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return Path(self.store.path)

    def _cursor_store(self) -> Store:
        s = copy.copy(self.store)
        s.con = self.store.con.cursor()
        s.con.execute("SET TimeZone = 'UTC'")
        return s

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A store on a fresh cursor (closed afterwards)."""
        s = self._cursor_store()
        try:
            yield s
        finally:
            s.con.close()

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

    def close(self) -> None:
        self.store.close()


__all__ = ["ReadOnlyError", "SharedStore"]
