"""The double-entry ledger: every step that moves value posts one balanced transaction.

Each party keeps its own *book*; a transaction holds the entries of both books, and within a
transaction every book balances in every currency (debits, positive, equal credits, negative).
Amounts are integer minor units (:mod:`seasight.logistics.money`).

Accounts (in the book of ``book``, about ``partner``):

=====================  ======================================================================
``receivable``         what the partner owes the book (the provider's side of an obligation)
``payable``            what the book owes the partner (the requester's side; credit balance)
``provided``           value of supplies and services given (credit)
``received``           value of supplies and services received (debit)
``cash``               money paid or received
``fx_trading``         currency trading account: a payment in another currency than the order's
``replacement_in``     items received back in kind (provider)
``replacement_out``    items given back in kind (requester)
``exchange_clearing``  an equal value exchange: the two orders' steps net to zero here
=====================  ======================================================================

What posts (provider P, requester R, per category and currency):

* receipt confirmed: P ``receivable`` +a / ``provided`` -a; R ``received`` +a / ``payable`` -a.
  With a deadline counted from delivery the obligation carries its due date; counted from the
  invoice it has none (not yet invoiced) until
* invoice: moves the uninvoiced obligation to an obligation due on invoice date + days
  (``receivable`` +a due / -a undated; ``payable`` the other way).
* settlement (``liquidates``): P ``receivable`` -a against ``cash`` / ``replacement_in`` /
  ``exchange_clearing``; R ``payable`` +a against ``cash`` / ``replacement_out`` /
  ``exchange_clearing``. A payment in currency X for an order in currency Y goes through
  ``fx_trading`` so each currency balances; the step keeps the rate and its date.
* a reversal posts the entries of the step it corrects with opposite signs.

Example:
    >>> from datetime import date
    >>> t = obligation("o1", "a1", 3, date(2025, 1, 5), "Navy A", "Navy B",
    ...                {("USD", "fuel"): 1000}, None)
    >>> t.balanced(), [(e.book, e.account, e.amount_minor) for e in t.entries]
    ... # doctest: +NORMALIZE_WHITESPACE
    (True, [('Navy A', 'receivable', 1000), ('Navy A', 'provided', -1000),
            ('Navy B', 'received', 1000), ('Navy B', 'payable', -1000)])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Final

import polars as pl

from seasight.logistics.errors import LogisticsError

ACCOUNTS: Final = ("receivable", "payable", "provided", "received", "cash", "fx_trading",
                   "replacement_in", "replacement_out", "exchange_clearing")

#: Columns of ``logistics_entries``.
ENTRY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "txn_id": pl.String(),
    "entry_no": pl.Int64(),
    "order_id": pl.String(),
    "agreement_id": pl.String(),
    "seq": pl.Int64(),  # the order step that posted it
    "kind": pl.String(),  # receipt, invoice, settlement, reversal
    "posted_on": pl.Date(),
    "book": pl.String(),
    "partner": pl.String(),
    "account": pl.String(),
    "category": pl.String(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),  # debit positive, credit negative
    "due_on": pl.Date(),
    "liquidates": pl.Boolean(),
    "fiscal_year": pl.Int64(),  # of the book's party
    "reverses": pl.String(),
    "rate": pl.String(),
    "rate_date": pl.Date(),
}


@dataclass(frozen=True)
class Entry:
    """One line of a transaction."""

    book: str
    partner: str
    account: str
    category: str
    currency: str
    amount_minor: int  # debit positive, credit negative
    due_on: date | None = None
    liquidates: bool = False


@dataclass(frozen=True)
class Transaction:
    """The entries one order step posts."""

    txn_id: str
    order_id: str
    agreement_id: str
    seq: int
    kind: str
    on: date
    entries: tuple[Entry, ...]
    reverses: str | None = None
    rate: str | None = None
    rate_date: date | None = None

    def imbalance(self) -> dict[tuple[str, str], int]:
        """(book, currency) -> sum of amounts, for those that do not sum to zero."""
        sums: dict[tuple[str, str], int] = defaultdict(int)
        for e in self.entries:
            sums[(e.book, e.currency)] += e.amount_minor
        return {k: v for k, v in sums.items() if v}

    def balanced(self) -> bool:
        """Whether every book balances in every currency."""
        return not self.imbalance()


def _txn(order_id: str, agreement_id: str, seq: int, kind: str, on: date,
         entries: list[Entry], **extra: object) -> Transaction:
    t = Transaction(f"{order_id}:{seq}", order_id, agreement_id, seq, kind, on,
                    tuple(e for e in entries if e.amount_minor), **extra)  # type: ignore[arg-type]
    bad = t.imbalance()
    if bad:  # a programming error, never bad input: nothing unbalanced is ever stored
        raise AssertionError(f"unbalanced transaction {t.txn_id}: {bad}")
    return t


def obligation(order_id: str, agreement_id: str, seq: int, on: date, provider: str,
               requester: str, amounts: Mapping[tuple[str, str], int],
               due_on: date | None) -> Transaction:
    """A confirmed receipt: ``amounts`` by (currency, category) now owed by the requester."""
    entries: list[Entry] = []
    for (cur, cat), a in sorted(amounts.items()):
        entries += [Entry(provider, requester, "receivable", cat, cur, a, due_on),
                    Entry(provider, requester, "provided", cat, cur, -a),
                    Entry(requester, provider, "received", cat, cur, a),
                    Entry(requester, provider, "payable", cat, cur, -a, due_on)]
    return _txn(order_id, agreement_id, seq, "receipt", on, entries)


def invoice(order_id: str, agreement_id: str, seq: int, on: date, provider: str,
            requester: str, amounts: Mapping[tuple[str, str], int], due_on: date
            ) -> Transaction:
    """An invoice: the uninvoiced ``amounts`` become due on ``due_on``."""
    entries: list[Entry] = []
    for (cur, cat), a in sorted(amounts.items()):
        entries += [Entry(provider, requester, "receivable", cat, cur, a, due_on),
                    Entry(provider, requester, "receivable", cat, cur, -a, None),
                    Entry(requester, provider, "payable", cat, cur, -a, due_on),
                    Entry(requester, provider, "payable", cat, cur, a, None)]
    return _txn(order_id, agreement_id, seq, "invoice", on, entries)


def settlement(order_id: str, agreement_id: str, seq: int, on: date, provider: str,
               requester: str, method: str, amounts: Mapping[tuple[str, str], int], *,
               paid: tuple[str, int] | None = None, rate: str | None = None,
               rate_date: date | None = None) -> Transaction:
    """A settlement liquidating ``amounts`` by (currency, category).

    ``method`` cash: ``paid`` = (currency, minor units) handed over; when its currency is not
    the order's the difference of currencies goes through ``fx_trading``. Replacement in kind
    and equal value exchange post against ``replacement_in/out`` and ``exchange_clearing``.
    """
    p_acct, r_acct = {"cash": ("cash", "cash"),
                      "replacement_in_kind": ("replacement_in", "replacement_out"),
                      "equal_value_exchange": ("exchange_clearing", "exchange_clearing")}[method]
    entries: list[Entry] = []
    for (cur, cat), a in sorted(amounts.items()):
        entries += [Entry(provider, requester, "receivable", cat, cur, -a, None, True),
                    Entry(requester, provider, "payable", cat, cur, a, None, True)]
    if method == "cash" and paid is not None and paid[0] not in {c for c, _ in amounts}:
        liquidated: dict[str, int] = defaultdict(int)
        for (cur, _), a in amounts.items():
            liquidated[cur] += a
        for cur, a in sorted(liquidated.items()):
            entries += [Entry(provider, requester, "fx_trading", "", cur, a),
                        Entry(requester, provider, "fx_trading", "", cur, -a)]
        entries += [Entry(provider, requester, "fx_trading", "", paid[0], -paid[1]),
                    Entry(provider, requester, "cash", "", paid[0], paid[1]),
                    Entry(requester, provider, "fx_trading", "", paid[0], paid[1]),
                    Entry(requester, provider, "cash", "", paid[0], -paid[1])]
    else:
        for (cur, cat), a in sorted(amounts.items()):
            entries += [Entry(provider, requester, p_acct, cat, cur, a),
                        Entry(requester, provider, r_acct, cat, cur, -a)]
    return _txn(order_id, agreement_id, seq, "settlement", on, entries, rate=rate,
                rate_date=rate_date)


def exchange_counterpart(order_id: str, agreement_id: str, seq: int, on: date,
                         provider: str, requester: str,
                         amounts: Mapping[tuple[str, str], int]) -> Transaction:
    """The counter order's side of an equal value exchange (its obligation liquidated against
    ``exchange_clearing``)."""
    t = settlement(order_id, agreement_id, seq, on, provider, requester,
                   "equal_value_exchange", amounts)
    return replace(t, kind="settlement")


def reversal(original: Transaction, seq: int, on: date) -> Transaction:
    """The entries of ``original`` with opposite signs."""
    entries = [replace(e, amount_minor=-e.amount_minor) for e in original.entries]
    return _txn(original.order_id, original.agreement_id, seq, "reversal", on, entries,
                reverses=original.txn_id, rate=original.rate, rate_date=original.rate_date)


def allocate(amount: int, open_items: Mapping[tuple[str, str], int], currency: str,
             field: str = "amount") -> dict[tuple[str, str], int]:
    """Split ``amount`` of ``currency`` over the open (currency, category) items of that
    currency, in category order; refused when it is more than they hold."""
    left = amount
    out: dict[tuple[str, str], int] = {}
    for key in sorted(k for k, v in open_items.items() if k[0] == currency and v > 0):
        take = min(left, open_items[key])
        if take:
            out[key] = take
            left -= take
    if left:
        owed = sum(v for k, v in open_items.items() if k[0] == currency and v > 0)
        raise LogisticsError(field, f"more than is owed: {amount} minor units of {currency} "
                                    f"given, {owed} owed")
    return out


def entry_rows(txns: Iterable[Transaction], fy_of: Mapping[str, int]) -> pl.DataFrame:
    """Rows of :data:`ENTRY_SCHEMA` for ``txns``; ``fy_of`` maps each party to the first
    month of its fiscal year."""
    from seasight.logistics.agreements import fiscal_year

    rows = []
    for t in txns:
        for i, e in enumerate(t.entries):
            rows.append((t.txn_id, i, t.order_id, t.agreement_id, t.seq, t.kind, t.on, e.book,
                         e.partner, e.account, e.category, e.currency, e.amount_minor,
                         e.due_on, e.liquidates, fiscal_year(t.on, fy_of[e.book]),
                         t.reverses, t.rate, t.rate_date))
    return pl.DataFrame(rows, schema=ENTRY_SCHEMA, orient="row")


__all__ = [
    "ACCOUNTS",
    "ENTRY_SCHEMA",
    "Entry",
    "Transaction",
    "allocate",
    "entry_rows",
    "exchange_counterpart",
    "invoice",
    "obligation",
    "reversal",
    "settlement",
]
