"""Chunked execution, executors, saved and resumed sweeps, determinism across all of them."""

import concurrent.futures
import itertools
import multiprocessing
import pickle

import numpy as np
import pytest

import fastgd as fg
from fastgd import _execute

FIELDS = ("x", "fun", "nit", "status", "success")


def assert_same(a, b):
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    np.testing.assert_array_equal(a.recorded, b.recorded)
    np.testing.assert_array_equal(a.path_x, b.path_x)
    assert a.dims == b.dims


@pytest.fixture(scope="module")
def fit(seed_data):
    return fg.problems.exp_linear_fit(*seed_data)


def quartic_sweep(**options):
    return fg.sweep(fg.problems.quartic, x0=np.linspace(-3, 3, 61),
                    lr=np.geomspace(1e-3, 0.3, 37), epochs=80, ftol=1e-12,
                    record=[0, 1000, 2256], **options)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 10**6])
def test_chunking_does_not_change_results(chunk_size):
    assert_same(quartic_sweep(chunk_size=chunk_size), quartic_sweep())


@pytest.mark.parametrize("chunk_size", [5, 64, 333])
def test_shuffled_minibatches_do_not_depend_on_chunking(fit, chunk_size):
    kw = dict(x0=np.random.default_rng(0).uniform(0.5, 1.5, (20, 3)), lr=[5e-4, 1e-3],
              epochs=10, batch_size=10, seed=9, record=[3, 17])
    assert_same(fg.sweep(fit, chunk_size=chunk_size, **kw), fg.sweep(fit, **kw))


def test_process_pool_gives_the_same_result(fit):
    kw = dict(x0=np.random.default_rng(0).uniform(0.5, 1.5, (16, 3)), lr=[5e-4, 1e-3],
              epochs=10, batch_size=10, seed=2)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        remote = fg.sweep(fit, chunk_size=8, executor=pool, **kw)
    assert_same(remote, fg.sweep(fit, **kw))


def test_problems_pickle(fit):
    assert pickle.loads(pickle.dumps(fg.problems.saddle)) is fg.problems.saddle
    again = pickle.loads(pickle.dumps(fit))
    np.testing.assert_array_equal(again([1.0, 2.0, 3.0]), fit([1.0, 2.0, 3.0]))


def test_out_saves_chunks_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    first = quartic_sweep(chunk_size=500, out=out)
    files = sorted(p.name for p in out.glob("chunk-*.npz"))
    assert len(files) == 5 and (out / "manifest.json").exists()

    # Interrupted half way: two chunks lost. The rerun computes only those two.
    for name in files[1:3]:
        (out / name).unlink()
    calls = []
    real = _execute.execute

    def counting(task, *args, **kwargs):
        def counted(start, stop):
            calls.append((start, stop))
            return task(start, stop)
        return real(counted, *args, **kwargs)
    monkeypatch.setattr(_execute, "execute", counting)
    again = quartic_sweep(chunk_size=500, out=out)
    # (computed in pieces: consecutive calls covering just those two chunks)
    assert calls[0][0] == 500 and calls[-1][1] == 1500
    assert [c[0] for c in calls[1:]] == [c[1] for c in calls[:-1]]
    assert_same(again, first)


def test_out_refuses_a_different_sweep(tmp_path):
    quartic_sweep(chunk_size=500, out=tmp_path / "s")
    with pytest.raises(ValueError, match="different sweep"):
        fg.sweep(fg.problems.quartic, x0=[1.0], lr=[0.1], epochs=5, chunk_size=500,
                 out=tmp_path / "s")


def test_progress_reports_runs(capsys, monkeypatch):
    clock = itertools.count(0.0, 0.7)
    monkeypatch.setattr(_execute.time, "perf_counter", lambda: next(clock))
    quartic_sweep(chunk_size=300, progress=True)
    err = capsys.readouterr().err
    assert "2,257/2,257 runs (100%)" in err and "runs/s" in err
    quartic_sweep(chunk_size=300, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value, error", [(0, ValueError), (1.5, TypeError)])
def test_bad_chunk_size(value, error):
    with pytest.raises(error, match="chunk_size"):
        quartic_sweep(chunk_size=value)


def test_bad_executor():
    with pytest.raises(TypeError, match="executor"):
        quartic_sweep(executor="dask")


def test_dask_local_cluster_is_bit_identical(fit):
    distributed = pytest.importorskip("distributed")
    kw = dict(x0=np.random.default_rng(0).uniform(0.5, 1.5, (16, 3)), lr=[5e-4, 1e-3],
              epochs=10, batch_size=10, seed=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        on_dask = fg.sweep(fit, chunk_size=8, executor=client, **kw)
        quartic = quartic_sweep(chunk_size=400, executor=client.get_executor())
    assert_same(on_dask, fg.sweep(fit, **kw))
    assert_same(quartic, quartic_sweep())


def test_to_pandas_and_xarray():
    res = fg.sweep(fg.problems.saddle, x0=np.array([[0.0, 0.0], [1.0, -1.0]]),
                   lr=[1e-3, 1e-2, 2e-2], epochs=10)
    df = res.to_pandas()
    assert len(df) == 6 and {"x0_0", "x0_1", "lr", "x_0", "x_1", "status"} <= set(df.columns)
    np.testing.assert_array_equal(df["fun"].to_numpy(), res.fun.ravel())
    ds = res.to_xarray()
    assert ds["x"].dims == ("x0", "lr", "component")
    np.testing.assert_array_equal(ds["x0_points"].values, res.coords["x0"])
    np.testing.assert_array_equal(ds["fun"].sel(lr=1e-2).values, res.fun[:, 1])


def test_user_problem_compiles_once_per_worker():
    from tests import user_problems
    problem = user_problems.shifted_bowl()
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        res = fg.sweep(problem, x0=np.linspace(-2, 2, 40), lr=[0.3, 0.4], epochs=60,
                       chunk_size=10, executor=pool)
        compiled = pool.submit(user_problems.adapter_compilations).result()
    np.testing.assert_allclose(res.x, 1.5)
    assert compiled == 1


@pytest.mark.parametrize("options", [
    {"ftol": 1e-12},
    {"xtol": 1e-7, "optimizer": "momentum", "momentum": 0.5},
    {"gtol": 1e-6, "optimizer": "adam", "schedule": fg.step_decay(every=25, factor=0.7)},
])
def test_lanes_refilled_after_early_exit_give_the_same_runs(options):
    # 25,600 runs: large enough that each parallel task streams several blocks
    # of runs through its lanes, refilling lanes as runs stop; chunks of 64
    # runs never refill.  Every run must come out the same, bit for bit.
    kw = dict(x0=np.linspace(-3, 3, 160), lr=np.geomspace(1e-3, 0.3, 160), epochs=300,
              record=[5, 12_345, 25_599], **options)
    streamed = fg.sweep(fg.problems.quartic, **kw)
    blockwise = fg.sweep(fg.problems.quartic, chunk_size=64, **kw)
    assert_same(streamed, blockwise)
    assert 0 < streamed.counts()["converged"] < streamed.size


def test_a_chunks_inputs_are_the_batchs_runs_in_order():
    # _Task._flat cuts runs start..stop out of an input broadcast to the batch
    # shape: a view of a ready array, a copy of the rows it touches, or of the
    # range; always float64, C-contiguous and writeable, as the kernel takes it.
    from fastgd._api import _Task
    rng = np.random.default_rng(0)
    cases = [((7, 5), rng.normal(size=(7, 5))),            # ready: a view
             ((7, 5), rng.normal(size=(7, 1))),            # rows copied
             ((7, 5), rng.normal(size=5)),
             ((7, 5), np.float64(2.5)),                    # a scalar
             ((3, 5000), rng.normal(size=(3, 1))),         # long rows: the range
             ((40,), np.broadcast_to(1.5, (40,))),         # read-only
             ((6, 4, 3), rng.normal(size=(6, 1, 3)).astype(np.float32))]
    for shape, a in cases:
        task = _Task.__new__(_Task)
        object.__setattr__(task, "shape", shape)
        whole = np.broadcast_to(a, shape).astype(np.float64).reshape(-1)
        for start, stop in [(0, whole.size), (0, 1), (3, 4), (2, whole.size - 1),
                            (whole.size - 1, whole.size)]:
            got = task._flat(a, start, stop)
            assert got.dtype == np.float64 and got.flags.c_contiguous and got.flags.writeable
            np.testing.assert_array_equal(got, whole[start:stop])
