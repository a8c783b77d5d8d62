"""``seasight access``: organisations, users, API keys and the audit log.

Every change made here is itself recorded in the audit log (as the local operator).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from seasight.access import accounts, audit, keys
from seasight.access.accounts import AccessError
from seasight.cli import service
from seasight.cli.markup import add_row
from seasight.cli.options import DB, DB_EXISTING, JSON, fail, open_store
from seasight.events.model import parse_utc
from seasight.store import Store

EPILOG = """Examples:

  seasight access org add "Coastguard North" --description "Partner fusion centre"

  seasight access user add "Coastguard North" alice --role analyst --password

  seasight access key issue "Coastguard North" --user alice --role analyst --scope read \\
      --days 90 --label "alice's laptop"

  seasight access key revoke 3f9a0c1d2e4b

  seasight access audit export --format csv --since 2026-01-01 > audit.csv

  seasight access audit verify

Roles: viewer < analyst < admin (each includes the ones before). Scopes: read (every GET and
the live stream), ingest (POST /api/ingest, /api/watchlists; analyst or above), admin
(organisations, users, keys, agreements, audit log; admin only).
"""

app = typer.Typer(name="access", help="Organisations, users, API keys and the audit log.",
                  no_args_is_help=True, add_completion=False, epilog=EPILOG)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True, add_completion=False)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True,
                       add_completion=False)
key_app = typer.Typer(help="API keys.", no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="The audit log: list, export, verify.", no_args_is_help=True,
                        add_completion=False)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
app.add_typer(audit_app, name="audit")


def _jsonable(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in rec.items()}


def _time(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}Z" if value is not None else ""


def _parse_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError:
        raise fail(f"{name}: not an ISO 8601 time: {value!r}") from None


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except AccessError as exc:
        raise fail(str(exc)) from exc


# --------------------------------------------------------------------------- organisations


@org_app.command("add")
def org_add(
    name: str = typer.Argument(..., help="Organisation name (1-64 of A-Z a-z 0-9 space . _ -)."),
    description: str = typer.Option("", "--description", help="Free text."),
    db: Path = DB,
    as_json: bool = JSON,
) -> None:
    """Add an organisation."""
    with open_store(db) as store:
        org = _run(accounts.create_organisation, store, name, description=description)
    if as_json:
        typer.echo(json.dumps(_jsonable(org)))
    else:
        typer.echo(f"Added organisation {name!r}.", err=True)


@org_app.command("list")
def org_list(db: Path = DB_EXISTING, as_json: bool = JSON) -> None:
    """The organisations and their number of users."""
    with open_store(db, read_only=True) as store:
        records = accounts.list_organisations(store).to_dicts()
    if as_json:
        for rec in records:
            typer.echo(json.dumps(_jsonable(rec)))
        return
    table = Table(title=f"{len(records):,} organisation(s)")
    for col in ("name", "users", "disabled", "created", "description"):
        table.add_column(col)
    for r in records:
        add_row(table, r["name"], str(r["n_users"]), "yes" if r["disabled"] else "",
                      _time(r["created_at"]), r["description"])
    Console().print(table)


@org_app.command("disable")
def org_disable(
    name: str = typer.Argument(..., help="Organisation to disable."),
    enable: bool = typer.Option(False, "--enable", help="Enable it again instead."),
    db: Path = DB,
) -> None:
    """Disable an organisation: its users and keys stop working at once."""
    with open_store(db) as store:
        _run(accounts.set_organisation_disabled, store, name, not enable)
    typer.echo(f"{'Enabled' if enable else 'Disabled'} organisation {name!r}.", err=True)


# --------------------------------------------------------------------------- users


def _read_password(prompt: bool, from_stdin: bool) -> str | None:
    if prompt and from_stdin:
        raise fail("give --password or --password-stdin, not both")
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if prompt:
        value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return value
    return None


@user_app.command("add")
def user_add(
    org: str = typer.Argument(..., help="The user's organisation."),
    username: str = typer.Argument(..., help="Username (1-64 of A-Z a-z 0-9 . _ @ -)."),
    role: str = typer.Option(..., "--role", help="viewer, analyst or admin."),
    password: bool = typer.Option(False, "--password", help="Ask for a password (to sign "
                                  "in to the web map); without one the user acts by keys only."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from the first line of "
                                        "standard input."),
    db: Path = DB,
    as_json: bool = JSON,
) -> None:
    """Add a user to an organisation."""
    secret = _read_password(password, password_stdin)
    with open_store(db) as store:
        user = _run(accounts.create_user, store, org, username, role, secret)
    if as_json:
        typer.echo(json.dumps(_jsonable(user)))
    else:
        typer.echo(f"Added {role} {username!r} to {org!r}"
                   f"{'' if secret else ' (no password: keys only)'}.", err=True)


@user_app.command("list")
def user_list(
    org: str | None = typer.Option(None, "--org", help="Only this organisation's users."),
    db: Path = DB_EXISTING,
    as_json: bool = JSON,
) -> None:
    """The users, their roles and state."""
    with open_store(db, read_only=True) as store:
        records = accounts.list_users(store, org).to_dicts()
    if as_json:
        for rec in records:
            typer.echo(json.dumps(_jsonable(rec)))
        return
    table = Table(title=f"{len(records):,} user(s)")
    for col in ("organisation", "username", "role", "password", "disabled", "created"):
        table.add_column(col)
    for r in records:
        add_row(table, r["organisation"], r["username"], r["role"],
                      "yes" if r["has_password"] else "", "yes" if r["disabled"] else "",
                      _time(r["created_at"]))
    Console().print(table)


@user_app.command("disable")
def user_disable(
    username: str = typer.Argument(..., help="User to disable."),
    enable: bool = typer.Option(False, "--enable", help="Enable the user again instead."),
    db: Path = DB,
) -> None:
    """Disable a user: sign-in and every key of the user stop at once."""
    with open_store(db) as store:
        _run(accounts.set_user_disabled, store, username, not enable)
    typer.echo(f"{'Enabled' if enable else 'Disabled'} user {username!r}.", err=True)


@user_app.command("role")
def user_role(
    username: str = typer.Argument(..., help="User."),
    role: str = typer.Argument(..., help="New role: viewer, analyst or admin."),
    db: Path = DB,
) -> None:
    """Change a user's role (the user's keys never act above it)."""
    with open_store(db) as store:
        _run(accounts.set_role, store, username, role)
    typer.echo(f"{username!r} is now {role}.", err=True)


@user_app.command("password")
def user_password(
    username: str = typer.Argument(..., help="User."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from standard input."),
    remove: bool = typer.Option(False, "--remove", help="Remove the password (keys only)."),
    db: Path = DB,
) -> None:
    """Set (or remove) a user's password."""
    secret = None if remove else _read_password(not password_stdin, password_stdin)
    with open_store(db) as store:
        _run(accounts.set_password, store, username, secret)
    typer.echo(f"{'Removed' if remove else 'Set'} the password of {username!r}.", err=True)


# --------------------------------------------------------------------------- keys


@key_app.command("issue")
def key_issue(
    org: str = typer.Argument(..., help="Organisation the key belongs to."),
    role: str = typer.Option(..., "--role", help="viewer, analyst or admin (at most the "
                             "user's role)."),
    user: str | None = typer.Option(None, "--user", help="Issue it on behalf of this user."),
    scope: list[str] = typer.Option(["read"], "--scope",
                                    help="read, ingest or admin; repeat for several."),
    expires: str | None = typer.Option(None, "--expires", help="Expiry time (ISO 8601)."),
    days: float | None = typer.Option(None, "--days", min=0.001,
                                      help="Expire after this many days."),
    label: str = typer.Option("", "--label", help="What the key is for."),
    db: Path = DB,
    as_json: bool = JSON,
) -> None:
    """Issue a key. The key is printed ONCE on standard output and cannot be shown again."""
    if expires is not None and days is not None:
        raise fail("give --expires or --days, not both")
    until = _parse_time("--expires", expires)
    if days is not None:
        until = datetime.now(UTC) + timedelta(days=days)
    scopes = [s.strip() for v in scope for s in v.split(",") if s.strip()]
    with open_store(db) as store:
        issued = _run(keys.issue_key, store, org, user=user, role=role, scopes=scopes,
                      expires=until, label=label)
        info = keys.get_key(store, issued.key_id) or {}
    if as_json:
        typer.echo(json.dumps(_jsonable({**info, "key": issued.secret})))
        return
    typer.echo(f"Issued key {issued.key_id} for {org!r} ({role}; scopes "
               f"{info.get('scopes', '')}; expires {_time(until) or 'never'}). It is shown "
               "once: store it now.", err=True)
    typer.echo(issued.secret)


@key_app.command("list")
def key_list(
    org: str | None = typer.Option(None, "--org", help="Only this organisation's keys."),
    active: bool = typer.Option(False, "--active", help="Leave out revoked keys."),
    db: Path = DB_EXISTING,
    as_json: bool = JSON,
) -> None:
    """The keys (never their secrets)."""
    with open_store(db, read_only=True) as store:
        records = keys.list_keys(store, org, include_revoked=not active).to_dicts()
    if as_json:
        for rec in records:
            typer.echo(json.dumps(_jsonable(rec)))
        return
    table = Table(title=f"{len(records):,} key(s)")
    table.add_column("key id", no_wrap=True)
    for col in ("organisation", "user", "role", "scopes", "label", "created", "expires",
                "revoked", "last used"):
        table.add_column(col)
    for r in records:
        add_row(table, r["key_id"], r["organisation"], r["username"] or "", r["role"],
                      r["scopes"], r["label"], _time(r["created_at"]), _time(r["expires_at"]),
                      _time(r["revoked_at"]), _time(r["last_used_at"]))
    Console().print(table)


@key_app.command("revoke")
def key_revoke(
    key_id: str = typer.Argument(..., help="The key's id (the 12 hex digits after ss_)."),
    db: Path = DB, url: str | None = service.URL, api_key: str | None = service.API_KEY,
) -> None:
    """Revoke a key: it stops working at once. While 'seasight serve' holds the database,
    through its API (DELETE /api/access/keys/ID) with an admin key, or the call is printed."""
    _run(keys.check_key_id, key_id)
    try:
        store = Store(db)
    except duckdb.IOException as exc:
        if not service.is_locked(exc):
            raise fail(f"cannot open {db}: {exc}") from exc
        service.through_service(db, "DELETE", f"/api/access/keys/{key_id}", url, api_key)
        typer.echo(f"Revoked key {key_id} through the running service.", err=True)
        return
    with store:
        _run(keys.revoke_key, store, key_id)
    typer.echo(f"Revoked key {key_id}.", err=True)


# --------------------------------------------------------------------------- audit


def _query(db: Path, since: str | None, until: str | None, org: str | None,
           user: str | None, limit: int, offset: int) -> Any:
    t0, t1 = _parse_time("--since", since), _parse_time("--until", until)
    with open_store(db, read_only=True) as store:
        try:
            return audit.query_audit(store, t0, t1, org, user, limit, offset)
        except ValueError as exc:
            raise fail(str(exc)) from exc


SINCE = typer.Option(None, "--since", help="From this time (ISO 8601).")
UNTIL = typer.Option(None, "--until", help="Up to this time (ISO 8601).")
ORG = typer.Option(None, "--org", help="Only this organisation.")
USER = typer.Option(None, "--user", help="Only this user (or key:<key id>).")
OFFSET = typer.Option(0, "--offset", min=0, help="Skip this many rows.")


@audit_app.command("list")
def audit_list(
    since: str | None = SINCE, until: str | None = UNTIL, org: str | None = ORG,
    user: str | None = USER,
    limit: int = typer.Option(100, "--limit", min=1, max=audit.MAX_AUDIT_LIMIT),
    offset: int = OFFSET, db: Path = DB_EXISTING, as_json: bool = JSON,
) -> None:
    """Rows of the audit log, oldest first."""
    frame = _query(db, since, until, org, user, limit, offset)
    if as_json:
        for rec in frame.to_dicts():
            typer.echo(json.dumps(_jsonable(rec)))
        return
    table = Table(title=f"{frame.height:,} audit row(s)")
    for col in ("seq", "time", "organisation", "user", "key", "action", "kind", "rows",
                "status", "client"):
        table.add_column(col)
    for r in frame.to_dicts():
        add_row(table, str(r["seq"]), f"{r['ts']:%Y-%m-%d %H:%M:%S}Z", r["organisation"] or "",
                      r["user"] or "", r["key_id"] or "", r["action"], r["kind"],
                      str(r["rows"]), str(r["status"]), r["client"] or "")
    Console().print(table)


@audit_app.command("export")
def audit_export(
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False,
                                       help="Write here instead of standard output."),
    since: str | None = SINCE, until: str | None = UNTIL, org: str | None = ORG,
    user: str | None = USER,
    limit: int = typer.Option(audit.MAX_AUDIT_LIMIT, "--limit", min=1,
                              max=audit.MAX_AUDIT_LIMIT),
    offset: int = OFFSET, db: Path = DB_EXISTING,
) -> None:
    """Export the audit log (with hashes, so the export can be checked later)."""
    if fmt not in ("csv", "json"):
        raise fail(f"--format: expected csv or json, not {fmt!r}")
    frame = _query(db, since, until, org, user, limit, offset)
    data = audit.export_audit(frame, "csv" if fmt == "csv" else "json")
    if output is not None:
        output.write_bytes(data)
        typer.echo(f"Wrote {frame.height} row(s) to {output}.", err=True)
    else:
        typer.echo(data.decode("utf-8"), nl=False)


@audit_app.command("verify")
def audit_verify(
    anchor_file: Path | None = typer.Option(
        None, "--anchor", dir_okay=False, exists=True,
        help="Check against this exported anchor (from 'audit anchor --output') instead of "
        "the anchor file beside the database."),
    db: Path = DB_EXISTING, as_json: bool = JSON,
) -> None:
    """Check the audit log's hash chain and that it reaches the anchor kept outside the
    database; exit 1 if any row was altered, added or removed, rows were cut off the end, the
    log was re-chained, emptied or dropped, or the anchor is missing or forged."""
    with open_store(db, read_only=True) as store:
        result = audit.check_audit(store, anchor_file=anchor_file)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
    elif result.ok:
        anchored = (f"; anchored at row {result.anchored_seq}"
                    + (f" ({result.unanchored} row(s) after it)" if result.unanchored else "")
                    if result.anchored_seq else "")
        typer.echo(f"Audit log intact: {result.rows} row(s){anchored}.", err=True)
    else:
        where = (f"first bad row is seq {result.first_bad_seq}: "
                 if result.first_bad_seq is not None else "")
        typer.secho(f"Audit log ALTERED or unanchored: {where}{result.problem}.", err=True,
                    fg="red")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    output: Path | None = typer.Option(None, "--output", dir_okay=False,
                                       help="Also write the anchor to this file (keep it "
                                       "off this machine)."),
    reset: bool = typer.Option(False, "--reset", help="Anchor the log at its current last "
                               "row whatever the anchor says (after checking the log: for "
                               "an installation without an anchor, or a restored backup). "
                               "Recorded in the log."),
    reason: str = typer.Option("", "--reason", help="Why (recorded with --reset)."),
    db: Path = DB, as_json: bool = JSON,
) -> None:
    """Show the audit anchor (the last row's seq and hash, with its MAC) so it can be kept
    elsewhere and checked later with 'audit verify --anchor FILE'; or re-anchor (--reset)."""
    from seasight.access import anchor as anchors
    if reset:
        with open_store(db) as store:
            try:
                audit.reanchor(store, reason=reason)
            except (ValueError, OSError) as exc:
                raise fail(str(exc)) from exc
    path = anchors.anchor_path(db)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise fail(f"no audit anchor at {path} (the log is empty, or run --reset after "
                   "checking it)") from None
    if output is not None:
        output.write_text(text)
    if as_json:
        typer.echo(text.strip())
    else:
        doc = json.loads(text)
        typer.echo(f"Audit anchor {path}: row {doc.get('seq')} hash {doc.get('hash')} "
                   f"(written {doc.get('written_at')})", err=True)
        typer.echo(text.strip())
