"""The MNIST MLP of Keras's example and its input, defined once.

``Dense(512, relu) -> Dense(10, softmax)``, sparse categorical cross-entropy,
RMSprop, batch 128, on flattened images scaled to [0, 1]: what `denseops
train` trains, what the benchmarks time and what the tests train on.
"""

import numpy as np

from denseops.nn import Dense, Sequential

INPUTS, HIDDEN, CLASSES = 784, 512, 10
LOSS = "sparse_categorical_crossentropy"


def flatten_images(images):
    """(N, 28, 28) uint8 pixels -> (N, 784) float32 in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


def load_flat(dataset, data_dir=None):
    """``dataset.load_data(data_dir)`` (a `denseops.datasets` module) with flattened images:
    ``(x_train, y_train), (x_test, y_test)``."""
    (x_train, y_train), (x_test, y_test) = dataset.load_data(data_dir)
    return (flatten_images(x_train), y_train), (flatten_images(x_test), y_test)


def build_mlp(hidden=HIDDEN, classes=CLASSES):
    """The uncompiled, unbuilt model: its weights are created on the first batch."""
    return Sequential(
        [Dense(hidden, activation="relu"), Dense(classes, activation="softmax")], name="mnist_mlp"
    )


def compiled_mlp(optimizer="rmsprop", seed=None, inputs=INPUTS):
    """The model compiled as Keras's example (accuracy as metric) and built with seeded weights."""
    model = build_mlp()
    model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"])
    model.build(inputs, seed=seed)
    return model


def describe(model):
    """``"Dense 512 relu -> Dense 10 softmax"``: the layers, for plot titles."""
    return " -> ".join(f"Dense {layer.units} {layer.activation}" for layer in model.layers)
