"""REST under /api/logistics, written as an attacker would: a third organisation sees nothing
by any path, a wrong role or person is refused, a retried write adds nothing, bad input is a
4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from logistics_world import AGREEMENT, JP, RATES, US
from seasight.access import issue_key
from seasight.access.accounts import create_organisation, create_user
from seasight.api import create_app
from seasight.store import Store

ORDER = {"agreement_id": "acsa-jp-us", "submit": True, "requesting_unit": "USS Blue Ridge",
         "providing_unit": "JMSDF Yokosuka", "place": {"locode": "JPYOK"},
         "purpose": "port_call", "start": "2025-03-10", "end": "2025-03-12", "method": "cash",
         "lines": [{"category": "fuel", "description": "F-76", "quantity": "10", "unit": "m3",
                    "unit_price": "98500", "currency": "JPY"}]}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    db = tmp_path / "api.duckdb"
    keys = {}
    with Store(db) as s:
        for org in (JP, US, "Royal Navy"):
            create_organisation(s, org)
        for user, org, role in (("jp.admin", JP, "admin"), ("jp.accepter", JP, "analyst"),
                                ("jp.viewer", JP, "viewer"), ("us.placer", US, "analyst"),
                                ("us.receiver", US, "analyst"), ("rn.admin", "Royal Navy",
                                                                 "admin")):
            create_user(s, org, user, role)
            keys[user] = issue_key(s, org, user=user, role=role,
                                   scopes=("read", "admin") if role == "admin" else ("read",)
                                   ).secret
    with TestClient(create_app(db)) as client:
        yield client, keys


def call(client: TestClient, keys: dict[str, str], who: str, method: str, path: str,
         key: str | None = None, **kw: object) -> object:
    headers = {"Authorization": f"Bearer {keys[who]}"}
    if key:
        headers["Idempotency-Key"] = key
    return client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]


def test_parties_act_third_party_sees_nothing(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    r = call(client, keys, "jp.admin", "POST", "/api/logistics/agreements", "a1",
             json=AGREEMENT)
    assert r.status_code == 201  # type: ignore[attr-defined]
    r = call(client, keys, "us.placer", "POST", "/api/logistics/orders", "o1", json=ORDER)
    assert r.status_code == 201  # type: ignore[attr-defined]
    number = r.json()["number"]  # type: ignore[attr-defined]
    again = call(client, keys, "us.placer", "POST", "/api/logistics/orders", "o1", json=ORDER)
    assert again.json()["number"] == number and again.json()["replayed"]  # type: ignore[attr-defined]
    listed = call(client, keys, "us.placer", "GET", "/api/logistics/orders").json()  # type: ignore[attr-defined]
    assert len(listed["items"]) == 1  # the retry added nothing
    # a viewer may not accept (role), the placer's side may not accept (duty)
    assert call(client, keys, "jp.viewer", "POST", f"/api/logistics/orders/{number}/accept",
                "x1").status_code == 403  # type: ignore[attr-defined]
    r = call(client, keys, "us.placer", "POST", f"/api/logistics/orders/{number}/accept", "x2")
    assert r.status_code == 403 and r.json()["error"]["detail"]["parameter"] == "actor"  # type: ignore[attr-defined]
    assert call(client, keys, "jp.accepter", "POST", f"/api/logistics/orders/{number}/accept",
                "x3").status_code == 200  # type: ignore[attr-defined]
    # a write without an idempotency key is refused
    assert call(client, keys, "jp.accepter", "POST",
                f"/api/logistics/orders/{number}/deliver",
                json={"lines": {"1": "10"}}).status_code == 400  # type: ignore[attr-defined]
    r = call(client, keys, "jp.accepter", "POST", f"/api/logistics/orders/{number}/deliver",
             "d1", json={"lines": {"1": "0"}, "on": "2025-03-10"})
    assert r.status_code == 400 and r.json()["error"]["detail"]["parameter"] == \
        "lines[1].quantity"  # type: ignore[attr-defined]
    assert call(client, keys, "jp.accepter", "POST", f"/api/logistics/orders/{number}/deliver",
                "d2", json={"lines": {"1": "10"}, "on": "2025-03-10"}).status_code == 200  # type: ignore[attr-defined]
    assert call(client, keys, "us.receiver", "POST", f"/api/logistics/orders/{number}/receive",
                "r1", json={"delivery_id": "D1", "lines": {"1": "10"}, "on": "2025-03-10"}
                ).status_code == 200  # type: ignore[attr-defined]
    bal = call(client, keys, "jp.accepter", "GET", "/api/logistics/balance").json()  # type: ignore[attr-defined]
    assert [r["receivable_minor"] for r in bal["items"]] == [985_000]
    # the third organisation: nothing, by every path
    ceil = call(client, keys, "us.placer", "GET", "/api/logistics/ceilings?fiscal_year=2025"
                ).json()["items"]  # type: ignore[attr-defined]
    assert [(r["provider"], r["used_minor"], r["orders"]) for r in ceil] == [
        (JP, 985_000, 1), (US, 0, 0)]
    assert call(client, keys, "us.placer", "GET", "/api/logistics/ceilings?fiscal_year=1"
                ).status_code == 400  # type: ignore[attr-defined]
    for path in ("/api/logistics/agreements", "/api/logistics/orders",
                 "/api/logistics/balance", "/api/logistics/ageing",
                 "/api/logistics/ceilings", "/api/logistics/ceilings?agreement_id=acsa-jp-us"):
        assert call(client, keys, "rn.admin", "GET", path).json()["items"] == []  # type: ignore[attr-defined]
    for path in (f"/api/logistics/orders/{number}", f"/api/logistics/orders/{number}/form"):
        assert call(client, keys, "rn.admin", "GET", path).status_code == 404  # type: ignore[attr-defined]
    assert call(client, keys, "rn.admin", "POST", f"/api/logistics/orders/{number}/cancel",
                "c1").status_code == 404  # type: ignore[attr-defined]
    export = call(client, keys, "rn.admin", "GET", "/api/logistics/export?format=json")
    assert export.json() == []  # type: ignore[attr-defined]
    for partner in (US, JP):
        for fmt in ("json", "csv"):
            stmt = call(client, keys, "rn.admin", "GET", f"/api/logistics/statement?"
                        f"partner={partner}&fiscal_year=2025&format={fmt}")
            assert len(stmt.text.strip().splitlines()) <= 1  # type: ignore[attr-defined]
            assert JP not in stmt.text and "985" not in stmt.text  # type: ignore[attr-defined]
    for fmt in ("csv", "json"):
        export = call(client, keys, "rn.admin", "GET", f"/api/logistics/export?format={fmt}")
        assert "JMSDF" not in export.text and "US Navy" not in export.text  # type: ignore[attr-defined]
    form = call(client, keys, "us.placer", "GET", f"/api/logistics/orders/{number}/form")
    assert form.status_code == 200 and "signature" in form.text  # type: ignore[attr-defined]
    _ = RATES
