"""``python -m seasight.bench.udp``: UDP ingest at 1k, 5k, 20k and 50k datagrams per second.

AIS receivers send one sentence per datagram, thousands a second; a datagram that does not fit
in the socket's receive queue is dropped by the kernel, silently for a reader that does not ask.
For each rate (``--rates``), a sender process sends ``--seconds`` seconds of datagrams over
loopback, paced evenly (one NMEA sentence each: unique class A position reports, 0.5 % with a
bad checksum), to:

* **seasight**: what ``seasight ingest --udp`` runs
  (:class:`~seasight.sources.udp.UdpReceiver` into :func:`seasight.ingest.pipeline.ingest_live`,
  into a
  fresh DuckDB file). Counted afterwards in the database: positions stored plus rejects kept,
  against the datagrams sent;
* **naive**: the one-datagram-at-a-time loop SeaSight used before (``recv``, decode the
  datagram, commit every second, default receive buffer), into a fresh DuckDB file, counted the
  same way;
* **pyais**: pyais's ``UDPReceiver`` decoding every message (it does not store anything, so it
  does less work than the other two). Counted: sentences it yielded.

Printed per rate and reader: datagrams sent, the send rate reached, datagrams accounted for
(stored + rejected, or decoded), the loss in percent, the kernel's drop counter for the socket,
SeaSight's queue overflows, the receive buffer and the reader's lag (from the last datagram
sent to the last one read); then SeaSight's delivered datagrams over each competitor's. Target:
no loss at 20,000 datagrams/s. The load average is printed before and after: other processes
on the machine take CPU from the reader (and the sender).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from seasight.ais import NmeaDecoder
from seasight.ais.encode import encode_positions
from seasight.ingest.pipeline import ingest_live
from seasight.model.batch import Batch
from seasight.sources.udp import UdpReceiver, socket_drops
from seasight.store import Store

__all__ = ["ReaderResult", "main", "make_datagrams", "run_naive", "run_pyais", "run_seasight"]

HOST: Final[str] = "127.0.0.1"
#: Rates measured by default (datagrams per second).
RATES: Final[tuple[int, ...]] = (1_000, 5_000, 20_000, 50_000)
#: Share of sentences sent with a wrong checksum (they must end up as rejects).
BAD_SHARE: Final[float] = 0.005
#: A reader is done when nothing new arrived for this long after the sender finished.
QUIET_S: Final[float] = 0.5
READERS: Final[tuple[str, ...]] = ("seasight", "naive", "pyais")


@dataclass
class ReaderResult:
    """One reader at one rate."""

    reader: str
    rate: int
    sent: int
    send_seconds: float
    accounted: int  # stored + rejected (seasight, naive) or sentences decoded (pyais)
    kernel_drops: int | None
    queue_overflows: int
    receive_buffer_bytes: int
    lag_s: float  # from the last datagram sent to the last one read

    @property
    def loss_pct(self) -> float:
        """Datagrams sent but not accounted for, in percent."""
        return 100.0 * (self.sent - self.accounted) / self.sent if self.sent else 0.0

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "loss_pct": round(self.loss_pct, 3)}


def make_datagrams(n: int, seed: int = 7) -> list[bytes]:
    """``n`` unique one-sentence datagrams (class A positions), ``BAD_SHARE`` of them with a
    wrong NMEA checksum."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({
        "msg_type": np.full(n, 1, np.uint8),
        "mmsi": (201_000_000 + np.arange(n) % 700_000_000).astype(np.uint32),
        "lat": rng.uniform(-60.0, 60.0, n),
        "lon": rng.uniform(-170.0, 170.0, n),
        "sog": rng.uniform(0.0, 20.0, n).astype(np.float32),
        "cog": rng.uniform(0.0, 359.0, n).astype(np.float32),
    })
    lines = [line.encode() + b"\n" for line in encode_positions(frame, tag_block=False).strings()]
    for i in np.flatnonzero(rng.random(n) < BAD_SHARE):
        line = lines[i]
        wrong = (int(line[-3:-1], 16) ^ 0x5A) & 0xFF
        lines[i] = line[:-3] + f"{wrong:02X}".encode() + b"\n"
    return lines


# --------------------------------------------------------------------------------------------
# sender


def _send(port: int, blob: bytes, offsets: Sequence[int], rate: float, out: Connection) -> None:
    """Send the datagrams ``blob[offsets[i]:offsets[i+1]]`` to ``port`` at ``rate`` per second."""
    n = len(offsets) - 1
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((HOST, port))
    send = sock.send
    view = memoryview(blob)
    errors = sent = 0
    out.send("ready")
    out.recv()  # go
    started = time.perf_counter()
    while sent < n:
        due = min(n, int((time.perf_counter() - started) * rate) + 1)
        while sent < due:
            try:
                send(view[offsets[sent]:offsets[sent + 1]])
            except OSError:  # ENOBUFS, ECONNREFUSED: the datagram is lost on our side
                errors += 1
            sent += 1
        time.sleep(0.0005)
    out.send((sent, errors, time.perf_counter() - started))
    sock.close()


class _Sender:
    """A sender process, started for ``port`` and ready; :meth:`go` starts the timed sending."""

    def __init__(self, port: int, datagrams: Sequence[bytes], rate: float) -> None:
        ctx = mp.get_context("spawn")
        offsets = np.concatenate([[0], np.cumsum([len(d) for d in datagrams])]).tolist()
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_send, args=(port, b"".join(datagrams), offsets, rate,
                                                     child), daemon=True)
        self._proc.start()
        if self._conn.recv() != "ready":
            raise RuntimeError("sender did not start")

    def go(self) -> None:
        self._conn.send("go")

    def wait(self) -> tuple[int, int, float]:
        """Datagrams sent, send errors, seconds; when the sender has finished."""
        sent, errors, seconds = self._conn.recv()
        self._proc.join(10)
        return int(sent), int(errors), float(seconds)

    def go_and_watch(self) -> None:
        """Start sending; a thread sets :attr:`finished` when done, with :attr:`sent`,
        :attr:`seconds` and :attr:`ended` (``perf_counter()`` time)."""
        self.finished = threading.Event()
        self.sent, self.seconds, self.ended = 0, 0.0, 0.0

        def watch() -> None:
            self.sent, _errors, self.seconds = self.wait()
            self.ended = time.perf_counter()
            self.finished.set()

        self._watcher = threading.Thread(target=watch, name="bench sender watch")
        self._watcher.start()
        self.go()

    def join(self) -> None:
        """Wait for the watching thread of :meth:`go_and_watch`."""
        self._watcher.join()


def _wait_quiet(count: Callable[[], int]) -> float:
    """Wait until ``count()`` has not changed for :data:`QUIET_S` seconds; return the
    ``perf_counter()`` time of its last change (to within 10 ms)."""
    last, changed = count(), time.perf_counter()
    while time.perf_counter() - changed < QUIET_S:
        time.sleep(0.01)
        now = count()
        if now != last:
            last, changed = now, time.perf_counter()
    return changed


def _accounted(db: Path) -> int:
    with Store(db, read_only=True) as store:
        return store.count("positions") + store.count("rejects")


# --------------------------------------------------------------------------------------------
# readers


def run_seasight(datagrams: Sequence[bytes], rate: int, workdir: Path,
                 receive_buffer_bytes: int | None = None) -> ReaderResult:
    """What ``seasight ingest --udp`` runs, into a fresh database (``receive_buffer_bytes``:
    the receive buffer asked for, default SeaSight's)."""
    db = workdir / f"seasight-{rate}.duckdb"
    stop = threading.Event()
    receiver = UdpReceiver(HOST, 0, stop=stop, receive_buffer_bytes=receive_buffer_bytes)
    done: dict[str, object] = {}

    def ingest() -> None:
        with Store(db) as store:
            done["report"] = ingest_live(receiver, store)

    worker = threading.Thread(target=ingest, name="bench ingest")
    worker.start()
    address = receiver.wait_listening(30)
    if address is None:
        raise RuntimeError("the UDP receiver did not bind")
    sender = _Sender(address[1], datagrams, rate)
    sender.go()
    sent, _errors, seconds = sender.wait()
    ended = time.perf_counter()
    last_read = _wait_quiet(lambda: receiver.counters.datagrams)
    stop.set()
    worker.join()
    c = receiver.counters
    return ReaderResult("seasight", rate, sent, seconds, _accounted(db), c.kernel_drops,
                        c.queue_overflows, c.receive_buffer_bytes, max(0.0, last_read - ended))


def run_naive(datagrams: Sequence[bytes], rate: int, workdir: Path) -> ReaderResult:
    """One datagram at a time: receive it, decode it, commit every second (default buffer)."""
    db = workdir / f"naive-{rate}.duckdb"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(QUIET_S)
    sender = _Sender(sock.getsockname()[1], datagrams, rate)
    decoder = NmeaDecoder(f"udp://{HOST}")
    pending: list[Batch] = []
    with Store(db) as store:
        sender.go_and_watch()
        last_commit, last_read = time.monotonic(), time.perf_counter()
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                if sender.finished.is_set():
                    break
                continue
            last_read = time.perf_counter()
            if not data.endswith(b"\n"):
                data += b"\n"
            pending.append(decoder.feed(data, arrival_ts_us=time.time_ns() // 1000))
            if time.monotonic() - last_commit >= 1.0:
                store.append(Batch.concat(pending))
                pending, last_commit = [], time.monotonic()
        pending.append(decoder.finish())
        store.append(Batch.concat(pending))
    drops = socket_drops(sock)
    buffer = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    sock.close()
    sender.join()
    return ReaderResult("naive", rate, sender.sent, sender.seconds, _accounted(db), drops, 0,
                        buffer, max(0.0, last_read - sender.ended))


def run_pyais(datagrams: Sequence[bytes], rate: int, workdir: Path) -> ReaderResult:
    """pyais's ``UDPReceiver``, decoding each message (nothing stored)."""
    from pyais.stream import UDPReceiver

    receiver = UDPReceiver(HOST, 0)
    sock = receiver._fobj  # the only way to its socket
    sock.settimeout(QUIET_S)
    sender = _Sender(sock.getsockname()[1], datagrams, rate)
    sender.go_and_watch()
    decoded = 0
    last_read = time.perf_counter()
    while True:
        try:
            for sentence in receiver:
                with contextlib.suppress(Exception):  # a bad sentence still counts as read
                    sentence.decode()
                decoded += 1
                last_read = time.perf_counter()
        except TimeoutError:
            if sender.finished.is_set():
                break
    drops = socket_drops(sock)
    buffer = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    sock.close()
    sender.join()
    return ReaderResult("pyais", rate, sender.sent, sender.seconds, decoded, drops, 0, buffer,
                        max(0.0, last_read - sender.ended))


RUNNERS: Final[dict[str, Callable[[Sequence[bytes], int, Path], ReaderResult]]] = {
    "seasight": run_seasight, "naive": run_naive, "pyais": run_pyais,
}


# --------------------------------------------------------------------------------------------
# report


def _row(r: ReaderResult) -> str:
    drops = "n/a" if r.kernel_drops is None else f"{r.kernel_drops:,}"
    return (f"{r.rate:>8,} {r.reader:>9} {r.sent:>9,} {r.sent / r.send_seconds:>10,.0f} "
            f"{r.accounted:>10,} {r.loss_pct:>7.2f} {drops:>9} {r.queue_overflows:>9,} "
            f"{r.receive_buffer_bytes / 2**20:>7.1f} {r.lag_s:>7.2f}")


def _load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m seasight.bench.udp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default=",".join(str(r) for r in RATES),
                    help="datagrams per second, comma separated")
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds sent at each rate")
    ap.add_argument("--readers", default=",".join(READERS),
                    help=f"comma separated, of {', '.join(READERS)}")
    ap.add_argument("--receive-buffer-mib", type=float, default=None,
                    help="receive buffer SeaSight asks for (default 32; Linux reports twice "
                         "the size given)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    buffer = (None if args.receive_buffer_mib is None
              else max(1, int(args.receive_buffer_mib * 2**20)))
    rates = [int(float(r)) for r in args.rates.split(",") if r.strip()]
    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = set(readers) - set(RUNNERS)
    if unknown or not rates or min(rates) <= 0 or args.seconds <= 0:
        ap.error(f"bad --rates, --seconds or --readers {sorted(unknown)}")
    if "pyais" in readers:
        try:
            import pyais  # noqa: F401
        except ImportError:
            print("pyais is not installed: its reader is left out")
            readers.remove("pyais")

    print(f"SeaSight UDP benchmark on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {_load()}", flush=True)
    n = int(max(rates) * args.seconds)
    started = time.perf_counter()
    datagrams = make_datagrams(n)
    print(f"{n:,} one-sentence datagrams made in {time.perf_counter() - started:.1f} s; "
          f"{args.seconds:g} s at each rate\n", flush=True)
    print(f"{'rate/s':>8} {'reader':>9} {'sent':>9} {'sent/s':>10} {'accounted':>10} "
          f"{'loss %':>7} {'k.drops':>9} {'q.overfl':>9} {'buf MiB':>7} {'lag s':>7}")
    results: list[ReaderResult] = []
    with tempfile.TemporaryDirectory(prefix="seasight-bench-udp-") as tmp:
        for rate in rates:
            count = int(rate * args.seconds)
            for reader in readers:
                if reader == "seasight":
                    result = run_seasight(datagrams[:count], rate, Path(tmp), buffer)
                else:
                    result = RUNNERS[reader](datagrams[:count], rate, Path(tmp))
                results.append(result)
                print(_row(result), flush=True)
    print()
    for rate in rates:
        ours = next((r for r in results if r.rate == rate and r.reader == "seasight"), None)
        if ours is None:
            continue
        others = [r for r in results if r.rate == rate and r.reader != "seasight"]
        ratios = ", ".join(f"{ours.accounted / max(o.accounted, 1):.1f}x {o.reader}"
                           for o in others)
        verdict = "no loss" if ours.accounted == ours.sent else f"{ours.loss_pct:.2f} % lost"
        print(f"{rate:>8,}/s: seasight {verdict}; datagrams delivered: {ratios or '-'}")
    target = [r for r in results if r.reader == "seasight" and r.rate == 20_000]
    if target:
        ok = target[0].accounted == target[0].sent
        print(f"target: no loss at 20,000 datagrams/s: {'met' if ok else 'NOT met'}")
    print(_load())
    if args.json:
        args.json.write_text(json.dumps({"load_end": os.getloadavg(),
                                         "results": [r.to_json() for r in results]}, indent=2))


if __name__ == "__main__":
    main()
