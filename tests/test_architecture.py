"""The package layout shows the pipeline: no loose modules at the top, and every import goes
from a later stage to an earlier one (the contract in ``.importlinter``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "seasight"

#: The only modules at the top of the package: the package itself, ``python -m seasight``, and
#: the table of every setting (it reads every stage, so it sits above them all).
TOP_MODULES = {"__init__.py", "__main__.py", "settings.py"}


def test_no_loose_modules_at_the_top() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")} - TOP_MODULES
    assert loose == set(), f"group these into a stage package: {sorted(loose)}"


def test_every_package_is_a_layer_of_the_contract() -> None:
    contract = (ROOT / ".importlinter").read_text()
    packages = {p.name for p in PACKAGE.iterdir()
                if p.is_dir() and (p / "__init__.py").is_file()}
    missing = {name for name in packages if f"seasight.{name}" not in contract}
    assert missing == set(), f"add these packages to .importlinter's layers: {sorted(missing)}"


def test_imports_follow_the_data_flow() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([lint, "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
