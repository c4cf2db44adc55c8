"""Workload 4a. momentum (beta = 0.9) on e^x + x^2.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_momentum(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("momentum")
    bench_one(benchmark, w, impl, expected, bench_size)
