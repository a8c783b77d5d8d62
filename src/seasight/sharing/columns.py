"""What goes out to a partner: one explicit list of columns per kind of output and data class.

:data:`PARTNER_COLUMNS` is the single table; :func:`partner_view` keeps exactly those columns
(in that order) of a frame the policy has judged, so that every format written from it (JSON,
CSV, GeoJSON, KML, Parquet) carries the same fields and nothing internal: no ``source`` paths
or feed addresses, ``station``, ``line_no``, ``msg_hash``, ``origin`` / ``origins`` or the
ship types the policy judges events by. A column of the ``identities`` class is blanked by
:func:`seasight.sharing.permitted` on rows whose origins do not grant ``identities``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

#: kind of output -> data class -> the columns of that class a partner receives.
PARTNER_COLUMNS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "positions": {
        "positions": ("mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status"),
        "identities": ("ship_type",),
    },
    "tracks": {
        "positions": ("mmsi", "ts", "lat", "lon"),
    },
    "events": {
        "events": ("event_id", "kind", "mmsi", "other_mmsi", "start", "end", "lat", "lon",
                   "zone", "score", "is_open", "evidence", "detector"),
    },
}


def partner_columns(kind: str) -> tuple[str, ...]:
    """The columns of ``kind`` (``positions``, ``tracks``, ``events``) a partner receives.

    Raises:
        KeyError: unknown kind.
    """
    return tuple(c for cols in PARTNER_COLUMNS[kind].values() for c in cols)


def partner_view(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly :func:`partner_columns` (a column it lacks comes as nulls)."""
    return frame.select([pl.col(c) if c in frame.columns else pl.lit(None).alias(c)
                         for c in partner_columns(kind)])


__all__ = ["PARTNER_COLUMNS", "partner_columns", "partner_view"]
