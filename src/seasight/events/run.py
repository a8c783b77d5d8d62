"""Run the detectors: the registry of every event kind and one call that runs them all.

Every detector module exposes ``KIND``, ``VERSION``, a frozen ``Params`` dataclass and
``detect(inputs, params) -> EVENTS``. :data:`DETECTORS` maps each kind to its module, in a fixed
order; :func:`run_detectors` runs the chosen kinds (all by default) on the same
:class:`~seasight.events.model.DetectionInputs` and returns one EVENTS frame in the canonical
order (start, kind, mmsi, ...), so the same inputs always give the same frame.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from types import ModuleType

import polars as pl

from seasight.events import (
    encounter,
    gap,
    identity_change,
    loitering,
    port_visit,
    spoofing,
    zone_entry,
    zone_exit,
)
from seasight.events.model import DetectionInputs, empty_events, sort_events, speeds
from seasight.model.schema import EVENTS, conform

#: Event kind -> detector module, in the order they run.
DETECTORS: dict[str, ModuleType] = {
    module.KIND: module
    for module in (
        gap,
        encounter,
        loitering,
        port_visit,
        zone_entry,
        zone_exit,
        spoofing,
        identity_change,
    )
}

#: Kinds whose detectors read the shared track arrays (:func:`seasight.events.model.tracks`).
_TRACK_KINDS = frozenset({"gap", "encounter", "loitering", "port_visit", "zone_entry", "zone_exit"})

#: Every event kind, in registry order.
KINDS: tuple[str, ...] = tuple(DETECTORS)


def detector_params(kind: str, value: object | None = None) -> object:
    """The ``Params`` of ``kind``: the defaults, a given ``Params`` instance, or a mapping of
    field overrides applied to the defaults (unknown fields are an error)."""
    module = _module(kind)
    params_cls = module.Params
    if value is None:
        return params_cls()
    if isinstance(value, params_cls):
        return value
    if isinstance(value, Mapping):
        names = {f.name for f in dataclasses.fields(params_cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"unknown {kind} parameter(s): {', '.join(map(str, unknown))}")
        return params_cls(**value)
    raise TypeError(f"params for {kind} must be {params_cls.__qualname__} or a mapping")


def run_detectors(
    inputs: DetectionInputs,
    kinds: Iterable[str] | None = None,
    params: Mapping[str, object] | None = None,
    *,
    timings: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Events of the given kinds (default: all of :data:`DETECTORS`), one EVENTS frame.

    ``params`` maps a kind to its ``Params`` (or a mapping of overrides); kinds not in it use
    the defaults. The result is sorted by (start, kind, mmsi, other_mmsi, zone, event_id).
    When ``timings`` is given, the seconds spent are added to it: ``"track_arrays"`` for the
    sorted arrays the detectors share, then one entry per kind.
    """
    chosen = list(DETECTORS) if kinds is None else list(dict.fromkeys(kinds))
    for kind in chosen:
        _module(kind)
    params = params or {}
    for kind in params:
        _module(kind)
    settings = {kind: detector_params(kind, params.get(kind)) for kind in chosen}
    t0 = time.perf_counter()
    if inputs.points.height and set(chosen) & _TRACK_KINDS:
        speeds(inputs)  # builds and caches the shared arrays
    if timings is not None:
        timings["track_arrays"] = timings.get("track_arrays", 0.0) + time.perf_counter() - t0
    frames = []
    for kind in chosen:
        t0 = time.perf_counter()
        frames.append(conform(_module(kind).detect(inputs, settings[kind]), EVENTS))
        if timings is not None:
            timings[kind] = timings.get(kind, 0.0) + time.perf_counter() - t0
    frames = [f for f in frames if f.height]
    if not frames:
        return empty_events()
    return sort_events(pl.concat(frames, how="vertical"))


def _module(kind: str) -> ModuleType:
    try:
        return DETECTORS[kind]
    except KeyError:
        raise ValueError(
            f"unknown event kind {kind!r} (known: {', '.join(DETECTORS)})"
        ) from None
