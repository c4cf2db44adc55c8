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
* `trainability_map` trains the grid itself in its own kernel, chunk by chunk,
  keeping only one chunk's losses (not the trajectories): grids of any size.

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
from numba import prange, types

from . import _codegen
from . import _validate as check
from ._config import LANES, jit
from .networks import VALGRAD_SIG

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


# --- per-group gradient descent, recording every loss ----------------------------
# The measure needs every run's loss before every update.  This kernel runs plain
# gradient descent with a rate per parameter group and per run, a block of LANES runs
# at a time, getting each step's loss from the same forward pass as its gradient
# (a network's value_and_grad): one forward and one backward pass per step, as in
# the notebook's jax.value_and_grad.  The update is the descent kernels' 'gd' update,
# x - rate * g, so with equal rates the runs are fg.minimize's, bit for bit.  Runs
# are not stopped: a diverged run's losses become non-finite, which the measure
# counts as max_value.

_PAIRS = {}


def _value_and_grad(problem):
    """The problem's value_and_grad, or one made of its f and grad (two passes)."""
    valgrad = getattr(problem, "_value_and_grad", None)
    if valgrad is not None:
        return valgrad
    kfun, kgrad = problem._kernel_functions()
    if (kfun, kgrad) not in _PAIRS:
        def pair(X, data, rows, G, F, want_f):
            fail = np.zeros(X.shape[1], np.int8)  # a failed lane's loss is NaN
            kgrad(X, data, rows, G, fail)
            kfun(X, data, rows, F, fail)
            for c in range(X.shape[1]):
                if fail[c]:
                    F[c] = np.nan
        _PAIRS[kfun, kgrad] = jit(VALGRAD_SIG, cache=False)(pair)
    return _PAIRS[kfun, kgrad]


def _descend_recording(valgrad, x0, rates, group_of, data, losses):
    runs, dim = x0.shape
    epochs = losses.shape[1]
    rows = np.empty((1, data.shape[1]), np.int64)
    for i in range(data.shape[1]):
        rows[0, i] = i
    for block in prange((runs + LANES - 1) // LANES):
        first = block * LANES
        w = min(LANES, runs - first)
        X = np.empty((dim, w))
        R = np.empty((dim, w))
        G = np.empty((dim, w))
        F = np.empty(w)
        for d in range(dim):
            for c in range(w):
                X[d, c] = x0[first + c, d]
                R[d, c] = rates[group_of[d], first + c]
        for t in range(epochs):
            valgrad(X, data, rows, G, F, True)
            for c in range(w):
                losses[first + c, t] = F[c]
            for d in range(dim):
                for c in range(w):
                    X[d, c] = X[d, c] - R[d, c] * G[d, c]


_f8_2d = types.float64[:, ::1]
# One kernel for every problem: value_and_grad comes in as a first-class function,
# so the kernel is compiled once and cached on disk.
_DESCEND_RECORDING_SIG = types.void(types.FunctionType(VALGRAD_SIG), _f8_2d, _f8_2d,
                                    types.int64[::1], _f8_2d, _f8_2d)


def _map_kernel():
    # Compiled in a generated module, so that it is cached outside the package.
    return _codegen.package_kernel(__name__, "_descend_recording",
                                   "_DESCEND_RECORDING_SIG", parallel=True)


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


@dataclasses.dataclass(frozen=True, eq=False)
class _MapTask:
    """Runs ``[start, stop)`` of a trainability map: picklable, for executors and
    resumable ``out=`` directories (`fastgd._execute`)."""

    problem: object
    x0: np.ndarray        # (runs, dim), possibly a broadcast view
    rates: np.ndarray     # (n_groups, runs)
    epochs: int
    max_value: float
    tail: int

    def __call__(self, start, stop):
        group_of = np.repeat(np.arange(len(self.problem.groups)),
                             [n for _, n in self.problem.groups])
        losses = np.empty((stop - start, self.epochs))
        # Copies: a chunk of a broadcast x0 is read-only, which the signature refuses.
        _map_kernel()(_value_and_grad(self.problem), np.array(self.x0[start:stop], order="C"),
                      np.array(self.rates[:, start:stop], order="C"), group_of,
                      self.problem._data, losses)
        return {"values": convergence_measure(losses, max_value=self.max_value,
                                              tail=min(self.tail, self.epochs))}


def trainability_map(problem, lr, *, epochs=100, x0=None, max_value=MAX_VALUE, tail=TAIL,
                     chunk_size=2**18, out=None, executor=None, progress=None):
    """Train a network full batch with gradient descent over a grid of per-layer
    rates and return its `convergence_measure` map.

    Each run is ``theta_g <- theta_g - lr_g * grad_g(theta)`` for every group ``g``,
    ``epochs`` times, with the loss before each update recorded; only the losses of
    one chunk of runs are held at a time (``chunk_size x epochs`` doubles).  A
    diverged run is not stopped: its losses become non-finite and count as
    ``max_value``.

    Parameters
    ----------
    problem : Problem
        A problem with ``groups``, e.g. `fastgd.problems.mlp`.
    lr : dict
        A rate for each group: a 1-D list sweeps it (the grid is the outer
        product, in the groups' order), a number stays fixed.
    epochs : int, default 100
        Updates per run.
    x0 : array_like, shape (dim,) or grid shape + (dim,), optional
        Start point(s); default ``problem.init()``, one network shared by all runs.
    max_value, tail :
        Of `convergence_measure`.
    chunk_size : int, default 2**18
        Runs per kernel call; results do not depend on it.
    out, executor, progress :
        As for `fastgd.minimize`: a directory where finished chunks are kept (the
        same call resumes from them), an executor for the chunks, a progress line.

    Returns
    -------
    TrainabilityMap
        Dims ``lr_<group>`` for the swept groups.
    """
    from . import __version__, _execute, _identity

    dims, coords, shape, rates = _rate_grid(problem, lr)
    epochs = check.integer(epochs, "epochs", low=1)
    tail = check.integer(tail, "tail", low=1)
    chunk_size = check.integer(chunk_size, "chunk_size", low=1)
    max_value = float(check.hyper(max_value, "max_value", low=0.0))
    runs = rates.shape[1]
    if x0 is None:
        x0 = problem.init()
    x0 = check.real_array(x0, "x0")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be finite (it contains NaN or inf)")
    if x0.shape == (problem.dim,):
        starts = np.broadcast_to(x0, (runs, problem.dim))  # one network, not copied
    elif x0.shape == shape + (problem.dim,):
        starts = x0.reshape(runs, problem.dim)
    else:
        raise ValueError(f"x0 must have shape ({problem.dim},) or {shape + (problem.dim,)}, "
                         f"got {x0.shape}")
    task = _MapTask(problem, starts, rates, epochs, max_value, tail)
    values = np.empty(runs)

    def collect(start, stop, chunk):
        values[start:stop] = chunk["values"]

    store = None
    if out is not None:
        identity = _identity.fingerprint(
            __version__, "trainability_map", *_identity.problem_parts(problem),
            problem.groups, shape, x0, rates, epochs, max_value,
            tail, chunk_size)
        store = _execute.ChunkStore(out, identity, runs, chunk_size,
                                    lambda a, b: {"values": ((b - a,), np.float64)})
    _execute.execute(task, runs, chunk_size, collect, executor=executor, store=store,
                     progress=progress)
    return TrainabilityMap(values.reshape(shape), dims, coords, epochs, problem.name)


def notebook_network(width=8, depth=2, activation="tanh", data_ratio=1.0, seed=0):
    """The network of Sohl-Dickstein's notebook, with its data: `mlp` without biases,
    mean-field, ``width`` inputs, one output, as many standard-normal data points
    as ``data_ratio`` times the number of parameters (times ``width`` for the
    identity, as the notebook does: a deep linear network fits no more), random
    normal targets.  Its data and initial weights are drawn with NumPy, not with
    the notebook's JAX generator, so its maps are of the same kind, not the same.

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
    n = max(1, int((width if activation == "identity" else n_params) * data_ratio))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width))
    y = rng.standard_normal(n)
    return mlp(X, y, width=width, depth=depth, activation=activation,
               parameterization="mean_field", bias=False, seed=seed)
