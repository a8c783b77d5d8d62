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

Revocation
    The partner's ``GET /api/agreements`` lists the agreements granting to the key's
    organisation; the report names the active ones' classes and warns when no active
    agreement grants positions (or events) any more, for instance after a revocation: the
    pull then adds nothing and says why.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import polars as pl

from seasight.events.model import parse_utc
from seasight.schema import EVENTS, POSITIONS, UTC_US, conform
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
    events_received: int = 0
    events_added: int = 0
    events_updated: int = 0
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
            "positions_added": self.positions_added, "events_received": self.events_received,
            "events_added": self.events_added, "events_updated": self.events_updated,
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
        if self.positions_until is not None:
            text += f"; positions up to {self.positions_until.isoformat()}"
        return text


# --------------------------------------------------------------------------- pure logic


def source_of(partner: str) -> str:
    """The ``source`` of rows pulled from ``partner``."""
    return f"{SOURCE_PREFIX}{partner}"


def read_parquet(data: bytes, what: str) -> pl.DataFrame:
    """A frame from Parquet bytes; :class:`FederationError` naming ``what`` if they are not
    Parquet."""
    import io

    if not data.startswith(b"PAR1"):
        raise FederationError(f"{what}: the partner's answer is not a Parquet file "
                              f"({len(data)} bytes starting {data[:16]!r})")
    try:
        return pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several kinds for corrupt files
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


def newest(frame: pl.DataFrame, column: str, old: datetime | None) -> datetime | None:
    """The later of ``old`` and the newest non-null ``column`` value of ``frame``."""
    value = frame[column].max() if frame.height else None
    if not isinstance(value, datetime):
        return old
    return value if old is None or value > old else old


# --------------------------------------------------------------------------- the partner


class PartnerClient:
    """HTTP client of a partner SeaSight (standard library only): every answer checked, every
    failure a :class:`FederationError` naming the partner, the URL and the reason."""

    def __init__(self, base_url: str, key: str, *, partner: str,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise FederationError(f"base URL {base_url!r}: expected http(s)://host[:port]")
        if not key or not key.strip():
            raise FederationError("key: the API key the partner issued is required")
        if timeout <= 0:
            raise FederationError(f"timeout: must be positive, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.key = key.strip()
        self.partner = partner
        self.timeout = timeout

    def get(self, path: str, params: dict[str, str] | None = None) -> bytes:
        """The body of ``GET path?params``."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.key}",
                                                   "User-Agent": "seasight-federation"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, path) from None
        except TimeoutError as exc:
            raise FederationError(f"{self.partner}: GET {path} timed out after "
                                  f"{self.timeout:g} s") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise FederationError(f"{self.partner}: GET {path} timed out after "
                                      f"{self.timeout:g} s") from exc
            raise FederationError(f"{self.partner}: cannot reach {self.base_url}: "
                                  f"{reason}") from exc
        except (OSError, ValueError) as exc:  # connection reset, bad status line, ...
            raise FederationError(f"{self.partner}: GET {path} failed: "
                                  f"{type(exc).__name__}: {exc}") from exc

    def _http_error(self, exc: urllib.error.HTTPError, path: str) -> FederationError:
        message = ""
        try:
            body = json.loads(exc.read() or b"{}")
            err = body.get("error", {}) if isinstance(body, dict) else {}
            message = f"{err.get('code', '')}: {err.get('message', '')}".strip(": ")
        except (ValueError, OSError, AttributeError):
            pass
        hint = {401: "the partner refused the key (wrong, revoked or expired)",
                403: "the key may not do this (scope or role)"}.get(exc.code, "")
        text = f"{self.partner}: GET {path} answered {exc.code}"
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

    def export(self, kind: str, since: datetime | None, until: datetime | None) -> bytes:
        """``GET /api/export/{kind}?format=parquet`` (``since``/``until`` if given)."""
        params = {"format": "parquet"}
        if since is not None:
            params["since"] = since.astimezone(UTC).isoformat()
        if until is not None:
            params["until"] = until.astimezone(UTC).isoformat()
        return self.get(f"/api/export/{kind}", params)


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
         overlap: timedelta = DEFAULT_OVERLAP) -> FederationReport:
    """Pull what ``key`` may see from the SeaSight at ``base_url`` into ``store``, as the data
    of organisation ``partner`` (see the module docstring).

    ``since`` (default: the partner's watermark minus ``overlap``, or everything on the first
    pull) and ``until`` bound the rows asked for; ``events=False`` pulls positions only.

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
    client = PartnerClient(base_url, key, partner=partner, timeout=timeout)
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
    positions = federated_positions(
        read_parquet(client.export("positions", since, until), "positions"), partner)
    found = pl.DataFrame(schema=PARTNER_EVENTS)
    if events:
        found = federated_events(
            read_parquet(client.export("events", events_since, until), "events"),
            partner, now)
    report.positions_received = positions.height
    report.events_received = found.height

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
    "PARTNER_EVENTS",
    "SOURCE_PREFIX",
    "FederationError",
    "FederationReport",
    "PartnerClient",
    "ensure_tables",
    "federated_events",
    "federated_positions",
    "newest",
    "partners",
    "pull",
    "read_parquet",
    "source_of",
]
