"""Loading watchlists (the real OFAC SDN vessel list and the generic layout) and keeping them
in the store: versions, re-screening and the record of what changed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.cli.watchlist import app
from seasight.model.schema import IDENTITIES, conform
from seasight.risk.screening import screen_store
from seasight.risk.watchlists import (
    OWNED_ENTRIES,
    OWNED_MATCHES,
    WATCHLIST_ENTRIES,
    add_watchlist,
    default_watchlists,
    list_watchlists,
    load_watchlist,
    parse_watchlist,
    remove_watchlist,
    screening_changes,
    watchlist_entries,
    watchlist_matches,
)
from seasight.store import Store

OFAC = Path(__file__).resolve().parents[2] / "shared/data/watchlists/ofac_sdn_vessels_2021-07.csv"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
runner = CliRunner()


def entry(wl: pl.DataFrame, **where: Any) -> dict[str, Any]:
    rows = wl.filter(*(pl.col(k) == v for k, v in where.items()))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def identities(*rows: dict[str, Any]) -> pl.DataFrame:
    out = [{"mmsi": r["mmsi"], "valid_from": T0 + timedelta(days=r.get("day", 0)),
            "valid_to": T0 + timedelta(days=r.get("day", 0), hours=6), "imo": r.get("imo"),
            "callsign": r.get("callsign"), "shipname": r.get("shipname"), "n_reports": 3}
           for r in rows]
    return conform(pl.DataFrame(out, schema_overrides={"imo": pl.UInt32, "mmsi": pl.UInt32}),
                   IDENTITIES)


# --------------------------------------------------------------------------- OFAC layout


def test_ofac_list_as_shipped() -> None:
    wl = load_watchlist(OFAC)
    assert wl.name == "ofac_sdn"
    assert wl.version == hashlib.sha256(OFAC.read_bytes()).hexdigest()[:12]
    e = wl.entries
    assert e.schema == pl.Schema(WATCHLIST_ENTRIES)
    assert e.height == len(wl) == 406
    assert e["entry_id"].n_unique() == 406
    chong = entry(e, imo=7937317)
    assert chong["name"] == "CHONG CHON GANG"
    assert chong["entry_id"] == "17069"
    assert chong["programme"] == "DPRK"
    assert chong["aliases"] == [] and chong["mmsi"] is None and chong["callsign"] is None
    assert chong["flag"] == "Democratic People's Republic of Korea"
    assert chong["source"] == "OFAC SDN" and chong["list_name"] == "ofac_sdn"
    assert "IMO 7937317" in chong["remarks"]
    # Aliases from the column (fka/aka dropped) and from the remarks (f.k.a. 'ALPHA').
    assert entry(e, name="ARTAVIL")["aliases"] == ["ABADAN", "SHONA", "ALPHA"]
    assert entry(e, name="SAND SWAN")["aliases"] == ["ANA I"]
    argo = entry(e, name="ARGO I")
    assert argo["aliases"] == ["AMOL", "CASTOR", "CHRISTINA", "ARGO 1", "SILVER CLOUD"]
    assert (argo["imo"], argo["mmsi"], argo["callsign"]) == (9187667, 256843000, "T2EM4")
    # An IMO number given only in the remarks (with and without the "IMO" word).
    assert entry(e, name="RYONG GUN BONG")["imo"] == 8606173
    # Several programmes.
    assert entry(e, name="DORITA")["programme"] == "IRAN; NPWMD; IFSR"
    # The North Korea programme vessels carry IMO numbers but no MMSI (README).
    dprk = e.filter(pl.col("programme").str.starts_with("DPRK"))
    assert dprk.height == 106
    assert dprk["mmsi"].null_count() == dprk.height
    assert dprk["imo"].null_count() == 0
    assert set(dprk["programme"]) == {"DPRK", "DPRK3", "DPRK4"}


def test_default_watchlists_is_the_shipped_ofac_list() -> None:
    (shipped,) = default_watchlists()
    assert shipped.name == "ofac_sdn"
    assert shipped.version == load_watchlist(OFAC).version
    assert shipped.entries.height == 406


def test_headerless_ofac_sdn_csv_keeps_only_vessels() -> None:
    sdn = (
        '306,"BANCO NACIONAL DE CUBA","-0- ","CUBA","-0- ","-0- ","-0- ","-0- ","-0- ",'
        '"-0- ","-0- ","a.k.a. \'BNC\'."\n'
        '17069,"CHONG CHON GANG","vessel","DPRK","-0- ","-0- ","General Cargo","-0- ",'
        '"-0- ","Korea, North","-0- ","Vessel Registration Identification IMO 7937317; '
        'a.k.a. \'CHONGCHONGANG\'."\n'
    )
    wl = parse_watchlist(sdn.encode(), fmt="csv", source="sdn.csv")
    assert wl.name == "ofac_sdn"
    row = wl.entries.row(0, named=True)
    assert wl.entries.height == 1
    assert (row["name"], row["imo"], row["flag"], row["aliases"]) == (
        "CHONG CHON GANG", 7937317, "Korea, North", ["CHONGCHONGANG"])
    assert row["callsign"] is None


def test_ofac_layout_with_missing_columns_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("ent_num,name,program,imo\n1,X,DPRK,7937317\n")
    with pytest.raises(ValueError, match=r"broken.csv.*OFAC.*lacks column\(s\) call_sign"):
        load_watchlist(path)


# --------------------------------------------------------------------------- generic layout


def test_generic_csv(tmp_path: Path) -> None:
    path = tmp_path / "un_1718.csv"
    path.write_text(
        "name,aliases,imo,mmsi,call_sign,flag,program,source,listed_date,remarks\n"
        "CHONG CHON GANG,CHONGCHON GANG; CHONG CHON KANG,IMO 7937317,,HMZF,KP,UN 1718,"
        "UNSC,2014-07-28,seized in Panama 2013\n"
        "NEW VESSEL,,,445111222,,KP,UN 1718,,2018-03-30,\n"
        "NEW VESSEL,,,,,,UN 1718,,,\n"
    )
    wl = load_watchlist(path)
    assert wl.name == "un_1718"
    e = wl.entries
    first = e.row(0, named=True)
    assert first["aliases"] == ["CHONGCHON GANG", "CHONG CHON KANG"]
    assert (first["imo"], first["callsign"], first["programme"]) == (7937317, "HMZF", "UN 1718")
    assert first["listed_date"] == date(2014, 7, 28)
    assert first["source"] == "UNSC" and first["entry_id"] == "IMO7937317"
    assert e["entry_id"].to_list() == ["IMO7937317", "MMSI445111222", "NAME:NEW VESSEL"]
    assert e["source"][1] == "un_1718"  # defaults to the list's name
    assert load_watchlist(path, name="UN").name == "UN"


def test_generic_json(tmp_path: Path) -> None:
    path = tmp_path / "partner.json"
    path.write_text(json.dumps({
        "name": "partner", "source": "Partner agency",
        "entries": [{"id": "P-1", "name": "YU JONG 2", "aliases": ["YUJONG 2"],
                     "imo": 8604917, "flag": "KP", "programme": "watch",
                     "listed_date": "2023-01-05"},
                    {"name": "SUSPECT ONE", "mmsi": 412000001}],
    }))
    wl = load_watchlist(path)
    assert wl.name == "partner"
    assert wl.entries["entry_id"].to_list() == ["P-1", "MMSI412000001"]
    assert wl.entries["aliases"].to_list() == [["YUJONG 2"], []]
    assert set(wl.entries["source"]) == {"Partner agency"}
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"name": "X VESSEL"}]))
    assert load_watchlist(bare).name == "bare"


@pytest.mark.parametrize(("suffix", "content", "message"), [
    (".csv", "vessel,imo\nX,1\n", r"no 'name' column"),
    (".csv", "name,imo_number\nX,1\n", r"unknown column\(s\) imo_number"),
    (".csv", "name,imo\nX,not-a-number\n", r"entry 1: IMO 'not-a-number' is not a number"),
    (".csv", "name,mmsi\nX,1234567890\n", r"MMSI 1234567890 has more than 9 digits"),
    (".csv", "name,listed_date\nX,yesterday\n", r"listed_date 'yesterday'"),
    (".csv", "name,imo\n,7937317\n", r"entry 1: entry without a name"),
    (".json", '{"entries": {"name": "X"}}', r"'entries' list"),
    (".json", '"X"', r"list of entries"),
    (".json", "[1]", r"expected an object"),
    (".json", "{", r"invalid JSON"),
])
def test_wrong_layouts_are_clear_errors(tmp_path: Path, suffix: str, content: str,
                                        message: str) -> None:
    path = tmp_path / f"list{suffix}"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_watchlist(path)


# --------------------------------------------------------------------------- store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "w.duckdb")
    s.replace("identities", identities(
        {"mmsi": 445123000, "shipname": "CHONG CHON GANG", "imo": 7937317},
        {"mmsi": 445123000, "shipname": "BLUE SKY", "imo": 7937317, "day": 4},
        {"mmsi": 572469210, "shipname": "M/T SHONA"},
        {"mmsi": 235000001, "shipname": "NORDIC TRADER", "imo": 9074729},
    ))
    return s


def test_add_screens_and_records_changes(store: Store) -> None:
    ofac = load_watchlist(OFAC)
    change = add_watchlist(store, ofac)
    assert (change.list_name, change.version, change.previous_version) == (
        "ofac_sdn", ofac.version, None)
    assert (change.n_entries, change.entries_added, change.entries_removed) == (406, 406, 0)
    matches = watchlist_matches(store)
    assert matches.columns == list(OWNED_MATCHES) and set(matches["organisation"]) == {"local"}
    assert set(matches["mmsi"]) == {445123000, 572469210}
    assert set(zip(matches["mmsi"], matches["matched_on"], strict=True)) == {
        (445123000, "imo"), (445123000, "name"), (572469210, "mmsi"), (572469210, "alias")}
    assert matches.filter(pl.col("matched_on") == "imo").height == 2  # both periods
    # A link is counted once however many periods show it.
    assert change.added.height == 4 and change.removed.height == 0
    assert change.n_matches == matches.height == 5
    assert watchlist_entries(store).equals(ofac.entries.sort("entry_id").with_columns(
        pl.lit("local").alias("organisation")))
    lists = list_watchlists(store).row(0, named=True)
    assert (lists["list_name"], lists["list_version"], lists["n_entries"],
            lists["n_matches"], lists["n_vessels"]) == ("ofac_sdn", ofac.version, 406, 5, 2)
    log = screening_changes(store)
    assert log.height == 4 and set(log["change"]) == {"added"}
    assert set(log["reason"]) == {"add_watchlist"} and set(log["list_version"]) == {ofac.version}

    again = add_watchlist(store, ofac)  # same version: nothing changes
    assert again.previous_version == ofac.version
    assert again.added.height == again.removed.height == again.entries_added == 0
    assert screening_changes(store).height == 4
    assert watchlist_matches(store).height == 5


def test_new_version_replaces_the_old_and_records_the_difference(store: Store,
                                                                 tmp_path: Path) -> None:
    ofac = load_watchlist(OFAC)
    add_watchlist(store, ofac)
    # A newer list: CHONG CHON GANG delisted, NORDIC TRADER added (same list name).
    lines = OFAC.read_text().splitlines()
    kept = [line for line in lines if not line.startswith("17069,")]
    kept.append("99999,NORDIC TRADER,DPRK,,Tanker,,,Panama,,9074729,,,")
    newer = tmp_path / "sdn_2024.csv"
    newer.write_text("\n".join(kept) + "\n")
    v2 = load_watchlist(newer)
    assert v2.name == "ofac_sdn" and v2.version != ofac.version
    change = add_watchlist(store, v2)
    assert change.previous_version == ofac.version
    assert (change.entries_added, change.entries_removed) == (1, 1)
    assert set(zip(change.removed["mmsi"], change.removed["matched_on"], strict=True)) == {
        (445123000, "imo"), (445123000, "name")}
    assert set(zip(change.added["mmsi"], change.added["matched_on"], strict=True)) == {
        (235000001, "imo"), (235000001, "name")}
    assert set(watchlist_matches(store)["mmsi"]) == {572469210, 235000001}
    assert watchlist_entries(store).height == 406
    assert list_watchlists(store)["list_version"].to_list() == [v2.version]
    log = screening_changes(store).filter(pl.col("list_version") == v2.version)
    assert sorted(log["change"].to_list()) == ["added"] * 2 + ["removed"] * 2
    assert change.to_json()["matches_removed"][0]["entry_name"] == "CHONG CHON GANG"


def test_several_lists_and_remove(store: Store, tmp_path: Path) -> None:
    add_watchlist(store, load_watchlist(OFAC))
    partner = tmp_path / "partner.json"
    partner.write_text(json.dumps([{"name": "NORDIC TRADER", "imo": 9074729}]))
    add_watchlist(store, load_watchlist(partner))
    assert list_watchlists(store)["list_name"].to_list() == ["ofac_sdn", "partner"]
    assert set(watchlist_matches(store)["list_name"]) == {"ofac_sdn", "partner"}
    gone = remove_watchlist(store, "partner")
    assert gone is not None and gone.removed.height == 2 and gone.version is None
    assert set(watchlist_matches(store)["list_name"]) == {"ofac_sdn"}
    assert watchlist_entries(store, "partner").height == 0
    assert remove_watchlist(store, "partner") is None
    log = screening_changes(store).filter(pl.col("reason") == "remove_watchlist")
    assert log.height == 2 and set(log["change"]) == {"removed"}


def test_lists_belong_to_their_organisation(store: Store) -> None:
    """A list of the same name loaded by another organisation is another list: adding or
    removing it leaves the local one (its entries, matches and designations) as it was, and
    screening again keeps every match with its list's owner."""
    add_watchlist(store, load_watchlist(OFAC))
    local_matches = watchlist_matches(store, organisations=["local"])
    one_line = parse_watchlist(b"name,imo\nNORDIC TRADER,9074729\n", fmt="csv",
                               name="ofac_sdn")
    change = add_watchlist(store, one_line, organisation="partner")
    assert change.previous_version is None and change.entries_removed == 0
    assert set(change.added["organisation"]) == {"partner"} and change.removed.height == 0
    assert watchlist_entries(store, "ofac_sdn", ["local"]).height == 406
    assert watchlist_entries(store, "ofac_sdn", ["partner"]).height == 1
    assert watchlist_matches(store, organisations=["local"]).equals(local_matches)
    assert set(watchlist_matches(store, organisations=["partner"])["mmsi"]) == {235000001}
    lists = list_watchlists(store)
    assert lists.select("organisation", "list_name", "n_entries").rows() == [
        ("local", "ofac_sdn", 406), ("partner", "ofac_sdn", 1)]
    assert list_watchlists(store, ["partner"])["n_matches"].to_list() == [2]
    assert remove_watchlist(store, "ofac_sdn", organisation="outsider") is None
    rescreened = screen_store(store)
    assert rescreened.filter(pl.col("organisation") == "local").drop("organisation").sort(
        "mmsi", "entry_id", "matched_on").equals(local_matches.drop("organisation").sort(
            "mmsi", "entry_id", "matched_on"))
    assert remove_watchlist(store, "ofac_sdn", organisation="partner") is not None
    assert watchlist_entries(store, "ofac_sdn").height == 406
    log = screening_changes(store, ["partner"])
    assert log.height and set(log["organisation"]) == {"partner"}
    assert set(log["list_version"]) == {one_line.version}


def test_tables_of_a_version_without_owners_become_the_local_organisations(
        tmp_path: Path) -> None:
    """A database written before lists had owners: read-only readers take every list as the
    local organisation's, and the first writer moves the rows to the new tables."""
    db = tmp_path / "old.duckdb"
    with Store(db) as rw:
        add_watchlist(rw, load_watchlist(OFAC))
        for table in ("watchlists", "watchlist_entries", "watchlist_matches",
                      "screening_changes"):
            old = rw.query(f"SELECT * EXCLUDE (organisation) FROM {table}")
            rw.con.execute(f"DROP TABLE {table}")
            rw.con.register("_old", old.to_arrow())
            rw.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _old")
            rw.con.unregister("_old")
    with Store(db, read_only=True) as ro:
        assert watchlist_matches(ro, organisations=["local"]).height == 0  # no identities
        assert list_watchlists(ro)["organisation"].to_list() == ["local"]
        assert list_watchlists(ro, ["navy"]).height == 0
        assert watchlist_entries(ro, organisations=["local"]).height == 406
        assert watchlist_entries(ro, organisations=["navy"]).height == 0
    with Store(db) as rw:
        add_watchlist(rw, parse_watchlist(b"name\nX\n", fmt="csv", name="ofac_sdn"),
                      organisation="navy")
        assert list_watchlists(rw).select("organisation", "n_entries").rows() == [
            ("local", 406), ("navy", 1)]


def test_screen_store_after_new_identities(store: Store) -> None:
    add_watchlist(store, load_watchlist(OFAC))
    store.insert("identities", identities({"mmsi": 999000001, "shipname": "KUM UN SAN 3",
                                           "day": 9}))
    matches = screen_store(store)
    assert 999000001 in set(matches["mmsi"])
    key = ["mmsi", "valid_from", "entry_id", "matched_on"]
    assert watchlist_matches(store).sort(key).equals(matches.sort(key))
    log = screening_changes(store).filter(pl.col("reason") == "screen")
    assert log["mmsi"].to_list() == [999000001] and log["change"].to_list() == ["added"]
    assert log["list_version"].to_list() == [load_watchlist(OFAC).version]
    assert screen_store(store).sort(key).equals(matches.sort(key))  # again: nothing changes
    assert screening_changes(store).filter(pl.col("reason") == "screen").height == 1


def test_readers_on_read_only_databases(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    Store(db).close()  # no watchlist tables yet
    with Store(db, read_only=True) as ro:
        assert list_watchlists(ro).height == 0
        assert watchlist_entries(ro).schema == pl.Schema(OWNED_ENTRIES)
        assert watchlist_matches(ro).columns == list(OWNED_MATCHES)
        assert screening_changes(ro).height == 0
    with Store(db) as rw:
        add_watchlist(rw, default_watchlists()[0])
    with Store(db, read_only=True) as ro:
        assert list_watchlists(ro)["n_entries"].to_list() == [406]
        assert watchlist_entries(ro).height == 406


# --------------------------------------------------------------------------- CLI


def test_cli_add_list_remove(store: Store, tmp_path: Path) -> None:
    db = store.path
    store.close()
    added = runner.invoke(app, ["add", str(OFAC), "--db", str(db), "--json"])
    assert added.exit_code == 0, added.output
    summary = json.loads(added.stdout)
    assert (summary["list_name"], summary["entries"], summary["matches"]) == ("ofac_sdn", 406, 5)
    assert {m["entry_name"] for m in summary["matches_added"]} == {"CHONG CHON GANG", "ARTAVIL"}
    human = runner.invoke(app, ["add", str(OFAC), "--db", str(db), "--name", "sdn"])
    assert human.exit_code == 0 and "Added list sdn" in human.stderr
    listed = runner.invoke(app, ["list", "--db", str(db), "--json"])
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["list_name"] for r in rows] == ["ofac_sdn", "sdn"]
    table = runner.invoke(app, ["list", "--db", str(db)])
    assert table.exit_code == 0 and "ofac_sdn" in table.stdout
    screened = runner.invoke(app, ["screen", "--db", str(db), "--json"])
    assert screened.exit_code == 0 and len(screened.stdout.splitlines()) == 10
    removed = runner.invoke(app, ["remove", "sdn", "--db", str(db), "--json"])
    assert removed.exit_code == 0 and json.loads(removed.stdout)["list_name"] == "sdn"
    missing = runner.invoke(app, ["remove", "sdn", "--db", str(db)])
    assert missing.exit_code == 1 and "no watchlist named 'sdn'" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("vessel\nX\n")
    failed = runner.invoke(app, ["add", str(bad), "--db", str(db)])
    assert failed.exit_code == 1 and "no 'name' column" in failed.stderr
    usage = runner.invoke(app, ["add", str(tmp_path / "absent.csv"), "--db", str(db)])
    assert usage.exit_code == 2
