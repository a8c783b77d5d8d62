"""``python -m seasight.bench.quality``: detection precision and recall over several simulations.

Each seed runs the whole pipeline as a user would: the simulated feed (with receiver noise) is
written as NMEA, ingested into a fresh database, tracks are built and every detector runs, and
the events are scored against the simulation's truth (:mod:`seasight.analysis.evaluate`). The table
sums the counts over all seeds, per kind, with the look-alikes that were wrongly reported.

Two scenarios run: ``indo-pacific`` (the demo's; it also plants a second transmitter heard only
3-4 times) and ``dateline``, a small held-out-style scenario on the 180th meridian (an
encounter straddling it, loitering on it, a watched zone split by it, spoofing and a sparse
second transmitter across it). Each gets its own table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from seasight.analysis.detection import detect_store
from seasight.analysis.evaluate import KindScore, evaluate, load_truth
from seasight.events.run import DETECTORS
from seasight.geo.zones import load_zones
from seasight.ingest.pipeline import ingest_paths
from seasight.sim import simulate, write_simulation
from seasight.store import Store


def score_simulation(folder: Path, seed: int, *, scenario: str = "indo-pacific",
                     hours: float = 48.0, vessels: int = 200) -> list[KindScore]:
    """Simulate into ``folder``, ingest, detect, and score every kind against the truth."""
    sim = simulate(scenario, hours=hours, vessels=vessels, seed=seed)
    write_simulation(sim, folder)
    db = folder / "sim.duckdb"
    ingest_paths([folder / "feed.nmea"], db)
    with Store(db) as store:
        found = detect_store(store, load_zones([folder / "zones.geojson"])).result.events
    return evaluate(found, load_truth(folder / "truth.json"), kinds=DETECTORS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seasight.bench.quality",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 21, 22])
    parser.add_argument("--vessels", type=int, default=200)
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--dateline-seeds", type=int, nargs="*", default=[11, 12, 13])
    parser.add_argument("--dateline-vessels", type=int, default=120)
    args = parser.parse_args(argv)
    runs = (("indo-pacific", args.seeds, args.vessels),
            ("dateline", args.dateline_seeds, args.dateline_vessels))
    for scenario, seeds, vessels in runs:
        if seeds:
            _table(scenario, seeds, vessels, args.hours)
    return 0


def _table(scenario: str, seeds: Sequence[int], vessels: int, hours: float) -> None:
    """Score ``scenario`` over ``seeds`` and print the summed counts per kind."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            for s in score_simulation(Path(tmp), seed, scenario=scenario, hours=hours,
                                      vessels=vessels):
                t = totals[s.kind]
                for i, v in enumerate((s.n_truth, s.n_detected, s.n_matched_truth,
                                       s.n_matched_detected, s.n_lookalike_hits)):
                    t[i] += v
        print(f"{scenario} seed {seed} done", file=sys.stderr)
    print(f"{scenario}, {vessels} vessels x {hours:g} h, seeds {' '.join(map(str, seeds))}")
    print(f"{'kind':<16}{'planted':>8}{'found':>7}{'precision':>11}{'recall':>8}"
          f"{'look-alike hits':>17}")
    for kind, (truth, found, mt, md, hits) in totals.items():
        precision = md / found if found else 1.0
        recall = mt / truth if truth else 1.0
        print(f"{kind:<16}{truth:>8}{found:>7}{precision:>11.3f}{recall:>8.3f}{hits:>17}")
    print()


if __name__ == "__main__":
    sys.exit(main())
