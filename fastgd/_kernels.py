"""Private Numba kernels: loops only, writing into preallocated outputs.

Layout (see ``shared/PERFORMANCE.md``): runs are processed in blocks of
``LANES``; each block keeps its state as (dim, lanes) arrays for all of its
epochs, and every inner loop runs across the lanes so that LLVM turns it into
SIMD code.  The gradient is computed for a whole block in one call.  A lane
whose run has finished writes its outputs at once and is frozen (start point,
zero rate) so the inner loops stay branch-free; with tolerances it is then
refilled with the next run of its task.  Nothing in here raises: each run ends
with a status code.
"""

import math

import numpy as np
from numba import prange, types

from ._config import FUN_TYPE, GRAD_TYPE, LANES, jit
from ._shuffle import permute, shuffle_key

# Status codes, mirrored by fastgd.Status.
CONVERGED = 0
MAX_EPOCHS = 1
DIVERGED = 2

# Optimiser switch: one kernel for all, the switch costs nothing measurable.
# hyper[p, run] holds the optimiser's p-th hyper-parameter per run, in the
# order of fastgd.optimizers (rules and defaults documented there).
GD = 0
MOMENTUM = 1        # hyper[0] = beta (the seed's form)
MOMENTUM_TORCH = 2  # hyper[0] = mu
NESTEROV = 3        # hyper[0] = mu
ADAGRAD = 4         # hyper[0] = eps
RMSPROP = 5         # hyper[0] = alpha, hyper[1] = eps
ADAM = 6            # hyper[0] = beta1, hyper[1] = beta2, hyper[2] = eps
ADAMW = 7           # as ADAM, hyper[3] = weight_decay

# Schedule switch; schedule[p, run] holds a schedule's p-th parameter per run.
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

DESCEND_SIG = types.void(
    GRAD_TYPE, FUN_TYPE,
    _f8_2d,                                   # x0 (runs, dim)
    _f8_1d, _f8_2d, types.int64,              # lr, hyper[p, run], optimizer
    types.int64, _f8_2d,                      # schedule kind, parameters
    types.int64,                              # epochs
    types.float64, types.float64, types.float64, types.float64,  # xtol ftol gtol bound
    _f8_2d, types.int64, types.boolean,       # data, batch_size, shuffle
    types.uint64, types.int64,                # seed, run_offset
    _i8_1d, _f8_3d, _f8_2d,                   # record: runs, points, values
    _f8_2d, _f8_1d, _i8_1d, types.int8[::1],  # out: x, fun, nit, status
)


@jit(inline="always")
def _schedule_rate(kind, schedule, run, epoch, lr0, lr_now):
    """(state, rate) of one run in ``epoch`` (counted from 1).

    A pure function of the epoch count, except step decay, which keeps the
    seed's repeated multiplication in ``lr_now``.  The same code serves the
    descent kernel and `Schedule.rates`, so the rates shown are the rates used.
    """
    warm = np.int64(schedule[0, run]) if schedule.shape[0] > 0 else 0
    if epoch <= warm:
        # Linear warm-up: lr * e / (W + 1) for e = 1..W, reaching lr at W + 1.
        return lr_now, lr0 * epoch / (warm + 1)
    e = epoch - warm          # the schedule's own epoch, from 1
    t = float(e - 1)          # epochs it has completed
    if kind == STEP_DECAY:
        # Multiplied in place, as the seed does, not factor**k: the two
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


@jit(inline="always")
def _load(c, run, X, V, S, P1, P2, H, lr_now, rate, alive, fresh, lane_run, lane_epoch,
          slot, countdown, x0, lr, hyper, schedule, rec_runs):
    """Put run ``run`` into lane ``c`` of a block, from its start point."""
    for d in range(X.shape[0]):
        X[d, c] = x0[run, d]
        V[d, c] = 0.0
        S[d, c] = 0.0
    for p in range(hyper.shape[0]):
        H[p, c] = hyper[p, run]
    P1[c] = 1.0
    P2[c] = 1.0
    lr_now[c] = lr[run]
    rate[c] = lr[run]
    alive[c] = 1.0
    fresh[c] = True
    lane_run[c] = run
    lane_epoch[c] = 0
    k = np.searchsorted(rec_runs, run)
    slot[c] = k if k < rec_runs.shape[0] and rec_runs[k] == run else -1
    if schedule.shape[0] > 1:
        countdown[c] = schedule[1, run]


@jit(inline="always")
def _finish(X, V, S, x0, c, code, x_out, nit, status, alive, rate, lane_run, lane_epoch,
            gtol_hit):
    """Write lane ``c``'s outputs, then freeze it until a new run is loaded.

    A frozen lane goes back to its (finite) start point with zero rate and
    zero optimiser state, so it keeps taking part in the branch-free lane
    loops without moving and never trips the per-epoch screens again.
    """
    run = lane_run[c]
    for d in range(X.shape[0]):
        x_out[run, d] = X[d, c]
        X[d, c] = x0[run, d]
        V[d, c] = 0.0
        S[d, c] = 0.0
    # gtol stops a run before its epoch's update: that epoch does not count.
    nit[run] = lane_epoch[c] - 1 if gtol_hit else lane_epoch[c]
    status[run] = code
    alive[c] = 0.0
    rate[c] = 0.0
    lane_run[c] = -1


def _descend(grad, fun, x0, lr, hyper, optimizer, sched_kind, schedule,
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
    # With a tolerance, runs stop at different epochs.  Each parallel task
    # then streams several blocks' worth of runs through its lanes, loading a
    # new run into a lane as soon as its run finishes, instead of idling the
    # lane until the slowest run of the block is done.  Without one, every
    # lane of a block runs in step and a task is one block.  Which run goes
    # to which lane never changes a result.
    refill = xtol > 0.0 or ftol > 0.0 or gtol > 0.0
    span = LANES
    if refill:
        # Up to 16 blocks' worth per task, keeping at least ~64 tasks for the
        # threads to share.
        span = LANES * max(1, min(16, n_runs // (LANES * 64)))
    n_tasks = (n_runs + span - 1) // span

    for task in prange(n_tasks):
        first = task * span
        end = min(n_runs, first + span)
        w = min(LANES, end - first)
        X = np.empty((dim, w))
        G = np.empty((dim, w))
        V = np.zeros((dim, w))        # velocity, or Adam's first moment
        S = np.zeros((dim, w))        # second moments (adagrad, rmsprop, adam)
        P1 = np.ones(w)               # beta1**t and beta2**t, per lane
        P2 = np.ones(w)
        H = np.empty((hyper.shape[0], w))  # the lanes' optimiser hyper-parameters
        X_prev = np.empty((dim, w))
        step = np.empty(w)
        F = np.full(w, np.nan)
        F_prev = np.empty(w)
        lr_now = np.empty(w)
        rate = np.empty(w)
        alive = np.zeros(w)           # 1.0 while a lane runs, 0.0 once finished
        fresh = np.zeros(w, np.bool_)  # loaded, epoch 0 not yet evaluated
        lane_run = np.full(w, -1, np.int64)
        lane_epoch = np.zeros(w, np.int64)
        slot = np.full(w, -1, np.int64)
        countdown = np.zeros(w)

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

        next_run = first
        for c in range(w):
            _load(c, next_run, X, V, S, P1, P2, H, lr_now, rate, alive, fresh, lane_run,
                  lane_epoch, slot, countdown, x0, lr, hyper, schedule, rec_runs)
            next_run += 1
        n_active = w
        any_fresh = True
        recording = False  # does any lane hold a recorded run?

        # Step decay without warm-up, the seed's schedule, gets a countdown per
        # lane instead of `epoch % every`: an integer division per lane and
        # epoch would cost more than a whole update.  When the lanes run in step
        # and share `every` (a sweep over starts and rates), one test per epoch
        # decides for the whole block.  Same rates, same bits.
        fast_step = sched_kind == STEP_DECAY
        shared_every = 0
        if fast_step:
            for run in range(first, end):
                fast_step = fast_step and schedule[0, run] == 0.0
            if not refill:
                shared_every = np.int64(schedule[1, first])
                for c in range(w):
                    if schedule[1, first + c] != schedule[1, first]:
                        shared_every = 0

        while n_active > 0:
            if any_fresh:
                # Epoch 0 of newly loaded runs: f at the start point.
                if want_f:
                    fun(X, data, all_rows, F)
                recording = False
                for c in range(w):
                    recording = recording or slot[c] >= 0
                    if fresh[c]:
                        F_prev[c] = F[c]
                        k = slot[c]
                        if k >= 0:
                            for d in range(dim):
                                rec_x[k, 0, d] = X[d, c]
                            rec_f[k, 0] = F[c]
                        fresh[c] = False
                any_fresh = False

            for c in range(w):
                lane_epoch[c] += 1
            if fast_step and shared_every > 0:
                if lane_epoch[0] % shared_every == 0:
                    for c in range(w):
                        lr_now[c] = lr_now[c] * schedule[2, first + c]
                        rate[c] = lr_now[c] * alive[c]
            elif fast_step:
                for c in range(w):
                    countdown[c] -= 1.0
                    due = countdown[c] == 0.0
                    run = max(lane_run[c], 0)
                    lr_now[c] = lr_now[c] * schedule[2, run] if due else lr_now[c]
                    countdown[c] = schedule[1, run] if due else countdown[c]
                    rate[c] = lr_now[c] * alive[c]
            elif schedule.shape[0] > 0:
                for c in range(w):
                    if lane_run[c] >= 0:
                        run = lane_run[c]
                        lr_now[c], rate[c] = _schedule_rate(
                            sched_kind, schedule, run, lane_epoch[c], lr[run], lr_now[c])
            if xtol > 0.0:
                X_prev[:, :] = X
            if per_lane_rows:
                for c in range(w):
                    if lane_run[c] >= 0:
                        permute(shuffle_key(seed, run_offset + lane_run[c], lane_epoch[c]),
                                order[c])

            n_stopped = 0
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
                    n_stopped += _check_gtol(X, G, V, S, x0, gtol, step, x_out, nit, status,
                                             alive, rate, lane_run, lane_epoch)
                grad(X, data, rows, G)
                if gtol > 0.0 and not minibatch:
                    n_stopped += _check_gtol(X, G, V, S, x0, gtol, step, x_out, nit, status,
                                             alive, rate, lane_run, lane_epoch)
                _update(optimizer, X, G, V, S, P1, P2, rate, H)

            if want_f:
                fun(X, data, all_rows, F)
            if recording:  # a scalar walk over the lanes: only where it is needed
                for c in range(w):
                    k = slot[c]
                    if k >= 0 and alive[c] > 0.0:
                        for d in range(dim):
                            rec_x[k, lane_epoch[c], d] = X[d, c]
                        rec_f[k, lane_epoch[c]] = F[c]

            # Screen the whole block with branch-free lane loops (they
            # vectorise); look at single lanes only when something happened.
            # Integer counts: an integer sum vectorises, a float sum would not
            # (LLVM may not reorder it without fastmath's reassoc).  Divergence
            # is judged on the point alone, so that asking for f (ftol, record)
            # never changes a run's outcome; a non-finite final value marks the
            # run diverged at the end.
            events = n_stopped
            for d in range(dim):
                for c in range(w):
                    # Written so that NaN fails the test too.
                    events += 0 if abs(X[d, c]) <= bound else 1
            if refill:
                for c in range(w):
                    events += (alive[c] > 0.0) & (lane_epoch[c] >= epochs)
            elif lane_epoch[0] >= epochs:
                events += 1  # lanes in step: all reach the budget together
            if ftol > 0.0:
                for c in range(w):
                    events += (alive[c] > 0.0) & (abs(F[c] - F_prev[c]) <= ftol)
            if xtol > 0.0:
                step[:] = 0.0
                for d in range(dim):
                    for c in range(w):
                        step[c] += (X[d, c] - X_prev[d, c]) ** 2
                for c in range(w):
                    events += (alive[c] > 0.0) & (np.sqrt(step[c]) <= xtol)
            if events > 0:
                for c in range(w):
                    if alive[c] > 0.0:
                        code = -1
                        for d in range(dim):
                            if not abs(X[d, c]) <= bound:
                                code = DIVERGED
                        if code < 0 and ftol > 0.0 and abs(F[c] - F_prev[c]) <= ftol:
                            code = CONVERGED
                        if code < 0 and xtol > 0.0 and np.sqrt(step[c]) <= xtol:
                            code = CONVERGED
                        if code < 0 and lane_epoch[c] >= epochs:
                            code = MAX_EPOCHS
                        if code >= 0:
                            _finish(X, V, S, x0, c, code, x_out, nit, status, alive, rate,
                                    lane_run, lane_epoch, False)
                    if lane_run[c] < 0 and alive[c] == 0.0 and not fresh[c]:
                        if next_run < end:
                            _load(c, next_run, X, V, S, P1, P2, H, lr_now, rate, alive,
                                  fresh, lane_run, lane_epoch, slot, countdown, x0, lr,
                                  hyper, schedule, rec_runs)
                            next_run += 1
                            any_fresh = True
                        elif slot[c] != -2:
                            slot[c] = -2  # retired: no run left for this lane
                            n_active -= 1
            if ftol > 0.0:
                F_prev[:] = F

        # Final values, a block at a time, at the points the runs ended on.
        for group in range(first, end, w):
            wg = min(w, end - group)
            Fg = np.empty(wg)
            fun(_block_of(x_out, group, wg), data, all_rows, Fg)
            for c in range(wg):
                f_out[group + c] = Fg[c]
                if not abs(Fg[c]) < np.inf:
                    status[group + c] = DIVERGED


@jit(inline="always")
def _update(optimizer, X, G, V, S, P1, P2, rate, H):
    """One update of a block, in place.  Each branch is its own loop nest over
    (dim, lanes) so that the lane loop vectorises; the rules are documented in
    fastgd.optimizers and mirrored by fastgd.reference."""
    dim, w = X.shape
    if optimizer == MOMENTUM:
        for d in range(dim):
            for c in range(w):
                V[d, c] = H[0, c] * V[d, c] - rate[c] * G[d, c]
                X[d, c] = X[d, c] + V[d, c]
    elif optimizer == MOMENTUM_TORCH:
        for d in range(dim):
            for c in range(w):
                V[d, c] = H[0, c] * V[d, c] + G[d, c]
                X[d, c] = X[d, c] - rate[c] * V[d, c]
    elif optimizer == NESTEROV:
        for d in range(dim):
            for c in range(w):
                mu = H[0, c]
                V[d, c] = mu * V[d, c] + G[d, c]
                X[d, c] = X[d, c] - rate[c] * (G[d, c] + mu * V[d, c])
    elif optimizer == ADAGRAD:
        for d in range(dim):
            for c in range(w):
                S[d, c] = S[d, c] + G[d, c] * G[d, c]
                X[d, c] = X[d, c] - rate[c] * G[d, c] / (np.sqrt(S[d, c]) + H[0, c])
    elif optimizer == RMSPROP:
        for d in range(dim):
            for c in range(w):
                alpha = H[0, c]
                S[d, c] = alpha * S[d, c] + (1.0 - alpha) * G[d, c] * G[d, c]
                X[d, c] = X[d, c] - rate[c] * G[d, c] / (np.sqrt(S[d, c]) + H[1, c])
    elif optimizer == ADAM or optimizer == ADAMW:
        for c in range(w):
            P1[c] = P1[c] * H[0, c]
            P2[c] = P2[c] * H[1, c]
        for d in range(dim):
            for c in range(w):
                b1 = H[0, c]
                b2 = H[1, c]
                V[d, c] = b1 * V[d, c] + (1.0 - b1) * G[d, c]
                S[d, c] = b2 * S[d, c] + (1.0 - b2) * G[d, c] * G[d, c]
        if optimizer == ADAM:
            for d in range(dim):
                for c in range(w):
                    m_hat = V[d, c] / (1.0 - P1[c])
                    s_hat = S[d, c] / (1.0 - P2[c])
                    step = m_hat / (np.sqrt(s_hat) + H[2, c])
                    X[d, c] = X[d, c] - rate[c] * step
        else:
            for d in range(dim):
                for c in range(w):
                    m_hat = V[d, c] / (1.0 - P1[c])
                    s_hat = S[d, c] / (1.0 - P2[c])
                    step = m_hat / (np.sqrt(s_hat) + H[2, c])
                    X[d, c] = X[d, c] - rate[c] * (step + H[3, c] * X[d, c])
    else:
        for d in range(dim):
            for c in range(w):
                X[d, c] = X[d, c] - rate[c] * G[d, c]


@jit(inline="always")
def _check_gtol(X, G, V, S, x0, gtol, norm, x_out, nit, status, alive, rate, lane_run,
                lane_epoch):
    """Finish the lanes whose gradient norm is <= gtol; return how many."""
    dim, w = X.shape
    norm[:] = 0.0
    for d in range(dim):
        for c in range(w):
            norm[c] += G[d, c] * G[d, c]
    events = 0
    for c in range(w):
        events += (alive[c] > 0.0) & (np.sqrt(norm[c]) <= gtol)
    finished = 0
    if events > 0:
        for c in range(w):
            if alive[c] > 0.0 and np.sqrt(norm[c]) <= gtol:
                _finish(X, V, S, x0, c, CONVERGED, x_out, nit, status, alive, rate,
                        lane_run, lane_epoch, True)
                finished += 1
    return finished


@jit(inline="always")
def _block_of(points, start, w):
    """Runs ``start .. start + w`` of ``points`` (runs, dim) as a (dim, w) block."""
    X = np.empty((points.shape[1], w))
    for c in range(w):
        for d in range(points.shape[1]):
            X[d, c] = points[start + c, d]
    return X


EVAL_SIG = types.void(FUN_TYPE, _f8_2d, _f8_2d, _f8_1d)
GRAD_EVAL_SIG = types.void(GRAD_TYPE, _f8_2d, _f8_2d, _f8_2d)


def _evaluate(fun, points, data, out):
    n, dim = points.shape
    all_rows = np.arange(data.shape[1]).reshape(1, -1)
    for block in prange((n + LANES - 1) // LANES):
        start = block * LANES
        w = min(LANES, n - start)
        F = np.empty(w)
        fun(_block_of(points, start, w), data, all_rows, F)
        out[start:start + w] = F


def _gradient(grad, points, data, out):
    n, dim = points.shape
    all_rows = np.arange(data.shape[1]).reshape(1, -1)
    for block in prange((n + LANES - 1) // LANES):
        start = block * LANES
        w = min(LANES, n - start)
        G = np.empty((dim, w))
        grad(_block_of(points, start, w), data, all_rows, G)
        for c in range(w):
            for d in range(dim):
                out[start + c, d] = G[d, c]


RATES_SIG = types.void(types.int64, _f8_2d, _f8_1d, _f8_2d)


def _rates(kind, schedule, lr, out):
    # Not parallel: a few runs x epochs, for display and tests.
    for run in range(lr.shape[0]):
        lr_now = lr[run]
        for epoch in range(1, out.shape[1] + 1):
            lr_now, out[run, epoch - 1] = _schedule_rate(
                kind, schedule, run, epoch, lr[run], lr_now)


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
            "rates": (_rates, RATES_SIG),
        }[name]
        kernel = _compiled[name] = jit(sig, parallel=name != "rates")(py_func)
    return kernel
