"""The fastgd command, run as a subprocess the way a user runs it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastgd as fg
from tests.conftest import subprocess_env


def fastgd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastgd", *args], capture_output=True,
                          text=True, cwd=cwd, env=subprocess_env(), timeout=300)


def test_demo_quick_writes_its_figures(tmp_path):
    out = tmp_path / "figs"
    run = fastgd("demo", "--quick", "--out", str(out))
    assert run.returncode == 0, run.stderr
    names = sorted(os.listdir(out))
    assert len(names) >= 10 and all(n.endswith(".png") for n in names)
    for must in ("exp_quadratic_status.png", "lr_scan.png", "saddle_paths.png",
                 "quartic_minima.png", "quartic_basins.png", "step_decay.png", "fit.png",
                 "momentum.png"):
        assert must in names
        assert (out / must).stat().st_size > 10_000
    assert "tutorial*" in run.stdout and "speed-up" in run.stdout
    assert "lr=0.0001 is too slow" in run.stdout and "lr=0.8 is diverging" in run.stdout
    assert "[1/" in run.stderr  # progress goes to stderr


def test_sweep_writes_a_file_that_loads_back_equal(tmp_path):
    path = tmp_path / "q.npz"
    png = tmp_path / "q.png"
    run = fastgd("sweep", "quartic", "--x0", "-2.5:2.5:40", "--lr", "1e-3:0.2:30:log",
                 "--epochs", "60", "--gtol", "1e-6", "--out", str(path),
                 "--plot", str(png), "--quantity", "minimum")
    assert run.returncode == 0, run.stderr
    assert "1,200 runs (x0: 40, lr: 30)" in run.stdout
    assert png.stat().st_size > 10_000
    got = fg.load(path)
    want = fg.sweep(fg.problems.quartic, x0=np.linspace(-2.5, 2.5, 40),
                    lr=np.geomspace(1e-3, 0.2, 30), epochs=60, gtol=1e-6)
    assert got.dims == want.dims == ("x0", "lr")
    for name in ("x", "fun", "nit", "status"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    np.testing.assert_array_equal(got.coords["lr"], want.coords["lr"])


def test_sweep_saddle_grid_of_starts(tmp_path):
    path = tmp_path / "s.npz"
    run = fastgd("sweep", "saddle", "--x0", "-3:3:7", "--y0", "-1,0,1", "--lr", "0.001",
                 "--epochs", "50", "--out", str(path), "--plot", str(tmp_path / "s.png"),
                 "--quantity", "fun")
    assert run.returncode == 0, run.stderr
    res = fg.load(path)
    assert res.dims == ("y0", "x0") and res.shape == (3, 7)
    start = np.array([res.coords["x0"][2], res.coords["y0"][0]])
    np.testing.assert_array_equal(
        res.x[0, 2], fg.minimize(fg.problems.saddle, x0=start, lr=0.001, epochs=50).x)


@pytest.mark.parametrize("args, message", [
    (["sweep", "quartic", "--x0", "abc", "--lr", "0.1"], "--x0"),
    (["sweep", "quartic", "--x0", "1", "--lr", "-0.1"], "lr must be > 0"),
    (["sweep", "nope", "--x0", "1", "--lr", "0.1"], "invalid choice"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--y0", "2"], "--y0"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--epochs", "0"], "epochs"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--optimizer", "gd",
      "--momentum", "0.9"], "momentum"),
    (["sweep", "quartic", "--x0", "1", "--lr", "0.1", "--plot", "x.png"], "two swept"),
    (["sweep", "quartic", "--x0", "0:1:0", "--lr", "0.1"], "N must be >= 1"),
    (["sweep", "quartic", "--lr", "0.1"], "required"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    run = fastgd(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and message in lines[0]
    assert "Traceback" not in run.stderr


def test_help_is_complete():
    top = fastgd("--help")
    assert top.returncode == 0 and "demo" in top.stdout and "sweep" in top.stdout
    sweep = fastgd("sweep", "--help")
    for option in ("--x0", "--y0", "--lr", "--momentum", "--epochs", "--optimizer",
                   "--out", "--plot", "--quantity", "--fixed", "A:B:N:log", "saddle"):
        assert option in sweep.stdout
    demo = fastgd("demo", "--help")
    assert "--out" in demo.stdout and "--quick" in demo.stdout


def test_main_in_process_returns_status(capsys):
    from fastgd.cli import main
    assert main(["sweep", "exp_quadratic", "--x0", "-3", "--lr", "0.1"]) == 0
    assert "best: f=0.827184" in capsys.readouterr().out
    assert main(["sweep", "exp_quadratic", "--x0", "-3", "--lr", "0"]) == 2
    assert "lr must be" in capsys.readouterr().err
