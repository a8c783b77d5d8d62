"""Fuzzing with real lines: mutated conformance lines interleaved with known-good messages.

Each round (a fixed seed, so every failure is reproducible: ``-k "seed_17"``) builds a stream of
known-good messages (each kept contiguous, all its fragments in order) and damaged input made
from real lines: flipped / inserted / deleted bytes, truncation, NUL, 0xFF and non-UTF-8 bytes,
lines over 10 kB, dropped / duplicated / swapped fragments, broken tag blocks and checksums,
garbage, blank and CR-only lines. Asserted:

* decoding never raises;
* every good message is decoded at its line with pyais' MMSI, type and position;
* every line is accounted for: lines of decoded messages + rejected lines + skipped == lines;
* every reject has a reason from ``seasight.model.rejects.REASON_NAMES`` and its ``raw`` is the
input
  line without its line ending (and without trailing blanks, which the framing strips);
* streaming the same bytes in random chunks gives the same tables, rejects and skipped counts.
"""

from __future__ import annotations

import math
import random
from functools import cache
from typing import Any

import pyais
import pytest

from conftest import (
    decode_lines,
    line_accounting,
    read_shared_bytes,
    read_shared_json,
    sorted_tables,
    split_lines,
)
from seasight.ais import NmeaDecoder, decode_nmea
from seasight.ais.decoder import MAX_REJECT_BYTES
from seasight.ais.records import to_records
from seasight.model.batch import Batch
from seasight.model.rejects import REASON_NAMES

ROUNDS = 40
GOOD_PER_ROUND = 25
BAD_PER_ROUND = 45


def _units_from_lines(lines: list[bytes]) -> list[list[bytes]]:
    """Group consecutive fragments 1..n of one message into units (other lines: alone)."""
    units: list[list[bytes]] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        try:
            body = ln[ln.index(b"!") :].split(b",")
            count, num = int(body[1]), int(body[2])
        except (ValueError, IndexError):
            i += 1
            continue
        if num == 1 and count > 1 and i + count <= len(lines):
            units.append(lines[i : i + count])
            i += count
        else:
            units.append([ln])
            i += 1
    return units


@cache
def corpus() -> tuple[list[list[bytes]], list[bytes]]:
    """(good units, all real lines): good units decode alone in SeaSight and in pyais."""
    candidates: list[list[bytes]] = []
    for name in ("conformance/pyais/nmea_data_sample.txt", "conformance/libais/typeexamples.nmea",
                 "conformance/libais/test.aivdm", "conformance/libais/uscg_nais_sample_lines.txt"):
        candidates += _units_from_lines(split_lines(read_shared_bytes(name)))
    for pair in read_shared_json("conformance/gpsd/sample_aivdm_pairs.json")["pairs"]:
        candidates += _units_from_lines([s.encode() for s in pair["sentences"]])
    tag = split_lines(read_shared_bytes("conformance/libais/tagblock.nmea"))
    candidates += [[tag[0], tag[2]], [tag[1]], [tag[3]], [tag[4]]]
    for entry in read_shared_json("conformance/libais/libais_test_data_top_level.json")[
            "top_level"]:
        candidates.append([s.encode() for s in entry["nmea"]])
    all_lines = sorted({ln for unit in candidates for ln in unit})
    # one SeaSight call for all candidates: a unit is good when its first line gives a record
    # and none of its lines is rejected
    flat: list[bytes] = []
    firsts = []
    for unit in candidates:
        firsts.append(len(flat) + 1)
        flat.extend(unit)
    batch = decode_lines(flat)
    recs = {r["line_no"]: r for r in to_records(batch)}
    rejected = set(batch.rejects["line_no"].to_list())
    good = []
    for unit, first in zip(candidates, firsts, strict=True):
        lines = set(range(first, first + len(unit)))
        if first in recs and not lines & rejected:
            try:
                pyais.decode(*unit)
            except Exception:  # pyais cannot decode it: not usable as the oracle
                continue
            good.append(unit)
    return good, all_lines


#: Where lon and lat end (bit offset) per type: a field cut short by the end of the payload is
#: null in SeaSight; pyais decodes the bits that are there (a partial, meaningless value).
_LON_LAT_END = {1: (89, 116), 2: (89, 116), 3: (89, 116), 4: (107, 134), 11: (107, 134),
                9: (89, 116), 18: (85, 112), 19: (85, 112), 21: (192, 219), 27: (62, 79)}


def _payload_bits(unit: tuple[bytes, ...]) -> int:
    bits = 0
    for line in unit:
        fields = line[line.index(b"!") :].split(b"*")[0].split(b",")
        bits += 6 * len(fields[5])
    return bits - int(fields[6])


@cache
def oracle(unit: tuple[bytes, ...]) -> dict[str, Any]:
    d = pyais.decode(*unit).asdict()
    want = {k: d.get(k) for k in ("msg_type", "mmsi", "lat", "lon")}
    ends = _LON_LAT_END.get(want["msg_type"])
    if ends:
        nbits = _payload_bits(unit)
        for key, end in zip(("lon", "lat"), ends, strict=True):
            if nbits < end:
                want[key] = None
    return want


# --- damage -----------------------------------------------------------------------------------

NON_UTF8 = (b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc", b"\xff\xfe", b"\x80")


def damage_line(rng: random.Random, line: bytes) -> bytes:
    """One byte-level damage of one line."""
    if not line:
        return bytes([rng.randrange(32, 127)])
    kind = rng.randrange(12)
    i = rng.randrange(len(line))
    if kind == 0:  # flip one bit (a newline would split the line: not this damage)
        flipped = line[i] ^ (1 << rng.randrange(8))
        return line[:i] + bytes([flipped if flipped != 10 else 11]) + line[i + 1 :]
    if kind == 1:  # insert a byte (not a newline)
        return line[:i] + bytes([rng.choice([x for x in range(256) if x != 10])]) + line[i:]
    if kind == 2:  # delete a byte
        return line[:i] + line[i + 1 :]
    if kind == 3:  # truncate
        return line[:i]
    if kind in (4, 5, 6):  # NUL, 0xFF, non-UTF-8
        junk = {4: b"\x00", 5: b"\xff", 6: rng.choice(NON_UTF8)}[kind]
        return line[:i] + junk + line[i:]
    if kind == 7:  # a line over 10 kB: repeated sentence, or printable noise
        if rng.random() < 0.5:
            return line * (10_500 // len(line) + 1)
        return bytes(rng.randrange(32, 127) for _ in range(rng.randrange(10_241, 20_000)))
    if kind == 8:  # a valid sentence with 11 kB of trailing "metadata"
        return line + b"," + b"x" * 11_000
    if kind == 9:  # break the sentence checksum
        start = line.find(b"!")
        star = line.find(b"*", max(start, 0))
        if star < 0:
            return line + b"*00"
        bad = rng.choice([b"00", b"ZZ", b"7", b"", b"FFF"])
        return line[: star + 1] + bad + line[star + 3 :]
    if kind == 10:  # a bare CR inside the line
        return line[:i] + b"\r" + line[i:]
    # wrong fragment numbers / fill bits
    for old, new in ((b",1,1,", b",1,2,"), (b",1,1,", b",0,1,"), (b",0*", b",9*"),
                     (b",2,1,", b",2,3,"), (b",1,1,", b",10,1,")):
        if old in line and rng.random() < 0.5:
            line = line.replace(old, new, 1)
    return line


def damage(rng: random.Random, lines: list[bytes], units: list[list[bytes]]) -> list[bytes]:
    """Damaged input made from real lines: one or more lines."""
    kind = rng.randrange(10)
    multi = [u for u in units if len(u) > 1]
    if kind <= 3:  # one to five byte-level damages of one real line
        line = rng.choice(lines)
        for _ in range(1 if kind < 3 else rng.randrange(2, 6)):
            line = damage_line(rng, line)
        return [line]
    if kind == 4:  # drop a fragment
        unit = rng.choice(multi)
        drop = rng.randrange(len(unit))
        return unit[:drop] + unit[drop + 1 :]
    if kind == 5:  # duplicate a fragment
        unit = list(rng.choice(multi))
        i = rng.randrange(len(unit))
        return [*unit[: i + 1], unit[i], *unit[i + 1 :]]
    if kind == 6:  # swap fragment order
        unit = list(rng.choice(multi))
        i = rng.randrange(len(unit) - 1)
        unit[i], unit[i + 1] = unit[i + 1], unit[i]
        return unit
    if kind == 7:  # break a tag block: closing backslash, a field, or its checksum
        ln = rng.choice([ln for ln in lines if ln.startswith(b"\\")])
        close = ln.index(b"\\", 1)
        choice = rng.randrange(3)
        if choice == 0:
            return [ln[:close] + ln[close + 1 :]]
        if choice == 1:
            i = rng.randrange(1, close)
            return [ln[:i] + b"Z" + ln[i + 1 :]]
        star = ln.index(b"*")
        return [ln[: star + 1] + b"G0" + ln[star + 3 :]]
    if kind == 8:  # garbage, blank, whitespace-only, CR-only and comment lines
        return [rng.choice([
            b"", b"   ", b"\t", b"\r", b"# comment", b"  # indented comment",
            bytes(rng.choice([x for x in range(256) if x != 10])
                  for _ in range(rng.randrange(1, 200))),
        ])]
    # a Gatehouse header, intact or damaged
    pghp = b"$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17"
    return [damage_line(rng, pghp) if rng.random() < 0.5 else pghp]


def build_stream(seed: int) -> tuple[bytes, list[tuple[int, tuple[bytes, ...]]]]:
    """The stream's bytes and, for each good unit, (first line number, its lines)."""
    rng = random.Random(seed)
    good_units, lines = corpus()
    items: list[tuple[str, list[bytes]]] = [("good", rng.choice(good_units))
                                            for _ in range(GOOD_PER_ROUND)]
    items += [("bad", damage(rng, lines, good_units)) for _ in range(BAD_PER_ROUND)]
    rng.shuffle(items)
    # The stream ends with two good messages, the last line possibly without its newline.
    items += [("good", rng.choice(good_units)), ("good", rng.choice(good_units))]
    ending = rng.choice([b"\n", b"\r\n"])
    out: list[bytes] = []
    goods = []
    n_lines = 0  # as the decoder counts them: a bare CR inside a damaged line ends it
    for kind, unit in items:
        if kind == "good":
            goods.append((n_lines + 1, tuple(unit)))
        out.extend(unit)
        n_lines += sum(len(split_lines(ln + ending)) for ln in unit)
    data = ending.join(out) + (ending if rng.random() < 0.8 else b"")
    return data, goods


def test_corpus_is_large_and_varied() -> None:
    good, lines = corpus()
    assert len(good) > 600 and len(lines) > 1000
    types = {oracle(tuple(u))["msg_type"] for u in good}
    assert {1, 2, 3, 4, 5, 8, 18, 19, 21, 24, 27} <= types
    assert sum(len(u) > 1 for u in good) >= 15


def _stream(data: bytes, rng: random.Random) -> Batch:
    dec = NmeaDecoder("fuzz")
    cuts = sorted(rng.sample(range(1, len(data)), k=min(6, len(data) - 1)))
    parts, prev = [], 0
    for cut in [*cuts, len(data)]:
        parts.append(dec.feed(data[prev:cut]))
        prev = cut
    parts.append(dec.finish())
    return Batch.concat(parts)


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(ROUNDS)])
def test_fuzzed_stream(seed: int) -> None:
    data, goods = build_stream(seed)
    batch = decode_nmea(data, source="fuzz")  # must not raise

    # every line accounted for
    acc = line_accounting(data, batch)
    assert acc["decoded"] + acc["rejected"] + acc["skipped"] == acc["total"], acc

    # rejects: a known reason, the raw line
    lines = split_lines(data)
    assert set(batch.rejects["reason"].to_list()) <= set(REASON_NAMES.values())
    for line_no, raw in zip(batch.rejects["line_no"], batch.rejects["raw"], strict=True):
        assert raw == lines[line_no - 1][:MAX_REJECT_BYTES], (seed, line_no)
    assert batch.rejects["line_no"].n_unique() == batch.rejects.height

    # every good message decoded where it is, as pyais decodes it
    recs = {r["line_no"]: r for r in to_records(batch)}
    for first, unit in goods:
        want = oracle(unit)
        rec = recs.get(first)
        assert rec is not None, (seed, first, unit)
        assert (rec["msg_type"], rec["mmsi"]) == (want["msg_type"], want["mmsi"]), (seed, first)
        for key, limit in (("lat", 90), ("lon", 180)):
            if key in rec and want[key] is not None:
                w = want[key] if abs(want[key]) <= limit else None
                assert (rec[key] is None) == (w is None), (seed, first, key)
                if w is not None:
                    assert math.isclose(rec[key], w, abs_tol=6e-7), (seed, first, key)

    # streaming at random cuts gives the same
    streamed = _stream(data, random.Random(seed))
    a, b = sorted_tables(batch), sorted_tables(streamed)
    for name in a:
        assert a[name].equals(b[name]), (seed, name)
    assert +batch.skipped == +streamed.skipped


def test_only_garbage_never_raises() -> None:
    rng = random.Random(1234)
    for _ in range(20):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000)))
        batch = decode_nmea(data)
        acc = line_accounting(data, batch)
        assert acc["decoded"] + acc["rejected"] + acc["skipped"] == acc["total"], acc
