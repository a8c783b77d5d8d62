"""Bit layouts of the decoded AIS message types, declared once as data.

Offsets and widths follow ITU-R M.1371-5 as transcribed in gpsd's AIVDM/AIVDO protocol
decoding (``shared/data/conformance/gpsd/AIVDM.adoc``). Each :class:`Field` says where its bits
are, how to read them, which raw value means "not available" and how to scale it; the
decoder applies these rules to whole columns at once. Column names are SeaSight's
(``seasight.model.schema``); :mod:`seasight.ais.pyais_names` maps them to pyais's names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["u", "i", "b", "t"]


@dataclass(frozen=True)
class Field:
    """One field of a message: ``width`` bits at ``bit`` (for text, ``width`` = 6 x chars).

    ``kind``: ``u`` unsigned, ``i`` two's complement, ``b`` boolean, ``t`` 6-bit text.
    Raw values equal to any of ``na`` are "not available" and become null; so do raw values
    outside ``[lo, hi]`` (a bad field nulls the field, not the record). The value is
    ``raw / scale`` when ``scale`` is set.
    """

    name: str
    bit: int
    width: int
    kind: Kind = "u"
    na: tuple[int, ...] = ()
    lo: int | None = None
    hi: int | None = None
    scale: float | None = None


def _lat(bit: int, width: int = 27, per_degree: int = 600_000) -> Field:
    return Field("lat", bit, width, "i", (91 * per_degree,), -90 * per_degree, 90 * per_degree,
                 float(per_degree))


def _lon(bit: int, width: int = 28, per_degree: int = 600_000) -> Field:
    return Field("lon", bit, width, "i", (181 * per_degree,), -180 * per_degree,
                 180 * per_degree, float(per_degree))


def _text(name: str, bit: int, nchar: int) -> Field:
    return Field(name, bit, 6 * nchar, "t")


def _dims(bit: int) -> tuple[Field, ...]:
    return (
        Field("to_bow", bit, 9),
        Field("to_stern", bit + 9, 9),
        Field("to_port", bit + 18, 6),
        Field("to_starboard", bit + 24, 6),
    )


HEADER = (Field("msg_type", 0, 6), Field("repeat", 6, 2), Field("mmsi", 8, 30))

SOG_TENTHS = dict(na=(1023,), scale=10.0)
COG_TENTHS = dict(na=(3600,), hi=3599, scale=10.0)

#: Class A position report, types 1, 2 and 3.
POSITION_A = (
    Field("nav_status", 38, 4),
    Field("rot_raw", 42, 8, "i", na=(-128,)),
    Field("sog", 50, 10, **SOG_TENTHS),  # type: ignore[arg-type]
    Field("accuracy", 60, 1, "b"),
    _lon(61),
    _lat(89),
    Field("cog", 116, 12, **COG_TENTHS),  # type: ignore[arg-type]
    Field("heading", 128, 9, na=(511,), hi=359),
    Field("second", 137, 6, hi=59),
    Field("maneuver", 143, 2),
    Field("raim", 148, 1, "b"),
)

#: Standard SAR aircraft position report, type 9 (speed in whole knots).
POSITION_SAR = (
    Field("altitude_m", 38, 12, na=(4095,)),
    Field("sog", 50, 10, na=(1023,)),
    Field("accuracy", 60, 1, "b"),
    _lon(61),
    _lat(89),
    Field("cog", 116, 12, **COG_TENTHS),  # type: ignore[arg-type]
    Field("second", 128, 6, hi=59),
    Field("raim", 147, 1, "b"),
)

_CLASS_B_POSITION = (
    Field("sog", 46, 10, **SOG_TENTHS),  # type: ignore[arg-type]
    Field("accuracy", 56, 1, "b"),
    _lon(57),
    _lat(85),
    Field("cog", 112, 12, **COG_TENTHS),  # type: ignore[arg-type]
    Field("heading", 124, 9, na=(511,), hi=359),
    Field("second", 133, 6, hi=59),
)

#: Standard class B position report, type 18.
POSITION_B = (*_CLASS_B_POSITION, Field("raim", 147, 1, "b"))

#: Extended class B position report, type 19: its position part ...
POSITION_B_EXTENDED = (*_CLASS_B_POSITION, Field("raim", 305, 1, "b"))

#: ... and its static part.
STATIC_B_EXTENDED = (
    _text("shipname", 143, 20),
    Field("ship_type", 263, 8, na=(0,)),
    *_dims(271),
    Field("epfd", 301, 4),
    Field("dte", 306, 1, "b"),
)

#: Long-range position report, type 27 (1/10 minute positions, whole knots and degrees).
POSITION_LONG_RANGE = (
    Field("accuracy", 38, 1, "b"),
    Field("raim", 39, 1, "b"),
    Field("nav_status", 40, 4),
    _lon(44, 18, 600),
    _lat(62, 17, 600),
    Field("sog", 79, 6, na=(63,)),
    Field("cog", 85, 9, na=(511,), hi=359),
)

#: Static and voyage related data, type 5.
STATIC_VOYAGE = (
    Field("ais_version", 38, 2),
    Field("imo", 40, 30, na=(0,)),
    _text("callsign", 70, 7),
    _text("shipname", 112, 20),
    Field("ship_type", 232, 8, na=(0,)),
    *_dims(240),
    Field("epfd", 270, 4),
    Field("eta_month", 274, 4, na=(0,), hi=12),
    Field("eta_day", 278, 5, na=(0,)),
    Field("eta_hour", 283, 5, na=(24,), hi=23),
    Field("eta_minute", 288, 6, na=(60,), hi=59),
    Field("draught", 294, 8, na=(0,), scale=10.0),
    _text("destination", 302, 20),
    Field("dte", 422, 1, "b"),
)

#: Static data report part A (type 24, part number 0).
STATIC_B_PART_A = (Field("part_num", 38, 2), _text("shipname", 40, 20))

#: Static data report part B (type 24, part number 1). Dimensions and mothership MMSI share
#: bits 132-161: an auxiliary craft (MMSI 98xxxxxxx) sends the mothership's MMSI there.
STATIC_B_PART_B = (
    Field("part_num", 38, 2),
    Field("ship_type", 40, 8, na=(0,)),
    _text("vendor_id", 48, 3),
    Field("model", 66, 4),
    Field("serial", 70, 20),
    _text("callsign", 90, 7),
    *_dims(132),
)
MOTHERSHIP_MMSI = Field("mothership_mmsi", 132, 30)

#: Base station report (type 4) and UTC/date response (type 11).
BASE_STATION = (
    Field("year", 38, 14, na=(0,)),
    Field("month", 52, 4, na=(0,), hi=12),
    Field("day", 56, 5, na=(0,)),
    Field("hour", 61, 5, na=(24,), hi=23),
    Field("minute", 66, 6, na=(60,), hi=59),
    Field("second", 72, 6, na=(60,), hi=59),
    Field("accuracy", 78, 1, "b"),
    _lon(79),
    _lat(107),
    Field("epfd", 134, 4),
    Field("raim", 148, 1, "b"),
)

#: Aid-to-navigation report, type 21 (name extension after bit 272).
AID_TO_NAVIGATION = (
    Field("aid_type", 38, 5),
    _text("name", 43, 20),
    Field("accuracy", 163, 1, "b"),
    _lon(164),
    _lat(192),
    *_dims(219),
    Field("epfd", 249, 4),
    Field("second", 253, 6, hi=59),
    Field("off_position", 259, 1, "b"),
    Field("raim", 268, 1, "b"),
    Field("virtual_aid", 269, 1, "b"),
    Field("assigned", 270, 1, "b"),
)
NAME_EXTENSION = _text("name_ext", 272, 14)

#: Message types decoded into columns, and the table each feeds.
POSITION_TYPES = {1: POSITION_A, 2: POSITION_A, 3: POSITION_A, 9: POSITION_SAR,
                  18: POSITION_B, 19: POSITION_B_EXTENDED, 27: POSITION_LONG_RANGE}
STATIC_TYPES = {5: STATIC_VOYAGE, 19: STATIC_B_EXTENDED}  # 24 is split by part number
BASE_STATION_TYPES = {4: BASE_STATION, 11: BASE_STATION}
AID_TYPES = {21: AID_TO_NAVIGATION}
DECODED_TYPES = frozenset({*POSITION_TYPES, *STATIC_TYPES, 24, *BASE_STATION_TYPES, *AID_TYPES})

#: A message shorter than this cannot even say who sent it: rejected as ``truncated_message``.
MIN_BITS = 38
