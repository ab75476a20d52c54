"""Print the speed-target table: denseops vs NumPy, measured in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/targets.py
    python benchmarks/targets.py --threads 1,2 --only matmul

The cases are `denseops.bench_cases`' (the calls `denseops bench` times).
Each library runs in its own worker process (`denseops.bench_workers`: idle
threads of one library spin and would steal the cores of the other), with
the same number of threads (denseops.set_num_threads, threadpoolctl for
NumPy's BLAS). The machine is shared and noisy, so every case is timed in
rounds; each round times a batch of denseops and a batch of NumPy on the same
inputs back to back (in alternating order), each batch after the idle pause
of `denseops.bench_timing` and one untimed call, and yields one paired ratio.
The table reports the median paired ratio and its quartiles, which a slow
drift in the machine's load (seconds long) moves far less than a ratio of two
separate medians. Throughput rows compare GFLOP/s (or elements/s); the
(20, 100) row compares time per call. GEMM rows also give denseops' rate as
a percentage of the FMA peak of its SIMD path on this CPU (benchmarks/peak.py).
"""

import argparse
import statistics
import sys
from pathlib import Path

from denseops import bench_cases, bench_machine, bench_timing, bench_workers
from denseops.bench_cases import Case
from denseops.bench_threads import thread_limit

THREADS = 2
LIBRARIES = ("denseops", "numpy")


def _matmul(m, k, n, dtype="float32", operation="matmul"):
    return Case(operation, (m, k, n), dtype, "quick")


# (row name, case, target): a throughput row wants denseops' rate / NumPy's
# >= target; the per-call row (the textbook case) wants its time / NumPy's <= target.
TARGETS = [
    ("matmul 128x784x512 f32 (fwd)", _matmul(128, 784, 512), 1.0),
    ("matmul 128x512x10 f32 (fwd)", _matmul(128, 512, 10), 1.0),
    ("a.T@b a(128,784) b(128,512) f32", _matmul(784, 128, 512, operation="matmul_ta"), 1.0),
    ("a@b.T a(128,10) b(512,10) f32", _matmul(128, 10, 512, operation="matmul_tb"), 1.0),
    # Few rows: single-request inference, x @ W with x one or a few rows.
    *[(f"matmul {m}x784x512 f32 (small M)", _matmul(m, 784, 512), 1.0) for m in (1, 4, 16)],
    ("matmul 1024x1024x1024 float32", _matmul(1024, 1024, 1024), 0.9),
    ("matmul 2048x2048x2048 float32", _matmul(2048, 2048, 2048), 0.9),
    ("matmul 1024x1024x1024 float64", _matmul(1024, 1024, 1024, "float64"), 0.8),
    *[
        (f"{op} {rows * 1000:.0e} float32", Case(op, (rows, 1000), "float32", "default"), 1.0)
        for op in ("relu", "add", "bias_add")
        for rows in (1000, 10_000)
    ],
    # The textbook's x = np.random.random((20, 100)) (float64): one relu + add per call.
    ("relu+add (20,100) f64 per call", Case("textbook", (20, 100), "float64", "tiny"), 1.5),
    ("dot (320000,) float64", Case("dot", (320_000,), "float64", "tiny"), 1.0),
]


def is_per_call(case):
    """The per-call row compares times; the others compare throughput."""
    return case.operation == "textbook"


def rate(case):
    """(work of one call, its unit per second): GFLOP for matmul and dot, elements otherwise."""
    if case.flops:
        return case.flops / 1e9, "GFLOP/s"
    if case.operation == "dot":
        return 2 * case.work / 1e9, "GFLOP/s"
    return case.work / 1e9, "Gelem/s"


def selected(only):
    """The TARGETS rows whose name contains `only`."""
    return [row for row in TARGETS if only in row[0]]


# ---------------------------------------------------------------- worker


def worker(library, threads, only):
    """One library's side of every selected case, answering bench_workers requests."""
    from peak import peak_gflops  # benchmarks/peak.py, beside this script

    def build():
        calls = {
            name: bench_cases.make_call(case, library, bench_cases.make_inputs(case))
            for name, case, _ in selected(only)
        }
        return calls, {
            "peak": lambda dtype: peak_gflops(dtype, threads),
            "describe": lambda: bench_machine.heading(threads=threads),
        }

    with thread_limit(threads):
        return bench_workers.serve(build, pause_s=bench_timing.IDLE_PAUSE_S)


# ---------------------------------------------------------------- parent


def measure(workers, name, rounds, batch_seconds):
    """Seconds per call of each library in each round, as two lists (denseops', NumPy's).

    A round times one batch of each library back to back, so the pair sees
    the same machine state; the order alternates between rounds so neither
    library always runs first (after the other's batch).
    """
    for w in workers.values():
        w.calibrate(name, batch_seconds * 1e9)
    elapsed, _ = bench_workers.time_in_rounds(workers, [name], rounds)
    return tuple([sample for (sample,) in elapsed[library]] for library in LIBRARIES)


def paired_ratios(ours, ref, per_call):
    """Per-round ratios: NumPy's time / ours for throughput, ours / NumPy's for time."""
    return [(o / r if per_call else r / o) for o, r in zip(ours, ref)]


def quartiles(values):
    """(lower quartile, median, upper quartile) of a list."""
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return q[0], statistics.median(values), q[2]


def format_row(name, case, target, ours, ref, peak):
    """One Markdown row; `peak` is denseops' peak GFLOP/s for a GEMM row, else None."""
    low, ratio, high = quartiles(paired_ratios(ours, ref, is_per_call(case)))
    t_ours, t_ref = statistics.median(ours), statistics.median(ref)
    peak_s = ""
    if is_per_call(case):
        ours_s, ref_s = f"{t_ours * 1e6:.2f} us", f"{t_ref * 1e6:.2f} us"
        target_s, met = f"<= {target}", ratio <= target
    else:
        work, unit = rate(case)
        ours_s, ref_s = f"{work / t_ours:.1f} {unit}", f"{work / t_ref:.1f} {unit}"
        target_s, met = f">= {target}", ratio >= target
        if peak:
            peak_s = f"{100 * work / t_ours / peak:.0f} %"
    return (
        f"| {name:<34} | {ours_s:>13} | {ref_s:>13} | {ratio:>5.2f} | "
        f"{low:>5.2f}-{high:<5.2f} | {target_s:>7} | {'yes' if met else 'NO':<4} | "
        f"{peak_s:>6} |"
    )


def print_table(threads, rounds, batch_seconds, only):
    """One table: every selected case at `threads` threads, each library in its own worker."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--threads", str(threads)]
    workers = {}
    try:
        for library in LIBRARIES:
            workers[library] = bench_workers.Worker(argv + ["--only", only, "--worker", library])
        print(workers["numpy"].ask("describe"))
        peaks = {}
        header = (
            f"| {'case':<34} | {'denseops':>13} | {'numpy':>13} | {'ratio':>5} | "
            f"{'middle half':>11} | {'target':>7} | met? | % peak |"
        )
        print()
        print(f"{threads} thread{'s' * (threads > 1)}:")
        print(header)
        print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
        for name, case, target in selected(only):
            ours, ref = measure(workers, name, rounds, batch_seconds)
            if case.flops and case.dtype not in peaks:
                peaks[case.dtype] = workers["denseops"].ask("peak", dtype=case.dtype)
            print(
                format_row(
                    name, case, target, ours, ref, peaks.get(case.dtype) if case.flops else None
                ),
                flush=True,
            )
        if peaks:
            print(
                "peak (benchmarks/peak.py, this path and thread count): "
                + ", ".join(f"{dtype} {rate:.0f} GFLOP/s" for dtype, rate in peaks.items())
            )
    finally:
        for w in workers.values():
            w.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per case")
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=0.1,
        help="length of one timed batch (default 0.1: long enough that "
        "the first calls after the pause, with caches and threads "
        "still waking up, weigh little)",
    )
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument(
        "--threads",
        default=str(THREADS),
        help=f"thread counts, comma-separated (default {THREADS})",
    )
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, int(args.threads), args.only)
    for threads in (int(t) for t in args.threads.split(",")):
        print_table(threads, args.rounds, args.batch_seconds, args.only)
    print()
    print(
        "ratio: median over rounds of the paired ratio (denseops throughput / NumPy's, or "
        "time / NumPy's for the per-call row); middle half: its quartiles. denseops and "
        "numpy columns: median per library, each in its own process. % peak: denseops' "
        "rate over the FMA peak of its path (benchmarks/peak.py)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
