"""Screening never goes stale: the order of commands (list then data, or data then list) never
changes the matches, the risk or the alerts, by the command line or the Python API."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from seasight.analysis.detection import detect_store, refresh_identities
from seasight.cli import app
from seasight.ingest.pipeline import ingest_paths
from seasight.risk.alerts import default_rules, fire_alerts
from seasight.risk.score import risk_store
from seasight.risk.watchlists import (
    add_watchlist,
    default_watchlists,
    ensure_screening,
    screening_is_current,
    watchlist_matches,
)
from seasight.sim import simulate, write_simulation
from seasight.store import Store

runner = CliRunner()
OFAC = Path(__file__).resolve().parents[1] / "src/seasight/data/watchlists/" \
    "ofac_sdn_vessels_2021-07.csv"
#: Columns that say when something was computed, not what: left out of the comparisons.
WHEN = ("created_at", "updated_at", "changed_at", "screened_at")


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated feed with the scenario's DPRK-listed vessel in it."""
    folder = tmp_path_factory.mktemp("screening")
    write_simulation(simulate("indo-pacific", hours=30, vessels=80, seed=7), folder)
    return folder / "feed.nmea"


def _picture(db: Path) -> dict[str, pl.DataFrame]:
    """What the order must not change: matches, risk and alerts (times of computing left
    out), sorted."""
    with Store(db, read_only=True) as store:
        matches = watchlist_matches(store)
        risk = store.query("SELECT * FROM risk")
        alerts = store.query("SELECT * FROM alerts")

    def plain(frame: pl.DataFrame) -> pl.DataFrame:
        frame = frame.drop([c for c in WHEN if c in frame.columns])
        return frame.sort(frame.columns, nulls_last=True) if frame.height else frame

    return {"matches": plain(matches), "risk": plain(risk), "alerts": plain(alerts)}


def _cli(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def _commands(db: Path, feed: Path, list_first: bool) -> None:
    watchlist = ["watchlist", "add", str(OFAC), "--db", str(db)]
    if list_first:
        _cli(*watchlist)
    _cli("ingest", str(feed), "--db", str(db))
    _cli("detect", "--db", str(db))
    if not list_first:
        _cli(*watchlist)
    _cli("risk", "--db", str(db))
    _cli("alerts", "fire", "--db", str(db))


def test_list_then_data_equals_data_then_list_by_the_command_line(
        feed: Path, tmp_path: Path) -> None:
    first, last = tmp_path / "list-first.duckdb", tmp_path / "data-first.duckdb"
    _commands(first, feed, list_first=True)
    _commands(last, feed, list_first=False)
    a, b = _picture(first), _picture(last)
    # the scenario's designated vessel is matched (confirmed, by IMO) on both paths
    assert (a["matches"]["status"] == "confirmed").any()
    assert a["risk"].height > 0 and a["alerts"].height > 0
    for name in ("matches", "risk", "alerts"):
        assert a[name].equals(b[name]), name


def test_list_then_data_by_the_python_api(feed: Path, tmp_path: Path) -> None:
    """The API path a notebook takes: risk and alerts bring screening up to date whatever
    ran before them."""
    first, last = tmp_path / "api-first.duckdb", tmp_path / "api-last.duckdb"
    for db, list_first in ((first, True), (last, False)):
        with Store(db) as store:
            if list_first:
                add_watchlist(store, default_watchlists()[0])
        ingest_paths([feed], db)
        with Store(db) as store:
            detect_store(store)
            if not list_first:
                add_watchlist(store, default_watchlists()[0])
            risk_store(store)
            fire_alerts(store, default_rules())
    a, b = _picture(first), _picture(last)
    assert a["matches"].height > 0
    for name in ("matches", "risk", "alerts"):
        assert a[name].equals(b[name]), name


def test_ingest_alone_screens_new_static_reports(feed: Path, tmp_path: Path) -> None:
    """A list loaded, then data ingested, with no detection run: the listed vessel is
    matched as soon as the ingest ends (its identities come from the static reports)."""
    db = tmp_path / "ingest-only.duckdb"
    _cli("watchlist", "add", str(OFAC), "--db", str(db))
    _cli("ingest", str(feed), "--db", str(db))
    with Store(db, read_only=True) as store:
        assert screening_is_current(store)
        assert (watchlist_matches(store)["status"] == "confirmed").any()


def test_screening_knows_when_it_is_stale(feed: Path, tmp_path: Path) -> None:
    db = tmp_path / "stale.duckdb"
    ingest_paths([feed], db)
    with Store(db) as store:
        assert refresh_identities(store)  # static reports, no identities yet
        assert not refresh_identities(store)  # nothing new since
        add_watchlist(store, default_watchlists()[0])
        ensure_screening(store)  # the first screening of every list records its inputs
        assert screening_is_current(store)
        assert not ensure_screening(store)
        # a changed identity makes it stale until screened again
        store.con.execute("UPDATE identities SET shipname = 'RENAMED' WHERE rowid = 0")
        assert not screening_is_current(store)
        assert ensure_screening(store)
        assert screening_is_current(store)
