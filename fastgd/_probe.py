"""Probing a user's functions before any kernel runs, so that a wrong or
unsafe function is an error that names it, not a crash or a wrong answer.

A user's ``f``/``grad`` (or ``model``/``model_grad``) is called from Python:

* at several distinct start points: the first, the one farthest from it, the
  one of largest norm (among at most ~100,000 evenly spaced start points) and
  a few drawn at random (seeded by the batch, so a
  rerun probes the same points); a least-squares model at every data point
  (up to `MAX_DATA_POINTS`, evenly spread beyond that);
* into outputs with `GUARD` sentinel elements on each side: every entry must
  be written (with two different sentinels, so a value equal to one is no
  false alarm), nothing outside; the input must not change;
* batched functions on blocks of 64, 37 and 1 lanes (the kernels' widths), each
  lane a different point, and once more with the lanes in reverse order: a
  lane's values must not depend on the others or on its position;
* ``grad`` against central finite differences of ``f`` (relative error below
  1e-3).  A point where ``f`` is not finite is named in a warning (runs from
  there stop as diverged at once).

On Linux the whole probe runs in a forked child process, so a function that
reads or writes far outside its arrays crashes the child, not the caller: the
crash is reported with the call that was being made.  Elsewhere, or if the
child cannot be started, it runs in-process.
"""

import faulthandler
import json
import mmap
import os
import select
import signal
import sys
import time
import warnings

import numpy as np

#: Sentinel elements on each side of every output array.
GUARD = 4096
_SENTINELS = (1.2345678e300, -9.8765432e299)
#: Lane counts a batched function is probed with: a full block, a partial
#: one, a single lane.
LANES = (64, 37, 1)
#: Start points drawn at random, besides the first, farthest and largest.
RANDOM_POINTS = 3
#: Data points a least-squares model is probed at, at most (evenly spread
#: beyond): about 50 microseconds each.
MAX_DATA_POINTS = 256
#: Seconds the child may take; then it is killed and the probe runs in-process.
CHILD_SECONDS = 120.0


_NOTE_BYTES = 4096


class _Failed(Exception):
    """A probe's verdict, raised as ValueError by `run`."""


class _Raised(_Failed):
    """A user's function raised: a warning from the probe (the runs that reach
    such a point end with status FAILED, the others are unaffected)."""


def _warn_raised(err):
    warnings.warn(f"{err}: runs that reach such a point end with status FAILED "
                  "(the other runs are unaffected)", UserWarning, stacklevel=3)


def probe_points(points):
    """Distinct rows of ``points`` (n, dim) to probe at: the first, the farthest
    from it, the largest in norm, and `RANDOM_POINTS` at random."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, points.shape[-1])
    n = points.shape[0]
    picks = [0]
    if n > 1:
        # The extremes among at most ~100,000 evenly spaced points: the search
        # must not cost a copy of a batch of millions.
        stride = max(1, n // 100_000)
        seen = points[::stride]
        picks.append(stride * int(np.argmax(np.abs(seen - points[0]).max(axis=1))))
        picks.append(stride * int(np.argmax(np.abs(seen).max(axis=1))))
        rng = np.random.default_rng(n)   # the same points for the same batch
        picks += rng.integers(0, n, size=RANDOM_POINTS).tolist()
    chosen = list(dict.fromkeys(picks))
    return [points[i].copy() for i in chosen]


def precompile(func, *arg_types):
    """Compile a jitted ``func`` for the probe's argument types here, in the
    parent, so the child compiles nothing (a forked child must not wait on
    the compiler's lock, which another thread may have held at the fork).
    A function that does not compile is left for the probe to report."""
    from numba import types
    sig = tuple({"x": types.float64[::1], "X": types.float64[:, ::1],
                 "f": types.float64}[t] for t in arg_types)
    try:
        func.compile(sig)
    except Exception:  # noqa: BLE001 - reported by the probe's own call, with its name
        pass


# --- running the probe out of process -------------------------------------------

def run(probe, pname):
    """Run ``probe(note)``; raise ValueError for a failed check or a crash.

    ``note(text)`` is called before each call of a user function, so that a
    crash can be reported with what was being called.
    """
    if not _can_fork():
        return _in_process(probe)
    # Flush before forking: the child must not write the parent's buffers again.
    sys.stdout.flush()
    sys.stderr.flush()
    # What the child is calling, written before each call into memory shared
    # with the parent (no system call): read back if the child crashes.
    calling = mmap.mmap(-1, _NOTE_BYTES)
    read_end, write_end = os.pipe()
    try:
        with warnings.catch_warnings():
            # JAX's fork hook and Python 3.12+ warn that a multithreaded
            # process forked: the child runs only the probe (no threads, no
            # JAX), and a child stuck on a lock would be killed at CHILD_SECONDS.
            warnings.filterwarnings("ignore", message=".*fork", category=RuntimeWarning)
            warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return _in_process(probe)
    if pid == 0:   # the child: never returns into the caller's code
        status = 0
        try:
            os.close(read_end)
            faulthandler.disable()   # a crash is the verdict, reported by the parent

            def note(text):
                data = text.encode()[:_NOTE_BYTES - 4]
                calling[4:4 + len(data)] = data
                calling[:4] = len(data).to_bytes(4, "little")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    probe(note)
                    verdict = {"ok": [str(w.message) for w in caught]}
                except _Failed as err:
                    verdict = {"failed": str(err)}
            os.write(write_end, (json.dumps(verdict) + "\n").encode())
        except BaseException:  # noqa: BLE001 - the child must exit whatever happens
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    lines, timed_out = _read_all(read_end, CHILD_SECONDS)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    try:
        verdict = json.loads(lines[-1]) if lines else {}
    except ValueError:   # cut off mid-line by a crash
        verdict = {}
    if "ok" in verdict:
        for text in verdict["ok"]:
            warnings.warn(text, UserWarning, stacklevel=4)
        return
    if "failed" in verdict:
        raise ValueError(verdict["failed"])
    if timed_out:   # not a verdict: perhaps a function that waits on threads
        return _in_process(probe)
    length = int.from_bytes(calling[:4], "little")
    what = calling[4:4 + length].decode(errors="replace") if length else \
        f"the functions of problem {pname!r}"
    calling.close()
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        raise ValueError(
            f"{what} crashed the process probing it ({sig}): it reads or writes "
            "outside its arrays (or fails in native code); nothing ran")
    if status != 0:   # the child failed in the probe's own code: probe here instead
        return _in_process(probe)
    raise ValueError(f"{what} ended the process probing it (exit status {status})")


def _can_fork():
    # Linux only: macOS forbids many frameworks in a forked child.
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _read_all(fd, seconds):
    deadline = time.monotonic() + seconds
    chunks = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks).decode(errors="replace").splitlines(), True
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    break
                chunks.append(data)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace").splitlines(), False


def _in_process(probe):
    try:
        probe(lambda text: None)
    except _Failed as err:
        raise ValueError(str(err)) from None


# --- the checks ----------------------------------------------------------------

def _fmt(x):
    x = np.asarray(x).ravel()
    more = ", ..." if x.size > 8 else ""
    return "[" + ", ".join(f"{v:.6g}" for v in x[:8]) + more + "]"


def _call(note, label, func, *args):
    note(label)
    try:
        return func(*args)
    except Exception as err:  # noqa: BLE001 - any exception from a user's function
        raise _Raised(f"{label} raised {type(err).__name__}: {err}") from None


def _guarded(shape, fill):
    size = int(np.prod(shape))
    buf = np.full(size + 2 * GUARD, fill)
    return buf, buf[GUARD:GUARD + size].reshape(shape)


def _outputs(note, label, call, shape):
    """Call ``call(out)`` into guarded buffers, twice; return what it wrote."""
    written = []
    for fill in _SENTINELS:
        buf, out = _guarded(shape, fill)
        _call(note, label, call, out)
        outside = np.flatnonzero(np.concatenate([buf[:GUARD], buf[GUARD + out.size:]]) != fill) \
            if (buf[:GUARD] != fill).any() or (buf[GUARD + out.size:] != fill).any() else ()
        if len(outside):
            pos = int(outside[0])
            at = pos - GUARD if pos < GUARD else pos - GUARD + out.size
            raise _Failed(f"{label} wrote outside its output array of shape {shape} "
                          f"(at element {at} of it, counting from its start)")
        written.append(out.copy())
    unwritten = (written[0] == _SENTINELS[0]) & (written[1] == _SENTINELS[1])
    if np.any(unwritten):
        raise _Failed(f"{label} left entries {np.flatnonzero(unwritten).tolist()[:10]} "
                      f"of its output unwritten")
    return written[0]


def _value(note, label, f, x):
    return float(_call(note, label, f, x))


def check_pointwise(note, f, grad, points, pname, names=("f", "grad"), at=""):
    """Probe ``f(x) -> float`` and ``grad(x, out)`` at each of ``points``."""
    for point in points:
        try:
            _check_point(note, f, grad, point, pname, names, at)
        except _Raised as err:
            _warn_raised(err)


def _check_point(note, f, grad, point, pname, names, at):
    """One point of `check_pointwise`."""
    x = np.array(point, dtype=np.float64)
    before = x.copy()
    where = f"of problem {pname!r} at x={_fmt(x)}{at}"
    label_f, label_g = f"{names[0]} {where}", f"{names[1]} {where}"
    value = _value(note, label_f, f, x)
    g = _outputs(note, label_g, lambda out, x=x: grad(x, out), x.shape)
    if not np.array_equal(x, before):
        raise _Failed(f"{names[0]} or {names[1]} {where} modified its input")
    _finite_or_warn(value, label_f)
    check_fd(lambda p, label=label_f: _value(note, label, f, p), value, g, x, pname, names)


def check_least_squares(note, model, model_grad, points, data, pname):
    """Probe ``model(theta, xi)`` and ``model_grad(theta, xi, out)``: at the
    first point for every data point (up to `MAX_DATA_POINTS`), at the others
    for the first, middle and last."""
    every = data_indices(data.shape[1])
    for i, theta in enumerate(points):
        for k in (every if i == 0 else every[[0, len(every) // 2, -1]]):
            xi = float(data[0, k])
            try:
                _check_point(note, lambda th, xi=xi: model(th, xi),
                             lambda th, out, xi=xi: model_grad(th, xi, out), theta, pname,
                             ("model", "model_grad"), f", data point {k} (x={xi:g})")
            except _Raised as err:
                _warn_raised(err)   # once per point: the other data points say no more
                break


def check_batched(note, f, grad, points, pname):
    """Probe batched ``f(X, F)`` and ``grad(X, G)`` on blocks of lanes, each lane
    a different point, forwards and reversed."""
    dim = points[0].size
    base = np.array(points)
    # As many distinct points as the widest block: the probe points, then
    # copies moved a little, so no two lanes are the same.
    reps = -(-max(LANES) // len(base))
    cols = np.concatenate([base * (1 + 1e-3 * k) + 1e-3 * k for k in range(reps)])
    cols = cols[:max(LANES)].T.copy()                     # (dim, lanes)
    try:
        results = _lane_results(note, f, grad, cols, dim, pname)
    except _Raised as err:
        _warn_raised(err)
        return
    ref_F, ref_G = results[max(LANES), "forward"]
    for (lanes, order), (F, G) in results.items():
        same = _close(F, ref_F[:lanes]) & np.all(_close(G, ref_G[:, :lanes]), axis=0)
        if not np.all(same):
            lane = int(np.flatnonzero(~same)[0])
            raise _Failed(
                f"f or grad of problem {pname!r} gives lane {lane} (x={_fmt(cols[:, lane])}) "
                f"different values on {lanes} lane(s) {order} than on {max(LANES)}: a lane "
                "must depend on its own column of X only (lanes mixed, or a fixed lane "
                "count assumed)")

    def f_point(p):
        out = np.empty(1)
        f(np.ascontiguousarray(p[:, None]), out)
        return out[0]
    for lane in range(len(points)):
        label = f"f of problem {pname!r} at x={_fmt(cols[:, lane])}"
        _finite_or_warn(ref_F[lane], label)
        try:
            check_fd(lambda p, label=label: _value(note, label, f_point, p), ref_F[lane],
                     ref_G[:, lane], cols[:, lane].copy(), pname, ("f", "grad"))
        except _Raised as err:
            _warn_raised(err)


def _lane_results(note, f, grad, cols, dim, pname):
    """``{(lanes, order): (F, G)}`` on each block, lanes put back in order."""
    results = {}
    for lanes in LANES:
        for order in ("forward", "reversed"):
            index = np.arange(lanes) if order == "forward" else np.arange(lanes)[::-1]
            X = np.ascontiguousarray(cols[:, index])
            before = X.copy()
            label = f"of problem {pname!r} on {lanes} lane(s)"
            F = _outputs(note, f"f {label}", lambda out, X=X: f(X, out), (lanes,))
            G = _outputs(note, f"grad {label}", lambda out, X=X: grad(X, out), (dim, lanes))
            if not np.array_equal(X, before):
                raise _Failed(f"f or grad {label} modified its input X")
            back = np.argsort(index)
            results[lanes, order] = (F[back], G[:, back])
    return results


def _close(a, b):
    return (a == b) | (np.abs(a - b) <= 1e-12 * np.maximum(np.abs(a), np.abs(b))) | \
        (np.isnan(a) & np.isnan(b))


def _finite_or_warn(value, label):
    if not np.isfinite(value):
        warnings.warn(f"{label} is {value}: runs from there stop as diverged at once",
                      UserWarning, stacklevel=2)


def check_fd(f, value, g, x, pname, names):
    """Compare ``g`` with central differences of ``f`` at ``x``."""
    if not (np.isfinite(value) and np.all(np.isfinite(g))):
        return  # nothing to compare; the kernel will mark such runs diverged
    fd = np.empty_like(x)
    for d in range(x.size):
        h = 1e-6 * max(1.0, abs(x[d]))
        up, down = x.copy(), x.copy()
        up[d] += h
        down[d] -= h
        fd[d] = (f(up) - f(down)) / (up[d] - down[d])
    scale = np.maximum.reduce([np.ones_like(g), abs(g), abs(fd),
                               np.full_like(g, 1e-6 * abs(value))])
    err = abs(g - fd) / scale
    if np.all(np.isfinite(fd)) and err.max() > 1e-3:
        raise _Failed(
            f"{names[1]} of problem {pname!r} disagrees with finite differences of "
            f"{names[0]} at x={x.tolist()}: {names[1]} gives {g.tolist()}, "
            f"differences give {fd.tolist()}")


def data_indices(n):
    """The data points a least-squares model is probed at."""
    if n <= MAX_DATA_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_DATA_POINTS).round().astype(np.int64))


# --- why a run failed ---------------------------------------------------------

#: Data points tried, at most, to find the one where a least-squares model raises.
MAX_EXPLAIN_DATA = 100_000


def explain(problem, x):
    """Why a user's function fails at point ``x`` (a run's status FAILED): the
    exception it raises there, as text, found by calling it again from Python
    (in a child process, as the probe: a crash there is reported too); None if
    the call does not fail from Python."""
    x = np.array(x, dtype=np.float64).reshape(problem.dim)
    name = problem.name
    # As the kernels call them (bounds-checked): the same exception, no crash.
    value_of, grad_of = problem._user_functions()

    def again(note):
        if hasattr(problem, "model"):   # LeastSquares: the model at each data point
            data = problem._data
            for k in range(min(data.shape[1], MAX_EXPLAIN_DATA)):
                xi = float(data[0, k])
                where = f"of problem {name!r} at theta={_fmt(x)}, data point {k} (x={xi:g})"
                _call(note, f"model {where}", value_of, x, xi)
                _call(note, f"model_grad {where}", grad_of, x, xi, np.empty(x.size))
        elif problem.batched:
            X = np.ascontiguousarray(x[:, None])
            where = f"of problem {name!r} at x={_fmt(x)}"
            _call(note, f"grad {where}", grad_of, X, np.empty_like(X))
            _call(note, f"f {where}", value_of, X, np.empty(1))
        else:   # the gradient first: the kernels call it every update
            where = f"of problem {name!r} at x={_fmt(x)}"
            _call(note, f"grad {where}", grad_of, x.copy(), np.empty_like(x))
            _call(note, f"f {where}", value_of, x.copy())

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run(again, name)
    except ValueError as err:
        return str(err)
    return None
