"""The vessel dossier: query resolution, the JSON content for an encounter vessel (from a store
built by simulating, ingesting and detecting), tables of later stages absent or present, and the
self-contained HTML (well-formed SVG, land, event markers, nothing fetched, text escaped)."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from seasight.analysis.detection import detect_store
from seasight.cli.vessel import VESSEL_EPILOG, vessel
from seasight.geo.zones import load_zones
from seasight.ingest.pipeline import ingest_paths
from seasight.model.schema import EVENTS, IDENTITIES, POSITIONS, UTC_US, empty
from seasight.risk.dossier import (
    AmbiguousQueryError,
    Resolution,
    build_dossier,
    normalise_query_name,
    resolve_query,
    vessel_dossier,
)
from seasight.risk.dossier_html import render_html
from seasight.sim import simulate, write_simulation
from seasight.store import Store

SVG = "{http://www.w3.org/2000/svg}"

# The contract's tables of helpers E and F (screening / risk), as the dossier reads them.
MATCHES = {
    "mmsi": pl.UInt32(), "list_name": pl.String(), "entry_id": pl.String(),
    "entry_name": pl.String(), "matched_on": pl.String(), "vessel_value": pl.String(),
    "list_value": pl.String(), "score": pl.Float64(), "status": pl.String(),
    "valid_from": UTC_US, "valid_to": UTC_US,
}
RISK = {"mmsi": pl.UInt32(), "score": pl.Float64(), "rank": pl.UInt32(), "factors": pl.String()}


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dossier")
    write_simulation(simulate("indo-pacific", hours=30, vessels=80, seed=5), folder)
    db = folder / "base.duckdb"
    with Store(db) as store:
        ingest_paths([folder / "feed.nmea"], store=store)
        detect_store(store, load_zones([folder / "zones.geojson"]))
    return db


@pytest.fixture(scope="module")
def encounter(base_db: Path) -> tuple[int, int]:
    with Store(base_db, read_only=True) as store:
        found = store.query("SELECT mmsi, other_mmsi FROM events WHERE kind = 'encounter' "
                            "ORDER BY score DESC, event_id LIMIT 1")
    assert found.height, "the simulation planted no detectable encounter"
    return int(found["mmsi"][0]), int(found["other_mmsi"][0])


@pytest.fixture(scope="module")
def screened_db(base_db: Path, encounter: tuple[int, int],
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base store plus a watchlist match (the other party, confirmed) and a risk row."""
    db = tmp_path_factory.mktemp("screened") / "screened.duckdb"
    shutil.copy(base_db, db)
    vessel_mmsi, other = encounter
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    factors = [
        {"factor": "encountered_designated", "weight": 30, "points": 30.0,
         "evidence": {"other_mmsi": other, "duration_h": 6.7, "list": "OFAC SDN <vessels>"}},
        {"factor": "ais_gaps", "weight": 10, "points": 0.0, "evidence": "none"},
    ]
    with Store(db) as store:
        store.create_table("watchlist_matches", MATCHES)
        store.create_table("risk", RISK, key=["mmsi"])
        store.insert("watchlist_matches", pl.DataFrame([{
            "mmsi": other, "list_name": "ofac-sdn", "entry_id": "25614",
            "entry_name": "TEST & <VESSEL>", "matched_on": "imo", "vessel_value": "1",
            "list_value": "1", "score": 100.0, "status": "confirmed", "valid_from": t0,
            "valid_to": t0}], schema=MATCHES))
        store.insert("risk", pl.DataFrame([
            {"mmsi": vessel_mmsi, "score": 42.0, "rank": 1, "factors": json.dumps(factors)},
            {"mmsi": other, "score": 80.0, "rank": 2, "factors": "[]"}], schema=RISK))
    return db


def _identities(rows: list[dict[str, object]]) -> pl.DataFrame:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    full = [{"valid_from": t, "valid_to": t, **r} for r in rows]
    return pl.DataFrame(full).pipe(lambda f: f.select(
        [pl.col(c).cast(d) if c in f.columns else pl.lit(None, d).alias(c)
         for c, d in IDENTITIES.items()]))


# ------------------------------------------------------------------------------ resolution


def test_normalise_query_name() -> None:
    assert normalise_query_name("M/V Ever-Star.") == "EVER STAR"
    assert normalise_query_name("mv  chon  ma  san") == "CHON MA SAN"
    assert normalise_query_name("M.T. Kum Un San 3") == "KUM UN SAN 3"
    assert normalise_query_name("MVULA") == "MVULA"  # a prefix only as a whole word


def test_resolve_query_forms() -> None:
    ids = _identities([
        {"mmsi": 445010002, "imo": 7937317, "shipname": "CHON MA SAN", "callsign": "HMYD"},
        {"mmsi": 538887330, "imo": 9874260, "shipname": "EVER STAR"},
        {"mmsi": 538887330, "imo": 9874260, "shipname": "PHOENIX FALCON"},
        {"mmsi": 412000001, "imo": 1234567, "shipname": "OCEAN STAR 1"},
        {"mmsi": 412000002, "imo": 2345678, "shipname": "OCEAN STAR 2"},
    ])
    assert resolve_query("445010002", ids) == Resolution(445010002, "mmsi", matched="445010002")
    assert resolve_query("7937317", ids).mmsi == 445010002
    assert resolve_query("IMO 7937317", ids).by == "imo"
    assert resolve_query("imo:9874260", ids).mmsi == 538887330
    named = resolve_query("m/v Ever Star", ids)
    assert (named.mmsi, named.by, named.score) == (538887330, "name", 100.0)
    fuzzy = resolve_query("PHOENIX FALCN", ids)
    assert fuzzy.mmsi == 538887330 and fuzzy.score < 100 and fuzzy.matched == "PHOENIX FALCON"
    with pytest.raises(AmbiguousQueryError) as err:
        resolve_query("OCEAN STAR", ids)
    assert {c["mmsi"] for c in err.value.candidates} == {412000001, 412000002}
    assert "412000001" in str(err.value) and "412000002" in str(err.value)
    for missing in ("999999999", "IMO 7654321", "NOTHING ALIKE AT ALL", "12345"):
        with pytest.raises(LookupError):
            resolve_query(missing, ids)
    with pytest.raises(ValueError):
        resolve_query("  ", ids)
    # an MMSI with positions but no static reports is still a vessel
    assert resolve_query("235000001", ids, known_mmsi={235000001}).mmsi == 235000001


def test_imo_shared_by_several_mmsi_names_the_others() -> None:
    later = datetime(2024, 2, 1, tzinfo=UTC)
    ids = pl.concat([
        _identities([{"mmsi": 412000001, "imo": 7937317, "shipname": "A"}]),
        _identities([{"mmsi": 445000001, "imo": 7937317, "shipname": "B"}])
        .with_columns(pl.lit(later).cast(UTC_US).alias("valid_to")),
    ])
    got = resolve_query("IMO 7937317", ids)
    assert (got.mmsi, got.related_mmsi) == (445000001, (412000001,))


# ------------------------------------------------------------------------------- the store


def test_dossier_of_an_encounter_vessel(base_db: Path, encounter: tuple[int, int]) -> None:
    vessel_mmsi, other = encounter
    with Store(base_db, read_only=True) as store:
        dossier = vessel_dossier(store, str(vessel_mmsi))
        last = store.query("SELECT max(ts) AS t FROM positions WHERE mmsi = ? AND lat IS NOT "
                           "NULL AND lat <= 90", [vessel_mmsi])["t"][0]
        ids = store.query("SELECT * FROM identities WHERE mmsi = ?", [vessel_mmsi])
        other_name = store.query("SELECT shipname FROM identities WHERE mmsi = ? "
                                 "ORDER BY valid_to DESC LIMIT 1", [other])["shipname"][0]
    out = json.loads(json.dumps(dossier.to_json()))  # JSON-serialisable
    assert out["mmsi"] == vessel_mmsi and out["resolved_by"] == "mmsi"
    assert len(out["identity_history"]) == ids.height >= 1
    assert out["name"] == ids.sort("valid_to")["shipname"][-1]
    encounters = [e for e in out["events"] if e["kind"] == "encounter"]
    assert encounters and other in encounters[0]["mmsi"]
    assert encounters[0]["other"]["mmsi"] == other
    assert encounters[0]["other"]["shipname"] == other_name
    assert encounters[0]["evidence"]["duration_h"] > 0
    assert out["event_counts"]["encounter"] >= 1
    starts = [e["start"] for e in out["events"]]
    assert starts == sorted(starts)
    # later stages never ran: no tables, no matches, not scored
    assert out["watchlist_matches"] == [] and out["risk"] is None and not out["designated"]
    assert out["last_position"]["ts"] == last.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert out["track"]["n_points"] > 10 and len(out["track"]["bbox"]) == 4
    assert "points" not in out["track"]
    assert len(dossier.to_json(track=True)["track"]["points"]) == out["track"]["n_points"]
    # the other party's dossier shows the same encounter, from its side
    with Store(base_db, read_only=True) as store:
        theirs = vessel_dossier(store, str(other))
    assert encounters[0]["event_id"] in set(theirs.events["event_id"])


def test_dossier_by_name_and_imo(base_db: Path, encounter: tuple[int, int]) -> None:
    vessel_mmsi, _ = encounter
    with Store(base_db, read_only=True) as store:
        row = store.query("SELECT shipname, imo FROM identities WHERE mmsi = ? "
                          "ORDER BY valid_to DESC LIMIT 1", [vessel_mmsi]).row(0, named=True)
        by_imo = vessel_dossier(store, f"IMO {row['imo']}")
        by_name = vessel_dossier(store, "M/V " + row["shipname"].lower())
    assert by_imo.mmsi == vessel_mmsi and by_imo.resolution.by == "imo"
    assert by_name.mmsi == vessel_mmsi and by_name.resolution.by == "name"


def test_dossier_reads_matches_and_risk(screened_db: Path, encounter: tuple[int, int]) -> None:
    vessel_mmsi, other = encounter
    with Store(screened_db, read_only=True) as store:
        dossier = vessel_dossier(store, str(vessel_mmsi))
        theirs = vessel_dossier(store, str(other))
    out = dossier.to_json()
    assert out["risk"]["score"] == 42.0 and out["risk"]["rank"] == 1
    assert [f["factor"] for f in out["risk"]["factors"]] == ["encountered_designated",
                                                             "ais_gaps"]
    assert out["risk"]["factors"][0]["evidence"]["other_mmsi"] == other
    enc = next(e for e in out["events"] if e["kind"] == "encounter")
    assert enc["other"]["designated"] and enc["other"]["lists"] == ["ofac-sdn"]
    assert out["watchlist_matches"] == [] and not out["designated"]
    assert theirs.designated and theirs.matches.height == 1
    assert theirs.to_json()["watchlist_matches"][0]["entry_id"] == "25614"


# ------------------------------------------------------------------------------------ HTML


class _Checker(HTMLParser):
    """Counts tags, checks nesting of the elements that must close, and collects URLs."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link", "wbr", "col",
                                "area", "base", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: dict[str, int] = {}
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.urls += [v for k, v in attrs if k in ("href", "src", "xlink:href") and v]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.urls += [v for k, v in attrs if k in ("href", "src", "xlink:href") and v]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def test_html_is_self_contained_and_well_formed(screened_db: Path,
                                                encounter: tuple[int, int]) -> None:
    vessel_mmsi, other = encounter
    with Store(screened_db, read_only=True) as store:
        html = render_html(vessel_dossier(store, str(vessel_mmsi)))
        theirs = render_html(vessel_dossier(store, str(other)))
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert checker.tags.get("script", 0) == 0 and checker.urls == []
    assert checker.tags["table"] >= 3 and checker.tags["style"] == 1
    # nothing to fetch: the only "http" is the SVG namespace
    assert set(re.findall(r"https?://[^\"'\s<>]*", html)) == {"http://www.w3.org/2000/svg"}
    assert "<link" not in html and "@import" not in html and "url(" not in html
    svgs = _svgs(html)  # every SVG is well-formed XML
    maps = [s for s in svgs if s.get("class") == "map"]
    speeds = [s for s in svgs if s.get("class") == "speed"]
    assert len(maps) == 1 and len(speeds) == 1
    land = maps[0].find(f"{SVG}g[@class='land']")
    assert land is not None and len(land.findall(f"{SVG}path")) > 0
    markers = [e for e in maps[0].iter() if "ev-encounter" in (e.get("class") or "")]
    assert markers and "encounter" in (markers[0].findtext(f"{SVG}title") or "")
    legend = maps[0].find(f"{SVG}g[@class='legend']")
    assert legend is not None and "encounter" in "".join(legend.itertext())
    assert speeds[0].findall(f".//{SVG}rect[@class='shade-encounter']")
    assert speeds[0].findall(f".//{SVG}polyline")
    # sections and escaping of data text
    for section in ("identity", "watchlists", "risk", "map", "speed", "events"):
        assert f'id="{section}"' in html
    assert "OFAC SDN &lt;vessels&gt;" in html and "<vessels>" not in html
    assert "TEST &amp; &lt;VESSEL&gt;" in theirs and "DESIGNATED" in theirs


def test_html_escapes_and_survives_a_bare_vessel() -> None:
    """A vessel with a hostile name, no positions and no events still renders safely."""
    ids = _identities([{"mmsi": 235000001, "imo": 9074729,
                        "shipname": '<script>alert("x")</script>', "flag": "GB"}])
    dossier = build_dossier("235000001", Resolution(235000001, "mmsi"), ids, empty(EVENTS),
                            pl.DataFrame(), pl.DataFrame(), empty(POSITIONS))
    html = render_html(dossier)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "No positions" in html and "No events detected." in html
    for svg in _svgs(html):
        assert svg.tag == f"{SVG}svg"
    assert dossier.to_json()["last_position"] is None


# ------------------------------------------------------------------------------------- CLI


def test_cli(screened_db: Path, encounter: tuple[int, int], tmp_path: Path) -> None:
    app = typer.Typer()
    app.command(epilog=VESSEL_EPILOG)(vessel)
    app.command("noop")(lambda: None)  # two commands: ``vessel`` is then a subcommand
    runner = CliRunner()
    vessel_mmsi, _ = encounter
    out_html = tmp_path / "dossier.html"
    got = runner.invoke(app, ["vessel", str(vessel_mmsi), "--db", str(screened_db), "--json",
                              "--html", str(out_html)])
    assert got.exit_code == 0, got.output
    record = json.loads(got.stdout)
    assert record["mmsi"] == vessel_mmsi and record["html"] == str(out_html)
    assert out_html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    text = runner.invoke(app, ["vessel", str(vessel_mmsi), "--db", str(screened_db)])
    assert text.exit_code == 0 and str(vessel_mmsi) in text.stdout
    missing = runner.invoke(app, ["vessel", "999999999", "--db", str(screened_db)])
    assert missing.exit_code == 1 and "no vessel with MMSI" in missing.output
    nodb = runner.invoke(app, ["vessel", "x", "--db", str(tmp_path / "none.duckdb")])
    assert nodb.exit_code == 1
