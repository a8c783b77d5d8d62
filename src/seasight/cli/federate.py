"""``seasight federate``: pull a partner SeaSight's data (what its key may see) into this
database, once or every few seconds."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import typer

from seasight.cli.options import DB, JSON, fail, open_store
from seasight.events.model import parse_utc
from seasight.sharing.federation import (
    DEFAULT_OVERLAP,
    DEFAULT_TIMEOUT_S,
    FederationError,
    FederationReport,
    pull,
)

FEDERATE_EPILOG = """Examples:

  seasight federate --from https://navy.example:8000 --key ss_... --partner navy --db sea.duckdb

  seasight federate --from http://10.0.0.5:8000 --key ss_... --partner coast --every 60

The partner's service decides what the key sees (its agreements: area, delay, vessels,
rounding). Positions are stored with source federation:<partner>, owned by organisation
<partner>; events in the partner_events table. Each pull continues from the last one
(a watermark per partner) and adds nothing twice; a refused key, an unreachable partner or a
bad answer writes nothing. Exit status 1 when a single pull fails; with --every a failed pull
is reported and retried at the next interval.
"""


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise fail(f"{name}: {value!r} is not an ISO 8601 time") from exc


def _show(report: FederationReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        typer.echo(report.summary())
    for w in report.warnings:
        typer.secho(f"seasight: {report.partner}: {w}", err=True, fg="yellow")


def _once(db: Path, url: str, key: str, partner: str, since: datetime | None,
          until: datetime | None, timeout: float, events: bool, overlap_s: float,
          ) -> FederationReport:
    with open_store(db) as store:
        return pull(store, url, key, partner=partner, since=since, until=until,
                    timeout=timeout, events=events, overlap=timedelta(seconds=overlap_s))


def federate(
    url: str = typer.Option(..., "--from", help="The partner's SeaSight address "
                            "(http(s)://host:port)."),
    key: str = typer.Option(..., "--key", envvar="SEASIGHT_PARTNER_KEY",
                            help="The API key the partner issued (or SEASIGHT_PARTNER_KEY)."),
    partner: str = typer.Option(..., "--partner", help="Organisation name the partner's data "
                                "gets here (its origin)."),
    every: float | None = typer.Option(None, "--every", min=1.0, help="Pull again every "
                                       "SECONDS (default: once)."),
    times: int | None = typer.Option(None, "--times", min=1, help="With --every: stop after "
                                     "this many pulls (default: until Ctrl-C)."),
    since: str | None = typer.Option(None, "--since", help="Pull from this time (ISO 8601) "
                                     "instead of the watermark (first pull only with --every)."),
    until: str | None = typer.Option(None, "--until", help="Up to this time (ISO 8601)."),
    no_events: bool = typer.Option(False, "--no-events", help="Pull positions only."),
    overlap: float = typer.Option(DEFAULT_OVERLAP.total_seconds(), "--overlap", min=0.0,
                                  help="Seconds before the watermark to read again (rows "
                                  "that reached the partner late)."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout", min=0.1,
                                  help="Seconds to wait for each read of the partner's "
                                  "answer (a whole pull stops after PULL_DEADLINE_S)."),
    as_json: bool = JSON,
    db: Path = DB,
) -> None:
    """Pull a partner SeaSight's positions and events (as its agreements allow) into the
    database, with the partner as their origin."""
    if times is not None and every is None:
        raise fail("--times needs --every")
    t0, t1 = _time("--since", since), _time("--until", until)
    if every is None:
        try:
            report = _once(db, url, key, partner, t0, t1, timeout, not no_events, overlap)
        except FederationError as exc:
            raise fail(str(exc)) from exc
        _show(report, as_json)
        return
    done = 0
    try:
        while times is None or done < times:
            began = time.monotonic()
            try:
                report = _once(db, url, key, partner, t0 if done == 0 else None, t1,
                               timeout, not no_events, overlap)
                _show(report, as_json)
            except (FederationError, duckdb.Error) as exc:
                typer.secho(f"seasight: pull failed (retrying in {every:g} s): {exc}",
                            err=True, fg="red")
            except typer.Exit as exc:  # database could not be opened (locked): retry
                if exc.exit_code != 1:
                    raise
            done += 1
            if times is not None and done >= times:
                break
            time.sleep(max(0.0, every - (time.monotonic() - began)))
    except KeyboardInterrupt:
        pass


__all__ = ["FEDERATE_EPILOG", "federate"]
