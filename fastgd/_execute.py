"""Chunked execution: a batch run in pieces, locally or on an executor, resumable on disk.

A batch of ``size`` runs is cut into chunks of consecutive flat run indices.
Each chunk's outputs are written into the result at its own place, so the
order in which chunks finish does not matter and nothing depends on the
chunking: every run is computed from its own inputs and its global index
alone.  Locally, a chunk is computed as consecutive *pieces* (each one call of
``task(start, stop)``, a picklable callable), sized from the measured
throughput to take about `PIECE_SECONDS`: that is how often the progress line
moves and how soon Ctrl-C is honoured, whatever the chunk size.  On an
executor a chunk is one call, made in a worker.
"""

import concurrent.futures
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ._identity import feed_bytes

#: Default chunk: about a million runs keeps the per-chunk inputs to tens of MB
#: while each kernel call still has thousands of blocks for the threads.
CHUNK_SIZE = 1 << 20

#: Seconds of work per kernel call within a chunk.  Python sees Ctrl-C and the
#: progress line is redrawn only between calls; half a second keeps both prompt
#: while the per-call overhead (tens of microseconds) stays negligible.
PIECE_SECONDS = 0.5

#: Runs in the first piece, before any throughput is known: a few blocks of 64
#: lanes, so that even runs costing milliseconds each report within a second.
FIRST_PIECE = 256

#: Pieces are whole blocks of lanes (fastgd._config.LANES) where possible, and
#: grow at most this much from one to the next, so that one fast piece (say,
#: runs that all stopped early) cannot make the next one take minutes.
_PIECE_QUANTUM = 64
_MAX_GROWTH = 8
_UNRECORDED_PIECE = 1 << 17


def chunk_bounds(size, chunk_size):
    return [(start, min(start + chunk_size, size)) for start in range(0, size, chunk_size)]


def execute(task, size, chunk_size, on_chunk, *, executor=None, store=None, progress=None):
    """Run ``task(start, stop)`` over every chunk and hand each output to ``on_chunk``."""
    bounds = chunk_bounds(size, chunk_size)
    bar = Progress(size, progress)
    todo = []
    for index, (start, stop) in enumerate(bounds):
        saved = store.load(index) if store is not None else None
        if saved is not None:
            on_chunk(start, stop, saved)
            bar.update(stop - start)
        else:
            todo.append(index)

    def finish(index, out, counted=False):
        if store is not None:
            store.save(index, out)
        on_chunk(*bounds[index], out)
        if not counted:
            bar.update(bounds[index][1] - bounds[index][0])

    def piece_done(start, stop, out):
        on_chunk(start, stop, out)
        bar.update(stop - start)

    try:
        if executor is None:
            pacer = Pacer(key=getattr(task, "pace_key", None))
            for index in todo:
                if store is None:
                    # Each piece goes straight to its place in the result: no
                    # chunk-sized copy is ever assembled.
                    run_in_pieces(task, *bounds[index], pacer, piece_done)
                else:
                    pieces = []

                    def piece_kept(start, stop, out, pieces=pieces):
                        pieces.append(out)
                        bar.update(stop - start)
                    run_in_pieces(task, *bounds[index], pacer, piece_kept)
                    finish(index, join_pieces(pieces), counted=True)
        else:
            client = _dask_client(executor)
            if client is not None:
                _wait_for_workers(client)
            if hasattr(executor, "get_executor"):  # a dask.distributed Client
                executor = executor.get_executor()
            futures = {executor.submit(task, *bounds[index]): index for index in todo}
            finished = set()
            try:
                for future in _completed(futures, client):
                    index = futures[future]
                    finish(index, _chunk_result(future, index, bounds[index]))
                    finished.add(future)
            except BaseException as err:
                # An executor's failure or Ctrl-C: keep every chunk that did
                # finish (saved in out=) before the error goes on.
                for future in futures:
                    if future not in finished and future.done() and not future.cancelled() \
                            and future.exception() is None:
                        finish(futures[future], future.result())
                if isinstance(err, _ExecutorFailed):
                    raise RuntimeError(str(err) + _saved_note(store)) from err.__cause__
                raise
            finally:
                for future in futures:  # on an error or Ctrl-C, start nothing more
                    future.cancel()
    finally:
        bar.close()


#: Runs per second last measured, by the ``pace_key`` of a task (what makes
#: its runs cost what they do: problem, optimiser, epochs...), so that a call
#: like an earlier one starts with pieces of the right size: a call of a few
#: milliseconds is then one piece, not several, each a hand-off to the threads.
_RUNS_PER_SECOND = {}


class Pacer:
    """Sizes of consecutive pieces, each meant to take about `PIECE_SECONDS`.

    The next size follows the throughput of the last piece; it starts at
    `FIRST_PIECE` (or from the throughput an earlier call with the same
    ``key`` measured) and carries over from one chunk to the next.
    """

    def __init__(self, seconds=None, first=None, key=None):
        self.seconds = PIECE_SECONDS if seconds is None else seconds
        self.key = key
        if first is None:
            first = FIRST_PIECE
            if key is not None and key in _RUNS_PER_SECOND:
                # At most the size growth would reach after three pieces: an
                # earlier call's runs may have been far cheaper (most diverged
                # at once) than these.  (Up to 131,072 runs: a call of that
                # many cheap runs is one kernel call, not four.)
                first = max(first, min(FIRST_PIECE * _MAX_GROWTH ** 3, self._quantised(
                    _RUNS_PER_SECOND[key] * self.seconds)))
        self.size = first

    @staticmethod
    def _quantised(runs):
        return max(_PIECE_QUANTUM, int(runs) // _PIECE_QUANTUM * _PIECE_QUANTUM)

    def measured(self, runs, seconds):
        if seconds <= 0:
            want = runs * _MAX_GROWTH
        else:
            want = runs * self.seconds / seconds
            if self.key is not None:
                _RUNS_PER_SECOND[self.key] = runs / seconds
        want = min(want, runs * _MAX_GROWTH)
        self.size = self._quantised(want)


def run_in_pieces(task, start, stop, pacer, on_piece):
    """Compute runs ``[start, stop)`` as consecutive calls ``task(a, b)``, each
    handed to ``on_piece(a, b, out)`` as it finishes.

    Runs are independent and each is keyed by its global index, so the pieces
    together are the one call's output, bit for bit.  A piece is at most an
    eighth of the range (unless the first covers it all, or it records no
    trajectory and has fewer than `_UNRECORDED_PIECE` runs), so that the
    outputs of one piece, trajectories included, stay small beside the result.
    """
    at = start
    most = max(_PIECE_QUANTUM, (stop - start) // 8)
    if not getattr(task, "records", True):
        # Without trajectories a run's outputs are tens of bytes: pieces as
        # large as the pace allows, fewer hand-offs to the threads.
        most = max(most, _UNRECORDED_PIECE)
    while at < stop:
        end = min(stop, at + (pacer.size if at == start else min(pacer.size, most)))
        began = time.perf_counter()
        out = task(at, end)
        pacer.measured(end - at, time.perf_counter() - began)
        on_piece(at, end, out)
        del out   # not alive beside the next piece's
        at = end


def join_pieces(pieces):
    """Consecutive pieces' outputs as one: every output is per run along axis 0
    (recorded paths per recorded run, and those are sorted)."""
    if len(pieces) == 1:
        return pieces[0]
    return {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}


#: Seconds a Dask cluster may have no worker, before a sweep or while chunks
#: wait, before the sweep stops with an error instead of waiting forever.
WORKER_TIMEOUT = 60.0


def _dask_client(executor):
    """The dask.distributed Client behind ``executor``, or None."""
    if hasattr(executor, "get_executor"):
        return executor
    if type(executor).__module__.startswith("distributed"):
        return getattr(executor, "_client", None)
    return None


def _workers(client):
    """The cluster's number of workers; None if the scheduler does not answer
    now (a busy scheduler is no reason to stop a sweep)."""
    if getattr(client, "status", "running") in ("closing", "closed"):
        raise _ExecutorFailed("the Dask client was closed during the sweep")
    try:
        return len(client.nthreads())
    except Exception:  # noqa: BLE001 - a timeout or a comm error: ask again later
        return None


def _wait_for_workers(client):
    if _workers(client) != 0:
        return
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except (TimeoutError, OSError):
        raise _ExecutorFailed(f"the Dask cluster has no workers (none arrived within "
                           f"{WORKER_TIMEOUT:g} s): start or scale up its workers, or "
                           "run without executor=") from None


def _saved_note(store):
    if store is None:
        return ""
    done = len(list(store.path.glob("chunk-*.npz")))
    return (f"; the {done} chunk(s) finished are saved in out={str(store.path)!r}, and the "
            "same call resumes from them")


class _ExecutorFailed(RuntimeError):
    """An executor's failure, before `execute` adds what was saved."""


def _completed(futures, client):
    """Futures as they complete, like `concurrent.futures.as_completed`, but
    giving up when a Dask cluster has had no worker for `WORKER_TIMEOUT`."""
    pending = set(futures)
    idle_since = None
    while pending:
        done, pending = concurrent.futures.wait(
            pending, timeout=1.0, return_when=concurrent.futures.FIRST_COMPLETED)
        yield from done
        if done or client is None:
            continue
        if _workers(client) != 0:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > WORKER_TIMEOUT:
            raise _ExecutorFailed(f"the Dask cluster has had no workers for "
                                  f"{WORKER_TIMEOUT:g} s with {len(pending)} chunk(s) "
                                  "still to run")


def _chunk_result(future, index, bounds):
    """A finished chunk's output; an executor's failure said in words."""
    where = f"chunk {index} (runs {bounds[0]} to {bounds[1] - 1})"
    try:
        return future.result()
    except concurrent.futures.CancelledError:
        raise _ExecutorFailed(
            f"{where} was cancelled by the executor: it was shut down, or its Dask "
            "cluster or client was closed, during the sweep") from None
    except concurrent.futures.BrokenExecutor as err:
        raise _ExecutorFailed(
            f"a worker process of the executor died while computing {where} (killed, "
            "out of memory, or a crash in native code)") from err
    except Exception as err:
        if type(err).__name__ == "KilledWorker":   # Dask's: a worker died with it
            raise _ExecutorFailed(f"Dask workers died while computing {where}: "
                                  f"{err}") from err
        raise


class ChunkStore:
    """Finished chunks of one sweep in a directory, so an interrupted sweep resumes.

    Layout: ``manifest.json`` (format, version, the sweep's identity, the
    chunking) and one ``chunk-NNNNNN.npz`` per finished chunk, each written to
    a temporary name and renamed, so a chunk on disk is whole.  Each chunk also
    holds, in its ``__chunk__`` entry, the sweep's identity, its index and run
    range, and the SHA-256 of its arrays; `load` checks all of them and the
    arrays' names, dtypes and shapes, and treats a chunk failing any check
    (or unreadable) as missing: it names the file in a warning, deletes it, and
    the chunk is computed again.

    ``layout(start, stop)`` gives the ``{name: (shape, dtype)}`` a chunk of
    runs ``[start, stop)`` must have.
    """

    FORMAT = "fastgd-chunks"
    VERSION = 2

    def __init__(self, path, identity, size, chunk_size, layout):
        self.path = Path(path)
        self.identity = identity
        self.bounds = chunk_bounds(size, chunk_size)
        self.layout = layout
        manifest = {"format": self.FORMAT, "version": self.VERSION,
                    "fingerprint": identity, "size": size, "chunk_size": chunk_size}
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"out={str(path)!r} exists and is not a directory")
        file = self.path / "manifest.json"
        chunks = sorted(self.path.glob("chunk-*.npz")) if self.path.is_dir() else []
        found = _read_manifest(file) if file.exists() else None
        if found == manifest:
            return
        if isinstance(found, dict) and found.get("format") == self.FORMAT:
            raise ValueError(
                f"out={str(path)!r} holds the chunks of a different sweep (other "
                "arguments, problem or chunk_size); remove it or choose another path")
        if chunks:
            what = "is missing" if not file.exists() else "is damaged"
            raise ValueError(
                f"{str(file)!r} {what}, so the {len(chunks)} chunk file(s) in "
                f"{str(path)!r} cannot be told apart from another sweep's; remove the "
                "directory (or the chunk files) or choose another path")
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(file, json.dumps(manifest, indent=1).encode())

    def _file(self, index):
        return self.path / f"chunk-{index:06d}.npz"

    def has(self, index):
        return self._file(index).exists()

    def load(self, index):
        """The chunk's arrays, or None if it is not there or fails a check."""
        file = self._file(index)
        if not file.exists():
            return None
        try:
            return self._verified(index, file)
        except ValueError as err:
            warnings.warn(f"out= chunk {str(file)!r} is unusable ({err}); "
                          "computing it again", UserWarning, stacklevel=4)
            file.unlink(missing_ok=True)
            return None

    def _verified(self, index, file):
        try:
            # Our own handle: np.load leaves its file open when the zip is bad.
            with open(file, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as err:  # noqa: BLE001 - zip, zlib, npy and OS errors alike
            raise ValueError(f"unreadable: {type(err).__name__}: {err}") from None
        meta = _json_entry(arrays.pop("__chunk__", None))
        if meta is None:
            raise ValueError("no readable __chunk__ entry")
        if meta.get("identity") != self.identity:
            raise ValueError("written by a different sweep")
        start, stop = self.bounds[index]
        found = [meta.get(key) for key in ("index", "start", "stop")]
        if [type(v) for v in found] != [int] * 3 or found != [index, start, stop]:
            raise ValueError(f"holds chunk {meta.get('index')!r} (runs "
                             f"{meta.get('start')!r}..{meta.get('stop')!r}), not chunk "
                             f"{index} (runs {start}..{stop})")
        want = self.layout(start, stop)
        if set(arrays) != set(want):
            raise ValueError(f"arrays {sorted(arrays)}, expected {sorted(want)}")
        for name, (shape, dtype) in want.items():
            if arrays[name].shape != tuple(shape) or arrays[name].dtype != dtype:
                raise ValueError(f"array {name!r} has shape {arrays[name].shape} and dtype "
                                 f"{arrays[name].dtype}, expected {tuple(shape)} and "
                                 f"{np.dtype(dtype)}")
        if meta.get("sha256") != checksum(arrays):
            raise ValueError("its checksum does not match its arrays")
        return arrays

    def save(self, index, out):
        start, stop = self.bounds[index]
        meta = {"identity": self.identity, "index": index, "start": start, "stop": stop,
                "sha256": checksum(out)}
        tmp = self._file(index).with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, __chunk__=np.array(json.dumps(meta)), **out)
        os.replace(tmp, self._file(index))


def checksum(arrays):
    """SHA-256 of named arrays: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(repr((name, a.dtype.str, a.shape)).encode())
        feed_bytes(digest, a)
    return digest.hexdigest()


def _json_entry(entry):
    """A JSON object stored as a 0-d unicode array, or None if it is anything else."""
    if not isinstance(entry, np.ndarray) or entry.shape != () or entry.dtype.kind != "U":
        return None
    try:
        value = json.loads(str(entry))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _read_manifest(file):
    try:
        value = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _atomic_write(file, data):
    tmp = file.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, file)


def in_notebook():
    """True inside a Jupyter kernel (where stderr is not a terminal but is shown)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class Progress:
    """Runs done, rate and time left, for work longer than a second.

    ``enabled``: True always (once a second has passed), False never, None
    when stderr is a terminal or inside Jupyter.  In Jupyter the bar is
    tqdm's notebook widget when tqdm is installed; elsewhere one line of text
    on stderr, redrawn in place.
    """

    def __init__(self, total, enabled=None):
        self.total = total
        self.done = 0
        notebook = in_notebook()
        if enabled is None:
            enabled = sys.stderr.isatty() or notebook
        self.enabled = bool(enabled)
        self.start = self.last = time.perf_counter()
        self.shown = False
        self.bar = None
        self._use_tqdm = notebook

    def _tqdm(self):
        if self.bar is None:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.total, unit="runs", desc="fastgd", unit_scale=True,
                            initial=self.done)
        return self.bar

    def update(self, n):
        self.done += n
        now = time.perf_counter()
        if not self.enabled or now - self.start <= 1.0:
            return
        if self._use_tqdm:
            try:
                bar = self._tqdm()
            except ImportError:
                self._use_tqdm = False
            else:
                bar.n = self.done
                bar.refresh()
                self.shown = True
                return
        if now - self.last > 0.2 or self.done == self.total:
            self.last = now
            rate = self.done / (now - self.start)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            sys.stderr.write(f"\rfastgd: {self.done:,}/{self.total:,} runs "
                             f"({100 * self.done / self.total:3.0f}%), {rate:,.0f} runs/s, "
                             f"{left:.0f} s left ")
            sys.stderr.flush()
            self.shown = True

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


_compiles_noted = set()


def note_compile(what):
    """Say on stderr, once per ``what`` per process, that a compile is starting.

    Called by the kernel loader just before Numba compiles something that is
    not in its on-disk cache, so that a first call's tens of seconds are not
    silent.  ``what`` names it, e.g. ``"quartic/gd"``.  Set the environment
    variable ``FASTGD_QUIET=1`` to silence it.
    """
    if what in _compiles_noted:
        return
    _compiles_noted.add(what)
    if os.environ.get("FASTGD_QUIET", "0") not in ("", "0"):
        return
    sys.stderr.write(f"fastgd: compiling the kernel for {what}, once (cached afterwards)\n")
    sys.stderr.flush()
