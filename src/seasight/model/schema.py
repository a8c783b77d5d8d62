"""Column schemas of the tables every stage exchanges (see DESIGN.md, "Data model").

Each table is a Polars schema: the decoder, the CSV readers, the live sources and the store all
produce or accept frames with exactly these columns, in this order. Units are in the names where
a name alone would be ambiguous; angles are degrees, speeds knots, times UTC microseconds.

Provenance columns shared by every decoded table:

``source``
    where the row came from: a file path, ``tcp://host:port``, ``udp://host:port`` or ``-``.
``line_no``
    1-based line number of the (first fragment of the) message in that source; for CSV the row's
    line number. Every stored value can be traced back to its line.
``station``
    receiving station from the tag block ``s:`` field or the trailing metadata, when known.
``channel``
    AIS radio channel (``A``/``B``/``1``/``2``) from the sentence, when known.
``ts_source``
    which rule gave ``ts`` (see :data:`TS_SOURCES`).
``msg_hash``
    64-bit hash of the assembled payload, used to store each transmission once.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: Where a row's timestamp came from, in order of preference. ``tagblock``: NMEA 4.0 tag block
#: ``c:`` field; ``line``: a per-line timestamp written by the receiver (Gatehouse ``$PGHP``
#: wrapper, USCG/aishub trailing unix time); ``csv``: the time column of a CSV source;
#: ``arrival``: the time a live feed delivered the line (live sources only); ``none``: no time
#: known (files without any timestamps).
TS_SOURCES: Final = ("tagblock", "line", "csv", "arrival", "none", "tagblock_unverified")

UTC_US = pl.Datetime("us", "UTC")

#: Synthetic MMSIs: vessels of a source that names them by an id that is not an MMSI (an
#: anonymised CSV ``ID`` column) get an ``mmsi`` in [SYNTHETIC_MMSI_MIN, SYNTHETIC_MMSI_MAX],
#: derived from the id by :func:`seasight.sources.vessel_ids.synthetic_mmsi`; the id itself is
#: kept in ``static.vessel_id``. A real MMSI has nine digits and the AIS MMSI field 30 bits, so
#: no decoded message can carry a value of this range (2**30 .. 2**32 - 1).
SYNTHETIC_MMSI_MIN: Final = 1 << 30
SYNTHETIC_MMSI_MAX: Final = (1 << 32) - 1

PROVENANCE: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "line_no": pl.Int64(),
    "station": pl.String(),
    "channel": pl.String(),
    "ts_source": pl.String(),  # one of TS_SOURCES
    "msg_hash": pl.Int64(),
}

#: One row per position report: types 1, 2, 3 (class A), 9 (SAR aircraft), 18, 19 (class B),
#: 27 (long range), and CSV fixes. Not-available values are null.
POSITIONS: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "ts": UTC_US,
    "msg_type": pl.UInt8(),
    "repeat": pl.UInt8(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog": pl.Float32(),  # knots
    "cog": pl.Float32(),  # degrees true
    "heading": pl.UInt16(),  # degrees true
    "nav_status": pl.UInt8(),
    "rot": pl.Float32(),  # degrees/minute, null when not available or beyond +-708
    "rot_raw": pl.Int8(),  # as transmitted (-127..127), null when -128 (not available)
    "accuracy": pl.Boolean(),  # True: position accuracy better than 10 m
    "raim": pl.Boolean(),
    "maneuver": pl.UInt8(),
    "second": pl.UInt8(),  # UTC second of the report, null when >= 60
    "altitude_m": pl.UInt16(),  # type 9 only
    **PROVENANCE,
}

#: One row per static / voyage report (types 5, 19, 24 parts A and B, CSV identity columns).
#: Kept as history: identity changes are evidence.
STATIC: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "ts": UTC_US,
    "msg_type": pl.UInt8(),
    "repeat": pl.UInt8(),
    "part_num": pl.UInt8(),  # type 24: 0 = part A, 1 = part B
    "imo": pl.UInt32(),
    "callsign": pl.String(),
    "shipname": pl.String(),
    "ship_type": pl.UInt8(),
    "to_bow": pl.UInt16(),  # metres
    "to_stern": pl.UInt16(),
    "to_port": pl.UInt8(),
    "to_starboard": pl.UInt8(),
    "epfd": pl.UInt8(),
    "eta_month": pl.UInt8(),
    "eta_day": pl.UInt8(),
    "eta_hour": pl.UInt8(),
    "eta_minute": pl.UInt8(),
    "draught": pl.Float32(),  # metres
    "destination": pl.String(),
    "dte": pl.Boolean(),  # True: data terminal NOT ready
    "ais_version": pl.UInt8(),
    "vendor_id": pl.String(),
    "model": pl.UInt8(),
    "serial": pl.UInt32(),
    "mothership_mmsi": pl.UInt32(),
    # the source's own vessel id when it is not an MMSI (``mmsi`` is then synthetic, see
    # SYNTHETIC_MMSI_MIN), else null
    "vessel_id": pl.String(),
    **PROVENANCE,
}

#: Base station reports (type 4) and UTC/date responses (type 11).
BASE_STATIONS: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "ts": UTC_US,
    "msg_type": pl.UInt8(),
    "repeat": pl.UInt8(),
    "station_time": UTC_US,  # the UTC time the station transmitted, null when incomplete
    "year": pl.UInt16(),
    "month": pl.UInt8(),
    "day": pl.UInt8(),
    "hour": pl.UInt8(),
    "minute": pl.UInt8(),
    "second": pl.UInt8(),
    "accuracy": pl.Boolean(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "epfd": pl.UInt8(),
    "raim": pl.Boolean(),
    **PROVENANCE,
}

#: Aid-to-navigation reports (type 21).
AIDS_TO_NAVIGATION: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "ts": UTC_US,
    "msg_type": pl.UInt8(),
    "repeat": pl.UInt8(),
    "aid_type": pl.UInt8(),
    "name": pl.String(),  # name plus name extension
    "accuracy": pl.Boolean(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "to_bow": pl.UInt16(),
    "to_stern": pl.UInt16(),
    "to_port": pl.UInt8(),
    "to_starboard": pl.UInt8(),
    "epfd": pl.UInt8(),
    "second": pl.UInt8(),
    "off_position": pl.Boolean(),
    "raim": pl.Boolean(),
    "virtual_aid": pl.Boolean(),
    "assigned": pl.Boolean(),
    **PROVENANCE,
}

#: Messages of types SeaSight does not decode into columns (6, 7, 8, 10, 12-17, 20, 22, 23,
#: 25, 26): kept whole, with their armored payload, so nothing is dropped.
OTHER_MESSAGES: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "ts": UTC_US,
    "msg_type": pl.UInt8(),
    "repeat": pl.UInt8(),
    "payload": pl.String(),
    "fill_bits": pl.UInt8(),
    **PROVENANCE,
}

#: Input that could not be used, kept byte for byte with the reason (see ``seasight.ais.reasons``).
REJECTS: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "line_no": pl.Int64(),
    "raw": pl.Binary(),
    "reason": pl.String(),
    "detail": pl.String(),
}

#: One cleaned position of a vessel track (``seasight.tracks``): sentinels and impossible values
#: removed, arrival order corrected, duplicate timestamps collapsed. ``segment_id`` names the
#: transmitter the point was matched to (``"<mmsi>-<n>"``); ``on_land`` flags fixes on land.
TRACK_POINTS: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "segment_id": pl.String(),
    "ts": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog": pl.Float32(),  # knots, null when not reported
    "cog": pl.Float32(),  # degrees true
    "heading": pl.UInt16(),
    "nav_status": pl.UInt8(),
    "msg_type": pl.UInt8(),
    "on_land": pl.Boolean(),
}

#: A piece of track that the data says is one transmitter moving continuously.
SEGMENTS: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "segment_id": pl.String(),
    "start": UTC_US,
    "end": UTC_US,
    "n_points": pl.UInt32(),
    "lat_min": pl.Float64(),
    "lat_max": pl.Float64(),
    "lon_min": pl.Float64(),
    "lon_max": pl.Float64(),
}

#: Identity history: one row per period in which a vessel (MMSI) reported the same identity.
IDENTITIES: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "valid_from": UTC_US,
    "valid_to": UTC_US,  # last report with this identity
    "imo": pl.UInt32(),
    "callsign": pl.String(),
    "shipname": pl.String(),
    "ship_type": pl.UInt8(),
    "length_m": pl.UInt16(),  # to_bow + to_stern
    "beam_m": pl.UInt16(),  # to_port + to_starboard
    "flag": pl.String(),  # ISO 3166 alpha-2 of the MMSI's MID, null when the MID is not allocated
    "n_reports": pl.UInt32(),
}

#: Every detected event, one table for every kind (see ``seasight.events``).
EVENTS: Final[dict[str, pl.DataType]] = {
    "event_id": pl.String(),  # stable: the same event found again gets the same id
    "kind": pl.String(),  # gap, encounter, loitering, port_visit, zone_entry, zone_exit, ...
    "mmsi": pl.UInt32(),  # the vessel
    "other_mmsi": pl.UInt32(),  # the second vessel of an encounter, else null
    "start": UTC_US,
    "end": UTC_US,
    "lat": pl.Float64(),  # where it happened (start point, or mean position)
    "lon": pl.Float64(),
    "zone": pl.String(),  # zone name for zone events, port name for port visits, else null
    "score": pl.Float32(),  # confidence in [0, 1]
    "is_open": pl.Boolean(),  # still going on at the end of the data: may be extended
    "evidence": pl.String(),  # JSON object: the values and rows that prove the event
    "detector": pl.String(),  # detector name and version, e.g. "gap/1"
}

#: Tables derived from the decoded ones by ``seasight detect``.
DERIVED_TABLES: Final[dict[str, dict[str, pl.DataType]]] = {
    "segments": SEGMENTS,
    "identities": IDENTITIES,
    "events": EVENTS,
}

#: Table name -> schema, in the order the store creates them.
TABLES: Final[dict[str, dict[str, pl.DataType]]] = {
    "positions": POSITIONS,
    "static": STATIC,
    "base_stations": BASE_STATIONS,
    "aids_to_navigation": AIDS_TO_NAVIGATION,
    "other_messages": OTHER_MESSAGES,
    "rejects": REJECTS,
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with exactly ``schema``'s columns."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return ``frame`` with exactly ``schema``'s columns, in order, missing ones as nulls.

    Columns are cast strictly: a value that does not fit its type is a bug upstream, not
    something to hide.
    """
    have = frame.schema
    if list(have.keys()) == list(schema) and all(have[c] == t for c, t in schema.items()):
        return frame
    cols = [
        (
            pl.col(name) if have.get(name) == dtype
            else pl.col(name).cast(dtype) if name in have
            else pl.lit(None, dtype=dtype)
        ).alias(name)
        for name, dtype in schema.items()
    ]
    return frame.select(cols)
