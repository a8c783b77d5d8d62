"""Alerts in the store: firing, revising as events grow, and the lifecycle with its history."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import duckdb
import polars as pl

from seasight.model.schema import UTC_US, conform, empty
from seasight.risk.alerts.evaluation import (
    _iso,
    evaluate_rules,
)
from seasight.risk.alerts.rules import SEVERITIES, Rule
from seasight.risk.watchlists import ensure_screening, watchlist_matches
from seasight.sharing.origins import LOCAL
from seasight.store import Store

#: Alert states.
STATES: Final = ("new", "acknowledged", "closed")

#: State -> states it may move to.
TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    "new": ("acknowledged", "closed"),
    "acknowledged": ("closed",),
    "closed": (),
}

#: Who fired an alert, in ``alert_history``.
FIRED_BY: Final = "seasight"

#: The ``alerts`` table: one row per alert, its current state.
ALERTS: Final[dict[str, pl.DataType]] = {
    "alert_id": pl.String(),
    "rule": pl.String(),
    "severity": pl.String(),
    "event_id": pl.String(),
    "mmsi": pl.UInt32(),
    "other_mmsi": pl.UInt32(),
    "kind": pl.String(),
    "start": UTC_US,
    "end": UTC_US,
    "created_at": UTC_US,  # when it fired
    "state": pl.String(),  # one of STATES
    "updated_by": pl.String(),  # who made the last change (FIRED_BY when new)
    "updated_at": UTC_US,
    "note": pl.String(),  # note of the last change
    "message": pl.String(),  # the current text: the event as it is now
    "evidence": pl.String(),
    # added later (an older table gets them at the end): the event now and when it fired
    "is_open": pl.Boolean(),  # the event was still going on when last seen
    "duration_h": pl.Float64(),  # the event's duration now (end - start), hours
    "end_at_fire": UTC_US,  # the event's end when the alert fired
    "duration_h_at_fire": pl.Float64(),  # how long the event had lasted when it fired
    "revised_at": UTC_US,  # when the event was last seen grown (null: never)
    "revision": pl.Int64(),  # 0 when fired, +1 each time the grown event revised it
}

#: The ``alert_history`` table: every state change and revision of every alert, append only
#: (a revision keeps the state: ``from_state`` = ``to_state``, its note the old text).
ALERT_HISTORY: Final[dict[str, pl.DataType]] = {
    "alert_id": pl.String(),
    "seq": pl.Int64(),  # 0 when it fired, then 1, 2, ... per change of this alert
    "ts": UTC_US,
    "from_state": pl.String(),  # null when the alert fired
    "to_state": pl.String(),
    "by": pl.String(),
    "note": pl.String(),
}


class UnknownAlertError(ValueError):
    """No stored alert has this id (or the prefix is ambiguous)."""


def ensure_tables(store: Store) -> None:
    """Create ``alerts`` and ``alert_history`` if they do not exist (idempotent). An
    ``alerts`` table of a version without durations gets the columns, filled from its rows
    (what they hold now is all there is to tell of when they fired)."""
    store.create_table("alerts", ALERTS, key=("alert_id",))
    store.create_table("alert_history", ALERT_HISTORY)
    if store.read_only:
        return
    store.con.execute(
        """UPDATE alerts SET revision = 0, end_at_fire = "end",
                  duration_h = (epoch_us("end") - epoch_us(start)) / 3.6e9,
                  duration_h_at_fire = (epoch_us("end") - epoch_us(start)) / 3.6e9
           WHERE revision IS NULL""")


def _optional_table(store: Store, name: str) -> pl.DataFrame | None:
    """A table written by another stage, or None when it does not exist (yet)."""
    if not store.has_table(name):
        return None
    try:
        return store.query(f"SELECT * FROM {name}")
    except duckdb.CatalogException:
        return None


def _local_matches(store: Store) -> pl.DataFrame | None:
    """The matches of the local organisation's lists (the installation's rules do not act
    on another organisation's lists), or None before any screening."""
    if not store.has_table("watchlist_matches"):
        return None
    return watchlist_matches(store, organisations=[LOCAL])


@dataclass(frozen=True)
class AlertUpdate:
    """What one run of the rules did: alerts fired (ALERTS rows, ``new``) and alerts revised
    because their event grew (ALERTS rows as they are now)."""

    new: pl.DataFrame
    revised: pl.DataFrame


def fire_alerts(store: Store, rules: Iterable[Rule], now: datetime | None = None
                ) -> pl.DataFrame:
    """Evaluate ``rules`` over the stored events, identities, watchlist matches and risk
    scores and store the alerts not stored before, as ``new``; revise the stored alerts whose
    event grew (:func:`update_alerts`). Returns the new alerts (ALERTS); firing again over the
    same evidence returns an empty frame."""
    return update_alerts(store, rules, now).new


def update_alerts(store: Store, rules: Iterable[Rule], now: datetime | None = None
                  ) -> AlertUpdate:
    """Evaluate ``rules`` (see :func:`fire_alerts`): store the alerts not stored before, and
    revise those whose event grew since (a later end, or ended; see the module
    documentation). Everything commits together."""
    ensure_tables(store)
    ensure_screening(store)  # never alert on stale identities or matches
    candidates = evaluate_rules(
        rules,
        store.table("events"),
        store.table("identities"),
        _local_matches(store),
        _optional_table(store, "risk"),
        now=now,
    )
    if candidates.height == 0:
        return AlertUpdate(empty(ALERTS), empty(ALERTS))
    stamp = datetime.now(UTC)
    store.con.register("_alert_candidates", candidates.select("alert_id").to_arrow())
    try:
        known = store.query(
            'SELECT alert_id, start, "end", is_open, duration_h, message FROM alerts '
            "WHERE alert_id IN (SELECT alert_id FROM _alert_candidates)")
    finally:
        store.con.unregister("_alert_candidates")
    fresh = candidates.filter(~pl.col("alert_id").is_in(known["alert_id"].implode()))
    new = conform(fresh.with_columns(
        pl.lit(stamp).cast(UTC_US).alias("created_at"),
        pl.lit("new").alias("state"),
        pl.lit(FIRED_BY).alias("updated_by"),
        pl.lit(stamp).cast(UTC_US).alias("updated_at"),
        pl.lit(None, pl.String).alias("note"),
        pl.col("end").alias("end_at_fire"),
        pl.col("duration_h").alias("duration_h_at_fire"),
        pl.lit(0, pl.Int64).alias("revision"),
    ), ALERTS)
    grown = _grown(candidates, known)
    if new.height == 0 and grown.height == 0:
        return AlertUpdate(empty(ALERTS), empty(ALERTS))
    history = conform(new.select(
        "alert_id", pl.lit(0, pl.Int64).alias("seq"), pl.col("created_at").alias("ts"),
        pl.lit(None, pl.String).alias("from_state"), pl.lit("new").alias("to_state"),
        pl.lit(FIRED_BY).alias("by"),
        (pl.lit("fired by rule ") + pl.col("rule")).alias("note"),
    ), ALERT_HISTORY)
    revised = grown.select("alert_id", "start", "end", "is_open", "duration_h", "message",
                           "evidence", "note", pl.lit(stamp).cast(UTC_US).alias("ts"))
    store.con.register("_new_alerts", new.to_arrow())
    store.con.register("_new_history", history.to_arrow())
    store.con.register("_revised", revised.to_arrow())
    try:
        with store.transaction():
            store.con.execute("INSERT INTO alerts BY NAME SELECT * FROM _new_alerts "
                              "ON CONFLICT (alert_id) DO NOTHING")
            store.con.execute("INSERT INTO alert_history BY NAME SELECT * FROM _new_history")
            # the revision's history row first: its state is the alert's as it is
            store.con.execute(
                """INSERT INTO alert_history BY NAME
                   SELECT r.alert_id, coalesce((SELECT max(h.seq) FROM alert_history h
                                                WHERE h.alert_id = r.alert_id), -1) + 1 AS seq,
                          r.ts, a.state AS from_state, a.state AS to_state,
                          ? AS by, r.note
                   FROM _revised r JOIN alerts a USING (alert_id)""", [FIRED_BY])
            store.con.execute(
                """UPDATE alerts SET start = r.start, "end" = r."end", is_open = r.is_open,
                          duration_h = r.duration_h, message = r.message,
                          evidence = r.evidence, revised_at = r.ts,
                          revision = coalesce(alerts.revision, 0) + 1
                   FROM _revised r WHERE alerts.alert_id = r.alert_id""")
    finally:
        for name in ("_new_alerts", "_new_history", "_revised"):
            store.con.unregister(name)
    if grown.height:
        store.con.register("_revised_ids", grown.select("alert_id").to_arrow())
        try:
            changed = conform(store.query(
                "SELECT * FROM alerts WHERE alert_id IN (SELECT alert_id FROM _revised_ids) "
                "ORDER BY alert_id"), ALERTS)
        finally:
            store.con.unregister("_revised_ids")
    else:
        changed = empty(ALERTS)
    return AlertUpdate(new, changed)


def _grown(candidates: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """The candidates of stored event alerts whose event changed since they were stored (its
    span, or it ended), with the ``note`` of the revision (old and new duration, old text)."""
    if known.height == 0:
        return candidates.clear().with_columns(pl.lit(None, pl.String).alias("note"))
    old = known.select("alert_id", pl.col("start").cast(UTC_US).alias("_start"),
                       pl.col("end").cast(UTC_US).alias("_end"),
                       pl.col("is_open").cast(pl.Boolean).alias("_open"),
                       pl.col("duration_h").cast(pl.Float64).alias("_hours"),
                       pl.col("message").cast(pl.String).alias("_message"))
    both = candidates.filter(pl.col("event_id").is_not_null()).join(old, on="alert_id")
    changed = (pl.col("start").ne_missing(pl.col("_start"))
               | pl.col("end").ne_missing(pl.col("_end"))
               # an alert stored before durations were does not know if its event was open
               | (pl.col("_open").is_not_null() & pl.col("is_open").ne_missing(pl.col("_open"))))
    grown = both.filter(changed)
    notes = [_revision_note(r) for r in grown.iter_rows(named=True)]
    return grown.with_columns(pl.Series("note", notes, pl.String)).drop(
        "_start", "_end", "_open", "_hours", "_message")


def _revision_note(r: Mapping[str, Any]) -> str:
    def hours(x: float | None) -> str:
        return "?" if x is None else f"{x:.1f} h"

    was, now = hours(r["_hours"]), hours(r["duration_h"])
    if r["_open"] and r["is_open"] is False:
        what = f"event ended: lasted {now} (was {was} so far)"
    elif r["is_open"]:
        what = f"event grew: {was} -> {now} so far"
    else:
        what = f"event revised: {was} -> {now}"
    return f"{what}; end {_iso(r['end'])} (was {_iso(r['_end'])}); was: {r['_message']}"


_SEVERITY_ORDER = "CASE severity " + " ".join(
    f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES)) + " ELSE -1 END"


def list_alerts(store: Store, states: Sequence[str] | None = None) -> pl.DataFrame:
    """Stored alerts (ALERTS), optionally only in ``states``: most severe first, then the
    newest evidence first. Tolerates a database without alert tables (read-only)."""
    bad = [s for s in states or () if s not in STATES]
    if bad:
        raise ValueError(f"unknown alert state {bad[0]!r}; choose from {', '.join(STATES)}")
    if _optional_table(store, "alerts") is None:
        return empty(ALERTS)
    where, params = "", []
    if states:
        where = f"WHERE state IN ({', '.join('?' for _ in states)})"
        params = list(states)
    found = store.query(
        f"SELECT * FROM alerts {where} ORDER BY {_SEVERITY_ORDER} DESC, "
        f"start DESC NULLS LAST, created_at DESC, alert_id", params)
    return conform(found, ALERTS)


def alert_history(store: Store, alert_id: str | None = None) -> pl.DataFrame:
    """The state changes of one alert (or of all, by alert), oldest first (ALERT_HISTORY)."""
    if _optional_table(store, "alert_history") is None:
        return empty(ALERT_HISTORY)
    where, params = ("WHERE alert_id = ?", [alert_id]) if alert_id else ("", [])
    return conform(store.query(
        f"SELECT * FROM alert_history {where} ORDER BY alert_id, seq", params), ALERT_HISTORY)


def resolve_alert_id(store: Store, prefix: str) -> str:
    """The full id of the stored alert whose id is ``prefix`` or starts with it."""
    prefix = prefix.strip().lower()
    if not prefix:
        raise UnknownAlertError("empty alert id")
    if _optional_table(store, "alerts") is None:
        raise UnknownAlertError(f"no alert {prefix!r}: no alerts have fired in this database")
    ids = store.query("SELECT alert_id FROM alerts WHERE starts_with(alert_id, ?) "
                      "ORDER BY alert_id LIMIT 6", [prefix])["alert_id"].to_list()
    if prefix in ids:
        return prefix
    if not ids:
        raise UnknownAlertError(f"no alert {prefix!r}")
    if len(ids) > 1:
        raise UnknownAlertError(f"alert id {prefix!r} is ambiguous: "
                                f"{', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}")
    return str(ids[0])


def set_alert_state(store: Store, alert_id: str, state: str, who: str, note: str,
                    at: datetime | None = None) -> dict[str, Any]:
    """Move an alert to ``state`` (``acknowledged`` or ``closed``), recording who, when and
    why; returns the updated alert as a dict. ``alert_id`` may be a unique prefix; ``at``
    (default: now) may not be before the alert's last change.

    Raises ``ValueError`` for an unknown state, an empty ``who`` or ``note``, an unknown alert
    (:class:`UnknownAlertError`) or a transition the lifecycle does not allow.
    """
    if state not in STATES:
        raise ValueError(f"unknown alert state {state!r}; choose from {', '.join(STATES)}")
    if not who or not who.strip():
        raise ValueError("who changed the alert must be given")
    if not note or not note.strip():
        raise ValueError("a note is required to change an alert's state")
    ensure_tables(store)
    full = resolve_alert_id(store, alert_id)
    stamp = (at or datetime.now(UTC)).astimezone(UTC)
    with store.transaction():
        rows = store.con.execute("SELECT state, updated_at FROM alerts WHERE alert_id = ?",
                                 [full]).fetchall()
        current, last = str(rows[0][0]), rows[0][1]
        if at is not None and last is not None and stamp < last:
            raise ValueError(f"alert {full} last changed at {_iso(last)}; a change cannot be "
                             f"dated before that ({_iso(stamp)})")
        if state not in TRANSITIONS.get(current, ()):
            allowed = TRANSITIONS.get(current, ())
            raise ValueError(
                f"alert {full} is {current}; it cannot become {state} (from {current}: "
                f"{', '.join(allowed) if allowed else 'no further change'})")
        store.con.execute(
            "UPDATE alerts SET state = ?, updated_by = ?, updated_at = ?, note = ? "
            "WHERE alert_id = ?", [state, who.strip(), stamp, note.strip(), full])
        store.con.execute(
            "INSERT INTO alert_history SELECT ?, coalesce(max(seq) + 1, 0), ?, ?, ?, ?, ? "
            "FROM alert_history WHERE alert_id = ?",
            [full, stamp, current, state, who.strip(), note.strip(), full])
    got = store.query("SELECT * FROM alerts WHERE alert_id = ?", [full])
    return conform(got, ALERTS).row(0, named=True)


def acknowledge(store: Store, alert_id: str, who: str, note: str) -> dict[str, Any]:
    """``set_alert_state(store, alert_id, "acknowledged", who, note)``."""
    return set_alert_state(store, alert_id, "acknowledged", who, note)


def close(store: Store, alert_id: str, who: str, note: str) -> dict[str, Any]:
    """``set_alert_state(store, alert_id, "closed", who, note)``."""
    return set_alert_state(store, alert_id, "closed", who, note)


def alert_records(alerts: pl.DataFrame) -> list[dict[str, Any]]:
    """Alerts as JSON-ready dicts (times ISO 8601, evidence parsed)."""
    out = []
    for row in conform(alerts, ALERTS).iter_rows(named=True):
        rec = dict(row)
        for k in ("start", "end", "created_at", "updated_at", "end_at_fire", "revised_at"):
            rec[k] = _iso(rec[k])
        rec["evidence"] = json.loads(rec["evidence"]) if rec["evidence"] else None
        out.append(rec)
    return out
