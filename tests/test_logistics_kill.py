"""A process killed with SIGKILL in the middle of a settlement leaves no half-posted
transaction: started again, it ends in exactly the state of a run that was not killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl

from logistics_world import JP_ACCEPTER, JP_PLACER, US_PAYER, US_PLACER, US_RECEIVER, setup, step
from seasight.access.audit import verify_audit
from seasight.logistics import storage
from seasight.store import Store

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


def _prepare(db: Path) -> str:
    with Store(db) as store:
        setup(store)
        oid = storage.place_order(store, US_PLACER, "acsa-jp-us", {
            "requesting_unit": "USS Blue Ridge", "providing_unit": "JMSDF Yokosuka",
            "place": {"locode": "JPYOK"}, "purpose": "port_call", "start": "2025-03-10",
            "end": "2025-03-12", "method": "cash",
            "lines": [{"category": "fuel", "description": "F-76", "quantity": "10",
                       "unit": "m3", "unit_price": "98500", "currency": "JPY"}]},
            submit=True)["order_id"]
        step(store, JP_ACCEPTER, oid, "accept", "2025-03-04")
        step(store, JP_PLACER, oid, "deliver", "2025-03-10", lines={"1": "10"})
        step(store, US_RECEIVER, oid, "receive", "2025-03-10", delivery_id="D1",
             lines={"1": "10"})
        step(store, JP_ACCEPTER, oid, "invoice", "2025-03-14")
    return oid


_CHILD = textwrap.dedent("""
    import sys, time
    from seasight.logistics import storage, lifecycle
    from seasight.store import Store
    from logistics_world import US_PAYER, at
    real = storage._insert_step
    def slow(store, step, txn, agreement):
        rows = real(store, step, txn, agreement)
        print("posted", flush=True)   # the entries are written, the transaction still open
        time.sleep(60)
        return rows
    storage._insert_step = slow
    store = Store(sys.argv[1])
    storage.take_step(store, US_PAYER, sys.argv[2], "settle",
                      {"on": "2025-04-15", "method": "cash", "amount": "985000",
                       "currency": "JPY"}, idempotency_key="pay-1", **at("2025-04-15"))
""")


def _snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with Store(db, read_only=True) as s:
        return {t: s.con.execute(f'SELECT * EXCLUDE ("at") FROM {t} ORDER BY ALL').fetchall()
                if t == "logistics_steps" else
                s.con.execute(f"SELECT count(*) FROM {t}").fetchall()
                for t in ("logistics_steps", "logistics_entries", "logistics_requests",
                          "audit_log")}


def test_sigkill_mid_settlement_leaves_no_half_posting(tmp_path: Path) -> None:
    killed, clean = tmp_path / "killed.duckdb", tmp_path / "clean.duckdb"
    oid_k = _prepare(killed)
    before = _snapshot(killed)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{TESTS}"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(killed), oid_k],
                             stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    line = child.stdout.readline()
    assert line.strip() == b"posted" and time.monotonic() < deadline
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert _snapshot(killed) == before  # nothing of the settlement survived
    with Store(killed) as store:  # started again: the same request completes once
        done = step(store, US_PAYER, oid_k, "settle", "2025-04-15", method="cash",
                    amount="985000", currency="JPY", key="pay-1")
        again = step(store, US_PAYER, oid_k, "settle", "2025-04-15", method="cash",
                     amount="985000", currency="JPY", key="pay-1")
        assert done["state"] == "settled" and again.get("replayed") is True
        assert verify_audit(store) == (True, None)
        bal_k = store.query("SELECT book, account, currency, sum(amount_minor) s FROM "
                            "logistics_entries GROUP BY ALL ORDER BY ALL")
    oid_c = _prepare(clean)
    with Store(clean) as store:
        step(store, US_PAYER, oid_c, "settle", "2025-04-15", method="cash", amount="985000",
             currency="JPY", key="pay-1")
        bal_c = store.query("SELECT book, account, currency, sum(amount_minor) s FROM "
                            "logistics_entries GROUP BY ALL ORDER BY ALL")
        counts_c = {t: store.count(t) for t in ("logistics_steps", "logistics_entries")}
    with Store(killed, read_only=True) as store:
        storage.ensure_tables(store)
        counts_k = {t: store.count(t) for t in ("logistics_steps", "logistics_entries")}
    assert bal_k.equals(bal_c) and counts_k == counts_c
    assert isinstance(bal_c, pl.DataFrame) and bal_c.height > 0
