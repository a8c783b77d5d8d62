"""Dated exchange rates, loaded from CSV, for reporting in one currency.

The CSV has a header and columns ``date,base,quote,rate``: on ``date`` one unit of ``base`` was
worth ``rate`` units of ``quote`` (``2025-03-14,USD,JPY,148.62``). Rates are kept as exact
decimals (text), never floats. A figure converted on day *d* uses the latest rate dated on or
before *d* for the pair, or the inverse of the pair's reverse rate when only that exists; every
converted figure carries the rate and its date (:class:`Converted`), and reports list the rates
they used.

Bad rows (unknown currency, a date or rate that does not parse, a rate not above zero, the same
pair and date twice with different rates) are refused with their line number and column; a
file with any bad row loads nothing.

Example:
    >>> table = parse_rates_csv("date,base,quote,rate\\n2025-03-14,USD,JPY,148.62\\n")
    >>> from datetime import date
    >>> c = table.convert(10000, "USD", "JPY", date(2025, 3, 20))
    >>> c.amount_minor, c.rate, c.rate_date.isoformat()
    (14862, '148.62', '2025-03-14')
"""

from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final

import polars as pl

from seasight.logistics.errors import LogisticsError
from seasight.logistics.money import convert, currency

RATE_COLUMNS: Final = ("date", "base", "quote", "rate")

#: Schema of the stored rates (``logistics_rates``).
RATES_SCHEMA: Final[dict[str, pl.DataType]] = {
    "rate_date": pl.Date(), "base": pl.String(), "quote": pl.String(), "rate": pl.String(),
    "source": pl.String(),
}


@dataclass(frozen=True)
class Converted:
    """A figure in the reporting currency, with the rate used (exact text) and its date
    (None when no conversion was needed)."""

    amount_minor: int
    currency: str
    rate: str
    rate_date: date | None


@dataclass
class RateTable:
    """Rates by pair, each a sorted list of (date, rate)."""

    pairs: dict[tuple[str, str], list[tuple[date, Decimal]]] = field(default_factory=dict)

    def add(self, day: date, base: str, quote: str, rate: Decimal) -> None:
        """Add one rate (same pair and date twice with another rate: refused)."""
        series = self.pairs.setdefault((base, quote), [])
        i = bisect.bisect_left(series, (day,), key=lambda x: (x[0],))
        if i < len(series) and series[i][0] == day:
            if series[i][1] != rate:
                raise LogisticsError("rate", f"{base}/{quote} on {day} given twice "
                                             f"({series[i][1]} and {rate})")
            return
        series.insert(i, (day, rate))

    def rate(self, base: str, quote: str, on: date) -> tuple[Decimal, date]:
        """Units of ``quote`` per unit of ``base`` on day ``on`` and the date of the rate."""
        if base == quote:
            return Decimal(1), on
        found: list[tuple[date, Decimal]] = []
        for pair, invert in (((base, quote), False), ((quote, base), True)):
            series = self.pairs.get(pair, [])
            i = bisect.bisect_right(series, (on,), key=lambda x: (x[0],))
            if i:
                day, r = series[i - 1]
                found.append((day, 1 / r if invert else r))
        if not found:
            raise LogisticsError("rates", f"no {base}/{quote} rate on or before {on}")
        day, r = max(found, key=lambda x: x[0])
        return r, day

    def convert(self, amount_minor: int, from_code: str, to_code: str, on: date) -> Converted:
        """``amount_minor`` of ``from_code`` in ``to_code`` at the rate of day ``on``."""
        if from_code == to_code:
            return Converted(amount_minor, to_code, "1", None)
        r, day = self.rate(from_code, to_code, on)
        return Converted(convert(amount_minor, from_code, to_code, r), to_code,
                         _text(r), day)

    def to_frame(self, source: str = "") -> pl.DataFrame:
        """The table as rows of :data:`RATES_SCHEMA`."""
        rows = [(d, b, q, _text(r), source) for (b, q), s in sorted(self.pairs.items())
                for d, r in s]
        return pl.DataFrame(rows, schema=RATES_SCHEMA, orient="row")


def _text(r: Decimal) -> str:
    """A rate as text: exact for loaded rates; inverses to 12 significant digits."""
    if r.as_tuple().exponent is not None and len(r.as_tuple().digits) > 12:  # type: ignore[operator]
        r = Decimal(f"{r:.12g}")
    return format(r.normalize(), "f")


def parse_rates_csv(text: str, source: str = "rates.csv") -> RateTable:
    """A :class:`RateTable` from CSV text (see the module documentation)."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in RATE_COLUMNS if c not in header]
    if missing:
        raise LogisticsError("rates", f"{source}: missing column(s) {', '.join(missing)}")
    idx = {c: header.index(c) for c in RATE_COLUMNS}
    table = RateTable()
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        def cell(name: str, row: list[str] = row) -> str:
            return row[idx[name]].strip() if idx[name] < len(row) else ""
        where = f"{source} line {line_no}"
        try:
            day = date.fromisoformat(cell("date"))
        except ValueError:
            raise LogisticsError("date", f"{where}: not a date: {cell('date')!r}") from None
        base = currency(cell("base").upper(), "base").code
        quote = currency(cell("quote").upper(), "quote").code
        try:
            rate = Decimal(cell("rate"))
        except InvalidOperation:
            raise LogisticsError("rate", f"{where}: not a number: {cell('rate')!r}") from None
        if not rate.is_finite() or rate <= 0:
            raise LogisticsError("rate", f"{where}: must be above zero")
        if base == quote:
            raise LogisticsError("quote", f"{where}: same currency as base")
        table.add(day, base, quote, rate)
    return table


def rates_from_frame(frame: pl.DataFrame) -> RateTable:
    """A :class:`RateTable` from stored rows (:data:`RATES_SCHEMA`)."""
    table = RateTable()
    for day, base, quote, rate in frame.select("rate_date", "base", "quote", "rate").iter_rows():
        table.add(day, base, quote, Decimal(rate))
    return table


__all__ = ["RATES_SCHEMA", "RATE_COLUMNS", "Converted", "RateTable", "parse_rates_csv",
           "rates_from_frame"]
