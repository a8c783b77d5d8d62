"""Alert rules, firing without repeats, the lifecycle and ``seasight alerts``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.cli.alerts import app as alerts_app
from seasight.events.model import events_frame
from seasight.model.schema import IDENTITIES, conform
from seasight.risk import alerts as al
from seasight.risk.alerts import (
    ALERT_CANDIDATES,
    RuleError,
    UnknownAlertError,
    alert_id,
    default_rules,
    evaluate_rules,
    fire_alerts,
    list_alerts,
    load_rules,
    parse_rules,
    set_alert_state,
)
from seasight.store import Store

OFAC = Path(__file__).resolve().parents[2] / "shared" / "data" / "watchlists" / \
    "ofac_sdn_vessels_2021-07.csv"

T0 = datetime(2024, 3, 1, tzinfo=UTC)

TANKER = 412000001  # Chinese tanker that meets the DPRK vessel
DPRK = 445000001  # CHONG CHON GANG, IMO 7937317 (OFAC DPRK list)
FISHER = 412000002  # fishing vessel (type 30)
CARGO = 538000001  # Marshall Islands cargo ship
LOW = 211000001  # German vessel with a lower MMSI than the DPRK one, meets it


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def identities() -> pl.DataFrame:
    rows = [
        (TANKER, h(-100), h(200), 9000001, "BVTA1", "OCEAN GLORY", 80, "CN"),
        (DPRK, h(-100), h(5), 7937317, "HMYV", "CHONG CHON GANG", 70, "KP"),
        (DPRK, h(5), h(200), 7937317, "HMYV", "SEA STAR 7", 70, "KP"),
        # the fishing vessel reported type 70 until h(30), then 30
        (FISHER, h(-100), h(30), None, None, "JIN HAI 8", 70, "CN"),
        (FISHER, h(30), h(200), None, None, "JIN HAI 8", 30, "CN"),
        (CARGO, h(-100), h(200), 9300001, "V7AB", "NORDIC PEARL", 70, "MH"),
        (LOW, h(-100), h(200), 9400001, "DABC", "ELBE TRADER", 70, "DE"),
    ]
    cols = ["mmsi", "valid_from", "valid_to", "imo", "callsign", "shipname", "ship_type",
            "flag"]
    return conform(pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows]), IDENTITIES)


def ofac_matches() -> pl.DataFrame:
    """Matches of the synthetic DPRK identity against the real OFAC entry (by IMO)."""
    entries = pl.read_csv(OFAC, infer_schema_length=0)
    entry = entries.filter(pl.col("imo") == "7937317").row(0, named=True)
    assert entry["name"] == "CHONG CHON GANG" and entry["program"] == "DPRK"
    return pl.DataFrame({
        "mmsi": [DPRK], "list_name": ["ofac_sdn"], "entry_id": [entry["ent_num"]],
        "entry_name": [entry["name"]], "matched_on": ["imo"], "vessel_value": ["7937317"],
        "list_value": [entry["imo"]], "score": [100.0], "status": ["confirmed"],
    }, schema_overrides={"mmsi": pl.UInt32})


def risk() -> pl.DataFrame:
    return pl.DataFrame({"mmsi": [TANKER, DPRK, FISHER], "score": [72.0, 100.0, 10.0],
                         "rank": [2, 1, 3]},
                        schema_overrides={"mmsi": pl.UInt32, "rank": pl.UInt32})


def event_rows(encounter_h: float = 2.5, encounter_open: bool = False
               ) -> list[dict[str, object]]:
    return [
        {"kind": "encounter", "mmsi": TANKER, "other_mmsi": DPRK, "start": h(10),
         "end": h(10 + encounter_h), "lat": 38.5, "lon": 124.2, "score": 0.9,
         "evidence": {"duration_h": encounter_h}, "is_open": encounter_open},
        {"kind": "encounter", "mmsi": LOW, "other_mmsi": DPRK, "start": h(50), "end": h(52),
         "lat": 38.6, "lon": 124.1, "score": 0.9},
        {"kind": "encounter", "mmsi": FISHER, "other_mmsi": CARGO, "start": h(20),
         "end": h(24), "lat": 10.0, "lon": 110.0, "score": 0.8},
        {"kind": "gap", "mmsi": TANKER, "start": h(30), "end": h(60), "lat": 37.0,
         "lon": 123.0, "score": 1.0},
        {"kind": "gap", "mmsi": FISHER, "start": h(0), "end": h(10), "lat": 9.0,
         "lon": 111.0, "score": 1.0},
        {"kind": "spoofing", "mmsi": CARGO, "start": h(70), "end": h(71), "lat": 1.0,
         "lon": 104.0, "score": 0.95},
        {"kind": "zone_entry", "mmsi": FISHER, "start": h(40), "lat": 10.5, "lon": 110.5,
         "zone": "Reef-MPA", "score": 1.0},
        {"kind": "zone_entry", "mmsi": FISHER, "start": h(20), "lat": 10.5, "lon": 110.5,
         "zone": "Reef-MPA", "score": 1.0},  # before it reported type 30: no fishing alert
        {"kind": "zone_entry", "mmsi": TANKER, "start": h(40), "lat": 10.5, "lon": 110.5,
         "zone": "EEZ-North", "score": 1.0},
        {"kind": "identity_change", "mmsi": DPRK, "start": h(5), "lat": 39.0, "lon": 124.5,
         "score": 0.7, "evidence": {"shipname": {"old": "CHONG CHON GANG",
                                                  "new": "SEA STAR 7"}}},
    ]


def events(encounter_h: float = 2.5, encounter_open: bool = False) -> pl.DataFrame:
    return events_frame(event_rows(encounter_h, encounter_open), detector="test/1")


def fired(frame: pl.DataFrame) -> set[tuple[str, str, int]]:
    return {(r["rule"], r["kind"], r["mmsi"]) for r in frame.iter_rows(named=True)}


# ------------------------------------------------------------------------------------------
# Rules and validation


def test_default_rules_are_valid_and_cover_the_watch_officer_basics() -> None:
    rules = {r.name: r for r in default_rules()}
    assert set(rules) == {
        "encounter-with-designated-vessel", "long-encounter-at-sea", "ais-gap-over-24h",
        "position-spoofing", "fishing-vessel-zone-entry", "identity-change-of-listed-vessel",
        "high-risk-vessel",
    }
    assert rules["long-encounter-at-sea"].min_duration_h == 3.0
    assert rules["ais-gap-over-24h"].min_duration_h == 24.0
    assert rules["fishing-vessel-zone-entry"].ship_types == ((30, 30),)
    assert rules["high-risk-vessel"].is_vessel_rule and rules["high-risk-vessel"].min_risk == 60
    assert rules["encounter-with-designated-vessel"].severity == "critical"


RULES_HEAD = '[[rule]]\nname = "ok"\nkinds = ["gap"]\n\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[rule]]\nname = "r1"\nkinds = ["gap"]\nminimum_h = 3\n',
         ["line 8", "'r1'", "'minimum_h'", "unknown key"]),
        ('[[rule]]\nname = "r1"\nkinds = ["gap", "rendezvous"]\n',
         ["line 7", "'r1'", "'kinds'", "unknown event kind 'rendezvous'", "encounter"]),
        ('[[rule]]\nname = "r1"\nkinds = ["gap"]\nmin_duration_h = "3h"\n',
         ["line 8", "'min_duration_h'", "must be a number, got string"]),
        ('[[rule]]\nname = "r1"\nkinds = "gap"\nseverity = "urgent"\n',
         ["'severity'", "unknown severity 'urgent'", "critical"]),
        ('[[rule]]\nname = "ok"\nmin_risk = 60\n',
         ["duplicate name", "rule #1"]),
        ('[[rule]]\nname = "r1"\nzones = ["EEZ*"]\n',
         ["'zones'", "give 'kinds' too"]),
        ('[[rule]]\nname = "r1"\nseverity = "high"\n', ["'r1'", "has no condition"]),
        ('[[rule]]\nkinds = ["gap"]\n', ["rule #2", "missing required key 'name'"]),
        ('[[rule]]\nname = "r1"\nkinds = ["zone_entry"]\nship_types = ["fishing"]\n',
         ["'ship_types'", "ranges like"]),
        ('[[rule]]\nname = "r1"\nmin_risk = 160\n', ["'min_risk'", "[0, 100]"]),
        ('[[rule]]\nname = "r1"\nflags = ["Korea"]\n', ["'flags'", "alpha-2"]),
        ('[[rule]]\nname = "r1"\nkinds = ["gap"]\nsince = "yesterday"\n',
         ["'since'", "not an ISO 8601 time"]),
        ('[[rule]]\nname = "r1"\nkinds = ["gap"]\nenabled = "yes"\n',
         ["'enabled'", "true or false"]),
        ('[[rule]]\nname = "r1"\nlists = ["*"]\nmatch_status = ["likely"]\n',
         ["'match_status'", "unknown match status 'likely'"]),
        ('[[rules]]\nname = "r1"\n', ["unknown top-level key 'rules'"]),
        ('[[rule]]\nname = "r1\n', ["not valid TOML"]),
    ],
)
def test_rule_errors_name_the_rule_key_and_line(body: str, expected: list[str]) -> None:
    with pytest.raises(RuleError) as info:
        parse_rules(RULES_HEAD + body, "my_rules.toml")
    message = str(info.value)
    assert message.startswith("my_rules.toml")
    for part in expected:
        assert part in message, message


def test_rule_values_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(
        '[[rule]]\nname = " night gaps "\nkinds = "gap"\nflags = ["kp", "ir"]\n'
        'ship_types = [30, "80-89"]\nsince = 2024-03-01\nuntil = "2024-03-05T12:00:00"\n'
        'severity = "HIGH"\nwindow_h = 48\n'
    )
    (rule,) = load_rules(path)
    assert rule.name == "night gaps" and rule.kinds == ("gap",)
    assert rule.flags == ("KP", "IR") and rule.ship_types == ((30, 30), (80, 89))
    assert rule.since == datetime(2024, 3, 1, tzinfo=UTC)
    assert rule.until == datetime(2024, 3, 5, 12, tzinfo=UTC)
    assert rule.severity == "high" and rule.window_h == 48.0
    with pytest.raises(RuleError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.toml")


# ------------------------------------------------------------------------------------------
# Evaluation


def test_default_rules_fire_on_the_right_evidence() -> None:
    got = evaluate_rules(default_rules(), events(), identities(), ofac_matches(), risk())
    assert got.schema == pl.Schema(ALERT_CANDIDATES)
    assert fired(got) == {
        # either side of the encounter: the alert is about the vessel that met the listed one
        ("encounter-with-designated-vessel", "encounter", TANKER),
        ("encounter-with-designated-vessel", "encounter", LOW),
        ("long-encounter-at-sea", "encounter", FISHER),
        ("ais-gap-over-24h", "gap", TANKER),
        ("position-spoofing", "spoofing", CARGO),
        ("fishing-vessel-zone-entry", "zone_entry", FISHER),  # only once it was type 30
        ("identity-change-of-listed-vessel", "identity_change", DPRK),
        ("high-risk-vessel", "vessel", TANKER),
        ("high-risk-vessel", "vessel", DPRK),
    }
    enc = got.filter((pl.col("rule") == "encounter-with-designated-vessel")
                     & (pl.col("mmsi") == TANKER)).row(0, named=True)
    assert enc["other_mmsi"] == DPRK and enc["severity"] == "critical"
    assert "CHONG CHON GANG" in enc["message"] and "ofac_sdn" in enc["message"]
    evidence = json.loads(enc["evidence"])
    assert evidence["other_vessel"]["watchlists"][0]["entry_id"] == "17069"
    assert evidence["other_vessel"]["imo"] == 7937317
    assert evidence["vessel"]["risk"]["score"] == 72.0
    assert evidence["event"]["duration_h"] == 2.5
    assert evidence["rule"]["conditions"] == {"kinds": ["encounter"], "other_lists": ["*"]}
    assert enc["alert_id"] == alert_id("encounter-with-designated-vessel", enc["event_id"])
    # same inputs, same alerts, same order
    again = evaluate_rules(default_rules(), events(), identities(), ofac_matches(), risk())
    assert again.equals(got)


def test_missing_screening_and_risk_count_as_empty() -> None:
    got = evaluate_rules(default_rules(), events(), identities(), None, None)
    assert {r for r, _, _ in fired(got)} == {
        "long-encounter-at-sea", "ais-gap-over-24h", "position-spoofing",
        "fishing-vessel-zone-entry"}
    assert evaluate_rules(default_rules(), events().clear(), None).height == 0


def test_time_zone_list_and_flag_conditions() -> None:
    rules = parse_rules("""
        [[rule]]
        name = "recent"
        kinds = ["gap", "spoofing", "zone_entry"]
        window_h = 12
        [[rule]]
        name = "early"
        kinds = ["encounter"]
        until = 2024-03-01T12:00:00Z
        [[rule]]
        name = "eez"
        kinds = ["zone_entry"]
        zones = ["eez-*"]
        [[rule]]
        name = "korean-flag"
        kinds = ["identity_change", "encounter"]
        flags = ["KP"]
        [[rule]]
        name = "ofac-possible-only"
        kinds = ["identity_change"]
        lists = ["ofac*"]
        match_status = ["possible"]
        [[rule]]
        name = "off"
        kinds = ["gap"]
        enabled = false
    """)
    got = evaluate_rules(rules, events(), identities(), ofac_matches(), risk())
    assert fired(got) == {
        ("recent", "spoofing", CARGO),  # newest event end is h(71): window from h(59)
        ("recent", "gap", TANKER),  # ends at h(60)
        ("early", "encounter", TANKER),
        ("eez", "zone_entry", TANKER),
        ("korean-flag", "identity_change", DPRK),
        ("korean-flag", "encounter", DPRK),  # two encounters, seen from the DPRK side
    }
    assert got.filter(pl.col("rule") == "korean-flag")["event_id"].n_unique() == 3
    later = evaluate_rules(rules[:1], events(), identities(), now=h(200))
    assert later.height == 0


# ------------------------------------------------------------------------------------------
# Store: firing once, lifecycle


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.duckdb")
    s.upsert_events(events())
    s.replace("identities", identities())
    return s


def write_screening_and_risk(store: Store) -> None:
    matches = ofac_matches()
    store.con.register("_m", matches.to_arrow())
    store.con.execute("CREATE TABLE watchlist_matches AS SELECT * FROM _m")
    store.con.unregister("_m")
    r = risk()
    store.con.register("_r", r.to_arrow())
    store.con.execute("CREATE TABLE risk AS SELECT * FROM _r")
    store.con.unregister("_r")


def test_fire_never_repeats_the_same_evidence(store: Store) -> None:
    first = fire_alerts(store, default_rules())
    assert {r for r, _, _ in fired(first)} == {
        "long-encounter-at-sea", "ais-gap-over-24h", "position-spoofing",
        "fishing-vessel-zone-entry"}  # no screening or risk tables yet
    assert set(first["state"]) == {"new"}
    assert fire_alerts(store, default_rules()).height == 0
    write_screening_and_risk(store)
    second = fire_alerts(store, default_rules())
    assert {r for r, _, _ in fired(second)} == {
        "encounter-with-designated-vessel", "identity-change-of-listed-vessel",
        "high-risk-vessel"}
    assert fire_alerts(store, default_rules()).height == 0
    # the tanker's encounter with the DPRK vessel goes on: same event id, longer
    store.upsert_events(events(encounter_h=3.5))
    third = fire_alerts(store, default_rules())
    assert fired(third) == {("long-encounter-at-sea", "encounter", TANKER)}
    assert fire_alerts(store, default_rules()).height == 0
    total = first.height + second.height + third.height
    assert store.count("alerts") == total
    # one history row per alert fired, and one for the designated-vessel alert on the
    # encounter that grew (revised, not fired again)
    assert store.query("SELECT count(*) AS n FROM alert_history")["n"][0] == total + 1
    store.close()


def test_lifecycle_records_who_when_why(store: Store) -> None:
    new = fire_alerts(store, default_rules())
    gap_id = new.filter(pl.col("kind") == "gap")["alert_id"][0]
    spoof_id = new.filter(pl.col("kind") == "spoofing")["alert_id"][0]
    when = datetime.now(UTC)
    row = set_alert_state(store, gap_id[:6], "acknowledged", "officer A", "tasked MPA", at=when)
    assert row["alert_id"] == gap_id and row["state"] == "acknowledged"
    assert row["updated_by"] == "officer A" and row["note"] == "tasked MPA"
    assert row["updated_at"] == when
    with pytest.raises(ValueError, match="cannot be dated before"):
        set_alert_state(store, gap_id, "closed", "officer B", "backdated",
                        at=when - timedelta(hours=1))
    with pytest.raises(ValueError, match="is acknowledged; it cannot become acknowledged"):
        set_alert_state(store, gap_id, "acknowledged", "officer B", "again")
    al.close(store, gap_id, "officer B", "vessel seen in port on satellite image")
    with pytest.raises(ValueError, match=r"is closed; .*no further change"):
        al.acknowledge(store, gap_id, "officer B", "reopen?")
    with pytest.raises(ValueError, match="cannot become new"):
        set_alert_state(store, spoof_id, "new", "officer B", "x")
    al.close(store, spoof_id, "officer B", "known GPS fault")  # new -> closed
    with pytest.raises(ValueError, match="note is required"):
        al.close(store, new["alert_id"][0], "officer B", "  ")
    with pytest.raises(ValueError, match="unknown alert state"):
        set_alert_state(store, spoof_id, "resolved", "officer B", "x")
    with pytest.raises(UnknownAlertError, match="no alert 'ffffffffffffffff'"):
        al.acknowledge(store, "ffffffffffffffff", "officer B", "x")
    history = al.alert_history(store, gap_id)
    assert history["seq"].to_list() == [0, 1, 2]
    assert history.select("from_state", "to_state", "by").rows() == [
        (None, "new", "seasight"), ("new", "acknowledged", "officer A"),
        ("acknowledged", "closed", "officer B")]
    assert set(list_alerts(store, ["closed"])["alert_id"]) == {gap_id, spoof_id}
    assert list_alerts(store, ["new"]).height == new.height - 2
    # firing again does not reopen closed alerts
    assert fire_alerts(store, default_rules()).height == 0
    assert set(list_alerts(store, ["closed"])["alert_id"]) == {gap_id, spoof_id}
    store.close()


def test_alert_text_tells_the_duration_and_follows_the_growing_event(store: Store) -> None:
    """The watch officer is told how long the encounter had lasted; as it goes on the alert
    (same id, state and firing time) says how long it lasts now, and every revision is in
    its history with the old text."""
    write_screening_and_risk(store)
    store.upsert_events(events(encounter_h=2.5, encounter_open=True))
    rule = "encounter-with-designated-vessel"
    first = al.update_alerts(store, default_rules())
    assert first.revised.height == 0
    row = first.new.filter(pl.col("rule") == rule).row(0, named=True)
    aid, fired_at = row["alert_id"], row["created_at"]
    assert row["message"] == (
        "encounter of 412000001 (OCEAN GLORY) with 445000001 (SEA STAR 7) [listed ofac_sdn: "
        "CHONG CHON GANG], 2.5 h so far at 38.500N 124.200E from 2024-03-01T10:00:00Z")
    assert (row["duration_h_at_fire"], row["duration_h"], row["is_open"], row["revision"],
            row["end_at_fire"], row["revised_at"]) == (2.5, 2.5, True, 0, h(12.5), None)
    al.acknowledge(store, aid, "officer A", "watching it")

    # the encounter goes on: the alert is revised, the long-encounter rule fires now
    store.upsert_events(events(encounter_h=3.5, encounter_open=True))
    second = al.update_alerts(store, default_rules())
    assert fired(second.new) == {("long-encounter-at-sea", "encounter", TANKER)}
    assert "3.5 h so far" in second.new["message"][0]
    assert second.revised["alert_id"].to_list() == [aid]
    now = second.revised.row(0, named=True)
    assert ", 3.5 h so far at " in now["message"] and "2.5 h" not in now["message"]
    assert (now["state"], now["created_at"], now["duration_h_at_fire"], now["end_at_fire"],
            now["duration_h"], now["end"], now["revision"]) == (
        "acknowledged", fired_at, 2.5, h(12.5), 3.5, h(13.5), 1)
    assert now["revised_at"] is not None and now["updated_by"] == "officer A"
    assert json.loads(now["evidence"])["event"]["duration_h"] == 3.5

    # it ends after 7.2 h: both encounter alerts say how long it lasted
    store.upsert_events(events(encounter_h=7.2, encounter_open=False))
    third = al.update_alerts(store, default_rules())
    assert third.new.height == 0 and third.revised.height == 2
    assert all(", lasted 7.2 h at " in m for m in third.revised["message"])
    again = al.update_alerts(store, default_rules())
    assert again.new.height == 0 and again.revised.height == 0

    history = al.alert_history(store, aid)
    assert history.select("seq", "from_state", "to_state", "by").rows() == [
        (0, None, "new", "seasight"), (1, "new", "acknowledged", "officer A"),
        (2, "acknowledged", "acknowledged", "seasight"),
        (3, "acknowledged", "acknowledged", "seasight")]
    grew, ended = history["note"][2], history["note"][3]
    assert grew.startswith("event grew: 2.5 h -> 3.5 h so far")
    assert "was: encounter of" in grew and "2.5 h so far" in grew
    assert ended.startswith("event ended: lasted 7.2 h (was 3.5 h so far)")
    closed = al.close(store, aid[:8], "officer A", "patrol confirmed the transfer")
    assert (closed["state"], closed["revision"], closed["duration_h_at_fire"]) == (
        "closed", 2, 2.5)
    listed = list_alerts(store).filter(pl.col("alert_id") == aid).row(0, named=True)
    assert listed["created_at"] == fired_at and listed["duration_h"] == pytest.approx(7.2)
    rec = al.alert_records(list_alerts(store).filter(pl.col("alert_id") == aid))[0]
    assert rec["end_at_fire"] == "2024-03-01T12:30:00Z" and rec["revision"] == 2
    store.close()


def test_partner_text_says_open_or_lasted_like_the_operators() -> None:
    event = {"kind": "encounter", "zone": None, "start": h(10), "end": h(17.2),
             "lat": 38.5, "lon": 124.2, "is_open": True}
    text = al.partner_message("r", event, TANKER, "OCEAN GLORY", DPRK, None)
    assert text == ("encounter of 412000001 (OCEAN GLORY) with 445000001, 7.2 h so far "
                    "at 38.5N 124.2E from 2024-03-01T10:00:00Z")
    closed = al.partner_message("r", {**event, "is_open": False}, TANKER, None, DPRK, None)
    assert ", lasted 7.2 h at " in closed


def test_alerts_of_a_database_without_durations(store: Store) -> None:
    """Alerts stored before durations were get them from their rows, are not revised while
    their event stays as it was, and are once it grows."""
    write_screening_and_risk(store)
    fire_alerts(store, default_rules())
    for column in ("is_open", "duration_h", "end_at_fire", "duration_h_at_fire",
                   "revised_at", "revision"):
        store.con.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
    assert "duration_h" not in store.query("SELECT * FROM alerts LIMIT 0").columns
    update = al.update_alerts(store, default_rules())
    assert update.new.height == 0 and update.revised.height == 0
    gap = list_alerts(store).filter(pl.col("kind") == "gap").row(0, named=True)
    assert (gap["duration_h_at_fire"], gap["duration_h"], gap["revision"]) == (30.0, 30.0, 0)
    store.upsert_events(events(encounter_h=3.5))
    update = al.update_alerts(store, default_rules())
    assert update.revised["rule"].to_list() == ["encounter-with-designated-vessel"]
    assert fired(update.new) == {("long-encounter-at-sea", "encounter", TANKER)}
    revised = update.revised.row(0, named=True)
    assert (revised["duration_h_at_fire"], revised["duration_h"], revised["revision"]) == (
        2.5, 3.5, 1)
    note = al.alert_history(store, revised["alert_id"])["note"].to_list()[-1]
    assert note.startswith("event revised: 2.5 h -> 3.5 h; end 2024-03-01T13:30:00Z")
    store.close()


# ------------------------------------------------------------------------------------------
# CLI

runner = CliRunner()


def test_cli_fire_list_ack_close(store: Store, tmp_path: Path) -> None:
    write_screening_and_risk(store)
    db = str(store.path)
    store.close()
    empty = runner.invoke(alerts_app, ["--db", db, "--json"])
    assert empty.exit_code == 0 and empty.stdout == ""
    fire = runner.invoke(alerts_app, ["fire", "--db", db, "--json"])
    assert fire.exit_code == 0, fire.output
    new = [json.loads(line) for line in fire.stdout.splitlines()]
    assert len(new) == 9 and {a["state"] for a in new} == {"new"}
    assert runner.invoke(alerts_app, ["fire", "--db", db, "--json"]).stdout == ""
    listed = runner.invoke(alerts_app, ["--db", db, "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows[0]["severity"] == "critical" and len(rows) == 9
    target = rows[0]["alert_id"]
    ack = runner.invoke(alerts_app, ["ack", target[:8], "--note", "patrol tasked", "--by",
                                     "WO Smith", "--db", db])
    assert ack.exit_code == 0, ack.output
    assert f"alert {target} acknowledged by WO Smith" in ack.stdout
    again = runner.invoke(alerts_app, ["ack", target, "--note", "again", "--db", db])
    assert again.exit_code == 1 and "cannot become acknowledged" in again.stderr
    closed = runner.invoke(alerts_app, ["close", target, "--note", "transfer confirmed",
                                        "--db", db, "--json"])
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.stdout)["state"] == "closed"
    open_now = runner.invoke(alerts_app, ["--db", db, "--json"])
    assert len(open_now.stdout.splitlines()) == 8
    only_closed = runner.invoke(alerts_app, ["--db", db, "--json", "--state", "closed"])
    assert [json.loads(x)["alert_id"] for x in only_closed.stdout.splitlines()] == [target]
    table = runner.invoke(alerts_app, ["--db", db, "--state", "all"])
    assert table.exit_code == 0 and "9 alerts" in table.stdout
    hist = runner.invoke(alerts_app, ["history", target, "--db", db])
    assert "WO Smith: patrol tasked" in hist.stdout
    bad_state = runner.invoke(alerts_app, ["--db", db, "--state", "done"])
    assert bad_state.exit_code == 2
    no_note = runner.invoke(alerts_app, ["ack", target, "--db", db])
    assert no_note.exit_code == 2
    unknown = runner.invoke(alerts_app, ["ack", "zz", "--note", "x", "--db", db])
    assert unknown.exit_code == 1 and "no alert 'zz'" in unknown.stderr


def test_cli_rules_errors_and_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "gaps"\nkinds = ["gaps"]\n')
    db = str(tmp_path / "x.duckdb")
    result = runner.invoke(alerts_app, ["fire", "--rules", str(bad), "--db", db])
    assert result.exit_code == 1
    assert "line 3" in result.stderr and "'gaps'" in result.stderr
    assert "unknown event kind" in result.stderr
    check = runner.invoke(alerts_app, ["check", str(bad)])
    assert check.exit_code == 1
    shipped = Path(str(resources.files("seasight") / "data" / "alerts" / "default_rules.toml"))
    good = runner.invoke(alerts_app, ["check", str(shipped)])
    assert good.exit_code == 0 and "7 rules OK" in good.stderr
    missing = runner.invoke(alerts_app, ["--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no such database" in missing.stderr
