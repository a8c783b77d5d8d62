"""Logistics agreements (ACSA): what two organisations may give each other, how they settle,
and how much per fiscal year.

A :class:`LogisticsAgreement` is a value: reference, the two parties, signature date, term
(``start`` to ``end`` inclusive), covered categories, allowed settlement methods each with a
deadline, currencies, each party's fiscal-year start month, and ceilings per fiscal year and
direction. It is never changed in place: :func:`amend` makes the next *version* (orders keep
the version they were placed under) and :func:`revoke` a last version that ends it.

(Not to be confused with :class:`seasight.sharing.Agreement`, a data-sharing agreement.)

Fiscal years
    A party's fiscal year starts on the first day of its ``fy_start_month`` and is named by
    the calendar year in which it *ends* (start month 10: 1 Oct 2024 - 30 Sep 2025 is FY 2025;
    start month 1: the calendar year). :func:`fiscal_year`.
Ceilings
    ``Ceiling(provider, fiscal_year, amount_minor, currency)``: the most the *provider* may
    give the other party under the agreement in that fiscal year *of the provider*, counted
    when orders are accepted (see :mod:`seasight.logistics.ledger`).

Example:
    >>> from datetime import date
    >>> fiscal_year(date(2024, 10, 1), 10), fiscal_year(date(2024, 9, 30), 10)
    (2025, 2024)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any, Final

from seasight.logistics.codes import check_basis, check_category, check_method
from seasight.logistics.errors import ConflictError, LogisticsError
from seasight.logistics.money import currency, to_minor

_REF_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}")
_ORG_RE: Final = re.compile(r"[A-Za-z0-9._-](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?")
_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class MethodTerms:
    """A settlement method an agreement allows, with its deadline."""

    method: str
    days: int  # deadline in days after the basis
    basis: str  # "delivery" (receipt confirmed) or "invoice"


@dataclass(frozen=True)
class Ceiling:
    """The most ``provider`` may give under the agreement in its ``fiscal_year``."""

    provider: str
    fiscal_year: int
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class LogisticsAgreement:
    """One version of a logistics agreement between ``party_a`` and ``party_b``."""

    agreement_id: str
    version: int
    reference: str
    party_a: str
    party_b: str
    signed_on: date
    start: date
    end: date
    categories: tuple[str, ...]
    methods: tuple[MethodTerms, ...]
    currencies: tuple[str, ...]
    fy_start_month: tuple[tuple[str, int], ...]  # (party, month 1-12) for both parties
    ceilings: tuple[Ceiling, ...] = ()
    revoked_on: date | None = None
    note: str = ""
    recorded_by: str = ""
    recorded_at: datetime | None = field(default=None, compare=False)

    @property
    def parties(self) -> tuple[str, str]:
        """The two organisations."""
        return self.party_a, self.party_b

    def other(self, org: str) -> str:
        """The party that is not ``org``."""
        return self.party_b if org == self.party_a else self.party_a

    def fy_month(self, org: str) -> int:
        """First month of ``org``'s fiscal year."""
        return dict(self.fy_start_month)[org]

    def terms(self, method: str) -> MethodTerms | None:
        """The terms of ``method``, None if the agreement does not allow it."""
        return next((m for m in self.methods if m.method == method), None)

    def ceiling(self, provider: str, fy: int) -> Ceiling | None:
        """The ceiling of ``provider`` in its fiscal year ``fy``, if any."""
        return next((c for c in self.ceilings
                     if c.provider == provider and c.fiscal_year == fy), None)

    def in_force(self, on: date) -> bool:
        """Whether the agreement covers day ``on`` (in its term, not revoked by then)."""
        if self.revoked_on is not None and on >= self.revoked_on:
            return False
        return self.start <= on <= self.end

    def to_json(self) -> dict[str, Any]:
        """A JSON-able mapping (dates as ISO text; amounts as integer minor units)."""
        out = asdict(self)
        for key in ("signed_on", "start", "end", "revoked_on", "recorded_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        out["fy_start_month"] = dict(self.fy_start_month)
        return out


def fiscal_year(day: date, start_month: int) -> int:
    """The fiscal year (named by the calendar year it ends in) that contains ``day``."""
    if not 1 <= start_month <= 12:
        raise LogisticsError("fy_start_month", f"a month 1-12, got {start_month}")
    if start_month == 1:
        return day.year
    return day.year + 1 if day.month >= start_month else day.year


def fiscal_year_bounds(fy: int, start_month: int) -> tuple[date, date]:
    """First and last day of fiscal year ``fy`` for a party whose year starts in
    ``start_month``."""
    first = date(fy if start_month == 1 else fy - 1, start_month, 1)
    nxt = date(first.year + 1, start_month, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def check_org(value: object, field: str) -> str:
    """An organisation name as :mod:`seasight.access` allows it."""
    if not isinstance(value, str) or not _ORG_RE.fullmatch(value):
        raise LogisticsError(field, f"not an organisation name: {value!r}")
    return value


def parse_date(value: object, field: str) -> date:
    """``value`` as a date (a date, or ISO text ``YYYY-MM-DD``)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise LogisticsError(field, f"a date YYYY-MM-DD, not {value!r}")


def _methods(raw: Iterable[Any]) -> tuple[MethodTerms, ...]:
    out: dict[str, MethodTerms] = {}
    for i, item in enumerate(raw):
        f = f"methods[{i}]"
        if isinstance(item, MethodTerms):
            item = asdict(item)
        if not isinstance(item, Mapping):
            raise LogisticsError(f, "an object {method, days, basis}")
        method = check_method(item.get("method"), f"{f}.method")
        days = item.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            raise LogisticsError(f"{f}.days", f"whole days 0-3650, not {days!r}")
        basis = check_basis(item.get("basis", "delivery"), f"{f}.basis")
        if method == "cash" and basis != "invoice":
            raise LogisticsError(f"{f}.basis", "cash is settled against an invoice: "
                                               "basis must be 'invoice'")
        if method in out:
            raise LogisticsError(f"{f}.method", f"{method!r} given twice")
        out[method] = MethodTerms(method, days, basis)
    if not out:
        raise LogisticsError("methods", "at least one settlement method")
    return tuple(out[m] for m in sorted(out))


def _ceilings(raw: Iterable[Any], parties: tuple[str, str],
              currencies: tuple[str, ...]) -> tuple[Ceiling, ...]:
    out: dict[tuple[str, int], Ceiling] = {}
    for i, item in enumerate(raw):
        f = f"ceilings[{i}]"
        if isinstance(item, Ceiling):
            item = asdict(item)
        if not isinstance(item, Mapping):
            raise LogisticsError(f, "an object {provider, fiscal_year, amount, currency}")
        provider = item.get("provider")
        if provider not in parties:
            raise LogisticsError(f"{f}.provider", f"one of the parties, not {provider!r}")
        fy = item.get("fiscal_year")
        if isinstance(fy, bool) or not isinstance(fy, int) or not 1900 <= fy <= 2200:
            raise LogisticsError(f"{f}.fiscal_year", f"a year, not {fy!r}")
        code = currency(item.get("currency"), f"{f}.currency").code
        if code not in currencies:
            raise LogisticsError(f"{f}.currency", f"{code} is not a currency of the agreement")
        amount = (int(item["amount_minor"]) if "amount_minor" in item
                  else to_minor(item.get("amount"), code, f"{f}.amount"))
        if (provider, fy) in out:
            raise LogisticsError(f, f"a second ceiling for {provider} in FY {fy}")
        out[(str(provider), fy)] = Ceiling(str(provider), fy, amount, code)
    return tuple(out[k] for k in sorted(out))


def make_logistics_agreement(
        agreement_id: str, reference: str, party_a: str, party_b: str, *, signed_on: object,
        start: object, end: object, categories: Iterable[str], methods: Iterable[Any],
        currencies: Iterable[str], fy_start_month: Mapping[str, int],
        ceilings: Iterable[Any] = (), note: str = "", recorded_by: str = "",
        version: int = 1, revoked_on: object = None) -> LogisticsAgreement:
    """A checked agreement; :class:`LogisticsError` names the first bad field.

    ``methods``: mappings ``{method, days, basis}``; ``ceilings``: mappings
    ``{provider, fiscal_year, amount (text, major units) | amount_minor, currency}``.
    """
    if not isinstance(agreement_id, str) or not _ID_RE.fullmatch(agreement_id):
        raise LogisticsError("agreement_id", f"1-64 of a-z 0-9 . _ -, not {agreement_id!r}")
    if not isinstance(reference, str) or not _REF_RE.fullmatch(reference):
        raise LogisticsError("reference", "1-40 of letters, digits, . _ / - (like "
                                          f"ACSA-GB-IN-2024), not {reference!r}")
    a, b = check_org(party_a, "party_a"), check_org(party_b, "party_b")
    if a == b:
        raise LogisticsError("party_b", "the two parties must differ")
    signed, first, last = (parse_date(signed_on, "signed_on"), parse_date(start, "start"),
                           parse_date(end, "end"))
    if last < first:
        raise LogisticsError("end", "before start")
    if signed > first:
        raise LogisticsError("signed_on", "after the start of the term")
    cats = sorted({check_category(c, f"categories[{i}]") for i, c in enumerate(categories)})
    if not cats:
        raise LogisticsError("categories", "at least one category")
    curs = tuple(sorted({currency(c, f"currencies[{i}]").code
                         for i, c in enumerate(currencies)}))
    if not curs:
        raise LogisticsError("currencies", "at least one currency")
    months = []
    for party in (a, b):
        month = fy_start_month.get(party) if isinstance(fy_start_month, Mapping) else None
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise LogisticsError("fy_start_month", f"{party}: a month 1-12, not {month!r}")
        months.append((party, month))
    if not isinstance(note, str) or len(note) > 2000:
        raise LogisticsError("note", "at most 2000 characters")
    revoked = parse_date(revoked_on, "revoked_on") if revoked_on is not None else None
    return LogisticsAgreement(
        agreement_id, int(version), reference, a, b, signed, first, last, tuple(cats),
        _methods(methods), curs, tuple(months), _ceilings(ceilings, (a, b), curs), revoked,
        note, recorded_by)


def amend(current: LogisticsAgreement, recorded_by: str = "", **changes: Any
          ) -> LogisticsAgreement:
    """The next version of ``current`` with ``changes`` (any argument of
    :func:`make_logistics_agreement` but the id and the parties), checked again."""
    if current.revoked_on is not None:
        raise ConflictError("agreement_id", f"{current.agreement_id} was revoked on "
                                            f"{current.revoked_on}; it cannot be amended")
    fixed = {"agreement_id", "party_a", "party_b", "version", "revoked_on"} & set(changes)
    if fixed:
        raise LogisticsError(sorted(fixed)[0], "cannot be amended")
    base: dict[str, Any] = {
        "signed_on": current.signed_on, "start": current.start, "end": current.end,
        "categories": current.categories, "methods": current.methods,
        "currencies": current.currencies, "fy_start_month": dict(current.fy_start_month),
        "ceilings": current.ceilings, "note": current.note, "reference": current.reference}
    unknown = set(changes) - set(base)
    if unknown:
        raise LogisticsError(sorted(unknown)[0], "not a field of a logistics agreement")
    base.update(changes)
    reference = base.pop("reference")
    return make_logistics_agreement(current.agreement_id, reference, current.party_a,
                                    current.party_b, recorded_by=recorded_by,
                                    version=current.version + 1, **base)


def revoke(current: LogisticsAgreement, on: object, recorded_by: str = ""
           ) -> LogisticsAgreement:
    """The last version of ``current``: not in force from day ``on``."""
    if current.revoked_on is not None:
        raise ConflictError("agreement_id", f"{current.agreement_id} is already revoked")
    return replace(current, version=current.version + 1,
                   revoked_on=parse_date(on, "revoked_on"), recorded_by=recorded_by,
                   recorded_at=None)


def agreement_from_json(data: Mapping[str, Any]) -> LogisticsAgreement:
    """The agreement :meth:`LogisticsAgreement.to_json` wrote (checked again)."""
    made = make_logistics_agreement(
        data["agreement_id"], data["reference"], data["party_a"], data["party_b"],
        signed_on=data["signed_on"], start=data["start"], end=data["end"],
        categories=data["categories"], methods=data["methods"],
        currencies=data["currencies"], fy_start_month=data["fy_start_month"],
        ceilings=data.get("ceilings", ()), note=data.get("note", ""),
        recorded_by=data.get("recorded_by", ""), version=data.get("version", 1),
        revoked_on=data.get("revoked_on"))
    at = data.get("recorded_at")
    return replace(made, recorded_at=datetime.fromisoformat(at)) if at else made


__all__ = [
    "Ceiling",
    "LogisticsAgreement",
    "MethodTerms",
    "agreement_from_json",
    "amend",
    "check_org",
    "fiscal_year",
    "fiscal_year_bounds",
    "make_logistics_agreement",
    "parse_date",
    "revoke",
]
