"""pytest-benchmark set-up: sizes, thread counts, machine info, test order.

Run (see README.md here):
    pytest benchmarks --benchmark-only --benchmark-group-by=group
    pytest benchmarks --benchmark-only --benchmark-group-by=group --bench-large
"""

import sys
from pathlib import Path

import pytest
from denseops import bench_cases, bench_machine
from denseops.bench_threads import thread_limit

# Lets test modules import the modules next to them (bench_params,
# numpy_mlp, torch_mlp): with --import-mode=importlib pytest
# adds nothing to sys.path itself.
sys.path.insert(0, str(Path(__file__).parent))

from bench_params import THREAD_COUNTS, group_name  # noqa: E402

# pytest-benchmark's own default is 1 s per benchmark; 0.5 s still gives
# hundreds of rounds for the fast calls and halves the suite's run time.
DEFAULT_MAX_TIME = 0.5


def pytest_addoption(parser):
    parser.addoption(
        "--bench-large",
        action="store_true",
        help="also run the large sizes (1e7 elements, 2048^3 matmul)",
    )


def pytest_configure(config):
    # Runs before pytest-benchmark's own pytest_configure (trylast) reads it.
    if not any(a.startswith("--benchmark-max-time") for a in config.invocation_params.args):
        config.option.benchmark_max_time = DEFAULT_MAX_TIME
    config.addinivalue_line(
        "markers", "large: large sizes (1e7 elements, 2048^3); skipped unless --bench-large"
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--bench-large"):
        skip = pytest.mark.skip(reason="large size: run with --bench-large")
        for item in items:
            if item.get_closest_marker("large"):
                item.add_marker(skip)
    # Importing torch loads MKL and a second OpenMP runtime, which can slow
    # NumPy's small matmuls in the same process, so torch runs after
    # everything else (a stable sort keeps the rest in file order).
    items.sort(key=lambda item: "torch" in item.name)


def pytest_report_header(config):
    info = bench_machine.machine_info()
    return [
        bench_machine.summary(info),
        *bench_machine.describe(info),
        f"torch     : {info['torch'] or 'not installed'}; threads timed: "
        f"{', '.join(map(str, THREAD_COUNTS))} (in each group's name)",
    ]


def pytest_benchmark_update_machine_info(config, machine_info):
    """Store CPU, cores, BLAS and versions with --benchmark-json / --benchmark-save."""
    machine_info["denseops_bench"] = bench_machine.machine_info()


@pytest.fixture
def time_kernel(benchmark):
    """Time one implementation on one case with a fixed thread count."""

    def run(case, impl, threads):
        inputs = bench_cases.make_inputs(case)
        call = bench_cases.make_call(case, impl, inputs)  # may import torch: before the limit
        benchmark.group = group_name(case, threads)
        benchmark.extra_info.update(
            operation=case.operation,
            size=case.size_label,
            dtype=case.dtype,
            implementation=impl,
            threads=threads,
            work=case.work,
            flops=case.flops,
        )
        with thread_limit(threads):
            benchmark(call)
        if case.flops and benchmark.stats:
            benchmark.extra_info["gflops_median"] = case.flops / benchmark.stats.stats.median / 1e9

    return run
