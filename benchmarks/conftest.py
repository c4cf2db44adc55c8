"""pytest options and fixtures for the benchmarks.

Sizes: ``--bench-size=smoke`` (default; every body runs once in the normal test run,
which passes ``--benchmark-disable``), ``medium`` (1/10 of the runs) or ``full`` (the
sizes of issue 3).  ``FASTGD_BENCH_FULL=1`` in the environment makes ``full`` the
default.  `report.py` runs them with ``--benchmark-enable`` and writes the tables.
"""

import pytest
from _workloads import SIZES, run_fastgd, size_from_env, workload


def pytest_addoption(parser):
    parser.addoption("--bench-size", choices=SIZES, default=None,
                     help="workload size of the fastgd benchmarks (default: smoke, "
                          "or full when FASTGD_BENCH_FULL=1)")


@pytest.fixture(scope="session")
def bench_size(request):
    return request.config.getoption("--bench-size") or size_from_env()


_expected = {}


@pytest.fixture(scope="session")
def get_workload(bench_size):
    """``get_workload(name) -> (workload, fastgd's Result on it)``, built once."""
    def get(name):
        if name not in _expected:
            w = workload(name, bench_size)
            _expected[name] = (w, run_fastgd(w))
        return _expected[name]
    return get
