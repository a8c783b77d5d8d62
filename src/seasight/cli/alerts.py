"""``seasight alerts``: list, fire, acknowledge and close alerts.

A thin layer over :mod:`seasight.risk.alerts`.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seasight.cli.markup import add_row, esc
from seasight.cli.options import DB, DB_EXISTING, JSON, fail, open_store
from seasight.risk.alerts import (
    STATES,
    Rule,
    RuleError,
    alert_history,
    alert_records,
    default_rules,
    fire_alerts,
    list_alerts,
    load_rules,
    resolve_alert_id,
    set_alert_state,
)

EPILOG = """Examples:

  seasight alerts fire --db sea.duckdb                  # the shipped default rules
  seasight alerts fire --db sea.duckdb --rules my_rules.toml
  seasight alerts --db sea.duckdb                       # open alerts (new and acknowledged)
  seasight alerts --state closed --json | jq .message
  seasight alerts ack 3fa9c0 --note "Tasked patrol aircraft" --by "watch officer 2"
  seasight alerts close 3fa9c0 --note "Fishing licence confirmed"

An alert fires once per rule and piece of evidence (event): firing again adds only new ones.
IDs may be abbreviated to any unique prefix.
"""

#: --state values besides the states themselves.
_STATE_GROUPS = {"open": ("new", "acknowledged"), "all": STATES}

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan",
                   "info": "dim"}

app = typer.Typer(
    name="alerts",
    help="Alerts from declarative rules: list them, fire rules, acknowledge and close.",
    epilog=EPILOG,
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _states(value: str) -> tuple[str, ...]:
    v = value.strip().lower()
    if v in _STATE_GROUPS:
        return _STATE_GROUPS[v]
    if v in STATES:
        return (v,)
    raise typer.BadParameter(
        f"unknown state {value!r}; choose from {', '.join((*STATES, *_STATE_GROUPS))}",
        param_hint="--state")


def _print_alerts(alerts: pl.DataFrame, title: str, as_json: bool) -> None:
    if as_json:
        for rec in alert_records(alerts):
            typer.echo(json.dumps(rec))
        return
    table = Table(title=esc(title))
    for col in ("id", "severity", "state", "rule", "alert"):
        table.add_column(col, overflow="fold")
    for rec in alert_records(alerts):
        sev = rec["severity"] or ""
        add_row(table, rec["alert_id"], Text(sev, style=_SEVERITY_STYLE.get(sev, "")),
                rec["state"], rec["rule"], rec["message"])
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))  # piped: room for the messages
    console.print(table)


@app.callback()
def alerts(
    ctx: typer.Context,
    db: Path = DB_EXISTING,
    state: str = typer.Option(
        "open", "--state",
        help="new, acknowledged, closed, open (new and acknowledged) or all."),
    as_json: bool = JSON,
) -> None:
    """List alerts, most severe first (default: the open ones)."""
    if ctx.invoked_subcommand is not None:
        return
    states = _states(state)
    with open_store(db, read_only=True) as store:
        found = list_alerts(store, states)
    _print_alerts(found, f"{found.height:,} alerts ({state})", as_json)


def _change(db: Path, alert_id: str, to: str, note: str, by: str | None,
            as_json: bool) -> None:
    if not note.strip():
        raise typer.BadParameter("a note is required", param_hint="--note")
    who = by if by is not None else _user()
    if not who.strip():
        raise typer.BadParameter("must not be empty", param_hint="--by")
    with open_store(db) as store:
        try:
            row = set_alert_state(store, alert_id, to, who, note)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(alert_records(pl.DataFrame([row]))[0]))
    else:
        typer.echo(f"alert {row['alert_id']} {to} by {row['updated_by']}: {row['message']}")


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


NOTE = typer.Option(..., "--note", help="Why (what was done, what was found).")
BY = typer.Option(None, "--by", help="Who (default: the login name).")


@app.command("ack")
def ack(alert_id: str = typer.Argument(..., metavar="ID", help="Alert id or unique prefix."),
        note: str = NOTE, by: str | None = BY, db: Path = DB, as_json: bool = JSON) -> None:
    """Acknowledge a new alert."""
    _change(db, alert_id, "acknowledged", note, by, as_json)


@app.command("close")
def close(alert_id: str = typer.Argument(..., metavar="ID", help="Alert id or unique prefix."),
          note: str = NOTE, by: str | None = BY, db: Path = DB, as_json: bool = JSON) -> None:
    """Close a new or acknowledged alert."""
    _change(db, alert_id, "closed", note, by, as_json)


RULES = typer.Option(None, "--rules", help="TOML rules file (default: the shipped rules).",
                     exists=True, dir_okay=False)


def _rules(path: Path | None) -> list[Rule]:
    try:
        return load_rules(path) if path is not None else default_rules()
    except RuleError as exc:
        raise fail(str(exc)) from exc


@app.command("fire")
def fire(rules: Path | None = RULES, db: Path = DB, as_json: bool = JSON) -> None:
    """Evaluate the rules over stored events, watchlist matches and risk; store new alerts."""
    rule_list = _rules(rules)
    with open_store(db) as store:
        new = fire_alerts(store, rule_list)
    if as_json:
        for rec in alert_records(new):
            typer.echo(json.dumps(rec))
        return
    if new.height:
        _print_alerts(new, f"{new.height:,} new alerts", as_json=False)
    enabled = sum(r.enabled for r in rule_list)
    typer.echo(f"{enabled} rules evaluated, {new.height:,} new alerts.", err=True)


@app.command("check")
def check(rules: Path = typer.Argument(..., exists=True, dir_okay=False,
                                       help="TOML rules file."),
          as_json: bool = JSON) -> None:
    """Validate a rules file without firing it."""
    rule_list = _rules(rules)
    if as_json:
        typer.echo(json.dumps([{"name": r.name, "severity": r.severity, "enabled": r.enabled,
                                "conditions": r.conditions} for r in rule_list]))
        return
    for r in rule_list:
        conds = ", ".join(f"{k}={v}" for k, v in r.conditions.items())
        off = "" if r.enabled else " (disabled)"
        typer.echo(f"{r.name} [{r.severity}]{off}: {conds}")
    typer.echo(f"{rules}: {len(rule_list)} rules OK", err=True)


@app.command("history")
def history(alert_id: str = typer.Argument(..., metavar="ID", help="Alert id or prefix."),
            db: Path = DB_EXISTING, as_json: bool = JSON) -> None:
    """Every state change of one alert: who, when, note."""
    with open_store(db, read_only=True) as store:
        try:
            full = resolve_alert_id(store, alert_id)
        except ValueError as exc:
            raise fail(str(exc)) from exc
        rows = alert_history(store, full)
    recs = [{**r, "ts": r["ts"].isoformat().replace("+00:00", "Z")}
            for r in rows.iter_rows(named=True)]
    if as_json:
        for rec in recs:
            typer.echo(json.dumps(rec))
        return
    for rec in recs:
        typer.echo(f"{rec['ts']}  {rec['from_state'] or '-':>12} -> {rec['to_state']:<12} "
                   f"{rec['by']}: {rec['note'] or ''}")
