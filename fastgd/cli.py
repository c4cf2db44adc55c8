"""The command line: ``fastgd demo``, ``fastgd sweep``, ``fastgd list`` and
``fastgd trainability`` (also ``python -m fastgd``).

Every argument is checked before any run starts, including that the output
files can be written.  Bad input prints one line on stderr and exits with
status 2; Ctrl-C exits with 130, also with one line.  No traceback (set
``FASTGD_DEBUG=1`` to see one).
"""

import argparse
import difflib
import importlib.util
import inspect
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUANTITIES = ("status", "fun", "nit", "minimum")
SCHEDULES = ("step_decay", "exponential_decay", "multi_step", "cosine_decay", "inverse_time")

#: Output formats by extension: what writes them, and the modules that needs.
WRITERS = {".npz": (), ".csv": ("pandas",), ".parquet": ("pandas", "pyarrow"),
           ".nc": ("xarray", ("scipy", "netCDF4", "h5netcdf"))}

_VALUES_HELP = ("lin:A:B:N or A:B:N (N values from A to B), log:A:B:N or A:B:N:log "
                "(log-spaced), v1,v2,... or one value")
_INTERRUPTED = 130  # what shells report for a process ended by SIGINT


class UsageError(ValueError):
    """Bad command-line input found by the CLI itself (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not usage plus message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def values(text):
    """Parse a command-line value list.

    ``lin:A:B:N`` (or ``A:B:N``) gives ``np.linspace(A, B, N)``, ``log:A:B:N``
    (or ``A:B:N:log``) ``np.geomspace(A, B, N)``, ``v1,v2,...`` those values,
    and a single number a scalar (not swept).

    Examples
    --------
    >>> from fastgd.cli import values
    >>> values("0:1:3").tolist(), values("log:1e-3:1e-1:3").round(6).tolist()
    ([0.0, 0.5, 1.0], [0.001, 0.01, 0.1])
    >>> values("0.1,0.2").tolist(), values("0.5")
    ([0.1, 0.2], 0.5)
    """
    parts = text.split(":")
    kind = "lin"
    if parts[0] in ("lin", "log"):
        kind, parts = parts[0], parts[1:]
    elif len(parts) == 4 and parts[3] == "log":
        kind, parts = "log", parts[:3]
    try:
        if len(parts) == 1 and kind == "lin" and ":" not in text:
            items = [float(v) for v in text.split(",")]
            if not all(math.isfinite(v) for v in items):
                raise argparse.ArgumentTypeError(f"values must be finite: {text!r}")
            return items[0] if len(items) == 1 and "," not in text else np.array(items)
        if len(parts) == 3:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1:
                raise argparse.ArgumentTypeError(f"N must be >= 1 in {text!r}")
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise argparse.ArgumentTypeError(f"A and B must be finite in {text!r}")
            if kind == "lin":
                return np.linspace(lo, hi, n)
            if lo <= 0 or hi <= 0:
                raise argparse.ArgumentTypeError(f"a log range needs A, B > 0: {text!r}")
            return np.geomspace(lo, hi, n)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected {_VALUES_HELP}; got {text!r}")


def _positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def _pair(kind):
    """``NAME=VALUE`` with VALUE parsed by ``kind``."""
    def parse(text):
        name, sep, value = text.partition("=")
        if sep and name:
            return name.strip(), kind(value)
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    parse.__name__ = "NAME=VALUE"
    return parse


def _float_value(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _milestones(text):
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, got {text!r}") from None


def _schedule_params():
    """Each schedule's parameters and defaults, read from its function."""
    from . import schedules
    return {name: {p.name: p.default for p in
                   inspect.signature(getattr(schedules, name)).parameters.values()}
            for name in SCHEDULES}


def _flag(name):
    return "--" + name.replace("_", "-")


def problem_names():
    """The built-in problems the command takes by name."""
    from . import problems
    # Factories (functions) take arguments the command cannot give, except the
    # tutorial's curve fit, whose data the command reads; the rest are problems,
    # built on first access (vars() does not build them).
    return tuple(n for n in problems.__all__ if n == "exp_linear_fit"
                 or not inspect.isfunction(vars(problems).get(n)))


def parser():
    """The `argparse` parser of the ``fastgd`` command."""
    from . import __version__
    from .optimizers import HYPER_PARAMETERS, OPTIMIZERS
    p = _Parser(prog="fastgd", description="Gradient descent over many runs at once: "
                "the tutorial's examples as batches, and sweeps from the shell.")
    p.add_argument("--version", action="version", version=f"fastgd {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)
    demo = sub.add_parser(
        "demo", help="run every example of the tutorial as a batch",
        description="Run every example of the tutorial over many starts and rates; "
        "print what it found and the time against the plain-Python reference; write "
        "the figures.  Progress goes to stderr, the table to stdout.")
    demo.add_argument("--out", default="fastgd-demo", metavar="DIR",
                      help="folder for the figures (default: ./fastgd-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="small batches: a smoke test in a few seconds")

    from ._trainability_cli import add_parser as add_trainability
    add_trainability(sub, values)

    sub.add_parser("list", help="list the problems, optimisers and schedules",
                   description="List what `fastgd sweep` takes: problems, optimisers "
                   "with their hyper-parameters, schedules with their parameters.")

    sw = sub.add_parser(
        "sweep", help="sweep start points and hyper-parameters of a problem",
        description="Run the outer product of start points and hyper-parameters, print "
        "a summary, and optionally save the result and draw a map of it.  Every option "
        f"marked VALUES takes {_VALUES_HELP}; each list is one dim of the sweep.",
        epilog="examples: fastgd sweep quartic --x0 -2.5:2.5:500 --lr log:1e-3:0.2:500 "
        "--gtol 1e-6 --out quartic.npz --plot quartic.png --quantity minimum;  "
        "fastgd sweep rosenbrock --x0 -1.5 --y0 2 --lr log:1e-4:1e-2:50 "
        "--optimizer adam --beta1 0.8,0.9,0.95 --epochs 2000 --out r.csv;  "
        "fastgd sweep \"x**4 - 5*x**2 + 2*x + 10\" --x0 -3:3:101 --lr 0.01")
    sw.value_options = set()

    def value_option(name, help, **kwargs):
        sw.add_argument(name, type=values, metavar="VALUES", help=help, **kwargs)
        sw.value_options.add(name)

    g = sw.add_argument_group("problem")
    g.add_argument("problem", metavar="PROBLEM",
                   help=f"a built-in problem ({', '.join(problem_names())}), "
                   "quadratic:DIM[:CONDITION[:SEED]], or a formula in quotes such as "
                   "\"x**4 - 5*x**2 + 2*x + 10\" (needs sympy)")
    g.add_argument("--variables", metavar="NAMES",
                   help="a formula's variables in order, e.g. \"x y\" (default: sorted); "
                   "with --data, the model's parameters")
    g.add_argument("--data", metavar="FILE",
                   help="x, y data (.csv/.txt with two columns, .npy of shape (n, 2), or "
                   ".npz with arrays x and y) for exp_linear_fit (default: the tutorial's "
                   "100 points) or for a formula in x fitted by least squares")

    g = sw.add_argument_group("start points (one dim per coordinate given as a list)")
    value_option("--x0", "start of the first coordinate; also of every coordinate not "
                 "given otherwise (a 2-D problem's --y0, ...)")
    value_option("--y0", "start of the second coordinate of a 2-D problem")
    g.add_argument("--start", type=_pair(values), action="append", default=[],
                   metavar="VAR=VALUES", help="start of the coordinate named VAR "
                   "(see `fastgd list`; a formula's variables); repeatable")
    g.add_argument("--points", metavar="FILE", help="start points, one per row "
                   "(.csv/.txt/.npy of shape (n, dim)): one dim named x0")

    g = sw.add_argument_group("optimiser")
    value_option("--lr", "learning rates (required)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, metavar="NAME",
                   help=f"one of {', '.join(OPTIMIZERS)} (default gd; momentum when "
                   "--momentum is given)")
    for name in HYPER_PARAMETERS:
        value_option(_flag(name), f"the optimiser's {name} (see `fastgd list`)")

    g = sw.add_argument_group("learning-rate schedule")
    g.add_argument("--schedule", choices=SCHEDULES, metavar="NAME",
                   help=f"one of {', '.join(SCHEDULES)}")
    params = _schedule_params()
    for name in dict.fromkeys(q for ps in params.values() for q in ps):
        if name == "milestones":
            g.add_argument("--milestones", type=_milestones, metavar="M1,M2,...",
                           help="multi_step's epochs, shared by all runs")
        else:
            users = [s for s, ps in params.items() if name in ps]
            value_option(_flag(name), f"{' and '.join(users)}: {name}")
    value_option("--warmup", "epochs of linear warm-up in front of the schedule "
                 "(or of a constant rate)")

    g = sw.add_argument_group("budget and stopping")
    g.add_argument("--epochs", type=_positive_int, default=100,
                   help="epochs per run (default 100)")
    for tol in ("xtol", "ftol", "gtol"):
        g.add_argument(f"--{tol}", type=_float_value, help=f"early-exit {tol} (off by default)")
    g.add_argument("--bound", type=_float_value, help="divergence bound (default 1e100)")
    g.add_argument("--batch-size", type=_positive_int,
                   help="mini-batch size (problems with data)")
    g.add_argument("--no-shuffle", action="store_true",
                   help="keep the data's order in mini-batches")
    g.add_argument("--seed", type=int, help="seed of the mini-batch shuffles (default 0)")

    g = sw.add_argument_group("execution")
    g.add_argument("--chunk-size", type=_positive_int,
                   help="runs per chunk (default 2**20; with --workers, about an eighth "
                   "of a worker's share)")
    g.add_argument("--workers", type=_positive_int,
                   help="run the chunks in this many worker processes")
    g.add_argument("--no-progress", action="store_true",
                   help="no progress line (default: shown on a terminal)")

    g = sw.add_argument_group("output")
    g.add_argument("--out", action="append", default=[], metavar="PATH",
                   help="save the result: .npz (fastgd.load), .csv or .parquet (one row "
                   "per run), .nc (xarray); a directory DIR/ keeps each finished chunk, "
                   "so the same command resumes after an interruption; repeatable")
    g.add_argument("--plot", metavar="FILE.png", help="draw a map of two swept dims here")
    g.add_argument("--quantity", choices=QUANTITIES, default="status",
                   help="what the map shows (default status)")
    g.add_argument("--map-x", metavar="DIM", help="dim on the map's x axis")
    g.add_argument("--map-y", metavar="DIM", help="dim on the map's y axis")
    g.add_argument("--fixed", type=_pair(_float_value), action="append", default=[],
                   metavar="DIM=VALUE", help="value of a further dim on the map "
                   "(default: its middle value); repeatable")
    p.sweep_parser = sw
    return p


def _glue_negatives(argv, options):
    """``--x0 -2:2:5`` as ``--x0=-2:2:5``: argparse would read -2:2:5 as an option."""
    out = []
    for arg in argv:
        if out and out[-1] in options and arg[:1] == "-" and arg[1:2] in "0123456789.":
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


# --- building the sweep from the arguments ----------------------------------------------

def _read_table(path, option, columns=None):
    """A float array of shape (n, k) from .csv/.txt/.npy (and .npz for --data)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{option}: no such file: {str(path)!r}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            table = np.load(path, allow_pickle=False)
        elif suffix == ".npz" and columns:
            with np.load(path, allow_pickle=False) as npz:
                missing = [c for c in columns if c not in npz.files]
                if missing:
                    raise UsageError(f"{option}: {str(path)!r} has no array {missing[0]!r} "
                                     f"(it has {', '.join(npz.files)})")
                table = np.column_stack([npz[c] for c in columns])
        elif suffix in (".csv", ".txt"):
            delimiter = "," if suffix == ".csv" else None
            try:
                table = np.loadtxt(path, delimiter=delimiter, ndmin=2)
            except ValueError:  # a header row
                table = np.loadtxt(path, delimiter=delimiter, ndmin=2, skiprows=1)
        else:
            raise UsageError(f"{option}: unknown file type {suffix or str(path)!r}: "
                             "use .csv, .txt or .npy" + (", .npz" if columns else ""))
        table = np.asarray(table, dtype=np.float64)
    except (OSError, ValueError) as err:
        if isinstance(err, UsageError):
            raise
        raise UsageError(f"{option}: cannot read {str(path)!r} as numbers: {err}") from None
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2 or table.shape[0] == 0:
        raise UsageError(f"{option}: expected a table of numbers, one row per point; "
                         f"{str(path)!r} has shape {table.shape}")
    return table


def _quadratic(text):
    from .testfunctions import quadratic
    parts = text.split(":")[1:]
    if not 1 <= len(parts) <= 3:
        raise UsageError("expected quadratic:DIM[:CONDITION[:SEED]], e.g. quadratic:8:1e3, "
                         f"got {text!r}")
    try:
        dim = int(parts[0])
        condition = float(parts[1]) if len(parts) > 1 else 10.0
        seed = int(parts[2]) if len(parts) > 2 else None
    except ValueError:
        raise UsageError("expected quadratic:DIM[:CONDITION[:SEED]] with DIM and SEED whole "
                         f"numbers, got {text!r}") from None
    try:
        return quadratic(dim, condition, seed=seed)
    except ValueError as err:
        raise UsageError(f"{text}: {err}") from None


def build_problem(args):
    """The problem named, parametrised or written as a formula by ``args.problem``."""
    from . import problems
    from .problem import LeastSquares, Problem
    text = args.problem.strip()
    data = None
    if args.data is not None:
        table = _read_table(args.data, "--data", columns=("x", "y"))
        if table.shape[1] != 2:
            raise UsageError(f"--data: expected two columns x, y; {args.data!r} has "
                             f"{table.shape[1]}")
        data = table[:, 0], table[:, 1]
    if text == "exp_linear_fit":
        return problems.exp_linear_fit(*(data or problems.exp_linear_data(100, seed=0)))
    if text in problem_names():
        if data is not None:
            raise UsageError(f"--data applies to exp_linear_fit and to formulas, not {text}")
        return getattr(problems, text)
    if text == "quadratic" or text.startswith("quadratic:"):
        return _quadratic(text)
    if text.isidentifier():
        near = difflib.get_close_matches(text, problem_names() + ("quadratic",), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise UsageError(f"unknown problem {text!r}: {hint}give one of {', '.join(problem_names())}, "
                         "quadratic:DIM[:CONDITION], or a formula such as \"x**2 + y**2\"")
    if data is not None:
        return LeastSquares.from_expression(text, args.variables, x=data[0], y=data[1])
    return Problem.from_expression(text, args.variables)


def coordinate_names(problem):
    """Names of a problem's coordinates, as ``--start VAR=...`` takes them."""
    names = getattr(problem, "variables", None)
    if names:
        return tuple(names)
    if problem.dim <= 2:
        return ("x", "y")[:problem.dim]
    return tuple(f"x{i + 1}" for i in range(problem.dim))


def _start_dim(var):
    return f"{var}_0" if var[-1].isdigit() else f"{var}0"


def start_axes(problem, args):
    """The start points as named axes: ``[(dim name, values)]`` and how to stack them.

    Returns ``(axes, stack)``: ``axes`` in sweep order, and ``stack(arrays)``
    turning the broadcast axis values into ``x0`` of shape ``batch + (dim,)``.
    """
    names = coordinate_names(problem)
    given = dict(args.start)
    args.start = given
    if args.y0 is not None:
        if problem.dim != 2:
            raise UsageError(f"--y0 applies only to 2-D problems; {problem.name!r} has "
                             f"{problem.dim} coordinate(s) ({', '.join(names)}): use --start")
        given.setdefault(names[1], args.y0)
    unknown = [v for v in given if v not in names]
    if unknown:
        raise UsageError(f"--start {unknown[0]}=...: {problem.name!r} has no coordinate "
                         f"{unknown[0]!r}; its coordinates are {', '.join(names)}")
    if args.points is not None:
        if args.x0 is not None or given:
            raise UsageError("--points gives whole start points: leave out --x0, --y0, --start")
        pts = _read_table(args.points, "--points")
        if pts.shape[1] != problem.dim:
            raise UsageError(f"--points: {problem.name!r} has {problem.dim} coordinate(s); "
                             f"{args.points!r} has {pts.shape[1]} column(s)")
        if problem.dim == 1:
            return [("x0", pts[:, 0])], lambda arrays: arrays[0]
        return [("x0", pts)], lambda arrays: arrays[0]
    if args.x0 is not None:
        if names[0] in args.start and problem.dim <= 2:
            raise UsageError(f"--x0 and --start {names[0]}=... both give the start of "
                             f"{names[0]}: keep one")
        for v in names:
            given.setdefault(v, args.x0)
    missing = [v for v in names if v not in given]
    if missing:
        raise UsageError(f"give start points: --x0 VALUES (every coordinate), --start "
                         f"{missing[0]}=VALUES or --points FILE (coordinates of "
                         f"{problem.name!r}: {', '.join(names)})")
    # Rows along the second coordinate, columns along the first: the map's default.
    order = list(reversed(names))
    axes = [(_start_dim(v), given[v]) for v in order]
    if problem.dim == 1:
        return axes, lambda arrays: arrays[0]
    return axes, lambda arrays: np.stack(np.broadcast_arrays(*arrays[::-1]), axis=-1)


def build_schedule(args):
    """``(schedule or None, [(dim name, values)])``; its parameters may be lists."""
    from . import schedules
    params = _schedule_params()
    given = {name: getattr(args, name) for ps in params.values() for name in ps
             if getattr(args, name) is not None}
    if args.schedule is None:
        if given:
            name = next(iter(given))
            users = [s for s, ps in params.items() if name in ps]
            raise UsageError(f"{_flag(name)} is a schedule parameter: add --schedule "
                             f"{' or --schedule '.join(users)}")
        if args.warmup is None:
            return None, []
        schedule = None
    else:
        own = params[args.schedule]
        for name in given:
            if name not in own:
                users = [s for s, ps in params.items() if name in ps]
                raise UsageError(f"{_flag(name)} is not a parameter of {args.schedule} (it "
                                 f"is of {', '.join(users)}); {args.schedule} takes "
                                 f"{', '.join(_flag(n) for n in own) or 'no parameter'}")
        for name, default in own.items():
            if default is inspect.Parameter.empty and name not in given:
                raise UsageError(f"--schedule {args.schedule} needs {_flag(name)}")
        schedule = getattr(schedules, args.schedule)(**given)
    if args.warmup is not None:
        schedule = schedules.warmup(schedule, args.warmup)
    return schedule, list(schedule.params.items())


def hyper_axes(args):
    """``(optimizer, [(name, values)])`` for lr and the optimiser's hyper-parameters."""
    from .optimizers import HYPER_PARAMETERS, SPECS
    given = {name: getattr(args, name) for name in HYPER_PARAMETERS
             if getattr(args, name) is not None}
    optimizer = args.optimizer or ("momentum" if "momentum" in given else "gd")
    for name in given:
        if name not in SPECS[optimizer].params:
            users = [n for n, s in SPECS.items() if name in s.params]
            raise UsageError(f"{_flag(name)} is not used by --optimizer {optimizer}; it is "
                             f"by {', '.join(users)}")
    if args.lr is None:
        raise UsageError("the following arguments are required: --lr")
    return optimizer, [("lr", args.lr)] + list(given.items())


def grid(axes):
    """Each axis's values reshaped to broadcast as the outer product; dims and coords.

    Axes with a list (1-D values, or an array of points for ``x0``) become
    dims in the order given; scalars stay fixed.
    """
    swept = [(name, np.asarray(v)) for name, v in axes if np.ndim(v) >= 1]
    dims = [name for name, _ in swept]
    shaped = {}
    for name, value in axes:
        if np.ndim(value) >= 1:
            value = np.asarray(value)
            shape = [1] * len(dims)
            shape[dims.index(name)] = value.shape[0]
            value = value.reshape(tuple(shape) + value.shape[1:])
        shaped[name] = value
    return shaped, dims, dict(swept)


def _check_output_path(path, option):
    """Refuse, before any run, a path that cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path!r} is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path!r}: directory {str(parent)!r} does not exist")
    _check_writable_dir(parent, f"{option} {path!r}")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{option} {path!r} is not writable")


def _check_writable_dir(directory, what):
    # Creating a file is the only test that also catches read-only file systems
    # and holds for root, whom os.access always answers yes.
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise UsageError(f"{what}: cannot write in {str(directory)!r} "
                         f"({err.strerror or err})") from None


def _have(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_outputs(args):
    """Validated outputs: ``(files [(path, ext)], chunk directory or None)``."""
    files, directory, seen = [], None, {}
    for path in args.out:
        if path.endswith(("/", os.sep)) or Path(path).is_dir():
            if directory is not None:
                raise UsageError(f"--out: one chunk directory only, got {directory!r} "
                                 f"and {path!r}")
            target = Path(path)
            if target.exists() and not target.is_dir():
                raise UsageError(f"--out {path!r} is a file, not a directory")
            if not target.exists():
                if not target.parent.is_dir():
                    raise UsageError(f"--out {path!r}: directory {str(target.parent)!r} "
                                     "does not exist")
                _check_writable_dir(target.parent, f"--out {path!r}")
            else:
                _check_writable_dir(target, f"--out {path!r}")
            directory = path
        else:
            ext = Path(path).suffix.lower()
            if ext not in WRITERS:
                raise UsageError(
                    f"--out {path!r}: unknown extension {ext or '(none)'!r}; use "
                    f"{', '.join(WRITERS)}, or a directory DIR/ for resumable chunks")
            for need in WRITERS[ext]:
                options = need if isinstance(need, tuple) else (need,)
                if not any(_have(m) for m in options):
                    raise UsageError(f"--out {path!r}: writing {ext} needs "
                                     f"{' or '.join(options)}: pip install {options[0]} "
                                     "(or pip install 'fastgd[frames]')")
            _check_output_path(path, "--out")
            files.append((path, ext))
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(f"--out {path!r} is given twice")
        seen[key] = "--out"
    if args.plot is not None:
        if os.path.realpath(args.plot) in seen:
            raise UsageError(f"--out and --plot name the same file {args.plot!r}")
        from matplotlib.backend_bases import FigureCanvasBase
        ext = Path(args.plot).suffix.lower().lstrip(".")
        kinds = FigureCanvasBase.get_supported_filetypes()
        if ext not in kinds:
            raise UsageError(f"--plot {args.plot!r}: unknown image type {ext or '(none)'!r}; "
                             f"use one of {', '.join(sorted(kinds))}")
        _check_output_path(args.plot, "--plot")
    return files, directory


def check_map(args, dims):
    """The map's dims, checked against the sweep's before it runs."""
    if args.plot is None:
        for option in ("map_x", "map_y"):
            if getattr(args, option) is not None:
                raise UsageError(f"{_flag(option)} needs --plot")
        if args.fixed:
            raise UsageError("--fixed needs --plot")
        return
    if len(dims) < 2:
        raise UsageError("--plot needs two swept dims: give two of the start, --lr and "
                         "hyper-parameter options as lists or ranges (swept so far: "
                         f"{', '.join(dims) or 'none'})")
    for option, name in (("--map-x", args.map_x), ("--map-y", args.map_y),
                         *(("--fixed", n) for n, _ in args.fixed)):
        if name is not None and name not in dims:
            raise UsageError(f"{option} {name}: not a swept dim; the dims are "
                             f"{', '.join(dims)}")
    if args.map_x is not None and args.map_x == args.map_y:
        raise UsageError("--map-x and --map-y name the same dim")


def _memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: do not guess
        return math.inf


def _executor(args, size):
    if args.workers is None:
        return None, args.chunk_size
    import concurrent.futures
    import multiprocessing
    # Workers are spawned, not forked: forking a process whose Numba threads
    # already run is not safe.  Chunks default to an eighth of a worker's share
    # so that progress moves and the workers stay busy to the end.
    chunk = args.chunk_size or max(1024, -(-size // (8 * args.workers)))
    pool = concurrent.futures.ProcessPoolExecutor(
        args.workers, mp_context=multiprocessing.get_context("spawn"))
    return pool, chunk


def _sweep(args):
    from . import _api
    from ._execute import CHUNK_SIZE
    problem = build_problem(args)
    starts, stack = start_axes(problem, args)
    optimizer, hypers = hyper_axes(args)
    schedule, sched_axes = build_schedule(args)
    axes = starts + hypers + sched_axes
    names = [name for name, _ in axes]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise UsageError(f"two sweep dims are named {clash[0]!r}: rename a formula variable")
    shaped, dims, coords = grid(axes)
    size = math.prod(np.shape(v)[0] for v in coords.values())
    check_map(args, dims)
    files, directory = check_outputs(args)
    need = size * (16 * problem.dim + 40)  # x, x0 chunk, fun, nit, status, success...
    if need > _memory():
        raise UsageError(f"{size:,} runs need about {need / 2**30:.0f} GiB, more than this "
                         f"machine's {_memory() / 2**30:.0f} GiB: sweep fewer values")

    x0 = stack([shaped[name] for name, _ in starts])
    hyper = {name: shaped[name] for name, _ in hypers[1:]}
    if schedule is not None:
        import dataclasses
        schedule = dataclasses.replace(
            schedule, params={k: shaped[k] for k in schedule.params})
    options = {"epochs": args.epochs, "xtol": args.xtol, "ftol": args.ftol,
               "gtol": args.gtol, "batch_size": args.batch_size,
               "shuffle": not args.no_shuffle}
    if args.bound is not None:
        options["bound"] = args.bound
    if args.seed is not None:
        options["seed"] = args.seed
    executor, chunk_size = _executor(args, size)
    start = time.perf_counter()
    try:
        res = _api._run(problem, x0, lr=shaped["lr"], optimizer=optimizer, schedule=schedule,
                        chunk_size=chunk_size or CHUNK_SIZE, executor=executor,
                        out=directory, progress=False if args.no_progress else None,
                        dims=dims, coords=coords, **hyper, **options)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    seconds = time.perf_counter() - start
    _summary(res, problem, optimizer, args.epochs, seconds)
    for path, ext in files:
        _write(res, path, ext)
        print(f"wrote {path}")
    if directory is not None:
        print(f"chunks in {directory} (the same command resumes from them)")
    if args.plot:
        _map(res, args)
        print(f"wrote {args.plot}")
    return 0


def _write(res, path, ext):
    from . import io
    if ext == ".npz":
        io.save(res, path)
    elif ext == ".csv":
        res.to_pandas().to_csv(path, index=False)
    elif ext == ".parquet":
        res.to_pandas().to_parquet(path, index=False)
    elif ext == ".nc":
        res.to_xarray().to_netcdf(path)


def _summary(res, problem, optimizer, epochs, seconds):
    shape = ", ".join(f"{d}: {n}" for d, n in zip(res.dims, res.shape)) or "one run"
    print(f"{res.problem}: {res.size:,} runs ({shape}), {epochs} epochs, "
          f"{optimizer}, {seconds:.3f} s")
    print(", ".join(f"{k} {v:,}" for k, v in res.counts().items()))
    ok = res.status.reshape(-1) != 2
    if ok.any():
        best = int(np.argmin(np.where(ok, res.fun.reshape(-1), np.inf)))
        index = np.unravel_index(best, res.shape)
        where = []
        for d, i in zip(res.dims, index):
            value = np.asarray(res.coords[d])[i]
            where.append(f"{d}={value:.4g}" if value.ndim == 0 else
                         f"{d}={np.array2string(value, precision=4)}")
        where = ", ".join(where)
        print(f"best: f={res.fun.reshape(-1)[best]:.6g} at x="
              f"{np.array2string(res.x.reshape(-1, problem.dim)[best], precision=6, max_line_width=10**6)}"
              + (f" ({where})" if where else ""))


def _map(res, args):
    from matplotlib.figure import Figure

    from . import plot
    fixed = dict(args.fixed)
    free = [d for d in res.dims if d not in fixed] or list(res.dims)
    x_dim = args.map_x or free[-1]
    y_dim = args.map_y or ([d for d in free if d != x_dim]
                           or [d for d in res.dims if d != x_dim])[-1]
    for d in res.dims:
        if d not in (x_dim, y_dim) and d not in fixed:
            values = np.asarray(res.coords[d])
            fixed[d] = values[values.shape[0] // 2]
            shown = f"{fixed[d]:g}" if np.ndim(fixed[d]) == 0 else str(fixed[d])
            print(f"map: {d} fixed at {shown} (choose with --fixed {d}=VALUE)")
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    plot.grid_map(res, args.quantity, x=x_dim, y=y_dim, fixed=fixed, ax=fig.add_subplot())
    fig.savefig(args.plot, dpi=100)


def _demo(args):
    from . import demo
    print(demo.run(args.out, quick=args.quick))
    return 0


def _list(args):
    from . import problems
    from .optimizers import SPECS
    print("problems:")
    for name in problem_names():
        p = problems.exp_linear_fit(*problems.exp_linear_data(3)) if \
            name == "exp_linear_fit" else getattr(problems, name)
        print(f"  {name:18} {p.dim}-D, coordinates {', '.join(coordinate_names(p))}"
              + (" (data: --data FILE, default the tutorial's)" if p.n_data else ""))
    print("  quadratic:DIM[:CONDITION[:SEED]]   1/2 x^T A x, coordinates x1, x2, ...")
    print("  \"FORMULA\"          e.g. \"x**4 - 5*x**2 + 2*x + 10\" (needs sympy)")
    print("optimisers (--optimizer NAME, hyper-parameters as options):")
    for name, spec in SPECS.items():
        hp = ", ".join(f"{_flag(k)} (default {v:g})" for k, v in spec.defaults.items())
        print(f"  {name:18} {hp or 'lr only'}")
    print("schedules (--schedule NAME, parameters as options; --warmup W for any):")
    for name, params in _schedule_params().items():
        hp = ", ".join(_flag(k) + ("" if v is inspect.Parameter.empty else f" (default {v})")
                       for k, v in params.items())
        print(f"  {name:18} {hp}")
    return 0


def main(argv=None):
    """Entry point of the ``fastgd`` command; returns the exit status.

    Examples
    --------
    >>> from fastgd.cli import main
    >>> main(["sweep", "quartic", "--x0", "-2:2:3", "--lr", "0.01", "--epochs", "50"])
    ... # doctest: +ELLIPSIS
    quartic: 3 runs (x0: 3), 50 epochs, gd, ...
    converged 0, max_epochs 3, diverged 0, failed 0
    best: f=0.493359 at x=[-1.672982] (x0=-2)
    0
    """
    p = parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    prefix, args = "fastgd", None
    try:
        args = p.parse_args(_glue_negatives(argv, p.sweep_parser.value_options))
        prefix = f"fastgd {args.command}"
        from . import _trainability_cli
        commands = {"demo": _demo, "sweep": _sweep, "list": _list,
                    "trainability": _trainability_cli.run}
        return commands[args.command](args)
    except KeyboardInterrupt:
        resume = ""
        if args is not None and args.command == "sweep" and any(o.endswith(("/", os.sep)) or Path(o).is_dir()
                                           for o in args.out):
            resume = "; the same command resumes from the chunks saved so far"
        print(f"\n{prefix}: interrupted{resume}", file=sys.stderr)
        return _INTERRUPTED
    except (ValueError, TypeError, ImportError) as err:
        # fastgd names the bad argument in its message: that is the line to show.
        _debug()
        print(f"{prefix}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        _debug()
        print(f"{prefix}: error: not enough memory: sweep fewer values", file=sys.stderr)
        return 2
    except OSError as err:
        _debug()
        print(f"{prefix}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: still one line, and how to see more
        _debug()
        print(f"{prefix}: internal error: {type(err).__name__}: {_one_line(err)} "
              "(run with FASTGD_DEBUG=1 for the traceback, and please report it)",
              file=sys.stderr)
        return 1


def _one_line(err):
    return " ".join(str(err).split())


def _debug():
    if os.environ.get("FASTGD_DEBUG", "0") not in ("", "0"):
        import traceback
        traceback.print_exc()
