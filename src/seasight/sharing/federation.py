"""Federation: one SeaSight pulls from another SeaSight's API with a key the other side issued.

:func:`pull` asks the partner's ``GET /api/export/positions`` and ``GET /api/export/events``
(Parquet) for what the key's organisation may see there: the partner applies its own sharing
agreements (area, delay, vessel filters, rounding) before anything leaves it, so the pulled rows
are exactly the partner's export for that key.

What is stored, and how
    * Positions go into ``positions`` with ``source = "federation:<partner>"``; that source is
      assigned to organisation ``<partner>`` (:func:`seasight.sharing.assign_source`) *before*
      any row is written, so the rows are never, not even for a moment, owned by ``local``
      and shared onward under ``local``'s agreements. The partner's ``msg_hash`` is kept: a
      second pull of the same rows (or a transmission this installation also received itself)
      is dropped by the store's duplicate check, so pulling twice adds nothing.
    * Events go into their own table, ``partner_events`` (the ``events`` columns plus
      ``partner`` and ``pulled_at``, keyed by (partner, event_id)), not into ``events``:
      ``seasight detect`` retires open events of the kinds it runs that it does not find
      again (it would delete the partner's open events at every run), event ids are stable
      hashes of the detection (this installation's detectors running on the federated
      positions can find the same event and would overwrite the partner's), and the
      ``events`` table is re-shared by this installation's own agreements, while a partner's
      event should not travel further without a decision to do so. An event pulled again
      (an open event extended or closed by the partner) replaces the stored one.
    * A watermark per partner (``federation_partners``: the newest position time and the
      newest event end pulled) makes the next pull continue from there, minus ``overlap``
      (late-arriving rows at the partner; the overlap is re-read and deduplicated).

One transaction per pull
    Everything is fetched and checked first (credentials, agreements, both Parquet files);
    then positions, events and the watermark are written in one transaction. A refused key
    (401/403), an unreachable partner, a timeout or a bad file raises
    :class:`FederationError` and writes nothing.

A hostile or broken partner
    Answers are streamed (into a temporary file for the Parquet exports), never read whole:
    one larger than :data:`MAX_REPLY_BYTES`, or a Parquet file of more than
    :data:`MAX_REPLY_ROWS` rows, is refused as soon as that is known. ``timeout`` bounds each
    wait for the partner, and :data:`PULL_DEADLINE_S` the whole pull: a watchdog shuts the
    connection at the deadline, so a partner dripping one byte at a time cannot keep the pull
    longer. Rows dated more than :data:`FUTURE_TOLERANCE` after this machine's clock (a
    position's ``ts``, an event's ``start`` or ``end``) are not stored: each is kept in
    ``rejects`` (reason ``bad_timestamp``, the row as JSON, its row number in the partner's
    file) and counted in the report, and the watermarks only follow the rows stored, so one row
    dated 2999 cannot stop later pulls.

Revocation
    The partner's ``GET /api/agreements`` lists the agreements granting to the key's
    organisation; the report names the active ones' classes and warns when no active
    agreement grants positions (or events) any more, for instance after a revocation: the
    pull then adds nothing and says why.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Final

import numpy as np
import polars as pl

from seasight.events.model import parse_utc
from seasight.model.schema import EVENTS, POSITIONS, REJECTS, UTC_US, conform
from seasight.sharing import assign_source, owners
from seasight.sharing.agreements import AgreementError, check_org
from seasight.sources.csv_tracks import position_hash
from seasight.store import Store

#: Prefix of the ``source`` of every federated row: ``federation:<partner>``.
SOURCE_PREFIX: Final = "federation:"

#: Seconds to wait for the partner's answer, by default.
DEFAULT_TIMEOUT_S: Final = 60.0

#: How far before the watermark the next pull starts, by default (rows that reached the
#: partner late; the overlap is deduplicated).
DEFAULT_OVERLAP: Final = timedelta(minutes=15)

#: Largest answer accepted from a partner (each request); larger ones are refused unread.
MAX_REPLY_BYTES: Final = 256 * 1024 * 1024

#: Most rows of one exported Parquet file (read from its footer before the rows).
MAX_REPLY_ROWS: Final = 20_000_000

#: Seconds a whole pull may take (every request together), however the partner answers.
PULL_DEADLINE_S: Final = 600.0

#: Seconds a row may be dated after this machine's clock (clock skew); later rows are
#: rejected, not stored.
FUTURE_TOLERANCE_S: Final = 300.0
FUTURE_TOLERANCE: Final = timedelta(seconds=FUTURE_TOLERANCE_S)

#: Bytes read from the partner's connection at a time.
_READ_BYTES: Final = 1024 * 1024

#: The ``partner_events`` table: the partner's events as its export gave them.
PARTNER_EVENTS: Final[dict[str, pl.DataType]] = {
    "partner": pl.String(),
    **EVENTS,
    "pulled_at": UTC_US,
}

#: The ``federation_partners`` table: one row per partner pulled from.
FEDERATION_PARTNERS: Final[dict[str, pl.DataType]] = {
    "partner": pl.String(),
    "base_url": pl.String(),
    "organisation": pl.String(),  # our organisation on the partner's system
    "positions_until": UTC_US,  # newest position time pulled
    "events_until": UTC_US,  # newest event end (or start) pulled
    "last_pull": UTC_US,
    "pulls": pl.Int64(),
    "positions_added": pl.Int64(),  # in total
    "events_added": pl.Int64(),
}

_REQUIRED_POSITION_COLUMNS: Final = ("mmsi", "ts", "lat", "lon")
_REQUIRED_EVENT_COLUMNS: Final = ("event_id", "kind", "mmsi", "start")


class FederationError(RuntimeError):
    """A pull that could not be made (refused key, unreachable partner, bad answer); nothing
    was written."""


@dataclass
class FederationReport:
    """What one pull fetched and stored."""

    partner: str
    base_url: str
    organisation: str | None = None  # the key's organisation on the partner's system
    since: datetime | None = None  # the time asked from (None: everything)
    until: datetime | None = None
    positions_received: int = 0
    positions_added: int = 0
    positions_rejected: int = 0  # dated in the future (kept in ``rejects``)
    events_received: int = 0
    events_added: int = 0
    events_updated: int = 0
    events_rejected: int = 0
    positions_until: datetime | None = None  # the watermarks after the pull
    events_until: datetime | None = None
    granted: list[str] = field(default_factory=list)  # classes of the active agreements
    revoked: list[str] = field(default_factory=list)  # ids of revoked agreements to us
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (times ISO 8601)."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()
        return {
            "partner": self.partner, "base_url": self.base_url,
            "organisation": self.organisation, "since": iso(self.since),
            "until": iso(self.until), "positions_received": self.positions_received,
            "positions_added": self.positions_added,
            "positions_rejected": self.positions_rejected,
            "events_received": self.events_received,
            "events_added": self.events_added, "events_updated": self.events_updated,
            "events_rejected": self.events_rejected,
            "positions_until": iso(self.positions_until),
            "events_until": iso(self.events_until), "granted": list(self.granted),
            "revoked": list(self.revoked), "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """One line for a terminal."""
        text = (f"{self.partner}: {self.positions_added:,} new position(s) of "
                f"{self.positions_received:,} received, {self.events_added:,} new and "
                f"{self.events_updated:,} updated event(s) of {self.events_received:,}")
        if self.positions_rejected or self.events_rejected:
            text += (f"; rejected {self.positions_rejected:,} position(s) and "
                     f"{self.events_rejected:,} event(s) dated in the future")
        if self.positions_until is not None:
            text += f"; positions up to {self.positions_until.isoformat()}"
        return text


# --------------------------------------------------------------------------- pure logic


def source_of(partner: str) -> str:
    """The ``source`` of rows pulled from ``partner``."""
    return f"{SOURCE_PREFIX}{partner}"


def read_parquet(data: bytes | IO[bytes], what: str, max_rows: int = MAX_REPLY_ROWS
                 ) -> pl.DataFrame:
    """A frame from Parquet bytes or a binary file; :class:`FederationError` naming ``what``
    if they are not Parquet or hold more than ``max_rows`` rows (counted in the footer, before
    any row is read)."""
    import io

    import pyarrow.parquet as pq

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    source.seek(0)
    head = source.read(16)
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(0)
    if not head.startswith(b"PAR1"):
        raise FederationError(f"{what}: the partner's answer is not a Parquet file "
                              f"({size} bytes starting {head!r})")
    try:
        rows = pq.ParquetFile(source).metadata.num_rows
        if rows > max_rows:
            raise FederationError(f"{what}: the partner's file holds {rows:,} rows; at most "
                                  f"{max_rows:,} are read in one pull (pull a shorter period)")
        source.seek(0)
        return pl.read_parquet(source)
    except FederationError:
        raise
    except Exception as exc:  # pyarrow and polars raise several kinds for corrupt files
        raise FederationError(f"{what}: cannot read the partner's Parquet file: "
                              f"{type(exc).__name__}: {exc}") from exc


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType], what: str,
             required: tuple[str, ...]) -> pl.DataFrame:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FederationError(f"{what}: the partner's file lacks column(s) "
                              f"{', '.join(missing)}")
    try:
        return conform(frame.select([c for c in schema if c in frame.columns]), schema)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise FederationError(f"{what}: a column of the partner's file has the wrong type: "
                              f"{exc}") from exc


def federated_positions(frame: pl.DataFrame, partner: str) -> pl.DataFrame:
    """The partner's exported positions as rows of this store's ``positions`` table:
    POSITIONS columns (``origin``, ``ship_type`` and other extras dropped), ``source`` set to
    ``federation:<partner>``. Rows without ``msg_hash`` get :func:`position_hash` of (mmsi,
    ts, lat, lon), so they too are stored once. Rows without ``mmsi`` are dropped.

    Raises:
        FederationError: a required column is missing or has a type that does not fit.
    """
    rows = _conform(frame, POSITIONS, "positions", _REQUIRED_POSITION_COLUMNS)
    rows = rows.filter(pl.col("mmsi").is_not_null()).with_columns(
        pl.lit(source_of(partner), pl.String).alias("source"))
    missing = rows["msg_hash"].is_null()
    if missing.any():
        part = rows.filter(missing)
        hashes = position_hash(
            part["mmsi"].to_numpy(),
            part["ts"].dt.epoch("us").fill_null(0).to_numpy(),
            part["lat"].fill_null(np.nan).to_numpy(),
            part["lon"].fill_null(np.nan).to_numpy())
        filled = np.zeros(rows.height, np.int64)
        filled[missing.to_numpy()] = hashes
        rows = rows.with_columns(
            pl.when(missing).then(pl.Series(filled)).otherwise(pl.col("msg_hash"))
            .alias("msg_hash"))
    return rows


def federated_events(frame: pl.DataFrame, partner: str, pulled_at: datetime) -> pl.DataFrame:
    """The partner's exported events as rows of ``partner_events`` (one row per event id,
    the last one kept).

    Raises:
        FederationError: a required column is missing or has a type that does not fit.
    """
    rows = _conform(frame, EVENTS, "events", _REQUIRED_EVENT_COLUMNS)
    rows = rows.filter(pl.col("event_id").is_not_null()).unique("event_id", keep="last",
                                                                 maintain_order=True)
    return rows.select(pl.lit(partner, pl.String).alias("partner"), pl.all(),
                       pl.lit(pulled_at, UTC_US).alias("pulled_at"))


def future_rows(frame: pl.DataFrame, columns: tuple[str, ...], now: datetime,
                tolerance: timedelta = FUTURE_TOLERANCE) -> pl.Series:
    """Boolean mask of the rows with any of ``columns`` later than ``now + tolerance``."""
    limit = now + tolerance
    if frame.height == 0:
        return pl.Series("future", [], pl.Boolean)
    return frame.select(pl.any_horizontal([(pl.col(c) > limit).fill_null(False)
                                           for c in columns]).alias("future")).to_series()


def future_rejects(frame: pl.DataFrame, mask: pl.Series, columns: tuple[str, ...],
                   partner: str, now: datetime) -> pl.DataFrame:
    """``rejects`` rows for the rows of ``frame`` where ``mask`` holds: reason
    ``bad_timestamp``, the row as JSON in ``raw``, its 1-based row number in the partner's
    file, and how far in the future the latest of its ``columns`` lies."""
    where = mask.arg_true()
    rows = frame[where]
    details = []
    raws = []
    for row in rows.iter_rows(named=True):
        column, t = max(((c, row[c]) for c in columns if isinstance(row[c], datetime)),
                        key=lambda ct: ct[1], default=(columns[0], now))
        details.append(f"{column} {t.isoformat()} is {(t - now).total_seconds():,.0f} s ahead "
                       f"of this machine's clock (tolerance "
                       f"{FUTURE_TOLERANCE.total_seconds():g} s)")
        raws.append(json.dumps(row, default=str).encode())
    return pl.DataFrame({
        "source": [source_of(partner)] * rows.height,
        "line_no": (where + 1).cast(pl.Int64),
        "raw": pl.Series(raws, dtype=pl.Binary),
        "reason": ["bad_timestamp"] * rows.height,
        "detail": details,
    }, schema=REJECTS)


def newest(frame: pl.DataFrame, column: str, old: datetime | None) -> datetime | None:
    """The later of ``old`` and the newest non-null ``column`` value of ``frame``."""
    value = frame[column].max() if frame.height else None
    if not isinstance(value, datetime):
        return old
    return value if old is None or value > old else old


# --------------------------------------------------------------------------- the partner


class PartnerClient:
    """HTTP client of a partner SeaSight (standard library only): every answer checked and
    streamed under a size cap, every request within the client's overall deadline, every
    failure a :class:`FederationError` naming the partner, the URL and the reason."""

    def __init__(self, base_url: str, key: str, *, partner: str,
                 timeout: float = DEFAULT_TIMEOUT_S, deadline_s: float = PULL_DEADLINE_S,
                 max_bytes: int = MAX_REPLY_BYTES) -> None:
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FederationError(f"base URL {base_url!r}: expected http(s)://host[:port]")
        try:
            parsed.port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            raise FederationError(f"base URL {base_url!r}: {exc}") from None
        if not key or not key.strip():
            raise FederationError("key: the API key the partner issued is required")
        if timeout <= 0:
            raise FederationError(f"timeout: must be positive, got {timeout}")
        if deadline_s <= 0 or max_bytes <= 0:
            raise FederationError("deadline and reply size limit must be positive")
        self.base_url = base_url.rstrip("/")
        self.key = key.strip()
        self.partner = partner
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self._deadline = time.monotonic() + deadline_s
        self._parsed = parsed

    def _connection(self, wait: float) -> http.client.HTTPConnection:
        host, port = self._parsed.hostname or "", self._parsed.port
        if self._parsed.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=wait,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=wait)

    def _target(self, path: str, params: dict[str, str] | None) -> str:
        prefix = self._parsed.path.rstrip("/")
        return prefix + path + ("?" + urllib.parse.urlencode(params) if params else "")

    def fetch(self, path: str, sink: IO[bytes], params: dict[str, str] | None = None) -> int:
        """Stream the body of ``GET path?params`` into ``sink``; the bytes written.

        Raises:
            FederationError: refused, unreachable, an error status, an answer over
                ``max_bytes``, a wait over ``timeout``, or the client's deadline passed.
        """
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise FederationError(f"{self.partner}: GET {path}: the pull's deadline of "
                                  f"{self.deadline_s:g} s has passed")
        conn = self._connection(min(self.timeout, left))
        cut = threading.Event()

        def shut() -> None:  # the watchdog: unblocks any read at the deadline
            cut.set()
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
        watchdog = threading.Timer(left, shut)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request("GET", self._target(path, params), headers={
                "Authorization": f"Bearer {self.key}", "User-Agent": "seasight-federation"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise self._http_error(resp.status, resp.read(64 * 1024), path)
            declared = resp.getheader("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large(path, int(declared))
            written = 0
            while True:
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.001, min(self.timeout,
                                                        self._deadline - time.monotonic())))
                chunk = resp.read1(_READ_BYTES)
                if cut.is_set():
                    raise self._late(path)
                if not chunk:
                    break
                written += len(chunk)
                if written > self.max_bytes:
                    raise self._too_large(path, written)
                sink.write(chunk)
            return written
        except FederationError:
            raise
        except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
            if cut.is_set():
                raise self._late(path) from None
            if isinstance(exc, TimeoutError):
                raise FederationError(f"{self.partner}: GET {path} timed out after "
                                      f"{self.timeout:g} s") from None
            if isinstance(exc, ConnectionRefusedError | socket.gaierror):
                raise FederationError(f"{self.partner}: cannot reach {self.base_url}: "
                                      f"{exc}") from None
            raise FederationError(f"{self.partner}: GET {path} failed: "
                                  f"{type(exc).__name__}: {exc}") from None
        finally:
            watchdog.cancel()
            conn.close()

    def get(self, path: str, params: dict[str, str] | None = None) -> bytes:
        """The body of ``GET path?params`` (for small answers; see :meth:`fetch`)."""
        import io

        buf = io.BytesIO()
        self.fetch(path, buf, params)
        return buf.getvalue()

    def _late(self, path: str) -> FederationError:
        return FederationError(f"{self.partner}: GET {path} stopped: the pull's deadline of "
                               f"{self.deadline_s:g} s passed (the partner answers too slowly)")

    def _too_large(self, path: str, size: int) -> FederationError:
        return FederationError(f"{self.partner}: GET {path} answered more than "
                               f"{self.max_bytes:,} bytes ({size:,}); refused")

    def _http_error(self, status: int, data: bytes, path: str) -> FederationError:
        message = ""
        try:
            body = json.loads(data or b"{}")
            err = body.get("error", {}) if isinstance(body, dict) else {}
            message = f"{err.get('code', '')}: {err.get('message', '')}".strip(": ")
        except (ValueError, AttributeError):
            pass
        hint = {401: "the partner refused the key (wrong, revoked or expired)",
                403: "the key may not do this (scope or role)"}.get(status, "")
        text = f"{self.partner}: GET {path} answered {status}"
        for part in (hint, message):
            if part:
                text += f"; {part}"
        return FederationError(text)

    def get_json(self, path: str) -> Any:
        """``GET path`` parsed as JSON."""
        data = self.get(path)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise FederationError(f"{self.partner}: GET {path} did not answer JSON") from exc

    def export(self, kind: str, since: datetime | None, until: datetime | None) -> IO[bytes]:
        """``GET /api/export/{kind}?format=parquet`` (``since``/``until`` if given), streamed
        into a temporary file (deleted when closed), returned at its start."""
        params = {"format": "parquet"}
        if since is not None:
            params["since"] = since.astimezone(UTC).isoformat()
        if until is not None:
            params["until"] = until.astimezone(UTC).isoformat()
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        try:
            self.fetch(f"/api/export/{kind}", spool, params)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool


def _grants(agreements: Any, org: str, now: datetime) -> tuple[list[str], list[str]]:
    """(classes granted to ``org`` by active agreements, ids of revoked ones)."""
    items = agreements.get("items", []) if isinstance(agreements, dict) else []
    classes: set[str] = set()
    revoked: list[str] = []
    for a in items:
        if not isinstance(a, dict) or a.get("grantee") != org:
            continue
        at = a.get("revoked_at")
        try:
            ended = at is not None and parse_utc(str(at)) <= now
        except ValueError:
            ended = False
        if ended:
            revoked.append(str(a.get("agreement_id")))
        else:
            classes.update(str(c) for c in a.get("classes") or [])
    return sorted(classes), sorted(revoked)


# --------------------------------------------------------------------------- the store


def ensure_tables(store: Store) -> None:
    """Create ``partner_events`` and ``federation_partners`` if they do not exist."""
    store.create_table("partner_events", PARTNER_EVENTS, key=("partner", "event_id"))
    store.create_table("federation_partners", FEDERATION_PARTNERS, key=("partner",))


def partners(store: Store) -> pl.DataFrame:
    """The partners pulled from (FEDERATION_PARTNERS rows), by name."""
    ensure_tables(store)
    return store.query("SELECT * FROM federation_partners ORDER BY partner")


def _state(store: Store, partner: str) -> dict[str, Any] | None:
    rows = partners(store).filter(pl.col("partner") == partner)
    return rows.row(0, named=True) if rows.height else None


def _upsert_events(store: Store, rows: pl.DataFrame) -> tuple[int, int]:
    """Insert or replace ``rows`` of ``partner_events`` (inside the caller's transaction);
    (added, updated), an event found again unchanged counts as neither."""
    if rows.height == 0:
        return 0, 0
    cols = [c for c in PARTNER_EVENTS if c not in ("partner", "event_id", "pulled_at")]
    changed = " OR ".join(f'e."{c}" IS DISTINCT FROM n."{c}"' for c in cols)
    assign = ", ".join(f'"{c}" = excluded."{c}"' for c in [*cols, "pulled_at"])
    # pulled_at: the last pull that saw the event
    store.con.register("_partner_events", rows.to_arrow())
    try:
        known = int(store.con.execute(
            "SELECT count(*) FROM partner_events e JOIN _partner_events n "
            "USING (partner, event_id)").fetchall()[0][0])
        updated = int(store.con.execute(
            f"SELECT count(*) FROM partner_events e JOIN _partner_events n "
            f"USING (partner, event_id) WHERE {changed}").fetchall()[0][0])
        store.con.execute(
            f"INSERT INTO partner_events SELECT * FROM _partner_events "
            f"ON CONFLICT (partner, event_id) DO UPDATE SET {assign}")
    finally:
        store.con.unregister("_partner_events")
    return rows.height - known, updated


def pull(store: Store, base_url: str, key: str, *, partner: str,
         since: datetime | None = None, until: datetime | None = None,
         timeout: float = DEFAULT_TIMEOUT_S, events: bool = True,
         overlap: timedelta = DEFAULT_OVERLAP, deadline_s: float = PULL_DEADLINE_S,
         max_bytes: int = MAX_REPLY_BYTES) -> FederationReport:
    """Pull what ``key`` may see from the SeaSight at ``base_url`` into ``store``, as the data
    of organisation ``partner`` (see the module docstring).

    ``since`` (default: the partner's watermark minus ``overlap``, or everything on the first
    pull) and ``until`` bound the rows asked for; ``events=False`` pulls positions only.
    ``timeout`` bounds each wait for the partner, ``deadline_s`` the whole pull, ``max_bytes``
    each answer. Rows dated more than :data:`FUTURE_TOLERANCE` ahead are kept in ``rejects``
    and counted, not stored.

    Raises:
        FederationError: bad arguments, a refused key, an unreachable or slow partner, or an
            answer that is not what a SeaSight sends. Nothing is written then.
    """
    started = time.monotonic()
    try:
        check_org(partner, "partner")
    except AgreementError as exc:
        raise FederationError(str(exc)) from None
    if overlap < timedelta(0):
        raise FederationError("overlap: must not be negative")
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise FederationError(f"{name}: give a time with a time zone (UTC)")
    if since is not None and until is not None and until < since:
        raise FederationError("until: before since")
    client = PartnerClient(base_url, key, partner=partner, timeout=timeout,
                           deadline_s=deadline_s, max_bytes=max_bytes)
    ensure_tables(store)
    state = _state(store, partner)
    report = FederationReport(partner=partner, base_url=client.base_url, until=until)
    events_since = since
    if since is None and state is not None:
        if state["positions_until"] is not None:
            since = state["positions_until"] - overlap
        if state["events_until"] is not None:
            events_since = state["events_until"] - overlap
    report.since = since

    # 1. fetch and check everything (nothing written yet)
    me = client.get_json("/api/me")
    org = me.get("organisation") if isinstance(me, dict) else None
    if not isinstance(org, str):
        raise FederationError(f"{partner}: GET /api/me did not name the key's organisation; "
                              f"is {client.base_url} a SeaSight?")
    report.organisation = org
    now = datetime.now(UTC)
    try:
        report.granted, report.revoked = _grants(client.get_json("/api/agreements"), org, now)
    except FederationError as exc:
        report.warnings.append(f"cannot read the partner's agreements: {exc}")
        report.granted = []
    else:
        for cls in ("positions", *(("events",) if events else ())):
            if cls not in report.granted:
                why = (f" (revoked: {', '.join(report.revoked)})" if report.revoked else "")
                report.warnings.append(
                    f"no active agreement of {partner} grants {cls} to {org}{why}; only "
                    f"{org}'s own {cls} there can be pulled")
    with client.export("positions", since, until) as answer:
        positions = federated_positions(read_parquet(answer, "positions"), partner)
    found = pl.DataFrame(schema=PARTNER_EVENTS)
    if events:
        with client.export("events", events_since, until) as answer:
            found = federated_events(read_parquet(answer, "events"), partner, now)
    report.positions_received = positions.height
    report.events_received = found.height
    # rows from the future: rejected (kept for inspection), never stored nor watermarks
    late_pos = future_rows(positions, ("ts",), now)
    late_evt = future_rows(found, ("start", "end"), now)
    rejected = pl.concat([future_rejects(positions, late_pos, ("ts",), partner, now),
                          future_rejects(found, late_evt, ("start", "end"), partner, now)])
    positions = positions.filter(~late_pos)
    found = found.filter(~late_evt)
    report.positions_rejected = int(late_pos.sum())
    report.events_rejected = int(late_evt.sum())
    if rejected.height:
        report.warnings.append(
            f"{rejected.height:,} row(s) of {partner} dated more than "
            f"{FUTURE_TOLERANCE.total_seconds():g} s in the future were rejected "
            f"(rejects, source {source_of(partner)})")

    # 2. the source belongs to the partner before any of its rows is stored
    src = source_of(partner)
    if (src, partner) not in owners(store):
        assign_source(store, src, partner)

    # 3. one transaction: positions, events, watermark
    old_pos = state["positions_until"] if state else None
    old_evt = state["events_until"] if state else None
    report.positions_until = newest(positions, "ts", old_pos)
    ends = found.select(pl.coalesce("end", "start").alias("t"))
    report.events_until = newest(ends, "t", old_evt)
    with store.transaction():
        report.positions_added = store._append_decoded("positions", positions)
        report.events_added, report.events_updated = _upsert_events(store, found)
        store._append_rejects(rejected)
        store.con.execute(
            "INSERT OR REPLACE INTO federation_partners VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [partner, client.base_url, org, report.positions_until, report.events_until, now,
             (state["pulls"] if state else 0) + 1,
             (state["positions_added"] if state else 0) + report.positions_added,
             (state["events_added"] if state else 0) + report.events_added])
    if report.positions_added == 0 and report.events_added == 0 and report.revoked and (
            "positions" not in report.granted):
        report.warnings.append("nothing new: the partner's agreement(s) "
                               f"{', '.join(report.revoked)} granting to {org} were revoked")
    report.seconds = time.monotonic() - started
    return report


__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_TIMEOUT_S",
    "FEDERATION_PARTNERS",
    "FUTURE_TOLERANCE",
    "FUTURE_TOLERANCE_S",
    "MAX_REPLY_BYTES",
    "MAX_REPLY_ROWS",
    "PARTNER_EVENTS",
    "PULL_DEADLINE_S",
    "SOURCE_PREFIX",
    "FederationError",
    "FederationReport",
    "PartnerClient",
    "ensure_tables",
    "federated_events",
    "federated_positions",
    "future_rejects",
    "future_rows",
    "newest",
    "partners",
    "pull",
    "read_parquet",
    "source_of",
]
