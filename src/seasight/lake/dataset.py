"""A partitioned Parquet dataset (a "lake"): every table split by day and by MMSI bucket.

Layout (``root`` is a local folder or any fsspec URL, ``memory://``, ``s3://`` ...)::

    <root>/<table>/day=YYYY-MM-DD/bucket=NN/part-<uuid>.parquet
    <root>/_ingested.json          fingerprints of the sources ingested to the end

``day`` is the UTC date of the row's time (``ts``; ``start`` for events); rows without a time go
to ``day=none``. ``bucket`` is ``mmsi % buckets`` (rows without an MMSI, such as rejects, go to
bucket 0): a pure function of the number, so every machine puts a vessel in the same bucket, and
one vessel-day always sits in one partition. The number of buckets is fixed when the lake is
created (recorded in ``<root>/_lake.json``).

Each part is written under a temporary name and renamed into place, so a reader never sees half
a part (on object stores, where a rename is a copy, the temporary name is simply not matched by
readers). Writing the decoded tables drops rows that repeat rows already stored in the same
partitions (same ``msg_hash`` within :data:`seasight.store.dedup.DEDUP_WINDOW_S`, the rule of
:mod:`seasight.store.dedup`), and rejects already stored (same source, line and bytes), so
ingesting a
file again adds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import fsspec
import polars as pl

from seasight.model.batch import DECODED_TABLES, Batch
from seasight.model.schema import DERIVED_TABLES, TABLES, conform
from seasight.store.dedup import DEDUP_WINDOW_S, drop_duplicates

__all__ = [
    "DEFAULT_BUCKETS",
    "LAKE_TABLES",
    "NO_DAY",
    "Lake",
    "Partition",
    "bucket_of",
    "day_bounds",
    "day_of",
]

#: MMSI buckets of a new lake.
DEFAULT_BUCKETS = 16

#: Partition name of rows without a time.
NO_DAY = "none"

#: Table name -> schema of every table a lake holds.
LAKE_TABLES: dict[str, dict[str, pl.DataType]] = {**TABLES, **DERIVED_TABLES}

#: The column giving a table's day.
_TIME_COLUMN = {"events": "start", "segments": "start", "identities": "valid_from"}

_META = "_lake.json"
_INGESTED = "_ingested.json"


def bucket_of(mmsi: pl.Expr | int, buckets: int) -> Any:
    """The bucket of an MMSI (an int or a Polars expression): ``mmsi % buckets``."""
    if isinstance(mmsi, int):
        return mmsi % buckets
    return (mmsi.cast(pl.Int64) % buckets).fill_null(0).cast(pl.Int64)


def day_of(ts: pl.Expr) -> pl.Expr:
    """The partition name of a time column: its UTC date, or ``none``."""
    return ts.dt.convert_time_zone("UTC").dt.date().cast(pl.String).fill_null(NO_DAY)


@dataclass(frozen=True)
class Partition:
    """One (table, day, bucket) folder of the lake."""

    table: str
    day: str
    bucket: int


class Lake:
    """A partitioned Parquet dataset at ``root`` (a path or an fsspec URL).

    Example:
        >>> import polars as pl
        >>> from datetime import datetime, UTC
        >>> lake = Lake("memory://doc-lake", buckets=4)
        >>> ev = pl.DataFrame({"event_id": ["a"], "kind": ["gap"], "mmsi": [5],
        ...                    "start": [datetime(2024, 1, 2, tzinfo=UTC)]})
        >>> lake.write_events(ev)
        1
        >>> lake.partitions("events")
        [Partition(table='events', day='2024-01-02', bucket=1)]
    """

    def __init__(self, root: str, *, buckets: int | None = None,
                 storage_options: dict[str, Any] | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.storage_options = dict(storage_options or {})
        fs, path = fsspec.core.url_to_fs(self.root, **self.storage_options)
        self.fs = fs
        self.path = path.rstrip("/")
        meta = self._read_json(_META)
        if meta is not None:
            stored = int(meta["buckets"])
            if buckets is not None and buckets != stored:
                raise ValueError(f"lake {self.root} has {stored} buckets, not {buckets}")
            self.buckets = stored
        else:
            if buckets is not None and buckets < 1:
                raise ValueError("buckets must be at least 1")
            self.buckets = buckets or DEFAULT_BUCKETS

    # -- small files -----------------------------------------------------------------------

    def _join(self, *parts: str) -> str:
        return "/".join([self.path, *parts])

    def _read_json(self, name: str) -> Any:
        path = self._join(name)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return json.loads(fh.read().decode())

    def _write_json(self, name: str, value: Any) -> None:
        self.fs.makedirs(self.path, exist_ok=True)
        tmp = self._join(f".{name}.{uuid.uuid4().hex}.tmp")
        with self.fs.open(tmp, "wb") as fh:
            fh.write(json.dumps(value, indent=1, sort_keys=True).encode())
        self.fs.mv(tmp, self._join(name))

    def _ensure_meta(self) -> None:
        if self._read_json(_META) is None:
            self._write_json(_META, {"buckets": self.buckets, "layout": 1})

    def ingested(self) -> dict[str, str]:
        """Source -> fingerprint of the sources ingested to the end."""
        got = self._read_json(_INGESTED)
        return dict(got) if got else {}

    def mark_ingested(self, source: str, fingerprint: str) -> None:
        """Record that ``source`` (with ``fingerprint``) has been ingested to the end."""
        done = self.ingested()
        done[source] = fingerprint
        self._write_json(_INGESTED, done)

    # -- listing and reading ---------------------------------------------------------------

    def partitions(self, table: str) -> list[Partition]:
        """The partitions of ``table`` that hold at least one part, sorted by (day, bucket)."""
        _schema(table)
        base = self._join(table)
        if not self.fs.exists(base):
            return []
        found: set[tuple[str, int]] = set()
        for path in self.fs.glob(f"{base}/day=*/bucket=*/part-*.parquet"):
            parts = str(path).rstrip("/").split("/")
            day = parts[-3].removeprefix("day=")
            bucket = int(parts[-2].removeprefix("bucket="))
            found.add((day, bucket))
        return [Partition(table, d, b) for d, b in sorted(found)]

    def days(self, table: str = "positions") -> list[str]:
        """The days (``YYYY-MM-DD``) ``table`` has rows for, in order (``none`` left out)."""
        return sorted({p.day for p in self.partitions(table) if p.day != NO_DAY})

    def _part_paths(self, table: str, day: str, bucket: int) -> list[str]:
        folder = self._join(table, f"day={day}", f"bucket={bucket:02d}")
        try:
            names = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(p) for p in names
                      if str(p).rsplit("/", 1)[-1].startswith("part-")
                      and str(p).endswith(".parquet"))

    def read(
        self,
        table: str,
        *,
        days: Iterable[str] | None = None,
        buckets: Iterable[int] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Rows of ``table`` (its schema, or ``columns`` of it) from the chosen partitions
        (default: all)."""
        schema = _schema(table)
        if columns is not None:
            unknown = [c for c in columns if c not in schema]
            if unknown:
                raise ValueError(f"table {table!r} has no column(s) {', '.join(unknown)}")
            schema = {c: schema[c] for c in columns}
        if days is not None and buckets is not None:
            # named partitions: list just their folders, not the whole table
            chosen = [(d, b) for d in sorted(set(days)) for b in sorted(set(buckets))]
        else:
            want_days = None if days is None else set(days)
            want_buckets = None if buckets is None else set(buckets)
            chosen = [(p.day, p.bucket) for p in self.partitions(table)
                      if (want_days is None or p.day in want_days)
                      and (want_buckets is None or p.bucket in want_buckets)]
        frames = []
        for day, bucket in chosen:
            for path in self._part_paths(table, day, bucket):
                with self.fs.open(path, "rb") as fh:
                    # files written before a column was added to the schema lack it
                    have = pl.read_parquet_schema(fh)
                    fh.seek(0)
                    cols = [c for c in schema if c in have]
                    frames.append(conform(pl.read_parquet(fh, columns=cols), schema))
        if not frames:
            return pl.DataFrame(schema=schema)
        return pl.concat(frames, how="vertical")

    def read_span(
        self, table: str, bucket: int, since: datetime | None, until: datetime | None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Rows of ``table`` in ``bucket`` with a time in [since, until) (None: open end);
        rows without a time are left out."""
        col = _TIME_COLUMN.get(table, "ts")
        if since is not None and until is not None:
            n = (until.date() - since.date()).days
            days = [(since.date() + timedelta(days=i)).isoformat() for i in range(n + 1)]
        else:
            lo = since.date() if since is not None else None
            hi = until.date() if until is not None else None
            days = [d for d in self.days(table)
                    if (lo is None or date.fromisoformat(d) >= lo)
                    and (hi is None or date.fromisoformat(d) <= hi)]
        frame = self.read(table, days=days, buckets=[bucket], columns=columns)
        cond = pl.col(col).is_not_null()
        if since is not None:
            cond &= pl.col(col) >= since
        if until is not None:
            cond &= pl.col(col) < until
        return frame.filter(cond)

    # -- writing ---------------------------------------------------------------------------

    def _write_part(self, table: str, day: str, bucket: int, frame: pl.DataFrame) -> None:
        folder = self._join(table, f"day={day}", f"bucket={bucket:02d}")
        self.fs.makedirs(folder, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = f"{folder}/.{name}.tmp"
        with self.fs.open(tmp, "wb") as fh:
            frame.write_parquet(fh, compression="zstd", statistics=True)
        self.fs.mv(tmp, f"{folder}/{name}")

    def _split(self, table: str, frame: pl.DataFrame) -> dict[tuple[str, int], pl.DataFrame]:
        col = _TIME_COLUMN.get(table, "ts")
        keyed = frame.with_columns(
            (day_of(pl.col(col)) if col in frame.columns else pl.lit(NO_DAY)).alias("__day"),
            (bucket_of(pl.col("mmsi"), self.buckets) if "mmsi" in frame.columns
             else pl.lit(0, dtype=pl.Int64)).alias("__bucket"),
        )
        out: dict[tuple[str, int], pl.DataFrame] = {}
        for (day, bucket), part in keyed.partition_by(["__day", "__bucket"],
                                                       as_dict=True).items():
            out[(str(day), int(bucket))] = part.drop("__day", "__bucket")  # type: ignore[arg-type]
        return out

    def write(self, table: str, frame: pl.DataFrame) -> int:
        """Append ``frame``'s rows to ``table`` as they are (no deduplication); returns rows
        written. Use :meth:`append_batch` for decoded data, :meth:`write_events` for events."""
        schema = _schema(table)
        rows = conform(frame, schema)
        if rows.height == 0:
            return 0
        self._ensure_meta()
        for (day, bucket), part in sorted(self._split(table, rows).items()):
            self._write_part(table, day, bucket, part)
        return rows.height

    def append_batch(self, batch: Batch, *, dedup_window_s: float = DEDUP_WINDOW_S
                     ) -> dict[str, int]:
        """Store a decoded batch: each table's new rows (repeats of stored rows and of each
        other dropped, as the database does) and new rejects. Returns rows added per table."""
        self._ensure_meta()
        added: dict[str, int] = {}
        for name in DECODED_TABLES:
            frame = conform(getattr(batch, name), TABLES[name])
            added[name] = self._append_decoded(name, frame, dedup_window_s)
        added["rejects"] = self._append_rejects(conform(batch.rejects, TABLES["rejects"]))
        return added

    def _append_decoded(self, table: str, frame: pl.DataFrame, window_s: float) -> int:
        if frame.height == 0:
            return 0
        stored = []
        hashes = frame["msg_hash"].unique()
        for day, bucket in self._neighbour_partitions(frame, window_s):
            for path in self._part_paths(table, day, bucket):
                with self.fs.open(path, "rb") as fh:
                    old = pl.read_parquet(fh, columns=["msg_hash", "ts"])
                stored.append(old.filter(pl.col("msg_hash").is_in(hashes.implode())))
        new = drop_duplicates(frame, pl.concat(stored) if stored else None, window_s)
        for (day, bucket), part in sorted(self._split(table, new).items()):
            self._write_part(table, day, bucket, part)
        return new.height

    def _neighbour_partitions(self, frame: pl.DataFrame, window_s: float
                              ) -> set[tuple[str, int]]:
        """The (day, bucket) partitions that can hold a stored repeat of a row of ``frame``:
        its own, and the next or previous day's for rows within ``window_s`` of midnight."""
        window = pl.duration(microseconds=int(window_s * 1e6))
        bucket = bucket_of(pl.col("mmsi"), self.buckets)
        keys = pl.concat([
            frame.select(day_of(pl.col("ts") + shift).alias("day"), bucket.alias("bucket"))
            for shift in (pl.duration(microseconds=0), -window, window)
        ]).unique()
        return {(str(d), int(b)) for d, b in keys.iter_rows()}

    def _append_rejects(self, frame: pl.DataFrame) -> int:
        if frame.height == 0:
            return 0
        key = ["source", "line_no", "raw"]
        frame = frame.unique(subset=key, keep="first", maintain_order=True)
        old = []
        for path in self._part_paths("rejects", NO_DAY, 0):
            with self.fs.open(path, "rb") as fh:
                old.append(pl.read_parquet(fh, columns=key))
        if old:
            frame = frame.join(pl.concat(old).unique(), on=key, how="anti", nulls_equal=True)
        if frame.height:
            self._write_part("rejects", NO_DAY, 0, frame)
        return frame.height

    def write_events(self, events: pl.DataFrame) -> int:
        """Store events by ``event_id``: an id already stored is replaced (an open event that
        newer data extended or closed). Returns the rows written."""
        rows = conform(events, LAKE_TABLES["events"]).unique("event_id", keep="last",
                                                             maintain_order=True)
        if rows.height == 0:
            return 0
        self._ensure_meta()
        self._drop_events(pl.col("event_id").is_in(rows["event_id"].implode()))
        return self.write("events", rows)

    def _drop_events(self, condition: pl.Expr) -> None:
        """Rewrite the event files without their rows matching ``condition``."""
        for part in self.partitions("events"):
            for path in self._part_paths("events", part.day, part.bucket):
                with self.fs.open(path, "rb") as fh:
                    old = pl.read_parquet(fh)
                keep = old.filter(~condition)
                if keep.height == old.height:
                    continue
                if keep.height:
                    self._write_part("events", part.day, part.bucket,
                                     conform(keep, LAKE_TABLES["events"]))
                self.fs.rm(path)

    def replace_open_events(self, events: pl.DataFrame, kinds: Iterable[str]) -> int:
        """:meth:`write_events`, after removing stored open events of ``kinds`` that
        ``events`` (a detection over all the data) no longer holds. Returns rows written."""
        kinds = list(kinds)
        ids = conform(events, LAKE_TABLES["events"])["event_id"].implode()
        self._drop_events(pl.col("is_open") & pl.col("kind").is_in(kinds)
                          & ~pl.col("event_id").is_in(ids))
        return self.write_events(events)

    # -- scratch space (intermediate frames a distributed run exchanges) ---------------------

    def put_frame(self, relpath: str, frame: pl.DataFrame) -> None:
        """Write ``frame`` as one Parquet file at ``relpath`` under the root (atomically)."""
        path = self._join(relpath)
        folder = path.rsplit("/", 1)[0]
        self.fs.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/.{uuid.uuid4().hex}.tmp"
        with self.fs.open(tmp, "wb") as fh:
            frame.write_parquet(fh, compression="lz4")
        self.fs.mv(tmp, path)

    def get_frames(self, reldir: str) -> list[pl.DataFrame]:
        """Every Parquet file :meth:`put_frame` wrote directly in ``reldir`` (none: [])."""
        try:
            names = sorted(str(p) for p in self.fs.ls(self._join(reldir), detail=False))
        except FileNotFoundError:
            return []
        frames = []
        for name in names:
            if name.endswith(".parquet"):
                with self.fs.open(name, "rb") as fh:
                    frames.append(pl.read_parquet(fh))
        return frames

    def remove(self, relpath: str) -> None:
        """Delete ``relpath`` under the root (a file or a folder), if it exists."""
        path = self._join(relpath)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def remove_if_empty(self, relpath: str) -> None:
        """Delete the folder ``relpath`` under the root if it holds nothing."""
        path = self._join(relpath)
        try:
            if not self.fs.ls(path, detail=False):
                self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    def time_range(self, table: str = "positions") -> tuple[datetime, datetime] | None:
        """(first, last) time of ``table``'s rows, or None when it has none."""
        days = self.days(table)
        if not days:
            return None
        col = _TIME_COLUMN.get(table, "ts")
        first = self.read(table, days=[days[0]], columns=[col])[col].min()
        last = self.read(table, days=[days[-1]], columns=[col])[col].max()
        assert isinstance(first, datetime) and isinstance(last, datetime)
        return first, last


def _schema(table: str) -> dict[str, pl.DataType]:
    try:
        return LAKE_TABLES[table]
    except KeyError:
        raise ValueError(f"unknown table {table!r} (known: {', '.join(LAKE_TABLES)})") from None


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """[start, end) of a partition day as UTC datetimes."""
    from datetime import UTC

    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    return start, start + timedelta(days=1)
