"""The blocked GEMM at every edge of its blocking, on each SIMD path and thread count.

Block sizes (csrc/kernels/gemm_kernels.hpp): MR = 6 rows (AVX2) or 4 (generic);
NR = 16 / 8 columns (AVX2 f32 / f64) or 8 / 4 (generic); KC = 256, or all of
K in one pass when A fits in 512 KiB and K * NR in 64 KiB; MC = 144 (f32) /
72 (f64); NC = 4080. Products of up to 32 columns read A unpacked; below 4096
multiply-adds the textbook loop runs; rows of A are read in place (no packing)
when they are contiguous and A fits in 512 KiB; from 2 x 2**18 multiply-adds two
threads split columns when there are few rows or A is read in place, otherwise
rows in whole MR panels (shared packed B).
The shapes below sit on each side of those edges (csrc/kernels/gemm_blocked.hpp).

The bound is `assert_close(..., k=K)` from helpers.py: error within
4 * K * eps * (1 + |expected|) of a float64 NumPy product.
"""

import numpy as np
import pytest
from helpers import assert_close, in_layout, random_array

import denseops
from denseops import matmul

# (M, K, N)
EDGE_SHAPES = [
    # micro-tile edges: MR +- 1 rows, NR +- 1 columns, one-element K
    (1, 1, 1), (4, 5, 8), (5, 3, 7), (6, 16, 16), (7, 9, 17), (12, 40, 33), (13, 1, 15),
    (3, 70, 9), (25, 20, 4),
    # KC edges: K = 255, 256, 257 in one pass (A fits in L2), K = 1024 / 1025
    # at the one-pass limit, and A too big for one pass: 3 K blocks
    (7, 255, 17), (6, 256, 16), (13, 257, 31), (9, 513, 5), (13, 1024, 31), (7, 1025, 17),
    (300, 513, 20),
    # MC edges (72 and 144 rows) with partial micro-tiles
    (71, 30, 20), (73, 64, 40), (143, 20, 17), (144, 33, 16), (145, 70, 41),
    # NC edge: 4080 columns and one past it
    (2, 3, 4080), (7, 5, 4081),
    # unpacked-A edge: 32 and 33 columns, several MR panels
    (50, 300, 32), (50, 300, 33),
]

# Products big enough for two threads, one per way of splitting the work.
THREADED_SHAPES = [
    (150, 513, 300),  # A read in place: columns split; aT: rows split 72 + 78, shared B
    (130, 784, 500),  # MNIST-like: columns split, last column panel 4 wide; aT: 66 + 64 rows
    (151, 1100, 41),  # A too big to read in place: packed, 5 K blocks, edge tiles
    (131, 520, 10),   # rows split, skinny N: A read in place, B packed per thread
    (13, 300, 700),   # few rows: columns split, each thread its own panels
    (293, 70, 4100),  # two NC blocks
]


def shape_id(shape):
    return "x".join(map(str, shape))


def operands(rng, dtype, shape, trans_a, trans_b, layout):
    """Stored a, b for matmul(a, b, trans_a=, trans_b=), and the expected product."""
    m, k, n = shape
    a = random_array(rng, (m, k), dtype)
    b = random_array(rng, (k, n), dtype)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(dtype)
    return (in_layout(a.T if trans_a else a, layout), in_layout(b.T if trans_b else b, layout),
            expected)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    denseops.set_num_threads(request.param)
    return request.param


@pytest.mark.parametrize("trans_b", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("trans_a", [False, True], ids=["a", "aT"])
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=shape_id)
def test_gemm_edge_shapes_match_numpy(rng, dtype, arch, threads, shape, trans_a, trans_b):
    a, b, expected = operands(rng, dtype, shape, trans_a, trans_b, "C")
    assert_close(matmul(a, b, trans_a=trans_a, trans_b=trans_b), expected, k=shape[1])


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)],
                         ids=["ab", "aTb", "abT"])
@pytest.mark.parametrize("shape", THREADED_SHAPES, ids=shape_id)
def test_gemm_threaded_shapes_match_numpy(rng, dtype, arch, threads, shape, trans_a, trans_b):
    a, b, expected = operands(rng, dtype, shape, trans_a, trans_b, "C")
    assert_close(matmul(a, b, trans_a=trans_a, trans_b=trans_b), expected, k=shape[1])


@pytest.mark.parametrize("layout", ["F", "strided", "reversed", "sliced"])
@pytest.mark.parametrize("shape", [(13, 257, 31), (50, 300, 20), (150, 513, 300)],
                         ids=shape_id)
def test_gemm_strided_inputs_match_numpy(rng, dtype, arch, threads, shape, layout):
    # Both transposes at once: every packing routine sees a non-unit stride.
    for trans_a, trans_b in [(False, False), (True, True)]:
        a, b, expected = operands(rng, dtype, shape, trans_a, trans_b, layout)
        assert_close(matmul(a, b, trans_a=trans_a, trans_b=trans_b), expected, k=shape[1])


def test_gemm_overwrites_out_whatever_it_held(rng, dtype, arch, threads):
    # The first K block must write C, not add to it.
    a, b, expected = operands(rng, dtype, (145, 513, 41), False, False, "C")
    out = np.full(expected.shape, np.nan, dtype)
    assert matmul(a, b, out=out) is out
    assert_close(out, expected, k=513)


def test_gemm_edge_tiles_do_not_write_outside_c(rng, dtype, arch, threads):
    # out is a C-contiguous window of a bigger buffer: the guard cells on
    # either side must keep their value (a full tile stored at an edge would not).
    m, k, n, guard = 13, 257, 33, 64
    a, b, expected = operands(rng, dtype, (m, k, n), False, False, "C")
    canvas = np.full(guard + m * n + guard, 7.0, dtype)
    out = canvas[guard:guard + m * n].reshape(m, n)
    matmul(a, b, out=out)
    assert_close(out, expected, k=k)
    np.testing.assert_array_equal(canvas[:guard], 7.0)
    np.testing.assert_array_equal(canvas[guard + m * n:], 7.0)


def test_gemm_is_deterministic_across_thread_counts(rng, dtype, arch):
    # Each C element is summed in the same order whatever the split.
    a, b, _ = operands(rng, dtype, (150, 513, 300), False, False, "C")
    denseops.set_num_threads(1)
    one = matmul(a, b)
    denseops.set_num_threads(2)
    np.testing.assert_array_equal(matmul(a, b), one)


def test_gemm_kind_names_the_micro_kernel(arch):
    config = denseops._kernels._config()
    for key in ("gemm_f32", "gemm_f64"):
        assert config[key].startswith(arch + ":"), config[key]
        assert "micro-kernel" in config[key], config[key]
