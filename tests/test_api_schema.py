"""Property test of the HTTP API against its own OpenAPI schema (schemathesis): whatever the
parameters and bodies, the service never answers 500, and every error has the stable JSON
shape. Few examples per operation, so the whole run stays well under a minute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from conftest import issue_admin_key
from seasight.api import create_app
from test_api import build_store


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    folder = tmp_path_factory.mktemp("api_schema")
    db = build_store(folder, vessels=40, hours=12, seed=3)
    HEADERS["Authorization"] = f"Bearer {issue_admin_key(db)}"
    application = create_app(db)
    with TestClient(application):  # runs the lifespan (closes the store at the end)
        yield application


HEADERS: dict[str, str] = {}


def _check(case: Any) -> None:
    response = case.call(headers=HEADERS)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400 and response.status_code != 405:
        err = response.json()["error"]
        assert set(err) == {"status", "code", "message", "detail"}
        assert err["status"] == response.status_code and err["message"]


def test_no_server_errors(app: FastAPI) -> None:
    """Every operation of the schema, a few generated cases each (the WebSocket stream is not
    in the OpenAPI schema; tests/test_api.py covers it)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:
        run = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                       suppress_health_check=list(HealthCheck))(
            given(case=operation.as_strategy())(_check))
        run()


def test_openapi_documents_every_endpoint(app: FastAPI) -> None:
    paths = set(app.openapi()["paths"])
    assert {"/api/health", "/api/vessels", "/api/vessels/{mmsi}", "/api/vessels/{mmsi}/track",
            "/api/events", "/api/events.geojson", "/api/alerts", "/api/alerts/{alert_id}/ack",
            "/api/alerts/{alert_id}/close", "/api/zones", "/api/zones/{name}",
            "/api/watchlists", "/api/ingest", "/api/layers/{name}"} <= paths
