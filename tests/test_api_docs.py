"""The interactive API page is served from vendored assets and the schema declares its keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seasight.api.app import create_app
from seasight.api.docs import SECURITY_SCHEMES, SWAGGER_CSS, SWAGGER_JS
from seasight.store import Store


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "docs.duckdb"
    Store(path).close()
    return path


def _static(tmp_path: Path, with_swagger: bool) -> Path:
    static = tmp_path / "static"
    (static / "vendor" / "swagger-ui").mkdir(parents=True)
    (static / "index.html").write_text("<html></html>")
    if with_swagger:
        (static / SWAGGER_JS).write_text("window.SwaggerUIBundle = function () {};")
        (static / SWAGGER_CSS).write_text("")
    return static


def test_schema_declares_the_key_schemes(db: Path, tmp_path: Path) -> None:
    with TestClient(create_app(db, static_dir=_static(tmp_path, True))) as client:
        schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == SECURITY_SCHEMES
    assert {"bearerKey": []} in schema["security"] and {"headerKey": []} in schema["security"]
    # the public routes need nothing; the others inherit the global requirement
    assert schema["paths"]["/api/health"]["get"]["security"] == []
    assert schema["paths"]["/api/login"]["post"]["security"] == []
    assert "security" not in schema["paths"]["/api/vessels"]["get"]


def test_docs_page_loads_only_local_assets(db: Path, tmp_path: Path) -> None:
    with TestClient(create_app(db, static_dir=_static(tmp_path, True))) as client:
        page = client.get("/docs")  # public, like the map page: no key needed to read it
        assert page.status_code == 200
        html = page.text
        assert f'src="/{SWAGGER_JS}"' in html and f'href="/{SWAGGER_CSS}"' in html
        assert "cdn." not in html and "https://" not in html
        assert client.get("/" + SWAGGER_JS).status_code == 200
        assert client.get("/redoc").status_code in (401, 404)  # ReDoc would need a CDN


def test_docs_page_says_how_to_build_its_assets(db: Path, tmp_path: Path) -> None:
    with TestClient(create_app(db, static_dir=_static(tmp_path, False))) as client:
        page = client.get("/docs")
    assert page.status_code == 503
    assert "web/build.sh" in page.json()["error"]["message"]
