"""Private Numba kernels: loops only, writing into preallocated outputs.

Layout (see ``shared/PERFORMANCE.md``): runs are processed in blocks of
``LANES``; each block keeps its state as (dim, lanes) arrays for all of its
epochs, and every inner loop runs across the lanes so that LLVM turns it into
SIMD code.  The gradient is computed for a whole block in one call.  Lanes of
a block that have finished keep being updated (branch-free inner loops) but
their outputs were written when they finished and are never touched again.
Nothing in here raises: each run ends with a status code.
"""

import numpy as np
from numba import prange, types

from ._config import FUN_TYPE, GRAD_TYPE, LANES, jit
from ._shuffle import permute, shuffle_key

# Status codes, mirrored by fastgd.Status.
CONVERGED = 0
MAX_EPOCHS = 1
DIVERGED = 2

# Optimiser switch: one kernel for all, the switch costs nothing measurable.
GD = 0
MOMENTUM = 1

# Schedule switch; schedule[p, run] holds a schedule's p-th parameter per run.
CONSTANT = 0
STEP_DECAY = 1  # schedule[0] = every (epochs), schedule[1] = factor

_f8_1d = types.float64[::1]
_f8_2d = types.float64[:, ::1]
_f8_3d = types.float64[:, :, ::1]
_i8_1d = types.int64[::1]

DESCEND_SIG = types.void(
    GRAD_TYPE, FUN_TYPE,
    _f8_2d,                                   # x0 (runs, dim)
    _f8_1d, _f8_1d, types.int64,              # lr, momentum, optimizer
    types.int64, _f8_2d,                      # schedule kind, parameters
    types.int64,                              # epochs
    types.float64, types.float64, types.float64, types.float64,  # xtol ftol gtol bound
    _f8_2d, types.int64, types.boolean,       # data, batch_size, shuffle
    types.uint64, types.int64,                # seed, run_offset
    _i8_1d, _f8_3d, _f8_2d,                   # record: runs, points, values
    _f8_2d, _f8_1d, _i8_1d, types.int8[::1],  # out: x, fun, nit, status
)


@jit(inline="always")
def _finish(X, c, run, epoch, code, x_out, nit, status, done):
    for d in range(X.shape[0]):
        x_out[run, d] = X[d, c]
    nit[run] = epoch
    status[run] = code
    done[c] = True


def _descend(grad, fun, x0, lr, momentum, optimizer, sched_kind, schedule,
             epochs, xtol, ftol, gtol, bound, data, batch_size, shuffle,
             seed, run_offset, rec_runs, rec_x, rec_f,
             x_out, f_out, nit, status):
    n_runs, dim = x0.shape
    n_data = data.shape[1]
    # Analytic problems have no data: one update per epoch, empty rows.
    n_batches = 1 if n_data == 0 else (n_data + batch_size - 1) // batch_size
    minibatch = n_batches > 1
    per_lane_rows = minibatch and shuffle
    want_f = ftol > 0.0 or rec_runs.shape[0] > 0
    n_blocks = (n_runs + LANES - 1) // LANES

    for block in prange(n_blocks):
        start = block * LANES
        w = min(LANES, n_runs - start)
        X = np.empty((dim, w))
        G = np.empty((dim, w))
        V = np.zeros((dim, w))
        X_prev = np.empty((dim, w))
        F = np.full(w, np.nan)
        F_prev = np.empty(w)
        lr_now = np.empty(w)
        done = np.zeros(w, np.bool_)
        slot = np.full(w, -1, np.int64)
        for c in range(w):
            lr_now[c] = lr[start + c]
            for d in range(dim):
                X[d, c] = x0[start + c, d]

        all_rows = np.empty((1, n_data), np.int64)
        for i in range(n_data):
            all_rows[0, i] = i
        n_row_sets = w if per_lane_rows else 1
        order = np.empty((n_row_sets, n_data), np.int64)
        for r in range(n_row_sets):
            order[r, :] = all_rows[0, :]
        last = n_data - (n_batches - 1) * batch_size
        rows_full = np.empty((n_row_sets, min(batch_size, n_data)), np.int64)
        rows_last = np.empty((n_row_sets, max(last, 0)), np.int64)

        lo = np.searchsorted(rec_runs, start)
        hi = np.searchsorted(rec_runs, start + w)
        for k in range(lo, hi):
            slot[rec_runs[k] - start] = k
        has_rec = hi > lo
        if want_f:
            fun(X, data, all_rows, F)
            for c in range(w):
                F_prev[c] = F[c]
        if has_rec:
            for k in range(lo, hi):
                c = rec_runs[k] - start
                for d in range(dim):
                    rec_x[k, 0, d] = X[d, c]
                rec_f[k, 0] = F[c]

        n_left = w
        for epoch in range(1, epochs + 1):
            if sched_kind == STEP_DECAY:
                # Multiplied in place, as the seed does, not factor**k: the
                # two differ in the last bit for factors other than 0.5.
                for c in range(w):
                    if epoch % np.int64(schedule[0, start + c]) == 0:
                        lr_now[c] = lr_now[c] * schedule[1, start + c]
            if xtol > 0.0:
                X_prev[:, :] = X
            if per_lane_rows:
                for c in range(w):
                    permute(shuffle_key(seed, run_offset + start + c, epoch),
                            order[c])

            for b in range(n_batches):
                if n_data > 0 and minibatch:
                    rows = rows_last if b == n_batches - 1 else rows_full
                    m = rows.shape[1]
                    for r in range(n_row_sets):
                        for i in range(m):
                            rows[r, i] = order[r, b * batch_size + i]
                else:
                    rows = all_rows
                # gtol tests the gradient at the epoch's start point on all
                # the data: free in full batch, one extra call in mini-batch.
                if gtol > 0.0 and minibatch and b == 0:
                    grad(X, data, all_rows, G)
                    _check_gtol(X, G, gtol, start, epoch, x_out, nit, status, done)
                grad(X, data, rows, G)
                if gtol > 0.0 and not minibatch:
                    _check_gtol(X, G, gtol, start, epoch, x_out, nit, status, done)
                if optimizer == MOMENTUM:
                    for d in range(dim):
                        for c in range(w):
                            V[d, c] = momentum[start + c] * V[d, c] - lr_now[c] * G[d, c]
                            X[d, c] = X[d, c] + V[d, c]
                else:
                    for d in range(dim):
                        for c in range(w):
                            X[d, c] = X[d, c] - lr_now[c] * G[d, c]

            if want_f:
                fun(X, data, all_rows, F)
            for c in range(w):
                if done[c]:
                    continue
                run = start + c
                code = -1
                for d in range(dim):
                    # Written so that NaN fails the test too.
                    if not abs(X[d, c]) <= bound:
                        code = DIVERGED
                # Divergence is judged on the point alone, so that asking for
                # f (ftol, record) never changes a run's outcome; a non-finite
                # final value marks the run diverged at the end.
                if ftol > 0.0 and code < 0:
                    if abs(F[c] - F_prev[c]) <= ftol:
                        code = CONVERGED
                    F_prev[c] = F[c]
                if xtol > 0.0 and code < 0:
                    step = 0.0
                    for d in range(dim):
                        step += (X[d, c] - X_prev[d, c]) ** 2
                    if np.sqrt(step) <= xtol:
                        code = CONVERGED
                if slot[c] >= 0:
                    for d in range(dim):
                        rec_x[slot[c], epoch, d] = X[d, c]
                    rec_f[slot[c], epoch] = F[c]
                if code >= 0:
                    _finish(X, c, run, epoch, code, x_out, nit, status, done)
            n_left = w - np.sum(done)
            if n_left == 0:
                break

        for c in range(w):
            if not done[c]:
                _finish(X, c, start + c, epochs, MAX_EPOCHS, x_out, nit, status, done)
            for d in range(dim):
                X[d, c] = x_out[start + c, d]
        fun(X, data, all_rows, F)
        for c in range(w):
            f_out[start + c] = F[c]
            if not abs(F[c]) < np.inf:
                status[start + c] = DIVERGED


@jit(inline="always")
def _check_gtol(X, G, gtol, start, epoch, x_out, nit, status, done):
    for c in range(X.shape[1]):
        if done[c]:
            continue
        norm = 0.0
        for d in range(X.shape[0]):
            norm += G[d, c] * G[d, c]
        if np.sqrt(norm) <= gtol:
            _finish(X, c, start + c, epoch - 1, CONVERGED, x_out, nit, status, done)


EVAL_SIG = types.void(FUN_TYPE, _f8_2d, _f8_2d, _f8_1d)
GRAD_EVAL_SIG = types.void(GRAD_TYPE, _f8_2d, _f8_2d, _f8_2d)


def _evaluate(fun, points, data, out):
    n, dim = points.shape
    all_rows = np.arange(data.shape[1]).reshape(1, -1)
    for block in prange((n + LANES - 1) // LANES):
        start = block * LANES
        w = min(LANES, n - start)
        X = np.empty((dim, w))
        F = np.empty(w)
        for c in range(w):
            for d in range(dim):
                X[d, c] = points[start + c, d]
        fun(X, data, all_rows, F)
        out[start:start + w] = F


def _gradient(grad, points, data, out):
    n, dim = points.shape
    all_rows = np.arange(data.shape[1]).reshape(1, -1)
    for block in prange((n + LANES - 1) // LANES):
        start = block * LANES
        w = min(LANES, n - start)
        X = np.empty((dim, w))
        G = np.empty((dim, w))
        for c in range(w):
            for d in range(dim):
                X[d, c] = points[start + c, d]
        grad(X, data, all_rows, G)
        for c in range(w):
            for d in range(dim):
                out[start + c, d] = G[d, c]


_compiled = {}


def get(name):
    """The named kernel, compiled (or loaded from Numba's cache) on first use.

    Compiling lazily keeps ``import fastgd`` at the cost of importing Numba.
    """
    kernel = _compiled.get(name)
    if kernel is None:
        py_func, sig = {
            "descend": (_descend, DESCEND_SIG),
            "evaluate": (_evaluate, EVAL_SIG),
            "gradient": (_gradient, GRAD_EVAL_SIG),
        }[name]
        kernel = _compiled[name] = jit(sig, parallel=True)(py_func)
    return kernel
