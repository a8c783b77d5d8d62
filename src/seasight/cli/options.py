"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer

from seasight.store import DEFAULT_DB

DB = typer.Option(
    DEFAULT_DB, "--db", envvar="SEASIGHT_DB", help="Database file (created if missing).",
    dir_okay=False,
)
JSON = typer.Option(False, "--json", help="Machine-readable JSON on standard output.")


def fail(message: str) -> typer.Exit:
    """Print ``message`` to stderr and return the exit for 'could not run' (status 1)."""
    typer.secho(f"seasight: {message}", err=True, fg="red")
    return typer.Exit(1)


__all__ = ["DB", "JSON", "Path", "fail"]
