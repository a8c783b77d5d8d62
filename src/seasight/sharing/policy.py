"""THE sharing policy: which rows of a frame an organisation may see, and how precisely.

:func:`permitted` is pure (no I/O): it takes the caller's organisation, the kind of frame, the
frame, the compiled :class:`Grants` and the time, and returns the visible rows.

Rules
    * Organisation :data:`~seasight.sharing.origins.LOCAL` (the operator) sees everything.
    * Every other organisation sees the rows whose origin is its own, unchanged.
    * A row of another origin passes only if an active agreement origin -> caller grants the
      kind's class (:data:`KIND_CLASS`) and the row meets ALL of that agreement's limits:
      inside the area (``lat``/``lon``, boundary excluded), inside the time window, older than
      ``now - delay`` (with no delay: not in the future), ``mmsi``/``other_mmsi`` not
      excluded, ``ship_type``/``other_ship_type`` not excluded. Several agreements from one
      origin: any one that passes suffices.
    * Derived rows (``origins``: a list) pass only if every origin passes (own origin always
      does): the most restrictive rule.
    * ``lat``/``lon`` are then rounded to the coarsest ``precision_decimals`` among the
      agreements the row passed.
    * For ``vessels``, ``dossier``, ``positions`` and ``track`` frames, identity columns
      (:data:`IDENTITY_COLUMNS`) are blanked on rows whose foreign origins do not also grant
      ``identities``.
    * ``evidence`` (JSON, events and alerts) is part of the row and judged by the same rules,
      value by value (:func:`judge_evidence`): every point (an object with ``lat``/``lon``,
      and ``other_lat``/``other_lon``) and every time (:data:`EVIDENCE_TIME_KEYS`) must meet
      the area, window and delay of an agreement the row passed, for each foreign origin, or
      is removed (a point inside a list removes its list item); points are rounded to the
      row's precision; identity values and identity history (:data:`EVIDENCE_IDENTITY_KEYS`)
      stay only where ``identities`` is granted too; :data:`EVIDENCE_PRIVATE_KEYS`
      (watchlist matches, risk, rule conditions, zone properties) never go to a partner. Rows
      of the caller's own origin only keep their evidence unchanged.
    * ``zone`` is blanked (and ``zone`` keys of the evidence removed) where the frame's
      optional ``zone_origin`` column names another organisation: zone names belong to the
      organisation that drew the zone.
    * ``message`` (alerts: text built from every organisation's data) is blanked for
      partners; the caller rebuilds it from what the partner sees.
    * Unknown values count against the row when a limit needs them: a null position fails an
      area, a null time fails a window or a delay. A null ship type is not excluded.
    * Kinds of :data:`PARTY_KINDS` (``logistics``: agreements, orders, ledger entries and the
      reports on them) belong to the organisations named in their ``parties`` column (for an
      order the requesting and providing organisations; for a ledger row its book and
      partner), not to an origin: an organisation sees the rows it is a party to, unchanged,
      and nothing else; no agreement grants them to a third organisation. A null or empty
      ``parties`` passes to nobody but ``local``.

Columns
    Every kind but ``layers`` needs ``origin`` (String) or ``origins`` (List[String]; wins
    when both are present; null or empty means ``local``) and the columns of
    :data:`REQUIRED_COLUMNS`; a missing one raises :class:`PolicyError` (unless the caller is
    ``local``), data is never passed unchecked.

    ==============================  =========================================================
    kind                            columns (besides origin / origins)
    ==============================  =========================================================
    vessels, positions, track       mmsi, ts, lat, lon, ship_type
    identities                      mmsi, ts, ship_type
    events, alerts                  mmsi, other_mmsi, start, end, lat, lon, ship_type,
                                    other_ship_type
    dossier                         mmsi, ship_type
    watchlists, zones               (none)
    logistics                       parties (List[String]) and no origin
    layers                          public reference data (land, ports, lanes): passes
    ==============================  =========================================================

    ``zones`` belong to their origin and no class grants them: partners see their own only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import polars as pl
import shapely
from shapely.geometry.base import BaseGeometry

from seasight.sharing.agreements import Agreement
from seasight.sharing.origins import LOCAL

#: Data class an agreement must grant for each kind of frame (None: never granted).
KIND_CLASS: Final[Mapping[str, str | None]] = {
    "vessels": "positions", "positions": "positions", "track": "positions",
    "identities": "identities", "events": "events", "alerts": "alerts",
    "dossier": "dossiers", "watchlists": "watchlists", "zones": None,
}

#: Kinds that are public reference data and pass unchanged.
PUBLIC_KINDS: Final = frozenset({"layers"})

#: Kinds whose rows belong to the organisations in their ``parties`` column (not to an origin).
PARTY_KINDS: Final = frozenset({"logistics"})

_POS = ("mmsi", "ts", "lat", "lon", "ship_type")
_EVT = ("mmsi", "other_mmsi", "start", "end", "lat", "lon", "ship_type", "other_ship_type")

#: Columns each kind must have, besides ``origin`` or ``origins``.
REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "vessels": _POS, "positions": _POS, "track": _POS,
    "identities": ("mmsi", "ts", "ship_type"),
    "events": _EVT, "alerts": _EVT,
    "dossier": ("mmsi", "ship_type"),
    "watchlists": (), "zones": (),
}

#: Column of a :data:`PARTY_KINDS` frame naming the organisations a row belongs to.
PARTIES_COLUMN: Final = "parties"

#: Kinds whose rows are judged by their time span (``start``, ``end``) rather than ``ts``.
_SPAN_KINDS: Final = frozenset({"events", "alerts"})

#: Identity columns blanked unless ``identities`` is granted too (vessels, dossier).
IDENTITY_COLUMNS: Final = ("name", "shipname", "imo", "callsign", "flag", "destination",
                           "ship_type", "length_m", "beam_m", "to_bow", "to_stern", "to_port",
                           "to_starboard", "draught")

#: Kinds whose identity columns are blanked unless ``identities`` is granted too.
_IDENTITY_KINDS: Final = frozenset({"vessels", "dossier", "positions", "track"})

#: Evidence keys whose value is a time (ISO 8601 text), judged by window and delay.
EVIDENCE_TIME_KEYS: Final = frozenset({"ts", "first", "last", "start", "end", "valid_from",
                                       "valid_to"})

#: Evidence keys holding identity values or identity history: kept only where the row's
#: origins grant ``identities`` too.
EVIDENCE_IDENTITY_KEYS: Final = frozenset({*IDENTITY_COLUMNS, "previous_period",
                                           "new_period"})

#: Evidence keys that never go to a partner: the operator's watchlist matches, risk scores
#: (from every organisation's data), alert rule conditions and zone properties.
EVIDENCE_PRIVATE_KEYS: Final = frozenset({"watchlists", "risk", "conditions",
                                          "zone_properties"})

_FULL: Final = 99  # "no rounding" in precision arrays
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class PolicyError(ValueError):
    """A frame the policy cannot judge (unknown kind, missing column)."""


@dataclass(frozen=True)
class CompiledAgreement:
    """An agreement with its area prepared for fast point-in-polygon tests."""

    agreement: Agreement
    area: BaseGeometry | None


@dataclass(frozen=True)
class Grants:
    """Agreements compiled for :func:`permitted`, by grantee (``version``: the store's
    :func:`~seasight.sharing.agreements.agreements_version` they were read at)."""

    by_grantee: Mapping[str, tuple[CompiledAgreement, ...]]
    version: int = 0

    def for_grantee(self, org: str) -> tuple[CompiledAgreement, ...]:
        """The agreements granting to ``org`` (revoked ones included)."""
        return self.by_grantee.get(org, ())


def compile_grants(agreements: Iterable[Agreement], version: int = 0) -> Grants:
    """:class:`Grants` from agreements (polygons prepared once)."""
    by: dict[str, list[CompiledAgreement]] = {}
    for a in agreements:
        area = None
        if a.area is not None:
            area = shapely.from_wkb(shapely.to_wkb(a.area))  # own copy, then prepare it
            shapely.prepare(area)
        by.setdefault(a.grantee, []).append(CompiledAgreement(a, area))
    return Grants({k: tuple(v) for k, v in by.items()}, version)


def _check(kind: str, frame: pl.DataFrame) -> None:
    if kind not in KIND_CLASS:
        raise PolicyError(f"unknown kind {kind!r}; one of "
                          f"{', '.join(sorted([*KIND_CLASS, *PUBLIC_KINDS, *PARTY_KINDS]))}")
    if "origin" not in frame.columns and "origins" not in frame.columns:
        raise PolicyError(f"{kind}: the frame needs an 'origin' or 'origins' column")
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in frame.columns]
    if missing:
        raise PolicyError(f"{kind}: the frame lacks column(s) {', '.join(missing)} that the "
                          "sharing policy needs")


def _origins(frame: pl.DataFrame) -> pl.DataFrame:
    """(row, origin) pairs: every origin of every row (null / empty: local)."""
    if "origins" in frame.columns:
        col = pl.col("origins").cast(pl.List(pl.String))
        expr = pl.when(col.is_null() | (col.list.len() == 0)).then(
            pl.lit([LOCAL], pl.List(pl.String))).otherwise(col)
    else:
        expr = pl.concat_list(pl.col("origin").cast(pl.String))
    pairs = (frame.select(expr.alias("_o")).with_row_index("_row").explode("_o")
             .with_columns(pl.col("_o").fill_null(LOCAL)))
    return pairs


def _epoch_us(frame: pl.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    s = frame.get_column(col)
    if s.dtype == pl.Datetime:
        s = s.dt.epoch("us")
    else:
        raise PolicyError(f"column {col!r} must be a datetime, not {s.dtype}")
    return s.fill_null(0).to_numpy().astype(np.int64), s.is_null().to_numpy()


def _floats(frame: pl.DataFrame, col: str) -> np.ndarray:
    return frame.get_column(col).cast(pl.Float64).fill_null(np.nan).to_numpy()


def _ints(frame: pl.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    s = frame.get_column(col).cast(pl.Int64)
    return s.fill_null(-1).to_numpy(), s.is_null().to_numpy()


def _us(t: datetime) -> int:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return (t - _EPOCH) // timedelta(microseconds=1)


class _Columns:
    """The frame's columns as numpy arrays, read once and shared by every agreement."""

    def __init__(self, kind: str, frame: pl.DataFrame) -> None:
        cols = frame.columns
        self.n = frame.height
        self.lat = _floats(frame, "lat") if "lat" in cols else None
        self.lon = _floats(frame, "lon") if "lon" in cols else None
        self.t_lo: tuple[np.ndarray, np.ndarray] | None = None
        self.t_hi: tuple[np.ndarray, np.ndarray] | None = None
        if kind in _SPAN_KINDS:
            self.t_lo = _epoch_us(frame, "start")
            end = frame.select(pl.coalesce("end", "start").alias("_e"))
            self.t_hi = _epoch_us(end, "_e")
        elif "ts" in cols:
            self.t_lo = self.t_hi = _epoch_us(frame, "ts")
        self.mmsi = [_ints(frame, c) for c in ("mmsi", "other_mmsi") if c in cols]
        self.ship_type = [_ints(frame, c) for c in ("ship_type", "other_ship_type")
                          if c in cols]


def _limits(ca: CompiledAgreement, c: _Columns, now_us: int) -> np.ndarray:
    """Rows of the frame meeting every limit of one agreement."""
    a = ca.agreement
    ok = np.ones(c.n, bool)
    if ca.area is not None:
        if c.lat is None or c.lon is None:
            ok[:] = False
        else:
            ok &= shapely.contains_xy(ca.area, c.lon, c.lat)
    if c.t_lo is not None and c.t_hi is not None:
        lo, lo_null = c.t_lo
        hi, hi_null = c.t_hi
        limited = (a.valid_from is not None or a.valid_to is not None
                   or a.delay.total_seconds() > 0)
        if a.valid_from is not None:
            ok &= ~lo_null & (lo >= _us(a.valid_from))
        if a.valid_to is not None:
            ok &= ~hi_null & (hi <= _us(a.valid_to))
        cutoff = now_us - a.delay // timedelta(microseconds=1)
        ok &= hi_null | (hi <= cutoff)
        if limited:
            ok &= ~hi_null
    if a.exclude_mmsi:
        excluded = np.fromiter(a.exclude_mmsi, np.int64)
        for values, null in c.mmsi:
            ok &= null | ~np.isin(values, excluded)
    for values, null in c.ship_type:
        for lo_t, hi_t in a.exclude_ship_types:
            ok &= null | ~((values >= lo_t) & (values <= hi_t))
    return ok


def _judge(org: str, cls: str | None, pairs_row: np.ndarray, pairs_org: np.ndarray,
           cols: _Columns, grants: Grants, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Per row: passes (every origin granted), and the decimals to round to (_FULL: none)."""
    n = cols.n
    own = pairs_org == org
    pair_ok = own.copy()
    pair_prec = np.where(own, _FULL, 127).astype(np.int64)  # 127: nothing passed yet
    now_us = _us(now)
    if cls is not None and not own.all():
        for ca in grants.for_grantee(org):
            a = ca.agreement
            if cls not in a.classes or not a.active(now):
                continue
            sel = pairs_org == a.grantor
            if not sel.any():
                continue
            passed = sel & _limits(ca, cols, now_us)[pairs_row]
            prec = _FULL if a.precision_decimals is None else a.precision_decimals
            # the coarsest precision among the agreements this row passed
            pair_prec = np.where(passed, np.minimum(pair_prec, prec), pair_prec)
            pair_ok |= passed
    row_ok = np.ones(n, bool)
    np.logical_and.at(row_ok, pairs_row, pair_ok)
    row_prec = np.full(n, _FULL, np.int64)
    np.minimum.at(row_prec, pairs_row, np.where(pair_ok, pair_prec, _FULL))
    return row_ok, row_prec


def _round(frame: pl.DataFrame, prec: np.ndarray) -> pl.DataFrame:
    if not (prec < _FULL).any():
        return frame
    p = pl.Series("_prec", prec)
    out = frame.with_columns(p)
    exprs = []
    for col in ("lat", "lon"):
        if col in frame.columns:
            scale = pl.lit(10.0).pow(pl.col("_prec").cast(pl.Float64))
            exprs.append(pl.when(pl.col("_prec") < _FULL)
                         .then((pl.col(col).cast(pl.Float64) * scale).round(0) / scale)
                         .otherwise(pl.col(col).cast(pl.Float64))
                         .cast(frame.schema[col]).alias(col))
    return out.with_columns(exprs).drop("_prec")


# --------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class EvidenceJudge:
    """How one row's evidence is judged: for each foreign origin of the row, the agreements
    the row passed (a point or time must meet the area / window / delay of one of them, for
    every origin), the decimals to round points to (None: full precision), whether
    ``identities`` is granted, and whether the row's zone name is hidden."""

    groups: tuple[tuple[CompiledAgreement, ...], ...]
    now_us: int
    decimals: int | None = None
    identities: bool = False
    zone_hidden: bool = False

    def _ok(self, lat: float | None, lon: float | None, t: int | None, place: bool) -> bool:
        for group in self.groups:
            if not any(_value_ok(ca, lat, lon, t, place, self.now_us) for ca in group):
                return False
        return True

    def point_ok(self, lat: float | None, lon: float | None, t: int | None) -> bool:
        """A point (``t`` None: at the row's own time, judged already) may be shown."""
        return self._ok(lat, lon, t, True)

    def time_ok(self, t: int | None) -> bool:
        """A time may be shown (None: unknown, counts against it)."""
        return t is not None and self._ok(None, None, t, False)


def _value_ok(ca: CompiledAgreement, lat: float | None, lon: float | None, t: int | None,
              place: bool, now_us: int) -> bool:
    a = ca.agreement
    if place and ca.area is not None:
        if lat is None or lon is None or not (np.isfinite(lat) and np.isfinite(lon)):
            return False
        if not shapely.contains_xy(ca.area, lon, lat):
            return False
    if t is None:
        return True
    if a.valid_from is not None and t < _us(a.valid_from):
        return False
    if a.valid_to is not None and t > _us(a.valid_to):
        return False
    return t <= now_us - a.delay // timedelta(microseconds=1)


def _evidence_time(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return _us(t)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


_LOST = object()  # a judged value that must not be shown


def _point_keys(obj: Mapping[str, object]) -> list[tuple[str | None, str | None]]:
    """The (lat key, lon key) pairs of an evidence object: ``lat``/``lon``, ``X_lat``/
    ``X_lon`` and ``lat_X``/``lon_X``; a coordinate without its partner pairs with None
    (a place that cannot be judged against an area)."""
    def partner(k: str) -> tuple[str, str] | None:
        for a, b in (("lat", "lon"), ("lon", "lat")):
            if k == a:
                return a, b
            if k.endswith(f"_{a}"):
                return k, f"{k[:-len(a)]}{b}"
            if k.startswith(f"{a}_"):
                return k, f"{b}{k[len(a):]}"
        return None

    pairs: list[tuple[str | None, str | None]] = []
    for k in obj:
        got = partner(k)
        if got is None:
            continue
        me, other = got
        has_other = other in obj
        if k.startswith("lat") or k.endswith("lat"):
            pairs.append((me, other if has_other else None))
        elif not has_other:
            pairs.append((None, me))
    return pairs


def _walk(value: object, judge: EvidenceJudge) -> tuple[object, bool]:
    """(judged value or _LOST, whether a point was removed inside it)."""
    if isinstance(value, list):
        kept: list[object] = []
        for item in value:
            got, lost = _walk(item, judge)
            if got is not _LOST and not lost:
                kept.append(got)
        return kept, False
    if not isinstance(value, dict):
        return value, False
    out: dict[str, object] = {}
    pairs = _point_keys(value)
    if pairs:
        t_text = value.get("ts")
        t = _evidence_time(t_text)
        if t_text is not None and t is None:
            return _LOST, True  # a time that cannot be judged
        for la, lo in pairs:
            lat = None if la is None else _number(value[la])
            lon = None if lo is None else _number(value[lo])
            if not judge.point_ok(lat, lon, t):
                return _LOST, True
    lost_inside = False
    rounded = {k for pair in pairs for k in pair if k is not None}
    for k, v in value.items():
        if k in EVIDENCE_PRIVATE_KEYS:
            continue
        if k in EVIDENCE_IDENTITY_KEYS and not judge.identities:
            continue
        if k == "zone" and judge.zone_hidden:
            continue
        if k in rounded:
            x = _number(v)
            out[k] = v if x is None or judge.decimals is None else round(x, judge.decimals)
        elif k in EVIDENCE_TIME_KEYS and isinstance(v, str):
            out[k] = v if judge.time_ok(_evidence_time(v)) else None
        else:
            got, lost = _walk(v, judge)
            lost_inside |= lost
            out[k] = None if got is _LOST else got
    return out, lost_inside


def judge_evidence(text: str | None, judge: EvidenceJudge) -> str | None:
    """Evidence JSON as one partner may see it (see the module docstring); None when the
    evidence is missing or not JSON."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    got, _ = _walk(value, judge)
    return None if got is _LOST else json.dumps(got, sort_keys=True)


def _judged_evidence(org: str, cls: str | None, frame: pl.DataFrame, pairs_row: np.ndarray,
                     pairs_org: np.ndarray, cols: _Columns, grants: Grants, now: datetime,
                     ok: np.ndarray, prec: np.ndarray, id_ok: np.ndarray,
                     zone_hidden: np.ndarray) -> pl.Series:
    """The ``evidence`` column judged row by row (rows of the caller's own origin only, and
    rows that do not pass, unchanged)."""
    now_us = _us(now)
    passed: list[tuple[CompiledAgreement, np.ndarray]] = []
    if cls is not None:
        for ca in grants.for_grantee(org):
            if cls in ca.agreement.classes and ca.agreement.active(now):
                passed.append((ca, _limits(ca, cols, now_us)))
    origins_of: dict[int, set[str]] = {}
    for r, o in zip(pairs_row.tolist(), pairs_org.tolist(), strict=True):
        if o != org:
            origins_of.setdefault(r, set()).add(o)
    texts = frame.get_column("evidence").cast(pl.String).to_list()
    out: list[str | None] = []
    for i, text in enumerate(texts):
        foreign = origins_of.get(i)
        if not ok[i] or not foreign:
            out.append(None if foreign else text)
            continue
        groups = tuple(tuple(ca for ca, mask in passed
                             if ca.agreement.grantor == o and mask[i])
                       for o in sorted(foreign))
        judge = EvidenceJudge(groups, now_us, None if prec[i] >= _FULL else int(prec[i]),
                              bool(id_ok[i]), bool(zone_hidden[i]))
        out.append(judge_evidence(text, judge))
    return pl.Series("evidence", out, pl.String)


def _party_rows(org: str, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of a :data:`PARTY_KINDS` frame that ``org`` is a party to (``local``: all)."""
    if PARTIES_COLUMN not in frame.columns:
        raise PolicyError(f"{kind}: the frame needs a {PARTIES_COLUMN!r} column (the "
                          "organisations each row belongs to) that the sharing policy needs")
    if org == LOCAL or frame.height == 0:
        return frame
    parties = pl.col(PARTIES_COLUMN).cast(pl.List(pl.String))
    return frame.filter(parties.list.contains(pl.lit(org, pl.String)).fill_null(False))


def permitted(org: str, kind: str, frame: pl.DataFrame, grants: Grants, now: datetime
              ) -> pl.DataFrame:
    """The rows of ``frame`` (a frame of ``kind``) that organisation ``org`` may see at
    ``now``, rounded and blanked as granted (see the module docstring). Same columns, same
    order of the remaining rows.

    Raises:
        PolicyError: unknown kind, or a column the policy needs is missing.
    """
    if kind in PUBLIC_KINDS:
        return frame
    if kind in PARTY_KINDS:
        return _party_rows(org, kind, frame)
    if org == LOCAL:
        if kind not in KIND_CLASS:
            _check(kind, frame)
        return frame
    _check(kind, frame)
    if frame.height == 0:
        return frame
    pairs = _origins(frame)
    pairs_row = pairs.get_column("_row").to_numpy().astype(np.int64)
    pairs_org = pairs.get_column("_o").to_numpy()
    cols = _Columns(kind, frame)
    cls = KIND_CLASS[kind]
    ok, prec = _judge(org, cls, pairs_row, pairs_org, cols, grants, now)
    out = _round(frame, prec)
    masked = [c for c in IDENTITY_COLUMNS if c in frame.columns] if (
        kind in _IDENTITY_KINDS) else []
    id_ok = np.zeros(frame.height, bool)
    if masked or "evidence" in frame.columns:
        id_ok, _ = _judge(org, "identities", pairs_row, pairs_org, cols, grants, now)
    if masked:
        keep = pl.Series("_id_ok", id_ok)
        out = out.with_columns(keep).with_columns(
            pl.when(pl.col("_id_ok")).then(pl.col(c)).otherwise(None).alias(c)
            for c in masked).drop("_id_ok")
    zone_hidden = np.zeros(frame.height, bool)
    if "zone_origin" in frame.columns and "zone" in frame.columns:
        zo = frame.get_column("zone_origin").cast(pl.String)
        zone_hidden = (zo.is_not_null() & (zo != org)).fill_null(False).to_numpy()
        out = out.with_columns(pl.when(pl.Series(zone_hidden)).then(None)
                               .otherwise(pl.col("zone")).alias("zone"))
    if "evidence" in frame.columns:
        out = out.with_columns(_judged_evidence(org, cls, frame, pairs_row, pairs_org, cols,
                                                grants, now, ok, prec, id_ok, zone_hidden))
    if kind == "alerts" and "message" in frame.columns:
        out = out.with_columns(pl.lit(None, pl.String).alias("message"))
    return out.filter(pl.Series(ok))


__all__ = [
    "EVIDENCE_IDENTITY_KEYS",
    "EVIDENCE_PRIVATE_KEYS",
    "EVIDENCE_TIME_KEYS",
    "IDENTITY_COLUMNS",
    "KIND_CLASS",
    "PARTIES_COLUMN",
    "PARTY_KINDS",
    "PUBLIC_KINDS",
    "REQUIRED_COLUMNS",
    "CompiledAgreement",
    "EvidenceJudge",
    "Grants",
    "PolicyError",
    "compile_grants",
    "judge_evidence",
    "permitted",
]
