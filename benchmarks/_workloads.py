"""Workloads, the timing helper and the dispatch shared by the ``bench_*`` files.

Every workload is one batch of independent gradient-descent runs, built the same way
for every implementation; each implementation's final points are checked against
fastgd's before its time counts.  The implementations (`IMPLS`) are in `_peers`:
the tutorial's own loops, NumPy, PyTorch eager and compiled, JAX, a hand-fused Numba
loop and C, each written as someone who knows that library would write it for
speed.  ``fastgd-1t`` / ``fastgd`` are `fastgd.minimize` on one thread / all cores,
including its Python layer (validation, broadcasting, allocation).

JAX, PyTorch and gcc are optional: their benchmarks skip when they are missing.
"""

import json
import os
import time
from dataclasses import dataclass

import _peers
import numba
import numpy as np

import fastgd as fg

#: Size presets.  "smoke" runs every benchmark body once in the normal test run;
#: "full" is the size the issue asks for; "medium" is 1/10 of the runs of "full".
SIZES = ("smoke", "medium", "full")

#: Seconds of timed rounds to aim for per benchmark, and the bounds on rounds.
ROUND_BUDGET_S = 4.0
MIN_ROUNDS, MAX_ROUNDS = 1, 5


def size_from_env():
    return "full" if os.environ.get("FASTGD_BENCH_FULL", "") not in ("", "0") else "smoke"


# --- workloads ------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """One batch of runs: what to minimise, from where, with which hyper-parameters."""

    name: str          # benchmark group
    runs: int
    updates: int       # updates per run (epochs x batches per epoch)
    epochs: int
    x0: np.ndarray     # (runs,) or (runs, dim)
    lr: np.ndarray     # (runs,)
    ref_runs: int      # runs of the plain-Python slice
    options: dict      # extra arguments of fg.minimize
    unit: str = "1 update"
    note: str = ""

    def ref_slice(self):
        """Evenly strided run indices for the plain-Python reference."""
        return np.unique(np.linspace(0, self.runs - 1, min(self.ref_runs, self.runs)).astype(int))


def _grid(n_a, n_b, a, b):
    """Outer product of two 1-D value lists, flattened (b varies fastest)."""
    A, B = np.meshgrid(a, b, indexing="ij")
    assert A.size == n_a * n_b
    return A.ravel().copy(), B.ravel().copy()


# (runs of the 1st axis, runs of the 2nd axis, updates, reference slice) per size.
_SHAPES = {
    "smoke":  dict(grid=(8, 16, 50), big=(16, 16, 50), ref=4, fit=(64, 20), fit_ref=2,
                   ftol=(8, 16, 3000)),
    "medium": dict(grid=(200, 50, 1000), big=(1000, 100, 1000), ref=200, fit=(1000, 500),
                   fit_ref=10, ftol=(200, 50, 10000)),
    "full":   dict(grid=(200, 500, 1000), big=(1000, 1000, 1000), ref=400, fit=(10000, 500),
                   fit_ref=20, ftol=(200, 500, 10000)),
}


def workload(name, size):
    """The named workload at a size preset."""
    s = _SHAPES[size]
    if name in ("exp_quadratic", "momentum"):
        n1, n2, ep = s["grid"]
        hi = 4.0 if name == "exp_quadratic" else 2.0
        x0, lr = _grid(n1, n2, np.linspace(-4.0, hi, n1), np.logspace(-3, np.log10(0.5), n2)
                       if name == "exp_quadratic" else np.logspace(-3, -1, n2))
        opts = {} if name == "exp_quadratic" else dict(optimizer="momentum", momentum=0.9)
        return Workload(name, x0.size, ep, ep, x0, lr, s["ref"], opts)
    if name == "quartic":
        n1, n2, ep = s["big"]
        x0, lr = _grid(n1, n2, np.linspace(-2.5, 2.5, n1), np.logspace(-3, np.log10(0.02), n2))
        return Workload(name, x0.size, ep, ep, x0, lr, s["ref"], {})
    if name == "step_decay":
        n1, n2, ep = s["grid"]
        x0, lr = _grid(n1, n2, np.linspace(-2.5, 2.5, n1), np.logspace(-3, np.log10(0.02), n2))
        every = max(ep // 10, 1)
        return Workload(name, x0.size, ep, ep, x0, lr, s["ref"],
                        dict(schedule=fg.step_decay(every, 0.5)),
                        note=f"quartic, lr halved every {every} epochs")
    if name == "saddle":
        n1, n2, ep = s["grid"]
        x, y = _grid(n1, n2, np.linspace(-3.0, 3.0, n1), np.linspace(-3.0, 3.0, n2))
        x0 = np.stack([x, y], axis=1)
        return Workload(name, x.size, ep, ep, x0, np.full(x.size, 1e-3), s["ref"], {},
                        note="2-D, starts on a grid over [-3, 3]^2, lr = 0.001 (the tutorial's)")
    if name in ("fit_full", "fit_minibatch"):
        runs, ep = s["fit"]
        rng = np.random.default_rng(1)
        x0 = np.stack([rng.uniform(1.1, 1.3, runs), rng.uniform(1.0, 4.0, runs),
                       rng.uniform(2.0, 6.0, runs)], axis=1)
        # The tutorial's lr = 1e-3 sends ~3 % of shuffled mini-batch runs to infinity from
        # these starts; 5e-4 keeps every run finite, so no run stops early.
        lr = np.full(runs, 5e-4)
        if name == "fit_full":
            return Workload(name, runs, ep, ep, x0, lr, s["fit_ref"], {},
                            unit="1 epoch = 100 data", note="100 data points, full batch, lr = 5e-4")
        return Workload(name, runs, ep * 10, ep, x0, lr, max(s["fit_ref"] // 4, 1),
                        dict(batch_size=10, shuffle=True, seed=0),
                        unit="1 mini-batch = 10 data",
                        note="batches of 10, reshuffled per run and epoch, lr = 5e-4")
    if name == "ftol":
        n1, n2, ep = s["ftol"]
        x0, lr = _grid(n1, n2, np.linspace(-4.0, 4.0, n1), np.logspace(-3, np.log10(0.5), n2))
        return Workload(name, x0.size, ep, ep, x0, lr, max(s["ref"] // 2, 2),
                        dict(ftol=1e-10),
                        unit="1 nominal update (max epochs)",
                        note="e^x + x^2, ftol = 1e-10, runs stop when converged")
    raise KeyError(name)


fit_data = _peers.fit_points


def problem_of(w):
    if w.name in ("exp_quadratic", "momentum", "ftol"):
        return fg.problems.exp_quadratic
    if w.name in ("quartic", "step_decay"):
        return fg.problems.quartic
    if w.name == "saddle":
        return fg.problems.saddle
    return fg.problems.exp_linear_fit(*fit_data())


def run_fastgd(w, threads=None):
    """fastgd.minimize on the workload, on ``threads`` threads (default: all)."""
    problem = problem_of(w)
    before = numba.get_num_threads()
    numba.set_num_threads(threads or numba.config.NUMBA_NUM_THREADS)
    try:
        return fg.minimize(problem, w.x0, lr=w.lr, epochs=w.epochs, **w.options)
    finally:
        numba.set_num_threads(before)


# --- checking ---------------------------------------------------------------------

#: Tolerances per workload for "same answer".  The dynamics are contracting for the
#: analytic problems, so different exp implementations (1-2 ulp) end at the same point.
TOL = {
    "exp_quadratic": dict(rtol=1e-7, atol=1e-9),
    "quartic": dict(rtol=1e-7, atol=1e-9),
    "saddle": dict(rtol=1e-6, atol=1e-8),
    "momentum": dict(rtol=1e-6, atol=1e-8),
    "step_decay": dict(rtol=1e-7, atol=1e-9),
    "fit_full": dict(rtol=1e-6, atol=1e-8),
    # A peer that checks convergence every K steps stops a little later.
    "ftol": dict(rtol=0, atol=2e-3),
}


def check(w, got, expected, idx=None, tol=None):
    """Assert a peer's final points match fastgd's (``expected``, a Result)."""
    want = np.asarray(expected.x, dtype=np.float64).reshape(w.runs, -1)
    if w.name == "fit_minibatch" and idx is None:
        return _check_loss(w, got, want)
    if idx is not None:
        want = want[idx]
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    assert np.all(np.isfinite(want)), f"{w.name}: fastgd itself diverged on some run"
    np.testing.assert_allclose(got, want, err_msg=f"{w.name}: wrong result",
                               **(tol or TOL[w.name]))


def _check_loss(w, got, want):
    """Shuffled mini-batches: each peer draws its own orders, so runs end at different
    points (the steps are large where e^(-a x) is).  Compare the distribution of the
    final loss instead: its quartiles within 25 % of fastgd's."""
    loss = problem_of(w)
    # A copy: fastgd's Problem.__call__ rejects read-only arrays (np.asarray of a
    # JAX array is one) with a Numba TypeError.
    got = np.array(got, dtype=np.float64).reshape(want.shape)
    assert np.all(np.isfinite(got)), f"{w.name}: non-finite result"
    q_got = np.quantile(loss(got), [0.25, 0.5, 0.75])
    q_want = np.quantile(loss(want), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q_got, q_want, rtol=0.25,
                               err_msg=f"{w.name}: final-loss quartiles differ")


# --- timing -----------------------------------------------------------------------

def measure(benchmark, w, impl, fn, verify, *, runs=None, full_runs=None, note="",
            extra=None, may_fail=False):
    """Time ``fn`` (no arguments) with pytest-benchmark and check its result.

    The first call compiles (fastgd, JAX, torch.compile, C) and is checked, and its
    time is kept (``first_call_s``); the rounds that follow are timed, as many as fit
    in `ROUND_BUDGET_S`.  With ``--benchmark-disable`` (the normal test run) the body
    runs once and is checked.  With ``may_fail`` (torch.compile), an exception in the
    first call is recorded for the report (`FAILURES_ENV`) and the benchmark skipped.
    """
    import pytest

    benchmark.group = w.name
    runs = w.runs if runs is None else runs
    benchmark.extra_info.update(
        impl=impl, runs=int(runs), updates=int(w.updates),
        workload_runs=int(full_runs or w.runs),
        epochs=int(w.epochs), unit=w.unit, workload_note=w.note, note=note,
        threads=_threads_of(impl), **(extra or {}))
    t0 = time.perf_counter()
    try:
        got = benchmark(fn) if benchmark.disabled else fn()
    except Exception as exc:
        if not may_fail:
            raise
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
        path = os.environ.get(FAILURES_ENV)
        if path:
            with open(path, "a") as fh:
                fh.write(json.dumps(dict(workload=w.name, impl=impl, error=reason)) + "\n")
        pytest.skip(f"{impl} failed on {w.name}: {reason}")
    first = time.perf_counter() - t0
    verify(got)
    if benchmark.disabled:
        return
    rounds = int(min(MAX_ROUNDS, max(MIN_ROUNDS, ROUND_BUDGET_S // max(first, 1e-9))))
    benchmark.extra_info["first_call_s"] = first
    verify(benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0))


#: Environment variable naming a file where failed peers (torch.compile) are listed,
#: one JSON object per line; `report.py` sets it and shows them in its tables.
FAILURES_ENV = "FASTGD_BENCH_FAILURES"


def _threads_of(impl):
    if impl in ("fastgd-1t", "tutorial", "numpy"):
        return 1
    if impl in ("torch", "torch-compile"):
        return _peers.TORCH_THREADS
    return numba.config.NUMBA_NUM_THREADS


# --- one benchmark: a workload, an implementation ------------------------------------

IMPLS = ("tutorial", "numpy", "torch", "torch-compile", "jax", "fused", "c", "fastgd-1t",
         "fastgd")
#: The ftol workload also times JAX's second strategy (`_peers._jax_ftol_runner`);
#: the report keeps the faster of the two and says which.
FTOL_IMPLS = IMPLS + ("jax-while",)

#: Workloads where a peer at full size would take minutes per call: it runs an evenly
#: strided subset of this many runs (per-run cost is flat there; if anything the
#: smaller arrays favour the peer) and is scaled per run-update.
PEER_RUNS_CAP = {"quartic": (250_000, ("numpy", "torch", "torch-compile")),
                 "fit_minibatch": (2_500, ("numpy", "torch", "torch-compile", "jax"))}

#: torch.compile compiles for tens of seconds per workload: in the smoke run (the
#: normal test suite) it is exercised on one workload only.
COMPILE_SMOKE = ("exp_quadratic",)


def subset(w, idx):
    """The workload restricted to runs ``idx``."""
    return Workload(w.name, idx.size, w.updates, w.epochs, w.x0[idx], w.lr[idx],
                    w.ref_runs, w.options, w.unit, w.note)


def tutorial_slice(w, expected):
    """Runs for the tutorial's loop: evenly strided, or for tolerance-stopped runs a
    stratified sample (every k-th run in order of stopping epoch), so that the slice's
    mean epochs equal the whole workload's."""
    n = min(w.ref_runs, w.runs)
    if "ftol" not in w.options:
        return np.unique(np.linspace(0, w.runs - 1, n).astype(int))
    nit = np.asarray(expected.nit).reshape(-1)
    order = np.argsort(nit, kind="stable")
    picks = ((np.arange(n) + 0.5) * w.runs / n).astype(int)
    return np.sort(order[picks])


def bench_one(benchmark, w, impl, expected, bench_size="smoke"):
    """Time implementation ``impl`` on workload ``w``; ``expected`` is fastgd's Result."""
    import pytest

    full_runs = w.runs
    cap, capped = PEER_RUNS_CAP.get(w.name, (None, ()))
    note = ""
    if impl in capped and w.runs > cap:
        idx = np.unique(np.linspace(0, w.runs - 1, cap).astype(int))
        w, expected = subset(w, idx), _Sliced(expected, idx)
        note = f"{idx.size:,} of {full_runs:,} runs (strided), scaled per run-update"
    ftol = w.name == "ftol"
    if ftol and impl in ("numpy", "torch", "torch-compile", "jax"):
        note = "; ".join(n for n in (note, f"tests ftol every {_peers.FTOL_CHUNK} steps "
                                     "and drops converged runs") if n)
    kw = dict(runs=w.runs, full_runs=full_runs, note=note)
    if impl == "tutorial":
        idx = tutorial_slice(w, expected)
        extra = {}
        note = f"{idx.size} of {w.runs:,} runs (strided), scaled per run-update"
        if ftol:
            nit = np.asarray(expected.nit).reshape(-1)
            extra = dict(slice_mean_epochs=float(nit[idx].mean()),
                         workload_mean_epochs=float(nit.mean()))
            note = (f"{idx.size} of {w.runs:,} runs, stratified by stopping epoch: mean "
                    f"{nit[idx].mean():.0f} epochs against {nit.mean():.0f} for all runs")
        measure(benchmark, w, impl, lambda: _peers.run_tutorial(w, idx),
                lambda got: check(w, got, _exact(w, idx, expected), idx,
                                  tol=dict(rtol=1e-7, atol=1e-9) if not ftol else None),
                runs=idx.size, full_runs=full_runs, note=note, extra=extra)
    elif impl == "numpy":
        measure(benchmark, w, impl, lambda: _peers.run_numpy(w),
                lambda got: check(w, got, expected), **kw)
    elif impl in ("fastgd", "fastgd-1t"):
        threads = 1 if impl == "fastgd-1t" else None
        if ftol:
            kw["note"] = ("stops each run when |f change| <= ftol; a lane whose run "
                          "stopped takes the next run")
        measure(benchmark, w, impl, lambda: run_fastgd(w, threads),
                lambda got: check(w, got.x, expected), **kw)
    elif impl in ("jax", "jax-while"):
        pytest.importorskip("jax")
        variant = "while" if impl == "jax-while" else "fori"
        if ftol and variant == "while":
            kw["note"] = (f"a while_loop per chunk of up to {_peers.FTOL_CHUNK} steps, "
                          "testing every step; drops converged runs between chunks")
        measure(benchmark, w, impl, _peers.jax_runner(w, variant),
                lambda got: check(w, got, expected), **kw)
    elif impl in ("torch", "torch-compile"):
        pytest.importorskip("torch")
        compiled = impl == "torch-compile"
        if compiled and bench_size == "smoke" and w.name not in COMPILE_SMOKE:
            pytest.skip("torch.compile is exercised on one workload in the smoke run")
        measure(benchmark, w, impl, _peers.torch_runner(w, compiled=compiled),
                lambda got: check(w, got, expected), may_fail=compiled, **kw)
    elif impl == "fused":
        if w.name not in _peers.FUSED:
            pytest.skip("the hand-fused loop covers e^x + x^2 and the quartic only")
        measure(benchmark, w, impl, _peers.fused_runner(w),
                lambda got: check(w, got, expected), **kw)
    elif impl == "c":
        if w.name not in ("exp_quadratic", "quartic"):
            pytest.skip("the C loop covers e^x + x^2 and the quartic only")
        lib = _peers.c_library()
        if lib is None:
            pytest.skip("gcc (with OpenMP) not available")
        measure(benchmark, w, impl, _peers.c_runner(w, lib),
                lambda got: check(w, got, expected), **kw)
    else:
        raise KeyError(impl)


def _Sliced(expected, idx):
    x = np.asarray(expected.x)
    return _Points(x.reshape(x.shape[0], -1)[idx])


def _exact(w, idx, expected):
    """What the tutorial's loop must reproduce on its slice.

    The tutorial's mini-batch loop visits batches in the data's order, so it is
    checked against fastgd with ``shuffle=False`` on the same runs.
    """
    if w.name != "fit_minibatch":
        return expected
    sub = Workload(w.name, idx.size, w.updates, w.epochs, w.x0[idx], w.lr[idx],
                   w.ref_runs, dict(w.options, shuffle=False))
    res = run_fastgd(sub)
    full = np.full((w.runs, 3), np.nan)
    full[idx] = res.x
    return _Points(full)


@dataclass(frozen=True)
class _Points:
    x: np.ndarray
