"""The interactive API page (``/docs``) and the OpenAPI document's security schemes.

FastAPI's own page loads Swagger UI from a CDN, so it is blank on a machine without internet,
and a schema without security schemes gives it no way to enter a key. SeaSight serves Swagger
UI from the copy ``web/build.sh`` vendors from npm (``swagger-ui-dist``) into the static
folder, and declares the two ways to present an API key (``Authorization: Bearer <key>`` and
``X-API-Key: <key>``) plus the session cookie, required by every route except the public ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from seasight.api.auth import PUBLIC_PATHS, SESSION_COOKIE

#: Where the page finds the vendored Swagger UI, relative to the static folder served at ``/``.
SWAGGER_JS = "vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "vendor/swagger-ui/swagger-ui.css"

#: The OpenAPI security schemes: name -> scheme object.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerKey": {"type": "http", "scheme": "bearer",
                  "description": "API key as `Authorization: Bearer <key>`"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                  "description": "API key as `X-API-Key: <key>`"},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "session cookie set by POST /api/login"},
}

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def secured_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with :data:`SECURITY_SCHEMES`, any of which each route
    needs, except the public paths (``/api/health``, ``/api/login``)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes,
                             openapi_version=app.openapi_version, tags=app.openapi_tags)
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
        for path, operations in schema.get("paths", {}).items():
            if path in PUBLIC_PATHS:
                for method, operation in operations.items():
                    if method in _HTTP_METHODS:
                        operation["security"] = []
        app.openapi_schema = schema
    return app.openapi_schema


def install_api_docs(app: FastAPI, static_dir: Path) -> None:
    """Serve ``/docs`` from the vendored Swagger UI and declare the security schemes.

    ``app`` must be made with ``docs_url=None`` and ``redoc_url=None`` (ReDoc is not vendored).
    When the static folder lacks Swagger UI (``web/build.sh`` has not run), ``/docs`` answers
    503 with the command that builds it instead of a blank page.
    """
    app.openapi = lambda: secured_openapi(app)  # type: ignore[method-assign]
    built = (static_dir / SWAGGER_JS).is_file() and (static_dir / SWAGGER_CSS).is_file()

    async def api_docs(request: Request) -> Response:
        if not built:
            return JSONResponse(
                {"error": {"status": 503, "code": "docs_not_built",
                           "message": "the API page's assets are missing: run web/build.sh",
                           "detail": None}}, status_code=503)
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/" + SWAGGER_JS,
            swagger_css_url="/" + SWAGGER_CSS,
            swagger_favicon_url="/favicon.svg",
            swagger_ui_parameters={"persistAuthorization": True, "tryItOutEnabled": True,
                                   "displayRequestDuration": True},
        )

    # a plain route, like FastAPI's own page: public, outside the app's key dependency
    app.add_route("/docs", api_docs, include_in_schema=False)

__all__ = ["SECURITY_SCHEMES", "install_api_docs", "secured_openapi"]
