"""Who a vessel says it is: MMSI structure, flags from the MID, and identity history.

MMSI structure (ITU-R M.585)
----------------------------
An MMSI is nine digits; the leading digits say what kind of station it is and carry the
three-digit Maritime Identification Digits (MID) of the administration that assigned it. As an
integer the leading zeros disappear, so the kinds are told apart by value range:

==================  ===============  ==========================================================
pattern             integer range    kind (:data:`MMSI_KINDS`)
==================  ===============  ==========================================================
``MIDxxxxxx``       2e8 .. 8e8 - 1   ``ship``: a ship station, MID 201-775
``0MIDxxxxx``       1e7 .. 1e8 - 1   ``group``: a group of ships
``00MIDxxxx``       1e6 .. 1e7 - 1   ``coast``: a coast station (AIS base station)
``111MIDxxx``       111e6 .. 112e6   ``sar_aircraft``: search-and-rescue aircraft
``8MIDxxxxx``       8e8 .. 9e8 - 1   ``handheld``: handheld VHF with DSC and GNSS
``970xxyyyy``       970e6 .. 971e6   ``sart``: AIS search-and-rescue transmitter
``972xxyyyy``       972e6 .. 973e6   ``mob``: man-overboard device
``974xxyyyy``       974e6 .. 975e6   ``epirb``: EPIRB-AIS
``98MIDxxxx``       98e7 .. 99e7     ``craft``: craft associated with a parent ship (tenders)
``99MIDxxxx``       99e7 .. 1e9      ``aton``: aid to navigation
(ten digits)        2**30 .. 2**32   ``synthetic``: not an MMSI, a number SeaSight gave a vessel
                                     that its source names by another id (anonymised data,
                                     :mod:`seasight.sources.vessel_ids`); no MID, no flag
anything else                        ``invalid`` (0, 1234567 as ``001234567`` with no allocated
                                     MID, 123456789, ten-digit values below 2**30, ...)
==================  ===============  ==========================================================

A kind that carries a MID whose MID is not allocated (not in ``mid_iso2.csv``) is ``invalid``
too: ``111111111`` would be a SAR aircraft of MID 111, which does not exist.

:func:`invalid_mmsi` is True for every MMSI that is not a ship station of an allocated MID,
except synthetic ones (an anonymised source says nothing about the vessel's real MMSI). A
vessel transmitting such an MMSI is kept in its tracks (it is still a vessel at sea, and hiding
behind a made-up MMSI is itself a risk indicator); the flag is for risk scoring.
:func:`seasight.tracks.clean.clean_positions` drops only the stations that are not vessels.

Flags
-----
The flag of an MMSI is the ISO 3166 alpha-2 code of its MID (``mid_iso2.csv``, shipped in
``seasight/data/reference``; Namibia's ``NA`` is read as text, not as a missing value).

Identity history
----------------
:func:`identity_history` turns the static reports of each MMSI into periods of constant
identity (the IDENTITIES table). AIS spreads the identity over several messages: type 5 (class
A: IMO, call sign, name, ship type, dimensions), type 19 (class B extended: name, type,
dimensions), type 24 part A (class B: name) and part B (class B: call sign, type, dimensions);
CSV sources give whichever columns they have. Each report carries only some fields, so:

* a field missing from a report (null) says nothing: the field keeps its previous value;
* a field changes when a report carries a value different from the field's current one; a
  field seen for the first time (null -> value, e.g. the first 24B after a 24A) is not a change;
* a value reported fewer than ``min_reports`` times in a row (among the reports that carry the
  field) is treated as noise and ignored, so one garbled name, or a second transmitter
  sharing the MMSI whose reports interleave with the first one's, does not open new periods.
  The first value of a field is always accepted.

A period starts at the first report with the new identity (``valid_from``) and ends at the last
report before the next change (``valid_to``); its fields are the values in force during it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from seasight.model.schema import (
    IDENTITIES,
    SYNTHETIC_MMSI_MAX,
    SYNTHETIC_MMSI_MIN,
    UTC_US,
    conform,
    empty,
)
from seasight.tracks._sort import sort_canonical

__all__ = [
    "IDENTITY_FIELDS",
    "MMSI_KINDS",
    "IdentityParams",
    "flag_of",
    "flags_of",
    "identity_history",
    "invalid_mmsi",
    "mid_of",
    "mid_table",
    "mids_of",
    "mmsi_kind",
    "valid_imo",
]

#: Kinds of station an MMSI can name (see the module documentation).
MMSI_KINDS: Final = (
    "ship",
    "group",
    "coast",
    "sar_aircraft",
    "handheld",
    "sart",
    "mob",
    "epirb",
    "craft",
    "aton",
    "synthetic",
    "invalid",
)

#: Fields of an identity that define a period (a change in any of them starts a new one).
IDENTITY_FIELDS: Final = ("imo", "callsign", "shipname", "ship_type", "length_m", "beam_m")

# Namibia's ISO code "NA" is blank in the upstream file (a CSV reader took it for "not
# available" at some point); the MID table is otherwise used as shipped.
_MID_FIXES: Final = {659: "NA"}


@cache
def mid_table() -> dict[int, str]:
    """MID -> ISO 3166 alpha-2 country code, from the shipped ``mid_iso2.csv``."""
    path = resources.files("seasight") / "data" / "reference" / "mid_iso2.csv"
    frame = pl.read_csv(
        path.read_bytes(),
        schema={"MID": pl.Int64, "Country Name": pl.String, "Country Code": pl.String},
    )
    table: dict[int, str] = {}
    for mid, code in zip(frame["MID"].to_list(), frame["Country Code"].to_list(), strict=True):
        code = (code or "").strip() or _MID_FIXES.get(int(mid), "")
        if code:
            table[int(mid)] = code
    return table


@cache
def _mid_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(allocated[1000] bool, code index[1000] into the sorted code list as object array)."""
    table = mid_table()
    allocated = np.zeros(1000, dtype=bool)
    codes = np.full(1000, None, dtype=object)
    for mid, code in table.items():
        if 0 <= mid < 1000:
            allocated[mid] = True
            codes[mid] = code
    return allocated, codes


_KIND_CODES: Final = {name: i for i, name in enumerate(MMSI_KINDS)}


def _kind_and_mid(mmsi: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(kind code per MMSI, MID per MMSI or -1), with unallocated MIDs giving ``invalid``."""
    m = np.asarray(mmsi, dtype=np.int64).ravel()
    conds = [
        (m >= 200_000_000) & (m < 800_000_000),
        (m >= 10_000_000) & (m < 100_000_000),
        (m >= 1_000_000) & (m < 10_000_000),
        (m >= 111_000_000) & (m < 112_000_000),
        (m >= 800_000_000) & (m < 900_000_000),
        (m >= 970_000_000) & (m < 971_000_000),
        (m >= 972_000_000) & (m < 973_000_000),
        (m >= 974_000_000) & (m < 975_000_000),
        (m >= 980_000_000) & (m < 990_000_000),
        (m >= 990_000_000) & (m < 1_000_000_000),
        (m >= SYNTHETIC_MMSI_MIN) & (m <= SYNTHETIC_MMSI_MAX),
    ]
    kinds = [_KIND_CODES[k] for k in MMSI_KINDS[:-1]]
    kind = np.select(conds, kinds, default=_KIND_CODES["invalid"]).astype(np.int8)
    mids = [
        m // 1_000_000,
        m // 100_000,
        m // 10_000,
        (m // 1000) % 1000,
        (m // 100_000) % 1000,
        np.full_like(m, -1),
        np.full_like(m, -1),
        np.full_like(m, -1),
        (m // 10_000) % 1000,
        (m // 10_000) % 1000,
        np.full_like(m, -1),
    ]
    mid = np.select(conds, mids, default=-1).astype(np.int64)
    allocated, _ = _mid_arrays()
    has_mid = mid >= 0
    ok = np.zeros(len(m), dtype=bool)
    ok[has_mid] = allocated[np.clip(mid[has_mid], 0, 999)]
    bad = has_mid & ~ok
    kind[bad] = _KIND_CODES["invalid"]
    mid[bad | (kind == _KIND_CODES["invalid"])] = -1
    return kind, mid


def mmsi_kind(mmsi: ArrayLike) -> np.ndarray:
    """Kind of station of each MMSI (one of :data:`MMSI_KINDS`), as a numpy string array."""
    kind, _ = _kind_and_mid(mmsi)
    return np.asarray(MMSI_KINDS)[kind]


def invalid_mmsi(mmsi: ArrayLike) -> np.ndarray:
    """True for each MMSI that is not a ship station MMSI with an allocated MID.

    Examples: ``0``, ``1234567``, ``123456789``, ``111111111`` and ``999999999`` are invalid;
    ``235070762`` (UK ship) is valid; a real AtoN ``992351234`` or SAR aircraft ``111232500``
    is a valid MMSI but not a *ship* MMSI, so it is True here as well. A synthetic MMSI
    (``>= 2**30``, an anonymised vessel) is False: nothing is known about its real MMSI.
    """
    kind, _ = _kind_and_mid(mmsi)
    return (kind != _KIND_CODES["ship"]) & (kind != _KIND_CODES["synthetic"])


def mids_of(mmsi: ArrayLike) -> np.ndarray:
    """MID of each MMSI (int64), ``-1`` when it has none or it is not allocated."""
    return _kind_and_mid(mmsi)[1]


def mid_of(mmsi: int) -> int | None:
    """MID of one MMSI (``235070762`` -> ``235``), ``None`` when it has no allocated MID."""
    mid = int(mids_of([mmsi])[0])
    return None if mid < 0 else mid


def flags_of(mmsi: ArrayLike) -> pl.Series:
    """ISO 3166 alpha-2 flag of each MMSI's MID (String series, null when unallocated)."""
    mid = mids_of(mmsi)
    _, codes = _mid_arrays()
    out = np.full(len(mid), None, dtype=object)
    has = mid >= 0
    out[has] = codes[mid[has]]
    return pl.Series("flag", out.tolist(), dtype=pl.String)


def flag_of(mmsi: int) -> str | None:
    """ISO 3166 alpha-2 flag of one MMSI (``235070762`` -> ``"GB"``), ``None`` if unknown."""
    mid = mid_of(mmsi)
    return None if mid is None else mid_table().get(mid)


def valid_imo(imo: ArrayLike) -> np.ndarray:
    """True for each IMO number that has seven digits and a correct check digit.

    The check digit is the last digit of the sum of the first six digits weighted 7, 6, 5, 4,
    3, 2 (IMO 9074729: 9*7 + 0*6 + 7*5 + 4*4 + 7*3 + 2*2 = 139 -> 9). Nulls/NaN are False.
    """
    raw = np.asarray(imo, dtype=np.float64).ravel()
    finite = np.isfinite(raw)
    x = np.where(finite, raw, 0).astype(np.int64)
    ok = finite & (x >= 1_000_000) & (x <= 9_999_999)
    digits = [(x // 10**p) % 10 for p in range(6, 0, -1)]
    total = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True))
    return ok & ((total % 10) == (x % 10))


# --------------------------------------------------------------------------------------------
# Identity history
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityParams:
    """Parameters of :func:`identity_history`."""

    #: A field's new value must be reported this many times in a row (among the reports that
    #: carry the field) to count; shorter runs are noise. The first value is always accepted.
    min_reports: int = 2


def _text(name: str) -> pl.Expr:
    # the decoder already cuts AIS text at the first "@" and strips spaces; CSV text may not be
    cleaned = pl.col(name).cast(pl.String).str.strip_chars(" @")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned).alias(name)


def _total(a: str, b: str) -> pl.Expr:
    total = pl.col(a).cast(pl.Int64) + pl.col(b).cast(pl.Int64)
    return pl.when(total > 0).then(total)


def _reports(static: pl.DataFrame) -> pl.DataFrame:
    """One row per report that says something about identity, sorted deterministically."""
    cols = static.columns

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in cols else pl.lit(None, dtype=dtype)

    frame = static.select(
        col("mmsi", pl.UInt32()).alias("mmsi"),
        col("ts", UTC_US).alias("ts"),
        col("imo", pl.UInt32()).alias("imo"),
        col("callsign", pl.String()).alias("callsign"),
        col("shipname", pl.String()).alias("shipname"),
        col("ship_type", pl.UInt8()).alias("ship_type"),
        col("to_bow", pl.Int64()).alias("to_bow"),
        col("to_stern", pl.Int64()).alias("to_stern"),
        col("to_port", pl.Int64()).alias("to_port"),
        col("to_starboard", pl.Int64()).alias("to_starboard"),
    )
    frame = frame.with_columns(
        _text("callsign"),
        _text("shipname"),
        pl.when(pl.col("imo") > 0).then(pl.col("imo")).alias("imo"),
        pl.when(pl.col("ship_type") > 0).then(pl.col("ship_type")).alias("ship_type"),
        _total("to_bow", "to_stern").clip(upper_bound=65535).cast(pl.UInt16).alias("length_m"),
        _total("to_port", "to_starboard").clip(upper_bound=65535).cast(pl.UInt16).alias("beam_m"),
    ).drop("to_bow", "to_stern", "to_port", "to_starboard")
    any_field = pl.any_horizontal([pl.col(f).is_not_null() for f in IDENTITY_FIELDS])
    frame = frame.filter(
        pl.col("mmsi").is_not_null() & pl.col("ts").is_not_null() & any_field
    )
    # reports at the same time are ordered by their content: the input order never matters
    return sort_canonical(frame, IDENTITY_FIELDS)


def identity_history(
    static: pl.DataFrame, params: IdentityParams = IdentityParams()
) -> pl.DataFrame:
    """Periods of constant identity per MMSI (IDENTITIES) from static reports (STATIC).

    See the module documentation for the rules. Rows without an MMSI or time, and reports
    that carry no identity field, are ignored. The result is sorted by (mmsi, valid_from).
    """
    if static.height == 0:
        return empty(IDENTITIES)
    frame = _reports(static)
    if frame.height == 0:
        return empty(IDENTITIES)
    k = max(1, int(params.min_reports))
    n = frame.height
    mmsi = frame["mmsi"].to_numpy()
    first_of_mmsi = np.r_[True, mmsi[1:] != mmsi[:-1]]
    row = np.arange(n)
    mmsi_start = np.maximum.accumulate(np.where(first_of_mmsi, row, 0))
    change = np.zeros(n, dtype=bool)
    confirmed: dict[str, np.ndarray] = {}
    for name in IDENTITY_FIELDS:
        col = frame[name]
        present = col.is_not_null().to_numpy()
        if k > 1 and present.any():
            present &= ~_noise(col, present, mmsi, k)
        idx = np.flatnonzero(present)
        confirmed[name] = present
        if len(idx) < 2:
            continue
        values = col.gather(idx)
        differs = (values != values.shift(1)).fill_null(True).to_numpy()
        new_mmsi = np.r_[True, mmsi[idx][1:] != mmsi[idx][:-1]]
        change[idx[differs & ~new_mmsi]] = True
    period_start = first_of_mmsi | change
    starts = np.flatnonzero(period_start)
    ends = np.r_[starts[1:] - 1, n - 1]
    ts = frame["ts"]
    columns: dict[str, pl.Series] = {
        "mmsi": frame["mmsi"].gather(starts),
        "valid_from": ts.gather(starts),
        "valid_to": ts.gather(ends),
    }
    for name in IDENTITY_FIELDS:
        # the field's value in a period: its last confirmed report up to the period's end,
        # within the same MMSI (values carry over from earlier periods)
        last = np.maximum.accumulate(np.where(confirmed[name], row, -1))[ends]
        ok = last >= mmsi_start[ends]
        values = frame[name].gather(np.where(ok, last, 0))
        columns[name] = pl.select(pl.when(pl.Series(ok)).then(values)).to_series()
    columns["n_reports"] = pl.Series(ends - starts + 1, dtype=pl.UInt32)
    periods = pl.DataFrame(columns).with_columns(
        flags_of(mmsi[starts]).alias("flag")
    )
    return conform(periods, IDENTITIES)


def _noise(col: pl.Series, present: np.ndarray, mmsi: np.ndarray, k: int) -> np.ndarray:
    """Rows whose value of ``col`` belongs to a run shorter than ``k`` (among the rows that
    carry the field, per MMSI), except each MMSI's first run."""
    idx = np.flatnonzero(present)
    values = col.gather(idx)
    new_mmsi = np.r_[True, mmsi[idx][1:] != mmsi[idx][:-1]]
    new_run = (values != values.shift(1)).fill_null(True).to_numpy() | new_mmsi
    run_starts = np.flatnonzero(new_run)
    run_len = np.diff(np.r_[run_starts, len(idx)])
    run_id = np.cumsum(new_run) - 1
    noisy_run = (run_len < k) & ~new_mmsi[run_starts]
    out = np.zeros(len(present), dtype=bool)
    out[idx[noisy_run[run_id]]] = True
    return out
