"""The live picture: ingest feeds continuously and keep events, risk and alerts current.

A :class:`LivePipeline` runs beside the service on its :class:`~seasight.store.shared.SharedStore`:

* one thread per feed (TCP client, UDP listener or a replayed capture, see
  :mod:`seasight.sources`) decodes lines as they arrive and commits them every second
  (:func:`seasight.ingest.pipeline.ingest_live`);
* one analysis thread, every ``analyse_every_s`` seconds when new positions were stored, runs
  :class:`~seasight.analysis.detection.IncrementalDetector` (the same chain as ``seasight detect``,
  over
  the recent window only, with the same events as a batch run), re-screens identities against
  the stored watchlists when identities changed, re-scores risk and fires the alert rules
  (revising the alerts of events that grew: an encounter still going on says how long it
  lasts now).

Reading and computing happen on a cursor of their own; only writes hold the store's write
lock, so the service keeps answering while the pipeline works. Everything the pipeline stores
reaches clients through the service's stream (:mod:`seasight.api.stream`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seasight.analysis.detection import IncrementalDetector, StoredDetection
from seasight.ingest.pipeline import IngestReport, ingest_live
from seasight.risk.alerts import Rule, default_rules, update_alerts
from seasight.risk.score import risk_store
from seasight.sources.live import LiveChunk, parse_endpoint, tcp_chunks, udp_chunks
from seasight.sources.replay import replay_chunks
from seasight.store.latest import refresh_latest
from seasight.store.shared import SharedStore

logger = logging.getLogger(__name__)

#: Seconds between two analysis cycles (detection, screening, risk, alerts).
ANALYSE_EVERY_S = 5.0

#: A feed: a name, and a function that opens it (stopping when the event is set).
Feed = tuple[str, Callable[[threading.Event], Iterable[LiveChunk]]]


@dataclass
class FeedStatus:
    """What one feed has delivered so far."""

    name: str
    running: bool = True
    messages: int = 0
    rejects: int = 0
    bytes_read: int = 0
    error: str | None = None
    #: A UDP feed's datagrams received, kernel drops, queue overflows and receive buffer
    #: (:class:`~seasight.sources.udp.UdpCounters`); None for other feeds.
    udp: dict[str, int | None] | None = None


@dataclass
class CycleStatus:
    """The last analysis cycle."""

    cycles: int = 0
    seconds: float = 0.0
    events_added: int = 0
    events_updated: int = 0
    alerts_fired: int = 0
    alerts_revised: int = 0  # alerts whose event grew (or ended): their text and duration
    horizon: str | None = None  # the newest position seen, ISO 8601
    finished_at: float = 0.0  # time.time() when it ended


@dataclass
class LiveStatus:
    feeds: list[FeedStatus] = field(default_factory=list)
    analysis: CycleStatus = field(default_factory=CycleStatus)

    def to_json(self) -> dict[str, Any]:
        return {"feeds": [vars(f) for f in self.feeds], "analysis": vars(self.analysis)}


def tcp_feed(endpoint: str) -> Feed:
    """A feed read as a TCP client of ``HOST:PORT`` (reconnecting)."""
    host, port = parse_endpoint(endpoint, default_host="127.0.0.1")
    return f"tcp://{host}:{port}", lambda stop: tcp_chunks(host, port, stop=stop)


def udp_feed(endpoint: str) -> Feed:
    """A feed of UDP datagrams received on ``[HOST:]PORT``."""
    host, port = parse_endpoint(endpoint)
    return f"udp://{host}:{port}", lambda stop: udp_chunks(host, port, stop=stop)


def replay_feed(path: str | Path, speed: float) -> Feed:
    """A capture replayed at ``speed`` times its recorded pace."""
    p = Path(path)
    return f"replay:{p.name}", lambda stop: replay_chunks(p, speed=speed, stop=stop)


class LivePipeline:
    """Continuous ingest of ``feeds`` into ``shared`` with incremental analysis."""

    def __init__(self, shared: SharedStore, feeds: Sequence[Feed], *,
                 rules: Sequence[Rule] | None = None,
                 analyse_every_s: float = ANALYSE_EVERY_S,
                 flush_every_s: float = 1.0,
                 detector: IncrementalDetector | None = None,
                 on_cycle: Callable[[CycleStatus], None] | None = None) -> None:
        self.shared = shared
        self.feeds = list(feeds)
        self.rules = list(rules) if rules is not None else default_rules()
        self.analyse_every_s = analyse_every_s
        self.flush_every_s = flush_every_s
        self.detector = detector or IncrementalDetector()
        self.on_cycle = on_cycle
        self.status = LiveStatus([FeedStatus(name) for name, _ in self.feeds])
        self._stop = threading.Event()
        self._feeds_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seen_rowid = -1
        self._lock = threading.Lock()  # one analysis cycle at a time

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the feed threads and the analysis thread."""
        for status, (_name, open_feed) in zip(self.status.feeds, self.feeds, strict=True):
            t = threading.Thread(target=self._run_feed, args=(status, open_feed),
                                 name=f"feed {status.name}", daemon=True)
            self._threads.append(t)
        self._threads.append(threading.Thread(target=self._run_analysis, name="analysis",
                                              daemon=True))
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the feeds (committing what they hold) and the analysis thread."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def wait_feeds(self, timeout: float | None = None) -> bool:
        """Wait until every feed has ended (a replay at its end of file); True if they did."""
        return self._feeds_done.wait(timeout)

    def feeds_running(self) -> bool:
        return any(f.running for f in self.status.feeds)

    # ------------------------------------------------------------------ feeds

    def _run_feed(self, status: FeedStatus,
                  open_feed: Callable[[threading.Event], Iterable[LiveChunk]]) -> None:
        def flushed(report: IngestReport) -> None:
            self.shared.write(refresh_latest)  # the map's current picture
            status.messages = report.n_messages
            status.rejects = report.n_rejects
            status.bytes_read = report.bytes_read
            if report.udp is not None:
                status.udp = report.udp.to_json()

        try:
            with self.shared.reading() as store:
                report = ingest_live(open_feed(self._stop), store,
                                     flush_every_s=self.flush_every_s, on_flush=flushed,
                                     lock=self.shared.write_lock)
            flushed(report)
        except Exception as exc:  # a feed must never take the service down
            logger.exception("feed %s failed", status.name)
            status.error = f"{type(exc).__name__}: {exc}"
        finally:
            status.running = False
            if not self.feeds_running():
                self._feeds_done.set()

    # ------------------------------------------------------------------ analysis

    def _run_analysis(self) -> None:
        while True:
            stopping = self._stop.wait(self.analyse_every_s)
            try:
                self.analyse()
            except Exception:  # keep analysing later data even if one cycle failed
                logger.exception("analysis cycle failed")
            if stopping:
                return

    def analyse(self) -> StoredDetection | None:
        """One cycle, if positions were stored since the last: detect, screen, score, alert."""
        with self._lock:
            top = self.shared.read(lambda s: s.last_rowid("positions"))
            if top == self._seen_rowid:
                return None
            started = time.perf_counter()
            window = self.shared.read(self.detector.detect)
            if window is None:
                return None
            with self.shared.writing() as store:
                done = self.detector.save(store, window)
                risk_store(store)  # brings identities and screening up to date first
                fired = update_alerts(store, self.rules)
            self._seen_rowid = top
            a = self.status.analysis
            a.cycles += 1
            a.seconds = round(time.perf_counter() - started, 3)
            a.events_added, a.events_updated = done.added, done.updated
            a.alerts_fired, a.alerts_revised = fired.new.height, fired.revised.height
            a.horizon = window.horizon.strftime("%Y-%m-%dT%H:%M:%SZ")
            a.finished_at = time.time()
            if self.on_cycle:
                self.on_cycle(a)
            return done


__all__ = ["ANALYSE_EVERY_S", "CycleStatus", "Feed", "FeedStatus", "LivePipeline",
           "LiveStatus", "replay_feed", "tcp_feed", "udp_feed"]
