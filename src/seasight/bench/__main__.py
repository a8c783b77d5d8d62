"""``python -m seasight.bench``: SeaSight's decoder and ingest against pyais, on one corpus.

What is timed, and how (printed with the results as well):

* Both decoders get the same corpus bytes, already read into memory: reading the file is
  excluded from both decode timings. Splitting the bytes into lines is included for pyais (its
  stream readers take lines) just as framing is included for SeaSight.
* pyais: :class:`pyais.stream.ByteStream` over the lines, ``AISSentence.decode()`` on every
  assembled message, with the checks a correct decoder needs on this feed: the NMEA checksum
  (``is_valid``; pyais's streams do not drop bad checksums by themselves) and the NMEA 4.0 tag
  block (``tag_block.init()``, its checksum, station ``s:`` and receiver time ``c:``), the
  fields SeaSight's rows carry as well. This was the fastest correct way among pyais's
  documented APIs (``IterMessages``, ``ByteStream``, ``BinaryIOStream``, ``FileReaderStream``,
  ``pyais.decode`` per line: all within ~10 % of each other). The same loop without any
  validation is timed too, as a reference only: it "decodes" corrupted lines as well, so its
  count is wrong, but it bounds what pyais could do at best.
* SeaSight: :func:`seasight.ais.decode_nmea` on the bytes; numba's JIT is warmed up on a few
  lines first (compilation excluded).
* Ingest: :func:`seasight.ingest.pipeline.ingest_paths` of the corpus file into a fresh DuckDB file
  (reading the file is part of ingest and included). Its speed-up is against pyais's checked
  decode, which stores nothing.
* Store alone (a reference, not a target): the rows that ingest stores, already decoded and
  deduplicated in memory, written into a fresh DuckDB file the way a file's ingest writes them
  (:meth:`seasight.store.Store.appending`, the ingest's DuckDB settings, one commit). Its rate
  is the corpus's messages over that time: what ingest would reach if decoding and dropping
  repeats cost nothing, the ceiling of any ingest that writes through DuckDB on this machine.
* Messages are complete AIS messages (a two-sentence type 5 counts once, duplicate receptions
  count each time), counted from each tool's own output.
* Each decoder and the ingest (each time into a fresh database) run ``--repeat`` times
  (default 3); the best wall time is reported.
* Peak memory (peak RSS) of this process is printed, and measured again in a subprocess that
  only ingests the corpus (so pyais and the in-memory corpus do not count); with
  ``--memory-check`` also for a corpus ten times larger, which must not need ten times the
  memory since ingest streams the file in chunks.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from seasight.bench.corpus import DEFAULT_DIR, CorpusInfo, build_corpus

#: SeaSight's targets: speed-up over pyais's decode.
DECODE_TARGET = 25.0
INGEST_TARGET = 12.0

PYAIS_API = (
    "pyais.stream.ByteStream(lines) -> AISSentence.decode(), "
    "with NMEA checksum + tag block (checksum, s:, c:) checks"
)
PYAIS_UNCHECKED_API = "pyais.stream.ByteStream(lines) -> AISSentence.decode(), no checks"
SEASIGHT_DECODE_API = "seasight.ais.decode_nmea(data)"
SEASIGHT_INGEST_API = "seasight.ingest.pipeline.ingest_paths([file], fresh .duckdb)"
SEASIGHT_STORE_API = ("Store.appending().add(decoded rows without repeats) + commit, fresh "
                      ".duckdb, ingest's DuckDB settings")
STORE_STEP = "seasight store alone (ref.)"

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """The best of several runs of one step."""

    name: str
    api: str
    seconds: float
    cpu_seconds: float
    runs: list[float]
    by_type: dict[int, int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        """Complete messages the step produced (from its own output)."""
        return sum(self.by_type.values())

    @property
    def rate(self) -> float:
        """Messages per second of the best run."""
        return self.messages / self.seconds if self.seconds > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_type"] = {str(k): v for k, v in self.by_type.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timing:
        data = dict(data)
        data["by_type"] = {int(k): int(v) for k, v in data["by_type"].items()}
        return cls(**data)


def best_of(repeat: int, run: Callable[[], _T]) -> tuple[float, float, list[float], _T]:
    """Run ``run`` ``repeat`` times: best wall seconds, its CPU seconds, all runs, last result."""
    runs: list[float] = []
    best_cpu = 0.0
    result: _T | None = None
    for _ in range(max(1, repeat)):
        result = None  # let the previous result go before the next run
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = run()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if not runs or wall < min(runs):
            best_cpu = cpu
        runs.append(wall)
    assert result is not None
    return min(runs), best_cpu, runs, result


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def current_rss_bytes() -> int | None:
    """Current resident set size (needs psutil), or None."""
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


# --------------------------------------------------------------------------------------------
# pyais
# --------------------------------------------------------------------------------------------


def pyais_decode(data: bytes) -> Counter[int]:
    """Decode every valid message of ``data`` with pyais; messages by type.

    Lines with a bad NMEA checksum or a bad tag block are dropped, as SeaSight rejects them;
    pyais itself skips lines it cannot parse and assembles multi-sentence messages.
    """
    from pyais.exceptions import AISBaseException
    from pyais.stream import ByteStream

    counts: Counter[int] = Counter()
    for msg in ByteStream(data.splitlines()):
        if not msg.is_valid:
            continue
        block = msg.tag_block
        if block is not None:
            block.init()
            if not block.is_valid:
                continue
            _station, _received = block.source_station, block.receiver_timestamp
        try:
            decoded = msg.decode()
        except AISBaseException:
            continue
        counts[decoded.msg_type] += 1
    return counts


def pyais_decode_unchecked(data: bytes) -> Counter[int]:
    """pyais's bare decode loop, no validation (a reference: it decodes corrupted lines too)."""
    from pyais.exceptions import AISBaseException
    from pyais.stream import ByteStream

    counts: Counter[int] = Counter()
    for msg in ByteStream(data.splitlines()):
        try:
            decoded = msg.decode()
        except AISBaseException:
            continue
        counts[decoded.msg_type] += 1
    return counts


def _pyais_cache_path(directory: Path, corpus: CorpusInfo) -> Path:
    return directory / f"pyais-result-{corpus.path.stem}.json"


def _machine() -> dict[str, str]:
    import pyais

    return {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "pyais": str(pyais.__version__),
    }


def _save_pyais(directory: Path, corpus: CorpusInfo, timings: Sequence[Timing]) -> None:
    data = {"machine": _machine(), "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
            "timings": [t.to_json() for t in timings]}
    _pyais_cache_path(directory, corpus).write_text(json.dumps(data, indent=1))


def _load_pyais(directory: Path, corpus: CorpusInfo) -> tuple[list[Timing], str] | None:
    path = _pyais_cache_path(directory, corpus)
    try:
        data = json.loads(path.read_text())
        if data["machine"] != _machine():
            return None
        return [Timing.from_json(t) for t in data["timings"]], str(data["measured"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------------------------
# SeaSight
# --------------------------------------------------------------------------------------------


def _import_seasight() -> tuple[Any, Any, str | None]:
    """(decode_nmea, ingest_paths, error): the functions, or a message saying what is missing."""
    missing = []
    decode = ingest = None
    try:
        decode = importlib.import_module("seasight.ais").decode_nmea
    except (ImportError, AttributeError) as exc:
        missing.append(f"seasight.ais.decode_nmea ({type(exc).__name__}: {exc})")
    try:
        ingest = importlib.import_module("seasight.ingest.pipeline").ingest_paths
    except (ImportError, AttributeError) as exc:
        missing.append(f"seasight.ingest.pipeline.ingest_paths ({type(exc).__name__}: {exc})")
    if missing:
        return None, None, "not importable yet: " + "; ".join(missing)
    return decode, ingest, None


def _warm_up(decode: Callable[..., Any], data: bytes) -> float:
    """Decode the first lines once so numba compiles before timing; returns the seconds."""
    head = data[:200_000]
    head = head[: head.rfind(b"\n") + 1]
    started = time.perf_counter()
    decode(head, source="warm-up")
    return time.perf_counter() - started


def _report_counts(report: Any) -> dict[int, int]:
    messages = getattr(report, "messages", None)
    if isinstance(messages, dict):
        return {int(k): int(v) for k, v in messages.items()}
    return {}


def _report_added(report: Any) -> dict[str, int]:
    added = getattr(report, "added", None)
    return {str(k): int(v) for k, v in added.items()} if isinstance(added, dict) else {}


@contextmanager
def _fresh_database(workdir: Path) -> Iterator[Path]:
    """The path of a database file not yet created, in a folder of its own under ``workdir``
    that is removed afterwards."""
    db = Path(tempfile.mkdtemp(prefix="bench-", dir=workdir)) / "bench.duckdb"
    try:
        yield db
    finally:
        shutil.rmtree(db.parent, ignore_errors=True)


def _ingest_once(ingest: Callable[..., Any], corpus: Path, workdir: Path) -> Any:
    with _fresh_database(workdir) as db:
        return ingest([corpus], db)


def _without_repeats(batch: Any) -> Any:
    """``batch`` with only the rows ingest would store (repeated receptions dropped)."""
    from seasight.model.batch import DECODED_TABLES, Batch
    from seasight.store.dedup import drop_duplicates

    kept: dict[str, Any] = {name: drop_duplicates(getattr(batch, name))
                            for name in DECODED_TABLES}
    return Batch(**kept, rejects=batch.rejects, skipped=batch.skipped, warnings=batch.warnings)


def _store_once(batch: Any, workdir: Path) -> dict[str, int]:
    """Write ``batch`` (rows without repeats) into a fresh database as a file's ingest does:
    its DuckDB settings, one transaction. Rows added per table."""
    from seasight.ingest.pipeline import bulk_settings
    from seasight.store import Store

    with (_fresh_database(workdir) as db, Store(db) as store, bulk_settings(store),
          store.appending() as appender):
        added = appender.add(batch, checked=True)
        appender.commit()
    return added


def _ingest_child(corpus: Path, workdir: Path) -> int:
    """Subprocess mode: ingest ``corpus`` only, print JSON with time and memory."""
    decode, ingest, error = _import_seasight()
    if error:
        print(json.dumps({"error": error}))
        return 2
    with corpus.open("rb") as fh:
        head = fh.read(200_000)
    warm = _warm_up(decode, head)
    baseline_peak = peak_rss_bytes()
    baseline_now = current_rss_bytes()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    report = _ingest_once(ingest, corpus, workdir)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({
        "seconds": wall,
        "cpu_seconds": cpu,
        "warm_up_seconds": warm,
        "messages": sum(_report_counts(report).values()),
        "added": _report_added(report),
        "rss_after_warm_up": baseline_now,
        "peak_rss_before_ingest": baseline_peak,
        "peak_rss": peak_rss_bytes(),
    }))
    return 0


def _run_child(corpus: Path, workdir: Path) -> dict[str, Any]:
    """Run the ingest-only subprocess on ``corpus``; its JSON, or ``{"error": ...}``."""
    import seasight

    env = dict(os.environ)
    src = str(Path(seasight.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "seasight.bench", "--ingest-child", str(corpus),
           "--dir", str(workdir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = proc.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    if proc.returncode and "error" not in result:
        result["error"] = f"exit {proc.returncode}"
    return result


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _mb(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 2**20:,.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:,.0f} MB"


def _rate(r: float) -> str:
    return f"{r / 1e6:,.2f} M" if r >= 1e6 else f"{r / 1e3:,.1f} k"


def _table(rows: Sequence[Sequence[str]], header: Sequence[str], right: set[int]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)])


def _versions() -> str:
    out = []
    for name in ("pyais", "numba", "numpy", "polars", "duckdb"):
        try:
            out.append(f"{name} {importlib.import_module(name).__version__}")
        except (ImportError, AttributeError):
            out.append(f"{name} -")
    return ", ".join(out)


def _print_header(corpus: CorpusInfo, args: argparse.Namespace) -> None:
    print(f"SeaSight benchmark: {corpus.path}")
    built = (f"cached (built in {corpus.build_seconds:.1f} s)" if corpus.cached
             else f"built in {corpus.build_seconds:.1f} s")
    print(f"  corpus: {corpus.n_sentences:,} lines, {_mb(corpus.bytes)}, "
          f"{corpus.total_messages:,} good messages ({corpus.n_duplicates:,} duplicate "
          f"receptions), {corpus.n_bad_lines:,} bad lines, {corpus.n_tagged_lines:,} tagged "
          f"lines; seed {corpus.seed}; {built}")
    print(f"  machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}; {_versions()}")
    print(f"  method: best of {args.decode_repeat} run(s) per decoder, {args.ingest_repeat} for "
          "ingest; decoders read the corpus from memory (file reading excluded from both), "
          "JIT warm-up excluded; ingest reads the file (included)")
    print()


def _verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "n/a"
    return "PASS" if ratio >= target else "FAIL"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m seasight.bench",
        description="Time SeaSight's AIS decode and ingest against pyais on a synthetic feed.",
    )
    parser.add_argument("--sentences", type=int, default=1_000_000, metavar="N",
                        help="lines in the corpus (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help="cache directory for corpora and results (default ./.bench)")
    parser.add_argument("--repeat", type=int, default=None, metavar="R",
                        help="runs per step, best kept (default 3)")
    parser.add_argument("--skip-pyais", action="store_true",
                        help="do not run pyais; reuse its last result on this machine if cached")
    parser.add_argument("--pyais-only", action="store_true",
                        help="run only the pyais side (works before seasight.ais exists)")
    parser.add_argument("--no-unchecked", action="store_true",
                        help="skip the reference run of pyais without validation")
    parser.add_argument("--memory-check", action="store_true",
                        help="also measure ingest peak memory on a 10x larger corpus")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the results as JSON to FILE")
    parser.add_argument("--ingest-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sentences < 1:
        parser.error("--sentences must be at least 1")
    args.decode_repeat = args.repeat if args.repeat is not None else 3
    args.ingest_repeat = args.repeat if args.repeat is not None else 3
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (2 when SeaSight's modules are missing)."""
    args = _parse(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.ingest_child is not None:
        return _ingest_child(args.ingest_child, args.dir)

    decode, ingest, seasight_error = _import_seasight()
    if seasight_error and not args.pyais_only:
        print(f"warning: SeaSight {seasight_error}\n  (the pyais side runs; the SeaSight side "
              "will fail)\n", file=sys.stderr)

    corpus = build_corpus(args.dir, args.sentences, args.seed)
    _print_header(corpus, args)
    data = corpus.path.read_bytes()
    results: dict[str, Any] = {"corpus": json.loads(corpus.to_json()), "machine": _machine()}
    timings: list[Timing] = []

    # -- pyais ---------------------------------------------------------------------------------
    pyais_timings: list[Timing] = []
    pyais_note = ""
    if args.skip_pyais:
        cached = _load_pyais(args.dir, corpus)
        if cached is not None:
            pyais_timings, measured = cached
            pyais_note = f"pyais numbers from the cache ({measured}, same machine and version)"
    else:
        steps: list[tuple[str, str, Callable[[bytes], Counter[int]]]] = [
            ("pyais decode", PYAIS_API, pyais_decode)]
        if not args.no_unchecked:
            steps.append(("pyais decode, unchecked (ref.)", PYAIS_UNCHECKED_API,
                          pyais_decode_unchecked))
        for name, api, fn in steps:
            print(f"running {name} ...", flush=True)
            best, cpu, runs, counts = best_of(args.decode_repeat, functools.partial(fn, data))
            pyais_timings.append(Timing(name, api, best, cpu, runs, dict(sorted(counts.items()))))
        _save_pyais(args.dir, corpus, pyais_timings)
    timings.extend(pyais_timings)
    pyais_rate = pyais_timings[0].rate if pyais_timings else None

    # -- SeaSight ------------------------------------------------------------------------------
    decode_t = store_t = ingest_t = None
    child: dict[str, Any] = {}
    child_big: dict[str, Any] = {}
    big: CorpusInfo | None = None
    if not args.pyais_only and not seasight_error:
        print("running seasight decode_nmea ...", flush=True)
        warm = _warm_up(decode, data)
        source = str(corpus.path)
        best, cpu, runs, batch = best_of(args.decode_repeat,
                                         lambda: decode(data, source=source))
        decode_t = Timing("seasight decode", SEASIGHT_DECODE_API, best, cpu, runs,
                          dict(sorted(batch.messages_by_type().items())),
                          {"warm_up_seconds": round(warm, 3),
                           "rejects": dict(sorted(batch.rejects_by_reason().items()))})
        timings.append(decode_t)

        print("running seasight store alone (reference) ...", flush=True)
        new_rows = _without_repeats(batch)
        del batch
        best, cpu, runs, added = best_of(args.ingest_repeat,
                                         lambda: _store_once(new_rows, args.dir))
        del new_rows
        store_t = Timing(STORE_STEP, SEASIGHT_STORE_API, best, cpu, runs, decode_t.by_type,
                         {"added": added})
        timings.append(store_t)

        print("running seasight ingest_paths ...", flush=True)
        best, cpu, runs, report = best_of(args.ingest_repeat,
                                          lambda: _ingest_once(ingest, corpus.path, args.dir))
        ingest_t = Timing("seasight ingest", SEASIGHT_INGEST_API, best, cpu, runs,
                          dict(sorted(_report_counts(report).items())),
                          {"added": _report_added(report),
                           "rejects": dict(sorted(getattr(report, "rejects", {}).items()))})
        del report
        timings.append(ingest_t)

        print("running ingest-only subprocess for peak memory ...", flush=True)
        child = _run_child(corpus.path, args.dir)
        if args.memory_check:
            print("building or loading the 10x corpus ...", flush=True)
            big = build_corpus(args.dir, args.sentences * 10, args.seed)
            print(f"running ingest-only subprocess on the 10x corpus ({big.n_sentences:,} lines, "
                  f"{_mb(big.bytes)}, {'cached, ' if big.cached else ''}built in "
                  f"{big.build_seconds:.0f} s) ...", flush=True)
            child_big = _run_child(big.path, args.dir)
    print()

    # -- report --------------------------------------------------------------------------------
    rows = []
    for t in timings:
        ratio = t.rate / pyais_rate if pyais_rate else None
        target = {"seasight decode": DECODE_TARGET, "seasight ingest": INGEST_TARGET}.get(t.name)
        rows.append([
            t.name, f"{t.messages:,}", f"{t.seconds:.2f}", f"{t.cpu_seconds:.2f}",
            _rate(t.rate), "-" if ratio is None else f"{ratio:.1f}x",
            f">= {target:.0f}x" if target else "", _verdict(ratio, target) if target else "",
        ])
    print(_table(rows, ["step", "messages", "best s", "cpu s", "msg/s", "vs pyais", "target",
                        ""], right={1, 2, 3, 4, 5}))
    print()
    for t in timings:
        print(f"  {t.name}: {t.api}; runs {', '.join(f'{r:.2f}' for r in t.runs)} s")
    if store_t is not None and ingest_t is not None:
        n_stored = sum(store_t.extra["added"].values())
        print(f"  {STORE_STEP}: writing the {n_stored:,} rows ingest stores takes DuckDB "
              f"{store_t.seconds:.2f} s by itself ({store_t.cpu_seconds:.2f} CPU-s); "
              f"ingest ran at {ingest_t.rate / store_t.rate:.0%} of that ceiling")
    unchecked = [t for t in pyais_timings if "unchecked" in t.name]
    if unchecked:
        vs = [f"{t.name} {t.rate / unchecked[0].rate:.1f}x" for t in (decode_t, ingest_t) if t]
        if vs:
            print(f"  against pyais without validation: {', '.join(vs)}")
    if pyais_note:
        print(f"  {pyais_note}")
    if args.skip_pyais and not pyais_timings:
        print("  pyais skipped and no cached pyais result for this corpus and machine: "
              "no ratios")
    print()

    # message counts side by side
    checked = [t for t in timings if "unchecked" not in t.name and t.name != STORE_STEP]
    types = sorted(set(corpus.n_messages).union(*(t.by_type for t in checked)))
    count_rows = [[str(mt), f"{corpus.n_messages.get(mt, 0):,}",
                   *(f"{t.by_type.get(mt, 0):,}" for t in checked)] for mt in types]
    count_rows.append(["all", f"{corpus.total_messages:,}", *(f"{t.messages:,}" for t in checked)])
    print("messages by type (each tool's own output; the corpus is what was generated):")
    print(_table(count_rows, ["type", "corpus", *(t.name for t in checked)],
                 right=set(range(1, 2 + len(checked)))))
    for t in checked:
        if t.by_type != corpus.n_messages:
            print(f"  WARNING: {t.name} does not agree with the corpus")
    print(f"bad lines in the corpus: {corpus.n_bad_lines:,} "
          f"({', '.join(f'{k} {v:,}' for k, v in corpus.bad_lines.items())})")
    if decode_t is not None:
        rejects = decode_t.extra["rejects"]
        print(f"seasight decode rejects: {sum(rejects.values()):,} "
              f"({', '.join(f'{k} {v:,}' for k, v in rejects.items())})")
    if ingest_t is not None:
        added = ingest_t.extra["added"]
        from seasight.model.batch import DECODED_TABLES

        stored = sum(added.get(name, 0) for name in DECODED_TABLES)
        print(f"seasight ingest stored {stored:,} message rows and {added.get('rejects', 0):,} "
              f"rejects (rows by table: "
              f"{', '.join(f'{k} {v:,}' for k, v in sorted(added.items()))})")
        print(f"  the corpus has {corpus.distinct_messages:,} distinct transmissions: "
              f"{corpus.total_messages:,} messages - {corpus.n_duplicates:,} duplicate receptions "
              f"- {corpus.n_untimed_repeats:,} repeats of identical messages without receiver time"
              + ("" if stored == corpus.distinct_messages else "  <- DIFFERS"))
    print()

    # memory
    print("peak memory (RSS):")
    print(f"  this process (corpus in memory, pyais and SeaSight runs): {_mb(peak_rss_bytes())}")
    mem_rows = []
    for info, res in ((corpus, child), (big, child_big)):
        if info is None or not res:
            continue
        if "error" in res:
            mem_rows.append([f"{info.n_sentences:,}", _mb(info.bytes), "error: " + res["error"],
                             "", "", "", ""])
            continue
        mem_rows.append([
            f"{info.n_sentences:,}", _mb(info.bytes), f"{res['messages']:,}",
            f"{res['seconds']:.2f}", _rate(res["messages"] / res["seconds"]),
            _mb(res.get("rss_after_warm_up") or res.get("peak_rss_before_ingest")),
            _mb(res["peak_rss"]),
        ])
    if mem_rows:
        print("  ingest-only subprocess (imports + JIT warm-up, then ingest_paths):")
        print("  " + _table(mem_rows, ["lines", "file", "messages", "ingest s", "msg/s",
                                       "RSS before ingest", "peak RSS"],
                            right={0, 1, 2, 3, 4, 5, 6}).replace("\n", "\n  "))
        if child_big and child and "error" not in child and "error" not in child_big:
            growth = child_big["peak_rss"] / child["peak_rss"]
            print(f"  10x the input -> {growth:.2f}x the peak memory "
                  f"({'bounded' if growth < 2 else 'NOT bounded'})")
    print()

    results.update(
        timings=[t.to_json() for t in timings],
        ratios={
            "decode": decode_t.rate / pyais_rate if decode_t and pyais_rate else None,
            "ingest": ingest_t.rate / pyais_rate if ingest_t and pyais_rate else None,
            "store_alone": store_t.rate / pyais_rate if store_t and pyais_rate else None,
        },
        targets={"decode": DECODE_TARGET, "ingest": INGEST_TARGET},
        memory={"process_peak_rss": peak_rss_bytes(), "ingest_child": child,
                "ingest_child_10x": child_big},
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))

    if seasight_error and not args.pyais_only:
        print(f"error: SeaSight {seasight_error}.\n  The pyais baseline above is complete; run "
              "again once seasight.ais.decode_nmea and seasight.ingest.pipeline.ingest_paths exist "
              "(add --skip-pyais to reuse the pyais numbers).", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
