"""``python -m seasight.bench.service``: the service under load.

Two measurements, printed with what they mean:

1. **Viewport latency.** A store holding ``--vessels`` vessels (default 100,000, spread over
   the Indo-Pacific, ``--reports`` positions each, with identities) is served by uvicorn; a
   client asks ``GET /api/vessels?bbox=...`` for random regional viewports (10 x 10 degrees, a
   watch officer's sea area) and for the whole region (capped at 20,000 vessels, the map's
   limit), over HTTP, and the latencies' median and 95th percentile are printed. The same
   viewports are also answered the naive way (a GROUP BY over every stored report, what the
   service does without its ``vessel_latest`` table): the ratio is printed. Target: p95 under
   50 ms.
2. **Live ingest under load.** The service ingests a simulated feed from a TCP server that
   sends it at ``--rate`` lines per second (default 30,000: about 22,000 decoded messages per
   second, as a type 5 report takes two lines and some lines are other stations' receptions
   of the same message), with analysis (incremental detection, screening, risk, alerts)
   every ``--analyse-every`` seconds and ``--clients`` WebSocket stream clients (default 20)
   connected. Printed: messages sent and stored per
   second, the backlog when the sender finished and how long the service took to clear it,
   analysis cycles and their duration, messages received per client. Target: at least 20,000
   messages per second without falling behind.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from seasight.model.schema import POSITIONS, conform

BOX_W, BOX_S, BOX_E, BOX_N = 40.0, -30.0, 180.0, 45.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """uvicorn serving ``app`` in a thread."""

    def __init__(self, app: Any, key: str) -> None:
        import uvicorn

        self.key = key
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def get(self, path: str) -> bytes:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     headers={"Authorization": f"Bearer {self.key}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return bytes(r.read())


def admin_key(db: Path) -> str:
    """A key of the local organisation with every scope (the service wants one)."""
    from seasight.access import ensure_tables, issue_key
    from seasight.store import Store

    with Store(db) as store:
        ensure_tables(store)
        return issue_key(store, "local", role="admin", scopes=("read", "ingest", "admin"),
                         label="bench").secret


def build_store(db: Path, vessels: int, reports: int, seed: int = 1) -> None:
    """``vessels`` vessels with ``reports`` positions each and one identity each."""
    from seasight.store import Store

    rng = np.random.default_rng(seed)
    n = vessels * reports
    mmsi = np.repeat(np.arange(200_000_000, 200_000_000 + vessels, dtype=np.uint32), reports)
    lat0 = rng.uniform(BOX_S, BOX_N, vessels)
    lon0 = rng.uniform(BOX_W, BOX_E, vessels)
    base = datetime(2024, 3, 1, tzinfo=UTC)
    minutes = rng.integers(0, 600, n)
    ts = pl.Series([base]).dt.cast_time_unit("us").to_list()[0]
    frame = pl.DataFrame({
        "mmsi": mmsi,
        "ts": pl.Series(np.full(n, np.datetime64(ts.replace(tzinfo=None), "us"))
                        + (minutes * 60_000_000).astype("timedelta64[us]")
                        ).dt.replace_time_zone("UTC"),
        "lat": np.repeat(lat0, reports) + rng.normal(0, 0.01, n),
        "lon": np.repeat(lon0, reports) + rng.normal(0, 0.01, n),
        "sog": rng.uniform(0, 20, n).astype(np.float32),
        "cog": rng.uniform(0, 360, n).astype(np.float32),
        "heading": rng.integers(0, 360, n).astype(np.uint16),
        "msg_type": np.ones(n, np.uint8), "source": "bench",
    })
    ids = pl.DataFrame({
        "mmsi": np.arange(200_000_000, 200_000_000 + vessels, dtype=np.uint32),
        "valid_from": [base] * vessels, "valid_to": [base + timedelta(hours=10)] * vessels,
        "shipname": [f"BENCH {i}" for i in range(vessels)],
        "ship_type": rng.integers(20, 90, vessels).astype(np.uint8), "flag": "SG",
    })
    with Store(db) as store:
        store.con.register("_p", conform(frame, POSITIONS).to_arrow())
        store.con.execute("INSERT INTO positions SELECT * FROM _p")
        store.con.unregister("_p")
        store.replace("identities", ids)


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def viewport_bench(vessels: int, reports: int, requests: int, folder: Path) -> dict[str, Any]:
    from seasight.api import create_app
    from seasight.api import query as q
    from seasight.store import Store

    db = folder / "viewport.duckdb"
    t0 = time.perf_counter()
    build_store(db, vessels, reports)
    print(f"store: {vessels:,} vessels x {reports} reports built in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    rng = np.random.default_rng(2)
    boxes = [(float(w), float(s), float(w) + 10, float(s) + 10) for w, s in zip(
        rng.uniform(BOX_W, BOX_E - 10, requests), rng.uniform(BOX_S, BOX_N - 10, requests),
        strict=True)]
    out: dict[str, Any] = {"vessels": vessels, "reports": vessels * reports}
    with _Server(create_app(db, static_dir=folder / "none"), admin_key(db)) as server:
        server.get("/api/vessels?bbox=0,0,1,1")  # warm up
        for name, chosen in (("regional 10x10 deg", boxes),
                             ("whole region (20,000 cap)", [(BOX_W, BOX_S, BOX_E, BOX_N)] * 20)):
            times, sizes = [], []
            for box in chosen:
                t = time.perf_counter()
                body = server.get("/api/vessels?bbox=" + ",".join(f"{v:g}" for v in box))
                times.append((time.perf_counter() - t) * 1000)
                sizes.append(len(json.loads(body)["features"]))
            out[name] = {"p50_ms": round(_pct(times, 50), 1), "p95_ms": round(_pct(times, 95), 1),
                         "mean_features": round(statistics.mean(sizes))}
            print(f"  {name}: {len(chosen)} requests, {statistics.mean(sizes):,.0f} vessels "
                  f"each, p50 {_pct(times, 50):.1f} ms, p95 {_pct(times, 95):.1f} ms", flush=True)
    # the naive answer: GROUP BY over every report (no vessel_latest), same regional boxes
    with Store(db, read_only=True) as store:
        naive = []
        for box in boxes[:50]:
            t = time.perf_counter()
            frame = q.latest_positions(store, q.Caller.local(), bbox=box,
                                       at=datetime(2100, 1, 1, tzinfo=UTC))
            q.vessel_features_json(frame)
            naive.append((time.perf_counter() - t) * 1000)
    out["naive_group_by_p95_ms"] = round(_pct(naive, 95), 1)
    ratio = _pct(naive, 95) / out["regional 10x10 deg"]["p95_ms"]
    print(f"  naive GROUP BY over all reports (in-process, no HTTP): p95 {_pct(naive, 95):.1f} "
          f"ms; the service is {ratio:.1f}x faster", flush=True)
    return out


class _Feeder:
    """A TCP server sending ``lines`` at ``rate`` lines per second to the first client."""

    def __init__(self, lines: list[bytes], rate: float) -> None:
        self.lines, self.rate = lines, rate
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.sent_bytes = 0
        self.started = self.finished = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.sock.accept()
        step = max(1, int(self.rate / 20))  # 20 sends a second
        with conn:
            self.started = time.monotonic()
            for i in range(0, len(self.lines), step):
                data = b"".join(self.lines[i:i + step])
                conn.sendall(data)
                self.sent_bytes += len(data)
                self.sent = min(i + step, len(self.lines))
                due = self.started + self.sent / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.finished = time.monotonic()
            time.sleep(3600)


def live_bench(vessels: int, hours: float, rate: float, clients: int, analyse_every: float,
               folder: Path) -> dict[str, Any]:
    from websockets.sync.client import connect

    from seasight.api import create_app
    from seasight.api.live import LivePipeline, tcp_feed
    from seasight.sim import simulate, write_simulation

    t0 = time.perf_counter()
    write_simulation(simulate("indo-pacific", hours=hours, vessels=vessels, seed=3), folder)
    lines = (folder / "feed.nmea").read_bytes().splitlines(keepends=True)
    print(f"feed: {vessels:,} vessels x {hours:g} h = {len(lines):,} lines, simulated in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    feeder = _Feeder(lines, rate)
    key = admin_key(folder / "live.duckdb")
    app = create_app(folder / "live.duckdb", static_dir=folder / "none", live=lambda shared:
                     LivePipeline(shared, [tcp_feed(f"127.0.0.1:{feeder.port}")],
                                  analyse_every_s=analyse_every))
    received = [0] * clients
    stop = threading.Event()

    def client(k: int, port: int) -> None:
        with connect(f"ws://127.0.0.1:{port}/api/stream", max_size=None,
                     additional_headers={"Authorization": f"Bearer {key}"}) as ws:
            while not stop.is_set():
                try:
                    ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                received[k] += 1

    with _Server(app, key) as server:
        threads = [threading.Thread(target=client, args=(k, server.port), daemon=True)
                   for k in range(clients)]
        for t in threads:
            t.start()
        backlog_at_end = None
        samples = []
        total = sum(len(line) for line in lines)
        while True:
            status = json.loads(server.get("/api/live"))
            read = status["feeds"][0]["bytes_read"]
            samples.append((time.monotonic(), feeder.sent_bytes, read))
            if feeder.finished and backlog_at_end is None:
                backlog_at_end = feeder.sent_bytes - read
            if feeder.finished and read >= total:
                break
            if feeder.finished and time.monotonic() - feeder.finished > 120:
                break
            time.sleep(0.1)
        cleared = time.monotonic() - feeder.finished
        time.sleep(analyse_every + 1)
        status = json.loads(server.get("/api/live"))
        stop.set()
        for t in threads:
            t.join(5)
    sent_rate = feeder.sent / (feeder.finished - feeder.started)
    stored = status["feeds"][0]["messages"]
    stored_rate = stored / (feeder.finished - feeder.started + max(cleared, 0.0))
    line_bytes = total / len(lines)
    behind = round(max(s - d for _, s, d in samples) / line_bytes)
    backlog_at_end = round((backlog_at_end or 0) / line_bytes)
    a = status["analysis"]
    out = {"lines": len(lines), "sent_per_s": round(sent_rate),
           "messages_stored": stored, "messages_per_s": round(stored_rate),
           "max_backlog_lines": behind, "backlog_at_end": backlog_at_end,
           "cleared_after_s": round(cleared, 2), "analysis_cycles": a["cycles"],
           "last_cycle_s": a["seconds"], "stream_clients": clients,
           "messages_per_client_min": min(received), "messages_per_client_max": max(received)}
    print(f"  sent {sent_rate:,.0f} lines/s for {feeder.finished - feeder.started:.1f} s; stored "
          f"{stored:,} messages ({stored_rate:,.0f} messages/s); largest backlog {behind:,} "
          f"lines ({behind / rate:.2f} s of feed); everything read {cleared:.2f} s after the "
          "last line was sent", flush=True)
    print(f"  analysis: {a['cycles']} cycles, last took {a['seconds']:.2f} s; "
          f"{clients} stream clients got {min(received)}-{max(received)} messages each",
          flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m seasight.bench.service", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vessels", type=int, default=100_000)
    ap.add_argument("--reports", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--live-vessels", type=int, default=1500)
    ap.add_argument("--live-hours", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=30_000, help="lines sent per second")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--analyse-every", type=float, default=5.0)
    ap.add_argument("--skip-viewport", action="store_true")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    print(f"SeaSight service benchmark on {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="seasight-bench-") as tmp:
        if not args.skip_viewport:
            print("1. latest positions in a viewport", flush=True)
            results["viewport"] = viewport_bench(args.vessels, args.reports, args.requests,
                                                 Path(tmp))
        if not args.skip_live:
            print("2. live ingest with analysis and stream clients", flush=True)
            results["live"] = live_bench(args.live_vessels, args.live_hours, args.rate,
                                         args.clients, args.analyse_every, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
