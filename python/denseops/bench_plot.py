"""The figure of `denseops bench --plot`: median time against size, per operation.

matplotlib is an optional extra (denseops[plot]); `plotting.require_matplotlib`
explains how to get it.
"""

from denseops.bench_cases import IMPLEMENTATIONS, OPERATIONS
from denseops.bench_table import format_seconds
from denseops.plotting import require_matplotlib, save_figure

# float32 and float64 differ in line style and in marker shape and fill, so
# they stay apart in greyscale and where the lines overlap.
DTYPE_STYLES = {
    "float32": {"linestyle": "-", "marker": "o"},
    "float64": {"linestyle": "--", "marker": "s", "markerfacecolor": "white"},
}
IMPLEMENTATION_COLORS = dict(
    zip(IMPLEMENTATIONS, ("tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"))
)


def _plot_bars(ax, row):
    impls = list(row["results"])
    times = [row["results"][i]["median_s"] for i in impls]
    ax.barh(impls, times, color=[IMPLEMENTATION_COLORS[i] for i in impls])
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


def _plot_lines(ax, op, op_rows):
    from matplotlib.ticker import NullFormatter

    for impl in IMPLEMENTATIONS:
        for dtype, style in DTYPE_STYLES.items():
            pts = [
                (r["work"], r["results"][impl]["median_s"])
                for r in op_rows
                if r["dtype"] == dtype and impl in r["results"]
            ]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(
                    xs,
                    ys,
                    ms=4,
                    color=IMPLEMENTATION_COLORS[impl],
                    label=f"{impl} {dtype}",
                    **style,
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(op)
    ax.set_xlabel("multiply-adds (m*k*n)" if op.startswith("matmul") else "elements")
    ax.set_ylabel("median time per call (s)")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
    ax.grid(True, which="major", alpha=0.3)


def bench_figure(report):
    """Log-log median time vs size, one panel per operation, one line per implementation
    and dtype; returns the matplotlib Figure (close it with ``plt.close(fig)``)."""
    plt = require_matplotlib()
    rows = report["rows"]
    operations = [op for op in OPERATIONS if any(r["operation"] == op for r in rows)]
    ncols = min(4, len(operations))
    nrows = -(-len(operations) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax, op in zip(axes.flat, operations):
        op_rows = sorted((r for r in rows if r["operation"] == op), key=lambda r: r["work"])
        if op == "textbook":  # one size: bars read better than a lone point per line
            _plot_bars(ax, op_rows[-1])
        else:
            _plot_lines(ax, op, op_rows)
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


def plot_bench(report, path):
    """Write ``bench_figure(report)`` to ``path``."""
    save_figure(bench_figure(report), path, dpi=90)
