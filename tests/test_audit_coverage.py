"""Every change of access or sharing and every export leaves an audit row with its content,
by every path: each command of ``seasight access``, ``agreement``, ``source``, ``export`` and
``relay`` that is not read-only, the HTTP routes (agreement PATCH, export) and WebSocket
stream sessions. And ``agreement revoke`` still works while ``serve`` holds the database."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from seasight.access import issue_key, query_audit
from seasight.api import create_app
from seasight.cli import app
from seasight.cli.service import service_file
from seasight.sharing import create_agreement, list_agreements
from seasight.store import Store

runner = CliRunner()

#: Commands in scope that change nothing and export nothing (the audit log's own reading is
#: recorded by the request log of the service; on the command line it needs the file).
READ_ONLY = {"access org list", "access user list", "access key list", "access audit list",
             "access audit export", "access audit verify", "access audit anchor",
             "agreement list", "source list"}

AREA = json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})


def _commands() -> set[str]:
    def walk(cmd: Any, path: list[str]) -> Iterator[str]:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path)
    return {c for c in walk(typer.main.get_command(app), [])
            if c.split()[0] in ("access", "agreement", "source", "export", "relay")}


def _cli(db: Path, *args: str, input: str | None = None) -> str:
    result = runner.invoke(app, [*args, "--db", str(db)], input=input)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _rows(db: Path) -> list[dict[str, Any]]:
    with Store(db, read_only=True) as s:
        return [{**r, "detail": json.loads(r["detail"])} for r in query_audit(s).to_dicts()]


def test_every_cli_change_and_export_is_audited_with_its_content(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    Store(db).close()
    agreement: dict[str, str] = {}
    key: dict[str, str] = {}

    def make_agreement() -> list[str]:
        return ["agreement", "create", "--grantor", "local", "--grantee", "fusion", "--class",
                "positions", "--delay", "1h", "--area", AREA]

    # command -> (argument list (a function: some need ids made before), action, content)
    steps: list[tuple[str, Any, str, dict[str, Any]]] = [
        ("access org add", lambda: ["access", "org", "add", "fusion"], "access org add",
         {"organisation": "fusion"}),
        ("access user add", lambda: ["access", "user", "add", "fusion", "ann", "--role",
                                     "admin"], "access user add",
         {"organisation": "fusion", "username": "ann", "role": "admin"}),
        ("access user role", lambda: ["access", "user", "role", "ann", "viewer"],
         "access user role", {"username": "ann", "role": {"from": "admin", "to": "viewer"}}),
        ("access user password", lambda: ["access", "user", "password", "ann",
                                          "--password-stdin"], "access user password",
         {"username": "ann", "removed": False}),
        ("access key issue", lambda: ["access", "key", "issue", "fusion", "--role", "viewer",
                                      "--user", "ann", "--label", "laptop"],
         "access key issue", {"organisation": "fusion", "username": "ann", "label": "laptop"}),
        ("access key revoke", lambda: ["access", "key", "revoke", key["id"]],
         "access key revoke", {"organisation": "fusion", "label": "laptop"}),
        ("access user disable", lambda: ["access", "user", "disable", "ann"],
         "access user disable", {"username": "ann", "disabled": True}),
        ("access org disable", lambda: ["access", "org", "disable", "fusion", "--enable"],
         "access org enable", {"organisation": "fusion", "disabled": False}),
        ("agreement create", make_agreement, "agreement create",
         {"grantor": "local", "grantee": "fusion"}),
        ("agreement update", lambda: ["agreement", "update", agreement["id"], "--delay", "30m",
                                      "--clear", "area"], "agreement update",
         {"changes": {"delay_s": {"from": 3600.0, "to": 1800.0},
                      "area": {"from": json.loads(AREA), "to": None}}}),
        ("agreement revoke", lambda: ["agreement", "revoke", agreement["id"]],
         "agreement revoke", {"grantee": "fusion"}),
        ("source assign", lambda: ["source", "assign", "tcp://10.0.0.*", "fusion"],
         "source assign", {"pattern": "tcp://10.0.0.*", "organisation": "fusion",
                           "previous_organisation": None}),
        ("source remove", lambda: ["source", "remove", "tcp://10.0.0.*"], "source remove",
         {"pattern": "tcp://10.0.0.*", "previous_organisation": "fusion"}),
        ("export", lambda: ["export", "events", "--out", str(tmp_path / "e.csv"), "--as-org",
                            "fusion", "--since", "2026-01-01"], "export events",
         {"kind": "events", "format": "csv", "as_organisation": "fusion",
          "target": str(tmp_path / "e.csv")}),
        ("relay", lambda: ["relay", "--udp", "127.0.0.1:9", "--as-org", "fusion",
                           "--duration", "0.2", "--interval", "0.1"], "relay stop",
         {"as_organisation": "fusion", "udp": "127.0.0.1:9"}),
    ]
    assert {c for c, *_ in steps} | READ_ONLY == _commands(), "a new command: audit it here"
    for command, args, action, content in steps:
        before = len(_rows(db))
        extra = ["--json"] if command in ("agreement create", "access key issue") else []
        out = _cli(db, *args(), *extra, input="a long password\n")
        if command == "agreement create":
            agreement["id"] = json.loads(out)["agreement_id"]
        if command == "access key issue":
            key["id"] = json.loads(out)["key_id"]
        new = _rows(db)[before:]
        assert new, f"{command}: nothing recorded"
        row = next((r for r in new if r["action"] == action), None)
        assert row is not None, (command, [r["action"] for r in new])
        assert row["detail"] | content == row["detail"], (command, row["detail"])
        assert row["user"] == "local" and row["organisation"] == "local"
    secret_free = json.dumps(_rows(db), default=str)
    assert "a long password" not in secret_free and "ss_" not in secret_free
    _cli(db, "access", "audit", "verify")  # intact and anchored (exit 0)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[TestClient, Path, dict[str, str]]]:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        admin = issue_key(s, "local", role="admin", scopes=("read", "ingest", "admin")).secret
        a = create_agreement(s, "local", "fusion", ["positions"])
    with TestClient(create_app(db, stream_poll_s=0.05),
                    headers={"Authorization": f"Bearer {admin}"}) as client:
        yield client, db, {"agreement": a.agreement_id}


def _service_rows(client: TestClient, action: str) -> list[dict[str, Any]]:
    items = client.get("/api/audit", params={"limit": 1000}).json()["items"]
    return [{**r, "detail": json.loads(r["detail"])} for r in items if r["action"] == action]


def test_api_changes_exports_and_stream_sessions_are_audited(
        service: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, _, ids = service
    resp = client.patch(f"/api/agreements/{ids['agreement']}",
                        json={"delay_s": 600, "exclude_mmsi": [211000001]})
    assert resp.status_code == 200, resp.text
    resp = client.get("/api/export/positions", params={"format": "csv"})
    assert resp.status_code == 200
    with client.websocket_connect("/api/stream") as ws:
        assert ws.receive_json()["type"] == "hello"
    refused = TestClient(client.app)
    with pytest.raises(WebSocketDisconnect), refused.websocket_connect("/api/stream") as ws:
        ws.receive_json()
    client.app.state.auth.stop()  # flush the request log's queue
    client.app.state.auth.start()

    update = _service_rows(client, "agreement update")
    assert len(update) == 1 and update[0]["key_id"] is not None
    assert update[0]["detail"]["changes"] == {
        "delay_s": {"from": 0.0, "to": 600.0},
        "exclude_mmsi": {"from": [], "to": [211000001]}}
    export = _service_rows(client, "export positions")
    assert len(export) == 1 and export[0]["detail"]["format"] == "csv"
    assert export[0]["detail"]["as_organisation"] == "local"
    assert len(_service_rows(client, "WS /api/stream open")) == 1
    closed = _service_rows(client, "WS /api/stream close")
    assert len(closed) == 1 and {"seconds", "rows", "dropped", "ended"} <= set(
        closed[0]["detail"])
    assert len(_service_rows(client, "WS /api/stream refused")) == 1
    assert client.get("/api/audit/verify").json()["ok"] is True


# --------------------------------------------------------------------------- revoke


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A database held by another process (as 'serve' holds it), with one agreement."""
    db = tmp_path / "l.duckdb"
    with Store(db) as s:
        aid = create_agreement(s, "local", "fusion", ["positions"]).agreement_id
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    try:
        yield db, aid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_revoke_while_served_prints_the_api_call(locked: tuple[Path, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db, aid = locked
    monkeypatch.delenv("SEASIGHT_API_KEY", raising=False)
    monkeypatch.delenv("SEASIGHT_URL", raising=False)
    result = runner.invoke(app, ["agreement", "revoke", aid, "--db", str(db)])
    assert result.exit_code == 1
    assert "curl -X DELETE" in result.stderr and f"/api/agreements/{aid}" in result.stderr
    service_file(db).write_text(json.dumps({"url": "http://127.0.0.1:8123"}))
    result = runner.invoke(app, ["agreement", "revoke", aid, "--db", str(db)])
    assert result.exit_code == 1
    assert f"http://127.0.0.1:8123/api/agreements/{aid}" in result.stderr


def test_revoke_while_served_goes_through_the_api(locked: tuple[Path, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db, aid = locked
    seen: list[tuple[str, str, str | None]] = []

    class Service(http.server.BaseHTTPRequestHandler):
        def do_DELETE(self) -> None:
            seen.append(("DELETE", self.path, self.headers.get("Authorization")))
            body = json.dumps({"agreement_id": aid, "revoked_at": "2026-06-01T12:00:00Z"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        service_file(db).write_text(json.dumps({"url": f"http://127.0.0.1:{server.server_port}"}))
        monkeypatch.setenv("SEASIGHT_API_KEY", "ss_0123456789ab_secret")
        result = runner.invoke(app, ["agreement", "revoke", aid, "--db", str(db), "--json"])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.stderr
    assert seen == [("DELETE", f"/api/agreements/{aid}", "Bearer ss_0123456789ab_secret")]
    assert json.loads(result.stdout)["revoked_at"] == "2026-06-01T12:00:00Z"


def test_revoke_without_a_service_uses_the_file(tmp_path: Path) -> None:
    db = tmp_path / "f.duckdb"
    with Store(db) as s:
        aid = create_agreement(s, "local", "fusion", ["positions"]).agreement_id
    _cli(db, "agreement", "revoke", aid)
    with Store(db, read_only=True) as s:
        assert list_agreements(s)[0].revoked_at is not None
