"""Every example of the tutorial, run through fastgd and compared with fastgd.reference."""

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd import reference as ref
from tests.conftest import assert_path_close


def test_exp_quadratic_first_example():
    res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.1, epochs=100, record=True)
    want = ref.descend(ref.exp_quadratic_grad, -3.0, 0.1, 100, f=ref.exp_quadratic)
    xs, fs = res.path()
    assert xs.shape == (101, 1) and fs.shape == (101,)
    assert_path_close(xs[:, 0], want.path)
    assert_path_close(fs, want.values)
    assert res.nit == 100 and res.status == fg.Status.MAX_EPOCHS and res.success
    # The minimum of e^x + x^2 solves e^x = -2x: x* = -0.3517337...
    assert abs(res.x[0] - (-0.35173371124919584)) < 1e-9


def test_learning_rate_question():
    """The tutorial asks what happens at lr 1e-4 and 0.8: too slow, and divergence."""
    res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=[1e-4, 0.1, 0.8],
                      epochs=100, record=True)
    slow, good, wild = (ref.descend(ref.exp_quadratic_grad, -3.0, lr, 100, f=ref.exp_quadratic)
                        for lr in (1e-4, 0.1, 0.8))
    assert res.status.tolist() == [fg.Status.MAX_EPOCHS, fg.Status.MAX_EPOCHS, fg.Status.DIVERGED]
    # 1e-4: after 100 updates it has barely left the start point.
    assert -3.0 < res.x[0, 0] < -2.9
    assert_path_close(res.path(0)[0][:, 0], slow.path)
    # 0.8: overshoots with growing amplitude until the point is no longer finite.
    assert wild.status == ref.DIVERGED
    assert res.nit[2] == wild.nit
    assert not res.success[2] and res.success[0]
    xs, _ = res.path(2)
    assert_path_close(xs[:-1, 0], wild.path[:-1])
    assert not np.isfinite(xs[-1, 0])
    assert good.status == ref.MAX_EPOCHS


def test_saddle_two_variables():
    res = fg.minimize(fg.problems.saddle, x0=[3.0, 3.0], lr=0.001, epochs=1000, record=True)
    want = ref.descend(ref.saddle_grad, (3.0, 3.0), 0.001, 1000, f=ref.saddle)
    xs, fs = res.path()
    assert_path_close(xs, want.path)
    assert_path_close(fs, want.values)


def test_quartic_start_decides_minimum():
    starts = np.array([2.0, -2.0])
    res = fg.minimize(fg.problems.quartic, x0=starts, lr=0.01, epochs=100, record=True)
    for i, x0 in enumerate(starts):
        want = ref.descend(ref.quartic_grad, float(x0), 0.01, 100, f=ref.quartic)
        assert_path_close(res.path(i)[0][:, 0], want.path)
    # From 2 the tutorial heads for the local minimum at 1.4696; from -2 the global one at -1.6730.
    assert res.x[0, 0] == pytest.approx(1.46962, abs=1e-4)
    assert res.x[1, 0] == pytest.approx(-1.67298, abs=1e-4)
    assert res.fun[1] < res.fun[0]


def test_step_decay_against_fixed():
    sched = fg.step_decay(every=10, factor=0.5)
    fixed = fg.minimize(fg.problems.quartic, x0=2.1, lr=0.15, epochs=30, record=True)
    decay = fg.minimize(fg.problems.quartic, x0=2.1, lr=0.15, epochs=30, schedule=sched,
                        record=True)
    for res, kw in ((fixed, {}), (decay, {"every": 10, "factor": 0.5})):
        want = ref.descend(ref.quartic_grad, 2.1, 0.15, 30, f=ref.quartic, **kw)
        assert_path_close(res.path()[0][:, 0], want.path)
    assert decay.fun < fixed.fun


def test_step_decay_factor_applied_by_repeated_multiplication():
    # factor 0.3 is not a power of two: lr * 0.3 * 0.3 != lr * 0.3**2 in floating point.
    res = fg.minimize(fg.problems.quartic, x0=1.0, lr=0.013, epochs=40,
                      schedule=fg.step_decay(every=7, factor=0.3), record=True)
    want = ref.descend(ref.quartic_grad, 1.0, 0.013, 40, every=7, factor=0.3)
    np.testing.assert_array_equal(res.path()[0][:, 0], np.array(want.path)[:, 0])


def test_curve_fit_full_batch(seed_data):
    x, y = seed_data
    res = fg.minimize(fg.problems.exp_linear_fit(x, y), x0=[1.0, 2.0, 3.0], lr=0.001,
                      epochs=500, record=True)
    want = ref.fit(x, y, (1.0, 2.0, 3.0), 0.001, 500)
    assert_path_close(res.path()[0], want.path)
    assert res.fun == pytest.approx(want.fun, rel=1e-9)


def test_curve_fit_minibatch_in_order(seed_data):
    x, y = seed_data
    res = fg.minimize(fg.problems.exp_linear_fit(x, y), x0=[1.0, 3.0, 5.0], lr=0.001,
                      epochs=500, batch_size=10, shuffle=False, record=True)
    want = ref.fit(x, y, (1.0, 3.0, 5.0), 0.001, 500, batch_size=10)
    assert_path_close(res.path()[0], want.path)
    # The tutorial's data were made with a=1.2, b=3.4, c=5.6.
    assert res.x == pytest.approx([1.2, 3.4, 5.6], abs=0.3)


@pytest.mark.parametrize("batch_size", [10, 7, 100])
def test_curve_fit_minibatch_shuffled(seed_data, batch_size):
    x, y = seed_data
    starts = np.array([[1.0, 3.0, 5.0], [0.5, 2.0, 4.0], [1.5, 3.0, 6.0]])
    res = fg.minimize(fg.problems.exp_linear_fit(x, y), x0=starts, lr=0.001, epochs=20,
                      batch_size=batch_size, shuffle=True, seed=7, record=True)
    for run in range(3):
        want = ref.fit(x, y, tuple(starts[run]), 0.001, 20, batch_size=batch_size,
                       shuffle=True, seed=7, run=run)
        assert_path_close(res.path(run)[0], want.path)


def test_shuffle_depends_on_seed_run_and_epoch():
    orders = {tuple(ref.shuffled_order(s, r, e, 20)) for s in (0, 1) for r in (0, 1)
              for e in (1, 2)}
    assert len(orders) == 8
    assert all(sorted(o) == list(range(20)) for o in orders)


def test_shuffle_kernel_matches_reference():
    from fastgd._shuffle import permute, shuffle_key

    @numba.njit
    def order(seed, run, epoch, n):
        out = np.empty(n, np.int64)
        permute(shuffle_key(seed, run, epoch), out)
        return out
    for seed, run, epoch, n in [(0, 0, 1, 10), (2**63 + 5, 12345, 99, 100), (7, 3, 1, 1)]:
        assert order(np.uint64(seed), run, epoch, n).tolist() == ref.shuffled_order(seed, run, epoch, n)


def test_momentum_seed_example():
    res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.1, epochs=100,
                      optimizer="momentum", momentum=0.9, record=True)
    want = ref.descend(ref.exp_quadratic_grad, -3.0, 0.1, 100, f=ref.exp_quadratic,
                       momentum=0.9)
    assert_path_close(res.path()[0][:, 0], want.path)
    assert_path_close(res.path()[1], want.values)


def test_momentum_on_curve_fit_minibatch(seed_data):
    x, y = seed_data
    res = fg.minimize(fg.problems.exp_linear_fit(x, y), x0=[1.0, 3.0, 5.0], lr=0.001,
                      epochs=30, batch_size=10, shuffle=False, optimizer="momentum",
                      momentum=0.5, schedule=fg.step_decay(every=10, factor=0.5),
                      record=True)
    want = ref.fit(x, y, (1.0, 3.0, 5.0), 0.001, 30, batch_size=10, momentum=0.5,
                   every=10, factor=0.5)
    assert_path_close(res.path()[0], want.path)
