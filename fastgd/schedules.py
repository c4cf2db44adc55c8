"""Learning-rate schedules: the rate of each epoch as a function of the epoch count."""

from dataclasses import dataclass

from . import _kernels


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule; build one with `step_decay`.

    ``params`` maps each parameter name to its value, a scalar or an array
    that broadcasts (and sweeps) with the other hyper-parameters per run.
    """

    name: str
    kind: int
    params: dict


def step_decay(every=10, factor=0.5):
    """Step decay, exactly as the seed's loop: multiply the rate by ``factor``
    at every epoch that is a multiple of ``every``, before that epoch's update.

    With epochs counted from 1, the rate used in epoch ``e`` is
    ``lr * factor ** (e // every)``, computed by repeated multiplication as the
    seed does.  PyTorch's ``StepLR(step_size=every, gamma=factor)``, stepped
    after each epoch, gives ``lr * factor ** ((e - 1) // every)``: the same
    rates one epoch later.  To get the seed's rates from StepLR, call
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
    -1.6861
    """
    return Schedule("step_decay", _kernels.STEP_DECAY, {"every": every, "factor": factor})
