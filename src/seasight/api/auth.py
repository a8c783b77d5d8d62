"""Who is calling the service: API keys, web sessions, the caller's sharing policy, and the
audit log of every request.

Every route but ``GET /api/health`` and ``POST /api/login`` needs credentials, checked by
:meth:`Authenticator.caller`: ``Authorization: Bearer <key>``, ``X-API-Key: <key>``, or the
web map's session cookie (:data:`SESSION_COOKIE`, an API key issued by ``POST /api/login``
for :data:`SESSION_HOURS`, HttpOnly, SameSite=Strict). The key's scopes and role must allow
the route (:func:`seasight.access.authorize`). A caller of another organisation than ``local``
carries its :class:`~seasight.api.query.Policy` (compiled agreements and source owners), read
again whenever :func:`seasight.sharing.agreements_version` changes, so a revoked agreement
takes effect at the next request (and the next stream tick).

The audit log is written by one background thread from a queue (a request never waits for
it): who, what (method and path with its query), when, status and bytes answered.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from starlette.requests import HTTPConnection, Request

from seasight.access import (
    AuthError,
    ForbiddenError,
    KeyGrant,
    RateLimitedError,
    authorize,
    check_key,
    ensure_tables,
    issue_key,
    record,
    revoke_key,
    token_from_headers,
)
from seasight.access.audit import anchor_head
from seasight.access.caller import Caller, Policy
from seasight.api.query import QueryError
from seasight.sharing import agreements_version, load_grants, owners
from seasight.store import Store
from seasight.store.shared import SharedStore

logger = logging.getLogger(__name__)

#: The web map's session cookie.
SESSION_COOKIE: Final = "seasight_session"
#: How long a web session lasts.
SESSION_HOURS: Final = 12
#: Routes that need no credentials.
PUBLIC_PATHS: Final = frozenset({"/api/health", "/api/login"})


def auth_error(exc: AuthError) -> QueryError:
    """A 401 naming why the credentials were refused."""
    messages = {"missing": "credentials required: an API key (Authorization: Bearer, or "
                           "X-API-Key) or a session (POST /api/login)",
                "malformed": "the API key is malformed", "unknown": "unknown API key",
                "revoked": "the API key was revoked", "expired": "the API key has expired",
                "disabled": "the user or organisation of this key is disabled"}
    return QueryError(401, f"key_{exc.reason}", messages.get(exc.reason, str(exc)),
                      {"reason": exc.reason})


@dataclass
class _PolicyCache:
    version: int = -1
    policy: Policy | None = None


class Authenticator:
    """Authentication, policies and auditing for one service's store."""

    def __init__(self, shared: SharedStore) -> None:
        self.shared = shared
        self._policy = _PolicyCache()
        self._lock = threading.Lock()
        self._audit: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=100_000)
        self._writer: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create the access tables (unless read-only) and start the audit writer."""
        if not self.shared.read_only:
            self.shared.write(ensure_tables)
            self._writer = threading.Thread(target=self._write_audit, name="audit",
                                            daemon=True)
            self._writer.start()

    def stop(self) -> None:
        if self._writer is not None:
            self._audit.put(None)
            self._writer.join(10)

    # ------------------------------------------------------------------ callers

    def policy(self, store: Store) -> Policy:
        """The current policy (agreements and source owners), re-read when they changed."""
        version = agreements_version(store)
        with self._lock:
            if self._policy.policy is None or self._policy.version != version:
                self._policy = _PolicyCache(version, Policy(load_grants(store), owners(store)))
            assert self._policy.policy is not None
            return self._policy.policy

    def grant(self, token: str | None) -> KeyGrant:
        """The grant of ``token``; :class:`QueryError` 401 when refused."""
        try:
            return self.shared.read(lambda s: check_key(s, token))
        except AuthError as exc:
            raise auth_error(exc) from None

    def caller_for(self, grant: KeyGrant) -> Caller:
        """The grant's caller, with its policy when it is not the local organisation."""
        caller = replace(grant.caller, key_id=grant.key_id)
        if caller.sees_everything:
            return caller
        return replace(caller, policy=self.shared.read(self.policy))

    def caller(self, conn: HTTPConnection) -> Caller:
        """Authenticate and authorise a request (or WebSocket handshake)."""
        token = token_from_headers(conn.headers.get("authorization"),
                                   conn.headers.get("x-api-key")) or conn.cookies.get(
            SESSION_COOKIE)
        grant = self.grant(token)
        method = conn.scope.get("method", "GET")
        try:
            authorize(grant, method, conn.url.path)
        except ForbiddenError as exc:
            raise QueryError(403, "forbidden", str(exc),
                             {"scope": exc.scope, "role": exc.role}) from None
        caller = self.caller_for(grant)
        conn.state.caller = caller
        return caller

    def refresh(self, caller: Caller) -> Caller | None:
        """``caller`` with its current policy, or None when its key no longer works (revoked,
        expired, disabled): the stream re-checks every client this way each tick."""
        if caller.key_id is None:
            return caller
        try:
            key = self.shared.read(lambda s: _key_state(s, caller.key_id or ""))
        except AuthError:
            return None
        if key is not None:
            return None
        if caller.sees_everything:
            return caller
        return replace(caller, policy=self.shared.read(self.policy))

    # ------------------------------------------------------------------ sessions

    def start_session(self, caller: Caller, role: str, scopes: tuple[str, ...]
                      ) -> tuple[str, datetime]:
        """A session key for ``caller`` (returned once) and its expiry."""
        expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
        # A key of no user (its caller is named "key:<id>"; user names have no colon) signs
        # in as its organisation: the session key has no user either.
        user = None if caller.name == caller.organisation or ":" in caller.name else caller.name
        issued = self.shared.write(lambda s: issue_key(
            s, caller.organisation, user=user, role=role, scopes=scopes, expires=expires,
            label="web session", by=caller))
        return issued.secret, expires

    def end_session(self, key_id: str, by: Caller | None = None) -> None:
        """Revoke the session key ``key_id`` (signed out ``by``)."""
        self.shared.write(lambda s: revoke_key(s, key_id, by=by))

    # ------------------------------------------------------------------ audit

    def audit(self, caller: Caller | None, action: str, kind: str, status: int,
              detail: dict[str, Any], client: str | None) -> None:
        """Queue one audit row (dropped, with a warning, if the writer is far behind)."""
        if self._writer is None:
            return
        try:
            self._audit.put_nowait({"caller": caller, "action": action, "kind": kind,
                                    "status": status, "detail": detail, "client": client})
        except queue.Full:
            logger.warning("audit queue full: an audit row was dropped")

    def _write_audit(self) -> None:
        while True:
            item = self._audit.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 500:
                try:
                    nxt = self._audit.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._audit.put(None)
                    break
                batch.append(nxt)
            try:
                with self.shared.writing() as store:
                    for row in batch:
                        caller = row["caller"]
                        record(store, caller, row["action"], row["kind"],
                               int(row["detail"].get("rows", 0)), row["status"],
                               row["detail"], key_id=caller.key_id if caller else None,
                               client=row["client"], anchor=False)
                    anchor_head(store)  # once per batch, not per row
            except Exception:
                logger.exception("writing the audit log failed")


def current_caller(request: Request) -> Caller:
    """The request's caller (a FastAPI dependency): authenticated and authorised for the
    route by the app's :class:`Authenticator`; 401/403 otherwise."""
    known = getattr(request.state, "caller", None)
    if isinstance(known, Caller):
        return known
    auth: Authenticator = request.app.state.auth
    return auth.caller(request)


def _key_state(store: Store, key_id: str) -> str | None:
    """None when the key still works, else why not."""
    got = store.query("SELECT revoked_at, expires_at FROM api_keys WHERE key_id = ?", [key_id])
    if got.height == 0:
        return "unknown"
    now = datetime.now(UTC)
    revoked, expires = got.row(0)
    if revoked is not None and revoked <= now:
        return "revoked"
    if expires is not None and expires <= now:
        return "expired"
    return None


__all__ = [
    "PUBLIC_PATHS",
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "Authenticator",
    "RateLimitedError",
    "auth_error",
    "current_caller",
]
