"""seasight.geo against real places, brute force, and the geometry's own identities.

Real reference values: port coordinates from the shipped searoute-py layer checked against the
ports' published positions, Point Nemo's published distance to land, the Singapore Strait and
Strait of Dover widths, and known land/sea positions. Every fast path (k-d trees, the
run-length land grid, bounding-box filters) is compared with a brute-force computation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from seasight.geo import (
    EARTH_RADIUS_KM,
    KM_PER_NM,
    PORT_COLUMNS,
    PORT_RADIUS_KM,
    Zone,
    bearing_deg,
    chord_to_km,
    destination,
    distance_to_shore_km,
    haversine_km,
    km_to_chord,
    load_ports,
    load_zones,
    nearest_port,
    on_land,
    ports_within,
    shoreline_distance_km,
    unit_vectors,
    zone_membership,
    zones_from_geojson,
    zones_to_geojson,
)
from seasight.geo.land import SHORE_SAMPLE_KM, shoreline_samples

KM_PER_DEG = EARTH_RADIUS_KM * math.pi / 180.0

lats = st.floats(-89.0, 89.0)
lons = st.floats(-180.0, 180.0, exclude_max=True)


# --- distance ------------------------------------------------------------------------------


def test_constants() -> None:
    assert KM_PER_NM == 1.852
    assert abs(EARTH_RADIUS_KM - 6371.0) < 0.1


def test_haversine_known_distances() -> None:
    assert haversine_km(0, 0, 1, 0) == pytest.approx(KM_PER_DEG)
    assert haversine_km(0, 0, 0, 1) == pytest.approx(KM_PER_DEG)
    assert haversine_km(60, 0, 60, 1) == pytest.approx(KM_PER_DEG * 0.5, rel=1e-4)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    # across the antimeridian the short way
    assert haversine_km(0, 179.5, 0, -179.5) == pytest.approx(KM_PER_DEG)
    # Singapore to Busan, by the independent spherical law of cosines
    p1, l1, p2, l2 = map(math.radians, (1.239207, 103.832461, 35.098203, 129.035797))
    cos_c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(l2 - l1)
    expected = EARTH_RADIUS_KM * math.acos(cos_c)
    assert haversine_km(1.239207, 103.832461, 35.098203, 129.035797) == pytest.approx(expected)
    assert 4500 < expected < 4700


def test_haversine_broadcasts_and_propagates_nan() -> None:
    d = haversine_km(np.zeros((3, 1)), 0.0, np.array([0.0, 1.0, np.nan]), 0.0)
    assert d.shape == (3, 3)
    assert np.isnan(d[:, 2]).all()
    assert d[0, 1] == pytest.approx(KM_PER_DEG)
    assert haversine_km(10, 10, 10, 10).shape == ()


def test_bearing_cardinal_directions() -> None:
    b = bearing_deg(0, 0, [1, 0, -1, 0, 0], [0, 1, 0, -1, 0])
    np.testing.assert_allclose(b, [0, 90, 180, 270, 0], atol=1e-9)
    assert ((b >= 0) & (b < 360)).all()
    assert bearing_deg(0, 179.5, 0, -179.5) == pytest.approx(90.0)


@given(lats, lons, lats, lons)
def test_haversine_symmetric_and_bounded(la1: float, lo1: float, la2: float, lo2: float) -> None:
    d12 = haversine_km(la1, lo1, la2, lo2)
    assert d12 == pytest.approx(haversine_km(la2, lo2, la1, lo1), abs=1e-9)
    assert 0.0 <= d12 <= math.pi * EARTH_RADIUS_KM + 1e-9
    # the chord between unit vectors gives the same distance
    chord = np.linalg.norm(unit_vectors(la1, lo1) - unit_vectors(la2, lo2))
    assert chord_to_km(chord) == pytest.approx(d12, abs=1e-6)
    assert km_to_chord(d12) == pytest.approx(chord, abs=1e-9)


@given(lats, lons, st.floats(0.0, 360.0, exclude_max=True), st.floats(0.0, 15_000.0))
def test_destination_round_trip(lat: float, lon: float, brg: float, dist: float) -> None:
    lat2, lon2 = destination(lat, lon, brg, dist)
    assert -90.0 <= lat2 <= 90.0
    assert -180.0 <= lon2 < 180.0
    assert haversine_km(lat, lon, lat2, lon2) == pytest.approx(dist, abs=1e-6, rel=1e-9)
    if dist > 0.01 and abs(lat) < 85.0:
        diff = (bearing_deg(lat, lon, lat2, lon2) - brg + 180.0) % 360.0 - 180.0
        assert abs(diff) < 1e-5


def test_destination_broadcasts() -> None:
    lat2, lon2 = destination(0.0, 179.9, 90.0, np.array([0.0, KM_PER_DEG]))
    np.testing.assert_allclose(lat2, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(lon2, [179.9, -179.1], atol=1e-9)


# --- land ----------------------------------------------------------------------------------

# (lat, lon, on land?) at places whose nature is not in doubt at 1 km
KNOWN_PLACES = {
    "Singapore Strait fairway": (1.20, 103.85, False),
    "Singapore island, Bukit Timah": (1.35, 103.78, True),
    "Strait of Malacca": (2.50, 101.00, False),
    "mid Pacific": (0.00, -160.00, False),
    "Mumbai inland (Thane)": (19.20, 73.00, True),
    "Sahara": (23.0, 12.0, True),
    "Bay of Biscay": (45.5, -4.0, False),
    "English Channel": (50.2, -1.0, False),
    "Antarctic plateau": (-85.0, 40.0, True),
}


def test_on_land_known_places() -> None:
    lat, lon, expected = (np.array(v) for v in zip(*KNOWN_PLACES.values(), strict=True))
    got = on_land(lat, lon)
    assert got.dtype == bool
    assert dict(zip(KNOWN_PLACES, got.tolist(), strict=True)) == dict(
        zip(KNOWN_PLACES, expected.astype(bool).tolist(), strict=True)
    )


def test_caspian_sea_is_water() -> None:
    """The 1 km grid counts the Caspian as a lake (land); Natural Earth, and SeaSight, do not."""
    lat = np.array([42.0, 45.0, 40.45])  # mid Caspian, north Caspian, Absheron inland of Baku
    lon = np.array([50.5, 49.5, 49.60])
    assert on_land(lat, lon).tolist() == [False, False, True]
    d = distance_to_shore_km(lat, lon)
    assert 100 < d[0] < 200  # the middle Caspian is ~ 300-400 km wide there
    assert 0 < d[1] < 100
    assert d[2] == 0
    inland = shoreline_distance_km(lat, lon)
    np.testing.assert_allclose(inland[:2], d[:2])
    assert 5 < inland[2] < 30  # Absheron is ~ 30 km across


def test_on_land_shapes_invalid_and_wrapping() -> None:
    lat = np.array([[1.35, np.nan], [95.0, 1.35]])
    lon = np.array([[103.78, 103.78], [0.0, 103.78 + 360.0]])
    np.testing.assert_array_equal(on_land(lat, lon), [[True, False], [False, True]])
    assert on_land(1.35, 103.78 - 360.0).item()
    assert on_land(1.35, 103.78).shape == ()
    # the grid edges: both poles' rows, both ends of the longitude range
    assert on_land([-90.0, -90.0, 90.0], [-180.0, 180.0, 0.0]).tolist() == [True, True, False]


def test_on_land_is_fast() -> None:
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-90, 90, 1_000_000), rng.uniform(-180, 180, 1_000_000)
    on_land(lat[:10], lon[:10])  # load the grid outside the timing
    import time

    t0 = time.perf_counter()
    land = on_land(lat, lon)
    elapsed = time.perf_counter() - t0
    assert 0.25 < land.mean() < 0.40  # land is 29 % of the sphere; the grid counts lakes too
    assert elapsed < 5.0, f"on_land: {elapsed:.2f} s for 1e6 points"  # ~0.3-0.7 s


def test_distance_to_shore_real_places() -> None:
    nemo = (-48.876667, -123.393333)  # Point Nemo: 2,688 km from the nearest land
    sg_strait = (1.20, 103.85)  # about 15 km wide between Singapore and the Riau islands
    dover = (51.00, 1.45)  # Strait of Dover, 33 km wide: the middle is ~ 16 km from both shores
    lat, lon = np.array([nemo, sg_strait, dover]).T
    d = distance_to_shore_km(lat, lon)
    assert d[0] == pytest.approx(2688, rel=0.02)
    assert 0 < d[1] < 10
    assert 12 < d[2] < 20


def test_distance_to_shore_offshore_of_a_straight_coast() -> None:
    """100 km west of Colombo, off Sri Lanka's straight north-south west coast."""
    ports = load_ports()
    colombo = ports.row(by_predicate=pl.col("locode") == "LKCMB", named=True)
    lat, lon = destination(colombo["lat"], colombo["lon"], 270.0, 100.0)
    to_port = haversine_km(lat, lon, colombo["lat"], colombo["lon"])
    d = distance_to_shore_km(lat, lon)
    assert to_port == pytest.approx(100.0)
    # the coast runs within a few degrees of north-south there, the port lies on it
    assert 0.97 * to_port < d <= to_port + SHORE_SAMPLE_KM / 2
    # 50 nm off the same coast
    lat50, lon50 = destination(colombo["lat"], colombo["lon"], 270.0, 50 * KM_PER_NM)
    assert distance_to_shore_km(lat50, lon50) / KM_PER_NM == pytest.approx(50, rel=0.03)


def test_distance_to_shore_land_nan_shapes_and_antimeridian() -> None:
    d = distance_to_shore_km(np.array([[1.35, np.nan]]), np.array([[103.78, 0.0]]))
    assert d.shape == (1, 2)
    assert d[0, 0] == 0.0
    assert np.isnan(d[0, 1])
    # east of Fiji's Taveuni, on both sides of the antimeridian: continuous
    a, b = distance_to_shore_km(-16.9, [179.9999, -179.9999])
    assert a == pytest.approx(b, abs=0.05)
    assert distance_to_shore_km(-16.9, 180.0001 - 360.0) == pytest.approx(b)


def test_distance_to_shore_matches_dense_brute_force() -> None:
    """Sea points within 300 km of a coast: the 2 km index against 0.25 km samples."""
    dense_lat, dense_lon = shoreline_samples(0.25)
    dense = cKDTree(unit_vectors(dense_lat, dense_lon))
    rng = np.random.default_rng(3)
    pick = rng.integers(0, dense_lat.size, 2000)
    lat, lon = destination(
        dense_lat[pick], dense_lon[pick], rng.uniform(0, 360, pick.size), rng.uniform(0, 300, 2000)
    )
    sea = ~on_land(lat, lon)
    lat, lon = lat[sea], lon[sea]
    assert lat.size > 500
    got = distance_to_shore_km(lat, lon)
    chord, _ = dense.query(unit_vectors(lat, lon))
    ref = chord_to_km(chord)
    # both are upper bounds of the true distance, by at most half their sample spacing
    assert (got >= ref - 0.125 - 1e-9).all()
    assert (got <= ref + SHORE_SAMPLE_KM / 2 + 1e-9).all()
    assert np.median(got - ref) < 0.25


def test_distance_to_shore_is_fast() -> None:
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-70, 75, 200_000), rng.uniform(-180, 180, 200_000)
    distance_to_shore_km(lat[:10], lon[:10])  # build the index outside the timing
    import time

    t0 = time.perf_counter()
    d = distance_to_shore_km(lat, lon)
    elapsed = time.perf_counter() - t0
    assert np.isfinite(d).all()
    assert d.max() < 3000  # no sea point is farther than Point Nemo
    assert elapsed < 5.0, f"distance_to_shore_km: {elapsed:.2f} s for 2e5 points"  # ~0.5 s


def test_shoreline_samples_spacing() -> None:
    lat, lon = shoreline_samples(5.0)
    assert lat.shape == lon.shape
    assert 100_000 < lat.size < 200_000
    assert (np.abs(lat) <= 90).all()
    assert (np.abs(lon) <= 180).all()
    # no samples along the artificial cut lines: nothing south of the Antarctic coast's limit
    assert lat.min() > -86.0
    with pytest.raises(ValueError, match="positive"):
        shoreline_samples(0)


# --- ports ---------------------------------------------------------------------------------

# published positions (lat, lon) of the ports, independent of the shipped layer
PUBLISHED_PORTS = {
    "SGSIN": ("Singapore", "SG", 1.264, 103.840),
    "KRPUS": ("Pusan", "KR", 35.104, 129.042),
    "GBSOU": ("Southampton", "GB", 50.899, -1.404),
    "NLRTM": ("Rotterdam", "NL", 51.905, 4.466),
    "USLAX": ("Los Angeles", "US", 33.733, -118.262),
}


def test_load_ports_layer() -> None:
    ports = load_ports()
    assert ports.height == 3962 + 1  # searoute's layer plus ports_supplement.csv
    assert ports.filter(pl.col("locode") == "GBPME")["name"].item() == "Portsmouth"
    assert dict(ports.schema) == PORT_COLUMNS
    assert ports["lat"].is_between(-90, 90).all()
    assert ports["lon"].is_between(-180, 180).all()
    assert ports["name"].null_count() == 0
    assert (ports["country"] == ports["locode"].str.slice(0, 2)).all()
    for locode, (name, country, lat, lon) in PUBLISHED_PORTS.items():
        row = ports.row(by_predicate=pl.col("locode") == locode, named=True)
        assert (row["name"], row["country"]) == (name, country)
        assert haversine_km(row["lat"], row["lon"], lat, lon) < 10, locode
    assert ports.filter(pl.col("locode") == "KRPUS")["country_name"].item() == "South Korea"
    assert load_ports() is ports  # read once


def test_port_radius_constant() -> None:
    assert PORT_RADIUS_KM == 5.0


def test_nearest_port_at_ports_and_brute_force() -> None:
    ports = load_ports()
    plat, plon = ports["lat"].to_numpy(), ports["lon"].to_numpy()
    idx, dist = nearest_port(plat, plon)
    np.testing.assert_allclose(dist, 0.0, atol=1e-6)
    np.testing.assert_allclose(plat[idx], plat)  # a duplicate point may answer for another row
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(-60, 70, 300), rng.uniform(-180, 180, 300)
    idx, dist = nearest_port(lat, lon)
    brute = haversine_km(lat[:, None], lon[:, None], plat[None, :], plon[None, :])
    np.testing.assert_allclose(dist, brute.min(axis=1), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(brute[np.arange(300), idx], dist, rtol=1e-9, atol=1e-6)


def test_nearest_port_real_positions_and_invalid() -> None:
    ports = load_ports()
    # in the Port of Singapore's anchorage, at Busan's north port, in Southampton Water
    idx, dist = nearest_port([1.250, 35.105, 50.880, np.nan], [103.830, 129.040, -1.370, 0.0])
    assert ports["locode"].gather(idx[:3]).to_list() == ["SGSIN", "KRPUS", "GBSOU"]
    assert (dist[:3] < PORT_RADIUS_KM).all()
    assert idx[3] == -1
    assert np.isnan(dist[3])
    idx2, dist2 = nearest_port(np.full((2, 2), 1.25), 103.83)
    assert idx2.shape == dist2.shape == (2, 2)


@pytest.mark.parametrize("radius", [PORT_RADIUS_KM, 50.0])
def test_ports_within_matches_brute_force(radius: float) -> None:
    ports = load_ports()
    plat, plon = ports["lat"].to_numpy(), ports["lon"].to_numpy()
    rng = np.random.default_rng(7)
    near = rng.integers(0, ports.height, 400)
    lat = np.concatenate([plat[near] + rng.normal(0, 0.05, 400), [np.nan, 0.0]])
    lon = np.concatenate([plon[near] + rng.normal(0, 0.05, 400), [0.0, -140.0]])
    # the densest cluster: 20 ports within 50 km of Rongqi in the Pearl River Delta
    rongqi = ports.row(by_predicate=pl.col("locode") == "CNROQ", named=True)
    lat = np.append(lat, rongqi["lat"])
    lon = np.append(lon, rongqi["lon"])
    point, port, dist = ports_within(lat, lon, radius)
    brute = haversine_km(lat[:, None], lon[:, None], plat[None, :], plon[None, :])
    exp_point, exp_port = np.nonzero(brute <= radius)
    assert set(zip(point.tolist(), port.tolist(), strict=True)) == set(
        zip(exp_point.tolist(), exp_port.tolist(), strict=True)
    )
    np.testing.assert_allclose(dist, brute[point, port], atol=1e-6)
    assert (dist <= radius + 1e-9).all()
    key = point * 1e6 + dist
    assert (np.diff(key) >= 0).all()  # sorted by point, then distance
    if radius == 50.0:
        assert (point == lat.size - 1).sum() == 20


def test_ports_within_edge_cases() -> None:
    point, port, dist = ports_within([np.nan], [0.0])
    assert point.size == port.size == dist.size == 0
    with pytest.raises(ValueError, match="radius_km"):
        ports_within(0.0, 0.0, -1.0)


# --- zones ---------------------------------------------------------------------------------

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
# Singapore Strait, a box around the traffic separation scheme
SG_STRAIT = {
    "type": "Polygon",
    "coordinates": [[[103.6, 1.1], [104.4, 1.1], [104.4, 1.35], [103.6, 1.35], [103.6, 1.1]]],
}


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _feature(geometry: object, **props: object) -> dict[str, object]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_load_zones_forms_and_names(tmp_path: Path) -> None:
    fc = _write(
        tmp_path / "areas.geojson",
        {
            "type": "FeatureCollection",
            "features": [
                _feature(SG_STRAIT, name="Singapore Strait", kind="TSS"),
                _feature(SQUARE, NAME="Square"),
                _feature(SQUARE, id=7),
                {"type": "Feature", "id": "fid", "properties": None, "geometry": SQUARE},
                _feature({"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}),
            ],
        },
    )
    single = _write(tmp_path / "one.json", _feature(SQUARE, name="Lone"))
    bare = _write(tmp_path / "bare.geojson", SQUARE)
    zones = load_zones([fc, single, str(bare)])
    assert [z.name for z in zones] == [
        "Singapore Strait",
        "Square",
        "7",
        "fid",
        "areas-5",
        "Lone",
        "bare-1",
    ]
    assert zones[0].properties == {"name": "Singapore Strait", "kind": "TSS"}
    assert zones[4].geometry.geom_type == "MultiPolygon"
    assert load_zones(single)[0].name == "Lone"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a GeoJSON object"),
        (json.dumps({"type": "FeatureCollection", "features": []}), "no features"),
        (json.dumps({"type": "FeatureCollection"}), "'features' list"),
        (json.dumps({"type": "FeatureCollection", "features": [SQUARE]}), "not a Feature"),
        (json.dumps({"type": "Point", "coordinates": [1, 2]}), "'Point' cannot be a zone"),
        (json.dumps(_feature(None)), "feature 1: feature has no geometry"),
        (json.dumps({"type": "Feature", "properties": {}}), "feature has no geometry"),
        (
            json.dumps(_feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})),
            "'LineString' is not an area",
        ),
        (
            json.dumps(_feature({"type": "GeometryCollection", "geometries": [SQUARE]})),
            "'GeometryCollection' is not an area",
        ),
        (
            json.dumps(_feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]})),
            "malformed Polygon",
        ),
        (json.dumps(_feature({"type": "Polygon", "coordinates": "x"})), "malformed Polygon"),
        (json.dumps(_feature({"type": "Polygon", "coordinates": []})), "empty Polygon"),
        (
            json.dumps(
                _feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]})
            ),
            "no area",
        ),
        (
            json.dumps(
                _feature(
                    {"type": "Polygon", "coordinates": [[[170, 0], [190, 0], [190, 5], [170, 0]]]}
                )
            ),
            "out of range",
        ),
        (json.dumps(_feature(SQUARE) | {"properties": [1]}), "'properties' must be"),
    ],
)
def test_load_zones_rejects_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_zones(path)
    assert "bad" in str(info.value)  # the error names the file


def test_load_zones_duplicates_and_missing(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.geojson", _feature(SQUARE, name="Z"))
    b = _write(tmp_path / "b.geojson", _feature(SG_STRAIT, name="Z"))
    with pytest.raises(ValueError, match="repeated: Z"):
        load_zones([a, b])
    with pytest.raises(FileNotFoundError):
        load_zones(tmp_path / "missing.geojson")


def test_bow_tie_is_repaired() -> None:
    bow = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    (zone,) = zones_from_geojson(_feature(bow, name="bow"))
    assert zone.geometry.is_valid
    assert zone.geometry.area == pytest.approx(2.0)
    # the left and right triangles are the zone; below the crossing is not
    inside = zone_membership([zone], [1.0, 0.5, 1.0], [0.5, 1.0, 1.5])
    assert inside[:, 0].tolist() == [True, False, True]


def test_zone_requires_an_area() -> None:
    with pytest.raises(ValueError, match="Polygon or MultiPolygon"):
        Zone("p", shapely.Point(0, 0))
    with pytest.raises(ValueError, match="non-empty"):
        Zone("", shapely.box(0, 0, 1, 1))


def test_zones_geojson_round_trip(tmp_path: Path) -> None:
    holed = {
        "type": "Polygon",
        "coordinates": [
            SQUARE["coordinates"][0],
            [[0.5, 0.5], [1.5, 0.5], [1.5, 1.5], [0.5, 1.5], [0.5, 0.5]],
        ],
    }
    zones = zones_from_geojson(
        {
            "type": "FeatureCollection",
            "features": [_feature(holed, name="ring", depth=12.5), _feature(SG_STRAIT, NAME="SG")],
        },
        source="test",
    )
    path = _write(tmp_path / "out.geojson", zones_to_geojson(zones))
    again = load_zones(path)
    assert [z.name for z in again] == ["ring", "SG"]
    assert again[0].properties == {"name": "ring", "depth": 12.5}
    for a, b in zip(zones, again, strict=True):
        assert a.geometry.equals(b.geometry)


def test_zone_membership_matches_shapely_points() -> None:
    zones = zones_from_geojson(
        {
            "type": "FeatureCollection",
            "features": [
                _feature(
                    {
                        "type": "Polygon",
                        "coordinates": [
                            SQUARE["coordinates"][0],
                            [[0.5, 0.5], [1.5, 0.5], [1.5, 1.5], [0.5, 1.5], [0.5, 0.5]],
                        ],
                    },
                    name="ring",
                ),
                _feature(
                    {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]],
                            [[[-3, -3], [-1, -3], [-1, -1], [-3, -1], [-3, -3]]],
                        ],
                    },
                    name="two",
                ),
                _feature(SG_STRAIT, name="Singapore Strait"),
            ],
        }
    )
    rng = np.random.default_rng(11)
    lat = np.concatenate([rng.uniform(-4, 4, 3000), [np.nan, 1.0]])
    lon = np.concatenate([rng.uniform(-4, 4, 3000), [1.0, np.nan]])
    got = zone_membership(zones, lat, lon)
    assert got.shape == (lat.size, 3)
    assert got[:, 0].any()
    assert got[:, 1].any()
    assert not got[-2:].any()
    for j, zone in enumerate(zones):
        expected = [
            zone.geometry.contains(shapely.Point(x, y)) for x, y in zip(lon, lat, strict=True)
        ]
        np.testing.assert_array_equal(got[:, j], expected)
    # ships in the strait and at the ports on either side of it
    ports = load_ports()
    sg = ports.filter(pl.col("locode").is_in(["SGSIN", "KRPUS", "GBSOU"])).sort("locode")
    inside = zone_membership(zones, sg["lat"].to_numpy(), sg["lon"].to_numpy())[:, 2]
    assert inside.tolist() == [False, False, True]  # GBSOU, KRPUS, SGSIN
    assert zone_membership([], [0.0], [0.0]).shape == (1, 0)
