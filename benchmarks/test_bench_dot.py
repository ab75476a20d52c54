"""dot of two vectors, 1000 to 1e7 elements (the textbook's (320000,) among them)."""

import pytest
from bench_params import kernel_params
from denseops import bench_cases

CASES = [c for c in bench_cases.all_cases() if c.operation == "dot"]


@pytest.mark.parametrize(("case", "impl", "threads"), kernel_params(CASES))
def test_dot(time_kernel, case, impl, threads):
    time_kernel(case, impl, threads)
