"""Cross-entropy losses, computed fused with the final softmax by a kernel.

Fusing softmax and cross-entropy is both faster (one pass) and more stable:
the gradient w.r.t. the logits is simply ``(softmax - target) / batch``.
So a loss takes the *logits* of the last layer and returns
``(mean loss, number correct, d(loss)/d(logits))``.
"""

import numpy as np

import denseops as ops


class Loss:
    """Base class. ``from_logits`` says the last layer has no softmax of its own."""

    name = "loss"

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def __call__(self, logits, targets, dlogits=None):
        raise NotImplementedError

    def check_targets(self, targets, num_samples, classes):
        """Raises unless ``targets`` fit a model with ``classes`` outputs."""
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class labels ``y`` of shape (batch,).

    ``loss = mean(-log(softmax(logits)[y]))``
    """

    name = "sparse_categorical_crossentropy"

    def __call__(self, logits, targets, dlogits=None):
        return ops.sparse_softmax_cross_entropy(logits, targets, dlogits)

    def check_targets(self, targets, num_samples, classes):
        if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "iu":
            kind = targets.dtype if isinstance(targets, np.ndarray) else type(targets).__name__
            raise ValueError(
                f"{self.name} needs integer class labels. Received: y of dtype {kind}; "
                "convert whole-number labels with y.astype(np.int64)")
        if targets.shape != (num_samples,):
            raise ValueError(
                f"{self.name} needs labels of shape ({num_samples},), one per sample. "
                f"Received: y of shape {targets.shape}")
        if targets.size and (targets.min() < 0 or targets.max() >= classes):
            raise ValueError(
                f"Labels must be in [0, {classes}) for a last layer of {classes} units. "
                f"Received: labels from {targets.min()} to {targets.max()}")


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or soft) targets of shape (batch, classes).

    ``loss = mean(-sum(targets * log(softmax(logits)), axis=1))``
    """

    name = "categorical_crossentropy"

    def __call__(self, logits, targets, dlogits=None):
        # One-hot targets often arrive as float64 or int (np.eye(10)[y]); the
        # kernel needs the logits' dtype. A batch of targets is small to cast.
        return ops.softmax_cross_entropy(logits, targets.astype(logits.dtype, copy=False),
                                         dlogits)

    def check_targets(self, targets, num_samples, classes):
        if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "fiub":
            raise ValueError(f"{self.name} needs numeric one-hot targets. Received: {targets!r:.80}")
        if targets.shape != (num_samples, classes):
            raise ValueError(
                f"{self.name} needs targets of shape ({num_samples}, {classes}). "
                f"Received: y of shape {targets.shape}")
        # Targets are probabilities: a negative, NaN or infinite one has no meaning
        # and would only surface later as a NaN loss or a FloatingPointError.
        bad = ~np.isfinite(targets) | (targets < 0) if targets.dtype.kind == "f" else \
            (targets < 0 if targets.dtype.kind == "i" else None)
        if bad is not None and bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(
                f"{self.name} needs finite, non-negative targets (one-hot or probabilities). "
                f"Received: y[{row}, {column}] = {targets[row, column]}")


_BY_NAME = {c.name: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy)}


def get(identifier):
    """Returns a Loss for a Keras name or a Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(f"Unknown loss: {identifier!r}. Expected one of {sorted(_BY_NAME)}.")
