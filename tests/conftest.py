"""Shared helpers for the decoder tests: where the reference data lives and how to read it.

The reference data (``shared/data``, see its README) sits beside the repository: ``/work/main``
and ``/work/shared`` here, a fresh clone and ``shared/`` in CI. It is read only, never edited;
every mapping between a reference decoder's conventions and SeaSight's is done in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import settings as hypothesis_settings

from seasight.ais import decode_nmea
from seasight.ais.records import to_records
from seasight.model.batch import DECODED_TABLES, Batch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFORMANCE = SHARED / "conformance"


def shared_path(relative: str) -> Path:
    """Path of a file under ``shared/data``; fails loudly when the data is not there."""
    path = SHARED / relative
    if not path.is_file():
        raise FileNotFoundError(f"reference data missing: {path} (shared/ sits beside the repo)")
    return path


def read_shared_bytes(relative: str) -> bytes:
    return shared_path(relative).read_bytes()


def read_shared_json(relative: str) -> Any:
    return json.loads(shared_path(relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``shared/data`` directory."""
    if not SHARED.is_dir():
        raise FileNotFoundError(f"reference data missing: {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def shared_bytes() -> Callable[[str], bytes]:
    """``shared_bytes("conformance/gpsd/sample.aivdm")`` -> the file's bytes."""
    return read_shared_bytes


@pytest.fixture(scope="session")
def shared_json() -> Callable[[str], Any]:
    """``shared_json("conformance/pyais/pyais_decode_vectors.json")`` -> the parsed JSON."""
    return read_shared_json


# --- NMEA helpers -----------------------------------------------------------------------------


def nmea_checksum(body: str | bytes) -> str:
    """Two-digit hex XOR of ``body`` (the text between ``!``/``$``/``\\`` and ``*``)."""
    data = body.encode() if isinstance(body, str) else body
    return f"{reduce(lambda a, c: a ^ c, data, 0):02X}"


def sentence(body: str) -> str:
    """``!`` + body + ``*`` + its checksum."""
    return f"!{body}*{nmea_checksum(body)}"


def tag_block(fields: str) -> str:
    """An NMEA 4.0 tag block ``\\fields*hh\\`` with a correct checksum."""
    return f"\\{fields}*{nmea_checksum(fields)}\\"


def fix_checksum(line: str) -> str:
    """``line`` with the sentence checksum recomputed (tag block and trailing text kept)."""
    start = line.index("!")
    star = line.index("*", start)
    return line[: star + 1] + nmea_checksum(line[start + 1 : star]) + line[star + 3 :]


def decode_lines(lines: Iterable[str | bytes], *, source: str = "-") -> Batch:
    """Decode lines (joined with newlines) in one go."""
    parts = [ln.encode() if isinstance(ln, str) else ln for ln in lines]
    return decode_nmea(b"".join(p + b"\n" for p in parts), source=source)


def records_of(lines: Iterable[str | bytes]) -> tuple[list[dict[str, Any]], Batch]:
    batch = decode_lines(lines)
    return to_records(batch), batch


def split_lines(data: bytes) -> list[bytes]:
    """The input lines as the decoder counts them: ended by LF, CR LF or a lone CR (universal
    newlines), a last line without its end counts; line ends removed."""
    return data.splitlines()


def _sentence_part(line: bytes) -> bytes:
    """The sentence of a line, after leading blanks and an optional tag block."""
    s = line.lstrip(b" \t")
    if s.startswith(b"\\"):
        close = s.find(b"\\", 1)
        s = s[close + 1 :] if close > 0 else s
    return s


def fragment_count(line: bytes) -> int:
    """Fragment count field of a (decoded) sentence line."""
    return int(_sentence_part(line).split(b",")[1])


def decoded_line_numbers(batch: Batch) -> set[int]:
    """First-fragment line numbers of every decoded message (type 19 counted once)."""
    seen: set[int] = set()
    for name in DECODED_TABLES:
        seen.update(int(n) for n in getattr(batch, name)["line_no"].to_list())
    return seen


def line_accounting(data: bytes, batch: Batch) -> dict[str, int]:
    """How the input lines were used: lines of decoded messages, rejected lines, skipped lines."""
    lines = split_lines(data)
    decoded = sum(fragment_count(lines[n - 1]) for n in decoded_line_numbers(batch))
    return {
        "total": len(lines),
        "decoded": decoded,
        "rejected": batch.rejects.height,
        "skipped": sum(batch.skipped.values()),
    }


def sorted_tables(batch: Batch) -> dict[str, pl.DataFrame]:
    """Every table of ``batch``, rows in a canonical order (by line number, then type)."""
    out = {}
    for name, frame in batch.tables().items():
        keys = ["line_no", "msg_type"] if "msg_type" in frame.columns else ["line_no", "reason"]
        out[name] = frame.sort(keys)
    return out


def record_time(rec: dict[str, Any]) -> datetime | None:
    """A record's ``ts`` (ISO 8601 UTC text) as an aware datetime; None when unknown."""
    ts = rec.get("ts")
    return None if ts is None else datetime.fromisoformat(ts.replace("Z", "+00:00"))


def utc(text: str) -> datetime:
    """``'2008-05-09T00:00:00.010'`` (naive = UTC) or with ``Z`` -> aware datetime."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# Property tests keep no example database in the working directory.
hypothesis_settings.register_profile("seasight", database=None)
hypothesis_settings.load_profile("seasight")


def pyais_as_seasight(field: str, value: Any, msg_type: int) -> Any:
    """pyais' value of ``field`` (pyais names and units) as SeaSight writes it.

    The conventions that differ, in one place: not-available sentinels and out-of-range values
    become None; text ends at the first '@' and is stripped, and empty text is None; a turn rate
    of -128 (not available) is None. Enum members ({'enum', 'value'}) compare by value.
    """
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if value is None:
        return None
    if isinstance(value, str):
        return value.split("@")[0].strip() or None
    if field == "turn":
        return None if value == -128 else float(value)
    if field == "speed":
        if msg_type in (1, 2, 3, 18, 19) and value >= 102.3:
            return None
        if (msg_type == 9 and value == 1023) or (msg_type == 27 and value == 63):
            return None
    limits = {"course": 359 if msg_type == 27 else 359.9, "heading": 359, "lat": 90, "lon": 180,
              "second": 59, "hour": 23, "minute": 59}
    if field in limits:
        return None if abs(value) > limits[field] else value
    if field in ("imo", "draught", "ship_type", "year", "day") and value == 0:
        return None
    if field == "month":
        return None if value == 0 or value > 12 else value
    if field == "alt":
        return None if value == 4095 else value
    return value


def issue_admin_key(db: Path) -> str:
    """An API key of the installation's own organisation with every scope (the service
    requires one on every route but the health check)."""
    from seasight.access import ensure_tables, issue_key
    from seasight.store import Store

    with Store(db) as store:
        ensure_tables(store)
        return issue_key(store, "local", role="admin", scopes=("read", "ingest", "admin"),
                         label="tests").secret


def analysed_demo(sim_folder: Path, db: Path, *, hours: float, vessels: int,
                  seed: int = 7) -> None:
    """What ``seasight demo --no-serve`` builds, small: a simulation written to
    ``sim_folder``, its feed ingested into ``db``, detection with its zones, the shipped OFAC
    list, risk and the default alert rules."""
    from seasight.analysis.detection import detect_store
    from seasight.geo.zones import load_zones
    from seasight.ingest import ingest_paths
    from seasight.risk.alerts import default_rules, fire_alerts
    from seasight.risk.score import risk_store
    from seasight.risk.watchlists import add_watchlist, default_watchlists
    from seasight.sim import simulate, write_simulation
    from seasight.store import Store

    write_simulation(simulate("indo-pacific", hours=hours, vessels=vessels, seed=seed),
                     sim_folder)
    ingest_paths([sim_folder / "feed.nmea"], db)
    with Store(db) as store:
        detect_store(store, load_zones([sim_folder / "zones.geojson"]))
        add_watchlist(store, default_watchlists()[0])
        risk_store(store)
        fire_alerts(store, default_rules())

