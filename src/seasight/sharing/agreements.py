"""Sharing agreements: one organisation (the grantor) grants another (the grantee) data classes,
limited by area, time window, delay, vessel filters and precision.

An agreement is stored as a row of the ``agreements`` table (polygons as GeoJSON text, lists as
JSON text, the delay in seconds). Every change (create, update, revoke, and a source
assignment in :mod:`seasight.sharing.origins`) bumps a counter, :func:`agreements_version`, so
a service can cache compiled policies and notice a revocation at its next check.

Mistakes raise :class:`AgreementError` with a message naming the field at fault.
"""

from __future__ import annotations

import json
import operator
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import polars as pl
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from seasight.model.schema import UTC_US
from seasight.store import Store

if TYPE_CHECKING:
    from seasight.access.caller import Caller

#: Data classes an agreement can grant.
CLASSES: Final = ("positions", "identities", "events", "alerts", "dossiers", "watchlists")

#: Most decimals of ``precision_decimals`` (1e-8 degree is about a millimetre).
MAX_PRECISION: Final = 8

#: The ``agreements`` table.
AGREEMENTS: Final[dict[str, pl.DataType]] = {
    "agreement_id": pl.String(),
    "grantor": pl.String(),
    "grantee": pl.String(),
    "classes": pl.String(),  # JSON list of CLASSES
    "area": pl.String(),  # GeoJSON geometry (Polygon / MultiPolygon) or null: anywhere
    "valid_from": UTC_US,  # time window of the data granted (null: unbounded)
    "valid_to": UTC_US,
    "delay_s": pl.Int64(),
    "exclude_mmsi": pl.String(),  # JSON list of ints
    "exclude_ship_types": pl.String(),  # JSON list of [lo, hi] ranges
    "precision_decimals": pl.Int64(),  # null: full precision
    "created": UTC_US,
    "updated": UTC_US,
    "revoked_at": UTC_US,
    "note": pl.String(),
}

#: The ``sharing_state`` table: counters of the sharing configuration.
SHARING_STATE: Final[dict[str, pl.DataType]] = {"name": pl.String(), "value": pl.Int64()}

_ORG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_RANGE_RE = re.compile(r"^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$")


class AgreementError(ValueError):
    """An agreement that cannot be stored or found, with a message naming the field."""


def check_org(name: object, what: str = "organisation") -> str:
    """``name`` if it is a valid organisation name (letters, digits, ``_.:-``, up to 64)."""
    if not isinstance(name, str) or not _ORG_RE.match(name):
        raise AgreementError(f"{what}: {name!r} is not a valid organisation name (letters, "
                             "digits and _ . : -, at most 64 characters)")
    return name


def parse_ship_types(values: Iterable[object]) -> tuple[tuple[int, int], ...]:
    """AIS ship type codes or ranges (``30``, ``"80-89"``, ``[80, 89]``) as (lo, hi) pairs."""
    out: list[tuple[int, int]] = []
    for v in values:
        lo: int
        hi: int
        if isinstance(v, bool):
            raise AgreementError(f"exclude_ship_types: {v!r} is not a ship type")
        if isinstance(v, int):
            lo = hi = v
        elif isinstance(v, str):
            m = _RANGE_RE.match(v)
            if not m:
                raise AgreementError(f"exclude_ship_types: {v!r} is not a ship type code or a "
                                     "range such as 80-89")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
        elif isinstance(v, Sequence) and len(v) == 2 and all(
                isinstance(x, int) and not isinstance(x, bool) for x in v):
            lo, hi = int(v[0]), int(v[1])
        else:
            raise AgreementError(f"exclude_ship_types: {v!r} is not a ship type")
        if not 0 <= lo <= hi <= 255:
            raise AgreementError(f"exclude_ship_types: {v!r} is outside 0-255 or a range "
                                 "whose start is after its end")
        out.append((lo, hi))
    return tuple(sorted(set(out)))


def parse_area(area: object) -> BaseGeometry | None:
    """A (Multi)Polygon from GeoJSON (a geometry, a Feature, or its JSON text), or None."""
    if area is None or area == "":
        return None
    if isinstance(area, BaseGeometry):
        geom = area
    else:
        if isinstance(area, str):
            try:
                area = json.loads(area)
            except json.JSONDecodeError as exc:
                raise AgreementError(f"area: not JSON ({exc.msg})") from exc
        if not isinstance(area, Mapping):
            raise AgreementError("area: must be a GeoJSON Polygon or MultiPolygon object")
        if area.get("type") == "Feature":
            area = area.get("geometry")
            if not isinstance(area, Mapping):
                raise AgreementError("area: the Feature has no geometry")
        if area.get("type") not in ("Polygon", "MultiPolygon"):
            raise AgreementError(f"area: geometry type {area.get('type')!r} is not Polygon or "
                                 "MultiPolygon")
        try:
            geom = shape(area)
        except Exception as exc:  # shapely raises many types for malformed coordinates
            raise AgreementError(f"area: malformed coordinates ({exc})") from exc
    if not isinstance(geom, Polygon | MultiPolygon):
        raise AgreementError(f"area: geometry type {geom.geom_type} is not Polygon or "
                             "MultiPolygon")
    if geom.is_empty:
        raise AgreementError("area: the polygon is empty")
    if not geom.is_valid:
        raise AgreementError(f"area: invalid polygon ({shapely.is_valid_reason(geom)})")
    minx, miny, maxx, maxy = geom.bounds
    if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise AgreementError("area: coordinates must be longitude -180..180, latitude -90..90")
    return geom


def _utc(value: object, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise AgreementError(f"{what}: {value!r} is not an ISO 8601 time") from exc
    if not isinstance(value, datetime):
        raise AgreementError(f"{what}: {value!r} is not a time")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Agreement:
    """One sharing agreement (see the module docstring). Build with :func:`make_agreement`
    (which validates) or read with :func:`list_agreements`."""

    agreement_id: str
    grantor: str
    grantee: str
    classes: frozenset[str]
    area: BaseGeometry | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    delay: timedelta = timedelta(0)
    exclude_mmsi: frozenset[int] = frozenset()
    exclude_ship_types: tuple[tuple[int, int], ...] = ()
    precision_decimals: int | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    revoked_at: datetime | None = None
    note: str = ""

    def active(self, at: datetime) -> bool:
        """Not revoked at ``at``."""
        return self.revoked_at is None or self.revoked_at > at

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (times ISO 8601, area GeoJSON, delay in seconds)."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()
        return {
            "agreement_id": self.agreement_id, "grantor": self.grantor,
            "grantee": self.grantee, "classes": sorted(self.classes),
            "area": None if self.area is None else mapping(self.area),
            "valid_from": iso(self.valid_from), "valid_to": iso(self.valid_to),
            "delay_s": self.delay.total_seconds(),
            "exclude_mmsi": sorted(self.exclude_mmsi),
            "exclude_ship_types": [f"{lo}" if lo == hi else f"{lo}-{hi}"
                                   for lo, hi in self.exclude_ship_types],
            "precision_decimals": self.precision_decimals,
            "created": iso(self.created), "updated": iso(self.updated),
            "revoked_at": iso(self.revoked_at), "note": self.note,
        }


def make_agreement(grantor: str, grantee: str, classes: Iterable[str], *,
                   area: object = None, valid_from: object = None, valid_to: object = None,
                   delay: timedelta | float | int = timedelta(0),
                   exclude_mmsi: Iterable[int] = (),
                   exclude_ship_types: Iterable[object] = (),
                   precision_decimals: int | None = None, note: str = "",
                   agreement_id: str | None = None, created: datetime | None = None,
                   updated: datetime | None = None, revoked_at: datetime | None = None,
                   ) -> Agreement:
    """A validated :class:`Agreement` (``delay`` a timedelta or seconds).

    Raises:
        AgreementError: unknown class, no class, grantor == grantee, bad organisation name,
            bad polygon, window end before its start, negative delay, bad MMSI, ship type
            or precision.
    """
    check_org(grantor, "grantor")
    check_org(grantee, "grantee")
    if grantor == grantee:
        raise AgreementError(f"grantee: an organisation cannot grant to itself ({grantor!r})")
    if isinstance(classes, str):
        classes = [classes]
    try:
        cls = frozenset(classes)
    except TypeError as exc:
        raise AgreementError("classes: must be a list of class names") from exc
    if not cls:
        raise AgreementError(f"classes: grant at least one of {', '.join(CLASSES)}")
    bad = sorted(c for c in cls if c not in CLASSES)
    if bad:
        raise AgreementError(f"classes: unknown class {bad[0]!r}; choose from "
                             f"{', '.join(CLASSES)}")
    start, end = _utc(valid_from, "valid_from"), _utc(valid_to, "valid_to")
    if start is not None and end is not None and end < start:
        raise AgreementError("valid_to: the window ends before it starts")
    if isinstance(delay, bool) or not isinstance(delay, timedelta | int | float):
        raise AgreementError(f"delay: {delay!r} is not a duration")
    d = delay if isinstance(delay, timedelta) else timedelta(seconds=float(delay))
    if d < timedelta(0):
        raise AgreementError("delay: must not be negative")
    mmsis: set[int] = set()
    for m in exclude_mmsi:
        try:
            value = operator.index(m) if not isinstance(m, bool) else -1
        except TypeError:
            value = -1
        if not 0 <= value <= 999_999_999:
            raise AgreementError(f"exclude_mmsi: {m!r} is not an MMSI (0-999999999)")
        mmsis.add(value)
    if precision_decimals is not None and (
            isinstance(precision_decimals, bool) or not isinstance(precision_decimals, int)
            or not 0 <= precision_decimals <= MAX_PRECISION):
        raise AgreementError(f"precision_decimals: {precision_decimals!r} must be an integer "
                             f"0-{MAX_PRECISION} (or null for full precision)")
    if not isinstance(note, str):
        raise AgreementError("note: must be text")
    now = datetime.now(UTC)
    return Agreement(
        agreement_id=agreement_id or f"agr-{uuid.uuid4().hex[:12]}",
        grantor=grantor, grantee=grantee, classes=cls, area=parse_area(area),
        valid_from=start, valid_to=end, delay=d, exclude_mmsi=frozenset(mmsis),
        exclude_ship_types=parse_ship_types(exclude_ship_types),
        precision_decimals=precision_decimals,
        created=_utc(created, "created") or now, updated=_utc(updated, "updated") or now,
        revoked_at=_utc(revoked_at, "revoked_at"), note=note)


# --------------------------------------------------------------------------- store


def ensure_tables(store: Store) -> None:
    """Create ``agreements`` and ``sharing_state`` if they do not exist (idempotent)."""
    store.create_table("agreements", AGREEMENTS, key=("agreement_id",))
    store.create_table("sharing_state", SHARING_STATE, key=("name",))


def bump_version(store: Store) -> None:
    """Add one to the sharing version (call inside the transaction that changes something)."""
    store.con.execute(
        "INSERT INTO sharing_state VALUES ('version', 1) "
        "ON CONFLICT (name) DO UPDATE SET value = sharing_state.value + 1")


def agreements_version(store: Store) -> int:
    """A counter bumped by every change of agreements or source ownership (0: none yet)."""
    if not store.has_table("sharing_state"):
        return 0
    got = store.con.execute(
        "SELECT value FROM sharing_state WHERE name = 'version'").fetchall()
    return int(got[0][0]) if got else 0


def _row(a: Agreement) -> list[Any]:
    return [
        a.agreement_id, a.grantor, a.grantee, json.dumps(sorted(a.classes)),
        None if a.area is None else json.dumps(mapping(a.area)),
        a.valid_from, a.valid_to, int(a.delay.total_seconds()),
        json.dumps(sorted(a.exclude_mmsi)), json.dumps([list(r) for r in a.exclude_ship_types]),
        a.precision_decimals, a.created, a.updated, a.revoked_at, a.note,
    ]


def _write(store: Store, a: Agreement, new: bool, by: Caller | None, action: str,
           detail: dict[str, Any]) -> None:
    """Store ``a`` and its audit row (``action`` by ``by`` with ``detail``) in one
    transaction."""
    from seasight.access import audit  # not at import: access imports sharing
    marks = ", ".join("?" for _ in AGREEMENTS)
    with audit.change(store, by, action, "sharing",
                      {"agreement_id": a.agreement_id, "grantor": a.grantor,
                       "grantee": a.grantee, **detail}):
        if new:
            exists = store.con.execute("SELECT 1 FROM agreements WHERE agreement_id = ?",
                                       [a.agreement_id]).fetchall()
            if exists:
                raise AgreementError(f"agreement_id: {a.agreement_id!r} exists already")
        else:
            store.con.execute("DELETE FROM agreements WHERE agreement_id = ?",
                              [a.agreement_id])
        store.con.execute(f"INSERT INTO agreements VALUES ({marks})", _row(a))
        bump_version(store)


def _from_record(r: Mapping[str, Any]) -> Agreement:
    def utc(t: datetime | None) -> datetime | None:
        return None if t is None else t.astimezone(UTC)
    return Agreement(
        agreement_id=r["agreement_id"], grantor=r["grantor"], grantee=r["grantee"],
        classes=frozenset(json.loads(r["classes"])),
        area=None if r["area"] is None else shape(json.loads(r["area"])),
        valid_from=utc(r["valid_from"]), valid_to=utc(r["valid_to"]),
        delay=timedelta(seconds=int(r["delay_s"] or 0)),
        exclude_mmsi=frozenset(json.loads(r["exclude_mmsi"] or "[]")),
        exclude_ship_types=tuple(tuple(x) for x in json.loads(r["exclude_ship_types"] or "[]")),
        precision_decimals=r["precision_decimals"],
        created=utc(r["created"]) or datetime.now(UTC),
        updated=utc(r["updated"]) or datetime.now(UTC),
        revoked_at=utc(r["revoked_at"]), note=r["note"] or "")


def create_agreement(store: Store, grantor: str, grantee: str, classes: Iterable[str],
                     *, by: Caller | None = None, **limits: Any) -> Agreement:
    """Validate and store a new agreement (see :func:`make_agreement` for ``limits``);
    it takes effect at once. Returns it. Recorded in the audit log with the whole agreement
    as done ``by`` (default: the local operator), like every change here."""
    ensure_tables(store)
    a = make_agreement(grantor, grantee, classes, **limits)
    _write(store, a, True, by, "agreement create", {"agreement": a.to_json()})
    return a


def agreement_changes(old: Agreement, new: Agreement) -> dict[str, dict[str, Any]]:
    """What differs between two versions of an agreement: ``{field: {"from": .., "to": ..}}``
    in the JSON form of :meth:`Agreement.to_json` (``updated`` left out)."""
    before, after = old.to_json(), new.to_json()
    return {k: {"from": before[k], "to": after[k]} for k in after
            if k != "updated" and before.get(k) != after[k]}


def get_agreement(store: Store, agreement_id: str) -> Agreement:
    """The agreement ``agreement_id`` (revoked ones too).

    Raises:
        AgreementError: no such agreement.
    """
    ensure_tables(store)
    rows = (store.query("SELECT * FROM agreements WHERE agreement_id = ?", [agreement_id])
            if store.has_table("agreements") else pl.DataFrame())
    if rows.height == 0:
        raise AgreementError(f"agreement_id: no agreement {agreement_id!r}")
    return _from_record(rows.row(0, named=True))


#: Fields :func:`update_agreement` may change.
UPDATABLE: Final = ("classes", "area", "valid_from", "valid_to", "delay", "exclude_mmsi",
                    "exclude_ship_types", "precision_decimals", "note")


def update_agreement(store: Store, agreement_id: str, *, by: Caller | None = None,
                     **changes: Any) -> Agreement:
    """Change fields of an agreement (any of :data:`UPDATABLE`; ``None`` clears an optional
    limit); it takes effect at once. Returns the new agreement.

    Raises:
        AgreementError: no such agreement, a revoked one, an unknown field or a bad value.
    """
    bad = sorted(k for k in changes if k not in UPDATABLE)
    if bad:
        raise AgreementError(f"{bad[0]}: cannot be changed; change one of "
                             f"{', '.join(UPDATABLE)}")
    old = get_agreement(store, agreement_id)
    if old.revoked_at is not None:
        raise AgreementError(f"agreement_id: {agreement_id!r} is revoked; create a new one")
    current: dict[str, Any] = {
        "classes": old.classes, "area": old.area, "valid_from": old.valid_from,
        "valid_to": old.valid_to, "delay": old.delay, "exclude_mmsi": old.exclude_mmsi,
        "exclude_ship_types": old.exclude_ship_types,
        "precision_decimals": old.precision_decimals, "note": old.note,
    }
    for k, v in changes.items():
        if v is None and k == "classes":
            raise AgreementError("classes: an agreement grants at least one class (revoke it "
                                 "to grant nothing)")
        if v is None and k in ("delay", "exclude_mmsi", "exclude_ship_types", "note"):
            v = {"delay": timedelta(0), "note": ""}.get(k, ())
        current[k] = v
    new = make_agreement(old.grantor, old.grantee, agreement_id=old.agreement_id,
                         created=old.created, updated=datetime.now(UTC), **current)
    _write(store, new, False, by, "agreement update",
           {"changes": agreement_changes(old, new)})
    return new


def revoke_agreement(store: Store, agreement_id: str, at: datetime | None = None, *,
                     by: Caller | None = None) -> Agreement:
    """Revoke an agreement (from ``at``, default now); it grants nothing from then on.
    Revoking a revoked agreement keeps its first revocation time (and records nothing).
    Returns it."""
    old = get_agreement(store, agreement_id)
    if old.revoked_at is not None:
        return old
    when = _utc(at, "at") or datetime.now(UTC)
    new = replace(old, revoked_at=when, updated=datetime.now(UTC))
    _write(store, new, False, by, "agreement revoke",
           {"changes": agreement_changes(old, new)})
    return new


def list_agreements(store: Store, grantee: str | None = None,
                    active_at: datetime | None = None, grantor: str | None = None
                    ) -> list[Agreement]:
    """Stored agreements (ordered by creation), optionally only those to ``grantee`` / from
    ``grantor``, and those in force at ``active_at`` (created by then and not revoked)."""
    ensure_tables(store)
    if not store.has_table("agreements"):  # a read-only store without sharing yet
        return []
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if grantee is not None:
        where.append("grantee = ?")
        params.append(grantee)
    if grantor is not None:
        where.append("grantor = ?")
        params.append(grantor)
    if active_at is not None:
        t = _utc(active_at, "active_at")
        where.append("created <= ? AND (revoked_at IS NULL OR revoked_at > ?)")
        params += [t, t]
    rows = store.query(f"SELECT * FROM agreements WHERE {' AND '.join(where)} "
                       "ORDER BY created, agreement_id", params)
    return [_from_record(r) for r in rows.iter_rows(named=True)]


__all__ = [
    "AGREEMENTS",
    "CLASSES",
    "UPDATABLE",
    "Agreement",
    "AgreementError",
    "agreements_version",
    "bump_version",
    "check_org",
    "create_agreement",
    "ensure_tables",
    "get_agreement",
    "list_agreements",
    "make_agreement",
    "parse_area",
    "parse_ship_types",
    "revoke_agreement",
    "update_agreement",
]
