"""Keras's inference API for ``Sequential``: evaluate, predict, and their batch forms.

A mixin. Inference computes in arrays of its own, never in the buffers a
training step uses, under the weights lock for reading: any number of
threads may run it at once, and beside a ``fit``. Arrays (memory-mapped ones
a chunk at a time), generators and PyDatasets are all taken.
"""

import time

import numpy as np

from denseops.argument_errors import check_count
from denseops.nn.batches import EvalSource, array_eval_batches, stream_eval_batches
from denseops.nn.callbacks import CallbackList
from denseops.nn.data_adapters import (
    INFERENCE_BATCH,
    StreamBatches,
    array_chunks,
    is_memory_mapped,
    is_stream,
)
from denseops.nn.progress import format_logs
from denseops.nn.trainer import resolve_verbose
from denseops.nn.weights_lock import weights_lock


class Inference:
    """evaluate / predict / test_on_batch / predict_on_batch of ``Sequential`` (a mixin)."""

    def _eval_source(self, x, y, sample_weight, batch_size, steps, what, scan=False):
        """What ``evaluate`` (or fit's validation) runs over, checked now: arrays, or
        a generator or PyDataset whose batches are checked as they come."""
        if is_stream(x):
            for argument, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(
                        f"{argument} must be None when {what} is a generator or PyDataset (its "
                        f"batches carry targets and weights). Received: {argument} of type "
                        f"{type(value).__name__}"
                    )
            stream = StreamBatches(x, steps, what)
            holder = {"metrics": None}
            return EvalSource(lambda: stream_eval_batches(self, stream, holder), holder)
        if steps is not None:
            raise ValueError(
                f"steps is for generators and PyDataset inputs; {what} is arrays, which are "
                f"always used whole. Received: steps={steps!r}"
            )
        argument = "x" if what == "x" else f"{what} x"
        x, y = self._check_xy(x, y, argument, scan=scan)
        weights = self._sample_weights(
            y, sample_weight, None, "sample_weight" if what == "x" else f"{what} sample_weight"
        )
        y_loss, y_metric = self._targets(y)
        holder = {"metrics": self._new_metrics(y)}
        return EvalSource(
            lambda: array_eval_batches(self, x, y_loss, y_metric, weights, batch_size), holder
        )

    def _validation_source(self, validation_data, steps, batch_size):
        """fit()'s validation data as an EvalSource (None: no validation)."""
        if validation_data is None:
            return None
        if is_stream(validation_data):
            return self._eval_source(
                validation_data, None, None, batch_size, steps, "validation_data"
            )
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be (x_val, y_val), (x_val, y_val, val_sample_weight), "
                "a generator or a PyDataset"
            )
        x_val, y_val, *weights = validation_data
        return self._eval_source(
            x_val,
            y_val,
            weights[0] if weights else None,
            batch_size,
            steps,
            "validation",
            scan=True,
        )

    def _evaluate_source(self, source, callback_list=None):
        """Mean loss (with the weight penalties) and metrics over a source's batches.

        With ``callback_list``, each batch calls Keras's ``on_test_batch_begin``
        and ``on_test_batch_end`` (with the running loss and metrics). Call it
        holding the weights lock for reading.
        """
        for metric in source.metrics or []:
            metric.reset_state()
        loss_sum = 0.0
        count = 0
        for step, batch in enumerate(source.batches()):
            if callback_list:
                callback_list.call("on_test_batch_begin", step, {})
            out = self._infer(batch.x, logits=self._fused)
            loss_sum += self.loss.compute(
                out, batch.y_loss, batch.weights, logits=self._fused
            ) * len(out)
            count += len(out)
            self._update_metrics(source.metrics, out, batch.y_metric, batch.weights)
            if callback_list:
                callback_list.call(
                    "on_test_batch_end", step, self._logs(loss_sum / count, source.metrics)
                )
        if count == 0:
            raise ValueError("there was nothing to evaluate: the data gave no batch")
        return self._logs(loss_sum / count + self._penalty(), source.metrics)

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Loss and metrics on ``(x, y)``, as Keras 3 returns them.

        ``x`` may also be a memory-mapped array (read batch by batch), or a
        generator or PyDataset of ``(x, y)`` / ``(x, y, sample_weight)``
        batches, with ``steps`` batches (default: a PyDataset's length, a
        generator until it ends).

        Returns:
            The loss alone when no metrics were compiled, else
            ``[loss, metric, ...]`` in compile order; a dict with ``return_dict``.
            With ``verbose`` (default "auto") a result line is printed too.
        """
        self._require_compiled("evaluate")
        batch_size = (
            INFERENCE_BATCH if batch_size is None else check_count("batch_size", batch_size)
        )
        verbose = resolve_verbose(verbose)
        steps = None if steps is None else check_count("steps", steps)
        if not self.built:
            raise ValueError("evaluate() needs a built model: fit it or build(input_dim) first")
        self._plan_fusion()
        source = self._eval_source(x, y, sample_weight, batch_size, steps, "x")
        callback_list = CallbackList(callbacks or [], self, {"verbose": verbose})
        callback_list.call("on_test_begin", {})
        start = time.perf_counter()
        with weights_lock(self).reading():
            logs = self._evaluate_source(source, callback_list if callbacks else None)
        callback_list.call("on_test_end", logs)
        if verbose:
            steps_run = source.steps_run
            print(
                f"{steps_run}/{steps_run} - {time.perf_counter() - start:.2f}s - "
                f"{format_logs(logs)}",
                flush=True,
            )
        if return_dict:
            return logs
        return list(logs.values()) if len(logs) > 1 else logs["loss"]

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The last layer's outputs for ``x`` (probabilities after softmax/sigmoid).

        ``x``: an array (a memory-mapped one is read ``batch_size`` rows at a
        time), or a generator or PyDataset of batches (``x``, ``(x,)`` or
        ``(x, y...)``; ``steps`` of them, default a PyDataset's length or a
        generator until it ends).

        One batch (``len(x) <= batch_size``) costs its matmuls and the
        arrays they write; the input is not scanned for NaN. Safe from several
        threads at once, and beside ``fit`` in another thread: each call
        computes in arrays of its own, on the weights as they are between two
        updates (an update waits for running predictions, and the other way
        round; a stream's batches each see the weights of their moment).

        ``batch_size=None`` (here and in ``evaluate``) runs chunks of up to
        1024 rows rather than Keras's 32: the batch size of inference changes
        only speed and memory, and 32-row products leave the kernels idle.
        """
        batch_size = (
            INFERENCE_BATCH if batch_size is None else check_count("batch_size", batch_size)
        )
        verbose = resolve_verbose(verbose)
        steps = None if steps is None else check_count("steps", steps)
        callback_list = CallbackList(callbacks, self, {"verbose": verbose}) if callbacks else None
        if is_stream(x):
            return self._predict_stream(StreamBatches(x, steps, "x"), callback_list)
        if steps is not None:
            raise ValueError(
                "steps is for generators and PyDataset inputs; predict() on arrays uses all "
                f"of them. Received: steps={steps!r}"
            )
        x = self._check_x(x, scan=False)
        if not self.built:
            self.build((None, *x.shape[1:]))
        self._check_output_rows()
        if callback_list:
            callback_list.call("on_predict_begin", {})
        start = time.perf_counter()
        with weights_lock(self).reading():
            if not callback_list and not is_memory_mapped(x):
                # One call, batch_size rows at a time through the whole network.
                out = self._infer(self._rows(x), chunk=batch_size)
            else:
                out = np.empty((len(x), self.output_dim), self.dtype)
                for step, (first, rows) in enumerate(array_chunks(x, batch_size)):
                    if callback_list:
                        callback_list.call("on_predict_batch_begin", step, {})
                    batch = out[first : first + len(rows)]
                    batch[...] = self._infer(self._rows(rows))
                    if callback_list:  # Keras hands the batch's predictions over as "outputs"
                        callback_list.call("on_predict_batch_end", step, {"outputs": batch})
        if callback_list:
            callback_list.call("on_predict_end", {})
        if verbose:
            steps_run = -(-len(x) // batch_size)
            seconds = time.perf_counter() - start
            print(
                f"{steps_run}/{steps_run} - {seconds:.2f}s - "
                f"{1000 * seconds / steps_run:.0f}ms/step",
                flush=True,
            )
        return out

    def _predict_stream(self, stream, callback_list):
        """predict() over a generator or PyDataset: the batches' outputs, concatenated."""
        if callback_list:
            callback_list.call("on_predict_begin", {})
        outputs = []
        for step, (x, _, _) in enumerate(stream.epoch()):
            x = self._check_x(x, scan=False)
            if not self.built:
                self.build((None, *x.shape[1:]))
            if callback_list:
                callback_list.call("on_predict_batch_begin", step, {})
            with weights_lock(self).reading():
                outputs.append(self._infer(x))
            if callback_list:
                callback_list.call("on_predict_batch_end", step, {"outputs": outputs[-1]})
        if callback_list:
            callback_list.call("on_predict_end", {})
        if not outputs:
            raise ValueError("there was nothing to predict: the data gave no batch")
        return np.concatenate(outputs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch without updating, as Keras's."""
        logs = self.evaluate(
            x, y, batch_size=len(x), verbose=0, sample_weight=sample_weight, return_dict=True
        )
        return self._keras_result(logs, return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch, as Keras's (``predict`` without chunks or output)."""
        return self.predict(x, batch_size=max(len(x), 1), verbose=0)
