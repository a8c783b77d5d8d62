"""Benchmark of the logistics ledger: ``python -m seasight.bench.logistics [orders]``.

Makes ``orders`` orders (default 100,000) of 10 lines each (1,000,000 lines) between two
parties under one agreement, posts each one's receipt through the pure core
(:func:`seasight.logistics.ledger.obligation`: per-line amounts, balanced entries), settles
half of them, stores the entries in DuckDB in one append, then times the balance, ageing and
statement queries on what the store reads back. Prints each figure.
"""

from __future__ import annotations

import random
import sys
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


def run(n_orders: int = 100_000, lines_per_order: int = 10, seed: int = 7) -> dict[str, float]:
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
        for name, fn in (
                ("balance_s", lambda: reports.balances(storage.ledger_entries(store, caller))),
                ("ageing_s", lambda: reports.ageing(storage.ledger_entries(store, caller),
                                                    date(2026, 6, 30))),
                ("statement_s", lambda: reports.statement(
                    storage.ledger_entries(store, caller), A, B, 2025))):
            t = time.perf_counter()
            fn()
            figures[name] = time.perf_counter() - t
    return figures


def main() -> None:
    """Print the figures."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for name, value in run(n).items():
        print(f"{name:>22}: {value:,.3f}" if isinstance(value, float) else
              f"{name:>22}: {value:,}")


if __name__ == "__main__":
    main()
