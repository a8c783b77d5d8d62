"""AIS gaps: a vessel that stops transmitting far from shore (possible intentional disabling).

Definition (Global Fishing Watch's AIS-disabling events, which use the same defaults): a *gap*
is a period of at least ``min_gap_h`` (12 h) in which no position of the MMSI was received,
where the vessel was last seen at least ``min_shore_nm`` (50 nautical miles) from shore. Close
to shore, gaps are mostly reception holes (terrestrial receivers, port stays with AIS off), so
they are not reported. The vessel must also have been tracked before it went silent (at least
``min_points_before`` positions in the ``before_window_h`` before the gap, as GFW requires a
well-tracked vessel): a single fix from a sparse source is not a vessel going dark.

The gap is computed over **all segments of the MMSI in time order**: when one MMSI is used by
two transmitters at once (see ``spoofing``), a silence of one transmitter while the other keeps
reporting is *covered* and is not a gap; and a vessel that reappears after 12 h somewhere the
segmenter does not connect to its old track (a new segment) still closes its gap. The price is
that the off and on points of a gap may come from different transmitters when an MMSI is shared;
the evidence names both segments so an analyst can tell. Fixes flagged ``on_land`` count as
receptions (the transmitter was alive); a gap starting at one is 0 nm from shore, so it is not
reported.

A gap whose vessel has not reappeared by ``horizon_end`` (and that has already lasted
``min_gap_h``) is reported *open*: ``end`` = ``horizon_end``, no on point yet. Running detection
again after more data arrives gives the same event id (same MMSI and start), now closed.

Event: ``start`` = time of the last position before the gap (the *off* point), ``end`` = time of
the first position after it (the *on* point); ``lat``/``lon`` = the off point. Evidence: off and
on points (time, lat, lon, segment), ``duration_h``, ``distance_km`` and ``implied_speed_kn``
across the gap, ``distance_to_shore_nm`` of the off point (and of the on point).

Score: 0.5 for a gap at the thresholds, rising with duration (up to +0.25 at
``full_score_gap_h``) and with distance from shore (up to +0.25 at ``full_score_shore_nm``);
a closed gap whose implied speed is beyond ``max_plausible_speed_kn`` (the two ends cannot be
the same ship moving continuously) is halved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from seasight.events.model import (
    US_PER_H,
    DetectionInputs,
    empty_events,
    events_frame,
    horizon_end_us,
    iso,
    mmsi_time_order,
    ramp,
    tracks,
)
from seasight.geo.distance import KM_PER_NM, haversine_km
from seasight.geo.land import distance_to_shore_km

KIND = "gap"
VERSION = 1


@dataclass(frozen=True)
class Params:
    """Thresholds of the gap detector."""

    #: Minimum time without any position of the MMSI, hours (GFW: 12 h).
    min_gap_h: float = 12.0
    #: Minimum distance from shore of the last position before the gap, nautical miles (GFW: 50).
    min_shore_nm: float = 50.0
    #: The vessel must have sent at least this many positions in the ``before_window_h`` before
    #: going silent: only a vessel that was being tracked can be seen to go dark (a single fix
    #: from a sparse source, or a vessel heard once by satellite, is not a gap).
    min_points_before: int = 5
    #: The window before the gap in which ``min_points_before`` are counted, hours.
    before_window_h: float = 12.0
    #: Gap duration at which the duration part of the score is full, hours.
    full_score_gap_h: float = 48.0
    #: Distance from shore at which the distance part of the score is full, nautical miles.
    full_score_shore_nm: float = 200.0
    #: Implied speed across a closed gap above which the ends are unlikely one ship, knots.
    max_plausible_speed_kn: float = 30.0


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Gap events (EVENTS schema) of every MMSI in ``inputs.points``."""
    arrays = tracks(inputs)
    horizon = horizon_end_us(inputs)
    if arrays.n == 0 or horizon is None:
        return empty_events()
    # every MMSI's points in time order, whatever segment they belong to
    order = mmsi_time_order(arrays)
    if order is None:
        mmsi, ts, seg, lat, lon = arrays.mmsi, arrays.ts, arrays.seg, arrays.lat, arrays.lon
    else:
        mmsi, ts, seg = arrays.mmsi[order], arrays.ts[order], arrays.seg[order]
        lat, lon = arrays.lat[order], arrays.lon[order]
    min_gap_us = round(params.min_gap_h * US_PER_H)

    same = mmsi[1:] == mmsi[:-1]
    closed_off = np.flatnonzero(same & (ts[1:] - ts[:-1] >= min_gap_us))
    last_of_mmsi = np.flatnonzero(np.r_[~same, True])
    open_off = last_of_mmsi[horizon - ts[last_of_mmsi] >= min_gap_us]
    off = np.r_[closed_off, open_off].astype(np.int64)
    is_open = np.r_[np.zeros(len(closed_off), bool), np.ones(len(open_off), bool)]
    window_us = round(params.before_window_h * US_PER_H)
    tracked = _points_before(off, ts, np.r_[True, ~same], window_us) >= params.min_points_before
    off, is_open = off[tracked], is_open[tracked]
    if len(off) == 0:
        return empty_events()
    shore_off_km = np.asarray(distance_to_shore_km(lat[off], lon[off]), dtype=np.float64)
    keep = shore_off_km >= params.min_shore_nm * KM_PER_NM
    off, is_open, shore_off_km = off[keep], is_open[keep], shore_off_km[keep]
    if len(off) == 0:
        return empty_events()
    on = np.where(is_open, off, off + 1)  # placeholder index for open gaps
    end = np.where(is_open, horizon, ts[on])
    duration_h = (end - ts[off]) / US_PER_H
    dist_km = np.where(
        is_open, np.nan, np.asarray(haversine_km(lat[off], lon[off], lat[on], lon[on]))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        speed_kn = np.where(duration_h > 0, dist_km / KM_PER_NM / duration_h, np.nan)
    shore_on_km = np.where(
        is_open, np.nan, np.asarray(distance_to_shore_km(lat[on], lon[on]), dtype=np.float64)
    )
    shore_off_nm = shore_off_km / KM_PER_NM
    score = (
        0.5
        + 0.25 * ramp(duration_h, params.min_gap_h, params.full_score_gap_h)
        + 0.25 * ramp(shore_off_nm, params.min_shore_nm, params.full_score_shore_nm)
    )
    score = np.where(~is_open & (speed_kn > params.max_plausible_speed_kn), score / 2, score)

    evidence = []
    for k in range(len(off)):
        i, j = int(off[k]), int(on[k])
        ev: dict[str, object] = {
            "off": _point(i, ts, lat, lon, seg, arrays.segment_ids),
            "on": None if is_open[k] else _point(j, ts, lat, lon, seg, arrays.segment_ids),
            "duration_h": round(float(duration_h[k]), 3),
            "distance_km": None if is_open[k] else round(float(dist_km[k]), 3),
            "implied_speed_kn": None if is_open[k] else round(float(speed_kn[k]), 3),
            "distance_to_shore_nm": round(float(shore_off_nm[k]), 2),
            "distance_to_shore_nm_on": (
                None if is_open[k] else round(float(shore_on_km[k] / KM_PER_NM), 2)
            ),
            "same_segment": bool(is_open[k] or seg[i] == seg[j]),
        }
        evidence.append(ev)
    return events_frame(
        {
            "kind": KIND,
            "mmsi": mmsi[off],
            "other_mmsi": None,
            "start": ts[off],
            "end": end,
            "lat": lat[off],
            "lon": lon[off],
            "zone": None,
            "score": score,
            "is_open": is_open,
            "evidence": evidence,
        },
        detector=f"{KIND}/{VERSION}",
    )


def _points_before(off: np.ndarray, ts: np.ndarray, first_of_mmsi: np.ndarray,
                   window_us: int) -> np.ndarray:
    """Positions of the same MMSI within ``window_us`` up to and including each ``off`` point
    (``ts`` sorted by MMSI, then time)."""
    starts = np.flatnonzero(first_of_mmsi)
    block = starts[np.searchsorted(starts, off, side="right") - 1]
    counts = np.empty(len(off), np.int64)
    for k, (i, b) in enumerate(zip(off.tolist(), block.tolist(), strict=True)):
        counts[k] = i + 1 - (b + int(np.searchsorted(ts[b : i + 1], ts[i] - window_us)))
    return counts


def _point(
    i: int,
    ts: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    seg: np.ndarray,
    segment_ids: list[str],
) -> dict[str, object]:
    return {
        "ts": iso(int(ts[i])),
        "lat": round(float(lat[i]), 6),
        "lon": round(float(lon[i]), 6),
        "segment_id": segment_ids[int(seg[i])],
    }
