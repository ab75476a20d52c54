"""Print the speed-target table: denseops vs NumPy, measured in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/targets.py
    python benchmarks/targets.py --threads 1,2 --only matmul

Each library runs in its own worker process (idle threads of one library
spin and would steal the cores of the other), with the same number of
threads (denseops.set_num_threads, threadpoolctl for NumPy's BLAS). The
machine is shared and noisy, so every case is timed in rounds; each round
times a batch of denseops and a batch of NumPy on the same inputs back to
back (in alternating order) and yields one paired ratio. The table reports
the median paired ratio and its quartiles, which a slow drift in the
machine's load (seconds long) moves far less than a ratio of two separate
medians. Throughput rows compare GFLOP/s (or elements/s); the (20, 100) row
compares time per call. GEMM rows also give denseops' rate as a percentage
of the FMA peak of its SIMD path on this CPU (benchmarks/peak.py).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import denseops
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

THREADS = 2
PAUSE_SECONDS = 0.25  # longer than either library's idle spinning, see time_batch


def matmul_case(m, k, n, dtype=np.float32, trans_a=False, trans_b=False, label=None):
    """A GEMM row: C (m, n) = A (m, k) @ B (k, n), optionally from a.T / b.T."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    a_np = a.T if trans_a else a
    b_np = b.T if trans_b else b
    return dict(
        name=label or f"matmul {m}x{k}x{n} {np.dtype(dtype).name}",
        ours=lambda: denseops.matmul(a, b, trans_a=trans_a, trans_b=trans_b),
        numpy=lambda: a_np @ b_np,
        work=2.0 * m * k * n,
        unit="GFLOP/s",
    )


def elementwise_case(op, n, dtype=np.float32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    if op == "relu":
        ours, ref = (lambda: denseops.relu(x)), (lambda: np.maximum(x, 0))
    elif op == "add":
        ours, ref = (lambda: denseops.add(x, y)), (lambda: x + y)
    else:  # bias add: rows of 1000 plus a (1000,) bias
        xm, bias = x.reshape(-1, 1000), y[:1000].copy()
        ours, ref = (lambda: denseops.add(xm, bias)), (lambda: xm + bias)
    return dict(
        name=f"{op} {n:.0e} {np.dtype(dtype).name}",
        ours=ours,
        numpy=ref,
        work=float(n),
        unit="Gelem/s",
    )


def small_relu_add_case():
    """The textbook's x = np.random.random((20, 100)) (float64): relu then add."""
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 100)), rng.random((20, 100))

    def ours():
        return denseops.add(denseops.relu(x), y)

    def ref():
        return np.maximum(x, 0) + y

    return dict(name="relu+add (20,100) f64 per call", ours=ours, numpy=ref, work=None, unit="us")


def dot_case(n=320_000):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    return dict(
        name=f"dot ({n},) float64",
        ours=lambda: denseops.dot(x, y),
        numpy=lambda: np.dot(x, y),
        work=2.0 * n,
        unit="GFLOP/s",
    )


def cases():
    """(case, target, kind): kind "ratio" wants ours/numpy throughput >= target,
    kind "time" wants ours/numpy time <= target."""
    mnist = [
        (matmul_case(128, 784, 512, label="matmul 128x784x512 f32 (fwd)"), 1.0, "ratio"),
        (matmul_case(128, 512, 10, label="matmul 128x512x10 f32 (fwd)"), 1.0, "ratio"),
        (
            matmul_case(784, 128, 512, trans_a=True, label="a.T@b a(128,784) b(128,512) f32"),
            1.0,
            "ratio",
        ),
        (
            matmul_case(128, 10, 512, trans_b=True, label="a@b.T a(128,10) b(512,10) f32"),
            1.0,
            "ratio",
        ),
    ]
    # Few rows: single-request inference, x @ W with x one or a few rows.
    small_m = [
        (matmul_case(m, 784, 512, label=f"matmul {m}x784x512 f32 (small M)"), 1.0, "ratio")
        for m in (1, 4, 16)
    ]
    big = [
        (matmul_case(1024, 1024, 1024), 0.9, "ratio"),
        (matmul_case(2048, 2048, 2048), 0.9, "ratio"),
        (matmul_case(1024, 1024, 1024, np.float64), 0.8, "ratio"),
    ]
    elementwise = [
        (elementwise_case(op, n), 1.0, "ratio")
        for op in ("relu", "add", "bias_add")
        for n in (10**6, 10**7)
    ]
    return (
        mnist
        + small_m
        + big
        + elementwise
        + [(small_relu_add_case(), 1.5, "time"), (dot_case(), 1.0, "ratio")]
    )


def calibrate(fn, seconds):
    """Calls per timing batch so that one batch takes about `seconds`."""
    if isinstance(fn, Remote):
        return fn.calibrate(seconds)
    fn()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= seconds or number >= 1 << 20:
            return number
        number *= 2


def time_batch(fn, number):
    """Seconds per call over `number` calls, after the other library's threads went idle.

    Both thread pools keep spinning after a call: libgomp's for ~3 ms,
    OpenBLAS's (yielding) for 2**28 cycles, ~0.1 s. A spinning worker of the
    library timed last steals a core from this batch (measured: the MNIST
    forward product drops from ~110 to ~40 GFLOP/s after a 20 ms pause), so
    wait until both pools sleep; the untimed call then wakes this library's.
    """
    if isinstance(fn, Remote):
        return fn.time_batch(number)
    time.sleep(PAUSE_SECONDS)
    fn()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(case, rounds, seconds):
    """Seconds per call of denseops and NumPy in each round, as two lists.

    A round times one batch of each library back to back, so the pair sees
    the same machine state; the order alternates between rounds so neither
    library always runs first (after the other's batch).
    """
    n_ours = calibrate(case["ours"], seconds)
    n_ref = calibrate(case["numpy"], seconds)
    ours, ref = [], []
    timers = [(case["ours"], n_ours, ours), (case["numpy"], n_ref, ref)]
    for r in range(rounds):
        for fn, number, times in timers if r % 2 == 0 else timers[::-1]:
            times.append(time_batch(fn, number))
    return ours, ref


def paired_ratios(ours, ref, kind):
    """Per-round ratios: NumPy's time / ours for throughput, ours / NumPy's for time."""
    return [(o / r if kind == "time" else r / o) for o, r in zip(ours, ref)]


def quartiles(values):
    """(lower quartile, median, upper quartile) of a list."""
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return q[0], statistics.median(values), q[2]


class Worker:
    """One library's side of every case, in a process of its own.

    Requests and replies are JSON lines on the worker's stdin and stdout.
    """

    def __init__(self, side, threads):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", side, "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError(f"benchmark worker for {request} exited")
        return json.loads(reply)["result"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


class Remote:
    """A case's callable for one library, run by that library's worker."""

    def __init__(self, worker, name):
        self.worker, self.name = worker, name

    def calibrate(self, seconds):
        return self.worker.ask(op="calibrate", case=self.name, seconds=seconds)

    def time_batch(self, number):
        return self.worker.ask(op="time", case=self.name, number=number)


def serve(side, threads):
    """The worker's loop: answers calibrate / time / peak / describe requests."""
    denseops.set_num_threads(threads)
    limits = threadpool_limits(limits=threads, user_api="blas")  # noqa: F841 (kept for life)
    by_name = {case["name"]: case[side] for case, _, _ in cases()}
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "calibrate":
            result = calibrate(by_name[request["case"]], request["seconds"])
        elif op == "time":
            result = time_batch(by_name[request["case"]], request["number"])
        elif op == "peak":
            from peak import peak_gflops  # benchmarks/peak.py, beside this script

            result = peak_gflops(request["dtype"], threads)
        else:
            result = describe_environment(threads)
        print(json.dumps({"result": result}), flush=True)


def describe_environment(threads):
    """Lines naming the CPU, the libraries and their settings, as this process sees them."""
    blas = [
        f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, "
        f"{i['num_threads']} threads)"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ]
    cfg = denseops._kernels._config()
    from denseops.bench import cpu_model

    lines = [
        f"machine : {cpu_model()}, {os.cpu_count()} CPUs",
        f"numpy   : {np.__version__}, BLAS: {'; '.join(blas) or 'unknown'}",
        f"denseops: {cfg['version']}, path {cfg['arch']}, {threads} threads; "
        f"f32 GEMM {cfg['gemm_f32']}",
    ]
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if var in os.environ:
            lines.append(f"note    : {var}={os.environ[var]} is set")
    lines.append(f"date    : {time.strftime('%Y-%m-%d %H:%M')}")
    return lines


def print_table(threads, rounds, batch_seconds, only):
    """One table: every selected case at `threads` threads, each library in its own worker."""
    ours_worker, numpy_worker = Worker("ours", threads), Worker("numpy", threads)
    try:
        print("\n".join(numpy_worker.ask(op="describe")))
        peaks = {}
        header = (
            f"| {'case':<34} | {'denseops':>13} | {'numpy':>13} | {'ratio':>5} | "
            f"{'middle half':>11} | {'target':>7} | met? | % peak |"
        )
        print()
        print(f"{threads} thread{'s' * (threads > 1)}:")
        print(header)
        print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
        for case, target, kind in cases():
            if only not in case["name"]:
                continue
            remote = {
                "ours": Remote(ours_worker, case["name"]),
                "numpy": Remote(numpy_worker, case["name"]),
            }
            ours, ref = measure(remote, rounds, batch_seconds)
            low, ratio, high = quartiles(paired_ratios(ours, ref, kind))
            t_ours, t_ref = statistics.median(ours), statistics.median(ref)
            peak_s = ""
            if kind == "time":
                ours_s, ref_s = f"{t_ours * 1e6:.2f} us", f"{t_ref * 1e6:.2f} us"
                target_s, met = f"<= {target}", ratio <= target
            else:
                scale, unit = case["work"] / 1e9, case["unit"]
                ours_s, ref_s = f"{scale / t_ours:.1f} {unit}", f"{scale / t_ref:.1f} {unit}"
                target_s, met = f">= {target}", ratio >= target
                if case["name"].startswith("matmul") or "@" in case["name"]:
                    dtype = "float64" in case["name"] and "float64" or "float32"
                    if dtype not in peaks:
                        peaks[dtype] = ours_worker.ask(op="peak", dtype=dtype)
                    peak_s = f"{100 * scale / t_ours / peaks[dtype]:.0f} %"
            print(
                f"| {case['name']:<34} | {ours_s:>13} | {ref_s:>13} | {ratio:>5.2f} | "
                f"{low:>5.2f}-{high:<5.2f} | {target_s:>7} | {'yes' if met else 'NO':<4} | "
                f"{peak_s:>6} |",
                flush=True,
            )
        if peaks:
            print(
                "peak (benchmarks/peak.py, this path and thread count): "
                + ", ".join(f"{dtype} {rate:.0f} GFLOP/s" for dtype, rate in peaks.items())
            )
    finally:
        ours_worker.close()
        numpy_worker.close()


def main():
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
    parser.add_argument("--worker", choices=("ours", "numpy"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return serve(args.worker, int(args.threads))
    for threads in (int(t) for t in args.threads.split(",")):
        print_table(threads, args.rounds, args.batch_seconds, args.only)
    print()
    print(
        "ratio: median over rounds of the paired ratio (denseops throughput / NumPy's, or "
        "time / NumPy's for the per-call row); middle half: its quartiles. denseops and "
        "numpy columns: median per library, each in its own process. % peak: denseops' "
        "rate over the FMA peak of its path (benchmarks/peak.py)."
    )


if __name__ == "__main__":
    main()
