"""Port visits: a vessel enters a port, stops there, and leaves.

Definition (after Global Fishing Watch's port visits, which enter a port within 3 km of one of
its named anchorages and exit beyond 4 km; the port layer is :mod:`seasight.geo.port_areas`:
UN/LOCODE port points, GFW's named anchorages and the World Port Index, joined into named
ports):

* a vessel **enters** a port when it comes into the port's area: within ``port_radius_km``
  (5 km) of one of its port points or ``anchorage_radius_km`` (3 km, GFW's entry distance) of
  one of its anchorages, outer anchorages included; it **exits** when it is more than
  ``exit_margin_km`` (1 km, GFW's 3 km / 4 km hysteresis) beyond the area of every port, so a
  vessel lying near the edge does not flap in and out. A vessel that sails into another
  port's area starts a visit there; a vessel waiting at an outer anchorage is visiting the
  anchorage's port;
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
Evidence: ``locode`` (null for a port known only to GFW or the World Port Index), ``port``,
``country``, ``iso3``, ``port_sources``, the port's position, ``duration_h``,
``stop_duration_h`` (time between consecutive reports both below ``stop_speed_kn``),
``min_speed_kn``, ``min_area_excess_km`` (how deep inside the port's area the vessel came:
the least distance to one of its points or anchorages minus that one's radius, negative
inside), entry and exit points (the first and last points inside),
``entry_observed`` / ``exit_observed`` and the reports just before / after the visit
(``previous_point`` / ``next_point``).

Score: 0.6, +0.2 when the entry was observed, up to +0.2 with stop duration (full at
``full_score_stop_h``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from seasight.geo.port_areas import (
    ANCHORAGE_RADIUS_KM,
    PortAreas,
    port_areas_with,
    port_stays,
)
from seasight.geo.ports import PORT_RADIUS_KM

KIND = "port_visit"
VERSION = 2


@dataclass(frozen=True)
class Params:
    """Thresholds of the port-visit detector."""

    #: A vessel within this distance of a port point (UN/LOCODE, World Port Index) is in
    #: that port, km.
    port_radius_km: float = PORT_RADIUS_KM
    #: A vessel within this distance of one of a port's named anchorages is in that port, km
    #: (GFW: 3 km).
    anchorage_radius_km: float = ANCHORAGE_RADIUS_KM
    #: A vessel in a port leaves it when it is this much farther than the entry distance
    #: from every point and anchorage of every port, km (GFW: 4 km - 3 km).
    exit_margin_km: float = 1.0
    #: Minimum time inside (first to last point inside), minutes.
    min_duration_min: float = 30.0
    #: The vessel must report a speed below this inside the port, knots; also the speed below
    #: which it counts as stopped for ``stop_duration_h``.
    stop_speed_kn: float = 1.0
    #: A hole between reports longer than this ends a visit, hours.
    max_hole_h: float = 24.0
    #: Stop duration at which the stop part of the score is full, hours.
    full_score_stop_h: float = 2.0
    #: Port points to use instead of the shipped layer (columns name, lat, lon, optionally
    #: locode, country), each a port of ``port_radius_km``; None: the shipped port layer
    #: (:func:`seasight.geo.port_areas.port_areas`).
    ports: pl.DataFrame | None = field(default=None, compare=False, hash=False)

    def areas(self) -> PortAreas:
        """The port layer these parameters describe."""
        if self.ports is not None:
            return PortAreas.from_points(self.ports, self.port_radius_km)
        return port_areas_with(self.port_radius_km, self.anchorage_radius_km)


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Port-visit events (EVENTS schema) of every segment in ``inputs.points``."""
    if params.exit_margin_km < 0:
        raise ValueError("exit_margin_km must be >= 0")
    arrays = tracks(inputs)
    horizon = horizon_end_us(inputs)
    if arrays.n == 0 or horizon is None:
        return empty_events()
    areas = params.areas()
    ports = areas.ports
    if ports.height == 0:
        return empty_events()
    port_lat = ports["lat"].to_numpy().astype(np.float64)
    port_lon = ports["lon"].to_numpy().astype(np.float64)

    # the port area each point is in or near (only points near some port are searched)
    near_port, excess = areas.lookup(arrays.lat, arrays.lon, params.exit_margin_km)
    max_hole_us = round(params.max_hole_h * US_PER_H)
    new_stay = np.ones(arrays.n, np.bool_)
    new_stay[1:] = (arrays.seg[1:] != arrays.seg[:-1]) | (
        np.diff(arrays.ts) > max_hole_us)
    vport = port_stays(new_stay, near_port, excess, params.exit_margin_km)
    inside = vport >= 0
    starts = inside & (new_stay | np.r_[True, vport[1:] != vport[:-1]])
    visit = np.where(inside, np.cumsum(starts) - 1, -1)
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
    # how deep inside the port's area (distance to its nearest point or anchorage minus that
    # one's radius; negative inside): the least, over the visit
    min_excess = np.full(n_vis, np.inf)
    np.fmin.at(min_excess, vid, excess[pts])

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
    locodes = ports["locode"].to_list()
    countries = ports["country"].to_list()
    iso3s = ports["iso3"].to_list()
    sources = ports["sources"].to_list()
    evidence = []
    for q in range(idx.size):
        p = int(port[q])
        i, j = int(f[q]), int(g[q])
        evidence.append(
            {
                "locode": locodes[p],
                "port": names[p],
                "country": countries[p],
                "country_name": ports["country_name"][p],
                "iso3": iso3s[p],
                "port_sources": sources[p],
                "port_lat": round(float(port_lat[p]), 6),
                "port_lon": round(float(port_lon[p]), 6),
                "duration_h": round(float(dur_h[q]), 3),
                "stop_duration_h": round(float(stop_h[q]), 3),
                "min_speed_kn": round(float(min_speed[idx[q]]), 3),
                "min_area_excess_km": round(float(min_excess[idx[q]]), 3),
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
