"""Threads for the kernels: a call's tasks shared by a pool of threads.

The kernels release the GIL (``nogil=True``), so Python threads run them in
parallel.  The number of threads is Numba's (`numba.get_num_threads`, set by
``NUMBA_NUM_THREADS`` or `numba.set_num_threads`).  Tasks are cut into a few
pieces per thread and handed out as threads become free, which balances runs
that stop early.  Every run is computed from its own inputs alone, so the
result does not depend on the number of threads or on the pieces, bit for bit.
"""

import concurrent.futures
import threading

import numba

_PIECES_PER_THREAD = 8
_lock = threading.Lock()
_pools = {}


def _pool(threads):
    with _lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = concurrent.futures.ThreadPoolExecutor(
                threads, thread_name_prefix="fastgd")
        return pool


def run_tasks(kernel, args, n_tasks):
    """``kernel(*args, lo, hi)`` over tasks ``0 .. n_tasks``, on Numba's thread count."""
    threads = numba.get_num_threads()
    pieces = min(n_tasks, threads * _PIECES_PER_THREAD)
    if threads == 1 or pieces <= 1:
        kernel(*args, 0, n_tasks)
        return
    bounds = [n_tasks * i // pieces for i in range(pieces + 1)]
    futures = [_pool(threads).submit(kernel, *args, lo, hi)
               for lo, hi in zip(bounds[:-1], bounds[1:])]
    for future in futures:
        future.result()
