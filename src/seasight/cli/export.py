"""``seasight export`` (events, tracks, positions as GeoJSON / CSV / KML / Parquet) and
``seasight relay`` (permitted positions as NMEA over TCP / UDP), both as an organisation."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import typer

from seasight.cli.options import DB_EXISTING, fail, open_store
from seasight.events.model import parse_utc
from seasight.sharing import LOCAL
from seasight.sharing.agreements import AgreementError, check_org
from seasight.sharing.exports import SUFFIX, ExportError, export_frame, tracks
from seasight.sharing.reads import export_rows, record_export
from seasight.sharing.relay import RelayFeed, RelayServer
from seasight.store import Store

EXPORT_EPILOG = """Examples:

  seasight export events --format geojson --out events.geojson --db sea.duckdb

  seasight export tracks --format kml --out tracks.kml --as-org fusion --since 2024-03-01

  seasight export positions --out positions.parquet --mmsi 574454226

  seasight export events --format csv --out - --kind encounter --kind loitering

  seasight export --lake ./lake --db sea.duckdb

With --lake, every table of the database (decoded messages, rejects, tracks, identities,
events) is copied into a partitioned Parquet lake (a folder or an fsspec URL) for
'seasight detect --lake'; rows already in the lake are not written twice. That is an
operator's copy of the whole database, so it is not filtered by organisation.

The rows are those the organisation (--as-org, default local: everything) may see under the
sharing agreements, rounded as granted. The format defaults to the output file's suffix.
"""

RELAY_EPILOG = """Examples:

  seasight relay --tcp-listen 10110 --as-org fusion --db sea.duckdb

  seasight relay --udp 192.0.2.10:10110 --as-org fusion --interval 5

Streams positions (and static reports, if the organisation is granted identities) stored
after the relay started, re-encoded as !AIVDM sentences with tag blocks, as the agreements
allow: delayed data is sent when old enough, a revoked agreement stops the stream at the next
poll. Point OpenCPN (or another SeaSight: seasight ingest --tcp HOST:10110) at it; the relay
listens on this machine only (127.0.0.1) unless --host 0.0.0.0 is given.
"""


class ExportKind(StrEnum):
    """What to export."""

    events = "events"
    tracks = "tracks"
    positions = "positions"


class ExportFormat(StrEnum):
    """File format."""

    geojson = "geojson"
    csv = "csv"
    kml = "kml"
    parquet = "parquet"


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise fail(f"{name}: {value!r} is not an ISO 8601 time") from exc


def export(
    kind: ExportKind | None = typer.Argument(None, help="events, tracks or positions."),
    out: Path | None = typer.Option(None, "--out", help="Output file ('-' for standard "
                                    "output).", dir_okay=False),
    fmt: ExportFormat | None = typer.Option(None, "--format", help="geojson, csv, kml or "
                                            "parquet (default: from the --out suffix)."),
    as_org: str = typer.Option(LOCAL, "--as-org", help="Export what this organisation may "
                               "see (default: local, everything)."),
    since: str | None = typer.Option(None, "--since", help="From this time (ISO 8601)."),
    until: str | None = typer.Option(None, "--until", help="Up to this time (ISO 8601)."),
    event_kind: list[str] | None = typer.Option(None, "--kind", help="Event kind (repeat); "
                                                "events only."),
    mmsi: int | None = typer.Option(None, "--mmsi", help="Only this vessel."),
    lake: str | None = typer.Option(None, "--lake", metavar="DIR", help="Copy the whole "
                                    "database into a partitioned Parquet lake instead."),
    db: Path = DB_EXISTING,
) -> None:
    """Export events, tracks or positions as an organisation, honouring the agreements; or
    copy the whole database into a lake (--lake)."""
    if lake is not None:
        if kind is not None or out is not None or as_org != LOCAL:
            raise fail("--lake copies the whole database: give no KIND, --out or --as-org")
        _export_lake(db, lake)
        return
    if kind is None or out is None:
        raise fail("give what to export (events, tracks or positions) and --out, or --lake")
    if fmt is None:
        by_suffix = {v: k for k, v in SUFFIX.items()}
        guess = by_suffix.get(out.suffix.lower()) or ("geojson" if out.suffix.lower() ==
                                                       ".json" else None)
        if guess is None:
            raise fail(f"--format: cannot tell the format from {str(out)!r}; give --format")
        fmt = ExportFormat(guess)
    if event_kind and kind != ExportKind.events:
        raise fail("--kind applies to events only")
    try:
        check_org(as_org, "--as-org")
    except AgreementError as exc:
        raise fail(str(exc)) from exc
    t0, t1 = _time("--since", since), _time("--until", until)
    if not db.exists():
        raise fail(f"no such database: {db}")
    # opened for writing: the export is recorded in the audit log before its data is written
    with open_store(db) as store:
        frame = export_rows(store, kind.value, as_org, since=t0, until=t1,
                            kinds=event_kind, mmsi=mmsi)
        try:
            data = export_frame(frame, kind.value, fmt.value)
        except ExportError as exc:
            raise fail(str(exc)) from exc
        record_export(store, None, kind.value, fmt.value, as_org, rows=frame.height,
                      nbytes=len(data), since=t0, until=t1, kinds=event_kind, mmsi=mmsi,
                      target=str(out) if str(out) == "-" else str(out.resolve()))
    if str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc}") from exc
    what = (f"{tracks(frame).height:,} track(s) of {frame.height:,} position(s)"
            if kind == ExportKind.tracks else f"{frame.height:,} {kind.value} row(s)")
    typer.echo(f"exported {what} as {as_org} "
               f"({len(data):,} bytes, {fmt.value})", err=True)


def _export_lake(db: Path, lake: str) -> None:
    from seasight.access import audit
    from seasight.access.caller import Caller
    from seasight.lake import export_lake

    started = time.perf_counter()
    if not db.exists():
        raise fail(f"no such database: {db}")
    with open_store(db) as store:
        try:
            written = export_lake(store, lake)
        except (ValueError, OSError) as exc:
            raise fail(f"cannot write lake {lake}: {exc}") from exc
        audit.record(store, Caller.local(), "export lake", "export", sum(written.values()), 0,
                     {"kind": "lake", "target": lake, "rows_written": written})
    rows = ", ".join(f"{name} {n:,}" for name, n in written.items() if n)
    typer.echo(f"exported {db} to lake {lake} in {time.perf_counter() - started:.1f} s "
               f"(rows written: {rows or 'none'})", err=True)


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise fail(f"--udp: {text!r} is not HOST:PORT")
    return host, int(port)


def relay(
    tcp_listen: int | None = typer.Option(None, "--tcp-listen", help="Serve NMEA on this "
                                          "TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: "
                             "every interface, for clients on other machines)."),
    udp: str | None = typer.Option(None, "--udp", help="Also send datagrams to HOST:PORT."),
    as_org: str = typer.Option(..., "--as-org", help="Relay what this organisation may see."),
    interval: float = typer.Option(2.0, "--interval", min=0.1, help="Seconds between polls "
                                   "of the store."),
    from_start: bool = typer.Option(False, "--from-start", help="Relay the stored rows too, "
                                    "not only new ones."),
    station: str = typer.Option("seasight", "--station", help="Station name in tag blocks."),
    duration: float | None = typer.Option(None, "--duration", help="Stop after this many "
                                          "seconds (default: until interrupted)."),
    db: Path = DB_EXISTING,
) -> None:
    """Relay permitted positions as NMEA AIVDM sentences over TCP and/or UDP."""
    if tcp_listen is None and udp is None:
        raise fail("give --tcp-listen PORT, --udp HOST:PORT or both")
    try:
        check_org(as_org, "--as-org")
    except AgreementError as exc:
        raise fail(str(exc)) from exc
    if not db.exists():
        raise fail(f"no such database: {db}")
    session = {"as_organisation": as_org, "tcp_port": tcp_listen, "host": host, "udp": udp,
               "from_start": from_start, "station": station}
    _record_relay(db, "relay start", 0, session)  # refuses to relay what cannot be audited
    try:
        server = RelayServer(tcp_port=tcp_listen, host=host,
                             udp=_hostport(udp) if udp else None).start()
    except (OSError, ValueError) as exc:
        raise fail(f"cannot start the relay: {exc}") from exc
    feed = RelayFeed(as_org, from_start=from_start, station=station)
    where = f"TCP port {server.port}" if server.port is not None else ""
    if udp:
        where += (" and " if where else "") + f"UDP {udp}"
    typer.echo(f"relaying {db} as {as_org} on {where}; Ctrl-C stops", err=True)
    stop_at = None if duration is None else time.monotonic() + duration
    try:
        while stop_at is None or time.monotonic() < stop_at:
            try:
                # opened per poll: other commands can write the file in between
                with Store(db, read_only=True) as store:
                    data = feed.poll(store)
                server.send(data)
            except duckdb.Error as exc:
                typer.echo(f"seasight: relay poll skipped: {exc}", err=True)
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        typer.echo(f"relay stopped: {server.sent_lines:,} line(s) sent", err=True)
        try:
            _record_relay(db, "relay stop", server.sent_lines, session)
        except typer.Exit:
            typer.echo("seasight: the end of the relay could not be recorded in the audit "
                       "log", err=True)


def _record_relay(db: Path, action: str, lines: int, session: dict[str, Any]) -> None:
    """Record a relay session's start or end (with the lines sent) in the audit log."""
    from seasight.access import audit
    from seasight.access.caller import Caller

    with open_store(db) as store:
        audit.record(store, Caller.local(), action, "export", lines, 0,
                     {**session, "lines_sent": lines})


__all__ = ["EXPORT_EPILOG", "RELAY_EPILOG", "export", "relay"]
