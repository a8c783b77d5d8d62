"""Identity changes: a vessel that starts calling itself something else.

Changing name, call sign, flag or declared type is a classic part of sanctions evasion (a
tanker re-registered under a flag of convenience, renamed, sometimes transmitting another
ship's identity). The identity history (:func:`seasight.tracks.identity.identity_history`)
already splits each MMSI's static reports into periods of constant identity, ignoring fields
missing from a single report and short-lived noise; this detector reports the differences
between consecutive periods.

``within an MMSI``
    One event per pair of consecutive identity periods of an MMSI that differ in at least one
    of ``fields`` (name, call sign, IMO, ship type, flag), where *both* the old and the new
    value are known: a field appearing for the first time (a class B vessel's first part B
    after its part A) is not a change. Periods that differ only in dimensions give no event.
    ``start`` = ``end`` = the first report with the new identity; ``other_mmsi`` is null.
    The flag comes from the MMSI's MID, so it cannot change within one MMSI.

``re-flagged under a new MMSI`` (``link_by_imo``)
    A ship that changes flag must change MMSI (the MID names the flag), but keeps its IMO
    number. For each valid IMO number (check digit correct) seen under several MMSIs, the
    MMSIs are ordered by the time span of their reports with that IMO; when an MMSI's span
    begins after the previous MMSI's span has ended for good (two MMSIs with one IMO at the
    same time are a different story, for risk scoring), the new MMSI gets an event with
    ``other_mmsi`` = the old MMSI, and the evidence holds ``mmsi`` (old/new) and every field
    of ``fields`` that differs between the old MMSI's last period and the new one's first
    (usually ``flag`` and often ``shipname``).

Evidence: for each changed field ``{"old": ..., "new": ...}``, plus ``previous_period`` and
``new_period`` (valid_from, valid_to, n_reports). ``lat``/``lon``: the vessel's position
nearest in time to the change (within ``position_window_h``), else null. Score: 0.5 plus 0.2
per changed field, capped at 1; an IMO or flag change scores at least 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from seasight.events.model import (
    US_PER_H,
    DetectionInputs,
    empty_events,
    events_frame,
    iso,
)
from seasight.tracks.identity import valid_imo

KIND = "identity_change"
VERSION = 1

#: Identity fields an event can report.
REPORTABLE_FIELDS = ("shipname", "callsign", "imo", "ship_type", "flag")


@dataclass(frozen=True)
class Params:
    """Settings of the identity change detector."""

    #: Fields whose change is an event (a subset of :data:`REPORTABLE_FIELDS`).
    fields: tuple[str, ...] = REPORTABLE_FIELDS
    #: Also report a valid IMO number moving to a new MMSI (re-flagging).
    link_by_imo: bool = True
    #: The event's position is the vessel's fix nearest in time within this many hours.
    position_window_h: float = 6.0


def detect(inputs: DetectionInputs, params: Params = Params()) -> pl.DataFrame:
    """Identity change events (EVENTS schema): see the module documentation."""
    ids = inputs.identities
    if ids.height == 0:
        return empty_events()
    fields = [f for f in params.fields if f in REPORTABLE_FIELDS and f in ids.columns]
    periods = ids.select(
        pl.col("mmsi").cast(pl.UInt32),
        pl.col("valid_from").dt.epoch("us").alias("t0"),
        pl.col("valid_to").dt.epoch("us").alias("t1"),
        pl.col("n_reports").cast(pl.Int64),
        *fields,
    ).filter(pl.col("mmsi").is_not_null() & pl.col("t0").is_not_null())
    periods = periods.sort(["mmsi", "t0", "t1", *fields], nulls_last=True)
    rows = _mmsi_changes(periods, fields)
    if params.link_by_imo and "imo" in periods.columns:
        rows += _imo_changes(periods, fields)
    if not rows:
        return empty_events()
    lat, lon = _positions(inputs.points, rows, params)
    return events_frame(
        {
            "kind": KIND,
            "mmsi": [r["mmsi"] for r in rows],
            "other_mmsi": [r["other_mmsi"] for r in rows],
            "start": [r["t"] for r in rows],
            "end": [r["t"] for r in rows],
            "lat": lat,
            "lon": lon,
            "zone": None,
            "score": [_score(r["changed"]) for r in rows],
            "is_open": False,
            "evidence": [r["evidence"] for r in rows],
        },
        detector=f"{KIND}/{VERSION}",
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _diff(old: dict[str, Any], new: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        a, b = old.get(f), new.get(f)
        if a is not None and b is not None and a != b:
            out[f] = {"old": _json_value(a), "new": _json_value(b)}
    return out


def _period(p: dict[str, Any]) -> dict[str, Any]:
    return {"valid_from": iso(int(p["t0"])), "valid_to": iso(int(p["t1"])),
            "n_reports": int(p["n_reports"])}


def _mmsi_changes(periods: pl.DataFrame, fields: list[str]) -> list[dict[str, Any]]:
    multi = periods.filter(pl.len().over("mmsi") > 1)
    rows: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for p in multi.iter_rows(named=True):
        if prev is not None and prev["mmsi"] == p["mmsi"]:
            changed = _diff(prev, p, fields)
            if changed:
                evidence = dict(changed)
                evidence["previous_period"] = _period(prev)
                evidence["new_period"] = _period(p)
                rows.append({"mmsi": int(p["mmsi"]), "other_mmsi": None, "t": int(p["t0"]),
                             "changed": list(changed), "evidence": evidence})
        prev = p
    return rows


def _imo_changes(periods: pl.DataFrame, fields: list[str]) -> list[dict[str, Any]]:
    with_imo = periods.filter(pl.col("imo").is_not_null())
    if with_imo.height == 0:
        return []
    ok = valid_imo(with_imo["imo"].to_numpy())
    with_imo = with_imo.filter(pl.Series(ok))
    # only IMOs seen under more than one MMSI
    with_imo = with_imo.filter(pl.col("mmsi").n_unique().over("imo") > 1)
    if with_imo.height == 0:
        return []
    # each MMSI's time span under the IMO, with its first and last period
    spans = (
        with_imo.sort(["imo", "mmsi", "t0", "t1"])
        .group_by(["imo", "mmsi"], maintain_order=True)
        .agg(
            pl.col("t0").min().alias("first"),
            pl.col("t1").max().alias("last"),
            pl.struct(pl.all().exclude("imo", "mmsi")).first().alias("first_period"),
            pl.struct(pl.all().exclude("imo", "mmsi")).last().alias("last_period"),
        )
        .sort(["imo", "first", "last", "mmsi"])
    )
    rows: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for span in spans.iter_rows(named=True):
        # the old MMSI must have gone quiet under this IMO before the new one appeared: two
        # MMSIs with one IMO at the same time is not a re-registration
        if prev is not None and prev["imo"] == span["imo"] and prev["last"] < span["first"]:
            old = dict(prev["last_period"], mmsi=prev["mmsi"], imo=prev["imo"])
            new = dict(span["first_period"], mmsi=span["mmsi"], imo=span["imo"])
            changed = _diff(old, new, [f for f in fields if f != "imo"])
            evidence: dict[str, Any] = {"mmsi": {"old": int(old["mmsi"]),
                                                 "new": int(new["mmsi"])}}
            evidence.update(changed)
            evidence["imo"] = int(new["imo"])
            evidence["previous_period"] = _period(old)
            evidence["new_period"] = _period(new)
            rows.append({"mmsi": int(new["mmsi"]), "other_mmsi": int(old["mmsi"]),
                         "t": int(new["t0"]), "changed": ["mmsi", *changed],
                         "evidence": evidence})
        if prev is None or prev["imo"] != span["imo"] or span["last"] > prev["last"]:
            prev = span
    return rows


def _score(changed: list[str]) -> float:
    score = min(1.0, 0.5 + 0.2 * len(changed))
    if "imo" in changed or "flag" in changed or "mmsi" in changed:
        score = max(score, 0.9)
    return score


def _positions(
    points: pl.DataFrame, rows: list[dict[str, Any]], params: Params
) -> tuple[list[float | None], list[float | None]]:
    n = len(rows)
    if points.height == 0 or not {"mmsi", "ts", "lat", "lon"} <= set(points.columns):
        return [None] * n, [None] * n
    tol = round(params.position_window_h * US_PER_H)
    changes = pl.DataFrame(
        {
            "_i": np.arange(n, dtype=np.int64),
            "mmsi": pl.Series([r["mmsi"] for r in rows], dtype=pl.UInt32),
            "t": pl.Series([r["t"] for r in rows], dtype=pl.Int64),
        }
    ).sort(["t", "mmsi"])
    mmsis = changes["mmsi"].unique().implode()
    fixes = (
        points.filter(pl.col("mmsi").is_in(mmsis) & pl.col("ts").is_not_null()
                      & pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
        .select(pl.col("mmsi").cast(pl.UInt32), pl.col("ts").dt.epoch("us").alias("t"),
                pl.col("lat").cast(pl.Float64), pl.col("lon").cast(pl.Float64))
        .sort(["t", "mmsi", "lat", "lon"])
        .unique(subset=["mmsi", "t"], keep="first", maintain_order=True)
    )
    if fixes.height == 0:
        return [None] * n, [None] * n
    joined = changes.join_asof(
        fixes, on="t", by="mmsi", strategy="nearest", tolerance=tol, check_sortedness=False
    ).sort("_i")
    return joined["lat"].to_list(), joined["lon"].to_list()
