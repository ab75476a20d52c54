"""benchmarks/bf16_targets.py, the bf16 GEMM target table: that both libraries
time the product each row names. No assertion on speed."""

import ml_dtypes
import numpy as np
import pytest
from helpers import load_benchmark_script


@pytest.fixture(scope="module")
def script():
    return load_benchmark_script("bf16_targets")


def test_each_row_times_a_bf16_product_of_the_shape_it_names(script):
    for name, (m, k, n), transposed in script.CASES:
        assert f"{m}x{k}x{n}" in name or (transposed and f"({k},{m})" in name), name
        result = script.make_call("denseops", (m, k, n), transposed)()
        assert result.shape == (m, n) and result.dtype == ml_dtypes.bfloat16, name


def test_torch_times_the_same_product(script):
    pytest.importorskip("torch", reason="the torch side of the table needs PyTorch")
    for name, shape, transposed in script.CASES[:2]:
        ours = script.make_call("denseops", shape, transposed)().astype(np.float32)
        theirs = script.make_call("torch", shape, transposed)().float().numpy()
        # both round float32 sums of the same bf16 products to bf16, summed in other orders:
        # a step of bf16 (2^-7 relative at most) apart, given a float32 step of room
        np.testing.assert_allclose(ours, theirs, rtol=2**-7 + 2**-20, atol=2**-7, err_msg=name)
