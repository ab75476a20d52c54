"""A thin Keras-flavoured layer over the denseops kernels.

Explicit backpropagation, no autograd tape: every layer has ``forward`` and
``backward``, and every number in training and inference is computed by a
denseops kernel.

Example:
    >>> from denseops.nn import Sequential, Dense
    >>> model = Sequential([Dense(512, activation="relu"),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
"""

from denseops.nn import activations, initializers, losses, optimizers
from denseops.nn.layers import Dense, Layer
from denseops.nn.losses import CategoricalCrossentropy, SparseCategoricalCrossentropy
from denseops.nn.model import History, Sequential, TrainingInterrupted
from denseops.nn.optimizers import SGD, Adam, RMSprop
from denseops.nn.serialization import load

__all__ = [
    "Adam", "CategoricalCrossentropy", "Dense", "History", "Layer", "RMSprop", "SGD",
    "Sequential", "SparseCategoricalCrossentropy", "TrainingInterrupted", "activations",
    "initializers", "load", "losses", "optimizers",
]
