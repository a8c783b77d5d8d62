"""Ingest: read sources, decode, deduplicate and store, resumably.

Files are read in chunks cut at line boundaries and decoded in a second thread while the
database writes. Decoded rows are committed together with a checkpoint (byte offset and decoder
state) every :data:`COMMIT_ROWS` rows, so an ingest that is killed at any moment and run again
continues from its last commit and ends with exactly the rows of an uninterrupted run. A
file ingested to the end is recognised by its fingerprint (size, modification time and a hash
of its first and last MiB: :func:`~seasight.sources.files.fingerprint`) and skipped unless
``force`` is given; a file whose fingerprint changed (edited, appended to, touched) is read again
from its start. Forced or not, duplicates are never stored twice, and which reception of a
transmission is kept does not depend on chunks, commits or restarts (:mod:`seasight.store.dedup`).
A damaged ``.gz`` file is ingested up to the damage, which is recorded as one reject.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from seasight.ais import DecoderState, NmeaDecoder
from seasight.ingest.prefetch import prefetched, with_idle_ticks
from seasight.model.batch import Batch
from seasight.sources.csv_layout import CsvLayout
from seasight.sources.csv_tracks import read_track_csv
from seasight.sources.files import (
    damage_of,
    damage_rejects,
    expand_paths,
    fingerprint,
    line_chunks,
    open_source,
)
from seasight.sources.live import LiveChunk
from seasight.sources.udp import UdpCounters
from seasight.store import DEFAULT_DB, Checkpoint, RepeatFilter, Store
from seasight.store.dedup import Receptions

#: Bytes of text decoded at a time.
CHUNK_BYTES = 16 * 1024 * 1024

#: DuckDB threads while a file is ingested: the decoding thread has the other core.
STORE_THREADS = 1

#: DuckDB's checkpoint threshold while a file is ingested: a commit that adds more than this
#: writes its rows straight to the database file instead of to the write-ahead log first
#: (from where the next checkpoint would copy them again).
BULK_CHECKPOINT_THRESHOLD = "1MiB"

#: Bytes of the first chunk: storing starts once it is decoded.
FIRST_CHUNK_BYTES = 2 * 1024 * 1024

#: Chunks decoded ahead while the database writes (each holds about 200,000 decoded rows).
PREFETCH_CHUNKS = 3

#: Rows stored in one transaction, committed with the checkpoint of the last chunk among them:
#: an ingest killed and run again redoes at most this many rows. Large transactions are what
#: DuckDB writes fastest; rows beyond a full row group go to disk before the commit, so this
#: does not bound memory, the chunk size does.
COMMIT_ROWS = 2_000_000

#: Decoded once before a live feed is opened: the decoder's first call loads its compiled
#: kernels (about 2 s, holding the interpreter), which must not happen while datagrams arrive.
WARM_UP_LINE = b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\n"

#: File name endings read as CSV tracks (MarineCadastre, DMA, generic), the rest as NMEA
#: (unless a CSV layout is given: then every file is a CSV track).
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")

Progress = Callable[[int, int], None]
"""Called after each committed chunk with (bytes read, messages decoded) so far."""


@dataclass
class IngestReport:
    """What one ingest did: counts by message type, by reject reason, rows added per table
    (net: a stored reception replaced by an earlier one of the same transmission counts in
    ``replaced``, not in ``added``)."""

    sources: list[str] = field(default_factory=list)
    already_ingested: list[str] = field(default_factory=list)
    bytes_read: int = 0
    csv_rows: int = 0
    messages: Counter[int] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # decoded lines with a problem
    added: Counter[str] = field(default_factory=Counter)
    replaced: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    #: A UDP feed's datagrams received and lost (kernel drops, queue overflows), else None.
    udp: UdpCounters | None = None

    @property
    def n_messages(self) -> int:
        """Complete messages decoded (duplicates included)."""
        return sum(self.messages.values())

    @property
    def n_rejects(self) -> int:
        """Lines rejected."""
        return sum(self.rejects.values())

    def add(self, batch: Batch, added: dict[str, int], *, csv: bool = False,
            counts: tuple[Counter[int], Counter[str]] | None = None) -> None:
        """Account for one stored batch (``csv``: rows of a CSV track, not AIS messages;
        ``counts``: its messages by type and rejects by reason, if counted before repeats were
        dropped from it)."""
        by_type, by_reason = counts or (batch.messages_by_type(), batch.rejects_by_reason())
        if csv:
            self.csv_rows += sum(
                getattr(batch, t).height
                for t in ("positions", "base_stations", "aids_to_navigation")
            )
        else:
            self.messages.update(by_type)
        self.rejects.update(by_reason)
        self.skipped.update({k: v for k, v in batch.skipped.items() if v})
        self.warnings.update({k: v for k, v in batch.warnings.items() if v})
        self.added.update({k: v for k, v in added.items() if v})

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable summary."""
        return {
            "sources": self.sources,
            "already_ingested": self.already_ingested,
            "bytes_read": self.bytes_read,
            "messages": self.n_messages,
            "csv_rows": self.csv_rows,
            "messages_by_type": {str(k): v for k, v in sorted(self.messages.items())},
            "rejects_by_reason": dict(sorted(self.rejects.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "warnings_by_reason": dict(sorted(self.warnings.items())),
            "rows_added": dict(sorted(self.added.items())),
            "rows_replaced": dict(sorted(self.replaced.items())),
            "seconds": round(self.seconds, 3),
            **({"udp": self.udp.to_json()} if self.udp is not None else {}),
        }


def source_name(path: Path) -> str:
    """The ``source`` recorded for rows read from ``path``: its absolute path (``-`` for
    standard input)."""
    return "-" if str(path) == "-" else str(path.resolve())


def source_fingerprint(path: Path, layout: CsvLayout | None = None) -> str:
    """What a completed ingest of ``path`` is recognised by (``""`` for standard input): the
    file's fingerprint, and the digest of the CSV layout it was read with, so that reading it
    with another layout is a new ingest."""
    if str(path) == "-":
        return ""
    return fingerprint(path) + (f"+layout:{layout.digest()}" if layout else "")


def ingest_file(
    path: Path,
    store: Store,
    report: IngestReport,
    *,
    force: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    commit_rows: int = COMMIT_ROWS,
    progress: Progress | None = None,
    layout: CsvLayout | None = None,
) -> None:
    """Ingest one NMEA or CSV file (or ``-``) into ``store``, resuming if interrupted.
    ``layout``: the file is a CSV track laid out so (see :func:`reads_as_csv`)."""
    source = source_name(path)
    report.sources.append(source)
    fp = source_fingerprint(path, layout)
    if source == "-":
        cp = None
    else:
        cp = store.checkpoint(source)
        if cp is not None and cp.fingerprint == fp and cp.completed and not force:
            report.already_ingested.append(source)
            return
        if cp is not None and (cp.fingerprint != fp or cp.completed):
            cp = None
    if reads_as_csv(path, layout):
        batch = read_track_csv(path, source=source, layout=layout)
        added = store.append(batch, Checkpoint(source, fp, path.stat().st_size, {}, True))
        report.bytes_read += path.stat().st_size
        report.add(batch, added, csv=True)
        if progress:
            progress(report.bytes_read, report.n_messages)
        return
    decoder = NmeaDecoder(source)
    offset = 0
    if cp is not None:
        offset = cp.offset
        decoder = NmeaDecoder(source, state=DecoderState.from_json(cp.state))
    with open_source(path) as fh, bulk_settings(store), store.appending() as appender:
        if offset:
            fh.seek(offset)
        repeats = RepeatFilter(store)
        try:
            chunks = prefetched(
                _decoded_chunks(fh, decoder, repeats, source, fp, offset, chunk_bytes),
                depth=PREFETCH_CHUNKS,
            )
            for chunk in chunks:
                added = appender.add(chunk.batch, checked=True, superseded=chunk.superseded)
                if appender.uncommitted >= commit_rows or chunk.checkpoint.completed:
                    appender.commit(chunk.checkpoint)
                    repeats.committed(chunk.number)
                report.bytes_read += chunk.nbytes
                report.add(chunk.batch, added, counts=chunk.counts)
                if progress:
                    progress(report.bytes_read, report.n_messages)
        finally:
            repeats.close()
            report.replaced.update(appender.replaced)


def reads_as_csv(path: Path, layout: CsvLayout | None) -> bool:
    """True when ``path`` is read as a CSV track: a layout is given, or its name ends in one of
    :data:`CSV_SUFFIXES`."""
    return layout is not None or path.name.lower().endswith(CSV_SUFFIXES)


def bulk_settings(store: Store) -> AbstractContextManager[None]:
    """The DuckDB settings a file's rows are written with, for the block: see
    :data:`STORE_THREADS` and :data:`BULK_CHECKPOINT_THRESHOLD`."""
    return store.settings(threads=STORE_THREADS, checkpoint_threshold=BULK_CHECKPOINT_THRESHOLD)


@dataclass
class _Decoded:
    """One decoded chunk, ready to store: its new rows, the counts of what was decoded, and
    the checkpoint that holds once it is stored."""

    number: int
    batch: Batch
    counts: tuple[Counter[int], Counter[str]]
    checkpoint: Checkpoint
    nbytes: int
    superseded: dict[str, Receptions]


def _decoded_chunks(
    fh: BinaryIO, decoder: NmeaDecoder, repeats: RepeatFilter, source: str, fp: str,
    offset: int, chunk_bytes: int
) -> Iterator[_Decoded]:
    """Decoded chunks of ``fh`` without repeated receptions, each with the checkpoint to commit
    alongside it; the last one finishes the decoder and marks the source complete.

    Meant to run beside the thread that stores, which then has nothing to do but write. The
    first chunk is small, so that writing starts early.
    """
    first = min(chunk_bytes, FIRST_CHUNK_BYTES)
    for chunk in line_chunks(fh, chunk_bytes, first_bytes=first):
        offset += len(chunk)
        batch = decoder.feed(chunk)
        yield _ready(batch, repeats,
                     Checkpoint(source, fp, offset, decoder.state.to_json(), False), len(chunk))
    batch = with_damage(decoder.finish(), fh, source, decoder.state.next_line_no)
    yield _ready(batch, repeats, Checkpoint(source, fp, offset, decoder.state.to_json(), True), 0)


def with_damage(batch: Batch, fh: BinaryIO, source: str, line_no: int) -> Batch:
    """``batch`` (the last of a file) with, if a damaged compressed file ended early, the
    reject that records the damage at ``line_no`` (see :mod:`seasight.sources.files`)."""
    damage = damage_of(fh)
    if damage is None:
        return batch
    rejects = pl.concat([batch.rejects, damage_rejects(damage, source, line_no)])
    return dataclasses.replace(batch, rejects=rejects)


def _ready(batch: Batch, repeats: RepeatFilter, checkpoint: Checkpoint, nbytes: int
           ) -> _Decoded:
    counts = (batch.messages_by_type(), batch.rejects_by_reason())
    number, new, superseded = repeats.check(batch)
    return _Decoded(number, new, counts, checkpoint, nbytes, superseded)


def ingest_paths(
    paths: Iterable[str | Path],
    db_path: str | Path | None = None,
    *,
    store: Store | None = None,
    force: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    commit_rows: int = COMMIT_ROWS,
    progress: Progress | None = None,
    layout: CsvLayout | None = None,
) -> IngestReport:
    """Ingest files, directories, ``.gz`` files and ``-`` (stdin) into a database.

    Pass either ``db_path`` (opened and closed here; default ``seasight.duckdb``) or an open
    ``store``. ``layout`` reads every file as a CSV track laid out so
    (:class:`~seasight.sources.csv_layout.CsvLayout`).

    Example:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "feed.nmea").write_bytes(
        ...     b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\nnot ais\\n")
        >>> report = ingest_paths([tmp / "feed.nmea"], tmp / "db.duckdb")
        >>> report.n_messages, dict(report.rejects), report.added["positions"]
        (1, {'malformed_sentence': 1}, 1)
    """
    started = time.perf_counter()
    report = IngestReport()
    own = store is None
    st = store if store is not None else Store(db_path if db_path is not None else DEFAULT_DB)
    try:
        for path in expand_paths(paths):
            ingest_file(path, st, report, force=force, chunk_bytes=chunk_bytes,
                        commit_rows=commit_rows, progress=progress, layout=layout)
    finally:
        if own:
            st.close()
    report.seconds = time.perf_counter() - started
    return report


def ingest_live(
    chunks: Iterable[LiveChunk],
    store: Store,
    *,
    flush_every_s: float = 1.0,
    flush_lines: int = 50_000,
    on_flush: Callable[[IngestReport], None] | None = None,
    lock: AbstractContextManager[object] | None = None,
) -> IngestReport:
    """Decode and store a live feed (see :mod:`seasight.sources.live`) until it ends.

    Lines are decoded as they arrive, with the arrival time for messages that carry none, and
    committed every ``flush_lines`` lines, at least every ``flush_every_s`` seconds, and as soon
    as the feed has been quiet for ``flush_every_s``. ``lock`` is held around each commit (the
    service's write lock, shared with the other writers of the store). When ``chunks`` has
    ``counters`` (a :class:`~seasight.sources.udp.UdpReceiver`), the report's ``udp`` holds a
    copy of them as of the last commit (``on_flush`` is also called when only they changed).
    """
    started = time.perf_counter()
    report = IngestReport()
    decoders: dict[str, NmeaDecoder] = {}
    pending: list[Batch] = []
    pending_lines = 0
    last_flush = time.monotonic()
    counters: UdpCounters | None = getattr(chunks, "counters", None)
    NmeaDecoder("warm-up").feed(WARM_UP_LINE, arrival_ts_us=0)  # before the feed is opened

    def flush() -> None:
        nonlocal pending, pending_lines, last_flush
        changed = counters is not None and counters != report.udp
        if changed:
            report.udp = counters.copy()  # type: ignore[union-attr]
        if pending:
            batch = Batch.concat(pending)
            with lock if lock is not None else nullcontext():
                added = store.append(batch)
            report.add(batch, added)
        if on_flush and (pending or changed):
            on_flush(report)
        pending, pending_lines, last_flush = [], 0, time.monotonic()

    try:
        for chunk in with_idle_ticks(chunks, flush_every_s):
            if chunk is None:  # the feed is quiet: commit what has arrived
                flush()
                continue
            dec = decoders.get(chunk.source)
            if dec is None:
                dec = decoders[chunk.source] = NmeaDecoder(chunk.source)
                report.sources.append(chunk.source)
            report.bytes_read += len(chunk.data)
            pending.append(dec.feed(chunk.data, arrival_ts_us=chunk.arrival_ts_us))
            pending_lines += chunk.data.count(b"\n")
            if pending_lines >= flush_lines or time.monotonic() - last_flush >= flush_every_s:
                flush()
    finally:
        now_us = time.time_ns() // 1000
        pending.extend(dec.finish(arrival_ts_us=now_us) for dec in decoders.values())
        flush()
        report.seconds = time.perf_counter() - started
    return report


__all__ = ["CHUNK_BYTES", "IngestReport", "bulk_settings", "expand_paths", "ingest_file",
           "ingest_live", "ingest_paths", "reads_as_csv", "source_fingerprint", "with_damage"]
