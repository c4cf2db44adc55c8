"""A user's problem defined in an importable module, as a worker process needs it."""

import numba

from fastgd import problem as _problem


@numba.njit
def f(x):
    return (x[0] - 1.5) ** 2


@numba.njit
def grad(x, out):
    out[0] = 2.0 * (x[0] - 1.5)


@numba.njit
def square(x):
    return x[0] ** 2


@numba.njit
def square_grad(x, out):
    out[0] = 2 * x[0]


def shifted_bowl():
    return _problem.Problem(f, grad, dim=1, name="shifted_bowl")


def adapter_compilations():
    """How many problems this worker process restored and compiled adapters for."""
    return sum(p._adapted is not None for p in _problem._restored.values())
