"""``seasight serve``: the HTTP service (REST, live stream, web map) on one database, with
optional live feeds ingested and analysed while it runs."""

from __future__ import annotations

import functools
from pathlib import Path

import duckdb
import typer

from seasight.cli.options import fail
from seasight.store import DEFAULT_DB

SERVE_EPILOG = """Examples:

  seasight serve --db sea.duckdb

  seasight serve --db sea.duckdb --tcp data.aishub.net:4229 --udp 10110

  seasight serve --db sea.duckdb --replay capture.nmea --speed 60

  seasight serve --db sea.duckdb --host 0.0.0.0 --port 8080 --read-only

  seasight serve --db sea.duckdb --tcp 10.0.0.5:5631 --relay-tcp 10110 --relay-org fusion

With feeds, new reports are stored within a second and events, risk and alerts are brought up
to date every --analyse-every seconds (the same events a batch `seasight detect` finds).
Open http://HOST:PORT/ for the map, http://HOST:PORT/docs for the API (OpenAPI).
"""


def serve(
    db: Path = typer.Option(DEFAULT_DB, "--db", envvar="SEASIGHT_DB", dir_okay=False,
                            help="Database file (created if missing; with --read-only it "
                            "must exist)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    read_only: bool = typer.Option(False, "--read-only",
                                   help="Open the database read-only (no writes via the API)."),
    tcp: list[str] = typer.Option([], "--tcp", metavar="HOST:PORT",
                                  help="Read NMEA from this TCP server (repeatable)."),
    udp: list[str] = typer.Option([], "--udp", metavar="[HOST:]PORT",
                                  help="Listen for NMEA datagrams here (repeatable)."),
    replay: list[Path] = typer.Option([], "--replay", metavar="FILE", exists=True,
                                      dir_okay=False,
                                      help="Replay a capture as a live feed (repeatable)."),
    speed: float = typer.Option(60.0, "--speed", min=0.001,
                                help="Replay pace: recorded seconds per wall second."),
    analyse_every: float = typer.Option(5.0, "--analyse-every", min=0.5,
                                        help="Seconds between analysis cycles."),
    rules: Path | None = typer.Option(None, "--rules", exists=True, dir_okay=False,
                                      help="Alert rules (TOML); default: the shipped rules."),
    relay_tcp: int | None = typer.Option(None, "--relay-tcp", metavar="PORT", min=1,
                                         max=65535, help="Relay what --relay-org may see "
                                         "as NMEA to TCP clients on this port."),
    relay_org: str = typer.Option("local", "--relay-org",
                                  help="Organisation whose view the relay sends."),
) -> None:
    """Serve the API and the web map over HTTP, ingesting live feeds if given."""
    import uvicorn

    from seasight.api import create_app
    from seasight.api.live import LivePipeline, replay_feed, tcp_feed, udp_feed
    from seasight.risk.alerts import RuleError, load_rules

    if read_only and not db.exists():
        raise fail(f"no such database: {db}")
    try:
        feeds = ([tcp_feed(e) for e in tcp] + [udp_feed(e) for e in udp]
                 + [replay_feed(p, speed) for p in replay])
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if feeds and read_only:
        raise fail("--read-only cannot ingest feeds")
    try:
        rule_list = load_rules(rules) if rules is not None else None
    except RuleError as exc:
        raise fail(str(exc)) from exc
    live = functools.partial(LivePipeline, feeds=feeds, rules=rule_list,
                             analyse_every_s=analyse_every) if feeds else None
    relays = []
    if relay_tcp is not None:
        from seasight.sharing.relay import RelayFeed, RelayServer

        relays.append((RelayFeed(relay_org), RelayServer(tcp_port=relay_tcp, host=host)))
    try:
        app = create_app(db, read_only=read_only, live=live, relays=relays)
    except duckdb.IOException as exc:
        raise fail(f"cannot open {db}: {exc}") from exc
    names = ", ".join(name for name, _ in feeds)
    typer.secho(f"SeaSight serving {db} at http://{host}:{port}/ (API docs: /docs)"
                + (f"; feeds: {names}" if names else ""), err=True)
    from seasight.cli.service import forget_service, note_service

    # where a command that finds the database locked can reach this service
    note_service(db, host, port)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        forget_service(db)


__all__ = ["SERVE_EPILOG", "serve"]
