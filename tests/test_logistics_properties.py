"""Property tests of the logistics ledger: random sequences of operations by several people of
both parties (most of them refused: wrong person, wrong state, too much) must keep the books
right."""

from __future__ import annotations

import tempfile
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
from seasight.logistics import storage
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
