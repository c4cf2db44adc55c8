r"""Classic optimisation test functions with known minima, as batched kernels.

They are registered in `fastgd.problems` (``fg.problems.rosenbrock``, ...) like
the tutorial's objectives; this module holds their kernels, their known minima
(`MINIMA`) and the factory `quadratic`.

======================  ========================================================  =====================================
name                    objective                                                 global minima (value 0 at each)
======================  ========================================================  =====================================
``rosenbrock``          :math:`(1 - x)^2 + 100 (y - x^2)^2`                       (1, 1)
``himmelblau``          :math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`                (3, 2), (-2.805118, 3.131313),
                                                                                  (-3.779310, -3.283186),
                                                                                  (3.584428, -1.848127)
``booth``               :math:`(x + 2y - 7)^2 + (2x + y - 5)^2`                   (1, 3)
``beale``               :math:`(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2`            (3, 0.5)
                        :math:`+ (2.625 - x + xy^3)^2`
``rastrigin``           :math:`20 + \sum_{i=1}^2 (x_i^2 - 10 \cos 2\pi x_i)`       (0, 0); local minima near every
                                                                                  integer point
``three_hump_camel``    :math:`2x^2 - 1.05x^4 + x^6/6 + xy + y^2`                 (0, 0); local minima near
                                                                                  +-(1.7476, -0.8738)
`quadratic` (factory)   :math:`\tfrac12 x^\top A x`, A with eigenvalues            the origin
                        geometrically spaced in [1, condition]
======================  ========================================================  =====================================
"""

import math

import numpy as np

from ._config import FUN_SIG, GRAD_SIG, jit

__all__ = ["MINIMA", "quadratic"]

#: Global minimisers of each named test function (all have minimum value 0),
#: to the digits given (Himmelblau's non-integer ones to 1e-12).
MINIMA = {
    "rosenbrock": [(1.0, 1.0)],
    "himmelblau": [(3.0, 2.0),
                   (-2.805118086952745, 3.131312518250573),
                   (-3.779310253377747, -3.283185991286170),
                   (3.584428340330492, -1.848126526964404)],
    "booth": [(1.0, 3.0)],
    "beale": [(3.0, 0.5)],
    "rastrigin": [(0.0, 0.0)],
    "three_hump_camel": [(0.0, 0.0)],
}


def _rosenbrock_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        F[c] = (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        r = y - x * x
        G[0, c] = -2.0 * (1.0 - x) - 400.0 * x * r
        G[1, c] = 200.0 * r


def _himmelblau_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        F[c] = (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _himmelblau_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        a = x * x + y - 11.0
        b = x + y * y - 7.0
        G[0, c] = 4.0 * x * a + 2.0 * b
        G[1, c] = 2.0 * a + 4.0 * y * b


def _booth_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        F[c] = (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def _booth_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        a = x + 2.0 * y - 7.0
        b = 2.0 * x + y - 5.0
        G[0, c] = 2.0 * a + 4.0 * b
        G[1, c] = 4.0 * a + 2.0 * b


def _beale_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        F[c] = ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2
                + (2.625 - x + x * y * y * y) ** 2)


def _beale_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        a = 1.5 - x + x * y
        b = 2.25 - x + x * y * y
        d = 2.625 - x + x * y * y * y
        G[0, c] = 2.0 * a * (y - 1.0) + 2.0 * b * (y * y - 1.0) + 2.0 * d * (y * y * y - 1.0)
        G[1, c] = 2.0 * a * x + 4.0 * b * x * y + 6.0 * d * x * y * y


_TWO_PI = 2.0 * math.pi


def _rastrigin_f(X, data, rows, F):
    for c in range(X.shape[1]):
        total = 10.0 * X.shape[0]
        for d in range(X.shape[0]):
            x = X[d, c]
            total += x * x - 10.0 * math.cos(_TWO_PI * x)
        F[c] = total


def _rastrigin_grad(X, data, rows, G):
    for d in range(X.shape[0]):
        for c in range(X.shape[1]):
            x = X[d, c]
            G[d, c] = 2.0 * x + 10.0 * _TWO_PI * math.sin(_TWO_PI * x)


def _camel_f(X, data, rows, F):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        x2 = x * x
        F[c] = 2.0 * x2 - 1.05 * x2 * x2 + x2 * x2 * x2 / 6.0 + x * y + y * y


def _camel_grad(X, data, rows, G):
    for c in range(X.shape[1]):
        x = X[0, c]
        y = X[1, c]
        x2 = x * x
        G[0, c] = 4.0 * x - 4.2 * x2 * x + x2 * x2 * x + y
        G[1, c] = x + 2.0 * y


#: name -> (batched f, batched grad, dim), merged into fastgd.problems' registry.
ANALYTIC = {
    "rosenbrock": (_rosenbrock_f, _rosenbrock_grad, 2),
    "himmelblau": (_himmelblau_f, _himmelblau_grad, 2),
    "booth": (_booth_f, _booth_grad, 2),
    "beale": (_beale_f, _beale_grad, 2),
    "rastrigin": (_rastrigin_f, _rastrigin_grad, 2),
    "three_hump_camel": (_camel_f, _camel_grad, 2),
}


def quadratic(dim, condition=10.0, *, seed=None):
    r"""An N-dimensional convex quadratic with a chosen condition number.

    :math:`f(x) = \tfrac12 x^\top A x`, :math:`\nabla f = A x`, with ``A``'s
    eigenvalues :math:`\lambda_i` geometrically spaced from 1 to ``condition``.
    The minimum is 0 at the origin.  Gradient descent converges for
    ``lr < 2 / condition``, fastest at ``lr = 2 / (1 + condition)``.

    Parameters
    ----------
    dim : int
        Number of variables, >= 1.
    condition : float, default 10
        :math:`\lambda_{max} / \lambda_{min}` >= 1.
    seed : int, optional
        None: ``A`` is diagonal (axes aligned with the eigenvectors).  An int:
        ``A = Q diag(lambda) Q^T`` with ``Q`` a random rotation from
        `numpy.random.default_rng(seed)` (matters to per-coordinate methods
        such as Adam).

    Returns
    -------
    Problem
        Named ``quadratic_<dim>d_cond<condition>``, with ``matrix`` (``A``) and
        ``eigenvalues`` as extra attributes.  Its kernels are compiled per
        call (about 0.3 s).

    Examples
    --------
    >>> import fastgd as fg
    >>> q = fg.problems.quadratic(4, condition=100.0)
    >>> q.eigenvalues.round(3).tolist()
    [1.0, 4.642, 21.544, 100.0]
    >>> res = fg.minimize(q, x0=[1.0, 1.0, 1.0, 1.0], lr=2 / 101, epochs=2000)
    >>> bool(abs(res.x).max() < 1e-8)
    True
    """
    from .problem import Problem

    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be an int >= 1, got {dim!r}")
    condition = float(condition)
    if not (np.isfinite(condition) and condition >= 1.0):
        raise ValueError(f"condition must be a finite number >= 1, got {condition}")
    dim = int(dim)
    lam = np.geomspace(1.0, condition, dim) if dim > 1 else np.ones(1)
    if seed is None:
        A = np.diag(lam)
    else:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))
        A = (q * lam) @ q.T
        A = 0.5 * (A + A.T)
    A = np.ascontiguousarray(A)
    diagonal = seed is None

    @jit(FUN_SIG, cache=False)
    def f(X, data, rows, F, fail):
        for c in range(X.shape[1]):
            F[c] = 0.0
        for i in range(dim):
            for j in range(dim):
                if diagonal and i != j:
                    continue
                a = 0.5 * A[i, j]
                for c in range(X.shape[1]):
                    F[c] += a * X[i, c] * X[j, c]

    @jit(GRAD_SIG, cache=False)
    def grad(X, data, rows, G, fail):
        for i in range(dim):
            for c in range(X.shape[1]):
                G[i, c] = 0.0
            for j in range(dim):
                if diagonal and i != j:
                    continue
                a = A[i, j]
                for c in range(X.shape[1]):
                    G[i, c] += a * X[j, c]

    name = f"quadratic_{dim}d_cond{condition:g}" + ("" if seed is None else f"_seed{seed}")
    problem = Problem._from_kernels(f, grad, dim, name)
    problem.matrix, problem.eigenvalues = A, lam
    problem._factory = (_rebuild_quadratic, (dim, condition, seed))   # for pickling
    return problem


def _rebuild_quadratic(dim, condition, seed):
    return quadratic(dim, condition, seed=seed)
