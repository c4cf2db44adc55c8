"""Start points with named dims: product grids (`grid`) and seeded samples (`sample`).

A `Starts` is accepted as ``x0`` by `fastgd.minimize` and `fastgd.sweep`; its
dims and coordinates become the result's, so a map of the result is labelled
without further work.
"""

from dataclasses import dataclass

import numpy as np

from . import _validate as check

#: Sampling methods of `sample`.
METHODS = ("uniform", "lhs", "sobol")


@dataclass(frozen=True, eq=False, repr=False)
class Starts:
    """Start points laid out along named dims.

    Made by `grid` or `sample`; pass it as ``x0``.

    Attributes
    ----------
    points : ndarray, shape dims + (dim,)
        The start points, one per element of the dims.
    dims : tuple of str
        Names of the leading axes of ``points``.
    coords : dict
        For each dim, its values: the 1-D axis of a `grid`, or for a `sample`
        the points themselves, shape ``(n, dim)`` (``(n,)`` when dim is 1).
    """

    points: np.ndarray
    dims: tuple
    coords: dict

    @property
    def shape(self):
        """Shape of the dims (the part of the batch shape they give)."""
        return self.points.shape[:-1]

    @property
    def dim(self):
        """Number of coordinates of each point."""
        return self.points.shape[-1]

    def __repr__(self):
        sizes = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return f"Starts({sizes}; points of dim {self.dim})"


def _name(name, what):
    if not isinstance(name, str) or not name:
        raise TypeError(f"{what} must be a non-empty str, got {name!r}")
    return name


def grid(**axes):
    """A product grid of start points, one named dim per coordinate, in the order given.

    Parameters
    ----------
    **axes : 1-D array_like
        ``name=values`` for each coordinate of the problem, in order: the
        first keyword is the point's first coordinate.

    Returns
    -------
    Starts
        Points of shape ``(len(axes[0]), len(axes[1]), ..., len(axes))``
        (``indexing="ij"``), dims named after the keywords, coordinates the
        axes.

    Examples
    --------
    >>> import numpy as np, fastgd as fg
    >>> g = fg.grid(x=np.linspace(-3, 3, 5), y=np.linspace(-3, 3, 4))
    >>> g.dims, g.points.shape
    (('x', 'y'), (5, 4, 2))
    >>> res = fg.sweep(fg.problems.saddle, x0=g, lr=[1e-3, 1e-2], epochs=10)
    >>> res.dims, res.shape
    (('x', 'y', 'lr'), (5, 4, 2))
    """
    if not axes:
        raise TypeError("grid needs at least one axis, e.g. fg.grid(x=..., y=...)")
    values = {}
    for name, value in axes.items():
        arr = check.real_array(value, name)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"grid axis {name} must be a non-empty 1-D list of values, "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"grid axis {name} must be finite (it contains NaN or inf)")
        values[name] = arr
    points = np.stack(np.meshgrid(*values.values(), indexing="ij"), axis=-1)
    return Starts(points=points, dims=tuple(values), coords=values)


def _unit_sample(n, dim, method, seed):
    """``n`` points in [0, 1)^dim."""
    rng = np.random.default_rng(seed)
    if method == "uniform":
        return rng.random((n, dim))
    if method == "lhs":
        # One point in each of the n equal strata of every coordinate: a random
        # stratum order per coordinate, a uniform position inside each stratum.
        strata = np.stack([rng.permutation(n) for _ in range(dim)], axis=1)
        return (strata + rng.random((n, dim))) / n
    try:
        from scipy.stats import qmc
    except ImportError:
        raise ImportError("method='sobol' needs scipy: pip install 'fastgd[sample]'") from None
    return qmc.Sobol(dim, scramble=True, rng=rng).random(n)


def sample(n, low, high, *, method="uniform", seed=0, name="x0"):
    """``n`` start points drawn in the box [low, high), as one named dim.

    Parameters
    ----------
    n : int
        Number of points, >= 1; a power of 2 for ``'sobol'``.
    low, high : float or array_like, shape (dim,)
        Corners of the box; they broadcast together and give the dimension
        (scalars: a 1-D problem).  ``low < high`` in every coordinate.
    method : {'uniform', 'lhs', 'sobol'}, default 'uniform'
        ``'uniform'``: independent uniform draws.  ``'lhs'``: a Latin
        hypercube (each coordinate has exactly one point in each of ``n``
        equal strata).  ``'sobol'``: a scrambled Sobol' sequence (needs scipy,
        extra ``sample``), balanced when ``n`` is a power of 2.
    seed : int, default 0
        Seed of NumPy's default generator: the same seed gives the same points.
    name : str, default 'x0'
        Name of the dim.

    Returns
    -------
    Starts
        One dim ``name`` whose coordinate holds the points.

    Examples
    --------
    >>> import fastgd as fg
    >>> s = fg.sample(8, [-2, -1], [2, 1], method="lhs", seed=1)
    >>> s.dims, s.points.shape
    (('x0',), (8, 2))
    >>> res = fg.sweep(fg.problems.himmelblau, x0=s, lr=[1e-3, 1e-2], epochs=100)
    >>> res.dims, res.shape
    (('x0', 'lr'), (8, 2))
    """
    n = check.integer(n, "n", low=1)
    check.choice(method, "method", METHODS)
    seed = check.integer(seed, "seed", low=0)
    name = _name(name, "name")
    lo, hi = check.real_array(low, "low"), check.real_array(high, "high")
    try:
        lo, hi = np.broadcast_arrays(lo, hi)
    except ValueError:
        raise ValueError(f"low and high must broadcast together, got shapes "
                         f"{lo.shape} and {hi.shape}") from None
    if lo.ndim > 1:
        raise ValueError(f"low and high must be scalars or points of shape (dim,), "
                         f"got shape {lo.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("low and high must be finite")
    if np.any(lo >= hi):
        raise ValueError(f"low must be < high in every coordinate, got low={lo.tolist()}, "
                         f"high={hi.tolist()}")
    if method == "sobol" and n & (n - 1):
        raise ValueError(f"n must be a power of 2 for method='sobol' (its balance "
                         f"needs it), got {n}")
    dim = max(lo.size, 1)
    lo, hi = lo.reshape(dim), hi.reshape(dim)
    points = lo + _unit_sample(n, dim, method, seed) * (hi - lo)
    # Rounding can land a draw on ``high`` itself; the box is half-open.
    points = np.minimum(points, np.nextafter(hi, lo))
    coord = points[:, 0] if dim == 1 else points
    return Starts(points=points, dims=(name,), coords={name: coord})
