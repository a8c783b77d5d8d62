"""The live pipeline: a feed ingested while it arrives, with detection every few seconds, ends
with exactly the events of a batch run over the same data; the service runs it from a TCP feed
and pushes new events to stream clients."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from conftest import issue_admin_key
from seasight.analysis.detection import detect_store
from seasight.api import create_app
from seasight.api.live import LivePipeline, replay_feed, tcp_feed
from seasight.geo.zones import load_zones
from seasight.ingest.pipeline import ingest_paths
from seasight.risk.watchlists import add_watchlist, default_watchlists
from seasight.sim import simulate, write_simulation
from seasight.store import Store
from seasight.store.shared import SharedStore

COMPARED = ["event_id", "kind", "mmsi", "other_mmsi", "start", "end", "is_open", "lat", "lon",
            "zone", "score"]


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("live")
    write_simulation(simulate("indo-pacific", hours=40, vessels=100, seed=5), folder)
    return folder


@pytest.fixture(scope="module")
def batch_events(feed: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    db = tmp_path_factory.mktemp("batch") / "batch.duckdb"
    with Store(db) as store:
        ingest_paths([feed / "feed.nmea"], store=store)
        detect_store(store, load_zones([feed / "zones.geojson"]))
        return store.table("events").select(COMPARED).sort("event_id")


def test_replayed_feed_gives_the_events_of_a_batch_run(feed: Path, batch_events: pl.DataFrame,
                                                       tmp_path: Path) -> None:
    shared = SharedStore(tmp_path / "live.duckdb")
    with shared.writing() as store:
        store.save_zones(load_zones([feed / "zones.geojson"]))
        add_watchlist(store, default_watchlists()[0])
    # 40 simulated hours in about 6 s, analysed every 0.4 s: many incremental cycles
    pipeline = LivePipeline(shared, [replay_feed(feed / "feed.nmea", speed=24_000)],
                            analyse_every_s=0.4)
    pipeline.start()
    assert pipeline.wait_feeds(timeout=120)
    pipeline.stop()
    status = pipeline.status
    assert status.feeds[0].error is None and status.feeds[0].messages > 50_000
    assert status.analysis.cycles >= 5, status.analysis
    with shared.reading() as store:
        live = store.table("events").select(COMPARED).sort("event_id")
        windowed = store.query("SELECT count(*) AS n FROM segments")["n"][0]
    shared.close()
    assert windowed > 0
    assert live.height == batch_events.height > 50
    assert live.equals(batch_events), live.join(batch_events, on="event_id", how="anti")


class _FeedServer:
    """A TCP server sending ``lines`` to each client that connects, then staying open."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            for i in range(0, len(self.lines), 2000):
                conn.sendall(b"".join(self.lines[i:i + 2000]))
                time.sleep(0.01)
            time.sleep(120)


def test_service_ingests_a_tcp_feed_and_streams_events(feed: Path, batch_events: pl.DataFrame,
                                                       tmp_path: Path) -> None:
    lines = (feed / "feed.nmea").read_bytes().splitlines(keepends=True)
    server = _FeedServer(lines)
    with Store(tmp_path / "svc.duckdb") as store:
        store.save_zones(load_zones([feed / "zones.geojson"]))
    key = issue_admin_key(tmp_path / "svc.duckdb")
    app = create_app(tmp_path / "svc.duckdb", stream_poll_s=0.2,
                     live=lambda shared: LivePipeline(
                         shared, [tcp_feed(f"127.0.0.1:{server.port}")], analyse_every_s=0.5))
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client, \
            client.websocket_connect("/api/stream") as ws:
        assert ws.receive_json()["type"] == "hello"
        kinds: set[str] = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            msg = ws.receive_json()
            kinds.add(msg["type"])
            if {"positions", "event"} <= kinds:
                break
        assert {"positions", "event"} <= kinds
        for _ in range(300):
            live = client.get("/api/live").json()
            events = client.get("/api/events", params={"limit": 1}).json()["total"]
            if live["analysis"]["horizon"] and events == batch_events.height and (
                    live["feeds"][0]["messages"] >= len(lines) * 0.5):
                break
            time.sleep(0.2)
        assert live["feeds"][0]["name"].startswith("tcp://127.0.0.1:")
        assert live["feeds"][0]["error"] is None
        assert live["stream_clients"] == 1
        assert events == batch_events.height


def test_service_relays_ingested_positions_as_nmea(tmp_path: Path) -> None:
    """The relay inside the service: lines POSTed to /api/ingest come out of the relay's TCP
    port re-encoded as !AIVDM sentences with the same vessel and position."""
    from seasight.ais import decode_nmea
    from seasight.sharing.relay import RelayFeed, RelayServer

    db = tmp_path / "relay.duckdb"
    key = issue_admin_key(db)
    server = RelayServer(tcp_port=0, host="127.0.0.1")
    app = create_app(db, relays=[(RelayFeed("local"), server)])
    line = b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\n"
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        deadline = time.monotonic() + 10
        while server.port is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            time.sleep(0.3)  # the relay accepts the client before data arrives
            assert client.post("/api/ingest", content=line,
                               headers={"content-type": "text/plain"}).status_code == 200
            got = b""
            while b"\n" not in got and time.monotonic() < deadline + 10:
                got += sock.recv(4096)
    relayed = decode_nmea(got).positions
    original = decode_nmea(line).positions
    assert relayed.height == 1
    assert relayed["mmsi"].to_list() == original["mmsi"].to_list()
    assert relayed["lat"][0] == pytest.approx(original["lat"][0], abs=1e-5)
    assert relayed["lon"][0] == pytest.approx(original["lon"][0], abs=1e-5)


def test_shared_store_close_waits_for_uses_under_way(tmp_path: Path) -> None:
    """Closing waits for a cursor still running in another thread (a request being answered
    as the service stops), then refuses new uses."""
    shared = SharedStore(tmp_path / "busy.duckdb")
    started, release = threading.Event(), threading.Event()

    def slow_reader() -> None:
        with shared.reading() as s:
            started.set()
            release.wait(5)
            s.con.execute("SELECT count(*) FROM range(3000000)").fetchall()

    thread = threading.Thread(target=slow_reader)
    thread.start()
    assert started.wait(5)
    threading.Timer(0.3, release.set).start()
    shared.close()  # waits for the reader, instead of failing with "connection is busy"
    thread.join(5)
    with pytest.raises(RuntimeError, match="being closed"):
        shared.read(lambda s: s.count("positions"))
