"""Every kernel's five pieces carry its name, so any of them is found from the
name alone: the KernelTable entry in csrc/kernels/kernel_table.hpp (matmul's is
BLAS's `gemm`), the binding `denseops.<name>`, the NumPy twin
`denseops.reference.<name>`, tests that call it, and a benchmark."""

import importlib.util
import re
from pathlib import Path

import denseops
import pytest
from denseops import bench_cases, reference

ROOT = Path(__file__).resolve().parent.parent
CONTROLS = {"set_arch", "get_arch", "set_num_threads", "get_num_threads"}
KERNELS = sorted(
    name
    for name in denseops.__all__
    if callable(getattr(denseops._kernels, name, None)) and name not in CONTROLS
)
TABLE_NAMES = {"matmul": "gemm"}  # the C++ side keeps BLAS's name for the product


def source(relative):
    """A file of the source tree, or a skip where only the tests were copied."""
    path = ROOT / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not here: these tests run outside the source tree")
    return path


def test_the_kernel_list_is_the_package_s():
    assert {"relu", "matmul", "loss", "adam_update"} <= set(KERNELS)


def test_every_kernel_has_a_kernel_table_entry_of_its_name():
    text = source("csrc/kernels/kernel_table.hpp").read_text()
    entries = set(re.findall(r"\(\*(\w+)\)\(", text))
    missing = [n for n in KERNELS if TABLE_NAMES.get(n, n) not in entries]
    assert not missing, f"kernels without a KernelTable entry of their name: {missing}"


def test_every_kernel_has_a_binding_and_a_twin_of_its_name():
    for name in KERNELS:
        assert getattr(denseops, name).__name__ == name
        assert callable(getattr(reference, name, None)), f"no reference.{name}"


def test_every_kernel_is_called_by_name_in_the_tests():
    this = Path(__file__).name
    texts = "\n".join(
        p.read_text() for p in Path(__file__).parent.glob("test_*.py") if p.name != this
    )
    untested = [n for n in KERNELS if not re.search(rf"\b{n}\(", texts)]
    assert not untested, f"kernels no test calls: {untested}"


def test_every_kernel_has_a_benchmark_of_its_name():
    path = source("benchmarks/test_bench_kernel_twins.py")
    spec = importlib.util.spec_from_file_location("bench_kernel_twins", path)
    twins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twins)
    # relu, add, dot and matmul have suites over many sizes in bench_cases.
    assert set(twins.OWN_SUITES) <= set(bench_cases.SIZES)
    benchmarked = set(twins.CALLS) | set(twins.OWN_SUITES)
    missing = [n for n in KERNELS if n not in benchmarked]
    assert not missing, f"kernels without a benchmark: {missing}"
