"""The README's worked examples of the logistics ledger, checked by hand.

1. Fuel at a port call, settled in cash in another currency at a dated rate.
2. Water and food, settled by replacement in kind in two partial returns.
3. An order refused at the ceiling, then accepted after an admin's override.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from logistics_world import (
    JP,
    JP_ACCEPTER,
    JP_ADMIN,
    JP_PAYER,
    JP_PLACER,
    JP_RECEIVER,
    THIRD,
    US,
    US_ACCEPTER,
    US_ADMIN,
    US_PAYER,
    US_PLACER,
    US_RECEIVER,
    at,
    person,
    setup,
    step,
)
from seasight.access.audit import query_audit, verify_audit
from seasight.logistics import storage
from seasight.logistics.errors import ConflictError, DutyError, LogisticsError
from seasight.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "acsa.duckdb")
    setup(s)
    yield s
    s.close()


def book(store: Store, org: str) -> pl.DataFrame:
    return store.query("SELECT * FROM logistics_entries WHERE book = ?", [org])


def balance(store: Store, org: str, account: str, currency: str) -> int:
    got = store.con.execute("SELECT coalesce(sum(amount_minor), 0) FROM logistics_entries "
                            "WHERE book = ? AND account = ? AND currency = ?",
                            [org, account, currency]).fetchall()
    return int(got[0][0])


def test_example_1_fuel_port_call_cash_in_another_currency(store: Store) -> None:
    # USS Ronald Reagan, in Yokosuka, takes 120 m3 of diesel from JMSDF at JPY 98,500 / m3
    placed = storage.place_order(store, US_PLACER, "acsa-jp-us", {
        "requesting_unit": {"name": "USS Ronald Reagan", "mmsi": 368926000, "imo": 9338266},
        "providing_unit": "JMSDF Yokosuka District", "place": {"locode": "JPYOK"},
        "purpose": "port_call", "start": "2025-03-10", "end": "2025-03-12", "method": "cash",
        "lines": [{"category": "fuel", "description": "Marine diesel F-76", "quantity": "120",
                   "unit": "m3", "unit_price": "98500", "currency": "JPY"}]},
        submit=True, **at("2025-03-03"))
    oid = placed["order_id"]
    assert placed["number"] == "ACSA-JP-US-2025-0001"
    assert step(store, JP_ACCEPTER, oid, "accept", "2025-03-04")["state"] == "accepted"
    d = step(store, JP_PLACER, oid, "deliver", "2025-03-10", lines={"1": "120"})
    assert d["payload"]["delivery_id"] == "D1"
    got = step(store, US_RECEIVER, oid, "receive", "2025-03-10", delivery_id="D1",
               lines={"1": "120"})
    assert got["owed_minor"] == {"JPY": 11_820_000}  # 120 x 98,500
    inv = step(store, JP_ACCEPTER, oid, "invoice", "2025-03-14")
    assert inv["state"] == "invoiced" and inv["payload"]["due_on"] == "2025-04-13"
    # paid in USD on 15 April at the rate of 14 April: 80,000.00 x 147.75 = 11,820,000 JPY
    paid = step(store, US_PAYER, oid, "settle", "2025-04-15", method="cash", amount="80000.00",
                currency="USD")
    assert paid["payload"]["rate"] == "147.75"
    assert paid["payload"]["rate_date"] == "2025-04-14"
    assert paid["payload"]["liquidated_minor"] == 11_820_000
    assert paid["state"] == "settled" and paid["owed_minor"] == {}
    assert step(store, JP_ACCEPTER, oid, "close", "2025-04-16")["state"] == "closed"
    # JMSDF's book: nothing receivable, USD 80,000.00 in cash; US Navy's the mirror image
    assert balance(store, JP, "receivable", "JPY") == 0
    assert balance(store, JP, "cash", "USD") == 8_000_000
    assert balance(store, JP, "provided", "JPY") == -11_820_000
    assert balance(store, US, "payable", "JPY") == 0
    assert balance(store, US, "cash", "USD") == -8_000_000
    assert balance(store, US, "received", "JPY") == 11_820_000
    for org in (JP, US):  # each book balances in each currency
        sums = book(store, org).group_by("currency").agg(pl.col("amount_minor").sum())
        assert sums["amount_minor"].to_list() == [0] * sums.height
    # every step is in the hash-chained audit log, and the chain holds
    actions = query_audit(store)["action"].to_list()
    assert actions.count("logistics order settle") == 1
    assert verify_audit(store) == (True, None)


def test_example_2_water_food_replacement_in_kind_two_returns(store: Store) -> None:
    # JMSDF's JS Izumo takes water and food from the US Navy in Guam; returns them in kind
    oid = storage.place_order(store, JP_PLACER, "acsa-jp-us", {
        "requesting_unit": {"name": "JS Izumo"}, "providing_unit": "NAVBASE Guam",
        "place": {"lat": 13.444, "lon": 144.654, "name": "Apra Harbor"},
        "purpose": "exercise", "start": "2025-06-01", "end": "2025-06-05",
        "method": "replacement_in_kind",
        "lines": [{"category": "water", "description": "Potable water", "quantity": "200",
                   "unit": "m3", "unit_price": "3.50", "currency": "USD"},
                  {"category": "food", "description": "Rations", "quantity": "400",
                   "unit": "ration", "unit_price": "12.25", "currency": "USD"}]},
        submit=True, **at("2025-05-20"))["order_id"]
    step(store, US_ACCEPTER, oid, "accept", "2025-05-21")
    step(store, US_PLACER, oid, "deliver", "2025-06-02", lines={"1": "200", "2": "400"})
    got = step(store, JP_RECEIVER, oid, "receive", "2025-06-02", delivery_id="D1",
               lines={"1": "200", "2": "400"})
    assert got["owed_minor"] == {"USD": 70_000 + 490_000}  # 700.00 + 4,900.00
    first = step(store, JP_PAYER, oid, "settle", "2025-07-01", lines={"1": "200", "2": "150"})
    assert first["owed_minor"] == {"USD": 306_250}  # 250 rations x 12.25 still owed
    assert first["state"] == "delivered"
    second = step(store, JP_PAYER, oid, "settle", "2025-08-15", lines={"2": "250"})
    assert second["state"] == "settled" and second["owed_minor"] == {}
    assert balance(store, US, "replacement_in", "USD") == 560_000
    assert balance(store, JP, "replacement_out", "USD") == -560_000
    state = storage.load_order(store, oid)
    assert state.line_replaced == {1: 200_000, 2: 400_000}


def test_example_3_ceiling_refused_then_override(store: Store) -> None:
    # the US Navy may give JMSDF USD 10,000.00 in its FY 2025 (1 Oct 2024 - 30 Sep 2025)
    oid = storage.place_order(store, JP_PLACER, "acsa-jp-us", {
        "requesting_unit": "JS Kaga", "providing_unit": "SRF Yokosuka",
        "place": {"locode": "JPYOK"}, "purpose": "exercise", "start": "2025-02-01",
        "end": "2025-02-10", "method": "cash",
        "lines": [{"category": "repair", "description": "Hull repair", "quantity": "1",
                   "unit": "lot", "unit_price": "12000.00", "currency": "USD"}]},
        submit=True, **at("2025-01-20"))["order_id"]
    with pytest.raises(ConflictError) as refused:
        step(store, US_ACCEPTER, oid, "accept", "2025-01-21")
    assert refused.value.field == "ceiling"
    assert storage.load_order(store, oid).state == "submitted"  # nothing written
    step(store, US_ADMIN, oid, "override", "2025-01-22",
         reason="Urgent repair before exercise Keen Sword; approved by N4")
    ok = step(store, US_ACCEPTER, oid, "accept", "2025-01-22")
    assert ok["state"] == "accepted" and ok["payload"]["over_ceiling"] is True
    rows = query_audit(store).filter(pl.col("action") == "logistics order accept")
    assert rows["status"].to_list() == [409, 200]
    _ = JP_ADMIN, US_PAYER


def test_example_3_ceiling_use_report(store: Store) -> None:
    test_example_3_ceiling_refused_then_override(store)
    report = storage.ceiling_report(store, JP_ADMIN)
    # one row per fiscal year and direction of the agreement's ceilings
    assert report.select("provider", "requester", "fiscal_year", "currency", "ceiling_minor",
                         "used_minor", "remaining_minor", "orders", "overrides").rows() == [
        (JP, US, 2025, "JPY", 50_000_000, 0, 50_000_000, 0, 0),
        # USD 12,000.00 accepted against USD 10,000.00: USD 2,000.00 beyond, by override
        (US, JP, 2025, "USD", 1_000_000, 1_200_000, -200_000, 1, 1)]
    assert storage.ceiling_report(store, US_PLACER).equals(report)
    assert storage.ceiling_report(store, US_PLACER, fiscal_year=2026).height == 0
    assert storage.ceiling_report(store, THIRD).height == 0
    # a cancelled order no longer counts
    oid = storage.list_orders(store, US_PLACER)["order_id"][0]
    step(store, JP_PLACER, oid, "cancel", "2025-01-23")
    row = storage.ceiling_report(store, JP_ADMIN, agreement_id="acsa-jp-us").row(1, named=True)
    assert (row["used_minor"], row["remaining_minor"], row["overrides"]) == (0, 1_000_000, 0)


def test_provider_confirms_payment_received(store: Store) -> None:
    test_example_1_fuel_port_call_cash_in_another_currency(store)
    oid = storage.list_orders(store, JP_PAYER)["order_id"][0]
    settle_seq = next(s["seq"] for s in storage.load_order(store, oid).settlements())
    entries = store.count("logistics_entries")
    # the requester's payer recorded the settlement: neither it, nor the same person moved to
    # the provider's side, may confirm that the money arrived
    for who in (US_PAYER, person(US_PAYER.name, JP)):
        with pytest.raises(DutyError) as refused:
            step(store, who, oid, "confirm", "2025-04-17", target_seq=settle_seq)
        assert refused.value.field == "actor"
    with pytest.raises(LogisticsError) as bad:  # a receipt is not a settlement
        step(store, JP_PAYER, oid, "confirm", "2025-04-17", target_seq=4)
    assert bad.value.field == "target_seq"
    got = step(store, JP_PAYER, oid, "confirm", "2025-04-17", target_seq=settle_seq,
               reference="SWIFT MT910 0417-88", key="c1")
    assert got["payload"]["received_minor"] == {"USD": 8_000_000}
    assert got["state"] == "closed" and got["txn_ids"] == []  # no posting, no new state
    assert store.count("logistics_entries") == entries
    again = step(store, JP_PAYER, oid, "confirm", "2025-04-17", target_seq=settle_seq,
                 reference="SWIFT MT910 0417-88", key="c1")
    assert again["replayed"] is True
    with pytest.raises(ConflictError):  # once per settlement
        step(store, JP_ACCEPTER, oid, "confirm", "2025-04-18", target_seq=settle_seq)
    [s] = storage.load_order(store, oid).settlements()
    assert (s["recorded_by"], s["confirmed_by"], s["confirmed_on"]) == (
        US_PAYER.name, JP_PAYER.name, "2025-04-17")
    # every attempt is audited (4 refusals and the confirmation; the replay adds nothing)
    assert query_audit(store)["action"].to_list().count("logistics order confirm") == 5
