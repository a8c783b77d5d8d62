"""Traffic simulator with ground truth, for the demo, tests and benchmarks.

``simulate(scenario, hours, vessels, seed)`` plans realistic traffic between real ports along
the MARNET sea lanes (class A and B transponders, position reports every few minutes, static
reports every six minutes, vessels at berth in port), plants the behaviour SeaSight detects
(gaps, encounters, loitering, port visits, zone crossings, spoofing, identity changes) and
look-alikes that must not be reported, and returns the clean reports with the complete truth.
``write_simulation(sim, out_dir)`` adds receiver noise and writes:

``feed.nmea``
    tag-blocked ``!AIVDM`` sentences as a receiver network delivers them: duplicates from
    several stations, out-of-order lines, bad checksums, truncated and garbage lines.
``truth.json``
    ``{"scenario", "seed", "start", "end", "hours", "vessels", "transmitters", "counts",
    "events": [...], "lookalikes": [...], "watchlist": [...], "definitions": {...},
    "feed": {...}}``. Each event has ``kind`` (gap, encounter, loitering, port_visit,
    zone_entry, zone_exit, spoofing, identity_change), ``mmsi`` (a list: two vessels for an
    encounter), ``start``, ``end`` (ISO 8601 UTC), ``lat``, ``lon``, ``zone`` (zone events: the
    zone's name; port visits: the port's name) and facts such as ``open`` (still going on at
    the end). Look-alikes (``short_dropout``, ``passing``, ``convoy``, ``slowdown``,
    ``anchored_together``) have the same shape. ``feed`` counts the feed's lines, duplicates and
    the bad lines a decoder must reject (``rejected_lines``).
``zones.geojson``
    the scenario's zones.

Modules: :mod:`~seasight.sim.scenario` (definitions, the built-in ``indo-pacific``),
:mod:`~seasight.sim.fleet` (identities), :mod:`~seasight.sim.geography` (ports, berths,
routes), :mod:`~seasight.sim.traffic` (movement and sampling),
:mod:`~seasight.sim.behaviours` (planted events and look-alikes), :mod:`~seasight.sim.noise`,
:mod:`~seasight.sim.truth`, :mod:`~seasight.sim.feed`.
"""

from seasight.sim.feed import Feed, build_feed, write_simulation
from seasight.sim.scenario import SCENARIOS, Scenario, get_scenario
from seasight.sim.simulation import Simulation, simulate

__all__ = [
    "SCENARIOS",
    "Feed",
    "Scenario",
    "Simulation",
    "build_feed",
    "get_scenario",
    "simulate",
    "write_simulation",
]
