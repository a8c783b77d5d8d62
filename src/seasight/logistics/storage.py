"""The logistics stage in the store: append-only DuckDB tables, one transaction per step.

Tables (nothing is ever updated or deleted in them):

=========================  ================================================================
``logistics_agreements``   every version of every agreement (key: agreement_id, version)
``logistics_orders``       one row per order: its number, unique per agreement (and year)
``logistics_steps``        every step of every order (key: order_id, seq), payload as JSON
``logistics_entries``      the ledger (:data:`~seasight.logistics.ledger.ENTRY_SCHEMA`)
``logistics_requests``     idempotency keys: (organisation, key) -> the request's hash and
                           the answer given
``logistics_rates``        exchange rates loaded from CSV, with the file they came from
=========================  ================================================================

Every write (:func:`create_agreement`, :func:`place_order`, :func:`take_step`, ...) runs in ONE
transaction holding its rows, its ledger entries, its audit-log row (the hash-chained
:mod:`seasight.access.audit`) and its idempotency key: a process killed at any moment leaves
either all of them or none. A request repeated with the same idempotency key returns the first
answer and writes nothing; the same key with another request is refused (409). A refused
request writes nothing but its audit row (status 4xx).

Reading: every row a caller reads (agreements, orders, steps, ledger entries, exports and the
balance, ageing, statement and ceiling reports) passes the sharing policy
(:func:`seasight.sharing.policy.permitted`, kind ``logistics``): a party sees the rows it is a
party to; the installation's own organisation (``local``) sees everything; anyone else sees
nothing (an order it may not see is "not found", as one that does not exist). Of the ledger a
party reads its own book. The reports are computed in DuckDB (:mod:`seasight.logistics.queries`)
and their rows pass the policy like the entries they sum.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar, cast

import duckdb
import polars as pl

from seasight.access import audit
from seasight.access.caller import Caller
from seasight.logistics import queries
from seasight.logistics.agreements import (
    LogisticsAgreement,
    agreement_from_json,
    amend,
    fiscal_year,
    make_logistics_agreement,
    revoke,
)
from seasight.logistics.errors import ConflictError, DutyError, LogisticsError, NotFoundError
from seasight.logistics.ledger import ENTRY_SCHEMA, Entry, Transaction, entry_rows
from seasight.logistics.lifecycle import (
    Context,
    OrderState,
    Step,
    decide,
    decide_exchange_counter,
    replay,
)
from seasight.logistics.orders import new_order, order_number
from seasight.logistics.rates import RATES_SCHEMA, RateTable, parse_rates_csv, rates_from_frame
from seasight.model.schema import UTC_US
from seasight.sharing.origins import LOCAL
from seasight.sharing.policy import PARTIES_COLUMN, compile_grants, permitted
from seasight.store import Store

T = TypeVar("T")

AGREEMENTS: Final[dict[str, pl.DataType]] = {
    "agreement_id": pl.String(), "version": pl.Int64(), "reference": pl.String(),
    "party_a": pl.String(), "party_b": pl.String(), "body": pl.String(),
    "recorded_by": pl.String(), "recorded_at": UTC_US,
}
ORDERS: Final[dict[str, pl.DataType]] = {
    "agreement_id": pl.String(), "number": pl.String(), "order_id": pl.String(),
    "year": pl.Int64(), "requester": pl.String(), "provider": pl.String(),
    "created_at": UTC_US,
}
STEPS: Final[dict[str, pl.DataType]] = {
    "order_id": pl.String(), "seq": pl.Int64(), "kind": pl.String(), "actor": pl.String(),
    "actor_org": pl.String(), "at": UTC_US, "on": pl.Date(), "payload": pl.String(),
}
REQUESTS: Final[dict[str, pl.DataType]] = {
    "organisation": pl.String(), "idem_key": pl.String(), "request_hash": pl.String(),
    "response": pl.String(), "at": UTC_US,
}

#: Tables of this module: name -> (schema, key).
TABLES: Final[dict[str, tuple[dict[str, pl.DataType], tuple[str, ...]]]] = {
    "logistics_agreements": (AGREEMENTS, ("agreement_id", "version")),
    "logistics_orders": (ORDERS, ("agreement_id", "number")),
    "logistics_steps": (STEPS, ("order_id", "seq")),
    "logistics_entries": (ENTRY_SCHEMA, ("txn_id", "entry_no")),
    "logistics_requests": (REQUESTS, ("organisation", "idem_key")),
    "logistics_rates": (RATES_SCHEMA, ("rate_date", "base", "quote")),
}

_IDEM_MAX: Final = 200


def ensure_tables(store: Store) -> None:
    """Create the tables if missing (schemas only on a read-only store)."""
    for name, (schema, key) in TABLES.items():
        store.create_table(name, schema, key)
    audit.ensure_tables(store)


def _ready(store: Store) -> None:
    if "logistics_steps" not in store._extra:
        ensure_tables(store)


class _Joined:
    """The store as seen from inside an open transaction: :meth:`transaction` joins it (so
    the audit row commits, or not, with the step)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


def _hash(action: str, body: Mapping[str, Any]) -> str:
    text = json.dumps([action, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write(store: Store, caller: Caller, action: str, body: Mapping[str, Any],
           idempotency_key: str | None, fn: Callable[[], tuple[dict[str, Any], int]],
           now: datetime) -> dict[str, Any]:
    """Run ``fn`` (returns the answer and the rows written) in one transaction with its audit
    row and idempotency key; a known key returns the stored answer."""
    if store.read_only:
        raise ConflictError("db", "the database is open read-only")
    if idempotency_key is not None and (not isinstance(idempotency_key, str)
                                        or not 1 <= len(idempotency_key) <= _IDEM_MAX):
        raise LogisticsError("idempotency_key", f"1 to {_IDEM_MAX} characters")
    _ready(store)
    digest = _hash(action, body)
    con = store.con
    try:
        con.execute("BEGIN TRANSACTION")
        if idempotency_key is not None:
            got = con.execute("SELECT request_hash, response FROM logistics_requests WHERE "
                              "organisation = ? AND idem_key = ?",
                              [caller.organisation, idempotency_key]).fetchall()
            if got:
                con.execute("ROLLBACK")
                if got[0][0] != digest:
                    raise ConflictError("idempotency_key", "already used for another request")
                return cast(dict[str, Any], {**json.loads(got[0][1]), "replayed": True})
        answer, rows = fn()
        audit.record(cast(Store, _Joined(store)), caller, f"logistics {action}", "logistics",
                     rows, 200, {k: v for k, v in answer.items() if k in (
                         "agreement_id", "version", "order_id", "number", "seq", "kind",
                         "state", "txn_ids")} | {"idempotency_key": idempotency_key},
                     key_id=caller.key_id, now=now)
        if idempotency_key is not None:
            con.execute("INSERT INTO logistics_requests VALUES (?, ?, ?, ?, ?)",
                        [caller.organisation, idempotency_key, digest,
                         json.dumps(answer, default=str), now])
        con.execute("COMMIT")
    except duckdb.ConstraintException as exc:
        _rollback(con)
        raise ConflictError("request", f"a concurrent change conflicted; retry ({exc})"
                            ) from None
    except LogisticsError as exc:
        _rollback(con)
        audit.record(store, caller, f"logistics {action}", "logistics", 0, exc.status,
                     {"field": exc.field, "error": exc.message,
                      "idempotency_key": idempotency_key}, key_id=caller.key_id)
        raise
    except BaseException:
        _rollback(con)
        raise
    return answer


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction open (already rolled back)
        con.execute("ROLLBACK")


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _admin_of(caller: Caller, parties: tuple[str, str]) -> None:
    if "admin" not in caller.roles:
        raise DutyError("role", "agreements are recorded by an admin")
    if caller.organisation != LOCAL and caller.organisation not in parties:
        raise DutyError("actor", f"{caller.organisation!r} is not a party")


# --------------------------------------------------------------------------- agreements


def _insert_agreement(store: Store, a: LogisticsAgreement, now: datetime) -> None:
    store.con.execute("INSERT INTO logistics_agreements VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [a.agreement_id, a.version, a.reference, a.party_a, a.party_b,
                       json.dumps(a.to_json()), a.recorded_by, now])


def create_agreement(store: Store, caller: Caller, fields: Mapping[str, Any], *,
                     idempotency_key: str | None = None, now: datetime | None = None
                     ) -> dict[str, Any]:
    """Record a new agreement (version 1) from ``fields`` (the arguments of
    :func:`~seasight.logistics.agreements.make_logistics_agreement`; ``agreement_id`` may be
    left out). By an admin of a party (or of ``local``)."""
    at = _now(now)
    body = dict(fields)

    def go() -> tuple[dict[str, Any], int]:
        args = dict(body)
        agreement_id = args.pop("agreement_id", None) or f"la-{secrets.token_hex(6)}"
        reference = args.pop("reference", None)
        a_org, b_org = args.pop("party_a", None), args.pop("party_b", None)
        a = make_logistics_agreement(agreement_id, reference, a_org, b_org,  # type: ignore[arg-type]
                                     recorded_by=caller.name, **args)
        _admin_of(caller, a.parties)
        if store.con.execute("SELECT count(*) FROM logistics_agreements WHERE agreement_id = ?"
                             " OR reference = ?", [a.agreement_id, a.reference]
                             ).fetchall()[0][0]:
            raise ConflictError("reference", f"an agreement {a.reference} (or id "
                                             f"{a.agreement_id}) exists")
        _insert_agreement(store, a, at)
        return {**a.to_json(), "recorded_at": at.isoformat()}, 1

    return _write(store, caller, "agreement create", body, idempotency_key, go, at)


def _agreement_rows(store: Store, agreement_id: str) -> list[LogisticsAgreement]:
    _ready(store)
    rows = store.con.execute("SELECT body, recorded_at FROM logistics_agreements WHERE "
                             "agreement_id = ? ORDER BY version", [agreement_id]).fetchall()
    out = []
    for body, at in rows:
        a = agreement_from_json(json.loads(body))
        out.append(a if a.recorded_at else replace(a, recorded_at=at))
    return out


def get_agreement(store: Store, agreement_id: str, caller: Caller | None = None,
                  version: int | None = None) -> LogisticsAgreement:
    """The current (or ``version``) of an agreement the caller is a party to."""
    versions = _agreement_rows(store, agreement_id)
    if not versions or (caller is not None and not _sees(caller, versions[-1].parties)):
        raise NotFoundError("agreement_id", f"no agreement {agreement_id!r}")
    if version is None:
        return versions[-1]
    for a in versions:
        if a.version == version:
            return a
    raise NotFoundError("version", f"agreement {agreement_id} has no version {version}")


def agreement_versions(store: Store, agreement_id: str, caller: Caller
                       ) -> list[LogisticsAgreement]:
    """Every version, oldest first."""
    get_agreement(store, agreement_id, caller)
    return _agreement_rows(store, agreement_id)


def list_agreements(store: Store, caller: Caller) -> list[LogisticsAgreement]:
    """The current version of every agreement the caller is a party to."""
    _ready(store)
    rows = store.con.execute(
        "SELECT agreement_id FROM logistics_agreements GROUP BY agreement_id "
        "ORDER BY agreement_id").fetchall()
    out = [_agreement_rows(store, r[0])[-1] for r in rows]
    return [a for a in out if _sees(caller, a.parties)]


def change_agreement(store: Store, caller: Caller, agreement_id: str,
                     changes: Mapping[str, Any], *, revoke_on: object = None,
                     idempotency_key: str | None = None, now: datetime | None = None
                     ) -> dict[str, Any]:
    """Amend (``changes``) or revoke (``revoke_on``) an agreement: a new version."""
    at = _now(now)
    body = {"agreement_id": agreement_id, "changes": dict(changes), "revoke_on": revoke_on}

    def go() -> tuple[dict[str, Any], int]:
        current = get_agreement(store, agreement_id, caller)
        _admin_of(caller, current.parties)
        new = (revoke(current, revoke_on, caller.name) if revoke_on is not None
               else amend(current, caller.name, **dict(changes)))
        _insert_agreement(store, new, at)
        return {**new.to_json(), "recorded_at": at.isoformat()}, 1

    return _write(store, caller, "agreement revoke" if revoke_on is not None
                  else "agreement amend", body, idempotency_key, go, at)


# --------------------------------------------------------------------------- orders


_NO_GRANTS: Final = compile_grants(())  # no sharing agreement grants logistics rows


def visible(caller: Caller, frame: pl.DataFrame, parties: tuple[str, str] = (
        "book", "partner")) -> pl.DataFrame:
    """The rows of ``frame`` that ``caller`` may read, decided by the sharing policy (kind
    ``logistics``): each row belongs to the two organisations in its columns ``parties``."""
    tagged = frame.with_columns(pl.concat_list([pl.col(c).cast(pl.String) for c in parties])
                                .alias(PARTIES_COLUMN))
    return permitted(caller.organisation, "logistics", tagged, _NO_GRANTS,
                     datetime.now(UTC)).drop(PARTIES_COLUMN)


def _sees(caller: Caller, parties: tuple[str, ...]) -> bool:
    """Whether ``caller`` may read a row of ``parties`` (asked of the sharing policy)."""
    row = pl.DataFrame({PARTIES_COLUMN: [list(parties)]},
                       schema={PARTIES_COLUMN: pl.List(pl.String)})
    return permitted(caller.organisation, "logistics", row, _NO_GRANTS,
                     datetime.now(UTC)).height == 1


def _transactions(store: Store, order_id: str) -> dict[int, Transaction]:
    rows = store.con.execute(
        "SELECT seq, txn_id, agreement_id, kind, posted_on, reverses, rate, rate_date, book, "
        "partner, account, category, currency, amount_minor, due_on, liquidates "
        "FROM logistics_entries WHERE order_id = ? ORDER BY seq, entry_no", [order_id]
    ).fetchall()
    head: dict[int, tuple[Any, ...]] = {}
    entries: dict[int, list[Entry]] = defaultdict(list)
    for r in rows:
        head.setdefault(r[0], r[1:8])
        entries[r[0]].append(Entry(*r[8:16]))
    return {seq: Transaction(h[0], order_id, h[1], seq, h[2], h[3], tuple(entries[seq]),
                             h[4], h[5], h[6]) for seq, h in head.items()}


def load_order(store: Store, order_id: str, caller: Caller | None = None) -> OrderState:
    """The current state of an order (replayed from its steps and postings)."""
    _ready(store)
    rows = store.con.execute(
        "SELECT seq, kind, actor, actor_org, \"at\", \"on\", payload FROM logistics_steps "
        "WHERE order_id = ? ORDER BY seq", [order_id]).fetchall()
    if not rows:
        raise NotFoundError("order_id", f"no order {order_id!r}")
    txns = _transactions(store, order_id)
    state = replay((Step(order_id, r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])),
                    txns.get(r[0])) for r in rows)
    if caller is not None and not _sees(caller, (state.order.requester, state.order.provider)):
        raise NotFoundError("order_id", f"no order {order_id!r}")
    return state


def order_history(store: Store, order_id: str, caller: Caller) -> pl.DataFrame:
    """Every step of an order: who, when, what (payload as JSON text)."""
    load_order(store, order_id, caller)
    return store.query("SELECT order_id, seq, kind, actor, actor_org, \"at\", \"on\", payload "
                       "FROM logistics_steps WHERE order_id = ? ORDER BY seq", [order_id])


def find_order(store: Store, ref: str, caller: Caller) -> str:
    """The order id of ``ref`` (an order id or an order number)."""
    _ready(store)
    got = store.con.execute("SELECT order_id FROM logistics_orders WHERE order_id = ? OR "
                            "number = ?", [ref, ref]).fetchall()
    if len(got) != 1:
        raise NotFoundError("order", f"no order {ref!r}")
    load_order(store, got[0][0], caller)
    return str(got[0][0])


def list_orders(store: Store, caller: Caller, agreement_id: str | None = None
                ) -> pl.DataFrame:
    """The orders the caller is a party to: number, parties, current state and amounts."""
    _ready(store)
    where, params = ["TRUE"], []
    if caller.organisation != LOCAL:
        where.append("(requester = ? OR provider = ?)")
        params += [caller.organisation, caller.organisation]
    if agreement_id is not None:
        where.append("agreement_id = ?")
        params.append(agreement_id)
    ids = store.con.execute(f"SELECT order_id FROM logistics_orders WHERE {' AND '.join(where)}"
                            " ORDER BY created_at, number", params).fetchall()
    rows = []
    for (oid,) in ids:
        s = load_order(store, oid)
        rows.append({"order_id": oid, "number": s.order.number,
                     "agreement_id": s.order.agreement_id, "requester": s.order.requester,
                     "provider": s.order.provider, "state": s.state,
                     "version": s.order.version, "totals": json.dumps(s.order.totals()),
                     "owed": json.dumps(s.owed_total())})
    frame = pl.DataFrame(rows, schema={"order_id": pl.String, "number": pl.String,
                                       "agreement_id": pl.String, "requester": pl.String,
                                       "provider": pl.String, "state": pl.String,
                                       "version": pl.Int64, "totals": pl.String,
                                       "owed": pl.String})
    return visible(caller, frame, ("requester", "provider"))


def _ceiling_used(store: Store, agreement_id: str, provider: str, fy: int,
                  exclude: str) -> int:
    got = store.con.execute(
        """SELECT coalesce(sum(json_extract(s.payload, '$.ceiling_minor')::BIGINT), 0)
           FROM logistics_steps s JOIN logistics_orders o USING (order_id)
           WHERE s.kind = 'accept' AND o.agreement_id = ? AND o.provider = ?
             AND json_extract(s.payload, '$.ceiling_fy')::BIGINT = ? AND o.order_id <> ?
             AND NOT EXISTS (SELECT 1 FROM logistics_steps c WHERE c.order_id = o.order_id
                             AND c.kind = 'cancel')""",
        [agreement_id, provider, fy, exclude]).fetchall()
    return int(got[0][0])


def rate_table(store: Store) -> RateTable:
    """The stored exchange rates."""
    _ready(store)
    return rates_from_frame(store.query("SELECT * FROM logistics_rates"))


def _insert_step(store: Store, step: Step, txn: Transaction | None,
                 agreement: LogisticsAgreement) -> int:
    store.con.execute("INSERT INTO logistics_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [step.order_id, step.seq, step.kind, step.actor, step.actor_org,
                       step.at, step.on, json.dumps(dict(step.payload), default=str)])
    if txn is None:
        return 1
    if not txn.balanced():  # decided by the pure core; checked again at the door
        raise AssertionError(f"unbalanced transaction {txn.txn_id}")
    frame = entry_rows([txn], dict(agreement.fy_start_month))
    store.con.register("_entries", frame.to_arrow())
    try:
        store.con.execute("INSERT INTO logistics_entries SELECT * FROM _entries")
    finally:
        store.con.unregister("_entries")
    return 1 + frame.height


def place_order(store: Store, caller: Caller, agreement_id: str, fields: Mapping[str, Any],
                *, submit: bool = False, idempotency_key: str | None = None,
                now: datetime | None = None, today: date | None = None) -> dict[str, Any]:
    """Place an order (a draft; submitted at once with ``submit``) under the current version
    of agreement ``agreement_id``: ``fields`` are the arguments of
    :func:`~seasight.logistics.orders.new_order` but the ids (``requester`` defaults to the
    caller's organisation)."""
    at = _now(now)
    day = today or at.date()
    body = {"agreement_id": agreement_id, "fields": dict(fields), "submit": submit}

    def go() -> tuple[dict[str, Any], int]:
        a = get_agreement(store, agreement_id, caller)
        args = dict(fields)
        args.setdefault("requester", caller.organisation)
        if not a.in_force(day):
            raise LogisticsError("agreement_id", f"agreement {a.reference} is not in force "
                                                 f"on {day}")
        serial = int(store.con.execute(
            "SELECT count(*) FROM logistics_orders WHERE agreement_id = ? AND year = ?",
            [agreement_id, day.year]).fetchall()[0][0]) + 1
        order = new_order(a, f"lo-{secrets.token_hex(8)}",
                          order_number(a.reference, day.year, serial), **args)
        ctx = Context(a, day, at)
        step, _, _ = decide(None, "create", caller, {}, ctx, order)
        store.con.execute("INSERT INTO logistics_orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [a.agreement_id, order.number, order.order_id, day.year,
                           order.requester, order.provider, at])
        rows = 1 + _insert_step(store, step, None, a)
        state = replay([(step, None)])
        if submit:
            step2, _, _ = decide(state, "submit", caller, {}, ctx)
            rows += _insert_step(store, step2, None, a)
            state = replay([(step, None), (step2, None)])
        return {"order_id": order.order_id, "number": order.number, "seq": state.seq,
                "kind": "create", "state": state.state, "order": order.to_json()}, rows

    return _write(store, caller, "order create", body, idempotency_key, go, at)


def take_step(store: Store, caller: Caller, order_id: str, kind: str,
              payload: Mapping[str, Any] | None = None, *,
              idempotency_key: str | None = None, now: datetime | None = None,
              today: date | None = None) -> dict[str, Any]:
    """Take step ``kind`` (submit, accept, reject, cancel, override, deliver, receive,
    invoice, settle, reverse, close) on an order, with ``payload`` (see
    :func:`seasight.logistics.lifecycle.decide`)."""
    at = _now(now)
    day = today or at.date()
    payload = dict(payload or {})
    body = {"order_id": order_id, "kind": kind, "payload": payload}

    def go() -> tuple[dict[str, Any], int]:
        state = load_order(store, order_id, caller)
        a = get_agreement(store, state.order.agreement_id)
        used = 0
        if kind == "accept":
            fy_a = a.fy_month(state.order.provider)
            used = _ceiling_used(store, a.agreement_id, state.order.provider,
                                 fiscal_year(state.order.start, fy_a), order_id)
        ctx = Context(a, day, at, used, rate_table(store))
        step, txn, counters = decide(state, kind, caller, payload, ctx)
        rows = _insert_step(store, step, txn, a)
        txn_ids = [txn.txn_id] if txn else []
        for counter_id, counter_payload in counters:
            c = load_order(store, counter_id, caller)
            cstep, ctxn = decide_exchange_counter(c, state.order, counter_payload, caller, ctx)
            rows += _insert_step(store, cstep, ctxn, a)
            txn_ids.append(ctxn.txn_id)
        after = load_order(store, order_id)
        return {"order_id": order_id, "number": after.order.number, "seq": step.seq,
                "kind": kind, "state": after.state, "txn_ids": txn_ids,
                "payload": {k: v for k, v in step.payload.items() if not k.startswith("_")},
                "owed_minor": after.owed_total()}, rows

    return _write(store, caller, f"order {kind}", body, idempotency_key, go, at)


# --------------------------------------------------------------------------- rates, ledger


def load_rates(store: Store, caller: Caller, csv_text: str, source: str = "rates.csv", *,
               idempotency_key: str | None = None, now: datetime | None = None
               ) -> dict[str, Any]:
    """Store the rates of a CSV file (see :mod:`seasight.logistics.rates`); rates already
    stored for a pair and date are kept, a different rate for them is refused."""
    at = _now(now)
    table = parse_rates_csv(csv_text, source)
    frame = table.to_frame(source)

    def go() -> tuple[dict[str, Any], int]:
        if "analyst" not in caller.roles:
            raise DutyError("role", "loading rates needs role analyst")
        stored = rates_from_frame(store.query("SELECT * FROM logistics_rates"))
        new = []
        for row in frame.iter_rows(named=True):
            have = dict(stored.pairs.get((row["base"], row["quote"]), []))
            old = have.get(row["rate_date"])
            if old is None:
                new.append(row)
            elif old.normalize() != Decimal(row["rate"]).normalize():
                raise ConflictError("rate", f"{row['base']}/{row['quote']} on "
                                            f"{row['rate_date']} is stored as {old}")
        if new:
            store.con.register("_rates", pl.DataFrame(new, schema=RATES_SCHEMA).to_arrow())
            try:
                store.con.execute("INSERT INTO logistics_rates SELECT * FROM _rates")
            finally:
                store.con.unregister("_rates")
        return {"source": source, "rates": frame.height, "added": len(new)}, len(new)

    return _write(store, caller, "rates load", {"source": source, "csv": csv_text},
                  idempotency_key, go, at)


def _book_of(caller: Caller, book: str | None) -> str | None:
    return caller.organisation if caller.organisation != LOCAL else book


def ledger_entries(store: Store, caller: Caller, *, book: str | None = None
                   ) -> pl.DataFrame:
    """The ledger entries of the caller's own book (``local``: every book, or ``book``),
    as the sharing policy lets the caller read them."""
    _ready(store)
    org = _book_of(caller, book)
    if org is None:
        frame = store.query("SELECT * FROM logistics_entries ORDER BY txn_id, entry_no")
    else:
        frame = store.query("SELECT * FROM logistics_entries WHERE book = ? "
                            "ORDER BY txn_id, entry_no", [org])
    return visible(caller, frame)


def balance_report(store: Store, caller: Caller, *, book: str | None = None
                   ) -> pl.DataFrame:
    """:func:`seasight.logistics.reports.balances` of the caller's book (``local``: every
    book, or ``book``), computed in DuckDB, rows passed through the sharing policy."""
    _ready(store)
    return visible(caller, queries.balances(store.con, _book_of(caller, book)))


def ageing_report(store: Store, caller: Caller, as_of: date, *, book: str | None = None
                  ) -> pl.DataFrame:
    """:func:`seasight.logistics.reports.ageing` of the caller's book on ``as_of``, computed
    in DuckDB, rows passed through the sharing policy."""
    _ready(store)
    return visible(caller, queries.ageing(store.con, _book_of(caller, book), as_of))


def statement_report(store: Store, caller: Caller, partner: str, fiscal_year: int, *,
                     book: str | None = None) -> pl.DataFrame:
    """:func:`seasight.logistics.reports.statement` of the caller's book with ``partner``
    for the book's ``fiscal_year``, computed in DuckDB, passed through the sharing policy."""
    _ready(store)
    org = _book_of(caller, book) or caller.organisation
    frame = queries.statement(store.con, org, partner, fiscal_year)
    tagged = frame.with_columns(pl.lit(org).alias("_book"), pl.lit(partner).alias("_partner"))
    return visible(caller, tagged, ("_book", "_partner")).drop("_book", "_partner")


CEILING_SCHEMA: Final[dict[str, pl.DataType]] = {
    "agreement_id": pl.String(), "reference": pl.String(), "provider": pl.String(),
    "requester": pl.String(), "fiscal_year": pl.Int64(), "currency": pl.String(),
    "ceiling_minor": pl.Int64(), "used_minor": pl.Int64(), "remaining_minor": pl.Int64(),
    "orders": pl.Int64(), "overrides": pl.Int64(),
}


def ceiling_report(store: Store, caller: Caller, *, agreement_id: str | None = None,
                   fiscal_year: int | None = None) -> pl.DataFrame:
    """Ceiling use per agreement, fiscal year (the provider's) and direction (provider ->
    requester), for the agreements the caller is a party to: the ceiling of the current
    version, what the accepted orders not cancelled count against it (``used_minor``, as the
    check at acceptance counts it), ``remaining_minor`` (negative: passed under overrides), the
    number of such ``orders`` and of ``overrides`` (orders accepted beyond the ceiling with an
    admin's override). A direction with use but no ceiling (removed by an amendment) has null
    ceiling and remaining."""
    _ready(store)
    used = store.con.execute(
        """SELECT o.agreement_id, o.provider,
                  json_extract(s.payload, '$.ceiling_fy')::BIGINT AS fy,
                  any_value(json_extract_string(s.payload, '$.ceiling_currency')) AS cur,
                  coalesce(sum(json_extract(s.payload, '$.ceiling_minor')::BIGINT), 0)::BIGINT,
                  count(*),
                  count(*) FILTER (WHERE json_extract(s.payload, '$.over_ceiling')::BOOLEAN)
           FROM logistics_steps s JOIN logistics_orders o USING (order_id)
           WHERE s.kind = 'accept' AND json_extract(s.payload, '$.ceiling_fy') IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM logistics_steps c WHERE c.order_id = o.order_id
                             AND c.kind = 'cancel')
           GROUP BY ALL""").fetchall()
    usage = {(r[0], r[1], int(r[2])): (r[3], int(r[4]), int(r[5]), int(r[6])) for r in used}
    rows = []
    for a in list_agreements(store, caller):
        if agreement_id is not None and a.agreement_id != agreement_id:
            continue
        keys = {(c.provider, c.fiscal_year) for c in a.ceilings}
        keys |= {(p, fy) for (aid, p, fy) in usage if aid == a.agreement_id}
        for provider, fy in sorted(keys):
            if fiscal_year is not None and fy != fiscal_year:
                continue
            c = a.ceiling(provider, fy)
            cur, used_minor, n, overrides = usage.get((a.agreement_id, provider, fy),
                                                      (None, 0, 0, 0))
            rows.append({"agreement_id": a.agreement_id, "reference": a.reference,
                         "provider": provider,
                         "requester": a.party_b if provider == a.party_a else a.party_a,
                         "fiscal_year": fy, "currency": c.currency if c else cur,
                         "ceiling_minor": c.amount_minor if c else None,
                         "used_minor": used_minor,
                         "remaining_minor": c.amount_minor - used_minor if c else None,
                         "orders": n, "overrides": overrides})
    frame = pl.DataFrame(rows, schema=CEILING_SCHEMA)
    return visible(caller, frame, ("provider", "requester"))


__all__ = [
    "AGREEMENTS",
    "CEILING_SCHEMA",
    "ORDERS",
    "REQUESTS",
    "STEPS",
    "TABLES",
    "ageing_report",
    "agreement_versions",
    "balance_report",
    "ceiling_report",
    "change_agreement",
    "create_agreement",
    "ensure_tables",
    "find_order",
    "get_agreement",
    "ledger_entries",
    "list_agreements",
    "list_orders",
    "load_order",
    "load_rates",
    "order_history",
    "place_order",
    "rate_table",
    "statement_report",
    "take_step",
    "visible",
]
