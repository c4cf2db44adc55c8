"""Workload 5a. the tutorial's curve fit, 100 points, full batch.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_full(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("fit_full")
    bench_one(benchmark, w, impl, expected, bench_size)
