"""The web map: its static files exist after ``web/build.sh``, reference only local assets, and
(in headless Chromium, when it is installed) the page signs in with the API key of its address
(``#key=``, as ``seasight demo`` prints it), renders the map, draws the vessels of a simulated
store, opens a dossier from search and from a click on the map, filters events, acknowledges an
alert and moves a vessel on a live update; without a key it shows the sign-in dialog, signs in
with a user name and password and signs out. Screenshots go to ``build/screenshots/`` (or
``$SEASIGHT_SCREENSHOTS``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import analysed_demo, issue_admin_key
from seasight.web import STATIC_DIR, VENDOR_FILES, is_built

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "web" / "build.sh"
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("SEASIGHT_SCREENSHOTS", ROOT / "build" / "screenshots"))
#: A user of the local organisation who signs in with a password (sign-in test).
USER, PASSWORD = "officer.web", "harbour-lights-42"


# --------------------------------------------------------------------------- static checks


@pytest.fixture(scope="module")
def built() -> Path:
    """The static folder, with the vendored libraries (runs ``web/build.sh`` when they are
    missing and npm is there; skips otherwise)."""
    if not is_built():
        if shutil.which("npm") is None:
            pytest.skip("web/build.sh has not run and npm is not installed")
        subprocess.run(["sh", str(BUILD)], check=True, cwd=ROOT, timeout=600)
    assert is_built()
    return STATIC_DIR


def test_page_files_exist(built: Path) -> None:
    for name in ("index.html", "app.js", "symbols.js", "app.css", "favicon.svg", *VENDOR_FILES):
        path = built / name
        assert path.is_file() and path.stat().st_size > 0, name
    # The vendored MapLibre is the browser build, not a stub.
    assert b"maplibregl" in (built / "vendor" / "maplibre-gl.js").read_bytes()[:200_000]


def test_web_package_is_locked() -> None:
    package = json.loads((ROOT / "web" / "package.json").read_text())
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    assert "maplibre-gl" in package["dependencies"]
    assert "node_modules/maplibre-gl" in lock["packages"]
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "web/node_modules/" in ignored
    assert "src/seasight/web/static/vendor/" in ignored


class _Refs(HTMLParser):
    """Every URL an HTML page loads (src, href of link, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href", "data", "poster", "action") and value:
                self.refs.append(value)


def _is_local(url: str) -> bool:
    return not re.match(r"^([a-z][a-z0-9+.-]*:|//)", url, re.IGNORECASE)


def test_index_references_only_local_assets(built: Path) -> None:
    parser = _Refs()
    parser.feed((built / "index.html").read_text(encoding="utf-8"))
    assert parser.refs, "index.html loads nothing?"
    external = [u for u in parser.refs if not _is_local(u)]
    assert external == []
    for ref in parser.refs:
        if ref.startswith("#"):
            continue
        assert (built / ref.lstrip("/")).is_file(), f"index.html references missing {ref}"


def test_scripts_make_no_external_requests(built: Path) -> None:
    """The scripts and app.css name no host: data comes from /api on the same origin."""
    for name in ("app.js", "symbols.js", "app.css"):
        text = (built / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|wss?://[a-z]", text), name
    app = (built / "app.js").read_text(encoding="utf-8")
    for endpoint in ("/layers/land", "/vessels", "/events", "/alerts", "/stream", "/zones",
                     "/track", "/ack"):
        assert endpoint in app, endpoint
    # No glyph server: the style has no `glyphs` URL and no layer draws text.
    symbols = (built / "symbols.js").read_text(encoding="utf-8")
    for script in (app, symbols):
        assert not re.search(r"glyphs['\"]?\s*:", script)
        assert "text-field" not in script


# --------------------------------------------------------------------------- map colours

#: Colour-vision deficiencies simulated on linear RGB (Machado, Oliveira & Fernandes 2009,
#: severity 1.0: dichromacy, the hardest case).
CVD_MATRICES = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}
#: Smallest CIEDE2000 difference between two ship type colours: for normal vision, and under
#: each simulated dichromacy (where ten colours cannot all stay 15 apart).
MIN_DELTA_E = 15.0
MIN_DELTA_E_CVD = 10.0


def _lab(hex_colour: str, cvd: str | None = None) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, optionally as seen with a colour-vision deficiency."""
    srgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    rgb = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in srgb]
    if cvd is not None:
        rgb = [min(max(sum(m * c for m, c in zip(row, rgb, strict=True)), 0.0), 1.0)
               for row in CVD_MATRICES[cvd]]
    r, g, b = rgb
    xyz = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b,
           0.2126729 * r + 0.7151522 * g + 0.0721750 * b,
           0.0193339 * r + 0.1191920 * g + 0.9503041 * b)
    fx, fy, fz = (t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116
                  for t in (xyz[0] / 0.95047, xyz[1], xyz[2] / 1.08883))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """The CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), kL = kC = kH = 1."""
    from math import atan2, cos, degrees, exp, hypot, radians, sin, sqrt

    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (hypot(a1, b1) + hypot(a2, b2)) / 2
    g = 0.5 * (1 - sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = hypot(a1p, b1), hypot(a2p, b2)
    h1p, h2p = degrees(atan2(b1, a1p)) % 360, degrees(atan2(b2, a2p)) % 360
    dh = h2p - h1p
    if c1p * c2p == 0:
        dh = 0.0
    elif dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * sqrt(c1p * c2p) * sin(radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * cos(radians(h_bar - 30)) + 0.24 * cos(radians(2 * h_bar))
         + 0.32 * cos(radians(3 * h_bar + 6)) - 0.20 * cos(radians(4 * h_bar - 63)))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = (-sin(radians(60 * exp(-(((h_bar - 275) / 25) ** 2))))
           * 2 * sqrt(cp_bar ** 7 / (cp_bar ** 7 + 25 ** 7)))
    return sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2
                + r_t * (d_c / s_c) * (d_h / s_h))


def test_ciede2000_matches_published_pairs() -> None:
    """Pairs from Sharma, Wu & Dalal's CIEDE2000 test data."""
    assert _ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert _ciede2000((50, -1.3802, -84.2814), (50, 0, -82.7485)) == pytest.approx(1.0, abs=1e-4)
    assert _ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)
    assert _ciede2000((60.2574, -34.0099, 36.2677),
                      (60.4626, -34.1751, 39.4387)) == pytest.approx(1.2644, abs=1e-4)


def _ship_type_palette(app: str) -> dict[str, str]:
    """SHIP_TYPE_PALETTE of symbols.js: category -> colour."""
    block = re.search(r"const SHIP_TYPE_PALETTE = \{(.*?)\};", app, re.DOTALL)
    assert block, "symbols.js has no SHIP_TYPE_PALETTE"
    pairs = re.findall(r"""['"]?([^'":\n]+?)['"]?\s*:\s*'(#[0-9a-fA-F]{6})'""", block.group(1))
    return {label.strip(): colour.lower() for label, colour in pairs}


def test_ship_type_colours_are_distinguishable() -> None:
    """Every pair of ship type colours differs by CIEDE2000 >= 15, and >= 10 under simulated
    protanopia, deuteranopia and tritanopia; every category of the type steps has one."""
    app = (STATIC_DIR / "symbols.js").read_text(encoding="utf-8")
    palette = _ship_type_palette(app)
    steps = re.search(r"const TYPE_STEPS = \[(.*?)\n\];", app, re.DOTALL)
    assert steps, "symbols.js has no TYPE_STEPS"
    categories = set(re.findall(r"\[\d+, '([^']+)'\]", steps.group(1)))
    assert categories and categories == set(palette), (categories, set(palette))
    assert len(set(palette.values())) == len(palette) >= 10
    labels = sorted(palette)
    for cvd, floor in ((None, MIN_DELTA_E), *((c, MIN_DELTA_E_CVD) for c in CVD_MATRICES)):
        lab = {k: _lab(palette[k], cvd) for k in labels}
        worst = min((_ciede2000(lab[a], lab[b]), a, b)
                    for i, a in enumerate(labels) for b in labels[i + 1:])
        assert worst[0] >= floor, f"{cvd or 'normal vision'}: {worst}"


# --------------------------------------------------------------------------- browser test


def _playwright_or_skip() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store built like ``seasight demo`` does, from a small simulation."""
    folder = tmp_path_factory.mktemp("web")
    db = folder / "web.duckdb"
    analysed_demo(folder, db, hours=30, vessels=80)
    return db


@dataclass(frozen=True)
class Service:
    """The running service: its base URL and an admin API key for it."""

    base: str
    key: str

    def get(self, path: str) -> Any:
        return _get(self.base + path, self.key)

    def post(self, path: str, body: bytes, content_type: str) -> Any:
        return _post(self.base + path, body, content_type, self.key)


@pytest.fixture(scope="module")
def server(built: Path, demo_db: Path) -> Iterator[Service]:
    """The SeaSight service on a free port, in a thread, with an admin key and a user who
    signs in with a password (both made before the service opens the store)."""
    _playwright_or_skip()
    uvicorn = pytest.importorskip("uvicorn")
    from seasight.access import create_user
    from seasight.api.app import create_app
    from seasight.store import Store

    key = issue_admin_key(demo_db)
    with Store(demo_db) as store:
        create_user(store, "local", USER, "analyst", password=PASSWORD)
    app = create_app(demo_db, static_dir=built, stream_poll_s=0.5)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Service(base, key)
    srv.should_exit = True
    thread.join(timeout=10)


def _get(url: str, key: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _post(url: str, body: bytes, content_type: str, key: str) -> Any:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": content_type,
                                          "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@contextmanager
def _browser_page(errors: list[str]) -> Iterator[Any]:
    """A 1400 x 900 page of headless Chromium whose script errors are added to ``errors``."""
    sync_playwright = _playwright_or_skip()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page
        finally:
            browser.close()


def test_service_requires_credentials(server: Service) -> None:
    """What the page relies on: 401 without credentials, the page itself is public."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.base}/api/vessels", timeout=30)
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{server.base}/", timeout=30) as r:
        assert b"signin-dialog" in r.read()
    assert server.get("/api/me")["organisation"] == "local"


def _moved_position_line(feature: dict[str, Any]) -> tuple[str, tuple[float, float]]:
    """An NMEA type 1 report putting the vessel of ``feature`` 0.05° north-east, a minute
    after its last position."""
    from datetime import datetime

    from seasight.ais.encode import encode_positions
    from seasight.model.schema import POSITIONS, conform

    p = feature["properties"]
    lon, lat = feature["geometry"]["coordinates"]
    new = (round(lon + 0.05, 4), round(lat + 0.05, 4))
    ts = datetime.fromisoformat(p["ts"].replace("Z", "+00:00")) + timedelta(minutes=1)
    frame = conform(pl.DataFrame({"mmsi": [p["mmsi"]], "ts": [ts], "msg_type": [1],
                                  "lat": [new[1]], "lon": [new[0]], "sog": [10.0],
                                  "cog": [45.0], "heading": [45], "nav_status": [0]}),
                    POSITIONS)
    return encode_positions(frame).to_bytes().decode("ascii"), new


def test_map_in_chromium(server: Service) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = server.base
    vessels = server.get("/api/vessels")["features"]
    assert vessels, "the simulated store has no vessels"
    named = next(f for f in vessels if f["properties"].get("name"))
    errors: list[str] = []
    external: list[str] = []

    with _browser_page(errors) as page:
        page.on("request", lambda r: None if r.url.startswith(base)
                or r.url.startswith(base.replace("http", "ws"))
                or r.url.startswith(("data:", "blob:")) else external.append(r.url))
        # Signed in by the key in the address, as `seasight demo` prints it.
        page.goto(f"{base}/#key={server.key}")

        # The map renders and the vessel layer is loaded with every vessel.
        page.wait_for_function("window.seasight && window.seasight.vesselsLoaded",
                               timeout=60_000)
        # The key was traded for a session and taken out of the address; no dialog.
        assert page.evaluate("window.seasight.user.organisation") == "local"
        assert "key=" not in page.url
        assert page.locator("#signin-dialog").is_hidden()
        assert page.locator("#account").is_visible()
        assert page.locator("#map canvas.maplibregl-canvas").count() == 1
        assert page.evaluate("window.seasight.vesselCount") == len(vessels)
        assert f"{len(vessels):,} vessels" in page.inner_text("#vessel-count")
        page.wait_for_function(
            "window.seasight.map.loaded() && window.seasight.map.queryRenderedFeatures("
            "{layers: ['vessels']}).length > 0", timeout=60_000)
        assert page.evaluate("window.seasight.map.queryRenderedFeatures("
                             "{layers: ['land']}).length") > 0, "no land drawn"
        page.screenshot(path=str(SHOTS / "01-map.png"))

        # Search by name flies to the vessel and opens its dossier.
        page.fill("#search-input", named["properties"]["name"])
        page.click("#search-button")
        mmsi = named["properties"]["mmsi"]
        page.wait_for_function(f"window.seasight.selected === {mmsi}")
        page.wait_for_selector("#dossier:not([hidden]) h2", timeout=30_000)
        assert str(mmsi) in page.inner_text("#dossier-body")
        assert page.evaluate("window.seasight.lastSearch.mmsi") == mmsi
        page.wait_for_function("window.seasight.trackPoints > 1", timeout=30_000)
        page.screenshot(path=str(SHOTS / "02-search-dossier.png"))

        # Search by MMSI works too.
        other = next(f for f in vessels if f["properties"]["mmsi"] != mmsi)
        page.fill("#search-input", str(other["properties"]["mmsi"]))
        page.click("#search-button")
        page.wait_for_function(f"window.seasight.selected === {other['properties']['mmsi']}")

        # ... and by IMO number, written as analysts write it.
        with_imo = next(f for f in vessels if f["properties"].get("imo")
                        and f["properties"]["mmsi"] != other["properties"]["mmsi"])
        page.fill("#search-input", f"IMO {with_imo['properties']['imo']}")
        page.click("#search-button")
        page.wait_for_function(
            f"window.seasight.selected === {with_imo['properties']['mmsi']}")

        # Clicking a vessel on the map opens its dossier.
        page.click("#dossier-close")
        page.wait_for_function("window.seasight.selected === null")
        page.wait_for_function(
            "!window.seasight.map.isMoving() && window.seasight.map.loaded()", timeout=30_000)
        target = page.evaluate("""() => {
            const m = window.seasight.map;
            const fs = m.queryRenderedFeatures({layers: ['vessels']});
            const c = m.getCanvas().getBoundingClientRect();
            for (const f of fs) {
              const p = m.project(f.geometry.coordinates);
              if (p.x > 20 && p.y > 20 && p.x < c.width - 400 && p.y < c.height - 60)
                return {x: c.left + p.x, y: c.top + p.y, mmsi: f.properties.mmsi};
            }
            return null; }""")
        assert target is not None, "no vessel drawn away from the edges"
        page.mouse.click(target["x"], target["y"])
        page.wait_for_function("window.seasight.selected !== null", timeout=10_000)
        page.wait_for_selector("#dossier:not([hidden]) h2", timeout=30_000)
        page.screenshot(path=str(SHOTS / "03-click-dossier.png"))

        # Filtering events by kind leaves only that kind in the list.
        page.wait_for_function("window.seasight.eventCount > 0", timeout=30_000)
        kinds = page.eval_on_selector_all("#event-list li[data-kind]",
                                          "els => els.map(e => e.dataset.kind)")
        kind = kinds[0]
        page.select_option("#event-kind", kind)
        page.wait_for_function(
            f"[...document.querySelectorAll('#event-list li[data-kind]')].every("
            f"e => e.dataset.kind === '{kind}')")
        assert page.locator("#event-list li[data-kind]").count() > 0
        page.screenshot(path=str(SHOTS / "04-events-filtered.png"))

        # Acknowledging an alert moves it out of the "new" list.
        assert server.get("/api/alerts?state=new")["items"], "the demo store has no alerts"
        page.wait_for_function("window.seasight.alertCount > 0", timeout=30_000)
        first = page.locator("#alert-list form.ack-form").first
        alert_id = first.get_attribute("data-alert")
        first.locator("input[name=note]").fill("seen by the browser test")
        first.locator("button[type=submit]").click()
        page.wait_for_function(
            f"!document.querySelector('#alert-list li[data-alert=\"{alert_id}\"]')",
            timeout=15_000)
        acked = server.get("/api/alerts?state=acknowledged")["items"]
        got = next(a for a in acked if a["alert_id"] == alert_id)
        assert got["note"] == "seen by the browser test"
        page.screenshot(path=str(SHOTS / "05-alert-acknowledged.png"))

        # A live update (NMEA posted to the service) moves a vessel on the map.
        page.wait_for_function("window.seasight.streamState === 'live'", timeout=15_000)
        mover = vessels[-1]
        line, (lon, lat) = _moved_position_line(mover)
        report = server.post("/api/ingest?source=browser-test", line.encode(),
                             "text/plain")
        assert report, "ingest answered nothing"
        m = mover["properties"]["mmsi"]
        page.wait_for_function(
            f"(() => {{ const f = window.seasight.state.vessels.get({m});"
            f" return f && Math.abs(f.geometry.coordinates[0] - {lon}) < 1e-3"
            f" && Math.abs(f.geometry.coordinates[1] - {lat}) < 1e-3; }})()",
            timeout=20_000)
        # ... and the map holds it there: the vessels source's data (in MapLibre's worker,
        # where the stream's changes go as diffs) has the new position
        probe = (f"async () => {{ const d = await window.seasight.state.map"
                 f".getSource('vessels').getData(); const f = d.features.find("
                 f"(x) => x.properties.mmsi === {m}); return f ? f.geometry.coordinates"
                 f" : null; }}")
        deadline = time.monotonic() + 20
        while True:
            drawn = page.evaluate(probe)
            if drawn and abs(drawn[0] - lon) < 1e-6 and abs(drawn[1] - lat) < 1e-6:
                break
            assert time.monotonic() < deadline, f"the map still has {drawn}"
            time.sleep(0.2)
        assert page.evaluate("window.seasight.state.redraws.some((r) => r.diff)")
        page.screenshot(path=str(SHOTS / "06-live-update.png"))
    assert errors == [], errors
    assert external == [], f"the page requested other hosts: {external}"


def test_favicon_is_served(server: Service) -> None:
    """The page's icon (linked from index.html) is served as SVG, without credentials."""
    with urllib.request.urlopen(f"{server.base}/favicon.svg", timeout=30) as r:
        assert r.status == 200
        assert r.headers.get_content_type() == "image/svg+xml"
        assert r.read().lstrip().startswith(b"<svg")
    with urllib.request.urlopen(f"{server.base}/", timeout=30) as r:
        assert b'href="favicon.svg"' in r.read()


#: How the legend draws each layer's entries: the shape the layer draws on the map.
LEGEND_SHAPES = {
    "lanes": {"line"}, "zones-fill": {"area"}, "zones-line": {"area"}, "ports": {"dot"},
    "events": {"ring"}, "track-line": {"line"}, "vessels-listed": {"ring"},
    "vessels": {"arrow", "ring-glyph"}, "vessel-selected": {"ring"},
}

_LEGEND_ROWS = """(id) => [...document.querySelectorAll('#legend .row')]
    .filter((r) => r.dataset.layers.split(' ').includes(id))
    .map((r) => ({text: r.innerText.trim(), colour: r.dataset.colour,
                  shape: r.querySelector('svg.swatch').dataset.shape,
                  visible: r.getBoundingClientRect().width > 0
                    && r.getBoundingClientRect().height > 0}))"""


def _colours_of(expression: Any) -> set[str]:
    """The #rrggbb colours named in a MapLibre style expression."""
    return {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", json.dumps(expression))}


def test_legend_in_chromium(server: Service) -> None:
    """Every layer the map draws (but the base map) has a visible legend entry drawn in the
    layer's shape and colours, in either colouring of the vessels; a layer added without an
    entry is reported."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    palette = _ship_type_palette((STATIC_DIR / "symbols.js").read_text(encoding="utf-8"))
    with _browser_page(errors) as page:
        page.goto(f"{server.base}/#key={server.key}")
        page.wait_for_function("window.seasight && window.seasight.vesselsLoaded",
                               timeout=60_000)
        page.wait_for_function("window.seasight.map.loaded()", timeout=60_000)
        layers = page.evaluate("window.seasight.map.getStyle().layers.map((l) => l.id)")
        base = set(page.evaluate("window.seasight.baseMapLayers"))
        assert base == {"sea", "land"}, base
        drawn = [lid for lid in layers if lid not in base]
        assert set(drawn) == set(LEGEND_SHAPES), drawn
        assert page.evaluate("window.seasight.layersWithoutLegend()") == []
        assert page.evaluate("window.seasight.shipTypePalette") == palette

        for mode in ("type", "risk"):
            page.check(f"input[name=colour-by][value={mode}]")
            page.wait_for_function(f"window.seasight.state.colourBy === '{mode}'")
            for lid in drawn:
                rows = page.evaluate(_LEGEND_ROWS, lid)
                assert rows, f"no legend entry for layer {lid}"
                assert all(r["visible"] and r["text"] for r in rows), (lid, rows)
                assert {r["shape"] for r in rows} <= LEGEND_SHAPES[lid], (lid, rows)
            # The vessel entries show the colours the vessel layer is painted with.
            paint = page.evaluate(
                "window.seasight.map.getPaintProperty('vessels', 'icon-color')")
            arrows = {r["colour"].lower(): r["text"] for r in page.evaluate(_LEGEND_ROWS, "vessels")
                      if r["shape"] == "arrow"}
            assert set(arrows) == _colours_of(paint), (arrows, paint)
            if mode == "type":
                assert arrows == {c: label for label, c in palette.items()}
                page.locator("#legend").screenshot(path=str(SHOTS / "11-legend.png"))
            else:
                assert "not scored" in arrows.values()

        # Each event kind has a ring in the colour the event layer paints it.
        rings = {r["text"]: r["colour"].lower() for r in page.evaluate(_LEGEND_ROWS, "events")}
        stroke = page.evaluate(
            "window.seasight.map.getPaintProperty('events', 'circle-stroke-color')")
        pairs = dict(zip(stroke[2:-1:2], stroke[3:-1:2], strict=True))
        assert rings == {k.replace("_", " "): c.lower() for k, c in pairs.items()}

        # The legend folds away (over a busy map) and opens again.
        page.click("#legend summary")
        assert page.locator("#legend .row").first.is_hidden()
        page.click("#legend summary")
        assert page.locator("#legend .row").first.is_visible()

        # A layer added without a legend entry does not pass unnoticed.
        page.evaluate("window.seasight.map.addLayer({id: 'probe', type: 'circle', "
                      "source: 'ports'})")
        assert page.evaluate("window.seasight.layersWithoutLegend()") == ["probe"]
    assert errors == [], errors


def test_sign_in_in_chromium(server: Service) -> None:
    """Without a key the page asks for credentials; a user name and password sign in (the
    map then loads), a wrong password is refused in the dialog, and signing out asks again."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with _browser_page(errors) as page:
        page.goto(server.base + "/")
        page.wait_for_selector("#signin-dialog[open]", state="visible", timeout=30_000)
        assert page.evaluate("window.seasight.authRequired") is True
        assert page.evaluate("window.seasight.user") is None
        assert not page.evaluate("window.seasight.vesselsLoaded")
        assert page.locator("#account").is_hidden()
        page.screenshot(path=str(SHOTS / "07-sign-in-dialog.png"))

        # A wrong password is refused in the dialog, which stays open.
        page.fill("#signin-username", USER)
        page.fill("#signin-password", "not-the-password")
        page.click("#signin-form button[type=submit]")
        page.wait_for_function(
            "document.querySelector('#signin-error').textContent.includes('Wrong')",
            timeout=15_000)
        assert page.locator("#signin-dialog").is_visible()
        # Escape does not dismiss it.
        page.keyboard.press("Escape")
        assert page.locator("#signin-dialog").is_visible()

        # The right one signs in: the dialog closes and the map loads the vessels.
        page.fill("#signin-password", PASSWORD)
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("#signin-dialog", state="hidden", timeout=15_000)
        page.wait_for_function("window.seasight.vesselsLoaded", timeout=60_000)
        assert page.evaluate("window.seasight.user.user") == USER
        assert USER in page.inner_text("#account-user")
        assert page.evaluate("window.seasight.vesselCount") > 0
        page.wait_for_function("window.seasight.streamState === 'live'", timeout=15_000)
        page.wait_for_function(
            "window.seasight.map.loaded() && window.seasight.map.queryRenderedFeatures("
            "{layers: ['vessels']}).length > 0", timeout=60_000)
        page.screenshot(path=str(SHOTS / "08-signed-in.png"))

        # Signing out ends the session (the cookie no longer works) and asks again.
        page.click("#sign-out")
        page.wait_for_selector("#signin-dialog[open]", state="visible", timeout=15_000)
        page.wait_for_function("window.seasight.vesselCount === 0", timeout=5_000)
        assert page.evaluate("window.seasight.streamState") == "offline"
        status = page.evaluate("fetch('/api/me').then(r => r.status)")
        assert status == 401
        page.screenshot(path=str(SHOTS / "09-signed-out.png"))
    assert errors == [], errors


# --------------------------------------------------------------------------- the API page


def test_api_page_works_offline_with_a_key(server: Service) -> None:
    """``/docs`` loads with every request kept on the service (the machine is offline), offers
    the key schemes the OpenAPI document declares, and calls an endpoint with a key."""
    errors: list[str] = []
    outside: list[str] = []
    with _browser_page(errors) as page:
        def only_local(route: Any) -> None:
            if _is_local(route.request.url) or route.request.url.startswith(server.base):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        page.goto(server.base + "/docs")
        page.wait_for_selector(".swagger-ui .information-container", timeout=30_000)
        assert "SeaSight" in page.inner_text(".swagger-ui .info")
        # the key schemes are offered; enter the key as a bearer token
        page.click("button.authorize")
        page.wait_for_selector(".modal-ux", timeout=10_000)
        modal = page.locator(".modal-ux")
        assert "bearerKey" in modal.inner_text() and "headerKey" in modal.inner_text()
        bearer = modal.locator(".auth-container").filter(has_text="bearerKey")
        bearer.locator("input").first.fill(server.key)
        bearer.locator("button.authorize").click()
        modal.locator("button.btn-done").first.click()
        # call GET /api/me from the page
        me = page.locator(".opblock-get").filter(has=page.locator("[data-path='/api/me']"))
        me.locator(".opblock-summary").first.click()
        me.locator("button.execute").click()
        cell = me.locator(".live-responses-table tbody .response-col_status").first
        cell.wait_for(timeout=30_000)
        status = cell.inner_text()
        assert status.strip().startswith("200"), status
        body = me.locator(".live-responses-table .microlight").first.inner_text()
        assert '"organisation"' in body or '"org"' in body, body
        page.screenshot(path=str(SHOTS / "10-api-page.png"))
    assert outside == [], outside
    assert errors == [], errors
