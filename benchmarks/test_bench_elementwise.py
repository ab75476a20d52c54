"""relu, add and bias add, (20, 100) to 1e7 elements: one group per size, dtype, threads."""

import pytest
from bench_params import kernel_params
from denseops import bench_cases

CASES = [c for c in bench_cases.all_cases() if c.operation in ("relu", "add", "bias_add")]


@pytest.mark.parametrize(("case", "impl", "threads"), kernel_params(CASES))
def test_elementwise(time_kernel, case, impl, threads):
    time_kernel(case, impl, threads)
