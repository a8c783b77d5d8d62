"""Exceptions raised by :mod:`seasight.sources`.

Readers report bad *content* as ``rejects`` rows (see :mod:`seasight.model.rejects`) and do not
raise
for it; these exceptions are for callers that ask a question whose answer is "no", such as
:func:`seasight.sources.csv_tracks.detect_layout` on an unknown header.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base class of every error raised by a SeaSight source."""


class CsvLayoutError(SourceError, ValueError):
    """A CSV header that matches none of the known track layouts."""


class LayoutError(SourceError, ValueError):
    """A CSV layout description (:class:`seasight.sources.csv_layout.CsvLayout`, a layout file
    or command-line options) that cannot be used; the message names the setting."""
