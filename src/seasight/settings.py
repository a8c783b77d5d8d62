"""Every tunable threshold of ingest and decoding, in one table of (name, default, unit, help).

The values live beside the code that uses them (so each module reads as a whole); this table
collects them for documentation, and a test checks that the README lists each one with its
default. Later stages (tracks, events, risk) add theirs here.
"""

from __future__ import annotations

from dataclasses import dataclass

from seasight import dedup, ingest
from seasight.ais import assembly, decoder, framing
from seasight.store import database


@dataclass(frozen=True)
class Setting:
    """One named, documented parameter."""

    name: str
    default: object
    unit: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("MAX_LINE_BYTES", framing.MAX_LINE_BYTES, "bytes",
            "longest line accepted; longer lines are rejected as oversize_line"),
    Setting("MAX_PENDING_BYTES", decoder.MAX_PENDING_BYTES, "bytes",
            "a streamed line still without newline after this is cut and handled"),
    Setting("MAX_GAP_LINES", assembly.MAX_GAP_LINES, "lines",
            "fragments of one message further apart are not joined (missing_fragment)"),
    Setting("DEDUP_WINDOW_S", dedup.DEDUP_WINDOW_S, "seconds",
            "receptions of the same payload this close in time are one transmission"),
    Setting("CHUNK_BYTES", ingest.CHUNK_BYTES, "bytes", "text decoded at a time by ingest"),
    Setting("PREFETCH_CHUNKS", ingest.PREFETCH_CHUNKS, "chunks",
            "chunks decoded ahead while the database writes"),
    Setting("COMMIT_ROWS", ingest.COMMIT_ROWS, "rows",
            "decoded rows committed together with the source's checkpoint"),
    Setting("CHECKPOINT_THRESHOLD", database.CHECKPOINT_THRESHOLD, "",
            "DuckDB write-ahead log size at which it is folded into the database file"),
)
