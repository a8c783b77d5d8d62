"""Data on the console, printed as it is.

rich reads ``[...]`` in a string as markup and drops what it takes for a tag: an alert message
``... (YU JONG 2) [listed ofac_sdn: YU JONG 2]`` would lose its last part. Every data string
(names, messages, paths, identifiers) that reaches rich goes through :func:`esc`, and every
table row through :func:`add_row`; styling is written around the escaped values or passed as
:class:`rich.text.Text`. ``tests/test_cli_markup.py`` checks the CLI modules keep to this.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text


def esc(value: object) -> str:
    """``value`` as text rich prints literally (``None`` as the empty string)."""
    return "" if value is None else escape(str(value))


def add_row(table: Table, *cells: object) -> None:
    """Add one row of data to ``table``: each cell printed literally (``None`` empty), except
    :class:`~rich.text.Text` cells, which keep their own style."""
    table.add_row(*(cell if isinstance(cell, Text) else esc(cell) for cell in cells))


__all__ = ["add_row", "esc"]
