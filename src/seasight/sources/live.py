"""Live AIS feeds: NMEA lines from a TCP stream or from UDP datagrams.

AIS receivers and aggregators (AISHub, rtl-ais, AIS-catcher, kplex, gpsd, MarineTraffic
stations) send NMEA lines (``!AIVDM...``, possibly behind ``\\s:...,c:...*hh\\`` tag blocks)
either over a TCP stream, where we are the client, or as UDP datagrams, where we listen.

Both clients yield :class:`LiveChunk` objects holding only *complete* lines, each ending in
``b"\\n"``, stamped with their UTC arrival time, ready for ``NmeaDecoder.feed``. They never
raise on network trouble: they report it through ``on_status`` and the module logger, wait
(with exponential backoff) and try again, until the ``stop`` event is set or the consumer
closes the iterator. Only programmer errors (bad arguments) raise, and they raise at call
time, before any network activity.

This module does I/O only; it does not decode anything.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import math
import os
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from seasight.sources.udp import UdpReceiver

__all__ = ["LiveChunk", "parse_endpoint", "tcp_chunks", "udp_chunks"]

logger = logging.getLogger(__name__)

#: Longest wait between two checks of the ``stop`` event (socket timeouts, select timeouts).
POLL_INTERVAL_S: Final[float] = 0.25
#: Bytes asked for in one ``recv`` on a TCP stream.
TCP_RECV_BYTES: Final[int] = 65536

_CONNECT_IN_PROGRESS: Final[frozenset[int]] = frozenset(
    code
    for code in (
        errno.EINPROGRESS,
        errno.EWOULDBLOCK,
        errno.EALREADY,
        getattr(errno, "WSAEWOULDBLOCK", None),
        getattr(errno, "WSAEINPROGRESS", None),
    )
    if code is not None
)
_PORT_RE: Final[re.Pattern[str]] = re.compile(r"[0-9]+")
_ENDPOINT_FORMS: Final[str] = "expected HOST:PORT, PORT or [IPv6]:PORT"

StatusCallback = Callable[[str], None]


@dataclass(frozen=True)
class LiveChunk:
    """Complete NMEA lines received together from one live feed.

    Attributes
    ----------
    data
        One or more complete lines, each ending in ``b"\\n"`` (line endings as received,
        ``b"\\r\\n"`` or ``b"\\n"``).
    arrival_ts_us
        UTC arrival time in microseconds since the epoch (``time.time_ns() // 1000``), taken
        when the bytes were read from the socket.
    source
        The feed, as ``"tcp://host:port"`` or ``"udp://host:port"`` (IPv6 hosts in brackets).
        For UDP this is the local endpoint we listen on, not the sender's address.
    """

    data: bytes
    arrival_ts_us: int
    source: str


# --------------------------------------------------------------------------------------------
# endpoints


def format_endpoint(scheme: str, host: str, port: int) -> str:
    """Return ``scheme://host:port``, with an IPv6 host in brackets.

    Parameters
    ----------
    scheme
        ``"tcp"`` or ``"udp"``.
    host
        Host name or address.
    port
        Port number.

    Returns
    -------
    str
        For example ``"tcp://127.0.0.1:10110"`` or ``"udp://[::1]:10110"``.
    """
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def parse_endpoint(text: str, *, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """Split ``"HOST:PORT"``, ``"PORT"`` or ``"[IPv6]:PORT"`` into ``(host, port)``.

    Parameters
    ----------
    text
        The endpoint as a user typed it. Surrounding whitespace is ignored.
    default_host
        Host returned for the bare ``"PORT"`` form.

    Returns
    -------
    tuple[str, int]
        The host (without brackets for IPv6) and the port, 1-65535.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        If ``text`` is none of the accepted forms: empty, a scheme such as ``tcp://``, an
        empty host, an IPv6 address without brackets, a bracketed host that is not an IPv6
        address, a missing port or a port that is not a number in 1-65535.

    Examples
    --------
    >>> parse_endpoint("10110")
    ('0.0.0.0', 10110)
    >>> parse_endpoint("data.aishub.net:4229")
    ('data.aishub.net', 4229)
    >>> parse_endpoint("[::1]:10110")
    ('::1', 10110)
    """
    if not isinstance(text, str):
        raise TypeError(f"endpoint must be a string, not {type(text).__name__}")
    spec = text.strip()
    if not spec:
        raise ValueError(f"empty endpoint; {_ENDPOINT_FORMS}")
    if "://" in spec:
        raise ValueError(f"{text!r}: give the endpoint without a scheme such as tcp://")
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise ValueError(f"{text!r}: missing ']' after the IPv6 address")
        host, rest = spec[1:end], spec[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"{text!r}: missing ':PORT' after ']'; {_ENDPOINT_FORMS}")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(
                f"{text!r}: {host!r} is not an IPv6 address (only IPv6 goes in brackets)"
            ) from None
        port_text = rest[1:]
    elif ":" not in spec:
        if not _PORT_RE.fullmatch(spec):
            raise ValueError(f"{text!r}: missing port; {_ENDPOINT_FORMS}")
        host, port_text = default_host, spec
    else:
        host, _, port_text = spec.rpartition(":")
        if ":" in host:
            raise ValueError(f"{text!r}: put an IPv6 address in brackets, e.g. [::1]:10110")
        if not host:
            raise ValueError(f"{text!r}: empty host; {_ENDPOINT_FORMS}")
        if any(ch.isspace() or ch in "[]/@" for ch in host):
            raise ValueError(f"{text!r}: {host!r} is not a valid host name or address")
    return host, _parse_port(port_text, text)


def _parse_port(port_text: str, text: str) -> int:
    if not port_text:
        raise ValueError(f"{text!r}: missing port; {_ENDPOINT_FORMS}")
    if not _PORT_RE.fullmatch(port_text):
        raise ValueError(f"{text!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is out of range 1-65535")
    return port


# --------------------------------------------------------------------------------------------
# argument checks (programmer errors raise at call time)


def _check_host(host: object, *, what: str) -> str:
    if not isinstance(host, str):
        raise TypeError(f"{what} host must be a string, not {type(host).__name__}")
    if not host.strip() or host != host.strip():
        raise ValueError(f"{what} host {host!r} is empty or has surrounding whitespace")
    try:
        host.encode("idna")
    except UnicodeError as exc:
        raise ValueError(f"{what} host {host!r} is not a valid host name: {exc}") from None
    return host


def _check_port(port: object, *, lowest: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not lowest <= port <= 65535:
        raise ValueError(f"port {port} is out of range {lowest}-65535")
    return port


def _check_seconds(name: str, value: object, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        kind = "> 0" if allow_inf else "> 0 and finite"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return float(value)


def _check_positive_int(name: str, value: object, *, highest: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1 or (highest is not None and value > highest):
        upper = "" if highest is None else f" and <= {highest}"
        raise ValueError(f"{name} must be >= 1{upper}, got {value}")
    return value


def _check_stop(stop: object) -> threading.Event | None:
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise TypeError("stop must be a threading.Event or None")
    return stop  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# helpers


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _sleep(seconds: float, stop: threading.Event | None) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; True when stopped."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def _now_us() -> int:
    return time.time_ns() // 1000


def _reporter(on_status: StatusCallback | None) -> Callable[..., None]:
    def report(message: str, level: int = logging.INFO) -> None:
        logger.log(level, message)
        if on_status is not None:
            on_status(message)

    return report


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    return str(exc) or type(exc).__name__


class _LineSplitter:
    """Cut a byte stream into complete lines, keeping the partial tail for the next read.

    A tail longer than ``max_line_bytes`` without a newline is flushed as a line of its own
    (the decoder rejects it as oversize) and the rest of that line, up to and including the
    next newline, is dropped, so memory stays below ``max_line_bytes`` plus one read.
    """

    def __init__(self, max_line_bytes: int) -> None:
        self._max = max_line_bytes
        self._tail = bytearray()
        self._skipping = False
        self._skipped = 0

    @property
    def pending(self) -> int:
        """Bytes of the incomplete last line held back."""
        return len(self._tail)

    def feed(self, data: bytes) -> bytes:
        """Add ``data``; return the complete lines now available (maybe ``b""``)."""
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self._skipped += len(data)
                return b""
            self._skipped += newline + 1
            logger.warning("dropped the remaining %d bytes of an over-long line", self._skipped)
            self._skipping = False
            self._skipped = 0
            data = data[newline + 1 :]
        if not self._tail and data.endswith(b"\n"):
            return data
        self._tail += data
        cut = self._tail.rfind(b"\n") + 1
        out = bytes(self._tail[:cut])
        del self._tail[:cut]
        if len(self._tail) > self._max:
            logger.warning(
                "line longer than %d bytes without newline; passing its first %d bytes on "
                "as one line and dropping the rest of it",
                self._max,
                len(self._tail),
            )
            out += bytes(self._tail) + b"\n"
            self._tail.clear()
            self._skipping = True
        return out

    def reset(self) -> int:
        """Forget the partial line (the connection dropped); return its length."""
        dropped = len(self._tail)
        self._tail.clear()
        self._skipping = False
        self._skipped = 0
        return dropped


# --------------------------------------------------------------------------------------------
# TCP


def tcp_chunks(
    host: str,
    port: int,
    *,
    stop: threading.Event | None = None,
    connect_timeout_s: float = 10.0,
    idle_timeout_s: float = 60.0,
    reconnect_delay_s: float = 1.0,
    max_reconnect_delay_s: float = 30.0,
    max_line_bytes: int = 4096,
    on_status: StatusCallback | None = None,
) -> Iterator[LiveChunk]:
    """Read NMEA lines from a TCP server (AIS receiver or aggregator), reconnecting forever.

    Each chunk holds what one ``recv`` delivered, cut after its last newline; the partial
    last line is kept and completed by the next read. The iterator is lazy: nothing connects
    before the first ``next()``.

    When the connection cannot be made (refused, unreachable, DNS failure, timeout), is
    closed by the peer, fails, or brings no data for ``idle_timeout_s``, the client waits and
    reconnects. Delays grow as ``reconnect_delay_s * 2**n`` up to ``max_reconnect_delay_s``
    and go back to ``reconnect_delay_s`` after each successful connection. A partial line
    pending when a connection ends is discarded: it can never be completed.

    Parameters
    ----------
    host
        Server name or address.
    port
        Server port, 1-65535.
    stop
        When set, the iterator ends within about :data:`POLL_INTERVAL_S` seconds (socket
        timeouts are used throughout; only name resolution can block longer). Without it the
        iterator runs until the consumer stops iterating (``close()``), which closes the socket.
    connect_timeout_s
        Time allowed for each address of ``host`` to accept the connection (``math.inf``:
        no limit).
    idle_timeout_s
        Reconnect when no byte arrives for this long (a silently dead connection);
        ``math.inf`` never reconnects for silence.
    reconnect_delay_s
        First delay before reconnecting.
    max_reconnect_delay_s
        Largest delay before reconnecting; must be ``>= reconnect_delay_s``.
    max_line_bytes
        Longest line held back while waiting for its newline. A longer one is passed on as a
        line of its own (so the decoder rejects it as oversize and keeps it) and the rest of
        it, through the next newline, is dropped with a logged warning.
    on_status
        Called with human-readable status messages: connecting, connected, cannot connect,
        disconnected (and why), retrying in N s, stopped. The same messages go to the module
        logger.

    Returns
    -------
    Iterator[LiveChunk]
        Chunks of complete lines with ``source="tcp://host:port"``.

    Raises
    ------
    TypeError, ValueError
        At call time, for bad arguments (for example a port outside 1-65535). Network errors
        are never raised.
    """
    host = _check_host(host, what="TCP")
    port = _check_port(port, lowest=1)
    stop = _check_stop(stop)
    connect_timeout_s = _check_seconds("connect_timeout_s", connect_timeout_s, allow_inf=True)
    idle_timeout_s = _check_seconds("idle_timeout_s", idle_timeout_s, allow_inf=True)
    reconnect_delay_s = _check_seconds("reconnect_delay_s", reconnect_delay_s)
    max_reconnect_delay_s = _check_seconds("max_reconnect_delay_s", max_reconnect_delay_s)
    if max_reconnect_delay_s < reconnect_delay_s:
        raise ValueError(
            f"max_reconnect_delay_s ({max_reconnect_delay_s:g}) must be >= "
            f"reconnect_delay_s ({reconnect_delay_s:g})"
        )
    max_line_bytes = _check_positive_int("max_line_bytes", max_line_bytes)
    if on_status is not None and not callable(on_status):
        raise TypeError("on_status must be callable or None")
    return _tcp_generator(
        host,
        port,
        stop,
        connect_timeout_s,
        idle_timeout_s,
        reconnect_delay_s,
        max_reconnect_delay_s,
        max_line_bytes,
        _reporter(on_status),
    )


def _tcp_generator(
    host: str,
    port: int,
    stop: threading.Event | None,
    connect_timeout_s: float,
    idle_timeout_s: float,
    reconnect_delay_s: float,
    max_reconnect_delay_s: float,
    max_line_bytes: int,
    report: Callable[..., None],
) -> Generator[LiveChunk, None, None]:
    source = format_endpoint("tcp", host, port)
    splitter = _LineSplitter(max_line_bytes)
    delay = reconnect_delay_s
    while not _stopped(stop):
        report(f"connecting to {source}", logging.DEBUG)
        try:
            sock = _connect(host, port, connect_timeout_s, stop)
        except OSError as exc:
            report(f"cannot connect to {source}: {_describe(exc)}", logging.WARNING)
        else:
            if sock is None:  # stopped while connecting
                break
            delay = reconnect_delay_s
            report(f"connected to {source}")
            try:
                reason = yield from _read_stream(sock, source, splitter, stop, idle_timeout_s)
            finally:
                sock.close()
                dropped = splitter.reset()
                if dropped:
                    logger.info("discarded %d bytes of an incomplete line from %s", dropped, source)
            if reason is None:  # stopped
                break
            report(f"disconnected from {source}: {reason}", logging.WARNING)
        if _stopped(stop):
            break
        report(f"retrying {source} in {delay:g} s")
        if _sleep(delay, stop):
            break
        delay = min(delay * 2, max_reconnect_delay_s)
    report(f"stopped reading {source}")


def _read_stream(
    sock: socket.socket,
    source: str,
    splitter: _LineSplitter,
    stop: threading.Event | None,
    idle_timeout_s: float,
) -> Generator[LiveChunk, None, str | None]:
    """Yield chunks from one connection; return why it ended, or None when stopped."""
    last_data = time.monotonic()
    while not _stopped(stop):
        try:
            data = sock.recv(TCP_RECV_BYTES)
        except TimeoutError:
            if time.monotonic() - last_data >= idle_timeout_s:
                return f"no data for {idle_timeout_s:g} s"
            continue
        except OSError as exc:
            return _describe(exc)
        if not data:
            return "closed by peer"
        arrival_ts_us = _now_us()
        last_data = time.monotonic()
        lines = splitter.feed(data)
        if lines:
            yield LiveChunk(lines, arrival_ts_us, source)
    return None


def _connect(
    host: str, port: int, timeout_s: float, stop: threading.Event | None
) -> socket.socket | None:
    """Connect to the first address of ``host`` that accepts; None if stopped meanwhile.

    Raises OSError (including ``socket.gaierror`` and ``TimeoutError``) when no address works.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    last_error: OSError = OSError(f"no address found for {host!r}")
    for family, socktype, proto, _canonname, address in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            connected = _connect_one(sock, address, timeout_s, stop)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        if not connected:
            sock.close()
            return None
        sock.settimeout(POLL_INTERVAL_S)
        with contextlib.suppress(OSError):  # a platform without keepalive still works
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock
    raise last_error


def _connect_one(
    sock: socket.socket, address: Any, timeout_s: float, stop: threading.Event | None
) -> bool:
    """Non-blocking connect polled every POLL_INTERVAL_S; False if stopped meanwhile."""
    sock.setblocking(False)
    error = sock.connect_ex(address)
    if error in _CONNECT_IN_PROGRESS:
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_WRITE)
            while True:
                if _stopped(stop):
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no answer within {timeout_s:g} s")
                if selector.select(min(POLL_INTERVAL_S, remaining)):
                    break
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise OSError(error, os.strerror(error))
    return True


# --------------------------------------------------------------------------------------------
# UDP


def udp_chunks(
    host: str,
    port: int,
    *,
    stop: threading.Event | None = None,
    max_datagram_bytes: int = 65535,
    on_status: StatusCallback | None = None,
) -> UdpReceiver:
    """Listen for NMEA lines sent as UDP datagrams; one chunk per batch of datagrams.

    A :class:`seasight.sources.udp.UdpReceiver`: a receiver thread drains the socket (large
    receive buffer) and hands over the datagrams of each 50 ms as one chunk, so a busy feed is
    not lost in the kernel while the consumer decodes and stores; its ``counters`` tell the
    datagrams received, those the kernel dropped and those discarded because the consumer fell
    too far behind. A datagram may hold one or several lines (CRLF or LF); a newline is appended
    when its last line lacks one. Empty datagrams are ignored. A datagram longer than
    ``max_datagram_bytes`` is cut to that size with a logged warning. Nothing is bound before
    the first ``next()``; binding failures are reported and retried with exponential backoff.

    Parameters
    ----------
    host
        Local address to listen on: ``"0.0.0.0"`` (all IPv4 interfaces), ``"::"`` (all IPv6
        interfaces), ``"127.0.0.1"``... Choosing the default is left to the caller.
    port
        Local port, 0-65535; 0 lets the system choose one, which is announced through
        ``on_status`` ("listening on udp://host:port") and shown in each chunk's ``source``.
    stop
        When set, what the socket holds is read and handed over, then the iterator ends
        (within about :data:`POLL_INTERVAL_S` seconds).
    max_datagram_bytes
        Largest datagram accepted whole, 1-65535.
    on_status
        Called with human-readable status messages (listening, errors, retrying, stopped).

    Returns
    -------
    UdpReceiver
        An iterator of chunks with ``source="udp://host:port"``, the local endpoint (senders
        are not told apart).

    Raises
    ------
    TypeError, ValueError
        At call time, for bad arguments. Network errors are never raised.
    """
    from seasight.sources.udp import UdpReceiver  # it builds on this module's helpers

    return UdpReceiver(host, port, stop=stop, max_datagram_bytes=max_datagram_bytes,
                       on_status=on_status)
