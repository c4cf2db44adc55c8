"""Objectives from formulas: bit-identical to the built-ins where written the same way."""

import pickle
import sys

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd import expression
from fastgd import problems as problems_module

pytest.importorskip("sympy")
P = fg.problems

# Like with like: the generated code calls expression.FUNCTIONS["exp"]; the
# built-ins call whatever fastgd.problems imports as exp.
same_exp = pytest.mark.skipif(
    problems_module.__dict__.get("exp") is not expression.FUNCTIONS["exp"],
    reason="built-ins and generated code use different exp implementations")

RNG = np.random.default_rng(7)


@same_exp
@pytest.mark.parametrize(("text", "builtin", "low", "high"), [
    ("exp(x + y) + x**2 - y**2", "saddle", -3, 3),
    ("exp(x) + x**2", "exp_quadratic", -4, 4),
    ("x**4 - 5*x**2 + 2*x + 10", "quartic", -2.5, 2.5),
])
def test_text_reproduces_builtin_bit_for_bit(text, builtin, low, high):
    mine, theirs = fg.Problem.from_expression(text), getattr(P, builtin)
    assert mine.dim == theirs.dim
    pts = RNG.uniform(low, high, (300, theirs.dim) if theirs.dim > 1 else 300)
    np.testing.assert_array_equal(mine(pts), theirs(pts))
    np.testing.assert_array_equal(mine.gradient(pts), theirs.gradient(pts))
    lr = 0.001 if builtin == "saddle" else 0.01
    kw = dict(lr=lr, epochs=200, record=[0, 7], optimizer="momentum")
    a, b = fg.minimize(mine, pts[:64], **kw), fg.minimize(theirs, pts[:64], **kw)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.path(7)[0], b.path(7)[0])


@same_exp
@pytest.mark.parametrize("batch", [None, 10])
def test_least_squares_text_reproduces_exp_linear_fit(batch):
    x, y = P.exp_linear_data(100, seed=0)
    mine = fg.LeastSquares.from_expression("exp(-a*x) + b*x + c", params="a b c", x=x, y=y)
    theirs = P.exp_linear_fit(x, y)
    assert isinstance(mine, fg.LeastSquares) and mine.variables == ("a", "b", "c")
    th = RNG.uniform([0.5, 2, 3], [1.5, 4, 6], (100, 3))
    np.testing.assert_array_equal(mine(th), theirs(th))
    np.testing.assert_array_equal(mine.gradient(th), theirs.gradient(th))
    kw = dict(lr=0.001, epochs=50, batch_size=batch)
    np.testing.assert_array_equal(fg.minimize(mine, th, **kw).x, fg.minimize(theirs, th, **kw).x)


def test_sympy_expression_and_variable_order():
    import sympy as sp
    a, b = sp.symbols("a b")
    p = fg.Problem.from_expression((a - 1) ** 2 + 10 * (b + 2) ** 2 + sp.Rational(1, 3) * a,
                                   variables=[b, a])
    assert p.variables == ("b", "a")
    # f(b, a): gradient (20 (b + 2), 2 (a - 1) + 1/3)
    np.testing.assert_allclose(p.gradient([1.0, 3.0]), [60.0, 4 + 1 / 3], rtol=1e-15)
    res = fg.minimize(p, x0=[0.0, 0.0], lr=0.04, epochs=500)
    np.testing.assert_allclose(res.x, [-2.0, 1 - 1 / 6], atol=1e-10)
    q = fg.Problem.from_expression("sin(u) * cos(v) + sqrt(u**2 + 1) + pi * v", variables="v u")
    assert q.variables == ("v", "u")
    assert fg.check_grad(q, RNG.uniform(-2, 2, (50, 2))).ok


def test_functions_and_constants_evaluate_correctly():
    p = fg.Problem.from_expression("log(1 + x**2) + tanh(x) + atan(x) + abs(x - 1) + 0.1*x")
    xs = np.array([-1.5, -0.2, 0.3, 2.0])
    expected = np.log(1 + xs ** 2) + np.tanh(xs) + np.arctan(xs) + np.abs(xs - 1) + 0.1 * xs
    np.testing.assert_allclose(p(xs), expected, rtol=1e-15)
    assert fg.check_grad(p, xs).ok


@pytest.mark.parametrize(("expr", "kw", "match"), [
    ("exp(x) + z", {"variables": "x"}, r"unknown names \['z'\]"),
    ("foo(x)", {}, "unknown function 'foo'"),
    ("x ^ 2", {}, r"use \*\* for powers"),
    ("x +", {}, "cannot parse"),
    ("x if x > 0 else 0", {}, "not allowed"),
    ("np.exp(x)", {}, "unknown function"),
    ("3.0", {}, "no variables"),
    ("x + y", {"variables": "x x"}, "distinct"),
    ("x + _y", {}, "usable variable name"),
])
def test_bad_expressions(expr, kw, match):
    with pytest.raises(ValueError, match=match):
        fg.Problem.from_expression(expr, **kw)


def test_least_squares_errors():
    x = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match=r"unknown names \['d'\]"):
        fg.LeastSquares.from_expression("a*x + d", params="a b", x=x, y=x)
    with pytest.raises(ValueError, match="data variable"):
        fg.LeastSquares.from_expression("a*x", params="a x", x=x, y=x)


def test_missing_sympy_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)
    with pytest.raises(ImportError, match="pip install sympy"):
        fg.Problem.from_expression("x**2")


def test_pickles_by_rebuilding():
    p = fg.Problem.from_expression("(x - 2)**2 + y**2")
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(q([[1.0, 1.0]]), p([[1.0, 1.0]]))


def test_generated_kernels_have_the_kernel_signatures():
    p = fg.Problem.from_expression("x**2 + y**2")
    kfun, kgrad = p._kernel_functions()
    assert isinstance(kfun, numba.core.registry.CPUDispatcher)
    assert len(kfun.signatures) == 1 and len(kgrad.signatures) == 1
    assert "def grad(X, data, rows, G)" in p.source


# --- check_grad --------------------------------------------------------------------

@numba.njit
def _bowl(x):
    return (x[0] - 1.0) ** 2 + 10.0 * x[1] ** 2


@numba.njit
def _bowl_grad_right(x, out):
    out[0] = 2.0 * (x[0] - 1.0)
    out[1] = 20.0 * x[1]


@numba.njit
def _bowl_grad_slightly_wrong(x, out):
    out[0] = 2.0 * (x[0] - 1.0)
    out[1] = 20.2 * x[1]


def test_check_grad_passes_a_right_gradient_and_flags_a_wrong_one():
    pts = RNG.uniform(-3, 3, (100, 2))
    good = fg.check_grad(fg.Problem(_bowl, _bowl_grad_right, dim=2), pts)
    assert good.ok and bool(good) and good.error < 1e-8
    assert isinstance(good, fg.GradCheck) and good.errors.shape == (100,)
    # 1 % off: the problem's own probe would raise; check_grad reports instead.
    bad = fg.check_grad(fg.Problem(_bowl, _bowl_grad_slightly_wrong, dim=2), pts)
    assert not bad.ok and 0.005 < float(bad) < 0.02
    assert bad.grad[1] == pytest.approx(20.2 * bad.x[1])


@pytest.mark.parametrize("name", ["saddle", "exp_quadratic", "quartic", "rosenbrock",
                                  "himmelblau", "beale", "rastrigin", "three_hump_camel"])
def test_check_grad_on_builtins(name):
    problem = getattr(P, name)
    pts = RNG.uniform(-2, 2, (200, problem.dim) if problem.dim > 1 else 200)
    assert fg.check_grad(problem, pts).error < 1e-6


def test_check_grad_least_squares():
    x, y = P.exp_linear_data(50, seed=1)
    assert fg.check_grad(P.exp_linear_fit(x, y), RNG.uniform(0, 2, (30, 3))).ok
