"""Counter-based shuffles: the order of a run's mini-batches in an epoch.

A permutation is a pure function of (seed, run, epoch): no generator state is
carried between runs, threads or chunks, so results are bit-identical for any
thread count and any chunking.  The stream is splitmix64 in counter mode and
the permutation a Fisher-Yates shuffle; `fastgd.reference.shuffled_order` is
the same algorithm in plain Python and pins it.
"""

import numpy as np

from ._config import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)


@jit(inline="always")
def _mix(z):
    # splitmix64's finaliser; every constant is uint64 because numba types
    # uint64 op int literal as int64 and would lose the top bit.
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit(inline="always")
def shuffle_key(seed, run, epoch):
    """Key of the random stream for one (seed, run, epoch)."""
    key = _mix(np.uint64(seed) + _GOLDEN)
    key = _mix(key ^ (np.uint64(run) + _GOLDEN))
    return _mix(key ^ (np.uint64(epoch) + _GOLDEN))


@jit(inline="always")
def permute(key, out):
    """Fill ``out`` with a permutation of ``range(len(out))`` drawn from ``key``."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    for i in range(n - 1, 0, -1):
        r = _mix(key + np.uint64(n - i) * _GOLDEN)
        # Multiply-shift maps the top 32 bits onto [0, i]: no division, and
        # the bias (i / 2**32) is far below anything a test could see.
        j = np.int64(((r >> _S32) * np.uint64(i + 1)) >> _S32)
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp
