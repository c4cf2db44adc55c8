"""The project's own lint rules (pyproject's [tool.ruff]) hold over the whole tree."""

import shutil
import subprocess
from pathlib import Path

import pytest


def test_ruff_passes():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    root = Path(__file__).parents[1]
    done = subprocess.run([ruff, "check", "--no-cache", str(root)], capture_output=True,
                          text=True, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
