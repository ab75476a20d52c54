"""Plots of training histories (matplotlib is an optional extra: denseops[plot]).

The figure of `denseops bench` is beside this file, in bench_plot.py.
"""


def require_matplotlib():
    """Imports matplotlib with a headless backend, or explains how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib, which is optional: pip install 'denseops[plot]' "
            "(or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_figure(history, title=None, test_accuracy=None):
    """A figure of loss and accuracy per epoch (and their val_ twins).

    Args:
        history: The ``History`` that ``fit`` returned.
        title: Figure title, e.g. the model, optimizer and data set.
        test_accuracy: If given, drawn as a labelled horizontal line on the
            accuracy panel, so the final figure sits beside the curve.

    Returns:
        The matplotlib ``Figure`` (close it with ``plt.close(fig)``).
    """
    plt = require_matplotlib()
    from matplotlib.ticker import MaxNLocator

    logs = history.history
    epochs = [e + 1 for e in history.epoch]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key in (metric, f"val_{metric}"):
            if key in logs:
                label = f"validation {metric}" if key.startswith("val_") else f"training {metric}"
                ax.plot(epochs, logs[key], marker="o", label=label)
        if metric == "accuracy" and test_accuracy is not None:
            ax.axhline(
                test_accuracy,
                color="tab:red",
                linestyle=":",
                label=f"test accuracy {test_accuracy:.4f}",
            )
            ax.plot(epochs[-1], test_accuracy, marker="*", markersize=12, color="tab:red")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        # Epochs are whole: ticks only on them (every one up to 10), none before 1.
        last = max(epochs, default=1)
        ax.set_xlim(0.5, last + 0.5)
        if last <= 10:
            ax.set_xticks(range(1, last + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("loss (lower is better)")
    axes[1].set_title("accuracy (higher is better)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path, dpi):
    """Writes ``fig`` to ``path`` (the format its suffix names), then closes it."""
    plt = require_matplotlib()
    try:
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def plot_history(history, path, title=None, test_accuracy=None):
    """Writes ``history_figure(history, title, test_accuracy)`` to ``path``."""
    save_figure(history_figure(history, title, test_accuracy), path, dpi=100)
