"""Console output never eats text: data reaches rich escaped (``seasight.cli.markup``).

rich reads ``[...]`` as markup, so an alert message ending in ``[listed ofac_sdn: YU JONG 2]``
lost that part in the demo. A behavioural test prints a vessel and an alert whose names hold
brackets; a static one reads every CLI module for rich calls that put a value into markup
without escaping it.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from rich.console import Console

from seasight.cli import alerts as cli_alerts
from seasight.cli.demo import _alerts_since
from seasight.cli.risk import risk_table
from seasight.cli.vessel import _print_text
from seasight.model.schema import EVENTS, IDENTITIES
from seasight.risk.alerts import ALERTS
from seasight.risk.dossier import Dossier, Resolution

CLI = Path(__file__).resolve().parents[1] / "src" / "seasight" / "cli"

NAME = "[bold]BLACK [PEARL] 7[/bold]"
MESSAGE = "encounter of 445272984 (YU JONG 2) [listed ofac_sdn: YU JONG 2]"


def _record_console() -> Console:
    return Console(record=True, width=400, force_terminal=False, color_system=None)


def _frame(schema: dict[str, pl.DataType], rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


T0 = datetime(2024, 3, 1, 7, 50, tzinfo=UTC)
T1 = datetime(2024, 3, 1, 14, 10, tzinfo=UTC)


def _alerts_frame() -> pl.DataFrame:
    return _frame(ALERTS, [{
        "alert_id": "a1b2c3d4e5f6", "rule": "encounter-with-designated-vessel [dprk]",
        "severity": "critical", "state": "new", "message": MESSAGE, "mmsi": 373740428,
        "other_mmsi": 445272984, "kind": "encounter", "start": T0, "end": T1,
        "created_at": T1, "updated_at": T1, "evidence": "{}"}])


def test_alert_messages_with_brackets_are_printed_whole(monkeypatch) -> None:
    frame = _alerts_frame()
    console = _record_console()
    monkeypatch.setattr("seasight.cli.demo.list_alerts", lambda store: frame)
    _alerts_since(None, set(), console)  # type: ignore[arg-type]
    text = console.export_text()
    assert MESSAGE in text and "[dprk]" in text

    table_console = _record_console()
    monkeypatch.setattr(cli_alerts, "Console", lambda **_: table_console)
    cli_alerts._print_alerts(frame, "alerts [all]", as_json=False)
    out = table_console.export_text()
    assert "[listed ofac_sdn: YU JONG 2]" in out and "alerts [all]" in out
    assert "critical" in out


def test_risk_table_prints_names_with_brackets_whole() -> None:
    records = [{"rank": 1, "mmsi": 445272984, "score": 100.0, "total_points": 100.0,
                "identity": {"shipname": NAME, "imo": 8604917, "flag": "[KP]"},
                "factors": [{"factor": "designated", "points": 100, "weight": 100,
                             "detail": "confirmed match: YU JONG 2 [ofac_sdn 23736]"}]}]
    console = _record_console()
    console.print(risk_table(records, "Riskiest [vessels]"))
    out = console.export_text()
    assert NAME in out and "[KP]" in out and "[ofac_sdn 23736]" in out
    assert "Riskiest [vessels]" in out


def test_vessel_dossier_prints_names_with_brackets_whole() -> None:
    identities = _frame(IDENTITIES, [
        {"mmsi": 445272984, "valid_from": T0, "valid_to": T0, "shipname": "[OLD] NAME"},
        {"mmsi": 445272984, "valid_from": T0, "valid_to": T1, "imo": 8604917,
         "callsign": "[HMYZ]", "shipname": NAME, "flag": "KP"}])
    events = _frame(EVENTS, [{
        "event_id": "e1", "kind": "encounter", "mmsi": 445272984, "other_mmsi": 373740428,
        "start": T0, "end": T1, "lat": 30.9, "lon": 124.4, "zone": "Reef [disputed]",
        "score": 0.9, "is_open": False, "evidence": "{}", "detector": "encounter/1"}])
    dossier = Dossier(
        mmsi=445272984, query=NAME, resolution=Resolution(445272984, "name"),
        identities=identities, matches=pl.DataFrame(), events=events,
        track=pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "lat": pl.Float64,
                                   "lon": pl.Float64}),
        risk={"score": 100, "rank": 1, "factors": [
            {"factor": "designated", "points": 100, "detail": "[listed ofac_sdn: YU JONG 2]"}]},
        others={373740428: {"mmsi": 373740428, "shipname": "MERIDIAN [VENTURE]", "imo": None,
                            "watchlisted": False}})
    console = _record_console()
    _print_text(dossier, console)
    out = console.export_text()
    assert NAME in out and "[HMYZ]" in out and "[OLD] NAME" in out
    assert "[listed ofac_sdn: YU JONG 2]" in out
    assert "Reef [disputed]" in out and "MERIDIAN [VENTURE]" in out


# --------------------------------------------------------------------------- static check

#: Console methods whose string arguments rich reads as markup.
_MARKUP_METHODS = {"print", "log", "rule", "status"}


def _escaped(node: ast.FormattedValue) -> bool:
    """A value placed into markup is escaped (``esc(...)``) or formatted as a number."""
    if node.format_spec is not None:
        return True  # {n:,} {x:.2f} {h:g}: digits only
    value = node.value
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and \
        value.func.id == "esc"


def _literal_text(node: ast.AST) -> bool:
    """``Text(...)``, ``Text.assemble(...)``: strings given to them are not markup."""
    func = node.func if isinstance(node, ast.Call) else None
    return (isinstance(func, ast.Name) and func.id == "Text") or (
        isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        and func.value.id == "Text")


def _markup_strings(node: ast.AST) -> list[ast.JoinedStr]:
    if _literal_text(node):
        return []
    found = [node] if isinstance(node, ast.JoinedStr) else []
    for child in ast.iter_child_nodes(node):
        found += _markup_strings(child)
    return found


def _unescaped(call: ast.Call) -> list[str]:
    found = []
    for arg in [*call.args, *(k.value for k in call.keywords if k.arg == "title")]:
        for sub in _markup_strings(arg):
            found += [ast.unparse(v.value) for v in sub.values
                      if isinstance(v, ast.FormattedValue) and not _escaped(v)]
    return found


def _markup_off(call: ast.Call) -> bool:
    return any(k.arg == "markup" and isinstance(k.value, ast.Constant) and
               k.value.value is False for k in call.keywords)


def test_cli_modules_escape_every_value_they_give_rich() -> None:
    problems = []
    for path in sorted(CLI.glob("*.py")):
        if path.name == "markup.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            func = call.func
            where = f"{path.name}:{call.lineno}"
            if isinstance(func, ast.Attribute) and func.attr == "add_row":
                problems.append(f"{where}: table.add_row (use markup.add_row)")
            elif isinstance(func, ast.Attribute) and func.attr in _MARKUP_METHODS \
                    and not _markup_off(call):
                problems += [f"{where}: {v} not escaped" for v in _unescaped(call)]
            elif isinstance(func, ast.Name) and func.id == "Table":
                problems += [f"{where}: title {v} not escaped" for v in _unescaped(call)]
    assert not problems, "\n".join(problems)
