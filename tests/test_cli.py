"""The command-line contract: other tools and tests rely on it."""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seasight.cli import app
from seasight.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = SHARED / "conformance/pyais/nmea_data_sample.txt"
TAGGED = SHARED / "conformance/libais/tagblock.nmea"

runner = CliRunner()


def test_ingest_summary_and_exit_status(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    result = runner.invoke(app, ["ingest", str(SAMPLE), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["messages_by_type"]["1"] == 667
    assert summary["rejects_by_reason"] == {"empty_payload": 100, "missing_fragment": 20}
    assert summary["rows_added"]["positions"] > 700
    with Store(db, read_only=True) as store:
        assert store.count("rejects") == 120


def test_ingest_human_summary_goes_to_stderr(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(SAMPLE), "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "Decoded by message type" in result.stderr
    assert "empty_payload" in result.stderr


def test_ingest_directories_gz_and_stdin(tmp_path: Path) -> None:
    folder = tmp_path / "captures"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.nmea.gz").write_bytes(gzip.compress(SAMPLE.read_bytes()))
    (folder / "b.nmea").write_bytes(TAGGED.read_bytes())
    db = tmp_path / "x.duckdb"
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["sources"]) == 2
    stdin = runner.invoke(app, ["ingest", "-", "--db", str(tmp_path / "y.duckdb"), "--json"],
                          input=SAMPLE.read_bytes())
    assert stdin.exit_code == 0, stdin.output
    assert json.loads(stdin.stdout)["messages_by_type"]["1"] == 667


def test_usage_and_missing_file_errors(tmp_path: Path) -> None:
    assert runner.invoke(app, ["ingest", "--db", str(tmp_path / "x.duckdb")]).exit_code == 2
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.nmea"),
                                  "--db", str(tmp_path / "x.duckdb")])
    assert missing.exit_code == 1
    assert "no such file" in missing.stderr


def test_decode_json_uses_pyais_names(tmp_path: Path) -> None:
    result = runner.invoke(app, ["decode", str(TAGGED), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["msg_type"] for r in records} == {1, 5}
    first = next(r for r in records if r["msg_type"] == 1)
    assert {"mmsi", "lat", "lon", "speed", "course", "heading", "status", "ts", "source"} <= set(
        first)
    assert first["ts"].endswith("Z") and first["ts_source"] == "tagblock"
    static = next(r for r in records if r["msg_type"] == 5)
    assert {"imo", "callsign", "shipname", "ship_type", "to_bow"} <= set(static)


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("seasight")
    out = subprocess.run([str(exe), "decode", str(SAMPLE), "--json"], capture_output=True,
                         check=True)
    assert len(out.stdout.splitlines()) == 667 + 76 + 19 + 7 + 6 + 2 + 1
    assert b"120 line(s) rejected" in out.stderr


@pytest.mark.slow
def test_ingest_live_tcp(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:  # a feed terminates every line (the sample's last line has no newline)
            conn.sendall(SAMPLE.read_bytes() + b"\r\n")

    threading.Thread(target=serve, daemon=True).start()
    db = tmp_path / "live.duckdb"
    result = runner.invoke(app, ["ingest", "--tcp", f"127.0.0.1:{port}", "--duration", "3",
                                 "--db", str(db), "--json"])
    server.close()
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["messages_by_type"]["1"] == 667
    with Store(db, read_only=True) as store:
        ts_sources = store.query("SELECT DISTINCT ts_source FROM positions")["ts_source"]
    assert ts_sources.to_list() == ["arrival"]


def test_demo_runs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--db", str(tmp_path / "demo.duckdb"),
                                 "--out", str(tmp_path / "sim"), "--vessels", "120",
                                 "--hours", "36", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "Precision and recall per kind" in result.stdout
    assert "encounter" in result.stdout
    assert (tmp_path / "sim" / "truth.json").is_file()
    with Store(tmp_path / "demo.duckdb", read_only=True) as store:
        kinds = set(store.query("SELECT DISTINCT kind FROM events")["kind"].to_list())
    assert {"encounter", "gap", "loitering", "port_visit", "spoofing"} <= kinds
    # screening, risk and the dossier: the vessel that met the DPRK-listed tanker is the
    # riskiest vessel not itself on a list, and its dossier is written beside the feed
    assert "Riskiest vessels" in result.stdout and "YU JONG 2" in result.stdout
    assert "met_designated" in result.stdout
    dossiers = list((tmp_path / "sim").glob("dossier-*.html"))
    assert len(dossiers) == 1 and "<svg" in dossiers[0].read_text()
    # the alert line keeps its bracketed part (rich used to read it as markup and drop it)
    assert "[listed ofac_sdn: YU JONG 2]" in result.stdout
    # the next step is a way in: the exact serve command and the address with a working key
    text = " ".join(result.stdout.split())
    assert f"seasight serve --db {tmp_path / 'demo.duckdb'} and open" in text
    opened = re.search(r"http://127\.0\.0\.1:8000/#key=(ss_[0-9a-f]{12}_\S{43})", text)
    assert opened, text
    from seasight.access.keys import check_key

    with Store(tmp_path / "demo.duckdb") as store:
        grant = check_key(store, opened[1])
    assert grant.role == "admin" and "admin" in grant.scopes


def _live_demo(tmp_path: Path, db: str, *, vessels: int, hours: int,
               speed: int) -> tuple[subprocess.Popen[str], int]:
    """``seasight demo`` (the live replay into the service) in a subprocess on a free port,
    its output (stdout and stderr) in text as ``proc.stdout``; returns it and the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "seasight", "demo", "--db", str(tmp_path / db),
           "--out", str(tmp_path / "sim"), "--vessels", str(vessels), "--hours", str(hours),
           "--speed", str(speed), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path)
    return proc, port


def test_demo_serves_the_live_replay(tmp_path: Path) -> None:
    """The README's first command: the demo starts the service, replays the feed into it and
    the ship-to-ship transfer with the DPRK-listed tanker raises a critical alert."""
    proc, port = _live_demo(tmp_path, "live.duckdb", vessels=120, hours=36, speed=20000)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            lines.append(line)
            if "Replay finished" in line or time.monotonic() > deadline:
                break
        out = "".join(lines)
        assert "Replay finished" in out, out
        opened = re.search(
            rf"Open http://127\.0\.0\.1:{port}/#key=(ss_[0-9a-f]{{12}}_\S{{43}})", out)
        assert opened, out
        assert "ALERT critical encounter-with-designated-vessel" in out

        def get(path: str) -> Any:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                         headers={"Authorization": f"Bearer {opened[1]}"})
            with urllib.request.urlopen(req) as resp:
                return json.load(resp)

        alerts = get("/api/alerts")["items"]
        assert any(a["severity"] == "critical" and "YU JONG 2" in a["message"] for a in alerts)
        live = get("/api/live")
        assert live["feeds"][0]["messages"] > 100_000 and live["analysis"]["cycles"] >= 3
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as resp:
            assert b"maplibre" in resp.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "term"])
def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path, stop: signal.Signals) -> None:
    """Ctrl-C (or a SIGTERM) in the middle of the live replay stops the demo without a
    traceback: the end-of-replay report must not run against the store being closed (it did,
    in about half the runs, when the stop ended the feeds first)."""
    proc, _ = _live_demo(tmp_path, "stop.duckdb", vessels=60, hours=24, speed=300)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        for line in proc.stdout:
            lines.append(line)
            if "analysed in" in line or time.monotonic() > deadline:
                break
        assert any("analysed in" in line for line in lines), "".join(lines)
        proc.send_signal(stop)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + rest
    assert "Traceback" not in out, out[-3000:]

