"""Early exit, divergence, status codes and the record= memory bound."""

import numpy as np
import pytest

import fastgd as fg
from fastgd import reference as ref
from tests.conftest import assert_path_close


@pytest.mark.parametrize("tol", [{"xtol": 1e-6}, {"ftol": 1e-10}, {"gtol": 1e-5}])
def test_tolerances_match_reference(tol):
    starts = np.linspace(-3, 3, 13)
    res = fg.minimize(fg.problems.quartic, x0=starts, lr=0.01, epochs=2000, **tol,
                      record=True)
    for i, x0 in enumerate(starts):
        want = ref.descend(ref.quartic_grad, x0, 0.01, 2000, f=ref.quartic, **tol)
        assert res.status[i] == want.status == fg.Status.CONVERGED
        assert res.nit[i] == want.nit < 2000
        assert_path_close(res.path(i)[0][:, 0], np.array(want.path)[:, 0])
    assert res.success.all()


def test_gtol_stops_before_the_update():
    # Starting at the minimum the gradient is ~0: converged after 0 updates.
    xmin = -1.6729816478554285
    res = fg.minimize(fg.problems.quartic, x0=xmin, lr=0.01, epochs=10, gtol=1e-8)
    assert res.status == fg.Status.CONVERGED and res.nit == 0 and res.x[0] == xmin


def test_runs_stop_independently():
    # Some runs of one block converge early, one diverges, others use the budget.
    x0 = np.array([0.5, 0.5, 0.5, 0.5])
    lr = np.array([0.1, 1e-5, 3.0, 0.05])
    res = fg.minimize(fg.problems.exp_quadratic, x0=x0, lr=lr, epochs=500, xtol=1e-9)
    assert res.status.tolist() == [fg.Status.CONVERGED, fg.Status.MAX_EPOCHS,
                                   fg.Status.DIVERGED, fg.Status.CONVERGED]
    assert res.success.tolist() == [True, False, False, True]
    for i in range(4):
        one = fg.minimize(fg.problems.exp_quadratic, x0=x0[i], lr=lr[i], epochs=500,
                          xtol=1e-9)
        assert (one.x[0], one.nit, one.status) == (res.x[i], res.nit[i], res.status[i])
    assert res.counts() == {"converged": 2, "max_epochs": 1, "diverged": 1, "failed": 0}


def test_divergence_is_marked_with_its_epoch():
    res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.8, epochs=100)
    want = ref.descend(ref.exp_quadratic_grad, -3.0, 0.8, 100, f=ref.exp_quadratic)
    assert res.status == fg.Status.DIVERGED and not res.success
    assert res.nit == want.nit == 8


def test_bound_catches_divergence_early():
    res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.8, epochs=100, bound=10.0)
    want = ref.descend(ref.exp_quadratic_grad, -3.0, 0.8, 100, f=ref.exp_quadratic,
                       bound=10.0)
    assert res.status == fg.Status.DIVERGED and res.nit == want.nit == 4
    assert abs(res.x[0]) > 10 and np.isfinite(res.x[0])


def test_outcome_does_not_depend_on_what_is_recorded():
    kw = dict(x0=np.linspace(-3, 3, 100), lr=np.geomspace(1e-3, 1.0, 100), epochs=200)
    plain = fg.minimize(fg.problems.quartic, **kw)
    recorded = fg.minimize(fg.problems.quartic, **kw, record=[0, 50, 99])
    np.testing.assert_array_equal(plain.x, recorded.x)
    np.testing.assert_array_equal(plain.status, recorded.status)
    np.testing.assert_array_equal(plain.nit, recorded.nit)


def test_record_memory_is_bounded_by_what_was_asked():
    res = fg.sweep(fg.problems.saddle, x0=np.zeros((100, 2)), lr=np.linspace(1e-4, 1e-3, 100),
                   epochs=300, record=[5, 7777])
    assert res.path_x.shape == (2, 301, 2) and res.path_fun.shape == (2, 301)
    none = fg.sweep(fg.problems.saddle, x0=np.zeros((100, 2)), lr=[1e-3], epochs=300)
    assert none.path_x.size == 0
    xs, fs = res.path((77, 77))
    assert xs.shape == (301, 2)
    np.testing.assert_array_equal(xs[-1], res.x[77, 77])
    with pytest.raises(ValueError, match="not recorded"):
        res.path(0)


def test_record_mask_and_path_length_follow_nit():
    mask = np.array([True, False, True])
    res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=[0.1, 0.2, 0.8], epochs=50,
                      record=mask)
    assert res.recorded.tolist() == [0, 2]
    xs, fs = res.path(2)
    assert len(xs) == res.nit[2] + 1 == 9
    with pytest.raises(ValueError, match="index="):
        res.path()


def test_final_value_not_finite_marks_divergence():
    # x = 720 is finite and within the bound, but e^720 overflows.
    res = fg.minimize(fg.problems.exp_quadratic, x0=720.0, lr=1e-300, epochs=3)
    assert res.status == fg.Status.DIVERGED and res.fun == np.inf
