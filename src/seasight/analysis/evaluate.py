"""Score detected events against a simulator's ground truth.

A detected event *matches* a truth event of the same kind when it concerns the same vessels (one
MMSI, or the unordered pair of an encounter), names the same zone or port where the truth gives
one, and the two overlap in time. Instant events (zone crossings, identity changes) have no
duration: they match when their times are at most :attr:`MatchParams.instant_tolerance_s`
apart, since a crossing is only seen at the first report after it. Matching is one to one,
greedy by closeness (largest overlap first), so a detector that reports one event twice gets a
false positive for the second.

Per kind: precision = matched detections / detections, recall = matched truth events / truth
events, F1 their harmonic mean. Detections that coincide with a planted look-alike (a short
dropout, vessels passing at speed, a convoy, a brief slow-down, ships anchored together in a
port) are counted separately as well: they are the false alarms a watch officer would see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from seasight.events.model import parse_utc

__all__ = [
    "INSTANT_KINDS",
    "KindScore",
    "MatchParams",
    "Truth",
    "TruthEvent",
    "evaluate",
    "load_truth",
]

#: Kinds whose events happen at one moment (start == end).
INSTANT_KINDS = frozenset({"zone_entry", "zone_exit", "identity_change"})


@dataclass(frozen=True)
class MatchParams:
    """How close a detection must be to a truth event to count as finding it."""

    #: Instant events match when their times differ by at most this many seconds.
    instant_tolerance_s: float = 3600.0
    #: Interval events match when they overlap, allowing this slack at each end (seconds), so
    #: that an event seen at the next report after it began still overlaps a short truth event.
    interval_slack_s: float = 1800.0


@dataclass(frozen=True)
class TruthEvent:
    """One planted event (or look-alike) of a simulation."""

    kind: str
    mmsi: tuple[int, ...]
    start: datetime
    end: datetime
    lat: float | None = None
    lon: float | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Truth:
    """A simulation's ground truth: the events it planted and the look-alikes it hid."""

    events: tuple[TruthEvent, ...]
    lookalikes: tuple[TruthEvent, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KindScore:
    """Precision, recall and F1 of one event kind."""

    kind: str
    n_truth: int
    n_detected: int
    n_matched_truth: int
    n_matched_detected: int
    n_lookalike_hits: int

    @property
    def precision(self) -> float:
        return self.n_matched_detected / self.n_detected if self.n_detected else 1.0

    @property
    def recall(self) -> float:
        return self.n_matched_truth / self.n_truth if self.n_truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "truth": self.n_truth, "detected": self.n_detected,
            "matched": self.n_matched_truth, "precision": round(self.precision, 4),
            "recall": round(self.recall, 4), "f1": round(self.f1, 4),
            "lookalike_hits": self.n_lookalike_hits,
        }


def _truth_event(obj: Mapping[str, Any]) -> TruthEvent:
    mmsi = obj["mmsi"]
    vessels = tuple(int(m) for m in (mmsi if isinstance(mmsi, list) else [mmsi]))
    start = parse_utc(obj["start"])
    return TruthEvent(
        kind=str(obj["kind"]), mmsi=vessels, start=start,
        end=parse_utc(obj["end"]) if obj.get("end") else start,
        lat=obj.get("lat"), lon=obj.get("lon"), zone=obj.get("zone"),
    )


def load_truth(path: str | Path) -> Truth:
    """Read a simulator's ``truth.json``."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or "events" not in data:
        raise ValueError(f"{path}: not a SeaSight truth file (no 'events')")
    meta = {k: v for k, v in data.items() if k not in ("events", "lookalikes")}
    return Truth(
        events=tuple(_truth_event(e) for e in data["events"]),
        lookalikes=tuple(_truth_event(e) for e in data.get("lookalikes", [])),
        meta=meta,
    )


@dataclass(frozen=True)
class _Detected:
    kind: str
    mmsi: tuple[int, ...]
    start: datetime
    end: datetime
    zone: str | None


def _detections(events: pl.DataFrame) -> list[_Detected]:
    out = []
    for row in events.select("kind", "mmsi", "other_mmsi", "start", "end", "zone").iter_rows():
        kind, mmsi, other, start, end, zone = row
        vessels = (int(mmsi),) if other is None else (int(mmsi), int(other))
        out.append(_Detected(kind, vessels, start, end if end is not None else start, zone))
    return out


def _closeness(det: _Detected, truth: TruthEvent, params: MatchParams) -> float | None:
    """How well ``det`` fits ``truth`` (larger is better), or None when it does not match."""
    if sorted(det.mmsi) != sorted(truth.mmsi):
        return None
    if truth.zone and det.zone and truth.zone.casefold() != det.zone.casefold():
        return None
    if truth.kind in INSTANT_KINDS:
        gap = abs((det.start - truth.start).total_seconds())
        return -gap if gap <= params.instant_tolerance_s else None
    slack = params.interval_slack_s
    lo = max(det.start.timestamp(), truth.start.timestamp() - slack)
    hi = min(det.end.timestamp(), truth.end.timestamp() + slack)
    if hi < lo:
        return None
    return hi - lo


def _match(dets: Sequence[_Detected], truths: Sequence[TruthEvent],
           params: MatchParams) -> tuple[set[int], set[int]]:
    """One-to-one greedy matching; returns matched detection and truth indices."""
    pairs = []
    for i, d in enumerate(dets):
        for j, t in enumerate(truths):
            c = _closeness(d, t, params)
            if c is not None:
                pairs.append((c, i, j))
    pairs.sort(key=lambda p: -p[0])
    used_d: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in pairs:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
    return used_d, used_t


def _lookalike_hits(dets: Sequence[_Detected], lookalikes: Sequence[TruthEvent],
                    unmatched: set[int], params: MatchParams) -> int:
    """Unmatched detections that concern look-alike vessels at the look-alike's time."""
    slack = params.interval_slack_s
    hits = 0
    for i in unmatched:
        d = dets[i]
        if any(
            set(d.mmsi) <= set(look.mmsi)
            and d.start.timestamp() <= look.end.timestamp() + slack
            and d.end.timestamp() >= look.start.timestamp() - slack
            for look in lookalikes
        ):
            hits += 1
    return hits


def evaluate(events: pl.DataFrame, truth: Truth, kinds: Iterable[str] | None = None,
             params: MatchParams = MatchParams()) -> list[KindScore]:
    """Precision, recall and F1 per event kind of ``events`` (the EVENTS schema) against
    ``truth``. ``kinds`` defaults to every kind in either."""
    all_kinds = sorted(set(kinds) if kinds is not None else
                       {t.kind for t in truth.events} | set(events["kind"].unique().to_list()))
    dets = _detections(events)
    scores = []
    for kind in all_kinds:
        d = [x for x in dets if x.kind == kind]
        t = [x for x in truth.events if x.kind == kind]
        used_d, used_t = _match(d, t, params)
        unmatched = set(range(len(d))) - used_d
        scores.append(KindScore(
            kind=kind, n_truth=len(t), n_detected=len(d), n_matched_truth=len(used_t),
            n_matched_detected=len(used_d),
            n_lookalike_hits=_lookalike_hits(d, truth.lookalikes, unmatched, params),
        ))
    return scores
