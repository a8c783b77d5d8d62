"""Vessel tracks from decoded positions: cleaning, segmentation and identity history.

The pipeline from the store to the detectors::

    positions ──clean_positions──► track points ──segment_tracks──► points + segments
    static ──identity_history──► identities

* :mod:`seasight.tracks.clean`: drop unusable fixes (with a reason), collapse duplicates,
  sort by (mmsi, ts), flag fixes on land.
* :mod:`seasight.tracks.segment`: split each MMSI into segments that one transmitter could
  have made (predict and match, as Global Fishing Watch's segmenter), drop jump outliers.
* :mod:`seasight.tracks.identity`: MMSI structure and flag (ITU-R M.585, MID table) and the
  identity periods of each MMSI from its static reports.

:func:`build_tracks` runs the first two in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from seasight.tracks.clean import CleanParams, CleanResult, clean_positions
from seasight.tracks.identity import (
    IdentityParams,
    flag_of,
    flags_of,
    identity_history,
    invalid_mmsi,
    mid_of,
    mids_of,
    mmsi_kind,
    valid_imo,
)
from seasight.tracks.segment import SegmentParams, SegmentResult, segment_tracks

__all__ = [
    "CleanParams",
    "CleanResult",
    "IdentityParams",
    "SegmentParams",
    "SegmentResult",
    "Tracks",
    "build_tracks",
    "clean_positions",
    "flag_of",
    "flags_of",
    "identity_history",
    "invalid_mmsi",
    "mid_of",
    "mids_of",
    "mmsi_kind",
    "segment_tracks",
    "valid_imo",
]


@dataclass(frozen=True)
class Tracks:
    """Cleaned and segmented tracks: what :func:`build_tracks` returns."""

    clean: CleanResult
    segmented: SegmentResult

    @property
    def points(self) -> pl.DataFrame:
        """TRACK_POINTS with ``segment_id``, sorted by (mmsi, ts)."""
        return self.segmented.points

    @property
    def segments(self) -> pl.DataFrame:
        """SEGMENTS."""
        return self.segmented.segments


def build_tracks(
    positions: pl.DataFrame,
    clean_params: CleanParams = CleanParams(),
    segment_params: SegmentParams = SegmentParams(),
) -> Tracks:
    """:func:`clean_positions` then :func:`segment_tracks` over decoded positions."""
    cleaned = clean_positions(positions, clean_params)
    return Tracks(clean=cleaned, segmented=segment_tracks(cleaned.points, segment_params))
