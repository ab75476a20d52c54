"""The highest FMA rate this CPU reaches, per SIMD path, dtype and thread count.

    python benchmarks/peak.py
    python benchmarks/peak.py --seconds 0.5 --rounds 7

Each measurement runs independent fused multiply-add chains on the vector
type of that path's GEMM micro-kernel (zmm, ymm, or the portable one), with
no memory traffic at all: the arithmetic limit a GEMM on that path could
reach. targets.py prints GEMM rates as a percentage of it, so "close to the
limit" is a number on any machine. The best of several rounds is kept: a
round only ever loses time to other processes, never gains it.
"""

import argparse
import time

import denseops
from denseops import _kernels
from denseops.bench_machine import cpu_model

DTYPES = ("float32", "float64")


def native_archs():
    """The SIMD paths this CPU runs natively (not the emulated test path), slowest first."""
    config = _kernels._config()
    archs = ["generic"]
    if config["cpu_avx2_fma"]:
        archs.append("avx2")
    if config["cpu_avx512"]:
        archs.append("avx512")
    return archs


def peak_gflops(dtype="float32", threads=1, arch=None, seconds=0.2, rounds=5):
    """Best FMA rate in GFLOP/s over `rounds` runs of about `seconds` each.

    `arch` defaults to the active path; the active path is restored after.
    """
    previous = denseops.get_arch()
    if arch is not None:
        denseops.set_arch(arch)
    try:
        iterations = 1 << 14
        while True:  # calibrate: one run of about `seconds`
            start = time.perf_counter()
            _kernels._fma_probe(dtype, iterations, threads)
            if time.perf_counter() - start >= seconds / 4:
                break
            iterations *= 2
        iterations = int(iterations * seconds / max(time.perf_counter() - start, 1e-9))
        best = 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            flops = _kernels._fma_probe(dtype, iterations, threads)
            best = max(best, flops / (time.perf_counter() - start) / 1e9)
        return best
    finally:
        denseops.set_arch(previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per cell; the best is kept")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    print(f"CPU: {cpu_model()}")
    header = "| path | dtype | " + " | ".join(f"{t} thread{'s' * (t > 1)}" for t in thread_counts)
    print(header + " |")
    print("|" + "---|" * (2 + len(thread_counts)))
    for arch in native_archs():
        for dtype in DTYPES:
            rates = [peak_gflops(dtype, t, arch, args.seconds, args.rounds) for t in thread_counts]
            print(
                f"| {arch} | {dtype} | " + " | ".join(f"{r:.0f} GFLOP/s" for r in rates) + " |",
                flush=True,
            )


if __name__ == "__main__":
    main()
