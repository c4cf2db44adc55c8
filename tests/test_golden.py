"""fastgd against trajectories recorded from torch.optim and torch.optim.lr_scheduler.

The files in ``tests/golden/`` were written by ``tests/golden/make_golden.py`` with
PyTorch (version in each file's ``__meta__``); these tests need no PyTorch, so they
run in CI and fail if an update rule or a schedule stops matching PyTorch's.

Tolerances.  The optimisers' rules are the same algebra as PyTorch's but not always
the same operations (Adam folds its bias corrections differently, AdamW decays the
point in a separate multiplication, fastgd's ``exp`` is within 1 ulp of NumPy's), so
trajectories agree to rounding, not bit for bit.  Measured with torch 2.13: the
largest difference on any coordinate of any path is 1.1e-14 times the largest
magnitude of that coordinate along the path (AdamW on the Rosenbrock function);
the tests allow 1e-13 of it.  Measured against each element instead, the figure
is larger where a coordinate crosses zero, which is why the scale is the path's.
Schedules' rates agree to 1.5e-15 relative at worst (CosineAnnealingLR, whose
recursive form rounds on every step; StepLR and MultiStepLR agree exactly); the
tests allow 1e-14.
"""

import json
import os

import numpy as np
import pytest

import fastgd as fg

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
PATH_TOL = 1e-13
RATE_RTOL = 1e-14


def _load(name):
    with np.load(os.path.join(HERE, name + ".npz")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(str(arrays.pop("__meta__")))


OPT_ARRAYS, OPT_META = _load("optimizers")
SCHED_ARRAYS, SCHED_META = _load("schedules")
OPT_CASES = {c["key"]: c for c in OPT_META["cases"]}
SCHED_CASES = {c["key"]: c for c in SCHED_META["cases"]}


def _problem(name):
    if name == "exp_linear_fit":
        return fg.problems.exp_linear_fit(OPT_ARRAYS["data/exp_linear_fit/x"],
                                          OPT_ARRAYS["data/exp_linear_fit/y"])
    return getattr(fg.problems, name)


def _schedule(spec):
    name, kwargs = spec
    if name == "warmup":
        then = kwargs["then"]
        return fg.warmup(_schedule(then) if then else None, kwargs["epochs"])
    return getattr(fg, name)(**kwargs)


def _path(case, **extra):
    x0 = case["x0"] if len(case["x0"]) > 1 else case["x0"][0]
    res = fg.minimize(_problem(case["problem"]), x0=x0, lr=case["lr"],
                      epochs=case["epochs"], record=True, **case["fastgd"], **extra)
    return res.path()[0]


def assert_path_matches(got, want):
    got = got.reshape(want.shape)
    assert np.all(np.isfinite(want)), "a golden path diverged: regenerate with stable settings"
    scale = np.abs(want).max(axis=0)
    err = np.abs(got - want) / scale
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err[worst] <= PATH_TOL, (
        f"epoch {worst[0]}, coordinate {worst[1]}: fastgd {got[worst]!r}, "
        f"torch {want[worst]!r} ({err[worst]:.2e} of the path's scale)")


def test_golden_files_say_where_they_come_from():
    for meta in (OPT_META, SCHED_META):
        assert meta["generator"] == "tests/golden/make_golden.py"
        assert meta["torch"]
    assert len(OPT_CASES) >= 90 and len(SCHED_CASES) >= 15


@pytest.mark.parametrize("key", sorted(OPT_CASES))
def test_optimizer_matches_torch_optim(key):
    case = OPT_CASES[key]
    assert_path_matches(_path(case), OPT_ARRAYS[key])


# fastgd's names for PyTorch's hyper-parameters.
_TORCH_NAMES = {"Adagrad": {"eps": "eps"}, "RMSprop": {"alpha": "alpha", "eps": "eps"},
                "Adam": {"betas": ("beta1", "beta2"), "eps": "eps"},
                "AdamW": {"betas": ("beta1", "beta2"), "eps": "eps",
                          "weight_decay": "weight_decay"}}
_OPTIMIZER_OF = {"Adagrad": "adagrad", "RMSprop": "rmsprop", "Adam": "adam", "AdamW": "adamw"}


@pytest.mark.parametrize("cls", sorted(_TORCH_NAMES))
def test_defaults_are_torchs(cls):
    # Called with no hyper-parameter, fastgd uses PyTorch's defaults (read from
    # torch.optim when the files were made, not restated here) ...
    torch_defaults = OPT_META["torch_defaults"][cls]
    res = fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=1,
                      optimizer=_OPTIMIZER_OF[cls])
    for torch_name, ours in _TORCH_NAMES[cls].items():
        values = torch_defaults[torch_name]
        for name, value in zip(ours if isinstance(ours, tuple) else (ours,),
                               values if isinstance(values, list) else (values,)):
            assert res.params[name] == value, (cls, name)
    # ... and the options PyTorch has and fastgd does not are off by default there.
    for option in ("weight_decay", "momentum", "lr_decay", "initial_accumulator_value"):
        if option in torch_defaults and option not in _TORCH_NAMES[cls]:
            assert torch_defaults[option] == 0, (cls, option)
    assert not torch_defaults.get("amsgrad", False) and not torch_defaults.get("centered")


@pytest.mark.parametrize("key", sorted(k for k in SCHED_CASES if k.startswith("rates/")))
def test_schedule_rates_match_torch_lr_scheduler(key):
    case = SCHED_CASES[key]
    rates = _schedule(case["schedule"]).rates(case["lr"], case["epochs"])
    np.testing.assert_allclose(rates, SCHED_ARRAYS[key], rtol=RATE_RTOL, atol=0)


def test_step_decay_is_steplr_one_epoch_later():
    # The documented shift, checked on the recorded StepLR itself: stepping it once
    # before the first epoch (as the golden file did) gives step_decay's rates, so
    # without that step StepLR's rate in epoch e is step_decay's in epoch e - 1.
    case = SCHED_CASES["rates/step_lr"]
    assert case["pre_steps"] == 1
    ours = fg.step_decay(every=5, factor=0.5).rates(0.1, case["epochs"])
    np.testing.assert_array_equal(ours, SCHED_ARRAYS["rates/step_lr"])
    assert ours[3] == 0.1 and ours[4] == 0.05     # epochs 4 and 5: the drop comes at 5


@pytest.mark.parametrize("key", sorted(k for k in SCHED_CASES if k.startswith("trajectory/")))
def test_scheduled_trajectory_matches_torch(key):
    case = SCHED_CASES[key]
    got = _path(case, schedule=_schedule(case["schedule"]))
    assert_path_matches(got, SCHED_ARRAYS[key])
