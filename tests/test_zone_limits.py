"""Zones cannot be used to deny service: size limits per request and per organisation, and the
repair of self-intersecting polygons runs in a killed-on-timeout child process, off the request
thread and outside the write lock (security issue 15)."""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from seasight.access import create_organisation, ensure_tables, issue_key
from seasight.api import app as app_module
from seasight.api import create_app
from seasight.bench.zones import tangled_polygon
from seasight.geo import zones as zones_module
from seasight.geo.zones import (
    MAX_ZONE_VERTICES,
    MAX_ZONES_PER_REQUEST,
    ZoneLimitError,
    ZoneLimits,
    check_organisation_quota,
    count_vertices,
    load_zones,
    zones_from_geojson,
)
from seasight.store import Store

BOW = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}


def _feature(geometry: dict[str, Any], name: str) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _circle(n: int, lon: float = 10.0, lat: float = 50.0, r: float = 0.5) -> dict[str, Any]:
    """A valid polygon of ``n`` + 1 vertices."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    ring = np.c_[lon + r * np.cos(t), lat + r * np.sin(t)].tolist()
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# --------------------------------------------------------------------------- pure limits


def test_count_vertices_counts_every_ring_of_every_part() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [BOW["coordinates"], _circle(9)["coordinates"]]}
    assert count_vertices(BOW) == 5
    assert count_vertices(multi) == 15
    assert count_vertices({"type": "Point", "coordinates": [0, 0]}) == 0
    assert count_vertices("junk") == 0


def test_a_zone_with_too_many_vertices_is_refused_before_parsing() -> None:
    huge = _feature(_circle(MAX_ZONE_VERTICES + 10), "huge")
    started = time.perf_counter()
    with pytest.raises(ZoneLimitError, match="vertices"):
        zones_from_geojson(huge)
    assert time.perf_counter() - started < 5  # no shapely work was done
    # a file given by the operator has no size limit
    (zone,) = zones_from_geojson(huge, limits=ZoneLimits(None, None, None))
    assert zone.geometry.is_valid


def test_too_many_zones_or_vertices_in_one_request_are_refused() -> None:
    many = _collection([_feature(_circle(4, lon=i * 0.01), f"z{i}")
                        for i in range(MAX_ZONES_PER_REQUEST + 1)])
    with pytest.raises(ZoneLimitError, match="zones"):
        zones_from_geojson(many)
    two = _collection([_feature(_circle(60), "a"), _feature(_circle(60, lat=40), "b")])
    with pytest.raises(ZoneLimitError, match="122 vertices"):
        zones_from_geojson(two, limits=ZoneLimits(vertices=100))


def test_organisation_quota_counts_replacements_once() -> None:
    new = zones_from_geojson(_collection([_feature(_circle(9), "a"), _feature(BOW, "b")]))
    stored = [("a", 50), ("c", 40)]
    check_organisation_quota(stored, new, "navy", max_zones=3, max_vertices=60)
    with pytest.raises(ZoneLimitError, match="3 zones"):
        check_organisation_quota(stored, new, "navy", max_zones=2)
    with pytest.raises(ZoneLimitError, match="vertices"):
        check_organisation_quota(stored, new, "navy", max_vertices=50)


# --------------------------------------------------------------------------- repair


def test_repair_runs_in_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """make_valid in this process would hold this thread (and shutdown) for as long as GEOS
    takes; here it fails, and the bow tie is still repaired: by the child."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("make_valid ran in the request's process")
    monkeypatch.setattr(shapely, "make_valid", refuse)
    (zone,) = zones_from_geojson(_feature(BOW, "bow"))
    assert zone.geometry.is_valid and zone.geometry.area == pytest.approx(2.0)


def test_a_slow_repair_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    tangled = _feature(tangled_polygon(20_000), "tangled")
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"longer than 0\.2 s"):
        zones_from_geojson(tangled, limits=ZoneLimits(repair_timeout_s=0.2))
    assert time.perf_counter() - started < 15  # the old in-thread repair took about a minute
    path = tmp_path / "tangled.geojson"
    path.write_text(json.dumps(tangled), encoding="utf-8")
    with pytest.raises(ValueError, match="tangled: feature 1: repairing"):
        load_zones(path, limits=ZoneLimits(None, None, None, repair_timeout_s=0.2))


def test_a_tangled_polygon_is_repaired_within_the_limit() -> None:
    (zone,) = zones_from_geojson(_feature(tangled_polygon(2_000), "t"))
    assert zone.geometry.is_valid and zone.geometry.area > 1


# --------------------------------------------------------------------------- the route


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    db = tmp_path / "zones.duckdb"
    with Store(db) as store:
        ensure_tables(store)
        create_organisation(store, "navy")
        secret = issue_key(store, "navy", role="analyst", scopes=("read", "ingest")).secret
    app = create_app(db)
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client, app.state.access


def test_route_refuses_oversized_requests_with_413(service: tuple[TestClient, Any]) -> None:
    client, _ = service
    big = client.post("/api/zones", json=_feature(_circle(MAX_ZONE_VERTICES + 1), "big"))
    assert big.status_code == 413, big.text
    assert big.json()["error"]["code"] == "too_large"
    many = _collection([_feature(_circle(4, lon=i * 0.01), f"z{i}")
                        for i in range(MAX_ZONES_PER_REQUEST + 1)])
    assert client.post("/api/zones", json=many).status_code == 413
    assert client.get("/api/zones").json()["features"] == []


def test_route_enforces_the_organisation_quota(service: tuple[TestClient, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = service
    monkeypatch.setattr(app_module, "check_organisation_quota", functools.partial(
        check_organisation_quota, max_zones=2, max_vertices=30))
    assert client.post("/api/zones", json=_feature(_circle(9), "a")).status_code == 201
    assert client.post("/api/zones", json=_feature(_circle(9, lat=40), "b")).status_code == 201
    assert client.post("/api/zones", json=_feature(_circle(5), "a")).status_code == 201  # swap
    over = client.post("/api/zones", json=_feature(_circle(9, lat=30), "c"))
    assert over.status_code == 413 and "2 zones" not in over.text and "3 zones" in over.text
    fat = client.post("/api/zones", json=_feature(_circle(30, lat=30), "b"))
    assert fat.status_code == 413 and "vertices" in fat.text
    names = sorted(f["properties"]["name"] for f in client.get("/api/zones").json()["features"])
    assert names == ["a", "b"]


def test_route_repairs_without_the_write_lock(service: tuple[TestClient, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    client, access = service
    seen: list[bool] = []
    real = zones_module.repair_polygons

    def watching(shapes: Any, timeout_s: float) -> Any:
        seen.append(access.write_lock.locked())
        return real(shapes, timeout_s)
    monkeypatch.setattr(zones_module, "repair_polygons", watching)
    made = client.post("/api/zones", json=_feature(BOW, "bow"))
    assert made.status_code == 201, made.text
    assert seen and not any(seen)
    slow = client.post("/api/zones", json=_feature(tangled_polygon(20_000), "slow"))
    # under the default limit it may finish or be refused: either way it answers, no hang
    assert slow.status_code in (201, 400), slow.text
