"""A user's description of a CSV track layout that the header alone does not give away.

Known layouts (MarineCadastre, DMA, generic) are recognised from the header by
:mod:`seasight.sources.csv_tracks`. Any other file is read with a :class:`CsvLayout`: which
column holds the time, the vessel, the position and the other fields, the separator, the time
format and zone, unit scales and null markers. Every part is optional: a layout without
``columns`` keeps header recognition and only changes the other settings.

A layout is written once in a small TOML (or JSON, for a ``.json`` file) file and reused with
``seasight ingest --layout FILE`` or :func:`load_layout`::

    # anonymised.toml: positions from a partner's export
    separator = ";"
    time_format = "%d/%m/%Y %H:%M"   # or auto, iso, dmy, mdy, epoch_s, epoch_ms, epoch_us
    timezone = "Europe/Copenhagen"   # for times written without an offset
    nulls = ["NULL", "-"]            # besides the empty field

    [columns]                        # field = header name, or 1-based column number
    time = "Timestamp"
    id = "ID"                        # an anonymised vessel id (use mmsi = ... for MMSIs)
    lat = "Lat"
    lon = "Lon"
    sog = "Speed"

    [scale]                          # the file's number times this is the stored value
    sog = 0.1                        # speed in tenths of a knot

Fields (:data:`FIELDS`): ``time``, ``lat``, ``lon`` and exactly one of ``mmsi`` / ``id`` are
required when ``columns`` is given. ``id`` is a vessel identifier that is not an MMSI (an
anonymised number or text): it is kept as written in ``static.vessel_id`` and each vessel gets
a synthetic MMSI (:func:`seasight.sources.vessel_ids.synthetic_mmsi`) so that tracks and events
work on it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from seasight.sources.errors import LayoutError

__all__ = [
    "DEFAULT_NULLS",
    "FIELDS",
    "SCALABLE",
    "TIME_FORMATS",
    "CsvLayout",
    "LayoutError",
    "load_layout",
    "parse_assignments",
]

#: Layout field -> (internal column name, meaning). ``time``, ``lat``, ``lon`` and one of
#: ``mmsi`` / ``id`` are required.
FIELDS: Final[dict[str, tuple[str, str]]] = {
    "time": ("ts", "time of the fix (see time_format and timezone)"),
    "mmsi": ("mmsi", "MMSI: a whole number of at most 9 digits"),
    "id": ("vessel_id", "vessel id that is not an MMSI (anonymised), kept as text"),
    "lat": ("lat", "latitude, degrees"),
    "lon": ("lon", "longitude, degrees"),
    "sog": ("sog", "speed over ground, knots (after scale)"),
    "cog": ("cog", "course over ground, degrees true"),
    "heading": ("heading", "true heading, degrees"),
    "rot": ("rot", "rate of turn, degrees/minute"),
    "nav_status": ("nav_status", "AIS navigational status code 0-15"),
    "name": ("shipname", "vessel name"),
    "callsign": ("callsign", "call sign"),
    "imo": ("imo", "IMO number"),
    "ship_type": ("ship_type", "AIS ship type code 1-255"),
    "draught": ("draught", "draught, metres"),
    "destination": ("destination", "destination as reported"),
}

#: Fields a ``scale`` may multiply.
SCALABLE: Final = ("lat", "lon", "sog", "cog", "heading", "rot", "draught")

#: Named time formats; any other value is a strftime/chrono format such as ``%d/%m/%Y %H:%M``.
#: ``auto``: ISO 8601 (``-`` or ``/`` between date parts, optional offset), unix time (seconds,
#: milliseconds or microseconds told apart by size, exponent form allowed) and ``dd/mm/yyyy`` or
#: ``mm/dd/yyyy`` when the file's values tell which. ``iso``; ``dmy`` / ``mdy``: slash dates in
#: that order; ``epoch_s`` / ``epoch_ms`` / ``epoch_us``: unix time in that unit.
TIME_FORMATS: Final = ("auto", "iso", "dmy", "mdy", "epoch_s", "epoch_ms", "epoch_us")

#: Field texts read as null when no ``nulls`` are given (the empty field is always null).
DEFAULT_NULLS: Final = ("NULL", "null", "Null", "NA", "N/A", "n/a", "NaN", "nan", "None",
                        "none")

_SEPARATORS: Final = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
                      "space": " "}


@dataclass(frozen=True)
class CsvLayout:
    """How to read a CSV track file; see the module documentation. Invalid values raise
    :class:`~seasight.sources.errors.LayoutError` naming the setting."""

    #: Layout field (:data:`FIELDS`) -> header name, or 1-based column number. Empty: the
    #: columns are recognised from the header.
    columns: Mapping[str, str | int] = field(default_factory=dict)
    #: One-character field separator; None: sniffed from the header (``,`` ``;`` tab ``|``).
    separator: str | None = None
    #: One of :data:`TIME_FORMATS` or a strftime format.
    time_format: str = "auto"
    #: IANA zone of times written without an offset (``Europe/Oslo``); converted to UTC.
    timezone: str = "UTC"
    #: Field texts that mean "no value" (compared after trimming); the empty field always does.
    nulls: tuple[str, ...] = DEFAULT_NULLS
    #: Field -> factor: the stored value is the file's number times the factor.
    scale: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise LayoutError(f"columns: unknown field {unknown[0]!r} "
                              f"(known: {', '.join(FIELDS)})")
        for name, ref in self.columns.items():
            if isinstance(ref, bool) or not isinstance(ref, str | int) or ref in ("", 0) or (
                    isinstance(ref, int) and ref < 1):
                raise LayoutError(f"columns.{name}: give a header name or a column number "
                                  f"(1 = first), not {ref!r}")
        if self.columns:
            missing = [f for f in ("time", "lat", "lon") if f not in self.columns]
            if missing:
                raise LayoutError(f"columns: no column for {', '.join(missing)}")
            ids = [f for f in ("mmsi", "id") if f in self.columns]
            if len(ids) != 1:
                raise LayoutError("columns: give exactly one of mmsi (an MMSI column) or id (a "
                                  "vessel id that is not an MMSI)")
        if self.separator is not None and (len(self.separator) != 1 or self.separator in '"\n\r'):
            raise LayoutError(f"separator: one character other than a quote or newline, not "
                              f"{self.separator!r}")
        if self.time_format not in TIME_FORMATS and "%" not in self.time_format:
            raise LayoutError(f"time_format: {self.time_format!r} is neither one of "
                              f"{', '.join(TIME_FORMATS)} nor a strftime format (%Y-%m-%d ...)")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise LayoutError(f"timezone: unknown time zone {self.timezone!r}") from exc
        for name, factor in self.scale.items():
            if name not in SCALABLE:
                raise LayoutError(f"scale: {name!r} cannot be scaled (only {', '.join(SCALABLE)})")
            if isinstance(factor, bool) or not isinstance(factor, int | float) or not (
                    factor == factor and factor not in (0, float("inf"), float("-inf"))):
                raise LayoutError(f"scale.{name}: a non-zero number, not {factor!r}")
        if not all(isinstance(n, str) for n in self.nulls):
            raise LayoutError("nulls: a list of texts")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> CsvLayout:
        """A layout from the parsed TOML/JSON document (keys as in the module documentation)."""
        known = {"columns", "separator", "time_format", "timezone", "nulls", "scale"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LayoutError(f"unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
        columns = data.get("columns", {})
        scale = data.get("scale", {})
        nulls = data.get("nulls", DEFAULT_NULLS)
        if not isinstance(columns, Mapping):
            raise LayoutError("columns: a table of field = column")
        if not isinstance(scale, Mapping):
            raise LayoutError("scale: a table of field = factor")
        if isinstance(nulls, str) or not isinstance(nulls, list | tuple):
            raise LayoutError("nulls: a list of texts")
        separator = data.get("separator")
        if separator is not None:
            if not isinstance(separator, str):
                raise LayoutError(f"separator: a text, not {separator!r}")
            separator = _SEPARATORS.get(separator.lower(), separator)
        time_format = data.get("time_format", "auto")
        timezone = data.get("timezone", "UTC")
        if not isinstance(time_format, str) or not isinstance(timezone, str):
            raise LayoutError("time_format and timezone are texts")
        return cls(columns=dict(columns), separator=separator, time_format=time_format,
                   timezone=timezone, nulls=tuple(nulls), scale=dict(scale))

    def to_mapping(self) -> dict[str, object]:
        """The layout as a TOML/JSON-ready document (settings left at their default omitted)."""
        out: dict[str, object] = {}
        if self.separator is not None:
            out["separator"] = self.separator
        if self.time_format != "auto":
            out["time_format"] = self.time_format
        if self.timezone != "UTC":
            out["timezone"] = self.timezone
        if tuple(self.nulls) != DEFAULT_NULLS:
            out["nulls"] = list(self.nulls)
        if self.columns:
            out["columns"] = dict(self.columns)
        if self.scale:
            out["scale"] = dict(self.scale)
        return out

    def digest(self) -> str:
        """A short stable hash of the settings: a file ingested again with another layout is
        read again (it is added to the file's fingerprint)."""
        text = json.dumps(self.to_mapping(), sort_keys=True, ensure_ascii=True)
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    def to_toml(self) -> str:
        """The layout as a TOML document that :func:`load_layout` reads back unchanged."""
        doc = self.to_mapping()
        lines = [f"{k} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
        for table in ("columns", "scale"):
            values = doc.get(table)
            if isinstance(values, dict):
                lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"

    def with_options(self, *, columns: Mapping[str, str | int] | None = None,
                     separator: str | None = None, time_format: str | None = None,
                     timezone: str | None = None, nulls: tuple[str, ...] | None = None,
                     scale: Mapping[str, float] | None = None) -> CsvLayout:
        """This layout with the given settings replaced (``columns`` and ``scale`` entries are
        added to this layout's, replacing those of the same field); None keeps a setting."""
        return CsvLayout(
            columns={**self.columns, **(columns or {})},
            separator=self.separator if separator is None else
            _SEPARATORS.get(separator.lower(), separator),
            time_format=self.time_format if time_format is None else time_format,
            timezone=self.timezone if timezone is None else timezone,
            nulls=self.nulls if nulls is None else nulls,
            scale={**self.scale, **(scale or {})},
        )


def load_layout(path: str | Path) -> CsvLayout:
    """Read a layout file: JSON when its name ends in ``.json``, TOML otherwise.

    Raises :class:`~seasight.sources.errors.LayoutError` (the file name and, for a syntax
    error, the line in it) when it cannot be used, :class:`OSError` when it cannot be read.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.name.lower().endswith(".json") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LayoutError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: the layout is a table of settings")
    try:
        return CsvLayout.from_mapping(data)
    except LayoutError as exc:
        raise LayoutError(f"{path}: {exc}") from exc


def parse_assignments(spec: str, what: str) -> dict[str, str]:
    """``"time=BaseDateTime,id=ID"`` -> ``{"time": "BaseDateTime", "id": "ID"}`` (the
    command-line form of ``columns`` and ``scale``); ``what`` names the option in errors."""
    out: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise LayoutError(f"{what}: expected field=value, got {part.strip()!r}")
        out[name.strip()] = value.strip()
    return out


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string
