"""Vessel risk scores: synthetic events, identities of real OFAC-listed vessels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from shapely.geometry import box
from typer.testing import CliRunner

from conftest import shared_path
from seasight.geo.zones import Zone
from seasight.model.schema import EVENTS, IDENTITIES, UTC_US, conform
from seasight.risk.score import (
    CHAINS,
    MATCH_COLUMNS,
    RISK,
    RiskParams,
    risk_chains,
    risk_scores,
    risk_store,
    stored_risk,
)
from seasight.risk.screening import MATCHES
from seasight.store import Store

OFAC = "watchlists/ofac_sdn_vessels_2021-07.csv"

T0 = datetime(2021, 3, 1, tzinfo=UTC)

DPRK = 445123000  # CHONG CHON GANG (OFAC 17069, IMO 7937317), DPRK MID 445
TANKER = 352001234  # Panama; meets the DPRK vessel
FEEDER = 412000111  # China; meets the tanker afterwards (second degree)
THIRD = 538000222  # Marshall Islands; meets the feeder (third degree)
CLEAN = 235070762  # UK; loiters outside the zone
BAD = 123456789  # invalid MMSI, spoofing, IMO with a wrong check digit
NAMESAKE = 636000333  # Liberia; only a name-like possible match


def ofac_row(imo: str) -> dict[str, Any]:
    rows = pl.read_csv(shared_path(OFAC), infer_schema_length=0)
    row: dict[str, Any] = rows.filter(pl.col("imo") == imo).row(0, named=True)
    return row


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def identities() -> pl.DataFrame:
    chong = ofac_row("7937317")
    rows = [
        (DPRK, chong["name"], int(chong["imo"]), "KP"),
        (TANKER, "OCEAN GLORY", 9074729, "PA"),
        (FEEDER, "HAI XING", None, "CN"),
        (THIRD, "BLUE WAVE", None, "MH"),
        (CLEAN, "SOLENT STAR", None, "GB"),
        (BAD, "NONAME", 1234568, None),
        (NAMESAKE, "CHONG CHON", None, "LR"),
    ]
    return conform(pl.DataFrame({
        "mmsi": [r[0] for r in rows], "valid_from": [at(0)] * len(rows),
        "valid_to": [at(200)] * len(rows), "shipname": [r[1] for r in rows],
        "imo": [r[2] for r in rows], "flag": [r[3] for r in rows],
        "n_reports": [10] * len(rows),
    }, schema_overrides={"mmsi": pl.UInt32, "imo": pl.UInt32, "valid_from": UTC_US,
                         "valid_to": UTC_US, "n_reports": pl.UInt32}), IDENTITIES)


def matches() -> pl.DataFrame:
    """What screening finds: the IMO of OFAC entry 17069, and a name-only near match."""
    chong = ofac_row("7937317")
    return conform(pl.DataFrame({
        "mmsi": [DPRK, NAMESAKE], "list_name": ["ofac_sdn", "ofac_sdn"],
        "entry_id": [chong["ent_num"]] * 2, "entry_name": [chong["name"]] * 2,
        "matched_on": ["imo", "name"], "vessel_value": ["7937317", "CHONG CHON"],
        "list_value": ["7937317", chong["name"]], "score": [100.0, 90.0],
        "status": ["confirmed", "possible"],
    }), MATCH_COLUMNS)


def event(event_id: str, kind: str, mmsi: int, start: float, hours: float,
          other: int | None = None, lat: float = 38.5, lon: float = 124.0,
          zone: str | None = None, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "kind": kind, "mmsi": mmsi, "other_mmsi": other,
            "start": at(start), "end": at(start + hours), "lat": lat, "lon": lon,
            "zone": zone, "score": 0.8, "is_open": False,
            "evidence": json.dumps(evidence or {}), "detector": f"{kind}/1"}


def events() -> pl.DataFrame:
    reflag = {"flag": {"old": "LR", "new": "PA"}, "mmsi": {"old": 636999999, "new": TANKER},
              "imo": 9074729}
    rows = [
        # encounters are stored once with mmsi < other_mmsi
        event("enc-dt", "encounter", TANKER, 10, 8, other=DPRK, lat=38.9, lon=124.2),
        event("enc-ft", "encounter", TANKER, 40, 3, other=FEEDER, lat=31.0, lon=123.0),
        event("enc-ft2", "encounter", TANKER, 60, 2, other=FEEDER, lat=31.1, lon=123.1),
        event("enc-tf", "encounter", FEEDER, 80, 4, other=THIRD, lat=30.0, lon=122.5),
        event("gap-1", "gap", TANKER, 20, 10),
        event("gap-2", "gap", TANKER, 50, 14),
        event("idc-1", "identity_change", TANKER, 5, 0, other=636999999, evidence=reflag),
        event("idc-2", "identity_change", FEEDER, 30, 0,
              evidence={"shipname": {"old": "HAI XING 8", "new": "HAI XING"}}),
        event("loi-1", "loitering", FEEDER, 90, 5, lat=29.5, lon=122.0),
        event("loi-2", "loitering", CLEAN, 90, 5, lat=50.5, lon=-1.0),
        event("spf-1", "spoofing", BAD, 12, 2, evidence={"reason": "two_positions"}),
        event("pv-1", "port_visit", CLEAN, 0, 5, zone="Southampton"),
    ]
    return conform(pl.DataFrame(rows, schema_overrides={
        "mmsi": pl.UInt32, "other_mmsi": pl.UInt32, "start": UTC_US, "end": UTC_US,
        "score": pl.Float32}), EVENTS)


ZONES = [Zone(name="east_china_sea_box", geometry=box(121.5, 29.0, 122.5, 30.0))]


def factors_of(risk: pl.DataFrame, mmsi: int) -> dict[str, dict[str, Any]]:
    row = risk.filter(pl.col("mmsi") == mmsi).row(0, named=True)
    return {f["factor"]: f for f in json.loads(row["factors"])}


def row_of(risk: pl.DataFrame, mmsi: int) -> dict[str, Any]:
    found: dict[str, Any] = risk.filter(pl.col("mmsi") == mmsi).row(0, named=True)
    return found


@pytest.fixture(scope="module")
def risk() -> pl.DataFrame:
    return risk_scores(identities(), events(), matches(), RiskParams(), ZONES)


def test_schema_and_ranking(risk: pl.DataFrame) -> None:
    assert risk.schema == pl.Schema(RISK)
    assert risk["rank"].to_list() == list(range(1, risk.height + 1))
    assert risk["score"].to_list() == sorted(risk["score"].to_list(), reverse=True)
    assert risk["mmsi"].to_list()[:2] == [DPRK, TANKER]
    assert set(risk["mmsi"].to_list()) >= {DPRK, TANKER, FEEDER, THIRD, CLEAN, BAD, NAMESAKE,
                                           636999999}
    for row in risk.iter_rows(named=True):
        factors = json.loads(row["factors"])
        for f in factors:
            assert set(f) == {"factor", "weight", "points", "detail", "evidence"}
            assert 0 < f["points"] <= f["weight"]
        assert row["total_points"] == pytest.approx(sum(f["points"] for f in factors))
        assert row["score"] == pytest.approx(min(100.0, row["total_points"]), abs=0.05)


def test_designated_vessel_from_real_ofac_entry(risk: pl.DataFrame) -> None:
    row = row_of(risk, DPRK)
    assert (row["rank"], row["score"], row["shipname"], row["imo"]) == (
        1, 100.0, "CHONG CHON GANG", 7937317)
    f = factors_of(risk, DPRK)
    assert f["designated"]["points"] == 100.0
    (match,) = f["designated"]["evidence"]["matches"]
    assert (match["entry_id"], match["matched_on"], match["status"]) == ("17069", "imo",
                                                                         "confirmed")
    # the designated vessel also met a designated vessel? no: only the tanker met it
    assert "met_designated" not in f


def test_tanker_that_met_the_dprk_vessel(risk: pl.DataFrame) -> None:
    f = factors_of(risk, TANKER)
    met = f["met_designated"]
    assert met["points"] == pytest.approx(60 * (0.5 + 0.5 * 8 / 12), abs=0.01)
    ev = met["evidence"]
    assert ev["n_encounters"] == 1 and ev["total_hours"] == 8.0
    (enc,) = ev["encounters"]
    assert (enc["event_id"], enc["other_mmsi"], enc["hours"]) == ("enc-dt", DPRK, 8.0)
    assert (enc["lat"], enc["lon"]) == (38.9, 124.2)
    assert enc["entry"]["entry_name"] == "CHONG CHON GANG"
    assert "CHONG CHON GANG" in met["detail"] and "38.90N 124.20E" in met["detail"]
    gaps = f["ais_gaps"]
    assert gaps["points"] == pytest.approx(15 * 24 / 48)
    assert gaps["evidence"]["n_events"] == 2 and gaps["evidence"]["longest_hours"] == 14.0
    assert [e["event_id"] for e in gaps["evidence"]["events"]] == ["gap-1", "gap-2"]
    flag = f["flag_changes"]
    assert flag["points"] == 20.0
    assert flag["evidence"]["events"][0]["changed"]["flag"] == {"old": "LR", "new": "PA"}
    assert "identity_changes" not in f  # the re-flagging counts once, as a flag change
    assert "met_designated_chain" not in f  # met it directly
    assert row_of(risk, TANKER)["score"] == pytest.approx(50 + 7.5 + 20)
    assert row_of(risk, TANKER)["rank"] == 2


def test_second_degree_chain(risk: pl.DataFrame) -> None:
    f = factors_of(risk, FEEDER)
    chain = f["met_designated_chain"]
    assert chain["points"] == 25.0
    ev = chain["evidence"]
    assert ev["chain"] == [FEEDER, TANKER, DPRK]
    assert ev["event_ids"] == ["enc-ft", "enc-dt"]  # the pair's earliest encounter
    assert ev["time_ordered"] is True and ev["entry"]["entry_id"] == "17069"
    assert f["identity_changes"]["points"] == pytest.approx(15 / 3)
    zone = f["zone_activity"]
    assert zone["evidence"]["events"][0]["zone"] == "east_china_sea_box"
    assert [e["event_id"] for e in zone["evidence"]["events"]] == ["loi-1"]
    # three hops is beyond the default depth
    assert "met_designated_chain" not in factors_of(risk, THIRD)


def test_risk_chains_bfs() -> None:
    chains = risk_chains(events(), matches(), max_depth=3)
    assert chains.schema == pl.Schema(CHAINS)
    by = {r["mmsi"]: r for r in chains.iter_rows(named=True)}
    assert set(by) == {TANKER, FEEDER, THIRD}
    assert by[TANKER]["chain"] == [TANKER, DPRK] and by[TANKER]["depth"] == 1
    assert by[THIRD]["chain"] == [THIRD, FEEDER, TANKER, DPRK]
    assert by[THIRD]["event_ids"] == ["enc-tf", "enc-ft", "enc-dt"]
    assert by[THIRD]["time_ordered"] is True
    deeper = risk_scores(identities(), events(), matches(), RiskParams(max_chain_depth=3))
    assert factors_of(deeper, THIRD)["met_designated_chain"]["points"] == 12.5
    # no confirmed match, no chains; possible matches do not start chains
    assert risk_chains(events(), None).height == 0
    assert risk_chains(events(), matches().filter(pl.col("status") == "possible")).height == 0


def test_chain_out_of_time_order() -> None:
    ev = events().with_columns(
        pl.when(pl.col("event_id") == "enc-ft").then(pl.lit(at(0)))
        .otherwise(pl.col("start")).alias("start"))
    chains = risk_chains(ev, matches())
    # the feeder met the tanker before the tanker met the DPRK vessel
    assert chains.filter(pl.col("mmsi") == FEEDER)["time_ordered"].to_list() == [False]


def test_possible_match_invalid_identifiers_spoofing(risk: pl.DataFrame) -> None:
    possible = factors_of(risk, NAMESAKE)["designated"]
    assert possible["points"] == pytest.approx(100 * 0.4 * 0.9)
    assert possible["detail"].startswith("possible match")
    f = factors_of(risk, BAD)
    assert f["invalid_identifiers"]["evidence"] == {"invalid_mmsi": True, "invalid_imo": [1234568]}
    assert f["spoofing"]["points"] == 12.5
    assert f["spoofing"]["evidence"]["events"][0]["reason"] == "two_positions"
    assert factors_of(risk, CLEAN) == {}  # loitering outside zones, a port visit
    assert row_of(risk, CLEAN)["score"] == 0.0


def test_weights_are_settings() -> None:
    quiet = risk_scores(identities(), events(), matches(),
                        RiskParams(gap_weight=0, met_designated_weight=10))
    f = factors_of(quiet, TANKER)
    assert "ais_gaps" not in f and f["met_designated"]["weight"] == 10
    with pytest.raises(ValueError, match="gap_weight"):
        RiskParams(gap_weight=-1)
    with pytest.raises(ValueError, match="gap_full_h"):
        RiskParams(gap_full_h=0)
    # without zones, loitering counts as zone activity only when the event names a zone
    assert "zone_activity" not in factors_of(risk_scores(identities(), events(), matches()),
                                             FEEDER)


def test_cap_at_100_and_empty_inputs() -> None:
    many = pl.concat([events()] + [
        conform(pl.DataFrame([event(f"s{i}", "spoofing", DPRK, i, 1)], schema_overrides={
            "mmsi": pl.UInt32, "other_mmsi": pl.UInt32, "start": UTC_US, "end": UTC_US,
            "score": pl.Float32}), EVENTS) for i in range(3)])
    risk = risk_scores(identities(), many, matches())
    row = row_of(risk, DPRK)
    assert row["score"] == 100.0 and row["total_points"] == 125.0 and row["rank"] == 1
    empty = risk_scores(pl.DataFrame(schema=IDENTITIES), pl.DataFrame(schema=EVENTS), None)
    assert empty.height == 0 and empty.schema == pl.Schema(RISK)


def _store(tmp_path: Path, with_matches: bool) -> Path:
    db = tmp_path / "risk.duckdb"
    with Store(db) as store:
        store.replace("identities", identities())
        store.upsert_events(events())
        store.save_zones(ZONES)
        if with_matches:
            store.create_table("watchlist_matches", MATCHES)
            store.insert("watchlist_matches", matches())
    return db


def test_risk_store(tmp_path: Path) -> None:
    db = _store(tmp_path, with_matches=True)
    with Store(db) as store:
        scores = risk_store(store)
        again = risk_store(store)
        stored = stored_risk(store)
    assert scores.equals(again)
    assert stored.equals(scores)
    assert stored["mmsi"][0] == DPRK and stored["mmsi"][1] == TANKER
    assert "zone_activity" in factors_of(stored, FEEDER)  # the stored zone was used
    with Store(db, read_only=True) as store:
        assert stored_risk(store).height == scores.height


def test_risk_store_without_screening(tmp_path: Path) -> None:
    db = _store(tmp_path, with_matches=False)
    with Store(db) as store:
        assert stored_risk(store).height == 0
        scores = risk_store(store)
    assert "designated" not in factors_of(scores, DPRK)
    assert scores["mmsi"][0] == TANKER  # gaps and re-flagging


def _app() -> typer.Typer:
    from seasight.cli.risk import risk

    app = typer.Typer()
    app.command()(risk)
    app.command("noop")(lambda: None)  # keep `risk` a named sub-command
    return app


def test_cli(tmp_path: Path) -> None:
    db = _store(tmp_path, with_matches=True)
    runner = CliRunner()
    result = runner.invoke(_app(), ["risk", "--db", str(db), "--top", "2", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["mmsi"] for r in lines] == [DPRK, TANKER]
    assert lines[0]["identity"] == {"shipname": "CHONG CHON GANG", "imo": 7937317, "flag": "KP"}
    assert lines[1]["factors"][0]["factor"] == "met_designated"
    table = runner.invoke(_app(), ["risk", "--db", str(db)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "CHONG CHON GANG" in table.stdout and "met_designated" in table.stdout
    missing = runner.invoke(_app(), ["risk", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1
    bad = runner.invoke(_app(), ["risk", "--db", str(db), "--top", "-1"])
    assert bad.exit_code == 2


def test_with_real_screening_of_the_ofac_list(tmp_path: Path) -> None:
    """End to end: the shipped OFAC list loaded and screened, then scored."""
    from seasight.risk.screening import screen
    from seasight.risk.watchlists import load_watchlist

    watchlist = load_watchlist(shared_path(OFAC))
    found = screen(identities(), watchlist.entries.with_columns(
        pl.lit(watchlist.name).alias("list_name")))
    risk = risk_scores(identities(), events(), found)
    designated = factors_of(risk, DPRK)["designated"]
    assert designated["points"] == 100.0
    assert {m["entry_id"] for m in designated["evidence"]["matches"]
            if m["status"] == "confirmed"} == {"17069"}
    assert risk["mmsi"].to_list()[:2] == [DPRK, TANKER]
    assert factors_of(risk, TANKER)["met_designated"]["evidence"]["encounters"][0][
        "entry"]["entry_id"] == "17069"
    # the same through the store: risk_store reads what screening wrote to watchlist_matches
    db = _store(tmp_path, with_matches=False)
    with Store(db) as store:
        store.create_table("watchlist_matches", MATCHES)
        store.insert("watchlist_matches", found)
        stored = risk_store(store)
    assert stored["mmsi"].to_list()[:2] == [DPRK, TANKER]


def test_contradicting_imo_scores_a_name_match_lower() -> None:
    """Screened against the real OFAC entry of CHONG CHON GANG (IMO 7937317): the ship with
    that IMO > a ship of that name without IMO > a ship of that name with another valid IMO
    (most likely another hull); a call sign match with another IMO is also weakened."""
    from seasight.risk.screening import screen
    from seasight.risk.watchlists import load_watchlist

    ofac = load_watchlist(shared_path(OFAC))
    same, plain, other, call = 445000001, 445000002, 445000003, 445000004
    rows = [(same, "CHONG CHON GANG", 7937317, None),
            (plain, "CHONG CHON GANG", None, None),
            (other, "CHONG CHON GANG", 9074729, None),
            (call, "SOMETHING ELSE", 9074729, "5IM 592")]  # DREAM II's call sign, IMO 9356593
    ids = conform(pl.DataFrame({
        "mmsi": [r[0] for r in rows], "valid_from": [at(0)] * 4, "valid_to": [at(10)] * 4,
        "shipname": [r[1] for r in rows], "imo": [r[2] for r in rows],
        "callsign": [r[3] for r in rows], "n_reports": [10] * 4,
    }, schema_overrides={"mmsi": pl.UInt32, "imo": pl.UInt32}), IDENTITIES)
    scored = risk_scores(ids, events().clear(), screen(ids, ofac.entries))
    points = {m: factors_of(scored, m)["designated"]["points"] for m in (same, plain, other,
                                                                       call)}
    assert points[same] > points[call] > points[plain] > points[other] > 0
    p = RiskParams()
    assert points[plain] == pytest.approx(100 * p.possible_match_fraction)
    assert points[other] == pytest.approx(100 * p.contradicted_possible_fraction)
    assert points[call] == pytest.approx(100 * p.contradicted_confirmed_fraction)
    detail = factors_of(scored, other)["designated"]["detail"]
    assert detail == ("possible match: name matches CHONG CHON GANG (ofac_sdn 17069), "
                      "name score 100.0, but IMO 9074729 ≠ listed 7937317")
    assert "≠" not in factors_of(scored, plain)["designated"]["detail"]
    assert factors_of(scored, call)["designated"]["detail"].endswith(
        "on callsign, but IMO 9074729 ≠ listed 9356593")
    evidence = factors_of(scored, other)["designated"]["evidence"]["matches"][0]
    assert (evidence["contradiction"], evidence["vessel_imo"], evidence["listed_imo"]) == (
        "imo", 9074729, 7937317)
