"""API keys: issued to an organisation (optionally on behalf of one of its users), scoped,
revocable, with an optional expiry. Only the SHA-256 of a key is stored.

A key looks like ``ss_<key_id>_<secret>``: ``key_id`` is 12 hex digits (public: it names the
key in lists, the audit log and ``revoke``), ``secret`` 43 URL-safe characters (32 random
bytes). :func:`issue_key` returns the whole key once; the store keeps its SHA-256 only, so a lost
key cannot be recovered, only revoked and replaced.

Scopes and the routes that need them (the service enforces them with :func:`authorize`):

``read``
    Every ``GET`` route and the live stream (``/api/stream``), plus the analyst's actions in
    the web map (acknowledging and closing alerts, editing zones) when the role allows.
``ingest``
    Feeding data: ``POST /api/ingest`` and ``POST /api/watchlists``. Needs role analyst or
    admin.
``admin``
    Managing the installation: organisations, users, keys, agreements, who owns which data
    source and the audit log (``/api/access/...``, ``/api/agreements...``,
    ``/api/sources...``, ``/api/audit...``), reading them as well as changing them; the one
    exception is ``GET /api/agreements``, where a key below admin reads the agreements
    granting to its own organisation only (the terms it receives). Needs role admin.

The minimum *role* of each route is given by :func:`required` too: viewer for reading,
analyst for any change, admin for administration (every route that reads or changes
ownership, agreements or access). A key acts with its own role, capped by the
current role of its user (a demoted user's keys are demoted with it).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import duckdb
import polars as pl

from seasight.access import audit
from seasight.access.accounts import (
    AccessError,
    NotFoundError,
    _require_org,
    _rows,
    _writable,
    account,
    caller_for,
    check_role,
    lower_role,
    role_rank,
)
from seasight.access.accounts import (
    ensure_tables as _ensure_account_tables,
)
from seasight.access.caller import Caller
from seasight.model.schema import UTC_US
from seasight.store import Store

#: Scopes a key may carry.
SCOPES: Final[tuple[str, ...]] = ("read", "ingest", "admin")
#: Lowest role that may hold each scope.
SCOPE_MIN_ROLE: Final[dict[str, str]] = {"read": "viewer", "ingest": "analyst",
                                         "admin": "admin"}
#: Prefix of every key.
KEY_PREFIX: Final = "ss_"
#: ``last_used_at`` is written at most this often per key.
LAST_USED_EVERY: Final = timedelta(minutes=1)
#: Longest token looked at (anything longer is malformed without further work).
_MAX_TOKEN: Final = 200

_TOKEN_RE: Final = re.compile(r"ss_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{12}")

API_KEYS: Final[dict[str, pl.DataType]] = {
    "key_id": pl.String(),
    "organisation": pl.String(),
    "username": pl.String(),  # null: a key of the organisation, not of a user
    "role": pl.String(),
    "scopes": pl.String(),  # comma-separated, in SCOPES order
    "label": pl.String(),
    "secret_sha256": pl.String(),  # hex SHA-256 of the whole key
    "created_at": UTC_US,
    "expires_at": UTC_US,
    "revoked_at": UTC_US,
    "last_used_at": UTC_US,
}

#: Tables owned by this module: name -> (schema, key).
TABLES: Final[dict[str, tuple[dict[str, pl.DataType], tuple[str, ...]]]] = {
    "api_keys": (API_KEYS, ("key_id",)),
}

#: Columns :func:`list_keys` returns (never the hash).
_PUBLIC_COLUMNS: Final = tuple(c for c in API_KEYS if c != "secret_sha256")

Reason = Literal["missing", "malformed", "unknown", "revoked", "expired", "disabled"]
#: Why a key was refused, in the order they are checked.
REASONS: Final[tuple[Reason, ...]] = ("missing", "malformed", "unknown", "revoked", "expired",
                                      "disabled")


class AuthError(Exception):
    """A key was refused: ``reason`` is one of :data:`REASONS` (answer 401)."""

    def __init__(self, reason: Reason, message: str = "") -> None:
        super().__init__(message or f"API key {reason}")
        self.reason: Reason = reason


class ForbiddenError(Exception):
    """An authenticated key may not use this route (answer 403): it lacks ``scope`` or its
    role is below ``role``."""

    def __init__(self, scope: str, role: str, message: str) -> None:
        super().__init__(message)
        self.scope = scope
        self.role = role


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` is the whole key, shown once and stored nowhere."""

    key_id: str
    secret: str

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"IssuedKey(key_id={self.key_id!r}, secret='***')"


@dataclass(frozen=True)
class KeyGrant:
    """An authenticated key: who acts (``caller``), with which key and scopes."""

    caller: Caller
    key_id: str
    scopes: frozenset[str]
    role: str


def ensure_tables(store: Store) -> None:
    """Create the table of keys (and of organisations and users) if missing."""
    _ensure_account_tables(store)
    for name, (schema, key) in TABLES.items():
        store.create_table(name, schema, key)


def _ready(store: Store) -> None:
    if "api_keys" not in store._extra:
        ensure_tables(store)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """``scopes`` deduplicated in :data:`SCOPES` order; :class:`AccessError` if empty or
    unknown."""
    given = set(scopes) if not isinstance(scopes, str) else {scopes}
    unknown = given - set(SCOPES)
    if unknown:
        raise AccessError(f"unknown scope(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(SCOPES)}")
    if not given:
        raise AccessError("a key needs at least one scope")
    return tuple(s for s in SCOPES if s in given)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_key(store: Store, org: str, *, user: str | None = None, role: str,
              scopes: Iterable[str] = ("read",), expires: datetime | None = None,
              label: str = "", now: datetime | None = None,
              by: Caller | None = None) -> IssuedKey:
    """Issue a key of organisation ``org`` (on behalf of ``user``, one of its users, if given)
    acting with ``role`` and ``scopes`` until ``expires`` (naive means UTC; None: no expiry).

    The role may not exceed the user's; each scope needs a minimum role
    (:data:`SCOPE_MIN_ROLE`). Returns the key once: only its SHA-256 is stored. Recorded
    in the audit log as done ``by`` (default: the local operator), never with the secret.
    """
    check_role(role)
    scope_list = check_scopes(scopes)
    for scope in scope_list:
        if role_rank(role) < role_rank(SCOPE_MIN_ROLE[scope]):
            raise AccessError(f"scope {scope!r} needs role {SCOPE_MIN_ROLE[scope]} or above, "
                              f"not {role}")
    if not isinstance(label, str) or len(label) > 200:
        raise AccessError("label: at most 200 characters")
    now = _utc(now) if now is not None else datetime.now(UTC)
    expires_at = _utc(expires) if expires is not None else None
    if expires_at is not None and expires_at <= now:
        raise AccessError(f"expiry {expires_at.isoformat()} is not in the future")
    _writable(store)
    _ready(store)
    _require_org(store, org)
    if user is not None:
        acct = account(store, user)
        if acct is None:
            raise NotFoundError(f"no user {user!r}")
        if acct.organisation != org:
            raise AccessError(f"user {user!r} belongs to {acct.organisation!r}, not {org!r}")
        if role_rank(role) > role_rank(acct.role):
            raise AccessError(f"a key of {user!r} cannot have role {role}: the user is "
                              f"{acct.role}")
    while True:
        key_id = secrets.token_hex(6)
        if not _rows(store, "SELECT 1 FROM api_keys WHERE key_id = ?", [key_id]):
            break
    token = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with audit.change(store, by, "access key issue", "access",
                      {"organisation": org, "username": user, "role": role,
                       "scopes": list(scope_list), "label": label, "issued_key": key_id,
                       "expires": expires_at.isoformat() if expires_at else None}):
        store.con.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            [key_id, org, user, role, ",".join(scope_list), label, _digest(token), now,
             expires_at])
    return IssuedKey(key_id, token)


def revoke_key(store: Store, key_id: str, *, now: datetime | None = None,
               by: Caller | None = None) -> dict[str, Any]:
    """Revoke key ``key_id`` at once (revoking twice keeps the first time). Returns the key."""
    _writable(store)
    _ready(store)
    old = get_key(store, key_id)
    if old is None:
        raise NotFoundError(f"no key {key_id!r}")
    when = _utc(now) if now is not None else datetime.now(UTC)
    with audit.change(store, by, "access key revoke", "access",
                      {"revoked_key": key_id, "organisation": old["organisation"],
                       "username": old["username"], "label": old["label"],
                       "already_revoked": old["revoked_at"] is not None}):
        store.con.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) "
                          "WHERE key_id = ?", [when, key_id])
    key = get_key(store, key_id)
    assert key is not None
    return key


def get_key(store: Store, key_id: str) -> dict[str, Any] | None:
    """Key ``key_id`` (without any secret or hash), or None."""
    _ready(store)
    cols = ", ".join(f'"{c}"' for c in _PUBLIC_COLUMNS)
    rows = _rows(store, f"SELECT {cols} FROM api_keys WHERE key_id = ?", [key_id])
    return dict(zip(_PUBLIC_COLUMNS, rows[0], strict=True)) if rows else None


def list_keys(store: Store, org: str | None = None, *, include_revoked: bool = True
              ) -> pl.DataFrame:
    """Keys (of ``org``, or all) by organisation and creation time: never a secret or hash."""
    _ready(store)
    cols = ", ".join(f'"{c}"' for c in _PUBLIC_COLUMNS)
    where, params = ["TRUE"], []
    if org is not None:
        where.append("organisation = ?")
        params.append(org)
    if not include_revoked:
        where.append("revoked_at IS NULL")
    try:
        return store.query(f"SELECT {cols} FROM api_keys WHERE {' AND '.join(where)} "
                           "ORDER BY organisation, created_at, key_id", params)
    except duckdb.CatalogException:
        return pl.DataFrame(schema={c: API_KEYS[c] for c in _PUBLIC_COLUMNS})


def token_from_headers(authorization: str | None = None,
                       x_api_key: str | None = None) -> str | None:
    """The key a request presents: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``
    (scheme case-insensitive); None when neither is given. Any other ``Authorization`` value
    is returned as is, so :func:`authenticate` calls it malformed."""
    if x_api_key is not None and x_api_key.strip():
        return x_api_key.strip()
    if authorization is None or not authorization.strip():
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return authorization.strip()


_DUMMY_DIGEST: Final = "0" * 64


def check_key(store: Store, token: str | None, now: datetime | None = None) -> KeyGrant:
    """Authenticate ``token``: the :class:`KeyGrant` (caller, key id, scopes), or
    :class:`AuthError` with the reason (:data:`REASONS`). Notes the key's last use (at most
    once per :data:`LAST_USED_EVERY`)."""
    if token is None or not isinstance(token, str) or not token.strip():
        raise AuthError("missing", "no API key given")
    if len(token) > _MAX_TOKEN:
        raise AuthError("malformed", "API key malformed")
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        raise AuthError("malformed", "API key malformed: expected ss_<key id>_<secret>")
    key_id = match.group(1)
    now = _utc(now) if now is not None else datetime.now(UTC)
    _ready(store)
    rows = _rows(store, """SELECT k.secret_sha256, k.organisation, k.username, k.role,
                                  k.scopes, k.revoked_at, k.expires_at, k.last_used_at,
                                  coalesce(o.disabled, true)
                           FROM api_keys k LEFT JOIN organisations o ON o.name = k.organisation
                           WHERE k.key_id = ?""", [key_id])
    stored = rows[0][0] if rows else _DUMMY_DIGEST
    if not hmac.compare_digest(_digest(token), stored) or not rows:
        raise AuthError("unknown", "API key unknown")
    _, org, username, role, scopes, revoked_at, expires_at, last_used, org_disabled = rows[0]
    if revoked_at is not None:  # revocation takes effect at once, whatever ``now``
        raise AuthError("revoked", f"API key {key_id} revoked")
    if expires_at is not None and expires_at <= now:
        raise AuthError("expired", f"API key {key_id} expired")
    if org_disabled:
        raise AuthError("disabled", f"organisation {org!r} is disabled")
    name = f"key:{key_id}"
    if username is not None:
        acct = account(store, username)
        if acct is None or not acct.active or acct.organisation != org:
            raise AuthError("disabled", f"user {username!r} is disabled")
        role = lower_role(role, acct.role)
        name = username
    if last_used is None or now - last_used >= LAST_USED_EVERY:
        _touch(store, key_id, now)
    granted = frozenset(s for s in scopes.split(",")
                        if s and role_rank(role) >= role_rank(SCOPE_MIN_ROLE[s]))
    return KeyGrant(caller_for(name, org, role), key_id, granted, role)


def _touch(store: Store, key_id: str, now: datetime) -> None:
    """Note the key's use; best effort (a read-only store or a concurrent writer skips it)."""
    if store.read_only:
        return
    with contextlib.suppress(duckdb.Error):
        store.con.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?",
                          [now, key_id])


def authenticate(store: Store, token: str | None, now: datetime | None = None) -> Caller:
    """The :class:`Caller` a key acts as, or :class:`AuthError` (see :func:`check_key`)."""
    return check_key(store, token, now).caller


# --------------------------------------------------------------------------- route policy

#: Routes of administration: every method of them needs ``admin``/admin.
ADMIN_PREFIXES: Final = ("/api/access", "/api/agreements", "/api/audit", "/api/sources")
_INGEST_ROUTES: Final = ("/api/ingest", "/api/watchlists")


def required(method: str, path: str) -> tuple[str, str]:
    """(scope, minimum role) a request needs; see the module documentation.

    The administration routes (:data:`ADMIN_PREFIXES`: access, agreements, source owners,
    audit) need ``admin``/admin whatever the method, except ``GET /api/agreements``
    (``read``/viewer: below admin it lists the agreements granting to the caller's own
    organisation only); other ``GET``/``HEAD``/``OPTIONS`` and the live stream need
    ``read``/viewer; ``POST /api/ingest`` and ``/api/watchlists`` need
    ``ingest``/analyst; any other change needs ``read``/analyst.
    """
    method = method.upper()
    path = "/" + path.strip("/")
    reading = method in ("GET", "HEAD", "OPTIONS") or path == "/api/stream"
    if reading and path == "/api/agreements":
        return "read", "viewer"
    if any(path == p or path.startswith(p + "/") for p in ADMIN_PREFIXES):
        return "admin", "admin"
    if reading:
        return "read", "viewer"
    if any(path == p or path.startswith(p + "/") for p in _INGEST_ROUTES):
        return "ingest", "analyst"
    return "read", "analyst"


def authorize(grant: KeyGrant, method: str, path: str) -> None:
    """Nothing if ``grant`` may make this request, else :class:`ForbiddenError`."""
    scope, role = required(method, path)
    if scope not in grant.scopes:
        raise ForbiddenError(scope, role, f"key {grant.key_id} lacks scope {scope!r} for "
                                     f"{method.upper()} {path}")
    if role_rank(grant.role) < role_rank(role):
        raise ForbiddenError(scope, role, f"{method.upper()} {path} needs role {role}; the key "
                                     f"acts as {grant.role}")


def check_key_id(key_id: str) -> str:
    """``key_id`` if it has the form of one (12 hex digits), else :class:`AccessError`."""
    if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
        raise AccessError(f"invalid key id {key_id!r}: expected 12 hex digits")
    return key_id


__all__ = [
    "ADMIN_PREFIXES",
    "API_KEYS",
    "KEY_PREFIX",
    "LAST_USED_EVERY",
    "REASONS",
    "SCOPES",
    "SCOPE_MIN_ROLE",
    "TABLES",
    "AuthError",
    "ForbiddenError",
    "IssuedKey",
    "KeyGrant",
    "Reason",
    "authenticate",
    "authorize",
    "check_key",
    "check_key_id",
    "check_scopes",
    "ensure_tables",
    "get_key",
    "issue_key",
    "list_keys",
    "required",
    "revoke_key",
    "token_from_headers",
]
