"""Chunked execution: a batch run in pieces, locally or on an executor, resumable on disk.

A batch of ``size`` runs is cut into chunks of consecutive flat run indices.
Each chunk is one kernel call (``task(start, stop)``, a picklable callable) and
its outputs are written into the result at its own place, so the order in
which chunks finish does not matter and nothing depends on the chunking:
every run is computed from its own inputs and its global index alone.
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

    def finish(index, out):
        if store is not None:
            store.save(index, out)
        on_chunk(*bounds[index], out)
        bar.update(bounds[index][1] - bounds[index][0])

    try:
        if executor is None:
            for index in todo:
                finish(index, task(*bounds[index]))
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
    try:
        return len(client.nthreads())
    except Exception as err:  # noqa: BLE001 - whatever a closed client raises
        raise _ExecutorFailed("the Dask client cannot reach its scheduler: the cluster or the "
                           "client was closed") from err


def _wait_for_workers(client):
    if _workers(client):
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
        if _workers(client):
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


class Progress:
    """Runs done, rate and time left on stderr, for work longer than a second.

    ``enabled``: True always (once a second has passed), False never, None
    when stderr is a terminal.  Built in rather than a dependency: one line of
    text is all it draws.
    """

    def __init__(self, total, enabled=None):
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.start = self.last = time.perf_counter()
        self.shown = False

    def update(self, n):
        self.done += n
        now = time.perf_counter()
        if self.enabled and now - self.start > 1.0 and (now - self.last > 0.2 or
                                                        self.done == self.total):
            self.last = now
            rate = self.done / (now - self.start)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            sys.stderr.write(f"\rfastgd: {self.done:,}/{self.total:,} runs "
                             f"({100 * self.done / self.total:3.0f}%), {rate:,.0f} runs/s, "
                             f"{left:.0f} s left ")
            sys.stderr.flush()
            self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
