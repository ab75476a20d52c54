"""Sizes around every SIMD width and block, special values in body and tail, 64-bit sizes.

test_kernels.py checks each kernel on a handful of shapes and layouts and
NaN/Inf mixed through whole arrays; test_gemm.py walks the GEMM blocking.
Here: every size around the vector widths (8 floats / 4 doubles per AVX2
register, 32 / 16 partial sums in dot, 16-element thread chunks), inputs
that start one element past an aligned address, a NaN placed at each
position in turn (so it lands once in the vectorized body and once in the
scalar tail), -0.0, infinities and subnormals, all compared with NumPy on
each SIMD path. The last tests run kernels on more than 2**31 elements.
"""

import os

import numpy as np
import pytest
from denseops import add, column_sums, dot, matmul, reference, relu, relu_backward
from helpers import assert_close, labelled, offset_view, random_array

SIZES = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 31, 33, 1000, 10**6 + 3]
SMALL_SIZES = [n for n in SIZES if n <= 33]


def f64_dot(x, y):
    """The exact dot product rounded to x's dtype, as an array for assert_close."""
    return np.asarray(reference.dot(x, y), x.dtype)


# ------------------------------------------------------------ sizes


# The small sizes run in one test item each (helpers.labelled names the size
# that failed): pytest's per-item cost would exceed theirs.
SIZE_GROUPS = {"up_to_33": SMALL_SIZES, "1000": [1000], "10**6+3": [10**6 + 3]}
WIDTH_GROUPS = {"up_to_33": SMALL_SIZES, "1000": [1000]}


@pytest.mark.parametrize("sizes", SIZE_GROUPS.values(), ids=SIZE_GROUPS)
def test_elementwise_kernels_at_every_edge_size(rng, dtype, arch, sizes):
    for n in sizes:
        with labelled(n=n):
            x, y = random_array(rng, (n,), dtype), random_array(rng, (n,), dtype)
            xo, yo = offset_view(x), offset_view(y)
            assert_close(relu(xo), reference.relu(x), k=0)
            assert_close(add(xo, yo), x + y, k=0)
            assert_close(relu_backward(xo, yo), reference.relu_backward(x, y), k=0)
            out = offset_view(np.zeros(n, dtype))  # an unaligned out is still C-contiguous
            assert relu(x, out=out) is out
            assert_close(out, reference.relu(x), k=0)


@pytest.mark.parametrize("sizes", SIZE_GROUPS.values(), ids=SIZE_GROUPS)
def test_dot_at_every_edge_size(rng, dtype, arch, sizes):
    for n in sizes:
        with labelled(n=n):
            x, y = random_array(rng, (n,), dtype), random_array(rng, (n,), dtype)
            got = np.asarray(dot(offset_view(x), offset_view(y)), dtype)
            assert_close(got, f64_dot(x, y), k=max(n, 1))


@pytest.mark.parametrize("widths", WIDTH_GROUPS.values(), ids=WIDTH_GROUPS)
def test_bias_add_and_column_sums_at_every_edge_width(rng, dtype, arch, widths):
    for cols in widths:
        with labelled(cols=cols):
            x = random_array(rng, (5, cols), dtype)
            bias = random_array(rng, (cols,), dtype)
            assert_close(add(offset_view(x), offset_view(bias)), x + bias, k=0)
            expected = reference.column_sums(x).astype(dtype)
            assert_close(column_sums(offset_view(x)), expected, k=5)


def test_square_matmul_at_every_edge_size(rng, dtype, arch):
    for n in SMALL_SIZES:
        with labelled(n=n):
            a, b = random_array(rng, (n, n), dtype), random_array(rng, (n, n), dtype)
            expected = reference.matmul(a, b).astype(dtype)
            assert_close(matmul(offset_view(a), offset_view(b)), expected, k=max(n, 1))


@pytest.mark.parametrize(
    "shape",
    [(1, 10**6 + 3, 1), (3, 1, 10**5 + 3), (10**5 + 3, 2, 1)],
    ids=["long_k", "wide_n", "tall_m"],
)
def test_matmul_with_one_huge_dimension(rng, dtype, arch, shape):
    m, k, n = shape
    a, b = random_array(rng, (m, k), dtype), random_array(rng, (k, n), dtype)
    assert_close(matmul(a, b), reference.matmul(a, b).astype(dtype), k=k)


# ------------------------------------------------------- special values


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("n", [17, 33])
def test_special_value_at_each_position_of_body_and_tail(dtype, arch, n, special):
    base = np.linspace(-1, 1, n).astype(dtype)
    ones = np.ones(n, dtype)
    for position in range(n):
        x = base.copy()
        x[position] = special
        assert_close(relu(x), reference.relu(x), k=0)
        assert_close(add(x, ones), x + ones, k=0)
        assert_close(add(ones, x), ones + x, k=0)
        assert_close(relu_backward(x, ones), x, k=0)
        with np.errstate(invalid="ignore"):
            assert_close(np.asarray(dot(x, ones), dtype), f64_dot(x, ones), k=n)


def test_inf_minus_inf_in_dot_is_nan_wherever_the_terms_fall(dtype, arch):
    # +inf in one partial sum and -inf in another only meet in the final
    # combination: the result must still be NaN, as in NumPy.
    for n in (2, 40, 1000):
        x = np.ones(n, dtype)
        x[0], x[-1] = np.inf, -np.inf
        assert np.isnan(dot(x, np.ones(n, dtype))), f"n={n}"


@pytest.mark.parametrize("n", [1, 8, 9, 33])
def test_matmul_nan_and_inf_reach_exactly_the_entries_numpy_says(dtype, arch, n):
    # inf * 0 is NaN: a GEMM that skipped zero entries of B would miss it.
    a = np.ones((n, n), dtype)
    b = np.zeros((n, n), dtype)
    b[:, 0] = 1
    for i, j, special in [(0, 0, np.nan), (n - 1, n // 2, np.inf), (n // 2, n - 1, -np.inf)]:
        a_special = a.copy()
        a_special[i, j] = special
        with np.errstate(invalid="ignore"):
            expected = reference.matmul(a_special, b).astype(dtype)
        assert_close(matmul(a_special, b), expected, k=n)


def test_negative_zero_through_add_dot_and_matmul(dtype, arch):
    z = np.full(19, -0.0, dtype)
    sign = np.signbit
    np.testing.assert_array_equal(sign(add(z, z)), sign(z + z))  # -0 + -0 = -0
    np.testing.assert_array_equal(sign(add(z, -z)), sign(z + -z))  # -0 + 0 = +0
    # An empty sum is +0; a sum of -0 products is -0 in IEEE, but NumPy's
    # float64 reference sums from +0 too, so only the value is compared.
    assert dot(z, np.ones(19, dtype)) == 0.0
    assert_close(matmul(z.reshape(1, 19), np.ones((19, 3), dtype)), np.zeros((1, 3), dtype), k=19)


def test_subnormals_are_kept_not_flushed_to_zero(dtype, arch):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([tiny, -tiny, 3 * tiny] * 11, dtype)
    assert_close(relu(x), reference.relu(x), k=0)
    assert_close(add(x, x), x + x, k=0)
    assert relu(x)[0] == tiny and add(x, x)[0] == 2 * tiny
    # A product of two normal numbers that lands in the subnormal range.
    half = np.sqrt(np.finfo(dtype).tiny, dtype=np.float64).astype(dtype) / dtype(4)
    v = np.full(9, half, dtype)
    expected = f64_dot(v, v)
    assert expected != 0
    assert_close(np.asarray(dot(v, v), dtype), expected, k=9)
    assert_close(matmul(v.reshape(1, 9), v.reshape(9, 1)), expected.reshape(1, 1), k=9)


def test_largest_finite_values_overflow_to_inf_like_numpy(dtype, arch):
    big = np.full(21, np.finfo(dtype).max, dtype)
    with np.errstate(over="ignore"):
        assert_close(add(big, big), big + big, k=0)
    assert np.isposinf(add(big, big)).all()
    assert_close(relu(-big), np.zeros_like(big), k=0)


# ------------------------------------------------------ 64-bit index arithmetic

# A float32 array of 2**31 + 2**9 + 5 elements: any int32 index or size wraps
# around (to a negative number or a small one) well before the end. As a
# (rows, 128) matrix its last rows start above 2**31.
BIG_N = 2**31 + 2**9 + 5
BIG_BYTES = BIG_N * 4
BIG_COLS = 128


def available_memory():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def lazily_zeroed(n):
    """n float32 zeros that cost no memory until written: np.zeros gets fresh
    pages from the OS, and reading them maps the kernel's shared zero page."""
    try:
        return np.zeros(n, np.float32)
    except MemoryError:
        pytest.skip(f"cannot reserve {n * 4 / 2**30:.1f} GiB of address space")


@pytest.mark.skipif(
    available_memory() < 2**30, reason="needs 1 GiB of available memory for the page tables"
)
def test_reductions_and_matmul_index_past_two_to_the_31_elements():
    x = lazily_zeroed(BIG_N)
    rows = BIG_N // BIG_COLS
    matrix = x[: rows * BIG_COLS].reshape(rows, BIG_COLS)
    # A few values, all but one at flat indices above 2**31; an index that
    # wrapped to 32 bits would read zeros there (or fault) instead.
    matrix[-1, -3:] = [1, 2, 3]
    matrix[-3, 0] = 4
    x[-5:] = [5, 6, 7, 8, 9]  # past the matrix, in dot's scalar tail
    x[2**31 - 1] = 10  # the last index an int32 can hold
    assert dot(x, x) == sum(v * v for v in range(1, 11))

    expected_sums = np.zeros(BIG_COLS, np.float32)
    expected_sums[[125, 126, 127, 0]] = [1, 2, 3 + 10, 4]
    np.testing.assert_array_equal(column_sums(matrix), expected_sums)

    product = matmul(matrix, np.ones((BIG_COLS, 1), np.float32))
    expected_rows = {rows - 1: 6.0, rows - 3: 4.0, (2**31 - 1) // BIG_COLS: 10.0}
    assert {int(i): float(product[i, 0]) for i in np.flatnonzero(product)} == expected_rows


@pytest.mark.skipif(
    os.environ.get("DENSEOPS_BIG_TESTS") != "1" or available_memory() < BIG_BYTES + 4 * 2**30,
    reason="writes 8 GiB (10-20 s): set DENSEOPS_BIG_TESTS=1 on a machine with "
    f"{BIG_BYTES / 2**30 + 4:.0f} GiB of available memory",
)
def test_elementwise_kernels_write_past_two_to_the_31_elements():
    # relu and add write every element, so this one costs real memory and
    # time: one 8 GiB array, updated in place. The reads above already run
    # the same index_t loops past 2**31 at no memory cost.
    x = lazily_zeroed(BIG_N)
    x[-7:] = np.arange(7, dtype=np.float32) - 3
    x[2**31 - 1 : 2**31 + 2] = [5.0, -6.0, 7.0]
    x[:3] = [-1.0, 2.0, -3.0]
    assert relu(x, out=x) is x
    assert add(x, x, out=x) is x
    np.testing.assert_array_equal(x[-7:], [0, 0, 0, 0, 2, 4, 6])
    np.testing.assert_array_equal(x[2**31 - 1 : 2**31 + 2], [10.0, 0.0, 14.0])
    np.testing.assert_array_equal(x[:3], [0.0, 4.0, 0.0])
