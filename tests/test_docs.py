"""The documentation site builds in strict mode, and strict mode fails on a broken link or
reference; the README is a front door that links into the site."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")
pytest.importorskip("mkdocs_gen_files")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_MKDOCS_2_WARNING": "1",
           "DISABLE_MKDOCS_2_WARNING": "true"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def _copy_of_site_sources(tmp_path: Path) -> Path:
    """The docs and a config pointing at them, in ``tmp_path`` (paths made absolute)."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("docs/gen_settings.py", str(tmp_path / "docs" / "gen_settings.py"))
    config = config.replace("docs/griffe_sphinx_roles.py",
                            str(tmp_path / "docs" / "griffe_sphinx_roles.py"))
    config = config.replace("paths: [src]", f"paths: [{ROOT / 'src'}]")
    path = tmp_path / "mkdocs.yml"
    path.write_text(config, encoding="utf-8")
    return path


def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = _build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stdout + result.stderr
    settings = (site / "settings.html").read_text(encoding="utf-8")
    assert "encounter.max_distance_m" in settings and "MAX_LINE_BYTES" in settings
    assert (site / "reference" / "events.html").stat().st_size > 10_000
    for page in site.rglob("*.html"):  # offline: nothing is fetched from another host
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', text), page


@pytest.mark.parametrize("broken", [
    "",  # the control: the copy builds as it is
    "[the design](no-such-page.md)",
    "[the design](design.md#no-such-section)",
    "[a function][seasight.analysis.detection.no_such_function]",
])
def test_strict_build_fails_on_a_broken_link(tmp_path: Path, broken: str) -> None:
    config = _copy_of_site_sources(tmp_path)
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\nSee {broken}.\n", encoding="utf-8")
    result = _build(config, tmp_path / "site")
    if not broken:
        assert result.returncode == 0, result.stdout + result.stderr
        return
    assert result.returncode != 0, broken
    assert "Aborted" in result.stdout + result.stderr and "WARNING" in result.stderr, broken


def test_readme_is_a_front_door() -> None:
    lines = README.splitlines()
    assert len(lines) < 200
    assert lines[0] == "# SeaSight"
    assert lines[2:6] == [
        "```sh",
        "make demo    # installs SeaSight in .venv, builds the web map, runs `seasight demo`: "
        "open the address it prints",
        "make test    # installs SeaSight, its test tools, the web map's npm packages and "
        "chromium; runs every test",
        "```",
    ]
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", README)
    assert len(links) >= 8
    for link in links:
        assert (ROOT / link).is_file(), link
