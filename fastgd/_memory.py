"""The memory budget: a batch's bytes estimated and compared with what is free,
before anything is allocated.

Without it, a batch larger than memory fails late (NumPy's MemoryError after
compiling, or halfway through the outputs) or is granted lazily by the OS and
killed mid-run by the OOM killer, losing the work.  The estimate counts what
`fastgd._api._run` allocates: the outputs (``x``, ``fun``, ``nit``,
``status``, ``success``), the recorded trajectories, and one chunk's inputs,
outputs and trajectories while it is in flight.

``FASTGD_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix: ``"8G"``) replaces
the free memory the budget is compared with, e.g. to keep a sweep well under
what a shared machine has free, or to allow more where swap is meant to be
used.
"""

import math
import os

ENV = "FASTGD_MEMORY_LIMIT"
_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class MemoryBudgetError(MemoryError, ValueError):
    """A batch that needs more memory than is available, refused before any
    allocation.  A `MemoryError` and, like every argument error, a `ValueError`."""


def size_text(n):
    """Bytes in words: '1.5 GiB'."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def available():
    """(bytes, where the figure comes from): ``FASTGD_MEMORY_LIMIT`` if set,
    else the smaller of the system's available memory and the cgroup's room."""
    limit = os.environ.get(ENV)
    if limit is not None:
        return _parse(limit), f"{ENV}={limit}"
    found = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append((int(line.split()[1]) * 1024, "available memory"))
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            found.append((pages, "free memory"))
        except (AttributeError, OSError, ValueError):
            return None, "unknown"   # no way to tell (Windows without psutil): no check
    try:   # a container's own limit (cgroup v2)
        with open("/sys/fs/cgroup/memory.max") as fh:
            cap = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read())
        if cap != "max":
            found.append((max(int(cap) - used, 0), "the container's memory limit"))
    except (OSError, ValueError):
        pass
    return min(found)


def _parse(text):
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in _SUFFIX else ""
    try:
        number = float(value[:len(value) - len(unit)])
    except ValueError:
        number = -1.0
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{ENV} must be a number of bytes, optionally with a K, M, G or "
                         f"T suffix (such as 8G), got {text!r}")
    return int(number * _SUFFIX[unit])


#: Needs up to this many bytes pass without a look at the system's memory.
_SMALL = 16 << 20


def check(parts):
    """Raise `MemoryBudgetError` if the parts, ``[(bytes, what), ...]``, add up
    to more than is available; the message lists the largest parts."""
    needed = sum(n for n, _ in parts)
    if needed <= _SMALL and ENV not in os.environ:
        return needed   # not worth reading the system's figures on every small call
    free, source = available()
    if free is None or needed <= free:
        return needed
    parts = sorted(parts, key=lambda p: -p[0])
    listing = "; ".join(f"{size_text(n)} for {what}" for n, what in parts if n > 0)
    raise MemoryBudgetError(
        f"this batch needs about {size_text(needed)} ({needed:,} bytes): {listing}; "
        f"only {size_text(free)} is available ({source}). Use fewer runs (the shapes of "
        "x0 and the swept hyper-parameters), record fewer runs or epochs, a smaller "
        f"chunk_size, or set {ENV} to allow more")
