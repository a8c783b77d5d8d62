"""Property tests of the logistics ledger: random sequences of operations by several people of
both parties (most of them refused: wrong person, wrong state, too much) must keep the books
right."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logistics_world import (
    JP_ACCEPTER,
    JP_ADMIN,
    JP_PAYER,
    JP_PLACER,
    JP_RECEIVER,
    THIRD,
    US_ACCEPTER,
    US_ADMIN,
    US_PAYER,
    US_PLACER,
    US_RECEIVER,
    setup,
)
from seasight.logistics import queries, reports, storage
from seasight.logistics.errors import LogisticsError
from seasight.logistics.reports import balances
from seasight.store import Store

PEOPLE = [JP_PLACER, JP_RECEIVER, JP_PAYER, JP_ACCEPTER, JP_ADMIN, US_PLACER, US_RECEIVER,
          US_PAYER, US_ACCEPTER, US_ADMIN, THIRD]
KINDS = ["place", "submit", "accept", "reject", "cancel", "override", "deliver", "receive",
         "invoice", "settle", "reverse", "close"]

op = st.tuples(st.sampled_from(KINDS), st.integers(0, len(PEOPLE) - 1), st.integers(0, 3),
               st.integers(1, 3), st.integers(1, 9), st.sampled_from(["JPY", "USD"]),
               st.sampled_from(["cash", "replacement_in_kind"]),
               st.sampled_from(["natural", "natural", "natural", "random"]))

#: Who of each side takes each step (index into a side's people), when playing by the rules.
_DUTY = {"submit": ("R", 0), "cancel": ("R", 0), "accept": ("P", 3), "reject": ("P", 3),
         "override": ("P", 4), "deliver": ("P", 0), "receive": ("R", 1), "invoice": ("P", 3),
         "settle": ("R", 2), "close": ("P", 3), "reverse": ("R", 0)}
_SIDE = {"JMSDF": PEOPLE[:5], "US Navy": PEOPLE[5:10]}


def _natural(store: Store, oid: str) -> str:
    s = storage.load_order(store, oid)
    if s.state == "delivered":
        if s.any_pending():
            return "receive"
        return "invoice" if any(v > 0 for v in s.uninvoiced.values()) else "settle"
    return {"draft": "submit", "submitted": "accept", "accepted": "deliver",
            "invoiced": "settle", "settled": "close"}.get(s.state, "close")


def _payload(kind: str, store: Store, oid: str, qty: int, cur: str, method: str,
             line: int) -> dict[str, object]:
    if kind in ("deliver",):
        return {"lines": {str(line): str(qty)}}
    if kind == "receive":
        s = storage.load_order(store, oid)
        return {"delivery_id": f"D{max(1, len(s.delivered))}", "lines": {str(line): str(qty)}}
    if kind == "override":
        return {"reason": "exercise needs it"}
    if kind == "settle":
        if method == "cash":
            return {"method": "cash", "amount": str(qty * 1000), "currency": cur}
        return {"method": "replacement_in_kind", "lines": {str(line): str(qty)}}
    if kind == "reverse":
        s = storage.load_order(store, oid)
        return {"target_seq": max(s.txns) if s.txns else 1, "reason": "entered twice"}
    return {}


def _natural_payload(store: Store, oid: str, kind: str, qty: int) -> dict[str, object] | None:
    """A payload that fits the order's state (part of what is left, ``qty`` ninths)."""
    s = storage.load_order(store, oid)
    if kind == "deliver":
        left = {n.line_no: n.qty_milli - s.line_delivered(n.line_no) for n in s.order.lines}
        return {"lines": {str(n): str(max(1, v * qty // 9) / 1000) for n, v in left.items()
                          if v > 0}}
    if kind == "receive":
        for d, lines in s.delivered.items():
            pend = {n: s.pending(d, n) for n in lines if s.pending(d, n) > 0}
            if pend:
                return {"delivery_id": d, "lines": {str(n): str(v / 1000)
                                                    for n, v in pend.items()}}
    if kind == "settle" and s.order.method == "cash":
        owed = s.invoiced_open()
        if owed:
            cur = sorted(owed)[0][0]
            total = sum(v for (c, _), v in owed.items() if c == cur)
            amount = max(1, total * qty // 9)
            return {"method": "cash", "currency": cur, "amount": _major(amount, cur)}
    if kind == "settle":
        left = {n: s.line_received[n] - s.line_replaced[n] for n in s.line_received}
        return {"method": "replacement_in_kind",
                "lines": {str(n): str(max(1, v * qty // 9) / 1000) for n, v in left.items()
                          if v > 0}}
    return None


def _major(minor: int, cur: str) -> str:
    from seasight.logistics.money import format_minor
    return format_minor(minor, cur)


def _counts(store: Store) -> tuple[int, int]:
    return store.count("logistics_steps"), store.count("logistics_entries")


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(op, min_size=10, max_size=60))
def test_random_operations_keep_the_books(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "p.duckdb") as store:
        setup(store)
        orders: list[str] = []
        done: list[tuple[object, ...]] = []
        natural: dict[str, object] | None = None
        for i, (kind, who_i, order_i, line, qty, cur, method, mode) in enumerate(ops):
            who = PEOPLE[who_i]
            if mode == "natural" and orders and kind != "place":
                oid = orders[order_i % len(orders)]
                kind = _natural(store, oid)
                o = storage.load_order(store, oid).order
                side, idx = _DUTY[kind]
                who = _SIDE[o.requester if side == "R" else o.provider][idx]
                if kind == "settle":
                    method = o.method
                natural = _natural_payload(store, oid, kind, qty)
            before = _counts(store)
            key = f"k{i}"
            try:
                if kind == "place":
                    got = storage.place_order(store, who, "acsa-jp-us", {
                        "requesting_unit": "unit", "providing_unit": "unit",
                        "place": {"locode": "JPYOK"}, "purpose": "exercise",
                        "start": "2025-05-01", "end": "2025-05-02", "method": method,
                        "lines": [{"category": "fuel", "description": "F-76", "quantity": "5",
                                   "unit": "m3", "unit_price": "1000", "currency": "USD"},
                                  {"category": "food", "description": "R", "quantity": "7",
                                   "unit": "ration", "unit_price": "12.25",
                                   "currency": cur}]},
                        submit=qty % 2 == 0, idempotency_key=key)
                    orders.append(got["order_id"])
                    done.append(("place", who, key, got))
                    continue
                if not orders:
                    continue
                oid = orders[order_i % len(orders)]
                payload = (natural if mode == "natural" and natural is not None else
                           _payload(kind, store, oid, qty, cur, method, line if line < 3 else 1))
                got = storage.take_step(store, who, oid, kind, payload, idempotency_key=key)
                done.append((kind, who, key, got, oid, payload))
            except LogisticsError:
                assert _counts(store) == before  # a refusal writes nothing
        _check_books(store, orders)
        _check_sql_equals_pure(store)
        before = _counts(store)
        for item in done:  # the same requests again with the same keys: nothing changes
            if item[0] == "place":
                continue
            _, who, key, got, oid, payload = item  # type: ignore[misc]
            again = storage.take_step(store, who, oid, got["kind"], payload,
                                      idempotency_key=key)
            assert again["replayed"] is True and again["seq"] == got["seq"]
        assert _counts(store) == before


def _check_books(store: Store, orders: list[str]) -> None:
    entries = store.query("SELECT * FROM logistics_entries")
    if entries.height:
        # every transaction balances in every book and currency
        sums = entries.group_by("txn_id", "book", "currency").agg(pl.col("amount_minor").sum())
        assert sums.filter(pl.col("amount_minor") != 0).height == 0
        # balances equal the sum of the postings
        bal = balances(entries, ("book", "currency"))
        for row in bal.iter_rows(named=True):
            direct = entries.filter((pl.col("book") == row["book"])
                                    & (pl.col("currency") == row["currency"])
                                    & (pl.col("account") == "receivable"))["amount_minor"].sum()
            assert row["receivable_minor"] == direct
    for oid in orders:
        s = storage.load_order(store, oid)
        # nothing settled beyond what is owed; the replayed state matches the ledger
        assert all(v >= 0 for v in s.owed.values())
        own = entries.filter((pl.col("order_id") == oid) & (pl.col("account") == "receivable")
                             ) if entries.height else entries
        assert sum(s.owed.values()) == (own["amount_minor"].sum() if own.height else 0)
        for n, got in s.line_received.items():
            assert got <= s.order.line(n).qty_milli
            assert s.line_replaced.get(n, 0) <= got
    # no ceiling passed without an override
    accepted = store.query(
        """SELECT o.provider, json_extract(s.payload, '$.ceiling_fy')::BIGINT fy,
                  sum(json_extract(s.payload, '$.ceiling_minor')::BIGINT) used,
                  bool_or(EXISTS (SELECT 1 FROM logistics_steps v WHERE v.order_id = o.order_id
                                  AND v.kind = 'override')) any_override
           FROM logistics_steps s JOIN logistics_orders o USING (order_id)
           WHERE s.kind = 'accept' AND NOT EXISTS (SELECT 1 FROM logistics_steps c
                 WHERE c.order_id = o.order_id AND c.kind = 'cancel')
           GROUP BY ALL""")
    agreement = storage.get_agreement(store, "acsa-jp-us")
    for row in accepted.iter_rows(named=True):
        ceiling = agreement.ceiling(row["provider"], row["fy"])
        if ceiling is not None and row["used"] > ceiling.amount_minor:
            assert row["any_override"]


def _check_sql_equals_pure(store: Store) -> None:
    """The DuckDB reports give exactly the frames of the pure Polars reference."""
    everything = store.query("SELECT * FROM logistics_entries ORDER BY txn_id, entry_no")
    years = sorted(set(everything["fiscal_year"].to_list()) | {2025})
    # the bucket edges of a few deadlines (0, 1, 30, 31, 90, 91 days overdue), and some days
    dues = sorted(d for d in set(everything["due_on"].to_list()) if d is not None)[:3]
    days = [date(2025, 4, 1), date(2026, 3, 1),
            *(d + timedelta(days=k) for d in dues for k in (0, 1, 30, 31, 90, 91))]
    for book in ("JMSDF", "US Navy", None):
        mine = everything if book is None else everything.filter(pl.col("book") == book)
        assert queries.balances(store.con, book).equals(reports.balances(mine))
        for as_of in days:
            assert queries.ageing(store.con, book, as_of).equals(reports.ageing(mine, as_of))
        if book is None:
            continue
        partner = "US Navy" if book == "JMSDF" else "JMSDF"
        for fy in [*years, years[-1] + 1]:
            assert queries.statement(store.con, book, partner, fy).equals(
                reports.statement(everything, book, partner, fy))


_day = st.dates(date(2024, 10, 1), date(2026, 9, 30))
_txn = st.tuples(st.sampled_from(["receipt", "invoice", "settle", "reverse"]),
                 st.integers(0, 5), st.booleans(), _day, st.integers(0, 120),
                 st.sampled_from(["JPY", "USD"]), st.sampled_from(["fuel", "food", "water"]),
                 st.integers(1, 50_000))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_txn, min_size=1, max_size=40))
def test_sql_reports_equal_pure_on_random_ledgers(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    """Random ledgers straight from the posting core (receipts with and without deadlines,
    invoices, partial and cross-currency settlements, reversals, both directions, several
    fiscal years): balances, ageing and statements from DuckDB equal the pure reference."""
    from seasight.logistics import ledger

    jp, us = "JMSDF", "US Navy"
    txns: list[ledger.Transaction] = []
    seq: dict[str, int] = {}
    for kind, o, forward, on, days, cur, cat, amount in steps:
        oid = f"o{o}"
        provider, requester = (jp, us) if (o % 2 == 0) == forward else (us, jp)
        n = seq[oid] = seq.get(oid, 0) + 1
        amounts = {(cur, cat): amount}
        if kind == "receipt":
            due = on + timedelta(days=days) if days % 3 else None
            txns.append(ledger.obligation(oid, "a", n, on, provider, requester, amounts, due))
        elif kind == "invoice":
            txns.append(ledger.invoice(oid, "a", n, on, provider, requester, amounts,
                                       on + timedelta(days=days)))
        elif kind == "settle":
            paid = ("JPY" if cur == "USD" else "USD", amount * 3) if days % 2 else None
            txns.append(ledger.settlement(oid, "a", n, on, provider, requester, "cash",
                                          amounts, paid=paid))
        else:
            own = [t for t in txns if t.order_id == oid]
            if own:
                txns.append(ledger.reversal(own[days % len(own)], n, on))
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "q.duckdb") as store:
        storage.ensure_tables(store)
        frame = ledger.entry_rows(txns, {jp: 4, us: 10})
        store.con.register("_e", frame.to_arrow())
        store.con.execute("INSERT INTO logistics_entries SELECT * FROM _e")
        _check_sql_equals_pure(store)
