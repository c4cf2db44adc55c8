"""What a batch of runs returns, and the answers drawn from it: best run, minima."""

import enum
import json
from dataclasses import dataclass, field

import numpy as np

from . import _kernels

#: Labels of `Result.minima` for runs that reached no minimum.
DIVERGED_LABEL = -1
UNSETTLED_LABEL = -2


class Status(enum.IntEnum):
    """Why a run stopped.

    CONVERGED
        a tolerance (``xtol``, ``ftol`` or ``gtol``) was met.
    MAX_EPOCHS
        the run used its whole budget of epochs.
    DIVERGED
        the point or the objective stopped being finite, or a coordinate
        exceeded ``bound`` in absolute value.
    FAILED
        the problem's own function raised an exception in this run (a user's
        function, e.g. a division by zero at one start point); the other runs
        are unaffected.
    """

    CONVERGED = _kernels.CONVERGED
    MAX_EPOCHS = _kernels.MAX_EPOCHS
    DIVERGED = _kernels.DIVERGED
    FAILED = _kernels.FAILED


@dataclass(frozen=True, eq=False)
class Run:
    """One run of a batch, as `Result.run` and `Result.best` return it.

    Attributes
    ----------
    index : tuple of int
        Its index along each dim of the batch.
    flat : int
        Its flat (C order) index.
    coords : dict
        ``{dim: value}`` for each dim that has coordinates.
    x : ndarray, shape (dim,)
        Final point.
    fun : float
        Objective at ``x``.
    nit : int
    status : Status
    params : dict
        Its arguments: the per-run ones as scalars (``x0`` as a point), the
        settings as they are in `Result.params`.
    """

    index: tuple
    flat: int
    coords: dict
    x: np.ndarray
    fun: float
    nit: int
    status: "Status"
    params: dict


@dataclass(frozen=True, eq=False, repr=False)
class Minima:
    """The distinct minima the runs of a batch reached, from `Result.minima`.

    Minima are numbered from 0 in increasing order of ``fun`` (0 is the
    lowest found); ties go to the one holding the lowest flat run index.

    Attributes
    ----------
    labels : ndarray of int64, shape batch
        The minimum each run reached, or ``-1`` (`DIVERGED_LABEL`) for a run
        that diverged or failed or whose final point or value is not finite, or ``-2``
        (`UNSETTLED_LABEL`) for a run that ran out of epochs when only settled
        runs count.
    x : ndarray, shape (k, dim)
        Each minimum's point: the final point of its lowest run.
    fun : ndarray, shape (k,)
        That run's final value.
    run : ndarray of int64, shape (k,)
        That run's flat index.
    count : ndarray of int64, shape (k,)
        Runs that reached each minimum.
    fraction : ndarray, shape (k,)
        ``count`` over all the runs of the batch: each minimum's basin share.
    tol : float
        The grouping distance used.
    """

    labels: np.ndarray
    x: np.ndarray
    fun: np.ndarray
    run: np.ndarray
    count: np.ndarray
    fraction: np.ndarray
    tol: float

    def __len__(self):
        return self.fun.size

    def table(self):
        """The minima as a dict of equal-length columns (no pandas needed).

        Columns: ``x_0 ... x_{dim-1}``, ``fun``, ``count``, ``fraction``,
        ``run``; one row per minimum, in label order.
        """
        columns = {f"x_{j}": self.x[:, j] for j in range(self.x.shape[1])}
        columns.update(fun=self.fun, count=self.count, fraction=self.fraction, run=self.run)
        return columns

    def to_pandas(self):
        """`table` as a `pandas.DataFrame` indexed by label; requires pandas."""
        pd = _optional("pandas", "Minima.to_pandas()")
        return pd.DataFrame(self.table()).rename_axis("label")

    def __repr__(self):
        rows = [f"  {k}: x={np.array2string(self.x[k], precision=6)}, f={self.fun[k]:.8g}, "
                f"{self.count[k]} runs ({100 * self.fraction[k]:.1f}%)"
                for k in range(len(self))]
        other = {"diverged": int(np.sum(self.labels == DIVERGED_LABEL)),
                 "unsettled": int(np.sum(self.labels == UNSETTLED_LABEL))}
        tail = ", ".join(f"{v} {k}" for k, v in other.items() if v)
        return (f"Minima({len(self)} found within tol={self.tol:g}"
                + (f"; {tail}" if tail else "") + ")" + ("\n" if rows else "")
                + "\n".join(rows))


def _components(cells):
    """Connected components of integer cells, neighbours when every coordinate
    differs by at most 1: a label per row of ``cells`` (unique rows, sorted)."""
    n, dim = cells.shape
    labels = np.arange(n)
    if n < 2:
        return labels
    lo, span = cells.min(axis=0) - 1, cells.max(axis=0) - cells.min(axis=0) + 3
    if dim <= 6 and np.sum(np.log2(span.astype(float))) < 62:
        # Mixed-radix keys: the neighbours of a cell are found by binary search.
        radix = np.cumprod(np.concatenate([[1], span[:0:-1]]))[::-1].astype(np.int64)
        keys = (cells - lo) @ radix
        order = np.argsort(keys)
        steps = np.stack(np.meshgrid(*[[-1, 0, 1]] * dim, indexing="ij"), -1).reshape(-1, dim)
        steps = steps[(steps @ radix) > 0]  # each neighbour pair once
        pairs = []
        for step in steps:
            want = keys + step @ radix
            at = np.minimum(np.searchsorted(keys[order], want), n - 1)
            hit = keys[order][at] == want
            pairs.append(np.stack([np.flatnonzero(hit), order[at[hit]]]))
        a, b = np.concatenate(pairs, axis=1)
    else:
        # Many dims or huge spans: compare the cells pairwise, a block at a time.
        a, b = [], []
        for start in range(0, n, 512):
            block = cells[start:start + 512]
            near = np.max(np.abs(block[:, None, :] - cells[None, :, :]), axis=-1) <= 1
            i, j = np.nonzero(near)
            a.append(i + start)
            b.append(j)
        a, b = np.concatenate(a), np.concatenate(b)
    # Hook each edge's larger root onto the smaller, then jump to roots; repeat
    # until no edge joins two roots.  Converges in a few rounds.
    while True:
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


@dataclass(frozen=True, repr=False, eq=False)
class Result:
    """Outcome of a batch of gradient-descent runs; every array has the batch shape.

    Attributes
    ----------
    x : ndarray, shape batch + (dim,)
        Final point of each run (for a diverged run, the point where divergence
        was detected).
    fun : ndarray, shape batch
        Objective (loss over all the data) at ``x``.
    nit : ndarray of int64, shape batch
        Epochs completed; for an analytic problem or a full batch that is the
        number of updates.
    status : ndarray of int8, shape batch
        A `Status` code per run.
    success : ndarray of bool, shape batch
        Converged, or ran its whole budget without diverging when no
        tolerance was asked for.
    dims : tuple of str
        Names of the batch axes: the swept arguments for `fastgd.sweep`,
        ``('dim_0', ...)`` for `fastgd.minimize`.
    coords : dict
        For each swept dim, the values along it.
    params : dict
        Every argument of the call.  The per-run ones (``x0``, ``lr``, the
        optimiser's and the schedule's parameters) are read-only views
        broadcast to the batch shape (``x0`` to batch + (dim,)); the settings
        (``optimizer``, ``epochs``, ``seed``, ``xtol``, ...) are scalars, None
        where a setting is off (a tolerance not set, ``batch_size`` of a
        problem without data, no ``schedule``).
    problem : str
        Name of the problem.
    summary : dict
        Per-run summaries computed in the kernel, each shaped like the batch,
        when `fastgd.minimize` was called with ``summary=True`` or a
        ``target``: ``fun_best`` (the lowest value seen, start included) and
        ``epoch_best``; ``fun_last_finite`` and ``epoch_last_finite`` (for a
        diverged run, its last finite value; -1: none); ``hit_epoch`` (with a
        ``target``: the first epoch whose value is ``<= target``, -1: never);
        ``loss_ratio_sum``, ``loss_ratio_tail`` and ``loss_ratio_inv_sum``
        (the sums of ``v_e = min(f_e / f_0, 1e6)`` over the losses before each
        update, epochs 0..E-1, over the last 20 of them, and of ``1 / v_e``; a
        non-finite or missing epoch of a diverged run counts 1e6: the
        trainability measure of Sohl-Dickstein, 2024).  Empty otherwise.
    state : dict
        What each run's descent would go on from, for ``init=`` of
        `fastgd.minimize` and `fastgd.sweep`: ``stopped`` (True where a run
        ended by converging, diverging or failing, False where it ran out of
        epochs: the runs a longer budget takes further); the optimiser's state per
        coordinate (shaped like ``x``) and per run, named as in
        `fastgd.optimizers` (``v``; ``m``, ``s``, ``p1``, ``p2`` for Adam);
        with a schedule, ``lr_now`` (``lr_now_<group>`` per parameter group),
        the current rate; with summaries, ``summary_rows``, the kernel's
        running sums.
    """

    x: np.ndarray
    fun: np.ndarray
    nit: np.ndarray
    status: np.ndarray
    success: np.ndarray
    dims: tuple
    coords: dict
    params: dict
    problem: str
    recorded: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    path_x: np.ndarray = field(default=None)
    path_fun: np.ndarray = field(default=None)
    summary: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)

    @property
    def shape(self):
        """The batch shape."""
        return self.fun.shape

    @property
    def size(self):
        """Number of runs."""
        return self.fun.size

    def counts(self):
        """Number of runs per `Status`, as a dict keyed by status name."""
        codes = np.bincount(self.status.ravel(), minlength=len(Status))
        return {s.name.lower(): int(codes[s]) for s in Status}

    def _flat_index(self, index):
        if isinstance(index, tuple):
            return int(np.ravel_multi_index(index, self.shape))
        flat = int(index)
        if not 0 <= flat < self.size:
            raise IndexError(f"index {flat} is out of range for {self.size} runs")
        return flat

    def _any_tolerance(self):
        return any(self.params.get(t) for t in ("xtol", "ftol", "gtol"))

    def run(self, index):
        """Everything about one run: its index, coordinates, outcome and arguments.

        Parameters
        ----------
        index : int or tuple of int
            Flat index (C order) or one index per dim.

        Returns
        -------
        Run
        """
        flat = self._flat_index(index)
        where = np.unravel_index(flat, self.shape)
        coords = {}
        for axis, dim in enumerate(self.dims):
            if dim in self.coords:
                value = np.asarray(self.coords[dim])[where[axis]]
                coords[dim] = value.item() if value.ndim == 0 else value.copy()
        params = {}
        for name, value in self.params.items():
            if isinstance(value, np.ndarray):
                value = value[where]
                value = value.item() if value.ndim == 0 else value.copy()
            params[name] = value
        return Run(index=tuple(int(i) for i in where), flat=flat, coords=coords,
                   x=self.x[where].copy(), fun=float(self.fun[where]),
                   nit=int(self.nit[where]), status=Status(int(self.status[where])),
                   params=params)

    def best(self, values=None):
        """The run with the lowest final value among the runs that did not diverge.

        Parameters
        ----------
        values : array_like, shape batch, optional
            Rank the runs by these instead of ``fun`` (e.g. a value of your
            own computed per run).

        Returns
        -------
        Run
            Of the runs whose status is neither diverged nor failed and whose value is
            finite, the one with the lowest value; of equal values, the lowest
            flat index.

        Raises
        ------
        ValueError
            If no run qualifies (all diverged, or no finite value).

        Examples
        --------
        >>> import numpy as np, fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=np.linspace(-2.5, 2.5, 11),
        ...                lr=[0.01, 0.3], epochs=200)
        >>> b = res.best()
        >>> b.coords, round(b.fun, 4), round(float(b.x[0]), 4)
        ({'x0': -2.5, 'lr': 0.01}, 0.4934, -1.673)
        """
        v = self.fun if values is None else np.asarray(values, dtype=float)
        if v.shape != self.shape:
            raise ValueError(f"values must have the batch shape {self.shape}, got {v.shape}")
        ok = (self.status != Status.DIVERGED) & (self.status != Status.FAILED) & np.isfinite(v)
        if not ok.any():
            raise ValueError(f"no run has a finite value: of {self.size} runs "
                             f"{int(np.sum(self.status == Status.DIVERGED))} diverged, "
                             f"{int(np.sum(self.status == Status.FAILED))} failed")
        # argmin returns the first of equal minima: the lowest flat index.
        return self.run(int(np.argmin(np.where(ok, v, np.inf).reshape(-1))))

    def minima(self, tol=1e-3, *, settled=None):
        """Group the runs by the minimum their final points reached.

        Final points are put on a grid of cells of side ``tol``; cells that
        touch (every coordinate differing by at most one cell) are one
        minimum.  So two runs whose final points are within ``tol`` of each
        other (in every coordinate) always share a minimum, and runs of
        different minima are more than ``tol`` apart.

        Parameters
        ----------
        tol : float, default 1e-3
            Grouping distance: larger than the spread of the final points
            around a minimum, smaller than the distance between minima.
        settled : bool, optional
            Count only runs that converged (met a tolerance); the others get
            label -2.  Default: True when a tolerance (xtol, ftol, gtol) was
            set, else False (every run that did not diverge counts: then pass
            enough epochs for the runs to settle).

        Returns
        -------
        Minima
            Per-run labels (-1 for diverged runs) and the table of minima,
            lowest first.

        Examples
        --------
        The quartic x^4 - 5x^2 + 2x + 10 has minima at -1.6730 and 1.4696:

        >>> import numpy as np, fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=np.linspace(-2.5, 2.5, 101),
        ...                lr=[0.01, 0.02, 0.5], epochs=500, gtol=1e-9)
        >>> m = res.minima()
        >>> np.round(m.x[:, 0], 4), m.count, m.labels[50].tolist()
        (array([-1.673 ,  1.4696]), array([110,  92]), [0, 0, -1])
        """
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) \
                or not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
        if settled is None:
            settled = self._any_tolerance()
        elif not isinstance(settled, (bool, np.bool_)):
            raise TypeError(f"settled must be None or a bool, got {type(settled).__name__}")
        dim = self.x.shape[-1]
        pts, f = self.x.reshape(-1, dim), self.fun.reshape(-1)
        status = self.status.reshape(-1)
        finite = (status != Status.DIVERGED) & (status != Status.FAILED) \
            & np.all(np.isfinite(pts), axis=1) \
            & np.isfinite(f)
        counted = finite & (status == Status.CONVERGED) if settled else finite
        labels = np.where(finite, UNSETTLED_LABEL, DIVERGED_LABEL).astype(np.int64)
        runs = np.flatnonzero(counted)
        if runs.size == 0:
            return Minima(labels=labels.reshape(self.shape), x=np.empty((0, dim)),
                          fun=np.empty(0), run=np.empty(0, np.int64),
                          count=np.empty(0, np.int64), fraction=np.empty(0), tol=float(tol))
        cells, inverse = np.unique(np.floor(pts[runs] / tol).astype(np.int64), axis=0,
                                   return_inverse=True)
        _, component = np.unique(_components(cells), return_inverse=True)
        group = component.reshape(-1)[inverse.reshape(-1)]  # 0 .. groups - 1
        # The lowest run of each group (ties: lowest flat index, runs are in order).
        order = np.lexsort((runs, f[runs], group))
        first = np.ones(order.size, bool)
        first[1:] = group[order][1:] != group[order][:-1]
        lowest = order[first]                 # position in runs, one per group
        rank = np.lexsort((runs[lowest], f[runs[lowest]]))
        relabel = np.empty(rank.size, np.int64)
        relabel[group[lowest][rank]] = np.arange(rank.size)
        labels[runs] = relabel[group]
        best = runs[lowest[rank]]
        count = np.bincount(labels[runs], minlength=rank.size).astype(np.int64)
        return Minima(labels=labels.reshape(self.shape), x=pts[best].copy(), fun=f[best].copy(),
                      run=best.astype(np.int64), count=count, fraction=count / self.size,
                      tol=float(tol))

    def path(self, index=None):
        """Recorded trajectory of one run.

        Parameters
        ----------
        index : int or tuple of int, optional
            The run: a flat index into the batch (C order) or a tuple with one
            index per batch axis.  May be omitted when exactly one run was
            recorded.

        Returns
        -------
        xs : ndarray, shape (nit + 1, dim)
            Points from the start point on, one per epoch.
        fs : ndarray, shape (nit + 1,)
            Objective values at those points.

        Examples
        --------
        >>> import fastgd as fg
        >>> res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.1,
        ...                   epochs=100, record=True)
        >>> xs, fs = res.path()
        >>> xs.shape, fs.shape
        ((101, 1), (101,))
        """
        if self.recorded.size == 0:
            raise ValueError("no trajectory was recorded: pass record=... to keep some")
        if index is None:
            if self.recorded.size != 1:
                raise ValueError(
                    f"{self.recorded.size} runs were recorded: say which with index=")
            flat = int(self.recorded[0])
        elif isinstance(index, tuple):
            flat = int(np.ravel_multi_index(index, self.shape))
        else:
            flat = int(index)
            if not 0 <= flat < self.size:
                raise IndexError(f"index {flat} is out of range for {self.size} runs")
        slot = np.searchsorted(self.recorded, flat)
        if slot == self.recorded.size or self.recorded[slot] != flat:
            raise ValueError(f"run {index} was not recorded; recorded runs: "
                             f"{self.recorded[:10].tolist()}")
        n = int(self.nit.ravel()[flat]) + 1
        return self.path_x[slot, :n].copy(), self.path_fun[slot, :n].copy()

    def save(self, path, compress=True):
        """Write the result to an ``.npz`` file; see `fastgd.save` and `fastgd.load`."""
        from .io import save
        save(self, path, compress=compress)

    def _start_columns(self):
        """The start point per run, by column name, when ``x0`` is not a swept dim."""
        x0 = self.params.get("x0")
        if self._x0_is_coordinate() or not isinstance(x0, np.ndarray):
            return {}
        flat = x0.reshape(self.size, -1)
        if flat.shape[1] == 1:
            return {"x0": flat[:, 0]}
        return {f"x0_{j}": flat[:, j] for j in range(flat.shape[1])}

    def _x0_is_coordinate(self):
        """Whether the start points are the coordinate of a dim ``x0`` (a list of
        points swept), rather than a separate per-run array."""
        values = self.coords.get("x0")
        if values is None:
            return False
        values = np.asarray(values)
        return values.shape[1:] == (() if self.x.shape[-1] == 1 else self.x.shape[-1:])

    def _settings(self):
        """The scalar settings (``optimizer``, ``epochs``, tolerances...)."""
        return {k: v for k, v in self.params.items() if not isinstance(v, np.ndarray)}

    def to_pandas(self):
        """One row per run: coordinates, arguments, final point, value, status.

        Requires pandas.  Columns: one per swept dim (a point-valued dim such as
        ``x0`` of a 2-D problem gives ``x0_0``, ``x0_1``), the start point
        when it is not a swept dim (``x0``, or ``x0_0 ...``), the per-run
        hyper-parameters, ``x_0 ... x_{dim-1}``, ``fun``, ``nit``, ``status``
        (the `Status` name) and ``success``.  The scalar settings, with None
        for those that are off, are in ``DataFrame.attrs``.

        Examples
        --------
        >>> import fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=[-2.0, 2.0], lr=[0.01, 0.02], epochs=50)
        >>> df = res.to_pandas()
        >>> df.shape, list(df.columns[:3]), df.attrs["gtol"]
        ((4, 7), ['x0', 'lr', 'x_0'], None)
        """
        pd = _optional("pandas", "Result.to_pandas()")

        columns = {}
        grids = np.meshgrid(*(np.arange(n) for n in self.shape), indexing="ij")
        for axis, name in enumerate(self.dims):
            values = self.coords.get(name)
            if values is None:
                continue
            picked = np.asarray(values)[grids[axis].ravel()]
            if picked.ndim == 1:
                columns[name] = picked
            else:
                for j in range(picked.shape[1]):
                    columns[f"{name}_{j}"] = picked[:, j]
        columns.update((k, v) for k, v in self._start_columns().items() if k not in columns)
        for name, value in self.params.items():
            if isinstance(value, np.ndarray) and value.shape == self.shape \
                    and name not in columns:
                columns[name] = value.ravel()
        x = self.x.reshape(self.size, -1)
        for j in range(x.shape[1]):
            columns[f"x_{j}"] = x[:, j]
        columns["fun"] = self.fun.ravel()
        columns["nit"] = self.nit.ravel()
        columns["status"] = pd.Categorical.from_codes(
            self.status.ravel(), [s.name.lower() for s in Status])
        columns["success"] = self.success.ravel()
        columns.update((name, value.ravel()) for name, value in self.summary.items())
        df = pd.DataFrame(columns)
        df.attrs.update(problem=self.problem, **self._settings())
        return df

    def to_xarray(self):
        """An `xarray.Dataset` with the batch dims, their coordinates and every output.

        Requires xarray.  ``x`` gains a trailing ``component`` dim; a swept
        point-valued dim (``x0`` of a 2-D problem, a `fastgd.sample`) gets an
        integer index as its coordinate and the points as a ``<dim>_points``
        coordinate.  A start point that is not a swept dim is the variable
        ``x0``; the per-run hyper-parameters are variables too.  A variable
        whose name is also a dim's (``x`` for ``fg.grid(x=..., y=...)``) is
        named ``result_<name>``.  ``status``
        holds the `Status` names (``'converged'``, ``'max_epochs'``,
        ``'diverged'``), as in `to_pandas`.  The scalar settings are
        attributes; a setting that is off (None) is left out, and a bool is
        stored as 0 or 1, as NetCDF attributes must be numbers or text.

        The dataset writes to NetCDF and reads back identical
        (``ds.to_netcdf(path, engine="scipy")``, extra ``frames``); NetCDF-3
        stores ``nit`` as int32 and the status names as text.

        Examples
        --------
        >>> import fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=[-2.0, 2.0], lr=[0.01, 0.02], epochs=50)
        >>> ds = res.to_xarray()
        >>> dict(ds.sizes), str(ds.status.values[0, 0]), ds.attrs["epochs"]
        ({'x0': 2, 'lr': 2, 'component': 1}, 'max_epochs', 50)
        """
        xr = _optional("xarray", "Result.to_xarray()")

        dims = tuple(self.dims)
        coords = {}
        for name, values in self.coords.items():
            values = np.asarray(values)
            if values.ndim == 1:
                coords[name] = values
            else:
                coords[name] = np.arange(values.shape[0])
                coords[f"{name}_points"] = ((name, "component"), values)
        names = np.array([s.name.lower() for s in Status])
        data = {"x": (dims + ("component",), self.x), "fun": (dims, self.fun),
                "nit": (dims, self.nit), "status": (dims, names[self.status]),
                "success": (dims, self.success)}
        x0 = self.params.get("x0")
        if isinstance(x0, np.ndarray) and not self._x0_is_coordinate():
            data["x0"] = (dims + ("component",), x0)
        for name, value in self.params.items():
            if isinstance(value, np.ndarray) and value.shape == self.shape \
                    and name not in self.coords:
                data[name] = (dims, np.asarray(value))
        # A variable whose name a dim has taken (a grid axis called x) is result_<name>.
        data = {(f"result_{k}" if k in dims else k): v for k, v in data.items()}
        attrs = {"problem": self.problem}
        for k, v in self._settings().items():
            if isinstance(v, (bool, np.bool_)):
                attrs[k] = int(v)
            elif v is not None:
                attrs[k] = v
        # What `from_xarray` needs to rebuild the Result exactly, as one text attribute.
        attrs["fastgd"] = json.dumps({
            "dims": list(dims),
            "per_run": [k for k, v in self.params.items() if isinstance(v, np.ndarray)],
            "renamed": [k for k in ("x", "fun", "nit", "status", "success", "x0") if k in dims],
            "settings": {k: v.item() if isinstance(v, np.generic) else v
                         for k, v in self._settings().items()}})
        return xr.Dataset(data, coords=coords, attrs=attrs)

    @classmethod
    def from_xarray(cls, ds):
        """The `Result` a `to_xarray` dataset (read back from NetCDF, say) was made from.

        Equal to the original field by field (``nit`` as int64, ``status`` as
        codes, the per-run arguments as broadcast views, the settings with None
        for those that are off); recorded trajectories are not part of the
        dataset.

        Examples
        --------
        >>> import numpy as np, fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=[-2.0, 2.0], lr=[0.01, 0.02], epochs=50)
        >>> back = fg.Result.from_xarray(res.to_xarray())
        >>> back.dims, np.array_equal(back.fun, res.fun), back.params["gtol"]
        (('x0', 'lr'), True, None)
        """
        if "fastgd" not in ds.attrs:
            raise ValueError("ds was not made by Result.to_xarray (no 'fastgd' attribute)")
        meta = json.loads(ds.attrs["fastgd"])
        dims = tuple(meta["dims"])
        shape = tuple(ds.sizes[d] for d in dims)
        coords = {}
        for d in dims:
            if f"{d}_points" in ds.coords:
                coords[d] = ds[f"{d}_points"].values
            elif d in ds.coords:
                coords[d] = ds[d].values

        renamed = set(meta.get("renamed", ()))

        def values(name, *extra):
            name = f"result_{name}" if name in renamed else name
            return ds[name].transpose(*dims, *extra).values

        def stored(name):
            return (f"result_{name}" if name in renamed else name) in ds.data_vars

        codes = {s.name.lower(): int(s) for s in Status}
        labels = values("status").astype(str)
        status = np.zeros(shape, np.int8)
        for name, code in codes.items():
            status[labels == name] = code
        params = {}
        for name in meta["per_run"]:
            point = ("component",) if name == "x0" else ()
            if stored(name):
                value = values(name, *point)
            else:  # a swept argument: its values along its own dim
                along = np.asarray(coords[name])
                if point and along.ndim == 1:
                    along = along[:, None]
                axes = [1] * len(dims)
                axes[dims.index(name)] = along.shape[0]
                value = along.reshape(tuple(axes) + along.shape[1:])
            params[name] = np.broadcast_to(value, shape + np.shape(value)[len(dims):])
        params.update(meta["settings"])
        return cls(x=values("x", "component"), fun=values("fun"),
                   nit=values("nit").astype(np.int64), status=status,
                   success=values("success").astype(bool), dims=dims, coords=coords,
                   params=params, problem=str(ds.attrs["problem"]))

    def __repr__(self):
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return (f"Result(problem={self.problem!r}, runs={self.size} ({dims}), "
                f"{counts}, recorded={self.recorded.size})")


def _optional(module, what):
    """Import an optional dependency, or say which extra brings it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {module}: pip install {module} "
                          "(or pip install 'fastgd[frames]')") from None
