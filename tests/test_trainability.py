"""The trainability map (fastgd.trainability) against direct implementations: the
notebook's convergence measure written as a loop, boundaries by explicit neighbour
checks, box counts by explicit box loops, and per-layer gradient descent in NumPy."""

import copy
import math

import numpy as np
import pytest

import fastgd as fg
from fastgd import trainability as tr

from .test_networks import numpy_network


def measure_direct(curve, max_value=1e6, tail=20):
    """The notebook's measure for one loss curve, step by step."""
    v = [x if math.isfinite(x) else max_value for x in curve]
    v = [min(x / v[0], max_value) for x in v]
    if sum(v[-tail:]) / len(v[-tail:]) < 1:
        return -sum(v)
    return sum(1 / x for x in v)


def test_convergence_measure_against_a_direct_implementation():
    rng = np.random.default_rng(0)
    curves = np.exp(np.cumsum(rng.normal(0, 0.3, (200, 60)), axis=1)) * rng.uniform(0.1, 5, (200, 1))
    curves[rng.random(curves.shape) < 0.02] = np.inf
    curves[5, 30:] = np.nan
    curves[6] *= np.geomspace(1, 1e12, 60)                 # clipped at 1e6
    got = tr.convergence_measure(curves)
    want = [measure_direct(c) for c in curves]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert (got < 0).any() and (got > 0).any()
    # Any leading shape; tail longer than the curve is the whole curve.
    np.testing.assert_allclose(tr.convergence_measure(curves[:6].reshape(2, 3, 60), tail=80),
                               np.reshape([measure_direct(c, tail=80) for c in curves[:6]],
                                          (2, 3)), rtol=1e-12)


def test_boundary_against_neighbour_loops():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(15, 17))
    values[3, 4] = 0.0
    got = tr.boundary(values)
    want = np.zeros((14, 16), bool)
    for i in range(14):
        for j in range(16):
            quad = [values[i, j], values[i + 1, j], values[i, j + 1], values[i + 1, j + 1]]
            want[i, j] = max(quad) > 0 > min(quad)
    assert np.array_equal(got, want)


def box_count_direct(im, d):
    count = 0
    for i in range(0, im.shape[0], d):
        for j in range(0, im.shape[1], d):
            box = im[i:i + d, j:j + d]
            count += bool(box.any()) and not bool(box.all())
    return count


def test_box_count_against_box_loops_and_known_dimensions():
    rng = np.random.default_rng(2)
    im = rng.random((123, 140)) < 0.05
    bc = tr.box_count(im)
    assert bc.sizes[0] == 10 and bc.sizes[-1] == 123
    assert bc.counts.tolist() == [box_count_direct(im, int(d)) for d in bc.sizes]
    line = np.zeros((512, 512), bool)
    line[200] = True
    assert tr.box_count(line).dimension == pytest.approx(1.0, abs=0.05)
    # Every box of a checkerboard holds both kinds: the boxes fill the plane.
    checker = np.indices((512, 512)).sum(axis=0) % 2 == 0
    assert tr.box_count(checker).dimension == pytest.approx(2.0, abs=0.05)
    # A Sierpinski carpet's holes' edges: log 8 / log 3.
    carpet = np.ones((729, 729), bool)
    for k in range(6):
        step = 3 ** k
        idx = np.arange(729)
        hole = ((idx // step) % 3 == 1)
        carpet[np.ix_(hole, hole)] = False
    edges = tr.boundary(np.where(carpet, 1.0, -1.0))
    assert tr.box_count(edges).dimension == pytest.approx(math.log(8) / math.log(3), abs=0.1)


def test_stretch_keeps_signs_and_ranks():
    values = np.array([-5.0, -1.0, -0.5, 0.0, 3.0, 10.0])
    s = tr.stretch(values)
    assert np.all(np.diff(s) < 0)                       # order reversed, strictly
    assert (s[:3] > 0).all() and (s[3:] < 0).all()
    assert s[0] == 1.0 and s[-1] == -1.0


@pytest.fixture(scope="module")
def small_net():
    return tr.notebook_network(width=3, seed=1)


def per_layer_gd_losses(net, theta, rates, epochs):
    """Losses before each update of per-layer gradient descent, in NumPy."""
    theta = theta.copy()
    sizes = [n for _, n in net.groups]
    scale = np.repeat(rates, sizes)
    X, Y = net.x, net.y.reshape(len(net.y), -1)
    losses = []
    for _ in range(epochs):
        loss, grad = numpy_network(net, theta, X, Y)
        losses.append(loss)
        theta = theta - scale * grad
    return np.array(losses)


def test_trainability_map_against_per_layer_gd_in_numpy(small_net):
    lr0, lr1 = np.logspace(-1, 2.5, 5), np.logspace(-1, 2.5, 6)
    tmap = tr.trainability_map(small_net, lr={"layer_0": lr0, "layer_1": lr1}, epochs=30)
    assert tmap.dims == ("lr_layer_0", "lr_layer_1") and tmap.values.shape == (5, 6)
    theta0 = small_net.init()
    want = np.array([[tr.convergence_measure(per_layer_gd_losses(
        small_net, theta0, np.array([a, b]), 30)) for b in lr1] for a in lr0])
    assert np.array_equal(tmap.converged, want < 0)
    # Rounding differs (NumPy's matmul sums in another order) and runs at the edge of
    # stability amplify it: most pixels agree to 1e-9, all to 1e-2.
    close = np.isclose(tmap.values, want, rtol=1e-9, atol=0)
    assert close.mean() >= 0.8
    np.testing.assert_allclose(tmap.values, want, rtol=1e-2)
    assert tmap.converged.any() and not tmap.converged.all()


def test_equal_layer_rates_are_plain_gd_bit_for_bit(small_net):
    lr = np.logspace(-1, 2.5, 7)
    tmap = tr.trainability_map(small_net, lr={"layer_0": lr, "layer_1": lr}, epochs=25)
    res = fg.sweep(small_net, x0=small_net.init(), lr=lr, epochs=25, record=True,
                   bound=np.inf)
    cmap = tr.convergence_map(res)
    assert cmap.dims == ("lr",)
    assert np.array_equal(np.diagonal(tmap.values), cmap.values)


def test_fixed_rate_and_per_run_starts(small_net):
    starts = small_net.init((4,), seed=9)
    tmap = tr.trainability_map(small_net, lr={"layer_0": 1.0, "layer_1": np.logspace(0, 2, 4)},
                               epochs=20, x0=starts)
    assert tmap.dims == ("lr_layer_1",) and tmap.values.shape == (4,)
    want = [tr.convergence_measure(per_layer_gd_losses(small_net, s, np.array([1.0, b]), 20))
            for s, b in zip(starts, np.logspace(0, 2, 4))]
    np.testing.assert_allclose(tmap.values, want, rtol=1e-9)


def test_bad_rates_are_refused(small_net):
    with pytest.raises(ValueError, match=r"missing \['layer_1'\]"):
        tr.trainability_map(small_net, lr={"layer_0": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"unknown \['layer_9'\]"):
        tr.trainability_map(small_net, lr={"layer_0": 1.0, "layer_1": 1.0, "layer_9": 1.0})
    with pytest.raises(TypeError, match="lr must be a dict"):
        tr.trainability_map(small_net, lr=0.1)
    with pytest.raises(ValueError, match="no parameter groups"):
        tr.trainability_map(fg.problems.quartic, lr={"x": 0.1})
    with pytest.raises(ValueError, match=r"lr\['layer_0'\] must be > 0"):
        tr.trainability_map(small_net, lr={"layer_0": [0.0, 1.0], "layer_1": 1.0})
    res = fg.sweep(fg.problems.quartic, x0=[1.0, 2.0], lr=0.01, epochs=5)
    with pytest.raises(ValueError, match="record=True"):
        tr.convergence_map(res)


def test_map_plot_and_box_count(small_net):
    import matplotlib
    matplotlib.use("Agg")
    lr = np.logspace(-1, 3, 24)
    tmap = tr.trainability_map(small_net, lr={"layer_0": lr, "layer_1": lr}, epochs=20)
    ax = tmap.plot()
    assert ax.get_xlabel() == "log10 lr_layer_0"
    assert tmap.boundary().shape == (23, 23) and tmap.boundary().any()
    assert 0.5 < tmap.box_count(bins=4).dimension < 2.5


def test_any_grouped_problem_and_chunks():
    # A problem with groups but no value_and_grad: f and grad are called separately.
    bowl = copy.copy(fg.problems.quadratic(2, condition=10))
    bowl.groups = (("first", 1), ("second", 1))
    rates = {"first": np.logspace(-2, 0.5, 9), "second": np.logspace(-2, 0.5, 8)}
    tmap = tr.trainability_map(bowl, lr=rates, epochs=30, x0=[1.0, -2.0])
    a, b = np.meshgrid(rates["first"], rates["second"], indexing="ij")
    want = np.empty(a.shape)
    for idx in np.ndindex(a.shape):
        x, losses = np.array([1.0, -2.0]), []
        for _ in range(30):
            losses.append(float(bowl(x)))
            x = x - np.array([a[idx], b[idx]]) * bowl.gradient(x)
        want[idx] = tr.convergence_measure(losses)
    np.testing.assert_allclose(tmap.values, want, rtol=1e-12)
    assert tmap.converged.any() and not tmap.converged.all()
    again = tr.trainability_map(bowl, lr=rates, epochs=30, x0=[1.0, -2.0], chunk_size=7)
    assert np.array_equal(again.values, tmap.values)


def test_out_resumes_and_executor(small_net, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    lr = {"layer_0": np.logspace(-1, 3, 6), "layer_1": np.logspace(-1, 3, 5)}
    whole = tr.trainability_map(small_net, lr=lr, epochs=15)
    first = tr.trainability_map(small_net, lr=lr, epochs=15, chunk_size=8, out=tmp_path / "m")
    chunks = sorted((tmp_path / "m").glob("chunk-*.npz"))
    assert len(chunks) == 4 and np.array_equal(first.values, whole.values)
    chunks[1].unlink()  # as if interrupted: resumed, only that chunk recomputed
    again = tr.trainability_map(small_net, lr=lr, epochs=15, chunk_size=8, out=tmp_path / "m")
    assert np.array_equal(again.values, whole.values)
    with pytest.raises(ValueError, match="different sweep"):
        tr.trainability_map(small_net, lr=lr, epochs=16, chunk_size=8, out=tmp_path / "m")
    with ThreadPoolExecutor(2) as pool:
        pooled = tr.trainability_map(small_net, lr=lr, epochs=15, chunk_size=8, executor=pool)
    assert np.array_equal(pooled.values, whole.values)


def test_command_line(tmp_path, capsys):
    from fastgd.cli import main
    png, npz = tmp_path / "map.png", tmp_path / "map.npz"
    assert main(["trainability", "--width", "3", "--epochs", "20", "--lr0", "0.1:1e3:12:log",
                 "--lr1", "0.1:1e3:10:log", "--plot", str(png), "--out", str(npz)]) == 0
    out = capsys.readouterr().out
    assert "120 runs (12 x 10 rates), 20 steps" in out and "converged:" in out
    saved = np.load(npz)
    assert saved["values"].shape == (12, 10) and png.stat().st_size > 0
    want = tr.trainability_map(tr.notebook_network(width=3), epochs=20,
                               lr={"layer_0": saved["lr_layer_0"], "layer_1": saved["lr_layer_1"]})
    assert np.array_equal(saved["values"], want.values)
    assert main(["trainability", "--lr0", "0.5"]) == 2
    assert "--lr0 needs a list of rates" in capsys.readouterr().err
    # A chunk directory: the same command resumes from the chunks it finds there.
    args = ["trainability", "--width", "3", "--epochs", "20", "--lr0", "0.1:1e3:12:log",
            "--lr1", "0.1:1e3:10:log", "--chunk-size", "40", "--no-progress",
            "--out", f"{tmp_path / 'chunks'}/", "--out", str(tmp_path / "again.npz")]
    assert main(args) == 0
    chunks = sorted((tmp_path / "chunks").glob("chunk-*.npz"))
    assert len(chunks) == 3
    chunks[1].unlink()
    assert main(args) == 0 and len(list((tmp_path / "chunks").glob("chunk-*.npz"))) == 3
    assert np.array_equal(np.load(tmp_path / "again.npz")["values"], want.values)
    capsys.readouterr()
    assert main(["trainability", "--out", "map.txt"]) == 2
    assert "--out must name a .npz file or a directory DIR/" in capsys.readouterr().err
