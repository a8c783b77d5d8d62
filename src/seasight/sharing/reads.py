"""Reading stored rows with the columns the sharing policy needs (I/O at the edge).

:func:`positions_for_policy` and :func:`events_for_policy` return stored positions / events
with ``origin`` / ``origins`` and ``ship_type`` (``other_ship_type``) added, ready for
:func:`seasight.sharing.permitted`. Used by ``seasight export`` and the relay; the query layer
can use them (or add the same columns its own way).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from seasight.model.schema import EVENTS, POSITIONS, conform
from seasight.sharing.agreements import agreements_version, list_agreements
from seasight.sharing.columns import partner_view
from seasight.sharing.origins import LOCAL, Owners, attach_origin, event_origins, owners
from seasight.sharing.policy import compile_grants, permitted
from seasight.store import Store, events_where

if TYPE_CHECKING:
    from seasight.access.caller import Caller


def ship_types(store: Store, mmsis: pl.Series) -> pl.DataFrame:
    """(mmsi, ship_type): each vessel's latest reported ship type (vessels without one are
    left out)."""
    frame = pl.DataFrame({"mmsi": mmsis.cast(pl.UInt32).drop_nulls().unique()})
    store.con.register("_policy_mmsi", frame.to_arrow())
    try:
        return store.query(
            "SELECT mmsi, arg_max(ship_type, ts) AS ship_type FROM static "
            "WHERE ship_type IS NOT NULL AND mmsi IN (SELECT mmsi FROM _policy_mmsi) "
            "GROUP BY mmsi").with_columns(pl.col("mmsi").cast(pl.UInt32),
                                          pl.col("ship_type").cast(pl.UInt8))
    finally:
        store.con.unregister("_policy_mmsi")


def _position_where(since: datetime | None, until: datetime | None,
                    mmsi: Sequence[int] | None) -> tuple[str, list[Any]]:
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts <= ?")
        params.append(until)
    if mmsi:
        where.append(f"mmsi IN ({', '.join('?' for _ in mmsi)})")
        params += [int(m) for m in mmsi]
    return " AND ".join(where), params


def positions_for_policy(store: Store, owners: Owners, *, since: datetime | None = None,
                         until: datetime | None = None, mmsi: Sequence[int] | None = None
                         ) -> pl.DataFrame:
    """Stored positions (POSITIONS columns, by mmsi and time) in [since, until] of ``mmsi``
    (every filter optional), plus ``origin`` and ``ship_type``."""
    where, params = _position_where(since, until, mmsi)
    rows = conform(store.query(f"SELECT * FROM positions WHERE {where} ORDER BY mmsi, ts",
                               params), POSITIONS)
    rows = attach_origin(rows, owners)
    return rows.join(ship_types(store, rows["mmsi"]), on="mmsi", how="left",
                     maintain_order="left")


def events_for_policy(store: Store, owners: Owners, *, kinds: Sequence[str] = (),
                      since: datetime | None = None, until: datetime | None = None,
                      mmsi: int | None = None) -> pl.DataFrame:
    """Stored events (EVENTS columns, by start) matching the filters, plus ``origins`` (from
    the positions of their vessels during the event), ``ship_type`` and
    ``other_ship_type``."""
    where, params = events_where(kinds, since, until, mmsi)
    events = conform(store.query(f"SELECT * FROM events WHERE {where} ORDER BY start, "
                                 "event_id", params), EVENTS)
    return with_event_columns(store, owners, events)


def with_event_columns(store: Store, owners: Owners, events: pl.DataFrame) -> pl.DataFrame:
    """``events`` (EVENTS rows, or any frame with their vessel and time columns) plus
    ``origins``, ``ship_type`` and ``other_ship_type``."""
    if events.height == 0:
        return events.with_columns(pl.lit(None, pl.List(pl.String)).alias("origins"),
                                   pl.lit(None, pl.UInt8).alias("ship_type"),
                                   pl.lit(None, pl.UInt8).alias("other_ship_type"),
                                   pl.lit(None, pl.String).alias("zone_origin"))
    vessels = pl.concat([events["mmsi"].cast(pl.UInt32),
                         events["other_mmsi"].cast(pl.UInt32)]).drop_nulls().unique()
    lo: datetime | None = events["start"].min()  # type: ignore[assignment]
    hi: datetime | None = events.select(pl.coalesce("end", "start").max()).item()
    # the positions of the events' vessels over their span and a day either side (an event
    # with no position inside its span takes the origin of the nearest one)
    margin = timedelta(days=1)
    pos_where, pos_params = _position_where(None if lo is None else lo - margin,
                                            None if hi is None else hi + margin,
                                            vessels.to_list())
    positions = store.query(f"SELECT mmsi, ts, source FROM positions WHERE {pos_where}",
                            pos_params)
    positions = attach_origin(positions, owners)
    out = event_origins(events, positions)
    types = ship_types(store, vessels)
    out = (out.join(types, on="mmsi", how="left", maintain_order="left")
           .join(types.rename({"mmsi": "other_mmsi", "ship_type": "other_ship_type"}),
                 on="other_mmsi", how="left", maintain_order="left"))
    return with_zone_origin(store, out)


#: Event kinds whose ``zone`` names a user zone (port visits name public ports).
USER_ZONE_KINDS: Final = ("zone_entry", "zone_exit")


def zone_owners(store: Store) -> dict[str, str]:
    """Stored zone name -> the organisation that drew it (``local`` when not recorded)."""
    if not store.has_table("zones"):
        return {}
    rows = store.con.execute("SELECT name, feature FROM zones").fetchall()
    out: dict[str, str] = {}
    for name, feature in rows:
        try:
            props = json.loads(feature).get("properties") or {}
        except (ValueError, AttributeError):
            props = {}
        org = props.get("organisation")
        out[str(name)] = org if isinstance(org, str) and org else LOCAL
    return out


def with_zone_origin(store: Store, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (events or alerts with ``kind`` and ``zone``) plus ``zone_origin``: the
    organisation owning the user zone an event names (``local`` for a zone no longer
    stored), null for events without a user zone. The policy hides the zone name from
    other organisations."""
    if "zone" not in frame.columns or "kind" not in frame.columns:
        return frame.with_columns(pl.lit(None, pl.String).alias("zone_origin"))
    owner = zone_owners(store)
    user_zone = pl.col("kind").is_in(list(USER_ZONE_KINDS)) & pl.col("zone").is_not_null()
    return frame.with_columns(
        pl.when(user_zone).then(pl.col("zone").cast(pl.String).replace_strict(
            owner, default=LOCAL, return_dtype=pl.String)).otherwise(None)
        .alias("zone_origin"))


def export_rows(store: Store, kind: str, org: str, *, since: datetime | None = None,
                until: datetime | None = None, kinds: list[str] | None = None,
                mmsi: int | None = None, now: datetime | None = None) -> pl.DataFrame:
    """The rows ``org`` may export: events, or positions (for ``positions`` and ``tracks``)
    of the store, filtered, with the sharing policy applied; for another organisation than
    ``local`` only the columns of :data:`~seasight.sharing.columns.PARTNER_COLUMNS`."""
    now = now or datetime.now(UTC)
    grants = compile_grants(list_agreements(store), agreements_version(store))
    who = owners(store)
    if kind == "events":
        frame = events_for_policy(store, who, kinds=kinds or [], since=since, until=until,
                                  mmsi=mmsi)
        shown = permitted(org, "events", frame, grants, now)
    else:
        frame = positions_for_policy(store, who, since=since, until=until,
                                     mmsi=[mmsi] if mmsi is not None else None)
        shown = permitted(org, "track" if kind == "tracks" else "positions", frame, grants,
                          now)
    # a partner receives the explicit columns of each data class, nothing internal
    return shown if org == LOCAL else partner_view(kind, shown)


def record_export(store: Store, by: Caller | None, kind: str, fmt: str, org: str, *,
                  rows: int, nbytes: int, since: datetime | None = None,
                  until: datetime | None = None, kinds: list[str] | None = None,
                  mmsi: int | None = None, target: str | None = None) -> None:
    """Record in the audit log that ``by`` (None: the local operator) exported ``rows`` rows of
    ``kind`` as ``fmt`` seen as organisation ``org``, with the filters: the one place every
    export (command line and HTTP) is recorded, before its data is handed out."""
    from seasight.access import audit  # not at import: access imports sharing
    from seasight.access.caller import Caller
    who = by if by is not None else Caller.local()
    audit.record(store, who, f"export {kind}", "export", rows, 0, {
        "kind": kind, "format": fmt, "as_organisation": org, "bytes": nbytes,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None, "event_kinds": kinds or [],
        "mmsi": mmsi, "target": target}, key_id=who.key_id)


__all__ = [
    "events_for_policy",
    "export_rows",
    "positions_for_policy",
    "record_export",
    "ship_types",
    "with_event_columns",
]
