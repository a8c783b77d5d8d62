"""Duplicate receptions: the same transmission heard by several stations is kept once.

Two rows of a table are the same transmission when they have the same ``msg_hash`` (the hash of
the whole assembled payload, which includes the MMSI and, for position reports, the UTC second)
and their times are at most ``window_s`` apart (default :data:`DEDUP_WINDOW_S`). The window
absorbs the clock differences between receiving stations; it is far shorter than the shortest
interval at which a vessel could repeat a bit-identical report (a moored vessel's report repeats
only after 3 minutes, a static report after 6). Rows without a time are duplicates of rows
without a time with the same hash.

Among duplicates the earliest row is kept. The rule depends only on the rows, not on how they
were split into batches, so re-ingesting the same data, or resuming an interrupted ingest, keeps
exactly the same rows.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import polars as pl

#: Receptions of one transmission further apart than this are distinct messages.
DEDUP_WINDOW_S = 30.0

#: Stand-in time for rows without one (sorts first; equal to itself, far from every real time).
_NO_TIME = np.iinfo(np.int64).min // 2


@nb.njit(cache=True, nogil=True)
def _duplicate_kernel(order, h, t, stored, window):  # type: ignore[no-untyped-def]
    n = len(h)
    dup = np.zeros(n, np.bool_)
    # nearest stored time after each row (backward pass), per hash group
    next_stored = np.empty(n, np.int64)
    nxt = np.int64(0)
    have = False
    for k in range(n - 1, -1, -1):
        i = order[k]
        if k == n - 1 or h[order[k + 1]] != h[i]:
            have = False
        next_stored[i] = nxt if have else _NO_TIME
        if stored[i]:
            nxt = t[i]
            have = True
    have_kept = False
    last_kept = np.int64(0)
    for k in range(n):
        i = order[k]
        if k == 0 or h[order[k - 1]] != h[i]:
            have_kept = False
        if stored[i]:
            last_kept = t[i]
            have_kept = True
            continue
        if have_kept and t[i] - last_kept <= window:
            dup[i] = True
            continue
        if next_stored[i] != _NO_TIME and next_stored[i] - t[i] <= window:
            dup[i] = True
            continue
        last_kept = t[i]
        have_kept = True
    return dup


def duplicate_mask(
    msg_hash: np.ndarray,
    ts_us: np.ndarray,
    ts_valid: np.ndarray,
    stored_hash: np.ndarray | None = None,
    stored_ts_us: np.ndarray | None = None,
    stored_ts_valid: np.ndarray | None = None,
    window_s: float = DEDUP_WINDOW_S,
) -> np.ndarray:
    """True for each new row that repeats a stored row or an earlier new row.

    ``stored_*`` are rows already kept (for example in the database); they are never marked.
    """
    t_new = np.where(ts_valid, ts_us, _NO_TIME).astype(np.int64)
    if stored_hash is None or len(stored_hash) == 0:
        h = msg_hash.astype(np.int64)
        t = t_new
        stored = np.zeros(len(h), np.bool_)
    else:
        if stored_ts_us is None or stored_ts_valid is None:
            raise ValueError("stored_hash needs stored_ts_us and stored_ts_valid")
        h = np.concatenate([stored_hash, msg_hash]).astype(np.int64)
        t = np.concatenate([np.where(stored_ts_valid, stored_ts_us, _NO_TIME), t_new])
        stored = np.zeros(len(h), np.bool_)
        stored[: len(stored_hash)] = True
    if len(h) == 0:
        return np.zeros(0, np.bool_)
    t = t.astype(np.int64)
    # Only rows whose hash occurs more than once can be duplicates: sort just those.
    repeated = np.flatnonzero(pl.Series(h).is_duplicated().to_numpy())
    dup = np.zeros(len(h), np.bool_)
    if len(repeated):
        hr, tr, sr = h[repeated], t[repeated], stored[repeated]
        order = np.lexsort((~sr, tr, hr))  # by hash, then time, stored rows first
        dup[repeated] = _duplicate_kernel(order, hr, tr, sr, np.int64(window_s * 1e6))
    return dup[len(h) - len(msg_hash):]


def hash_ts(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``msg_hash``, ``ts`` in microseconds (0 where null) and whether ``ts`` is set: the
    arguments of :func:`duplicate_mask`."""
    ts = frame["ts"]
    return (
        frame["msg_hash"].to_numpy(),
        ts.dt.epoch("us").fill_null(0).to_numpy(),
        ts.is_not_null().to_numpy(),
    )


def drop_duplicates(
    frame: pl.DataFrame,
    stored: pl.DataFrame | None = None,
    window_s: float = DEDUP_WINDOW_S,
) -> pl.DataFrame:
    """``frame`` without the rows that repeat a row of ``stored`` or an earlier row of ``frame``.

    Both frames need ``msg_hash`` and ``ts`` columns (every decoded table has them).

    Example:
        >>> from seasight.ais import decode_nmea
        >>> body = b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\n"
        >>> heard_by_r1 = b"\\\\s:r1,c:1700000000*79\\\\" + body
        >>> heard_by_r2 = b"\\\\s:r2,c:1700000001*7B\\\\" + body  # one second later
        >>> frame = decode_nmea(heard_by_r1 + heard_by_r2).positions
        >>> frame.height, drop_duplicates(frame).height
        (2, 1)
    """
    if frame.height == 0:
        return frame
    h, t, v = hash_ts(frame)
    if stored is not None and stored.height:
        sh, st, sv = hash_ts(stored)
        dup = duplicate_mask(h, t, v, sh, st, sv, window_s)
    else:
        dup = duplicate_mask(h, t, v, window_s=window_s)
    return frame.filter(pl.Series(~dup)) if dup.any() else frame
