"""`denseops bench`: time each rung of the ladder without pytest.

Python loops -> Cython loops -> NumPy -> denseops (-> PyTorch with --torch)
on the cases of `denseops.bench_cases`, printed as a table, optionally saved
as JSON and plotted. Timing: `denseops.bench_timing` (one warm-up call, each
sample long enough to dwarf the timer, implementations interleaved sample by
sample since the machine may be shared, medians reported).
"""

import argparse
import json
import sys
import time

import denseops
from denseops import bench_cases, bench_machine, bench_timing
from denseops.bench_cases import IMPLEMENTATIONS, TIERS
from denseops.bench_ladder import measure_case
from denseops.bench_table import format_table
from denseops.bench_threads import thread_limit
from denseops.plotting import require_matplotlib

QUICK_REPEATS = 3
DEFAULT_REPEATS = 7
# A sample lasts at least this long, so timer resolution and call overhead
# jitter are under 0.1 % even for microsecond calls.
QUICK_SAMPLE_NS = 500_000
DEFAULT_SAMPLE_NS = 2_000_000


BENCH_EXAMPLES = """\
examples:
  a quick look (small sizes, 3 repeats, about 30 s on 2 cores):
    denseops bench --quick
  the default run, saved as JSON and plotted:
    denseops bench --json bench.json --plot bench.png
  matmul only, float32 and float64, up to 2048^3:
    denseops bench --ops matmul --dtype both --sizes large
  single-threaded, against PyTorch too:
    denseops bench --threads 1 --torch
"""


def add_parser(subparsers):
    """Register the `bench` sub-command on an argparse subparsers object."""
    p = subparsers.add_parser(
        "bench",
        help="time Python loops, Cython, NumPy and denseops side by side",
        description=__doc__.split("\n\n")[0],
        epilog=BENCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes and {QUICK_REPEATS} repeats, about 30 s on 2 cores (default: off)",
    )
    p.add_argument(
        "--sizes",
        choices=TIERS + ("all",),
        help="largest tier of sizes to run; 'large'/'all' add 1e7 elements and "
        "2048^3 (default: 'default', or 'quick' with --quick)",
    )
    p.add_argument(
        "--ops",
        default=",".join(bench_cases.OPERATIONS),
        help="comma-separated operations (default: all: " + ", ".join(bench_cases.OPERATIONS) + ")",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64", "both"),
        default="float32",
        help="dtype of the kernel cases; the textbook cases are always float64 "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        help="timed samples per implementation, of which the median is reported "
        f"(default: {DEFAULT_REPEATS}, or {QUICK_REPEATS} with --quick)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for denseops, NumPy's BLAS and torch (default: denseops' "
        f"current setting, {denseops.get_num_threads()} here)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=bench_cases.TEXTBOOK_ITERATIONS,
        help="loop count of the textbook relu(add(x, y)) case (default: %(default)s)",
    )
    p.add_argument(
        "--torch",
        action="store_true",
        help="also time PyTorch CPU, imported into this process; for the cleanest"
        " NumPy figures leave it off (default: off)",
    )
    p.add_argument("--json", metavar="PATH", help="save the results as JSON (default: not saved)")
    p.add_argument(
        "--plot",
        metavar="PATH",
        help="write a PNG of time against size per operation; needs matplotlib (default: no plot)",
    )
    p.set_defaults(func=run)
    return p


def _selected_cases(args, tier):
    known = set(bench_cases.OPERATIONS)
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = [op for op in ops if op not in known]
    if unknown:
        raise ValueError(
            f"--ops: unknown operation(s) {unknown}; expected some of "
            f"{', '.join(bench_cases.OPERATIONS)}"
        )
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    cases = bench_cases.select(bench_cases.all_cases(dtypes), tier)
    named = [c for c in bench_cases.textbook_cases() if c not in cases]
    if args.iterations != bench_cases.TEXTBOOK_ITERATIONS:
        named = [
            bench_cases.Case(
                c.operation,
                c.shape,
                c.dtype,
                c.tier,
                args.iterations if c.operation == "textbook" else 1,
            )
            for c in named
        ]
    order = {op: i for i, op in enumerate(bench_cases.OPERATIONS)}
    chosen = [c for c in named + cases if c.operation in ops]
    return sorted(chosen, key=lambda c: (order[c.operation], c.dtype, c.work))


def run(args) -> int:
    """Run the benchmark, print the table, save JSON/PNG if asked."""
    tier = args.sizes or ("quick" if args.quick else "default")
    tier = "large" if tier == "all" else tier
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    target_ns = QUICK_SAMPLE_NS if args.quick else DEFAULT_SAMPLE_NS
    threads = args.threads or denseops.get_num_threads()
    pause_s = bench_timing.IDLE_PAUSE_S if threads > 1 else 0.0
    if args.plot:
        try:
            require_matplotlib()
        except ImportError as error:
            print(f"--plot: {error}", file=sys.stderr)
            return 2
    cases = _selected_cases(args, tier)
    implementations = [i for i in IMPLEMENTATIONS if i != "torch" or args.torch]
    if args.torch:
        if not bench_cases.torch_available():
            print("--torch: torch is not installed (pip install torch==2.13.0)", file=sys.stderr)
            return 2
        import torch  # noqa: F401  (before thread_limit, so its pool is limited too)

    info = bench_machine.machine_info()
    print(f"denseops bench: {len(cases)} cases, sizes up to '{tier}', {threads} thread(s)")
    for line in bench_machine.describe(info):
        print(f"  {line}")
    settle = (
        f"; threaded ones after a {pause_s * 1e3:g} ms pause and an untimed call" if pause_s else ""
    )
    print(
        f"  timing    : median of {repeats} samples per implementation, interleaved; "
        f"each sample >= {target_ns / 1e6:g} ms of back-to-back calls{settle}\n"
    )

    started = time.perf_counter()
    rows = []
    with thread_limit(threads):
        for i, case in enumerate(cases, 1):
            print(
                f"\r  [{i}/{len(cases)}] {case.operation} {case.size_label} {case.dtype}"
                + " " * 20,
                end="",
                file=sys.stderr,
                flush=True,
            )
            rows.append(measure_case(case, implementations, repeats, target_ns, threads))
    print("\r" + " " * 70 + "\r", end="", file=sys.stderr)
    elapsed = time.perf_counter() - started

    print(format_table(rows))
    print(
        "\nvs loops: speed-up over the pure-Python loops (their time / this time);"
        " vs numpy: NumPy's time / this time (> 1 = faster than NumPy)."
    )
    print(f"Total {elapsed:.1f} s.")
    report = {
        "date": info["date"],
        "options": {k: v for k, v in vars(args).items() if k != "func"},
        "tier": tier,
        "threads": threads,
        "repeats": repeats,
        "sample_ns": target_ns,
        "machine": info,
        "implementations": implementations,
        "rows": rows,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"Saved {args.json}")
    if args.plot:
        from denseops.bench_plot import plot_bench

        plot_bench(report, args.plot)
        print(f"Saved {args.plot}")
    return 0
