"""Encounters: two vessels together at sea for hours (a possible ship-to-ship transfer).

Definition (Global Fishing Watch's encounter events, same defaults): two vessels (different
MMSIs) within ``max_distance_m`` (500 m) of each other for at least ``min_duration_h`` (2 h),
both slow (median speed over the encounter below ``max_median_speed_kn``, 2 kn), and at least
``min_port_distance_km`` (10 km) from the nearest port point or named anchorage of the port
layer (:mod:`seasight.geo.port_areas`), so that ships at anchor together inside a port or at
its outer anchorages are not reported.

How it scales (10,000 vessels over a day, millions of positions, in about a second):

1. **Resample.** Every segment (one transmitter's track) is interpolated onto a regular time
   grid of ``step_min`` minutes aligned on the epoch (00:00, 00:10, ...). A grid time is filled
   only when the points around it are at most ``max_interp_gap_min`` apart (or a point falls on
   it), so a vessel is never invented across a long hole. Longitude is interpolated across the
   antimeridian. The speed is the reported SOG (or the implied speed where SOG is missing),
   interpolated the same way. Samples inside a port's area (within ``in_port_km`` of a port
   point or ``in_anchorage_km`` of a named anchorage) are left out: ships at berth or at anchor
   in port are not at sea, and busy ports and anchorages would otherwise hold most pairs.
2. **Bin.** Each sample goes into a space-time cell: its grid step, a latitude row of
   ``cell_km`` and a longitude column at least ``cell_km`` wide at the row's poleward edge.
   With ``cell_km`` >= ``max_distance_m`` every pair within range is in the same or an adjacent
   cell, so each sample is compared only with the samples of the same step in its cell and the
   neighbouring ones (half of the 3x3 stencil, so each pair is seen once): no O(n^2) over
   vessels.
3. **Pair.** Candidate pairs of different MMSIs within ``max_distance_m`` (great-circle) at
   the same step are kept with their distance and both speeds.
4. **Group.** The steps of one vessel pair are grouped into runs of consecutive steps, allowing
   up to ``max_missing_steps`` missing steps inside a run (the two drifting a little further
   apart for a while, a fix left out); a run spans its first to its last step. For the
   ``min_duration_h`` test each step stands for ``step_min`` of time (a run of 12 steps, 1 h
   50 min from first to last, counts as 2 h, so that a 2 h meeting not aligned on the grid is
   not lost); runs long enough, with both median speeds below the limit and a median position
   far enough from every port are encounters. Holes in the reports longer than
   ``max_interp_gap_min`` leave steps empty, which splits a run when more than
   ``max_missing_steps`` are missing.

Each encounter is stored once, with ``mmsi`` < ``other_mmsi``. ``start``/``end`` are the first
and last grid times of the run; ``lat``/``lon`` the median midpoint of the two vessels
(:func:`~seasight.events.model.group_median_position`, so a meeting on the 180th meridian is
placed there, not near longitude 0). Events
whose last step is within ``max_missing_steps + 1`` steps of ``horizon_end`` are open. Evidence:
``median_distance_m``, ``min_distance_m``, ``median_speed_kn`` / ``other_median_speed_kn``,
``duration_h`` (end - start), ``n_steps``, ``step_min``, start and end positions of both
vessels, the segments, and ``port_distance_km``.

Score: 0.6 at the thresholds, up to +0.2 with duration (at ``full_score_duration_h``) and up to
+0.2 with closeness (median distance 0 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np
import polars as pl

from seasight.events.model import (
    US_PER_H,
    US_PER_MIN,
    DetectionInputs,
    TrackArrays,
    empty_events,
    events_frame,
    group_median_position,
    horizon_end_us,
    iso,
    ramp,
    speeds,
    tracks,
)
from seasight.geo.distance import haversine_km_scalar
from seasight.geo.port_areas import ANCHORAGE_RADIUS_KM, port_areas, port_areas_with
from seasight.geo.ports import PORT_RADIUS_KM

KIND = "encounter"
VERSION = 1

_KM_PER_DEG = 111.195  # great-circle km per degree on the mean Earth radius (6371.0 km)


@dataclass(frozen=True)
class Params:
    """Thresholds of the encounter detector."""

    #: Maximum distance between the two vessels, metres (GFW: 500 m).
    max_distance_m: float = 500.0
    #: Minimum duration of the encounter, hours (GFW: 2 h).
    min_duration_h: float = 2.0
    #: Both vessels' median speed over the encounter must be below this, knots (GFW: 2 kn).
    max_median_speed_kn: float = 2.0
    #: Minimum distance of the encounter from the nearest port point or named anchorage, km
    #: (GFW: 10 km from an anchorage).
    min_port_distance_km: float = 10.0
    #: Grid samples this close to a port point are not paired, km: a vessel at berth or at
    #: anchor in port is not at sea (this also keeps the search fast in crowded ports); 0 (with
    #: ``in_anchorage_km`` 0) pairs samples in ports too.
    in_port_km: float = PORT_RADIUS_KM
    #: Grid samples this close to a named anchorage are not paired, km (GFW's port entry).
    in_anchorage_km: float = ANCHORAGE_RADIUS_KM
    #: Time step of the resampling grid, minutes.
    step_min: float = 10.0
    #: Longest hole between two reports that is interpolated across, minutes.
    max_interp_gap_min: float = 60.0
    #: Grid steps that may be missing inside one encounter before it is split.
    max_missing_steps: int = 2
    #: Size of the spatial binning cells, km (at least ``max_distance_m``).
    cell_km: float = 1.0
    #: Duration at which the duration part of the score is full, hours.
    full_score_duration_h: float = 8.0


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Encounter events (EVENTS schema) between every pair of vessels in ``inputs.points``."""
    if params.cell_km * 1000.0 < params.max_distance_m:
        raise ValueError("cell_km must be at least max_distance_m / 1000")
    arrays = tracks(inputs)
    horizon = horizon_end_us(inputs)
    if arrays.n == 0 or horizon is None:
        return empty_events()
    step_us = round(params.step_min * US_PER_MIN)
    samples = resample(
        arrays, speeds(inputs), step_us, round(params.max_interp_gap_min * US_PER_MIN)
    )
    if params.in_port_km > 0 or params.in_anchorage_km > 0:
        areas = port_areas_with(params.in_port_km, params.in_anchorage_km)
        at_sea = ~areas.in_port(samples["lat"], samples["lon"])
        samples = {name: column[at_sea] for name, column in samples.items()}
    pairs = close_pairs(samples, params.max_distance_m, params.cell_km)
    if pairs["i"].size == 0:
        return empty_events()
    return _encounters(samples, pairs, arrays, params, step_us, horizon)


def resample(
    arrays: TrackArrays, speed: np.ndarray, step_us: int, max_hole_us: int
) -> dict[str, np.ndarray]:
    """Every segment interpolated onto the epoch-aligned grid of ``step_us``.

    ``speed`` is the speed of each point (knots). Grid times next to a fix flagged ``on_land``
    are left out (a spoofed or bad position is not a vessel at sea). Returns arrays ``k``
    (grid index: time = k * step_us), ``seg``, ``mmsi``, ``lat``, ``lon``, ``speed`` (knots),
    one row per filled grid time, ordered by (segment, k).
    """
    k, seg, lat, lon, spd = _resample_kernel(
        arrays.seg_start, arrays.ts, arrays.lat, arrays.lon, speed, arrays.on_land,
        np.int64(step_us), np.int64(max_hole_us),
    )
    first_mmsi = arrays.mmsi[arrays.seg_start[:-1]] if arrays.n else arrays.mmsi
    return {
        "k": k,
        "seg": seg,
        "mmsi": first_mmsi[seg].astype(np.int64),
        "lat": lat,
        "lon": lon,
        "speed": spd,
    }


@nb.njit(cache=True, nogil=True)
def _resample_kernel(seg_start, ts, lat, lon, spd, on_land, step, max_hole):  # type: ignore[no-untyped-def]
    n_seg = len(seg_start) - 1
    total = 0
    for s in range(n_seg):
        a = seg_start[s]
        b = seg_start[s + 1]
        g0 = -((-ts[a]) // step)
        g1 = ts[b - 1] // step
        if g1 >= g0:
            total += g1 - g0 + 1
    out_k = np.empty(total, np.int64)
    out_seg = np.empty(total, np.int64)
    out_lat = np.empty(total, np.float64)
    out_lon = np.empty(total, np.float64)
    out_spd = np.empty(total, np.float64)
    m = 0
    for s in range(n_seg):
        a = seg_start[s]
        b = seg_start[s + 1]
        g0 = -((-ts[a]) // step)
        g1 = ts[b - 1] // step
        j = a
        for g in range(g0, g1 + 1):
            t = g * step
            while j + 1 < b and ts[j + 1] <= t:
                j += 1
            if on_land[j] or (ts[j] != t and j + 1 < b and on_land[j + 1]):
                continue
            if ts[j] == t:
                out_lat[m] = lat[j]
                out_lon[m] = lon[j]
                out_spd[m] = spd[j]
            elif j + 1 < b and ts[j + 1] - ts[j] <= max_hole:
                f = (t - ts[j]) / (ts[j + 1] - ts[j])
                out_lat[m] = lat[j] + f * (lat[j + 1] - lat[j])
                dlon = lon[j + 1] - lon[j]
                if dlon > 180.0:
                    dlon -= 360.0
                elif dlon < -180.0:
                    dlon += 360.0
                x = lon[j] + f * dlon
                if x >= 180.0:
                    x -= 360.0
                elif x < -180.0:
                    x += 360.0
                out_lon[m] = x
                s0 = spd[j]
                s1 = spd[j + 1]
                if np.isnan(s0):
                    out_spd[m] = s1
                elif np.isnan(s1):
                    out_spd[m] = s0
                else:
                    out_spd[m] = s0 + f * (s1 - s0)
            else:
                continue
            out_k[m] = g
            out_seg[m] = s
            m += 1
    return out_k[:m], out_seg[:m], out_lat[:m], out_lon[:m], out_spd[:m]


def close_pairs(
    samples: dict[str, np.ndarray], max_distance_m: float, cell_km: float
) -> dict[str, np.ndarray]:
    """Pairs of samples of different MMSIs at the same grid step within ``max_distance_m``.

    Returns ``i``, ``j`` (indices into the samples) and ``dist_m``; each pair appears once.
    """
    n = samples["k"].size
    if n < 2:
        empty_i = np.zeros(0, np.int64)
        return {"i": empty_i, "j": empty_i, "dist_m": np.zeros(0)}
    cell_deg = cell_km / _KM_PER_DEG
    n_rows = math.ceil(180.0 / cell_deg) + 1
    n_cols_max = math.ceil(360.0 / cell_deg) + 1
    k = samples["k"]
    k0 = int(k.min())
    row, col = _cells(samples["lat"], samples["lon"], cell_deg, n_rows)
    key = ((k - k0) * n_rows + row) * n_cols_max + col
    order = np.argsort(key, kind="stable")
    skey = key[order]
    i, j, d = _pair_kernel(
        order, skey, row[order], samples["lat"][order], samples["lon"][order],
        samples["mmsi"][order], cell_deg, np.int64(n_rows), np.int64(n_cols_max),
        max_distance_m,
    )
    return {"i": i, "j": j, "dist_m": d}


@nb.njit(cache=True, nogil=True)
def _col_width(row, cell_deg):  # type: ignore[no-untyped-def]
    # longitude width (deg) of the columns of a row: cell_deg at the row's poleward edge
    # (one more row poleward, so that a neighbour just beyond the row's edge is covered too);
    # columns are equal and divide 360 degrees, so the antimeridian is a column boundary
    lat_lo = -90.0 + row * cell_deg
    lat_hi = lat_lo + cell_deg
    edge = max(abs(lat_lo), abs(lat_hi)) + cell_deg
    c = math.cos(math.radians(min(edge, 90.0)))
    if c < 1e-3:
        c = 1e-3
    nc = math.floor(360.0 / (cell_deg / c))
    if nc < 1:
        nc = 1
    return 360.0 / nc


@nb.njit(cache=True, nogil=True)
def _n_cols(row, cell_deg):  # type: ignore[no-untyped-def]
    return np.int64(round(360.0 / _col_width(row, cell_deg)))


@nb.njit(cache=True, nogil=True)
def _col_of(lon, row, cell_deg):  # type: ignore[no-untyped-def]
    w = _col_width(row, cell_deg)
    nc = np.int64(round(360.0 / w))
    c = np.int64(math.floor((lon + 180.0) / w))
    return c % nc


@nb.njit(cache=True, nogil=True)
def _cells_kernel(lat, lon, cell_deg, n_rows):  # type: ignore[no-untyped-def]
    n = len(lat)
    row = np.empty(n, np.int64)
    col = np.empty(n, np.int64)
    for i in range(n):
        r = np.int64(math.floor((lat[i] + 90.0) / cell_deg))
        if r < 0:
            r = 0
        elif r >= n_rows:
            r = n_rows - 1
        row[i] = r
        col[i] = _col_of(lon[i], r, cell_deg)
    return row, col


def _cells(
    lat: np.ndarray, lon: np.ndarray, cell_deg: float, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    row, col = _cells_kernel(lat, lon, cell_deg, np.int64(n_rows))
    return row, col


@nb.njit(cache=True, nogil=True)
def _pair_kernel(  # type: ignore[no-untyped-def]
    order, skey, srow, slat, slon, smmsi, cell_deg, n_rows, n_cols_max, max_d
):
    n = len(skey)
    cap = max(16, n // 4)
    out_i = np.empty(cap, np.int64)
    out_j = np.empty(cap, np.int64)
    out_d = np.empty(cap, np.float64)
    m = 0
    cols = np.empty(4, np.int64)
    for a in range(n):
        key_a = skey[a]
        r = srow[a]
        nc = _n_cols(r, cell_deg)
        col_a = key_a % n_cols_max
        base = key_a - (r * n_cols_max + col_a)  # the step's part of the key
        # candidate ranges: rest of own cell, next column of the row, three cells of next row
        n_q = 0
        if nc > 2:
            cols[n_q] = r * n_cols_max + (col_a + 1) % nc
            n_q += 1
        if r + 1 < n_rows:
            nc2 = _n_cols(r + 1, cell_deg)
            c2 = _col_of(slon[a], r + 1, cell_deg)
            for dc in range(-1, 2):
                cc = (c2 + dc) % nc2
                dup = False
                for q in range(n_q):
                    if cols[q] == (r + 1) * n_cols_max + cc:
                        dup = True
                if not dup:
                    cols[n_q] = (r + 1) * n_cols_max + cc
                    n_q += 1
        for q in range(-1, n_q):
            if q == -1:
                lo = a + 1
                target = key_a
            else:
                target = base + cols[q]
                lo = np.searchsorted(skey, target)
            b = lo
            while b < n and skey[b] == target:
                if smmsi[b] != smmsi[a]:
                    d = 1000.0 * haversine_km_scalar(slat[a], slon[a], slat[b], slon[b])
                    if d <= max_d:
                        if m == cap:
                            cap *= 2
                            ni = np.empty(cap, np.int64)
                            nj = np.empty(cap, np.int64)
                            nd = np.empty(cap, np.float64)
                            ni[:m] = out_i[:m]
                            nj[:m] = out_j[:m]
                            nd[:m] = out_d[:m]
                            out_i, out_j, out_d = ni, nj, nd
                        out_i[m] = order[a]
                        out_j[m] = order[b]
                        out_d[m] = d
                        m += 1
                b += 1
    return out_i[:m], out_j[:m], out_d[:m]


def _encounters(
    samples: dict[str, np.ndarray],
    pairs: dict[str, np.ndarray],
    arrays: TrackArrays,
    params: Params,
    step_us: int,
    horizon: int,
) -> pl.DataFrame:
    i, j = pairs["i"], pairs["j"]
    mm = samples["mmsi"]
    swap = mm[i] > mm[j]
    a = np.where(swap, j, i)  # sample of the lower MMSI
    b = np.where(swap, i, j)
    k = samples["k"][a]
    order = np.lexsort((samples["seg"][b], samples["seg"][a], k, mm[b], mm[a]))
    a, b, k, dist = a[order], b[order], k[order], pairs["dist_m"][order]
    ma, mb = mm[a], mm[b]
    new_run = np.r_[
        True,
        (ma[1:] != ma[:-1]) | (mb[1:] != mb[:-1]) | (k[1:] - k[:-1] > 1 + params.max_missing_steps),
    ]
    run = np.cumsum(new_run) - 1
    lat, lon, spd = samples["lat"], samples["lon"], samples["speed"]
    mid_lat = (lat[a] + lat[b]) / 2
    dlon = (lon[b] - lon[a] + 540.0) % 360.0 - 180.0
    mid_lon = (lon[a] + dlon / 2 + 540.0) % 360.0 - 180.0
    frame = pl.DataFrame(
        {
            "run": run,
            "pos": np.arange(len(run)),
            "k": k,
            "dist": dist,
            "spd_a": spd[a],
            "spd_b": spd[b],
            "mid_lat": mid_lat,
            "mid_lon": mid_lon,
        }
    ).with_columns(pl.col("spd_a", "spd_b").fill_nan(None))
    runs = (
        frame.group_by("run", maintain_order=True)
        .agg(
            pl.col("pos").first().alias("first"),
            pl.col("pos").last().alias("last"),
            pl.col("k").n_unique().alias("n_steps"),
            pl.col("dist").median().alias("median_dist"),
            pl.col("dist").min().alias("min_dist"),
            pl.col("spd_a").median().alias("median_a"),
            pl.col("spd_b").median().alias("median_b"),
        )
        .sort("run")
    )
    # the centre of the run: a plain median of longitudes at -179.98 and +179.98 is about 0
    run_lat, run_lon = group_median_position(run, mid_lat, mid_lon, runs.height)
    first = runs["first"].to_numpy()
    last = runs["last"].to_numpy()
    start_us = k[first] * step_us
    end_us = k[last] * step_us
    duration_us = end_us - start_us + step_us
    med_a = runs["median_a"].fill_null(np.nan).to_numpy()
    med_b = runs["median_b"].fill_null(np.nan).to_numpy()
    keep = (
        (duration_us >= params.min_duration_h * US_PER_H)
        & (med_a < params.max_median_speed_kn)
        & (med_b < params.max_median_speed_kn)
    )
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return empty_events()
    ev_lat = run_lat[idx]
    ev_lon = run_lon[idx]
    port_km = port_areas().distance_km(ev_lat, ev_lon)
    far = port_km >= params.min_port_distance_km
    idx, ev_lat, ev_lon, port_km = idx[far], ev_lat[far], ev_lon[far], port_km[far]
    if idx.size == 0:
        return empty_events()
    first, last = first[idx], last[idx]
    start, end, dur = start_us[idx], end_us[idx], duration_us[idx]
    med_dist = runs["median_dist"].to_numpy()[idx]
    min_dist = runs["min_dist"].to_numpy()[idx]
    n_steps = runs["n_steps"].to_numpy()[idx]
    med_a, med_b = med_a[idx], med_b[idx]
    is_open = end >= horizon - (params.max_missing_steps + 1) * step_us
    dur_h = (end - start) / US_PER_H
    score = (
        0.6
        + 0.2 * ramp(dur / US_PER_H, params.min_duration_h, params.full_score_duration_h)
        + 0.2 * (1.0 - ramp(med_dist, 0.0, params.max_distance_m))
    )
    seg = samples["seg"]
    ids = arrays.segment_ids
    evidence = []
    for q in range(idx.size):
        f, g = int(first[q]), int(last[q])
        evidence.append(
            {
                "median_distance_m": round(float(med_dist[q]), 1),
                "min_distance_m": round(float(min_dist[q]), 1),
                "median_speed_kn": round(float(med_a[q]), 3),
                "other_median_speed_kn": round(float(med_b[q]), 3),
                "duration_h": round(float(dur_h[q]), 3),
                "n_steps": int(n_steps[q]),
                "step_min": params.step_min,
                "port_distance_km": round(float(port_km[q]), 2),
                "start": _pos(int(a[f]), int(b[f]), k[f] * step_us, lat, lon),
                "end": _pos(int(a[g]), int(b[g]), k[g] * step_us, lat, lon),
                "segment_id": ids[int(seg[a[f]])],
                "other_segment_id": ids[int(seg[b[f]])],
            }
        )
    return events_frame(
        {
            "kind": KIND,
            "mmsi": ma[first],
            "other_mmsi": mb[first],
            "start": start,
            "end": end,
            "lat": ev_lat,
            "lon": ev_lon,
            "zone": None,
            "score": score,
            "is_open": is_open,
            "evidence": evidence,
        },
        detector=f"{KIND}/{VERSION}",
    )


def _pos(a: int, b: int, t: int, lat: np.ndarray, lon: np.ndarray) -> dict[str, object]:
    return {
        "ts": iso(int(t)),
        "lat": round(float(lat[a]), 6),
        "lon": round(float(lon[a]), 6),
        "other_lat": round(float(lat[b]), 6),
        "other_lon": round(float(lon[b]), 6),
    }
