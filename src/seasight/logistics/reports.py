"""Reports on the ledger, as pure functions of entry frames
(:data:`~seasight.logistics.ledger.ENTRY_SCHEMA`): balances, ageing, statements, and figures
in a reporting currency.

Balances are sums of entries, so they equal the postings by construction. *Owed to the book*
is the ``receivable`` balance, *owed by the book* minus the ``payable`` balance.

Ageing (:func:`ageing`) sorts what is still owed on each order by its settlement deadline:
the obligations of an order (netted per due date) are liquidated first in, first out, oldest
deadline first, undated (not yet invoiced) last; what remains falls in a bucket by days past
its deadline on ``as_of``: ``not_due`` (also undated), ``1-30``, ``31-90``, ``over_90``.

Example:
    >>> import datetime as dt
    >>> from seasight.logistics.ledger import entry_rows, obligation
    >>> t = obligation("o1", "a1", 3, dt.date(2025, 1, 5), "A", "B", {("USD", "fuel"): 1000},
    ...                dt.date(2025, 2, 4))
    >>> e = entry_rows([t], {"A": 1, "B": 10})
    >>> ageing(e, dt.date(2025, 3, 10)).select("book", "bucket", "amount_minor").rows()
    [('A', '31-90', 1000), ('B', '31-90', -1000)]
"""

from __future__ import annotations

from datetime import date
from typing import Final

import polars as pl

from seasight.logistics.money import format_minor
from seasight.logistics.rates import RateTable

BUCKETS: Final = ("not_due", "1-30", "31-90", "over_90")
_OPEN_ACCOUNTS: Final = ("receivable", "payable")


def balances(entries: pl.DataFrame, by: tuple[str, ...] = (
        "book", "partner", "currency", "category", "fiscal_year")) -> pl.DataFrame:
    """Owed to (``receivable_minor``) and by (``payable_minor``) each book, and the net, by
    ``by``; the amounts given (``provided_minor``) and received (``received_minor``)."""
    return (entries.group_by(list(by)).agg(
        receivable_minor=pl.col("amount_minor").filter(pl.col("account") == "receivable").sum(),
        payable_minor=-pl.col("amount_minor").filter(pl.col("account") == "payable").sum(),
        provided_minor=-pl.col("amount_minor").filter(pl.col("account") == "provided").sum(),
        received_minor=pl.col("amount_minor").filter(pl.col("account") == "received").sum(),
    ).with_columns(net_minor=pl.col("receivable_minor") - pl.col("payable_minor"))
        .sort(list(by)))


def ageing(entries: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """What is owed to and by each book, per partner, currency and ageing bucket (receivables
    positive, payables negative); columns ``book, partner, currency, bucket, amount_minor``."""
    open_ = entries.filter(pl.col("account").is_in(_OPEN_ACCOUNTS))
    sign = pl.when(pl.col("account") == "receivable").then(1).otherwise(-1)
    open_ = open_.with_columns((pl.col("amount_minor") * sign).alias("a"))
    keys = ["book", "partner", "order_id", "account", "currency"]
    items = (open_.filter(~pl.col("liquidates")).group_by([*keys, "due_on"])
             .agg(pl.col("a").sum()).filter(pl.col("a") > 0))
    paid = (open_.filter(pl.col("liquidates")).group_by(keys)
            .agg((-pl.col("a").sum()).alias("paid")))
    items = (items.join(paid, on=keys, how="left").with_columns(pl.col("paid").fill_null(0))
             .sort([*keys, "due_on"], nulls_last=True)
             .with_columns(pl.col("a").cum_sum().over(keys).alias("cum")))
    items = items.with_columns(
        pl.min_horizontal(pl.col("a"), pl.max_horizontal(pl.col("cum") - pl.col("paid"), 0))
        .alias("left"))
    overdue = (pl.lit(as_of) - pl.col("due_on")).dt.total_days()
    bucket = (pl.when(pl.col("due_on").is_null() | (overdue <= 0)).then(pl.lit("not_due"))
              .when(overdue <= 30).then(pl.lit("1-30"))
              .when(overdue <= 90).then(pl.lit("31-90")).otherwise(pl.lit("over_90")))
    out = (items.filter(pl.col("left") > 0).with_columns(bucket.alias("bucket"))
           .with_columns(pl.when(pl.col("account") == "receivable").then(pl.col("left"))
                         .otherwise(-pl.col("left")).alias("amount_minor"))
           .group_by(["book", "partner", "currency", "bucket"])
           .agg(pl.col("amount_minor").sum()))
    order = pl.col("bucket").replace_strict({b: i for i, b in enumerate(BUCKETS)})
    return (out.with_columns(order.alias("_o")).sort(["book", "partner", "currency", "_o"])
            .drop("_o"))


def statement(entries: pl.DataFrame, book: str, partner: str, fiscal_year: int
              ) -> pl.DataFrame:
    """A statement of account of ``book`` with ``partner`` for ``book``'s ``fiscal_year``:
    one row per posting on the open accounts, oldest first, with the running balance per
    currency (positive: the partner owes the book) starting from the balance brought forward
    from earlier fiscal years (``opening_minor``). Rows of one transaction keep the order of
    their first entry."""
    mine = entries.filter((pl.col("book") == book) & (pl.col("partner") == partner)
                          & pl.col("account").is_in(_OPEN_ACCOUNTS))
    opening = (mine.filter(pl.col("fiscal_year") < fiscal_year).group_by("currency")
               .agg(pl.col("amount_minor").sum().alias("opening_minor")))
    rows = mine.filter(pl.col("fiscal_year") == fiscal_year)
    rows = (rows.group_by(["posted_on", "txn_id", "order_id", "kind", "currency", "due_on"],
                          maintain_order=True)
            .agg(pl.col("amount_minor").sum(), pl.col("category").unique().sort()
                 .str.join(",").alias("categories"),
                 pl.col("entry_no").min().alias("_first"))
            .filter(pl.col("amount_minor") != 0)
            .sort(["currency", "posted_on", "txn_id", "_first"], maintain_order=True)
            .drop("_first")
            .join(opening, on="currency", how="left")
            .with_columns(pl.col("opening_minor").fill_null(0))
            .with_columns((pl.col("opening_minor")
                           + pl.col("amount_minor").cum_sum().over("currency"))
                          .alias("balance_minor")))
    return rows


def formatted(frame: pl.DataFrame, currency_col: str = "currency") -> pl.DataFrame:
    """``frame`` with each ``*_minor`` column also as exact text in major units."""
    out = frame
    curs = frame[currency_col].to_list()
    for col in [c for c in frame.columns if c.endswith("_minor")]:
        text = [format_minor(int(v), cur) if v is not None else None
                for v, cur in zip(frame[col].to_list(), curs, strict=True)]
        out = out.with_columns(pl.Series(col.removesuffix("_minor"), text, pl.String))
    return out


def in_reporting_currency(frame: pl.DataFrame, rates: RateTable, to: str, on: date,
                          column: str = "amount_minor") -> pl.DataFrame:
    """``frame`` with ``column`` converted to ``to`` at the rate of day ``on``: adds
    ``<column>_<to>``, ``rate`` and ``rate_date`` (every converted figure carries its rate)."""
    out = []
    for row in frame.iter_rows(named=True):
        c = rates.convert(int(row[column]), row["currency"], to, on)
        out.append((c.amount_minor, c.rate, c.rate_date))
    conv = pl.DataFrame(out, schema={f"{column}_{to}": pl.Int64, "rate": pl.String,
                                     "rate_date": pl.Date}, orient="row")
    return pl.concat([frame, conv], how="horizontal")


__all__ = ["BUCKETS", "ageing", "balances", "formatted", "in_reporting_currency",
           "statement"]
