"""Batches and sweeps equal the reference run one by one."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastgd as fg
from fastgd import reference as ref
from fastgd._math import exp as _exp
from tests.conftest import assert_path_close

PROBLEMS = {
    "exp_quadratic": (ref.exp_quadratic_grad, ref.exp_quadratic),
    "quartic": (ref.quartic_grad, ref.quartic),
}

starts = st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=4)
# Rates where both problems contract on [-3, 3]: at large rates GD on the quartic
# is chaotic, and a 1-ulp difference between np.exp (the tutorial's) and libm's exp
# or between pow and repeated multiplication grows without bound.  Those rates
# are covered by the exact batch-vs-single test below.
rates = st.lists(st.floats(1e-4, 0.01, allow_nan=False), min_size=1, max_size=4)
wild_rates = st.lists(st.floats(1e-4, 1.0, allow_nan=False), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(PROBLEMS)), x0=starts, lr=rates,
       momentum=st.one_of(st.none(), st.lists(st.floats(0, 0.95), min_size=1, max_size=3)),
       every=st.one_of(st.none(), st.integers(1, 12)), epochs=st.integers(1, 60))
def test_sweep_equals_reference_run_by_run(name, x0, lr, momentum, every, epochs):
    grad, f = PROBLEMS[name]
    options = {}
    if momentum is not None:
        options.update(optimizer="momentum", momentum=momentum)
    if every is not None:
        options["schedule"] = fg.step_decay(every=every, factor=0.5)
    res = fg.sweep(getattr(fg.problems, name), x0=x0, lr=lr, epochs=epochs, **options)
    assert res.dims == (("x0", "lr") + (("momentum",) if momentum is not None else ()))
    for index in np.ndindex(res.shape):
        kw = {"f": f}
        if momentum is not None:
            kw["momentum"] = momentum[index[2]]
        if every is not None:
            kw.update(every=every, factor=0.5)
        want = ref.descend(grad, x0[index[0]], lr[index[1]], epochs, **kw)
        assert res.status[index] == want.status
        assert res.nit[index] == want.nit
        if want.status != ref.DIVERGED:
            assert_path_close(res.x[index], want.x)
            assert_path_close(res.fun[index], want.fun)


# The kernels' arithmetic, written as a plain loop on Python floats: the tutorial's
# df with fastgd's exp (fastgd._math.exp, called from Python) in place of np.exp and
# x ** 3 formed as x * x * x (as Numba forms it), no fastmath.  Independent of the
# kernels' code, and equal to them bit for bit at any rate.
PLAIN_GRAD = {
    "exp_quadratic": lambda x: _exp(x) + x * 2,
    "quartic": lambda x: 4 * x * x * x - 10 * x + 2,
}
PLAIN_F = {
    "exp_quadratic": lambda x: _exp(x) + x * x,
    "quartic": lambda x: x * x * x * x - 5 * x * x + 2 * x + 10,
}


def plain_run(name, x, lr, epochs, bound=1e100):
    """x, nit, status of one run: GD with fastgd's divergence rule (|x| > bound, or
    a non-finite f at the end)."""
    grad = PLAIN_GRAD[name]
    for epoch in range(1, epochs + 1):
        x = x - lr * grad(x)
        if not abs(x) <= bound:
            return x, epoch, fg.Status.DIVERGED
    finite = math.isfinite(PLAIN_F[name](x))
    return x, epochs, fg.Status.MAX_EPOCHS if finite else fg.Status.DIVERGED


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(sorted(PROBLEMS)), x0=starts, lr=wild_rates,
       epochs=st.integers(1, 80))
def test_sweep_equals_plain_loop_exactly(name, x0, lr, epochs):
    """Any rate, chaotic or diverging: every run of a batch is the plain loop's, bit
    for bit (a 1-ulp difference would grow to a visible one at chaotic rates)."""
    res = fg.sweep(getattr(fg.problems, name), x0=x0, lr=lr, epochs=epochs)
    for i, j in np.ndindex(res.shape):
        x, nit, status = plain_run(name, x0[i], lr[j], epochs)
        assert (res.nit[i, j], res.status[i, j]) == (nit, status)
        if status != fg.Status.DIVERGED:
            assert res.x[i, j, 0] == x, (x0[i], lr[j])


def test_chaotic_rates_equal_plain_loop_exactly():
    # The quartic at lr 0.15-0.2 and e^x + x^2 at lr 0.70-0.745 (its stability limit
    # is 2 / f''(x*) = 0.74): oscillating, chaotic or diverging runs over 200 epochs, in
    # full blocks of lanes and a ragged tail.  With np.exp and x ** 3 instead, about
    # half of the runs that stay finite end on different bits.
    for name, rates, starts in (
            ("quartic", np.linspace(0.15, 0.2, 9), np.linspace(-2.0, 2.0, 23)),
            ("exp_quadratic", np.linspace(0.70, 0.745, 5), np.linspace(-1.35, 0.65, 23))):
        res = fg.sweep(getattr(fg.problems, name), x0=starts, lr=rates, epochs=200)
        for i, j in np.ndindex(res.shape):
            x, nit, status = plain_run(name, float(starts[i]), float(rates[j]), 200)
            assert (res.nit[i, j], res.status[i, j]) == (nit, status)
            if status != fg.Status.DIVERGED:
                assert res.x[i, j, 0] == x, (name, starts[i], rates[j])


@settings(max_examples=10, deadline=None)
@given(points=st.lists(st.tuples(st.floats(-2, 2), st.floats(-2, 2)), min_size=1, max_size=5),
       lr=rates)
def test_saddle_sweep_over_points(points, lr):
    res = fg.sweep(fg.problems.saddle, x0=np.array(points), lr=lr, epochs=50)
    assert res.x.shape == (len(points), len(lr), 2)
    for i, p in enumerate(points):
        for j, rate in enumerate(lr):
            want = ref.descend(ref.saddle_grad, p, rate, 50, f=ref.saddle)
            assert res.status[i, j] == want.status
            if want.status != ref.DIVERGED:
                assert_path_close(res.x[i, j], want.x)


def test_minimize_broadcasts_numpy_style():
    x0 = np.linspace(-2, 2, 5)[:, None]          # (5, 1)
    lr = np.array([0.01, 0.05, 0.1])             # (3,)
    res = fg.minimize(fg.problems.quartic, x0=x0, lr=lr, epochs=20)
    assert res.shape == (5, 3) and res.x.shape == (5, 3, 1)
    assert res.params["lr"].shape == (5, 3)
    single = fg.minimize(fg.problems.quartic, x0=x0[3, 0], lr=lr[2], epochs=20)
    assert single.x[0] == res.x[3, 2, 0]


def test_sweep_over_schedule_parameters():
    res = fg.sweep(fg.problems.quartic, x0=[2.1, -0.5], lr=0.15, epochs=30,
                   schedule=fg.step_decay(every=[5, 10, 15], factor=[0.5, 0.9]))
    assert res.dims == ("x0", "every", "factor")
    assert res.coords["every"].tolist() == [5, 10, 15]
    want = ref.descend(ref.quartic_grad, 2.1, 0.15, 30, every=10, factor=0.5,
                       f=ref.quartic)
    assert_path_close(res.x[0, 1, 0], want.x)
    one = fg.minimize(fg.problems.quartic, x0=-0.5, lr=0.15, epochs=30,
                      schedule=fg.step_decay(every=15, factor=0.9))
    np.testing.assert_array_equal(one.x[0], res.x[1, 2, 1])


def test_minibatch_sweep_over_rates_and_starts(seed_data):
    x, y = seed_data
    fit = fg.problems.exp_linear_fit(x, y)
    starts = np.array([[1.0, 2.0, 3.0], [1.0, 3.0, 5.0]])
    res = fg.sweep(fit, x0=starts, lr=[5e-4, 1e-3], epochs=15, batch_size=10, seed=3)
    for i in range(2):
        for j, rate in enumerate([5e-4, 1e-3]):
            want = ref.fit(x, y, tuple(starts[i]), rate, 15, batch_size=10, shuffle=True,
                           seed=3, run=i * 2 + j)
            assert_path_close(res.x[i, j], want.x)


@pytest.mark.parametrize("dim", [1, 3])
def test_user_problem_matches_builtin(dim):
    import numba

    @numba.njit
    def f(x):
        total = 0.0
        for v in x:
            total += v ** 4 - 5 * v ** 2 + 2 * v + 10
        return total

    @numba.njit
    def grad(x, out):
        for i in range(x.size):
            out[i] = 4 * x[i] ** 3 - 10 * x[i] + 2

    user = fg.Problem(f, grad, dim=dim, name="quartic_sum")
    x0 = np.linspace(-2, 2, 7 * dim).reshape(7, dim)
    res = fg.minimize(user, x0=x0 if dim > 1 else x0[:, 0], lr=0.01, epochs=50)
    builtin = fg.minimize(fg.problems.quartic, x0=x0, lr=0.01, epochs=50)
    np.testing.assert_array_equal(res.x.reshape(-1), builtin.x.reshape(-1))
