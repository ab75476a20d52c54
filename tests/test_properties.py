"""Property tests: every kernel equals NumPy for any shape, dtype, layout and aliasing
hypothesis finds.

The example count is bounded by the "denseops" settings profile registered
below (DENSEOPS_HYPOTHESIS_EXAMPLES overrides it, e.g. for a long local
run), examples are derived from the test names so CI runs are repeatable,
and nothing is written to a .hypothesis database folder.
"""

import os

import numpy as np
from denseops import (
    add,
    column_sums,
    dot,
    matmul,
    reference,
    relu,
    relu_backward,
    softmax,
    sparse_softmax_cross_entropy,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

settings.register_profile(
    "denseops",
    max_examples=int(os.environ.get("DENSEOPS_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,  # the first call of a kernel may start the OpenMP team
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = settings.get_profile("denseops")

DTYPES = st.sampled_from([np.float32, np.float64])
LAYOUTS = st.sampled_from(["C", "F", "reversed", "strided", "offset"])


def in_layout(x, layout):
    """The same values as x, stored as `layout` names."""
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "reversed":
        flip = (slice(None, None, -1),) * x.ndim
        return np.ascontiguousarray(x[flip])[flip]
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in x.shape), x.dtype)
        view = big[(slice(None, None, 2),) * x.ndim]
        view[...] = x
        return view
    if layout == "offset":  # contiguous, starting one element in: not SIMD-aligned
        buffer = np.empty(x.size + 1, x.dtype)
        view = buffer[1:].reshape(x.shape)
        view[...] = x
        return view
    return np.ascontiguousarray(x)


def any_values(dtype, shape):
    """Arrays holding anything IEEE allows: NaN, +-inf, -0.0, subnormals."""
    return hnp.arrays(
        dtype, shape, elements=st.floats(width=np.dtype(dtype).itemsize * 8, allow_subnormal=True)
    )


def bounded_values(dtype, shape):
    """Finite values in [-1, 1], so sums stay far from overflow."""
    return hnp.arrays(dtype, shape, elements=st.floats(-1, 1, width=np.dtype(dtype).itemsize * 8))


def assert_identical(got, expected):
    """Bit-for-bit equality, NaNs in the same places, the sign of zero included."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(
        np.signbit(got[~np.isnan(got)]), np.signbit(expected[~np.isnan(expected)])
    )


def assert_sum_close(got, exact, magnitude, k, dtype):
    """|got - exact| within k roundings of the sum of the terms' magnitudes."""
    bound = 4 * k * np.finfo(dtype).eps * magnitude + np.finfo(dtype).tiny
    err = np.abs(np.asarray(got, np.float64) - exact)
    assert np.all(err <= bound), f"max abs difference {err.max():.3e} > bound {bound.max():.3e}"


@st.composite
def array_and_layout(draw, values, max_dims=3):
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=40))
    return draw(values(dtype, shape)), draw(LAYOUTS)


# ---------------------------------------------------------------- elementwise


@PROFILE
@given(array_and_layout(any_values))
def test_relu_is_numpy_maximum_with_zero(case):
    x, layout = case
    assert_identical(relu(in_layout(x, layout)), reference.relu(x))


@PROFILE
@given(array_and_layout(any_values), st.data())
def test_add_is_numpy_addition_same_shape_or_bias(case, data):
    x, layout = case
    if data.draw(st.booleans(), label="bias form"):
        y = data.draw(any_values(x.dtype, x.shape[-1:]), label="bias")
    else:
        y = data.draw(any_values(x.dtype, x.shape), label="y")
    with np.errstate(invalid="ignore", over="ignore"):
        expected = x + y
    assert_identical(add(in_layout(x, layout), in_layout(y, layout)), expected)


@PROFILE
@given(array_and_layout(any_values), st.data())
def test_relu_backward_passes_dout_where_y_is_positive(case, data):
    dout, layout = case
    y = data.draw(any_values(dout.dtype, dout.shape), label="y")
    assert_identical(
        relu_backward(in_layout(dout, layout), in_layout(y, layout)),
        reference.relu_backward(dout, y),
    )


@PROFILE
@given(array_and_layout(any_values, max_dims=1), st.integers(-45, 45), st.data())
def test_elementwise_out_overlapping_its_input_by_any_shift(case, shift, data):
    # out is x's own buffer shifted by `shift` elements (0 = x itself): the
    # result must be computed from x as it was before the call.
    x, _ = case
    n = x.size
    pad = abs(shift)
    buffer = np.zeros(n + 2 * pad, x.dtype)
    buffer[pad : pad + n] = x
    op = data.draw(st.sampled_from(["relu", "add"]), label="op")
    x_view = buffer[pad : pad + n]
    out = buffer[pad + shift : pad + shift + n]
    with np.errstate(invalid="ignore", over="ignore"):
        expected = reference.relu(x) if op == "relu" else x + x
    got = relu(x_view, out=out) if op == "relu" else add(x_view, x_view, out=out)
    assert got is out
    assert_identical(out, expected)


# ---------------------------------------------------------------- sums


@PROFILE
@given(
    DTYPES.flatmap(
        lambda d: st.integers(0, 300).flatmap(
            lambda n: st.tuples(bounded_values(d, (n,)), bounded_values(d, (n,)))
        )
    ),
    LAYOUTS,
)
def test_dot_is_the_exact_sum_within_rounding(xy, layout):
    x, y = xy
    exact = np.dot(x.astype(np.float64), y.astype(np.float64))
    magnitude = np.dot(np.abs(x.astype(np.float64)), np.abs(y.astype(np.float64)))
    got = dot(in_layout(x, layout), in_layout(y, layout))
    assert isinstance(got, float)
    assert_sum_close(got, exact, magnitude, max(x.size, 1), x.dtype)


@PROFILE
@given(
    st.data(),
    DTYPES,
    st.integers(0, 40),
    st.integers(0, 40),
    st.integers(0, 40),
    st.booleans(),
    st.booleans(),
    LAYOUTS,
    LAYOUTS,
)
def test_matmul_is_the_exact_product_within_rounding(
    data, dtype, m, k, n, trans_a, trans_b, layout_a, layout_b
):
    a = data.draw(bounded_values(dtype, (m, k)), label="a")
    b = data.draw(bounded_values(dtype, (k, n)), label="b")
    stored_a = in_layout(a.T.copy() if trans_a else a, layout_a)
    stored_b = in_layout(b.T.copy() if trans_b else b, layout_b)
    got = matmul(stored_a, stored_b, trans_a=trans_a, trans_b=trans_b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert got.shape == (m, n) and got.dtype == dtype
    assert_sum_close(got, a64 @ b64, np.abs(a64) @ np.abs(b64), max(k, 1), dtype)


@PROFILE
@given(st.data(), DTYPES, st.integers(1, 24), st.sampled_from(["a", "b"]))
def test_matmul_into_one_of_its_own_inputs(data, dtype, n, which):
    a = data.draw(bounded_values(dtype, (n, n)), label="a")
    b = data.draw(bounded_values(dtype, (n, n)), label="b")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    out = a if which == "a" else b
    assert matmul(a, b, out=out) is out
    assert_sum_close(out, a64 @ b64, np.abs(a64) @ np.abs(b64), n, dtype)


@PROFILE
@given(array_and_layout(bounded_values, max_dims=2).filter(lambda c: c[0].ndim == 2))
def test_column_sums_is_the_exact_sum_within_rounding(case):
    x, layout = case
    x64 = x.astype(np.float64)
    assert_sum_close(
        column_sums(in_layout(x, layout)),
        x64.sum(axis=0),
        np.abs(x64).sum(axis=0),
        max(x.shape[0], 1),
        x.dtype,
    )


# ---------------------------------------------------------------- softmax


@PROFILE
@given(st.data(), DTYPES, st.integers(1, 20), st.integers(1, 30), LAYOUTS)
def test_softmax_rows_are_probabilities_matching_numpy(data, dtype, rows, cols, layout):
    x = data.draw(
        hnp.arrays(
            dtype, (rows, cols), elements=st.floats(-80, 80, width=np.dtype(dtype).itemsize * 8)
        ),
        label="logits",
    )
    expected = reference.softmax(x)
    got = softmax(in_layout(x, layout))
    assert_sum_close(got, expected, np.ones_like(expected), 4 * cols, dtype)
    labels = data.draw(
        hnp.arrays(np.int64, (rows,), elements=st.integers(0, cols - 1)), label="labels"
    )
    loss, correct = sparse_softmax_cross_entropy(in_layout(x, layout), labels)
    exact, exact_correct, _ = reference.sparse_softmax_cross_entropy(x, labels)
    assert (
        abs(loss - exact) <= 1e-4 * (1 + abs(exact))
        if dtype == np.float32
        else abs(loss - exact) <= 1e-10 * (1 + abs(exact))
    )
    assert correct == exact_correct
