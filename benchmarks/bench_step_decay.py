"""Workload 4b. step decay on the quartic.

Every implementation of `_workloads.IMPLS` side by side, each checked against fastgd.
"""

import pytest
from _workloads import IMPLS, bench_one


@pytest.mark.parametrize("impl", IMPLS)
def test_step_decay(benchmark, get_workload, bench_size, impl):
    w, expected = get_workload("step_decay")
    bench_one(benchmark, w, impl, expected, bench_size)
