"""Print the bf16 GEMM target table: denseops vs PyTorch's bf16 matmul, measured in one run.

    python benchmarks/bf16_targets.py --threads 1,2
    python benchmarks/bf16_targets.py --threads 1 --only 1024

Issue 21's targets: denseops' bf16 matmul at >= 1.0x the throughput of
PyTorch's (`a @ b` on torch.bfloat16 tensors: oneDNN, on AMX where the CPU
has it) on the MNIST shapes and 1024^3, at 1 and 2 threads. denseops takes
NumPy arrays of ml_dtypes.bfloat16 and returns bfloat16, as torch does; both
accumulate in float32. The method is targets.py's: each library in its own
worker process with the same thread count (denseops.set_num_threads,
torch.set_num_threads), calls timed in rounds whose order alternates, one
paired ratio per round, the table giving the median ratio and its quartiles.
"""

import argparse
import statistics
import sys
from pathlib import Path

from denseops import bench_machine, bench_timing, bench_workers
from denseops.bench_threads import thread_limit

LIBRARIES = ("denseops", "torch")
TARGET = 1.0

# (row name, (M, K, N), a stored transposed): C (M, N) = A (M, K) @ B (K, N).
CASES = [
    ("bf16 128x784x512 (fwd)", (128, 784, 512), False),
    ("bf16 a.T@b a(128,784) b(128,512)", (784, 128, 512), True),
    ("bf16 1024x1024x1024", (1024, 1024, 1024), False),
]


def selected(only):
    return [case for case in CASES if only in case[0]]


def make_call(library, shape, transposed):
    """A zero-argument call of `library`'s bf16 product on inputs built here, once."""
    import ml_dtypes
    import numpy as np

    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (k, m) if transposed else (m, k)).astype(ml_dtypes.bfloat16)
    b = rng.uniform(-1, 1, (k, n)).astype(ml_dtypes.bfloat16)
    if library == "denseops":
        import denseops

        return lambda: denseops.matmul(a, b, trans_a=transposed)
    import torch

    ta = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    tb = torch.from_numpy(b.view(np.int16)).view(torch.bfloat16)
    if transposed:
        return lambda: ta.T @ tb
    return lambda: ta @ tb


def describe(library, threads):
    if library == "denseops":
        import denseops

        config = denseops._kernels._config()
        return f"denseops {denseops.__version__}, path {config['arch']}: {config['gemm_bf16']}"
    import torch

    return f"torch {torch.__version__}, {torch.backends.mkldnn.is_available() and 'oneDNN'}"


def worker(library, threads, only):
    def build():
        if library == "torch":
            import torch

            torch.set_num_threads(threads)
        else:
            import denseops

            denseops.set_num_threads(threads)
        calls = {name: make_call(library, shape, t) for name, shape, t in selected(only)}
        return calls, {
            "describe": lambda: describe(library, threads),
            "machine": lambda: bench_machine.heading(threads=threads),
        }

    with thread_limit(threads):
        return bench_workers.serve(build, pause_s=bench_timing.IDLE_PAUSE_S)


def quartiles(values):
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return q[0], statistics.median(values), q[2]


def print_table(threads, rounds, batch_seconds, only):
    argv = [sys.executable, str(Path(__file__).resolve()), "--threads", str(threads)]
    workers = {}
    try:
        for library in LIBRARIES:
            workers[library] = bench_workers.Worker(argv + ["--only", only, "--worker", library])
        print(workers["denseops"].ask("machine"))
        for library in LIBRARIES:
            print(f"  {workers[library].ask('describe')}")
        header = (
            f"| {'case':<34} | {'denseops':>14} | {'torch':>14} | {'ratio':>5} | "
            f"{'middle half':>11} | {'target':>6} | met? | cpu ratio |"
        )
        print()
        print(f"{threads} thread{'s' * (threads > 1)}:")
        print(header)
        print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
        for name, (m, k, n), _ in selected(only):
            for w in workers.values():
                w.calibrate(name, batch_seconds * 1e9)
            elapsed, cpu = bench_workers.time_in_rounds(workers, [name], rounds)
            ours = [s for (s,) in elapsed["denseops"]]
            ref = [s for (s,) in elapsed["torch"]]
            low, ratio, high = quartiles([r / o for o, r in zip(ours, ref)])
            cpu_ratio = statistics.median(
                r / o for (o,), (r,) in zip(cpu["denseops"], cpu["torch"])
            )
            gflop = 2 * m * k * n / 1e9
            rate_ours = f"{gflop / statistics.median(ours):.0f} GFLOP/s"
            rate_ref = f"{gflop / statistics.median(ref):.0f} GFLOP/s"
            print(
                f"| {name:<34} | {rate_ours:>14} | {rate_ref:>14} | {ratio:>5.2f} | "
                f"{low:>5.2f}-{high:<5.2f} | {'>= ' + str(TARGET):>6} | "
                f"{'yes' if ratio >= TARGET else 'NO':<4} | {cpu_ratio:>9.2f} |",
                flush=True,
            )
    finally:
        for w in workers.values():
            w.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per case")
    parser.add_argument("--batch-seconds", type=float, default=0.1, help="one timed batch")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, int(args.threads), args.only)
    for threads in (int(t) for t in args.threads.split(",")):
        print_table(threads, args.rounds, args.batch_seconds, args.only)
    print()
    print(
        "ratio: median over rounds of the paired ratio (denseops' throughput / torch's); "
        "middle half: its quartiles. The denseops and torch columns: median per library, "
        "each in its own process, bfloat16 in and out, float32 accumulation. cpu ratio: the "
        "same ratio of CPU time per call (process time), which time spent waiting for a busy "
        "core does not inflate: on one thread it is the fairer figure on a loaded machine; on "
        "two it also counts idle threads spinning."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
