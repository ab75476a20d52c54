"""Batches as the kernels take them, from whole arrays or from a stream.

``fit`` and ``evaluate`` iterate these; each yields ``TrainBatch`` tuples
of C-contiguous arrays of the model's dtype, converted batch by batch where
the data are memory-mapped or come from a generator or PyDataset.
"""

from typing import Any, NamedTuple

import numpy as np

from denseops.nn.data_adapters import array_chunks, is_memory_mapped


class TrainBatch(NamedTuple):
    """One batch as the kernels take it (arrays of the model's dtype)."""

    x: Any
    y_loss: Any  # the targets the loss sees (smoothed labels...)
    y_metric: Any  # the targets the metrics see
    weights: Any  # (batch,) or None


class ArrayBatches:
    """The batches of whole arrays, reshuffled each epoch from the fit's generator.

    ``x`` may be memory-mapped: each batch's rows are then read from the file
    and converted on their own, and the file is never read whole into memory.
    """

    def __init__(self, model, x, y_loss, y_metric, weights, batch_size, shuffle):
        self.x, self.y_loss, self.y_metric, self.weights = x, y_loss, y_metric, weights
        self.batch_size, self.shuffle = batch_size, shuffle
        self.samples = len(x)
        self.steps = -(-self.samples // batch_size)
        self.exhausted = False
        # One buffer for every batch's rows, of the model's dtype.
        self._x_batch = np.empty((min(batch_size, self.samples), *x.shape[1:]), model.dtype)

    def epoch(self, rng):
        order = rng.permutation(self.samples) if self.shuffle else np.arange(self.samples)
        for start in range(0, self.samples, self.batch_size):
            idx = order[start : start + self.batch_size]
            out = self._x_batch[: len(idx)]
            if self.x.dtype == out.dtype and not is_memory_mapped(self.x):
                # mode="clip": idx is a permutation slice, always in range, and
                # skipping the bounds pass makes the gather ~10x faster.
                xb = np.take(self.x, idx, axis=0, out=out, mode="clip")
            else:  # read (and convert) this batch's rows only
                out[...] = self.x[idx]
                xb = out
            wb = None if self.weights is None else self.weights[idx]
            yield TrainBatch(xb, self.y_loss[idx], self.y_metric[idx], wb)


class StreamTrainBatches:
    """The batches of a generator or PyDataset, each checked and converted as it comes.

    The model is built from the first batch if it is not yet (with the
    plan's seed), and the metrics are resolved from the first batch's targets.
    """

    def __init__(self, model, stream, class_weight, build_seed, shuffle=False):
        self.model, self.stream, self.class_weight = model, stream, class_weight
        # Keras shuffles the order of a PyDataset's batches each epoch (fit's
        # shuffle=True); a generator's order is its own.
        self.shuffle = shuffle and stream.dataset
        self.build_seed = build_seed
        self.samples = None
        self.steps = stream.steps
        self.metrics = None

    @property
    def exhausted(self):
        return self.stream.exhausted

    def epoch(self, rng):
        order = rng.permutation(self.stream.steps) if self.shuffle else None
        for x, y, sample_weight in self.stream.epoch(order):
            x, y = self.model._check_xy(x, y, self.stream.what)
            if not self.model.built:
                self.model.build((None, *x.shape[1:]), seed=self.build_seed)
            weights = self.model._sample_weights(y, sample_weight, self.class_weight)
            y_loss, y_metric = self.model._targets(y)
            if self.metrics is None:
                self.metrics = self.model._new_metrics(y)
            yield TrainBatch(x, y_loss, y_metric, weights)


def array_eval_batches(model, x, y_loss, y_metric, weights, batch_size):
    """``evaluate``'s batches of whole arrays, in order; memory-mapped rows
    are read and converted one batch at a time."""
    for start, xb in array_chunks(x, batch_size):
        end = start + len(xb)
        wb = None if weights is None else weights[start:end]
        yield TrainBatch(model._rows(xb), y_loss[start:end], y_metric[start:end], wb)


def stream_eval_batches(model, stream, holder):
    """``evaluate``'s batches of a generator or PyDataset; ``holder["metrics"]`` is
    filled from the first batch's targets when it is None."""
    for x, y, sample_weight in stream.epoch():
        x, y = model._check_xy(x, y, stream.what, scan=False)
        weights = model._sample_weights(y, sample_weight, None, f"{stream.what} sample_weight")
        y_loss, y_metric = model._targets(y)
        if holder.get("metrics") is None:
            holder["metrics"] = model._new_metrics(y)
        yield TrainBatch(x, y_loss, y_metric, weights)


class EvalSource:
    """What ``evaluate`` (or fit's validation) runs over: a maker of fresh batch
    iterators and the metrics to fill (a stream's are resolved from its first
    batch, so they live in ``holder``)."""

    def __init__(self, make_batches, holder):
        self.make_batches = make_batches
        self.holder = holder
        self.steps_run = 0  # batches of the last pass, for the progress line

    @property
    def metrics(self):
        return self.holder["metrics"]

    def batches(self):
        self.steps_run = 0
        for batch in self.make_batches():
            self.steps_run += 1
            yield batch
