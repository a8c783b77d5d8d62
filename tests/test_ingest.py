"""Ingest into the store: deduplication, re-ingest, resume after kill -9, memory of sources."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
import textwrap
import time
from functools import reduce
from pathlib import Path

import polars as pl
import pytest

from seasight.ais import NmeaDecoder, decode_nmea
from seasight.ais.decoder import MAX_REJECT_BYTES
from seasight.ingest.pipeline import ingest_paths
from seasight.model.schema import TABLES
from seasight.store import Store
from seasight.store.dedup import drop_duplicates

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_FILES = [
    SHARED / "conformance/pyais/nmea_data_sample.txt",
    SHARED / "conformance/gpsd/sample.aivdm",
    SHARED / "conformance/libais/tagblock.nmea",
]


def _tag(body: bytes, station: str, t: int) -> bytes:
    tb = f"s:{station},c:{t}".encode()
    cs = reduce(lambda a, c: a ^ c, tb, 0)
    return b"\\" + tb + b"*%02X\\" % cs + body


def _real_sentences() -> list[bytes]:
    """The AIS sentences (no comments or other lines) of the first two real capture files."""
    return [ln for f in REAL_FILES[:2] for ln in f.read_bytes().splitlines()
            if ln.startswith(b"!")]


def feed_with_duplicates(n_rounds: int) -> bytes:
    """Real sentences, each round at a later time, every line heard by two stations one second
    apart (duplicate receptions), plus the real files' own bad lines."""
    lines = _real_sentences()
    out = []
    t0 = 1_700_000_000
    for r in range(n_rounds):
        for i, ln in enumerate(lines):
            t = t0 + r * 3600 + i
            out.append(_tag(ln, "rxA", t))
            out.append(_tag(ln, "rxB", t + 1))
    return b"\n".join(out) + b"\n"


def feed_out_of_order(n_rounds: int) -> bytes:
    """Like :func:`feed_with_duplicates`, but the receptions of a transmission do not come in
    time order: for most sentences the line of station rxB comes first and the later line of
    rxA carries the earlier time (rxA's clock, or its link, is behind); for every third both
    stations give the same time, rxB first. Either way rxA's reception is the one to keep
    (earliest time, then station name), and chunk boundaries fall between the two lines."""
    lines = _real_sentences()
    out = []
    t0 = 1_700_000_000
    for r in range(n_rounds):
        for i, ln in enumerate(lines):
            t = t0 + r * 3600 + i
            if i % 3 == 0:
                out += [_tag(ln, "rxB", t), _tag(ln, "rxA", t)]
            elif i % 3 == 1:
                out += [_tag(ln, "rxB", t + 2), _tag(ln, "rxA", t)]
            else:
                out += [_tag(ln, "rxA", t), _tag(ln, "rxB", t + 1)]
    return b"\n".join(out) + b"\n"


def table_rows(db: Path) -> dict[str, pl.DataFrame]:
    with Store(db, read_only=True) as store:
        return {name: store.table(name).sort(pl.all()) for name in TABLES}


def test_duplicate_receptions_stored_once(tmp_path: Path) -> None:
    feed = tmp_path / "feed.nmea"
    feed.write_bytes(feed_with_duplicates(2))
    report = ingest_paths([feed], tmp_path / "db.duckdb")
    decoded = decode_nmea(feed.read_bytes())
    for name in ("positions", "static", "base_stations", "other_messages"):
        frame = getattr(decoded, name)
        # every message was heard twice: at least half of the rows are duplicates
        assert report.added[name] * 2 <= frame.height, name
        assert report.added[name] == drop_duplicates(frame).height, name
        # a payload that occurs once per round is stored once per round
        rx_a = frame.filter(pl.col("station") == "rxA")
        single = rx_a.group_by("msg_hash").len().filter(pl.col("len") == 2)["msg_hash"]
        with Store(tmp_path / "db.duckdb", read_only=True) as store:
            stored = store.table(name)
        assert stored.filter(pl.col("msg_hash").is_in(single.implode())).height == len(single) * 2
        # no two stored rows are the same transmission (same hash within 30 s)
        gaps = stored.sort("msg_hash", "ts").select(
            same=pl.col("msg_hash") == pl.col("msg_hash").shift(),
            dt=(pl.col("ts") - pl.col("ts").shift()).dt.total_seconds(),
        ).filter("same")
        assert (gaps["dt"] > 30).all(), name
        assert set(stored["station"]) == {"rxA"}  # the earliest reception is the one kept


def test_reingest_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    files = [*REAL_FILES, SHARED / "tracks/solent_ais_20160112.csv"]
    first = ingest_paths(files, db)
    before = table_rows(db)
    again = ingest_paths(files, db)
    assert again.already_ingested == [str(f.resolve()) for f in files]
    forced = ingest_paths(files, db, force=True)
    assert sum(forced.added.values()) == 0
    assert forced.n_messages == first.n_messages
    after = table_rows(db)
    for name in TABLES:
        assert after[name].equals(before[name]), name
    # the same data under another file name is also recognised as already stored
    copy = tmp_path / "copy.nmea.gz"
    copy.write_bytes(gzip.compress(REAL_FILES[0].read_bytes()))
    third = ingest_paths([copy], db)
    assert third.added.get("positions", 0) == 0
    # rejects are kept per source: the copy's bad lines are recorded under its own name
    own_rejects = decode_nmea(REAL_FILES[0].read_bytes()).rejects.height
    assert third.added["rejects"] == third.n_rejects == own_rejects


@pytest.mark.parametrize("make_feed", [feed_with_duplicates, feed_out_of_order])
def test_chunk_size_does_not_change_result(tmp_path: Path, make_feed) -> None:  # type: ignore[no-untyped-def]
    """Which reception of a transmission is kept must not depend on where chunks and commits
    fall: here (second feed) a later line often carries an earlier time than the one before."""
    feed = tmp_path / "feed.nmea"
    feed.write_bytes(make_feed(3))
    ingest_paths([feed], tmp_path / "whole.duckdb")
    for chunk in (4096, 1000):
        db = tmp_path / f"chunked{chunk}.duckdb"
        report = ingest_paths([feed], db, chunk_bytes=chunk, commit_rows=1)
        whole, chunked = table_rows(tmp_path / "whole.duckdb"), table_rows(db)
        for name in TABLES:
            assert chunked[name].equals(whole[name]), name
        if make_feed is feed_out_of_order:
            assert report.replaced["positions"] > 0  # rxB's rows were stored, then replaced
    decoded = decode_nmea(feed.read_bytes())
    key = ["msg_hash", "ts", "station", "line_no"]
    for name in ("positions", "static", "base_stations", "other_messages"):
        # the pure rule on all rows at once keeps the same rows: rxA's, the earliest
        kept = drop_duplicates(getattr(decoded, name)).select(key).sort(key)
        assert whole[name].select(key).sort(key).equals(kept), name
        assert set(whole[name]["station"]) == {"rxA"}, name


def test_appending_batches_keeps_what_deduplicating_at_once_keeps(tmp_path: Path) -> None:
    """Store.append, one small batch at a time, must replace a stored reception by an earlier
    one that arrives later, and end with the rows of drop_duplicates on the whole feed."""
    data = feed_out_of_order(2)
    decoder = NmeaDecoder("feed")
    with Store(tmp_path / "db.duckdb") as store:
        for i in range(0, len(data), 1500):
            store.append(decoder.feed(data[i:i + 1500]))
        store.append(decoder.finish())
        got = store.table("positions").select(key := ["msg_hash", "ts", "station", "line_no"])
    want = drop_duplicates(decode_nmea(data, source="feed").positions).select(key)
    assert got.sort(key).equals(want.sort(key))
    assert set(got["station"]) == {"rxA"}


@pytest.mark.parametrize("commit_rows", [1, 40, 10_000_000])
def test_bulk_ingest_drops_the_same_repeats_as_append(tmp_path: Path, commit_rows: int) -> None:
    """Bulk ingest finds repeats in its decoding thread (committed rows through a cursor,
    uncommitted ones from memory); whatever the commit interval, it must keep exactly the rows
    that appending the same batches one by one keeps. Here the first round's receptions by
    one station are in the database before the file is ingested, and the second round's
    pairs of receptions are cut apart by chunk boundaries."""
    lines = feed_with_duplicates(2).splitlines(keepends=True)
    stored, feed = tmp_path / "stored.nmea", tmp_path / "feed.nmea"
    stored.write_bytes(b"".join(lines[: len(lines) // 2 : 2]))  # round 1, station rxA
    feed.write_bytes(b"".join(lines))
    db, reference = tmp_path / "bulk.duckdb", tmp_path / "reference.duckdb"
    ingest_paths([stored], db)
    ingest_paths([feed], db, chunk_bytes=2048, commit_rows=commit_rows)
    with Store(reference) as store:
        for path in (stored, feed):
            decoder = NmeaDecoder(str(path.resolve()))
            for i in range(0, len(data := path.read_bytes()), 2048):
                store.append(decoder.feed(data[i:i + 2048]))
            store.append(decoder.finish())
    got, want = table_rows(db), table_rows(reference)
    for name in ("positions", "static", "base_stations", "aids_to_navigation",
                 "other_messages"):
        assert got[name].equals(want[name]), name
        assert set(got[name]["station"].drop_nulls()) <= {"rxA"}, name


def test_bad_lines_kept_and_good_lines_survive(tmp_path: Path) -> None:
    good = REAL_FILES[0].read_bytes().splitlines()
    noisy = []
    for i, ln in enumerate(good):
        noisy.append(ln)
        if i % 50 == 0:
            noisy += [b"\xff\xfe garbage \x00", ln[: len(ln) // 2], ln.replace(b"*", b"*F"),
                      b"x" * 5000]
    feed = tmp_path / "noisy.nmea"
    feed.write_bytes(b"\n".join(noisy) + b"\n")
    report = ingest_paths([feed], tmp_path / "db.duckdb")
    clean = decode_nmea(REAL_FILES[0].read_bytes())
    assert report.messages == clean.messages_by_type()
    with Store(tmp_path / "db.duckdb", read_only=True) as store:
        rejects = store.table("rejects")
    assert set(rejects["reason"]) >= {"bad_character", "oversize_line", "malformed_sentence"}
    raw = set(rejects["raw"].to_list())
    # a reject keeps the first MAX_REJECT_BYTES of its line
    assert b"x" * MAX_REJECT_BYTES in raw and b"\xff\xfe garbage \x00" in raw
    assert rejects.height == report.n_rejects


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from seasight.ingest.pipeline import ingest_paths
    from seasight.store import Appender, Store

    feed, db, chunk, kill_at, where = sys.argv[1:6]
    commits = 0
    commit = Appender.commit
    rejects = Store._append_rejects

    def counting_commit(self, *args, **kwargs):
        global commits
        commit(self, *args, **kwargs)
        commits += 1
        if where == "between" and commits == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)  # just after a commit

    def dying_rejects(self, *args, **kwargs):
        if where == "inside" and commits + 1 == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)  # rows inserted, transaction not committed
        return rejects(self, *args, **kwargs)

    Appender.commit = counting_commit
    Store._append_rejects = dying_rejects
    ingest_paths([Path(feed)], Path(db), chunk_bytes=int(chunk), commit_rows=1)
    """
)


@pytest.mark.slow
def test_kill_9_and_rerun_gives_exactly_the_uninterrupted_rows(tmp_path: Path) -> None:
    feed = tmp_path / "feed.nmea"
    feed.write_bytes(feed_out_of_order(4))  # later lines with earlier times, across chunks
    chunk = 16 * 1024
    script = tmp_path / "ingest_script.py"
    script.write_text(KILL_SCRIPT)
    reference = tmp_path / "reference.duckdb"
    ingest_paths([feed], reference)  # one go, default chunking

    db = tmp_path / "killed.duckdb"  # a commit per 16 KiB chunk, killed again and again
    offsets = []
    # kill -9 inside a transaction and between transactions, at several points of the file
    for kill_at, where in [(3, "inside"), (5, "between"), (1, "inside"), (9, "inside"),
                           (4, "between"), (7, "inside")]:
        proc = subprocess.run([sys.executable, str(script), str(feed), str(db), str(chunk),
                               str(kill_at), where])
        assert proc.returncode == -signal.SIGKILL
        with Store(db, read_only=True) as store:
            cp = store.checkpoint(str(feed.resolve()))
        assert cp is not None and not cp.completed
        offsets.append(cp.offset)
    assert offsets == sorted(offsets) and offsets[0] > 0
    # one more kill at an arbitrary moment, from outside
    proc2 = subprocess.Popen([sys.executable, str(script), str(feed), str(db), str(chunk), "0",
                              "never"])
    time.sleep(2.0)
    proc2.kill()
    proc2.wait()
    subprocess.run([sys.executable, str(script), str(feed), str(db), str(chunk), "0", "never"],
                   check=True)
    got, want = table_rows(db), table_rows(reference)
    for name in TABLES:
        assert got[name].height == want[name].height, name
        assert got[name].equals(want[name]), name


def test_live_ingest_commits_while_the_feed_is_quiet(tmp_path: Path) -> None:
    """A quiet feed must not hold decoded rows back: they are committed within the flush
    interval even though no further data arrives."""
    import threading

    from seasight.ingest.pipeline import ingest_live
    from seasight.sources.live import LiveChunk

    release = threading.Event()
    line = REAL_FILES[0].read_bytes().splitlines()[1] + b"\n"

    def feed():  # one line, then silence until the test has looked
        yield LiveChunk(line, 1_700_000_000_000_000, "tcp://test:1")
        release.wait(10)

    seen: list[int] = []
    with Store(tmp_path / "live.duckdb") as store:
        worker = threading.Thread(
            target=lambda: ingest_live(feed(), store, flush_every_s=0.2,
                                       on_flush=lambda r: seen.append(r.n_messages)))
        worker.start()
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()
        worker.join(10)
    assert seen and seen[0] == 1


def test_damaged_gz_files_keep_their_readable_lines_and_the_directory_goes_on(
        tmp_path: Path) -> None:
    """A truncated .gz yields every line before the cut and one truncated_compressed_file
    reject; a fake .gz (not gzip) and a corrupt one are one corrupt_compressed_file reject
    each; the other files of the directory are ingested all the same."""
    data = REAL_FILES[0].read_bytes()
    packed = gzip.compress(data)
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "a_cut.nmea.gz").write_bytes(packed[: len(packed) * 2 // 3])
    (folder / "b_fake.nmea.gz").write_bytes(data[:4000])
    corrupt = bytearray(packed)
    corrupt[20:40] = b"\xff" * 20  # deflate data destroyed near the start
    (folder / "c_corrupt.nmea.gz").write_bytes(bytes(corrupt))
    (folder / "d_good.nmea").write_bytes(data)
    db = tmp_path / "db.duckdb"
    report = ingest_paths([folder], db)
    assert report.rejects["truncated_compressed_file"] == 1
    assert report.rejects["corrupt_compressed_file"] == 2
    assert len(report.sources) == 4
    with Store(db, read_only=True) as store:
        rejects = store.table("rejects")
        positions = store.table("positions")
    cut = rejects.filter(pl.col("reason") == "truncated_compressed_file").row(0, named=True)
    assert cut["source"].endswith("a_cut.nmea.gz")
    # every whole line before the cut was read: the cut line is the one after them
    with gzip.open(folder / "a_cut.nmea.gz") as fh:
        readable = b""
        try:
            while piece := fh.read1(4096):
                readable += piece
        except EOFError:
            pass
    whole_lines = readable[: readable.rfind(b"\n") + 1]
    assert cut["line_no"] == whole_lines.count(b"\n") + 1
    assert cut["raw"] == readable[len(whole_lines):]
    expected = decode_nmea(whole_lines, source=cut["source"]).positions
    from_cut = positions.filter(pl.col("source") == cut["source"])
    assert expected.height > 100 and from_cut.height > 0
    assert from_cut.height == drop_duplicates(expected).height
    good = positions.filter(pl.col("source").str.ends_with("d_good.nmea"))
    assert good.height + from_cut.height == positions.height
    assert good.height > 0


def test_a_file_changed_after_its_head_is_read_again(tmp_path: Path) -> None:
    """An edit beyond the first 64 KiB that keeps the size must not make the file look
    already ingested: by its last MiB even when the edit keeps the modification time, by its
    modification time in the middle of a large file."""
    import os

    lines = [ln for ln in REAL_FILES[0].read_bytes().splitlines() if ln.startswith(b"!")]
    body = b"\n".join(lines) + b"\n"
    db = tmp_path / "db.duckdb"
    for name, repeats in (("small.nmea", 4), ("large.nmea", 70)):
        feed = tmp_path / name
        data = body * repeats
        feed.write_bytes(data)
        assert len(data) > 65536 + 2 * (1 << 20) or repeats == 4
        ingest_paths([feed], db)
        at = len(data) // 2 if repeats == 70 else len(data) - 100
        at = data.index(b"\n!", at) + 1
        edited = data[:at] + b"?" + data[at + 1:]  # one sentence spoiled, same size
        before = feed.stat()
        feed.write_bytes(edited)
        if repeats == 4:  # an editor that keeps the time: the tail hash sees the change
            os.utime(feed, ns=(before.st_atime_ns, before.st_mtime_ns))
        else:
            os.utime(feed, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        again = ingest_paths([feed], db)
        assert again.already_ingested == [], name
        assert again.added["rejects"] >= 1, name
        assert ingest_paths([feed], db).already_ingested == [str(feed.resolve())]


def test_database_in_a_folder_that_is_not_writable_is_one_line_and_exit_1() -> None:
    """DuckDB writes a log (``<db>.wal``) next to the database at the first commit; when the
    folder does not let it, ingest says so in one line and exits 1, without a traceback."""
    import os
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        Store(folder / "db.duckdb").close()
        (folder / "db.duckdb").chmod(0o666)
        feed = folder / "feed.nmea"
        feed.write_bytes(REAL_FILES[0].read_bytes())
        feed.chmod(0o644)
        cache = folder / "numba"
        cache.mkdir(mode=0o777)
        cache.chmod(0o777)
        folder.chmod(0o555)
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "HOME": str(folder)}
        prefix: list[str] = []
        if os.geteuid() == 0:  # root writes anywhere: run as nobody
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv")
            prefix = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "seasight", "ingest", str(feed),
             "--db", str(folder / "db.duckdb")],
            capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "not writable" in lines[0], lines
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
