"""Space-time tiles for encounters: which tiles a track point must be seen in, and which tile
owns an encounter.

Encounters pair vessels that are near each other, whatever their MMSI buckets, so the
cleaned and segmented points are repartitioned by space: the globe is cut into square tiles of
``tile_deg`` degrees (column ``floor((lon + 180) / tile_deg)``, row
``floor((lat + 90) / tile_deg)``). A point goes to every tile whose square, widened by
``margin_deg`` on each side, meets the bounding box of the point and its neighbours in its
segment (the legs a grid sample can be interpolated on), so a tile sees every sample within
``margin_deg`` of its square exactly as the single-process run computes it. ``margin_deg`` must
be at least the encounter distance (in degrees of latitude) and wide enough to hold the whole of
an encounter whose start lies in the square: vessels in an encounter are slow (median below
2 kn), so a margin of half a degree (55 km) holds about a day of drift.

Time is cut by days (see :mod:`seasight.distributed.engine`): each tile runs its days in order,
carrying the points a still-open encounter needs into the next day.

An encounter is kept by the one tile whose square holds the midpoint of the two vessels at the
encounter's first step (it does not change as the encounter is extended): the overlap makes
neighbouring tiles find it too, and their copies are dropped.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

__all__ = ["TileKey", "assign_tiles", "event_tiles", "n_columns", "near_edge", "split_by_tile",
           "tile_of"]

TileKey = tuple[int, int]  # (row, column)


def n_columns(tile_deg: float) -> int:
    """Number of tile columns around the globe."""
    return max(1, math.ceil(360.0 / tile_deg))


def tile_of(lat: np.ndarray, lon: np.ndarray, tile_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the tile whose square holds each position."""
    ncol = n_columns(tile_deg)
    nrow = max(1, math.ceil(180.0 / tile_deg))
    row = np.clip(np.floor((np.asarray(lat) + 90.0) / tile_deg), 0, nrow - 1).astype(np.int64)
    col = np.floor(((np.asarray(lon) + 180.0) % 360.0) / tile_deg).astype(np.int64) % ncol
    return row, col


def assign_tiles(points: pl.DataFrame, tile_deg: float, margin_deg: float) -> pl.DataFrame:
    """``points`` with a ``tile_row`` and ``tile_col``: one row per (point, tile it must be
    seen in).

    ``points`` needs ``lat``, ``lon`` and the positions of the point's neighbours in its
    segment (``prev_lat``, ``prev_lon``, ``next_lat``, ``next_lon``; null where the leg is not
    one a sample can be interpolated on).
    """
    if margin_deg < 0 or tile_deg <= 0:
        raise ValueError("tile_deg must be positive and margin_deg not negative")
    if points.height == 0:
        return points.with_columns(pl.lit(0, pl.Int64).alias("tile_row"),
                                   pl.lit(0, pl.Int64).alias("tile_col"))
    lat = points["lat"].to_numpy()
    lon = points["lon"].to_numpy()
    lats = [lat]
    # longitudes relative to the point, the short way round (legs across the antimeridian)
    rel = [np.zeros_like(lon)]
    for a, b in (("prev_lat", "prev_lon"), ("next_lat", "next_lon")):
        la = points[a].fill_null(np.nan).to_numpy()
        lo = points[b].fill_null(np.nan).to_numpy()
        lats.append(np.where(np.isnan(la), lat, la))
        d = (lo - lon + 540.0) % 360.0 - 180.0
        rel.append(np.where(np.isnan(lo), 0.0, d))
    lat_lo = np.minimum.reduce(lats) - margin_deg
    lat_hi = np.maximum.reduce(lats) + margin_deg
    lon_lo = lon + np.minimum.reduce(rel) - margin_deg
    lon_hi = lon + np.maximum.reduce(rel) + margin_deg
    nrow = max(1, math.ceil(180.0 / tile_deg))
    ncol = n_columns(tile_deg)
    r0 = np.clip(np.floor((lat_lo + 90.0) / tile_deg), 0, nrow - 1).astype(np.int64)
    r1 = np.clip(np.floor((lat_hi + 90.0) / tile_deg), 0, nrow - 1).astype(np.int64)
    c0 = np.floor((lon_lo + 180.0) / tile_deg).astype(np.int64)  # may be < 0 or >= ncol: wraps
    c1 = np.floor((lon_hi + 180.0) / tile_deg).astype(np.int64)
    c1 = np.minimum(c1, c0 + ncol - 1)
    idx: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for dr in range(int((r1 - r0).max()) + 1):
        for dc in range(int((c1 - c0).max()) + 1):
            ok = (r0 + dr <= r1) & (c0 + dc <= c1)
            sel = np.flatnonzero(ok)
            idx.append(sel)
            rows.append(r0[sel] + dr)
            cols.append((c0[sel] + dc) % ncol)
    take = np.concatenate(idx)
    return points[take].with_columns(
        pl.Series("tile_row", np.concatenate(rows)), pl.Series("tile_col", np.concatenate(cols))
    )


def split_by_tile(points: pl.DataFrame, tile_deg: float, margin_deg: float
                  ) -> dict[TileKey, pl.DataFrame]:
    """:func:`assign_tiles`, as one frame per tile (without the tile columns)."""
    tiled = assign_tiles(points, tile_deg, margin_deg)
    if tiled.height == 0:
        return {}
    out: dict[TileKey, pl.DataFrame] = {}
    for key, part in tiled.partition_by(["tile_row", "tile_col"], as_dict=True).items():
        out[(int(key[0]), int(key[1]))] = part.drop("tile_row", "tile_col")  # type: ignore[arg-type]
    return out


def event_tiles(events: pl.DataFrame, tile_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the tile owning each encounter: the tile holding the midpoint of the
    two vessels at its first step (from the evidence)."""
    n = events.height
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    for i, text in enumerate(events["evidence"].to_list()):
        start = json.loads(text or "{}").get("start") or {}
        try:
            a_lat, a_lon = float(start["lat"]), float(start["lon"])
            b_lat, b_lon = float(start["other_lat"]), float(start["other_lon"])
        except (KeyError, TypeError):
            a_lat = b_lat = float(events["lat"][i])
            a_lon = b_lon = float(events["lon"][i])
        lat[i] = (a_lat + b_lat) / 2
        d = (b_lon - a_lon + 540.0) % 360.0 - 180.0
        lon[i] = (a_lon + d / 2 + 540.0) % 360.0 - 180.0
    return tile_of(lat, lon, tile_deg)


def near_edge(events: pl.DataFrame, tile: TileKey, tile_deg: float, margin_deg: float,
              max_distance_m: float) -> np.ndarray:
    """True for each encounter of which a known position (both vessels at its first and last
    step, its median midpoint) lies so far out of ``tile``'s square that part of it may have
    been beyond what the tile sees: the margin was too narrow for it, and it may be cut short.
    """
    n = events.height
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    inner = margin_deg - max_distance_m / 1000.0 / 111.195
    lat0 = -90.0 + tile[0] * tile_deg - inner
    lat1 = -90.0 + (tile[0] + 1) * tile_deg + inner
    lon_mid = -180.0 + (tile[1] + 0.5) * tile_deg
    half = tile_deg / 2 + inner
    for i, text in enumerate(events["evidence"].to_list()):
        ev = json.loads(text or "{}")
        spots = [(events["lat"][i], events["lon"][i])]
        for part in ("start", "end"):
            p = ev.get(part) or {}
            spots += [(p.get("lat"), p.get("lon")), (p.get("other_lat"), p.get("other_lon"))]
        for lat, lon in spots:
            if lat is None or lon is None:
                continue
            d = (float(lon) - lon_mid + 540.0) % 360.0 - 180.0
            if not (lat0 <= float(lat) <= lat1) or abs(d) > half:
                out[i] = True
                break
    return out
