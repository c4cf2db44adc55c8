"""The trainability map with fastgd beside the JAX formulation of Sohl-Dickstein's
notebook, and logistic regression beside JAX ``vmap``.

Usage::

    python benchmarks/trainability.py map [--grid 64] [--epochs 100] [--width 8]
        [--lr0 LO HI] [--lr1 LO HI] [--no-jax] [--figure docs/figures/trainability.png]
    python benchmarks/trainability.py logreg [--runs 10000]

``map`` trains the notebook's default condition (tanh, mean-field, no biases,
one hidden layer, as many data points as parameters, full batch) over a
``grid x grid`` log-spaced grid of the two layers' learning rates, with fastgd
(`fastgd.trainability.trainability_map`) and with the JAX formulation below, on the
same data and initial network; it prints both wall times, the agreement of the
converged/diverged classification away from the boundary, and both box-counting
dimensions.  ``logreg`` times 10,000 logistic regressions (400 points x 8
features) full batch and in mini-batches of 50, fastgd against JAX.

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
import time

import numpy as np

import fastgd as fg
from fastgd import trainability as tr

# log10 ranges of the input and output layers' rates: for the default condition
# (width 8, 100 steps) they frame the whole boundary.
LR0_RANGE = (-1.0, 6.0)
LR1_RANGE = (0.5, 2.5)
CHUNK = 50_000


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
    print(f"grid {grid} x {grid} ({runs} runs), {epochs} steps, width {width}, "
          f"{net.dim} parameters, {net.n_data} data points, log10 lr0 in {lr0_range}, "
          f"log10 lr1 in {lr1_range}")
    print(f"fastgd: {t_fastgd:8.2f} s  ({runs * epochs / t_fastgd / 1e6:.3f} M run-steps/s)")
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
    g = sub.add_parser("logreg")
    g.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    if args.what == "map":
        run_map(args.grid, args.epochs, args.width, tuple(args.lr0), tuple(args.lr1),
                args.figure, not args.no_jax)
    else:
        run_logreg(args.runs)


if __name__ == "__main__":
    main()
