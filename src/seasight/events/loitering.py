"""Loitering: one vessel staying slow at sea for an hour or more, away from ports.

Definition (after Global Fishing Watch's loitering events): a vessel loiters when it moves at an
average speed below ``max_avg_speed_kn`` (2 kn) for at least ``min_duration_h`` (1 h), away
from ports. GFW publishes loitering for carrier vessels (reefers) and requires them to be on
average at least 20 nautical miles from shore; here that rule is the ``carrier_min_shore_nm``
parameter, applied to the AIS ship types in ``carrier_ship_types`` (default 70-79, "cargo":
AIS has no code for reefers, which report as cargo). Other vessels must only be at least
``min_shore_nm`` (default 0) from shore. A vessel's ship type is the latest one of its identity
history (``inputs.identities``); vessels without one are not carriers.

Computed per segment (one transmitter's track, so a second transmitter on the same MMSI
cannot join or break a run):

* a point is *slow* when its speed (reported SOG, or the implied speed where SOG is missing) is
  below ``max_point_speed_kn``, and it is *eligible* when slow, not flagged ``on_land`` (a
  spoofed or bad fix) and outside every port's area (:mod:`seasight.geo.port_areas`: farther
  than ``port_radius_km`` from every port point and ``anchorage_radius_km`` from every named
  anchorage): a vessel at berth, or waiting at an outer anchorage, is on a port visit, not
  loitering;
* runs of consecutive eligible points, split where two reports are more than ``max_hole_h``
  (2 h) apart, are candidates; a run lasts from its first to its last point;
* a run is loitering when it lasts ``min_duration_h`` or more and its time-weighted average
  speed (each leg between consecutive points weighted by its duration, at the mean of its two
  end speeds) is below ``max_avg_speed_kn``, and the carrier / shore rule holds (mean distance
  from shore of the run's points).

A brief slow-down (less than ``min_duration_h``) never fires. The event is open when the run
reaches the segment's last point and that point is less than ``max_hole_h`` before
``horizon_end``. ``start``/``end`` are the first and last points of the run, ``lat``/``lon`` its
median position. Evidence: ``avg_speed_kn``, ``max_speed_kn``, ``duration_h``, ``n_points``,
start and end points, ``distance_to_shore_nm`` (mean over the run's points when a shore rule
applies to the vessel, else at the run's median position),
``port_distance_km`` (of the median position, to the nearest port point or anchorage),
``ship_type``, ``carrier`` and the segment.

Score: 0.5 at the thresholds, up to +0.3 with duration (full at ``full_score_duration_h``)
and up to +0.2 with slowness (average speed 0).
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
    group_median_position,
    horizon_end_us,
    latest_ship_types,
    point_evidence,
    ramp,
    speeds,
    tracks,
)
from seasight.geo.distance import KM_PER_NM
from seasight.geo.land import distance_to_shore_km
from seasight.geo.port_areas import ANCHORAGE_RADIUS_KM, port_areas_with
from seasight.geo.ports import PORT_RADIUS_KM

KIND = "loitering"
VERSION = 1


@dataclass(frozen=True)
class Params:
    """Thresholds of the loitering detector."""

    #: Maximum time-weighted average speed over the run, knots (GFW: 2 kn).
    max_avg_speed_kn: float = 2.0
    #: A point is slow (can be part of a run) below this speed, knots.
    max_point_speed_kn: float = 2.0
    #: Minimum duration of the run, hours (GFW: 1 h).
    min_duration_h: float = 1.0
    #: Points closer than this to a port point are in port, not loitering, km.
    port_radius_km: float = PORT_RADIUS_KM
    #: Points closer than this to a named anchorage are in port, not loitering, km (GFW: 3 km).
    anchorage_radius_km: float = ANCHORAGE_RADIUS_KM
    #: Reports further apart than this split a run, hours.
    max_hole_h: float = 2.0
    #: Minimum mean distance from shore for every vessel, nautical miles.
    min_shore_nm: float = 0.0
    #: Minimum mean distance from shore for carriers, nautical miles (GFW: 20 nm).
    carrier_min_shore_nm: float = 20.0
    #: AIS ship types treated as carriers (default: 70-79, cargo, which includes reefers).
    carrier_ship_types: frozenset[int] = frozenset(range(70, 80))
    #: Duration at which the duration part of the score is full, hours.
    full_score_duration_h: float = 8.0


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Loitering events (EVENTS schema) of every segment in ``inputs.points``."""
    arrays = tracks(inputs)
    horizon = horizon_end_us(inputs)
    if arrays.n < 2 or horizon is None:
        return empty_events()
    speed = speeds(inputs)
    eligible = (speed < params.max_point_speed_kn) & ~arrays.on_land  # NaN compares False
    slow_idx = np.flatnonzero(eligible)
    if slow_idx.size == 0:
        return empty_events()
    areas = port_areas_with(params.port_radius_km, params.anchorage_radius_km)
    eligible[slow_idx[areas.in_port(arrays.lat[slow_idx], arrays.lon[slow_idx])]] = False

    max_hole_us = params.max_hole_h * US_PER_H
    joined = (arrays.seg[1:] == arrays.seg[:-1]) & (arrays.ts[1:] - arrays.ts[:-1] <= max_hole_us)
    leg_in = eligible[1:] & eligible[:-1] & joined  # leg i -> i+1 inside a run
    starts = eligible & ~np.r_[False, leg_in]
    run_of = np.cumsum(starts) - 1  # valid where eligible
    pts = np.flatnonzero(eligible)
    runs = run_of[pts]
    n_runs = int(runs[-1]) + 1 if runs.size else 0
    if n_runs == 0:
        return empty_events()
    first = np.flatnonzero(starts)  # first and last point of each run, in run order
    last = np.flatnonzero(eligible & ~np.r_[leg_in, False])
    legs = np.flatnonzero(leg_in)
    leg_run = run_of[legs]
    dt = (arrays.ts[legs + 1] - arrays.ts[legs]).astype(np.float64)
    leg_speed = np.nan_to_num((speed[legs] + speed[legs + 1]) / 2.0)
    w = np.bincount(leg_run, weights=dt, minlength=n_runs)
    ws = np.bincount(leg_run, weights=dt * leg_speed, minlength=n_runs)
    duration_us = arrays.ts[last] - arrays.ts[first]
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(w > 0, ws / w, np.nan)
    keep = (duration_us >= params.min_duration_h * US_PER_H) & (avg < params.max_avg_speed_kn)
    cand = np.flatnonzero(keep)
    if cand.size == 0:
        return empty_events()

    ship_types = latest_ship_types(inputs.identities)
    cand_mmsi = arrays.mmsi[first[cand]]
    stype = np.array([ship_types.get(int(m), -1) for m in cand_mmsi], dtype=np.int64)
    carrier = np.isin(stype, np.array(sorted(params.carrier_ship_types), dtype=np.int64))
    # mean distance from shore over each candidate run's points (only where a rule needs it;
    # otherwise at the run's median position, for the evidence)
    member = np.isin(runs, cand)
    p_run = runs[member]
    p_idx = pts[member]
    pos = np.searchsorted(cand, p_run)
    count = np.bincount(pos, minlength=cand.size)
    lat_med, lon_med = group_median_position(
        pos, arrays.lat[p_idx], arrays.lon[p_idx], cand.size
    )
    shore_nm = np.asarray(distance_to_shore_km(lat_med, lon_med), np.float64) / KM_PER_NM
    ruled = carrier | (params.min_shore_nm > 0)
    if ruled.any():
        sel = ruled[pos]
        shore_km = np.asarray(
            distance_to_shore_km(arrays.lat[p_idx[sel]], arrays.lon[p_idx[sel]]), np.float64
        )
        shore_sum = np.bincount(pos[sel], weights=shore_km, minlength=cand.size)
        mean_nm = shore_sum / np.maximum(np.bincount(pos[sel], minlength=cand.size), 1) / KM_PER_NM
        shore_nm = np.where(ruled, mean_nm, shore_nm)
    need = np.where(carrier, params.carrier_min_shore_nm, 0.0)
    ok = (shore_nm >= need) & (shore_nm >= params.min_shore_nm)
    if not ok.any():
        return empty_events()
    cand, carrier, stype, shore_nm = cand[ok], carrier[ok], stype[ok], shore_nm[ok]
    lat_med, lon_med, count = lat_med[ok], lon_med[ok], count[ok]
    port_km = areas.distance_km(lat_med, lon_med)

    f, g = first[cand], last[cand]
    seg_last = arrays.seg_start[arrays.seg[g] + 1] - 1
    is_open = (g == seg_last) & (horizon - arrays.ts[g] < max_hole_us)
    dur_h = duration_us[cand] / US_PER_H
    avg_c = avg[cand]
    score = (
        0.5
        + 0.3 * ramp(dur_h, params.min_duration_h, params.full_score_duration_h)
        + 0.2 * (1.0 - ramp(avg_c, 0.0, params.max_avg_speed_kn))
    )
    max_speed = np.array(
        [np.nanmax(speed[first[r] : last[r] + 1]) for r in cand], dtype=np.float64
    )
    evidence = []
    for q in range(cand.size):
        evidence.append(
            {
                "avg_speed_kn": round(float(avg_c[q]), 3),
                "max_speed_kn": round(float(max_speed[q]), 3),
                "duration_h": round(float(dur_h[q]), 3),
                "n_points": int(count[q]),
                "start": point_evidence(arrays, int(f[q])),
                "end": point_evidence(arrays, int(g[q])),
                "distance_to_shore_nm": round(float(shore_nm[q]), 2),
                "port_distance_km": round(float(port_km[q]), 2),
                "ship_type": None if stype[q] < 0 else int(stype[q]),
                "carrier": bool(carrier[q]),
                "segment_id": arrays.segment_ids[int(arrays.seg[f[q]])],
            }
        )
    return events_frame(
        {
            "kind": KIND,
            "mmsi": arrays.mmsi[f],
            "other_mmsi": None,
            "start": arrays.ts[f],
            "end": arrays.ts[g],
            "lat": lat_med,
            "lon": lon_med,
            "zone": None,
            "score": score,
            "is_open": is_open,
            "evidence": evidence,
        },
        detector=f"{KIND}/{VERSION}",
    )
