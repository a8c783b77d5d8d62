"""A store holding three organisations' data, for the sharing and security tests
(``tests/test_api_sharing.py``, ``tests/test_security.py``).

A simulated feed is split by receiving station into files for ``navy``, ``coastguard`` and
``local``; :func:`stock_store` ingests them, assigns each file to its organisation, and runs
detection, screening, risk and the alert rules, so that every read path has something to show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from conftest import nmea_checksum
from seasight.access import create_organisation, ensure_tables
from seasight.analysis.detection import detect_store
from seasight.geo.zones import load_zones
from seasight.ingest.pipeline import ingest_paths
from seasight.risk.alerts import default_rules, fire_alerts
from seasight.risk.score import risk_store
from seasight.risk.watchlists import add_watchlist, default_watchlists
from seasight.sharing import assign_source
from seasight.store import Store


def split_feed(feed: Path, out: Path) -> dict[str, Path]:
    """The feed's lines by receiving station: satellites to navy, half of the shore
    stations to coastguard, the rest local (fragments of a message share a station)."""
    parts: dict[str, list[bytes]] = {"navy": [], "coastguard": [], "local": []}
    for line in feed.read_bytes().splitlines(keepends=True):
        station = line.split(b"s:", 1)[1].split(b",", 1)[0] if b"s:" in line else b""
        if station.startswith(b"sat"):
            parts["navy"].append(line)
        elif sum(station) % 2:
            parts["coastguard"].append(line)
        else:
            parts["local"].append(line)
    paths = {}
    for org, lines in parts.items():
        paths[org] = out / f"{org}.nmea"
        paths[org].write_bytes(b"".join(lines))
    return paths


def stock_store(store: Store, files: Iterable[Path], owner_of: Mapping[str, str],
                zones: Path, organisations: Iterable[str]) -> None:
    """Ingest ``files``, assign sources (pattern -> organisation), detect (with the zones
    file), screen against the default watchlist, score, fire the default alert rules, and
    create the ``organisations``."""
    ingest_paths(list(files), store=store)
    for pattern, org in owner_of.items():
        assign_source(store, pattern, org)
    detect_store(store, load_zones([zones]))
    add_watchlist(store, default_watchlists()[0])
    risk_store(store)
    fire_alerts(store, default_rules())
    ensure_tables(store)
    for org in organisations:
        create_organisation(store, org)


def retime(lines: list[bytes], t0: int) -> list[bytes]:
    """Sentences with their tag block time set to ``t0`` (unix seconds): new reports of the
    same vessels, which the store does not deduplicate away."""
    out = []
    for line in lines:
        if not line.startswith(b"\\"):
            continue
        tag, rest = line[1:].split(b"\\", 1)
        fields = [f for f in tag.split(b"*")[0].split(b",") if not f.startswith(b"c:")]
        body = b",".join([*fields, f"c:{t0}".encode()]).decode()
        out.append(f"\\{body}*{nmea_checksum(body)}\\".encode() + rest)
    return out
