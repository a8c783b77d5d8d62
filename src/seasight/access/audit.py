"""The audit log: who accessed what, when and how much; append-only and tamper-evident.

Each row of ``audit_log`` has a sequence number (1, 2, ...) and a ``hash``: the SHA-256 of the
row's content together with the previous row's hash (``prev_hash``; 64 zeros for the first
row). Changing, inserting or deleting any row breaks the chain from that row on, and
:func:`verify_audit` finds the first broken row. A one-row table ``audit_head`` holds the last
sequence number and hash, so cutting rows off the end is detected too. (Someone who can write
the database file can always rebuild the whole chain; export the log, or note the head's hash
elsewhere, to detect that.)

This module has no function that updates or deletes rows. :func:`record` is one small
transaction (read the head, insert one row, move the head) and is safe to call from several
threads of one process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import duckdb
import polars as pl

from seasight.access.caller import Caller
from seasight.csv_cells import safe_text_columns
from seasight.schema import UTC_US
from seasight.store import Store

AUDIT_LOG: Final[dict[str, pl.DataType]] = {
    "seq": pl.Int64(),
    "ts": UTC_US,
    "organisation": pl.String(),
    "user": pl.String(),
    "key_id": pl.String(),
    "action": pl.String(),  # e.g. "GET /api/vessels", "cli access key issue"
    "kind": pl.String(),  # data class: vessels, positions, events, alerts, access, ...
    "rows": pl.Int64(),  # how much was returned or changed
    "status": pl.UInt16(),  # HTTP status (200, 403, ...) or 0/1 for commands
    "detail": pl.String(),  # JSON object (parameters, reasons)
    "client": pl.String(),  # client address
    "prev_hash": pl.String(),
    "hash": pl.String(),
}

AUDIT_HEAD: Final[dict[str, pl.DataType]] = {
    "id": pl.UInt8(),  # always 1
    "seq": pl.Int64(),
    "hash": pl.String(),
}

#: Tables owned by this module: name -> (schema, key).
TABLES: Final[dict[str, tuple[dict[str, pl.DataType], tuple[str, ...]]]] = {
    "audit_log": (AUDIT_LOG, ("seq",)),
    "audit_head": (AUDIT_HEAD, ("id",)),
}

#: ``prev_hash`` of the first row.
GENESIS: Final = "0" * 64
#: Most rows :func:`query_audit` returns at once.
MAX_AUDIT_LIMIT: Final = 100_000

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LOCK: Final = threading.Lock()
_COLUMNS: Final = ", ".join(f'"{c}"' for c in AUDIT_LOG)


def ensure_tables(store: Store) -> None:
    """Create ``audit_log`` and ``audit_head`` if missing (schemas only on a read-only
    store)."""
    for name, (schema, key) in TABLES.items():
        store.create_table(name, schema, key)


def _ready(store: Store) -> None:
    if "audit_log" not in store._extra:
        ensure_tables(store)


def _micros(ts: datetime) -> int:
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return (ts - _EPOCH) // timedelta(microseconds=1)


def row_hash(seq: int, ts_us: int, organisation: str | None, user: str | None,
             key_id: str | None, action: str, kind: str, rows: int, status: int,
             detail: str, client: str | None, prev_hash: str) -> str:
    """SHA-256 (hex) of one row's content and the previous row's hash."""
    content = json.dumps([seq, ts_us, organisation, user, key_id, action, kind, rows, status,
                          detail, client, prev_hash], separators=(",", ":"),
                         ensure_ascii=True)
    return hashlib.sha256(content.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One recorded row: its sequence number and hash."""

    seq: int
    hash: str


def record(store: Store, caller: Caller | None, action: str, kind: str, rows: int = 0,
           status: int = 200, detail: dict[str, Any] | None = None, *,
           key_id: str | None = None, client: str | None = None,
           now: datetime | None = None) -> AuditEntry:
    """Append one row to the audit log: ``caller`` (None: anonymous, e.g. a refused key) did
    ``action`` on data of ``kind``, touching ``rows`` rows, answered ``status``.

    ``detail`` is any JSON-able mapping (values that are not JSON become strings). Raises
    :class:`ValueError` for bad arguments and on a read-only store.
    """
    if store.read_only:
        raise ValueError("cannot record in the audit log: the database is open read-only")
    if not isinstance(action, str) or not action or len(action) > 500:
        raise ValueError("action: 1 to 500 characters")
    if not isinstance(kind, str) or len(kind) > 100:
        raise ValueError("kind: at most 100 characters")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ValueError(f"rows: a non-negative integer, not {rows!r}")
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 65535:
        raise ValueError(f"status: an integer 0-65535, not {status!r}")
    if detail is not None and not isinstance(detail, dict):
        raise ValueError("detail: a mapping")
    detail_json = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    ts_us = _micros(now if now is not None else datetime.now(UTC))
    org = caller.organisation if caller is not None else None
    user = caller.name if caller is not None else None
    _ready(store)
    with _LOCK, store.transaction():
        head = store.con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchall()
        prev_seq, prev_hash = (int(head[0][0]), head[0][1]) if head else (0, GENESIS)
        seq = prev_seq + 1
        digest = row_hash(seq, ts_us, org, user, key_id, action, kind, rows, status,
                          detail_json, client, prev_hash)
        store.con.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES "
            "(?, make_timestamptz(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, ts_us, org, user, key_id, action, kind, rows, status, detail_json, client,
             prev_hash, digest])
        if head:  # an UPDATE costs a quarter of an INSERT ... ON CONFLICT
            store.con.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                              [seq, digest])
        else:
            store.con.execute("INSERT INTO audit_head VALUES (1, ?, ?)", [seq, digest])
    return AuditEntry(seq, digest)


def verify_audit(store: Store, batch: int = 10_000) -> tuple[bool, int | None]:
    """Check the whole chain: ``(True, None)``, or ``(False, seq)`` with the first row that
    was altered, inserted or is missing (``last seq + 1`` when rows were cut off the end)."""
    _ready(store)
    cur = store.con.cursor()
    try:
        # one snapshot for the head and the rows: a row recorded between two separate reads
        # would otherwise look like a cut or added row
        cur.execute("BEGIN TRANSACTION")
        head = cur.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchall()
        cur.execute("""SELECT seq, epoch_us(ts), organisation, "user", key_id, action, kind,
                              "rows", status, detail, client, prev_hash, hash
                       FROM audit_log ORDER BY seq""")
    except duckdb.CatalogException:
        cur.close()
        return True, None  # no log yet
    try:
        expected_seq, prev = 1, GENESIS
        while chunk := cur.fetchmany(batch):
            for row in chunk:
                seq, ts_us, org, user, key_id, action, kind, rows, status, detail, client, \
                    prev_hash, digest = row
                if seq != expected_seq:
                    return False, expected_seq
                if prev_hash != prev or ts_us is None or digest != row_hash(
                        seq, ts_us, org, user, key_id, action, kind, rows, status, detail,
                        client, prev_hash):
                    return False, seq
                expected_seq, prev = seq + 1, digest
    finally:
        cur.close()
    last = expected_seq - 1
    head_seq, head_hash = (int(head[0][0]), head[0][1]) if head else (0, GENESIS)
    if head_seq != last or head_hash != prev:
        return False, min(head_seq, last) + 1
    return True, None


def count_audit(store: Store) -> int:
    """Rows in the audit log."""
    _ready(store)
    try:
        return int(store.con.execute("SELECT count(*) FROM audit_log").fetchall()[0][0])
    except duckdb.CatalogException:
        return 0


def query_audit(store: Store, since: datetime | None = None, until: datetime | None = None,
                organisation: str | None = None, user: str | None = None,
                limit: int = 1000, offset: int = 0) -> pl.DataFrame:
    """Rows of the log in [since, until] of ``organisation`` and ``user`` (each filter
    optional), oldest first, ``limit`` rows from ``offset``."""
    if not 1 <= limit <= MAX_AUDIT_LIMIT:
        raise ValueError(f"limit: 1 to {MAX_AUDIT_LIMIT}")
    if offset < 0:
        raise ValueError("offset: not negative")
    where, params = ["TRUE"], []
    for cond, value in (("ts >= ?", since), ("ts <= ?", until),
                        ("organisation = ?", organisation), ('"user" = ?', user)):
        if value is not None:
            where.append(cond)
            params.append(value)
    _ready(store)
    try:
        return store.query(f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)}"
                           f" ORDER BY seq LIMIT {int(limit)} OFFSET {int(offset)}", params)
    except duckdb.CatalogException:
        return pl.DataFrame(schema=AUDIT_LOG)


def export_audit(frame: pl.DataFrame, fmt: Literal["csv", "json"] = "csv") -> bytes:
    """``frame`` (from :func:`query_audit`) as CSV (header, ISO times) or JSON (a list of
    objects, ``detail`` as an object)."""
    missing = [c for c in AUDIT_LOG if c not in frame.columns]
    if missing:
        raise ValueError(f"not an audit frame: missing {', '.join(missing)}")
    frame = frame.select(list(AUDIT_LOG))
    if fmt == "csv":
        buf = io.BytesIO()
        safe_text_columns(frame.with_columns(pl.col("ts").dt.strftime(
            "%Y-%m-%dT%H:%M:%S%.6fZ"))).write_csv(buf)
        return buf.getvalue()
    if fmt == "json":
        records = frame.to_dicts()
        for rec in records:
            rec["ts"] = (rec["ts"].astimezone(UTC).isoformat().replace("+00:00", "Z")
                         if rec["ts"] is not None else None)
            with contextlib.suppress(ValueError):  # an altered row: keep the text
                rec["detail"] = json.loads(rec["detail"]) if rec["detail"] else {}
        return json.dumps(records, indent=1).encode("utf-8")
    raise ValueError(f"unknown export format {fmt!r}; expected csv or json")


__all__ = [
    "AUDIT_HEAD",
    "AUDIT_LOG",
    "GENESIS",
    "MAX_AUDIT_LIMIT",
    "TABLES",
    "AuditEntry",
    "count_audit",
    "ensure_tables",
    "export_audit",
    "query_audit",
    "record",
    "row_hash",
    "verify_audit",
]
