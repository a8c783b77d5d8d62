"""Sea-lane routing: shortest paths along MARNET, never across land."""

from __future__ import annotations

import itertools
from importlib import resources

import numpy as np
import pytest

from seasight.geo.distance import haversine_km
from seasight.geo.lanes import (
    LaneParams,
    SeaLanes,
    default_lanes,
    densify,
    land_fraction,
    route_land_points,
    route_length_km,
)
from seasight.geo.ports import PORT_RADIUS_KM, nearest_port
from seasight.sim.scenario import INDO_PACIFIC
from seasight.sim.simulation import geography


def _line(*coords: tuple[float, float]) -> dict[str, object]:
    return {"type": "Feature", "properties": {},
            "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in coords]}}


def test_shortest_path_on_a_small_network() -> None:
    # a diamond around Pulau Tioman: the straight way crosses the island, the northern way
    # round it is shorter than the southern one
    net = {"type": "FeatureCollection", "features": [
        _line((2.80, 103.95), (3.05, 104.175), (2.80, 104.40)),
        _line((2.80, 103.95), (2.45, 104.175), (2.80, 104.40)),
        _line((10.0, -140.0), (10.0, -139.0)),  # unconnected, in the Pacific
    ]}
    lanes = SeaLanes(net)
    assert len(lanes.nodes) == 6
    r = lanes.route(2.80, 103.94, 2.80, 104.41)
    assert tuple(r[0]) == (2.80, 103.94) and tuple(r[-1]) == (2.80, 104.41)
    assert r[:, 0].max() > 3.0  # went north
    assert len(route_land_points(r, 0.25)) == 0
    with pytest.raises(ValueError, match="no path"):
        lanes.route(2.80, 103.94, 10.0, -138.9)
    # points in open water: the direct leg
    assert len(lanes.route(10.0, -140.2, 10.1, -140.1)) == 3


def test_densify_keeps_great_circle_length() -> None:
    route = np.array([[1.2, 103.8], [22.3, 114.2], [35.0, 140.0]])
    dense = densify(route, 10.0)
    steps = haversine_km(dense[:-1, 0], dense[:-1, 1], dense[1:, 0], dense[1:, 1])
    assert steps.max() <= 10.0 + 1e-6
    assert route_length_km(dense) == pytest.approx(route_length_km(route), rel=1e-6)


def test_singapore_to_hong_kong() -> None:
    r = default_lanes().route(1.2077, 103.8437, 22.3173, 114.1458)
    assert 2400 < route_length_km(r) < 3100
    assert len(route_land_points(r, 0.5, LaneParams().end_tolerance_km)) == 0


def test_repair_takes_a_line_around_an_island() -> None:
    lanes = default_lanes()
    line = np.array([[2.80, 103.95], [2.80, 104.40]])  # straight across Pulau Tioman
    assert len(route_land_points(line, 0.5)) > 5
    fixed = lanes.repair(line)
    assert len(route_land_points(fixed, 0.25)) == 0
    assert tuple(fixed[0]) == tuple(line[0]) and tuple(fixed[-1]) == tuple(line[1])
    assert land_fraction(fixed) == 0.0


def test_routes_depend_only_on_their_end_points() -> None:
    dalian_kobe = (38.9279, 121.6905, 34.6352, 135.1915)  # the Kanmon strait is closed on the
    busan_kaohsiung = (35.0667, 129.0440, 22.6263, 120.2403)  # land grid: rerouted
    lanes = default_lanes()
    first = lanes.route(*dalian_kobe)
    lanes.route(*busan_kaohsiung)
    assert np.array_equal(lanes.route(*dalian_kobe), first)
    path = resources.files("seasight") / "data" / "geo" / "sea_lanes_marnet.geojson"
    fresh = SeaLanes.from_file(str(path))
    assert np.array_equal(fresh.route(*dalian_kobe), first)
    assert len(route_land_points(first, 0.5, LaneParams().end_tolerance_km)) == 0


def test_scenario_ports_have_berths_and_routes_avoid_land() -> None:
    geo = geography(INDO_PACIFIC)
    assert geo.skipped == []
    assert len(geo.ports) == len(INDO_PACIFIC.ports)
    lat = np.array([p.berth_lat for p in geo.ports])
    lon = np.array([p.berth_lon for p in geo.ports])
    _, d = nearest_port(lat, lon)
    assert (d < PORT_RADIUS_KM - 0.5).all()
    tolerance = geo.params.berth_land_km
    bad = []
    for i, j in itertools.combinations(range(len(geo.ports)), 2):
        r = geo.route(i, j)
        assert np.allclose(r[0], (lat[i], lon[i])) and np.allclose(r[-1], (lat[j], lon[j]))
        land = route_land_points(r, 0.5, tolerance)
        if len(land):
            bad.append((geo.ports[i].locode, geo.ports[j].locode, land[:2].tolist()))
    assert bad == []
