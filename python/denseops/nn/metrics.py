"""Metrics with Keras 3's names, computed by the ``metric`` kernel.

A metric keeps a weighted running mean over the batches of an epoch
(``update_state`` / ``result`` / ``reset_state``, as in Keras). ``"accuracy"``
(or ``"acc"``) is resolved the way Keras 3 resolves it, from the shapes of
the targets and the predictions: one output unit -> binary accuracy, labels
of lower rank than the predictions -> sparse categorical accuracy, else
categorical accuracy; it is logged under the name the user gave.
"""

from __future__ import annotations

import math

import numpy as np

import denseops as ops
from denseops.argument_errors import check_count
from denseops.nn.call_arrays import prediction_rows, sample_weights_for
from denseops.nn.class_configs import from_class_config


class Metric:
    """A weighted mean over batches of one per-sample value.

    Subclasses set ``default_name`` (Keras's name, which is also the name
    the ``metric`` kernel knows it by), ``sparse`` (targets are integer
    labels) and ``needs_probabilities`` (logits would give another value).
    """

    default_name: str | None = None
    sparse = False
    needs_probabilities = False
    weighted = False  # set by the model: from compile's weighted_metrics

    def __init__(self, name=None, dtype=None):
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update(self, pred, targets, sample_weight=None, logits=False):
        """Adds a batch; ``pred`` and ``targets`` as the model prepared them.

        ``logits`` says ``pred`` is the pre-activation of a final sigmoid or
        softmax (only for metrics with ``needs_probabilities`` False).
        """
        self.total += ops.metric(
            pred,
            targets,
            self.default_name,
            sample_weight=sample_weight,
            **self._kernel_args(logits),
        )
        self.count += len(pred) if sample_weight is None else float(sample_weight.sum())

    def _kernel_args(self, logits):
        return {}

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Keras's form: adds a batch of raw targets and predictions."""
        y_pred = prediction_rows(y_pred)
        y_true = np.asarray(y_true)
        if self.sparse:
            y_true = y_true.reshape(-1)
        else:
            y_true = y_true.reshape(y_pred.shape).astype(y_pred.dtype)
        self.update(y_pred, np.ascontiguousarray(y_true), sample_weights_for(y_pred, sample_weight))

    def result(self):
        return self.total / self.count if self.count else 0.0

    def get_config(self):
        return {"class": type(self).__name__, "name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class BinaryAccuracy(Metric):
    """Fraction of outputs where ``y_pred > threshold`` equals ``y_true``.

    Args:
        threshold: in [0, 1]. Default 0.5.
    """

    default_name = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0 <= threshold <= 1
        ):
            raise ValueError(f"threshold must be in [0, 1]. Received: threshold={threshold!r}")
        self.threshold = float(threshold)
        super().__init__(name, dtype)

    def _kernel_args(self, logits):
        if not logits:
            return {"threshold": self.threshold}
        # sigmoid(z) > t exactly when z > log(t / (1 - t)).
        t = self.threshold
        return {"threshold": -math.inf if t == 0 else math.inf if t == 1 else math.log(t / (1 - t))}

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """Fraction of samples whose largest prediction is the target's largest entry."""

    default_name = "categorical_accuracy"


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose largest prediction is at the integer label."""

    default_name = "sparse_categorical_accuracy"
    sparse = True


class TopKCategoricalAccuracy(Metric):
    """Fraction of samples whose target class is among the ``k`` largest predictions.

    Args:
        k: default 5.
    """

    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = check_count("k", k)
        super().__init__(name, dtype)

    def _kernel_args(self, logits):
        return {"k": self.k}

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Top-k accuracy with integer labels."""

    default_name = "sparse_top_k_categorical_accuracy"
    sparse = True

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(k, name, dtype)


class MeanAbsoluteError(Metric):
    """Mean of ``abs(y_pred - y_true)``."""

    default_name = "mean_absolute_error"
    needs_probabilities = True


class MeanSquaredError(Metric):
    """Mean of ``(y_pred - y_true) ** 2``."""

    default_name = "mean_squared_error"
    needs_probabilities = True


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
}
_CLASSES = {c.__name__: c for c in set(_BY_NAME.values())}


def _function(cls, name):
    """Keras's function form of a metric: its value for each sample, unreduced."""

    def metric(y_true, y_pred, **kwargs):
        y_pred = np.asarray(y_pred)
        # As the loss functions: the last axis is reduced, so a 1-D array is
        # the outputs of one sample (for sparse labels, one score row).
        one_sample = y_pred.ndim == 1 and not cls.sparse
        rows = prediction_rows(y_pred.reshape(1, -1) if one_sample else y_pred)
        y_true = np.asarray(y_true)
        y_true = y_true.reshape(len(rows), -1) if not cls.sparse else y_true.reshape(len(rows))
        per_sample = np.empty(len(rows), rows.dtype)
        for i in range(len(rows)):  # the kernel reduces over its rows: one call a sample
            instance = cls(**kwargs)
            instance.update_state(y_true[i : i + 1], rows[i : i + 1])
            per_sample[i] = instance.result()
        return per_sample[0] if one_sample else per_sample

    metric.__name__ = metric.__qualname__ = name
    metric.metric_class = cls
    metric.__doc__ = (
        f"Keras's ``{name}(y_true, y_pred)``: {cls.__name__} of each sample (shape "
        "(samples,)), unreduced; keyword arguments go to the class (threshold, k)."
    )
    return metric


binary_accuracy = _function(BinaryAccuracy, "binary_accuracy")
categorical_accuracy = _function(CategoricalAccuracy, "categorical_accuracy")
sparse_categorical_accuracy = _function(SparseCategoricalAccuracy, "sparse_categorical_accuracy")
top_k_categorical_accuracy = _function(TopKCategoricalAccuracy, "top_k_categorical_accuracy")
sparse_top_k_categorical_accuracy = _function(
    SparseTopKCategoricalAccuracy, "sparse_top_k_categorical_accuracy"
)
mean_absolute_error = _function(MeanAbsoluteError, "mean_absolute_error")
mean_squared_error = _function(MeanSquaredError, "mean_squared_error")


def _named(identifier):
    """A metric or loss function of these modules (``metrics=[metrics.mae]``, as Keras
    takes them) stands for its name; anything else is returned as it is."""
    if callable(identifier) and (
        hasattr(identifier, "metric_class") or hasattr(identifier, "loss_class")
    ):
        if identifier.__name__ in _BY_NAME:
            return identifier.__name__
    return identifier


def resolve(identifier, targets, outputs):
    """The Metric for a compile() entry, given the fit's targets and the model's outputs.

    Args:
        identifier: "accuracy"/"acc", a Keras metric name, or a Metric.
        targets: the raw targets (their rank decides sparse vs one-hot).
        outputs: units of the last layer.
    """
    identifier = _named(identifier)
    if isinstance(identifier, Metric):
        return identifier
    if not isinstance(identifier, str):
        raise ValueError(
            f"Unknown metric: {identifier!r}. Expected a name such as 'accuracy' "
            "or a denseops.nn.metrics.Metric"
        )
    if identifier.lower() in ("accuracy", "acc"):
        if outputs == 1:
            cls = BinaryAccuracy
        elif np.ndim(targets) < 2 or np.shape(targets)[-1] == 1:
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name=identifier)
    cls = _BY_NAME.get(identifier.lower())
    if cls is None:
        raise ValueError(
            f"Unknown metric: {identifier!r}. Expected 'accuracy' or one of {sorted(_BY_NAME)}"
        )
    return cls(name=identifier)


def check_identifier(identifier):
    """Raises at compile() time for a metric that resolve() could never accept."""
    identifier = _named(identifier)
    if isinstance(identifier, Metric):
        return
    if not isinstance(identifier, str) or identifier.lower() not in {*_BY_NAME, "accuracy", "acc"}:
        raise ValueError(
            f"Unknown metric: {identifier!r}. Expected 'accuracy' or one of "
            f"{sorted(_BY_NAME)} or a denseops.nn.metrics.Metric"
        )


def serialize(identifier):
    identifier = _named(identifier)
    if isinstance(identifier, str):
        return identifier
    if type(identifier).__name__ in _CLASSES:
        return identifier.get_config()
    raise ValueError(
        f"Cannot save metric {identifier!r}: only the built-in metrics can be restored by load()"
    )


def deserialize(config):
    if isinstance(config, str):
        return config
    return from_class_config(config, _CLASSES, "metric")
