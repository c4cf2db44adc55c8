"""Continuation (``init=``): runs go on from a result, bit for bit as one longer call.

The independent check is the longer call itself, which the rest of the suite
checks against the tutorial's loops, PyTorch and analytic answers; a warm start
with a changed rate is checked against a plain loop written here.
"""

import concurrent.futures
import dataclasses

import numba
import numpy as np
import pytest

import fastgd as fg

QUARTIC = fg.problems.quartic


def assert_same(a, b):
    """Every output, summary, saved state and trajectory equal, bit for bit."""
    for name in ("x", "fun", "nit", "status", "success"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.summary.keys() == b.summary.keys() and a.state.keys() == b.state.keys()
    for group in ("summary", "state"):
        for name, value in getattr(a, group).items():
            np.testing.assert_array_equal(value, getattr(b, group)[name],
                                          err_msg=f"{group}[{name!r}]")
    assert (a.path_x is None) == (b.path_x is None)
    if a.path_x is not None:
        np.testing.assert_array_equal(a.path_x, b.path_x)
        np.testing.assert_array_equal(a.path_fun, b.path_fun)
    assert a.dims == b.dims and a.params.keys() == b.params.keys()


def quartic_sweep(epochs, **options):
    # Rates from slow to diverging, starts in both basins: every status occurs.
    return fg.sweep(QUARTIC, x0=np.linspace(-3, 3, 41), lr=np.geomspace(1e-3, 0.5, 29),
                    epochs=epochs, **options)


SCHEDULES = {"none": None, "step_decay": fg.step_decay(every=7, factor=0.5),
             "warmup_exponential": fg.warmup(fg.exponential_decay(factor=0.97), 5)}


@pytest.mark.parametrize("optimizer, schedule, tolerance", [
    ("gd", "none", {}), ("gd", "step_decay", {"xtol": 1e-9}),
    ("momentum", "step_decay", {"ftol": 1e-11}), ("nesterov", "warmup_exponential", {}),
    ("rmsprop", "none", {"ftol": 1e-11}), ("adam", "warmup_exponential", {"xtol": 1e-9}),
])
def test_continued_runs_are_bit_identical_to_one_longer_call(optimizer, schedule,
                                                             tolerance):
    options = dict(optimizer=optimizer, schedule=SCHEDULES[schedule], **tolerance)
    short = quartic_sweep(23, **options)
    longer = quartic_sweep(70, **options)
    assert fg.Status.MAX_EPOCHS in longer.status
    if optimizer in ("gd", "momentum", "nesterov"):   # the adaptive ones do not diverge
        assert fg.Status.DIVERGED in longer.status
    assert_same(quartic_sweep(70, init=short, **options), longer)


def test_a_chain_of_continuations_equals_one_call():
    options = dict(optimizer="adam", schedule=fg.step_decay(every=5, factor=0.8),
                   summary=True, record=[0, 100, 600])
    res = quartic_sweep(20, **options)
    for epochs in (45, 45, 90):    # the same budget twice: nothing left to run
        res = quartic_sweep(epochs, init=res, **options)
    assert_same(res, quartic_sweep(90, **options))


def test_runs_that_ran_out_of_epochs_at_a_non_finite_value_go_on():
    # Momentum at large rates: after 40 epochs some points are finite, within the
    # bound, but f overflows there, so those runs end DIVERGED; a longer budget
    # takes them further, to the bound, as one longer call does.
    options = dict(x0=np.linspace(-2, 2, 130), lr=np.geomspace(1e-3, 0.3, 130),
                   optimizer="momentum")
    short = fg.sweep(QUARTIC, epochs=40, **options)
    at_end = (short.nit == 40) & (short.status == fg.Status.DIVERGED)
    at_end &= ~short.state["stopped"]    # not those beyond the bound at epoch 40
    assert at_end.any() and np.all(np.abs(short.x[at_end]) <= 1e100)
    longer = fg.sweep(QUARTIC, epochs=100, init=short, **options)
    assert np.all(longer.nit[at_end] > 40)
    assert_same(longer, fg.sweep(QUARTIC, epochs=100, **options))


@pytest.mark.parametrize("batch", [{}, {"batch_size": 7}, {"batch_size": 7, "shuffle": False}])
def test_data_problems_continue_with_their_shuffles_summaries_and_paths(batch):
    fit = fg.problems.exp_linear_fit(*fg.problems.exp_linear_data(60))
    x0 = np.random.default_rng(0).normal(size=(40, 3)) + [1.2, 3.4, 5.6]
    options = dict(lr=np.array([1e-3, 0.01, 0.05])[:, None], optimizer="adam",
                   target=0.5, record=[0, 5, 77, 119], **batch)
    short = fg.minimize(fit, x0, epochs=30, **options)
    longer = fg.minimize(fit, x0, epochs=90, **options)
    assert_same(fg.minimize(fit, x0, epochs=90, init=short, **options), longer)


def test_a_users_problem_and_per_layer_rates_continue():
    X = np.random.default_rng(1).normal(size=(24, 3))
    net = fg.problems.mlp(X, np.sin(X[:, 0]), width=4, depth=2, seed=0)
    options = dict(x0=net.init(), lr={"layer_0": [0.05, 0.5], "layer_1": [0.1, 1.0, 4.0]},
                   optimizer="momentum", schedule=fg.step_decay(every=6, factor=0.5))
    short = fg.sweep(net, epochs=15, **options)
    assert {"lr_now_layer_0", "lr_now_layer_1", "v"} <= set(short.state)
    assert_same(fg.sweep(net, epochs=40, init=short, **options),
                fg.sweep(net, epochs=40, **options))

    problem = fg.Problem(_f, _grad, dim=2, name="user")
    x0 = np.random.default_rng(2).normal(size=(70, 2))
    short = fg.minimize(problem, x0, lr=0.05, epochs=12, optimizer="rmsprop")
    assert_same(fg.minimize(problem, x0, lr=0.05, epochs=31, optimizer="rmsprop",
                            init=short),
                fg.minimize(problem, x0, lr=0.05, epochs=31, optimizer="rmsprop"))


@numba.njit
def _f(x):
    return (x[0] - 1.0) ** 2 + x[1] ** 4


@numba.njit
def _grad(x, g):
    g[0] = 2.0 * (x[0] - 1.0)
    g[1] = 4.0 * x[1] ** 3


def test_continuation_from_a_saved_result_in_chunks_on_an_executor(tmp_path):
    options = dict(optimizer="momentum_torch", schedule=fg.step_decay(every=[4, 9],
                                                                      factor=0.7),
                   ftol=1e-10, summary=True)
    short = quartic_sweep(25, **options)
    fg.save(short, tmp_path / "short.npz")
    back = fg.load(tmp_path / "short.npz")
    longer = quartic_sweep(80, **options)
    assert_same(quartic_sweep(80, init=back, chunk_size=333, out=tmp_path / "chunks",
                              **options), longer)
    # resumed from the chunks on disk, then computed on an executor
    assert_same(quartic_sweep(80, init=back, chunk_size=333, out=tmp_path / "chunks",
                              **options), longer)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert_same(quartic_sweep(80, init=back, chunk_size=500, executor=pool,
                                  **options), longer)


def test_a_warm_start_with_a_new_rate_keeps_the_velocity():
    # The tutorial's momentum, written out: 40 epochs at one rate, 25 at another.
    x0, beta = np.array([-2.5, 0.3, 2.2]), 0.9
    x, v = x0.copy(), np.zeros(3)
    for epoch in range(65):
        rate = 0.002 if epoch < 40 else 0.01
        v = beta * v - rate * (4 * x * x * x - 10 * x + 2)
        x = x + v
    first = fg.minimize(QUARTIC, x0, lr=0.002, epochs=40, optimizer="momentum")
    warm = fg.minimize(QUARTIC, x0, lr=0.01, epochs=65, optimizer="momentum", init=first)
    np.testing.assert_allclose(warm.x[:, 0], x, rtol=1e-12)
    np.testing.assert_allclose(warm.state["v"][:, 0], v, rtol=1e-10, atol=1e-15)
    assert warm.nit.tolist() == [65, 65, 65]


@pytest.mark.parametrize("change, message", [
    (dict(init="result"), "init must be a fastgd.Result"),
    (dict(problem=fg.problems.exp_quadratic), "problem 'quartic'"),
    (dict(x0=np.linspace(-3, 3, 40)), "batch shape"),
    (dict(x0=np.linspace(-3, 3, 41) + 1e-9), "x0 must be the x0"),
    (dict(optimizer="adam"), "optimizer='momentum'"),
    (dict(schedule=fg.step_decay(every=3)), "schedule"),
    (dict(epochs=10), "at least init's epochs=20"),
    (dict(summary=True), "without summary=True"),
])
def test_a_result_that_cannot_be_continued_is_refused_before_any_kernel(change, message):
    init = quartic_sweep(20, optimizer="momentum")
    call = dict(problem=QUARTIC, x0=np.linspace(-3, 3, 41), lr=np.geomspace(1e-3, 0.5, 29),
                epochs=50, optimizer="momentum", init=init)
    call.update(change)
    with pytest.raises((TypeError, ValueError), match=message):
        fg.sweep(call.pop("problem"), **call)


def test_summaries_continue_only_past_the_last_epochs_sum():
    init = quartic_sweep(20, summary=True)
    with pytest.raises(ValueError, match="at least 20 epochs"):
        quartic_sweep(39, summary=True, init=init)
    assert_same(quartic_sweep(40, summary=True, init=init), quartic_sweep(40, summary=True))


def test_a_result_without_saved_state_is_refused():
    init = dataclasses.replace(quartic_sweep(20, optimizer="adam"), state={})
    with pytest.raises(ValueError, match=r"no saved state \['stopped', 'm', 's'"):
        quartic_sweep(30, optimizer="adam", init=init)


def test_recording_runs_init_did_not_record():
    first = quartic_sweep(10)
    more = quartic_sweep(25, init=first, record=[0, 7])
    once = quartic_sweep(25, record=[0, 7])
    # The epochs before the continuation were not recorded: NaN there, then the same.
    assert np.isnan(more.path_x[:, :10]).all()
    np.testing.assert_array_equal(more.path_x[:, 10:], once.path_x[:, 10:])


def test_a_warm_start_names_its_axes_after_its_own_arguments():
    first = fg.minimize(QUARTIC, 1.0, lr=[1e-4, 0.1, 0.8], epochs=10)
    warm = fg.minimize(QUARTIC, 1.0, lr=[1e-3, 1e-2, 0.05], epochs=20, init=first)
    np.testing.assert_array_equal(warm.coords["lr"], [1e-3, 1e-2, 0.05])
    np.testing.assert_array_equal(warm.params["lr"], [1e-3, 1e-2, 0.05])


def test_hitting_times_continue_only_towards_the_same_target():
    first = quartic_sweep(20, summary=True)
    with pytest.raises(ValueError, match="target must be init's target"):
        quartic_sweep(60, target=0.5, init=first)
    first = quartic_sweep(20, target=0.5)
    with pytest.raises(ValueError, match="target must be init's target"):
        quartic_sweep(60, target=0.4, init=first)
    assert_same(quartic_sweep(60, target=0.5, init=first), quartic_sweep(60, target=0.5))
