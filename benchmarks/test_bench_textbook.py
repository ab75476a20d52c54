"""The textbook's demonstration: 1000 x relu(add(x, y)) on (20, 100) float64 arrays
(it measured 1.16 s for the loops, ~0.00 s for NumPy) and the (320000,) float64 dot."""

import pytest
from bench_params import kernel_params
from denseops import bench_cases


@pytest.mark.parametrize(("case", "impl", "threads"), kernel_params(bench_cases.textbook_cases()))
def test_textbook(time_kernel, case, impl, threads):
    time_kernel(case, impl, threads)
