"""``seasight watchlist``: add, list, remove and screen sanctions and watch lists."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from seasight.cli.markup import add_row, esc
from seasight.cli.options import DB, DB_EXISTING, JSON, fail, open_store
from seasight.risk.screening import screen_store
from seasight.risk.watchlists import (
    ScreeningChange,
    add_watchlist,
    list_watchlists,
    load_watchlist,
    remove_watchlist,
)

EPILOG = """Examples:

  seasight watchlist add ofac_sdn_vessels_2021-07.csv --db sea.duckdb

  seasight watchlist add partners.json --name partner-list --json

  seasight watchlist list --json

  seasight watchlist remove partner-list

A list in the OFAC layout is named ofac_sdn unless --name is given; adding a list of a name
already stored replaces it, screens every stored vessel identity again and records the matches
that appeared and disappeared. The command acts as the installation's own organisation
(local): add and remove change its lists only, list shows every organisation's with its owner.
"""

app = typer.Typer(
    name="watchlist",
    help="Sanctions and watch lists: add, list, remove; vessels are screened against them.",
    no_args_is_help=True,
    add_completion=False,
    epilog=EPILOG,
)


def _print_change(change: ScreeningChange, verb: str) -> None:
    console = Console(stderr=True)
    versions = (f"version {change.version}" if change.version else "")
    if change.previous_version and change.previous_version != change.version:
        versions += f" (was {change.previous_version})"
    console.print(f"{esc(verb)} list [bold]{esc(change.list_name)}[/] {esc(versions)}: "
                  f"{change.n_entries:,} "
                  f"entries ({change.entries_added:,} new, {change.entries_removed:,} gone); "
                  f"{change.n_matches:,} matches, {change.added.height:,} added, "
                  f"{change.removed.height:,} removed.")
    rows = [("added", r) for r in change.added.to_dicts()] + [
        ("removed", r) for r in change.removed.to_dicts()]
    if rows:
        table = Table(title="Changed matches")
        for col in ("change", "mmsi", "entry", "matched on", "vessel", "list", "score",
                    "status"):
            table.add_column(col)
        for kind, r in rows:
            add_row(table, kind, str(r["mmsi"]), f"{r['entry_name']} ({r['entry_id']})",
                    r["matched_on"], r["vessel_value"], r["list_value"], f"{r['score']:.1f}",
                    r["status"])
        console.print(table)


@app.command("add")
def add(
    file: Path = typer.Argument(..., help="Watchlist file: CSV (OFAC or generic layout) or "
                                "JSON.", exists=True, dir_okay=False),
    name: str | None = typer.Option(None, "--name", help="Name of the list (default: "
                                    "ofac_sdn for the OFAC layout, else the file's stem)."),
    db: Path = DB,
    as_json: bool = JSON,
) -> None:
    """Add a list (or a new version of one) and screen the stored vessels against it."""
    try:
        watchlist = load_watchlist(file, name=name)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    with open_store(db) as store:
        change = add_watchlist(store, watchlist)
    if as_json:
        typer.echo(json.dumps(change.to_json()))
    else:
        _print_change(change, "Added")


@app.command("list")
def list_command(db: Path = DB_EXISTING, as_json: bool = JSON) -> None:
    """The stored lists of every organisation with their owners, versions, entries and
    matches."""
    with open_store(db, read_only=True) as store:
        records = list_watchlists(store).to_dicts()
    if as_json:
        for rec in records:
            rec["loaded_at"] = rec["loaded_at"].isoformat() if rec["loaded_at"] else None
            typer.echo(json.dumps(rec))
        return
    table = Table(title=f"{len(records):,} watchlist(s) in {esc(db)}")
    for col in ("name", "version", "entries", "matches", "vessels", "loaded", "source",
                "owner"):
        table.add_column(col, justify="right" if col in ("entries", "matches", "vessels")
                         else "left", no_wrap=col in ("name", "owner"),
                         overflow="fold" if col == "source" else "ellipsis")
    for rec in records:
        add_row(table, rec["list_name"], rec["list_version"], f"{rec['n_entries']:,}",
                f"{rec['n_matches']:,}", f"{rec['n_vessels']:,}",
                f"{rec['loaded_at']:%Y-%m-%d %H:%M}Z" if rec["loaded_at"] else "",
                rec["source"], rec["organisation"])
    Console().print(table)


@app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Name of the list to forget."),
    db: Path = DB,
    as_json: bool = JSON,
) -> None:
    """Forget a list of the local organisation, its entries and its matches."""
    with open_store(db) as store:
        change = remove_watchlist(store, name)
    if change is None:
        raise fail(f"no watchlist named {name!r} in {db}")
    if as_json:
        typer.echo(json.dumps(change.to_json()))
    else:
        _print_change(change, "Removed")


@app.command("screen")
def screen_command(db: Path = DB, as_json: bool = JSON) -> None:
    """Screen the stored identity history against every stored list again (after detect)."""
    with open_store(db) as store:
        matches = screen_store(store)
    if as_json:
        for rec in matches.to_dicts():
            for key in ("valid_from", "valid_to"):
                rec[key] = rec[key].isoformat() if rec[key] else None
            typer.echo(json.dumps(rec))
        return
    table = Table(title=f"{matches.height:,} watchlist matches")
    for col in ("mmsi", "list", "entry", "matched on", "vessel", "list value", "score",
                "status"):
        table.add_column(col)
    for r in matches.to_dicts():
        add_row(table, str(r["mmsi"]), r["list_name"], f"{r['entry_name']} ({r['entry_id']})",
                r["matched_on"], r["vessel_value"], r["list_value"], f"{r['score']:.1f}",
                r["status"])
    Console().print(table)
