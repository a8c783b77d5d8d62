"""``seasight ingest``: files, directories, .gz, stdin, or a live TCP/UDP feed into the store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

import duckdb
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from seasight.cli.markup import esc
from seasight.cli.options import DB, JSON, fail
from seasight.cli.summary import print_report
from seasight.ingest.pipeline import IngestReport, ingest_live, ingest_paths
from seasight.sources.csv_layout import CsvLayout, load_layout, parse_assignments
from seasight.sources.errors import LayoutError
from seasight.sources.files import expand_paths
from seasight.sources.live import LiveChunk, parse_endpoint, tcp_chunks, udp_chunks
from seasight.store import Store

EPILOG = """Examples:

  seasight ingest capture.nmea.gz --db harbour.duckdb

  seasight ingest ./feeds/ marinecadastre_2023_01_11.csv

  nc feed.example 5631 | seasight ingest -

  seasight ingest --tcp 127.0.0.1:5631 --duration 3600

  seasight ingest --udp 10110

  seasight ingest ./feeds/ --lake s3://bucket/ais-lake

  seasight ingest partner_export.csv --layout partner.toml

  seasight ingest anon.csv --csv-columns time=Timestamp,id=ID,lat=Lat,lon=Lon,sog=Speed \\
      --csv-sep ';' --csv-time-format '%d/%m/%Y %H:%M' --csv-tz Europe/Oslo --csv-scale sog=0.1

Lines that cannot be used are counted by reason and kept in the 'rejects' table; the exit
status is still 0. Re-running an interrupted ingest continues where it stopped; re-ingesting a
file adds nothing twice.
"""


def ingest(
    paths: list[Path] = typer.Argument(None, help="Files, directories, .gz files, or - for stdin."),
    db: Path = DB,
    tcp: str = typer.Option(None, "--tcp", metavar="HOST:PORT",
                            help="Connect to a TCP feed (reconnects when it drops)."),
    udp: str = typer.Option(None, "--udp", metavar="[HOST:]PORT",
                            help="Listen for UDP datagrams of NMEA lines."),
    duration: float = typer.Option(0.0, "--duration", min=0.0,
                                   help="Stop a live ingest after this many seconds (0: never)."),
    force: bool = typer.Option(False, "--force", help="Re-read files already ingested."),
    lake: str = typer.Option(None, "--lake", metavar="DIR",
                             help="Write a partitioned Parquet lake (a folder or an fsspec URL "
                                  "such as s3://bucket/path) instead of the database."),
    as_json: bool = JSON,
    layout_file: Path = typer.Option(
        None, "--layout", metavar="FILE", dir_okay=False,
        help="CSV layout file (TOML, or JSON for a .json name): columns, separator, time "
             "format and zone, scales, null markers. Every file given is then read as a CSV "
             "track. The --csv-* options override its settings."),
    csv_columns: str = typer.Option(
        None, "--csv-columns", metavar="FIELD=COLUMN,...",
        help="Which column holds each field: time, lat, lon, mmsi or id (a vessel id that is "
             "not an MMSI), and optionally sog, cog, heading, rot, nav_status, name, callsign, "
             "imo, ship_type, draught, destination. COLUMN: header name or 1-based number."),
    csv_sep: str = typer.Option(
        None, "--csv-sep", metavar="SEP",
        help="Field separator: one character, or tab/comma/semicolon/pipe (default: sniffed)."),
    csv_time_format: str = typer.Option(
        None, "--csv-time-format", metavar="FMT",
        help="auto (default), iso, dmy, mdy, epoch_s, epoch_ms, epoch_us, or a strftime "
             "format such as '%d/%m/%Y %H:%M'."),
    csv_tz: str = typer.Option(
        None, "--csv-tz", metavar="ZONE",
        help="Time zone of times written without an offset (IANA name; default UTC)."),
    csv_null: list[str] = typer.Option(
        None, "--csv-null", metavar="TEXT",
        help="A text meaning 'no value' (repeatable; replaces the default NULL, NA, N/A, NaN, "
             "None; the empty field is always null)."),
    csv_scale: str = typer.Option(
        None, "--csv-scale", metavar="FIELD=FACTOR,...",
        help="Multiply a field as read (lat, lon, sog, cog, heading, rot, draught), e.g. "
             "sog=0.1 for tenths of a knot."),
) -> None:
    """Decode AIS into the database: NMEA files (tag blocks, Gatehouse, USCG metadata), CSV
    tracks (MarineCadastre, DMA, generic, or any layout described with --layout / --csv-*),
    or a live TCP/UDP feed."""
    err = Console(stderr=True)
    live = [x for x in (tcp, udp) if x]
    if len(live) > 1 or (live and paths):
        raise typer.BadParameter("give files, or one of --tcp/--udp, not several")
    if not live and not paths:
        raise typer.BadParameter("nothing to ingest: give PATH... or --tcp/--udp")
    if lake and live:
        raise typer.BadParameter("--lake takes files, not a live feed", param_hint="--lake")
    layout = _csv_layout(layout_file, csv_columns, csv_sep, csv_time_format, csv_tz, csv_null,
                         csv_scale)
    if layout is not None and live:
        raise typer.BadParameter("a CSV layout applies to files, not a live feed",
                                 param_hint="--layout")
    try:
        if not lake:
            _check_writable(db)
        if lake:
            report = _ingest_lake(paths, lake, force, err, layout)
        elif live:
            report = _ingest_live(tcp, udp, db, duration, err)
        else:
            report = _ingest_files(paths, db, force, err, layout)
        if not lake:
            _keep_screening_current(db)
    except FileNotFoundError as exc:
        raise fail(f"no such file: {exc.filename}") from exc
    except (duckdb.IOException, duckdb.PermissionException) as exc:
        raise fail(f"cannot open database {db}: {_first_line(exc)}") from exc
    except duckdb.TransactionException as exc:  # e.g. its write-ahead log cannot be created
        raise fail(f"cannot write database {db}: {_first_line(exc)}") from exc
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        print_report(report, err)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _keep_screening_current(db: Path) -> None:
    """Static reports just stored are screened against the stored lists at once (see
    :func:`seasight.risk.watchlists.keep_screening_current`)."""
    from seasight.risk.watchlists import keep_screening_current
    from seasight.store import Store

    with Store(db) as store:
        keep_screening_current(store)


def _check_writable(db: Path) -> None:
    """Fail with one line, before anything is read, when DuckDB could not write ``db``: it
    needs to create its write-ahead log (``<db>.wal``) next to the file."""
    folder = db.parent if str(db.parent) else Path(".")
    if not folder.is_dir():
        raise fail(f"cannot open database {db}: no such folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise fail(f"cannot write database {db}: the folder {folder} is not writable "
                   f"(DuckDB keeps its log {db.name}.wal next to the database)")


def _csv_layout(layout_file: Path | None, columns: str | None, sep: str | None,
                time_format: str | None, tz: str | None, nulls: list[str] | None,
                scale: str | None) -> CsvLayout | None:
    """The layout of --layout with the --csv-* options applied; None when none is given.
    A layout that cannot be used is a usage error naming the setting."""
    if layout_file is None and not any((columns, sep, time_format, tz, nulls, scale)):
        return None
    try:
        layout = load_layout(layout_file) if layout_file is not None else CsvLayout()
    except OSError as exc:
        raise fail(f"cannot read layout {layout_file}: {exc.strerror or exc}") from exc
    except LayoutError as exc:
        raise typer.BadParameter(str(exc), param_hint="--layout") from exc
    try:
        factors: dict[str, float] = {}
        for name, text in parse_assignments(scale or "", "--csv-scale").items():
            try:
                factors[name] = float(text)
            except ValueError:
                raise LayoutError(f"--csv-scale: {name}={text!r} is not a number") from None
        return layout.with_options(
            columns=parse_assignments(columns or "", "--csv-columns"), separator=sep,
            time_format=time_format, timezone=tz, nulls=tuple(nulls) if nulls else None,
            scale=factors,
        )
    except LayoutError as exc:
        raise typer.BadParameter(str(exc), param_hint="--csv-*") from exc


def _ingest_files(paths: list[Path], db: Path, force: bool, err: Console,
                  layout: CsvLayout | None = None) -> IngestReport:
    files = expand_paths(paths)
    for f in files:
        if str(f) != "-" and not f.is_file():
            raise FileNotFoundError(2, "No such file", str(f))
    total = sum(f.stat().st_size for f in files if str(f) != "-")
    with Progress(
        TextColumn("[bold]ingest"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[msgs]:>12,} messages {task.fields[rate]:>10,.0f}/s"),
        TimeElapsedColumn(), console=err, disable=not err.is_terminal, transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=total or None, msgs=0, rate=0.0)
        started = time.perf_counter()

        def progress(nbytes: int, nmsgs: int) -> None:
            elapsed = max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=nbytes, msgs=nmsgs, rate=nmsgs / elapsed)

        return ingest_paths(files, db, force=force, progress=progress, layout=layout)


def _ingest_lake(paths: list[Path], lake: str, force: bool, err: Console,
                 layout: CsvLayout | None = None) -> IngestReport:
    from seasight.lake import ingest_lake

    files = expand_paths(paths)
    for f in files:
        if str(f) != "-" and not f.is_file():
            raise FileNotFoundError(2, "No such file", str(f))
    try:
        return ingest_lake(files, lake, force=force, layout=layout)
    except (ValueError, OSError, ImportError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise fail(f"cannot write lake {lake}: {exc}") from exc


def _ingest_live(tcp: str | None, udp: str | None, db: Path, duration: float,
                 err: Console) -> IngestReport:
    stop = threading.Event()
    timer = threading.Timer(duration, stop.set) if duration else None

    def status(text: str) -> None:
        err.print(f"[dim]{esc(text)}[/]")

    if tcp:
        host, port = parse_endpoint(tcp, default_host="127.0.0.1")
        chunks: Iterable[LiveChunk] = tcp_chunks(host, port, stop=stop, on_status=status)
    else:
        host, port = parse_endpoint(udp or "", default_host="0.0.0.0")
        chunks = udp_chunks(host, port, stop=stop, on_status=status)

    def flushed(report: IngestReport) -> None:
        status(f"{report.n_messages:,} messages, {report.n_rejects:,} rejects stored")

    with Store(db) as store, _interrupt_sets(stop, status):
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            return ingest_live(chunks, store, on_flush=flushed)
        finally:
            if timer is not None:
                timer.cancel()


@contextlib.contextmanager
def _interrupt_sets(stop: threading.Event, status: Callable[[str], None]) -> Iterator[None]:
    """While inside, a first Ctrl-C sets ``stop`` (the feed ends after storing what was
    received, and the summary is printed); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        status("stopping: storing what was received (Ctrl-C again to abort)")
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
