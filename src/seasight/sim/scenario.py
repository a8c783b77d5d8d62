"""Scenario definitions: where the traffic sails, what is planted, and the zones users watch.

A :class:`Scenario` is pure data. It names the ports traffic sails between (UN/LOCODEs of the
shipped port layer, with a traffic weight), the zones written to ``zones.geojson``, and the
behaviour to plant: ship-to-ship encounters, AIS gaps, solo loitering, a fishing fleet on a
fishing ground, spoofed and renamed vessels, and the look-alikes that must not be reported.
Places are given as coordinates; times are drawn per seed inside the simulated span.

The built-in scenarios are in :data:`SCENARIOS`; ``indo-pacific`` is the demo's.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np
import shapely
import shapely.affinity

from seasight.geo.distance import destination
from seasight.geo.zones import Zone

__all__ = [
    "SCENARIOS",
    "EncounterPlant",
    "FishingFleetPlant",
    "GapPlant",
    "LoiterPlant",
    "LookalikePlan",
    "PortSpec",
    "Scenario",
    "WatchlistVessel",
    "ZoneSpec",
    "get_scenario",
    "watchlist_vessel",
]


@dataclass(frozen=True)
class PortSpec:
    """A port of the scenario: UN/LOCODE (and name where a code has several points), weight."""

    locode: str
    weight: float = 1.0
    name: str | None = None


@dataclass(frozen=True)
class ZoneSpec:
    """A zone written to ``zones.geojson``: a polygon approximating a circle of ``radius_km``
    around (lat, lon) with ``n_vertices`` vertices."""

    name: str
    lat: float
    lon: float
    radius_km: float
    n_vertices: int = 32
    properties: tuple[tuple[str, Any], ...] = ()

    def zone(self) -> Zone:
        """The zone as a :class:`~seasight.geo.zones.Zone`; a zone crossing the 180th
        meridian is split into its parts on either side of it (as RFC 7946 asks)."""
        b = np.linspace(0.0, 360.0, self.n_vertices, endpoint=False)
        lat, lon = destination(self.lat, self.lon, b, self.radius_km)
        lon = self.lon + (np.asarray(lon) - self.lon + 540.0) % 360.0 - 180.0  # unwrapped
        ring = np.stack([lon, lat], axis=1)
        poly: shapely.Geometry = shapely.Polygon(np.round(np.concatenate([ring, ring[:1]]), 6))
        if lon.max() > 180.0 or lon.min() < -180.0:
            parts = [
                shapely.affinity.translate(
                    shapely.intersection(poly, shapely.box(w, -90.0, w + 360.0, 90.0)), -w - 180.0)
                for w in (-540.0, -180.0, 180.0)
            ]
            polys = [g for part in parts if not part.is_empty
                     for g in getattr(part, "geoms", [part])]
            poly = shapely.MultiPolygon(polys)
        return Zone(self.name, poly, dict(self.properties))


@dataclass(frozen=True)
class EncounterPlant:
    """Two vessels meet at sea and lie together (a ship-to-ship transfer).

    Attributes:
        lat, lon: meeting point (>= 10 km from any port, >= 20 nm from shore).
        hours: (low, high) duration alongside, hours.
        separation_m: (low, high) distance between the two while alongside, metres.
        drift_kn: (low, high) speed of the pair while alongside, knots.
        ports_a, ports_b: candidate ports the first (second) vessel comes from and goes to.
        kind_a, kind_b: ship class names (see :data:`seasight.sim.fleet.SHIP_CLASSES`).
        watchlist_b: the second vessel is a North Korea programme vessel of the shipped OFAC
            list (see :func:`watchlist_vessel`).
        rename_a_after_hours: the first vessel changes name and call sign this many hours after
            the encounter (None: no change).
    """

    lat: float
    lon: float
    hours: tuple[float, float] = (3.0, 8.0)
    separation_m: tuple[float, float] = (60.0, 250.0)
    drift_kn: tuple[float, float] = (0.3, 0.8)
    ports_a: tuple[str, ...] = ()
    ports_b: tuple[str, ...] = ()
    kind_a: str = "tanker"
    kind_b: str = "general cargo"
    watchlist_b: bool = False
    rename_a_after_hours: float | None = None


@dataclass(frozen=True)
class GapPlant:
    """A vessel switches its AIS off at sea and on again later.

    Attributes:
        region: (lat_min, lat_max, lon_min, lon_max) where the vessel goes dark.
        hours: (low, high) duration of the silence, hours.
        min_shore_nm: the last position before the silence is at least this far from shore.
        ports: candidate ports of the voyages searched for a route through ``region``.
    """

    region: tuple[float, float, float, float]
    hours: tuple[float, float] = (14.0, 30.0)
    min_shore_nm: float = 65.0
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoiterPlant:
    """A vessel stops at sea and drifts slowly, alone, then goes on."""

    lat: float
    lon: float
    hours: tuple[float, float] = (2.0, 6.0)
    speed_kn: tuple[float, float] = (0.5, 1.0)
    ports: tuple[str, ...] = ()
    kind: str = "bulk"


@dataclass(frozen=True)
class FishingFleetPlant:
    """Fishing vessels (AIS type 30) working a fishing ground.

    Each vessel fishes at ``fish_kn`` on its own patch (patches ``spacing_km`` apart, a vessel
    staying within ``patch_km`` of its patch centre, so no two come within 500 m of each
    other). A share of the fleet is already fishing when the simulation starts; the others sail
    out from ``ports`` and arrive during the span; a share leaves for ``ports`` before the end.

    Attributes:
        lat, lon: centre of the fishing ground.
        vessels: fleet size.
        spacing_km: distance between neighbouring patches, km.
        patch_km: a vessel stays within this distance of its patch centre, km.
        fish_kn: (low, high) speed while fishing, knots.
        ports: home ports of the fleet.
        already_there: share of the fleet already fishing when the simulation starts.
        leave: share of the fleet that leaves before the end.
    """

    lat: float
    lon: float
    vessels: int = 8
    spacing_km: float = 3.0
    patch_km: float = 0.8
    fish_kn: tuple[float, float] = (0.4, 1.2)
    ports: tuple[str, ...] = ()
    already_there: float = 0.4
    leave: float = 0.4


@dataclass(frozen=True)
class LookalikePlan:
    """How many look-alikes to plant (see :mod:`seasight.sim.behaviours`)."""

    short_dropouts: int = 3
    passing: int = 2
    convoys: int = 1
    slowdowns: int = 3
    anchored_together: int = 2


@dataclass(frozen=True)
class Scenario:
    """Everything a simulation run needs besides its size, span and seed.

    Attributes:
        name: the ``--scenario`` name.
        description: one paragraph for humans.
        start: simulated time of the first report (UTC).
        ports: traffic ports.
        zones: zones written to ``zones.geojson``.
        encounters, gaps, loiters, fishing_fleets: planted events.
        spoofed: vessels whose MMSI a second transmitter uses somewhere else.
        sparse_spoofed: vessels whose MMSI a second transmitter far away uses, heard only 3-4
            times (see :class:`~seasight.sim.behaviours.PlantParams`).
        renamed: vessels that change name and call sign (besides encounter renames).
        lookalikes: look-alikes to plant.
        default_vessels, default_hours: the CLI's defaults.
    """

    name: str
    description: str
    start: datetime
    ports: tuple[PortSpec, ...]
    zones: tuple[ZoneSpec, ...] = ()
    encounters: tuple[EncounterPlant, ...] = ()
    gaps: tuple[GapPlant, ...] = ()
    loiters: tuple[LoiterPlant, ...] = ()
    fishing_fleets: tuple[FishingFleetPlant, ...] = ()
    spoofed: int = 1
    sparse_spoofed: int = 0
    renamed: int = 1
    lookalikes: LookalikePlan = field(default_factory=LookalikePlan)
    default_vessels: int = 300
    default_hours: float = 48.0


@dataclass(frozen=True)
class WatchlistVessel:
    """A vessel of the shipped OFAC list used in a scenario, and where its identity comes from.

    ``mmsi_source`` is ``"list"`` when the list gives the MMSI, ``"invented"`` when the list
    has none and the simulator made up a plausible one for the vessel's flag.
    """

    name: str
    program: str
    imo: int | None
    mmsi: int
    mmsi_source: str
    callsign: str
    flag: str
    ent_num: str


#: Preferred North Korea programme vessels (known tankers in ship-to-ship transfers), tried
#: in order before any other with an IMO number.
_PREFERRED_DPRK = ("YU JONG 2", "SAM JONG 2", "CHON MA SAN", "PAEK MA", "AN SAN 1")


def watchlist_vessel(rng: np.random.Generator, used_mmsi: set[int]) -> WatchlistVessel:
    """A North Korea (DPRK) programme vessel of the shipped OFAC list: one with an MMSI if the
    list has any, else a preferred one with an IMO number, broadcasting a plausible invented
    MMSI of its flag (MID 445 for North Korea)."""
    ref = resources.files("seasight") / "data" / "watchlists" / "ofac_sdn_vessels_2021-07.csv"
    with ref.open("r", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if "DPRK" in (r.get("program") or "")]
    with_mmsi = [r for r in rows if (r.get("mmsi") or "").strip().isdigit()]
    if with_mmsi:
        r = with_mmsi[0]
        mmsi, source = int(r["mmsi"]), "list"
    else:
        named = {r["name"]: r for r in rows if (r.get("imo") or "").strip()}
        pick = next((named[n] for n in _PREFERRED_DPRK if n in named), None)
        r = pick if pick is not None else next(iter(named.values()))
        while True:
            mmsi = 445_000_000 + int(rng.integers(0, 1_000_000))
            if mmsi not in used_mmsi:
                break
        source = "invented"
    used_mmsi.add(mmsi)
    imo = int(r["imo"]) if (r.get("imo") or "").strip().isdigit() else None
    callsign = (r.get("call_sign") or "").strip() or "HM" + "".join(
        "ABCDEFGHJKLMNPRSTUVWXYZ"[i] for i in rng.integers(0, 23, 3))
    return WatchlistVessel(
        name=r["name"].strip().upper(), program=r["program"], imo=imo, mmsi=mmsi,
        mmsi_source=source, callsign=callsign, flag=(r.get("flag") or "").strip(),
        ent_num=r["ent_num"])


_IP_PORTS = (
    PortSpec("INBOM", 1.0, "Mumbai"), PortSpec("INNSA", 1.5), PortSpec("INCOK", 0.8),
    PortSpec("INTUT", 0.6), PortSpec("LKCMB", 1.8), PortSpec("INMAA", 1.2),
    PortSpec("INVTZ", 0.8), PortSpec("MYPKG", 2.0), PortSpec("MYTPP", 1.5),
    PortSpec("SGSIN", 3.5), PortSpec("IDBLW", 0.6), PortSpec("IDJKT", 1.2),
    PortSpec("THLCH", 1.2), PortSpec("VNVUT", 1.0), PortSpec("VNDAD", 0.5),
    PortSpec("VNHPH", 0.8), PortSpec("PHMNL", 1.2), PortSpec("PHSFS", 0.5),
    PortSpec("BNMUA", 0.4), PortSpec("HKHKG", 2.2), PortSpec("CNYTN", 1.8),
    PortSpec("CNSZX", 1.2), PortSpec("CNXMN", 1.2), PortSpec("TWKHH", 1.5),
    PortSpec("TWKEL", 0.7), PortSpec("CNSHA", 3.0), PortSpec("CNZOS", 1.5),
    PortSpec("CNTAO", 1.6), PortSpec("CNDLC", 1.0), PortSpec("KRINC", 1.0),
    PortSpec("KRPUS", 2.2), PortSpec("KRUSN", 0.8), PortSpec("JPHKT", 0.7),
    PortSpec("JPUKB", 1.2), PortSpec("JPSMZ", 0.6), PortSpec("JPCHB", 1.0),
    PortSpec("JPYOS", 0.6), PortSpec("RUVVO", 0.6),
)

#: The demo scenario: traffic through the Malacca Strait, the Bay of Bengal, the South China
#: Sea, the East China Sea and the Sea of Japan.
INDO_PACIFIC = Scenario(
    name="indo-pacific",
    description=(
        "Container ships, bulk carriers, tankers, ferries, tugs, fishing vessels and yachts "
        "between 38 ports from Mumbai to Vladivostok (Yokohama's harbour is closed on the 1 km "
        "land grid; Tokyo Bay is served by Chiba and Yokosuka). Planted: a tanker meeting a "
        "North Korea programme vessel of the OFAC list in the East China Sea, then renaming "
        "itself; a vessel going dark in the Andaman Sea; a fishing fleet loitering at "
        "Scarborough Shoal inside a watched zone; a bulk carrier loitering in the Bay of "
        "Bengal; a spoofed MMSI; an MMSI whose second transmitter is heard only 3-4 times; a "
        "renamed vessel; and look-alikes of each."
    ),
    start=datetime(2024, 3, 1, tzinfo=UTC),
    ports=_IP_PORTS,
    zones=(
        ZoneSpec("Scarborough Shoal", 15.15, 117.76, 22.2,
                 properties=(("kind", "disputed reef"), ("radius_nm", 12))),
        ZoneSpec("Second Thomas Shoal", 9.73, 115.87, 22.2,
                 properties=(("kind", "disputed reef"), ("radius_nm", 12))),
    ),
    encounters=(
        EncounterPlant(30.9, 124.4, ports_a=("CNZOS", "CNSHA", "KRPUS", "TWKEL"),
                       ports_b=("CNDLC", "CNTAO", "KRINC"), kind_a="tanker",
                       kind_b="general cargo", watchlist_b=True, rename_a_after_hours=3.0),
        EncounterPlant(8.6, 112.2, hours=(3.0, 6.0), ports_a=("SGSIN", "MYTPP", "VNVUT"),
                       ports_b=("HKHKG", "PHMNL", "CNYTN"), kind_a="tanker",
                       kind_b="tanker"),
    ),
    gaps=(
        GapPlant((7.5, 13.5, 94.2, 97.8),
                 ports=("INMAA", "INVTZ", "LKCMB", "MYPKG", "SGSIN", "MYTPP", "IDBLW")),
    ),
    loiters=(
        LoiterPlant(15.3, 86.6, ports=("INVTZ", "INMAA", "SGSIN", "MYPKG", "LKCMB")),
    ),
    fishing_fleets=(
        FishingFleetPlant(15.15, 117.70, vessels=8, ports=("PHSFS", "PHMNL")),
    ),
    spoofed=1,
    sparse_spoofed=1,
    renamed=1,
)

#: A small held-out-style scenario on the 180th meridian: Fiji, Tonga, Samoa, Tuvalu and
#: New Zealand, where longitudes jump from +180 to -180 under every planted event.
DATELINE = Scenario(
    name="dateline",
    description=(
        "Traffic between Fiji, Tonga, Samoa, Tuvalu, Vanuatu, New Caledonia and New Zealand, "
        "across the 180th meridian. Planted: two vessels meeting on the meridian south of Fiji "
        "(one each side of it), a vessel loitering on it, a watched zone straddling it, a "
        "spoofed MMSI, an MMSI whose second transmitter is heard only 3-4 times, a renamed "
        "vessel, and look-alikes."
    ),
    start=datetime(2024, 6, 1, tzinfo=UTC),
    ports=(
        PortSpec("FJSUV", 2.0), PortSpec("FJLTK", 1.2), PortSpec("FJSVU", 0.5),
        PortSpec("FJLEV", 0.4), PortSpec("TOPAN", 0.8), PortSpec("WSAPW", 1.0),
        PortSpec("ASPPG", 0.8), PortSpec("TVFUN", 0.4), PortSpec("VUVLI", 0.8),
        PortSpec("NCNOU", 1.2), PortSpec("NZAKL", 2.5), PortSpec("NZTRG", 1.0),
    ),
    zones=(
        ZoneSpec("Dateline watch box", -19.5, 180.0, 60.0,
                 properties=(("kind", "exercise area"),)),
    ),
    encounters=(
        EncounterPlant(-21.5, 179.999, ports_a=("FJSUV", "FJLTK", "NZAKL"),
                       ports_b=("TOPAN", "WSAPW", "ASPPG"), kind_a="tanker",
                       kind_b="general cargo"),
    ),
    loiters=(LoiterPlant(-23.0, -179.99, ports=("NZAKL", "TOPAN", "FJSUV")),),
    spoofed=1,
    sparse_spoofed=1,
    renamed=1,
    default_vessels=120,
)

#: Built-in scenarios by name.
SCENARIOS: dict[str, Scenario] = {INDO_PACIFIC.name: INDO_PACIFIC, DATELINE.name: DATELINE}


def get_scenario(name: str) -> Scenario:
    """A built-in scenario by name.

    Raises:
        KeyError: no such scenario (the message lists the known ones).
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") \
            from None
