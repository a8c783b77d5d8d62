"""Clean position reports into track points: the first step from the store to vessel tracks.

:func:`clean_positions` takes decoded positions (the POSITIONS table, in any order, from any
number of receivers) and returns the points of the vessels' tracks (TRACK_POINTS, without
``segment_id``; :func:`seasight.tracks.segment.segment_tracks` fills it) plus every row it left
out, with the reason. Nothing is dropped silently.

Rules, in order (the first that applies names the reason in ``dropped``):

``no_timestamp``
    the row has no time (a file without timestamps): it cannot be placed on a track.
``no_mmsi``
    the row has no MMSI.
``no_position``
    latitude or longitude missing (the decoder already turns the AIS not-available values
    91 / 181 into nulls; the raw values are treated the same way here too).
``impossible_position``
    latitude outside [-90, 90] or longitude outside [-180, 180].
``null_island``
    exactly (0, 0): a receiver without a GPS fix, never a real vessel position
    (:attr:`CleanParams.drop_null_island`).
``not_a_vessel``
    the station is not a vessel (:attr:`CleanParams.drop_non_vessels`): SAR aircraft (message
    type 9 or an MMSI ``111MIDxxx``), aids to navigation (``99MIDxxxx``), coast stations
    (``00MIDxxxx``), and AIS-SART / man-overboard / EPIRB beacons (``970``/``972``/``974``).
    Their tracks would trip every ship detector (an aircraft "speeding" at 120 kn, a beacon
    "loitering"). Every other MMSI is kept, including invalid ones (``0``, ``123456789``,
    unallocated MIDs): those are still transmitters at sea, and
    :func:`seasight.tracks.identity.invalid_mmsi` flags them for risk scoring.
``duplicate``
    another row has the same (mmsi, ts): the same report heard by several stations, or a
    report repeated in the feed. The most complete row is kept (most non-null of sog, cog,
    heading, nav_status, msg_type); ties are broken by the values themselves (lat, lon, sog,
    ...), so which row survives never depends on the input order.

Values that are impossible but do not invalidate the fix are nulled, not dropped: speed over
ground above :attr:`CleanParams.max_sog_kn` (102.2 kn is the largest AIS value; 102.3 means
"not available"), course outside [0, 360), heading outside [0, 360).

The result is sorted by (mmsi, ts) whatever the arrival order, and ``on_land`` is set with
:func:`seasight.geo.land.on_land` (a 1 km land/sea grid: a vessel moored at a quay may show as
on land; the spoofing detector only acts on long runs well inland).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl

from seasight.geo.land import on_land
from seasight.model.schema import POSITIONS, TRACK_POINTS, conform, empty
from seasight.tracks._sort import sort_index, tie_groups
from seasight.tracks.identity import mmsi_kind

__all__ = [
    "DROP_REASONS",
    "NOT_VESSEL_KINDS",
    "CleanParams",
    "CleanResult",
    "clean_positions",
]

#: Reasons a position row is left out of the tracks, in the order they are checked.
DROP_REASONS: Final = (
    "no_timestamp",
    "no_mmsi",
    "no_position",
    "impossible_position",
    "null_island",
    "not_a_vessel",
    "duplicate",
)

#: MMSI kinds (:data:`seasight.tracks.identity.MMSI_KINDS`) that are not vessels.
NOT_VESSEL_KINDS: Final = ("coast", "sar_aircraft", "aton", "sart", "mob", "epirb")

#: AIS message type of the SAR aircraft position report.
SAR_AIRCRAFT_MSG_TYPE: Final = 9

# POSITIONS columns carried into TRACK_POINTS.
_POINT_COLUMNS: Final = (
    "mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status", "msg_type"
)
# Columns counted for "the most complete row" among duplicates.
_COMPLETENESS: Final = ("sog", "cog", "heading", "nav_status", "msg_type")
# Tie-breakers after completeness: the track point's own values.
_TIE_BREAK: Final = ("lat", "lon", "sog", "cog", "heading", "nav_status", "msg_type")


@dataclass(frozen=True)
class CleanParams:
    """Parameters of :func:`clean_positions`."""

    #: Speeds over ground above this (knots) are set to null; 102.2 is the AIS maximum.
    max_sog_kn: float = 102.2
    #: Drop fixes at exactly (0, 0) (``null_island``).
    drop_null_island: bool = True
    #: Drop stations that are not vessels (``not_a_vessel``, see the module documentation).
    drop_non_vessels: bool = True
    #: Compute ``on_land`` with :func:`seasight.geo.land.on_land`; when False it is null.
    flag_on_land: bool = True


@dataclass(frozen=True)
class CleanResult:
    """What :func:`clean_positions` returns.

    ``points``: TRACK_POINTS rows (``segment_id`` null) sorted by (mmsi, ts). ``dropped``: the
    POSITIONS rows left out, plus a ``reason`` column (one of :data:`DROP_REASONS`), sorted by
    (mmsi, ts, reason). ``sog_nulled``: how many kept rows had their speed set to null.
    """

    points: pl.DataFrame
    dropped: pl.DataFrame
    sog_nulled: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def n_points(self) -> int:
        return self.points.height


def _reason_expr(params: CleanParams, not_vessels: pl.Series) -> pl.Expr:
    lat, lon = pl.col("lat"), pl.col("lon")
    expr = (
        pl.when(pl.col("ts").is_null())
        .then(pl.lit("no_timestamp"))
        .when(pl.col("mmsi").is_null())
        .then(pl.lit("no_mmsi"))
        .when(lat.is_null() | lon.is_null() | lat.is_nan() | lon.is_nan() | (lat == 91)
              | (lon == 181))
        .then(pl.lit("no_position"))
        .when((lat < -90) | (lat > 90) | (lon < -180) | (lon > 180))
        .then(pl.lit("impossible_position"))
    )
    if params.drop_null_island:
        expr = expr.when((lat == 0) & (lon == 0)).then(pl.lit("null_island"))
    if params.drop_non_vessels:
        expr = expr.when(
            (pl.col("msg_type") == SAR_AIRCRAFT_MSG_TYPE).fill_null(False)
            | pl.col("mmsi").is_in(not_vessels.implode())
        ).then(pl.lit("not_a_vessel"))
    return expr.otherwise(pl.lit(None, dtype=pl.String)).alias("reason")


def _not_vessel_mmsis(frame: pl.DataFrame) -> pl.Series:
    unique = frame["mmsi"].drop_nulls().unique()
    if unique.len() == 0:
        return pl.Series("mmsi", [], dtype=pl.UInt32)
    kinds = mmsi_kind(unique.to_numpy())
    return unique.filter(pl.Series(np.isin(kinds, NOT_VESSEL_KINDS)))


def _collapse_duplicates(valid: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows unique by (mmsi, ts), duplicate rows left out); ``valid`` sorted by (mmsi, ts)."""
    in_group = tie_groups(valid["mmsi"].to_numpy(), valid["ts"].dt.epoch("us").to_numpy())
    if not in_group.any():
        return valid, valid.clear()
    mask = pl.Series(in_group)
    groups = valid.filter(mask)
    completeness = pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int8) for c in
                                      _COMPLETENESS])
    groups = groups.with_columns(completeness.alias("_complete")).sort(
        ["mmsi", "ts", "_complete", *_TIE_BREAK],
        descending=[False, False, True] + [False] * len(_TIE_BREAK),
        nulls_last=True,
    )
    g_mmsi = groups["mmsi"].to_numpy()
    g_ts = groups["ts"].dt.epoch("us").to_numpy()
    first = np.ones(groups.height, dtype=bool)
    first[1:] = (g_mmsi[1:] != g_mmsi[:-1]) | (g_ts[1:] != g_ts[:-1])
    keep = pl.Series(first)
    kept = pl.concat([valid.filter(~mask), groups.filter(keep).drop("_complete")])
    order = sort_index(kept["mmsi"], kept["ts"])
    return (kept if order is None else kept[order]), groups.filter(~keep).drop("_complete")


def clean_positions(
    positions: pl.DataFrame, params: CleanParams = CleanParams()
) -> CleanResult:
    """Track points from decoded positions: see the module documentation for the rules.

    ``positions`` has the POSITIONS columns (missing columns are taken as null). The result
    does not depend on the order of the input rows.
    """
    frame = conform(positions, POSITIONS)
    if frame.height == 0:
        dropped = empty(POSITIONS).with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
        return CleanResult(points=empty(TRACK_POINTS), dropped=dropped)
    frame = frame.with_columns(_reason_expr(params, _not_vessel_mmsis(frame)))
    rejected = frame.filter(pl.col("reason").is_not_null())
    # only the columns a track point needs travel through the sort (plus the row number)
    valid = (
        frame.with_row_index("_row")
        .filter(pl.col("reason").is_null())
        .select("_row", *_POINT_COLUMNS)
    )
    order = sort_index(valid["mmsi"], valid["ts"])
    if order is not None:
        valid = valid[order]

    valid, duplicates = _collapse_duplicates(valid)
    duplicate_rows = frame[duplicates["_row"].to_numpy()].with_columns(
        pl.lit("duplicate").alias("reason")
    )
    valid = valid.drop("_row")
    dropped = pl.concat([rejected, duplicate_rows]).sort(
        ["mmsi", "ts", "reason", "lat", "lon", "sog", "cog", "heading", "nav_status", "msg_type"],
        nulls_last=True,
    )

    too_fast = (pl.col("sog") > params.max_sog_kn).fill_null(False) | pl.col("sog").is_nan()
    sog_nulled = int(valid.select(too_fast.sum()).item() or 0)
    points = valid.with_columns(
        pl.when(too_fast).then(None).otherwise(pl.col("sog")).alias("sog"),
        pl.when((pl.col("cog") >= 0) & (pl.col("cog") < 360)).then(pl.col("cog")).alias("cog"),
        pl.when(pl.col("heading") < 360).then(pl.col("heading")).alias("heading"),
    )
    if params.flag_on_land and points.height:
        land = np.asarray(
            on_land(points["lat"].to_numpy(), points["lon"].to_numpy()), dtype=bool
        )
        points = points.with_columns(pl.Series("on_land", land, dtype=pl.Boolean))
    else:
        points = points.with_columns(pl.lit(None, dtype=pl.Boolean).alias("on_land"))
    counts: Counter[str] = Counter(
        {str(r): int(n) for r, n in dropped.group_by("reason").len().iter_rows()}
    )
    return CleanResult(
        points=conform(points, TRACK_POINTS),
        dropped=dropped,
        sog_nulled=sog_nulled,
        counts=counts,
    )
