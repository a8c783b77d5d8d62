"""AIS decoding: NMEA sentences (with tag blocks and receiver metadata) to SeaSight's tables.

>>> from seasight.ais import decode_nmea
>>> batch = decode_nmea(b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\\n")
>>> batch.positions.select("mmsi", "sog", "heading").row(0)
(367533950, 0.0, None)
"""

from seasight.ais.decoder import DecoderState, NmeaDecoder, decode_nmea

__all__ = ["DecoderState", "NmeaDecoder", "decode_nmea"]
