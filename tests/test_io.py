"""fg.save / fg.load: a result survives the round trip, field by field."""

import json
import zipfile

import numpy as np
import pytest

import fastgd as fg
from fastgd import io


def assert_same(a, b):
    assert a.dims == b.dims and a.problem == b.problem
    for name in ("x", "fun", "nit", "status", "success", "recorded"):
        got, want = getattr(b, name), getattr(a, name)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert set(a.coords) == set(b.coords)
    for d in a.coords:
        np.testing.assert_array_equal(a.coords[d], b.coords[d])
    assert set(a.params) == set(b.params)
    for k, v in a.params.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(b.params[k], v)
            assert b.params[k].shape == a.params[k].shape
        else:
            assert b.params[k] == v


def test_sweep_round_trip_with_paths(tmp_path):
    res = fg.sweep(fg.problems.quartic, x0=np.linspace(-2, 2, 7), lr=[0.01, 0.02, 0.03],
                   epochs=40, schedule=fg.step_decay(10, [1.0, 0.5]), record=[0, 5, 20])
    path = tmp_path / "r.npz"
    fg.save(res, path)
    back = fg.load(path)
    assert_same(res, back)
    for run in (0, 5, 20):
        for got, want in zip(back.path(run), res.path(run)):
            np.testing.assert_array_equal(got, want)
    assert back.params["schedule"] == "step_decay"


def test_minimize_scalar_batch_and_no_paths(tmp_path):
    res = fg.minimize(fg.problems.saddle, x0=[3.0, 3.0], lr=0.001, epochs=20, gtol=1e-3)
    path = tmp_path / "one.npz"
    fg.save(res, str(path), compress=False)
    back = fg.load(str(path))
    assert_same(res, back)
    assert back.shape == ()
    assert back.recorded.size == 0
    # Nothing recorded: the saved path is empty, and loads as empty.
    assert res.path_x.size == 0 and back.path_x.size == 0
    assert back.path_x.shape == res.path_x.shape


def test_broadcast_params_are_stored_compactly(tmp_path):
    res = fg.sweep(fg.problems.exp_quadratic, x0=np.linspace(-4, 4, 300),
                   lr=np.logspace(-3, 0, 200), epochs=5)
    path = tmp_path / "big.npz"
    fg.save(res, path)
    with np.load(path) as npz:
        assert npz["param:lr"].size == 200
        meta = json.loads(str(npz["__meta__"]))
    assert meta["format"] == "fastgd.Result"
    assert meta["format_version"] == io.FORMAT_VERSION
    assert fg.load(path).params["lr"].shape == (300, 200)


def test_momentum_and_fit_round_trip(tmp_path):
    x, y = fg.problems.exp_linear_data(30, seed=2)
    res = fg.minimize(fg.problems.exp_linear_fit(x, y), x0=[[1.0, 2.0, 3.0]] * 2,
                      lr=0.001, epochs=10, optimizer="momentum", momentum=[0.5, 0.9],
                      batch_size=10, record=True)
    fg.save(res, tmp_path / "fit.npz")
    assert_same(res, fg.load(tmp_path / "fit.npz"))


def test_rejects_other_files_and_newer_versions(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="not a saved fastgd result"):
        fg.load(tmp_path / "other.npz")
    res = fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=3)
    fg.save(res, tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as npz:
        arrays = dict(npz)
    meta = json.loads(str(arrays["__meta__"]))
    meta["format_version"] = io.FORMAT_VERSION + 1
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "new.npz", **arrays)
    with pytest.raises(ValueError, match="format version"):
        fg.load(tmp_path / "new.npz")


def test_save_checks_its_argument(tmp_path):
    with pytest.raises(TypeError, match="fastgd.Result"):
        fg.save({"x": 1}, tmp_path / "x.npz")


def test_no_pickles(tmp_path):
    res = fg.sweep(fg.problems.quartic, x0=[1.0, 2.0], lr=[0.01, 0.02], epochs=3)
    fg.save(res, tmp_path / "r.npz")
    with zipfile.ZipFile(tmp_path / "r.npz") as zf:
        for name in zf.namelist():
            with zf.open(name) as fh:
                header = fh.read(200)
            assert b"'descr': '|O'" not in header
