"""Feed noise like real receivers produce it.

Two kinds, applied at two places:

* **In the data** (what any decoder would see, so the truth is computed after them): GPS
  position jitter and small speed/course noise; *satellite-style coverage*: beyond
  :attr:`NoiseParams.satellite_shore_km` from shore only satellites hear a vessel, so its
  reports thin out to one per pass (passes 15-60 min apart) with occasional 1-3 h holes
  (:func:`satellite_keep`). These holes are look-alikes of gaps, never gaps.
* **In the feed** (:func:`receptions`, :func:`corrupt_lines`): the same transmission heard by
  two or three stations (tag block ``s:`` differs, ``c:`` a few seconds apart), out-of-order
  arrival (a few per cent of lines delayed by seconds to minutes), and bad lines -- broken
  checksums, truncated sentences and garbage -- which a decoder must reject and count. Bad
  lines are extra copies: no transmission is lost to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seasight.geo.distance import unit_vectors
from seasight.geo.land import distance_to_shore_km

__all__ = [
    "N_SATELLITES",
    "NoiseParams",
    "Stations",
    "corrupt_lines",
    "jitter_positions",
    "receptions",
    "satellite_keep",
    "shore_distance_km",
]


@dataclass(frozen=True)
class NoiseParams:
    """How noisy the feed is.

    Attributes:
        jitter_m: standard deviation of GPS position noise along each axis, metres (a typical
            fix is 10-50 m off).
        sog_noise_kn: standard deviation of speed-over-ground noise when under way, knots.
        cog_noise_deg: standard deviation of course noise when under way, degrees.
        satellite_shore_km: beyond this distance from shore only satellites hear a vessel, km.
        satellite_pass_min: (low, high) minutes between satellite passes over a vessel.
        satellite_holes_per_day: expected 1-3 h coverage holes per vessel-day out at sea.
        satellite_hole_hours: (low, high) length of a coverage hole, hours.
        duplicate_share: share of terrestrial transmissions heard by more than one station.
        duplicate_delay_s: (low, high) extra seconds on another station's clock.
        late_share: share of lines arriving late (out of order).
        late_delay_s: (low, high) delay of a late line, seconds.
        bad_share: bad lines added, as a share of good lines.
        bad_kinds: weights of the kinds of bad line.
    """

    jitter_m: float = 15.0
    sog_noise_kn: float = 0.1
    cog_noise_deg: float = 1.5
    satellite_shore_km: float = 90.0
    satellite_pass_min: tuple[float, float] = (15.0, 60.0)
    satellite_holes_per_day: float = 0.8
    satellite_hole_hours: tuple[float, float] = (1.0, 3.0)
    duplicate_share: float = 0.2
    duplicate_delay_s: tuple[int, int] = (0, 4)
    late_share: float = 0.03
    late_delay_s: tuple[float, float] = (5.0, 300.0)
    bad_share: float = 0.005
    bad_kinds: tuple[tuple[str, float], ...] = field(default=(
        ("bad_checksum", 0.4), ("truncated", 0.3), ("garbage", 0.3)))


def shore_distance_km(lat: np.ndarray, lon: np.ndarray, cell_deg: float = 0.05) -> np.ndarray:
    """:func:`~seasight.geo.land.distance_to_shore_km` looked up once per ``cell_deg`` grid
    cell (about 5 km): accurate enough for coverage, fast for millions of reports."""
    if not len(lat):
        return np.zeros(0)
    key = (np.round(lat / cell_deg).astype(np.int64) * 100_000
           + np.round(lon / cell_deg).astype(np.int64))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    d = distance_to_shore_km(np.round(lat[first] / cell_deg) * cell_deg,
                             np.round(lon[first] / cell_deg) * cell_deg)
    return np.asarray(d)[inverse.ravel()]


def jitter_positions(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray,
                     sigma_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions with Gaussian noise of ``sigma_m`` metres along each axis."""
    n = len(lat)
    dy = rng.normal(0.0, sigma_m, n) / 111_200.0
    dx = rng.normal(0.0, sigma_m, n) / (111_200.0 * np.maximum(np.cos(np.radians(lat)), 0.05))
    return lat + dy, (lon + dx + 180.0) % 360.0 - 180.0


def satellite_keep(rng: np.random.Generator, track: np.ndarray, t: np.ndarray,
                   far: np.ndarray, exempt: np.ndarray, n_tracks: int, span_s: float,
                   params: NoiseParams) -> tuple[np.ndarray, list[tuple[int, float, float]]]:
    """Which reports survive satellite-only coverage.

    ``track``/``t`` are sorted by track then time; ``far`` marks reports beyond terrestrial
    range, ``exempt`` those that must be kept regardless. A far report is kept when it is the
    first of its track in a satellite pass window and not inside a coverage hole. Returns the
    mask and the holes ``(track, t0, t1)``.
    """
    lo, hi = (m * 60.0 for m in params.satellite_pass_min)
    n_pass = int(np.ceil(span_s / lo)) + 2
    steps = rng.uniform(lo, hi, size=(n_tracks, n_pass))
    steps[:, 0] = rng.uniform(0, hi, size=n_tracks)
    passes = np.cumsum(steps, axis=1)
    # pass window index of each report
    stride = passes[:, -1].max() + hi + 1.0 if n_tracks else 1.0
    flat = (np.arange(n_tracks)[:, None] * stride + passes).ravel()
    idx = np.searchsorted(flat, track * stride + t)
    candidate = far & ~exempt
    keep = ~candidate
    ci = np.flatnonzero(candidate)
    if len(ci):
        first = np.ones(len(ci), bool)
        first[1:] = idx[ci[1:]] != idx[ci[:-1]]
        keep[ci[first]] = True
    # coverage holes
    n_holes = rng.poisson(params.satellite_holes_per_day * span_s / 86400.0, n_tracks)
    holes: list[tuple[int, float, float]] = []
    starts = np.searchsorted(track, np.arange(n_tracks + 1))
    for tr in np.flatnonzero(n_holes).tolist():
        for _ in range(int(n_holes[tr])):
            h0 = float(rng.uniform(0, span_s))
            h1 = h0 + float(rng.uniform(*params.satellite_hole_hours)) * 3600.0
            a, b = starts[tr], starts[tr + 1]
            sl = slice(a + int(np.searchsorted(t[a:b], h0)), a + int(np.searchsorted(t[a:b], h1)))
            hit = candidate[sl]
            if hit.any():
                keep[sl] &= ~hit
                holes.append((tr, h0, h1))
    return keep, holes


#: Satellite stations (their names end the station list).
N_SATELLITES = 3
SATELLITE_NAMES = tuple(f"sat-{i + 1}" for i in range(N_SATELLITES))


class Stations:
    """Receiving stations: a terrestrial one per scenario port (``r`` + LOCODE) and satellites.

    Args:
        names: terrestrial station names.
        lat, lon: their positions.
        satellites: satellite station names.
    """

    def __init__(self, names: list[str], lat: np.ndarray, lon: np.ndarray,
                 satellites: tuple[str, ...] = SATELLITE_NAMES) -> None:
        from scipy.spatial import cKDTree

        self.names = list(names) + list(satellites)
        self.n_terrestrial = len(names)
        self.satellites = satellites
        self._tree = cKDTree(unit_vectors(np.asarray(lat), np.asarray(lon)))

    def nearest(self, lat: np.ndarray, lon: np.ndarray, k: int = 3) -> np.ndarray:
        """Indices (n, k) of the ``k`` nearest terrestrial stations."""
        k = min(k, self.n_terrestrial)
        _, idx = self._tree.query(unit_vectors(lat, lon), k=k)
        return np.asarray(idx).reshape(len(lat), k)


def receptions(rng: np.random.Generator, ts_s: np.ndarray, near: np.ndarray,
               satellite: np.ndarray, n_terrestrial: int, n_satellites: int,
               params: NoiseParams) -> dict[str, np.ndarray]:
    """Who heard each message, when, and in which order the lines arrive.

    Args:
        ts_s: transmission time of each message, whole unix seconds.
        near: (n, k) nearest terrestrial stations of each message.
        satellite: the message was heard by a satellite only.
        n_terrestrial, n_satellites: station indices ``n_terrestrial`` and up are the
            ``n_satellites`` satellites.

    Returns:
        ``message`` (index per reception, in arrival order), ``station`` (station index),
        ``c_s`` (tag block time), ``duplicate`` (not the first reception).
    """
    n = len(ts_s)
    k = near.shape[1]
    extra = np.where(~satellite & (rng.random(n) < params.duplicate_share),
                     rng.integers(1, 3, n), 0)
    extra = np.minimum(extra, k - 1)
    count = 1 + extra
    message = np.repeat(np.arange(n), count)
    rank = np.arange(len(message)) - np.repeat(np.cumsum(count) - count, count)
    station = near[message, rank]
    sat = satellite[message]
    station[sat] = n_terrestrial + rng.integers(0, n_satellites, int(sat.sum()))
    lo, hi = params.duplicate_delay_s
    c_s = ts_s[message] + np.where(rank > 0, rng.integers(lo, hi + 1, len(message)), 0)
    late = rng.random(len(message)) < params.late_share
    arrival = c_s + np.where(late, rng.uniform(*params.late_delay_s, len(message)), 0.0)
    order = np.lexsort((rank, message, arrival))
    return {"message": message[order], "station": station[order], "c_s": c_s[order],
            "duplicate": rank[order] > 0}


_ARMOR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"
_JUNK = "".join(chr(c) for c in range(32, 127) if chr(c) not in "!\\$#*,")


def corrupt_lines(rng: np.random.Generator, lines: list[str], n_bad: int,
                  params: NoiseParams) -> tuple[list[str], dict[str, int]]:
    """``n_bad`` bad lines made from copies of ``lines`` (single-sentence lines with or
    without a tag block): a broken NMEA checksum, a sentence cut before its checksum, or
    garbage. Returns the lines and their count per kind."""
    kinds = [k for k, _ in params.bad_kinds]
    w = np.array([x for _, x in params.bad_kinds], dtype=np.float64)
    chosen = rng.choice(len(kinds), n_bad, p=w / w.sum()) if n_bad else np.zeros(0, np.int64)
    out: list[str] = []
    counts = dict.fromkeys(kinds, 0)
    for c in chosen.tolist():
        kind = kinds[c]
        if kind == "garbage" or not lines:
            if rng.random() < 0.5:
                n = int(rng.integers(10, 80))
                out.append("".join(_JUNK[i] for i in rng.integers(0, len(_JUNK), n)))
            else:  # binary junk: bytes outside printable ASCII
                raw = rng.integers(128, 256, int(rng.integers(8, 60)))
                out.append(bytes(raw.astype(np.uint8)).decode("latin-1"))
            counts["garbage"] += 1
            continue
        src = lines[int(rng.integers(0, len(lines)))]
        tag, bang, sentence = src.rpartition("!")
        head, _, check = sentence.rpartition("*")
        if kind == "bad_checksum":
            if rng.random() < 0.5:
                wrong = int(check, 16) ^ int(rng.integers(1, 256))
                out.append(f"{tag}{bang}{head}*{wrong:02X}")
            else:  # a flipped payload character, checksum as it was
                fields = head.split(",")
                payload = fields[5]
                pos = int(rng.integers(0, len(payload)))
                new = payload[pos]
                while new == payload[pos]:
                    new = _ARMOR[int(rng.integers(0, 64))]
                fields[5] = payload[:pos] + new + payload[pos + 1:]
                out.append(f"{tag}{bang}{','.join(fields)}*{check}")
        else:  # truncated: cut inside the sentence, before the checksum
            cut = int(rng.integers(len(head) // 2, len(head)))
            out.append(f"{tag}{bang}{head[:cut]}")
        counts[kind] += 1
    return out, counts
