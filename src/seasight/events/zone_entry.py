"""Zone entries: a vessel crossing into a user-supplied zone (EEZ, protected area, exercise area).

Zones are polygons (:class:`seasight.geo.zones.Zone`, loaded from GeoJSON by the user) given in
``inputs.zones``. Membership of each position is decided with
:func:`seasight.geo.zones.zone_membership` (points on the boundary count as outside; it tests
only the positions inside each zone's bounding box).

Computed per segment (one transmitter's track, so a second transmitter on the same MMSI, being
elsewhere, does not make the vessel flicker in and out). An **entry** is the first position
inside a zone after a position outside it, of the same segment; it is an instant event:
``start`` = ``end`` = the time of that first position inside, ``lat``/``lon`` its position,
``zone`` the zone's name. A vessel first seen already inside a zone has no entry (nothing shows
it crossing; its first position is not evidence of an entry), and a vessel last seen inside has
no exit. When the two positions around the crossing are far apart in time the vessel crossed at
some unknown moment between them: the event is still reported at the first position inside, its
evidence gives the hole, and its score decreases with it (1.0 up to ``full_score_hole_h``, 0.5
at ``low_score_hole_h`` and beyond). Zone events are never open.

Evidence: ``point`` (the first position inside), ``previous_point`` (the last one outside),
``hole_h`` between them, the zone's properties under ``zone_properties`` and the segment.
:mod:`seasight.events.zone_exit` is the mirror image and shares this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from seasight.events.model import (
    US_PER_H,
    DetectionInputs,
    empty_events,
    events_frame,
    point_evidence,
    ramp,
    tracks,
)
from seasight.geo.zones import Zone, zone_membership

KIND = "zone_entry"
VERSION = 1


@dataclass(frozen=True)
class Params:
    """Parameters of the zone crossing detectors (zone_entry and zone_exit)."""

    #: Crossings whose two surrounding positions are at most this far apart score 1.0, hours.
    full_score_hole_h: float = 1.0
    #: ... and 0.5 when they are this far apart or more, hours.
    low_score_hole_h: float = 24.0


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Zone-entry events (EVENTS schema) of every segment into every zone of ``inputs.zones``."""
    return crossings(inputs, "entry", params.full_score_hole_h, params.low_score_hole_h)


def crossings(
    inputs: DetectionInputs,
    direction: Literal["entry", "exit"],
    full_score_hole_h: float,
    low_score_hole_h: float,
) -> pl.DataFrame:
    """Entries into (``"entry"``) or exits from (``"exit"``) every zone, as EVENTS."""
    kind, version = ("zone_entry", VERSION) if direction == "entry" else ("zone_exit", VERSION)
    zones = list(inputs.zones)
    arrays = tracks(inputs)
    if arrays.n < 2 or not zones:
        return empty_events()
    same_seg = np.r_[False, arrays.seg[1:] == arrays.seg[:-1]]
    cols: dict[str, list[object]] = {
        k: [] for k in ("idx", "zone", "evidence", "hole_h")
    }
    membership = _membership(inputs, zones, arrays.lat, arrays.lon)
    for z, zone in enumerate(zones):
        inside = membership[:, z]
        before = np.r_[False, inside[:-1]]
        hit = inside & ~before if direction == "entry" else ~inside & before
        idx = np.flatnonzero(hit & same_seg)
        if idx.size == 0:
            continue
        props = dict(getattr(zone, "properties", {}) or {})
        for i in idx.tolist():
            hole_h = (arrays.ts[i] - arrays.ts[i - 1]) / US_PER_H
            cols["idx"].append(i)
            cols["zone"].append(zone.name)
            cols["hole_h"].append(hole_h)
            cols["evidence"].append(
                {
                    "point": point_evidence(arrays, i),
                    "previous_point": point_evidence(arrays, i - 1),
                    "hole_h": round(hole_h, 4),
                    "zone_properties": props,
                }
            )
    if not cols["idx"]:
        return empty_events()
    idx_arr = np.asarray(cols["idx"], dtype=np.int64)
    hole = np.asarray(cols["hole_h"], dtype=np.float64)
    score = 1.0 - 0.5 * ramp(hole, full_score_hole_h, low_score_hole_h)
    return events_frame(
        {
            "kind": kind,
            "mmsi": arrays.mmsi[idx_arr],
            "other_mmsi": None,
            "start": arrays.ts[idx_arr],
            "end": arrays.ts[idx_arr],
            "lat": arrays.lat[idx_arr],
            "lon": arrays.lon[idx_arr],
            "zone": cols["zone"],
            "score": score,
            "is_open": False,
            "evidence": cols["evidence"],
        },
        detector=f"{kind}/{version}",
    )


def _membership(
    inputs: DetectionInputs, zones: list[Zone], lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """Zone membership of every point, computed once per inputs (entries and exits share it)."""
    key = ("zone_membership", False)
    cached = inputs._cache.get(key)
    if cached is None:
        cached = np.asarray(zone_membership(zones, lat, lon), dtype=bool)
        inputs._cache[key] = cached
    assert isinstance(cached, np.ndarray)
    return cached
