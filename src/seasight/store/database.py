"""The embedded store: one DuckDB file holding every table of ``seasight.model.schema``.

Appends are transactional: the rows of a batch and the ingest checkpoint of its source are
committed together, so an ingest killed at any moment (even ``kill -9``) leaves the database at
the last committed chunk, and running the same ingest again continues from there. Each decoded
table is deduplicated on append (see :mod:`seasight.store.dedup`): a new row that repeats a kept one
is dropped, and a stored row that a new, earlier reception supersedes is deleted in the same
transaction as the new row is inserted; rejects are kept once per (source, line, raw bytes).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from seasight.geo.zones import TRUSTED_LIMITS, Zone, zones_from_geojson, zones_to_geojson
from seasight.model.batch import DECODED_TABLES, Batch
from seasight.model.schema import DERIVED_TABLES, EVENTS, TABLES, conform
from seasight.store.dedup import (
    DEDUP_WINDOW_S,
    RECEPTION_KEY,
    Receptions,
    concat_receptions,
    dedup_masks,
    receptions,
)

#: The database file used when none is given.
DEFAULT_DB = Path("seasight.duckdb")

#: Size of the write-ahead log at which DuckDB folds it into the database file.
CHECKPOINT_THRESHOLD = "256MB"

_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.UInt8: "UTINYINT",
    pl.UInt16: "USMALLINT",
    pl.UInt32: "UINTEGER",
    pl.Int8: "TINYINT",
    pl.Int64: "BIGINT",
    pl.Float32: "FLOAT",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.String: "VARCHAR",
    pl.Binary: "BLOB",
    pl.Enum: "VARCHAR",
    pl.Datetime: "TIMESTAMPTZ",
    pl.Date: "DATE",
}


#: Arrow as Polars holds it (text as string views, which DuckDB reads without a conversion).
_ARROW_LEVEL = pl.CompatLevel.newest()

#: Text columns that are often one value for a whole append.
_CONSTANT_CANDIDATES = frozenset({"source", "ts_source"})


def _sql_type(dtype: pl.DataType) -> str:
    return _DUCKDB_TYPES[dtype.base_type()]


def events_where(kinds: Sequence[str] = (), since: datetime | None = None,
                 until: datetime | None = None, mmsi: int | None = None
                 ) -> tuple[str, list[Any]]:
    """SQL condition (and its parameters) on the ``events`` table: events of ``kinds`` that
    overlap [since, until] and concern ``mmsi`` (as either vessel); every filter optional."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params += list(kinds)
    if since is not None:
        where.append('coalesce("end", start) >= ?')
        params.append(since)
    if until is not None:
        where.append("start <= ?")
        params.append(until)
    if mmsi is not None:
        where.append("(mmsi = ? OR other_mmsi = ?)")
        params += [mmsi, mmsi]
    return " AND ".join(where), params


@dataclass(frozen=True)
class Checkpoint:
    """How far the ingest of one source has been committed."""

    source: str
    fingerprint: str
    offset: int
    state: dict[str, Any]
    completed: bool


class Appender:
    """Adds batches to a :class:`Store` inside one open transaction (from
    :meth:`Store.appending`); :meth:`commit` makes what was added durable, with the checkpoint
    of the source it came from, and the next :meth:`add` opens the next transaction.

    Large transactions are what DuckDB writes fastest: each commit leaves a partly filled row
    group in every table that the next checkpoint writes again. Rows of the open transaction
    count as stored for deduplication.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ended = False
        self.in_transaction = False
        self.uncommitted = 0
        #: Stored rows replaced by an earlier reception of the same transmission, per table.
        self.replaced: Counter[str] = Counter()

    def _begin(self) -> None:
        if self.ended:
            raise RuntimeError("the appending block has ended")
        if not self.in_transaction:
            self.store.con.execute("BEGIN TRANSACTION")
            self.in_transaction = True

    def add(self, batch: Batch, *, checked: bool = False,
            superseded: dict[str, Receptions] | None = None) -> dict[str, int]:
        """Store ``batch``'s new rows (duplicates of stored rows and of each other dropped,
        stored rows they supersede deleted); returns by how many rows each table grew.
        ``checked``: the batch has been through a :class:`RepeatFilter` of this appender, so
        its decoded rows are all new, and ``superseded`` (from the filter) are the stored rows
        to delete."""
        self._begin()
        st = self.store
        added: dict[str, int] = {}
        for name in DECODED_TABLES:
            frame = getattr(batch, name)
            if not checked:
                inserted, deleted = st._append_decoded_counts(name, frame)
            else:
                deleted = st._delete_receptions(name, (superseded or {}).get(name))
                if frame.height:
                    st._insert(name, frame)
                inserted = frame.height
            added[name] = inserted - deleted
            if deleted:
                self.replaced[name] += deleted
        added["rejects"] = st._append_rejects(batch.rejects)
        self.uncommitted += sum(max(n, 0) for n in added.values())
        return added

    def commit(self, checkpoint: Checkpoint | None = None) -> None:
        """Commit everything added so far, together with ``checkpoint``."""
        self._begin()
        if checkpoint is not None:
            self.store._save_checkpoint(checkpoint)
        self.in_transaction = False
        self.store.con.execute("COMMIT")
        self.uncommitted = 0

    def rollback(self) -> None:
        """Forget what was added since the last commit, and end the block."""
        self.ended = True
        if self.in_transaction:
            self.in_transaction = False
            self.store.con.execute("ROLLBACK")


class RepeatFilter:
    """Drops the repeated receptions from batches on their way to an :class:`Appender`, in
    another thread than the one that writes (a bulk ingest's decoding thread), and names the
    stored rows that earlier receptions in them supersede.

    A row is judged against the committed rows, read through a cursor of its own, and against
    the rows passed on since the last commit the writer reported (:meth:`committed`), kept in
    memory, less the rows already superseded by batches not yet committed: together these are
    exactly the rows the appender's transaction sees, so the result is the same as
    :meth:`Store.append`'s.
    """

    def __init__(self, store: Store) -> None:
        self.reader = store.cursor()
        self.window_s = store.dedup_window_s
        self._passed: list[tuple[int, dict[str, Receptions]]] = []
        self._gone: list[tuple[int, dict[str, Receptions]]] = []
        self._committed = -1
        self._next = 0

    def committed(self, through: int) -> None:
        """The writer has committed the batches numbered up to ``through`` (called from the
        writing thread)."""
        self._committed = through

    def check(self, batch: Batch) -> tuple[int, Batch, dict[str, Receptions]]:
        """The batch's number (for :meth:`committed`), the batch without repeats, and the
        stored rows (committed or passed on before) that its rows supersede, by table."""
        number, self._next = self._next, self._next + 1
        done = self._committed  # read once: batches up to it are visible to the query below
        self._passed = [(n, rows) for n, rows in self._passed if n > done]
        self._gone = [(n, rows) for n, rows in self._gone if n > done]
        kept: dict[str, pl.DataFrame] = {}
        passed: dict[str, Receptions] = {}
        gone: dict[str, Receptions] = {}
        for name in DECODED_TABLES:
            frame = getattr(batch, name)
            if frame.height:
                frame, passed[name], superseded = self._new_rows(name, frame)
                if len(superseded):
                    gone[name] = superseded
            kept[name] = frame
        if gone:
            self._passed = [(n, {t: r.without(gone[t]) if t in gone else r
                                 for t, r in rows.items()}) for n, rows in self._passed]
            self._gone.append((number, gone))
        self._passed.append((number, passed))
        return number, Batch(**kept, rejects=batch.rejects, skipped=batch.skipped,
                             warnings=batch.warnings), gone

    def _new_rows(self, table: str, frame: pl.DataFrame
                  ) -> tuple[pl.DataFrame, Receptions, Receptions]:
        new = receptions(frame)
        window_us = int(self.window_s * 1e6)
        stored = concat_receptions(
            [self.reader._stored_near(table, new)]
            + [_within(rows[table], new, window_us) for _, rows in self._passed if table in rows]
        )
        for _, rows in self._gone:
            if table in rows:
                stored = stored.without(rows[table])
        if len(stored):  # only stored rows with a hash of the batch matter
            near = pl.Series(stored.msg_hash).is_in(pl.Series(new.msg_hash).implode())
            stored = stored.take(near.to_numpy())
        dup, superseded = dedup_masks(new, stored, self.window_s)
        gone = stored.take(superseded)
        if len(gone):  # the same row may have come from both the cursor and memory
            gone = _unique(gone)
        if not dup.any():
            return frame, new, gone
        return frame.filter(pl.Series(~dup)), new.take(~dup), gone

    def close(self) -> None:
        """Close the reading cursor."""
        self.reader.close()


def _unique(rows: Receptions) -> Receptions:
    first = rows.frame().with_row_index("_i").unique(
        subset=list(RECEPTION_KEY), keep="first")["_i"].to_numpy()
    return rows.take(np.sort(first))


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a setting name: {name!r}")
    return name


def _near_times(rows: Receptions, window_us: int) -> tuple[int, int] | None:
    """The times (µs) within ``window_us`` of the timed ``rows``, as one range; None if no row
    is timed. Rows that could repeat them lie in it (or are untimed, if some of them are)."""
    if not rows.timed.any():
        return None
    timed = rows.ts_us[rows.timed]
    return int(timed.min()) - window_us, int(timed.max()) + window_us


def _within(rows: Receptions, new: Receptions, window_us: int) -> Receptions:
    """The ``rows`` that could repeat the ``new`` rows: as :meth:`Store._stored_near` selects
    them, but from rows in memory."""
    near = np.zeros(len(rows), np.bool_)
    if (span := _near_times(new, window_us)) is not None:
        near |= rows.timed & (rows.ts_us >= span[0]) & (rows.ts_us <= span[1])
    if not new.timed.all():
        near |= ~rows.timed
    if near.all():
        return rows
    return rows.take(near)


class Store:
    """A SeaSight database file.

    Example:
        >>> import tempfile, pathlib
        >>> from seasight.ais import decode_nmea
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "doc.duckdb"
        >>> with Store(path) as store:
        ...     line = b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\n"
        ...     first = store.append(decode_nmea(line))
        ...     again = store.append(decode_nmea(line))
        ...     first["positions"], again["positions"], store.count("positions")
        (1, 0, 1)
    """

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False,
                 dedup_window_s: float = DEDUP_WINDOW_S) -> None:
        self.path = Path(path)
        self.dedup_window_s = dedup_window_s
        self._extra: dict[str, dict[str, pl.DataType]] = {}
        self.read_only = read_only
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        self.con.execute("SET TimeZone = 'UTC'")
        # Rows carry their own order (ts, source, line_no); not keeping insertion order lets
        # DuckDB write large appends straight to the file, about twice as fast.
        self.con.execute("SET preserve_insertion_order = false")
        # Fold the write-ahead log into the file every 256 MB rather than every 16 MB: frequent
        # small commits (live feeds, Store.append) then cost a log append, not a rewrite of the
        # tables' open row groups. A file's bulk ingest sets its own threshold (see ingest).
        self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        # Compress and write each row group of a large append as soon as it is full, rather
        # than five at a time: the work then overlaps with decoding instead of coming in bursts.
        self.con.execute("SET write_buffer_row_group_count = 1")
        if not read_only:
            self._create()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    @contextmanager
    def settings(self, **values: int | str) -> Iterator[None]:
        """DuckDB settings for the block, restored after it (they are database-wide). A bulk
        ingest, for example, sets ``threads`` to leave the other core to its decoding thread.
        """
        before = {name: self.con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]
                  for name in values}
        for name, value in values.items():
            self.con.execute(f"SET {_identifier(name)} = ?", [value])
        try:
            yield
        finally:
            for name, value in before.items():
                self.con.execute(f"SET {_identifier(name)} = ?", [value])

    def cursor(self) -> Store:
        """This store on a new cursor: its own connection to the same database, for another
        thread (close it when done)."""
        other = copy.copy(self)
        other.con = self.con.cursor()
        other.con.execute("SET TimeZone = 'UTC'")
        return other

    def _create(self) -> None:
        for name, schema in {**TABLES, **DERIVED_TABLES}.items():
            cols = ", ".join(f'"{c}" {_sql_type(t)}' for c, t in schema.items())
            key = ", PRIMARY KEY (event_id)" if name == "events" else ""
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols}{key})")
            for c, t in schema.items():  # columns added to a schema since the file was made
                self.con.execute(
                    f'ALTER TABLE {name} ADD COLUMN IF NOT EXISTS "{c}" {_sql_type(t)}')
        self.con.execute(
            """CREATE TABLE IF NOT EXISTS zones (
                name VARCHAR PRIMARY KEY, feature JSON, updated_at TIMESTAMPTZ)"""
        )
        self.con.execute(
            """CREATE TABLE IF NOT EXISTS ingest_checkpoints (
                source VARCHAR PRIMARY KEY, fingerprint VARCHAR, "offset" BIGINT,
                state JSON, completed BOOLEAN, updated_at TIMESTAMPTZ)"""
        )
        self.con.execute(
            """CREATE TABLE IF NOT EXISTS derived_state (
                name VARCHAR PRIMARY KEY, value VARCHAR, updated_at TIMESTAMPTZ)"""
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def append(self, batch: Batch, checkpoint: Checkpoint | None = None) -> dict[str, int]:
        """Store ``batch``'s new rows (duplicates dropped) and the checkpoint, atomically.

        Returns the number of rows added to each table.
        """
        with self.appending() as appender:
            added = appender.add(batch)
            appender.commit(checkpoint)
        return added

    @contextmanager
    def appending(self) -> Iterator[Appender]:
        """One transaction for many batches (a bulk ingest): see :class:`Appender`. Rows added
        and not yet committed when the block ends, normally or not, are rolled back."""
        appender = Appender(self)
        try:
            yield appender
        finally:
            appender.rollback()

    def _append_decoded(self, table: str, frame: pl.DataFrame) -> int:
        """Insert ``frame``'s new rows, delete the stored rows they supersede; returns by how
        many rows the table grew."""
        inserted, deleted = self._append_decoded_counts(table, frame)
        return inserted - deleted

    def _append_decoded_counts(self, table: str, frame: pl.DataFrame) -> tuple[int, int]:
        """As :meth:`_append_decoded`; returns (rows inserted, rows deleted)."""
        if frame.height == 0:
            return 0, 0
        rows = receptions(frame)
        stored = self._stored_near(table, rows)
        dup, superseded = dedup_masks(rows, stored, self.dedup_window_s)
        deleted = self._delete_receptions(table, stored.take(superseded))
        new = frame.filter(pl.Series(~dup)) if dup.any() else frame
        if new.height:
            self._insert(table, new)
        return new.height, deleted

    def _delete_receptions(self, table: str, rows: Receptions | None) -> int:
        """Delete the stored rows of ``table`` with the hash, time, station and source of
        ``rows`` (each is one kept reception: no two stored rows share all of these); returns
        how many."""
        if rows is None or not len(rows):
            return 0
        conds, params = ["FALSE"], []
        if (span := _near_times(rows, 0)) is not None:  # lets DuckDB skip row groups by time
            conds.append("(t.ts BETWEEN make_timestamptz(?) AND make_timestamptz(?))")
            params += list(span)
        if not rows.timed.all():
            conds.append("t.ts IS NULL")
        self.con.register("_gone", rows.frame().unique().to_arrow())
        try:
            got = self.con.execute(
                f"""DELETE FROM {table} t USING _gone g
                    WHERE ({' OR '.join(conds)}) AND t.msg_hash = g.msg_hash
                      AND t.station IS NOT DISTINCT FROM g.station
                      AND t.source IS NOT DISTINCT FROM g.source
                      AND (CASE WHEN g.timed THEN epoch_us(t.ts) = g.ts_us
                                ELSE t.ts IS NULL END)""",
                params,
            ).fetchall()
        finally:
            self.con.unregister("_gone")
        return int(got[0][0]) if got else 0

    def _insert(self, table: str, frame: pl.DataFrame) -> None:
        """Append ``frame``'s rows. Provenance text that is the same on every row (a file's
        ``source``, often its ``ts_source``) is passed once as a value: DuckDB then stores a
        constant instead of converting the same string for each row."""
        columns, params, arrow = [], [], []
        for name in frame.columns:
            col = frame[name]
            if name in _CONSTANT_CANDIDATES and col.null_count() == 0 and col.n_unique() == 1:
                columns.append("?::VARCHAR")
                params.append(col[0])
            else:
                columns.append(f'"{name}"')
                arrow.append(name)
        self.con.register("_new_rows", frame.select(arrow).to_arrow(compat_level=_ARROW_LEVEL))
        try:
            self.con.execute(
                f"INSERT INTO {table} ({', '.join(chr(34) + c + chr(34) for c in frame.columns)}) "
                f"SELECT {', '.join(columns)} FROM _new_rows", params
            )
        finally:
            self.con.unregister("_new_rows")

    def _stored_near(self, table: str, rows: Receptions) -> Receptions:
        """The stored rows that could repeat ``rows`` (or that they could supersede): those
        with one of their hashes, within the deduplication window of their times (or without
        a time, if some rows have none)."""
        window_us = int(self.dedup_window_s * 1e6)
        conds = []
        params: list[Any] = []
        if (span := _near_times(rows, window_us)) is not None:
            conds.append("(ts BETWEEN make_timestamptz(?) AND make_timestamptz(?))")
            params += list(span)
        if not rows.timed.all():
            conds.append("ts IS NULL")
        self.con.register("_batch_hashes", pa.table({"msg_hash": rows.msg_hash}))
        try:
            got = self.con.sql(
                f"""SELECT msg_hash, coalesce(epoch_us(ts), 0) AS t, ts IS NOT NULL AS v,
                           station, source
                    FROM {table} WHERE ({' OR '.join(conds)})
                      AND msg_hash IN (SELECT msg_hash FROM _batch_hashes)""",
                params=params,
            ).pl()
        finally:
            self.con.unregister("_batch_hashes")
        return Receptions(got["msg_hash"].to_numpy().astype(np.int64),
                          got["t"].to_numpy().astype(np.int64),
                          got["v"].to_numpy().astype(np.bool_), got["station"].cast(pl.String),
                          got["source"].cast(pl.String))

    def _append_rejects(self, frame: pl.DataFrame) -> int:
        if frame.height == 0:
            return 0
        self.con.register("_new_rejects", frame.to_arrow())
        try:
            before = self.count("rejects")
            self.con.execute(
                """INSERT INTO rejects SELECT n.* FROM _new_rejects n
                   WHERE NOT EXISTS (SELECT 1 FROM rejects r WHERE r.source = n.source
                                     AND r.line_no = n.line_no AND r.raw = n.raw)"""
            )
            return self.count("rejects") - before
        finally:
            self.con.unregister("_new_rejects")

    def _save_checkpoint(self, cp: Checkpoint) -> None:
        self.con.execute(
            """INSERT OR REPLACE INTO ingest_checkpoints
               VALUES (?, ?, ?, ?, ?, now())""",
            [cp.source, cp.fingerprint, cp.offset, json.dumps(cp.state), cp.completed],
        )

    def checkpoint(self, source: str) -> Checkpoint | None:
        """The last committed checkpoint of ``source``, if any."""
        rows = self.con.execute(
            """SELECT source, fingerprint, "offset", state, completed
               FROM ingest_checkpoints WHERE source = ?""",
            [source],
        ).fetchall()
        if not rows:
            return None
        row = rows[0]
        return Checkpoint(row[0], row[1], int(row[2]), json.loads(row[3]), bool(row[4]))

    def create_table(self, name: str, schema: dict[str, pl.DataType],
                     key: Sequence[str] = ()) -> None:
        """Create a table of a later stage (watchlists, alerts, ...) if it does not exist.

        Stages declare their own schemas; ``key`` columns form the primary key (needed for
        :meth:`upsert`). Columns the schema gained since the table was made are added (at the
        end of the table: rows written to it by position must list them last, or be written
        ``BY NAME``).
        """
        self._extra[name] = schema
        if self.read_only:  # DuckDB refuses DDL on a read-only file, even IF NOT EXISTS
            return
        cols = ", ".join(f'"{c}" {_sql_type(t)}' for c, t in schema.items())
        pk = f", PRIMARY KEY ({', '.join(chr(34) + k + chr(34) for k in key)})" if key else ""
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols}{pk})")
        have = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [name]).fetchall()}
        for c, t in schema.items():
            if c not in have:
                self.con.execute(f'ALTER TABLE {name} ADD COLUMN "{c}" {_sql_type(t)}')

    def _schema(self, table: str) -> dict[str, pl.DataType]:
        schema = DERIVED_TABLES.get(table) or TABLES.get(table) or self._extra.get(table)
        if schema is None:
            raise ValueError(f"unknown table {table!r}")
        return schema

    def replace(self, table: str, frame: pl.DataFrame, where: str | None = None,
                params: list[Any] | None = None) -> None:
        """Replace the rows of ``table`` (all of them, or those matching the SQL condition
        ``where``) by ``frame``, in one transaction."""
        if table in TABLES or table == "events":
            raise ValueError(f"{table!r} is not a replaceable table")
        rows = conform(frame, self._schema(table))
        with self.transaction():
            self.con.execute(f"DELETE FROM {table}" + (f" WHERE {where}" if where else ""),
                             params or [])
            self._insert_rows(table, rows)

    def insert(self, table: str, frame: pl.DataFrame) -> int:
        """Append ``frame``'s rows to a table of a later stage; returns the rows added."""
        if table in TABLES:
            raise ValueError(f"append decoded rows with Store.append, not insert ({table!r})")
        rows = conform(frame, self._schema(table))
        with self.transaction():
            self._insert_rows(table, rows)
        return rows.height

    def upsert(self, table: str, frame: pl.DataFrame, key: Sequence[str]) -> None:
        """Insert ``frame``'s rows, replacing rows with the same ``key`` (the table's key)."""
        rows = conform(frame, self._schema(table))
        if rows.height == 0:
            return
        cols = [c for c in rows.columns if c not in key]
        assign = ", ".join(f'"{c}" = excluded."{c}"' for c in cols)
        conflict = ", ".join(f'"{k}"' for k in key)
        action = f"DO UPDATE SET {assign}" if cols else "DO NOTHING"
        self.con.register("_rows", rows.to_arrow())
        try:
            with self.transaction():
                self.con.execute(f"INSERT INTO {table} SELECT * FROM _rows "
                                 f"ON CONFLICT ({conflict}) {action}")
        finally:
            self.con.unregister("_rows")

    def _insert_rows(self, table: str, rows: pl.DataFrame) -> None:
        if rows.height == 0:
            return
        self.con.register("_rows", rows.to_arrow())
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
        finally:
            self.con.unregister("_rows")

    def upsert_events(self, events: pl.DataFrame,
                      retire_open: Collection[str] = ()) -> tuple[int, int, int]:
        """Store ``events`` by their stable ``event_id``: new ids are added, known ids updated
        (an open event extended or closed by newer data). Returns (added, updated, removed);
        an event found again unchanged counts as none of them, so detecting twice adds nothing.

        ``retire_open`` names kinds that ``events`` holds *all* of (a detection over all the
        stored data): their stored events that were still open and are not in ``events`` are
        removed, since newer data showed them to be something else (an open event is
        provisional). Closed events are never removed.
        """
        rows = conform(events, EVENTS).unique("event_id", keep="last")
        cols = [c for c in EVENTS if c != "event_id"]
        changed = " OR ".join(f'e."{c}" IS DISTINCT FROM n."{c}"' for c in cols)
        self.con.register("_events", rows.to_arrow())
        try:
            with self.transaction():
                removed = 0
                if retire_open:
                    kinds = list(retire_open)
                    marks = ", ".join("?" for _ in kinds)
                    stale = (f"FROM events WHERE is_open AND kind IN ({marks}) AND event_id "
                             f"NOT IN (SELECT event_id FROM _events)")
                    removed = int(self.con.execute(f"SELECT count(*) {stale}",
                                                   kinds).fetchall()[0][0])
                    self.con.execute(f"DELETE {stale}", kinds)
                # a changed event is deleted and stored again, so that it comes after the
                # rows already read by whoever follows the table by rowid (the live stream)
                stale_ids = (f"SELECT e.event_id FROM events e JOIN _events n "
                             f"USING (event_id) WHERE {changed}")
                updated = int(self.con.execute(f"SELECT count(*) FROM ({stale_ids})"
                                               ).fetchall()[0][0])
                if updated:
                    self.con.execute(f"DELETE FROM events WHERE event_id IN ({stale_ids})")
                before = self.count("events")
                if rows.height:
                    self.con.execute(
                        "INSERT INTO events SELECT * FROM _events n WHERE NOT EXISTS "
                        "(SELECT 1 FROM events e WHERE e.event_id = n.event_id)")
                added = self.count("events") - before - updated
        finally:
            self.con.unregister("_events")
        return added, updated, removed

    def save_zones(self, zones: Sequence[Zone]) -> None:
        """Keep ``zones`` (user polygons) in the database, replacing zones of the same name."""
        features = zones_to_geojson(zones)["features"]
        with self.transaction():
            for zone, feature in zip(zones, features, strict=True):
                self.con.execute("INSERT OR REPLACE INTO zones VALUES (?, ?, now())",
                                 [zone.name, json.dumps(feature)])

    def zones(self) -> list[Zone]:
        """The zones kept in the database, by name."""
        rows = self.con.execute("SELECT feature FROM zones ORDER BY name").fetchall()
        collection = {"type": "FeatureCollection", "features": [json.loads(r[0]) for r in rows]}
        return zones_from_geojson(collection, source="stored zones",
                                  limits=TRUSTED_LIMITS) if rows else []

    def zone_sizes(self, organisation: str, unowned: str) -> list[tuple[str, int]]:
        """(name, vertices) of the stored zones of ``organisation`` (zones without one belong
        to ``unowned``), vertices counted in the stored GeoJSON text, for quotas."""
        rows = self.con.execute(
            "SELECT name, len(regexp_extract_all(json_extract(feature, '$.geometry')::VARCHAR,"
            " '\\[\\s*-?[0-9.]')) FROM zones WHERE coalesce(json_extract_string("
            "feature, '$.properties.organisation'), ?) = ?", [unowned, organisation]).fetchall()
        return [(str(name), int(n)) for name, n in rows]

    def delete_zone(self, name: str) -> bool:
        """Forget a stored zone; False when there was none of that name."""
        with self.transaction():
            found = self.con.execute("SELECT count(*) FROM zones WHERE name = ?",
                                     [name]).fetchall()[0][0]
            self.con.execute("DELETE FROM zones WHERE name = ?", [name])
        return bool(found)

    def count(self, table: str) -> int:
        """Rows in ``table``."""
        if table not in ("ingest_checkpoints", "zones"):
            self._schema(table)
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` exists (tables of later stages are created on first use;
        looked up, not tried: a failed statement would spoil an open transaction)."""
        got = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return bool(got[0][0])

    def last_rowid(self, table: str) -> int:
        """The highest ``rowid`` of ``table`` (-1 when it is empty or does not exist): a
        watermark for "rows appended since" (rows are only ever appended to the tables read
        this way)."""
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        if not self.has_table(table):
            return -1
        got = self.con.execute(f"SELECT coalesce(max(rowid), -1) FROM {table}").fetchall()
        return int(got[0][0])

    def digest(self, table: str, where: str = "TRUE") -> str:
        """A digest of the rows of ``table`` (those meeting ``where``): equal digests mean the
        same rows, in any order ("0:0" when it is empty or does not exist). Derived tables
        record the digest of what they were computed from, to know when they are stale."""
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        if not self.has_table(table):
            return "0:0"
        n, h = self.con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {table} t "
            f"WHERE {where}").fetchall()[0]
        return f"{int(n)}:{int(h)}"

    def state(self, name: str) -> str | None:
        """A value stored with :meth:`set_state` (None when never set)."""
        if not self.has_table("derived_state"):
            return None
        got = self.con.execute("SELECT value FROM derived_state WHERE name = ?",
                               [name]).fetchall()
        return str(got[0][0]) if got else None

    def set_state(self, name: str, value: str) -> None:
        """Keep ``value`` under ``name`` (what a derived table was computed from)."""
        self.con.execute(
            "INSERT OR REPLACE INTO derived_state VALUES (?, ?, now())", [name, value])

    def table(self, name: str, where: str | None = None) -> pl.DataFrame:
        """A whole table (optionally filtered by a SQL condition) as a Polars frame."""
        self._schema(name)  # unknown names are an error, not SQL
        sql = f"SELECT * FROM {name}" + (f" WHERE {where}" if where else "")
        return self.con.sql(sql).pl()

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a read query and return a Polars frame."""
        return self.con.sql(sql, params=params).pl()
