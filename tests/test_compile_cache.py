"""Compiling on a cold cache: a module is compiled by one process at a time, and
`fastgd demo` compiles its later steps' kernels in a second process.

The demo's tests start from a copy of the kernels the quick demo loads (the
suite compiles them anyway, in the default cache) without two of them, so that
two compiles, not eleven, show what happens on a cold cache.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from fastgd import _codegen, demo
from tests.conftest import subprocess_env

# A module whose compile takes a while: the sleep stands for Numba's work.
SLOW_MODULE = textwrap.dedent("""
    import time
    time.sleep({sleep})
    from numba import float64, njit


    @njit(float64(float64), cache=True)
    def twice(x):
        return 2.0 * x
""")

LOAD = textwrap.dedent("""
    import sys, time
    from fastgd import _codegen
    start = time.perf_counter()
    module = _codegen._load_module("twice", {source!r})
    print(module.twice(21.0), time.perf_counter() - start)
""")


def note(what, background=False):
    where = " in the background" if background else ""
    return f"fastgd: compiling the kernel for {what}{where}, once (cached afterwards)"


def start_loading(cache, sleep):
    """A process loading `SLOW_MODULE`, returned once it has said it compiles."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOAD.format(source=SLOW_MODULE.format(sleep=sleep))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(FASTGD_CACHE_DIR=str(cache)))
    assert proc.stderr.readline().strip() == note("twice")
    return proc


def load(cache):
    done = subprocess.run(
        [sys.executable, "-c", LOAD.format(source=SLOW_MODULE.format(sleep=2.0))],
        capture_output=True, text=True, env=subprocess_env(FASTGD_CACHE_DIR=str(cache)),
        timeout=300)
    assert done.returncode == 0, done.stderr
    value, seconds = done.stdout.split()
    assert float(value) == 42.0
    return done.stderr, float(seconds)


def test_a_module_another_process_compiles_is_waited_for_then_loaded(tmp_path):
    first = start_loading(tmp_path, sleep=2.0)
    start = time.perf_counter()
    err, seconds = load(tmp_path)
    # Without the lock it would have compiled the module too, and said so.
    assert err == ""
    out, err_first = first.communicate(timeout=300)
    assert first.returncode == 0 and float(out.split()[0]) == 42.0, err_first
    # It waited for the first process's compile (which had most of 2 s to go).
    assert seconds > 0.5 and time.perf_counter() - start > 0.5


def test_a_process_killed_while_compiling_leaves_the_module_to_the_next(tmp_path):
    first = start_loading(tmp_path, sleep=600)
    first.kill()
    first.communicate()
    err, seconds = load(tmp_path)
    assert err.strip() == note("twice")   # compiled here, not waited for
    assert seconds < 60


def test_no_background_process_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    # (A path under a file: a directory that cannot be made, even by root.)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("FASTGD_CACHE_DIR", str(tmp_path / "file" / "cache"))
    monkeypatch.setattr(_codegen, "_fallback", [])
    background = demo._Background()
    with pytest.warns(RuntimeWarning, match="cannot write its kernel cache"):
        background.start("quartic/gd")
    assert background.proc is None
    shutil.rmtree(_codegen._fallback[0])


# --- the demo ------------------------------------------------------------------------

RECORD = textwrap.dedent("""
    import hashlib, json, sys
    from fastgd import _codegen, demo
    loaded = {}
    real = _codegen._load_module

    def record(what, source):
        loaded[hashlib.sha256(source.encode()).hexdigest()[:24]] = what
        return real(what, source)

    _codegen._load_module = record
    demo.run(sys.argv[1], quick=True)
    print(json.dumps({"folder": str(_codegen.cache_dir()), "modules": loaded}))
""")

@pytest.fixture(scope="module")
def demo_kernels(tmp_path_factory):
    """The quick demo's modules in the default cache: (folder, {digest: what})."""
    out = tmp_path_factory.mktemp("record")
    done = subprocess.run([sys.executable, "-c", RECORD, str(out)], capture_output=True,
                          text=True, env=subprocess_env(), timeout=900)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    return found["folder"], found["modules"]


def demo_cache(demo_kernels, tmp_path, left_out):
    """A cache directory holding the demo's kernels but those named in ``left_out``."""
    folder, modules = demo_kernels
    assert set(left_out) <= set(modules.values())
    cache = tmp_path / "cache"
    sub = cache / os.path.basename(folder)
    (sub / "__pycache__").mkdir(parents=True)
    for digest, what in modules.items():
        if what in left_out:
            continue
        # copy2 keeps the modification time, which Numba's cache index checks.
        shutil.copy2(os.path.join(folder, f"k{digest}.py"), sub)
        for name in os.listdir(os.path.join(folder, "__pycache__")):
            if name.startswith(f"k{digest}."):
                shutil.copy2(os.path.join(folder, "__pycache__", name), sub / "__pycache__")
    return cache


def run_demo(cache, out, program=None):
    program = program or "from fastgd import demo; import sys; demo.run(sys.argv[1], quick=True)"
    done = subprocess.run([sys.executable, "-c", program, str(out)], capture_output=True,
                          text=True, env=subprocess_env(FASTGD_CACHE_DIR=str(cache)),
                          timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("fastgd: compiling")]


def test_the_demo_compiles_later_steps_in_the_background_once(demo_kernels, tmp_path):
    cache = demo_cache(demo_kernels, tmp_path,
                       left_out=("quartic/gd (scheduled)", "exp_linear_fit"))
    notes = run_demo(cache, tmp_path / "out")
    # Step 6's kernel started the background process, which compiled step 7's
    # functions while the demo compiled step 6's kernel; the demo then loaded them.
    assert sorted(notes) == sorted([note("quartic/gd (scheduled)"),
                                    note("exp_linear_fit", background=True)])
    assert run_demo(cache, tmp_path / "out") == []   # everything is cached now


def test_a_background_process_that_dies_does_not_fail_the_demo(demo_kernels, tmp_path):
    cache = demo_cache(demo_kernels, tmp_path, left_out=("quartic", "exp_linear_fit"))
    # Step 4's functions start the background process, which kills itself as it
    # starts to compile step 7's, holding their lock: the demo compiles them
    # itself when it gets there (or first, and the background process loads them).
    program = textwrap.dedent("""
        import sys
        from fastgd import demo
        demo._CHILD = ("import os, signal; from fastgd import _codegen; "
                       "_codegen._compile_hooks.append("
                       "lambda what: os.kill(os.getpid(), signal.SIGKILL)); " + demo._CHILD)
        demo.run(sys.argv[1], quick=True)
    """)
    notes = run_demo(cache, tmp_path / "out", program)
    assert sorted(notes) == sorted([note("quartic"), note("exp_linear_fit")])
