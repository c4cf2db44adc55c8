"""Data-matrix problems (fastgd.networks) and the vectorised tanh, against independent
computations: math.tanh, finite differences, a plain NumPy network and NumPy loops."""

import math
import pickle
import re

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd._math import tanh
from fastgd.reference import shuffled_order

JIT = not numba.config.DISABLE_JIT


# --- tanh --------------------------------------------------------------------

@numba.njit(error_model="numpy")
def tanh_lanes(x, out):
    for i in range(x.size):
        out[i] = tanh(x[i])


def test_tanh_against_math_tanh_over_a_wide_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-40.0, 40.0, 200_001),
        np.linspace(-0.8, 0.8, 100_001),                 # around the switch at ln 2
        10.0 ** rng.uniform(-320, 3, 100_000) * rng.choice([-1, 1], 100_000),
        [19.0, 19.1, 20.0, 22.0, 354.0, 355.0, 710.0, 1e300, 5e-324, -5e-324, 1e-8],
    ])
    got = np.empty_like(x)
    tanh_lanes(x, got)
    want = np.array([math.tanh(v) for v in x])
    # glibc's tanh is itself up to 2 ulp off; against the exact value ours is < 1 ulp.
    ulp = np.abs(got - want) / np.spacing(np.abs(want))
    assert ulp.max() <= 2, (ulp.max(), x[np.argmax(ulp)])
    assert np.mean(got == want) > 0.75
    # Scalar calls (no vector lanes) give the same bits.
    assert np.array_equal([tanh(v) for v in x[::997]], got[::997])


def test_tanh_special_values():
    assert tanh(0.0) == 0.0 and not np.signbit(tanh(0.0))
    assert tanh(-0.0) == 0.0 and np.signbit(tanh(-0.0))
    assert tanh(np.inf) == 1.0 and tanh(-np.inf) == -1.0
    assert math.isnan(tanh(np.nan))
    assert tanh(1e-300) == 1e-300 and tanh(-5e-324) == -5e-324
    assert tanh(25.0) == 1.0 and tanh(-25.0) == -1.0


@pytest.mark.skipif(not JIT, reason="inspects compiled code")
def test_tanh_lane_loop_vectorises():
    asm = tanh_lanes.inspect_asm(tanh_lanes.signatures[0])
    packed = re.findall(r"\b(?:v?(?:mul|add|sub|div)pd|vfn?m(?:add|sub)\d+pd)\b", asm)
    assert len(packed) >= 20, "no packed float64 arithmetic: the loop did not vectorise"


# --- a plain NumPy network, written from the module's formulas ---------------------

def numpy_network(net, theta, X, Y):
    """Loss and gradient of ``net`` at ``theta`` on (X, Y), by NumPy backprop."""
    layers = net.unpack(theta)
    L = len(layers)
    if net.parameterization == "mean_field":
        s = [1 / math.sqrt(W.shape[0]) if li < L - 1 else 1 / W.shape[0]
             for li, (W, _) in enumerate(layers)]
    else:
        s = [1.0] * L
    act = {"tanh": (lambda a: np.tanh(np.sqrt(2) * a),
                    lambda a, h: np.sqrt(2) * (1 - h ** 2)),
           "relu": (lambda a: np.sqrt(2) * np.maximum(a, 0),
                    lambda a, h: np.sqrt(2) * (a > 0)),
           "identity": (lambda a: a, lambda a, h: np.ones_like(a))}[net.activation]
    hs, pre = [X], []
    for li, (W, b) in enumerate(layers):
        a = s[li] * hs[-1] @ W + (b if b is not None else 0)
        pre.append(a)
        hs.append(act[0](a) if li < L - 1 else a)
    f = hs[-1]
    if net.loss == "mse":
        loss = np.mean((f - Y) ** 2)
        d = 2 * (f - Y) / f.size
    else:
        loss = np.mean(np.logaddexp(0, f) - Y * f)
        d = (1 / (1 + np.exp(-f)) - Y) / f.size
    grads = []
    for li in range(L - 1, -1, -1):
        W, b = layers[li]
        gW = s[li] * hs[li].T @ d
        grads.insert(0, (gW, d.sum(axis=0) if b is not None else None))
        if li > 0:
            d = s[li] * (d @ W.T) * act[1](pre[li - 1], hs[li])
    flat = np.concatenate([np.concatenate([gW.ravel()] + ([gb] if gb is not None else []))
                           for gW, gb in grads])
    return loss, flat


CASES = [  # (activation, parameterization, bias, loss, outputs)
    ("tanh", "mean_field", False, "mse", 1),
    ("tanh", "standard", True, "logistic", 2),
    ("relu", "mean_field", True, "mse", 3),
    ("identity", "standard", False, "logistic", 1),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return rng.standard_normal((30, 4)), rng


@pytest.mark.parametrize("activation, parameterization, bias, loss, outputs", CASES)
def test_network_against_numpy_and_finite_differences(data, activation, parameterization,
                                                      bias, loss, outputs):
    X, rng = data
    Y = rng.random((30, outputs)) if loss == "logistic" else rng.standard_normal((30, outputs))
    net = fg.problems.mlp(X, Y, width=5, depth=3, activation=activation,
                          parameterization=parameterization, bias=bias, loss=loss, seed=2)
    thetas = net.init() + 0.3 * rng.standard_normal((3, net.dim))
    values, grads = net(thetas), net.gradient(thetas)
    for theta, value, grad in zip(thetas, values, grads):
        want_value, want_grad = numpy_network(net, theta, X, Y)
        assert value == pytest.approx(want_value, rel=1e-13)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-11, atol=1e-14)
        # Central differences of the kernel's own loss.
        h = 1e-6
        fd = (net(theta + h * np.eye(net.dim)) - net(theta - h * np.eye(net.dim))) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("sizes, activation, bias, loss", [
    ((4, 5, 5, 2), "tanh", True, "logistic"),
    ((3, 6, 3), "relu", False, "mse"),
    ((8, 1), "identity", True, "logistic"),
])
def test_unrolled_and_loop_kernels_give_the_same_bits(sizes, activation, bias, loss):
    # Small networks get value_and_grad written out unit by unit, larger ones the
    # loop form (tested against NumPy above through the small ones): both must do
    # the same arithmetic, lane by lane, whatever the block width, rows and lanes.
    from fastgd import networks
    act, lss = networks.ACTIVATIONS.index(activation), networks.LOSSES.index(loss)
    scales = networks.multipliers(sizes, "mean_field")
    kernels = [networks._build_kernels(sizes, scales, act, bias, lss, unrolled=u)[2]
               for u in (True, False)]
    dim = networks.layout(sizes, bias)[2]
    rng = np.random.default_rng(5)
    data = rng.standard_normal((sizes[0] + sizes[-1], 23))
    if loss == "logistic":
        data[sizes[0]:] = rng.random((sizes[-1], 23))
    for w in (64, 37, 3):
        X = 2.0 * rng.standard_normal((dim, w))
        X[0, 1] = np.nan   # a failed lane stays alone
        for rows in (np.arange(23)[None, :], rng.integers(0, 23, (w, 7))):
            rows = np.ascontiguousarray(rows, dtype=np.int64)
            for want_f in (True, False):
                out = [(np.full((dim, w), 7.0), np.full(w, 7.0)) for _ in kernels]
                for kernel, (G, F) in zip(kernels, out):
                    kernel(X, data, rows, G, F, want_f)
                assert np.array_equal(out[0][0], out[1][0], equal_nan=True)
                assert np.array_equal(out[0][1], out[1][1], equal_nan=True)
                assert np.isfinite(np.delete(out[0][0], 1, axis=1)).all()


def test_parameter_layout_groups_and_init():
    X = np.ones((6, 3))
    net = fg.problems.mlp(X, np.zeros((6, 2)), width=4, depth=3, seed=5)
    assert net.sizes == (3, 4, 4, 2)
    assert net.groups == (("layer_0", 16), ("layer_1", 20), ("layer_2", 10))
    assert net.dim == sum(n for _, n in net.groups)
    theta = np.arange(net.dim, dtype=float)
    (W0, b0), (W1, b1), (W2, b2) = net.unpack(theta)
    assert W0[1, 2] == 1 * 4 + 2 and b0.tolist() == [12, 13, 14, 15]
    assert W1[0, 0] == 16 and b2.tolist() == [44, 45]
    init = net.init()
    assert np.array_equal(init, net.init()) and not np.array_equal(init, net.init(seed=6))
    assert init[12:16].tolist() == [0, 0, 0, 0]                      # biases start at 0
    per_run = net.init((2, 5))
    assert per_run.shape == (2, 5, net.dim) and len(np.unique(per_run[..., 0])) == 10
    std = fg.problems.mlp(np.ones((6, 50)), np.zeros(6), width=400, depth=2,
                          parameterization="standard", bias=False).init()
    assert np.std(std[:50 * 400]) == pytest.approx(1 / math.sqrt(50), rel=0.02)
    assert net.x.shape == (6, 3) and net.y.shape == (6, 2) and not net.x.flags.writeable


def test_factories_refuse_bad_arguments():
    X, y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(ValueError, match="activation"):
        fg.problems.mlp(X, y, activation="sigmoid")
    with pytest.raises(ValueError, match="parameterization"):
        fg.problems.mlp(X, y, parameterization="ntk")
    with pytest.raises(ValueError, match="X must be a non-empty 2-D"):
        fg.problems.mlp(np.ones(5), y)
    with pytest.raises(ValueError, match="same number of rows"):
        fg.problems.logistic_regression(X, np.ones(4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fg.problems.logistic_regression(X, 2 * y)
    with pytest.raises(ValueError, match="y must be finite"):
        fg.problems.linear_regression(X, np.full(5, np.nan))
    with pytest.raises(ValueError, match="width must be >= 1"):
        fg.problems.mlp(X, y, width=0)
    with pytest.raises(ValueError, match="theta must have shape"):
        fg.problems.mlp(X, y).unpack(np.ones(3))


def test_network_pickles_by_its_factory():
    rng = np.random.default_rng(1)
    net = fg.problems.mlp(rng.standard_normal((8, 2)), rng.standard_normal(8), width=3)
    back = pickle.loads(pickle.dumps(net))
    theta = net.init()
    assert back.groups == net.groups and back(theta) == net(theta)


# --- logistic regression: 400 points x 8 features, against a NumPy loop ------------

def logreg_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 8))
    y = (X @ rng.standard_normal(8) + 0.5 * rng.standard_normal(400) > 0).astype(float)
    return X, y


def numpy_logreg(X, y, runs, theta0, lr, epochs, batch_size=None, shuffle=False, seed=0):
    """Plain NumPy gradient descent, each run on its own, batches as fastgd defines them."""
    n = len(y)
    batch_size = batch_size or n
    out = []
    for run, theta, rate in zip(runs, theta0, lr):
        theta = theta.copy()
        for epoch in range(1, epochs + 1):
            order = shuffled_order(seed, int(run), epoch, n) if shuffle else range(n)
            order = np.asarray(order)
            for b in range(0, n, batch_size):
                rows = order[b:b + batch_size]
                z = X[rows] @ theta[:-1] + theta[-1]
                r = 1 / (1 + np.exp(-z)) - y[rows]
                grad = np.concatenate([X[rows].T @ r, [r.sum()]]) / len(rows)
                theta = theta - rate * grad
        out.append(theta)
    return np.array(out)


@pytest.mark.parametrize("batch_size, shuffle", [(None, False), (64, False), (64, True)])
def test_logistic_regression_against_numpy_loop(batch_size, shuffle):
    X, y = logreg_data()
    problem = fg.problems.logistic_regression(X, y)
    rng = np.random.default_rng(4)
    runs = 10_000
    theta0 = rng.standard_normal((runs, 9))
    lr = rng.uniform(0.05, 2.0, runs)
    epochs = 30 if batch_size is None else 5
    res = fg.minimize(problem, x0=theta0, lr=lr, epochs=epochs, batch_size=batch_size,
                      shuffle=shuffle, seed=11)
    assert res.counts()["max_epochs"] == runs
    check = np.r_[0:runs:997, runs - 1]  # a strided sample of the runs, loop by loop
    want = numpy_logreg(X, y, check, theta0[check], lr[check], epochs, batch_size, shuffle, 11)
    np.testing.assert_allclose(res.x[check], want, rtol=0, atol=1e-9)
    z = X @ want[:, :-1].T + want[:, -1]
    loss = np.mean(np.logaddexp(0, z) - y[:, None] * z, axis=0)
    np.testing.assert_allclose(res.fun[check], loss, rtol=1e-12)


def test_linear_regression_recovers_the_coefficients():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    Y = X @ np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]) + [0.25, -1.0]
    fit = fg.problems.linear_regression(X, Y)
    res = fg.minimize(fit, x0=np.zeros(fit.dim), lr=0.2, epochs=2000)
    (W, b), = fit.unpack(res.x)
    np.testing.assert_allclose(W, [[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], atol=1e-10)
    np.testing.assert_allclose(b, [0.25, -1.0], atol=1e-10)
