"""Geography shared by every stage: distances, land and shore, ports, and user zones.

- :mod:`seasight.geo.distance`: great-circle distance, bearing and destination (vectorised).
- :mod:`seasight.geo.land`: :func:`on_land` (1 km global land grid) and
  :func:`distance_to_shore_km` (Natural Earth 1:50 m shorelines; 0 on land) and
  :func:`shoreline_distance_km` (the same, also inland).
- :mod:`seasight.geo.ports`: the UN/LOCODE port points, nearest port and ports within a radius.
- :mod:`seasight.geo.anchorages`: Global Fishing Watch's named anchorages and the World Port
  Index.
- :mod:`seasight.geo.port_areas`: the joined port layer (ports, their points and anchorages):
  is a position in a port's area, and which port (import it from its module).
- :mod:`seasight.geo.zones`: named polygons from GeoJSON and point-in-zone tests.
- :mod:`seasight.geo.lanes`: the MARNET sea-lane network and routes along it (import it from
  its module).

The reference layers ship in ``seasight/data/geo`` (origins and licences in its
``LICENSES.md``). Each is read on first use and cached for the process, so importing this
package is cheap.
"""

from seasight.geo.distance import (
    EARTH_RADIUS_KM,
    KM_PER_NM,
    bearing_deg,
    chord_to_km,
    destination,
    haversine_km,
    km_to_chord,
    unit_vectors,
)
from seasight.geo.land import (
    SHORE_SAMPLE_KM,
    distance_to_shore_km,
    on_land,
    shoreline_distance_km,
)
from seasight.geo.ports import (
    PORT_COLUMNS,
    PORT_RADIUS_KM,
    load_ports,
    nearest_port,
    ports_within,
)
from seasight.geo.zones import (
    Zone,
    load_zones,
    zone_membership,
    zones_from_geojson,
    zones_to_geojson,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "KM_PER_NM",
    "PORT_COLUMNS",
    "PORT_RADIUS_KM",
    "SHORE_SAMPLE_KM",
    "Zone",
    "bearing_deg",
    "chord_to_km",
    "destination",
    "distance_to_shore_km",
    "haversine_km",
    "km_to_chord",
    "load_ports",
    "load_zones",
    "nearest_port",
    "on_land",
    "ports_within",
    "shoreline_distance_km",
    "unit_vectors",
    "zone_membership",
    "zones_from_geojson",
    "zones_to_geojson",
]
