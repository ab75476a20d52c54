"""Fixtures every test file may use; the helpers they build on are in helpers.py."""

import os
import zlib

import denseops
import numpy as np
import pytest
from helpers import (
    ALL_ARCHS,
    BF16_ARCHS,
    FLOAT_DTYPES,
    LAYOUTS,
    available_archs,
    available_bf16_archs,
)
from threadpoolctl import threadpool_limits

# Real Keras (the interop extra), where tests use it, runs on its JAX backend:
# it trains (the NumPy backend cannot), needs no TensorFlow or PyTorch, and with
# 64-bit JAX a float64 Keras model computes in float64, as denseops's does.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_ENABLE_X64", "1")


@pytest.fixture(params=FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(params=LAYOUTS)
def layout(request):
    return request.param


@pytest.fixture(autouse=True)
def _fresh_layer_names():
    """Each test names its layers from the start (dense, dense_1, ...), as a new
    Keras session does: names then do not depend on the tests run before."""
    from denseops.nn import utils

    utils.clear_session()


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=ALL_ARCHS)
def arch(request):
    """Run the test on one SIMD path, skipped where the path is unavailable."""
    if request.param not in available_archs():
        pytest.skip(f"this CPU (or its OS, or this build) cannot run the {request.param} path")
    denseops.set_arch(request.param)
    return request.param


@pytest.fixture(params=BF16_ARCHS)
def bf16_arch(request):
    """Run the test on one bf16 GEMM path, skipped where the path is unavailable
    (its emulation, "amx-emulated" or "avx512-bf16-emulated", runs everywhere)."""
    if request.param not in available_bf16_archs():
        pytest.skip(f"this CPU (or its OS, or this build) cannot run the {request.param} path")
    denseops.set_arch(request.param)
    return request.param


@pytest.fixture(scope="session", autouse=True)
def _numpy_blas_on_one_thread():
    """NumPy's BLAS computes the small reference products on one thread.

    Its threads would only compete with denseops's OpenMP team for the same
    cores (and spin while waiting), slowing the suite several-fold.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def _restore_global_settings():
    """Leave the process-wide thread count and SIMD path as each test found them."""
    threads, arch_name = denseops.get_num_threads(), denseops.get_arch()
    yield
    if denseops.get_num_threads() != threads:
        denseops.set_num_threads(threads)
    if denseops.get_arch() != arch_name:
        denseops.set_arch(arch_name)
