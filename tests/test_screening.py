"""Screening identities against the real OFAC SDN vessel list (July 2021)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from seasight.model.schema import IDENTITIES, conform
from seasight.risk.screening import (
    MATCHES,
    ScreeningParams,
    name_pairs,
    normalise_callsign,
    normalise_name,
    screen,
)
from seasight.risk.watchlists import Watchlist, load_watchlist

OFAC = Path(__file__).resolve().parents[2] / "shared/data/watchlists/ofac_sdn_vessels_2021-07.csv"
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ofac() -> Watchlist:
    return load_watchlist(OFAC)


def identities(*rows: dict[str, Any]) -> pl.DataFrame:
    """An IDENTITIES frame; each row gives mmsi and any of shipname, imo, callsign, day."""
    out = []
    for r in rows:
        start = T0 + timedelta(days=r.get("day", 0))
        out.append({"mmsi": r["mmsi"], "valid_from": start, "valid_to": start + timedelta(
            hours=12), "imo": r.get("imo"), "callsign": r.get("callsign"),
            "shipname": r.get("shipname"), "n_reports": 10})
    return conform(pl.DataFrame(out, schema_overrides={"imo": pl.UInt32, "mmsi": pl.UInt32}),
                   IDENTITIES)


def entry_names(matches: pl.DataFrame, mmsi: int) -> set[str]:
    return set(matches.filter(pl.col("mmsi") == mmsi)["entry_name"].to_list())


@pytest.mark.parametrize(("raw", "expected"), [
    ("CHONG CHON GANG", "CHONG CHON GANG"),
    ("M/V Chong Chon Gang", "CHONG CHON GANG"),
    ("MV CHONG CHON GANG", "CHONG CHON GANG"),
    ("M.V. CHONG-CHON GANG", "CHONG CHON GANG"),
    ("M/T  Kum Un San No. 3", "KUM UN SAN 3"),
    ("MT KUM UN SAN NO3", "KUM UN SAN 3"),
    ("THE KUM UN SAN 03", "KUM UN SAN 3"),
    ("kum-un-san #3", "KUM UN SAN 3"),
    ("HAOFAN2", "HAOFAN 2"),
    ("ARGO I", "ARGO 1"),
    ("BICENTENARIO XIV", "BICENTENARIO 14"),
    ("Ch'ŏngch'ŏn Kang", "CHONGCHON GANG"),
    ("TAEDONG-GANG", "TAEDONG GANG"),
    ("DAE DONG GANG", "TAE TONG GANG"),
    ("PHO THAE", "PO TAE"),
    ("Paek Ma", "BAEK MA"),
    ("SEONG", "SONG"),
    ("НЕПТУН", "NEPTUN"),
    ("БОГАТЫРЬ", "BOGATYR"),
    ("", ""),
    ("  ", ""),
])
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


def test_normalise_callsign() -> None:
    assert normalise_callsign("5IM 592") == normalise_callsign("5im592") == "5IM592"


def test_dprk_vessel_by_imo_in_every_identity_period(ofac: Watchlist) -> None:
    # IMO 7937317 is CHONG CHON GANG (DPRK programme, no aliases, no MMSI in the list).
    # The vessel is seen under its own name, then renamed and under another MMSI: every
    # period is screened and each keeps its own validity.
    ids = identities(
        {"mmsi": 445123000, "shipname": "CHONG CHON GANG", "imo": 7937317, "day": 0},
        {"mmsi": 445123000, "shipname": "BLUE SKY", "imo": 7937317, "day": 5},
        {"mmsi": 352001234, "shipname": "BLUE SKY", "imo": 7937317, "day": 9},
    )
    m = screen(ids, ofac.entries)
    assert m.columns == list(MATCHES)
    imo = m.filter(pl.col("matched_on") == "imo")
    assert imo.height == 3
    assert set(imo["entry_id"]) == {"17069"}
    assert set(imo["entry_name"]) == {"CHONG CHON GANG"}
    assert set(imo["status"]) == {"confirmed"} and set(imo["score"]) == {100.0}
    days = [T0 + timedelta(days=d) for d in (0, 5, 9)]
    assert sorted(imo["valid_from"].to_list()) == days
    assert set(imo["list_value"]) == {"7937317"} and set(imo["list_name"]) == {"ofac_sdn"}
    name = m.filter(pl.col("matched_on") == "name")
    assert name.height == 1  # only the period that carried the name
    assert name.row(0, named=True)["valid_from"] == T0
    assert name["status"][0] == "possible" and name["score"][0] == 100.0


def test_name_variants_of_the_dprk_vessel(ofac: Watchlist) -> None:
    ids = identities(
        {"mmsi": 1, "shipname": "M/V CHONG CHON GANG"},
        {"mmsi": 2, "shipname": "MV. CHONGCHON GANG"},
        {"mmsi": 3, "shipname": "CHONG CHON KANG"},  # McCune-Reischauer "kang"
        {"mmsi": 4, "shipname": "CHONG CHON GNAG"},  # a typing error in the AIS name
        {"mmsi": 5, "shipname": "CHONG CHON"},  # different name
    )
    m = screen(ids, ofac.entries)
    for mmsi in (1, 2, 3, 4):
        assert entry_names(m, mmsi) == {"CHONG CHON GANG"}, mmsi
    assert m.filter(pl.col("mmsi") == 1)["score"][0] == 100.0
    typo = m.filter(pl.col("mmsi") == 4).row(0, named=True)
    assert 92 <= typo["score"] < 100 and typo["status"] == "possible"
    assert typo["vessel_value"] == "CHONG CHON GNAG"
    assert typo["list_value"] == "CHONG CHON GANG"
    assert entry_names(m, 5) == set()


def test_alias_matches(ofac: Watchlist) -> None:
    # ARTAVIL (IMO 9187629): aliases ABADAN, SHONA (column) and ALPHA (remarks, f.k.a.).
    ids = identities(
        {"mmsi": 11, "shipname": "M/T SHONA"},
        {"mmsi": 12, "shipname": "Alpha"},
        {"mmsi": 13, "shipname": "ARGO 1"},  # ARGO I, also "aka ARGO 1"
        {"mmsi": 14, "shipname": "SILVERCLOUD"},  # fka SILVER CLOUD of ARGO I
    )
    m = screen(ids, ofac.entries)
    shona = m.filter(pl.col("mmsi") == 11).row(0, named=True)
    assert (shona["entry_name"], shona["matched_on"], shona["list_value"]) == (
        "ARTAVIL", "alias", "SHONA")
    assert shona["status"] == "possible"
    assert entry_names(m, 12) == {"ARTAVIL"}
    argo = m.filter(pl.col("mmsi") == 13)
    assert argo.height == 1  # best of name and aliases, the name preferred on a tie
    assert argo.row(0, named=True)["matched_on"] == "name"
    assert argo["entry_name"][0] == "ARGO I"
    assert entry_names(m, 14) == {"ARGO I"}


def test_mmsi_and_callsign_matches_are_confirmed(ofac: Watchlist) -> None:
    ids = identities(
        {"mmsi": 572469210, "shipname": "SOMETHING ELSE"},  # ARTAVIL's MMSI
        {"mmsi": 2, "callsign": "5IM592"},  # DREAM II writes "5IM 592"
        {"mmsi": 375311000},  # ST. VITAMIN: MMSI only in the list
    )
    m = screen(ids, ofac.entries)
    by_mmsi = m.filter(pl.col("mmsi") == 572469210).row(0, named=True)
    assert (by_mmsi["entry_name"], by_mmsi["matched_on"], by_mmsi["status"]) == (
        "ARTAVIL", "mmsi", "confirmed")
    call = m.filter(pl.col("mmsi") == 2).row(0, named=True)
    assert (call["entry_name"], call["matched_on"], call["vessel_value"], call["list_value"]) \
        == ("DREAM II", "callsign", "5IM592", "5IM 592")
    assert entry_names(m, 375311000) == {"ST. VITAMIN"}


def test_near_miss_names_do_not_match(ofac: Watchlist) -> None:
    ids = identities(
        {"mmsi": 1, "shipname": "KUM UN SAN 3"},
        {"mmsi": 2, "shipname": "KUM UN SAN"},
        {"mmsi": 3, "shipname": "KUM UN SAN 2"},  # not on the list
        {"mmsi": 4, "shipname": "KUM SONG 5"},  # KUM SONG 3, 5 and 7 are all listed
        {"mmsi": 5, "shipname": "MI RIM 2"},  # MI RIM and MI RIM 2 are listed
        {"mmsi": 6, "shipname": "SOUTH HILL 3"},  # 2 and 5 are listed
        {"mmsi": 7, "shipname": "GOLDEN STAR 3"},  # GOLD STAR 3: generic words
        {"mmsi": 8, "shipname": "LUCKY STARS"},  # LUCKY STAR: generic words
        {"mmsi": 9, "shipname": "MARIA"},  # MARINA (alias): short name
        {"mmsi": 10, "shipname": "HONG BONG"},  # CHONG BONG: another first syllable
        {"mmsi": 11, "shipname": "KU BONG"},  # KU BONG RYONG
        {"mmsi": 12, "shipname": "STAR"},
        {"mmsi": 13, "shipname": "RA NAM 1"},  # RA NAM 2 and 3 are listed
    )
    m = screen(ids, ofac.entries)
    assert entry_names(m, 1) == {"KUM UN SAN 3"}
    assert entry_names(m, 2) == {"KUM UN SAN"}
    assert entry_names(m, 4) == {"KUM SONG 5"}
    assert entry_names(m, 5) == {"MI RIM 2"}
    assert set(m["mmsi"].to_list()) == {1, 2, 4, 5}


def test_exact_generic_and_short_names_still_match(ofac: Watchlist) -> None:
    ids = identities({"mmsi": 1, "shipname": "LUCKY STAR"}, {"mmsi": 2, "shipname": "JH 86"},
                     {"mmsi": 3, "shipname": "7 28"}, {"mmsi": 4, "shipname": "НЕПТУН"})
    m = screen(ids, ofac.entries)
    assert entry_names(m, 1) == {"LUCKY STAR"}
    assert entry_names(m, 2) == {"JH 86"}
    assert entry_names(m, 3) == {"7-28"}
    assert entry_names(m, 4) == {"NEPTUN"}
    assert set(m["status"]) == {"possible"}


def test_romanisation_variants(ofac: Watchlist) -> None:
    ids = identities({"mmsi": 1, "shipname": "BAEK MA"},  # listed as PAEK MA
                     {"mmsi": 2, "shipname": "DAE DONG KANG"},  # TAE DONG GANG
                     {"mmsi": 3, "shipname": "SO PAEK SAN"})  # SO BAEK SAN
    m = screen(ids, ofac.entries)
    assert entry_names(m, 1) == {"PAEK MA"}
    assert entry_names(m, 2) == {"TAE DONG GANG"}
    assert entry_names(m, 3) == {"SO BAEK SAN"}


def test_threshold_is_a_parameter(ofac: Watchlist) -> None:
    ids = identities({"mmsi": 4, "shipname": "CHONG CHON GNAG"})
    assert screen(ids, ofac.entries).height == 1
    assert screen(ids, ofac.entries, ScreeningParams(name_threshold=99)).height == 0


def test_empty_inputs(ofac: Watchlist) -> None:
    none = identities()
    assert screen(none, ofac.entries).columns == list(MATCHES)
    assert screen(identities({"mmsi": 1}), ofac.entries).height == 0
    assert screen(identities({"mmsi": 1, "shipname": "KOTI"}),
                  ofac.entries.clear()).height == 0
    assert name_pairs([], ["X"], ScreeningParams()).height == 0


def test_list_names_do_not_match_other_entries_except_shared_aliases(ofac: Watchlist) -> None:
    # Screening the list's own names: each finds its entry; the only other hits are exact
    # aliases of other entries (ZEUS, SABRINA, GARDENIA, FREEDOM were other tankers' names).
    e = ofac.entries
    ids = identities(*({"mmsi": i + 1, "shipname": n} for i, n in enumerate(e["name"])))
    m = screen(ids, e).join(ids.select("mmsi", "shipname"), on="mmsi")
    assert set(m["mmsi"]) == set(range(1, e.height + 1))
    other = m.filter(pl.col("shipname") != pl.col("entry_name"))
    assert set(other["matched_on"]) == {"alias"}
    assert set(other["score"]) == {100.0}
    assert set(other["shipname"]) == {"ZEUS", "SABRINA", "GARDENIA", "FREEDOM"}


def test_thousands_of_identities_in_well_under_a_second(ofac: Watchlist) -> None:
    rng = np.random.default_rng(7)
    words = ["SEA", "STAR", "KUM", "SONG", "OCEAN", "MARIA", "HAI", "XIN", "YANG", "MING",
             "EVER", "GREEN", "NORD", "CAPE", "JIN", "HONG", "SHENG", "FU", "TAI", "SAN",
             "GANG", "RYONG", "BONG", "MAERSK", "CHONG", "CHON", "PACIFIC", "TRADER"]
    n = 5000
    names = [" ".join(rng.choice(words, size=int(rng.integers(1, 4))))
             + (f" {rng.integers(1, 30)}" if rng.random() < 0.5 else "") for _ in range(n)]
    names[:20] = ofac.entries["name"].to_list()[:20]
    ids = identities(*({"mmsi": 200_000_000 + i, "shipname": s, "imo": 9_000_000 + i,
                        "callsign": f"C{i}"} for i, s in enumerate(names)))
    normalise_name.cache_clear()
    start = time.perf_counter()
    m = screen(ids, ofac.entries)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert set(range(200_000_000, 200_000_020)) <= set(m["mmsi"].to_list())


def test_name_match_with_another_valid_imo_is_marked_as_contradicted(ofac: Watchlist) -> None:
    """CHONG CHON GANG is listed with IMO 7937317; a ship of that name reporting another valid
    IMO is most likely another hull: the match stays, marked with both numbers."""
    ids = identities(
        {"mmsi": 1, "shipname": "CHONG CHON GANG", "imo": 9074729},  # valid, differs
        {"mmsi": 2, "shipname": "CHONG CHON GANG"},  # no IMO: nothing to contradict
        {"mmsi": 3, "shipname": "CHONG CHON GANG", "imo": 9074720},  # bad check digit
        {"mmsi": 4, "shipname": "CHONG CHON GANG", "imo": 7937317},  # the listed ship
        # a period without IMO takes the one valid IMO of the vessel's other periods
        {"mmsi": 5, "shipname": "OTHER NAME", "imo": 9074729},
        {"mmsi": 5, "shipname": "CHONG CHON GANG", "day": 1},
        # DREAM II (IMO 9356593) by call sign, from a ship reporting another IMO
        {"mmsi": 6, "callsign": "5IM592", "imo": 9074729},
    )
    m = screen(ids, ofac.entries)
    assert list(m.columns) == list(MATCHES)

    def rows(mmsi: int) -> list[dict[str, Any]]:
        return m.filter(pl.col("mmsi") == mmsi).sort("matched_on").to_dicts()

    first = rows(1)
    assert [(r["matched_on"], r["status"], r["contradiction"], r["vessel_imo"],
             r["listed_imo"]) for r in first] == [
        ("name", "possible", "imo", 9074729, 7937317)]
    assert [r["contradiction"] for r in rows(2)] == [None]
    assert [r["contradiction"] for r in rows(3)] == [None]
    assert {(r["matched_on"], r["contradiction"]) for r in rows(4)} == {
        ("imo", None), ("name", None)}
    assert [(r["contradiction"], r["vessel_imo"]) for r in rows(5)] == [("imo", 9074729)]
    call = rows(6)
    assert [(r["matched_on"], r["status"], r["contradiction"], r["listed_imo"])
            for r in call] == [("callsign", "confirmed", "imo", 9356593)]


def test_matches_of_a_database_without_contradiction_columns(ofac: Watchlist,
                                                             tmp_path: Path) -> None:
    """A database written before IMO contradictions were stored gets the columns; screening
    writes and reads them."""
    from seasight.risk.watchlists import OWNED_MATCHES, add_watchlist, watchlist_matches
    from seasight.store import Store

    with Store(tmp_path / "old.duckdb") as store:
        old = {c: t for c, t in OWNED_MATCHES.items()
               if c not in ("contradiction", "vessel_imo", "listed_imo")}
        store.create_table("watchlist_matches", old)
        store.replace("identities", identities(
            {"mmsi": 1, "shipname": "CHONG CHON GANG", "imo": 9074729}))
        add_watchlist(store, ofac)
        got = watchlist_matches(store, 1)
    assert got.select("contradiction", "vessel_imo", "listed_imo").rows() == [
        ("imo", 9074729, 7937317)]
