"""API keys (seasight.access.keys): issued once, stored hashed, scoped, revocable, expiring."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasight.access import accounts as acc
from seasight.access import keys as k
from seasight.access.accounts import AccessError, NotFoundError
from seasight.access.keys import AuthError, ForbiddenError, KeyGrant
from seasight.api.query import Caller
from seasight.store import Store

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "k.duckdb")
    acc.create_organisation(s, "Navy A")
    acc.create_organisation(s, "Coastguard B")
    acc.create_user(s, "Navy A", "alice", "analyst")
    acc.create_user(s, "Coastguard B", "bob", "admin")
    yield s
    s.close()


def reason(store: Store, token: str | None, now: datetime | None = None) -> str:
    with pytest.raises(AuthError) as info:
        k.authenticate(store, token, now)
    return info.value.reason


def test_issue_and_authenticate(store: Store) -> None:
    issued = k.issue_key(store, "Navy A", user="alice", role="analyst",
                         scopes=["read", "ingest"], label="laptop", now=T0)
    assert issued.secret.startswith(f"ss_{issued.key_id}_") and len(issued.secret) == 59
    assert issued.secret not in repr(issued) and issued.secret not in str(issued)
    grant = k.check_key(store, issued.secret, T0)
    assert grant == KeyGrant(Caller("alice", "Navy A", frozenset({"viewer", "analyst"})),
                             issued.key_id, frozenset({"read", "ingest"}), "analyst")
    org_key = k.issue_key(store, "Coastguard B", role="viewer")
    assert k.authenticate(store, org_key.secret) == Caller(
        f"key:{org_key.key_id}", "Coastguard B", frozenset({"viewer"}))


def test_refusal_reasons(store: Store) -> None:
    good = k.issue_key(store, "Navy A", user="alice", role="viewer", now=T0)
    assert reason(store, None) == "missing"
    assert reason(store, "") == "missing"
    assert reason(store, "   ") == "missing"
    for bad in ("hello", "ss_", good.secret[:-1], good.secret + "x", good.secret.upper(),
                "Bearer " + good.secret, good.secret.replace("ss_", "sk_"), "x" * 5000):
        assert reason(store, bad) == "malformed", bad
    other_id = "0" * 12 if good.key_id != "0" * 12 else "1" * 12
    assert reason(store, good.secret.replace(good.key_id, other_id)) == "unknown"
    last = good.secret[-1]
    wrong_secret = good.secret[:-1] + ("A" if last != "A" else "B")
    assert reason(store, wrong_secret) == "unknown"
    assert k.authenticate(store, good.secret).name == "alice"


def test_revoked_keys_stop_at_once(store: Store) -> None:
    issued = k.issue_key(store, "Navy A", role="viewer")
    k.authenticate(store, issued.secret)
    info = k.revoke_key(store, issued.key_id)
    assert info["revoked_at"] is not None
    assert reason(store, issued.secret) == "revoked"
    assert reason(store, issued.secret, now=T0 - timedelta(days=3650)) == "revoked"
    with pytest.raises(NotFoundError):
        k.revoke_key(store, "abcdefabcdef")


def test_expired_keys(store: Store) -> None:
    issued = k.issue_key(store, "Navy A", role="viewer", expires=T0 + timedelta(hours=1),
                         now=T0)
    assert k.authenticate(store, issued.secret, now=T0 + timedelta(minutes=59)).organisation \
        == "Navy A"
    assert reason(store, issued.secret, now=T0 + timedelta(hours=1)) == "expired"
    naive = k.issue_key(store, "Navy A", role="viewer", now=T0,
                        expires=datetime(2026, 6, 2))  # naive means UTC
    assert k.get_key(store, naive.key_id)["expires_at"] == datetime(  # type: ignore[index]
        2026, 6, 2, tzinfo=UTC)
    with pytest.raises(AccessError, match="not in the future"):
        k.issue_key(store, "Navy A", role="viewer", expires=T0 - timedelta(seconds=1), now=T0)


def test_disabled_user_or_organisation(store: Store) -> None:
    user_key = k.issue_key(store, "Navy A", user="alice", role="viewer")
    org_key = k.issue_key(store, "Navy A", role="viewer")
    acc.disable_user(store, "alice")
    assert reason(store, user_key.secret) == "disabled"
    assert k.authenticate(store, org_key.secret).organisation == "Navy A"
    acc.set_user_disabled(store, "alice", False)
    acc.set_organisation_disabled(store, "Navy A")
    assert reason(store, user_key.secret) == "disabled"
    assert reason(store, org_key.secret) == "disabled"
    acc.set_organisation_disabled(store, "Navy A", False)
    assert k.authenticate(store, org_key.secret).organisation == "Navy A"


def test_key_role_never_exceeds_the_users_current_role(store: Store) -> None:
    issued = k.issue_key(store, "Navy A", user="alice", role="analyst",
                         scopes=("read", "ingest"))
    acc.set_role(store, "alice", "viewer")
    grant = k.check_key(store, issued.secret)
    assert grant.role == "viewer" and grant.caller.roles == {"viewer"}
    assert grant.scopes == {"read"}  # ingest needs analyst
    acc.set_role(store, "alice", "admin")
    assert k.check_key(store, issued.secret).role == "analyst"


def test_issue_refuses_bad_requests(store: Store) -> None:
    with pytest.raises(AccessError, match="user is analyst"):
        k.issue_key(store, "Navy A", user="alice", role="admin")
    with pytest.raises(AccessError, match="belongs to"):
        k.issue_key(store, "Coastguard B", user="alice", role="viewer")
    with pytest.raises(NotFoundError):
        k.issue_key(store, "Navy A", user="nobody", role="viewer")
    with pytest.raises(NotFoundError):
        k.issue_key(store, "Nowhere", role="viewer")
    with pytest.raises(AccessError, match="needs role admin"):
        k.issue_key(store, "Navy A", role="analyst", scopes=["admin"])
    with pytest.raises(AccessError, match="needs role analyst"):
        k.issue_key(store, "Navy A", role="viewer", scopes=["ingest"])
    with pytest.raises(AccessError, match="unknown scope"):
        k.issue_key(store, "Navy A", role="viewer", scopes=["write"])
    with pytest.raises(AccessError, match="at least one scope"):
        k.issue_key(store, "Navy A", role="viewer", scopes=[])
    with pytest.raises(AccessError, match="unknown role"):
        k.issue_key(store, "Navy A", role="god")


def test_secrets_are_never_stored(store: Store, tmp_path: Path) -> None:
    issued = [k.issue_key(store, "Navy A", role="viewer", label=f"k{i}") for i in range(5)]
    for key in issued:
        k.authenticate(store, key.secret)
    listed = k.list_keys(store)
    assert listed.height == 5
    assert "secret_sha256" not in listed.columns
    assert all(key.secret not in str(row) for key in issued for row in listed.rows())
    stored = store.con.execute("SELECT secret_sha256 FROM api_keys ORDER BY label").fetchall()
    assert [r[0] for r in stored] == [hashlib.sha256(key.secret.encode()).hexdigest()
                                      for key in issued]
    store.con.execute("CHECKPOINT")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for key in issued:
        assert key.secret.encode() not in raw
        assert key.secret.split("_", 2)[2].encode() not in raw


def test_list_keys_filters(store: Store) -> None:
    a = k.issue_key(store, "Navy A", role="viewer")
    b = k.issue_key(store, "Coastguard B", role="viewer")
    k.revoke_key(store, b.key_id)
    assert k.list_keys(store, "Navy A")["key_id"].to_list() == [a.key_id]
    assert k.list_keys(store, include_revoked=False)["key_id"].to_list() == [a.key_id]
    assert set(k.list_keys(store)["key_id"]) == {a.key_id, b.key_id}


def test_last_used_is_written_at_most_once_a_minute(store: Store) -> None:
    issued = k.issue_key(store, "Navy A", role="viewer", now=T0)

    def last_used() -> datetime | None:
        return k.get_key(store, issued.key_id)["last_used_at"]  # type: ignore[index]

    assert last_used() is None
    k.authenticate(store, issued.secret, now=T0)
    assert last_used() == T0
    k.authenticate(store, issued.secret, now=T0 + timedelta(seconds=59))
    assert last_used() == T0
    k.authenticate(store, issued.secret, now=T0 + timedelta(seconds=61))
    assert last_used() == T0 + timedelta(seconds=61)


def test_token_from_headers() -> None:
    assert k.token_from_headers(None, None) is None
    assert k.token_from_headers("", "  ") is None
    assert k.token_from_headers("Bearer ss_x", None) == "ss_x"
    assert k.token_from_headers("bearer   ss_x ", None) == "ss_x"
    assert k.token_from_headers("Basic abc", None) == "Basic abc"
    assert k.token_from_headers("Bearer a", "ss_y") == "ss_y"


def test_route_scopes_and_roles(store: Store) -> None:
    assert k.required("GET", "/api/vessels") == ("read", "viewer")
    assert k.required("GET", "/api/stream") == ("read", "viewer")
    assert k.required("POST", "/api/ingest") == ("ingest", "analyst")
    assert k.required("POST", "/api/watchlists") == ("ingest", "analyst")
    assert k.required("POST", "/api/alerts/a1/ack") == ("read", "analyst")
    assert k.required("DELETE", "/api/zones/x") == ("read", "analyst")
    assert k.required("GET", "/api/audit") == ("admin", "admin")
    assert k.required("POST", "/api/access/keys") == ("admin", "admin")
    assert k.required("GET", "/api/agreements") == ("read", "viewer")  # filtered by role
    assert k.required("GET", "/api/agreements/x") == ("admin", "admin")
    assert k.required("GET", "/api/sources") == ("admin", "admin")
    assert k.required("POST", "/api/sources") == ("admin", "admin")
    assert k.required("PUT", "/api/agreements/7") == ("admin", "admin")
    viewer = k.check_key(store, k.issue_key(store, "Navy A", role="viewer").secret)
    k.authorize(viewer, "GET", "/api/events")
    with pytest.raises(ForbiddenError, match="scope 'ingest'"):
        k.authorize(viewer, "POST", "/api/ingest")
    with pytest.raises(ForbiddenError, match="needs role analyst"):
        k.authorize(viewer, "POST", "/api/alerts/a1/ack")
    admin = k.check_key(store, k.issue_key(store, "Coastguard B", user="bob", role="admin",
                                           scopes=("read", "admin")).secret)
    k.authorize(admin, "GET", "/api/audit")
    with pytest.raises(ForbiddenError):
        k.authorize(admin, "POST", "/api/ingest")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    s = Store(tmp_path_factory.mktemp("fuzz") / "f.duckdb")
    acc.create_organisation(s, "Navy A")
    secret = k.issue_key(s, "Navy A", role="viewer").secret
    yield s, secret
    s.close()


URLSAFE = string.ascii_letters + string.digits + "-_"


@settings(max_examples=150, deadline=None)
@given(token=st.text(max_size=80))
def test_random_text_never_authenticates(shared: tuple[Store, str], token: str) -> None:
    store, _ = shared
    with pytest.raises(AuthError) as info:
        k.authenticate(store, token)
    assert info.value.reason in ("missing", "malformed", "unknown")


@settings(max_examples=150, deadline=None)
@given(key_id=st.text("0123456789abcdef", min_size=12, max_size=12),
       rest=st.text(URLSAFE, min_size=43, max_size=43))
def test_well_formed_random_keys_are_unknown(shared: tuple[Store, str], key_id: str,
                                             rest: str) -> None:
    store, _ = shared
    with pytest.raises(AuthError) as info:
        k.authenticate(store, f"ss_{key_id}_{rest}")
    assert info.value.reason == "unknown"


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(0, 58), char=st.sampled_from(URLSAFE))
def test_any_one_character_change_is_refused(shared: tuple[Store, str], pos: int,
                                             char: str) -> None:
    store, secret = shared
    altered = secret[:pos] + char + secret[pos + 1:]
    if altered == secret:
        assert k.authenticate(store, secret).organisation == "Navy A"
        return
    with pytest.raises(AuthError) as info:
        k.authenticate(store, altered)
    assert info.value.reason in ("malformed", "unknown")
