"""Ingest: sources read, decoded, deduplicated and stored, in bounded memory, resumably.

:mod:`seasight.ingest.pipeline` is the path a file or a live feed takes (chunks of lines,
decoding in a second thread through :mod:`seasight.ingest.prefetch`, repeated receptions
dropped, rows and the source's checkpoint committed together); its public names are importable
from here: ``from seasight.ingest import ingest_paths``.
"""

from seasight.ingest.pipeline import (
    BULK_CHECKPOINT_THRESHOLD,
    CHUNK_BYTES,
    COMMIT_ROWS,
    CSV_SUFFIXES,
    FIRST_CHUNK_BYTES,
    PREFETCH_CHUNKS,
    STORE_THREADS,
    IngestReport,
    bulk_settings,
    expand_paths,
    ingest_file,
    ingest_live,
    ingest_paths,
    reads_as_csv,
    with_damage,
)

__all__ = [
    "BULK_CHECKPOINT_THRESHOLD",
    "CHUNK_BYTES",
    "COMMIT_ROWS",
    "CSV_SUFFIXES",
    "FIRST_CHUNK_BYTES",
    "PREFETCH_CHUNKS",
    "STORE_THREADS",
    "IngestReport",
    "bulk_settings",
    "expand_paths",
    "ingest_file",
    "ingest_live",
    "ingest_paths",
    "reads_as_csv",
    "with_damage",
]
