"""Cold-start latency: `fastgd demo` and a first `fastgd.minimize` with an empty cache.

Usage, from the repository root::

    python benchmarks/cold_start.py                # demo cold and warm, first minimize
    python benchmarks/cold_start.py --repeats 5
    python benchmarks/cold_start.py --no-demo      # the first minimize only (quicker)

Every figure is a median over fresh processes.  "Cold" is an empty kernel cache:
a new ``FASTGD_CACHE_DIR`` (fastgd's generated modules and Numba's cache of them)
and a new ``NUMBA_CACHE_DIR``, so that everything compiles; "warm" is a second
process on the cache the cold one filled.  The demo is timed as a user runs it
(``fastgd demo``, the whole process, its figures written to a temporary folder).

The first `minimize` is split into where its seconds go, in a process of its own
(so the split does not disturb the timings above): the import, and for each
module the kernel loader compiles (the problem's batched functions, then the
descent kernel) its wall time, of which LLVM: the time spent inside LLVM's own
code (parsing Numba's IR, optimising it, emitting machine code), which Numba
brackets with its LLVM lock.  The rest is Numba's Python: bytecode analysis,
type inference, and lowering to LLVM IR text.

Compile times scale with whatever else runs on the machine: the load average is
printed before and after, and figures taken under load are not the machine's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The first minimize the fused-kernels issue times (a built-in problem, 1000 runs).
FIRST = ("import numpy as np, fastgd as fg; "
         "fg.minimize(fg.problems.quartic, np.linspace(-2, 2, 1000), lr=0.01, epochs=100)")

# Run in a process of its own: times the import, each module the loader compiles,
# and within them the time inside LLVM (from Numba's event stream).
_SPLIT = """
import json, time
t0 = time.perf_counter()
import numpy as np
import fastgd as fg
t1 = time.perf_counter()
from numba.core import event
from fastgd import _codegen

spent = {}

class Outermost(event.Listener):
    # Numba's events nest (a callee compiles inside its caller): count the outer ones.
    def __init__(self):
        self.depth, self.start = 0, 0.0

    def on_start(self, ev):
        if self.depth == 0:
            self.start = time.perf_counter()
        self.depth += 1

    def on_end(self, ev):
        self.depth -= 1
        if self.depth == 0:
            spent[ev.kind] = spent.get(ev.kind, 0.0) + time.perf_counter() - self.start

event.register("numba:llvm_lock", Outermost())

modules = []
real = _codegen._load_module

def timed(what, source):
    llvm, start = spent.get("numba:llvm_lock", 0.0), time.perf_counter()
    module = real(what, source)
    modules.append({"what": what, "seconds": time.perf_counter() - start,
                    "llvm": spent.get("numba:llvm_lock", 0.0) - llvm})
    return module

_codegen._load_module = timed
t2 = time.perf_counter()
%s
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "minimize": t3 - t2, "modules": modules}))
"""


def _load():
    return "/".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") \
        else "unknown"


def _process(args, env, cwd):
    """Wall seconds of a process, from start to exit."""
    start = time.perf_counter()
    subprocess.run(args, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _cold_env(cache):
    """This checkout's fastgd, an empty cache in ``cache``."""
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, FASTGD_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache, MPLBACKEND="Agg",
                PYTHONPATH=ROOT + (os.pathsep + path if path else ""))


def measure(repeats=3, demo=True):
    """Medians, in seconds, and the split of one cold first minimize."""
    out = {"load before": _load()}
    first_cold, first_warm, demo_cold, demo_warm = [], [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="fastgd-cold-") as cache:
            first_cold.append(_process([sys.executable, "-c", FIRST], _cold_env(cache), ROOT))
            first_warm.append(_process([sys.executable, "-c", FIRST], _cold_env(cache), ROOT))
        if demo:
            with tempfile.TemporaryDirectory(prefix="fastgd-cold-") as cache:
                figures = os.path.join(cache, "figures")
                command = [sys.executable, "-m", "fastgd", "demo", "--out", figures]
                demo_cold.append(_process(command, _cold_env(cache), cache))
                demo_warm.append(_process(command, _cold_env(cache), cache))
    med = statistics.median
    out["first minimize process, cold cache"] = med(first_cold)
    out["first minimize process, warm cache"] = med(first_warm)
    if demo:
        out["fastgd demo, cold cache"] = med(demo_cold)
        out["fastgd demo, warm cache"] = med(demo_warm)
    with tempfile.TemporaryDirectory(prefix="fastgd-cold-") as cache:
        done = subprocess.run([sys.executable, "-c", _SPLIT % FIRST], env=_cold_env(cache),
                              cwd=ROOT, check=True, capture_output=True, text=True)
    out["split of a cold first minimize"] = json.loads(done.stdout.splitlines()[-1])
    out["load after"] = _load()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-demo", action="store_true", help="time the first minimize only")
    args = parser.parse_args(argv)
    result = measure(args.repeats, demo=not args.no_demo)
    print(f"{os.cpu_count()} CPUs; load average (1/5/15 min) {result['load before']} "
          f"before, {result['load after']} after; medians of {args.repeats} fresh processes")
    for key, value in result.items():
        if isinstance(value, float):
            print(f"  {key}: {value:.2f} s")
    split = result["split of a cold first minimize"]
    print(f"  a cold first minimize: import {split['import']:.2f} s, "
          f"minimize {split['minimize']:.2f} s, of which")
    for m in split["modules"]:
        print(f"    {m['what']}: {m['seconds']:.2f} s (in LLVM {m['llvm']:.2f} s, "
              f"the rest Numba's Python)")


if __name__ == "__main__":
    main()
