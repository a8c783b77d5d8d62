"""Run a scenario: plan the traffic and planted behaviour, sample reports, compute the truth.

:func:`simulate` is pure and deterministic for a seed: the same arguments give the same frames
and truth, in any process. It returns a :class:`Simulation` holding the clean position and
static reports (each transmission once, in the POSITIONS and STATIC schemas) and the truth;
:mod:`seasight.sim.feed` turns those into a noisy NMEA feed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any

import numpy as np
import polars as pl

from seasight.geo.zones import Zone
from seasight.model.schema import POSITIONS, STATIC, conform
from seasight.sim.behaviours import (
    Planter,
    PlantingError,
    PlantParams,
    ordinary_vessel_kinds,
    planted_vessel_count,
)
from seasight.sim.fleet import make_vessels
from seasight.sim.geography import Geography, GeoParams
from seasight.sim.model import Plan
from seasight.sim.noise import (
    NoiseParams,
    Stations,
    jitter_positions,
    satellite_keep,
    shore_distance_km,
)
from seasight.sim.scenario import Scenario, get_scenario
from seasight.sim.traffic import (
    BERTH,
    DRIFT,
    FISH,
    Knots,
    TrafficParams,
    ordinary_track,
    report_times,
)
from seasight.sim.truth import TruthParams, build_truth

__all__ = ["Simulation", "geography", "simulate"]

#: AIS navigational status by track state: under way, moored, under way (drifting), fishing.
_NAV_STATUS = np.array([0, 5, 0, 7], np.int64)

_CHANNELS = pl.Series(["A", "B"], dtype=pl.String)


@dataclass
class Simulation:
    """The result of :func:`simulate`.

    Attributes:
        scenario: the scenario run.
        seed, hours: as given.
        start: time of the span's start (UTC).
        positions: one row per transmitted position report (POSITIONS schema; ``station`` is
            the first station that heard it, ``source`` is ``sim:<scenario>``), by time.
        static: one row per transmitted static report (STATIC schema), by time.
        truth: the truth document (see :mod:`seasight.sim`).
        zones: the scenario's zones.
        stations: receiving station names (terrestrial, then satellites).
        position_stations, static_stations: per row, the indices of up to three stations that
            can hear it (-1 padded; a satellite-only row has one satellite).
        position_track: per positions row, the transmitter (index into ``plan.tracks``).
        plan: the plan behind the data (vessels, tracks, planted windows).
    """

    scenario: Scenario
    seed: int
    hours: float
    start: datetime
    positions: pl.DataFrame
    static: pl.DataFrame
    truth: dict[str, Any]
    zones: list[Zone]
    stations: list[str]
    position_stations: np.ndarray
    static_stations: np.ndarray
    position_track: np.ndarray
    plan: Plan = field(repr=False)


@cache
def geography(scenario: Scenario, params: GeoParams = GeoParams()) -> Geography:
    """The scenario's ports and routes (built once per process and scenario)."""
    return Geography([(p.locode, p.name, p.weight) for p in scenario.ports], params)


def _apply_silences(plan: Plan, track: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Mask of the (track, t) reports, sorted by track then time, outside every silence."""
    keep = np.ones(len(t), bool)
    starts = np.searchsorted(track, np.arange(len(plan.tracks) + 1))
    for s in plan.silences:
        a, b = starts[s.track], starts[s.track + 1]
        tt = t[a:b]
        keep[a:b] &= ~((tt > s.t0) & (tt < s.t1))
    return keep


def _heard_only(plan: Plan, track: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Mask of the (track, t) reports, sorted by track then time, that a :class:`Heard`
    leaves: of its transmitter only the first report at or after each of its times."""
    keep = np.ones(len(t), bool)
    starts = np.searchsorted(track, np.arange(len(plan.tracks) + 1))
    for h in plan.heard_only:
        a, b = starts[h.track], starts[h.track + 1]
        idx = a + np.searchsorted(t[a:b], np.asarray(h.times, np.float64))
        keep[a:b] = False
        keep[idx[idx < b]] = True
    return keep


def _separate_transmitters(plan: Plan, track: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Report times with a second transmitter's reports moved a second or two off any report
    of the same MMSI in the same second (two rows of one MMSI and time would look like one
    report twice)."""
    second = np.array([tr.transmitter > 0 for tr in plan.tracks], bool)[track]
    if not second.any():
        return t
    vessel = np.array([tr.vessel for tr in plan.tracks], np.int64)[track]
    t = t.copy()
    for _ in range(5):
        key = vessel * 10_000_000 + t.astype(np.int64)
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        clash = (counts[inverse.ravel()] > 1) & second
        if not clash.any():
            break
        t[clash] += 1.0
    return t


def _exempt_mask(plan: Plan, track: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = np.zeros(len(t), bool)
    starts = np.searchsorted(track, np.arange(len(plan.tracks) + 1))
    for e in plan.exempt:
        a, b = starts[e.track], starts[e.track + 1]
        tt = t[a:b]
        out[a:b] |= (tt >= e.t0) & (tt <= e.t1)
    return out


def _stations(geo: Geography) -> Stations:
    return Stations([f"r{p.locode}" for p in geo.ports],
                    np.array([p.lat for p in geo.ports]), np.array([p.lon for p in geo.ports]))


def _near(stations: Stations, lat: np.ndarray, lon: np.ndarray, satellite: np.ndarray,
          rng: np.random.Generator) -> np.ndarray:
    """Up to three stations hearing each report (nearest terrestrial; a satellite when far)."""
    if not len(lat):
        return np.zeros((0, 3), np.int16)
    key = np.round(lat * 10).astype(np.int64) * 10_000 + np.round(lon * 10).astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    near = stations.nearest(lat[first], lon[first], 3)[inverse.ravel()]
    out = np.full((len(lat), 3), -1, np.int16)
    out[:, : near.shape[1]] = near
    sat = stations.n_terrestrial + rng.integers(0, len(stations.satellites), len(lat))
    out[satellite] = -1
    out[satellite, 0] = sat[satellite]
    return out


def _positions(rng: np.random.Generator, plan: Plan, knots: Knots, span_s: float,
               start_us: int, traffic: TrafficParams, noise: NoiseParams,
               stations: Stations, source: str) -> dict[str, Any]:
    """Sample, thin and perturb every transmitter's position reports."""
    n_tracks = len(plan.tracks)
    track, t = report_times(rng, n_tracks, span_s, traffic.position_interval_s)
    t = np.floor(t)
    keep = _apply_silences(plan, track, t)
    track, t = track[keep], t[keep]
    keep = _heard_only(plan, track, t)
    track, t = track[keep], t[keep]
    t = _separate_transmitters(plan, track, t)
    loc = knots.locate(track, t)
    shore = shore_distance_km(loc["lat"], loc["lon"])
    far = shore > noise.satellite_shore_km
    keep, holes = satellite_keep(rng, track, t, far, _exempt_mask(plan, track, t), n_tracks,
                                 span_s, noise)
    track, t, shore, far = track[keep], t[keep], shore[keep], far[keep]
    loc = {k: v[keep] for k, v in loc.items()}
    n = len(t)
    lat, lon = jitter_positions(rng, loc["lat"], loc["lon"], noise.jitter_m)
    state = loc["state"].astype(np.int64)
    still = state == BERTH
    sog = np.where(still, np.abs(rng.normal(0.0, 0.05, n)),
                   np.maximum(loc["sog"] + rng.normal(0.0, noise.sog_noise_kn, n), 0.0))
    slow = (state == DRIFT) | (state == FISH)
    sog = np.where(slow, np.maximum(loc["sog"] + rng.normal(0.0, 0.05, n), 0.0), sog)
    course = loc["cog"]
    cog = np.where(np.isnan(course), rng.uniform(0, 360, n),
                   (course + rng.normal(0.0, noise.cog_noise_deg, n)) % 360.0)
    cog_valid = ~(still & (rng.random(n) < 0.5))
    vessel = np.array([tr.vessel for tr in plan.tracks], np.int64)[track]
    fixed_heading = (vessel * 37 + 11) % 360
    heading = np.where(np.isnan(course) | still, fixed_heading,
                       np.round(cog + rng.normal(0.0, 2.0, n)) % 360).astype(np.int64)
    vs = plan.vessels
    class_b = np.array([v.class_b for v in vs], bool)[vessel]
    ext_b = np.array([v.extended_b for v in vs], bool)[vessel]
    has_rot = np.array([v.has_rot for v in vs], bool)[vessel]
    mmsi = np.array([v.mmsi for v in vs], np.int64)[vessel]
    accurate = (np.array([v.mmsi for v in vs], np.int64) % 5 < 3)[vessel]
    msg_type = np.where(rng.random(n) < traffic.type3_share, 3, 1)
    msg_type = np.where(class_b, 18, msg_type)
    every = traffic.extended_b_every
    msg_type = np.where(class_b & ext_b & (rng.integers(0, every, n) == 0), 19, msg_type)
    ts_us = start_us + t.astype(np.int64) * 1_000_000
    satellite = far  # beyond terrestrial range: heard by a satellite
    near = _near(stations, lat, lon, satellite, rng)
    names = pl.Series(stations.names, dtype=pl.String)
    frame = pl.DataFrame({
        "mmsi": mmsi.astype(np.uint32),
        "ts": pl.Series(ts_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "msg_type": msg_type.astype(np.uint8),
        "repeat": np.zeros(n, np.uint8),
        "lat": lat, "lon": lon,
        "sog": pl.Series(np.round(sog, 1).astype(np.float32)),
        "cog": pl.Series(np.round(cog, 1).astype(np.float32)).scatter(
            np.flatnonzero(~cog_valid), None),
        "heading": heading.astype(np.uint16),
        "nav_status": pl.Series(_NAV_STATUS[state].astype(np.uint8)).scatter(
            np.flatnonzero(class_b), None),
        "rot_raw": pl.Series(np.zeros(n, np.int8)).scatter(
            np.flatnonzero(~has_rot | class_b), None),
        "accuracy": accurate,
        "raim": np.zeros(n, bool),
        "maneuver": pl.Series(np.zeros(n, np.uint8)).scatter(np.flatnonzero(class_b), None),
        "second": (t.astype(np.int64) % 60).astype(np.uint8),
        "source": pl.repeat(source, n, eager=True, dtype=pl.String),
        "station": names.gather(near[:, 0].astype(np.int64)),
        "channel": _CHANNELS.gather(rng.integers(0, 2, n)),
        "ts_source": pl.repeat("tagblock", n, eager=True, dtype=pl.String),
    }).with_columns(rot=pl.when(pl.col("rot_raw").is_not_null()).then(0.0).cast(pl.Float32))
    return {"frame": frame, "track": track, "t": t, "shore": shore, "sog": sog, "near": near,
            "holes": holes, "msg_type": msg_type, "vessel": vessel}


def _eta_parts(start: datetime, eta_s: np.ndarray) -> dict[str, np.ndarray]:
    ok = np.isfinite(eta_s)
    base = np.datetime64(start.replace(tzinfo=None), "s")
    when = base + np.where(ok, eta_s, 0).astype("timedelta64[s]")
    month = when.astype("datetime64[M]")
    day = when.astype("datetime64[D]")
    secs = (when - day).astype(np.int64)
    return {
        "eta_month": np.where(ok, month.astype(np.int64) % 12 + 1, -1),
        "eta_day": np.where(ok, (day - month.astype("datetime64[D]")).astype(np.int64) + 1, -1),
        "eta_hour": np.where(ok, secs // 3600, -1),
        "eta_minute": np.where(ok, secs // 60 % 60, -1),
    }


def _nullable(values: np.ndarray, dtype: pl.DataType) -> pl.Series:
    s = pl.Series(np.where(values < 0, 0, values)).cast(dtype)
    return s.scatter(np.flatnonzero(values < 0), None) if (values < 0).any() else s


def _static(rng: np.random.Generator, plan: Plan, knots: Knots, span_s: float, start: datetime,
            start_us: int, traffic: TrafficParams, noise: NoiseParams, stations: Stations,
            source: str, pos: dict[str, Any]) -> dict[str, Any]:
    """Static reports: type 5 (class A), 24 A and B (class B), and the static half of every
    type 19 position report."""
    vs = plan.vessels
    nv = len(vs)
    main = np.full(nv, -1, np.int64)
    for i, tr in enumerate(plan.tracks):
        if tr.transmitter == 0:
            main[tr.vessel] = i
    vessel, t = report_times(rng, nv, span_s, traffic.static_interval_s)
    t = np.floor(t)
    track = main[vessel]
    ok = track >= 0
    vessel, t, track = vessel[ok], t[ok], track[ok]
    order = np.lexsort((t, track))
    vessel, t, track = vessel[order], t[order], track[order]
    keep = _apply_silences(plan, track, t)
    vessel, t, track = vessel[keep], t[keep], track[keep]
    loc = knots.locate(track, t)
    far = shore_distance_km(loc["lat"], loc["lon"]) > noise.satellite_shore_km
    keep, _ = satellite_keep(rng, track, t, far, _exempt_mask(plan, track, t), len(plan.tracks),
                             span_s, noise)
    vessel, t, track, far = vessel[keep], t[keep], track[keep], far[keep]
    loc = {k: v[keep] for k, v in loc.items()}
    class_b = np.array([v.class_b for v in vs], bool)
    # class B: part A now, part B a few seconds later
    b_rows = np.flatnonzero(class_b[vessel])
    part = np.full(len(t) + len(b_rows), -1, np.int64)
    part[b_rows] = 0
    part[len(t):] = 1
    vessel = np.concatenate([vessel, vessel[b_rows]])
    t = np.concatenate([t, t[b_rows] + rng.integers(1, 8, len(b_rows))])
    far = np.concatenate([far, far[b_rows]])
    leg_global = np.concatenate([loc["leg"], loc["leg"][b_rows]]).astype(np.int64)
    track = np.concatenate([track, track[b_rows]])
    lat = np.concatenate([loc["lat"], loc["lat"][b_rows]])
    lon = np.concatenate([loc["lon"], loc["lon"][b_rows]])
    msg_type = np.where(part >= 0, 24, 5)
    # type 19 rows from the positions
    p19 = np.flatnonzero(pos["msg_type"] == 19)
    n19 = len(p19)
    vessel = np.concatenate([vessel, pos["vessel"][p19]])
    t = np.concatenate([t, pos["t"][p19]])
    part = np.concatenate([part, np.full(n19, -1)])
    msg_type = np.concatenate([msg_type, np.full(n19, 19)])
    far = np.concatenate([far, np.zeros(n19, bool)])
    leg_global = np.concatenate([leg_global, np.zeros(n19, np.int64)])
    track = np.concatenate([track, pos["track"][p19]])
    pf = pos["frame"]
    lat = np.concatenate([lat, pf["lat"].to_numpy()[p19]])
    lon = np.concatenate([lon, pf["lon"].to_numpy()[p19]])
    n = len(t)
    # identities, with renames from their time on
    names = [v.name for v in vs]
    calls = [v.callsign for v in vs]
    name_idx = vessel.copy()
    call_idx = vessel.copy()
    for r in plan.renames:
        names.append(r.name)
        calls.append(r.callsign)
        hit = (vessel == r.vessel) & (t >= r.t)
        name_idx[hit] = len(names) - 1
        call_idx[hit] = len(calls) - 1
    # voyage legs: destination and ETA
    leg_off = np.concatenate([[0], np.cumsum([len(tr.legs) for tr in plan.tracks])])
    dest = [lg.destination for tr in plan.tracks for lg in tr.legs] or [""]
    eta = np.array([np.nan if lg.eta_s is None else lg.eta_s for tr in plan.tracks
                    for lg in tr.legs] or [np.nan])
    gl = np.clip(leg_off[track] + leg_global, 0, len(dest) - 1)
    eta_row = np.where(msg_type == 5, eta[gl], np.nan)
    parts = _eta_parts(start, eta_row)
    is5, is24a, is24b, is19 = msg_type == 5, part == 0, part == 1, msg_type == 19
    def v_attr(name: str) -> np.ndarray:
        return np.array([getattr(v, name) for v in vs])[vessel]
    dims_ok = is5 | is24b | is19
    imo = np.array([v.imo or 0 for v in vs], np.int64)[vessel]
    dest_s = pl.Series(dest).gather(gl)
    near = _near(stations, lat, lon, far, rng)
    st_names = pl.Series(stations.names, dtype=pl.String)
    ts_us = start_us + t.astype(np.int64) * 1_000_000
    frame = pl.DataFrame({
        "mmsi": np.array([v.mmsi for v in vs], np.int64)[vessel].astype(np.uint32),
        "ts": pl.Series(ts_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "msg_type": msg_type.astype(np.uint8),
        "repeat": np.zeros(n, np.uint8),
        "part_num": _nullable(part, pl.UInt8()),
        "imo": _nullable(np.where(is5 & (imo > 0), imo, -1), pl.UInt32()),
        "callsign": pl.Series(calls).gather(call_idx).scatter(
            np.flatnonzero(~(is5 | is24b)), None),
        "shipname": pl.Series(names).gather(name_idx).scatter(
            np.flatnonzero(~(is5 | is24a | is19)), None),
        "ship_type": _nullable(np.where(dims_ok, v_attr("ship_type"), -1), pl.UInt8()),
        "to_bow": _nullable(np.where(dims_ok, v_attr("to_bow"), -1), pl.UInt16()),
        "to_stern": _nullable(np.where(dims_ok, v_attr("to_stern"), -1), pl.UInt16()),
        "to_port": _nullable(np.where(dims_ok, v_attr("to_port"), -1), pl.UInt8()),
        "to_starboard": _nullable(np.where(dims_ok, v_attr("to_starboard"), -1), pl.UInt8()),
        "epfd": _nullable(np.where(is5 | is19, 1, -1), pl.UInt8()),
        **{k: _nullable(v, pl.UInt8()) for k, v in parts.items()},
        "draught": pl.Series(np.where(is5, v_attr("draught"), np.nan).astype(np.float32))
        .fill_nan(None),
        "destination": dest_s.scatter(np.flatnonzero(~is5), None).replace("", None),
        "dte": pl.Series(np.zeros(n, bool)).scatter(np.flatnonzero(is24a | is24b), None),
        "ais_version": _nullable(np.where(is5, 0, -1), pl.UInt8()),
        "vendor_id": pl.Series(["SRT", None], dtype=pl.String).gather(np.where(is24b, 0, 1)),
        "model": _nullable(np.where(is24b, 1, -1), pl.UInt8()),
        "serial": _nullable(np.where(is24b, (v_attr("mmsi") * 7919) % 1_000_000, -1),
                            pl.UInt32()),
        "source": pl.repeat(source, n, eager=True, dtype=pl.String),
        "station": st_names.gather(near[:, 0].astype(np.int64)),
        "channel": _CHANNELS.gather(rng.integers(0, 2, n)),
        "ts_source": pl.repeat("tagblock", n, eager=True, dtype=pl.String),
    })
    # a type 19 row goes out on the channel and station of its position report
    if n19:
        pf19 = pf[p19]
        frame = frame.with_columns(
            station=pl.concat([frame["station"][: n - n19], pf19["station"]]),
            channel=pl.concat([frame["channel"][: n - n19], pf19["channel"]]))
        near[n - n19:] = pos["near"][p19]
    order = np.argsort(ts_us, kind="stable")
    return {"frame": frame[order], "near": near[order], "vessel": vessel[order], "t": t[order]}


def simulate(scenario: str | Scenario = "indo-pacific", hours: float | None = None,
             vessels: int | None = None, seed: int = 0, *,
             traffic: TrafficParams = TrafficParams(), plants: PlantParams = PlantParams(),
             noise: NoiseParams = NoiseParams(), truth: TruthParams = TruthParams(),
             ) -> Simulation:
    """Simulate ``vessels`` vessels for ``hours`` in ``scenario`` (defaults: the scenario's).

    Pure and deterministic: the same arguments give the same result. Planted behaviour that
    does not fit (a 14 h gap in a 12 h span, ...) is left out and named in the truth's
    ``skipped_plants``; the vessels it would have used sail as ordinary traffic.

    Raises:
        KeyError: unknown scenario name.
        ValueError: too few vessels for the scenario's planted behaviour, or no positive span.
    """
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    hours = float(sc.default_hours if hours is None else hours)
    n_vessels = int(sc.default_vessels if vessels is None else vessels)
    if hours <= 0:
        raise ValueError("hours must be positive")
    n_planted = planted_vessel_count(sc, plants)
    n_ordinary = n_vessels - n_planted
    if n_ordinary < 10:
        raise ValueError(f"scenario {sc.name!r} plants {n_planted} vessels: --vessels must be "
                         f"at least {n_planted + 10}")
    span = hours * 3600.0
    rng = np.random.default_rng(seed)
    geo = geography(sc)
    zones = [z.zone() for z in sc.zones]
    plan = Plan()
    used: set[int] = set()
    kinds = ordinary_vessel_kinds(rng, n_ordinary)
    for v, k in zip(make_vessels(rng, kinds, used), kinds, strict=True):
        vi = plan.add_vessel(v)
        plan.add_track(ordinary_track(rng, geo, vi, v, k.max_route_km, span, traffic))
    ordinary = list(range(n_ordinary))
    planter = Planter(rng, geo, sc, span, plan, traffic, plants, zones, used)
    la = sc.lookalikes
    steps: list[tuple[str, Callable[[], None]]] = [
        *((f"encounter {i + 1}", partial(planter.encounter, e))
          for i, e in enumerate(sc.encounters)),
        *((f"gap {i + 1}", partial(planter.gap, g)) for i, g in enumerate(sc.gaps)),
        *((f"loitering {i + 1}", partial(planter.loiter, x)) for i, x in enumerate(sc.loiters)),
        *((f"fishing fleet {i + 1}", partial(planter.fishing_fleet, f))
          for i, f in enumerate(sc.fishing_fleets)),
        ("spoofing", partial(planter.spoofing, sc.spoofed, ordinary)),
        ("sparse spoofing", partial(planter.spoofing, sc.sparse_spoofed, ordinary, sparse=True)),
        ("renames", partial(planter.renames, sc.renamed, ordinary)),
        ("short dropouts", partial(planter.dropouts, la.short_dropouts, ordinary)),
        ("passing", partial(planter.passing, la.passing)),
        ("convoys", partial(planter.convoys, la.convoys)),
        ("slowdowns", partial(planter.slowdowns, la.slowdowns)),
        ("anchored together", partial(planter.anchored_together, la.anchored_together)),
    ]
    skipped: list[str] = []
    for name, plant in steps:
        try:
            plant()
        except PlantingError as exc:  # e.g. a span too short for a 14 h gap
            skipped.append(f"{name}: {exc}")
    # vessels a skipped plant did not use sail as ordinary traffic
    missing = n_vessels - len(plan.vessels)
    if missing > 0:
        kinds = ordinary_vessel_kinds(rng, missing)
        for v, k in zip(make_vessels(rng, kinds, used), kinds, strict=True):
            vi = plan.add_vessel(v)
            plan.add_track(ordinary_track(rng, geo, vi, v, k.max_route_km, span, traffic))

    knots = Knots(plan.tracks)
    start_us = int(sc.start.timestamp()) * 1_000_000
    source = f"sim:{sc.name}"
    stations = _stations(geo)
    pos = _positions(rng, plan, knots, span, start_us, traffic, noise, stations, source)
    sta = _static(rng, plan, knots, span, sc.start, start_us, traffic, noise, stations, source,
                  pos)
    pframe = pos["frame"]
    order = np.lexsort((pframe["mmsi"].to_numpy(), pos["t"]))
    doc = build_truth(
        scenario=sc.name, seed=seed, start=sc.start, span_s=span, plan=plan,
        track=pos["track"], t=pos["t"], lat=pframe["lat"].to_numpy(),
        lon=pframe["lon"].to_numpy(), sog=pframe["sog"].to_numpy().astype(np.float64),
        shore_km=pos["shore"], static_vessel=sta["vessel"], static_t=sta["t"], zones=zones,
        params=truth)
    doc["hours"] = hours
    doc["skipped_plants"] = skipped
    return Simulation(
        scenario=sc, seed=seed, hours=hours, start=sc.start,
        positions=conform(pframe[order], POSITIONS),
        static=conform(sta["frame"], STATIC),
        truth=doc, zones=zones, stations=stations.names,
        position_stations=pos["near"][order], static_stations=sta["near"],
        position_track=pos["track"][order], plan=plan)

