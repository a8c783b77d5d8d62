"""Analysis: from stored reports to events, and how well they match a known truth.

- :mod:`seasight.analysis.detection`: the whole chain (clean, segment, identities, detectors)
  as one pure function over columns, its store edge, the incremental detector of the live
  loop, and keeping the identity periods current with the static reports.
- :mod:`seasight.analysis.evaluate`: precision and recall of detected events against a
  simulation's truth.

Importable from here: ``from seasight.analysis import detect_events, detect_store``.
"""

from seasight.analysis.detection import (
    DetectionResult,
    IncrementalDetector,
    StoredDetection,
    detect_events,
    detect_store,
    detect_window,
    refresh_identities,
)
from seasight.analysis.evaluate import evaluate, load_truth

__all__ = [
    "DetectionResult",
    "IncrementalDetector",
    "StoredDetection",
    "detect_events",
    "detect_store",
    "detect_window",
    "evaluate",
    "load_truth",
    "refresh_identities",
]
