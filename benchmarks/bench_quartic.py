"""Workload 2. quartic x^4 - 5x^2 + 2x + 10, vanilla GD.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_quartic(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("quartic")
    bench_one(benchmark, w, impl, expected, bench_size)
