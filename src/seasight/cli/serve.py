"""``seasight serve``: the HTTP service (REST, live stream, web map) on one database."""

from __future__ import annotations

from pathlib import Path

import duckdb
import typer

from seasight.cli.options import DB, fail

SERVE_EPILOG = """Examples:

  seasight serve --db sea.duckdb

  seasight serve --db sea.duckdb --host 0.0.0.0 --port 8080 --read-only

Open http://HOST:PORT/ for the map, http://HOST:PORT/docs for the API (OpenAPI).
"""


def serve(
    db: Path = DB,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    read_only: bool = typer.Option(False, "--read-only",
                                   help="Open the database read-only (no writes via the API)."),
) -> None:
    """Serve the API and the web map over HTTP."""
    import uvicorn

    from seasight.api import create_app

    if read_only and not db.exists():
        raise fail(f"no such database: {db}")
    try:
        app = create_app(db, read_only=read_only)
    except duckdb.IOException as exc:
        raise fail(f"cannot open {db}: {exc}") from exc
    typer.secho(f"SeaSight serving {db} at http://{host}:{port}/ (API docs: /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


__all__ = ["SERVE_EPILOG", "serve"]
