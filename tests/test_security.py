"""Attacks on the HTTP API: credentials (missing, malformed, unknown, expired, revoked, of the
wrong organisation), SQL and path injection in every parameter of the OpenAPI schema,
oversized bodies, rate limits (sign-in, ingest), the audit log's immutability, roles and
scopes, and a schemathesis run with the keys of two organisations whose answers are checked
against what their agreement grants.

One store for the module: a simulated feed split by receiving station between ``navy``
(satellites), ``coastguard`` and ``local`` (shore stations). One agreement navy -> coastguard
grants positions, identities, events, alerts and dossiers inside a box covering the west of
the data, to two decimals, without a few navy-only vessels. ``outsider`` has no data and no
agreement. Every answer to a partner key is checked by :class:`Oracle`: no MMSI the caller
may never see (excluded, or never observed by its own or granted data) appears anywhere in
the answer, and every position is the caller's own or a granted navy one inside the box.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from starlette.websockets import WebSocketDisconnect

import seasight.api.app as app_module
from partner_world import split_feed, stock_store
from seasight.access import create_user, issue_key
from seasight.access.keys import revoke_key
from seasight.api import create_app
from seasight.sharing import owners
from seasight.sharing.origins import attach_origin
from seasight.sim import simulate, write_simulation
from seasight.store import Store

CG, NAVY = "coastguard", "navy"
INGEST_RATE, INGEST_BURST = 5.0, 30.0  # the module's app: a tighter ingest limit

SQL = ["' OR '1'='1", "1; DROP TABLE positions; --", "1 UNION SELECT key_id FROM api_keys",
       "\" OR \"\"=\"", "navy' --", "%' OR mmsi > 0 --", "') OR 1=1; DELETE FROM audit_log; --"]
PATHS = ["../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "..\\..\\win.ini",
         "%00", "*", "x" * 5000]
PAYLOADS = SQL + PATHS


# --------------------------------------------------------------------------- the world


@dataclasses.dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    key_ids: dict[str, str]
    box: tuple[float, float, float, float]  # w, s, e, n of the agreement's area
    excluded: list[int]  # navy-only vessels the agreement excludes
    forbidden: dict[str, set[int]]  # per organisation: MMSIs it may never see
    positions: dict[tuple[int, int], list[tuple[str, float, float]]]  # origin, lat, lon
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("security")
    write_simulation(simulate("indo-pacific", hours=4, vessels=40, seed=8), folder)
    paths = split_feed(folder / "feed.nmea", folder)
    db = folder / "security.duckdb"
    keys: dict[str, str] = {}
    ids: dict[str, str] = {}
    now = datetime.now(UTC)
    with Store(db) as store:
        stock_store(store, paths.values(), {str(paths["navy"]): NAVY,
                                            str(paths["coastguard"]): CG},
                    folder / "zones.geojson", (NAVY, CG, "outsider"))
        create_user(store, CG, "cg_officer", "viewer", "correct horse battery")

        def key(name: str, org: str, role: str, scopes: tuple[str, ...] = ("read",),
                **kw: Any) -> None:
            issued = issue_key(store, org, role=role, scopes=scopes, **kw)
            keys[name], ids[name] = issued.secret, issued.key_id

        key("admin", "local", "admin", ("read", "ingest", "admin"))
        key("local_viewer", "local", "viewer")
        key("cg", CG, "viewer")
        key("cg_analyst", CG, "analyst", ("read", "ingest"))
        key("navy", NAVY, "analyst", ("read", "ingest"))
        key("navy_admin", NAVY, "admin", ("read", "admin"))
        key("outsider", "outsider", "viewer")
        key("expired", CG, "viewer", expires=now - timedelta(hours=1),
            now=now - timedelta(hours=2))
        key("revoked", CG, "viewer")
        revoke_key(store, ids["revoked"])
        key("ingest_flood", "local", "analyst", ("read", "ingest"))
        pos = attach_origin(store.query(
            "SELECT mmsi, ts, lat, lon, source FROM positions WHERE ts IS NOT NULL"),
            owners(store))
    by_org: dict[str, set[int]] = defaultdict(set)
    positions: dict[tuple[int, int], list[tuple[str, float, float]]] = defaultdict(list)
    for r in pos.iter_rows(named=True):
        by_org[r["origin"]].add(int(r["mmsi"]))
        positions[(int(r["mmsi"]), int(r["ts"].timestamp()))].append(
            (r["origin"], r["lat"], r["lon"]))
    navy_only = sorted(by_org[NAVY] - by_org[CG])
    assert len(navy_only) >= 4, "the feed has vessels only the navy observes"
    excluded = navy_only[:3]
    navy_pts = pos.filter(pos["origin"] == NAVY)
    lo_x, hi_x = float(navy_pts["lon"].min()), float(navy_pts["lon"].max())  # type: ignore[arg-type]
    box = (lo_x - 1, -90.0, round((lo_x + hi_x) / 2, 3), 90.0)
    everyone = set().union(*by_org.values())
    forbidden = {CG: (everyone - by_org[CG] - by_org[NAVY]) | set(excluded),
                 NAVY: everyone - by_org[NAVY], "outsider": everyone}
    monkey = pytest.MonkeyPatch()
    monkey.setattr(app_module, "INGEST_RATE", INGEST_RATE)
    monkey.setattr(app_module, "INGEST_BURST", INGEST_BURST)
    with TestClient(create_app(db, stream_poll_s=0.2)) as client:
        monkey.undo()
        w, s, e, n = box
        r = client.post("/api/agreements", headers={"Authorization": f"Bearer {keys['admin']}"},
                        json={"grantor": NAVY, "grantee": CG,
                              "classes": ["positions", "identities", "events", "alerts",
                                          "dossiers"],
                              "area": {"type": "Polygon", "coordinates": [
                                  [[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                              "exclude_mmsi": excluded, "precision_decimals": 2})
        assert r.status_code == 201, r.text
        yield World(client, keys, ids, box, excluded, forbidden, positions)


# --------------------------------------------------------------------------- the oracle


ORG_OF = {"cg": CG, "cg_analyst": CG, "navy": NAVY, "navy_admin": NAVY,
          "outsider": "outsider"}
_DIGITS = re.compile(rb"(?<![0-9])([0-9]{9})(?![0-9])")


def _t(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())


def check_answer(w: World, who: str, content: bytes, media: str, asked: str) -> None:
    """What ``who`` (a partner key) was answered holds nothing its organisation may not see:
    no forbidden MMSI anywhere in the bytes (unless the request itself named it), and every
    position (GeoJSON points and tracks, CSV rows) its own or granted."""
    org = ORG_OF[who]
    # an agreement's terms (its excluded vessels too) are shown to both parties by design
    terms = "/api/agreements" in asked
    for m in [] if terms else _DIGITS.findall(content):
        mmsi = int(m)
        if mmsi in w.forbidden[org] and m.decode() not in asked:
            raise AssertionError(f"{who}: MMSI {mmsi} in the answer to {asked}")
    points: list[tuple[int, int, float, float]] = []
    if "json" in media and content[:1] in (b"{", b"["):
        _walk(json.loads(content), points)
    elif media.startswith("text/csv"):
        for rec in csv.DictReader(io.StringIO(content.decode())):
            if {"mmsi", "ts", "lat", "lon"} <= set(rec) and rec["lat"] and rec["ts"]:
                points.append((int(rec["mmsi"]), _t(rec["ts"]), float(rec["lat"]),
                               float(rec["lon"])))
    for mmsi, ts, lat, lon in points:
        w.counts["positions checked"] += 1
        stored = w.positions.get((mmsi, ts), [])
        ok = any(o == org and abs(la - lat) < 1e-6 and abs(lo - lon) < 1e-6
                 for o, la, lo in stored)
        if org == CG and not ok:
            bw, bs, be, bn = w.box
            ok = any(o == NAVY and bw < lo < be and bs < la < bn and abs(la - lat) <= 0.00501
                     and abs(lo - lon) <= 0.00501 for o, la, lo in stored)
        assert ok, f"{who}: position {mmsi} {ts} ({lat}, {lon}) not granted ({asked}); " \
                   f"stored {stored}"


def _walk(doc: Any, points: list[tuple[int, int, float, float]]) -> None:
    """Positions in a JSON answer: Point features with mmsi and ts, LineString tracks."""
    if isinstance(doc, list):
        for x in doc:
            _walk(x, points)
        return
    if not isinstance(doc, dict):
        return
    geom, props = doc.get("geometry"), doc.get("properties")
    if isinstance(geom, dict) and isinstance(props, dict) and props.get("mmsi") is not None:
        mmsi = props["mmsi"]
        if geom.get("type") == "Point" and props.get("ts") and isinstance(mmsi, int):
            lon, lat = geom["coordinates"]
            points.append((mmsi, _t(props["ts"]), lat, lon))
        elif geom.get("type") == "LineString" and props.get("times") and isinstance(mmsi, int):
            for (lon, lat), ts in zip(geom["coordinates"], props["times"], strict=True):
                points.append((mmsi, _t(ts), lat, lon))
    for v in doc.values():
        if isinstance(v, dict | list):
            _walk(v, points)


# --------------------------------------------------------------------------- the routes


def _operations(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every operation of the OpenAPI schema."""
    spec = w.client.get("/openapi.json").json()
    return [(m.upper(), path, op) for path, ops in spec["paths"].items()
            for m, op in ops.items()]


SAMPLE_PATH = {"mmsi": "412000001", "alert_id": "0123456789abcdef", "name": "harbour",
               "key_id": "0123456789ab", "agreement_id": "no-such-agreement",
               "kind": "positions", "ref": "ACSA-JP-US-2025-0001"}


def _fill(path: str, override: dict[str, str] | None = None) -> str:
    values = {**SAMPLE_PATH, **(override or {})}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _request(w: World, method: str, url: str, headers: dict[str, str],
             params: dict[str, str] | None = None) -> Any:
    body: dict[str, Any] = {}
    if url.endswith("/api/ingest") or url.endswith("/api/watchlists"):
        body = {"content": b""}
    elif method in ("POST", "PATCH", "PUT"):
        body = {"json": {}}
    w.counts["requests"] += 1
    return w.client.request(method, url, headers=headers, params=params, **body)


def _error_shape(r: Any) -> None:
    assert r.status_code < 500, (r.request.method, r.request.url, r.text[:300])
    if r.status_code >= 400:
        err = r.json()["error"]
        assert set(err) == {"status", "code", "message", "detail"} and err["status"] == (
            r.status_code)


# --------------------------------------------------------------------------- credentials


BAD_CREDENTIALS = {
    "missing": ({}, "key_missing"),
    "malformed": ({"Authorization": "Bearer not-a-key"}, "key_malformed"),
    "unknown": ({"Authorization": "Bearer ss_0123456789ab_" + "A" * 43}, "key_unknown"),
    "basic": ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "key_malformed"),
}


def test_bad_credentials_refused_on_every_route(world: World) -> None:
    """Every operation but health and login answers 401 (with the reason) to missing,
    malformed, unknown, expired and revoked keys, in a header or a cookie; the stream
    closes with 4401."""
    creds = {**BAD_CREDENTIALS,
             "expired": (world.h("expired"), "key_expired"),
             "revoked": (world.h("revoked"), "key_revoked"),
             "expired x-api-key": ({"X-API-Key": world.keys["expired"]}, "key_expired")}
    ops = _operations(world)
    checked = 0
    for method, path, _ in ops:
        if path in ("/api/health", "/api/login"):
            continue
        for name, (headers, code) in creds.items():
            r = _request(world, method, _fill(path), headers)
            assert r.status_code == 401, (name, method, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == code, (name, method, path)
            assert r.headers.get("www-authenticate") == "Bearer"
            checked += 1
    world.client.cookies.set("seasight_session", world.keys["revoked"])
    try:
        assert world.client.get("/api/vessels").status_code == 401
    finally:
        world.client.cookies.clear()
    for headers, _ in [*creds.values()]:
        with pytest.raises(WebSocketDisconnect) as exc, world.client.websocket_connect(
                "/api/stream", headers=headers) as ws:
            ws.receive_json()
        assert exc.value.code == 4401
    assert world.client.get("/api/health").status_code == 200
    print(f"\ncredentials: {checked} refused requests over {len(ops)} operations")


def test_wrong_organisation_sees_nothing_and_administers_nothing_else(world: World) -> None:
    """``outsider`` (no data, no agreement) gets empty answers on every read path; a partner
    admin cannot act on another organisation (keys, users, agreements, sources, audit)."""
    get = world.client.get
    out = world.h("outsider")
    assert get("/api/vessels", headers=out).json()["features"] == []
    assert get("/api/events", headers=out).json()["items"] == []
    assert get("/api/events.geojson", headers=out).json()["features"] == []
    assert get("/api/alerts", headers=out).json()["items"] == []
    assert get("/api/zones", headers=out).json()["features"] == []
    for kind in ("positions", "tracks", "events"):
        r = get(f"/api/export/{kind}", params={"format": "csv"}, headers=out)
        assert r.status_code == 200 and len(r.text.strip().splitlines()) <= 1, r.text[:200]
    some = sorted(world.forbidden["outsider"])[:5]
    for mmsi in some:
        assert get(f"/api/vessels/{mmsi}", headers=out).status_code == 404
        r = get(f"/api/vessels/{mmsi}/track", headers=out)
        assert r.status_code == 404 or r.json()["properties"]["n_points"] == 0
    for mmsi in world.excluded:
        assert get(f"/api/vessels/{mmsi}", headers=world.h("cg")).status_code == 404
        r = get(f"/api/vessels/{mmsi}/track", headers=world.h("cg"))
        assert r.status_code == 404 or r.json()["properties"]["n_points"] == 0
    na = world.h("navy_admin")
    post = world.client.post
    assert post("/api/access/keys", headers=na,
                json={"organisation": CG, "role": "viewer"}).status_code == 403
    assert post("/api/access/users", headers=na,
                json={"organisation": CG, "username": "mole", "role": "admin",
                      "password": "password123"}).status_code == 403
    assert post("/api/agreements", headers=na,
                json={"grantor": CG, "grantee": NAVY, "classes": ["positions"]}
                ).status_code == 403
    assert post("/api/sources", headers=na,
                json={"pattern": "*", "organisation": NAVY}).status_code == 403
    assert post("/api/access/organisations", headers=na, json={"name": "x"}).status_code == 403
    r = world.client.delete(f"/api/access/keys/{world.key_ids['cg']}", headers=na)
    assert r.status_code == 403
    items = get("/api/access/keys", params={"organisation": CG}, headers=na).json()["items"]
    assert items and {k["organisation"] for k in items} == {NAVY}
    items = get("/api/audit", params={"organisation": CG}, headers=na).json()["items"]
    assert {a["organisation"] for a in items} <= {NAVY}
    assert get("/api/audit/verify", headers=na).status_code == 403
    # a partner's analyst cannot act on (or discover) alerts it does not see
    alerts = get("/api/alerts", headers=world.h("admin")).json()["items"]
    seen = {a["alert_id"] for a in get("/api/alerts", headers=world.h("navy")).json()["items"]}
    hidden = [a["alert_id"] for a in alerts if a["alert_id"] not in seen]
    for alert_id in [*hidden[:3], hidden[0][:2] if hidden else "0", "0", "a"]:
        r = post(f"/api/alerts/{alert_id}/ack", headers=world.h("navy"),
                 json={"note": "probe", "by": "navy"})
        assert r.status_code == 404, (alert_id, r.text[:300])
        assert not any(a in r.text for a in hidden if a != alert_id), r.text[:300]


def test_viewer_keys_cannot_administer_or_ingest(world: World) -> None:
    """Keys of role viewer (of the local organisation too) get 403 on every administration
    operation and every change; a read-only analyst key cannot ingest."""
    checked = 0
    for method, path, _ in _operations(world):
        admin = path.startswith(("/api/access", "/api/audit", "/api/sources")) or (
            path.startswith("/api/agreements") and method != "GET")
        change = method != "GET" and path not in ("/api/login", "/api/logout")
        if not (admin or change):
            continue
        for who in ("local_viewer", "cg"):
            r = _request(world, method, _fill(path), world.h(who))
            assert r.status_code == 403, (who, method, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "forbidden"
            checked += 1
    assert checked >= 15
    print(f"\nroles: {checked} forbidden requests")


# --------------------------------------------------------------------------- injection


def _counts(w: World) -> tuple[int, ...]:
    def read(store: Store) -> tuple[int, ...]:
        return tuple(store.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                     for t in ("positions", "events", "alerts", "api_keys", "agreements",
                               "zones", "organisations", "users"))
    return w.client.app.state.access.read(read)  # type: ignore[attr-defined,no-any-return]


def test_injection_in_every_parameter(world: World) -> None:
    """SQL and path injection strings in every query and path parameter of the schema, as a
    partner (coastguard viewer) and as the local admin: never 5xx, errors in the stable
    shape, answers to the partner hold nothing it may not see, and nothing is altered."""
    before = _counts(world)
    n_params = 0
    for method, path, op in _operations(world):
        params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
        if method == "POST" and path == "/api/sources":
            continue  # a glob pattern is the legitimate meaning of that body, not a parameter
        for p in params:
            n_params += 1
            for payload in PAYLOADS:
                for who in ("cg", "admin"):
                    if method != "GET" and who == "cg":
                        continue
                    if p["in"] == "path":
                        url, query = _fill(path, {p["name"]: payload.replace("/", "%2F")}), None
                    else:
                        url, query = _fill(path), {p["name"]: payload}
                    r = _request(world, method, url, world.h(who), query)
                    _error_shape(r)
                    assert r.status_code != 429 or path == "/api/ingest"
                    if r.status_code == 200 and who == "cg":
                        check_answer(world, "cg", r.content, r.headers.get("content-type", ""),
                                     str(r.request.url))
                    assert b"root:x:0:0" not in r.content, r.text[:300]
                    assert b"secret_sha256" not in r.content, r.text[:300]
    for payload in PATHS:  # traversal out of the static files
        r = world.client.get(f"/{payload}")
        assert r.status_code in (200, 404, 400, 405) and b"root:x:0:0" not in r.content
    after = _counts(world)
    assert after[1:] == before[1:], "injection changed stored tables"
    assert after[0] >= before[0]
    world.counts["injection parameters"] = n_params
    print(f"\ninjection: {n_params} parameters x {len(PAYLOADS)} payloads, "
          f"{world.counts['requests']} requests so far, "
          f"{world.counts['positions checked']} positions checked")


def test_injection_in_json_bodies(world: World) -> None:
    """The string fields of the JSON bodies (sign-in, organisations, users, keys,
    agreements) with injection strings: 4xx, or stored literally without effect."""
    before = _counts(world)
    bodies = {
        "/api/login": ({"username": "u", "password": "p"}, ("username", "password", "key")),
        "/api/access/users": ({"organisation": NAVY, "username": "u", "role": "viewer",
                               "password": "password123"}, ("organisation", "username")),
        "/api/access/keys": ({"organisation": NAVY, "role": "viewer"},
                             ("organisation", "user", "label")),
        "/api/agreements": ({"grantor": NAVY, "grantee": "outsider", "classes": ["positions"]},
                            ("grantee", "valid_from", "valid_to", "note")),
        "/api/zones": ({"type": "Feature", "properties": {"name": "z"}, "geometry": {
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}, ()),
    }
    made = 0
    for path, (base, fields) in bodies.items():
        for field in fields:
            for payload in SQL:
                body = {**base, field: payload}
                r = world.client.post(path, json=body, headers=world.h("navy_admin"))
                world.counts["requests"] += 1
                _error_shape(r)
                made += r.status_code == 201
    r = world.client.post("/api/zones", headers=world.h("admin"), json={
        "type": "Feature", "properties": {"name": SQL[1]},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}})
    _error_shape(r)
    after = _counts(world)
    assert after[0] == before[0] and after[1] == before[1] and after[2] == before[2]
    # only rows created on purpose (literal labels, notes, a zone): no table was dropped
    assert all(a >= b for a, b in zip(after, before, strict=True))
    assert world.client.get("/api/vessels", headers=world.h("cg")).status_code == 200
    print(f"\njson bodies: {made} literal rows created")


# --------------------------------------------------------------------------- limits


def test_oversized_bodies_are_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A body over the limit gets 413 on the upload routes and on every JSON route, before
    the credentials are even looked at."""
    monkeypatch.setattr(app_module, "MAX_BODY_BYTES", 256 * 1024)
    monkeypatch.setattr(app_module, "MAX_JSON_BYTES", 64 * 1024)
    big = b"x" * (256 * 1024 + 1)
    for path in ("/api/ingest", "/api/watchlists"):
        for headers in (world.h("admin"), {}):
            r = world.client.post(path, content=big, headers=headers)
            assert r.status_code == 413, (path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "too_large"
    blob = json.dumps({"username": "u", "password": "p" * (64 * 1024)}).encode()
    for method, path in (("POST", "/api/login"), ("POST", "/api/agreements"),
                         ("POST", "/api/zones"), ("POST", "/api/access/users"),
                         ("PATCH", "/api/agreements/x")):
        r = world.client.request(method, path, content=blob, headers={
            **world.h("admin"), "Content-Type": "application/json"})
        assert r.status_code == 413, (path, r.status_code, r.text[:200])
    # a chunked body (no Content-Length) is counted as it arrives
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * (16 * 1024)

    for path in ("/api/zones", "/api/login"):
        r = world.client.post(path, content=chunks(), headers={
            **world.h("admin"), "Content-Type": "application/json"})
        assert r.status_code == 413, (path, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "too_large"
    # under the limit, an upload is read as usual
    r = world.client.post("/api/ingest", content=b"not nmea\n", headers=world.h("admin"))
    assert r.status_code == 200, r.text


def test_login_is_rate_limited(world: World) -> None:
    """Failed sign-ins of a username are limited: 429 with Retry-After, then even the right
    password is refused for the window."""
    statuses = []
    for _ in range(8):
        r = world.client.post("/api/login", json={"username": "cg_officer",
                                                  "password": "wrong password"})
        statuses.append(r.status_code)
    assert statuses[0] in (401, 429) and 429 in statuses, statuses
    assert set(statuses) <= {401, 429}
    r = world.client.post("/api/login", json={"username": "cg_officer",
                                              "password": "correct horse battery"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert "seasight_session" not in r.cookies


def test_ingest_is_rate_limited_per_key(world: World) -> None:
    """A key flooding ``POST /api/ingest`` gets 429 with Retry-After; another key is not
    affected."""
    statuses = []
    for _ in range(int(INGEST_BURST) + 15):
        r = world.client.post("/api/ingest", content=b"", headers=world.h("ingest_flood"))
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
            break
    assert statuses[-1] == 429 and set(statuses) <= {200, 429}, statuses
    r = world.client.post("/api/ingest", content=b"", headers=world.h("cg_analyst"))
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- audit


def test_audit_log_cannot_be_altered_through_the_api(world: World) -> None:
    """The audit routes have no write method: POST, PUT, PATCH and DELETE give 405 (or 404
    for paths that do not exist), for the local admin too; the chain still verifies and no
    row went missing."""
    spec_paths = world.client.get("/openapi.json").json()["paths"]
    for path, ops in spec_paths.items():
        if path.startswith("/api/audit"):
            assert set(ops) == {"get"}, (path, set(ops))
    admin = world.h("admin")
    n0 = len(world.client.get("/api/audit", params={"limit": 50000}, headers=admin)
             .json()["items"])
    for path in ("/api/audit", "/api/audit/export", "/api/audit/verify", "/api/audit/1",
                 "/api/audit/seq/1", "/api/audit_log"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = world.client.request(method, path, headers=admin,
                                     json={"seq": 1, "action": "nothing happened"})
            assert r.status_code in (404, 405), (method, path, r.status_code)
    r = world.client.get("/api/audit/verify", headers=admin)
    assert r.json()["ok"] is True and r.json()["first_bad_seq"] is None
    items = world.client.get("/api/audit", params={"limit": 50000}, headers=admin).json()[
        "items"]
    assert len(items) >= n0
    assert not any("nothing happened" in json.dumps(a) for a in items)


# --------------------------------------------------------------------------- schemathesis


def test_schemathesis_with_two_organisations(world: World) -> None:
    """Every operation of the schema, a few generated cases each, with the keys of two
    organisations (coastguard viewer: granted part of the navy's data; navy analyst: granted
    nothing): no 5xx, errors in the stable shape, and no answer holds an MMSI or a position
    the caller's organisation may not see."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    cases = defaultdict(int)

    def check(who: str) -> Any:
        def run(case: Any) -> None:
            response = case.call(headers=world.h(who))
            cases[who] += 1
            assert response.status_code < 500, (case.method, case.path, response.text[:500])
            if response.status_code >= 400 and response.status_code != 405:
                err = response.json()["error"]
                assert set(err) == {"status", "code", "message", "detail"}
            if response.status_code == 200:
                asked = f"{response.request.url} {response.request.body!r}"
                media = response.headers.get("content-type", "")
                check_answer(world, who, response.content,
                             media[0] if isinstance(media, list) else media, asked)
        return run

    for who in ("cg", "navy"):
        for operation in operations:
            run = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck))(
                given(case=operation.as_strategy())(check(who)))
            run()
    print(f"\nschemathesis: {len(operations)} operations, cases {dict(cases)}, "
          f"{world.counts['positions checked']} positions checked in all")
