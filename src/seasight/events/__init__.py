"""Maritime events detected from vessel tracks: one module per kind, all with one signature.

``detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame`` (EVENTS schema).
Kinds: ``gap`` (possible AIS disabling), ``encounter`` (two vessels together at sea, a possible
ship-to-ship transfer), ``loitering``, ``port_visit``, ``zone_entry``, ``zone_exit``,
``spoofing`` and ``identity_change``. :func:`seasight.events.run.run_detectors` runs them all.
Definitions and defaults follow Global Fishing Watch's published ones where they exist (see
each module).
"""

from __future__ import annotations

from seasight.events.model import (
    DetectionInputs,
    empty_events,
    events_frame,
    evidence_json,
    make_event_ids,
)

__all__ = [
    "DetectionInputs",
    "empty_events",
    "events_frame",
    "evidence_json",
    "make_event_ids",
]
