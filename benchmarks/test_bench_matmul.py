"""matmul a @ b, a.T @ b and a @ b.T: the MNIST MLP's shapes, then 256^3 to 2048^3.

GFLOP/s (2*m*k*n / median) is stored per benchmark in extra_info.
"""

import pytest
from bench_params import kernel_params
from denseops import bench_cases

CASES = [c for c in bench_cases.all_cases() if c.operation.startswith("matmul")]


@pytest.mark.parametrize(("case", "impl", "threads"), kernel_params(CASES))
def test_matmul(time_kernel, case, impl, threads):
    time_kernel(case, impl, threads)
