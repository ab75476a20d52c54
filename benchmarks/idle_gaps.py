"""Time per call of threaded kernels kept busy and resumed after an idle spell.

After a parallel region an OpenMP worker spins for GOMP_SPINCOUNT rounds, then
sleeps in the OS. `import denseops` makes that spin short (3000 rounds, tens
of microseconds; README "Guarantees": idle spinning steals the core of other
busy processes). The price is paid by calls that come after a pause: the
worker has to be woken, and where Linux wakes it on the caller's own CPU the
two take turns on one CPU until the scheduler separates them. This script
shows that price, in a fresh process per configuration, for a few kernels of
0.05-0.5 ms:

  back to back   samples of back-to-back calls, the worker kept awake;
  after idle     each sample after a 150 ms pause and one untimed call
                 (how `denseops bench` samples threaded calls);
  1 thread       after idle on one thread, the floor a threaded call should beat.

    python benchmarks/idle_gaps.py --rounds 2
    ... --config "spin 300k:GOMP_SPINCOUNT=300000"

Configurations as in busy_machine.py: the OpenMP wait variables are removed
first, so "denseops default" is what a user gets who sets none of them.
"""

import argparse
import json
import os
import statistics
import sys

import numpy as np
from busy_machine import (  # beside this script
    DEFAULT_CONFIGS,
    add_config_argument,
    parse_config,
    worker_env,
)
from denseops import bench_machine, bench_timing, bench_workers

PAUSE_S = bench_timing.IDLE_PAUSE_S
TARGET_NS = 2_000_000
MODES = ("back to back", "after idle", "1 thread")


def kernel_calls():
    """name -> zero-argument call, on arrays made once."""
    import denseops

    rng = np.random.default_rng(0)
    square = rng.standard_normal((1000, 1000)).astype(np.float32)
    other = rng.standard_normal((1000, 1000)).astype(np.float32)
    vector = rng.standard_normal(320_000)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    b = rng.standard_normal((256, 256)).astype(np.float32)
    return {
        "add (1000, 1000) f32": lambda: denseops.add(square, other),
        "relu (1000, 1000) f32": lambda: denseops.relu(square),
        "dot (320000,) f64": lambda: denseops.dot(vector, vector),
        "matmul 256x256x256 f32": lambda: denseops.matmul(a, b),
    }


def worker(args):
    """Seconds per call of every sample of every kernel in every mode, as one JSON line."""
    import denseops

    threads = denseops.get_num_threads()
    result = {}
    for name, call in kernel_calls().items():
        number = bench_timing.calls_per_sample(call, TARGET_NS)
        times = {}
        for mode in MODES:
            denseops.set_num_threads(1 if mode == "1 thread" else threads)
            pause = 0.0 if mode == "back to back" else PAUSE_S
            times[mode] = [
                bench_timing.settled_sample_ns(call, number, pause) / number / 1e9
                for _ in range(args.samples)
            ]
        denseops.set_num_threads(threads)
        result[name] = times
    print(json.dumps({"threads": threads, "seconds": result}))
    return 0


def run_worker(env_changes, args):
    command = [sys.executable, os.path.abspath(__file__), "--worker"]
    command += ["--samples", str(args.samples)]
    return bench_workers.run_once(command, worker_env(env_changes))


def parent(args):
    configs = [parse_config(c) for c in (args.config or DEFAULT_CONFIGS)]
    print(
        bench_machine.heading(
            f"{args.samples} samples of >= {TARGET_NS / 1e6:g} ms per kernel, mode and round; "
            f"{args.rounds} round(s), each configuration in its own process"
        )
    )
    runs = {name: [] for name, _ in configs}
    for _ in range(args.rounds):
        for name, env in configs:
            runs[name].append(run_worker(env, args))
    threads = runs[configs[0][0]][0]["threads"]
    print(
        f"\nmicroseconds per call ({threads} threads unless '1 thread'), "
        "median [slowest sample] of all rounds:"
    )
    print(f"{'kernel':<24} {'configuration':<26} " + " ".join(f"{m:>18}" for m in MODES))
    for kernel in runs[configs[0][0]][0]["seconds"]:
        for name, _ in configs:
            cells = []
            for mode in MODES:
                samples = [t for run in runs[name] for t in run["seconds"][kernel][mode]]
                cell = f"{statistics.median(samples) * 1e6:.1f} [{max(samples) * 1e6:.0f}]"
                cells.append(f"{cell:>18}")
            print(f"{kernel:<24} {name:<26} " + " ".join(cells))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="processes per configuration")
    p.add_argument("--samples", type=int, default=7, help="samples per kernel and mode")
    add_config_argument(p)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    return worker(args) if args.worker else parent(args)


if __name__ == "__main__":
    sys.exit(main())
