"""``python -m seasight.bench.distributed``: detection over a lake on Dask, 1 and 2 workers.

What is measured, and how (printed with the results as well):

* A simulated multi-day scenario (:func:`seasight.sim.simulate`, ``indo-pacific``, default
  1,000 vessels for 72 hours, a lake of 4 buckets) is written as NMEA and ingested into a lake
  (:func:`seasight.lake.ingest_lake`; timed, but not part of detection).
* Single process: :func:`seasight.analysis.detection.detect_events` over every position and static
  report read from the lake (reading excluded): the baseline, and the events the engine must
  reproduce.
* Engine: :func:`seasight.distributed.detect_lake` on a ``LocalCluster`` of 1, then 2
  single-threaded worker processes (cluster start-up excluded; reading the lake, scheduling
  and gathering included). Throughput is positions per wall-clock second. Each run's events
  are checked against the single-process events (event_id, kind, vessels, start, end, open).
* Per-partition costs: Dask's task stream of the 1-worker run, by task function: how many
  tasks, and their compute time (total, mean, 95th percentile, max).
* Projection: from the measured compute seconds per position of the 1-worker run (all tasks,
  including the re-reading of warm-up and context that the day chains do) and an assumed
  parallel efficiency (printed beside the 1 -> 2 worker scaling measured here), the workers
  and wall time for one day and for one month of global AIS, under the assumptions printed
  with it.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from dask.utils import key_split

from seasight.analysis.detection import POSITION_COLUMNS, detect_events
from seasight.distributed import detect_lake, make_client
from seasight.geo.zones import load_zones
from seasight.lake import Lake, ingest_lake
from seasight.sim import simulate, write_simulation

COMPARED = ["event_id", "kind", "mmsi", "other_mmsi", "start", "end", "is_open"]

#: Assumptions of the projection.
GLOBAL_MESSAGES_PER_DAY = 100_000_000
POSITION_SHARE = 0.8  # of AIS messages (types 1-3, 18, 19, 27); the rest static and others
DUPLICATE_SHARE = 0.2  # of position messages: the same report heard by several receivers
PARALLEL_EFFICIENCY = 0.7  # of a cluster of dedicated workers (measured here on 2 shared cores)


def _task_costs(stream: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    by_fn: dict[str, list[float]] = defaultdict(list)
    for task in stream:
        name = str(task.get("key", "?"))
        if isinstance(task.get("key"), tuple):
            name = str(task["key"][0])
        fn = key_split(name)
        for ss in task.get("startstops", ()):
            if ss.get("action") == "compute":
                by_fn[fn].append(float(ss["stop"]) - float(ss["start"]))
    out = {}
    for fn, times in sorted(by_fn.items(), key=lambda kv: -sum(kv[1])):
        times.sort()
        out[fn] = {
            "tasks": len(times),
            "total_s": sum(times),
            "mean_ms": 1000 * statistics.fmean(times),
            "p95_ms": 1000 * times[min(len(times) - 1, int(0.95 * len(times)))],
            "max_ms": 1000 * times[-1],
        }
    return out


def _warm(positions: pl.DataFrame, static: pl.DataFrame, zones: list[Any]) -> int:
    return detect_events(positions, static, zones).events.height


def run(vessels: int, hours: float, seed: int, buckets: int, tile_deg: float,
        workers: list[int], folder: Path) -> dict[str, Any]:
    """Simulate, ingest, detect single-process and on each worker count; the figures."""
    t0 = time.perf_counter()
    write_simulation(simulate("indo-pacific", hours=hours, vessels=vessels, seed=seed), folder)
    sim_s = time.perf_counter() - t0
    lake = Lake(str(folder / "lake"), buckets=buckets)
    report = ingest_lake([folder / "feed.nmea"], lake)
    zones = load_zones([folder / "zones.geojson"])
    positions = lake.read("positions", columns=list(POSITION_COLUMNS)).filter(
        pl.col("ts").is_not_null() & pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    static = lake.read("static").filter(pl.col("ts").is_not_null())
    n_pos = positions.height
    detect_events(positions.head(2000), static.head(2000), zones)  # JIT warm-up
    t0 = time.perf_counter()
    horizon = positions["ts"].max()
    assert isinstance(horizon, datetime)
    ref = detect_events(positions, static, zones, horizon_end=horizon).events
    single_s = time.perf_counter() - t0
    want = ref.select(COMPARED).sort("event_id")
    runs = []
    costs: dict[str, dict[str, float]] = {}
    for w in workers:
        from distributed import get_task_stream

        client = make_client(workers=w)
        try:
            # warm each worker: imports and numba's compiled kernels load once per process
            client.run(_warm, positions.head(5000), static.head(5000), zones)
            with get_task_stream(client) as ts:
                t0 = time.perf_counter()
                got = detect_lake(lake, client, zones, tile_deg=tile_deg)
                wall = time.perf_counter() - t0
            stream = ts.data
        finally:
            client.close()
            client.cluster.close()
        equal = got.events.select(COMPARED).sort("event_id").equals(want)
        task_costs = _task_costs(stream)
        compute = sum(c["total_s"] for c in task_costs.values())
        runs.append({"workers": w, "wall_s": wall, "positions_per_s": n_pos / wall,
                     "tasks": got.tasks, "tiles": got.tiles, "compute_s": compute,
                     "events": got.events.height, "equal_to_single_process": equal})
        costs = costs or task_costs  # the 1-worker run's: no other worker competes
    return {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count()},
        "scenario": {"vessels": vessels, "hours": hours, "seed": seed, "days": len(lake.days()),
                     "buckets": buckets, "tile_deg": tile_deg, "simulate_s": sim_s},
        "messages": report.n_messages, "positions": n_pos,
        "ingest": {"seconds": report.seconds, "messages_per_s": report.n_messages
                   / max(report.seconds, 1e-9)},
        "single_process": {"seconds": single_s, "positions_per_s": n_pos / single_s,
                           "events": ref.height},
        "engine": runs,
        "task_costs": costs,
    }


def projection(result: dict[str, Any]) -> dict[str, Any]:
    """Workers and wall time for a day and a month of global AIS, from the measurements."""
    runs = {r["workers"]: r for r in result["engine"]}
    n = result["positions"]
    fewest, most = min(runs), max(runs)
    # worker-seconds of task compute per position, from the run with the fewest workers (on a
    # small shared machine more workers mostly compete for the same cores)
    cpu_per_pos = runs[fewest]["compute_s"] / n
    measured_eff = (fewest * runs[fewest]["wall_s"]) / (most * runs[most]["wall_s"])
    eff = PARALLEL_EFFICIENCY
    pos_day = GLOBAL_MESSAGES_PER_DAY * POSITION_SHARE * (1 - DUPLICATE_SHARE)
    cpu_day = pos_day * cpu_per_pos
    # partitions as large as the measured ones: this many buckets for the global lake
    sc = result["scenario"]
    per_partition = n / (sc["buckets"] * sc["days"])
    buckets = 2 ** max(0, round(math.log2(pos_day / per_partition)))
    # each bucket's days run in order: one day costs at least one chain step
    costs = result["task_costs"]
    step_s = sum(costs.get(fn, {}).get("mean_ms", 0.0) for fn in ("vessel_day", "vessel_points",
                                                                   "encounter_tile_day")) / 1000
    rows = []
    for w in (8, 32, 128, 512):
        day_s = max(cpu_day / (w * eff), step_s)
        rows.append({"workers": w, "day_h": day_s / 3600,
                     "month_h": max(30 * cpu_day / (w * eff), 30 * step_s) / 3600})
    return {
        "assumptions": {
            "messages_per_day": GLOBAL_MESSAGES_PER_DAY, "position_share": POSITION_SHARE,
            "duplicate_share": DUPLICATE_SHARE, "parallel_efficiency": eff,
            "measured_efficiency": measured_eff,
        },
        "positions_per_day": pos_day,
        "positions_per_partition": per_partition,
        "buckets_for_that_partition_size": buckets,
        "chain_step_s": step_s,
        "worker_s_per_million_positions": cpu_per_pos * 1e6,
        "worker_hours_per_day": cpu_day / 3600,
        "workers_for_one_hour_per_day": math.ceil(cpu_day / eff / 3600),
        "table": rows,
    }


def _print(result: dict[str, Any], proj: dict[str, Any]) -> None:
    sc = result["scenario"]
    print(f"Scenario: indo-pacific, {sc['vessels']} vessels x {sc['hours']:g} h "
          f"({sc['days']} days), {result['messages']:,} messages, {result['positions']:,} "
          f"positions; lake of {sc['buckets']} buckets, encounter tiles {sc['tile_deg']:g} deg")
    print(f"Machine: {result['machine']['cpus']} CPUs, Python {result['machine']['python']}")
    print(f"Ingest to lake: {result['ingest']['seconds']:.1f} s "
          f"({result['ingest']['messages_per_s']:,.0f} messages/s)")
    sp = result["single_process"]
    print(f"Single process detect_events: {sp['seconds']:.2f} s "
          f"({sp['positions_per_s']:,.0f} positions/s), {sp['events']} events")
    print("Dask engine (LocalCluster, 1 thread per worker process):")
    for r in result["engine"]:
        print(f"  {r['workers']} worker(s): {r['wall_s']:.2f} s wall "
              f"({r['positions_per_s']:,.0f} positions/s), {r['tasks']:,} tasks, "
              f"{r['tiles']} tiles, task compute {r['compute_s']:.1f} s, events equal to "
              f"single process: {r['equal_to_single_process']}")
    print("Per-partition costs (task compute time, run with the fewest workers):")
    for fn, c in result["task_costs"].items():
        print(f"  {fn:<20} {c['tasks']:>6} tasks  total {c['total_s']:7.2f} s  mean "
              f"{c['mean_ms']:8.1f} ms  p95 {c['p95_ms']:8.1f} ms  max {c['max_ms']:8.1f} ms")
    a = proj["assumptions"]
    print(f"Projection for global AIS ({a['messages_per_day']:,} messages/day, "
          f"{a['position_share']:.0%} positions, {a['duplicate_share']:.0%} of them duplicate "
          f"receptions -> {proj['positions_per_day']:,.0f} positions/day; "
          f"{proj['worker_s_per_million_positions']:.1f} worker-s per million positions; "
          f"parallel efficiency assumed {a['parallel_efficiency']:.2f}; measured here "
          f"{a['measured_efficiency']:.2f} from the fewest to the most workers):")
    print(f"  partitions of {proj['positions_per_partition']:,.0f} positions (as measured): "
          f"a global lake of {proj['buckets_for_that_partition_size']:,} buckets; each "
          f"bucket's days run in order, {proj['chain_step_s']:.1f} s a day at the least")
    print(f"  {proj['worker_hours_per_day']:.1f} worker-hours per day of data; "
          f"{proj['workers_for_one_hour_per_day']} worker(s) process a day in an hour")
    for row in proj["table"]:
        print(f"  {row['workers']:>4} workers: one day in {60 * row['day_h']:7.1f} min, "
              f"one month in {row['month_h']:6.2f} h")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m seasight.bench.distributed",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--vessels", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--buckets", type=int, default=4)
    ap.add_argument("--tile-deg", type=float, default=10.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seasight-bench-") as tmp:
        result = run(args.vessels, args.hours, args.seed, args.buckets, args.tile_deg,
                     sorted(args.workers), Path(tmp))
    proj = projection(result)
    _print(result, proj)
    if args.json:
        args.json.write_text(json.dumps({**result, "projection": proj}, indent=1,
                                        default=str))
    ok = all(r["equal_to_single_process"] for r in result["engine"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
