"""Export a database to a lake (``seasight export --lake DIR``)."""

from __future__ import annotations

import polars as pl

from seasight.lake.dataset import LAKE_TABLES, Lake
from seasight.store import Store

__all__ = ["EXPORT_ROWS", "export_lake"]

#: Rows read from the database and written at a time.
EXPORT_ROWS = 1_000_000


def export_lake(store: Store, lake: Lake | str, *, batch_rows: int = EXPORT_ROWS,
                tables: tuple[str, ...] | None = None) -> dict[str, int]:
    """Copy every table of ``store`` (decoded tables, rejects, segments, identities, events)
    into ``lake`` (a :class:`Lake` or a root path/URL), partitioned by day and MMSI bucket.

    Decoded rows already in the lake are not written twice, events replace stored events of
    the same id, and derived tables (segments, identities) are appended. Returns the rows
    written per table. Reads ``batch_rows`` rows at a time, so memory does not grow with the
    database.
    """
    target = lake if isinstance(lake, Lake) else Lake(lake)
    names = tables if tables is not None else tuple(LAKE_TABLES)
    written: dict[str, int] = {}
    for name in names:
        if name not in LAKE_TABLES:
            raise ValueError(f"unknown table {name!r}")
        reader = store.con.sql(f"SELECT * FROM {name}").to_arrow_reader(batch_rows)
        total = 0
        for record_batch in reader:
            frame = pl.from_arrow(record_batch)
            assert isinstance(frame, pl.DataFrame)
            if frame.height == 0:
                continue
            total += _write(target, name, frame)
        written[name] = total
    return written


def _write(lake: Lake, name: str, frame: pl.DataFrame) -> int:
    from seasight.model.batch import DECODED_TABLES, Batch

    if name in DECODED_TABLES or name == "rejects":
        batch = Batch()
        setattr(batch, name, frame)
        return lake.append_batch(batch)[name]
    if name == "events":
        return lake.write_events(frame)
    return lake.write(name, frame)
