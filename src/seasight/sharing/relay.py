"""NMEA relay: re-encode permitted positions and static data as ``!AIVDM`` sentences and send
them to partners over TCP (a server partners connect to) or UDP (datagrams to a host:port), so
a partner's display (OpenCPN, another SeaSight, a national system) can consume them.

* :func:`relay_sentences` (pure): positions as type 1 (class A) or 18 (class B), static data
  as type 5 (class A) or 24 parts A and B (class B), with a tag block giving the time and the
  relay's station name (the receiving stations of the source are not passed on).
* :class:`RelayServer`: a thread-based TCP server and/or UDP sender. Each TCP client gets
  every line sent after it connected; a client that disconnects or falls too far behind is
  dropped without disturbing the others.
* :class:`RelayFeed`: polls a store for rows appended since the last poll (DuckDB ``rowid``)
  and returns what an organisation may see, by :func:`seasight.sharing.permitted`. Rows held
  back only by an agreement's delay are kept and sent once they are old enough; agreement
  changes (and revocations) apply at the next poll.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import polars as pl

from seasight.ais.encode import Lines, encode_positions, encode_static
from seasight.model.schema import POSITIONS, STATIC, empty
from seasight.sharing import agreements_version, attach_origin, load_grants, owners, permitted
from seasight.sharing.policy import Grants
from seasight.sharing.reads import ship_types
from seasight.store import Store

log = logging.getLogger(__name__)

#: Station name put in the tag block ``s:`` field of relayed sentences.
DEFAULT_STATION: Final = "seasight"

#: Lines a TCP client may fall behind before it is dropped.
MAX_BACKLOG_LINES: Final = 100_000

#: Largest UDP datagram sent (whole lines only).
MAX_DATAGRAM: Final = 1400

_FAR_FUTURE: Final = datetime(9999, 1, 1, tzinfo=UTC)
_CLASS_B: Final = (18, 19)


logger = logging.getLogger(__name__)


def _positions_for_relay(positions: pl.DataFrame, station: str) -> pl.DataFrame:
    if positions.height == 0:
        return positions
    msg_type = pl.col("msg_type") if "msg_type" in positions.columns else pl.lit(1, pl.UInt8)
    return (positions.filter(pl.col("mmsi").is_not_null())
            .with_columns(pl.when(msg_type.is_in(_CLASS_B)).then(18).otherwise(1)
                          .cast(pl.UInt8).alias("msg_type"),
                          pl.lit(station, pl.String).alias("station")))


def _static_for_relay(static: pl.DataFrame, station: str) -> pl.DataFrame:
    if static.height == 0:
        return static
    s = static.filter(pl.col("mmsi").is_not_null() & pl.col("msg_type").is_in([5, 19, 24]))
    part = pl.col("part_num") if "part_num" in s.columns else pl.lit(None, pl.UInt8)
    as_24 = s.filter(pl.col("msg_type") == 24).with_columns(part.fill_null(0).alias("part_num"))
    from_19 = s.filter(pl.col("msg_type") == 19)
    b = pl.concat([as_24,
                   from_19.with_columns(pl.lit(0, pl.UInt8).alias("part_num")),
                   from_19.with_columns(pl.lit(1, pl.UInt8).alias("part_num"))],
                  how="diagonal_relaxed").with_columns(pl.lit(24, pl.UInt8).alias("msg_type"))
    a = s.filter(pl.col("msg_type") == 5)
    out = pl.concat([a, b], how="diagonal_relaxed")
    if "ts" in out.columns:
        out = out.sort("ts", nulls_last=True, maintain_order=True)
    return out.with_columns(pl.lit(station, pl.String).alias("station"))


def _ts_seconds(frame: pl.DataFrame) -> np.ndarray:
    if "ts" not in frame.columns:
        return np.zeros(frame.height, np.int64)
    return frame["ts"].dt.epoch("s").fill_null(-1).to_numpy().astype(np.int64)


def relay_sentences(positions: pl.DataFrame, static: pl.DataFrame | None = None, *,
                    station: str = DEFAULT_STATION) -> bytes:
    """``!AIVDM`` lines (with tag blocks ``s:station,c:time``) of ``positions`` (POSITIONS
    columns; class B types 18/19 become 18, all else 1) and ``static`` (STATIC columns: 5
    stays 5, 24 stays 24, 19 becomes 24 parts A and B; other types are left out), merged in
    time order. Values are sent as given (round them first to limit their precision)."""
    pos = _positions_for_relay(positions, station)
    sta = _static_for_relay(static if static is not None else empty(STATIC), station)
    parts: list[Lines] = []
    keys: list[np.ndarray] = []
    for kind, frame in ((0, pos), (1, sta)):
        if frame.height == 0:
            continue
        lines = (encode_positions if kind == 0 else encode_static)(frame)
        ts = _ts_seconds(frame)[lines.message]
        keys.append(np.stack([ts, np.full(len(lines), kind), lines.message,
                              np.arange(len(lines))]))
        parts.append(lines)
    if not parts:
        return b""
    merged = Lines.concat(parts)
    k = np.concatenate(keys, axis=1)
    order = np.lexsort(k[::-1])
    return merged.take(order).to_bytes()


# --------------------------------------------------------------------------- server


@dataclass(eq=False)
class _Client:
    sock: socket.socket
    address: Any
    lines: queue.Queue[bytes | None] = field(default_factory=lambda: queue.Queue(
        MAX_BACKLOG_LINES))
    thread: threading.Thread | None = None


class RelayServer:
    """Send NMEA text to TCP clients (``tcp_port``: listen there, 0 for any free port) and/or
    as UDP datagrams (``udp``: (host, port)). Thread based; :meth:`send` never blocks on a
    slow or vanished client.

    Example::

        server = RelayServer(tcp_port=10110).start()
        server.send(relay_sentences(positions, static))
        server.stop()
    """

    def __init__(self, *, tcp_port: int | None = None, host: str = "0.0.0.0",
                 udp: tuple[str, int] | None = None) -> None:
        if tcp_port is None and udp is None:
            raise ValueError("give a TCP port to listen on, a UDP destination, or both")
        if tcp_port is not None and not 0 <= tcp_port <= 65535:
            raise ValueError(f"TCP port {tcp_port} is outside 0-65535")
        if udp is not None and not 0 < udp[1] <= 65535:
            raise ValueError(f"UDP port {udp[1]} is outside 1-65535")
        self.host = host
        self.tcp_port = tcp_port
        self.udp = udp
        self.port: int | None = None  # the TCP port bound, once started
        self._listener: socket.socket | None = None
        self._udp_sock: socket.socket | None = None
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._accepter: threading.Thread | None = None
        self.sent_lines = 0

    def __enter__(self) -> RelayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def clients(self) -> int:
        """TCP clients connected now."""
        with self._lock:
            return len(self._clients)

    def start(self) -> RelayServer:
        """Bind and start serving. Returns self.

        Raises:
            OSError: the port is taken or not allowed.
        """
        self._stop.clear()
        if self.tcp_port is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.tcp_port))
            sock.listen(16)
            sock.settimeout(0.2)
            self._listener = sock
            self.port = sock.getsockname()[1]
            self._accepter = threading.Thread(target=self._accept, name="relay-accept",
                                              daemon=True)
            self._accepter.start()
        if self.udp is not None:
            self._udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = _Client(sock, address)
            client.thread = threading.Thread(target=self._serve, args=(client,),
                                             name=f"relay-{address}", daemon=True)
            with self._lock:
                self._clients.append(client)
            log.info("relay: client %s connected", address)
            client.thread.start()

    def _drop(self, client: _Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
        with contextlib.suppress(OSError):
            client.sock.close()

    def _serve(self, client: _Client) -> None:
        try:
            while not self._stop.is_set():
                try:
                    data = client.lines.get(timeout=0.2)
                except queue.Empty:
                    if self._hung_up(client.sock):
                        log.info("relay: client %s disconnected", client.address)
                        break
                    continue
                if data is None:
                    break
                client.sock.sendall(data)
        except OSError as exc:
            log.info("relay: client %s gone (%s)", client.address, exc)
        finally:
            self._drop(client)

    @staticmethod
    def _hung_up(sock: socket.socket) -> bool:
        """Has the peer closed the connection? (What it sends is read and ignored.)"""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(4096) == b""
        except OSError:
            return True

    def send(self, data: bytes) -> None:
        """Send NMEA text (whole lines) to every client and the UDP destination."""
        if not data:
            return
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.lines.put_nowait(data)
            except queue.Full:
                log.warning("relay: client %s fell behind; dropped", client.address)
                self._drop(client)
        if self._udp_sock is not None and self.udp is not None:
            for chunk in _datagrams(data):
                try:
                    self._udp_sock.sendto(chunk, self.udp)
                except OSError as exc:  # unreachable host, no route: keep relaying
                    log.warning("relay: UDP send to %s failed: %s", self.udp, exc)
        self.sent_lines += data.count(b"\n")

    def stop(self) -> None:
        """Close every connection and stop the threads (idempotent)."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        if self._accepter is not None:
            self._accepter.join(timeout=2)
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            with contextlib.suppress(queue.Full):
                c.lines.put_nowait(None)
            if c.thread is not None:
                c.thread.join(timeout=2)
            self._drop(c)
        if self._udp_sock is not None:
            self._udp_sock.close()
            self._udp_sock = None


def _datagrams(data: bytes) -> list[bytes]:
    """``data`` cut into datagrams of whole lines, each at most MAX_DATAGRAM bytes (a longer
    line alone)."""
    out: list[bytes] = []
    current = b""
    for line in data.splitlines(keepends=True):
        if current and len(current) + len(line) > MAX_DATAGRAM:
            out.append(current)
            current = b""
        current += line
    if current:
        out.append(current)
    return out


# --------------------------------------------------------------------------- feed


class RelayFeed:
    """New positions and static reports that ``org`` may see, poll by poll.

    ``from_start``: relay the stored rows too (default: only rows appended after the first
    poll). The store is passed to each :meth:`poll`, so a caller may open it per poll.
    """

    def __init__(self, org: str, *, from_start: bool = False,
                 station: str = DEFAULT_STATION) -> None:
        self.org = org
        self.station = station
        self._from_start = from_start
        self._last: dict[str, int] | None = None
        self._grants: Grants | None = None
        self._owners: list[tuple[str, str]] = []
        self._pending: dict[str, pl.DataFrame] = {}

    def _refresh(self, store: Store) -> Grants:
        version = agreements_version(store)
        if self._grants is None or self._grants.version != version:
            self._grants = load_grants(store)
            self._owners = owners(store)
        return self._grants

    def _new_rows(self, store: Store, table: str) -> pl.DataFrame:
        assert self._last is not None
        rows = store.query(f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid > ? "
                           "ORDER BY rowid", [self._last[table]])
        if rows.height:
            self._last[table] = int(rows["_rowid"].max())  # type: ignore[arg-type]
        return rows.drop("_rowid")

    def _judge(self, kind: str, table: str, rows: pl.DataFrame, grants: Grants,
               now: datetime) -> pl.DataFrame:
        """Rows visible now; rows held back only by a delay wait in ``_pending``."""
        waiting = self._pending.get(table)
        if waiting is not None and waiting.height:
            rows = pl.concat([waiting, rows], how="vertical_relaxed")
        if rows.height == 0:
            return rows
        rows = rows.with_row_index("_relay_row")
        now_ok = permitted(self.org, kind, rows, grants, now)
        later = permitted(self.org, kind, rows, grants, _FAR_FUTURE)
        shown = now_ok["_relay_row"].to_list()
        waiting_ids = later.filter(~pl.col("_relay_row").is_in(shown))["_relay_row"].to_list()
        # the original (unrounded) rows wait: they are judged again at the next poll
        self._pending[table] = rows.filter(pl.col("_relay_row").is_in(waiting_ids)
                                           ).drop("_relay_row")
        return now_ok.drop("_relay_row")

    def begin(self, store: Store) -> None:
        """Start relaying from now: rows appended from here on are relayed (all stored rows
        with ``from_start``). Called by the first :meth:`poll` if not before."""
        if self._last is None:
            start = -1 if self._from_start else None
            self._last = {t: (start if start is not None else store.last_rowid(t))
                          for t in ("positions", "static")}

    def poll(self, store: Store, now: datetime | None = None) -> bytes:
        """The sentences of the rows appended since the last poll (and of delayed rows that
        became old enough) that ``org`` may see at ``now``."""
        now = now or datetime.now(UTC)
        self.begin(store)
        grants = self._refresh(store)
        pos = self._new_rows(store, "positions")
        sta = self._new_rows(store, "static")
        if pos.height:
            pos = attach_origin(pos, self._owners).join(
                ship_types(store, pos["mmsi"]), on="mmsi", how="left")
        else:
            pos = pos.with_columns(pl.lit(None, pl.String).alias("origin"),
                                   pl.lit(None, pl.UInt8).alias("ship_type"))
        sta = attach_origin(sta, self._owners)
        pos = self._judge("positions", "positions", pos, grants, now)
        sta = self._judge("identities", "static", sta, grants, now)
        return relay_sentences(pos.select([c for c in POSITIONS if c in pos.columns]),
                               sta.select(list(STATIC)), station=self.station)


class RelayLoop:
    """A :class:`RelayFeed` polled every ``interval`` seconds by a thread, its sentences sent
    by a :class:`RelayServer`: the relay inside a process that also writes the store (the
    service), reading through ``read`` (e.g. :meth:`SharedStore.read`)."""

    def __init__(self, feed: RelayFeed, server: RelayServer,
                 read: Callable[[Callable[[Store], Any]], Any], interval: float = 2.0
                 ) -> None:
        self.feed, self.server, self.read, self.interval = feed, server, read, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"relay {feed.org}",
                                        daemon=True)

    def start(self) -> RelayLoop:
        # the starting point is taken now, not at the first poll an interval later: rows
        # stored in between are relayed too
        self.read(self.feed.begin)
        self.server.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                data = self.read(self.feed.poll)
            except Exception:  # a failed poll is retried at the next one
                logger.exception("relay poll failed")
                continue
            if data:
                self.server.send(data)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.server.stop()


__all__ = ["DEFAULT_STATION", "RelayFeed", "RelayLoop", "RelayServer", "relay_sentences"]
