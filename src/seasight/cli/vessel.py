"""``seasight vessel``: the dossier of one vessel (text, JSON or a self-contained HTML file)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from seasight.cli.markup import add_row, esc
from seasight.cli.options import DB_EXISTING, JSON, fail, open_store
from seasight.risk.dossier import Dossier, vessel_dossier
from seasight.risk.dossier_html import render_html

VESSEL_EPILOG = """Examples:

  seasight vessel "YU JONG 2" --html yu-jong-2.html

  seasight vessel "IMO 8604917" --json | jq .risk

  seasight vessel "m/v yu jong 2"

QUERY is an MMSI (9 digits), an IMO number (7 digits or "IMO 1234567") or a ship name
(current or former; matched without M/V-style prefixes and punctuation, fuzzily when no name
matches exactly). A name several vessels match equally well is an error that lists them.
"""


def _short(iso: str | None) -> str:
    return "" if iso is None else iso[:16].replace("T", " ")


def _print_text(d: Dossier, console: Console) -> None:
    cur = d.current
    risk = d.risk or {}
    console.print(f"[bold]{esc(d.name)}[/bold]  MMSI {esc(d.mmsi)}  "
                  f"IMO {esc(cur.get('imo') or '-')}  call sign {esc(cur.get('callsign') or '-')}"
                  f"  flag {esc(cur.get('flag') or '-')}")
    score = risk.get("score")
    status = ("DESIGNATED" if d.designated
              else "possible watchlist match" if d.matches.height else "no watchlist match")
    rank = risk.get("rank")
    score_text = "-" if score is None else f"{float(score):.0f}"
    rank_text = "" if rank is None else f" (rank {rank})"
    console.print(f"risk score {score_text}{rank_text}; {status}", markup=False)
    last = d.last_position
    if last is not None:
        console.print(f"last position {last['ts']:%Y-%m-%d %H:%M} UTC at "
                      f"{last['lat']:.4f}, {last['lon']:.4f}")
    if d.identities.height > 1:
        console.print(f"{d.identities.height:,} identity periods:")
        for r in d.identities.iter_rows(named=True):
            console.print(f"  {r['valid_from']:%Y-%m-%d %H:%M} – {r['valid_to']:%Y-%m-%d %H:%M}"
                          f"  {r['shipname'] or '?'}  IMO {r['imo'] or '?'}  "
                          f"{r['callsign'] or '?'}  {r['flag'] or '?'}", markup=False)
    for f in risk.get("factors", []):
        detail = f" ({f['detail']})" if f.get("detail") else ""
        console.print(f"  factor {f.get('factor')}: {f.get('points')} points{detail}",
                      markup=False)
    table = Table(title=f"{d.events.height:,} events")
    for col in ("start", "end", "kind", "where", "other vessel"):
        table.add_column(col)
    for rec in d.timeline():
        other = rec.get("other")
        where = rec["zone"] or (f"{rec['lat']:.3f}, {rec['lon']:.3f}"
                                if rec["lat"] is not None else "")
        add_row(table, _short(rec["start"]), _short(rec["end"]), rec["kind"], where,
                "" if not other else f"{other.get('shipname') or ''} {other['mmsi']}")
    console.print(table)


def vessel(
    query: str = typer.Argument(..., help="MMSI, IMO number or ship name."),
    db: Path = DB_EXISTING,
    as_json: bool = JSON,
    html: Path | None = typer.Option(None, "--html", dir_okay=False,
                                     help="Write the dossier as one self-contained HTML file."),
) -> None:
    """Everything known about one vessel: identities, watchlist matches, risk, events, track."""
    if not query.strip():
        raise typer.BadParameter("empty query", param_hint="QUERY")
    try:
        with open_store(db, read_only=True) as store:
            dossier = vessel_dossier(store, query)
    except duckdb.Error as exc:
        raise fail(f"cannot read {db}: {exc}") from exc
    except LookupError as exc:
        raise fail(str(exc.args[0]) if exc.args else str(exc)) from exc
    if html is not None:
        try:
            html.write_text(render_html(dossier), encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {html}: {exc}") from exc
    if as_json:
        out = dossier.to_json()
        if html is not None:
            out["html"] = str(html)
        typer.echo(json.dumps(out))
        return
    console = Console()
    _print_text(dossier, console)
    if html is not None:
        console.print(f"dossier written to {html}", markup=False)
