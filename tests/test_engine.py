"""Compilation, threads and blocking: what the engine promises beyond the numbers."""

import subprocess
import sys

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd import _codegen


def _calls():
    fg.minimize(fg.problems.quartic, x0=[1.0, 2.0], lr=0.01, epochs=5)
    fg.minimize(fg.problems.quartic, x0=np.linspace(-1, 1, 1000), lr=[[0.1], [0.2]], epochs=7,
                xtol=1e-6, record=[3])
    fg.minimize(fg.problems.saddle, x0=[1.0, 2.0], lr=0.01, epochs=5,
                optimizer="momentum", momentum=[0.5, 0.6])


def test_second_call_does_not_compile():
    _calls()
    kernel = _codegen.descend_kernel(_codegen.Variant("gd"), fg.problems.quartic._source)
    modules = dict(_codegen._modules)
    _calls()   # new values, new shapes, the same kinds of call
    assert _codegen._modules == modules
    assert (len(kernel.signatures), len(kernel.overloads)) == (1, 1)


def test_new_objective_compiles_only_itself():
    @numba.njit
    def f(x):
        return (x[0] - 2.0) ** 2

    @numba.njit
    def grad(x, out):
        out[0] = 2.0 * (x[0] - 2.0)

    @numba.njit
    def f3(x):
        return (x[0] - 3.0) ** 2

    @numba.njit
    def grad3(x, out):
        out[0] = 2.0 * (x[0] - 3.0)

    res = fg.minimize(fg.Problem(f, grad, dim=1), x0=[0.0, 5.0], lr=0.25, epochs=50)
    np.testing.assert_allclose(res.x[:, 0], 2.0)
    modules = dict(_codegen._modules)
    # Users' problems share one generic kernel: only their adapters compile.
    res = fg.minimize(fg.Problem(f3, grad3, dim=1), x0=[0.0, 5.0], lr=0.25, epochs=50)
    np.testing.assert_allclose(res.x[:, 0], 3.0)
    assert _codegen._modules == modules


def test_threads_do_not_change_results(seed_data):
    fit = fg.problems.exp_linear_fit(*seed_data)
    kw = dict(x0=np.random.default_rng(1).uniform(0.5, 1.5, (300, 3)), lr=[5e-4, 1e-3],
              epochs=20)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            results.append((
                fg.sweep(fg.problems.quartic, x0=np.linspace(-3, 3, 500),
                         lr=np.geomspace(1e-3, 1, 50), epochs=100, ftol=1e-12),
                fg.sweep(fit, batch_size=10, seed=11, **kw)))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for one, two in zip(*results):
        for field in ("x", "fun", "nit", "status"):
            np.testing.assert_array_equal(getattr(one, field), getattr(two, field))


def test_block_boundaries_do_not_change_results():
    # 1000 runs, then the same runs from offset 37: every run lands in another
    # lane of another block, which must not change a single bit.
    x0 = np.linspace(-3, 3, 1000)
    lr = np.geomspace(1e-3, 0.9, 1000)
    whole = fg.minimize(fg.problems.exp_quadratic, x0=x0, lr=lr, epochs=150, ftol=1e-13)
    part = fg.minimize(fg.problems.exp_quadratic, x0=x0[37:], lr=lr[37:], epochs=150,
                       ftol=1e-13)
    np.testing.assert_array_equal(whole.x[37:], part.x)
    np.testing.assert_array_equal(whole.nit[37:], part.nit)


def test_problem_evaluation_helpers():
    q = fg.problems.quartic
    np.testing.assert_allclose(q(np.array([0.0, 1.0, 2.0])), [10.0, 8.0, 10.0])
    np.testing.assert_allclose(q.gradient([1.0, 2.0])[:, 0], [-4.0, 14.0])
    assert fg.problems.saddle(np.zeros((4, 3, 2))).shape == (4, 3)
    assert "quartic" in repr(q)


@pytest.mark.slow
def test_new_process_loads_kernels_from_cache():
    code = ("import fastgd as fg; from fastgd import _codegen;"
            "fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=5);"
            "k = _codegen.descend_kernel(_codegen.Variant('gd'), fg.problems.quartic._source);"
            "print(sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values()))")
    subprocess.run([sys.executable, "-c", code], check=True)  # make sure it is cached
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out == ["1", "0"]


def test_evaluation_accepts_read_only_arrays():
    points = np.linspace(-1, 1, 6).reshape(3, 2)
    points.flags.writeable = False
    np.testing.assert_allclose(fg.problems.saddle(points),
                               fg.problems.saddle(points.copy()))
    assert fg.problems.saddle.gradient(np.broadcast_to([0.0, 0.0], (4, 2))).shape == (4, 2)


def test_rebuilding_a_problem_compiles_nothing_new():
    from tests import user_problems
    first = user_problems.shifted_bowl()
    fg.minimize(first, x0=0.0, lr=0.1, epochs=3)
    again = user_problems.shifted_bowl()
    fg.minimize(again, x0=0.0, lr=0.1, epochs=3)
    assert again._kernel_functions() is first._kernel_functions()


def test_a_run_that_raises_fails_alone():
    # A user's function compiled with Numba's default error model raises
    # ZeroDivisionError at x = 0 only; that run is FAILED, the others finish.
    @numba.njit
    def f(x):
        return 1.0 / x[0] + x[0] * x[0]

    @numba.njit
    def grad(x, out):
        out[0] = -1.0 / (x[0] * x[0]) + 2.0 * x[0]

    with pytest.warns(UserWarning, match="x=\\[0"), \
            pytest.warns(RuntimeWarning, match="1 of 3 runs ended with status FAILED; the first, "
                         "run 1: grad of problem 'f' at x=\\[0\\] raised ZeroDivisionError"):
        # The probe saw the bad start point; the run's failure is then said in words.
        res = fg.minimize(fg.Problem(f, grad, dim=1), x0=[1.0, 0.0, 2.0], lr=1e-3, epochs=5)
    assert [fg.Status(s).name for s in res.status] == ["MAX_EPOCHS", "FAILED", "MAX_EPOCHS"]
    # It stopped where its gradient raised, before any update.
    assert res.x[1, 0] == 0.0 and res.nit[1] == 0 and not res.success[1]
    alone = fg.minimize(fg.Problem(f, grad, dim=1), x0=[1.0, 2.0], lr=1e-3, epochs=5)
    np.testing.assert_array_equal(res.x[[0, 2]], alone.x)


def test_a_run_failing_at_its_start_value_has_defined_summaries():
    # f raises at x = 0 (its start): FAILED before any update, summaries of "no
    # value", and the other runs' summaries untouched, for any chunking.
    @numba.njit
    def f(x):
        return 1.0 / x[0] + x[0] * x[0]

    @numba.njit
    def grad(x, out):
        out[0] = 2.0 * x[0] - 1.0 / (x[0] * x[0])

    x0 = np.array([1.0, 0.0, 2.0] * 3000)
    runs = []
    for chunk in (9000, 64):
        with pytest.warns(UserWarning), \
                pytest.warns(RuntimeWarning, match="3,000 of 9,000 runs ended with status "
                             "FAILED; the first, run 1: grad of problem 'f' at x=\\[0\\] raised"):
            runs.append(fg.minimize(fg.Problem(f, grad, dim=1), x0=x0, lr=1e-3, epochs=30,
                                    xtol=1e-12, summary=True, chunk_size=chunk))
    for res in runs:
        failed = res.status == fg.Status.FAILED
        assert np.array_equal(failed, x0 == 0.0)
        assert np.all(res.summary["epoch_best"][failed] == -1)
        assert np.all(np.isnan(res.summary["fun_best"][failed]))
        assert np.all(res.summary["loss_ratio_sum"][failed] == 30 * 1e6)
        assert np.all(np.isfinite(res.summary["fun_best"][~failed]))
    for name in ("x", "nit", "status"):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))


def test_errors_raise_turns_failed_runs_into_an_exception():
    @numba.njit
    def f(x):
        return 1.0 / x[0]

    @numba.njit
    def grad(x, out):
        out[0] = -1.0 / (x[0] * x[0])

    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="FAILED"):
        fg.minimize(fg.Problem(f, grad, dim=1), x0=[1.0, 0.0], lr=1e-3, epochs=3,
                    errors="raise")
    with pytest.raises(ValueError, match="errors"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=3, errors="ignore")
