"""What every detector takes and returns: :class:`DetectionInputs` in, an EVENTS frame out.

All detectors share one signature::

    detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame  # EVENTS

and live in one module per kind (``KIND``, ``VERSION``, a frozen ``Params`` dataclass and
``detect``). The helpers here keep the events of every detector alike:

* :func:`make_event_ids` gives each event a *stable* id, a hash of what identifies it (kind,
  vessel, other vessel, start time, zone). Detecting again over the same data gives the same
  ids, so the store can insert-or-replace; an event that was still open at the end of the data
  keeps its id when more data arrives and only its end (and evidence) change.
* :func:`events_frame` builds a frame conformed to :data:`seasight.model.schema.EVENTS` from columns
  or row dicts, serialises evidence dicts to JSON (sorted keys, so the text is reproducible),
  clips scores to [0, 1] and fills ``event_id`` and ``detector``.
* :func:`track_arrays` turns the ``points`` frame (TRACK_POINTS) into numpy arrays in a fixed
  order, and :func:`horizon_end_us` gives the end of the data in epoch microseconds.

Times inside the detectors are int64 epoch microseconds (UTC), as stored by the
``Datetime("us", "UTC")`` columns.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from seasight.model.schema import EVENTS, IDENTITIES, SEGMENTS, TRACK_POINTS, UTC_US, conform, empty

if TYPE_CHECKING:
    from seasight.geo.zones import Zone

#: Microseconds per second / minute / hour, for the int64 epoch-microsecond times detectors use.
US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_H = 3600 * US_PER_S


def _empty_points() -> pl.DataFrame:
    return empty(TRACK_POINTS)


def _empty_segments() -> pl.DataFrame:
    return empty(SEGMENTS)


def _empty_identities() -> pl.DataFrame:
    return empty(IDENTITIES)


@dataclass(frozen=True)
class DetectionInputs:
    """Everything the detectors read, as columns.

    ``points``
        TRACK_POINTS with ``segment_id`` filled, sorted by (mmsi, ts) (detectors sort again
        when it is not, so the order never changes the result).
    ``segments``
        SEGMENTS: one row per transmitter track of an MMSI.
    ``identities``
        IDENTITIES: identity history (gives ``ship_type`` for the loitering carrier rule).
    ``zones``
        user zones (:class:`seasight.geo.zones.Zone`) for zone_entry / zone_exit.
    ``horizon_end``
        the end of the data (timezone-aware UTC datetime). Events still going on then are
        ``is_open``; ``None`` means the time of the last point.
    """

    points: pl.DataFrame = field(default_factory=_empty_points)
    segments: pl.DataFrame = field(default_factory=_empty_segments)
    identities: pl.DataFrame = field(default_factory=_empty_identities)
    zones: Sequence[Zone] = ()
    horizon_end: datetime | None = None
    #: arrays derived from ``points``, shared by the detectors (see :func:`tracks`)
    _cache: dict[tuple[str, bool], object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )


def to_us(value: datetime | int | np.integer[Any] | np.datetime64) -> int:
    """Epoch microseconds (UTC) of a datetime (naive datetimes are taken as UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[us]").astype(np.int64))
    return int(value)


def from_us(value: int) -> datetime:
    """UTC datetime of epoch microseconds."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))


def parse_utc(text: str) -> datetime:
    """A UTC datetime from ISO 8601 text (``Z``/``z`` or an offset; naive means UTC).

    Raises ValueError for text that is not an ISO 8601 time.
    """
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def iso(value: int) -> str:
    """ISO 8601 UTC text (``2024-01-01T00:00:00Z``) of epoch microseconds, for evidence."""
    text = from_us(value).isoformat()
    return text.replace("+00:00", "Z")


def horizon_end_us(inputs: DetectionInputs) -> int | None:
    """End of the data in epoch microseconds: ``inputs.horizon_end``, else the last point's time.

    ``None`` when there is neither (no points).
    """
    if inputs.horizon_end is not None:
        return to_us(inputs.horizon_end)
    if inputs.points.height == 0:
        return None
    last = inputs.points.select(pl.col("ts").dt.epoch("us").max()).item()
    return None if last is None else int(last)


@dataclass(frozen=True)
class TrackArrays:
    """The points of a TRACK_POINTS frame as numpy arrays, sorted by (segment, ts).

    ``seg`` is a dense int code per ``segment_id`` (0..n_segments-1; the segments of an MMSI
    are ordered by a hash of their id, which is arbitrary but the same for the same data);
    ``seg_start`` gives the first row of each segment (length
    n_segments + 1, so rows of segment k are ``seg_start[k]:seg_start[k+1]``). Points without a
    ``segment_id`` form one segment per MMSI. ``sog`` is NaN where not reported.
    """

    mmsi: np.ndarray  # uint32
    seg: np.ndarray  # int64 code
    segment_ids: list[str]
    ts: np.ndarray  # int64 epoch µs
    lat: np.ndarray  # float64
    lon: np.ndarray  # float64
    sog: np.ndarray  # float64, NaN when not reported
    on_land: np.ndarray  # bool
    seg_start: np.ndarray  # int64, n_segments + 1

    @property
    def n(self) -> int:
        return len(self.ts)

    @property
    def n_segments(self) -> int:
        return len(self.seg_start) - 1


def track_arrays(points: pl.DataFrame, *, drop_on_land: bool = False) -> TrackArrays:
    """Arrays of ``points`` sorted by (mmsi, segment, ts), duplicates of (segment, ts) dropped.

    The sort and the de-duplication make every detector independent of the input order and of
    repeated rows. ``drop_on_land`` leaves out fixes flagged ``on_land`` (spoofed or bad GPS).
    """
    frame = points
    for name in ("mmsi", "ts", "lat", "lon"):
        if name not in frame.columns:
            raise ValueError(f"points frame lacks column {name!r}")
    frame = frame.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    if drop_on_land and "on_land" in frame.columns:
        frame = frame.filter(~pl.col("on_land").fill_null(False))
    no_seg = pl.col("mmsi").cast(pl.String) + "-?"  # points without a segment: one per MMSI
    if "segment_id" not in frame.columns:
        seg_expr = no_seg
    elif frame["segment_id"].null_count():
        seg_expr = pl.col("segment_id").fill_null(no_seg)
    else:
        seg_expr = pl.col("segment_id")
    seg_text = frame.select(seg_expr.alias("segment_id")).to_series()
    frame = frame.select(
        pl.col("mmsi").cast(pl.UInt32),
        seg_text.hash(seed=0).alias("h"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
        pl.col("ts").dt.epoch("us").alias("t"),
        pl.col("lat").cast(pl.Float64),
        pl.col("lon").cast(pl.Float64),
        (pl.col("sog") if "sog" in frame.columns else pl.lit(None))
        .cast(pl.Float64)
        .fill_nan(None)
        .alias("sog"),
        (
            pl.col("on_land").fill_null(False)
            if "on_land" in frame.columns
            else pl.lit(False)
        ).alias("on_land"),
    )
    # Sorting by the segment's hash (not its text) keeps the sort numeric and fast. Ties of
    # (segment, time) are ordered by their content and the first is kept, so the result does
    # not depend on the input order or on repeated rows; the slower sort on the content is only
    # needed when there are ties (the track builder already collapses duplicates).
    frame = frame.sort(["mmsi", "h", "t"])
    if frame.height:
        tie = (
            (pl.col("t") == pl.col("t").shift(1))
            & (pl.col("h") == pl.col("h").shift(1))
            & (pl.col("mmsi") == pl.col("mmsi").shift(1))
        )
        if frame.select(tie.any()).item():
            frame = frame.sort(["mmsi", "h", "t", "lat", "lon", "sog"], nulls_last=True)
        new_key = (pl.col("h") != pl.col("h").shift(1)) | (
            pl.col("mmsi") != pl.col("mmsi").shift(1)
        )
        frame = frame.with_columns(new_key.fill_null(True).alias("new_seg")).filter(
            pl.col("new_seg") | (pl.col("t") != pl.col("t").shift(1)).fill_null(True)
        )
        seg = frame["new_seg"].cast(pl.Int64).cum_sum().to_numpy() - 1
    else:
        seg = np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]]) if len(seg) else np.zeros(0, int)
    seg_start = np.r_[starts, len(seg)].astype(np.int64)
    segment_ids = seg_text.gather(frame["row"].gather(starts)).to_list() if len(seg) else []
    return TrackArrays(
        mmsi=frame["mmsi"].to_numpy(),
        seg=seg.astype(np.int64, copy=False),
        segment_ids=[str(s) for s in segment_ids],
        ts=frame["t"].to_numpy(),
        lat=frame["lat"].to_numpy(),
        lon=frame["lon"].to_numpy(),
        sog=frame["sog"].fill_null(np.nan).to_numpy(),
        on_land=frame["on_land"].to_numpy(),
        seg_start=seg_start,
    )


def tracks(inputs: DetectionInputs, *, drop_on_land: bool = False) -> TrackArrays:
    """:func:`track_arrays` of ``inputs.points``, computed once per inputs and flag.

    Detectors run one after another on the same inputs share the sorted arrays.
    """
    key = ("tracks", drop_on_land)
    cached = inputs._cache.get(key)
    if cached is None:
        cached = track_arrays(inputs.points, drop_on_land=drop_on_land)
        inputs._cache[key] = cached
    assert isinstance(cached, TrackArrays)
    return cached


def speeds(inputs: DetectionInputs, *, drop_on_land: bool = False) -> np.ndarray:
    """:func:`point_speed_kn` of :func:`tracks` (cached the same way)."""
    key = ("speeds", drop_on_land)
    cached = inputs._cache.get(key)
    if cached is None:
        cached = point_speed_kn(tracks(inputs, drop_on_land=drop_on_land))
        inputs._cache[key] = cached
    assert isinstance(cached, np.ndarray)
    return cached


def latest_ship_types(identities: pl.DataFrame) -> dict[int, int]:
    """MMSI -> the ship type of its most recent identity that reports one."""
    if identities.height == 0 or "ship_type" not in identities.columns:
        return {}
    latest = (
        identities.filter(pl.col("ship_type").is_not_null())
        .sort(["mmsi", "valid_to", "valid_from"], nulls_last=False)
        .group_by("mmsi", maintain_order=True)
        .last()
    )
    return dict(
        zip(latest["mmsi"].to_list(), latest["ship_type"].to_list(), strict=True)
    )


def _broadcast(value: Any, n: int) -> list[Any]:
    if isinstance(value, pl.Series):
        out = value.to_list()
    elif isinstance(value, np.ndarray):
        out = value.tolist()
    elif isinstance(value, (str, bytes, int, float, datetime)) or value is None:
        return [value] * n
    else:
        out = list(value)
    if len(out) != n:
        raise ValueError(f"column of length {len(out)} where {n} rows were expected")
    return out


def _key_part(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, datetime):
        return str(to_us(value))
    if isinstance(value, np.datetime64):
        return str(to_us(value))
    return str(value)


def make_event_ids(
    kind: str | Sequence[str] | pl.Series,
    mmsi: Sequence[int] | np.ndarray | pl.Series | int,
    other_mmsi: Sequence[int | None] | np.ndarray | pl.Series | int | None,
    start: Sequence[datetime | int] | np.ndarray | pl.Series | datetime | int,
    zone: Sequence[str | None] | pl.Series | str | None = None,
) -> pl.Series:
    """Stable 16-hex-digit ids of events, one per row.

    The id is the BLAKE2b-64 hash of ``kind|mmsi|other_mmsi|start_us|zone`` (``start`` as epoch
    microseconds; datetimes or int µs accepted; missing values as empty text). It does not
    depend on Python's hash seed, on Polars' version or on the machine, so detecting again over
    the same data gives the same ids. Scalars are broadcast.
    """
    lengths = [
        len(v)
        for v in (kind, mmsi, other_mmsi, start, zone)
        if isinstance(v, (pl.Series, np.ndarray, list, tuple))
    ]
    n = max(lengths) if lengths else 1
    if isinstance(start, pl.Series) and start.dtype.base_type() == pl.Datetime:
        start = start.dt.epoch("us")
    cols = [_broadcast(v, n) for v in (kind, mmsi, other_mmsi, start, zone)]
    ids = [
        hashlib.blake2b(
            "|".join(_key_part(p) for p in parts).encode(), digest_size=8
        ).hexdigest()
        for parts in zip(*cols, strict=True)
    ]
    return pl.Series("event_id", ids, dtype=pl.String)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialise {type(value).__name__} as evidence")


def _clean_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_nan(v) for v in value]
    return value


def evidence_json(evidence: Mapping[str, Any]) -> str:
    """Evidence dict as compact JSON with sorted keys (NaN/inf become null)."""
    return json.dumps(
        _clean_nan(dict(evidence)), sort_keys=True, separators=(",", ":"),
        default=_json_default, allow_nan=False,
    )


def empty_events() -> pl.DataFrame:
    """An EVENTS frame without rows."""
    return empty(EVENTS)


def _to_datetime_series(name: str, values: Any, n: int) -> pl.Series:
    if isinstance(values, pl.Series):
        if values.dtype.base_type() == pl.Datetime:
            return values.cast(UTC_US).alias(name)
        return pl.Series(name, values.cast(pl.Int64)).cast(UTC_US)
    vals = _broadcast(values, n)
    if vals and all(isinstance(v, (int, np.integer)) or v is None for v in vals):
        return pl.Series(name, vals, dtype=pl.Int64).cast(UTC_US)
    return pl.Series(name, [None if v is None else to_us(v) for v in vals], dtype=pl.Int64).cast(
        UTC_US
    )


def events_frame(
    data: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    detector: str | None = None,
) -> pl.DataFrame:
    """An EVENTS frame from columns (a mapping of name -> values) or from row dicts.

    ``start``/``end`` may be datetimes or int epoch microseconds; ``evidence`` may be dicts
    (serialised with :func:`evidence_json`) or JSON text; ``score`` is clipped to [0, 1];
    a missing ``end`` is ``start`` (an instant event); ``is_open`` defaults to False;
    ``event_id`` is computed with :func:`make_event_ids` when absent; ``detector``
    (``"name/version"``) fills the column when given. Rows are sorted by (start, kind, mmsi,
    other_mmsi, zone) so the output never depends on the input order, and only the first of
    rows with the same ``event_id`` is kept.
    """
    if isinstance(data, Mapping):
        columns: dict[str, Any] = dict(data)
    else:
        rows = list(data)
        if not rows:
            return empty_events()
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        columns = {k: [row.get(k) for row in rows] for k in keys}
    lengths = [
        len(v) for v in columns.values() if isinstance(v, (pl.Series, np.ndarray, list, tuple))
    ]
    n = max(lengths) if lengths else 0
    if n == 0:
        return empty_events()
    series: dict[str, pl.Series] = {}
    for name, dtype in EVENTS.items():
        if name not in columns:
            continue
        values = columns[name]
        if name in ("start", "end"):
            series[name] = _to_datetime_series(name, values, n)
        elif name == "evidence":
            vals = _broadcast(values, n)
            series[name] = pl.Series(
                name,
                [v if isinstance(v, str) or v is None else evidence_json(v) for v in vals],
                dtype=pl.String,
            )
        elif isinstance(values, pl.Series):
            series[name] = values.cast(dtype).alias(name)
        else:
            vals = _broadcast(values, n)
            if dtype == pl.Float32() or dtype == pl.Float64():
                vals = [
                    None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                    for v in vals
                ]
            series[name] = pl.Series(name, vals, dtype=dtype, strict=False)
    frame = pl.DataFrame(list(series.values()))
    if "start" in frame.columns:
        end = pl.coalesce("end", "start") if "end" in frame.columns else pl.col("start")
        frame = frame.with_columns(end.alias("end"))
    if "is_open" in frame.columns:
        frame = frame.with_columns(pl.col("is_open").fill_null(False))
    else:
        frame = frame.with_columns(pl.lit(False).alias("is_open"))
    if "score" in frame.columns:
        frame = frame.with_columns(pl.col("score").cast(pl.Float32).clip(0.0, 1.0))
    if detector is not None:
        frame = frame.with_columns(pl.lit(detector, dtype=pl.String).alias("detector"))
    frame = conform(frame, EVENTS)
    if "event_id" not in columns:
        frame = frame.with_columns(
            make_event_ids(
                frame["kind"], frame["mmsi"], frame["other_mmsi"], frame["start"], frame["zone"]
            )
        )
    # one event per id (two transmitters of one MMSI starting the same event at the same
    # microsecond): the first in canonical order wins
    return sort_events(frame).unique(subset="event_id", keep="first", maintain_order=True)


def sort_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Events in the canonical order: (start, kind, mmsi, other_mmsi, zone, event_id)."""
    return frame.sort(
        ["start", "kind", "mmsi", "other_mmsi", "zone", "event_id", "end", "evidence"],
        nulls_last=True,
    )


def implied_speed_kn(arrays: TrackArrays) -> np.ndarray:
    """Speed over ground implied by each point and the next of its segment (knots).

    The last point of a segment takes the value of the leg before it; a segment of one point
    gets NaN. Legs with no time between them are NaN.
    """
    from seasight.geo.distance import KM_PER_NM, haversine_km

    n = arrays.n
    out = np.full(n, np.nan)
    if n < 2:
        return out
    same = arrays.seg[1:] == arrays.seg[:-1]
    dt_h = (arrays.ts[1:] - arrays.ts[:-1]) / US_PER_H
    dist_km = np.asarray(
        haversine_km(arrays.lat[:-1], arrays.lon[:-1], arrays.lat[1:], arrays.lon[1:]),
        dtype=np.float64,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        leg = np.where(same & (dt_h > 0), dist_km / KM_PER_NM / dt_h, np.nan)
    out[:-1] = leg  # speed of the leg starting at the point
    last = np.r_[~same, True]  # last point of each segment: the leg ending at it
    idx = np.flatnonzero(last[1:]) + 1
    out[idx] = leg[idx - 1] if len(idx) else out[idx]
    first_of_seg = np.r_[True, ~same]
    out[first_of_seg & last] = np.nan
    return out


def point_speed_kn(arrays: TrackArrays) -> np.ndarray:
    """Reported speed over ground where there is one, else the implied speed (knots)."""
    sog = arrays.sog
    if not np.isnan(sog).any():
        return sog
    return np.where(np.isnan(sog), implied_speed_kn(arrays), sog)


def ramp(x: np.ndarray | float, lo: float, hi: float) -> np.ndarray:
    """Score helper: 0 at ``lo`` (and below), 1 at ``hi`` (and beyond), linear between."""
    arr = np.asarray(x, dtype=np.float64)
    if hi <= lo:
        return np.where(arr >= lo, 1.0, 0.0)
    return np.clip((arr - lo) / (hi - lo), 0.0, 1.0)


def point_evidence(arrays: TrackArrays, i: int) -> dict[str, object]:
    """A point of a track as evidence: time (ISO), position, SOG and segment."""
    sog = arrays.sog[i]
    return {
        "ts": iso(int(arrays.ts[i])),
        "lat": round(float(arrays.lat[i]), 6),
        "lon": round(float(arrays.lon[i]), 6),
        "sog": None if np.isnan(sog) else round(float(sog), 2),
        "segment_id": arrays.segment_ids[int(arrays.seg[i])],
    }


def group_median_position(
    group: np.ndarray, lat: np.ndarray, lon: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Median latitude and longitude of the points of each group 0..n_groups-1.

    Longitudes are taken relative to the group's first point, so a group straddling the
    antimeridian gets a sensible median. Groups without points get NaN.
    """
    if n_groups == 0:
        return np.zeros(0), np.zeros(0)
    frame = pl.DataFrame({"g": group.astype(np.int64), "lat": lat, "lon": lon})
    med = (
        frame.group_by("g")
        .agg(
            pl.col("lat").median(),
            pl.col("lon").first().alias("ref"),
            ((pl.col("lon") - pl.col("lon").first() + 540.0) % 360.0 - 180.0)
            .median()
            .alias("rel"),
        )
        .with_columns(((pl.col("ref") + pl.col("rel") + 540.0) % 360.0 - 180.0).alias("lon"))
    )
    out_lat = np.full(n_groups, np.nan)
    out_lon = np.full(n_groups, np.nan)
    g = med["g"].to_numpy()
    out_lat[g] = med["lat"].to_numpy()
    out_lon[g] = med["lon"].to_numpy()
    return out_lat, out_lon


def mmsi_time_order(arrays: TrackArrays) -> np.ndarray | None:
    """Row order putting the points of each MMSI in time order, whatever their segment.

    ``arrays`` is sorted by (mmsi, segment, ts), so only MMSIs with several segments need
    reordering (ties in time are broken by segment). ``None`` when the rows already are in
    that order (no MMSI has two segments).
    """
    if arrays.n_segments < 2:
        return None
    seg_mmsi = arrays.mmsi[arrays.seg_start[:-1]]
    multi = np.unique(seg_mmsi[1:][seg_mmsi[1:] == seg_mmsi[:-1]])
    if multi.size == 0:
        return None
    order = np.arange(arrays.n, dtype=np.int64)
    idx = np.flatnonzero(np.isin(arrays.mmsi, multi))
    sub = np.lexsort((arrays.seg[idx], arrays.ts[idx], arrays.mmsi[idx]))
    order[idx] = idx[sub]
    return order
