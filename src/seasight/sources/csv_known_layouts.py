"""The CSV track layouts SeaSight recognises by their header, and the code tables of their
text columns: US MarineCadastre, the Danish Maritime Authority's ``aisdk`` and a generic
``time, mmsi, lat, lon, sog, cog`` layout (used by :mod:`seasight.sources.csv_tracks`)."""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------
# Layouts: canonical field -> accepted header names (after _normalise_name), first match wins.
# --------------------------------------------------------------------------------------------

_REQUIRED: Final = ("ts", "mmsi", "lat", "lon")

#: Separators tried on the header line when the layout names none; the one that splits it into
#: the most fields wins (``,`` on a tie).
_SEPARATORS: Final = (",", ";", "\t", "|")
#: Data lines looked at to recognise an unnamed leading index column.
_INDEX_SAMPLE: Final = 20

_MARINECADASTRE: Final[dict[str, tuple[str, ...]]] = {
    "ts": ("basedatetime", "base_date_time"),
    "mmsi": ("mmsi",),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude"),
    "sog": ("sog",),
    "cog": ("cog",),
    "heading": ("heading",),
    "shipname": ("vesselname", "vessel_name"),
    "imo": ("imo",),
    "callsign": ("callsign", "call_sign"),
    "ship_type": ("vesseltype", "vessel_type"),
    "nav_status": ("status",),
    "draught": ("draft", "draught"),
    "transceiver": ("transceiverclass", "transceiver_class", "transceiver"),
}

_DMA: Final[dict[str, tuple[str, ...]]] = {
    "ts": ("timestamp",),
    "mobile": ("type_of_mobile",),
    "mmsi": ("mmsi",),
    "lat": ("latitude",),
    "lon": ("longitude",),
    "nav_status": ("navigational_status",),
    "rot": ("rot",),
    "sog": ("sog",),
    "cog": ("cog",),
    "heading": ("heading",),
    "imo": ("imo",),
    "callsign": ("callsign",),
    "shipname": ("name",),
    "ship_type": ("ship_type",),
    "epfd": ("type_of_position_fixing_device",),
    "draught": ("draught",),
    "destination": ("destination",),
    "eta": ("eta",),
    "to_bow": ("a",),
    "to_stern": ("b",),
    "to_port": ("c",),
    "to_starboard": ("d",),
}

_GENERIC: Final[dict[str, tuple[str, ...]]] = {
    "ts": (
        "time",
        "timestamp",
        "basedatetime",
        "base_date_time",
        "datetime",
        "date_time",
        "time_utc",
        "timestamp_utc",
    ),
    "mmsi": ("mmsi",),
    # a vessel id that is not an MMSI: used only when there is no MMSI column
    "vessel_id": ("vessel_id", "vesselid", "ship_id", "shipid", "id", "track_id", "trackid",
                  "object_id", "objectid"),
    "lat": ("lat", "latitude", "latitude_degrees"),
    "lon": ("lon", "lng", "long", "longitude", "longitude_degrees"),
    "sog": ("sog", "speed", "sog_knots", "speed_knots"),
    "cog": ("cog", "course", "cog_degrees", "course_degrees"),
    "heading": ("heading", "true_heading", "heading_degrees", "hdg"),
    "shipname": ("shipname", "ship_name", "vesselname", "vessel_name", "name"),
    "callsign": ("callsign", "call_sign"),
    "imo": ("imo", "imo_number"),
}

_SPECS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "marinecadastre": _MARINECADASTRE,
    "dma": _DMA,
    "generic": _GENERIC,
}

# --------------------------------------------------------------------------------------------
# Code tables for the DMA text columns (keys as normalised by _text_key: lower case, letters
# and digits only). Values are the ITU-R M.1371 codes (seasight/shared reference tables).
# --------------------------------------------------------------------------------------------

#: DMA "Navigational status" text -> AIS navigational status code.
DMA_NAV_STATUS: Final[dict[str, int]] = {
    "underwayusingengine": 0,
    "atanchor": 1,
    "notundercommand": 2,
    "restrictedmaneuverability": 3,
    "restrictedmanoeuverability": 3,
    "restrictedmanoeuvrability": 3,
    "restrictedmaneuvrability": 3,
    "constrainedbyherdraught": 4,
    "moored": 5,
    "aground": 6,
    "engagedinfishing": 7,
    "underwaysailing": 8,
    "reservedforfutureamendmenthsc": 9,
    "reservedforfutureamendmentofnavigationalstatusforhsc": 9,
    "reservedforfutureamendmentwig": 10,
    "reservedforfutureamendmentofnavigationalstatusforwig": 10,
    "powerdrivenvesseltowingastern": 11,
    "powerdrivenvesseltowingasternregionaluse": 11,
    "powerdrivenvesselpushingaheadortowingalongside": 12,
    "powerdrivenvesselpushingaheadortowingalongsideregionaluse": 12,
    "reservedforfutureuse": 13,
    "aissartisactive": 14,
    "aissart": 14,
    # 15 is "not defined (default)": what a transponder sends when nothing was set.
    "unknownvalue": 15,
    "undefined": 15,
    "undefineddefault": 15,
    "notdefined": 15,
}

#: DMA "Ship type" text -> AIS ship type code ("all ships of this type" for the families
#: whose second digit is a hazard category, which the DMA text does not give).
DMA_SHIP_TYPE: Final[dict[str, int]] = {
    "wig": 20,
    "fishing": 30,
    "towing": 31,
    "towinglongwide": 32,
    "dredging": 33,
    "diving": 34,
    "military": 35,
    "sailing": 36,
    "pleasure": 37,
    "hsc": 40,
    "pilot": 50,
    "sar": 51,
    "tug": 52,
    "porttender": 53,
    "antipollution": 54,
    "lawenforcement": 55,
    "spare1": 56,
    "spare2": 57,
    "localvessel": 56,
    "medical": 58,
    "notpartytoconflict": 59,
    "passenger": 60,
    "cargo": 70,
    "tanker": 80,
    "other": 90,
}

#: DMA "Type of position fixing device" text -> AIS EPFD code ("Undefined" -> null).
DMA_EPFD: Final[dict[str, int]] = {
    "gps": 1,
    "glonass": 2,
    "combinedgpsglonass": 3,
    "loranc": 4,
    "chayka": 5,
    "integratednavigationsystem": 6,
    "surveyed": 7,
    "galileo": 8,
    "internalgnss": 15,
}

#: DMA "Type of mobile" text -> the AIS message type such a station sends its position in.
DMA_MOBILE_MSG_TYPE: Final[dict[str, int]] = {
    "classa": 1,
    "classb": 18,
    "basestation": 4,
    "aton": 21,
    "sarairborne": 9,
}

#: MarineCadastre ``TransceiverClass`` -> message type of the position report.
MARINECADASTRE_MSG_TYPE: Final[dict[str, int]] = {"A": 1, "B": 18}
