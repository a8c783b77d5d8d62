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
import shlex
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seasight.access import LOCAL_ORG, ensure_tables, issue_key
from seasight.access.keys import IssuedKey
from seasight.analysis.detection import detect_store
from seasight.analysis.evaluate import evaluate, load_truth
from seasight.api.live import CycleStatus, LivePipeline, replay_feed
from seasight.cli.markup import add_row, esc
from seasight.cli.risk import risk_records, risk_table
from seasight.cli.summary import print_report
from seasight.events.run import DETECTORS
from seasight.geo.zones import Zone, load_zones
from seasight.ingest.pipeline import ingest_paths
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
    console.print(f"{vessels:,} vessels for {hours:g} h: [bold]{esc(out / 'feed.nmea')}[/] "
                  f"({stats.get('lines', 0):,} lines, with receiver noise), "
                  f"{esc(out / 'truth.json')}, {esc(out / 'zones.geojson')}")
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
        key = _demo_key(store)
    with Store(db) as store:
        _summary_from(store, db, out, console, WayIn(db, host, port, key, running=False))


@dataclass(frozen=True)
class WayIn:
    """How the person who ran the demo reaches its service: the ``seasight serve`` command
    for the demo database and the demo's own admin key (issued into that database)."""

    db: Path
    host: str
    port: int
    key: IssuedKey
    running: bool  # the demo's service is up now (live replay)

    @property
    def url(self) -> str:
        """The address a local browser opens."""
        reach = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{reach}:{self.port}/"

    @property
    def serve_command(self) -> str:
        """``seasight serve`` for the demo database, on the demo's host and port."""
        words = ["seasight", "serve", "--db", str(self.db)]
        if self.host != "127.0.0.1":
            words += ["--host", self.host]
        if self.port != 8000:
            words += ["--port", str(self.port)]
        return shlex.join(words)


def _demo_key(store: Store) -> IssuedKey:
    """An admin key of the local organisation for the demo's map and API (label "demo")."""
    ensure_tables(store)
    return issue_key(store, LOCAL_ORG, role="admin", scopes=("read", "ingest", "admin"),
                     label="demo")


def _serve_live(db: Path, out: Path, zones: Sequence[Zone], host: str, port: int,
                speed: float, console: Console) -> None:
    """Serve the map while the feed is replayed into it; report alerts as they fire and the
    summary when the replay ends; serve until interrupted."""
    import uvicorn

    from seasight.api import create_app

    with Store(db) as store:
        store.save_zones(zones)
        add_watchlist(store, default_watchlists()[0])
        issued = _demo_key(store)
    port = _free_port(host, port)
    way_in = WayIn(db, host, port, issued, running=True)
    key = issued.secret
    seen: set[str] = set()

    def build(shared: SharedStore) -> LivePipeline:
        def on_cycle(cycle: CycleStatus) -> None:
            console.print(f"[dim]{esc(cycle.horizon)} analysed in {cycle.seconds:.2f} s: "
                          f"{cycle.events_added:,} new events, {cycle.alerts_fired:,} alerts[/]")
            if cycle.alerts_fired:
                with shared.reading() as store:
                    _alerts_since(store, seen, console)

        return LivePipeline(shared, [replay_feed(out / "feed.nmea", speed)],
                            analyse_every_s=2.0, on_cycle=on_cycle)

    app = create_app(db, live=build)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    url = way_in.url
    console.print(f"\n[bold green]Open {esc(url)}#key={esc(key)}[/] for the live map (signed "
                  f"in as the local admin; API docs: {esc(url)}docs, with the header "
                  f"'Authorization: Bearer {esc(key)}'). Replaying {esc(out / 'feed.nmea')} at "
                  f"{speed:g}x; Ctrl-C stops.\n", soft_wrap=True)

    def report_when_done() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.2)
        pipeline: LivePipeline | None = app.state.pipeline
        if pipeline is None or not _wait(pipeline, server):
            return
        try:
            pipeline.analyse()
            with app.state.access.reading() as store:
                _alerts_since(store, seen, console)
                _summary_from(store, db, out, console, way_in)
        except RuntimeError:
            if server.should_exit:  # stopped (Ctrl-C) while reporting: the store is closing
                return
            raise
        console.print(f"\n[bold]Replay finished.[/] The service is still up at {esc(url)}: "
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
    """Wait for the replay to end; False if the server stopped first (stopping ends the feeds
    too, so the server is asked again once they have ended)."""
    while not pipeline.wait_feeds(timeout=0.5):
        if server.should_exit:
            return False
    return not server.should_exit


def _alerts_since(store: Store, seen: set[str], console: Console) -> None:
    """Print the alerts not printed yet, most severe first."""
    rank = {name: i for i, name in enumerate(reversed(SEVERITIES))}
    alerts = list_alerts(store).filter(~pl.col("alert_id").is_in(list(seen)))
    ordered = alerts.sort(pl.col("severity").replace_strict(rank, default=len(rank)))
    for row in alert_records(ordered):
        seen.add(row["alert_id"])
        colour = {"critical": "bold red", "high": "red"}.get(row["severity"], "yellow")
        line = Text("  ")
        line.append(f"ALERT {row['severity']}", style=colour)
        line.append(f" {row['rule']}: {row['message']}")
        console.print(line)


def _summary_from(store: Store, db: Path, out: Path, console: Console, way_in: WayIn) -> None:
    """Events, precision and recall against the truth, risk, alerts and the dossier; then
    how to open the map (the exact ``seasight serve`` and the address with the demo's key)
    and what to try next."""
    events = store.table("events")
    console.rule("[bold]Events")
    _events_table(events, store.table("identities"), console)
    console.rule("[bold]Against the planted truth")
    _score_table(events, out / "truth.json", console)
    console.rule("[bold]Sanctions screening, risk and alerts")
    dossier = _risk_summary(store, out, console)
    db_arg = shlex.quote(str(db))
    vessel = str(dossier[1]) if dossier is not None else shlex.quote("YU JONG 2")
    key = way_in.key
    opened = Text.assemble(
        (f"{way_in.url}#key={key.secret}", "bold"),
        f" (signed in as the local admin with the demo's key {key.key_id}; "
        f"'seasight access key revoke {key.key_id} --db {db_arg}' withdraws it)")
    serve = (way_in.serve_command, "bold")
    step = (Text.assemble("After Ctrl-C, ", serve, " serves it again at ", opened,
                          "; and, with the service stopped, try:")
            if way_in.running else
            Text.assemble("For the map and the API run ", serve, " and open ", opened,
                          ". Then try:"))
    tries = [f"seasight events --db {db_arg} --kind encounter --json",
             f"seasight risk --db {db_arg} --top 10",
             f"seasight alerts --db {db_arg}",
             f"seasight vessel {vessel} --db {db_arg} --html dossier.html",
             f"seasight evaluate --truth {shlex.quote(str(out / 'truth.json'))} --db {db_arg}"]
    console.print(Text.assemble("\nDatabase: ", (str(db), "bold"), ". ", step,
                                *(f"\n  {line}" for line in tries)), soft_wrap=True)
    if dossier is not None:
        console.print(f"Dossier of the riskiest vessel not itself on a list: "
                      f"[bold]{esc(dossier[0])}[/]")


def _risk_summary(store: Store, out: Path, console: Console) -> tuple[Path, int] | None:
    """Screening matches, the riskiest vessels and the alerts; writes the dossier of the
    riskiest vessel that is not itself designated and returns its path and MMSI."""
    ofac = default_watchlists()[0]
    matches = store.query("SELECT count(*) AS n FROM watchlist_matches")["n"][0]
    alerts = list_alerts(store)
    console.print(f"Screened every identity against {esc(ofac.name)} ({ofac.entries.height:,} "
                  f"vessels): {matches:,} matches. {alerts.height:,} alerts fired by the "
                  "default rules.")
    scores = stored_risk(store)
    console.print(risk_table(risk_records(scores.head(10)), "Riskiest vessels"))
    _alerts_since(store, set(), console)
    suspect = next((r for r in risk_records(scores) if r["score"] > 0 and not any(
        f["factor"] == "designated" for f in r["factors"])), None)
    if suspect is None:
        return None
    path = out / f"dossier-{suspect['mmsi']}.html"
    path.write_text(render_html(vessel_dossier(store, str(suspect["mmsi"]))), encoding="utf-8")
    return path, int(suspect["mmsi"])


def _names(identities: pl.DataFrame) -> dict[int, str]:
    latest = (identities.filter(pl.col("shipname").is_not_null())
              .sort("valid_to").group_by("mmsi").last())
    return dict(zip(latest["mmsi"].to_list(), latest["shipname"].to_list(), strict=True))


def _events_table(events: pl.DataFrame, identities: pl.DataFrame, console: Console) -> None:
    counts = events.group_by("kind").len()
    by_kind = dict(zip(counts["kind"].to_list(), counts["len"].to_list(), strict=True))
    console.print("  ".join(f"{esc(k)} [bold]{by_kind.get(k, 0):,}[/]" for k in DETECTORS))
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
        add_row(table, row["kind"], row["start"].strftime("%Y-%m-%d %H:%M"), f"{hours:.1f}",
                who + (f" ({detail})" if detail else ""), where, f"{row['score']:.2f}")
    console.print(table)


def _score_table(events: pl.DataFrame, truth_path: Path, console: Console) -> None:
    table = Table(title="Precision and recall per kind")
    for col in ("kind", "planted", "found", "precision", "recall"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for s in evaluate(events, load_truth(truth_path), kinds=DETECTORS):
        add_row(table, s.kind, str(s.n_truth), str(s.n_detected), f"{s.precision:.2f}",
                f"{s.recall:.2f}")
    console.print(table)
