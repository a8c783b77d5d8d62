"""The audit log (seasight.access.audit): append-only, hash-chained, queryable, exportable."""

from __future__ import annotations

import copy
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from seasight.access import anchor, audit
from seasight.access.audit import export_audit, query_audit, record, verify_audit
from seasight.api.query import Caller
from seasight.store import Store

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ALICE = Caller("alice", "Navy A", frozenset({"viewer"}))
BOB = Caller("bob", "Coastguard B", frozenset({"viewer", "analyst"}))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "audit.duckdb")
    yield s
    s.close()


def fill(store: Store, n: int = 10) -> None:
    for i in range(n):
        record(store, ALICE if i % 2 else BOB, "GET /api/vessels", "vessels", i, 200,
               {"bbox": [1.5, 2, 3, 4], "i": i}, key_id="0123456789ab", client="10.0.0.7",
               now=T0 + timedelta(minutes=i))


def test_record_chains_rows(store: Store) -> None:
    assert verify_audit(store) == (True, None)  # empty
    first = record(store, ALICE, "GET /api/events", "events", 3, 200, {"kind": ["gap"]},
                   key_id="0123456789ab", client="10.0.0.7", now=T0)
    second = record(store, None, "GET /api/vessels", "vessels", 0, 401, {"reason": "expired"})
    assert (first.seq, second.seq) == (1, 2)
    rows = query_audit(store)
    assert rows["prev_hash"].to_list() == [audit.GENESIS, first.hash]
    assert rows["hash"].to_list() == [first.hash, second.hash]
    assert rows.row(0, named=True) | {"prev_hash": "", "hash": ""} == {
        "seq": 1, "ts": T0, "organisation": "Navy A", "user": "alice",
        "key_id": "0123456789ab", "action": "GET /api/events", "kind": "events", "rows": 3,
        "status": 200, "detail": '{"kind":["gap"]}', "client": "10.0.0.7",
        "prev_hash": "", "hash": ""}
    assert rows["user"][1] is None and rows["status"][1] == 401
    assert verify_audit(store) == (True, None)
    assert audit.count_audit(store) == 2


@pytest.mark.parametrize("tamper, bad", [
    ("UPDATE audit_log SET \"rows\" = 999 WHERE seq = 4", 4),
    ("UPDATE audit_log SET \"user\" = 'mallory' WHERE seq = 1", 1),
    ("UPDATE audit_log SET ts = ts + INTERVAL 1 SECOND WHERE seq = 7", 7),
    ("UPDATE audit_log SET detail = '{}' WHERE seq = 10", 10),
    ("UPDATE audit_log SET status = 200, client = NULL WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 5", 5),
    ("DELETE FROM audit_log WHERE seq >= 9", 9),
    ("DELETE FROM audit_log", 1),
    ("INSERT INTO audit_log SELECT 11, ts, organisation, \"user\", key_id, action, kind, "
     "\"rows\", status, detail, client, hash, hash FROM audit_log WHERE seq = 10", 11),
    ("UPDATE audit_log SET seq = seq + 100 WHERE seq = 3", 3),
])
def test_tampering_is_detected(store: Store, tamper: str, bad: int) -> None:
    fill(store)
    assert verify_audit(store) == (True, None)
    store.con.execute(tamper)
    assert verify_audit(store) == (False, bad)


def test_rewriting_one_row_consistently_breaks_the_next(store: Store) -> None:
    fill(store)
    row = query_audit(store).row(5, named=True)  # seq 6
    ts_us = (row["ts"] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    forged = audit.row_hash(row["seq"], ts_us, row["organisation"], "mallory", row["key_id"],
                            row["action"], row["kind"], row["rows"], row["status"],
                            row["detail"], row["client"], row["prev_hash"])
    store.con.execute("UPDATE audit_log SET \"user\" = 'mallory', hash = ? WHERE seq = 6",
                      [forged])
    assert verify_audit(store) == (False, 7)


def test_recording_continues_after_reopening(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as s:
        fill(s, 3)
    with Store(tmp_path / "a.duckdb") as s:
        assert record(s, ALICE, "GET /api/alerts", "alerts").seq == 4
        assert verify_audit(s) == (True, None)
    with Store(tmp_path / "a.duckdb", read_only=True) as ro:
        assert verify_audit(ro) == (True, None)
        assert query_audit(ro).height == 4
        with pytest.raises(ValueError, match="read-only"):
            record(ro, ALICE, "GET /api/alerts", "alerts")


def test_concurrent_records_from_cursors_keep_one_chain(store: Store) -> None:
    def worker(n: int) -> None:
        s = copy.copy(store)
        s.con = store.con.cursor()
        try:
            for i in range(15):
                record(s, ALICE, f"GET /api/t{n}", "vessels", i)
        finally:
            s.con.close()

    audit.ensure_tables(store)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert audit.count_audit(store) == 60
    assert verify_audit(store) == (True, None)


def test_verify_while_recording_sees_one_snapshot(store: Store) -> None:
    """A row committed between reading the head and reading the rows is no break."""
    fill(store, 5)
    done = threading.Event()

    def writer() -> None:
        s = copy.copy(store)
        s.con = store.con.cursor()
        try:
            for i in range(150):
                record(s, ALICE, "GET /api/vessels", "vessels", i)
        finally:
            s.con.close()
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    results = []
    while not done.is_set():
        results.append(verify_audit(store))
    thread.join()
    assert results and set(results) == {(True, None)}
    assert verify_audit(store) == (True, None)


def test_query_filters(store: Store) -> None:
    fill(store)
    assert query_audit(store, organisation="Navy A")["seq"].to_list() == [2, 4, 6, 8, 10]
    assert query_audit(store, user="bob")["seq"].to_list() == [1, 3, 5, 7, 9]
    assert query_audit(store, since=T0 + timedelta(minutes=3),
                       until=T0 + timedelta(minutes=5))["seq"].to_list() == [4, 5, 6]
    assert query_audit(store, limit=3, offset=2)["seq"].to_list() == [3, 4, 5]
    assert query_audit(store, user="x' OR '1'='1").height == 0
    with pytest.raises(ValueError, match="limit"):
        query_audit(store, limit=0)
    with pytest.raises(ValueError, match="offset"):
        query_audit(store, offset=-1)


def test_record_validates_arguments(store: Store) -> None:
    for kwargs in ({"action": ""}, {"rows": -1}, {"rows": 1.5}, {"status": 70000},
                   {"status": True}, {"detail": [1, 2]}, {"action": "x" * 501}):
        args = {"action": "GET /x", "kind": "k", "rows": 0, "status": 200, "detail": None}
        args.update(kwargs)
        with pytest.raises(ValueError):
            record(store, ALICE, **args)  # type: ignore[arg-type]
    entry = record(store, ALICE, "GET /x", "k", detail={"when": T0, "path": Path("/a")})
    assert json.loads(query_audit(store)["detail"][0]) == {"when": str(T0), "path": "/a"}
    assert entry.seq == 1


def test_export_csv_and_json(store: Store) -> None:
    fill(store, 4)
    frame = query_audit(store)
    back = pl.read_csv(io.BytesIO(export_audit(frame, "csv")))
    assert back.columns == list(audit.AUDIT_LOG)
    assert back["hash"].to_list() == frame["hash"].to_list()
    assert back["ts"][0] == "2026-06-01T12:00:00.000000Z"
    records = json.loads(export_audit(frame, "json"))
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert records[1]["detail"] == {"bbox": [1.5, 2, 3, 4], "i": 1}
    assert records[0]["ts"] == "2026-06-01T12:00:00Z"
    assert json.loads(export_audit(frame.head(0), "json")) == []
    with pytest.raises(ValueError, match="format"):
        export_audit(frame, "xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an audit frame"):
        export_audit(pl.DataFrame({"a": [1]}), "csv")


def test_no_function_alters_the_log() -> None:
    public = [n for n in audit.__all__ if callable(getattr(audit, n))]
    assert not [n for n in public if n.split("_")[0] in ("update", "delete", "remove", "edit",
                                                         "clear", "truncate")]


# --------------------------------------------------------------------------- the anchor


def _cut_tail_and_rewrite_head(s: Store) -> None:
    s.con.execute("DELETE FROM audit_log WHERE seq > 7")
    s.con.execute("UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_log "
                  "WHERE seq = 7)")


def _rewrite_and_rechain(s: Store) -> None:
    prev = audit.GENESIS
    for row in query_audit(s).iter_rows(named=True):
        user = "mallory" if row["seq"] == 3 else row["user"]
        ts_us = (row["ts"] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        digest = audit.row_hash(row["seq"], ts_us, row["organisation"], user, row["key_id"],
                                row["action"], row["kind"], row["rows"], row["status"],
                                row["detail"], row["client"], prev)
        s.con.execute('UPDATE audit_log SET "user" = ?, prev_hash = ?, hash = ? WHERE seq = ?',
                      [user, prev, digest, row["seq"]])
        prev = digest
    s.con.execute("UPDATE audit_head SET hash = ?", [prev])


def _empty(s: Store) -> None:
    s.con.execute("DELETE FROM audit_log")
    s.con.execute("DELETE FROM audit_head")


def _drop(s: Store) -> None:
    s.con.execute("DROP TABLE audit_log")
    s.con.execute("DROP TABLE audit_head")


@pytest.mark.parametrize("attack", [_cut_tail_and_rewrite_head, _rewrite_and_rechain, _empty,
                                    _drop])
def test_tampering_with_the_stopped_database_is_detected(tmp_path: Path, attack: Any) -> None:
    """Edits of the file that keep the chain consistent (the service stopped) are found by the
    anchor outside the database, and a later append does not move the anchor past them."""
    db = tmp_path / "a.duckdb"
    with Store(db) as s:
        fill(s)
        assert audit.check_audit(s).ok and audit.check_audit(s).anchored_seq == 10
    with Store(db) as s:
        attack(s)
        assert audit._chain(s, 100, None)[0] is None  # the chain alone looks intact
    with Store(db, read_only=True) as ro:
        found = audit.check_audit(ro)
        assert not found.ok and found.anchored_seq == 10 and found.problem
        assert verify_audit(ro)[0] is False
    with Store(db) as s:  # the service starts again and records: the evidence stays
        record(s, ALICE, "GET /api/vessels", "vessels")
        assert not audit.check_audit(s).ok
    assert json.loads(anchor.anchor_path(db).read_text())["seq"] == 10


def test_the_anchor_cannot_be_forged_or_removed(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with Store(db) as s:
        fill(s)
        _cut_tail_and_rewrite_head(s)
    path = anchor.anchor_path(db)
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "seq": 7, "hash": query_audit(
        Store(db, read_only=True)).row(6, named=True)["hash"]}))
    with Store(db, read_only=True) as ro:
        assert "MAC" in audit.check_audit(ro).problem
    path.unlink()
    with Store(db, read_only=True) as ro:
        assert "no anchor" in audit.check_audit(ro).problem
    with Store(tmp_path / "new.duckdb") as fresh:
        assert audit.check_audit(fresh).ok  # a new installation: empty log, no anchor yet


def test_exported_anchor_and_reanchoring(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    saved = tmp_path / "kept-elsewhere.json"
    with Store(db) as s:
        fill(s, 5)
        saved.write_text(anchor.anchor_path(db).read_text())
        fill(s, 3)
        assert audit.check_audit(s, anchor_file=saved).ok  # a prefix of today's log
        assert audit.check_audit(s, anchor_file=saved).unanchored == 3
        _rewrite_and_rechain(s)
        assert not audit.check_audit(s, anchor_file=saved).ok
        with pytest.raises(ValueError, match="broken"):
            s.con.execute("UPDATE audit_log SET \"rows\" = 5 WHERE seq = 2")
            audit.reanchor(s)
        s.con.execute("UPDATE audit_log SET \"rows\" = 1 WHERE seq = 2")  # as fill wrote it
        result = audit.reanchor(s, reason="restored from backup")
        assert result.ok and result.anchored_seq == 9
        last = query_audit(s).row(-1, named=True)
        assert last["action"] == "audit re-anchor"
        assert json.loads(last["detail"])["replaced_anchor"]["seq"] == 8
