"""The tutorial's algorithms as plain-Python loops: one run at a time, the tutorial's way.

These are the oracle for the tests and the baseline for the benchmarks.  Each
formula is the tutorial's (``np.exp`` on Python floats, the same operations in the
same order), extended only with what fastgd adds to the tutorial's loops: the
early-exit tests, the divergence test and the status codes, with exactly the
kernels' semantics.

Examples
--------
The tutorial's first example, run the tutorial's way:

>>> from fastgd import reference as ref
>>> out = ref.descend(ref.exp_quadratic_grad, -3.0, lr=0.1, epochs=100,
...                   f=ref.exp_quadratic)
>>> round(float(out.x[0]), 6)
-0.351734
"""

from types import SimpleNamespace

import numpy as np

CONVERGED, MAX_EPOCHS, DIVERGED = 0, 1, 2


# --- the tutorial's functions --------------------------------------------------------

def exp_quadratic(x):
    return np.exp(x) + x ** 2


def exp_quadratic_grad(x):
    return np.exp(x) + x * 2


def quartic(x):
    return x ** 4 - 5 * x ** 2 + 2 * x + 10


def quartic_grad(x):
    return 4 * x ** 3 - 10 * x + 2


def saddle(x, y):
    return np.exp(x + y) + x ** 2 - y ** 2


def saddle_grad(x, y):
    """The tutorial's ``dfx`` and ``dfy``, as a pair."""
    return np.exp(x + y) + x * 2, np.exp(x + y) - y * 2


def exp_linear(x, a, b, c):
    """The tutorial's ``func``: the model of the curve fit."""
    return np.exp((-a) * x) + b * x + c


def exp_linear_loss(x, y, a, b, c):
    return np.mean((exp_linear(x, a, b, c) - y) ** 2)


def exp_linear_grad(x, y, a, b, c):
    """The tutorial's ``d_loss_a``, ``d_loss_b``, ``d_loss_c`` at (a, b, c)."""
    y_hat = exp_linear(x, a, b, c)
    return (np.mean(2 * (y_hat - y) * np.exp((-a) * x) * (-x)),
            np.mean(2 * (y_hat - y) * x),
            np.mean(2 * (y_hat - y)))


# --- the loops -------------------------------------------------------------------

def _as_tuple(value):
    # NumPy floats, as the tutorial's np.exp produces: an overflow gives inf (and
    # then a diverged status) where a Python float would raise OverflowError.
    values = value if isinstance(value, (tuple, list, np.ndarray)) else (value,)
    return tuple(np.float64(v) for v in values)


def descend(grad, x0, lr, epochs, *, f=None, momentum=None, every=None, factor=None,
            xtol=0.0, ftol=0.0, gtol=0.0, bound=1e100):
    """One run of gradient descent, the tutorial's loop with fastgd's stopping rules.

    Parameters
    ----------
    grad : callable
        ``grad(*x)`` returns the gradient (a float, or a tuple for several
        variables), like the tutorial's ``df``.
    x0 : float or tuple of float
    lr, epochs
        As in the tutorial.
    f : callable, optional
        ``f(*x)``; needed for ``ftol`` and the recorded values.
    momentum : float, optional
        The tutorial's momentum: ``v = beta * v - lr * g; x = x + v``.
    every, factor : optional
        The tutorial's step decay: ``if epoch % every == 0: lr = lr * factor``,
        before the epoch's update, epochs counted from 1.
    xtol, ftol, gtol, bound
        As in `fastgd.minimize`.

    Returns
    -------
    SimpleNamespace
        ``x`` (tuple), ``fun``, ``nit``, ``status`` and ``path`` (list of
        points) and ``values`` (list of f, when ``f`` is given).
    """
    with np.errstate(all="ignore"):  # a diverging run overflows; its status says so
        return _descend(grad, x0, lr, epochs, f, momentum, every, factor, xtol, ftol,
                        gtol, bound)


def _descend(grad, x0, lr, epochs, f, momentum, every, factor, xtol, ftol, gtol, bound):
    x = _as_tuple(x0)
    v = tuple(0 for _ in x)
    path = [x]
    values = [f(*x)] if f is not None else []
    status, nit = MAX_EPOCHS, epochs
    for epoch in range(1, epochs + 1):
        if every is not None and epoch % every == 0:
            lr = lr * factor
        g = _as_tuple(grad(*x))
        if gtol > 0 and np.sqrt(sum(gi * gi for gi in g)) <= gtol:
            status, nit = CONVERGED, epoch - 1
            break
        x_old = x
        if momentum is None:
            x = tuple(xi - lr * gi for xi, gi in zip(x, g))
        else:
            v = tuple(momentum * vi - lr * gi for vi, gi in zip(v, g))
            x = tuple(xi + vi for xi, vi in zip(x, v))
        path.append(x)
        if f is not None:
            values.append(f(*x))
        if not all(abs(xi) <= bound for xi in x):
            status, nit = DIVERGED, epoch
            break
        if ftol > 0 and abs(values[-1] - values[-2]) <= ftol:
            status, nit = CONVERGED, epoch
            break
        if xtol > 0 and np.sqrt(sum((a - b) ** 2 for a, b in zip(x, x_old))) <= xtol:
            status, nit = CONVERGED, epoch
            break
    fun = f(*x) if f is not None else None
    if fun is not None and not np.isfinite(fun):
        status = DIVERGED
    return SimpleNamespace(x=x, fun=fun, nit=nit, status=status, path=path, values=values)


def fit(x, y, theta0, lr, epochs, *, batch_size=None, shuffle=False, seed=0, run=0,
        momentum=None, every=None, factor=None):
    """The tutorial's curve fit of ``y = e^(-a x) + b x + c``, full batch or mini-batch.

    Full batch (``batch_size=None``) is the tutorial's first fitting loop;
    ``batch_size=10, shuffle=False`` its mini-batch loop (batches in the data's
    order).  ``shuffle=True`` visits the data in `shuffled_order` (seed, run,
    epoch), as the kernels do.

    Returns
    -------
    SimpleNamespace
        ``x`` = (a, b, c), ``fun`` (loss over all data), ``path`` (one point
        per epoch, from ``theta0``).
    """
    with np.errstate(all="ignore"):
        return _fit(x, y, theta0, lr, epochs, batch_size, shuffle, seed, run, momentum,
                    every, factor)


def _fit(x, y, theta0, lr, epochs, batch_size, shuffle, seed, run, momentum, every, factor):
    a, b, c = theta0
    va = vb = vc = 0
    path = [(a, b, c)]
    n = len(x)
    size = n if batch_size is None else batch_size
    for epoch in range(1, epochs + 1):
        if every is not None and epoch % every == 0:
            lr = lr * factor
        order = shuffled_order(seed, run, epoch, n) if shuffle and size < n else range(n)
        order = np.asarray(order)
        for j in range(0, n, size):
            rows = order[j:j + size]
            da, db, dc = exp_linear_grad(x[rows], y[rows], a, b, c)
            if momentum is None:
                a_new = a - lr * da
                b_new = b - lr * db
                c_new = c - lr * dc
            else:
                va = momentum * va - lr * da
                vb = momentum * vb - lr * db
                vc = momentum * vc - lr * dc
                a_new, b_new, c_new = a + va, b + vb, c + vc
            a = a_new
            b = b_new
            c = c_new
        path.append((a, b, c))
    return SimpleNamespace(x=(a, b, c), fun=exp_linear_loss(x, y, a, b, c), path=path)


# --- the shuffle, in plain Python ---------------------------------------------

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def shuffled_order(seed, run, epoch, n):
    """The order in which run ``run`` visits ``n`` data points in ``epoch``.

    splitmix64 in counter mode keyed by (seed, run, epoch), then Fisher-Yates;
    the kernels use the same algorithm, so mini-batch results can be checked
    here exactly.

    Examples
    --------
    >>> from fastgd.reference import shuffled_order
    >>> sorted(shuffled_order(0, 0, 1, 5))
    [0, 1, 2, 3, 4]
    """
    key = _mix((seed + _GOLDEN) & _MASK)
    key = _mix(key ^ ((run + _GOLDEN) & _MASK))
    key = _mix(key ^ ((epoch + _GOLDEN) & _MASK))
    out = list(range(n))
    for i in range(n - 1, 0, -1):
        r = _mix((key + (n - i) * _GOLDEN) & _MASK)
        j = ((r >> 32) * (i + 1)) >> 32
        out[i], out[j] = out[j], out[i]
    return out


# --- optimisers and schedules beyond the tutorial's (fastgd.optimizers, fastgd.schedules) ---
#
# Written from the rules documented in fastgd.optimizers and fastgd.schedules,
# one run at a time on Python floats, independently of the kernels: the tests
# compare whole trajectories with these.

def schedule_rates(lr, epochs, schedule=None, *, every=None, factor=None, milestones=(),
                   decay_epochs=None, floor=0.0, decay=None, warmup=0):
    """The learning rate of epochs 1..epochs under a named schedule.

    Parameters
    ----------
    lr : float
    epochs : int
    schedule : {None, 'step_decay', 'exponential_decay', 'multi_step',
                'cosine_decay', 'inverse_time'}
    every, factor, milestones, decay_epochs, floor, decay, warmup
        The schedule's parameters, scalars.

    Returns
    -------
    list of float

    Examples
    --------
    >>> from fastgd.reference import schedule_rates
    >>> schedule_rates(1.0, 4, "inverse_time", decay=1.0)
    [1.0, 0.5, 0.3333333333333333, 0.25]
    """
    import math

    rates = []
    lr_now = lr                       # step decay's running rate
    for epoch in range(1, epochs + 1):
        if epoch <= warmup:
            rates.append(lr * epoch / (warmup + 1))
            continue
        e = epoch - warmup
        t = e - 1
        if schedule == "step_decay":
            if e % every == 0:
                lr_now = lr_now * factor
            rate = lr_now
        elif schedule == "exponential_decay":
            rate = lr * factor ** float(t)
        elif schedule == "multi_step":
            rate = lr
            for m in milestones:
                if t >= m:
                    rate = rate * factor
        elif schedule == "cosine_decay":
            tt = min(t, decay_epochs)
            cosine = 0.5 * (1.0 + math.cos(math.pi * tt / decay_epochs))
            rate = lr * (floor + (1.0 - floor) * cosine)
        elif schedule == "inverse_time":
            rate = lr / (1.0 + decay * t)
        elif schedule is None:
            rate = lr
        else:
            raise ValueError(f"unknown schedule {schedule!r}")
        rates.append(rate)
    return rates


def optimize(grad, x0, rates, *, optimizer="gd", momentum=0.9, beta1=0.9, beta2=0.999,
             alpha=0.99, eps=None, weight_decay=0.01, f=None):
    """One run of any fastgd optimiser, one update per entry of ``rates``.

    Parameters
    ----------
    grad : callable
        ``grad(*x)`` returns the gradient (a float or a tuple), like the tutorial's ``df``.
    x0 : float or tuple of float
    rates : sequence of float
        The learning rate of each update (see `schedule_rates`).
    optimizer : str
        A name from `fastgd.OPTIMIZERS`.
    momentum, beta1, beta2, alpha, eps, weight_decay : float
        As in `fastgd.minimize`; ``eps`` defaults to 1e-10 for adagrad and
        1e-8 otherwise.
    f : callable, optional
        ``f(*x)``, for the recorded values.

    Returns
    -------
    SimpleNamespace
        ``x`` (tuple), ``path`` (points from ``x0`` on) and ``values``.

    Examples
    --------
    >>> from fastgd import reference as ref
    >>> out = ref.optimize(ref.quartic_grad, 2.0, [0.01] * 100, optimizer="adam")
    >>> len(out.path)
    101
    """
    import math

    if eps is None:
        eps = 1e-10 if optimizer == "adagrad" else 1e-8
    x = [float(v) for v in _as_tuple(x0)]
    n = len(x)
    v = [0.0] * n
    s = [0.0] * n
    p1 = p2 = 1.0
    path = [tuple(x)]
    values = [f(*x)] if f is not None else []
    for rate in rates:
        g = [float(gi) for gi in _as_tuple(grad(*x))]
        if optimizer in ("adam", "adamw"):
            p1 = p1 * beta1
            p2 = p2 * beta2
        for i in range(n):
            gi = g[i]
            if optimizer == "gd":
                x[i] = x[i] - rate * gi
            elif optimizer == "momentum":
                v[i] = momentum * v[i] - rate * gi
                x[i] = x[i] + v[i]
            elif optimizer == "momentum_torch":
                v[i] = momentum * v[i] + gi
                x[i] = x[i] - rate * v[i]
            elif optimizer == "nesterov":
                v[i] = momentum * v[i] + gi
                x[i] = x[i] - rate * (gi + momentum * v[i])
            elif optimizer == "adagrad":
                s[i] = s[i] + gi * gi
                x[i] = x[i] - rate * gi / (math.sqrt(s[i]) + eps)
            elif optimizer == "rmsprop":
                s[i] = alpha * s[i] + (1.0 - alpha) * gi * gi
                x[i] = x[i] - rate * gi / (math.sqrt(s[i]) + eps)
            elif optimizer in ("adam", "adamw"):
                v[i] = beta1 * v[i] + (1.0 - beta1) * gi
                s[i] = beta2 * s[i] + (1.0 - beta2) * gi * gi
                m_hat = v[i] / (1.0 - p1)
                s_hat = s[i] / (1.0 - p2)
                step = m_hat / (math.sqrt(s_hat) + eps)
                if optimizer == "adam":
                    x[i] = x[i] - rate * step
                else:
                    x[i] = x[i] - rate * (step + weight_decay * x[i])
            else:
                raise ValueError(f"unknown optimizer {optimizer!r}")
        path.append(tuple(x))
        if f is not None:
            values.append(f(*x))
    return SimpleNamespace(x=tuple(x), path=path, values=values)
