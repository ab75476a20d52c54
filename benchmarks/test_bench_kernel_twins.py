"""Every kernel the training step runs, at the MNIST MLP's shapes (batch 128,
784-512-10), against its NumPy twin in `denseops.reference`, 1 thread.

The twins compute in float64 (they are the tests' oracles), so both sides
run on float64 arrays here: the comparison is denseops' kernel against the
same formula written in NumPy. relu, add, dot and matmul have their own
suites over many sizes (test_bench_elementwise/dot/matmul.py).

    pytest benchmarks/test_bench_kernel_twins.py --benchmark-only --benchmark-group-by=group
"""

import denseops
import numpy as np
import pytest
from denseops import reference
from denseops.bench_threads import thread_limit
from denseops.mnist_mlp import CLASSES, INPUTS

BATCH, HIDDEN = 128, 512
RATE = 0.5  # Dropout(0.5), the rate the README's Dropout example uses


def operands():
    """The arrays of one training step, float64, drawn once."""
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(BATCH, HIDDEN))
    logits = rng.normal(size=(BATCH, CLASSES))
    labels = rng.integers(0, CLASSES, size=BATCH)
    return {
        "hidden": hidden,
        "relu_hidden": np.maximum(hidden, 0.0),
        "logits": logits,
        "probabilities": reference.softmax(logits),
        "labels": labels,
        "one_hot": np.eye(CLASSES)[labels],
        "bias": rng.normal(size=HIDDEN),
        "kernel": rng.normal(size=(INPUTS, HIDDEN)) * 0.05,
        "kernel_grad": rng.normal(size=(INPUTS, HIDDEN)) * 1e-3,
        "state": np.abs(rng.normal(size=(INPUTS, HIDDEN))) * 1e-4,
        "m": rng.normal(size=(INPUTS, HIDDEN)) * 1e-4,
        "v": np.abs(rng.normal(size=(INPUTS, HIDDEN))) * 1e-6,
        "rng": rng,
        # BatchNormalization / LayerNormalization of the hidden layer (512 features)
        "gamma": rng.normal(size=HIDDEN),
        "beta": rng.normal(size=HIDDEN),
        "batch_stats": (hidden.mean(axis=0), hidden.var(axis=0)),
        "layer_stats": (hidden.mean(axis=1), hidden.var(axis=1)),
    }


# kernel -> (denseops call, NumPy twin call), each taking the operands above.
# The optimizer kernels update in place and the twins return new arrays, as
# a NumPy user's update would; repeated steps keep the values finite.
CALLS = {
    "relu_backward": (
        lambda o: denseops.relu_backward(o["hidden"], o["relu_hidden"]),
        lambda o: reference.relu_backward(o["hidden"], o["relu_hidden"]),
    ),
    "column_sums": (
        lambda o: denseops.column_sums(o["hidden"]),
        lambda o: reference.column_sums(o["hidden"]),
    ),
    "activation": (
        lambda o: denseops.activation(o["hidden"], "relu", bias=o["bias"]),
        lambda o: reference.activation(o["hidden"], "relu", bias=o["bias"]),
    ),
    "activation_backward": (
        lambda o: denseops.activation_backward(o["hidden"], o["relu_hidden"], "relu"),
        lambda o: reference.activation_backward(o["hidden"], o["hidden"], "relu"),
    ),
    "softmax": (
        lambda o: denseops.softmax(o["logits"]),
        lambda o: reference.softmax(o["logits"]),
    ),
    "softmax_backward": (
        lambda o: denseops.softmax_backward(o["one_hot"], o["probabilities"]),
        lambda o: reference.softmax_backward(o["one_hot"], o["probabilities"]),
    ),
    "softmax_cross_entropy": (
        lambda o: denseops.softmax_cross_entropy(o["logits"], o["one_hot"]),
        lambda o: reference.softmax_cross_entropy(o["logits"], o["one_hot"]),
    ),
    "sparse_softmax_cross_entropy": (
        lambda o: denseops.sparse_softmax_cross_entropy(o["logits"], o["labels"]),
        lambda o: reference.sparse_softmax_cross_entropy(o["logits"], o["labels"]),
    ),
    "loss": (
        lambda o: denseops.loss(o["probabilities"], o["labels"], "sparse_categorical_crossentropy"),
        lambda o: reference.loss(
            o["probabilities"], o["labels"], "sparse_categorical_crossentropy"
        ),
    ),
    "metric": (
        lambda o: denseops.metric(o["probabilities"], o["labels"], "sparse_categorical_accuracy"),
        lambda o: reference.metric(o["probabilities"], o["labels"], "sparse_categorical_accuracy"),
    ),
    "dropout": (
        lambda o: denseops.dropout(o["hidden"], RATE, seed=1, counter=0),
        lambda o: reference.dropout(o["hidden"], RATE, o["rng"].random(o["hidden"].shape) >= RATE),
    ),
    "weight_penalty": (
        lambda o: denseops.weight_penalty(o["kernel"], l2=1e-4),
        lambda o: reference.weight_penalty(o["kernel"], l2=1e-4),
    ),
    "sgd_update": (
        lambda o: denseops.sgd_update(
            o["kernel"], o["kernel_grad"], learning_rate=0.01, momentum=0.9, velocity=o["state"]
        ),
        lambda o: reference.sgd_update(
            o["kernel"], o["kernel_grad"], o["state"], learning_rate=0.01, momentum=0.9
        ),
    ),
    "rmsprop_update": (
        lambda o: denseops.rmsprop_update(
            o["kernel"], o["kernel_grad"], o["state"], learning_rate=1e-3, rho=0.9, epsilon=1e-7
        ),
        lambda o: reference.rmsprop_update(
            o["kernel"], o["kernel_grad"], o["state"], learning_rate=1e-3, rho=0.9, epsilon=1e-7
        ),
    ),
    "adam_update": (
        lambda o: denseops.adam_update(o["kernel"], o["kernel_grad"], o["m"], o["v"], **ADAM),
        lambda o: reference.adam_update(o["kernel"], o["kernel_grad"], o["m"], o["v"], **ADAM),
    ),
    "adagrad_update": (
        lambda o: denseops.adagrad_update(
            o["kernel"], o["kernel_grad"], o["state"], learning_rate=1e-3, epsilon=1e-7
        ),
        lambda o: reference.adagrad_update(
            o["kernel"], o["kernel_grad"], o["state"], learning_rate=1e-3, epsilon=1e-7
        ),
    ),
    "adamax_update": (
        lambda o: denseops.adamax_update(o["kernel"], o["kernel_grad"], o["m"], o["v"], **ADAM),
        lambda o: reference.adamax_update(o["kernel"], o["kernel_grad"], o["m"], o["v"], **ADAM),
    ),
    "nadam_update": (
        lambda o: denseops.nadam_update(o["kernel"], o["kernel_grad"], o["m"], o["v"], **ADAM),
        lambda o: reference.nadam_update(o["kernel"], o["kernel_grad"], o["m"], o["v"], **ADAM),
    ),
    "adamw_update": (
        lambda o: denseops.adamw_update(
            o["kernel"], o["kernel_grad"], o["m"], o["v"], weight_decay=0.004, **ADAM
        ),
        lambda o: reference.adamw_update(
            o["kernel"], o["kernel_grad"], o["m"], o["v"], weight_decay=0.004, **ADAM
        ),
    ),
    "batch_normalization": (
        lambda o: denseops.batch_normalization(o["hidden"], o["gamma"], o["beta"], epsilon=1e-3),
        lambda o: reference.batch_normalization(o["hidden"], o["gamma"], o["beta"], epsilon=1e-3),
    ),
    "batch_normalization_backward": (
        lambda o: denseops.batch_normalization_backward(
            o["relu_hidden"], o["hidden"], o["gamma"], *o["batch_stats"], epsilon=1e-3
        ),
        lambda o: reference.batch_normalization_backward(
            o["relu_hidden"], o["hidden"], o["gamma"], *o["batch_stats"], epsilon=1e-3
        ),
    ),
    "layer_normalization": (
        lambda o: denseops.layer_normalization(o["hidden"], o["gamma"], o["beta"], epsilon=1e-3),
        lambda o: reference.layer_normalization(o["hidden"], o["gamma"], o["beta"], epsilon=1e-3),
    ),
    "layer_normalization_backward": (
        lambda o: denseops.layer_normalization_backward(
            o["relu_hidden"], o["hidden"], o["gamma"], *o["layer_stats"], epsilon=1e-3
        ),
        lambda o: reference.layer_normalization_backward(
            o["relu_hidden"], o["hidden"], o["gamma"], *o["layer_stats"], epsilon=1e-3
        ),
    ),
    "axpy": (
        lambda o: denseops.axpy(-1e-3, o["kernel_grad"], o["state"]),
        lambda o: reference.axpy(-1e-3, o["kernel_grad"], o["state"]),
    ),
    "link_activation": (
        lambda o: denseops.link_activation(o["logits"], "softmax"),
        lambda o: reference.link_activation(o["logits"], "softmax"),
    ),
    "link_loss": (
        lambda o: denseops.link_loss(o["logits"], o["one_hot"], "softmax"),
        lambda o: reference.link_loss(o["logits"], o["one_hot"], "softmax"),
    ),
}
ADAM = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "step": 10}
# The kernels whose own suites time them over many sizes.
OWN_SUITES = ("relu", "add", "dot", "matmul")


@pytest.mark.parametrize("implementation", ["numpy", "denseops"])
@pytest.mark.parametrize("kernel", list(CALLS))
def test_kernel_vs_numpy_twin(benchmark, kernel, implementation):
    o = operands()
    call = CALLS[kernel][implementation == "numpy"]
    benchmark.group = f"{kernel} MNIST step float64 1 thread(s)"
    benchmark.extra_info.update(operation=kernel, implementation=implementation, threads=1)
    with thread_limit(1):
        benchmark(call, o)
