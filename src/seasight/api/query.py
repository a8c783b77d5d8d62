"""The query layer: every read the service answers goes through the functions here.

Each function takes the :class:`Caller` asking and a :class:`~seasight.store.Store` (a
per-request cursor, see :mod:`seasight.api.app`), reads Polars frames and passes every frame
that leaves the system through ONE policy function, :func:`visible`: the installation's own
organisation (``local``) sees everything; any other organisation sees its own data and what
sharing agreements grant it, as decided by :func:`seasight.sharing.permitted` (areas, time
windows, delays, excluded vessels, rounding; derived data such as events follows the most
restrictive of the organisations whose positions it was built from). For such callers the
functions here first add the columns the policy judges by (``origin``/``origins``, ship types)
and drop them again afterwards.

Bad parameters raise :class:`QueryError` (status, code, message naming the parameter); the
app turns them into the stable JSON error shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

import polars as pl

from seasight.access.caller import Caller
from seasight.events.formats import event_records, events_geojson
from seasight.events.model import parse_utc
from seasight.model.schema import EVENTS, IDENTITIES, conform, empty
from seasight.risk.alerts import STATES, alert_records, list_alerts, partner_message
from seasight.risk.dossier import vessel_dossier
from seasight.risk.score import risk_scores
from seasight.risk.watchlists import OWNED_MATCHES, OWNER, owner_sql, watchlist_matches
from seasight.sharing import LOCAL, attach_origin, permitted
from seasight.sharing.federation import SOURCE_PREFIX
from seasight.sharing.origins import Owners
from seasight.sharing.reads import ship_types, with_event_columns
from seasight.sources.vessel_ids import is_vessel_key
from seasight.store import Store, events_where
from seasight.store.latest import latest_is_fresh

#: What a frame holds, for :func:`visible`.
Kind = Literal["vessels", "positions", "track", "identities", "dossier", "events", "alerts",
               "zones", "watchlists", "layers"]

#: Most rows one request may ask for.
MAX_LIMIT: Final = 50_000


class QueryError(ValueError):
    """A request the query layer cannot answer: HTTP ``status``, a stable ``code`` and a
    message naming the parameter at fault."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def bad_parameter(name: str, message: str) -> QueryError:
    """A 400 naming parameter ``name``."""
    return QueryError(400, "invalid_parameter", f"{name}: {message}", {"parameter": name})


def visible(caller: Caller, kind: Kind, frame: pl.DataFrame) -> pl.DataFrame:
    """The part of ``frame`` (rows of ``kind``) that ``caller`` may see.

    THE policy decision of the service: every frame leaving the system passes here. The local
    organisation sees everything; another organisation's frame must carry the policy's columns
    (see :data:`seasight.sharing.REQUIRED_COLUMNS`) and is filtered, rounded and blanked by
    :func:`seasight.sharing.permitted`. A caller without a policy sees nothing (fail closed).
    """
    if caller.sees_everything or kind == "layers":
        return frame
    if caller.policy is None:
        return frame.clear()
    return permitted(caller.organisation, kind, frame, caller.policy.grants, datetime.now(UTC))


def _policy_drop(frame: pl.DataFrame, keep: Sequence[str]) -> pl.DataFrame:
    """``frame`` without the columns added for the policy (those not in ``keep``)."""
    return frame.select([c for c in frame.columns if c in keep])


# --------------------------------------------------------------------------- parameters


def parse_time(name: str, value: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC), or None."""
    if value is None or value == "":
        return None
    try:
        return parse_utc(value)
    except ValueError:
        raise bad_parameter(name, f"not an ISO 8601 time: {value!r} "
                                  "(e.g. 2024-03-01T12:00:00Z)") from None


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``w,s,e,n`` in degrees; ``w > e`` crosses the antimeridian."""
    if value is None or value == "":
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise bad_parameter("bbox", f"expected 4 comma-separated numbers w,s,e,n, got {value!r}")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise bad_parameter("bbox", f"not numbers: {value!r}") from None
    if not all(math.isfinite(x) for x in (w, s, e, n)):
        raise bad_parameter("bbox", "values must be finite")
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise bad_parameter("bbox", "longitudes must be in [-180, 180]")
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        raise bad_parameter("bbox", "latitudes must be in [-90, 90]")
    if s > n:
        raise bad_parameter("bbox", f"south ({s}) is north of north ({n})")
    return w, s, e, n


def _bbox_sql(bbox: tuple[float, float, float, float] | None, lat: str = "lat",
              lon: str = "lon") -> tuple[str, list[Any]]:
    if bbox is None:
        return "TRUE", []
    w, s, e, n = bbox
    if w <= e:
        return f"({lat} BETWEEN ? AND ? AND {lon} BETWEEN ? AND ?)", [s, n, w, e]
    return f"({lat} BETWEEN ? AND ? AND ({lon} >= ? OR {lon} <= ?))", [s, n, w, e]


def _check_limit(limit: int, name: str = "limit") -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_parameter(name, f"must be between 1 and {MAX_LIMIT}, got {limit}")


def _check_page(limit: int, offset: int) -> None:
    _check_limit(limit)
    if offset < 0:
        raise bad_parameter("offset", f"must not be negative, got {offset}")


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(x: Any, nd: int = 1) -> float | None:
    if x is None:
        return None
    f = float(x)
    return round(f, nd) if math.isfinite(f) else None


# --------------------------------------------------------------------------- vessels


def _latest_sql(where: str) -> str:
    return f"""
        SELECT mmsi, max(ts) AS ts, arg_max(lat, ts) AS lat, arg_max(lon, ts) AS lon,
               arg_max(sog, ts) AS sog, arg_max(cog, ts) AS cog,
               arg_max(heading, ts) AS heading, max(rowid) AS last_row
        FROM positions
        WHERE ts IS NOT NULL AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180
          AND {where}
        GROUP BY mmsi"""


def latest_positions(
    store: Store,
    caller: Caller,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    at: datetime | None = None,
    ship_type: Sequence[int] = (),
    flag: Sequence[str] = (),
    min_risk: float | None = None,
    lists: Sequence[str] = (),
    limit: int = 20_000,
    after_row: int | None = None,
) -> pl.DataFrame:
    """One row per vessel: its last position (at or before ``at``) with identity, risk and
    watchlist membership; only vessels whose last position is in ``bbox`` and that pass the
    filters. ``after_row``: only vessels with positions stored after that row (live stream).

    For another organisation than ``local`` the last position is the last one it may see: per
    vessel and data owner the last report old enough for the owner's agreement delay, judged
    by the policy (area, window, exclusions, rounding), then the newest of those."""
    _check_limit(limit)
    partner = not caller.sees_everything
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if at is not None:
        where.append("ts <= ?")
        params.append(at)
    if after_row is not None:
        where.append("mmsi IN (SELECT mmsi FROM positions WHERE rowid > ?)")
        params.append(after_row)
    box, box_params = _bbox_sql(bbox, "lat", "lon")
    if partner:
        box, box_params = "TRUE", []  # the viewport applies to the position the caller may see
    # the vessels in the viewport first; identities, risk and lists only for them
    ids = ("(SELECT mmsi, arg_max(shipname, valid_from) AS name, "
           "arg_max(ship_type, valid_from) AS ship_type, arg_max(flag, valid_from) AS flag, "
           "arg_max(imo, valid_from) AS imo "
           "FROM identities WHERE mmsi IN (SELECT mmsi FROM p) GROUP BY mmsi)")
    risk = ("(SELECT mmsi, max(score) AS risk FROM risk WHERE mmsi IN (SELECT mmsi FROM p) "
            "GROUP BY mmsi)") if store.has_table("risk") else (
        "(SELECT NULL::UINTEGER AS mmsi, NULL::DOUBLE AS risk WHERE FALSE)")
    has_matches = store.has_table("watchlist_matches")
    # designations: the local organisation's own lists; a partner's own and granted ones
    owned, owned_params = (owner_sql(store, "watchlist_matches", [LOCAL])
                           if has_matches and not partner else ("TRUE", []))
    listed = (f"(SELECT mmsi, bool_or(status = 'confirmed') AS listed, "
              f"list(DISTINCT list_name) AS lists FROM "
              f"{'_designations' if partner else 'watchlist_matches'} "
              f"WHERE mmsi IN (SELECT mmsi FROM p) AND {owned} GROUP BY mmsi)"
              ) if has_matches else (
        "(SELECT NULL::UINTEGER AS mmsi, NULL::BOOLEAN AS listed, NULL::VARCHAR[] AS lists "
        "WHERE FALSE)")
    filters = ["TRUE"]
    fparams: list[Any] = []
    if partner:
        # a partner's filters run on what it may see, after the policy (below); it is not
        # given the operator's risk scores, and its designations are its own lists' and those
        # granted to it (``_designations``)
        risk = "(SELECT NULL::UINTEGER AS mmsi, NULL::DOUBLE AS risk WHERE FALSE)"
    elif ship_type:
        filters.append(f"i.ship_type IN ({', '.join('?' for _ in ship_type)})")
        fparams += list(ship_type)
    if flag and not partner:
        filters.append(f"upper(i.flag) IN ({', '.join('?' for _ in flag)})")
        fparams += [f.upper() for f in flag]
    if min_risk is not None and not partner:
        filters.append("coalesce(r.risk, 0) >= ?")
        fparams.append(min_risk)
    if lists and not partner:
        filters.append(f"list_has_any(m.lists, [{', '.join('?' for _ in lists)}])")
        fparams += list(lists)
    if partner:
        latest, params = _partner_sources(store, caller, at, where, params)
    elif at is None and latest_is_fresh(store):
        # kept current by refresh_latest: no scan of positions
        latest = "vessel_latest" if after_row is None else (
            f"(SELECT * FROM vessel_latest WHERE last_row > {int(after_row)})")
        params = []
    else:
        latest = f"({_latest_sql(' AND '.join(where))})"
    sql = f"""
        WITH p AS (SELECT * FROM {latest} WHERE {box})
        SELECT p.mmsi, i.name, i.imo, i.ship_type, i.flag, p.sog, p.cog, p.heading, p.ts, p.lat,
               p.lon, r.risk, coalesce(m.listed, FALSE) AS listed, p.last_row{
                   ", p.origin" if partner else ""}
        FROM p
        LEFT JOIN {ids} i USING (mmsi)
        LEFT JOIN {risk} r USING (mmsi)
        LEFT JOIN {listed} m USING (mmsi)
        WHERE {' AND '.join(filters)}
        ORDER BY p.mmsi{"" if partner else " LIMIT ?"}"""
    args = params + list(box_params) + owned_params + fparams + ([] if partner else [limit])
    designated = designations(store, caller) if partner and has_matches else None
    if designated is not None:
        store.con.register("_designations", designated.to_arrow())
    try:
        frame = store.query(sql, args)
    finally:
        if partner:
            store.con.unregister("_sources")
            if has_matches:
                store.con.unregister("_designations")
    if not partner:
        return visible(caller, "vessels", frame)
    frame = _reported_ship_type(store, frame)
    # the ship type the policy judged by, kept for the risk grant (the policy blanks
    # ``ship_type`` where identities are not granted)
    frame = frame.with_columns(pl.col("ship_type").alias("_policy_type"))
    shown = visible(caller, "vessels", frame).sort("mmsi", "ts").unique(
        "mmsi", keep="last", maintain_order=True)
    if bbox is not None:
        w, so, e, n = bbox
        lon_ok = pl.col("lon").is_between(w, e) if w <= e else (
            (pl.col("lon") >= w) | (pl.col("lon") <= e))
        shown = shown.filter(pl.col("lat").is_between(so, n) & lon_ok)
    # filters on what the partner sees: identity columns the policy blanked match nothing
    if ship_type:
        shown = shown.filter(pl.col("ship_type").cast(pl.Int64).is_in(list(ship_type)))
    if flag:
        shown = shown.filter(pl.col("flag").str.to_uppercase().is_in(
            [f.upper() for f in flag]))
    if lists:  # the partner's designations only: its own lists and those granted to it
        on_lists = (designated.filter(pl.col("list_name").is_in(list(lists)))["mmsi"]
                    if designated is not None else pl.Series("mmsi", [], pl.UInt32))
        shown = shown.filter(pl.col("mmsi").cast(pl.UInt32).is_in(
            on_lists.cast(pl.UInt32).implode()))
    shown = _with_partner_risk(store, caller, shown)
    if min_risk is not None:
        shown = shown.filter(pl.col("risk").fill_null(0) >= min_risk)
    return shown.drop("origin", "_policy_type").head(limit)


def _with_partner_risk(store: Store, caller: Caller, shown: pl.DataFrame) -> pl.DataFrame:
    """``shown`` (a partner's vessels, judged) with ``risk`` where an agreement grants the
    vessel's dossier (its risk is part of it), computed by :func:`risk_scores` from the
    events the partner may see and its own zones (no identities, no watchlist matches of
    the operator); null elsewhere."""
    out = shown.with_columns(pl.lit(None, pl.Float64).alias("risk"))
    policy = caller.policy
    if out.height == 0 or policy is None:
        return out
    grants_dossiers = any("dossiers" in ca.agreement.classes
                          for ca in policy.grants.for_grantee(caller.organisation))
    if not grants_dossiers and not (out["origin"] == caller.organisation).any():
        return out
    granted = visible(caller, "dossier", out.select(
        "mmsi", "ts", "lat", "lon", pl.col("_policy_type").alias("ship_type"), "origin",
    ))["mmsi"].unique()
    if granted.len() == 0:
        return out
    store.con.register("_risk_mmsi", pl.DataFrame({"mmsi": granted.cast(pl.UInt32)})
                       .to_arrow())
    try:
        events = conform(store.query(
            "SELECT * FROM events WHERE mmsi IN (SELECT mmsi FROM _risk_mmsi) "
            "OR other_mmsi IN (SELECT mmsi FROM _risk_mmsi)"), EVENTS)
    finally:
        store.con.unregister("_risk_mmsi")
    events = _policy_drop(visible(caller, "events", _event_columns(store, caller, events)),
                          list(EVENTS))
    scores = _partner_scores(store, caller, events).select(
        pl.col("mmsi").cast(out.schema["mmsi"]), pl.col("score").alias("_risk"))
    scores = scores.filter(pl.col("mmsi").is_in(granted.cast(out.schema["mmsi"]).implode()))
    return (out.join(scores, on="mmsi", how="left", maintain_order="left")
            .with_columns(pl.col("_risk").alias("risk")).drop("_risk"))


def designations(store: Store, caller: Caller, mmsi: int | None = None) -> pl.DataFrame:
    """The watchlist matches (of vessel ``mmsi``, or all) that designate vessels for
    ``caller`` (:data:`~seasight.risk.watchlists.OWNED_MATCHES` rows): for the local
    organisation its own lists' (as its risk scores and alert rules use); for another its own
    lists' and, as the sharing policy decides (data class ``watchlists``, read-only), those of
    the organisations that grant it theirs."""
    if caller.sees_everything:
        return watchlist_matches(store, mmsi, organisations=[LOCAL])
    matches = watchlist_matches(store, mmsi)
    judged = visible(caller, "watchlists", matches.with_columns(pl.col(OWNER).alias("origin")))
    return _policy_drop(judged, list(OWNED_MATCHES))


def screened_identities(store: Store, caller: Caller, matches: pl.DataFrame) -> pl.DataFrame:
    """Of ``matches`` (MATCHES rows: the caller's own list screened against every stored
    identity), those of identity periods ``caller`` may see, judged as the dossier judges
    identities (the owners of the vessel's positions, its latest reported ship type): a list
    uploaded by a partner does not tell it who else is in the store."""
    if caller.sees_everything or matches.height == 0:
        return matches
    mmsis = matches["mmsi"].cast(pl.UInt32).unique()
    store.con.register("_screened_mmsi", pl.DataFrame({"mmsi": mmsis}).to_arrow())
    try:
        sources = store.query("SELECT DISTINCT mmsi, source FROM positions "
                              "WHERE mmsi IN (SELECT mmsi FROM _screened_mmsi)")
    finally:
        store.con.unregister("_screened_mmsi")
    origins = attach_origin(sources, _owners(caller)).group_by("mmsi").agg(
        pl.col("origin").unique().sort().alias("origins")).with_columns(
        pl.col("mmsi").cast(pl.UInt32))
    judged = (matches.with_row_index("_i").with_columns(pl.col("mmsi").cast(pl.UInt32))
              .join(origins, on="mmsi", how="left", maintain_order="left")
              .join(ship_types(store, mmsis), on="mmsi", how="left", maintain_order="left")
              .with_columns(pl.col("valid_from").alias("ts")))
    shown = visible(caller, "identities", judged)["_i"]
    return matches.with_row_index("_i").filter(pl.col("_i").is_in(shown.implode())).drop("_i")


def _reported_ship_type(store: Store, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with ``mmsi`` and ``ship_type`` from the identities table) with the ship type
    the policy judges by on every path: the latest reported one (:func:`ship_types`, from the
    static reports, which the identities table lags behind until detection runs again), else
    the identity's."""
    if frame.height == 0:
        return frame
    reported = ship_types(store, frame["mmsi"]).rename({"ship_type": "_reported"})
    return (frame.join(reported, on="mmsi", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_reported", "ship_type")
                          .cast(frame.schema["ship_type"]).alias("ship_type"))
            .drop("_reported"))


def _partner_sources(store: Store, caller: Caller, at: datetime | None, where: list[str],
                     params: list[Any]) -> tuple[str, list[Any]]:
    """The per (vessel, owner) last positions a partner may be shown, as a SQL table, with a
    registered ``_sources`` table (source, origin, cutoff: the newest time of that owner's
    data the caller may see); the caller unregisters it."""
    policy = caller.policy
    now = datetime.now(UTC)
    cutoffs: dict[str, datetime] = {caller.organisation: at or now}
    if policy is not None:
        for ca in policy.grants.for_grantee(caller.organisation):
            a = ca.agreement
            if "positions" not in a.classes or not a.active(now):
                continue
            # the newest data the agreement grants: old enough for its delay, not after the
            # end of its window (an agreement that ended still grants what it covered)
            newest = now - a.delay if at is None else min(at, now - a.delay)
            if a.valid_to is not None:
                newest = min(newest, a.valid_to)
            if a.valid_from is not None and a.valid_from > newest:
                continue
            if a.grantor not in cutoffs or newest > cutoffs[a.grantor]:
                cutoffs[a.grantor] = newest
    sources = store.query("SELECT DISTINCT source FROM positions")
    sources = attach_origin(sources, policy.owners if policy is not None else [])
    sources = sources.filter(pl.col("origin").is_in(list(cutoffs))).with_columns(
        pl.col("origin").replace_strict(cutoffs, return_dtype=pl.Datetime("us", "UTC"))
        .alias("cutoff"))
    store.con.register("_sources", sources.to_arrow())
    table = f"""(
        SELECT p.mmsi, s.origin, max(p.ts) AS ts, arg_max(p.lat, p.ts) AS lat,
               arg_max(p.lon, p.ts) AS lon, arg_max(p.sog, p.ts) AS sog,
               arg_max(p.cog, p.ts) AS cog, arg_max(p.heading, p.ts) AS heading,
               max(p.rowid) AS last_row
        FROM positions p JOIN _sources s ON p.source IS NOT DISTINCT FROM s.source
        WHERE p.ts IS NOT NULL AND p.ts <= s.cutoff AND p.lat BETWEEN -90 AND 90
          AND p.lon BETWEEN -180 AND 180 AND {' AND '.join(where)}
        GROUP BY p.mmsi, s.origin)"""
    return table, list(params)


def _features_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`latest_positions` rows as GeoJSON Point features (one struct row each)."""
    heading = pl.when(pl.col("heading") < 360).then(pl.col("heading"))
    return frame.select(
        pl.lit("Feature").alias("type"),
        pl.col("mmsi").cast(pl.Int64).alias("id"),
        pl.struct(pl.lit("Point").alias("type"),
                  pl.concat_list(pl.col("lon"), pl.col("lat")).alias("coordinates"),
                  ).alias("geometry"),
        pl.struct(
            pl.col("mmsi").cast(pl.Int64), "name", pl.col("imo").cast(pl.Int64),
            pl.col("ship_type").cast(pl.Int64), "flag",
            pl.col("sog").cast(pl.Float64).round(1), pl.col("cog").cast(pl.Float64).round(1),
            heading.cast(pl.Int64).alias("heading"),
            pl.col("ts").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            pl.col("risk").cast(pl.Float64).round(1), pl.col("listed").fill_null(False),
        ).alias("properties"),
    )


def vessel_features_json(frame: pl.DataFrame) -> str:
    """GeoJSON Point features of :func:`latest_positions` rows as one JSON array (built in
    Polars, without a Python object per vessel: the map asks for tens of thousands)."""
    if frame.height == 0:
        return "[]"
    return _features_frame(frame).write_json()


def vessel_features(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """GeoJSON Point features of :func:`latest_positions` rows."""
    return list(json.loads(vessel_features_json(frame)))


def vessels_geojson_text(store: Store, caller: Caller, **filters: Any) -> str:
    """:func:`vessels_geojson` as JSON text."""
    frame = latest_positions(store, caller, **filters)
    return f'{{"type":"FeatureCollection","features":{vessel_features_json(frame)}}}'


def vessels_geojson(store: Store, caller: Caller, **filters: Any) -> dict[str, Any]:
    """Latest positions as a GeoJSON FeatureCollection (see :func:`latest_positions`)."""
    frame = latest_positions(store, caller, **filters)
    return {"type": "FeatureCollection", "features": vessel_features(frame)}


def dossier(store: Store, caller: Caller, mmsi: int) -> dict[str, Any]:
    """The vessel's dossier (``Dossier.to_json``); 404 when nothing is known about it."""
    if not is_vessel_key(mmsi):
        raise bad_parameter("mmsi", f"an MMSI has at most 9 digits (or is synthetic), got {mmsi}")
    known = store.con.execute(
        "SELECT (SELECT count(*) FROM positions WHERE mmsi = ?) + "
        "(SELECT count(*) FROM identities WHERE mmsi = ?)", [mmsi, mmsi]).fetchall()[0][0]
    if not known:
        raise _no_vessel(mmsi)
    try:
        d = vessel_dossier(store, f"{mmsi:09d}")
    except LookupError:
        raise _no_vessel(mmsi) from None
    if caller.sees_everything:
        return d.to_json()
    # a partner: the vessel itself must be granted: every organisation whose positions of it
    # are stored grants ``dossiers`` for some of them (inside the agreement's area, window
    # and delay; a vessel known only from static reports is local's, without a place), then
    # each part is judged as its own kind
    positions = attach_origin(store.query(
        "SELECT mmsi, ts, lat, lon, source FROM positions WHERE mmsi = ? AND ts IS NOT NULL",
        [mmsi]), _owners(caller))
    origin_list = positions["origin"].unique().sort().to_list() or [LOCAL]
    # the ship type the policy judges by: the latest reported one (as on every other path),
    # else the identity's
    reported = ship_types(store, pl.Series([mmsi], dtype=pl.UInt32))["ship_type"].to_list()
    ship_type = reported or (d.identities["ship_type"].drop_nulls().tail(1).to_list() if (
        d.identities.height) else [])
    judged = positions.drop("source").with_columns(
        pl.col("mmsi").cast(pl.UInt32),
        pl.lit(ship_type[0] if ship_type else None, pl.UInt8).alias("ship_type"))
    if judged.height == 0:
        judged = pl.DataFrame({"mmsi": [mmsi], "ship_type": [ship_type[0] if ship_type
                                                             else None], "origin": [LOCAL]},
                              schema={"mmsi": pl.UInt32, "ship_type": pl.UInt8,
                                      "origin": pl.String})
    granted_by = set(visible(caller, "dossier", judged)["origin"].to_list())
    if not set(origin_list) <= granted_by:
        raise _no_vessel(mmsi)
    identities = d.identities.with_columns(
        pl.col("valid_from").alias("ts"),
        pl.Series("origins", [origin_list] * d.identities.height, pl.List(pl.String)))
    identities = _policy_drop(visible(caller, "identities", identities), d.identities.columns)
    events = _policy_drop(visible(caller, "events", _event_columns(store, caller, d.events)),
                          d.events.columns)
    track = d.track
    if track.height:
        rows = store.query("SELECT ts, source FROM positions WHERE mmsi = ?", [mmsi]).unique(
            "ts", keep="last")
        track = _position_columns(store, caller, track.with_columns(
            pl.lit(mmsi, pl.UInt32).alias("mmsi")).join(rows, on="ts", how="left"))
        track = _policy_drop(visible(caller, "track", track), d.track.columns)
    # other vessels' identities (encounters) and MMSIs sharing the IMO are not judged here:
    # a partner is not shown them
    # the vessel's designations for the caller, of the identity periods it may see
    matches = designations(store, caller, mmsi).filter(
        pl.col("valid_from").is_in(identities["valid_from"].implode()))
    scores = _partner_scores(store, caller, events).filter(pl.col("mmsi") == mmsi)
    risk = None
    if scores.height:
        row = scores.row(0, named=True)
        risk = {"score": row["score"], "rank": None, "factors": json.loads(row["factors"])}
    return replace(d, identities=identities, events=events, track=track, risk=risk,
                   matches=matches, others={},
                   resolution=replace(d.resolution, related_mmsi=())).to_json()


def _no_vessel(mmsi: int) -> QueryError:
    """The one answer for a vessel that is not there and for one the caller may not see."""
    return QueryError(404, "not_found", f"mmsi: no vessel {mmsi} you may see",
                      {"parameter": "mmsi"})


def _partner_scores(store: Store, caller: Caller, events: pl.DataFrame) -> pl.DataFrame:
    """RISK rows computed from ``events`` (EVENTS rows the partner may see) and the
    partner's own zones; no identities, no watchlist matches (the operator's)."""
    own_zones = [z for z in store.zones() if (z.properties or {}).get("organisation")
                 == caller.organisation]
    return risk_scores(empty(IDENTITIES), conform(events, EVENTS), None, zones=own_zones)


def _owners(caller: Caller) -> Owners:
    return caller.policy.owners if caller.policy is not None else []


def _position_columns(store: Store, caller: Caller, frame: pl.DataFrame) -> pl.DataFrame:
    """Positions (with ``mmsi`` and ``source``) plus ``origin`` and ``ship_type``."""
    out = attach_origin(frame, _owners(caller))
    return out.join(ship_types(store, out["mmsi"]), on="mmsi", how="left",
                    maintain_order="left")


def _event_columns(store: Store, caller: Caller, events: pl.DataFrame) -> pl.DataFrame:
    """Events plus ``origins``, ``ship_type`` and ``other_ship_type`` (partners only)."""
    if caller.sees_everything:
        return events
    return with_event_columns(store, _owners(caller), events)


def track(store: Store, caller: Caller, mmsi: int, *, since: datetime | None = None,
          until: datetime | None = None) -> dict[str, Any]:
    """The vessel's positions (ordered by time) as a GeoJSON LineString feature; the point
    times, speeds and courses are in ``properties`` (one per coordinate)."""
    if since is not None and until is not None and since > until:
        raise bad_parameter("until", "is before 'since'")
    where: list[str] = ["mmsi = ?"]
    params: list[Any] = [mmsi]
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts <= ?")
        params.append(until)
    cols = "ts, lat, lon, sog, cog" + ("" if caller.sees_everything else ", mmsi, source")
    frame = store.query(
        f"""SELECT {cols} FROM positions WHERE {' AND '.join(where)}
            AND ts IS NOT NULL AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180
            ORDER BY ts""", params)
    if frame.height == 0:
        any_rows = store.con.execute("SELECT count(*) FROM positions WHERE mmsi = ?",
                                     [mmsi]).fetchall()[0][0]
        if not any_rows:
            raise QueryError(404, "not_found", f"mmsi: no positions of vessel {mmsi}",
                             {"parameter": "mmsi"})
    if caller.sees_everything:
        frame = visible(caller, "track", frame)
    else:
        frame = _policy_drop(visible(caller, "track", _position_columns(store, caller, frame)),
                             ("ts", "lat", "lon", "sog", "cog"))
        if frame.height == 0:  # not visible and not there look the same
            raise QueryError(404, "not_found", f"mmsi: no positions of vessel {mmsi}",
                             {"parameter": "mmsi"})
    coords = [[r[2], r[1]] for r in frame.iter_rows()]
    return {
        "type": "Feature",
        "id": mmsi,
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {
            "mmsi": mmsi,
            "n_points": frame.height,
            "times": [_iso(t) for t in frame["ts"]],
            "sog": [_num(x) for x in frame["sog"]],
            "cog": [_num(x) for x in frame["cog"]],
            "start": _iso(frame["ts"].min()) if frame.height else None,  # type: ignore[arg-type]
            "end": _iso(frame["ts"].max()) if frame.height else None,  # type: ignore[arg-type]
        },
    }


# --------------------------------------------------------------------------- events


def _events_where(kinds: Sequence[str], since: datetime | None, until: datetime | None,
                  bbox: tuple[float, float, float, float] | None,
                  mmsi: int | None) -> tuple[str, list[Any]]:
    if since is not None and until is not None and since > until:
        raise bad_parameter("until", "is before 'since'")
    where, params = events_where(kinds, since, until, mmsi)
    box, box_params = _bbox_sql(bbox)
    return f"{where} AND {box}", params + list(box_params)


def events_page(
    store: Store, caller: Caller, *, kinds: Sequence[str] = (), since: datetime | None = None,
    until: datetime | None = None, bbox: tuple[float, float, float, float] | None = None,
    mmsi: int | None = None, limit: int = 100, offset: int = 0,
) -> tuple[int, pl.DataFrame]:
    """(total matching, one page of EVENTS rows), newest start first."""
    _check_page(limit, offset)
    where, params = _events_where(kinds, since, until, bbox, mmsi)
    frame = store.query(
        f"SELECT * FROM events WHERE {where} ORDER BY start DESC, event_id", params)
    frame = conform(frame, EVENTS)
    frame = _policy_drop(visible(caller, "events", _event_columns(store, caller, frame)),
                         list(EVENTS))
    return frame.height, frame.slice(offset, limit)


#: Columns of a partner event record: its partner, then the event's.
PARTNER_COLUMNS: Final = ("partner", *EVENTS)


def partner_events_json(
    store: Store, caller: Caller, *, partner: str | None = None, kinds: Sequence[str] = (),
    since: datetime | None = None, until: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None, mmsi: int | None = None,
    limit: int = 100, offset: int = 0,
) -> dict[str, Any]:
    """``{total, offset, limit, items}``: events pulled from partner SeaSights
    (``seasight federate``), newest first, each with its ``partner``; filtered like
    :func:`events_page`. They are the partner's data: another organisation sees one only as
    an agreement granted by the partner's organisation here allows (and by the owners of our
    positions it was seen in, the most restrictive of them)."""
    _check_page(limit, offset)
    if not store.has_table("partner_events"):
        return {"total": 0, "offset": offset, "limit": limit, "items": []}
    where, params = _events_where(kinds, since, until, bbox, mmsi)
    if partner is not None:
        where += " AND partner = ?"
        params.append(partner)
    frame = store.query(f"SELECT * FROM partner_events WHERE {where} "
                        "ORDER BY start DESC, partner, event_id", params)
    if not caller.sees_everything and frame.height:
        who = _owners(caller)
        owner = attach_origin(frame.select(
            (pl.lit(SOURCE_PREFIX) + pl.col("partner")).alias("source")), who
        )["origin"].alias("_owner")
        judged = with_event_columns(store, who, frame.with_columns(owner))
        judged = judged.with_columns(
            pl.concat_list(pl.col("origins").fill_null(pl.lit([], pl.List(pl.String))),
                           pl.col("_owner")).list.unique().list.sort().alias("origins"))
        frame = _policy_drop(visible(caller, "events", judged), list(PARTNER_COLUMNS))
    page = frame.slice(offset, limit)
    items = [{"partner": p, **r} for p, r in zip(page["partner"].to_list(),
                                                  event_records(conform(page, EVENTS)),
                                                  strict=True)]
    return {"total": frame.height, "offset": offset, "limit": limit, "items": items}


def events_json(store: Store, caller: Caller, **filters: Any) -> dict[str, Any]:
    """``{total, offset, limit, items}``: a page of event records."""
    total, page = events_page(store, caller, **filters)
    return {"total": total, "offset": filters.get("offset", 0),
            "limit": filters.get("limit", 100), "items": list(event_records(page))}


def events_features(store: Store, caller: Caller, **filters: Any) -> dict[str, Any]:
    """The same page of events as a GeoJSON FeatureCollection (with ``total``)."""
    total, page = events_page(store, caller, **filters)
    return {**events_geojson(page), "total": total}


# --------------------------------------------------------------------------- alerts, zones


def _alert_columns(store: Store, partner: Caller, alerts: pl.DataFrame) -> pl.DataFrame:
    """Alerts plus their event's place and the policy's columns (an alert without an event,
    a vessel rule, has no place: an agreement with an area does not grant it)."""
    events = conform(store.query("SELECT * FROM events"), EVENTS).select(
        "event_id", "mmsi", "other_mmsi", "start", "end", "lat", "lon", "zone", "is_open")
    joined = alerts.join(events, on="event_id", how="left", suffix="_event")
    for col in ("mmsi", "other_mmsi", "start", "end", "is_open"):
        if f"{col}_event" in joined.columns:
            joined = joined.with_columns(pl.coalesce(f"{col}_event", col).alias(col)).drop(
                f"{col}_event")
    joined = joined.with_columns(pl.col("mmsi").cast(pl.UInt32),
                                 pl.col("other_mmsi").cast(pl.UInt32))
    return with_event_columns(store, _owners(partner), joined)


def _visible_alerts(store: Store, caller: Caller, alerts: pl.DataFrame) -> pl.DataFrame:
    """The alerts ``caller`` may see: a partner's judged by their event's vessels, span,
    place and origins."""
    if caller.sees_everything:
        return visible(caller, "alerts", alerts)
    return _partner_alerts(visible(caller, "alerts", _alert_columns(store, caller, alerts)),
                           alerts.columns)


def _partner_alerts(judged: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Alerts judged for a partner (with their event's place and zone as the policy left
    them) with ``message`` rebuilt from that view (:func:`partner_message`: the policy blanks
    the stored one), then only ``columns``."""
    if judged.height == 0:
        return _policy_drop(judged, columns)
    messages = []
    for r in judged.iter_rows(named=True):
        try:
            ev = json.loads(r["evidence"]) if r["evidence"] else {}
        except ValueError:
            ev = {}
        ev = ev if isinstance(ev, dict) else {}
        vessel_name = (ev.get("vessel") or {}).get("shipname")
        other_name = (ev.get("other_vessel") or {}).get("shipname")
        event = None if r["event_id"] is None else {
            k: r.get(k) for k in ("kind", "zone", "start", "end", "lat", "lon", "is_open")}
        messages.append(partner_message(r["rule"], event, int(r["mmsi"]), vessel_name,
                                        r["other_mmsi"], other_name))
    return _policy_drop(judged.with_columns(pl.Series("message", messages, pl.String)),
                        columns)


def alerts_json(store: Store, caller: Caller, states: Sequence[str] = ()) -> dict[str, Any]:
    """``{total, items}``: stored alerts, most severe first."""
    bad = [s for s in states if s not in STATES]
    if bad:
        raise bad_parameter("state", f"unknown alert state {bad[0]!r}; choose from "
                                     f"{', '.join(STATES)}")
    frame = _visible_alerts(store, caller, list_alerts(store, list(states) or None))
    items = alert_records(frame)
    return {"total": len(items), "items": items}


def own_alert_ids(store: Store, caller: Caller) -> set[str]:
    """The alerts ``caller`` may acknowledge or close: every alert for the local organisation
    (whose rules fire them); for another, the alerts it may see that derive only from its own
    data (an agreement shares an alert to read, not to handle)."""
    frame = list_alerts(store)
    if caller.sees_everything:
        return set(frame["alert_id"].to_list())
    judged = visible(caller, "alerts", _alert_columns(store, caller, frame))
    origins = pl.col("origins").fill_null(pl.lit([LOCAL], pl.List(pl.String)))
    own = judged.filter((origins.list.len() > 0)
                        & (origins.list.set_difference([caller.organisation]).list.len() == 0))
    return set(own["alert_id"].to_list())


def zones_json(store: Store, caller: Caller) -> dict[str, Any]:
    """Stored zones as a GeoJSON FeatureCollection."""
    rows = store.query("SELECT name, feature FROM zones ORDER BY name")
    if not caller.sees_everything:  # a partner sees the zones it drew
        rows = rows.filter(pl.col("feature").map_elements(
            lambda f: (json.loads(f).get("properties") or {}).get("organisation")
            == caller.organisation, return_dtype=pl.Boolean))
        # the zones left are the caller's own: their origin, for the policy
        rows = _policy_drop(visible(caller, "zones", rows.with_columns(
            pl.lit(caller.organisation, pl.String).alias("origin"))), rows.columns)
    else:
        rows = visible(caller, "zones", rows)
    return {"type": "FeatureCollection",
            "features": [json.loads(f) for f in rows["feature"]] if rows.height else []}


# --------------------------------------------------------------------------- stream


@dataclass
class Watermarks:
    """The last stored rows a stream client has been sent, per table (DuckDB ``rowid``s:
    rows appended later have larger ones)."""

    positions: int = -1
    events: int = -1
    alert_history: int = -1


def current_watermarks(store: Store) -> Watermarks:
    """Watermarks at the newest stored rows: a new client is sent only what comes next."""
    return Watermarks(store.last_rowid("positions"), store.last_rowid("events"),
                      store.last_rowid("alert_history"))


@dataclass(frozen=True)
class StreamFrames:
    """What was stored after some watermarks, read once for every stream client (each sees
    it through :func:`visible` in :func:`stream_messages`)."""

    moved: pl.DataFrame  # latest_positions rows of vessels with new positions
    events: pl.DataFrame  # EVENTS rows stored or updated
    alerts: pl.DataFrame  # alerts fired or changed
    # for partners (other organisations), when any is connected: the same with the columns
    # the policy judges by; ``moved_by_origin`` holds the last new position per data owner
    moved_by_origin: pl.DataFrame | None = None
    events_policy: pl.DataFrame | None = None
    alerts_policy: pl.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return not (self.moved.height or self.events.height or self.alerts.height)


def stream_frames(store: Store, marks: Watermarks, partner: Caller | None = None
                  ) -> StreamFrames:
    """Read what was stored after ``marks`` (which advance), unfiltered; with ``partner``
    (any connected caller of another organisation) also with the policy's columns."""
    everyone = Caller.local()
    moved = events = alerts = pl.DataFrame()
    by_origin = events_policy = alerts_policy = None
    top = store.last_rowid("positions")
    if top > marks.positions:
        moved = latest_positions(store, everyone, after_row=marks.positions, limit=MAX_LIMIT)
        if partner is not None:
            by_origin = _moved_by_origin(store, partner, marks.positions, top)
        marks.positions = top
    top = store.last_rowid("events")
    if top > marks.events:
        frame = store.query("SELECT * EXCLUDE (r) FROM (SELECT *, rowid AS r FROM events) "
                            "WHERE r > ? ORDER BY r", [marks.events])
        marks.events = top
        events = conform(frame, EVENTS)
        if partner is not None:
            events_policy = _event_columns(store, partner, events)
    top = store.last_rowid("alert_history")
    if top > marks.alert_history:
        changed = store.query(
            "SELECT DISTINCT alert_id FROM (SELECT alert_id, rowid AS r FROM alert_history) "
            "WHERE r > ?", [marks.alert_history])
        marks.alert_history = top
        if changed.height:
            alerts = list_alerts(store).filter(
                pl.col("alert_id").is_in(changed["alert_id"].implode()))
            if partner is not None:
                alerts_policy = _alert_columns(store, partner, alerts)
    return StreamFrames(moved, events, alerts, by_origin, events_policy, alerts_policy)


def _moved_by_origin(store: Store, partner: Caller, after: int, top: int) -> pl.DataFrame:
    """Per (vessel, source) the last position stored in (after, top], with identity columns,
    ``origin`` and ``ship_type``."""
    frame = store.query(
        """SELECT p.mmsi, p.source, max(p.ts) AS ts, arg_max(p.lat, p.ts) AS lat,
                  arg_max(p.lon, p.ts) AS lon, arg_max(p.sog, p.ts) AS sog,
                  arg_max(p.cog, p.ts) AS cog, arg_max(p.heading, p.ts) AS heading,
                  max(p.rowid) AS last_row
           FROM positions p WHERE p.rowid > ? AND p.rowid <= ? AND p.ts IS NOT NULL
             AND p.lat BETWEEN -90 AND 90 AND p.lon BETWEEN -180 AND 180
           GROUP BY p.mmsi, p.source""", [after, top])
    ids = store.query(
        "SELECT mmsi, arg_max(shipname, valid_from) AS name, arg_max(imo, valid_from) AS imo, "
        "arg_max(ship_type, valid_from) AS ship_type, arg_max(flag, valid_from) AS flag "
        "FROM identities GROUP BY mmsi")
    frame = _reported_ship_type(store, attach_origin(frame, _owners(partner)).join(
        ids, on="mmsi", how="left"))
    return frame.with_columns(pl.lit(None, pl.Float64).alias("risk"),
                              pl.lit(False).alias("listed"))


def stream_messages(caller: Caller, frames: StreamFrames) -> list[str]:
    """The stream messages ``caller`` may see, as JSON text: one ``positions`` message
    (latest position of every vessel that moved), one ``event`` per new event, one ``alert``
    per alert fired or changed. A partner gets positions old enough for its agreements' delays
    only when they arrive (later ones are in ``/api/vessels``)."""
    out: list[str] = []
    if caller.sees_everything:
        moved, events, alerts = frames.moved, frames.events, frames.alerts
    else:
        moved = frames.moved_by_origin if frames.moved_by_origin is not None else pl.DataFrame()
        events = frames.events_policy if frames.events_policy is not None else pl.DataFrame()
        alerts = frames.alerts_policy if frames.alerts_policy is not None else pl.DataFrame()
    if moved.height:
        shown = visible(caller, "vessels", moved)
        if not caller.sees_everything:
            shown = shown.sort("mmsi", "ts").unique("mmsi", keep="last", maintain_order=True)
        if shown.height:
            out.append(f'{{"type":"positions","features":{vessel_features_json(shown)}}}')
    if events.height:
        shown = _policy_drop(visible(caller, "events", events), list(EVENTS))
        out += [json.dumps({"type": "event", "event": rec}) for rec in event_records(shown)]
    if alerts.height:
        shown = visible(caller, "alerts", alerts) if caller.sees_everything else (
            _partner_alerts(visible(caller, "alerts", alerts), frames.alerts.columns))
        out += [json.dumps({"type": "alert", "alert": rec}) for rec in alert_records(shown)]
    return out
