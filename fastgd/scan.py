"""Learning-rate scan: which rates are too slow, converge, oscillate or diverge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._api import sweep
from .result import Result, Status

if TYPE_CHECKING:
    from .problem import Problem

#: The classes of `lr_scan`, from the smallest rates to the largest.
CLASSES = ("too slow", "converging", "oscillating", "diverging")


@dataclass(frozen=True, eq=False)
class LRScan:
    """Outcome of `lr_scan`: one class per learning rate.

    Attributes
    ----------
    lrs : ndarray, shape (n,)
        The rates, sorted ascending.
    classes : ndarray of str, shape (n,)
        One of `CLASSES` per rate.
    result : Result
        The sweep behind it (dim ``'lr'``), with every trajectory recorded.
    best : float
        Lowest final objective over the converging rates (over all the rates
        that did not diverge when none converges).
    x0 : ndarray
        The start point.
    epochs : int
    rtol : float
        Relative tolerance of "stopped changing".
    ask : tuple of float
        Rates that `summary` answers for by name.
    """

    lrs: np.ndarray
    classes: np.ndarray
    result: Result
    best: float
    x0: np.ndarray
    epochs: int
    rtol: float
    ask: tuple = ()

    def classify(self, lr):
        """Class of the scanned rate nearest to ``lr`` (nearest in log scale).

        Examples
        --------
        >>> import fastgd as fg
        >>> scan = fg.lr_scan(fg.problems.exp_quadratic, -3.0, [1e-4, 0.1, 0.8], 100)
        >>> scan.classify(0.8)
        'diverging'
        """
        i = int(np.argmin(np.abs(np.log(self.lrs) - np.log(float(lr)))))
        return str(self.classes[i])

    def ranges(self):
        """Consecutive runs of rates with the same class.

        Returns
        -------
        list of (str, float, float)
            ``(class, lowest rate, highest rate)``, in increasing rate order.
        """
        out = []
        for lr, cls in zip(self.lrs.tolist(), self.classes.tolist()):
            if out and out[-1][0] == cls:
                out[-1][2] = lr
            else:
                out.append([cls, lr, lr])
        return [tuple(r) for r in out]

    def _explain(self, lr):
        i = int(np.argmin(np.abs(np.log(self.lrs) - np.log(float(lr)))))
        cls = str(self.classes[i])
        xs, fs = self.result.path(i)
        if cls == "diverging":
            why = f"it blew up after {int(self.result.nit[i])} epochs"
        elif cls == "too slow":
            why = (f"after {self.epochs} epochs f fell only from {fs[0]:.4g} to "
                   f"{fs[-1]:.4g}, while the best rate reached f = {self.best:.4g}")
        elif cls == "oscillating":
            why = f"it jumps back and forth without settling and ends at f = {fs[-1]:.4g}"
        else:
            why = f"it settles at f = {fs[-1]:.4g}"
            if fs[-1] - self.best > self.rtol * (1 + abs(self.best)):
                why += f" (x = {_fmt(xs[-1])}), above the best rate's f = {self.best:.4g}"
        return f"lr={float(self.lrs[i]):g} is {cls}: {why}"

    def summary(self):
        """One paragraph: the ranges of each class, then each rate of ``ask``.

        Examples
        --------
        >>> import numpy as np, fastgd as fg
        >>> scan = fg.lr_scan(fg.problems.exp_quadratic, -3.0,
        ...                   np.geomspace(1e-5, 1, 30), 100, ask=(1e-4, 0.8))
        >>> print(scan.summary())  # doctest: +NORMALIZE_WHITESPACE
        From x0=-3 with 100 epochs, lr from 1e-05 to 0.0281 is too slow, from 0.0418
        to 0.672 converges, from 0.8 to 1 diverges. lr=0.0001 is too slow: after 100
        epochs f fell only from 9.05 to 8.703, while the best rate reached f = 0.8272.
        lr=0.8 is diverging: it blew up after 8 epochs.
        """
        start = ", ".join(f"{v:g}" for v in np.ravel(self.x0))
        verbs = {"too slow": "is too slow", "converging": "converges",
                 "oscillating": "oscillates", "diverging": "diverges"}
        spans = [(f"{lo:.3g}" if lo == hi else f"from {lo:.3g} to {hi:.3g}")
                 + f" {verbs[cls]}" for cls, lo, hi in self.ranges()]
        text = f"From x0={start} with {self.epochs} epochs, lr {', '.join(spans)}."
        for lr in self.ask:
            text += " " + self._explain(lr) + "."
        return text


def _fmt(x):
    return ", ".join(f"{v:.4g}" for v in np.ravel(x))


def _settled(fs, rtol, window):
    """Whether f stayed within ``rtol * (1 + |f|)`` over the last ``window`` epochs."""
    tail = fs[-(window + 1):]
    return bool(np.ptp(tail) <= rtol * (1 + abs(tail[-1])))


def _oscillates(xs):
    """Whether consecutive steps mostly point in opposite directions (last half)."""
    steps = np.diff(xs, axis=0)
    steps = steps[steps.shape[0] // 2:]
    dots = np.einsum("ij,ij->i", steps[1:], steps[:-1])
    moving = dots != 0
    return bool(moving.any() and np.mean(dots[moving] < 0) >= 0.5)


def lr_scan(problem: Problem, x0: ArrayLike, lrs: ArrayLike, epochs: int, *,
            ask: ArrayLike = (), rtol: float = 1e-6, **options: Any) -> LRScan:
    r"""Classify learning rates as too slow, converging, oscillating or diverging.

    Runs `fastgd.sweep` over ``lrs`` (plus the rates in ``ask``) from one
    start point, recording every trajectory, and classifies each rate:

    1. **diverging**: the run's status is `Status.DIVERGED` (a coordinate
       passed ``bound`` or the point or objective stopped being finite).
    2. **converging**: the run has stopped changing, wherever it ends (a
       function with several minima has several places to converge to): it
       met a tolerance (`Status.CONVERGED`), or over its last
       ``max(2, epochs // 10)`` epochs f varied by at most
       :math:`rtol\,(1 + |f|)`.
    3. **oscillating**: otherwise, if in the last half of the trajectory at
       least half of the consecutive steps reverse direction
       (:math:`\Delta x_{k+1} \cdot \Delta x_k < 0`, zero steps ignored).
    4. **too slow**: otherwise: it moves steadily but has not got there.

    Parameters
    ----------
    problem : Problem
    x0 : float or array_like, shape (dim,)
        One start point.
    lrs : array_like, shape (n,)
        Rates to try, > 0.
    epochs : int
    ask : sequence of float, optional
        Rates to answer for by name in `LRScan.summary`; added to ``lrs``.
    rtol : float, default 1e-6
        Relative tolerance of rule 2.
    **options
        Other arguments of `fastgd.minimize` (``optimizer``, ``momentum``,
        ``schedule``...); ``record`` is always True here.

    Returns
    -------
    LRScan

    Examples
    --------
    The tutorial's question: what do rates near 0.0001 and 0.8 do?

    >>> import numpy as np, fastgd as fg
    >>> scan = fg.lr_scan(fg.problems.exp_quadratic, -3.0,
    ...                   np.geomspace(1e-5, 1, 30), 100, ask=(1e-4, 0.8))
    >>> scan.classify(1e-4), scan.classify(0.8)
    ('too slow', 'diverging')

    The quartic from 2.0: small rates settle in the local minimum at 1.4696,
    larger ones jump to the global one at -1.6730.

    >>> scan = fg.lr_scan(fg.problems.quartic, 2.0, [1e-4, 0.01, 0.06, 0.133, 0.3], 300)
    >>> scan.classes.tolist(), np.round(scan.result.x[1:3, 0], 4).tolist()
    (['too slow', 'converging', 'converging', 'oscillating', 'diverging'], [1.4696, 1.4696])
    """
    if "record" in options:
        raise TypeError("lr_scan records every run itself; do not pass record=")
    lrs = np.unique(np.concatenate([np.ravel(np.asarray(lrs, dtype=float)),
                                    np.asarray(ask, dtype=float).ravel()]))
    if lrs.size == 0:
        raise ValueError("lrs must not be empty")
    x0 = np.asarray(x0, dtype=float)
    res = sweep(problem, x0=x0, lr=lrs, epochs=epochs, record=True, **options)
    diverged = res.status == Status.DIVERGED
    window = max(2, int(epochs) // 10)
    classes = np.empty(lrs.size, dtype="<U11")
    for i in range(lrs.size):
        xs, fs = res.path(i)
        if diverged[i]:
            classes[i] = "diverging"
        elif res.status[i] == Status.CONVERGED or _settled(fs, rtol, window):
            classes[i] = "converging"
        elif _oscillates(xs):
            classes[i] = "oscillating"
        else:
            classes[i] = "too slow"
    pool = res.fun[classes == "converging"]
    pool = pool if pool.size else res.fun[~diverged]
    best = float(np.min(pool)) if pool.size else np.nan
    return LRScan(lrs=lrs, classes=classes, result=res, best=best, x0=x0,
                  epochs=int(epochs), rtol=float(rtol),
                  ask=tuple(float(a) for a in np.ravel(ask)))
