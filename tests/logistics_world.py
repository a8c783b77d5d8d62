"""A small world for the logistics tests: two navies under one ACSA, their people, and a
helper to take steps. Figures are chosen so that every amount can be checked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from seasight.access.accounts import caller_for
from seasight.access.caller import Caller
from seasight.logistics import storage
from seasight.store import Store

JP, US = "JMSDF", "US Navy"


def person(name: str, org: str, role: str = "analyst") -> Caller:
    return caller_for(name, org, role)


# separate people for each duty
JP_PLACER, JP_RECEIVER, JP_PAYER = (person(f"jp.{n}", JP) for n in ("placer", "receiver",
                                                                     "payer"))
JP_ACCEPTER, JP_ADMIN = person("jp.accepter", JP), person("jp.admin", JP, "admin")
US_PLACER, US_RECEIVER, US_PAYER = (person(f"us.{n}", US) for n in ("placer", "receiver",
                                                                    "payer"))
US_ACCEPTER, US_ADMIN = person("us.accepter", US), person("us.admin", US, "admin")
THIRD = person("rn.admin", "Royal Navy", "admin")

AGREEMENT: dict[str, Any] = {
    "agreement_id": "acsa-jp-us", "reference": "ACSA-JP-US", "party_a": JP, "party_b": US,
    "signed_on": "2024-09-01", "start": "2024-10-01", "end": "2027-09-30",
    "categories": ["fuel", "lubricants", "water", "food", "port_services", "repair"],
    "methods": [{"method": "cash", "days": 30, "basis": "invoice"},
                {"method": "replacement_in_kind", "days": 90, "basis": "delivery"},
                {"method": "equal_value_exchange", "days": 90, "basis": "delivery"}],
    "currencies": ["JPY", "USD"],
    "fy_start_month": {JP: 4, US: 10},
    "ceilings": [{"provider": US, "fiscal_year": 2025, "amount": "10000.00",
                  "currency": "USD"},
                 {"provider": JP, "fiscal_year": 2025, "amount": "50000000",
                  "currency": "JPY"}],
}

RATES = "date,base,quote,rate\n2025-03-10,USD,JPY,148.10\n2025-04-14,USD,JPY,147.75\n"


def at(day: str) -> dict[str, Any]:
    d = date.fromisoformat(day)
    return {"today": d, "now": datetime(d.year, d.month, d.day, 12, tzinfo=UTC)}


def setup(store: Store) -> None:
    storage.create_agreement(store, JP_ADMIN, AGREEMENT, now=at("2024-09-01")["now"])
    storage.load_rates(store, JP_PAYER, RATES, "rates.csv")


def step(store: Store, who: Caller, order_id: str, kind: str, day: str,
         **payload: Any) -> dict[str, Any]:
    key = payload.pop("key", None)
    return storage.take_step(store, who, order_id, kind, {"on": day, **payload},
                             idempotency_key=key, **at(day))
