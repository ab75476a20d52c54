"""The `denseops` command line."""

import argparse
import time

import numpy as np

import denseops
from denseops import reference


def _best_of(fn, repeats):
    """Median wall time of `repeats` calls of fn, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1e9


def demo(args) -> int:
    """The textbook comparison: 1000 x (add then relu) on (20, 100) float64."""
    denseops.show_config()
    rng = np.random.default_rng(0)
    x = rng.random((20, 100))
    y = rng.random((20, 100))
    out = np.empty_like(x)

    def python_loops():
        for _ in range(args.iterations):
            reference.naive_relu(reference.naive_add(x, y))

    def numpy_version():
        for _ in range(args.iterations):
            np.maximum(x + y, 0.0)

    def denseops_version():
        for _ in range(args.iterations):
            denseops.relu(denseops.add(x, y, out=out), out=out)

    print(f"\n{args.iterations} x relu(add(x, y)) on (20, 100) float64, median of 3 runs:")
    results = {
        "python loops": _best_of(python_loops, 3),
        "numpy": _best_of(numpy_version, 3),
        "denseops": _best_of(denseops_version, 3),
    }
    for name, seconds in results.items():
        print(f"  {name:<13} {seconds * 1e3:10.3f} ms")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="denseops", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="show the config and the textbook relu+add timing")
    p_demo.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.command in (None, "demo"):
        if args.command is None:
            args.iterations = 1000
        return demo(args)
    parser.error(f"unknown command {args.command!r}")
    return 2
