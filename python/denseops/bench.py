"""`denseops bench`: time each rung of the ladder without pytest.

Python loops -> Cython loops -> NumPy -> denseops (-> PyTorch with --torch)
on the cases of `denseops.bench_cases`, printed as a table, optionally saved
as JSON and plotted. Timing: `time.perf_counter_ns`, one warm-up call, each
sample long enough to dwarf the timer, implementations interleaved sample by
sample (the machine may be shared), medians reported.
"""

import datetime
import json
import os
import platform
import statistics
import sys
import time

import denseops
from denseops import bench_cases
from denseops.bench_cases import IMPLEMENTATIONS, TIERS

QUICK_REPEATS = 3
DEFAULT_REPEATS = 7
# A sample lasts at least this long, so timer resolution and call overhead
# jitter are under 0.1 % even for microsecond calls.
QUICK_SAMPLE_NS = 500_000
DEFAULT_SAMPLE_NS = 2_000_000


BENCH_EXAMPLES = """\
examples:
  a quick look (small sizes, 3 repeats, under ~20 s):
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
    import argparse

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
        help=f"small sizes and {QUICK_REPEATS} repeats, under ~20 s (default: off)",
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


# ---------------------------------------------------------------- timing


def _sample_ns(fn, number):
    start = time.perf_counter_ns()
    for _ in range(number):
        fn()
    return time.perf_counter_ns() - start


def calls_per_sample(fn, target_ns):
    """Warm up `fn` once, then find how many calls make a sample of >= target_ns."""
    fn()  # warm-up: page faults, lazy initialisation, caches; often far slower
    number = 1
    elapsed = _sample_ns(fn, 1)
    while elapsed < target_ns:
        # Aim 20 % over the target so one more doubling is rarely needed.
        number = max(2 * number, int(number * 1.2 * target_ns / max(elapsed, 1)))
        elapsed = _sample_ns(fn, number)
    return number


# Thread pools spin after a call (libgomp's for a few ms, OpenBLAS's for
# ~0.1 s); on 2 cores the previous implementation's spinning workers steal the
# core this one's second thread needs, and a small threaded call then waits a
# whole scheduler slice (128x512x10 took ~6 ms instead of ~30 us after a
# 20 ms pause). So samples of threaded implementations start after the
# previous pools have gone to sleep, and with one untimed call that wakes this
# implementation's own workers. Single-threaded runs need no pause.
IDLE_PAUSE_S = 0.12  # OpenBLAS spins 2^28 cycles (~0.09 s here) before sleeping
THREADED = ("numpy", "denseops", "torch")


def settled_sample_ns(fn, number, pause_s):
    """Nanoseconds for `number` calls of `fn`; a `pause_s` > 0 first sleeps, then wakes `fn`'s
    threads with one untimed call (see IDLE_PAUSE_S)."""
    if pause_s:
        time.sleep(pause_s)
        fn()
    return _sample_ns(fn, number)


def time_interleaved(calls, repeats, target_ns, pause_s=0.0):
    """Median and minimum seconds per call of each callable in `calls`.

    Samples are interleaved (one of each implementation per round, the order
    rotating every round), so a burst of load from a neighbour on a shared
    machine hits every implementation alike instead of one of them. Each
    sample of a threaded implementation starts after `pause_s` and one
    untimed call (see IDLE_PAUSE_S).
    """
    names = list(calls)
    numbers = {name: calls_per_sample(calls[name], target_ns) for name in names}
    samples = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(
                settled_sample_ns(calls[name], numbers[name], pause_s if name in THREADED else 0.0)
                / numbers[name]
                / 1e9
            )
    return {
        name: {
            "median_s": statistics.median(samples[name]),
            "min_s": min(samples[name]),
            "calls_per_sample": numbers[name],
            "repeats": repeats,
        }
        for name in names
    }


def measure_case(case, implementations, repeats, target_ns, pause_s=0.0):
    """Time every implementation on one case; returns a JSON-ready row."""
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
    timed = time_interleaved(calls, repeats, target_ns, pause_s)
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


# ---------------------------------------------------------------- machine


def cpu_model():
    """The CPU's name with its family and model numbers (a VM may show only "AMD EPYC")."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" not in fields:
        return name
    return f"{name} (family {fields['cpu family']}, model {fields.get('model', '?')})"


def _version(dist):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info():
    """CPU, cores, BLAS, versions and the environment that changes timings."""
    import numpy as np

    try:
        from threadpoolctl import threadpool_info

        pools = [
            {
                k: p.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "prefix",
                    "version",
                    "architecture",
                    "threading_layer",
                    "num_threads",
                )
            }
            for p in threadpool_info()
        ]
    except ImportError:
        pools = "threadpoolctl not installed"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    config = denseops._kernels._config()
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "denseops": denseops.__version__,
        "denseops_arch": config["arch"],
        "denseops_matmul": {"float32": config["gemm_f32"], "float64": config["gemm_f64"]},
        "denseops_compiler": config["compiler"],
        "torch": _version("torch"),
        # Other work on the machine inflates and scatters every timing.
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "threadpools": pools,
        "environment": {
            k: os.environ[k]
            for k in sorted(os.environ)
            if k.startswith(("OPENBLAS", "OMP_", "MKL_", "DENSEOPS_"))
        },
    }


def blas_summary(info):
    pools = info["threadpools"]
    if isinstance(pools, str):
        return pools
    blas = [p for p in pools if p["user_api"] == "blas"]
    return (
        "; ".join(
            f"{p['internal_api']} {p['version']} ({p['architecture']}, {p['threading_layer']})"
            for p in blas
        )
        or "none found"
    )


# ---------------------------------------------------------------- table


def format_seconds(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:7.2f} {unit:2}"
    return f"{s / 1e-9:7.1f} ns"


def _ratio(x):
    if x is None:
        return ""
    # Three significant digits, so 0.00117x (loops vs NumPy) does not print as 0.00x.
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def format_table(rows):
    header = (
        f"{'operation':<10} {'size':<18} {'dtype':<8} {'implementation':<13} "
        f"{'median':>10} {'vs loops':>10} {'vs numpy':>9} {'GFLOP/s':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        first = True
        for impl, t in row["results"].items():
            lead = (
                f"{row['operation']:<10} {row['size']:<18} {row['dtype']:<8}" if first else " " * 38
            )
            gflops = row.get("gflops", {}).get(impl)
            lines.append(
                f"{lead} {impl:<13} {format_seconds(t['median_s']):>10} "
                f"{_ratio(row['speedup_vs_python_loops'].get(impl)):>10} "
                f"{_ratio(row['speed_vs_numpy'].get(impl)):>9} "
                f"{'' if gflops is None else f'{gflops:8.1f}':>8}"
            )
            first = False
        for impl, reason in row["skipped"].items():
            lines.append(f"{' ' * 38} {impl:<13} {'skipped':>10}   ({reason})")
    return "\n".join(lines)


# ---------------------------------------------------------------- plot


def check_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            "--plot needs matplotlib, which is not installed: "
            "pip install 'denseops[plot]' (or pip install matplotlib)"
        )
    return None


def _plot_bars(ax, row, colors):
    impls = list(row["results"])
    times = [row["results"][i]["median_s"] for i in impls]
    ax.barh(impls, times, color=[colors[i] for i in impls])
    ax.set_xscale("log")
    ax.set_xlim(min(times) / 2, max(times) * 20)  # room for the labels right of the bars
    ax.invert_yaxis()
    ax.set_title(
        f"textbook: {row['iterations']} x relu(add(x, y)), {tuple(row['shape'])} {row['dtype']}",
        fontsize=9,
    )
    ax.set_xlabel("median time (s)")
    for y, t in enumerate(times):
        ax.text(t, y, f" {format_seconds(t).strip()}", va="center", fontsize=8)


# float32 and float64 differ in line style and in marker shape and fill, so
# they stay apart in greyscale and where the lines overlap.
DTYPE_STYLES = {
    "float32": {"linestyle": "-", "marker": "o"},
    "float64": {"linestyle": "--", "marker": "s", "markerfacecolor": "white"},
}
IMPLEMENTATION_COLORS = dict(
    zip(IMPLEMENTATIONS, ("tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"))
)


def bench_figure(report):
    """Log-log median time vs size, one panel per operation, one line per implementation
    and dtype; returns the matplotlib Figure (close it with ``plt.close(fig)``)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    rows = report["rows"]
    operations = [op for op in bench_cases.OPERATIONS if any(r["operation"] == op for r in rows)]
    ncols = min(4, len(operations))
    nrows = -(-len(operations) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    colors = IMPLEMENTATION_COLORS
    for ax, op in zip(axes.flat, operations):
        op_rows = sorted((r for r in rows if r["operation"] == op), key=lambda r: r["work"])
        if op == "textbook":  # one size: bars read better than a lone point per line
            _plot_bars(ax, op_rows[-1], colors)
            continue
        for impl in IMPLEMENTATIONS:
            for dtype, style in DTYPE_STYLES.items():
                pts = [
                    (r["work"], r["results"][impl]["median_s"])
                    for r in op_rows
                    if r["dtype"] == dtype and impl in r["results"]
                ]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, ms=4, color=colors[impl], label=f"{impl} {dtype}", **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(op)
        ax.set_xlabel("multiply-adds (m*k*n)" if op.startswith("matmul") else "elements")
        ax.set_ylabel("median time per call (s)")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(operations) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1 : len(operations)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    m = report["machine"]
    tier = report.get("tier", "default")
    sizes = (
        ""
        if tier in ("default", "large")
        else f"; '{tier}' sizes only: run without --quick/--sizes for 4-6 sizes per operation"
    )
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8)
    fig.suptitle(
        f"denseops {m['denseops']} vs numpy {m['numpy']} - {m['cpu']}, "
        f"{report['threads']} thread(s), {report['date'][:10]}{sizes}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.04 * (1 + len(labels) // 5), 1, 0.96))
    return fig


def plot(report, path):
    """Write ``bench_figure(report)`` to a PNG at ``path``."""
    fig = bench_figure(report)  # selects the headless backend before pyplot is imported
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)


# ---------------------------------------------------------------- command


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
    pause_s = IDLE_PAUSE_S if threads > 1 else 0.0
    if args.plot and check_matplotlib():
        print(check_matplotlib(), file=sys.stderr)
        return 2
    cases = _selected_cases(args, tier)
    implementations = [i for i in IMPLEMENTATIONS if i != "torch" or args.torch]
    if args.torch:
        if not bench_cases.torch_available():
            print("--torch: torch is not installed (pip install torch==2.13.0)", file=sys.stderr)
            return 2
        import torch  # noqa: F401  (before thread_limit, so its pool is limited too)

    info = machine_info()
    print(f"denseops bench: {len(cases)} cases, sizes up to '{tier}', {threads} thread(s)")
    print(f"  cpu      {info['cpu']} ({info['usable_cores']} usable cores)")
    print(f"  numpy    {info['numpy']}, BLAS: {blas_summary(info)}")
    print(f"  denseops {info['denseops']} ({info['denseops_arch']} path)")
    if info["load_average_1min"] is not None:
        print(
            f"  load     {info['load_average_1min']:.2f} (1-minute average; well above 0 means"
            " other work shares these cores and inflates the timings)"
        )
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(
                f"  warning: {var}={os.environ[var]} is set and can slow NumPy's BLAS; "
                f"compare with `env -u {var} ...`"
            )
    settle = (
        f"; threaded ones after a {pause_s * 1e3:g} ms pause and an untimed call" if pause_s else ""
    )
    print(
        f"  timing   median of {repeats} samples per implementation, interleaved; "
        f"each sample >= {target_ns / 1e6:g} ms of back-to-back calls{settle}\n"
    )

    started = time.perf_counter()
    rows = []
    with bench_cases.thread_limit(threads):
        for i, case in enumerate(cases, 1):
            print(
                f"\r  [{i}/{len(cases)}] {case.operation} {case.size_label} {case.dtype}"
                + " " * 20,
                end="",
                file=sys.stderr,
                flush=True,
            )
            rows.append(measure_case(case, implementations, repeats, target_ns, pause_s))
    print("\r" + " " * 70 + "\r", end="", file=sys.stderr)
    elapsed = time.perf_counter() - started

    print(format_table(rows))
    print(
        "\nvs loops: speed-up over the pure-Python loops (their time / this time);"
        " vs numpy: NumPy's time / this time (> 1 = faster than NumPy)."
    )
    print(f"Total {elapsed:.1f} s.")
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
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
        plot(report, args.plot)
        print(f"Saved {args.plot}")
    return 0


def main(argv=None) -> int:
    """Run `denseops bench` on its own (until the main CLI wires it in)."""
    import argparse

    parser = argparse.ArgumentParser(prog="denseops")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
