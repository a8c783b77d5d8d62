"""Port visits: a vessel enters a port, stops there, and leaves.

Definition (after Global Fishing Watch's port visits, which enter a port within 3 km of an
anchorage, exit beyond 4 km, and need a stop below 0.2 kn; SeaSight's ports are points, see
:mod:`seasight.geo.ports`):

* a vessel **enters** a port when it comes within ``entry_radius_km`` (default
  :data:`seasight.geo.ports.PORT_RADIUS_KM`) of it (the nearest port at that moment), and
  **exits** when it is more than ``exit_radius_km`` (entry radius + 1 km, the same hysteresis as
  GFW's 3 km / 4 km) from *that* port, so a vessel lying near the edge does not flap in and
  out, and a vessel moving straight from one port to a neighbouring one makes two visits;
* the visit counts when the vessel stayed at least ``min_duration_min`` (30 min) and slowed down
  inside (some point below ``stop_speed_kn``, 1 kn): a vessel passing a port at speed is not
  visiting it;
* a hole in the reports longer than ``max_hole_h`` (24 h) ends a visit (the vessel may have left
  and come back unseen).

Computed per segment (one transmitter's track). ``start`` is the first point inside (the
entry), ``end`` the last point inside (the exit is the next point, beyond the exit radius).
A vessel first seen already inside a port gets a visit starting at its first point, marked
``entry_observed: false`` in the evidence (and scored lower). A visit still inside at the
segment's last point, less than ``max_hole_h`` before ``horizon_end``, is open.

``zone`` is the port's name; ``lat``/``lon`` the vessel's median position during the visit.
Evidence: ``locode``, ``port``, ``country``, port position, ``duration_h``,
``stop_duration_h`` (time between consecutive reports both below ``stop_speed_kn``),
``min_speed_kn``, ``min_distance_km``, entry and exit points (the first and last points inside),
``entry_observed`` / ``exit_observed`` and the reports just before / after the visit
(``previous_point`` / ``next_point``).

Score: 0.6, +0.2 when the entry was observed, up to +0.2 with stop duration (full at
``full_score_stop_h``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np
import polars as pl

from seasight.events.model import (
    US_PER_H,
    US_PER_MIN,
    DetectionInputs,
    empty_events,
    events_frame,
    group_median_position,
    horizon_end_us,
    point_evidence,
    ramp,
    speeds,
    tracks,
)
from seasight.geo.distance import haversine_km, haversine_km_scalar
from seasight.geo.ports import PORT_RADIUS_KM, load_ports, nearest_port_within

KIND = "port_visit"
VERSION = 1

#: Size of the coarse grid used to skip points far from every port, degrees.


@dataclass(frozen=True)
class Params:
    """Thresholds of the port-visit detector."""

    #: A vessel within this distance of a port is inside it, km.
    entry_radius_km: float = PORT_RADIUS_KM
    #: A vessel inside a port leaves it beyond this distance from it, km.
    exit_radius_km: float = PORT_RADIUS_KM + 1.0
    #: Minimum time inside (first to last point inside), minutes.
    min_duration_min: float = 30.0
    #: The vessel must report a speed below this inside the port, knots; also the speed below
    #: which it counts as stopped for ``stop_duration_h``.
    stop_speed_kn: float = 1.0
    #: A hole between reports longer than this ends a visit, hours.
    max_hole_h: float = 24.0
    #: Stop duration at which the stop part of the score is full, hours.
    full_score_stop_h: float = 2.0
    #: Ports to use (columns locode, name, country, lat, lon); None: :func:`load_ports`.
    ports: pl.DataFrame | None = field(default=None, compare=False, hash=False)


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Port-visit events (EVENTS schema) of every segment in ``inputs.points``."""
    if params.exit_radius_km < params.entry_radius_km:
        raise ValueError("exit_radius_km must be at least entry_radius_km")
    arrays = tracks(inputs)
    horizon = horizon_end_us(inputs)
    if arrays.n == 0 or horizon is None:
        return empty_events()
    ports = params.ports if params.ports is not None else load_ports()
    if ports.height == 0:
        return empty_events()
    port_lat = ports["lat"].to_numpy().astype(np.float64)
    port_lon = ports["lon"].to_numpy().astype(np.float64)

    # nearest port, only for points in grid cells near some port (the rest are far from all)
    near_idx, near_km = nearest_port_within(
        arrays.lat, arrays.lon, params.entry_radius_km, params.ports
    )
    max_hole_us = round(params.max_hole_h * US_PER_H)
    visit, vport = _visit_kernel(
        arrays.seg, arrays.ts, arrays.lat, arrays.lon, near_idx, near_km, port_lat, port_lon,
        params.entry_radius_km, params.exit_radius_km, np.int64(max_hole_us),
    )
    pts = np.flatnonzero(visit >= 0)
    if pts.size == 0:
        return empty_events()
    n_vis = int(visit[pts].max()) + 1
    vid = visit[pts]
    first = np.flatnonzero(np.r_[True, vid[1:] != vid[:-1]])
    first_pt = pts[first]
    last_pt = pts[np.r_[first[1:] - 1, vid.size - 1]]
    port = vport[first_pt]
    speed = speeds(inputs)
    sp = speed[pts]
    min_speed = np.full(n_vis, np.inf)
    np.fmin.at(min_speed, vid, np.where(np.isnan(sp), np.inf, sp))
    duration_us = arrays.ts[last_pt] - arrays.ts[first_pt]
    # stop time: legs inside one visit whose both ends are slow
    legs = np.flatnonzero(vid[1:] == vid[:-1])
    a, b = pts[legs], pts[legs + 1]
    stopped = (speed[a] < params.stop_speed_kn) & (speed[b] < params.stop_speed_kn)
    stop_us = np.bincount(
        vid[legs], weights=np.where(stopped, arrays.ts[b] - arrays.ts[a], 0), minlength=n_vis
    )
    dist_in = np.asarray(haversine_km(arrays.lat[pts], arrays.lon[pts], port_lat[vport[pts]],
                                      port_lon[vport[pts]]), dtype=np.float64)
    min_dist = np.full(n_vis, np.inf)
    np.fmin.at(min_dist, vid, dist_in)

    keep = (duration_us >= params.min_duration_min * US_PER_MIN) & (
        min_speed < params.stop_speed_kn
    )
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return empty_events()
    med_lat, med_lon = group_median_position(vid, arrays.lat[pts], arrays.lon[pts], n_vis)
    f, g, port = first_pt[idx], last_pt[idx], port[idx]
    seg_first = arrays.seg_start[arrays.seg[f]]
    seg_last = arrays.seg_start[arrays.seg[g] + 1] - 1
    # an entry (exit) is observed when a report shortly before (after) the visit exists
    prev_ts = arrays.ts[np.maximum(f - 1, 0)]
    next_ts = arrays.ts[np.minimum(g + 1, arrays.n - 1)]
    entry_observed = (f != seg_first) & (arrays.ts[f] - prev_ts <= max_hole_us)
    exit_observed = (g != seg_last) & (next_ts - arrays.ts[g] <= max_hole_us)
    is_open = (g == seg_last) & (horizon - arrays.ts[g] < max_hole_us)
    stop_h = stop_us[idx] / US_PER_H
    dur_h = duration_us[idx] / US_PER_H
    score = 0.6 + 0.2 * entry_observed + 0.2 * ramp(stop_h, 0.0, params.full_score_stop_h)
    names = ports["name"].to_list()
    locodes = ports["locode"].to_list() if "locode" in ports.columns else [None] * ports.height
    countries = (
        ports["country"].to_list() if "country" in ports.columns else [None] * ports.height
    )
    country_names = (
        ports["country_name"].to_list()
        if "country_name" in ports.columns
        else [None] * ports.height
    )
    evidence = []
    for q in range(idx.size):
        p = int(port[q])
        i, j = int(f[q]), int(g[q])
        evidence.append(
            {
                "locode": locodes[p],
                "port": names[p],
                "country": countries[p],
                "country_name": country_names[p],
                "port_lat": float(port_lat[p]),
                "port_lon": float(port_lon[p]),
                "duration_h": round(float(dur_h[q]), 3),
                "stop_duration_h": round(float(stop_h[q]), 3),
                "min_speed_kn": round(float(min_speed[idx[q]]), 3),
                "min_distance_km": round(float(min_dist[idx[q]]), 3),
                "entry": point_evidence(arrays, i),
                "exit": point_evidence(arrays, j),
                "entry_observed": bool(entry_observed[q]),
                "exit_observed": bool(exit_observed[q]),
                "previous_point": point_evidence(arrays, i - 1) if entry_observed[q] else None,
                "next_point": point_evidence(arrays, j + 1) if exit_observed[q] else None,
            }
        )
    return events_frame(
        {
            "kind": KIND,
            "mmsi": arrays.mmsi[f],
            "other_mmsi": None,
            "start": arrays.ts[f],
            "end": arrays.ts[g],
            "lat": med_lat[idx],
            "lon": med_lon[idx],
            "zone": [names[int(p)] for p in port],
            "score": score,
            "is_open": is_open,
            "evidence": evidence,
        },
        detector=f"{KIND}/{VERSION}",
    )


@nb.njit(cache=True, nogil=True)
def _visit_kernel(  # type: ignore[no-untyped-def]
    seg, ts, lat, lon, near_idx, near_km, port_lat, port_lon, r_in, r_out, max_hole
):
    n = len(ts)
    visit = np.full(n, -1, np.int64)
    vport = np.full(n, -1, np.int64)
    cur = -1  # port of the visit in progress
    v = -1
    for i in range(n):
        if i > 0 and (seg[i] != seg[i - 1] or ts[i] - ts[i - 1] > max_hole):
            cur = -1
        if cur >= 0:
            d = haversine_km_scalar(lat[i], lon[i], port_lat[cur], port_lon[cur])
            if d > r_out:
                cur = -1
        if cur < 0 and near_idx[i] >= 0 and near_km[i] <= r_in:
            cur = near_idx[i]
            v += 1
        if cur >= 0:
            visit[i] = v
            vport[i] = cur
    return visit, vport
