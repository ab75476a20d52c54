# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""The textbook loops of denseops.reference, compiled by Cython.

Typed memoryviews remove the interpreter from the inner loop; there are no
SIMD hints and no threads, so this is "what a compiler gives you for free",
the middle rung between Python loops and the hand-tuned kernels.
"""

import numpy as np

ctypedef fused real:
    float
    double

def naive_relu(real[:, :] x):
    """max(x, 0) for a 2-D float32/float64 array."""
    cdef Py_ssize_t i, j
    out = np.empty((x.shape[0], x.shape[1]), dtype=np.float32 if real is float else np.float64)
    cdef real[:, ::1] o = out
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            # `x < 0` rather than `x > 0` keeps NaN as NaN, like np.maximum(x, 0).
            o[i, j] = 0 if x[i, j] < 0 else x[i, j] + 0  # + 0 turns -0.0 into +0.0
    return out

def naive_add(real[:, :] x, real[:, :] y):
    """x + y for two 2-D arrays of the same shape and dtype."""
    if x.shape[0] != y.shape[0] or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"naive_add: shapes ({x.shape[0]}, {x.shape[1]}) and "
            f"({y.shape[0]}, {y.shape[1]}) differ")
    cdef Py_ssize_t i, j
    out = np.empty((x.shape[0], x.shape[1]), dtype=np.float32 if real is float else np.float64)
    cdef real[:, ::1] o = out
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            o[i, j] = x[i, j] + y[i, j]
    return out

def naive_vector_dot(real[:] x, real[:] y):
    """The dot product of two 1-D arrays of the same length and dtype."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"naive_vector_dot: lengths {x.shape[0]} and {y.shape[0]} differ")
    cdef Py_ssize_t i
    cdef real z = 0
    for i in range(x.shape[0]):
        z += x[i] * y[i]
    return z

def naive_matmul(real[:, :] a, real[:, :] b):
    """a @ b for 2-D arrays a (m, k) and b (k, n) of one dtype."""
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"naive_matmul: shapes ({a.shape[0]}, {a.shape[1]}) and "
            f"({b.shape[0]}, {b.shape[1]}) do not fit")
    cdef Py_ssize_t i, j, p
    cdef real total
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32 if real is float else np.float64)
    cdef real[:, ::1] o = out
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            total = 0
            for p in range(a.shape[1]):
                total += a[i, p] * b[p, j]
            o[i, j] = total
    return out
