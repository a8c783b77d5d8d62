"""The port layer: UN/LOCODE points, GFW's named anchorages and the World Port Index as named
port areas; port visits through outer anchorages; inland water that the land grid calls land."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from events_tracks import at, join, leg, still
from seasight.events import encounter, loitering, port_visit
from seasight.events.model import DetectionInputs
from seasight.geo.anchorages import load_anchorages, load_wpi_ports
from seasight.geo.distance import destination, haversine_km
from seasight.geo.land import distance_to_shore_km, on_land
from seasight.geo.port_areas import (
    ANCHORAGE_RADIUS_KM,
    PortAreas,
    normalise_port_name,
    port_areas,
    port_stays,
)
from seasight.geo.ports import PORT_RADIUS_KM


def _outer_anchorage(label: str, sublabel: str) -> tuple[float, float]:
    """An anchorage cell of ``label`` with ``sublabel``, farther than 8 km from every
    UN/LOCODE and WPI port point (a real outer anchorage, out of the old 5 km circles)."""
    areas = port_areas()
    cells = load_anchorages().filter((pl.col("label") == label)
                                     & (pl.col("sublabel") == sublabel))
    assert cells.height > 0
    lat = cells["lat"].to_numpy()
    lon = cells["lon"].to_numpy()
    d = np.min(haversine_km(lat[:, None], lon[:, None], areas.point_lat[None, :],
                            areas.point_lon[None, :]), axis=1)
    far = np.flatnonzero(d > 8.0)
    assert far.size, f"no cell of {label}/{sublabel} is far from the port points"
    i = int(far[0])
    return float(lat[i]), float(lon[i])


def test_shipped_layers_are_read_whole() -> None:
    assert load_anchorages().height == 60409  # one of 60,410 cells has longitude 1001
    assert load_anchorages()["label"].n_unique() > 5000
    assert load_wpi_ports().height == 3669
    ports = port_areas().ports
    # every UN/LOCODE row is a port; GFW labels and WPI ports join them or add ports
    singapore = ports.filter(pl.col("locode") == "SGSIN")
    assert singapore["n_anchorages"].sum() > 1000
    assert "gfw" in singapore["sources"][0]
    assert ports.filter(pl.col("sources") == "gfw").height > 1000
    # ports known only to GFW or the WPI get an ISO alpha-2 country through alpha-3
    assert ports.filter(pl.col("sources") != "unlocode")["country"].null_count() < 100


def test_names_are_compared_without_generic_words() -> None:
    assert normalise_port_name("PORT OF SPAIN") == "SPAIN"
    assert normalise_port_name("Port") == "PORT"
    assert normalise_port_name(None) == ""


def test_lookup_matches_a_brute_force_search() -> None:
    """Near port points and anchorages, at any latitude: the port whose area the position is
    deepest inside, exactly as a search over every point says."""
    areas = port_areas()
    rng = np.random.default_rng(5)
    n = 1500
    pick_p = rng.integers(0, areas.point_lat.size, n)
    pick_a = rng.integers(0, areas.anchorage_lat.size, n)
    lat = np.concatenate([areas.point_lat[pick_p], areas.anchorage_lat[pick_a]])
    lon = np.concatenate([areas.point_lon[pick_p], areas.anchorage_lon[pick_a]])
    lat, lon = destination(lat, lon, rng.uniform(0, 360, lat.size),
                           rng.uniform(0, 7.0, lat.size))
    port, excess = areas.lookup(lat, lon, margin_km=1.0)
    for i in range(0, lat.size, 7):
        dp = haversine_km(lat[i], lon[i], areas.point_lat, areas.point_lon) - PORT_RADIUS_KM
        da = (haversine_km(lat[i], lon[i], areas.anchorage_lat, areas.anchorage_lon)
              - ANCHORAGE_RADIUS_KM)
        best = min(float(dp.min()), float(da.min()))
        if best > 1.0 + 1e-6:
            assert port[i] == -1 and np.isinf(excess[i])
            continue
        assert excess[i] == pytest.approx(best, abs=1e-6)
        # the port of a point at that least excess (the layer repeats some anchorage cells)
        owners = set(areas.point_port[np.abs(dp - best) < 1e-6].tolist()) | set(
            areas.anchorage_port[np.abs(da - best) < 1e-6].tolist())
        assert int(port[i]) in owners
    # the open sea is in no port
    far_port, far_excess = areas.lookup([0.0, -40.0], [-140.0, -20.0])
    assert (far_port == -1).all() and np.isinf(far_excess).all()


def test_stays_keep_a_vessel_at_the_edge_and_move_it_to_the_next_port() -> None:
    new = np.array([True, False, False, False, False, True])
    port = np.array([3, 3, 3, 4, -1, 3])
    excess = np.array([-1.0, 0.5, 0.9, -0.1, np.inf, 0.5])
    # in 3; at the edge (within the 1 km margin) still in 3; into 4; gone; a new track at
    # the edge of 3 has not entered it
    assert port_stays(new, port, excess, 1.0).tolist() == [3, 3, 3, 4, -1, -1]


def test_waiting_at_an_outer_anchorage_is_a_port_visit_not_loitering() -> None:
    """A tanker waits 10 h at Fujairah's offshore anchorage, far out of any 5 km port circle:
    a port visit to Fujairah, and no loitering at sea."""
    lat, lon = _outer_anchorage("FUJAIRAH", "FUJAIRAH OFFSHORE")
    arrive = leg(563100001, 0, 2, lat - 0.25, lon + 0.05, course=350, speed_kn=7.5)
    wait = still(563100001, 2.05, 10, lat, lon, sog=0.1, jitter_m=80, seed=4)
    points = join(arrive, wait)
    visits = port_visit.detect(DetectionInputs(points=points))
    assert visits.height == 1
    ev = visits.row(0, named=True)
    assert ev["zone"] == "Fujairah"
    evidence = json.loads(ev["evidence"])
    assert evidence["locode"] == "AEFJR" and "gfw" in evidence["port_sources"]
    assert ev["start"] <= at(2.1)  # the approach crosses Fujairah's other anchorages
    assert loitering.detect(DetectionInputs(points=points)).height == 0
    # the same wait 40 km further out at sea is loitering, not a visit
    sea_lat = lat - 0.36
    assert port_areas().distance_km(sea_lat, lon)[0] > 10
    at_sea = still(563100002, 0, 10, sea_lat, lon, sog=0.1, jitter_m=80, seed=5)
    assert loitering.detect(DetectionInputs(points=at_sea)).height == 1
    assert port_visit.detect(DetectionInputs(points=at_sea)).height == 0


def test_ships_together_at_an_outer_anchorage_are_no_encounter() -> None:
    lat, lon = _outer_anchorage("FUJAIRAH", "FUJAIRAH OFFSHORE")
    a = still(563100003, 0, 6, lat, lon, sog=0.1, jitter_m=30, seed=6)
    b = still(563100004, 0, 6, lat + 0.002, lon, sog=0.1, jitter_m=30, seed=7)
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 0
    # the same pair far out at sea meets
    sea_lat = lat - 0.36
    a = still(563100005, 0, 6, sea_lat, lon, sog=0.1, jitter_m=30, seed=6)
    b = still(563100006, 0, 6, sea_lat + 0.002, lon, sog=0.1, jitter_m=30, seed=7)
    assert encounter.detect(DetectionInputs(points=join(a, b))).height == 1


def test_a_user_port_table_is_still_accepted() -> None:
    ports = pl.DataFrame({"name": ["Test"], "lat": [10.0], "lon": [100.0]})
    areas = PortAreas.from_points(ports)
    port, excess = areas.lookup([10.0, 10.0 + 5.5 / 111.2, 11.0], [100.0, 100.0, 100.0], 1.0)
    assert port.tolist() == [0, 0, -1]
    assert excess[0] == pytest.approx(-PORT_RADIUS_KM)
    assert excess[1] == pytest.approx(0.5, abs=0.01)


# -- inland water ------------------------------------------------------------------------------

#: Positions where ships sail that the 1 km land grid calls land, with what they are.
INLAND_WATER = {
    "Lake Superior, mid-lake": (47.7, -87.5),
    "Lake Michigan off Chicago": (41.9, -87.55),
    "Lake Ontario": (43.6, -77.9),
    "Lake Ladoga": (60.8, 31.5),
}


@pytest.mark.parametrize("name", sorted(INLAND_WATER))
def test_lakes_are_water(name: str) -> None:
    lat, lon = INLAND_WATER[name]
    assert not on_land(lat, lon)
    # and their distance to shore is to the lake's own shore, not to the sea hundreds of km away
    assert 0 < float(distance_to_shore_km(lat, lon)) < 60


def test_anchorages_the_grid_calls_land_are_water() -> None:
    """A third of GFW's anchorages (river and estuary ports, harbours) fall in land cells of
    the 1 km grid; every one of them is water now, and ships there are not on land."""
    import seasight.geo.land as land

    cells = load_anchorages()
    lat = cells["lat"].to_numpy()
    lon = cells["lon"].to_numpy()
    grid = land._land_grid()
    idx = land._grid_cells(grid, lat, lon)
    raw_land = (np.searchsorted(grid.changes, idx, side="right") & 1) == 0
    assert raw_land.sum() > 10_000
    assert not on_land(lat, lon).any()


def test_a_river_port_is_water() -> None:
    """Guangzhou's river anchorages (Pearl River) are land in the grid, water here."""
    cells = load_anchorages().filter(pl.col("label") == "GUANGZHOU")
    assert cells.height > 0
    import seasight.geo.land as land

    lat = cells["lat"].to_numpy()
    lon = cells["lon"].to_numpy()
    grid = land._land_grid()
    raw = (np.searchsorted(grid.changes, land._grid_cells(grid, lat, lon), side="right") & 1) == 0
    assert raw.any()
    i = int(np.flatnonzero(raw)[0])
    assert not on_land(lat[i], lon[i])
    # a few km inland of it, far from any anchorage, is still land
    assert on_land(23.13, 113.26)  # central Guangzhou


def test_true_land_stays_land() -> None:
    for lat, lon in [(38.5, -98.0), (48.0, 10.0), (-25.0, 134.0), (25.0, 78.0)]:
        assert on_land(lat, lon)


def test_a_river_port_far_inland_is_near_the_shore() -> None:
    """Water that is water only because of an anchorage (a river port) is next to the grid's
    land, not as far offshore as the coast is far away: Nanjing, 270 km up the Yangtze, is no
    place for a 50 nm-from-shore AIS gap."""
    cells = load_anchorages().filter(pl.col("label") == "NANJING")
    assert cells.height > 0
    d = distance_to_shore_km(cells["lat"].to_numpy(), cells["lon"].to_numpy())
    assert (d <= 1.0).all() and not on_land(cells["lat"].to_numpy(),
                                             cells["lon"].to_numpy()).any()
