"""Agreements (validation, store CRUD, version counter), data ownership and their CLI."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.cli import app
from seasight.cli.sharing import parse_duration
from seasight.model.schema import UTC_US
from seasight.sharing import (
    AgreementError,
    agreements_version,
    assign_source,
    attach_origin,
    create_agreement,
    event_origins,
    get_agreement,
    list_agreements,
    list_sources,
    load_grants,
    make_agreement,
    owners,
    permitted,
    revoke_agreement,
    unassign_source,
    update_agreement,
)
from seasight.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BOX = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "sharing.duckdb")
    yield s  # type: ignore[misc]
    s.close()


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"classes": ["positions", "secrets"]}, "unknown class 'secrets'"),
    ({"classes": []}, "at least one"),
    ({"grantee": "navy"}, "cannot grant to itself"),
    ({"grantee": "bad name!"}, "not a valid organisation"),
    ({"area": {"type": "Point", "coordinates": [1, 2]}}, "not Polygon"),
    ({"area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
     "invalid polygon"),
    ({"area": {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 5], [0, 0]]]}},
     "longitude"),
    ({"area": "{not json"}, "not JSON"),
    ({"delay": timedelta(seconds=-1)}, "negative"),
    ({"valid_from": T0, "valid_to": T0 - timedelta(days=1)}, "ends before"),
    ({"valid_from": "yesterday"}, "ISO 8601"),
    ({"exclude_mmsi": [-5]}, "MMSI"),
    ({"exclude_ship_types": ["80-70"]}, "ship_types"),
    ({"exclude_ship_types": ["cargo"]}, "ship type"),
    ({"precision_decimals": 12}, "precision_decimals"),
])
def test_validation_errors(kwargs: dict[str, object], message: str) -> None:
    args = {"grantor": "navy", "grantee": "coast", "classes": ["positions"], **kwargs}
    with pytest.raises(AgreementError, match=message):
        make_agreement(args.pop("grantor"), args.pop("grantee"),  # type: ignore[arg-type]
                       args.pop("classes"), **args)  # type: ignore[arg-type]


def test_valid_agreement_normalises_values() -> None:
    a = make_agreement("navy", "coast", ["events", "positions"], area=json.dumps(BOX),
                       valid_from="2026-01-01T00:00:00", delay=3600,
                       exclude_ship_types=[35, "80-89", [50, 52]], exclude_mmsi=[123])
    assert a.valid_from == T0 and a.delay == timedelta(hours=1)
    assert a.exclude_ship_types == ((35, 35), (50, 52), (80, 89))
    assert a.to_json()["exclude_ship_types"] == ["35", "50-52", "80-89"]
    assert a.area is not None and a.area.bounds == (0, 0, 10, 10)
    feature = {"type": "Feature", "geometry": BOX, "properties": {}}
    assert make_agreement("navy", "coast", ["alerts"], area=feature).area is not None


# ---------------------------------------------------------------------------- store


def test_crud_and_version(store: Store) -> None:
    assert agreements_version(store) == 0 and list_agreements(store) == []
    a = create_agreement(store, "navy", "coast", ["positions"], area=BOX, precision_decimals=2,
                         note="MoU 2026/4")
    b = create_agreement(store, "navy", "fusion", ["events"])
    assert agreements_version(store) == 2
    got = get_agreement(store, a.agreement_id)
    assert got.area is not None and got.area.equals(a.area)
    assert got.precision_decimals == 2 and got.note == "MoU 2026/4"
    assert [x.agreement_id for x in list_agreements(store, grantee="coast")] == [a.agreement_id]
    assert len(list_agreements(store, grantor="navy")) == 2
    # update: takes effect at once, keeps identity and creation time
    u = update_agreement(store, a.agreement_id, delay=timedelta(minutes=30), area=None,
                         classes=["positions", "identities"])
    assert u.created == got.created and u.area is None and u.delay == timedelta(minutes=30)
    assert get_agreement(store, a.agreement_id).classes == {"positions", "identities"}
    assert agreements_version(store) == 3
    with pytest.raises(AgreementError, match="cannot be changed"):
        update_agreement(store, a.agreement_id, grantee="port")
    with pytest.raises(AgreementError, match="precision"):
        update_agreement(store, a.agreement_id, precision_decimals=-1)
    assert get_agreement(store, a.agreement_id).precision_decimals == 2  # unchanged
    # revoke
    r = revoke_agreement(store, b.agreement_id)
    assert r.revoked_at is not None and agreements_version(store) == 4
    assert revoke_agreement(store, b.agreement_id).revoked_at == r.revoked_at
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [x.agreement_id for x in list_agreements(store, active_at=later)] == [
        a.agreement_id]
    with pytest.raises(AgreementError, match="revoked"):
        update_agreement(store, b.agreement_id, note="x")
    with pytest.raises(AgreementError, match="no agreement"):
        get_agreement(store, "agr-missing")
    with pytest.raises(AgreementError, match="exists already"):
        create_agreement(store, "navy", "coast", ["positions"], agreement_id=a.agreement_id)


def test_revocation_is_seen_by_the_policy_at_once(store: Store) -> None:
    frame = pl.DataFrame({"origin": ["navy"], "mmsi": [1], "ts": [T0], "lat": [1.0],
                          "lon": [1.0], "ship_type": [70]}, schema_overrides={"ts": UTC_US})
    a = create_agreement(store, "navy", "coast", ["positions"])
    grants = load_grants(store)
    now = datetime.now(UTC)
    assert permitted("coast", "positions", frame, grants, now).height == 1
    revoke_agreement(store, a.agreement_id)
    assert agreements_version(store) != grants.version  # the cache knows it is stale
    grants = load_grants(store)
    assert permitted("coast", "positions", frame, grants, datetime.now(UTC)).height == 0


def test_read_only_store_without_sharing_tables(tmp_path: Path) -> None:
    Store(tmp_path / "plain.duckdb").close()
    with Store(tmp_path / "plain.duckdb", read_only=True) as ro:
        assert list_agreements(ro) == [] and list_sources(ro).height == 0
        assert agreements_version(ro) == 0 and owners(ro) == []


# ---------------------------------------------------------------------------- origins


def test_sources_and_attach_origin(store: Store) -> None:
    assign_source(store, "tcp://10.0.0.*", "navy")
    assign_source(store, "tcp://10.0.0.7:*", "coast")  # longer glob wins
    assign_source(store, "/data/feed.nmea", "port")
    assert agreements_version(store) == 3
    frame = pl.DataFrame({"source": ["tcp://10.0.0.1:5000", "tcp://10.0.0.7:5000",
                                     "/data/feed.nmea", "/data/other.nmea", None]})
    got = attach_origin(frame, owners(store))
    assert got["origin"].to_list() == ["navy", "coast", "port", "local", "local"]
    assert got["source"].to_list() == frame["source"].to_list()
    assign_source(store, "/data/feed.nmea", "navy")  # reassign
    assert list_sources(store).height == 3
    assert unassign_source(store, "tcp://10.0.0.7:*") and not unassign_source(store, "nope")
    assert attach_origin(frame, owners(store))["origin"].to_list()[:3] == ["navy"] * 3
    with pytest.raises(AgreementError):
        assign_source(store, "  ", "navy")
    with pytest.raises(ValueError, match="source"):
        attach_origin(frame.rename({"source": "src"}), [])


def test_event_origins() -> None:
    ts = [T0 + timedelta(minutes=m) for m in (0, 10, 20, 30, 40)]
    positions = pl.DataFrame({
        "mmsi": [1, 1, 2, 2, 3], "ts": ts,
        "origin": ["navy", "coast", "port", "navy", "coast"],
    }, schema_overrides={"ts": UTC_US, "mmsi": pl.UInt32})
    events = pl.DataFrame({
        "mmsi": [1, 1, 1, 3, 9],
        "other_mmsi": [2, None, None, None, None],
        "start": [ts[0], ts[0], ts[4] + timedelta(hours=5), ts[0], ts[0]],
        "end": [ts[2], ts[0], None, None, ts[1]],
    }, schema_overrides={"start": UTC_US, "end": UTC_US, "mmsi": pl.UInt32,
                         "other_mmsi": pl.UInt32})
    got = event_origins(events, positions)["origins"].to_list()
    assert got[0] == ["coast", "navy", "port"]  # both vessels during the encounter
    assert got[1] == ["navy"]  # the instant start: the position at that time
    assert got[2] == ["coast"]  # nothing in the window: the nearest position
    assert got[3] == ["coast"]
    assert got[4] == ["local"]  # a vessel without positions


# ---------------------------------------------------------------------------- CLI

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_duration_parser() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("30") == timedelta(seconds=30)
    with pytest.raises(AgreementError):
        parse_duration("soon")


def test_cli_agreements_sources_and_export(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": BOX, "properties": {}}]}))
    out = _run("agreement", "create", "--grantor", "navy", "--grantee", "coast", "--class",
               "positions", "--class", "events", "--area", str(area), "--delay", "1h",
               "--exclude-ship-type", "30-39", "--precision", "1", "--db", db, "--json")
    a = json.loads(out)
    assert a["delay_s"] == 3600 and a["exclude_ship_types"] == ["30-39"]
    bad = runner.invoke(app, ["agreement", "create", "--grantor", "navy", "--grantee", "navy",
                              "--class", "positions", "--db", db])
    assert bad.exit_code == 1 and "itself" in bad.output
    bad = runner.invoke(app, ["agreement", "update", a["agreement_id"], "--db", db])
    assert bad.exit_code == 1 and "nothing to change" in bad.output
    out = _run("agreement", "update", a["agreement_id"], "--clear", "delay", "--db", db,
               "--json")
    assert json.loads(out)["delay_s"] == 0
    listed = [json.loads(x) for x in _run("agreement", "list", "--db", db, "--json")
              .splitlines()]
    assert [x["agreement_id"] for x in listed] == [a["agreement_id"]]
    assert "navy" in _run("agreement", "list", "--db", db)
    _run("source", "assign", "tcp://10.0.0.*", "navy", "--db", db)
    assert json.loads(_run("source", "list", "--db", db, "--json"))["organisation"] == "navy"

    # data: two navy positions (one inside the area), one local
    with Store(db) as store:
        from seasight.ais import decode_nmea
        from seasight.ais.encode import encode_positions
        rows = pl.DataFrame({"mmsi": [111, 111, 222], "ts": [T0, T0 + timedelta(minutes=1), T0],
                             "msg_type": [1, 1, 1], "lat": [5.123, 20.0, 5.0],
                             "lon": [5.456, 20.0, 5.0]},
                            schema_overrides={"ts": UTC_US, "mmsi": pl.UInt32,
                                              "msg_type": pl.UInt8})
        navy = decode_nmea(encode_positions(rows.head(2)).to_bytes(),
                           source="tcp://10.0.0.5:4000")
        local = decode_nmea(encode_positions(rows.tail(1)).to_bytes(), source="/data/x.nmea")
        store.append(navy)
        store.append(local)
    csv = _run("export", "positions", "--format", "csv", "--out", "-", "--as-org", "coast",
               "--db", db)
    got = pl.read_csv(io.BytesIO(csv.encode()))
    assert got["mmsi"].to_list() == [111] and got["lat"].to_list() == [5.1]
    assert got["lon"].to_list() == [5.5]
    everything = tmp_path / "all.geojson"
    _run("export", "tracks", "--out", str(everything), "--db", db)
    assert len(json.loads(everything.read_text())["features"]) == 2
    _run("agreement", "revoke", a["agreement_id"], "--db", db)
    csv = _run("export", "positions", "--format", "csv", "--out", "-", "--as-org", "coast",
               "--db", db)
    assert pl.read_csv(io.BytesIO(csv.encode())).height == 0
    bad = runner.invoke(app, ["export", "events", "--out", str(tmp_path / "x.txt"), "--db", db])
    assert bad.exit_code == 1 and "format" in bad.output
