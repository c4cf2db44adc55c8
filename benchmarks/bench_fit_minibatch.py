"""Workload 5b. the tutorial's curve fit, mini-batches of 10, shuffled.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_minibatch(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("fit_minibatch")
    bench_one(benchmark, w, impl, expected, bench_size)
