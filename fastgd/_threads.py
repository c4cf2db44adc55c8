"""Threads for the kernels: a call's tasks shared by a pool of threads.

The kernels release the GIL (``nogil=True``), so Python threads run them in
parallel.  The number of threads is Numba's (`numba.get_num_threads`, set by
``NUMBA_NUM_THREADS`` or `numba.set_num_threads`).  Tasks are cut into a few
pieces per thread and taken by the threads as they become free, which balances
runs that stop early.  Every run is computed from its own inputs alone, so the
result does not depend on the number of threads or on the pieces, bit for bit.
"""

import concurrent.futures
import itertools
import os
import threading

import numba

_PIECES_PER_THREAD = 8
_lock = threading.Lock()
_pools = {}
_inside = threading.local()   # set in the pool's threads: a nested call runs inline


def _forget_pools():
    # A forked child (a process pool's worker) has none of its parent's threads:
    # it makes its own pool on first use.
    global _lock
    _lock = threading.Lock()
    _pools.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _pool(threads):
    with _lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = concurrent.futures.ThreadPoolExecutor(
                threads, thread_name_prefix="fastgd", initializer=_mark_inside)
        return pool


def _mark_inside():
    _inside.active = True


def run_tasks(kernel, args, n_tasks, pieces_per_thread=_PIECES_PER_THREAD):
    """``kernel(*args, lo, hi)`` over tasks ``0 .. n_tasks``, on Numba's thread count.

    The tasks are cut into ``pieces_per_thread`` pieces per thread (several when
    runs stop early, so that threads that finish first take more; one when every
    task costs the same).  The calling thread and ``threads - 1`` pool threads
    each take the next piece until none is left: one hand-off to the pool per
    thread and call, not one per piece.
    """
    threads = numba.get_num_threads()
    pieces = min(n_tasks, threads * max(1, pieces_per_thread))
    if threads == 1 or pieces <= 1 or getattr(_inside, "active", False):
        kernel(*args, 0, n_tasks)
        return
    bounds = [n_tasks * i // pieces for i in range(pieces + 1)]
    taken = itertools.count()   # next() on it is atomic under the GIL
    stop = threading.Event()

    def work():
        while not stop.is_set():
            i = next(taken)
            if i >= pieces:
                return
            kernel(*args, bounds[i], bounds[i + 1])

    helpers = []
    try:
        helpers += [_pool(threads).submit(work) for _ in range(min(threads, pieces) - 1)]
        work()
        for future in helpers:
            # Every piece is taken: a helper not started yet has nothing to do.
            if not future.cancel():
                future.result()
    except BaseException:
        # Ctrl-C, or a kernel that could not run: no piece is started after
        # this, so the pool is free for the next call once running ones end.
        stop.set()
        for future in helpers:
            future.cancel()
        raise
