"""Keras's training API for ``Sequential``: compile, fit, train_step, train_on_batch.

A mixin, as Keras's ``Trainer`` is: ``fit`` makes a checked plan
(``fit_plan.py``), takes its batches from the plan's source (``batches.py``)
and runs epochs through a ``CallbackList``; one step is forward, loss,
backward and the optimizer's update (under the weights lock, so inference in
other threads sees the weights between two updates).
"""

import contextlib
import math
import signal
import sys
import threading

from denseops.nn import losses, optimizers
from denseops.nn import metrics as metrics_module
from denseops.nn.callbacks import CallbackList, History, ProgbarLogger
from denseops.nn.exclusive import one_call_at_a_time
from denseops.nn.fit_plan import make_plan
from denseops.nn.weights_lock import weights_lock


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: raised between batches, after the last whole update.

    ``history`` holds the epochs that finished (also kept as ``model.history``).
    """

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Trainer:
    """compile / fit / train_step / train_on_batch of ``Sequential`` (a mixin)."""

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Chooses the optimizer, the loss and the metrics, as in Keras.

        A final softmax followed by a categorical cross-entropy, or a final
        sigmoid followed by binary cross-entropy, run as one fused kernel on
        the last layer's logits. The arguments Keras uses for graph
        compilation (``run_eagerly``, ``jit_compile``, ...) are accepted and
        have nothing to change here.

        Args:
            optimizer: name ("rmsprop", "adam", "sgd") or an Optimizer.
            loss: name ("mse", "binary_crossentropy", ...), a loss function
                of ``denseops.nn.losses``, or a Loss.
            metrics: list of names ("accuracy", "mae", ...), metric functions
                or Metric objects; computed without sample weights, as in Keras.
            weighted_metrics: the same, weighted by ``sample_weight`` /
                ``class_weight``; one also in ``metrics`` is logged as
                ``weighted_<name>``.
        """
        if not self.layers:
            raise ValueError("Sequential model has no layers to compile")
        if loss_weights is not None:
            raise ValueError(
                "loss_weights weighs the losses of several outputs; a Sequential model has "
                "one (pass sample_weight to fit to weigh samples)"
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = None if loss is None else losses.get(loss)  # fit() then asks for one
        self.metrics = _metric_list("metrics", metrics)
        self.weighted_metrics = _metric_list("weighted_metrics", weighted_metrics)

    def _require_compiled(self, method):
        if self.loss is None:
            raise RuntimeError(
                f"You must call compile() before {method}(): the model has no loss or optimizer"
                + (" (compile was called with loss=None)" if self.optimizer else "")
            )

    def _plan_fusion(self):
        """Whether the last activation runs inside the loss kernel (see compile)."""
        activation = getattr(self.layers[-1], "activation", None)
        self._fused = (
            not self.loss.from_logits
            and self.loss.fuses_with is not None
            and activation is not None
            and activation.name == self.loss.fuses_with
        )

    def _update_metrics(self, metric_list, out, targets, weights):
        """Adds a batch to the metrics; ``out`` is logits when the loss is fused.
        Only the weighted metrics see ``weights`` (Keras: ``metrics`` ignore them)."""
        later = []
        for metric in metric_list:
            if self._fused and metric.needs_probabilities:
                later.append(metric)
            else:
                metric.update(
                    out, targets, weights if metric.weighted else None, logits=self._fused
                )
        if later:
            # The loss has read the logits already: turn them into probabilities in place.
            probabilities = self.layers[-1].activation.forward(out, out=out)
            for metric in later:
                metric.update(probabilities, targets, weights if metric.weighted else None)

    def _penalty(self, add_gradients=False):
        return sum(layer.regularization_penalty(add_gradients) for layer in self.layers)

    def _train_batch(self, x, y_loss, y_metric, weights, metric_list, skip_non_finite=False):
        """Forward, loss, backward, update; returns the batch's loss (with penalties).

        A non-finite loss stops before the update, so the weights stay those
        that gave a finite loss: FloatingPointError, or with ``skip_non_finite``
        (TerminateOnNaN) the loss is returned and no update is made.
        """
        out = self._forward(x, training=True, logits=self._fused)
        grad = self._buffer("grad", out.shape)
        loss = self.loss.compute(out, y_loss, weights, grad, logits=self._fused)
        if not math.isfinite(loss):
            if skip_non_finite:
                return loss
            raise FloatingPointError(f"loss is {loss}")
        self._update_metrics(metric_list, out, y_metric, weights)
        last = self.layers[-1]
        depth = len(self.layers)
        # Gradients flow back only as far as the first layer with weights: the
        # layers before it (Flatten, Dropout...) need no dx, and that layer
        # skips the matmul that would make one.
        first = next((i for i, layer in enumerate(self.layers) if layer.weights), depth)
        if self._fused:
            g = last.backward(grad, need_dx=depth - 1 > first, from_logits=True)
        else:
            g = last.backward(grad, need_dx=depth - 1 > first)
        for i in range(depth - 2, first - 1, -1):
            g = self.layers[i].backward(g, need_dx=i > first)
        penalty = self._penalty(add_gradients=True)
        with weights_lock(self).writing("the optimizer step"):
            self.optimizer.apply(self.grads, self.trainable_weights)
        return loss + penalty

    @one_call_at_a_time
    def train_step(self, x_batch, y_batch, sample_weight=None):
        """One forward/backward/update on a batch; returns its logs (loss and metrics).

        For writing your own training loop, as in the from-scratch textbook.
        """
        self._require_compiled("train_step")
        x_batch, y_batch = self._check_xy(x_batch, y_batch)
        if not self.built:
            self.build((None, *x_batch.shape[1:]))
        self._plan_fusion()
        y_loss, y_metric = self._targets(y_batch)
        weights = self._sample_weights(y_batch, sample_weight, None)
        metric_list = self._new_metrics(y_batch)
        loss = self._train_batch(x_batch, y_loss, y_metric, weights, metric_list)
        return {"loss": loss, **{m.name: m.result() for m in metric_list}}

    @one_call_at_a_time
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        *,
        seed=None,
    ):
        """Trains for ``epochs`` passes over ``(x, y)``; returns a ``History``.

        Keras 3's signature and behaviour; the arguments in Keras's order.

        Args:
            x: (samples, features) real array (a memory-mapped one, from
                ``np.memmap`` or ``np.load(path, mmap_mode="r")``, is read
                batch by batch), or a generator of ``(x, y)`` /
                ``(x, y, sample_weight)`` batches, or a ``PyDataset``.
            y: targets: (samples,) integer labels for sparse categorical
                cross-entropy; (samples, classes) one-hot for categorical;
                (samples,) or (samples, outputs) for the others. None when
                x is a generator or PyDataset.
            batch_size: samples per update. Default 32.
            epochs: the index of the last epoch (from ``initial_epoch``).
            verbose: "auto" (1 in a terminal, 2 otherwise), 0 silent,
                1 progress bar, 2 one line per epoch.
            callbacks: list of ``denseops.nn.callbacks.Callback``.
            validation_split: fraction in [0, 1) of the *last* samples held
                out for validation (taken before shuffling, as Keras does).
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, weights)``,
                or a generator or PyDataset, evaluated after each epoch;
                logged with a ``val_`` prefix.
            shuffle: reshuffle the samples every epoch.
            class_weight: ``{class: weight}`` scaling each sample's loss by its class.
            sample_weight: (samples,) weights of each sample's loss.
            initial_epoch: epoch to start from (to resume a run).
            steps_per_epoch: batches per epoch of a generator or PyDataset
                (default: a PyDataset's length; a generator until it ends).
            validation_steps: batches per validation of a generator or
                PyDataset ``validation_data``.
            validation_batch_size: default ``batch_size``.
            validation_freq: validate every this many epochs.
            seed: (denseops) seeds weight initialization (if not built yet),
                Dropout masks and shuffling; the same seed and thread count
                give bit-identical weights.

        Ctrl-C stops between batches (never inside an update) and raises
        ``TrainingInterrupted`` (a KeyboardInterrupt) carrying the History of
        the finished epochs; the model stays usable. A NaN or infinite loss
        raises FloatingPointError before its update, unless a
        ``TerminateOnNaN`` callback asks to stop instead.
        """
        self._require_compiled("fit")
        arguments = dict(locals())
        del arguments["self"]
        plan = make_plan(self, arguments, resolve_verbose(verbose))
        history = History()
        self.history = history
        progress = [ProgbarLogger(plan.verbose)] if plan.verbose else []
        # Keras's order: the user's callbacks, then History, then the progress bar.
        callback_list = CallbackList([*plan.callbacks, history, *progress], self, plan.params)
        self.stop_training = False
        with _StopOnInterrupt() as interrupt, _closed_on_error(callback_list):
            callback_list.call("on_train_begin", {})
            for epoch in range(plan.initial_epoch, plan.epochs):
                logs = self._fit_epoch(epoch, plan, callback_list, interrupt, history)
                if logs is None:  # a generator with nothing left: no epoch to record
                    break
                if plan.validates_after(epoch):
                    val_logs = self._evaluate_source(plan.validation)
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                callback_list.call("on_epoch_end", epoch, logs)
                if self.stop_training or plan.data.exhausted:
                    break
            if interrupt.requested:
                # Ctrl-C during the last batch or the last validation: nothing
                # is left to train, but the user still asked to stop.
                raise TrainingInterrupted(
                    f"training interrupted after the last epoch; {len(history.epoch)} whole "
                    "epoch(s) recorded",
                    history,
                )
        callback_list.call("on_train_end", {})
        return history

    def _fit_epoch(self, epoch, plan, callback_list, interrupt, history):
        """One pass over the plan's batches; returns the epoch's logs (None if the
        data had no batch left)."""
        for metric in plan.metrics or []:
            metric.reset_state()
        callback_list.call("on_epoch_begin", epoch, {})
        loss_sum = 0.0
        seen = 0
        metric_list = plan.metrics
        for step, batch in enumerate(plan.data.epoch(plan.rng)):
            if interrupt.requested:
                raise TrainingInterrupted(
                    f"training interrupted in epoch {epoch + 1}, before batch "
                    f"{step + 1}; {len(history.epoch)} whole epoch(s) recorded",
                    history,
                )
            if metric_list is None:  # a stream: its first batch resolved them
                metric_list = plan.metrics = plan.data.metrics
            callback_list.call("on_train_batch_begin", step, {})
            try:
                loss = self._train_batch(*batch, metric_list, plan.skip_non_finite)
            except FloatingPointError as error:
                raise FloatingPointError(
                    f"training stopped in epoch {epoch + 1}, batch {step + 1}: "
                    f"{error}; the weights are those before this batch (try a lower "
                    "learning_rate)"
                ) from None
            loss_sum += loss * len(batch.x)
            seen += len(batch.x)
            callback_list.call("on_train_batch_end", step, self._logs(loss_sum / seen, metric_list))
            if self.stop_training:
                break
        if not seen and plan.data.exhausted:
            return None
        return self._logs(loss_sum / max(seen, 1), metric_list or [])

    def _logs(self, loss, metric_list):
        logs = {"loss": float(loss)}
        for metric in metric_list:
            logs[metric.name] = float(metric.result())
        return logs

    @property
    def metrics_names(self):
        """Keras 3's names of the logged groups: ``["loss", "compile_metrics"]`` once
        compiled with metrics, ``["loss"]`` without, ``[]`` before compile."""
        if self.loss is None:
            return []
        return ["loss", "compile_metrics"] if self.metrics else ["loss"]

    @staticmethod
    def _keras_result(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values if len(values) > 1 else values[0]

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on one batch; returns its loss (and metrics), as Keras's.

        Returns:
            The loss alone without metrics, else ``[loss, metric, ...]``; a
            dict with ``return_dict``.
        """
        self._require_compiled("train_on_batch")
        if class_weight is not None:
            _, y_checked = self._check_xy(x, y)
            sample_weight = self._sample_weights(y_checked, None, class_weight)
        return self._keras_result(self.train_step(x, y, sample_weight), return_dict)


def _metric_list(argument, metrics):
    """compile()'s metrics or weighted_metrics as a checked list."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        raise ValueError(
            f"{argument} must be a list, as in Keras. Received: {argument}={metrics!r}; "
            f"use {argument}=[{metrics!r}]"
        )
    metrics = list(metrics)
    for metric in metrics:
        metrics_module.check_identifier(metric)
    return metrics


def resolve_verbose(verbose):
    """Keras's verbose: "auto" is 1 (a progress bar) in a terminal and 2 (one
    line per epoch) otherwise, so log files get no carriage returns."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


@contextlib.contextmanager
def _closed_on_error(callback_list):
    """Closes the callbacks' bars and files when fit ends with an exception."""
    try:
        yield
    except BaseException:
        for callback in callback_list.callbacks:
            if hasattr(callback, "close"):
                callback.close()
        raise


class _StopOnInterrupt:
    """Turns Ctrl-C into a flag checked between batches, so an update is never
    cut in half. Only the main thread can own signal handlers; elsewhere
    Ctrl-C behaves as usual."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
