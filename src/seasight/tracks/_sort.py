"""Fast, order-independent sorting of (mmsi, ts) keyed frames, shared by the tracks modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


def sort_index(mmsi: pl.Series, ts: pl.Series) -> pl.Series | None:
    """Row order that sorts by (mmsi, ts), or None when the rows already are.

    Two single-key sorts (time, then a stable sort by MMSI) are several times faster than one
    sort on the two keys. Rows with equal (mmsi, ts) stay in input order. No nulls expected.
    """
    m = mmsi.to_numpy()
    t = ts.dt.epoch("us").to_numpy()
    if len(m) < 2:
        return None
    dm = m[1:].astype(np.int64) - m[:-1].astype(np.int64)
    if bool(np.all((dm > 0) | ((dm == 0) & (t[1:] >= t[:-1])))):
        return None
    by_time = None if bool(np.all(t[1:] >= t[:-1])) else ts.arg_sort()
    m_sorted = mmsi if by_time is None else mmsi.gather(by_time)
    by_mmsi = (
        pl.DataFrame({"m": m_sorted})
        .with_row_index("i")
        .sort("m", maintain_order=True)
        .get_column("i")
    )
    return by_mmsi if by_time is None else by_time.gather(by_mmsi)


def tie_groups(mmsi: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """True for rows (sorted by mmsi, ts) that share their (mmsi, ts) with another row."""
    same = (mmsi[1:] == mmsi[:-1]) & (ts_us[1:] == ts_us[:-1])
    out = np.zeros(len(mmsi), dtype=bool)
    out[1:] |= same
    out[:-1] |= same
    return out


def sort_canonical(frame: pl.DataFrame, tie_break: Sequence[str]) -> pl.DataFrame:
    """``frame`` sorted by (mmsi, ts), rows with equal keys ordered by ``tie_break`` columns.

    The result does not depend on the input order as long as (mmsi, ts, *tie_break) tells
    apart every pair of rows that differ in what the caller uses.
    """
    order = sort_index(frame["mmsi"], frame["ts"])
    if order is not None:
        frame = frame[order]
    ties = tie_groups(frame["mmsi"].to_numpy(), frame["ts"].dt.epoch("us").to_numpy())
    if not ties.any():
        return frame
    pos = np.flatnonzero(ties)
    sub = frame[pos].with_row_index("_i").sort(
        ["mmsi", "ts", *tie_break], nulls_last=True, maintain_order=True
    )
    idx = np.arange(frame.height)
    idx[pos] = pos[sub["_i"].to_numpy()]
    return frame[idx]
