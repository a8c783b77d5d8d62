"""Every tunable threshold, in one table of (name, default, unit, help).

The values live beside the code that uses them (so each module reads as a whole); this table
collects them for documentation: the documentation site's settings page is generated from it
(:func:`settings_page`, run by ``make docs``), so it cannot drift. Ingest and decoding
thresholds are module constants; the thresholds of tracks and of each event detector are the
fields of that stage's frozen ``Params`` dataclass (named ``<stage>.<field>`` here, units in the
field names), documented by their ``#:`` comments.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from types import ModuleType

from seasight.ais import assembly, decoder, framing
from seasight.events.run import DETECTORS
from seasight.geo import polygon_repair, zones
from seasight.ingest import pipeline as ingest
from seasight.risk import score
from seasight.sharing import federation
from seasight.store import database, dedup
from seasight.tracks import clean, identity, segment


@dataclasses.dataclass(frozen=True)
class Setting:
    """One named, documented parameter."""

    name: str
    default: object
    unit: str
    help: str

    @property
    def shown(self) -> str:
        """The default as the README writes it."""
        value = self.default
        if isinstance(value, (frozenset, set, tuple, list)):
            return ", ".join(str(v) for v in sorted(value, key=str))
        return "none" if value is None else str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("MAX_LINE_BYTES", framing.MAX_LINE_BYTES, "bytes",
            "longest line accepted; longer lines are rejected as oversize_line"),
    Setting("MAX_PENDING_BYTES", decoder.MAX_PENDING_BYTES, "bytes",
            "a line still without its end after this is rejected as oversize_line; the rest "
            "is dropped as it arrives"),
    Setting("MAX_REJECT_BYTES", decoder.MAX_REJECT_BYTES, "bytes",
            "raw bytes a reject keeps of its line (the first ones)"),
    Setting("MAX_GAP_LINES", assembly.MAX_GAP_LINES, "lines",
            "fragments of one message further apart are not joined (missing_fragment)"),
    Setting("DEDUP_WINDOW_S", dedup.DEDUP_WINDOW_S, "seconds",
            "receptions of the same payload this close in time are one transmission"),
    Setting("CHUNK_BYTES", ingest.CHUNK_BYTES, "bytes", "text decoded at a time by ingest"),
    Setting("FIRST_CHUNK_BYTES", ingest.FIRST_CHUNK_BYTES, "bytes",
            "size of a file's first chunk, so that writing starts early"),
    Setting("PREFETCH_CHUNKS", ingest.PREFETCH_CHUNKS, "chunks",
            "chunks decoded ahead while the database writes"),
    Setting("COMMIT_ROWS", ingest.COMMIT_ROWS, "rows",
            "rows stored in one transaction with the source's checkpoint"),
    Setting("STORE_THREADS", ingest.STORE_THREADS, "threads",
            "DuckDB threads while a file is ingested (decoding has the other core)"),
    Setting("CHECKPOINT_THRESHOLD", database.CHECKPOINT_THRESHOLD, "",
            "DuckDB write-ahead log size at which it is folded into the database file"),
    Setting("BULK_CHECKPOINT_THRESHOLD", ingest.BULK_CHECKPOINT_THRESHOLD, "",
            "the same while a file is ingested: its commits write straight to the file"),
    Setting("MAX_ZONE_VERTICES", zones.MAX_ZONE_VERTICES, "vertices",
            "most vertices of one zone posted to /api/zones (all rings, closing ones included)"),
    Setting("MAX_ZONES_PER_REQUEST", zones.MAX_ZONES_PER_REQUEST, "zones",
            "most zones in one POST /api/zones"),
    Setting("MAX_REQUEST_VERTICES", zones.MAX_REQUEST_VERTICES, "vertices",
            "most vertices of all zones in one POST /api/zones"),
    Setting("MAX_ZONES_PER_ORGANISATION", zones.MAX_ZONES_PER_ORGANISATION, "zones",
            "most zones one organisation may keep"),
    Setting("MAX_ORGANISATION_VERTICES", zones.MAX_ORGANISATION_VERTICES, "vertices",
            "most vertices of all zones one organisation keeps"),
    Setting("REPAIR_TIMEOUT_S", polygon_repair.REPAIR_TIMEOUT_S, "seconds",
            "time limit of repairing the self-intersecting polygons of one request or file "
            "(in a separate process, killed at the limit)"),
    Setting("REPAIRS_AT_ONCE", polygon_repair.REPAIRS_AT_ONCE, "processes",
            "polygon repairs running at once; more wait up to the time limit, then 503"),
    Setting("MAX_REPLY_BYTES", federation.MAX_REPLY_BYTES, "bytes",
            "largest answer accepted from a federation partner (streamed, refused beyond)"),
    Setting("MAX_REPLY_ROWS", federation.MAX_REPLY_ROWS, "rows",
            "most rows of one partner export read in one pull (from the Parquet footer)"),
    Setting("PULL_DEADLINE_S", federation.PULL_DEADLINE_S, "seconds",
            "longest a whole federation pull may take, however slowly the partner answers"),
    Setting("FUTURE_TOLERANCE_S", federation.FUTURE_TOLERANCE_S, "seconds",
            "partner rows dated further ahead of this clock are rejects (bad_timestamp)"),
)


def _field_help(cls: type) -> dict[str, str]:
    """The ``#:`` comment above each field of a dataclass, joined into one line."""
    source = inspect.getsource(cls)
    helps = {}
    for match in re.finditer(r"((?:[ \t]*#:[^\n]*\n)+)[ \t]*(\w+)\s*:", source):
        lines = [line.strip()[2:].strip() for line in match.group(1).strip().splitlines()]
        helps[match.group(2)] = " ".join(lines)
    return helps


def params_settings(stage: str, params_class: type) -> tuple[Setting, ...]:
    """The fields of a stage's ``Params`` dataclass as settings named ``stage.field``."""
    helps = _field_help(params_class)
    return tuple(
        Setting(f"{stage}.{f.name}", f.default, "", helps.get(f.name, ""))
        for f in dataclasses.fields(params_class)
    )


def _detector_params(module: ModuleType) -> type:
    params: type = module.Params
    return params


#: Thresholds of track building and of every detector.
DETECTION_SETTINGS: tuple[Setting, ...] = (
    *params_settings("clean", clean.CleanParams),
    *params_settings("segment", segment.SegmentParams),
    *params_settings("identity", identity.IdentityParams),
    *(s for kind, module in DETECTORS.items()
      for s in params_settings(kind, _detector_params(module))),
)


#: Weights and scales of the vessel risk score.
RISK_SETTINGS: tuple[Setting, ...] = params_settings("risk", score.RiskParams)


def settings_table(settings: tuple[Setting, ...]) -> str:
    """A Markdown table of settings: name, default (with its unit) and meaning.

    >>> print(settings_table((Setting("MAX_X", 3, "lines", "most lines | at once"),)))
    | setting | default | meaning |
    |---|---|---|
    | `MAX_X` | 3 lines | most lines \\| at once |
    """
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for setting in settings:
        default = f"{setting.shown} {setting.unit}".strip()
        meaning = setting.help.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | {default} | {meaning} |")
    return "\n".join(rows)


def settings_page() -> str:
    """The documentation site's settings page (Markdown), generated from the tables above."""
    return "\n\n".join((
        "# Settings",
        "Every threshold is a named constant beside the code that uses it. This page is "
        "generated from `seasight.settings` when the site is built, so it always shows the "
        "current defaults.",
        "## Ingest, service and federation limits",
        "Module constants, listed in `seasight.settings.SETTINGS`.",
        settings_table(SETTINGS),
        "## Detection settings",
        "The fields of each stage's `Params` dataclass (`seasight.tracks.clean.CleanParams`, "
        "`seasight.tracks.segment.SegmentParams`, `seasight.tracks.identity.IdentityParams` and "
        "each detector's `Params`, e.g. `seasight.events.gap.Params`), named `<stage>.<field>`; "
        "see [Detection](detection.md) for what each detector does. In Python, pass changed "
        "values as `gap.Params(min_gap_h=6)`.",
        settings_table(DETECTION_SETTINGS),
        "## Risk settings",
        "Weights of the vessel risk score (`seasight.risk.score.RiskParams`): each factor earns "
        "at most its weight; the score is the sum of the points, capped at 100. See "
        "[Screening, risk and alerts](screening.md#risk).",
        settings_table(RISK_SETTINGS),
    )) + "\n"
