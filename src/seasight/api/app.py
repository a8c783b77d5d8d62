"""The HTTP service: ``create_app(db)`` builds the FastAPI application.

Every route is a thin layer over :mod:`seasight.api.query` (reads, all filtered by
:func:`seasight.api.query.visible`) or a stage's own function (writes). Errors, including
validation errors and unknown paths, have one JSON shape::

    {"error": {"status": 400, "code": "invalid_parameter", "message": "bbox: ...",
               "detail": {...}}}

Concurrency: the app holds one :class:`~seasight.store.shared.SharedStore`; each request works
on its own cursor of it, and writes (requests and the live pipeline) hold its write lock.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from fastapi import Body, Depends, FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect

from seasight import __version__
from seasight.access import RateLimitedError, RateLimiter
from seasight.ais import NmeaDecoder
from seasight.api import query as q
from seasight.api.admin import admin_router
from seasight.api.auth import PUBLIC_PATHS, Authenticator, current_caller
from seasight.api.docs import install_api_docs
from seasight.api.live import LivePipeline
from seasight.api.logistics import logistics_router
from seasight.api.query import Caller, QueryError, bad_parameter
from seasight.api.stream import Broadcaster
from seasight.geo.polygon_repair import RepairBusyError
from seasight.geo.zones import ZoneLimitError, check_organisation_quota, zones_from_geojson
from seasight.ingest.pipeline import IngestReport
from seasight.model.batch import Batch
from seasight.model.schema import SYNTHETIC_MMSI_MAX
from seasight.risk.alerts import UnknownAlertError, alert_records, set_alert_state
from seasight.risk.watchlists import (
    add_watchlist,
    keep_screening_current,
    parse_watchlist,
    watchlist_matches,
)
from seasight.sharing import LOCAL
from seasight.sharing.origins import upload_source
from seasight.sharing.relay import RelayFeed, RelayLoop, RelayServer
from seasight.sources.vessel_ids import is_vessel_key
from seasight.store import Store
from seasight.store.latest import refresh_latest
from seasight.store.shared import ReadOnlyError, SharedStore

#: Largest request body accepted by ``POST /api/ingest`` and ``POST /api/watchlists``.
MAX_BODY_BYTES = 64 * 1024 * 1024

#: Largest request body accepted by every other route (JSON bodies).
MAX_JSON_BYTES = 16 * 1024 * 1024

#: Routes whose bodies may reach :data:`MAX_BODY_BYTES`.
_UPLOAD_PATHS = frozenset({"/api/ingest", "/api/watchlists"})

#: ``POST /api/ingest`` requests a key may make per second, and in a burst.
INGEST_RATE = 20.0
INGEST_BURST = 40.0

#: Seconds between two polls of the store by each ``/api/stream`` client.
STREAM_POLL_S = 1.0

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

_CODES = {400: "invalid_parameter", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_media_type", 429: "rate_limited",
          500: "internal_error"}


# --------------------------------------------------------------------------- errors


def error_body(status: int, code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """The JSON error shape of every 4xx/5xx answer."""
    return {"error": {"status": status, "code": code, "message": message, "detail": detail}}


def _error(status: int, code: str, message: str, detail: Any = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, detail), status_code=status,
                        headers=headers)


def _loc_name(loc: tuple[Any, ...] | list[Any]) -> str:
    if loc and loc[0] == "body":
        rest = [str(p) for p in loc[1:] if not isinstance(p, int)]
        return ".".join(["body", *rest]) if rest and loc[1:] != (rest[0],) else (
            rest[0] if rest else "body")
    parts = [str(p) for p in loc if p not in ("query", "path", "header", "cookie")]
    return ".".join(parts) or "request"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueryError)
    async def _query_error(request: Request, exc: QueryError) -> JSONResponse:
        headers = None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif exc.status == 429 and isinstance(exc.detail, dict):
            headers = {"Retry-After": str(max(1, round(exc.detail.get("retry_after", 1))))}
        return _error(exc.status, exc.code, exc.message, exc.detail, headers)

    @app.exception_handler(ReadOnlyError)
    async def _read_only(request: Request, exc: ReadOnlyError) -> JSONResponse:
        return _error(403, "read_only", "the service runs on a read-only database")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"parameter": _loc_name(e.get("loc", ())), "in": str(e.get("loc", ("",))[0]),
                   "message": str(e.get("msg", ""))} for e in exc.errors()]
        message = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
        return _error(400, "invalid_parameter", message or "invalid request", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such resource: {request.url.path}"
        return _error(exc.status_code, code, message, None,
                      dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- models


class Layer(enum.StrEnum):
    """Reference layers shipped with SeaSight."""

    land = "land"
    ports = "ports"
    lanes = "lanes"


_LAYER_FILES = {Layer.land: "ne_50m_land.json", Layer.ports: "ports.geojson",
                Layer.lanes: "sea_lanes_marnet.geojson"}


@functools.cache
def _layer_bytes(layer: Layer) -> tuple[bytes, str]:
    ref = resources.files("seasight") / "data" / "geo" / _LAYER_FILES[layer]
    data = ref.read_bytes()
    return data, hashlib.blake2b(data, digest_size=8).hexdigest()


class StateChange(BaseModel):
    """An alert state change: who makes it and why."""

    note: str = Field(min_length=1, max_length=10_000, description="Why (required).")
    by: str = Field(default="api", min_length=1, max_length=200,
                    description="Who (recorded together with the signed-in caller).")


class Health(BaseModel):
    status: str
    version: str
    db: str
    read_only: bool


def _split(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated query values, flattened."""
    out: list[str] = []
    for v in values or []:
        out += [p.strip() for p in v.split(",") if p.strip()]
    return out


def _ints(name: str, values: list[str] | None, hi: int) -> list[int]:
    out = []
    for v in _split(values):
        if not v.isdigit() or int(v) > hi:
            raise bad_parameter(name, f"expected integers 0-{hi}, got {v!r}")
        out.append(int(v))
    return out


class _BodyLimit:
    """ASGI middleware refusing request bodies over their route's limit with 413: one that
    declares a larger ``Content-Length`` before it is read (and before the credentials are
    checked), a chunked one as soon as what has arrived passes the limit."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_BODY_BYTES if scope["path"] in _UPLOAD_PATHS else MAX_JSON_BYTES
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            refusal = (_error(400, "invalid_parameter", "Content-Length: not a number")
                       if not length.isdigit() else
                       _error(413, "too_large", f"body: request body larger than {limit} "
                                                "bytes") if int(length) > limit else None)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # answered by the HTTPException handler, as JSON
                    raise StarletteHTTPException(413, f"body: request body larger than "
                                                      f"{limit} bytes")
            return message

        await self.app(scope, counted, send)


def _actor(caller: Caller, stated: str) -> str:
    """Who changed an alert: the name given (a watch officer at a shared console) with the
    signed-in caller, so that a change cannot be put in someone else's name."""
    if stated in ("api", caller.name):
        return caller.name
    return f"{stated} (as {caller.name})"


def _body_text(data: bytes, name: str) -> bytes:
    if len(data) > MAX_BODY_BYTES:
        raise QueryError(413, "too_large", f"{name}: request body larger than "
                                           f"{MAX_BODY_BYTES} bytes")
    return data


def _zone_owners(store: Store) -> dict[str, str]:
    """Each stored zone's organisation (zones stored without one are the local one's)."""
    owners: dict[str, str] = {}
    for f in q.zones_json(store, Caller.local())["features"]:
        props = f.get("properties") or {}
        owners[str(props.get("name"))] = str(props.get("organisation", LOCAL))
    return owners


def store_dep(request: Request) -> Iterator[Store]:
    """The request's store: a cursor of the service's connection."""
    access: SharedStore = request.app.state.access
    with access.reading() as s:
        yield s


def _authenticated(conn: HTTPConnection) -> None:
    """Every route but the public ones needs a caller (the stream checks its own)."""
    if conn.scope["type"] == "http" and conn.url.path not in PUBLIC_PATHS:
        current_caller(conn)  # type: ignore[arg-type]


S = Annotated[Store, Depends(store_dep)]
C = Annotated[Caller, Depends(current_caller)]
Bbox = Annotated[str | None, Query(description="w,s,e,n in degrees (w > e crosses 180)",
                                   examples=["100,-10,130,10"])]
Limit = Annotated[int, Query(ge=1, le=q.MAX_LIMIT)]
Kinds = Annotated[list[str] | None, Query(description="event kinds (repeat or commas)")]
Offset = Annotated[int, Query(ge=0, le=10**9)]
MmsiQ = Annotated[int | None, Query(ge=1, le=SYNTHETIC_MMSI_MAX)]  # synthetic ones too


# --------------------------------------------------------------------------- the app


def create_app(db: Path, *, read_only: bool = False, static_dir: Path | None = None,
               stream_poll_s: float = STREAM_POLL_S,
               live: Callable[[SharedStore], LivePipeline] | None = None,
               relays: Sequence[tuple[RelayFeed, RelayServer]] = ()) -> FastAPI:
    """The SeaSight service on database ``db`` (created unless ``read_only``).

    ``live`` builds the :class:`~seasight.api.live.LivePipeline` (feeds, analysis) that runs on the
    service's store while it is up; ``GET /api/live`` reports on it. ``relays`` re-encode what
    an organisation may see as NMEA for partners' displays while the service runs."""
    access = SharedStore(Path(db), read_only=read_only)
    auth = Authenticator(access)
    broadcaster = Broadcaster(access, stream_poll_s, refresh=auth.refresh)
    pipeline = live(access) if live is not None else None
    ingest_limit = RateLimiter(rate=INGEST_RATE, burst=INGEST_BURST)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not read_only:
            await run_in_threadpool(access.write, refresh_latest)
        await run_in_threadpool(auth.start)
        broadcaster.start()
        if pipeline is not None:
            pipeline.start()
        loops = [RelayLoop(feed, server, access.read).start() for feed, server in relays]
        try:
            yield
        finally:
            for loop in loops:
                await run_in_threadpool(loop.stop)
            if pipeline is not None:
                await run_in_threadpool(pipeline.stop)
            await broadcaster.stop()
            await run_in_threadpool(auth.stop)
            access.close()

    app = FastAPI(
        title="SeaSight", version=__version__, lifespan=lifespan,
        description="Open Maritime Domain Awareness: vessels, tracks, events, alerts, zones. "
                    "Every route but /api/health and /api/login needs an API key "
                    "(Authorization: Bearer, or X-API-Key) or a session cookie. "
                    "Errors are JSON: {\"error\": {status, code, message, detail}}.",
        dependencies=[Depends(_authenticated)],
        docs_url=None, redoc_url=None,  # served offline by install_api_docs
    )
    app.state.access = access
    app.state.auth = auth
    app.state.broadcaster = broadcaster
    app.state.pipeline = pipeline
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    _install_error_handlers(app)

    app.add_middleware(_BodyLimit)

    @app.middleware("http")
    async def audit(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/api/") and path != "/api/health":
            caller = getattr(request.state, "caller", None)
            query = request.url.query
            auth.audit(caller if isinstance(caller, Caller) else None,
                       f"{request.method} {path}" + (f"?{query[:500]}" if query else ""),
                       path.removeprefix("/api/").split("/")[0] or "api",
                       response.status_code,
                       {"bytes": int(response.headers.get("content-length") or 0)},
                       request.client.host if request.client else None)
        return response

    app.include_router(admin_router(access, auth))
    app.include_router(logistics_router(access))

    @app.get("/api/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Service status."""
        return Health(status="ok", version=__version__, db=str(access.store.path),
                      read_only=read_only)

    @app.get("/api/live", tags=["service"])
    def live_status(caller: C) -> dict[str, Any]:
        """The live pipeline: feeds (messages, rejects, errors) and the last analysis cycle
        (events added, alerts fired, newest position); ``{"running": false}`` without feeds.
        Another organisation is told only whether it runs: feed addresses and counts describe
        every organisation's data."""
        if not caller.sees_everything:
            return {"running": pipeline is not None and pipeline.feeds_running(),
                    "feeds": [], "analysis": None, "stream_clients": None}
        if pipeline is None:
            return {"running": False, "feeds": [], "analysis": None,
                    "stream_clients": len(broadcaster.clients)}
        return {"running": pipeline.feeds_running(), **pipeline.status.to_json(),
                "stream_clients": len(broadcaster.clients)}

    @app.get("/api/vessels", tags=["vessels"], response_class=Response, responses={200: {
        "description": "GeoJSON FeatureCollection of Point features",
        "content": {"application/geo+json": {"schema": {"type": "object"}}}}})
    def vessels(
        store: S, caller: C, bbox: Bbox = None,
        at: Annotated[str | None, Query(description="ISO 8601: positions as of this time")] = None,
        ship_type: Annotated[list[str] | None, Query(description="AIS ship types")] = None,
        flag: Annotated[list[str] | None, Query(description="ISO alpha-2 flags")] = None,
        min_risk: Annotated[float | None, Query(ge=0, le=100)] = None,
        list_: Annotated[list[str] | None, Query(alias="list", description="watchlists")] = None,
        limit: Limit = 20_000,
    ) -> Response:
        """Latest position of every vessel (GeoJSON FeatureCollection), filtered."""
        text = q.vessels_geojson_text(
            store, caller, bbox=q.parse_bbox(bbox), at=q.parse_time("at", at),
            ship_type=_ints("ship_type", ship_type, 255), flag=_split(flag),
            min_risk=min_risk, lists=_split(list_), limit=limit)
        return Response(text, media_type="application/geo+json")

    @app.get("/api/vessels/{mmsi}", tags=["vessels"])
    def vessel(store: S, caller: C, mmsi: int) -> dict[str, Any]:
        """A vessel's dossier: identity history, watchlist matches, risk, events."""
        if not is_vessel_key(mmsi):
            raise bad_parameter("mmsi", f"an MMSI has 1 to 9 digits (or is synthetic), got {mmsi}")
        return q.dossier(store, caller, mmsi)

    @app.get("/api/vessels/{mmsi}/track", tags=["vessels"])
    def vessel_track(store: S, caller: C, mmsi: int, since: str | None = None,
                     until: str | None = None) -> dict[str, Any]:
        """A vessel's track as a GeoJSON LineString feature; point times in properties."""
        if not is_vessel_key(mmsi):
            raise bad_parameter("mmsi", f"an MMSI has 1 to 9 digits (or is synthetic), got {mmsi}")
        return q.track(store, caller, mmsi, since=q.parse_time("since", since),
                       until=q.parse_time("until", until))

    def _event_filters(kind: list[str] | None, since: str | None, until: str | None,
                       bbox: str | None, mmsi: int | None, limit: int,
                       offset: int) -> dict[str, Any]:
        return {"kinds": _split(kind), "since": q.parse_time("since", since),
                "until": q.parse_time("until", until), "bbox": q.parse_bbox(bbox),
                "mmsi": mmsi, "limit": limit, "offset": offset}


    @app.get("/api/events", tags=["events"])
    def events(store: S, caller: C, kind: Kinds = None, since: str | None = None,
               until: str | None = None, bbox: Bbox = None, mmsi: MmsiQ = None,
               limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
        """Events, newest first: ``{total, offset, limit, items}``."""
        return q.events_json(store, caller,
                             **_event_filters(kind, since, until, bbox, mmsi, limit, offset))

    @app.get("/api/events.geojson", tags=["events"])
    def events_geojson(store: S, caller: C, kind: Kinds = None, since: str | None = None,
                       until: str | None = None, bbox: Bbox = None, mmsi: MmsiQ = None,
                       limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
        """The same page of events as a GeoJSON FeatureCollection."""
        return q.events_features(store, caller,
                                 **_event_filters(kind, since, until, bbox, mmsi, limit, offset))

    @app.get("/api/partner-events", tags=["events"])
    def partner_events(store: S, caller: C, partner: str | None = Query(
                           None, max_length=200, description="Only this partner's events."),
                       kind: Kinds = None, since: str | None = None, until: str | None = None,
                       bbox: Bbox = None, mmsi: MmsiQ = None, limit: Limit = 100,
                       offset: Offset = 0) -> dict[str, Any]:
        """Events pulled from partner SeaSights (``seasight federate``), newest first, each
        with its ``partner``: ``{total, offset, limit, items}``."""
        return q.partner_events_json(
            store, caller, partner=partner,
            **_event_filters(kind, since, until, bbox, mmsi, limit, offset))

    @app.get("/api/alerts", tags=["alerts"])
    def alerts(store: S, caller: C,
               state: Annotated[list[str] | None, Query(description="new, acknowledged, closed")]
               = None) -> dict[str, Any]:
        """Alerts, most severe first: ``{total, items}``."""
        return q.alerts_json(store, caller, _split(state))

    def _change(caller: Caller, alert_id: str, state: str, body: StateChange
                ) -> dict[str, Any]:
        with access.writing() as store:
            # a partner changes only its own alerts, named in full (a prefix could reveal
            # others' alert ids); one it may only read is not its to handle
            if not caller.sees_everything and alert_id not in q.own_alert_ids(store, caller):
                seen = {a["alert_id"] for a in q.alerts_json(store, caller)["items"]}
                if alert_id in seen:
                    raise QueryError(403, "forbidden", f"alert_id: alert {alert_id!r} is "
                                     "shared with your organisation to read, not to handle",
                                     {"parameter": "alert_id"})
                raise QueryError(404, "not_found", f"alert_id: no alert {alert_id!r} you "
                                                   "may see", {"parameter": "alert_id"})
            try:
                row = set_alert_state(store, alert_id, state, _actor(caller, body.by),
                                      body.note)
            except UnknownAlertError as exc:
                raise QueryError(404, "not_found", f"alert_id: {exc}",
                                 {"parameter": "alert_id"}) from None
            except ValueError as exc:
                raise QueryError(409, "conflict", str(exc)) from None
            return alert_records(pl.DataFrame([row]))[0]

    @app.post("/api/alerts/{alert_id}/ack", tags=["alerts"])
    def ack(caller: C, alert_id: str, body: StateChange) -> dict[str, Any]:
        """Acknowledge an alert (``new`` → ``acknowledged``)."""
        return _change(caller, alert_id, "acknowledged", body)

    @app.post("/api/alerts/{alert_id}/close", tags=["alerts"])
    def close(caller: C, alert_id: str, body: StateChange) -> dict[str, Any]:
        """Close an alert."""
        return _change(caller, alert_id, "closed", body)

    @app.get("/api/zones", tags=["zones"])
    def zones(store: S, caller: C) -> dict[str, Any]:
        """Stored zones (GeoJSON FeatureCollection)."""
        return q.zones_json(store, caller)

    @app.post("/api/zones", tags=["zones"], status_code=201)
    def add_zones(caller: C, body: Annotated[dict[str, Any], Body(
            description="GeoJSON FeatureCollection, Feature or (Multi)Polygon")]
    ) -> dict[str, Any]:
        """Store zones (replacing zones of the same name); detection watches them."""
        try:  # limits checked first; invalid polygons repaired in a timed child process
            new = zones_from_geojson(body, source="request")
        except ZoneLimitError as exc:
            raise QueryError(413, "too_large", f"body: {exc}", {"parameter": "body"}) from None
        except RepairBusyError as exc:
            raise QueryError(503, "busy", f"body: {exc}", {"retry_after": 10}) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise QueryError(400, "invalid_geojson", f"body: {exc}",
                             {"parameter": "body"}) from None
        names = [z.name for z in new]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise QueryError(400, "invalid_geojson",
                             f"body: zone names must be unique; repeated: {', '.join(dup)}",
                             {"parameter": "body"})
        new = [replace(z, properties={**z.properties, "organisation": caller.organisation})
               for z in new]
        with access.writing() as store:
            owner = _zone_owners(store)
            theirs = {n for n in names if owner.get(n, caller.organisation)
                      != caller.organisation}
            if theirs:  # zones are their organisation's, the local one's too
                raise QueryError(409, "conflict", f"body: zone names taken by another "
                                                  f"organisation: {', '.join(sorted(theirs))}")
            try:
                check_organisation_quota(store.zone_sizes(caller.organisation, LOCAL), new,
                                         caller.organisation)
            except ZoneLimitError as exc:
                raise QueryError(413, "too_large", f"body: {exc}",
                                 {"parameter": "body"}) from None
            store.save_zones(new)
            out = q.zones_json(store, caller)
        out["features"] = [f for f in out["features"]
                           if (f.get("properties") or {}).get("name") in names]
        return out

    @app.delete("/api/zones/{name}", tags=["zones"])
    def delete_zone(caller: C, name: str) -> dict[str, Any]:
        """Forget a zone (another organisation's zones are not yours to delete)."""
        with access.writing() as store:
            if _zone_owners(store).get(name) != caller.organisation or not (
                    store.delete_zone(name)):
                raise QueryError(404, "not_found", f"name: no zone {name!r}",
                                 {"parameter": "name"})
        return {"deleted": name}

    text_body = {"requestBody": {"required": True, "content": {
        "text/plain": {"schema": {"type": "string"}}}}}

    @app.post("/api/ingest", tags=["ingest"], openapi_extra=text_body)
    async def ingest(request: Request,
                     source: Annotated[str, Query(min_length=1, max_length=200)] = "api",
                     ) -> dict[str, Any]:
        """Decode and store NMEA lines (text/plain body): messages by type, rejects by
        reason, rows added per table. The rows are stored under source
        ``api:<your organisation>/<source>`` and belong to your organisation."""
        caller = current_caller(request)
        try:
            ingest_limit.check(caller.key_id or caller.name)
        except RateLimitedError as exc:
            raise QueryError(429, "rate_limited", "too many ingest requests; try later",
                             {"retry_after": exc.retry_after}) from None
        data = _body_text(await request.body(), "body")

        def run() -> dict[str, Any]:
            stored_as = upload_source(caller.organisation, source)
            dec = NmeaDecoder(stored_as)
            batch = Batch.concat([dec.feed(data), dec.finish()])
            report = IngestReport(sources=[stored_as], bytes_read=len(data))
            with access.writing() as store:
                report.add(batch, store.append(batch))
                refresh_latest(store)
                keep_screening_current(store)  # new static reports are screened at once
            return report.to_json()

        return await run_in_threadpool(run)

    csv_or_json = {"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {}}}}}

    @app.post("/api/watchlists", tags=["watchlists"], openapi_extra=csv_or_json)
    async def upload_watchlist(
        request: Request,
        name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        format: Annotated[str | None, Query(pattern="^(csv|json)$")] = None,
    ) -> dict[str, Any]:
        """Store a watchlist of your organisation (the file as the body, CSV or JSON;
        replacing your organisation's list of that name only), screen every vessel against it
        and return what changed for the vessels you may see."""
        caller = current_caller(request)
        data = _body_text(await request.body(), "body")
        fmt = format
        if fmt is None:
            ctype = request.headers.get("content-type", "")
            head = data.lstrip()[:1]
            fmt = "json" if "json" in ctype or head in (b"[", b"{") else "csv"

        def run() -> dict[str, Any]:
            try:
                wl = parse_watchlist(data, fmt=fmt, name=name, source=name or "upload")
            except ValueError as exc:
                raise QueryError(400, "invalid_watchlist", f"body: {exc}",
                                 {"parameter": "body"}) from None
            if len(wl) == 0:
                raise QueryError(400, "invalid_watchlist", "body: the watchlist has no entries",
                                 {"parameter": "body"})
            with access.writing() as store:
                # the caller's organisation's list: another's of the same name is untouched
                change = add_watchlist(store, wl, organisation=caller.organisation)
                if not caller.sees_everything:  # only vessels the caller may see
                    current = watchlist_matches(store, organisations=[caller.organisation])
                    change = replace(
                        change, added=q.screened_identities(store, caller, change.added),
                        removed=q.screened_identities(store, caller, change.removed),
                        n_matches=q.screened_identities(store, caller, current.filter(
                            pl.col("list_name") == wl.name)).height)
                return change.to_json()

        return await run_in_threadpool(run)

    @app.get("/api/layers/{name}", tags=["layers"])
    def layer(name: Layer, request: Request) -> Response:
        """Reference layer as GeoJSON: ``land`` (Natural Earth 1:50m), ``ports``, ``lanes``
        (MARNET sea lanes). Cached by clients (ETag)."""
        data, tag = _layer_bytes(name)
        headers = {"Cache-Control": "public, max-age=86400", "ETag": f'"{tag}"'}
        if request.headers.get("if-none-match") == f'"{tag}"':
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="application/geo+json", headers=headers)

    @app.websocket("/api/stream")
    async def stream(ws: WebSocket) -> None:
        """Live updates: ``{"type": "positions", "features": [...]}`` (latest position of
        vessels that moved), ``{"type": "event", "event": {...}}`` and ``{"type": "alert",
        "alert": {...}}``, read from the store every ``poll_s`` seconds. The first message is
        ``{"type": "hello", ...}``."""
        client = ws.client.host if ws.client else None
        try:
            caller = await run_in_threadpool(auth.caller, ws)
        except QueryError as exc:
            auth.audit(None, "WS /api/stream refused", "stream", 4000 + exc.status,
                       {"reason": exc.code}, client)
            await ws.close(code=4000 + exc.status, reason=exc.message[:120])
            return
        await ws.accept()
        sub = await broadcaster.subscribe(caller)
        closed = asyncio.Event()
        opened, sent, end = time.monotonic(), 0, "client closed"
        auth.audit(caller, "WS /api/stream open", "stream", 101,
                   {"as_organisation": caller.organisation}, client)

        async def watch_close() -> None:
            try:
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                closed.set()

        watcher = asyncio.create_task(watch_close())
        try:
            await ws.send_json({"type": "hello", "version": __version__,
                                "poll_s": stream_poll_s})
            while not closed.is_set():
                batch = asyncio.ensure_future(sub.next_batch())
                done, _ = await asyncio.wait({batch, watcher},
                                             return_when=asyncio.FIRST_COMPLETED)
                if batch not in done:
                    batch.cancel()
                    break
                if sub.revoked.is_set():  # the key was revoked or expired
                    end = "credentials revoked or expired"
                    await ws.close(code=4401, reason=end)
                    break
                for m in batch.result():
                    await ws.send_text(m)
                    sent += 1
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            broadcaster.unsubscribe(sub)
            watcher.cancel()
            # the session's content: how long, how many messages, what was dropped, why it ended
            auth.audit(caller, "WS /api/stream close", "stream", 4401 if end != "client closed"
                       else 1000, {"as_organisation": caller.organisation,
                                   "seconds": round(time.monotonic() - opened, 3),
                                   "rows": sent, "dropped": sub.dropped,
                                   "ended": end}, client)

    static = static_dir if static_dir is not None else STATIC_DIR
    install_api_docs(app, static)
    if static.is_dir():
        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    return app


__all__ = ["MAX_BODY_BYTES", "MAX_JSON_BYTES", "STREAM_POLL_S", "create_app", "error_body"]
