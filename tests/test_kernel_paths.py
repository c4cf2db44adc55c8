"""The kernels' fast paths give the runs of the plain path, bit for bit, and the
tutorial's loop (`fastgd.reference`) where it applies.

* Segments: lanes in step with only divergence to watch run segments of epochs (16,
  doubling while clean up to 1024) between two screens, from a checkpoint; a lane
  that diverges in a segment sends the block back to the checkpoint.  Recording a
  run turns segments off, so a recorded sweep is the plain path.
* Narrowing: once a task has no run left to load and half its lanes are idle, the
  block keeps only the lanes still running.
"""

import numpy as np
import pytest

import fastgd as fg
from fastgd import reference

QUARTIC = fg.problems.quartic


def assert_same(a, b):
    for name in ("x", "fun", "nit", "status"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("options", [
    {}, {"optimizer": "momentum"}, {"optimizer": "nesterov"},
    {"schedule": fg.step_decay(every=5, factor=0.9)},
    {"schedule": fg.step_decay(every=16, factor=1.1)},   # the decay at a segment's end
])
def test_segments_give_the_plain_paths_runs(options):
    # Rates from slow to diverging: runs diverge at every epoch of the first
    # segments, and some in the middle of later ones.
    sweep = dict(x0=np.linspace(-3, 3, 97), lr=np.geomspace(1e-3, 0.4, 61), epochs=75,
                 **options)
    fast = fg.sweep(QUARTIC, **sweep)
    plain = fg.sweep(QUARTIC, record=[0], **sweep)
    assert len(np.unique(fast.nit[fast.status == fg.Status.DIVERGED])) > 10
    assert_same(fast, plain)


def test_a_divergence_inside_a_segment_stops_at_its_epoch():
    # From 2.0 these rates oscillate, some chaotically, and many diverge at
    # epochs inside segments; the tutorial's loop says at which (the points of
    # the chaotic runs that do not diverge part in the last bits, as any two
    # implementations of pow do, so only epochs and statuses are compared).
    x0, lr = 2.0, np.geomspace(0.05, 0.2, 64)
    res = fg.minimize(QUARTIC, x0, lr=lr, epochs=200)
    diverged = res.nit[res.status == fg.Status.DIVERGED]
    assert np.count_nonzero(diverged % 16) > 5
    for k in range(64):
        ref = reference.descend(reference.quartic_grad, x0, lr[k], 200, f=reference.quartic)
        assert (res.nit[k], res.status[k]) == (ref.nit, ref.status), k


def test_narrowed_blocks_finish_the_slow_runs_as_the_tutorials_loop_does():
    # Most runs stop within tens of epochs; the slowest rates run for thousands, in
    # blocks narrowed to the lanes still running.
    lr = np.concatenate([np.full(300, 0.05), np.geomspace(1e-5, 1e-4, 20)])
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-2.5, 2.5, lr.size)
    order = rng.permutation(lr.size)
    lr, x0 = lr[order], x0[order]
    res = fg.minimize(QUARTIC, x0, lr=lr, epochs=20_000, ftol=1e-12)
    slow = np.argsort(res.nit)[-6:]
    assert res.nit[slow].min() > 20 * np.median(res.nit)
    for k in slow:
        ref = reference.descend(reference.quartic_grad, x0[k], lr[k], 20_000,
                                f=reference.quartic, ftol=1e-12)
        assert res.nit[k] == ref.nit and res.status[k] == ref.status
        np.testing.assert_allclose(res.x[k, 0], ref.x[0], rtol=1e-12)
    # and the same bits computed in chunks of other sizes
    assert_same(res, fg.minimize(QUARTIC, x0, lr=lr, epochs=20_000, ftol=1e-12,
                                 chunk_size=37))


@pytest.mark.parametrize("optimizer", ["gd", "momentum"])
def test_long_segments_find_late_divergences(optimizer):
    # Clean segments double up to 1024 epochs; these runs leave the bound late
    # (x grows by 1 + 2 lr an epoch, past 1e3 after ~350 to ~3500 epochs), in
    # long segments, which go back to their checkpoint and come near the event
    # in short ones.  The plain path (a recorded run turns segments off) and
    # the growth law say when.
    runaway = fg.Problem.from_expression("-x**2")
    sweep = dict(x0=np.linspace(0.5, 1.5, 7), lr=np.geomspace(1e-3, 1e-2, 41),
                 epochs=4000, bound=1e3, optimizer=optimizer)
    fast = fg.sweep(runaway, **sweep)
    plain = fg.sweep(runaway, record=[0], **sweep)
    assert_same(fast, plain)
    diverged = fast.nit[fast.status == fg.Status.DIVERGED]
    # (Momentum speeds the runaway up: its last runs leave near epoch 450.)
    assert diverged.size > 200 and len(np.unique(diverged)) > 100
    assert diverged.max() > (2000 if optimizer == "gd" else 400)
    if optimizer == "gd":
        x0, lr = np.meshgrid(sweep["x0"], sweep["lr"], indexing="ij")
        # The first epoch k with x0 (1 + 2 lr)^k > 1e3, up to rounding at the boundary.
        k = np.ceil(np.log(1e3 / x0) / np.log1p(2 * lr))
        assert np.all(np.abs(fast.nit.reshape(x0.shape) - k) <= 1)


def test_segments_that_take_in_a_decay_give_the_plain_paths_runs():
    # A segment takes in the epoch of a step decay (the rates change before its
    # update).  Rates that grow at each decay make runs diverge just after one,
    # inside such segments, which must then be taken again from before the decay.
    sweep = dict(x0=np.linspace(-2.5, 2.5, 41), lr=np.geomspace(1e-3, 0.05, 37), epochs=600,
                 schedule=fg.step_decay(every=40, factor=1.5))
    fast = fg.sweep(QUARTIC, **sweep)
    plain = fg.sweep(QUARTIC, record=[0], **sweep)
    assert_same(fast, plain)
    diverged = fast.nit[fast.status == fg.Status.DIVERGED]
    assert np.count_nonzero(diverged % 40 < 3) > 10 and len(np.unique(diverged)) > 10
