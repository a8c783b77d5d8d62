"""``seasight demo``: the main job on the built-in simulated Indo-Pacific scenario.

It simulates two days of traffic through the Malacca Strait, the Bay of Bengal and the South
and East China Seas (with a ship-to-ship transfer involving a vessel on the OFAC DPRK list, a
vessel going dark in the Andaman Sea and a fishing fleet loitering at a disputed reef), writes
the feed as a receiver network would deliver it (duplicates, out-of-order and corrupt lines),
ingests it, detects events, shows what was found and scores it against the planted truth; then
it screens every identity against the shipped OFAC list, ranks vessels by risk, fires the
default alert rules and writes the dossier of the riskiest vessel that is not itself listed
(the tanker that met the DPRK-listed vessel) beside the feed.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from seasight.cli.risk import risk_records, risk_table
from seasight.cli.summary import print_report
from seasight.detection import detect_store
from seasight.evaluate import evaluate, load_truth
from seasight.events.run import DETECTORS
from seasight.geo.zones import load_zones
from seasight.ingest import ingest_paths
from seasight.risk.alerts import SEVERITIES, alert_records, default_rules, fire_alerts
from seasight.risk.dossier import vessel_dossier
from seasight.risk.dossier_html import render_html
from seasight.risk.score import risk_store
from seasight.risk.watchlists import add_watchlist, default_watchlists
from seasight.sim import simulate, write_simulation
from seasight.store import Store

DEMO_DB = Path("seasight-demo.duckdb")
DEMO_DIR = Path("seasight-demo")

#: Kinds whose events the demo lists one by one (the rest are counted).
_HIGHLIGHT = ("encounter", "gap", "spoofing", "identity_change", "zone_entry")


def demo(
    db: Path = typer.Option(DEMO_DB, "--db", help="Database file for the demo (recreated)."),
    out: Path = typer.Option(DEMO_DIR, "--out", help="Folder for the simulated feed and truth."),
    vessels: int = typer.Option(300, "--vessels", min=50, help="Vessels to simulate."),
    hours: float = typer.Option(48.0, "--hours", min=24.0, help="Hours to simulate."),
    seed: int = typer.Option(7, "--seed", help="Simulation seed."),
) -> None:
    """Simulate Indo-Pacific traffic, ingest it, detect events and score them."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 130))  # piped: room for the tables
    for suffix in ("", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    console.rule("[bold]SeaSight demo: simulated Indo-Pacific traffic")
    with console.status("simulating..."):
        sim = simulate("indo-pacific", hours=hours, vessels=vessels, seed=seed)
        stats = write_simulation(sim, out)
    console.print(f"{vessels} vessels for {hours:g} h: [bold]{out / 'feed.nmea'}[/] "
                  f"({stats.get('lines', 0):,} lines, with receiver noise), "
                  f"{out / 'truth.json'}, {out / 'zones.geojson'}")
    report = ingest_paths([out / "feed.nmea"], db)
    print_report(report, console)
    zones = load_zones([out / "zones.geojson"])
    with Store(db) as store, console.status("detecting..."):
        done = detect_store(store, zones)
    result = done.result
    console.rule("[bold]Events")
    _events_table(result.events, result.identities, console)
    console.rule("[bold]Against the planted truth")
    _score_table(result.events, out / "truth.json", console)
    console.rule("[bold]Sanctions screening, risk and alerts")
    dossier = _screen_and_score(db, out, console)
    console.print(
        f"\nDatabase: [bold]{db}[/]. Try:\n"
        f"  seasight events --db {db} --kind encounter --json\n"
        f"  seasight risk --db {db} --top 10\n"
        f"  seasight alerts --db {db}\n"
        f"  seasight vessel <MMSI|IMO|NAME> --db {db} --html dossier.html\n"
        f"  seasight evaluate --truth {out / 'truth.json'} --db {db}")
    if dossier is not None:
        console.print(f"Dossier of the riskiest vessel not itself on a list: [bold]{dossier}[/]")


def _screen_and_score(db: Path, out: Path, console: Console) -> Path | None:
    """Screen against the shipped OFAC list, score risk, fire the default alert rules and write
    the dossier of the riskiest vessel that is not itself designated; returns its path."""
    with Store(db) as store:
        ofac = default_watchlists()[0]
        change = add_watchlist(store, ofac)
        scores = risk_store(store)
        fired = fire_alerts(store, default_rules())
        console.print(f"Screened every identity against {ofac.name} ({ofac.entries.height} "
                      f"vessels): {change.n_matches} matches. "
                      f"{fired.height} alerts fired by the default rules.")
        records = risk_records(scores.head(10))
        console.print(risk_table(records, "Riskiest vessels"))
        rank = {name: i for i, name in enumerate(reversed(SEVERITIES))}
        ordered = fired.sort(pl.col("severity").replace_strict(rank, default=len(rank)))
        for row in alert_records(ordered)[:8]:
            console.print(f"  [bold]{row['severity']}[/] {row['rule']}: {row['message']}")
        suspect = next((r for r in risk_records(scores) if r["score"] > 0 and not any(
            f["factor"] == "designated" for f in r["factors"])), None)
        if suspect is None:
            return None
        path = out / f"dossier-{suspect['mmsi']}.html"
        path.write_text(render_html(vessel_dossier(store, str(suspect["mmsi"]))),
                        encoding="utf-8")
        return path


def _names(identities: pl.DataFrame) -> dict[int, str]:
    latest = (identities.filter(pl.col("shipname").is_not_null())
              .sort("valid_to").group_by("mmsi").last())
    return dict(zip(latest["mmsi"].to_list(), latest["shipname"].to_list(), strict=True))


def _events_table(events: pl.DataFrame, identities: pl.DataFrame, console: Console) -> None:
    counts = events.group_by("kind").len()
    by_kind = dict(zip(counts["kind"].to_list(), counts["len"].to_list(), strict=True))
    console.print("  ".join(f"{k} [bold]{by_kind.get(k, 0)}[/]" for k in DETECTORS))
    names = _names(identities)
    table = Table(title="Events a watch officer would look at first")
    for col in ("kind", "start (UTC)", "hours", "vessels", "where", "score"):
        table.add_column(col, no_wrap=col in ("kind", "start (UTC)"))
    shown = events.filter(pl.col("kind").is_in(list(_HIGHLIGHT))).sort("kind", "start")
    for row in shown.iter_rows(named=True):
        vessels = [row["mmsi"]] + ([row["other_mmsi"]] if row["other_mmsi"] else [])
        who = ", ".join(f"{m} {names.get(m, '')}".strip() for m in vessels)
        hours = (row["end"] - row["start"]).total_seconds() / 3600
        where = row["zone"] or f"{row['lat']:.2f}, {row['lon']:.2f}"
        detail = ""
        if row["kind"] == "identity_change":
            changed = json.loads(row["evidence"] or "{}")
            detail = " ".join(
                f"{k}: {v['old']} -> {v['new']}" for k, v in changed.items()
                if isinstance(v, dict) and "old" in v)
        table.add_row(row["kind"], row["start"].strftime("%Y-%m-%d %H:%M"), f"{hours:.1f}",
                      who + (f" ({detail})" if detail else ""), where, f"{row['score']:.2f}")
    console.print(table)


def _score_table(events: pl.DataFrame, truth_path: Path, console: Console) -> None:
    table = Table(title="Precision and recall per kind")
    for col in ("kind", "planted", "found", "precision", "recall"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for s in evaluate(events, load_truth(truth_path), kinds=DETECTORS):
        table.add_row(s.kind, str(s.n_truth), str(s.n_detected), f"{s.precision:.2f}",
                      f"{s.recall:.2f}")
    console.print(table)
