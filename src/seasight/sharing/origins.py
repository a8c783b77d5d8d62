"""Data ownership: which organisation a data source (and so each row) belongs to.

A row's ``source`` (a file path, ``tcp://host:port``, ``sim:<scenario>``) is matched against
the patterns of the ``data_sources`` table: an exact pattern wins, then the longest matching
``fnmatch`` glob (``tcp://10.0.0.*``, ``/data/navy/*``; case-sensitive); sources no pattern
matches (and null sources) belong to :data:`LOCAL`, the installation's own organisation.

Data an organisation posts to the service (``POST /api/ingest?source=NAME``) is stored under
:func:`upload_source`, ``api:<organisation>/<NAME>``, and belongs to that organisation
whatever the patterns say: no assignment can credit one organisation's upload to another
(organisation names have no ``/``, so the owner is the text before the first one).

Derived rows (events, alerts) get ``origins``: the organisations whose positions the event is
built from (:func:`event_origins`). The policy applies the most restrictive of them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import polars as pl

from seasight.model.schema import UTC_US
from seasight.sharing.agreements import AgreementError, bump_version, check_org
from seasight.store import Store

if TYPE_CHECKING:
    from seasight.access.caller import Caller

#: The installation's own organisation (the operator): owner of every unassigned source.
LOCAL: Final = "local"

#: The ``data_sources`` table.
DATA_SOURCES: Final[dict[str, pl.DataType]] = {
    "pattern": pl.String(),
    "organisation": pl.String(),
    "created": UTC_US,
}

#: (pattern, organisation) pairs, as :func:`owners` returns them.
Owners = Sequence[tuple[str, str]]

#: Prefix of the sources of data posted to the service (see :func:`upload_source`).
UPLOAD_PREFIX: Final = "api:"


def upload_source(org: str, name: str) -> str:
    """The source of data organisation ``org`` posts under ``name``:
    ``api:<org>/<name>``, owned by ``org`` (see :func:`uploader`)."""
    return f"{UPLOAD_PREFIX}{check_org(org)}/{name}"


def uploader(source: str) -> str | None:
    """The organisation that posted ``source`` (an :func:`upload_source`), else None."""
    if not source.startswith(UPLOAD_PREFIX):
        return None
    org, slash, _ = source[len(UPLOAD_PREFIX):].partition("/")
    if not slash:
        return None  # ``api:<name>`` of older versions: owned as the patterns say
    try:
        return check_org(org)
    except AgreementError:
        return None


def ensure_tables(store: Store) -> None:
    """Create ``data_sources`` (and the sharing counter) if they do not exist."""
    from seasight.sharing.agreements import ensure_tables as _agreements_tables
    _agreements_tables(store)
    store.create_table("data_sources", DATA_SOURCES, key=("pattern",))


def assign_source(store: Store, pattern: str, org: str, *, by: Caller | None = None) -> None:
    """Make the sources matching ``pattern`` (exact text or ``fnmatch`` glob) belong to
    ``org``; assigning a pattern again changes its owner. Takes effect at once.

    Raises:
        AgreementError: empty pattern or bad organisation name.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise AgreementError("pattern: must be a non-empty source or glob")
    check_org(org)
    ensure_tables(store)
    from seasight.access import audit  # not at import: access imports sharing
    before = store.con.execute("SELECT organisation FROM data_sources WHERE pattern = ?",
                               [pattern]).fetchall()
    with audit.change(store, by, "source assign", "sharing",
                      {"pattern": pattern, "organisation": org,
                       "previous_organisation": before[0][0] if before else None}):
        store.con.execute("DELETE FROM data_sources WHERE pattern = ?", [pattern])
        store.con.execute("INSERT INTO data_sources VALUES (?, ?, ?)",
                          [pattern, org, datetime.now(UTC)])
        bump_version(store)


def unassign_source(store: Store, pattern: str, *, by: Caller | None = None) -> bool:
    """Remove ``pattern`` (its sources fall back to :data:`LOCAL`); False if it was unknown
    (and nothing is recorded). Recorded in the audit log as done ``by``."""
    ensure_tables(store)
    from seasight.access import audit  # not at import: access imports sharing
    before = store.con.execute("SELECT organisation FROM data_sources WHERE pattern = ?",
                               [pattern]).fetchall()
    if not before:
        return False
    with audit.change(store, by, "source remove", "sharing",
                      {"pattern": pattern, "previous_organisation": before[0][0]}):
        store.con.execute("DELETE FROM data_sources WHERE pattern = ?", [pattern])
        bump_version(store)
    return True


def list_sources(store: Store) -> pl.DataFrame:
    """The assignments (DATA_SOURCES schema), by pattern."""
    ensure_tables(store)
    if not store.has_table("data_sources"):  # a read-only store without sharing yet
        return pl.DataFrame(schema=DATA_SOURCES)
    return store.query("SELECT * FROM data_sources ORDER BY pattern")


def owners(store: Store) -> list[tuple[str, str]]:
    """The assignments as (pattern, organisation) pairs, for :func:`attach_origin`."""
    return [(p, o) for p, o in list_sources(store).select("pattern", "organisation").rows()]


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def origin_of(source: str | None, owners: Owners) -> str:
    """The organisation owning ``source`` (see the module docstring)."""
    if source is None:
        return LOCAL
    posted_by = uploader(source)
    if posted_by is not None:
        return posted_by
    best: tuple[int, str] | None = None
    best_org = LOCAL
    for pattern, org in owners:
        if pattern == source:
            return org
        if _is_glob(pattern) and fnmatch.fnmatchcase(source, pattern):
            cand = (len(pattern), pattern)
            if best is None or cand > best:
                best = cand
                best_org = org
    return best_org


def attach_origin(frame: pl.DataFrame, owners: Owners) -> pl.DataFrame:
    """``frame`` with an ``origin`` column (String) from its ``source`` column.

    Each distinct source is matched once; rows get their owner by a join, so the cost is one
    pattern match per source, not per row.

    Raises:
        ValueError: ``frame`` has no ``source`` column.
    """
    if "source" not in frame.columns:
        raise ValueError("attach_origin: the frame has no 'source' column")
    sources = frame.get_column("source").cast(pl.String).unique()
    mapping = pl.DataFrame(
        {"_src": sources, "origin": [origin_of(s, owners) for s in sources.to_list()]},
        schema={"_src": pl.String, "origin": pl.String})
    out = frame.drop("origin", strict=False).with_columns(
        pl.col("source").cast(pl.String).alias("_src"))
    return (out.join(mapping, on="_src", how="left", nulls_equal=True, maintain_order="left")
            .drop("_src"))


def event_origins(events: pl.DataFrame, positions: pl.DataFrame) -> pl.DataFrame:
    """``events`` with ``origins`` (List[String], sorted, distinct): the origins of the
    positions of the event's vessel (and ``other_mmsi``'s, for an encounter) during
    [start, end] (``end`` null: the instant ``start``).

    A vessel of the event with no position in the window takes the origin of its position
    nearest in time to the window (an event always derives from some data); a vessel with no
    positions at all counts as :data:`LOCAL`.

    ``positions`` needs ``mmsi``, ``ts`` and ``origin`` (see :func:`attach_origin`).
    Vectorised: one as-of join per (vessel, origin), no loop over events.
    """
    for col in ("mmsi", "start", "end"):
        if col not in events.columns:
            raise ValueError(f"event_origins: events have no {col!r} column")
    for col in ("mmsi", "ts", "origin"):
        if col not in positions.columns:
            raise ValueError(f"event_origins: positions have no {col!r} column")
    ev = events.with_row_index("_ev")
    other = (pl.col("other_mmsi") if "other_mmsi" in ev.columns
             else pl.lit(None, pl.UInt32))
    parties = (ev.select(
        "_ev",
        pl.concat_list(pl.col("mmsi").cast(pl.Int64), other.cast(pl.Int64)).alias("_mmsi"),
        pl.col("start").alias("_lo"),
        pl.coalesce("end", "start").alias("_hi"))
        .explode("_mmsi").drop_nulls("_mmsi").unique(["_ev", "_mmsi"]))
    pos = (positions.select(pl.col("mmsi").cast(pl.Int64).alias("_mmsi"),
                            pl.col("ts").alias("_ts"),
                            pl.col("origin").fill_null(LOCAL).alias("_origin"))
           .drop_nulls(["_mmsi", "_ts"]))
    orgs = pos.select(pl.col("_origin").unique().sort())
    # every (party, origin): is there a position of that origin in the window?
    probe = parties.drop_nulls("_lo").join(orgs, how="cross").sort("_lo")
    found = probe.join_asof(pos.sort("_ts"), left_on="_lo", right_on="_ts",
                            by=["_mmsi", "_origin"], strategy="forward",
                            check_sortedness=False)
    inside = (found.filter(pl.col("_ts").is_not_null() & (pl.col("_ts") <= pl.col("_hi")))
              .select("_ev", "_mmsi", "_origin"))
    # parties with nothing in the window: the nearest position's origin
    missing = parties.join(inside.select("_ev", "_mmsi").unique(), on=["_ev", "_mmsi"],
                           how="anti")
    mid = missing.with_columns(
        pl.when(pl.col("_lo").is_null()).then(pl.col("_hi"))
        .otherwise(pl.col("_lo")).alias("_t")).drop_nulls("_t").sort("_t")
    nearest = (mid.join_asof(pos.sort("_ts"), left_on="_t", right_on="_ts", by="_mmsi",
                             strategy="nearest", check_sortedness=False)
               .select("_ev", "_mmsi", pl.col("_origin").fill_null(LOCAL)))
    untimed = missing.filter(pl.col("_lo").is_null() & pl.col("_hi").is_null()).select(
        "_ev", "_mmsi", pl.lit(LOCAL).alias("_origin"))
    allrows = pl.concat([inside, nearest, untimed], how="vertical_relaxed")
    per_event = allrows.group_by("_ev").agg(
        pl.col("_origin").unique().sort().alias("origins"))
    out = ev.drop("origins", strict=False).join(per_event, on="_ev", how="left",
                                                maintain_order="left")
    return out.with_columns(
        pl.when(pl.col("origins").is_null()).then(pl.lit([LOCAL], pl.List(pl.String)))
        .otherwise(pl.col("origins")).alias("origins")).drop("_ev")


def origins_of(values: Iterable[str | None]) -> list[str]:
    """Distinct organisations of ``values`` (nulls as :data:`LOCAL`), sorted."""
    return sorted({v if v is not None else LOCAL for v in values})


__all__ = [
    "DATA_SOURCES",
    "LOCAL",
    "UPLOAD_PREFIX",
    "Owners",
    "assign_source",
    "attach_origin",
    "ensure_tables",
    "event_origins",
    "list_sources",
    "origin_of",
    "origins_of",
    "owners",
    "unassign_source",
    "upload_source",
    "uploader",
]
