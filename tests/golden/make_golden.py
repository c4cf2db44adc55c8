"""Regenerate the golden trajectories of ``tests/golden/*.npz`` with PyTorch.

Run by hand, from the repository root, with PyTorch installed (any CPU build)::

    python tests/golden/make_golden.py

The test suite compares fastgd with these files in every run, so the update rules
and schedules are checked against ``torch.optim`` and ``torch.optim.lr_scheduler``
even where PyTorch is not installed (CI installs no torch).  Nothing here imports
fastgd: every case is written with PyTorch's own classes, its own hyper-parameter
names and defaults, and gradients from the formulas of the tutorial (``np.exp``
on Python floats, the same functions `fastgd.reference` writes down), fed to the
optimiser through ``p.grad`` as a user with an analytic gradient would.

Files written:

``optimizers.npz``
    One trajectory per case (optimiser x problem x hyper-parameters x start):
    the point after every epoch, from the start, shape (epochs + 1, dim).
``schedules.npz``
    The rate each scheduler hands to the optimiser in epochs 1..n, and SGD / Adam
    trajectories driven by a scheduler stepped after each epoch.

Each file holds ``__meta__``: a JSON string with the torch version, torch's
default hyper-parameters per optimiser, and every case's settings under both
names (``torch``: what was passed to PyTorch; ``fastgd``: the same settings in
`fastgd.minimize`'s words), so the tests read the cases from the file.
"""

import json
import os
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


# --- problems: value of the gradient at a point, the tutorial's formulas --------------

def quartic_grad(x):
    return (4 * x * x * x - 10 * x + 2,)


def saddle_grad(x, y):
    return (np.exp(x + y) + x * 2, np.exp(x + y) - y * 2)


def rosenbrock_grad(x, y):
    r = y - x * x
    return (-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r)


def fit_data(n=40, seed=5):
    """Data like the tutorial's curve fit: y = e^(-1.2 x) + 3.4 x + 5.6 + noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, n)
    y = np.exp(-1.2 * x) + 3.4 * x + 5.6 + rng.standard_normal(n) * 0.01
    return x, y


def fit_grad(x, y):
    """The tutorial's d_loss_a, d_loss_b, d_loss_c at (a, b, c) on the rows given."""
    def grad(a, b, c):
        e = np.exp((-a) * x)
        r = 2 * (e + b * x + c - y)
        return (np.mean(r * e * (-x)), np.mean(r * x), np.mean(r))
    return grad


FIT_X, FIT_Y = fit_data()

PROBLEMS = {
    # name: (gradient, starts, epochs)
    "quartic": (quartic_grad, [(2.0,), (-1.3,), (0.4,)], 120),
    "saddle": (saddle_grad, [(1.0, 1.0), (-1.0, 0.5)], 100),
    "rosenbrock": (rosenbrock_grad, [(-1.2, 1.0), (0.5, -0.5)], 150),
    "exp_linear_fit": (fit_grad(FIT_X, FIT_Y), [(1.0, 2.0, 3.0), (1.5, 3.0, 6.0)], 80),
}

# lr per (optimiser family, problem): stable, and large enough to move.
LR = {
    "sgd": {"quartic": 0.01, "saddle": 0.01, "rosenbrock": 5e-4, "exp_linear_fit": 2e-4},
    "adaptive": {"quartic": 0.01, "saddle": 0.01, "rosenbrock": 0.01,
                 "exp_linear_fit": 3e-3},
}


# --- optimisers: PyTorch's name and arguments, and fastgd's ------------------------------

def _adam_pair(cls, beta1, beta2, eps, **extra):
    return (cls, dict(betas=(beta1, beta2), eps=eps, **extra),
            dict(beta1=beta1, beta2=beta2, eps=eps, **extra))


OPTIMIZERS = {
    # case: (fastgd name, family, torch class, torch kwargs, fastgd kwargs)
    "sgd": ("gd", "sgd", "SGD", {}, {}),
    "sgd_momentum": ("momentum_torch", "sgd", "SGD", dict(momentum=0.8),
                     dict(momentum=0.8)),
    "sgd_nesterov": ("nesterov", "sgd", "SGD", dict(momentum=0.85, nesterov=True),
                     dict(momentum=0.85)),
    "adagrad": ("adagrad", "adaptive", "Adagrad", dict(eps=1e-8), dict(eps=1e-8)),
    "rmsprop": ("rmsprop", "adaptive", "RMSprop", dict(alpha=0.9, eps=1e-6),
                dict(alpha=0.9, eps=1e-6)),
    "adam": ("adam", "adaptive", "Adam", dict(betas=(0.8, 0.99), eps=1e-7),
             dict(beta1=0.8, beta2=0.99, eps=1e-7)),
    "adamw": ("adamw", "adaptive", "AdamW",
              dict(betas=(0.85, 0.995), eps=1e-8, weight_decay=0.05),
              dict(beta1=0.85, beta2=0.995, eps=1e-8, weight_decay=0.05)),
}

# The same optimisers with PyTorch's defaults: fastgd is called with no
# hyper-parameter at all.  SGD has no default momentum (0 means none): it is
# given fastgd's documented default, 0.9.
DEFAULTS = {
    "sgd_momentum": ("momentum_torch", "sgd", "SGD", dict(momentum=0.9), {}),
    "sgd_nesterov": ("nesterov", "sgd", "SGD", dict(momentum=0.9, nesterov=True), {}),
    "adagrad": ("adagrad", "adaptive", "Adagrad", {}, {}),
    "rmsprop": ("rmsprop", "adaptive", "RMSprop", {}, {}),
    "adam": ("adam", "adaptive", "Adam", {}, {}),
    "adamw": ("adamw", "adaptive", "AdamW", {}, {}),
}


def descend(grad, x0, opt, epochs, *, batches=None, make_sched=None):
    """The trajectory of one run: the point after every epoch.

    ``batches``: for the curve fit, the rows of each update of an epoch (None: one
    full-batch update per epoch).  ``make_sched(lr_scheduler, opt)``: a scheduler,
    stepped after each epoch.
    """
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    cls, lr, kwargs = opt
    opt = getattr(torch.optim, cls)([p], lr=lr, **kwargs)
    sched = make_sched(torch.optim.lr_scheduler, opt) if make_sched else None
    path = [p.detach().numpy().copy()]
    for _ in range(epochs):
        for rows in (batches or [None]):
            point = [float(v) for v in p.detach().tolist()]
            g = grad(*point) if rows is None else fit_grad(FIT_X[rows], FIT_Y[rows])(*point)
            p.grad = torch.tensor([float(v) for v in g], dtype=torch.float64)
            opt.step()
        if sched is not None:
            sched.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


def optimizer_cases():
    arrays, cases = {}, []
    for label, table in (("custom", OPTIMIZERS), ("defaults", DEFAULTS)):
        problems = PROBLEMS if label == "custom" else ("quartic", "rosenbrock")
        for case, (name, family, cls, t_kw, f_kw) in table.items():
            for prob in problems:
                grad, starts, epochs = PROBLEMS[prob]
                lr = LR[family][prob]
                for k, x0 in enumerate(starts):
                    key = f"{label}/{case}/{prob}/{k}"
                    arrays[key] = descend(grad, x0, (cls, lr, t_kw), epochs)
                    cases.append(dict(key=key, problem=prob, x0=list(x0), lr=lr,
                                      epochs=epochs,
                                      torch=dict(cls=cls, **_jsonable(t_kw)),
                                      fastgd=dict(optimizer=name, **f_kw)))
    # Mini-batches in the data's order: Adam's bias correction counts updates.
    batches = [np.arange(j, j + 10) for j in range(0, FIT_X.size, 10)]
    for case in ("sgd_momentum", "adam", "rmsprop"):
        name, family, cls, t_kw, f_kw = OPTIMIZERS[case]
        key = f"minibatch/{case}/exp_linear_fit/0"
        lr = LR[family]["exp_linear_fit"]
        arrays[key] = descend(None, (1.0, 2.0, 3.0), (cls, lr, t_kw), 25, batches=batches)
        cases.append(dict(key=key, problem="exp_linear_fit", x0=[1.0, 2.0, 3.0], lr=lr,
                          epochs=25, torch=dict(cls=cls, **_jsonable(t_kw)),
                          fastgd=dict(optimizer=name, batch_size=10, shuffle=False, **f_kw)))
    return arrays, cases


# --- schedulers -------------------------------------------------------------------------

SCHEDULES = {
    # case: (make scheduler, fastgd schedule as (name, kwargs), epochs, steps before epoch 1)
    # StepLR with the documented shift: one step() before the first epoch.
    "step_lr": (lambda s, o: s.StepLR(o, step_size=5, gamma=0.5),
                ("step_decay", dict(every=5, factor=0.5)), 40, 1),
    "step_lr_0.3": (lambda s, o: s.StepLR(o, step_size=7, gamma=0.3),
                    ("step_decay", dict(every=7, factor=0.3)), 40, 1),
    "exponential_lr": (lambda s, o: s.ExponentialLR(o, gamma=0.93),
                       ("exponential_decay", dict(factor=0.93)), 40, 0),
    "multi_step_lr": (lambda s, o: s.MultiStepLR(o, milestones=[4, 9, 15], gamma=0.2),
                      ("multi_step", dict(milestones=[4, 9, 15], factor=0.2)), 40, 0),
    # Only up to T_max: past it PyTorch's recursive form rises again, fastgd's stays
    # at the floor.  eta_min is absolute in PyTorch, a fraction of lr in fastgd.
    "cosine_annealing_lr": (lambda s, o: s.CosineAnnealingLR(
        o, T_max=30, eta_min=0.1 * o.defaults["lr"]),
                            ("cosine_decay", dict(decay_epochs=30, floor=0.1)), 31, 0),
    "warmup_linear_exponential": (
        lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=1 / 5, total_iters=4),
                                        s.ExponentialLR(o, gamma=0.9)], milestones=[4]),
        ("warmup", dict(epochs=4, then=("exponential_decay", dict(factor=0.9)))), 40, 0),
    "warmup_linear": (lambda s, o: s.LinearLR(o, start_factor=1 / 7, total_iters=6),
                      ("warmup", dict(epochs=6, then=None)), 30, 0),
    "lambda_inverse_time": (lambda s, o: s.LambdaLR(o, lambda t: 1 / (1 + 0.3 * t)),
                            ("inverse_time", dict(decay=0.3)), 40, 0),
}


def rates(make, epochs, pre_steps, lr=0.1):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(torch.optim.lr_scheduler, opt)
    for _ in range(pre_steps):
        sched.step()
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros_like(p)
        opt.step()
        sched.step()
    return np.array(out)


def schedule_cases():
    arrays, cases = {}, []
    for case, (make, spec, epochs, pre) in SCHEDULES.items():
        key = f"rates/{case}"
        arrays[key] = rates(make, epochs, pre)
        cases.append(dict(key=key, lr=0.1, epochs=epochs, pre_steps=pre, schedule=spec))
    # Whole trajectories: optimiser and scheduler together, on the quartic.
    for case, opt_case in (("step_lr", "sgd"), ("multi_step_lr", "sgd_momentum"),
                           ("cosine_annealing_lr", "adam"),
                           ("warmup_linear_exponential", "adam")):
        make, spec, epochs, pre = SCHEDULES[case]
        name, family, cls, t_kw, f_kw = OPTIMIZERS[opt_case]
        for k, x0 in enumerate([(2.0,), (-0.7,)]):
            key = f"trajectory/{case}/{opt_case}/{k}"

            def make_sched(s, o, make=make, pre=pre):
                sched = make(s, o)
                for _ in range(pre):
                    sched.step()
                return sched
            arrays[key] = descend(quartic_grad, x0, (cls, 0.02, t_kw), epochs,
                                  make_sched=make_sched)
            cases.append(dict(key=key, problem="quartic", x0=list(x0), lr=0.02,
                              epochs=epochs, schedule=spec,
                              fastgd=dict(optimizer=name, **f_kw)))
    return arrays, cases


# --- writing ------------------------------------------------------------------------------

def _jsonable(kw):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}


def torch_defaults():
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    out = {}
    for cls in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW"):
        d = getattr(torch.optim, cls)([p], lr=0.1).defaults
        out[cls] = {k: _jsonable({k: v})[k] for k, v in d.items()
                    if isinstance(v, (int, float, tuple)) and not isinstance(v, bool)
                    and k != "lr"}
    return out


def write(name, arrays, cases):
    meta = dict(generator="tests/golden/make_golden.py", torch=torch.__version__,
                numpy=np.__version__, torch_defaults=torch_defaults(), cases=cases)
    arrays = dict(arrays, __meta__=np.array(json.dumps(meta)))
    if name == "optimizers":
        arrays["data/exp_linear_fit/x"], arrays["data/exp_linear_fit/y"] = FIT_X, FIT_Y
    path = os.path.join(HERE, name + ".npz")
    np.savez_compressed(path, **arrays)
    print(f"wrote {path}: {len(cases)} cases, {os.path.getsize(path):,} bytes")


def main():
    # Stepping a scheduler before the first optimiser step is the documented way
    # to get step_decay's rates from StepLR; PyTorch warns about it.
    warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
    torch.set_default_dtype(torch.float64)
    write("optimizers", *optimizer_cases())
    write("schedules", *schedule_cases())


if __name__ == "__main__":
    main()
