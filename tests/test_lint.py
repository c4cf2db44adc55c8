"""The project's own lint rules (pyproject's [tool.ruff]) hold over the project's code.

Only the project's own directories are checked: `pip install .` leaves a
``build/`` copy of the package behind, and a checkout may hold virtual
environments or other people's code that these rules are not for.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PROJECT_DIRS = ("fastgd", "tests", "benchmarks")


def test_ruff_passes():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    done = subprocess.run([ruff, "check", "--no-cache", *PROJECT_DIRS], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_ignores_build_leftovers(tmp_path):
    """A stale copy under build/ (as `pip install .` leaves) is not linted,
    even when ruff is run on the whole checkout."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for leftover in ("build/lib/fastgd", ".venv-ci/lib", "fastgd-demo"):
        (tmp_path / leftover).mkdir(parents=True)
        (tmp_path / leftover / "bad.py").write_text("import os\n")  # F401
    (tmp_path / "fastgd" / "ok.py").parent.mkdir()
    (tmp_path / "fastgd" / "ok.py").write_text("import os\n")
    done = subprocess.run([ruff, "check", "--no-cache", "."], capture_output=True,
                          text=True, cwd=tmp_path)
    # the project's own file is still checked (so this test can fail) ...
    assert "fastgd/ok.py" in done.stdout
    # ... and nothing under the leftovers is
    assert "bad.py" not in done.stdout, done.stdout
