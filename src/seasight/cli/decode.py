"""``seasight decode``: decode NMEA to JSON lines (pyais field names), without storing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import typer

from seasight.ais import NmeaDecoder
from seasight.ais.records import to_records
from seasight.cli.options import JSON, fail
from seasight.ingest.pipeline import CHUNK_BYTES
from seasight.model.batch import Batch
from seasight.sources.files import expand_paths, line_chunks, open_source

EPILOG = """Examples:

  seasight decode capture.nmea --json | jq 'select(.msg_type == 5)'

  zcat day.nmea.gz | seasight decode - --json

Each message is one JSON object with pyais's names and units (msg_type, mmsi, lat, lon, speed,
course, heading, status, shipname, ...) plus ts (ISO 8601 UTC) and source. Not-available values
are null. Rejected lines are counted on standard error.
"""


def decode(
    paths: list[Path] = typer.Argument(..., help="NMEA files, directories, .gz, or - for stdin."),
    as_json: bool = JSON,
) -> None:
    """Decode AIS sentences and print one record per message."""
    rejects = 0
    out = sys.stdout
    for path in expand_paths(paths):
        decoder = NmeaDecoder("-" if str(path) == "-" else str(path))
        try:
            with open_source(path) as fh:
                for chunk in line_chunks(fh, CHUNK_BYTES):
                    rejects += _emit(decoder.feed(chunk), out, as_json)
        except FileNotFoundError as exc:
            raise fail(f"no such file: {path}") from exc
        rejects += _emit(decoder.finish(), out, as_json)
    if rejects:
        typer.echo(f"seasight: {rejects} line(s) rejected", err=True)


def _emit(batch: Batch, out: TextIO, as_json: bool) -> int:
    for rec in to_records(batch):
        if as_json:
            out.write(json.dumps(rec) + "\n")
        else:
            fields = " ".join(f"{k}={v}" for k, v in rec.items() if v is not None)
            out.write(fields + "\n")
    return batch.rejects.height
