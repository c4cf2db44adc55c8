"""The trainability map with fastgd beside the JAX formulation of Sohl-Dickstein's
notebook, and logistic regression beside JAX ``vmap``.

Usage::

    python benchmarks/trainability.py map [--grid 64] [--epochs 100] [--width 8]
        [--lr0 LO HI] [--lr1 LO HI] [--no-jax] [--figure docs/figures/trainability.png]
    python benchmarks/trainability.py big [--grid 4096] [--out DIR] [--chunk-size N]
        [--figure PNG]
    python benchmarks/trainability.py zoom [--grid 512] [--levels 3] [--factor 10]
        [--at LR0 LR1]
        [--figure docs/figures/trainability_zoom.png]
    python benchmarks/trainability.py logreg [--runs 10000]

``map`` trains the notebook's default condition (tanh, mean-field, no biases,
one hidden layer, as many data points as parameters, full batch) over a
``grid x grid`` log-spaced grid of the two layers' learning rates, with fastgd
(`fastgd.trainability.trainability_map`) and with the JAX formulation below, on the
same data and initial network; it prints both wall times, the agreement of the
converged/diverged classification away from the boundary, and both box-counting
dimensions.  ``big`` trains a large grid of the default condition through
chunks kept in an ``out=`` directory (the same command resumes an interrupted
map) and prints its wall time and the process's peak memory.  ``zoom`` draws the
map, then zooms repeatedly into the boundary pixel nearest the window's centre
(first: nearest ``--at``),
each window ``factor`` times smaller in both log-rates, at the same resolution.
``logreg`` times 10,000 logistic regressions (400 points x 8 features) full batch
and in mini-batches of 50, fastgd against JAX.  Every command prints the machine
load (``os.getloadavg``) when it starts: timings taken while the 1-minute load is
above the core count are noise.

The JAX formulation is our transcription of the notebook's method: the network as a
list of weight matrices, ``jax.value_and_grad`` of the mean squared error, one
update per layer with its own rate, ``jax.vmap`` over the rate pairs (and the
per-run parameters), ``jax.jit`` of the vmapped step, a Python loop over the steps
collecting the losses, the runs cut into chunks of at most 50,000, and the
notebook's convergence measure on the stacked losses.  Times include compilation
of neither side (each is run once on a small grid first).
"""

import argparse
import math
import os
import resource
import time

import numpy as np

import fastgd as fg
from fastgd import trainability as tr

# log10 ranges of the input and output layers' rates: for the default condition
# (width 8, 100 steps) they frame the whole boundary.
LR0_RANGE = (-1.0, 6.0)
LR1_RANGE = (0.5, 2.5)
CHUNK = 50_000


def peak_rss_gb():
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def machine():
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores, load {load:.2f}"
            + (" (busy: timings are noise)" if load > (os.cpu_count() or 1) else ""))


# --- the JAX formulation -------------------------------------------------------

def jax_map(net, lr0, lr1, epochs, chunk=CHUNK):
    """Convergence measure over the outer product of lr0 (layer 0) x lr1 (layer 1)."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    Ws = [jnp.asarray(W) for W, _ in net.unpack(net.init())]
    X, Y = jnp.asarray(net.x), jnp.asarray(net.y).reshape(-1, 1)
    last = len(Ws) - 1

    def forward(params, X):
        h = X
        for i, W in enumerate(params):
            z = h @ W / jnp.sqrt(W.shape[0])
            if i == last:
                return z / jnp.sqrt(W.shape[0])
            h = jnp.tanh(z * jnp.sqrt(2.0))

    def loss(params):
        return jnp.mean((forward(params, X) - Y) ** 2)

    def step(params, rates):
        value, grads = jax.value_and_grad(loss)(params)
        return [W - r * g for W, g, r in zip(params, grads, rates)], value

    batched_step = jax.jit(jax.vmap(step, in_axes=(0, 0)))

    def measure(v, max_value=1e6, tail=20):
        v = jnp.where(jnp.isfinite(v), v, max_value)
        v = jnp.minimum(v / v[0], max_value)
        converged = jnp.mean(v[-tail:]) < 1
        return jnp.where(converged, -jnp.sum(v), jnp.sum(1.0 / v))

    batched_measure = jax.jit(jax.vmap(measure))

    g0, g1 = np.meshgrid(lr0, lr1, indexing="ij")
    rates = np.stack([g0.ravel(), g1.ravel()], axis=1)
    out = []
    for start in range(0, len(rates), chunk):
        r = jnp.asarray(rates[start:start + chunk])
        params = [jnp.tile(W, (len(r), 1, 1)) for W in Ws]
        losses = []
        for _ in range(epochs):
            params, value = batched_step(params, [r[:, 0], r[:, 1]])
            losses.append(value)
        out.append(np.asarray(batched_measure(jnp.stack(losses, axis=-1))))
    return np.concatenate(out).reshape(len(lr0), len(lr1))


def away_from_boundary(values, margin=1):
    """Pixels with no sign change within ``margin`` pixels."""
    edges = np.zeros(values.shape, bool)
    b = tr.boundary(values)
    for di in range(2):
        for dj in range(2):
            edges[di:di + b.shape[0], dj:dj + b.shape[1]] |= b
    grown = edges.copy()
    for _ in range(margin):
        g = grown.copy()
        g[1:] |= grown[:-1]
        g[:-1] |= grown[1:]
        g[:, 1:] |= grown[:, :-1]
        g[:, :-1] |= grown[:, 1:]
        grown = g
    return ~grown


def run_map(grid, epochs, width, lr0_range, lr1_range, figure=None, with_jax=True):
    net = tr.notebook_network(width=width, seed=0)
    lr0, lr1 = np.logspace(*lr0_range, grid), np.logspace(*lr1_range, grid)
    # Compile both sides first.
    tr.trainability_map(net, lr={"layer_0": lr0[:4], "layer_1": lr1[:4]}, epochs=3)
    t = time.perf_counter()
    fmap = tr.trainability_map(net, lr={"layer_0": lr0, "layer_1": lr1}, epochs=epochs)
    t_fastgd = time.perf_counter() - t
    d_fastgd = fmap.box_count().dimension
    runs = grid * grid
    print(machine())
    print(f"grid {grid} x {grid} ({runs} runs), {epochs} steps, width {width}, "
          f"{net.dim} parameters, {net.n_data} data points, log10 lr0 in {lr0_range}, "
          f"log10 lr1 in {lr1_range}")
    print(f"fastgd: {t_fastgd:8.2f} s  ({runs * epochs / t_fastgd / 1e6:.3f} M run-steps/s), "
          f"peak memory {peak_rss_gb():.2f} GB")
    print(f"converged: {100 * fmap.converged.mean():.1f} % of the runs")
    print(f"box-counting dimension: fastgd {d_fastgd:.3f}")
    if with_jax:
        jax_map(net, lr0[:4], lr1[:4], 3)
        t = time.perf_counter()
        jvalues = jax_map(net, lr0, lr1, epochs)
        t_jax = time.perf_counter() - t
        away = away_from_boundary(fmap.values) & away_from_boundary(jvalues)
        agree = np.mean(fmap.converged[away] == (jvalues[away] < 0))
        d_jax = tr.box_count(tr.boundary(jvalues)).dimension
        print(f"JAX:    {t_jax:8.2f} s  ({runs * epochs / t_jax / 1e6:.3f} M run-steps/s)")
        print(f"speed-up {t_jax / t_fastgd:.2f}x")
        print(f"classification agreement away from the boundary: {100 * agree:.3f} % "
              f"of {int(away.sum())} pixels; all pixels: "
              f"{100 * np.mean(fmap.converged == (jvalues < 0)):.3f} %")
        print(f"box-counting dimension: JAX {d_jax:.3f}")
    if figure:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
        fmap.plot(ax, title=f"Trainability, tanh width {width}, full batch, {epochs} steps\n"
                            f"{grid} x {grid} grid, boundary dimension {d_fastgd:.2f}")
        ax.set_xlabel("log10 input layer learning rate")
        ax.set_ylabel("log10 output layer learning rate")
        fig.tight_layout()
        fig.savefig(figure)
        print(f"wrote {figure}")


def run_big(grid, epochs, out, chunk_size, figure=None):
    """A large map of the default condition, chunk by chunk into ``out``."""
    net = tr.notebook_network(width=8, seed=0)
    lr0, lr1 = np.logspace(*LR0_RANGE, grid), np.logspace(*LR1_RANGE, grid)
    tr.trainability_map(net, lr={"layer_0": lr0[:4], "layer_1": lr1[:4]}, epochs=3)
    runs = grid * grid
    print(machine())
    print(f"grid {grid} x {grid} ({runs:,} runs), {epochs} steps, chunks of {chunk_size:,} "
          f"runs in {out}")
    t = time.perf_counter()
    tmap = tr.trainability_map(net, lr={"layer_0": lr0, "layer_1": lr1}, epochs=epochs,
                               chunk_size=chunk_size, out=out, progress=True)
    seconds = time.perf_counter() - t
    print(f"fastgd: {seconds:8.1f} s  ({runs * epochs / seconds / 1e6:.3f} M run-steps/s; "
          "less if chunks were loaded from out=), "
          f"peak memory {peak_rss_gb():.2f} GB")
    print(f"converged: {100 * tmap.converged.mean():.2f} % of the runs; box-counting "
          f"dimension {tmap.box_count().dimension:.3f}")
    if figure:
        draw([tmap], [f"Trainability, tanh width 8, {epochs} steps, {grid} x {grid}"],
             figure, size=7)


def nearest_boundary(tmap, at=None):
    """log10 rates of the boundary pixel nearest ``at`` (log10 rates; default the
    centre of the map's window)."""
    edges = tmap.boundary()
    xs, ys = (np.log10(np.asarray(tmap.coords[d])) for d in tmap.dims)
    # A boundary pixel stands for the 2 x 2 neighbourhood at its lower corner.
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    if at is None:
        at = ((cx[0] + cx[-1]) / 2, (cy[0] + cy[-1]) / 2)
    i, j = np.nonzero(edges)
    # Distances in pixels, so that both axes weigh alike.
    k = np.argmin(((cx[i] - at[0]) / (cx[1] - cx[0])) ** 2
                  + ((cy[j] - at[1]) / (cy[1] - cy[0])) ** 2)
    return cx[i[k]], cy[j[k]]


def run_zoom(grid, epochs, levels, factor, at=None, figure=None):
    net = tr.notebook_network(width=8, seed=0)
    window = (LR0_RANGE, LR1_RANGE)
    maps, titles = [], []
    print(machine())
    for level in range(levels):
        (a0, b0), (a1, b1) = window
        t = time.perf_counter()
        tmap = tr.trainability_map(net, lr={"layer_0": np.logspace(a0, b0, grid),
                                            "layer_1": np.logspace(a1, b1, grid)},
                                   epochs=epochs)
        seconds = time.perf_counter() - t
        dim = tmap.box_count().dimension
        print(f"level {level}: log10 lr0 in [{a0:.6f}, {b0:.6f}], log10 lr1 in "
              f"[{a1:.6f}, {b1:.6f}] (x{factor ** level:g}), {grid} x {grid}: {seconds:.1f} s, "
              f"converged {100 * tmap.converged.mean():.1f} %, box-counting dimension "
              f"{dim:.3f}")
        maps.append(tmap)
        titles.append(f"x{factor ** level:g}: dimension {dim:.2f}")
        c0, c1 = nearest_boundary(tmap, at if level == 0 else None)
        h0, h1 = (b0 - a0) / factor / 2, (b1 - a1) / factor / 2
        window = ((c0 - h0, c0 + h0), (c1 - h1, c1 + h1))
    if figure:
        draw(maps, titles, figure, size=4, zooms=True)


def draw(maps, titles, figure, size, zooms=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps), size + 0.4),
                             dpi=100, squeeze=False)
    for k, (ax, tmap, title) in enumerate(zip(axes[0], maps, titles)):
        tmap.plot(ax, title=title)
        ax.set_xlabel("log10 input layer learning rate")
        ax.set_ylabel("log10 output layer learning rate" if k == 0 else "")
        if zooms and k + 1 < len(maps):
            (x0, x1), (y0, y1) = (np.log10(np.asarray(maps[k + 1].coords[d])[[0, -1]])
                                  for d in maps[k + 1].dims)
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5,
                                   ec="black"))
    fig.tight_layout()
    fig.savefig(figure)
    print(f"wrote {figure}")


# --- logistic regression -------------------------------------------------------

def jax_logreg(X, y, theta0, lr, epochs, batch_size):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    n = len(y)

    def loss(theta, rows):
        z = Xj[rows] @ theta[:-1] + theta[-1]
        return jnp.mean(jnp.logaddexp(0.0, z) - yj[rows] * z)

    def epoch(theta, rate):
        for b in range(0, n, batch_size):
            rows = jnp.arange(b, min(b + batch_size, n))
            theta = theta - rate * jax.grad(loss)(theta, rows)
        return theta

    run = jax.jit(jax.vmap(lambda t, r: jax.lax.fori_loop(
        0, epochs, lambda _, s: epoch(s, r), t)))
    theta = run(jnp.asarray(theta0[:2]), jnp.asarray(lr[:2]))  # compile
    t = time.perf_counter()
    theta = run(jnp.asarray(theta0), jnp.asarray(lr))
    theta.block_until_ready()
    return np.asarray(theta), time.perf_counter() - t


def run_logreg(runs):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 8))
    y = (X @ rng.standard_normal(8) + 0.5 * rng.standard_normal(400) > 0).astype(float)
    problem = fg.problems.logistic_regression(X, y)
    theta0 = rng.standard_normal((runs, 9))
    lr = rng.uniform(0.05, 2.0, runs)
    print(machine())
    for batch_size, epochs in ((400, 100), (50, 20)):
        fg.minimize(problem, x0=theta0[:2], lr=lr[:2], epochs=2, batch_size=batch_size,
                    shuffle=False)
        t = time.perf_counter()
        res = fg.minimize(problem, x0=theta0, lr=lr, epochs=epochs, batch_size=batch_size,
                          shuffle=False)
        t_fastgd = time.perf_counter() - t
        theta, t_jax = jax_logreg(X, y, theta0, lr, epochs, batch_size)
        updates = runs * epochs * math.ceil(400 / batch_size)
        print(f"logistic regression, {runs} runs, batch {batch_size}, {epochs} epochs: "
              f"fastgd {t_fastgd:.3f} s, JAX vmap {t_jax:.3f} s "
              f"({t_jax / t_fastgd:.2f}x), {updates / t_fastgd / 1e6:.2f} M updates/s; "
              f"max |x_fastgd - x_jax| = {np.abs(res.x - theta).max():.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("map")
    m.add_argument("--grid", type=int, default=64)
    m.add_argument("--epochs", type=int, default=100)
    m.add_argument("--width", type=int, default=8)
    m.add_argument("--lr0", type=float, nargs=2, default=LR0_RANGE,
                   help="log10 range of the input layer's rate")
    m.add_argument("--lr1", type=float, nargs=2, default=LR1_RANGE,
                   help="log10 range of the output layer's rate")
    m.add_argument("--no-jax", action="store_true", help="fastgd only")
    m.add_argument("--figure")
    b = sub.add_parser("big")
    b.add_argument("--grid", type=int, default=4096)
    b.add_argument("--epochs", type=int, default=100)
    b.add_argument("--out", default="trainability-map",
                   help="directory of finished chunks (the same command resumes)")
    b.add_argument("--chunk-size", type=int, default=2**20)
    b.add_argument("--figure")
    z = sub.add_parser("zoom")
    z.add_argument("--grid", type=int, default=512)
    z.add_argument("--epochs", type=int, default=100)
    z.add_argument("--levels", type=int, default=3)
    z.add_argument("--factor", type=float, default=10.0)
    z.add_argument("--at", type=float, nargs=2, metavar=("LR0", "LR1"),
                   help="log10 rates to zoom towards first (default: the window's centre)")
    z.add_argument("--figure")
    g = sub.add_parser("logreg")
    g.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    if args.what == "map":
        run_map(args.grid, args.epochs, args.width, tuple(args.lr0), tuple(args.lr1),
                args.figure, not args.no_jax)
    elif args.what == "big":
        run_big(args.grid, args.epochs, args.out, args.chunk_size, args.figure)
    elif args.what == "zoom":
        run_zoom(args.grid, args.epochs, args.levels, args.factor, args.at, args.figure)
    else:
        run_logreg(args.runs)


if __name__ == "__main__":
    main()
