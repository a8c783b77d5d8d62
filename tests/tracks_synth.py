"""Synthetic vessel tracks for the tracks / spoofing / identity tests (built in the tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from seasight.geo.distance import KM_PER_NM, destination
from seasight.model.schema import POSITIONS, STATIC, conform

T0 = datetime(2024, 3, 1, tzinfo=UTC)
T0_US = int(T0.timestamp() * 1_000_000)
US_PER_S = 1_000_000


def track(
    mmsi: int,
    *,
    lat: float,
    lon: float,
    sog: float = 12.0,
    cog: float = 90.0,
    n: int = 100,
    dt_s: float = 60.0,
    t0_s: float = 0.0,
    msg_type: int = 1,
) -> pl.DataFrame:
    """A vessel sailing a great circle at constant speed (POSITIONS columns)."""
    t_s = t0_s + np.arange(n) * dt_s
    dist_km = sog * KM_PER_NM * (t_s - t0_s) / 3600.0
    la, lo = destination(np.full(n, lat), np.full(n, lon), np.full(n, cog), dist_km)
    return positions(
        mmsi=np.full(n, mmsi), t_s=t_s, lat=la, lon=lo, sog=np.full(n, sog),
        cog=np.full(n, cog), msg_type=msg_type,
    )


def positions(
    *,
    mmsi: np.ndarray | list[int],
    t_s: np.ndarray | list[float],
    lat: np.ndarray | list[float],
    lon: np.ndarray | list[float],
    sog: np.ndarray | list[float] | None = None,
    cog: np.ndarray | list[float] | None = None,
    msg_type: int = 1,
) -> pl.DataFrame:
    """A POSITIONS frame from arrays (times in seconds after :data:`T0`)."""
    n = len(mmsi)
    ts = (T0_US + np.round(np.asarray(t_s, dtype=np.float64) * US_PER_S)).astype(np.int64)
    frame = pl.DataFrame(
        {
            "mmsi": pl.Series(np.asarray(mmsi), dtype=pl.UInt32),
            "ts": pl.Series(ts, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "msg_type": pl.Series([msg_type] * n, dtype=pl.UInt8),
            "lat": pl.Series(np.asarray(lat, dtype=np.float64)),
            "lon": pl.Series(np.asarray(lon, dtype=np.float64)),
            "sog": pl.Series(
                np.full(n, np.nan) if sog is None else np.asarray(sog), dtype=pl.Float32
            ).fill_nan(None),
            "cog": pl.Series(
                np.full(n, np.nan) if cog is None else np.asarray(cog), dtype=pl.Float32
            ).fill_nan(None),
        }
    )
    return conform(frame, POSITIONS)


def concat(*frames: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(frames, how="vertical")


def static(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A STATIC frame from row dicts; ``t_s`` (seconds after T0) gives ``ts``."""
    out = []
    for row in rows:
        r = dict(row)
        t_s = float(r.pop("t_s"))  # type: ignore[arg-type]
        r["ts"] = T0_US + round(t_s * US_PER_S)
        out.append(r)
    schema = {k: v for k, v in STATIC.items()}
    schema["ts"] = pl.Int64()
    keys = {k for r in out for k in r}
    frame = pl.DataFrame(out, schema={k: schema[k] for k in schema if k in keys})
    frame = frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    return conform(frame, STATIC)
