"""Reaching a running ``seasight serve`` from the command line.

While ``serve`` runs it holds DuckDB's lock on the database file, so another process cannot
open it (not even read-only). Urgent changes (revoking an agreement or a key) then go through
the service's API: ``serve`` writes where it listens to ``<database>.service.json`` (removed
when it stops), and a command that finds the database locked sends the request there with an
admin key (``--api-key`` or ``$SEASIGHT_API_KEY``), or prints the exact call to make.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

import duckdb
import typer

#: Environment variable holding the admin key used to reach a running service.
API_KEY_ENV: Final = "SEASIGHT_API_KEY"
#: Environment variable holding the service's base URL.
URL_ENV: Final = "SEASIGHT_URL"
#: Seconds to wait for the service.
TIMEOUT_S: Final = 15.0

URL = typer.Option(None, "--url", envvar=URL_ENV,
                   help="Base URL of the running service (default: the one 'serve' noted "
                   "beside the database), used when the database is locked by it.")
API_KEY = typer.Option(None, "--api-key", envvar=API_KEY_ENV,
                       help="Admin API key for the running service (prefer the environment "
                       f"variable {API_KEY_ENV}: a command line is visible to other users).")


class ServiceError(RuntimeError):
    """The service refused the request or could not be reached."""


def service_file(db: Path) -> Path:
    """Where ``serve`` notes the URL it serves ``db`` at."""
    return Path(f"{db}.service.json")


def is_locked(exc: BaseException) -> bool:
    """True when opening the database failed because another process holds its lock."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def note_service(db: Path, host: str, port: int) -> Path:
    """Write ``db``'s service file (the URL a local client reaches ``serve`` at)."""
    reach = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in reach and not reach.startswith("["):
        reach = f"[{reach}]"
    path = service_file(db)
    path.write_text(json.dumps({"url": f"http://{reach}:{port}", "pid": os.getpid(),
                                "db": str(Path(db).resolve())}) + "\n")
    return path


def forget_service(db: Path) -> None:
    """Remove ``db``'s service file (``serve`` stopped)."""
    with contextlib.suppress(OSError):
        service_file(db).unlink()


def service_url(db: Path, given: str | None) -> str | None:
    """``given``, else the URL in ``db``'s service file, else None."""
    if given:
        return given.rstrip("/")
    try:
        doc = json.loads(service_file(db).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    url = doc.get("url") if isinstance(doc, dict) else None
    return url.rstrip("/") if isinstance(url, str) and url.startswith("http") else None


def api_call(method: str, url: str, path: str) -> str:
    """The ``curl`` command that makes the request (the key from ``$SEASIGHT_API_KEY``)."""
    return (f'curl -X {method} -H "Authorization: Bearer ${API_KEY_ENV}" '
            f"{shlex.quote(url + path)}")


def call(method: str, url: str, path: str, key: str) -> dict[str, Any]:
    """Send ``method path`` to the service with ``key``; its JSON answer, or
    :class:`ServiceError` naming the status and the service's message."""
    request = urllib.request.Request(url + path, method=method, headers={
        "Authorization": f"Bearer {key}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            body = answer.read()
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise ServiceError(f"the service answered {exc.code}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"cannot reach the service at {url}: {exc}") from None
    try:
        doc = json.loads(body)
    except ValueError:
        raise ServiceError("the service's answer is not JSON") from None
    return doc if isinstance(doc, dict) else {"answer": doc}


def through_service(db: Path, method: str, path: str, url: str | None,
                    key: str | None) -> dict[str, Any]:
    """Make a change through the service that holds ``db``'s lock: its JSON answer; or a
    clear failure (exit 1) that prints the exact API call when no URL or key is known."""
    from seasight.cli.options import fail

    base = service_url(db, url)
    if base is None:
        raise fail(f"{db} is locked by another process (seasight serve?) and no service URL "
                   f"is known: give --url (or ${URL_ENV}) and an admin key, or call the API:"
                   f"\n  {api_call(method, 'http://HOST:PORT', path)}")
    if not key:
        raise fail(f"{db} is locked by the running service at {base}: give an admin key "
                   f"(${API_KEY_ENV} or --api-key) to make the change through it, or call "
                   f"the API:\n  {api_call(method, base, path)}")
    try:
        return call(method, base, path, key)
    except ServiceError as exc:
        raise fail(f"{db} is locked by the running service; through its API: {exc}") from None


__all__ = [
    "API_KEY",
    "API_KEY_ENV",
    "URL",
    "URL_ENV",
    "ServiceError",
    "api_call",
    "call",
    "forget_service",
    "is_locked",
    "note_service",
    "service_file",
    "service_url",
    "through_service",
]
