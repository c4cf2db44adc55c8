"""Built-in problems: the tutorial's objectives, each with its analytic gradient.

Each is a `fastgd.Problem` whose functions are batched kernels (lanes in the
innermost loop), compiled or loaded from Numba's cache on first access, so
that ``import fastgd`` compiles nothing.

=================  ==========================================  ===
name               objective                                   dim
=================  ==========================================  ===
``exp_quadratic``  e^x + x^2                                   1
``quartic``        x^4 - 5 x^2 + 2 x + 10                      1
``saddle``         e^(x + y) + x^2 - y^2                       2
``exp_linear_fit`` mean((e^(-a x_i) + b x_i + c - y_i)^2)      3
=================  ==========================================  ===

Classic test functions with known minima (`fastgd.testfunctions`):
``rosenbrock``, ``himmelblau``, ``booth``, ``beale``, ``rastrigin``,
``three_hump_camel`` (all 2-D) and the factory ``quadratic(dim, condition)``.

Data-matrix problems (`fastgd.networks`): ``mlp(X, y, width=, depth=, ...)``,
``linear_regression(X, y)``, ``logistic_regression(X, y)``.
"""

import numpy as np

from ._codegen import ProblemSource
from ._config import jit
from ._math import exp
from .networks import linear_regression, logistic_regression, mlp
from .problem import Problem, as_data
from .testfunctions import ANALYTIC as _TEST_FUNCTIONS
from .testfunctions import quadratic

__all__ = ["beale", "booth", "exp_linear_data", "exp_linear_fit", "exp_quadratic",
           "himmelblau", "linear_regression", "logistic_regression", "mlp", "quadratic",
           "quartic", "rastrigin", "rosenbrock", "saddle", "three_hump_camel"]


# Each formula is written as the tutorial writes it (same operations, same order),
# so the kernels agree with fastgd.reference to the last few bits.  `exp` is
# fastgd._math.exp (within 1 ulp of libm's): unlike math.exp it vectorises
# across the lanes.

def _exp_quadratic_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        F[c] = exp(x) + x ** 2


def _exp_quadratic_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        G[0, c] = exp(x) + x * 2


def _quartic_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        F[c] = x ** 4 - 5 * x ** 2 + 2 * x + 10


def _quartic_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        G[0, c] = 4 * x ** 3 - 10 * x + 2


def _saddle_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        F[c] = exp(x + y) + x ** 2 - y ** 2


def _saddle_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        e = exp(x + y)
        G[0, c] = e + x * 2
        G[1, c] = e - y * 2


# The curve fit: one data point at a time for all lanes of the block.  When the
# lanes share their rows (full batch, or batches in the data's order) the lane
# loop reads one x and one y and vectorises; shuffled mini-batches gather a
# row per lane.  Either way each lane sums its terms in the rows' order.  The
# terms are functions of scalars: an inlined function that takes arrays counts
# references to them at every call, which in a lane loop keeps LLVM from
# vectorising it.

@jit(inline="always")
def _exp_linear_loss_term(a, b, c, x, y):
    y_hat = exp((-a) * x) + b * x + c
    return (y_hat - y) ** 2


@jit(inline="always")
def _exp_linear_grad_terms(a, b, c, x, y):
    e = exp((-a) * x)
    y_hat = e + b * x + c
    r = 2 * (y_hat - y)
    return r * e * (-x), r * x, r


def _exp_linear_f(X, data, rows, F):
    m, lanes = rows.shape[1], X.shape[1]
    F[:] = 0.0
    if rows.shape[0] == 1:
        for i in range(m):
            x, y = data[0, rows[0, i]], data[1, rows[0, i]]
            for c in range(lanes):
                F[c] += _exp_linear_loss_term(X[0, c], X[1, c], X[2, c], x, y)
    else:
        for i in range(m):
            for c in range(lanes):
                k = rows[c, i]
                F[c] += _exp_linear_loss_term(X[0, c], X[1, c], X[2, c], data[0, k],
                                              data[1, k])
    for c in range(lanes):
        F[c] /= m


def _exp_linear_grad(X, data, rows, G):
    m, lanes = rows.shape[1], X.shape[1]
    G[:, :] = 0.0
    if rows.shape[0] == 1:
        for i in range(m):
            x, y = data[0, rows[0, i]], data[1, rows[0, i]]
            for c in range(lanes):
                ga, gb, gc = _exp_linear_grad_terms(X[0, c], X[1, c], X[2, c], x, y)
                G[0, c] += ga
                G[1, c] += gb
                G[2, c] += gc
    else:
        for i in range(m):
            for c in range(lanes):
                k = rows[c, i]
                ga, gb, gc = _exp_linear_grad_terms(X[0, c], X[1, c], X[2, c], data[0, k],
                                                    data[1, k])
                G[0, c] += ga
                G[1, c] += gb
                G[2, c] += gc
    for d in range(3):
        for c in range(lanes):
            G[d, c] /= m


_ANALYTIC = {
    "exp_quadratic": (_exp_quadratic_f, _exp_quadratic_grad, 1),
    "quartic": (_quartic_f, _quartic_grad, 1),
    "saddle": (_saddle_f, _saddle_grad, 2),
    **_TEST_FUNCTIONS,
}


def __getattr__(name):
    if name in _ANALYTIC:
        f, grad, dim = _ANALYTIC[name]
        problem = Problem._from_source(ProblemSource.from_functions(name, f, grad, dim))
        problem._factory = (_builtin, (name,))
        globals()[name] = problem
        return problem
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _builtin(name):
    return __getattr__(name) if name not in globals() else globals()[name]


_EXP_LINEAR_FIT = ProblemSource.from_functions("exp_linear_fit", _exp_linear_f,
                                              _exp_linear_grad, 3)


def exp_linear_fit(x, y):
    """The tutorial's curve fit: parameters (a, b, c) of ``y = e^(-a x) + b x + c``.

    The loss is the mean squared error over the data (or the mini-batch), its
    gradient the one the tutorial derives by hand:
    ``dL/da = mean(2 (yhat - y) e^(-a x) (-x))``, ``dL/db = mean(2 (yhat - y) x)``,
    ``dL/dc = mean(2 (yhat - y))``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        The data points.

    Returns
    -------
    Problem
        A 3-D problem with ``n_data == n``.

    Examples
    --------
    >>> import fastgd as fg
    >>> x, y = fg.problems.exp_linear_data(100, seed=0)
    >>> fit = fg.problems.exp_linear_fit(x, y)
    >>> res = fg.minimize(fit, x0=[1.0, 2.0, 3.0], lr=0.001, epochs=500)
    >>> bool(res.fun < fit([1.0, 2.0, 3.0]))
    True
    """
    problem = Problem._from_source(_EXP_LINEAR_FIT, data=as_data(x, y))
    problem._factory = (exp_linear_fit, (problem._data[0].copy(), problem._data[1].copy()))
    return problem


def exp_linear_data(n=100, *, a=1.2, b=3.4, c=5.6, noise=0.01, seed=0):
    """Data like the tutorial's: x uniform on [-3, 3), y = e^(-a x) + b x + c + noise.

    Parameters
    ----------
    n : int
        Number of points.
    a, b, c : float
        True parameters (the tutorial uses 1.2, 3.4, 5.6).
    noise : float
        Standard deviation of the Gaussian noise added to y.
    seed : int
        Seed of `numpy.random.default_rng`.

    Returns
    -------
    x, y : ndarray, shape (n,)

    Examples
    --------
    >>> import fastgd as fg
    >>> x, y = fg.problems.exp_linear_data(5, seed=1)
    >>> x.shape, y.shape
    ((5,), (5,))
    """
    rng = np.random.default_rng(seed)
    x = rng.random(n) * 6 - 3
    y = np.exp(-a * x) + b * x + c + rng.standard_normal(n) * noise
    return x, y
