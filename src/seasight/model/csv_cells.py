"""Cells of CSV files people open in a spreadsheet, made safe from formula injection.

A spreadsheet evaluates a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula (and
a leading tab or carriage return can hide one), so a zone, vessel or user name such as
``=cmd|' /C calc'!A0`` written as it is would run when an analyst opens the export. Following
the OWASP guidance on CSV injection, every *text* cell beginning with one of
:data:`FORMULA_PREFIXES` gets a single quote in front: the spreadsheet then shows the text as
it was. Numeric columns are left alone (``-5.2`` stays a number), and so are cells that do not
begin with a prefix. Every CSV writer of SeaSight (exports, ``events --csv``, the audit export)
passes its text through :func:`safe_cell` or :func:`safe_text_columns`.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")

_PATTERN: Final = "^[=+\\-@\t\r]"


def safe_cell(value: str) -> str:
    """``value`` with a single quote in front if it begins with a formula prefix."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def safe_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with :func:`safe_cell` applied to every String column (other columns, and
    nulls, unchanged)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_PATTERN)).then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c)).alias(c) for c in text)


__all__ = ["FORMULA_PREFIXES", "safe_cell", "safe_text_columns"]
