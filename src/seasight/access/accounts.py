"""Organisations, users, roles and passwords, kept in the store.

Organisations
    Every user, key and (later) data source belongs to one organisation. Names are 1-64
    characters of ``A-Z a-z 0-9 space . _ -``, unique, and do not start or end with a space.
    The installation's own organisation, :data:`LOCAL_ORG`, exists from the first use and
    cannot be disabled.
Users
    A username (1-64 characters of ``A-Z a-z 0-9 . _ @ -``, unique across the installation,
    since signing in gives only the username) in one organisation, with exactly one role of
    :data:`ROLES`. A user without a password can only act through API keys issued to it.
Roles
    ``viewer`` < ``analyst`` < ``admin``: each role includes everything the roles before it
    may do (admin ⊇ analyst ⊇ viewer). A :class:`~seasight.access.caller.Caller` carries the
    role *and every role it includes* (:func:`implied_roles`), so ``"analyst" in
    caller.roles`` is true for analysts and admins.
Passwords
    Hashed with scrypt (:func:`hashlib.scrypt`, a random 16-byte salt); the parameters are
    stored with the hash (``scrypt$n$r$p$salt$hash``, base64) so they can be raised later
    without invalidating old hashes. Hashes are compared in constant time, and signing in as an
    unknown user costs as much as a wrong password (no user enumeration by timing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import duckdb
import polars as pl

from seasight.access import audit
from seasight.access.caller import Caller
from seasight.model.schema import UTC_US
from seasight.store import Store

#: The installation's own organisation (present from the first use).
LOCAL_ORG: Final = "local"

#: The roles, lowest first: each includes the ones before it (admin ⊇ analyst ⊇ viewer).
ROLES: Final[tuple[str, ...]] = ("viewer", "analyst", "admin")

#: scrypt cost parameters for new hashes (N, r, p): about 16 MiB and 50 ms per hash.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_DKLEN: Final = 32
#: Passwords shorter than this are refused; longer than _MAX_PASSWORD too (a cheap DoS guard).
MIN_PASSWORD: Final = 8
_MAX_PASSWORD: Final = 1024

_ORG_RE: Final = re.compile(r"[A-Za-z0-9._-](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?")
_USER_RE: Final = re.compile(r"[A-Za-z0-9._@-]{1,64}")

ORGANISATIONS: Final[dict[str, pl.DataType]] = {
    "name": pl.String(),
    "description": pl.String(),
    "disabled": pl.Boolean(),
    "created_at": UTC_US,
}

USERS: Final[dict[str, pl.DataType]] = {
    "username": pl.String(),
    "organisation": pl.String(),
    "role": pl.String(),
    "password_hash": pl.String(),  # null: the user signs in with keys only
    "disabled": pl.Boolean(),
    "created_at": UTC_US,
    "updated_at": UTC_US,
}

#: Tables owned by this module: name -> (schema, key).
TABLES: Final[dict[str, tuple[dict[str, pl.DataType], tuple[str, ...]]]] = {
    "organisations": (ORGANISATIONS, ("name",)),
    "users": (USERS, ("username",)),
}

#: Columns of users shown to anyone (never the hash).
_USER_COLUMNS: Final = ("username", "organisation", "role", "disabled", "created_at",
                        "updated_at")


class AccessError(ValueError):
    """A request on accounts or keys that cannot be done (bad name, unknown role, ...)."""


class NotFoundError(AccessError):
    """The organisation, user or key named does not exist."""


class ConflictError(AccessError):
    """The name is taken."""


def ensure_tables(store: Store) -> None:
    """Create the tables of organisations and users (if missing) and the local organisation.

    On a read-only store only the schemas are registered.
    """
    for name, (schema, key) in TABLES.items():
        store.create_table(name, schema, key)
    if not store.read_only:
        store.con.execute(
            "INSERT INTO organisations VALUES (?, ?, false, ?) ON CONFLICT (name) DO NOTHING",
            [LOCAL_ORG, "This installation", datetime.now(UTC)])


def ready(store: Store) -> None:
    """Make sure the tables exist (once per store; cheap afterwards)."""
    if "organisations" not in store._extra:
        ensure_tables(store)


def _rows(store: Store, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of a query on access tables; none when the tables do not exist (read-only)."""
    ready(store)
    try:
        return store.con.execute(sql, params).fetchall()
    except duckdb.CatalogException:
        return []


def _frame(store: Store, sql: str, params: list[Any],
           schema: dict[str, pl.DataType]) -> pl.DataFrame:
    ready(store)
    try:
        return store.query(sql, params)
    except duckdb.CatalogException:
        return pl.DataFrame(schema=schema)


def _writable(store: Store) -> None:
    if store.read_only:
        raise AccessError("the database is open read-only")
    ensure_tables(store)


# --------------------------------------------------------------------------- roles


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`, else :class:`AccessError`."""
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def role_rank(role: str) -> int:
    """Position of ``role`` in :data:`ROLES` (viewer 0, analyst 1, admin 2)."""
    return ROLES.index(check_role(role))


def implied_roles(role: str) -> frozenset[str]:
    """``role`` and every role it includes: ``admin`` -> {admin, analyst, viewer}."""
    return frozenset(ROLES[: role_rank(role) + 1])


def lower_role(a: str, b: str) -> str:
    """The lower of two roles."""
    return a if role_rank(a) <= role_rank(b) else b


# --------------------------------------------------------------------------- organisations


def check_org_name(name: str) -> str:
    """``name`` if it is a valid organisation name, else :class:`AccessError`."""
    if not isinstance(name, str) or not _ORG_RE.fullmatch(name):
        raise AccessError(f"invalid organisation name {name!r}: 1-64 characters of letters, "
                          "digits, space, '.', '_' or '-', not starting or ending with a space")
    return name


def create_organisation(store: Store, name: str, *, description: str = "",
                        by: Caller | None = None) -> dict[str, Any]:
    """Add organisation ``name``; :class:`ConflictError` when it exists. Recorded in the
    audit log as done ``by`` (default: the local operator), like every change here."""
    check_org_name(name)
    if len(description) > 1000:
        raise AccessError("description: at most 1000 characters")
    _writable(store)
    if get_organisation(store, name) is not None:
        raise ConflictError(f"organisation {name!r} exists")
    now = datetime.now(UTC)
    with audit.change(store, by, "access org add", "access",
                      {"organisation": name, "description": description}):
        store.con.execute("INSERT INTO organisations VALUES (?, ?, false, ?)",
                          [name, description, now])
    return {"name": name, "description": description, "disabled": False, "created_at": now}


def get_organisation(store: Store, name: str) -> dict[str, Any] | None:
    """Organisation ``name`` as a dict, or None."""
    rows = _rows(store, "SELECT name, description, disabled, created_at FROM organisations "
                        "WHERE name = ?", [name])
    if not rows:
        return None
    return dict(zip(ORGANISATIONS, rows[0], strict=True))


def list_organisations(store: Store) -> pl.DataFrame:
    """Every organisation, by name, with its number of users."""
    return _frame(store,
                  """SELECT o.name, o.description, o.disabled, o.created_at,
                            (SELECT count(*) FROM users u WHERE u.organisation = o.name)
                            AS n_users
                     FROM organisations o ORDER BY o.name""", [],
                  {**ORGANISATIONS, "n_users": pl.Int64()})


def set_organisation_disabled(store: Store, name: str, disabled: bool = True, *,
                              by: Caller | None = None) -> dict[str, Any]:
    """Disable (or enable again) an organisation: its users and keys stop working at once."""
    _writable(store)
    if get_organisation(store, name) is None:
        raise NotFoundError(f"no organisation {name!r}")
    if name == LOCAL_ORG and disabled:
        raise AccessError(f"the installation's own organisation {LOCAL_ORG!r} cannot be "
                          "disabled")
    with audit.change(store, by, "access org disable" if disabled else "access org enable",
                      "access", {"organisation": name, "disabled": disabled}):
        store.con.execute("UPDATE organisations SET disabled = ? WHERE name = ?",
                          [disabled, name])
    org = get_organisation(store, name)
    assert org is not None
    return org


def _require_org(store: Store, name: str) -> dict[str, Any]:
    check_org_name(name)
    org = get_organisation(store, name)
    if org is None:
        raise NotFoundError(f"no organisation {name!r}")
    return org


# --------------------------------------------------------------------------- passwords


def check_password(password: str) -> str:
    """``password`` if long enough (and not absurdly long), else :class:`AccessError`."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= _MAX_PASSWORD:
        raise AccessError(f"a password must have {MIN_PASSWORD} to {_MAX_PASSWORD} characters")
    return password


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password`` with a fresh random salt."""
    check_password(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return "$".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)])


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time compare); False for any
    malformed stored value."""
    try:
        tag, n, r, p, salt, digest = stored.split("$")
        if tag != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        got = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r + 1024 * 1024, dklen=_DKLEN)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: Hash checked when the user does not exist, so that costs as much as a wrong password.
_DUMMY_HASH: Final = "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                               _b64(b"\0" * _SALT_BYTES), _b64(b"\0" * _DKLEN)])


# --------------------------------------------------------------------------- users


def check_username(username: str) -> str:
    """``username`` if valid, else :class:`AccessError`."""
    if not isinstance(username, str) or not _USER_RE.fullmatch(username):
        raise AccessError(f"invalid username {username!r}: 1-64 characters of letters, "
                          "digits, '.', '_', '@' or '-'")
    return username


def create_user(store: Store, org: str, username: str, role: str,
                password: str | None = None, *, by: Caller | None = None) -> dict[str, Any]:
    """Add user ``username`` to organisation ``org`` with ``role``.

    Without ``password`` the user cannot sign in and acts only through API keys. Returns the
    user (never the hash).
    """
    check_username(username)
    check_role(role)
    hashed = hash_password(password) if password is not None else None
    _writable(store)
    _require_org(store, org)
    if get_user(store, username) is not None:
        raise ConflictError(f"user {username!r} exists")
    now = datetime.now(UTC)
    with audit.change(store, by, "access user add", "access",
                      {"organisation": org, "username": username, "role": role,
                       "password": hashed is not None}):
        store.con.execute("INSERT INTO users VALUES (?, ?, ?, ?, false, ?, ?)",
                          [username, org, role, hashed, now, now])
    user = get_user(store, username)
    assert user is not None
    return user


def get_user(store: Store, username: str) -> dict[str, Any] | None:
    """User ``username`` (without the password hash, with ``has_password``), or None."""
    cols = ", ".join(f'"{c}"' for c in _USER_COLUMNS)
    rows = _rows(store, f"SELECT {cols}, password_hash IS NOT NULL FROM users "
                        "WHERE username = ?", [username])
    if not rows:
        return None
    return dict(zip([*_USER_COLUMNS, "has_password"], rows[0], strict=True))


def list_users(store: Store, org: str | None = None) -> pl.DataFrame:
    """Users (of ``org``, or all), by organisation and name; never the password hashes."""
    cols = ", ".join(f'"{c}"' for c in _USER_COLUMNS)
    where, params = ("WHERE organisation = ?", [org]) if org is not None else ("", [])
    schema = {c: USERS[c] for c in _USER_COLUMNS} | {"has_password": pl.Boolean()}
    return _frame(store, f"SELECT {cols}, password_hash IS NOT NULL AS has_password "
                         f"FROM users {where} ORDER BY organisation, username", params, schema)


def _update_user(store: Store, username: str, column: str, value: Any, by: Caller | None,
                 action: str, detail: dict[str, Any]) -> dict[str, Any]:
    _writable(store)
    before = get_user(store, username)
    if before is None:
        raise NotFoundError(f"no user {username!r}")
    with audit.change(store, by, action, "access",
                      {"username": username, "organisation": before["organisation"],
                       **detail}):
        store.con.execute(
            f'UPDATE users SET "{column}" = ?, updated_at = ? WHERE username = ?',
            [value, datetime.now(UTC), username])
    user = get_user(store, username)
    assert user is not None
    return user


def set_user_disabled(store: Store, username: str, disabled: bool = True, *,
                      by: Caller | None = None) -> dict[str, Any]:
    """Disable (or enable again) a user: sign-in and every key of the user stop at once."""
    return _update_user(store, username, "disabled", disabled, by,
                        "access user disable" if disabled else "access user enable",
                        {"disabled": disabled})


def disable_user(store: Store, username: str, *, by: Caller | None = None) -> dict[str, Any]:
    """Disable ``username`` (see :func:`set_user_disabled`)."""
    return set_user_disabled(store, username, True, by=by)


def set_role(store: Store, username: str, role: str, *,
             by: Caller | None = None) -> dict[str, Any]:
    """Change the role of ``username``; keys of the user never act above the user's role."""
    old = get_user(store, username)
    return _update_user(store, username, "role", check_role(role), by, "access user role",
                        {"role": {"from": old["role"] if old else None, "to": role}})


def set_password(store: Store, username: str, password: str | None, *,
                 by: Caller | None = None) -> dict[str, Any]:
    """Set (or, with None, remove) the password of ``username`` (the audit row says which,
    never the password)."""
    hashed = hash_password(password) if password is not None else None
    return _update_user(store, username, "password_hash", hashed, by, "access user password",
                        {"removed": password is None})


@dataclass(frozen=True)
class Account:
    """What authentication needs to know of a user."""

    username: str
    organisation: str
    role: str
    active: bool  # the user and its organisation are enabled


def account(store: Store, username: str) -> Account | None:
    """The user and whether it (and its organisation) may act, or None if unknown."""
    rows = _rows(store, """SELECT u.username, u.organisation, u.role,
                                  NOT u.disabled AND NOT coalesce(o.disabled, true)
                           FROM users u LEFT JOIN organisations o ON o.name = u.organisation
                           WHERE u.username = ?""", [username])
    if not rows:
        return None
    name, org, role, active = rows[0]
    return Account(name, org, role, bool(active))


def caller_for(username: str, organisation: str, role: str) -> Caller:
    """The :class:`Caller` of a user of ``role``: the roles it includes."""
    return Caller(username, organisation, implied_roles(role))


def verify_password(store: Store, username: str, password: str) -> Caller | None:
    """The user's :class:`Caller` if ``password`` is right and the user and its organisation
    are enabled; None otherwise (the same cost whether or not the user exists)."""
    if not isinstance(password, str) or len(password) > _MAX_PASSWORD:
        return None
    rows = _rows(store, "SELECT password_hash FROM users WHERE username = ?", [username])
    stored = rows[0][0] if rows and rows[0][0] else None
    ok = password_matches(password, stored or _DUMMY_HASH)
    if not ok or stored is None:
        return None
    acct = account(store, username)
    if acct is None or not acct.active:
        return None
    return caller_for(acct.username, acct.organisation, acct.role)


__all__ = [
    "LOCAL_ORG",
    "MIN_PASSWORD",
    "ORGANISATIONS",
    "ROLES",
    "TABLES",
    "USERS",
    "AccessError",
    "Account",
    "ConflictError",
    "NotFoundError",
    "account",
    "caller_for",
    "check_org_name",
    "check_password",
    "check_role",
    "check_username",
    "create_organisation",
    "create_user",
    "disable_user",
    "ensure_tables",
    "get_organisation",
    "get_user",
    "hash_password",
    "implied_roles",
    "list_organisations",
    "list_users",
    "lower_role",
    "password_matches",
    "ready",
    "role_rank",
    "set_organisation_disabled",
    "set_password",
    "set_role",
    "set_user_disabled",
    "verify_password",
]
