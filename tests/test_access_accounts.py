"""Organisations, users, roles and passwords (seasight.access.accounts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seasight.access import accounts as acc
from seasight.access.accounts import (
    LOCAL_ORG,
    ROLES,
    AccessError,
    ConflictError,
    NotFoundError,
)
from seasight.api.query import Caller
from seasight.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "a.duckdb")
    yield s
    s.close()


def test_local_organisation_exists_from_first_use(store: Store) -> None:
    orgs = acc.list_organisations(store)
    assert orgs["name"].to_list() == [LOCAL_ORG]
    assert acc.get_organisation(store, LOCAL_ORG)["disabled"] is False  # type: ignore[index]
    assert Caller.local().organisation == LOCAL_ORG


def test_create_list_get_organisations(store: Store) -> None:
    org = acc.create_organisation(store, "Navy A", description="coastal radar")
    assert org["name"] == "Navy A" and org["description"] == "coastal radar"
    acc.create_organisation(store, "cg-north_2.0")
    assert acc.list_organisations(store)["name"].to_list() == ["Navy A", "cg-north_2.0",
                                                               LOCAL_ORG]
    assert acc.get_organisation(store, "nobody") is None
    with pytest.raises(ConflictError):
        acc.create_organisation(store, "Navy A")


@pytest.mark.parametrize("name", ["", " Navy", "Navy ", "a" * 65, "x/y", "Ünion", "a;DROP",
                                  "tab\tname", "new\nline"])
def test_invalid_organisation_names_are_refused(store: Store, name: str) -> None:
    with pytest.raises(AccessError, match="invalid organisation name"):
        acc.create_organisation(store, name)


@pytest.mark.parametrize("name", ["a", "a" * 64, "Navy A. b_c-d", "0"])
def test_valid_organisation_names(store: Store, name: str) -> None:
    assert acc.create_organisation(store, name)["name"] == name


def test_roles_are_ordered_and_include_lower_roles() -> None:
    assert ROLES == ("viewer", "analyst", "admin")
    assert acc.implied_roles("viewer") == {"viewer"}
    assert acc.implied_roles("analyst") == {"viewer", "analyst"}
    assert acc.implied_roles("admin") == {"viewer", "analyst", "admin"}
    assert acc.lower_role("admin", "viewer") == "viewer"
    with pytest.raises(AccessError, match="unknown role"):
        acc.implied_roles("root")


def test_users_roles_and_errors(store: Store) -> None:
    acc.create_organisation(store, "Navy A")
    user = acc.create_user(store, "Navy A", "bob", "viewer")
    assert user["role"] == "viewer" and user["has_password"] is False
    assert "password_hash" not in user
    with pytest.raises(ConflictError):
        acc.create_user(store, LOCAL_ORG, "bob", "admin")
    with pytest.raises(NotFoundError):
        acc.create_user(store, "Nowhere", "carol", "viewer")
    with pytest.raises(AccessError, match="unknown role"):
        acc.create_user(store, "Navy A", "carol", "superuser")
    with pytest.raises(AccessError, match="invalid username"):
        acc.create_user(store, "Navy A", "car ol", "viewer")
    with pytest.raises(AccessError, match="password"):
        acc.create_user(store, "Navy A", "carol", "viewer", "short")
    assert acc.set_role(store, "bob", "analyst")["role"] == "analyst"
    with pytest.raises(NotFoundError):
        acc.set_role(store, "nobody", "viewer")
    users = acc.list_users(store)
    assert users["username"].to_list() == ["bob"]
    assert "password_hash" not in users.columns
    assert acc.list_users(store, LOCAL_ORG).height == 0


def test_passwords_are_hashed_with_scrypt_and_verified(store: Store, tmp_path: Path) -> None:
    acc.create_organisation(store, "Navy A")
    acc.create_user(store, "Navy A", "alice", "analyst", "correct horse battery")
    stored = store.con.execute("SELECT password_hash FROM users").fetchall()[0][0]
    tag, n, r, p, _salt, _digest = stored.split("$")
    assert (tag, int(n), int(r), int(p)) == ("scrypt", acc.SCRYPT_N, acc.SCRYPT_R, acc.SCRYPT_P)
    assert "correct horse" not in stored
    caller = acc.verify_password(store, "alice", "correct horse battery")
    assert caller == Caller("alice", "Navy A", frozenset({"viewer", "analyst"}))
    assert acc.verify_password(store, "alice", "correct horse batterY") is None
    assert acc.verify_password(store, "mallory", "correct horse battery") is None
    assert acc.verify_password(store, "alice", "x" * 5000) is None
    store.con.execute("CHECKPOINT")
    store.close()
    assert b"correct horse" not in (tmp_path / "a.duckdb").read_bytes()


def test_hashes_are_salted_and_malformed_hashes_never_match() -> None:
    a, b = acc.hash_password("same password"), acc.hash_password("same password")
    assert a != b
    assert acc.password_matches("same password", a) and acc.password_matches("same password", b)
    for bad in ("", "scrypt", "md5$1$1$1$AA==$AA==", "scrypt$x$8$1$AA==$AA==",
                "scrypt$16384$8$1$!!$AA=="):
        assert not acc.password_matches("same password", bad)


def test_disabled_users_and_organisations_cannot_sign_in(store: Store) -> None:
    acc.create_organisation(store, "Navy A")
    acc.create_user(store, "Navy A", "alice", "admin", "correct horse battery")
    acc.disable_user(store, "alice")
    assert acc.verify_password(store, "alice", "correct horse battery") is None
    acc.set_user_disabled(store, "alice", False)
    assert acc.verify_password(store, "alice", "correct horse battery") is not None
    acc.set_organisation_disabled(store, "Navy A")
    assert acc.verify_password(store, "alice", "correct horse battery") is None
    acc.set_organisation_disabled(store, "Navy A", False)
    acc.set_password(store, "alice", None)
    assert acc.verify_password(store, "alice", "correct horse battery") is None
    with pytest.raises(AccessError, match="cannot be disabled"):
        acc.set_organisation_disabled(store, LOCAL_ORG)
    with pytest.raises(NotFoundError):
        acc.set_organisation_disabled(store, "Nowhere")


def test_read_only_store_without_access_tables(tmp_path: Path) -> None:
    Store(tmp_path / "r.duckdb").close()
    with Store(tmp_path / "r.duckdb", read_only=True) as ro:
        assert acc.list_users(ro).height == 0
        assert acc.get_organisation(ro, LOCAL_ORG) is None
        assert acc.verify_password(ro, "alice", "whatever pass") is None
        with pytest.raises(AccessError, match="read-only"):
            acc.create_organisation(ro, "Navy A")
