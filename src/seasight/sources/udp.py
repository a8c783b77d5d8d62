"""Receive NMEA datagrams fast: a thread that only drains the UDP socket, batches for decoding.

AIS receivers and aggregators send one or a few sentences per datagram, thousands of datagrams a
second. Decoding costs a few milliseconds per call whatever its size, and storing holds the
database for longer, so reading one datagram and then decoding it loses most of a busy feed in
the kernel: the socket's queue overflows while the reader is busy, and the kernel drops what does
not fit without telling the reader.

:class:`UdpReceiver` therefore splits the work:

* a receiver thread does nothing but drain the socket (non-blocking ``recv`` until the queue is
  empty, then ``select``), on a socket with a large receive buffer (:data:`RECEIVE_BUFFER_BYTES`
  asked for; the effective size is reported), and joins the datagrams of each
  :data:`BATCH_S` window into one :class:`~seasight.sources.live.LiveChunk`;
* the batches go to the consumer (decoder and store) through a bounded queue. When the consumer
  falls behind and the queue is full, the receiver keeps reading into the batch it is filling,
  up to :data:`MAX_HELD_DATAGRAMS`; only beyond that does it discard datagrams, counted as
  ``queue_overflows`` (zero in normal operation).

:class:`UdpCounters` counts datagrams received, datagrams the kernel dropped on the socket (Linux:
the ``drops`` column of ``/proc/net/udp`` and ``/proc/net/udp6`` for the socket's inode; unknown
elsewhere) and queue overflows, so a summary can say what was lost. When the ``stop`` event is
set, the receiver reads what is left in the socket and the consumer gets every batch before the
iterator ends.

Each chunk is stamped with the arrival time of its first datagram, so messages without a time of
their own get an arrival time at most :data:`BATCH_S` early.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from seasight.sources.live import (
    POLL_INTERVAL_S,
    LiveChunk,
    StatusCallback,
    _check_host,
    _check_port,
    _check_positive_int,
    _check_seconds,
    _check_stop,
    _describe,
    _now_us,
    _reporter,
    _sleep,
    _stopped,
    format_endpoint,
)

__all__ = ["UdpCounters", "UdpReceiver", "socket_drops"]

logger = logging.getLogger(__name__)

#: Receive buffer asked for (bytes). Linux caps ``SO_RCVBUF`` at ``net.core.rmem_max``; a
#: process allowed to (``CAP_NET_ADMIN``) gets it whole through ``SO_RCVBUFFORCE``.
RECEIVE_BUFFER_BYTES: Final[int] = 32 * 1024 * 1024
#: Longest time the datagrams of one batch span (seconds).
BATCH_S: Final[float] = 0.05
#: Most datagrams in one batch.
BATCH_DATAGRAMS: Final[int] = 20_000
#: Batches waiting for the consumer.
QUEUE_BATCHES: Final[int] = 256
#: Datagrams held back by the receiver while the queue is full; beyond, they are discarded.
MAX_HELD_DATAGRAMS: Final[int] = 500_000
#: Datagrams read in a row before the receiver looks at the clock and the stop event.
DRAIN_BURST: Final[int] = 1024
#: Once stopped, the receiver reads what the socket holds for this long at most (a feed that
#: never pauses would otherwise keep it reading).
STOP_DRAIN_S: Final[float] = 2.0
#: Seconds between two readings of the kernel's drop counter.
DROPS_EVERY_S: Final[float] = 0.5
#: Backoff used when the socket cannot be bound or fails (first and largest delay).
UDP_RETRY_DELAY_S: Final[float] = 1.0
UDP_MAX_RETRY_DELAY_S: Final[float] = 30.0

_WSAEMSGSIZE: Final[int] = 10040  # Windows: datagram larger than the receive buffer
_SO_RCVBUFFORCE: Final[int | None] = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform
                                             == "linux" else None)
_PROC_UDP: Final[tuple[Path, ...]] = (Path("/proc/net/udp"), Path("/proc/net/udp6"))
_END: Final = object()


@dataclass
class UdpCounters:
    """What a UDP listener received and lost, since it was started (all its sockets).

    Attributes
    ----------
    datagrams
        Datagrams read from the socket (empty ones included).
    bytes
        Bytes of those datagrams.
    kernel_drops
        Datagrams the kernel dropped because the socket's receive queue was full (Linux's
        per-socket counter); None where it cannot be read (not Linux).
    queue_overflows
        Datagrams read but discarded because the consumer fell too far behind
        (more than :data:`MAX_HELD_DATAGRAMS` waiting); zero in normal operation.
    receive_buffer_bytes
        The socket's effective receive buffer (``SO_RCVBUF`` as the kernel reports it).
    """

    datagrams: int = 0
    bytes: int = 0
    kernel_drops: int | None = None
    queue_overflows: int = 0
    receive_buffer_bytes: int = 0

    def to_json(self) -> dict[str, int | None]:
        """A JSON-serialisable copy."""
        return asdict(self)

    def copy(self) -> UdpCounters:
        """A snapshot (the receiver thread keeps updating the original)."""
        return UdpCounters(**asdict(self))


def socket_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped on ``sock`` since it was created (Linux), else None.

    Read from the last column (``drops``) of ``/proc/net/udp`` or ``/proc/net/udp6``, on the
    line of the socket's inode.
    """
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return None
    for table in _PROC_UDP:
        try:
            text = table.read_text()
        except OSError:
            continue
        token = f" {inode} "
        for line in text.splitlines()[1:]:
            if token not in line:  # cheap test first: a busy host has thousands of sockets
                continue
            cols = line.split()
            if len(cols) >= 13 and cols[9] == inode:
                try:
                    return int(cols[-1])
                except ValueError:
                    return None
    return None


def _wait_readable(sock: socket.socket, timeout: float) -> None:
    """Wait until ``sock`` has a datagram or ``timeout`` seconds have passed."""
    select.select([sock], [], [], timeout)


def _set_receive_buffer(sock: socket.socket, wanted: int) -> int:
    """Ask for a ``wanted``-byte receive buffer (forced if allowed); return the effective size."""
    forced = False
    if _SO_RCVBUFFORCE is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, wanted)
            forced = True
        except OSError:
            forced = False
    if not forced:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


class UdpReceiver(Iterator[LiveChunk]):
    """Listen for NMEA lines sent as UDP datagrams; iterate over batches of them.

    Each :class:`~seasight.sources.live.LiveChunk` joins the datagrams received within
    ``batch_s`` seconds (at most ``batch_datagrams`` of them), in arrival order. A datagram may
    hold one or several lines (CRLF or LF); a newline is appended when its last line lacks
    one. Empty datagrams are counted and ignored. A datagram longer than
    ``max_datagram_bytes`` is cut to that size with a logged warning (its cut last line will be
    rejected by the decoder).

    Nothing is bound before the first ``next()``. If the socket cannot be bound (address in
    use, no permission) or fails, the error is reported and binding is retried with exponential
    backoff (:data:`UDP_RETRY_DELAY_S` up to :data:`UDP_MAX_RETRY_DELAY_S`). Network errors are
    never raised. :attr:`counters` is kept up to date while the receiver runs.

    Parameters
    ----------
    host
        Local address to listen on: ``"0.0.0.0"`` (all IPv4 interfaces), ``"::"`` (all IPv6
        interfaces), ``"127.0.0.1"``...
    port
        Local port, 0-65535; 0 lets the system choose one, which is announced through
        ``on_status`` ("listening on udp://host:port") and shown in each chunk's ``source``.
    stop
        When set, the receiver reads what is already in the socket, the iterator yields every
        batch still held, then ends (within about :data:`POLL_INTERVAL_S` seconds).
    max_datagram_bytes
        Largest datagram accepted whole, 1-65535.
    on_status
        Called with human-readable status messages (listening, receive buffer, errors,
        retrying, stopped), from the receiver thread.
    receive_buffer_bytes
        Receive buffer asked for (default :data:`RECEIVE_BUFFER_BYTES`); the effective size
        is in :attr:`counters`.
    batch_s, batch_datagrams
        Largest span and size of one batch.

    Raises
    ------
    TypeError, ValueError
        At construction, for bad arguments.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        stop: threading.Event | None = None,
        max_datagram_bytes: int = 65535,
        on_status: StatusCallback | None = None,
        receive_buffer_bytes: int | None = None,
        batch_s: float = BATCH_S,
        batch_datagrams: int = BATCH_DATAGRAMS,
    ) -> None:
        self.host = _check_host(host, what="UDP")
        self.port = _check_port(port, lowest=0)
        self._stop = _check_stop(stop)
        self.max_datagram_bytes = _check_positive_int(
            "max_datagram_bytes", max_datagram_bytes, highest=65535
        )
        if on_status is not None and not callable(on_status):
            raise TypeError("on_status must be callable or None")
        self.receive_buffer_bytes = _check_positive_int(
            "receive_buffer_bytes",
            RECEIVE_BUFFER_BYTES if receive_buffer_bytes is None else receive_buffer_bytes,
        )
        self.batch_s = _check_seconds("batch_s", batch_s)
        self.batch_datagrams = _check_positive_int("batch_datagrams", batch_datagrams)
        self._worker = _Worker(self.host, self.port, self._stop, self.max_datagram_bytes,
                               _reporter(on_status), self.receive_buffer_bytes, self.batch_s,
                               self.batch_datagrams)
        self._thread: threading.Thread | None = None
        self._ended = False

    @property
    def counters(self) -> UdpCounters:
        """Datagrams received, kernel drops, queue overflows, receive buffer (kept current)."""
        return self._worker.counters

    def wait_listening(self, timeout: float | None = None) -> tuple[str, int] | None:
        """Wait until the socket is bound (after the first ``next()``); its (host, port), or
        None if it was not bound within ``timeout`` seconds."""
        if not self._worker.bound.wait(timeout):
            return None
        return self._worker.address

    def __iter__(self) -> UdpReceiver:
        return self

    def __next__(self) -> LiveChunk:
        if self._ended:
            raise StopIteration
        if self._thread is None:  # the thread holds the worker, not this iterator
            self._thread = threading.Thread(target=self._worker.run, name="udp receiver",
                                            daemon=True)
            self._thread.start()
        while True:
            try:
                item = self._worker.queue.get(timeout=POLL_INTERVAL_S)
            except queue.Empty:
                if self._thread.is_alive():
                    continue
                try:  # it ends with the marker, perhaps put since the wait ended
                    item = self._worker.queue.get_nowait()
                except queue.Empty:
                    self._ended = True
                    raise StopIteration from None
            if item is _END:
                self._ended = True
                self._thread.join()
                raise StopIteration
            assert isinstance(item, LiveChunk)
            return item

    def close(self) -> None:
        """Stop receiving now, dropping batches not yet taken (like closing a generator)."""
        self._worker.closed.set()
        self._ended = True
        if self._thread is not None:
            self._thread.join(timeout=2 * POLL_INTERVAL_S + 1)

    def __del__(self) -> None:
        worker = getattr(self, "_worker", None)  # absent when __init__ rejected an argument
        if worker is not None:
            worker.closed.set()


class _Worker:
    """The receiver thread's side of a :class:`UdpReceiver`."""

    def __init__(self, host: str, port: int, stop: threading.Event | None,
                 max_datagram_bytes: int, report: Callable[..., None],
                 receive_buffer_bytes: int, batch_s: float, batch_datagrams: int) -> None:
        self.host = host
        self.port = port
        self._stop = stop
        self.max_datagram_bytes = max_datagram_bytes
        self._report = report
        self.receive_buffer_bytes = receive_buffer_bytes
        self.batch_s = batch_s
        self.batch_datagrams = batch_datagrams
        self.counters = UdpCounters()
        self.queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.closed = threading.Event()
        self.bound = threading.Event()
        self.address: tuple[str, int] = (host, port)

    # ------------------------------------------------------------------ receiver thread

    def _finished(self) -> bool:
        return self.closed.is_set() or _stopped(self._stop)

    def run(self) -> None:
        """The receiver thread: bind (retrying), drain, hand batches over; end marker last."""
        wanted = format_endpoint("udp", self.host, self.port)
        delay = UDP_RETRY_DELAY_S
        base_drops = 0  # drops counted on earlier sockets (after a rebind)
        try:
            while not self._finished():
                try:
                    sock, source = self._bind()
                except OSError as exc:
                    self._report(f"cannot listen on {wanted}: {_describe(exc)}", logging.WARNING)
                else:
                    delay = UDP_RETRY_DELAY_S
                    try:
                        reason = self._drain(sock, source, base_drops)
                    finally:
                        base_drops = self.counters.kernel_drops or 0
                        sock.close()
                    if reason is None:
                        break
                    self._report(f"stopped listening on {source}: {reason}", logging.WARNING)
                if self._finished():
                    break
                self._report(f"retrying {wanted} in {delay:g} s")
                if self.closed.is_set() or _sleep(delay, self._stop):
                    break
                delay = min(delay * 2, UDP_MAX_RETRY_DELAY_S)
            self._report(f"stopped reading {wanted}")
        finally:
            self._put(_END)

    def _put(self, item: object) -> bool:
        """Queue ``item``, waiting while the queue is full; False if closed meanwhile."""
        while True:
            try:
                self.queue.put(item, timeout=POLL_INTERVAL_S)
                return True
            except queue.Full:
                if self.closed.is_set():
                    return False

    def _bind(self) -> tuple[socket.socket, str]:
        """Bind the first usable address of the host; return the socket and its endpoint."""
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM,
                                   flags=socket.AI_PASSIVE)
        last_error: OSError = OSError(f"no address found for {self.host!r}")
        for family, socktype, proto, _canonname, address in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                effective = _set_receive_buffer(sock, self.receive_buffer_bytes)
                sock.bind(address)
                bound_host, bound_port = sock.getsockname()[:2]
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            sock.setblocking(False)
            source = format_endpoint("udp", str(bound_host), int(bound_port))
            self.counters.receive_buffer_bytes = effective
            self.address = (str(bound_host), int(bound_port))
            self.bound.set()
            self._report(f"listening on {source}")
            note = (f"receive buffer {effective / 2**20:.1f} MiB")
            if effective < self.receive_buffer_bytes:
                note += (f" (asked for {self.receive_buffer_bytes / 2**20:.1f} MiB; raise "
                         "net.core.rmem_max to allow more)")
                self._report(note, logging.WARNING)
            else:
                self._report(note, logging.DEBUG)
            return sock, source
        raise last_error

    def _drain(self, sock: socket.socket, source: str, base_drops: int) -> str | None:
        """Read ``sock`` until stopped (None) or it fails (the reason), handing batches over."""
        counters = self.counters
        limit = self.max_datagram_bytes
        recv = sock.recv
        monotonic = time.monotonic
        held: list[bytes] = []
        held_first_us = 0
        held_since = 0.0
        next_drops = monotonic()
        reason: str | None = None

        def hand_over(*, block: bool) -> None:
            nonlocal held
            if not held:
                return
            chunk = LiveChunk(b"".join(held), held_first_us, source)
            if block:
                if not self._put(chunk):
                    return
            else:
                try:
                    self.queue.put_nowait(chunk)
                except queue.Full:
                    return  # keep holding; the consumer is behind
            held = []

        def read_drops() -> None:
            got = socket_drops(sock)
            if got is not None:
                counters.kernel_drops = base_drops + got

        stop_by: float | None = None  # once stopped: read what is left until then at most
        while True:
            if stop_by is None and self._finished():
                stop_by = monotonic() + STOP_DRAIN_S
            emptied = False
            for _ in range(DRAIN_BURST):  # then look at the clock, even under a flood
                try:
                    data = recv(limit + 1)  # one byte more tells an over-long datagram apart
                except BlockingIOError:
                    emptied = True
                    break
                except (ConnectionResetError, InterruptedError):
                    continue  # Windows reports ICMP "port unreachable" this way
                except OSError as exc:
                    if getattr(exc, "winerror", None) == _WSAEMSGSIZE:
                        logger.warning("datagram on %s larger than %d bytes dropped", source,
                                       limit)
                        continue
                    reason = _describe(exc)
                    break
                counters.datagrams += 1
                n = len(data)
                counters.bytes += n
                if not n:
                    continue
                if n > limit:
                    logger.warning("datagram on %s longer than %d bytes; kept only its first "
                                   "%d bytes", source, limit, limit)
                    data = data[:limit]
                if not data.endswith(b"\n"):
                    data += b"\n"
                if not held:
                    held_first_us = _now_us()
                    held_since = monotonic()
                if len(held) >= MAX_HELD_DATAGRAMS:
                    counters.queue_overflows += 1
                    continue
                held.append(data)
                if len(held) >= self.batch_datagrams:
                    hand_over(block=False)
            now = monotonic()
            ending = reason is not None or (stop_by is not None and (
                emptied or now >= stop_by or self.closed.is_set()))
            if held and (now - held_since >= self.batch_s or ending):
                hand_over(block=ending)
                if held:
                    held_since = now
            if now >= next_drops or ending:
                read_drops()
                next_drops = now + DROPS_EVERY_S
            if ending:
                return reason
            if not emptied:
                continue  # more is waiting
            wait = POLL_INTERVAL_S
            if held:
                wait = max(0.0, min(wait, held_since + self.batch_s - now))
            try:
                _wait_readable(sock, wait)
            except (OSError, ValueError) as exc:
                return _describe(exc)
