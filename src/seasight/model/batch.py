"""The unit of work between stages: one frame per table, plus the counts a user sees."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from seasight.model.schema import TABLES, conform, empty

DECODED_TABLES = ("positions", "static", "base_stations", "aids_to_navigation", "other_messages")


@dataclass
class Batch:
    """Decoded rows of every table, the rejected input, and counts of skipped lines.

    ``skipped`` counts lines that are neither data nor errors (blank lines, ``#`` comments),
    so that ``lines read == messages' lines + rejects + skipped`` can always be checked.
    ``warnings`` counts decoded lines that had a problem, by reason name
    (:data:`seasight.model.rejects.REASONS`): a tag block that failed its check
    (``tagblock_checksum``,
    ``bad_tagblock``), a receive-time prefix that is no plausible time (``bad_timestamp``).
    """

    positions: pl.DataFrame = field(default_factory=lambda: empty(TABLES["positions"]))
    static: pl.DataFrame = field(default_factory=lambda: empty(TABLES["static"]))
    base_stations: pl.DataFrame = field(default_factory=lambda: empty(TABLES["base_stations"]))
    aids_to_navigation: pl.DataFrame = field(
        default_factory=lambda: empty(TABLES["aids_to_navigation"])
    )
    other_messages: pl.DataFrame = field(default_factory=lambda: empty(TABLES["other_messages"]))
    rejects: pl.DataFrame = field(default_factory=lambda: empty(TABLES["rejects"]))
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)

    def tables(self) -> dict[str, pl.DataFrame]:
        """Table name -> frame, for every table of :data:`seasight.model.schema.TABLES`."""
        return {name: getattr(self, name) for name in TABLES}

    def n_rows(self) -> int:
        """Rows in all tables, rejects included."""
        return sum(getattr(self, name).height for name in TABLES)

    def messages_by_type(self) -> Counter[int]:
        """How many decoded messages of each AIS type (type 19 counted once; rows without a
        message type, such as CSV fixes of unknown transceiver class, under 0)."""
        counts: Counter[int] = Counter()
        for name in DECODED_TABLES:
            types = getattr(self, name)["msg_type"]
            if name == "static":
                types = types.filter(types != 19)
            tally = np.bincount(types.fill_null(0).to_numpy(), minlength=1)
            counts.update({t: int(n) for t, n in enumerate(tally) if n})
        return counts

    def rejects_by_reason(self) -> Counter[str]:
        """How many rejected lines for each reason name."""
        return Counter(dict(self.rejects.group_by("reason").len().iter_rows()))

    @classmethod
    def concat(cls, batches: Iterable[Batch]) -> Batch:
        """All rows of ``batches`` in order, in one batch."""
        parts = list(batches)
        if not parts:
            return cls()
        skipped: Counter[str] = Counter()
        warnings: Counter[str] = Counter()
        for part in parts:
            skipped.update(part.skipped)
            warnings.update(part.warnings)
        frames = {
            name: conform(pl.concat([getattr(p, name) for p in parts], how="vertical"), schema)
            for name, schema in TABLES.items()
        }
        return cls(**frames, skipped=skipped, warnings=warnings)
