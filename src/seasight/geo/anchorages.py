"""Named anchorages and the World Port Index: where ships are actually seen stopped in port.

Two layers from Global Fishing Watch's ``anchorages_pipeline`` (Apache-2.0, see
``seasight/data/geo/gfw_anchorages/LICENSE``), shipped in ``seasight/data/geo/gfw_anchorages``:

- ``anchorage_overrides.csv``: GFW's named anchorages, 60,410 S2 cells of level 14 (about
  0.6 km across) where vessels are seen stopped, each with the port it belongs to (``label``,
  e.g. ``SINGAPORE``), an optional ``sublabel`` (``FUJAIRAH OFFSHORE``: the outer anchorage) and
  the country (ISO 3166-1 alpha-3). 5,126 port labels in 165 countries; outer anchorages, many
  kilometres from the port's quays, belong to their port. This is the gazetteer behind GFW's
  port visits.
- ``WPI_ports.csv``: 3,669 ports of the NGA World Port Index (US public domain), as points with
  a label and a country.

Both are read as they are shipped; :func:`load_anchorages` and :func:`load_wpi_ports` return
them as Polars frames. :mod:`seasight.geo.port_areas` joins them with the UN/LOCODE port points
of :mod:`seasight.geo.ports` into one port layer.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

#: Columns of :func:`load_anchorages`, in order.
ANCHORAGE_COLUMNS: dict[str, pl.DataType] = {
    "s2id": pl.String(),  # S2 cell token, level 14
    "lat": pl.Float64(),  # the cell's mean position of stopped vessels, degrees
    "lon": pl.Float64(),
    "label": pl.String(),  # the port, e.g. SINGAPORE
    "sublabel": pl.String(),  # part of the port (outer anchorage, terminal), null if none
    "iso3": pl.String(),  # country, ISO 3166-1 alpha-3
}

#: Columns of :func:`load_wpi_ports`, in order.
WPI_COLUMNS: dict[str, pl.DataType] = {
    "label": pl.String(),
    "iso3": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
}


def _read(name: str) -> pl.DataFrame:
    ref = resources.files("seasight") / "data" / "geo" / "gfw_anchorages" / name
    return pl.read_csv(ref.read_bytes(), infer_schema_length=0)


def _number(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)


def _clean_text(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(name)


@cache
def load_anchorages() -> pl.DataFrame:
    """GFW's named anchorages: one row per anchorage cell, columns :data:`ANCHORAGE_COLUMNS`.

    Text is stripped of surrounding blanks; rows without a usable position or label are left
    out (the shipped file has one, at longitude 1001). Read once per process.
    """
    raw = _read("anchorage_overrides.csv")
    frame = raw.select(
        pl.col("s2id"),
        _number("latitude").alias("lat"),
        _number("longitude").alias("lon"),
        _clean_text("label"),
        _clean_text("sublabel"),
        _clean_text("iso3"),
    )
    return frame.filter(
        pl.col("lat").is_between(-90, 90) & pl.col("lon").is_between(-180, 180)
        & pl.col("label").is_not_null()
    ).select([pl.col(c).cast(t) for c, t in ANCHORAGE_COLUMNS.items()])


@cache
def load_wpi_ports() -> pl.DataFrame:
    """The World Port Index ports: one row per port point, columns :data:`WPI_COLUMNS`."""
    raw = _read("WPI_ports.csv")
    frame = raw.select(
        _clean_text("label"),
        _clean_text("iso3"),
        _number("latitude").alias("lat"),
        _number("longitude").alias("lon"),
    )
    return frame.filter(
        pl.col("lat").is_between(-90, 90) & pl.col("lon").is_between(-180, 180)
        & pl.col("label").is_not_null()
    ).select([pl.col(c).cast(t) for c, t in WPI_COLUMNS.items()])
