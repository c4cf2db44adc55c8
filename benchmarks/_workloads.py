"""Workloads, peer implementations and the timing helper shared by the ``bench_*`` files.

Every workload is one batch of independent gradient-descent runs, built the same way
for every implementation.  Each implementation is written plainly, with the update
rule fastgd uses (the seed's), so that a benchmark compares like with like:

* ``reference``: `fastgd.reference`, the seed's plain-Python loop, one run at a time.
  Timed on an evenly strided slice of the runs and scaled per run-update.
* ``numpy``: the same update vectorised over runs, one array operation at a time.
* ``fastgd-1t`` / ``fastgd``: `fastgd.minimize` on one thread / all cores, including
  its Python layer (validation, broadcasting, allocation), compiled before timing.
* ``jax``: ``jit`` + ``lax.fori_loop`` (or ``while_loop``) over the whole batch, x64.
* ``torch``: eager float64 tensors, in-place updates.
* ``c``: a blocked C loop (gcc -O3 -march=native -ffast-math -fopenmp), via ctypes.

JAX, PyTorch and gcc are optional: their benchmarks skip when they are missing.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numba
import numpy as np

import fastgd as fg
from fastgd import reference as ref

#: Size presets.  "smoke" runs every benchmark body once in the normal test run;
#: "full" is the size the issue asks for; "medium" is 1/10 of the runs of "full".
SIZES = ("smoke", "medium", "full")

#: Seconds of timed rounds to aim for per benchmark, and the bounds on rounds.
ROUND_BUDGET_S = 4.0
MIN_ROUNDS, MAX_ROUNDS = 1, 5


def size_from_env():
    return "full" if os.environ.get("FASTGD_BENCH_FULL", "") not in ("", "0") else "smoke"


# --- workloads ------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """One batch of runs: what to minimise, from where, with which hyper-parameters."""

    name: str          # benchmark group
    runs: int
    updates: int       # updates per run (epochs x batches per epoch)
    epochs: int
    x0: np.ndarray     # (runs,) or (runs, dim)
    lr: np.ndarray     # (runs,)
    ref_runs: int      # runs of the plain-Python slice
    options: dict      # extra arguments of fg.minimize
    unit: str = "1 update"
    note: str = ""

    def ref_slice(self):
        """Evenly strided run indices for the plain-Python reference."""
        return np.unique(np.linspace(0, self.runs - 1, min(self.ref_runs, self.runs)).astype(int))


def _grid(n_a, n_b, a, b):
    """Outer product of two 1-D value lists, flattened (b varies fastest)."""
    A, B = np.meshgrid(a, b, indexing="ij")
    assert A.size == n_a * n_b
    return A.ravel().copy(), B.ravel().copy()


# (runs of the 1st axis, runs of the 2nd axis, updates, reference slice) per size.
_SHAPES = {
    "smoke":  dict(grid=(8, 16, 50), big=(16, 16, 50), ref=4, fit=(64, 20), fit_ref=2,
                   ftol=(8, 16, 3000)),
    "medium": dict(grid=(200, 50, 1000), big=(1000, 100, 1000), ref=200, fit=(1000, 500),
                   fit_ref=10, ftol=(200, 50, 10000)),
    "full":   dict(grid=(200, 500, 1000), big=(1000, 1000, 1000), ref=400, fit=(10000, 500),
                   fit_ref=20, ftol=(200, 500, 10000)),
}


def workload(name, size):
    """The named workload at a size preset."""
    s = _SHAPES[size]
    if name in ("exp_quadratic", "momentum"):
        n1, n2, ep = s["grid"]
        hi = 4.0 if name == "exp_quadratic" else 2.0
        x0, lr = _grid(n1, n2, np.linspace(-4.0, hi, n1), np.logspace(-3, np.log10(0.5), n2)
                       if name == "exp_quadratic" else np.logspace(-3, -1, n2))
        opts = {} if name == "exp_quadratic" else dict(optimizer="momentum", momentum=0.9)
        return Workload(name, x0.size, ep, ep, x0, lr, s["ref"], opts)
    if name == "quartic":
        n1, n2, ep = s["big"]
        x0, lr = _grid(n1, n2, np.linspace(-2.5, 2.5, n1), np.logspace(-3, np.log10(0.02), n2))
        return Workload(name, x0.size, ep, ep, x0, lr, s["ref"], {})
    if name == "step_decay":
        n1, n2, ep = s["grid"]
        x0, lr = _grid(n1, n2, np.linspace(-2.5, 2.5, n1), np.logspace(-3, np.log10(0.02), n2))
        every = max(ep // 10, 1)
        return Workload(name, x0.size, ep, ep, x0, lr, s["ref"],
                        dict(schedule=fg.step_decay(every, 0.5)),
                        note=f"quartic, lr halved every {every} epochs")
    if name == "saddle":
        n1, n2, ep = s["grid"]
        x, y = _grid(n1, n2, np.linspace(-3.0, 3.0, n1), np.linspace(-3.0, 3.0, n2))
        x0 = np.stack([x, y], axis=1)
        return Workload(name, x.size, ep, ep, x0, np.full(x.size, 1e-3), s["ref"], {},
                        note="2-D, starts on a grid over [-3, 3]^2, lr = 0.001 (the seed's)")
    if name in ("fit_full", "fit_minibatch"):
        runs, ep = s["fit"]
        rng = np.random.default_rng(1)
        x0 = np.stack([rng.uniform(1.1, 1.3, runs), rng.uniform(1.0, 4.0, runs),
                       rng.uniform(2.0, 6.0, runs)], axis=1)
        # The seed's lr = 1e-3 sends ~3 % of shuffled mini-batch runs to infinity from
        # these starts; 5e-4 keeps every run finite, so no run stops early.
        lr = np.full(runs, 5e-4)
        if name == "fit_full":
            return Workload(name, runs, ep, ep, x0, lr, s["fit_ref"], {},
                            unit="1 epoch = 100 data", note="100 data points, full batch, lr = 5e-4")
        return Workload(name, runs, ep * 10, ep, x0, lr, max(s["fit_ref"] // 4, 1),
                        dict(batch_size=10, shuffle=True, seed=0),
                        unit="1 mini-batch = 10 data",
                        note="batches of 10, reshuffled per run and epoch, lr = 5e-4")
    if name == "ftol":
        n1, n2, ep = s["ftol"]
        x0, lr = _grid(n1, n2, np.linspace(-4.0, 4.0, n1), np.logspace(-3, np.log10(0.5), n2))
        return Workload(name, x0.size, ep, ep, x0, lr, max(s["ref"] // 8, 2),
                        dict(ftol=1e-10),
                        unit="1 nominal update (max epochs)",
                        note="e^x + x^2, ftol = 1e-10, runs stop when converged")
    raise KeyError(name)


def fit_data():
    return fg.problems.exp_linear_data(100, seed=0)


def problem_of(w):
    if w.name in ("exp_quadratic", "momentum", "ftol"):
        return fg.problems.exp_quadratic
    if w.name in ("quartic", "step_decay"):
        return fg.problems.quartic
    if w.name == "saddle":
        return fg.problems.saddle
    return fg.problems.exp_linear_fit(*fit_data())


def run_fastgd(w, threads=None):
    """fastgd.minimize on the workload, on ``threads`` threads (default: all)."""
    problem = problem_of(w)
    before = numba.get_num_threads()
    numba.set_num_threads(threads or numba.config.NUMBA_NUM_THREADS)
    try:
        return fg.minimize(problem, w.x0, lr=w.lr, epochs=w.epochs, **w.options)
    finally:
        numba.set_num_threads(before)


# --- checking ---------------------------------------------------------------------

#: Tolerances per workload for "same answer".  The dynamics are contracting for the
#: analytic problems, so different exp implementations (1-2 ulp) end at the same point.
TOL = {
    "exp_quadratic": dict(rtol=1e-7, atol=1e-9),
    "quartic": dict(rtol=1e-7, atol=1e-9),
    "saddle": dict(rtol=1e-6, atol=1e-8),
    "momentum": dict(rtol=1e-6, atol=1e-8),
    "step_decay": dict(rtol=1e-7, atol=1e-9),
    "fit_full": dict(rtol=1e-6, atol=1e-8),
    # A peer that checks convergence every K steps stops a little later.
    "ftol": dict(rtol=0, atol=2e-3),
}


def check(w, got, expected, idx=None, tol=None):
    """Assert a peer's final points match fastgd's (``expected``, a Result)."""
    want = np.asarray(expected.x, dtype=np.float64).reshape(w.runs, -1)
    if w.name == "fit_minibatch" and idx is None:
        return _check_loss(w, got, want)
    if idx is not None:
        want = want[idx]
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    assert np.all(np.isfinite(want)), f"{w.name}: fastgd itself diverged on some run"
    np.testing.assert_allclose(got, want, err_msg=f"{w.name}: wrong result",
                               **(tol or TOL[w.name]))


def _check_loss(w, got, want):
    """Shuffled mini-batches: each peer draws its own orders, so runs end at different
    points (the steps are large where e^(-a x) is).  Compare the distribution of the
    final loss instead: its quartiles within 25 % of fastgd's."""
    loss = problem_of(w)
    # A copy: fastgd's Problem.__call__ rejects read-only arrays (np.asarray of a
    # JAX array is one) with a Numba TypeError.
    got = np.array(got, dtype=np.float64).reshape(want.shape)
    assert np.all(np.isfinite(got)), f"{w.name}: non-finite result"
    q_got = np.quantile(loss(got), [0.25, 0.5, 0.75])
    q_want = np.quantile(loss(want), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q_got, q_want, rtol=0.25,
                               err_msg=f"{w.name}: final-loss quartiles differ")


# --- timing -----------------------------------------------------------------------

def measure(benchmark, w, impl, fn, verify, *, runs=None, full_runs=None, note=""):
    """Time ``fn`` (no arguments) with pytest-benchmark and check its result.

    The first call compiles (fastgd, JAX, C) and is checked; the rounds that follow
    are timed, as many as fit in `ROUND_BUDGET_S`.  With ``--benchmark-disable``
    (the normal test run) the body runs once and is checked.
    """
    benchmark.group = w.name
    runs = w.runs if runs is None else runs
    benchmark.extra_info.update(
        impl=impl, runs=int(runs), updates=int(w.updates),
        workload_runs=int(full_runs or w.runs),
        epochs=int(w.epochs), unit=w.unit, workload_note=w.note, note=note,
        threads=_threads_of(impl))
    if benchmark.disabled:
        verify(benchmark(fn))
        return
    t0 = time.perf_counter()
    verify(fn())
    first = time.perf_counter() - t0
    rounds = int(min(MAX_ROUNDS, max(MIN_ROUNDS, ROUND_BUDGET_S // max(first, 1e-9))))
    benchmark.extra_info["first_call_s"] = first
    verify(benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0))


def _threads_of(impl):
    if impl in ("fastgd-1t", "torch-1t"):
        return 1
    return numba.config.NUMBA_NUM_THREADS if impl not in ("reference", "numpy") else 1


# --- the plain-Python reference -----------------------------------------------------

def run_reference(w, idx):
    """The seed's loop for the runs ``idx`` of the workload; final points."""
    out = []
    if w.name in ("fit_full", "fit_minibatch"):
        x, y = fit_data()
        # Mini-batch: the seed's loop visits batches in the data's order; a per-epoch
        # np.random.permutation would add under 2 % to its time.
        bs = w.options.get("batch_size")
        for i in idx:
            out.append(ref.fit(x, y, tuple(w.x0[i]), w.lr[i], w.epochs, batch_size=bs).x)
        return np.array(out)
    kw = {}
    if w.name == "momentum":
        kw["momentum"] = w.options["momentum"]
    if w.name == "step_decay":
        sched = w.options["schedule"]
        kw.update(every=sched.params["every"], factor=sched.params["factor"])
    if w.name == "ftol":
        kw.update(ftol=w.options["ftol"], f=ref.exp_quadratic)
    grad = {"exp_quadratic": ref.exp_quadratic_grad, "momentum": ref.exp_quadratic_grad,
            "ftol": ref.exp_quadratic_grad, "quartic": ref.quartic_grad,
            "step_decay": ref.quartic_grad, "saddle": ref.saddle_grad}[w.name]
    for i in idx:
        x0 = tuple(w.x0[i]) if w.x0.ndim == 2 else float(w.x0[i])
        out.append(ref.descend(grad, x0, float(w.lr[i]), w.epochs, **kw).x)
    return np.array(out)


# --- NumPy, vectorised over runs ----------------------------------------------------

def run_numpy(w, ftol_every=50):
    """The same update rule with one NumPy array operation over all runs at a time."""
    lr = w.lr.copy()
    if w.name in ("exp_quadratic", "quartic", "step_decay"):
        x = w.x0.copy()
        quartic = w.name != "exp_quadratic"
        every = factor = None
        if w.name == "step_decay":
            every, factor = w.options["schedule"].params["every"], \
                w.options["schedule"].params["factor"]
        for epoch in range(1, w.epochs + 1):
            if every is not None and epoch % every == 0:
                lr = lr * factor
            g = 4 * x ** 3 - 10 * x + 2 if quartic else np.exp(x) + x * 2
            x = x - lr * g
        return x
    if w.name == "momentum":
        x, v, beta = w.x0.copy(), np.zeros(w.runs), w.options["momentum"]
        for _ in range(w.epochs):
            v = beta * v - lr * (np.exp(x) + x * 2)
            x = x + v
        return x
    if w.name == "saddle":
        x, y = w.x0[:, 0].copy(), w.x0[:, 1].copy()
        for _ in range(w.epochs):
            e = np.exp(x + y)
            x, y = x - lr * (e + x * 2), y - lr * (e - y * 2)
        return np.stack([x, y], axis=1)
    if w.name in ("fit_full", "fit_minibatch"):
        return _numpy_fit(w)
    if w.name == "ftol":
        return _numpy_ftol(w, ftol_every)
    raise KeyError(w.name)


def _numpy_fit(w):
    xd, yd = fit_data()
    a, b, c = (w.x0[:, k].copy()[:, None] for k in range(3))
    lr = w.lr[:, None]
    bs = w.options.get("batch_size")
    rng = np.random.default_rng(0)
    order = np.tile(np.arange(xd.size), (w.runs, 1))
    for _ in range(w.epochs):
        if bs is None:
            batches = [(xd[None, :], yd[None, :])]
        else:
            order = rng.permuted(order, axis=1)
            batches = [(xd[order[:, j:j + bs]], yd[order[:, j:j + bs]])
                       for j in range(0, xd.size, bs)]
        for x, y in batches:
            e = np.exp((-a) * x)
            r = 2 * (e + b * x + c - y)
            ga = np.mean(r * e * (-x), axis=1, keepdims=True)
            gb = np.mean(r * x, axis=1, keepdims=True)
            gc = np.mean(r, axis=1, keepdims=True)
            a, b, c = a - lr * ga, b - lr * gb, c - lr * gc
    return np.concatenate([a, b, c], axis=1)


def _numpy_ftol(w, every):
    """Every ``every`` steps, runs whose last step changed f by <= ftol are retired."""
    ftol = w.options["ftol"]
    out = w.x0.copy()
    active = np.arange(w.runs)
    x, lr = w.x0.copy(), w.lr.copy()
    done_epochs = 0
    while active.size and done_epochs < w.epochs:
        k = min(every, w.epochs - done_epochs)
        for _ in range(k - 1):
            x = x - lr * (np.exp(x) + x * 2)
        f_before = np.exp(x) + x ** 2
        x = x - lr * (np.exp(x) + x * 2)
        done_epochs += k
        conv = np.abs(np.exp(x) + x ** 2 - f_before) <= ftol
        out[active] = x
        keep = ~conv
        active, x, lr = active[keep], x[keep], lr[keep]
    return out


# --- JAX ----------------------------------------------------------------------------

_JAX_FNS = {}


def jax_runner(w):
    """A function of no arguments that runs the workload with JAX and blocks."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    key = (w.name, w.epochs)
    if key not in _JAX_FNS:
        _JAX_FNS[key] = _make_jax(w, jax, jnp, lax)
    fn = _JAX_FNS[key]
    x0 = jnp.asarray(w.x0)
    lr = jnp.asarray(w.lr)
    args = (x0, lr)
    if w.name in ("fit_full", "fit_minibatch"):
        xd, yd = fit_data()
        args = (x0, lr, jnp.asarray(xd), jnp.asarray(yd))

    def run():
        return np.asarray(jax.block_until_ready(fn(*args)))
    return run


def _make_jax(w, jax, jnp, lax):
    ep = w.epochs
    if w.name == "exp_quadratic":
        return jax.jit(lambda x, lr: lax.fori_loop(
            0, ep, lambda i, x: x - lr * (jnp.exp(x) + x * 2), x))
    if w.name == "quartic":
        return jax.jit(lambda x, lr: lax.fori_loop(
            0, ep, lambda i, x: x - lr * (4 * x ** 3 - 10 * x + 2), x))
    if w.name == "step_decay":
        every, factor = (w.options["schedule"].params[k] for k in ("every", "factor"))

        def body(i, s):
            x, lr = s
            lr = jnp.where((i + 1) % every == 0, lr * factor, lr)
            return x - lr * (4 * x ** 3 - 10 * x + 2), lr
        return jax.jit(lambda x, lr: lax.fori_loop(0, ep, body, (x, lr))[0])
    if w.name == "momentum":
        beta = w.options["momentum"]

        def body(i, s):
            x, v, lr = s
            v = beta * v - lr * (jnp.exp(x) + x * 2)
            return x + v, v, lr
        return jax.jit(lambda x, lr: lax.fori_loop(0, ep, body, (x, jnp.zeros_like(x), lr))[0])
    if w.name == "saddle":
        def body(i, s):
            x, y, lr = s
            e = jnp.exp(x + y)
            return x - lr * (e + x * 2), y - lr * (e - y * 2), lr
        return jax.jit(lambda p, lr: jnp.stack(
            lax.fori_loop(0, ep, body, (p[:, 0], p[:, 1], lr))[:2], axis=1))
    if w.name in ("fit_full", "fit_minibatch"):
        bs = w.options.get("batch_size")

        def grad(p, x, y):
            a, b, c = p
            e = jnp.exp((-a) * x)
            r = 2 * (e + b * x + c - y)
            return jnp.stack([jnp.mean(r * e * (-x)), jnp.mean(r * x), jnp.mean(r)])
        vgrad = jax.vmap(grad, in_axes=(0, None, None) if bs is None else (0, 0, 0))

        if bs is None:
            def fit(p, lr, x, y):
                return lax.fori_loop(0, ep, lambda i, p: p - lr[:, None] * vgrad(p, x, y), p)
            return jax.jit(fit)

        n_batches = 100 // bs

        def fit(p, lr, x, y):
            def epoch(i, s):
                p, key = s
                key, sub = jax.random.split(key)
                order = jnp.argsort(jax.random.uniform(sub, (p.shape[0], x.size)), axis=1)

                def batch(j, p):
                    rows = lax.dynamic_slice_in_dim(order, j * bs, bs, axis=1)
                    return p - lr[:, None] * vgrad(p, x[rows], y[rows])
                return lax.fori_loop(0, n_batches, batch, p), key
            return lax.fori_loop(0, ep, epoch, (p, jax.random.key(0)))[0]
        return jax.jit(fit)
    if w.name == "ftol":
        ftol = w.options["ftol"]

        # One while_loop over the batch (what vmap of a per-run while_loop compiles
        # to): converged lanes are frozen, the loop ends when all are done.
        def fit(x, lr):
            def cond(s):
                i, x, f, done = s
                return (i < ep) & ~jnp.all(done)

            def body(s):
                i, x, f, done = s
                x_new = jnp.where(done, x, x - lr * (jnp.exp(x) + x * 2))
                f_new = jnp.exp(x_new) + x_new ** 2
                return i + 1, x_new, f_new, done | (jnp.abs(f_new - f) <= ftol)
            f0 = jnp.exp(x) + x ** 2
            return lax.while_loop(cond, body, (0, x, f0, jnp.zeros(x.shape, bool)))[1]
        return jax.jit(fit)
    raise KeyError(w.name)


# --- PyTorch, eager -----------------------------------------------------------------

def torch_runner(w, threads=None, ftol_every=50):
    """A function of no arguments that runs the workload with eager PyTorch (float64)
    on ``threads`` intra-op threads (default: PyTorch's default, all cores)."""
    import torch
    if "threads" not in _TORCH_DEFAULT:
        _TORCH_DEFAULT["threads"] = torch.get_num_threads()
    threads = threads or _TORCH_DEFAULT["threads"]
    x0 = torch.from_numpy(w.x0.copy())
    lr0 = torch.from_numpy(w.lr.copy())
    ep = w.epochs

    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.no_grad():
                return _torch_run(torch, w, x0, lr0, ep, ftol_every)
        finally:
            torch.set_num_threads(before)
    return run


_TORCH_DEFAULT = {}


def _torch_run(torch, w, x0, lr0, ep, ftol_every):
    if True:
        x, lr = x0.clone(), lr0.clone()
        if w.name in ("exp_quadratic", "quartic", "step_decay"):
            sched = w.options.get("schedule")
            for epoch in range(1, ep + 1):
                if sched is not None and epoch % sched.params["every"] == 0:
                    lr.mul_(sched.params["factor"])
                if w.name == "exp_quadratic":
                    g = torch.exp(x).add_(x, alpha=2)
                else:
                    g = (x ** 3).mul_(4).sub_(x, alpha=10).add_(2)
                x.sub_(g.mul_(lr))
            return x.numpy()
        if w.name == "momentum":
            v = torch.zeros_like(x)
            beta = w.options["momentum"]
            for _ in range(ep):
                v.mul_(beta).sub_(torch.exp(x).add_(x, alpha=2).mul_(lr))
                x.add_(v)
            return x.numpy()
        if w.name == "saddle":
            p = x.T.contiguous()
            for _ in range(ep):
                e = torch.exp(p[0] + p[1])
                g = torch.stack([e + p[0] * 2, e - p[1] * 2])
                p.sub_(g.mul_(lr))
            return p.T.numpy()
        if w.name in ("fit_full", "fit_minibatch"):
            return _torch_fit(torch, w, x, lr)
        if w.name == "ftol":
            return _torch_ftol(torch, w, x, lr, ftol_every)
        raise KeyError(w.name)


def _torch_fit(torch, w, p, lr):
    xd, yd = (torch.from_numpy(v) for v in fit_data())
    a, b, c = (p[:, k:k + 1].clone() for k in range(3))
    lr = lr[:, None]
    bs = w.options.get("batch_size")
    gen = torch.Generator().manual_seed(0)
    for _ in range(w.epochs):
        if bs is None:
            batches = [(xd[None, :], yd[None, :])]
        else:
            order = torch.rand(w.runs, xd.numel(), generator=gen, dtype=torch.float64)
            order = order.argsort(dim=1)
            batches = [(xd[order[:, j:j + bs]], yd[order[:, j:j + bs]])
                       for j in range(0, xd.numel(), bs)]
        for x, y in batches:
            e = torch.exp((-a) * x)
            r = 2 * (e + b * x + c - y)
            ga = (r * e * (-x)).mean(dim=1, keepdim=True)
            gb = (r * x).mean(dim=1, keepdim=True)
            gc = r.mean(dim=1, keepdim=True)
            a, b, c = a - lr * ga, b - lr * gb, c - lr * gc
    return torch.cat([a, b, c], dim=1).numpy()


def _torch_ftol(torch, w, x, lr, every):
    ftol = w.options["ftol"]
    out = x.clone()
    active = torch.arange(w.runs)
    done_epochs = 0
    while active.numel() and done_epochs < w.epochs:
        k = min(every, w.epochs - done_epochs)
        for _ in range(k - 1):
            x = x - lr * (torch.exp(x) + x * 2)
        f_before = torch.exp(x) + x ** 2
        x = x - lr * (torch.exp(x) + x * 2)
        done_epochs += k
        keep = (torch.exp(x) + x ** 2 - f_before).abs() > ftol
        out[active] = x
        active, x, lr = active[keep], x[keep], lr[keep]
    return out.numpy()


# --- C, compiled at benchmark time --------------------------------------------------

_C_SOURCE = r"""
#include <math.h>
#define LANES 64
/* Runs in blocks of LANES: a block's state stays in L1 for all its updates and the
   lane loop is a SIMD loop (glibc's vector exp under -ffast-math). */
#define KERNEL(NAME, GRAD)                                                        \
void NAME(double *restrict x, const double *restrict lr, long n, long epochs,    \
          int threads) {                                                          \
    _Pragma("omp parallel for num_threads(threads) schedule(static)")            \
    for (long s = 0; s < n; s += LANES) {                                         \
        long w = n - s < LANES ? n - s : LANES;                                   \
        double xb[LANES], lb[LANES];                                              \
        for (long c = 0; c < w; c++) { xb[c] = x[s + c]; lb[c] = lr[s + c]; }     \
        for (long e = 0; e < epochs; e++) {                                       \
            _Pragma("omp simd")                                                   \
            for (long c = 0; c < w; c++) { double v = xb[c]; xb[c] = v - lb[c] * (GRAD); } \
        }                                                                         \
        for (long c = 0; c < w; c++) x[s + c] = xb[c];                            \
    }                                                                             \
}
KERNEL(gd_exp_quadratic, exp(v) + v * 2.0)
KERNEL(gd_quartic, 4.0 * v * v * v - 10.0 * v + 2.0)
"""

_C_LIB = {}
C_FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC"]


def c_library():
    """The C kernels, compiled once per process into a temporary directory (or None)."""
    if "lib" not in _C_LIB:
        _C_LIB["lib"] = None
        cc = shutil.which("gcc")
        if cc is not None:
            tmp = tempfile.mkdtemp(prefix="fastgd-bench-c-")
            src, so = os.path.join(tmp, "gd.c"), os.path.join(tmp, "gd.so")
            with open(src, "w") as fh:
                fh.write(_C_SOURCE)
            done = subprocess.run([cc, *C_FLAGS, src, "-o", so, "-lm"],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                lib = ctypes.CDLL(so)
                for name in ("gd_exp_quadratic", "gd_quartic"):
                    fn = getattr(lib, name)
                    fn.restype = None
                    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long,
                                   ctypes.c_long, ctypes.c_int]
                _C_LIB["lib"] = lib
    return _C_LIB["lib"]


def c_runner(w, lib):
    fn = getattr(lib, "gd_" + w.name)
    threads = numba.config.NUMBA_NUM_THREADS
    lr = np.ascontiguousarray(w.lr)

    def run():
        x = w.x0.copy()
        fn(x.ctypes.data, lr.ctypes.data, x.size, w.epochs, threads)
        return x
    return run


def gcc_version():
    cc = shutil.which("gcc")
    if cc is None:
        return None
    return subprocess.run([cc, "-dumpfullversion"], capture_output=True,
                          text=True).stdout.strip()




# --- one benchmark: a workload, an implementation ------------------------------------

IMPLS = ("reference", "numpy", "fastgd-1t", "fastgd", "jax", "torch", "torch-1t", "c")

#: NumPy / PyTorch / JAX at these workloads' full size would take minutes per call:
#: they run an evenly strided subset of this many runs (per-run cost is flat there;
#: if anything the smaller arrays favour the peer) and are scaled per run-update.
PEER_RUNS_CAP = {"quartic": (250_000, ("numpy", "torch", "torch-1t")),
                 "fit_minibatch": (2_500, ("numpy", "torch", "torch-1t", "jax"))}


def subset(w, idx):
    """The workload restricted to runs ``idx``."""
    return Workload(w.name, idx.size, w.updates, w.epochs, w.x0[idx], w.lr[idx],
                    w.ref_runs, w.options, w.unit, w.note)


def _Sliced(expected, idx):
    x = np.asarray(expected.x)
    return _Points(x.reshape(x.shape[0], -1)[idx])


def bench_one(benchmark, w, impl, expected):
    """Time implementation ``impl`` on workload ``w``; ``expected`` is fastgd's Result."""
    import pytest

    full_runs = w.runs
    cap, capped = PEER_RUNS_CAP.get(w.name, (None, ()))
    note = ""
    if impl in capped and w.runs > cap:
        idx = np.unique(np.linspace(0, w.runs - 1, cap).astype(int))
        w, expected = subset(w, idx), _Sliced(expected, idx)
        note = f"{idx.size} of {full_runs} runs (strided), scaled per run-update"
    ftol_note = "checks ftol every 50 steps, drops converged runs" if w.name == "ftol" else ""
    note = "; ".join(n for n in (note, ftol_note) if n)
    kw = dict(runs=w.runs, full_runs=full_runs, note=note)
    if impl == "reference":
        idx = w.ref_slice()
        measure(benchmark, w, impl, lambda: run_reference(w, idx),
                lambda got: check(w, got, _exact(w, idx, expected), idx,
                                  tol=dict(rtol=1e-7, atol=1e-9)),
                runs=idx.size, full_runs=full_runs,
                note=f"{idx.size} of {w.runs} runs (strided), scaled per run-update")
    elif impl == "numpy":
        measure(benchmark, w, impl, lambda: run_numpy(w), lambda got: check(w, got, expected),
                **kw)
    elif impl in ("fastgd", "fastgd-1t"):
        threads = 1 if impl == "fastgd-1t" else None
        measure(benchmark, w, impl, lambda: run_fastgd(w, threads),
                lambda got: check(w, got.x, expected), **kw)
    elif impl == "jax":
        pytest.importorskip("jax")
        if w.name == "ftol":
            kw["note"] = "one while_loop until every run has converged"
        measure(benchmark, w, impl, jax_runner(w), lambda got: check(w, got, expected), **kw)
    elif impl in ("torch", "torch-1t"):
        pytest.importorskip("torch")
        runner = torch_runner(w, threads=1 if impl == "torch-1t" else None)
        measure(benchmark, w, impl, runner, lambda got: check(w, got, expected), **kw)
    elif impl == "c":
        if w.name not in ("exp_quadratic", "quartic"):
            pytest.skip("the C loop covers workloads 1 and 2 only")
        lib = c_library()
        if lib is None:
            pytest.skip("gcc (with OpenMP) not available")
        measure(benchmark, w, impl, c_runner(w, lib), lambda got: check(w, got, expected),
                **kw)
    else:
        raise KeyError(impl)


def _exact(w, idx, expected):
    """What the reference must reproduce on its slice.

    The shuffled mini-batch reference runs the seed's loop in data order, so it is
    checked against fastgd with ``shuffle=False`` on the same runs.
    """
    if w.name != "fit_minibatch":
        return expected
    sub = Workload(w.name, idx.size, w.updates, w.epochs, w.x0[idx], w.lr[idx],
                   w.ref_runs, dict(w.options, shuffle=False))
    res = run_fastgd(sub)
    full = np.full((w.runs, 3), np.nan)
    full[idx] = res.x
    return _Points(full)


@dataclass(frozen=True)
class _Points:
    x: np.ndarray
