"""Who the simulated vessels are: MMSI, IMO, name, call sign, type, size, class and speed.

Identities look like real ones without copying any real ship: the MMSI starts with the Maritime
Identification Digits (MID) of a plausible flag, the IMO number carries a valid check digit, the
call sign starts with the flag's ITU prefix, and names are drawn from word lists. Ship types
use the AIS codes (30 fishing, 37 pleasure craft, 52 tug, 60 passenger, 70 cargo, 80 tanker);
class B transponders go to small craft. Cruise speeds are typical of each type.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

__all__ = [
    "FLAGS",
    "SHIP_CLASSES",
    "ShipClass",
    "Vessel",
    "imo_check_digit",
    "make_vessels",
    "random_callsign",
    "random_name",
]

#: Flag -> (MIDs, call sign prefixes). A few flags of convenience and the region's flags.
FLAGS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "PA": ((351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373), ("3E", "3F", "H3", "HO", "HP")),
    "LR": ((636,), ("A8", "D5", "ELA")),
    "MH": ((538,), ("V7",)),
    "SG": ((563, 564, 565, 566), ("9V", "S6")),
    "HK": ((477,), ("VR",)),
    "CN": ((412, 413, 414), ("B",)),
    "MT": ((215, 229, 248, 249, 256), ("9H",)),
    "BS": ((308, 309, 311), ("C6",)),
    "GR": ((237, 239, 240, 241), ("SV",)),
    "CY": ((209, 210, 212), ("5B",)),
    "JP": ((431, 432), ("JD", "JG", "JK")),
    "KR": ((440, 441), ("D7", "DS")),
    "IN": ((419,), ("AU", "VT")),
    "VN": ((574,), ("3W", "XV")),
    "PH": ((548,), ("DU", "DY")),
    "MY": ((533,), ("9M", "9W")),
    "ID": ((525,), ("PK", "YB")),
    "TH": ((567,), ("HS",)),
    "LK": ((417,), ("4R",)),
    "TW": ((416,), ("BI", "BM")),
    "KP": ((445,), ("HM",)),
}

_NAME_A = ("PACIFIC", "OCEAN", "SEA", "GOLDEN", "ORIENT", "EASTERN", "GLOBAL", "JADE", "PEARL",
           "BLUE", "SILVER", "ROYAL", "GRAND", "NEW", "GREAT", "SOUTHERN", "NORTHERN", "CORAL",
           "EVER", "LUCKY", "HAPPY", "MORNING", "CRYSTAL", "AMBER", "MERIDIAN", "ISLAND",
           "HARBOUR", "MONSOON", "LOTUS", "SAKURA", "BAY", "CAPE", "DRAGON", "PHOENIX")
_NAME_B = ("STAR", "GLORY", "PIONEER", "SPIRIT", "HARMONY", "FORTUNE", "VENTURE", "TRADER",
           "EXPRESS", "BRIDGE", "WAY", "DREAM", "LIGHT", "WIND", "WAVE", "HORIZON", "QUEEN",
           "PRINCESS", "ACE", "UNITY", "PROSPERITY", "VOYAGER", "NAVIGATOR", "EAGLE", "FALCON",
           "BREEZE", "TIDE", "JOURNEY", "LEGEND", "MARINER")
_FISHING_A = ("LU RONG YU", "MIN LONG YU", "QIONG SAN YU", "FB", "MV", "TAU", "HAI XIANG",
              "NAM HAI", "DONG YU", "JIN HAI")
_PLEASURE = ("SEA DANCER", "BLUE MOON", "WANDERER", "ALBATROSS", "FREEDOM", "OSPREY",
             "SANDPIPER", "KINGFISHER", "SEA SPRAY", "MOONSHADOW", "ODYSSEY", "SERENITY")


@dataclass(frozen=True)
class ShipClass:
    """A kind of vessel in the traffic mix.

    Attributes:
        name: label (``container``, ``tanker``, ...).
        ship_type: AIS ship type code.
        share: share of ordinary traffic.
        class_b: carries a class B transponder (types 18 and 24) rather than class A (1/3, 5).
        speed_kn: (low, high) cruise speed, knots.
        length_m, beam_m: (low, high) hull size, metres.
        draught_m: (low, high) draught, metres.
        max_route_km: longest port-to-port passage such a vessel makes.
        flags: flags to draw from, with weights.
    """

    name: str
    ship_type: int
    share: float
    class_b: bool
    speed_kn: tuple[float, float]
    length_m: tuple[int, int]
    beam_m: tuple[int, int]
    draught_m: tuple[float, float]
    max_route_km: float = 20_000.0
    flags: tuple[tuple[str, float], ...] = field(default=(
        ("PA", 0.22), ("LR", 0.14), ("MH", 0.11), ("SG", 0.09), ("HK", 0.09), ("CN", 0.08),
        ("MT", 0.06), ("BS", 0.04), ("GR", 0.04), ("CY", 0.02), ("JP", 0.03), ("KR", 0.03),
        ("IN", 0.02), ("VN", 0.01), ("MY", 0.01), ("ID", 0.01)))


_LOCAL = (("CN", 0.25), ("PH", 0.15), ("VN", 0.15), ("MY", 0.1), ("ID", 0.1), ("TH", 0.05),
          ("JP", 0.05), ("KR", 0.05), ("IN", 0.05), ("LK", 0.05))

#: The default traffic mix.
SHIP_CLASSES: tuple[ShipClass, ...] = (
    ShipClass("container", 70, 0.28, False, (15.0, 20.0), (200, 366), (30, 51), (10.0, 15.0)),
    ShipClass("bulk", 70, 0.17, False, (11.0, 14.0), (180, 300), (30, 50), (9.0, 17.0)),
    ShipClass("general cargo", 79, 0.10, False, (10.0, 14.0), (90, 180), (15, 28), (5.0, 10.0),
              5000.0),
    ShipClass("tanker", 80, 0.22, False, (11.0, 14.5), (180, 330), (32, 60), (10.0, 20.0)),
    ShipClass("passenger", 60, 0.03, False, (15.0, 21.0), (120, 300), (20, 38), (5.0, 8.0),
              2500.0),
    ShipClass("tug", 52, 0.03, False, (8.0, 11.0), (25, 45), (9, 14), (3.0, 5.0), 1500.0),
    ShipClass("fishing", 30, 0.10, True, (8.0, 10.5), (20, 70), (6, 12), (3.0, 6.0), 2500.0,
              _LOCAL),
    ShipClass("pleasure", 37, 0.07, True, (6.0, 9.0), (10, 30), (3, 7), (1.5, 3.0), 1500.0,
              _LOCAL),
)


@dataclass
class Vessel:
    """One simulated vessel's identity and sailing characteristics (mutable while building)."""

    mmsi: int
    name: str
    callsign: str
    imo: int | None
    ship_type: int
    class_b: bool
    speed_kn: float
    to_bow: int
    to_stern: int
    to_port: int
    to_starboard: int
    draught: float
    kind: str
    flag: str
    #: type 19 instead of some type 18 reports (class B only)
    extended_b: bool = False
    #: reports ROT (class A): some transponders have no rate-of-turn sensor
    has_rot: bool = True


@cache
def listed_imos() -> frozenset[int]:
    """IMO numbers of the shipped OFAC list: random fleet identities avoid them, so that only
    the scenario's planted watchlist vessels match the list."""
    ref = resources.files("seasight") / "data" / "watchlists" / "ofac_sdn_vessels_2021-07.csv"
    with ref.open("r", encoding="utf-8") as fh:
        return frozenset(int(r["imo"]) for r in csv.DictReader(fh)
                         if (r.get("imo") or "").strip().isdigit())


def imo_check_digit(six_digits: int) -> int:
    """Check digit of an IMO ship number from its first six digits."""
    digits = [int(c) for c in f"{six_digits:06d}"]
    return sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _callsign_from(prefix: str, u: float, chars: np.ndarray) -> str:
    n = max(4, len(prefix) + 2) + int(u * (8 - max(4, len(prefix) + 2))) - len(prefix)
    return prefix + "".join(_ALNUM[i] for i in chars[:n])


def random_callsign(rng: np.random.Generator, flag: str) -> str:
    """A call sign with one of the flag's ITU prefixes, 4-7 characters."""
    prefixes = FLAGS[flag][1]
    prefix = prefixes[int(rng.integers(0, len(prefixes)))]
    return _callsign_from(prefix, float(rng.random()), rng.integers(0, len(_ALNUM), 7))


def _name_from(kind: str, u: np.ndarray) -> str:
    """A name of class ``kind`` from four uniform numbers ``u``."""
    if kind == "fishing":
        return f"{_FISHING_A[int(u[0] * len(_FISHING_A))]} {1 + int(u[1] * 9998)}"
    if kind == "pleasure":
        base = _PLEASURE[int(u[0] * len(_PLEASURE))]
        return base if u[2] < 0.6 else f"{base} {2 + int(u[1] * 7)}"
    name = f"{_NAME_A[int(u[0] * len(_NAME_A))]} {_NAME_B[int(u[1] * len(_NAME_B))]}"
    if u[2] < 0.35:
        name += f" {1 + int(u[3] * 29)}"
    return name[:20]


def random_name(rng: np.random.Generator, kind: str) -> str:
    """A ship name in the style of the ship class ``kind`` (at most 20 characters)."""
    return _name_from(kind, rng.random(4))


def make_vessels(rng: np.random.Generator, kinds: list[ShipClass],
                 used_mmsi: set[int] | None = None, flags: list[str | None] | None = None,
                 ) -> list[Vessel]:
    """One new vessel of each class in ``kinds`` (MMSIs unique, also against ``used_mmsi``).
    ``flags`` forces the flag of some vessels. Random numbers are drawn for all vessels at
    once."""
    used = used_mmsi if used_mmsi is not None else set()
    n = len(kinds)
    flag_of: list[str] = [""] * n
    by_class: dict[str, list[int]] = {}
    for i, sc in enumerate(kinds):
        forced = flags[i] if flags is not None else None
        if forced is not None:
            flag_of[i] = forced
        else:
            by_class.setdefault(sc.name, []).append(i)
    classes = {sc.name: sc for sc in kinds}
    for cname, idx in by_class.items():
        sc = classes[cname]
        w = np.array([x for _, x in sc.flags])
        pick = rng.choice(len(sc.flags), size=len(idx), p=w / w.sum())
        for i, k in zip(idx, pick.tolist(), strict=True):
            flag_of[i] = sc.flags[k][0]
    u = rng.random((n, 16))
    suffix = rng.integers(0, 1_000_000, n)
    call_chars = rng.integers(0, len(_ALNUM), (n, 7))
    names: set[str] = set()
    out = []
    for i, sc in enumerate(kinds):
        flag = flag_of[i]
        mids = FLAGS[flag][0]
        mmsi = mids[int(u[i, 0] * len(mids))] * 1_000_000 + int(suffix[i])
        while mmsi in used:
            mmsi = mids[int(rng.integers(0, len(mids)))] * 1_000_000 + \
                int(rng.integers(0, 1_000_000))
        used.add(mmsi)
        name = _name_from(sc.name, u[i, 1:5])
        for _ in range(5):  # prefer unique names; real fleets have namesakes too
            if name not in names:
                break
            name = random_name(rng, sc.name)
        names.add(name)
        imo = None
        if not sc.class_b:
            six = 900_000 + int(u[i, 5] * 99_999) if u[i, 6] < 0.8 else \
                700_000 + int(u[i, 5] * 200_000)
            imo = six * 10 + imo_check_digit(six)
            while imo in listed_imos():  # an ordinary ship never borrows a listed ship's IMO
                six += 1
                imo = six * 10 + imo_check_digit(six)
        length = sc.length_m[0] + int(u[i, 7] * (sc.length_m[1] - sc.length_m[0] + 1))
        beam = sc.beam_m[0] + int(u[i, 8] * (sc.beam_m[1] - sc.beam_m[0] + 1))
        to_bow = round(length * (0.55 + 0.3 * u[i, 9]))
        to_port = int(min(63, round(beam * (0.4 + 0.2 * u[i, 10]))))
        prefixes = FLAGS[flag][1]
        prefix = prefixes[int(u[i, 11] * len(prefixes))]
        lo, hi = sc.speed_kn
        dlo, dhi = sc.draught_m
        out.append(Vessel(
            mmsi=mmsi, name=name, callsign=_callsign_from(prefix, float(u[i, 12]), call_chars[i]),
            imo=imo, ship_type=sc.ship_type, class_b=sc.class_b,
            speed_kn=float(lo + (hi - lo) * u[i, 13]), to_bow=min(to_bow, 511),
            to_stern=min(length - to_bow, 511), to_port=to_port,
            to_starboard=int(min(63, beam - to_port)),
            draught=round(float(dlo + (dhi - dlo) * u[i, 14]), 1), kind=sc.name, flag=flag,
            extended_b=bool(sc.class_b and u[i, 15] < 0.15),
            has_rot=bool(not sc.class_b and u[i, 15] < 0.7),
        ))
    return out
