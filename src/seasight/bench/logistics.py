"""Benchmark of the logistics ledger:
``python -m seasight.bench.logistics [--orders N] [--pure]``.

Makes ``N`` orders (default 100,000) of 10 lines each (1,000,000 lines) between two parties
under one agreement, posts each one's receipt through the pure core
(:func:`seasight.logistics.ledger.obligation`: per-line amounts, balanced entries), settles
half of them, stores the entries in DuckDB in one append, then times the balance, ageing and
statement queries as the CLI and REST run them (computed in DuckDB, rows through the sharing
policy: :func:`seasight.logistics.storage.balance_report` and the others). With ``--pure`` it
also times the pure Polars reference (:mod:`seasight.logistics.reports` on the whole book read
back) and checks both give the same frames. Prints each figure and the load average (the
machine is shared: read the times with it). Target: each query under 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from seasight.access.caller import Caller
from seasight.logistics import reports, storage
from seasight.logistics.codes import CATEGORIES
from seasight.logistics.ledger import entry_rows, obligation, settlement
from seasight.logistics.money import line_amount
from seasight.store import Store

A, B = "Navy A", "Navy B"


def run(n_orders: int = 100_000, lines_per_order: int = 10, seed: int = 7,
        pure: bool = False) -> dict[str, float]:
    """Run the benchmark; returns the figures printed."""
    rng = random.Random(seed)
    cats = list(CATEGORIES)
    t0 = time.perf_counter()
    txns = []
    start = date(2024, 1, 1)
    for i in range(n_orders):
        provider, requester = (A, B) if i % 2 else (B, A)
        on = start + timedelta(days=rng.randrange(900))
        amounts: dict[tuple[str, str], int] = defaultdict(int)
        for _ in range(lines_per_order):
            cur = "USD" if rng.random() < 0.7 else "JPY"
            amounts[(cur, rng.choice(cats))] += line_amount(rng.randrange(1, 100_000),
                                                            rng.randrange(1, 1_000_000))
        oid = f"lo-{i:08d}"
        txns.append(obligation(oid, "la-bench", 5, on, provider, requester, amounts,
                               on + timedelta(days=90)))
        if i % 2 == 0:
            txns.append(settlement(oid, "la-bench", 6, on + timedelta(days=60), provider,
                                   requester, "cash", amounts))
    t_post = time.perf_counter() - t0
    frame = entry_rows(txns, {A: 10, B: 4})
    t_rows = time.perf_counter() - t0 - t_post
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.duckdb") as store:
        storage.ensure_tables(store)
        t1 = time.perf_counter()
        store.con.register("_e", frame.to_arrow())
        store.con.execute("INSERT INTO logistics_entries SELECT * FROM _e")
        store.con.unregister("_e")
        t_store = time.perf_counter() - t1
        figures = {"orders": n_orders, "lines": n_orders * lines_per_order,
                   "transactions": len(txns), "entries": frame.height,
                   "posting_orders_per_s": n_orders / t_post,
                   "entry_rows_s": t_rows, "store_s": t_store}
        caller = Caller("bench", A, frozenset({"viewer"}))
        as_of = date(2026, 6, 30)
        got = {}
        for name, fn in (
                ("balance_s", lambda: storage.balance_report(store, caller)),
                ("ageing_s", lambda: storage.ageing_report(store, caller, as_of)),
                ("statement_s", lambda: storage.statement_report(store, caller, B, 2025))):
            t = time.perf_counter()
            got[name] = fn()
            figures[name] = time.perf_counter() - t
        if pure:
            for name, fn in (
                    ("balance_s", lambda: reports.balances(
                        storage.ledger_entries(store, caller))),
                    ("ageing_s", lambda: reports.ageing(
                        storage.ledger_entries(store, caller), as_of)),
                    ("statement_s", lambda: reports.statement(
                        storage.ledger_entries(store, caller), A, B, 2025))):
                t = time.perf_counter()
                ref = fn()
                figures[f"pure_{name}"] = time.perf_counter() - t
                if not ref.equals(got[name]):
                    raise AssertionError(f"{name}: SQL and pure results differ")
    return figures


def main() -> None:
    """Print the figures and the load average."""
    parser = argparse.ArgumentParser(prog="python -m seasight.bench.logistics")
    parser.add_argument("--orders", type=int, default=100_000, help="orders (10 lines each)")
    parser.add_argument("--pure", action="store_true",
                        help="also time the pure Polars reports and compare results")
    args = parser.parse_args()
    for name, value in run(args.orders, pure=args.pure).items():
        print(f"{name:>22}: {value:,.3f}" if isinstance(value, float) else
              f"{name:>22}: {value:,}")
    print(f"{'load_average':>22}: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
