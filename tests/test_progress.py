"""Chunks computed in pieces: prompt progress and Ctrl-C, unchanged results; compile notes."""

import itertools
import signal
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest

import fastgd as fg
from fastgd import _execute
from tests.conftest import interruptible, subprocess_env

FIELDS = ("x", "fun", "nit", "status", "success", "path_x", "path_fun")


def unpieced(monkeypatch):
    """Make every chunk one kernel call, as before pieces existed."""
    monkeypatch.setattr(_execute, "run_in_pieces",
                        lambda task, start, stop, pacer, on_piece:
                        on_piece(start, stop, task(start, stop)))


def spy_calls(monkeypatch):
    calls = []
    real = _execute.execute

    def spying(task, *args, **kwargs):
        def spied(start, stop):
            calls.append((start, stop))
            return task(start, stop)
        return real(spied, *args, **kwargs)
    monkeypatch.setattr(_execute, "execute", spying)
    return calls


@pytest.mark.parametrize("case", ["quartic", "minibatch"])
def test_pieces_give_bit_identical_results(monkeypatch, seed_data, case):
    if case == "quartic":
        def run():
            return fg.sweep(fg.problems.quartic, x0=np.linspace(-3, 3, 61),
                            lr=np.geomspace(1e-3, 0.3, 37), epochs=80, ftol=1e-12,
                            record=[0, 63, 64, 1000, 2256], chunk_size=1000)
    else:
        fit = fg.problems.exp_linear_fit(*seed_data)

        def run():
            return fg.sweep(fit, x0=np.random.default_rng(0).uniform(0.5, 1.5, (150, 3)),
                            lr=[5e-4, 1e-3], epochs=6, batch_size=10, seed=9,
                            record=[3, 170, 299], momentum=[0.0, 0.5], optimizer="momentum")
    with monkeypatch.context() as m:
        unpieced(m)
        whole = run()
    # Pieces of one block each: the most cuts the pacer ever makes.
    monkeypatch.setattr(_execute, "PIECE_SECONDS", 1e-12)
    calls = spy_calls(monkeypatch)
    pieced = run()
    assert len(calls) >= (whole.size - _execute.FIRST_PIECE) // 64
    assert [c[0] for c in calls[1:]] == [c[1] for c in calls[:-1]]  # consecutive, no gaps
    assert calls[0][0] == 0 and calls[-1][1] == whole.size
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(pieced, name), getattr(whole, name),
                                      err_msg=name)


def test_pacer_sizes_pieces_from_throughput():
    pacer = _execute.Pacer(seconds=0.5, first=256)
    assert pacer.size == 256
    pacer.measured(256, 0.001)             # fast: grows, but at most 8x per piece
    assert pacer.size == 2048
    pacer.measured(2048, 0.002)
    assert pacer.size == 16384
    pacer.measured(16384, 16.384)          # 1 ms per run: 500 runs make half a second
    assert pacer.size == 448               # whole blocks of 64
    pacer.measured(448, 100.0)             # very slow: never below one block
    assert pacer.size == 64


def test_progress_moves_within_a_second_whatever_the_chunk_size(monkeypatch):
    """A chunk of slow runs (0.1 ms each, 1.5 s in all) reports every ~0.2 s."""
    monkeypatch.setattr(_execute, "PIECE_SECONDS", 0.2)
    took, updates = [], []

    def slow(start, stop):
        began = time.perf_counter()
        time.sleep(1e-4 * (stop - start))
        took.append(time.perf_counter() - began)
        return {"v": np.arange(start, stop)}
    got = np.full(15_000, -1)

    def collect(a, b, out):
        got[a:b] = out["v"]
    monkeypatch.setattr(_execute.Progress, "update",
                        lambda self, n: updates.append(time.perf_counter()))
    _execute.execute(slow, 15_000, 1 << 20, collect)
    np.testing.assert_array_equal(got, np.arange(15_000))
    assert len(took) >= 5 and max(took) < 0.6, took
    gaps = np.diff([updates[0]] + updates)
    assert gaps.max() < 0.6


def test_ctrl_c_is_honoured_within_about_a_second(tmp_path):
    """SIGINT during one long chunk (about 20 s of work) stops the sweep promptly."""
    script = textwrap.dedent("""
        import sys, numpy as np, fastgd as fg
        p = fg.problems.exp_linear_fit(*fg.problems.exp_linear_data(100))
        fg.minimize(p, x0=[1.0, 2.0, 3.0], lr=1e-3, epochs=2)   # load or compile first
        print("go", flush=True)
        fg.minimize(p, x0=np.ones((40_000, 3)), lr=1e-3, epochs=3000, progress=False)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=subprocess_env(FASTGD_QUIET="1"), preexec_fn=interruptible)
    try:
        assert proc.stdout.readline().strip() == "go"
        time.sleep(1.0)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        waited = time.perf_counter() - sent
    finally:
        proc.kill()
    assert "finished" not in out
    assert "KeyboardInterrupt" in err
    assert waited < 4.0, f"took {waited:.1f} s to stop after Ctrl-C"


def test_progress_uses_tqdm_in_jupyter(monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, total, **kwargs):
            self.total, self.n, self.closed = total, kwargs.get("initial", 0), False
            bars.append(self)

        def refresh(self):
            pass

        def close(self):
            self.closed = True
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeBar))
    monkeypatch.setattr(_execute, "in_notebook", lambda: True)
    clock = itertools.count(0.0, 0.7)
    monkeypatch.setattr(_execute.time, "perf_counter", lambda: next(clock))
    bar = _execute.Progress(1000)           # default: on, since this is a notebook
    for _ in range(4):
        bar.update(250)
    bar.close()
    assert len(bars) == 1 and bars[0].total == 1000 and bars[0].n == 1000 and bars[0].closed


def test_progress_in_jupyter_without_tqdm_prints_a_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)   # import fails
    monkeypatch.setattr(_execute, "in_notebook", lambda: True)
    clock = itertools.count(0.0, 0.7)
    monkeypatch.setattr(_execute.time, "perf_counter", lambda: next(clock))
    bar = _execute.Progress(1000)
    for _ in range(4):
        bar.update(250)
    bar.close()
    assert "1,000/1,000 runs (100%)" in capsys.readouterr().err


def test_progress_is_off_by_default_outside_terminals_and_notebooks(monkeypatch):
    monkeypatch.setattr(_execute, "in_notebook", lambda: False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not _execute.Progress(10).enabled
    assert _execute.Progress(10, True).enabled
    assert not _execute.in_notebook() or "ipykernel" in sys.modules


def test_note_compile_says_once_per_kernel(monkeypatch, capsys):
    monkeypatch.delenv("FASTGD_QUIET", raising=False)
    monkeypatch.setattr(_execute, "_compiles_noted", set())
    _execute.note_compile("quartic/gd")
    _execute.note_compile("quartic/gd")
    _execute.note_compile("saddle/adam")
    err = capsys.readouterr().err.splitlines()
    assert err == ["fastgd: compiling the kernel for quartic/gd, once (cached afterwards)",
                   "fastgd: compiling the kernel for saddle/adam, once (cached afterwards)"]


def test_note_compile_is_silenced_by_fastgd_quiet(monkeypatch, capsys):
    monkeypatch.setenv("FASTGD_QUIET", "1")
    monkeypatch.setattr(_execute, "_compiles_noted", set())
    _execute.note_compile("quartic/gd")
    assert capsys.readouterr().err == ""
