"""`train --plot` and `bench --plot`: what the figures show, read back from matplotlib's objects."""

import numpy as np
import pytest
from denseops import bench_cases, plotting
from denseops import train as training
from denseops.bench_plot import bench_figure
from denseops.nn import History

pytest.importorskip("matplotlib", reason="the plots need the optional matplotlib")
import matplotlib.pyplot as plt  # noqa: E402  (after the importorskip)


def history_of(epochs, seed=0):
    rng = np.random.default_rng(seed)
    history = History()
    for epoch in range(epochs):
        history.append(
            epoch,
            {
                "loss": float(rng.random()),
                "accuracy": float(rng.random()),
                "val_loss": float(rng.random()),
                "val_accuracy": float(rng.random()),
            },
        )
    return history


def suptitle(fig):
    # Figure.get_suptitle() is matplotlib >= 3.8; the attribute is older.
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def visible_ticks(ax):
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


@pytest.mark.parametrize("epochs", [1, 3, 7, 30])
def test_history_figure_ticks_whole_epochs_and_labels_both_axes(epochs):
    fig = plotting.history_figure(history_of(epochs), title="a title", test_accuracy=0.875)
    try:
        loss_ax, accuracy_ax = fig.axes
        for ax in (loss_ax, accuracy_ax):
            ticks = visible_ticks(ax)
            assert ticks and all(float(t).is_integer() for t in ticks), (epochs, ticks)
            assert set(ticks) <= set(range(1, epochs + 1)), (epochs, ticks)
            assert ax.get_xlabel() == "epoch"
        assert (loss_ax.get_ylabel(), accuracy_ax.get_ylabel()) == ("loss", "accuracy")
        assert suptitle(fig) == "a title"
        labels = [line.get_label() for line in accuracy_ax.get_lines()]
        assert "training accuracy" in labels and "validation accuracy" in labels, labels
    finally:
        plt.close(fig)


def test_history_figure_marks_the_final_test_accuracy():
    history = history_of(4)
    fig = plotting.history_figure(history, test_accuracy=0.9123)
    try:
        _, accuracy_ax = fig.axes
        marks = [
            line
            for line in accuracy_ax.get_lines()
            if 0.9123 in np.asarray(line.get_ydata(), dtype=float)
        ]
        assert marks, "no line or marker at the test accuracy"
        legend = [t.get_text() for t in accuracy_ax.get_legend().get_texts()]
        assert "test accuracy 0.9123" in legend, legend
        # Without a test accuracy nothing is drawn at all.
        bare = plotting.history_figure(history)
        assert len(bare.axes[1].get_lines()) == len(accuracy_ax.get_lines()) - 2
        plt.close(bare)
    finally:
        plt.close(fig)


def test_train_plot_title_names_model_optimizer_and_data_set(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 40, dtype=np.uint8)
    np.savez(
        tmp_path / "fashion-mnist.npz",
        x_train=images,
        y_train=labels,
        x_test=images[:10],
        y_test=labels[:10],
    )
    figures = []
    real_history_figure = plotting.history_figure

    def keep_figure(*args, **kwargs):  # the real figure, kept to read back
        figures.append(real_history_figure(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(plotting, "history_figure", keep_figure)
    results = training.run(
        dataset="fashion-mnist",
        epochs=2,
        optimizer="sgd",
        learning_rate=0.05,
        data_dir=tmp_path,
        plot=tmp_path / "h.png",
        verbose=0,
        threads=1,
    )
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    (fig,) = figures
    title = suptitle(fig)
    for part in ("Dense 512 relu -> Dense 10 softmax", "SGD(learning_rate=0.05", "fashion-mnist"):
        assert part in title, title
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert f"test accuracy {results['test_accuracy']:.4f}" in legend, legend


def fake_report(operations=("relu", "matmul"), sizes=4):
    """A bench report with made-up times: the plot only reads these keys."""
    rows = []
    for op in operations:
        for dtype in ("float32", "float64"):
            for i in range(sizes):
                work = 10 ** (3 + i)
                results = {
                    impl: {"median_s": work * (k + 1) * 1e-9}
                    for k, impl in enumerate(("numpy", "denseops", "python loops"))
                    if impl != "python loops" or i < 2
                }  # loops skipped when big
                rows.append({"operation": op, "work": work, "dtype": dtype, "results": results})
    return {
        "rows": rows,
        "machine": {"denseops": "0", "numpy": "0", "cpu": "cpu"},
        "threads": 1,
        "date": "2026-01-01T00:00:00",
        "tier": "default",
    }


def test_bench_figure_connects_each_series_and_tells_dtypes_apart_beyond_line_style():
    fig = bench_figure(fake_report())
    try:
        for ax in fig.axes[:2]:
            lines = {line.get_label(): line for line in ax.get_lines()}
            for impl in ("numpy", "denseops", "python loops"):
                f32, f64 = lines[f"{impl} float32"], lines[f"{impl} float64"]
                for line in (f32, f64):
                    assert len(line.get_xdata()) == (2 if impl == "python loops" else 4)
                    assert line.get_linestyle() not in ("None", "", " "), "points not joined"
                    assert line.get_marker() not in ("None", "", " ", None)
                assert (f32.get_marker(), f32.get_markerfacecolor()) != (
                    f64.get_marker(),
                    f64.get_markerfacecolor(),
                ), "dtypes differ by style only"
                assert f32.get_color() == f64.get_color(), "one colour per implementation"
    finally:
        plt.close(fig)


def test_bench_figure_says_why_a_quick_run_has_few_sizes():
    report = fake_report(sizes=2)
    report["tier"] = "quick"
    fig = bench_figure(report)
    try:
        assert "run without --quick" in suptitle(fig)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("operation", [op for op in bench_cases.OPERATIONS if op != "textbook"])
def test_default_bench_run_plots_at_least_four_sizes_per_operation(operation):
    cases = bench_cases.select(bench_cases.all_cases(("float32",)), "default")
    sizes = {c.work for c in cases if c.operation == operation}
    assert len(sizes) >= 4, f"{operation}: only {len(sizes)} sizes in the default run"
