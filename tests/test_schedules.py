"""Schedules: values pinned at chosen epochs, the reference, the kernel's own rates, torch."""

import math
import warnings

import numpy as np
import pytest

import fastgd as fg
from fastgd import reference as ref

P = fg.problems


def quartic_grad(x):
    return 4 * (x * x * x) - 10 * x + 2   # x ** 3 formed as Numba forms it


SCHEDULES = {
    # name: (Schedule, reference kwargs)
    "step_decay": (fg.step_decay(every=7, factor=0.6),
                   dict(schedule="step_decay", every=7, factor=0.6)),
    "exponential_decay": (fg.exponential_decay(factor=0.97),
                          dict(schedule="exponential_decay", factor=0.97)),
    "multi_step": (fg.multi_step([5, 12, 30], factor=0.3),
                   dict(schedule="multi_step", milestones=(5, 12, 30), factor=0.3)),
    "cosine_decay": (fg.cosine_decay(decay_epochs=25, floor=0.05),
                     dict(schedule="cosine_decay", decay_epochs=25, floor=0.05)),
    "inverse_time": (fg.inverse_time(decay=0.2), dict(schedule="inverse_time", decay=0.2)),
    "warmup_constant": (fg.warmup(None, 6), dict(warmup=6)),
    "warmup_step_decay": (fg.warmup(fg.step_decay(every=4, factor=0.5), 3),
                          dict(schedule="step_decay", every=4, factor=0.5, warmup=3)),
    "warmup_cosine": (fg.warmup(fg.cosine_decay(decay_epochs=20), 5),
                      dict(schedule="cosine_decay", decay_epochs=20, warmup=5)),
}


@pytest.mark.parametrize(("schedule", "epoch", "rate"), [
    # epochs counted from 1; t = epoch - 1 epochs completed
    (fg.step_decay(every=10, factor=0.5), 9, 0.1),
    (fg.step_decay(every=10, factor=0.5), 10, 0.05),
    (fg.step_decay(every=10, factor=0.5), 25, 0.025),
    (fg.exponential_decay(factor=0.9), 1, 0.1),
    (fg.exponential_decay(factor=0.9), 3, 0.1 * 0.9 ** 2),
    (fg.exponential_decay(factor=0.5), 11, 0.1 / 1024),
    (fg.multi_step([3, 5], factor=0.1), 3, 0.1),
    (fg.multi_step([3, 5], factor=0.1), 4, 0.1 * 0.1),
    (fg.multi_step([3, 5], factor=0.1), 6, 0.1 * 0.1 * 0.1),
    (fg.cosine_decay(decay_epochs=10), 1, 0.1),
    (fg.cosine_decay(decay_epochs=10), 6, 0.05),
    (fg.cosine_decay(decay_epochs=10), 11, 0.0),
    (fg.cosine_decay(decay_epochs=10), 50, 0.0),
    (fg.cosine_decay(decay_epochs=10, floor=0.2), 6, 0.1 * (0.2 + 0.8 * 0.5)),
    (fg.cosine_decay(decay_epochs=10, floor=0.2), 40, 0.1 * 0.2),
    (fg.inverse_time(decay=0.5), 1, 0.1),
    (fg.inverse_time(decay=0.5), 5, 0.1 / 3),
    (fg.warmup(None, 4), 1, 0.1 / 5),
    (fg.warmup(None, 4), 4, 0.1 * 4 / 5),
    (fg.warmup(None, 4), 5, 0.1),
    (fg.warmup(fg.exponential_decay(factor=0.5), 2), 3, 0.1),
    (fg.warmup(fg.exponential_decay(factor=0.5), 2), 5, 0.025),
    (fg.warmup(fg.step_decay(every=2, factor=0.5), 2), 4, 0.05),
])
def test_rates_pinned(schedule, epoch, rate):
    rates = schedule.rates(0.1, 60)
    assert math.isclose(rates[epoch - 1], rate, rel_tol=1e-15, abs_tol=1e-300)


def test_step_decay_keeps_the_seeds_repeated_multiplication():
    rates = fg.step_decay(every=3, factor=0.7).rates(0.15, 40)
    lr, expected = 0.15, []
    for epoch in range(1, 41):
        if epoch % 3 == 0:
            lr = lr * 0.7
        expected.append(lr)
    np.testing.assert_array_equal(rates, expected)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_rates_match_reference(name):
    schedule, kwargs = SCHEDULES[name]
    np.testing.assert_allclose(schedule.rates(0.1, 70), ref.schedule_rates(0.1, 70, **kwargs),
                               rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_rates_are_what_the_kernel_uses(name):
    # Plain GD with the rates from Schedule.rates reproduces the kernel's
    # trajectory bit for bit: the rates shown are the rates used.
    schedule, _ = SCHEDULES[name]
    res = fg.minimize(P.quartic, x0=[2.0, -0.5], lr=0.02, epochs=60, schedule=schedule,
                      record=True)
    rates = schedule.rates(0.02, 60)
    for i, x in enumerate([2.0, -0.5]):
        path = [x]
        for rate in rates:
            x = x - rate * quartic_grad(x)
            path.append(x)
        np.testing.assert_array_equal(res.path(i)[0][:, 0], path)


# Gentler parameters than above, so that the rate lasts long enough to converge.
CONVERGE = {
    "step_decay": fg.step_decay(every=500, factor=0.5),
    "exponential_decay": fg.exponential_decay(factor=0.999),
    "multi_step": fg.multi_step([1000, 2000], factor=0.3),
    "cosine_decay": fg.cosine_decay(decay_epochs=3000, floor=0.01),
    "inverse_time": fg.inverse_time(decay=0.002),
    "warmup_constant": fg.warmup(None, 50),
    "warmup_step_decay": fg.warmup(fg.step_decay(every=500, factor=0.5), 30),
    "warmup_cosine": fg.warmup(fg.cosine_decay(decay_epochs=2500), 50),
}


@pytest.mark.parametrize("name", list(CONVERGE))
@pytest.mark.parametrize("optimizer", ["gd", "momentum_torch", "adam"])
def test_every_schedule_converges(name, optimizer):
    g = np.linspace(-4, 6, 6)
    starts = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    lr = {"gd": 0.05, "momentum_torch": 0.01, "adam": 0.2}[optimizer]
    res = fg.minimize(P.booth, x0=starts, lr=lr, epochs=3000, optimizer=optimizer,
                      schedule=CONVERGE[name])
    np.testing.assert_allclose(res.x, np.broadcast_to([1.0, 3.0], res.x.shape), atol=1e-4)


def test_parameters_broadcast_per_run():
    sched = fg.warmup(fg.cosine_decay(decay_epochs=[[10.0], [20.0]], floor=[0.0, 0.5, 1.0]),
                      epochs=[[[0]], [[3]]])
    rates = sched.rates(0.1, 30)
    assert rates.shape == (2, 2, 3, 30)
    for w, T, floor in [(0, 10, 0.0), (3, 20, 0.5), (3, 10, 1.0)]:
        i, j, k = [0, 3].index(w), [10, 20].index(T), [0.0, 0.5, 1.0].index(floor)
        expected = ref.schedule_rates(0.1, 30, "cosine_decay", decay_epochs=T, floor=floor,
                                      warmup=w)
        np.testing.assert_allclose(rates[i, j, k], expected, rtol=1e-15)
    # and in the kernel, per run: each run follows its own rates, point for point.
    res = fg.minimize(P.quartic, x0=1.5, lr=0.01, epochs=30, schedule=sched, record=True)
    assert res.shape == (2, 2, 3)
    for i, w in enumerate([0, 3]):
        for j, T in enumerate([10, 20]):
            for k, floor in enumerate([0.0, 0.5, 1.0]):
                rates = ref.schedule_rates(0.01, 30, "cosine_decay", decay_epochs=T,
                                           floor=floor, warmup=w)
                x, path = 1.5, [1.5]
                for rate in rates:
                    x = x - rate * quartic_grad(x)
                    path.append(x)
                np.testing.assert_allclose(res.path((i, j, k))[0][:, 0], path,
                                           rtol=1e-13, atol=0)


def test_sweep_over_schedule_parameters():
    sched = fg.warmup(fg.exponential_decay(factor=[0.9, 0.99]), [0, 5])
    res = fg.sweep(P.quartic, x0=[-2.0, 2.0], lr=0.01, epochs=40, schedule=sched)
    assert res.dims == ("x0", "factor", "warmup") and res.shape == (2, 2, 2)
    one = fg.minimize(P.quartic, x0=2.0, lr=0.01, epochs=40,
                      schedule=fg.warmup(fg.exponential_decay(factor=0.99), 5))
    assert res.x[1, 1, 1, 0] == one.x[0]
    # Milestones are shared: a list of them does not become an axis.
    res = fg.sweep(P.quartic, x0=2.0, lr=[0.01, 0.02], epochs=20,
                   schedule=fg.multi_step([5, 10], factor=[0.5, 0.1]))
    assert res.dims == ("lr", "factor")


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: fg.multi_step([]), ValueError, "milestones"),
    (lambda: fg.multi_step([2.5]), ValueError, "milestones"),
    (lambda: fg.multi_step([0, 3]), ValueError, "milestones"),
    (lambda: fg.warmup("cosine", 3), TypeError, "schedule"),
    (lambda: fg.warmup(fg.warmup(None, 2), 3), ValueError, "already"),
])
def test_bad_schedules(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(("schedule", "match"), [
    (fg.exponential_decay(factor=0.0), "factor must be > 0"),
    (fg.cosine_decay(decay_epochs=0), "decay_epochs must be > 0"),
    (fg.cosine_decay(decay_epochs=5, floor=1.5), "floor must be <= 1"),
    (fg.inverse_time(decay=-1.0), "decay must be >= 0"),
    (fg.warmup(None, 2.5), "warmup must be a whole number"),
    (fg.warmup(None, -1), "warmup must be >= 0"),
])
def test_bad_parameters_raise_before_the_kernel(schedule, match):
    with pytest.raises(ValueError, match=match):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=3, schedule=schedule)
    with pytest.raises(ValueError, match=match):
        schedule.rates(0.1, 3)


# --- PyTorch's schedulers, stepped after each epoch ------------------------------------

def torch_rates(make, epochs, lr=0.1, pre_steps=0):
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(torch.optim.lr_scheduler, opt)
    with warnings.catch_warnings():
        # PyTorch warns about a step before the optimiser's first: here it is meant.
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(pre_steps):
            sched.step()
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize(("schedule", "make"), [
    (fg.exponential_decay(factor=0.93), lambda s, o: s.ExponentialLR(o, gamma=0.93)),
    (fg.multi_step([4, 9, 15], factor=0.2),
     lambda s, o: s.MultiStepLR(o, milestones=[4, 9, 15], gamma=0.2)),
    (fg.cosine_decay(decay_epochs=30, floor=0.1),
     lambda s, o: s.CosineAnnealingLR(o, T_max=30, eta_min=0.01)),
    (fg.inverse_time(decay=0.3), lambda s, o: s.LambdaLR(o, lambda t: 1 / (1 + 0.3 * t))),
    (fg.warmup(fg.exponential_decay(factor=0.9), 4),
     lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=1 / 5, total_iters=4),
                                     s.ExponentialLR(o, gamma=0.9)], milestones=[4])),
])
def test_matches_torch_schedulers(schedule, make):
    expected = torch_rates(make, 30)
    np.testing.assert_allclose(schedule.rates(0.1, 30), expected, rtol=1e-12, atol=1e-17)


@pytest.mark.parametrize(("every", "factor"), [(5, 0.5), (7, 0.3), (1, 0.9)])
def test_step_decay_is_torchs_steplr_stepped_once_first(every, factor):
    # The documented shift: StepLR stepped once before the first epoch gives the
    # tutorial's rates; without that step, StepLR's rates come one epoch later.
    make = lambda s, o: s.StepLR(o, step_size=every, gamma=factor)  # noqa: E731
    ours = fg.step_decay(every=every, factor=factor).rates(0.1, 30)
    np.testing.assert_allclose(ours, torch_rates(make, 30, pre_steps=1), rtol=1e-15, atol=0)
    np.testing.assert_allclose(ours[:-1], torch_rates(make, 30)[1:], rtol=1e-15, atol=0)


def test_step_decay_with_per_run_periods_matches_reference():
    """Lanes of one block with different `every` take the kernel's countdown path."""
    from fastgd import reference as ref
    every = np.array([3, 5, 7, 5] * 20)
    res = fg.minimize(fg.problems.quartic, x0=1.0, lr=0.013, epochs=40,
                      schedule=fg.step_decay(every=every, factor=0.7), record=[0, 1, 2])
    for i in range(3):
        want = ref.descend(ref.quartic_grad, 1.0, 0.013, 40, every=int(every[i]), factor=0.7)
        np.testing.assert_allclose(res.path(i)[0][:, 0], np.array(want.path)[:, 0],
                                   rtol=1e-9, atol=0)
        # Alone, the run takes the block-shared path: the same bits.
        alone = fg.minimize(fg.problems.quartic, x0=1.0, lr=0.013, epochs=40,
                            schedule=fg.step_decay(every=int(every[i]), factor=0.7))
        assert alone.x[0] == res.x[i, 0]
