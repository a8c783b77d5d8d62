"""Every example in every command's help runs as written, against a small demo database.

The examples are read from each command's help text (and checked to appear in its rendered
``--help``); ``sea.duckdb`` (and the default ``--db``, through ``SEASIGHT_DB``) is the demo
database; the files the examples name are made in the working folder first; identifiers of
things the examples create (an agreement, a key, an alert) are those created here. Each
``seasight logistics`` example runs on its own copy of a database in the state it needs (the
people of two navies, their ACSA, and the worked fuel order up to the step the example takes),
those states built once with the logistics Python API. Examples
that need a network peer or a cluster are parsed (every option and value checked) but not run;
that list is explicit and small. The help also shows boolean flags without a value, and read
commands do not promise to create a missing database.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from conftest import analysed_demo
from logistics_world import (
    AGREEMENT,
    JP,
    JP_ACCEPTER,
    JP_PLACER,
    RATES,
    US,
    US_PAYER,
    US_PLACER,
    US_RECEIVER,
    at,
    setup,
    step,
)
from seasight.cli import app
from seasight.logistics import storage
from seasight.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = Path(__file__).resolve().parents[1] / "src" / "seasight" / "data"

#: Examples parsed but not run, each with the reason (match: the example starts with it).
PARSE_ONLY = {
    "seasight ingest --tcp": "connects to a TCP feed at 127.0.0.1:5631 for an hour",
    "seasight ingest --udp": "listens for UDP datagrams until interrupted",
    "seasight ingest ./feeds/ --lake s3://": "writes to an S3 bucket",
    "seasight detect --lake": "starts or reaches a Dask cluster",
    "seasight serve": "serves HTTP until interrupted (and reaches AIS feeds)",
    "seasight relay": "serves NMEA over TCP/UDP until interrupted",
    "seasight federate": "pulls from a partner's service over the network",
    "seasight simulate --scenario indo-pacific --hours 24 --vessels 10000":
        "simulates ten thousand vessels (minutes)",
}

runner = CliRunner()


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = list(_walk(ROOT))


def _examples(text: str) -> list[str]:
    """The command lines of the "Example(s):" section of a help text (continued lines
    joined)."""
    out: list[str] = []
    inside = False
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"^Examples?:$", stripped):
            inside = True
            continue
        if not inside:
            continue
        if pending:
            pending += " " + stripped.rstrip("\\").strip()
            if not stripped.endswith("\\"):
                out.append(pending)
                pending = ""
            continue
        if line.startswith("    ") and stripped.startswith("-") and out:
            raise AssertionError(f"{out[-1]!r} goes on in the next line without a '\\': "
                                 "pasted into a shell it runs without the rest")
        if line.startswith("  ") and "seasight " in stripped:
            if stripped.endswith("\\"):
                pending = stripped.rstrip("\\").strip()
            else:
                out.append(stripped)
    return out


def _all_examples() -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    seen: set[str] = set()
    for path, cmd in COMMANDS:
        for example in _examples(cmd.epilog or "") + _examples(cmd.help or ""):
            if example not in seen:
                seen.add(example)
                found.append((path, example))
    return found


EXAMPLES = _all_examples()


def _command_part(example: str) -> tuple[list[str], bool]:
    """The ``seasight`` words of an example (without pipes and redirections) and whether
    standard input comes from a pipe."""
    words = shlex.split(re.sub(r"#.*$", "", example))
    segments: list[list[str]] = [[]]
    for word in words:
        if word in ("|", ">"):
            segments.append([])
        else:
            segments[-1].append(word)
    for i, seg in enumerate(segments):
        if seg and seg[0] == "seasight":
            return seg[1:], i > 0 and words[words.index("seasight") - 1] == "|"
    raise AssertionError(f"no seasight command in {example!r}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a small demo database and every file the examples name."""
    folder = tmp_path_factory.mktemp("examples")
    sim = folder / "sim"
    db = folder / "demo.duckdb"
    analysed_demo(sim, db, hours=24, vessels=50)
    feed = (sim / "feed.nmea").read_bytes()
    lines = feed.splitlines(keepends=True)
    (folder / "capture.nmea").write_bytes(b"".join(lines[:2000]))
    (folder / "capture.nmea.gz").write_bytes(gzip.compress(b"".join(lines[:2000])))
    (folder / "day.nmea.gz").write_bytes(gzip.compress(b"".join(lines[:500])))
    (folder / "feeds").mkdir()
    (folder / "feeds" / "part.nmea").write_bytes(b"".join(lines[2000:2500]))
    shutil.copy(SHARED / "tracks" / "marinecadastre_sample_20230111.csv",
                folder / "marinecadastre_2023_01_11.csv")
    zones = json.loads((sim / "zones.geojson").read_text())
    for name, part in (("reef.geojson", zones["features"][:1]),
                       ("eez.geojson", zones["features"][1:])):
        (folder / name).write_text(json.dumps({**zones, "features": part}))
    (folder / "region.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[90.0, -10.0], [140.0, -10.0], [140.0, 40.0], [90.0, 40.0], [90.0, -10.0]]]}))
    shutil.copy(DATA / "watchlists" / "ofac_sdn_vessels_2021-07.csv", folder)
    (folder / "partners.json").write_text(json.dumps({"name": "partners", "entries": [
        {"name": "GRAND NAVIGATOR", "imo": 9123456}]}))
    shutil.copy(DATA / "alerts" / "default_rules.toml", folder / "my_rules.toml")
    (folder / "partner_export.csv").write_text(
        "Zeit,Schiff,Breite,Laenge\n01.03.2024 10:00,ALPHA,1.25,103.8\n"
        "01.03.2024 10:05,ALPHA,1.26,103.81\n")
    (folder / "partner.toml").write_text(
        'time_format = "%d.%m.%Y %H:%M"\n[columns]\ntime = "Zeit"\nid = "Schiff"\n'
        'lat = "Breite"\nlon = "Laenge"\n')
    (folder / "anon.csv").write_text(
        "Timestamp;ID;Lat;Lon;Speed\n01/03/2024 10:00;V1;58.9;10.5;120\n"
        "01/03/2024 10:05;V1;58.91;10.51;118\n")
    return folder


#: The worked fuel order (README, example 1): JMSDF provides 120 m3 of F-76 to the US Navy.
FUEL_ORDER: dict[str, Any] = {
    "requesting_unit": {"name": "USS Ronald Reagan", "mmsi": 368926000, "imo": 9338266},
    "providing_unit": "JMSDF Yokosuka District", "place": {"locode": "JPYOK"},
    "purpose": "port_call", "start": "2025-03-10", "end": "2025-03-12", "method": "cash",
    "lines": [{"category": "fuel", "description": "Marine diesel F-76", "quantity": "120",
               "unit": "m3", "unit_price": "98500", "currency": "JPY"}]}

#: Two more orders, so that the third (a repair beyond the US Navy's ceiling) is -0003.
OTHER_ORDERS: list[tuple[Any, dict[str, Any]]] = [
    (JP_PLACER, {"requesting_unit": {"name": "JS Izumo"}, "providing_unit": "NAVBASE Guam",
                 "place": {"lat": 13.444, "lon": 144.654, "name": "Apra Harbor"},
                 "purpose": "exercise", "start": "2025-06-01", "end": "2025-06-05",
                 "method": "replacement_in_kind",
                 "lines": [{"category": "water", "description": "Potable water",
                            "quantity": "200", "unit": "m3", "unit_price": "3.50",
                            "currency": "USD"}]}),
    (JP_PLACER, {"requesting_unit": "JS Kaga", "providing_unit": "SRF Yokosuka",
                 "place": {"locode": "JPYOK"}, "purpose": "exercise", "start": "2025-02-01",
                 "end": "2025-02-10", "method": "cash",
                 "lines": [{"category": "repair", "description": "Hull repair",
                            "quantity": "1", "unit": "lot", "unit_price": "12000.00",
                            "currency": "USD"}]})]


def _logistics_state(example: str) -> str:
    """The state of the logistics database ``example`` runs on."""
    words = _command_part(example)[0]
    command = words[1]
    if command == "agreement":
        return "people" if "@acsa.json" in words else "agreement"
    if command == "order":
        return "agreement" if "--submit" in words else "submitted"
    return {"submit": "draft", "accept": "submitted", "reject": "submitted",
            "cancel": "submitted", "override": "over_ceiling", "deliver": "accepted",
            "receive": "delivered", "invoice": "received",
            "settle": "invoiced"}.get(command, "settled")


def _copy_db(source: Path, target: Path) -> None:
    """Copy database ``source`` to ``target`` with the files beside it (its write-ahead log
    and its audit anchor and key), replacing those of ``target``."""
    shutil.copy(source, target)
    for suffix in (".wal", ".audit-anchor", ".audit-key"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")


@pytest.fixture(scope="module")
def logistics_states(workdir: Path) -> dict[str, Path]:
    """Databases in each state a ``seasight logistics`` example needs (by name), and the files
    those examples name (acsa.json, rates.csv, order.json) in the working folder."""
    from seasight.access.accounts import create_organisation, create_user

    (workdir / "acsa.json").write_text(json.dumps(AGREEMENT))
    (workdir / "rates.csv").write_text(RATES)
    (workdir / "order.json").write_text(json.dumps(FUEL_ORDER))
    folder = workdir / "logistics-states"
    folder.mkdir()
    db = folder / "world.duckdb"
    states: dict[str, Path] = {}

    def keep(name: str, source: Path = db) -> Path:
        states[name] = folder / f"{name}.duckdb"
        _copy_db(source, states[name])
        return states[name]

    with Store(db) as store:
        for org, prefix in ((JP, "jp"), (US, "us")):
            create_organisation(store, org)
            for duty in ("placer", "receiver", "payer", "accepter", "admin"):
                create_user(store, org, f"{prefix}.{duty}",
                            "admin" if duty == "admin" else "analyst")
    keep("people")
    with Store(db) as store:
        setup(store)
    keep("agreement")
    with Store(keep("over_ceiling")) as store:
        for who, order in ((US_PLACER, FUEL_ORDER), *OTHER_ORDERS):
            storage.place_order(store, who, "acsa-jp-us", order, submit=True,
                                **at("2025-01-20"))
    with Store(db) as store:
        oid = storage.place_order(store, US_PLACER, "acsa-jp-us", FUEL_ORDER,
                                  **at("2025-03-03"))["order_id"]
    keep("draft")
    for name, who, kind, day, payload in (
            ("submitted", US_PLACER, "submit", "2025-03-03", {}),
            ("accepted", JP_ACCEPTER, "accept", "2025-03-04", {}),
            ("delivered", JP_PLACER, "deliver", "2025-03-10", {"lines": {"1": "120"}}),
            ("received", US_RECEIVER, "receive", "2025-03-10",
             {"delivery_id": "D1", "lines": {"1": "120"}}),
            ("invoiced", JP_ACCEPTER, "invoice", "2025-03-14", {}),
            ("settled", US_PAYER, "settle", "2025-04-15",
             {"method": "cash", "amount": "80000.00", "currency": "USD"})):
        with Store(db) as store:
            step(store, who, oid, kind, day, **payload)
        keep(name)
    return states


def _ids(db: Path) -> dict[str, str]:
    """The identifiers of things the examples refer to, as created in the demo database."""
    out: dict[str, str] = {}
    with Store(db, read_only=True) as store:
        alert = store.query("SELECT alert_id FROM alerts ORDER BY severity, alert_id LIMIT 1")
        if alert.height:
            out["3fa9c0"] = alert["alert_id"][0][:8]
        if store.has_table("agreements"):
            agr = store.query("SELECT agreement_id FROM agreements ORDER BY created DESC "
                              "LIMIT 1")
            if agr.height:
                out["agr-1a2b3c4d5e6f"] = agr["agreement_id"][0]
        if store.has_table("api_keys"):
            key = store.query("SELECT key_id FROM api_keys WHERE label = 'alice''s laptop'")
            if key.height:
                out["3f9a0c1d2e4b"] = key["key_id"][0]
    return out


def _parse_only(args: list[str]) -> None:
    """Parse ``args`` as the command line would (options, values, files), without running."""
    cmd, ctx, rest, name = ROOT, None, list(args), "seasight"
    while True:
        ctx = cmd.make_context(name, rest, parent=ctx)
        if not hasattr(cmd, "resolve_command"):
            return
        rest = [*ctx._protected_args, *ctx.args]
        name, cmd, rest = cmd.resolve_command(ctx, rest)


def test_every_help_text_has_examples_that_are_found() -> None:
    assert len(EXAMPLES) > 40
    names = {" ".join(path) for path, _ in EXAMPLES}
    assert {"ingest", "vessel", "relay", "agreement", "alerts", "access"} <= names


@pytest.mark.parametrize(("path", "example"), EXAMPLES,
                         ids=[e[:60] for _, e in EXAMPLES])
def test_help_example_runs_as_written(path: tuple[str, ...], example: str, workdir: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      request: pytest.FixtureRequest) -> None:
    helped = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert helped.exit_code == 0
    assert " ".join(example.split()) in " ".join(helped.stdout.replace("\\", " ").split()), \
        f"{example!r} is not shown whole in 'seasight {' '.join(path)} --help'"
    monkeypatch.chdir(workdir)
    db = workdir / "demo.duckdb"
    if path[:1] == ("logistics",):
        states: dict[str, Path] = request.getfixturevalue("logistics_states")
        db = workdir / "logistics-example.duckdb"
        _copy_db(states[_logistics_state(example)], db)
    args, piped = _command_part(example)
    ids = _ids(workdir / "demo.duckdb")
    args = [str(db) if a == "sea.duckdb" else ids.get(a, a) for a in args]
    reason = next((r for prefix, r in PARSE_ONLY.items() if example.startswith(prefix)), None)
    if reason is not None:
        _parse_only(args)
        return
    stdin = (workdir / "capture.nmea").read_bytes() if piped else None
    if "--password" in args:
        stdin = b"example-password-1\nexample-password-1\n"
    result = runner.invoke(app, args, input=stdin, env={"SEASIGHT_DB": str(db)})
    assert result.exit_code == 0, f"{example}\n{result.output}\n{result.exception!r}"


def test_flags_take_no_value_in_the_help() -> None:
    for path, _ in COMMANDS:
        out = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).stdout
        assert "<bool>" not in out, f"seasight {' '.join(path)} --help shows <bool>"


def test_read_commands_do_not_promise_to_create_the_database(tmp_path: Path) -> None:
    """A command that refuses a missing database does not say "created if missing"."""
    missing = tmp_path / "missing.duckdb"
    checked = 0
    for path, cmd in COMMANDS:
        if hasattr(cmd, "commands") or not any(p.name == "db" for p in cmd.params) \
                or path == ("serve",):  # serves until interrupted; its help says when
            continue
        db_help = next(p for p in cmd.params if p.name == "db").help or ""
        if "created if missing" not in db_help:
            continue
        result = runner.invoke(app, [*path, "--db", str(missing)], input="")
        assert "no such database" not in result.output, \
            f"seasight {' '.join(path)} says 'created if missing' but refuses a missing file"
        missing.unlink(missing_ok=True)
        Path(f"{missing}.wal").unlink(missing_ok=True)
        checked += 1
    assert checked >= 10


def test_relay_listens_on_this_machine_by_default() -> None:
    relay = ROOT.commands["relay"]  # type: ignore[attr-defined]
    serve = ROOT.commands["serve"]  # type: ignore[attr-defined]
    host = {c: next(p for p in c.params if p.name == "host").default for c in (relay, serve)}
    assert host[relay] == host[serve] == "127.0.0.1"
