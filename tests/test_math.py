"""Tests of fastgd._math.exp against math.exp, and of what it is for: vector lanes."""

import math
import re

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastgd._math import exp

JIT = not numba.config.DISABLE_JIT
needs_jit = pytest.mark.skipif(not JIT, reason="inspects compiled code")

# Measured: at most 1 ulp from glibc's math.exp, equal to it for ~95 % of inputs.
# Two leave room for a less accurate libm as the reference.
MAX_ULP = 2

# Largest x whose e**x is finite, and smallest whose e**x rounds up to 5e-324.
X_OVERFLOW = 709.782712893384
X_UNDERFLOW = -745.1332191019411


@numba.njit
def exp_lanes(x, out):
    for i in range(x.size):
        out[i] = exp(x[i])


@numba.njit
def exp_plus_2x(x, out):
    for i in range(x.size):
        out[i] = exp(x[i]) + 2.0 * x[i]


def run(kernel, x):
    out = np.empty_like(x)
    kernel(x, out)
    return out


def math_exp(x):
    return math.inf if x > X_OVERFLOW else math.exp(x)


def reference(x):
    return np.array([math_exp(v) for v in x])


def assert_ulp(got, want, max_ulp=MAX_ULP):
    """Within max_ulp units in the last place of want (absolute for subnormals)."""
    with np.errstate(all="ignore"):  # a wrong inf or nan should fail the assert below
        err = np.abs(got - want) / np.spacing(want)
    assert err.max() <= max_ulp, (err.max(), np.argmax(err))


def test_dense_grid():
    x = np.linspace(-700.0, 700.0, 400_001)
    got, want = run(exp_lanes, x), reference(x)
    assert_ulp(got, want)
    assert np.max(np.abs(got / want - 1.0)) <= 1e-15


def test_random_points():
    rng = np.random.default_rng(20240617)
    x = np.concatenate(
        [rng.uniform(-700.0, 700.0, 100_000), rng.uniform(-1.0, 1.0, 100_000)]
    )
    assert_ulp(run(exp_lanes, x), reference(x))


def test_reduction_boundaries():
    # |r| = ln2/2 exactly at (k + 1/2) ln2: where the polynomial is least accurate and
    # the rounding of k can go either way.
    k = np.arange(-1074, 1024) + 0.5
    x = np.concatenate([np.nextafter(k * math.log(2), -np.inf), k * math.log(2)])
    x = np.concatenate([x, np.nextafter(k * math.log(2), np.inf)])
    assert_ulp(run(exp_lanes, x), reference(x))


def test_subnormal_results():
    x = np.linspace(X_UNDERFLOW, -708.0, 100_001)
    got, want = run(exp_lanes, x), reference(x)
    assert np.all(want[x < -708.4] < np.finfo(np.float64).tiny)  # the range is right
    assert_ulp(got, want)


@given(st.floats(min_value=-746.0, max_value=710.0))
def test_scalar_call(x):
    got, want = exp(x), math_exp(x)
    assert got == want or abs(got - want) <= MAX_ULP * np.spacing(want)


SPECIAL = [
    (math.nan, math.nan),
    (math.inf, math.inf),
    (-math.inf, 0.0),
    (0.0, 1.0),
    (-0.0, 1.0),
    (5e-324, 1.0),
    (-5e-324, 1.0),
    (1.0, math.e),
    (X_OVERFLOW, 1.7976931348622732e308),
    (np.nextafter(X_OVERFLOW, math.inf), math.inf),
    (710.0, math.inf),
    (1e308, math.inf),
    (X_UNDERFLOW, 5e-324),
    (np.nextafter(X_UNDERFLOW, -math.inf), 0.0),
    (-745.2, 0.0),
    (-746.0, 0.0),
    (-1e308, 0.0),
]


@pytest.mark.parametrize("x, want", SPECIAL)
def test_special_value_scalar(x, want):
    np.testing.assert_equal(exp(x), want)


def test_special_values_in_lanes():
    # Tiled so that every value passes through the vector body and the scalar tail.
    x = np.tile([x for x, _ in SPECIAL], 7)
    np.testing.assert_equal(run(exp_lanes, x), np.tile([w for _, w in SPECIAL], 7))


def test_vectorised_and_scalar_paths_agree_bit_for_bit():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-746.0, 710.0, 997), [x for x, _ in SPECIAL]])
    with np.errstate(over="ignore"):  # 2x of 1e308, as NumPy scalars under DISABLE_JIT
        lanes = run(exp_plus_2x, x)
        one_by_one = np.array([run(exp_plus_2x, x[i : i + 1])[0] for i in range(x.size)])
    np.testing.assert_array_equal(lanes, one_by_one)
    np.testing.assert_array_equal(run(exp_lanes, x), [exp(v) for v in x])


def test_in_user_function():
    @numba.njit
    def sigmoid(x):
        return 1.0 / (1.0 + exp(-x))

    for x in (-30.0, -1.5, 0.0, 2.0, 40.0):
        assert sigmoid(x) == 1.0 / (1.0 + exp(-x))
        assert sigmoid(x) == pytest.approx(1.0 / (1.0 + math.exp(-x)), rel=1e-15)


def test_in_prange_loop():
    @numba.njit(parallel=True)
    def gd_blocks(x, lr, steps):
        # Each prange iteration owns a block of runs; the lanes inside it vectorise.
        width = 16
        for b in numba.prange((x.size + width - 1) // width):
            block = x[b * width : (b + 1) * width]
            for _ in range(steps):
                for j in range(block.size):
                    block[j] -= lr * (exp(block[j]) + 2.0 * block[j])

    x0 = np.linspace(-3.0, 3.0, 1000)
    x = x0.copy()
    gd_blocks(x, 0.1, 100)
    want = x0.copy()
    for _ in range(100):
        want -= 0.1 * (np.array([exp(v) for v in want]) + 2.0 * want)
    np.testing.assert_array_equal(x, want)
    # The minimum of e**x + x**2 is where e**x = -2x.
    assert np.allclose(x, -0.35173371124919584, atol=1e-9)


def test_caller_fastmath_does_not_reach_it():
    # Its instructions keep their own flags when inlined; reassoc in the caller would
    # otherwise fold the rounding of k away.
    @numba.njit(fastmath=True)
    def lanes_fast(x, out):
        for i in range(x.size):
            out[i] = exp(x[i])

    x = np.linspace(-745.0, 709.0, 10_001)
    np.testing.assert_array_equal(run(lanes_fast, x), run(exp_lanes, x))


@needs_jit
def test_lane_loop_vectorises():
    asm = exp_plus_2x.inspect_asm(exp_plus_2x.signatures[0])
    packed = re.findall(r"\b(?:v?(?:mul|add|sub)pd|vfn?m(?:add|sub)\d+pd)\b", asm)
    assert len(packed) >= 10, "no packed float64 arithmetic: the loop did not vectorise"
    calls = [line for line in asm.splitlines() if "call" in line and "3exp" in line]
    assert not calls, calls
