"""One case of the ladder timed in every implementation: a JSON-ready row with its ratios."""

from denseops import bench_cases, bench_timing

# The implementations that run threaded: with more than one thread each of
# their samples starts after bench_timing.IDLE_PAUSE_S and one untimed call.
THREADED = ("numpy", "denseops", "torch")


def measure_case(case, implementations, repeats, target_ns, threads=1):
    """Time every implementation on one case, interleaved; returns a JSON-ready row.

    Implementations that cannot run the case (too slow, not installed) are
    listed under "skipped" with the reason.
    """
    skipped = {}
    for impl in implementations:
        reason = bench_cases.skip_reason(case, impl)
        if reason:
            skipped[impl] = reason
    inputs = bench_cases.make_inputs(case)
    calls = {
        impl: bench_cases.make_call(case, impl, inputs)
        for impl in implementations
        if impl not in skipped
    }
    pause_s = {impl: bench_timing.IDLE_PAUSE_S for impl in THREADED if threads > 1}
    timed = bench_timing.time_interleaved(calls, repeats, target_ns, pause_s)
    times = {impl: t["median_s"] for impl, t in timed.items()}
    row = {
        "operation": case.operation,
        "size": case.size_label,
        "shape": list(case.shape),
        "dtype": case.dtype,
        "iterations": case.iterations,
        "work": case.work,
        "flops": case.flops,
        "results": timed,
        "skipped": skipped,
        # Both ratios are speeds: > 1 means faster than the reference.
        "speedup_vs_python_loops": (
            {impl: times["python loops"] / t for impl, t in times.items()}
            if "python loops" in times
            else {}
        ),
        "speed_vs_numpy": (
            {impl: times["numpy"] / t for impl, t in times.items()} if "numpy" in times else {}
        ),
    }
    if case.flops:
        row["gflops"] = {impl: case.flops / t / 1e9 for impl, t in times.items()}
    return row
