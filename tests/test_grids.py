"""Answers from a grid: named start grids, samplers, best runs, minima, lr_scan on
a function with two minima.  Checked against plain loops, NumPy and analytic minima."""

import numpy as np
import pytest

import fastgd as fg
from fastgd import reference as ref
from fastgd.result import Result

P = fg.problems
QUARTIC_MINIMA = np.sort(np.roots([4.0, 0.0, -10.0, 2.0]).real)[[0, 2]]  # f' = 4x^3-10x+2
HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                              [3.584428, -1.848126]])


def synthetic(x, fun, status=None, gtol=None):
    """A Result built by hand, to test the answers on known numbers."""
    fun = np.asarray(fun, dtype=float)
    x = np.asarray(x, dtype=float).reshape(fun.shape + (-1,))
    status = np.full(fun.shape, fg.Status.MAX_EPOCHS, np.int8) if status is None \
        else np.asarray(status, np.int8)
    return Result(x=x, fun=fun, nit=np.zeros(fun.shape, np.int64), status=status,
                  success=status != fg.Status.DIVERGED,
                  dims=tuple(f"dim_{i}" for i in range(fun.ndim)), coords={},
                  params={"gtol": gtol}, problem="synthetic")


# --- named grids and samples ------------------------------------------------------------

def test_grid_points_dims_and_runs_match_the_plain_loop():
    gx, gy, lrs = np.linspace(-3, 3, 4), np.linspace(-2, 2, 3), [1e-3, 1e-2]
    g = fg.grid(x=gx, y=gy)
    assert g.dims == ("x", "y") and g.points.shape == (4, 3, 2)
    res = fg.sweep(P.saddle, x0=g, lr=lrs, epochs=40)
    assert res.dims == ("x", "y", "lr") and res.shape == (4, 3, 2)
    np.testing.assert_array_equal(res.coords["x"], gx)
    np.testing.assert_array_equal(res.coords["y"], gy)
    for i, j, k in [(0, 0, 0), (3, 1, 1), (2, 2, 0)]:
        np.testing.assert_array_equal(res.params["x0"][i, j, k], [gx[i], gy[j]])
        want = ref.descend(ref.saddle_grad, (gx[i], gy[j]), lrs[k], 40)
        np.testing.assert_allclose(res.x[i, j, k], want.x, rtol=1e-9)


def test_plain_meshgrid_in_sweep_is_named_by_coordinate():
    g = np.linspace(-3, 3, 5)
    starts = np.stack(np.meshgrid(g, g[:4]), -1)   # rows along y: starts[i, j] = (g[j], g[i])
    res = fg.sweep(P.saddle, x0=starts, lr=[1e-3, 1e-2], epochs=20)
    assert res.dims == ("x0_1", "x0_0", "lr") and res.shape == (4, 5, 2)
    np.testing.assert_array_equal(res.coords["x0_1"], g[:4])
    np.testing.assert_array_equal(res.coords["x0_0"], g)
    named = fg.sweep(P.saddle, x0=fg.grid(x=g, y=g[:4]), lr=[1e-3, 1e-2], epochs=20)
    np.testing.assert_array_equal(res.fun, named.fun.transpose(1, 0, 2))
    # Not a product grid: the axes still sweep, under neutral names.
    rng = np.random.default_rng(0)
    res = fg.sweep(P.saddle, x0=rng.uniform(-1, 1, (3, 2, 2)), lr=0.01, epochs=5)
    assert res.dims == ("x0_axis0", "x0_axis1") and res.coords == {}


def test_minimize_names_axes_where_the_arguments_tell():
    res = fg.minimize(P.quartic, x0=np.linspace(-2, 2, 3)[:, None], lr=[0.01, 0.02], epochs=5)
    assert res.dims == ("x0", "lr")
    np.testing.assert_array_equal(res.coords["x0"], [-2.0, 0.0, 2.0])
    zipped = fg.minimize(P.quartic, x0=[1.0, 2.0], lr=[0.01, 0.02], epochs=5)
    assert zipped.dims == ("dim_0",) and zipped.coords == {}
    g = np.linspace(-3, 3, 5)
    res = fg.minimize(P.saddle, x0=np.stack(np.meshgrid(g, g), -1), lr=0.001, epochs=5)
    assert res.dims == ("x0_1", "x0_0")
    res = fg.minimize(P.saddle, x0=fg.grid(x=g, y=g[:3]),
                      lr=np.array([0.001, 0.002])[:, None, None], epochs=5)
    assert res.dims == ("lr", "x", "y") and res.shape == (2, 5, 3)
    import matplotlib
    matplotlib.use("Agg")
    ax = fg.plot.grid_map(res, "fun", x="x", y="y", fixed={"lr": 0.002})
    assert ax.get_xlabel() == "x"
    matplotlib.pyplot.close("all")


def test_grid_and_starts_errors_name_the_argument():
    with pytest.raises(ValueError, match="dim 1"):
        fg.sweep(P.saddle, x0=fg.grid(x=[1.0, 2.0]), lr=0.1, epochs=3)
    with pytest.raises(ValueError, match="lr"):
        fg.sweep(P.saddle, x0=fg.grid(lr=[1.0, 2.0], y=[0.0]), lr=[0.1, 0.2], epochs=3)
    with pytest.raises(ValueError, match="axis y"):
        fg.grid(x=[1.0], y=[[1.0]])
    with pytest.raises(TypeError, match="at least one axis"):
        fg.grid()


def test_sample_methods_are_seeded_in_the_box_and_stratified():
    lo, hi = np.array([-2.0, 0.0, 10.0]), np.array([2.0, 1.0, 11.0])
    for method in ("uniform", "lhs", "sobol"):
        s = fg.sample(64, lo, hi, method=method, seed=3)
        assert s.dims == ("x0",) and s.points.shape == (64, 3)
        np.testing.assert_array_equal(s.points, fg.sample(64, lo, hi, method=method,
                                                          seed=3).points)
        assert not np.array_equal(s.points, fg.sample(64, lo, hi, method=method,
                                                      seed=4).points)
        assert np.all((s.points >= lo) & (s.points < hi))
        if method != "uniform":
            # Latin hypercube and Sobol' (n a power of 2): one point per stratum.
            strata = np.floor((s.points - lo) / (hi - lo) * 64).astype(int)
            for j in range(3):
                assert sorted(strata[:, j]) == list(range(64))
    u = fg.sample(20000, 0.0, 1.0, seed=0)
    assert u.points.shape == (20000, 1) and u.coords["x0"].shape == (20000,)
    assert abs(u.points.mean() - 0.5) < 0.01 and abs(u.points.var() - 1 / 12) < 0.003


def test_sample_errors():
    with pytest.raises(ValueError, match="power of 2"):
        fg.sample(10, 0.0, 1.0, method="sobol")
    with pytest.raises(ValueError, match="low must be < high"):
        fg.sample(10, [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="method"):
        fg.sample(10, 0.0, 1.0, method="halton")
    with pytest.raises(TypeError, match="n must be an int"):
        fg.sample(2.5, 0.0, 1.0)


# --- best ---------------------------------------------------------------------------------

def test_best_is_numpys_argmin_over_finite_values():
    res = fg.sweep(P.quartic, x0=np.linspace(-3, 3, 61), lr=np.geomspace(1e-3, 0.5, 40),
                   epochs=100)
    assert np.any(res.status == fg.Status.DIVERGED)
    fun = np.where(res.status == fg.Status.DIVERGED, np.nan, res.fun)
    want = np.unravel_index(np.nanargmin(fun), res.shape)
    b = res.best()
    assert b.index == tuple(int(i) for i in want)
    assert b.fun == res.fun[want] and np.array_equal(b.x, res.x[want])
    assert b.coords == {"x0": res.coords["x0"][want[0]], "lr": res.coords["lr"][want[1]]}
    assert b.params["lr"] == res.coords["lr"][want[1]] and b.params["epochs"] == 100
    # Ranked by the caller's own values.
    dist = np.abs(res.x[..., 0] - QUARTIC_MINIMA[1])
    assert res.best(dist).index == np.unravel_index(
        np.nanargmin(np.where(np.isfinite(fun), dist, np.nan)), res.shape)


def test_best_ties_all_diverged_and_values_shape():
    res = synthetic([[0.0], [1.0], [2.0], [3.0]], [np.nan, 2.0, 1.0, 1.0],
                    status=[2, 1, 1, 1])
    assert res.best().flat == 2                      # equal values: lowest flat index
    bound = synthetic([[0.0], [1.0]], [-5.0, 1.0], status=[2, 1])
    assert bound.best().flat == 1                    # a diverged run never wins
    dead = synthetic([[0.0], [1.0]], [np.nan, np.inf], status=[2, 2])
    with pytest.raises(ValueError, match="2 diverged"):
        dead.best()
    with pytest.raises(ValueError, match="batch shape"):
        res.best(np.zeros(3))


# --- minima -------------------------------------------------------------------------------

def test_quartic_minima_are_the_analytic_ones_with_each_run_labelled():
    res = fg.sweep(P.quartic, x0=np.linspace(-3, 3, 301), lr=np.geomspace(1e-3, 0.3, 30),
                   epochs=2000, gtol=1e-9)
    m = res.minima(tol=1e-4)
    assert len(m) == 2
    np.testing.assert_allclose(m.x[:, 0], QUARTIC_MINIMA, atol=1e-9)
    f = lambda x: x**4 - 5 * x**2 + 2 * x + 10  # noqa: E731
    np.testing.assert_allclose(m.fun, f(QUARTIC_MINIMA), rtol=1e-12)
    # Each run's label, from its final point and status alone.
    x = res.x[..., 0]
    converged = res.status == fg.Status.CONVERGED
    want = np.where(res.status == fg.Status.DIVERGED, -1, -2)
    for k, root in enumerate(QUARTIC_MINIMA):
        want = np.where(converged & (np.abs(x - root) < 1e-4), k, want)
    np.testing.assert_array_equal(m.labels, want)
    assert m.count.tolist() == [int(np.sum(want == 0)), int(np.sum(want == 1))]
    np.testing.assert_allclose(m.fraction, m.count / res.size)
    table = m.to_pandas()
    assert list(table.columns) == ["x_0", "fun", "count", "fraction", "run"]
    assert table.index.name == "label"


def test_himmelblau_four_minima_from_a_latin_hypercube():
    s = fg.sample(400, [-5, -5], [5, 5], method="lhs", seed=0)
    res = fg.sweep(P.himmelblau, x0=s, lr=0.005, epochs=3000, gtol=1e-10)
    m = res.minima(tol=1e-3)
    assert len(m) == 4 and m.count.sum() == np.sum(res.status == fg.Status.CONVERGED)
    for point in m.x:
        assert np.min(np.abs(HIMMELBLAU_MINIMA - point).max(axis=1)) < 1e-5
    np.testing.assert_allclose(m.fun, 0.0, atol=1e-12)


def test_minima_grouping_is_by_distance():
    # Points 0.6 tol apart chain into one group; a gap of 3 tol splits groups.
    tol = 0.1
    xs = np.array([0.0, 0.06, 0.12, 0.18, 0.5, 0.52, np.nan])
    fun = np.array([3.0, 2.0, 2.5, 4.0, 1.0, 1.0, np.nan])
    status = np.array([1, 1, 1, 1, 1, 1, 2])
    m = synthetic(xs, fun, status).minima(tol=tol)
    assert m.labels.tolist() == [1, 1, 1, 1, 0, 0, -1]
    assert m.run.tolist() == [4, 1] and m.fun.tolist() == [1.0, 2.0]
    assert m.count.tolist() == [2, 4]
    # Two dims, diagonal neighbours belong together; unsettled runs when asked.
    pts = np.array([[0.0, 0.0], [0.09, 0.09], [1.0, 1.0]])
    m = synthetic(pts, [0.0, 0.0, 0.0], status=[0, 0, 1], gtol=1e-6).minima(tol=0.1)
    assert m.labels.tolist() == [0, 0, -2]
    assert synthetic(pts, [0.0, 0.0, 0.0], status=[0, 0, 1]).minima(
        tol=0.1, settled=False).labels.tolist() == [0, 0, 1]
    empty = synthetic([[0.0]], [np.nan], status=[2]).minima()
    assert len(empty) == 0 and empty.labels.tolist() == [-1]
    with pytest.raises(ValueError, match="tol"):
        synthetic([[0.0]], [1.0]).minima(tol=0)


# --- lr_scan on a function with two minima --------------------------------------------

def test_lr_scan_converging_to_the_local_minimum_of_the_quartic():
    lrs = np.geomspace(1e-4, 0.5, 200)
    scan = fg.lr_scan(P.quartic, 2.0, lrs, 300)
    local = (lrs >= 0.005) & (lrs <= 0.06)
    assert np.all(scan.classes[local] == "converging")
    np.testing.assert_allclose(scan.result.x[local, 0], QUARTIC_MINIMA[1], atol=1e-9)
    assert scan.classify(1e-4) == "too slow" and scan.classify(0.5) == "diverging"
    assert "settles at f = 6.805" in scan._explain(0.01)


# --- adaptive refinement --------------------------------------------------------------------

def test_refine_basins_of_the_quartic_against_the_full_grid():
    axes = dict(x0=np.linspace(-3, 3, 129), lr=np.geomspace(1e-3, 0.3, 129))
    ref = fg.refine(P.quartic, **axes, epochs=400, gtol=1e-6, by="minimum", start=9)
    full = fg.sweep(P.quartic, **axes, epochs=400, gtol=1e-6)
    assert ref.result.dims == full.dims == ("x0", "lr") and ref.runs < 0.4 * full.size
    done = ref.computed
    for name in ("x", "fun", "nit", "status"):   # computed runs: the full grid's, bit for bit
        np.testing.assert_array_equal(getattr(ref.result, name)[done],
                                      getattr(full, name)[done])
    assert np.all(np.isnan(ref.result.fun[~done])) and np.all(ref.result.nit[~done] == -1)
    np.testing.assert_allclose(ref.minima.x[:, 0], QUARTIC_MINIMA, atol=1e-5)
    # Labels of the whole map against each full-grid run's own outcome.
    x, st = full.x[..., 0], full.status
    want = np.where(st == fg.Status.DIVERGED, -1, -2)
    for k, root in enumerate(QUARTIC_MINIMA):
        want = np.where((st == fg.Status.CONVERGED) & (np.abs(x - root) < 1e-3), k, want)
    assert np.mean(ref.labels == want) > 0.995
    assert np.mean(ref.result.status == full.status) > 0.995
    assert ref.minima.count.sum() == np.sum(ref.labels >= 0)
    np.testing.assert_array_equal(ref.result.params["lr"], full.params["lr"])
    np.testing.assert_array_equal(ref.result.params["x0"], full.params["x0"])


def test_refine_a_named_2d_start_grid_by_status_and_by_a_quantity():
    g = fg.grid(x=np.linspace(-3, 3, 65), y=np.linspace(-3, 3, 65))
    full = fg.sweep(P.saddle, x0=g, lr=0.001, epochs=300)
    ref = fg.refine(P.saddle, x0=g, lr=0.001, epochs=300, start=9)
    assert ref.result.dims == ("x", "y") and ref.labels.dtype == np.int8
    assert np.mean(ref.labels == full.status) > 0.99 and ref.runs < full.size
    deep = fg.refine(P.saddle, x0=g, lr=0.001, epochs=300, start=9,
                     by=lambda r: r.fun < -1)
    np.testing.assert_array_equal(deep.result.fun[deep.computed], full.fun[deep.computed])
    assert np.mean(deep.labels == (full.fun < -1)) > 0.99


def test_refine_refuses_what_it_cannot_map():
    with pytest.raises(ValueError, match="exactly two"):
        fg.refine(P.quartic, x0=[1.0, 2.0], lr=[0.1, 0.2], momentum=[0.0, 0.5],
                  optimizer="momentum", epochs=3)
    with pytest.raises(TypeError, match="record"):
        fg.refine(P.quartic, x0=[1.0, 2.0], lr=[0.1, 0.2], epochs=3, record=True)
    with pytest.raises(ValueError, match="by must be"):
        fg.refine(P.quartic, x0=[1.0, 2.0], lr=[0.1, 0.2], epochs=3, by="speed")
    x, y = P.exp_linear_data(20, seed=0)
    with pytest.raises(ValueError, match="shuffle=False"):
        fg.refine(P.exp_linear_fit(x, y), x0=[[1.0, 2.0, 3.0], [1.0, 3.0, 5.0]],
                  lr=[1e-3, 2e-3], epochs=3, batch_size=5)


# --- frames ---------------------------------------------------------------------------------

def test_frames_record_every_argument_and_off_as_missing():
    res = fg.minimize(P.saddle, x0=[2.0, -1.0], lr=[1e-3, 1e-2], epochs=20)
    assert res.params["x0"].shape == (2, 2) and res.params["gtol"] is None
    assert res.params["batch_size"] is None and res.params["schedule"] is None
    df = res.to_pandas()
    assert df["x0_0"].tolist() == [2.0, 2.0] and df["x0_1"].tolist() == [-1.0, -1.0]
    assert df.attrs["xtol"] is None and df.attrs["epochs"] == 20
    ds = res.to_xarray()
    np.testing.assert_array_equal(ds["x0"].values, [[2.0, -1.0], [2.0, -1.0]])
    assert "xtol" not in ds.attrs and ds.attrs["shuffle"] == 1
    assert ds["status"].values.tolist() == ["max_epochs", "max_epochs"]


def test_to_xarray_round_trips_through_netcdf(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("scipy")
    s = fg.sample(16, [-3, -3], [3, 3], method="sobol", seed=2)
    res = fg.sweep(P.himmelblau, x0=s, lr=[1e-3, 0.1], epochs=50, gtol=1e-3,
                   schedule=fg.step_decay(10, [1.0, 0.5]))
    assert np.any(res.status == fg.Status.DIVERGED)   # NaN and inf survive too
    ds = res.to_xarray()
    ds.to_netcdf(tmp_path / "r.nc", engine="scipy")
    with xr.open_dataset(tmp_path / "r.nc", engine="scipy") as back:
        back = back.load()
    xr.testing.assert_identical(ds, back)
    np.testing.assert_array_equal(back["x0_points"].values, s.points)
    np.testing.assert_array_equal(back["fun"].values, res.fun)
    np.testing.assert_array_equal(back["nit"].values, res.nit)
    names = np.array([st.name.lower() for st in fg.Status])
    np.testing.assert_array_equal(back["status"].values.astype(str), names[res.status])
    assert back.attrs["gtol"] == 1e-3 and back.attrs["schedule"] == "step_decay"


def assert_same_result(a, b):
    assert a.dims == b.dims and a.problem == b.problem and a.shape == b.shape
    for name in ("x", "fun", "nit", "status", "success"):
        got, want = getattr(b, name), getattr(a, name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert set(a.coords) == set(b.coords)
    for d in a.coords:
        np.testing.assert_array_equal(b.coords[d], a.coords[d])
    assert list(a.params) == list(b.params)
    for k, v in a.params.items():
        if isinstance(v, np.ndarray):
            assert b.params[k].shape == v.shape
            np.testing.assert_array_equal(b.params[k], v)
        else:
            assert b.params[k] == v and type(b.params[k]) is type(v)


@pytest.mark.parametrize("case", ["sample", "fixed", "grid", "lists"])
def test_result_round_trips_through_netcdf(tmp_path, case):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("scipy")
    if case == "sample":
        res = fg.sweep(P.himmelblau, x0=fg.sample(8, [-3, -3], [3, 3], method="lhs"),
                       lr=[1e-3, 0.1], epochs=30, schedule=fg.step_decay(10, [1.0, 0.5]))
    elif case == "fixed":
        res = fg.minimize(P.saddle, x0=[1.0, -1.0], lr=[1e-3, 1e-2], epochs=10, gtol=1e-3)
    elif case == "grid":
        res = fg.sweep(P.saddle, x0=fg.grid(x=[0.0, 1.0], y=[-1.0, 0.0, 1.0]),
                       lr=[1e-3, 2e-3], epochs=10, optimizer="adam")
    else:
        res = fg.sweep(P.quartic, x0=[-2.0, 0.5, 2.0], lr=[0.01, 0.3], epochs=40, xtol=1e-9)
    res.to_xarray().to_netcdf(tmp_path / "r.nc", engine="scipy")
    with xr.open_dataset(tmp_path / "r.nc", engine="scipy") as ds:
        back = fg.Result.from_xarray(ds.load())
    assert_same_result(res, back)


def test_grid_axes_named_like_outputs_keep_both_in_xarray():
    res = fg.sweep(P.saddle, x0=fg.grid(x0=[0.0, 1.0], x=[-1.0, 1.0, 2.0]), lr=1e-3, epochs=5)
    ds = res.to_xarray()
    np.testing.assert_array_equal(ds["x"].values, [-1.0, 1.0, 2.0])          # the dim
    np.testing.assert_array_equal(ds["result_x"].values, res.x)             # the final points
    np.testing.assert_array_equal(ds["result_x0"].values, res.params["x0"])  # the starts
    assert_same_result(res, fg.Result.from_xarray(ds))
    df = res.to_pandas()
    assert df["x0_1"].tolist() == [-1.0, 1.0, 2.0, -1.0, 1.0, 2.0]
