"""``fastgd trainability``: the trainability map of the notebook's network from the shell."""

import os
import time

import numpy as np

DEFAULT_LR0 = "1e-1:1e6:64:log"
DEFAULT_LR1 = "3.16:316:64:log"


def add_parser(sub, values):
    """Register the subcommand on ``sub``; ``values`` parses value lists."""
    tm = sub.add_parser(
        "trainability", help="the trainability map of a small network over two layers' rates",
        description="Train Sohl-Dickstein's notebook network (mean-field, no biases, one "
        "hidden layer, one output, as many data points as parameters) full batch over a "
        "grid of the input and output layers' learning rates; print the converged "
        "fraction and the boundary's box-counting dimension; optionally draw the map "
        "and save it.",
        epilog=f"example: fastgd trainability --lr0 {DEFAULT_LR0} --lr1 {DEFAULT_LR1} "
        "--plot map.png")
    tm.add_argument("--width", type=int, default=8, help="hidden units (default 8)")
    tm.add_argument("--activation", choices=("tanh", "relu", "identity"), default="tanh")
    tm.add_argument("--epochs", type=int, default=100,
                    help="full-batch steps per run (default 100)")
    tm.add_argument("--lr0", type=values, default=values(DEFAULT_LR0), metavar="VALUES",
                    help=f"input layer rates (default {DEFAULT_LR0})")
    tm.add_argument("--lr1", type=values, default=values(DEFAULT_LR1), metavar="VALUES",
                    help=f"output layer rates (default {DEFAULT_LR1})")
    tm.add_argument("--seed", type=int, default=0, help="seed of the data and the network")
    tm.add_argument("--chunk-size", type=int, default=2**18,
                    help="runs per chunk (default 2**18); results do not depend on it")
    tm.add_argument("--no-progress", action="store_true",
                    help="no progress line (default: shown on a terminal)")
    tm.add_argument("--plot", metavar="PNG", help="draw the map into this image file")
    tm.add_argument("--out", action="append", default=[], metavar="PATH",
                    help="save the map (values and rates) as .npz; a directory DIR/ keeps "
                    "each finished chunk, so the same command resumes after an "
                    "interruption; repeatable")


def run(args):
    """Run the subcommand; errors are ValueError naming the option."""
    from . import trainability as tr

    for option, value in (("--lr0", args.lr0), ("--lr1", args.lr1)):
        if np.ndim(value) != 1 or np.size(value) < 2:
            raise ValueError(f"{option} needs a list of rates, e.g. {DEFAULT_LR0}")
    if args.plot is not None and not args.plot.endswith(".png"):
        raise ValueError(f"--plot must name a .png file, got {args.plot!r}")
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    files = [p for p in args.out if not p.endswith(("/", os.sep))]
    folders = [p for p in args.out if p.endswith(("/", os.sep))]
    for path in files:
        if not path.endswith(".npz"):
            raise ValueError(f"--out must name a .npz file or a directory DIR/, got {path!r}")
    if len(folders) > 1:
        raise ValueError(f"--out names more than one directory: {folders}")
    net = tr.notebook_network(width=args.width, activation=args.activation, seed=args.seed)
    start = time.perf_counter()
    tmap = tr.trainability_map(net, lr={"layer_0": args.lr0, "layer_1": args.lr1},
                               epochs=args.epochs, chunk_size=args.chunk_size,
                               out=folders[0] if folders else None,
                               progress=False if args.no_progress else None)
    seconds = time.perf_counter() - start
    shape = tmap.values.shape
    print(f"{net.name}, {net.n_data} data points: {tmap.values.size} runs "
          f"({shape[0]} x {shape[1]} rates), {args.epochs} steps, {seconds:.1f} s")
    print(f"converged: {100 * tmap.converged.mean():.1f} % of the runs")
    if min(shape) >= 64:  # below, too few box sizes for the estimate to mean much
        print(f"boundary: box-counting dimension {tmap.box_count().dimension:.3f}")
    for path in files:
        np.savez(path, values=tmap.values, lr_layer_0=args.lr0, lr_layer_1=args.lr1)
    if args.plot:
        from matplotlib.figure import Figure
        fig = Figure(figsize=(6, 6), layout="constrained")
        ax = tmap.plot(fig.add_subplot())
        ax.set_xlabel("log10 input layer learning rate")
        ax.set_ylabel("log10 output layer learning rate")
        fig.savefig(args.plot, dpi=100)
    return 0
