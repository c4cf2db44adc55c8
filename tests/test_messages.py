"""Messages that say how to fix it: wrong signatures, familiar names, missing extras."""

import inspect
import sys

import numba
import numpy as np
import pytest

import fastgd as fg


@numba.njit
def f_point(x):
    return (x[0] - 1.0) ** 2 + x[1] ** 2


@numba.njit
def grad_returns(x):                 # the common mistake: returns the gradient
    return np.array([2.0 * (x[0] - 1.0), 2.0 * x[1]])


@numba.njit
def grad_point(x, out):
    out[0] = 2.0 * (x[0] - 1.0)
    out[1] = 2.0 * x[1]


@numba.njit
def grad_returns_into(x, out):       # takes out, but returns instead of writing
    return 2.0 * x


@numba.njit
def f_block(X, F):
    for c in range(X.shape[1]):
        F[c] = (X[0, c] - 1.0) ** 2 + X[1, c] ** 2


@numba.njit
def grad_block(X, G):
    for c in range(X.shape[1]):
        G[0, c] = 2.0 * (X[0, c] - 1.0)
        G[1, c] = 2.0 * X[1, c]


def test_grad_that_returns_an_array_is_named_with_the_fix():
    bowl = fg.Problem(f_point, grad_returns, dim=2, name="bowl")
    with pytest.raises(TypeError) as err:
        fg.minimize(bowl, x0=[3.0, 1.0], lr=0.1, epochs=5)
    text = str(err.value)
    assert "grad of problem 'bowl'" in text and "grad(x, out)" in text
    assert "must fill out instead" in text and "batched=True" in text


def test_per_point_functions_passed_as_batched():
    bowl = fg.Problem(f_point, grad_point, dim=2, name="bowl", batched=True)
    with pytest.raises(TypeError, match=r"f of problem 'bowl' .* f\(X, F\).*leave out "
                                        r"batched=True"):
        fg.minimize(bowl, x0=[3.0, 1.0], lr=0.1, epochs=5)


def test_batched_functions_passed_per_point():
    bowl = fg.Problem(f_block, grad_block, dim=2, name="bowl")
    with pytest.raises(TypeError, match=r"f of problem 'bowl' .* f\(x\) -> float.*pass "
                                        r"batched=True"):
        fg.minimize(bowl, x0=[3.0, 1.0], lr=0.1, epochs=5)


def test_grad_that_returns_instead_of_writing():
    bowl = fg.Problem(f_point, grad_returns_into, dim=2, name="bowl")
    with pytest.raises(ValueError, match="grad of problem 'bowl' .* left entries .* unwritten"):
        fg.minimize(bowl, x0=[3.0, 1.0], lr=0.1, epochs=5)


def test_least_squares_model_with_the_wrong_signature():
    @numba.njit
    def line(theta):                 # forgot xi
        return theta[0]

    @numba.njit
    def line_grad(theta, xi, out):
        out[0] = xi
    fit = fg.LeastSquares(line, line_grad, np.arange(3.0), np.arange(3.0), dim=1)
    with pytest.raises(TypeError, match=r"model of problem 'line' .* model\(theta, xi\)"):
        fg.minimize(fit, x0=1.0, lr=0.1, epochs=5)


@pytest.mark.parametrize("name, value, suggestion", [
    ("learning_rate", 0.1, "fastgd calls it lr"),
    ("maxiter", 10, "fastgd calls it epochs"),
    ("max_iter", 10, "fastgd calls it epochs"),
    ("n_iter", 10, "fastgd calls it epochs"),
    ("steps", 10, "fastgd calls it epochs"),
    ("betas", (0.9, 0.999), "fastgd calls it beta1 and beta2"),
    ("b1", 0.9, "fastgd calls it beta1"),
    ("b2", 0.99, "fastgd calls it beta2"),
    ("tol", 1e-6, "fastgd calls it xtol, ftol or gtol"),
    ("x_init", 1.0, "fastgd calls it x0"),
    ("x_start", 1.0, "fastgd calls it x0"),
    ("epoch", 10, "did you mean epochs?"),
])
@pytest.mark.parametrize("func", ["minimize", "sweep"])
def test_familiar_names_suggest_the_fastgd_name(func, name, value, suggestion):
    call = getattr(fg, func)
    kwargs = {"lr": 0.1, "epochs": 5, name: value}
    with pytest.raises(TypeError) as err:
        if func == "minimize":
            call(fg.problems.quartic, 1.0, **kwargs)
        else:
            call(fg.problems.quartic, x0=1.0, **kwargs)
    assert f"{func}() got an unexpected keyword argument {name!r}" in str(err.value)
    assert suggestion in str(err.value)


def test_sweep_still_passes_minimize_options_on():
    res = fg.sweep(fg.problems.quartic, x0=[1.0, 2.0], lr=0.01, epochs=5, optimizer="adam",
                   beta1=[0.8, 0.9], gtol=1e-9)
    assert res.dims == ("x0", "beta1")


def test_momentum_with_adam_points_to_beta1():
    with pytest.raises(ValueError, match="adam's momentum is beta1"):
        fg.minimize(fg.problems.quartic, 1.0, lr=0.1, epochs=5, optimizer="adam",
                    momentum=0.9)


def test_signatures_stay_visible_to_help():
    assert "learning_rate" not in inspect.signature(fg.minimize).parameters
    assert list(inspect.signature(fg.minimize).parameters)[:4] == ["problem", "x0", "lr",
                                                                   "epochs"]
    assert "options" in inspect.signature(fg.sweep).parameters
    assert "Run gradient descent" in fg.minimize.__doc__


@pytest.mark.parametrize("module, method", [("pandas", "to_pandas"), ("xarray", "to_xarray")])
def test_frames_without_their_package_name_the_extra(monkeypatch, module, method):
    res = fg.sweep(fg.problems.quartic, x0=[1.0, 2.0], lr=0.01, epochs=5)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"Result.{method}\(\) needs {module}: pip install "
                                          rf"{module} \(or pip install 'fastgd\[frames\]'\)"):
        getattr(res, method)()


def test_grad_check_repr_is_a_summary():
    @numba.njit
    def f(x):
        return x[0] ** 2 + x[1] ** 2

    @numba.njit
    def wrong(x, out):
        out[0] = 2.0 * x[0]
        out[1] = 3.0 * x[1]          # should be 2 x[1]
    problem = fg.Problem(f, wrong, dim=2, name="wrong")
    points = np.random.default_rng(0).uniform(0.5, 2.0, (1000, 2))
    res = fg.check_grad(problem, points)
    text = repr(res)
    assert text.startswith("GradCheck(ok=False, error=")
    assert "1000 of 1000 point(s) above tol=1e-05" in text
    assert len(text) < 200
    # the worst point is where the summary says
    assert np.array2string(res.x, precision=6) in text
