"""``python -m seasight.bench.zones``: what a hostile zone costs the service.

Polygons are "tangled" rings (:func:`tangled_polygon`): points around a circle at random radii
with 1 % of neighbours swapped, so that the ring crosses itself thousands of times and its
repair grows quadratically with its size (the example of security issue 15). Measured:

1. **Refusing** a 400,000-vertex tangled polygon under the request limits
   (:data:`seasight.geo.zones.REQUEST_LIMITS`): seconds until ``zones_from_geojson`` refuses it.
2. **Repairing** a 20,000-vertex tangled polygon: the service's path (validity check, repair in
   a child process with ``make_valid(method="structure")``, :mod:`seasight.geo.polygon_repair`) and,
   unless ``--skip-old``, the previous in-thread ``make_valid`` (method "linework") plus
   ``union_all`` of the polygonal parts, itself run in a child killed after ``--old-limit``
   seconds so that the benchmark cannot hang.
3. **Shutdown**: ``seasight serve`` on a fresh database in a subprocess; a 100,000-vertex tangled
   polygon (within the size limits, its repair slower than the time limit) is posted to
   ``/api/zones``, the server gets SIGTERM one second later, and the seconds until it has
   exited are printed with the answer the request got.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from seasight.geo.polygon_repair import REPAIR_TIMEOUT_S
from seasight.geo.zones import REQUEST_LIMITS, ZoneLimitError, zones_from_geojson


def tangled_polygon(n: int, seed: int = 0, lon: float = 10.0, lat: float = 50.0
                    ) -> dict[str, Any]:
    """A GeoJSON Polygon of ``n`` + 1 vertices whose ring crosses itself about ``n`` times
    (seeded, so every run repairs the same ring)."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * math.pi, n))
    r = rng.uniform(0.5, 1, n)
    xs, ys = lon + r * np.cos(ang), lat + r * np.sin(ang)
    swap = rng.choice(n - 1, n // 100, replace=False)
    xs[swap], xs[swap + 1] = xs[swap + 1].copy(), xs[swap].copy()
    ring = np.c_[xs, ys].tolist()
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _feature(geometry: dict[str, Any], name: str) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


def _old_repair(geometry: dict[str, Any], out: Any) -> None:
    """The previous code path: ``make_valid`` (linework) in the caller's thread, then the
    union of the polygonal parts."""
    started = time.perf_counter()
    shape = shapely.from_geojson(json.dumps(geometry))
    if not shape.is_valid:
        parts = [p for p in shapely.get_parts(shapely.make_valid(shape))
                 if p.geom_type in ("Polygon", "MultiPolygon")]
        shapely.union_all(parts)
    out.put(time.perf_counter() - started)


def time_old_repair(geometry: dict[str, Any], limit_s: float) -> float | None:
    """Seconds the previous in-thread repair takes, None when over ``limit_s``."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_old_repair, args=(geometry, out), daemon=True)
    proc.start()
    proc.join(limit_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return float(out.get(timeout=5))


def time_refusal(n: int) -> tuple[float, str]:
    """Seconds until an ``n``-vertex tangled polygon is refused under the request limits."""
    feature = _feature(tangled_polygon(n), "huge")
    started = time.perf_counter()
    try:
        zones_from_geojson(feature, source="request", limits=REQUEST_LIMITS)
    except (ZoneLimitError, ValueError) as exc:
        return time.perf_counter() - started, str(exc)
    return time.perf_counter() - started, "accepted"


def time_repair(n: int) -> tuple[float, str]:
    """Seconds the service's path takes on an ``n``-vertex tangled polygon, and the outcome."""
    feature = _feature(tangled_polygon(n), "tangled")
    started = time.perf_counter()
    try:
        (zone,) = zones_from_geojson(feature, source="request")
    except ValueError as exc:
        return time.perf_counter() - started, f"refused: {exc}"
    return (time.perf_counter() - started,
            f"repaired: {shapely.get_num_coordinates(zone.geometry):,} vertices, "
            f"area {zone.geometry.area:.3f}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_shutdown(n: int) -> tuple[float, str]:
    """Seconds from SIGTERM to exit of ``seasight serve`` while a ``n``-vertex tangled polygon
    is being repaired, and the HTTP status its request got."""
    from seasight.access import ensure_tables, issue_key
    from seasight.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "zones.duckdb"
        with Store(db) as store:
            ensure_tables(store)
            key = issue_key(store, "local", role="analyst", scopes=("read", "ingest")).secret
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "seasight", "serve", "--db", str(db), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/api/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            answer: list[str] = []

            def post() -> None:
                req = urllib.request.Request(
                    f"{base}/api/zones", json.dumps(_feature(tangled_polygon(n), "t")).encode(),
                    {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=600) as resp:
                        answer.append(str(resp.status))
                except urllib.error.HTTPError as exc:
                    answer.append(f"{exc.code} {json.loads(exc.read())['error']['message']}")
                except OSError as exc:
                    answer.append(f"no answer ({exc})")
            poster = threading.Thread(target=post, daemon=True)
            poster.start()
            time.sleep(1.0)
            started = time.perf_counter()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=900)
            seconds = time.perf_counter() - started
            poster.join(10)
            return seconds, answer[0] if answer else "no answer"
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(prog="python -m seasight.bench.zones",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--refuse", type=int, default=400_000, help="vertices of step 1")
    parser.add_argument("--repair", type=int, default=20_000, help="vertices of step 2")
    parser.add_argument("--shutdown", type=int, default=99_000, help="vertices of step 3")
    parser.add_argument("--skip-old", action="store_true", help="do not time the old path")
    parser.add_argument("--old-limit", type=float, default=300.0,
                        help="seconds after which the old path is stopped")
    args = parser.parse_args(argv)

    seconds, outcome = time_refusal(args.refuse)
    print(f"1. {args.refuse:,}-vertex tangled polygon, request limits: {seconds:.3f} s "
          f"({outcome})")
    seconds, outcome = time_repair(args.repair)
    print(f"2. {args.repair:,}-vertex tangled polygon, service path: {seconds:.2f} s "
          f"({outcome}; time limit {REPAIR_TIMEOUT_S:g} s)")
    if not args.skip_old:
        old = time_old_repair(tangled_polygon(args.repair), args.old_limit)
        shown = f"{old:.2f} s" if old is not None else f"over {args.old_limit:g} s (stopped)"
        print(f"   previous in-thread make_valid + union_all: {shown}")
    seconds, outcome = time_shutdown(args.shutdown)
    print(f"3. SIGTERM to exit of `seasight serve` while a {args.shutdown:,}-vertex tangled "
          f"polygon is being repaired: {seconds:.2f} s (request answered: {outcome})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
