"""Adaptive refinement against the full grid: the quartic's lr x x0 map.

For an n x n map (lr = geomspace(1e-4, 0.5, n), x0 = linspace(-3, 3, n), the map
of docs/scale.md), runs `fg.refine` and the full `fg.sweep`, and reports the
runs each computed, whether the refined runs equal the full grid's bit for bit,
and the share of the map where the refined classes agree with the full grid's.
Two maps: basins (by="minimum", gtol=1e-6, 500 epochs) and the status map of
docs/scale.md (by="status", 200 epochs, no tolerance).  Counts of runs do not
depend on the machine; the seconds printed do (and are noise on a busy one).
Writes docs/refine.md.  Usage::

    python benchmarks/refine_quartic.py [--n 1024] [--start 33] [--out docs/refine.md]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fastgd as fg

MAPS = {
    "basins": dict(by="minimum", epochs=500, gtol=1e-6),
    "status": dict(by="status", epochs=200),
}


def compare(n, start, by, epochs, **options):
    axes = dict(lr=np.geomspace(1e-4, 0.5, n), x0=np.linspace(-3, 3, n))
    t = time.perf_counter()
    ref = fg.refine(fg.problems.quartic, **axes, epochs=epochs, by=by, start=start,
                    **options)
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    full = fg.sweep(fg.problems.quartic, **axes, epochs=epochs, **options)
    t_full = time.perf_counter() - t
    done = ref.computed
    same = all(np.array_equal(getattr(ref.result, f)[done], getattr(full, f)[done], equal_nan=True)
               for f in ("x", "fun", "nit", "status"))
    extra = ""
    if by == "minimum":
        fm = full.minima(ref.minima.tol)
        # Label numbers follow each table's order: match the minima by point.
        match = np.array([np.argmin(np.abs(fm.x - p).max(axis=1)) for p in ref.minima.x],
                         dtype=np.int64)
        got = np.where(ref.labels >= 0, match[np.maximum(ref.labels, 0)], ref.labels)
        want = fm.labels
        missed = sorted(set(range(len(fm))) - set(match.tolist()))
        extra = "; ".join(f"the full grid also has x = {fm.x[k, 0]:.4f}, f = {fm.fun[k]:.4f} "
                          f"reached by {fm.count[k]} runs" for k in missed)
    else:
        got, want = ref.labels, full.status
    agree = got == want
    return dict(n=n, start=start, by=by, runs=ref.runs, full=full.size, levels=ref.levels,
                identical=same, agree=float(agree.mean()), wrong=int((~agree).sum()),
                t_ref=t_ref, t_full=t_full, note=extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1024])
    ap.add_argument("--start", type=int, default=33)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for n in args.n:
        for name, kw in MAPS.items():
            row = compare(n, args.start, **kw)
            row["map"] = name
            rows.append(row)
            print(row, flush=True)
    if args.out:
        lines = ["| map | n x n | runs computed | share of the full grid | levels | "
                 "computed runs bit-identical | classes agreeing with the full grid |",
                 "|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['map']} (by={r['by']!r}) | {r['n']} x {r['n']} | "
                         f"{r['runs']:,} of {r['full']:,} | {100 * r['runs'] / r['full']:.2f}% "
                         f"| {r['levels']} | {r['identical']} | {100 * r['agree']:.4f}% "
                         f"({r['wrong']:,} runs differ) |")
        lines += [""] + [f"* {r['map']}, {r['n']} x {r['n']}: {r['note']}"
                         for r in rows if r["note"]]
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
