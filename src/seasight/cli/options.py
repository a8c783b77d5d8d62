"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import duckdb
import typer

from seasight.store import DEFAULT_DB, Store

DB = typer.Option(
    DEFAULT_DB, "--db", envvar="SEASIGHT_DB", help="Database file (created if missing).",
    dir_okay=False,
)
#: ``--db`` of a command that only reads: a missing file is an error, not a new database.
DB_EXISTING = typer.Option(
    DEFAULT_DB, "--db", envvar="SEASIGHT_DB", help="Database file (must exist).",
    dir_okay=False,
)
JSON = typer.Option(False, "--json", help="Machine-readable JSON on standard output.")


def open_store(db: Path, read_only: bool = False) -> Store:
    """Open ``db``; a missing file (when reading) or a locked one is a clear exit 1."""
    if read_only and not db.exists():
        raise fail(f"no such database: {db}")
    try:
        return Store(db, read_only=read_only)
    except duckdb.IOException as exc:
        raise fail(f"cannot open {db}: {exc}") from exc


def fail(message: str) -> typer.Exit:
    """Print ``message`` to stderr and return the exit for 'could not run' (status 1)."""
    typer.secho(f"seasight: {message}", err=True, fg="red")
    return typer.Exit(1)


__all__ = ["DB", "DB_EXISTING", "JSON", "Path", "fail", "open_store"]
