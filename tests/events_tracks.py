"""Hand-made vessel tracks for the event detector tests (``tests/test_events_*.py``).

Each builder returns a TRACK_POINTS frame for one vessel (one segment unless told otherwise):
a straight leg at a constant course and speed, a vessel lying still (with a little jitter so
positions are not all identical), or several pieces joined in time. Positions are computed on
the sphere with :func:`seasight.geo.distance.destination`, so a vessel at 10 kn really covers
18.52 km an hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from seasight.geo.distance import KM_PER_NM, destination
from seasight.model.schema import IDENTITIES, TRACK_POINTS, conform

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    """``T0`` plus ``hours``."""
    return T0 + timedelta(hours=hours)


def leg(
    mmsi: int,
    start_h: float,
    hours: float,
    lat: float,
    lon: float,
    course: float = 90.0,
    speed_kn: float = 10.0,
    every_min: float = 2.0,
    segment: str | None = None,
    jitter_m: float = 0.0,
    seed: int = 0,
    sog: float | None = None,
) -> pl.DataFrame:
    """A vessel sailing a straight course from (lat, lon) for ``hours`` from ``T0 + start_h``.

    Reports every ``every_min`` minutes (both ends included). ``sog`` overrides the reported
    speed (default: ``speed_kn``); ``jitter_m`` adds Gaussian position noise.
    """
    n = round(hours * 60 / every_min) + 1
    t_h = np.arange(n) * every_min / 60.0
    dist_km = speed_kn * KM_PER_NM * t_h
    la, lo = destination(np.full(n, lat), np.full(n, lon), np.full(n, course), dist_km)
    la = np.asarray(la, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    if jitter_m > 0:
        rng = np.random.default_rng(seed)
        la = la + rng.normal(0, jitter_m / 111_195.0, n)
        lo = lo + rng.normal(0, jitter_m / (111_195.0 * np.cos(np.radians(lat))), n)
    ts = [T0 + timedelta(hours=float(start_h + h)) for h in t_h]
    return points(
        mmsi, ts, la, lo, np.full(n, speed_kn if sog is None else sog), course, segment
    )


def still(
    mmsi: int,
    start_h: float,
    hours: float,
    lat: float,
    lon: float,
    every_min: float = 2.0,
    sog: float = 0.1,
    jitter_m: float = 10.0,
    segment: str | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """A vessel lying (almost) still at (lat, lon): at anchor, at berth, or drifting."""
    return leg(
        mmsi, start_h, hours, lat, lon, 0.0, 0.0, every_min, segment, jitter_m, seed, sog=sog
    )


def points(
    mmsi: int,
    ts: list[datetime],
    lat: np.ndarray,
    lon: np.ndarray,
    sog: np.ndarray,
    cog: float = 0.0,
    segment: str | None = None,
) -> pl.DataFrame:
    """A TRACK_POINTS frame from columns."""
    n = len(ts)
    frame = pl.DataFrame(
        {
            "mmsi": [mmsi] * n,
            "segment_id": [segment or f"{mmsi}-1"] * n,
            "ts": ts,
            "lat": lat,
            "lon": lon,
            "sog": sog,
            "cog": [float(cog)] * n,
            "msg_type": [1] * n,
            "on_land": [False] * n,
        }
    )
    return conform(frame.with_columns(pl.col("ts").dt.convert_time_zone("UTC")), TRACK_POINTS)


def join(*frames: pl.DataFrame) -> pl.DataFrame:
    """Frames concatenated and sorted by (mmsi, ts), as the track builder hands them over."""
    return pl.concat(frames).sort(["mmsi", "ts"])


def end_position(frame: pl.DataFrame) -> tuple[float, float]:
    """Last (lat, lon) of a track."""
    last = frame.sort("ts").tail(1)
    return float(last["lat"][0]), float(last["lon"][0])


def identities(ship_types: dict[int, int]) -> pl.DataFrame:
    """An IDENTITIES frame giving each MMSI a ship type."""
    n = len(ship_types)
    frame = pl.DataFrame(
        {
            "mmsi": list(ship_types),
            "valid_from": [T0] * n,
            "valid_to": [T0] * n,
            "ship_type": list(ship_types.values()),
            "n_reports": [1] * n,
        }
    )
    return conform(frame, IDENTITIES)
