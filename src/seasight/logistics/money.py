"""Exact money: integer amounts in a currency's minor units, from the ISO 4217 table.

The currency table is the ``iso4217`` package (the ISO 4217 list as published by SIX, kept up
to date by its maintainers): a currency's *exponent* says how many minor units a major unit has
(JPY 0: 1 yen; USD and INR 2: cents and paise; KWD 3: fils). Codes without an exponent (gold
XAU, special drawing rights XDR, the test code XTS...) are not money one can settle in and are
refused.

No float ever carries money: amounts are ``int`` minor units; text and :class:`~decimal.Decimal`
are parsed exactly and refused when they have more decimals than the currency allows.
Quantities are exact too: integer thousandths of a unit (``qty_milli``), so 12.5 t is 12500.

A line's value is ``quantity x unit price``, rounded once, half to even, to the currency's
minor unit (:func:`line_amount`). Converting between currencies multiplies by a dated rate
(:mod:`seasight.logistics.rates`) and rounds the same way.

Example:
    >>> to_minor("1234.5", "USD"), to_minor("1500", "JPY"), format_minor(123450, "USD")
    (123450, 1500, '1234.50')
    >>> line_amount(parse_quantity("2.5"), to_minor("3.99", "USD"))  # 9.975 -> 9.98
    998
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Final

from iso4217 import Currency as _Iso

from seasight.logistics.errors import LogisticsError

#: Quantities are stored as integer thousandths of their unit.
QTY_SCALE: Final = 1000
#: Largest amount accepted in one field (minor units): far beyond any real order, and small
#: enough that sums of a thousand such amounts stay inside a signed 64-bit integer.
MAX_MINOR: Final = 10**15
#: Largest quantity (thousandths).
MAX_QTY_MILLI: Final = 10**12


@dataclass(frozen=True)
class CurrencyInfo:
    """One row of the currency table."""

    code: str  # ISO 4217 alphabetic, e.g. USD
    exponent: int  # minor units per major unit = 10 ** exponent
    name: str


@cache
def _table() -> dict[str, CurrencyInfo]:
    out: dict[str, CurrencyInfo] = {}
    for cur in _Iso:
        if cur.exponent is None:
            continue
        out[cur.code.upper()] = CurrencyInfo(cur.code.upper(), int(cur.exponent),
                                             str(cur.currency_name))
    return out


def currencies() -> list[CurrencyInfo]:
    """Every currency one can settle in (ISO 4217 codes with a minor unit), by code."""
    return sorted(_table().values(), key=lambda c: c.code)


def currency(code: object, field: str = "currency") -> CurrencyInfo:
    """The table row of ``code`` (three letters, any case), else :class:`LogisticsError`
    naming ``field``."""
    if not isinstance(code, str) or len(code) != 3:
        raise LogisticsError(field, f"an ISO 4217 code of three letters, not {code!r}")
    info = _table().get(code.upper())
    if info is None:
        raise LogisticsError(field, f"unknown currency {code!r} (not in ISO 4217, or without "
                                    "a minor unit)")
    return info


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool | float):
        raise LogisticsError(field, f"give an exact number as text or an integer, not the "
                                    f"float {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise LogisticsError(field, f"not a number: {value!r}") from None
    else:
        raise LogisticsError(field, f"not a number: {value!r}")
    if not number.is_finite():
        raise LogisticsError(field, f"not a finite number: {value!r}")
    return number


def to_minor(value: object, code: str, field: str = "amount") -> int:
    """``value`` (text like ``"1234.50"``, a Decimal or an int of major units) in minor units
    of ``code``, exactly; refused when it has more decimals than the currency has, is negative
    or absurdly large."""
    info = currency(code)
    number = _decimal(value, field)
    scaled = number.scaleb(info.exponent)
    if scaled != scaled.to_integral_value():
        raise LogisticsError(field, f"{value!r} has more than {info.exponent} decimals, the "
                                    f"minor unit of {info.code}")
    minor = int(scaled)
    if minor < 0:
        raise LogisticsError(field, f"must not be negative, got {value!r}")
    if minor > MAX_MINOR:
        raise LogisticsError(field, f"too large: {value!r}")
    return minor


def format_minor(minor: int, code: str) -> str:
    """``minor`` units of ``code`` as exact text with the currency's decimals (``-12.30``)."""
    exp = currency(code).exponent
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(int(minor)), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"


def parse_quantity(value: object, field: str = "quantity") -> int:
    """A quantity (text, Decimal or int; at most 3 decimals) in thousandths; it must be more
    than zero."""
    number = _decimal(value, field)
    scaled = number.scaleb(3)
    if scaled != scaled.to_integral_value():
        raise LogisticsError(field, f"{value!r} has more than 3 decimals")
    milli = int(scaled)
    if milli <= 0:
        raise LogisticsError(field, f"must be more than zero, got {value!r}")
    if milli > MAX_QTY_MILLI:
        raise LogisticsError(field, f"too large: {value!r}")
    return milli


def format_quantity(milli: int) -> str:
    """Thousandths as text without trailing zeros: 12500 -> ``12.5``, 3000 -> ``3``."""
    text = str(Decimal(int(milli)).scaleb(-3).normalize())
    return text if "E" not in text else str(int(milli) // QTY_SCALE)


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half to even, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(numerator, denominator)
    twice = 2 * r
    if twice > denominator or (twice == denominator and q % 2 == 1):
        q += 1
    return q


def line_amount(qty_milli: int, unit_price_minor: int) -> int:
    """Value of ``qty_milli`` thousandths at ``unit_price_minor`` per unit, in minor units,
    rounded half to even."""
    return round_half_even(int(qty_milli) * int(unit_price_minor), QTY_SCALE)


def convert(minor: int, from_code: str, to_code: str, rate: Decimal) -> int:
    """``minor`` units of ``from_code`` in ``to_code`` at ``rate`` (units of ``to_code`` per
    unit of ``from_code``), rounded half to even to the minor unit of ``to_code``."""
    if not rate.is_finite() or rate <= 0:
        raise LogisticsError("rate", f"must be a positive number, got {rate}")
    e_from, e_to = currency(from_code).exponent, currency(to_code).exponent
    num, exp = rate.as_integer_ratio()
    # minor / 10**e_from * rate * 10**e_to  ==  minor * num * 10**e_to / (exp * 10**e_from)
    return round_half_even(int(minor) * num * 10**e_to, exp * 10**e_from) if minor >= 0 else \
        -round_half_even(-int(minor) * num * 10**e_to, exp * 10**e_from)


__all__ = [
    "MAX_MINOR",
    "MAX_QTY_MILLI",
    "QTY_SCALE",
    "CurrencyInfo",
    "convert",
    "currencies",
    "currency",
    "format_minor",
    "format_quantity",
    "line_amount",
    "parse_quantity",
    "round_half_even",
    "to_minor",
]
