"""Private kernel parts: status and schedule codes, the kernels' signatures, and
the small Numba functions every generated kernel module calls.

The kernels themselves are generated (`fastgd._codegen`) from the template in
`fastgd._template`; the functions here are compiled as part of the kernel that
calls them (``cache=False``: nothing is written into the package's directory).
The kernels ``evaluate``, ``gradient`` and ``rates`` at the end of this file are
compiled the same way, in a generated module of their own.
"""

import math

import numpy as np
from numba import types

from ._config import FUN_TYPE, FUN_TYPE_F32, GRAD_TYPE, GRAD_TYPE_F32, LANES, jit

__all__ = ["LANES"]

#: Epochs a block of lanes in step runs between two looks at its state, when
#: divergence is all there is to look for (see the template's ``_tasks``): at
#: first, and after an event; each clean segment doubles the next, up to
#: MAX_SEGMENT.
SEGMENT = 16
MAX_SEGMENT = 1024

# Status codes, mirrored by fastgd.Status.
CONVERGED = 0
MAX_EPOCHS = 1
DIVERGED = 2
FAILED = 3

# Schedule kinds; schedule[p, run] holds a schedule's p-th parameter per run.
# Row 0 is the linear warm-up's length in epochs (0: none); the kind's own
# parameters follow.  No rows at all: constant rate, no warm-up.
CONSTANT = 0
STEP_DECAY = 1      # schedule[1] = every (epochs), schedule[2] = factor
EXPONENTIAL = 2     # schedule[1] = factor
MULTI_STEP = 3      # schedule[1] = factor, schedule[2:] = milestones
COSINE = 4          # schedule[1] = decay_epochs, schedule[2] = floor
INVERSE_TIME = 5    # schedule[1] = decay

_f8_1d = types.float64[::1]
_f8_2d = types.float64[:, ::1]
_f8_3d = types.float64[:, :, ::1]
_i8_1d = types.int64[::1]


def _descend_signature(real, grad_type, fun_type):
    """The descent kernel's signature for points, data, outputs and state in
    ``real`` (float64, or float32 for ``dtype=np.float32``); the per-run
    inputs (start points, rates, hyper-parameters, schedules) stay float64 and
    are rounded as the kernel loads them."""
    r_1d, r_2d, r_3d = real[::1], real[:, ::1], real[:, :, ::1]
    return types.void(
        grad_type, fun_type,
        _f8_2d,                                    # x0 (runs, dim)
        _f8_2d, _i8_1d,                            # lr[group, run], group of each coordinate
        _f8_2d, _f8_2d,                             # hyper[p, run], schedule[p, run]
        types.int64,                              # epochs
        real, real, real, real,                   # xtol ftol gtol bound
        r_2d, types.int64, types.boolean,         # data, batch_size, shuffle
        types.uint64, types.int64,                # seed, run_offset
        _i8_1d, r_3d, r_2d,                       # record: runs, points, values
        _f8_1d, _f8_2d, types.int64, types.float64,  # summaries: targets, out, tail, cap
        types.Tuple((_i8_1d, r_3d, r_2d, r_2d)),  # resume: start epoch, S, Q, lr_now
        r_2d, r_1d, _i8_1d, types.int8[::1],      # out: x, fun, nit, status
        types.Tuple((r_3d, r_2d, r_2d)),          # saved state: S, Q, lr_now
        types.int64, types.int64, types.int64,    # span, first and end task
    )


DESCEND_SIG = _descend_signature(types.float64, GRAD_TYPE, FUN_TYPE)
DESCEND_SIG_F32 = _descend_signature(types.float32, GRAD_TYPE_F32, FUN_TYPE_F32)


def task_span(n_runs, refill, lanes=LANES):
    """Runs per task of the descent kernel.

    With a tolerance, runs stop at different epochs.  Each task then streams
    several blocks' worth of runs through its lanes, loading a new run into a
    lane as soon as its run finishes, instead of idling the lane until the
    slowest run of the block is done: up to 16 blocks' worth, keeping at least
    ~64 tasks for the threads to share.  Without one, every lane of a block
    runs in step and a task is one block.  Which run goes to which lane never
    changes a result.  ``lanes``: the kernel's lanes per block (`LANES`, or
    `fastgd._config.LANES_F32` for float32).
    """
    if not refill:
        return lanes
    return lanes * max(1, min(16, n_runs // (lanes * 64)))


@jit(inline="always", cache=False)
def schedule_rate(kind, schedule, run, epoch, lr0, lr_now):
    """(state, rate) of one run in ``epoch`` (counted from 1).

    A pure function of the epoch count, except step decay, which keeps the
    tutorial's repeated multiplication in ``lr_now``.  The same code serves
    the descent kernels and `Schedule.rates`, so the rates shown are the rates
    used.  ``kind`` is a constant in the descent kernels, so only its own
    branch is compiled there.
    """
    warm = np.int64(schedule[0, run]) if schedule.shape[0] > 0 else 0
    if epoch <= warm:
        # Linear warm-up: lr * e / (W + 1) for e = 1..W, reaching lr at W + 1.
        return lr_now, lr0 * epoch / (warm + 1)
    e = epoch - warm          # the schedule's own epoch, from 1
    t = float(e - 1)          # epochs it has completed
    if kind == STEP_DECAY:
        # Multiplied in place, as the tutorial does, not factor**k: the two
        # differ in the last bit for factors other than 0.5.
        if e % np.int64(schedule[1, run]) == 0:
            lr_now = lr_now * schedule[2, run]
        return lr_now, lr_now
    if kind == EXPONENTIAL:
        return lr_now, lr0 * schedule[1, run] ** t
    if kind == MULTI_STEP:
        rate = lr0
        for p in range(2, schedule.shape[0]):
            if t >= schedule[p, run]:
                rate = rate * schedule[1, run]
        return lr_now, rate
    if kind == COSINE:
        floor = schedule[2, run]
        tt = min(t, schedule[1, run])
        cosine = 0.5 * (1.0 + math.cos(math.pi * tt / schedule[1, run]))
        return lr_now, lr0 * (floor + (1.0 - floor) * cosine)
    if kind == INVERSE_TIME:
        return lr_now, lr0 / (1.0 + schedule[1, run] * t)
    return lr_now, lr0


@jit(inline="always", cache=False)
def block_of(points, start, w):
    """Runs ``start .. start + w`` of ``points`` (runs, dim) as a (dim, w) block."""
    X = np.empty((points.shape[1], w), points.dtype)
    for c in range(w):
        for d in range(points.shape[1]):
            X[d, c] = points[start + c, d]
    return X


@jit(cache=False)
def find_sorted(values, value):
    """Index of ``value`` in the sorted array ``values``, or -1."""
    lo, hi = 0, values.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < values.shape[0] and values[lo] == value else -1


@jit(inline="always", cache=False)
def gather_rows(order, offset, rows):
    """The rows of one mini-batch: ``rows[r] = order[r, offset:offset + m]``."""
    for r in range(rows.shape[0]):
        for i in range(rows.shape[1]):
            rows[r, i] = order[r, offset + i]


# --- small kernels over points, compiled in a generated module (fastgd._codegen) ---

# evaluate and gradient take a range of blocks of LANES points, shared by threads
# (fastgd._threads.run_tasks) like the descent kernel's tasks.
EVAL_SIG = types.void(FUN_TYPE, _f8_2d, _f8_2d, _f8_1d, types.int64, types.int64)
GRAD_EVAL_SIG = types.void(GRAD_TYPE, _f8_2d, _f8_2d, _f8_2d, types.int64, types.int64)
RATES_SIG = types.void(types.int64, _f8_2d, _f8_1d, _f8_2d)


def evaluate(fun, points, data, out, block_lo, block_hi):
    n, dim = points.shape
    all_rows = np.arange(data.shape[1]).reshape(1, -1)
    fail = np.zeros(LANES, np.int8)
    for block in range(block_lo, block_hi):
        start = block * LANES
        w = min(LANES, n - start)
        F = np.empty(w)
        fun(block_of(points, start, w), data, all_rows, F, fail[:w])
        for c in range(w):
            # A point where the function raised has no value.
            out[start + c] = np.nan if fail[c] else F[c]
            fail[c] = 0


def gradient(grad, points, data, out, block_lo, block_hi):
    n, dim = points.shape
    all_rows = np.arange(data.shape[1]).reshape(1, -1)
    fail = np.zeros(LANES, np.int8)
    for block in range(block_lo, block_hi):
        start = block * LANES
        w = min(LANES, n - start)
        G = np.empty((dim, w))
        grad(block_of(points, start, w), data, all_rows, G, fail[:w])
        for c in range(w):
            for d in range(dim):
                out[start + c, d] = np.nan if fail[c] else G[d, c]
            fail[c] = 0


def rates(kind, schedule, lr, out):
    # Not parallel: a few runs x epochs, for display and tests.
    for run in range(lr.shape[0]):
        lr_now = lr[run]
        for epoch in range(1, out.shape[1] + 1):
            lr_now, out[run, epoch - 1] = schedule_rate(
                kind, schedule, run, epoch, lr[run], lr_now)


#: name -> signature of the kernels above.
TOOLS = {"evaluate": EVAL_SIG, "gradient": GRAD_EVAL_SIG, "rates": RATES_SIG}
