"""Workload 1. e^x + x^2, vanilla GD.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_exp_quadratic(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("exp_quadratic")
    bench_one(benchmark, w, impl, expected, bench_size)
