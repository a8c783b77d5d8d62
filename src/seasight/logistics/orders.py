"""Orders under a logistics agreement: what is asked, by whom, where, for what, and how it is
to be settled.

An :class:`Order` is a value (one *version*; the provider's adjustment on acceptance makes the
next). Its number, ``<agreement reference>-<year>-<NNNN>``, is readable by people and unique per
agreement and year (the store hands out the next one). Units are organisations' units, a ship
given by MMSI, IMO or name; the place is a port by UN/LOCODE or a position. Quantities are
thousandths (``qty_milli``) and prices minor units (:mod:`seasight.logistics.money`).

:func:`new_order` checks a request against the agreement version it is placed under: parties,
term, categories covered, currencies, units of measure, settlement method.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any, Final

from seasight.logistics.agreements import LogisticsAgreement, parse_date
from seasight.logistics.codes import (
    check_category,
    check_locode,
    check_method,
    check_purpose,
    check_unit,
)
from seasight.logistics.errors import LogisticsError
from seasight.logistics.money import currency, line_amount, parse_quantity, to_minor

MAX_LINES: Final = 500
_TEXT_MAX: Final = 500
_ITEM_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,39}")


@dataclass(frozen=True)
class Unit:
    """A unit of an organisation; a ship by MMSI, IMO number or name."""

    name: str
    mmsi: int | None = None
    imo: int | None = None


@dataclass(frozen=True)
class Place:
    """Where: a port (UN/LOCODE) or a position, with an optional name."""

    locode: str | None = None
    lat: float | None = None
    lon: float | None = None
    name: str = ""


@dataclass(frozen=True)
class OrderLine:
    """One line: ``qty_milli`` thousandths of ``unit`` at ``unit_price_minor`` each."""

    line_no: int
    category: str
    description: str
    qty_milli: int
    unit: str
    unit_price_minor: int
    currency: str
    item_code: str | None = None

    @property
    def amount_minor(self) -> int:
        """Quantity times unit price, rounded half to even to the minor unit."""
        return line_amount(self.qty_milli, self.unit_price_minor)


@dataclass(frozen=True)
class Order:
    """One version of an order."""

    order_id: str
    number: str
    agreement_id: str
    agreement_version: int
    requester: str
    provider: str
    requesting_unit: Unit
    providing_unit: Unit
    place: Place
    purpose: str
    start: date
    end: date
    method: str
    lines: tuple[OrderLine, ...]
    version: int = 1
    note: str = ""

    def totals(self) -> dict[str, int]:
        """Value per currency (minor units)."""
        out: dict[str, int] = defaultdict(int)
        for line in self.lines:
            out[line.currency] += line.amount_minor
        return dict(sorted(out.items()))

    def line(self, line_no: int) -> OrderLine:
        """Line ``line_no``."""
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise LogisticsError("line_no", f"order {self.number} has no line {line_no}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-able mapping (dates ISO, money in minor units, quantities in thousandths)."""
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def _text(value: object, field: str, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > _TEXT_MAX:
        raise LogisticsError(field, f"text of at most {_TEXT_MAX} characters")
    if required and not value.strip():
        raise LogisticsError(field, "required")
    return value


def _int(value: object, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise LogisticsError(field, f"an integer {lo}-{hi}, not {value!r}")
    return value


def parse_unit(raw: object, field: str) -> Unit:
    """A :class:`Unit` from a mapping ``{name, mmsi?, imo?}`` (or a plain name)."""
    if isinstance(raw, Unit):
        raw = asdict(raw)
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise LogisticsError(field, "an object {name, mmsi, imo}")
    mmsi, imo = raw.get("mmsi"), raw.get("imo")
    if mmsi is not None:
        mmsi = _int(mmsi, f"{field}.mmsi", 1, 999_999_999)
    if imo is not None:
        imo = _int(imo, f"{field}.imo", 1_000_000, 9_999_999)
        digits = [int(d) for d in f"{imo:07d}"]
        if sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 != digits[6]:
            raise LogisticsError(f"{field}.imo", f"{imo} fails the IMO number check digit")
    return Unit(_text(raw.get("name"), f"{field}.name", required=True), mmsi, imo)


def parse_place(raw: object, field: str = "place") -> Place:
    """A :class:`Place` from ``{locode}`` or ``{lat, lon}`` (and an optional ``name``)."""
    if isinstance(raw, Place):
        raw = asdict(raw)
    if isinstance(raw, str):
        raw = {"locode": raw}
    if not isinstance(raw, Mapping):
        raise LogisticsError(field, "an object {locode} or {lat, lon}")
    name = _text(raw.get("name"), f"{field}.name")
    if raw.get("locode"):
        return Place(check_locode(raw["locode"], f"{field}.locode"), None, None, name)
    lat, lon = raw.get("lat"), raw.get("lon")
    for value, what, lim in ((lat, "lat", 90), (lon, "lon", 180)):
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not -lim <= value <= lim:
            raise LogisticsError(f"{field}.{what}", f"degrees within +-{lim}, or give locode")
    return Place(None, float(lat), float(lon), name)  # type: ignore[arg-type]


def parse_line(raw: object, line_no: int, agreement: LogisticsAgreement) -> OrderLine:
    """A checked line ``{category, description, quantity, unit, unit_price, currency,
    item_code?}`` (``unit_price`` as exact text in major units, or ``unit_price_minor``)."""
    f = f"lines[{line_no - 1}]"
    if isinstance(raw, OrderLine):
        raw = asdict(raw)
    if not isinstance(raw, Mapping):
        raise LogisticsError(f, "an object")
    category = check_category(raw.get("category"), f"{f}.category")
    if category not in agreement.categories:
        raise LogisticsError(f"{f}.category", f"{category!r} is not covered by agreement "
                                              f"{agreement.reference}")
    cur = currency(raw.get("currency"), f"{f}.currency").code
    if cur not in agreement.currencies:
        raise LogisticsError(f"{f}.currency", f"{cur} is not a currency of agreement "
                                              f"{agreement.reference}")
    qty = (_int(raw["qty_milli"], f"{f}.quantity", 1, 10**12) if "qty_milli" in raw
           else parse_quantity(raw.get("quantity"), f"{f}.quantity"))
    price = (_int(raw["unit_price_minor"], f"{f}.unit_price", 0, 10**15)
             if "unit_price_minor" in raw
             else to_minor(raw.get("unit_price"), cur, f"{f}.unit_price"))
    item = raw.get("item_code")
    if item is not None and (not isinstance(item, str) or not _ITEM_RE.fullmatch(item)):
        raise LogisticsError(f"{f}.item_code", f"1-40 letters, digits, space . _ / -: {item!r}")
    return OrderLine(line_no, category, _text(raw.get("description"), f"{f}.description",
                                              required=True),
                     qty, check_unit(raw.get("unit"), f"{f}.unit"), price, cur, item)


def new_order(agreement: LogisticsAgreement, order_id: str, number: str, *, requester: str,
              requesting_unit: object, providing_unit: object, place: object, purpose: str,
              start: object, end: object, method: str, lines: Iterable[object],
              note: str = "") -> Order:
    """A checked first version of an order under ``agreement`` (its current version)."""
    if requester not in agreement.parties:
        raise LogisticsError("requester", f"{requester!r} is not a party of agreement "
                                          f"{agreement.reference}")
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if last < first:
        raise LogisticsError("end", "before start")
    if agreement.revoked_on is not None and first >= agreement.revoked_on:
        raise LogisticsError("agreement_id", f"agreement {agreement.reference} was revoked "
                                             f"on {agreement.revoked_on}")
    if not (agreement.start <= first and last <= agreement.end):
        raise LogisticsError("start" if first < agreement.start else "end",
                             f"outside the agreement's term {agreement.start} to "
                             f"{agreement.end}")
    method = check_method(method)
    if agreement.terms(method) is None:
        raise LogisticsError("method", f"agreement {agreement.reference} does not allow "
                                       f"{method!r}")
    raw_lines = list(lines)
    if not raw_lines:
        raise LogisticsError("lines", "at least one line")
    if len(raw_lines) > MAX_LINES:
        raise LogisticsError("lines", f"at most {MAX_LINES}")
    parsed = tuple(parse_line(raw, i, agreement) for i, raw in enumerate(raw_lines, start=1))
    return Order(order_id, number, agreement.agreement_id, agreement.version, requester,
                 agreement.other(requester), parse_unit(requesting_unit, "requesting_unit"),
                 parse_unit(providing_unit, "providing_unit"), parse_place(place),
                 check_purpose(purpose), first, last, method, parsed, 1,
                 _text(note, "note"))


def adjust(order: Order, changes: Iterable[object]) -> Order:
    """The next version of ``order`` with the provider's changes: mappings ``{line_no,
    quantity?|qty_milli?, unit_price?|unit_price_minor?}``."""
    lines = {line.line_no: line for line in order.lines}
    for i, raw in enumerate(changes):
        f = f"adjustments[{i}]"
        if not isinstance(raw, Mapping):
            raise LogisticsError(f, "an object {line_no, quantity, unit_price}")
        no = _int(raw.get("line_no"), f"{f}.line_no", 1, MAX_LINES)
        line = lines.get(no)
        if line is None:
            raise LogisticsError(f"{f}.line_no", f"no line {no}")
        if "qty_milli" in raw:
            line = replace(line, qty_milli=_int(raw["qty_milli"], f"{f}.quantity", 1, 10**12))
        elif "quantity" in raw:
            line = replace(line, qty_milli=parse_quantity(raw["quantity"], f"{f}.quantity"))
        if "unit_price_minor" in raw:
            line = replace(line, unit_price_minor=_int(raw["unit_price_minor"],
                                                       f"{f}.unit_price", 0, 10**15))
        elif "unit_price" in raw:
            line = replace(line, unit_price_minor=to_minor(raw["unit_price"], line.currency,
                                                           f"{f}.unit_price"))
        lines[no] = line
    new_lines = tuple(lines[k] for k in sorted(lines))
    if new_lines == order.lines:
        return order
    return replace(order, lines=new_lines, version=order.version + 1)


def order_from_json(data: Mapping[str, Any]) -> Order:
    """The order :meth:`Order.to_json` wrote."""
    return Order(
        data["order_id"], data["number"], data["agreement_id"], int(data["agreement_version"]),
        data["requester"], data["provider"], Unit(**data["requesting_unit"]),
        Unit(**data["providing_unit"]), Place(**data["place"]), data["purpose"],
        date.fromisoformat(data["start"]), date.fromisoformat(data["end"]), data["method"],
        tuple(OrderLine(**line) for line in data["lines"]), int(data["version"]),
        data.get("note", ""))


def order_number(reference: str, year: int, serial: int) -> str:
    """``<reference>-<year>-<serial, 4 digits or more>``."""
    return f"{reference}-{year}-{serial:04d}"


__all__ = [
    "MAX_LINES",
    "Order",
    "OrderLine",
    "Place",
    "Unit",
    "adjust",
    "new_order",
    "order_from_json",
    "order_number",
    "parse_line",
    "parse_place",
    "parse_unit",
]
