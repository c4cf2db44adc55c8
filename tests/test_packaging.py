"""What pip installs: licence, one version, lower bounds, type hints."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fastgd as fg

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the checks hold on any

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_licence_file_matches_the_declared_licence():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 fastgd developers" in text
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_version_is_defined_once():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "fastgd.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", fg.__version__)


def test_dependencies_have_lower_bounds_not_pins():
    project = PYPROJECT["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += [r for r in extra if not r.startswith("fastgd[")]
    for requirement in requirements:
        assert "==" not in requirement and ">=" in requirement, requirement


def test_typed_marker_is_package_data():
    assert (ROOT / "fastgd" / "py.typed").exists()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["fastgd"]


@pytest.mark.parametrize("func", [fg.minimize, fg.sweep, fg.load, fg.save, fg.lr_scan,
                                  fg.check_grad, fg.Problem, fg.LeastSquares,
                                  fg.Problem.from_expression,
                                  fg.LeastSquares.from_expression])
def test_public_api_has_type_hints(func):
    import inspect
    target = func.__init__ if isinstance(func, type) else func
    hints = inspect.get_annotations(inspect.unwrap(target))
    params = [p for p in inspect.signature(target).parameters if p not in ("self", "cls")]
    assert "return" in hints, func
    missing = [p for p in params if p not in hints]
    assert not missing, f"{func.__qualname__}: no hint for {missing}"


@pytest.mark.slow
def test_wheel_holds_licence_marker_and_version(tmp_path):
    """Build the wheel from a copy of the sources (the checkout stays clean).

    With build isolation, as `pip install .` does: pip fetches the build backend
    that pyproject.toml asks for, whatever setuptools the test's environment has
    (a fresh venv's is too old for the licence expression).
    """
    src = tmp_path / "src"
    shutil.copytree(ROOT / "fastgd", src / "fastgd",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wheel, = (tmp_path / "dist").glob("fastgd-*.whl")
    assert wheel.name.startswith(f"fastgd-{fg.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fastgd/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(
        f"fastgd-{fg.__version__}.dist-info/METADATA").decode()
    assert f"Version: {fg.__version__}" in metadata and "License-Expression: MIT" in metadata
