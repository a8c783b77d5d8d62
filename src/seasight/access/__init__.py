"""Who may use SeaSight: organisations, users and roles (:mod:`.accounts`), API keys and the
scopes of the routes (:mod:`.keys`), rate limits (:mod:`.limits`) and the tamper-evident
audit log (:mod:`.audit`).

Everything is a function of a :class:`~seasight.store.Store`; the service and the
``seasight access`` command are thin layers over them.
"""

from __future__ import annotations

from seasight.access.accounts import (
    LOCAL_ORG,
    ROLES,
    AccessError,
    ConflictError,
    NotFoundError,
    create_organisation,
    create_user,
    disable_user,
    get_organisation,
    get_user,
    implied_roles,
    list_organisations,
    list_users,
    set_organisation_disabled,
    set_password,
    set_role,
    set_user_disabled,
    verify_password,
)
from seasight.access.audit import export_audit, query_audit, record, verify_audit
from seasight.access.keys import (
    REASONS,
    SCOPES,
    AuthError,
    ForbiddenError,
    IssuedKey,
    KeyGrant,
    authenticate,
    authorize,
    check_key,
    get_key,
    issue_key,
    list_keys,
    required,
    revoke_key,
    token_from_headers,
)
from seasight.access.limits import LoginLimiter, RateLimitedError, RateLimiter, login
from seasight.store import Store


def ensure_tables(store: Store) -> None:
    """Create every access table (organisations, users, keys, audit log) if missing, and the
    local organisation; call once when the service starts."""
    from seasight.access import audit, keys

    keys.ensure_tables(store)
    audit.ensure_tables(store)


__all__ = [
    "LOCAL_ORG",
    "REASONS",
    "ROLES",
    "SCOPES",
    "AccessError",
    "AuthError",
    "ConflictError",
    "ForbiddenError",
    "IssuedKey",
    "KeyGrant",
    "LoginLimiter",
    "NotFoundError",
    "RateLimitedError",
    "RateLimiter",
    "authenticate",
    "authorize",
    "check_key",
    "create_organisation",
    "create_user",
    "disable_user",
    "ensure_tables",
    "export_audit",
    "get_key",
    "get_organisation",
    "get_user",
    "implied_roles",
    "issue_key",
    "list_keys",
    "list_organisations",
    "list_users",
    "login",
    "query_audit",
    "record",
    "required",
    "revoke_key",
    "set_organisation_disabled",
    "set_password",
    "set_role",
    "set_user_disabled",
    "token_from_headers",
    "verify_audit",
    "verify_password",
]
