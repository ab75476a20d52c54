"""Plots of training histories (matplotlib is an optional extra: denseops[plot])."""


def require_matplotlib():
    """Imports matplotlib with a headless backend, or explains how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib, which is optional: pip install 'denseops[plot]' "
            "(or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_history(history, path, title=None):
    """Writes a PNG with loss and accuracy per epoch (and their val_ twins)."""
    plt = require_matplotlib()
    logs = history.history
    epochs = [e + 1 for e in history.epoch]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key in (metric, f"val_{metric}"):
            if key in logs:
                ax.plot(epochs, logs[key], marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
