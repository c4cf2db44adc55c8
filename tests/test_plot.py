"""fastgd.plot under Agg: what each picture contains, and that big maps are quick."""

import subprocess
import sys
import time

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402

import fastgd as fg  # noqa: E402

P = fg.problems


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_import_fastgd_does_not_import_matplotlib():
    code = "import sys, fastgd; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_paths_1d_curve_points_and_epoch_numbers():
    res = fg.minimize(P.exp_quadratic, x0=[-3.0, 3.0], lr=0.1, epochs=15, record=True)
    ax = fg.plot.paths_1d(P.exp_quadratic, res)
    curve, run0, run1 = ax.lines
    assert curve.get_xdata().size == 500
    np.testing.assert_allclose(run0.get_xdata(), res.path(0)[0][:, 0])
    np.testing.assert_allclose(run1.get_ydata(), res.path(1)[1])
    numbers = [t.get_text() for t in ax.texts]
    assert numbers[:3] == ["0", "1", "2"] and set(numbers) <= {str(k) for k in range(16)}
    assert legend_texts(ax) == ["f: exp_quadratic", "x0=-3, lr=0.1", "x0=3, lr=0.1"]
    assert ax.get_xlim() == (-4.0, 4.0)


def test_paths_1d_on_given_axes_and_diverged_run_does_not_zoom_out():
    res = fg.minimize(P.exp_quadratic, x0=-3.0, lr=[0.1, 0.8], epochs=30, record=True)
    fig, ax = plt.subplots()
    out = fg.plot.paths_1d(P.exp_quadratic, res, ax=ax, annotate=False)
    assert out is ax and not ax.texts
    assert ax.get_xlim() == (-4.0, 4.0) and ax.get_ylim()[1] < 100


def test_paths_2d_contours_colourbar_and_markers():
    res = fg.minimize(P.saddle, x0=[[3.0, 3.0], [-2.0, 2.0]], lr=0.001, epochs=300,
                      record=True)
    ax = fg.plot.paths_2d(P.saddle, res, annotate=50)
    colourbar = ax.figure.axes[1]
    assert colourbar.get_ylabel() == "f(x, y)"
    markers = [line.get_marker() for line in ax.lines]
    assert markers.count("o") == 2 and markers.count("X") == 2
    assert legend_texts(ax)[-2:] == ["start", "end"]
    assert "x0=(3, 3), lr=0.001" in legend_texts(ax)
    assert [t.get_text() for t in ax.texts][:2] == ["0", "50"]


def test_paths_need_recorded_runs_and_matching_dims():
    res = fg.minimize(P.quartic, x0=1.0, lr=0.01, epochs=5)
    with pytest.raises(ValueError, match="record"):
        fg.plot.paths_1d(P.quartic, res)
    with pytest.raises(ValueError, match="2-D"):
        fg.plot.paths_2d(P.quartic, res, runs=0)


def test_compare_runs_names_hyper_parameters():
    res = fg.sweep(P.quartic, x0=2.1, lr=0.15, epochs=30,
                   schedule=fg.step_decay(10, [1.0, 0.5]), record=True)
    ax = fg.plot.compare_runs(P.quartic, res, runs=[0, 1])
    assert legend_texts(ax) == ["quartic", "x0=2.1, fixed lr=0.15",
                                "x0=2.1, lr=0.15 x0.5 every 10 epochs"]
    assert len(ax.lines) == 3


def test_compare_runs_of_two_results_with_labels():
    a = fg.minimize(P.exp_quadratic, x0=-3.0, lr=0.1, epochs=20, record=True)
    b = fg.minimize(P.exp_quadratic, x0=-3.0, lr=0.1, epochs=20, optimizer="momentum",
                    momentum=0.9, record=True)
    ax = fg.plot.compare_runs(P.exp_quadratic, [a, b], labels=["gd", "momentum"])
    assert legend_texts(ax)[1:] == ["gd", "momentum"]
    with pytest.raises(ValueError, match="labels"):
        fg.plot.compare_runs(P.exp_quadratic, [a, b], labels=["one"])


def test_fit_draws_data_fits_and_truth():
    x, y = P.exp_linear_data(60, seed=0)
    problem = P.exp_linear_fit(x, y)
    full = fg.minimize(problem, x0=[[1.0, 2.0, 3.0], [1.0, 3.0, 5.0]], lr=0.001, epochs=200)
    mini = fg.minimize(problem, x0=[1.0, 3.0, 5.0], lr=0.001, epochs=200, batch_size=10)
    ax = fg.plot.fit(problem, [full, mini], truth=(1.2, 3.4, 5.6))
    data, fit_full, fit_mini, truth = ax.lines
    np.testing.assert_array_equal(data.get_xdata(), x)
    theta = full.x[np.argmin(full.fun)]
    np.testing.assert_allclose(
        fit_full.get_ydata(),
        np.exp(-theta[0] * fit_full.get_xdata()) + theta[1] * fit_full.get_xdata() + theta[2])
    texts = legend_texts(ax)
    assert texts[0] == "data (n=60)" and "batch 10" in texts[2]
    assert texts[3] == "true \u03b8=(1.2, 3.4, 5.6)"


def test_fit_of_a_least_squares_problem():
    import numba

    @numba.njit
    def line(theta, xi):
        return theta[0] * xi + theta[1]

    @numba.njit
    def line_grad(theta, xi, out):
        out[0] = xi
        out[1] = 1.0

    x = np.linspace(0, 1, 20)
    problem = fg.LeastSquares(line, line_grad, x, 3 * x + 1, dim=2)
    res = fg.minimize(problem, x0=[0.0, 0.0], lr=0.5, epochs=500)
    ax = fg.plot.fit(problem, res, truth=(3.0, 1.0))
    np.testing.assert_allclose(ax.lines[1].get_ydata(), ax.lines[2].get_ydata(), atol=1e-3)


def test_fit_needs_data():
    res = fg.minimize(P.quartic, x0=1.0, lr=0.01, epochs=3)
    with pytest.raises(ValueError, match="data"):
        fg.plot.fit(P.quartic, res)


def test_loss_curves_log_and_symlog():
    res = fg.sweep(P.exp_quadratic, x0=-3.0, lr=[0.01, 0.1], epochs=40, record=True)
    ax = fg.plot.loss_curves(res)
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    assert ax.lines[0].get_xdata()[-1] == 40
    saddle = fg.minimize(P.saddle, x0=[2.0, -2.0], lr=0.001, epochs=100, record=True)
    assert fg.plot.loss_curves(saddle).get_yscale() == "symlog"
    assert fg.plot.loss_curves(res, logy=False).get_yscale() == "linear"


def test_grid_map_status_is_categorical_with_legend_and_log_axis():
    res = fg.sweep(P.exp_quadratic, x0=np.linspace(-4, 4, 30), lr=np.logspace(-4, 0, 40),
                   epochs=100, gtol=1e-6)
    ax = fg.plot.grid_map(res, "status")
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.get_array().shape == (30, 40)  # rows along y = x0
    np.testing.assert_array_equal(mesh.get_array(), res.status)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert legend_texts(ax) == ["converged", "slow (max epochs)", "diverged"]
    assert ax.get_xlabel() == "learning rate" and ax.get_ylabel() == "start x0"


def test_grid_map_fun_has_colourbar_and_masks_diverged():
    res = fg.sweep(P.exp_quadratic, x0=np.linspace(-4, 4, 20), lr=np.linspace(0.1, 1, 25),
                   epochs=50)
    ax = fg.plot.grid_map(res, "fun", x="x0", y="lr")
    assert ax.figure.axes[1].get_ylabel() == "final f"
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    values = mesh.get_array()
    assert values.shape == (25, 20)
    np.testing.assert_array_equal(values.mask, (res.status == fg.Status.DIVERGED).T)
    assert legend_texts(ax) == ["diverged"]
    assert ax.get_xscale() == "linear"


def test_grid_map_fixes_extra_dims_by_value():
    res = fg.sweep(P.exp_quadratic, x0=np.linspace(-4, 4, 10), lr=np.logspace(-3, 0, 12),
                   momentum=[0.0, 0.5, 0.9], optimizer="momentum", epochs=30)
    with pytest.raises(ValueError, match="momentum"):
        fg.plot.grid_map(res, "nit", x="lr", y="x0")
    ax = fg.plot.grid_map(res, "nit", x="lr", y="x0", fixed={"momentum": 0.52})
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    np.testing.assert_array_equal(mesh.get_array(), res.nit[:, :, 1])
    assert "momentum=0.5" in ax.get_title()


def test_grid_map_minimum_groups_the_quartics_two_minima():
    res = fg.sweep(P.quartic, x0=np.linspace(-2.5, 2.5, 40), lr=np.geomspace(0.005, 0.05, 20),
                   epochs=300, gtol=1e-6)
    ax = fg.plot.grid_map(res, "minimum")
    texts = legend_texts(ax)
    assert texts[0].startswith("x \u2248 -1.67") and texts[1].startswith("x \u2248 1.47")


def test_grid_map_array_quantity_and_errors():
    res = fg.sweep(P.quartic, x0=np.linspace(-2, 2, 5), lr=[0.01, 0.02], epochs=5)
    ax = fg.plot.grid_map(res, np.abs(res.x[..., 0]))
    assert ax.figure.axes[1].get_ylabel() == "value"
    with pytest.raises(ValueError, match="batch shape"):
        fg.plot.grid_map(res, np.zeros(3))
    with pytest.raises(ValueError, match="quantity"):
        fg.plot.grid_map(res, "speed")
    with pytest.raises(ValueError, match="not a dim"):
        fg.plot.grid_map(res, x="momentum")
    one = fg.minimize(P.quartic, x0=[1.0, 2.0], lr=0.01, epochs=3)
    with pytest.raises(ValueError, match="two or more dims"):
        fg.plot.grid_map(one)


def test_grid_map_of_a_million_runs_renders_in_seconds(tmp_path):
    from matplotlib.figure import Figure
    n = 1000
    res = fg.sweep(P.exp_quadratic, x0=np.linspace(-4, 4, n), lr=np.logspace(-4, 0, n),
                   epochs=3)
    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    start = time.perf_counter()
    fg.plot.grid_map(res, "status", ax=fig.add_subplot())
    fig.savefig(tmp_path / "map.png")
    assert time.perf_counter() - start < 10
    image = plt.imread(tmp_path / "map.png")
    assert image.shape[:2] == (480, 640)


def test_lr_scan_figure_answers_the_question():
    scan = fg.lr_scan(P.exp_quadratic, -3.0, np.geomspace(1e-5, 1, 25), 100,
                      ask=(1e-4, 0.8))
    ax = fg.plot.lr_scan(scan)
    assert set(legend_texts(ax)) == {"too slow", "converging", "diverging"}
    assert "lr=0.0001 is too slow" in ax.get_title(loc="left").replace("\n", " ")
    notes = [t.get_text() for t in ax.texts]
    assert "lr=0.0001\ntoo slow" in notes and "lr=0.8\ndiverging" in notes
    assert ax.get_xscale() == "log"


def test_lr_scan_classes_follow_the_documented_rule():
    lrs = [1e-4, 0.1, 0.711, 0.8]
    scan = fg.lr_scan(P.exp_quadratic, -3.0, lrs, 100)
    assert scan.classes.tolist() == ["too slow", "converging", "oscillating", "diverging"]
    assert scan.result.dims == ("lr",) and scan.result.recorded.size == 4
    assert "0.711 oscillates" in scan.summary()
    with pytest.raises(TypeError, match="record"):
        fg.lr_scan(P.exp_quadratic, -3.0, lrs, 10, record=True)


def test_grid_map_colour_scales_limits_and_robust_defaults():
    from matplotlib.colors import LogNorm, SymLogNorm
    res = fg.sweep(P.quartic, x0=np.linspace(-3, 3, 40), lr=np.geomspace(1e-4, 0.02, 30),
                   epochs=50)
    assert res.counts()["diverged"] == 0
    blown = np.array(res.fun)
    blown[0, 0] = 1e12                   # one run that blew up
    ax = fg.plot.grid_map(res, blown)
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.norm.vmax == np.percentile(blown, 99) < 1e12
    assert mesh.norm.vmin == blown.min()  # no outlier at the low end: the true minimum
    assert ax.figure.axes[1].get_ylabel() == "value"
    ax = fg.plot.grid_map(res, "fun", scale="log", vmin=0.5, vmax=20)
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert isinstance(mesh.norm, LogNorm) and (mesh.norm.vmin, mesh.norm.vmax) == (0.5, 20)
    ax = fg.plot.grid_map(res, res.x[..., 0], scale="symlog")
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert isinstance(mesh.norm, SymLogNorm)
    wide = np.exp(np.linspace(0, 20, res.size)).reshape(res.shape)   # 9 decades
    ax = fg.plot.grid_map(res, wide)
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert isinstance(mesh.norm, LogNorm)
    with pytest.raises(ValueError, match="scale"):
        fg.plot.grid_map(res, "fun", scale="cubic")


def test_grid_map_of_minima_puts_a_long_legend_outside():
    g = fg.grid(x=np.linspace(-3.5, 3.5, 60), y=np.linspace(-3.5, 3.5, 60))
    res = fg.sweep(P.rastrigin, x0=g, lr=0.002, epochs=2000, gtol=1e-8)
    m = res.minima(1e-3)
    ax = fg.plot.grid_map(res, m, x="x", y="y")
    texts = legend_texts(ax)
    assert len(m) > 9 and len(texts) >= 10 and "other minima" in texts
    assert texts[0].startswith("x \u2248 (0, 0), f \u2248 0")
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1 - 1  # right of the axes
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    codes = mesh.get_array()
    np.testing.assert_array_equal(codes == 0, (m.labels == 0).T)
    with pytest.raises(ValueError, match="batch shape"):
        fg.plot.grid_map(res, fg.sweep(P.rastrigin, x0=g, lr=[0.002], epochs=1).minima())


def test_paths_2d_numbers_do_not_overlap_and_colour_bar_has_few_ticks():
    res = fg.minimize(P.saddle, x0=[[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [0.0, -1.0]],
                      lr=0.001, epochs=1000, record=True)
    ax = fg.plot.paths_2d(P.saddle, res, annotate=50)
    ax.figure.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts]
    assert len(boxes) > 10
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    assert len(ax.figure.axes[1].get_yticks()) <= 7
