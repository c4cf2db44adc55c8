"""Workload 3. the 2-D saddle e^(x+y) + x^2 - y^2, vanilla GD.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_saddle(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("saddle")
    bench_one(benchmark, w, impl, expected, bench_size)
