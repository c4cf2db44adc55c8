"""What using fastgd leaves in its own package directory: nothing.

An installed package directory must hold only what pip put there.  Anything
fastgd writes into it at run time (Numba's cache files ``*.nbi``/``*.nbc``
under ``fastgd/__pycache__``) outlives ``pip uninstall``, and the directory left
behind then shadows a later editable install of fastgd as a namespace package
(``cannot import name '__version__' from 'fastgd' (unknown location)``).
"""

import compileall
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastgd as fg

PACKAGE = Path(fg.__file__).parent


def files_under(path):
    return {p.relative_to(path) for p in path.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_running_kernels_writes_nothing_into_the_installed_package(tmp_path):
    site = tmp_path / "site-packages"
    # As pip installs it: the package's files and their bytecode, nothing else.
    shutil.copytree(PACKAGE, site / "fastgd",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    compileall.compile_dir(site / "fastgd", quiet=1)
    installed = files_under(site / "fastgd")
    script = textwrap.dedent("""
        import fastgd as fg
        assert fg.__file__.startswith(%r), fg.__file__
        float(fg.problems.quartic(2.0))                  # an evaluation kernel
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=3)   # the descent
    """ % str(site))
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "PYTHONPATH": str(site), "FASTGD_QUIET": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    written = sorted(str(p) for p in files_under(site / "fastgd") - installed)
    assert written == [], f"fastgd wrote into its package directory: {written[:5]}"
