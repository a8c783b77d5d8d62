"""Why input is rejected: one table of reasons, shared by every source.

Bad input is never dropped silently: each rejected line (or CSV row) is kept in the ``rejects``
table with its raw bytes, its source and line number, and one of these reasons. The numeric code
is what the vectorised decoder writes; the name is what users see and count.
"""

from __future__ import annotations

from typing import Final

#: (code, name, description). Codes are stable; append only.
REASONS: Final[tuple[tuple[int, str, str], ...]] = (
    (1, "bad_checksum", "the NMEA checksum does not match the sentence"),
    (2, "malformed_sentence", "not a well-formed !xxVDM/!xxVDO sentence (fields missing or wrong)"),
    (3, "bad_character", "a byte outside printable ASCII (garbage, binary or non-UTF-8 data)"),
    (4, "oversize_line", "the line is longer than any AIS sentence can be"),
    (5, "bad_payload", "the payload holds characters outside the AIS 6-bit alphabet"),
    (6, "bad_fill_bits", "fill bits missing or not 0-5"),
    (7, "bad_fragment_number", "fragment number or count out of range (0, >9, number > count)"),
    (8, "missing_fragment", "a multi-part message whose other fragments never arrived"),
    (9, "orphan_fragment", "a later fragment with no matching first fragment"),
    (10, "bad_tagblock", "malformed NMEA 4.0 tag block (a line is rejected for it only when "
     "the block has no end; else its sentence is decoded and this is counted as a warning)"),
    (11, "empty_payload", "a sentence (or first fragment) without payload"),
    (12, "truncated_message", "payload too short for its message type"),
    (13, "unsupported_sentence", "an NMEA sentence that is not AIS (kept, not decoded)"),
    (14, "unknown_message_type", "message type 0 or above 27"),
    (15, "bad_csv_row", "a CSV row whose fields cannot be parsed"),
    (16, "bad_csv_header", "a CSV file whose header matches no known layout"),
    (17, "impossible_position", "latitude/longitude outside the Earth in a CSV row"),
    (18, "bad_timestamp", "a timestamp that cannot be parsed or is out of range"),
    (19, "bad_mmsi", "MMSI missing or not a number"),
    (20, "bad_vessel_id", "vessel id (not an MMSI) missing, or sharing its synthetic MMSI with "
                          "another id"),
    (21, "truncated_compressed_file",
     "a compressed file cut before its end: the lines before the cut are kept"),
    (22, "corrupt_compressed_file",
     "a compressed file that is not gzip, or damaged: the lines before the damage are kept"),
    (23, "tagblock_checksum", "the tag block's own checksum does not match: a warning, the "
     "sentence (its checksum right) is decoded with the block's fields, ts_source "
     "tagblock_unverified"),
)


REASON_NAMES: Final[dict[int, str]] = {code: name for code, name, _ in REASONS}
REASON_CODES: Final[dict[str, int]] = {name: code for code, name, _ in REASONS}
REASON_HELP: Final[dict[str, str]] = {name: text for _, name, text in REASONS}
