"""``seasight access``: a round trip through the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.access import accounts, keys
from seasight.access.keys import AuthError
from seasight.cli import app
from seasight.store import Store

runner = CliRunner()


def run(db: Path, *args: str, input: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, ["access", *args, "--db", str(db)], input=input)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def test_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    run(db, "org", "add", "Coastguard North", "--description", "partner")
    orgs = [json.loads(line) for line in run(db, "org", "list", "--json").splitlines()]
    assert [o["name"] for o in orgs] == ["Coastguard North", "local"]
    run(db, "user", "add", "Coastguard North", "alice", "--role", "analyst",
        "--password-stdin", input="a long password\n")
    run(db, "user", "add", "Coastguard North", "bob", "--role", "viewer", "--password",
        input="another password\nanother password\n")
    users = [json.loads(line) for line in run(db, "user", "list", "--json").splitlines()]
    assert [(u["username"], u["role"], u["has_password"]) for u in users] == [
        ("alice", "analyst", True), ("bob", "viewer", True)]

    secret = run(db, "key", "issue", "Coastguard North", "--user", "alice", "--role",
                 "analyst", "--scope", "read", "--scope", "ingest", "--days", "30",
                 "--label", "laptop").strip()
    assert secret.startswith("ss_")
    with Store(db) as store:
        assert keys.authenticate(store, secret).name == "alice"
        assert accounts.verify_password(store, "bob", "another password") is not None
    listed = [json.loads(line) for line in run(db, "key", "list", "--json").splitlines()]
    assert len(listed) == 1 and listed[0]["scopes"] == "read,ingest"
    assert listed[0]["expires_at"] is not None
    assert secret not in json.dumps(listed) and "secret_sha256" not in listed[0]
    human = run(db, "key", "list")
    assert listed[0]["key_id"] in human and secret not in human

    run(db, "user", "role", "alice", "viewer")
    run(db, "user", "disable", "bob")
    run(db, "key", "revoke", listed[0]["key_id"])
    with Store(db) as store:
        with pytest.raises(AuthError) as info:
            keys.authenticate(store, secret)
        assert info.value.reason == "revoked"
        assert accounts.verify_password(store, "bob", "another password") is None
        assert accounts.get_user(store, "alice")["role"] == "viewer"  # type: ignore[index]

    rows = [json.loads(line) for line in run(db, "audit", "list", "--json").splitlines()]
    assert [r["action"] for r in rows] == [
        "access org add", "access user add", "access user add",
        "access key issue", "access user role", "access user disable",
        "access key revoke"]
    assert secret not in json.dumps(rows)
    assert "Audit log intact: 7 row(s)" in runner.invoke(
        app, ["access", "audit", "verify", "--db", str(db)]).stderr
    csv = pl.read_csv(io.BytesIO(run(db, "audit", "export", "--format", "csv").encode()))
    assert csv.height == 7 and csv["seq"].to_list() == list(range(1, 8))
    out = tmp_path / "audit.json"
    run(db, "audit", "export", "--format", "json", "--output", str(out), "--user", "local")
    assert len(json.loads(out.read_bytes())) == 7

    with Store(db) as store:
        store.con.execute("UPDATE audit_log SET action = 'nothing' WHERE seq = 4")
    verdict = json.loads(run(db, "audit", "verify", "--json", code=1))
    assert verdict | {"problem": ""} == {"ok": False, "first_bad_seq": 4, "rows": 7,
                                         "anchored_seq": 7, "unanchored": 0, "problem": ""}
    assert "row 4 was altered" in verdict["problem"]


def test_errors_are_clear(tmp_path: Path) -> None:
    db = tmp_path / "e.duckdb"
    run(db, "org", "add", "Navy A")
    result = runner.invoke(app, ["access", "key", "issue", "Nowhere", "--role", "viewer",
                                 "--db", str(db)])
    assert result.exit_code == 1 and "no organisation 'Nowhere'" in result.stderr
    result = runner.invoke(app, ["access", "user", "add", "Navy A", "x", "--role", "boss",
                                 "--db", str(db)])
    assert result.exit_code == 1 and "unknown role" in result.stderr
    result = runner.invoke(app, ["access", "org", "add", "bad/name", "--db", str(db)])
    assert result.exit_code == 1 and "invalid organisation name" in result.stderr
    result = runner.invoke(app, ["access", "key", "revoke", "not-a-key", "--db", str(db)])
    assert result.exit_code == 1 and "invalid key id" in result.stderr
    result = runner.invoke(app, ["access", "audit", "export", "--format", "xml",
                                 "--db", str(db)])
    assert result.exit_code == 1 and "csv or json" in result.stderr
    result = runner.invoke(app, ["access", "key", "issue", "Navy A", "--role", "viewer",
                                 "--expires", "soon", "--db", str(db)])
    assert result.exit_code == 1 and "ISO 8601" in result.stderr
    result = runner.invoke(app, ["access", "audit", "list", "--db", str(tmp_path / "no.db")])
    assert result.exit_code == 1 and "no such database" in result.stderr
    assert runner.invoke(app, ["access", "audit", "verify", "--db", str(db)]).exit_code == 0
