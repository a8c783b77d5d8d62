"""Detection quality against ground truth: simulated Indo-Pacific traffic with every kind of
planted event and look-alike, through the whole pipeline (NMEA feed with receiver noise ->
ingest -> tracks -> detectors), on several seeds. Every kind must reach precision and recall of
at least 0.95, and no look-alike may be reported. The small ``dateline`` scenario (every planted
event on or across the 180th meridian, a second transmitter heard only 3-4 times) runs on one
seed with the same bar."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from seasight.analysis.evaluate import KindScore
from seasight.bench.quality import score_simulation
from seasight.events.run import DETECTORS

SEEDS = (11, 12, 13)
MIN_PRECISION = 0.95
MIN_RECALL = 0.95


def _run(seed: int, folder: Path) -> list[KindScore]:
    return score_simulation(folder, seed, hours=48, vessels=200)


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[KindScore]]:
    by_kind: dict[str, list[KindScore]] = defaultdict(list)
    for seed in SEEDS:
        for s in _run(seed, tmp_path_factory.mktemp(f"seed{seed}")):
            by_kind[s.kind].append(s)
    return by_kind


@pytest.mark.parametrize("kind", list(DETECTORS))
def test_precision_and_recall_per_kind(kind: str, scores: dict[str, list[KindScore]]) -> None:
    runs = scores[kind]
    truth = sum(s.n_truth for s in runs)
    detected = sum(s.n_detected for s in runs)
    assert truth > 0, f"the scenario plants no {kind}"
    precision = sum(s.n_matched_detected for s in runs) / detected if detected else 0.0
    recall = sum(s.n_matched_truth for s in runs) / truth
    assert precision >= MIN_PRECISION, (kind, [s.to_json() for s in runs])
    assert recall >= MIN_RECALL, (kind, [s.to_json() for s in runs])


def test_no_lookalike_is_reported(scores: dict[str, list[KindScore]]) -> None:
    hits = {kind: sum(s.n_lookalike_hits for s in runs) for kind, runs in scores.items()}
    assert not any(hits.values()), hits


@pytest.fixture(scope="module")
def dateline(tmp_path_factory: pytest.TempPathFactory) -> list[KindScore]:
    return score_simulation(tmp_path_factory.mktemp("dateline"), 11, scenario="dateline",
                            hours=48, vessels=120)


def test_dateline_scenario(dateline: list[KindScore]) -> None:
    planted = {s.kind for s in dateline if s.n_truth}
    assert {"encounter", "loitering", "spoofing", "zone_entry", "zone_exit"} <= planted
    for s in dateline:
        precision = s.n_matched_detected / s.n_detected if s.n_detected else 1.0
        recall = s.n_matched_truth / s.n_truth if s.n_truth else 1.0
        assert precision >= MIN_PRECISION and recall >= MIN_RECALL, s.to_json()
        assert s.n_lookalike_hits == 0, s.to_json()
