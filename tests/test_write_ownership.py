"""Every write route, asked by random organisations and roles, changes only what the caller's
organisation owns, and what it writes is owned by that organisation.

The world: a simulated feed split between ``navy``, ``coastguard`` and ``local`` (see
``partner_world.py``), plus ``outsider`` (no data); lists, zones and alerts of several
organisations; agreements navy -> coastguard and local -> coastguard granting positions,
events, alerts and watchlists (so partners read things they must not change). Each
organisation has a viewer, an analyst and an admin key with every scope its role allows.

The write routes are found by enumerating the app's routes whose methods are not GET: each
must have a rule in :data:`RULES` (how to build a hostile request to it), so a future write
route without one fails :func:`test_every_write_route_has_a_rule`. The oracle, written here
and not taken from the code under test, snapshots who owns what before and after every request:

* data (positions by the owner of their source, lists with their entries and matches, zones)
  changes only in the caller's organisation: nothing of another organisation is replaced,
  changed or removed, and every row added is the caller's;
* alert states change only by an analyst of ``local`` (whose rules fire them) or of the one
  organisation whose data alone the alert is built from;
* source owners (and with them the owner of the rows of a source) and organisations change
  only by an admin of ``local``; agreements (owned by their grantor), users and keys only by
  an admin of ``local`` or of their own organisation (as documented: the local organisation
  administers the installation).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import polars as pl
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_world import retime, split_feed, stock_store
from seasight.access import create_user, issue_key, list_keys, list_organisations, list_users
from seasight.api import create_app
from seasight.risk.alerts import list_alerts
from seasight.risk.watchlists import add_watchlist, parse_watchlist
from seasight.sharing import create_agreement, list_agreements, list_sources, owners
from seasight.sharing.origins import attach_origin
from seasight.sharing.reads import with_event_columns
from seasight.sim import simulate, write_simulation
from seasight.store import Store

LOCAL, NAVY, CG, OUT = "local", "navy", "coastguard", "outsider"
ORGS = (LOCAL, NAVY, CG, OUT)
ROLES = ("viewer", "analyst", "admin")
SCOPES = {"viewer": ("read",), "analyst": ("read", "ingest"),
          "admin": ("read", "ingest", "admin")}
RANK = {r: i for i, r in enumerate(ROLES)}
CSV_ROW = "name,imo\n{name},9074729\n"


@dataclasses.dataclass
class World:
    client: TestClient
    keys: dict[tuple[str, str], str]  # (org, role) -> key
    victims: dict[str, list[str]]  # per organisation: key ids a request may revoke
    lines: list[bytes]  # single-fragment position reports to post, retimed
    counter: int = 0
    seen: Counter[str] = dataclasses.field(default_factory=Counter)

    def read(self, fn: Callable[[Store], Any]) -> Any:
        return self.client.app.state.access.read(fn)  # type: ignore[attr-defined]

    def fresh(self) -> int:
        self.counter += 1
        return self.counter


def _zone(name: str, x: float) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": name}, "geometry": {
        "type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("ownership")
    write_simulation(simulate("indo-pacific", hours=3, vessels=40, seed=11), folder)
    paths = split_feed(folder / "feed.nmea", folder)
    db = folder / "ownership.duckdb"
    keys: dict[tuple[str, str], str] = {}
    victims: dict[str, list[str]] = {}
    with Store(db) as store:
        stock_store(store, paths.values(), {str(paths[NAVY]): NAVY, str(paths[CG]): CG},
                    folder / "zones.geojson", (NAVY, CG, OUT))
        for org in ORGS:
            for role in ROLES:
                keys[(org, role)] = issue_key(store, org, role=role,
                                              scopes=SCOPES[role]).secret
            victims[org] = [issue_key(store, org, role="viewer").key_id for _ in range(3)]
            if org != LOCAL:
                create_user(store, org, f"{org}-user", "viewer", "correct horse battery")
        for grantor in (NAVY, LOCAL):
            create_agreement(store, grantor, CG, ["positions", "events", "alerts",
                                                  "watchlists", "identities"])
        for org in (NAVY, CG):  # same name as the local list, and one of their own
            add_watchlist(store, parse_watchlist(CSV_ROW.format(name=f"{org} SHIP").encode(),
                                                 fmt="csv", name="ofac_sdn"), organisation=org)
            add_watchlist(store, parse_watchlist(CSV_ROW.format(name="NORDIC TRADER").encode(),
                                                 fmt="csv", name=f"{org}-watch"),
                          organisation=org)
    lines = [ln for ln in (folder / "feed.nmea").read_bytes().splitlines(keepends=True)
             if b",1,1," in ln][:200]
    with TestClient(create_app(db)) as client:
        for i, org in enumerate(ORGS):  # zones of each organisation, one name shared
            body = {"type": "FeatureCollection",
                    "features": [_zone(f"{org}-zone", 10.0 * i)] + (
                        [_zone("shared", 50.0)] if org == NAVY else [])}
            r = client.post("/api/zones", json=body,
                            headers={"Authorization": f"Bearer {keys[(org, 'analyst')]}"})
            assert r.status_code == 201, r.text
        yield World(client, keys, victims, lines)


# --------------------------------------------------------------------------- what is owned


Snapshot = dict[str, dict[str, Any]]  # category -> owner -> what it owns


def _group(rows: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, set[Any]] = {}
    for owner, item in rows:
        out.setdefault(owner, set()).add(item)
    return {k: frozenset(v) for k, v in out.items()}


def _alert_owners(store: Store) -> dict[str, frozenset[str]]:
    """Each alert's organisations: the owners of the positions its event (or vessel rule) is
    built from."""
    alerts = list_alerts(store)
    events = store.query("SELECT event_id, mmsi AS e_mmsi, other_mmsi AS e_other, "
                         "start AS e_start, \"end\" AS e_end FROM events")
    frame = alerts.join(events, on="event_id", how="left").select(
        "alert_id", pl.coalesce("e_mmsi", "mmsi").cast(pl.UInt32).alias("mmsi"),
        pl.coalesce("e_other", "other_mmsi").cast(pl.UInt32).alias("other_mmsi"),
        pl.coalesce("e_start", "start").alias("start"), pl.coalesce("e_end", "end").alias("end"))
    judged = with_event_columns(store, owners(store), frame)
    return {a: frozenset(o or [LOCAL]) for a, o in judged.select("alert_id", "origins").rows()}


def snapshot(store: Store) -> Snapshot:
    """Who owns what: every category of owned things, by owner."""
    sources = store.query("SELECT source, count(*) AS n FROM positions GROUP BY source")
    by_origin = attach_origin(sources, owners(store)).group_by("origin").agg(pl.col("n").sum())
    lists = store.query("SELECT organisation, list_name, list_version, n_entries "
                        "FROM watchlists")
    entries = store.query("SELECT organisation, list_name, entry_id, name FROM "
                          "watchlist_entries")
    matches = store.query("SELECT organisation, list_name, mmsi, entry_id, matched_on, "
                          "valid_from FROM watchlist_matches")
    zones = store.query("SELECT name, feature FROM zones")
    state = store.query("SELECT alert_id, count(*) AS n, max(seq) AS last FROM alert_history "
                        "GROUP BY alert_id")
    alert_owner = _alert_owners(store)
    keys = list_keys(store).filter(pl.col("label") != "web session")
    return {
        "positions": {o: n for o, n in by_origin.rows()},
        "lists": _group([(r[0], r[1:]) for r in lists.rows()]),
        "entries": _group([(r[0], r[1:]) for r in entries.rows()]),
        "matches": _group([(r[0], r[1:]) for r in matches.rows()]),
        "zones": _group([((json.loads(f).get("properties") or {}).get("organisation", LOCAL),
                          (n, f)) for n, f in zones.rows()]),
        "alerts": {a: (n, last, alert_owner.get(a, frozenset({LOCAL})))
                   for a, n, last in state.rows()},
        "sources": {LOCAL: frozenset(list_sources(store).select("pattern", "organisation")
                                     .rows())},
        "organisations": {LOCAL: frozenset(list_organisations(store)["name"].to_list())},
        "agreements": _group([(a.grantor, json.dumps(a.to_json(), sort_keys=True))
                              for a in list_agreements(store)]),
        "users": _group([(r["organisation"], (r["username"], r["role"], r["disabled"]))
                         for r in list_users(store).iter_rows(named=True)]),
        "keys": _group([(r["organisation"], (r["key_id"], r["revoked_at"] is not None))
                        for r in keys.iter_rows(named=True)]),
        "logistics": {LOCAL: _logistics_rows(store)},
    }


def _logistics_rows(store: Store) -> frozenset[tuple[str, str, frozenset[str]]]:
    """Every logistics row (append only) with the organisations it belongs to: an agreement's
    two parties, an order's requester and provider, a step's acting organisation."""
    if not store.has_table("logistics_orders"):
        return frozenset()
    rows: set[tuple[str, str, frozenset[str]]] = set()
    for aid, ver, a, b in store.query("SELECT agreement_id, version, party_a, party_b "
                                      "FROM logistics_agreements").rows():
        rows.add(("agreement", f"{aid}/{ver}", frozenset({a, b})))
    for oid, req, prov in store.query("SELECT order_id, requester, provider "
                                      "FROM logistics_orders").rows():
        rows.add(("order", oid, frozenset({req, prov})))
    for oid, seq, actor_org in store.query("SELECT order_id, seq, actor_org "
                                           "FROM logistics_steps").rows():
        rows.add(("step", f"{oid}/{seq}", frozenset({actor_org})))
    return frozenset(rows)


DATA = ("positions", "lists", "entries", "matches", "zones")
ADMINISTERED = ("agreements", "users", "keys")  # by their organisation's admins and local's
INSTALLATION = ("sources", "organisations")  # by the local admins only


def check(before: Snapshot, after: Snapshot, org: str, role: str, what: str) -> None:
    """Nothing changed that ``org`` (acting as ``role``) does not own."""
    if before["sources"] != after["sources"]:
        # the local admins assign data sources (feeds) to organisations: rows change hands,
        # none is added or removed
        assert role == "admin" and org == LOCAL, f"{what} by {org}/{role} changed sources"
        assert sum(before["positions"].values()) == sum(after["positions"].values()), what
        before = {**before, "positions": after["positions"]}
    for cat in DATA:
        for owner in set(before[cat]) | set(after[cat]):
            if before[cat].get(owner) != after[cat].get(owner):
                assert owner == org, f"{what} by {org}/{role} changed {owner}'s {cat}"
    grown = {o: after["positions"].get(o, 0) - before["positions"].get(o, 0)
             for o in set(before["positions"]) | set(after["positions"])}
    assert all(n >= 0 for n in grown.values()), f"{what} by {org}/{role} lost positions"
    for alert, (n, last, owned_by) in after["alerts"].items():
        if before["alerts"].get(alert, (n, last, owned_by))[:2] != (n, last):
            assert RANK[role] >= RANK["analyst"] and (org == LOCAL or owned_by == {org}), (
                f"{what} by {org}/{role} changed alert {alert} of {sorted(owned_by)}")
    for cat in ADMINISTERED:
        for owner in set(before[cat]) | set(after[cat]):
            if before[cat].get(owner) != after[cat].get(owner):
                assert role == "admin" and org in (LOCAL, owner), (
                    f"{what} by {org}/{role} changed {owner}'s {cat}")
    for cat in INSTALLATION:
        if before[cat] != after[cat]:
            assert role == "admin" and org == LOCAL, f"{what} by {org}/{role} changed {cat}"
    # logistics rows are never changed or removed; every row added is the caller's
    old, new = before["logistics"][LOCAL], after["logistics"][LOCAL]
    assert old <= new, f"{what} by {org}/{role} changed logistics rows {sorted(old - new)}"
    for kind, key, parties in new - old:
        assert org in parties, f"{what} by {org}/{role} wrote {kind} {key} of {sorted(parties)}"


# --------------------------------------------------------------------------- the requests


Pick = Callable[[Sequence[Any]], Any]
Request = tuple[str, str, dict[str, Any]]  # method, url, keyword arguments


def _names(w: World, sql: str) -> list[Any]:
    return [r[0] for r in w.read(lambda s: s.query(sql).rows())] or ["none"]


def _ingest(w: World, pick: Pick, org: str) -> Request:
    n = w.fresh()
    lines = retime(w.lines[(n * 7) % 150:(n * 7) % 150 + 5], 1_700_000_000 + n)
    return "POST", "/api/ingest", {
        "params": {"source": pick(["navy-live", "feed", f"{pick(ORGS)}-feed", "a/b"])},
        "content": b"".join(lines)}


def _watchlist(w: World, pick: Pick, org: str) -> Request:
    name = pick([*_names(w, "SELECT DISTINCT list_name FROM watchlists"), "fresh"])
    ship = pick(["NORDIC TRADER", "CHONG CHON GANG", f"SHIP {w.fresh()}"])
    return "POST", "/api/watchlists", {"params": {"name": name},
                                       "content": CSV_ROW.format(name=ship).encode(),
                                       "headers": {"content-type": "text/csv"}}


def _add_zone(w: World, pick: Pick, org: str) -> Request:
    name = pick([*_names(w, "SELECT name FROM zones"), f"new-{w.fresh()}"])
    return "POST", "/api/zones", {"json": _zone(name, float(pick([0, 20, 40])))}


def _delete_zone(w: World, pick: Pick, org: str) -> Request:
    return "DELETE", f"/api/zones/{pick(_names(w, 'SELECT name FROM zones'))}", {}


def _alert(state: str) -> Callable[[World, Pick, str], Request]:
    def build(w: World, pick: Pick, org: str) -> Request:
        alert = pick(_names(w, "SELECT alert_id FROM alerts"))
        return "POST", f"/api/alerts/{alert}/{state}", {"json": {"note": "probe"}}
    return build


def _sources(w: World, pick: Pick, org: str) -> Request:
    pattern = pick([*_names(w, "SELECT pattern FROM data_sources"), "*", "api:*"])
    return "POST", "/api/sources", {"json": {"pattern": pattern, "organisation": pick(ORGS)}}


def _add_agreement(w: World, pick: Pick, org: str) -> Request:
    grantor = pick(ORGS)
    grantee = pick([o for o in ORGS if o != grantor])
    return "POST", "/api/agreements", {"json": {"grantor": grantor, "grantee": grantee,
                                                "classes": ["positions", "watchlists"]}}


def _agreement_id(w: World, pick: Pick) -> str:
    return str(pick(_names(w, "SELECT agreement_id FROM agreements ORDER BY agreement_id")))


def _patch_agreement(w: World, pick: Pick, org: str) -> Request:
    return "PATCH", f"/api/agreements/{_agreement_id(w, pick)}", {
        "json": {"note": f"changed {w.fresh()}"}}


def _end_agreement(w: World, pick: Pick, org: str) -> Request:
    return "DELETE", f"/api/agreements/{_agreement_id(w, pick)}", {}


def _add_org(w: World, pick: Pick, org: str) -> Request:
    return "POST", "/api/access/organisations", {"json": {"name": f"org-{w.fresh()}"}}


def _add_user(w: World, pick: Pick, org: str) -> Request:
    return "POST", "/api/access/users", {"json": {
        "organisation": pick(ORGS), "username": f"u{w.fresh()}", "role": pick(ROLES),
        "password": "correct horse battery"}}


def _add_key(w: World, pick: Pick, org: str) -> Request:
    return "POST", "/api/access/keys", {"json": {"organisation": pick(ORGS),
                                                 "role": pick(ROLES)}}


def _revoke_key(w: World, pick: Pick, org: str) -> Request:
    return "DELETE", f"/api/access/keys/{pick(w.victims[pick(ORGS)])}", {}


def _login(w: World, pick: Pick, org: str) -> Request:
    return "POST", "/api/login", {"json": {"key": w.keys[(org, pick(ROLES))]}}


def _logout(w: World, pick: Pick, org: str) -> Request:
    return "POST", "/api/logout", {}


def _logistics_agreement(w: World, pick: Pick, org: str) -> Request:
    a = pick(ORGS)
    b = pick([o for o in ORGS if o != a])
    return "POST", "/api/logistics/agreements", {
        "json": {"agreement_id": f"acsa-{w.fresh()}", "reference": f"ACSA-{w.fresh()}",
                 "party_a": a, "party_b": b, "signed_on": "2024-09-01",
                 "start": "2024-10-01", "end": "2027-09-30", "categories": ["fuel", "water"],
                 "methods": [{"method": "cash", "days": 30, "basis": "invoice"}],
                 "currencies": ["USD"], "fy_start_month": {a: 1, b: 1}, "ceilings": []},
        "headers": {"Idempotency-Key": f"agr-{w.fresh()}"}}


def _logistics_order(w: World, pick: Pick, org: str) -> Request:
    agreement = pick(_names(w, "SELECT DISTINCT agreement_id FROM logistics_agreements"))
    return "POST", "/api/logistics/orders", {
        "json": {"agreement_id": agreement, "submit": pick([True, False]),
                 "requesting_unit": "unit", "providing_unit": "unit",
                 "place": {"locode": "SGSIN"}, "purpose": "port_call", "start": "2025-03-10",
                 "end": "2025-03-12", "method": "cash",
                 "lines": [{"category": "fuel", "description": "F-76", "quantity": "10",
                            "unit": "m3", "unit_price": "985.00", "currency": "USD"}]},
        "headers": {"Idempotency-Key": f"ord-{w.fresh()}"}}


def _logistics_step(w: World, pick: Pick, org: str) -> Request:
    order = pick(_names(w, "SELECT order_id FROM logistics_orders"))
    kind = pick(["submit", "accept", "reject", "cancel", "close"])
    return "POST", f"/api/logistics/orders/{order}/{kind}", {
        "json": {"on": "2025-03-11"}, "headers": {"Idempotency-Key": f"step-{w.fresh()}"}}


#: (method, route path) -> how to build a hostile request to it.
RULES: dict[tuple[str, str], Callable[[World, Pick, str], Request]] = {
    ("POST", "/api/ingest"): _ingest,
    ("POST", "/api/watchlists"): _watchlist,
    ("POST", "/api/zones"): _add_zone,
    ("DELETE", "/api/zones/{name}"): _delete_zone,
    ("POST", "/api/alerts/{alert_id}/ack"): _alert("ack"),
    ("POST", "/api/alerts/{alert_id}/close"): _alert("close"),
    ("POST", "/api/sources"): _sources,
    ("POST", "/api/agreements"): _add_agreement,
    ("PATCH", "/api/agreements/{agreement_id}"): _patch_agreement,
    ("DELETE", "/api/agreements/{agreement_id}"): _end_agreement,
    ("POST", "/api/access/organisations"): _add_org,
    ("POST", "/api/access/users"): _add_user,
    ("POST", "/api/access/keys"): _add_key,
    ("DELETE", "/api/access/keys/{key_id}"): _revoke_key,
    ("POST", "/api/login"): _login,
    ("POST", "/api/logout"): _logout,
    ("POST", "/api/logistics/agreements"): _logistics_agreement,
    ("POST", "/api/logistics/orders"): _logistics_order,
    ("POST", "/api/logistics/orders/{ref}/{kind}"): _logistics_step,
}


def _api_routes(routes: Sequence[Any]) -> Iterator[APIRoute]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        inner = getattr(r, "original_router", None)  # an included router (FastAPI >= 0.120)
        if inner is not None:
            yield from _api_routes(inner.routes)


def write_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every (method, path) of the app that is not a read, included routers' too."""
    return {(m, r.path) for r in _api_routes(client.app.routes)  # type: ignore[attr-defined]
            for m in r.methods if m not in ("GET", "HEAD")}


def attempt(w: World, org: str, role: str, route: tuple[str, str], pick: Pick) -> None:
    """One hostile request to ``route`` as ``org``/``role``, checked by the oracle."""
    method, url, kwargs = RULES[route](w, pick, org)
    headers = {"Authorization": f"Bearer {w.keys[(org, role)]}", **kwargs.pop("headers", {})}
    before = w.read(snapshot)
    r = w.client.request(method, url, headers=headers, **kwargs)
    assert r.status_code < 500, (method, url, r.text[:300])
    w.client.cookies.clear()  # a session from /api/login would act for later requests
    after = w.read(snapshot)
    check(before, after, org, role, f"{method} {url} ({r.status_code})")
    w.seen[f"{r.status_code // 100}xx"] += 1
    if before != after:
        w.seen["changed something"] += 1


# --------------------------------------------------------------------------- the tests


def test_every_write_route_has_a_rule(world: World) -> None:
    """A write route without an ownership rule here fails this test."""
    assert write_routes(world.client) == set(RULES)


def test_every_route_by_every_caller(world: World) -> None:
    """Each write route asked once by each organisation and role (hostile parameters drawn
    from a fixed seed)."""
    rng = random.Random(15)
    for route in sorted(RULES):
        for org in ORGS:
            for role in ROLES:
                attempt(world, org, role, route, rng.choice)
    assert world.seen["2xx"] and world.seen["4xx"] and world.seen["changed something"]
    print(f"\nsweep: {dict(world.seen)}")


@settings(max_examples=120, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_write_touches_what_the_caller_does_not_own(world: World, data: st.DataObject
                                                       ) -> None:
    """Random callers (organisation, role) and random hostile requests to every write
    route, several in a row (so earlier writes shape later ones)."""
    def pick(options: Sequence[Any]) -> Any:
        # an index, not sampled_from(options): the options (stored names) change with the
        # store, the drawing must not
        return options[data.draw(st.integers(0, 1 << 16)) % len(options)]

    for _ in range(data.draw(st.integers(1, 4))):
        org, role = pick(ORGS), pick(ROLES)
        attempt(world, org, role, pick(sorted(RULES)), pick)


def test_the_reported_attacks(world: World) -> None:
    """The issue's examples, replayed: a partner's list named ofac_sdn, a local analyst
    reassigning sources, a partner posting under a name the navy owns."""
    w, h = world, (lambda org, role: {"Authorization": f"Bearer {world.keys[(org, role)]}"})
    local_before = w.read(lambda s: s.query(
        "SELECT count(*) FROM watchlist_entries WHERE organisation = 'local' "
        "AND list_name = 'ofac_sdn'").item())
    r = w.client.post("/api/watchlists", params={"name": "ofac_sdn"},
                      content=b"name\nNOBODY\n", headers=h(CG, "analyst"))
    assert r.status_code == 200, r.text
    assert w.read(lambda s: s.query(
        "SELECT count(*) FROM watchlist_entries WHERE organisation = 'local' "
        "AND list_name = 'ofac_sdn'").item()) == local_before
    assert r.json()["matches_removed"] == [] or all(
        m["organisation"] == CG for m in r.json()["matches_removed"])
    r = w.client.post("/api/sources", json={"pattern": "*", "organisation": CG},
                      headers=h(LOCAL, "analyst"))
    assert r.status_code == 403
    for org, role in ((LOCAL, "viewer"), (LOCAL, "analyst"), (CG, "analyst")):
        assert w.client.get("/api/sources", headers=h(org, role)).status_code == 403
        terms = w.client.get("/api/agreements", headers=h(org, role)).json()["items"]
        assert {a["grantee"] for a in terms} <= {org}  # what it receives, nothing else
    assert w.client.get("/api/agreements", headers=h(CG, "viewer")).json()["items"]
    assert len(w.client.get("/api/agreements", headers=h(LOCAL, "admin")).json()["items"]) >= 2
    n = w.fresh()
    r = w.client.post("/api/ingest", params={"source": "navy-live"},
                      content=b"".join(retime(w.lines[:5], 1_700_100_000 + n)),
                      headers=h(CG, "analyst"))
    assert r.status_code == 200 and r.json()["rows_added"].get("positions", 0) > 0, r.text
    assert r.json()["sources"] == ["api:coastguard/navy-live"]
    origins = w.read(lambda s: attach_origin(s.query(
        "SELECT DISTINCT source FROM positions WHERE source = 'api:coastguard/navy-live'"),
        owners(s))["origin"].to_list())
    assert origins == [CG]

