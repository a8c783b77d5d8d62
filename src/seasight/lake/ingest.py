"""Ingest files into a lake (``seasight ingest FILES --lake DIR``) instead of a database.

The same decoders as :mod:`seasight.ingest.pipeline`; rows are written to the lake's partitions
every
``commit_rows`` decoded rows. A file ingested to the end is recorded with its fingerprint in
``<lake>/_ingested.json`` and skipped next time (unless ``force``); a file whose ingest was
interrupted is read again from the start, and the duplicates of the rows already written are
dropped on write (:meth:`seasight.lake.dataset.Lake.append_batch`), so it ends with the rows of
an uninterrupted ingest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from seasight.ais import NmeaDecoder
from seasight.ingest.pipeline import (
    CHUNK_BYTES,
    COMMIT_ROWS,
    IngestReport,
    Progress,
    reads_as_csv,
    source_fingerprint,
    source_name,
    with_damage,
)
from seasight.lake.dataset import Lake
from seasight.model.batch import Batch
from seasight.sources.csv_layout import CsvLayout
from seasight.sources.csv_tracks import read_track_csv
from seasight.sources.files import expand_paths, line_chunks, open_source

__all__ = ["ingest_lake"]


def ingest_lake(
    paths: Iterable[str | Path],
    lake: Lake | str,
    *,
    force: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    commit_rows: int = COMMIT_ROWS,
    progress: Progress | None = None,
    layout: CsvLayout | None = None,
) -> IngestReport:
    """Decode NMEA/CSV files, directories, ``.gz`` files and ``-`` into ``lake`` (a
    :class:`Lake` or its root path/URL, created with the default buckets when new);
    ``layout`` as in :func:`seasight.ingest.pipeline.ingest_paths`."""
    started = time.perf_counter()
    target = lake if isinstance(lake, Lake) else Lake(lake)
    report = IngestReport()
    done = target.ingested()
    for path in expand_paths(paths):
        source = source_name(path)
        report.sources.append(source)
        fp = source_fingerprint(path, layout)
        if fp and done.get(source) == fp and not force:
            report.already_ingested.append(source)
            continue
        if reads_as_csv(path, layout):
            batch = read_track_csv(path, source=source, layout=layout)
            report.add(batch, target.append_batch(batch), csv=True)
            report.bytes_read += path.stat().st_size
        else:
            _ingest_nmea(path, source, target, report, chunk_bytes, commit_rows)
        if progress:
            progress(report.bytes_read, report.n_messages)
        if fp:
            target.mark_ingested(source, fp)
    report.seconds = time.perf_counter() - started
    return report


def _ingest_nmea(path: Path, source: str, lake: Lake, report: IngestReport, chunk_bytes: int,
                 commit_rows: int) -> None:
    decoder = NmeaDecoder(source)
    pending: list[Batch] = []
    rows = 0

    def flush() -> None:
        nonlocal pending, rows
        if pending:
            whole = Batch.concat(pending)
            report.add(whole, lake.append_batch(whole))
        pending, rows = [], 0

    with open_source(path) as fh:
        for chunk in line_chunks(fh, chunk_bytes):
            batch = decoder.feed(chunk)
            report.bytes_read += len(chunk)
            pending.append(batch)
            rows += batch.n_rows()
            if rows >= commit_rows:
                flush()
        pending.append(with_damage(decoder.finish(), fh, source, decoder.state.next_line_no))
    flush()
