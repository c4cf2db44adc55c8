"""The descent kernel's template: the source every generated kernel module is made of.

This file is valid Python, linted and readable like any other, but its kernel is
never compiled from here.  `fastgd._codegen` copies the text below the
``# --- kernel ---`` line into a module of its own, after a header that defines
what the stubs in the prelude stand for in one call:

``DIM``
    The problem's number of variables when it is known when generating (a fused
    problem), else 0 (read from ``x0``).
``FUSED``
    True when the problem's gradient and the optimiser's update are fused into
    one function of a lane, ``_lane_step`` (``_lane_step_f``: and f): a lane's
    gradient never goes through memory, and the update, the divergence test
    and (when asked) the objective are computed in the same pass over the lanes.
``DATA``
    The problem has data: mini-batches, shuffles and their rows.
``SCHEDULE``, ``SCHEDULED``, ``STEP``
    The schedule's kind (`fastgd._kernels`), whether there is a schedule at all,
    and whether it is step decay (which has fast paths of its own).
``REFILL``, ``GTOL``
    Runs stop early (a tolerance is set): lanes are refilled with new runs as
    runs stop; without it every lane of a block runs in step.  ``GTOL``: the
    gradient is screened before each update (the block path, not the fused one).
``SUMMARY``
    Per-run summaries of f are folded in every epoch (`Result.summary`).
``CAN_FAIL``
    The problem's functions are a user's and may raise (their adapters set the
    lanes' ``fail`` flags): the runs that raised end FAILED.  Built-in and
    formula problems never do, and their kernels leave this code out.
``RESUME``
    The runs continue earlier ones (`fastgd.minimize`'s ``init=``): each is
    loaded with its epoch count, optimiser state and current rate, and runs
    that had ended are skipped.
``SEGMENTS``
    Lanes in step whose only screen is divergence (a fused problem, no
    tolerance or summaries; and, decided per call, no record): epochs run in
    segments without the
    per-epoch bookkeeping (see `_tasks`).
``N_STATE``, ``N_LANE``
    The optimiser's state per coordinate (velocity, moments) and per lane
    (running products such as Adam's beta1**t, which start at one).
``REAL``
    The kernel's floating-point type, ``np.float64`` or ``np.float32``
    (`fastgd.minimize`'s ``dtype``): the dtype of the block's arrays.
``_update_block``, ``_lane_step``
    Generated from the optimiser's spec (`fastgd.optimizers`) and, for
    ``_lane_step``, the problem's source.

Layout: runs are processed in blocks of
``LANES``; each block keeps its state as (dim, lanes) arrays for all of its
epochs, and every inner loop runs across the lanes so that LLVM turns it into
SIMD code.  A lane whose run has finished writes its outputs at once and is
frozen (start point, zero rate, zero state) so the inner loops stay
branch-free; with tolerances it is then refilled with the next run of its
task.  Nothing in here raises: each run ends with a status code.
"""

# --- prelude: stubs, replaced by the generated header ---
import numpy as np

from fastgd._kernels import (
    CONVERGED,
    DIVERGED,
    FAILED,
    LANES,
    MAX_EPOCHS,
    MAX_SEGMENT,
    SEGMENT,
    block_of,
    find_sorted,
    gather_rows,
    schedule_rate,
)
from fastgd._shuffle import permute, shuffle_key

DIM = 0
FUSED = False
DATA = False
SCHEDULE = 0
SCHEDULED = False
STEP = False
REFILL = False
GTOL = False
SUMMARY = False
CAN_FAIL = False
RESUME = False
SEGMENTS = False
N_STATE = 0
N_LANE = 0
REAL = np.float64


def _update_block(X, G, S, Q, H, rate, groups):
    """One update of every lane of a block from its gradients G (generated);
    coordinate d takes the rate of its parameter group, ``rate[groups[d], c]``."""


def _lanes_step(X, S, Q, H, rate, F, w, bound):
    """One fused update of lanes ``0 .. w``; how many left the bound (generated)."""
    return 0


def _lanes_step_f(X, S, Q, H, rate, F, w, bound):
    """As `_lanes_step`, and f at the new points into ``F`` (generated)."""
    return 0


def _lanes_value(X, F, w):
    """f at the points of lanes ``0 .. w`` into ``F`` (generated)."""


def _segment(X, S, Q, H, rate, F, w, seg, bound):
    """``seg`` fused updates of lanes ``0 .. w``; how many lane-updates left the
    bound (generated)."""
    return 0


# --- kernel ---


def _load_lanes(w, run, end, X, S, Q, H, lr_now, rate, alive, fresh, lane_run,
                lane_epoch, slot, countdown, retired, x0, lr, hyper, schedule, rec_runs,
                resume):
    """Put the next runs, from ``run`` on, into the empty lanes of ``0 .. w``
    (each from its start point or, when resuming, from where it stopped, with
    its state); a lane for which no run is left is retired.  Return the next
    run to load.

    One call for all the lanes, not one per lane: a call that takes arrays
    costs atomic reference counts on each of them, more than loading a lane.
    """
    start_epoch, S0, Q0, lr0 = resume
    for c in range(w):
        if lane_run[c] >= 0 or retired[c]:
            continue
        if RESUME:   # runs that had ended are skipped
            while run < end and start_epoch[run] < 0:
                run += 1
        if run >= end:
            retired[c] = True
            continue
        for d in range(X.shape[0]):
            X[d, c] = x0[run, d]
            for k in range(N_STATE):
                S[k, d, c] = S0[run, k, d] if RESUME else 0.0
        for k in range(N_LANE):
            Q[k, c] = Q0[run, k] if RESUME else 1.0
        for p in range(hyper.shape[0]):
            H[p, c] = hyper[p, run]
        for g in range(lr.shape[0]):
            # A schedule's current rate is part of the state it continues from.
            base = lr0[run, g] if RESUME and SCHEDULED else lr[g, run]
            lr_now[g, c] = base
            rate[g, c] = base
        alive[c] = 1.0
        fresh[c] = True
        lane_run[c] = run
        lane_epoch[c] = start_epoch[run] if RESUME else 0
        slot[c] = find_sorted(rec_runs, run) if rec_runs.shape[0] > 0 else -1
        if STEP:
            # Epochs left to the next decay (step decay without warm-up counts
            # down; with one it takes the general path, which reads the epoch).
            every = np.int64(schedule[1, run])
            countdown[c] = every - lane_epoch[c] % every
        run += 1
    return run


def _finish_lanes(lanes, outs, x0, codes, before_update):
    """Write the outputs and state of every lane ``c`` with ``codes[c] >= 0``
    (its run's status), freeze it until a new run is loaded, and set
    ``codes[c]`` back to -1.  Return how many lanes finished.

    ``lanes``: the block's (X, S, Q, lr_now, rate, alive, lane_run, lane_epoch);
    ``outs``: the per-run outputs (x, nit, status) and saved state (S, Q, lr_now).
    A frozen lane goes back to its (finite) start point with zero rate and
    zero optimiser state, so it keeps taking part in the branch-free lane
    loops without moving and never trips the per-epoch screens again.
    """
    X, S, Q, lr_now, rate, alive, lane_run, lane_epoch = lanes
    x_out, nit, status, S_out, Q_out, lr_out = outs
    n = 0
    for c in range(codes.shape[0]):
        code = codes[c]
        if code < 0:
            continue
        codes[c] = -1
        run = lane_run[c]
        for d in range(X.shape[0]):
            x_out[run, d] = X[d, c]
            X[d, c] = x0[run, d]
            for k in range(N_STATE):
                S_out[run, k, d] = S[k, d, c]
                S[k, d, c] = 0.0
        for k in range(N_LANE):
            Q_out[run, k] = Q[k, c]
        if SCHEDULED:
            for g in range(lr_now.shape[0]):
                lr_out[run, g] = lr_now[g, c]
        # gtol stops a run before its epoch's update: that epoch does not count.
        nit[run] = lane_epoch[c] - 1 if before_update else lane_epoch[c]
        status[run] = code
        alive[c] = 0.0
        for g in range(rate.shape[0]):
            rate[g, c] = 0.0
        lane_run[c] = -1
        n += 1
    return n


def _check_gtol(lanes, outs, x0, codes, G, gtol, norm):
    """Finish the lanes whose gradient norm is <= gtol; return how many."""
    alive = lanes[5]
    dim, w = G.shape
    for c in range(w):
        norm[c] = 0.0
    for d in range(dim):
        for c in range(w):
            norm[c] += G[d, c] * G[d, c]
    events = 0
    for c in range(w):
        events += (alive[c] > 0.0) & (np.sqrt(norm[c]) <= gtol)
    if events == 0:
        return 0
    for c in range(w):
        if alive[c] > 0.0 and np.sqrt(norm[c]) <= gtol:
            codes[c] = CONVERGED
    return _finish_lanes(lanes, outs, x0, codes, np.bool_(True))


def _fail_lanes(lanes, outs, x0, codes, fail, epoch, in_step, before_update):
    """Finish with status FAILED the lanes whose function just raised; return how
    many.  A run fails at the point where its function raised, with the updates
    it completed: a gradient fails before its update, a value after it."""
    alive, lane_epoch = lanes[5], lanes[7]
    for c in range(fail.shape[0]):
        if fail[c] != 0:
            if alive[c] > 0.0:
                if in_step:   # lanes in step keep one epoch count for the block
                    lane_epoch[c] = epoch
                codes[c] = FAILED
            fail[c] = 0
    return _finish_lanes(lanes, outs, x0, codes, before_update)


def _copy_lanes(X, S, Q, X_to, S_to, Q_to, w):
    """Lanes ``0 .. w`` of a block's state (X, S, Q) into (X_to, S_to, Q_to)."""
    for d in range(X.shape[0]):
        for c in range(w):
            X_to[d, c] = X[d, c]
    for k in range(S.shape[0]):
        for d in range(S.shape[1]):
            for c in range(w):
                S_to[k, d, c] = S[k, d, c]
    for k in range(Q.shape[0]):
        for c in range(w):
            Q_to[k, c] = Q[k, c]


def _any(flags):
    n = 0
    for c in range(flags.shape[0]):
        n += flags[c]
    return n > 0


def _start_summary(summ, run, f0, target, epochs, tail, cap):
    """Per-run summaries at epoch 0 (see `_summarise`)."""
    summ[0, run] = f0
    summ[1, run] = 0.0
    finite = abs(f0) < np.inf
    summ[2, run] = f0 if finite else np.nan
    summ[3, run] = 0.0 if finite else -1.0
    summ[4, run] = 0.0 if f0 <= target else -1.0
    summ[5, run] = 0.0
    summ[6, run] = 0.0
    summ[7, run] = 0.0
    summ[8, run] = f0
    _add_ratio(summ, run, f0, np.int64(0), epochs, tail, cap)


def _add_ratio(summ, run, f, epoch, epochs, tail, cap):
    """The normalised loss ``v = min(f / f0, cap)`` of an epoch before the last
    update (non-finite counts as ``cap``) into the sums 5 (v), 6 (v over the
    last ``tail`` of them) and 7 (1 / v)."""
    if epoch < epochs:
        ratio = f / summ[8, run]
        ratio = ratio if ratio <= cap else cap
        summ[5, run] += ratio
        summ[7, run] += 1.0 / ratio
        if epoch >= epochs - tail:
            summ[6, run] += ratio


def _summarise(summ, run, f, epoch, epochs, target, tail, cap):
    """Fold epoch ``epoch``'s value ``f`` into run ``run``'s summaries:
    0 best value, 1 its epoch, 2 last finite value, 3 its epoch, 4 first epoch
    with ``f <= target`` (-1: none yet), 5-7 the sums of `_add_ratio`, 8 f0."""
    if f < summ[0, run]:
        summ[0, run] = f
        summ[1, run] = epoch
    if abs(f) < np.inf:
        summ[2, run] = f
        summ[3, run] = epoch
    if summ[4, run] < 0.0 and f <= target:
        summ[4, run] = epoch
    _add_ratio(summ, run, f, epoch, epochs, tail, cap)


def _rates(first, w, lr, schedule, lr_now, rate, alive, countdown, lane_run, lane_epoch,
           shared_every):
    """The lanes' rates for their current epoch (lane_epoch), in ``rate``: the
    same schedule for every parameter group, each from its own base rate.

    ``shared_every``: > 0 when the lanes run in step with step decay's
    ``every`` in common, 0 for step decay's countdown, -1 for the general case.
    """
    if STEP and shared_every > 0:
        # Lanes in step sharing `every` (a sweep over starts and rates): one
        # test per epoch decides for the whole block.
        if lane_epoch[0] % shared_every == 0:
            for g in range(rate.shape[0]):
                for c in range(w):
                    run = max(lane_run[c], 0)   # a finished lane's rate stays 0
                    lr_now[g, c] = lr_now[g, c] * schedule[2, run]
                    rate[g, c] = lr_now[g, c] * alive[c]
    elif STEP and shared_every == 0:
        # A countdown per lane instead of `epoch % every`: an integer division
        # per lane and epoch would cost more than a whole update.
        for c in range(w):
            countdown[c] -= 1.0
            due = countdown[c] == 0.0
            run = max(lane_run[c], 0)
            for g in range(rate.shape[0]):
                lr_now[g, c] = lr_now[g, c] * schedule[2, run] if due else lr_now[g, c]
                rate[g, c] = lr_now[g, c] * alive[c]
            countdown[c] = schedule[1, run] if due else countdown[c]
    else:
        for c in range(w):
            if lane_run[c] >= 0:
                run = lane_run[c]
                for g in range(rate.shape[0]):
                    lr_now[g, c], rate[g, c] = schedule_rate(
                        SCHEDULE, schedule, run, lane_epoch[c], lr[g, run], lr_now[g, c])


def _block(dim, w, n_hyper, n_groups, n_data, batch_size, shuffle):
    """The arrays of a block of ``w`` lanes (see `_tasks` for what each holds)."""
    X = np.empty((dim, w), REAL)
    G = np.empty((dim, w), REAL)
    S = np.empty((N_STATE, dim, w), REAL)    # optimiser state per coordinate
    Q = np.empty((N_LANE, w), REAL)          # optimiser state per lane
    H = np.empty((n_hyper, w), REAL)         # the lanes' optimiser hyper-parameters
    X_prev = np.empty((dim, w), REAL)
    step = np.empty(w, REAL)
    F = np.empty(w, REAL)
    F_prev = np.empty(w, REAL)
    lr_now = np.empty((n_groups, w), REAL)   # per parameter group and lane
    rate = np.empty((n_groups, w), REAL)
    alive = np.empty(w, REAL)               # 1.0 while a lane runs, 0.0 once finished
    fresh = np.empty(w, np.bool_)      # loaded, epoch 0 not yet evaluated
    lane_run = np.empty(w, np.int64)   # the lane's run, -1 while frozen
    lane_epoch = np.empty(w, np.int64)
    slot = np.empty(w, np.int64)       # record slot, -1 none
    retired = np.empty(w, np.bool_)    # no run left for this lane
    countdown = np.empty(w)
    fail = np.empty(w, np.int8)        # set by a user's function that raised
    codes = np.empty(w, np.int64)      # status of the lanes to finish, -1 none
    # The checkpoint of a segment (see `_tasks`).
    X_ckpt = np.empty((dim, w) if SEGMENTS else (0, 0), REAL)
    S_ckpt = np.empty((N_STATE, dim, w) if SEGMENTS else (0, 0, 0), REAL)
    Q_ckpt = np.empty((N_LANE, w) if SEGMENTS else (0, 0), REAL)
    # The rates before a step decay that a segment took in (see `_tasks`).
    lr_ckpt = np.empty((n_groups, w) if SEGMENTS and STEP else (0, 0), REAL)
    rate_ckpt = np.empty((n_groups, w) if SEGMENTS and STEP else (0, 0), REAL)
    # Data rows: all of them, each lane's order (one order for all when they
    # are not shuffled), and the rows of the current mini-batch.
    all_rows = np.empty((1, n_data), np.int64)
    for i in range(n_data):
        all_rows[0, i] = i
    order = all_rows
    rows_full = all_rows
    rows_last = all_rows
    if DATA:
        n_batches = (n_data + batch_size - 1) // batch_size
        n_row_sets = w if n_batches > 1 and shuffle else 1
        order = np.empty((n_row_sets, n_data), np.int64)
        for r in range(n_row_sets):
            for i in range(n_data):
                order[r, i] = i
        last = n_data - (n_batches - 1) * batch_size
        rows_full = np.empty((n_row_sets, min(batch_size, n_data)), np.int64)
        rows_last = np.empty((n_row_sets, last), np.int64)
    return (X, G, S, Q, H, X_prev, step, F, F_prev, lr_now, rate, alive, fresh, lane_run,
            lane_epoch, slot, retired, countdown, fail, codes, X_ckpt, S_ckpt, Q_ckpt,
            lr_ckpt, rate_ckpt, all_rows, order, rows_full, rows_last)


def descend(grad, fun, x0, lr, groups, hyper, schedule, epochs, xtol, ftol, gtol, bound,
            data, batch_size, shuffle, seed, run_offset, rec_runs, rec_x, rec_f,
            targets, summ, tail, cap, resume, x_out, f_out, nit, status, saved, span,
            task_lo, task_hi):
    """Tasks ``task_lo .. task_hi``: task ``t`` runs ``t * span`` up to the
    next task's first run through one block of lanes.

    Threads share the tasks of a call (`fastgd._threads`): the kernel holds no
    GIL and is not a Numba parallel kernel, whose passes would triple its
    compile time for nothing that a pool of threads does not do as well.

    ``resume``: (start epoch, S, Q, lr_now) per run to continue from (read
    when ``RESUME``); ``saved``: (S, Q, lr_now) per run as each run ends.
    """
    _tasks(task_lo, task_hi, span, grad, fun, x0, lr, groups, hyper, schedule, epochs, xtol,
           ftol, gtol, bound, data, batch_size, shuffle, seed, run_offset, rec_runs, rec_x,
           rec_f, targets, summ, tail, cap, resume, x_out, f_out, nit, status, saved)


def _tasks(task_lo, task_hi, span, grad, fun, x0, lr, groups, hyper, schedule, epochs, xtol,
           ftol, gtol, bound, data, batch_size, shuffle, seed, run_offset, rec_runs, rec_x,
           rec_f, targets, summ, tail, cap, resume, x_out, f_out, nit, status, saved):
    """Tasks ``task_lo .. task_hi``, each runs ``task * span`` up to the next
    task's first run through one block of lanes.

    The block's arrays are made once for all the tasks of full width: made
    (or even unpacked from a tuple) per task of 64 runs, they would cost more
    than a few epochs of a cheap problem.  Every ``if`` on an upper-case name
    is decided when the module is generated; Numba prunes the other branch
    before compiling, which keeps each kernel small and quick to compile.
    """
    n_runs = x0.shape[0]
    dim = DIM if DIM > 0 else x0.shape[1]
    # Recording is decided per call, not per kernel: the walk over the recorded
    # lanes costs nothing when there are none, and one kernel serves both.
    recording = rec_runs.shape[0] > 0
    want_f = ftol > 0.0 or recording or SUMMARY
    outs = (x_out, nit, status) + saved
    n_data = data.shape[1]
    # Analytic problems have no data: one update per epoch.
    n_batches = 1
    minibatch = False
    per_lane_rows = False
    if DATA:
        n_batches = (n_data + batch_size - 1) // batch_size
        minibatch = n_batches > 1
        per_lane_rows = minibatch and shuffle
    # np.int64(LANES): a constant argument is typed as a literal, and a compiled
    # function called with a literal in one place and a variable in another
    # compiles twice (0.5 to 0.9 s more per kernel); so every constant passed
    # to one of the compiled helpers is wrapped (np.int64, np.bool_).
    (X, G, S, Q, H, X_prev, step, F, F_prev, lr_now, rate, alive, fresh, lane_run,
     lane_epoch, slot, retired, countdown, fail, codes, X_ckpt, S_ckpt, Q_ckpt, lr_ckpt,
     rate_ckpt, all_rows, order, rows_full, rows_last) = _block(
        dim, np.int64(LANES), hyper.shape[0], lr.shape[0], n_data, batch_size, shuffle)

    for task in range(task_lo, task_hi):
        first = task * span
        end = min(n_runs, first + span)
        w = min(LANES, end - first)   # lanes in use; fewer once most runs have ended
        block_w = w
        if w < LANES:   # the last task of a call: a narrower block
            (X, G, S, Q, H, X_prev, step, F, F_prev, lr_now, rate, alive, fresh, lane_run,
             lane_epoch, slot, retired, countdown, fail, codes, X_ckpt, S_ckpt, Q_ckpt,
             lr_ckpt, rate_ckpt, all_rows, order, rows_full, rows_last) = _block(
                dim, w, hyper.shape[0], lr.shape[0], n_data, batch_size, shuffle)
        # Every lane empty, no state.  (The other arrays are written before
        # they are read; an order of rows is drawn from scratch each epoch, or
        # never changes.)
        S.fill(0.0)
        Q.fill(1.0)
        for c in range(w):
            F[c] = np.nan
            alive[c] = 0.0
            fresh[c] = False
            lane_run[c] = -1
            lane_epoch[c] = 0
            slot[c] = -1
            retired[c] = False
            countdown[c] = 0.0
            fail[c] = 0
            codes[c] = -1
        lanes = (X, S, Q, lr_now, rate, alive, lane_run, lane_epoch)

        next_run = _load_lanes(w, first, end, X, S, Q, H, lr_now, rate, alive, fresh,
                               lane_run, lane_epoch, slot, countdown, retired, x0, lr, hyper,
                               schedule, rec_runs, resume)
        if retired[0]:
            continue   # resuming, and no run of this task is to be continued
        n_active = w
        for c in range(w):
            if retired[c]:
                # Resuming, fewer runs to continue than lanes: the lane stays
                # frozen at a run's (finite) start point.
                n_active -= 1
                for d in range(dim):
                    X[d, c] = X[d, 0]
                for p in range(hyper.shape[0]):
                    H[p, c] = H[p, 0]
                for g in range(lr.shape[0]):
                    lr_now[g, c] = 0.0
                    rate[g, c] = 0.0
        any_fresh = True
        # Lanes in step (no tolerance) share one epoch count; each lane's own is
        # kept only where something reads it every epoch, and set from the shared
        # one when a lane finishes.  64 integer additions per epoch would cost a
        # fifth of a fused update.
        epoch = np.int64(0)   # not a literal (see _block's call above)
        pending = 0  # runs finished before the epoch's screen (a start value that failed)

        # Step decay without warm-up, the tutorial's schedule, has its own fast
        # paths in _rates; with a warm-up it takes the general one.
        step_fast = STEP
        shared_every = 0
        if STEP:
            for run in range(first, end):
                step_fast = step_fast and schedule[0, run] == 0.0
            if not REFILL:
                shared_every = np.int64(schedule[1, first])
                for c in range(w):
                    if schedule[1, first + c] != schedule[1, first]:
                        shared_every = 0
        # Lanes in step sharing step decay's period: one countdown for the block,
        # no division and no call in the epochs between two decays.
        due_in = shared_every
        every_lane = REFILL or recording or DATA or SUMMARY or (SCHEDULED and not step_fast)
        # Segments: divergence is the only event possible before the budget's last
        # epoch, so a block can run segments of epochs without the per-epoch
        # bookkeeping, from a checkpoint of its state; if a lane left the bound in
        # them, the block goes back to the checkpoint and takes those epochs one at
        # a time (the same arithmetic, so the same bits), which finds the epoch.
        segments = SEGMENTS and not recording and (
            not SCHEDULED or (step_fast and shared_every > 0))
        careful = 0   # epochs to take one at a time after a segment saw an event
        seg_len = SEGMENT

        while n_active > 0:
            if any_fresh:
                # Epoch 0 of newly loaded runs: f at the start point.
                if want_f:
                    fun(X, data, all_rows, F, fail)
                    if CAN_FAIL and _any(fail):
                        pending += _fail_lanes(lanes, outs, x0, codes, fail, epoch, not every_lane,
                                               np.bool_(False))
                for c in range(w):
                    # A run whose start value failed is finished already.
                    if fresh[c] and lane_run[c] >= 0:
                        F_prev[c] = F[c]
                        if SUMMARY and RESUME:
                            # The summaries so far came in with the run; the value
                            # where it stopped was not yet a loss before an update.
                            _add_ratio(summ, lane_run[c], F[c], lane_epoch[c], epochs, tail, cap)
                        elif SUMMARY:
                            _start_summary(summ, lane_run[c], F[c], targets[lane_run[c]],
                                           epochs, tail, cap)
                        if recording:
                            k = slot[c]
                            if k >= 0:
                                for d in range(dim):
                                    rec_x[k, lane_epoch[c], d] = X[d, c]
                                rec_f[k, lane_epoch[c]] = F[c]
                    fresh[c] = False
                any_fresh = False

            if segments and careful == 0:
                decayed = False
                if STEP and due_in == 1 and shared_every >= 2 and epochs - 1 - epoch >= 2:
                    # The next epoch decays the rates before its update: decay
                    # them here (as `_rates` does) and let the segment take that
                    # epoch in too, keeping the rates before it in case the
                    # segment has to be taken again.
                    for g in range(rate.shape[0]):
                        for c in range(w):
                            lr_ckpt[g, c] = lr_now[g, c]
                            rate_ckpt[g, c] = rate[g, c]
                            lr_now[g, c] = lr_now[g, c] * schedule[2, max(lane_run[c], 0)]
                            rate[g, c] = lr_now[g, c] * alive[c]
                    due_in += shared_every
                    decayed = True
                seg = min(seg_len, epochs - 1 - epoch)
                if STEP:
                    seg = min(seg, due_in - 1)   # the next decay's epoch: not in this one
                if seg >= 2:
                    _copy_lanes(X, S, Q, X_ckpt, S_ckpt, Q_ckpt, w)
                    seen = _segment(X, S, Q, H, rate, F, w, seg, bound)
                    if seen == 0:
                        epoch += seg
                        if STEP:
                            due_in -= seg
                        # Each clean segment doubles the next: the fixed cost of a
                        # segment (a checkpoint, reference counts) fades, and an
                        # event costs at most twice the clean epochs before it.
                        seg_len = min(2 * seg_len, MAX_SEGMENT)
                        continue
                    _copy_lanes(X_ckpt, S_ckpt, Q_ckpt, X, S, Q, w)
                    if decayed:   # the decay's epoch is to be taken again
                        for g in range(rate.shape[0]):
                            for c in range(w):
                                lr_now[g, c] = lr_ckpt[g, c]
                                rate[g, c] = rate_ckpt[g, c]
                        due_in -= shared_every
                    if seg > SEGMENT:
                        # Back to short segments from the checkpoint, to come
                        # near the event before taking epochs one at a time.
                        seg_len = SEGMENT
                        continue
                    careful = seg
            if careful > 0:
                careful -= 1

            epoch += 1
            if every_lane:
                for c in range(w):
                    lane_epoch[c] += 1
            if SCHEDULED:
                if step_fast and shared_every > 0:
                    due_in -= 1
                    if due_in == 0:
                        due_in = shared_every
                        for c in range(w):
                            lane_epoch[c] = epoch
                        _rates(first, w, lr, schedule, lr_now, rate, alive, countdown, lane_run,
                               lane_epoch, shared_every)
                elif step_fast:
                    _rates(first, w, lr, schedule, lr_now, rate, alive, countdown, lane_run,
                           lane_epoch, np.int64(0))
                else:
                    _rates(first, w, lr, schedule, lr_now, rate, alive, countdown, lane_run,
                           lane_epoch, np.int64(-1))
            if xtol > 0.0:
                for d in range(dim):
                    for c in range(w):
                        X_prev[d, c] = X[d, c]

            # Screen the whole block with branch-free lane loops (they
            # vectorise); look at single lanes only when something happened.
            # Integer counts: an integer sum vectorises, a float sum would not
            # (LLVM may not reorder it without fastmath's reassoc).  Divergence
            # is judged on the point alone, so that asking for f (ftol, record)
            # never changes a run's outcome; a non-finite final value marks the
            # run diverged at the end.
            events = pending
            pending = 0
            if FUSED:
                # One pass: gradient, update, f if wanted, divergence test.
                if want_f:
                    events += _lanes_step_f(X, S, Q, H, rate, F, w, bound)
                else:
                    events += _lanes_step(X, S, Q, H, rate, F, w, bound)
            else:
                if DATA and per_lane_rows:
                    for c in range(w):
                        if lane_run[c] >= 0:
                            permute(shuffle_key(seed, run_offset + lane_run[c], lane_epoch[c]),
                                    order[c])
                for b in range(n_batches):
                    rows = all_rows
                    if DATA and minibatch:
                        rows = rows_last if b == n_batches - 1 else rows_full
                        gather_rows(order, b * batch_size, rows)
                    if GTOL:
                        # gtol tests the gradient at the epoch's start point on all
                        # the data: free in full batch, one extra call in mini-batch.
                        if minibatch and b == 0:
                            grad(X, data, all_rows, G, fail)
                            if CAN_FAIL and _any(fail):
                                events += _fail_lanes(lanes, outs, x0, codes, fail, epoch,
                                                      not every_lane, np.bool_(True))
                            events += _check_gtol(lanes, outs, x0, codes, G, gtol, step)
                    grad(X, data, rows, G, fail)
                    if CAN_FAIL and _any(fail):
                        events += _fail_lanes(lanes, outs, x0, codes, fail, epoch, not every_lane,
                                              np.bool_(True))
                    if GTOL:
                        if not minibatch:
                            events += _check_gtol(lanes, outs, x0, codes, G, gtol, step)
                    _update_block(X, G, S, Q, H, rate, groups)
                if want_f:
                    fun(X, data, all_rows, F, fail)
                    if CAN_FAIL and _any(fail):
                        events += _fail_lanes(lanes, outs, x0, codes, fail, epoch, not every_lane,
                                              np.bool_(False))
                for d in range(dim):
                    for c in range(w):
                        # Written so that NaN fails the test too.
                        events += 0 if abs(X[d, c]) <= bound else 1

            if recording:  # a scalar walk over the lanes that hold recorded runs
                for c in range(w):
                    k = slot[c]
                    if k >= 0 and alive[c] > 0.0:
                        for d in range(dim):
                            rec_x[k, lane_epoch[c], d] = X[d, c]
                        rec_f[k, lane_epoch[c]] = F[c]

            if SUMMARY:
                for c in range(w):
                    if alive[c] > 0.0:
                        run = lane_run[c]
                        _summarise(summ, run, F[c], lane_epoch[c], epochs, targets[run], tail,
                                   cap)

            if REFILL:
                for c in range(w):
                    events += (alive[c] > 0.0) & (lane_epoch[c] >= epochs)
            elif epoch >= epochs:
                events += 1  # lanes in step: all reach the budget together
            if ftol > 0.0:
                for c in range(w):
                    events += (alive[c] > 0.0) & (abs(F[c] - F_prev[c]) <= ftol)
            if xtol > 0.0:
                for c in range(w):
                    step[c] = 0.0
                for d in range(dim):
                    for c in range(w):
                        step[c] += (X[d, c] - X_prev[d, c]) ** 2
                for c in range(w):
                    events += (alive[c] > 0.0) & (np.sqrt(step[c]) <= xtol)
            if events > 0:
                if not every_lane:
                    for c in range(w):
                        lane_epoch[c] = epoch
                for c in range(w):
                    if alive[c] > 0.0:
                        code = -1
                        for d in range(dim):
                            if not abs(X[d, c]) <= bound:
                                code = DIVERGED
                        if ftol > 0.0:
                            if code < 0 and abs(F[c] - F_prev[c]) <= ftol:
                                code = CONVERGED
                        if xtol > 0.0:
                            if code < 0 and np.sqrt(step[c]) <= xtol:
                                code = CONVERGED
                        if code < 0 and lane_epoch[c] >= epochs:
                            code = MAX_EPOCHS
                        codes[c] = code
                _finish_lanes(lanes, outs, x0, codes, np.bool_(False))
                # Every empty lane (finished now, or earlier in the epoch by gtol
                # or a failure) takes the next run, or retires.
                if next_run < end:
                    next_run = _load_lanes(w, next_run, end, X, S, Q, H, lr_now, rate, alive,
                                           fresh, lane_run, lane_epoch, slot, countdown,
                                           retired, x0, lr, hyper, schedule, rec_runs, resume)
                else:
                    for c in range(w):
                        retired[c] |= lane_run[c] < 0
                n_active = 0
                for c in range(w):
                    n_active += not retired[c]
                    any_fresh |= fresh[c]
            if ftol > 0.0:
                for c in range(w):
                    F_prev[c] = F[c]

            if FUSED and 2 * n_active <= w and w >= 8 and next_run >= end and n_active > 0:
                # Most lanes have no run left: move those that do to the front and
                # loop over them only, so that the last slow runs of a task do not
                # pay for a full block.  Each lane's state moves with it (to a
                # lower lane, so nothing is overwritten before it is read);
                # nothing else reads lane positions.  (The block path's batched
                # functions take the block's arrays whole: it keeps its width.)
                j = 0
                for c in range(w):
                    if not retired[c]:
                        if c != j:
                            for d in range(dim):
                                X[d, j] = X[d, c]
                                for k in range(N_STATE):
                                    S[k, d, j] = S[k, d, c]
                            for k in range(N_LANE):
                                Q[k, j] = Q[k, c]
                            for p in range(H.shape[0]):
                                H[p, j] = H[p, c]
                            for g in range(rate.shape[0]):
                                lr_now[g, j] = lr_now[g, c]
                                rate[g, j] = rate[g, c]
                            F[j], F_prev[j], alive[j], fresh[j] = F[c], F_prev[c], alive[c], fresh[c]
                            lane_run[j], lane_epoch[j], slot[j] = lane_run[c], lane_epoch[c], slot[c]
                            retired[j], countdown[j] = retired[c], countdown[c]
                        j += 1
                w = n_active

        # Final values, a block at a time, at the points the runs ended on.
        w = block_w
        for group in range(first, end, w):
            wg = min(w, end - group)
            if FUSED:   # f written out here, as in the updates: no call
                for d in range(dim):
                    for c in range(wg):
                        X[d, c] = x_out[group + c, d]
                _lanes_value(X, F, wg)
            else:
                fun(block_of(x_out, group, wg), data, all_rows, F[:wg], fail[:wg])
            for c in range(wg):
                f_out[group + c] = F[c]
                # A non-finite final value makes the run DIVERGED: the caller
                # decides that, knowing this status, with which a continued run
                # would go on.
                if fail[c] != 0:
                    status[group + c] = FAILED
                    f_out[group + c] = np.nan
                    fail[c] = 0
