"""``python -m seasight.bench`` runs end to end on a small corpus, and its store-alone reference
writes exactly the rows that ingest stores (so its time is a fair ceiling for ingest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seasight.bench.__main__ import STORE_STEP, main


def test_small_run_reports_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    out = tmp_path / "result.json"
    status = main(["--sentences", "4000", "--seed", "3", "--repeat", "1", "--no-unchecked",
                   "--dir", str(tmp_path), "--json", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    result = json.loads(out.read_text())
    timings = {t["name"]: t for t in result["timings"]}
    assert set(timings) == {"pyais decode", "seasight decode", STORE_STEP, "seasight ingest"}
    assert all(result["ratios"][k] > 0 for k in ("decode", "ingest", "store_alone"))
    # the reference stores what ingest stores, table by table
    stored = {k: v for k, v in timings[STORE_STEP]["extra"]["added"].items() if v}
    assert stored == timings["seasight ingest"]["extra"]["added"]
    assert timings[STORE_STEP]["by_type"] == timings["pyais decode"]["by_type"]
    assert "ingest ran at" in printed and "DIFFERS" not in printed
    assert "error" not in result["memory"]["ingest_child"]
