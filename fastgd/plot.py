"""Pictures of results: trajectories, comparisons, fits, loss curves and sweep maps.

Every function draws on the Axes given as ``ax=`` (or on a new figure),
returns the Axes and never calls ``plt.show()``, so it works the same in a
notebook, a script or under the Agg backend.  Matplotlib is imported only
when a function here is called: ``import fastgd`` does not import it.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import fastgd as fg
>>> res = fg.minimize(fg.problems.exp_quadratic, x0=[-3.0, 3.0], lr=0.1,
...                   epochs=30, record=True)
>>> ax = fg.plot.paths_1d(fg.problems.exp_quadratic, res)
>>> len(ax.get_legend().get_texts())
3
"""

import textwrap

import numpy as np

from .result import Result, Status

# The windows the tutorial draws its built-in problems in.
_TUTORIAL_WINDOWS = {
    "exp_quadratic": ((-4.0, 4.0),),
    "quartic": ((-2.5, 2.5),),
    "saddle": ((-3.0, 3.0), (-3.0, 3.0)),
}
_STATUS_COLOURS = {Status.CONVERGED: "#1a9850", Status.MAX_EPOCHS: "#f4a736",
                   Status.DIVERGED: "#b2182b", Status.FAILED: "#762a83"}
_DIVERGED_COLOUR = "#4d4d4d"
_OTHER_COLOUR = "#d9d9d9"


# --- small helpers ----------------------------------------------------------------

def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    return plt.figure(layout="constrained").add_subplot()


def _fmt(value):
    arr = np.ravel(value)
    if arr.size == 1:
        return f"{float(arr[0]):.3g}"
    return "(" + ", ".join(f"{float(v):.3g}" for v in arr) + ")"


def _flat(result, run):
    """A run given as a flat index or an index tuple, as a flat index."""
    if isinstance(run, tuple):
        return int(np.ravel_multi_index(run, result.shape))
    flat = int(run)
    if not 0 <= flat < result.size:
        raise IndexError(f"run {flat} is out of range for {result.size} runs")
    return flat


def _runs(result, runs, default=10):
    """Flat indices: the given runs, or the first recorded ones."""
    if runs is None:
        if result.recorded.size == 0:
            raise ValueError("no trajectory was recorded: pass record=... to "
                             "fg.minimize / fg.sweep, or runs=...")
        return [int(r) for r in result.recorded[:default]]
    if isinstance(runs, (int, np.integer, tuple)):
        runs = [runs]
    return [_flat(result, r) for r in runs]


def _pairs(result, runs, default=10):
    """(result, flat run) pairs from one result or a sequence of results."""
    if isinstance(result, Result):
        return [(result, r) for r in _runs(result, runs, default)]
    results = list(result)
    if not all(isinstance(r, Result) for r in results):
        raise TypeError("result must be a fastgd.Result or a sequence of them")
    if runs is None:
        runs = [None] * len(results)
    elif len(runs) != len(results):
        raise ValueError(f"with {len(results)} results, runs must hold one entry "
                         f"per result, got {len(runs)}")
    return [(res, r) for res, rr in zip(results, runs) for r in _runs(res, rr, default)]


def run_label(result, run, n_data=None):
    """A short label naming one run's start point and hyper-parameters.

    Parameters
    ----------
    result : Result
    run : int or tuple of int
        Flat index or index tuple into the batch.
    n_data : int, optional
        The problem's number of data points; when given, a mini-batch run
        says its batch size.

    Returns
    -------
    str

    Examples
    --------
    >>> import fastgd as fg
    >>> res = fg.sweep(fg.problems.quartic, x0=2.1, lr=0.15, epochs=30,
    ...                schedule=fg.step_decay(10, [1.0, 0.5]), record=True)
    >>> fg.plot.run_label(res, 0), fg.plot.run_label(res, 1)
    ('x0=2.1, fixed lr=0.15', 'x0=2.1, lr=0.15 x0.5 every 10 epochs')
    """
    flat = _flat(result, run)
    p = result.params

    def value(name):
        return np.asarray(p[name]).reshape(-1)[flat] if np.size(p[name]) > 1 \
            else np.asarray(p[name]).reshape(-1)[0]

    parts = []
    slot = np.searchsorted(result.recorded, flat)
    if slot < result.recorded.size and result.recorded[slot] == flat:
        parts.append(f"x0={_fmt(result.path(flat)[0][0])}")
    elif "x0" in result.dims and "x0" in result.coords:
        idx = np.unravel_index(flat, result.shape)[result.dims.index("x0")]
        parts.append(f"x0={_fmt(np.asarray(result.coords['x0'])[idx])}")
    lr = f"lr={float(value('lr')):.3g}"
    if p.get("schedule") not in (None, "step_decay"):
        lr += f" ({p['schedule']})"
    elif "factor" in p and "every" in p:
        if float(value("factor")) == 1.0:
            lr = "fixed " + lr
        else:
            lr += f" x{float(value('factor')):g} every {int(value('every'))} epochs"
    parts.append(lr)
    if p.get("optimizer") == "momentum" and "momentum" in p:
        parts.append(f"momentum={float(value('momentum')):g}")
    elif p.get("optimizer") not in (None, "gd", "momentum"):
        parts.append(str(p["optimizer"]))
    bs = p.get("batch_size")
    if n_data and bs and bs < n_data:
        parts.append(f"batch {bs}")
    return ", ".join(parts)


def _window(problem, paths, result, runs, use_seed=True):
    """Per-axis (lo, hi): the tutorial's window, grown to hold non-diverged paths."""
    seed = _TUTORIAL_WINDOWS.get(problem.name) if use_seed else None
    seed_lo = np.array([w[0] for w in seed]) if seed else np.full(problem.dim, np.inf)
    seed_hi = np.array([w[1] for w in seed]) if seed else np.full(problem.dim, -np.inf)
    lo, hi = seed_lo.copy(), seed_hi.copy()
    status = result.status.reshape(-1)
    for (xs, _), r in zip(paths, runs):
        if status[r] == Status.DIVERGED:
            xs = xs[:1]  # only where it started: the rest is off to infinity
        xs = xs[np.all(np.isfinite(xs), axis=1)]
        if xs.size:
            lo, hi = np.minimum(lo, xs.min(axis=0)), np.maximum(hi, xs.max(axis=0))
    if not np.all(np.isfinite(lo)):
        lo, hi = np.full(problem.dim, -1.0), np.full(problem.dim, 1.0)
    # A margin only where the paths decide the window, so ends are not on the edge.
    grew = (lo < seed_lo) | (hi > seed_hi)
    pad = np.where(grew, np.where(hi > lo, 0.05 * (hi - lo), 1.0), 0.0)
    return [(float(a), float(b)) for a, b in zip(lo - pad, hi + pad)]


def _curve(problem, ax, lo, hi, **style):
    """Draw f over [lo, hi]; set limits so far-off points do not zoom out."""
    grid = np.linspace(lo, hi, 500)
    fgrid = problem(grid)
    ax.plot(grid, fgrid, **style)
    ok = fgrid[np.isfinite(fgrid)]
    span = ok.max() - ok.min() or 1.0
    ax.set_xlim(lo, hi)
    ax.set_ylim(ok.min() - 0.05 * span, ok.max() + 0.05 * span)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")


def _number_points(ax, xs, ys, every, colour, placed=None):
    """Number every ``every``-th point by its epoch, as the tutorial does, leaving
    out a number that would overlap one already placed (``placed``: positions
    in axes fractions, shared between runs), such as those of a run that has
    settled.  Numbers sit just above and right of their point."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    placed = [] if placed is None else placed
    for k in range(0, len(xs), every):
        if not (np.isfinite(xs[k]) and np.isfinite(ys[k])):
            continue
        here = np.array([(xs[k] - x0) / (x1 - x0), (ys[k] - y0) / (y1 - y0)])
        if not (0 <= here[0] <= 1 and 0 <= here[1] <= 1):
            continue
        # About the size of a 7-point number on a default figure.
        if any(abs(here[0] - p[0]) < 0.012 * (1 + len(str(k))) and abs(here[1] - p[1]) < 0.035
               for p in placed):
            continue
        ax.annotate(str(k), (xs[k], ys[k]), xytext=(2, 2), textcoords="offset points",
                    fontsize=7, color=colour, clip_on=True)
        placed.append(here)


def _check_dim(problem, dim, what):
    if problem.dim != dim:
        raise ValueError(f"{what} draws {dim}-D problems; {problem.name!r} is "
                         f"{problem.dim}-D")


# --- trajectories -------------------------------------------------------------------

def paths_1d(problem, result, runs=None, ax=None, annotate=True, xlim=None):
    """The curve of a 1-D objective with runs' trajectories, points numbered by epoch.

    Parameters
    ----------
    problem : Problem
        The 1-D problem the result ran on.
    result : Result
        With the trajectories of ``runs`` recorded.
    runs : int, tuple or list of them, optional
        Flat indices or index tuples; default: the first 10 recorded runs.
    ax : matplotlib Axes, optional
    annotate : bool or int, default True
        Number every point by its epoch (0 = the start) as the tutorial does,
        leaving out numbers that would sit on the previous one; an int ``k``
        numbers every k-th point; False numbers none.
    xlim : (float, float), optional
        Default: the tutorial's window for a built-in problem, grown to hold the
        paths of the runs that did not diverge.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fastgd as fg
    >>> res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.1, epochs=20,
    ...                   record=True)
    >>> ax = fg.plot.paths_1d(fg.problems.exp_quadratic, res)
    >>> [t.get_text() for t in ax.texts[:3]]  # points numbered by epoch
    ['0', '1', '2']
    """
    _check_dim(problem, 1, "paths_1d")
    ax = _axes(ax)
    runs = _runs(result, runs)
    paths = [result.path(r) for r in runs]
    (lo, hi), = [xlim] if xlim is not None else _window(problem, paths, result, runs)
    _curve(problem, ax, lo, hi, color="0.25", lw=1.5, label=f"f: {problem.name}")
    every = int(annotate) if not isinstance(annotate, bool) else (1 if annotate else 0)
    placed = []
    for r, (xs, fs) in zip(runs, paths):
        line, = ax.plot(xs[:, 0], fs, ".-", lw=0.6, ms=5, label=run_label(result, r))
        if every:
            _number_points(ax, xs[:, 0], fs, every, line.get_color(), placed)
    ax.set_title(f"Gradient descent on {problem.name}")
    ax.legend(fontsize=8)
    return ax


def _surface(problem, xlim, ylim, n=200):
    gx, gy = np.linspace(*xlim, n), np.linspace(*ylim, n)
    X, Y = np.meshgrid(gx, gy)
    return X, Y, problem(np.stack([X, Y], axis=-1))


def _levels(Z, levels):
    """An int asks for that many levels at quantiles of f, so that a steep wall
    (the saddle's e^(x+y)) does not squeeze the valley into a single band."""
    if not isinstance(levels, (int, np.integer)):
        return levels
    finite = Z[np.isfinite(Z)]
    qs = np.unique(np.quantile(finite, np.linspace(0, 1, int(levels) + 1)))
    return qs if qs.size > 1 else int(levels)


def paths_2d(problem, result, runs=None, ax=None, levels=30, xlim=None, ylim=None,
             annotate=None):
    """Filled contours of a 2-D objective with trajectories, start and end marked.

    Parameters
    ----------
    problem : Problem
        The 2-D problem the result ran on.
    result : Result
        With the trajectories of ``runs`` recorded.
    runs : int, tuple or list of them, optional
        Default: the first 10 recorded runs.
    ax : matplotlib Axes, optional
    levels : int or array_like, default 30
        An int: that many filled bands at quantiles of f over the window;
        an array: the level values.
    xlim, ylim : (float, float), optional
        Default: the tutorial's window for a built-in problem, grown to hold the
        paths of the runs that did not diverge.
    annotate : int, optional
        Number every ``annotate``-th point by its epoch (the tutorial uses 50).

    Returns
    -------
    matplotlib Axes
        The colour bar, labelled ``f(x, y)``, is on the same figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fastgd as fg
    >>> res = fg.minimize(fg.problems.saddle, x0=[[3.0, 3.0], [-2.0, 2.0]],
    ...                   lr=0.001, epochs=200, record=True)
    >>> ax = fg.plot.paths_2d(fg.problems.saddle, res, annotate=50)
    >>> ax.figure.axes[1].get_ylabel()
    'f(x, y)'
    """
    _check_dim(problem, 2, "paths_2d")
    from matplotlib.colors import BoundaryNorm
    from matplotlib.lines import Line2D
    ax = _axes(ax)
    runs = _runs(result, runs)
    paths = [result.path(r) for r in runs]
    window = _window(problem, paths, result, runs)
    xlim, ylim = xlim or window[0], ylim or window[1]
    X, Y, Z = _surface(problem, xlim, ylim)
    lv = _levels(Z, levels)
    norm = BoundaryNorm(lv, 256) if np.ndim(lv) == 1 else None
    filled = ax.contourf(X, Y, Z, levels=lv, cmap="viridis", norm=norm)
    bar = ax.figure.colorbar(filled, ax=ax, label="f(x, y)", format="%.3g")
    if np.ndim(lv) == 1 and len(lv) > 7:
        # A tick at every band edge is unreadable: seven, evenly along the bar.
        bar.set_ticks(lv[np.unique(np.linspace(0, len(lv) - 1, 7).round().astype(int))])
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    placed = []
    for i, (r, (xs, _)) in enumerate(zip(runs, paths)):
        colour = f"C{(i + 1) % 10}"
        ax.plot(xs[:, 0], xs[:, 1], "-", color=colour, lw=1.5, label=run_label(result, r))
        ax.plot(xs[0, 0], xs[0, 1], "o", color=colour, mec="white", ms=8)
        ax.plot(xs[-1, 0], xs[-1, 1], "X", color=colour, mec="white", ms=9)
        if annotate:
            _number_points(ax, xs[:, 0], xs[:, 1], int(annotate), "white", placed)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], ls="", marker="o", color="0.5", mec="white", ms=8,
                       label="start"),
                Line2D([], [], ls="", marker="X", color="0.5", mec="white", ms=9,
                       label="end")]
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"Gradient descent on {problem.name}")
    return ax


def compare_runs(problem, result, runs=None, labels=None, ax=None):
    """Several runs on one chart, each labelled with its hyper-parameters.

    For a 1-D problem the runs are drawn on the curve of f as the tutorial's
    fixed-vs-step-decay chart; for a 2-D problem over contour lines; otherwise
    as loss curves.

    Parameters
    ----------
    problem : Problem
    result : Result or sequence of Result
        With the trajectories of ``runs`` recorded.  Several results (say
        two calls of `fastgd.minimize`) are compared together.
    runs : int, tuple or list, optional
        The runs; with several results, one entry (run or list of runs) per
        result.  Default: the first 10 recorded runs of each.
    labels : list of str, optional
        Legend entries; default `run_label` of each run.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    The tutorial's fixed learning rate against step decay, as one batch:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fastgd as fg
    >>> res = fg.sweep(fg.problems.quartic, x0=2.1, lr=0.15, epochs=30,
    ...                schedule=fg.step_decay(10, [1.0, 0.5]), record=True)
    >>> ax = fg.plot.compare_runs(fg.problems.quartic, res, runs=[0, 1])
    >>> [t.get_text() for t in ax.get_legend().get_texts()][1:]
    ['x0=2.1, fixed lr=0.15', 'x0=2.1, lr=0.15 x0.5 every 10 epochs']
    """
    pairs = _pairs(result, runs)
    if labels is not None and len(labels) != len(pairs):
        raise ValueError(f"labels has {len(labels)} entries for {len(pairs)} runs")
    labels = labels or [run_label(res, r, problem.n_data) for res, r in pairs]
    if problem.dim > 2:
        return loss_curves([res for res, _ in pairs], [[r] for _, r in pairs],
                           ax=ax, labels=labels)
    ax = _axes(ax)
    paths = [res.path(r) for res, r in pairs]
    if problem.dim == 1:
        (lo, hi), = _merged_window(problem, paths, pairs)
        _curve(problem, ax, lo, hi, color="k", ls="--", alpha=0.3, label=problem.name)
        for (xs, fs), label in zip(paths, labels):
            ax.plot(xs[:, 0], fs, "o-", alpha=0.6, ms=4, label=label)
    else:
        xlim, ylim = _merged_window(problem, paths, pairs)
        X, Y, Z = _surface(problem, xlim, ylim)
        ax.contour(X, Y, Z, levels=_levels(Z, 20), colors="0.7", linewidths=0.7)
        for (xs, _), label in zip(paths, labels):
            ax.plot(xs[:, 0], xs[:, 1], "o-", alpha=0.6, ms=3, label=label)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    ax.set_title(f"{problem.name}: " + " vs ".join(
        _short(label) for label in labels[:3]) + (" ..." if len(labels) > 3 else ""))
    ax.legend(fontsize=8)
    return ax


def _short(label):
    return label.split(", ", 1)[-1] if label.startswith("x0=") else label


def _merged_window(problem, paths, pairs):
    # The paths alone decide: a comparison is about where the runs differ.
    windows = [_window(problem, [p], res, [r], use_seed=False)
               for p, (res, r) in zip(paths, pairs)]
    return [(min(w[d][0] for w in windows), max(w[d][1] for w in windows))
            for d in range(problem.dim)]


def loss_curves(result, runs=None, ax=None, logy=True, labels=None):
    """Objective against epoch for recorded runs.

    Parameters
    ----------
    result : Result or sequence of Result
    runs : int, tuple or list, optional
        As in `compare_runs`; default the first 10 recorded runs.
    ax : matplotlib Axes, optional
    logy : bool, default True
        Log y axis; symmetric-log when some values are <= 0.
    labels : list of str, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fastgd as fg
    >>> res = fg.sweep(fg.problems.exp_quadratic, x0=-3.0, lr=[0.01, 0.1],
    ...                epochs=50, record=True)
    >>> ax = fg.plot.loss_curves(res)
    >>> len(ax.lines), ax.get_yscale()
    (2, 'log')
    """
    pairs = _pairs(result, runs)
    if labels is not None and len(labels) != len(pairs):
        raise ValueError(f"labels has {len(labels)} entries for {len(pairs)} runs")
    labels = labels or [run_label(res, r) for res, r in pairs]
    ax = _axes(ax)
    lowest = np.inf
    for (res, r), label in zip(pairs, labels):
        fs = res.path(r)[1]
        ax.plot(np.arange(fs.size), fs, lw=1.2, label=label)
        finite = fs[np.isfinite(fs)]
        lowest = min(lowest, finite.min()) if finite.size else lowest
    if logy:
        ax.set_yscale("log" if lowest > 0 else "symlog")
    ax.set_xlabel("epoch")
    ax.set_ylabel("f")
    ax.set_title(f"Loss curves: {pairs[0][0].problem}")
    ax.legend(fontsize=8)
    return ax


# --- least-squares fits ------------------------------------------------------------------

def _data(problem):
    if getattr(problem, "n_data", 0) == 0:
        raise ValueError(f"fit draws problems with data; {problem.name!r} has none")
    return np.asarray(problem.x), np.asarray(problem.y)


def _model(problem, model):
    if model is not None:
        return model
    if problem.name == "exp_linear_fit":
        return lambda theta, x: np.exp(-theta[0] * x) + theta[1] * x + theta[2]
    if hasattr(problem, "model"):
        return lambda theta, x: np.array([problem.model(theta, float(v)) for v in x])
    raise ValueError(f"fit needs model=callable(theta, x) to draw {problem.name!r}")


def fit(problem, result, runs=None, labels=None, truth=None, ax=None, model=None):
    """Data points and fitted curves of least-squares runs, with the true curve.

    Parameters
    ----------
    problem : Problem
        `fastgd.problems.exp_linear_fit` or a `fastgd.LeastSquares`.
    result : Result or sequence of Result
        Nothing needs to be recorded: the curves use the final parameters.
    runs : int, tuple or list, optional
        Default: the best (lowest loss) run of each result.
    labels : list of str, optional
    truth : array_like, optional
        Parameters of the true curve, drawn dashed.
    ax : matplotlib Axes, optional
    model : callable, optional
        ``model(theta, x_array) -> y_array``; needed only for a problem that
        is neither of the above.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fastgd as fg
    >>> x, y = fg.problems.exp_linear_data(100, seed=0)
    >>> problem = fg.problems.exp_linear_fit(x, y)
    >>> res = fg.minimize(problem, x0=[1.0, 2.0, 3.0], lr=0.001, epochs=500)
    >>> ax = fg.plot.fit(problem, res, truth=(1.2, 3.4, 5.6))
    >>> len(ax.lines)  # data, fit, truth
    3
    """
    x, y = _data(problem)
    model = _model(problem, model)
    if runs is None:
        results = [result] if isinstance(result, Result) else list(result)
        runs = [int(np.argmin(np.where(np.isfinite(r.fun), r.fun, np.inf).reshape(-1)))
                for r in results]
        if isinstance(result, Result):
            runs = runs[0]
    pairs = _pairs(result, runs)
    if labels is not None and len(labels) != len(pairs):
        raise ValueError(f"labels has {len(labels)} entries for {len(pairs)} runs")
    labels = labels or [run_label(res, r, problem.n_data) for res, r in pairs]
    ax = _axes(ax)
    ax.plot(x, y, ".", color="0.4", ms=4, label=f"data (n={x.size})")
    grid = np.linspace(x.min(), x.max(), 400)
    for (res, r), label in zip(pairs, labels):
        theta = res.x.reshape(-1, problem.dim)[r]
        loss = float(res.fun.reshape(-1)[r])
        ax.plot(grid, model(theta, grid), lw=1.5,
                label=f"{label}: \u03b8={_fmt(theta)}, loss {loss:.3g}")
    if truth is not None:
        ax.plot(grid, model(np.asarray(truth, dtype=float), grid), "k--", lw=1,
                label=f"true \u03b8={_fmt(truth)}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"Least-squares fit: {problem.name}")
    ax.legend(fontsize=8)
    return ax


# --- maps of sweeps ----------------------------------------------------------------

def _coord(result, dim):
    """(values, is-index) along a dim; index when there are no 1-D coordinates."""
    n = result.shape[result.dims.index(dim)]
    values = result.coords.get(dim)
    if values is not None:
        values = np.asarray(values)
        if values.ndim == 1 and values.size == n and np.issubdtype(values.dtype, np.number):
            return values.astype(float), False
    return np.arange(n, dtype=float), True


def _is_log(values):
    if values.size < 3 or np.any(values <= 0):
        return False
    ratios, steps = np.diff(np.log(values)), np.diff(values)
    return bool(np.allclose(ratios, ratios[0], rtol=1e-3)
                and not np.allclose(steps, steps[0], rtol=1e-3))


def _edges(values, log):
    """Cell edges around the coordinates (midpoints, in log space for log axes)."""
    v = np.log(values) if log else values
    if v.size == 1:
        e = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        mid = (v[1:] + v[:-1]) / 2
        e = np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])
    return np.exp(e) if log else e


def _slice(result, x, y, fixed):
    """Index into the batch picking the x and y dims whole, the rest fixed."""
    dims = list(result.dims)
    if len(dims) < 2:
        raise ValueError(f"grid_map needs a result with two or more dims, got {dims}")
    x = dims[-1] if x is None else x
    y = ([d for d in dims if d != x][-1]) if y is None else y
    for name, d in (("x", x), ("y", y)):
        if d not in dims:
            raise ValueError(f"{name}={d!r} is not a dim of the result; dims: {dims}")
    if x == y:
        raise ValueError(f"x and y must be different dims, both are {x!r}")
    fixed = dict(fixed or {})
    for d in fixed:
        if d not in dims or d in (x, y):
            raise ValueError(f"fixed names {d!r}, which is not a dim other than x and y; "
                             f"dims: {dims}")
    index, notes = [], []
    for d in dims:
        if d in (x, y):
            index.append(slice(None))
            continue
        values, _ = _coord(result, d)
        if d not in fixed:
            raise ValueError(f"dim {d!r} is neither x nor y: pick a value with "
                             f"fixed={{{d!r}: value}} (from {values.min():g} to "
                             f"{values.max():g})")
        i = int(np.argmin(np.abs(values - float(fixed[d]))))
        index.append(i)
        notes.append(f"{d}={values[i]:.3g}")
    return tuple(index), x, y, notes


_TITLES = {"fun": "final f", "nit": "epochs run", "status": "status",
           "minimum": "minimum reached"}


def grid_map(result, quantity="fun", x=None, y=None, fixed=None, ax=None, log=None,
             cmap=None, tol=None, scale=None, vmin=None, vmax=None):
    """Heat map of a sweep over two of its dims, the other dims fixed by value.

    Parameters
    ----------
    result : Result
        From `fastgd.sweep` (dims with coordinates), or any result with two or
        more batch axes (then plotted against the indices).
    quantity : {'fun', 'nit', 'status', 'minimum'}, Minima or array_like
        ``'fun'``: the final objective (diverged runs grey).
        ``'nit'``: epochs run.
        ``'status'``: converged / slow (ran out of epochs) / diverged as three
        colours.  Without any tolerance (xtol, ftol, gtol) no run can
        converge, so the middle class reads "ran all epochs".
        ``'minimum'``: which minimum each run ended in, from
        `Result.minima` with ``tol``; a `Minima` (from `Result.minima` or
        `fastgd.refine`) is drawn as it is.  The lowest minimum and the
        eight others that most runs reach get a colour each, labelled with
        point, value and share of runs; the rest are "other minima", then "not settled" (when a
        tolerance was set, runs that did not meet it) and "diverged".
        An array of the batch shape: its values.
    x, y : str, optional
        The dims on the horizontal and vertical axes; default the last two.
    fixed : dict, optional
        ``{dim: value}`` for every other dim; the nearest coordinate is used.
    ax : matplotlib Axes, optional
    log : bool or (bool, bool), optional
        Log-scaled x and y axes; default: log where the coordinates are
        evenly spaced in log (``np.geomspace``, ``np.logspace``).
    cmap : str or Colormap, optional
        For the continuous quantities.
    tol : float, optional
        Grouping distance of ``'minimum'`` (default: `Result.minima`'s).
    scale : {'linear', 'log', 'symlog'}, optional
        Colour scale of a continuous quantity.  Default: 'log' when every
        value is > 0 and the values (between their 1st and 99th percentiles)
        span more than three decades, else 'linear'.
    vmin, vmax : float, optional
        Colour limits.  Default: robust ones.  The 1st and 99th percentiles
        of the values (of their logarithms on a log scale) are taken as the
        limit wherever the extreme value lies more than the width between
        them beyond: a few runs that blew up do not turn the rest into one
        colour.  A clipped end shows as an arrow on the colour bar.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Drawn with one ``pcolormesh`` (a cell per run), so a 1000 x 1000 sweep
    renders in about a second.  With more than four classes the legend goes
    outside the axes, on the right.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, fastgd as fg
    >>> res = fg.sweep(fg.problems.exp_quadratic, x0=np.linspace(-4, 4, 50),
    ...                lr=np.logspace(-4, 0, 60), epochs=100, gtol=1e-6)
    >>> ax = fg.plot.grid_map(res, "status")
    >>> ax.get_xscale(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('log', ['converged', 'slow (max epochs)', 'diverged'])
    >>> ax = fg.plot.grid_map(res, "nit", scale="log", vmax=50)
    >>> ax.collections[0].norm.vmax
    50.0
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    from .result import Minima
    if not isinstance(result, Result):
        raise TypeError(f"result must be a fastgd.Result, got {type(result).__name__}")
    if scale not in (None, "linear", "log", "symlog"):
        raise ValueError(f"scale must be 'linear', 'log' or 'symlog', got {scale!r}")
    index, x, y, notes = _slice(result, x, y, fixed)
    transpose = result.dims.index(x) < result.dims.index(y)

    def cut(a):
        a = np.asarray(a)[index]
        return np.swapaxes(a, 0, 1) if transpose else a  # rows along y

    xv, x_index = _coord(result, x)
    yv, y_index = _coord(result, y)
    logx, logy = (log, log) if isinstance(log, bool) else (log or (None, None))
    logx = _is_log(xv) if logx is None else logx
    logy = _is_log(yv) if logy is None else logy
    ax = _axes(ax)
    status = cut(result.status)
    handles = []
    if isinstance(quantity, Minima) or (isinstance(quantity, str)
                                        and quantity in ("status", "minimum")):
        if isinstance(quantity, str) and quantity == "status":
            values, colours, names = _status_classes(result, status)
            title = _TITLES["status"]
        else:
            minima = quantity if isinstance(quantity, Minima) else \
                result.minima(**({} if tol is None else {"tol": tol}))
            if minima.labels.shape != result.shape:
                raise ValueError(f"the Minima's labels have shape {minima.labels.shape}, "
                                 f"not the batch shape {result.shape}")
            values, colours, names = _minimum_classes(result, minima, cut(minima.labels))
            title = _TITLES["minimum"]
        present = np.unique(values)
        handles = [Patch(color=colours[k], label=names[k]) for k in range(len(names))
                   if k in present]
        cm = ListedColormap(colours)
        norm = BoundaryNorm(np.arange(len(colours) + 1) - 0.5, len(colours))
        mesh = ax.pcolormesh(_edges(xv, logx), _edges(yv, logy), values, cmap=cm,
                             norm=norm, rasterized=True)
    else:
        if isinstance(quantity, str):
            if quantity not in ("fun", "nit"):
                raise ValueError(f"quantity must be 'fun', 'nit', 'status', 'minimum', a "
                                 f"Minima or an array, got {quantity!r}")
            values, title = cut(getattr(result, quantity)).astype(float), _TITLES[quantity]
        else:
            arr = np.asarray(quantity, dtype=float)
            if arr.shape != result.shape:
                raise ValueError(f"quantity array must have the batch shape {result.shape}, "
                                 f"got {arr.shape}")
            values, title = cut(arr), "value"
        bad = ~np.isfinite(values) | (status == Status.DIVERGED)
        norm, extend = _colour_norm(values[~bad], scale, vmin, vmax)
        if scale == "log" or norm.__class__.__name__ == "LogNorm":
            bad |= values <= 0  # no colour on a log scale
        values = np.ma.masked_array(values, bad)
        import matplotlib
        cm = matplotlib.colormaps[cmap or "viridis"].with_extremes(bad=_DIVERGED_COLOUR)
        mesh = ax.pcolormesh(_edges(xv, logx), _edges(yv, logy), values, cmap=cm,
                             norm=norm, rasterized=True)
        ax.figure.colorbar(mesh, ax=ax, label=title, extend=extend)
        if bad.any():
            handles = [Patch(color=_DIVERGED_COLOUR, label="diverged")]
    if len(handles) > 4:
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1),
                  borderaxespad=0, frameon=False)
    elif handles:
        ax.legend(handles=handles, fontsize=8, loc="upper left", framealpha=0.9)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(_axis_label(x, x_index))
    ax.set_ylabel(_axis_label(y, y_index))
    ax.set_title(f"{result.problem}: {title}" + (f" ({', '.join(notes)})" if notes else "")
                 + f", {values.size:,} runs")
    return ax


def _colour_norm(values, scale, vmin, vmax):
    """The colour norm of a continuous map and the colour bar's ``extend``."""
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm
    v = np.asarray(values, dtype=float).ravel()
    if scale is None:
        scale = "linear"
        if v.size and v.min() > 0:
            lo, hi = np.percentile(v, [1, 99])
            if hi > 1000 * lo:
                scale = "log"
    if scale == "log":
        v = v[v > 0]
    forward, back = (np.log10, lambda t: 10.0 ** t) if scale == "log" else \
        (lambda t: t, lambda t: t)
    lo = hi = None
    extend = [False, False]
    if v.size:
        t = forward(v)
        q_lo, q_hi = np.percentile(t, [1, 99])
        width = q_hi - q_lo
        lo = back(q_lo) if t.min() < q_lo - width else back(t.min())
        hi = back(q_hi) if t.max() > q_hi + width else back(t.max())
        extend = [lo > v.min(), hi < v.max()]
    if vmin is not None:
        lo, extend[0] = float(vmin), bool(v.size and v.min() < vmin)
    if vmax is not None:
        hi, extend[1] = float(vmax), bool(v.size and v.max() > vmax)
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max",
              (True, True): "both"}[tuple(extend)]
    if scale == "log":
        return LogNorm(vmin=lo, vmax=hi), extend
    if scale == "symlog":
        small = np.abs(v[v != 0])
        linthresh = float(np.percentile(small, 10)) if small.size else 1.0
        return SymLogNorm(linthresh=linthresh, vmin=lo, vmax=hi), extend
    return Normalize(vmin=lo, vmax=hi), extend


def _axis_label(dim, is_index):
    name = {"lr": "learning rate", "x0": "start x0", "y0": "start y0"}.get(dim, dim)
    return f"{name} (index)" if is_index else name


def _status_classes(result, status):
    no_tol = all(float(result.params.get(t, 0.0) or 0.0) == 0.0
                 for t in ("xtol", "ftol", "gtol"))
    slow = "ran all epochs (no tolerance set)" if no_tol else "slow (max epochs)"
    colours = [_STATUS_COLOURS[s] for s in Status]
    names = ["converged", slow, "diverged"]
    return status.astype(int), colours, names


def _minimum_classes(result, minima, labels, most=9):
    """Colour codes, colours and legend names for the labels of a `Minima`:
    the lowest minimum and the ``most - 1`` others most runs reach, lowest
    value first, then the other minima, the unsettled runs and the diverged."""
    from .result import DIVERGED_LABEL, UNSETTLED_LABEL
    by_count = [k for k in np.argsort(-minima.count, kind="stable") if k != 0]
    shown = np.sort(([0] if len(minima) else []) + by_count[:most - 1]).astype(np.int64)
    code = np.full(len(minima) + 2, len(shown), np.int64)   # other minima by default
    code[shown] = np.arange(len(shown))
    # Coordinates within tol of 0 are 0 (not -1.05e-11).
    points = np.where(np.abs(minima.x) < minima.tol, 0.0, minima.x)
    names = [f"x \u2248 {_fmt(points[k])}, f \u2248 {minima.fun[k]:.3g} "
             f"({100 * minima.fraction[k]:.0f}%)" for k in shown]
    colours = [f"C{i}" for i in range(len(shown))]
    names += ["other minima", "not settled" if result._any_tolerance() else "elsewhere",
              "diverged"]
    colours += ["#9e9ac8", _OTHER_COLOUR, _DIVERGED_COLOUR]
    out = np.where(labels >= 0, code[np.maximum(labels, 0)], 0)
    out = np.where(labels == UNSETTLED_LABEL, len(shown) + 1, out)
    out = np.where(labels == DIVERGED_LABEL, len(shown) + 2, out)
    return out, colours, names


# --- learning-rate scan --------------------------------------------------------------

_SCAN_COLOURS = {"too slow": "#2c7bb6", "converging": "#1a9850",
                 "oscillating": "#f4a736", "diverging": "#b2182b"}


def lr_scan(scan, ax=None):
    """The answer of `fastgd.lr_scan` as a figure: gap to the lowest f per rate.

    Each rate is a point at its final f minus the lowest final f of any rate
    that did not diverge (log scale), coloured by class; diverged rates sit on a band at the top.  The rates of
    ``scan.ask`` are marked, and the title is `LRScan.summary`.

    Parameters
    ----------
    scan : LRScan
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, fastgd as fg
    >>> scan = fg.lr_scan(fg.problems.exp_quadratic, -3.0, np.geomspace(1e-5, 1, 30),
    ...                   100, ask=(1e-4, 0.8))
    >>> ax = fg.plot.lr_scan(scan)
    >>> sorted(t.get_text() for t in ax.get_legend().get_texts())
    ['converging', 'diverging', 'too slow']
    """
    from .scan import CLASSES
    ax = _axes(ax)
    res = scan.result
    # The lowest final f of any rate that did not diverge: with several minima an
    # oscillating rate can end below the best converging one.
    finite = np.isfinite(res.fun) & (scan.classes != "diverging")
    low = float(np.min(res.fun[finite])) if finite.any() else scan.best
    floor = 1e-16 * (1 + abs(low))
    gap = np.where(np.isfinite(res.fun), res.fun - low, np.nan)
    gap = np.maximum(gap, floor)
    finite_top = np.nanmax(np.where(scan.classes == "diverging", np.nan, gap)) \
        if np.any(scan.classes != "diverging") else 1.0
    top = 10 ** np.ceil(np.log10(finite_top) + 1)
    y = np.where(scan.classes == "diverging", top, gap)
    for cls in CLASSES:
        sel = scan.classes == cls
        if sel.any():
            ax.plot(scan.lrs[sel], y[sel], "x" if cls == "diverging" else "o",
                    color=_SCAN_COLOURS[cls], ms=5, ls="", label=cls)
    for lr in scan.ask:
        ax.axvline(lr, color="0.3", ls=":", lw=1)
        ax.annotate(f"lr={lr:g}\n{scan.classify(lr)}", (lr, top), xytext=(3, -28),
                    textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor / 10, top * 10)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"f after {scan.epochs} epochs - lowest f  (diverged: top)")
    ax.set_title("\n".join(textwrap.wrap(scan.summary(), 95)), fontsize=8, loc="left")
    ax.legend(fontsize=8, loc="center left")
    return ax
