"""Reciprocal logistics (ACSA) between partner organisations: agreements, orders, deliveries,
settlements and balances in an exact double-entry ledger.

Pure core: :mod:`~seasight.logistics.money` (ISO 4217 currencies, exact minor units),
:mod:`~seasight.logistics.codes` (code tables), :mod:`~seasight.logistics.agreements`,
:mod:`~seasight.logistics.orders`, :mod:`~seasight.logistics.lifecycle` (states, duties, steps),
:mod:`~seasight.logistics.ledger` (balanced postings), :mod:`~seasight.logistics.reports`
(balances, ageing, ceilings, statements) and :mod:`~seasight.logistics.rates`. Storage and
the audit log: :mod:`~seasight.logistics.storage`.
"""

from seasight.logistics.errors import ConflictError, DutyError, LogisticsError, NotFoundError

__all__ = ["ConflictError", "DutyError", "LogisticsError", "NotFoundError"]
