"""The audit anchor: the last sequence number and hash of the audit log, kept outside the
database and authenticated with an installation key.

The hash chain of :mod:`seasight.access.audit` shows that no row was changed *relative to the
rows around it*; someone who can write the database file while the service is stopped can
still cut rows off the end (and move ``audit_head`` back), re-chain every row after rewriting
one, empty the log or drop its tables, and the chain alone looks intact. The anchor closes
that gap: after every append the head ``(seq, hash)`` is written to a small JSON file outside
the database (atomically: a temporary file, fsync, rename) with an HMAC-SHA256 under a key
that is not in the database. Verification then requires that the row the anchor names is in
the log with that hash: rows cut, emptied or re-chained up to the anchor no longer match.

Where: ``<database>.audit-anchor`` and ``<database>.audit-key`` beside the database, or
``$SEASIGHT_AUDIT_ANCHOR_DIR/<database name>.audit-anchor`` and the key file
``$SEASIGHT_AUDIT_KEY`` (put them where the database's writer cannot rewrite them, e.g. another
file system or owner). The key is created (32 random bytes, mode 0600) with the first anchor.

An anchor is only ever moved *forward along the chain*: :func:`advance` refuses to replace an
anchor whose row is not in the log with its hash (the log was tampered with: the old anchor
is the evidence and stays), or whose MAC does not match. A missing anchor is created only for
a log that starts at this append (seq 1); otherwise the operator re-anchors explicitly after
checking the log (``seasight access audit anchor --reset``, itself recorded).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

logger = logging.getLogger(__name__)

#: The ``format`` of an anchor file.
FORMAT: Final = "seasight-audit-anchor/1"
#: Folder for anchor files instead of beside the database.
ANCHOR_DIR_ENV: Final = "SEASIGHT_AUDIT_ANCHOR_DIR"
#: Path of the anchor key instead of ``<database>.audit-key``.
KEY_ENV: Final = "SEASIGHT_AUDIT_KEY"

_LOCK: Final = threading.Lock()


class AnchorError(ValueError):
    """An anchor file or key that cannot be used (malformed, forged, missing key)."""


@dataclass(frozen=True)
class Anchor:
    """The audit log's head as anchored: row ``seq`` had ``hash`` at ``written_at``."""

    seq: int
    hash: str
    written_at: str

    def to_json(self, key: bytes) -> dict[str, Any]:
        """The file's content, with its MAC under ``key``."""
        return {"format": FORMAT, "seq": self.seq, "hash": self.hash,
                "written_at": self.written_at, "mac": mac(key, self)}


def in_memory(db: Path) -> bool:
    """True for a DuckDB in-memory database (nothing outside it to anchor to)."""
    return str(db) in (":memory:", "") or str(db).startswith(":memory:")


def anchor_path(db: Path) -> Path:
    """Where the anchor of database ``db`` is kept."""
    folder = os.environ.get(ANCHOR_DIR_ENV)
    if folder:
        return Path(folder) / f"{Path(db).name}.audit-anchor"
    return Path(f"{db}.audit-anchor")


def key_path(db: Path) -> Path:
    """Where the anchor key of database ``db`` is kept."""
    given = os.environ.get(KEY_ENV)
    return Path(given) if given else Path(f"{db}.audit-key")


def mac(key: bytes, anchor: Anchor) -> str:
    """HMAC-SHA256 (hex) of an anchor's content."""
    content = json.dumps([FORMAT, anchor.seq, anchor.hash, anchor.written_at],
                         separators=(",", ":"))
    return hmac.new(key, content.encode("utf-8"), hashlib.sha256).hexdigest()


def read_key(path: Path) -> bytes | None:
    """The key in ``path`` (hex text), or None when there is no such file."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AnchorError(f"anchor key {path} is not hex") from None
    if len(key) < 16:
        raise AnchorError(f"anchor key {path} is too short")
    return key


def _create_key(path: Path) -> bytes:
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def parse(doc: object, key: bytes | None) -> Anchor:
    """An anchor from its JSON document, its MAC checked when ``key`` is given."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise AnchorError(f"not an audit anchor (expected format {FORMAT!r})")
    seq, digest, written, tag = (doc.get("seq"), doc.get("hash"), doc.get("written_at"),
                                 doc.get("mac"))
    if (isinstance(seq, bool) or not isinstance(seq, int) or seq < 1
            or not isinstance(digest, str) or len(digest) != 64
            or not isinstance(written, str) or not isinstance(tag, str)):
        raise AnchorError("malformed audit anchor (seq, hash, written_at, mac)")
    anchor = Anchor(seq, digest, written)
    if key is not None and not hmac.compare_digest(tag, mac(key, anchor)):
        raise AnchorError("the anchor's MAC does not match the installation key: the anchor "
                          "was forged or belongs to another installation")
    return anchor


def load(path: Path, key: bytes | None) -> Anchor | None:
    """The anchor in ``path`` (MAC checked when ``key`` is given), None if there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise AnchorError(f"audit anchor {path} is not JSON") from None
    return parse(doc, key)


def write(path: Path, anchor: Anchor, key: bytes) -> None:
    """Replace the anchor file atomically (temporary file, fsync, rename, fsync folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(anchor.to_json(key), f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every platform lets a folder be fsynced
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def now_text() -> str:
    """The current time as anchors record it (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def advance(db: Path, seq: int, digest: str, hash_at: Any) -> bool:
    """Move the anchor of ``db`` to row ``seq`` with ``digest`` (just committed).

    ``hash_at(n)`` is the stored hash of row ``n`` (None if there is none): the current anchor
    is replaced only when its row is still in the log with its hash, so a log tampered with
    while the service was stopped keeps its old anchor as evidence. An anchor already at or
    past ``seq`` (another thread was faster) is kept. Returns whether the anchor now names
    ``seq``; a refusal is logged, never raised (the row itself is recorded).
    """
    if in_memory(db):
        return False
    path, kpath = anchor_path(db), key_path(db)
    with _LOCK:
        try:
            key = read_key(kpath)
            current = load(path, key) if key is not None else (
                load(path, None) if path.exists() else None)
        except (AnchorError, OSError) as exc:
            logger.error("audit anchor %s not advanced: %s", path, exc)
            return False
        if current is None:
            if seq != 1:
                logger.error("audit anchor %s missing while the log holds %d rows: not "
                             "created (check the log, then 'seasight access audit anchor "
                             "--reset')", path, seq)
                return False
        else:
            if key is None:
                logger.error("audit anchor %s not advanced: its key %s is missing", path,
                             kpath)
                return False
            if current.seq >= seq:
                return current.seq == seq and current.hash == digest
            if hash_at(current.seq) != current.hash:
                logger.error("audit anchor %s not advanced: row %d no longer has the anchored "
                             "hash (the log was altered); 'seasight access audit verify'",
                             path, current.seq)
                return False
        try:
            if key is None:
                key = _create_key(kpath)
            write(path, Anchor(seq, digest, now_text()), key)
        except OSError as exc:
            logger.error("audit anchor %s not written: %s", path, exc)
            return False
    return True


def reset(db: Path, seq: int, digest: str) -> Anchor:
    """Anchor ``db`` at row ``seq`` with ``digest`` whatever the current anchor says (the
    operator checked the log); creates the key if there is none. Raises :class:`OSError`."""
    path, kpath = anchor_path(db), key_path(db)
    with _LOCK:
        key = read_key(kpath) or _create_key(kpath)
        anchor = Anchor(seq, digest, now_text())
        write(path, anchor, key)
    return anchor


__all__ = [
    "ANCHOR_DIR_ENV",
    "FORMAT",
    "KEY_ENV",
    "Anchor",
    "AnchorError",
    "advance",
    "anchor_path",
    "in_memory",
    "key_path",
    "load",
    "mac",
    "parse",
    "read_key",
    "reset",
    "write",
]
