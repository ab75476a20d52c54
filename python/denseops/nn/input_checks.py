"""What fit, evaluate and predict are given, checked and converted once.

A mixin of ``Sequential``: the inputs (any real dtype, cast to the model's;
NaN and Inf refused where training would spread them), the targets as the
loss and the metrics want them, the sample weights, and the metrics
resolved against the targets. Errors name the argument and what was
expected and received.
"""

import numpy as np

from denseops.nn import losses
from denseops.nn import metrics as metrics_module
from denseops.nn.data_adapters import INFERENCE_BATCH, array_chunks, is_memory_mapped
from denseops.nn.layers import Activation, Dropout, Flatten, Reshape


class InputChecks:
    """Checks and conversions of ``Sequential``'s data arguments (a mixin)."""

    def _check_x(self, x, argument="x", scan=True):
        """x as a C-contiguous array of the model's dtype, checked against the first layer.

        ``scan`` looks for NaN and Inf: fit does (one bad sample would spoil
        the weights); predict and evaluate do not read the data twice.
        """
        mapped = is_memory_mapped(x)
        x = x if mapped else np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{argument} must hold real numbers. Received: dtype {x.dtype}")
        first = self.layers[0] if self.layers else None
        takes_any_shape = isinstance(first, (Flatten, Reshape, Dropout, Activation))
        if x.ndim < 2 or x.shape[0] == 0 or (x.ndim != 2 and not takes_any_shape):
            hint = (
                "; put a Flatten() layer first, or flatten: x.reshape(len(x), -1)"
                if x.ndim > 2
                else ""
            )
            raise ValueError(
                f"{argument} must be a non-empty 2-D array (samples, features). "
                f"Received: shape {x.shape}{hint}"
            )
        if self.built:
            first.check_input(x)
        elif self._input_shape is not None and x.shape[1:] != tuple(self._input_shape):
            raise ValueError(
                f"The model's input is declared as {(None, *self._input_shape)}. "
                f"Received: {argument} of shape {x.shape}"
            )
        if mapped:
            # Left on disk: its rows are read (and converted) a batch at a time.
            if scan and x.dtype.kind == "f":
                for start, rows in array_chunks(x, INFERENCE_BATCH):
                    _refuse_non_finite(argument, rows, start)
            return x
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if scan and x.dtype.kind == "f":
            _refuse_non_finite(argument, x, 0)
        return x

    def _check_xy(self, x, y, argument="x", scan=True):
        x = self._check_x(x, argument, scan)
        if y is None:
            raise ValueError(f"{argument} needs targets y")
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(
                f"{argument} and its labels must have the same length. "
                f"Received: {len(x)} samples and {len(y) if y.ndim else 'a scalar'} labels"
            )
        return x, y

    def _check_output_rows(self):
        """Refuses a model whose samples do not come out as rows (batch, units)."""
        last = self.layers[-1]
        if last.built and len(last.output_shape) != 2:
            raise ValueError(
                f"The model's last layer {last.name!r} gives samples of shape "
                f"{last.output_shape[1:]}; the losses and predict take rows (batch, units): "
                "end with Flatten() or Dense"
            )

    def _targets(self, y):
        """(targets for the loss, targets for the metrics), checked against the outputs."""
        self._check_output_rows()
        self.loss.check_dtype(self.dtype)
        targets = self.loss.prepare_targets(y, len(y), self.output_dim, self.dtype)
        return self.loss.smooth(targets), targets

    def _sample_weights(self, y, sample_weight, class_weight, argument="sample_weight"):
        """Per-sample weights of the model's dtype, or None (all ones)."""
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot pass class_weight and sample_weight at the same time")
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise ValueError(
                    f"class_weight must be a dict {{class: weight}}. Received: {class_weight!r}"
                )
            y = np.asarray(y)
            if y.ndim > 1 and y.shape[-1] > 1:
                classes = y.argmax(axis=-1)  # one-hot targets, as Keras reads them
            else:
                classes = np.round(y.reshape(len(y))).astype(np.int64)
            table = np.ones(max(int(classes.max()) + 1, 1), np.float64)
            for cls, weight in class_weight.items():
                if int(cls) < 0:
                    raise ValueError(
                        f"class_weight keys must be class indices >= 0. Received: {cls!r}"
                    )
                if int(cls) < len(table):
                    table[int(cls)] = float(weight)
            return np.ascontiguousarray(table[classes], dtype=self.dtype)
        if sample_weight is None:
            return None
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.ndim == 2 and weights.shape[1] == 1:
            weights = weights.reshape(-1)
        if weights.shape != (len(y),):
            raise ValueError(
                f"{argument} must have shape ({len(y)},), one weight per sample. "
                f"Received: shape {weights.shape}"
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(f"{argument} must be finite and >= 0")
        return np.ascontiguousarray(weights, dtype=self.dtype)

    def _new_metrics(self, y):
        """Fresh Metric objects for the compiled identifiers, checked against y:
        those of ``metrics`` unweighted, then those of ``weighted_metrics``."""
        resolved = []
        sparse_targets = isinstance(self.loss, losses.SparseCategoricalCrossentropy)
        plain = len(self.metrics)
        for i, identifier in enumerate([*self.metrics, *self.weighted_metrics]):
            metric = metrics_module.resolve(identifier, y, self.output_dim)
            if isinstance(identifier, metrics_module.Metric):
                metric = type(metric)(
                    **{k: v for k, v in metric.get_config().items() if k != "class"}
                )
            metric.weighted = i >= plain
            if metric.weighted and any(m.name == metric.name for m in resolved):
                metric.name = f"weighted_{metric.name}"  # Keras's name beside the unweighted one
            if metric.sparse != sparse_targets:
                raise ValueError(
                    f"Metric {metric.name!r} needs "
                    f"{'integer labels' if metric.sparse else 'targets shaped like the outputs'}"
                    f", but the loss {self.loss.name} takes "
                    f"{'integer labels' if sparse_targets else 'targets shaped like the outputs'}"
                )
            resolved.append(metric)
        return resolved

    def _rows(self, x):
        """A block of rows as the kernels take it (a memory map's rows are read here)."""
        return np.ascontiguousarray(x, dtype=self.dtype)


def _refuse_non_finite(argument, rows, first_row):
    """A ValueError naming the first NaN or Inf of ``rows`` (row ``first_row`` onwards)."""
    if not np.isfinite(rows).all():
        bad = np.argwhere(~np.isfinite(rows))[0]
        index = (int(bad[0]) + first_row, *(int(i) for i in bad[1:]))
        raise ValueError(f"{argument} contains NaN or Inf, first at index {index}")
