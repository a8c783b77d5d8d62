"""Decoded messages as plain dicts with pyais's field names and units.

This is the shape of ``seasight decode --json``: one object per message, keyed as pyais keys its
``asdict()`` (``msg_type``, ``mmsi``, ``lat``, ``lon``, ``speed``, ``course``, ``heading``,
``status``, ``imo``, ``callsign``, ``shipname``, ``ship_type``, ``to_bow``, ...), plus ``ts``
(ISO 8601 UTC), ``ts_source``, ``source``, ``line_no``, ``station`` and ``channel`` where known.
Conventions that differ from pyais: a not-available value is ``null`` (pyais gives the sentinel,
e.g. ``heading`` 511), an empty text is ``null`` (pyais: ``""``), an aid-to-navigation's ``name``
includes its name extension, and fields SeaSight does not decode (radio status, spare and
regional bits) are absent. Messages of undecoded types carry their armored ``payload``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from seasight.model.batch import Batch

_PROVENANCE = ("ts", "ts_source", "source", "line_no", "station", "channel")

#: SeaSight column -> pyais field name, where they differ.
PYAIS_NAMES = {
    "nav_status": "status",
    "sog": "speed",
    "cog": "course",
    "altitude_m": "alt",
    "eta_month": "month",
    "eta_day": "day",
    "eta_hour": "hour",
    "eta_minute": "minute",
    "part_num": "partno",
    "vendor_id": "vendorid",
}

_HEAD = ("msg_type", "repeat", "mmsi")
_POS_A = (*_HEAD, "nav_status", "turn", "sog", "accuracy", "lon", "lat", "cog", "heading",
          "second", "maneuver", "raim")
_POS_SAR = (*_HEAD, "altitude_m", "sog", "accuracy", "lon", "lat", "cog", "second", "raim")
_POS_B = (*_HEAD, "sog", "accuracy", "lon", "lat", "cog", "heading", "second", "raim")
_POS_LR = (*_HEAD, "accuracy", "raim", "nav_status", "lon", "lat", "sog", "cog")
_STATIC_5 = (*_HEAD, "ais_version", "imo", "callsign", "shipname", "ship_type", "to_bow",
             "to_stern", "to_port", "to_starboard", "epfd", "eta_month", "eta_day", "eta_hour",
             "eta_minute", "draught", "destination", "dte")
_STATIC_19 = ("shipname", "ship_type", "to_bow", "to_stern", "to_port", "to_starboard", "epfd",
              "dte")
_STATIC_24A = (*_HEAD, "part_num", "shipname")
_STATIC_24B = (*_HEAD, "part_num", "ship_type", "vendor_id", "model", "serial", "callsign",
               "to_bow", "to_stern", "to_port", "to_starboard", "mothership_mmsi")
_BASE = (*_HEAD, "year", "month", "day", "hour", "minute", "second", "accuracy", "lon", "lat",
         "epfd", "raim")
_AID = (*_HEAD, "aid_type", "name", "accuracy", "lon", "lat", "to_bow", "to_stern", "to_port",
        "to_starboard", "epfd", "second", "off_position", "raim", "virtual_aid", "assigned")
_OTHER = (*_HEAD, "payload", "fill_bits")


def _turn() -> pl.Expr:
    """pyais's ``turn``: 0 stays 0, +-127 stays the indicator, otherwise degrees per minute."""
    raw = pl.col("rot_raw")
    return (
        pl.when(raw.abs() == 127).then(raw.cast(pl.Float64)).otherwise(pl.col("rot"))
        .alias("turn")
    )


def _select(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    exprs: list[pl.Expr] = []
    for name in columns:
        if name == "turn":
            exprs.append(_turn())
        elif name in ("sog", "cog", "draught"):
            exprs.append(pl.col(name).cast(pl.Float64).round(1).alias(PYAIS_NAMES.get(name, name)))
        else:
            exprs.append(pl.col(name).alias(PYAIS_NAMES.get(name, name)))
    for name in _PROVENANCE:
        if name == "ts":  # ISO 8601 UTC as Python's isoformat: microseconds only when not zero
            exprs.append(
                pl.when(pl.col("ts").dt.microsecond() == 0)
                .then(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .otherwise(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
                .alias("ts")
            )
        else:
            exprs.append(pl.col(name).cast(pl.String) if name == "ts_source" else pl.col(name))
    return frame.select(exprs)


def _parts(batch: Batch) -> Iterator[pl.DataFrame]:
    pos = batch.positions
    yield _select(pos.filter(pl.col("msg_type").is_in([1, 2, 3])), _POS_A)
    yield _select(pos.filter(pl.col("msg_type") == 9), _POS_SAR)
    yield _select(pos.filter(pl.col("msg_type") == 18), _POS_B)
    yield _select(pos.filter(pl.col("msg_type") == 27), _POS_LR)
    st = batch.static
    pos19 = _select(pos.filter(pl.col("msg_type") == 19), _POS_B)
    st19 = st.filter(pl.col("msg_type") == 19).select("source", "line_no", *_STATIC_19)
    yield pos19.join(st19, on=["source", "line_no"], how="left").select(
        *[c for c in pos19.columns if c not in _PROVENANCE], *_STATIC_19, *_PROVENANCE)
    yield _select(st.filter(pl.col("msg_type") == 5), _STATIC_5)
    yield _select(st.filter((pl.col("msg_type") == 24) & (pl.col("part_num") == 0)), _STATIC_24A)
    yield _select(st.filter((pl.col("msg_type") == 24) & (pl.col("part_num") == 1)), _STATIC_24B)
    yield _select(batch.base_stations, _BASE)
    yield _select(batch.aids_to_navigation, _AID)
    yield _select(batch.other_messages, _OTHER)


def to_records(batch: Batch) -> list[dict[str, Any]]:
    """Every decoded message of ``batch`` as a pyais-named dict, in input order.

    Example:
        >>> from seasight.ais import decode_nmea
        >>> rec = to_records(decode_nmea(b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\n"))
        >>> rec[0]["mmsi"], rec[0]["speed"], rec[0]["heading"], round(rec[0]["lat"], 6)
        (367533950, 0.0, None, 37.808418)
    """
    records: list[dict[str, Any]] = []
    for part in _parts(batch):
        records.extend(part.to_dicts())
    records.sort(key=lambda r: (r["source"] or "", r["line_no"]))
    return records
