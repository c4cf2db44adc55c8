"""The Python layer: validate, broadcast, allocate, call the kernel, wrap the result."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import os
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import (
    __version__,
    _codegen,
    _config,
    _execute,
    _identity,
    _kernels,
    _memory,
    _probe,
    _threads,
)
from . import _validate as check
from .optimizers import _RANGES as _HYPER_RANGES
from .optimizers import HYPER_PARAMETERS, SPECS
from .problem import Problem, as_points
from .result import Result, Status
from .schedules import Schedule
from .starts import Starts

#: The largest ``epochs``: counters stay far from int64's end (epochs + 1
#: points are recorded per run).
MAX_EPOCHS = 2**62


def _rates_by_group(lr, groups):
    """The per-run rates, by name: ``{"lr": ...}``, or for a problem with
    parameter groups given ``lr`` as a dict, ``{"lr_<group>": ...}`` per group."""
    if not isinstance(lr, dict):
        return {"lr": check.hyper(lr, "lr", low=0.0)}
    if groups is None:
        raise TypeError("lr may be a dict of rates per parameter group only for a problem "
                        "with groups (see Problem's groups=); this one has none")
    names = [name for name, _ in groups]
    if sorted(map(str, lr)) != sorted(names):
        raise ValueError(f"lr must give one rate per parameter group {names}, "
                         f"got keys {list(lr)}")
    return {f"lr_{name}": check.hyper(lr[name], f"lr[{name!r}]", low=0.0) for name in names}


def _hyper_parameters(optimizer, lr, momentum, schedule, groups=None, **given):
    """Validated per-run hyper-parameters, by name, as float64 arrays.

    ``given`` holds the optimiser hyper-parameters other than ``momentum``
    (``beta1``, ``beta2``, ``alpha``, ``eps``, ``weight_decay``); None means
    not given (the optimiser's default, see `fastgd.optimizers`).
    """
    check.choice(optimizer, "optimizer", SPECS)
    spec = SPECS[optimizer]
    given = dict(given, momentum=momentum)
    hp = _rates_by_group(lr, groups)
    for name in HYPER_PARAMETERS:
        value = given.get(name)
        if name in spec.params:
            low, high, low_open, high_open = _HYPER_RANGES[name]
            hp[name] = check.hyper(spec.defaults[name] if value is None else value, name,
                                   low=low, high=high, low_open=low_open,
                                   high_open=high_open)
        elif value is not None:
            users = sorted(n for n, s in SPECS.items() if name in s.params)
            hint = ""
            if name == "momentum" and "beta1" in spec.params:
                hint = f"; {optimizer}'s momentum is beta1 (default 0.9)"
            raise ValueError(f"{name} is only used with optimizer in {users}, "
                             f"not with {optimizer!r}{hint}")
    if schedule is not None:
        if not isinstance(schedule, Schedule):
            raise TypeError(
                f"schedule must be a fastgd Schedule such as fg.step_decay(...), "
                f"got {type(schedule).__name__}")
        hp.update(schedule._hyper_parameters())
    return hp


def _record_count(record, shape, size):
    """How many runs `_record_runs` will keep (at most), without allocating
    their indices: for the memory budget, checked first."""
    if record is None or record is False:
        return 0
    if record is True:
        return size
    arr = np.asarray(record)
    if arr.dtype == bool:
        try:
            return int(np.count_nonzero(np.broadcast_to(arr, shape)))
        except ValueError:
            return 0   # _record_runs says what is wrong
    return arr.size


def _batch_shape(shapes):
    """The broadcast of the batch arguments' shapes, in Python integers: a
    batch too large for NumPy to index still gets its size reported."""
    ndim = max(len(s) for s in shapes.values())
    shape = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes.values() if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            raise ValueError(f"the batch arguments do not broadcast together: {shapes}")
        shape.append(sizes.pop() if sizes else 1)
    return tuple(shape)


def _memory_parts(shapes, shape, size, dim, epochs, n_record, chunk_size, n_inputs,
                  per_run_extra=0):
    """The bytes `_run` will hold at its peak, by what they are for.
    ``per_run_extra``: the optimiser's saved state and what ``init=`` holds."""
    args = " x ".join(f"{name} {s}" for name, s in shapes.items() if s)
    # x, fun, nit, status, success, temporaries, the optimiser's state
    per_run = 8 * dim + 8 + 8 + 1 + 1 + 2 + per_run_extra
    per_path = (epochs + 1) * (dim + 1) * 8
    chunk = min(chunk_size, size)
    parts = [(size * per_run, f"the outputs of {size:,} runs (batch shape {shape} from "
                              f"{args or 'scalars'}, dim {dim})"),
             (n_record * (per_path + 8),
              f"record= ({n_record:,} runs x {epochs + 1:,} points (epochs + 1) x "
              f"{dim + 1} numbers)"),
             (chunk * 8 * (dim + 1 + n_inputs), f"the inputs of a chunk of {chunk:,} runs")]
    if chunk < size:   # a one-chunk batch's outputs are adopted, not copied
        parts.append((chunk * per_run + min(n_record, chunk) * per_path,
                      f"the outputs of a chunk of {chunk:,} runs (chunk_size) in flight"))
    return parts


def _record_runs(record, shape, size):
    """Flat, sorted, unique indices of the runs whose trajectories are kept."""
    if record is None or record is False:
        return np.empty(0, np.int64)
    if record is True:
        return np.arange(size, dtype=np.int64)
    arr = np.asarray(record)
    if arr.dtype == bool:
        try:
            mask = np.broadcast_to(arr, shape)
        except ValueError:
            raise ValueError(
                f"record mask of shape {arr.shape} does not match the batch shape {shape}"
            ) from None
        return np.flatnonzero(mask).astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim > 1:
        raise TypeError("record must be True, a boolean mask of the batch shape, "
                        "or flat run indices (int or 1-D array of int)")
    arr = arr.ravel().astype(np.int64)
    if np.any((arr < 0) | (arr >= size)):
        raise ValueError(f"record indices must be in [0, {size}), got {arr.tolist()[:10]}")
    return np.unique(arr)


def _kernel_ready(a):
    """Can the kernels take a view of ``a`` as it is?"""
    return a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable


@dataclasses.dataclass(frozen=True, eq=False)
class _Task:
    """The kernel call for runs ``[start, stop)`` of a batch: picklable, so that
    chunks can go to process pools and Dask workers.  Inputs stay broadcast
    views until a chunk is cut out of them, so memory follows the chunk."""

    problem: Problem
    shape: tuple
    x0: np.ndarray          # broadcasts to shape + (dim,)
    hp: dict                # per-run hyper-parameters, each broadcasts to shape
    optimizer_params: tuple
    schedule: object
    settings: tuple         # optimizer name, epochs, xtol, ftol, gtol, bound,
                            # batch_size, shuffle, seed, summary
    record: np.ndarray      # sorted flat indices of recorded runs
    resume: dict = None     # the runs' state to continue from (`_resume_state`)
    real: str = "float64"   # the kernel's floating-point type (dtype=)

    def _flat(self, a, start, stop):
        """Runs ``start .. stop`` of a per-run input (broadcast to the batch
        shape) as the kernel's signature wants it: float64, C-contiguous and
        writeable (the kernel only reads it).  A view when ``a`` is one
        already, else a copy of the rows of the batch the range touches (or,
        when a row is long beside the range, of just the range)."""
        a = np.asarray(a)
        if a.shape == self.shape and _kernel_ready(a):
            return a.reshape(-1)[start:stop]
        full = np.broadcast_to(a, self.shape)
        row = math.prod(self.shape[1:])
        if full.ndim == 0 or row > max(stop - start, 4096):
            return np.array(full.flat[start:stop], dtype=np.float64)
        first, last = start // row, -(-stop // row)
        # A copy always: a broadcast view of one element counts as contiguous.
        rows = np.array(full[first:last], dtype=np.float64, order="C").reshape(-1)
        return rows[start - first * row:stop - first * row]

    def __call__(self, start, stop):
        n, dim = stop - start, self.problem.dim
        if self.x0.shape == self.shape + (dim,) and _kernel_ready(self.x0):
            starts = self.x0.reshape(-1, dim)[start:stop]
        else:
            starts = np.empty((n, dim))
            for d in range(dim):
                starts[:, d] = self._flat(self.x0[..., d], start, stop)
        hyper = np.zeros((len(self.optimizer_params), n))
        for p, name in enumerate(self.optimizer_params):
            hyper[p] = self._flat(self.hp[name], start, stop)
        if self.schedule is None:
            sched_kind, sched = _kernels.CONSTANT, np.zeros((0, n))
        else:
            sched_kind, sched = self.schedule._pack(
                lambda name: self._flat(self.hp[name], start, stop), n)
        (optimizer, epochs, xtol, ftol, gtol, bound, batch_size, shuffle, seed,
         summary) = self.settings
        grouped = "lr" not in self.hp
        lo, hi = np.searchsorted(self.record, [start, stop])
        rec_runs = self.record[lo:hi] - start
        n_state, n_lane, n_groups = map(len, _state_names(
            optimizer, self.problem, grouped, self.schedule is not None))
        real = np.dtype(self.real)
        out = {"x": np.empty((n, dim), real), "fun": np.empty(n, real),
               "nit": np.empty(n, np.int64), "status": np.empty(n, np.int8),
               "rec_x": np.full((hi - lo, epochs + 1, dim), np.nan, real),
               "rec_f": np.full((hi - lo, epochs + 1), np.nan, real),
               "state_S": np.empty((n, n_state, dim), real),
               "state_Q": np.empty((n, n_lane), real),
               "state_lr": np.empty((n, n_groups), real)}
        summ = np.full((len(SUMMARIES) if summary else 0, n), np.nan)
        targets = (self._flat(self.hp["target"], start, stop) if "target" in self.hp
                   else np.full(n if summary else 0, np.inf))
        resume = (np.empty(0, np.int64), np.empty((0, 0, 0), real), np.empty((0, 0), real),
                  np.empty((0, 0), real))
        if self.resume is not None:
            part = {name: a[start:stop] for name, a in self.resume.items()
                    if name != "paths"}
            resume = tuple(np.ascontiguousarray(part[name], np.int64 if k == 0 else real)
                           for k, name in enumerate(("start_epoch", "state_S", "state_Q",
                                                     "state_lr")))
            # Runs that had ended are not computed: their outputs are the ones
            # they ended with (and the final-value pass reads a finite point).
            out["x"][:] = starts
            if summary:
                summ[:] = part["summary"].T
            _resumed_paths(self.resume["paths"], self.record[lo:hi], out)
        sigs = ((_config.FUN_SIG, _config.GRAD_SIG) if self.real == "float64" else
                (_config.FUN_SIG_F32, _config.GRAD_SIG_F32))
        kfun, kgrad = (_config.function_pointer(fn, sig) for fn, sig in zip(
            self.problem._kernel_functions(self.real), sigs))
        data = self.problem._data
        if self.real != "float64":
            data = np.ascontiguousarray(data, dtype=real)
        stops_early = xtol + ftol + gtol > 0.0
        resuming = self.resume is not None
        variant = _codegen.Variant(
            optimizer, schedule=sched_kind, scheduled=self.schedule is not None,
            data=self.problem.n_data > 0, refill=stops_early, gtol=gtol > 0.0,
            grouped=grouped, summary=summary, can_fail=self.problem._builtin is None,
            resume=resuming, real=self.real)
        kernel = _codegen.descend_kernel(variant, self.problem._source,
                                         self.problem.groups if grouped else None)
        if grouped:
            # One row of rates per parameter group; coordinate d takes row groups[d].
            names = [f"lr_{name}" for name, _ in self.problem.groups]
            groups = self.problem._group_index()
        else:
            names, groups = ["lr"], np.zeros(dim, np.int64)
        lr = (self._flat(self.hp[names[0]], start, stop)[None] if len(names) == 1 else
              np.stack([self._flat(self.hp[name], start, stop) for name in names]))
        # Lanes that do not run in step take new runs as theirs end (the kernel's REFILL).
        refill = stops_early or resuming
        span = _kernels.task_span(n, refill, _codegen.LANES_OF[self.real])
        if self.real != "float64":
            # A tolerance below float32's smallest number would round to 0, which
            # the kernel reads as off: it stays on as that smallest number, so that
            # a run that stops moving still converges (only a change of exactly that
            # number passes where it would not in float64).
            tiny = np.finfo(real).smallest_subnormal
            xtol, ftol, gtol = (max(_at_most(v, real), tiny) if v > 0.0 else _at_most(v, real)
                                for v in (xtol, ftol, gtol))
            bound = _at_most(bound, real)
        _threads.run_tasks(kernel, (
            kgrad, kfun, starts, lr, groups, hyper,
            sched, epochs, xtol, ftol, gtol, bound, data,
            batch_size, shuffle, np.uint64(seed), start, rec_runs,
            out["rec_x"], out["rec_f"], targets, summ, LOSS_TAIL, LOSS_CAP, resume,
            out["x"], out["fun"], out["nit"], out["status"],
            (out["state_S"], out["state_Q"], out["state_lr"]), span),
            (n + span - 1) // span, pieces_per_thread=8 if refill else 2)
        if summary:
            out["summary"] = np.ascontiguousarray(summ.T)
        # The kernel's status says how a run ended; a run that ran out of epochs
        # at a point where f is not finite is DIVERGED, and a longer budget
        # would have taken it further.
        out["stopped"] = out["status"] != _kernels.MAX_EPOCHS
        out["status"][~np.isfinite(out["fun"]) & (out["status"] != _kernels.FAILED)] = \
            _kernels.DIVERGED
        if self.resume is not None:
            ended = part["start_epoch"] < 0
            for name in ("x", "fun", "nit", "status", "stopped", "state_S", "state_Q",
                         "state_lr") + (("summary",) if summary else ()):
                out[name][ended] = part[name][ended]
        return out

    @property
    def records(self):
        """Does this batch keep trajectories (`fastgd._execute.run_in_pieces`)?"""
        return self.record.size > 0

    @property
    def pace_key(self):
        """What decides a run's cost, for `fastgd._execute.Pacer`."""
        return (self.problem.name, self.problem.dim, self.problem.n_data, self.settings,
                None if self.schedule is None else self.schedule.kind,
                self.resume is not None, self.record.size > 0, self.real)

    def fingerprint(self, chunk_size):
        """What identifies this batch for a resumable ``out=`` directory."""
        schedule = None if self.schedule is None else (
            self.schedule.name, self.schedule.kind, self.schedule.milestones)
        return _identity.fingerprint(
            __version__, *_identity.problem_parts(self.problem), self.shape, self.x0,
            self.hp, self.optimizer_params, schedule, self.settings, self.record,
            chunk_size, self.resume, *(() if self.real == "float64" else (self.real,)))


def _at_most(value, real):
    """The largest number of type ``real`` that is <= ``value`` (a tolerance or
    the bound): a float32 ``v`` passes ``v <= result`` exactly when it passes
    ``v <= value``, and a bound beyond float32's range stays finite (an inf
    would let diverged runs through)."""
    rounded = real.type(min(value, float(np.finfo(real).max)))
    return rounded if float(rounded) <= value else np.nextafter(rounded, real.type(0))


def _real_type(dtype):
    """``dtype=``'s name, "float64" or "float32"."""
    try:
        real = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        real = None
    if real is None or real.name not in _codegen.REALS:
        raise ValueError(f"dtype must be np.float64 or np.float32 (or their names), got "
                         f"{dtype!r}")
    return real.name


def _check_real(problem, real):
    """Problems whose functions run in float32 are those fastgd generates."""
    if real != "float64" and problem._source is None:
        raise ValueError(
            f"dtype={real!r} applies to the problems whose code fastgd generates in "
            f"float32: the built-in ones (fg.problems.quartic, exp_quadratic, saddle, "
            f"rosenbrock and the other 2-D test functions, exp_linear_fit) and formulas "
            f"(Problem.from_expression, LeastSquares.from_expression); {problem.name!r} "
            f"runs functions compiled for float64 (your own @njit functions, "
            f"fg.problems.quadratic, a network): use dtype=np.float64, the default")


def _resumed_paths(paths, rec_ids, out):
    """Trajectories of continued runs: the epochs computed before, where the
    earlier result recorded them (the kernel writes from the epoch it resumes at)."""
    recorded, path_x, path_fun = paths
    if path_x is None or not rec_ids.size or not recorded.size:
        return
    at = np.searchsorted(recorded, rec_ids)
    found = (at < recorded.size) & (recorded[np.minimum(at, recorded.size - 1)] == rec_ids)
    points = min(path_x.shape[1], out["rec_x"].shape[1])
    out["rec_x"][found, :points] = path_x[at[found], :points]
    out["rec_f"][found, :points] = path_fun[at[found], :points]


def _run(problem, x0, *, lr, epochs, optimizer="gd", momentum=None, beta1=None,
         beta2=None, alpha=None, eps=None, weight_decay=None, schedule=None,
         batch_size=None, shuffle=True, seed=0, xtol=None, ftol=None, gtol=None,
         bound=1e100, record=False, summary=False, target=None,
         chunk_size=_execute.CHUNK_SIZE, executor=None, out=None, progress=None,
         errors="warn", init=None, dtype=np.float64, dims=None, coords=None):
    """Validate every argument, broadcast the batch, run the kernel(s), wrap the result."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a fastgd.Problem, got {type(problem).__name__}")
    real = _real_type(dtype)
    _check_real(problem, real)
    named = x0 if isinstance(x0, Starts) else None
    starts, start_shape = as_points(problem, _start_array(problem, x0), "x0")
    x0 = starts.reshape(start_shape + (problem.dim,))
    hp = _hyper_parameters(optimizer, lr, momentum, schedule, problem.groups,
                           beta1=beta1, beta2=beta2,
                           alpha=alpha, eps=eps, weight_decay=weight_decay)
    epochs = check.integer(epochs, "epochs", low=1, high=MAX_EPOCHS)
    check.choice(errors, "errors", ("warn", "raise"))
    if not isinstance(summary, (bool, np.bool_)):
        raise TypeError(f"summary must be a bool, got {type(summary).__name__}")
    if target is not None:
        hp["target"] = check.real_array(target, "target")
        if not np.all(np.isfinite(hp["target"])):
            raise ValueError("target must be finite")
        summary = True
    tols = {name: check.tolerance(v, name)
            for name, v in (("xtol", xtol), ("ftol", ftol), ("gtol", gtol))}
    if isinstance(bound, bool) or not isinstance(bound, (int, float, np.floating)) \
            or not bound > 0:
        raise ValueError(f"bound must be a number > 0, got {bound!r}")
    n_data = problem.n_data
    if batch_size is None:
        batch_size = n_data
    elif n_data == 0:
        raise ValueError(f"batch_size applies only to problems with data; "
                         f"{problem.name!r} has none")
    else:
        batch_size = check.integer(batch_size, "batch_size", low=1, high=n_data)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
    seed = check.integer(seed, "seed", low=0, high=2**64 - 1)

    shapes = {"x0": x0.shape[:-1], **{k: a.shape for k, a in hp.items()}}
    shape = _batch_shape(shapes)
    size = math.prod(shape)
    chunk_size = check.integer(chunk_size, "chunk_size", low=1)
    grouped = "lr" not in hp
    names = _state_names(optimizer, problem, grouped, schedule is not None)
    sizes = tuple(map(len, names))
    if init is not None:
        _check_init(init, problem, shape, x0, optimizer, schedule, epochs, summary,
                    grouped, hp.get("target"), real)
    # Every allocation below (the record indices included) only after this.
    state_bytes = np.dtype(real).itemsize * (sizes[0] * problem.dim + sizes[1] + sizes[2])
    _memory.check(_memory_parts(
        shapes, shape, size, problem.dim, epochs, _record_count(record, shape, size),
        chunk_size, n_inputs=len(hp) + 4,
        per_run_extra=state_bytes * (1 if init is None else 2) + (
            0 if init is None else 8 * (problem.dim + 16))))
    rec_runs = _record_runs(record, shape, size)
    resume, x0_given = None, x0
    if init is not None:
        # The kernel starts continued runs where they stopped; the result
        # records the start points as given.
        resume, x0 = _resume_state(init, problem, shape, x0, names, epochs, summary)

    if executor is not None and not (hasattr(executor, "submit")
                                     or hasattr(executor, "get_executor")):
        raise TypeError("executor must be a concurrent.futures.Executor or a "
                        f"dask.distributed Client, got {type(executor).__name__}")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be None or a bool, got {type(progress).__name__}")

    task = _Task(problem, shape, x0, hp, tuple(SPECS[optimizer].params), schedule,
                 (optimizer, epochs, tols["xtol"], tols["ftol"], tols["gtol"],
                  float(bound), batch_size, bool(shuffle), seed, bool(summary)), rec_runs,
                 resume, real)
    problem._probe(starts)
    problem._kernel_functions(real)  # compile a user's adapters once, here, not per chunk

    # Where each output of a chunk goes: per-run fields by run, trajectories by
    # their place among the recorded runs.  It also says which arrays, shapes
    # and dtypes a chunk read back from out= must have.
    dim, n_rec = problem.dim, rec_runs.size
    spec = {"x": (size, (dim,), real), "fun": (size, (), real),
            "nit": (size, (), np.int64), "status": (size, (), np.int8),
            "rec_x": (n_rec, (epochs + 1, dim), real),
            "rec_f": (n_rec, (epochs + 1,), real),
            "stopped": (size, (), np.bool_),
            "state_S": (size, (sizes[0], dim), real),
            "state_Q": (size, (sizes[1],), real),
            "state_lr": (size, (sizes[2],), real)}
    if summary:
        spec["summary"] = (size, (len(SUMMARIES),), np.float64)
    outputs = {}

    def places(start, stop):
        lo, hi = (int(i) for i in np.searchsorted(rec_runs, [start, stop]))
        return [(name, (lo, hi) if name.startswith("rec_") else (start, stop))
                for name in spec]

    def layout(start, stop):
        return {name: ((b - a,) + spec[name][1], np.dtype(spec[name][2]))
                for name, (a, b) in places(start, stop)}

    def allocate(name):
        total, tail, dtype = spec[name]
        if name.startswith("rec_"):   # unrecorded epochs (a run stopped early) stay NaN
            outputs[name] = np.full((total,) + tail, np.nan, dtype)
        else:   # every run's place is written by the chunk that holds it
            outputs[name] = np.empty((total,) + tail, dtype)

    def collect(start, stop, chunk):
        for name, (a, b) in places(start, stop):
            if name not in outputs:
                if (a, b) == (0, spec[name][0]):
                    # This chunk holds the whole output (a one-chunk batch):
                    # adopt its array rather than copy, so the peak is one
                    # copy of the outputs and trajectories, not two.  Chunks
                    # are fresh arrays, never reused by the task.
                    outputs[name] = chunk[name]
                    continue
                allocate(name)
            outputs[name][a:b] = chunk[name]

    store = None
    if out is not None:
        store = _execute.ChunkStore(out, task.fingerprint(chunk_size), size, chunk_size,
                                    layout)
    _execute.execute(task, size, chunk_size, collect, executor=executor, store=store,
                     progress=progress)
    for name in spec.keys() - outputs.keys():
        allocate(name)
    x_out, f_out, nit, status = (outputs[k] for k in ("x", "fun", "nit", "status"))
    _report_failures(problem, status, x_out, errors == "raise")
    rec_x, rec_f = outputs["rec_x"], outputs["rec_f"]

    success = _success(status, any(v > 0 for v in tols.values()))
    summaries = {}
    if summary:
        summaries = _summaries(outputs["summary"], nit, status, epochs, shape,
                               "target" in hp)
    # Every argument is recorded; a setting that is off (a tolerance of 0, the
    # batch size of a problem without data, no schedule) is None, not a number.
    params = {"x0": np.broadcast_to(x0_given, shape + (problem.dim,))}
    params.update((name, np.broadcast_to(a, shape)) for name, a in hp.items())
    params.update(optimizer=optimizer, epochs=epochs,
                  batch_size=batch_size if n_data else None, shuffle=bool(shuffle),
                  seed=seed, bound=float(bound), dtype=real,
                  **{name: (v if v > 0 else None) for name, v in tols.items()},
                  schedule=None if schedule is None else schedule.name)
    state = _named_state(outputs, names, problem.dim, shape, summary)
    if dims is None:
        dims, coords = _name_axes(shape, x0_given, hp, named)
    return Result(
        x=x_out.reshape(shape + (problem.dim,)), fun=f_out.reshape(shape),
        nit=nit.reshape(shape), status=status.reshape(shape),
        success=success.reshape(shape), dims=tuple(dims), coords=dict(coords or {}),
        params=params, problem=problem.name,
        recorded=rec_runs, path_x=rec_x, path_fun=rec_f, summary=summaries, state=state)


def _named_state(outputs, names, dim, shape, summary):
    """`Result.state`: the kernel's saved state by name, shaped like the batch."""
    coords, lane, rates = names
    state = {"stopped": outputs["stopped"].reshape(shape)}
    state.update((name, outputs["state_S"][:, k].reshape(shape + (dim,)))
                 for k, name in enumerate(coords))
    state.update((name, outputs["state_Q"][:, k].reshape(shape))
                 for k, name in enumerate(lane))
    state.update((name, outputs["state_lr"][:, g].reshape(shape))
                 for g, name in enumerate(rates))
    if summary:
        state["summary_rows"] = outputs["summary"].reshape(shape + (len(SUMMARIES),))
    return state


def _check_init(init, problem, shape, x0, optimizer, schedule, epochs, summary, grouped,
                target, real):
    """``init=``: a result of the same runs that can be continued by this call."""
    if not isinstance(init, Result):
        raise TypeError(f"init must be a fastgd.Result, got {type(init).__name__}")
    if init.x.dtype != np.dtype(real):
        raise ValueError(f"init holds {init.x.dtype} results and this call's dtype is "
                         f"{real!r}: runs continue in the type they ran in (pass "
                         f"dtype=np.{init.x.dtype.name})")
    if init.problem != problem.name or init.x.shape[-1] != problem.dim:
        raise ValueError(f"init is a result of problem {init.problem!r} in "
                         f"{init.x.shape[-1]} dimensions, not of {problem.name!r} in "
                         f"{problem.dim}")
    if init.shape != shape:
        raise ValueError(f"init has batch shape {init.shape}; this call's arguments "
                         f"broadcast to {shape}: continue with the same arguments")
    given = np.broadcast_to(x0, shape + (problem.dim,))
    if not np.array_equal(init.params.get("x0"), given):
        raise ValueError("x0 must be the x0 that init's runs started from (they continue "
                         "from init.x)")
    was = init.params.get("optimizer")
    if was != optimizer:
        raise ValueError(f"init's runs used optimizer={was!r}; its state cannot "
                         f"continue with optimizer={optimizer!r}")
    name = None if schedule is None else schedule.name
    scheduled = schedule is not None
    if init.params.get("schedule") != name:
        raise ValueError(f"init's runs used schedule {init.params.get('schedule')!r}, "
                         f"this call {name!r}: a schedule's position continues only "
                         "with the same schedule")
    done = init.params.get("epochs")
    if not isinstance(done, (int, np.integer)) or epochs < done:
        raise ValueError(f"epochs={epochs} is the whole budget of the continued runs: it "
                         f"must be at least init's epochs={done}")
    needed = sum(_state_names(optimizer, problem, grouped, scheduled), ["stopped"])
    if summary:
        needed.append("summary_rows")
    missing = [n for n in needed if n not in init.state]
    if missing:
        what = ("init was computed without summary=True: its summaries cannot continue"
                if missing == ["summary_rows"] else
                f"init holds no saved state {missing} (a result saved by an earlier "
                "fastgd, or not made by minimize or sweep)")
        raise ValueError(what)
    if summary:
        # A hitting time continues only towards the same target.
        was = init.params.get("target")
        if (was is None) != (target is None) or (
                target is not None and not np.array_equal(np.broadcast_to(target, shape),
                                                          np.broadcast_to(was, shape))):
            raise ValueError("target must be init's target (or both None): the epochs "
                             "init ran were compared with it")
    if summary and epochs - LOSS_TAIL < done and epochs > done:
        raise ValueError(f"with summary=True, continue by at least {LOSS_TAIL} epochs "
                         f"(epochs >= {done + LOSS_TAIL}): the last-{LOSS_TAIL} loss sum "
                         "of the longer budget would include epochs init ran")


def _state_names(optimizer, problem, grouped, scheduled):
    """Names of `Result.state`'s arrays: the optimiser's state per coordinate,
    its state per run, and with a schedule the current rate (per group)."""
    spec = SPECS[optimizer]
    rates = [f"lr_now_{g}" for g, _ in problem.groups] if grouped else ["lr_now"]
    return list(spec.state), list(spec.lane_state), rates if scheduled else []


def _longer_sums(rows, stopped, status, nit, fun, done, epochs):
    """Summary rows of init's runs as the longer budget ``epochs`` counts them.

    The loss-ratio sums take the losses before each update, epochs 0 to
    ``epochs - 1``; init's stopped at ``done - 1``.  Its last-epochs window
    moves past every run's epochs so far (the caller makes sure); a run that
    stopped (converged or diverged) at epoch ``done`` itself has that loss
    counted by the longer budget, as the kernel would, last.
    """
    rows = rows.copy()
    sum_, tail, inv, start = (SUMMARIES.index(n) for n in (
        "loss_ratio_sum", "loss_ratio_tail", "loss_ratio_inv_sum", "fun_start"))
    if epochs == done:
        return rows
    rows[:, tail] = 0.0
    last = stopped & (nit == done) & (status != Status.FAILED)
    with np.errstate(all="ignore"):
        ratio = fun[last] / rows[last, start]
    ratio = np.where(ratio <= LOSS_CAP, ratio, LOSS_CAP)   # NaN and inf count the cap
    rows[last, sum_] += ratio
    rows[last, inv] += 1.0 / ratio
    if epochs - LOSS_TAIL <= done:
        rows[last, tail] += ratio
    return rows


def _resume_state(init, problem, shape, x0, names, epochs, summary):
    """The flat per-run arrays the kernel continues from, and its start points:
    where a run goes on, the point it reached; where it had ended, its start."""
    size, dim = math.prod(shape), problem.dim
    flat = lambda a, *tail: np.asarray(a).reshape((size,) + tail)  # noqa: E731
    status, nit = flat(init.status), flat(init.nit).astype(np.int64)
    stopped = flat(init.state["stopped"]).astype(bool)
    live = ~stopped & (nit < epochs)
    coords, lane, rates = names
    resume = {
        "start_epoch": np.where(live, nit, -1),
        "state_S": np.stack([flat(init.state[n], dim) for n in coords], axis=1)
        if coords else np.empty((size, 0, dim)),
        "state_Q": np.stack([flat(init.state[n]) for n in lane], axis=1)
        if lane else np.empty((size, 0)),
        "state_lr": np.stack([flat(init.state[n]) for n in rates], axis=1)
        if rates else np.empty((size, 0)),
        "x": flat(init.x, dim), "fun": flat(init.fun), "nit": nit,
        "status": status.astype(np.int8), "stopped": stopped,
        "paths": (init.recorded, init.path_x, init.path_fun),
    }
    if summary:
        resume["summary"] = _longer_sums(
            flat(init.state["summary_rows"], len(SUMMARIES)), stopped, status, nit,
            flat(init.fun), init.params["epochs"], epochs)
    starts = np.where(live[:, None], resume["x"],
                      np.broadcast_to(x0, shape + (dim,)).reshape(size, dim))
    return resume, starts.reshape(shape + (dim,))


#: The per-run summaries of `minimize`'s ``summary=True``, in the kernel's row order.
SUMMARIES = ("fun_best", "epoch_best", "fun_last_finite", "epoch_last_finite", "hit_epoch",
             "loss_ratio_sum", "loss_ratio_tail", "loss_ratio_inv_sum", "fun_start")
#: Epochs at the end of the budget summed in ``loss_ratio_tail``, and the clip of
#: ``f / f0``: the trainability measure of Sohl-Dickstein (2024).
LOSS_TAIL = 20
LOSS_CAP = 1e6


def _report_failures(problem, status, x_out, raise_error=False):
    """Warn, with the exception's text, when runs ended FAILED: the kernels
    record only that a run's function raised, so one failed run's final point
    (where it raised) is evaluated again from Python to say what was raised."""
    failed = np.flatnonzero(status == Status.FAILED)
    if not failed.size:
        return
    first = int(failed[0])
    reason = None
    if problem._builtin is None:   # a user's functions: ask them again
        reason = _probe.explain(problem, x_out[first])
    reason = reason or "its function raised an exception at the run's final point"
    message = (f"{failed.size:,} of {status.size:,} runs ended with status FAILED; the "
               f"first, run {first}: {reason}.")
    if raise_error:
        raise RuntimeError(message + " (errors='raise'; with out=, finished chunks are kept)")
    warnings.warn(message + " The other runs are unaffected.", RuntimeWarning, stacklevel=4)


def _summaries(rows, nit, status, epochs, shape, with_target):
    """The kernel's summary rows as named arrays of the batch's shape.

    The loss-ratio sums run over the losses before each update (epochs 0 to
    E - 1, the notebook's curve); a run that stopped early by diverging or
    failing counts ``LOSS_CAP`` for each of those epochs it did not reach, as a
    non-finite loss would.
    """
    out = {name: rows[:, k].reshape(shape) for k, name in enumerate(SUMMARIES)}
    unstarted = np.isnan(out["epoch_best"])
    # A run whose first value failed has no summaries: NaN values, epochs -1,
    # and its loss ratios all counted as missing.
    for name in ("epoch_best", "epoch_last_finite", "hit_epoch"):
        out[name] = np.where(np.isnan(out[name]), -1, out[name]).astype(np.int64)
    for name in ("loss_ratio_sum", "loss_ratio_tail", "loss_ratio_inv_sum"):
        out[name] = np.nan_to_num(out[name], nan=0.0, posinf=np.inf)
    stopped = (status == Status.DIVERGED) | (status == Status.FAILED)
    missing = np.where(stopped, np.maximum(epochs - 1 - nit, 0), 0).reshape(shape) + unstarted
    out["loss_ratio_sum"] = out["loss_ratio_sum"] + LOSS_CAP * missing
    out["loss_ratio_inv_sum"] = out["loss_ratio_inv_sum"] + missing / LOSS_CAP
    out["loss_ratio_tail"] = out["loss_ratio_tail"] + LOSS_CAP * np.minimum(
        missing, min(LOSS_TAIL, epochs))
    if not with_target:
        del out["hit_epoch"]
    del out["fun_start"]
    return out


def _success(status, any_tol):
    """Converged, or ran the whole budget when no tolerance was asked for."""
    return (status == Status.CONVERGED) | ((status == Status.MAX_EPOCHS) & (not any_tol))


def _start_array(problem, x0):
    """``x0`` as an array for `as_points`: a `Starts` gives its points."""
    if not isinstance(x0, Starts):
        return x0
    if x0.dim != problem.dim:
        raise ValueError(f"x0 holds points of dim {x0.dim} (dims {x0.dims}), but "
                         f"{problem.name!r} is {problem.dim}-D")
    return x0.points[..., 0] if problem.dim == 1 else x0.points


def _point_axes(points):
    """(name, coordinate) of each batch axis of ``points`` (shape batch + (dim,)),
    or None where the points do not tell.

    An axis along which the points vary while every other axis has length 1 is
    ``x0`` (its coordinate the points); an axis of a product grid (one
    coordinate ``c`` varies along it and along no other axis, as
    ``np.meshgrid`` makes) is ``x0_c`` (``x0`` for a 1-D problem), its
    coordinate the values of ``c``.
    """
    batch, dim = points.shape[:-1], points.shape[-1]
    out = []
    for a, n in enumerate(batch):
        if n == 1:
            out.append(None)
            continue
        if all(m == 1 for b, m in enumerate(batch) if b != a):
            along = points.reshape(n, dim)
            out.append(("x0", along[:, 0] if dim == 1 else along))
            continue
        first = np.take(points, [0], axis=a)
        varying = [c for c in range(dim) if np.any(points[..., c] != first[..., c])]
        found = None
        if len(varying) == 1:
            comp = points[..., varying[0]]
            if all(np.all(comp == np.take(comp, [0], axis=b))
                   for b, m in enumerate(batch) if b != a and m > 1):
                line = comp[tuple(slice(None) if b == a else 0 for b in range(len(batch)))]
                found = ("x0" if dim == 1 else f"x0_{varying[0]}", line.copy())
        out.append(found)
    return out


def _name_axes(shape, x0, hp, named):
    """Dims and coordinates of a `minimize` batch, where its arguments tell them.

    A `Starts` names its own axes.  Otherwise an axis along which exactly one
    argument varies, and that argument varies along no other axis, takes the
    argument's name and values (``x0`` by `_point_axes`); any other axis is
    ``dim_<i>``.
    """
    nd = len(shape)
    x0_batch = x0.shape[:-1]
    off = nd - len(x0_batch)
    if named is not None:
        x0_axes = list(zip(named.dims, (named.coords.get(d) for d in named.dims)))
    else:
        x0_axes = _point_axes(x0)
    dims, coords = [], {}
    for a, n in enumerate(shape):
        found = None
        if named is not None and a >= off:
            found = x0_axes[a - off]
        elif n > 1:
            candidates = []
            if a >= off and x0_batch[a - off] == n:
                candidates.append(x0_axes[a - off])
            for name, arr in hp.items():
                k = a - (nd - arr.ndim)
                if k >= 0 and arr.shape[k] == n:
                    alone = all(m == 1 for i, m in enumerate(arr.shape) if i != k)
                    candidates.append((name, arr.reshape(n)) if alone else None)
            if len(candidates) == 1:
                found = candidates[0]
        if found is None or found[0] in dims:
            dims.append(f"dim_{a}")
            continue
        dims.append(found[0])
        if found[1] is not None:
            coords[found[0]] = found[1]
    return dims, coords


#: Names other libraries use (SciPy, PyTorch, optax, Keras, scikit-learn) for
#: arguments of `minimize` and `sweep`, and what fastgd calls them.
FAMILIAR_NAMES = {
    "learning_rate": "lr", "step_size": "lr", "stepsize": "lr", "alpha_lr": "lr",
    "maxiter": "epochs", "max_iter": "epochs", "n_iter": "epochs", "niter": "epochs",
    "steps": "epochs", "num_steps": "epochs", "n_steps": "epochs", "iterations": "epochs",
    "max_epochs": "epochs", "num_epochs": "epochs", "n_epochs": "epochs",
    "betas": "beta1 and beta2 (two arguments)", "b1": "beta1", "b2": "beta2",
    "beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps", "rho": "alpha (RMSprop's decay)",
    "decay": "weight_decay (adamw), or a schedule", "mu": "momentum", "beta": "momentum",
    "nesterov": "optimizer='nesterov'", "method": "optimizer", "optimiser": "optimizer",
    "tol": "xtol, ftol or gtol", "atol": "xtol, ftol or gtol", "rtol": "xtol, ftol or gtol",
    "gtol_abs": "gtol", "x_init": "x0", "x_start": "x0", "init": "x0", "start": "x0",
    "initial": "x0", "params": "x0", "lr_schedule": "schedule", "scheduler": "schedule",
    "batchsize": "batch_size", "random_state": "seed", "rng": "seed",
    "verbose": "progress", "n_jobs": "executor", "workers": "executor",
}


def _suggests_names(func):
    """Refuse unknown keyword arguments of ``func`` with the fastgd name to use.

    ``sweep`` passes its ``**options`` on to `minimize`, so for it the names of
    both count.  The wrapped function keeps its signature for help().
    """
    def names(f):
        return {n for n, p in inspect.signature(f).parameters.items()
                if p.kind is not p.VAR_KEYWORD}

    known = set()   # filled on the first call: `minimize` is not defined yet here

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not known:
            known.update(names(func) | (names(minimize) if func.__name__ == "sweep"
                                        else set()))
        for name in kwargs:
            if name not in known:
                raise TypeError(_unknown_argument(func.__name__, name, known))
        return func(*args, **kwargs)
    return wrapper


def _unknown_argument(fname, name, known):
    head = f"{fname}() got an unexpected keyword argument {name!r}"
    if name in FAMILIAR_NAMES:
        return f"{head}; fastgd calls it {FAMILIAR_NAMES[name]}"
    near = difflib.get_close_matches(name, sorted(known), n=1)
    if near:
        return f"{head}; did you mean {near[0]}?"
    return f"{head}; {fname} takes {', '.join(sorted(known))}"


@_suggests_names
def minimize(problem: Problem, x0: ArrayLike | Starts, *, lr: ArrayLike, epochs: int,
             optimizer: str = "gd", momentum: ArrayLike | None = None,
             beta1: ArrayLike | None = None, beta2: ArrayLike | None = None,
             alpha: ArrayLike | None = None, eps: ArrayLike | None = None,
             weight_decay: ArrayLike | None = None, schedule: Schedule | None = None,
             batch_size: int | None = None, shuffle: bool = True, seed: int = 0,
             xtol: float | None = None, ftol: float | None = None,
             gtol: float | None = None, bound: float = 1e100,
             record: bool | ArrayLike = False, summary: bool = False,
             target: ArrayLike | None = None, chunk_size: int = _execute.CHUNK_SIZE,
             executor: Any = None, out: str | os.PathLike | None = None,
             progress: bool | None = None, errors: str = "warn",
             init: Result | None = None, dtype: Any = np.float64) -> Result:
    r"""Run gradient descent from every start point with every hyper-parameter, at once.

    ``x0`` and the per-run hyper-parameters (``lr``, the optimiser's
    hyper-parameters and the schedule's parameters) broadcast together
    NumPy-style; each element of the broadcast batch is one independent run.

    Parameters
    ----------
    problem : Problem
        What to minimise: a built-in from `fastgd.problems`, a `Problem` or a
        `LeastSquares`.
    x0 : array_like, shape batch + (dim,), or Starts
        Start points.  For a 1-D problem every element is a start point and
        the trailing ``dim`` axis is left out.  A `fastgd.grid` or
        `fastgd.sample` names its axes in the result.
    lr : float or array_like
        Learning rate(s), > 0.
    epochs : int
        Budget of epochs per run, 1 <= epochs <= 2**62.  An epoch is one update, or for a
        problem with data and a ``batch_size``, one pass over the data.
    optimizer : str, default 'gd'
        One of `fastgd.OPTIMIZERS`: ``'gd'``, ``'momentum'`` (the tutorial's
        form, the rate inside the velocity), ``'momentum_torch'``,
        ``'nesterov'``, ``'adagrad'``, ``'rmsprop'``, ``'adam'``, ``'adamw'``.
        `fastgd.optimizers` gives each update exactly as the kernel computes
        it (a table made from the optimisers' specs) and how the defaults
        compare with PyTorch's and optax's.
    momentum : float or array_like, optional
        :math:`\beta` or :math:`\mu` in [0, 1) for ``'momentum'``,
        ``'momentum_torch'`` and ``'nesterov'`` (default 0.9).
    beta1, beta2 : float or array_like, optional
        Adam's moment decays in [0, 1) (defaults 0.9 and 0.999).
    alpha : float or array_like, optional
        RMSprop's decay of the squared gradients, in [0, 1) (default 0.99).
    eps : float or array_like, optional
        > 0, added to the root in the denominators of ``'adagrad'`` (default
        1e-10), ``'rmsprop'``, ``'adam'`` and ``'adamw'`` (default 1e-8).
    weight_decay : float or array_like, optional
        :math:`\lambda \ge 0` for ``'adamw'`` (default 0.01).
        Passing a hyper-parameter the chosen optimiser does not use is an error.
    schedule : Schedule, optional
        Learning-rate schedule, e.g. ``fg.step_decay(every=10, factor=0.5)``,
        ``fg.warmup(fg.cosine_decay(decay_epochs=100), 5)``; see
        `fastgd.schedules`.
    batch_size : int, optional
        Mini-batch size for problems with data, 1 <= batch_size <= n_data.
        Each epoch passes over the data in batches of this size (the last may
        be smaller), one update per batch with the batch-mean gradient.
        Default: the full data, one update per epoch.
    shuffle : bool, default True
        Mini-batches only: reshuffle the data order every epoch, per run, from
        ``seed`` (a pure function of seed, run index and epoch, so results do
        not depend on threads).  False keeps the data's order, as the tutorial does.
    seed : int, default 0
        Seed of the shuffles.
    xtol, ftol, gtol : float, optional
        Per-run early exit (off by default): converged when the step of an
        epoch has Euclidean norm <= xtol, when f changed by <= ftol (absolute)
        over the epoch, or when the gradient norm at the epoch's start point is
        <= gtol (that run then stops without the epoch's update).
    bound : float, default 1e100
        A run whose point has a coordinate with absolute value above ``bound``,
        or whose point or objective is not finite, stops as diverged.
    record : bool, int, array_like of int or bool mask, optional
        Keep the trajectories of these runs: True for all, flat indices into
        the batch (C order), or a boolean mask of the batch shape.  Memory is
        ``len(record) * (epochs + 1) * (dim + 1)`` doubles (a batch of several
        chunks holds one chunk's share twice while it is copied in).
    summary : bool, default False
        Compute per-run summaries in the kernel, every epoch, at no memory cost
        per epoch (`Result.summary`): the best value seen and its epoch, the
        last finite value, and the normalised-loss sums of the trainability
        measure.  The objective is then evaluated every epoch (as for
        ``ftol``): about the cost of a second gradient evaluation per update.
    target : float or array_like, optional
        Also record, per run, the first epoch whose value is ``<= target``
        (``Result.summary["hit_epoch"]``, -1 if never): a hitting-time map.
        Broadcasts with the other per-run arguments; implies ``summary``.
    errors : {'warn', 'raise'}, default 'warn'
        What to do when some runs end with status FAILED (their function
        raised): warn with the first one's exception and return every result,
        or raise `RuntimeError` instead of returning.
    init : Result, optional
        Continue the runs of an earlier result of the same call (same
        problem, ``x0``, batch shape, optimiser and schedule; ``epochs`` is the
        whole budget, at least init's): each run that ran out of epochs goes on
        from its point, with its optimiser state (``Result.state``), its
        schedule's position and current rate, its summaries and its shuffles'
        epoch count; runs that converged, diverged or failed keep their
        outcome.  With every argument as before, the result is bit for bit
        that of one call with the larger ``epochs``.  Changed hyper-parameters
        (a new ``lr``, tolerances) make it a warm start instead: they apply
        from the continued epochs on (a schedule's rate continues from where it
        was).  With ``summary=True``, ``epochs`` must exceed init's by at least
        20 (the loss sum over the last 20 epochs).  A result continues in
        its own ``dtype``.
    dtype : np.float64 or np.float32, default np.float64
        The floating-point type of the runs: their points, optimiser state,
        data and arithmetic, and of ``x``, ``fun``, the trajectories and
        ``Result.state``.  float32 runs about twice as many runs per SIMD
        instruction (see the README for the speed and accuracy measured); the
        start points, rates and hyper-parameters are rounded to float32 as the
        runs load them, a schedule's rate is computed in float64 and rounded,
        and tolerances and ``bound`` are compared exactly as given.  Only
        problems whose code fastgd generates (the built-in problems and
        formulas) run in float32; other problems refuse it with ValueError.
    chunk_size : int, default 2**20
        Runs per kernel call.  A larger batch is cut into chunks of
        consecutive runs, run one after another (or on ``executor``) and
        assembled; the inputs of only one chunk are materialised at a time.
        Results do not depend on it, bit for bit.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Run the chunks there (a process pool, ``client.get_executor()``, or
        the client itself).  Each worker process compiles, or loads from
        Numba's cache, once.  A Dask cluster with no worker for a minute
        (before or during the sweep), an executor shut down or a cluster
        closed mid-sweep, or a worker process that died, is a RuntimeError
        saying which; chunks that finished are kept in ``out=``.
    out : str or path, optional
        A directory where each finished chunk is written as it completes.  Called
        again with the same arguments, the run resumes: chunks already there are
        loaded, not recomputed.  The sweep's identity covers the problem (the
        code of its functions and the values they use, its data and
        parameters), every argument and fastgd's version; a directory holding
        another sweep's chunks, or chunks without their manifest, is refused
        with ValueError.  Each chunk carries that identity, its index and a
        checksum: a chunk that fails a check is named in a warning and
        computed again.
    progress : bool, optional
        A progress line on stderr (runs done, rate, time left) for work longer
        than a second; in Jupyter, tqdm's bar if tqdm is installed.  It moves
        about every half second whatever ``chunk_size`` is (a chunk is computed
        in pieces sized from the measured speed, which is also how soon Ctrl-C
        stops the call); with an ``executor``, once per finished chunk.
        Default: when stderr is a terminal, or inside Jupyter.

    Returns
    -------
    Result
        ``x``, ``fun``, ``nit``, ``status``, ``success`` shaped like the batch,
        every argument used (`Result.params`), and the recorded trajectories
        (`Result.path`).  Its dims are named where the arguments tell: by a
        `fastgd.grid` or `fastgd.sample`; an axis along which only one
        argument varies (and it along no other axis) takes that argument's
        name and values (``x0``, or ``x0_<c>`` for an axis of a product grid of
        points); any other axis is ``dim_<i>``.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, before any kernel runs.
    MemoryError
        Before anything is allocated, when the outputs, ``record`` and a
        chunk's buffers need more memory than is available (also a
        ValueError; the message lists the bytes needed by what).  The
        environment variable ``FASTGD_MEMORY_LIMIT`` (bytes, or ``"8G"``)
        replaces the available memory in this check.

    Examples
    --------
    The tutorial's first example, and the learning-rate question for three rates:

    >>> import numpy as np, fastgd as fg
    >>> res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0, lr=0.1, epochs=100)
    >>> round(float(res.x[0]), 6), round(float(res.fun), 6)
    (-0.351734, 0.827184)
    >>> res = fg.minimize(fg.problems.exp_quadratic, x0=-3.0,
    ...                   lr=[1e-4, 0.1, 0.8], epochs=100)
    >>> [fg.Status(s).name for s in res.status]
    ['MAX_EPOCHS', 'MAX_EPOCHS', 'DIVERGED']
    >>> res.dims, res.coords["lr"]
    (('lr',), array([1.e-04, 1.e-01, 8.e-01]))

    A hundred more epochs, from where the runs stopped, with Adam's state:

    >>> first = fg.minimize(fg.problems.quartic, x0=[-2.0, 2.0], lr=0.01, epochs=100,
    ...                     optimizer="adam")
    >>> more = fg.minimize(fg.problems.quartic, x0=[-2.0, 2.0], lr=0.01, epochs=200,
    ...                    optimizer="adam", init=first)
    >>> once = fg.minimize(fg.problems.quartic, x0=[-2.0, 2.0], lr=0.01, epochs=200,
    ...                    optimizer="adam")
    >>> bool(np.array_equal(more.x, once.x)), more.nit.tolist()
    (True, [200, 200])
    """
    return _run(problem, x0, lr=lr, epochs=epochs, optimizer=optimizer,
                momentum=momentum, beta1=beta1, beta2=beta2, alpha=alpha, eps=eps,
                weight_decay=weight_decay, schedule=schedule, batch_size=batch_size,
                shuffle=shuffle, seed=seed, xtol=xtol, ftol=ftol, gtol=gtol,
                bound=bound, record=record, summary=summary, target=target,
                chunk_size=chunk_size, executor=executor, out=out, progress=progress,
                errors=errors, init=init, dtype=dtype)


def _sweep_axis(value, name, point_dim):
    """(values, swept?) for one argument of `sweep`: 1-D lists sweep, scalars stay."""
    arr = check.real_array(value, name)
    if arr.ndim == point_dim:
        return arr, False
    if arr.ndim == point_dim + 1:
        if arr.shape[0] == 0:
            raise ValueError(f"{name} must not be empty")
        return arr, True
    want = "a scalar or a 1-D list of values" if point_dim == 0 else \
        "a point of shape (dim,) or an array of points of shape (n, dim)"
    raise ValueError(f"sweep takes for {name} {want}, got shape {arr.shape}")


def _sweep_starts(problem, x0):
    """(array, dims, coords) of `sweep`'s ``x0``: a `Starts`, a point, a list of
    points (one dim ``x0``) or an array of points with several batch axes (a grid:
    one dim per axis, named by `_point_axes` where it can, else ``x0_axis<i>``)."""
    if isinstance(x0, Starts):
        return _start_array(problem, x0), list(x0.dims), dict(x0.coords)
    point_dim = 0 if problem.dim == 1 else 1
    arr = check.real_array(x0, "x0")
    if arr.ndim <= point_dim + 1:
        arr, swept = _sweep_axis(arr, "x0", point_dim)
        return arr, ["x0"] if swept else [], {"x0": arr} if swept else {}
    if 0 in arr.shape:
        raise ValueError(f"x0 must not be empty, got shape {arr.shape}")
    points, _ = as_points(problem, arr, "x0")
    axes = _point_axes(points.reshape(arr.shape[:arr.ndim - point_dim] + (problem.dim,)))
    dims, coords = [], {}
    for a, found in enumerate(axes):
        if found is None or found[0] in dims:
            dims.append(f"x0_axis{a}")
        else:
            dims.append(found[0])
            coords[found[0]] = found[1]
    return arr, dims, coords


@_suggests_names
def sweep(problem: Problem, *, x0: ArrayLike | Starts, lr: ArrayLike, epochs: int,
          momentum: ArrayLike | None = None, schedule: Schedule | None = None,
          **options: Any) -> Result:
    """Run the full outer product of value lists, with named dims in the result.

    Every argument among ``x0``, ``lr``, the optimiser's hyper-parameters
    (``momentum``, ``beta1``, ``beta2``, ``alpha``, ``eps``, ``weight_decay``)
    and the schedule's per-run parameters that is given as a list of values
    (for ``x0`` of a multi-dimensional problem, an array of points of shape
    ``(n, dim)``) becomes one axis of the batch, in that order; scalars stay
    fixed.  ``x0`` may span several axes: a `fastgd.grid` or `fastgd.sample`
    gives its own named dims, and a plain array of points with several batch
    axes (``np.stack(np.meshgrid(gx, gy), -1)``) gives one dim per axis, named
    ``x0_<c>`` with the values of coordinate ``c`` when the array is a product
    grid, else ``x0_axis<i>``.

    Parameters
    ----------
    problem : Problem
    x0 : scalar, point, array of points, or Starts
        A start point (fixed), a list of them (dim ``x0``), an array of points
        with several batch axes (a grid), or `fastgd.grid` / `fastgd.sample`.
    lr, momentum : scalar or 1-D array_like
    epochs : int
    schedule : Schedule, optional
        Its parameters sweep too when given as lists (`multi_step`'s
        milestones are shared and never sweep).
    **options
        Any other argument of `minimize` (``optimizer``, ``beta1``, ``xtol``,
        ``record``, ...); the optimiser's hyper-parameters sweep like ``lr``.

    Returns
    -------
    Result
        With ``dims`` naming the swept arguments and ``coords`` their values.

    Examples
    --------
    >>> import numpy as np, fastgd as fg
    >>> res = fg.sweep(fg.problems.exp_quadratic, x0=np.linspace(-4, 4, 200),
    ...                lr=np.logspace(-4, 0, 300), epochs=100)
    >>> res.dims, res.fun.shape
    (('x0', 'lr'), (200, 300))

    A named grid of 2-D start points, crossed with two rates:

    >>> g = fg.grid(x=np.linspace(-3, 3, 31), y=np.linspace(-3, 3, 21))
    >>> res = fg.sweep(fg.problems.saddle, x0=g, lr=[1e-3, 1e-2], epochs=50)
    >>> res.dims, res.shape, res.coords["y"][:2]
    (('x', 'y', 'lr'), (31, 21, 2), array([-3. , -2.7]))
    """
    plan = _sweep_plan(problem, x0, lr, momentum, schedule, options)
    return _run(problem, plan.x0, lr=plan.lr, epochs=epochs, schedule=plan.schedule,
                dims=plan.dims, coords=plan.coords, **plan.hyper, **plan.options)


@dataclasses.dataclass(frozen=True, eq=False)
class _Plan:
    """`sweep`'s arguments laid out on the batch's axes, as `_run` takes them.

    ``x0`` has one axis per dim (length 1 where it does not sweep) and then
    the point's axis (none for a 1-D problem); ``lr``, ``hyper`` (None: not
    given) and the schedule's parameters are NumPy-broadcastable to ``shape``.
    """

    x0: np.ndarray
    lr: np.ndarray
    hyper: dict
    schedule: object
    dims: list
    coords: dict
    options: dict

    def per_run(self):
        """The swept-able arguments other than x0, by name."""
        if isinstance(self.lr, dict):   # rates per parameter group
            out = {f"lr_{name}": v for name, v in self.lr.items()}
        else:
            out = {"lr": self.lr}
        out.update((k, v) for k, v in self.hyper.items() if v is not None)
        if self.schedule is not None:
            out.update(self.schedule.params)
        return out

    @property
    def shape(self):
        return np.broadcast_shapes(self.x0.shape[:len(self.dims)],
                                   *(np.shape(v) for v in self.per_run().values()))

    def _x0(self, problem):
        return self.x0 if problem.dim > 1 else self.x0[..., None]

    def run_subset(self, problem, epochs, flat):
        """The runs at flat indices ``flat`` of the batch, from their own arguments:
        each is bit for bit the run of the whole sweep (no shuffled mini-batches)."""
        shape = self.shape

        def pick(a):
            a = np.asarray(a)
            return a if a.ndim == 0 else np.broadcast_to(a, shape).reshape(-1)[flat]

        x0 = self._x0(problem)
        x0 = np.broadcast_to(x0, shape + x0.shape[-1:]).reshape(-1, x0.shape[-1])[flat]
        x0 = x0 if problem.dim > 1 else x0[:, 0]
        schedule = self.schedule
        if schedule is not None:
            schedule = dataclasses.replace(
                schedule, params={k: pick(v) for k, v in schedule.params.items()})
        hyper = {k: None if v is None else pick(v) for k, v in self.hyper.items()}
        lr = ({k: pick(v) for k, v in self.lr.items()} if isinstance(self.lr, dict)
              else pick(self.lr))
        return _run(problem, x0, lr=lr, epochs=epochs, schedule=schedule,
                    dims=("run",), coords={}, **hyper, **self.options)

    def result(self, problem, like, x, fun, nit, status):
        """A Result of the whole batch from flat outputs; ``like`` (a Result of some
        of its runs) gives the settings."""
        shape = self.shape
        per_run = self.per_run()
        params = {}
        for name, value in like.params.items():
            if name == "x0":
                x0 = self._x0(problem)
                value = np.broadcast_to(x0, shape + x0.shape[-1:])
            elif name in per_run:
                value = np.broadcast_to(per_run[name], shape)
            elif isinstance(value, np.ndarray):  # a default, the same for every run
                value = np.broadcast_to(value.reshape(-1)[0], shape)
            params[name] = value
        any_tol = any(like.params.get(t) for t in ("xtol", "ftol", "gtol"))
        return Result(x=x.reshape(shape + (problem.dim,)), fun=fun.reshape(shape),
                      nit=nit.reshape(shape), status=status.reshape(shape),
                      success=_success(status, any_tol).reshape(shape),
                      dims=tuple(self.dims), coords=dict(self.coords), params=params,
                      problem=problem.name)


def _sweep_plan(problem, x0, lr, momentum, schedule, options):
    """Validate `sweep`'s value lists and lay each on its own axis."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a fastgd.Problem, got {type(problem).__name__}")
    x0, x0_dims, coords = _sweep_starts(problem, x0)
    if isinstance(lr, dict):   # rates per parameter group: one axis lr_<group> each
        args = {f"lr_{name}": _sweep_axis(value, f"lr_{name}", 0)
                for name, value in lr.items()}
    else:
        args = {"lr": _sweep_axis(lr, "lr", 0)}
    for name in HYPER_PARAMETERS:
        value = momentum if name == "momentum" else options.pop(name, None)
        if value is not None:
            args[name] = _sweep_axis(value, name, 0)
    if schedule is not None:
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a fastgd Schedule, got {type(schedule).__name__}")
        for name, value in schedule.params.items():
            args[name] = _sweep_axis(value, name, 0)
    dims = list(x0_dims)
    for name, (_, swept) in args.items():
        if swept:
            if name in dims:
                raise ValueError(f"x0's dims {x0_dims} include {name!r}, which is also a "
                                 f"swept argument: rename that dim of x0")
            dims.append(name)
    # x0's axes lead; each swept argument's single axis follows at its own place.
    point_shape = x0.shape[len(x0_dims):]
    x0 = x0.reshape(x0.shape[:len(x0_dims)] + (1,) * (len(dims) - len(x0_dims))
                    + point_shape)
    shaped = {}
    for name, (arr, swept) in args.items():
        if swept:
            axis_shape = [1] * len(dims)
            axis_shape[dims.index(name)] = arr.shape[0]
            arr = arr.reshape(tuple(axis_shape) + arr.shape[1:])
        shaped[name] = arr
    if schedule is not None:
        schedule = dataclasses.replace(
            schedule, params={k: shaped.pop(k) for k in schedule.params})
    coords.update((name, args[name][0]) for name in dims if name in args)
    hyper = {name: shaped.pop(name, None) for name in HYPER_PARAMETERS}
    if isinstance(lr, dict):
        lr = {name: shaped.pop(f"lr_{name}") for name in lr}
    else:
        lr = shaped.pop("lr")
    return _Plan(x0=x0, lr=lr, hyper=hyper, schedule=schedule, dims=dims,
                 coords=coords, options=options)
