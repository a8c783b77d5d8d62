"""Multi-fragment assembly: group sentence lines into whole AIS messages.

Fragments of one message share (fragment count, sequential id, channel, receiving station);
they may be interleaved with other traffic. A fragment without a known station (receivers
often write their metadata on one fragment only) matches any station. A message is complete
when fragments 1..count have arrived in order. A group is abandoned (its lines rejected as
``missing_fragment``) when a new fragment 1 with the same key arrives, or when it is older than
``max_gap_lines`` lines; a later fragment without its predecessors is an ``orphan_fragment``.

Groups still open at the end of a chunk are reported back so that a streaming decoder can carry
their lines into the next chunk: nothing is lost at chunk boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from seasight.ais.framing import SENTENCE
from seasight.model.rejects import REASON_CODES

#: Fragments of one message further apart than this many lines are not joined.
MAX_GAP_LINES = 1000

_SLOTS = 256
R_MISSING = REASON_CODES["missing_fragment"]
R_ORPHAN = REASON_CODES["orphan_fragment"]


@dataclass
class Messages:
    """Whole messages: for message m, its lines are ``lines[line_start[m]:line_start[m + 1]]``."""

    line_start: np.ndarray  # int64, len = n_messages + 1
    lines: np.ndarray  # int64 line indices, fragment order
    open_lines: np.ndarray  # int64: lines of groups still incomplete at the end, in line order

    def __len__(self) -> int:
        return len(self.line_start) - 1


@nb.njit(cache=True, nogil=True)
def _reject_slot(slot, p_lines, p_n, reason, code):  # type: ignore[no-untyped-def]
    for j in range(p_n[slot]):
        reason[p_lines[slot, j]] = code
    p_n[slot] = 0


@nb.njit(cache=True, nogil=True)
def _assemble_kernel(  # type: ignore[no-untyped-def]
    kind, frag_count, frag_num, seq_id, channel, station_hash, reason, max_gap, line_no
):
    n = len(kind)
    line_start = np.empty(n + 1, np.int64)
    lines = np.empty(n, np.int64)
    nm = 0
    nl = 0
    p_n = np.zeros(_SLOTS, np.int64)  # 0 = free slot
    p_lines = np.empty((_SLOTS, 9), np.int64)
    n_open = 0
    for i in range(n):
        if kind[i] != SENTENCE:
            continue
        fc = frag_count[i]
        if fc == 1:
            line_start[nm] = nl
            lines[nl] = i
            nl += 1
            nm += 1
            continue
        fn = frag_num[i]
        # find the open group with this key, expiring old ones on the way
        found = -1
        free = -1
        oldest = -1
        if n_open > 0:
            for sl in range(_SLOTS):
                if p_n[sl] == 0:
                    if free < 0:
                        free = sl
                    continue
                first = p_lines[sl, 0]
                if line_no[i] - line_no[first] > max_gap:
                    _reject_slot(sl, p_lines, p_n, reason, R_MISSING)
                    n_open -= 1
                    if free < 0:
                        free = sl
                    continue
                sh = station_hash[first]
                if (
                    frag_count[first] == fc
                    and seq_id[first] == seq_id[i]
                    and channel[first] == channel[i]
                    and (sh == station_hash[i] or sh == 0 or station_hash[i] == 0)
                ):
                    found = sl
                if oldest < 0 or first < p_lines[oldest, 0]:
                    oldest = sl
        elif free < 0:
            free = 0
        if fn == 1:
            if found >= 0:  # a new message reuses the key: the old one is incomplete
                _reject_slot(found, p_lines, p_n, reason, R_MISSING)
                n_open -= 1
                free = found
            if free < 0:  # table full: give up on the oldest group
                _reject_slot(oldest, p_lines, p_n, reason, R_MISSING)
                n_open -= 1
                free = oldest
            p_lines[free, 0] = i
            p_n[free] = 1
            n_open += 1
            continue
        if found < 0:
            reason[i] = R_ORPHAN
            continue
        if fn != p_n[found] + 1:
            if fn <= p_n[found]:  # a repeated fragment: keep the group, reject the repeat
                reason[i] = R_ORPHAN
            else:  # a fragment was skipped: the group can never complete
                _reject_slot(found, p_lines, p_n, reason, R_MISSING)
                n_open -= 1
                reason[i] = R_ORPHAN
            continue
        p_lines[found, p_n[found]] = i
        p_n[found] += 1
        if fn == fc:
            line_start[nm] = nl
            for j in range(fc):
                lines[nl] = p_lines[found, j]
                nl += 1
            nm += 1
            p_n[found] = 0
            n_open -= 1
    line_start[nm] = nl
    open_lines = np.empty(n, np.int64)
    no = 0
    for sl in range(_SLOTS):
        for j in range(p_n[sl]):
            open_lines[no] = p_lines[sl, j]
            no += 1
    out_open = np.sort(open_lines[:no])
    return line_start[: nm + 1].copy(), lines[:nl].copy(), out_open


def assemble(
    kind: np.ndarray,
    frag_count: np.ndarray,
    frag_num: np.ndarray,
    seq_id: np.ndarray,
    channel: np.ndarray,
    station_hash: np.ndarray,
    reason: np.ndarray,
    max_gap_lines: int = MAX_GAP_LINES,
    line_no: np.ndarray | None = None,
) -> Messages:
    """Group sentence lines into messages; writes assembly rejects into ``reason`` in place.

    Lines whose ``reason`` is set here keep ``kind == SENTENCE``: the caller treats any line with
    a non-zero reason as rejected. ``line_no`` (int64, default: the positions) numbers the lines
    for the gap rule, so that lines carried over from an earlier chunk keep their distance.
    """
    if line_no is None:
        line_no = np.arange(len(kind), dtype=np.int64)
    line_start, lines, open_lines = _assemble_kernel(
        kind, frag_count, frag_num, seq_id, channel, station_hash, reason, max_gap_lines,
        line_no
    )
    return Messages(line_start=line_start, lines=lines, open_lines=open_lines)
