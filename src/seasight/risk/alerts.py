"""Alerts: declarative rules over events, watchlist matches and risk, with a lifecycle.

Rules file
    A TOML file of ``[[rule]]`` tables (see ``seasight/data/alerts/default_rules.toml``, the
    rules a watch officer starts with). Every key but ``name`` is optional; conditions combine
    with AND, the values of one list-valued condition with OR::

        [[rule]]
        name = "encounter-with-designated-vessel"   # required, unique
        kinds = ["encounter"]           # event kinds (seasight.events.run.DETECTORS)
        other_lists = ["*"]             # the other vessel is on one of these watchlists
        severity = "critical"           # info | low | medium | high | critical

    =================  ======================================================================
    key                condition
    =================  ======================================================================
    ``kinds``          event kind is one of these (see ``seasight detect``)
    ``zones``          event zone name matches one of these patterns (``fnmatch``, any case)
    ``min_duration_h`` event lasted at least this many hours (``end - start``)
    ``min_score``      event confidence at least this (0-1)
    ``since``          event ends at or after this time (TOML date-time or ISO text, UTC)
    ``until``          event starts at or before this time
    ``window_h``       event ends within this many hours before *now* (the newest event end
                       in the data unless a time is given: replayed data behaves like live)
    ``lists``          the vessel is matched on a watchlist whose name matches a pattern
    ``other_lists``    the other vessel of the event (encounter party, previous MMSI) is
    ``match_status``   which matches count for ``lists``/``other_lists`` (default
                       ``["confirmed"]``; add ``"possible"`` for fuzzy name matches)
    ``ship_types``     the vessel's AIS ship type is one of these (30, or ranges "80-89")
    ``flags``          the vessel's flag (ISO 3166 alpha-2 from the MMSI) is one of these
    ``min_risk``       the vessel's risk score (``seasight risk``) is at least this (0-100)
    ``severity``       of the alert (default ``medium``)
    ``description``    free text shown with the alert
    ``enabled``        false keeps the rule in the file without firing it
    =================  ======================================================================

    The vessel's ship type and flag are those of its identity period at the event's start
    (fields the period lacks are taken from the vessel's nearest period that has them).

    An event with two vessels (an encounter, or a re-flagging linking a new MMSI to the old one)
    is looked at from both sides: the alert is about whichever vessel makes the rule hold (the
    event's ``mmsi`` first). So ``other_lists = ["*"]`` on encounters alerts on the vessel that
    met a listed one, whichever of the two MMSIs it is.

    A rule without ``kinds`` is a *vessel rule*: it fires once per vessel that meets its vessel
    conditions (``lists``, ``ship_types``, ``flags``, ``min_risk``; at least one is required),
    e.g. ``min_risk = 60``. Event conditions on a vessel rule are an error.

    Mistakes are reported as :class:`RuleError` naming the file, the line, the rule and the key
    (unknown keys, wrong types, unknown kinds or severities, bad times, duplicate names).

Never twice for the same evidence
    ``alert_id`` is a hash of the rule name and the event id (``vessel:<mmsi>`` for vessel
    rules). Event ids are stable (an open event extended by newer data keeps its id), and
    :func:`fire_alerts` inserts only ids not stored yet, so firing again, or after more data
    arrives, adds only alerts for new evidence. Renaming a rule makes it a new rule.

Growing events
    An alert's text says how long its event had lasted (``7.2 h so far`` while the event is
    open, ``lasted 7.2 h`` once it ended). When a later run finds the event grown (a later end,
    or ended), the alert is *revised* in place: same id, same state and firing time
    (``created_at``), new ``message``, ``end``, ``duration_h``, ``is_open``, ``evidence``,
    ``revised_at`` and ``revision`` + 1, while ``end_at_fire`` and ``duration_h_at_fire`` keep
    what the watch officer was first told; ``alert_history`` gets a row by ``seasight`` (state
    unchanged) whose note gives the old and new duration and the old text. An acknowledged
    alert stays acknowledged, a closed one closed.

Lifecycle
    ``new`` → ``acknowledged`` → ``closed``, or ``new`` → ``closed``; every change records who,
    when and a note, in the ``alerts`` row and in the append-only ``alert_history`` table (which
    also records when each alert fired and each revision). Anything else raises
    ``ValueError``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final

import duckdb
import polars as pl

from seasight.events.model import parse_utc
from seasight.events.run import DETECTORS
from seasight.risk.watchlists import ensure_screening, watchlist_matches
from seasight.schema import EVENTS, IDENTITIES, UTC_US, conform, empty
from seasight.sharing.origins import LOCAL
from seasight.store import Store

#: Alert severities, lowest first.
SEVERITIES: Final = ("info", "low", "medium", "high", "critical")

#: Alert states.
STATES: Final = ("new", "acknowledged", "closed")

#: State -> states it may move to.
TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    "new": ("acknowledged", "closed"),
    "acknowledged": ("closed",),
    "closed": (),
}

#: Watchlist match statuses (``seasight.risk.screening``).
MATCH_STATUSES: Final = ("confirmed", "possible")

#: The ``kind`` of alerts fired by vessel rules (rules without ``kinds``).
VESSEL_KIND: Final = "vessel"

#: Who fired an alert, in ``alert_history``.
FIRED_BY: Final = "seasight"

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

_US_PER_H = 3_600_000_000


class RuleError(ValueError):
    """A rules file that cannot be used; the message names the file, line, rule and key."""


class UnknownAlertError(ValueError):
    """No stored alert has this id (or the prefix is ambiguous)."""


@dataclass(frozen=True)
class Rule:
    """One alert rule (see the module documentation for what each field means)."""

    name: str
    kinds: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    min_duration_h: float | None = None
    min_score: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    window_h: float | None = None
    lists: tuple[str, ...] = ()
    other_lists: tuple[str, ...] = ()
    match_status: tuple[str, ...] = ("confirmed",)
    ship_types: tuple[tuple[int, int], ...] = ()  # inclusive ranges
    flags: tuple[str, ...] = ()
    min_risk: float | None = None
    severity: str = "medium"
    description: str = ""
    enabled: bool = True
    conditions: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_vessel_rule(self) -> bool:
        """True for rules without ``kinds``: they fire once per vessel, not per event."""
        return not self.kinds


# --------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------

_STR_LISTS = ("kinds", "zones", "lists", "other_lists", "match_status", "flags")
_NUMBERS = ("min_duration_h", "min_score", "window_h", "min_risk")
_TIMES = ("since", "until")
_EVENT_KEYS = ("zones", "min_duration_h", "min_score", "since", "until", "window_h",
               "other_lists")
_VESSEL_KEYS = ("lists", "ship_types", "flags", "min_risk")
RULE_KEYS: Final = ("name", *_STR_LISTS, "ship_types", *_NUMBERS, *_TIMES, "severity",
                    "description", "enabled")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_SHIP_RANGE = re.compile(r"^\s*(\d{1,3})\s*-\s*(\d{1,3})\s*$")


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table", datetime: "date-time", date: "date"}
    return names.get(type(value), type(value).__name__)


class _Locator:
    """Line numbers of ``[[rule]]`` tables and their keys in the TOML text, for messages."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.headers = [i for i, line in enumerate(self.lines) if _RULE_HEADER.match(line)]

    def where(self, index: int, key: str | None = None) -> str:
        if index >= len(self.headers):
            return self.source
        start = self.headers[index]
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines)
        line = start
        if key is not None:
            pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
            line = next((i for i in range(start, end) if pat.match(self.lines[i])), start)
        return f"{self.source}, line {line + 1}"


def _as_utc(value: object, where: str, key: str) -> datetime:
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        t = datetime.combine(value, time(0))
    elif isinstance(value, str):
        try:
            t = parse_utc(value)
        except ValueError:
            raise RuleError(f"{where}: {key!r} is not an ISO 8601 time: {value!r}") from None
    else:
        raise RuleError(f"{where}: {key!r} must be a date-time, got {_type_name(value)}")
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _parse_rule(raw: Mapping[str, Any], index: int, loc: _Locator) -> Rule:
    label = f"rule #{index + 1}"
    if isinstance(raw.get("name"), str) and raw["name"].strip():
        label += f" {raw['name'].strip()!r}"

    def err(key: str | None, message: str) -> RuleError:
        what = f"{label}, key {key!r}" if key else label
        return RuleError(f"{loc.where(index, key)}: {what}: {message}")

    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        raise err(unknown[0], f"unknown key; allowed keys: {', '.join(RULE_KEYS)}")
    name = raw.get("name")
    if name is None:
        raise err(None, "missing required key 'name'")
    if not isinstance(name, str) or not name.strip():
        raise err("name", f"must be a non-empty string, got {_type_name(name)}")
    values: dict[str, Any] = {"name": name.strip()}

    for key in _STR_LISTS:
        if key not in raw:
            continue
        v = raw[key]
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise err(key, f"must be an array of non-empty strings, got {_type_name(v)}")
        if not v:
            raise err(key, "is empty (leave the key out to not filter on it)")
        values[key] = tuple(x.strip() for x in v)
    for key in _NUMBERS:
        if key not in raw:
            continue
        v = raw[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise err(key, f"must be a number, got {_type_name(v)}")
        if v < 0:
            raise err(key, f"must not be negative, got {v}")
        values[key] = float(v)
    if values.get("min_score", 0.0) > 1:
        raise err("min_score", "event scores are in [0, 1]")
    if values.get("min_risk", 0.0) > 100:
        raise err("min_risk", "risk scores are in [0, 100]")
    for key in _TIMES:
        if key in raw:
            values[key] = _as_utc(raw[key], f"{loc.where(index, key)}: {label}", key)
    if "since" in values and "until" in values and values["since"] > values["until"]:
        raise err("until", "is before 'since'")

    if "ship_types" in raw:
        v = raw["ship_types"]
        items = v if isinstance(v, list) else [v]
        ranges: list[tuple[int, int]] = []
        for x in items:
            if isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255:
                ranges.append((x, x))
                continue
            m = _SHIP_RANGE.match(x) if isinstance(x, str) else None
            if m is None or not int(m[1]) <= int(m[2]) <= 255:
                raise err("ship_types", f"must be AIS ship types 0-255 or ranges like "
                                        f"\"80-89\", got {x!r}")
            ranges.append((int(m[1]), int(m[2])))
        if not ranges:
            raise err("ship_types", "is empty (leave the key out to not filter on it)")
        values["ship_types"] = tuple(ranges)

    for key in ("severity", "description"):
        if key in raw and not isinstance(raw[key], str):
            raise err(key, f"must be a string, got {_type_name(raw[key])}")
    if "severity" in raw:
        sev = raw["severity"].strip().lower()
        if sev not in SEVERITIES:
            raise err("severity", f"unknown severity {raw['severity']!r}; "
                                  f"choose from {', '.join(SEVERITIES)}")
        values["severity"] = sev
    if "description" in raw:
        values["description"] = raw["description"].strip()
    if "enabled" in raw:
        if not isinstance(raw["enabled"], bool):
            raise err("enabled", f"must be true or false, got {_type_name(raw['enabled'])}")
        values["enabled"] = raw["enabled"]

    bad_kinds = [k for k in values.get("kinds", ()) if k not in DETECTORS]
    if bad_kinds:
        raise err("kinds", f"unknown event kind {bad_kinds[0]!r}; "
                           f"choose from {', '.join(DETECTORS)}")
    values["kinds"] = tuple(dict.fromkeys(values.get("kinds", ())))
    bad_status = [s for s in values.get("match_status", ()) if s not in MATCH_STATUSES]
    if bad_status:
        raise err("match_status", f"unknown match status {bad_status[0]!r}; "
                                  f"choose from {', '.join(MATCH_STATUSES)}")
    if "flags" in values:
        flags = tuple(f.upper() for f in values["flags"])
        bad = [f for f in flags if not re.fullmatch(r"[A-Z]{2}", f)]
        if bad:
            raise err("flags", f"flags are ISO 3166 alpha-2 codes like \"KP\", got {bad[0]!r}")
        values["flags"] = flags

    if not values["kinds"]:
        if "kinds" in raw:
            raise err("kinds", "is empty")
        event_keys = [k for k in _EVENT_KEYS if k in raw]
        if event_keys:
            raise err(event_keys[0], "is an event condition: give 'kinds' too (a rule "
                                     "without 'kinds' is a vessel rule)")
        if not any(k in raw for k in _VESSEL_KEYS):
            raise err(None, "has no condition: give 'kinds' (event rule) or one of "
                            f"{', '.join(_VESSEL_KEYS)} (vessel rule)")
    if "match_status" in raw and not ("lists" in raw or "other_lists" in raw):
        raise err("match_status", "applies to 'lists'/'other_lists', and neither is given")

    values["conditions"] = {k: raw[k] for k in raw
                            if k not in ("name", "severity", "description", "enabled")}
    values["conditions"] = json.loads(json.dumps(values["conditions"], default=str))
    return Rule(**values)


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """Rules from TOML text; raises :class:`RuleError` with the line, rule and key at fault."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: not valid TOML: {exc}") from None
    unknown = [k for k in doc if k != "rule"]
    if unknown:
        raise RuleError(f"{source}: unknown top-level key {unknown[0]!r}: "
                        f"rules are [[rule]] tables")
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise RuleError(f"{source}: 'rule' must be an array of tables ([[rule]])")
    loc = _Locator(text, source)
    rules = [_parse_rule(raw, i, loc) for i, raw in enumerate(raw_rules)]
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise RuleError(f"{loc.where(i, 'name')}: rule #{i + 1} {rule.name!r}: duplicate "
                            f"name (also rule #{seen[rule.name] + 1}); names identify alerts")
        seen[rule.name] = i
    return rules


def load_rules(path: str | Path) -> list[Rule]:
    """Rules from a TOML file (see the module documentation)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rules file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{p}: not UTF-8 text") from None
    return parse_rules(text, str(p))


def default_rules_text() -> str:
    """The shipped starting rules (``seasight/data/alerts/default_rules.toml``)."""
    ref = resources.files("seasight") / "data" / "alerts" / "default_rules.toml"
    return ref.read_text(encoding="utf-8")


def default_rules() -> list[Rule]:
    """The shipped starting rules, parsed."""
    return parse_rules(default_rules_text(), "default_rules.toml")


# --------------------------------------------------------------------------------------------
# Evaluation (pure)
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Store: firing and lifecycle
# --------------------------------------------------------------------------------------------

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


__all__ = [
    "ALERTS",
    "ALERT_CANDIDATES",
    "ALERT_HISTORY",
    "RULE_KEYS",
    "SEVERITIES",
    "STATES",
    "TRANSITIONS",
    "AlertUpdate",
    "Rule",
    "RuleError",
    "UnknownAlertError",
    "acknowledge",
    "alert_history",
    "alert_id",
    "alert_records",
    "close",
    "default_rules",
    "default_rules_text",
    "ensure_tables",
    "evaluate_rules",
    "fire_alerts",
    "list_alerts",
    "load_rules",
    "parse_rules",
    "partner_message",
    "resolve_alert_id",
    "set_alert_state",
    "update_alerts",
]
