"""What a batch of runs returns."""

import enum
from dataclasses import dataclass, field

import numpy as np

from . import _kernels


class Status(enum.IntEnum):
    """Why a run stopped.

    CONVERGED
        a tolerance (``xtol``, ``ftol`` or ``gtol``) was met.
    MAX_EPOCHS
        the run used its whole budget of epochs.
    DIVERGED
        the point or the objective stopped being finite, or a coordinate
        exceeded ``bound`` in absolute value.
    """

    CONVERGED = _kernels.CONVERGED
    MAX_EPOCHS = _kernels.MAX_EPOCHS
    DIVERGED = _kernels.DIVERGED


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
        The hyper-parameters used, each broadcast to the batch shape (read-only
        views), plus the scalar settings (``optimizer``, ``epochs``, ...).
    problem : str
        Name of the problem.
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

    def to_pandas(self):
        """One row per run: coordinates, hyper-parameters, final point, value, status.

        Requires pandas.  Columns: one per swept dim (a point-valued dim such as
        ``x0`` of a 2-D problem gives ``x0_0``, ``x0_1``), the per-run
        hyper-parameters, ``x_0 ... x_{dim-1}``, ``fun``, ``nit``, ``status``
        (the `Status` name) and ``success``.

        Examples
        --------
        >>> import fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=[-2.0, 2.0], lr=[0.01, 0.02], epochs=50)
        >>> df = res.to_pandas()
        >>> df.shape, list(df.columns[:3])
        ((4, 7), ['x0', 'lr', 'x_0'])
        """
        import pandas as pd

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
        return pd.DataFrame(columns)

    def to_xarray(self):
        """An `xarray.Dataset` with the batch dims, their coordinates and every output.

        Requires xarray.  ``x`` gains a trailing ``component`` dim; a swept
        point-valued dim (``x0`` of a 2-D problem) gets an integer index as its
        coordinate and the points as a ``<dim>_points`` coordinate.

        Examples
        --------
        >>> import fastgd as fg
        >>> res = fg.sweep(fg.problems.quartic, x0=[-2.0, 2.0], lr=[0.01, 0.02], epochs=50)
        >>> ds = res.to_xarray()
        >>> dict(ds.sizes)
        {'x0': 2, 'lr': 2, 'component': 1}
        """
        import xarray as xr

        dims = tuple(self.dims)
        coords = {}
        for name, values in self.coords.items():
            values = np.asarray(values)
            if values.ndim == 1:
                coords[name] = values
            else:
                coords[name] = np.arange(values.shape[0])
                coords[f"{name}_points"] = ((name, "component"), values)
        data = {"x": (dims + ("component",), self.x), "fun": (dims, self.fun),
                "nit": (dims, self.nit), "status": (dims, self.status),
                "success": (dims, self.success)}
        for name, value in self.params.items():
            if isinstance(value, np.ndarray) and value.shape == self.shape \
                    and name not in self.coords:
                data[name] = (dims, np.asarray(value))
        attrs = {"problem": self.problem}
        attrs.update({k: v for k, v in self.params.items()
                      if isinstance(v, (str, int, float, bool))})
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def __repr__(self):
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return (f"Result(problem={self.problem!r}, runs={self.size} ({dims}), "
                f"{counts}, recorded={self.recorded.size})")
