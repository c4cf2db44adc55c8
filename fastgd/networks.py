"""Data-matrix problems: small networks and regressions whose data are rows of features.

`mlp` builds a fully connected network with an analytic batched gradient
(backpropagation written over the lanes of a block of runs); `linear_regression`
and `logistic_regression` are its one-layer cases.  The data are packed into the
problem's data array, one column per data point (features, then targets), so
mini-batches and per-run shuffles work exactly as for the tutorial's curve fit:
``batch_size=`` and ``shuffle=`` of `fastgd.minimize`.

The model
---------
Layer sizes ``n_0 = features, n_1 = ... = n_{L-1} = width, n_L = outputs`` for
``depth = L`` weight layers.  With ``h_0 = x``, for ``l = 1 .. L``::

    a_l = s_l * (h_{l-1} @ W_l) + b_l        W_l of shape (n_{l-1}, n_l)
    h_l = act(a_l)  (l < L),   output  f = a_L

``act`` is ``tanh(sqrt(2) a)``, ``sqrt(2) relu(a)`` or ``a`` (the gains keep the
activations' scale, as in Sohl-Dickstein's trainability notebook).  The
parameterisation sets the multipliers and the initial weights:

==============  ===============================================  ================
name            s_l                                              initial W_l
==============  ===============================================  ================
``mean_field``  ``1/sqrt(n_{l-1})``, last layer ``1/n_{L-1}``    N(0, 1)
``standard``    1                                                N(0, 1/n_{l-1})
==============  ===============================================  ================

Biases start at zero.  The loss is the mean over data points and outputs of
``(f - y)**2`` (``loss="mse"``) or of the logistic loss
``log(1 + e**f) - y f`` with targets in [0, 1] (``loss="logistic"``, the binary
cross-entropy of ``sigmoid(f)``).

Parameter layout
----------------
One flat vector, layer after layer; within a layer the weights ``W_l`` in row-major
order (``W_l[k, j]`` at ``offset_l + k * n_l + j``), then the biases ``b_l`` (if
``bias=True``).  ``problem.groups`` names the layers' slices of it, in order:
``(("layer_0", n_params_0), ("layer_1", n_params_1), ...)``, and
``problem.unpack(theta)`` returns the ``(W, b)`` of each layer.
"""

import math

import numpy as np
from numba import types

from . import _validate as check
from ._config import FUN_SIG, GRAD_SIG, jit
from ._math import exp, tanh
from .problem import Problem

__all__ = ["Network", "linear_regression", "logistic_regression", "mlp"]

ACTIVATIONS = ("tanh", "relu", "identity")
PARAMETERIZATIONS = ("mean_field", "standard")
LOSSES = ("mse", "logistic")

_SQRT2 = math.sqrt(2.0)

#: value_and_grad(X, data, rows, G, F, want_f): the batched gradient and, from the same
#: forward pass, the loss (what `fastgd.trainability` steps with).
VALGRAD_SIG = types.void(types.float64[:, ::1], types.float64[:, ::1], types.int64[:, ::1],
                         types.float64[:, ::1], types.float64[::1], types.boolean)
_TANH, _RELU, _IDENTITY = 0, 1, 2
_MSE, _LOGISTIC = 0, 1


def layer_sizes(n_features, n_outputs, width, depth):
    """(n_0, ..., n_L): features, ``depth - 1`` hidden layers of ``width``, outputs."""
    return (n_features,) + (width,) * (depth - 1) + (n_outputs,)


def multipliers(sizes, parameterization):
    """The per-layer multipliers s_l of the pre-activations (see the module doc)."""
    depth = len(sizes) - 1
    if parameterization == "standard":
        return (1.0,) * depth
    return tuple(1.0 / sizes[li] if li == depth - 1 else 1.0 / math.sqrt(sizes[li])
                 for li in range(depth))


def layout(sizes, bias):
    """Offsets of each layer's weights and biases in the flat vector, and its length."""
    w_off, b_off, off = [], [], 0
    for li in range(len(sizes) - 1):
        w_off.append(off)
        off += sizes[li] * sizes[li + 1]
        b_off.append(off if bias else -1)
        off += sizes[li + 1] if bias else 0
    return tuple(w_off), tuple(b_off), off


# --- kernels -------------------------------------------------------------------
# One set per architecture, generated as closures so that the layer sizes are
# compile-time constants (LLVM unrolls the small loops over units); lanes stay the
# innermost loop everywhere.  Data points are visited one at a time for all lanes
# of the block, as in the curve fit's kernels: when the lanes share their rows the
# features are read once per point; shuffled mini-batches gather a row per lane.
# value_and_grad, the hot one (every step of fg.minimize and of the trainability
# map), is written out unit by unit for small networks (`_unrolled_value_and_grad`)
# and with loops over units for the others; both do the same operations in the
# same order for every lane, so they give the same bits.

_KERNELS = {}


def _kernels(sizes, scales, act, bias, loss):
    key = (sizes, scales, act, bias, loss)
    if key not in _KERNELS:
        _KERNELS[key] = _build_kernels(*key)
    return _KERNELS[key]


def _build_kernels(sizes, scales, act, bias, loss, unrolled=None):
    depth = len(sizes) - 1
    w_off, b_off, dim = layout(sizes, bias)
    u_off = tuple(int(v) for v in np.concatenate([[0], np.cumsum(sizes)]))
    n_units, n_in, n_out = u_off[-1], sizes[0], sizes[-1]
    out0 = u_off[depth]

    @jit(inline="always")
    def activate(a):
        if act == _TANH:
            return tanh(_SQRT2 * a)
        if act == _RELU:
            return _SQRT2 * a if a > 0.0 else 0.0
        return a

    @jit(inline="always")
    def slope(a, h):
        # d act / d a, from the pre-activation a and the activation h = act(a).
        if act == _TANH:
            return _SQRT2 * (1.0 - h * h)
        if act == _RELU:
            return _SQRT2 if a > 0.0 else 0.0
        return 1.0

    @jit(inline="always")
    def forward(X, data, rows, i, A, H):
        """Pre-activations A and activations H of data point ``i`` of the batch."""
        w = X.shape[1]
        if rows.shape[0] == 1:
            k = rows[0, i]
            for f in range(n_in):
                v = data[f, k]
                for c in range(w):
                    H[f, c] = v
        else:
            for f in range(n_in):
                for c in range(w):
                    H[f, c] = data[f, rows[c, i]]
        for li in range(depth):
            n_prev, n_next = sizes[li], sizes[li + 1]
            ip, inx, wo, s = u_off[li], u_off[li + 1], w_off[li], scales[li]
            for j in range(n_next):
                for c in range(w):
                    A[inx + j, c] = 0.0
            for k in range(n_prev):
                for j in range(n_next):
                    row = wo + k * n_next + j
                    for c in range(w):
                        A[inx + j, c] += H[ip + k, c] * X[row, c]
            for j in range(n_next):
                bo = b_off[li] + j
                # Hidden and output layers in separate loops: a select between
                # act(a) and a inside one loop would keep it from vectorising.
                if li < depth - 1:
                    for c in range(w):
                        a = s * A[inx + j, c] + (X[bo, c] if bias else 0.0)
                        A[inx + j, c] = a
                        H[inx + j, c] = activate(a)
                else:
                    for c in range(w):
                        a = s * A[inx + j, c] + (X[bo, c] if bias else 0.0)
                        A[inx + j, c] = a
                        H[inx + j, c] = a

    @jit(inline="always")
    def loss_term(f, y):
        if loss == _MSE:
            return (f - y) ** 2
        # log(1 + e**f) - y f, without overflow for large |f|.
        return max(f, 0.0) + math.log1p(exp(-abs(f))) - y * f

    def kfun(X, data, rows, F, fail):
        m, w = rows.shape[1], X.shape[1]
        # A lane's target read in place, not by an inlined function of the
        # arrays: that would count references at each call, in the lane loop.
        shared = rows.shape[0] == 1
        A = np.empty((n_units, w))
        H = np.empty((n_units, w))
        F[:] = 0.0
        for i in range(m):
            forward(X, data, rows, i, A, H)
            for o in range(n_out):
                for c in range(w):
                    F[c] += loss_term(H[out0 + o, c], data[n_in + o, rows[0 if shared else c, i]])
        for c in range(w):
            F[c] /= m * n_out

    def value_and_grad(X, data, rows, G, F, want_f):
        # The gradient into G and, if want_f, the loss into F from the same forward
        # pass, accumulated exactly as kfun does (same bits).
        m, w = rows.shape[1], X.shape[1]
        shared = rows.shape[0] == 1
        A = np.empty((n_units, w))
        H = np.empty((n_units, w))
        D = np.empty((n_units, w))  # dL/da, per unit and lane
        G[:, :] = 0.0
        if want_f:
            F[:] = 0.0
        for i in range(m):
            forward(X, data, rows, i, A, H)
            if want_f:  # its own loop: log1p is a library call and would not vectorise
                for o in range(n_out):
                    for c in range(w):
                        F[c] += loss_term(H[out0 + o, c], data[n_in + o, rows[0 if shared else c, i]])
            for o in range(n_out):
                for c in range(w):
                    f = H[out0 + o, c]
                    y = data[n_in + o, rows[0 if shared else c, i]]
                    if loss == _MSE:
                        D[out0 + o, c] = 2.0 * (f - y)
                    else:
                        D[out0 + o, c] = 1.0 / (1.0 + exp(-f)) - y
            for li in range(depth - 1, -1, -1):
                n_prev, n_next = sizes[li], sizes[li + 1]
                ip, inx, wo, s = u_off[li], u_off[li + 1], w_off[li], scales[li]
                if bias:
                    for j in range(n_next):
                        for c in range(w):
                            G[b_off[li] + j, c] += D[inx + j, c]
                for k in range(n_prev):
                    for j in range(n_next):
                        row = wo + k * n_next + j
                        for c in range(w):
                            G[row, c] += s * H[ip + k, c] * D[inx + j, c]
                if li > 0:
                    for k in range(n_prev):
                        for c in range(w):
                            D[ip + k, c] = 0.0
                        for j in range(n_next):
                            row = wo + k * n_next + j
                            for c in range(w):
                                D[ip + k, c] += X[row, c] * D[inx + j, c]
                        for c in range(w):
                            D[ip + k, c] *= s * slope(A[ip + k, c], H[ip + k, c])
        for d in range(dim):
            for c in range(w):
                G[d, c] /= m * n_out
        if want_f:
            for c in range(w):
                F[c] /= m * n_out

    # cache=False: a closure's constants are not part of Numba's cache key.
    if unrolled is None:
        unrolled = sum(a * b for a, b in zip(sizes, sizes[1:])) <= UNROLL_WEIGHTS
    valgrad = (_unrolled_value_and_grad(sizes, scales, act, bias, loss) if unrolled else
               jit(VALGRAD_SIG, cache=False)(value_and_grad))

    def kgrad(X, data, rows, G, fail):
        valgrad(X, data, rows, G, np.empty(0), False)

    return jit(FUN_SIG, cache=False)(kfun), jit(GRAD_SIG, cache=False)(kgrad), valgrad


#: Networks with at most this many weights get the unrolled value_and_grad: its
#: code grows with the number of weights, and so does its compile time (about 2 s
#: for the trainability notebook's 72, 6 s for 272).
UNROLL_WEIGHTS = 320
#: Scratch the unrolled kernel keeps per sub-block of lanes, in bytes: L1-sized.
_SCRATCH_BYTES = 40_000


def _unrolled_value_and_grad(sizes, scales, act, bias, loss):
    """value_and_grad written out as straight-line code over the units, compiled.

    Why: in the loop form every product of a layer goes through memory (load the
    sum, add, store it back), while here a data point's whole forward and
    backward pass for one lane is a single loop body of scalars that LLVM keeps
    in registers and vectorises across the lanes: about twice as fast for the
    trainability notebook's network, three times for width 16.

    Every array the vectorised loop touches lives in one scratch vector ``S``
    (the block's parameters, gradient sums, loss sums and the current point's
    features and targets, ``V`` lanes per row): with a single array and constant
    offsets LLVM proves the loop free of aliasing, where with separate arrays it
    would need a run-time check per pair of rows and gives up.  Lanes go through
    in sub-blocks of ``V`` (the last one padded), so the scratch stays in L1.
    """
    depth = len(sizes) - 1
    w_off, b_off, dim = layout(sizes, bias)
    n_in, n_out = sizes[0], sizes[-1]
    # Rows of S: parameters (rows 0 .. dim - 1, in the parameter layout), gradient
    # sums, the loss sum, the point's inputs and targets, the outputs (logistic
    # loss: its log1p is a library call, summed in a loop of its own so that the
    # main loop still vectorises).
    r_g, r_f, r_in = dim, 2 * dim, 2 * dim + 1
    r_out = r_in + n_in + n_out
    n_rows = r_out + n_out
    V = max(v for v in (8, 16, 32) if v == 8 or n_rows * v * 8 <= _SCRATCH_BYTES)

    def at(row):
        return f"S[{row * V} + c]"

    src = []
    put = src.append
    put("def value_and_grad(X, data, rows, G, F, want_f):")
    put("    m, w = rows.shape[1], X.shape[1]")
    put("    shared = rows.shape[0] == 1")
    put(f"    S = np.zeros({n_rows * V})")
    put(f"    for base in range(0, w, {V}):")
    put(f"        n = min({V}, w - base)")
    put(f"        for d in range({dim}):")
    put("            for c in range(n):")
    put(f"                S[d * {V} + c] = X[d, base + c]")
    put(f"            for c in range(n, {V}):")   # padding lanes: zeros, never garbage
    put(f"                S[d * {V} + c] = 0.0")
    put(f"        for c in range({(dim + 1) * V}):")
    put(f"            S[{r_g * V} + c] = 0.0")
    put("        for i in range(m):")
    put(f"            for f in range({n_in + n_out}):")
    put("                if shared:")
    put("                    v = data[f, rows[0, i]]")
    put(f"                    for c in range({V}):")
    put(f"                        S[({r_in} + f) * {V} + c] = v")
    put("                else:")
    put("                    for c in range(n):")
    put(f"                        S[({r_in} + f) * {V} + c] = data[f, rows[base + c, i]]")
    put(f"            for c in range({V}):")
    ind = " " * 16
    # Forward: h{l}_{k} the activations (h0 the features), a{l}_{j} pre-activations.
    for f in range(n_in):
        put(f"{ind}h0_{f} = {at(r_in + f)}")
    for li in range(depth):
        n_prev, n_next, s = sizes[li], sizes[li + 1], scales[li]
        for j in range(n_next):
            total = "0.0"
            for k in range(n_prev):
                total = f"({total} + h{li}_{k} * {at(w_off[li] + k * n_next + j)})"
            b = at(b_off[li] + j) if bias else "0.0"
            put(f"{ind}a{li + 1}_{j} = {s!r} * {total} + {b}")
            if li < depth - 1:
                put(f"{ind}h{li + 1}_{j} = " + {
                    _TANH: f"tanh({_SQRT2!r} * a{li + 1}_{j})",
                    _RELU: f"{_SQRT2!r} * a{li + 1}_{j} if a{li + 1}_{j} > 0.0 else 0.0",
                    _IDENTITY: f"a{li + 1}_{j}"}[act])
            else:
                put(f"{ind}h{li + 1}_{j} = a{li + 1}_{j}")
    # The loss and dL/da of the outputs, d{L}_{o}.
    for o in range(n_out):
        f, y = f"h{depth}_{o}", at(r_in + n_in + o)
        if loss == _MSE:
            put(f"{ind}{at(r_f)} += ({f} - {y}) ** 2")
            put(f"{ind}d{depth}_{o} = 2.0 * ({f} - {y})")
        else:
            put(f"{ind}{at(r_out + o)} = {f}")
            put(f"{ind}d{depth}_{o} = 1.0 / (1.0 + exp(-{f})) - {y}")
    # Backward: gradient sums, then dL/da of the layer below.
    for li in range(depth - 1, -1, -1):
        n_prev, n_next, s = sizes[li], sizes[li + 1], scales[li]
        if bias:
            for j in range(n_next):
                put(f"{ind}{at(r_g + b_off[li] + j)} += d{li + 1}_{j}")
        for k in range(n_prev):
            put(f"{ind}sh = {s!r} * h{li}_{k}")
            for j in range(n_next):
                g = at(r_g + w_off[li] + k * n_next + j)
                put(f"{ind}{g} += sh * d{li + 1}_{j}")
        if li > 0:
            for k in range(n_prev):
                total = "0.0"
                for j in range(n_next):
                    total = f"({total} + {at(w_off[li] + k * n_next + j)} * d{li + 1}_{j})"
                a, h = f"a{li}_{k}", f"h{li}_{k}"
                slope = {_TANH: f"{_SQRT2!r} * (1.0 - {h} * {h})",
                         _RELU: f"{_SQRT2!r} if {a} > 0.0 else 0.0",
                         _IDENTITY: "1.0"}[act]
                put(f"{ind}d{li}_{k} = {total} * ({s!r} * ({slope}))")
    if loss == _LOGISTIC:
        put("            if want_f:")
        for o in range(n_out):
            put("                for c in range(n):")
            put(f"                    f = {at(r_out + o)}")
            put(f"                    y = {at(r_in + n_in + o)}")
            put(f"                    {at(r_f)} += max(f, 0.0) + math.log1p(exp(-abs(f))) - y * f")
    put(f"        for d in range({dim}):")
    put("            for c in range(n):")
    put(f"                G[d, base + c] = S[({r_g} + d) * {V} + c] / (m * {n_out})")
    put("        if want_f:")
    put("            for c in range(n):")
    put(f"                F[base + c] = {at(r_f)} / (m * {n_out})")
    namespace = {"np": np, "math": math, "exp": exp, "tanh": tanh}
    exec(compile("\n".join(src), f"<fastgd.networks value_and_grad {sizes}>", "exec"),
         namespace)
    return jit(VALGRAD_SIG, cache=False)(namespace["value_and_grad"])


# --- problems ------------------------------------------------------------------

def _as_matrix(X, y, loss):
    """Validated (X, Y) as float64 arrays of shapes (n, features) and (n, outputs)."""
    X = check.real_array(X, "X")
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n, features), got shape {X.shape}")
    y = check.real_array(y, "y")
    if y.ndim not in (1, 2) or y.size == 0:
        raise ValueError(f"y must have shape (n,) or (n, outputs), got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} "
                         f"and {y.shape[0]}")
    for name, arr in (("X", X), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    if loss == "logistic" and np.any((y < 0) | (y > 1)):
        raise ValueError("y must be in [0, 1] for the logistic loss")
    return X, y.reshape(len(y), -1)


class Network(Problem):
    """A fully connected network fitted to a data matrix; built by `mlp`,
    `linear_regression` and `logistic_regression`.

    Attributes
    ----------
    sizes : tuple of int
        Units per layer, inputs first.
    activation, parameterization, loss : str
    bias : bool
    seed : int
        Seed of the initial network, `init`.
    groups : tuple of (str, int)
        The layers as parameter groups, in parameter order: ``("layer_<l>",
        number of parameters)``.
    """

    def __repr__(self):
        return (f"Network(name={self.name!r}, dim={self.dim}, n_data={self.n_data}, "
                f"sizes={self.sizes})")

    @property
    def x(self):
        """The features, shape (n, features), read-only."""
        return self._rows(0, self.sizes[0]).T

    @property
    def y(self):
        """The targets, shape (n,) for one output or (n, outputs), read-only."""
        targets = self._rows(self.sizes[0], self._data.shape[0]).T
        return targets[:, 0] if self._y_1d else targets

    def _rows(self, lo, hi):
        view = self._data[lo:hi].view()
        view.flags.writeable = False
        return view

    def unpack(self, theta):
        """The layers' ``(W, b)`` in a parameter vector (views; ``b`` None without biases).

        Examples
        --------
        >>> import numpy as np, fastgd as fg
        >>> net = fg.problems.mlp(np.ones((5, 3)), np.ones(5), width=4, depth=2)
        >>> [(W.shape, b.shape) for W, b in net.unpack(np.arange(net.dim, dtype=float))]
        [((3, 4), (4,)), ((4, 1), (1,))]
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},), got {theta.shape}")
        w_off, b_off, _ = layout(self.sizes, self.bias)
        layers = []
        for li in range(len(self.sizes) - 1):
            n_prev, n_next = self.sizes[li], self.sizes[li + 1]
            W = theta[w_off[li]:w_off[li] + n_prev * n_next].reshape(n_prev, n_next)
            b = theta[b_off[li]:b_off[li] + n_next] if self.bias else None
            layers.append((W, b))
        return layers

    def init(self, shape=None, *, seed=None):
        """Initial parameters drawn as the parameterisation prescribes.

        Parameters
        ----------
        shape : int or tuple of int, optional
            None: one network, shape ``(dim,)``, the same at every call (the one
            to share across the runs of a sweep).  Otherwise ``shape + (dim,)``:
            an independent network per run.
        seed : int, optional
            Seed of `numpy.random.default_rng`; defaults to the problem's ``seed``.

        Returns
        -------
        ndarray

        Examples
        --------
        >>> import numpy as np, fastgd as fg
        >>> net = fg.problems.mlp(np.ones((5, 3)), np.ones(5), width=4, depth=2, seed=1)
        >>> net.init().shape, net.init(10).shape
        ((21,), (10, 21))
        >>> bool(np.array_equal(net.init(), net.init()))
        True
        """
        seed = self.seed if seed is None else check.integer(seed, "seed", low=0)
        rng = np.random.default_rng(seed)
        batch = () if shape is None else (
            (check.integer(shape, "shape", low=1),) if np.isscalar(shape) else
            tuple(check.integer(s, "shape", low=1) for s in shape))
        theta = np.zeros(batch + (self.dim,))
        w_off, _, _ = layout(self.sizes, self.bias)
        for li in range(len(self.sizes) - 1):
            n_prev, n_next = self.sizes[li], self.sizes[li + 1]
            std = 1.0 if self.parameterization == "mean_field" else 1.0 / math.sqrt(n_prev)
            theta[..., w_off[li]:w_off[li] + n_prev * n_next] = \
                std * rng.standard_normal(batch + (n_prev * n_next,))
        return theta


def mlp(X, y, *, width=8, depth=2, activation="tanh", parameterization="mean_field",
        bias=True, loss="mse", seed=0):
    """A fully connected network fitted to ``(X, y)``: layout and formulas in
    `fastgd.networks`.

    Parameters
    ----------
    X : array_like, shape (n, features)
    y : array_like, shape (n,) or (n, outputs)
    width : int, default 8
        Units of each hidden layer.
    depth : int, default 2
        Number of weight layers (``depth - 1`` hidden layers); 1 is a linear model.
    activation : {'tanh', 'relu', 'identity'}
    parameterization : {'mean_field', 'standard'}
    bias : bool, default True
        Biases in every layer (Sohl-Dickstein's notebook has none).
    loss : {'mse', 'logistic'}
    seed : int, default 0
        Seed of the initial network `Network.init` returns.

    Returns
    -------
    Network
        With ``groups`` (one per layer), ``init``, ``unpack``.

    Examples
    --------
    The notebook's network: width 8, one hidden tanh layer, mean-field, no biases,
    as many data points as parameters.

    >>> import numpy as np, fastgd as fg
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((72, 8)), rng.standard_normal(72)
    >>> net = fg.problems.mlp(X, y, width=8, depth=2, bias=False)
    >>> net.dim, net.groups
    (72, (('layer_0', 64), ('layer_1', 8)))
    >>> res = fg.minimize(net, x0=net.init(), lr=[0.1, 1.0, 10.0], epochs=100)
    >>> bool(res.fun[1] < net(net.init()))
    True
    """
    check.choice(activation, "activation", ACTIVATIONS)
    check.choice(parameterization, "parameterization", PARAMETERIZATIONS)
    check.choice(loss, "loss", LOSSES)
    width = check.integer(width, "width", low=1)
    depth = check.integer(depth, "depth", low=1)
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    seed = check.integer(seed, "seed", low=0)
    X, Y = _as_matrix(X, y, loss)
    sizes = layer_sizes(X.shape[1], Y.shape[1], width, depth)
    name = (f"mlp(width={width}, depth={depth}, {activation}, {parameterization})"
            if depth > 1 else f"linear model ({loss})")
    return _network(X, Y, np.ndim(y) == 1, sizes, activation, parameterization,
                    bool(bias), loss, seed, name)


def _network(X, Y, y_1d, sizes, activation, parameterization, bias, loss, seed, name):
    kfun, kgrad, valgrad = _kernels(sizes, multipliers(sizes, parameterization),
                                    ACTIVATIONS.index(activation), bias, LOSSES.index(loss))
    data = np.ascontiguousarray(np.concatenate([X.T, Y.T]))
    self = Network._from_kernels(kfun, kgrad, layout(sizes, bias)[2], name, data=data)
    self.sizes, self.activation, self.parameterization = sizes, activation, parameterization
    self.bias, self.loss, self.seed, self._y_1d = bias, loss, seed, y_1d
    self._value_and_grad = valgrad
    w_off, b_off, dim = layout(sizes, bias)
    ends = w_off[1:] + (dim,)
    self.groups = tuple((f"layer_{li}", ends[li] - w_off[li]) for li in range(len(sizes) - 1))
    self._factory = (_network, (X, Y, y_1d, sizes, activation, parameterization, bias,
                                loss, seed, name))
    return self


def linear_regression(X, y):
    """Least squares ``mean((X w + b - y)**2)``; parameters ``w`` (row-major
    ``(features, outputs)``) then ``b``.

    Parameters
    ----------
    X : array_like, shape (n, features)
    y : array_like, shape (n,) or (n, outputs)

    Returns
    -------
    Network
        A one-layer `mlp` (identity, standard parameterisation, biases).

    Examples
    --------
    >>> import numpy as np, fastgd as fg
    >>> X = np.random.default_rng(0).standard_normal((50, 2))
    >>> fit = fg.problems.linear_regression(X, X @ [2.0, -1.0] + 0.5)
    >>> res = fg.minimize(fit, x0=np.zeros(3), lr=0.3, epochs=500)
    >>> res.x.round(6).tolist()
    [2.0, -1.0, 0.5]
    """
    return _regression(X, y, "mse", "linear_regression")


def logistic_regression(X, y):
    """Logistic regression: mean over the data of ``log(1 + e**z) - y z``,
    ``z = X w + b``, labels ``y`` in [0, 1]; parameters ``w`` then ``b``.

    Parameters
    ----------
    X : array_like, shape (n, features)
    y : array_like, shape (n,) (or (n, outputs): independent binary outputs)

    Returns
    -------
    Network
        A one-layer `mlp` (identity, standard parameterisation, biases,
        ``loss='logistic'``).

    Examples
    --------
    >>> import numpy as np, fastgd as fg
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 8))
    >>> y = (X @ rng.standard_normal(8) > 0).astype(float)
    >>> logreg = fg.problems.logistic_regression(X, y)
    >>> res = fg.minimize(logreg, x0=np.zeros(9), lr=1.0, epochs=200, batch_size=50)
    >>> bool(res.fun < 0.1)
    True
    """
    return _regression(X, y, "logistic", "logistic_regression")


def _regression(X, y, loss, name):
    X, Y = _as_matrix(X, y, loss)
    sizes = (X.shape[1], Y.shape[1])
    return _network(X, Y, np.ndim(y) == 1, sizes, "identity", "standard", True, loss, 0,
                    name)
