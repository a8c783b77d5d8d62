"""``python -m seasight.bench.detection``: tracks and detectors on a simulated day, against
movingpandas.

What is timed, and how (printed with the results as well):

* The positions come from :func:`seasight.sim.simulate` (the ``indo-pacific`` scenario by
  default: 10,000 vessels for 24 hours); simulating is not timed. Positions go straight to the
  chain as columns, without NMEA and database, so only tracks and detection are measured.
* SeaSight: :func:`seasight.analysis.detection.detect_events` on all positions, every detector,
with the
  wall time of each stage (clean, segment, identity, each detector) and positions per second.
  Target: under 60 s.
* movingpandas, on the same positions of a subset of vessels (``--mpd-vessels``, default 300:
  movingpandas is far too slow for the whole day): its ``ObservationGapSplitter`` (gap = 12 h)
  against SeaSight's ``gap`` detector, its ``TrajectoryStopDetector`` (min duration 1 h, max
  diameter 3.7 km = 2 kn for an hour) against SeaSight's ``loitering`` detector. Each is timed
  on prepared tracks (movingpandas' ``TrajectoryCollection`` built beforehand, SeaSight's track
  points cleaned and segmented beforehand), and again including that preparation. Target:
  SeaSight at least 50x faster. Each side runs ``--repeat`` times (default 3), best time kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from seasight.analysis.detection import detect_events
from seasight.events import gap, loitering
from seasight.events.model import DetectionInputs
from seasight.sim import simulate
from seasight.tracks.clean import clean_positions
from seasight.tracks.segment import segment_tracks

#: SeaSight's targets.
TOTAL_SECONDS_TARGET = 60.0
SPEEDUP_TARGET = 50.0

_T = TypeVar("_T")


def best_of(repeat: int, run: Callable[[], _T]) -> tuple[float, _T]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _subset(positions: pl.DataFrame, static: pl.DataFrame,
            n_vessels: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    vessels = positions["mmsi"].unique().sort().head(n_vessels)
    return (positions.filter(pl.col("mmsi").is_in(vessels.implode())),
            static.filter(pl.col("mmsi").is_in(vessels.implode())))


def _mpd_collection(points: pl.DataFrame) -> Any:
    import geopandas as gpd
    import movingpandas as mpd

    pdf = points.select("segment_id", "ts", "lat", "lon").to_pandas()
    pdf["ts"] = pdf["ts"].dt.tz_localize(None)
    gdf = gpd.GeoDataFrame(pdf, geometry=gpd.points_from_xy(pdf["lon"], pdf["lat"]),
                           crs="EPSG:4326").set_index("ts")
    return mpd.TrajectoryCollection(gdf, traj_id_col="segment_id")


def _compare(positions: pl.DataFrame, static: pl.DataFrame, repeat: int) -> dict[str, Any]:
    import movingpandas as mpd

    cleaned = clean_positions(positions)
    points = segment_tracks(cleaned.points).points
    inputs = DetectionInputs(points=points)
    ours_prep, _ = best_of(repeat, lambda: segment_tracks(clean_positions(positions).points))
    out: dict[str, Any] = {"positions": positions.height,
                           "vessels": positions["mmsi"].n_unique(),
                           "seasight_prepare_s": ours_prep}
    mpd_prep, collection = best_of(1, lambda: _mpd_collection(points))
    out["movingpandas_prepare_s"] = mpd_prep
    ours_gap, gaps = best_of(repeat, lambda: gap.detect(inputs))
    theirs_gap, split = best_of(
        repeat, lambda: mpd.ObservationGapSplitter(collection).split(gap=timedelta(hours=12)))
    ours_loiter, loiters = best_of(repeat, lambda: loitering.detect(inputs))
    theirs_loiter, stops = best_of(repeat, lambda: mpd.TrajectoryStopDetector(
        collection).get_stop_segments(max_diameter=3704, min_duration=timedelta(hours=1)))
    out["gap"] = {"seasight_s": ours_gap, "movingpandas_s": theirs_gap,
                  "seasight_events": gaps.height,
                  "movingpandas_splits": len(split) - len(collection)}
    out["loitering"] = {"seasight_s": ours_loiter, "movingpandas_s": theirs_loiter,
                        "seasight_events": loiters.height,
                        "movingpandas_stops": len(stops)}
    return out


def _ratio(theirs: float, ours: float) -> float:
    return theirs / ours if ours > 0 else float("inf")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m seasight.bench.detection",
        description="Time tracks and detectors on a simulated day; compare with movingpandas.")
    parser.add_argument("--scenario", default="indo-pacific")
    parser.add_argument("--vessels", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mpd-vessels", type=int, default=300,
                        help="vessels in the movingpandas comparison (default 300)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-movingpandas", action="store_true")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    warnings.filterwarnings("ignore", module="movingpandas")
    print(f"SeaSight detection benchmark: {args.scenario}, {args.vessels:,} vessels, "
          f"{args.hours:g} h, seed {args.seed}; Python {platform.python_version()} on "
          f"{platform.machine()}")
    t0 = time.perf_counter()
    sim = simulate(args.scenario, hours=args.hours, vessels=args.vessels, seed=args.seed)
    positions, static = sim.positions, sim.static
    print(f"simulated {positions.height:,} positions and {static.height:,} static reports "
          f"in {time.perf_counter() - t0:.1f} s (not timed below)\n")
    t0 = time.perf_counter()
    result = detect_events(positions, static, sim.zones)
    total = time.perf_counter() - t0
    print(f"{'stage':<18}{'seconds':>10}")
    for stage, seconds in result.seconds.items():
        print(f"{stage:<18}{seconds:>10.2f}")
    rate = positions.height / total if total else float("inf")
    verdict = "met" if total < TOTAL_SECONDS_TARGET else "NOT met"
    print(f"{'total':<18}{total:>10.2f}   {rate:,.0f} positions/s "
          f"(target < {TOTAL_SECONDS_TARGET:.0f} s: {verdict})")
    print("events: " + ", ".join(f"{k} {v:,}" for k, v in sorted(result.events_by_kind.items())))
    figures: dict[str, Any] = {
        "scenario": args.scenario, "vessels": args.vessels, "hours": args.hours,
        "positions": positions.height, "total_s": total, "positions_per_s": rate,
        "stages_s": result.seconds, "events": dict(result.events_by_kind),
    }
    if not args.skip_movingpandas:
        sub_pos, sub_static = _subset(positions, static, args.mpd_vessels)
        cmp = _compare(sub_pos, sub_static, args.repeat)
        figures["movingpandas"] = cmp
        print(f"\nAgainst movingpandas on {cmp['vessels']:,} vessels "
              f"({cmp['positions']:,} positions), best of {args.repeat}:")
        print(f"{'operation':<34}{'SeaSight s':>12}{'movingpandas s':>16}{'ratio':>10}")
        for name, mpd_name in (("gap", "ObservationGapSplitter"),
                               ("loitering", "TrajectoryStopDetector")):
            row = cmp[name]
            ratio = _ratio(row["movingpandas_s"], row["seasight_s"])
            row["ratio"] = ratio
            print(f"{name + ' vs ' + mpd_name:<34}{row['seasight_s']:>12.4f}"
                  f"{row['movingpandas_s']:>16.3f}{ratio:>9.0f}x "
                  f"({'met' if ratio >= SPEEDUP_TARGET else 'NOT met'}: "
                  f"target {SPEEDUP_TARGET:.0f}x)")
        print(f"track preparation: SeaSight clean+segment {cmp['seasight_prepare_s']:.3f} s, "
              f"movingpandas TrajectoryCollection {cmp['movingpandas_prepare_s']:.3f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
