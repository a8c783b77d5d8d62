"""``seasight risk``: vessels by descending risk, each with its identity and scored factors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from seasight.cli.markup import add_row, esc
from seasight.cli.options import DB_EXISTING, JSON, fail, open_store
from seasight.risk.score import risk_store

RISK_EPILOG = """Examples:

  seasight risk --db sea.duckdb --top 10

  seasight risk --json | jq 'select(.score >= 50) | .mmsi'

Scores every vessel from the stored events, identities and watchlist matches (run
`seasight detect` and `seasight watchlist add` first), stores the result in table `risk` and
lists the highest first. Each score is the sum of its factors' points, capped at 100.
"""


def _records(frame: Any) -> list[dict[str, Any]]:
    out = []
    for row in frame.iter_rows(named=True):
        out.append({
            "rank": row["rank"], "mmsi": row["mmsi"], "score": row["score"],
            "total_points": row["total_points"],
            "identity": {"shipname": row["shipname"], "imo": row["imo"], "flag": row["flag"]},
            "factors": json.loads(row["factors"] or "[]"),
        })
    return out


def risk_table(records: list[dict[str, Any]], title: str) -> Table:
    """Ranked vessels with one line per risk factor, as a rich table."""
    table = Table(title=esc(title))
    for col in ("rank", "MMSI", "name", "IMO", "flag", "score", "factors"):
        table.add_column(col, justify="right" if col in ("rank", "score") else "left")
    for rec in records:
        ident = rec["identity"]
        factors = "\n".join(f"{f['factor']} {f['points']:g}/{f['weight']:g}: {f['detail']}"
                            for f in rec["factors"])
        add_row(table, str(rec["rank"]), str(rec["mmsi"]), ident["shipname"],
                ident["imo"], ident["flag"], f"{rec['score']:.1f}", factors or "-")
    return table


def risk_records(frame: Any) -> list[dict[str, Any]]:
    """RISK rows as JSON-ready records (identity nested, factors parsed)."""
    return _records(frame)


def risk(
    db: Path = DB_EXISTING,
    top: int = typer.Option(20, "--top", min=0, help="Show the N riskiest vessels (0: all)."),
    as_json: bool = JSON,
) -> None:
    """Score every vessel's risk and list them, highest first, with their factors."""
    if not db.exists():
        raise fail(f"no such database: {db}")
    with open_store(db) as store:
        scores = risk_store(store)
    shown = scores.head(top) if top else scores
    records = _records(shown)
    if as_json:
        for rec in records:
            typer.echo(json.dumps(rec))
        return
    title = f"Vessel risk in {db} ({len(records)} of {scores.height:,} vessels)"
    table = risk_table(records, title)
    Console().print(table)
