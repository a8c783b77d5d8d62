"""``seasight detect``, ``seasight events`` and ``seasight evaluate``."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.progress import TextColumn
from rich.table import Table

from seasight.analysis.detection import detect_store
from seasight.analysis.evaluate import evaluate as score_events
from seasight.analysis.evaluate import load_truth
from seasight.cli.markup import add_row, esc
from seasight.cli.options import DB, DB_EXISTING, JSON, fail, open_store
from seasight.events.formats import event_records, events_csv, events_geojson
from seasight.events.model import parse_utc
from seasight.events.run import DETECTORS
from seasight.geo.zones import Zone, load_zones
from seasight.risk.watchlists import keep_screening_current
from seasight.store import Store, events_where

DETECT_EPILOG = """Examples:

  seasight detect --db sea.duckdb --zones reef.geojson --zones eez.geojson

Runs every detector over what the database holds and stores the events. Running it again adds
nothing; running it after more data arrives extends or closes open events.

  seasight detect --lake ./lake --engine dask --workers 2

  seasight detect --lake s3://bucket/lake --scheduler tcp://10.0.0.5:8786 --db sea.duckdb

With --lake, detection runs over a partitioned Parquet lake (see 'seasight ingest --lake') on a
Dask cluster (a local one of --workers processes, or the one at --scheduler) and writes the
events to the lake's events table, and to the database too when --db is given.
"""

EVENTS_EPILOG = """Examples:

  seasight events --kind encounter --since 2024-03-01 --json | jq .mmsi

  seasight events --geojson > events.geojson
"""

ZONES = typer.Option([], "--zones", help="GeoJSON file of zone polygons (repeatable).",
                     exists=True, dir_okay=False)


def detect(
    ctx: typer.Context,
    db: Path = DB,
    zones: list[Path] = ZONES,
    kind: list[str] = typer.Option([], "--kind", help="Run only these detectors (repeatable)."),
    lake: str = typer.Option(None, "--lake", metavar="DIR",
                             help="Detect over a partitioned Parquet lake (folder or URL)."),
    engine: str = typer.Option("dask", "--engine",
                               help="With --lake: 'dask' (distributed) or 'local' (one process)."),
    scheduler: str = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                  help="With --lake: attach to this Dask scheduler."),
    workers: int = typer.Option(2, "--workers", min=1,
                                help="With --lake and no --scheduler: local Dask workers."),
    as_json: bool = JSON,
) -> None:
    """Build tracks and run the event detectors over everything stored."""
    unknown = sorted(set(kind) - set(DETECTORS))
    if unknown:
        raise typer.BadParameter(f"unknown kind(s) {', '.join(unknown)}; "
                                 f"choose from {', '.join(DETECTORS)}", param_hint="--kind")
    if engine not in ("dask", "local"):
        raise typer.BadParameter("choose 'dask' or 'local'", param_hint="--engine")
    try:
        zone_list = load_zones(zones)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if lake:
        source = ctx.get_parameter_source("db")
        to_db = source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
        _detect_lake(lake, db if to_db else None, zone_list, kind, engine, scheduler, workers,
                     as_json)
        return
    if scheduler:
        raise typer.BadParameter("--scheduler needs --lake", param_hint="--scheduler")
    with open_store(db) as store:
        done = detect_store(store, zone_list, kinds=kind or None)
        keep_screening_current(store)  # the new identities against the stored lists
    result = done.result
    summary = {
        "positions": result.points.height, "segments": result.segments.height,
        "identities": result.identities.height, "events": dict(result.events_by_kind),
        "added": done.added, "updated": done.updated, "removed": done.removed,
        "dropped": dict(result.dropped),
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console = Console()
    console.print(_kinds_table(f"Events in {esc(db)}", result.events_by_kind))
    console.print(f"{result.points.height:,} track points in {result.segments.height:,} segments; "
                  f"{done.added:,} events added, {done.updated:,} updated, "
                  f"{done.removed:,} provisional (open) events replaced.")


def _detect_lake(lake: str, db: Path | None, zones: list[Zone], kind: list[str], engine: str,
                 scheduler: str | None, workers: int, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from seasight.analysis.detection import POSITION_COLUMNS, detect_events
    from seasight.lake import Lake

    err = Console(stderr=True)
    kinds = kind or list(DETECTORS)
    try:
        target = Lake(lake)
        if not target.days("positions"):
            raise fail(f"no positions in lake {lake}")
    except (ValueError, OSError) as exc:
        raise fail(f"cannot read lake {lake}: {exc}") from exc
    started = time.perf_counter()
    extra: dict[str, object] = {}
    if engine == "local":
        positions = target.read("positions", columns=list(POSITION_COLUMNS)).filter(
            pl.col("ts").is_not_null() & pl.col("lat").is_not_null()
            & pl.col("lon").is_not_null())
        static = target.read("static").filter(pl.col("ts").is_not_null())
        horizon = positions["ts"].max()
        found = detect_events(positions, static, zones, kinds=kinds,
                              horizon_end=horizon if isinstance(horizon, datetime) else None
                              ).events
    else:
        from seasight.distributed import detect_lake, make_client

        try:
            client = make_client(scheduler, workers)
        except (OSError, TimeoutError, ValueError) as exc:
            raise fail(f"cannot start or reach the Dask cluster: {exc}") from exc
        try:
            with Progress(TextColumn("[bold]detect"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("tasks"), TimeElapsedColumn(), console=err,
                          disable=not err.is_terminal, transient=True) as bar:
                task = bar.add_task("detect", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                result = detect_lake(target, client, zones, kinds=kinds, progress=progress)
        finally:
            client.close()
        found = result.events
        extra = {"days": len(result.days), "buckets": result.buckets, "tiles": result.tiles,
                 "tasks": result.tasks,
                 "encounters_at_tile_edge": result.encounters_at_tile_edge}
        if result.encounters_at_tile_edge:
            err.print(f"[yellow]{result.encounters_at_tile_edge:,} encounter(s) reach beyond "
                      f"their tile's overlap margin and may be cut short[/]")
    target.replace_open_events(found, kinds)
    added = updated = removed = 0
    if db is not None:
        with open_store(db) as store:
            if zones:
                store.save_zones(zones)
            added, updated, removed = store.upsert_events(found, retire_open=kinds)
    counts = Counter(found["kind"].to_list())
    summary = {"lake": lake, "engine": engine, "events": dict(counts), **extra,
               "seconds": round(time.perf_counter() - started, 3)}
    if db is not None:
        summary.update({"db": str(db), "added": added, "updated": updated, "removed": removed})
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console = Console()
    console.print(_kinds_table(f"Events in {esc(lake)}", counts))
    console.print(f"{found.height:,} events written to {esc(lake)}"
                  + (f" and {esc(db)} ({added:,} added, {updated:,} updated)" if db else "")
                  + f" in {esc(summary['seconds'])} s.")


def _kinds_table(title: str, counts: Mapping[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("kind")
    table.add_column("events", justify="right")
    for name in DETECTORS:
        add_row(table, name, f"{counts.get(name, 0):,}")
    return table


def _time_option(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=name) from exc


def query_events(store: Store, kinds: list[str], since: datetime | None,
                 until: datetime | None) -> pl.DataFrame:
    """Stored events, optionally of some kinds and overlapping [since, until]."""
    where, params = events_where(kinds, since, until)
    return store.query(
        f"SELECT * FROM events WHERE {where} "
        f"ORDER BY start, kind, mmsi, other_mmsi, event_id", params)


def events(
    db: Path = DB_EXISTING,
    kind: list[str] = typer.Option([], "--kind", help="Only these kinds (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Events ending at or after T."),
    until: str | None = typer.Option(None, "--until", help="Events starting at or before T."),
    as_json: bool = JSON,
    as_geojson: bool = typer.Option(False, "--geojson", help="A GeoJSON FeatureCollection."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV with a header row."),
) -> None:
    """List stored events (JSON lines, GeoJSON, CSV or a table)."""
    if sum((as_json, as_geojson, as_csv)) > 1:
        raise typer.BadParameter("choose one of --json, --geojson, --csv")
    unknown = sorted(set(kind) - set(DETECTORS))
    if unknown:
        raise typer.BadParameter(f"unknown kind(s) {', '.join(unknown)}", param_hint="--kind")
    t_since, t_until = _time_option(since, "--since"), _time_option(until, "--until")
    with open_store(db, read_only=True) as store:
        found = query_events(store, kind, t_since, t_until)
    out = sys.stdout
    if as_json:
        for rec in event_records(found):
            out.write(json.dumps(rec) + "\n")
    elif as_geojson:
        json.dump(events_geojson(found), out)
        out.write("\n")
    elif as_csv:
        out.write(events_csv(found))
    else:
        table = Table(title=f"{found.height:,} events")
        for col in ("kind", "start", "end", "mmsi", "where", "score"):
            table.add_column(col)
        for rec in event_records(found):
            where = rec["zone"] or (f"{rec['lat']:.3f}, {rec['lon']:.3f}"
                                    if rec["lat"] is not None else "")
            add_row(table, rec["kind"], rec["start"], rec["end"],
                    " ".join(str(m) for m in rec["mmsi"]), where, str(rec["score"]))
        Console().print(table)


def evaluate(
    truth: Path = typer.Option(..., "--truth", help="truth.json written by seasight simulate.",
                               exists=True, dir_okay=False),
    db: Path = DB_EXISTING,
    as_json: bool = JSON,
) -> None:
    """Precision, recall and F1 per event kind against a simulation's ground truth."""
    try:
        planted = load_truth(truth)
    except (ValueError, KeyError) as exc:
        raise fail(f"{truth}: {exc}") from exc
    with open_store(db, read_only=True) as store:
        found = store.table("events")
    scores = score_events(found, planted, kinds=DETECTORS)
    if as_json:
        for s in scores:
            typer.echo(json.dumps(s.to_json()))
        return
    table = Table(title=f"Detected events against {esc(truth)}")
    for col in ("kind", "truth", "detected", "matched", "precision", "recall", "F1",
                "look-alike hits"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for s in scores:
        add_row(table, s.kind, str(s.n_truth), str(s.n_detected), str(s.n_matched_truth),
                f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.n_lookalike_hits))
    Console().print(table)
