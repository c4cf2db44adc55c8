"""dtype=np.float32: results against plain NumPy float32 loops and against float64,
the dtype of every output, refusals, determinism, and the float32 exp's accuracy."""

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd._math import exp32
from tests import user_problems

F4 = np.float32
EPS32 = float(np.finfo(np.float32).eps)   # 1.19e-7

# Start points on both sides of the quartic's local maximum (x = 0.2), away from
# it: rounding a start to float32 never moves a run into the other basin.
QUARTIC_X0 = np.concatenate([np.linspace(-2.5, -0.5, 9), np.linspace(0.8, 2.5, 8)])


def quartic_loop(x0, lr, epochs):
    """The tutorial's loop in float32: ``x = x - lr * grad(x)``, every operand
    float32, the gradient written as the problem writes it (4 x**3 - 10 x + 2,
    with x**3 as x * x * x)."""
    x, lr = np.asarray(x0, F4), F4(lr)
    for _ in range(epochs):
        grad = F4(4) * (x * x * x) - F4(10) * x + F4(2)
        x = x - lr * grad
    return x


def exp_quadratic_loop(x0, lr, epochs):
    """The same for e**x + x**2, with NumPy's own float32 exp."""
    x, lr = np.asarray(x0, F4), F4(lr)
    for _ in range(epochs):
        x = x - lr * (np.exp(x) + x * F4(2))
    return x


def test_quartic_matches_a_numpy_float32_loop():
    res = fg.minimize(fg.problems.quartic, x0=QUARTIC_X0, lr=0.01, epochs=500,
                      dtype=np.float32)
    want = quartic_loop(QUARTIC_X0, 0.01, 500)
    assert res.x.dtype == np.float32 and res.fun.dtype == np.float32
    # The same float32 operations in the same order (no fused multiply-adds in
    # either): the same bits.
    np.testing.assert_array_equal(res.x[:, 0], want)


def test_exp_quadratic_matches_a_numpy_float32_loop():
    x0 = np.linspace(-4.0, 4.0, 33)
    res = fg.minimize(fg.problems.exp_quadratic, x0=x0, lr=0.1, epochs=300,
                      dtype=np.float32)
    want = exp_quadratic_loop(x0, 0.1, 300)
    # Two float32 exps (fastgd's, NumPy's) differ by up to 1 ulp per call; the
    # update contracts errors (|1 - lr f''| <= 0.73 near the minimum, so an
    # error made at one step shrinks), which keeps the difference to a few
    # ulp of the result: 8 ulp of |x| ~ 0.35 is 3.4e-7.
    np.testing.assert_allclose(res.x[:, 0], want, rtol=0, atol=8 * EPS32 * 0.36)
    assert np.all(np.abs(res.x[:, 0] + 0.3517337) < 1e-6)   # the minimiser


def test_against_float64():
    """Converged float32 runs end within a few float32 ulps of float64's."""
    for problem, x0, lr in ((fg.problems.quartic, QUARTIC_X0, 0.01),
                            (fg.problems.exp_quadratic, np.linspace(-4.0, 4.0, 33), 0.1)):
        a = fg.minimize(problem, x0=x0, lr=lr, epochs=2000)
        b = fg.minimize(problem, x0=x0, lr=lr, epochs=2000, dtype=np.float32)
        # At a float32 fixed point the gradient is below the rounding of the
        # update: |x - x*| of a few ulps of x* (measured: at most 3.1e-7).
        np.testing.assert_allclose(b.x, a.x, rtol=8 * EPS32, atol=0)
        np.testing.assert_allclose(b.fun, a.fun, rtol=4 * EPS32, atol=0)
        np.testing.assert_array_equal(b.status, a.status)


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_optimizers_and_a_formula(optimizer):
    """State per coordinate and per run (adam), literals in the rule (rmsprop's
    1 - alpha), a formula with constants and exp: float32 follows float64."""
    p = fg.Problem.from_expression("exp(x/2) + 0.1*(x - 1)**2 + 2.5*(y + 0.5)**2 + x*y/4")
    x0 = [[1.0, 0.5], [-2.0, 1.0], [0.3, -1.2]]
    a = fg.minimize(p, x0=x0, lr=0.01, epochs=400, optimizer=optimizer)
    b = fg.minimize(p, x0=x0, lr=0.01, epochs=400, optimizer=optimizer, dtype="float32")
    assert b.x.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in b.state.items() if k != "stopped")
    # 400 updates, each rounding x and the state to float32 (relative 6e-8):
    # the runs drift apart by at most ~sqrt(400) to 400 roundings of |x| ~ 1;
    # measured below 1e-6.
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-5)


def test_outputs_in_float32_schedules_records_and_tolerances():
    kw = dict(x0=QUARTIC_X0, lr=0.01, epochs=120, record=True, ftol=1e-6,
              schedule=fg.step_decay(every=10, factor=0.5))
    a = fg.minimize(fg.problems.quartic, **kw)
    b = fg.minimize(fg.problems.quartic, **kw, dtype=np.float32)
    for name in ("x", "fun", "path_x", "path_fun"):
        assert getattr(b, name).dtype == np.float32, name
    assert b.state["lr_now"].dtype == np.float32
    assert b.params["dtype"] == "float32" and a.params["dtype"] == "float64"
    assert b.nit.dtype == np.int64 and b.status.dtype == np.int8
    # ftol compares f in float32: runs may stop a few epochs apart, near the
    # same points.
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-3)
    path_x, _ = b.path(0)
    assert path_x.dtype == np.float32 and path_x[0, 0] == F4(QUARTIC_X0[0])


def test_bound_and_divergence():
    # bound beyond float32's range: runs that overflow to inf still end DIVERGED.
    res = fg.minimize(fg.problems.quartic, x0=[1.0, 40.0], lr=0.05, epochs=50,
                      dtype=np.float32)
    assert res.status.tolist() == [fg.Status.MAX_EPOCHS, fg.Status.DIVERGED]
    a = fg.minimize(fg.problems.quartic, x0=[3.0, 10.0], lr=0.05, epochs=50, bound=1e6)
    b = fg.minimize(fg.problems.quartic, x0=[3.0, 10.0], lr=0.05, epochs=50, bound=1e6,
                    dtype=np.float32)
    np.testing.assert_array_equal(b.nit, a.nit)
    np.testing.assert_array_equal(b.status, a.status)


def test_a_tolerance_below_float32s_smallest_number_stays_on():
    # |f - f_prev| <= 1e-50 holds in float32 exactly when f did not change, as in
    # float64: the run at the minimum stops at its first epoch, the other runs on.
    flat = fg.Problem.from_expression("x**2")
    for tol in ("ftol", "xtol", "gtol"):
        res = fg.minimize(flat, x0=[0.0, 1.0], lr=0.1, epochs=20, dtype=np.float32,
                          **{tol: 1e-50})
        assert res.status.tolist() == [fg.Status.CONVERGED, fg.Status.MAX_EPOCHS], tol
        assert res.nit[1] == 20, tol


def test_same_bits_for_any_threads_and_chunks():
    x0 = np.random.default_rng(3).uniform(-3.0, 3.0, 3001)
    kw = dict(x0=x0, lr=[0.01, 0.02], epochs=200, dtype=np.float32)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fg.sweep(fg.problems.exp_quadratic, **kw)
        one_tol = fg.sweep(fg.problems.quartic, **kw, xtol=1e-5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = fg.sweep(fg.problems.exp_quadratic, **kw, chunk_size=777)
        two_tol = fg.sweep(fg.problems.quartic, **kw, xtol=1e-5, chunk_size=500)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(one.x, two.x)
    np.testing.assert_array_equal(one.fun, two.fun)
    np.testing.assert_array_equal(one_tol.x, two_tol.x)
    np.testing.assert_array_equal(one_tol.nit, two_tol.nit)


def test_save_load_and_continue(tmp_path):
    kw = dict(x0=QUARTIC_X0, lr=0.01, optimizer="adam", dtype=np.float32)
    first = fg.minimize(fg.problems.quartic, epochs=100, **kw)
    # Chunks written to out= and read back keep their type and bits; a float64
    # call is another sweep.
    stored = fg.minimize(fg.problems.quartic, epochs=100, **kw, out=tmp_path / "c",
                         chunk_size=5)
    again = fg.minimize(fg.problems.quartic, epochs=100, **kw, out=tmp_path / "c",
                        chunk_size=5)
    assert again.x.dtype == np.float32
    np.testing.assert_array_equal(stored.x, first.x)
    np.testing.assert_array_equal(again.x, first.x)
    with pytest.raises(ValueError, match="different sweep"):
        fg.minimize(fg.problems.quartic, epochs=100, **{**kw, "dtype": np.float64},
                    out=tmp_path / "c", chunk_size=5)
    fg.save(first, tmp_path / "r.npz")
    back = fg.load(tmp_path / "r.npz")
    assert back.x.dtype == np.float32 and back.state["m"].dtype == np.float32
    np.testing.assert_array_equal(back.x, first.x)
    assert back.params["dtype"] == "float32"
    more = fg.minimize(fg.problems.quartic, epochs=250, init=back, **kw)
    once = fg.minimize(fg.problems.quartic, epochs=250, **kw)
    np.testing.assert_array_equal(more.x, once.x)
    with pytest.raises(ValueError, match="dtype"):
        fg.minimize(fg.problems.quartic, x0=QUARTIC_X0, lr=0.01, optimizer="adam",
                    epochs=250, init=first)
    with pytest.raises(ValueError, match="dtype"):
        fg.minimize(fg.problems.quartic, epochs=250, init=fg.minimize(
            fg.problems.quartic, x0=QUARTIC_X0, lr=0.01, optimizer="adam", epochs=100), **kw)


def test_problems_with_data():
    x, y = fg.problems.exp_linear_data(200, seed=0)
    fit = fg.LeastSquares.from_expression("exp(-a*x) + b*x + c", params="a b c", x=x, y=y)
    for problem in (fit, fg.problems.exp_linear_fit(x, y)):
        # A stable rate: at lr=0.002 the runs from [1, 2, 3] oscillate in a, and
        # float32 and float64 (NumPy loops too) part ways there.
        kw = dict(x0=[[1.0, 2.0, 3.0], [0.8, 3.0, 5.0]], lr=0.001, epochs=300)
        a = fg.minimize(problem, **kw)
        b = fg.minimize(problem, **kw, dtype=np.float32)
        assert b.x.dtype == np.float32
        # The mean over 200 points is summed in float32 (relative error up to
        # ~200 * 6e-8 per gradient, far less on average), over 300 updates of a
        # stable descent: measured below 1e-6.
        np.testing.assert_allclose(b.x, a.x, rtol=1e-5, atol=0)
        c = fg.minimize(problem, **kw, batch_size=50, seed=4, dtype=np.float32)
        d = fg.minimize(problem, **kw, batch_size=50, seed=4)
        np.testing.assert_allclose(c.x, d.x, rtol=1e-5, atol=0)   # the same shuffles


def test_refusals():
    bowl = user_problems.shifted_bowl()
    for problem in (bowl, fg.problems.quadratic(3, 10.0)):
        with pytest.raises(ValueError, match=r"dtype='float32' applies to the problems "
                                             r"whose code fastgd generates"):
            fg.minimize(problem, x0=[0.0] * problem.dim, lr=0.1, epochs=5,
                        dtype=np.float32)
    for bad in (np.float16, "int32", np.int64, None, "double precision", complex):
        with pytest.raises(ValueError, match="dtype must be np.float64 or np.float32"):
            fg.minimize(fg.problems.quartic, x0=[0.0], lr=0.1, epochs=5, dtype=bad)
    with pytest.raises(ValueError, match="dtype"):
        fg.sweep(fg.problems.quartic, x0=[0.0, 1.0], lr=[0.1], epochs=5, dtype="f2")
    # Names and NumPy dtypes are accepted.
    for good in ("float32", np.dtype("float32"), "float64"):
        res = fg.minimize(fg.problems.quartic, x0=[0.5], lr=0.01, epochs=3, dtype=good)
        assert res.x.dtype == np.dtype(good)


def test_exp32_accuracy():
    """Within 1 ulp of e**x over the float32 range (computed in float64)."""
    top, bottom = F4(88.72).view(np.int32), F4(103.97).view(np.int32)
    # Every 241st float32 of [-103.97, 88.72] (9 million values), and its ends.
    bits = np.concatenate([np.arange(0, top, 241, dtype=np.int32),
                           np.arange(top - 200, top + 1, dtype=np.int32)])
    pos = bits.view(np.float32)
    bits = np.concatenate([np.arange(1, bottom, 241, dtype=np.int32),
                           np.arange(bottom - 200, bottom + 1, dtype=np.int32)])
    x = np.concatenate([pos, -bits.view(np.float32)])
    got = np.empty_like(x)
    _exp32_lanes(x, got)
    want = np.exp(x.astype(np.float64))
    nearest = want.astype(np.float32)
    tiny = np.abs(nearest) < np.finfo(np.float32).tiny
    ulp = np.where(tiny, 2.0 ** -149, np.spacing(nearest).astype(np.float64))
    err = np.abs(got.astype(np.float64) - want) / ulp
    assert err.max() < 0.9, err.max()          # measured over every float32: 0.87
    assert np.mean(got == nearest) > 0.99       # measured: 99.7 % correctly rounded
    edge = np.array([np.inf, -np.inf, np.nan, 89.0, 88.73, -104.0, 0.0, -0.0], F4)
    out = np.empty_like(edge)
    _exp32_lanes(edge, out)
    np.testing.assert_array_equal(out, [np.inf, 0.0, np.nan, np.inf, np.inf, 0.0, 1.0, 1.0])


@numba.njit
def _exp32_lanes(x, out):
    for i in range(x.size):
        out[i] = exp32(x[i])
