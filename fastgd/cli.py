"""The command line: ``fastgd demo``, ``fastgd sweep`` and ``fastgd trainability``
(also ``python -m fastgd``).

Bad arguments, including those fastgd itself rejects, print one line on
stderr and exit with status 2; no traceback.
"""

import argparse
import dataclasses
import sys
import time

import numpy as np

PROBLEMS = ("exp_quadratic", "quartic", "saddle")
QUANTITIES = ("status", "fun", "nit", "minimum")

_VALUES_HELP = ("A:B:N (N values from A to B), A:B:N:log (log-spaced), "
                "v1,v2,... or one value")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not usage plus message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def values(text):
    """Parse a command-line value list.

    ``A:B:N`` gives ``np.linspace(A, B, N)``, ``A:B:N:log`` gives
    ``np.geomspace(A, B, N)``, ``v1,v2,...`` those values, and a single
    number a scalar (not swept).

    Examples
    --------
    >>> from fastgd.cli import values
    >>> values("0:1:3").tolist(), values("1e-3:1e-1:3:log").round(6).tolist()
    ([0.0, 0.5, 1.0], [0.001, 0.01, 0.1])
    >>> values("0.1,0.2").tolist(), values("0.5")
    ([0.1, 0.2], 0.5)
    """
    parts = text.split(":")
    try:
        if len(parts) == 1:
            items = [float(v) for v in text.split(",")]
            return items[0] if len(items) == 1 and "," not in text else np.array(items)
        if len(parts) in (3, 4):
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1:
                raise argparse.ArgumentTypeError(f"N must be >= 1 in {text!r}")
            if len(parts) == 3:
                return np.linspace(lo, hi, n)
            if parts[3] == "log":
                if lo <= 0 or hi <= 0:
                    raise argparse.ArgumentTypeError(f"a log range needs A, B > 0: {text!r}")
                return np.geomspace(lo, hi, n)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected {_VALUES_HELP}; got {text!r}")


def _fixed(text):
    name, sep, value = text.partition("=")
    try:
        if sep and name:
            return name, float(value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected DIM=VALUE, got {text!r}")


_VALUE_OPTIONS = ("--x0", "--y0", "--lr", "--momentum")


def _glue_negatives(argv):
    """``--x0 -2:2:5`` as ``--x0=-2:2:5``: argparse would read -2:2:5 as an option."""
    out = []
    for arg in argv:
        if out and out[-1] in _VALUE_OPTIONS and arg[:1] == "-" and arg[1:2] in "0123456789.":
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def parser():
    """The `argparse` parser of the ``fastgd`` command."""
    from . import __version__
    p = _Parser(prog="fastgd", description="Gradient descent over many runs at once: "
                "the seed tutorial's examples as batches, and sweeps from the shell.")
    p.add_argument("--version", action="version", version=f"fastgd {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)
    demo = sub.add_parser(
        "demo", help="run every example of the seed tutorial as a batch",
        description="Run every example of the seed tutorial over many starts and rates; "
        "print what it found and the time against the plain-Python reference; write "
        "the figures.  Progress goes to stderr, the table to stdout.")
    demo.add_argument("--out", default="fastgd-demo", metavar="DIR",
                      help="folder for the figures (default: ./fastgd-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="small batches: a smoke test in a few seconds")

    from ._trainability_cli import add_parser as add_trainability
    add_trainability(sub, values)

    sw = sub.add_parser(
        "sweep", help="sweep start points and hyper-parameters of a built-in problem",
        description="Run the outer product of start points and hyper-parameters, print "
        "a summary, and optionally save the result (.npz, read with fastgd.load) and a "
        f"map of it.  Value lists: {_VALUES_HELP}.  For the 2-D problem saddle, --x0 "
        "and --y0 give the grids of the two start coordinates (--y0 defaults to --x0's "
        "values), and the dims are named y0 and x0.",
        epilog="example: fastgd sweep quartic --x0 -2.5:2.5:500 --lr 1e-3:0.2:500:log "
        "--gtol 1e-6 --out quartic.npz --plot quartic.png --quantity minimum")
    sw.add_argument("problem", choices=PROBLEMS, metavar="PROBLEM",
                    help=f"one of {', '.join(PROBLEMS)}")
    sw.add_argument("--x0", type=values, required=True, help="start points (x)")
    sw.add_argument("--y0", type=values, help="saddle only: start points (y)")
    sw.add_argument("--lr", type=values, required=True, help="learning rates")
    sw.add_argument("--momentum", type=values,
                    help="momentum beta values (implies --optimizer momentum)")
    sw.add_argument("--epochs", type=int, default=100, help="epochs per run (default 100)")
    sw.add_argument("--optimizer", choices=("gd", "momentum"), help="default gd")
    for tol in ("xtol", "ftol", "gtol"):
        sw.add_argument(f"--{tol}", type=float, help=f"early-exit {tol} (off by default)")
    sw.add_argument("--out", metavar="FILE.npz", help="save the result here")
    sw.add_argument("--plot", metavar="FILE.png", help="draw a map of two swept dims here")
    sw.add_argument("--quantity", choices=QUANTITIES, default="status",
                    help="what the map shows (default status)")
    sw.add_argument("--map-x", metavar="DIM", help="dim on the map's x axis")
    sw.add_argument("--map-y", metavar="DIM", help="dim on the map's y axis")
    sw.add_argument("--fixed", type=_fixed, action="append", default=[],
                    metavar="DIM=VALUE", help="value of a further dim on the map "
                    "(default: its middle value); repeatable")
    return p


def _run_saddle(problem, args, options):
    """The 2-D problem: a grid of start points, built here so that its dims are named."""
    from ._api import minimize
    y0 = args.x0 if args.y0 is None else args.y0
    given = {"y0": y0, "x0": args.x0, "lr": args.lr, "momentum": args.momentum}
    swept = {k: v for k, v in given.items() if v is not None and np.ndim(v) == 1}
    dims = list(swept)

    def axis(name):
        value = given[name]
        if name not in swept:
            return value
        shape = [1] * len(dims)
        shape[dims.index(name)] = value.size
        return value.reshape(shape)

    xs, ys = np.broadcast_arrays(axis("x0"), axis("y0"))
    res = minimize(problem, x0=np.stack([xs, ys], axis=-1), lr=axis("lr"),
                   momentum=None if args.momentum is None else axis("momentum"), **options)
    return dataclasses.replace(res, dims=tuple(dims), coords=swept)


def _sweep(args):
    from . import io, problems
    from ._api import sweep
    problem = getattr(problems, args.problem)
    optimizer = args.optimizer or ("momentum" if args.momentum is not None else "gd")
    options = {"epochs": args.epochs, "optimizer": optimizer, "xtol": args.xtol,
               "ftol": args.ftol, "gtol": args.gtol}
    if problem.dim == 1 and args.y0 is not None:
        raise ValueError(f"--y0 applies only to the 2-D problem saddle, not {args.problem}")
    swept = [v for v in (args.x0, args.lr, args.momentum,
                         args.x0 if args.y0 is None and problem.dim == 2 else args.y0)
             if v is not None and np.ndim(v) == 1]
    if args.plot and len(swept) < 2:
        raise ValueError("--plot needs two swept dims: give two of --x0/--y0/--lr/--momentum "
                         "as ranges A:B:N or lists")
    start = time.perf_counter()
    if problem.dim == 1:
        res = sweep(problem, x0=args.x0, lr=args.lr, momentum=args.momentum, **options)
    else:
        res = _run_saddle(problem, args, options)
    seconds = time.perf_counter() - start
    shape = ", ".join(f"{d}: {n}" for d, n in zip(res.dims, res.shape)) or "one run"
    print(f"{res.problem}: {res.size:,} runs ({shape}), {args.epochs} epochs, "
          f"{optimizer}, {seconds:.3f} s")
    print(", ".join(f"{k} {v:,}" for k, v in res.counts().items()))
    ok = res.status.reshape(-1) != 2
    if ok.any():
        best = int(np.argmin(np.where(ok, res.fun.reshape(-1), np.inf)))
        index = np.unravel_index(best, res.shape)
        where = ", ".join(f"{d}={np.asarray(res.coords[d])[i]:.4g}"
                          for d, i in zip(res.dims, index) if d in res.coords)
        print(f"best: f={res.fun.reshape(-1)[best]:.6g} at x="
              f"{np.array2string(res.x.reshape(-1, problem.dim)[best], precision=6)}"
              + (f" ({where})" if where else ""))
    if args.out:
        io.save(res, args.out)
        print(f"wrote {args.out}")
    if args.plot:
        _map(res, args)
        print(f"wrote {args.plot}")
    return 0


def _map(res, args):
    from matplotlib.figure import Figure

    from . import plot
    x = args.map_x or ("x0" if "y0" in res.dims else None)
    y = args.map_y or ("y0" if "y0" in res.dims and x != "y0" else None)
    fixed = dict(args.fixed)
    free = [d for d in res.dims if d not in fixed] or list(res.dims)
    x_dim = x or free[-1]
    y_dim = y or ([d for d in free if d != x_dim] or [d for d in res.dims if d != x_dim])[-1]
    for d in res.dims:
        if d not in (x_dim, y_dim) and d not in fixed:
            values = np.asarray(res.coords[d])
            fixed[d] = float(values[values.size // 2])
            print(f"map: {d} fixed at {fixed[d]:g} (choose with --fixed {d}=VALUE)")
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    plot.grid_map(res, args.quantity, x=x_dim, y=y_dim, fixed=fixed, ax=fig.add_subplot())
    fig.savefig(args.plot, dpi=100)


def _demo(args):
    from . import demo
    print(demo.run(args.out, quick=args.quick))
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
    args = p.parse_args(_glue_negatives(sys.argv[1:] if argv is None else argv))
    from . import _trainability_cli
    command = {"demo": _demo, "sweep": _sweep, "trainability": _trainability_cli.run}[
        args.command]
    try:
        return command(args)
    except (ValueError, TypeError) as err:
        # fastgd names the bad argument in its message: that is the line to show.
        print(f"fastgd {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"fastgd {args.command}: error: {err}", file=sys.stderr)
        return 1
