"""The audit log: who accessed or changed what, when and how much; append-only and
tamper-evident.

Each row of ``audit_log`` has a sequence number (1, 2, ...) and a ``hash``: the SHA-256 of the
row's content together with the previous row's hash (``prev_hash``; 64 zeros for the first
row). Changing, inserting or deleting any row breaks the chain from that row on, and
:func:`check_audit` finds the first broken row. A one-row table ``audit_head`` holds the last
sequence number and hash. Both live in the database, so someone who can write the file can
rebuild them; the anchor (:mod:`seasight.access.anchor`), kept outside the database and
authenticated with a key, is what detects a cut tail, a re-chained log, an emptied log or
dropped tables.

Changes of access and sharing are recorded by the functions that make them, in the same
transaction (:func:`change`), so no path (command line, HTTP, library) changes anything
without its row. This module has no function that updates or deletes rows. :func:`record` is
one small transaction (read the head, insert one row, move the head) and is safe to call from
several threads of one process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import duckdb
import polars as pl

from seasight.access import anchor as _anchor
from seasight.access.caller import Caller
from seasight.model.csv_cells import safe_text_columns
from seasight.model.schema import UTC_US
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


def _row_values(caller: Caller | None, action: str, kind: str, rows: int, status: int,
                detail: dict[str, Any] | None, now: datetime | None
                ) -> tuple[int, str | None, str | None, str]:
    """Check the arguments of a row; its time (µs), organisation, user and detail (JSON)."""
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
    return ts_us, org, user, detail_json


def _append(store: Store, caller: Caller | None, action: str, kind: str, rows: int,
            status: int, detail: dict[str, Any] | None, key_id: str | None,
            client: str | None, now: datetime | None) -> AuditEntry:
    """Insert one row and move the head, inside the caller's open transaction."""
    ts_us, org, user, detail_json = _row_values(caller, action, kind, rows, status, detail,
                                                now)
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


def _hash_at(store: Store) -> Any:
    def hash_at(seq: int) -> str | None:
        got = store.con.execute("SELECT hash FROM audit_log WHERE seq = ?", [seq]).fetchall()
        return got[0][0] if got else None
    return hash_at


def anchor_head(store: Store, entry: AuditEntry | None = None) -> bool:
    """Move the anchor outside the database to ``entry`` (default: the current head), after
    its commit. Returns whether the anchor names it (see :func:`seasight.access.anchor.advance`;
    a refusal is logged)."""
    if entry is None:
        got = store.con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchall()
        if not got:
            return False
        entry = AuditEntry(int(got[0][0]), got[0][1])
    return _anchor.advance(store.path, entry.seq, entry.hash, _hash_at(store))


def record(store: Store, caller: Caller | None, action: str, kind: str, rows: int = 0,
           status: int = 200, detail: dict[str, Any] | None = None, *,
           key_id: str | None = None, client: str | None = None,
           now: datetime | None = None, anchor: bool = True) -> AuditEntry:
    """Append one row to the audit log: ``caller`` (None: anonymous, e.g. a refused key) did
    ``action`` on data of ``kind``, touching ``rows`` rows, answered ``status``.

    ``detail`` is any JSON-able mapping (values that are not JSON become strings). With
    ``anchor`` (default) the anchor outside the database is moved to the new row; a writer of
    many rows passes False and calls :func:`anchor_head` once after them. Raises
    :class:`ValueError` for bad arguments and on a read-only store.
    """
    if store.read_only:
        raise ValueError("cannot record in the audit log: the database is open read-only")
    _row_values(caller, action, kind, rows, status, detail, now)  # fail before the lock
    _ready(store)
    with _LOCK, store.transaction():
        entry = _append(store, caller, action, kind, rows, status, detail, key_id, client,
                        now)
    if anchor:
        anchor_head(store, entry)
    return entry


@contextlib.contextmanager
def change(store: Store, by: Caller | None, action: str, kind: str,
           detail: dict[str, Any] | None = None, rows: int = 1) -> Iterator[dict[str, Any]]:
    """A change of access or sharing and its audit row, committed together.

    The block makes the change (statements on ``store``, no transaction of its own) and may
    add to the yielded ``detail``; the row is appended at the end of the block, as ``by``
    (None: the installation's operator, :meth:`Caller.local`) with status 0, and the
    transaction commits; an exception rolls back both. The anchor is then moved.
    """
    if store.read_only:
        raise ValueError("cannot change anything: the database is open read-only")
    who = by if by is not None else Caller.local()
    content: dict[str, Any] = dict(detail or {})
    _ready(store)
    with _LOCK:
        with store.transaction():
            yield content
            entry = _append(store, who, action, kind, rows, 0, content, who.key_id, None,
                            None)
        anchor_head(store, entry)


@dataclass(frozen=True)
class AuditCheck:
    """What :func:`check_audit` found. ``ok``: the chain is intact and reaches the anchor.

    ``first_bad_seq``: the first row altered, inserted or missing (None when ok, or when the
    anchor itself is the problem); ``anchored_seq``: the row the anchor names (None: no
    anchor); ``unanchored``: rows after the anchor (normally 0; a few after a crash between a
    commit and the anchor's write); ``problem``: why not ok, in words.
    """

    ok: bool
    rows: int
    first_bad_seq: int | None = None
    anchored_seq: int | None = None
    unanchored: int = 0
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {"ok": self.ok, "rows": self.rows, "first_bad_seq": self.first_bad_seq,
                "anchored_seq": self.anchored_seq, "unanchored": self.unanchored,
                "problem": self.problem}


def _chain(store: Store, batch: int, want: int | None
           ) -> tuple[int | None, int, str | None, str]:
    """Walk the chain in one snapshot: (first bad seq or None, rows, hash of row ``want``,
    problem)."""
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
        return None, 0, None, "no audit tables"
    wanted: str | None = None
    try:
        expected_seq, prev = 1, GENESIS
        while chunk := cur.fetchmany(batch):
            for row in chunk:
                seq, ts_us, org, user, key_id, action, kind, rows, status, detail, client, \
                    prev_hash, digest = row
                if seq != expected_seq:
                    return expected_seq, expected_seq - 1, None, \
                        f"row {expected_seq} is missing or rows were inserted"
                if prev_hash != prev or ts_us is None or digest != row_hash(
                        seq, ts_us, org, user, key_id, action, kind, rows, status, detail,
                        client, prev_hash):
                    return seq, seq - 1, None, f"row {seq} was altered"
                if seq == want:
                    wanted = digest
                expected_seq, prev = seq + 1, digest
    finally:
        cur.close()
    last = expected_seq - 1
    head_seq, head_hash = (int(head[0][0]), head[0][1]) if head else (0, GENESIS)
    if head_seq != last or head_hash != prev:
        return min(head_seq, last) + 1, last, wanted, \
            f"the head names row {head_seq} but the log ends at row {last}"
    return None, last, wanted, ""


def check_audit(store: Store, batch: int = 10_000, *, anchor_file: Path | None = None
                ) -> AuditCheck:
    """Check the whole chain and that it reaches the anchor (default: this database's anchor
    file, :func:`seasight.access.anchor.anchor_path`; or an exported copy ``anchor_file``).

    The anchor is read before the log, so a row recorded meanwhile is no false alarm. Without
    an anchor file only an empty log (a new installation) passes.
    """
    db = Path(store.path)
    memory = _anchor.in_memory(db)
    path = anchor_file if anchor_file is not None else (None if memory else
                                                        _anchor.anchor_path(db))
    pinned: _anchor.Anchor | None = None
    anchor_problem = ""
    if path is not None:
        try:
            key = _anchor.read_key(_anchor.key_path(db))
            pinned = _anchor.load(path, key)
            if pinned is not None and key is None:
                anchor_problem = (f"the anchor key {_anchor.key_path(db)} is missing: the "
                                  "anchor cannot be authenticated")
        except (_anchor.AnchorError, OSError) as exc:
            anchor_problem = str(exc)
    _ready(store)
    bad, rows, at_anchor, problem = _chain(store, batch, pinned.seq if pinned else None)
    if problem == "no audit tables":
        problem = ""
    pinned_seq = pinned.seq if pinned is not None else None
    if bad is not None:
        return AuditCheck(False, count_audit(store), bad, pinned_seq, 0, problem)
    if anchor_problem:
        return AuditCheck(False, rows, None, pinned_seq, 0, anchor_problem)
    if pinned is None:
        if rows == 0 or memory:
            return AuditCheck(True, rows)
        return AuditCheck(False, rows, None, None, 0,
                          f"no anchor at {path}: the log's {rows} row(s) cannot be checked "
                          "against anything outside the database (check an exported copy, "
                          "then 'seasight access audit anchor --reset')")
    if rows < pinned.seq:
        return AuditCheck(False, rows, rows + 1, pinned.seq, 0,
                          f"the anchor names row {pinned.seq} but the log ends at row {rows}: "
                          "rows were cut off the end, the log emptied or its tables dropped")
    if at_anchor != pinned.hash:
        return AuditCheck(False, rows, pinned.seq, pinned.seq, 0,
                          f"row {pinned.seq} does not have the anchored hash: the log was "
                          "rewritten and re-chained")
    return AuditCheck(True, rows, None, pinned.seq, rows - pinned.seq)


def verify_audit(store: Store, batch: int = 10_000) -> tuple[bool, int | None]:
    """``(True, None)`` when :func:`check_audit` passes, else ``(False, seq)`` with the first
    row that was altered, inserted or is missing (``last seq + 1`` when rows were cut off the
    end; None when the anchor itself is missing, forged or unreadable)."""
    result = check_audit(store, batch)
    return result.ok, result.first_bad_seq


def reanchor(store: Store, by: Caller | None = None, reason: str = "") -> AuditCheck:
    """Anchor the log at its current head whatever the anchor says, after checking the chain
    (:class:`ValueError` if it is broken): for an installation that has no anchor yet, or
    after the operator has investigated a failed check (a restored backup). The re-anchoring
    is itself recorded, with the anchor it replaces."""
    if store.read_only:
        raise ValueError("cannot re-anchor: the database is open read-only")
    db = Path(store.path)
    if _anchor.in_memory(db):
        raise ValueError("an in-memory database has no anchor")
    _ready(store)
    bad, rows, _, problem = _chain(store, 10_000, None)
    if bad is not None:
        raise ValueError(f"the chain itself is broken ({problem}); export the log for "
                         "investigation first")
    old: dict[str, Any]
    try:
        pinned = _anchor.load(_anchor.anchor_path(db), None)
        old = ({"seq": pinned.seq, "hash": pinned.hash, "written_at": pinned.written_at}
               if pinned else {"missing": True})
    except (_anchor.AnchorError, OSError) as exc:
        old = {"unreadable": str(exc)}
    entry = record(store, by or Caller.local(), "audit re-anchor", "audit", rows, 0,
                   {"replaced_anchor": old, "reason": reason}, key_id=by.key_id if by else None,
                   anchor=False)
    _anchor.reset(db, entry.seq, entry.hash)
    return check_audit(store)


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
    "AuditCheck",
    "AuditEntry",
    "anchor_head",
    "change",
    "check_audit",
    "count_audit",
    "ensure_tables",
    "export_audit",
    "query_audit",
    "reanchor",
    "record",
    "row_hash",
    "verify_audit",
]
