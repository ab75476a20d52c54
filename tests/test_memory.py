"""No leaks: resident memory and reference counts stay flat over many calls.

Each test warms up first (allocator pools, pybind11's type caches, the
OpenMP team), collects garbage, reads the resident set size from
/proc/self/statm, runs many calls, and checks growth stays under 1 MB. A
leak of even one small array per call would cost 10**5 x 80+ bytes = 8 MB,
and one large result per call gigabytes, so the bound can only be met by
code that frees everything.
"""

import gc
import os
import sys

import numpy as np
import pytest
from denseops import (
    add,
    column_sums,
    dot,
    matmul,
    relu,
    relu_backward,
    sgd_update,
    softmax,
    sparse_softmax_cross_entropy,
)
from helpers import random_array

PAGE = os.sysconf("SC_PAGE_SIZE")
LIMIT = 2**20  # bytes


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def growth(run, repeats, warmup):
    """RSS growth in bytes over `repeats` calls of run(), after `warmup` calls."""
    for _ in range(warmup):
        run()
    before = rss()
    for _ in range(repeats):
        run()
    return rss() - before


def small_calls(dtype):
    rng = np.random.default_rng(0)
    x, y = random_array(rng, (4, 5), dtype), random_array(rng, (4, 5), dtype)
    w, v = random_array(rng, (5, 3), dtype), random_array(rng, (5,), dtype)
    out = np.empty((4, 5), dtype)
    labels = np.array([0, 1, 2, 1])
    weights, grad = np.ones(16, dtype), np.full(16, 1e-9, dtype)

    def run():
        relu(x)
        relu(x, out=out)
        add(x, v)
        relu_backward(x, y, out=out)
        dot(v, v)
        column_sums(x)
        matmul(x, w)
        softmax(x)
        sparse_softmax_cross_entropy(x, labels, dlogits=out)
        sgd_update(weights, grad, learning_rate=0.1)

    return run, (x, y, w, v, out, labels, weights, grad)


def test_100k_small_calls_do_not_grow_memory(dtype):
    run, _ = small_calls(dtype)
    grown = growth(run, repeats=10**5 // 10, warmup=2000)  # 10 kernels per run: 10**5 calls
    assert grown < LIMIT, f"RSS grew by {grown / 1024:.0f} KiB over 10**5 small calls"


def test_1000_large_calls_do_not_grow_memory():
    rng = np.random.default_rng(1)
    x = random_array(rng, (512, 512), np.float32)  # 1 MB results: past malloc's mmap threshold
    w = random_array(rng, (512, 16), np.float32)

    def run():
        relu(x)
        add(x, x)
        matmul(x, w)
        column_sums(x)

    grown = growth(run, repeats=250, warmup=20)  # 4 kernels per run: 1000 calls
    assert grown < LIMIT, f"RSS grew by {grown / 1024:.0f} KiB over 1000 large calls"


def test_reference_counts_of_inputs_and_out_are_unchanged(dtype):
    run, arrays = small_calls(dtype)
    run()
    before = [sys.getrefcount(a) for a in arrays]
    for _ in range(100):
        run()
    assert [sys.getrefcount(a) for a in arrays] == before


def test_returned_out_is_the_callers_object_with_one_new_reference(dtype):
    x, out = np.ones(7, dtype), np.empty(7, dtype)
    count = sys.getrefcount(out)
    result = relu(x, out=out)
    assert result is out and sys.getrefcount(out) == count + 1
    del result
    assert sys.getrefcount(out) == count


# Calls that fail after the binding has taken references or made copies:
# every exception path must drop them again.
def failing_calls(dtype):
    x = np.ones((4, 5), dtype)
    strided = np.ones((8, 10), dtype)[::2, ::2]  # forces a copy before the shape check
    other = np.ones((4, 5), np.float64 if dtype == np.float32 else np.float32)
    read_only = np.empty((4, 5), dtype)
    read_only.flags.writeable = False
    calls = [
        lambda: add(strided, np.ones((5, 4), dtype)),
        lambda: add(x, other),
        lambda: relu(x, out=read_only),
        lambda: relu([1.0, 2.0]),
        lambda: matmul(strided, x),
        lambda: matmul(x, x.T.copy(), out=np.empty((3, 3), dtype)),
        lambda: sparse_softmax_cross_entropy(x, np.array([0, 1, 2, 9])),
        lambda: sgd_update(x[:, :4], x[:, :4].copy(), learning_rate=0.1),
        lambda: sgd_update(
            np.ones(8, dtype),
            np.ones(8, dtype),
            learning_rate=0.1,
            momentum=0.5,
            velocity=np.ones(7, dtype),
        ),
    ]
    return calls, (x, strided, other, read_only)


def test_error_paths_leak_neither_memory_nor_references(dtype):
    calls, arrays = failing_calls(dtype)

    def run():
        for call in calls:
            with pytest.raises((TypeError, ValueError)):
                call()

    run()
    counts = [sys.getrefcount(a) for a in arrays]
    grown = growth(run, repeats=1000, warmup=100)
    assert grown < LIMIT, f"RSS grew by {grown / 1024:.0f} KiB over {1000 * len(calls)} errors"
    assert [sys.getrefcount(a) for a in arrays] == counts
