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
from denseops.nn import confusion
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


class _ConfusionMetric(Metric):
    """Weighted confusion counts at thresholds, accumulated over batches as
    Keras's confusion metrics do (see confusion.py). Targets are read as
    booleans (nonzero is positive); ``sample_weight`` is one weight per
    sample, or one per output."""

    needs_probabilities = True

    def update(self, pred, targets, sample_weight=None, logits=False):
        pred = np.asarray(pred, np.float64)
        labels = np.asarray(targets).reshape(pred.shape) != 0
        if sample_weight is None:
            weights = np.ones_like(pred)
        else:
            weights = np.asarray(sample_weight, np.float64)
            if weights.size == pred.size:  # one per output
                weights = weights.reshape(pred.shape)
            elif weights.size == len(pred):  # one per sample
                weights = weights.reshape(len(pred), *([1] * (pred.ndim - 1)))
            weights = np.broadcast_to(weights, pred.shape)
        self._accumulate(labels, pred, weights)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Keras's form: adds a batch of raw targets and predictions."""
        y_pred = prediction_rows(y_pred)
        y_true = np.asarray(y_true)
        if y_true.size != y_pred.size:
            raise ValueError(
                f"{type(self).__name__} needs targets shaped like the predictions. "
                f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
            )
        if sample_weight is not None:
            size = np.size(sample_weight)
            if size not in (1, len(y_pred), y_pred.size):
                raise ValueError(
                    "sample_weight must have one weight per sample or per output. Received: "
                    f"sample_weight.shape={np.shape(sample_weight)}, y_pred.shape={y_pred.shape}"
                )
        self.update(y_pred, y_true.reshape(y_pred.shape), sample_weight)

    def _accumulate(self, labels, pred, weights):
        raise NotImplementedError


def _thresholds_in_unit_interval(thresholds):
    """Keras's assert_thresholds_range, on a list of one or more thresholds."""
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [
        t
        for t in values
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not 0 <= t <= 1
    ]
    if bad or not values:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad or values}")
    return [float(t) for t in values]


class _ThresholdMetric(_ConfusionMetric):
    """Precision and Recall: counts at one or more thresholds, after Keras's
    optional top-k filter and single-class selection."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        if thresholds is None:  # with top_k Keras counts every kept prediction as positive
            self.thresholds = [0.5 if top_k is None else confusion.NEG_INF]
        else:
            self.thresholds = _thresholds_in_unit_interval(thresholds)
        self.top_k = None if top_k is None else check_count("top_k", top_k)
        if class_id is not None and (
            isinstance(class_id, bool)
            or not isinstance(class_id, (int, np.integer))
            or class_id < 0
        ):
            raise ValueError(f"class_id must be an integer >= 0. Received: class_id={class_id!r}")
        self.class_id = None if class_id is None else int(class_id)
        self._even = confusion.evenly_distributed(self.thresholds)
        super().__init__(name, dtype)

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.false_negatives = np.zeros(n)

    def _accumulate(self, labels, pred, weights):
        if self.top_k is not None:
            pred = confusion.keep_top_k(pred, self.top_k)
        if self.class_id is not None:
            if pred.ndim != 2 or self.class_id >= pred.shape[1]:
                raise ValueError(
                    f"class_id={self.class_id} needs predictions of shape (samples, classes) "
                    f"with more than {self.class_id} classes. Received: shape {pred.shape}"
                )
            column = slice(self.class_id, self.class_id + 1)
            labels, pred, weights = labels[:, column], pred[:, column], weights[:, column]
        if self._even:  # Keras buckets evenly spaced thresholds after clipping to [0, 1]
            pred = np.clip(pred, 0.0, 1.0)
        tp, fp, _, fn = confusion.counts(labels, pred, weights, self.thresholds)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn

    def _value(self, ratio):
        return float(ratio[0]) if len(self.thresholds) == 1 else ratio

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_ThresholdMetric):
    """``tp / (tp + fp)``, weighted and accumulated over batches, as Keras's.

    A prediction is positive when it is above the threshold (0.5 by
    default); a list of thresholds gives one precision each.

    Args:
        thresholds: a float or list of floats in [0, 1]. Default None: 0.5,
            or with ``top_k`` every one of the top k predictions.
        top_k: only the k largest predictions of each sample can be positive.
        class_id: only this output column is counted.
        name: logged name. Default "precision".
    """

    default_name = "precision"

    def result(self):
        tp = self.true_positives
        return self._value(confusion.divide_no_nan(tp, tp + self.false_positives))


class Recall(_ThresholdMetric):
    """``tp / (tp + fn)``, weighted and accumulated over batches, as Keras's.

    Args: as Precision's; name defaults to "recall".
    """

    default_name = "recall"

    def result(self):
        tp = self.true_positives
        return self._value(confusion.divide_no_nan(tp, tp + self.false_negatives))


class AUC(_ConfusionMetric):
    """Area under the ROC or precision-recall curve, as Keras 3 approximates it.

    Confusion counts are accumulated over batches at ``num_thresholds``
    evenly spaced thresholds (the end ones just outside [0, 1]); the area is
    the sum of trapezoids between them (``summation_method="interpolation"``;
    for PR Keras's Davis-Goadrich interpolation), or of lower ("minoring")
    or upper ("majoring") steps.

    Args:
        num_thresholds: > 1. Default 200.
        curve: "ROC" (default), "PR" or "PRGAIN".
        summation_method: "interpolation" (default), "minoring" or "majoring".
        name: logged name. Default "auc".
        dtype: unused (Keras's argument).
        thresholds: explicit thresholds in [0, 1]; replaces num_thresholds.
        multi_label: one curve per output column, their areas averaged
            (weighted by ``label_weights``). Default False: every output is
            one more sample of a single curve.
        num_labels: the number of columns, with multi_label only.
        label_weights: a weight per output column.
        from_logits: apply a sigmoid to the predictions first.
    """

    default_name = "auc"

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        self.curve = _choice("curve", curve, ("ROC", "PR", "PRGAIN"), str.upper)
        self.summation_method = _choice(
            "summation_method",
            summation_method,
            ("interpolation", "minoring", "majoring"),
            str.lower,
        )
        self._init_thresholds = thresholds
        if thresholds is not None:
            inner = sorted(_thresholds_in_unit_interval(thresholds))
            self.num_thresholds = len(inner) + 2
            self._even = confusion.evenly_distributed([0.0, *inner, 1.0])
        else:
            if (
                isinstance(num_thresholds, bool)
                or not isinstance(num_thresholds, (int, np.integer))
                or num_thresholds <= 1
            ):
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds!r}"
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._even = True
        self._thresholds = np.array([-confusion.EPSILON, *inner, 1.0 + confusion.EPSILON])
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_labels = None if num_labels is None else check_count("num_labels", num_labels)
        self.label_weights = (
            None if label_weights is None else np.asarray(label_weights, np.float64).reshape(-1)
        )
        self.from_logits = bool(from_logits)
        super().__init__(name, dtype)

    @property
    def thresholds(self):
        """The thresholds the counts are taken at, end ones included (Keras's property)."""
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,) if not self.multi_label else (self.num_thresholds, 0)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def _accumulate(self, labels, pred, weights):
        if self.from_logits:
            pred = 1.0 / (1.0 + np.exp(-pred))
        if self._even:  # Keras buckets evenly spaced thresholds after clipping to [0, 1]
            pred = np.clip(pred, 0.0, 1.0)
        if not self.multi_label:
            if self.label_weights is not None:
                weights = weights * self.label_weights
            found = confusion.counts(labels, pred, weights, self._thresholds)
        else:
            columns = pred.reshape(len(pred), -1).shape[1]
            if self.num_labels is not None and columns != self.num_labels:
                raise ValueError(
                    f"AUC(num_labels={self.num_labels}) received predictions with {columns} columns"
                )
            per_column = [
                confusion.counts(labels[:, j], pred[:, j], weights[:, j], self._thresholds)
                for j in range(columns)  # one curve per label
            ]
            found = [np.stack(c, axis=1) for c in zip(*per_column)]
            if self.true_positives.shape[1] == 0:
                (
                    self.true_positives,
                    self.false_positives,
                    self.true_negatives,
                    self.false_negatives,
                ) = (np.zeros_like(c) for c in found)
        self.true_positives += found[0]
        self.false_positives += found[1]
        self.true_negatives += found[2]
        self.false_negatives += found[3]

    def result(self):
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            terms = confusion.interpolated_pr_auc(tp, fp, fn)
        else:
            terms = confusion.riemann_auc(tp, fp, tn, fn, self.curve, self.summation_method)
        by_label = terms.sum(axis=0)
        if not self.multi_label:
            return float(by_label)
        if by_label.size == 0:
            return 0.0
        if self.label_weights is None:
            return float(by_label.mean())
        weight = float(self.label_weights.sum())
        return float((by_label * self.label_weights).sum() / weight) if weight else 0.0

    def get_config(self):
        return {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "thresholds": self._init_thresholds,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }


def _choice(argument, value, allowed, normalize):
    """One of `allowed` (compared after `normalize`), or a ValueError naming the value."""
    if isinstance(value, str) and normalize(value) in allowed:
        return normalize(value)
    raise ValueError(f"{argument} must be one of {list(allowed)}. Received: {argument}={value!r}")


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
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
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
