"""``python -m seasight.bench.map``: the web map with 20,000 vessels in headless Chromium.

A store of ``--vessels`` vessels (default 20,000, spread over the Indo-Pacific: the synthetic
store of :func:`seasight.bench.service.build_store`) is served by uvicorn with the web map; the
page is opened in Debian's headless ``chromium`` through Playwright, signed in with an API key
in the address (``#key=...``, as ``seasight demo`` prints it), and measured:

1. **First draw**: seconds from navigation until every vessel is drawn (the map's first
   ``idle`` after the vessel source got the ``/api/vessels`` answer), and how many vessel
   symbols the map then reports rendered.
2. **Pan and zoom**: frame times (``requestAnimationFrame`` deltas) over ``--seconds`` while
   the camera pans and zooms (``map.panBy`` / ``map.easeTo``, one move a second): frames per
   second (median and 5th percentile), frames longer than 50 ms.
3. **Applying an update** of ``--moves`` vessels (new positions merged by the page's stream
   handler): the main-thread time of sending them to the vessel source (a diff,
   ``updateData``) and the time until the map has drawn them (its next ``idle``: the worker
   has indexed the 20,000 vessels again and laid out their symbols).
4. **Stream latency**: a moved position posted as NMEA to ``/api/ingest`` until the page has
   merged it (pushed by the ``/api/stream`` WebSocket) and until it is drawn. This includes the
   service's stream poll (1 s here) and the page's redraw throttle (250 ms).

**Baseline**, in the same run and page: the naive way, one DOM marker per vessel
(``maplibregl.Marker``, as a Leaflet-style map would do), with the WebGL vessel layers hidden.
The same figures 1-3 are measured for it (first draw: creating the 20,000 markers until the
next frame; update: ``setLngLat`` of ``--moves`` markers until the next frame). Its markers are
plain dots (no heading, no colour by type, no hover), which favours the baseline.

Headless Chromium draws WebGL with SwiftShader (software GL on the CPU), whose renderer string
is printed: on a machine with a GPU the WebGL figures would be better. A screenshot of the map
is saved (``--screenshot``, default ``build/screenshots/map-20k.png``; none of the baseline:
capturing the page with 20,000 markers takes over a minute here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from seasight.bench.service import admin_key, build_store

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SHOT = ROOT / "build" / "screenshots" / "map-20k.png"
#: Chromium flags: WebGL through SwiftShader (no GPU in a headless container).
CHROMIUM_ARGS = ("--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
                 "--ignore-gpu-blocklist")
#: When the synthetic store's reports end (build_store: 2024-03-01 plus up to 600 minutes).
_STORE_END = datetime(2024, 3, 1, 10, tzinfo=UTC)
#: Rounds of each update measurement (the median is printed).
ROUNDS = 3

# Records requestAnimationFrame deltas into window.__bench.frames until stopped.
_FRAME_RECORDER = """() => {
  const b = window.__bench = { frames: [], running: true };
  let last = null;
  const tick = (t) => {
    if (last !== null) b.frames.push(t - last);
    last = t;
    if (b.running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

# Pans and zooms the map through the page's test handle: one camera move every `step` ms,
# alternating panBy and easeTo (zooming in and out around the vessels' area).
_CAMERA_DRIVER = """([step, home]) => {
  const map = window.seasight.map;
  const moves = [
    () => map.panBy([260, 120], { duration: step * 0.9 }),
    () => map.easeTo({ zoom: map.getZoom() + 1.5, duration: step * 0.9 }),
    () => map.panBy([-320, -60], { duration: step * 0.9 }),
    () => map.easeTo({ zoom: map.getZoom() + 1, center: map.getCenter(), duration: step * 0.9 }),
    () => map.panBy([-200, 160], { duration: step * 0.9 }),
    () => map.easeTo({ center: home.center, zoom: home.zoom, duration: step * 0.9 }),
  ];
  let i = 0;
  moves[i++ % moves.length]();
  window.__camera = setInterval(() => moves[i++ % moves.length](), step);
}"""

# `n` vessels of the page's picture moved 0.01 degree north-east, as stream features.
_MOVED = """(n) => {
  const all = Array.from(window.seasight.state.vessels.values());
  const out = [];
  for (let i = 0; i < n && i < all.length; i++) {
    const f = all[(i * 7919) % all.length];
    const [x, y] = f.geometry.coordinates;
    out.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [x + 0.01, y + 0.01] },
               properties: { mmsi: f.properties.mmsi } });
  }
  return out;
}"""

# WebGL: merge `n` moved vessels through the page's stream handler, then wait for the redraw
# (250 ms throttle) and for the map to have drawn it; answers that redraw's record.
_WEBGL_UPDATE = """async (n) => {
  const s = window.seasight;
  const before = s.state.redraws.length;
  s.mergePositions({ type: 'positions', features: (MOVED)(n) });
  const merged = performance.now();
  for (;;) {
    const r = s.state.redraws.slice(before).find((x) => x.at >= merged - 1 && x.drawn != null);
    if (r) return { setData: r.setData, drawn: r.drawn, throttle: r.at - merged };
    await new Promise((ok) => setTimeout(ok, 5));
  }
}""".replace("MOVED", _MOVED)

# Baseline: hide the WebGL vessel layers, add one DOM marker per vessel; answers the ms to
# create them and until the next frame is drawn.
_DOM_MARKERS = """async () => {
  const s = window.seasight, map = s.map;
  for (const id of ['vessels', 'vessels-listed', 'vessel-selected'])
    map.setLayoutProperty(id, 'visibility', 'none');
  const t0 = performance.now();
  const markers = new Map();
  for (const f of s.state.vessels.values()) {
    const el = document.createElement('div');
    el.style.cssText = 'width:7px;height:7px;border-radius:50%;background:#80ed99;'
      + 'border:1px solid #000;box-sizing:border-box';
    markers.set(f.properties.mmsi,
      new maplibregl.Marker({ element: el }).setLngLat(f.geometry.coordinates).addTo(map));
  }
  const created = performance.now() - t0;
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  window.__markers = markers;
  return { created, drawn: performance.now() - t0, count: markers.size };
}"""

# Baseline update: setLngLat of `n` markers, until the next frame is drawn.
_DOM_UPDATE = """async (n) => {
  const moved = (MOVED)(n);
  const t0 = performance.now();
  for (const f of moved) {
    const m = window.__markers.get(f.properties.mmsi);
    if (m) m.setLngLat(f.geometry.coordinates);
  }
  const main = performance.now() - t0;
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  return { setData: main, drawn: performance.now() - t0 };
}""".replace("MOVED", _MOVED)


@dataclass
class Frames:
    """Frame times of one measured phase."""

    name: str
    frames: list[float]

    def figures(self) -> dict[str, Any]:
        """fps median and 5th percentile, long frames."""
        f = np.asarray(self.frames[1:] or [0.0])  # the first delta includes set-up
        ok = bool(f.any())
        return {
            "frames": int(f.size),
            "fps_median": round(1000 / float(np.median(f)), 1) if ok else 0.0,
            "fps_p5": round(1000 / float(np.percentile(f, 95)), 1) if ok else 0.0,
            "frame_ms_median": round(float(np.median(f)), 1),
            "frame_ms_p95": round(float(np.percentile(f, 95)), 1),
            "frame_ms_max": round(float(f.max()), 1),
            "long_frames_over_50ms": int((f > 50).sum()),
        }

    def line(self) -> str:
        g = self.figures()
        if len(self.frames) < 3:  # no full frame measured: slower than the phase allows
            return f"{len(self.frames)} animation frames in the whole phase (well under 1 fps)"
        return (f"{g['fps_median']:5.1f} fps median, {g['fps_p5']:5.1f} fps 5th pct "
                f"(frame median {g['frame_ms_median']:.0f} ms, p95 {g['frame_ms_p95']:.0f} ms, "
                f"max {g['frame_ms_max']:.0f} ms), {g['long_frames_over_50ms']} of "
                f"{g['frames']} frames > 50 ms")


def _median(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(float(r[key]) for r in rows), 1)


def auth_required(base: str) -> bool:
    """True when the service at ``base`` wants credentials (401 without them)."""
    try:
        with urllib.request.urlopen(f"{base}/api/vessels?limit=1", timeout=60) as r:
            r.read()
    except urllib.error.HTTPError as error:
        if error.code == 401:
            return True
        raise
    return False


class _Server:
    """uvicorn serving ``app`` on a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def _moved_nmea(features: list[dict[str, Any]], clock: datetime) -> tuple[bytes, float, float]:
    """NMEA type 1 reports moving ``features`` 0.01 degree north-east at ``clock``; the last
    vessel's new position."""
    from seasight.ais.encode import encode_positions
    from seasight.model.schema import POSITIONS, conform

    xy = np.array([f["geometry"]["coordinates"] for f in features], dtype=np.float64)
    lon, lat = np.round(xy[:, 0] + 0.01, 4), np.round(xy[:, 1] + 0.01, 4)
    n = len(features)
    frame = conform(pl.DataFrame({
        "mmsi": [f["properties"]["mmsi"] for f in features], "ts": [clock] * n,
        "msg_type": [1] * n, "lat": lat, "lon": lon, "sog": np.full(n, 12.0),
        "cog": np.full(n, 45.0), "heading": [45] * n, "nav_status": [0] * n}), POSITIONS)
    return encode_positions(frame).to_bytes(), float(lon[-1]), float(lat[-1])


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "text/plain", **headers})
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()


def _get_json(url: str, headers: dict[str, str]) -> Any:
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


@contextmanager
def _browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - the test extra installs it
        raise SystemExit("playwright is not installed: pip install -e '.[test]'") from error
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is not installed (scripts/install-system.sh)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def _settle(page: Any) -> None:
    page.wait_for_function("!window.seasight.map.isMoving() && window.seasight.map.loaded()",
                           timeout=120_000)


def _pan_zoom(page: Any, name: str, seconds: float) -> Frames:
    """Frame times over ``seconds`` with the camera panning and zooming; back home after."""
    home = page.evaluate("(() => { const m = window.seasight.map;"
                         " return {center: m.getCenter().toArray(), zoom: m.getZoom()}; })()")
    page.evaluate(_FRAME_RECORDER)
    page.evaluate(_CAMERA_DRIVER, [1000, home])
    time.sleep(seconds)
    frames = page.evaluate("(() => { window.__bench.running = false;"
                           " clearInterval(window.__camera); return window.__bench.frames; })()")
    page.evaluate("([c, z]) => window.seasight.map.jumpTo({center: c, zoom: z})",
                  [home["center"], home["zoom"]])
    _settle(page)
    return Frames(name, [float(x) for x in frames])


def _stream_latency(page: Any, base: str, headers: dict[str, str],
                    features: list[dict[str, Any]], moves: int) -> list[dict[str, float]]:
    """Rounds of ``moves`` positions posted to /api/ingest: ms (page clock) from just before
    the post until the page merged them and until the map drew them."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(ROUNDS):
        picked = [features[j] for j in rng.choice(len(features), moves, replace=False)]
        body, lon, lat = _moved_nmea(picked, _STORE_END + timedelta(minutes=5 + i))
        m = picked[-1]["properties"]["mmsi"]
        before = page.evaluate("window.seasight.state.redraws.length")
        t0 = page.evaluate("performance.now()")
        _post(f"{base}/api/ingest?source=bench-map", body, headers)
        page.wait_for_function(
            f"(() => {{ const f = window.seasight.state.vessels.get({m});"
            f" return f && Math.abs(f.geometry.coordinates[0] - {lon}) < 1e-3"
            f" && Math.abs(f.geometry.coordinates[1] - {lat}) < 1e-3; }})()",
            timeout=60_000, polling=10)
        merged = page.evaluate("window.seasight.state.positionsAt")
        page.wait_for_function(
            f"window.seasight.state.redraws.slice({before}).some("
            f"r => r.at >= {merged} && r.drawn != null)", timeout=60_000, polling=10)
        drawn = page.evaluate(
            f"(() => {{ const r = window.seasight.state.redraws.slice({before}).find("
            f"r => r.at >= {merged} && r.drawn != null); return r.at + r.drawn; }})()")
        out.append({"merged": merged - t0, "drawn": drawn - t0})
        _settle(page)
    return out


def run(vessels: int, reports: int, seconds: float, moves: int, shot: Path,
        folder: Path) -> dict[str, Any]:
    """Build, serve, open and measure; returns the figures (also printed)."""
    from seasight.api import create_app
    from seasight.web import STATIC_DIR, is_built

    if not is_built():
        raise SystemExit("the web map is not built: run web/build.sh")
    db = folder / "map.duckdb"
    t0 = time.perf_counter()
    build_store(db, vessels, reports)
    print(f"store: {vessels:,} vessels x {reports} reports built in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    secret = admin_key(db)  # before the service opens the store
    app = create_app(db, static_dir=STATIC_DIR, stream_poll_s=1.0)
    out: dict[str, Any] = {"vessels": vessels, "moves": moves}
    with _Server(app) as server, _browser() as browser:
        base = server.base
        key = secret if auth_required(base) else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        features = _get_json(f"{base}/api/vessels?limit=50000", headers)["features"]
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/" + (f"#key={key}" if key else ""))
        page.wait_for_function("window.seasight && window.seasight.vesselsDrawnAt",
                               timeout=180_000, polling=20)
        drawn_ms = float(page.evaluate("window.seasight.vesselsDrawnAt"))
        count = page.evaluate("window.seasight.vesselCount")
        rendered = page.evaluate("(() => { const m = window.seasight.map; return new Set("
                                 "m.queryRenderedFeatures({layers: ['vessels']})"
                                 ".map(f => f.properties.mmsi)).size; })()")
        renderer = page.evaluate("""() => {
            const gl = document.createElement('canvas').getContext('webgl');
            if (!gl) return 'no WebGL';
            const info = gl.getExtension('WEBGL_debug_renderer_info');
            return info ? `${gl.getParameter(info.UNMASKED_VENDOR_WEBGL)} / `
              + `${gl.getParameter(info.UNMASKED_RENDERER_WEBGL)}`
              : `${gl.getParameter(gl.VENDOR)} / ${gl.getParameter(gl.RENDERER)}`; }""")
        software = "swiftshader" in renderer.lower() or "llvmpipe" in renderer.lower()
        user = page.evaluate("window.seasight.user")
        print(f"chromium {browser.version}, headless, 1600x1000; WebGL renderer: {renderer}",
              flush=True)
        print(("  SOFTWARE GL: SwiftShader draws WebGL on the CPU (no GPU here), on "
               f"{os.cpu_count()} CPU cores shared with the service and anything else running;"
               " a GPU would draw faster") if software else "  hardware WebGL", flush=True)
        if user:
            print(f"  signed in as {user.get('user')} @ {user.get('organisation')} with the key "
                  "in the address (#key=)", flush=True)
        _settle(page)
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))

        print(f"  [{time.perf_counter() - t0:.0f} s] first draw {drawn_ms / 1000:.2f} s",
              flush=True)

        # --- SeaSight: WebGL (one GeoJSON source, one symbol layer)
        page.wait_for_function("window.seasight.streamState === 'live'", timeout=30_000)
        webgl_frames = _pan_zoom(page, "WebGL", seconds)
        print(f"  [{time.perf_counter() - t0:.0f} s] WebGL pan/zoom: {webgl_frames.line()}",
              flush=True)
        webgl_updates = [page.evaluate(_WEBGL_UPDATE, moves) for _ in range(ROUNDS)]
        _settle(page)
        stream = _stream_latency(page, base, headers, features, moves)
        print(f"  [{time.perf_counter() - t0:.0f} s] WebGL updates and stream measured",
              flush=True)

        # --- Baseline: one DOM marker per vessel, same page
        dom = page.evaluate(_DOM_MARKERS)
        print(f"  [{time.perf_counter() - t0:.0f} s] {dom['count']:,} DOM markers created in "
              f"{dom['created'] / 1000:.1f} s, drawn after {dom['drawn'] / 1000:.1f} s",
              flush=True)
        dom_frames = _pan_zoom(page, "DOM markers", seconds)
        print(f"  [{time.perf_counter() - t0:.0f} s] DOM pan/zoom: {dom_frames.line()}",
              flush=True)
        dom_updates = [page.evaluate(_DOM_UPDATE, moves) for _ in range(ROUNDS)]

        out.update({
            "renderer": renderer, "software_gl": software, "vessels_loaded": count,
            "screenshot": str(shot), "page_errors": errors,
            "webgl": {"first_draw_ms": round(drawn_ms), "vessels_rendered": rendered,
                      "pan_zoom": webgl_frames.figures(),
                      "update_setdata_ms": _median(webgl_updates, "setData"),
                      "update_drawn_ms": _median(webgl_updates, "drawn"),
                      "stream_merged_ms": _median(stream, "merged"),
                      "stream_drawn_ms": _median(stream, "drawn")},
            "dom_markers": {"create_ms": round(dom["created"]),
                            "first_draw_ms": round(dom["drawn"]), "markers": dom["count"],
                            "pan_zoom": dom_frames.figures(),
                            "update_main_ms": _median(dom_updates, "setData"),
                            "update_drawn_ms": _median(dom_updates, "drawn")},
        })

    w, d = out["webgl"], out["dom_markers"]
    print(f"\n{count:,} vessels loaded; {rendered:,} drawn in the view by the WebGL layer; "
          f"updates of {moves:,} vessels; medians of {ROUNDS} rounds", flush=True)
    print("first draw of every vessel", flush=True)
    print(f"  SeaSight (WebGL symbol layer): {drawn_ms / 1000:6.2f} s after navigation "
          "(page, sign-in, /api/vessels, tiling, first frame)", flush=True)
    print(f"  baseline (DOM markers):        {dom['drawn'] / 1000:6.2f} s to create "
          f"{dom['count']:,} markers and draw the next frame (data already in the page)",
          flush=True)
    print(f"pan and zoom for {seconds:g} s", flush=True)
    print(f"  SeaSight (WebGL):       {webgl_frames.line()}", flush=True)
    print(f"  baseline (DOM markers): {dom_frames.line()}", flush=True)
    print(f"applying an update of {moves:,} vessels", flush=True)
    print(f"  SeaSight (WebGL):       updateData {w['update_setdata_ms']:.1f} ms on the main "
          f"thread, drawn {w['update_drawn_ms']:.0f} ms after it (the worker re-indexes all "
          f"{count:,} and lays out their symbols)", flush=True)
    print(f"  baseline (DOM markers): setLngLat {d['update_main_ms']:.1f} ms on the main "
          f"thread, drawn {d['update_drawn_ms']:.0f} ms after it", flush=True)
    print(f"stream latency, {moves:,} positions POSTed to /api/ingest (stream poll 1 s, "
          "redraw throttle 250 ms)", flush=True)
    print(f"  SeaSight: merged in the page {w['stream_merged_ms']:.0f} ms, drawn "
          f"{w['stream_drawn_ms']:.0f} ms after the POST started (no baseline: same path)",
          flush=True)
    print(f"screenshot: {shot} (WebGL; none of the baseline: capturing that page takes "
          "over a minute)", flush=True)
    if errors:
        print(f"page errors: {errors[:3]}", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(prog="python -m seasight.bench.map", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vessels", type=int, default=20_000)
    ap.add_argument("--reports", type=int, default=2, help="stored positions per vessel")
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each pan/zoom phase")
    ap.add_argument("--moves", type=int, default=1_000,
                    help="vessels given a new position in each update")
    ap.add_argument("--screenshot", type=Path, default=DEFAULT_SHOT)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.vessels < 1 or args.reports < 1 or args.seconds <= 0 or args.moves < 1:
        ap.error("--vessels, --reports, --seconds and --moves must be positive")
    args.moves = min(args.moves, args.vessels)
    print(f"SeaSight web map benchmark on {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seasight-bench-map-") as tmp:
        results = run(args.vessels, args.reports, args.seconds, args.moves, args.screenshot,
                      Path(tmp))
    print(f"done in {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
