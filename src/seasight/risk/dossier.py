"""Everything known about one vessel: the dossier behind ``seasight vessel``.

:func:`vessel_dossier` resolves a query to an MMSI and gathers, from the store:

* the **identity history** (``identities``: every period with the same name, IMO, call sign,
  flag), and the other MMSIs that reported the same IMO number;
* the **watchlist matches** (``watchlist_matches``, written by :mod:`seasight.risk.screening`);
* the **risk score** and its factors with their evidence (``risk``, written by
  :mod:`seasight.risk.score`);
* the **event timeline**: every event of the vessel, including encounters in which it is the
  *other* vessel, each encounter naming the other party and whether it is on a watchlist;
* the **track** (cleaned positions: sentinels and impossible values dropped) and the last known
  position.

Tables of later stages may not exist yet (screening or risk never ran): they count as empty.

Queries (:func:`resolve_query`): nine digits are an MMSI; seven digits or ``IMO 1234567`` an
IMO number (looked up in the identity history); anything else a ship name, normalised (upper
case, ``M/V``, ``MV``, ``M.V.``, ``M/T``, ``MT`` prefixes and punctuation removed) and matched
exactly first, then by fuzzy score (rapidfuzz ``WRatio``, at least :data:`NAME_MIN_SCORE`).
Several vessels matching equally well raise :class:`AmbiguousQueryError` naming them.

The HTML rendering is :func:`seasight.risk.dossier_html.render_html`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
from rapidfuzz import fuzz, process

from seasight.events.formats import event_records
from seasight.model.schema import EVENTS, IDENTITIES, POSITIONS, conform, empty
from seasight.risk.watchlists import watchlist_matches
from seasight.sharing.origins import LOCAL
from seasight.sources.vessel_ids import is_synthetic
from seasight.store import Store
from seasight.tracks.clean import clean_positions

__all__ = [
    "NAME_MIN_SCORE",
    "AmbiguousQueryError",
    "Dossier",
    "Resolution",
    "build_dossier",
    "normalise_query_name",
    "resolve_query",
    "ship_type_text",
    "vessel_dossier",
]

#: Lowest rapidfuzz ``WRatio`` (0-100) at which a name query matches a vessel name fuzzily.
NAME_MIN_SCORE: Final = 85.0

#: Columns of the track kept in a dossier.
TRACK_COLUMNS: Final = ("ts", "lat", "lon", "sog", "cog", "heading", "nav_status", "on_land")

_PREFIX = re.compile(r"^(?:M\s*/\s*[VT]|M\.\s*[VT]\.?|MV|MT)\b\s*")
_NON_WORD = re.compile(r"[^0-9A-Z]+")
_IMO_QUERY = re.compile(r"^IMO[\s:#.-]*(\d{7})$", re.IGNORECASE)


class AmbiguousQueryError(LookupError):
    """A name query that several vessels match equally well; ``candidates`` lists them."""

    def __init__(self, query: str, candidates: list[dict[str, Any]]) -> None:
        self.query = query
        self.candidates = candidates
        listed = "; ".join(
            f"{c['mmsi']} {c['shipname'] or '?'} (IMO {c['imo'] or '?'}, score {c['score']:g})"
            for c in candidates
        )
        super().__init__(f"{query!r} matches several vessels: {listed}; "
                         f"ask again by MMSI or IMO")


def normalise_query_name(text: str) -> str:
    """A ship name as compared: upper case, vessel-type prefix and punctuation removed.

    >>> normalise_query_name("M/V  Ever-Star.")
    'EVER STAR'
    """
    upper = text.upper().strip()
    upper = _PREFIX.sub("", upper)
    return " ".join(_NON_WORD.sub(" ", upper).split())


@dataclass(frozen=True)
class Resolution:
    """How a query was resolved: the MMSI, by what (``mmsi``, ``imo``, ``name``), the score of
    a name match (100 for exact) and the other MMSIs that share the IMO number."""

    mmsi: int
    by: str
    score: float = 100.0
    matched: str | None = None
    related_mmsi: tuple[int, ...] = ()


def _latest_per_mmsi(identities: pl.DataFrame) -> pl.DataFrame:
    return identities.sort("valid_to", nulls_last=False).group_by("mmsi").last()


def _names_mmsi(text: str) -> bool:
    """Nine digits, or the synthetic MMSI of an anonymised vessel (ten digits, >= 2**30)."""
    return text.isdigit() and (len(text) == 9 or bool(is_synthetic([int(text)])[0]))


def resolve_query(query: str, identities: pl.DataFrame,
                  known_mmsi: set[int] | None = None) -> Resolution:
    """The vessel ``query`` names (see the module documentation).

    ``identities`` is the IDENTITIES frame; ``known_mmsi`` the MMSIs that have positions (an
    MMSI query is accepted when either knows it).

    Raises:
        ValueError: an empty query.
        LookupError: nothing matches (:class:`AmbiguousQueryError` when several vessels do).
    """
    text = query.strip()
    if not text:
        raise ValueError("empty vessel query")
    ids = conform(identities, IDENTITIES)
    if _names_mmsi(text):
        mmsi = int(text)
        if mmsi in set(ids["mmsi"].to_list()) or (known_mmsi is not None and mmsi in known_mmsi):
            return Resolution(mmsi=mmsi, by="mmsi", matched=text)
        raise LookupError(f"no vessel with MMSI {mmsi} in the database")
    imo_match = _IMO_QUERY.match(text)
    if imo_match or (text.isdigit() and len(text) == 7):
        imo = int(imo_match.group(1) if imo_match else text)
        rows = ids.filter(pl.col("imo") == imo)
        if rows.height == 0:
            raise LookupError(f"no vessel reported IMO {imo}")
        latest = rows.group_by("mmsi").agg(pl.col("valid_to").max()).sort(
            ["valid_to", "mmsi"], descending=[True, False], nulls_last=True)
        mmsis = [int(m) for m in latest["mmsi"].to_list()]
        return Resolution(mmsi=mmsis[0], by="imo", matched=f"IMO {imo}",
                          related_mmsi=tuple(mmsis[1:]))
    if text.isdigit():
        raise LookupError(f"{text!r} is neither an MMSI (9 digits) nor an IMO number (7 digits)")
    return _resolve_name(text, ids)


def _resolve_name(query: str, ids: pl.DataFrame) -> Resolution:
    wanted = normalise_query_name(query)
    if not wanted:
        raise LookupError(f"{query!r} holds no letters or digits to match a name on")
    names = (
        ids.filter(pl.col("shipname").is_not_null())
        .select("mmsi", "shipname", "imo", "valid_to")
        .with_columns(pl.col("shipname").map_elements(normalise_query_name,
                                                      return_dtype=pl.String).alias("norm"))
        .filter(pl.col("norm") != "")
    )
    if names.height == 0:
        raise LookupError(f"no vessel named {query!r}: the database holds no ship names")
    exact = names.filter(pl.col("norm") == wanted)
    if exact.height:
        scored = exact.with_columns(pl.lit(100.0).alias("score"))
    else:
        choices = names["norm"].unique().sort().to_list()
        found = process.extract(wanted, choices, scorer=fuzz.WRatio,
                                score_cutoff=NAME_MIN_SCORE, limit=None)
        if not found:
            raise LookupError(f"no vessel named like {query!r} (best name score below "
                              f"{NAME_MIN_SCORE:g})")
        best = max(score for _, score, _ in found)
        top = {name for name, score, _ in found if score == best}
        scored = names.filter(pl.col("norm").is_in(sorted(top))).with_columns(
            pl.lit(round(float(best), 1)).alias("score"))
    per_vessel = scored.sort("valid_to", nulls_last=False).group_by("mmsi").last().sort("mmsi")
    if per_vessel.height > 1:
        candidates = [
            {"mmsi": int(r["mmsi"]), "shipname": r["shipname"], "imo": r["imo"],
             "score": float(r["score"])}
            for r in per_vessel.iter_rows(named=True)
        ]
        raise AmbiguousQueryError(query, candidates)
    row = per_vessel.row(0, named=True)
    return Resolution(mmsi=int(row["mmsi"]), by="name", score=float(row["score"]),
                      matched=row["shipname"])


_SHIP_TYPES: Final[dict[int, str]] = {
    30: "fishing", 31: "towing", 32: "towing (large)", 33: "dredging", 34: "diving",
    35: "military", 36: "sailing", 37: "pleasure craft", 50: "pilot vessel",
    51: "search and rescue", 52: "tug", 53: "port tender", 54: "anti-pollution",
    55: "law enforcement", 58: "medical transport", 59: "noncombatant",
}
_SHIP_TYPE_DECADES: Final[dict[int, str]] = {
    2: "wing in ground", 4: "high-speed craft", 6: "passenger", 7: "cargo", 8: "tanker",
    9: "other",
}


def ship_type_text(code: int | None) -> str | None:
    """ITU-R M.1371 ship type code as words (``80`` → ``tanker``); None when unknown."""
    if code is None or code == 0:
        return None
    code = int(code)
    if code in _SHIP_TYPES:
        return _SHIP_TYPES[code]
    decade = _SHIP_TYPE_DECADES.get(code // 10)
    return f"{decade} ({code})" if decade else f"type {code}"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):  # dates
        return value.isoformat()
    return value


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [_jsonable(r) for r in frame.iter_rows(named=True)]


def _parse_factors(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [{"factor": "unparsed", "weight": None, "points": None, "evidence": value}]
    if isinstance(value, dict):
        value = [value]
    return [f if isinstance(f, dict) else {"factor": str(f)} for f in value]


@dataclass(frozen=True)
class Dossier:
    """What :func:`vessel_dossier` found about one vessel (frames sorted by time)."""

    mmsi: int
    query: str
    resolution: Resolution
    identities: pl.DataFrame  # IDENTITIES rows of the vessel
    matches: pl.DataFrame  # watchlist_matches rows of the vessel (maybe no columns)
    risk: dict[str, Any] | None  # score, rank, factors (list of dicts); None when not scored
    events: pl.DataFrame  # EVENTS rows where the vessel is mmsi or other_mmsi
    track: pl.DataFrame  # TRACK_COLUMNS, sorted by ts
    others: dict[int, dict[str, Any]] = field(default_factory=dict)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def current(self) -> dict[str, Any]:
        """The latest identity period (empty dict when the vessel sent no static reports)."""
        if self.identities.height == 0:
            return {}
        return self.identities.row(-1, named=True)

    @property
    def name(self) -> str:
        """The latest ship name, else ``MMSI <n>``."""
        return self.current.get("shipname") or f"MMSI {self.mmsi}"

    @property
    def designated(self) -> bool:
        """True when a watchlist match of the vessel is confirmed (identifier match)."""
        return bool(self.matches.height and "status" in self.matches.columns
                    and (self.matches["status"] == "confirmed").any())

    @property
    def last_position(self) -> dict[str, Any] | None:
        """The last fix of the track: ts, lat, lon, sog, cog (None without positions)."""
        if self.track.height == 0:
            return None
        row = self.track.row(-1, named=True)
        return {k: row[k] for k in ("ts", "lat", "lon", "sog", "cog")}

    def timeline(self) -> list[dict[str, Any]]:
        """The events as JSON records (``seasight events --json``), each with ``other``: the
        other vessel of an encounter (mmsi, name, IMO, on a watchlist or not), else None."""
        out = []
        for rec in event_records(self.events):
            others = [m for m in rec["mmsi"] if m != self.mmsi]
            rec["other"] = self.others.get(others[0]) if others else None
            if others and rec["other"] is None:
                rec["other"] = {"mmsi": others[0], "shipname": None, "imo": None,
                                "watchlisted": False}
            out.append(rec)
        return out

    def track_summary(self) -> dict[str, Any]:
        """Number of fixes, first and last time, and bounding box of the track."""
        if self.track.height == 0:
            return {"n_points": 0, "start": None, "end": None, "bbox": None}
        t = self.track
        return {
            "n_points": t.height, "start": _iso(t["ts"].min()),  # type: ignore[arg-type]
            "end": _iso(t["ts"].max()),  # type: ignore[arg-type]
            "bbox": [t["lon"].min(), t["lat"].min(), t["lon"].max(), t["lat"].max()],
        }

    def to_json(self, *, track: bool = False) -> dict[str, Any]:
        """The dossier as a JSON-ready dict; ``track=True`` adds every fix of the track."""
        ident = _jsonable(self.current) if self.current else None
        if ident is not None:
            ident["ship_type_text"] = ship_type_text(ident.get("ship_type"))
        out: dict[str, Any] = {
            "query": self.query,
            "resolved_by": self.resolution.by,
            "match_score": self.resolution.score,
            "mmsi": self.mmsi,
            "name": self.name,
            "identity": ident,
            "identity_history": _records(self.identities),
            "related_mmsi": list(self.resolution.related_mmsi),
            "designated": self.designated,
            "watchlist_matches": _records(self.matches),
            "risk": _jsonable(self.risk),
            "events": self.timeline(),
            "event_counts": dict(sorted(self.events["kind"].value_counts().iter_rows()))
            if self.events.height else {},
            "last_position": _jsonable(self.last_position),
            "track": self.track_summary(),
            "generated_at": _iso(self.generated_at),
        }
        if track:
            out["track"]["points"] = [
                [_iso(r[0]), r[1], r[2], None if r[3] is None else round(float(r[3]), 2)]
                for r in self.track.select("ts", "lat", "lon", "sog").iter_rows()
            ]
        return out


def _other_vessels(events: pl.DataFrame, mmsi: int, identities: pl.DataFrame,
                   matches: pl.DataFrame) -> dict[int, dict[str, Any]]:
    if events.height == 0:
        return {}
    pairs = events.filter(pl.col("other_mmsi").is_not_null())
    ids = set(pairs["mmsi"].to_list()) | set(pairs["other_mmsi"].to_list())
    ids.discard(mmsi)
    if not ids:
        return {}
    latest = _latest_per_mmsi(conform(identities, IDENTITIES).filter(
        pl.col("mmsi").is_in(sorted(ids))))
    names = {int(r["mmsi"]): r for r in latest.iter_rows(named=True)}
    listed: dict[int, list[dict[str, Any]]] = {}
    if matches.height and "mmsi" in matches.columns:
        for r in matches.filter(pl.col("mmsi").is_in(sorted(ids))).iter_rows(named=True):
            listed.setdefault(int(r["mmsi"]), []).append(r)
    out = {}
    for other in sorted(ids):
        ident = names.get(other, {})
        hits = listed.get(other, [])
        out[other] = {
            "mmsi": other, "shipname": ident.get("shipname"), "imo": ident.get("imo"),
            "flag": ident.get("flag"), "watchlisted": bool(hits),
            "designated": any(h.get("status") == "confirmed" for h in hits),
            "lists": sorted({str(h.get("list_name")) for h in hits}),
        }
    return out


def build_dossier(query: str, resolution: Resolution, identities: pl.DataFrame,
                  events: pl.DataFrame, matches: pl.DataFrame, risk: pl.DataFrame,
                  positions: pl.DataFrame) -> Dossier:
    """A :class:`Dossier` from whole tables (no I/O); rows of other vessels are ignored,
    except for naming the other party of encounters.

    ``matches`` (watchlist_matches) and ``risk`` may have no rows or columns.
    """
    mmsi = resolution.mmsi
    ids = conform(identities, IDENTITIES)
    own_ids = ids.filter(pl.col("mmsi") == mmsi).sort("valid_from", nulls_last=False)
    ev = conform(events, EVENTS).filter(
        (pl.col("mmsi") == mmsi) | (pl.col("other_mmsi") == mmsi)
    ).sort(["start", "kind", "event_id"], nulls_last=True)
    own_matches = (matches.filter(pl.col("mmsi") == mmsi)
                   if matches.height and "mmsi" in matches.columns else matches.clear())
    if own_matches.height and "score" in own_matches.columns:
        order = ["status", "score"] if "status" in own_matches.columns else ["score"]
        own_matches = own_matches.sort(order, descending=[False, True][-len(order):])
    risk_row: dict[str, Any] | None = None
    if risk.height and "mmsi" in risk.columns:
        mine = risk.filter(pl.col("mmsi") == mmsi)
        if mine.height:
            row = mine.row(0, named=True)
            risk_row = {k: v for k, v in row.items() if k not in ("mmsi", "factors")}
            risk_row["factors"] = _parse_factors(row.get("factors"))
    pos = conform(positions.filter(pl.col("mmsi") == mmsi), POSITIONS)
    points = clean_positions(pos).points if pos.height else None
    if points is None or points.height == 0:
        track = pl.DataFrame(schema={
            "ts": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
            "sog": pl.Float32, "cog": pl.Float32, "heading": pl.UInt16,
            "nav_status": pl.UInt8, "on_land": pl.Boolean})
    else:
        track = points.select(TRACK_COLUMNS).sort("ts")
    return Dossier(
        mmsi=mmsi, query=query, resolution=resolution, identities=own_ids,
        matches=own_matches, risk=risk_row, events=ev, track=track,
        others=_other_vessels(ev, mmsi, ids, matches),
    )


def _read(store: Store, name: str, where: str | None = None,
          params: list[Any] | None = None) -> pl.DataFrame:
    """Rows of a table that may not exist (then an empty frame without columns)."""
    if not store.has_table(name):
        return pl.DataFrame()
    return store.query(f"SELECT * FROM {name}" + (f" WHERE {where}" if where else ""), params)


def _local_matches(store: Store, mmsis: set[int]) -> pl.DataFrame:
    """The matches of ``mmsis`` against the local organisation's lists (the installation's
    designations), or a frame without columns before any screening."""
    if not store.has_table("watchlist_matches"):
        return pl.DataFrame()
    found = watchlist_matches(store, organisations=[LOCAL])
    return found.filter(pl.col("mmsi").is_in(sorted(mmsis)))


def vessel_dossier(store: Store, query: str) -> Dossier:
    """The dossier of the vessel ``query`` names (MMSI, IMO or ship name) from ``store``.

    Raises:
        ValueError: an empty query.
        LookupError: no such vessel, or a name several vessels match (:class:`AmbiguousQueryError`).
    """
    identities = _read(store, "identities")
    if identities.width == 0:
        identities = empty(IDENTITIES)
    known: set[int] | None = None
    text = query.strip()
    if _names_mmsi(text) and store.has_table("positions"):
        hit = store.query("SELECT count(*) AS n FROM positions WHERE mmsi = ?", [int(text)])
        known = {int(text)} if hit["n"][0] else set()
    resolution = resolve_query(query, identities, known)
    mmsi = resolution.mmsi
    events = _read(store, "events", "mmsi = ? OR other_mmsi = ?", [mmsi, mmsi])
    if events.width == 0:
        events = empty(EVENTS)
    others = set(events["other_mmsi"].drop_nulls().to_list()) | set(events["mmsi"].to_list())
    others.add(mmsi)
    matches = _local_matches(store, others)
    risk = _read(store, "risk", "mmsi = ?", [mmsi])
    positions = _read(store, "positions", "mmsi = ?", [mmsi])
    if positions.width == 0:
        positions = empty(POSITIONS)
    return build_dossier(query, resolution, identities, events, matches, risk, positions)
