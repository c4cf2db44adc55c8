"""Every optimiser: whole trajectories vs fastgd.reference, convergence, torch.optim."""

import math

import numpy as np
import pytest

import fastgd as fg
from fastgd import _codegen
from fastgd import reference as ref

P = fg.problems
NEW = ["momentum_torch", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
HYPER = {  # non-default values, so that defaults are not all that is tested
    "gd": {}, "momentum": {"momentum": 0.7}, "momentum_torch": {"momentum": 0.8},
    "nesterov": {"momentum": 0.85}, "adagrad": {"eps": 1e-8},
    "rmsprop": {"alpha": 0.9, "eps": 1e-6},
    "adam": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-7},
    "adamw": {"beta1": 0.85, "beta2": 0.995, "eps": 1e-8, "weight_decay": 0.05},
}
RTOL = 1e-9


def quartic_grad(x):
    # The tutorial's df with x ** 3 formed as Numba forms it (x * x * x), so the
    # reference sees the kernel's gradients bit for bit: adaptive methods near
    # a minimum amplify one-ulp differences in g into visible ones.
    return 4 * (x * x * x) - 10 * x + 2


def booth_grad(x, y):
    a, b = x + 2.0 * y - 7.0, 2.0 * x + y - 5.0
    return 2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b


def assert_paths(res, i, expected):
    xs, _ = res.path(i)
    expected = np.asarray(expected, dtype=float).reshape(xs.shape)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(xs, expected, rtol=RTOL, atol=RTOL * 1e-3 * scale)


@pytest.mark.parametrize("optimizer", fg.OPTIMIZERS)
def test_trajectories_match_reference(optimizer):
    hp = HYPER[optimizer]
    starts = [2.0, -1.3, 0.4]
    res = fg.minimize(P.quartic, x0=starts, lr=0.01, epochs=150, optimizer=optimizer,
                      record=True, **hp)
    for i, x0 in enumerate(starts):
        out = ref.optimize(quartic_grad, x0, [0.01] * 150, optimizer=optimizer, **hp)
        assert_paths(res, i, out.path)

    starts2 = [(3.0, 3.0), (-2.0, 1.0)]
    res = fg.minimize(P.booth, x0=starts2, lr=0.02, epochs=120, optimizer=optimizer,
                      record=True, **hp)
    for i, x0 in enumerate(starts2):
        out = ref.optimize(booth_grad, x0, [0.02] * 120, optimizer=optimizer, **hp)
        assert_paths(res, i, out.path)


@pytest.mark.parametrize("optimizer", fg.OPTIMIZERS)
def test_trajectories_with_schedule_and_per_run_parameters(optimizer):
    # Per-run lr and per-run hyper-parameters broadcast across the batch; every
    # run is checked against its own reference run.
    hp = HYPER[optimizer]
    lrs = np.array([0.004, 0.01])[:, None]
    schedule = fg.warmup(fg.cosine_decay(decay_epochs=60, floor=0.1), 7)
    starts = np.array([(1.0, 1.0), (-1.0, 0.5), (0.5, -1.5)])
    res = fg.minimize(P.saddle, x0=starts, lr=lrs, epochs=80, optimizer=optimizer,
                      schedule=schedule, record=True, **hp)
    for i, lr in enumerate(lrs[:, 0]):
        rates = ref.schedule_rates(lr, 80, "cosine_decay", decay_epochs=60, floor=0.1,
                                   warmup=7)
        for j, x0 in enumerate(starts):
            out = ref.optimize(ref.saddle_grad, tuple(x0), rates, optimizer=optimizer, **hp)
            assert_paths(res, (i, j), out.path)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop"])
def test_minibatch_counts_updates_not_epochs(optimizer):
    # Bias correction's t counts updates: 4 per epoch here.
    x, y = P.exp_linear_data(40, seed=3)
    fit = P.exp_linear_fit(x, y)
    theta0 = (1.0, 2.0, 3.0)
    res = fg.minimize(fit, x0=theta0, lr=0.01, epochs=15, optimizer=optimizer,
                      batch_size=10, shuffle=False, record=True)
    batches = [np.arange(j, j + 10) for j in range(0, 40, 10)]
    calls = []

    def grad(a, b, c):
        rows = batches[len(calls) % 4]
        calls.append(1)
        return ref.exp_linear_grad(x[rows], y[rows], a, b, c)
    out = ref.optimize(grad, theta0, [0.01] * 60, optimizer=optimizer)
    assert_paths(res, 0, out.path[::4])


def test_momentum_forms_agree_under_constant_rate_only():
    # v_seed = -lr * v_torch when lr is constant; not once it changes.
    kw = dict(x0=[2.0, -1.0], lr=0.01, epochs=50, momentum=0.9)
    a = fg.minimize(P.quartic, optimizer="momentum", **kw)
    b = fg.minimize(P.quartic, optimizer="momentum_torch", **kw)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-12)
    sched = fg.step_decay(every=5, factor=0.5)
    a = fg.minimize(P.quartic, optimizer="momentum", schedule=sched, **kw)
    b = fg.minimize(P.quartic, optimizer="momentum_torch", schedule=sched, **kw)
    assert np.all(np.abs(a.x - b.x) > 1e-6)


def test_gd_and_momentum_equal_plain_loops_bit_for_bit():
    # The tutorial's step-decay and momentum loops on the quartic, with the
    # tutorial's df written as x * x * x instead of x ** 3 (Python's pow rounds
    # differently): point for point, the same bits.
    res = fg.minimize(P.quartic, x0=2.1, lr=0.15, epochs=30, record=True,
                      schedule=fg.step_decay(every=10, factor=0.5))
    out = ref.descend(quartic_grad, 2.1, lr=0.15, epochs=30, every=10, factor=0.5)
    np.testing.assert_array_equal(res.path(0)[0][:, 0], [p[0] for p in out.path])
    res = fg.minimize(P.quartic, x0=2.0, lr=0.01, epochs=100, optimizer="momentum",
                      momentum=0.9, record=True)
    out = ref.descend(quartic_grad, 2.0, lr=0.01, epochs=100, momentum=0.9)
    np.testing.assert_array_equal(res.path(0)[0][:, 0], [p[0] for p in out.path])


# lr per optimiser for the convergence grid (adaptive methods take steps ~lr).
CONVERGE_LR = {"gd": 0.05, "momentum": 0.02, "momentum_torch": 0.02, "nesterov": 0.02,
               "adagrad": 1.0, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05}


@pytest.mark.parametrize("optimizer", fg.OPTIMIZERS)
@pytest.mark.parametrize("name", ["booth", "three_hump_camel"])
def test_converges_from_a_grid_of_starts(optimizer, name):
    problem = getattr(P, name)
    g = np.linspace(-1.5, 1.5, 7) if name == "three_hump_camel" else np.linspace(-4, 6, 9)
    starts = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    kw = {"weight_decay": 0.0} if optimizer == "adamw" else {}
    sched = fg.cosine_decay(decay_epochs=4000, floor=0.01) if optimizer in (
        "rmsprop", "adam", "adamw") else None
    res = fg.minimize(problem, x0=starts, lr=CONVERGE_LR[optimizer], epochs=5000,
                      optimizer=optimizer, schedule=sched, **kw)
    target = np.array(fg.testfunctions.MINIMA[name][0])
    if name == "three_hump_camel":
        # Starts in the basins of the two local minima end there.
        near = np.abs(res.x - target).max(axis=-1) < 1e-4
        local = np.abs(np.abs(res.x) - [1.7475523, 0.8737761]).max(axis=-1) < 1e-4
        assert np.all(near | local), res.x[~(near | local)]
        assert near.sum() >= len(starts) // 3
    else:
        np.testing.assert_allclose(res.x, np.broadcast_to(target, res.x.shape), atol=1e-4)


def test_adamw_decays_towards_zero():
    # With weight decay the fixed point moves towards the origin.
    a = fg.minimize(P.booth, x0=[0.0, 0.0], lr=0.01, epochs=4000, optimizer="adamw",
                    weight_decay=0.0)
    b = fg.minimize(P.booth, x0=[0.0, 0.0], lr=0.01, epochs=4000, optimizer="adamw",
                    weight_decay=0.5)
    assert np.linalg.norm(b.x) < np.linalg.norm(a.x)


def test_hyper_parameters_validate_and_sweep():
    with pytest.raises(ValueError, match="beta1 is only used with optimizer in"):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=2, beta1=0.9)
    with pytest.raises(ValueError, match="momentum"):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=2, optimizer="adam", momentum=0.9)
    with pytest.raises(ValueError, match="beta2 must be < 1"):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=2, optimizer="adam", beta2=1.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=2, optimizer="rmsprop", eps=0.0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=2, optimizer="adamw", weight_decay=-1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fg.minimize(P.quartic, x0=1.0, lr=0.1, epochs=2, optimizer="lion")

    res = fg.sweep(P.quartic, x0=[-2.0, 2.0], lr=0.05, epochs=30, optimizer="adam",
                   beta1=[0.5, 0.9, 0.95], beta2=[0.99, 0.999])
    assert res.dims == ("x0", "beta1", "beta2") and res.shape == (2, 3, 2)
    single = fg.minimize(P.quartic, x0=2.0, lr=0.05, epochs=30, optimizer="adam",
                         beta1=0.95, beta2=0.99)
    assert res.x[1, 2, 0] == single.x[0]
    assert res.params["beta1"].shape == (2, 3, 2)
    assert res.params["eps"][0, 0, 0] == 1e-8


def test_no_recompile_across_optimizers_and_values():
    for opt in fg.OPTIMIZERS:
        fg.minimize(P.quartic, x0=[1.0, 2.0], lr=[0.01, 0.02], epochs=3, optimizer=opt)
    modules = dict(_codegen._modules)
    for opt in fg.OPTIMIZERS:
        fg.minimize(P.quartic, x0=[3.0, 2.0, 1.0], lr=0.03, epochs=4, optimizer=opt)
        kernel = _codegen.descend_kernel(_codegen.Variant(opt), P.quartic._source)
        assert len(kernel.signatures) == 1
    assert _codegen._modules == modules


# --- PyTorch, step by step ------------------------------------------------------

TORCH = {
    "gd": lambda t, p, hp: t.optim.SGD(p, lr=0.01),
    "momentum_torch": lambda t, p, hp: t.optim.SGD(p, lr=0.01, momentum=hp["momentum"]),
    "nesterov": lambda t, p, hp: t.optim.SGD(p, lr=0.01, momentum=hp["momentum"],
                                             nesterov=True),
    "adagrad": lambda t, p, hp: t.optim.Adagrad(p, lr=0.01, eps=hp["eps"]),
    "rmsprop": lambda t, p, hp: t.optim.RMSprop(p, lr=0.01, alpha=hp["alpha"],
                                                eps=hp["eps"]),
    "adam": lambda t, p, hp: t.optim.Adam(p, lr=0.01, betas=(hp["beta1"], hp["beta2"]),
                                          eps=hp["eps"]),
    "adamw": lambda t, p, hp: t.optim.AdamW(p, lr=0.01, betas=(hp["beta1"], hp["beta2"]),
                                            eps=hp["eps"], weight_decay=hp["weight_decay"]),
}


@pytest.mark.parametrize("optimizer", list(TORCH))
@pytest.mark.parametrize("name", ["quartic", "booth"])
def test_matches_torch_optim_step_by_step(optimizer, name):
    torch = pytest.importorskip("torch")
    hp = HYPER[optimizer]
    problem = getattr(P, name)
    x0 = [1.7] if name == "quartic" else [3.0, -2.0]
    grad = quartic_grad if name == "quartic" else booth_grad
    res = fg.minimize(problem, x0=x0 if name != "quartic" else x0[0], lr=0.01, epochs=200,
                      optimizer=optimizer, record=True, **hp)
    xs = res.path(0)[0]
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = TORCH[optimizer](torch, [p], hp)
    for k in range(200):
        g = ref._as_tuple(grad(*p.detach().tolist()))
        p.grad = torch.tensor([float(v) for v in g], dtype=torch.float64)
        opt.step()
        np.testing.assert_allclose(xs[k + 1], p.detach().numpy(), rtol=RTOL, atol=1e-13)


def test_nesterov_rule_is_stated_one():
    # The documented rule, written out for one step from v = 0:
    # v = g; x = x - lr (g + mu g).
    x0, lr, mu = 2.0, 0.01, 0.9
    g = ref.quartic_grad(x0)
    res = fg.minimize(P.quartic, x0=x0, lr=lr, epochs=1, optimizer="nesterov", momentum=mu)
    assert math.isclose(res.x[0], x0 - lr * (g + mu * g), rel_tol=1e-15)
