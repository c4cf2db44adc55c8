"""Bad input: a clear error naming the argument, raised before any kernel runs."""

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd import _codegen, _threads
from tests.user_problems import square as jit_f
from tests.user_problems import square_grad as jit_grad

Q = fg.problems.quartic


@pytest.fixture(autouse=True)
def no_kernel_runs(monkeypatch):
    """Every case here must fail in the Python layer: the kernel is never reached."""
    def refuse(*args):
        raise AssertionError(f"a kernel was reached: {args[:1]}")
    monkeypatch.setattr(_threads, "run_tasks", refuse)
    monkeypatch.setattr(_codegen, "tool", refuse)


def call(**overrides):
    kwargs = dict(x0=1.0, lr=0.01, epochs=10)
    kwargs.update(overrides)
    problem = kwargs.pop("problem", Q)
    return fg.minimize(problem, **kwargs)


@pytest.mark.parametrize("overrides, error, match", [
    ({"problem": "quartic"}, TypeError, "problem"),
    ({"x0": "a"}, TypeError, "x0"),
    ({"x0": None}, TypeError, "x0"),
    ({"x0": [1.0, np.nan]}, ValueError, "x0 must be finite"),
    ({"x0": np.inf}, ValueError, "x0 must be finite"),
    ({"x0": []}, ValueError, "x0"),
    ({"x0": 1j}, TypeError, "x0"),
    ({"lr": 0.0}, ValueError, "lr must be > 0"),
    ({"lr": -0.1}, ValueError, "lr must be > 0"),
    ({"lr": [0.1, np.nan]}, ValueError, "lr must be finite"),
    ({"lr": "fast"}, TypeError, "lr"),
    ({"lr": []}, ValueError, "lr"),
    ({"epochs": 0}, ValueError, "epochs must be >= 1"),
    ({"epochs": 2.5}, TypeError, "epochs must be an int"),
    ({"epochs": True}, TypeError, "epochs"),
    ({"optimizer": "adamx"}, ValueError, "optimizer"),
    ({"momentum": 0.9}, ValueError, "momentum"),
    ({"optimizer": "momentum", "momentum": 1.0}, ValueError, "momentum must be < 1"),
    ({"optimizer": "momentum", "momentum": -0.1}, ValueError, "momentum must be >= 0"),
    ({"schedule": "step"}, TypeError, "schedule"),
    ({"schedule": fg.step_decay(every=0)}, ValueError, "every must be >= 1"),
    ({"schedule": fg.step_decay(every=2.5)}, ValueError, "every"),
    ({"schedule": fg.step_decay(factor=0.0)}, ValueError, "factor must be > 0"),
    ({"xtol": -1.0}, ValueError, "xtol"),
    ({"ftol": np.nan}, ValueError, "ftol"),
    ({"gtol": "1e-3"}, TypeError, "gtol"),
    ({"bound": 0.0}, ValueError, "bound"),
    ({"bound": np.nan}, ValueError, "bound"),
    ({"batch_size": 10}, ValueError, "batch_size applies only"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"record": "all"}, TypeError, "record"),
    ({"record": [0, 5]}, ValueError, "record indices"),
    ({"record": np.array([True, False])}, ValueError, "record mask"),
    ({"x0": np.zeros(3), "lr": np.ones(2)}, ValueError, "broadcast"),
])
def test_bad_argument(overrides, error, match):
    with pytest.raises(error, match=match):
        call(**overrides)


def test_x0_shape_for_multidimensional_problem():
    with pytest.raises(ValueError, match=r"x0 must have shape \(\.\.\., 2\)"):
        fg.minimize(fg.problems.saddle, x0=[1.0, 2.0, 3.0], lr=0.01, epochs=5)
    with pytest.raises(ValueError, match="x0"):
        fg.minimize(fg.problems.saddle, x0=1.0, lr=0.01, epochs=5)


@pytest.mark.parametrize("batch_size, error", [(0, ValueError), (101, ValueError),
                                               (10.0, TypeError)])
def test_batch_size(seed_data, batch_size, error):
    fit = fg.problems.exp_linear_fit(*seed_data)
    with pytest.raises(error, match="batch_size"):
        fg.minimize(fit, x0=[1.0, 2.0, 3.0], lr=1e-3, epochs=5, batch_size=batch_size)


@pytest.mark.parametrize("x, y, match", [
    ([1.0, 2.0], [1.0], "same length"),
    ([[1.0, 2.0]], [1.0, 2.0], "x must be a non-empty 1-D"),
    ([1.0, np.nan], [1.0, 2.0], "x must be finite"),
    ([1.0, 2.0], [1.0, np.inf], "y must be finite"),
    ([], [], "non-empty"),
])
def test_bad_data(x, y, match):
    with pytest.raises(ValueError, match=match):
        fg.problems.exp_linear_fit(x, y)


def test_sweep_rejects_nested_lists():
    with pytest.raises(ValueError, match="lr"):
        fg.sweep(Q, x0=[1.0], lr=[[0.1]], epochs=5)
    with pytest.raises(TypeError, match="problem"):
        fg.sweep(None, x0=[1.0], lr=[0.1], epochs=5)


def plain_f(x):
    return x[0] ** 2


def test_non_jitted_functions_are_refused():
    with pytest.raises(TypeError, match=r"f must be a Numba-jitted function.*@numba.njit"):
        fg.Problem(plain_f, jit_grad, dim=1)
    with pytest.raises(TypeError, match="grad must be"):
        fg.Problem(jit_f, lambda x, out: None, dim=1)
    with pytest.raises(TypeError, match="model must be"):
        fg.LeastSquares(plain_f, jit_grad, [1.0], [1.0], dim=1)
    with pytest.raises(ValueError, match="dim must be >= 1"):
        fg.Problem(jit_f, jit_grad, dim=0)
    with pytest.raises(TypeError, match="dim must be an int"):
        fg.Problem(jit_f, jit_grad, dim=1.0)


@numba.njit
def grad_writes_outside(x, out):
    for i in range(out.size + 1):
        out[i] = 0.0  # one past the end: numba does not bounds-check by default


@numba.njit
def grad_leaves_unwritten(x, out):
    out[0] = 2 * x[0]


@numba.njit
def grad_mutates_input(x, out):
    x[0] = 0.0
    out[0] = 0.0


@numba.njit
def grad_wrong(x, out):
    out[0] = 3 * x[0]


@numba.njit
def f2(x):
    return x[0] ** 2 + x[1] ** 2


@pytest.mark.parametrize("f, grad, dim, match", [
    (jit_f, grad_writes_outside, 1, "wrote outside its output"),
    (f2, grad_leaves_unwritten, 2, r"left entries \[1\]"),
    (jit_f, grad_mutates_input, 1, "modified its input"),
    (jit_f, grad_wrong, 1, "disagrees with finite differences"),
])
def test_user_functions_are_probed_before_the_kernel(f, grad, dim, match):
    problem = fg.Problem(f, grad, dim=dim, name="bad")
    with pytest.raises(ValueError, match=match):
        fg.minimize(problem, x0=np.full(dim, 1.5) if dim > 1 else 1.5, lr=0.1, epochs=5)
