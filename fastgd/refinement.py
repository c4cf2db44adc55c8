"""Adaptive refinement of a 2-D map: run the full grid only where the answer changes.

The map is a `fastgd.sweep` over two swept dims at full resolution.  `refine`
runs a coarse subgrid of it, then splits in four each cell whose corner runs
disagree (in status, and in basin or a quantity of the caller's), running
the new corners, until the disagreeing cells are one grid step wide.  A cell
whose corners agree is filled with their class without running its inside.
Every run that is computed is computed from the full grid's own arguments,
so it is bit for bit the full sweep's run.
"""

import dataclasses

import numpy as np

from . import _api
from . import _validate as check
from .result import Result, Status


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Refinement:
    """Outcome of `refine`.

    Attributes
    ----------
    result : Result
        The map at full resolution, with the full sweep's dims, coordinates
        and params.  Runs that were computed hold their outcome, equal bit
        for bit to the full sweep's.  A run that was not computed lies inside
        a cell whose corners agreed: its ``status`` is theirs, ``x`` and
        ``fun`` are NaN and ``nit`` is -1.
    computed : ndarray of bool, shape of the map
        Which runs were computed.
    labels : ndarray, shape of the map
        The class each run has or was given: its status code for
        ``by="status"``, its minimum's label for ``by="minimum"`` (see
        `fastgd.Result.minima`), the caller's value for a callable.
    minima : Minima or None
        For ``by="minimum"``: the minima found by the computed runs, with
        ``labels``, ``count`` and ``fraction`` over the whole map.
    levels : int
        Rounds of splitting done.
    """

    result: Result
    computed: np.ndarray
    labels: np.ndarray
    minima: object
    levels: int

    @property
    def runs(self):
        """Number of runs computed."""
        return int(self.computed.sum())

    def __repr__(self):
        return (f"Refinement({self.runs:,} of {self.computed.size:,} runs computed "
                f"({100 * self.runs / self.computed.size:.1f}%), {self.levels} levels)")


def _coarse(n, start):
    return np.unique(np.round(np.linspace(0, n - 1, min(start, n))).astype(np.int64))


def refine(problem, *, x0, lr, epochs, by="status", start=33, tol=1e-3, momentum=None,
           schedule=None, **options):
    """A 2-D sweep map computed adaptively: fine only where the outcome changes.

    Takes the arguments of `fastgd.sweep`, of which exactly two must sweep
    (two lists, or a two-dim `fastgd.grid` as ``x0``): they give the map at
    full resolution.  A coarse subgrid of about ``start`` x ``start`` runs
    is computed first; then, round after round, each cell whose four corner
    runs disagree is split in four and the new corners are run, down to
    cells one grid step wide.  Cells whose corners agree are filled with
    their common class.

    Parameters
    ----------
    problem : Problem
    x0, lr, epochs, momentum, schedule
        As in `fastgd.sweep`.
    by : {'status', 'minimum'} or callable, default 'status'
        What corners must agree on, besides their status: nothing more
        (``'status'``); the minimum reached (``'minimum'``, grouped as
        `fastgd.Result.minima` does with ``tol``); or ``by(result)``, a
        function of a `Result` of runs returning one value per run (e.g.
        ``lambda r: r.nit > 100``), compared for equality.
    start : int, default 33
        Points per axis of the coarse grid (at most the axis's length).
        Features smaller than a coarse cell whose corners agree are missed:
        the coarser the start, the fewer runs and the more risk.
    tol : float, default 1e-3
        Grouping distance of ``by='minimum'``.
    **options
        Other arguments of `fastgd.sweep` (``gtol``, ``optimizer``, ...),
        except ``record`` and ``out``.

    Returns
    -------
    Refinement
        ``result`` (the full map; runs not computed marked by ``computed``),
        ``labels``, ``minima``, and ``runs``, the number of runs computed.

    Raises
    ------
    ValueError
        If not exactly two dims sweep, or for shuffled mini-batches (their
        order depends on a run's index in the batch, so a run alone would
        not repeat the full sweep's).

    Examples
    --------
    Which minimum of the quartic each (start, rate) reaches, on a 257 x 257 map:

    >>> import numpy as np, fastgd as fg
    >>> ref = fg.refine(fg.problems.quartic, x0=np.linspace(-2.5, 2.5, 257),
    ...                 lr=np.geomspace(1e-3, 0.1, 257), epochs=500, gtol=1e-6,
    ...                 by="minimum", start=17)
    >>> ref.runs < 0.3 * ref.computed.size, np.round(ref.minima.x[:, 0], 3)
    (True, array([-1.673,  1.47 ]))
    """
    for name in ("record", "out"):
        if options.get(name) not in (None, False):
            raise TypeError(f"refine does not take {name}=")
    if not (by in ("status", "minimum") or callable(by)):
        raise ValueError(f"by must be 'status', 'minimum' or a function of a Result, "
                         f"got {by!r}")
    start = check.integer(start, "start", low=2)
    plan = _api._sweep_plan(problem, x0, lr, momentum, schedule, dict(options))
    if len(plan.dims) != 2:
        raise ValueError(f"refine maps exactly two swept dims, got {plan.dims}: sweep two "
                         "of the arguments (or give x0 as a two-dim fg.grid)")
    n_data = problem.n_data
    if n_data and plan.options.get("shuffle", True) and \
            plan.options.get("batch_size") not in (None, n_data):
        raise ValueError("refine cannot repeat shuffled mini-batch runs (their order "
                         "depends on the run's index in the full batch): pass shuffle=False")
    shape = plan.shape
    size, dim = int(np.prod(shape)), problem.dim
    x = np.full((size, dim), np.nan)
    fun = np.full(size, np.nan)
    nit = np.full(size, -1, np.int64)
    status = np.full(size, -1, np.int8)
    value = np.full(size, np.nan)         # by a callable: its value per run
    computed = np.zeros(size, bool)
    first = []                            # the first batch's Result, for its params

    def run(flat):
        res = plan.run_subset(problem, epochs, flat)
        x[flat], fun[flat] = res.x, res.fun
        nit[flat], status[flat] = res.nit, res.status
        computed[flat] = True
        if callable(by):
            got = np.asarray(by(res), dtype=float)
            if got.shape != res.shape:
                raise ValueError(f"by(result) must return one value per run, shape "
                                 f"{res.shape}, got {got.shape}")
            value[flat] = got
        if not first:
            first.append(res)

    def result_of(flat):
        """A flat Result of computed runs, for `Result.minima`."""
        st = status[flat]
        return Result(x=x[flat], fun=fun[flat], nit=nit[flat], status=st,
                      success=st != Status.DIVERGED, dims=("run",), coords={},
                      params=first[0].params, problem=problem.name)

    def keys():
        """Per run, what corners compare: status and the class of ``by``."""
        if by == "status":
            return status.astype(float), None
        if by == "minimum":
            done = np.flatnonzero(computed)
            labels = np.full(size, np.nan)
            labels[done] = result_of(done).minima(tol).labels
            return status.astype(float), labels
        return status.astype(float), value

    ci, cj = _coarse(shape[0], start), _coarse(shape[1], start)
    run(np.ravel_multi_index(np.meshgrid(ci, cj, indexing="ij"), shape).ravel())
    i0, j0 = np.meshgrid(ci[:-1], cj[:-1], indexing="ij")
    i1, j1 = np.meshgrid(ci[1:], cj[1:], indexing="ij")
    cells = np.stack([i0.ravel(), i1.ravel(), j0.ravel(), j1.ravel()])
    agreed = []
    levels = 0
    while cells.shape[1]:
        a, b = keys()
        corners = [np.ravel_multi_index((cells[p], cells[q]), shape)
                   for p, q in ((0, 2), (0, 3), (1, 2), (1, 3))]
        same = np.ones(cells.shape[1], bool)
        for key in (a, b):
            if key is None:
                continue
            k = [key[c] for c in corners]
            for other in k[1:]:
                same &= (other == k[0]) | (np.isnan(other) & np.isnan(k[0]))
        agreed.append(cells[:, same])
        wide_i, wide_j = cells[1] - cells[0] > 1, cells[3] - cells[2] > 1
        split = ~same & (wide_i | wide_j)
        cells, wide_i, wide_j = cells[:, split], wide_i[split], wide_j[split]
        if not cells.shape[1]:
            break
        levels += 1
        mi, mj = (cells[0] + cells[1]) // 2, (cells[2] + cells[3]) // 2
        lo_i = [(cells[0], np.where(wide_i, mi, cells[1]), np.ones_like(wide_i)),
                (mi, cells[1], wide_i)]
        lo_j = [(cells[2], np.where(wide_j, mj, cells[3]), np.ones_like(wide_j)),
                (mj, cells[3], wide_j)]
        children = [np.stack([ia, ib, ja, jb])[:, vi & vj]
                    for ia, ib, vi in lo_i for ja, jb, vj in lo_j]
        cells = np.concatenate(children, axis=1)
        need = np.unique(np.concatenate([np.ravel_multi_index((cells[p], cells[q]), shape)
                                         for p, q in ((0, 2), (0, 3), (1, 2), (1, 3))]))
        need = need[~computed[need]]
        if need.size:
            run(need)

    # Fill the inside of every agreeing cell with its corners' class.
    a, b = keys()
    filled_status = status.reshape(shape).copy()
    filled = (b if b is not None else a).reshape(shape).copy()
    done = computed.reshape(shape)
    for i0, i1, j0, j1 in np.concatenate(agreed, axis=1).T:
        corner = i0 * shape[1] + j0
        block = (slice(i0, i1 + 1), slice(j0, j1 + 1))
        inside = ~done[block]
        filled_status[block][inside] = status[corner]
        filled[block][inside] = (b if b is not None else a)[corner]
    plan_result = plan.result(problem, first[0], x, fun, nit, filled_status.reshape(-1))
    minima = None
    if by == "minimum":
        m = result_of(np.flatnonzero(computed)).minima(tol)
        labels = filled.astype(np.int64)
        count = np.array([np.sum(labels == k) for k in range(len(m))], dtype=np.int64)
        minima = dataclasses.replace(m, labels=labels, count=count, fraction=count / size)
        filled = labels
    elif by == "status":
        filled = filled.astype(np.int8)
    return Refinement(result=plan_result, computed=computed.reshape(shape), labels=filled,
                      minima=minima, levels=levels)

