"""A thin Keras-flavoured layer over the denseops kernels.

Explicit backpropagation, no autograd tape: every layer has ``forward`` and
``backward``, and every number in training and inference is computed by a
denseops kernel. Names, signatures and defaults are Keras 3's, so a Keras
script for a Dense network runs with ``from denseops.nn import ...``.

``from denseops import nn as keras`` stands for ``import keras``: ``keras.models``,
``keras.layers``-style names, ``keras.losses``, ``keras.metrics``,
``keras.saving``, ``keras.utils`` and ``keras.__version__`` are all here.

Example:
    >>> from denseops.nn import Sequential, Dense
    >>> model = Sequential([Dense(512, activation="relu"),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
"""

from denseops import __version__
from denseops.nn import (
    activations,
    callbacks,
    initializers,
    losses,
    metrics,
    mixed_precision,
    models,
    optimizers,
    regularizers,
    saving,
    utils,
)
from denseops.nn.callbacks import History
from denseops.nn.data_adapters import PyDataset
from denseops.nn.layers import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    Layer,
    LayerNormalization,
    Reshape,
)
from denseops.nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)
from denseops.nn.mixed_precision import DTypePolicy
from denseops.nn.model import Sequential
from denseops.nn.models import load_model  # Keras's name; reads files lazily
from denseops.nn.optimizers import SGD, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop
from denseops.nn.trainer import TrainingInterrupted
from denseops.nn.utils import to_categorical


def __getattr__(name):
    # load imports the checkpoint code (zipfile, json, tempfile)
    # on first use, so `import denseops.nn` does not pay for it.
    if name == "load":
        from denseops.nn.serialization import load

        return load
    raise AttributeError(f"module 'denseops.nn' has no attribute {name!r}")


__all__ = [
    "__version__",
    "Activation",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "BatchNormalization",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "DTypePolicy",
    "Dense",
    "Dropout",
    "Flatten",
    "History",
    "Huber",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Nadam",
    "PyDataset",
    "RMSprop",
    "Reshape",
    "SGD",
    "Sequential",
    "SparseCategoricalCrossentropy",
    "TrainingInterrupted",
    "activations",
    "callbacks",
    "initializers",
    "load",
    "load_model",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "optimizers",
    "regularizers",
    "saving",
    "to_categorical",
    "utils",
]
