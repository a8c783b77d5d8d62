"""Alert rules: the TOML rules file, read and validated (see :mod:`seasight.risk.alerts`)."""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any, Final

from seasight.events.model import parse_utc
from seasight.events.run import DETECTORS

#: Alert severities, lowest first.
SEVERITIES: Final = ("info", "low", "medium", "high", "critical")

#: Watchlist match statuses (``seasight.risk.screening``).
MATCH_STATUSES: Final = ("confirmed", "possible")

#: The ``kind`` of alerts fired by vessel rules (rules without ``kinds``).
VESSEL_KIND: Final = "vessel"


class RuleError(ValueError):
    """A rules file that cannot be used; the message names the file, line, rule and key."""

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
