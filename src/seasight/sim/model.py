"""What a simulation is made of before it is sampled: vessels, tracks and the planted intent.

:class:`Plan` collects what the scenario builders (:mod:`seasight.sim.traffic`,
:mod:`seasight.sim.behaviours`) decide: every vessel, every transmitter's track, the windows in
which a transmitter is silent, name changes, and the planted events and look-alikes with their
planned windows. :mod:`seasight.sim.truth` turns the planned windows into truth records with the
times of the reports actually generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seasight.sim.fleet import Vessel
from seasight.sim.traffic import Track

__all__ = ["Exempt", "Heard", "Plan", "Planted", "Rename", "Silence"]


@dataclass(frozen=True)
class Silence:
    """Transmitter ``track`` sends nothing (positions nor static) strictly inside (t0, t1)."""

    track: int
    t0: float
    t1: float
    cause: str  # "gap", "dropout" or "inactive" (a second transmitter not yet or no longer on)


@dataclass(frozen=True)
class Exempt:
    """Transmitter ``track`` is heard by terrestrial stations in [t0, t1] wherever it is (no
    satellite thinning), so that planted behaviour is seen as planned."""

    track: int
    t0: float
    t1: float


@dataclass(frozen=True)
class Heard:
    """Transmitter ``track``'s positions are heard only at its first report at or after each
    of ``times`` (a distant transmitter that a satellite picks up on a few passes)."""

    track: int
    times: tuple[float, ...]


@dataclass(frozen=True)
class Rename:
    """Vessel ``vessel`` broadcasts ``name`` and ``callsign`` from time ``t`` on."""

    vessel: int
    t: float
    name: str
    callsign: str


@dataclass
class Planted:
    """A planted event or look-alike, before its times are fitted to the reports.

    Attributes:
        kind: event kind (``encounter``, ``loitering``, ``gap``, ``spoofing``,
            ``identity_change``) or look-alike kind (``short_dropout``, ``passing``,
            ``convoy``, ``slowdown``, ``anchored_together``).
        tracks: the transmitters involved (their vessels give the MMSIs).
        t0, t1: planned window, seconds.
        lookalike: a look-alike (must not be detected) rather than an event.
        details: extra facts written to the truth record.
    """

    kind: str
    tracks: tuple[int, ...]
    t0: float
    t1: float
    lookalike: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """Everything decided before sampling."""

    vessels: list[Vessel] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)
    exempt: list[Exempt] = field(default_factory=list)
    heard_only: list[Heard] = field(default_factory=list)
    renames: list[Rename] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    #: facts about the scenario's watchlist vessels, for the truth file
    watchlist: list[dict[str, Any]] = field(default_factory=list)
    #: vessels used by a plant (not to be reused by another)
    busy: set[int] = field(default_factory=set)

    def add_vessel(self, vessel: Vessel) -> int:
        """Append a vessel; its index."""
        self.vessels.append(vessel)
        return len(self.vessels) - 1

    def add_track(self, track: Track) -> int:
        """Append a track; its index."""
        self.tracks.append(track)
        return len(self.tracks) - 1
