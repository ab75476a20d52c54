"""The package's main job: train the classic MNIST MLP on denseops kernels.

``Dense(512, relu) -> Dense(10, softmax)``, sparse categorical
cross-entropy, RMSprop, batch 128 — the model of Keras's MNIST example.
"""

import time

import denseops
from denseops import datasets
from denseops.mnist_mlp import LOSS, build_mlp, describe, load_flat
from denseops.nn import optimizers

DATASETS = {"mnist": datasets.mnist, "fashion-mnist": datasets.fashion_mnist}
OPTIMIZERS = ("rmsprop", "sgd", "adam")


def run(
    dataset="mnist",
    epochs=5,
    batch_size=128,
    optimizer="rmsprop",
    learning_rate=None,
    seed=0,
    threads=None,
    data_dir=None,
    save=None,
    plot=None,
    verbose=1,
):
    """Loads the data, trains, evaluates on the test set; returns a dict of results."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}. Received: {dataset!r}")
    if threads is not None:
        denseops.set_num_threads(threads)
    if plot is not None:
        from denseops.plotting import require_matplotlib

        require_matplotlib()  # fail before training, not after

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_flat(DATASETS[dataset], data_dir)
    load_seconds = time.perf_counter() - start

    opt = optimizers.get(optimizer)
    if learning_rate is not None:
        opt = type(opt)(learning_rate=learning_rate)
    model = build_mlp()
    model.compile(optimizer=opt, loss=LOSS, metrics=["accuracy"])
    if verbose:
        print(
            f"{dataset}: {len(x_train)} training and {len(x_test)} test images "
            f"(loaded in {load_seconds:.2f} s); {denseops.get_num_threads()} thread(s), "
            f"{denseops.get_arch()} kernels, {opt!r}"
        )

    fit_start = time.perf_counter()
    history = model.fit(
        x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose, seed=seed
    )
    train_seconds = time.perf_counter() - fit_start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    total_seconds = time.perf_counter() - start
    results = {
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / epochs,
        "total_seconds": total_seconds,
        "history": history.history,
    }
    if save is not None:
        model.save(save)
    if plot is not None:
        from denseops.plotting import plot_history

        plot_history(
            history,
            plot,
            test_accuracy=test_accuracy,
            title=f"{describe(model)}, {opt!r}\n{dataset}, batch {batch_size}, "
            f"seed {seed}, denseops {denseops.__version__}",
        )
    # The results line itself is printed by the CLI, whatever the verbosity.
    if verbose:
        if save is not None:
            print(f"saved the model to {save}")
        if plot is not None:
            print(f"wrote the plot to {plot}")
    return results
