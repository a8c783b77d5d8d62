"""Documents: a print-ready order form and statement of account (HTML, A4), and exports of
the ledger as CSV, JSON and Parquet. Every text is HTML-escaped; CSV cells that a spreadsheet
would run as formulas are defused (:func:`seasight.model.csv_cells.safe_text_columns`)."""

from __future__ import annotations

import html
import io
import json
from typing import Final

import polars as pl

from seasight.logistics.agreements import LogisticsAgreement
from seasight.logistics.codes import CATEGORIES, PURPOSES, UNITS
from seasight.logistics.lifecycle import OrderState
from seasight.logistics.money import format_minor, format_quantity
from seasight.logistics.orders import Unit
from seasight.model.csv_cells import safe_text_columns

_STYLE: Final = """@page { size: A4; margin: 18mm }
body { font: 10pt/1.35 system-ui, sans-serif; color: #000 }
h1 { font-size: 15pt; margin: 0 0 4mm } table { border-collapse: collapse; width: 100% }
th, td { border: 0.3mm solid #444; padding: 1.2mm 2mm; vertical-align: top }
th { background: #eee; text-align: left } td.n { text-align: right; white-space: nowrap }
.sig { display: flex; gap: 10mm; margin-top: 12mm } .sig div { flex: 1;
border-top: 0.3mm solid #000; padding-top: 2mm; min-height: 22mm }"""


def _e(value: object) -> str:
    return html.escape(str(value if value is not None else ""))


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
            f"{_e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def order_form_html(state: OrderState, agreement: LogisticsAgreement) -> str:
    """The order as a print-ready A4 form: parties, units, place, purpose, lines, totals per
    currency and both parties' signature blocks."""
    o = state.order
    place = o.place.locode or f"{o.place.lat:.4f}, {o.place.lon:.4f}"
    rows = "".join(
        f"<tr><td>{ln.line_no}</td><td>{_e(CATEGORIES.get(ln.category, ln.category))}</td>"
        f"<td>{_e(ln.description)}{' (' + _e(ln.item_code) + ')' if ln.item_code else ''}</td>"
        f"<td class=n>{format_quantity(ln.qty_milli)}</td><td>{_e(UNITS.get(ln.unit))}</td>"
        f"<td class=n>{format_minor(ln.unit_price_minor, ln.currency)} {ln.currency}</td>"
        f"<td class=n>{format_minor(ln.amount_minor, ln.currency)} {ln.currency}</td></tr>"
        for ln in o.lines)
    totals = "".join(f"<tr><th colspan=6>Total {cur}</th><td class=n>"
                     f"{format_minor(v, cur)} {cur}</td></tr>" for cur, v in o.totals().items())

    def unit(u: Unit) -> str:
        parts = [_e(u.name)]
        if u.mmsi:
            parts.append(f"MMSI {u.mmsi}")
        if u.imo:
            parts.append(f"IMO {u.imo}")
        return ", ".join(parts)

    body = (
        f"<h1>Order {_e(o.number)} (version {o.version})</h1>"
        f"<p>Under agreement {_e(agreement.reference)} version {o.agreement_version}. "
        f"State: <b>{_e(state.state)}</b>.</p><table>"
        f"<tr><th>Requesting</th><td>{_e(o.requester)}: {unit(o.requesting_unit)}</td></tr>"
        f"<tr><th>Providing</th><td>{_e(o.provider)}: {unit(o.providing_unit)}</td></tr>"
        f"<tr><th>Place</th><td>{_e(place)} {_e(o.place.name)}</td></tr>"
        f"<tr><th>Purpose</th><td>{_e(PURPOSES.get(o.purpose))}</td></tr>"
        f"<tr><th>Dates</th><td>{o.start} to {o.end}</td></tr>"
        f"<tr><th>Settlement</th><td>{_e(o.method)}</td></tr></table><br><table>"
        "<tr><th>#</th><th>Category</th><th>Description</th><th>Qty</th><th>Unit</th>"
        f"<th>Unit price</th><th>Amount</th></tr>{rows}{totals}</table>"
        f"<div class=sig><div>For the requester, {_e(o.requester)}<br>Name, rank, date, "
        f"signature</div><div>For the provider, {_e(o.provider)}<br>Name, rank, date, "
        "signature</div></div>")
    return _page(f"Order {o.number}", body)


def statement_html(frame: pl.DataFrame, book: str, partner: str, fiscal_year: int) -> str:
    """A statement of account (from :func:`seasight.logistics.reports.statement`) as A4
    HTML: each posting with its running balance, per currency."""
    rows = "".join(
        f"<tr><td>{r['posted_on']}</td><td>{_e(r['kind'])}</td><td>{_e(r['order_id'])}</td>"
        f"<td>{_e(r['categories'])}</td><td>{_e(r['due_on'] or '')}</td>"
        f"<td class=n>{format_minor(r['amount_minor'], r['currency'])} {r['currency']}</td>"
        f"<td class=n>{format_minor(r['balance_minor'], r['currency'])} {r['currency']}</td>"
        "</tr>" for r in frame.iter_rows(named=True))
    body = (f"<h1>Statement of account</h1><p>{_e(book)} with {_e(partner)}, fiscal year "
            f"{fiscal_year} of {_e(book)}. Positive: {_e(partner)} owes {_e(book)}.</p>"
            "<table><tr><th>Date</th><th>Posting</th><th>Order</th><th>Categories</th>"
            f"<th>Due</th><th>Amount</th><th>Balance</th></tr>{rows}</table>"
            f"<div class=sig><div>For {_e(book)}</div><div>Agreed, for {_e(partner)}</div>"
            "</div>")
    return _page(f"Statement {book} / {partner} FY {fiscal_year}", body)


def export_entries(frame: pl.DataFrame, fmt: str) -> bytes:
    """Ledger entries as CSV, JSON (a list of objects) or Parquet."""
    if fmt == "csv":
        buf = io.BytesIO()
        safe_text_columns(frame).write_csv(buf)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(frame.to_dicts(), default=str, indent=1).encode("utf-8")
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.write_parquet(buf)
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; expected csv, json or parquet")


__all__ = ["export_entries", "order_form_html", "statement_html"]
