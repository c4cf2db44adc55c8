"""Workload 6. a tolerance-stopped sweep (ftol) on e^x + x^2: most runs stop early.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_ftol(benchmark, get_workload, impl):
    w, expected = get_workload("ftol")
    bench_one(benchmark, w, impl, expected)
