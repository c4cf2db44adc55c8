r"""Learning-rate schedules: the rate of each epoch as a function of the epoch count.

Epochs are counted from 1; ``t = e - 1`` is the number of epochs completed
before epoch ``e``.  Every schedule is a pure function of the epoch count
(`step_decay` keeps the tutorial's repeated multiplication, which is one) and all
its parameters, except `multi_step`'s milestones, are per run: they broadcast
with ``x0`` and ``lr`` in `fastgd.minimize` and sweep by name in `fastgd.sweep`.
The rate of an epoch applies to all of its updates (mini-batches).

=====================  ==============================================================
schedule               rate of epoch ``e`` (``t = e - 1``)
=====================  ==============================================================
`step_decay`           ``lr * factor ** (e // every)`` (the tutorial's; repeated products)
`exponential_decay`    ``lr * factor ** t``
`multi_step`           ``lr * factor ** k``, k = number of milestones ``<= t``
`cosine_decay`         ``lr * (floor + (1 - floor) (1 + cos(pi min(t, T) / T)) / 2)``
`inverse_time`         ``lr / (1 + decay * t)``
`warmup`               ``lr * e / (W + 1)`` for ``e <= W``, then the schedule, from
                       its own first epoch
=====================  ==============================================================

Apart from `step_decay`, each gives PyTorch's rates when the PyTorch scheduler
is stepped after every epoch (``ExponentialLR``, ``MultiStepLR``,
``CosineAnnealingLR`` with ``eta_min = floor * lr``, ``LambdaLR``; the warm-up is
``LinearLR(start_factor=1/(W+1), total_iters=W)`` joined with ``SequentialLR``).
`Schedule.rates` shows the rates, computed by the kernel's own code.
"""

from dataclasses import dataclass, field, replace

import numpy as np

from . import _codegen, _kernels
from . import _validate as check

__all__ = ["Schedule", "cosine_decay", "exponential_decay", "inverse_time", "multi_step",
           "step_decay", "warmup"]


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule; build one with `step_decay`, `exponential_decay`,
    `multi_step`, `cosine_decay`, `inverse_time` or `warmup`.

    ``params`` maps each per-run parameter name to its value, a scalar or an
    array that broadcasts (and sweeps) with the other hyper-parameters per run.
    ``milestones`` (`multi_step` only) are shared by all runs.
    """

    name: str
    kind: int
    params: dict
    milestones: tuple = field(default=())

    def _hyper_parameters(self):
        """The validated per-run parameters, by name, as float64 arrays."""
        p = self.params
        hp = {}
        if self.kind == _kernels.STEP_DECAY:
            hp["every"] = _whole(p["every"], "every", low=1)
            hp["factor"] = check.hyper(p["factor"], "factor", low=0.0)
        elif self.kind in (_kernels.EXPONENTIAL, _kernels.MULTI_STEP):
            hp["factor"] = check.hyper(p["factor"], "factor", low=0.0)
        elif self.kind == _kernels.COSINE:
            hp["decay_epochs"] = check.hyper(p["decay_epochs"], "decay_epochs", low=0.0)
            hp["floor"] = check.hyper(p["floor"], "floor", low=0.0, low_open=False,
                                      high=1.0, high_open=False)
        elif self.kind == _kernels.INVERSE_TIME:
            hp["decay"] = check.hyper(p["decay"], "decay", low=0.0, low_open=False)
        if "warmup" in p:
            hp["warmup"] = _whole(p["warmup"], "warmup", low=0)
        return hp

    def _pack(self, per_run, size):
        """The kernel's ``(kind, schedule[p, run])`` from ``per_run(name)``, a
        function returning a parameter as a flat float64 array of ``size`` runs."""
        hp_names = [n for n in self._hyper_parameters() if n != "warmup"]
        rows = [per_run("warmup") if "warmup" in self.params else np.zeros(size)]
        rows += [per_run(name) for name in hp_names]
        rows += [np.full(size, float(m)) for m in self.milestones]
        return self.kind, np.ascontiguousarray(np.stack(rows))

    def rates(self, lr, epochs):
        """The learning rate of every epoch, as the kernel computes it.

        Parameters
        ----------
        lr : float or array_like
            Base rate(s); broadcasts with the schedule's parameters.
        epochs : int
            Number of epochs.

        Returns
        -------
        ndarray, shape batch + (epochs,)
            ``out[..., e - 1]`` is the rate of epoch ``e``.

        Examples
        --------
        >>> import fastgd as fg
        >>> fg.step_decay(every=2, factor=0.5).rates(1.0, 5).tolist()
        [1.0, 0.5, 0.5, 0.25, 0.25]
        >>> fg.warmup(fg.cosine_decay(decay_epochs=2), 3).rates(1.0, 6).tolist()
        [0.25, 0.5, 0.75, 1.0, 0.5, 0.0]
        """
        hp = {"lr": check.hyper(lr, "lr", low=0.0), **self._hyper_parameters()}
        epochs = check.integer(epochs, "epochs", low=1)
        try:
            shape = np.broadcast_shapes(*(a.shape for a in hp.values()))
        except ValueError:
            shapes = {k: a.shape for k, a in hp.items()}
            raise ValueError(f"lr and the schedule's parameters do not broadcast "
                             f"together: {shapes}") from None
        size = int(np.prod(shape))

        def per_run(name):
            return np.array(np.broadcast_to(hp[name], shape).reshape(-1), dtype=np.float64)
        kind, rows = self._pack(per_run, size)
        out = np.empty((size, epochs))
        _codegen.tool("rates")(kind, rows, per_run("lr"), out)
        return out.reshape(shape + (epochs,))


def _whole(value, name, *, low):
    arr = check.hyper(value, name, low=float(low), low_open=False)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be a whole number of epochs")
    return arr


def step_decay(every=10, factor=0.5):
    """Step decay, exactly as the tutorial's loop: multiply the rate by ``factor``
    at every epoch that is a multiple of ``every``, before that epoch's update.

    With epochs counted from 1, the rate used in epoch ``e`` is
    ``lr * factor ** (e // every)``, computed by repeated multiplication as the
    seed does.  PyTorch's ``StepLR(step_size=every, gamma=factor)``, stepped
    after each epoch, gives ``lr * factor ** ((e - 1) // every)``: the same
    rates one epoch later.  To get the tutorial's rates from StepLR, call
    ``scheduler.step()`` once before the first epoch.

    Parameters
    ----------
    every : int or array_like of int
        Period in epochs, >= 1.
    factor : float or array_like
        Multiplier, > 0.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> import fastgd as fg
    >>> res = fg.minimize(fg.problems.quartic, x0=2.1, lr=0.15, epochs=30,
    ...                   schedule=fg.step_decay(every=10, factor=0.5))
    >>> round(float(res.x[0]), 4)
    -1.673
    """
    return Schedule("step_decay", _kernels.STEP_DECAY, {"every": every, "factor": factor})


def exponential_decay(factor=0.99):
    """Exponential decay: the rate of epoch ``e`` is ``lr * factor ** (e - 1)``.

    The first epoch uses ``lr``.  PyTorch's ``ExponentialLR(gamma=factor)``
    stepped after each epoch (PyTorch multiplies repeatedly; here the power
    is taken afresh every epoch, so the last bits may differ).

    Parameters
    ----------
    factor : float or array_like
        Decay per epoch, > 0.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> import fastgd as fg
    >>> fg.exponential_decay(factor=0.5).rates(1.0, 4).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    return Schedule("exponential_decay", _kernels.EXPONENTIAL, {"factor": factor})


def multi_step(milestones, factor=0.1):
    """Multiply the rate by ``factor`` once each milestone is passed.

    The rate of epoch ``e`` is ``lr * factor ** k`` with ``k`` the number of
    milestones ``m`` with ``m <= e - 1``: after ``m`` completed epochs the rate
    drops, as PyTorch's ``MultiStepLR(milestones, gamma=factor)`` stepped after
    each epoch.  (`step_decay` drops one epoch earlier, the tutorial's way.)
    ``factor ** k`` is a product of ``k`` factors, as PyTorch forms it.

    Parameters
    ----------
    milestones : int or sequence of int
        Epoch counts >= 1, **shared by all runs** (they do not broadcast or
        sweep; run one batch per set of milestones).
    factor : float or array_like
        Multiplier, > 0; per run.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> import fastgd as fg
    >>> fg.multi_step([2, 3], factor=0.5).rates(1.0, 5).tolist()
    [1.0, 1.0, 0.5, 0.25, 0.25]
    """
    ms = np.atleast_1d(np.asarray(milestones))
    if ms.ndim != 1 or ms.size == 0 or not np.issubdtype(ms.dtype, np.number) \
            or np.issubdtype(ms.dtype, np.complexfloating) or np.any(ms != np.round(ms)) \
            or np.any(ms < 1):
        raise ValueError(f"milestones must be a non-empty sequence of whole numbers >= 1, "
                         f"shared by all runs; got {milestones!r}")
    return Schedule("multi_step", _kernels.MULTI_STEP, {"factor": factor},
                    milestones=tuple(sorted(int(m) for m in ms)))


def cosine_decay(decay_epochs, floor=0.0):
    r"""Cosine decay from ``lr`` to ``floor * lr`` over ``decay_epochs`` epochs.

    The rate of epoch ``e`` (``t = e - 1``, ``T = decay_epochs``) is
    :math:`\eta \,(\mathrm{floor} + (1 - \mathrm{floor})\,(1 + \cos(\pi \min(t, T) / T)) / 2)`,
    then stays at ``floor * lr``.  PyTorch's ``CosineAnnealingLR(T_max=T,
    eta_min=floor * lr)`` in its closed form, for ``t <= T``; optax's
    ``cosine_decay_schedule(lr, T, alpha=floor)``.

    Parameters
    ----------
    decay_epochs : float or array_like
        T > 0.
    floor : float or array_like
        Final rate as a fraction of ``lr``, in [0, 1]; default 0.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> import fastgd as fg
    >>> fg.cosine_decay(decay_epochs=4).rates(1.0, 6).round(4).tolist()
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """
    return Schedule("cosine_decay", _kernels.COSINE,
                    {"decay_epochs": decay_epochs, "floor": floor})


def inverse_time(decay):
    """Inverse-time decay: the rate of epoch ``e`` is ``lr / (1 + decay * (e - 1))``.

    Keras' ``InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`` per epoch.

    Parameters
    ----------
    decay : float or array_like
        >= 0 (0 keeps the rate constant).

    Returns
    -------
    Schedule

    Examples
    --------
    >>> import fastgd as fg
    >>> fg.inverse_time(decay=1.0).rates(1.0, 4).tolist()
    [1.0, 0.5, 0.3333333333333333, 0.25]
    """
    return Schedule("inverse_time", _kernels.INVERSE_TIME, {"decay": decay})


def warmup(schedule, epochs):
    """Linear warm-up for ``epochs`` epochs in front of ``schedule``.

    Epoch ``e <= W`` (``W = epochs``) uses ``lr * e / (W + 1)``; epoch ``W + k``
    uses the rate ``schedule`` gives its own epoch ``k``: the schedule starts
    after the warm-up.  PyTorch: ``LinearLR(start_factor=1/(W+1), total_iters=W)``
    joined to the schedule with ``SequentialLR(milestones=[W])``.

    Parameters
    ----------
    schedule : Schedule or None
        What follows the warm-up; None for a constant rate.
    epochs : int or array_like of int
        W >= 0, per run (0: no warm-up).

    Returns
    -------
    Schedule

    Examples
    --------
    >>> import fastgd as fg
    >>> fg.warmup(fg.step_decay(every=2, factor=0.5), 3).rates(1.0, 7).tolist()
    [0.25, 0.5, 0.75, 1.0, 0.5, 0.5, 0.25]
    >>> fg.warmup(None, 1).rates(2.0, 3).tolist()
    [1.0, 2.0, 2.0]
    """
    if schedule is None:
        schedule = Schedule("constant", _kernels.CONSTANT, {})
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a fastgd Schedule or None, "
                        f"got {type(schedule).__name__}")
    if "warmup" in schedule.params:
        raise ValueError("this schedule already has a warm-up")
    return replace(schedule, params={**schedule.params, "warmup": epochs})
