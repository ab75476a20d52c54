"""The textbook loops (pure Python and Cython) against NumPy, on small inputs.

They are the benchmarks' baselines and the plainest statement of what each
kernel computes, so they must agree with NumPy themselves before anything is
compared with them.
"""

import numpy as np
import pytest
from denseops import _naive_cy, reference
from helpers import assert_close, in_layout, random_array

IMPLEMENTATIONS = {"python": reference, "cython": _naive_cy}
# Small, since the pure-Python loops take microseconds per element.
MATRIX_SHAPES = [(0, 3), (3, 0), (1, 1), (2, 3), (5, 7)]
MATMUL_SHAPES = [(1, 1, 1), (0, 2, 3), (2, 0, 3), (2, 3, 0), (3, 4, 5), (7, 5, 3)]
# The Cython loops read strided memoryviews; Python indexes element by element.
LAYOUTS = ("C", "F", "strided", "reversed")


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request):
    return IMPLEMENTATIONS[request.param]


def shape_id(shape):
    return "x".join(map(str, shape))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", MATRIX_SHAPES, ids=shape_id)
def test_naive_relu_matches_numpy(impl, rng, dtype, shape, layout):
    x = in_layout(random_array(rng, shape, dtype), layout)
    assert_close(impl.naive_relu(x), np.maximum(x, 0), k=0)


def test_naive_relu_keeps_nan_like_numpy(impl, dtype):
    x = np.array([[np.nan, -1.0, 2.0], [np.inf, -np.inf, np.nan]], dtype)
    assert_close(impl.naive_relu(x), np.maximum(x, 0), k=0)


def test_naive_relu_leaves_its_input_alone(impl, rng, dtype):
    x = random_array(rng, (3, 4), dtype)
    before = x.copy()
    impl.naive_relu(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", MATRIX_SHAPES, ids=shape_id)
def test_naive_add_matches_numpy(impl, rng, dtype, shape, layout):
    x = in_layout(random_array(rng, shape, dtype), layout)
    y = random_array(rng, shape, dtype)
    before = x.copy()
    assert_close(impl.naive_add(x, y), x + y, k=0)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [0, 1, 2, 17, 100])
def test_naive_vector_dot_matches_numpy(impl, rng, dtype, n, layout):
    x = in_layout(random_array(rng, (n,), dtype), layout)
    y = random_array(rng, (n,), dtype)
    expected = np.dot(x.astype(np.float64), y.astype(np.float64))
    got = impl.naive_vector_dot(x, y)
    assert_close(np.asarray(got, dtype), np.asarray(expected, dtype), k=n)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", MATMUL_SHAPES, ids=shape_id)
def test_naive_matmul_matches_numpy(impl, rng, dtype, shape, layout):
    m, k, n = shape
    a = in_layout(random_array(rng, (m, k), dtype), layout)
    b = random_array(rng, (k, n), dtype)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(dtype)
    assert_close(impl.naive_matmul(a, b), expected, k=k)


def test_cython_loops_reject_mismatched_shapes(dtype):
    a, b = np.ones((2, 3), dtype), np.ones((4, 5), dtype)
    with pytest.raises(ValueError, match=r"naive_add: shapes \(2, 3\) and \(4, 5\) differ"):
        _naive_cy.naive_add(a, b)
    with pytest.raises(ValueError, match=r"naive_matmul: shapes \(2, 3\) and \(4, 5\) do not fit"):
        _naive_cy.naive_matmul(a, b)
    with pytest.raises(ValueError, match="naive_vector_dot: lengths 3 and 4 differ"):
        _naive_cy.naive_vector_dot(np.ones(3, dtype), np.ones(4, dtype))
