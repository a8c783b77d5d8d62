"""Rich tables for an :class:`~seasight.ingest.pipeline.IngestReport`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seasight.cli.markup import add_row, esc
from seasight.ingest.pipeline import IngestReport
from seasight.model.rejects import REASON_HELP
from seasight.sources.udp import UdpCounters

#: Names of the AIS message types, for summaries.
MESSAGE_TYPE_NAMES = {
    1: "position report class A", 2: "position report class A (assigned)",
    3: "position report class A (interrogated)", 4: "base station report",
    5: "static and voyage data", 6: "binary addressed", 7: "binary acknowledge",
    8: "binary broadcast", 9: "SAR aircraft position", 10: "UTC/date inquiry",
    11: "UTC/date response", 12: "addressed safety", 13: "safety acknowledge",
    14: "safety broadcast", 15: "interrogation", 16: "assignment mode command",
    17: "DGNSS broadcast", 18: "position report class B", 19: "extended class B report",
    20: "data link management", 21: "aid-to-navigation report", 22: "channel management",
    23: "group assignment", 24: "static data report (class B)", 25: "single slot binary",
    26: "multiple slot binary", 27: "long range position report",
}


def print_udp(udp: UdpCounters, console: Console) -> None:
    """Datagrams received and lost by a UDP feed, in red when some were lost."""
    drops = "unknown (not Linux)" if udp.kernel_drops is None else f"{udp.kernel_drops:,}"
    lost = (udp.kernel_drops or 0) + udp.queue_overflows
    losses = Text(f"{drops} dropped by the kernel, {udp.queue_overflows:,} by queue overflow",
                  style="bold red" if lost else "green")
    console.print(Text.assemble(
        "UDP: ", (f"{udp.datagrams:,}", "bold"), " datagrams received, ", losses,
        f" (receive buffer {udp.receive_buffer_bytes / 2**20:,.1f} MiB)"))
    if udp.kernel_drops:
        console.print("[red]the socket's receive buffer overflowed: raise net.core.rmem_max "
                      "or give the machine more CPU[/]")


def print_report(report: IngestReport, console: Console) -> None:
    """Messages by type, rejects by reason and rows stored, as tables."""
    records = report.n_messages + report.csv_rows
    rate = records / report.seconds if report.seconds > 0 else 0.0
    sources = len(report.sources)
    console.print(
        f"[bold]{report.n_messages:,}[/] AIS messages"
        + (f" and [bold]{report.csv_rows:,}[/] CSV track rows" if report.csv_rows else "")
        + f" from {sources:,} source(s), {report.bytes_read / 1e6:,.1f} MB in "
        f"{report.seconds:.2f} s ({rate:,.0f} records/s)"
    )
    if report.udp is not None:
        print_udp(report.udp, console)
    for src in report.already_ingested:
        console.print(f"already ingested, skipped (use --force to re-read): {esc(src)}")
    types = Table(title="Decoded by message type")
    types.add_column("type", justify="right")
    types.add_column("message")
    types.add_column("count", justify="right")
    for t, n in sorted(report.messages.items()):
        add_row(types, str(t), MESSAGE_TYPE_NAMES.get(t, "?"), f"{n:,}")
    console.print(types)
    if report.rejects:
        rej = Table(title="Rejected lines by reason (kept in the 'rejects' table)")
        rej.add_column("reason")
        rej.add_column("count", justify="right")
        rej.add_column("meaning")
        for reason, n in report.rejects.most_common():
            add_row(rej, reason, f"{n:,}", REASON_HELP.get(reason, ""))
        console.print(rej)
    stored = Table(title="Rows stored (duplicates dropped)")
    stored.add_column("table")
    stored.add_column("rows added", justify="right")
    for table, n in sorted(report.added.items()):
        add_row(stored, table, f"{n:,}")
    console.print(stored)
    skipped = {k: v for k, v in report.skipped.items() if v}
    if skipped:
        console.print("skipped lines: " + ", ".join(f"{esc(k)} {v:,}"
                                                    for k, v in skipped.items()))
    if report.warnings:
        console.print("decoded despite a problem (warnings): " + ", ".join(
            f"{esc(k)} {v:,}" for k, v in report.warnings.most_common()))
