"""The current picture: each vessel's latest position, kept up to date from ``positions``.

The map asks "where is every vessel now, in this viewport" many times a second; answering it
from ``positions`` means a GROUP BY over every report ever stored. ``vessel_latest`` holds one
row per MMSI instead, and :func:`refresh_latest` merges in only the reports stored since the
last refresh (``positions`` is append-only, so its ``rowid`` orders arrivals). A report older
than the one held (a late or replayed line) does not move the vessel back.
"""

from __future__ import annotations

from typing import Final

from seasight.store.database import Store

#: Columns of ``vessel_latest``.
LATEST_DDL: Final = """
CREATE TABLE IF NOT EXISTS vessel_latest (
    mmsi UINTEGER PRIMARY KEY, ts TIMESTAMPTZ, lat DOUBLE, lon DOUBLE, sog FLOAT, cog FLOAT,
    heading USMALLINT, last_row BIGINT);
CREATE TABLE IF NOT EXISTS vessel_latest_mark (positions_rowid BIGINT)
"""


def _mark(store: Store) -> int | None:
    if not store.has_table("vessel_latest_mark"):
        return None
    got = store.con.execute("SELECT max(positions_rowid) FROM vessel_latest_mark").fetchall()
    return -1 if got[0][0] is None else int(got[0][0])


def latest_is_fresh(store: Store) -> bool:
    """True when ``vessel_latest`` holds every stored report."""
    mark = _mark(store)
    return mark is not None and mark >= store.last_rowid("positions")


def refresh_latest(store: Store) -> int:
    """Merge the reports stored since the last refresh into ``vessel_latest`` (creating it
    the first time); returns the number of reports read. Call it holding the write lock."""
    store.con.execute(LATEST_DDL)
    mark = _mark(store)
    assert mark is not None
    top = store.last_rowid("positions")
    if top <= mark:
        return 0
    with store.transaction():
        store.con.execute("""
            INSERT INTO vessel_latest
            SELECT mmsi, max(ts), arg_max(lat, ts), arg_max(lon, ts), arg_max(sog, ts),
                   arg_max(cog, ts), arg_max(heading, ts), max(rowid)
            FROM positions
            WHERE rowid > ? AND rowid <= ? AND ts IS NOT NULL
              AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180
            GROUP BY mmsi
            ON CONFLICT (mmsi) DO UPDATE SET
                ts = excluded.ts, lat = excluded.lat, lon = excluded.lon, sog = excluded.sog,
                cog = excluded.cog, heading = excluded.heading, last_row = excluded.last_row
            WHERE excluded.ts >= vessel_latest.ts""", [mark, top])
        store.con.execute("DELETE FROM vessel_latest_mark")
        store.con.execute("INSERT INTO vessel_latest_mark VALUES (?)", [top])
    return top - mark


__all__ = ["latest_is_fresh", "refresh_latest"]
