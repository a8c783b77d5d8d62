"""Logistics rows pass THE sharing policy (kind ``logistics``), written as an attacker would:
a row belongs to its two parties; a third organisation sees nothing; ``local`` sees all; and
every read of the logistics stage asks the policy (a policy that refuses everything leaves
the parties nothing either)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from logistics_world import (
    JP,
    JP_ACCEPTER,
    JP_PLACER,
    THIRD,
    US,
    US_ACCEPTER,
    at,
    person,
    setup,
    step,
)
from seasight.access.caller import Caller
from seasight.logistics import storage
from seasight.logistics.errors import NotFoundError
from seasight.sharing import PolicyError, compile_grants, make_agreement, permitted
from seasight.sharing.origins import LOCAL
from seasight.store import Store

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _rows() -> pl.DataFrame:
    return pl.DataFrame({"order": ["o1", "o2", "o3", "o4"],
                         "parties": [[JP, US], [US, "Royal Navy"], None, []]},
                        schema={"order": pl.String, "parties": pl.List(pl.String)})


def test_policy_logistics_rows_belong_to_their_parties() -> None:
    # even an agreement granting the third organisation every class grants it no logistics row
    grant = make_agreement(JP, "marine_nationale", ["positions", "events", "alerts",
                                                    "identities", "dossiers", "watchlists"])
    grants = compile_grants([grant])
    seen = {org: permitted(org, "logistics", _rows(), grants, NOW)["order"].to_list()
            for org in (JP, US, "Royal Navy", "marine_nationale", LOCAL)}
    assert seen == {JP: ["o1"], US: ["o1", "o2"], "Royal Navy": ["o2"],
                    "marine_nationale": [], LOCAL: ["o1", "o2", "o3", "o4"]}
    with pytest.raises(PolicyError, match="parties"):  # never passed unchecked
        permitted(JP, "logistics", _rows().drop("parties"), grants, NOW)
    with pytest.raises(PolicyError, match="parties"):
        permitted(LOCAL, "logistics", _rows().drop("parties"), grants, NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "acsa.duckdb")
    setup(s)
    oid = storage.place_order(s, US_ACCEPTER, "acsa-jp-us", {
        "requesting_unit": "USS Blue Ridge", "providing_unit": "JMSDF Yokosuka",
        "place": {"locode": "JPYOK"}, "purpose": "port_call", "start": "2025-03-10",
        "end": "2025-03-12", "method": "cash",
        "lines": [{"category": "fuel", "description": "F-76", "quantity": "10", "unit": "m3",
                   "unit_price": "98500", "currency": "JPY"}]}, submit=True,
        **at("2025-03-01"))["order_id"]
    step(s, JP_ACCEPTER, oid, "accept", "2025-03-02")
    step(s, JP_PLACER, oid, "deliver", "2025-03-10", lines={"1": "10"})
    step(s, person("us.receiver", US), oid, "receive", "2025-03-10", delivery_id="D1",
         lines={"1": "10"})
    yield s
    s.close()


def _every_read(s: Store, who: Caller) -> dict[str, int]:
    return {"agreements": len(storage.list_agreements(s, who)),
            "orders": storage.list_orders(s, who).height,
            "entries": storage.ledger_entries(s, who).height,
            "balance": storage.balance_report(s, who).height,
            "ageing": storage.ageing_report(s, who, date(2025, 6, 1)).height,
            "statement": storage.statement_report(s, who, JP if who.organisation == US
                                                  else US, 2025).height,
            "ceilings": storage.ceiling_report(s, who).height}


def test_every_read_asks_the_policy(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    us = person("us.viewer", US)
    assert all(_every_read(store, us).values())
    assert not any(_every_read(store, THIRD).values())
    oid = storage.list_orders(store, us)["order_id"][0]
    with pytest.raises(NotFoundError):
        storage.load_order(store, oid, THIRD)
    # a policy that lets nothing through: the party itself now reads nothing, by every path
    monkeypatch.setattr(storage, "permitted", lambda org, kind, frame, grants, now:
                        frame.head(0))
    assert not any(_every_read(store, us).values())
    for read in (lambda: storage.load_order(store, oid, us),
                 lambda: storage.get_agreement(store, "acsa-jp-us", us),
                 lambda: storage.find_order(store, oid, us)):
        with pytest.raises(NotFoundError):
            read()
