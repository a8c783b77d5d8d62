"""``seasight logistics``: the worked fuel example through the command line; refusals exit 2
with one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from logistics_world import AGREEMENT, JP, RATES, US
from seasight.access.accounts import create_organisation, create_user
from seasight.cli import app
from seasight.store import Store

runner = CliRunner()


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "cli.duckdb"
    with Store(db) as s:
        for org in (JP, US):
            create_organisation(s, org)
        for name, org, role in (("jp.admin", JP, "admin"), ("jp.accepter", JP, "analyst"),
                                ("jp.placer", JP, "analyst"), ("us.placer", US, "analyst"),
                                ("us.receiver", US, "analyst"), ("us.payer", US, "analyst")):
            create_user(s, org, name, role)
    return db


def run(db: Path, *args: str) -> tuple[int, str, str]:
    got = runner.invoke(app, ["logistics", *args, "--db", str(db)])
    return got.exit_code, got.stdout, got.stderr


def test_fuel_order_through_the_cli(tmp_path: Path) -> None:
    db = _db(tmp_path)
    rates = tmp_path / "rates.csv"
    rates.write_text(RATES)
    assert run(db, "agreement", "--as", "jp.admin", "--body", json.dumps(AGREEMENT))[0] == 0
    assert run(db, "agreement", "--as", "jp.admin", "--rates", str(rates))[0] == 0
    order = {"requesting_unit": "USS Blue Ridge", "providing_unit": "JMSDF Yokosuka",
             "place": {"locode": "JPYOK"}, "purpose": "port_call", "start": "2025-03-10",
             "end": "2025-03-12", "method": "cash",
             "lines": [{"category": "fuel", "description": "F-76", "quantity": "120",
                        "unit": "m3", "unit_price": "98500", "currency": "JPY"}]}
    code, out, _ = run(db, "order", "--as", "us.placer", "--agreement", "acsa-jp-us",
                       "--submit", "--body", json.dumps(order), "--json")
    assert code == 0
    number = json.loads(out)["number"]
    assert run(db, "accept", number, "--as", "jp.accepter")[0] == 0
    assert run(db, "deliver", number, "--as", "jp.placer", "--on", "2025-03-10",
               "--body", '{"lines": {"1": "120"}}')[0] == 0
    # the person who accepted may not confirm receipt (and is of the wrong side anyway)
    code, _, err = run(db, "receive", number, "--as", "jp.accepter", "--body",
                       '{"delivery_id": "D1", "lines": {"1": "120"}}')
    assert code == 2 and err.count("\n") == 1 and err.startswith("seasight: actor:")
    code, _, err = run(db, "receive", number, "--as", "us.receiver", "--on", "2025-03-10",
                       "--body", '{"delivery_id": "D1", "lines": {"1": "121"}}')
    assert code == 2 and "lines[1].quantity" in err
    assert run(db, "receive", number, "--as", "us.receiver", "--on", "2025-03-10",
               "--body", '{"delivery_id": "D1", "lines": {"1": "120"}}')[0] == 0
    assert run(db, "invoice", number, "--as", "jp.accepter", "--on", "2025-03-14")[0] == 0
    code, out, _ = run(db, "ageing", "--as", "jp.accepter", "--as-of", "2025-04-20",
                       "--report-currency", "USD", "--json")
    row = json.loads(out.splitlines()[0])
    # JPY 11,820,000 at 1 / 147.75 (the USD/JPY rate of 14 April) = USD 80,000.00
    assert (row["bucket"], row["amount_minor"], row["amount_minor_USD"], row["rate_date"]) == (
        "1-30", 11_820_000, 8_000_000, "2025-04-14")
    code, _, err = run(db, "settle", number, "--as", "us.payer", "--body",
                       '{"method": "cash", "amount": "80000.001", "currency": "USD"}')
    assert code == 2 and err.startswith("seasight: amount:")
    assert run(db, "settle", number, "--as", "us.payer", "--on", "2025-04-15", "--body",
               '{"method": "cash", "amount": "80000.00", "currency": "USD"}')[0] == 0
    code, out, _ = run(db, "balance", "--as", "us.payer", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["net_minor"] for r in rows} == {0}
    html = tmp_path / "s.html"
    code, out, _ = run(db, "statement", "--as", "jp.accepter", "--partner", US, "--fy", "2025",
                       "--html", str(html), "--json")
    assert code == 0 and "Statement of account" in html.read_text()
    # JMSDF's fiscal year starts in April: the receipt (10 March) is in its FY 2025, the
    # payment (15 April) in FY 2026, which opens with the balance brought forward
    assert json.loads(out.splitlines()[-1])["balance_minor"] == 11_820_000
    code, out, _ = run(db, "statement", "--as", "jp.accepter", "--partner", US, "--fy", "2026",
                       "--json")
    last = json.loads(out.splitlines()[-1])
    assert (last["opening_minor"], last["balance_minor"]) == (11_820_000, 0)
    code, out, _ = run(db, "ceiling", "--as", "jp.accepter", "--fy", "2025", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    # JMSDF's order of JPY 11,820,000 counts against its JPY 50,000,000 ceiling for FY 2025
    assert code == 0 and [(r["provider"], r["used_minor"], r["remaining"]) for r in rows] == [
        ("JMSDF", 11_820_000, "38180000"), ("US Navy", 0, "10000.00")]
    pq = tmp_path / "l.parquet"
    assert run(db, "export", "--as", "jp.accepter", "--format", "parquet", "--out", str(pq)
               )[0] == 0 and pq.stat().st_size > 0
