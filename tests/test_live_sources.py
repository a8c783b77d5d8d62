"""Live AIS feed clients: TCP stream and UDP datagrams, all on 127.0.0.1, bounded in time."""

from __future__ import annotations

import random
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seasight.sources import live, udp
from seasight.sources.live import LiveChunk, parse_endpoint, tcp_chunks, udp_chunks

SAMPLE_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "conformance"
    / "pyais"
    / "nmea_data_sample.txt"
)
LOCALHOST = "127.0.0.1"
WAIT_S = 5.0  # upper bound for anything we wait for; tests normally finish far sooner

Handler = Callable[[socket.socket], None]


# ------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def sample_raw() -> bytes:
    """The sample file as stored (its last line has no newline)."""
    if not SAMPLE_FILE.exists():
        pytest.skip(f"sample data missing: {SAMPLE_FILE}")
    return SAMPLE_FILE.read_bytes()


@pytest.fixture(scope="module")
def sample(sample_raw: bytes) -> bytes:
    """The sample file with every line, the last included, ending in a newline."""
    return sample_raw if sample_raw.endswith(b"\n") else sample_raw + b"\r\n"


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def awkward_pieces(data: bytes, seed: int = 7) -> list[bytes]:
    """Cut ``data`` at random places: mid-line, between CR and LF, single bytes..."""
    rng = random.Random(seed)
    pieces, start = [], 0
    while start < len(data):
        size = rng.choice((1, 2, 3, 5, 17, 40, 81, 82, 83, 200, 700))
        pieces.append(data[start : start + size])
        start += size
    return pieces


class Server:
    """A TCP server on 127.0.0.1 (ephemeral port) running one handler per accepted connection.

    With ``listen=False`` the port is bound but refuses connections until :meth:`start`.
    """

    def __init__(self, handlers: list[Handler], *, listen: bool = True) -> None:
        self.handlers = handlers
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOCALHOST, 0))
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        if listen:
            self.start()

    def start(self) -> None:
        self.sock.listen(8)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(WAIT_S)
        try:
            for handler in self.handlers:
                conn, _ = self.sock.accept()
                self.accepted += 1
                with conn:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    handler(conn)
        except BaseException as exc:  # reported by close()
            self.errors.append(exc)

    def close(self) -> None:
        if self.thread.ident is not None:
            self.thread.join(WAIT_S)
        self.sock.close()
        assert not self.errors, self.errors

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hold_until_client_closes(conn: socket.socket) -> None:
    """Keep the connection open and silent until the client closes it (or WAIT_S passes)."""
    conn.settimeout(WAIT_S)
    try:
        while conn.recv(1024):
            pass
    except OSError:
        pass


def send_pieces(pieces: list[bytes], pause: float = 0.0) -> Handler:
    def handler(conn: socket.socket) -> None:
        for piece in pieces:
            conn.sendall(piece)
            if pause:
                time.sleep(pause)

    return handler


def then(*handlers: Handler) -> Handler:
    def handler(conn: socket.socket) -> None:
        for h in handlers:
            h(conn)

    return handler


class Consumer:
    """Iterate a chunk iterator in a thread, collecting chunks and status messages."""

    def __init__(self, make: Callable[[Callable[[str], None]], Iterator[LiveChunk]]) -> None:
        self.chunks: list[LiveChunk] = []
        self.statuses: list[str] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.iterator = make(self.statuses.append)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for chunk in self.iterator:
                self.chunks.append(chunk)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def data(self) -> bytes:
        return b"".join(chunk.data for chunk in list(self.chunks))

    def has_status(self, pattern: str) -> bool:
        return any(re.search(pattern, message) for message in list(self.statuses))

    def stop(self, stop: threading.Event, within: float = 1.0) -> float:
        """Set ``stop``; return how long the iterator took to end (asserts it did)."""
        started = time.monotonic()
        stop.set()
        assert self.done.wait(WAIT_S), "iterator did not stop"
        elapsed = time.monotonic() - started
        self.thread.join(WAIT_S)
        assert self.error is None, self.error
        assert elapsed < within, f"stopping took {elapsed:.2f} s"
        return elapsed


def lines_of(chunks: list[LiveChunk]) -> list[bytes]:
    return [line for chunk in chunks for line in chunk.data.splitlines(keepends=True)]


# ------------------------------------------------------------------------------------------
# TCP


def test_tcp_lines_split_at_awkward_boundaries_arrive_intact_and_in_order(sample: bytes) -> None:
    pieces = awkward_pieces(sample)
    stop = threading.Event()
    t0 = time.time_ns() // 1000
    with Server([then(send_pieces(pieces, pause=0.0002), hold_until_client_closes)]) as server:
        consumer = Consumer(
            lambda status: tcp_chunks(LOCALHOST, server.port, stop=stop, on_status=status)
        )
        assert wait_until(lambda: len(consumer.data()) >= len(sample)), consumer.statuses
        consumer.stop(stop)
    t1 = time.time_ns() // 1000

    assert consumer.data() == sample
    assert len(consumer.chunks) > 1
    for chunk in consumer.chunks:
        assert chunk.data.endswith(b"\n")  # so every chunk boundary is a line boundary
        assert chunk.source == f"tcp://127.0.0.1:{server.port}"
        assert t0 <= chunk.arrival_ts_us <= t1
    stamps = [chunk.arrival_ts_us for chunk in consumer.chunks]
    assert stamps == sorted(stamps)
    assert lines_of(consumer.chunks) == sample.splitlines(keepends=True)
    assert consumer.has_status(rf"^connected to tcp://127\.0\.0\.1:{server.port}$")
    assert consumer.has_status("^stopped")


def test_tcp_reconnects_after_drop_mid_line_and_discards_the_partial_line(sample: bytes) -> None:
    lines = sample.splitlines(keepends=True)
    k = 300
    first = b"".join(lines[:k]) + lines[k][:20]  # the connection drops inside line k
    second = b"".join(lines[k:])
    stop = threading.Event()
    handlers = [
        send_pieces(awkward_pieces(first, seed=3)),
        then(send_pieces(awkward_pieces(second, seed=4)), hold_until_client_closes),
    ]
    with Server(handlers) as server:
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST, server.port, stop=stop, reconnect_delay_s=0.05, on_status=status
            )
        )
        assert wait_until(lambda: len(consumer.data()) >= len(sample)), consumer.statuses
        consumer.stop(stop)
        assert server.accepted == 2

    assert lines_of(consumer.chunks) == lines  # nothing lost, no fragment of line k
    assert consumer.data() == sample
    assert consumer.has_status("disconnected from .*closed by peer")
    assert consumer.has_status(r"retrying tcp://127\.0\.0\.1:\d+ in 0\.05 s")


def test_tcp_connection_refused_at_first_then_server_appears(sample: bytes) -> None:
    lines = sample.splitlines(keepends=True)[:50]
    stop = threading.Event()
    # Bound but not listening: connections are refused until start().
    server = Server(
        [send_pieces([b"".join(lines[:20])]), then(send_pieces(lines[20:]))], listen=False
    )
    try:
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST,
                server.port,
                stop=stop,
                reconnect_delay_s=0.02,
                max_reconnect_delay_s=0.08,
                on_status=status,
            )
        )
        assert wait_until(lambda: sum("cannot connect" in s for s in consumer.statuses) >= 4)
        assert not consumer.chunks
        server.start()
        assert wait_until(lambda: len(consumer.data()) >= len(b"".join(lines)))
        consumer.stop(stop)
    finally:
        server.close()

    assert lines_of(consumer.chunks) == lines
    delays = [float(m.group(1)) for s in consumer.statuses if (m := re.search(r"in (\S+) s$", s))]
    assert delays[:4] == [0.02, 0.04, 0.08, 0.08]  # exponential backoff, capped
    # After the first connection is closed by the server, the backoff starts over.
    connected = consumer.statuses.index(f"connected to tcp://127.0.0.1:{server.port}")
    after_connect = consumer.statuses[connected:]
    assert any(s.endswith("in 0.02 s") for s in after_connect)
    assert any("refused" in s.lower() for s in consumer.statuses if "cannot connect" in s)


def test_tcp_idle_connection_is_dropped_and_reconnected(sample: bytes) -> None:
    lines = sample.splitlines(keepends=True)
    stop = threading.Event()
    handlers = [
        then(send_pieces([lines[0]]), hold_until_client_closes),  # then silent forever
        then(send_pieces([lines[1]]), hold_until_client_closes),
    ]
    with Server(handlers) as server:
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST,
                server.port,
                stop=stop,
                idle_timeout_s=0.3,
                reconnect_delay_s=0.02,
                on_status=status,
            )
        )
        assert wait_until(lambda: len(lines_of(consumer.chunks)) >= 2), consumer.statuses
        consumer.stop(stop)
    assert lines_of(consumer.chunks) == lines[:2]
    assert consumer.has_status(r"disconnected from .*: no data for 0\.3 s")


def test_tcp_stop_ends_iterator_quickly_while_connected_and_idle() -> None:
    stop = threading.Event()
    with Server([hold_until_client_closes]) as server:
        consumer = Consumer(
            lambda status: tcp_chunks(LOCALHOST, server.port, stop=stop, on_status=status)
        )
        assert wait_until(lambda: consumer.has_status("^connected"))
        consumer.stop(stop, within=0.6)
    assert consumer.chunks == []


def test_tcp_stop_ends_iterator_quickly_while_waiting_to_reconnect() -> None:
    refuser = Server([], listen=False)  # bound, never listening
    stop = threading.Event()
    try:
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST,
                refuser.port,
                stop=stop,
                reconnect_delay_s=30.0,
                max_reconnect_delay_s=60.0,
                on_status=status,
            )
        )
        assert wait_until(lambda: consumer.has_status("retrying .* in 30 s"))
        consumer.stop(stop, within=0.6)
    finally:
        refuser.sock.close()


def test_tcp_stop_set_before_start_yields_nothing() -> None:
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert list(tcp_chunks(LOCALHOST, 9, stop=stop)) == []
    assert time.monotonic() - started < 0.5


def _unanswered_listener() -> tuple[socket.socket, socket.socket] | None:
    """A listener whose accept queue is full, so new connections hang (Linux behaviour)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOCALHOST, 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=1)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setblocking(False)
    probe.connect_ex(listener.getsockname())
    with selectors.DefaultSelector() as selector:
        selector.register(probe, selectors.EVENT_WRITE)
        answered = bool(selector.select(0.2))
    probe.close()
    if answered:
        filler.close()
        listener.close()
        return None
    return listener, filler  # the filler must stay open to keep the queue full


def test_tcp_connect_timeout_and_stop_while_connecting() -> None:
    sockets = _unanswered_listener()
    if sockets is None:
        pytest.skip("this platform answers connections beyond the listen backlog")
    listener, filler = sockets
    try:
        port = listener.getsockname()[1]
        stop = threading.Event()
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST,
                port,
                stop=stop,
                connect_timeout_s=0.3,
                reconnect_delay_s=0.02,
                on_status=status,
            )
        )
        assert wait_until(lambda: consumer.has_status(r"cannot connect .*no answer within 0\.3 s"))
        consumer.stop(stop)

        stop = threading.Event()
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST, port, stop=stop, connect_timeout_s=60.0, on_status=status
            )
        )
        assert wait_until(lambda: consumer.has_status("^connecting"))
        time.sleep(0.1)
        consumer.stop(stop, within=0.6)
        assert not consumer.has_status("cannot connect")
    finally:
        filler.close()
        listener.close()


def test_tcp_closing_the_iterator_closes_the_socket(sample: bytes) -> None:
    lines = sample.splitlines(keepends=True)
    peer_saw_close = threading.Event()

    def handler(conn: socket.socket) -> None:
        conn.sendall(lines[0])
        conn.settimeout(WAIT_S)
        if conn.recv(1) == b"":
            peer_saw_close.set()

    with Server([handler]) as server:
        chunks = tcp_chunks(LOCALHOST, server.port)
        first = next(chunks)
        assert first.data == lines[0]
        chunks.close()  # type: ignore[attr-defined]
        assert peer_saw_close.wait(WAIT_S)


def test_tcp_over_long_line_is_flushed_once_and_the_stream_continues(sample: bytes) -> None:
    lines = sample.splitlines(keepends=True)
    junk = b"!AIVDM,1,1,,A," + b"X" * 3000 + b"\r\n"  # far beyond max_line_bytes
    pieces = [lines[0], *[junk[i : i + 64] for i in range(0, len(junk), 64)], lines[1]]
    stop = threading.Event()
    with Server([then(send_pieces(pieces, pause=0.002), hold_until_client_closes)]) as server:
        consumer = Consumer(
            lambda status: tcp_chunks(
                LOCALHOST, server.port, stop=stop, max_line_bytes=200, on_status=status
            )
        )
        assert wait_until(lambda: lines[1] in lines_of(consumer.chunks)), consumer.statuses
        consumer.stop(stop)

    got = lines_of(consumer.chunks)
    assert got[0] == lines[0]
    assert got[-1] == lines[1]
    (long_line,) = got[1:-1]  # the over-long line arrives once, as one line
    assert long_line.startswith(b"!AIVDM,1,1,,A,XXX")
    assert long_line.endswith(b"\n")
    assert len(long_line) > 200  # still over-long, so the decoder rejects it as oversize
    assert len(long_line) < len(junk)  # what came after the limit was dropped, not buffered


def test_line_splitter_keeps_memory_bounded_without_newlines() -> None:
    splitter = live._LineSplitter(max_line_bytes=100)
    out = []
    for _ in range(1000):  # 1 MB without any newline
        out.append(splitter.feed(b"Z" * 1000))
        assert splitter.pending <= 100
    out.append(splitter.feed(b"ZZ\n!AIVDM,ok*00\n"))
    flushed = b"".join(out).splitlines(keepends=True)
    assert flushed == [b"Z" * 1000 + b"\n", b"!AIVDM,ok*00\n"]


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([b"ab", b"c\nde", b"f\r", b"\n"], [b"", b"abc\n", b"", b"def\r\n"]),
        ([b"a\nb\n"], [b"a\nb\n"]),
        ([b"\n\n", b"x"], [b"\n\n", b""]),
        # over-long (> 4): flushed with a newline, its rest dropped through the next newline
        ([b"123", b"4567", b"89\nok\n"], [b"", b"1234567\n", b"ok\n"]),
        ([b"1234567890\nok"], [b"1234567890\n"]),  # complete long lines pass untouched
    ],
)
def test_line_splitter_cases(pieces: list[bytes], expected: list[bytes]) -> None:
    splitter = live._LineSplitter(max_line_bytes=4)
    assert [splitter.feed(p) for p in pieces] == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"port": 0}, ValueError),
        ({"port": 65536}, ValueError),
        ({"port": -1}, ValueError),
        ({"port": "10110"}, TypeError),
        ({"port": True}, TypeError),
        ({"host": ""}, ValueError),
        ({"host": " localhost"}, ValueError),
        ({"host": "a" * 70 + ".example"}, ValueError),
        ({"connect_timeout_s": 0}, ValueError),
        ({"idle_timeout_s": -1.0}, ValueError),
        ({"idle_timeout_s": float("nan")}, ValueError),
        ({"reconnect_delay_s": 0}, ValueError),
        ({"reconnect_delay_s": float("inf")}, ValueError),
        ({"reconnect_delay_s": 5.0, "max_reconnect_delay_s": 1.0}, ValueError),
        ({"max_line_bytes": 0}, ValueError),
        ({"on_status": "print"}, TypeError),
        ({"stop": True}, TypeError),
    ],
)
def test_tcp_bad_arguments_raise_at_call_time(kwargs: dict[str, object], error: type) -> None:
    args: dict[str, object] = {"host": LOCALHOST, "port": 10110, **kwargs}
    with pytest.raises(error):
        tcp_chunks(**args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# UDP


def start_udp(stop: threading.Event, **kwargs: object) -> tuple[Consumer, int, socket.socket]:
    consumer = Consumer(
        lambda status: udp_chunks(LOCALHOST, 0, stop=stop, on_status=status, **kwargs)  # type: ignore[arg-type]
    )
    assert wait_until(lambda: consumer.has_status("^listening on")), consumer.statuses
    message = next(s for s in consumer.statuses if s.startswith("listening on"))
    match = re.fullmatch(r"listening on udp://127\.0\.0\.1:(\d+)", message)
    assert match, message
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return consumer, int(match.group(1)), sender


def test_udp_datagrams_with_several_lines_and_missing_trailing_newline(sample: bytes) -> None:
    lines = sample.splitlines(keepends=True)
    tagged = b"\\s:2573135,c:1671620143*0B\\!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26"
    datagrams = [
        b"".join(lines[0:3]),  # CRLF, trailing newline
        b"".join(line.rstrip(b"\r\n") + b"\n" for line in lines[3:5]).rstrip(b"\n"),  # LF, none
        lines[5].rstrip(b"\r\n"),  # one line, no newline
        b"",  # ignored
        tagged,
        lines[6].rstrip(b"\n"),  # ends in a bare CR
    ]
    stop = threading.Event()
    consumer, port, sender = start_udp(stop)
    t0 = time.time_ns() // 1000
    with sender:
        for datagram in datagrams:
            sender.sendto(datagram, (LOCALHOST, port))
    expected = b"".join(d if d.endswith(b"\n") else d + b"\n" for d in datagrams if d)
    assert wait_until(lambda: consumer.data() == expected), consumer.chunks
    consumer.stop(stop, within=0.6)

    assert consumer.data() == expected  # batched, in arrival order
    for chunk in consumer.chunks:
        assert chunk.source == f"udp://127.0.0.1:{port}"
        assert t0 <= chunk.arrival_ts_us <= time.time_ns() // 1000
    assert consumer.has_status("^stopped")


def test_udp_oversize_datagram_is_cut_to_max_datagram_bytes() -> None:
    stop = threading.Event()
    consumer, port, sender = start_udp(stop, max_datagram_bytes=50)
    payload = b"!AIVDM," + b"Y" * 200 + b"\n"
    with sender:
        sender.sendto(payload, (LOCALHOST, port))
        sender.sendto(b"!AIVDM,short\n", (LOCALHOST, port))
    expected = payload[:50] + b"\n" + b"!AIVDM,short\n"
    assert wait_until(lambda: consumer.data() == expected)
    consumer.stop(stop)
    assert consumer.data() == expected


def test_udp_stop_ends_iterator_quickly() -> None:
    stop = threading.Event()
    consumer, _port, sender = start_udp(stop)
    sender.close()
    time.sleep(0.05)
    consumer.stop(stop, within=0.6)
    assert consumer.chunks == []


def test_udp_port_in_use_is_retried_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "UDP_RETRY_DELAY_S", 0.05)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((LOCALHOST, 0))
    port = blocker.getsockname()[1]
    stop = threading.Event()
    try:
        consumer = Consumer(lambda status: udp_chunks(LOCALHOST, port, stop=stop, on_status=status))
        assert wait_until(
            lambda: consumer.has_status(rf"cannot listen on udp://127\.0\.0\.1:{port}")
        )
        assert wait_until(lambda: consumer.has_status(r"retrying .* in 0\.1 s"))  # backoff
    finally:
        blocker.close()
    assert wait_until(lambda: consumer.has_status(rf"^listening on udp://127\.0\.0\.1:{port}$"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"!AIVDM,after\n", (LOCALHOST, port))
    assert wait_until(lambda: len(consumer.chunks) == 1)
    consumer.stop(stop)
    assert consumer.chunks[0].data == b"!AIVDM,after\n"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"port": -1}, ValueError),
        ({"port": 65536}, ValueError),
        ({"port": 1.5}, TypeError),
        ({"host": ""}, ValueError),
        ({"max_datagram_bytes": 0}, ValueError),
        ({"max_datagram_bytes": 65536}, ValueError),
    ],
)
def test_udp_bad_arguments_raise_at_call_time(kwargs: dict[str, object], error: type) -> None:
    args: dict[str, object] = {"host": LOCALHOST, "port": 10110, **kwargs}
    with pytest.raises(error):
        udp_chunks(**args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# parse_endpoint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10110", ("0.0.0.0", 10110)),
        ("  10110\n", ("0.0.0.0", 10110)),
        ("localhost:10110", ("localhost", 10110)),
        ("data.aishub.net:4229", ("data.aishub.net", 4229)),
        ("192.168.1.20:1", ("192.168.1.20", 1)),
        ("receiver-1:65535", ("receiver-1", 65535)),
        ("[::1]:10110", ("::1", 10110)),
        ("[::]:2000", ("::", 2000)),
        ("[fe80::1%eth0]:2000", ("fe80::1%eth0", 2000)),
        ("[2001:db8::7]:01011", ("2001:db8::7", 1011)),
    ],
)
def test_parse_endpoint_valid(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


def test_parse_endpoint_default_host() -> None:
    assert parse_endpoint("2000", default_host="127.0.0.1") == ("127.0.0.1", 2000)
    assert parse_endpoint("example.org:2000", default_host="127.0.0.1") == ("example.org", 2000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty endpoint"),
        ("   ", "empty endpoint"),
        ("localhost", "missing port"),
        ("localhost:", "missing port"),
        (":10110", "empty host"),
        ("host:0", "out of range"),
        ("host:65536", "out of range"),
        ("host:abc", "not a number"),
        ("host:-1", "not a number"),
        ("host:+5", "not a number"),
        ("host:１２", "not a number"),
        ("host: 5", "not a number"),
        ("::1:10110", "brackets"),
        ("::1", "brackets"),
        ("[::1]", "missing ':PORT'"),
        ("[::1]10110", "missing ':PORT'"),
        ("[::1:10110", "missing ']'"),
        ("[localhost]:10110", "not an IPv6 address"),
        ("[127.0.0.1]:10110", "not an IPv6 address"),
        ("tcp://host:10110", "scheme"),
        ("my host:10110", "not a valid host"),
        ("user@host:10110", "not a valid host"),
    ],
)
def test_parse_endpoint_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_endpoint(text)


def test_parse_endpoint_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse_endpoint(10110)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# integration with the decoder


def test_tcp_received_lines_decode_like_the_file(sample_raw: bytes, sample: bytes) -> None:
    try:
        from seasight.ais import NmeaDecoder, decode_nmea
    except ImportError as exc:
        pytest.skip(f"seasight.ais decoder not available yet: {exc}")
    from seasight.model.batch import Batch

    stop = threading.Event()
    with Server(
        [then(send_pieces(awkward_pieces(sample, seed=11)), hold_until_client_closes)]
    ) as server:
        consumer = Consumer(
            lambda status: tcp_chunks(LOCALHOST, server.port, stop=stop, on_status=status)
        )
        assert wait_until(lambda: len(consumer.data()) >= len(sample)), consumer.statuses
        consumer.stop(stop)

    decoder = NmeaDecoder(source=consumer.chunks[0].source)
    batches = [decoder.feed(c.data, arrival_ts_us=c.arrival_ts_us) for c in consumer.chunks]
    batches.append(decoder.finish())
    live = Batch.concat(batches).positions
    from_file = decode_nmea(sample_raw).positions
    assert from_file.height > 0
    assert live.height == from_file.height
    assert live["mmsi"].to_list() == from_file["mmsi"].to_list()
    assert set(live["source"].to_list()) == {f"tcp://127.0.0.1:{server.port}"}
