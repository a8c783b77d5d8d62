"""No CSV that a person may open in a spreadsheet carries a formula (security issue 15).

Every CSV writer of the code base is enumerated (a new one fails the last test until it is
covered here); each is fed text beginning with every formula prefix and negative numbers, and
every cell it writes either begins with no prefix or is a number of a numeric column.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from seasight.access.audit import AUDIT_LOG, export_audit
from seasight.events.formats import events_csv
from seasight.logistics.documents import export_entries
from seasight.model.csv_cells import FORMULA_PREFIXES, safe_cell, safe_text_columns
from seasight.model.schema import EVENTS, POSITIONS, conform
from seasight.sharing.exports import KINDS, export_frame

SRC = Path(__file__).resolve().parents[1] / "src" / "seasight"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
           "=HYPERLINK(\"http://evil\",\"x\")"]

#: Files that write CSV for people, and the test that covers each.
COVERED = {"sharing/exports.py", "access/audit.py", "events/formats.py",
           "logistics/documents.py"}


def _cells(data: bytes | str) -> list[list[str]]:
    text = data.decode() if isinstance(data, bytes) else data
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_safe(rows: list[list[str]], numeric: set[str]) -> None:
    header, body = rows[0], rows[1:]
    assert body
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if cell.startswith(FORMULA_PREFIXES):
                assert name in numeric, (name, cell)
                float(cell)  # a number, not a formula


def _events() -> pl.DataFrame:
    n = len(HOSTILE)
    return conform(pl.DataFrame({
        "event_id": HOSTILE, "kind": HOSTILE, "mmsi": pl.Series([200_000_000] * n, dtype=pl.UInt32),
        "start": [T0] * n, "end": [T0] * n, "lat": [-33.5] * n, "lon": [-70.25] * n,
        "zone": HOSTILE, "score": [0.5] * n, "is_open": [False] * n,
        "evidence": ['{"note": "=1"}'] * n, "detector": HOSTILE,
    }), EVENTS)


def _positions() -> pl.DataFrame:
    n = len(HOSTILE)
    return conform(pl.DataFrame({
        "mmsi": pl.Series(range(200_000_000, 200_000_000 + n), dtype=pl.UInt32),
        "ts": [T0] * n, "lat": [-33.5 - i for i in range(n)], "lon": [-70.25] * n,
        "rot": pl.Series([-5.0] * n, dtype=pl.Float32), "source": HOSTILE,
    }), POSITIONS)


def test_safe_cell_prefixes_formulas_only() -> None:
    for text in HOSTILE:
        assert safe_cell(text) == "'" + text
    for text in ("Reef", "ev-1", "a=b", " =1", ""):
        assert safe_cell(text) == text


def test_safe_text_columns_leaves_numbers_and_nulls() -> None:
    frame = pl.DataFrame({"name": ["=x", None, "ok"], "v": [-1.5, 2.0, -3.0]})
    out = safe_text_columns(frame)
    assert out["name"].to_list() == ["'=x", None, "ok"]
    assert out["v"].to_list() == [-1.5, 2.0, -3.0]


@pytest.mark.parametrize("kind", KINDS)
def test_exports_csv(kind: str) -> None:
    frame = _events() if kind == "events" else _positions()
    rows = _cells(export_frame(frame, kind, "csv"))
    numeric = {n for n, t in frame.schema.items() if t.is_numeric()}
    _assert_safe(rows, numeric)
    if kind != "tracks":
        assert "'=cmd|' /C calc'!A0" in {c for row in rows for c in row}
        assert any(c.startswith("-") for row in rows for c in row)  # negatives kept


def test_events_csv_of_the_cli() -> None:
    rows = _cells(events_csv(_events()))
    _assert_safe(rows, {"mmsi", "other_mmsi", "lat", "lon", "score"})
    assert rows[1][rows[0].index("zone")] == "'=cmd|' /C calc'!A0"
    assert rows[1][rows[0].index("lat")] == "-33.5"


def test_audit_csv_export() -> None:
    n = len(HOSTILE)
    frame = pl.DataFrame({
        "seq": list(range(1, n + 1)), "ts": [T0] * n, "organisation": HOSTILE,
        "user": HOSTILE, "key_id": HOSTILE, "action": HOSTILE, "kind": HOSTILE,
        "rows": [-1] * n, "status": [200] * n, "detail": ['{"q": "=1"}'] * n,
        "client": HOSTILE, "prev_hash": ["0" * 64] * n, "hash": ["1" * 64] * n,
    }, schema=AUDIT_LOG)
    _assert_safe(_cells(export_audit(frame, "csv")), {"seq", "rows", "status"})
    # the JSON export keeps the values as they were (for checking the hash chain)
    assert '"=cmd|' in export_audit(frame, "json").decode()


def test_every_csv_writer_is_covered() -> None:
    writers = re.compile(r"\.write_csv\(|csv\.writer\(|csv\.DictWriter\(")
    found = {str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
             if writers.search(p.read_text(encoding="utf-8"))}
    assert found == COVERED, "a CSV writer is not covered by the tests of this file"


def test_logistics_statement_and_ledger_csv() -> None:
    """Ledger exports and statements (CLI ``--csv``, REST) go through export_entries."""
    n = len(HOSTILE)
    frame = pl.DataFrame({"order_no": HOSTILE, "categories": HOSTILE, "partner": HOSTILE,
                          "amount_minor": [-125_000] * n, "balance_minor": [-5] * n})
    rows = _cells(export_entries(frame, "csv"))
    _assert_safe(rows, {"amount_minor", "balance_minor"})
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][3] == "-125000"

