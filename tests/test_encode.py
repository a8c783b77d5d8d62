"""The AIS encoder: frames -> payloads -> sentences, back through SeaSight's decoder and pyais."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from pyais import decode as pyais_decode

from seasight.ais import decode_nmea
from seasight.ais.encode import (
    Lines,
    Payloads,
    encode_positions,
    encode_static,
    payloads,
    position_payloads,
    sentences,
    static_payloads,
    to_sixbit_text,
)
from seasight.model.schema import POSITIONS, STATIC, conform

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _nmea_checksum_ok(line: str) -> bool:
    if line.startswith("\\"):
        tag, _, line = line[1:].partition("\\")
        body, _, check = tag.partition("*")
        x = 0
        for c in body.encode():
            x ^= c
        if f"{x:02X}" != check:
            return False
    body, _, check = line[1:].rpartition("*")
    x = 0
    for c in body.encode():
        x ^= c
    return f"{x:02X}" == check


def _positions(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    types = rng.choice([1, 2, 3, 18, 19, 27], n)
    lat = np.round(rng.uniform(-89.9, 89.9, n), 6)
    lon = np.round(rng.uniform(-179.9, 179.9, n), 6)
    frame = pl.DataFrame({
        "mmsi": rng.integers(200_000_000, 775_999_999, n).astype(np.uint32),
        "ts": [T0 + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)],
        "msg_type": types.astype(np.uint8),
        "repeat": rng.integers(0, 4, n).astype(np.uint8),
        "lat": lat, "lon": lon,
        "sog": np.round(rng.uniform(0, 40, n), 1).astype(np.float32),
        "cog": np.round(rng.uniform(0, 359.9, n), 1).astype(np.float32),
        "heading": rng.integers(0, 360, n).astype(np.uint16),
        "nav_status": rng.integers(0, 15, n).astype(np.uint8),
        "rot_raw": rng.integers(-126, 127, n).astype(np.int8),
        "accuracy": rng.random(n) < 0.5,
        "raim": rng.random(n) < 0.5,
        "maneuver": rng.integers(0, 3, n).astype(np.uint8),
        "second": rng.integers(0, 60, n).astype(np.uint8),
        "station": [f"st{i % 7}" for i in range(n)],
        "channel": rng.choice(["A", "B"], n).tolist(),
    })
    return frame


def _decoded_positions(lines: Lines) -> pl.DataFrame:
    batch = decode_nmea(lines.to_bytes())
    assert batch.rejects.height == 0
    return batch.positions


def test_positions_round_trip_through_seasight() -> None:
    frame = _positions(600)
    lines = encode_positions(frame)
    assert len(lines) == frame.height
    assert all(_nmea_checksum_ok(s) for s in lines.strings())
    got = _decoded_positions(lines)
    assert got.height == frame.height
    want = frame
    for col in ("mmsi", "msg_type", "repeat", "station", "channel", "ts"):
        assert got[col].to_list() == want[col].to_list(), col
    long_range = (want["msg_type"] == 27).to_numpy()
    lat_step = np.where(long_range, 1 / 600, 1 / 600_000)
    assert np.all(np.abs(got["lat"].to_numpy() - want["lat"].to_numpy()) <= lat_step / 2 + 1e-9)
    assert np.all(np.abs(got["lon"].to_numpy() - want["lon"].to_numpy()) <= lat_step / 2 + 1e-9)
    sog_step = np.where(long_range, 1.0, 0.1)
    assert np.all(np.abs(got["sog"].to_numpy() - want["sog"].to_numpy()) <= sog_step / 2 + 1e-4)
    cog_err = np.abs(got["cog"].to_numpy() - want["cog"].to_numpy())
    cog_err = np.minimum(cog_err, 360 - cog_err)
    assert np.all(cog_err <= np.where(long_range, 0.5, 0.05) + 1e-3)
    has = lambda col: (~long_range) & got[col].is_not_null().to_numpy()  # noqa: E731
    assert (got["heading"].to_numpy()[~long_range] == want["heading"].to_numpy()[~long_range]).all()
    class_a = np.isin(want["msg_type"].to_numpy(), [1, 2, 3])
    for col in ("nav_status", "rot_raw", "maneuver"):
        assert got[col].to_numpy()[class_a].tolist() == want[col].to_numpy()[class_a].tolist()
    for col in ("accuracy", "raim"):
        assert got[col].to_list() == want[col].to_list(), col
    second = has("second")
    assert (got["second"].to_numpy()[second] == want["second"].to_numpy()[second]).all()


def test_positions_round_trip_through_pyais() -> None:
    frame = _positions(200, seed=1)
    lines = encode_positions(frame, tag_block=False)
    for row, line in zip(frame.iter_rows(named=True), lines.strings(), strict=True):
        msg = pyais_decode(line, error_if_checksum_invalid=True).asdict()
        assert msg["msg_type"] == row["msg_type"]
        assert msg["mmsi"] == row["mmsi"]
        if row["msg_type"] == 27:
            assert msg["lat"] == pytest.approx(row["lat"], abs=1 / 1200 + 1e-9)
            assert msg["speed"] == round(row["sog"])
            continue
        assert msg["lat"] == pytest.approx(row["lat"], abs=2e-6)  # pyais rounds to 6 places
        assert msg["lon"] == pytest.approx(row["lon"], abs=2e-6)
        assert msg["speed"] == pytest.approx(row["sog"], abs=0.051)
        assert msg["heading"] == row["heading"]
        assert msg["second"] == row["second"]
        if row["msg_type"] in (1, 2, 3):
            assert int(msg["status"]) == row["nav_status"]


def _static() -> pl.DataFrame:
    rows = [
        {"mmsi": 366053209, "msg_type": 5, "imo": 9123456, "callsign": "WDC1234",
         "shipname": "ever given", "ship_type": 70, "to_bow": 200, "to_stern": 100,
         "to_port": 20, "to_starboard": 30, "epfd": 1, "eta_month": 3, "eta_day": 5,
         "eta_hour": 12, "eta_minute": 30, "draught": 12.3, "destination": "SGSIN",
         "dte": False, "ais_version": 0},
        {"mmsi": 477123456, "msg_type": 24, "part_num": 0, "shipname": "SEA BIRD"},
        {"mmsi": 477123456, "msg_type": 24, "part_num": 1, "callsign": "VRAB7",
         "ship_type": 37, "to_bow": 5, "to_stern": 3, "to_port": 1, "to_starboard": 2,
         "vendor_id": "ABC", "model": 1, "serial": 12345},
        {"mmsi": 412000001, "msg_type": 19, "shipname": "LU RONG YU 77", "ship_type": 30,
         "to_bow": 10, "to_stern": 5, "to_port": 2, "to_starboard": 3, "epfd": 1,
         "dte": False},
        {"mmsi": 445123456, "msg_type": 5, "imo": 8604917, "callsign": "HMAB",
         "shipname": "YU JONG 2", "ship_type": 80, "destination": None, "draught": None},
    ]
    frame = pl.DataFrame(rows, schema_overrides={k: v for k, v in STATIC.items()
                                                  if k in rows[0] or k in rows[2]},
                         infer_schema_length=None)
    return frame.with_columns(
        ts=pl.Series([T0 + timedelta(seconds=i) for i in range(len(rows))]),
        station=pl.lit("rSGSIN"))


def test_static_round_trip_through_seasight() -> None:
    frame = _static()
    lines = encode_static(frame)
    texts = lines.strings()
    assert len(texts) == 7  # each type 5 is two fragments
    assert all(_nmea_checksum_ok(s) for s in texts)
    assert texts[0].split("!")[1].startswith("AIVDM,2,1,0,A,")
    assert texts[1].split("!")[1].startswith("AIVDM,2,2,0,A,")
    assert "g:1-2-1" in texts[0] and "g:2-2-1" in texts[1]
    batch = decode_nmea(lines.to_bytes())
    assert batch.rejects.height == 0
    got = batch.static.sort("ts")
    assert got.height == 5
    assert got["shipname"].to_list() == ["EVER GIVEN", "SEA BIRD", None, "LU RONG YU 77",
                                         "YU JONG 2"]
    assert got["callsign"].to_list() == ["WDC1234", None, "VRAB7", None, "HMAB"]
    assert got["imo"].to_list() == [9123456, None, None, None, 8604917]
    assert got["ship_type"].to_list() == [70, None, 37, 30, 80]
    assert got["destination"].to_list()[0] == "SGSIN"
    assert got["draught"][0] == pytest.approx(12.3)
    assert got["draught"][4] is None
    assert got.row(0, named=True)["eta_day"] == 5
    assert got["vendor_id"][2] == "ABC" and got["serial"][2] == 12345
    assert got["part_num"].to_list()[1:3] == [0, 1]
    # the type 19 also gives a position report (not available here)
    assert batch.positions.height == 1 and batch.positions["lat"][0] is None


def test_static_round_trip_through_pyais() -> None:
    lines = encode_static(_static(), tag_block=False).strings()
    five = pyais_decode(lines[0], lines[1], error_if_checksum_invalid=True).asdict()
    assert (five["shipname"], five["callsign"], five["imo"]) == ("EVER GIVEN", "WDC1234",
                                                                 9123456)
    assert (five["to_bow"], five["to_starboard"], five["draught"]) == (200, 30, 12.3)
    assert five["destination"] == "SGSIN"
    a = pyais_decode(lines[2]).asdict()
    b = pyais_decode(lines[3]).asdict()
    assert a["shipname"] == "SEA BIRD" and b["callsign"] == "VRAB7" and b["ship_type"] == 37
    nineteen = pyais_decode(lines[4]).asdict()
    assert nineteen["shipname"] == "LU RONG YU 77" and nineteen["ship_type"] == 30


def test_nulls_become_not_available_and_values_are_clipped() -> None:
    frame = pl.DataFrame({
        "mmsi": [1, 2, 3], "msg_type": [1, 18, 1],
        "lat": [None, 10.0, 91.5], "lon": [None, 20.0, 0.0],
        "sog": [None, 250.0, 3.0], "cog": [None, 359.99, -10.0], "heading": [None, 5, 400],
        "nav_status": [None, None, 3], "rot": [None, None, 720.0],
    })
    got = decode_nmea(encode_positions(frame, tag_block=False).to_bytes()).positions
    assert got["lat"][0] is None and got["sog"][0] is None and got["cog"][0] is None
    assert got["heading"][0] is None and got["nav_status"][0] == 15
    assert got["sog"][1] == pytest.approx(102.2)  # 102.3 would mean "not available"
    assert got["cog"][1] == pytest.approx(0.0)  # 359.99 rounds to 360.0 = 0.0
    assert got["lat"][2] == pytest.approx(90.0)
    assert got["cog"][2] == pytest.approx(350.0)
    assert got["heading"][2] == 40  # angles are wrapped
    assert got["rot_raw"][2] == 126  # ROT indicator computed from degrees per minute
    assert got["second"][0] is None


def test_sixbit_text() -> None:
    codes = to_sixbit_text(["abc", None, "Ä-1", "X" * 30], 4)
    assert codes.shape == (4, 4)
    assert codes[0].tolist() == [1, 2, 3, 0]  # lower case made upper, padded with '@'
    assert codes[1].tolist() == [0, 0, 0, 0]
    assert codes[2].tolist() == [63, 45, 49, 0]  # outside the alphabet: '?'
    assert codes[3].tolist() == [24, 24, 24, 24]


def test_unsupported_types_raise() -> None:
    with pytest.raises(ValueError, match="cannot encode"):
        payloads(pl.DataFrame({"msg_type": [4], "mmsi": [1]}))
    with pytest.raises(ValueError, match="position frame"):
        position_payloads(pl.DataFrame({"msg_type": [5], "mmsi": [1]}))
    with pytest.raises(ValueError, match="static frame"):
        static_payloads(pl.DataFrame({"msg_type": [1], "mmsi": [1]}))


def test_sentences_rows_sequence_ids_and_lines() -> None:
    static = _static()
    pay = static_payloads(static)
    assert isinstance(pay, Payloads) and pay.nchars[0] == 71 and pay.fill_bits[0] == 2
    rows = np.array([0, 0, 4, 1])  # the first type 5 heard twice
    lines = sentences(pay, rows=rows, ts_s=np.array([10, 12, 20, 30]),
                      station_index=np.array([0, 1, -1, 0]), station_names=["r1", "r2"],
                      channel="B")
    texts = lines.strings()
    assert len(texts) == 7
    assert lines.message.tolist() == [0, 0, 1, 1, 2, 2, 3]
    seq = [t.split("!")[1].split(",")[3] for t in texts]
    assert seq == ["0", "0", "1", "1", "2", "2", ""]  # one sequential id per message
    assert texts[4].startswith("\\c:20,g:1-2-3*")  # no station: no s: field
    batch = decode_nmea(lines.to_bytes())
    assert batch.rejects.height == 0 and batch.static.height == 4
    assert batch.static["station"].to_list() == ["r1", "r2", None, "r1"]
    # Lines helpers
    again = Lines.concat([lines.take(np.array([6])), Lines.from_strings(["garbage"])])
    assert again.strings() == [texts[6], "garbage"]
    assert again.message.tolist() == [3, -1]


def test_encoding_a_decoded_feed_gives_it_back() -> None:
    body = (b"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24\n"
            b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C\n")
    first = decode_nmea(body).positions
    again = decode_nmea(encode_positions(conform(first, POSITIONS), tag_block=False)
                        .to_bytes()).positions
    cols = ["mmsi", "msg_type", "lat", "lon", "sog", "cog", "heading", "nav_status", "rot_raw",
            "second", "accuracy", "raim", "maneuver"]
    assert again.select(cols).to_dicts() == first.select(cols).to_dicts()
