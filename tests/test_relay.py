"""NMEA relay: encode permitted rows, serve them over TCP/UDP, decode them back."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from seasight.ais import decode_nmea
from seasight.sharing import (
    assign_source,
    attach_origin,
    compile_grants,
    create_agreement,
    make_agreement,
    permitted,
    revoke_agreement,
)
from seasight.sharing.relay import RelayFeed, RelayServer, relay_sentences
from seasight.store import Store


@pytest.fixture(scope="module")
def sim() -> Any:
    from seasight.sim import simulate
    return simulate("indo-pacific", hours=1, vessels=40, seed=3)


def _read_lines(sock: socket.socket, n_lines: int, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < n_lines and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_relay_sentences_decode_back(sim: Any) -> None:
    pos, sta = sim.positions.head(200), sim.static.head(100)
    back = decode_nmea(relay_sentences(pos, sta))
    assert back.rejects.height == 0
    assert back.positions["mmsi"].to_list() == pos["mmsi"].to_list()
    assert (back.positions["lat"] - pos["lat"]).abs().max() < 1e-5  # type: ignore[operator]
    classes = pos["msg_type"].is_in([18, 19]).to_list()
    assert [t == 18 for t in back.positions["msg_type"].to_list()] == classes
    assert set(back.positions["station"].unique()) == {"seasight"}
    assert back.static.filter(pl.col("msg_type") == 5).height == \
        sta.filter(pl.col("msg_type") == 5).height
    assert relay_sentences(pos.clear()) == b""


def test_tcp_clients_get_permitted_rounded_positions(sim: Any) -> None:
    pos = attach_origin(sim.positions.head(300), [("sim:*", "navy")]).with_columns(
        pl.lit(70, pl.UInt8).alias("ship_type"))
    grants = compile_grants([make_agreement("navy", "coast", ["positions"],
                                            precision_decimals=2,
                                            exclude_mmsi=[int(pos["mmsi"][0])])])
    now = pos["ts"].max() + timedelta(hours=1)  # type: ignore[operator]
    allowed = permitted("coast", "positions", pos, grants, now)
    assert 0 < allowed.height < pos.height
    with RelayServer(tcp_port=0, host="127.0.0.1") as server:
        assert server.port
        first = socket.create_connection(("127.0.0.1", server.port))
        second = socket.create_connection(("127.0.0.1", server.port))
        _wait(lambda: server.clients == 2)
        second.close()  # a client that goes away must not disturb the others
        data = relay_sentences(allowed)
        server.send(data)
        server.send(data)
        got = _read_lines(first, 2 * data.count(b"\n"))
        first.close()
        _wait(lambda: server.clients == 0)
        server.send(data)  # nobody listening: fine
    back = decode_nmea(got)
    assert back.positions.height == 2 * allowed.height
    head = back.positions.head(allowed.height)
    assert head["mmsi"].to_list() == allowed["mmsi"].to_list()
    assert (head["lat"] - allowed["lat"]).abs().max() < 1e-6  # type: ignore[operator]
    assert (head["lon"] - allowed["lon"]).abs().max() < 1e-6  # type: ignore[operator]
    assert (head["lat"] * 100 - (head["lat"] * 100).round()).abs().max() < 1e-4  # type: ignore[operator]


def test_udp_sender(sim: Any) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    data = relay_sentences(sim.positions.head(50))
    with RelayServer(udp=("127.0.0.1", receiver.getsockname()[1])) as server:
        server.send(data)
        got = b""
        while got.count(b"\n") < 50:
            chunk = receiver.recv(65536)
            assert len(chunk) <= 1400 and chunk.endswith(b"\n")
            got += chunk
    receiver.close()
    assert decode_nmea(got).positions["mmsi"].to_list() == sim.positions.head(50)["mmsi"].to_list()


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="TCP port"):
        RelayServer(tcp_port=70000)
    with pytest.raises(ValueError, match="give"):
        RelayServer()


def test_feed_streams_new_rows_honours_delay_and_revocation(sim: Any, tmp_path: Path) -> None:
    text = relay_sentences(sim.positions, sim.static)
    batch = decode_nmea(text, source="tcp://10.0.0.5:2000")
    first, later = batch.positions.head(100), batch.positions.slice(100, 200)
    end = batch.positions["ts"].max()
    with Store(tmp_path / "relay.duckdb") as store:
        assign_source(store, "tcp://10.0.0.*", "navy")
        store.append(type(batch)(positions=first, static=batch.static))
        agreement = create_agreement(store, "navy", "coast", ["positions", "identities"],
                                     delay=timedelta(minutes=30))
        feed = RelayFeed("coast", from_start=True)
        now = first["ts"].max() + timedelta(minutes=30)  # type: ignore[operator]
        out = decode_nmea(feed.poll(store, now))
        assert out.positions.height == first.filter(pl.col("ts") <= now - timedelta(
            minutes=30)).height > 0
        assert out.static.height > 0
        # the rest of the first batch comes once it is old enough
        out2 = decode_nmea(feed.poll(store, end + timedelta(hours=1)))  # type: ignore[operator]
        assert out.positions.height + out2.positions.height == first.height
        # new rows are streamed
        store.append(type(batch)(positions=later))
        out3 = decode_nmea(feed.poll(store, end + timedelta(hours=1)))  # type: ignore[operator]
        assert out3.positions.height == later.height
        # a revocation stops the stream at the next poll
        revoke_agreement(store, agreement.agreement_id, at=end)  # simulated time
        store.append(type(batch)(positions=batch.positions.slice(300, 50)))
        assert feed.poll(store, end + timedelta(hours=1)) == b""  # type: ignore[operator]
        # another organisation never saw anything
        other = RelayFeed("port", from_start=True)
        assert other.poll(store, end + timedelta(hours=1)) == b""  # type: ignore[operator]


def test_relay_command_streams_over_udp(sim: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from seasight.cli import app

    db = tmp_path / "cli.duckdb"
    with Store(db) as store:
        store.append(decode_nmea(relay_sentences(sim.positions.head(40)), source="/x.nmea"))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    result = CliRunner().invoke(app, ["relay", "--udp", f"127.0.0.1:{port}", "--as-org",
                                      "local", "--from-start", "--interval", "0.2",
                                      "--duration", "0.5", "--db", str(db)])
    assert result.exit_code == 0, result.output
    got = b""
    while got.count(b"\n") < 40:
        got += receiver.recv(65536)
    receiver.close()
    assert decode_nmea(got).positions.height == 40
    bad = CliRunner().invoke(app, ["relay", "--as-org", "local", "--db", str(db)])
    assert bad.exit_code == 1 and "--tcp-listen" in bad.output
