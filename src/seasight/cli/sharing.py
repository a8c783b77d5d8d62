"""``seasight agreement ...`` and ``seasight source ...``: sharing agreements and data
ownership.

Register with :func:`register` (adds ``agreement``, ``source``, ``export`` and ``relay``).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from seasight.cli import service
from seasight.cli.markup import add_row, esc
from seasight.cli.options import DB, DB_EXISTING, JSON, fail, open_store
from seasight.events.model import parse_utc
from seasight.sharing import (
    CLASSES,
    Agreement,
    AgreementError,
    assign_source,
    create_agreement,
    list_agreements,
    list_sources,
    revoke_agreement,
    unassign_source,
    update_agreement,
)
from seasight.sharing.agreements import parse_area
from seasight.store import Store

AGREEMENT_EPILOG = f"""Examples:

  seasight agreement create --grantor navy --grantee fusion --class positions --class events \\
      --area region.geojson --delay 1h --exclude-ship-type 35 --precision 2 --db sea.duckdb

  seasight agreement list --grantee fusion --active --json

  seasight agreement update agr-1a2b3c4d5e6f --delay 30m --clear area

  seasight agreement revoke agr-1a2b3c4d5e6f

Classes: {', '.join(CLASSES)}. Durations: 90s, 30m, 1h, 2d (or plain seconds). Times: ISO 8601
(naive means UTC). Ship types: codes (35) or ranges (80-89). Changes take effect at once.
"""

SOURCE_EPILOG = """Examples:

  seasight source assign 'tcp://10.0.0.*' navy --db sea.duckdb

  seasight source assign /data/partner/feed.nmea coastguard

  seasight source list --json

  seasight source remove 'tcp://10.0.0.*'

A row belongs to the organisation of the exact pattern equal to its source, else of the longest
glob matching it, else to "local" (this installation).
"""

agreement_app = typer.Typer(
    name="agreement", help="Sharing agreements: create, list, update, revoke.",
    no_args_is_help=True, add_completion=False, epilog=AGREEMENT_EPILOG)
source_app = typer.Typer(
    name="source", help="Which organisation owns which data source: assign, list, remove.",
    no_args_is_help=True, add_completion=False, epilog=SOURCE_EPILOG)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d`` or plain seconds as a timedelta."""
    m = _DURATION.match(text)
    if not m:
        raise AgreementError(f"delay: {text!r} is not a duration such as 90s, 30m, 1h, 2d")
    return timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


def _area(value: str | None) -> Any:
    """GeoJSON text, or a file holding it (a Feature, geometry or one-feature collection)."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise AgreementError(f"area: {value!r} is neither GeoJSON nor a file")
        text = path.read_text()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgreementError(f"area: not JSON ({exc.msg})") from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features") or []
        if len(feats) != 1:
            raise AgreementError("area: the FeatureCollection must hold exactly one feature")
        doc = feats[0]
    parse_area(doc)  # validate now, for a clear message
    return doc


def _limits(area: str | None, valid_from: str | None, valid_to: str | None,
            delay: str | None, exclude_mmsi: list[int] | None,
            exclude_ship_type: list[str] | None, precision: int | None,
            note: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if area is not None:
        out["area"] = _area(area)
    for key, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is not None:
            try:
                out[key] = parse_utc(value)
            except ValueError as exc:
                raise AgreementError(f"{key}: {value!r} is not an ISO 8601 time") from exc
    if delay is not None:
        out["delay"] = parse_duration(delay)
    if exclude_mmsi:
        out["exclude_mmsi"] = list(exclude_mmsi)
    if exclude_ship_type:
        out["exclude_ship_types"] = list(exclude_ship_type)
    if precision is not None:
        out["precision_decimals"] = precision
    if note is not None:
        out["note"] = note
    return out


def _show(agreements: list[Agreement], as_json: bool, title: str) -> None:
    if as_json:
        for a in agreements:
            typer.echo(json.dumps(a.to_json()))
        return
    table = Table(title=esc(title))
    for col in ("id", "grantor", "grantee", "classes", "limits", "state"):
        table.add_column(col, no_wrap=col == "id")
    for a in agreements:
        limits = []
        if a.area is not None:
            limits.append("area")
        if a.valid_from or a.valid_to:
            limits.append(f"window {a.valid_from or '…'} – {a.valid_to or '…'}")
        if a.delay:
            limits.append(f"delay {a.delay}")
        if a.exclude_mmsi:
            limits.append(f"{len(a.exclude_mmsi)} MMSI excluded")
        if a.exclude_ship_types:
            limits.append("ship types " + ", ".join(
                f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in a.exclude_ship_types)
                + " excluded")
        if a.precision_decimals is not None:
            limits.append(f"{a.precision_decimals} decimals")
        state = f"revoked {a.revoked_at:%Y-%m-%d %H:%M}Z" if a.revoked_at else "active"
        add_row(table, a.agreement_id, a.grantor, a.grantee, ", ".join(sorted(a.classes)),
                "; ".join(limits) or "none", state)
    Console().print(table)


_CLASS = typer.Option(None, "--class", help=f"Data class granted (repeat): {', '.join(CLASSES)}.")
_AREA = typer.Option(None, "--area", help="GeoJSON (Multi)Polygon: text or a file.")
_FROM = typer.Option(None, "--from", help="Data from this time (ISO 8601).")
_TO = typer.Option(None, "--to", help="Data up to this time (ISO 8601).")
_DELAY = typer.Option(None, "--delay", help="Withhold data younger than this (1h, 30m).")
_XMMSI = typer.Option(None, "--exclude-mmsi", help="Vessel never shared (repeat).")
_XTYPE = typer.Option(None, "--exclude-ship-type",
                      help="AIS ship type or range never shared, e.g. 35 or 30-39 (repeat).")
_PREC = typer.Option(None, "--precision", help="Round lat/lon to this many decimals.")
_NOTE = typer.Option(None, "--note", help="Free text (the reference of the agreement).")


@agreement_app.command("create")
def create(
    grantor: str = typer.Option(..., "--grantor", help="Organisation whose data is shared."),
    grantee: str = typer.Option(..., "--grantee", help="Organisation that receives it."),
    classes: list[str] | None = _CLASS, area: str | None = _AREA,
    valid_from: str | None = _FROM, valid_to: str | None = _TO, delay: str | None = _DELAY,
    exclude_mmsi: list[int] | None = _XMMSI, exclude_ship_type: list[str] | None = _XTYPE,
    precision: int | None = _PREC, note: str | None = _NOTE,
    db: Path = DB, as_json: bool = JSON,
) -> None:
    """Create an agreement; it takes effect at once."""
    try:
        limits = _limits(area, valid_from, valid_to, delay, exclude_mmsi, exclude_ship_type,
                         precision, note)
        with open_store(db) as store:
            a = create_agreement(store, grantor, grantee, classes or [], **limits)
    except (AgreementError, OSError) as exc:
        raise fail(str(exc)) from exc
    _show([a], as_json, "Created")


@agreement_app.command("list")
def list_command(
    grantee: str | None = typer.Option(None, "--grantee", help="Only agreements to this "
                                       "organisation."),
    grantor: str | None = typer.Option(None, "--grantor", help="Only agreements from this "
                                       "organisation."),
    active: bool = typer.Option(False, "--active", help="Only those in force now."),
    db: Path = DB_EXISTING, as_json: bool = JSON,
) -> None:
    """List agreements (revoked ones too unless --active)."""
    from datetime import UTC, datetime
    with open_store(db, read_only=True) as store:
        found = list_agreements(store, grantee=grantee, grantor=grantor,
                                active_at=datetime.now(UTC) if active else None)
    _show(found, as_json, f"{len(found)} agreement(s) in {db}")


@agreement_app.command("update")
def update(
    agreement_id: str = typer.Argument(..., help="The agreement to change."),
    classes: list[str] | None = _CLASS, area: str | None = _AREA,
    valid_from: str | None = _FROM, valid_to: str | None = _TO, delay: str | None = _DELAY,
    exclude_mmsi: list[int] | None = _XMMSI, exclude_ship_type: list[str] | None = _XTYPE,
    precision: int | None = _PREC, note: str | None = _NOTE,
    clear: list[str] | None = typer.Option(
        None, "--clear", help="Remove a limit (repeat): area, from, to, delay, exclude-mmsi, "
        "exclude-ship-type, precision."),
    db: Path = DB, as_json: bool = JSON,
) -> None:
    """Change an agreement's classes or limits; it takes effect at once."""
    names = {"area": "area", "from": "valid_from", "to": "valid_to", "delay": "delay",
             "exclude-mmsi": "exclude_mmsi", "exclude-ship-type": "exclude_ship_types",
             "precision": "precision_decimals"}
    try:
        changes = _limits(area, valid_from, valid_to, delay, exclude_mmsi, exclude_ship_type,
                          precision, note)
        if classes:
            changes["classes"] = classes
        for c in clear or []:
            if c not in names:
                raise AgreementError(f"--clear: unknown limit {c!r}; one of "
                                     f"{', '.join(names)}")
            changes[names[c]] = None
        if not changes:
            raise AgreementError("nothing to change: give a class, a limit or --clear")
        with open_store(db) as store:
            a = update_agreement(store, agreement_id, **changes)
    except (AgreementError, OSError) as exc:
        raise fail(str(exc)) from exc
    _show([a], as_json, "Updated")


@agreement_app.command("revoke")
def revoke(
    agreement_id: str = typer.Argument(..., help="The agreement to revoke."),
    db: Path = DB, as_json: bool = JSON, url: str | None = service.URL,
    api_key: str | None = service.API_KEY,
) -> None:
    """Revoke an agreement: it grants nothing from now on. While 'seasight serve' holds the
    database, the revocation goes through its API (DELETE /api/agreements/ID) with an admin
    key, or the exact call is printed."""
    try:
        store = Store(db)
    except duckdb.IOException as exc:
        if not service.is_locked(exc):
            raise fail(f"cannot open {db}: {exc}") from exc
        path = f"/api/agreements/{quote(agreement_id, safe='')}"
        done = service.through_service(db, "DELETE", path, url, api_key)
        if as_json:
            typer.echo(json.dumps(done))
        else:
            typer.echo(f"Revoked {done.get('agreement_id', agreement_id)} through the running "
                       f"service (revoked at {done.get('revoked_at')}).", err=True)
        return
    try:
        with store:
            a = revoke_agreement(store, agreement_id)
    except AgreementError as exc:
        raise fail(str(exc)) from exc
    _show([a], as_json, "Revoked")


def _absolute(pattern: str) -> str:
    """File paths as ingest stores them (absolute); URLs, ``api:`` names and ``-`` as given."""
    if pattern == "-" or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", pattern) or \
            Path(pattern).is_absolute():
        return pattern
    return str(Path.cwd() / pattern)


@source_app.command("assign")
def assign(
    pattern: str = typer.Argument(..., help="A source (file path, tcp://host:port, api:x) "
                                  "or a glob such as 'tcp://10.0.0.*'."),
    organisation: str = typer.Argument(..., help="The organisation that owns it."),
    db: Path = DB, as_json: bool = JSON,
) -> None:
    """Make the sources matching PATTERN belong to ORGANISATION (at once). A relative file
    path is made absolute, as ingest stores sources."""
    pattern = _absolute(pattern)
    try:
        with open_store(db) as store:
            assign_source(store, pattern, organisation)
    except AgreementError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps({"pattern": pattern, "organisation": organisation}))
    else:
        typer.echo(f"{pattern} -> {organisation}", err=True)


@source_app.command("list")
def sources(db: Path = DB_EXISTING, as_json: bool = JSON) -> None:
    """The source assignments (unassigned sources belong to 'local')."""
    with open_store(db, read_only=True) as store:
        rows = list_sources(store).to_dicts()
    if as_json:
        for r in rows:
            r["created"] = r["created"].isoformat() if r["created"] else None
            typer.echo(json.dumps(r))
        return
    table = Table(title=f"{len(rows):,} source assignment(s) in {esc(db)}")
    for col in ("pattern", "organisation", "assigned"):
        table.add_column(col)
    for r in rows:
        add_row(table, r["pattern"], r["organisation"],
                f"{r['created']:%Y-%m-%d %H:%M}Z" if r["created"] else "")
    Console().print(table)


@source_app.command("remove")
def remove(pattern: str = typer.Argument(..., help="The pattern to forget."),
           db: Path = DB) -> None:
    """Forget an assignment: its sources belong to 'local' again."""
    with open_store(db) as store:
        if not unassign_source(store, pattern) and not unassign_source(store,
                                                                        _absolute(pattern)):
            raise fail(f"no source assignment {pattern!r} in {db}")


def register(app: typer.Typer) -> None:
    """Add ``agreement``, ``source``, ``export`` and ``relay`` to the ``seasight`` command."""
    from seasight.cli import export as _export
    app.add_typer(agreement_app, name="agreement")
    app.add_typer(source_app, name="source")
    app.command("export", epilog=_export.EXPORT_EPILOG)(_export.export)
    app.command("relay", epilog=_export.RELAY_EPILOG)(_export.relay)


__all__ = ["agreement_app", "parse_duration", "register", "source_app"]
