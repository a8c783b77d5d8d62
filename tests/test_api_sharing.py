"""Sharing through the HTTP API: whatever the agreements, no path out of the service gives a
partner more than it is granted.

One store per module: a simulated feed (times just before now, so delays matter) split by
receiving station into three files, owned by ``navy``, ``coastguard`` and ``local``. Each
hypothesis example replaces every agreement with random ones (areas as boxes, time windows,
delays, excluded MMSIs and ship types, precision, some revoked, some to another grantee) and
asks, as a ``coastguard`` viewer, every read path: vessels, tracks, events (JSON and GeoJSON),
alerts, dossiers, exports (CSV and GeoJSON) and the live stream (new lines ingested as
``local`` under a navy-owned source). An oracle written here, independent of
:mod:`seasight.sharing.policy`, checks every returned position and event against the rows
stored: of the caller's own origin, or inside an active agreement's limits (area, window,
delay, exclusions) and rounded as granted. The origins of derived rows (events, alerts) are
read with :func:`seasight.sharing.reads.events_for_policy` (the definition of which data an
event derives from); the judgement of limits is the oracle's own.

A second test revokes an agreement while navy data streams in and measures how long the
partner's stream keeps receiving navy positions (printed), and checks REST stops at once.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import queue
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_world import retime, split_feed, stock_store
from seasight.access import issue_key
from seasight.api import create_app
from seasight.sharing import owners
from seasight.sharing.columns import partner_columns
from seasight.sharing.origins import attach_origin
from seasight.sharing.reads import (
    events_for_policy,
    export_rows,
    ship_types,
    with_event_columns,
)
from seasight.sim import simulate, write_simulation
from seasight.sim.scenario import get_scenario
from seasight.store import Store

ME = "coastguard"
NAVY = "navy"
HOURS = 6.0
LEAD = timedelta(hours=2)  # the simulation ends this long before the module starts
NAVY_LIVE = "api:navy/navy-live"  # source of lines the navy posts during the tests


# --------------------------------------------------------------------------- the world


@dataclasses.dataclass
class World:
    client: TestClient
    keys: dict[str, str]  # local (admin), me (viewer), navy_admin, navy_ingest
    start: datetime
    end: datetime
    bounds: tuple[float, float, float, float]  # w, s, e, n of the data
    mmsis: list[int]
    live_lines: list[bytes]  # lines of a second simulation, ingested as navy live data
    live_used: int = 0

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers(who))

    def read(self, fn: Any) -> Any:
        return self.client.app.state.access.read(fn)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("sharing")
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - LEAD - timedelta(hours=HOURS)
    scenario = dataclasses.replace(get_scenario("indo-pacific"), start=start)
    write_simulation(simulate(scenario, hours=HOURS, vessels=40, seed=5), folder)
    paths = split_feed(folder / "feed.nmea", folder)
    live_dir = folder / "live"
    write_simulation(simulate(scenario, hours=0.5, vessels=40, seed=6), live_dir)
    live = [ln for ln in (live_dir / "feed.nmea").read_bytes().splitlines(keepends=True)
            if b",1,1," in ln]
    db = folder / "sharing.duckdb"
    keys: dict[str, str] = {}
    with Store(db) as store:
        stock_store(store, paths.values(), {str(paths["navy"]): NAVY,
                                            str(paths["coastguard"]): ME},
                    folder / "zones.geojson", (NAVY, ME, "outsider"))
        keys["local"] = issue_key(store, "local", role="admin",
                                  scopes=("read", "ingest", "admin")).secret
        keys["me"] = issue_key(store, ME, role="viewer").secret
        keys["navy_admin"] = issue_key(store, NAVY, role="admin",
                                       scopes=("read", "admin")).secret
        keys["navy_ingest"] = issue_key(store, NAVY, role="analyst",
                                        scopes=("read", "ingest")).secret
        stats = store.query("SELECT min(lon) AS w, min(lat) AS s, max(lon) AS e, "
                            "max(lat) AS n FROM positions WHERE lat BETWEEN -90 AND 90 "
                            "AND lon BETWEEN -180 AND 180").row(0)
        mmsis = store.query("SELECT DISTINCT mmsi FROM positions ORDER BY mmsi")["mmsi"]
        origins = attach_origin(store.query("SELECT DISTINCT source FROM positions"),
                                owners(store))["origin"].to_list()
    assert {NAVY, ME, "local"} <= set(origins)
    with TestClient(create_app(db, stream_poll_s=0.2)) as client:
        yield World(client, keys, start, start + timedelta(hours=HOURS),
                    tuple(stats), [int(m) for m in mmsis], live)


# --------------------------------------------------------------------------- agreements


@dataclasses.dataclass(frozen=True)
class Spec:
    """An agreement as the test draws it (then created through the API)."""

    grantor: str
    grantee: str
    classes: tuple[str, ...]
    box: tuple[float, float, float, float] | None  # w, s, e, n
    valid_from: datetime | None
    valid_to: datetime | None
    delay_s: float
    exclude_mmsi: tuple[int, ...]
    exclude_types: tuple[tuple[int, int], ...]
    precision: int | None
    revoked: bool

    def body(self) -> dict[str, Any]:
        area = None
        if self.box is not None:
            w, s, e, n = self.box
            area = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n],
                                                         [w, s]]]}
        return {"grantor": self.grantor, "grantee": self.grantee,
                "classes": list(self.classes), "area": area,
                "valid_from": None if self.valid_from is None else self.valid_from.isoformat(),
                "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
                "delay_s": self.delay_s, "exclude_mmsi": list(self.exclude_mmsi),
                "exclude_ship_types": [f"{lo}-{hi}" for lo, hi in self.exclude_types],
                "precision_decimals": self.precision}


CLASS_NAMES = ("positions", "identities", "events", "alerts", "dossiers", "watchlists")
TYPE_RANGES = ((30, 30), (60, 69), (70, 79), (80, 89))


@st.composite
def specs(draw: st.DrawFn, w: World) -> Spec:
    grantor, grantee = draw(st.sampled_from([(NAVY, ME), (NAVY, ME), ("local", ME),
                                             (ME, NAVY), ("local", NAVY)]))
    classes = draw(st.sets(st.sampled_from(CLASS_NAMES), min_size=1))
    box = None
    if draw(st.booleans()):
        x0, y0, x1, y1 = w.bounds
        fx = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
        fy = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
        box = (round(x0 + fx[0] * (x1 - x0), 3), round(y0 + fy[0] * (y1 - y0), 3),
               round(x0 + fx[1] * (x1 - x0), 3) + 0.01, round(y0 + fy[1] * (y1 - y0), 3) + 0.01)
    span = HOURS * 3600
    valid_from = valid_to = None
    if draw(st.booleans()):
        valid_from = w.start + timedelta(seconds=draw(st.integers(0, int(span))))
    if draw(st.booleans()):
        base = valid_from or w.start
        valid_to = base + timedelta(seconds=draw(st.integers(600, int(span))))
    delay = draw(st.sampled_from([0.0, 0.0, 3 * 3600.0, 5 * 3600.0, 7 * 3600.0]))
    if draw(st.integers(0, 3)) == 0:  # often enough, live data passes (the stream is tested)
        valid_to, delay = None, 0.0
    excl = tuple(draw(st.lists(st.sampled_from(w.mmsis), max_size=6, unique=True)))
    types = tuple(draw(st.lists(st.sampled_from(TYPE_RANGES), max_size=2, unique=True)))
    precision = draw(st.sampled_from([None, None, 0, 1, 2, 3]))
    return Spec(grantor, grantee, tuple(sorted(classes)), box, valid_from, valid_to, delay,
                excl, types, precision, draw(st.booleans()))


def _replace_agreements(w: World, new: list[Spec]) -> list[Spec]:
    """Revoke every agreement, then create ``new`` through the API (the grantor's admin, or
    local's) and revoke those drawn revoked. Returns the specs in force."""
    listed = w.get("local", "/api/agreements").json()["items"]
    for a in listed:
        if a["revoked_at"] is None:
            r = w.client.delete(f"/api/agreements/{a['agreement_id']}",
                                headers=w.headers("local"))
            assert r.status_code == 200, r.text
    for spec in new:
        who = "navy_admin" if spec.grantor == NAVY else "local"
        r = w.client.post("/api/agreements", json=spec.body(), headers=w.headers(who))
        assert r.status_code == 201, r.text
        if spec.revoked:
            r = w.client.delete(f"/api/agreements/{r.json()['agreement_id']}",
                                headers=w.headers(who))
            assert r.status_code == 200 and r.json()["revoked_at"], r.text
    return [s for s in new if not s.revoked and s.grantee == ME]


# --------------------------------------------------------------------------- the oracle


def _t(text: str | None) -> datetime | None:
    if text is None:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class Oracle:
    """What ``coastguard`` may see, judged from the stored rows and the agreement specs."""

    def __init__(self, w: World, grants: list[Spec]) -> None:
        self.grants = grants
        self.now = datetime.now(UTC)  # later than the server's now: never stricter

        def load(store: Store) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame,
                                        pl.DataFrame]:
            who = owners(store)
            pos = attach_origin(store.query(
                "SELECT mmsi, ts, lat, lon, source FROM positions WHERE ts IS NOT NULL"), who)
            types = ship_types(store, pos["mmsi"])
            ev = events_for_policy(store, who)
            alerts = store.query("SELECT * FROM alerts")
            ev_cols = ev.select("event_id", "lat", "lon", "start", "end", "mmsi",
                                "other_mmsi", "zone")
            joined = alerts.join(ev_cols, on="event_id", how="left", suffix="_e")
            for c in ("mmsi", "other_mmsi", "start", "end"):
                joined = joined.with_columns(pl.coalesce(f"{c}_e", c).alias(c)).drop(f"{c}_e")
            al = with_event_columns(store, who, joined.with_columns(
                pl.col("mmsi").cast(pl.UInt32), pl.col("other_mmsi").cast(pl.UInt32)))
            return pos, types, ev, al

        pos, types, ev, al = w.read(load)
        self.type_of = dict(zip(types["mmsi"].to_list(), types["ship_type"].to_list(),
                                strict=True))
        self.positions: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
        for r in pos.iter_rows(named=True):
            self.positions[(int(r["mmsi"]), int(r["ts"].timestamp()))].append(r)
        self.events = {r["event_id"]: r for r in ev.iter_rows(named=True)}
        self.alerts = {r["alert_id"]: r for r in al.iter_rows(named=True)}
        self.checked = 0
        self.evidence_checked = 0  # evidence of rows with a foreign origin

    # -- limits of one agreement (strict box: the polygon's boundary is outside)
    def _passes(self, a: Spec, lat: float | None, lon: float | None, lo: datetime | None,
                hi: datetime | None, mmsis: list[int | None], timed: bool = True) -> bool:
        if a.box is not None:
            if lat is None or lon is None:
                return False
            w, s, e, n = a.box
            if not (w < lon < e and s < lat < n):
                return False
        if timed:
            if a.valid_from is not None and (lo is None or lo < a.valid_from):
                return False
            if a.valid_to is not None and (hi is None or hi > a.valid_to):
                return False
            if hi is not None and hi > self.now - timedelta(seconds=a.delay_s):
                return False
            if hi is None and (a.delay_s or a.valid_from or a.valid_to):
                return False
        for m in mmsis:
            if m is None:
                continue
            if m in a.exclude_mmsi:
                return False
            t = self.type_of.get(m)
            if t is not None and any(x <= t <= y for x, y in a.exclude_types):
                return False
        return True

    def _grant(self, origin: str, cls: str, lat: float | None, lon: float | None,
               lo: datetime | None, hi: datetime | None, mmsis: list[int | None],
               timed: bool = True) -> tuple[bool, int | None]:
        """(granted, decimals to round to: None = full) for one origin."""
        if origin == ME:
            return True, None
        passed = [a for a in self.grants if a.grantor == origin and cls in a.classes
                  and self._passes(a, lat, lon, lo, hi, mmsis, timed)]
        if not passed:
            return False, None
        precs = [a.precision for a in passed if a.precision is not None]
        return True, (min(precs) if precs else None)

    @staticmethod
    def _rounded(got: float | None, exact: float | None, prec: int | None) -> bool:
        if got is None or exact is None:
            return got is None or exact is None
        if prec is None:
            return abs(got - exact) < 1e-6
        scaled = got * 10**prec
        return (abs(scaled - round(scaled)) < 1e-6
                and abs(got - exact) <= 0.5 * 10**-prec + 1e-9)

    def position(self, mmsi: int, ts: datetime, lat: float, lon: float, where: str,
                 identity: bool = False) -> None:
        """A returned position (``identity``: shown with identity columns) must be granted."""
        self.checked += 1
        cands = self.positions.get((int(mmsi), int(ts.timestamp())), [])
        assert cands, f"{where}: position of {mmsi} at {ts} is not stored"
        for c in cands:
            ok, prec = self._grant(c["origin"], "positions", c["lat"], c["lon"], ts, ts,
                                   [int(mmsi)])
            if ok and self._rounded(lat, c["lat"], prec) and self._rounded(lon, c["lon"], prec):
                if identity:
                    id_ok, _ = self._grant(c["origin"], "identities", c["lat"], c["lon"], ts,
                                           ts, [int(mmsi)])
                    if not id_ok:
                        continue
                return
        raise AssertionError(f"{where}: position {mmsi} {ts} ({lat}, {lon}) exceeds the "
                             f"grants; stored {cands}; grants {self.grants}")

    def _derived(self, row: dict[str, Any], cls: str, lat: float | None, lon: float | None,
                 where: str) -> None:
        mmsis = [row["mmsi"], row.get("other_mmsi")]
        hi = row["end"] or row["start"]
        precs: list[int] = []
        for origin in row["origins"] or ["local"]:
            ok, prec = self._grant(origin, cls, row["lat"], row["lon"], row["start"], hi,
                                   mmsis)
            assert ok, f"{where}: {row.get('event_id')} of {origin} not granted {cls}"
            if prec is not None:
                precs.append(prec)
        prec = min(precs) if precs else None
        assert self._rounded(lat, row["lat"], prec) and self._rounded(lon, row["lon"], prec), (
            f"{where}: {row.get('event_id')} at ({lat}, {lon}) not rounded to {prec}")

    def event(self, rec: dict[str, Any], where: str) -> None:
        self.checked += 1
        row = self.events.get(rec["event_id"])
        assert row is not None, f"{where}: unknown event {rec['event_id']}"
        self._derived(row, "events", rec.get("lat"), rec.get("lon"), where)
        if "evidence" in rec:
            self.evidence(row, "events", rec["evidence"], where)

    def alert(self, rec: dict[str, Any], where: str) -> None:
        self.checked += 1
        row = self.alerts.get(rec["alert_id"])
        assert row is not None, f"{where}: unknown alert {rec['alert_id']}"
        self._derived(row, "alerts", row["lat"], row["lon"], where)
        self.evidence(row, "alerts", rec.get("evidence"), where)
        self.alert_text(row, rec.get("message") or "", where)

    def _foreign(self, row: dict[str, Any]) -> list[str]:
        return [o for o in (row["origins"] or ["local"]) if o != ME]

    def _identities(self, row: dict[str, Any]) -> bool:
        mmsis = [row["mmsi"], row.get("other_mmsi")]
        return all(self._grant(o, "identities", row["lat"], row["lon"], row["start"],
                               row["end"] or row["start"], mmsis)[0]
                   for o in self._foreign(row))

    def evidence(self, row: dict[str, Any], cls: str, ev: Any, where: str) -> None:
        """Every point and time of the evidence meets, for each foreign origin, the area,
        window and delay of an agreement the row passed; identity fields only where
        identities are granted; watchlist matches and risk never."""
        foreign = self._foreign(row)
        if not foreign or ev is None:
            return
        mmsis = [row["mmsi"], row.get("other_mmsi")]
        hi = row["end"] or row["start"]
        groups = [[a for a in self.grants if a.grantor == o and cls in a.classes
                   and self._passes(a, row["lat"], row["lon"], row["start"], hi, mmsis)]
                  for o in foreign]
        ids = self._identities(row)

        precs = [a.precision for a in self.grants if a.precision is not None]
        tol = 0.5 * 10 ** -min(precs) + 1e-9 if precs else 0.0  # a rounded point may cross

        def widened(a: Spec, lat: float | None) -> Spec:
            if lat is None or a.box is None:
                return dataclasses.replace(a, box=None)
            w, so, e, n = a.box
            return dataclasses.replace(a, box=(w - tol, so - tol, e + tol, n + tol))

        def point_ok(lat: float | None, lon: float | None, t: datetime | None) -> bool:
            return all(any(self._passes(widened(a, lat), lat, lon, t, t, [],
                                        timed=t is not None) for a in g) for g in groups)

        def walk(v: Any) -> None:
            if isinstance(v, list):
                for x in v:
                    walk(x)
                return
            if not isinstance(v, dict):
                return
            assert not {"watchlists", "risk", "conditions", "zone_properties"} & set(v), (
                f"{where}: private evidence keys in {row.get('event_id')}: {sorted(v)}")
            if not ids:
                leaked = {"shipname", "name", "callsign", "flag", "imo", "destination",
                          "ship_type", "previous_period", "new_period"} & set(v)
                assert not leaked, f"{where}: identity {leaked} without identities"
            t = _t(v["ts"]) if isinstance(v.get("ts"), str) else None
            for la, lo in (("lat", "lon"), ("other_lat", "other_lon")):
                if isinstance(v.get(la), int | float) and isinstance(v.get(lo), int | float):
                    assert point_ok(v[la], v[lo], t), (
                        f"{where}: evidence point ({v[la]}, {v[lo]}) at {t} of "
                        f"{row.get('event_id')} exceeds the grants {self.grants}")
            for k in ("ts", "first", "last", "valid_from", "valid_to", "start", "end"):
                if isinstance(v.get(k), str) and _t(v[k]) is not None:
                    assert point_ok(None, None, _t(v[k])), (
                        f"{where}: evidence time {k}={v[k]} exceeds the grants")
            for x in v.values():
                walk(x)

        self.checked += 1
        self.evidence_checked += 1
        walk(ev)

    def alert_text(self, row: dict[str, Any], text: str, where: str) -> None:
        """An alert's text names vessels only where identities are granted, writes positions
        no more precisely than granted and names no zone of another organisation."""
        if not self._foreign(row):
            return
        if not self._identities(row):
            assert "(" not in text, f"{where}: alert text names a vessel: {text!r}"
        precs = [a.precision for o in self._foreign(row) for a in self.grants
                 if a.grantor == o and a.precision is not None]
        if precs:
            for dec in re.findall(r"\d+\.(\d+)[NSEW]", text):
                assert len(dec) <= min(precs), f"{where}: {text!r} finer than {min(precs)}"
        if row.get("zone") and row["kind"] in ("zone_entry", "zone_exit"):
            assert f" in {row['zone']}" not in text, f"{where}: foreign zone in {text!r}"

    def dossier_allowed(self, mmsi: int) -> bool:
        """May the vessel's dossier be shown at all: every origin of its positions grants
        dossiers for some of that origin's positions of it (area, window, delay)."""
        by_origin: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (m, _), cs in self.positions.items():
            if m == mmsi:
                for c in cs:
                    by_origin[c["origin"]].append(c)
        if not by_origin:
            return self._grant("local", "dossiers", None, None, None, None, [mmsi],
                               timed=False)[0]
        return all(any(self._grant(o, "dossiers", c["lat"], c["lon"], c["ts"], c["ts"],
                                   [mmsi])[0] for c in cs) for o, cs in by_origin.items())


# --------------------------------------------------------------------------- the paths


def _check_rest(w: World, o: Oracle, sample: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    fc = w.get("me", "/api/vessels").json()
    for f in fc["features"]:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        named = any(p.get(k) is not None for k in ("name", "imo", "flag", "ship_type"))
        o.position(p["mmsi"], _t(p["ts"]), lat, lon, "vessels", identity=named)  # type: ignore[arg-type]
    counts["vessels"] = len(fc["features"])
    # filters run on what the partner sees: a match shows the value it matched
    for params, key, ok in (({"ship_type": "30,52,60,70,80"}, "ship_type",
                             lambda v: v in (30, 52, 60, 70, 80)),
                            ({"flag": "PA,LR,MH,SG,KP,IR"}, "flag",
                             lambda v: v in ("PA", "LR", "MH", "SG", "KP", "IR")),
                            ({"min_risk": 1}, "risk", lambda v: v is not None and v >= 1)):
        for f in w.get("me", "/api/vessels", **params).json()["features"]:
            assert ok(f["properties"].get(key)), f"vessels {params}: {f['properties']}"
    live = w.get("me", "/api/live").json()
    assert live["feeds"] == [] and live["analysis"] is None and live["stream_clients"] is None
    for mmsi in sample:
        r = w.get("me", f"/api/vessels/{mmsi}/track")
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200:
            t = r.json()
            for (lon, lat), ts in zip(t["geometry"]["coordinates"], t["properties"]["times"],
                                      strict=True):
                o.position(mmsi, _t(ts), lat, lon, "track")  # type: ignore[arg-type]
            counts["track"] = counts.get("track", 0) + len(t["properties"]["times"])
        r = w.get("me", f"/api/vessels/{mmsi}")
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200:
            assert o.dossier_allowed(mmsi), f"dossier of {mmsi} shown"
            d = r.json()
            counts["dossiers"] = counts.get("dossiers", 0) + 1
            for ev in d.get("events") or []:
                o.event(ev, "dossier events")
            last = d.get("last_position")
            if last is not None:
                o.position(mmsi, _t(last["ts"]), last["lat"], last["lon"],  # type: ignore[arg-type]
                           "dossier last position")
    events = w.get("me", "/api/events", limit=50_000).json()
    for ev in events["items"]:
        o.event(ev, "events")
    counts["events"] = len(events["items"])
    gj = w.get("me", "/api/events.geojson", limit=50_000).json()
    for f in gj["features"]:
        rec = {**f["properties"], "event_id": f["properties"].get("event_id", f.get("id"))}
        if f["geometry"] is not None:
            rec["lon"], rec["lat"] = f["geometry"]["coordinates"]
        o.event(rec, "events.geojson")
    alerts = w.get("me", "/api/alerts").json()
    for a in alerts["items"]:
        o.alert(a, "alerts")
    counts["alerts"] = len(alerts["items"])
    for kind in ("positions", "events"):
        for fmt in ("csv", "geojson"):
            r = w.get("me", f"/api/export/{kind}", format=fmt)
            assert r.status_code == 200, r.text
            if fmt == "csv":  # the columns of the partner table, nothing internal
                header = r.content.decode().split("\n", 1)[0].split(",")
                assert header == list(partner_columns(kind)), header
            rows = _export_rows(r.content, fmt)
            for rec in rows:
                assert set(rec) <= set(partner_columns(kind)), sorted(rec)
                if kind == "positions":
                    o.position(int(rec["mmsi"]), _t(rec["ts"]), _f(rec["lat"]), _f(rec["lon"]),  # type: ignore[arg-type]
                               f"export {fmt}", identity=rec.get("ship_type") not in (None, ""))
                else:
                    ev = rec.get("evidence")
                    o.event({"event_id": rec["event_id"], "lat": _f(rec["lat"]),
                             "lon": _f(rec["lon"]),
                             "evidence": json.loads(ev) if isinstance(ev, str) and ev else ev},
                            f"export {fmt}")
            counts[f"export_{kind}_{fmt}"] = len(rows)
    return counts


def _f(x: Any) -> float | None:
    return None if x in (None, "") else float(x)


def _export_rows(data: bytes, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(data.decode())))
    out = []
    for f in json.loads(data)["features"]:
        rec = dict(f["properties"])
        rec["lon"], rec["lat"] = (f["geometry"]["coordinates"] if f["geometry"]
                                  else (None, None))
        out.append(rec)
    return out


class StreamReader:
    """A WebSocket client of the stream whose messages land in a queue (read with timeouts);
    the reading thread is a daemon that ends when the socket closes."""

    def __init__(self, client: TestClient, key: str) -> None:
        self._cm = client.websocket_connect("/api/stream",
                                            headers={"Authorization": f"Bearer {key}"})
        self.ws = self._cm.__enter__()
        hello = self.ws.receive_json()
        assert hello["type"] == "hello"
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                self.messages.put(self.ws.receive_json())
        except Exception:  # the socket closed
            self.messages.put(None)

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if m is None:
                break
            out.append(m)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the server may have closed it already
            self._cm.__exit__(None, None, None)


def _ingest_live(w: World, n: int, t0: int) -> int:
    """Ingest the next ``n`` live lines (time ``t0``) as the navy: they are the navy's."""
    lines = w.live_lines[w.live_used:w.live_used + n]
    if len(lines) < n:
        w.live_used = 0
        lines = w.live_lines[:n]
    w.live_used += n
    r = w.client.post("/api/ingest", params={"source": "navy-live"},
                      content=b"".join(retime(lines, t0)), headers=w.headers("navy_ingest"))
    assert r.status_code == 200, r.text
    return int(r.json()["rows_added"].get("positions", 0))


# --------------------------------------------------------------------------- the tests


EXAMPLES = 10
TOTALS: dict[str, int] = defaultdict(int)


def test_no_path_returns_more_than_granted(world: World) -> None:
    sample = world.mmsis[::7][:6]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(specs(world), min_size=0, max_size=3))
    def run(drawn: list[Spec]) -> None:
        grants = _replace_agreements(world, drawn)
        reader = StreamReader(world.client, world.keys["me"])
        try:
            # live data: navy positions stamped now (granted only without a delay)
            added = _ingest_live(world, 40, int(time.time()) - 1)
            streamed = reader.drain(1.2)
        finally:
            reader.close()
        oracle = Oracle(world, grants)
        for m in streamed:
            if m["type"] == "positions":
                for f in m["features"]:
                    p = f["properties"]
                    lon, lat = f["geometry"]["coordinates"]
                    named = any(p.get(k) is not None for k in ("name", "imo", "flag"))
                    oracle.position(p["mmsi"], _t(p["ts"]), lat, lon, "stream",  # type: ignore[arg-type]
                                    identity=named)
                    TOTALS["stream positions"] += 1
            elif m["type"] == "event":
                oracle.event(m["event"], "stream")
            elif m["type"] == "alert":
                oracle.alert(m["alert"], "stream")
        TOTALS["ingested"] += added
        for k, v in _check_rest(world, oracle, sample).items():
            TOTALS[k] += v
        TOTALS["checked"] += oracle.checked
        TOTALS["examples"] += 1

    run()
    print(f"\nsharing property test: {dict(TOTALS)}")
    assert TOTALS["examples"] == EXAMPLES
    assert TOTALS["checked"] > 0
    assert TOTALS["stream positions"] > 0, "some example streams granted navy positions"


def test_full_grant_shows_navy_data_and_no_grant_shows_only_own(world: World) -> None:
    """The oracle is not vacuous: a full agreement does show navy data (rounded as asked),
    and without one the partner sees only its own origin."""
    full = Spec(NAVY, ME, CLASS_NAMES, None, None, None, 0.0, (), (), 2, False)
    _replace_agreements(world, [full])
    oracle = Oracle(world, [full])
    feats = world.get("me", "/api/vessels").json()["features"]
    mine = {m for (m, _), cs in oracle.positions.items() for c in cs if c["origin"] == ME}
    navy_only = {m for (m, _), cs in oracle.positions.items()
                 if all(c["origin"] == NAVY for c in cs)} - mine
    shown = {f["properties"]["mmsi"] for f in feats}
    assert navy_only & shown, "a full navy grant shows navy-only vessels"
    for f in feats:
        if f["properties"]["mmsi"] in navy_only:
            lon, lat = f["geometry"]["coordinates"]
            assert lat is None or abs(lat * 100 - round(lat * 100)) < 1e-6
    _replace_agreements(world, [])
    none = Oracle(world, [])
    feats = world.get("me", "/api/vessels").json()["features"]
    assert feats and {f["properties"]["mmsi"] for f in feats} <= mine
    for f in feats:
        lon, lat = f["geometry"]["coordinates"]
        none.position(f["properties"]["mmsi"], _t(f["properties"]["ts"]), lat, lon,  # type: ignore[arg-type]
                      "vessels")
    assert world.get("me", "/api/export/positions", format="csv").status_code == 200


def test_revocation_stops_stream_within_seconds_and_rest_at_once(world: World) -> None:
    full = Spec(NAVY, ME, ("events", "positions"), None, None, None, 0.0, (), (), None, False)
    _replace_agreements(world, [full])
    agreement = next(a for a in world.get("local", "/api/agreements").json()["items"]
                     if a["revoked_at"] is None)
    reader = StreamReader(world.client, world.keys["me"])
    try:
        # navy data reaches the partner's stream while the agreement holds
        got_navy = False
        for _ in range(20):  # generous under load: the stream polls every half second
            _ingest_live(world, 15, int(time.time()) - 1)
            msgs = reader.drain(1.0)
            if any(m["type"] == "positions" and m["features"] for m in msgs):
                got_navy = True
                break
        assert got_navy, "navy positions reach the partner's stream under the agreement"
        revoked_at = time.monotonic()
        r = world.client.delete(f"/api/agreements/{agreement['agreement_id']}",
                                headers=world.headers("navy_admin"))
        assert r.status_code == 200
        # REST at once: no navy-owned live position is visible any more
        oracle = Oracle(world, [])
        for f in world.get("me", "/api/vessels").json()["features"]:
            lon, lat = f["geometry"]["coordinates"]
            oracle.position(f["properties"]["mmsi"], _t(f["properties"]["ts"]), lat, lon,  # type: ignore[arg-type]
                            "vessels after revocation")
        last_navy = revoked_at
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2.0 and time.monotonic() - revoked_at < 15:
            _ingest_live(world, 15, int(time.time()) - 1)
            for m in reader.drain(0.3):
                if m["type"] == "positions" and m["features"]:
                    last_navy = time.monotonic()
                    quiet_since = last_navy
        seconds = last_navy - revoked_at
    finally:
        reader.close()
    print(f"\nrevoked agreement: last navy position on the partner's stream "
          f"{seconds:.2f} s after the revocation")
    assert seconds < 2.0
    assert not math.isnan(seconds)


# --------------------------------------------------------------------------- what a partner sees


def _half_box(w: World) -> tuple[float, float, float, float]:
    """The western half of the data (evidence points of events near it fall outside)."""
    x0, y0, x1, y1 = w.bounds
    return (round(x0 - 0.01, 3), round(y0 - 0.01, 3), round((x0 + x1) / 2, 3),
            round(y1 + 0.01, 3))


def test_evidence_without_precision_is_judged_like_its_event(world: World) -> None:
    """An attacker granted events and alerts (in half of the area, or anywhere), without
    identities or a precision limit, reads every evidence point, time and identity field:
    each must meet the grant (the property test's oracle judges them)."""
    for box in (_half_box(world), None):
        _evidence_judged(world, box)


def _evidence_judged(world: World, box: tuple[float, float, float, float] | None) -> None:
    specs_ = [Spec(grantor, ME, ("alerts", "events", "positions"), box, None,
                   None, 0.0, (), (), None, False) for grantor in (NAVY, "local")]
    _replace_agreements(world, specs_)
    oracle = Oracle(world, specs_)
    items = world.get("me", "/api/events", limit=50_000).json()["items"]
    alerts = world.get("me", "/api/alerts").json()["items"]
    assert items, "the grant shows some navy events"
    for ev in items:
        oracle.event(ev, "events")
    for a in alerts:
        oracle.alert(a, "alerts")
    assert oracle.evidence_checked, "some navy evidence was judged"


def test_alert_texts_are_built_from_the_partners_view(world: World) -> None:
    _replace_agreements(world, [Spec(grantor, ME, ("alerts", "events", "positions"), None,
                                     None, None, 0.0, (), (), 2, False)
                                for grantor in (NAVY, "local")])
    names = set(world.read(lambda s: s.query(
        "SELECT DISTINCT shipname FROM identities WHERE shipname IS NOT NULL"))["shipname"]
        .to_list())
    alerts = world.get("me", "/api/alerts").json()["items"]
    assert alerts, "the grant shows some alerts"
    for a in alerts:
        text = a["message"]
        assert not re.search(r"\d+\.\d{3}[NSEW]", text), text
        assert not any(f"({n.strip()})" in text for n in names if n.strip()), text
        ev = json.dumps(a["evidence"])
        assert '"watchlists"' not in ev and '"risk"' not in ev and '"shipname"' not in ev


def test_partner_exports_carry_the_listed_columns_only(world: World) -> None:
    """Every format, API and CLI (--as-org): the partner table's columns, ship types only
    with the identities class."""
    spec = Spec(NAVY, ME, ("events", "positions"), None, None, None, 0.0, (), (), None, False)
    _replace_agreements(world, [spec])
    for kind in ("positions", "events"):
        want = list(partner_columns(kind))
        r = world.get("me", f"/api/export/{kind}", format="parquet")
        assert r.status_code == 200
        frame = pl.read_parquet(io.BytesIO(r.content))
        assert frame.columns == want
        if kind == "positions":  # navy's rows: no ship type without identities
            oracle = Oracle(world, [spec])
            navy = [all(c["origin"] == NAVY for c in oracle.positions[(int(m), int(t
                        .timestamp()))]) for m, t in zip(frame["mmsi"], frame["ts"], strict=True)]
            assert any(navy)
            assert frame.filter(pl.Series(navy))["ship_type"].null_count() == sum(navy)
        r = world.get("me", f"/api/export/{kind}", format="kml")
        for bad in ("source", "station", "line_no", "msg_hash", "origin"):
            assert f'name="{bad}"' not in r.text
        cli = world.read(lambda s, k=kind: export_rows(s, k, ME))
        assert cli.columns == want and cli.height


def test_vessel_filters_and_risk_use_only_what_the_partner_sees(world: World) -> None:
    """Granted positions only: ship type, flag and risk cannot be read out one value at a
    time, and no risk of navy vessels is shown."""
    spec = Spec(NAVY, ME, ("positions",), None, None, None, 0.0, (), (), None, False)
    _replace_agreements(world, [spec])
    oracle = Oracle(world, [spec])
    mine = {m for (m, _), cs in oracle.positions.items() for c in cs if c["origin"] == ME}
    everything = world.get("local", "/api/vessels").json()["features"]
    types = {f["properties"]["ship_type"] for f in everything} - {None}
    flags = {f["properties"]["flag"] for f in everything} - {None}
    for t in types:
        for f in world.get("me", "/api/vessels", ship_type=str(t)).json()["features"]:
            assert f["properties"]["ship_type"] == t
    for flag in flags:
        for f in world.get("me", "/api/vessels", flag=flag).json()["features"]:
            assert f["properties"]["flag"] == flag
    for f in world.get("me", "/api/vessels").json()["features"]:
        if f["properties"]["mmsi"] not in mine:
            assert f["properties"]["risk"] is None
    assert world.get("me", "/api/vessels", min_risk=1).json()["features"] == [] or all(
        f["properties"]["mmsi"] in mine
        for f in world.get("me", "/api/vessels", min_risk=1).json()["features"])


def test_excluded_and_absent_vessels_answer_alike(world: World) -> None:
    oracle = Oracle(world, [])
    navy_only = sorted({m for (m, _), cs in oracle.positions.items()
                        if all(c["origin"] == NAVY for c in cs)})
    assert navy_only
    spec = Spec(NAVY, ME, CLASS_NAMES, None, None, None, 0.0, (navy_only[0],), (), None,
                False)
    _replace_agreements(world, [spec])
    absent = 999_999_998
    for path in ("/api/vessels/{}", "/api/vessels/{}/track"):
        hidden = world.get("me", path.format(navy_only[0]))
        missing = world.get("me", path.format(absent))
        assert hidden.status_code == missing.status_code == 404
        assert (hidden.json()["error"]["message"].replace(str(navy_only[0]), "N")
                == missing.json()["error"]["message"].replace(str(absent), "N"))
    live = world.get("me", "/api/live").json()
    assert live["feeds"] == [] and live["analysis"] is None and live["stream_clients"] is None


def test_area_grants_dossiers_and_an_ended_window_keeps_its_vessels(world: World) -> None:
    """Over-restriction: an agreement with an area grants the dossiers of vessels seen
    inside it, and one whose window ended still shows the last positions it covered."""
    x0, y0, x1, y1 = world.bounds
    box = (x0 - 0.01, y0 - 0.01, x1 + 0.01, y1 + 0.01)
    spec = Spec(NAVY, ME, ("dossiers", "positions"), box, world.start,
                world.end - timedelta(hours=1), 0.0, (), (), None, False)
    _replace_agreements(world, [spec])
    oracle = Oracle(world, [spec])
    navy_only = {m for (m, _), cs in oracle.positions.items()
                 if all(c["origin"] == NAVY for c in cs)}
    feats = world.get("me", "/api/vessels").json()["features"]
    shown = {f["properties"]["mmsi"] for f in feats} & navy_only
    assert shown, "an ended window still shows the vessels it covered"
    for f in feats:
        lon, lat = f["geometry"]["coordinates"]
        oracle.position(f["properties"]["mmsi"], _t(f["properties"]["ts"]), lat, lon,  # type: ignore[arg-type]
                        "vessels")
    allowed = [m for m in sorted(shown) if oracle.dossier_allowed(m)]
    assert allowed, "the area grants some dossiers"
    for m in [*allowed[:3], *sorted(shown - set(allowed))[:3]]:
        r = world.get("me", f"/api/vessels/{m}")
        assert r.status_code == (200 if m in allowed else 404), r.text
