"""Routes of reciprocal logistics (ACSA) under ``/api/logistics/``: thin layers over
:mod:`seasight.logistics.storage` and :mod:`seasight.logistics.reports`.

A caller sees the agreements and orders its organisation is a party to and its own book of the
ledger (``local`` sees everything); anything else is 404, as if it did not exist. Every write
needs an ``Idempotency-Key`` header: a retried request returns the first answer and adds
nothing. Refusals are 4xx naming the field (``detail.parameter``); nothing is written.
Scopes and roles are checked by the app's authentication like every route (a write needs role
analyst; agreements and ceiling overrides need admin, checked by the logistics stage).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.responses import HTMLResponse, Response

from seasight.api.auth import current_caller
from seasight.api.query import Caller, QueryError
from seasight.logistics import reports, storage
from seasight.logistics.documents import export_entries, order_form_html, statement_html
from seasight.logistics.errors import LogisticsError
from seasight.store.shared import SharedStore

C = Annotated[Caller, Depends(current_caller)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
_MEDIA = {"csv": "text/csv", "json": "application/json",
          "parquet": "application/vnd.apache.parquet"}


def _error(exc: LogisticsError) -> QueryError:
    return QueryError(exc.status, exc.code, str(exc), {"parameter": exc.field})


def _key(key: str | None) -> str:
    if not key:
        raise QueryError(400, "invalid_parameter", "Idempotency-Key: header required on "
                                                   "every write", {"parameter": "Idempotency-Key"})
    return key


def _day(name: str, value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(400, "invalid_parameter", f"{name}: a date YYYY-MM-DD",
                         {"parameter": name}) from None


def logistics_router(shared: SharedStore) -> APIRouter:
    """The routes, bound to the service's store."""
    router = APIRouter(prefix="/api/logistics", tags=["logistics"])

    def read(fn: Any) -> Any:
        try:
            return shared.read(fn)
        except LogisticsError as exc:
            raise _error(exc) from None

    def write(fn: Any) -> Any:
        try:
            return shared.write(fn)
        except LogisticsError as exc:
            raise _error(exc) from None

    @router.get("/agreements")
    def agreements(caller: C) -> dict[str, Any]:
        """The logistics agreements the caller's organisation is a party to."""
        return {"items": [a.to_json() for a in read(
            lambda s: storage.list_agreements(s, caller))]}

    @router.post("/agreements", status_code=201)
    def add_agreement(caller: C, body: Annotated[dict[str, Any], Body()],
                      idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Record an agreement (an admin of a party)."""
        key = _key(idempotency_key)
        return dict(write(lambda s: storage.create_agreement(s, caller, body,
                                                             idempotency_key=key)))

    @router.get("/orders")
    def orders(caller: C, agreement_id: str | None = None) -> dict[str, Any]:
        """The caller's orders with their state."""
        return {"items": read(lambda s: storage.list_orders(s, caller, agreement_id)
                              ).to_dicts()}

    @router.post("/orders", status_code=201)
    def place(caller: C, body: Annotated[dict[str, Any], Body()],
              idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Place an order: ``{agreement_id, submit?, ...order fields}``."""
        key = _key(idempotency_key)
        fields = dict(body)
        agreement_id = fields.pop("agreement_id", None)
        submit = bool(fields.pop("submit", False))
        if not isinstance(agreement_id, str):
            raise QueryError(400, "invalid_parameter", "agreement_id: required",
                             {"parameter": "agreement_id"})
        return dict(write(lambda s: storage.place_order(s, caller, agreement_id, fields,
                                                        submit=submit, idempotency_key=key)))

    @router.get("/orders/{ref}")
    def order(caller: C, ref: str) -> dict[str, Any]:
        """An order's state and history."""
        def go(s: Any) -> dict[str, Any]:
            oid = storage.find_order(s, ref, caller)
            hist = storage.order_history(s, oid, caller).drop("payload")
            return {**storage.load_order(s, oid, caller).to_json(),
                    "history": [{k: str(v) for k, v in r.items()} for r in hist.to_dicts()]}
        return dict(read(go))

    @router.get("/orders/{ref}/form", response_class=HTMLResponse)
    def form(caller: C, ref: str) -> HTMLResponse:
        """The print-ready order form (HTML, A4)."""
        def go(s: Any) -> str:
            state = storage.load_order(s, storage.find_order(s, ref, caller), caller)
            return order_form_html(state, storage.get_agreement(
                s, state.order.agreement_id, version=state.order.agreement_version))
        return HTMLResponse(read(go))

    @router.post("/orders/{ref}/{kind}")
    def take(caller: C, ref: str, kind: str, body: Annotated[dict[str, Any] | None, Body()]
             = None, idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Take a step: submit, accept, reject, cancel, override, deliver, receive, invoice,
        settle, reverse, close or confirm (the provider confirms a settlement arrived)."""
        key = _key(idempotency_key)
        if kind == "create":
            raise QueryError(400, "invalid_parameter", "kind: create by POST /orders",
                             {"parameter": "kind"})

        def go(s: Any) -> dict[str, Any]:
            storage.ensure_tables(s)
            oid = storage.find_order(s, ref, caller)
            return storage.take_step(s, caller, oid, kind, body or {}, idempotency_key=key)
        return dict(write(go))

    @router.get("/balance")
    def balance(caller: C) -> dict[str, Any]:
        """Owed to and by the caller's organisation by partner, currency, category and FY."""
        frame = read(lambda s: storage.balance_report(s, caller))
        return {"items": reports.formatted(frame).to_dicts()}

    @router.get("/ageing")
    def ageing(caller: C, as_of: str | None = None,
               report_currency: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None
               ) -> dict[str, Any]:
        """What is owed, by deadline bucket; optionally in a reporting currency."""
        day = _day("as_of", as_of)

        def go(s: Any) -> pl.DataFrame:
            frame = storage.ageing_report(s, caller, day)
            if report_currency:
                frame = reports.in_reporting_currency(frame, storage.rate_table(s),
                                                      report_currency.upper(), day)
            return frame
        return {"as_of": str(day), "items": [
            {k: str(v) if isinstance(v, date) else v for k, v in r.items()}
            for r in reports.formatted(read(go)).to_dicts()]}

    @router.get("/statement")
    def statement(caller: C, partner: str, fiscal_year: Annotated[int, Query(ge=1900, le=2200)],
                  format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json"
                  ) -> Response:
        """Statement of account with ``partner`` for the caller's ``fiscal_year``."""
        frame = read(lambda s: storage.statement_report(s, caller, partner, fiscal_year))
        if format == "html":
            return HTMLResponse(statement_html(frame, caller.organisation, partner,
                                               fiscal_year))
        return Response(export_entries(reports.formatted(frame), format),
                        media_type=_MEDIA[format])

    @router.get("/ceilings")
    def ceilings(caller: C, agreement_id: str | None = None,
                 fiscal_year: Annotated[int | None, Query(ge=1900, le=2200)] = None
                 ) -> dict[str, Any]:
        """Ceiling use per agreement, fiscal year and direction (provider -> requester):
        ceiling, used, remaining, orders counted and overrides."""
        frame = read(lambda s: storage.ceiling_report(s, caller, agreement_id=agreement_id,
                                                      fiscal_year=fiscal_year))
        return {"items": reports.formatted(frame).to_dicts()}

    @router.get("/export")
    def export(caller: C, format: Annotated[str, Query(pattern="^(csv|json|parquet)$")] = "csv"
               ) -> Response:
        """The caller's book of the ledger as CSV, JSON or Parquet."""
        frame = read(lambda s: storage.ledger_entries(s, caller))
        return Response(export_entries(frame, format), media_type=_MEDIA[format], headers={
            "Content-Disposition": f'attachment; filename="logistics-ledger.{format}"'})

    return router


__all__ = ["logistics_router"]
