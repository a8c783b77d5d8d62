"""Every setting is documented in the README with its current default."""

from __future__ import annotations

from pathlib import Path

import pytest

from seasight.settings import DETECTION_SETTINGS, RISK_SETTINGS, SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS + DETECTION_SETTINGS + RISK_SETTINGS,
                         ids=lambda s: s.name)
def test_setting_is_documented_with_its_default(setting) -> None:  # type: ignore[no-untyped-def]
    rows = [line for line in README.splitlines() if line.startswith(f"| `{setting.name}` |")]
    assert rows, f"{setting.name} is missing from the README's settings table"
    assert f"| {setting.shown}" in rows[0], (setting.name, setting.shown, rows[0])
