"""``fastgd demo``: every example of the tutorial, each run as a batch.

Each step runs one of the tutorial's examples over many start points and
learning rates at once, writes its figures, and times the batch against the
tutorial's own loops (`fastgd._tutorial`: its code with print and plot removed).
Those are timed on a few runs only and scaled by the run-epochs of the batch
(``sum(nit)``): running them on a million runs would take many minutes.  Where
the batch stops runs early (``gtol``), the tutorial's loop is timed without that
test, which only makes it faster: the speed-up shown is a lower bound.
"""

import dataclasses
import os
import subprocess
import sys
import threading
import time

import numpy as np

from . import _codegen, plot, problems
from . import _tutorial as tut
from ._api import minimize, sweep
from .refinement import refine
from .result import Status
from .scan import lr_scan
from .schedules import step_decay
from .starts import grid


@dataclasses.dataclass
class Row:
    """One line of the demo's table."""

    example: str
    runs: int
    updates: int
    seconds: float
    ref_per_update: float
    finding: str

    @property
    def ref_seconds(self):
        return self.ref_per_update * self.updates


class _Demo:
    def __init__(self, out, quick, stream):
        self.out, self.quick, self.stream = out, quick, stream
        self.rows, self.figures, self.notes = [], [], []
        self.n = 0

    def say(self, text):
        print(text, file=self.stream, flush=True)

    def size(self, full, quick):
        return quick if self.quick else full

    def timed(self, label, fn):
        """Run ``fn`` with a progress line before and after: some steps take seconds."""
        self.n += 1
        self.say(f"[{self.n}/{len(STEPS)}] {label} ...")
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
        self.say(f"      done in {seconds:.2f} s")
        return value, seconds

    def figure(self, name, draw, *args, size=(6.4, 4.8), **kwargs):
        """``draw(*args, ax=..., **kwargs)`` on a new figure saved as ``name``."""
        from matplotlib.figure import Figure
        start = time.perf_counter()
        fig = Figure(figsize=size, layout="constrained")
        draw(*args, ax=fig.add_subplot(), **kwargs)
        path = os.path.join(self.out, name)
        fig.savefig(path, dpi=100)
        self.figures.append(path)
        return time.perf_counter() - start

    def per_update(self, fn, updates, budget=0.1):
        """Seconds per update of a reference loop doing ``updates`` updates per call.

        The best of repeated calls over ``budget`` seconds: one call takes about a
        millisecond, too short to time once on a busy machine.
        """
        best, spent = np.inf, 0.0
        while spent < budget:
            start = time.perf_counter()
            fn()
            took = time.perf_counter() - start
            best, spent = min(best, took), spent + took
        return best / updates


#: The tolerance of every step on e^x + x^2 and the quartic: a run stops once its
#: gradient is this small.  The same options for a problem's sweeps, scan, map and
#: paths mean one kernel for them all (a kernel is specialised to whether runs
#: stop early), which a first run compiles once.
GTOL = 1e-6


def _warm(problem, **options):
    """One tiny run with the step's options, so that the timings below do not count
    Numba's compile or load."""
    minimize(problem, x0=np.zeros(problem.dim) if problem.dim > 1 else 0.0,
             lr=1e-3, epochs=2, **options)


def _share(mask):
    return f"{100 * np.mean(mask):.0f}%"


# --- the steps ------------------------------------------------------------------------

def _exp_quadratic(d):
    p = problems.exp_quadratic
    n = d.size(1000, 60)
    _warm(p, gtol=GTOL)
    x0, lrs = np.linspace(-4, 4, n), np.logspace(-4, 0, n)
    res, secs = d.timed(f"e^x + x^2: {n} starts x {n} rates, 100 epochs ({n * n:,} runs)",
                        lambda: sweep(p, x0=x0, lr=lrs, epochs=100, gtol=GTOL))
    per = d.per_update(lambda: [tut.exp_quadratic(s, 0.05, 100) for s in (-3.0, 0.5, 3.0)],
                      300)
    c = res.counts()
    best = np.unravel_index(np.argmin(np.where(res.success, res.fun, np.inf)), res.shape)
    d.rows.append(Row("e^x+x^2 sweep", res.size, int(res.nit.sum()), secs, per,
                      f"min x={res.x[best][0]:.4f}, f={res.fun[best]:.4f}; "
                      f"converged {c['converged']:,}, slow {c['max_epochs']:,}, "
                      f"diverged {c['diverged']:,}"))
    pic = d.figure("exp_quadratic_status.png", plot.grid_map, res, "status")
    d.notes.append(f"The {n} x {n} sweep ({n * n:,} runs x 100 epochs) took {secs:.2f} s "
                   f"and its status map {pic:.2f} s to draw and save.")
    paths = sweep(p, x0=[-3.0, 3.0], lr=0.1, epochs=100, record=True, gtol=GTOL)
    d.figure("exp_quadratic_paths.png", plot.paths_1d, p, paths)


def _lr_question(d):
    p = problems.exp_quadratic
    lrs = np.geomspace(1e-5, 2, d.size(400, 60))
    scan, secs = d.timed(f"the tutorial's question: {lrs.size} learning rates from x0=-3",
                         lambda: lr_scan(p, -3.0, lrs, 100, ask=(1e-4, 0.8), gtol=GTOL))
    per = d.per_update(lambda: tut.exp_quadratic(-3.0, 0.1, 300), 300)
    d.rows.append(Row("lr 1e-4 and 0.8", scan.lrs.size, int(scan.result.nit.sum()), secs,
                      per, f"1e-4: {scan.classify(1e-4)}, 0.8: {scan.classify(0.8)}"))
    d.notes.append(scan.summary())
    d.figure("lr_scan.png", plot.lr_scan, scan, size=(7.5, 5.0))


def _saddle(d):
    p = problems.saddle
    n, epochs = d.size(201, 31), d.size(1000, 300)  # odd: the grid holds 0
    _warm(p)
    axis = np.linspace(-3, 3, n)
    nearest = {v: int(np.argmin(np.abs(axis - v))) for v in (3.0, -3.0, -1.0, 0.0)}
    picks = [(3.0, 3.0), (-3.0, 3.0), (3.0, -3.0), (-1.0, 0.0)]  # (x0, y0); (3, 3) the tutorial's
    record = [int(np.ravel_multi_index((nearest[x], nearest[y]), (n, n))) for x, y in picks]
    res, secs = d.timed(f"saddle e^(x+y) + x^2 - y^2: {n} x {n} starts, {epochs} epochs",
                        lambda: minimize(p, x0=grid(x0=axis, y0=axis), lr=0.001,
                                         epochs=epochs, record=record))
    per = d.per_update(lambda: tut.saddle(3.0, 3.0, 0.001, 300), 300)
    end = res.x[-1, -1]
    d.rows.append(Row("saddle, grid of starts", res.size, int(res.nit.sum()), secs, per,
                      f"(3,3) -> ({end[0]:.2f}, {end[1]:.2f}); "
                      f"{_share(res.fun < -1)} slide down the -y^2 valley"))
    d.figure("saddle_paths.png", plot.paths_2d, p, res, annotate=50)
    d.figure("saddle_map.png", plot.grid_map, res, "fun", x="x0", y="y0")


def _quartic(d):
    p = problems.quartic
    nx, nl = d.size(1000, 80), d.size(500, 40)
    x0, lrs = np.linspace(-2.5, 2.5, nx), np.geomspace(1e-3, 0.2, nl)
    _warm(p, gtol=GTOL)
    res, secs = d.timed(f"quartic: {nx} starts x {nl} rates, 200 epochs",
                        lambda: sweep(p, x0=x0, lr=lrs, epochs=200, gtol=GTOL))
    per = d.per_update(lambda: [tut.quartic(s, 0.01, 100) for s in (-2.0, 2.0)], 200)
    done = res.status == Status.CONVERGED
    xs = res.x[..., 0]
    d.rows.append(Row("quartic, which minimum", res.size, int(res.nit.sum()), secs, per,
                      f"global x=-1.673: {_share(done & (np.abs(xs + 1.673) < 0.01))}, "
                      f"local x=1.470: {_share(done & (np.abs(xs - 1.470) < 0.01))}"))
    d.figure("quartic_minima.png", plot.grid_map, res, "minimum")
    paths = sweep(p, x0=[2.0, -0.5], lr=0.01, epochs=100, record=True, gtol=GTOL)
    d.figure("quartic_paths.png", plot.paths_1d, p, paths, annotate=5)


def _basins(d):
    p = problems.quartic
    n = d.size(1024, 65)
    axes = dict(x0=np.linspace(-3, 3, n), lr=np.geomspace(1e-3, 0.3, n))
    found, secs = d.timed(f"quartic basins, refined adaptively: a {n} x {n} map of x0 x lr",
                          lambda: refine(p, **axes, epochs=500, gtol=GTOL, by="minimum",
                                         start=d.size(33, 9)))
    per = d.per_update(lambda: [tut.quartic(s, 0.01, 100) for s in (-2.0, 2.0)], 200)
    m = found.minima
    d.rows.append(Row("quartic basins, refined", found.runs,
                      int(found.result.nit[found.computed].sum()), secs, per,
                      f"{found.runs:,} of {n * n:,} runs computed; basin of -1.673: "
                      f"{100 * m.fraction[0]:.0f}%, of 1.470: {100 * m.fraction[1]:.0f}%"))
    d.notes.append(f"Adaptive refinement ran {found.runs:,} of the {n * n:,} runs of the "
                   f"quartic's basin map ({100 * found.runs / (n * n):.1f}%).")
    d.figure("quartic_basins.png", plot.grid_map, found.result, m, x="lr", y="x0",
             size=(8.5, 4.8))


def _step_decay(d):
    p = problems.quartic
    nx, nl = d.size(500, 40), d.size(200, 20)
    x0, lrs = np.linspace(-2.5, 2.5, nx), np.geomspace(0.01, 0.2, nl)
    schedule = step_decay(10, [1.0, 0.5])
    _warm(p, schedule=schedule)
    res, secs = d.timed(f"fixed vs step decay: {nx} starts x {nl} rates x 2 schedules",
                        lambda: sweep(p, x0=x0, lr=lrs, epochs=30, schedule=schedule))
    per = d.per_update(lambda: tut.train(2.1, "scheduling", 0.15, 30), 30)
    ok = np.abs(res.x[..., 0] + 1.673) < 0.01
    d.rows.append(Row("fixed vs step decay", res.size, int(res.nit.sum()), secs, per,
                      f"at the global min: fixed {_share(ok[..., 0])}, "
                      f"step decay {_share(ok[..., 1])}"))
    runs = sweep(p, x0=2.1, lr=0.15, epochs=30, schedule=schedule, record=True)
    d.figure("step_decay.png", plot.compare_runs, p, runs, runs=[0, 1])


def _fit(d):
    x, y = problems.exp_linear_data(100, seed=0)
    p = problems.exp_linear_fit(x, y)
    n = d.size(1000, 50)
    rng = np.random.default_rng(1)
    starts = np.column_stack([rng.uniform(0.5, 1.5, n), rng.uniform(1, 4, n),
                              rng.uniform(2, 7, n)])
    starts[0] = (1.0, 2.0, 3.0)  # the tutorial's full-batch start
    starts[1] = (1.0, 3.0, 5.0)  # and its mini-batch start
    _warm(p)
    full, secs = d.timed(f"curve fit, full batch: {n} starts, 500 epochs",
                         lambda: minimize(p, x0=starts, lr=0.001, epochs=500,
                                          record=[0, 1]))
    points = tut.points_of(x, y)
    per = d.per_update(lambda: tut.fit(points, 1.0, 2.0, 3.0, 0.001, 20), 20)
    d.rows.append(Row("curve fit, full batch", n, int(full.nit.sum()), secs, per,
                      _fit_finding(full)))
    d.fit = (p, x, y, starts, full)


def _fit_mini_batch(d):
    p, x, y, starts, full = d.fit
    n = len(starts)
    mini, secs = d.timed(f"curve fit, mini-batch of 10: {n} starts, 500 epochs",
                         lambda: minimize(p, x0=starts, lr=0.001, epochs=500, batch_size=10,
                                          shuffle=False, record=[0, 1]))
    # Per epoch, not per update: an epoch of the tutorial's mini-batch loop is 10 updates.
    points = tut.points_of(x, y)
    per = d.per_update(lambda: tut.fit_minibatch(points, 1.0, 3.0, 5.0, 0.001, 20), 20)
    d.rows.append(Row("curve fit, mini-batch 10", n, int(mini.nit.sum()), secs, per,
                      _fit_finding(mini)))
    d.figure("fit.png", plot.fit, p, [full, mini], truth=(1.2, 3.4, 5.6),
             labels=["full batch", "mini-batch 10"])
    d.figure("fit_loss.png", plot.loss_curves, [full, mini], runs=[[0, 1], [0, 1]],
             labels=["full batch from (1, 2, 3)", "full batch from (1, 3, 5)",
                     "mini-batch from (1, 2, 3)", "mini-batch from (1, 3, 5)"])


def _fit_finding(res):
    ok = res.status != Status.DIVERGED
    best = int(np.argmin(np.where(ok, res.fun, np.inf)))
    a, b, c = res.x[best]
    return (f"best ({a:.2f}, {b:.2f}, {c:.2f}), loss {res.fun[best]:.2g}; "
            f"median loss {np.median(res.fun[ok]):.2g}")


def _momentum(d):
    p = problems.exp_quadratic
    n = d.size(500, 40)
    x0, lrs = np.linspace(-4, 4, n), np.geomspace(1e-3, 0.5, n)
    _warm(p, optimizer="momentum")
    res, secs = d.timed(f"momentum 0 vs 0.9: {n} starts x {n} rates, 100 epochs",
                        lambda: sweep(p, x0=x0, lr=lrs, momentum=[0.0, 0.9], epochs=100,
                                      optimizer="momentum"))
    per = d.per_update(lambda: tut.exp_quadratic_momentum(-3.0, 0.1, 300, 0.9), 300)
    near = np.abs(res.fun - 0.827184026) < 1e-6
    d.rows.append(Row("momentum", res.size, int(res.nit.sum()), secs, per,
                      f"within 1e-6 of f*: plain {_share(near[..., 0])}, "
                      f"momentum 0.9 {_share(near[..., 1])}"))
    runs = sweep(p, x0=-3.0, lr=0.1, momentum=[0.0, 0.9], epochs=100,
                 optimizer="momentum", record=True)
    d.figure("momentum.png", plot.compare_runs, p, runs, runs=[0, 1])


STEPS = (_exp_quadratic, _lr_question, _saddle, _quartic, _basins, _step_decay, _fit,
         _fit_mini_batch, _momentum)


# --- compiling in the background -------------------------------------------------------

class _Quiet(_Demo):
    """The steps at their quick sizes, drawing, timing and saying nothing: what is
    left of them is the kernels they load."""

    def __init__(self):
        super().__init__(out=None, quick=True, stream=None)

    def say(self, text):
        pass

    def timed(self, label, fn):
        return fn(), 0.0

    def figure(self, name, draw, *args, **kwargs):
        return 0.0

    def per_update(self, fn, updates, budget=0.1):
        return 0.0


def _compile_later_steps(after, announce):
    """The background process of `_Background`: run the steps after step ``after``
    (0-based), the last first, until the demo reaches the next one.

    The demo writes the number of each step it starts on this process's stdin,
    and closes it when it ends, or dies: then there is nothing left to compile
    for.  Errors are the demo's to meet, not this process's: a step that fails
    here (`_fit_mini_batch` needs what `_fit` made) is skipped, and the demo
    compiles what it needs itself.
    """
    reached = [after]

    def follow():
        try:
            for line in sys.stdin:
                reached[0] = max(reached[0], int(line))
        except (ValueError, OSError):
            pass
        os._exit(0)

    threading.Thread(target=follow, daemon=True).start()

    def note(what):
        if announce:
            sys.stderr.write(f"fastgd: compiling the kernel for {what} in the background, "
                             f"once (cached afterwards)\n")
            sys.stderr.flush()

    d = _Quiet()
    with _codegen.on_compile(note):
        for i in range(len(STEPS) - 1, after, -1):
            if i <= reached[0]:
                break
            try:
                STEPS[i](d)
            except Exception:
                continue


# The background process's program.  SIGINT ignored: Ctrl-C in a terminal goes to
# the whole process group, and the demo stops this process itself; its notes
# come from `_compile_later_steps` (FASTGD_QUIET silences fastgd's own, which
# would not say "in the background"); warnings are the demo's to show.
_CHILD = ("import signal, sys, warnings; signal.signal(signal.SIGINT, signal.SIG_IGN); "
          "warnings.simplefilter('ignore'); from fastgd.demo import _compile_later_steps; "
          "_compile_later_steps(int(sys.argv[1]), sys.argv[2] == '1')")


class _Background:
    """A second process that compiles the kernels of the demo's later steps while
    this one compiles and computes the first ones.

    Numba compiles one kernel at a time per process, holding the GIL: a second
    process is what puts a second core to work on a cold cache.  It starts at
    the first kernel this process has to compile (a warm cache starts nothing),
    runs the steps after the current one from the last back (`_Quiet`), and
    stops where this process has got to.  The two meet through the on-disk
    cache: `fastgd._codegen` locks a module while one process compiles it, so
    the other waits and loads it, and each kernel compiles once.  It can only
    save time: if it fails, hangs or is killed, this process compiles what it
    needs itself.
    """

    def __init__(self):
        self.proc = None
        self.tried = False
        self.step = 0

    def reached(self, step):
        self.step = step
        self._send(step)

    def start(self, what=None):
        if self.tried or self.step >= len(STEPS) - 1 or not sys.executable:
            return
        self.tried = True
        # A cache directory this process cannot write is replaced by a temporary
        # one of its own: a second process's kernels would never reach it.
        if _codegen._writable_cache_dir() != _codegen.cache_dir():
            return
        announce = os.environ.get("FASTGD_QUIET", "0") in ("", "0")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(self.step), "1" if announce else "0"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                env=dict(os.environ, FASTGD_QUIET="1"))
        except OSError:
            self.proc = None

    def _send(self, step):
        if self.proc is None:
            return
        try:
            self.proc.stdin.write(f"{step}\n")
            self.proc.stdin.flush()
        except OSError:   # it has ended
            pass

    def stop(self):
        """End the background process: whatever it is doing now, the demo no
        longer needs (it got to that step first)."""
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _seconds(s):
    if s >= 120:
        return f"{s / 60:.1f} min"
    return f"{s:.3f} s" if s < 1 else f"{s:.2f} s"


def table(rows):
    """The demo's findings and timings as a plain-text table."""
    head = ("example", "runs", "run-epochs", "fastgd", "tutorial*", "speed-up", "found")
    lines = [(r.example, f"{r.runs:,}", f"{r.updates:,}", _seconds(r.seconds),
              _seconds(r.ref_seconds), f"{r.ref_seconds / max(r.seconds, 1e-9):,.0f}x",
              r.finding) for r in rows]
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head) - 1)]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*head[:-1]) + "  " + head[-1]]
    out += [fmt.format(*x[:-1]) + "  " + x[-1] for x in lines]
    return "\n".join(out)


def run(out="fastgd-demo", quick=False, stream=None):
    """Run every example, write the figures to ``out``; return the text report.

    Parameters
    ----------
    out : str
        Folder for the PNG figures (created if missing).
    quick : bool
        Small batches, for a smoke test.
    stream : file, optional
        Where progress goes (default ``sys.stderr``).

    Returns
    -------
    report : str
        The table, the notes and the list of figures.
    """
    os.makedirs(out, exist_ok=True)
    d = _Demo(out, quick, sys.stderr if stream is None else stream)
    total = time.perf_counter()
    background = _Background()
    try:
        with _codegen.on_compile(background.start):
            for i, step in enumerate(STEPS):
                background.reached(i)
                step(d)
    finally:
        background.stop()
    total = time.perf_counter() - total
    import platform
    lines = [table(d.rows), "",
             "* tutorial: the tutorial's own loops (print and plot removed), timed on a "
             "few runs and scaled by the run-epochs of each batch; without the batch's "
             "gtol test, so the speed-up is a lower bound. Side-by-side figures against "
             "NumPy, PyTorch and JAX: docs/benchmarks.md.",
             f"  {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
             f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}.", ""]
    lines += d.notes
    lines += ["", f"{len(d.figures)} figures in {out}/ "
              f"({', '.join(os.path.basename(f) for f in d.figures)}); "
              f"whole demo {total:.1f} s."]
    return "\n".join(lines)
