"""``seasight demo``: the main job on data shipped with SeaSight.

Until the traffic simulator exists, the demo ingests the real samples shipped in
``seasight/data/samples`` (an Aegean NMEA feed, ORBCOMM satellite lines with tag blocks, and a
CSV of vessel tracks in the Solent), prints what was decoded and rejected, and shows the vessel
picture the database now holds.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from seasight.cli.summary import print_report
from seasight.ingest import ingest_paths
from seasight.store import Store

DEMO_DB = Path("seasight-demo.duckdb")


def sample_files() -> list[Path]:
    """The real AIS samples shipped with the package."""
    folder = resources.files("seasight") / "data" / "samples"
    return sorted(
        Path(str(p)) for p in folder.iterdir()
        if p.name.endswith((".nmea", ".csv.gz"))
    )


def demo(
    db: Path = typer.Option(DEMO_DB, "--db", help="Database file for the demo (recreated)."),
) -> None:
    """Ingest the shipped real AIS samples and show the picture."""
    console = Console()
    for suffix in ("", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    files = sample_files()
    console.rule("[bold]SeaSight demo: ingest real AIS samples")
    for f in files:
        console.print(f"  {f.name}")
    report = ingest_paths(files, db)
    print_report(report, console)
    again = ingest_paths(files, db, force=True)
    console.print(
        f"Re-ingesting the same files added {sum(again.added.values())} rows "
        f"({again.n_messages:,} messages read again, all recognised as already stored)."
    )
    with Store(db, read_only=True) as store:
        _picture(store, console)
    console.print(f"\nDatabase: [bold]{db}[/] (DuckDB). Try: seasight decode "
                  f"{files[0]} --json | head")


_IDENTITY = ("shipname", "callsign", "imo", "ship_type", "destination")


def _latest(column: str) -> str:
    """SQL for the latest known value of ``column`` (reports without time count by line)."""
    return (f"last({column} ORDER BY ts NULLS FIRST, line_no) "
            f"FILTER (WHERE {column} IS NOT NULL) AS {column}")


def _picture(store: Store, console: Console) -> None:
    vessels = store.query(
        f"""WITH last AS (
               SELECT mmsi, {_latest("lat")}, {_latest("lon")}, {_latest("sog")},
                      max(ts) AS last_seen, count(*) AS reports
               FROM positions WHERE lat IS NOT NULL AND lon IS NOT NULL GROUP BY mmsi),
           names AS (
               SELECT mmsi, {_latest("shipname")}, {_latest("ship_type")}
               FROM static GROUP BY mmsi)
           SELECT last.*, names.shipname, names.ship_type FROM last
           LEFT JOIN names USING (mmsi) ORDER BY reports DESC, mmsi LIMIT 10"""
    )
    n_vessels = store.query("SELECT count(DISTINCT mmsi) AS n FROM positions")["n"][0]
    table = Table(title=f"Most reported of {n_vessels:,} vessels (last known position)")
    for col in ("mmsi", "name", "type", "lat", "lon", "sog kn", "last seen (UTC)", "reports"):
        table.add_column(col, justify="left" if col in ("name", "last seen (UTC)") else "right")
    for r in vessels.iter_rows(named=True):
        table.add_row(
            str(r["mmsi"]), r["shipname"] or "", str(r["ship_type"] or ""),
            f"{r['lat']:.4f}", f"{r['lon']:.4f}",
            "" if r["sog"] is None else f"{r['sog']:.1f}",
            "" if r["last_seen"] is None else r["last_seen"].strftime("%Y-%m-%d %H:%M:%S"),
            f"{r['reports']:,}",
        )
    console.print(table)
    identities = store.query(
        f"""SELECT mmsi, {", ".join(_latest(c) for c in _IDENTITY)}, count(*) AS reports
           FROM static WHERE msg_type IS NOT NULL GROUP BY mmsi ORDER BY mmsi"""
    )
    if identities.height:
        ids = Table(title="Identities broadcast (AIS static reports, types 5, 19 and 24)")
        for col in ("mmsi", "name", "call sign", "IMO", "type", "destination", "reports"):
            ids.add_column(col)
        for r in identities.iter_rows(named=True):
            ids.add_row(*("" if r[k] is None else str(r[k])
                          for k in ("mmsi", *_IDENTITY, "reports")))
        console.print(ids)
