"""Every kernel against NumPy: dtypes x shapes x memory layouts x SIMD paths, and out=.

Expected values come from denseops.reference (NumPy, in float64 where a sum
is involved, then rounded to the kernel's dtype); `assert_close` in
helpers.py holds the tolerances. Deep GEMM sizes and forced GEMM paths live in test_gemm.py; here
matmul is tested at the API level.
"""

import itertools

import denseops
import numpy as np
import pytest
from denseops import add, column_sums, dot, matmul, reference, relu, relu_backward
from helpers import (
    LAYOUTS,
    assert_close,
    assert_unchanged,
    in_layout,
    labelled,
    matmul_operands,
    random_array,
    snapshot,
)

# Elementwise shapes: empty, single element, odd sizes that leave SIMD tails,
# N-D, and one above the size where the kernels start OpenMP threads (2**17).
ELEMENTWISE_SHAPES = [(), (0,), (1,), (7,), (0, 5), (5, 0), (3, 5), (17, 31), (2, 3, 5), (513, 300)]
# (rows, cols) for the bias form of add and for column_sums.
MATRIX_SHAPES = [(0, 5), (5, 0), (1, 1), (1, 9), (9, 1), (3, 5), (17, 31), (513, 300)]
# dot lengths around the 16 / 32 partial sums, and one above the threading threshold.
DOT_LENGTHS = [0, 1, 2, 15, 16, 17, 31, 33, 1000, 100_003]
# matmul (M, K, N): zeros, ones, primes, and one product big enough to thread.
MATMUL_SHAPES = [
    (0, 3, 4),
    (3, 0, 4),
    (3, 4, 0),
    (1, 1, 1),
    (1, 7, 1),
    (7, 1, 5),
    (2, 3, 5),
    (13, 17, 11),
    (31, 37, 29),
    (67, 131, 97),
]


def shape_id(shape):
    return "x".join(map(str, shape)) if shape else "scalar"


# ------------------------------------------------------------------- relu


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=shape_id)
def test_relu_matches_numpy(rng, dtype, shape):
    for layout in LAYOUTS:
        with labelled(layout=layout):
            x = in_layout(random_array(rng, shape, dtype), layout)
            before = snapshot(x)
            got = relu(x)
            assert_close(got, reference.relu(x), k=0)
            assert got.flags.c_contiguous
            assert_unchanged([x], before)


@pytest.mark.parametrize("n", [1, 8, 37, 1000])
def test_relu_propagates_nan_and_inf_like_numpy(dtype, arch, n):
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, -1.0, 1.0, 0.0], dtype)
    x = np.resize(specials, n)
    assert_close(relu(x), reference.relu(x), k=0)


@pytest.mark.parametrize("n", [1, 8, 37, 1000])
def test_relu_negative_zero_gives_the_sign_numpy_gives(dtype, arch, n):
    x = np.full(n, -0.0, dtype)
    got, expected = relu(x), reference.relu(x)
    np.testing.assert_array_equal(
        np.signbit(got),
        np.signbit(expected),
        err_msg=f"relu(-0.0) = {got[0]!r} but reference.relu(-0.0) = {expected[0]!r}",
    )


# ---------------------------------------------------------- relu_backward


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=shape_id)
def test_relu_backward_matches_numpy(rng, dtype, shape):
    for layout in LAYOUTS:
        with labelled(layout=layout):
            y = in_layout(reference.relu(random_array(rng, shape, dtype)), layout)
            dout = in_layout(random_array(rng, shape, dtype), layout)
            before = snapshot(dout, y)
            got = relu_backward(dout, y)
            assert_close(got, reference.relu_backward(dout, y), k=0)
            assert_unchanged([dout, y], before)


# -------------------------------------------------------------------- add


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=shape_id)
def test_add_same_shapes_matches_numpy(rng, dtype, shape):
    for layout in LAYOUTS:
        with labelled(layout=layout):
            x = in_layout(random_array(rng, shape, dtype), layout)
            y = in_layout(random_array(rng, shape, dtype), "reversed" if layout == "C" else "C")
            before = snapshot(x, y)
            assert_close(add(x, y), reference.add(x, y), k=0)
            assert_unchanged([x, y], before)


@pytest.mark.parametrize("shape", MATRIX_SHAPES + [(2, 3, 5), (4, 1, 7)], ids=shape_id)
def test_add_bias_matches_numpy(rng, dtype, shape):
    for layout in LAYOUTS:
        with labelled(layout=layout):
            x = in_layout(random_array(rng, shape, dtype), layout)
            bias = in_layout(random_array(rng, shape[-1:], dtype), layout)
            before = snapshot(x, bias)
            assert_close(add(x, bias), reference.add(x, bias), k=0)
            assert_unchanged([x, bias], before)


def test_add_propagates_nan_and_inf_like_numpy(dtype, arch):
    x = np.array([np.nan, np.inf, np.inf, -np.inf, 1.0, -0.0] * 3, dtype)
    y = np.array([1.0, -np.inf, np.inf, 2.0, np.nan, -0.0] * 3, dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf
        expected = x + y
    got = add(x, y)
    assert_close(got, expected, k=0)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


# -------------------------------------------------------------------- dot


@pytest.mark.parametrize("n", DOT_LENGTHS)
def test_dot_matches_numpy(rng, dtype, n):
    for layout in LAYOUTS:
        with labelled(layout=layout):
            x = in_layout(random_array(rng, (n,), dtype), layout)
            y = in_layout(random_array(rng, (n,), dtype), layout)
            got = dot(x, y)
            expected = reference.dot(x, y)
            assert_close(np.asarray(got, dtype), np.asarray(expected, dtype), k=n)


def test_dot_returns_python_float(rng, dtype):
    x, y = random_array(rng, (10,), dtype), random_array(rng, (10,), dtype)
    assert type(dot(x, y)) is float
    assert type(dot(x[:0], y[:0])) is float


def test_dot_of_empty_vectors_is_zero(dtype):
    assert dot(np.empty(0, dtype), np.empty(0, dtype)) == 0.0


def test_dot_propagates_nan_and_inf(dtype, arch):
    ones = np.ones(40, dtype)
    with_nan, with_inf = ones.copy(), ones.copy()
    with_nan[33], with_inf[5] = np.nan, np.inf
    assert np.isnan(dot(with_nan, ones))
    assert dot(with_inf, ones) == np.inf


# ------------------------------------------------------------ column_sums


@pytest.mark.parametrize("shape", MATRIX_SHAPES, ids=shape_id)
def test_column_sums_matches_numpy(rng, dtype, shape):
    for layout in LAYOUTS:
        with labelled(layout=layout):
            x = in_layout(random_array(rng, shape, dtype), layout)
            before = snapshot(x)
            got = column_sums(x)
            assert_close(got, reference.column_sums(x).astype(dtype), k=shape[0])
            assert_unchanged([x], before)


# ----------------------------------------------------------------- matmul


@pytest.mark.parametrize("shape", MATMUL_SHAPES, ids=shape_id)
def test_matmul_matches_numpy(rng, dtype, shape):
    for layout, trans_a, trans_b in itertools.product(
        ["C", "F", "strided", "reversed"], [False, True], [False, True]
    ):
        with labelled(layout=layout, trans_a=trans_a, trans_b=trans_b):
            a, b, expected = matmul_operands(rng, dtype, shape, trans_a, trans_b, layout, layout)
            before = snapshot(a, b)
            got = matmul(a, b, trans_a=trans_a, trans_b=trans_b)
            assert_close(got, expected, k=shape[1])
            assert got.flags.c_contiguous
            assert_unchanged([a, b], before)


@pytest.mark.parametrize("layout_b", ["C", "F", "strided", "reversed", "unaligned"])
@pytest.mark.parametrize("layout_a", ["C", "F", "strided", "reversed", "unaligned"])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, True)], ids=["ab", "aTbT"])
def test_matmul_mixed_layouts_match_numpy(rng, dtype, layout_a, layout_b, trans_a, trans_b):
    shape = (11, 23, 13)
    a, b, expected = matmul_operands(rng, dtype, shape, trans_a, trans_b, layout_a, layout_b)
    assert_close(matmul(a, b, trans_a=trans_a, trans_b=trans_b), expected, k=shape[1])


@pytest.mark.parametrize("shape", [(1, 1, 1), (13, 17, 11), (67, 131, 97)], ids=shape_id)
def test_matmul_matches_numpy_on_each_simd_path(rng, dtype, shape, arch):
    a, b, expected = matmul_operands(rng, dtype, shape, False, True, "C", "C")
    assert_close(matmul(a, b, trans_b=True), expected, k=shape[1])


def test_matmul_with_zero_k_gives_zeros(dtype):
    # NumPy's answer: an empty sum is 0, even into an `out` holding garbage.
    out = np.full((3, 4), np.nan, dtype)
    got = matmul(np.empty((3, 0), dtype), np.empty((0, 4), dtype), out=out)
    np.testing.assert_array_equal(got, np.zeros((3, 4), dtype))


def test_matmul_propagates_nan_and_inf_like_numpy(rng, dtype):
    a = random_array(rng, (6, 9), dtype)
    b = random_array(rng, (9, 5), dtype)
    a[1, 4], a[3, 0], b[2, 3] = np.nan, np.inf, np.inf  # inf * 0 is NaN too
    with np.errstate(invalid="ignore"):
        expected = reference.matmul(a, b).astype(dtype)
    assert_close(matmul(a, b), expected, k=9)


# ------------------------------------------------------- each SIMD path
# The layout tests above run on the default path; inputs reach the kernels
# contiguous whatever their layout, so here each path sees C-ordered data.


@pytest.mark.parametrize("shape", [(1,), (7,), (33,), (3, 5), (17, 31), (513, 300)], ids=shape_id)
def test_elementwise_kernels_match_numpy_on_each_simd_path(rng, dtype, shape, arch):
    x, y = random_array(rng, shape, dtype), random_array(rng, shape, dtype)
    bias = random_array(rng, shape[-1:], dtype)
    assert_close(relu(x), reference.relu(x), k=0)
    assert_close(relu_backward(y, relu(x)), reference.relu_backward(y, x), k=0)
    assert_close(add(x, y), reference.add(x, y), k=0)
    assert_close(add(x, bias), reference.add(x, bias), k=0)


@pytest.mark.parametrize("shape", [(1, 1), (17, 31), (513, 300)], ids=shape_id)
def test_column_sums_matches_numpy_on_each_simd_path(rng, dtype, shape, arch):
    x = random_array(rng, shape, dtype)
    assert_close(column_sums(x), reference.column_sums(x).astype(dtype), k=shape[0])


@pytest.mark.parametrize("n", DOT_LENGTHS)
def test_dot_matches_numpy_on_each_simd_path(rng, dtype, n, arch):
    x, y = random_array(rng, (n,), dtype), random_array(rng, (n,), dtype)
    expected = reference.dot(x, y)
    assert_close(np.asarray(dot(x, y), dtype), np.asarray(expected, dtype), k=n)


# ------------------------------------------------------------ out=, shared

# Each elementwise op as (make inputs, call with out, NumPy's answer), so the
# out= rules are tested once for all of them.


def _relu_case(rng, shape, dtype):
    x = random_array(rng, shape, dtype)
    return [x], lambda x, out=None: relu(x, out=out), lambda x: reference.relu(x)


def _relu_backward_case(rng, shape, dtype):
    dout, y = random_array(rng, shape, dtype), reference.relu(random_array(rng, shape, dtype))
    return (
        [dout, y],
        lambda d, y, out=None: relu_backward(d, y, out=out),
        lambda d, y: reference.relu_backward(d, y),
    )


def _add_case(rng, shape, dtype):
    x, y = random_array(rng, shape, dtype), random_array(rng, shape, dtype)
    return [x, y], lambda x, y, out=None: add(x, y, out=out), lambda x, y: x + y


ELEMENTWISE_CASES = {"relu": _relu_case, "relu_backward": _relu_backward_case, "add": _add_case}


@pytest.mark.parametrize("op", ELEMENTWISE_CASES)
@pytest.mark.parametrize("shape", [(0,), (7,), (3, 5), (513, 300)], ids=shape_id)
def test_elementwise_out_is_filled_and_returned(rng, dtype, op, shape):
    inputs, call, numpy_op = ELEMENTWISE_CASES[op](rng, shape, dtype)
    out = np.full(shape, np.nan, dtype)
    got = call(*inputs, out=out)
    assert got is out
    assert_close(out, numpy_op(*inputs), k=0)


@pytest.mark.parametrize("op", ELEMENTWISE_CASES)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (513, 300)], ids=shape_id)
def test_elementwise_out_aliasing_each_input(rng, dtype, op, shape):
    inputs, call, numpy_op = ELEMENTWISE_CASES[op](rng, shape, dtype)
    expected = numpy_op(*inputs)
    for position in range(len(inputs)):
        args = [x.copy() for x in inputs]
        got = call(*args, out=args[position])
        assert got is args[position]
        assert_close(got, expected, k=0)


@pytest.mark.parametrize("op", ELEMENTWISE_CASES)
@pytest.mark.parametrize("shift", [-17, -1, 1, 3, 16])
@pytest.mark.parametrize("n", [40, 140_001])
def test_elementwise_out_partially_overlapping_input(rng, dtype, op, shift, n):
    # out is a shifted view of the buffer holding the first input: a kernel
    # that wrote while still reading would see its own output.
    inputs, call, numpy_op = ELEMENTWISE_CASES[op](rng, (n,), dtype)
    buffer = np.concatenate(
        [
            random_array(rng, (abs(shift),), dtype),
            inputs[0],
            random_array(rng, (abs(shift),), dtype),
        ]
    )
    first = buffer[abs(shift) : abs(shift) + n]
    out = buffer[abs(shift) + shift : abs(shift) + shift + n]
    expected = numpy_op(first, *inputs[1:])
    got = call(first, *inputs[1:], out=out)
    assert got is out
    assert_close(out, expected, k=0)


def test_add_bias_overlapping_out_matches_numpy(rng, dtype):
    # The bias is a row of the very array being written: every row must still
    # get the bias as it was before the call, as with np.add(x, x[r], out=x).
    x = random_array(rng, (4, 6), dtype)
    for row in range(4):
        data = x.copy()
        expected = data + data[row]
        got = add(data, data[row], out=data)
        assert got is data
        assert_close(got, expected, k=0)


def test_add_bias_out_returns_same_object(rng, dtype):
    x, bias = random_array(rng, (5, 3), dtype), random_array(rng, (3,), dtype)
    out = np.empty((5, 3), dtype)
    assert add(x, bias, out=out) is out
    assert_close(out, x + bias, k=0)


def test_column_sums_out_is_filled_and_returned(rng, dtype):
    x = random_array(rng, (9, 4), dtype)
    out = np.full(4, np.nan, dtype)
    assert column_sums(x, out=out) is out
    assert_close(out, reference.column_sums(x).astype(dtype), k=9)


@pytest.mark.parametrize("row", [0, 5, 8])
def test_column_sums_out_overlapping_input(rng, dtype, row):
    x = random_array(rng, (9, 4), dtype)
    expected = reference.column_sums(x).astype(dtype)
    out = x[row]
    assert column_sums(x, out=out) is out
    assert_close(out, expected, k=9)


@pytest.mark.parametrize("shape", [(4, 4, 4), (67, 131, 97)], ids=shape_id)
def test_matmul_out_is_filled_and_returned(rng, dtype, shape):
    a, b, expected = matmul_operands(rng, dtype, shape, False, False, "C", "C")
    out = np.full((shape[0], shape[2]), np.nan, dtype)
    assert matmul(a, b, out=out) is out
    assert_close(out, expected, k=shape[1])


@pytest.mark.parametrize(
    "trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)]
)
@pytest.mark.parametrize("which", ["a", "b", "both"])
def test_matmul_out_aliasing_an_input(rng, dtype, which, trans_a, trans_b):
    # Square operands, so out can be a or b itself: the product must still be
    # computed from the inputs as they were before the call.
    n = 37
    a, b, expected = matmul_operands(rng, dtype, (n, n, n), trans_a, trans_b, "C", "C")
    if which == "both":
        b = a
        expected = reference.matmul(a, b, trans_a, trans_b).astype(dtype)
    out = a if which in ("a", "both") else b
    got = matmul(a, b, out=out, trans_a=trans_a, trans_b=trans_b)
    assert got is out
    assert_close(got, expected, k=n)


@pytest.mark.parametrize("shift", [-1, 1, 13])
def test_matmul_out_partially_overlapping_an_input(rng, dtype, shift):
    m, k, n = 8, 8, 8
    buffer = random_array(rng, (m * k + 2 * abs(shift) + m * n,), dtype)
    a = buffer[abs(shift) : abs(shift) + m * k].reshape(m, k)
    b = random_array(rng, (k, n), dtype)
    expected = reference.matmul(a, b).astype(dtype)
    out = buffer[abs(shift) + shift : abs(shift) + shift + m * n].reshape(m, n)
    assert np.shares_memory(out, a)
    got = matmul(a, b, out=out)
    assert got is out
    assert_close(out, expected, k=k)


# ------------------------------------------------------------ input kinds


def test_kernels_accept_read_only_inputs(rng, dtype):
    x = random_array(rng, (5, 4), dtype)
    w = random_array(rng, (4, 3), dtype)
    v = random_array(rng, (4,), dtype)
    for arr in (x, w, v):
        arr.flags.writeable = False
    assert_close(relu(x), reference.relu(x), k=0)
    assert_close(add(x, v), x + v, k=0)
    assert_close(matmul(x, w), reference.matmul(x, w).astype(dtype), k=4)
    assert_close(np.asarray(dot(v, v), dtype), np.asarray(reference.dot(v, v), dtype), k=4)


def test_kernels_accept_broadcast_views(rng, dtype):
    # Zero strides: one row repeated, as np.broadcast_to makes.
    row = random_array(rng, (6,), dtype)
    x = np.broadcast_to(row, (5, 6))
    assert_close(relu(x), reference.relu(x), k=0)
    assert_close(column_sums(x), reference.column_sums(x).astype(dtype), k=5)
    assert_close(
        matmul(x, x, trans_b=True), reference.matmul(x, x, trans_b=True).astype(dtype), k=6
    )


def test_kernels_are_exported_from_the_package():
    for name in ("relu", "relu_backward", "add", "dot", "column_sums", "matmul"):
        assert callable(getattr(denseops, name))
        assert name in denseops.__all__
