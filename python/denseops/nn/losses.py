"""Losses with Keras 3's names, arguments and formulas, computed by the
``loss`` kernel, which returns the loss and writes its gradient in one pass.

A cross-entropy after its matching activation (softmax for the categorical
ones, sigmoid for the binary one) is fused with it: the model hands the
loss the last layer's *logits*, which is both faster (one pass) and stable
(the gradient is simply ``(probabilities - targets) / batch``).

Reduction is Keras's default, "sum_over_batch_size":
``sum(sample_weight * per_sample_loss) / batch``.

Example:
    >>> import numpy as np
    >>> from denseops.nn import losses
    >>> y_true = np.array([[0.0], [1.0]]); y_pred = np.array([[0.5], [0.5]])
    >>> round(losses.MeanSquaredError()(y_true, y_pred), 4)
    0.25
"""

from __future__ import annotations

import numpy as np

import denseops as ops
from denseops.argument_errors import kernel_dtype
from denseops.nn.call_arrays import prediction_rows, sample_weights_for


class Loss:
    """Base class of the Keras losses.

    Subclasses set ``kernel`` (the kernel's name for the loss) and, for a
    cross-entropy, ``fuses_with`` (the activation it fuses with).
    """

    name = "loss"
    kernel: str | None = None
    fuses_with: str | None = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction != "sum_over_batch_size":
            raise ValueError(
                f"Only reduction='sum_over_batch_size' (Keras's default) is supported. "
                f"Received: reduction={reduction!r}"
            )
        if name is not None:
            self.name = name
        self.from_logits = False
        # The dtype the loss computes in; None: that of the predictions (a
        # model's own dtype in training).
        self.dtype = None if dtype is None else kernel_dtype(dtype)
        if dtype is not None and self.dtype is None:
            raise ValueError(
                f"dtype must be None, 'float32' or 'float64'. Received: dtype={dtype!r}"
            )

    def check_dtype(self, dtype):
        """Refuses a model of another ``dtype`` than the one this loss was built with:
        the model computes its loss in its own dtype."""
        if self.dtype is not None and self.dtype != np.dtype(dtype):
            raise ValueError(
                f"{self.name} was built with dtype={self.dtype.name!r}, but the model "
                f"computes in {np.dtype(dtype).name}; the loss is computed in the model's "
                f"dtype. Build the loss with dtype=None or dtype={np.dtype(dtype).name!r}."
            )

    # --------------------------------------------------------------- targets

    def prepare_targets(self, targets, num_samples, outputs, dtype):
        """Checks ``targets`` against a model with ``outputs`` units and returns
        them as the kernel wants them (float rows of ``dtype``), once per fit."""
        if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "fiub":
            kind = targets.dtype if isinstance(targets, np.ndarray) else type(targets).__name__
            raise ValueError(f"{self.name} needs numeric targets. Received: y of dtype {kind}")
        # Keras matches ranks: (samples,) targets fit a model with one output.
        if targets.ndim == 1 and outputs == 1:
            targets = targets.reshape(-1, 1)
        if targets.shape != (num_samples, outputs):
            raise ValueError(
                f"{self.name} needs targets of shape ({num_samples}, {outputs}) for a last "
                f"layer of {outputs} units. Received: y of shape {targets.shape}"
            )
        targets = np.ascontiguousarray(targets, dtype=dtype)
        if not np.isfinite(targets).all():
            raise ValueError(f"{self.name}: targets contain NaN or Inf")
        return targets

    def smooth(self, targets):
        """The targets the loss sees (label smoothing); metrics see the originals."""
        return targets

    # --------------------------------------------------------------- compute

    def compute(self, pred, targets, sample_weight=None, grad=None, logits=False):
        """Loss of a batch; fills ``grad`` with d(loss)/d(pred) when given.

        ``logits`` says ``pred`` holds the pre-activation of the activation in
        ``fuses_with`` (or the loss was built with ``from_logits=True``).
        """
        return ops.loss(
            pred,
            targets,
            self.kernel,
            from_logits=logits or self.from_logits,
            sample_weight=sample_weight,
            grad=grad,
            **self._kernel_args(),
        )

    def _kernel_args(self):
        return {}

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's call: the reduced loss of ``y_pred`` against ``y_true``."""
        y_pred = prediction_rows(y_pred)
        if self.dtype is not None:
            y_pred = y_pred.astype(self.dtype, copy=False)
        targets = self.prepare_targets(
            np.asarray(y_true), len(y_pred), y_pred.shape[1], y_pred.dtype
        )
        return self.compute(y_pred, self.smooth(targets), sample_weights_for(y_pred, sample_weight))

    def get_config(self):
        dtype = None if self.dtype is None else self.dtype.name
        return {"name": self.name, "class": type(self).__name__, "dtype": dtype}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class")
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2)`` over the outputs of each sample."""

    name = "mean_squared_error"
    kernel = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)


class MeanAbsoluteError(Loss):
    """``mean(abs(y_pred - y_true))`` over the outputs of each sample."""

    name = "mean_absolute_error"
    kernel = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction, dtype)


class Huber(Loss):
    """``0.5 * e**2`` where ``|e| <= delta``, else ``delta * (|e| - 0.5 * delta)``,
    with ``e = y_pred - y_true``, averaged over the outputs.

    Args:
        delta: where the loss turns from quadratic to linear, > 0. Default 1.0.
    """

    name = "huber_loss"
    kernel = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name, reduction, dtype)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"delta must be a number > 0. Received: delta={delta!r}")
        self.delta = float(delta)

    def _kernel_args(self):
        return {"delta": self.delta}

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class _CrossEntropy(Loss):
    """Shared arguments of the cross-entropies; ``name=None`` is the class's Keras name.

    ``axis`` is the class axis: predictions here are (samples, classes), so it
    must be the last one (-1, or 1), as it is by default in Keras.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(name, reduction, dtype)
        if isinstance(axis, bool) or axis not in (-1, 1):
            raise ValueError(
                "Only axis=-1 (the class axis of (samples, classes) predictions) is "
                f"supported. Received: axis={axis!r}"
            )
        self.axis = -1
        self.from_logits = bool(from_logits)
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, (int, float))
            or not 0 <= label_smoothing <= 1
        ):
            raise ValueError(
                f"label_smoothing must be in [0, 1]. Received: label_smoothing={label_smoothing!r}"
            )
        self.label_smoothing = float(label_smoothing)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryCrossentropy(_CrossEntropy):
    """``-(t * log(p) + (1 - t) * log(1 - p))`` averaged over the outputs.

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as Keras does; after a
    sigmoid, or with ``from_logits=True``, the stable logit form
    ``max(z, 0) - z * t + log(1 + exp(-|z|))`` is used instead.

    Args:
        from_logits: whether predictions are logits rather than probabilities.
        label_smoothing: targets become ``t * (1 - s) + 0.5 * s``.
    """

    name = "binary_crossentropy"
    kernel = "binary_crossentropy"
    fuses_with = "sigmoid"

    def smooth(self, targets):
        if not self.label_smoothing:
            return targets
        return targets * (1 - self.label_smoothing) + 0.5 * self.label_smoothing


class CategoricalCrossentropy(_CrossEntropy):
    """``-sum(t * log(p))`` over the classes, with one-hot (or soft) targets.

    Args:
        from_logits: whether predictions are logits rather than probabilities.
        label_smoothing: targets become ``t * (1 - s) + s / classes``.
    """

    name = "categorical_crossentropy"
    kernel = "categorical_crossentropy"
    fuses_with = "softmax"

    def prepare_targets(self, targets, num_samples, outputs, dtype):
        if isinstance(targets, np.ndarray) and targets.ndim == 1 and outputs > 1:
            raise ValueError(
                f"{self.name} needs one-hot targets of shape ({num_samples}, {outputs}). "
                f"Received: y of shape {targets.shape}; use "
                "loss='sparse_categorical_crossentropy' for integer labels, or "
                "denseops.nn.utils.to_categorical(y)"
            )
        if isinstance(targets, np.ndarray) and targets.dtype.kind in "fi" and targets.ndim == 2:
            # Targets are probabilities: a negative, NaN or infinite one has no meaning
            # and would only surface later as a NaN loss or a FloatingPointError.
            bad = (
                ~np.isfinite(targets) | (targets < 0) if targets.dtype.kind == "f" else targets < 0
            )
            if bad.any():
                row, column = np.argwhere(bad)[0]
                raise ValueError(
                    f"{self.name} needs finite, non-negative targets (one-hot or "
                    f"probabilities). Received: y[{row}, {column}] = {targets[row, column]}"
                )
        return super().prepare_targets(targets, num_samples, outputs, dtype)

    def smooth(self, targets):
        if not self.label_smoothing:
            return targets
        return targets * (1 - self.label_smoothing) + self.label_smoothing / targets.shape[1]


class SparseCategoricalCrossentropy(_CrossEntropy):
    """``-log(p[label])`` with integer class labels of shape (samples,).

    Args:
        from_logits: whether predictions are logits rather than probabilities.
    """

    name = "sparse_categorical_crossentropy"
    kernel = "sparse_categorical_crossentropy"
    fuses_with = "softmax"

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        if ignore_class is not None:
            raise ValueError(
                "ignore_class is not supported: every label must be a class of the last "
                f"layer. Received: ignore_class={ignore_class!r}"
            )
        super().__init__(from_logits, 0.0, axis, reduction, name, dtype)
        self.ignore_class = None

    def prepare_targets(self, targets, num_samples, outputs, dtype):
        if isinstance(targets, np.ndarray) and targets.ndim == 2 and targets.shape[1] == 1:
            targets = targets.reshape(-1)  # Keras accepts (samples, 1) labels too
        if (
            isinstance(targets, np.ndarray)
            and targets.dtype.kind == "f"
            and targets.size
            and np.array_equal(targets, np.round(targets))
        ):
            # Whole numbers stored as floats, as Keras allows; checked before the
            # cast, which would wrap 1e20 or inf into some other number.
            self._check_label_range(targets, outputs)
            targets = targets.astype(np.int64)
        if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "iu":
            kind = targets.dtype if isinstance(targets, np.ndarray) else type(targets).__name__
            raise ValueError(f"{self.name} needs integer class labels. Received: y of dtype {kind}")
        if targets.shape != (num_samples,):
            raise ValueError(
                f"{self.name} needs labels of shape ({num_samples},), one per sample. "
                f"Received: y of shape {targets.shape}"
            )
        self._check_label_range(targets, outputs)
        return targets

    @staticmethod
    def _check_label_range(labels, outputs):
        if labels.size and (labels.min() < 0 or labels.max() >= outputs):
            raise ValueError(
                f"Labels must be in [0, {outputs}) for a last layer of {outputs} units. "
                f"Received: labels from {labels.min().item()!r} to {labels.max().item()!r}"
            )

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"], config["axis"]  # Keras's config has neither
        return {**config, "ignore_class": self.ignore_class}


_CLASSES = {
    c.__name__: c
    for c in (
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
    )
}
_BY_NAME = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def _function(cls, name):
    def loss(y_true, y_pred):
        instance = cls()
        y_pred = np.asarray(y_pred)
        # Keras reduces over the last axis only: 1-D predictions are the
        # outputs of one sample (but for sparse labels, one class score row).
        one_sample = y_pred.ndim == 1 and cls is not SparseCategoricalCrossentropy
        if one_sample:
            y_pred, y_true = y_pred.reshape(1, -1), np.asarray(y_true).reshape(1, -1)
        rows = prediction_rows(y_pred)
        targets = instance.smooth(
            instance.prepare_targets(np.asarray(y_true), len(rows), rows.shape[1], rows.dtype)
        )
        # The kernel reduces over its rows, so each sample is one call.
        per_sample = np.array(
            [instance.compute(rows[i : i + 1], targets[i : i + 1]) for i in range(len(rows))],
            dtype=rows.dtype,
        )
        return per_sample[0] if one_sample else per_sample

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = (
        f"Keras's ``{name}(y_true, y_pred)``: the loss of {cls.__name__} of each sample "
        "(shape (samples,)), unreduced; the loss of the one sample for 1-D arrays."
    )
    loss.loss_class = cls
    return loss


# Keras's function forms, usable as loss=losses.mse as well as called directly.
mean_squared_error = mse = _function(MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _function(MeanAbsoluteError, "mean_absolute_error")
huber = _function(Huber, "huber")
binary_crossentropy = _function(BinaryCrossentropy, "binary_crossentropy")
categorical_crossentropy = _function(CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _function(
    SparseCategoricalCrossentropy, "sparse_categorical_crossentropy"
)


def get(identifier):
    """Returns a Loss for a Keras name, a loss function of this module, or a Loss."""
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and hasattr(identifier, "loss_class"):
        return identifier.loss_class()
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        f"Unknown loss: {identifier!r}. Expected one of {sorted(_BY_NAME)} "
        "or a denseops.nn.losses.Loss."
    )


def from_config(config):
    """Rebuilds a loss from ``get_config()``."""
    config = dict(config)
    if "class" in config:
        cls = _CLASSES.get(config.pop("class"))
    else:  # files written before losses carried their class: their Keras name
        cls = _BY_NAME.get(config.get("name"))
    if cls is None:
        raise ValueError(f"Unknown loss: {config!r:.100}. Expected one of {sorted(_CLASSES)}")
    return cls(**config)
