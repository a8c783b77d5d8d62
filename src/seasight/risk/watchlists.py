"""Sanctions and watch lists: loading them from files and keeping them in the store.

Two file layouts are read:

OFAC layout (CSV)
    The US Treasury OFAC SDN vessel extract as shipped in ``seasight/data/watchlists``
    (columns ``ent_num, name, program, call_sign, vessel_type, tonnage, grt, flag, owner, imo,
    mmsi, aliases, remarks``), and OFAC's own headerless ``sdn.csv`` (12 columns; only its
    ``vessel`` rows are kept). Aliases come from the ``aliases`` column (``fka X; aka Y``) and
    from ``a.k.a. 'X'`` / ``f.k.a. 'X'`` in the remarks; an IMO number or MMSI missing from its
    column is taken from the remarks (``Vessel Registration Identification IMO 7937317``,
    ``MMSI 572469210``). Programmes are joined with ``; `` (``IRAN; NPWMD; IFSR``).
Generic layout (CSV or JSON)
    Columns (or JSON keys) ``name`` (required), ``aliases`` (``;``-separated in CSV, a list in
    JSON), ``imo``, ``mmsi``, ``callsign``, ``flag``, ``programme``, ``source``,
    ``listed_date`` (ISO date), ``remarks`` and ``id``/``entry_id``. ``call_sign`` and
    ``program`` are accepted spellings. JSON is a list of entries or an object
    ``{"name": ..., "source": ..., "entries": [...]}``. Unknown columns are an error (a typo
    would otherwise silently drop an identifier).

Each loaded list has a name (``--name``, else the JSON ``name``, else ``ofac_sdn`` for the OFAC
layout, else the file's stem) and a version: the first 12 hex digits of the SHA-256 of its
bytes. Adding a list of a name already stored replaces the previous version, screens every
stored identity against it again and records in ``screening_changes`` the matches that appeared
and disappeared (see :func:`add_watchlist`).

Lists belong to the organisation that loaded them (column ``organisation``; the command line
acts as the installation's own, :data:`~seasight.sharing.LOCAL`): a name is one list per
organisation, so another organisation's list of the same name is a different list, which
adding or removing never touches. Their entries and matches carry the same owner; who may read
them is the sharing policy's decision (data class ``watchlists``). The installation's risk
scores and alert rules use the local organisation's lists (:func:`watchlist_matches` with
``organisations=[LOCAL]``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import polars as pl

from seasight.model.schema import UTC_US, conform, empty
from seasight.risk.screening import MATCHES, ScreeningParams, screen
from seasight.sharing.origins import LOCAL
from seasight.store import Store

#: One row per list entry (a designated vessel). ``entry_id`` is the list's own id (OFAC
#: ``ent_num``) or, in the generic layout without ids, ``IMO<n>`` / ``MMSI<n>`` / ``NAME:<name>``.
WATCHLIST_ENTRIES: Final[dict[str, pl.DataType]] = {
    "list_name": pl.String(),
    "list_version": pl.String(),
    "entry_id": pl.String(),
    "name": pl.String(),
    "aliases": pl.List(pl.String()),
    "imo": pl.UInt32(),
    "mmsi": pl.UInt32(),
    "callsign": pl.String(),
    "flag": pl.String(),  # as the list writes it (OFAC: country names)
    "programme": pl.String(),  # e.g. "DPRK", "IRAN; NPWMD; IFSR"
    "source": pl.String(),
    "listed_date": pl.Date(),
    "remarks": pl.String(),
}

#: The column naming the organisation a list (and its entries, matches and changes) belongs to.
OWNER: Final = "organisation"

#: Stored entries as :func:`watchlist_entries` returns them: with their list's owner.
OWNED_ENTRIES: Final[dict[str, pl.DataType]] = {**WATCHLIST_ENTRIES, OWNER: pl.String()}

#: How entries are kept in the store: the store has no list or date columns, so ``aliases`` is
#: a JSON array and ``listed_date`` midnight UTC of the date.
_STORED_ENTRIES: Final[dict[str, pl.DataType]] = {
    **OWNED_ENTRIES, "aliases": pl.String(), "listed_date": UTC_US,
}

#: Stored matches as :func:`watchlist_matches` returns them: with the owner of the list.
OWNED_MATCHES: Final[dict[str, pl.DataType]] = {**MATCHES, OWNER: pl.String()}

#: One row per stored list.
WATCHLISTS: Final[dict[str, pl.DataType]] = {
    "list_name": pl.String(),
    "list_version": pl.String(),
    "source": pl.String(),  # the file it was loaded from
    "n_entries": pl.UInt32(),
    "loaded_at": UTC_US,
    OWNER: pl.String(),
}

#: Matches that appeared or disappeared when a list was added, replaced or removed, or when
#: the identities were screened again.
SCREENING_CHANGES: Final[dict[str, pl.DataType]] = {
    "changed_at": UTC_US,
    "reason": pl.String(),  # add_watchlist, remove_watchlist, screen
    "list_name": pl.String(),
    "list_version": pl.String(),
    "change": pl.String(),  # added | removed
    "mmsi": pl.UInt32(),
    "entry_id": pl.String(),
    "entry_name": pl.String(),
    "matched_on": pl.String(),
    "vessel_value": pl.String(),
    "list_value": pl.String(),
    "score": pl.Float32(),
    "status": pl.String(),
    OWNER: pl.String(),
}

#: Tables owned by this module (and :mod:`seasight.risk.screening`): name -> (schema, key).
TABLES: Final[dict[str, tuple[dict[str, pl.DataType], tuple[str, ...]]]] = {
    "watchlists": (WATCHLISTS, (OWNER, "list_name")),
    "watchlist_entries": (_STORED_ENTRIES, (OWNER, "list_name", "entry_id")),
    "watchlist_matches": (OWNED_MATCHES, ()),
    "screening_changes": (SCREENING_CHANGES, ()),
}

#: Name of the shipped OFAC list (also the default name of any list in the OFAC layout).
OFAC_NAME: Final = "ofac_sdn"

_OFAC_COLUMNS: Final = ("ent_num", "name", "program", "call_sign", "flag", "imo", "mmsi",
                        "aliases", "remarks")
_OFAC_OPTIONAL: Final = ("vessel_type", "tonnage", "grt", "owner")
#: Columns of OFAC's headerless sdn.csv, by position.
_SDN_COLUMNS: Final = ("ent_num", "name", "sdn_type", "program", "title", "call_sign",
                       "vessel_type", "tonnage", "grt", "flag", "owner", "remarks")

_GENERIC_COLUMNS: Final = ("id", "entry_id", "name", "aliases", "imo", "mmsi", "callsign",
                           "call_sign", "flag", "programme", "program", "source",
                           "listed_date", "remarks")
_SPELLINGS: Final = {"call_sign": "callsign", "program": "programme", "id": "entry_id"}

_IMO_REMARK = re.compile(r"Vessel Registration Identification\s+(?:IMO\s+)?(\d{1,7})\b")
_MMSI_REMARK = re.compile(r"\bMMSI\s+(\d{9})\b")
_AKA_REMARK = re.compile(r"\b[af]\.k\.a\.,?\s*'([^']+)'", re.IGNORECASE)
_AKA_PREFIX = re.compile(r"^(?:[af]\.?k\.?a\.?)\s+", re.IGNORECASE)
_NUMBER = re.compile(r"^(?:IMO|MMSI)?\s*[:#]?\s*(\d+)$", re.IGNORECASE)
_NULLS: Final = frozenset({"", "-0-", "none identified", "null", "none", "n/a"})


@dataclass(frozen=True)
class Watchlist:
    """A loaded list: its name, version (short SHA-256 of the file), source and entries
    (a :data:`WATCHLIST_ENTRIES` frame)."""

    name: str
    version: str
    source: str
    entries: pl.DataFrame

    def __len__(self) -> int:
        return self.entries.height


@dataclass(frozen=True)
class ScreeningChange:
    """What adding (or removing) a list changed: its versions, entries and matches.

    ``added`` and ``removed`` are :data:`MATCHES` frames of the vessel-to-entry links that
    appeared and disappeared (a link is mmsi, entry, what matched and the two values).
    """

    list_name: str
    version: str | None
    previous_version: str | None
    n_entries: int
    entries_added: int
    entries_removed: int
    n_matches: int
    added: pl.DataFrame
    removed: pl.DataFrame

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary, with the changed matches."""
        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return [
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
                for r in frame.to_dicts()
            ]
        return {
            "list_name": self.list_name, "version": self.version,
            "previous_version": self.previous_version, "entries": self.n_entries,
            "entries_added": self.entries_added, "entries_removed": self.entries_removed,
            "matches": self.n_matches, "matches_added": rows(self.added),
            "matches_removed": rows(self.removed),
        }


# --------------------------------------------------------------------------- loading


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return None if text.lower() in _NULLS else text


def _number(value: Any, what: str, where: str, digits: int) -> int | None:
    """An IMO number or MMSI from a cell (``"IMO 7937317"``, ``7937317``); None when empty."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _clean(value)
        if text is None:
            return None
        found = _NUMBER.match(text)
        if found is None:
            raise ValueError(f"{where}: {what} {text!r} is not a number")
        number = int(found.group(1))
    if not 0 < number < 10**digits:
        raise ValueError(f"{where}: {what} {number} has more than {digits} digits")
    return number


def _split_aliases(value: Any, name: str | None) -> list[str]:
    """Aliases from a list or a ``;``-separated string, ``fka``/``aka`` prefixes dropped."""
    items = value if isinstance(value, list) else str(value or "").split(";")
    out: list[str] = []
    for item in items:
        text = _clean(item)
        if text is None:
            continue
        text = _AKA_PREFIX.sub("", text).strip(" '\"")
        if text and text != name and text not in out:
            out.append(text)
    return out


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _ofac_entries(rows: list[dict[str, str]], where: str) -> list[dict[str, Any]]:
    entries = []
    for n, row in enumerate(rows, start=2):
        name = _clean(row.get("name"))
        if name is None:
            raise ValueError(f"{where} line {n}: entry without a name")
        remarks = _clean(row.get("remarks"))
        aliases = _split_aliases(row.get("aliases"), name)
        for alias in _AKA_REMARK.findall(remarks or ""):
            aliases += [a for a in _split_aliases([alias], name) if a not in aliases]
        imo = _number(row.get("imo"), "IMO", f"{where} line {n}", 7)
        if imo is None and remarks and (found := _IMO_REMARK.search(remarks)):
            imo = int(found.group(1))
        mmsi = _number(row.get("mmsi"), "MMSI", f"{where} line {n}", 9)
        if mmsi is None and remarks and (found := _MMSI_REMARK.search(remarks)):
            mmsi = int(found.group(1))
        program = _clean(row.get("program"))
        entries.append({
            "entry_id": _clean(row.get("ent_num")) or f"line{n}", "name": name,
            "aliases": aliases, "imo": imo, "mmsi": mmsi,
            "callsign": _clean(row.get("call_sign")), "flag": _clean(row.get("flag")),
            "programme": program.strip("[] ").replace("] [", "; ") if program else None,
            "source": "OFAC SDN", "listed_date": None, "remarks": remarks,
        })
    return entries


def _listed_date(value: Any, where: str) -> date | None:
    text = _clean(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValueError(f"{where}: listed_date {text!r} is not an ISO date") from exc


def _generic_entries(rows: list[dict[str, Any]], where: str,
                     default_source: str) -> list[dict[str, Any]]:
    entries = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(rows, start=1):
        if not isinstance(raw, dict):
            raise ValueError(f"{where} entry {n}: expected an object, got {type(raw).__name__}")
        row = {_SPELLINGS.get(k.strip().lower(), k.strip().lower()): v for k, v in raw.items()
               if k is not None}
        unknown = sorted(set(row) - {_SPELLINGS.get(c, c) for c in _GENERIC_COLUMNS})
        if unknown:
            raise ValueError(f"{where} entry {n}: unknown column(s) {', '.join(unknown)}; "
                             f"expected some of {', '.join(_GENERIC_COLUMNS)}")
        at = f"{where} entry {n}"
        name = _clean(row.get("name"))
        if name is None:
            raise ValueError(f"{at}: entry without a name")
        imo = _number(row.get("imo"), "IMO", at, 7)
        mmsi = _number(row.get("mmsi"), "MMSI", at, 9)
        entry_id = _clean(row.get("entry_id")) or (
            f"IMO{imo}" if imo else f"MMSI{mmsi}" if mmsi else f"NAME:{name.upper()}")
        seen[entry_id] = seen.get(entry_id, 0) + 1
        if seen[entry_id] > 1:
            entry_id = f"{entry_id}#{seen[entry_id]}"
        entries.append({
            "entry_id": entry_id, "name": name,
            "aliases": _split_aliases(row.get("aliases"), name), "imo": imo, "mmsi": mmsi,
            "callsign": _clean(row.get("callsign")), "flag": _clean(row.get("flag")),
            "programme": _clean(row.get("programme")),
            "source": _clean(row.get("source")) or default_source,
            "listed_date": _listed_date(row.get("listed_date"), at),
            "remarks": _clean(row.get("remarks")),
        })
    return entries


def _entries_frame(entries: list[dict[str, Any]], name: str, version: str) -> pl.DataFrame:
    schema = {k: v for k, v in WATCHLIST_ENTRIES.items() if k not in ("list_name",
                                                                         "list_version")}
    frame = pl.DataFrame(entries, schema=schema, orient="row") if entries else empty(schema)
    return conform(frame.with_columns(pl.lit(name).alias("list_name"),
                                      pl.lit(version).alias("list_version")),
                   WATCHLIST_ENTRIES)


def _parse_csv(text: str, where: str, source: str) -> tuple[list[dict[str, Any]], bool]:
    """(entries, OFAC layout?) of a CSV file."""
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{where}: empty file")
    header = [c.strip().lower().lstrip("\ufeff") for c in rows[0]]
    if len(header) == len(_SDN_COLUMNS) and header[0].isdigit():
        records = [dict(zip(_SDN_COLUMNS, r, strict=False)) for r in rows]
        vessels = [r for r in records if (r.get("sdn_type") or "").strip().lower() == "vessel"]
        if not vessels:
            raise ValueError(f"{where}: headerless OFAC sdn.csv without vessel rows")
        return _ofac_entries(vessels, where), True
    records = [dict(zip(header, r, strict=False)) for r in rows[1:]]
    if "ent_num" in header:
        missing = [c for c in _OFAC_COLUMNS if c not in header]
        extra = [c for c in header if c not in _OFAC_COLUMNS + _OFAC_OPTIONAL]
        if missing or extra:
            raise ValueError(
                f"{where}: looks like the OFAC layout (ent_num) but "
                + "; ".join(filter(None, [
                    f"lacks column(s) {', '.join(missing)}" if missing else "",
                    f"has unknown column(s) {', '.join(extra)}" if extra else ""]))
                + f"; expected {', '.join(_OFAC_COLUMNS + _OFAC_OPTIONAL)}")
        return _ofac_entries(records, where), True
    if "name" not in header:
        raise ValueError(f"{where}: no 'name' column; a watchlist CSV has the OFAC columns "
                         f"({', '.join(_OFAC_COLUMNS)}) or the generic ones "
                         f"({', '.join(_GENERIC_COLUMNS)}); found {', '.join(header)}")
    return _generic_entries(records, where, source), False


def parse_watchlist(data: bytes, *, fmt: str, name: str | None = None,
                    source: str = "-") -> Watchlist:
    """A list from the bytes of a file: ``fmt`` is ``"csv"`` or ``"json"``."""
    version = _version(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not UTF-8 text ({exc})") from exc
    stem = Path(source).stem if source != "-" else "watchlist"
    if fmt == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: invalid JSON: {exc}") from exc
        if isinstance(doc, dict):
            if not isinstance(doc.get("entries"), list):
                raise ValueError(f"{source}: a JSON watchlist is a list of entries or an "
                                 "object with an 'entries' list")
            list_name = name or _clean(doc.get("name")) or stem
            entries = _generic_entries(doc["entries"], source,
                                       _clean(doc.get("source")) or list_name)
        elif isinstance(doc, list):
            list_name = name or stem
            entries = _generic_entries(doc, source, list_name)
        else:
            raise ValueError(f"{source}: a JSON watchlist is a list of entries or an object "
                             "with an 'entries' list")
    elif fmt == "csv":
        entries, ofac = _parse_csv(text, source, name or stem)
        list_name = name or (OFAC_NAME if ofac else stem)
    else:
        raise ValueError(f"unknown watchlist format {fmt!r} (csv or json)")
    return Watchlist(list_name, version, source, _entries_frame(entries, list_name, version))


def load_watchlist(path: str | Path, name: str | None = None) -> Watchlist:
    """Read a watchlist file (``.json`` is JSON, anything else CSV).

    Raises ValueError, naming the file and the row, for a wrong layout or a bad value.
    """
    path = Path(path)
    fmt = "json" if path.suffix.lower() == ".json" else "csv"
    return parse_watchlist(path.read_bytes(), fmt=fmt, name=name, source=str(path))


def default_watchlists() -> list[Watchlist]:
    """The lists shipped with SeaSight: the OFAC SDN vessels (July 2021), named ``ofac_sdn``."""
    ref = resources.files("seasight") / "data" / "watchlists" / "ofac_sdn_vessels_2021-07.csv"
    return [parse_watchlist(ref.read_bytes(), fmt="csv", name=OFAC_NAME,
                            source="seasight/data/watchlists/ofac_sdn_vessels_2021-07.csv")]


# --------------------------------------------------------------------------- store


def _columns(store: Store, table: str) -> list[str]:
    return [r[0] for r in store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]


def _add_owner(store: Store, table: str) -> None:
    """Give a table of a version without list owners its ``organisation`` column (every list
    stored then was loaded by the operator: :data:`LOCAL`) and its new key."""
    schema, key = TABLES[table]
    old = _columns(store, table)
    if not old or OWNER in old:
        return
    with store.transaction():
        store.con.execute(f"ALTER TABLE {table} RENAME TO {table}_before_owner")
        store.create_table(table, schema, key)
        cols = ", ".join(f'"{c}"' if c in old else (f"'{LOCAL}'" if c == OWNER else "NULL")
                         for c in schema)
        store.con.execute(f"INSERT INTO {table} SELECT {cols} FROM {table}_before_owner")
        store.con.execute(f"DROP TABLE {table}_before_owner")


def create_tables(store: Store) -> bool:
    """Create the watchlist and screening tables if missing (idempotent; tables of a version
    without list owners get them). Returns False on a read-only store, where nothing can be
    created (readers then treat missing tables as empty and lists without an owner as the
    local organisation's)."""
    for table, (schema, key) in TABLES.items():
        if not store.read_only:
            _add_owner(store, table)
        store.create_table(table, schema, key)  # on a read-only store: schema only
    return not store.read_only


def _owned(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows read from a table of a version without list owners: the local organisation's."""
    if OWNER in frame.columns:
        return frame
    return frame.with_columns(pl.lit(LOCAL, pl.String()).alias(OWNER))


def owner_sql(store: Store, table: str, organisations: Sequence[str] | None
              ) -> tuple[str, list[Any]]:
    """A SQL condition (and its parameters) keeping the rows of ``table`` (one of
    :data:`TABLES`) of the lists of ``organisations`` (None: all)."""
    if organisations is None:
        return "TRUE", []
    orgs = list(organisations)
    if not orgs:
        return "FALSE", []
    if OWNER not in _columns(store, table):  # a read-only store of an older version
        return ("TRUE", []) if LOCAL in orgs else ("FALSE", [])
    return f"{OWNER} IN ({', '.join('?' for _ in orgs)})", orgs


def _readable(store: Store, table: str) -> bool:
    """Create the tables if possible; True when ``table`` exists."""
    if create_tables(store):
        return True
    return store.has_table(table)


def _write(store: Store, table: str, frame: pl.DataFrame) -> None:
    """Append rows inside the caller's transaction."""
    rows = conform(frame, TABLES[table][0])
    if rows.height == 0:
        return
    store.con.register("_watchlist_rows", rows.to_arrow())
    try:
        store.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _watchlist_rows")
    finally:
        store.con.unregister("_watchlist_rows")


def _to_stored(entries: pl.DataFrame) -> pl.DataFrame:
    return entries.with_columns(
        pl.Series("aliases", [json.dumps(a or []) for a in entries["aliases"].to_list()],
                  dtype=pl.String()),
        pl.col("listed_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
    )


def _from_stored(rows: pl.DataFrame) -> pl.DataFrame:
    if rows.height == 0:
        return empty(OWNED_ENTRIES)
    return conform(_owned(rows).with_columns(
        pl.Series("aliases", [json.loads(a) if a else [] for a in rows["aliases"].to_list()],
                  dtype=pl.List(pl.String())),
        pl.col("listed_date").dt.date(),
    ), OWNED_ENTRIES)


def watchlist_entries(store: Store, name: str | None = None,
                      organisations: Sequence[str] | None = None) -> pl.DataFrame:
    """Stored entries of every list (or of lists named ``name``), of every organisation (or
    of ``organisations``): an :data:`OWNED_ENTRIES` frame."""
    if not _readable(store, "watchlist_entries"):
        return empty(OWNED_ENTRIES)
    where, params = owner_sql(store, "watchlist_entries", organisations)
    if name is not None:
        where += " AND list_name = ?"
        params.append(name)
    rows = store.query(f"SELECT * FROM watchlist_entries WHERE {where} "
                       "ORDER BY list_name, entry_id", params)
    return _from_stored(rows)


def list_watchlists(store: Store, organisations: Sequence[str] | None = None
                    ) -> pl.DataFrame:
    """The stored lists (:data:`WATCHLISTS` columns) of every organisation (or of
    ``organisations``) with their current number of matches (``n_matches``: vessel-entry
    links; ``n_vessels``: distinct MMSIs), by owner and name."""
    if not (_readable(store, "watchlists") and _readable(store, "watchlist_matches")):
        return empty({**WATCHLISTS, "n_matches": pl.UInt32(), "n_vessels": pl.UInt32()})
    if OWNER not in _columns(store, "watchlists"):  # a read-only store of an older version
        rows = store.query(
            """SELECT w.*, count(m.mmsi)::UINTEGER AS n_matches,
                      count(DISTINCT m.mmsi)::UINTEGER AS n_vessels
               FROM watchlists w LEFT JOIN watchlist_matches m USING (list_name)
               GROUP BY ALL ORDER BY w.list_name""")
        rows = _owned(rows).select(*WATCHLISTS, "n_matches", "n_vessels")
        return rows if organisations is None or LOCAL in organisations else rows.clear()
    where, params = owner_sql(store, "watchlists", organisations)
    return store.query(
        f"""SELECT w.*, count(m.mmsi)::UINTEGER AS n_matches,
                   count(DISTINCT m.mmsi)::UINTEGER AS n_vessels
            FROM (SELECT * FROM watchlists WHERE {where}) w
            LEFT JOIN watchlist_matches m USING ({OWNER}, list_name)
            GROUP BY ALL ORDER BY w.{OWNER}, w.list_name""", params)


_LINK: Final = ("mmsi", OWNER, "list_name", "entry_id", "matched_on", "vessel_value",
                "list_value")


def _diff(old: pl.DataFrame, new: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(added, removed) vessel-entry links between two OWNED_MATCHES frames (periods
    ignored)."""
    old_links = old.unique(list(_LINK), keep="first", maintain_order=True)
    new_links = new.unique(list(_LINK), keep="first", maintain_order=True)
    added = new_links.join(old_links.select(_LINK), on=list(_LINK), how="anti",
                           nulls_equal=True)
    removed = old_links.join(new_links.select(_LINK), on=list(_LINK), how="anti",
                             nulls_equal=True)
    return conform(added, OWNED_MATCHES), conform(removed, OWNED_MATCHES)


def _changes(added: pl.DataFrame, removed: pl.DataFrame, reason: str,
             versions: dict[tuple[str, str], str | None], now: datetime) -> pl.DataFrame:
    parts = [
        frame.with_columns(pl.lit(kind).alias("change"))
        for kind, frame in (("added", added), ("removed", removed)) if frame.height
    ]
    if not parts:
        return empty(SCREENING_CHANGES)
    rows = pl.concat(parts)
    known = pl.DataFrame({OWNER: [o for o, _ in versions], "list_name": [n for _, n in versions],
                          "list_version": list(versions.values())},
                         schema={OWNER: pl.String(), "list_name": pl.String(),
                                 "list_version": pl.String()})
    return conform(rows.drop("list_version", strict=False).join(
        known, on=[OWNER, "list_name"], how="left", maintain_order="left").with_columns(
        pl.lit(now, dtype=UTC_US).alias("changed_at"),
        pl.lit(reason).alias("reason"),
    ), SCREENING_CHANGES)


def _identities(store: Store) -> pl.DataFrame:
    return store.table("identities")


#: :meth:`Store.state` name of what the stored matches were screened from.
SCREENED_FROM: Final = "screening_from"


def _screening_inputs(store: Store) -> str:
    """Digest of what screening reads: the identity periods and the stored lists."""
    return f"{store.digest('identities')}|{store.digest('watchlists')}"


def screening_is_current(store: Store) -> bool:
    """Whether the stored matches were screened from the identities and lists stored now."""
    return store.state(SCREENED_FROM) == _screening_inputs(store)


def ensure_screening(store: Store, params: ScreeningParams | None = None) -> bool:
    """Bring screening up to date: rebuild the identities from the static reports if reports
    came in since (:func:`seasight.analysis.detection.refresh_identities`), then screen every
    identity
    against every list again if the identities or the lists changed since the last screening.
    True when it screened. Every path that adds identities or lists, and everything that
    reads matches to score or alert, calls it, so the order of the commands (list then data,
    or data then list) never changes the matches, the risk or the alerts."""
    from seasight.analysis.detection import refresh_identities  # the analysis stage, left of risk

    refresh_identities(store)
    if screening_is_current(store):
        return False
    if store.state(SCREENED_FROM) is None and not _has_lists(store):
        return False  # never screened and nothing to screen with: matches stay as stored
    rescreen_store(store, params)
    return True


def _has_lists(store: Store) -> bool:
    return store.has_table("watchlists") and bool(
        store.con.execute("SELECT count(*) FROM watchlists").fetchall()[0][0])


def keep_screening_current(store: Store) -> bool:
    """:func:`ensure_screening` when some list is stored (the cheap check after an ingest or
    a pull: without lists there is nothing to match); True when it screened."""
    if not _has_lists(store):
        return False
    return ensure_screening(store)


def add_watchlist(store: Store, watchlist: Watchlist,
                  params: ScreeningParams | None = None, organisation: str = LOCAL
                  ) -> ScreeningChange:
    """Store ``watchlist`` as a list of ``organisation`` (replacing that organisation's
    previous version of the name; another organisation's list of the same name is another
    list and stays as it is), screen every stored identity against it and record the matches
    that appeared or disappeared in ``screening_changes``. All of it commits together."""
    from seasight.analysis.detection import refresh_identities

    create_tables(store)
    refresh_identities(store)
    was_current = screening_is_current(store)
    name = watchlist.name
    this = f"{OWNER} = ? AND list_name = ?"
    key = [organisation, name]
    previous = store.query(f"SELECT list_version FROM watchlists WHERE {this}", key)
    previous_version = previous["list_version"][0] if previous.height else None
    old_ids = set(store.query(f"SELECT entry_id FROM watchlist_entries WHERE {this}",
                              key)["entry_id"].to_list())
    new_ids = set(watchlist.entries["entry_id"].to_list())
    old = store.query(f"SELECT * FROM watchlist_matches WHERE {this}", key)
    entries = watchlist.entries.with_columns(pl.lit(name).alias("list_name"),
                                             pl.lit(watchlist.version).alias("list_version"),
                                             pl.lit(organisation).alias(OWNER))
    new = conform(screen(_identities(store), entries, params or ScreeningParams())
                  .with_columns(pl.lit(organisation, pl.String()).alias(OWNER)), OWNED_MATCHES)
    added, removed = _diff(conform(old, OWNED_MATCHES), new)
    now = datetime.now(UTC)
    with store.transaction():
        for table in ("watchlists", "watchlist_entries", "watchlist_matches"):
            store.con.execute(f"DELETE FROM {table} WHERE {this}", key)
        _write(store, "watchlists", pl.DataFrame({
            "list_name": [name], "list_version": [watchlist.version],
            "source": [watchlist.source], "n_entries": [entries.height], "loaded_at": [now],
            OWNER: [organisation],
        }))
        _write(store, "watchlist_entries", _to_stored(entries))
        _write(store, "watchlist_matches", new)
        _write(store, "screening_changes", _changes(
            added, removed, "add_watchlist", {(organisation, name): watchlist.version}, now))
        if was_current:  # the other lists' matches were current: all of them are now
            store.set_state(SCREENED_FROM, _screening_inputs(store))
    return ScreeningChange(
        list_name=name, version=watchlist.version, previous_version=previous_version,
        n_entries=entries.height, entries_added=len(new_ids - old_ids),
        entries_removed=len(old_ids - new_ids), n_matches=new.height, added=added,
        removed=removed)


def remove_watchlist(store: Store, name: str, organisation: str = LOCAL
                     ) -> ScreeningChange | None:
    """Forget ``organisation``'s list ``name``, its entries and its matches (recorded as
    removed in ``screening_changes``); None when that organisation has no list of that
    name."""
    create_tables(store)
    this = f"{OWNER} = ? AND list_name = ?"
    key = [organisation, name]
    previous = store.query(f"SELECT list_version, n_entries FROM watchlists WHERE {this}", key)
    if previous.height == 0:
        return None
    was_current = screening_is_current(store)
    version = previous["list_version"][0]
    old = conform(store.query(f"SELECT * FROM watchlist_matches WHERE {this}", key),
                  OWNED_MATCHES)
    added, removed = _diff(old, empty(OWNED_MATCHES))
    with store.transaction():
        for table in ("watchlists", "watchlist_entries", "watchlist_matches"):
            store.con.execute(f"DELETE FROM {table} WHERE {this}", key)
        _write(store, "screening_changes", _changes(
            added, removed, "remove_watchlist", {(organisation, name): version},
            datetime.now(UTC)))
        if was_current:
            store.set_state(SCREENED_FROM, _screening_inputs(store))
    return ScreeningChange(
        list_name=name, version=None, previous_version=version, n_entries=0,
        entries_added=0, entries_removed=int(previous["n_entries"][0]), n_matches=0,
        added=added, removed=removed)


def rescreen_store(store: Store, params: ScreeningParams | None = None) -> pl.DataFrame:
    """Screen every stored identity against every stored list (each organisation's lists
    apart: their matches keep their owner), replace ``watchlist_matches`` and record what
    changed (reason ``screen``). Returns the :data:`OWNED_MATCHES` frame."""
    create_tables(store)
    entries = watchlist_entries(store)
    old = conform(store.table("watchlist_matches"), OWNED_MATCHES)
    identities = _identities(store)
    parts = [conform(screen(identities, mine.drop(OWNER), params or ScreeningParams())
                     .with_columns(pl.lit(org, pl.String()).alias(OWNER)), OWNED_MATCHES)
             for (org,), mine in entries.group_by(OWNER, maintain_order=True)]
    new = pl.concat(parts) if parts else empty(OWNED_MATCHES)
    added, removed = _diff(old, new)
    versions = {(o, n): v for o, n, v in store.query(
        f"SELECT {OWNER}, list_name, list_version FROM watchlists").iter_rows()}
    with store.transaction():
        store.con.execute("DELETE FROM watchlist_matches")
        _write(store, "watchlist_matches", new)
        _write(store, "screening_changes",
               _changes(added, removed, "screen", versions, datetime.now(UTC)))
        store.set_state(SCREENED_FROM, _screening_inputs(store))
    return new


def watchlist_matches(store: Store, mmsi: int | None = None,
                      organisations: Sequence[str] | None = None) -> pl.DataFrame:
    """Stored matches (of one vessel, or all) against the lists of every organisation (or of
    ``organisations``: ``[LOCAL]`` for the installation's own designations): an
    :data:`OWNED_MATCHES` frame, empty when the database has none (or no screening tables
    yet)."""
    if not _readable(store, "watchlist_matches"):
        return empty(OWNED_MATCHES)
    where, params = owner_sql(store, "watchlist_matches", organisations)
    if mmsi is not None:
        where += " AND mmsi = ?"
        params.append(mmsi)
    return conform(_owned(store.query(
        f"SELECT * FROM watchlist_matches WHERE {where} "
        "ORDER BY mmsi, valid_from, list_name, entry_id, matched_on", params)), OWNED_MATCHES)


def screening_changes(store: Store, organisations: Sequence[str] | None = None
                      ) -> pl.DataFrame:
    """The recorded changes (of the lists of every organisation, or of ``organisations``),
    oldest first."""
    if not _readable(store, "screening_changes"):
        return empty(SCREENING_CHANGES)
    where, params = owner_sql(store, "screening_changes", organisations)
    return conform(_owned(store.query(
        f"SELECT * FROM screening_changes WHERE {where} ORDER BY changed_at, list_name, "
        "change, mmsi, entry_id", params)), SCREENING_CHANGES)
