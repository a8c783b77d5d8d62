"""Synthetic MMSIs for vessels that a source names by another id (anonymised data).

Every table keys vessels by ``mmsi`` (UInt32). A source whose vessel column is not an MMSI (an
anonymised ``ID``, a database key, a name) keeps that id as written in ``static.vessel_id``, and
each distinct id gets a synthetic MMSI in [:data:`~seasight.model.schema.SYNTHETIC_MMSI_MIN`,
:data:`~seasight.model.schema.SYNTHETIC_MMSI_MAX`] = [2**30, 2**32 - 1]: above every nine-digit MMSI
and every value the 30-bit AIS MMSI field can hold, so it never collides with a real one. Such
vessels are ``synthetic`` in :func:`seasight.tracks.identity.mmsi_kind`: kept in tracks, no
flag, not counted as an invalid MMSI.

The number is a stable hash of the id's UTF-8 text: BLAKE2b (64-bit digest) modulo the size of
the range, plus its start. The same id gets the same number in every file, process and version,
so tracks of one vessel join across files and re-ingesting adds nothing. Two different ids can
share a number (about 1.5 % chance for some pair among 10,000 ids, 79 % among 100,000: the
range holds 3.2e9 values); :func:`synthetic_mmsi` does not hide this, callers check with
:func:`colliding_ids` (the CSV reader rejects the rows of the later id, reason
``bad_vessel_id``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from seasight.model.schema import SYNTHETIC_MMSI_MAX, SYNTHETIC_MMSI_MIN

__all__ = ["colliding_ids", "is_synthetic", "is_vessel_key", "synthetic_mmsi"]

_SPAN = SYNTHETIC_MMSI_MAX - SYNTHETIC_MMSI_MIN + 1


def synthetic_mmsi(vessel_id: str) -> int:
    """The synthetic MMSI of a vessel id (the id as written, without surrounding blanks).

    >>> synthetic_mmsi("A1") == synthetic_mmsi("A1") >= 2**30
    True
    """
    digest = hashlib.blake2b(vessel_id.encode("utf-8"), digest_size=8).digest()
    return SYNTHETIC_MMSI_MIN + int.from_bytes(digest, "big") % _SPAN


def is_synthetic(mmsi: Iterable[int] | np.ndarray) -> np.ndarray:
    """True for each value in the synthetic MMSI range."""
    m = np.asarray(mmsi, dtype=np.int64).ravel()
    return (m >= SYNTHETIC_MMSI_MIN) & (m <= SYNTHETIC_MMSI_MAX)


def is_vessel_key(mmsi: int) -> bool:
    """True when ``mmsi`` can name a vessel in the store: an MMSI of 1 to 9 digits, or a
    synthetic one (what an API asking for one vessel accepts)."""
    return 1 <= mmsi <= 999_999_999 or SYNTHETIC_MMSI_MIN <= mmsi <= SYNTHETIC_MMSI_MAX


def colliding_ids(numbers: dict[str, int], known: dict[int, str]) -> dict[str, str]:
    """Ids whose synthetic MMSI already belongs to another id -> that other id.

    ``numbers`` maps ids to their synthetic MMSI; ``known`` maps the MMSIs already given out
    (to their id) and is updated with the new ones. Ids are taken in sorted order, so which of
    two colliding ids keeps the number does not depend on row order within a call.
    """
    out: dict[str, str] = {}
    for vid in sorted(numbers):
        owner = known.setdefault(numbers[vid], vid)
        if owner != vid:
            out[vid] = owner
    return out
