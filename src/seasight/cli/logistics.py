"""``seasight logistics``: reciprocal logistics (ACSA) agreements, orders and the ledger.

Every command acts as a user of the database (``--as USERNAME``, or ``SEASIGHT_USER``): its
organisation and role decide what it may do (separation of duties). Refusals print one line
naming the field and exit 2; nothing is written.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import typer

from seasight.access.accounts import account, caller_for
from seasight.access.caller import Caller
from seasight.cli.options import DB, JSON, fail, open_store
from seasight.logistics import reports, storage
from seasight.logistics.errors import LogisticsError
from seasight.store import Store

app = typer.Typer(help="Reciprocal logistics (ACSA): agreements, orders, settlement, ledger.",
                  no_args_is_help=True)

AS = typer.Option(..., "--as", envvar="SEASIGHT_USER", help="Act as this user.")
KEY = typer.Option(None, "--key", help="Idempotency key: the same key again adds nothing.")
ON = typer.Option(None, "--on", help="Business date YYYY-MM-DD (default today).")
BODY = typer.Option(None, "--body", help="JSON object (text, or @file.json).")


def _body(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        _refuse(LogisticsError("body", f"not JSON: {exc.msg}"))
    if not isinstance(data, dict):
        _refuse(LogisticsError("body", "a JSON object"))
    return data


def _refuse(exc: LogisticsError) -> None:
    typer.echo(f"seasight: {exc}", err=True)
    raise typer.Exit(2)


def _caller(store: Store, username: str) -> Caller:
    acct = account(store, username)
    if acct is None or not acct.active:
        _refuse(LogisticsError("as", f"no active user {username!r}"))
    assert acct is not None
    return caller_for(acct.username, acct.organisation, acct.role)


def _out(data: Any, as_json: bool) -> None:
    if isinstance(data, pl.DataFrame):
        if as_json:
            for row in data.iter_rows(named=True):
                typer.echo(json.dumps(row, default=str))
        else:
            with pl.Config(tbl_rows=200, tbl_cols=20, fmt_str_lengths=60):
                typer.echo(str(data))
        return
    typer.echo(json.dumps(data, default=str, indent=None if as_json else 1))


def _run(db: Path, username: str, fn: Any, read_only: bool = False) -> Any:
    store = open_store(db, read_only=read_only)
    try:
        storage.ensure_tables(store)
        return fn(store, _caller(store, username))
    except LogisticsError as exc:
        _refuse(exc)
    finally:
        store.close()


@app.command("agreement", epilog="""Example:

    seasight logistics agreement --as jp.admin --body @acsa.json

    seasight logistics agreement --as jp.admin --id acsa-jp-us --body '{"end": "2028-09-30"}'

    seasight logistics agreement --as jp.admin --rates rates.csv""")
def agreement(username: str = AS, body: str | None = BODY,
              agreement_id: str | None = typer.Option(None, "--id",
                                                      help="Amend (or show) this agreement."),
              revoke_on: str | None = typer.Option(None, "--revoke-on", help="Revoke from."),
              rates: Path | None = typer.Option(None, "--rates", help="Load rates CSV."),
              key: str | None = KEY, db: Path = DB, as_json: bool = JSON) -> None:
    """Record an agreement (JSON body), amend or revoke one (a new version), list them, or
    load exchange rates."""
    data = _body(body)

    def go(store: Store, caller: Caller) -> Any:
        if rates is not None:
            return storage.load_rates(store, caller, rates.read_text(encoding="utf-8"),
                                      rates.name, idempotency_key=key)
        if agreement_id is None and data:
            return storage.create_agreement(store, caller, data, idempotency_key=key)
        if agreement_id is not None and (data or revoke_on):
            return storage.change_agreement(store, caller, agreement_id, data,
                                            revoke_on=revoke_on, idempotency_key=key)
        if agreement_id is not None:
            return [a.to_json() for a in storage.agreement_versions(store, agreement_id,
                                                                     caller)]
        return [a.to_json() for a in storage.list_agreements(store, caller)]

    _out(_run(db, username, go), as_json)


@app.command("order", epilog="""Example:

    seasight logistics order --as us.placer --agreement acsa-jp-us --submit --body @order.json

    seasight logistics order --as us.placer ACSA-JP-US-2025-0001   # its state and history""")
def order(ref: str | None = typer.Argument(None, help="Order number or id to show."),
          username: str = AS, agreement_id: str | None = typer.Option(None, "--agreement"),
          body: str | None = BODY, submit: bool = typer.Option(False, "--submit"),
          key: str | None = KEY, db: Path = DB, as_json: bool = JSON) -> None:
    """Place an order (JSON body: units, place, purpose, dates, method, lines), show one, or
    list the orders of your organisation."""
    data = _body(body)

    def go(store: Store, caller: Caller) -> Any:
        if ref is not None:
            oid = storage.find_order(store, ref, caller)
            state = storage.load_order(store, oid, caller)
            hist = storage.order_history(store, oid, caller)
            return {**state.to_json(), "history": hist.drop("payload").to_dicts()}
        if agreement_id is not None:
            return storage.place_order(store, caller, agreement_id, data, submit=submit,
                                       idempotency_key=key)
        return storage.list_orders(store, caller)

    _out(_run(db, username, go), as_json)


def _step_command(kind: str, example: str, doc: str) -> None:
    def command(ref: str = typer.Argument(..., help="Order number or id."),
                username: str = AS, body: str | None = BODY, on: str | None = ON,
                key: str | None = KEY, db: Path = DB, as_json: bool = JSON) -> None:
        data = _body(body)
        if on is not None:
            data["on"] = on

        def go(store: Store, caller: Caller) -> Any:
            oid = storage.find_order(store, ref, caller)
            return storage.take_step(store, caller, oid, kind, data, idempotency_key=key)

        _out(_run(db, username, go), as_json)

    command.__doc__ = doc
    app.command(kind, epilog=f"Example:\n\n    {example}")(command)


for _kind, _example, _doc in (
        ("submit", "seasight logistics submit ACSA-JP-US-2025-0001 --as us.placer",
         "Submit a draft order to the provider."),
        ("accept", "seasight logistics accept ACSA-JP-US-2025-0001 --as jp.accepter "
                   "--body '{\"adjustments\": [{\"line_no\": 1, \"quantity\": \"110\"}]}'",
         "Accept an order for the provider (adjustments make a new version)."),
        ("reject", "seasight logistics reject ACSA-JP-US-2025-0001 --as jp.accepter "
                   "--body '{\"reason\": \"no fuel\"}'", "Reject an order."),
        ("cancel", "seasight logistics cancel ACSA-JP-US-2025-0001 --as us.placer",
         "Cancel an order before anything is delivered."),
        ("override", "seasight logistics override ACSA-JP-US-2025-0003 --as us.admin "
                     "--body '{\"reason\": \"urgent repair\"}'",
         "Record an admin's override of the ceiling, with a reason."),
        ("deliver", "seasight logistics deliver ACSA-JP-US-2025-0001 --as jp.placer "
                    "--body '{\"lines\": {\"1\": \"60\"}}' --on 2025-03-10",
         "Record a (partial) delivery: quantities per line."),
        ("receive", "seasight logistics receive ACSA-JP-US-2025-0001 --as us.receiver "
                    "--body '{\"delivery_id\": \"D1\", \"lines\": {\"1\": \"60\"}}'",
         "Confirm receipt of a delivery (posts the obligation)."),
        ("invoice", "seasight logistics invoice ACSA-JP-US-2025-0001 --as jp.accepter",
         "Invoice what was received and not yet invoiced."),
        ("settle", "seasight logistics settle ACSA-JP-US-2025-0001 --as us.payer --body "
                   "'{\"method\": \"cash\", \"amount\": \"80000.00\", \"currency\": \"USD\"}'",
         "Record a settlement: cash, replacement in kind (lines) or equal value exchange "
         "(counter_order_id, amount, currency)."),
        ("reverse", "seasight logistics reverse ACSA-JP-US-2025-0001 --as us.admin --body "
                    "'{\"target_seq\": 7, \"reason\": \"entered twice\"}'",
         "Reverse a receipt or settlement (a correcting posting)."),
        ("close", "seasight logistics close ACSA-JP-US-2025-0001 --as jp.accepter",
         "Close a settled order."),
        ("confirm", "seasight logistics confirm ACSA-JP-US-2025-0001 --as jp.payer --on "
                    "2025-04-17 --body '{\"target_seq\": 7, \"reference\": \"SWIFT 0417\"}'",
         "Confirm for the provider that a settlement arrived (not by who recorded it)."),
):
    _step_command(_kind, _example, _doc)


def _entries(store: Store, caller: Caller) -> pl.DataFrame:
    return storage.ledger_entries(store, caller)


@app.command("balance", epilog="Example:\n\n    seasight logistics balance --as jp.accepter")
def balance(username: str = AS, db: Path = DB, as_json: bool = JSON) -> None:
    """What your organisation is owed and owes, by partner, currency, category and fiscal
    year (amounts in minor units and as text)."""
    frame = _run(db, username, lambda s, c: storage.balance_report(s, c), read_only=True)
    _out(reports.formatted(frame), as_json)


@app.command("ageing", epilog="Example:\n\n    seasight logistics ageing --as jp.accepter "
                               "--as-of 2025-06-30 --report-currency USD")
def ageing(username: str = AS, as_of: str | None = typer.Option(None, "--as-of"),
           report_currency: str | None = typer.Option(None, "--report-currency"),
           db: Path = DB, as_json: bool = JSON) -> None:
    """What is owed by settlement deadline: not due, 1-30, 31-90, over 90 days overdue;
    optionally converted to a reporting currency (each figure with its rate and date)."""
    day = date.fromisoformat(as_of) if as_of else date.today()

    def go(s: Store, c: Caller) -> pl.DataFrame:
        frame = storage.ageing_report(s, c, day)
        if report_currency:
            frame = reports.in_reporting_currency(frame, storage.rate_table(s),
                                                  report_currency.upper(), day)
        return frame

    _out(reports.formatted(_run(db, username, go, read_only=True)), as_json)


@app.command("statement", epilog="Example:\n\n    seasight logistics statement --as jp.accepter "
                                  "--partner 'US Navy' --fy 2025 --html statement.html")
def statement(username: str = AS, partner: str = typer.Option(..., "--partner"),
              fy: int = typer.Option(..., "--fy", help="Your fiscal year."),
              csv: Path | None = typer.Option(None, "--csv", help="Write CSV here."),
              html: Path | None = typer.Option(None, "--html", help="Write HTML here."),
              db: Path = DB, as_json: bool = JSON) -> None:
    """Statement of account with a partner for one of your fiscal years."""
    from seasight.logistics.documents import export_entries, statement_html

    def go(s: Store, c: Caller) -> tuple[pl.DataFrame, str]:
        frame = storage.statement_report(s, c, partner, fy)
        return frame, statement_html(frame, c.organisation, partner, fy)

    frame, page = _run(db, username, go, read_only=True)
    if csv is not None:
        csv.write_bytes(export_entries(reports.formatted(frame), "csv"))  # spreadsheet-safe
    if html is not None:
        html.write_text(page, encoding="utf-8")
    _out(reports.formatted(frame), as_json)


@app.command("ceiling", epilog="Example:\n\n    seasight logistics ceiling --as jp.admin "
                               "--agreement acsa-jp-us --fy 2025")
def ceiling(username: str = AS,
            agreement_id: str | None = typer.Option(None, "--agreement",
                                                    help="Only this agreement."),
            fy: int | None = typer.Option(None, "--fy", help="Only this fiscal year (the "
                                                             "provider's)."),
            db: Path = DB, as_json: bool = JSON) -> None:
    """Ceiling use per agreement, fiscal year and direction: ceiling, used, remaining, the
    orders counted and how many passed the ceiling under an admin's override."""
    frame = _run(db, username, lambda s, c: storage.ceiling_report(
        s, c, agreement_id=agreement_id, fiscal_year=fy), read_only=True)
    _out(reports.formatted(frame), as_json)


@app.command("export", epilog="Example:\n\n    seasight logistics export --as jp.accepter "
                               "--format parquet --out ledger.parquet")
def export(username: str = AS,
           fmt: str = typer.Option("csv", "--format", help="csv, json or parquet"),
           out: Path | None = typer.Option(None, "--out", help="File (default stdout; not "
                                                               "for parquet)."),
           db: Path = DB) -> None:
    """Your organisation's book of the ledger as CSV, JSON or Parquet."""
    from seasight.logistics.documents import export_entries

    if fmt not in ("csv", "json", "parquet"):
        _refuse(LogisticsError("format", "csv, json or parquet"))
    data = export_entries(_run(db, username, _entries, read_only=True), fmt)
    if out is None:
        if fmt == "parquet":
            raise fail("--out is needed for parquet")
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)


__all__ = ["app"]
