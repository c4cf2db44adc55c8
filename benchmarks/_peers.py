"""The peers fastgd is timed against, each written the way its library is used for speed.

Every peer runs the same update rule on the same batch of runs (`_workloads.Workload`)
and returns the final points, which `_workloads.check` compares with fastgd's.

* ``tutorial``: the tutorial's own loops (`fastgd._tutorial`), one run at a time,
  on an evenly strided (or, for tolerance-stopped runs, stratified) slice of the runs.
* ``numpy``: vectorised over runs, gradients written with multiplications (never
  ``x ** 3``: NumPy's ``pow`` costs ~60 ns per element against ~0.4 for ``x * x * x``),
  in-place ufuncs into preallocated buffers (``out=``), BLAS for the curve fit's sums.
* ``jax``: ``jit`` of a ``lax.fori_loop`` over the whole batch, x64.
* ``torch``: eager float64 tensors on 2 intra-op threads, in-place ops into
  preallocated buffers under ``torch.no_grad``, analytic gradients.
* ``torch-compile``: the same steps through ``torch.compile`` (Inductor's fused C++
  loops); its compile time is measured apart.
* ``fused``: a hand-fused Numba loop: 64-lane blocks with the update written inline,
  the block's state kept for all epochs, no status screens, ``fastmath={'nsz',
  'arcp', 'contract', 'afn'}`` and ``fastgd._math.exp`` (an exp LLVM can vectorise).
  What a kernel specialised to one problem and one optimiser can reach.
* ``c``: the same blocked loop in C (gcc -O3 -march=native -ffast-math -fopenmp).

Tolerance-stopped runs (the ftol workload): NumPy, PyTorch and JAX all use the same
strategy, chunk-and-compact: run ``FTOL_CHUNK`` steps, test |f change| <= ftol over
the chunk's last step, drop the runs that passed, go on with the rest.  JAX's arrays
are padded to the next power of two so that a handful of shapes compile once.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import numba
import numpy as np

from fastgd import _tutorial as tut
from fastgd._math import exp as fast_exp

#: Steps between convergence tests (and compactions) of the vectorised peers.
FTOL_CHUNK = 50
#: PyTorch's intra-op threads: the machine's two cores, as fastgd and JAX use.
TORCH_THREADS = 2


def fit_points(w=None):
    """The curve fit's data: 100 points like the tutorial's."""
    import fastgd as fg
    return fg.problems.exp_linear_data(100, seed=0)


# --- the tutorial's loops ------------------------------------------------------------

def run_tutorial(w, idx):
    """The tutorial's loop for the runs ``idx``; final points (and epochs, for ftol)."""
    x0, lr = w.x0[idx], w.lr[idx]
    ep = w.epochs
    if w.name == "exp_quadratic":
        return np.array([tut.exp_quadratic(float(x), float(r), ep) for x, r in zip(x0, lr)])
    if w.name == "quartic":
        return np.array([tut.quartic(float(x), float(r), ep) for x, r in zip(x0, lr)])
    if w.name == "momentum":
        beta = w.options["momentum"]
        return np.array([tut.exp_quadratic_momentum(float(x), float(r), ep, beta)
                         for x, r in zip(x0, lr)])
    if w.name == "step_decay":
        p = w.options["schedule"].params
        return np.array([tut.train(float(x), "scheduling", float(r), ep, p["every"],
                                   p["factor"])[-1] for x, r in zip(x0, lr)])
    if w.name == "saddle":
        return np.array([tut.saddle(float(p[0]), float(p[1]), float(r), ep)
                         for p, r in zip(x0, lr)])
    if w.name == "ftol":
        ftol = w.options["ftol"]
        return np.array([tut.exp_quadratic_ftol(float(x), float(r), ep, ftol)[0]
                         for x, r in zip(x0, lr)])
    if w.name in ("fit_full", "fit_minibatch"):
        points = tut.points_of(*fit_points(w))
        loop = tut.fit if w.name == "fit_full" else tut.fit_minibatch
        return np.array([[float(v) for v in loop(points, *map(float, p), float(r), ep)]
                         for p, r in zip(x0, lr)])
    raise KeyError(w.name)


# --- NumPy ------------------------------------------------------------------------------

def run_numpy(w):
    """The update over all runs, in place, with preallocated buffers."""
    lr = w.lr.copy()
    ep = w.epochs
    if w.name in ("exp_quadratic", "quartic", "step_decay"):
        x = w.x0.copy()
        g, t = np.empty_like(x), np.empty_like(x)
        every = factor = None
        if w.name == "step_decay":
            every, factor = (w.options["schedule"].params[k] for k in ("every", "factor"))
        for epoch in range(1, ep + 1):
            if every is not None and epoch % every == 0:
                lr *= factor
            if w.name == "exp_quadratic":
                _np_exp_quadratic_grad(x, g, t)
            else:
                _np_quartic_grad(x, g)
            g *= lr
            x -= g
        return x
    if w.name == "momentum":
        x, v = w.x0.copy(), np.zeros(w.runs)
        g, t = np.empty_like(x), np.empty_like(x)
        beta = w.options["momentum"]
        for _ in range(ep):
            _np_exp_quadratic_grad(x, g, t)
            g *= lr
            v *= beta
            v -= g
            x += v
        return x
    if w.name == "saddle":
        x, y = w.x0[:, 0].copy(), w.x0[:, 1].copy()
        e, gx, gy = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        for _ in range(ep):
            np.add(x, y, out=e)
            np.exp(e, out=e)
            np.multiply(x, 2.0, out=gx)
            gx += e
            np.multiply(y, -2.0, out=gy)
            gy += e
            gx *= lr
            gy *= lr
            x -= gx
            y -= gy
        return np.stack([x, y], axis=1)
    if w.name in ("fit_full", "fit_minibatch"):
        return _numpy_fit(w)
    if w.name == "ftol":
        return _numpy_ftol(w)
    raise KeyError(w.name)


def _np_exp_quadratic_grad(x, g, t):
    np.exp(x, out=g)
    np.multiply(x, 2.0, out=t)
    g += t


def _np_quartic_grad(x, g):
    # 4x^3 - 10x + 2 as x (4 x^2 - 10) + 2: five passes, no pow.
    np.multiply(x, x, out=g)
    g *= 4.0
    g -= 10.0
    g *= x
    g += 2.0


def _numpy_fit(w):
    """Runs x data in 2-D buffers; the sums over data are matrix-vector products."""
    xd, yd = fit_points(w)
    n = xd.size
    a, b, c = (w.x0[:, k].copy() for k in range(3))
    lr = w.lr
    bs = w.options.get("batch_size")
    rng = np.random.default_rng(0)
    order = np.tile(np.arange(n), (w.runs, 1))
    m = n if bs is None else bs
    E, R = np.empty((w.runs, m)), np.empty((w.runs, m))
    ga, gb, gc = np.empty(w.runs), np.empty(w.runs), np.empty(w.runs)
    for _ in range(w.epochs):
        if bs is None:
            batches = [(xd, yd)]
        else:
            order = rng.permuted(order, axis=1)
            X, Y = xd[order], yd[order]
            batches = [(X[:, j:j + bs], Y[:, j:j + bs]) for j in range(0, n, bs)]
        for x, y in batches:
            k = x.shape[-1]
            e, r = E[:, :k], R[:, :k]
            np.multiply(-a[:, None], x, out=e)
            np.exp(e, out=e)
            np.multiply(b[:, None], x, out=r)
            r += c[:, None]
            r -= y
            r += e
            if x.ndim == 1:                       # shared data: BLAS
                np.dot(r, x, out=gb)
                np.sum(r, axis=1, out=gc)
                e *= r
                np.dot(e, x, out=ga)
            else:                                 # a batch per run
                np.einsum("ij,ij->i", r, x, out=gb)
                np.sum(r, axis=1, out=gc)
                e *= r
                np.einsum("ij,ij->i", e, x, out=ga)
            s = 2.0 / k                           # mean of 2 r (...)
            ga *= -s
            gb *= s
            gc *= s
            ga *= lr
            gb *= lr
            gc *= lr
            a -= ga
            b -= gb
            c -= gc
    return np.stack([a, b, c], axis=1)


def _numpy_ftol(w):
    """Chunks of FTOL_CHUNK steps; after each, runs whose last step changed f by
    <= ftol are retired and the arrays compacted."""
    ftol = w.options["ftol"]
    out = w.x0.copy()
    active = np.arange(w.runs)
    x, lr = w.x0.copy(), w.lr.copy()
    g, t = np.empty_like(x), np.empty_like(x)
    done = 0
    while active.size and done < w.epochs:
        k = min(FTOL_CHUNK, w.epochs - done)
        for _ in range(k - 1):
            _np_exp_quadratic_grad(x, g, t)
            g *= lr
            x -= g
        f_before = _np_exp_quadratic(x)
        _np_exp_quadratic_grad(x, g, t)
        g *= lr
        x -= g
        done += k
        f_after = _np_exp_quadratic(x)
        f_after -= f_before
        keep = np.abs(f_after, out=f_after) > ftol
        out[active] = x
        active, x, lr = active[keep], x[keep], lr[keep]
        g, t = g[:x.size], t[:x.size]
    return out


def _np_exp_quadratic(x):
    f = np.exp(x)
    f += x * x
    return f


# --- JAX ---------------------------------------------------------------------------------

_JAX_FNS = {}


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax
    return jax, jnp, lax


def jax_runner(w, ftol_variant="fori"):
    """A function of no arguments that runs the workload with JAX and blocks."""
    jax, jnp, lax = _jax()
    if w.name == "ftol":
        return _jax_ftol_runner(w, ftol_variant)
    key = (w.name, w.epochs)
    if key not in _JAX_FNS:
        _JAX_FNS[key] = _make_jax(w, jax, jnp, lax)
    fn = _JAX_FNS[key]
    args = (jnp.asarray(w.x0), jnp.asarray(w.lr))
    if w.name in ("fit_full", "fit_minibatch"):
        xd, yd = fit_points(w)
        args = args + (jnp.asarray(xd), jnp.asarray(yd))

    def run():
        return np.asarray(jax.block_until_ready(fn(*args)))
    return run


def _make_jax(w, jax, jnp, lax):
    ep = w.epochs

    def quartic_grad(x):
        return 4 * x * x * x - 10 * x + 2

    if w.name == "exp_quadratic":
        return jax.jit(lambda x, lr: lax.fori_loop(
            0, ep, lambda i, x: x - lr * (jnp.exp(x) + x * 2), x))
    if w.name == "quartic":
        return jax.jit(lambda x, lr: lax.fori_loop(
            0, ep, lambda i, x: x - lr * quartic_grad(x), x))
    if w.name == "step_decay":
        every, factor = (w.options["schedule"].params[k] for k in ("every", "factor"))

        def body(i, s):
            x, lr = s
            lr = jnp.where((i + 1) % every == 0, lr * factor, lr)
            return x - lr * quartic_grad(x), lr
        return jax.jit(lambda x, lr: lax.fori_loop(0, ep, body, (x, lr))[0])
    if w.name == "momentum":
        beta = w.options["momentum"]

        def run(x, lr):
            def body(i, s):
                x, v = s
                v = beta * v - lr * (jnp.exp(x) + x * 2)
                return x + v, v
            return lax.fori_loop(0, ep, body, (x, jnp.zeros_like(x)))[0]
        return jax.jit(run)
    if w.name == "saddle":
        def run(p, lr):
            def body(i, s):
                x, y = s
                e = jnp.exp(x + y)
                return x - lr * (e + x * 2), y - lr * (e - y * 2)
            return jnp.stack(lax.fori_loop(0, ep, body, (p[:, 0], p[:, 1])), axis=1)
        return jax.jit(run)
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

        n_batches = -(-100 // bs)

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
    raise KeyError(w.name)


def _jax_ftol_runner(w, variant):
    """Chunk-and-compact with JAX.

    ``fori``: a jitted chunk of FTOL_CHUNK steps (fori_loop), then the test over its
    last step, exactly as NumPy and PyTorch do.  ``while``: a jitted while_loop over
    up to FTOL_CHUNK steps that tests every step, freezes converged lanes and ends
    the chunk early once all lanes are done.  Between chunks the converged runs are
    dropped; arrays are padded to the next power of two (padding lanes have lr = 0
    and stop at once), so at most log2(runs) shapes are compiled, all on the first,
    untimed call.
    """
    jax, jnp, lax = _jax()
    ftol = w.options["ftol"]
    key = ("ftol", variant)
    if key not in _JAX_FNS:
        def grad(x):
            return jnp.exp(x) + x * 2

        def fval(x):
            return jnp.exp(x) + x * x

        def chunk_fori(x, lr, k):
            x = lax.fori_loop(0, k - 1, lambda i, x: x - lr * grad(x), x)
            f0 = fval(x)
            x = x - lr * grad(x)
            return x, jnp.abs(fval(x) - f0) > ftol

        def chunk_while(x, lr, k):
            def cond(s):
                i, x, f, done = s
                return (i < k) & ~jnp.all(done)

            def body(s):
                i, x, f, done = s
                x = jnp.where(done, x, x - lr * grad(x))
                fn = fval(x)
                return i + 1, x, fn, done | (jnp.abs(fn - f) <= ftol)
            _, x, _, done = lax.while_loop(
                cond, body, (0, x, fval(x), jnp.zeros(x.shape, bool)))
            return x, ~done
        _JAX_FNS[key] = jax.jit(chunk_fori if variant == "fori" else chunk_while,
                                static_argnums=2)
    chunk = _JAX_FNS[key]

    def run():
        out = w.x0.copy()
        active = np.arange(w.runs)
        x, lr = w.x0.copy(), w.lr.copy()
        done = 0
        while active.size and done < w.epochs:
            k = min(FTOL_CHUNK, w.epochs - done)
            size = 1 << int(np.ceil(np.log2(active.size)))
            xp = np.zeros(size)
            lp = np.zeros(size)
            xp[:active.size], lp[:active.size] = x, lr
            xn, keep = chunk(jnp.asarray(xp), jnp.asarray(lp), k)
            x = np.asarray(xn)[:active.size]
            keep = np.asarray(keep)[:active.size]
            done += k
            out[active] = x
            active, x, lr = active[keep], x[keep], lr[keep]
        return out
    return run


# --- PyTorch -----------------------------------------------------------------------------

_TORCH_COMPILED = {}
#: torch.compile's steps run this many updates per call: one call's Python and guard
#: overhead (tens of microseconds) is then shared by several updates, and Inductor
#: fuses them into one loop over the runs.
COMPILE_UNROLL = 10


def torch_runner(w, compiled=False):
    """A function of no arguments that runs the workload with PyTorch (float64, 2
    threads), eagerly or through ``torch.compile``."""
    import torch
    x0 = torch.from_numpy(w.x0.copy())
    lr0 = torch.from_numpy(w.lr.copy())
    steps = _torch_compiled(torch) if compiled else _torch_eager(torch)

    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(TORCH_THREADS)
        try:
            with torch.no_grad():
                return _torch_run(torch, w, x0, lr0, steps)
        finally:
            torch.set_num_threads(before)
    return run


def _torch_eager(torch):
    """Eager steps: in-place ops into preallocated buffers; ``k`` updates per call."""
    def exp_quadratic(x, lr, g, k=1):
        for _ in range(k):
            torch.exp(x, out=g)
            g.add_(x, alpha=2).mul_(lr)
            x.sub_(g)
        return x

    def quartic(x, lr, g, k=1):
        for _ in range(k):
            torch.mul(x, x, out=g)
            g.mul_(4).sub_(10).mul_(x).add_(2).mul_(lr)
            x.sub_(g)
        return x

    def momentum(x, v, lr, g, beta, k=1):
        for _ in range(k):
            torch.exp(x, out=g)
            g.add_(x, alpha=2).mul_(lr)
            v.mul_(beta).sub_(g)
            x.add_(v)
        return x, v

    def saddle(x, y, lr, e, gx, gy, k=1):
        for _ in range(k):
            torch.add(x, y, out=e)
            e.exp_()
            torch.add(e, x, alpha=2, out=gx)
            torch.add(e, y, alpha=-2, out=gy)
            x.sub_(gx.mul_(lr))
            y.sub_(gy.mul_(lr))
        return x, y

    def fit(a, b, c, lr, x, y):
        e = torch.exp(torch.outer(-a, x) if x.dim() == 1 else (-a)[:, None] * x)
        r = e + b[:, None] * x + c[:, None] - y
        s = 2.0 / x.shape[-1]
        if x.dim() == 1:                      # shared data: matrix-vector products
            gb, gc, ga = r @ x, r.sum(dim=1), (r * e) @ x
        else:
            gb, gc, ga = (r * x).sum(dim=1), r.sum(dim=1), (r * e * x).sum(dim=1)
        a.add_(ga.mul_(lr).mul_(s))
        b.sub_(gb.mul_(lr).mul_(s))
        c.sub_(gc.mul_(lr).mul_(s))
        return a, b, c

    def f(x):
        return torch.exp(x) + x * x

    return dict(exp_quadratic=exp_quadratic, quartic=quartic, momentum=momentum,
                saddle=saddle, fit=fit, f=f, unroll=1)


def _torch_compiled(torch):
    """The same steps written functionally for torch.compile (in-place ops and
    ``out=`` only make Inductor copy back), COMPILE_UNROLL updates per call.
    Compiled once per process; the first call of each shape compiles."""
    if _TORCH_COMPILED:
        return _TORCH_COMPILED

    def exp_quadratic(x, lr, g, k=COMPILE_UNROLL):
        for _ in range(k):
            x = x - lr * (torch.exp(x) + x * 2)
        return x

    def quartic(x, lr, g, k=COMPILE_UNROLL):
        for _ in range(k):
            x = x - lr * (4 * x * x * x - 10 * x + 2)
        return x

    def momentum(x, v, lr, g, beta, k=COMPILE_UNROLL):
        for _ in range(k):
            v = beta * v - lr * (torch.exp(x) + x * 2)
            x = x + v
        return x, v

    def saddle(x, y, lr, e, gx, gy, k=COMPILE_UNROLL):
        for _ in range(k):
            e = torch.exp(x + y)
            x, y = x - lr * (e + x * 2), y - lr * (e - y * 2)
        return x, y

    def fit(a, b, c, lr, x, y):
        xx = x if x.dim() == 2 else x[None, :]
        e = torch.exp((-a)[:, None] * xx)
        r = 2 * (e + b[:, None] * xx + c[:, None] - y)
        k = xx.shape[-1]
        ga = (r * e * (-xx)).sum(dim=1) / k
        gb = (r * xx).sum(dim=1) / k
        gc = r.sum(dim=1) / k
        return a - lr * ga, b - lr * gb, c - lr * gc

    def f(x):
        return torch.exp(x) + x * x

    _TORCH_COMPILED.update(
        # dynamic=None: static shapes first; a function that meets a second shape (the
        # ftol workload's arrays shrink as runs converge) is recompiled once with
        # symbolic sizes instead of once per size.
        {name: torch.compile(fn, dynamic=None) for name, fn in dict(
            exp_quadratic=exp_quadratic, quartic=quartic, momentum=momentum,
            saddle=saddle, fit=fit, f=f).items()}, unroll=COMPILE_UNROLL)
    return _TORCH_COMPILED


def _torch_run(torch, w, x0, lr0, steps):
    x, lr = x0.clone(), lr0.clone()
    ep, k = w.epochs, steps["unroll"]
    if w.name in ("exp_quadratic", "quartic", "step_decay"):
        g = torch.empty_like(x)
        step = steps["exp_quadratic" if w.name == "exp_quadratic" else "quartic"]
        sched = w.options.get("schedule")
        epoch = 1
        while epoch <= ep:
            # The tutorial's order: at a multiple of `every`, decay, then update.
            if sched is not None and epoch % sched.params["every"] == 0:
                lr.mul_(sched.params["factor"])
            every = sched.params["every"] if sched is not None else ep + 1
            n = min(ep, (epoch // every + 1) * every - 1) - epoch + 1
            for _ in range(n // k):
                x = step(x, lr, g)
            for _ in range(n % k):
                x = step(x, lr, g, k=1)
            epoch += n
        return x.numpy()
    if w.name == "momentum":
        v, g = torch.zeros_like(x), torch.empty_like(x)
        beta = w.options["momentum"]
        for _ in range(ep // k):
            x, v = steps["momentum"](x, v, lr, g, beta)
        for _ in range(ep % k):
            x, v = steps["momentum"](x, v, lr, g, beta, k=1)
        return x.numpy()
    if w.name == "saddle":
        px, py = x[:, 0].contiguous(), x[:, 1].contiguous()
        e, gx, gy = (torch.empty_like(px) for _ in range(3))
        for _ in range(ep // k):
            px, py = steps["saddle"](px, py, lr, e, gx, gy)
        for _ in range(ep % k):
            px, py = steps["saddle"](px, py, lr, e, gx, gy, k=1)
        return torch.stack([px, py], dim=1).numpy()
    if w.name in ("fit_full", "fit_minibatch"):
        return _torch_fit(torch, w, x, lr, steps["fit"])
    if w.name == "ftol":
        return _torch_ftol(torch, w, x, lr, steps)
    raise KeyError(w.name)


def _torch_fit(torch, w, p, lr, step):
    xd, yd = (torch.from_numpy(v) for v in fit_points(w))
    a, b, c = (p[:, k].contiguous() for k in range(3))
    bs = w.options.get("batch_size")
    gen = torch.Generator().manual_seed(0)
    n = xd.numel()
    for _ in range(w.epochs):
        if bs is None:
            a, b, c = step(a, b, c, lr, xd, yd)
            continue
        order = torch.rand(w.runs, n, generator=gen, dtype=torch.float64).argsort(dim=1)
        X, Y = xd[order], yd[order]
        for j in range(0, n, bs):
            a, b, c = step(a, b, c, lr, X[:, j:j + bs].contiguous(),
                           Y[:, j:j + bs].contiguous())
    return torch.stack([a, b, c], dim=1).numpy()


def _torch_ftol(torch, w, x, lr, steps):
    """Chunk-and-compact, as NumPy's."""
    ftol = w.options["ftol"]
    out = x.clone()
    active = torch.arange(w.runs)
    done = 0
    step, fval, k = steps["exp_quadratic"], steps["f"], steps["unroll"]
    while active.numel() and done < w.epochs:
        g = torch.empty_like(x)
        n = min(FTOL_CHUNK, w.epochs - done)
        for _ in range((n - 1) // k):
            x = step(x, lr, g)
        for _ in range((n - 1) % k):
            x = step(x, lr, g, k=1)
        f_before = fval(x)
        x = step(x, lr, g, k=1)
        done += n
        keep = (fval(x) - f_before).abs_() > ftol
        out[active] = x
        active, x, lr = active[keep], x[keep], lr[keep]
    return out.numpy()


# --- the hand-fused Numba loop -------------------------------------------------------------

LANES = 64
FUSED_FASTMATH = {"nsz", "arcp", "contract", "afn"}


@numba.njit(parallel=True, fastmath=FUSED_FASTMATH, cache=True)
def _fused_quartic(x, lr, epochs):
    n = x.size
    for blk in numba.prange((n + LANES - 1) // LANES):
        s = blk * LANES
        w = min(LANES, n - s)
        xb = np.zeros(LANES)             # padding lanes: x = 0, lr = 0, stay put
        lb = np.zeros(LANES)
        xb[:w] = x[s:s + w]
        lb[:w] = lr[s:s + w]
        for _ in range(epochs):
            for c in range(LANES):
                v = xb[c]
                xb[c] = v - lb[c] * (4.0 * v * v * v - 10.0 * v + 2.0)
        x[s:s + w] = xb[:w]


@numba.njit(parallel=True, fastmath=FUSED_FASTMATH, cache=True)
def _fused_exp_quadratic(x, lr, epochs):
    n = x.size
    for blk in numba.prange((n + LANES - 1) // LANES):
        s = blk * LANES
        w = min(LANES, n - s)
        xb = np.zeros(LANES)
        lb = np.zeros(LANES)
        xb[:w] = x[s:s + w]
        lb[:w] = lr[s:s + w]
        for _ in range(epochs):
            for c in range(LANES):
                v = xb[c]
                xb[c] = v - lb[c] * (fast_exp(v) + v * 2.0)
        x[s:s + w] = xb[:w]


FUSED = {"quartic": _fused_quartic, "exp_quadratic": _fused_exp_quadratic}


def fused_runner(w):
    fn = FUSED[w.name]
    lr = np.ascontiguousarray(w.lr)

    def run():
        x = w.x0.copy()
        fn(x, lr, w.epochs)
        return x
    return run


# --- C, compiled at benchmark time --------------------------------------------------------

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
