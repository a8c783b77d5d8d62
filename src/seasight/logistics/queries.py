"""The ledger reports computed inside DuckDB: balances, ageing and statements as SQL over the
``logistics_entries`` table, filtered to one book (and partner, fiscal year) before anything
leaves the database.

Each function returns exactly the frame its pure reference in :mod:`seasight.logistics.reports`
returns for the same book's entries (same columns, types, rows and order; integers in minor
units): the pure functions define the results, these make them fast on a large book
(``python -m seasight.bench.logistics``). A test compares both on random books.

Nothing here decides who may read what: :mod:`seasight.logistics.storage` passes what these
return through the sharing policy.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import duckdb
import polars as pl

from seasight.logistics.reports import BUCKETS

_BALANCE_KEYS: Final = ("book", "partner", "currency", "category", "fiscal_year")

#: Columns and types of the report frames (as the pure functions make them).
BALANCE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "book": pl.String(), "partner": pl.String(), "currency": pl.String(),
    "category": pl.String(), "fiscal_year": pl.Int64(), "receivable_minor": pl.Int64(),
    "payable_minor": pl.Int64(), "provided_minor": pl.Int64(), "received_minor": pl.Int64(),
    "net_minor": pl.Int64(),
}
AGEING_SCHEMA: Final[dict[str, pl.DataType]] = {
    "book": pl.String(), "partner": pl.String(), "currency": pl.String(),
    "bucket": pl.String(), "amount_minor": pl.Int64(),
}
STATEMENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "posted_on": pl.Date(), "txn_id": pl.String(), "order_id": pl.String(),
    "kind": pl.String(), "currency": pl.String(), "due_on": pl.Date(),
    "amount_minor": pl.Int64(), "categories": pl.String(), "opening_minor": pl.Int64(),
    "balance_minor": pl.Int64(),
}


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[object],
           schema: dict[str, pl.DataType]) -> pl.DataFrame:
    got = con.sql(sql, params=params).pl()
    return got.cast(dict(schema.items())).select(list(schema))  # type: ignore[arg-type]


def _book(book: str | None) -> tuple[str, list[object]]:
    return ("TRUE", []) if book is None else ("book = ?", [book])


def balances(con: duckdb.DuckDBPyConnection, book: str | None) -> pl.DataFrame:
    """:func:`seasight.logistics.reports.balances` of ``book``'s entries (None: every book)."""
    where, params = _book(book)
    keys = ", ".join(_BALANCE_KEYS)

    def acct(name: str, sign: str = "") -> str:
        return (f"{sign}coalesce(sum(amount_minor) FILTER (WHERE account = '{name}'), 0)"
                "::BIGINT")

    sql = f"""
        SELECT {keys}, {acct('receivable')} AS receivable_minor,
               {acct('payable', '-')} AS payable_minor,
               {acct('provided', '-')} AS provided_minor,
               {acct('received')} AS received_minor
        FROM logistics_entries WHERE {where} GROUP BY {keys}"""
    sql = (f"SELECT *, receivable_minor - payable_minor AS net_minor FROM ({sql}) "
           f"ORDER BY {', '.join(k + ' NULLS FIRST' for k in _BALANCE_KEYS)}")
    return _frame(con, sql, params, BALANCE_SCHEMA)


def ageing(con: duckdb.DuckDBPyConnection, book: str | None, as_of: date) -> pl.DataFrame:
    """:func:`seasight.logistics.reports.ageing` of ``book``'s entries on ``as_of``: each
    order's obligations (netted per due date) liquidated first in, first out by deadline
    (undated last), what is left put in a bucket by days past its deadline."""
    where, params = _book(book)
    keys = "book, partner, order_id, account, currency"
    sql = f"""
        WITH open_ AS (
            SELECT book, partner, order_id, account, currency, due_on, liquidates,
                   CASE WHEN account = 'receivable' THEN amount_minor
                        ELSE -amount_minor END AS a
            FROM logistics_entries
            WHERE account IN ('receivable', 'payable') AND {where}),
        items AS (
            SELECT {keys}, due_on, sum(a)::BIGINT AS a FROM open_ WHERE NOT liquidates
            GROUP BY {keys}, due_on HAVING sum(a) > 0),
        paid AS (
            SELECT {keys}, (-sum(a))::BIGINT AS paid FROM open_ WHERE liquidates
            GROUP BY {keys}),
        fifo AS (
            SELECT i.*, coalesce(p.paid, 0) AS paid,
                   sum(i.a) OVER (PARTITION BY i.book, i.partner, i.order_id, i.account,
                                               i.currency
                                  ORDER BY i.due_on NULLS LAST
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
            FROM items i LEFT JOIN paid p USING ({keys})),
        left_ AS (
            SELECT *, least(a, greatest(cum - paid, 0)) AS "left",
                   (?::DATE - due_on) AS overdue
            FROM fifo),
        bucketed AS (
            SELECT book, partner, currency, account, "left",
                   CASE WHEN due_on IS NULL OR overdue <= 0 THEN 'not_due'
                        WHEN overdue <= 30 THEN '1-30'
                        WHEN overdue <= 90 THEN '31-90' ELSE 'over_90' END AS bucket
            FROM left_ WHERE "left" > 0)
        SELECT book, partner, currency, bucket,
               sum(CASE WHEN account = 'receivable' THEN "left" ELSE -"left" END)::BIGINT
                   AS amount_minor
        FROM bucketed
        GROUP BY book, partner, currency, bucket
        ORDER BY book NULLS FIRST, partner NULLS FIRST, currency NULLS FIRST,
                 list_position({list(BUCKETS)!r}, bucket)"""
    return _frame(con, sql, [*params, as_of], AGEING_SCHEMA)


def statement(con: duckdb.DuckDBPyConnection, book: str, partner: str, fiscal_year: int
              ) -> pl.DataFrame:
    """:func:`seasight.logistics.reports.statement` of ``book`` with ``partner`` for
    ``fiscal_year``: only that book, partner and the years up to ``fiscal_year`` are read."""
    sql = """
        WITH mine AS (
            SELECT * FROM logistics_entries
            WHERE book = ? AND partner = ? AND account IN ('receivable', 'payable')
              AND fiscal_year <= ?),
        opening AS (
            SELECT currency, sum(amount_minor)::BIGINT AS opening_minor FROM mine
            WHERE fiscal_year < ? GROUP BY currency),
        rows_ AS (
            SELECT posted_on, txn_id, order_id, kind, currency, due_on,
                   sum(amount_minor)::BIGINT AS amount_minor,
                   array_to_string(list_sort(list_distinct(list(category))), ',')
                       AS categories,
                   min(entry_no) AS first_entry
            FROM mine WHERE fiscal_year = ?
            GROUP BY posted_on, txn_id, order_id, kind, currency, due_on
            HAVING sum(amount_minor) <> 0)
        SELECT r.posted_on, r.txn_id, r.order_id, r.kind, r.currency, r.due_on,
               r.amount_minor, r.categories, coalesce(o.opening_minor, 0) AS opening_minor,
               (coalesce(o.opening_minor, 0) + sum(r.amount_minor) OVER (
                    PARTITION BY r.currency ORDER BY r.posted_on, r.txn_id, r.first_entry
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))::BIGINT
                   AS balance_minor
        FROM rows_ r LEFT JOIN opening o USING (currency)
        ORDER BY r.currency, r.posted_on, r.txn_id, r.first_entry"""
    return _frame(con, sql, [book, partner, fiscal_year, fiscal_year, fiscal_year],
                  STATEMENT_SCHEMA)


__all__ = ["AGEING_SCHEMA", "BALANCE_SCHEMA", "STATEMENT_SCHEMA", "ageing", "balances",
           "statement"]
