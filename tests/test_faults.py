"""Fault injection: damaged files, stale and foreign chunks, kills mid-sweep.

Every test here compares against a sweep computed without faults (bit for bit)
or checks that the damage is named; random damage is seeded, so a failure
reproduces.
"""

import concurrent.futures
import concurrent.futures.process
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numba
import numpy as np
import pytest

import fastgd as fg
from fastgd import _api, _execute, _identity
from tests.user_problems import square as jit_square
from tests.user_problems import square_grad as bowl_grad_1d

FIELDS = ("x", "fun", "nit", "status", "success", "recorded", "path_x", "path_fun")
ROOT = Path(__file__).resolve().parents[1]


def assert_same(a, b):
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def quartic(**options):
    options.setdefault("chunk_size", 300)
    return fg.sweep(fg.problems.quartic, x0=np.linspace(-3, 3, 61),
                    lr=np.geomspace(1e-3, 0.3, 37), epochs=60, ftol=1e-12,
                    record=[0, 1000, 2256], **options)


@pytest.fixture(scope="module")
def reference():
    return quartic()


@pytest.fixture()
def saved(tmp_path, reference):
    out = tmp_path / "sweep"
    assert_same(quartic(out=out), reference)
    return out


def chunks(out):
    return sorted(out.glob("chunk-*.npz"))


# --- the sweep's identity ------------------------------------------------------

def jitted(source, **scope):
    """Functions compiled from ``source`` in a fresh module-like namespace."""
    namespace = {"numba": numba, "np": np, **scope}
    exec(textwrap.dedent(source), namespace)
    return namespace


BOWL = """
@numba.njit
def f(x):
    return (x[0] - {c}) ** 2

@numba.njit
def g(x, out):
    out[0] = 2.0 * (x[0] - {c})
"""


def test_redefined_function_of_the_same_name_is_not_reused(tmp_path):
    # The reproducer: f and g redefined with the same names.
    out = tmp_path / "d"
    first = jitted(BOWL.format(c="0.0"))
    a = fg.sweep(fg.Problem(first["f"], first["g"], dim=1), x0=[1.0, 2.0], lr=[0.1],
                 epochs=30, out=out)
    np.testing.assert_allclose(a.x[:, 0, 0], [0.0012379, 0.0024759], rtol=1e-4)
    second = jitted(BOWL.format(c="3.0"))
    with pytest.raises(ValueError, match="different sweep"):
        fg.sweep(fg.Problem(second["f"], second["g"], dim=1), x0=[1.0, 2.0], lr=[0.1],
                 epochs=30, out=out)


def identity(problem):
    return _identity.fingerprint(*_identity.problem_parts(problem))


def closure_bowl(c):
    @numba.njit
    def f(x):
        return (x[0] - c) ** 2

    @numba.njit
    def g(x, out):
        out[0] = 2.0 * (x[0] - c)
    return fg.Problem(f, g, dim=1)


GLOBAL_BOWL = """
@numba.njit
def shift(x):
    return x - C

@numba.njit
def f(x, scale=SCALE):
    return scale * shift(x[0]) ** 2

@numba.njit
def g(x, out):
    out[0] = 2.0 * shift(x[0])
"""


def global_bowl(**scope):
    scope = {"C": 1.0, "SCALE": 1.0, **scope}
    ns = jitted(GLOBAL_BOWL, **scope)
    return fg.Problem(ns["f"], ns["g"], dim=1)


def test_identity_covers_code_closures_globals_defaults_and_parameters():
    same = [identity(closure_bowl(1.0)), identity(closure_bowl(1.0))]
    assert same[0] == same[1]
    assert identity(closure_bowl(1.0)) != identity(closure_bowl(1.0 + 2**-40))
    assert identity(global_bowl()) == identity(global_bowl())
    assert identity(global_bowl()) != identity(global_bowl(C=2.0))
    assert identity(global_bowl()) != identity(global_bowl(C=np.float64(1.0)))
    assert identity(global_bowl()) != identity(global_bowl(SCALE=2.0))
    # A helper referenced as a global is hashed by its own code.
    helper = jitted("@numba.njit\ndef shift(x):\n    return x + 1.0 - 2.0\n")["shift"]
    ns = jitted(GLOBAL_BOWL, C=1.0, SCALE=1.0)
    ns["f"].py_func.__globals__["shift"] = helper
    assert identity(fg.Problem(ns["f"], ns["g"], dim=1)) != identity(global_bowl())
    # Parameters of fastgd's own factories, exactly.
    q = fg.problems.quadratic
    assert q(2, 1e6).name == q(2, 1.000004e6).name
    assert identity(q(2, 1e6)) != identity(q(2, 1.000004e6))
    assert identity(q(2, 1e6, seed=1)) != identity(q(2, 1e6, seed=2))
    assert identity(q(3, 10.0)) == identity(q(3, 10.0))
    # Formulas given the same name; a least-squares model that changed.
    e = fg.Problem.from_expression
    assert identity(e("x**2", name="p")) != identity(e("x**2 + 1e-9*x", name="p"))
    x = np.linspace(0, 1, 5)
    lsq = fg.LeastSquares.from_expression
    assert identity(lsq("a*x", x=x, y=x)) != identity(lsq("a*x", x=x, y=x + 1e-12))
    lines = [jitted(f"""
        @numba.njit
        def model(theta, xi):
            return theta[0] * xi + {c}

        @numba.njit
        def model_grad(theta, xi, out):
            out[0] = xi
        """) for c in ("0.0", "1.0")]
    fits = [fg.LeastSquares(ns["model"], ns["model_grad"], x, x, dim=1) for ns in lines]
    assert identity(fits[0]) != identity(fits[1])


def test_identity_is_the_same_in_another_process():
    # A resumed sweep is usually a new process: the identity must not depend
    # on addresses, hash randomisation or the order things were imported in.
    code = textwrap.dedent("""
        import fastgd as fg
        from fastgd import _identity
        from tests import user_problems
        for p in (user_problems.shifted_bowl(), fg.problems.quadratic(3, 50.0, seed=1),
                  fg.Problem.from_expression("x**2 + sin(y)"), fg.problems.saddle):
            print(_identity.fingerprint(*_identity.problem_parts(p)))
    """)
    from tests import user_problems
    env = dict(os.environ, PYTHONHASHSEED="123")
    here = [identity(p) for p in (user_problems.shifted_bowl(),
                                  fg.problems.quadratic(3, 50.0, seed=1),
                                  fg.Problem.from_expression("x**2 + sin(y)"),
                                  fg.problems.saddle)]
    there = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True, timeout=300).stdout.split()
    assert there == here


def test_every_argument_is_part_of_the_identity(tmp_path):
    out = tmp_path / "s"
    kw = dict(x0=[1.0, 2.0], lr=[0.01, 0.02], epochs=5, chunk_size=1)
    fg.sweep(fg.problems.quartic, out=out, **kw)
    for change in [dict(epochs=6), dict(lr=[0.01, 0.021]), dict(x0=[1.0, 2.0000001]),
                   dict(optimizer="momentum"), dict(record=[1]), dict(ftol=1e-9),
                   dict(schedule=fg.step_decay(2, 0.5)), dict(chunk_size=2),
                   dict(bound=1e9)]:
        with pytest.raises(ValueError, match="different sweep"):
            fg.sweep(fg.problems.quartic, out=out, **{**kw, **change})


# --- damaged chunk directories ---------------------------------------------------

def resume_warns(out, reference, damaged):
    """Resume from ``out``: equal to ``reference``, one warning per damaged file."""
    with pytest.warns(UserWarning) as caught:
        again = quartic(out=out)
    assert_same(again, reference)
    named = {Path(m) for w in caught for m in [str(w.message).split("'")[1]]}
    assert named == set(damaged)
    for w in caught:
        assert "computing it again" in str(w.message)
    return [str(w.message) for w in caught]


def test_chunk_copied_over_another_is_recomputed(saved, reference):
    files = chunks(saved)
    shutil.copy(files[1], files[4])
    messages = resume_warns(saved, reference, [files[4]])
    assert "not chunk 4" in messages[0]
    assert len(chunks(saved)) == len(files)  # rewritten


def test_chunk_of_another_sweep_is_recomputed(saved, reference, tmp_path):
    other = tmp_path / "other"
    quartic(out=other, xtol=1e-9)
    shutil.copy(chunks(other)[2], chunks(saved)[2])
    messages = resume_warns(saved, reference, [chunks(saved)[2]])
    assert "different sweep" in messages[0]


def rewrite(file, change):
    """Rewrite a chunk with ``change(arrays, meta)`` applied, checksum recomputed
    (a careful forgery: only the shape checks can catch it)."""
    with np.load(file) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("__chunk__")))
    change(arrays, meta)
    meta["sha256"] = _execute.checksum(arrays)
    np.savez(file, __chunk__=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize("change, reason", [
    (lambda a, m: a.update(x=a["x"][:1], fun=a["fun"][:1]), "shape"),
    (lambda a, m: a.update(nit=a["nit"].astype(np.int32)), "dtype"),
    (lambda a, m: a.pop("rec_f"), "arrays"),
    (lambda a, m: a.update(extra=np.zeros(3)), "arrays"),
    (lambda a, m: m.update(index=True), "not chunk"),
    (lambda a, m: m.update(start=-5), "not chunk"),
])
def test_forged_chunk_with_valid_checksum_is_caught(saved, reference, change, reason):
    file = chunks(saved)[0]
    rewrite(file, change)
    assert reason in resume_warns(saved, reference, [file])[0]


def test_edited_values_fail_the_checksum(saved, reference):
    file = chunks(saved)[3]
    with np.load(file) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x"] = arrays["x"] + 1e-12
    np.savez(file, **arrays)
    assert "checksum" in resume_warns(saved, reference, [file])[0]


@pytest.mark.parametrize("seed", range(8))
def test_random_byte_damage_to_chunks(saved, reference, seed):
    rng = np.random.default_rng(seed)
    files = chunks(saved)
    damaged = []
    for file in rng.choice(files, size=rng.integers(1, 4), replace=False):
        data = bytearray(file.read_bytes())
        kind = rng.integers(3)
        if kind == 0:      # flipped bytes anywhere
            for pos in rng.integers(0, len(data), size=rng.integers(1, 6)):
                data[pos] ^= int(rng.integers(1, 256))
        elif kind == 1:    # truncated, as by a full disk
            data = data[:rng.integers(0, len(data))]
        else:              # a zeroed block, as by a bad sector
            pos = rng.integers(0, len(data))
            data[pos:pos + 512] = bytes(len(data[pos:pos + 512]))
        file.write_bytes(bytes(data))
        damaged.append(file)
    # Some damage hits bytes a zip reader ignores (a timestamp): the chunk then
    # loads, correct; whatever is named must be a damaged file.
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = quartic(out=saved)
    assert_same(again, reference)
    for w in caught:
        assert issubclass(w.category, UserWarning)
        assert Path(str(w.message).split("'")[1]) in damaged


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04" + bytes(100)])
def test_unreadable_chunk_is_named(saved, reference, content):
    file = chunks(saved)[2]
    file.write_bytes(content)
    assert "unreadable" in resume_warns(saved, reference, [file])[0]


def test_pickled_chunk_is_not_loaded(saved, reference):
    file = chunks(saved)[1]
    with np.load(file) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x"] = np.array([object()] * 3, dtype=object)
    np.savez(file, allow_pickle=True, **arrays)
    assert "unreadable" in resume_warns(saved, reference, [file])[0]


def test_leftover_temporary_file_is_ignored(saved, reference):
    (saved / "chunk-000002.tmp").write_bytes(b"half a chunk")
    chunks(saved)[2].unlink()
    assert_same(quartic(out=saved), reference)


def test_manifest_missing_or_damaged(saved, reference, tmp_path):
    manifest = saved / "manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json.*is damaged"):
        quartic(out=saved)
    manifest.unlink()
    with pytest.raises(ValueError, match="manifest.json.*is missing"):
        quartic(out=saved)
    # With no chunks left there is nothing to mistake: it starts afresh.
    for file in chunks(saved):
        file.unlink()
    assert_same(quartic(out=saved), reference)
    assert json.loads(manifest.read_text())["format"] == "fastgd-chunks"
    # An empty or JSON-but-wrong manifest over an empty directory, likewise.
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text("[1, 2]")
    assert_same(quartic(out=empty), reference)


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        quartic(out=tmp_path / "f")


# --- killed mid-sweep --------------------------------------------------------------

KILLED = """
import sys, time
from tests.test_faults import quartic
quartic(chunk_size=40)                        # compile
start = time.perf_counter()
quartic(chunk_size=40, out=sys.argv[1])       # how long a whole run takes here
print(time.perf_counter() - start, flush=True)
quartic(chunk_size=40, out=sys.argv[2])       # the run that is killed
print("done", flush=True)
"""


@pytest.mark.parametrize("seed", range(3))
def test_killed_at_a_random_point_resumes_bit_for_bit(tmp_path, seed):
    rng = np.random.default_rng(seed)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path / "timing"), str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    with proc:
        try:
            whole = float(proc.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.6) * whole)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(60)
    done = len(chunks(out)) if out.exists() else 0
    print(f"killed after {done} of 57 chunks")
    resumed = quartic(chunk_size=40, out=out)
    assert_same(resumed, quartic(chunk_size=40))


# --- damaged result files (fg.load) ------------------------------------------------

@pytest.fixture(scope="module")
def result_file(tmp_path_factory):
    res = fg.sweep(fg.problems.quartic, x0=np.linspace(-2, 2, 5), lr=[0.01, 0.02],
                   epochs=20, record=[0, 7])
    path = tmp_path_factory.mktemp("load") / "r.npz"
    fg.save(res, path)
    return res, path


def load_fails(path, match):
    with pytest.raises(ValueError, match=match) as info:
        fg.load(path)
    assert repr(str(path)) in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("seed", range(40))
def test_random_byte_damage_to_a_saved_result(result_file, tmp_path, seed):
    res, path = result_file
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    if seed % 4 == 3:
        data = data[:rng.integers(0, len(data))]
    else:
        for pos in rng.integers(0, len(data), size=1 + seed % 4):
            data[pos] ^= int(rng.integers(1, 256))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    try:
        back = fg.load(bad)
    except ValueError as err:           # named, and nothing but ValueError
        assert repr(str(bad)) in str(err)
    else:                               # the damage missed everything that is read
        for field in ("x", "fun", "nit", "status", "success", "path_x"):
            np.testing.assert_array_equal(getattr(back, field), getattr(res, field))


def arrays_of(path):
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def resave(tmp_path, arrays, meta=None, **kw):
    if meta is not None:
        arrays = dict(arrays, __meta__=np.array(json.dumps(meta)))
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays, **kw)
    return path


@pytest.mark.parametrize("version", [True, -5, 0, "1", 1.0, None])
def test_meta_version_that_is_not_a_version(result_file, tmp_path, version):
    arrays = arrays_of(result_file[1])
    meta = json.loads(str(arrays["__meta__"]))
    meta["format_version"] = version
    load_fails(resave(tmp_path, arrays, meta), "format version")


@pytest.mark.parametrize("edit, match", [
    (lambda a, m: a.update({"field:x": a["field:x"][:3]}), "x has shape"),
    (lambda a, m: a.update({"field:nit": a["field:nit"][:, :1]}), "nit has shape"),
    (lambda a, m: a.update({"field:fun": a["field:fun"].ravel()}), "axes"),
    (lambda a, m: a.update({"field:status": a["field:status"] + 50}), "Status"),
    (lambda a, m: a.update({"field:success": a["field:success"].astype(float)}), "dtype"),
    (lambda a, m: a.update({"field:recorded": np.array([7, 0])}), "recorded"),
    (lambda a, m: a.update({"field:recorded": np.array([0, 99])}), "recorded"),
    (lambda a, m: a.update({"field:path_x": a["field:path_x"][:1]}), "path_x"),
    (lambda a, m: a.pop("field:path_fun"), "together"),
    (lambda a, m: a.pop("field:fun"), "'field:fun' is missing"),
    (lambda a, m: a.pop("coord:lr"), "'coord:lr' is missing"),
    (lambda a, m: a.update({"coord:lr": np.zeros(5)}), "coordinates of 'lr'"),
    (lambda a, m: a.update({"param:lr": np.zeros(3)}), "does not broadcast"),
    (lambda a, m: a.update({"field:x": np.array(["a"] * 10).reshape(5, 2, 1)}), "dtype"),
    (lambda a, m: m.update(dims="x0"), "'dims'"),
    (lambda a, m: m.update(params={"epochs": [1]}), "non-scalar"),
    (lambda a, m: m.update(extra={"x": 1}), "repeats"),
    (lambda a, m: m.pop("problem"), "'problem'"),
])
def test_wrong_shaped_or_typed_entries_are_named(result_file, tmp_path, edit, match):
    arrays = arrays_of(result_file[1])
    meta = json.loads(str(arrays["__meta__"]))
    edit(arrays, meta)
    load_fails(resave(tmp_path, arrays, meta), match)


def test_files_that_are_not_results(result_file, tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("hello")
    load_fails(text, "not a .npz archive")
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(3))
    load_fails(npy, "single .npy")
    pickled = tmp_path / "p.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    msg = load_fails(pickled, "pickled objects, which fastgd never loads")
    assert "allow_pickle" not in msg
    arrays = arrays_of(result_file[1])
    arrays["field:x"] = np.array([object()], dtype=object)
    load_fails(resave(tmp_path, arrays, allow_pickle=True), "damaged: it holds pickled")
    meta_bad = dict(arrays_of(result_file[1]), __meta__=np.array("{not json"))
    load_fails(resave(tmp_path, meta_bad), "not JSON")
    meta_list = dict(arrays_of(result_file[1]), __meta__=np.array("[1]"))
    load_fails(resave(tmp_path, meta_list), "not a saved fastgd result")
    meta_num = dict(arrays_of(result_file[1]), __meta__=np.arange(2))
    load_fails(resave(tmp_path, meta_num), "not a text entry")
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as zf:
        zf.writestr("__meta__.npy", b"\x93NUMPY garbage")
    load_fails(tmp_path / "z.npz", "damaged")
    with pytest.raises(FileNotFoundError):
        fg.load(tmp_path / "missing.npz")


# --- numbers that are not numbers ----------------------------------------------------

@pytest.mark.parametrize("value", [True, [True, 0.1], [[0.1], [False]], "0.1", ["0.1"],
                                   np.datetime64("2020-01-01"),
                                   np.array([1, 2], dtype="m8[s]"),
                                   np.array([0.1, "a"], dtype=object),
                                   np.array([0.1, True], dtype=object), np.array([True])])
def test_bools_strings_and_dates_are_not_numbers(value):
    with pytest.raises(TypeError, match="lr"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=value, epochs=3)
    with pytest.raises(TypeError, match="x0"):
        fg.minimize(fg.problems.quartic, x0=value, lr=0.1, epochs=3)


def test_data_must_be_numbers():
    with pytest.raises(TypeError, match="y must"):
        fg.problems.exp_linear_fit([0.0, 1.0], [True, False])
    with pytest.raises(TypeError, match="x must"):
        fg.problems.exp_linear_fit(["0", "1"], [0.0, 1.0])


# --- hostile formulas ----------------------------------------------------------------

def balanced_sum(leaves):
    terms = [f"x*{i % 7 + 1}" for i in range(leaves)]
    while len(terms) > 1:
        terms = [f"({a}+{b})" for a, b in zip(terms[::2], terms[1::2])] + \
            (terms[-1:] if len(terms) % 2 else [])
    return terms[0]


@pytest.mark.parametrize("text, match", [
    ("x + 9**9**9", "exponent '9 \\*\\* 9' = 3.8742e\\+08 is larger than 1024"),
    ("x**(10**10**10)", "MAX_EXPONENT"),
    ("x**-2000", "MAX_EXPONENT"),
    ("x*10**400", "beyond the float range"),
    ("x + 1e308*10", "beyond the float range"),
    ("x + " + "9" * 400, "beyond the float range"),
    ("x + 1/(2-2)", "division by zero"),
    ("x*(-8)**0.5", "not a real number"),
    ("x/0", "infinite or undefined"),
    ("x" + "+x" * 1200, "nested more than 1000 levels"),
    ("-" * 1500 + "x", "nested more than 1000 levels"),
    ("(" * 300 + "x" + ")" * 300, "too many nested parentheses|nested too deeply"),
    (balanced_sum(1400), "more than 5000 nodes"),
    ("x" + " " * 20_001, "more than 20000"),
    ("__import__('os').system('true')", "unknown function"),
    ("x.__class__", "Attribute is not allowed"),
    ("[x for x in ()]", "not allowed"),
])
def test_hostile_formulas_are_refused_quickly(text, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        fg.Problem.from_expression(text)
    assert time.perf_counter() - start < 5


def test_hostile_sympy_expression_is_refused():
    sp = pytest.importorskip("sympy")
    x = sp.Symbol("x")
    with pytest.raises(ValueError, match="MAX_EXPONENT"):
        fg.Problem.from_expression(x ** (10**10))


def test_large_integer_constants_become_floats():
    p = fg.Problem.from_expression("2**100*x**2 + 3**40*x + 1/2**60")
    x = 1.5
    assert p([x])[0] == 2.0**100 * x**2 + 3.0**40 * x + 1 / 2.0**60
    assert p.gradient([x])[0, 0] == 2 * 2.0**100 * x + 3.0**40
    fit = fg.LeastSquares.from_expression("a*2**70*x", x=[1.0, 2.0], y=[0.0, 0.0])
    assert fit.gradient([1.0])[0] == pytest.approx(2 * 2.0**140 * 2.5)


def test_a_400_term_sum_builds_without_recursion_error():
    text = "+".join(f"{i}*x**2" for i in range(1, 401))
    p = fg.Problem.from_expression(text)
    assert p([2.0])[0] == sum(i * 4.0 for i in range(1, 401))
    assert p.gradient([2.0])[0, 0] == sum(i * 4.0 for i in range(1, 401))


def test_symbolic_work_has_a_time_limit(monkeypatch):
    import signal

    from fastgd import expression
    monkeypatch.setattr(expression, "SYMBOLIC_SECONDS", 0.05)
    text = "+".join(f"sin({i}*x)*cos(y**{i % 5})*exp(-x*y/{i})" for i in range(1, 200))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="longer than 0.05 s.*SYMBOLIC_SECONDS"):
        fg.Problem.from_expression(text)
    assert time.perf_counter() - start < 30   # stopped, not run to the end
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler)


# --- the memory budget -----------------------------------------------------------------

def test_a_batch_larger_than_memory_is_refused_before_allocating(monkeypatch):
    from fastgd import _memory
    monkeypatch.setenv("FASTGD_MEMORY_LIMIT", "4M")
    with pytest.raises(MemoryError, match=r"record= \(2,000 runs x 501 points") as info:
        fg.sweep(fg.problems.quartic, x0=np.linspace(-1, 1, 2000), lr=0.01, epochs=500,
                 record=True)
    assert isinstance(info.value, ValueError) and isinstance(info.value, _memory.MemoryBudgetError)
    # 2000 runs x 501 points x (1 + 1) doubles + an index each = 16,048,000 bytes
    assert "15.3 MiB for record=" in str(info.value)
    assert "FASTGD_MEMORY_LIMIT=4M" in str(info.value)
    with pytest.raises(MemoryError, match="outputs of 1,000,000 runs"):
        fg.sweep(fg.problems.saddle, x0=np.zeros((1000, 2)), lr=np.geomspace(1e-3, 1, 1000),
                 epochs=5)
    monkeypatch.setenv("FASTGD_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="FASTGD_MEMORY_LIMIT must be a number of bytes"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=5)
    monkeypatch.setenv("FASTGD_MEMORY_LIMIT", "1G")
    fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=5)


def test_an_enormous_sweep_reports_its_size_not_a_broadcast_error():
    # 2**22 x 2**21 x 2**21 = 2**64 runs: more than NumPy can index.
    with pytest.raises(MemoryError, match="18,446,744,073,709,551,616 runs") as info:
        fg.sweep(fg.problems.quartic, x0=np.linspace(-1, 1, 2**22),
                 lr=np.geomspace(1e-4, 1e-1, 2**21), momentum=np.linspace(0, 0.9, 2**21),
                 optimizer="momentum", epochs=10)
    assert "broadcast" not in str(info.value)
    assert "batch shape (4194304, 2097152, 2097152) from x0 (4194304, 1, 1) x lr " \
        "(1, 2097152, 1) x momentum (1, 1, 2097152)" in str(info.value)


@pytest.mark.parametrize("epochs", [2**62 + 1, 2**63 - 1, 10**30])
def test_epochs_beyond_the_bound_are_named(epochs):
    with pytest.raises(ValueError, match=r"epochs must be <= 4611686018427387904"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=epochs)


def test_huge_epochs_with_record_is_a_memory_error():
    with pytest.raises(MemoryError, match="record="):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=2**40, record=True)


def test_record_peak_is_one_copy_for_a_one_chunk_batch():
    import tracemalloc
    kw = dict(x0=np.linspace(-1, 1, 2000), lr=0.01, epochs=500, record=True)
    fg.sweep(fg.problems.quartic, **kw)   # compiled and warm
    record_bytes = 2000 * 501 * 2 * 8
    tracemalloc.start()
    try:
        res = fg.sweep(fg.problems.quartic, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.path_x.shape == (2000, 501, 1)
    assert record_bytes < peak < 1.3 * record_bytes


def test_cli_reports_a_memory_error_in_one_line(monkeypatch, capsys):
    from fastgd import cli
    monkeypatch.setenv("FASTGD_MEMORY_LIMIT", "1K")
    rc = cli.main(["sweep", "quartic", "--x0", "-2:2:300", "--lr", "0.01", "--epochs", "50"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "needs about" in err


# --- user functions that are wrong or unsafe -------------------------------------------

@numba.njit
def bowl_f(x):
    return x[0] ** 2 + x[1] ** 2


@numba.njit
def bowl_grad(x, out):
    out[0] = 2 * x[0]
    out[1] = 2 * x[1]


@numba.njit
def grad_writes_out_40(x, out):
    out[0] = 2 * x[0]
    out[1] = 2 * x[1]
    out[40] = 0.0


@numba.njit
def grad_writes_far_away(x, out):
    out[0] = 2 * x[0]
    out[1] = 2 * x[1]
    out[2**40] = 0.0


@numba.njit
def grad_reads_far_from_x0(x, out):
    # Reads out of bounds only where |x[0]| > 5: far from the first start point.
    k = 0 if abs(x[0]) < 5 else 2**40
    out[0] = 2 * x[0] + x[k] * 0.0
    out[1] = 2 * x[1]


@numba.njit
def grad_wrong_far_away(x, out):
    out[0] = 2 * x[0] if abs(x[0]) < 5 else 3 * x[0]
    out[1] = 2 * x[1]


@numba.njit
def grad_unwritten_far_away(x, out):
    out[0] = 2 * x[0]
    if abs(x[0]) < 5:
        out[1] = 2 * x[1]


@numba.njit
def grad_raises(x, out):
    if x[0] > 0.5:
        raise IndexError("no such thing")
    out[0] = 2 * x[0]
    out[1] = 2 * x[1]


@numba.njit
def log_f(x):
    return np.log(x[0]) + x[1] ** 2


@numba.njit
def log_grad(x, out):
    out[0] = 1 / x[0]
    out[1] = 2 * x[1]


START = np.array([[1.0, 1.0], [0.5, -0.5], [9.0, 2.0], [-1.5, 0.25]])


@pytest.mark.parametrize("grad, match", [
    (grad_writes_out_40, "wrote outside its output array of shape \\(2,\\) \\(at element 40"),
    (grad_writes_far_away, "crashed the process probing it \\(SIGSEGV\\)"),
    (grad_reads_far_from_x0, "grad of problem 'bad' at x=\\[9, 2\\] crashed the process"),
    (grad_wrong_far_away, "disagrees with finite differences of f at x=\\[9.0, 2.0\\]"),
    (grad_unwritten_far_away, "at x=\\[9, 2\\] left entries \\[1\\]"),
])
def test_unsafe_or_wrong_gradients_are_caught_by_the_probe(grad, match):
    problem = fg.Problem(bowl_f, grad, dim=2, name="bad")
    with pytest.raises(ValueError, match=match):
        fg.minimize(problem, x0=START, lr=0.1, epochs=5)


def test_a_function_that_raises_fails_its_runs_only_and_says_why():
    # The reproducer: plain @njit raising at one start point of many.
    problem = fg.Problem(bowl_f, grad_raises, dim=2, name="raises")
    x0 = np.concatenate([np.linspace(-0.4, 0.4, 1001)[:, None].repeat(2, 1), [[0.9, 0.0]]])
    with pytest.warns(UserWarning, match=r"grad of problem 'raises' at x=\[0.9, 0\] raised "
                      "IndexError: no such thing: runs that reach such a point end with "
                      "status FAILED"), \
            pytest.warns(RuntimeWarning, match=r"1 of 1,002 runs ended with status FAILED; "
                         r"the first, run 1001: grad of problem 'raises' at x=\[0.9, 0\] "
                         "raised IndexError: no such thing"):
        res = fg.minimize(problem, x0=x0, lr=0.1, epochs=50)
    assert res.status[1001] == fg.Status.FAILED
    assert (res.status[:1001] == fg.Status.MAX_EPOCHS).all()
    np.testing.assert_allclose(res.x[:1001], x0[:1001] * 0.8**50, rtol=1e-12)


def test_probe_passes_a_good_problem_and_is_not_repeated(monkeypatch):
    from fastgd import _probe
    problem = fg.Problem(bowl_f, bowl_grad, dim=2, name="bowl")
    res = fg.minimize(problem, x0=START, lr=0.1, epochs=200)
    np.testing.assert_allclose(res.x, 0.0, atol=1e-12)
    runs = []
    monkeypatch.setattr(_probe, "run", lambda probe, name: runs.append(name))
    fg.minimize(problem, x0=START, lr=0.1, epochs=5)
    assert runs == []   # the same start points: probed already


def test_f_not_finite_at_a_start_point_is_reported():
    problem = fg.Problem(log_f, log_grad, dim=2, name="logs")
    with pytest.warns(UserWarning, match=r"f of problem 'logs' at x=\[-1.5 *, 0.25\] is nan"):
        res = fg.minimize(problem, x0=START, lr=0.01, epochs=5)
    assert res.status[3] == fg.Status.DIVERGED


@numba.njit
def lanes_f(X, F):
    for c in range(X.shape[1]):
        F[c] = X[0, c] ** 2


@numba.njit
def lanes_grad(X, G):
    for c in range(X.shape[1]):
        G[0, c] = 2 * X[0, c]


@numba.njit
def assumes_64_lanes(X, F):
    for c in range(64):
        F[c] = X[0, c] ** 2


@numba.njit
def mixes_lanes(X, G):
    for c in range(X.shape[1]):
        G[0, c] = 2 * X[0, 0]


@numba.njit
def mixes_lanes_f(X, F):
    total = 0.0
    for c in range(X.shape[1]):
        total += X[0, c]
    for c in range(X.shape[1]):
        F[c] = X[0, c] ** 2 + 0.0 * total + 1e-3 * (total - X[0, c])


@pytest.mark.parametrize("f, grad, match", [
    (assumes_64_lanes, lanes_grad, "f of problem 'b' on 37 lane\\(s\\) wrote outside"),
    (lanes_f, mixes_lanes, "lanes mixed"),
    (mixes_lanes_f, lanes_grad, "lanes mixed"),
])
def test_batched_functions_that_mix_or_assume_lanes_are_caught(f, grad, match):
    problem = fg.Problem(f, grad, dim=1, name="b", batched=True)
    with pytest.raises(ValueError, match=match):
        fg.minimize(problem, x0=[1.0, 2.0, 3.0], lr=0.1, epochs=5)
    good = fg.Problem(lanes_f, lanes_grad, dim=1, name="good", batched=True)
    assert fg.minimize(good, x0=[1.0, 2.0, 3.0], lr=0.1, epochs=5).x.shape == (3, 1)


@numba.njit
def line(theta, xi):
    return theta[0] * xi + theta[1]


@numba.njit
def line_grad_wrong_late(theta, xi, out):
    out[0] = xi if xi < 0.9 else 2 * xi
    out[1] = 1.0


def test_least_squares_is_probed_at_every_data_point():
    x = np.linspace(0, 1, 50)
    fit = fg.LeastSquares(line, line_grad_wrong_late, x, 3 * x + 1, dim=2, name="fit")
    with pytest.raises(ValueError, match=r"model_grad of problem 'fit' disagrees"):
        fg.minimize(fit, x0=[0.0, 0.0], lr=0.1, epochs=5)


def test_probe_cost_is_small():
    # The probe forks a child and makes a few hundred calls: well under a second
    # for a pointwise problem and a 1000-point fit, even on a loaded machine.
    problem = fg.Problem(bowl_f, bowl_grad, dim=2, name="cost")
    points = np.random.default_rng(0).uniform(-3, 3, (1000, 2))
    problem._probe(points[:1])   # compiles
    start = time.perf_counter()
    problem._probe(points)
    assert time.perf_counter() - start < 2.0


# --- executors that fail ------------------------------------------------------------------

class FailingExecutor(concurrent.futures.Executor):
    """Runs chunks in the calling thread; the ``fail_at``-th submission fails with
    ``error`` (a cancelled future for CancelledError)."""

    def __init__(self, fail_at, error):
        self.calls, self.fail_at, self.error = 0, fail_at, error

    def submit(self, fn, *args):
        future = concurrent.futures.Future()
        self.calls += 1
        if self.calls == self.fail_at:
            if self.error is concurrent.futures.CancelledError:
                future.cancel()
                future.set_running_or_notify_cancel()   # as an executor does
            else:
                future.set_exception(self.error)
        else:
            future.set_result(fn(*args))
        return future


@pytest.mark.parametrize("error, match", [
    (concurrent.futures.CancelledError, "chunk 3 \\(runs 900 to 1199\\) was cancelled"),
    (concurrent.futures.process.BrokenProcessPool("gone"), "worker process of the executor died"),
])
def test_executor_failures_are_said_in_words_and_finished_chunks_kept(
        tmp_path, reference, error, match):
    out = tmp_path / "s"
    with pytest.raises(RuntimeError, match=match) as info:
        quartic(out=out, executor=FailingExecutor(4, error))
    assert "saved in out=" in str(info.value)
    assert len(chunks(out)) == 7   # every chunk but the failed one
    assert_same(quartic(out=out), reference)


@pytest.fixture(scope="module")
def distributed():
    return pytest.importorskip("distributed")


# The clusters' dashboards take any free port (":0"): None means Dask's default,
# 8787, which another cluster on the machine may hold.

def test_dask_cluster_without_workers_times_out(distributed, monkeypatch):
    monkeypatch.setattr(_execute, "WORKER_TIMEOUT", 2.0)
    with distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        start = time.perf_counter()
        with pytest.raises(RuntimeError, match="has no workers"):
            quartic(executor=client)
        assert time.perf_counter() - start < 30


@numba.njit
def slow_f(x):
    total = 0.0
    for i in range(20000):
        total += 1e-9 * i
    return x[0] ** 2 + total - total


@numba.njit
def slow_grad(x, out):
    total = 0.0
    for i in range(20000):
        total += 1e-9 * i
    out[0] = 2 * x[0] + total - total


def test_dask_cluster_closed_mid_sweep_is_named(distributed, tmp_path):
    import threading
    problem = fg.Problem(slow_f, slow_grad, dim=1, name="slow")
    kw = dict(x0=np.linspace(-1, 1, 4000), lr=0.1, epochs=40, chunk_size=100)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        fg.minimize(problem, executor=client, **dict(kw, x0=[0.5, 1.0]))   # compiled
        closer = threading.Timer(0.5, cluster.close)
        closer.start()
        with pytest.raises(RuntimeError, match="cluster or client was closed"):
            fg.minimize(problem, executor=client, out=tmp_path / "s", **kw)
        closer.join()
    resumed = fg.minimize(problem, out=tmp_path / "s", **kw)
    assert_same(resumed, fg.minimize(problem, **kw))


# --- Ctrl-C ------------------------------------------------------------------------------------

def test_ctrl_c_keeps_every_finished_chunk_in_out(tmp_path, monkeypatch, reference):
    real = _api._Task.__call__
    calls = []

    def interrupted(self, start, stop):
        calls.append(start)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, start, stop)
    out = tmp_path / "s"
    monkeypatch.setattr(_api._Task, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        quartic(out=out)
    monkeypatch.undo()
    saved = {int(f.stem.split("-")[1]) for f in chunks(out)}
    # Every chunk whose computation finished before the interrupt is on disk.
    finished = {start // 300 for start in calls[:3]}
    assert finished and finished <= saved
    assert_same(quartic(out=out), reference)


def test_ctrl_c_on_an_executor_keeps_the_chunks_that_finished(tmp_path, reference):
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        quartic(out=out, executor=FailingExecutor(5, KeyboardInterrupt()))
    assert len(chunks(out)) == 7
    assert_same(quartic(out=out), reference)


INTERRUPTED = """
import signal, sys, time
# Ctrl-C raises KeyboardInterrupt, as in a terminal, even when this test runs in a
# background job (whose children start with SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
from tests.test_faults import quartic
quartic(chunk_size=40)                        # compile
quartic(chunk_size=40, out=sys.argv[1] + "-warm")   # and the first use of out=
start = time.perf_counter()
quartic(chunk_size=40, out=sys.argv[1])
print(time.perf_counter() - start, flush=True)
try:
    print("started", flush=True)              # inside the try: Ctrl-C from here on is caught
    quartic(chunk_size=40, out=sys.argv[2])
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
"""


def test_sigint_mid_sweep_stops_and_resumes_bit_for_bit(tmp_path):
    # Ctrl-C part-way through a sweep as long as a timed one; on a busy machine
    # the sweep may still finish first, which proves nothing either way: try
    # again, earlier.
    for attempt, fraction in enumerate([0.3, 0.1, 0.03, 0.0]):
        out = tmp_path / f"interrupted{attempt}"
        proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED,
                                 str(tmp_path / f"timing{attempt}"), str(out)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        with proc:
            whole = float(proc.stdout.readline())
            assert proc.stdout.readline().strip() == "started"
            time.sleep(fraction * whole)
            proc.send_signal(signal.SIGINT)
            said = proc.stdout.read()
            proc.wait(60)
        if "finished" not in said:
            break
    assert "interrupted" in said and proc.returncode != 0   # stopped mid-sweep
    assert_same(quartic(chunk_size=40, out=out), quartic(chunk_size=40))


@numba.njit
def grad_writes_out_of_bounds_far_out(x, out):
    out[0] = 2 * x[0]
    if abs(x[0]) > 50:   # reached only by a diverging run, never at a start point
        out[int(abs(x[0]))] = 0.0


def test_an_index_out_of_bounds_in_a_run_fails_that_run_not_the_process():
    problem = fg.Problem(jit_square, grad_writes_out_of_bounds_far_out, dim=1, name="oob")
    with pytest.warns(RuntimeWarning, match=r"1 of 3 runs ended with status FAILED; the "
                      r"first, run 2: grad of problem 'oob' at x=\[.*\] raised IndexError"):
        res = fg.minimize(problem, x0=[0.5, 1.0, 2.0], lr=[0.1, 0.1, 1.5], epochs=20)
    assert [fg.Status(s).name for s in res.status] == ["MAX_EPOCHS", "MAX_EPOCHS", "FAILED"]
    np.testing.assert_allclose(res.x[:2, 0], [0.5 * 0.8**20, 0.8**20], rtol=1e-12)
    assert abs(res.x[2, 0]) > 50   # it failed where the index went out of bounds
    unchecked = fg.Problem(jit_square, bowl_grad_1d, dim=1, checked=False)
    assert unchecked._user_functions() == (jit_square, bowl_grad_1d)
    assert identity(unchecked) != identity(fg.Problem(jit_square, bowl_grad_1d, dim=1))
