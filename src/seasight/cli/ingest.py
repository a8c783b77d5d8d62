"""``seasight ingest``: files, directories, .gz, stdin, or a live TCP/UDP feed into the store."""

from __future__ import annotations

import contextlib
import json
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

from seasight.cli.options import DB, JSON, fail
from seasight.cli.summary import print_report
from seasight.ingest import IngestReport, ingest_live, ingest_paths
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
) -> None:
    """Decode AIS into the database: NMEA files (tag blocks, Gatehouse, USCG metadata), CSV
    tracks (MarineCadastre, DMA, generic), or a live TCP/UDP feed."""
    err = Console(stderr=True)
    live = [x for x in (tcp, udp) if x]
    if len(live) > 1 or (live and paths):
        raise typer.BadParameter("give files, or one of --tcp/--udp, not several")
    if not live and not paths:
        raise typer.BadParameter("nothing to ingest: give PATH... or --tcp/--udp")
    if lake and live:
        raise typer.BadParameter("--lake takes files, not a live feed", param_hint="--lake")
    try:
        if lake:
            report = _ingest_lake(paths, lake, force, err)
        elif live:
            report = _ingest_live(tcp, udp, db, duration, err)
        else:
            report = _ingest_files(paths, db, force, err)
    except FileNotFoundError as exc:
        raise fail(f"no such file: {exc.filename}") from exc
    except duckdb.IOException as exc:
        raise fail(f"cannot open database {db}: {exc}") from exc
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        print_report(report, err)


def _ingest_files(paths: list[Path], db: Path, force: bool, err: Console) -> IngestReport:
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

        return ingest_paths(files, db, force=force, progress=progress)


def _ingest_lake(paths: list[Path], lake: str, force: bool, err: Console) -> IngestReport:
    from seasight.lake import ingest_lake

    files = expand_paths(paths)
    for f in files:
        if str(f) != "-" and not f.is_file():
            raise FileNotFoundError(2, "No such file", str(f))
    try:
        return ingest_lake(files, lake, force=force)
    except (ValueError, OSError, ImportError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise fail(f"cannot write lake {lake}: {exc}") from exc


def _ingest_live(tcp: str | None, udp: str | None, db: Path, duration: float,
                 err: Console) -> IngestReport:
    stop = threading.Event()
    timer = threading.Timer(duration, stop.set) if duration else None

    def status(text: str) -> None:
        err.print(f"[dim]{text}[/]")

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
