"""Property tests of THE sharing policy (seasight.sharing.policy.permitted).

An independent oracle, written plainly row by row, decides for every row whether the caller may
see it and how precisely, and, value by value, what of an event's evidence it may see (points,
times, identity fields; private keys never); the vectorised policy must agree exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seasight.model.schema import UTC_US
from seasight.sharing import (
    Agreement,
    PolicyError,
    attach_origin,
    compile_grants,
    event_origins,
    make_agreement,
    permitted,
)

ORGS = ["local", "navy", "coast", "fusion"]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CLASS_OF = {"positions": "positions", "track": "positions", "vessels": "positions",
            "events": "events", "alerts": "alerts"}

# ---------------------------------------------------------------------------- strategies



def rarely_none(strategy: Any) -> Any:
    """``strategy``, or None one time in eight."""
    return st.integers(0, 7).flatmap(lambda k: st.none() if k == 0 else strategy)


times = rarely_none(st.integers(-3 * 86400, 3600).map(lambda s: NOW + timedelta(seconds=s)))
coords = rarely_none(st.floats(-10, 10, allow_nan=False).map(lambda v: round(v, 6)))
mmsis = st.sampled_from([111, 222, 333, 444, 555])
ship_types = rarely_none(st.integers(0, 99))


@st.composite
def position_rows(draw: Any) -> dict[str, Any]:
    return {"origin": draw(st.one_of(st.none(), st.sampled_from(ORGS))),
            "mmsi": draw(mmsis), "ts": draw(times), "lat": draw(coords), "lon": draw(coords),
            "ship_type": draw(ship_types)}


@st.composite
def event_rows(draw: Any) -> dict[str, Any]:
    start = draw(times)
    end = None if start is None else draw(st.one_of(st.none(), st.integers(0, 86400).map(
        lambda s: start + timedelta(seconds=s))))
    return {"origins": draw(st.lists(st.sampled_from(ORGS), max_size=2, unique=True)),
            "mmsi": draw(mmsis), "other_mmsi": draw(st.one_of(st.none(), mmsis)),
            "start": start, "end": end, "lat": draw(coords), "lon": draw(coords),
            "ship_type": draw(ship_types), "other_ship_type": draw(ship_types),
            "evidence": draw(evidences())}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@st.composite
def evidence_points(draw: Any) -> dict[str, Any]:
    t = draw(st.integers(-3 * 86400, 3600).map(lambda s: NOW + timedelta(seconds=s)))
    lat = draw(st.floats(-10, 10, allow_nan=False).map(lambda v: round(v, 6)))
    lon = draw(st.floats(-10, 10, allow_nan=False).map(lambda v: round(v, 6)))
    return {"ts": _iso(t), "lat": lat, "lon": lon, "segment_id": "1-0"}


@st.composite
def evidences(draw: Any) -> dict[str, Any]:
    """Evidence shaped like the detectors' and alerts': points in a list, a point under a
    key, a time, identity values and history, a watchlist match and a plain number."""
    first = draw(st.integers(-3 * 86400, 3600).map(lambda s: NOW + timedelta(seconds=s)))
    return {"examples": [{"a": p, "distance_km": 1.5}
                         for p in draw(st.lists(evidence_points(), max_size=3))],
            "start": draw(st.one_of(st.none(), evidence_points())),
            "first": _iso(first), "shipname": {"old": "ALPHA", "new": "BRAVO"},
            "previous_period": {"valid_from": _iso(first), "n_reports": 3},
            "watchlists": [{"list_name": "sdn"}], "duration_h": 2.5}


@st.composite
def boxes(draw: Any) -> tuple[float, float, float, float] | None:
    if draw(st.integers(0, 2)):
        return None
    x0, x1 = sorted(draw(st.lists(st.integers(-12, 12), min_size=2, max_size=2, unique=True)))
    y0, y1 = sorted(draw(st.lists(st.integers(-12, 12), min_size=2, max_size=2, unique=True)))
    return (float(x0), float(y0), float(x1), float(y1))


@st.composite
def agreements(draw: Any, focus: str | None = None) -> Agreement:
    """A random agreement; with ``focus``, most of them grant to that organisation."""
    grantor, grantee = draw(st.lists(st.sampled_from(ORGS), min_size=2, max_size=2,
                                     unique=True))
    if focus is not None and draw(st.integers(0, 3)):
        grantee = focus
        grantor = draw(st.sampled_from([o for o in ORGS if o != focus]))
    box = draw(boxes())
    area = None if box is None else {"type": "Polygon", "coordinates": [[
        [box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]],
        [box[0], box[1]]]]}
    def maybe(strategy: Any) -> Any:
        return draw(st.one_of(st.none(), st.none(), st.none(), strategy))

    vf, vt = maybe(times), maybe(times)
    if vf is not None and vt is not None and vt < vf:
        vf, vt = vt, vf
    lo = draw(st.integers(0, 99))
    ranges = maybe(st.lists(st.one_of(st.integers(0, 99),
                                      st.integers(0, 20).map(lambda w: f"{lo}-{min(lo + w, 99)}")),
                            max_size=2)) or []
    revoked = draw(st.sampled_from([None, None, None, None, NOW - timedelta(hours=1),
                                    NOW + timedelta(hours=1)]))
    return make_agreement(
        grantor, grantee,
        draw(st.sets(st.sampled_from(["positions", "events", "alerts", "identities"]),
                     min_size=1)),
        area=area, valid_from=vf, valid_to=vt,
        delay=timedelta(seconds=maybe(st.sampled_from([60, 3600, 86400])) or 0),
        exclude_mmsi=maybe(st.sets(mmsis, max_size=2)) or (), exclude_ship_types=ranges,
        precision_decimals=draw(st.one_of(st.none(), st.integers(0, 4))),
        revoked_at=revoked)


# ---------------------------------------------------------------------------- the oracle


def meets(a: Agreement, row: dict[str, Any], span: bool, now: datetime) -> bool:
    """Does ``row`` meet every limit of ``a``? Written plainly, one condition at a time."""
    if a.area is not None:
        if row["lat"] is None or row["lon"] is None:
            return False
        x0, y0, x1, y1 = a.area.bounds  # the test only makes boxes
        if not (x0 < row["lon"] < x1 and y0 < row["lat"] < y1):
            return False
    lo = row["start"] if span else row["ts"]
    hi = (row["end"] if row["end"] is not None else row["start"]) if span else row["ts"]
    time_limited = a.valid_from is not None or a.valid_to is not None or a.delay > timedelta(0)
    if time_limited and (lo is None or hi is None):
        return False
    if a.valid_from is not None and lo < a.valid_from:
        return False
    if a.valid_to is not None and hi > a.valid_to:
        return False
    if hi is not None and hi > now - a.delay:
        return False
    for col in ("mmsi", "other_mmsi"):
        if row.get(col) is not None and row[col] in a.exclude_mmsi:
            return False
    for col in ("ship_type", "other_ship_type"):
        v = row.get(col)
        if v is not None and any(lo_t <= v <= hi_t for lo_t, hi_t in a.exclude_ship_types):
            return False
    return True


def _passing(org: str, cls: str, row: dict[str, Any], ags: list[Agreement], span: bool,
             now: datetime) -> dict[str, list[Agreement]] | None:
    """Per foreign origin of ``row``, the agreements granting ``cls`` it meets (None when an
    origin has none)."""
    origins = (row["origins"] or ["local"]) if "origins" in row else [row["origin"]]
    out: dict[str, list[Agreement]] = {}
    for origin in origins:
        origin = origin or "local"
        if origin == org:
            continue
        passing = [a for a in ags
                   if a.grantor == origin and a.grantee == org and cls in a.classes
                   and (a.revoked_at is None or a.revoked_at > now) and meets(a, row, span, now)]
        if not passing:
            return None
        out[origin] = passing
    return out


def _value_meets(a: Agreement, lat: float | None, lon: float | None, t: datetime,
                 now: datetime) -> bool:
    """A point (``lat`` None: a time alone) of the evidence meets ``a``'s place and time."""
    if lat is not None and a.area is not None:
        x0, y0, x1, y1 = a.area.bounds
        if not (x0 < lon < x1 and y0 < lat < y1):  # type: ignore[operator]
            return False
    if a.valid_from is not None and t < a.valid_from:
        return False
    if a.valid_to is not None and t > a.valid_to:
        return False
    return t <= now - a.delay


def evidence_oracle(org: str, kind: str, row: dict[str, Any], ags: list[Agreement],
                    decimals: int | None, now: datetime = NOW) -> dict[str, Any]:
    """The evidence of a visible ``row`` that ``org`` may see, written plainly."""
    ev = row["evidence"]
    if org == "local":
        return dict(ev)
    groups = _passing(org, CLASS_OF[kind], row, ags, True, now)
    assert groups is not None
    if not groups:  # the caller's own data only
        return dict(ev)
    ids = _passing(org, "identities", row, ags, True, now) is not None

    def ok(lat: float | None, lon: float | None, text: str) -> bool:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return all(any(_value_meets(a, lat, lon, t, now) for a in g) for g in groups.values())

    def point(p: dict[str, Any] | None) -> dict[str, Any] | None:
        if p is None or not ok(p["lat"], p["lon"], p["ts"]):
            return None
        r = (lambda x: x) if decimals is None else (lambda x: round(x, decimals))
        return {**p, "lat": r(p["lat"]), "lon": r(p["lon"])}

    out: dict[str, Any] = {
        "examples": [{"a": point(e["a"]), "distance_km": e["distance_km"]}
                     for e in ev["examples"] if point(e["a"]) is not None],
        "start": point(ev["start"]),
        "first": ev["first"] if ok(None, None, ev["first"]) else None,
        "duration_h": ev["duration_h"],
    }
    if ids:
        out["shipname"] = ev["shipname"]
        period = ev["previous_period"]
        out["previous_period"] = {**period, "valid_from": period["valid_from"] if ok(
            None, None, period["valid_from"]) else None}
    return out


def oracle(org: str, kind: str, row: dict[str, Any], ags: list[Agreement],
           now: datetime = NOW) -> tuple[bool, int | None]:
    """(may ``org`` see ``row``?, decimals to round to or None)."""
    if org == "local":
        return True, None
    origins = (row["origins"] or ["local"]) if "origins" in row else [row["origin"]]
    decimals: list[int] = []
    for origin in origins:
        origin = origin or "local"
        if origin == org:
            continue
        passing = [a for a in ags
                   if a.grantor == origin and a.grantee == org and CLASS_OF[kind] in a.classes
                   and (a.revoked_at is None or a.revoked_at > now)
                   and meets(a, row, kind in ("events", "alerts"), now)]
        if not passing:
            return False, None
        decimals += [a.precision_decimals for a in passing if a.precision_decimals is not None]
    # coarsest among the passing agreements of every foreign origin
    return True, (min(decimals) if decimals else None)


POSITION_SCHEMA = {"row_id": pl.Int64, "origin": pl.String, "mmsi": pl.UInt32, "ts": UTC_US,
                   "lat": pl.Float64, "lon": pl.Float64, "ship_type": pl.UInt8}
EVENT_SCHEMA = {"row_id": pl.Int64, "origins": pl.List(pl.String), "mmsi": pl.UInt32,
                "other_mmsi": pl.UInt32, "start": UTC_US, "end": UTC_US, "lat": pl.Float64,
                "lon": pl.Float64, "ship_type": pl.UInt8, "other_ship_type": pl.UInt8,
                "evidence": pl.String}


def frame_of(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    data = [{"row_id": i, **r} for i, r in enumerate(rows)]
    if "evidence" in schema:
        for d in data:
            d["evidence"] = json.dumps(d["evidence"]) if d.get("evidence") is not None else (
                '{"lat": 1.234567}')
    return pl.DataFrame(data, schema=schema, orient="row") if data else pl.DataFrame(
        schema=schema)


def check_against_oracle(org: str, kind: str, rows: list[dict[str, Any]],
                         ags: list[Agreement], schema: dict[str, Any]) -> pl.DataFrame:
    frame = frame_of(rows, schema)
    got = permitted(org, kind, frame, compile_grants(ags), NOW)
    assert got.columns == frame.columns
    expected = {i: oracle(org, kind, r, ags) for i, r in enumerate(rows)}
    want_ids = sorted(i for i, (ok, _) in expected.items() if ok)
    assert got["row_id"].to_list() == want_ids  # nothing more, nothing less, same order
    for out in got.iter_rows(named=True):
        src = rows[out["row_id"]]
        decimals = expected[out["row_id"]][1]
        for col in ("lat", "lon"):
            if src[col] is None:
                assert out[col] is None
            elif decimals is None:
                assert out[col] == src[col]
            else:
                # never more precise than granted: a multiple of 10^-decimals, and the nearest
                scaled = out[col] * 10**decimals
                assert abs(scaled - round(scaled)) < 1e-6
                assert abs(out[col] - src[col]) <= 0.5 * 10**-decimals + 1e-9
        if "evidence" in out and isinstance(src.get("evidence"), dict):
            want = evidence_oracle(org, kind, src, ags, decimals)
            assert json.loads(out["evidence"]) == want, (src, ags)
    return got


# ---------------------------------------------------------------------------- properties

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=50)


def focused(org: str) -> Any:
    return st.lists(agreements(focus=org), max_size=8)


@SETTINGS
@given(org=st.sampled_from(ORGS), kind=st.sampled_from(["positions", "track", "vessels"]),
       rows=st.lists(position_rows(), max_size=25), data=st.data())
def test_positions_match_the_oracle(org: str, kind: str, rows: list[dict[str, Any]],
                                    data: Any) -> None:
    check_against_oracle(org, kind, rows, data.draw(focused(org)), POSITION_SCHEMA)


@SETTINGS
@given(org=st.sampled_from(ORGS), kind=st.sampled_from(["events", "alerts"]),
       rows=st.lists(event_rows(), max_size=25), data=st.data())
def test_events_match_the_oracle(org: str, kind: str, rows: list[dict[str, Any]],
                                 data: Any) -> None:
    check_against_oracle(org, kind, rows, data.draw(focused(org)), EVENT_SCHEMA)


@FEWER
@given(org=st.sampled_from(ORGS[1:]), rows=st.lists(position_rows(), max_size=25),
       ags=st.lists(agreements(), max_size=6))
def test_own_rows_always_pass_unchanged(org: str, rows: list[dict[str, Any]],
                                        ags: list[Agreement]) -> None:
    frame = frame_of(rows, POSITION_SCHEMA)
    got = permitted(org, "positions", frame, compile_grants(ags), NOW)
    own = frame.filter(pl.col("origin") == org)
    assert own.join(got, on=own.columns, how="anti", nulls_equal=True).height == 0


@FEWER
@given(org=st.sampled_from(ORGS[1:]), rows=st.lists(event_rows(), max_size=25),
       ags=st.lists(agreements(), max_size=6))
def test_revoked_agreements_grant_nothing(org: str, rows: list[dict[str, Any]],
                                          ags: list[Agreement]) -> None:
    revoked = [make_agreement(a.grantor, a.grantee, a.classes, area=a.area,
                              revoked_at=NOW - timedelta(seconds=1)) for a in ags]
    got = permitted(org, "events", frame_of(rows, EVENT_SCHEMA), compile_grants(revoked), NOW)
    for r in got.iter_rows(named=True):
        assert all((o or "local") == org for o in (r["origins"] or ["local"]))


@FEWER
@given(rows=st.lists(position_rows(), max_size=25), ags=st.lists(agreements(), max_size=6))
def test_local_sees_everything(rows: list[dict[str, Any]], ags: list[Agreement]) -> None:
    frame = frame_of(rows, POSITION_SCHEMA)
    assert permitted("local", "positions", frame, compile_grants(ags), NOW).equals(frame)


# ---------------------------------------------------------------------------- examples


def test_missing_columns_and_unknown_kinds_are_errors() -> None:
    frame = frame_of([{"origin": "navy", "mmsi": 1, "ts": NOW, "lat": 1.0, "lon": 1.0,
                       "ship_type": 30}], POSITION_SCHEMA)
    grants = compile_grants([])
    with pytest.raises(PolicyError, match="ship_type"):
        permitted("coast", "positions", frame.drop("ship_type"), grants, NOW)
    with pytest.raises(PolicyError, match="origin"):
        permitted("coast", "positions", frame.drop("origin"), grants, NOW)
    with pytest.raises(PolicyError, match="unknown kind"):
        permitted("coast", "secrets", frame, grants, NOW)
    with pytest.raises(PolicyError, match="other_ship_type"):
        permitted("coast", "events", frame_of([], EVENT_SCHEMA).drop("other_ship_type"),
                  grants, NOW)


def test_vessel_identity_columns_need_the_identities_class() -> None:
    frame = pl.DataFrame({"origin": ["navy", "navy"], "mmsi": [1, 2], "ts": [NOW, NOW],
                          "lat": [1.0, 1.0], "lon": [1.0, 1.0], "ship_type": [70, 70],
                          "name": ["ALPHA", "BRAVO"]},
                         schema_overrides={"ts": UTC_US})
    pos_only = [make_agreement("navy", "coast", ["positions"])]
    got = permitted("coast", "vessels", frame, compile_grants(pos_only), NOW)
    assert got["name"].to_list() == [None, None] and got["ship_type"].null_count() == 2
    both = [*pos_only, make_agreement("navy", "coast", ["identities"], exclude_mmsi=[2])]
    got = permitted("coast", "vessels", frame, compile_grants(both), NOW)
    assert got["name"].to_list() == ["ALPHA", None]


def test_zones_are_never_granted_and_layers_are_public() -> None:
    zones = pl.DataFrame({"name": ["a", "b"], "origin": ["navy", "coast"]})
    grants = compile_grants([make_agreement("navy", "coast", list(CLASS_OF.values()))])
    assert permitted("coast", "zones", zones, grants, NOW)["name"].to_list() == ["b"]
    assert permitted("coast", "layers", zones.drop("origin"), grants, NOW).height == 2


def test_coarsest_precision_across_origins() -> None:
    ags = [make_agreement("navy", "fusion", ["events"], precision_decimals=3),
           make_agreement("coast", "fusion", ["events"], precision_decimals=1)]
    row = {"origins": ["navy", "coast"], "mmsi": 1, "other_mmsi": None,
           "start": NOW - timedelta(hours=2), "end": NOW - timedelta(hours=1),
           "lat": 1.23456, "lon": 2.34567, "ship_type": None, "other_ship_type": None}
    got = check_against_oracle("fusion", "events", [row], ags, EVENT_SCHEMA)
    assert got["lat"][0] == pytest.approx(1.2) and got["lon"][0] == pytest.approx(2.3)
    # one origin without an agreement: the event is withheld (most restrictive)
    row2 = {**row, "origins": ["navy", "port"]}
    assert permitted("fusion", "events", frame_of([row2], EVENT_SCHEMA), compile_grants(ags),
                     NOW).height == 0


# ---------------------------------------------------------------------------- simulated data


@pytest.fixture(scope="module")
def sim() -> Any:
    from seasight.sim import simulate
    return simulate("indo-pacific", hours=6, vessels=40, seed=3)


def test_simulated_scenario(sim: Any) -> None:
    # the navy owns the reports heard by its stations, the coast guard those of satellites
    stations = sorted(sim.positions["station"].drop_nulls().unique().to_list())
    navy = [s for s in stations if not s.startswith("sat")][: len(stations) // 3]
    owners = [*((f"station:{s}", "navy") for s in navy), ("station:sat-*", "coast")]
    ship_type = (sim.static.drop_nulls("ship_type").group_by("mmsi")
                 .agg(pl.col("ship_type").last()))
    pos = (sim.positions.with_columns(("station:" + pl.col("station")).alias("source"))
           .join(ship_type, on="mmsi", how="left").with_row_index("row_id")
           .with_columns(pl.col("row_id").cast(pl.Int64)))
    pos = attach_origin(pos, owners)
    assert set(pos["origin"].unique()) == {"navy", "coast", "local"}
    end = pos["ts"].max()
    lat0, lon0 = float(pos["lat"].median()), float(pos["lon"].median())  # type: ignore[arg-type]
    box = {"type": "Polygon", "coordinates": [[[lon0 - 20, lat0 - 15], [lon0 + 20, lat0 - 15],
                                               [lon0 + 20, lat0 + 15], [lon0 - 20, lat0 + 15],
                                               [lon0 - 20, lat0 - 15]]]}
    excluded = int(pos["mmsi"][0])
    ags = [make_agreement("navy", "fusion", ["positions", "events"], area=box,
                          delay=timedelta(hours=1), exclude_ship_types=["30-39"],
                          exclude_mmsi=[excluded], precision_decimals=2),
           make_agreement("coast", "fusion", ["positions"], valid_to=end - timedelta(hours=3)),
           make_agreement("local", "fusion", ["events"])]
    now = end + timedelta(minutes=1)  # type: ignore[operator]
    grants = compile_grants(ags)
    got = permitted("fusion", "positions", pos, grants, now)
    assert 0 < got.height < pos.height
    rows = pos.select(list(POSITION_SCHEMA)).to_dicts()
    want = [r["row_id"] for r in rows if oracle("fusion", "positions", r, ags, now)[0]]
    assert got["row_id"].to_list() == want
    navy_rows = got.filter(pl.col("origin") == "navy")
    assert navy_rows.height > 0
    assert np.allclose(navy_rows["lat"].to_numpy(), np.round(navy_rows["lat"].to_numpy(), 2))
    assert not navy_rows["ship_type"].is_between(30, 39).any()
    assert got.filter(pl.col("origin") == "local").height == 0  # no positions granted by local

    # events derived from the truth, with origins from the positions they span
    events = pl.DataFrame(
        [{"mmsi": e["mmsi"][0], "other_mmsi": e["mmsi"][1] if len(e["mmsi"]) > 1 else None,
          "start": datetime.fromisoformat(e["start"]),
          "end": datetime.fromisoformat(e["end"]) if e.get("end") else None,
          "lat": e.get("lat"), "lon": e.get("lon")} for e in sim.truth["events"]],
        schema={"mmsi": pl.UInt32, "other_mmsi": pl.UInt32, "start": UTC_US, "end": UTC_US,
                "lat": pl.Float64, "lon": pl.Float64})
    ev = event_origins(events, pos)
    assert ev.height == events.height and ev["origins"].list.len().min() >= 1  # type: ignore[operator]
    # plain check of one origins list per event
    for r in ev.head(20).iter_rows(named=True):
        hi = r["end"] or r["start"]
        vessels = {r["mmsi"], r["other_mmsi"]} - {None}
        inside = pos.filter(pl.col("mmsi").is_in(list(vessels))
                            & pl.col("ts").is_between(r["start"], hi))
        if inside.height:
            assert r["origins"] == sorted(set(inside["origin"]))
    ev = ev.with_columns(pl.lit(None, pl.UInt8).alias("ship_type"),
                         pl.lit(None, pl.UInt8).alias("other_ship_type"))
    seen = permitted("fusion", "events", ev, grants, now)
    for r in seen.iter_rows(named=True):
        assert set(r["origins"]) <= {"navy", "local"}
