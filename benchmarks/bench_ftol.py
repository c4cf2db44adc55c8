"""Workload 6. a tolerance-stopped sweep (ftol) on e^x + x^2: most runs stop early.

Every implementation of `_workloads.FTOL_IMPLS` side by side (JAX with two strategies), each checked against fastgd.
"""

import pytest
from _workloads import FTOL_IMPLS, bench_one


@pytest.mark.parametrize("impl", FTOL_IMPLS)
def test_ftol(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("ftol")
    bench_one(benchmark, w, impl, expected, bench_size)
