"""Vessel risk: a per-vessel score built from transparent, weighted factors.

Every factor a vessel shows earns *points*, at most the factor's *weight* (a field of
:class:`RiskParams`); the vessel's ``score`` is the sum of its points, capped at 100. Nothing
else goes into the score, so it explains itself: the ``factors`` column lists, for each factor
that applies, ``{"factor", "weight", "points", "detail", "evidence"}``, where ``detail`` is one
line of text and ``evidence`` names the event ids, hours, places and watchlist entries behind
the points. ``total_points`` keeps the uncapped sum, which orders vessels that both reach 100.

The factors (``f`` = the saturation in [0, 1] that multiplies the weight):

``designated``
    The vessel has a watchlist match (:mod:`seasight.risk.screening`). A *confirmed* match
    (IMO, MMSI or call sign) earns all of ``designated_weight``; a *possible* (name-only)
    match ``possible_match_fraction`` of it times the match score / 100. A match whose entry
    lists another valid IMO number than the vessel reports (``contradiction = "imo"``: most
    likely another hull of a similar name, or a reassigned call sign or MMSI) earns less:
    ``contradicted_confirmed_fraction`` for a call sign or MMSI match,
    ``contradicted_possible_fraction`` times the score / 100 for a name match, and the detail
    says so (``... but IMO 9074729 ≠ listed 7937317``). The best-scoring match counts. With
    the defaults: IMO match 100 > call sign/MMSI match with another IMO 60 > name match
    36.8-40 > name match with another IMO 13.8-15.
``met_designated``
    Encounter events with a vessel that has a confirmed match: ``f = 0.5 + 0.5 *
    min(1, hours / met_designated_full_h)`` (meeting one at all is half; long or repeated
    meetings earn the rest). Evidence: each encounter's id, hours, position, zone and the
    partner's list entry.
``met_designated_chain``
    Second-degree links, for a vessel that did not meet a designated vessel itself: the
    shortest chain of encounters vessel → met vessel → ... → designated vessel
    (:func:`risk_chains`), ``chain_weight / (hops - 1)`` points (all of it for 2 hops).
``ais_gaps``
    ``gap`` events: ``f = min(1, total hours / gap_full_h)``.
``spoofing``
    ``spoofing`` events: ``f = min(1, n / spoofing_full_events)``.
``identity_changes``
    ``identity_change`` events that do not change the flag: ``f = min(1, n /
    identity_change_full_events)``.
``flag_changes``
    ``identity_change`` events whose evidence changes the flag (a re-flagging, usually under
    a new MMSI): ``f = min(1, n / flag_change_full_events)``.
``zone_activity``
    ``loitering`` and ``encounter`` events inside a user zone: the event's own ``zone``, or a
    zone polygon (``zones``) containing its position. ``f = min(1, n /
    zone_activity_full_events)``; both vessels of an encounter count it.
``invalid_identifiers``
    The MMSI is not a ship station's with an allocated MID
    (:func:`seasight.tracks.identity.invalid_mmsi`) or a reported IMO number fails its check
    digit (:func:`seasight.tracks.identity.valid_imo`): all of ``invalid_identifier_weight``.

Every vessel known from the identities, the events or the matches gets a row (score 0 and
``[]`` when nothing applies); ``rank`` 1 is the highest score (ties: higher ``total_points``,
then lower MMSI).
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import polars as pl

from seasight.geo.zones import Zone, zone_membership
from seasight.model.schema import EVENTS, IDENTITIES, conform, empty
from seasight.risk.watchlists import ensure_screening, watchlist_matches
from seasight.sharing.origins import LOCAL
from seasight.store import Store
from seasight.tracks.identity import invalid_mmsi, valid_imo

#: One row per vessel: the table ``risk``.
RISK: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "score": pl.Float64(),  # 0-100: sum of the factors' points, capped at 100
    "rank": pl.UInt32(),  # 1 = highest risk
    "factors": pl.String(),  # JSON list of {factor, weight, points, detail, evidence}
    "total_points": pl.Float64(),  # the sum before the cap
    "shipname": pl.String(),  # latest known identity
    "imo": pl.UInt32(),
    "flag": pl.String(),
}

#: Chains of encounters from a vessel to a designated vessel (:func:`risk_chains`).
CHAINS: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "depth": pl.UInt8(),  # encounters (hops) in the chain
    "chain": pl.List(pl.UInt32()),  # MMSIs from the vessel to the designated vessel
    "event_ids": pl.List(pl.String()),  # the encounter of each hop, in chain order
    "designated_mmsi": pl.UInt32(),
    "list_name": pl.String(),  # the designated vessel's (first) confirmed match
    "entry_id": pl.String(),
    "entry_name": pl.String(),
    "time_ordered": pl.Boolean(),  # each hop ended before the next one nearer the vessel began
}

#: The columns of a screening MATCHES frame that risk scoring reads.
MATCH_COLUMNS: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "list_name": pl.String(),
    "entry_id": pl.String(),
    "entry_name": pl.String(),
    "matched_on": pl.String(),
    "vessel_value": pl.String(),
    "list_value": pl.String(),
    "score": pl.Float64(),
    "status": pl.String(),  # "confirmed" or "possible"
    "contradiction": pl.String(),  # "imo" when the vessel's and the listed IMO differ
    "vessel_imo": pl.UInt32(),
    "listed_imo": pl.UInt32(),
}

#: Table the screening stage writes its matches to.
MATCHES_TABLE = "watchlist_matches"

_US_PER_H = 3_600_000_000


@dataclass(frozen=True)
class RiskParams:
    """Weights of the risk factors (each the most points its factor can earn) and their scales."""

    #: Points for a confirmed watchlist match (IMO, MMSI or call sign).
    designated_weight: float = 100.0
    #: A possible (name-only) match earns this fraction of `designated_weight`, times the
    #: match score / 100.
    possible_match_fraction: float = 0.4
    #: A confirmed match on call sign or MMSI whose entry lists another valid IMO number than
    #: the vessel reports earns this fraction of `designated_weight` (call signs and MMSIs are
    #: reassigned; an IMO number stays with its hull, but can be falsified).
    contradicted_confirmed_fraction: float = 0.6
    #: A possible (name-only) match whose entry lists another valid IMO number than the vessel
    #: reports earns this fraction of `designated_weight`, times the match score / 100: most
    #: likely another ship of a similar name, kept since designated ships broadcast false IMOs.
    contradicted_possible_fraction: float = 0.15
    #: Most points for encounters with a vessel that has a confirmed match: half for any
    #: encounter, the rest growing with their total duration.
    met_designated_weight: float = 60.0
    #: Hours of encounters with designated vessels that earn all of `met_designated_weight`.
    met_designated_full_h: float = 12.0
    #: Points for a chain vessel -> met vessel -> designated vessel (2 encounters); a chain of
    #: n encounters earns this / (n - 1). Only for vessels that met no designated vessel.
    chain_weight: float = 25.0
    #: Longest chain of encounters followed from a designated vessel (hops).
    max_chain_depth: int = 2
    #: Most points for AIS gaps.
    gap_weight: float = 15.0
    #: Total hours of AIS gaps that earn all of `gap_weight`.
    gap_full_h: float = 48.0
    #: Most points for spoofing events.
    spoofing_weight: float = 25.0
    #: Spoofing events that earn all of `spoofing_weight`.
    spoofing_full_events: int = 2
    #: Most points for identity changes other than flag changes (name, call sign, IMO, type).
    identity_change_weight: float = 15.0
    #: Identity changes that earn all of `identity_change_weight`.
    identity_change_full_events: int = 3
    #: Most points for flag changes (re-flagging).
    flag_change_weight: float = 20.0
    #: Flag changes that earn all of `flag_change_weight`.
    flag_change_full_events: int = 1
    #: Most points for loitering or encounters inside user zones.
    zone_activity_weight: float = 20.0
    #: Loitering/encounter events inside user zones that earn all of `zone_activity_weight`.
    zone_activity_full_events: int = 3
    #: Points for an invalid MMSI (not a ship's, or no allocated MID) or an IMO number with a
    #: wrong check digit.
    invalid_identifier_weight: float = 10.0
    #: Events listed in a factor's evidence (the counts and hours always cover all of them).
    max_evidence_events: int = 20

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, (int, float)) and value < 0:
                raise ValueError(f"RiskParams.{name} must not be negative, got {value}")
        for name in ("met_designated_full_h", "gap_full_h", "spoofing_full_events",
                     "identity_change_full_events", "flag_change_full_events",
                     "zone_activity_full_events", "max_chain_depth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RiskParams.{name} must be positive")


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def conform_matches(matches: pl.DataFrame | None) -> pl.DataFrame:
    """The :data:`MATCH_COLUMNS` of a screening MATCHES frame (missing columns null)."""
    if matches is None or matches.height == 0:
        return empty(MATCH_COLUMNS)
    cols = [
        (pl.col(c).cast(t) if c in matches.columns else pl.lit(None, dtype=t)).alias(c)
        for c, t in MATCH_COLUMNS.items()
    ]
    return matches.select(cols).filter(pl.col("mmsi").is_not_null())


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _round(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


def _hours(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        ((pl.col("end").dt.epoch("us") - pl.col("start").dt.epoch("us")) / _US_PER_H)
        .fill_null(0.0).alias("hours"))


def _event_ref(row: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": row["event_id"], "start": _iso(row["start"]), "end": _iso(row["end"]),
            "hours": _round(row["hours"]), "lat": _round(row["lat"], 5),
            "lon": _round(row["lon"], 5)}


def _designated(matches: pl.DataFrame) -> dict[int, dict[str, Any]]:
    """MMSI -> its first confirmed match (by list, entry), as evidence."""
    confirmed = (matches.filter(pl.col("status") == "confirmed")
                 .sort(["mmsi", "list_name", "entry_id", "matched_on"], nulls_last=True)
                 .unique("mmsi", keep="first", maintain_order=True))
    return {int(r["mmsi"]): {"list_name": r["list_name"], "entry_id": r["entry_id"],
                             "entry_name": r["entry_name"], "matched_on": r["matched_on"]}
            for r in confirmed.iter_rows(named=True)}


def _encounters(events: pl.DataFrame) -> pl.DataFrame:
    return _hours(events.filter((pl.col("kind") == "encounter") & pl.col("mmsi").is_not_null()
                                & pl.col("other_mmsi").is_not_null()
                                & (pl.col("mmsi") != pl.col("other_mmsi"))))


# --------------------------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------------------------


def risk_chains(events: pl.DataFrame, matches: pl.DataFrame | None,
                max_depth: int = 2) -> pl.DataFrame:
    """The shortest chain of encounters from each vessel to a designated vessel.

    The encounter events form an undirected graph (vessels, one edge per pair that met, labelled
    with the pair's earliest encounter); a breadth-first search from every vessel with a
    *confirmed* match finds, for each other vessel within ``max_depth`` encounters, its nearest
    designated vessel and the path to it. One row per such vessel (designated vessels
    themselves have none): ``chain`` runs from the vessel to the designated vessel, ``event_ids``
    gives the encounter of each hop in the same order. Ties go to the lower MMSI. A chain is
    ``time_ordered`` when each encounter nearer the designated vessel ended before the next one
    began (so something could have passed along it).
    """
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    designated = _designated(conform_matches(matches))
    enc = _encounters(conform(events, EVENTS))
    if not designated or enc.height == 0:
        return empty(CHAINS)
    # one edge per pair: its earliest encounter (then the lowest event id)
    edges = (
        enc.with_columns(pl.min_horizontal("mmsi", "other_mmsi").alias("a"),
                         pl.max_horizontal("mmsi", "other_mmsi").alias("b"))
        .sort(["a", "b", "start", "event_id"])
        .unique(["a", "b"], keep="first", maintain_order=True)
    )
    adjacency: dict[int, list[tuple[int, str, datetime | None, datetime | None]]] = {}
    for r in edges.iter_rows(named=True):
        a, b = int(r["a"]), int(r["b"])
        adjacency.setdefault(a, []).append((b, r["event_id"], r["start"], r["end"]))
        adjacency.setdefault(b, []).append((a, r["event_id"], r["start"], r["end"]))
    for neighbours in adjacency.values():
        neighbours.sort(key=lambda n: n[0])
    # multi-source BFS from the designated vessels, in MMSI order (deterministic ties)
    parent: dict[int, tuple[int, str, datetime | None, datetime | None] | None] = {}
    depth: dict[int, int] = {}
    queue: deque[int] = deque()
    for m in sorted(designated):
        parent[m], depth[m] = None, 0
        queue.append(m)
    while queue:
        node = queue.popleft()
        if depth[node] >= max_depth:
            continue
        for other, event_id, start, end in adjacency.get(node, []):
            if other not in depth:
                depth[other] = depth[node] + 1
                parent[other] = (node, event_id, start, end)
                queue.append(other)
    rows = []
    for m in sorted(depth):
        if depth[m] == 0:
            continue
        chain, ids, spans = [m], [], []
        node = m
        while (step := parent[node]) is not None:
            node = step[0]
            chain.append(node)
            ids.append(step[1])
            spans.append((step[2], step[3]))
        # spans run from the vessel's own encounter to the designated vessel's: the hop nearer
        # the designated vessel must end before the one after it (nearer the vessel) starts
        ordered = all(
            later[0] is not None and earlier[1] is not None and earlier[1] <= later[0]
            for later, earlier in itertools.pairwise(spans)
        )
        entry = designated[node]
        rows.append({"mmsi": m, "depth": len(ids), "chain": chain, "event_ids": ids,
                     "designated_mmsi": node, "list_name": entry["list_name"],
                     "entry_id": entry["entry_id"], "entry_name": entry["entry_name"],
                     "time_ordered": ordered})
    return pl.DataFrame(rows, schema=CHAINS) if rows else empty(CHAINS)


# --------------------------------------------------------------------------------------------
# Factors
# --------------------------------------------------------------------------------------------


def _by_vessel(frame: pl.DataFrame) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The rows of ``frame`` (sorted by MMSI) as dicts, one list per MMSI."""
    for mmsi, rows in itertools.groupby(frame.iter_rows(named=True), key=lambda r: r["mmsi"]):
        yield int(mmsi), list(rows)


def _factor(name: str, weight: float, fraction: float, detail: str,
            evidence: dict[str, Any]) -> dict[str, Any]:
    return {"factor": name, "weight": weight,
            "points": round(weight * min(1.0, max(0.0, fraction)), 2),
            "detail": detail, "evidence": evidence}


def _match_fraction(match: dict[str, Any], p: RiskParams) -> float:
    """The fraction of `designated_weight` one match earns (see the module documentation)."""
    contradicted = match["contradiction"] == "imo"
    if match["status"] == "confirmed":
        return p.contradicted_confirmed_fraction if contradicted else 1.0
    base = p.contradicted_possible_fraction if contradicted else p.possible_match_fraction
    return base * float(match["score"] or 0.0) / 100.0


def _designated_factors(matches: pl.DataFrame, p: RiskParams) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    ordered = matches.sort(["mmsi", "status", "score", "list_name", "entry_id"],
                           descending=[False, False, True, False, False], nulls_last=True)
    for mmsi, recs in _by_vessel(ordered):
        best = max(recs, key=lambda r: _match_fraction(r, p))  # the first of equals
        fraction = _match_fraction(best, p)
        entry = f"{best['entry_name']} ({best['list_name']} {best['entry_id']})"
        if best["status"] == "confirmed":
            detail = f"confirmed match: {entry} on {best['matched_on']}"
        elif best["contradiction"] == "imo":
            detail = (f"possible match: {best['matched_on']} matches {entry}, "
                      f"name score {_round(best['score'], 1)}")
        else:
            detail = f"possible match: {entry}, name score {_round(best['score'], 1)}"
        if best["contradiction"] == "imo":
            detail += f", but IMO {best['vessel_imo']} ≠ listed {best['listed_imo']}"
        evidence = {"matches": [
            {k: (_round(v, 1) if k == "score" else v) for k, v in r.items() if k != "mmsi"}
            for r in recs[: p.max_evidence_events]], "n_matches": len(recs)}
        out[mmsi] = _factor("designated", p.designated_weight, fraction, detail, evidence)
    return out


def _met_designated_factors(enc: pl.DataFrame, designated: dict[int, dict[str, Any]],
                            p: RiskParams) -> dict[int, dict[str, Any]]:
    # each encounter seen from both sides
    sides = pl.concat([
        enc.select("event_id", "mmsi", "other_mmsi", "start", "end", "hours", "lat", "lon",
                   "zone"),
        enc.select("event_id", pl.col("other_mmsi").alias("mmsi"),
                   pl.col("mmsi").alias("other_mmsi"), "start", "end", "hours", "lat", "lon",
                   "zone"),
    ]).filter(pl.col("other_mmsi").is_in(list(designated)))
    out: dict[int, dict[str, Any]] = {}
    for mmsi, recs in _by_vessel(sides.sort(["mmsi", "start", "event_id"])):
        hours = float(sum(r["hours"] for r in recs))
        partners = sorted({int(r["other_mmsi"]) for r in recs})
        listed = []
        for r in recs[: p.max_evidence_events]:
            ref = _event_ref(r)
            ref["other_mmsi"] = int(r["other_mmsi"])
            ref["zone"] = r["zone"]
            ref["entry"] = designated[int(r["other_mmsi"])]
            listed.append(ref)
        names = ", ".join(f"{designated[m]['entry_name']} ({m})" for m in partners)
        where = "; ".join(_where(r) for r in recs[:3]) + ("; ..." if len(recs) > 3 else "")
        detail = (f"{len(recs)} encounter(s) with designated vessel(s) {names}, "
                  f"{hours:.1f} h in total, at {where}")
        fraction = 0.5 + 0.5 * min(1.0, hours / p.met_designated_full_h)
        out[mmsi] = _factor(
            "met_designated", p.met_designated_weight, fraction, detail,
            {"n_encounters": len(recs), "total_hours": _round(hours),
             "designated_mmsi": partners, "encounters": listed})
    return out


def _where(r: dict[str, Any]) -> str:
    """Where an event happened, for a detail line: its zone, else its position."""
    if r.get("zone"):
        return str(r["zone"])
    if r.get("lat") is None or r.get("lon") is None:
        return "unknown position"
    lat, lon = float(r["lat"]), float(r["lon"])
    return f"{abs(lat):.2f}{'N' if lat >= 0 else 'S'} {abs(lon):.2f}{'E' if lon >= 0 else 'W'}"


def _chain_factors(chains: pl.DataFrame, p: RiskParams) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in chains.filter(pl.col("depth") >= 2).iter_rows(named=True):
        hops = int(r["depth"])
        path = " -> ".join(str(m) for m in r["chain"])
        detail = (f"chain of {hops} encounters {path} to designated vessel "
                  f"{r['entry_name']} ({r['list_name']} {r['entry_id']})")
        out[int(r["mmsi"])] = _factor(
            "met_designated_chain", p.chain_weight, 1.0 / (hops - 1), detail,
            {"chain": [int(m) for m in r["chain"]], "event_ids": list(r["event_ids"]),
             "depth": hops, "designated_mmsi": int(r["designated_mmsi"]),
             "entry": {"list_name": r["list_name"], "entry_id": r["entry_id"],
                       "entry_name": r["entry_name"]},
             "time_ordered": bool(r["time_ordered"])})
    return out


def _count_factors(frame: pl.DataFrame, name: str, weight: float, full: float, what: str,
                   p: RiskParams, *, by_hours: bool = False,
                   extra: Any = None) -> dict[int, dict[str, Any]]:
    """A factor that grows with the number (or total hours) of some events of each vessel."""
    out: dict[int, dict[str, Any]] = {}
    for mmsi, recs in _by_vessel(frame.sort(["mmsi", "start", "event_id"])):
        hours = float(sum(r["hours"] for r in recs))
        listed = []
        for r in recs[: p.max_evidence_events]:
            ref = _event_ref(r)
            if extra is not None:
                ref.update(extra(r))
            listed.append(ref)
        amount = hours if by_hours else float(len(recs))
        detail = f"{len(recs)} {what}" + (f", {hours:.1f} h in total" if by_hours else "")
        changed = [f"{k} {v['old']} -> {v['new']}" for ref in listed
                   for k, v in ref.get("changed", {}).items()]
        if changed:
            detail += ": " + "; ".join(changed[:3]) + ("; ..." if len(changed) > 3 else "")
        evidence: dict[str, Any] = {"n_events": len(recs), "events": listed}
        if by_hours:
            evidence["total_hours"] = _round(hours)
            evidence["longest_hours"] = _round(max(r["hours"] for r in recs))
        out[mmsi] = _factor(name, weight, amount / full, detail, evidence)
    return out


def _evidence(row: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(row["evidence"]) if row["evidence"] else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _changes(row: dict[str, Any]) -> dict[str, Any]:
    ev = _evidence(row)
    changed = {k: v for k, v in ev.items()
               if isinstance(v, dict) and "old" in v and "new" in v}
    return {"changed": changed}


def _zone_names(events: pl.DataFrame, zones: Sequence[Zone]) -> pl.Series:
    """The user zone of each event: its own ``zone``, else the first zone (by name) containing
    its position, else null."""
    own = events["zone"]
    if not zones or events.height == 0:
        return own
    ordered = sorted(zones, key=lambda z: z.name)
    inside = zone_membership(list(ordered), events["lat"].to_numpy(),
                             events["lon"].to_numpy())
    names = [z.name for z in ordered]
    hit = np.asarray(inside.any(axis=1), dtype=bool)
    first = np.asarray(inside.argmax(axis=1), dtype=np.int64)
    found = [names[int(j)] if h else None for h, j in zip(hit, first, strict=True)]
    return own.fill_null(pl.Series("zone", found, dtype=pl.String))


def _invalid_factors(vessels: pl.Series, identities: pl.DataFrame,
                     p: RiskParams) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    mmsis = vessels.to_numpy()
    bad_mmsi = invalid_mmsi(mmsis) if len(mmsis) else np.zeros(0, dtype=bool)
    with_imo = identities.filter(pl.col("imo").is_not_null()).select("mmsi", "imo").unique()
    bad_imo: dict[int, list[int]] = {}
    if with_imo.height:
        ok = valid_imo(with_imo["imo"].to_numpy())
        for m, imo in with_imo.filter(pl.Series(~ok)).sort(["mmsi", "imo"]).iter_rows():
            bad_imo.setdefault(int(m), []).append(int(imo))
    for m, bad in zip(mmsis.tolist(), bad_mmsi.tolist(), strict=True):
        imos = bad_imo.get(int(m), [])
        if not bad and not imos:
            continue
        parts = (["MMSI is not a ship station's with an allocated MID"] if bad else []) + (
            [f"IMO {', '.join(map(str, imos))} fails the check digit"] if imos else [])
        out[int(m)] = _factor("invalid_identifiers", p.invalid_identifier_weight, 1.0,
                              "; ".join(parts), {"invalid_mmsi": bool(bad), "invalid_imo": imos})
    return out


def _latest_identity(identities: pl.DataFrame) -> pl.DataFrame:
    return (identities.sort(["mmsi", "valid_to", "valid_from"], nulls_last=False)
            .group_by("mmsi", maintain_order=True)
            .agg(pl.col("shipname").drop_nulls().last(), pl.col("imo").drop_nulls().last(),
                 pl.col("flag").drop_nulls().last()))


# --------------------------------------------------------------------------------------------
# Score
# --------------------------------------------------------------------------------------------


def risk_scores(identities: pl.DataFrame, events: pl.DataFrame,
                matches: pl.DataFrame | None = None, params: RiskParams | None = None,
                zones: Sequence[Zone] = ()) -> pl.DataFrame:
    """The RISK frame: every vessel's score, rank and factors (see the module documentation).

    ``identities`` is an IDENTITIES frame, ``events`` an EVENTS frame, ``matches`` a screening
    MATCHES frame (or None), ``zones`` the user zones that decide which loitering and encounter
    events count as zone activity (events whose ``zone`` is set count without them).
    """
    p = params or RiskParams()
    ids = conform(identities, IDENTITIES)
    ev = _hours(conform(events, EVENTS).filter(pl.col("mmsi").is_not_null()))
    m = conform_matches(matches)
    vessels = pl.concat([ids["mmsi"], ev["mmsi"], ev["other_mmsi"], m["mmsi"]]).drop_nulls()
    vessels = vessels.unique().sort()

    designated = _designated(m)
    enc = _encounters(ev)
    chains = risk_chains(ev, m, max_depth=p.max_chain_depth)
    changes = ev.filter(pl.col("kind") == "identity_change").with_columns(
        pl.col("evidence").map_elements(lambda t: "flag" in _evidence({"evidence": t}),
                                        return_dtype=pl.Boolean).alias("is_flag"))
    zoned = ev.filter(pl.col("kind").is_in(["loitering", "encounter"]))
    zoned = zoned.with_columns(_zone_names(zoned, zones).alias("zone")).filter(
        pl.col("zone").is_not_null())
    zoned = pl.concat([zoned, zoned.filter(pl.col("kind") == "encounter").with_columns(
        pl.col("other_mmsi").alias("mmsi"), pl.col("mmsi").alias("other_mmsi"))])

    def spoof_extra(r: dict[str, Any]) -> dict[str, Any]:
        return {"reason": _evidence(r).get("reason")}

    def zone_extra(r: dict[str, Any]) -> dict[str, Any]:
        return {"kind": r["kind"], "zone": r["zone"], "other_mmsi": r["other_mmsi"]}

    per_factor = [
        _designated_factors(m, p),
        _met_designated_factors(enc, designated, p),
        # a vessel that met a designated vessel itself has a chain of one hop, not scored here
        _chain_factors(chains, p),
        _count_factors(ev.filter(pl.col("kind") == "gap"), "ais_gaps", p.gap_weight,
                       p.gap_full_h, "AIS gap(s)", p, by_hours=True),
        _count_factors(ev.filter(pl.col("kind") == "spoofing"), "spoofing", p.spoofing_weight,
                       p.spoofing_full_events, "spoofing event(s)", p, extra=spoof_extra),
        _count_factors(changes.filter(~pl.col("is_flag")), "identity_changes",
                       p.identity_change_weight, p.identity_change_full_events,
                       "identity change(s)", p, extra=_changes),
        _count_factors(changes.filter(pl.col("is_flag")), "flag_changes",
                       p.flag_change_weight, p.flag_change_full_events, "flag change(s)", p,
                       extra=_changes),
        _count_factors(zoned, "zone_activity", p.zone_activity_weight,
                       p.zone_activity_full_events, "loitering/encounter event(s) in user zones",
                       p, extra=zone_extra),
        _invalid_factors(vessels, ids, p),
    ]
    factors, totals = [], []
    for mmsi in vessels.to_list():
        applied = [f[mmsi] for f in per_factor if mmsi in f and f[mmsi]["points"] > 0]
        applied.sort(key=lambda f: -f["points"])
        factors.append(json.dumps(applied, default=str))
        totals.append(round(sum(f["points"] for f in applied), 2))
    latest = _latest_identity(ids)
    out = (
        pl.DataFrame({"mmsi": vessels, "factors": pl.Series(factors, dtype=pl.String),
                      "total_points": pl.Series(totals, dtype=pl.Float64)})
        .with_columns(pl.col("total_points").clip(upper_bound=100.0).round(1).alias("score"))
        .join(latest, on="mmsi", how="left")
        .sort(["score", "total_points", "mmsi"], descending=[True, True, False])
        .with_row_index("rank", offset=1)
    )
    return conform(out, RISK)


def risk_store(store: Store, params: RiskParams | None = None) -> pl.DataFrame:
    """Score every vessel of ``store`` and replace table ``risk``; returns the RISK frame.

    Reads ``identities`` and ``events``, the screening matches of the local organisation's
    lists from ``watchlist_matches`` when that table exists (written by
    :func:`seasight.risk.screening.screen_store`; another organisation's lists do not score
    the installation's vessels) and the stored user zones.
    """
    store.create_table("risk", RISK, key=("mmsi",))
    ensure_screening(store)  # identities and matches as the stored reports and lists say now
    # the installation's score: designations by the local organisation's own lists
    matches = (watchlist_matches(store, organisations=[LOCAL])
               if store.has_table(MATCHES_TABLE) else None)
    scores = risk_scores(store.table("identities"), store.table("events"), matches, params,
                         store.zones())
    store.replace("risk", scores)
    return scores


def stored_risk(store: Store) -> pl.DataFrame:
    """The ``risk`` table as stored, by rank (empty when risk was never scored); works on a
    read-only store."""
    if not store.has_table("risk"):
        return empty(RISK)
    return conform(store.query("SELECT * FROM risk ORDER BY rank"), RISK)


__all__ = ["CHAINS", "MATCH_COLUMNS", "RISK", "RiskParams", "conform_matches", "risk_chains",
           "risk_scores", "risk_store", "stored_risk"]
