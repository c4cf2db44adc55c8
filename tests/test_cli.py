"""The fastgd command, run as a subprocess the way a user runs it."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastgd as fg
from fastgd.cli import problem_names
from tests.conftest import interruptible, subprocess_env


def fastgd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastgd", *args], capture_output=True,
                          text=True, cwd=cwd, env=subprocess_env(), timeout=300)


def ok(*args, cwd=None):
    run = fastgd(*args, cwd=cwd)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run


def assert_same(got, want, fields=("x", "fun", "nit", "status")):
    assert got.dims == want.dims
    for name in fields:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def test_demo_quick_writes_its_figures(tmp_path):
    out = tmp_path / "figs"
    run = ok("demo", "--quick", "--out", str(out))
    names = sorted(os.listdir(out))
    assert len(names) >= 10 and all(n.endswith(".png") for n in names)
    for must in ("exp_quadratic_status.png", "lr_scan.png", "saddle_paths.png",
                 "quartic_minima.png", "quartic_basins.png", "step_decay.png", "fit.png",
                 "momentum.png"):
        assert must in names
        assert (out / must).stat().st_size > 10_000
    assert "tutorial*" in run.stdout and "speed-up" in run.stdout
    assert "lr=0.0001 is too slow" in run.stdout and "lr=0.8 is diverging" in run.stdout
    assert "seed" not in run.stdout  # the tutorial is never called "the seed"
    assert "[1/" in run.stderr  # progress goes to stderr


def test_sweep_writes_a_file_that_loads_back_equal(tmp_path):
    path = tmp_path / "q.npz"
    png = tmp_path / "q.png"
    run = ok("sweep", "quartic", "--x0", "-2.5:2.5:40", "--lr", "1e-3:0.2:30:log",
             "--epochs", "60", "--gtol", "1e-6", "--out", str(path),
             "--plot", str(png), "--quantity", "minimum")
    assert "1,200 runs (x0: 40, lr: 30)" in run.stdout
    assert png.stat().st_size > 10_000
    got = fg.load(path)
    want = fg.sweep(fg.problems.quartic, x0=np.linspace(-2.5, 2.5, 40),
                    lr=np.geomspace(1e-3, 0.2, 30), epochs=60, gtol=1e-6)
    assert_same(got, want)
    np.testing.assert_array_equal(got.coords["lr"], want.coords["lr"])


def test_lin_and_log_prefix_ranges(tmp_path):
    ok("sweep", "quartic", "--x0", "lin:-2:2:5", "--lr", "log:1e-3:1e-1:3", "--epochs", "20",
       "--out", str(tmp_path / "q.npz"))
    got = fg.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(got.coords["x0"], np.linspace(-2, 2, 5))
    np.testing.assert_array_equal(got.coords["lr"], np.geomspace(1e-3, 1e-1, 3))


def test_sweep_saddle_grid_of_starts(tmp_path):
    path = tmp_path / "s.npz"
    ok("sweep", "saddle", "--x0", "-3:3:7", "--y0", "-1,0,1", "--lr", "0.001",
       "--epochs", "50", "--out", str(path), "--plot", str(tmp_path / "s.png"),
       "--quantity", "fun")
    res = fg.load(path)
    assert res.dims == ("y0", "x0") and res.shape == (3, 7)
    start = np.array([res.coords["x0"][2], res.coords["y0"][0]])
    np.testing.assert_array_equal(
        res.x[0, 2], fg.minimize(fg.problems.saddle, x0=start, lr=0.001, epochs=50).x)


@pytest.mark.parametrize("name", problem_names())
def test_every_built_in_problem(tmp_path, name):
    problem = getattr(fg.problems, name)
    if name == "exp_linear_fit":
        problem = problem(*fg.problems.exp_linear_data(100, seed=0))
        args, x0 = ["--start", "x1=1", "--start", "x2=2", "--start", "x3=1,3"], \
            np.array([[1.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    elif problem.dim == 1:
        args, x0 = ["--x0", "-1,0.5"], np.array([-1.0, 0.5])
    else:
        args, x0 = ["--x0", "0.5", "--y0", "-1,0.5"], np.array([[0.5, -1.0], [0.5, 0.5]])
    ok("sweep", name, *args, "--lr", "1e-3", "--epochs", "30", "--out",
       str(tmp_path / "r.npz"))
    got = fg.load(tmp_path / "r.npz")
    want = fg.minimize(problem, x0=x0, lr=1e-3, epochs=30)
    np.testing.assert_array_equal(got.x.reshape(want.x.shape), want.x)
    assert got.problem == problem.name


def test_quadratic_with_dim_condition_and_seed(tmp_path):
    ok("sweep", "quadratic:4:100:3", "--x0", "1", "--start", "x4=-1,2", "--lr",
       "0.01,0.019", "--epochs", "200", "--out", str(tmp_path / "q.npz"))
    got = fg.load(tmp_path / "q.npz")
    assert got.dims == ("x4_0", "lr")
    q = fg.problems.quadratic(4, 100.0, seed=3)
    want = fg.minimize(q, x0=np.array([[[1, 1, 1, -1.0]], [[1, 1, 1, 2.0]]]),
                       lr=np.array([0.01, 0.019]), epochs=200)
    np.testing.assert_array_equal(got.x, want.x)


def test_formula_as_the_problem_matches_the_built_in(tmp_path):
    ok("sweep", "x**4 - 5*x**2 + 2*x + 10", "--x0", "-3:3:7", "--lr", "0.01,0.05",
       "--epochs", "80", "--out", str(tmp_path / "f.npz"))
    got = fg.load(tmp_path / "f.npz")
    want = fg.sweep(fg.problems.quartic, x0=np.linspace(-3, 3, 7), lr=[0.01, 0.05],
                    epochs=80)
    assert_same(got, want)   # the same formula, written the same way: bit for bit


def test_formula_with_named_variables_and_starts(tmp_path):
    ok("sweep", "exp(u + v) + u**2 - v**2", "--variables", "u v", "--start", "u=-1,1",
       "--start", "v=0,2,3", "--lr", "0.001", "--epochs", "40", "--out",
       str(tmp_path / "f.npz"))
    got = fg.load(tmp_path / "f.npz")
    assert got.dims == ("v0", "u0") and got.shape == (3, 2)
    want = fg.minimize(fg.problems.saddle, x0=[1.0, 3.0], lr=0.001, epochs=40)
    np.testing.assert_array_equal(got.x[2, 1], want.x)


def test_formula_fit_to_data_from_a_csv_file(tmp_path):
    x, y = fg.problems.exp_linear_data(50, seed=1)
    np.savetxt(tmp_path / "d.csv", np.column_stack([x, y]), delimiter=",", header="x,y",
               comments="")
    ok("sweep", "exp(-a*x) + b*x + c", "--variables", "a b c", "--data",
       str(tmp_path / "d.csv"), "--start", "a=1", "--start", "b=2", "--start", "c=3",
       "--lr", "1e-3", "--epochs", "100", "--batch-size", "10", "--no-shuffle",
       "--out", str(tmp_path / "fit.npz"))
    got = fg.load(tmp_path / "fit.npz")
    want = fg.minimize(fg.problems.exp_linear_fit(x, y), x0=[1.0, 2.0, 3.0], lr=1e-3,
                       epochs=100, batch_size=10, shuffle=False)
    np.testing.assert_array_equal(got.x, want.x)
    assert got.params["batch_size"] == 10 and got.params["shuffle"] is False


def test_points_from_a_file_and_shuffled_mini_batches(tmp_path):
    starts = np.array([[1.0, 2.0, 3.0], [1.0, 3.0, 5.0], [0.5, 1.0, 2.0]])
    np.save(tmp_path / "p.npy", starts)
    ok("sweep", "exp_linear_fit", "--points", str(tmp_path / "p.npy"), "--lr", "1e-3",
       "--epochs", "20", "--batch-size", "10", "--seed", "7", "--out",
       str(tmp_path / "r.npz"))
    got = fg.load(tmp_path / "r.npz")
    assert got.dims == ("x0",)
    want = fg.sweep(fg.problems.exp_linear_fit(*fg.problems.exp_linear_data(100, seed=0)),
                    x0=starts, lr=1e-3, epochs=20, batch_size=10, seed=7)
    assert_same(got, want)


@pytest.mark.parametrize("optimizer, flag, values", [
    ("gd", None, None), ("momentum", "--momentum", [0.5, 0.9]),
    ("momentum_torch", "--momentum", [0.5, 0.9]), ("nesterov", "--momentum", [0.5, 0.9]),
    ("adagrad", "--eps", [1e-10, 1e-6]), ("rmsprop", "--alpha", [0.9, 0.99]),
    ("adam", "--beta1", [0.8, 0.9, 0.95]), ("adamw", "--weight-decay", [0.0, 0.1]),
])
def test_every_optimizer_and_its_hyper_parameters_sweep(tmp_path, optimizer, flag, values):
    extra = [flag, ",".join(map(str, values))] if flag else []
    ok("sweep", "rosenbrock", "--x0", "-1.5", "--y0", "2", "--lr", "log:1e-4:1e-3:3",
       "--optimizer", optimizer, *extra, "--epochs", "50", "--out", str(tmp_path / "r.npz"))
    got = fg.load(tmp_path / "r.npz")
    kw = {flag[2:].replace("-", "_"): values} if flag else {}
    want = fg.sweep(fg.problems.rosenbrock, x0=[-1.5, 2.0], lr=np.geomspace(1e-4, 1e-3, 3),
                    optimizer=optimizer, epochs=50, **kw)
    np.testing.assert_array_equal(got.x.reshape(want.x.shape), want.x)
    assert got.dims == (("lr",) + ((flag[2:].replace("-", "_"),) if flag else ()))


@pytest.mark.parametrize("args, schedule", [
    (["--schedule", "step_decay", "--every", "5,10", "--factor", "0.5"],
     fg.step_decay(every=[5, 10], factor=0.5)),
    (["--schedule", "exponential_decay", "--factor", "0.9,0.99"],
     fg.exponential_decay(factor=[0.9, 0.99])),
    (["--schedule", "multi_step", "--milestones", "5,15", "--factor", "0.1"],
     fg.multi_step([5, 15], factor=0.1)),
    (["--schedule", "cosine_decay", "--decay-epochs", "20", "--floor", "0,0.1"],
     fg.cosine_decay(decay_epochs=20, floor=[0.0, 0.1])),
    (["--schedule", "inverse_time", "--decay", "0.1"], fg.inverse_time(decay=0.1)),
    (["--schedule", "step_decay", "--warmup", "0,3"], fg.warmup(fg.step_decay(), [0, 3])),
    (["--warmup", "4"], fg.warmup(None, 4)),
])
def test_schedules_and_their_parameters(tmp_path, args, schedule):
    ok("sweep", "quartic", "--x0", "2.1", "--lr", "0.1,0.15", *args, "--epochs", "30",
       "--out", str(tmp_path / "s.npz"))
    got = fg.load(tmp_path / "s.npz")
    want = fg.sweep(fg.problems.quartic, x0=2.1, lr=[0.1, 0.15], schedule=schedule,
                    epochs=30)
    assert_same(got, want)


def test_tolerances_and_bound_reach_the_runs(tmp_path):
    ok("sweep", "exp_quadratic", "--x0", "-3,3", "--lr", "0.1,0.8", "--epochs", "100",
       "--xtol", "1e-9", "--ftol", "1e-12", "--gtol", "1e-6", "--bound", "1e3",
       "--out", str(tmp_path / "t.npz"))
    got = fg.load(tmp_path / "t.npz")
    want = fg.sweep(fg.problems.exp_quadratic, x0=[-3.0, 3.0], lr=[0.1, 0.8], epochs=100,
                    xtol=1e-9, ftol=1e-12, gtol=1e-6, bound=1e3)
    assert_same(got, want)
    assert got.params["bound"] == 1e3 and got.params["gtol"] == 1e-6


def test_outputs_by_extension(tmp_path):
    pd = pytest.importorskip("pandas")
    xr = pytest.importorskip("xarray")
    outs = [tmp_path / f"r.{ext}" for ext in ("npz", "csv", "parquet", "nc")]
    if not __import__("importlib").util.find_spec("pyarrow"):
        outs.remove(tmp_path / "r.parquet")
    args = [a for p in outs for a in ("--out", str(p))]
    ok("sweep", "quartic", "--x0", "-2:2:4", "--lr", "0.01,0.02,0.03", "--epochs", "25",
       *args)
    res = fg.load(outs[0])
    frame = pd.read_csv(outs[1])
    assert len(frame) == 12 and list(frame.columns[:2]) == ["x0", "lr"]
    np.testing.assert_array_equal(frame["fun"], res.fun.ravel())
    assert list(frame["status"].unique()) == ["max_epochs"]
    if tmp_path / "r.parquet" in outs:
        np.testing.assert_array_equal(pd.read_parquet(outs[2])["x_0"], res.x.ravel())
    ds = xr.load_dataset(outs[-1])
    assert dict(ds.sizes) == {"x0": 4, "lr": 3, "component": 1}
    np.testing.assert_array_equal(ds["fun"].values, res.fun)


def test_chunk_directory_resumes(tmp_path):
    args = ["sweep", "quartic", "--x0", "-2:2:30", "--lr", "0.01,0.02", "--epochs", "40",
            "--chunk-size", "16", "--out", str(tmp_path / "runs") + "/"]
    first = ok(*args, "--out", str(tmp_path / "a.npz"))
    assert "the same command resumes" in first.stdout
    chunks = sorted((tmp_path / "runs").glob("chunk-*.npz"))
    assert len(chunks) == 4
    chunks[1].unlink()
    ok(*args, "--out", str(tmp_path / "b.npz"))
    assert len(list((tmp_path / "runs").glob("chunk-*.npz"))) == 4
    assert_same(fg.load(tmp_path / "b.npz"), fg.load(tmp_path / "a.npz"))
    other = fastgd(*args[:-4], "--epochs", "41", *args[-4:])
    assert other.returncode == 2 and "different sweep" in other.stderr


def test_workers_give_the_same_result(tmp_path):
    base = ["sweep", "quartic", "--x0", "-2:2:50", "--lr", "0.01,0.02,0.05", "--epochs", "40"]
    ok(*base, "--workers", "2", "--chunk-size", "40", "--out", str(tmp_path / "w.npz"))
    assert_same(fg.load(tmp_path / "w.npz"),
                fg.sweep(fg.problems.quartic, x0=np.linspace(-2, 2, 50),
                         lr=[0.01, 0.02, 0.05], epochs=40))


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastgd", "sweep", "exp_linear_fit", "--x0", "1",
         "--start", "x3=0:5:40000", "--lr", "1e-3", "--epochs", "3000", "--no-progress",
         "--out", str(tmp_path / "runs") + "/"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=subprocess_env(FASTGD_QUIET="1"), preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "runs" / "manifest.json").exists():  # it is running
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert lines == ["fastgd sweep: interrupted; the same command resumes from the chunks "
                     "saved so far"]


@pytest.mark.parametrize("args, message", [
    (["sweep", "quartic", "--x0", "abc", "--lr", "0.1"], "--x0"),
    (["sweep", "quartic", "--x0", "1", "--lr", "-0.1"], "lr must be > 0"),
    (["sweep", "nope", "--x0", "1", "--lr", "0.1"], "unknown problem 'nope'"),
    (["sweep", "rosenbrok", "--x0", "1", "--lr", "0.1"], "did you mean 'rosenbrock'"),
    (["sweep", "quadratic:x", "--x0", "1", "--lr", "0.1"], "quadratic:DIM"),
    (["sweep", "x**2 +", "--x0", "1", "--lr", "0.1"], "cannot parse"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--y0", "2"], "--y0"),
    (["sweep", "quartic", "--start", "y=1", "--lr", "0.1"], "no coordinate 'y'"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--epochs", "0"], "--epochs"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--optimizer", "gd",
      "--momentum", "0.9"], "--momentum is not used by --optimizer gd"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--optimizer", "adam",
      "--beta1", "1.5"], "beta1"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--every", "3"], "--schedule step_decay"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--schedule", "cosine_decay"],
     "needs --decay-epochs"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--schedule", "step_decay",
      "--floor", "0.1"], "not a parameter of step_decay"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--batch-size", "10"], "batch_size"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--plot", "x.png"], "two swept"),
    (["sweep", "quartic", "--x0", "0:1:3", "--lr", "0.1,0.2", "--plot", "x.png",
      "--map-x", "beta1"], "--map-x beta1: not a swept dim"),
    (["sweep", "quartic", "--x0", "0:1:3", "--lr", "0.1,0.2", "--plot", "x.nope"],
     "unknown image type"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--out", "r.txt"],
     "unknown extension '.txt'"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--out", "runs"], "unknown extension"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--out", "no/such/dir/r.csv"],
     "does not exist"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--out", "/proc/r.npz"],
     "cannot write"),
    (["sweep", "quartic", "--x0", "0:1:3", "--lr", "0.1,0.2", "--out", "a.png",
      "--plot", "a.png"], "unknown extension"),
    (["sweep", "quartic", "--x0", "0:1:3", "--lr", "0.1,0.2", "--out", "a.npz",
      "--plot", "./a.npz"], "the same file"),
    (["sweep", "quartic", "--lr", "0.1", "--points", "missing.csv"],
     "no such file"),
    (["sweep", "quartic", "--x0", "0:1:0", "--lr", "0.1"], "N must be >= 1"),
    (["sweep", "quartic", "--x0", "0:1:100000000000", "--lr", "0.1"], "memory"),
    (["sweep", "quartic", "--x0", "0:1:200000", "--lr", "log:1e-3:1:200000"], "GiB"),
    (["sweep", "quartic", "--lr", "0.1"], "give start points"),
    (["sweep", "quartic", "--x0", "1"], "--lr"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line_before_any_run(tmp_path, args, message):
    run = fastgd(*args, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""                      # nothing ran, nothing was written
    assert sorted(os.listdir(tmp_path)) == []
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and message in lines[0], run.stderr
    assert "Traceback" not in run.stderr


def test_help_is_complete():
    top = fastgd("--help")
    assert top.returncode == 0 and all(c in top.stdout for c in ("demo", "sweep", "list"))
    sweep = fastgd("sweep", "--help").stdout
    options = ["--x0", "--y0", "--start", "--points", "--variables", "--data", "--lr",
               "--optimizer", "--schedule", "--warmup", "--milestones", "--epochs",
               "--xtol", "--ftol", "--gtol", "--bound", "--batch-size", "--no-shuffle",
               "--seed", "--chunk-size", "--workers", "--out", "--plot", "--quantity",
               "--map-x", "--map-y", "--fixed", "log:A:B:N", "quadratic:DIM", "formula"]
    options += ["--" + n.replace("_", "-") for n in fg.optimizers.HYPER_PARAMETERS]
    for option in options:
        assert option in sweep, option
    assert "the seed" not in sweep.replace("\n", " ")
    demo = fastgd("demo", "--help")
    assert "--out" in demo.stdout and "--quick" in demo.stdout


def test_list_names_everything_sweep_takes():
    out = ok("list").stdout
    for name in problem_names() + fg.OPTIMIZERS + ("quadratic:DIM", "step_decay",
                                                   "exponential_decay", "multi_step",
                                                   "cosine_decay", "inverse_time"):
        assert name in out, name


def test_main_in_process_returns_status(capsys):
    from fastgd.cli import main
    assert main(["sweep", "exp_quadratic", "--x0", "-3", "--lr", "0.1"]) == 0
    assert "best: f=0.827184" in capsys.readouterr().out
    assert main(["sweep", "exp_quadratic", "--x0", "-3", "--lr", "0"]) == 2
    assert "lr must be" in capsys.readouterr().err
