"""Spoofing: one MMSI in two places at once, or teleported far inland.

Three kinds of evidence, all reported as ``spoofing`` events (``evidence["reason"]`` tells
them apart):

``two_positions`` (the main case)
    The segmenter (:mod:`seasight.tracks.segment`) splits an MMSI into segments that one
    transmitter could have made. Two segments of the same MMSI that *overlap in time* (one
    starts before the other ends: a segment that starts after another ended is a gap or a
    jump, not two transmitters at once) and are
    far apart at the same moments are two transmitters using one identity: a cloned or
    misconfigured transponder, or a vessel hiding behind another's MMSI. For every pair of
    overlapping segments (each with at least ``min_segment_points`` points), each point of the
    later-starting segment that falls inside the other's time span is compared with the other's
    nearest-in-time point, at most ``pair_window_min`` minutes away. The pair *conflicts* when
    the points are at least ``min_distance_km`` apart and the speed needed to go from one to
    the other in the time between them (after ``noise_km`` of slack) exceeds
    ``max_speed_kn``. Conflicts of a pair
    are grouped into periods (a gap of more than ``period_gap_h`` hours starts a new one); each
    period with at least ``min_conflicts`` conflicts is one event.

    ``start``/``end``: the first and last conflict; ``lat``/``lon``: the position, at the first
    conflict, of the segment that appeared later (the newcomer: usually the impostor). Evidence:
    both segment ids and sizes, conflicts and comparisons counted, median/max distance, and up to
    ``max_examples`` example point pairs (time, position of each, distance, implied speed).
    Score: 0.5, plus up to 0.25 as the conflicts grow to ``full_score_conflicts`` and up to 0.25
    as the median distance grows to ``full_score_distance_km``. An event is open when its last
    conflict is within ``open_within_h`` of the end of the data (both transmitters were still
    on the air); new data can extend any event whose last conflict is within ``period_gap_h``
    of it, keeping its id (the id hashes the start).

    A genuine AIS gap (a vessel silent for 12-30 h that reappears where it could have sailed)
    is one segment, or two segments that do not overlap in time: never spoofing.

``sparse_transmitter``
    Satellite AIS hears a distant second transmitter rarely: 3-4 fixes over hours make a
    segment too short for the fix-by-fix comparison. A segment of ``min_sparse_points`` to
    ``min_segment_points - 1`` fixes is a second transmitter when its fixes are mutually
    consistent (every leg sailable at ``max_speed_kn`` plus ``noise_km``, the fixes spanning at
    least ``sparse_min_span_h``) and every one of its fixes that falls inside a longer
    segment's time span (at least ``min_sparse_points`` of them) is irreconcilable with it: at
    least ``min_distance_km`` from its position interpolated at that time (across the
    antimeridian), and reached from its fix before, or reaching its fix after, only above
    ``max_speed_kn``. Fixes that all keep one offset from the longer segment (within
    ``sparse_copy_km``) while it moves ``min_distance_km`` or more are a corrupted copy of its
    track (the same wrong bit in the latitude or longitude of a few reports), not a second
    vessel. A single bad fix that jumps and returns is dropped by the segmenter as an outlier
    (so are runs under ``segment.min_points``, 3, near a longer segment), and two stray fixes
    are too few. ``start``/``end``: the first and last compared fix; ``lat``/``lon``: the first.
    Evidence: both segment ids and sizes, conflicts, median/max distance and the fixes (time,
    position, the other segment's interpolated position, distance, implied speed). Score as
    for ``two_positions``.

``many_transmitters``
    An MMSI with more than ``max_segments`` segments of ``min_segment_points`` or more (a
    default or made-up MMSI that a whole fleet transmits) gets one event spanning its
    segments, without the pairwise comparison (which would take quadratic time).

``on_land``
    A segment of an MMSI that *starts far inland* by an impossible jump: it begins within
    ``land_jump_window_h`` hours after another segment of the same MMSI ended, its first point
    is out of reach of that segment's last point at ``max_speed_kn``, and it opens with a run of
    at least ``land_min_points`` consecutive fixes on land (1 km land grid) whose median
    distance from the Natural Earth 1:50 m shoreline is at least ``land_min_inland_km``. That is
    what GNSS spoofing looks like in AIS (ships shown at airports or circling inland) and a single
    noisy fix is not. Segments that overlap another segment of the MMSI are left to the
    ``two_positions`` rule.

    Positions on land *alone* are not enough: the land layers count rivers, canals and most
    lakes (the Great Lakes, the Rhine, the Yangtze, river ports such as Hamburg or Rouen) as
    land, and a 1 km grid puts quays on land, so vessels there would all be reported. A whole
    track that is consistently on land is therefore never reported; the ``on_land`` flag of the
    track points remains available to risk scoring. ``start``/``end``: the run's first and last
    fix; ``lat``/``lon``: its first fix. Score 0.5 plus up to 0.5 as the median inland distance
    grows to ``full_score_inland_km``.

Event ids: :func:`~seasight.events.model.make_event_ids` of (kind, mmsi, start); when two events
of one MMSI start at the same moment (three transmitters, or a land run starting at a conflict)
their ids also hash the segment ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from seasight.events.model import (
    US_PER_H,
    US_PER_MIN,
    DetectionInputs,
    empty_events,
    events_frame,
    horizon_end_us,
    iso,
    make_event_ids,
    ramp,
)
from seasight.geo.distance import KM_PER_NM, haversine_km
from seasight.geo.land import shoreline_distance_km

KIND = "spoofing"
VERSION = 1

_KM_PER_DEG = 111.195  # km per degree of latitude (and of longitude at the equator)


@dataclass(frozen=True)
class Params:
    """Thresholds of the spoofing detector (units in the names and comments)."""

    #: Speed above which two simultaneous fixes cannot be one vessel, knots.
    max_speed_kn: float = 50.0
    #: Two fixes must be at least this far apart to conflict, km.
    min_distance_km: float = 10.0
    #: Slack subtracted from the distance before computing the implied speed, km (GPS noise,
    #: receiver clock skew).
    noise_km: float = 1.0
    #: Fixes of two segments are compared when at most this far apart in time, minutes.
    pair_window_min: float = 10.0
    #: Segments with fewer points are not compared fix by fix (``two_positions``); from
    #: ``min_sparse_points`` up they are checked by the ``sparse_transmitter`` rule.
    min_segment_points: int = 5
    #: Fewest fixes of a rarely heard second transmitter (``sparse_transmitter``); below this a
    #: run of fixes is a glitch (the segmenter drops runs under ``segment.min_points``, 3, near
    #: a longer segment as outliers anyway).
    min_sparse_points: int = 3
    #: The sparse transmitter's fixes must span at least this long, hours (a burst of fixes
    #: within minutes is a receiver glitch, not a transmitter on the air).
    sparse_min_span_h: float = 1.0
    #: Sparse fixes that all lie at the same offset from the other segment (within this many
    #: km) while it moved ``min_distance_km`` or more are a corrupted copy of its track (a
    #: fixed error in the latitude or longitude field), not a second transmitter, km.
    sparse_copy_km: float = 2.0
    #: Conflicts needed for an event.
    min_conflicts: int = 3
    #: Conflicts of a pair further apart in time than this start a new event, hours.
    period_gap_h: float = 6.0
    #: An event whose last conflict is this close to the end of the data is open, hours.
    open_within_h: float = 1.0
    #: Example point pairs kept in the evidence.
    max_examples: int = 5
    #: Conflicts at which the count part of the score is full.
    full_score_conflicts: int = 30
    #: Median distance at which the distance part of the score is full, km.
    full_score_distance_km: float = 200.0
    #: An MMSI with more segments (of ``min_segment_points``) than this is reported once, as
    #: ``many_transmitters``, without comparing every pair (a default MMSI such as 0 or
    #: 123456789 shared by a whole fleet would otherwise take quadratic time).
    max_segments: int = 100
    #: Report segments that start far inland after an impossible jump (``on_land``).
    on_land: bool = True
    #: Consecutive fixes on land the inland run needs.
    land_min_points: int = 5
    #: Median distance of the run's fixes from the shoreline, km (well beyond the land grid's
    #: 1 km cells and the shoreline's 1-2 km accuracy).
    land_min_inland_km: float = 5.0
    #: The inland segment must start within this many hours after another segment ended.
    land_jump_window_h: float = 6.0
    #: Inland distance at which the on-land score is full, km.
    full_score_inland_km: float = 50.0


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Spoofing events (EVENTS schema): see the module documentation."""
    points = inputs.points
    if points.height == 0 or "segment_id" not in points.columns:
        return empty_events()
    if inputs.segments.height:
        # only MMSIs with several segments can have spoofing: leave the rest out at once
        counts = inputs.segments.group_by("mmsi").len()
        multi_mmsi = counts.filter(pl.col("len") > 1)["mmsi"].cast(pl.UInt32)
        if multi_mmsi.len() == 0:
            return empty_events()
        points = points.filter(pl.col("mmsi").cast(pl.UInt32).is_in(multi_mmsi.implode()))
    pts = (
        points.filter(
            pl.col("segment_id").is_not_null()
            & pl.col("lat").is_not_null()
            & pl.col("lon").is_not_null()
            & pl.col("ts").is_not_null()
        )
        .select(
            pl.col("mmsi").cast(pl.UInt32),
            "segment_id",
            pl.col("ts").dt.epoch("us").alias("t"),
            pl.col("lat").cast(pl.Float64),
            pl.col("lon").cast(pl.Float64),
            (
                pl.col("on_land").fill_null(False)
                if "on_land" in points.columns
                else pl.lit(False)
            ).alias("on_land"),
        )
        .unique(subset=["segment_id", "t"], keep="first")
    )
    segs = _segment_table(pts)
    multi = segs.filter(pl.len().over("mmsi") > 1)
    if multi.height == 0:
        return empty_events()
    pts = pts.filter(pl.col("mmsi").is_in(multi["mmsi"].unique().implode()))
    horizon = horizon_end_us(inputs)
    rows = _pair_events(pts, multi, params, horizon)
    rows += _sparse_events(pts, multi, params, horizon)
    if params.on_land:
        rows += _land_events(pts, multi, params)
    if not rows:
        return empty_events()
    return _frame(rows)


def _segment_table(pts: pl.DataFrame) -> pl.DataFrame:
    """Per segment: mmsi, start, end, n_points (from the points, so always consistent)."""
    return (
        pts.group_by("segment_id")
        .agg(
            pl.col("mmsi").first(),
            pl.col("t").min().alias("start"),
            pl.col("t").max().alias("end"),
            pl.len().alias("n_points"),
        )
        .sort(["mmsi", "start", "segment_id"])
    )


# --------------------------------------------------------------------------------------------
# two positions at once
# --------------------------------------------------------------------------------------------


def _pair_events(
    pts: pl.DataFrame, segs: pl.DataFrame, params: Params, horizon: int | None
) -> list[dict[str, Any]]:
    window_us = round(params.pair_window_min * US_PER_MIN)
    big = segs.filter(pl.col("n_points") >= params.min_segment_points)
    if big.height < 2:
        return []
    crowded = big.filter(pl.len().over("mmsi") > params.max_segments)
    rows = _crowded_events(pts, crowded) if crowded.height else []
    big = big.filter(pl.len().over("mmsi") <= params.max_segments)
    if big.height < 2:
        return rows
    a = big.select(
        "mmsi",
        pl.col("segment_id").alias("seg_a"),
        pl.col("start").alias("start_a"),
        pl.col("end").alias("end_a"),
        pl.col("n_points").alias("n_a"),
    )
    b = a.rename({"seg_a": "seg_b", "start_a": "start_b", "end_a": "end_b", "n_a": "n_b"})
    # (a, b): a started first (ties by id), and their time spans overlap
    pairs = (
        a.join(b, on="mmsi")
        .filter(
            ((pl.col("start_a") < pl.col("start_b"))
             | ((pl.col("start_a") == pl.col("start_b")) & (pl.col("seg_a") < pl.col("seg_b"))))
            & (pl.col("start_b") <= pl.col("end_a"))
        )
        .sort(["mmsi", "seg_a", "seg_b"])
        .with_row_index("pair")
    )
    if pairs.height == 0:
        return rows
    cols = ["segment_id", "t", "lat", "lon"]
    pa = (
        pairs.select("pair", "seg_a")
        .join(pts.select(cols), left_on="seg_a", right_on="segment_id")
        .select("pair", pl.col("t").alias("t_a"), pl.col("t"), pl.col("lat").alias("lat_a"),
                pl.col("lon").alias("lon_a"))
        .sort(["t", "pair"])
    )
    # only b's fixes inside a's time span: the two must really be on the air together
    pb = (
        pairs.select("pair", "seg_b", "end_a")
        .join(pts.select(cols), left_on="seg_b", right_on="segment_id")
        .filter(pl.col("t") <= pl.col("end_a"))
        .select("pair", pl.col("t"), pl.col("lat").alias("lat_b"), pl.col("lon").alias("lon_b"))
        .sort(["t", "pair"])
    )
    matched = pb.join_asof(
        pa, on="t", by="pair", strategy="nearest", tolerance=window_us, check_sortedness=False
    ).filter(pl.col("t_a").is_not_null())
    if matched.height == 0:
        return rows
    dist = np.asarray(
        haversine_km(
            matched["lat_a"].to_numpy(), matched["lon_a"].to_numpy(),
            matched["lat_b"].to_numpy(), matched["lon_b"].to_numpy(),
        ),
        dtype=np.float64,
    )
    dt_h = np.abs(matched["t"].to_numpy() - matched["t_a"].to_numpy()) / US_PER_H
    excess_nm = np.maximum(dist - params.noise_km, 0.0) / KM_PER_NM
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(dt_h > 0, excess_nm / dt_h, np.where(excess_nm > 0, np.inf, 0.0))
    conflict = (dist >= params.min_distance_km) & (speed > params.max_speed_kn)
    matched = matched.with_columns(
        pl.Series("dist_km", dist),
        pl.Series("speed_kn", speed),
        pl.Series("conflict", conflict),
    ).sort(["pair", "t"])
    # periods of conflicts per pair; comparisons are counted in the period's time span
    gap_us = round(params.period_gap_h * US_PER_H)
    conf = matched.filter(pl.col("conflict"))
    if conf.height == 0:
        return rows
    conf = conf.with_columns(
        (
            (pl.col("pair") != pl.col("pair").shift(1))
            | (pl.col("t") - pl.col("t").shift(1) > gap_us)
        )
        .fill_null(True)
        .cum_sum()
        .alias("period")
    )
    k = max(0, int(params.max_examples))
    # examples spread evenly over each period
    conf = conf.with_columns(
        pl.int_range(pl.len()).over("period").alias("_idx"),
        pl.len().over("period").alias("_n"),
    ).with_columns(
        (
            (pl.col("_idx") % (pl.col("_n") // max(k, 1)).clip(lower_bound=1) == 0)
            & (pl.col("_idx") // (pl.col("_n") // max(k, 1)).clip(lower_bound=1) < k)
        ).alias("_example")
    )
    periods = (
        conf.group_by("period", maintain_order=True)
        .agg(
            pl.col("pair").first(),
            pl.col("t").min().alias("first"),
            pl.col("t").max().alias("last"),
            pl.len().alias("n_conflicts"),
            pl.col("dist_km").median().alias("median_km"),
            pl.col("dist_km").max().alias("max_km"),
            pl.col("lat_b").first().alias("lat"),
            pl.col("lon_b").first().alias("lon"),
            pl.struct("t_a", "lat_a", "lon_a", "t", "lat_b", "lon_b", "dist_km", "speed_kn")
            .filter(pl.col("_example"))
            .alias("examples"),
        )
        .filter(pl.col("n_conflicts") >= params.min_conflicts)
        .join(pairs, on="pair", how="left")
    )
    if periods.height == 0:
        return rows
    open_us = round(params.open_within_h * US_PER_H)
    compared = _count_compared(matched, periods)
    for p, n_cmp in zip(periods.iter_rows(named=True), compared, strict=True):
        is_open = horizon is not None and p["last"] >= horizon - open_us
        score = (
            0.5
            + 0.25 * float(ramp(p["n_conflicts"], params.min_conflicts,
                                params.full_score_conflicts))
            + 0.25 * float(ramp(p["median_km"], params.min_distance_km,
                                params.full_score_distance_km))
        )
        evidence = {
            "reason": "two_positions",
            "segment_ids": [p["seg_a"], p["seg_b"]],
            "segment_points": [int(p["n_a"]), int(p["n_b"])],
            "n_conflicts": int(p["n_conflicts"]),
            "n_compared": int(n_cmp),
            "median_distance_km": round(float(p["median_km"]), 3),
            "max_distance_km": round(float(p["max_km"]), 3),
            "examples": [_example(e) for e in p["examples"]],
        }
        rows.append(_pair_row(p, score, bool(is_open), evidence, f"{p['seg_a']}|{p['seg_b']}"))
    return rows


def _sparse_events(
    pts: pl.DataFrame, segs: pl.DataFrame, params: Params, horizon: int | None
) -> list[dict[str, Any]]:
    """``sparse_transmitter`` events: a second transmitter heard only a few times.

    A segment of ``min_sparse_points`` to ``min_segment_points - 1`` fixes spanning at least
    ``sparse_min_span_h``, each leg of which one vessel could sail (at ``max_speed_kn`` plus
    ``noise_km``), is compared with every longer segment of the MMSI whose time span holds its
    fixes: each fix is compared with the longer segment's fixes just before and just after it.
    When every compared fix (at least ``min_sparse_points``) is ``min_distance_km`` or more
    from the longer segment's position interpolated at its time, and reaching it from the fix
    before, or the fix after from it, takes more than ``max_speed_kn``, the pair is one event.
    """
    lo, hi = max(2, params.min_sparse_points), params.min_segment_points
    if lo >= hi:
        return []
    ok_mmsi = segs.filter(pl.len().over("mmsi") <= params.max_segments)
    sparse = ok_mmsi.filter(pl.col("n_points").is_between(lo, hi - 1))
    long = ok_mmsi.filter(pl.col("n_points") >= hi)
    if sparse.height == 0 or long.height == 0:
        return []
    cols = ["segment_id", "t", "lat", "lon"]
    fixes = (
        sparse.select("segment_id")
        .join(pts.select(cols), on="segment_id")
        .sort(["segment_id", "t"])
    )
    # mutually consistent: every leg sailable, fixes spanning sparse_min_span_h
    seg_arr = fixes["segment_id"].to_numpy()
    t = fixes["t"].to_numpy()
    lat, lon = fixes["lat"].to_numpy(), fixes["lon"].to_numpy()
    same = seg_arr[1:] == seg_arr[:-1]
    leg_km = np.asarray(haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:]), np.float64)
    leg_h = (t[1:] - t[:-1]) / US_PER_H
    too_fast = same & (leg_km > params.noise_km + params.max_speed_kn * KM_PER_NM * leg_h)
    bad = set(seg_arr[1:][too_fast].tolist())
    span_us = round(params.sparse_min_span_h * US_PER_H)
    consistent = sparse.filter(
        ~pl.col("segment_id").is_in(list(bad)) & (pl.col("end") - pl.col("start") >= span_us)
    )
    if consistent.height == 0:
        return []
    pairs = (
        consistent.select("mmsi", pl.col("segment_id").alias("seg_s"),
                          pl.col("n_points").alias("n_s"))
        .join(long.select("mmsi", pl.col("segment_id").alias("seg_l"),
                          pl.col("start").alias("start_l"), pl.col("end").alias("end_l"),
                          pl.col("n_points").alias("n_l")), on="mmsi")
        .sort(["mmsi", "seg_s", "seg_l"])
        .with_row_index("pair")
    )
    inside = (
        pairs.join(fixes, left_on="seg_s", right_on="segment_id")
        .filter((pl.col("t") > pl.col("start_l")) & (pl.col("t") < pl.col("end_l")))
        .select("pair", "t", pl.col("lat").alias("lat_b"), pl.col("lon").alias("lon_b"))
        .sort(["t", "pair"])
    )
    if inside.height == 0:
        return []
    other = (
        pairs.select("pair", "seg_l")
        .join(pts.select(cols), left_on="seg_l", right_on="segment_id")
        .select("pair", "t", pl.col("t").alias("t_a"), pl.col("lat").alias("lat_a"),
                pl.col("lon").alias("lon_a"))
        .sort(["t", "pair"])
    )
    before = inside.join_asof(other, on="t", by="pair", strategy="backward",
                              check_sortedness=False)
    after = inside.join_asof(
        other.rename({"t_a": "t_n", "lat_a": "lat_n", "lon_a": "lon_n"}),
        on="t", by="pair", strategy="forward", check_sortedness=False,
    ).select("t_n", "lat_n", "lon_n")
    m = pl.concat([before, after], how="horizontal").drop_nulls(["t_a", "t_n"])
    if m.height == 0:
        return []
    tb = m["t"].to_numpy()
    la_b, lo_b = m["lat_b"].to_numpy(), m["lon_b"].to_numpy()
    ta, la_a, lo_a = m["t_a"].to_numpy(), m["lat_a"].to_numpy(), m["lon_a"].to_numpy()
    tn, la_n, lo_n = m["t_n"].to_numpy(), m["lat_n"].to_numpy(), m["lon_n"].to_numpy()
    # the longer segment's position interpolated at the fix's time (across the antimeridian)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(tn > ta, (tb - ta) / (tn - ta), 0.0)
    dlon = (lo_n - lo_a + 540.0) % 360.0 - 180.0
    la_i = la_a + f * (la_n - la_a)
    lo_i = (lo_a + f * dlon + 540.0) % 360.0 - 180.0
    dist = np.asarray(haversine_km(la_i, lo_i, la_b, lo_b), np.float64)

    def speed(d_km: np.ndarray, dt_us: np.ndarray) -> np.ndarray:
        excess_nm = np.maximum(d_km - params.noise_km, 0.0) / KM_PER_NM
        dt_h = np.abs(dt_us) / US_PER_H
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(dt_h > 0, excess_nm / dt_h, np.where(excess_nm > 0, np.inf, 0.0))

    v_in = speed(np.asarray(haversine_km(la_a, lo_a, la_b, lo_b), np.float64), tb - ta)
    v_out = speed(np.asarray(haversine_km(la_b, lo_b, la_n, lo_n), np.float64), tn - tb)
    v = np.maximum(v_in, v_out)
    conflict = (dist >= params.min_distance_km) & (v > params.max_speed_kn)
    m = m.with_columns(pl.Series("dist_km", dist), pl.Series("speed_kn", v),
                       pl.Series("conflict", conflict),
                       pl.Series("lat_i", la_i), pl.Series("lon_i", lo_i),
                       # offset of the fix from the other segment, km north and east
                       pl.Series("off_n", (la_b - la_i) * _KM_PER_DEG),
                       pl.Series("off_e", ((lo_b - lo_i + 540.0) % 360.0 - 180.0)
                                 * _KM_PER_DEG * np.cos(np.radians(la_i))))
    per_pair = (
        m.sort(["pair", "t"])
        .group_by("pair", maintain_order=True)
        .agg(
            pl.len().alias("n_compared"),
            pl.col("conflict").all().alias("all_conflict"),
            pl.col("t").min().alias("first"),
            pl.col("t").max().alias("last"),
            pl.col("dist_km").median().alias("median_km"),
            pl.col("dist_km").max().alias("max_km"),
            pl.col("lat_b").first().alias("lat"),
            pl.col("lon_b").first().alias("lon"),
            pl.struct("t", "lat_b", "lon_b", "lat_i", "lon_i", "dist_km", "speed_kn")
            .alias("fixes"),
            (pl.col("off_n").max() - pl.col("off_n").min()).alias("spread_n"),
            (pl.col("off_e").max() - pl.col("off_e").min()).alias("spread_e"),
            pl.col("lat_i").first().alias("lat_i0"), pl.col("lon_i").first().alias("lon_i0"),
            pl.col("lat_i").last().alias("lat_i1"), pl.col("lon_i").last().alias("lon_i1"),
        )
        .filter(
            pl.col("all_conflict")
            & (pl.col("n_compared") >= lo)
            & (pl.col("last") - pl.col("first") >= span_us)
        )
    )
    if per_pair.height:
        # a corrupted copy of the other track (a fixed error in the latitude or longitude
        # field): the fixes keep one offset from it while it moves on
        moved = np.asarray(haversine_km(
            per_pair["lat_i0"].to_numpy(), per_pair["lon_i0"].to_numpy(),
            per_pair["lat_i1"].to_numpy(), per_pair["lon_i1"].to_numpy()), np.float64)
        spread = np.hypot(per_pair["spread_n"].to_numpy(), per_pair["spread_e"].to_numpy())
        copy = (spread <= params.sparse_copy_km) & (moved >= params.min_distance_km)
        per_pair = per_pair.filter(pl.Series(~copy))
    per_pair = per_pair.join(pairs, on="pair", how="left").sort("pair")
    open_us = round(params.open_within_h * US_PER_H)
    rows: list[dict[str, Any]] = []
    for p in per_pair.iter_rows(named=True):
        n = int(p["n_compared"])
        score = (
            0.5
            + 0.25 * float(ramp(n, params.min_sparse_points, params.full_score_conflicts))
            + 0.25 * float(ramp(p["median_km"], params.min_distance_km,
                                params.full_score_distance_km))
        )
        evidence = {
            "reason": "sparse_transmitter",
            "segment_ids": [p["seg_l"], p["seg_s"]],
            "segment_points": [int(p["n_l"]), int(p["n_s"])],
            "n_conflicts": n,
            "n_compared": n,
            "median_distance_km": round(float(p["median_km"]), 3),
            "max_distance_km": round(float(p["max_km"]), 3),
            "fixes": [
                {
                    "ts": iso(int(e["t"])),
                    "lat": round(float(e["lat_b"]), 6),
                    "lon": round(float(e["lon_b"]), 6),
                    "other_lat": round(float(e["lat_i"]), 6),
                    "other_lon": round(float(e["lon_i"]), 6),
                    "distance_km": round(float(e["dist_km"]), 3),
                    "implied_speed_kn": (
                        None if not np.isfinite(e["speed_kn"]) else round(float(e["speed_kn"]), 1)
                    ),
                }
                for e in p["fixes"][: max(0, int(params.max_examples))]
            ],
        }
        is_open = horizon is not None and p["last"] >= horizon - open_us
        rows.append(_pair_row(p, score, is_open, evidence,
                              f"sparse|{p['seg_l']}|{p['seg_s']}"))
    return rows


def _pair_row(p: dict[str, Any], score: float, is_open: bool, evidence: dict[str, Any],
              key: str) -> dict[str, Any]:
    """An event row of a pair of segments: ``p`` has mmsi, first, last, lat and lon."""
    return {
        "mmsi": int(p["mmsi"]),
        "start": int(p["first"]),
        "end": int(p["last"]),
        "lat": float(p["lat"]),
        "lon": float(p["lon"]),
        "score": score,
        "is_open": is_open,
        "evidence": evidence,
        "_key": key,
    }


def _crowded_events(pts: pl.DataFrame, crowded: pl.DataFrame) -> list[dict[str, Any]]:
    """One event per MMSI used by more than ``max_segments`` transmitters (no pair search)."""
    rows: list[dict[str, Any]] = []
    for (mmsi,), group in crowded.sort(["mmsi", "start", "segment_id"]).group_by(
        ["mmsi"], maintain_order=True
    ):
        second = group["segment_id"][1]
        first_fix = pts.filter(pl.col("segment_id") == second).sort("t").row(0, named=True)
        ids = group["segment_id"].to_list()
        rows.append(
            {
                "mmsi": int(mmsi),
                "start": int(group["start"][1]),
                "end": int(group["end"].to_numpy().max()),
                "lat": float(first_fix["lat"]),
                "lon": float(first_fix["lon"]),
                "score": 1.0,
                "is_open": False,
                "evidence": {
                    "reason": "many_transmitters",
                    "n_segments": len(ids),
                    "segment_ids": ids[:20],
                },
                "_key": f"many|{mmsi}",
            }
        )
    return rows


def _count_compared(matched: pl.DataFrame, periods: pl.DataFrame) -> list[int]:
    """Comparisons (conflicting or not) of each period's pair inside its time span."""
    spans = periods.select("period", "pair", "first", "last")
    counted = (
        matched.select("pair", "t")
        .join(spans, on="pair")
        .filter((pl.col("t") >= pl.col("first")) & (pl.col("t") <= pl.col("last")))
        .group_by("period")
        .len()
    )
    lookup = dict(zip(counted["period"].to_list(), counted["len"].to_list(), strict=True))
    return [int(lookup.get(p, 0)) for p in periods["period"].to_list()]


def _example(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "a": {"ts": iso(int(e["t_a"])), "lat": round(float(e["lat_a"]), 6),
              "lon": round(float(e["lon_a"]), 6)},
        "b": {"ts": iso(int(e["t"])), "lat": round(float(e["lat_b"]), 6),
              "lon": round(float(e["lon_b"]), 6)},
        "distance_km": round(float(e["dist_km"]), 3),
        "implied_speed_kn": (
            None if not np.isfinite(e["speed_kn"]) else round(float(e["speed_kn"]), 1)
        ),
    }


# --------------------------------------------------------------------------------------------
# teleported inland
# --------------------------------------------------------------------------------------------


def _land_events(pts: pl.DataFrame, segs: pl.DataFrame, params: Params) -> list[dict[str, Any]]:
    jump_us = round(params.land_jump_window_h * US_PER_H)
    # candidate segments: start on land, at least land_min_points points
    firsts = (
        pts.sort(["segment_id", "t"])
        .group_by("segment_id", maintain_order=True)
        .agg(
            pl.col("mmsi").first(),
            pl.col("t").first().alias("t0"),
            pl.col("lat").first().alias("lat0"),
            pl.col("lon").first().alias("lon0"),
            # length of the leading run of fixes on land
            pl.col("on_land").cum_min().sum().alias("run"),
        )
        .filter(pl.col("run") >= params.land_min_points)
    )
    if firsts.height == 0:
        return []
    last_points = (
        pts.sort(["segment_id", "t"])
        .group_by("segment_id", maintain_order=True)
        .agg(pl.col("t").last().alias("t1"), pl.col("lat").last().alias("lat1"),
             pl.col("lon").last().alias("lon1"))
    )
    last_map = {r["segment_id"]: r for r in last_points.iter_rows(named=True)}
    rows: list[dict[str, Any]] = []
    for f in firsts.sort("segment_id").iter_rows(named=True):
        seg_id, mmsi = f["segment_id"], int(f["mmsi"])
        group = segs.filter(pl.col("mmsi") == mmsi)
        s_start = int(f["t0"])
        s_end = int(group.filter(pl.col("segment_id") == seg_id)["end"][0])
        others = group.filter(pl.col("segment_id") != seg_id)
        overlaps = others.filter((pl.col("start") <= s_end) & (pl.col("end") >= s_start))
        if overlaps.height:
            continue
        before = others.filter(
            (pl.col("end") < s_start) & (pl.col("end") >= s_start - jump_us)
        ).sort(["end", "segment_id"])
        if before.height == 0:
            continue
        prev = last_map[before["segment_id"][-1]]
        dist = float(haversine_km(prev["lat1"], prev["lon1"], f["lat0"], f["lon0"]))
        dt_h = (s_start - int(prev["t1"])) / US_PER_H
        excess_nm = max(dist - params.noise_km, 0.0) / KM_PER_NM
        speed = excess_nm / dt_h if dt_h > 0 else (np.inf if excess_nm > 0 else 0.0)
        if speed <= params.max_speed_kn:
            continue
        run = (
            pts.filter(pl.col("segment_id") == seg_id)
            .sort("t")
            .head(int(f["run"]))
        )
        inland = np.asarray(
            shoreline_distance_km(run["lat"].to_numpy(), run["lon"].to_numpy()), np.float64)
        median_inland = float(np.median(inland))
        if median_inland < params.land_min_inland_km:
            continue
        score = 0.5 + 0.5 * float(
            ramp(median_inland, params.land_min_inland_km, params.full_score_inland_km)
        )
        rows.append(
            {
                "mmsi": mmsi,
                "start": int(run["t"][0]),
                "end": int(run["t"][-1]),
                "lat": float(run["lat"][0]),
                "lon": float(run["lon"][0]),
                "score": score,
                "is_open": False,
                "evidence": {
                    "reason": "on_land",
                    "segment_id": seg_id,
                    "previous_segment_id": before["segment_id"][-1],
                    "n_points": run.height,
                    "median_inland_km": round(median_inland, 3),
                    "max_inland_km": round(float(np.max(inland)), 3),
                    "jump": {
                        "from": {"ts": iso(int(prev["t1"])), "lat": round(prev["lat1"], 6),
                                 "lon": round(prev["lon1"], 6)},
                        "to": {"ts": iso(int(f["t0"])), "lat": round(f["lat0"], 6),
                               "lon": round(f["lon0"], 6)},
                        "distance_km": round(dist, 3),
                        "implied_speed_kn": None if not np.isfinite(speed) else round(speed, 1),
                    },
                    "first": iso(int(run["t"][0])),
                    "last": iso(int(run["t"][-1])),
                },
                "_key": f"on_land|{seg_id}",
            }
        )
    return rows


# --------------------------------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    mmsi = [r["mmsi"] for r in rows]
    start = [r["start"] for r in rows]
    ids = make_event_ids(KIND, mmsi, None, start, None).to_list()
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    clash = [k for k, i in enumerate(ids) if seen[i] > 1]
    if clash:
        keyed = make_event_ids(
            KIND, [mmsi[k] for k in clash], None, [start[k] for k in clash],
            [rows[k]["_key"] for k in clash],
        ).to_list()
        for k, new in zip(clash, keyed, strict=True):
            ids[k] = new
    return events_frame(
        {
            "event_id": ids,
            "kind": KIND,
            "mmsi": mmsi,
            "other_mmsi": None,
            "start": start,
            "end": [r["end"] for r in rows],
            "lat": [r["lat"] for r in rows],
            "lon": [r["lon"] for r in rows],
            "zone": None,
            "score": [r["score"] for r in rows],
            "is_open": [r["is_open"] for r in rows],
            "evidence": [r["evidence"] for r in rows],
        },
        detector=f"{KIND}/{VERSION}",
    )
