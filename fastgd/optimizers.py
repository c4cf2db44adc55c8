r"""The optimisers: names, per-run hyper-parameters, defaults and exact update rules.

Each optimiser is declared once, below, as an `Optimizer` spec; the kernels'
update code (`fastgd._codegen`), the validation of its arguments and the table
below are made from it.  Every hyper-parameter is per run: it broadcasts with
``x0`` and ``lr`` in `fastgd.minimize` and sweeps in `fastgd.sweep`.

Notation: :math:`g_t = \nabla f(x_{t-1})` is the gradient of update ``t``
(``t = 1, 2, ...``, one per update: per epoch, or per mini-batch), evaluated
once per update at the current point; :math:`\eta_t` is the learning rate of
that update (``lr``, or the schedule's rate of the epoch).  All state starts at
zero.  The table shows each update exactly as the kernel evaluates it, for one
coordinate (``x``, its gradient ``g``, the rate ``rate``); the reference loops
in `fastgd.reference` evaluate the same expressions.

{table}

The math, for reading (:math:`\hat m`, :math:`\hat s` are Adam's bias-corrected
moments):
:math:`x \leftarrow x - \eta_t g` (gd);
:math:`v \leftarrow \beta v - \eta_t g,\ x \leftarrow x + v` (momentum, the tutorial's form);
:math:`v \leftarrow \mu v + g,\ x \leftarrow x - \eta_t v` (momentum_torch);
:math:`x \leftarrow x - \eta_t (g + \mu v)` after the same :math:`v` (nesterov);
:math:`s \leftarrow s + g^2,\ x \leftarrow x - \eta_t g / (\sqrt{s} + \epsilon)` (adagrad);
:math:`x \leftarrow x - \eta_t \hat m / (\sqrt{\hat s} + \epsilon)` (adam), plus
:math:`\eta_t \lambda x` (adamw).

Notes on the rules and the defaults
-----------------------------------
``momentum`` vs ``momentum_torch``
    With a constant rate the two give the same points (``v_seed = -eta v_torch``);
    they differ once the rate changes over time: the tutorial's velocity keeps the
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

from dataclasses import dataclass, field

__all__ = ["OPTIMIZERS", "Optimizer"]


@dataclass(frozen=True)
class Optimizer:
    """One optimiser, declared once: everything else is derived from this.

    The kernels' update code is generated from ``rule`` and ``prepare``
    (`fastgd._codegen`), the validation and defaults of `fastgd.minimize` from
    ``params`` and ``defaults``.

    Attributes
    ----------
    name : str
    params : tuple of str
        Its per-run hyper-parameters, in the order of the kernel's ``H[p, c]``
        rows; each is a name in `HYPER_PARAMETERS`.
    defaults : dict
        Default value of each hyper-parameter.
    state : tuple of str
        State kept per coordinate, zero at the start (velocity, moments).
    lane_state : tuple of str
        State kept per run, one at the start (running products).
    prepare : str
        Python statements run once per run and update, before the
        coordinates: they update ``lane_state`` from the hyper-parameters.
    rule : str
        Python statements for one coordinate: from the point ``x``, its
        gradient ``g``, the rate ``rate``, the hyper-parameters and both kinds
        of state, assign the new ``x`` and the new ``state``.  Operations are
        evaluated in the order written, as the reference loops in
        `fastgd.reference` write them.
    """

    name: str
    params: tuple
    defaults: dict
    rule: str
    state: tuple = ()
    lane_state: tuple = ()
    prepare: str = field(default="")


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

_ADAM_MOMENTS = """
m = beta1 * m + (1.0 - beta1) * g
s = beta2 * s + (1.0 - beta2) * g * g
"""
# The step m_hat / (sqrt(s_hat) + eps) is formed first, then scaled by the rate,
# as fastgd.reference writes it.
_ADAM_STEP = "(m / (1.0 - p1)) / (np.sqrt(s / (1.0 - p2)) + eps)"
_ADAM = dict(params=("beta1", "beta2", "eps"), state=("m", "s"), lane_state=("p1", "p2"),
             prepare="p1 = p1 * beta1\np2 = p2 * beta2")

_SPECS = (
    Optimizer("gd", (), {}, rule="x = x - rate * g"),
    Optimizer("momentum", ("momentum",), {"momentum": 0.9}, state=("v",),
              rule="v = momentum * v - rate * g\nx = x + v"),
    Optimizer("momentum_torch", ("momentum",), {"momentum": 0.9}, state=("v",),
              rule="v = momentum * v + g\nx = x - rate * v"),
    Optimizer("nesterov", ("momentum",), {"momentum": 0.9}, state=("v",),
              rule="v = momentum * v + g\nx = x - rate * (g + momentum * v)"),
    Optimizer("adagrad", ("eps",), {"eps": 1e-10}, state=("s",),
              rule="s = s + g * g\nx = x - rate * g / (np.sqrt(s) + eps)"),
    Optimizer("rmsprop", ("alpha", "eps"), {"alpha": 0.99, "eps": 1e-8}, state=("s",),
              rule="s = alpha * s + (1.0 - alpha) * g * g\n"
                   "x = x - rate * g / (np.sqrt(s) + eps)"),
    Optimizer("adam", defaults={"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              rule=_ADAM_MOMENTS + f"x = x - rate * ({_ADAM_STEP})", **_ADAM),
    Optimizer("adamw", params=("beta1", "beta2", "eps", "weight_decay"),
              defaults={"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
              rule=_ADAM_MOMENTS + f"x = x - rate * ({_ADAM_STEP} + weight_decay * x)",
              **{k: v for k, v in _ADAM.items() if k != "params"}),
)

SPECS = {spec.name: spec for spec in _SPECS}

#: Names of the optimisers, for ``optimizer=`` in `fastgd.minimize`.
OPTIMIZERS = tuple(SPECS)


def _table():
    """The optimisers as a reST table, made from their specs."""
    rows = []
    for spec in _SPECS:
        steps = [f"``{line}``" for line in (spec.prepare + "\n" + spec.rule).split("\n")
                 if line.strip()]
        params = ", ".join(f"``{p}`` ({spec.defaults[p]:g})" for p in spec.params) or "-"
        rows.append((f"``{spec.name}``", steps, params))
    widths = (20, max(len(s) for _, steps, _ in rows for s in steps) + 2,
              max(len(p) for *_, p in rows) + 2)
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(
        ("name", "update, as the kernel computes it", "hyper-parameters (default)"),
        widths)).rstrip(), rule]
    for name, steps, params in rows:
        for k, step in enumerate(steps):
            cells = (name if k == 0 else "", step, params if k == 0 else "")
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    lines.append(rule)
    return "\n".join(lines)


__doc__ = __doc__.replace("{table}", _table())
