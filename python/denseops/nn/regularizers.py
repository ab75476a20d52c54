"""Weight penalties (Keras 3's ``regularizers``): added to the loss that
``fit`` reports, their gradient added to the weights' gradient by the
``weight_penalty`` kernel in the same pass that computes the penalty.

Example:
    >>> from denseops.nn import Dense, regularizers
    >>> layer = Dense(16, activation="relu", kernel_regularizer=regularizers.l2(0.001))
"""

import math

import numpy as np

import denseops as ops
from denseops.nn.class_configs import from_class_config


class Regularizer:
    """Base class: ``penalty(w, grad)`` returns the penalty and adds its gradient."""

    def penalty(self, weights, grad=None):
        raise NotImplementedError

    def __call__(self, weights):
        return self.penalty(np.asarray(weights))

    def get_config(self):
        return {}


class L1L2(Regularizer):
    """``l1 * sum(abs(w)) + l2 * sum(w ** 2)``.

    Args:
        l1: L1 factor, >= 0. Default 0.0.
        l2: L2 factor, >= 0. Default 0.0.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("l1", l1)
        self.l2 = _factor("l2", l2)

    def penalty(self, weights, grad=None):
        return ops.weight_penalty(weights, grad, l1=self.l1, l2=self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return (
            f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"
        )


class L1(L1L2):
    """``l1 * sum(abs(w))``. Args: l1: factor, >= 0. Default 0.01 (Keras's)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w ** 2)``. Args: l2: factor, >= 0. Default 0.01 (Keras's)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


# Keras 3 spells them both ways.
l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """A Regularizer for None, a Keras name ("l1", "l2", "l1_l2") or an instance."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        f"Unknown regularizer: {identifier!r}. Expected None, one of "
        f"{sorted(_BY_NAME)} or a denseops.nn.regularizers.Regularizer."
    )


def serialize(regularizer):
    if regularizer is None:
        return None
    if (
        type(regularizer).__name__ not in _CLASSES
        or type(regularizer) is not _CLASSES[type(regularizer).__name__]
    ):
        raise ValueError(
            f"Cannot save regularizer {regularizer!r}: only L1, L2 and L1L2 "
            "can be restored by load()"
        )
    return {"class": type(regularizer).__name__, **regularizer.get_config()}


def deserialize(config):
    if config is None:
        return None
    return from_class_config(config, _CLASSES, "regularizer")


def _factor(argument, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{argument} must be a finite number >= 0. Received: {argument}={value!r}")
    return float(value)
