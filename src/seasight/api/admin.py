"""Routes for signing in and for administration: sessions, organisations, users, API keys,
sharing agreements, data sources, the audit log and exports.

Thin layers over :mod:`seasight.access` and :mod:`seasight.sharing`. The installation's own
organisation (``local``) administers everything; an admin of another organisation manages its
own users and keys and the agreements it grants, and reads the audit rows of its own
organisation. Scopes and roles are checked for every route by the app's authentication
(:func:`seasight.access.required`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from seasight.access import (
    ROLES,
    SCOPES,
    AccessError,
    AuthError,
    LoginLimiter,
    RateLimitedError,
    check_key,
    create_organisation,
    create_user,
    export_audit,
    get_key,
    issue_key,
    list_keys,
    list_organisations,
    list_users,
    login,
    query_audit,
    revoke_key,
)
from seasight.access.accounts import NotFoundError
from seasight.access.audit import check_audit
from seasight.api.auth import (
    SESSION_COOKIE,
    SESSION_HOURS,
    Authenticator,
    auth_error,
    current_caller,
)
from seasight.api.query import Caller, QueryError, bad_parameter, parse_time
from seasight.sharing import (
    LOCAL,
    AgreementError,
    assign_source,
    create_agreement,
    get_agreement,
    list_agreements,
    list_sources,
    revoke_agreement,
    update_agreement,
)
from seasight.sharing.exports import ExportError, export_frame
from seasight.sharing.reads import export_rows, record_export
from seasight.store.shared import SharedStore

#: Most audit rows one export holds (page with since/until for more).
AUDIT_EXPORT_ROWS = 100_000

_MEDIA = {"geojson": "application/geo+json", "csv": "text/csv",
          "kml": "application/vnd.google-earth.kml+xml",
          "parquet": "application/vnd.apache.parquet", "json": "application/json"}


class Login(BaseModel):
    """Sign in with a username and password, or with an API key."""

    username: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    key: str | None = Field(default=None, min_length=1, max_length=200)


class NewOrganisation(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=1000)


class NewUser(BaseModel):
    organisation: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(pattern="^(viewer|analyst|admin)$")
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class NewKey(BaseModel):
    organisation: str = Field(min_length=1, max_length=64)
    role: str = Field(pattern="^(viewer|analyst|admin)$")
    user: str | None = Field(default=None, min_length=1, max_length=64)
    scopes: list[str] = Field(default_factory=lambda: ["read"], max_length=3)
    days: float | None = Field(default=None, gt=0, le=3650)
    label: str = Field(default="", max_length=200)


class NewAgreement(BaseModel):
    grantor: str = Field(min_length=1, max_length=64)
    grantee: str = Field(min_length=1, max_length=64)
    classes: list[str] = Field(min_length=1, max_length=6)
    area: dict[str, Any] | None = None
    valid_from: str | None = Field(default=None, max_length=64)
    valid_to: str | None = Field(default=None, max_length=64)
    delay_s: float = Field(default=0, ge=0, le=10 * 365 * 86400)
    exclude_mmsi: list[int] = Field(default_factory=list, max_length=100_000)
    exclude_ship_types: list[int | str] = Field(default_factory=list, max_length=256)
    precision_decimals: int | None = Field(default=None, ge=0, le=6)
    note: str = Field(default="", max_length=2000)


class SourceOwner(BaseModel):
    pattern: str = Field(min_length=1, max_length=500)
    organisation: str = Field(min_length=1, max_length=64)


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.iter_rows(named=True):
        out.append({k: (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in row.items()})
    return out


def _own_org(caller: Caller, org: str) -> None:
    """An admin of another organisation acts on its own organisation only."""
    if not caller.sees_everything and org != caller.organisation:
        raise QueryError(403, "forbidden", f"organisation: you administer "
                                           f"{caller.organisation!r} only")


def _errors(exc: Exception) -> QueryError:
    if isinstance(exc, NotFoundError):
        return QueryError(404, "not_found", str(exc))
    if isinstance(exc, AccessError | AgreementError | ValueError):
        status = 409 if "exists" in str(exc) else 400
        return QueryError(status, "conflict" if status == 409 else "invalid_parameter",
                          str(exc))
    raise exc


C = Annotated[Caller, Depends(current_caller)]


def admin_router(shared: SharedStore, auth: Authenticator) -> APIRouter:
    """The routes, bound to the service's store and authenticator."""
    router = APIRouter()
    limiter = LoginLimiter()

    def run(fn: Any) -> Any:
        try:
            return fn()
        except (AccessError, AgreementError, ValueError) as exc:
            raise _errors(exc) from None

    # ------------------------------------------------------------------ sessions

    @router.post("/api/login", tags=["session"])
    async def sign_in(request: Request, body: Login) -> JSONResponse:
        """Start a web session (a cookie holding a key valid for 12 hours) with a username
        and password, or with an API key. Failed sign-ins are rate limited."""
        address = request.client.host if request.client else None

        def go() -> tuple[Caller, str, tuple[str, ...]]:
            if body.key is not None:
                grant = shared.read(lambda s: check_key(s, body.key))
                return grant.caller, grant.role, tuple(grant.scopes)
            if not body.username or not body.password:
                raise QueryError(400, "invalid_parameter",
                                 "body: give username and password, or key")
            caller = shared.read(lambda s: login(s, limiter, body.username or "",
                                                 body.password or "", address))
            role = next(r for r in reversed(ROLES) if r in caller.roles)
            scopes = tuple(s for s in SCOPES if s == "read" or (
                s == "ingest" and role in ("analyst", "admin")) or (
                s == "admin" and role == "admin"))
            return caller, role, scopes

        try:
            caller, role, scopes = await run_in_threadpool(go)
        except AuthError as exc:
            raise auth_error(exc) from None
        except RateLimitedError as exc:
            raise QueryError(429, "rate_limited", "too many failed sign-ins; try later",
                             {"retry_after": exc.retry_after}) from None
        secret, expires = await run_in_threadpool(auth.start_session, caller, role, scopes)
        out = JSONResponse({"user": caller.name, "organisation": caller.organisation,
                            "roles": sorted(caller.roles), "expires": expires.isoformat()})
        out.set_cookie(SESSION_COOKIE, secret, max_age=SESSION_HOURS * 3600, httponly=True,
                       samesite="strict", path="/")
        return out

    @router.post("/api/logout", tags=["session"])
    def sign_out(caller: C) -> JSONResponse:
        """End this session (its key is revoked) and clear the cookie."""
        if caller.key_id is not None:
            key = shared.read(lambda s: get_key(s, caller.key_id or ""))
            if key is not None and key.get("label") == "web session":
                auth.end_session(caller.key_id, by=caller)
        out = JSONResponse({"signed_out": True})
        out.delete_cookie(SESSION_COOKIE, path="/")
        return out

    @router.get("/api/me", tags=["session"])
    def me(caller: C) -> dict[str, Any]:
        """Who this request is authenticated as."""
        return {"user": caller.name, "organisation": caller.organisation,
                "roles": sorted(caller.roles), "key_id": caller.key_id}

    # ------------------------------------------------------------------ organisations

    @router.get("/api/access/organisations", tags=["access"])
    def organisations(caller: C) -> dict[str, Any]:
        """Organisations (an admin of another organisation sees its own)."""
        frame = shared.read(list_organisations)
        if not caller.sees_everything:
            frame = frame.filter(pl.col("name") == caller.organisation)
        return {"items": _records(frame)}

    @router.post("/api/access/organisations", tags=["access"], status_code=201)
    def add_organisation(caller: C, body: NewOrganisation) -> dict[str, Any]:
        """Add an organisation (the local organisation's admins only)."""
        _own_org(caller, LOCAL)
        return dict(run(lambda: shared.write(lambda s: create_organisation(
            s, body.name, description=body.description, by=caller))))

    @router.get("/api/access/users", tags=["access"])
    def users(caller: C, organisation: str | None = None) -> dict[str, Any]:
        """Users (never their password hashes)."""
        org = organisation if caller.sees_everything else caller.organisation
        return {"items": _records(shared.read(lambda s: list_users(s, org)))}

    @router.post("/api/access/users", tags=["access"], status_code=201)
    def add_user(caller: C, body: NewUser) -> dict[str, Any]:
        """Add a user to an organisation."""
        _own_org(caller, body.organisation)
        return dict(run(lambda: shared.write(lambda s: create_user(
            s, body.organisation, body.username, body.role, body.password, by=caller))))

    @router.get("/api/access/keys", tags=["access"])
    def keys(caller: C, organisation: str | None = None) -> dict[str, Any]:
        """API keys (never their secrets)."""
        org = organisation if caller.sees_everything else caller.organisation
        return {"items": _records(shared.read(lambda s: list_keys(s, org)))}

    @router.post("/api/access/keys", tags=["access"], status_code=201)
    def add_key(caller: C, body: NewKey) -> dict[str, Any]:
        """Issue a key; its secret is in this answer only."""
        _own_org(caller, body.organisation)
        expires = (datetime.now().astimezone() + timedelta(days=body.days)
                   if body.days is not None else None)
        issued = run(lambda: shared.write(lambda s: issue_key(
            s, body.organisation, user=body.user, role=body.role, scopes=body.scopes,
            expires=expires, label=body.label, by=caller)))
        return {"key_id": issued.key_id, "secret": issued.secret,
                "expires": expires.isoformat() if expires else None}

    @router.delete("/api/access/keys/{key_id}", tags=["access"])
    def delete_key(caller: C, key_id: str) -> dict[str, Any]:
        """Revoke a key (at once)."""
        key = run(lambda: shared.read(lambda s: get_key(s, key_id)))
        if key is None:
            raise QueryError(404, "not_found", f"key_id: no key {key_id!r}")
        _own_org(caller, key["organisation"])
        return _records(pl.DataFrame([run(lambda: shared.write(
            lambda s: revoke_key(s, key_id, by=caller)))]))[0]

    # ------------------------------------------------------------------ agreements

    @router.get("/api/agreements", tags=["sharing"])
    def agreements(caller: C) -> dict[str, Any]:
        """Agreements: an admin of the local organisation sees every one, an admin of another
        those it grants or is granted; below admin, a caller sees the agreements granting to
        its own organisation only (the terms of what it receives, as federation reads them)."""
        items = [a.to_json() for a in shared.read(list_agreements)]
        if "admin" not in caller.roles:
            items = [a for a in items if a["grantee"] == caller.organisation]
        elif not caller.sees_everything:
            items = [a for a in items if caller.organisation in (a["grantor"], a["grantee"])]
        return {"items": items}

    @router.post("/api/agreements", tags=["sharing"], status_code=201)
    def add_agreement(caller: C, body: NewAgreement) -> dict[str, Any]:
        """Grant data classes to another organisation; takes effect at once."""
        _own_org(caller, body.grantor)
        limits = body.model_dump(exclude={"grantor", "grantee", "classes", "delay_s"})
        for name in ("valid_from", "valid_to"):
            limits[name] = parse_time(name, limits[name])
        limits["delay"] = timedelta(seconds=body.delay_s)
        made = run(lambda: shared.write(lambda s: create_agreement(
            s, body.grantor, body.grantee, body.classes, by=caller, **limits)))
        return dict(made.to_json())

    @router.patch("/api/agreements/{agreement_id}", tags=["sharing"])
    def change_agreement(caller: C, agreement_id: str,
                         changes: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Change an agreement's limits; takes effect at once."""
        old = run(lambda: shared.read(lambda s: get_agreement(s, agreement_id)))
        _own_org(caller, old.grantor)
        if "delay_s" in changes:
            delay = changes.pop("delay_s")
            if not isinstance(delay, int | float) or delay < 0:
                raise bad_parameter("delay_s", "a number of seconds >= 0")
            changes["delay"] = timedelta(seconds=delay)
        return dict(run(lambda: shared.write(
            lambda s: update_agreement(s, agreement_id, by=caller, **changes))).to_json())

    @router.delete("/api/agreements/{agreement_id}", tags=["sharing"])
    def end_agreement(caller: C, agreement_id: str) -> dict[str, Any]:
        """Revoke an agreement: the grantee loses access at once (REST, stream, exports)."""
        old = run(lambda: shared.read(lambda s: get_agreement(s, agreement_id)))
        _own_org(caller, old.grantor)
        return dict(run(lambda: shared.write(
            lambda s: revoke_agreement(s, agreement_id, by=caller))).to_json())

    @router.get("/api/sources", tags=["sharing"])
    def sources(caller: C) -> dict[str, Any]:
        """Which organisation owns which data source."""
        _own_org(caller, LOCAL)
        return {"items": _records(shared.read(list_sources))}

    @router.post("/api/sources", tags=["sharing"], status_code=201)
    def add_source(caller: C, body: SourceOwner) -> dict[str, Any]:
        """Say which organisation owns a source (exact name or glob)."""
        _own_org(caller, LOCAL)
        run(lambda: shared.write(lambda s: assign_source(s, body.pattern, body.organisation,
                                                         by=caller)))
        return {"pattern": body.pattern, "organisation": body.organisation}

    # ------------------------------------------------------------------ audit

    def _audit_rows(caller: Caller, since: str | None, until: str | None,
                    organisation: str | None, limit: int, offset: int) -> pl.DataFrame:
        org = organisation if caller.sees_everything else caller.organisation
        t0, t1 = parse_time("since", since), parse_time("until", until)
        return run(lambda: shared.read(lambda s: query_audit(s, t0, t1, org, None, limit,
                                                             offset)))

    @router.get("/api/audit", tags=["audit"])
    def audit(caller: C, since: str | None = None, until: str | None = None,
              organisation: str | None = None,
              limit: Annotated[int, Query(ge=1, le=50_000)] = 1000,
              offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict[str, Any]:
        """The audit log, oldest first (read only: it cannot be altered through the API)."""
        return {"items": _records(_audit_rows(caller, since, until, organisation, limit,
                                              offset))}

    @router.get("/api/audit/export", tags=["audit"])
    def audit_export(caller: C, format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
                     since: str | None = None, until: str | None = None,
                     organisation: str | None = None) -> Response:
        """The audit log as a CSV or JSON file."""
        frame = _audit_rows(caller, since, until, organisation, AUDIT_EXPORT_ROWS, 0)
        return Response(export_audit(frame, "csv" if format == "csv" else "json"),
                        media_type=_MEDIA[format])

    @router.get("/api/audit/verify", tags=["audit"])
    def audit_verify(caller: C) -> dict[str, Any]:
        """Check the hash chain of the whole log and that it reaches the anchor kept outside
        the database: ``ok``, ``first_bad_seq``, ``rows``, ``anchored_seq``, ``unanchored``
        and, when not ok, ``problem``."""
        _own_org(caller, LOCAL)
        return dict(shared.read(check_audit).to_json())

    # ------------------------------------------------------------------ exports

    @router.get("/api/export/{kind}", tags=["exports"])
    def export(caller: C, kind: Annotated[str, "events, tracks or positions"],
               format: Annotated[str, Query(pattern="^(geojson|csv|kml|parquet)$")] = "geojson",
               since: str | None = None, until: str | None = None,
               event_kind: Annotated[list[str] | None, Query(alias="kind")] = None,
               mmsi: Annotated[int | None, Query(ge=1, le=999_999_999)] = None) -> Response:
        """Events, tracks or positions as GeoJSON, CSV, KML or Parquet: what the caller's
        organisation may see under the agreements, rounded as granted."""
        if kind not in ("events", "tracks", "positions"):
            raise bad_parameter("kind", "events, tracks or positions")
        t0, t1 = parse_time("since", since), parse_time("until", until)
        frame = shared.read(lambda s: export_rows(
            s, kind, caller.organisation, since=t0, until=t1, kinds=event_kind or None,
            mmsi=mmsi))
        try:
            data = export_frame(frame, kind, format)
        except ExportError as exc:
            raise bad_parameter("format", str(exc)) from None
        if not shared.read_only:  # recorded before the data is handed out
            shared.write(lambda s: record_export(
                s, caller, kind, format, caller.organisation, rows=frame.height,
                nbytes=len(data), since=t0, until=t1, kinds=event_kind or None, mmsi=mmsi))
        return Response(data, media_type=_MEDIA[format], headers={
            "Content-Disposition": f'attachment; filename="{kind}.{format}"'})

    return router


__all__ = ["admin_router"]
