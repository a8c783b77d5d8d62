"""The vessel dossier as ONE self-contained HTML file (:func:`render_html`).

Inline CSS and inline SVG only: no script, no font, image, style sheet or tile fetched from
anywhere, so the file opens offline and can be mailed or archived as evidence. Every text taken
from the data is escaped.

Sections: a header (identity, risk score, designation), the identity history (changed values
highlighted), watchlist matches, risk factors with their evidence, a map of the track with the
events marked over the Natural Earth 1:50m land shipped in ``seasight/data/geo`` (clipped with
shapely to the track's bounding box plus a margin; equirectangular projection with the
longitude scaled by cos(mid latitude)), a speed-over-time plot with AIS gaps and encounters
shaded, and the event timeline (evidence folded in ``<details>``).

Track lines are broken where fixes are more than :data:`BREAK_H` hours apart (drawn dashed:
no AIS) or imply more than :data:`JUMP_KN` knots (not joined: an implausible jump, typical of
spoofed positions; fixes left alone by such jumps are drawn as dots).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib import resources
from typing import Any, Final

import numpy as np
import polars as pl
import shapely
from shapely.geometry.base import BaseGeometry

from seasight.risk.dossier import Dossier, ship_type_text

__all__ = ["BREAK_H", "JUMP_KN", "KIND_STYLES", "render_html"]

#: Fixes further apart in time than this many hours are not joined by the track line.
BREAK_H: Final = 2.0
#: Consecutive fixes implying more than this speed (knots) are not joined either.
JUMP_KN: Final = 60.0
#: Most track points drawn (longer tracks are thinned evenly; the first and last are kept).
MAX_DRAWN_POINTS: Final = 4000

#: Marker shape and colour of each event kind on the map.
KIND_STYLES: Final[dict[str, tuple[str, str]]] = {
    "encounter": ("diamond", "#d62728"),
    "gap": ("ring", "#ff7f0e"),
    "loitering": ("square", "#9467bd"),
    "port_visit": ("triangle", "#1f77b4"),
    "zone_entry": ("triangle", "#2ca02c"),
    "zone_exit": ("invtriangle", "#2ca02c"),
    "identity_change": ("star", "#e377c2"),
    "spoofing": ("cross", "#111111"),
}
_DEFAULT_STYLE: Final = ("circle", "#7f7f7f")
#: Kinds drawn later lie on top: the rarer, more telling events.
_DRAW_ORDER: Final[dict[str, int]] = {
    "port_visit": 1, "zone_exit": 2, "zone_entry": 3, "loitering": 4, "gap": 5,
    "identity_change": 6, "spoofing": 7, "encounter": 8,
}

_SVG_NS: Final = "http://www.w3.org/2000/svg"
_LEGEND_H: Final = 28.0  # height of the legend strip below the map

_CSS: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
background:#f4f6f8;color:#1d2733;font-size:14px}
main{max-width:1100px;margin:0 auto;padding:16px 24px 40px}
header{background:#10263d;color:#fff;padding:18px 24px}
header .wrap{max-width:1100px;margin:0 auto;display:flex;gap:24px;align-items:center;
justify-content:space-between;flex-wrap:wrap}
header h1{margin:0 0 4px;font-size:26px}
header .ids span{margin-right:14px;white-space:nowrap}
.score{text-align:center;border-radius:8px;padding:8px 16px;min-width:110px}
.score b{display:block;font-size:30px}
.badge{display:inline-block;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:600;
margin-left:6px;vertical-align:middle}
.b-des{background:#c0392b;color:#fff}.b-pos{background:#f39c12;color:#fff}
.b-ok{background:#2e7d32;color:#fff}.b-grey{background:#9aa5b1;color:#fff}
section{background:#fff;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.08);
margin:16px 0;padding:12px 18px}
h2{font-size:17px;margin:4px 0 10px;color:#10263d}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e8ee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.chg{background:#fff3cd;font-weight:600}
.muted{color:#6b7785}
pre{margin:4px 0;white-space:pre-wrap;word-break:break-word;font-size:12px;background:#f7f9fb;
padding:6px;border-radius:4px}
details summary{cursor:pointer;color:#1f5f99}
svg{display:block;max-width:100%;height:auto;background:#fff}
svg text{font-family:system-ui,Arial,sans-serif}
footer{color:#6b7785;font-size:12px;margin-top:24px}
"""


# --------------------------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    """Escaped text of a value ('' for None)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    if isinstance(value, datetime):
        return escape(_when(value))
    return escape(str(value))


def _when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("T", " ").replace("Z", "")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    hours = (end - start).total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (),
           empty_text: str = "None.") -> str:
    """An HTML table; cells are already-escaped HTML (or ``(html, css_class)`` pairs)."""
    nums = set(numeric)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            css = ["num"] if i in nums else []
            if isinstance(cell, tuple):
                cell, extra = cell
                css.append(extra)
            cls = f' class="{" ".join(css)}"' if css else ""
            cells.append(f"<td{cls}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return f'<p class="muted">{escape(empty_text)}</p>'
    num_cls = ' class="num"'
    head = "".join(f"<th{num_cls if i in nums else ''}>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _evidence_html(evidence: Any) -> str:
    if evidence is None or evidence == {} or evidence == "":
        return ""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except json.JSONDecodeError:
            return _e(evidence)
    if isinstance(evidence, str | int | float):
        return _e(evidence)
    if isinstance(evidence, dict) and all(
            not isinstance(v, dict | list) for v in evidence.values()) and len(evidence) <= 6:
        return "<br>".join(f"<b>{_e(k)}</b>: {_e(v)}" for k, v in evidence.items())
    text = escape(json.dumps(evidence, indent=1, sort_keys=True, default=str))
    return f"<details><summary>evidence</summary><pre>{text}</pre></details>"


def _score_colour(score: float | None) -> str:
    if score is None:
        return "#5c6b7a"
    if score >= 70:
        return "#c0392b"
    if score >= 40:
        return "#e67e22"
    if score >= 15:
        return "#d4ac0d"
    return "#2e7d32"


# ------------------------------------------------------------------------------ map frame


@dataclass(frozen=True)
class _MapFrame:
    """Equirectangular projection of a lon/lat box onto a ``width`` x ``height`` pixel area."""

    lon0: float
    lat0: float
    lon1: float
    lat1: float
    width: float
    height: float
    pad: float
    kx: float  # cos(mid latitude)
    scale: float  # pixels per projected degree

    def x(self, lon: float) -> float:
        return self.pad + (lon - self.lon0) * self.kx * self.scale

    def y(self, lat: float) -> float:
        return self.pad + (self.lat1 - lat) * self.scale

    def xs(self, lon: np.ndarray) -> np.ndarray:
        return self.pad + (lon - self.lon0) * self.kx * self.scale

    def ys(self, lat: np.ndarray) -> np.ndarray:
        return self.pad + (self.lat1 - lat) * self.scale


def _map_frame(lons: np.ndarray, lats: np.ndarray, width: float = 900.0,
               pad: float = 0.0) -> _MapFrame:
    lon0, lon1 = float(np.min(lons)), float(np.max(lons))
    lat0, lat1 = float(np.min(lats)), float(np.max(lats))
    margin = max(0.12 * max(lon1 - lon0, lat1 - lat0), 0.3)
    lon0, lon1, lat0, lat1 = lon0 - margin, lon1 + margin, lat0 - margin, lat1 + margin
    kx = max(math.cos(math.radians((lat0 + lat1) / 2)), 0.05)
    w, h = (lon1 - lon0) * kx, lat1 - lat0
    # keep the map between landscape 2:1 and square, growing the short side around the centre
    if h < 0.5 * w:
        grow = (0.5 * w - h) / 2
        lat0, lat1 = lat0 - grow, lat1 + grow
    elif h > w:
        grow = (h - w) / kx / 2
        lon0, lon1 = lon0 - grow, lon1 + grow
    lat0, lat1 = max(lat0, -89.0), min(lat1, 89.0)
    w, h = (lon1 - lon0) * kx, lat1 - lat0
    scale = (width - 2 * pad) / w
    return _MapFrame(lon0, lat0, lon1, lat1, width, h * scale + 2 * pad, pad, kx, scale)


@cache
def _land() -> tuple[tuple[BaseGeometry, ...], shapely.STRtree]:
    ref = resources.files("seasight") / "data" / "geo" / "ne_50m_land.json"
    data = json.loads(ref.read_text(encoding="utf-8"))
    geoms = tuple(shapely.geometry.shape(f["geometry"]) for f in data["features"])
    return geoms, shapely.STRtree(geoms)


def _polygons(geom: BaseGeometry) -> Iterable[shapely.Polygon]:
    if isinstance(geom, shapely.Polygon):
        if not geom.is_empty:
            yield geom
    elif isinstance(geom, shapely.MultiPolygon | shapely.GeometryCollection):
        for part in geom.geoms:
            yield from _polygons(part)


def _land_paths(frame: _MapFrame) -> list[str]:
    """SVG path data of the land inside the frame's box (one path per clipped polygon)."""
    geoms, tree = _land()
    box = shapely.box(frame.lon0, frame.lat0, frame.lon1, frame.lat1)
    tolerance = 0.6 / frame.scale  # about half a pixel, in degrees
    paths = []
    for i in tree.query(box):
        clipped = shapely.intersection(geoms[int(i)], box)
        if clipped.is_empty:
            continue
        for polygon in _polygons(clipped.simplify(tolerance, preserve_topology=True)):
            rings = [polygon.exterior, *polygon.interiors]
            parts = []
            for ring in rings:
                xy = np.asarray(ring.coords)
                if len(xy) < 4:
                    continue
                xs, ys = frame.xs(xy[:, 0]), frame.ys(xy[:, 1])
                pts = " ".join(f"{x:.1f} {y:.1f}" for x, y in zip(xs, ys, strict=True))
                parts.append(f"M{pts}Z")
            if parts:
                paths.append("".join(parts))
    return paths


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / target
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 45, 90):
        if step >= raw:
            return float(step)
    return 90.0


def _deg_label(value: float, pos: str, neg: str) -> str:
    hemi = pos if value >= 0 else neg
    text = f"{abs(value):.2f}".rstrip("0").rstrip(".")
    return f"{text}°{hemi}"


def _marker(shape: str, x: float, y: float, colour: str, r: float = 6.0) -> str:
    """SVG element (without closing tag content) drawing ``shape`` centred at (x, y)."""
    stroke = f'stroke="#ffffff" stroke-width="1" fill="{colour}"'
    if shape == "diamond":
        d = f"M{x:.1f} {y - r:.1f}L{x + r:.1f} {y:.1f}L{x:.1f} {y + r:.1f}L{x - r:.1f} {y:.1f}Z"
    elif shape == "square":
        s = r * 0.85
        d = f"M{x - s:.1f} {y - s:.1f}h{2 * s:.1f}v{2 * s:.1f}h{-2 * s:.1f}Z"
    elif shape in ("triangle", "invtriangle"):
        k = 1 if shape == "triangle" else -1
        d = (f"M{x:.1f} {y - k * r:.1f}L{x + r:.1f} {y + k * r * 0.8:.1f}"
             f"L{x - r:.1f} {y + k * r * 0.8:.1f}Z")
    elif shape == "star":
        pts = []
        for j in range(10):
            rad = r * (1.2 if j % 2 == 0 else 0.5)
            a = math.pi / 2 + j * math.pi / 5
            pts.append(f"{x + rad * math.cos(a):.1f} {y - rad * math.sin(a):.1f}")
        d = "M" + "L".join(pts) + "Z"
    elif shape == "cross":
        s = r * 0.8
        d = (f"M{x - s:.1f} {y - s:.1f}L{x + s:.1f} {y + s:.1f}"
             f"M{x - s:.1f} {y + s:.1f}L{x + s:.1f} {y - s:.1f}")
        stroke = f'stroke="{colour}" stroke-width="2.5" fill="none"'
    elif shape == "ring":
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r * 0.8:.1f}" fill="#ffffff" '
                f'stroke="{colour}" stroke-width="2.5"')
    else:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r * 0.8:.1f}" {stroke}'
    return f'<path d="{d}" {stroke}'


def _with_title(element: str, title: str) -> str:
    tag = element[1:element.index(" ")]
    return f"{element}><title>{escape(title)}</title></{tag}>"


def _event_title(rec: dict[str, Any]) -> str:
    parts = [rec["kind"], f"{_when(rec['start'])} – {_when(rec['end'])}"]
    if rec.get("zone"):
        parts.append(str(rec["zone"]))
    other = rec.get("other")
    if other:
        parts.append(f"with {other.get('shipname') or ''} ({other['mmsi']})".replace("  ", " "))
    return ", ".join(parts)


def _track_arrays(dossier: Dossier) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = dossier.track
    ts = t["ts"].dt.epoch("us").to_numpy().astype(np.int64)
    lat = t["lat"].to_numpy().astype(np.float64)
    lon = t["lon"].to_numpy().astype(np.float64)
    sog = t["sog"].cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(np.float64)
    return ts, lat, lon, sog


def _breaks(ts: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over the steps i -> i+1: no AIS for long, and implausible jump."""
    if len(ts) < 2:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    hours = np.diff(ts) / 3.6e9
    la1, la2 = np.radians(lat[:-1]), np.radians(lat[1:])
    dlat, dlon = la2 - la1, np.radians(np.diff(lon))
    a = np.sin(dlat / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(dlon / 2) ** 2
    nm = 2 * 3440.065 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    speed = nm / np.maximum(hours, 1 / 60)
    jump = speed > JUMP_KN
    dark = (hours > BREAK_H) & ~jump
    return dark, jump


def _thin(n: int) -> np.ndarray:
    if n <= MAX_DRAWN_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_DRAWN_POINTS).round().astype(np.int64))


def _map_svg(dossier: Dossier, timeline: list[dict[str, Any]]) -> str:
    ts, lat, lon, _ = _track_arrays(dossier)
    keep = _thin(len(ts))
    ts, lat, lon = ts[keep], lat[keep], lon[keep]
    ev = [r for r in timeline if r["lat"] is not None and r["lon"] is not None]
    all_lon = np.concatenate([lon, np.array([r["lon"] for r in ev], dtype=np.float64)])
    all_lat = np.concatenate([lat, np.array([r["lat"] for r in ev], dtype=np.float64)])
    if len(all_lon) == 0:
        return '<p class="muted">No positions: nothing to map.</p>'
    frame = _map_frame(all_lon, all_lat)
    w, h = frame.width, frame.height
    total = h + _LEGEND_H
    out = [f'<svg xmlns="{_SVG_NS}" class="map" width="{w:.0f}" height="{total:.0f}" '
           f'viewBox="0 0 {w:.0f} {total:.0f}" role="img" aria-label="Map of the track">',
           f'<rect x="0" y="0" width="{w:.0f}" height="{h:.0f}" fill="#dcebf5"/>',
           '<g class="land" fill="#e9e4d4" stroke="#b9b09a" stroke-width="0.6" '
           'fill-rule="evenodd">']
    out += [f'<path d="{d}"/>' for d in _land_paths(frame)]
    out.append("</g>")
    # graticule
    out.append('<g class="grid" stroke="#9fb3c8" stroke-width="0.5" stroke-dasharray="2 3" '
               'fill="#4a5d70" font-size="10">')
    step = _nice_step(max(frame.lon1 - frame.lon0, frame.lat1 - frame.lat0))
    v = math.ceil(frame.lon0 / step) * step
    while v <= frame.lon1:
        x = frame.x(v)
        out.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{h:.0f}"/>'
                   f'<text x="{x + 2:.1f}" y="{h - 4:.0f}" stroke="none">'
                   f'{escape(_deg_label(v, "E", "W"))}</text>')
        v += step
    v = math.ceil(frame.lat0 / step) * step
    while v <= frame.lat1:
        y = frame.y(v)
        out.append(f'<line x1="0" y1="{y:.1f}" x2="{w:.0f}" y2="{y:.1f}"/>'
                   f'<text x="3" y="{y - 2:.1f}" stroke="none">'
                   f'{escape(_deg_label(v, "N", "S"))}</text>')
        v += step
    out.append("</g>")
    # track
    dark, jump = _breaks(ts, lat, lon)
    if len(ts):
        xs, ys = frame.xs(lon), frame.ys(lat)
        cut = np.flatnonzero(dark | jump) + 1
        out.append('<g class="track" fill="none" stroke="#0b5394" stroke-width="1.6" '
                   'stroke-linejoin="round">')
        for piece in np.split(np.arange(len(ts)), cut):
            if len(piece) >= 2:
                pts = " ".join(f"{xs[i]:.1f},{ys[i]:.1f}" for i in piece)
                out.append(f'<polyline points="{pts}"/>')
        for i in np.flatnonzero(dark):
            out.append(f'<line class="dark" x1="{xs[i]:.1f}" y1="{ys[i]:.1f}" '
                       f'x2="{xs[i + 1]:.1f}" y2="{ys[i + 1]:.1f}" stroke="#ff7f0e" '
                       f'stroke-dasharray="5 4"/>')
        singles = [p[0] for p in np.split(np.arange(len(ts)), cut) if len(p) == 1]
        for i in singles[:MAX_DRAWN_POINTS]:
            out.append(f'<circle class="fix" cx="{xs[i]:.1f}" cy="{ys[i]:.1f}" r="1.3" '
                       f'fill="#0b5394" stroke="none"/>')
        out.append("</g>")
        first = f"first fix {_when(datetime.fromtimestamp(ts[0] / 1e6, UTC))}"
        last = f"last fix {_when(datetime.fromtimestamp(ts[-1] / 1e6, UTC))}"
        out.append(_with_title(f'<circle class="start" cx="{xs[0]:.1f}" cy="{ys[0]:.1f}" r="4" '
                               f'fill="#ffffff" stroke="#0b5394" stroke-width="2"', first))
        out.append(_with_title(f'<circle class="last" cx="{xs[-1]:.1f}" cy="{ys[-1]:.1f}" r="5" '
                               f'fill="#0b5394" stroke="#ffffff" stroke-width="1.5"', last))
    # events
    out.append('<g class="events">')
    for rec in sorted(ev, key=lambda r: _DRAW_ORDER.get(r["kind"], 0)):
        shape, colour = KIND_STYLES.get(rec["kind"], _DEFAULT_STYLE)
        el = _marker(shape, float(frame.x(rec["lon"])), float(frame.y(rec["lat"])), colour)
        el = el.replace("<path ", f'<path class="ev ev-{escape(rec["kind"])}" ', 1).replace(
            "<circle ", f'<circle class="ev ev-{escape(rec["kind"])}" ', 1)
        out.append(_with_title(el, _event_title(rec)))
    out.append("</g>")
    out.append(_map_legend(sorted({r["kind"] for r in ev}), h, len(ts) > 0,
                           bool(dark.any()), bool(jump.any())))
    out.append("</svg>")
    return "\n".join(out)


def _map_legend(kinds: list[str], top: float, has_track: bool, has_dark: bool,
                has_jump: bool) -> str:
    """A legend strip below the map (so it never hides the track), starting at y = ``top``."""
    items: list[tuple[str, str]] = []  # (symbol drawn at x 0..18 around y 0, label)
    if has_track:
        items.append(('<line x1="1" y1="0" x2="17" y2="0" stroke="#0b5394" stroke-width="2"/>',
                      "track"))
        if has_dark:
            items.append(('<line x1="1" y1="0" x2="17" y2="0" stroke="#ff7f0e" '
                          'stroke-width="1.6" stroke-dasharray="5 4"/>',
                          f"no AIS > {BREAK_H:g} h"))
        if has_jump:
            items.append(('<circle cx="9" cy="0" r="1.8" fill="#0b5394"/>',
                          f"fix after a jump > {JUMP_KN:g} kn"))
        items.append(('<circle cx="9" cy="0" r="4" fill="#ffffff" stroke="#0b5394" '
                      'stroke-width="2"/>', "first fix"))
        items.append(('<circle cx="9" cy="0" r="5" fill="#0b5394"/>', "last position"))
    for kind in kinds:
        shape, colour = KIND_STYLES.get(kind, _DEFAULT_STYLE)
        items.append((_marker(shape, 9, 0, colour, 5.5) + "/>", kind))
    if not items:
        return ""
    out = ['<g class="legend" font-size="11" fill="#1d2733">']
    x = 8.0
    for symbol, label in items:
        out.append(f'<g transform="translate({x:.0f} {top + 14:.0f})">{symbol}'
                   f'<text x="23" y="4">{escape(label)}</text></g>')
        x += 32 + 6.2 * len(label)
    out.append("</g>")
    return "".join(out)


# ---------------------------------------------------------------------------- speed plot


def _time_ticks(t0: float, t1: float) -> tuple[list[float], str]:
    """Tick times (epoch seconds) and their strftime format for the span [t0, t1]."""
    span = t1 - t0
    steps = [600, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
             7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400]
    step = next((s for s in steps if span / s <= 8), steps[-1])
    first = math.ceil(t0 / step) * step
    ticks = [float(v) for v in np.arange(first, t1 + 1, step)]
    fmt = "%m-%d %H:%M" if step < 86400 else "%Y-%m-%d"
    return ticks, fmt


def _speed_svg(dossier: Dossier, timeline: list[dict[str, Any]]) -> str:
    ts, lat, lon, sog = _track_arrays(dossier)
    if len(ts) == 0:
        return '<p class="muted">No positions: no speed to plot.</p>'
    keep = _thin(len(ts))
    ts, lat, lon, sog = ts[keep], lat[keep], lon[keep], sog[keep]
    secs = ts / 1e6
    shaded = [r for r in timeline if r["kind"] in ("gap", "encounter")
              and r["start"] is not None]

    def epoch(text: str | None, default: float) -> float:
        if text is None:
            return default
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    spans = [(epoch(r["start"], secs[0]), epoch(r["end"], secs[-1]), r) for r in shaded]
    t0 = min([float(secs[0])] + [s for s, _, _ in spans])
    t1 = max([float(secs[-1])] + [e for _, e, _ in spans])
    if t1 - t0 < 3600:
        t0, t1 = t0 - 1800, t1 + 1800
    finite = sog[np.isfinite(sog)]
    top = float(np.percentile(finite, 99.5)) * 1.15 if len(finite) else 10.0
    top = max(5.0, min(top, 60.0))
    ystep = _nice_step(top, 5)
    top = math.ceil(top / ystep) * ystep
    width, height, left, right, up, down = 900.0, 260.0, 46.0, 12.0, 12.0, 34.0
    pw, ph = width - left - right, height - up - down

    def px(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * pw

    def py(v: float) -> float:
        return up + (1 - min(v, top) / top) * ph

    out = [f'<svg xmlns="{_SVG_NS}" class="speed" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
           f'aria-label="Speed over ground against time">',
           f'<rect x="{left}" y="{up}" width="{pw}" height="{ph}" fill="#fbfcfd" '
           f'stroke="#c5ced8"/>']
    out.append('<g class="shade">')
    for start, end, rec in spans:
        x0, x1 = px(start), px(end)
        colour = "#ff7f0e" if rec["kind"] == "gap" else "#d62728"
        out.append(_with_title(
            f'<rect class="shade-{rec["kind"]}" x="{x0:.1f}" y="{up}" '
            f'width="{max(x1 - x0, 1.5):.1f}" height="{ph}" fill="{colour}" fill-opacity="0.18"',
            _event_title(rec)))
    out.append("</g>")
    out.append('<g class="axes" font-size="10" fill="#4a5d70" stroke="#dfe5ec">')
    v = 0.0
    while v <= top + 1e-9:
        y = py(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}"/>'
                   f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" stroke="none">'
                   f'{v:g}</text>')
        v += ystep
    ticks, fmt = _time_ticks(t0, t1)
    for t in ticks:
        x = px(t)
        label = datetime.fromtimestamp(t, UTC).strftime(fmt)
        out.append(f'<line x1="{x:.1f}" y1="{up}" x2="{x:.1f}" y2="{up + ph}"/>'
                   f'<text x="{x:.1f}" y="{up + ph + 14}" text-anchor="middle" stroke="none">'
                   f'{escape(label)}</text>')
    out.append(f'<text x="12" y="{up + ph / 2:.0f}" transform="rotate(-90 12 {up + ph / 2:.0f})"'
               f' text-anchor="middle" stroke="none">SOG (kn)</text>')
    out.append(f'<text x="{left + pw:.0f}" y="{height - 4:.0f}" text-anchor="end" '
               f'stroke="none">UTC</text></g>')
    cut = np.flatnonzero(np.diff(ts) / 3.6e9 > BREAK_H) + 1
    out.append('<g class="sog" fill="none" stroke="#0b5394" stroke-width="1.3">')
    for piece in np.split(np.arange(len(ts)), cut):
        good = [i for i in piece if math.isfinite(sog[i])]
        if len(good) >= 2:
            pts = " ".join(f"{px(secs[i]):.1f},{py(sog[i]):.1f}" for i in good)
            out.append(f'<polyline points="{pts}"/>')
        elif len(good) == 1:
            i = good[0]
            out.append(f'<circle cx="{px(secs[i]):.1f}" cy="{py(sog[i]):.1f}" r="1.5" '
                       f'fill="#0b5394"/>')
    out.append("</g>")
    lx = left + 8
    out.append(f'<g class="legend" font-size="11" fill="#1d2733">'
               f'<line x1="{lx}" y1="{up + 12}" x2="{lx + 16}" y2="{up + 12}" stroke="#0b5394" '
               f'stroke-width="2"/><text x="{lx + 20}" y="{up + 16}">speed over ground</text>'
               f'<rect x="{lx + 140}" y="{up + 6}" width="14" height="12" fill="#ff7f0e" '
               f'fill-opacity="0.3"/><text x="{lx + 158}" y="{up + 16}">AIS gap</text>'
               f'<rect x="{lx + 214}" y="{up + 6}" width="14" height="12" fill="#d62728" '
               f'fill-opacity="0.3"/><text x="{lx + 232}" y="{up + 16}">encounter</text></g>')
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------- sections


def _header(d: Dossier) -> str:
    cur = d.current
    risk = d.risk or {}
    score = risk.get("score")
    badges = []
    if d.designated:
        badges.append('<span class="badge b-des">DESIGNATED</span>')
    elif d.matches.height:
        badges.append('<span class="badge b-pos">possible watchlist match</span>')
    ids = [("MMSI", d.mmsi), ("IMO", cur.get("imo")), ("Call sign", cur.get("callsign")),
           ("Flag", cur.get("flag")), ("Type", ship_type_text(cur.get("ship_type"))),
           ("Length", f"{cur['length_m']} m" if cur.get("length_m") else None)]
    id_html = "".join(f"<span>{escape(k)} <b>{_e(v)}</b></span>" for k, v in ids
                      if v is not None)
    last = d.last_position
    where = ""
    if last is not None:
        sog = last.get("sog")
        where = (f"Last position {_e(_when(last['ts']))} UTC at {last['lat']:.4f}, "
                 f"{last['lon']:.4f}" + (f", {float(sog):.1f} kn" if sog is not None else ""))
    resolved = {"mmsi": "MMSI", "imo": "IMO number", "name": "name"}[d.resolution.by]
    how = f"Query {_e(d.query)!s} resolved by {resolved}"
    if d.resolution.by == "name" and d.resolution.score < 100:
        how += f" (fuzzy match on {_e(d.resolution.matched)}, score {d.resolution.score:g})"
    if score is None:
        score_html = ('<div class="score" style="background:#5c6b7a"><b>–</b>not scored</div>')
    else:
        rank = risk.get("rank")
        score_html = (f'<div class="score" style="background:{_score_colour(float(score))}">'
                      f'<b>{float(score):.0f}</b>risk score'
                      + (f"<br>rank {_e(rank)}" if rank is not None else "") + "</div>")
    return (f'<header><div class="wrap"><div><h1>{_e(d.name)}{"".join(badges)}</h1>'
            f'<div class="ids">{id_html}</div>'
            f'<div class="muted" style="color:#c8d3de">{where}</div>'
            f'<div class="muted" style="color:#c8d3de">{how}</div></div>'
            f"{score_html}</div></header>")


def _identity_section(d: Dossier) -> str:
    rows = []
    prev: dict[str, Any] | None = None
    for r in d.identities.iter_rows(named=True):
        def cell(col: str, text: str, row: dict[str, Any] = r,
                 before: dict[str, Any] | None = prev) -> Any:
            changed = before is not None and before.get(col) != row.get(col)
            return (text, "chg") if changed else text
        rows.append([
            _e(_when(r["valid_from"])), _e(_when(r["valid_to"])),
            cell("shipname", _e(r["shipname"])), cell("imo", _e(r["imo"])),
            cell("callsign", _e(r["callsign"])), cell("flag", _e(r["flag"])),
            cell("ship_type", _e(ship_type_text(r["ship_type"]))),
            cell("length_m", _e(f"{r['length_m'] or '?'} × {r['beam_m'] or '?'}")),
            _e(r["n_reports"]),
        ])
        prev = r
    table = _table(["from", "to", "name", "IMO", "call sign", "flag", "type", "size (m)",
                    "reports"], rows, numeric=(8,), empty_text="No static reports received.")
    related = ""
    if d.resolution.related_mmsi:
        related = ("<p>Other MMSIs that reported the same IMO number: <b>"
                   + ", ".join(_e(m) for m in d.resolution.related_mmsi) + "</b></p>")
    return f'<section id="identity"><h2>Identity history</h2>{table}{related}</section>'


def _matches_section(d: Dossier) -> str:
    m = d.matches
    cols = [("list_name", "list"), ("entry_id", "entry"), ("entry_name", "listed name"),
            ("matched_on", "matched on"), ("vessel_value", "vessel value"),
            ("list_value", "list value"), ("score", "score"), ("status", "status"),
            ("valid_from", "identity from"), ("valid_to", "identity to")]
    present = [(c, h) for c, h in cols if c in m.columns]
    rows = []
    for r in m.iter_rows(named=True):
        row = []
        for c, _ in present:
            v = r[c]
            if c == "status":
                css = "b-des" if v == "confirmed" else "b-pos"
                row.append(f'<span class="badge {css}">{_e(v)}</span>')
            elif isinstance(v, datetime):
                row.append(_e(_when(v)))
            elif c == "score" and v is not None:
                row.append(_e(f"{float(v):.0f}"))
            else:
                row.append(_e(v))
        rows.append(row)
    numeric = [i for i, (c, _) in enumerate(present) if c == "score"]
    table = _table([h for _, h in present], rows, numeric=numeric,
                   empty_text="No watchlist matches (or the vessel was never screened).")
    return f'<section id="watchlists"><h2>Watchlist matches</h2>{table}</section>'


def _risk_section(d: Dossier) -> str:
    if d.risk is None:
        return ('<section id="risk"><h2>Risk factors</h2><p class="muted">Not scored: run '
                "<code>seasight risk</code> to score vessels.</p></section>")
    rows = []
    for f in d.risk.get("factors", []):
        pts, weight = f.get("points"), f.get("weight")
        rows.append([_e(f.get("factor")), _e(weight if weight is None else f"{weight:g}"
                                             if isinstance(weight, int | float) else weight),
                     _e(pts if pts is None else f"{pts:.1f}" if isinstance(pts, int | float)
                        else pts),
                     _e(f.get("detail")), _evidence_html(f.get("evidence"))])
    score = d.risk.get("score")
    head = "" if score is None else f"<p>Score <b>{float(score):.0f}</b> / 100"
    if head and d.risk.get("rank") is not None:
        head += f", rank {_e(d.risk['rank'])}"
    head += "</p>" if head else ""
    table = _table(["factor", "weight", "points", "detail", "evidence"], rows, numeric=(1, 2),
                   empty_text="No risk factor applies.")
    return f'<section id="risk"><h2>Risk factors</h2>{head}{table}</section>'


def _timeline_section(timeline: list[dict[str, Any]]) -> str:
    rows = []
    for rec in timeline:
        shape, colour = KIND_STYLES.get(rec["kind"], _DEFAULT_STYLE)
        icon = (f'<svg xmlns="{_SVG_NS}" width="14" height="14" viewBox="0 0 14 14">'
                + _marker(shape, 7, 7, colour, 5) + "/></svg>")
        where = _e(rec["zone"]) if rec.get("zone") else (
            _e(f"{rec['lat']:.3f}, {rec['lon']:.3f}") if rec["lat"] is not None else "")
        other = rec.get("other")
        other_html = ""
        if other:
            other_html = f"{_e(other.get('shipname') or '')} ({_e(other['mmsi'])})"
            if other.get("designated"):
                other_html += '<span class="badge b-des">designated</span>'
            elif other.get("watchlisted"):
                other_html += '<span class="badge b-pos">watchlist?</span>'
        start = rec["start"]
        end = rec["end"]
        dur = ""
        if start and end:
            dur = _duration(datetime.fromisoformat(start.replace("Z", "+00:00")),
                            datetime.fromisoformat(end.replace("Z", "+00:00")))
        ev = rec.get("evidence") or {}
        evidence = (f"<details><summary>evidence</summary>"
                    f"<pre>{escape(json.dumps(ev, indent=1, sort_keys=True))}</pre></details>"
                    if ev else "")
        rows.append([
            _e(_when(start)), _e(_when(end)) + (" (open)" if rec.get("is_open") else ""),
            _e(dur), f"{icon} {_e(rec['kind'])}", where, other_html,
            _e("" if rec["score"] is None else f"{rec['score']:.2f}"), evidence,
        ])
    table = _table(["start (UTC)", "end", "duration", "kind", "where", "other vessel", "score",
                    ""], rows, numeric=(6,), empty_text="No events detected.")
    return f'<section id="events"><h2>Event timeline</h2>{table}</section>'


def render_html(dossier: Dossier) -> str:
    """The dossier as one self-contained HTML document (inline CSS and SVG, no script)."""
    timeline = dossier.timeline()
    counts = dossier.track_summary()
    title = f"Vessel dossier: {dossier.name} (MMSI {dossier.mmsi})"
    track_note = (f"{counts['n_points']:,} fixes, {_e(_when(counts['start']))} to "
                  f"{_e(_when(counts['end']))} UTC" if counts["n_points"] else "no positions")
    generated = dossier.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        _header(dossier),
        "<main>",
        _identity_section(dossier),
        _matches_section(dossier),
        _risk_section(dossier),
        f'<section id="map"><h2>Track and events</h2><p class="muted">{track_note}; '
        f"hover a marker for the event.</p>{_map_svg(dossier, timeline)}</section>",
        f'<section id="speed"><h2>Speed over ground</h2>{_speed_svg(dossier, timeline)}'
        "</section>",
        _timeline_section(timeline),
        f"<footer>Generated by SeaSight {escape(generated)}. Land: Natural Earth 1:50m "
        "(public domain). Times are UTC. Events and scores are leads for an analyst to "
        "verify, not findings.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
