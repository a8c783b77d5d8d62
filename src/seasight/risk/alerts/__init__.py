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

The package: :mod:`~seasight.risk.alerts.rules` (the rules file, read and validated),
:mod:`~seasight.risk.alerts.evaluation` (rules evaluated over columns, no I/O; the alerts'
texts), :mod:`~seasight.risk.alerts.lifecycle` (alerts in the store: firing, revising, states
and history). Every public name is importable from ``seasight.risk.alerts``.
"""

from seasight.risk.alerts.evaluation import (
    ALERT_CANDIDATES,
    alert_id,
    evaluate_rules,
    partner_message,
)
from seasight.risk.alerts.lifecycle import (
    ALERT_HISTORY,
    ALERTS,
    FIRED_BY,
    STATES,
    TRANSITIONS,
    AlertUpdate,
    UnknownAlertError,
    acknowledge,
    alert_history,
    alert_records,
    close,
    ensure_tables,
    fire_alerts,
    list_alerts,
    resolve_alert_id,
    set_alert_state,
    update_alerts,
)
from seasight.risk.alerts.rules import (
    MATCH_STATUSES,
    RULE_KEYS,
    SEVERITIES,
    VESSEL_KIND,
    Rule,
    RuleError,
    default_rules,
    default_rules_text,
    load_rules,
    parse_rules,
)

__all__ = [
    "ALERTS",
    "ALERT_CANDIDATES",
    "ALERT_HISTORY",
    "FIRED_BY",
    "MATCH_STATUSES",
    "RULE_KEYS",
    "SEVERITIES",
    "STATES",
    "TRANSITIONS",
    "VESSEL_KIND",
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
