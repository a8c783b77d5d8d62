"""Write a simulation as a receiver network would deliver it: ``feed.nmea``, plus the truth.

:func:`build_feed` encodes every transmission (:mod:`seasight.ais.encode`), lets one to three
stations hear it (tag block ``\\s:station,c:unixtime*hh\\``), shuffles the arrival order a
little and adds bad lines (:mod:`seasight.sim.noise`); it is pure and deterministic for the
simulation's seed. :func:`write_simulation` writes ``feed.nmea``, ``truth.json`` (with the feed's
statistics under ``"feed"``: how many lines a decoder must reject) and ``zones.geojson``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from seasight.ais.encode import Lines, Payloads, payloads, sentences
from seasight.geo.zones import zones_to_geojson
from seasight.sim.noise import N_SATELLITES, NoiseParams, corrupt_lines, receptions
from seasight.sim.simulation import Simulation

__all__ = ["Feed", "build_feed", "write_simulation"]

_STATIC_OF_19 = ["shipname", "ship_type", "to_bow", "to_stern", "to_port", "to_starboard",
                 "epfd", "dte"]


@dataclass(frozen=True)
class Feed:
    """The NMEA feed of a simulation and what went into it.

    Attributes:
        lines: the lines, in arrival order.
        stats: counts -- ``messages`` (transmissions), ``receptions`` (messages as heard, with
            duplicates), ``duplicates``, ``lines`` (all lines), ``sentence_lines`` (good
            sentence lines), ``late`` (lines that arrived out of order), and one count per kind
            of bad line (``bad_checksum``, ``truncated``, ``garbage``; each is one rejected
            line).
    """

    lines: Lines
    stats: dict[str, int]

    def to_bytes(self) -> bytes:
        """The feed as text."""
        return self.lines.to_bytes()


def _messages(sim: Simulation) -> tuple[Payloads, np.ndarray, np.ndarray, np.ndarray]:
    """Payloads of every transmission (position reports, then static reports other than the
    static half of type 19), with times (s), station candidates and channel codes."""
    pos, sta = sim.positions, sim.static
    # a type 19 carries its static half: join it from the static rows
    s19 = sta.filter(pl.col("msg_type") == 19).select("mmsi", "ts", *_STATIC_OF_19)
    p = pos.join(s19, on=["mmsi", "ts"], how="left", maintain_order="left") if s19.height \
        else pos
    rest = sta.filter(pl.col("msg_type") != 19)
    keep_static = (sta["msg_type"] != 19).to_numpy()
    pay = Payloads.concat([payloads(p, dedupe=False), payloads(rest, dedupe=True)])
    ts = np.concatenate([pos["ts"].dt.epoch("s").to_numpy(), rest["ts"].dt.epoch("s").to_numpy()])
    near = np.concatenate([sim.position_stations, sim.static_stations[keep_static]])
    ch = np.concatenate([pos["channel"].to_numpy(), rest["channel"].to_numpy()])
    return pay, ts.astype(np.int64), near, (ch == "B").astype(np.uint8) + ord("A")


def build_feed(sim: Simulation, noise: NoiseParams = NoiseParams()) -> Feed:
    """The noisy NMEA feed of ``sim`` (deterministic for the simulation's seed)."""
    rng = np.random.default_rng([sim.seed, 0xFEED])
    pay, ts, near, channel = _messages(sim)
    n_terr = len(sim.stations) - N_SATELLITES
    satellite = near[:, 0] >= n_terr
    # stations beyond the first that can hear a message (-1 padded): duplicates draw from them
    near = np.where(near < 0, near[:, :1], near).astype(np.int64)
    rec = receptions(rng, ts, near, satellite, n_terr, len(sim.stations) - n_terr, noise)
    msg = rec["message"]
    lines = sentences(pay, rows=msg, ts_s=rec["c_s"], station_index=rec["station"],
                      station_names=sim.stations, channel=channel[msg])
    lines = Lines(lines.buf, lines.offsets, msg[lines.message])
    n_good = len(lines)
    # bad lines: copies of single-sentence lines, corrupted
    n_bad = round(noise.bad_share * n_good)
    single = np.flatnonzero(pay.nchars[lines.message] <= 60)
    src = lines.take(rng.choice(single, min(n_bad, len(single)), replace=False)).strings() \
        if n_bad and len(single) else []
    bad, counts = corrupt_lines(rng, src, n_bad, noise)
    bad_lines = Lines.from_strings(bad)
    # insert between whole messages (never between the fragments of one message)
    first_frag = np.ones(n_good, bool)
    first_frag[1:] = lines.message[1:] != lines.message[:-1]
    slots = np.flatnonzero(first_frag)
    at = np.sort(rng.choice(np.append(slots, n_good), n_bad)) if n_bad else np.zeros(0, np.int64)
    order = np.insert(np.arange(n_good), at, n_good + np.arange(n_bad))
    out = Lines.concat([lines, bad_lines]).take(order)
    arrival_late = int(np.count_nonzero(np.diff(rec["c_s"]) < 0))
    stats = {
        "messages": len(pay),
        "receptions": len(msg),
        "duplicates": int(rec["duplicate"].sum()),
        "lines": len(out),
        "sentence_lines": n_good,
        "late": arrival_late,
        **{k: int(v) for k, v in counts.items()},
        "rejected_lines": int(sum(counts.values())),
    }
    return Feed(out, stats)


def write_simulation(sim: Simulation, out_dir: str | Path,
                     noise: NoiseParams = NoiseParams()) -> dict[str, Any]:
    """Write ``feed.nmea``, ``truth.json`` and ``zones.geojson`` into ``out_dir`` (created if
    needed). Returns the feed statistics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    feed = build_feed(sim, noise)
    (out / "feed.nmea").write_bytes(feed.to_bytes())
    truth = dict(sim.truth)
    truth["feed"] = feed.stats
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    (out / "zones.geojson").write_text(json.dumps(zones_to_geojson(sim.zones), indent=1) + "\n",
                                       encoding="utf-8")
    return feed.stats
