"""The trainability map: which per-layer learning rates train a network, and the
fractal boundary between those that do and those that diverge.

After Sohl-Dickstein, "The boundary of neural network trainability is fractal"
(2024): train a network full batch over a grid of per-layer learning rates,
turn each run's loss curve into one signed number (`convergence_measure`:
negative when training converges, positive when it diverges), find the boundary
between the two (`boundary`: sign changes over 2 x 2 neighbourhoods) and estimate
its box-counting dimension (`box_count`).

* `convergence_map` does it for a `fastgd.Result` whose runs were all recorded
  (``record=True``): small grids.
* `trainability_map` trains the grid itself, keeping only the losses (not the
  trajectories), for grids of any size that fit in memory.

Examples
--------
>>> import numpy as np, fastgd as fg
>>> net = fg.trainability.notebook_network(width=4, seed=0)
>>> tmap = fg.trainability.trainability_map(
...     net, lr={"layer_0": np.logspace(-1, 3, 24), "layer_1": np.logspace(-1, 3, 24)},
...     epochs=50)
>>> tmap.values.shape, tmap.dims
((24, 24), ('lr_layer_0', 'lr_layer_1'))
>>> bool(tmap.converged[0, 0]), bool(tmap.converged[-1, -1])
(True, False)
"""

import dataclasses

import numpy as np

from . import _validate as check
from ._config import FUN_SIG, GRAD_SIG, jit
from .problem import Problem

__all__ = ["BoxCount", "TrainabilityMap", "boundary", "box_count", "convergence_map",
           "convergence_measure", "notebook_network", "stretch", "trainability_map"]

#: The notebook's constants: losses are clipped at this multiple of the first,
#: and a run converged when the mean of its last TAIL normalised losses is below 1.
MAX_VALUE = 1e6
TAIL = 20


def convergence_measure(losses, *, max_value=MAX_VALUE, tail=TAIL):
    """One signed number per loss curve: negative if training converged.

    The notebook's measure: non-finite losses count as ``max_value``; the curve is
    divided by its first value and clipped at ``max_value``; a run converged when
    the mean of its last ``tail`` values is below 1, and its value is then
    ``-sum(v)``, otherwise ``sum(1 / v)``.

    Parameters
    ----------
    losses : array_like, shape (..., steps)
        The loss before each update, the first at the start point.
    max_value : float, default 1e6
    tail : int, default 20

    Returns
    -------
    ndarray, shape (...)

    Examples
    --------
    >>> convergence_measure([[1.0, 0.5, 0.25], [1.0, 4.0, float("inf")]], tail=2)
    array([-1.75    ,  1.250001])
    """
    v = check.real_array(losses, "losses")
    if v.ndim == 0 or v.shape[-1] == 0:
        raise ValueError(f"losses must have a last axis of steps, got shape {v.shape}")
    tail = check.integer(tail, "tail", low=1)
    v = np.where(np.isfinite(v), v, max_value)
    v = np.minimum(v / v[..., :1], max_value)
    converged = v[..., -tail:].mean(axis=-1) < 1
    return np.where(converged, -v.sum(axis=-1), (1.0 / v).sum(axis=-1))


def boundary(values):
    """Pixels of a 2-D map whose 2 x 2 neighbourhood holds both signs.

    Parameters
    ----------
    values : array_like, shape (h, w)
        A convergence map (negative: converged).

    Returns
    -------
    ndarray of bool, shape (h - 1, w - 1)
        True where the largest and smallest of the four values have opposite signs.

    Examples
    --------
    >>> boundary([[-1, -1, 1], [-1, 1, 1]]).astype(int).tolist()
    [[1, 1]]
    """
    v = check.real_array(values, "values")
    if v.ndim != 2 or min(v.shape) < 2:
        raise ValueError(f"values must be a 2-D map of at least 2 x 2, got shape {v.shape}")
    quad = np.stack((v[1:, 1:], v[:-1, 1:], v[1:, :-1], v[:-1, :-1]))
    return np.sign(quad.max(axis=0) * quad.min(axis=0)) < 0


@dataclasses.dataclass(frozen=True)
class BoxCount:
    """Box counts of a 2-D boundary image.

    Attributes
    ----------
    sizes : ndarray of int
        Box edge lengths in pixels.
    counts : ndarray of int
        Boxes that contain boundary pixels but are not entirely boundary.
    slopes : ndarray
        Local slopes ``-d log(count) / d log(size)``.
    """

    sizes: np.ndarray
    counts: np.ndarray
    slopes: np.ndarray

    @property
    def dimension(self):
        """The estimate of the fractal dimension: the median of the local slopes."""
        return float(np.median(self.slopes))


def box_count(edges, bins=10):
    """Box-counting estimate of the fractal dimension of a boundary image.

    The notebook's estimate (with PoreSpy's ``boxcount``): box sizes ``bins``
    values log-spaced from 10 pixels to the image's shorter side (rounded down,
    duplicates dropped), the boxes tiling the image from its corner (partial at
    the far edges); counted are the boxes that contain some but not only boundary
    pixels.  The estimate is the median of the local slopes.

    Parameters
    ----------
    edges : array_like of bool, shape (h, w)
        E.g. `boundary` of a map; h and w at least 11.
    bins : int, default 10

    Returns
    -------
    BoxCount

    Examples
    --------
    A straight line has dimension 1 (up to the boxes cut at the image edge):

    >>> import numpy as np
    >>> line = np.zeros((256, 256), bool); line[100] = True
    >>> round(box_count(line).dimension, 1)
    1.0
    """
    im = np.asarray(edges, dtype=bool)
    if im.ndim != 2 or min(im.shape) <= 10:
        raise ValueError(f"edges must be a 2-D image larger than 10 x 10, got shape {im.shape}")
    bins = check.integer(bins, "bins", low=2)
    sizes = np.unique(np.logspace(1, np.log10(min(im.shape)), bins).astype(int))
    counts = []
    for d in sizes:
        h, w = -(-im.shape[0] // d) * d, -(-im.shape[1] // d) * d
        # Padding with False for "any" and with True for "all" makes a partial box
        # at the edge count by its own pixels only.
        blocks = []
        for fill in (False, True):
            padded = np.full((h, w), fill)
            padded[:im.shape[0], :im.shape[1]] = im
            blocks.append(padded.reshape(h // d, d, w // d, d))
        some = blocks[0].any(axis=(1, 3))
        every = blocks[1].all(axis=(1, 3))
        counts.append(int(np.sum(some & ~every)))
    counts = np.array(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = -np.gradient(np.log(counts), np.log(sizes)) if sizes.size > 1 \
            else np.array([np.nan])
    return BoxCount(sizes=sizes, counts=counts, slopes=slopes)


def stretch(values, reference=None, buffer=0.25):
    """The notebook's colour stretch: ranks mapped to [-1, -buffer] and [buffer, 1].

    Each value is placed by its rank among ``reference`` (default: ``values``),
    negative values (converged) uniformly on [-1, -buffer] and the others on
    [buffer, 1], then the sign is flipped so that, with the 'Spectral' colour map,
    converged runs are blue and diverged ones red.

    Examples
    --------
    >>> stretch([-3.0, -1.0, 2.0, 5.0]).tolist()
    [1.0, 0.25, -0.25, -1.0]
    """
    x = check.real_array(values, "values")
    ref = np.sort((x if reference is None else check.real_array(reference, "reference"))
                  .ravel())
    n_neg = int(np.sum(ref < 0))
    targets = np.concatenate([np.linspace(-1.0, -buffer, n_neg),
                              np.linspace(buffer, 1.0, ref.size - n_neg)])
    return -np.interp(x, ref, targets)


@dataclasses.dataclass(frozen=True, eq=False)
class TrainabilityMap:
    """Convergence measure over a grid of hyper-parameters.

    Attributes
    ----------
    values : ndarray
        `convergence_measure` per run; negative where training converged.
    dims : tuple of str
        Names of the axes, e.g. ``('lr_layer_0', 'lr_layer_1')``.
    coords : dict
        Values along each dim.
    epochs : int
    problem : str
    """

    values: np.ndarray
    dims: tuple
    coords: dict
    epochs: int
    problem: str

    @property
    def converged(self):
        """Boolean map: training converged."""
        return self.values < 0

    def boundary(self):
        """`boundary` of the map (2-D maps)."""
        return boundary(self.values)

    def box_count(self, bins=10):
        """`box_count` of the map's boundary; ``.dimension`` is the estimate."""
        return box_count(self.boundary(), bins=bins)

    def plot(self, ax=None, *, cmap="Spectral", reference=None, title=None):
        """The map as the notebook draws it: `stretch`-ed values, 'Spectral',
        first dim on x, second on y, axes in log10 of the values.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if self.values.ndim != 2:
            raise ValueError(f"plot needs a 2-D map, got {self.values.ndim} dims")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 6))
        xs, ys = (np.log10(np.asarray(self.coords[d], dtype=float)) for d in self.dims)
        ax.imshow(stretch(self.values, reference).T, origin="lower", cmap=cmap,
                  vmin=-1, vmax=1, aspect="auto", interpolation="nearest",
                  extent=[xs[0], xs[-1], ys[0], ys[-1]])
        ax.set_xlabel(f"log10 {self.dims[0]}")
        ax.set_ylabel(f"log10 {self.dims[1]}")
        ax.set_title(title if title is not None else
                     f"Trainability: {self.problem}, {self.epochs} steps")
        return ax


def convergence_map(result, *, max_value=MAX_VALUE, tail=TAIL):
    """`convergence_measure` of every run of a result whose runs were all recorded.

    The losses are those before each of the ``epochs`` updates (the recorded
    values at epochs 0 .. epochs - 1); a run that stopped early (diverged)
    counts as ``max_value`` from then on.

    Parameters
    ----------
    result : Result
        From `fastgd.sweep` or `fastgd.minimize` with ``record=True``.

    Returns
    -------
    TrainabilityMap

    Examples
    --------
    >>> import numpy as np, fastgd as fg
    >>> res = fg.sweep(fg.problems.quartic, x0=[1.0, 2.0], lr=[0.01, 0.3], epochs=40,
    ...                record=True)
    >>> convergence_map(res).converged.tolist()
    [[True, False], [True, False]]
    """
    if result.recorded.size != result.size:
        raise ValueError("convergence_map needs the loss at every step of every run: "
                         "run with record=True (or use trainability_map)")
    epochs = int(result.params["epochs"])
    values = convergence_measure(result.path_fun[:, :epochs], max_value=max_value,
                                 tail=min(tail, epochs))
    return TrainabilityMap(values.reshape(result.shape), tuple(result.dims),
                           dict(result.coords), epochs, result.problem)


# --- per-group learning rates as state -----------------------------------------
# Until the kernels take a rate per parameter group, a plain-GD run with rate r_g
# on group g is run as a problem with one extra coordinate per group holding r_g:
# its gradient is the group's gradient times r_g (and zero for the extra
# coordinates), and the descent uses lr = 1.  Since 1.0 * u == u exactly, the
# update x - fl(r_g * g) is bit for bit the per-group update.

_RATE_KERNELS = {}


def _rates_in_state(problem):
    kfun, kgrad = problem._kernel_functions()
    sizes = tuple(n for _, n in problem.groups)
    key = (kfun, kgrad, sizes)
    if key not in _RATE_KERNELS:
        dim, n_groups = problem.dim, len(sizes)
        group_of = np.repeat(np.arange(n_groups), sizes)

        def rfun(X, data, rows, F):
            kfun(np.ascontiguousarray(X[:dim]), data, rows, F)

        def rgrad(X, data, rows, G):
            g = np.empty((dim, X.shape[1]))
            kgrad(np.ascontiguousarray(X[:dim]), data, rows, g)
            for d in range(dim):
                r = dim + group_of[d]
                for c in range(X.shape[1]):
                    G[d, c] = X[r, c] * g[d, c]
            for d in range(dim, dim + n_groups):
                for c in range(X.shape[1]):
                    G[d, c] = 0.0

        _RATE_KERNELS[key] = (jit(FUN_SIG, cache=False)(rfun),
                              jit(GRAD_SIG, cache=False)(rgrad))
    rfun, rgrad = _RATE_KERNELS[key]
    return Problem._from_kernels(rfun, rgrad, problem.dim + len(sizes),
                                 f"{problem.name} (per-group rates)", data=problem._data)


def _rate_grid(problem, lr):
    """(dims, coords, rates) for a dict of per-group rates: swept groups are dims."""
    if getattr(problem, "groups", None) is None:
        raise ValueError(f"problem {problem.name!r} has no parameter groups")
    names = [name for name, _ in problem.groups]
    if not isinstance(lr, dict):
        raise TypeError(f"lr must be a dict {{group: rates}} over the groups {names}")
    unknown = sorted(set(lr) - set(names))
    missing = [n for n in names if n not in lr]
    if unknown or missing:
        raise ValueError(f"lr must give a rate for each group of {problem.name!r}, "
                         f"{names}: unknown {unknown}, missing {missing}")
    values = {n: check.hyper(lr[n], f"lr[{n!r}]", low=0.0) for n in names}
    for n, v in values.items():
        if v.ndim > 1:
            raise ValueError(f"lr[{n!r}] must be a number or a 1-D list, got shape {v.shape}")
    swept = [n for n in names if values[n].ndim == 1]
    grids = np.meshgrid(*(values[n] for n in swept), indexing="ij")
    shape = grids[0].shape if swept else ()
    rates = np.empty((len(names), int(np.prod(shape))))
    for g, n in enumerate(names):
        rates[g] = grids[swept.index(n)].ravel() if n in swept else values[n]
    return (tuple(f"lr_{n}" for n in swept), {f"lr_{n}": values[n] for n in swept},
            shape, rates)


def trainability_map(problem, lr, *, epochs=100, x0=None, batch_size=None, shuffle=True,
                     seed=0, max_value=MAX_VALUE, tail=TAIL):
    """Train a network with plain gradient descent over a grid of per-layer rates
    and return its `convergence_measure` map.

    Only the losses are kept (``runs x epochs`` doubles), not the trajectories.
    The updates are exactly those of per-group gradient descent,
    ``theta_g <- theta_g - lr_g * grad_g``.

    Parameters
    ----------
    problem : Problem
        A problem with ``groups``, e.g. `fastgd.problems.mlp`.
    lr : dict
        A rate for each group: a 1-D list sweeps it (the grid is the outer
        product, in the groups' order), a number stays fixed.
    epochs : int, default 100
        Updates per run (full batch) or epochs (mini-batches); the losses
        before each epoch enter the measure.
    x0 : array_like, shape (dim,) or grid shape + (dim,), optional
        Start point(s); default ``problem.init()``, one network shared by all runs.
    batch_size, shuffle, seed :
        As for `fastgd.minimize`; epoch t shuffles as ``minimize(seed=seed + t)``
        does in its first epoch.
    max_value, tail :
        Of `convergence_measure`.

    Returns
    -------
    TrainabilityMap
        Dims ``lr_<group>`` for the swept groups.
    """
    from ._api import minimize

    dims, coords, shape, rates = _rate_grid(problem, lr)
    epochs = check.integer(epochs, "epochs", low=1)
    seed = check.integer(seed, "seed", low=0)
    runs = rates.shape[1]
    if x0 is None:
        x0 = problem.init()
    x0 = np.broadcast_to(check.real_array(x0, "x0"), shape + (problem.dim,)) \
        .reshape(runs, problem.dim)
    aug = _rates_in_state(problem)
    start = np.concatenate([x0, rates.T], axis=1)
    frozen = np.concatenate([x0, np.zeros_like(rates.T)], axis=1)
    X = start.copy()
    losses = np.empty((runs, epochs))
    losses[:, 0] = aug(X)
    dead = np.zeros(runs, bool)
    for t in range(1, epochs):
        res = minimize(aug, X, lr=1.0, epochs=1, batch_size=batch_size, shuffle=shuffle,
                       seed=seed + t, bound=np.inf)
        X = res.x
        losses[:, t] = res.fun
        # A run whose point is no longer finite has diverged for good: it stays
        # at max_value and sits frozen (zero rates) at a finite point.
        dead |= ~np.all(np.isfinite(X), axis=1)
        losses[dead, t] = np.inf
        X[dead] = frozen[dead]
    values = convergence_measure(losses, max_value=max_value, tail=min(tail, epochs))
    return TrainabilityMap(values.reshape(shape), dims, coords, epochs, problem.name)


def notebook_network(width=8, depth=2, activation="tanh", data_ratio=1.0, seed=0):
    """The network of Sohl-Dickstein's notebook, with its data: `mlp` without biases,
    mean-field, ``width`` inputs, one output, as many standard-normal data points
    as ``data_ratio`` times the number of parameters, random normal targets.

    Parameters
    ----------
    width, depth : int
    activation : {'tanh', 'relu', 'identity'}
    data_ratio : float, default 1.0
    seed : int
        Seed of the data and of the initial network.

    Examples
    --------
    >>> net = notebook_network()
    >>> net.dim, net.n_data
    (72, 72)
    """
    from .networks import mlp

    width = check.integer(width, "width", low=1)
    depth = check.integer(depth, "depth", low=1)
    n_params = width * width * (depth - 1) + width
    n = max(1, int(n_params * data_ratio))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width))
    y = rng.standard_normal(n)
    return mlp(X, y, width=width, depth=depth, activation=activation,
               parameterization="mean_field", bias=False, seed=seed)
