"""How the kernel benchmarks are parametrized: thread counts and skips."""

import pytest
from denseops import bench_cases

THREAD_COUNTS = (1, 2)
# Below this much work denseops and NumPy stay on one thread anyway, so a
# 2-thread group would repeat the 1-thread one.
MIN_WORK_FOR_THREADS = 100_000


def kernel_params(cases):
    """pytest params (case, implementation, threads) with skip and size marks.

    Python loops and Cython are single-threaded, so they are timed only in
    the 1-thread groups; the 2-thread groups compare the threaded libraries,
    at sizes where threads can pay.
    """
    params = []
    for case in cases:
        for threads in THREAD_COUNTS:
            for impl in bench_cases.IMPLEMENTATIONS:
                if threads > 1 and (
                    impl in bench_cases.SINGLE_THREADED or case.work < MIN_WORK_FOR_THREADS
                ):
                    continue
                marks = [pytest.mark.large] if case.tier == "large" else []
                reason = bench_cases.skip_reason(case, impl)
                if reason:
                    marks.append(pytest.mark.skip(reason=reason))
                params.append(
                    pytest.param(
                        case,
                        impl,
                        threads,
                        marks=marks,
                        id=f"{case}-{threads}t-{impl.replace(' ', '_')}",
                    )
                )
    return params


def group_name(case, threads):
    return f"{case.operation} {case.size_label} {case.dtype} {threads} thread(s)"
