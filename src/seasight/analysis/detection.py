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
from datetime import datetime, timedelta

import polars as pl

from seasight.events.model import DetectionInputs
from seasight.events.run import DETECTORS, detector_params, run_detectors
from seasight.geo.zones import Zone
from seasight.store import Store
from seasight.tracks.clean import clean_positions
from seasight.tracks.identity import identity_history
from seasight.tracks.segment import segment_tracks

__all__ = ["IDENTITIES_FROM", "POSITION_COLUMNS", "WARMUP", "DetectionResult",
           "IncrementalDetector", "StoredDetection", "detect_events", "detect_store",
           "detect_window", "pending", "refresh_identities", "warmup"]

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


#: Parameters (per kind) that say how far back a detector looks from an event's start: the
#: history a windowed run must include before the first event it may report.
_LOOKBACK_FIELDS: dict[str, tuple[str, ...]] = {
    "gap": ("before_window_h",),
    "loitering": ("max_hole_h",),
    "port_visit": ("max_hole_h",),
    "zone_entry": ("low_score_hole_h",),
    "zone_exit": (),
    "spoofing": ("period_gap_h", "land_jump_window_h"),
    "identity_change": ("position_window_h",),
    "encounter": (),
}


def warmup(params: Mapping[str, object] | None = None) -> timedelta:
    """The history a windowed run needs before the first event it reports: the longest
    look-back of any detector (with ``params``' overrides), and at least 12 hours."""
    hours = 12.0
    for kind, names in _LOOKBACK_FIELDS.items():
        p = detector_params(kind, (params or {}).get(kind))
        hours = max([hours, *(float(getattr(p, n)) for n in names)])
    return timedelta(hours=hours)


#: :func:`warmup` with the default parameters (24 h: the port-visit and zone-entry holes).
WARMUP: timedelta = warmup()

#: Parameters (per kind) that say how long after its start an event can first be reported
#: (a gap is one only after 12 h of silence, an encounter after 2 h together).
_PENDING_FIELDS: dict[str, tuple[tuple[str, float], ...]] = {
    "gap": (("min_gap_h", 1.0),),
    "encounter": (("min_duration_h", 1.0),),
    "loitering": (("min_duration_h", 1.0),),
    "port_visit": (("min_duration_min", 1 / 60),),
    "spoofing": (("period_gap_h", 1.0),),
    "identity_change": (("position_window_h", 1.0),),
}


def pending(params: Mapping[str, object] | None = None) -> timedelta:
    """How long an event can go on before a detector reports it (with ``params``'
    overrides): a run must re-examine that much of the data it has already seen."""
    hours = 0.0
    for kind, fields in _PENDING_FIELDS.items():
        p = detector_params(kind, (params or {}).get(kind))
        hours = max([hours, *(float(getattr(p, n)) * scale for n, scale in fields)])
    return timedelta(hours=hours)


def detect_window(
    positions: pl.DataFrame,
    static: pl.DataFrame,
    zones: Sequence[Zone] = (),
    *,
    owned_from: datetime | None,
    vessel_owned_from: pl.DataFrame | None = None,
    horizon_end: datetime | None = None,
    kinds: Iterable[str] | None = None,
    params: Mapping[str, object] | None = None,
) -> DetectionResult:
    """:func:`detect_events` over a time window, keeping the events the window *owns*.

    The caller passes the positions from ``owned_from - warmup(params)`` on (and static
    reports as far back as it has them); events starting before ``owned_from`` are dropped,
    since the window sees only their end (they belong to the run that saw their start). With
    that history every event starting at or after ``owned_from`` is found exactly as a pass
    over all the data finds it (same id, start, end and openness), which is what the live
    service (:class:`IncrementalDetector`) and the distributed engine rely on.
    ``owned_from=None`` keeps every event (the window is all the data).

    ``vessel_owned_from`` (columns ``mmsi``, ``owned_from``) moves the window's start back for
    some vessels (one moored for weeks, still in an open port visit): their events of every
    kind but encounters are kept from their own ``owned_from`` (which must be before the
    common one), and the caller passes their positions from that time minus the warm-up.
    Encounters pair vessels, so they are owned from the common ``owned_from`` only.
    """
    result = detect_events(positions, static, zones, horizon_end=horizon_end, kinds=kinds,
                           params=params)
    if owned_from is None:
        return result
    events = result.events
    if vessel_owned_from is not None and vessel_owned_from.height:
        cuts = vessel_owned_from.select(pl.col("mmsi").cast(pl.UInt32),
                                        pl.col("owned_from").alias("_owned"))
        events = events.join(cuts, on="mmsi", how="left")
        own = pl.when(pl.col("kind") == "encounter").then(pl.lit(owned_from)).otherwise(
            pl.min_horizontal(pl.col("_owned"), pl.lit(owned_from)))
        result.events = events.filter(pl.col("start") >= own).drop("_owned")
    else:
        result.events = events.filter(pl.col("start") >= owned_from)
    return result


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
    static_digest = store.digest("static", _STATIC_WHERE)
    static = store.query(f"SELECT * FROM static WHERE {_STATIC_WHERE}")
    horizon = positions["ts"].max() if positions.height else None
    result = detect_events(positions, static, zones,
                           horizon_end=horizon if isinstance(horizon, datetime) else None,
                           kinds=ran, params=params)
    store.replace("segments", result.segments)
    _save_identities(store, result.identities, static_digest)
    added, updated, removed = store.upsert_events(result.events, retire_open=ran)
    return StoredDetection(result, added, updated, removed)


#: :meth:`Store.state` name of the digest of the static reports the identities were built from.
IDENTITIES_FROM = "identities_from_static"
_STATIC_WHERE = "ts IS NOT NULL"


def _save_identities(store: Store, identities: pl.DataFrame, static_digest: str) -> None:
    # the table first: a crash between the two leaves an old digest, so the next
    # refresh_identities rebuilds it again (harmless), never the reverse
    store.replace("identities", identities)
    store.set_state(IDENTITIES_FROM, static_digest)


def refresh_identities(store: Store) -> bool:
    """Rebuild the ``identities`` table from every stored static report if reports were added
    or replaced since it was built (by detection or by an earlier refresh); True when it was
    rebuilt. Ingest adds static reports without running detection: whatever reads identities
    (screening, risk, the dossier) calls this first, so that the order of commands never
    changes what they see."""
    digest = store.digest("static", _STATIC_WHERE)
    built_from = store.state(IDENTITIES_FROM)
    if built_from == digest or (built_from is None and digest == "0:0"):
        return False  # current, or nothing to build from (identities stored by other means)
    static = store.query(f"SELECT * FROM static WHERE {_STATIC_WHERE}")
    _save_identities(store, identity_history(static), digest)
    return True


class IncrementalDetector:
    """Detection that keeps up with a store being fed live, re-reading only recent data.

    The first :meth:`run` detects over everything (like :func:`detect_store`). Each later run
    owns the events starting at or after ``owned_from``: the earlier of (the previous run's end
    of data minus ``late`` and minus :func:`pending`, for events that had begun but were not
    reportable yet) and the start of the earliest event still open (per vessel, and the
    earliest open encounter for all vessels), and reads positions from ``owned_from -
    warmup`` on, so its cost follows the recent traffic, not the size of the
    store. Its events equal those of a batch run over the same data, provided no report
    arrives more than ``late`` behind the newest one (later ones are still stored, and a batch
    ``seasight detect`` picks them up). Segments are replaced from the window on; identities
    are rebuilt from every static report (they are small and an identity change needs the
    whole history).
    """

    def __init__(self, zones: Sequence[Zone] = (), *, kinds: Iterable[str] | None = None,
                 params: Mapping[str, object] | None = None,
                 late: timedelta = timedelta(hours=1)) -> None:
        self.zones = tuple(zones)
        self.kinds = list(kinds) if kinds is not None else list(DETECTORS)
        self.params = params
        self.late = late
        self.warmup = warmup(params)
        self.pending = pending(params)
        self.horizon: datetime | None = None  # end of the data at the previous run
        self.runs = 0

    def _owned_from(self, store: Store) -> tuple[datetime | None, pl.DataFrame]:
        """The common start of the owned window, and earlier starts of vessels with an open
        event (other than an encounter) that began before it."""
        none = pl.DataFrame(schema={"mmsi": pl.UInt32, "owned_from": pl.Datetime("us", "UTC")})
        if self.horizon is None:
            return None, none
        owned = self.horizon - self.late - self.pending
        if "encounter" in self.kinds:
            got = store.con.execute("SELECT min(start) FROM events WHERE is_open AND "
                                    "kind = 'encounter'").fetchall()[0][0]
            if isinstance(got, datetime):
                owned = min(owned, got)
        kinds = [k for k in self.kinds if k != "encounter"] or ["-"]
        marks = ", ".join("?" for _ in kinds)
        vessels = store.query(
            f"SELECT mmsi, min(start) AS owned_from FROM events WHERE is_open AND kind IN "
            f"({marks}) GROUP BY mmsi HAVING min(start) < ?", [*kinds, owned])
        return owned, vessels if vessels.height else none

    def detect(self, store: Store) -> _Window | None:
        """Read the window and run the chain (no writes); None when there are no positions."""
        zones = list(self.zones) or store.zones()
        owned_from, vessel_owned = self._owned_from(store)
        cols = ", ".join(f'p."{c}"' for c in POSITION_COLUMNS)
        where = "p.ts IS NOT NULL AND p.lat IS NOT NULL AND p.lon IS NOT NULL"
        params: list[object] = []
        if owned_from is not None:
            store.con.register("_vessel_owned", vessel_owned.to_arrow())
            where += " AND p.ts >= coalesce(v.owned_from, ?) - ?"
            params += [owned_from, self.warmup]
            source = "positions p LEFT JOIN _vessel_owned v USING (mmsi)"
        else:
            source = "positions p"
        try:
            positions = store.query(f"SELECT {cols} FROM {source} WHERE {where}", params)
        finally:
            if owned_from is not None:
                store.con.unregister("_vessel_owned")
        if positions.height == 0:
            return None
        static_digest = store.digest("static", _STATIC_WHERE)
        static = store.query(f"SELECT * FROM static WHERE {_STATIC_WHERE}")
        horizon = positions["ts"].max()
        start = positions["ts"].min()
        assert isinstance(horizon, datetime) and isinstance(start, datetime)
        result = detect_window(positions, static, zones, owned_from=owned_from,
                               vessel_owned_from=vessel_owned, horizon_end=horizon,
                               kinds=self.kinds, params=self.params)
        return _Window(result, None if owned_from is None else start, horizon, static_digest)

    def save(self, store: Store, window: _Window) -> StoredDetection:
        """Write what :meth:`detect` found: segments from the window on, identities, events."""
        if self.zones:
            store.save_zones(self.zones)
            self.zones = ()
        result = window.result
        if window.start is None:
            store.replace("segments", result.segments)
        else:
            store.replace("segments", result.segments, where='"end" >= ?',
                          params=[window.start])
        _save_identities(store, result.identities, window.static_digest)
        added, updated, removed = store.upsert_events(result.events, retire_open=self.kinds)
        self.horizon = window.horizon if self.horizon is None else max(self.horizon,
                                                                       window.horizon)
        self.runs += 1
        return StoredDetection(result, added, updated, removed)

    def run(self, store: Store) -> StoredDetection | None:
        """:meth:`detect` then :meth:`save`: detect over what arrived since the last run."""
        window = self.detect(store)
        return None if window is None else self.save(store, window)


@dataclass(frozen=True)
class _Window:
    result: DetectionResult
    start: datetime | None  # first position read (None: all the data)
    horizon: datetime  # last position read
    static_digest: str = ""  # digest of the static reports read (Store.digest)
