"""Alert rules evaluated over events, identities, watchlist matches and risk: pure, no I/O;
the texts of alerts (the operator's and a partner's)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl

from seasight.model.schema import EVENTS, IDENTITIES, UTC_US, conform, empty
from seasight.risk.alerts.rules import VESSEL_KIND, Rule

#: Alerts fired by :func:`evaluate_rules`, before they are stored.
ALERT_CANDIDATES: Final[dict[str, pl.DataType]] = {
    "alert_id": pl.String(),  # hash of rule name and evidence key (event id)
    "rule": pl.String(),
    "severity": pl.String(),  # one of SEVERITIES
    "event_id": pl.String(),  # null for vessel rules
    "mmsi": pl.UInt32(),  # the vessel the alert is about
    "other_mmsi": pl.UInt32(),  # the other vessel of the event, else null
    "kind": pl.String(),  # event kind, or "vessel"
    "start": UTC_US,  # of the event
    "end": UTC_US,
    "message": pl.String(),  # one line for a human
    "evidence": pl.String(),  # JSON: rule, event, vessel and other vessel (identity, lists, risk)
    "is_open": pl.Boolean(),  # the event is still going on (null for vessel rules)
    "duration_h": pl.Float64(),  # end - start of the event, hours
}

_US_PER_H = 3_600_000_000


def alert_id(rule_name: str, evidence_key: str) -> str:
    """Stable id of the alert of ``rule_name`` on ``evidence_key`` (an event id)."""
    digest = hashlib.blake2b(f"{rule_name}\x1f{evidence_key}".encode(), digest_size=8)
    return digest.hexdigest()


def _matching(values: pl.Series, patterns: Sequence[str]) -> list[str]:
    """The distinct non-null ``values`` matching one of the ``fnmatch`` patterns (any case)."""
    pats = [p.casefold() for p in patterns]
    return [v for v in values.drop_nulls().unique().to_list()
            if any(fnmatch.fnmatchcase(v.casefold(), p) for p in pats)]


def _listed(matches: pl.DataFrame, patterns: Sequence[str],
            statuses: Sequence[str]) -> pl.Series:
    """MMSIs with a match of one of ``statuses`` on a list whose name matches ``patterns``."""
    if matches.height == 0:
        return pl.Series("mmsi", [], pl.UInt32)
    names = _matching(matches["list_name"], patterns)
    hit = matches.filter(pl.col("status").is_in(list(statuses))
                         & pl.col("list_name").is_in(names))
    return hit["mmsi"].unique()


def _identity_at(identities: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """For each row (mmsi, t) of ``keys``, in order: shipname, imo, callsign, ship_type, flag
    of the mmsi's identity period at t (its first period when t is before all of them, its
    last when t is null); null fields are filled from the mmsi's nearest period having them."""
    cols = ["shipname", "imo", "callsign", "ship_type", "flag"]
    keys = keys.select(pl.col("mmsi").cast(pl.UInt32), pl.col("t").cast(UTC_US))
    if keys.height == 0 or identities.height == 0:
        return keys.with_columns([pl.lit(None, IDENTITIES[c]).alias(c) for c in cols])
    ids = (
        conform(identities, IDENTITIES)
        .filter(pl.col("mmsi").is_not_null() & pl.col("valid_from").is_not_null())
        .sort("mmsi", "valid_from")
        .with_columns([pl.col(c).forward_fill().backward_fill().over("mmsi") for c in cols])
        .select("mmsi", pl.col("valid_from").alias("t"), *cols)
    )
    first = ids.group_by("mmsi").first().drop("t")
    last = ids.group_by("mmsi").last().drop("t")
    k = keys.filter(pl.col("mmsi").is_not_null() & pl.col("t").is_not_null()).unique().sort("t")
    asof = k.join_asof(ids.sort("t"), on="t", by="mmsi", strategy="backward",
                       check_sortedness=False)
    asof = asof.join(first, on="mmsi", how="left", suffix="_first").select(
        "mmsi", "t", *[pl.coalesce(pl.col(c), pl.col(f"{c}_first")).alias(c) for c in cols])
    out = keys.with_row_index("_i").join(asof, on=["mmsi", "t"], how="left")
    out = out.join(last, on="mmsi", how="left", suffix="_last").with_columns(
        [pl.when(pl.col("t").is_null()).then(pl.col(f"{c}_last")).otherwise(pl.col(c)).alias(c)
         for c in cols])
    return out.sort("_i").select("mmsi", "t", *cols)


def _lists_by_mmsi(matches: pl.DataFrame) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    if matches.height == 0:
        return out
    cols = [c for c in ("list_name", "entry_id", "entry_name", "matched_on", "status", "score")
            if c in matches.columns]
    seen: set[tuple[Any, ...]] = set()
    for row in matches.sort(cols[:2]).iter_rows(named=True):
        key = (row["mmsi"], *(row[c] for c in cols if c in ("list_name", "entry_id",
                                                              "matched_on", "status")))
        if row["mmsi"] is None or key in seen:
            continue
        seen.add(key)
        rec: dict[str, Any] = {c: row[c] for c in cols}
        out.setdefault(int(row["mmsi"]), []).append(rec)
    return out


def _label(mmsi: int | None, name: str | None) -> str:
    if mmsi is None:
        return "?"
    return f"{mmsi} ({name.strip()})" if name and name.strip() else str(mmsi)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def _event_candidates(events: pl.DataFrame) -> pl.DataFrame:
    """Each event once per side: (vessel, other) = (mmsi, other_mmsi) and, for two-vessel
    events, (other_mmsi, mmsi) with ``side`` 1."""
    ev = conform(events, EVENTS).with_columns(
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / _US_PER_H)
        .alias("duration_h")
    )
    a = ev.with_columns(pl.col("mmsi").alias("vessel"), pl.col("other_mmsi").alias("other"),
                        pl.lit(0, pl.UInt8).alias("side"))
    b = ev.filter(pl.col("other_mmsi").is_not_null()).with_columns(
        pl.col("other_mmsi").alias("vessel"), pl.col("mmsi").alias("other"),
        pl.lit(1, pl.UInt8).alias("side"))
    return pl.concat([a, b])


def _ship_type_expr(ranges: Sequence[tuple[int, int]], col: str) -> pl.Expr:
    expr = pl.lit(False)
    for lo, hi in ranges:
        expr = expr | pl.col(col).cast(pl.Int32).is_between(lo, hi)
    return expr.fill_null(False)


def _vessel_filter(rule: Rule, frame: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    if rule.lists:
        frame = frame.filter(pl.col("vessel").is_in(
            _listed(matches, rule.lists, rule.match_status).implode()))
    if rule.other_lists:
        frame = frame.filter(pl.col("other").is_in(
            _listed(matches, rule.other_lists, rule.match_status).implode()))
    if rule.ship_types:
        frame = frame.filter(_ship_type_expr(rule.ship_types, "v_ship_type"))
    if rule.flags:
        frame = frame.filter(pl.col("v_flag").str.to_uppercase().is_in(list(rule.flags)))
    if rule.min_risk is not None:
        frame = frame.filter(pl.col("v_risk") >= rule.min_risk)
    return frame


def evaluate_rules(
    rules: Iterable[Rule],
    events: pl.DataFrame,
    identities: pl.DataFrame | None = None,
    matches: pl.DataFrame | None = None,
    risk: pl.DataFrame | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Alerts the rules fire on this evidence (ALERT_CANDIDATES), whether stored or not.

    ``events``: EVENTS; ``identities``: IDENTITIES; ``matches``: watchlist matches (at least
    mmsi, list_name, status); ``risk``: at least mmsi, score. Missing tables count as empty.
    ``now`` anchors ``window_h`` (default: the newest event end). One alert per rule and
    event (or per rule and vessel for vessel rules), in a fixed order.
    """
    rules = [r for r in rules if r.enabled]
    events = conform(events if events is not None else empty(EVENTS), EVENTS)
    identities = conform(identities if identities is not None else empty(IDENTITIES),
                         IDENTITIES)
    matches = _conform_matches(matches)
    risk = _conform_risk(risk)
    if now is None:
        latest = events["end"].max() if events.height else None
        now = latest if isinstance(latest, datetime) else datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    risk_map = risk.group_by("mmsi").agg(pl.col("score").max().alias("v_risk"))
    cand = _event_candidates(events) if any(not r.is_vessel_rule for r in rules) else None
    if cand is not None:
        ident = _identity_at(identities, cand.select(pl.col("vessel").alias("mmsi"),
                                                     pl.col("start").alias("t")))
        cand = cand.with_columns(
            ident["ship_type"].alias("v_ship_type"), ident["flag"].alias("v_flag"),
        ).join(risk_map.rename({"mmsi": "vessel"}), on="vessel", how="left")

    vessels = None
    if any(r.is_vessel_rule for r in rules):
        mmsis = pl.concat([identities["mmsi"], matches["mmsi"], risk["mmsi"]]).drop_nulls()
        latest_id = _identity_at(identities, pl.DataFrame(
            {"mmsi": mmsis.unique().sort()}).with_columns(pl.lit(now).cast(UTC_US).alias("t")))
        vessels = latest_id.select(
            pl.col("mmsi").alias("vessel"), pl.lit(None, pl.UInt32).alias("other"),
            pl.col("ship_type").alias("v_ship_type"), pl.col("flag").alias("v_flag"),
        ).join(risk_map.rename({"mmsi": "vessel"}), on="vessel", how="left")

    pieces: list[pl.DataFrame] = []
    for rule in rules:
        if rule.is_vessel_rule:
            assert vessels is not None
            hit = _vessel_filter(rule, vessels, matches)
            pieces.append(hit.select(
                pl.lit(rule.name).alias("rule"), pl.lit(None, pl.String).alias("event_id"),
                pl.col("vessel"), pl.col("other"), pl.lit(VESSEL_KIND).alias("kind")))
            continue
        assert cand is not None
        hit = cand.filter(pl.col("kind").is_in(list(rule.kinds)))
        if rule.zones:
            hit = hit.filter(pl.col("zone").is_in(_matching(hit["zone"], rule.zones)))
        if rule.min_duration_h is not None:
            hit = hit.filter(pl.col("duration_h") >= rule.min_duration_h - 1e-9)
        if rule.min_score is not None:
            hit = hit.filter(pl.col("score") >= rule.min_score - 1e-6)
        if rule.since is not None:
            hit = hit.filter(pl.col("end") >= rule.since)
        if rule.until is not None:
            hit = hit.filter(pl.col("start") <= rule.until)
        if rule.window_h is not None:
            hit = hit.filter(pl.col("end") >= now - timedelta(hours=rule.window_h))
        hit = _vessel_filter(rule, hit, matches)
        hit = hit.sort("event_id", "side").unique("event_id", keep="first", maintain_order=True)
        pieces.append(hit.select(pl.lit(rule.name).alias("rule"), "event_id", "vessel",
                                 "other", "kind"))
    if not pieces:
        return empty(ALERT_CANDIDATES)
    found = pl.concat(pieces)
    return _build_candidates(found, rules, events, identities, matches, risk)


def _conform_matches(matches: pl.DataFrame | None) -> pl.DataFrame:
    base = {"mmsi": pl.UInt32(), "list_name": pl.String(), "status": pl.String()}
    if matches is None or matches.height == 0:
        return pl.DataFrame(schema=base)
    extra = [c for c in matches.columns if c not in base]
    return matches.with_columns(
        pl.col("mmsi").cast(pl.UInt32), pl.col("list_name").cast(pl.String),
        pl.col("status").cast(pl.String)).select(*base, *extra)


def _conform_risk(risk: pl.DataFrame | None) -> pl.DataFrame:
    if risk is None or risk.height == 0:
        return pl.DataFrame(schema={"mmsi": pl.UInt32(), "score": pl.Float64()})
    extra = [c for c in risk.columns if c not in ("mmsi", "score")]
    return risk.with_columns(pl.col("mmsi").cast(pl.UInt32),
                             pl.col("score").cast(pl.Float64)).select("mmsi", "score", *extra)


def _build_candidates(found: pl.DataFrame, rules: Sequence[Rule], events: pl.DataFrame,
                      identities: pl.DataFrame, matches: pl.DataFrame,
                      risk: pl.DataFrame) -> pl.DataFrame:
    if found.height == 0:
        return empty(ALERT_CANDIDATES)
    by_name = {r.name: r for r in rules}
    ev = {row["event_id"]: row for row in events.filter(
        pl.col("event_id").is_in(found["event_id"].drop_nulls().unique().implode())
    ).iter_rows(named=True)}
    lists = _lists_by_mmsi(matches)
    risk_rows: dict[int, dict[str, Any]] = {}
    for row in risk.iter_rows(named=True):
        if row["mmsi"] is not None and (
            int(row["mmsi"]) not in risk_rows
            or (row["score"] or 0) > (risk_rows[int(row["mmsi"])]["score"] or 0)
        ):
            risk_rows[int(row["mmsi"])] = row
    # identity of each vessel at its event's start (its latest for vessel rules)
    keys = found.select(
        pl.col("vessel").alias("mmsi"), pl.col("other").alias("o"), pl.col("event_id"))
    t = pl.Series("t", [ev[e]["start"] if e is not None else None
                        for e in keys["event_id"]], dtype=UTC_US)
    v_id = _identity_at(identities, pl.DataFrame({"mmsi": keys["mmsi"], "t": t}))
    o_id = _identity_at(identities, pl.DataFrame({"mmsi": keys["o"], "t": t}))

    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(found.iter_rows(named=True)):
        rule = by_name[rec["rule"]]
        event = ev.get(rec["event_id"]) if rec["event_id"] is not None else None
        vessel, other = rec["vessel"], rec["other"]
        vid = {k: v_id[k][i] for k in ("shipname", "imo", "callsign", "ship_type", "flag")}
        oid = {k: o_id[k][i] for k in ("shipname", "imo", "callsign", "ship_type", "flag")}
        evidence: dict[str, Any] = {
            "rule": {"name": rule.name, "description": rule.description,
                     "conditions": rule.conditions},
            "vessel": _party(vessel, vid, lists, risk_rows),
        }
        if other is not None:
            evidence["other_vessel"] = _party(other, oid, lists, risk_rows)
        if event is not None:
            evidence["event"] = _event_record(event)
        key = rec["event_id"] if rec["event_id"] is not None else f"vessel:{vessel}"
        rows.append({
            "alert_id": alert_id(rule.name, key),
            "rule": rule.name,
            "severity": rule.severity,
            "event_id": rec["event_id"],
            "mmsi": vessel,
            "other_mmsi": other,
            "kind": rec["kind"],
            "start": event["start"] if event else None,
            "end": event["end"] if event else None,
            "message": _message(rule.name, event, vessel, vid, other, oid, lists, risk_rows),
            "evidence": json.dumps(evidence, sort_keys=True, default=str),
            "is_open": event["is_open"] if event else None,
            "duration_h": _duration_h(event),
        })
    out = pl.DataFrame(rows, schema=ALERT_CANDIDATES)
    return out.sort(["start", "rule", "mmsi", "alert_id"], nulls_last=True)


def _party(mmsi: int, ident: Mapping[str, Any], lists: Mapping[int, list[dict[str, Any]]],
           risk_rows: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    r = risk_rows.get(mmsi)
    return {
        "mmsi": mmsi,
        **{k: ident.get(k) for k in ("shipname", "imo", "callsign", "ship_type", "flag")},
        "watchlists": lists.get(mmsi, []),
        "risk": None if r is None else {k: r[k] for k in ("score", "rank") if k in r},
    }


def _duration_h(event: Mapping[str, Any] | None) -> float | None:
    """The event's ``end - start`` in hours (None without both)."""
    if event is None or event.get("start") is None or event.get("end") is None:
        return None
    return float((event["end"] - event["start"]).total_seconds() / 3600)


def _event_record(event: Mapping[str, Any]) -> dict[str, Any]:
    rec = {k: event[k] for k in ("event_id", "kind", "mmsi", "other_mmsi", "lat", "lon",
                                 "zone", "is_open", "detector")}
    rec["start"], rec["end"] = _iso(event["start"]), _iso(event["end"])
    rec["score"] = None if event["score"] is None else round(float(event["score"]), 3)
    if event["start"] is not None and event["end"] is not None:
        rec["duration_h"] = round((event["end"] - event["start"]).total_seconds() / 3600, 2)
    try:
        rec["evidence"] = json.loads(event["evidence"]) if event["evidence"] else None
    except ValueError:
        rec["evidence"] = event["evidence"]
    return rec


def partner_message(rule_name: str, event: Mapping[str, Any] | None, vessel: int,
                    vessel_name: str | None, other: int | None, other_name: str | None
                    ) -> str:
    """An alert's one-line text built only from what a partner sees: the event as judged for
    it (``kind``, ``zone``, ``start``, ``end``, ``lat``, ``lon``: blanked and rounded by the
    policy, and ``is_open``; None for a vessel rule) and the names it is granted (None when
    not). Positions are written with no more decimals than they hold (at most 3); no
    watchlists, no risk."""
    return _message(rule_name, event, vessel, {"shipname": vessel_name}, other,
                    {"shipname": other_name}, {}, {}, trim=True)


def _coordinate(x: float, trim: bool) -> str:
    text = f"{abs(x):.3f}"
    return text.rstrip("0").rstrip(".") if trim else text


def _message(rule_name: str, event: Mapping[str, Any] | None, vessel: int,
             vid: Mapping[str, Any], other: int | None, oid: Mapping[str, Any],
             lists: Mapping[int, list[dict[str, Any]]],
             risk_rows: Mapping[int, Mapping[str, Any]], trim: bool = False) -> str:
    def listed(m: int | None) -> str:
        names = sorted({f"{x['list_name']}: {x.get('entry_name') or x.get('entry_id')}"
                        for x in lists.get(m, [])} if m is not None else set())
        return f" [listed {'; '.join(names)}]" if names else ""

    parts = [_label(vessel, vid.get("shipname")) + listed(vessel)]
    if event is None:
        r = risk_rows.get(vessel)
        if r is not None and r.get("score") is not None:
            parts.append(f"risk {float(r['score']):.0f}")
        return f"{rule_name}: " + ", ".join(parts)
    kind = str(event["kind"]).replace("_", " ")
    text = f"{kind} of {parts[0]}"
    if other is not None:
        text += f" with {_label(other, oid.get('shipname'))}{listed(other)}"
    if event["zone"]:
        text += f" in {event['zone']}"
    hours = _duration_h(event)
    if hours is not None and hours > 0:
        is_open = event.get("is_open")
        text += (f", {hours:.1f} h so far" if is_open else f", {hours:.1f} h" if is_open is None
                 else f", lasted {hours:.1f} h")
    if event["lat"] is not None and event["lon"] is not None:
        lat, lon = float(event["lat"]), float(event["lon"])
        ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        text += f" at {_coordinate(lat, trim)}{ns} {_coordinate(lon, trim)}{ew}"
    if event["start"] is not None:
        text += f" from {_iso(event['start'])}"
    return text
