"""Checking a gradient against finite differences, before a million runs rely on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _codegen
from .problem import Problem, as_points

__all__ = ["GradCheck", "check_grad"]


@dataclass(frozen=True)
class GradCheck:
    """Outcome of `check_grad`.

    Attributes
    ----------
    error : float
        The worst relative error over all points and coordinates (see
        `check_grad` for the measure).
    ok : bool
        ``error <= tol``.
    x : ndarray, shape (dim,)
        The point where the error is worst.
    grad : ndarray, shape (dim,)
        The problem's gradient there.
    fd : ndarray, shape (dim,)
        The central differences there.
    errors : ndarray, shape batch
        The worst error at each point.
    tol : float
        The tolerance ``ok`` was decided with.

    Its repr is a summary: the worst error, where, and how many points
    exceed ``tol``.
    """

    error: float
    ok: bool
    x: np.ndarray
    grad: np.ndarray
    fd: np.ndarray
    errors: np.ndarray
    tol: float = 1e-5

    def __repr__(self):
        # A summary: `errors` may hold a million numbers.
        failing = int(np.count_nonzero(~(self.errors <= self.tol)))
        where = np.array2string(self.x, precision=6, max_line_width=10**6)
        return (f"GradCheck(ok={self.ok}, error={self.error:.3g} at x={where}, "
                f"{failing} of {self.errors.size} point(s) above tol={self.tol:g})")

    def __float__(self):
        return self.error

    def __bool__(self):
        return self.ok


def check_grad(problem: Problem, points: ArrayLike, *, step: float | None = None,
               tol: float = 1e-5) -> GradCheck:
    r"""Compare a problem's gradient with central finite differences of its values.

    For each point and coordinate ``d``, with ``h = step * max(1, |x_d|)``,

    .. math:: \mathrm{fd}_d = \frac{f(x + h e_d) - f(x - h e_d)}{(x_d + h) - (x_d - h)},
              \qquad
              \mathrm{err}_d = \frac{|g_d - \mathrm{fd}_d|}{\max(|g_d|, |\mathrm{fd}_d|, s)},

    where ``s = max(1e-6 * max(1, |f(x)|), sqrt(eps) * max|g|)`` keeps a component
    that is zero from turning rounding noise into a large relative error.  All
    evaluations are batched through the problem's own kernels (for a
    `LeastSquares`, over all its data).

    Parameters
    ----------
    problem : Problem
    points : array_like, shape (..., dim)
        Where to check (for a 1-D problem, any shape of scalars).
    step : float, optional
        Relative step; default ``eps ** (1/3)`` (about 6e-6), the best for
        central differences of a function computed to full precision.
    tol : float, default 1e-5
        ``ok`` is ``error <= tol``.  A correct gradient of a smooth objective
        usually gives 1e-8 to 1e-10; a wrong one, 1e-2 or more.

    Returns
    -------
    GradCheck
        ``error`` (float), ``ok`` and where the error is worst; ``bool(result)``
        is ``ok`` and ``float(result)`` is ``error``.

    Examples
    --------
    >>> import numpy as np, fastgd as fg
    >>> res = fg.check_grad(fg.problems.saddle, np.random.default_rng(0).uniform(-2, 2, (50, 2)))
    >>> res.ok, res.error < 1e-7
    (True, True)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a fastgd.Problem, got {type(problem).__name__}")
    pts, shape = as_points(problem, points, "points")
    if step is None:
        step = np.finfo(np.float64).eps ** (1 / 3)
    step = float(step)
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}")
    n, dim = pts.shape
    _probe(problem, pts)
    kfun, kgrad = problem._kernel_functions()

    def values(x):
        out = np.empty(x.shape[0])
        _codegen.evaluate(kfun, np.ascontiguousarray(x), problem._data, out)
        return out

    f0 = values(pts)
    g = np.empty_like(pts)
    _codegen.gradient(kgrad, pts, problem._data, g)
    h = step * np.maximum(1.0, np.abs(pts))
    eye = np.eye(dim)
    up = pts[:, None, :] + h[:, :, None] * eye          # (n, dim, dim): coordinate d moved
    down = pts[:, None, :] - h[:, :, None] * eye
    f_up = values(up.reshape(-1, dim)).reshape(n, dim)
    f_down = values(down.reshape(-1, dim)).reshape(n, dim)
    width = np.einsum("ndd->nd", up) - np.einsum("ndd->nd", down)   # exact steps taken
    fd = (f_up - f_down) / width
    floor = np.maximum(1e-6 * np.maximum(1.0, np.abs(f0)),
                       np.sqrt(np.finfo(np.float64).eps) * np.abs(g).max(axis=1))
    scale = np.maximum(np.maximum(np.abs(g), np.abs(fd)), floor[:, None])
    err = np.abs(g - fd) / scale
    err = np.where(np.isnan(err), np.inf, err)
    per_point = err.max(axis=1)
    worst = int(np.argmax(per_point))
    error = float(per_point[worst])
    return GradCheck(error=error, ok=bool(error <= tol), x=pts[worst].copy(),
                     grad=g[worst].copy(), fd=fd[worst].copy(),
                     errors=per_point.reshape(shape), tol=float(tol))


def _probe(problem, points):
    """The problem's safety probe (outputs fully written, nothing outside them,
    input untouched), without its own finite-difference verdict: measuring
    that is what check_grad is for."""
    try:
        problem._probe(points)
    except ValueError as err:
        if "disagrees with finite differences" not in str(err):
            raise
