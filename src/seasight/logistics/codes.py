"""The code tables of reciprocal logistics: categories of supplies and services, units of
measure, purposes, settlement methods and deadline bases. Each table maps a code (stored and
exchanged) to its meaning (shown to people); codes never change meaning.

Categories follow the list of the ACSA statutes and treaties ("food, water, billeting,
transportation, petroleum, oils, lubricants, clothing, communication services, medical
services, ammunition, base operations support, storage services, use of facilities, training
services, spare parts and components, repair and maintenance services, calibration services,
and port services"), less what such agreements never cover: :data:`EXCLUDED` (ammunition,
weapons and guided missiles, ...) is refused whatever an agreement says.

Example:
    >>> check_category("fuel"), UNITS["m3"]
    ('fuel', 'cubic metre')
"""

from __future__ import annotations

import re
from typing import Final

from seasight.logistics.errors import LogisticsError

#: Supplies and services an agreement may cover: code -> meaning.
CATEGORIES: Final[dict[str, str]] = {
    "food": "Food and rations",
    "water": "Potable and technical water",
    "fuel": "Fuel (petroleum products)",
    "lubricants": "Oils and lubricants",
    "transport": "Transportation (sea, land, air), including airlift",
    "port_services": "Port services: berthing, pilotage, tugs, line handling, waste removal",
    "airport_services": "Airport services: landing, parking, ground handling",
    "repair": "Repair, maintenance and calibration services",
    "spare_parts": "Spare parts and components",
    "medical": "Medical services",
    "communication": "Communication services",
    "billeting": "Billeting (lodging)",
    "clothing": "Clothing",
    "storage": "Storage services",
    "facilities": "Use of facilities and base operations support",
    "training": "Training services",
}

#: Never provided under a logistics agreement: code -> why.
EXCLUDED: Final[dict[str, str]] = {
    "ammunition": "ammunition is excluded from reciprocal logistics",
    "weapons": "weapon systems are excluded from reciprocal logistics",
    "guided_missiles": "guided missiles are excluded from reciprocal logistics",
    "major_end_items": "major end items of equipment are excluded",
}

#: Units of measure: code -> meaning.
UNITS: Final[dict[str, str]] = {
    "ea": "each (piece)",
    "set": "set",
    "lot": "lot (the whole service)",
    "kg": "kilogram",
    "t": "tonne (1000 kg)",
    "l": "litre",
    "m3": "cubic metre",
    "usg": "US gallon",
    "bbl": "barrel (42 US gallons)",
    "h": "hour",
    "day": "day",
    "person_day": "person-day",
    "km": "kilometre",
    "nmi": "nautical mile",
    "trip": "trip",
    "ration": "ration (one person, one day)",
}

#: Purposes of an order.
PURPOSES: Final[dict[str, str]] = {
    "exercise": "Combined exercise or training",
    "port_call": "Port call",
    "disaster_relief": "Humanitarian assistance and disaster relief",
    "un_operation": "United Nations operation",
    "other": "Other purpose allowed by the agreement",
}

#: Ways an order may be settled.
METHODS: Final[dict[str, str]] = {
    "cash": "Cash reimbursement against an invoice",
    "replacement_in_kind": "Replacement in kind: the same items, quality and quantity returned",
    "equal_value_exchange": "Equal value exchange: supplies or services of equal value given "
                            "back (an order in the other direction)",
}

#: From when a settlement deadline runs.
DEADLINE_BASES: Final[dict[str, str]] = {
    "delivery": "days after the receipt of a delivery is confirmed",
    "invoice": "days after the invoice",
}

_LOCODE_RE: Final = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")


def _check(table: dict[str, str], value: object, field: str, what: str) -> str:
    if not isinstance(value, str) or value not in table:
        raise LogisticsError(field, f"unknown {what} {value!r}; expected one of "
                                    f"{', '.join(table)}")
    return value


def check_category(value: object, field: str = "category") -> str:
    """``value`` if it is a category code; excluded items are refused with the reason."""
    if isinstance(value, str) and value in EXCLUDED:
        raise LogisticsError(field, EXCLUDED[value])
    return _check(CATEGORIES, value, field, "category")


def check_unit(value: object, field: str = "unit") -> str:
    """``value`` if it is a unit of measure code."""
    return _check(UNITS, value, field, "unit of measure")


def check_purpose(value: object, field: str = "purpose") -> str:
    """``value`` if it is a purpose code."""
    return _check(PURPOSES, value, field, "purpose")


def check_method(value: object, field: str = "method") -> str:
    """``value`` if it is a settlement method code."""
    return _check(METHODS, value, field, "settlement method")


def check_basis(value: object, field: str = "basis") -> str:
    """``value`` if it is a deadline basis code."""
    return _check(DEADLINE_BASES, value, field, "deadline basis")


def check_locode(value: object, field: str = "locode") -> str:
    """``value`` (any case) as a UN/LOCODE: 2 letters of country and 3 of place (letters or
    digits 2-9), e.g. ``SGSIN``."""
    if not isinstance(value, str) or not _LOCODE_RE.fullmatch(value.upper().replace(" ", "")):
        raise LogisticsError(field, f"not a UN/LOCODE (like SGSIN): {value!r}")
    return value.upper().replace(" ", "")


def code_tables() -> dict[str, dict[str, str]]:
    """Every code table, for documentation and the API."""
    return {"categories": dict(CATEGORIES), "excluded": dict(EXCLUDED), "units": dict(UNITS),
            "purposes": dict(PURPOSES), "methods": dict(METHODS),
            "deadline_bases": dict(DEADLINE_BASES)}


__all__ = [
    "CATEGORIES",
    "DEADLINE_BASES",
    "EXCLUDED",
    "METHODS",
    "PURPOSES",
    "UNITS",
    "check_basis",
    "check_category",
    "check_locode",
    "check_method",
    "check_purpose",
    "check_unit",
    "code_tables",
]
