"""``seasight demo``: the main job on the built-in simulated Indo-Pacific scenario.

It simulates two days of traffic through the Malacca Strait, the Bay of Bengal and the South
and East China Seas (with a ship-to-ship transfer involving a vessel on the OFAC DPRK list, a
vessel going dark in the Andaman Sea and a fishing fleet loitering at a disputed reef) and
writes the feed as a receiver network would deliver it (duplicates, out-of-order and corrupt
lines). Then, by default, it starts the service with the web map and replays the feed into it
live at an accelerated pace: vessels move on the map, events and alerts appear as the data that
proves them arrives (the ship-to-ship transfer raises a critical alert), and the console reports
them. With ``--no-serve`` it ingests and analyses the feed in one batch instead.

Either way it ends by showing what was found, scoring it against the planted truth, ranking
vessels by risk (after screening every identity against the shipped OFAC list), listing the
alerts of the default rules and writing the dossier of the riskiest vessel that is not itself
listed (the tanker that met the DPRK-listed vessel) beside the feed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from seasight.access import LOCAL_ORG, ensure_tables, issue_key
from seasight.cli.risk import risk_records, risk_table
from seasight.cli.summary import print_report
from seasight.detection import detect_store
from seasight.evaluate import evaluate, load_truth
from seasight.events.run import DETECTORS
from seasight.geo.zones import Zone, load_zones
from seasight.ingest import ingest_paths
from seasight.live import CycleStatus, LivePipeline, replay_feed
from seasight.risk.alerts import SEVERITIES, alert_records, default_rules, fire_alerts, list_alerts
from seasight.risk.dossier import vessel_dossier
from seasight.risk.dossier_html import render_html
from seasight.risk.score import risk_store, stored_risk
from seasight.risk.watchlists import add_watchlist, default_watchlists
from seasight.sim import simulate, write_simulation
from seasight.store import Store
from seasight.store.shared import SharedStore

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
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="Replay the feed live into the service and web map "
                                    "(default), or analyse it in one batch."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the service listens on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535,
                             help="Port of the service (the next free one if taken)."),
    speed: float = typer.Option(900.0, "--speed", min=1.0,
                                help="Replay pace: simulated seconds per wall second "
                                     "(900: two days in about three minutes)."),
) -> None:
    """Simulate Indo-Pacific traffic, replay it live into the service and web map (or analyse
    it in one batch with --no-serve), and report events, risk and alerts."""
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
    zones = load_zones([out / "zones.geojson"])
    if serve:
        _serve_live(db, out, zones, host, port, speed, console)
        return
    report = ingest_paths([out / "feed.nmea"], db)
    print_report(report, console)
    with Store(db) as store, console.status("detecting, screening, scoring..."):
        detect_store(store, zones)
        add_watchlist(store, default_watchlists()[0])
        risk_store(store)
        fire_alerts(store, default_rules())
    _summary(db, out, console)


def _serve_live(db: Path, out: Path, zones: Sequence[Zone], host: str, port: int,
                speed: float, console: Console) -> None:
    """Serve the map while the feed is replayed into it; report alerts as they fire and the
    summary when the replay ends; serve until interrupted."""
    import uvicorn

    from seasight.api import create_app

    with Store(db) as store:
        store.save_zones(zones)
        add_watchlist(store, default_watchlists()[0])
        ensure_tables(store)
        key = issue_key(store, LOCAL_ORG, role="admin", scopes=("read", "ingest", "admin"),
                        label="demo").secret
    port = _free_port(host, port)
    seen: set[str] = set()

    def build(shared: SharedStore) -> LivePipeline:
        def on_cycle(cycle: CycleStatus) -> None:
            console.print(f"[dim]{cycle.horizon} analysed in {cycle.seconds:.2f} s: "
                          f"{cycle.events_added} new events, {cycle.alerts_fired} alerts[/]")
            if cycle.alerts_fired:
                with shared.reading() as store:
                    _alerts_since(store, seen, console)

        return LivePipeline(shared, [replay_feed(out / "feed.nmea", speed)],
                            analyse_every_s=2.0, on_cycle=on_cycle)

    app = create_app(db, live=build)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    url = f"http://{host}:{port}/"
    console.print(f"\n[bold green]Open {url}#key={key}[/] for the live map (signed in as the "
                  f"local admin; API docs: {url}docs, with the header "
                  f"'Authorization: Bearer {key}'). Replaying {out / 'feed.nmea'} at "
                  f"{speed:g}x; Ctrl-C stops.\n", soft_wrap=True)

    def report_when_done() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.2)
        pipeline: LivePipeline | None = app.state.pipeline
        if pipeline is None or not _wait(pipeline, server):
            return
        pipeline.analyse()
        with app.state.access.reading() as store:
            _alerts_since(store, seen, console)
            _summary_from(store, db, out, console)
        console.print(f"\n[bold]Replay finished.[/] The service is still up at {url}: "
                      "Ctrl-C stops it.")

    threading.Thread(target=report_when_done, name="demo report", daemon=True).start()
    server.run()


def _free_port(host: str, port: int) -> int:
    """``port``, or the next free one when something else listens there."""
    for candidate in range(port, min(port + 50, 65536)):
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return port


def _wait(pipeline: LivePipeline, server: Any) -> bool:
    """Wait for the replay to end; False if the server stopped first."""
    while not pipeline.wait_feeds(timeout=0.5):
        if server.should_exit:
            return False
    return True


def _alerts_since(store: Store, seen: set[str], console: Console) -> None:
    """Print the alerts not printed yet, most severe first."""
    rank = {name: i for i, name in enumerate(reversed(SEVERITIES))}
    alerts = list_alerts(store).filter(~pl.col("alert_id").is_in(list(seen)))
    ordered = alerts.sort(pl.col("severity").replace_strict(rank, default=len(rank)))
    for row in alert_records(ordered):
        seen.add(row["alert_id"])
        colour = {"critical": "bold red", "high": "red"}.get(row["severity"], "yellow")
        console.print(f"  [{colour}]ALERT {row['severity']}[/] {row['rule']}: {row['message']}")


def _summary(db: Path, out: Path, console: Console) -> None:
    with Store(db) as store:
        _summary_from(store, db, out, console)


def _summary_from(store: Store, db: Path, out: Path, console: Console) -> None:
    """Events, precision and recall against the truth, risk, alerts and the dossier."""
    events = store.table("events")
    console.rule("[bold]Events")
    _events_table(events, store.table("identities"), console)
    console.rule("[bold]Against the planted truth")
    _score_table(events, out / "truth.json", console)
    console.rule("[bold]Sanctions screening, risk and alerts")
    dossier = _risk_summary(store, out, console)
    console.print(
        f"\nDatabase: [bold]{db}[/]. Try:\n"
        f"  seasight serve --db {db}\n"
        f"  seasight events --db {db} --kind encounter --json\n"
        f"  seasight risk --db {db} --top 10\n"
        f"  seasight alerts --db {db}\n"
        f"  seasight vessel <MMSI|IMO|NAME> --db {db} --html dossier.html\n"
        f"  seasight evaluate --truth {out / 'truth.json'} --db {db}")
    if dossier is not None:
        console.print(f"Dossier of the riskiest vessel not itself on a list: [bold]{dossier}[/]")


def _risk_summary(store: Store, out: Path, console: Console) -> Path | None:
    """Screening matches, the riskiest vessels and the alerts; writes the dossier of the
    riskiest vessel that is not itself designated and returns its path."""
    ofac = default_watchlists()[0]
    matches = store.query("SELECT count(*) AS n FROM watchlist_matches")["n"][0]
    alerts = list_alerts(store)
    console.print(f"Screened every identity against {ofac.name} ({ofac.entries.height} "
                  f"vessels): {matches} matches. {alerts.height} alerts fired by the default "
                  "rules.")
    scores = stored_risk(store)
    console.print(risk_table(risk_records(scores.head(10)), "Riskiest vessels"))
    _alerts_since(store, set(), console)
    suspect = next((r for r in risk_records(scores) if r["score"] > 0 and not any(
        f["factor"] == "designated" for f in r["factors"])), None)
    if suspect is None:
        return None
    path = out / f"dossier-{suspect['mmsi']}.html"
    path.write_text(render_html(vessel_dossier(store, str(suspect["mmsi"]))), encoding="utf-8")
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
