"""Keras's ``utils`` that Dense models use."""

import random

import numpy as np

from denseops.argument_errors import check_count
from denseops.nn.data_adapters import PyDataset
from denseops.nn.naming import clear_session

__all__ = ["PyDataset", "clear_session", "set_random_seed", "to_categorical"]


def to_categorical(x, num_classes=None):
    """One-hot rows for integer class labels, as ``keras.utils.to_categorical``.

    Args:
        x: integer labels, any shape; a trailing axis of size 1 is dropped.
        num_classes: number of classes; default ``max(x) + 1``.

    Returns:
        float64 array of shape ``x.shape + (num_classes,)``.

    Example:
        >>> to_categorical([0, 2], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.]])
    """
    x = np.asarray(x)
    if x.dtype.kind == "f" and x.size and not np.array_equal(x, np.round(x)):
        raise ValueError(
            "to_categorical needs whole-number class labels. "
            f"Received: values such as {x[x != np.round(x)].flat[0]!r}"
        )
    if x.dtype.kind not in "iuf" and x.size:
        raise ValueError(f"to_categorical needs integer class labels. Received: dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() >= 2**62):  # before the cast, which would wrap them
        raise ValueError(
            "to_categorical: labels must be class indices >= 0 (and below 2**62). Received: "
            f"labels from {x.min().item()!r} to {x.max().item()!r}"
        )
    x = x.astype(np.int64)
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    num_classes = check_count("num_classes", num_classes, minimum=0)
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(
            f"to_categorical: labels must be in [0, {num_classes}). Received: "
            f"labels from {x.min()} to {x.max()}"
        )
    categorical = np.zeros((len(x), num_classes))
    categorical[np.arange(len(x)), x] = 1
    return categorical.reshape(shape + (num_classes,))


# Draws the initial weights (and Dropout seeds) of models built without an
# explicit seed: at declaration (Input / input_shape), on a first predict, or
# by build(). set_random_seed makes them reproducible, as in Keras.
_generator = np.random.default_rng()


def global_generator():
    """The generator that unseeded builds draw from (see ``set_random_seed``)."""
    return _generator


def set_random_seed(seed):
    """Seeds every generator a script's randomness comes from, as
    ``keras.utils.set_random_seed``: Python's ``random``, NumPy's global
    generator and the one denseops builds unseeded models from.

    Args:
        seed: an int >= 0.

    Example:
        >>> from denseops.nn import Sequential, Input, Dense, utils
        >>> utils.set_random_seed(0)
        >>> a = Sequential([Input(shape=(3,)), Dense(2)]).get_weights()[0]
        >>> utils.set_random_seed(0)
        >>> b = Sequential([Input(shape=(3,)), Dense(2)]).get_weights()[0]
        >>> bool((a == b).all())
        True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0. Received: seed={seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)  # NumPy's legacy seed takes 32 bits
    _generator = np.random.default_rng(int(seed))
