"""Zone exits: a vessel crossing out of a user-supplied zone.

The mirror image of :mod:`seasight.events.zone_entry` (same membership test, same per-segment
rule, same parameters): an **exit** is the first position outside a zone after a position
inside it, of the same segment; an instant event with ``start`` = ``end`` = the time of that
first position outside, ``lat``/``lon`` its position, ``zone`` the zone's name. A vessel last
seen inside a zone has no exit (yet). Evidence: ``point`` (the first position outside),
``previous_point`` (the last one inside), ``hole_h``, ``zone_properties``.
"""

from __future__ import annotations

import polars as pl

from seasight.events.model import DetectionInputs
from seasight.events.zone_entry import Params, crossings

KIND = "zone_exit"
VERSION = 1

__all__ = ["KIND", "VERSION", "Params", "detect"]


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Zone-exit events (EVENTS schema) of every segment out of every zone of ``inputs.zones``."""
    return crossings(inputs, "exit", params.full_score_hole_h, params.low_score_hole_h)
