"""Every setting is documented on the generated settings page with its current default."""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path

import pytest

from seasight.settings import DETECTION_SETTINGS, RISK_SETTINGS, SETTINGS, settings_page

ROOT = Path(__file__).resolve().parents[1]
PAGE = settings_page()


@pytest.mark.parametrize("setting", SETTINGS + DETECTION_SETTINGS + RISK_SETTINGS,
                         ids=lambda s: s.name)
def test_setting_is_documented_with_its_default(setting) -> None:  # type: ignore[no-untyped-def]
    rows = [line for line in PAGE.splitlines() if line.startswith(f"| `{setting.name}` |")]
    assert len(rows) == 1, f"{setting.name} is not listed once on the settings page"
    assert f"| {setting.shown}" in rows[0], (setting.name, setting.shown, rows[0])
    assert setting.help, f"{setting.name} has no help text"


def test_site_build_writes_the_generated_page(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The site's generator script writes exactly `settings_page()` as `settings.md`."""
    written: dict[str, str] = {}

    class Page:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> Page:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def write(self, text: str) -> None:
            written[self.name] = written.get(self.name, "") + text

    fake = types.ModuleType("mkdocs_gen_files")
    fake.open = lambda name, mode="r": Page(name)  # type: ignore[attr-defined]
    fake.set_edit_path = lambda *args: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mkdocs_gen_files", fake)
    runpy.run_path(str(ROOT / "docs" / "gen_settings.py"))
    assert written == {"settings.md": PAGE}
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs/gen_settings.py" in mkdocs and "settings.md" in mkdocs


def test_readme_has_no_copy_of_the_settings_tables() -> None:
    """The tables live on the generated page only (a copy in the README would drift)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS + DETECTION_SETTINGS + RISK_SETTINGS:
        assert f"| `{setting.name}` |" not in readme, setting.name
