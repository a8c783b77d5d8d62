"""Read CSV track files (one position fix per row) into :class:`~seasight.model.batch.Batch` frames.

Three layouts are recognised from the header (see :func:`detect_layout`); any other is read
with a :class:`~seasight.sources.csv_layout.CsvLayout` that names the columns (layout
``custom``) and can set the separator, time format and zone, unit scales and null markers for
any file:

``marinecadastre``
    US MarineCadastre / NOAA "AIS data for transportation planning" daily files: ``MMSI,
    BaseDateTime, LAT, LON, SOG, COG, Heading, VesselName, IMO, CallSign, VesselType, Status,
    Length, Width, Draft, Cargo, TransceiverClass`` (the 2024+ snake_case spellings such as
    ``base_date_time`` and ``vessel_name`` are accepted too). Times are ISO 8601 in UTC.
    ``msg_type`` is 1 for ``TransceiverClass`` A, 18 for B, null otherwise.
``dma``
    Danish Maritime Authority "aisdk" files: ``# Timestamp`` (``dd/mm/yyyy HH:MM:SS``, UTC),
    ``Type of mobile``, ``MMSI``, ``Latitude``, ``Longitude``, ``Navigational status`` (text),
    ``ROT``, ``SOG``, ``COG``, ``Heading``, ``IMO``, ``Callsign``, ``Name``, ``Ship type`` (text),
    ``Cargo type``, ``Width``, ``Length``, ``Type of position fixing device``, ``Draught``,
    ``Destination``, ``ETA``, ``Data source type`` and, in newer files, ``A, B, C, D``. The text
    columns are mapped to ITU-R M.1371 codes by :data:`DMA_NAV_STATUS`, :data:`DMA_SHIP_TYPE`,
    :data:`DMA_EPFD` and :data:`DMA_MOBILE_MSG_TYPE` (Class A -> 1, Class B -> 18, Base Station
    -> 4, AtoN -> 21, SAR Airborne -> 9). Base station fixes go to ``base_stations`` and AtoN
    fixes to ``aids_to_navigation``, as their AIS messages would; all others to ``positions``.
``generic``
    Any CSV with a time, vessel, latitude and longitude column under a common name (matched
    case-insensitively, see ``_GENERIC``), optionally speed, course, heading, name, call sign
    and IMO. The vessel is an MMSI column or, when there is none, an id column (``ID``,
    ``vessel_id``, ``ship_id``, ``track_id``...): see "Vessel ids" below. ``msg_type`` is null.

Times (``time_format = "auto"``, every layout): ISO 8601 with ``-`` or ``/`` between the date
parts (a ``Z`` or ``+hh:mm`` offset is converted to UTC; naive times are in the layout's
``timezone``, UTC by default), unix time in seconds, milliseconds or microseconds (told apart by
size: the 1990-2100 ranges do not overlap; ``1.6162e9`` exponent form accepted), and dates with
the year last (``20/03/2021 00:22``, ``20.03.2021``): day first in DMA files; elsewhere the file
decides, from its first values with a number above 12 in the day or month place (until one is
seen, such rows are rejected with a detail saying to give ``dmy`` or ``mdy``).

Columns are found by name, so extra named columns anywhere are ignored; a leading index column
written without a name (its data rows have one field more than the header, as R's
``write.csv`` makes), or a separator ending every row, is recognised from the first data lines
and skipped. The separator is
sniffed from the header (``,`` ``;`` tab ``|``, the one giving most columns); with another
separator than ``,`` a decimal comma is read. Fields are trimmed; empty fields and the null
markers (``NULL``, ``NA``, ``N/A``, ``NaN``, ``None`` by default) are null.

Vessel ids: a file whose vessels are not named by MMSI (anonymised data) keeps each row's id
in ``static.vessel_id`` (on the first row of each vessel in every block, and on every row that
carries identity) and gives the vessel a synthetic MMSI above every real one
(:func:`seasight.sources.vessel_ids.synthetic_mmsi`), so tracks and events work on it.

Every CSV row yields either one ``positions`` row (plus one ``static`` row when it says anything
about the vessel's identity or voyage) or one ``rejects`` row, never both, so that
``data lines == len(positions) + len(rejects) + skipped["blank"]`` (the header is line 1).
Rejects keep the row's raw bytes (without its line terminator) and name one reason of
:mod:`seasight.model.rejects`, checked in this order:

* ``bad_character``: the row is not valid UTF-8 (rejected whole, even when only the vessel
  name is, say, Latin-1: its bytes are kept in ``raw``);
* ``bad_csv_row``: wrong number of fields, broken quoting, latitude/longitude missing or not a
  number, or a truncated/corrupt ``.gz`` stream (one reject at the line where the damage
  starts; ``raw`` holds what was decompressed of that line);
* ``bad_mmsi``: MMSI missing or not a whole number of at most 9 digits (leading zeros and a
  ``.0`` suffix are tolerated);
* ``bad_vessel_id``: (files keyed by vessel id) the id is missing, or its synthetic MMSI is
  already another id's in this file (the id sorting first keeps it);
* ``bad_timestamp``: time missing, unparseable, or outside [:data:`TS_MIN`, :data:`TS_MAX`);
* ``impossible_position``: latitude outside [-90, 90] or longitude outside [-180, 180]; the
  AIS not-available values 91 / 181 are rejected the same way, with a detail that says so.

Details name the column (``column "LAT": latitude 95.5 outside [-90, 90]``); the row is the
reject's ``line_no``. A header that matches no layout (or lacks a column the given layout
names) gives one ``bad_csv_header`` reject for line 1 and no rows; the remaining lines are
counted in ``skipped["after_bad_header"]``.

Not-available values become nulls: SOG 102.3 (and anything outside 0-102.2 kn), COG 360 (and
anything outside [0, 360)), heading 511 (and anything outside [0, 360); headings are rounded
to whole degrees), ROT beyond +-708 deg/min, navigational status outside 0-15, ship type 0 (or
above 255), IMO 0, draught 0, ETA month/day 0, hour 24, minute 60. A leap second (``:60``) is
read as the next minute.

``static`` rows have ``msg_type`` null (a CSV row is not a type 5/24 message) and the same
``ts``, ``line_no`` and ``msg_hash`` as the row's position. Columns that the ``static`` schema
cannot hold are not stored: MarineCadastre's ``Length`` / ``Width`` (overall totals, while the
schema holds the four distances from the antenna; no split is invented, so ``to_bow`` ..
``to_starboard`` stay null), ``Cargo``, and DMA's ``Width`` / ``Length`` totals (``A``-``D`` are
stored), ``Cargo type`` and ``Data source type``.

``msg_hash`` is :func:`position_hash` of (mmsi, ts, lat, lon): the same fix read twice, from the
same file or another, gets the same hash.

Implementation: the file is read in blocks of whole lines (gzip is detected from its magic
bytes, whatever the file is called); each block becomes an Arrow string column built on the
block's own buffer, and everything after that is Polars expressions. Python loops run only over
rejected rows (to locate invalid UTF-8) and over rows that contain a double quote (split by the
standard :mod:`csv` module); quoted fields spanning several lines are not supported (each
physical line is one row).
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

import numpy as np
import polars as pl

from seasight.model.batch import Batch
from seasight.model.schema import TABLES, UTC_US, conform, empty
from seasight.sources.csv_blocks import (
    _BOM,
    TrackCsvInput,
    _Blocks,
    _Lines,
    _split_lines,
)
from seasight.sources.csv_known_layouts import (
    _DMA,
    _GENERIC,
    _INDEX_SAMPLE,
    _MARINECADASTRE,
    _REQUIRED,
    _SEPARATORS,
    DMA_EPFD,
    DMA_MOBILE_MSG_TYPE,
    DMA_NAV_STATUS,
    DMA_SHIP_TYPE,
    MARINECADASTRE_MSG_TYPE,
)
from seasight.sources.csv_layout import FIELDS, CsvLayout
from seasight.sources.errors import CsvLayoutError, SourceError
from seasight.sources.vessel_ids import colliding_ids, synthetic_mmsi

__all__ = [
    "DMA_EPFD",
    "DMA_MOBILE_MSG_TYPE",
    "DMA_NAV_STATUS",
    "DMA_SHIP_TYPE",
    "LAYOUTS",
    "MARINECADASTRE_MSG_TYPE",
    "TS_MAX",
    "TS_MIN",
    "CsvLayout",
    "CsvLayoutError",
    "SourceError",
    "TrackCsvInput",
    "detect_layout",
    "position_hash",
    "read_track_csv",
]

#: Layout names returned by :func:`detect_layout` (``custom``: columns named by a
#: :class:`~seasight.sources.csv_layout.CsvLayout`).
LAYOUTS: Final = ("marinecadastre", "dma", "generic", "custom")

#: Earliest accepted time; earlier ones are rejected as ``bad_timestamp`` (out of range).
TS_MIN: Final = datetime(1990, 1, 1, tzinfo=UTC)
#: Times at or after this are rejected as ``bad_timestamp`` (out of range).
TS_MAX: Final = datetime(2100, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def detect_layout(header: list[str], layout: CsvLayout | None = None) -> str:
    """Name the layout of a CSV track file from its header row.

    ``header`` is the list of column names as read (quotes removed). Names are matched after
    trimming, lower-casing, dropping a leading ``#`` and turning runs of other characters into
    ``_``. Returns ``"custom"`` when ``layout`` names the columns (and they are all in the
    header); else ``"dma"`` when there is a ``Type of mobile`` column (plus timestamp, MMSI,
    latitude, longitude), ``"marinecadastre"`` when there is a ``BaseDateTime`` column (plus
    MMSI, LAT/LON), else ``"generic"`` when a time, vessel (MMSI, or an id such as ``ID``
    when there is no MMSI column), latitude and longitude column can be named.

    Raises :class:`~seasight.sources.errors.CsvLayoutError` when none matches.
    """
    return _resolve(header, layout).layout


def read_track_csv(
    data: TrackCsvInput, *, source: str | None = None, layout: CsvLayout | None = None
) -> Batch:
    """Read one CSV track file (plain or gzip) into a :class:`~seasight.model.batch.Batch`.

    ``data`` is a path (``str`` or path-like; ``.gz`` or not, gzip is recognised by content) or
    the file's bytes. ``source`` is written in every row's ``source`` column; it defaults to
    the path as given, or ``"-"`` for bytes. ``layout`` describes a file the header alone does
    not (:class:`~seasight.sources.csv_layout.CsvLayout`: columns, separator, time format and
    zone, scales, null markers); without it the layout is recognised from the header.

    The returned batch has ``positions``, ``static`` and ``rejects`` filled (and, for DMA files,
    ``base_stations`` and ``aids_to_navigation`` with the fixes of those stations), each
    conformed to :data:`seasight.model.schema.TABLES`, and ``skipped`` counting blank
    lines (``"blank"``) and, after a header that matches no layout, the unread lines
    (``"after_bad_header"``). Rows are in file order. Bad rows never raise: they are returned in
    ``rejects`` (see the module documentation for the reasons). Only failing to open the file
    raises (:class:`OSError`).
    """
    if isinstance(data, bytes | bytearray | memoryview):
        src = "-" if source is None else source
    else:
        src = os.fspath(data) if source is None else source
    reader = _Blocks(data)
    with reader:
        return _read(reader, src, layout or CsvLayout())


def position_hash(
    mmsi: np.ndarray, ts_us: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """Deterministic 64-bit hash of each fix ``(mmsi, ts, lat, lon)``, as ``int64``.

    The inputs are 1-D arrays of equal length without nulls: MMSI (any integer type), time in
    UTC microseconds since the epoch (``int64`` or ``datetime64[us]``), latitude and longitude
    (``float64``). Each value is taken as its 64-bit pattern (integers as two's complement,
    floats as IEEE 754 bits with ``-0.0`` folded into ``0.0``) and folded into the state with
    the SplitMix64 finaliser (Steele, Lea and Flood 2014), in that order, from a fixed seed.
    It uses only numpy's wrapping ``uint64`` arithmetic, so the value is the same in every
    process, platform and library version; CSV rows of the same fix get the same
    ``msg_hash`` however the numbers were written, so re-ingesting a file adds nothing.
    """
    n = len(mmsi)
    words = (
        np.asarray(mmsi).astype(np.int64, copy=False).view(np.uint64),
        np.asarray(ts_us).view(np.int64).view(np.uint64),
        (np.asarray(lat, dtype=np.float64) + 0.0).view(np.uint64),
        (np.asarray(lon, dtype=np.float64) + 0.0).view(np.uint64),
    )
    with np.errstate(over="ignore"):
        state = np.full(n, _HASH_SEED, dtype=np.uint64)
        for word in words:
            state = _splitmix64(state ^ _splitmix64(word + _GOLDEN))
    return state.view(np.int64)


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------

_HASH_SEED: Final = np.uint64(0x5EA5_1647_C5F0_0CA5)
_GOLDEN: Final = np.uint64(0x9E37_79B9_7F4A_7C15)
_MIX1: Final = np.uint64(0xBF58_476D_1CE4_E5B9)
_MIX2: Final = np.uint64(0x94D0_49BB_1331_11EB)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def _normalise_name(name: str) -> str:
    """``"# Timestamp"`` -> ``timestamp``, ``"Type of mobile"`` -> ``type_of_mobile``."""
    text = name.strip().lstrip("\ufeff").strip().lstrip("#").strip().lower()
    out: list[str] = []
    gap = False
    for ch in text:
        if ch.isalnum():
            if gap and out:
                out.append("_")
            out.append(ch)
            gap = False
        else:
            gap = True
    return "".join(out)


def _find(names: list[str], spec: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    found: dict[str, int] = {}
    for canonical, aliases in spec.items():
        for alias in aliases:
            if alias in index:
                found[canonical] = index[alias]
                break
    return found


@dataclass(frozen=True)
class _Plan:
    """How to read one file: its layout, where each field is, and the layout's settings."""

    layout: str
    cols: dict[str, int]  # canonical field -> index of the field in a row
    names: dict[str, str]  # canonical field -> column name as in the header (for details)
    n_fields: int
    settings: CsvLayout = field(default_factory=CsvLayout)
    sep: str = ","

    @property
    def id_field(self) -> str:
        """``mmsi``, or ``vessel_id`` when the vessels are named by another id."""
        return "vessel_id" if "vessel_id" in self.cols else "mmsi"

    def label(self, name: str) -> str:
        """``column "LAT"``: how a reject detail names the column of a field."""
        return f'column "{self.names.get(name, name)}"'

    def shifted(self, by: int) -> _Plan:
        """The plan for rows with one unnamed field more than the header: ``by`` = 1 when it
        comes first, 0 when last."""
        return _Plan(self.layout, {k: i + by for k, i in self.cols.items()}, self.names,
                     self.n_fields + 1, self.settings, self.sep)


def _column_index(header: list[str], ref: str | int) -> int | None:
    """Index of the column a layout names: its header text (exact, then as normalised), or a
    1-based column number (an integer, or digits that name no header column)."""
    if isinstance(ref, int):
        return ref - 1 if 1 <= ref <= len(header) else None
    stripped = [h.strip().lstrip("\ufeff") for h in header]
    if ref.strip() in stripped:
        return stripped.index(ref.strip())
    names = [_normalise_name(h) for h in header]
    key = _normalise_name(ref)
    if key and key in names:
        return names.index(key)
    if ref.strip().isdigit() and 1 <= int(ref) <= len(header):
        return int(ref) - 1
    return None


def _custom(header: list[str], layout: CsvLayout) -> dict[str, int]:
    cols: dict[str, int] = {}
    for name, ref in layout.columns.items():
        index = _column_index(header, ref)
        if index is None:
            shown = ", ".join(repr(h) for h in header[:30])
            raise CsvLayoutError(
                f"the layout's column {ref!r} for {name} is not in the header [{shown}]"
            )
        cols[FIELDS[name][0]] = index
    return cols


def _resolve(header: list[str], layout: CsvLayout | None = None) -> _Plan:
    """The plan (layout name, canonical field -> column index) for a header row."""
    settings = layout or CsvLayout()
    if settings.columns:
        cols = _custom(header, settings)
        return _plan("custom", cols, header, settings)
    names = [_normalise_name(h) for h in header]
    if "type_of_mobile" in names:
        cols = _find(names, _DMA)
        if all(f in cols for f in _REQUIRED):
            return _plan("dma", cols, header, settings)
    if "basedatetime" in names or "base_date_time" in names:
        cols = _find(names, _MARINECADASTRE)
        if all(f in cols for f in _REQUIRED):
            return _plan("marinecadastre", cols, header, settings)
    cols = _find(names, _GENERIC)
    if "mmsi" in cols:
        cols.pop("vessel_id", None)
    elif "vessel_id" in cols:
        cols["mmsi"] = cols["vessel_id"]  # for the check below; not read
    if all(f in cols for f in _REQUIRED):
        if "vessel_id" in cols:
            del cols["mmsi"]
        return _plan("generic", cols, header, settings)
    wanted = {
        "ts": "time (time/timestamp/BaseDateTime/# Timestamp)",
        "mmsi": "vessel (MMSI, or an id: vessel_id/ID)",
        "lat": "latitude (lat/latitude/latitude_degrees)",
        "lon": "longitude (lon/lng/longitude/longitude_degrees)",
    }
    missing = [wanted[f] for f in _REQUIRED if f not in cols]
    shown = ", ".join(repr(h) for h in header[:30])
    raise CsvLayoutError(
        f"CSV header matches no known layout (marinecadastre, dma, generic): no column for "
        f"{', '.join(missing)}; header was [{shown}]. Describe the file with a layout "
        f"(seasight ingest --layout FILE, or --csv-columns time=...,mmsi=...,lat=...,lon=...)"
    )


def _plan(layout: str, cols: dict[str, int], header: list[str], settings: CsvLayout) -> _Plan:
    names = {name: header[i].strip().lstrip("\ufeff") for name, i in cols.items()}
    return _Plan(layout, cols, names, len(header), settings)


def _sniff_separator(header: str) -> str:
    """The separator of :data:`_SEPARATORS` that splits the header line into most fields."""
    best, most = ",", 0
    for sep in _SEPARATORS:
        try:
            n = len(next(csv.reader([header], delimiter=sep), []))
        except csv.Error:
            continue
        if n > most:
            best, most = sep, n
    return best


def _unnamed_column(sample: bytes, plan: _Plan) -> int | None:
    """When the first data lines all have one field more than the header names: 1 for a
    leading index column written without a name (R's ``write.csv``, some exports), 0 for a
    separator ending every row (an empty last field); else None."""
    lines: list[bytes] = []
    pos = 0
    while len(lines) < _INDEX_SAMPLE and pos < len(sample):
        end = sample.find(b"\n", pos)
        end = len(sample) if end < 0 else end
        line = sample[pos:end].removesuffix(b"\r")
        if line.strip():
            lines.append(line)
        pos = end + 1
    if not lines:
        return None
    try:
        rows = list(csv.reader([ln.decode("utf-8") for ln in lines], delimiter=plan.sep))
    except (UnicodeDecodeError, csv.Error):
        return None
    if not all(len(r) == plan.n_fields + 1 for r in rows):
        return None
    return 0 if all(r[-1].strip() == "" for r in rows) else 1


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_ISO_RE: Final = (
    r"^(?P<y>\d{4})[-/](?P<mo>\d{1,2})[-/](?P<d>\d{1,2})[T ]+(?P<h>\d{1,2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"\s*(?P<tz>[Zz]|UTC|(?P<sign>[+-])(?P<tzh>\d{2}):?(?P<tzm>\d{2})?)?$"
)
_CLOCK: Final = r"[T ]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?$"
_DMY_RE: Final = r"^(?P<d>\d{1,2})[/.-](?P<mo>\d{1,2})[/.-](?P<y>\d{4})" + _CLOCK
_MDY_RE: Final = r"^(?P<mo>\d{1,2})[/.-](?P<d>\d{1,2})[/.-](?P<y>\d{4})" + _CLOCK
#: A date with the year last: which of the first two numbers is the day is decided per file.
_YEAR_LAST_RE: Final = r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-]\d{4}[T ]"
_UNIX_RE: Final = r"^(?P<int>\d{1,11})(?:\.(?P<frac>\d*))?$"
_NUMBER_RE: Final = r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$"
#: Microseconds per unit of the epoch time formats.
_EPOCH_US: Final = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}


def _micros(frac: pl.Expr) -> pl.Expr:
    """Fractional-second digits -> whole microseconds (truncated), 0 when absent."""
    return frac.str.pad_end(6, "0").str.slice(0, 6).cast(pl.Int64).fill_null(0)


def _localise(naive: pl.Expr, tz: str) -> pl.Expr:
    """Naive local times of zone ``tz`` -> UTC; times that do not exist or occur twice there
    (daylight-saving changes) become null rather than a guess."""
    if tz == "UTC":
        return naive.dt.replace_time_zone("UTC")
    local = naive.dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def _from_parts(g: pl.Expr, *, with_tz: bool, tz: str) -> pl.Expr:
    """Datetime (UTC, us) from the named groups of :data:`_ISO_RE` / :data:`_DMY_RE`; a time
    without an offset is local time of ``tz``."""
    f = g.struct.field
    sec = f("s").fill_null("00")
    canonical = pl.concat_str(
        [
            f("y"),
            pl.lit("-"),
            f("mo").str.zfill(2),
            pl.lit("-"),
            f("d").str.zfill(2),
            pl.lit(" "),
            f("h").str.zfill(2),
            pl.lit(":"),
            f("mi"),
            pl.lit(":"),
            sec,
        ]
    )
    # A leap second (second 60) is read as second 0 of the next minute, as chrono does.
    naive = canonical.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
    micros = pl.duration(microseconds=_micros(f("frac")))
    local = _localise(naive, tz) + micros
    if not with_tz:
        return local
    tzh = f("tzh").cast(pl.Int64)
    tzm = f("tzm").cast(pl.Int64).fill_null(0)
    offset = pl.when(f("sign") == "-").then(-1).otherwise(1) * (tzh * 60 + tzm)
    offset = pl.when(f("sign").is_null()).then(0).otherwise(offset)
    valid = f("sign").is_null() | ((tzh <= 23) & (tzm <= 59))
    utc = naive.dt.replace_time_zone("UTC") + micros - pl.duration(minutes=offset)
    return pl.when(f("tz").is_null()).then(local).when(valid).then(utc)


def _epoch(s: pl.Expr, unit: str | None) -> pl.Expr:
    """Unix time -> UTC. ``unit`` one of :data:`_EPOCH_US`; None: seconds below 1e11,
    milliseconds below 1e14, else microseconds (the [1990, 2100) range of each unit does not
    overlap another's). Whole numbers are read exactly, others (``1.6162e9``) as floats."""
    g = s.str.extract_groups(_UNIX_RE)
    digits = s.str.extract(r"^(\d{1,17})$", 1).cast(pl.Int64)
    value = s.str.extract(_NUMBER_RE, 1).cast(pl.Float64, strict=False)
    per: pl.Expr
    if unit is None:
        size = value.abs()
        per = pl.when(size < 1e11).then(1_000_000).when(size < 1e14).then(1_000).otherwise(1)
        seconds = g.struct.field("int").cast(pl.Int64) * 1_000_000 + _micros(g.struct.field("frac"))
        exact = pl.coalesce(seconds, digits * per)
    else:
        per = pl.lit(_EPOCH_US[unit])
        exact = digits * per
    approx = (value * per).round(0)
    us = pl.coalesce(exact, pl.when(approx.abs() < 9e15).then(approx).cast(pl.Int64))
    return us.cast(UTC_US)


def _fast_time(s: pl.Expr, plan: _Plan) -> pl.Expr:
    """The layout's usual time format(s), parsed directly; null for anything else."""
    fmt, tz = plan.settings.time_format, plan.settings.timezone
    if fmt in _EPOCH_US:
        return _epoch(s, fmt)
    if "%" in fmt:
        parsed = s.str.to_datetime(fmt, time_unit="us", strict=False)
        # a format with an offset (%z) gives UTC times already
        return parsed if "%z" in fmt or "%:z" in fmt else _localise(parsed, tz)
    if fmt == "dmy" or (fmt == "auto" and plan.layout == "dma"):
        formats: tuple[str, ...] = ("%d/%m/%Y %H:%M:%S",)
    elif fmt == "mdy":
        formats = ("%m/%d/%Y %H:%M:%S",)
    else:
        formats = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")
    forms = [s.str.to_datetime(f, time_unit="us", strict=False) for f in formats]
    return _localise(forms[0] if len(forms) == 1 else pl.coalesce(forms), tz)


def _parse_time(s: pl.Expr, plan: _Plan, order: str | None) -> pl.Expr:
    """Every time form the layout accepts (slower than :func:`_fast_time`; used where it
    gave null). ``order``: ``dmy`` / ``mdy`` for dates written with the year last, None when
    the file has not told yet (they stay null)."""
    fmt, tz = plan.settings.time_format, plan.settings.timezone
    s = s.str.strip_chars()
    if fmt in _EPOCH_US:
        return _epoch(s, fmt)
    if "%" in fmt:
        return _fast_time(s, plan)
    iso = _from_parts(s.str.extract_groups(_ISO_RE), with_tz=True, tz=tz)
    if fmt == "iso":
        return iso
    if fmt in ("dmy", "mdy"):
        order = fmt
    elif plan.layout == "dma":
        order = "dmy"
    parts = []
    if order is not None:
        regex = _DMY_RE if order == "dmy" else _MDY_RE
        parts.append(_from_parts(s.str.extract_groups(regex), with_tz=False, tz=tz))
    if fmt == "auto":
        parts = [iso, *parts, _epoch(s, None)]
    return pl.coalesce(parts)


def _day_order(ts: pl.Series) -> str | None:
    """``dmy`` or ``mdy`` when the dates of ``ts`` written with the year last say which number
    is the day (one above 12 in the first place and none in the second, or the reverse)."""
    g = ts.str.strip_chars().str.extract_groups(_YEAR_LAST_RE)
    a = g.struct.field("a").cast(pl.Int64)
    b = g.struct.field("b").cast(pl.Int64)
    day_first, month_first = bool((a > 12).any()), bool((b > 12).any())
    if day_first != month_first:
        return "dmy" if day_first else "mdy"
    return None


def _num(name: str) -> pl.Expr:
    """The float column parsed from field ``name`` by :func:`_parse_fields` (finite or null)."""
    return pl.col(f"f_{name}")


#: Fields read as numbers (kept as text too, for the reject details and text-coded layouts).
_NUMERIC: Final = frozenset(
    {
        "lat",
        "lon",
        "sog",
        "cog",
        "heading",
        "nav_status",
        "rot",
        "ship_type",
        "draught",
        "to_bow",
        "to_stern",
        "to_port",
        "to_starboard",
    }
)
#: Numeric fields never needed as text: left unstripped (the float cast ignores blanks).
_ONLY_NUMERIC: Final = _NUMERIC - {"lat", "lon", "nav_status", "ship_type"}


def _parse_fields(frame: pl.LazyFrame, plan: _Plan) -> pl.LazyFrame:
    """Add one column per field (trimmed text, null when empty or a null marker) and
    ``f_<name>`` floats (times the layout's scale; a decimal comma is read when the separator
    is not a comma).

    Each step refers to columns made by the previous one, so no string work is repeated.
    """
    cols = plan.cols
    known = plan.layout in ("marinecadastre", "dma") and plan.sep == ","
    # the known layouts' speed, course, ... are read as written; other files' trimmed too
    text = [name for name in cols if name not in _ONLY_NUMERIC or not known]
    numeric = [name for name in cols if name in _NUMERIC]
    nulls = sorted({"", *(n.strip() for n in plan.settings.nulls)})
    is_value = (lambda c: c != "") if nulls == [""] else (lambda c: ~c.is_in(nulls))
    scale = plan.settings.scale

    def number(name: str) -> pl.Expr:
        col = pl.col(name)
        if plan.sep != ",":
            col = col.str.replace(",", ".", literal=True)
        value = col.cast(pl.Float64, strict=False)
        return (value * scale[name] if name in scale else value).alias(f"f_{name}")

    return (
        frame.with_columns(
            pl.col("fields").list.len().alias("n_fields"),
            *(
                pl.col("fields").list.get(i, null_on_oob=True).alias(name)
                for name, i in cols.items()
            ),
        )
        .with_columns(pl.col(text).str.strip_chars())
        .with_columns(
            *(pl.when(is_value(pl.col(name))).then(pl.col(name)).alias(name) for name in text),
            *(number(name) for name in numeric),
        )
        .with_columns(
            pl.when(pl.col(f"f_{name}").is_finite()).then(pl.col(f"f_{name}")).alias(f"f_{name}")
            for name in numeric
        )
    )


def _whole(x: pl.Expr, lo: int, hi: int) -> pl.Expr:
    """Float -> Int64 when it is a whole number in [lo, hi], else null."""
    return pl.when((x == x.round(0)) & (x >= lo) & (x <= hi)).then(x.cast(pl.Int64))


def _text_key(text: str) -> str:
    """Lower case, letters and digits only: ``"Towing long/wide"`` -> ``towinglongwide``."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _lookup(frame: pl.DataFrame, name: str, table: Mapping[str, int]) -> pl.Expr:
    """Map the text column ``name`` through ``table`` (keys compared by :func:`_text_key`).

    The keys are normalised once per distinct value, not per row.
    """
    keyed = {_text_key(k): v for k, v in table.items()}
    mapping = {
        value: keyed[_text_key(value)]
        for value in frame.get_column(name).drop_nulls().unique().to_list()
        if _text_key(value) in keyed
    }
    return pl.col(name).replace_strict(mapping, default=None, return_dtype=pl.Int64)


def _opt(name: str, cols: Mapping[str, int]) -> pl.Expr:
    """The stripped string field ``name``, or a null literal when the layout lacks it."""
    return pl.col(name) if name in cols else pl.lit(None, dtype=pl.String)


@dataclass
class _Parsed:
    positions: pl.DataFrame
    static: pl.DataFrame
    rejects: pl.DataFrame
    blank: int


def _split_fields(lines: pl.DataFrame, sep: str) -> pl.DataFrame:
    """Add ``fields`` (list of strings, null when the quoting is broken); keeps line order."""
    quoted = lines["text"].str.contains('"', literal=True)
    if not quoted.any():
        return lines.with_columns(fields=pl.col("text").str.split(sep))
    plain = lines.filter(~quoted).with_columns(fields=pl.col("text").str.split(sep))
    tricky = lines.filter(quoted)
    parsed: list[list[str] | None] = []
    for text in tricky["text"]:
        try:
            rows = list(csv.reader([text], delimiter=sep, strict=True))
            parsed.append(rows[0] if len(rows) == 1 else None)
        except csv.Error:
            parsed.append(None)
    tricky = tricky.with_columns(fields=pl.Series(parsed, dtype=pl.List(pl.String)))
    return pl.concat([plain, tricky]).sort("line_no")


@dataclass
class _State:
    """What the blocks of one file share: the day/month order of its dates once the values
    have told it, and the synthetic MMSIs given out (-> vessel id)."""

    order: str | None = None
    owners: dict[int, str] = field(default_factory=dict)


def _vessel_ids(checked: pl.DataFrame, plan: _Plan, state: _State) -> tuple[pl.Expr, pl.Expr]:
    """(synthetic MMSI per row, detail for rows whose id collides) for a vessel-id file."""
    ids = checked.get_column("vessel_id").drop_nulls().unique().to_list()
    numbers = {vid: synthetic_mmsi(vid) for vid in ids}
    collided = colliding_ids(numbers, state.owners)
    mapping = {vid: n for vid, n in numbers.items() if vid not in collided}
    label = plan.label("vessel_id")
    details = {
        vid: f'{label}: vessel id "{vid}" has the same synthetic MMSI ({numbers[vid]}) as '
        f'"{owner}" (rename one of them)'
        for vid, owner in collided.items()
    }
    col = pl.col("vessel_id")
    return (
        col.replace_strict(mapping, default=None, return_dtype=pl.Int64),
        col.replace_strict(details, default=None, return_dtype=pl.String),
    )


def _parse_block(lines: _Lines, plan: _Plan, state: _State, source: str) -> _Parsed:
    n_fields = plan.n_fields
    settings = plan.settings
    frame = lines.frame
    if lines.bad_utf8:
        idx = pl.Series(list(lines.bad_utf8), dtype=pl.Int64)
        details = pl.Series([d for d, _ in lines.bad_utf8.values()], dtype=pl.String)
        bad = pl.repeat(None, lines.n_lines, dtype=pl.String, eager=True).scatter(idx, details)
        frame = frame.with_columns(bad_char=bad)
    else:
        frame = frame.with_columns(bad_char=pl.lit(None, dtype=pl.String))

    is_blank = pl.col("bad_char").is_null() & (pl.col("text").str.strip_chars() == "")
    blank = int(frame.select(is_blank.sum()).item())
    if blank:
        frame = frame.filter(~is_blank)

    # --- fields, and the four required ones parsed -------------------------------------------
    frame = _split_fields(frame, plan.sep)
    checked = (
        _parse_fields(frame.lazy(), plan)
        .with_columns(
            ts_any=_fast_time(pl.col("ts"), plan),
            lat_v=_num("lat"),
            lon_v=_num("lon"),
        )
        .collect()
    )
    id_field = plan.id_field
    if id_field == "mmsi":
        mmsi_v = pl.col("mmsi").str.extract(r"^0*(\d{1,9})(?:\.0*)?$", 1).cast(pl.Int64)
        collision = pl.lit(None, dtype=pl.String)
    else:
        mmsi_v, collision = _vessel_ids(checked, plan, state)
    checked = checked.with_columns(mmsi_v=mmsi_v, collision=collision)
    slow = checked.select((pl.col("ts_any").is_null() & pl.col("ts").is_not_null()).arg_true())
    year_last = settings.time_format == "auto" and plan.layout != "dma"
    if slow.height:
        idx = slow.to_series()
        subset = checked.select(pl.col("ts").gather(idx))
        if year_last and state.order is None:
            state.order = _day_order(subset.get_column("ts"))
        values = subset.select(_parse_time(pl.col("ts"), plan, state.order)).to_series()
        checked = checked.with_columns(checked["ts_any"].scatter(idx, values))

    # --- one reason (or none) per row -----------------------------------------------------------
    ts_ok = (pl.col("ts_any") >= pl.lit(TS_MIN, dtype=UTC_US)) & (
        pl.col("ts_any") < pl.lit(TS_MAX, dtype=UTC_US)
    )
    bad_count = pl.col("fields").is_null() | (pl.col("n_fields") != n_fields)
    lat, lon = pl.col("lat_v"), pl.col("lon_v")
    not_available = (lat == 91) | (lon == 181)
    lat_out = (lat < -90) | (lat > 90)
    lon_out = (lon < -180) | (lon > 180)
    reason = (
        pl.when(pl.col("bad_char").is_not_null())
        .then(pl.lit("bad_character"))
        .when(bad_count)
        .then(pl.lit("bad_csv_row"))
        .when(pl.col("mmsi_v").is_null())
        .then(pl.lit("bad_mmsi" if id_field == "mmsi" else "bad_vessel_id"))
        .when(pl.col("ts_v").is_null())
        .then(pl.lit("bad_timestamp"))
        .when(lat.is_null() | lon.is_null())
        .then(pl.lit("bad_csv_row"))
        .when(not_available | lat_out | lon_out)
        .then(pl.lit("impossible_position"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    checked = checked.with_columns(ts_v=pl.when(ts_ok).then(pl.col("ts_any"))).with_columns(
        reason=reason
    )
    good = checked.drop("fields", "text").filter(pl.col("reason").is_null())
    rejected = checked.filter(pl.col("reason").is_not_null())

    # --- rejects: raw bytes and a readable detail (few rows) -----------------------------------
    id_, ts_, lat_, lon_ = (plan.label(n) for n in (id_field, "ts", "lat", "lon"))
    if id_field == "mmsi":
        bad_id = pl.format(f'{id_}: MMSI "{{}}" is not a whole number of at most 9 digits',
                           pl.col("mmsi"))
    else:
        bad_id = pl.col("collision")
    if settings.time_format == "auto":
        unparsed = pl.format(f'{ts_}: cannot parse time "{{}}"', pl.col("ts"))
    else:
        unparsed = pl.format(f'{ts_}: cannot parse time "{{}}" as {settings.time_format}',
                             pl.col("ts"))
    if year_last and state.order is None:  # dates with the year last, no day above 12 yet
        unparsed = pl.when(pl.col("ts").str.strip_chars().str.contains(_YEAR_LAST_RE)).then(
            pl.format(f'{ts_}: day and month of "{{}}" cannot be told apart in this file (no '
                      f'day above 12): give the time format (dmy or mdy)', pl.col("ts"))
        ).otherwise(unparsed)
    if settings.timezone != "UTC":
        unparsed = pl.format(f"{{}} (or not a valid local time in {settings.timezone})",
                             unparsed)
    detail = (
        pl.when(pl.col("bad_char").is_not_null())
        .then(pl.col("bad_char"))
        .when(pl.col("fields").is_null())
        .then(pl.lit("unbalanced or misplaced double quotes"))
        .when(bad_count)
        .then(pl.format(f"expected {n_fields} fields, found {{}}", pl.col("n_fields")))
        .when(pl.col(id_field).is_null())
        .then(pl.lit(f"{id_}: {'MMSI' if id_field == 'mmsi' else 'vessel id'} missing"))
        .when(pl.col("mmsi_v").is_null())
        .then(bad_id)
        .when(pl.col("ts").is_null())
        .then(pl.lit(f"{ts_}: time missing"))
        .when(pl.col("ts_any").is_not_null() & pl.col("ts_v").is_null())
        .then(pl.format(f'{ts_}: time "{{}}" outside {TS_MIN:%Y-%m-%d}..{TS_MAX:%Y-%m-%d}',
                        "ts"))
        .when(pl.col("ts_v").is_null())
        .then(unparsed)
        .when(pl.col("lat").is_null())
        .then(pl.lit(f"{lat_}: latitude missing"))
        .when(lat.is_null())
        .then(pl.format(f'{lat_}: latitude "{{}}" is not a number', pl.col("lat")))
        .when(pl.col("lon").is_null())
        .then(pl.lit(f"{lon_}: longitude missing"))
        .when(lon.is_null())
        .then(pl.format(f'{lon_}: longitude "{{}}" is not a number', pl.col("lon")))
        .when(not_available)
        .then(pl.format("position not available (lat {}, lon {}: AIS 91/181)", "lat", "lon"))
        .when(lat_out)
        .then(pl.format(f"{lat_}: latitude {{}} outside [-90, 90]", lat))
        .otherwise(pl.format(f"{lon_}: longitude {{}} outside [-180, 180]", lon))
    )
    rejects = rejected.select(
        pl.lit(source).alias("source"),
        "line_no",
        pl.col("text").cast(pl.Binary).alias("raw"),
        "reason",
        detail.alias("detail"),
    )
    if lines.bad_utf8:
        first = int(lines.frame["line_no"][0])
        undecoded = pl.DataFrame(
            {
                "line_no": [first + i for i in lines.bad_utf8],
                "undecoded": [raw for _, raw in lines.bad_utf8.values()],
            },
            schema={"line_no": pl.Int64, "undecoded": pl.Binary},
        )
        rejects = (
            rejects.join(undecoded, on="line_no", how="left", maintain_order="left")
            .with_columns(raw=pl.coalesce("undecoded", "raw"))
            .drop("undecoded")
        )

    # --- accepted rows ------------------------------------------------------------------------
    hashes = position_hash(
        good["mmsi_v"].to_numpy(),
        good["ts_v"].to_numpy(),
        good["lat_v"].to_numpy(),
        good["lon_v"].to_numpy(),
    )
    good = good.with_columns(msg_hash=pl.Series(hashes, dtype=pl.Int64))
    return _Parsed(
        conform(_positions(good, plan.layout, plan.cols, source), TABLES["positions"]),
        conform(_static(good, plan.layout, plan.cols, source), TABLES["static"]),
        conform(rejects, TABLES["rejects"]),
        blank,
    )


def _provenance(source: str) -> list[pl.Expr]:
    return [
        pl.lit(source).alias("source"),
        pl.col("line_no"),
        pl.lit("csv").alias("ts_source"),
        pl.col("msg_hash"),
    ]


def _positions(
    good: pl.DataFrame, layout: str, cols: Mapping[str, int], source: str
) -> pl.DataFrame:
    sog = _num("sog") if "sog" in cols else pl.lit(None, dtype=pl.Float64)
    cog = _num("cog") if "cog" in cols else pl.lit(None, dtype=pl.Float64)
    heading = _num("heading") if "heading" in cols else pl.lit(None, dtype=pl.Float64)
    if layout == "marinecadastre" and "transceiver" in cols:
        msg_type = _lookup(good, "transceiver", MARINECADASTRE_MSG_TYPE)
    elif layout == "dma" and "mobile" in cols:
        msg_type = _lookup(good, "mobile", DMA_MOBILE_MSG_TYPE)
    else:
        msg_type = pl.lit(None, dtype=pl.Int64)
    if layout == "dma" and "nav_status" in cols:
        nav = pl.coalesce(
            _lookup(good, "nav_status", DMA_NAV_STATUS), _whole(_num("nav_status"), 0, 15)
        )
    elif "nav_status" in cols:
        nav = _whole(_num("nav_status"), 0, 15)
    else:
        nav = pl.lit(None, dtype=pl.Int64)
    if "rot" in cols:
        rot = _num("rot")
        rot = pl.when(rot.abs() <= 708).then(rot)
    else:
        rot = pl.lit(None, dtype=pl.Float64)
    return good.select(
        pl.col("mmsi_v").alias("mmsi"),
        pl.col("ts_v").alias("ts"),
        msg_type.alias("msg_type"),
        pl.col("lat_v").alias("lat"),
        pl.col("lon_v").alias("lon"),
        pl.when((sog >= 0) & (sog <= 102.2 + 1e-9)).then(sog).alias("sog"),
        pl.when((cog >= 0) & (cog < 360)).then(cog).alias("cog"),
        pl.when((heading >= 0) & (heading < 360))
        .then(heading.round(0).cast(pl.Int64) % 360)
        .alias("heading"),
        nav.alias("nav_status"),
        rot.alias("rot"),
        *_provenance(source),
    )


def _static(good: pl.DataFrame, layout: str, cols: Mapping[str, int], source: str) -> pl.DataFrame:
    identity_fields = ("vessel_id", "imo", "callsign", "shipname", "ship_type", "draught",
                       "destination")
    if not any(name in cols for name in identity_fields):
        return empty(TABLES["static"])
    imo = _opt("imo", cols).str.extract(r"^(?i:imo)?\s*(\d{1,10})$", 1).cast(pl.Int64, strict=False)
    draught = _num("draught") if "draught" in cols else pl.lit(None, dtype=pl.Float64)
    if layout == "dma":
        ship_type = (
            pl.coalesce(
                _lookup(good, "ship_type", DMA_SHIP_TYPE), _whole(_num("ship_type"), 1, 255)
            )
            if "ship_type" in cols
            else pl.lit(None, dtype=pl.Int64)
        )
    else:
        ship_type = (
            _whole(_num("ship_type"), 1, 255) if "ship_type" in cols else pl.lit(None, pl.Int64)
        )
    exprs: dict[str, pl.Expr] = {
        "imo": pl.when((imo >= 1) & (imo <= 0xFFFF_FFFF)).then(imo),
        "callsign": _opt("callsign", cols),
        "shipname": _opt("shipname", cols),
        "ship_type": ship_type,
        "draught": pl.when(draught > 0).then(draught),
        "destination": _opt("destination", cols),
    }
    if layout == "dma":
        for name, hi in (
            ("to_bow", 0xFFFF),
            ("to_stern", 0xFFFF),
            ("to_port", 0xFF),
            ("to_starboard", 0xFF),
        ):
            exprs[name] = _dimension(name, cols, hi)
        exprs["epfd"] = (
            _lookup(good, "epfd", DMA_EPFD) if "epfd" in cols else pl.lit(None, dtype=pl.Int64)
        )
        eta = _opt("eta", cols).str.extract_groups(
            r"^(?P<d>\d{1,2})/(?P<mo>\d{1,2})/\d{4}[T ]+(?P<h>\d{1,2}):(?P<mi>\d{1,2})"
        )
        # AIS "not available" values (month 0, day 0, hour 24, minute 60) become null.
        for name, group, lo, hi in (
            ("eta_month", "mo", 1, 12),
            ("eta_day", "d", 1, 31),
            ("eta_hour", "h", 0, 23),
            ("eta_minute", "mi", 0, 59),
        ):
            value = eta.struct.field(group).cast(pl.Int64)
            exprs[name] = pl.when((value >= lo) & (value <= hi)).then(value)
    # A static row is kept when the CSV row says anything about the vessel's identity or
    # voyage (all-zero dimensions and an unusable ETA say nothing).
    identity = [
        pl.col(name).is_not_null()
        for name in ("imo", "callsign", "shipname", "ship_type", "draught", "destination")
        if name in exprs
    ]
    identity += [
        pl.col(name) > 0
        for name in ("to_bow", "to_stern", "to_port", "to_starboard")
        if name in exprs
    ]
    identity += [pl.col(name).is_not_null() for name in ("eta_month", "eta_day") if name in exprs]
    if "vessel_id" in cols:
        # the id a synthetic MMSI stands for: on the vessel's first row of each block at least
        exprs["vessel_id"] = pl.col("vessel_id")
        identity.append(pl.col("vessel_id").is_first_distinct())
    static = good.select(
        pl.col("mmsi_v").alias("mmsi"),
        pl.col("ts_v").alias("ts"),
        *(expr.alias(name) for name, expr in exprs.items()),
        *_provenance(source),
    )
    has_identity = pl.any_horizontal(identity).fill_null(False)
    return static.filter(has_identity)


def _dimension(name: str, cols: Mapping[str, int], hi: int) -> pl.Expr:
    if name not in cols:
        return pl.lit(None, dtype=pl.Int64)
    x = _num(name)
    return pl.when((x >= 0) & (x <= hi)).then(x.round(0).cast(pl.Int64))


# --------------------------------------------------------------------------------------------
# Whole file
# --------------------------------------------------------------------------------------------


def _header_line(block: bytes) -> tuple[bytes, bytes]:
    """(header line without terminator, rest of the block)."""
    cut = block.find(b"\n")
    if cut < 0:
        line, rest = block, b""
    else:
        line, rest = block[:cut], block[cut + 1 :]
    return line.removesuffix(b"\r"), rest


def _count_lines(block: bytes) -> int:
    return block.count(b"\n") + (1 if block and not block.endswith(b"\n") else 0)


def _reject_frame(source: str, line_no: int, raw: bytes, reason: str, detail: str) -> pl.DataFrame:
    return conform(
        pl.DataFrame(
            {
                "source": [source],
                "line_no": [line_no],
                "raw": [raw],
                "reason": [reason],
                "detail": [detail],
            },
            schema=TABLES["rejects"],
        ),
        TABLES["rejects"],
    )


def _read(blocks: _Blocks, source: str, layout: CsvLayout) -> Batch:
    it = iter(blocks)
    first = next(it, b"")
    header_raw, rest = _header_line(first)
    skipped: Counter[str] = Counter()
    try:
        text = header_raw.removeprefix(_BOM).decode("utf-8")
        sep = layout.separator or _sniff_separator(text)
        header = next(csv.reader([text], delimiter=sep), [])
        plan = replace(_resolve(header, layout), sep=sep)
        extra = _unnamed_column(rest, plan)
        if extra is not None:
            plan = plan.shifted(extra)
    except (UnicodeDecodeError, csv.Error, CsvLayoutError) as exc:
        detail = str(exc) if isinstance(exc, CsvLayoutError) else f"unreadable header: {exc}"
        unread = _count_lines(rest) + sum(_count_lines(b) for b in it)
        if unread:
            skipped["after_bad_header"] = unread
        header_reject = _reject_frame(source, 1, header_raw, "bad_csv_header", detail)
        if blocks.error:
            header_reject = pl.concat([header_reject, _truncated(source, 2 + unread, blocks)])
        return Batch(rejects=header_reject, skipped=skipped)

    positions: list[pl.DataFrame] = []
    static: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    line_no = 2
    state = _State()
    for block in _chain(rest, it):
        lines = _split_lines(block, line_no)
        line_no += lines.n_lines
        parsed = _parse_block(lines, plan, state, source)
        positions.append(parsed.positions)
        static.append(parsed.static)
        rejects.append(parsed.rejects)
        if parsed.blank:
            skipped["blank"] += parsed.blank
    if blocks.error:
        rejects.append(_truncated(source, line_no, blocks))
    fixes = _concat(positions, "positions")
    station_fix = pl.col("msg_type") == 4
    aid_fix = pl.col("msg_type") == 21
    return Batch(
        positions=fixes.filter(~(station_fix | aid_fix).fill_null(False)),
        static=_concat(static, "static"),
        base_stations=conform(fixes.filter(station_fix.fill_null(False)),
                              TABLES["base_stations"]),
        aids_to_navigation=conform(fixes.filter(aid_fix.fill_null(False)),
                                   TABLES["aids_to_navigation"]),
        rejects=_concat(rejects, "rejects"),
        skipped=skipped,
    )


def _truncated(source: str, line_no: int, blocks: _Blocks) -> pl.DataFrame:
    detail = f"compressed stream is corrupt or truncated: {blocks.error}"
    if blocks.partial:
        detail += " (this line is incomplete)"
    return _reject_frame(source, line_no, blocks.partial, "bad_csv_row", detail)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _concat(frames: list[pl.DataFrame], table: str) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    if not frames:
        return empty(TABLES[table])
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical", rechunk=True)
