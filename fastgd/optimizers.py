r"""The optimisers: names, per-run hyper-parameters, defaults and exact update rules.

Every optimiser runs inside the one kernel (an integer switch, see
``shared/PERFORMANCE.md``), and every hyper-parameter is per run: it broadcasts
with ``x0`` and ``lr`` in `fastgd.minimize` and sweeps in `fastgd.sweep`.

Notation: :math:`g_t = \nabla f(x_{t-1})` is the gradient of update ``t``
(``t = 1, 2, ...``, one per update: per epoch, or per mini-batch), evaluated
once per update at the current point; :math:`\eta_t` is the learning rate of
that update (``lr``, or the schedule's rate of the epoch).  All state starts at
zero.  Operations are written in the order the kernel evaluates them; the
reference loops in `fastgd.reference` evaluate the same expressions.

===================  ==========================================================  ==========================
name                 update                                                      hyper-parameters (default)
===================  ==========================================================  ==========================
``gd``               :math:`x \leftarrow x - \eta_t g`                           -
``momentum``         :math:`v \leftarrow \beta v - \eta_t g;\ x \leftarrow x + v`  ``momentum`` (0.9)
                     (the seed's form: the rate is inside the velocity)
``momentum_torch``   :math:`v \leftarrow \mu v + g;\ x \leftarrow x - \eta_t v`  ``momentum`` (0.9)
                     (PyTorch's ``SGD(momentum=mu)``, optax's ``sgd(momentum=mu)``)
``nesterov``         :math:`v \leftarrow \mu v + g;\                              ``momentum`` (0.9)
                     x \leftarrow x - \eta_t (g + \mu v)`
                     (PyTorch's ``SGD(momentum=mu, nesterov=True)``)
``adagrad``          :math:`s \leftarrow s + g^2;\                                ``eps`` (1e-10)
                     x \leftarrow x - \eta_t g / (\sqrt{s} + \epsilon)`
``rmsprop``          :math:`s \leftarrow \alpha s + (1 - \alpha) g^2;\            ``alpha`` (0.99),
                     x \leftarrow x - \eta_t g / (\sqrt{s} + \epsilon)`          ``eps`` (1e-8)
``adam``             :math:`m \leftarrow \beta_1 m + (1 - \beta_1) g;\            ``beta1`` (0.9),
                     s \leftarrow \beta_2 s + (1 - \beta_2) g^2;`                 ``beta2`` (0.999),
                     :math:`\hat m = m / (1 - \beta_1^t);\                        ``eps`` (1e-8)
                     \hat s = s / (1 - \beta_2^t);`
                     :math:`x \leftarrow x - \eta_t \hat m / (\sqrt{\hat s} + \epsilon)`
``adamw``            as ``adam``, with decoupled weight decay:                   as ``adam``, and
                     :math:`x \leftarrow x - \eta_t (\hat m / (\sqrt{\hat s}      ``weight_decay`` (0.01)
                     + \epsilon) + \lambda x)`
===================  ==========================================================  ==========================

Notes on the rules and the defaults
-----------------------------------
``momentum`` vs ``momentum_torch``
    With a constant rate the two give the same points (``v_seed = -eta v_torch``);
    they differ once the rate changes over time: the seed's velocity keeps the
    old rates, PyTorch's picks up the new rate at once.
``nesterov``
    PyTorch's (and optax's) form, with the gradient at the current point only.
    Sutskever et al.'s form, :math:`v \leftarrow \mu v - \eta \nabla f(x + \mu v)`,
    gives the same points shifted by :math:`\mu v` under a constant rate.
``adagrad``
    Duchi et al. (2011) as PyTorch writes it (``eps`` outside the root,
    ``initial_accumulator_value=0``, ``lr_decay=0``).  optax's ``adagrad`` starts
    the accumulator at 0.1 and puts ``eps=1e-7`` inside the root.
``rmsprop``
    Tieleman and Hinton (2012), PyTorch's defaults and form (``alpha=0.99``,
    ``eps`` outside the root, not centered, no momentum).  optax's ``rmsprop``
    and Keras use a decay of 0.9; optax puts ``eps`` inside the root.
``adam``
    Kingma and Ba (2015), Algorithm 1, with bias correction; ``beta1**t`` and
    ``beta2**t`` are kept as running products (one multiplication per update).
    Defaults as in the paper, PyTorch and optax.  PyTorch folds the corrections
    into the step differently (same value, last bits may differ).
``adamw``
    Loshchilov and Hutter (2019): the decay acts on the point before the
    update and is scaled by the (scheduled) rate, as in PyTorch's and optax's
    ``adamw``.  Default ``weight_decay=0.01`` as PyTorch; optax's default is 1e-4.
"""

from dataclasses import dataclass

from . import _kernels

__all__ = ["OPTIMIZERS", "Optimizer"]


@dataclass(frozen=True)
class Optimizer:
    """One optimiser: its kernel code and its per-run hyper-parameters.

    Attributes
    ----------
    name : str
    code : int
        The kernel's switch value.
    params : tuple of str
        Names of its hyper-parameters, in the order of the kernel's
        ``hyper[p, run]`` rows.
    defaults : dict
        Default value of each hyper-parameter.
    """

    name: str
    code: int
    params: tuple
    defaults: dict


# Valid range of each hyper-parameter: (low, high, low_open, high_open).
_RANGES = {
    "momentum": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "alpha": (0.0, 1.0, False, True),
    "eps": (0.0, None, True, True),
    "weight_decay": (0.0, None, False, True),
}

#: Every per-run hyper-parameter an optimiser may take, in `sweep`'s axis order.
HYPER_PARAMETERS = tuple(_RANGES)

_SPECS = (
    Optimizer("gd", _kernels.GD, (), {}),
    Optimizer("momentum", _kernels.MOMENTUM, ("momentum",), {"momentum": 0.9}),
    Optimizer("momentum_torch", _kernels.MOMENTUM_TORCH, ("momentum",), {"momentum": 0.9}),
    Optimizer("nesterov", _kernels.NESTEROV, ("momentum",), {"momentum": 0.9}),
    Optimizer("adagrad", _kernels.ADAGRAD, ("eps",), {"eps": 1e-10}),
    Optimizer("rmsprop", _kernels.RMSPROP, ("alpha", "eps"), {"alpha": 0.99, "eps": 1e-8}),
    Optimizer("adam", _kernels.ADAM, ("beta1", "beta2", "eps"),
              {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    Optimizer("adamw", _kernels.ADAMW, ("beta1", "beta2", "eps", "weight_decay"),
              {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}),
)

SPECS = {spec.name: spec for spec in _SPECS}

#: Names of the optimisers, for ``optimizer=`` in `fastgd.minimize`.
OPTIMIZERS = tuple(SPECS)
