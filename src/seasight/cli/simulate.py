"""``seasight simulate``: a scenario's traffic as a noisy NMEA feed, with its ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seasight.cli.markup import add_row, esc
from seasight.cli.options import JSON, fail
from seasight.sim import SCENARIOS, get_scenario, simulate, write_simulation
from seasight.sim.behaviours import PlantingError

EPILOG = """Examples:

  seasight simulate --out demo/

  seasight simulate --scenario indo-pacific --hours 24 --vessels 10000 --seed 7 --out big/

Writes DIR/feed.nmea (tag-blocked !AIVDM sentences as receivers deliver them: duplicates from
several stations, out-of-order lines, bad checksums, truncated and garbage lines),
DIR/truth.json (every event the data contains, and the look-alikes that must not be reported)
and DIR/zones.geojson (the scenario's zones). The same seed gives the same files.
"""


def simulate_command(
    scenario: str = typer.Option("indo-pacific", "--scenario",
                                 help=f"Scenario: {', '.join(sorted(SCENARIOS))}."),
    hours: float = typer.Option(None, "--hours", min=1.0,
                                help="Simulated span in hours (default: the scenario's, 48)."),
    vessels: int = typer.Option(None, "--vessels", min=1,
                                help="Number of vessels (default: the scenario's, 300)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed, the same files."),
    out: Path = typer.Option(..., "--out", file_okay=False,
                             help="Directory for feed.nmea, truth.json and zones.geojson."),
    as_json: bool = JSON,
) -> None:
    """Simulate vessel traffic with planted events and write a feed with its ground truth."""
    try:
        sc = get_scenario(scenario)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--scenario") from None
    err = Console(stderr=True)
    started = time.perf_counter()
    try:
        with err.status(f"simulating {esc(sc.name)}", spinner="dots"):
            sim = simulate(sc, hours, vessels, seed)
            simulated = time.perf_counter()
            stats = write_simulation(sim, out)
    except (ValueError, PlantingError) as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot write to {out}: {exc}") from exc
    done = time.perf_counter()
    summary = {
        "scenario": sc.name, "seed": seed, "hours": sim.hours, "vessels": len(sim.plan.vessels),
        "out": str(out), "files": ["feed.nmea", "truth.json", "zones.geojson"],
        "positions": sim.positions.height, "static": sim.static.height, "feed": stats,
        "events": sim.truth["counts"], "lookalikes": len(sim.truth["lookalikes"]),
        "seconds": {"simulate": round(simulated - started, 2),
                    "write": round(done - simulated, 2)},
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    err.print(f"[bold]{esc(sc.name)}[/]: {summary['vessels']:,} vessels, {sim.hours:g} h from "
              f"{esc(sim.truth['start'])} (seed {seed:d})")
    err.print(f"{sim.positions.height:,} position and {sim.static.height:,} static reports -> "
              f"{stats['lines']:,} lines ({stats['duplicates']:,} duplicate receptions, "
              f"{stats['rejected_lines']:,} bad lines)")
    table = Table(title="Ground truth")
    table.add_column("event")
    table.add_column("count", justify="right")
    for kind, n in sim.truth["counts"].items():
        add_row(table, kind, f"{n:,}")
    add_row(table, Text("look-alikes", style="dim"), Text(f"{summary['lookalikes']:,}",
                                                          style="dim"))
    err.print(table)
    err.print(f"Wrote {esc(out)}/feed.nmea, truth.json, zones.geojson in "
              f"{done - started:.1f} s. Try: seasight ingest {esc(out)}/feed.nmea")
