"""The HTTP API, in process (FastAPI TestClient) on a store built from a small simulation:
every endpoint answers with the documented shape, bad parameters get a 4xx in the stable JSON
error shape naming the parameter, writes go through, and the stream pushes new data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import issue_admin_key
from seasight.analysis.detection import detect_store
from seasight.api import create_app
from seasight.api.query import Caller, visible
from seasight.geo.zones import load_zones
from seasight.ingest.pipeline import ingest_paths
from seasight.risk.alerts import default_rules, fire_alerts
from seasight.risk.score import risk_store
from seasight.risk.watchlists import add_watchlist, default_watchlists
from seasight.sim import simulate, write_simulation
from seasight.store import Store


def build_store(folder: Path, *, vessels: int = 80, hours: float = 30, seed: int = 11) -> Path:
    """A database with positions, events, watchlist matches, risk scores and alerts."""
    write_simulation(simulate("indo-pacific", hours=hours, vessels=vessels, seed=seed), folder)
    db = folder / "api.duckdb"
    with Store(db) as store:
        ingest_paths([folder / "feed.nmea"], store=store)
        detect_store(store, load_zones([folder / "zones.geojson"]))
        add_watchlist(store, default_watchlists()[0])
        risk_store(store)
        fire_alerts(store, default_rules())
    return db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def key(db: Path) -> str:
    return issue_admin_key(db)


@pytest.fixture(scope="module")
def client(db: Path, key: str) -> Iterator[TestClient]:
    with TestClient(create_app(db, stream_poll_s=0.1),
                    headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def _error(resp: Any, status: int, word: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"status", "code", "message", "detail"}
    assert err["status"] == status
    assert word in err["message"], err["message"]
    return err  # type: ignore[no-any-return]


def test_health(client: TestClient, db: Path) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["db"] == str(db) and body["version"]


def test_vessels_latest_positions(client: TestClient) -> None:
    fc = client.get("/api/vessels").json()
    assert fc["type"] == "FeatureCollection"
    feats = fc["features"]
    assert 40 <= len(feats) <= 200
    props = feats[0]["properties"]
    assert set(props) == {"mmsi", "name", "imo", "ship_type", "flag", "sog", "cog", "heading",
                          "ts", "risk", "listed"}
    assert len({f["properties"]["mmsi"] for f in feats}) == len(feats)
    assert any(f["properties"]["listed"] for f in feats)
    assert any(f["properties"]["name"] for f in feats)
    # bbox: only vessels whose latest position is inside
    lon, lat = feats[0]["geometry"]["coordinates"]
    box = f"{lon - 0.5},{lat - 0.5},{lon + 0.5},{lat + 0.5}"
    inside = client.get("/api/vessels", params={"bbox": box}).json()["features"]
    assert props["mmsi"] in {f["properties"]["mmsi"] for f in inside}
    for f in inside:
        x, y = f["geometry"]["coordinates"]
        assert lon - 0.5 <= x <= lon + 0.5 and lat - 0.5 <= y <= lat + 0.5
    # as of a past time: every position at or before it
    times = sorted(f["properties"]["ts"] for f in feats)
    at = times[len(times) // 2]
    past = client.get("/api/vessels", params={"at": at}).json()["features"]
    assert past and all(f["properties"]["ts"] <= at for f in past)
    # filters
    risky = client.get("/api/vessels", params={"min_risk": 1}).json()["features"]
    assert all(f["properties"]["risk"] >= 1 for f in risky)
    listed = client.get("/api/vessels", params={"list": "ofac_sdn"}).json()["features"]
    assert listed and len(listed) < len(feats)
    flag = props["flag"] or "KP"
    by_flag = client.get("/api/vessels", params={"flag": flag}).json()["features"]
    assert all(f["properties"]["flag"] == flag for f in by_flag)
    assert len(client.get("/api/vessels", params={"limit": 3}).json()["features"]) == 3


@pytest.mark.parametrize(("params", "word"), [
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "0,50,10,40"}, "bbox"),
    ({"at": "yesterday"}, "at"),
    ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"min_risk": "200"}, "min_risk"),
    ({"ship_type": "cargo"}, "ship_type"),
])
def test_vessels_bad_parameters(client: TestClient, params: dict[str, str], word: str) -> None:
    err = _error(client.get("/api/vessels", params=params), 400, word)
    assert err["code"] == "invalid_parameter"


def test_dossier_and_track(client: TestClient) -> None:
    listed = client.get("/api/vessels", params={"list": "ofac_sdn"}).json()["features"]
    mmsi = listed[0]["properties"]["mmsi"]
    d = client.get(f"/api/vessels/{mmsi}").json()
    assert d["mmsi"] == mmsi and d["designated"] is True
    assert d["identity_history"] and "events" in d and "risk" in d
    tr = client.get(f"/api/vessels/{mmsi}/track").json()
    assert tr["geometry"]["type"] == "LineString"
    n = len(tr["geometry"]["coordinates"])
    assert n > 10 and len(tr["properties"]["times"]) == n
    assert tr["properties"]["times"] == sorted(tr["properties"]["times"])
    mid = tr["properties"]["times"][n // 2]
    part = client.get(f"/api/vessels/{mmsi}/track", params={"since": mid}).json()
    assert 0 < len(part["geometry"]["coordinates"]) < n
    assert all(t >= mid for t in part["properties"]["times"])
    _error(client.get("/api/vessels/999999999"), 404, "mmsi")
    _error(client.get("/api/vessels/999999999/track"), 404, "mmsi")
    _error(client.get("/api/vessels/abc"), 400, "mmsi")
    _error(client.get("/api/vessels/0"), 400, "mmsi")
    _error(client.get(f"/api/vessels/{mmsi}/track", params={"since": "x"}), 400, "since")
    _error(client.get(f"/api/vessels/{mmsi}/track",
                      params={"since": "2030-01-01", "until": "2020-01-01"}), 400, "until")


def test_events_filters_and_pagination(client: TestClient) -> None:
    page = client.get("/api/events", params={"limit": 5}).json()
    assert page["total"] > 5 and len(page["items"]) == 5
    first = page["items"][0]
    assert {"event_id", "kind", "start", "end", "mmsi", "evidence"} <= set(first)
    nxt = client.get("/api/events", params={"limit": 5, "offset": 5}).json()
    assert not {e["event_id"] for e in page["items"]} & {e["event_id"] for e in nxt["items"]}
    everything = client.get("/api/events", params={"limit": 10_000}).json()
    assert len(everything["items"]) == everything["total"] == page["total"]
    kind = first["kind"]
    same = client.get("/api/events", params={"kind": kind, "limit": 10_000}).json()
    assert same["total"] == sum(e["kind"] == kind for e in everything["items"])
    vessel = first["mmsi"][0]
    own = client.get("/api/events", params={"mmsi": vessel, "limit": 10_000}).json()["items"]
    assert own and all(vessel in e["mmsi"] for e in own)
    since = sorted(e["end"] for e in everything["items"])[len(everything["items"]) // 2]
    late = client.get("/api/events", params={"since": since, "limit": 10_000}).json()["items"]
    assert late and all(e["end"] >= since for e in late)
    geo = client.get("/api/events.geojson", params={"kind": kind, "limit": 10_000}).json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == same["total"]
    assert geo["features"][0]["properties"]["kind"] == kind
    _error(client.get("/api/events", params={"offset": -1}), 400, "offset")
    _error(client.get("/api/events", params={"bbox": "1,2"}), 400, "bbox")
    _error(client.get("/api/events", params={"until": "nope"}), 400, "until")
    _error(client.get("/api/events.geojson", params={"limit": 0}), 400, "limit")


def test_alerts_lifecycle(client: TestClient) -> None:
    alerts = client.get("/api/alerts").json()
    assert alerts["total"] > 0
    new = client.get("/api/alerts", params={"state": "new"}).json()["items"]
    aid = new[0]["alert_id"]
    got = client.post(f"/api/alerts/{aid}/ack", json={"note": "seen", "by": "officer"})
    assert got.status_code == 200, got.text
    # the name given is kept with the signed-in caller (here the admin key of the fixture)
    assert got.json()["state"] == "acknowledged"
    assert got.json()["updated_by"].startswith("officer (as key:")
    acked = client.get("/api/alerts", params={"state": "acknowledged"}).json()["items"]
    assert aid in {a["alert_id"] for a in acked}
    _error(client.post(f"/api/alerts/{aid}/ack", json={"note": "again"}), 409, "acknowledged")
    closed = client.post(f"/api/alerts/{aid}/close", json={"note": "done", "by": "officer"})
    assert closed.json()["state"] == "closed"
    _error(client.post("/api/alerts/ffffffffffffffff/ack", json={"note": "x"}), 404, "alert")
    _error(client.post(f"/api/alerts/{aid}/close", json={}), 400, "note")
    _error(client.get("/api/alerts", params={"state": "open"}), 400, "state")


SQUARE = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"name": "test-box"},
    "geometry": {"type": "Polygon",
                 "coordinates": [[[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]]]}}]}


def test_zones_crud(client: TestClient) -> None:
    before = client.get("/api/zones").json()
    assert before["type"] == "FeatureCollection" and before["features"]  # the sim's zones
    made = client.post("/api/zones", json=SQUARE)
    assert made.status_code == 201, made.text
    assert [f["properties"]["name"] for f in made.json()["features"]] == ["test-box"]
    names = {f["properties"]["name"] for f in client.get("/api/zones").json()["features"]}
    assert "test-box" in names
    assert client.delete("/api/zones/test-box").json() == {"deleted": "test-box"}
    _error(client.delete("/api/zones/test-box"), 404, "test-box")
    _error(client.post("/api/zones", json={"type": "Point", "coordinates": [0, 0]}), 400,
           "Point")
    bad = {"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]}}
    err = _error(client.post("/api/zones", json=bad), 400, "out of range")
    assert err["code"] == "invalid_geojson"
    _error(client.post("/api/zones", content=b"not json",
                       headers={"content-type": "application/json"}), 400, "body")


def test_layers(client: TestClient) -> None:
    for name, kinds in (("land", {"Polygon", "MultiPolygon"}), ("ports", {"Point"}),
                        ("lanes", {"LineString", "MultiLineString"})):
        resp = client.get(f"/api/layers/{name}", headers={"accept-encoding": "gzip"})
        assert resp.status_code == 200
        assert resp.headers["content-encoding"] == "gzip"
        assert "max-age" in resp.headers["cache-control"]
        fc = resp.json()
        assert fc["features"] and fc["features"][0]["geometry"]["type"] in kinds
        again = client.get(f"/api/layers/{name}", headers={"if-none-match": resp.headers["etag"]})
        assert again.status_code == 304
    _error(client.get("/api/layers/rivers"), 400, "name")


def test_unknown_path_is_json_404(client: TestClient) -> None:
    _error(client.get("/api/nothing-here"), 404, "/api/nothing-here")


def test_ingest_and_stream(client: TestClient, tmp_path: Path) -> None:
    write_simulation(simulate("indo-pacific", hours=1, vessels=40, seed=99), tmp_path)
    lines = (tmp_path / "feed.nmea").read_bytes().splitlines(keepends=True)
    body = b"".join(lines[:300]) + b"garbage line\n"
    with client.websocket_connect("/api/stream") as ws:
        assert ws.receive_json()["type"] == "hello"
        resp = client.post("/api/ingest", params={"source": "test"}, content=body,
                           headers={"content-type": "text/plain"})
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert report["messages"] > 0 and report["rejects_by_reason"]
        assert report["rows_added"]["positions"] > 0
        msg = ws.receive_json()
        assert msg["type"] == "positions" and msg["features"]
        assert {"mmsi", "ts", "sog"} <= set(msg["features"][0]["properties"])
    again = client.post("/api/ingest", params={"source": "test"}, content=body)
    assert again.json()["rows_added"].get("positions", 0) == 0  # deduplicated


def test_stream_pushes_alert_changes(client: TestClient) -> None:
    aid = client.get("/api/alerts", params={"state": "new"}).json()["items"][0]["alert_id"]
    with client.websocket_connect("/api/stream") as ws:
        assert ws.receive_json()["type"] == "hello"
        client.post(f"/api/alerts/{aid}/ack", json={"note": "on it", "by": "w"})
        msg = ws.receive_json()
        assert msg["type"] == "alert" and msg["alert"]["alert_id"] == aid
        assert msg["alert"]["state"] == "acknowledged"


def test_watchlist_upload(client: TestClient) -> None:
    feats = client.get("/api/vessels").json()["features"]
    mmsi = next(f["properties"]["mmsi"] for f in feats if f["properties"]["name"])
    csv = f"name,mmsi\nTEST VESSEL,{mmsi}\n".encode()
    resp = client.post("/api/watchlists", params={"name": "mine"}, content=csv,
                       headers={"content-type": "text/csv"})
    assert resp.status_code == 200, resp.text
    change = resp.json()
    assert change["list_name"] == "mine" and change["entries"] == 1
    assert change["matches"] >= 1
    listed = client.get("/api/vessels", params={"list": "mine"}).json()["features"]
    assert [f["properties"]["mmsi"] for f in listed] == [mmsi]
    _error(client.post("/api/watchlists", content=b"{not json",
                       headers={"content-type": "application/json"}), 400, "body")


def test_concurrent_reads(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = ["/api/vessels", "/api/events", "/api/alerts", "/api/zones"] * 10
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda p: client.get(p).status_code, paths))
    assert codes == [200] * len(paths)


def test_visible_is_the_policy_hook() -> None:
    import polars as pl

    frame = pl.DataFrame({"mmsi": [1, 2]})
    assert visible(Caller.local(), "vessels", frame) is frame


def test_read_only(db: Path, key: str, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "ro.duckdb"
    shutil.copy(db, copy)
    with TestClient(create_app(copy, read_only=True),
                    headers={"Authorization": f"Bearer {key}"}) as ro:
        assert ro.get("/api/vessels").status_code == 200
        _error(ro.delete("/api/zones/anything"), 403, "read-only")
