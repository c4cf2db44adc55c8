"""float32 against float64: throughput side by side, and how far the results differ.

For the quartic and e^x + x^2, ``fg.minimize`` over 100,000 start points x 1000
updates on two threads, float64 and float32 calls alternating in one process
(the median of several of each), then the marginal cost of an epoch (from
1000 and 4000 updates: the call's fixed cost, the same for both types, left
out), and the results' differences.  Usage::

    python benchmarks/float32.py [--runs 100000] [--repeat 7]
"""

import argparse
import os
import time

import numba
import numpy as np

import fastgd as fg

CASES = (("quartic", "quartic", (-2.5, 2.5), 0.01),
         ("e^x + x^2", "exp_quadratic", (-4.0, 4.0), 0.1))


def _median_seconds(problem, x0, lr, epochs, dtype, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fg.minimize(problem, x0=x0, lr=lr, epochs=epochs, dtype=dtype)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(runs, repeat, epochs=1000):
    rows = []
    for label, name, span, lr in CASES:
        problem = getattr(fg.problems, name)
        x0 = np.linspace(*span, runs)
        for dtype in (np.float64, np.float32):   # compile or load the kernels first
            fg.minimize(problem, x0=x0[:100], lr=lr, epochs=10, dtype=dtype)
        seconds = {np.float64: [], np.float32: []}
        for r in range(repeat):   # alternating, so that both see the same load
            for dtype in (np.float64, np.float32)[::1 if r % 2 else -1]:
                seconds[dtype].append(_median_seconds(problem, x0, lr, epochs, dtype, 1))
        t64, t32 = (float(np.median(seconds[d])) for d in (np.float64, np.float32))
        # The cost of 3000 more epochs: the kernel's own speed.
        long64, long32 = (_median_seconds(problem, x0, lr, 4 * epochs, d, max(3, repeat // 2))
                          for d in (np.float64, np.float32))
        a = fg.minimize(problem, x0=x0, lr=lr, epochs=epochs)
        b = fg.minimize(problem, x0=x0, lr=lr, epochs=epochs, dtype=np.float32)
        # A start within float32's rounding of the quartic's local maximum
        # (x = 0.2) may descend on the other side: such runs are counted apart.
        same = (a.status == b.status) & (np.sign(a.x[:, 0] - 0.2) == np.sign(b.x[:, 0] - 0.2)
                                         if name == "quartic" else a.status == b.status)
        rel_x = np.abs(b.x[same, 0] - a.x[same, 0]) / np.abs(a.x[same, 0])
        rel_f = np.abs(b.fun[same] - a.fun[same]) / np.abs(a.fun[same])
        rows.append(dict(
            workload=label, ns64=t64 * 1e9 / (runs * epochs), ns32=t32 * 1e9 / (runs * epochs),
            ratio=t64 / t32, marginal=(long64 - t64) / (long32 - t32),
            max_rel_x=float(rel_x.max()), median_rel_x=float(np.median(rel_x)),
            max_rel_f=float(rel_f.max()), apart=int((~same).sum()), runs=runs))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    load = os.getloadavg()[0]
    rows = measure(args.runs, args.repeat)
    print(f"{numba.get_num_threads()} threads; load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    for r in rows:
        print(f"{r['workload']}: float64 {r['ns64']:.3f} ns/run-update, float32 "
              f"{r['ns32']:.3f}: {r['ratio']:.2f}x ({r['marginal']:.2f}x per further epoch); "
              f"|x32 - x64| / |x64| at most {r['max_rel_x']:.1e} (median "
              f"{r['median_rel_x']:.1e}), |f32 - f64| / |f64| at most {r['max_rel_f']:.1e}, "
              f"{r['apart']} of {r['runs']:,} runs ended elsewhere")


if __name__ == "__main__":
    main()
