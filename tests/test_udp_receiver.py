"""UDP ingest: every datagram of a busy feed is stored, and what the kernel drops is reported."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from seasight.api.live import LivePipeline
from seasight.bench.udp import _Sender, make_datagrams
from seasight.cli import app
from seasight.cli.summary import print_report
from seasight.ingest.pipeline import IngestReport, ingest_live
from seasight.sources import udp
from seasight.sources.udp import UdpCounters, UdpReceiver, socket_drops
from seasight.store import Store
from seasight.store.shared import SharedStore

LOCALHOST = "127.0.0.1"
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="kernel drop counter: Linux")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOCALHOST, 0))
        return int(probe.getsockname()[1])


def send_paced(port: int, datagrams: list[bytes], rate: float) -> None:
    """Send ``datagrams`` to ``port`` at about ``rate`` per second, in bursts of 1 ms."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.connect((LOCALHOST, port))
        started = time.perf_counter()
        sent = 0
        while sent < len(datagrams):
            due = min(len(datagrams), int((time.perf_counter() - started) * rate) + 1)
            for d in datagrams[sent:due]:
                sender.send(d)
            sent = due
            time.sleep(0.001)


def stored_rows(db: Path) -> int:
    with Store(db, read_only=True) as store:
        return store.count("positions") + store.count("rejects")


def test_udp_ingest_stores_all_of_20000_datagrams_sent_at_10000_per_second(
        tmp_path: Path) -> None:
    datagrams = make_datagrams(20_000)
    db = tmp_path / "udp.duckdb"
    stop = threading.Event()
    receiver = UdpReceiver(LOCALHOST, 0, stop=stop)
    reports: list[IngestReport] = []

    def ingest() -> None:
        with Store(db) as store:
            reports.append(ingest_live(receiver, store))

    worker = threading.Thread(target=ingest)
    worker.start()
    address = receiver.wait_listening(30)
    assert address is not None
    send_paced(address[1], datagrams, 10_000)
    stop.set()  # at once: what the socket still holds is read and stored before the end
    worker.join(60)
    assert not worker.is_alive()

    report = reports[0]
    assert stored_rows(db) == len(datagrams)  # no loss
    assert report.n_messages + report.n_rejects == len(datagrams)
    assert report.udp is not None
    assert report.udp.datagrams == len(datagrams)
    assert report.udp.queue_overflows == 0
    assert report.udp.kernel_drops in (0, None)
    assert report.udp.receive_buffer_bytes > 0
    assert report.to_json()["udp"]["datagrams"] == len(datagrams)  # type: ignore[index]


@linux_only
def test_kernel_drops_of_a_stalled_receiver_are_reported_by_ingest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny receive buffer and a receiver that stops reading while 2,000 datagrams arrive.
    monkeypatch.setattr(udp, "RECEIVE_BUFFER_BYTES", 4096)
    stalled, resume = threading.Event(), threading.Event()
    wait_readable = udp._wait_readable

    def stalling(sock: socket.socket, timeout: float) -> None:
        if not resume.is_set():
            stalled.set()
            resume.wait(10)
        wait_readable(sock, timeout)

    monkeypatch.setattr(udp, "_wait_readable", stalling)
    datagrams = make_datagrams(2_000)
    port = free_port()

    def send_while_stalled() -> None:
        stalled.wait(20)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for d in datagrams:
                sender.sendto(d, (LOCALHOST, port))
        resume.set()

    threading.Thread(target=send_while_stalled, daemon=True).start()
    db = tmp_path / "drops.duckdb"
    result = CliRunner().invoke(app, ["ingest", "--udp", f"{LOCALHOST}:{port}", "--duration",
                                      "3", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    counters = summary["udp"]
    assert counters["kernel_drops"] > 0
    assert counters["datagrams"] + counters["kernel_drops"] == len(datagrams)
    assert counters["queue_overflows"] == 0
    assert stored_rows(db) == counters["datagrams"]  # what was received is all stored


def test_text_summary_says_how_many_datagrams_were_lost() -> None:
    report = IngestReport(udp=UdpCounters(datagrams=1_500, bytes=70_000, kernel_drops=500,
                                          queue_overflows=0, receive_buffer_bytes=8 << 20))
    console = Console(record=True, width=200)
    print_report(report, console)
    text = console.export_text()
    assert "1,500 datagrams received" in text
    assert "500 dropped by the kernel" in text
    assert "0 by queue overflow" in text


@linux_only
def test_socket_drops_reads_the_kernel_counter_of_this_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.bind((LOCALHOST, 0))
        assert socket_drops(sock) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(200):
                sender.sendto(b"x" * 100, sock.getsockname())
        drops = socket_drops(sock)
        assert drops is not None and drops > 0
        received = 0
        sock.setblocking(False)
        while True:
            try:
                sock.recv(1000)
            except BlockingIOError:
                break
            received += 1
        assert received + drops == 200


def test_live_status_shows_the_udp_counters(tmp_path: Path) -> None:
    port = free_port()
    shared = SharedStore(tmp_path / "live.duckdb")
    pipeline = LivePipeline(
        shared, [(f"udp://{LOCALHOST}:{port}",
                  lambda stop: UdpReceiver(LOCALHOST, port, stop=stop))],
        analyse_every_s=60, flush_every_s=0.2)
    pipeline.start()
    try:
        datagrams = make_datagrams(300)
        deadline = time.monotonic() + 30
        sent = False
        while time.monotonic() < deadline:
            feed = pipeline.status.to_json()["feeds"][0]
            if feed["udp"] is not None and feed["udp"]["receive_buffer_bytes"] and not sent:
                send_paced(port, datagrams, 5_000)
                sent = True
            if sent and feed["udp"]["datagrams"] == len(datagrams):
                break
            time.sleep(0.05)
    finally:
        pipeline.stop()
        shared.close()
    feed = pipeline.status.to_json()["feeds"][0]
    assert feed["udp"]["datagrams"] == len(datagrams)
    assert feed["udp"]["queue_overflows"] == 0
    assert feed["udp"]["kernel_drops"] in (0, None)
    assert feed["messages"] + feed["rejects"] == len(datagrams)


def test_ctrl_c_ends_a_live_ingest_after_storing_what_was_received(tmp_path: Path) -> None:
    datagrams = make_datagrams(3_000)
    port = free_port()
    db = tmp_path / "interrupted.duckdb"

    def send_then_interrupt() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the CLI listens (it is bound lazily)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((LOCALHOST, port))
                except OSError:
                    break
            time.sleep(0.05)
        send_paced(port, datagrams, 5_000)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, straight after the last datagram

    threading.Thread(target=send_then_interrupt, daemon=True).start()
    started = time.monotonic()
    result = CliRunner().invoke(app, ["ingest", "--udp", f"{LOCALHOST}:{port}", "--duration",
                                      "60", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 50  # ended by the interrupt, not the duration
    summary = json.loads(result.stdout)
    assert summary["udp"]["datagrams"] == len(datagrams)
    assert summary["messages"] + sum(summary["rejects_by_reason"].values()) == len(datagrams)
    assert stored_rows(db) == len(datagrams)


def test_stop_ends_the_receiver_even_while_a_flood_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "STOP_DRAIN_S", 0.3)
    stop = threading.Event()
    receiver = UdpReceiver(LOCALHOST, 0, stop=stop, receive_buffer_bytes=1 << 20)
    chunks: list[int] = []
    ended = threading.Event()

    def consume() -> None:
        for chunk in receiver:
            chunks.append(chunk.data.count(b"\n"))
        ended.set()

    threading.Thread(target=consume, daemon=True).start()
    address = receiver.wait_listening(30)
    assert address is not None
    flood = _Sender(address[1], make_datagrams(300_000), rate=1e9)  # as fast as it can
    flood.go()
    deadline = time.monotonic() + 30
    while receiver.counters.datagrams < 20_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    stopped = time.monotonic()
    stop.set()
    assert ended.wait(10), "the receiver did not stop"
    assert time.monotonic() - stopped < 3.0
    assert sum(chunks) + receiver.counters.queue_overflows == receiver.counters.datagrams
    flood.wait()
