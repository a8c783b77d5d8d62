"""Federation: SeaSight B pulls from SeaSight A's API with a key A issued (issue 6).

Two services in one process (two stores, two uvicorn threads): A holds positions and events and
grants organisation "B" positions and events inside a box, rounded to 2 decimals, without one
excluded vessel. B pulls: B's store holds exactly A's export for B's key (rows, rounding), with
origin "A"; pulling again adds nothing; new data continues from the watermark; a revoked
agreement stops the flow and the report says so. Refused keys, unreachable and slow partners
and bad files raise FederationError and write nothing.
"""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from conftest import issue_admin_key
from seasight.access import create_organisation, ensure_tables, issue_key
from seasight.api import create_app
from seasight.cli import app as cli_app
from seasight.model.batch import Batch
from seasight.model.schema import EVENTS, POSITIONS, conform
from seasight.sharing import create_agreement, owners
from seasight.sharing.federation import (
    FederationError,
    federated_events,
    federated_positions,
    partners,
    pull,
    read_parquet,
    source_of,
)
from seasight.store import Store

BOX = {"type": "Polygon", "coordinates": [[[100, 0], [110, 0], [110, 10], [100, 10],
                                           [100, 0]]]}
EXCLUDED = 200_000_003
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """A SeaSight service on ``db``, served by uvicorn in a thread."""

    def __init__(self, db: Path, tmp: Path) -> None:
        import uvicorn

        self.app = create_app(db, static_dir=tmp / "no-static")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Service:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def request(self, method: str, path: str, key: str) -> bytes:
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return bytes(r.read())

    def write(self, fn: Any) -> Any:
        return self.app.state.access.write(fn)


def positions(n_vessels: int, reports: int, start: datetime, seed: int) -> pl.DataFrame:
    """Vessels spread over 95-115 E, 5 S - 15 N (about half inside BOX), unique hashes."""
    rng = np.random.default_rng(seed)
    n = n_vessels * reports
    mmsi = np.repeat(np.arange(200_000_000, 200_000_000 + n_vessels, dtype=np.uint32),
                     reports)
    ts = [start + timedelta(minutes=int(m)) for m in np.tile(np.arange(reports) * 3,
                                                              n_vessels)]
    return conform(pl.DataFrame({
        "mmsi": mmsi, "ts": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
        "msg_type": np.ones(n, np.uint8),
        "lat": np.repeat(rng.uniform(-5, 15, n_vessels), reports) + rng.normal(0, 0.05, n),
        "lon": np.repeat(rng.uniform(95, 115, n_vessels), reports) + rng.normal(0, 0.05, n),
        "sog": rng.uniform(0, 15, n).astype(np.float32),
        "source": "tcp://navy-radar:5631", "line_no": np.arange(1, n + 1),
        "ts_source": "tagblock", "msg_hash": rng.integers(-2**62, 2**62, n),
    }), POSITIONS)


def events(start: datetime) -> pl.DataFrame:
    return conform(pl.DataFrame({
        "event_id": ["ev-in", "ev-out", "ev-excluded"],
        "kind": ["loitering"] * 3,
        "mmsi": pl.Series([200_000_000, 200_000_001, EXCLUDED], dtype=pl.UInt32),
        "start": [start, start, start], "end": [start + timedelta(hours=2)] * 3,
        "lat": [5.123456, 20.0, 5.5], "lon": [105.654321, 120.0, 105.5],
        "score": [0.9, 0.8, 0.7], "is_open": [False] * 3, "evidence": ["{}"] * 3,
        "detector": ["loitering/1"] * 3,
    }), EVENTS)


@pytest.fixture
def two(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A (with data, an agreement for B and B's key) and B, both served."""
    db_a, db_b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    with Store(db_a) as store:
        ensure_tables(store)
        store.append(Batch(positions=positions(12, 40, T0, seed=1)))
        store.upsert_events(events(T0))
        create_organisation(store, "B")
        key_b = issue_key(store, "B", role="viewer", scopes=("read",), label="B pulls").secret
        agreement = create_agreement(store, "local", "B", ["positions", "events"], area=BOX,
                                     precision_decimals=2, exclude_mmsi=[EXCLUDED])
    admin_a, admin_b = issue_admin_key(db_a), issue_admin_key(db_b)
    with Service(db_a, tmp_path) as a, Service(db_b, tmp_path) as b:
        yield {"a": a, "b": b, "key_b": key_b, "admin_a": admin_a, "admin_b": admin_b,
               "agreement": agreement.agreement_id}


def _key(frame: pl.DataFrame) -> pl.DataFrame:
    # partner exports carry no msg_hash (an internal field): compare the rows themselves
    return frame.select("mmsi", "ts", "lat", "lon").sort("mmsi", "ts", "lat", "lon")


def test_b_pulls_exactly_what_a_grants(two: dict[str, Any]) -> None:
    a, b, key = two["a"], two["b"], two["key_b"]
    # what A's policy gives B's key, fetched directly
    expected = read_parquet(a.request("GET", "/api/export/positions?format=parquet", key),
                            "positions")
    total = a.write(lambda s: s.count("positions"))
    assert 0 < expected.height < total
    assert EXCLUDED not in expected["mmsi"].to_list()

    report = b.write(lambda s: pull(s, a.url, key, partner="A"))
    assert report.organisation == "B"
    assert report.positions_received == expected.height
    assert report.positions_added == expected.height
    assert report.events_received == report.events_added == 1  # ev-in only
    assert sorted(report.granted) == ["events", "positions"] and not report.warnings

    stored = b.write(lambda s: s.table("positions"))
    assert stored.height == expected.height
    assert _key(stored).equals(_key(expected))
    assert set(stored["source"].to_list()) == {source_of("A")}
    # rounded to 2 decimals, inside the box
    for col in ("lat", "lon"):
        values = stored[col].to_numpy()
        assert np.allclose(values, np.round(values, 2), atol=1e-9)
    assert stored["lon"].is_between(100, 110).all() and stored["lat"].is_between(0, 10).all()
    assert (source_of("A"), "A") in b.write(owners)

    # B's own export (as its local admin) shows the rows with origin A
    mine = read_parquet(b.request("GET", "/api/export/positions?format=parquet",
                                  two["admin_b"]), "positions")
    assert mine.height == expected.height and set(mine["origin"].to_list()) == {"A"}

    ev = b.write(lambda s: s.query("SELECT * FROM partner_events"))
    assert ev["event_id"].to_list() == ["ev-in"] and ev["partner"].to_list() == ["A"]
    assert ev["lat"][0] == pytest.approx(5.12) and ev["lon"][0] == pytest.approx(105.65)

    # pulling twice adds nothing (the overlap is read again and deduplicated)
    again = b.write(lambda s: pull(s, a.url, key, partner="A"))
    assert again.positions_added == 0 and again.events_added == again.events_updated == 0
    assert again.since == report.positions_until - timedelta(minutes=15)
    assert b.write(lambda s: s.count("positions")) == expected.height

    # new data at A continues from the watermark
    later = positions(12, 5, T0 + timedelta(days=1), seed=2)
    a.write(lambda s: s.append(Batch(positions=later)))
    more = b.write(lambda s: pull(s, a.url, key, partner="A"))
    fresh = read_parquet(a.request(
        "GET", "/api/export/positions?format=parquet&since=2024-03-02T00:00:00Z", key),
        "positions")
    assert 0 < more.positions_added == fresh.height
    assert more.positions_until is not None and more.positions_until > report.positions_until
    state = b.write(partners).row(0, named=True)
    assert state["pulls"] == 3 and state["organisation"] == "B"
    assert state["positions_added"] == expected.height + fresh.height

    # A revokes: the next pull adds nothing new and says why
    a.request("DELETE", f"/api/agreements/{two['agreement']}", two["admin_a"])
    a.write(lambda s: s.append(Batch(positions=positions(12, 5, T0 + timedelta(days=2),
                                                         seed=3))))
    before = b.write(lambda s: s.count("positions"))
    after = b.write(lambda s: pull(s, a.url, key, partner="A"))
    assert after.positions_received == after.positions_added == 0
    assert after.events_added == 0
    assert after.revoked == [two["agreement"]] and "positions" not in after.granted
    assert any("revoked" in w for w in after.warnings)
    assert b.write(lambda s: s.count("positions")) == before


def test_partner_events_are_served_as_the_partners_data(two: dict[str, Any]) -> None:
    """B serves what it pulled from A at /api/partner-events: to its own users all of it, to
    another organisation only as an agreement granted by A (the data's owner at B) allows."""
    a, b = two["a"], two["b"]
    b.write(lambda s: pull(s, a.url, two["key_b"], partner="A"))

    def ask(key: str, query: str = "") -> dict[str, Any]:
        return dict(json.loads(b.request("GET", f"/api/partner-events{query}", key)))

    mine = ask(two["admin_b"])
    assert mine["total"] == 1 and mine["items"][0]["partner"] == "A"
    assert mine["items"][0]["event_id"] == "ev-in"
    assert ask(two["admin_b"], "?partner=nobody")["total"] == 0
    assert ask(two["admin_b"], "?kind=gap")["total"] == 0

    def fusion_key(store: Store) -> str:
        create_organisation(store, "C")
        return issue_key(store, "C", role="viewer", scopes=("read",)).secret

    key_c = b.write(fusion_key)
    assert ask(key_c)["total"] == 0  # nothing granted
    b.write(lambda s: create_agreement(s, "local", "C", ["events"]))
    assert ask(key_c)["total"] == 0  # B's own grant does not cover A's data
    b.write(lambda s: create_agreement(s, "A", "C", ["events"]))
    granted = ask(key_c)
    assert granted["total"] == 1 and granted["items"][0]["partner"] == "A"


def test_refused_key_unreachable_partner_write_nothing(two: dict[str, Any]) -> None:
    a, b = two["a"], two["b"]
    with pytest.raises(FederationError, match=r"401.*refused the key"):
        b.write(lambda s: pull(s, a.url, "ss_" + "0" * 40, partner="A"))
    # revoke B's key on A: a clear 401 too
    keys = json.loads(a.request("GET", "/api/access/keys?organisation=B", two["admin_a"]))
    a.request("DELETE", f"/api/access/keys/{keys['items'][0]['key_id']}", two["admin_a"])
    with pytest.raises(FederationError, match=r"401.*revoked"):
        b.write(lambda s: pull(s, a.url, two["key_b"], partner="A"))
    with pytest.raises(FederationError, match="cannot reach"):
        b.write(lambda s: pull(s, f"http://127.0.0.1:{_free_port()}", two["key_b"],
                               partner="A", timeout=2))
    with pytest.raises(FederationError, match="base URL"):
        b.write(lambda s: pull(s, "ftp://x", two["key_b"], partner="A"))
    with pytest.raises(FederationError, match="partner"):
        b.write(lambda s: pull(s, a.url, two["key_b"], partner="bad name!"))
    assert b.write(lambda s: s.count("positions")) == 0
    assert b.write(partners).height == 0


class _Fake(http.server.BaseHTTPRequestHandler):
    """A server that looks like SeaSight until the export: then garbage, or too slow."""

    mode = "garbage"

    def do_GET(self) -> None:
        if self.path.startswith("/api/me"):
            body = json.dumps({"organisation": "B"}).encode()
        elif self.path.startswith("/api/agreements"):
            body = json.dumps({"items": []}).encode()
        elif self.mode == "slow":
            time.sleep(1.5)
            body = b""
        else:
            body = b"<html>not parquet</html>"
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("mode", "message"), [("garbage", "not a Parquet file"),
                                               ("slow", "timed out")])
def test_bad_answers_write_nothing(tmp_path: Path, mode: str, message: str) -> None:
    handler = type("H", (_Fake,), {"mode": mode})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Store(tmp_path / "b.duckdb") as store:
            with pytest.raises(FederationError, match=message):
                pull(store, f"http://127.0.0.1:{server.server_address[1]}", "ss_key",
                     partner="A", timeout=0.5)
            assert store.count("positions") == 0 and partners(store).height == 0
    finally:
        server.shutdown()
        server.server_close()


def test_frames_are_checked() -> None:
    frame = positions(2, 3, T0, seed=4).with_columns(
        pl.lit(None, pl.Int64).alias("msg_hash"), pl.lit("local").alias("origin"))
    rows = federated_positions(frame, "A")
    assert rows.columns == list(POSITIONS) and rows["msg_hash"].null_count() == 0
    assert rows["msg_hash"].n_unique() == rows.height
    assert rows.equals(federated_positions(frame, "A"))  # the same hash every time
    with pytest.raises(FederationError, match="lacks column"):
        federated_positions(frame.drop("lat"), "A")
    with pytest.raises(FederationError, match="wrong type"):
        federated_positions(frame.with_columns(pl.lit("x").alias("mmsi")), "A")
    ev = federated_events(pl.concat([events(T0), events(T0)]), "A", T0)
    assert ev.height == 3 and ev["partner"].unique().to_list() == ["A"]
    with pytest.raises(FederationError, match="lacks column"):
        federated_events(events(T0).drop("event_id"), "A", T0)
    buf = io.BytesIO()
    frame.write_parquet(buf)
    assert read_parquet(buf.getvalue(), "positions").height == frame.height
    with pytest.raises(FederationError, match="cannot read"):
        read_parquet(b"PAR1 truncated", "positions")


def test_cli_federate(two: dict[str, Any], tmp_path: Path) -> None:
    a = two["a"]
    db = tmp_path / "c.duckdb"
    runner = CliRunner()
    args = ["federate", "--from", a.url, "--key", two["key_b"], "--partner", "A",
            "--db", str(db), "--json"]
    first = runner.invoke(cli_app, args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout.strip().splitlines()[-1])
    assert out["positions_added"] > 0 and out["organisation"] == "B"
    repeat = runner.invoke(cli_app, [*args, "--every", "1", "--times", "2"])
    assert repeat.exit_code == 0, repeat.output
    lines = [json.loads(x) for x in repeat.stdout.strip().splitlines()]
    assert len(lines) == 2 and all(r["positions_added"] == 0 for r in lines)
    bad = runner.invoke(cli_app, ["federate", "--from", a.url, "--key", "ss_nope",
                                  "--partner", "A", "--db", str(db)])
    assert bad.exit_code == 1 and "401" in bad.output
    usage = runner.invoke(cli_app, [*args, "--times", "2"])
    assert usage.exit_code == 1 and "--times needs --every" in usage.output


def test_a_failure_while_writing_rolls_the_whole_pull_back(
        two: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import seasight.sharing.federation as fed

    def broken(store: Store, rows: pl.DataFrame) -> tuple[int, int]:
        raise RuntimeError("disk full")

    a, b = two["a"], two["b"]
    monkeypatch.setattr(fed, "_upsert_events", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        b.write(lambda s: pull(s, a.url, two["key_b"], partner="A"))
    # positions were inserted before the failure, inside the same transaction: gone
    assert b.write(lambda s: s.count("positions")) == 0
    assert b.write(partners).height == 0
    monkeypatch.undo()
    report = b.write(lambda s: pull(s, a.url, two["key_b"], partner="A"))
    assert report.positions_added > 0 and report.since is None


# --------------------------------------------------------------------------- hostile partners
# (security issue 15: a partner must not be able to exhaust memory, hold a pull forever, or
# stop every later pull with one row from the future)


class _Hostile(http.server.BaseHTTPRequestHandler):
    """A partner that answers /api/me and /api/agreements like SeaSight, then its exports as
    ``mode`` says: ``huge`` (a body streamed without end and without Content-Length),
    ``declared`` (a Content-Length of 1.5 GB), ``drip`` (one byte every 0.2 s) or ``served``
    (the class's ``files``)."""

    mode = "served"
    files: ClassVar[dict[str, bytes]] = {}
    sent: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        try:
            if self.path.startswith(("/api/me", "/api/agreements")):
                body = json.dumps({"organisation": "B"} if "me" in self.path
                                  else {"items": []}).encode()
                self._answer(body)
            elif self.mode == "served":
                kind = self.path.split("/api/export/")[1].split("?")[0]
                self._answer(self.files[kind])
            elif self.mode == "declared":
                self.send_response(200)
                self.send_header("Content-Length", str(1_500_000_000))
                self.end_headers()
                self.wfile.write(b"PAR1")
            elif self.mode == "huge":
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"PAR1" + b"\0" * 65_532
                for _ in range(100_000):  # 6.5 GB if nobody stops reading
                    self.wfile.write(chunk)
                    self.sent.append(len(chunk))
            else:  # drip
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                for _ in range(1_000_000):
                    self.wfile.write(b"P")
                    self.wfile.flush()
                    self.sent.append(1)
                    time.sleep(0.2)
        except OSError:  # the client hung up: what we want
            pass

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[Any]:
    """Start a :class:`_Hostile` partner with the given class attributes; its URL."""
    servers = []

    def start(**attrs: Any) -> str:
        handler = type("H", (_Hostile,), {"sent": [], **attrs})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, handler))
        return f"http://127.0.0.1:{server.server_address[1]}"
    yield start
    for server, _ in servers:
        server.shutdown()
        server.server_close()


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["huge", "declared"])
def test_a_huge_answer_is_refused_without_reading_it(tmp_path: Path, hostile: Any,
                                                     mode: str) -> None:
    url = hostile(mode=mode)
    with Store(tmp_path / "b.duckdb") as store:
        with pytest.raises(FederationError, match="more than 1,048,576 bytes"):
            pull(store, url, "ss_key", partner="A", timeout=5, max_bytes=1024 * 1024)
        assert store.count("positions") == 0 and partners(store).height == 0


def test_a_dripping_partner_is_cut_at_the_pull_deadline(tmp_path: Path, hostile: Any) -> None:
    """Each byte comes well within the per-read timeout, so only the whole pull's deadline
    can stop it (the old client waited for the whole body: a byte every 20 s kept it 163 s
    despite a 60 s timeout)."""
    url = hostile(mode="drip")
    started = time.monotonic()
    with Store(tmp_path / "b.duckdb") as store:
        with pytest.raises(FederationError, match="deadline of 2 s"):
            pull(store, url, "ss_key", partner="A", timeout=1, deadline_s=2)
        assert store.count("positions") == 0
    assert time.monotonic() - started < 10


def test_rows_from_the_future_are_rejects_and_do_not_stop_later_pulls(
        tmp_path: Path, hostile: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    good = positions(3, 4, now - timedelta(hours=1), seed=7)
    bad = good.head(1).with_columns(
        pl.lit(datetime(2999, 1, 1, tzinfo=UTC)).cast(pl.Datetime("us", "UTC")).alias("ts"),
        pl.lit(123, pl.Int64).alias("msg_hash"))
    evs = events(now - timedelta(hours=3))
    evs = evs.with_columns(pl.when(pl.col("event_id") == "ev-out")
                           .then(pl.lit(datetime(2999, 1, 1, tzinfo=UTC)))
                           .otherwise(pl.col("end")).cast(pl.Datetime("us", "UTC")).alias("end"))
    url = hostile(mode="served", files={"positions": _parquet(pl.concat([good, bad])),
                                        "events": _parquet(evs)})
    with Store(tmp_path / "b.duckdb") as store:
        report = pull(store, url, "ss_key", partner="A")
        assert (report.positions_received, report.positions_rejected) == (13, 1)
        assert report.positions_added == 12 and store.count("positions") == 12
        assert (report.events_rejected, report.events_added) == (1, 2)
        assert report.positions_until == good["ts"].max()  # not 2999
        assert report.events_until is not None and report.events_until.year < 2999
        assert "future" in " ".join(report.warnings)
        rejects = store.query("SELECT * FROM rejects WHERE source = 'federation:A'")
        assert rejects.height == 2 and set(rejects["reason"]) == {"bad_timestamp"}
        assert any(b"2999" in raw for raw in rejects["raw"])
        # the next pull continues from the real watermark, not from 2999
        later = pull(store, url, "ss_key", partner="A")
        assert later.since == good["ts"].max() - timedelta(minutes=15)
        assert later.positions_received == 13
