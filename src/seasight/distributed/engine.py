"""Detection over a lake on Dask distributed, with exactly the events of a single-process run.

The engine only schedules: every task calls the stage functions the single-process path uses
(:func:`seasight.analysis.detection.detect_window`, :func:`seasight.tracks.clean.clean_positions`,
:func:`seasight.tracks.segment.segment_tracks`, :func:`seasight.events.encounter.detect`) on
one partition of the lake.

**Per-vessel kinds** (everything but encounters) map over MMSI buckets; the days of one bucket
form a chain, and each vessel's events are owned by exactly one day. Day *d* owns, for vessel
*m*, the events starting in [owned_from(d, m), owned_from(d+1, m)). owned_from(d+1, m) is the
day's end minus ``settle``, moved back to the start of the earliest of *m*'s events that day
*d*'s run left unsettled (still open, or ending within ``settle`` of the day's end, where what
follows may still extend it: an ongoing loiter, a port stay, an encounter) and to *m*'s last
report when it fell silent less than a gap's length before the day's end (a gap in the
making). So an event running across midnight is decided whole by the first run that sees its
end. Day *d* sees each vessel's positions from ``owned_from(d, m) - warmup`` to the day's end
(:func:`seasight.analysis.detection.warmup`: the longest look-back of any detector): it reads the
bucket's partitions from its start minus the warm-up, and the few older rows that vessels
with an event still going on need come carried from the previous day, so the chain never
re-reads earlier days. It also reads the bucket's static reports up to the day's end (all of
them on the last day: what a live run would have known then), and runs
:func:`seasight.analysis.detection.detect_window` with the day's end as horizon (the end of the
data on
the last day).

**Encounters** pair vessels of any buckets. A per-bucket chain cleans and segments each day
with ``context`` of data on both sides (so outliers and segments are decided as in a pass
over all the data), carries segment names across midnight, and cuts the day's points into
space tiles with an overlap margin (:mod:`seasight.distributed.tiles`). Each tile then runs its
days in order like the per-vessel chain, the encounter detector seeing the tile's points from
``owned_from - history`` (the interpolation hole and the missing steps that may join a run),
and keeps the encounters whose first step's midpoint lies in its square; the overlap's
duplicates are dropped and every event is unique by ``event_id``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from seasight.analysis.detection import POSITION_COLUMNS, detect_window, warmup
from seasight.distributed.tiles import TileKey, event_tiles, near_edge, split_by_tile
from seasight.events import encounter
from seasight.events.model import (
    US_PER_MIN,
    DetectionInputs,
    empty_events,
    point_speed_kn,
    sort_events,
    track_arrays,
)
from seasight.events.run import DETECTORS, detector_params
from seasight.geo.zones import Zone
from seasight.lake.dataset import Lake, day_bounds
from seasight.model.schema import EVENTS, conform
from seasight.tracks.clean import clean_positions
from seasight.tracks.segment import segment_tracks

__all__ = [
    "EngineParams",
    "LakeDetection",
    "LakeRef",
    "detect_lake",
    "encounter_tile_day",
    "vessel_day",
    "vessel_points",
]

Progress = Callable[[int, int], None]
"""Called as tasks finish with (tasks done, tasks submitted)."""


@dataclass(frozen=True)
class LakeRef:
    """How a worker opens the lake (a picklable handle)."""

    root: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)

    def open(self) -> Lake:
        return Lake(self.root, storage_options=dict(self.storage_options))


@dataclass(frozen=True)
class EngineParams:
    """What every task needs to know about the run."""

    zones: tuple[Zone, ...] = ()
    kinds: tuple[str, ...] = tuple(DETECTORS)
    params: Mapping[str, object] | None = None
    #: Events starting this close to the end of a day are decided by the next day's run.
    settle: timedelta = timedelta(hours=2)
    #: Data read on both sides of a day to clean and segment it for encounters.
    context: timedelta = timedelta(hours=24)
    #: Side of the encounter tiles, degrees.
    tile_deg: float = 10.0
    #: Overlap of the encounter tiles, degrees (at least the encounter distance).
    margin_deg: float = 0.5
    #: The end of the data: the last position's time in the lake.
    horizon_end: datetime | None = None
    #: The days the lake's static table has (each day's task reads its bucket's static
    #: reports of the days up to its own; the last day's, of all of them).
    static_days: tuple[str, ...] = ()

    @property
    def vessel_kinds(self) -> tuple[str, ...]:
        return tuple(k for k in self.kinds if k != encounter.KIND)

    @property
    def encounter_params(self) -> encounter.Params:
        p = detector_params(encounter.KIND, (self.params or {}).get(encounter.KIND))
        assert isinstance(p, encounter.Params)
        return p

    @property
    def history(self) -> timedelta:
        """Points a tile keeps before the first encounter start it may report."""
        p = self.encounter_params
        return timedelta(minutes=p.max_interp_gap_min + (p.max_missing_steps + 2) * p.step_min)


# --------------------------------------------------------------------------------------------
# tasks (plain functions of partitions: they run on any worker, or here)
# --------------------------------------------------------------------------------------------


def _unsettled(events: pl.DataFrame, day_end: datetime, settle: timedelta) -> pl.Expr:
    """Events the next day must decide again: open, or ending within ``settle`` of the day's
    end (what follows the end of the data may still extend them)."""
    return pl.col("is_open") | (pl.col("end") >= day_end - settle)


def _next_owned(events: pl.DataFrame, day_end: datetime, settle: timedelta) -> datetime:
    owned = day_end - settle
    starts = events.filter(_unsettled(events, day_end, settle))["start"]
    if starts.len():
        first = starts.min()
        assert isinstance(first, datetime)
        owned = min(owned, first)
    return owned


def _positions(lake: Lake, bucket: int, since: datetime | None, until: datetime | None
               ) -> pl.DataFrame:
    frame = lake.read_span("positions", bucket, since, until, columns=POSITION_COLUMNS)
    return frame.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())


VesselState = tuple[pl.DataFrame, pl.DataFrame]
"""What one day of a bucket hands the next: (owned, carried) -- per MMSI (``mmsi``,
``owned_from``) where the next day's ownership starts when earlier than its start, and the
positions of those vessels that the next day needs but does not read itself (from
``owned_from - warmup`` to the day's end minus the warm-up)."""


def vessel_day(
    ref: LakeRef, bucket: int, day: str, state: VesselState | None, last: bool,
    ep: EngineParams,
) -> tuple[pl.DataFrame, VesselState, dict[str, float]]:
    """Per-vessel events of one bucket and day.

    ``state`` is the previous day's (None on the first day, which owns everything): vessels
    whose ownership starts before this day (an event still open, a silence that may yet become
    a gap) with the positions they need from before this day's warm-up. The day reads the
    bucket's positions from its start minus the warm-up to its end, so a long open event costs
    its own vessel's rows, not a re-read of every earlier day. Returns (the events the day
    owns, the next day's state, seconds per stage).
    """
    t0 = time.perf_counter()
    lake = ref.open()
    start, end = day_bounds(day)
    look = warmup(ep.params)
    horizon = ep.horizon_end if last else end
    positions = _positions(lake, bucket, None if state is None else start - look, end)
    owned = None
    if state is not None:
        owned, carried = state
        if carried.height:
            positions = pl.concat([carried.filter(pl.col("ts") < start - look), positions],
                                  how="vertical_relaxed")
        # each vessel from its own ownership start minus the warm-up
        positions = positions.join(owned, on="mmsi", how="left").filter(
            pl.col("ts") >= pl.col("owned_from").fill_null(start) - look).drop("owned_from")
    # the identity reports known by the day's end (all of them on the last day): what a
    # live run at that time would have had
    static = lake.read("static", days=ep.static_days if last else
                       [d for d in ep.static_days if d <= day], buckets=[bucket])
    static = static.filter(pl.col("ts").is_not_null() if last else
                           pl.col("ts").is_not_null() & (pl.col("ts") < end))
    seconds = {"read": time.perf_counter() - t0}
    result = detect_window(positions, static, ep.zones, owned_from=None, horizon_end=horizon,
                           kinds=ep.vessel_kinds, params=ep.params)
    seconds.update(result.seconds)
    events = result.events
    if owned is not None:
        events = events.join(owned, on="mmsi", how="left").filter(
            pl.col("start") >= pl.col("owned_from").fill_null(start)).drop("owned_from")
    if last:
        seconds["total"] = time.perf_counter() - t0
        return events, (_owned_frame([], []), positions.head(0)), seconds
    gap = detector_params("gap", (ep.params or {}).get("gap"))
    min_gap = timedelta(hours=float(getattr(gap, "min_gap_h", 0.0)))
    unsettled = events.filter(_unsettled(events, end, ep.settle)).group_by("mmsi").agg(
        pl.col("start").min().alias("a"))
    # a vessel silent at the day's end for less than a gap's length may yet start a gap
    quiet = result.points.group_by("mmsi").agg(pl.col("ts").max().alias("b")).filter(
        pl.col("b") > end - min_gap)
    nxt = (unsettled.join(quiet, on="mmsi", how="full", coalesce=True)
           .select(pl.col("mmsi").cast(pl.UInt32),
                   pl.min_horizontal("a", "b", pl.lit(end - ep.settle)).alias("owned_from"))
           .filter(pl.col("owned_from") < end))
    # events the next day decides again are not this day's
    events = events.join(nxt, on="mmsi", how="left").filter(
        pl.col("start") < pl.col("owned_from").fill_null(end - ep.settle)).drop("owned_from")
    carry = positions.join(nxt, on="mmsi", how="semi").join(nxt, on="mmsi").filter(
        (pl.col("ts") >= pl.col("owned_from") - look) & (pl.col("ts") < end - look)
    ).drop("owned_from")
    seconds["total"] = time.perf_counter() - t0
    return events, (nxt, carry), seconds


def _owned_frame(mmsi: list[int], owned: list[datetime]) -> pl.DataFrame:
    return pl.DataFrame({"mmsi": mmsi, "owned_from": owned},
                        schema={"mmsi": pl.UInt32, "owned_from": pl.Datetime("us", "UTC")})


#: Columns of the points handed to the encounter tiles.
_TILE_POINT_COLUMNS = ("mmsi", "segment_id", "ts", "lat", "lon", "sog", "on_land", "prev_ts",
                       "prev_lat", "prev_lon", "next_lat", "next_lon")


def vessel_points(
    ref: LakeRef, bucket: int, day: str, previous: pl.DataFrame | None, scratch: str,
    ep: EngineParams,
) -> tuple[pl.DataFrame, list[TileKey]]:
    """Cleaned and segmented points of one bucket and day for encounters, cut into tiles.

    The points each tile must see are written to the lake's ``scratch`` folder
    (:func:`tile_folder`: the shuffle goes through storage, as in Spark, not through the
    scheduler). Each point carries its speed (reported, else implied over its whole segment)
    as ``sog`` and its segment neighbours (``prev_*``, ``next_*``). Returns (the day's points
    with their segment names, for the next day to carry them on; the tiles written).
    ``previous`` is the previous day's first result.
    """
    lake = ref.open()
    start, end = day_bounds(day)
    positions = _positions(lake, bucket, start - ep.context, end + ep.context)
    cleaned = clean_positions(positions)
    points = segment_tracks(cleaned.points).points
    if points.height == 0:
        return points.select("mmsi", "segment_id", "ts", "lat", "lon"), []
    arrays = track_arrays(points)
    max_hole = round(ep.encounter_params.max_interp_gap_min * US_PER_MIN)
    speed = point_speed_kn(arrays)
    seg_names = np.asarray(arrays.segment_ids, dtype=object)[arrays.seg]
    frame = pl.DataFrame({
        "mmsi": arrays.mmsi, "segment_id": pl.Series(seg_names.tolist(), dtype=pl.String),
        "t": arrays.ts, "lat": arrays.lat, "lon": arrays.lon, "sog": speed,
        "on_land": arrays.on_land,
    })
    same_prev = pl.col("segment_id") == pl.col("segment_id").shift(1)
    same_next = pl.col("segment_id") == pl.col("segment_id").shift(-1)
    near_prev = same_prev & (pl.col("t") - pl.col("t").shift(1) <= max_hole)
    near_next = same_next & (pl.col("t").shift(-1) - pl.col("t") <= max_hole)
    frame = frame.with_columns(
        pl.when(same_prev).then(pl.col("t").shift(1)).alias("prev_t"),
        pl.when(near_prev).then(pl.col("lat").shift(1)).alias("prev_lat"),
        pl.when(near_prev).then(pl.col("lon").shift(1)).alias("prev_lon"),
        pl.when(near_next).then(pl.col("lat").shift(-1)).alias("next_lat"),
        pl.when(near_next).then(pl.col("lon").shift(-1)).alias("next_lon"),
    )
    s_us, e_us = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
    # the day's points, and before them each segment's last point of the previous day
    before = frame.filter(pl.col("t") < s_us).group_by("segment_id").agg(pl.col("t").max())
    frame = frame.with_columns(
        pl.col("segment_id").alias("local_id"),
        (pl.col("t") >= s_us).alias("in_day"),
    )
    # names carried across midnight: a segment continuing a segment of the previous day
    # takes its name (matched on that day's last point), others are named after the day
    names = pl.DataFrame({"local_id": frame["local_id"].unique()}).with_columns(
        (pl.lit(day + "/") + pl.col("local_id")).alias("segment_id_new"))
    if previous is not None and previous.height and before.height:
        prev = previous.select(pl.col("mmsi").cast(pl.UInt32), "ts", "lat", "lon",
                               pl.col("segment_id").alias("carried"))
        anchor = frame.join(before.rename({"segment_id": "local_id"}), on=["local_id", "t"])
        anchor = anchor.with_columns(pl.from_epoch("t", "us").dt.replace_time_zone("UTC")
                                     .alias("ts")).join(prev, on=["mmsi", "ts", "lat", "lon"])
        carried = anchor.group_by("local_id").agg(pl.col("carried").min())
        names = names.join(carried, on="local_id", how="left").with_columns(
            pl.coalesce("carried", "segment_id_new").alias("segment_id_new")).drop("carried")
    frame = frame.join(names, on="local_id").drop("segment_id").rename(
        {"segment_id_new": "segment_id"})
    keep = frame.join(before.rename({"segment_id": "local_id"}), on=["local_id", "t"],
                      how="semi")
    out = pl.concat([keep, frame.filter(pl.col("in_day") & (pl.col("t") < e_us))])
    out = out.with_columns(
        pl.from_epoch("t", "us").dt.replace_time_zone("UTC").alias("ts"),
        pl.from_epoch("prev_t", "us").dt.replace_time_zone("UTC").alias("prev_ts"),
    ).sort("segment_id", "ts")
    labelled = out.filter(pl.col("in_day")).select("mmsi", "segment_id", "ts", "lat", "lon")
    tiles = split_by_tile(out.select(_TILE_POINT_COLUMNS), ep.tile_deg, ep.margin_deg)
    for key, frame_t in tiles.items():
        lake.put_frame(f"{tile_folder(scratch, day, key)}/part-{bucket:05d}.parquet", frame_t)
    return labelled, sorted(tiles)


def tile_folder(scratch: str, day: str, tile: TileKey) -> str:
    """Folder (relative to the lake's root) of one tile's points of one day."""
    return f"{scratch}/day={day}/tile={tile[0]:03d}_{tile[1]:03d}"


def encounter_tile_day(
    ref: LakeRef, tile: TileKey, day: str, scratch: str, carry: pl.DataFrame | None,
    owned_from: datetime | None, last: bool, ep: EngineParams,
) -> tuple[pl.DataFrame, pl.DataFrame, datetime | None, int]:
    """Encounters one tile owns on one day: (events, points to carry into the next day, where
    the next day's ownership starts, how many of the events reach so far out of the tile
    that the margin may have cut them: :func:`~seasight.distributed.tiles.near_edge`).
    Reads the tile's points of the day from ``scratch``."""
    _, end = day_bounds(day)
    pieces = ref.open().get_frames(tile_folder(scratch, day, tile))
    frames = [p for p in pieces if p.height]
    if carry is not None and carry.height:
        frames.insert(0, carry)
    if not frames:
        return empty_events(), pl.DataFrame(), (None if last else end - ep.settle), 0
    pts = pl.concat(frames, how="vertical_relaxed").unique(
        subset=["segment_id", "ts"], keep="first").sort("segment_id", "ts")
    if owned_from is not None:
        pts = pts.filter(pl.col("ts") >= owned_from - ep.history)
    # a run of the tile's points whose legs are all present is one piece of track: samples
    # are interpolated only along legs the tile holds, so every sample is a true one
    new_piece = ((pl.col("segment_id") != pl.col("segment_id").shift(1))
                 | (pl.col("prev_ts") != pl.col("ts").shift(1))
                 | pl.col("prev_ts").is_null()).fill_null(True)
    inputs_points = pts.with_columns(new_piece.cum_sum().alias("piece")).with_columns(
        (pl.col("segment_id") + "#" + pl.col("piece").cast(pl.String)).alias("segment_id"),
    ).select("mmsi", "segment_id", "ts", "lat", "lon", "sog", "on_land")
    horizon = ep.horizon_end if last else end
    inputs = DetectionInputs(points=inputs_points, zones=ep.zones, horizon_end=horizon)
    found = encounter.detect(inputs, ep.encounter_params)
    if found.height:
        row, col = event_tiles(found, ep.tile_deg)
        found = found.filter(pl.Series((row == tile[0]) & (col == tile[1])))
    if owned_from is not None:
        found = found.filter(pl.col("start") >= owned_from)
    next_owned = None
    carry_out = pts.head(0)
    if not last:
        next_owned = _next_owned(found, end, ep.settle)
        found = found.filter(pl.col("start") < next_owned)
        carry_out = pts.filter(pl.col("ts") >= next_owned - ep.history)
    edge = near_edge(found, tile, ep.tile_deg, ep.margin_deg, ep.encounter_params.max_distance_m)
    return found, carry_out, next_owned, int(edge.sum())


# --------------------------------------------------------------------------------------------
# scheduling
# --------------------------------------------------------------------------------------------


@dataclass
class LakeDetection:
    """What :func:`detect_lake` found and what it cost."""

    events: pl.DataFrame
    days: list[str]
    buckets: int
    tiles: int
    tasks: int
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: Encounters reaching so far out of their tile that the overlap margin may have cut them
    #: short: when not 0, run again with a wider ``margin_deg``.
    encounters_at_tile_edge: int = 0

    @property
    def events_by_kind(self) -> dict[str, int]:
        counts = self.events.group_by("kind").len()
        return dict(zip(counts["kind"].to_list(), counts["len"].to_list(), strict=True))


def _first(x: tuple[Any, ...]) -> Any:
    return x[0]


def _second(x: tuple[Any, ...]) -> Any:
    return x[1]


def _third(x: tuple[Any, ...]) -> Any:
    return x[2]


def _fourth(x: tuple[Any, ...]) -> Any:
    return x[3]


def detect_lake(
    lake: Lake | str,
    client: Any,
    zones: Sequence[Zone] = (),
    *,
    kinds: Iterable[str] | None = None,
    params: Mapping[str, object] | None = None,
    tile_deg: float = 10.0,
    margin_deg: float = 0.5,
    settle: timedelta = timedelta(hours=2),
    progress: Progress | None = None,
) -> LakeDetection:
    """Detect events over every position of ``lake`` on the Dask ``client``'s cluster.

    The events equal those of :func:`seasight.analysis.detection.detect_events` over the same
    positions
    and static reports with the last position's time as horizon (what ``seasight detect``
    does on a database holding the same data). ``progress`` is called as tasks finish.
    """
    from distributed import as_completed

    started = time.perf_counter()
    target = lake if isinstance(lake, Lake) else Lake(lake)
    ref = LakeRef(target.root, target.storage_options)
    chosen = tuple(dict.fromkeys(kinds)) if kinds is not None else tuple(DETECTORS)
    for kind in chosen:
        detector_params(kind, (params or {}).get(kind))  # unknown kinds/params fail here
    if tile_deg <= 0:
        raise ValueError("tile_deg must be positive")
    enc = detector_params(encounter.KIND, (params or {}).get(encounter.KIND))
    assert isinstance(enc, encounter.Params)
    if margin_deg * 111.0 * 1000.0 < 2 * enc.max_distance_m:
        raise ValueError("margin_deg must cover at least twice the encounter distance")
    days = target.days("positions")
    if not days:
        return LakeDetection(empty_events(), [], target.buckets, 0, 0,
                             time.perf_counter() - started)
    horizon = _horizon(target, days)
    hole = timedelta(minutes=enc.max_interp_gap_min + (enc.max_missing_steps + 2) * enc.step_min)
    ep = EngineParams(zones=tuple(zones), kinds=chosen, params=params, settle=max(settle, hole),
                      tile_deg=tile_deg, margin_deg=margin_deg, horizon_end=horizon,
                      static_days=tuple(target.days("static")))
    buckets = sorted({p.bucket for p in target.partitions("positions")})
    submitted: list[Any] = []

    def submit(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        fut = client.submit(fn, *args, pure=False, **kw)
        submitted.append(fut)
        return fut

    scratch = f"_scratch/{uuid.uuid4().hex}"
    try:
        vessel_results: list[Any] = []
        point_results: dict[tuple[int, str], Any] = {}
        for bucket in buckets:
            owned: Any = None
            prev_points: Any = None
            for i, day in enumerate(days):
                last = i == len(days) - 1
                if ep.vessel_kinds:
                    res = submit(vessel_day, ref, bucket, day, owned, last, ep)
                    vessel_results.append(res)
                    owned = submit(_second, res)
                if encounter.KIND in chosen:
                    pres = submit(vessel_points, ref, bucket, day, prev_points, scratch, ep)
                    prev_points = submit(_first, pres)
                    point_results[(bucket, day)] = submit(_second, pres)
        events = [submit(_first, r) for r in vessel_results]
        stage = [submit(_third, r) for r in vessel_results]
        n_tiles = 0
        edges: list[Any] = []
        if encounter.KIND in chosen:
            # the tiles the points went to (small lists) decide the second half of the graph
            written = client.gather(list(point_results.values()))
            all_tiles = sorted({(int(r), int(c)) for keys in written for r, c in keys})
            n_tiles = len(all_tiles)
            for tile in all_tiles:
                carry: Any = None
                owned_t: Any = None
                for i, day in enumerate(days):
                    last = i == len(days) - 1
                    res = submit(encounter_tile_day, ref, tile, day, scratch, carry, owned_t,
                                 last, ep)
                    events.append(submit(_first, res))
                    carry = submit(_second, res)
                    owned_t = submit(_third, res)
                    edges.append(submit(_fourth, res))
        for done, _ in enumerate(as_completed(list(submitted)), start=1):
            if progress:
                progress(done, len(submitted))
        frames = [f for f in client.gather(events) if f.height]
        at_edge = sum(client.gather(edges))
        stage_seconds: dict[str, float] = {}
        for secs in client.gather(stage):
            for k, v in secs.items():
                stage_seconds[k] = stage_seconds.get(k, 0.0) + v
        merged = (sort_events(conform(pl.concat(frames), EVENTS))
                  .unique("event_id", keep="first", maintain_order=True)
                  if frames else empty_events())
    finally:
        target.remove(scratch)  # the tiles' points: intermediate only
        target.remove_if_empty("_scratch")
    return LakeDetection(merged, days, len(buckets), n_tiles, len(submitted),
                         time.perf_counter() - started, stage_seconds, at_edge)


def _horizon(lake: Lake, days: list[str]) -> datetime:
    last = lake.read("positions", days=[days[-1]], columns=["ts", "lat", "lon"]).filter(
        pl.col("lat").is_not_null() & pl.col("lon").is_not_null())["ts"].max()
    if not isinstance(last, datetime):
        raise ValueError("the lake's last day has no position with a time and a place")
    return last
