"""Duplicate receptions: the same transmission heard by several stations is kept once.

Two rows of a table are the same transmission when they have the same ``msg_hash`` (the hash of
the whole assembled payload, which includes the MMSI and, for position reports, the UTC second)
and their times are at most ``window_s`` apart (default :data:`DEDUP_WINDOW_S`). The window
absorbs the clock differences between receiving stations; it is far shorter than the shortest
interval at which a vessel could repeat a bit-identical report (a moored vessel's report repeats
only after 3 minutes, a static report after 6). Rows without a time are duplicates of rows
without a time with the same hash.

Which reception is kept is fixed by the rows alone: rows of one hash are taken in the order of
:func:`reception_order` (earliest time, then station name, rows without a station last), and a
row is kept unless it lies within the window after the last row kept. A row already stored
keeps its place against a new row that is equal in that order (the same reception again), but
a new row of the same ``source`` that comes *before* it (heard earlier, or as early by a station
named first) *supersedes* it: the stored row is removed and the new one kept. So the rows kept
from a source do not depend on how it was split into batches, committed, interrupted and
resumed: the result is that of deduplicating all its rows at once, as long as rows arrive less
than the window out of time order (a row that arrives after rows more than the window later than
it may leave one repeat of a payload that recurs within the window, which the all-at-once rule
would have dropped). A stored row of another source is never removed (each source belongs to
one organisation, and a write changes only what its writer owns): a new row that would
supersede it is dropped instead, so across sources the first stored reception stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numba as nb
import numpy as np
import polars as pl

#: Receptions of one transmission further apart than this are distinct messages.
DEDUP_WINDOW_S = 30.0

#: Stand-in time for rows without one (sorts first; equal to itself, far from every real time).
_NO_TIME = np.iinfo(np.int64).min // 2


class Receptions(NamedTuple):
    """What deduplication looks at in some rows: ``msg_hash``, ``ts`` in microseconds (0 where
    null), whether ``ts`` is set, the receiving ``station`` (null where unknown) and the
    ``source`` the row was read from."""

    msg_hash: np.ndarray
    ts_us: np.ndarray
    timed: np.ndarray
    station: pl.Series
    source: pl.Series

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.msg_hash)

    def take(self, which: np.ndarray) -> Receptions:
        """The receptions selected by a boolean mask or an index array."""
        idx = np.flatnonzero(which) if which.dtype == np.bool_ else which
        return Receptions(self.msg_hash[idx], self.ts_us[idx], self.timed[idx],
                          self.station.gather(idx), self.source.gather(idx))

    def frame(self) -> pl.DataFrame:
        """As a frame (``msg_hash``, ``ts_us``, ``timed``, ``station``)."""
        return pl.DataFrame({"msg_hash": self.msg_hash, "ts_us": self.ts_us,
                             "timed": self.timed, "station": self.station,
                             "source": self.source})

    def without(self, gone: Receptions) -> Receptions:
        """These receptions less those equal to one of ``gone`` (same hash, time, station,
        source)."""
        if not len(gone) or not len(self):
            return self
        hit = self.frame().with_row_index("_i").join(
            gone.frame(), on=list(RECEPTION_KEY), how="semi", nulls_equal=True)["_i"].to_numpy()
        if not len(hit):
            return self
        keep = np.ones(len(self), np.bool_)
        keep[hit] = False
        return self.take(keep)


#: What identifies one kept reception (no two stored rows share all of it).
RECEPTION_KEY = ("msg_hash", "ts_us", "timed", "station", "source")


def receptions(frame: pl.DataFrame) -> Receptions:
    """The :class:`Receptions` of a decoded table's rows."""
    ts = frame["ts"]
    def text(name: str) -> pl.Series:
        if name in frame.columns:
            return frame[name].cast(pl.String)
        return pl.Series(name, [None] * frame.height, pl.String)

    return Receptions(
        frame["msg_hash"].to_numpy().astype(np.int64, copy=False),
        ts.dt.epoch("us").fill_null(0).to_numpy().astype(np.int64, copy=False),
        ts.is_not_null().to_numpy(),
        text("station"),
        text("source"),
    )


def concat_receptions(parts: Sequence[Receptions]) -> Receptions:
    """Several :class:`Receptions` as one."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return Receptions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.bool_),
                          pl.Series("station", [], pl.String), pl.Series("source", [], pl.String))
    return Receptions(np.concatenate([p.msg_hash for p in parts]),
                      np.concatenate([p.ts_us for p in parts]),
                      np.concatenate([p.timed for p in parts]),
                      pl.concat([p.station.cast(pl.String) for p in parts], rechunk=False),
                      pl.concat([p.source.cast(pl.String) for p in parts], rechunk=False))


def reception_order(station: pl.Series) -> np.ndarray:
    """Rank of each station name for the tie-break between receptions of the same time:
    alphabetical, rows without a station last."""
    rank = station.rank("dense")
    return rank.fill_null(len(station) + 1).to_numpy().astype(np.int64)


@nb.njit(cache=True, nogil=True)
def _dedup_kernel(order, h, t, src, stored, window):  # type: ignore[no-untyped-def]
    n = len(h)
    dup = np.zeros(n, np.bool_)
    superseded = np.zeros(n, np.bool_)
    # the nearest stored row after each row (backward pass), per hash group
    next_t = np.zeros(n, np.int64)
    next_src = np.full(n, -1, np.int64)
    have = False
    nt = np.int64(0)
    ns = np.int64(-1)
    for k in range(n - 1, -1, -1):
        i = order[k]
        if k == n - 1 or h[order[k + 1]] != h[i]:
            have = False
        if have:
            next_t[i] = nt
            next_src[i] = ns
        if stored[i]:
            nt = t[i]
            ns = src[i]
            have = True
    have_kept = False
    kept_new = False
    kept_src = np.int64(-1)
    last_kept = np.int64(0)
    for k in range(n):
        i = order[k]
        if k == 0 or h[order[k - 1]] != h[i]:
            have_kept = False
        if have_kept and t[i] - last_kept <= window:
            if not stored[i]:
                dup[i] = True
            elif kept_new and kept_src == src[i]:  # an earlier new row of its source replaces it
                superseded[i] = True
            continue  # (a stored row near a stored row stays: the store decided so)
        if (not stored[i] and next_src[i] >= 0 and next_src[i] != src[i]
                and next_t[i] - t[i] <= window):
            dup[i] = True  # a later row of another source is stored: it stays, this one goes
            continue
        last_kept = t[i]
        have_kept = True
        kept_new = not stored[i]
        kept_src = src[i]
    return dup, superseded


def dedup_masks(
    new: Receptions,
    stored: Receptions | None = None,
    window_s: float = DEDUP_WINDOW_S,
) -> tuple[np.ndarray, np.ndarray]:
    """``(duplicate, superseded)``: for each new row, whether it repeats a row kept before it
    (stored or new); for each stored row, whether a new row replaces it (module docstring).
    Only a row of the same ``source`` replaces a stored row: a new row that comes before a
    stored row of another source is dropped instead."""
    n_stored = len(stored) if stored is not None else 0
    both = concat_receptions([stored, new]) if stored is not None and n_stored else new
    h = both.msg_hash
    t = np.where(both.timed, both.ts_us, _NO_TIME).astype(np.int64)
    is_stored = np.zeros(len(h), np.bool_)
    is_stored[:n_stored] = True
    dup = np.zeros(len(h), np.bool_)
    superseded = np.zeros(len(h), np.bool_)
    if len(h):
        # Only rows whose hash occurs more than once can be duplicates: sort just those.
        repeated = np.flatnonzero(pl.Series(h).is_duplicated().to_numpy())
        if len(repeated):
            hr, tr, sr = h[repeated], t[repeated], is_stored[repeated]
            rank = reception_order(both.station.gather(repeated))
            src = both.source.gather(repeated).rank("dense").fill_null(0).to_numpy()
            # by hash, time, station; a stored row before a new one that is equal so far
            order = np.lexsort((~sr, rank, tr, hr))
            d, s = _dedup_kernel(order, hr, tr, src.astype(np.int64), sr,
                                 np.int64(window_s * 1e6))
            dup[repeated], superseded[repeated] = d, s
    return dup[n_stored:], superseded[:n_stored]


def deduplicate(
    frame: pl.DataFrame,
    stored: pl.DataFrame | None = None,
    window_s: float = DEDUP_WINDOW_S,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame``'s rows to keep (not repeating a row kept before them) and the rows of
    ``stored`` they supersede (to remove). Both frames need ``msg_hash`` and ``ts``; ``station``
    is used where present (every decoded table has these)."""
    none = stored.clear() if stored is not None else frame.clear()
    if frame.height == 0:
        return frame, none
    if stored is None or stored.height == 0:
        dup, _ = dedup_masks(receptions(frame), None, window_s)
        return (frame.filter(pl.Series(~dup)) if dup.any() else frame), none
    dup, gone = dedup_masks(receptions(frame), receptions(stored), window_s)
    return (frame.filter(pl.Series(~dup)) if dup.any() else frame,
            stored.filter(pl.Series(gone)) if gone.any() else none)


def drop_duplicates(
    frame: pl.DataFrame,
    stored: pl.DataFrame | None = None,
    window_s: float = DEDUP_WINDOW_S,
) -> pl.DataFrame:
    """``frame`` without the rows that repeat a row kept before them (of ``stored`` or of
    ``frame``): :func:`deduplicate` without the stored rows superseded.

    Example:
        >>> from seasight.ais import decode_nmea
        >>> body = b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\n"
        >>> heard_by_r1 = b"\\\\s:r1,c:1700000000*79\\\\" + body
        >>> heard_by_r2 = b"\\\\s:r2,c:1700000001*7B\\\\" + body  # one second later
        >>> frame = decode_nmea(heard_by_r2 + heard_by_r1).positions
        >>> frame.height, drop_duplicates(frame)["station"].to_list()
        (2, ['r1'])
    """
    return deduplicate(frame, stored, window_s)[0]
