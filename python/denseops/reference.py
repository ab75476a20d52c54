"""The textbook loops: pure Python, one element at a time.

These are the slowest rung of the benchmark ladder and the plainest
statement of what each kernel computes, so tests use them as oracles.
They take and return NumPy arrays (or anything indexable the same way).
"""

import numpy as np


def naive_relu(x):
    """max(x, 0) for a 2-D array, element by element."""
    assert len(x.shape) == 2
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x


def naive_add(x, y):
    """x + y for two 2-D arrays of the same shape, element by element."""
    assert len(x.shape) == 2
    assert x.shape == y.shape
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[i, j]
    return x


def naive_vector_dot(x, y):
    """The dot product of two 1-D arrays of the same length."""
    assert len(x.shape) == 1
    assert len(y.shape) == 1
    assert x.shape[0] == y.shape[0]
    z = 0.0
    for i in range(x.shape[0]):
        z += x[i] * y[i]
    return z


def naive_matmul(a, b):
    """a @ b for 2-D arrays a (m, k) and b (k, n): three nested loops."""
    assert len(a.shape) == 2 and len(b.shape) == 2
    assert a.shape[1] == b.shape[0]
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    for i in range(m):
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += a[i, p] * b[p, j]
            out[i, j] = total
    return out
