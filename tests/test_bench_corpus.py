"""The benchmark corpus is valid AIS (pyais decodes every good line) and has the mix it claims."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from pyais.exceptions import AISBaseException
from pyais.messages import AISSentence, NMEASentenceFactory
from pyais.stream import ByteStream

from seasight.bench.corpus import CorpusInfo, build_corpus

N = 5_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusInfo:
    return build_corpus(tmp_path_factory.mktemp("bench"), N, seed=7)


def _split(line: bytes) -> tuple[bytes | None, bytes]:
    """(tag block without backslashes or None, sentence)."""
    if line.startswith(b"\\"):
        tag, _, sentence = line[1:].partition(b"\\")
        return tag, sentence
    return None, line


def _is_good(line: bytes) -> bool:
    """What a strict decoder accepts: a parseable AIS sentence with valid checksums."""
    try:
        sentence = NMEASentenceFactory.produce(line)
    except (AISBaseException, ValueError):
        return False
    if not isinstance(sentence, AISSentence) or not sentence.is_valid:
        return False
    if sentence.tag_block is not None:
        sentence.tag_block.init()
        return bool(sentence.tag_block.is_valid)
    return True


def _pyais_messages(data: bytes) -> list[tuple[AISSentence, Any]]:
    out: list[tuple[AISSentence, Any]] = []
    for msg in ByteStream(data.splitlines()):
        if not msg.is_valid:
            continue
        if msg.tag_block is not None:
            msg.tag_block.init()
            if not msg.tag_block.is_valid:
                continue
        out.append((msg, msg.decode()))
    return out


def test_pyais_decodes_every_good_line(corpus: CorpusInfo) -> None:
    data = corpus.path.read_bytes()
    lines = data.split(b"\n")
    assert lines[-1] == b""  # ends with a newline
    lines = lines[:-1]
    assert len(lines) == corpus.n_sentences == N
    assert corpus.bytes == len(data)

    good = [_is_good(line) for line in lines]
    assert sum(good) == corpus.n_good_sentences
    assert len(lines) - sum(good) == corpus.n_bad_lines == round(N * 0.005)

    decoded = _pyais_messages(data)
    by_type = Counter(int(m.msg_type) for _, m in decoded)
    assert dict(by_type) == corpus.n_messages
    lines_by_type: Counter[int] = Counter()
    for nmea, msg in decoded:
        lines_by_type[int(msg.msg_type)] += nmea.frag_cnt
    assert dict(lines_by_type) == corpus.n_sentences_by_type
    assert sum(lines_by_type.values()) == corpus.n_good_sentences


def test_message_mix(corpus: CorpusInfo) -> None:
    lines = corpus.n_sentences_by_type
    total = sum(lines.values())

    def share(*types: int) -> float:
        return sum(lines.get(t, 0) for t in types) / total

    assert share(1, 2, 3) == pytest.approx(0.60, abs=0.03)
    assert share(18) == pytest.approx(0.15, abs=0.025)
    assert share(5) == pytest.approx(0.10, abs=0.02)
    assert share(4, 21, 24, 27) == pytest.approx(0.15, abs=0.025)
    for msg_type in (1, 2, 3, 4, 5, 18, 21, 24, 27):
        assert lines.get(msg_type, 0) > 0, msg_type
    assert lines[5] == 2 * corpus.n_messages[5]  # type 5: two sentences per message
    assert corpus.n_duplicates / corpus.total_messages == pytest.approx(0.03, abs=0.012)
    assert set(corpus.bad_lines) == {"bad_checksum", "bad_tagblock", "truncated", "garbage"}


def test_tag_blocks_times_and_duplicates(corpus: CorpusInfo) -> None:
    times: list[int] = []
    tagged = 0
    seen: dict[bytes, tuple[bytes, int]] = {}
    duplicates = 0
    for line in corpus.path.read_bytes().splitlines():
        if not _is_good(line):
            continue
        tag, sentence = _split(line)
        if tag is None:
            continue
        tagged += 1
        fields = dict(f.split(b":", 1) for f in tag.split(b"*")[0].split(b","))
        assert set(fields) == {b"s", b"c"}
        t = int(fields[b"c"])
        times.append(t)
        if sentence in seen and seen[sentence][0] != fields[b"s"] and t - seen[sentence][1] == 1:
            duplicates += 1
        seen[sentence] = (fields[b"s"], t)
    assert tagged == corpus.n_tagged_lines
    assert tagged / corpus.n_good_sentences == pytest.approx(0.80, abs=0.03)
    assert times == sorted(times)  # receiver times never go back
    assert corpus.first_time == times[0] and corpus.last_time == times[-1]
    assert 0.9 * 86_400 < times[-1] - times[0] <= 86_400
    # a type 5 duplicate is two repeated lines (counted per line here, per message in the info)
    assert duplicates >= corpus.n_duplicates
    assert duplicates <= corpus.n_duplicates + corpus.n_messages[5]


def test_tag_block_checksums_are_two_uppercase_hex_digits(corpus: CorpusInfo) -> None:
    for line in corpus.path.read_bytes().splitlines()[:500]:
        tag, _ = _split(line)
        if tag is None or not _is_good(line):
            continue
        body, _, check = tag.partition(b"*")
        xor = 0
        for byte in body:
            xor ^= byte
        assert check == f"{xor:02X}".encode()


def test_values_are_plausible(corpus: CorpusInfo) -> None:
    decoded = _pyais_messages(corpus.path.read_bytes())
    tracks: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    mmsis = set()
    headings: Counter[bool] = Counter()
    turns: Counter[bool] = Counter()
    for nmea, m in decoded:
        mmsis.add(m.mmsi)
        assert 0 < m.mmsi < 1_000_000_000
        if m.msg_type in (1, 2, 3, 18):
            lat, lon = m.lat, m.lon
            assert (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (91.0, 181.0)
            assert 0 <= m.speed <= 102.3
            assert 0 <= m.course <= 360
            assert 0 <= m.second <= 63
            headings[m.heading == 511] += 1
            if m.msg_type != 18:
                turns[m.turn == -128] += 1
            tag = nmea.tag_block
            if tag is not None and lat != 91.0 and m.repeat == 0:
                tracks[m.mmsi].append((int(tag.receiver_timestamp), lat, lon))
    assert len(mmsis) >= 40
    assert headings[True] > 0 and headings[False] > 0  # some "not available" headings
    assert turns[True] > 0 and turns[False] > 0  # some ships without rate-of-turn indicator

    # vessels move at ship speeds: implied speed between reports at least 10 minutes apart
    speeds = []
    for points in tracks.values():
        points.sort()
        for (t0, la0, lo0), (t1, la1, lo1) in itertools.pairwise(points):
            if t1 - t0 >= 600:
                dlat = (la1 - la0) * 60.0
                dlon = (lo1 - lo0) * 60.0 * math.cos(math.radians(la0))
                speeds.append(math.hypot(dlat, dlon) / ((t1 - t0) / 3600.0))
    assert len(speeds) > 100
    speeds.sort()
    assert speeds[len(speeds) // 2] < 25.0
    assert speeds[int(len(speeds) * 0.95)] < 30.0
    assert speeds[-1] > 1.0  # and some do move


def test_cached_and_reproducible(corpus: CorpusInfo, tmp_path: Path) -> None:
    again = build_corpus(corpus.path.parent, N, seed=7)
    assert again.cached and not corpus.cached
    assert again.path == corpus.path
    assert again.n_messages == corpus.n_messages and again.bytes == corpus.bytes

    fresh = build_corpus(tmp_path, N, seed=7)
    assert not fresh.cached
    digest = hashlib.sha256(corpus.path.read_bytes()).hexdigest()
    assert hashlib.sha256(fresh.path.read_bytes()).hexdigest() == digest

    other = build_corpus(tmp_path, N, seed=8)
    assert other.path != fresh.path
    assert hashlib.sha256(other.path.read_bytes()).hexdigest() != digest


@pytest.mark.parametrize("n", [1, 9, 250])
def test_tiny_corpora(tmp_path: Path, n: int) -> None:
    info = build_corpus(tmp_path, n, seed=1)
    data = info.path.read_bytes()
    assert data.count(b"\n") == n
    decoded = _pyais_messages(data)
    assert Counter(int(m.msg_type) for _, m in decoded) == Counter(info.n_messages)
