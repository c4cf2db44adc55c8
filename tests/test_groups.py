"""Learning rates per parameter group: checked against a plain loop."""

import numba
import numpy as np
import pytest

import fastgd as fg


@numba.njit
def _f(x):
    return (x[0] - 1.0) ** 2 + 3.0 * (x[1] + 2.0) ** 2 + (x[2] - 0.5) ** 2


@numba.njit
def _grad(x, out):
    out[0] = 2.0 * (x[0] - 1.0)
    out[1] = 6.0 * (x[1] + 2.0)
    out[2] = 2.0 * (x[2] - 0.5)


def _plain(x0, rates, epochs):
    """GD with a rate per coordinate, written out."""
    x = np.array(x0, dtype=float)
    for _ in range(epochs):
        g = np.array([2.0 * (x[0] - 1.0), 6.0 * (x[1] + 2.0), 2.0 * (x[2] - 0.5)])
        x = x - rates * g
    return x


def _problem():
    return fg.Problem(_f, _grad, dim=3, groups={"a": 2, "b": 1})


def test_rates_per_group_match_a_plain_loop():
    res = fg.minimize(_problem(), x0=[0.0, 0.0, 0.0], lr={"a": 0.05, "b": 0.2}, epochs=17)
    np.testing.assert_array_equal(res.x, _plain([0.0, 0.0, 0.0], np.array([0.05, 0.05, 0.2]),
                                                 17))
    assert set(res.params) >= {"lr_a", "lr_b"} and "lr" not in res.params


def test_a_single_rate_serves_every_group():
    one = fg.minimize(_problem(), x0=[0.0, 0.0, 0.0], lr=0.05, epochs=9)
    both = fg.minimize(_problem(), x0=[0.0, 0.0, 0.0], lr={"a": 0.05, "b": 0.05}, epochs=9)
    np.testing.assert_array_equal(one.x, both.x)


def test_sweep_over_group_rates_names_the_dims():
    a, b = [0.01, 0.05, 0.1], [0.02, 0.3]
    res = fg.sweep(_problem(), x0=[0.0, 0.0, 0.0], lr={"a": a, "b": b}, epochs=11,
                   optimizer="momentum_torch", momentum=0.5)
    assert res.dims == ("lr_a", "lr_b") and res.x.shape == (3, 2, 3)
    single = fg.minimize(_problem(), x0=[0.0, 0.0, 0.0], lr={"a": a[2], "b": b[1]},
                         epochs=11, optimizer="momentum_torch", momentum=0.5)
    np.testing.assert_array_equal(res.x[2, 1], single.x)


def test_fused_problems_take_group_rates_too():
    # A formula is fused into its kernel; its groups come from Problem groups.
    p = fg.Problem.from_expression("(x - 1)**2 + 3*(y + 2)**2")
    p.groups = fg.problem.as_groups({"x": 1, "y": 1}, 2)
    res = fg.minimize(p, x0=[0.0, 0.0], lr={"x": 0.1, "y": 0.01}, epochs=5)
    x, y = 0.0, 0.0
    for _ in range(5):
        x, y = x - 0.1 * (2 * (x - 1)), y - 0.01 * (6 * (y + 2))
    np.testing.assert_allclose(res.x, [x, y], rtol=1e-15)


@pytest.mark.parametrize("lr, error, match", [
    ({"a": 0.1}, ValueError, "one rate per parameter group"),
    ({"a": 0.1, "b": -1.0}, ValueError, "lr\\['b'\\]"),
])
def test_bad_group_rates_are_named(lr, error, match):
    with pytest.raises(error, match=match):
        fg.minimize(_problem(), x0=[0.0, 0.0, 0.0], lr=lr, epochs=3)


def test_group_rates_need_groups():
    with pytest.raises(TypeError, match="groups"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr={"a": 0.1}, epochs=3)
    with pytest.raises(ValueError, match="add up to dim"):
        fg.Problem(_f, _grad, dim=3, groups={"a": 1, "b": 1})
