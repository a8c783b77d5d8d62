"""From stored reports to events: clean tracks, split transmitters, identities, detectors.

:func:`detect_events` is the whole analytic chain as one pure function over columns (what the
command line, the service and a distributed runner all call); :func:`detect_store` is its edge:
it reads a :class:`~seasight.store.Store`, runs the chain and writes the derived tables back.

The chain:

1. :func:`seasight.tracks.clean.clean_positions`: sentinel and impossible values out, arrival
   order corrected, duplicate timestamps collapsed, positions on land flagged;
2. :func:`seasight.tracks.segment.segment_tracks`: each MMSI's points split into transmitter
   segments (predict and match), implied-speed outliers dropped;
3. :func:`seasight.tracks.identity.identity_history`: identity periods from static reports;
4. :func:`seasight.events.run.run_detectors`: every detector (or those asked for).

Detection is repeatable: events have stable ids, and :meth:`Store.upsert_events` adds new ones
and updates the ones that newer data extended or closed, so running it again adds nothing. An
event still open at the end of the data is provisional: if newer data shows it to be something
else (its start moved, it fell below a threshold), the open event is replaced.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from seasight.events.model import DetectionInputs
from seasight.events.run import DETECTORS, run_detectors
from seasight.geo.zones import Zone
from seasight.store import Store
from seasight.tracks.clean import clean_positions
from seasight.tracks.identity import identity_history
from seasight.tracks.segment import segment_tracks

__all__ = ["POSITION_COLUMNS", "DetectionResult", "StoredDetection", "detect_events",
           "detect_store"]

#: Columns of ``positions`` the chain reads.
POSITION_COLUMNS = ("mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status",
                    "msg_type")


@dataclass
class DetectionResult:
    """Everything one run of the chain produced, with what it dropped and how long it took."""

    points: pl.DataFrame  # TRACK_POINTS
    segments: pl.DataFrame  # SEGMENTS
    identities: pl.DataFrame  # IDENTITIES
    events: pl.DataFrame  # EVENTS
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> positions left out
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time

    @property
    def events_by_kind(self) -> Counter[str]:
        return Counter(self.events["kind"].to_list())


def _reasons(frame: pl.DataFrame) -> Counter[str]:
    if frame.height == 0 or "reason" not in frame.columns:
        return Counter()
    counts = frame.group_by("reason").len()
    return Counter(dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True)))


def detect_events(
    positions: pl.DataFrame,
    static: pl.DataFrame,
    zones: Sequence[Zone] = (),
    *,
    horizon_end: datetime | None = None,
    kinds: Iterable[str] | None = None,
    params: Mapping[str, object] | None = None,
) -> DetectionResult:
    """Run the whole chain over ``positions`` (POSITIONS columns) and ``static`` (STATIC).

    ``horizon_end`` is the end of the data (default: the last position's time); events still
    going on then are open. ``kinds`` limits the detectors; ``params`` maps a kind to its
    detector's ``Params``.
    """
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    cleaned = clean_positions(positions)
    seconds["clean"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    segmented = segment_tracks(cleaned.points)
    seconds["segment"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    identities = identity_history(static)
    seconds["identity"] = time.perf_counter() - t0
    inputs = DetectionInputs(
        points=segmented.points, segments=segmented.segments, identities=identities,
        zones=tuple(zones), horizon_end=horizon_end,
    )
    t0 = time.perf_counter()
    events = run_detectors(inputs, kinds=kinds, params=params, timings=seconds)
    seconds["detect"] = time.perf_counter() - t0
    dropped = _reasons(cleaned.dropped) + _reasons(segmented.dropped)
    return DetectionResult(segmented.points, segmented.segments, identities, events, dropped,
                           seconds)


@dataclass(frozen=True)
class StoredDetection:
    """What :func:`detect_store` did to the database."""

    result: DetectionResult
    added: int  # new events
    updated: int  # events extended or closed by newer data
    removed: int  # open events that newer data showed to be something else


def detect_store(
    store: Store,
    zones: Sequence[Zone] = (),
    *,
    kinds: Iterable[str] | None = None,
    params: Mapping[str, object] | None = None,
) -> StoredDetection:
    """Detect over everything ``store`` holds; store segments, identities and events.

    ``zones`` are kept in the store (replacing stored zones of the same name); detection uses
    every stored zone, so zones given once keep being watched by later runs.
    """
    if zones:
        store.save_zones(zones)
    zones = store.zones()
    ran = list(kinds) if kinds is not None else list(DETECTORS)
    cols = ", ".join(f'"{c}"' for c in POSITION_COLUMNS)
    positions = store.query(
        f"SELECT {cols} FROM positions WHERE ts IS NOT NULL AND lat IS NOT NULL "
        f"AND lon IS NOT NULL")
    static = store.query("SELECT * FROM static WHERE ts IS NOT NULL")
    horizon = positions["ts"].max() if positions.height else None
    result = detect_events(positions, static, zones,
                           horizon_end=horizon if isinstance(horizon, datetime) else None,
                           kinds=ran, params=params)
    store.replace("segments", result.segments)
    store.replace("identities", result.identities)
    added, updated, removed = store.upsert_events(result.events, retire_open=ran)
    return StoredDetection(result, added, updated, removed)
