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
from pathlib import Path

import numpy as np

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
        if store is not None and store.has(index):
            on_chunk(start, stop, store.load(index))
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
            if hasattr(executor, "get_executor"):  # a dask.distributed Client
                executor = executor.get_executor()
            futures = {executor.submit(task, *bounds[index]): index for index in todo}
            for future in concurrent.futures.as_completed(futures):
                finish(futures[future], future.result())
    finally:
        bar.close()


class ChunkStore:
    """Finished chunks of one sweep in a directory, so an interrupted sweep resumes.

    Layout: ``manifest.json`` (format, version, the fingerprint of the sweep's
    arguments, the chunking) and one ``chunk-NNNNNN.npz`` per finished chunk,
    each written to a temporary name and renamed, so a chunk on disk is whole.
    """

    FORMAT = "fastgd-chunks"
    VERSION = 1

    def __init__(self, path, fingerprint, size, chunk_size):
        self.path = Path(path)
        manifest = {"format": self.FORMAT, "version": self.VERSION,
                    "fingerprint": fingerprint, "size": size, "chunk_size": chunk_size}
        file = self.path / "manifest.json"
        if file.exists():
            found = json.loads(file.read_text())
            if found != manifest:
                raise ValueError(
                    f"out={str(path)!r} holds the chunks of a different sweep (other "
                    "arguments or chunk_size); remove it or choose another path")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            _atomic_write(file, json.dumps(manifest, indent=1).encode())

    def _file(self, index):
        return self.path / f"chunk-{index:06d}.npz"

    def has(self, index):
        return self._file(index).exists()

    def load(self, index):
        with np.load(self._file(index)) as data:
            return {name: data[name] for name in data.files}

    def save(self, index, out):
        tmp = self._file(index).with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **out)
        os.replace(tmp, self._file(index))


def _atomic_write(file, data):
    tmp = file.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, file)


def fingerprint(*parts):
    """SHA-256 of arrays and plain values, in order: what identifies a sweep."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(repr((part.dtype.str, part.shape)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


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
