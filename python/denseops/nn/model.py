"""Sequential: a stack of layers with Keras 3's compile / fit / evaluate / predict."""

import contextlib
import math
import signal
import sys
import threading
import time

import numpy as np

from denseops.argument_errors import check_count
from denseops.nn import losses, optimizers
from denseops.nn import metrics as metrics_module
from denseops.nn.batches import EvalSource, array_eval_batches, stream_eval_batches
from denseops.nn.callbacks import CallbackList, History, ProgbarLogger
from denseops.nn.data_adapters import StreamBatches, array_chunks, is_memory_mapped, is_stream
from denseops.nn.exclusive import one_call_at_a_time, one_call_lock
from denseops.nn.fit_plan import make_plan
from denseops.nn.fused_inference import network_forward, network_steps
from denseops.nn.layers import (
    Activation,
    Dropout,
    Flatten,
    InputLayer,
    Layer,
    Reshape,
    input_shape_tuple,
    set_weight_list,
)
from denseops.nn.naming import unique_name
from denseops.nn.progress import format_logs
from denseops.nn.utils import global_generator
from denseops.nn.weights_lock import weights_lock


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: raised between batches, after the last whole update.

    ``history`` holds the epochs that finished (also kept as ``model.history``).
    """

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Sequential:
    """A linear stack of layers, trained with explicit backpropagation.

    Example:
        >>> from denseops.nn import Sequential, Dense, Input
        >>> model = Sequential([Input(shape=(784,)),
        ...                     Dense(512, activation="relu"),
        ...                     Dense(10, activation="softmax")])
        >>> model.compile(optimizer="rmsprop",
        ...               loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> # model.fit(x_train, y_train, epochs=5, batch_size=128)
    """

    def __init__(self, layers=None, trainable=True, name=None):
        if not trainable:
            raise ValueError("Sequential(trainable=False) is not supported: every weight trains")
        self.name = name if name is not None else unique_name("sequential")
        self.layers = []
        self._input_shape = None  # one sample's shape, once declared (Input, input_shape)
        self._input_dtype = None
        self._buffers = {}
        self.optimizer = self.loss = None
        self.metrics = []
        self.weighted_metrics = []
        self.history = None
        self.stop_training = False
        self._fused = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Appends a layer; an ``Input(shape=...)`` may come first to declare the input size."""
        if isinstance(layer, InputLayer):
            if self.layers:
                raise ValueError("Input(shape=...) must be the first element of a Sequential model")
            self._input_shape, self._input_dtype = layer.shape, layer.dtype
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes denseops.nn layers. Received: {layer!r}")
        # input_shape counts on the first layer only, as in Keras.
        if not self.layers and self._input_shape is None:
            self._input_shape = layer.declared_input_shape
        if any(other.name == layer.name for other in self.layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"{layer.name!r} is already the name of a layer in this model. Update the "
                "`name` argument to pass a unique name."
            )
        self._check_same_dtype(layer)
        if self.layers and hasattr(layer, "kernel") and layer.dtype != self.dtype:
            # The first layer with a kernel sets the model's dtype; the layers before it
            # (Dropout, BatchNormalization, ...) were built in the default one: build
            # them again in this one (their weights are still the initial ones).
            for other in self.layers:
                if other.built:
                    other.unbuild()
        self.layers.append(layer)
        self._buffers.clear()
        if self._input_shape is not None:
            # A declared input builds the model at once, as in Keras: weights,
            # count_params() and summary() are there before any data.
            try:
                self.build()
            except BaseException:
                self.layers.pop()
                raise

    def _check_same_dtype(self, layer):
        """Refuses a layer whose dtype differs from the model's: a model computes in
        one dtype. Each Dense keeps the dtype it was given (float32 unless said
        otherwise, as in Keras), so none is silently turned into another."""
        if not hasattr(layer, "kernel"):
            return  # Dropout: no weights, takes the model's dtype when built
        for other in self.layers:
            if hasattr(other, "kernel") and other.dtype != layer.dtype:
                raise ValueError(
                    f"Layer {layer.name!r} has dtype "
                    f"{layer.dtype.name} but layer {other.name!r} has {other.dtype.name}: all "
                    f"the Dense layers of a model share one dtype. Pass "
                    f"dtype={other.dtype.name!r} to every Dense (Input's dtype only says what "
                    "the data are; they are cast to the model's dtype)"
                )

    # ------------------------------------------------------------ building

    @property
    def built(self):
        if not self.layers:
            return False
        for layer in self.layers:  # a plain loop: predict asks on every call
            if not layer.built:
                return False
        return True

    @property
    def dtype(self):
        for layer in self.layers:
            if hasattr(layer, "kernel"):  # the first layer with weights decides
                return layer.dtype
        return self.layers[0].dtype

    @property
    def input_dim(self):
        """The number of input features (None while unknown, or for N-D samples)."""
        shape = self._sample_input_shape()
        return shape[0] if shape is not None and len(shape) == 1 else None

    def _sample_input_shape(self):
        if self.built:
            return tuple(self.layers[0].sample_input_shape)
        return self._input_shape

    @property
    def output_dim(self):
        return self.layers[-1].units

    def build(self, input_shape=None, seed=None):
        """Creates every layer's weights.

        Args:
            input_shape: ``(None, features)`` as in Keras, or ``features``;
                default the size given by ``Input`` / ``input_shape``.
            seed: seeds the initializers (and the Dropout masks).
        """
        if not self.layers:
            raise ValueError("Sequential model has no layers; add some before building it")
        if input_shape is None:
            if self._input_shape is None:
                raise ValueError(
                    "build() needs input_shape=(None, features), or an Input(shape=(features,)) "
                    "first in the model"
                )
            shape = self._input_shape
        else:
            shape = input_shape_tuple("input_shape", input_shape)
        rng = global_generator() if seed is None else np.random.default_rng(seed)
        with weights_lock(self).writing("build()"):
            self._build_layers(shape, rng)

    def _build_layers(self, shape, rng):
        """Builds the unbuilt layers in the model's dtype, all or none: a layer
        that cannot be built leaves the model as it was. ``shape`` is one input
        sample's; the model's output samples must be rows of ``units``."""
        dtype = self.dtype
        built_before = [layer.built for layer in self.layers]
        try:
            for layer in self.layers:
                shape = layer.build_shape(tuple(shape), dtype, rng)
        except BaseException:
            for layer, was_built in zip(self.layers, built_before):
                if not was_built:
                    layer.unbuild()
            raise
        self._buffers.clear()

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        """The arrays the optimizer updates, aligned with ``grads``."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        """The arrays layers update themselves (BatchNormalization's moving statistics)."""
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    def get_weights(self):
        """Copies of every weight array, layer by layer (Keras's order)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copies arrays of the shapes ``get_weights()`` returns into the model."""
        if not self.built:
            raise ValueError("set_weights() needs a built model: build it or fit it first")
        with weights_lock(self).writing("set_weights()"):
            set_weight_list(f"Model {self.name!r}", self.weights, weights)

    def count_params(self):
        """The number of weights; a ValueError before the model is built, as in Keras."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                f"built. You can build it manually via: `{self.name}.build(batch_input_shape)`."
            )
        return sum(layer.count_params() for layer in self.layers)

    # ------------------------------------------------------------ compile

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

    # ------------------------------------------------------------ data checks

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

    # ------------------------------------------------------------ one step

    def _infer(self, x, logits=False, chunk=None):
        """Inference into new arrays: the layers' saved state and buffers, which a
        training step in another thread may be using, are left alone. Call it
        holding the weights lock for reading.

        A stack of Dense layers (with Dropout, and Flatten in front) runs in
        one kernel call (fused_inference.py), ``chunk`` rows at a time through
        the whole network (default: all of ``x`` at once); other models run
        layer by layer, chunk by chunk. Both give the same bits.
        """
        steps = network_steps(self.layers, logits, x.ndim)
        rows = len(x)
        if chunk is None or chunk > rows:
            chunk = rows
        if steps is not None and x.dtype.char in "fd":
            # A leading Flatten: the same view of the rows that Flatten.infer makes
            return network_forward(x.reshape(rows, -1), steps, chunk)
        if chunk == rows:
            return self._infer_layers(x, logits)
        out = np.empty((rows, self.output_dim), self.dtype)
        for first in range(0, rows, chunk):
            out[first : first + chunk] = self._infer_layers(x[first : first + chunk], logits)
        return out

    def _infer_layers(self, x, logits=False):
        """``_infer`` one layer at a time: each layer's ``infer`` on the whole of ``x``."""
        inputs = x
        for layer in self.layers[:-1]:
            x = layer.infer(x)
        x = self.layers[-1].infer(x, return_logits=True) if logits else self.layers[-1].infer(x)
        # A model of identity and reshaping layers would hand back (a view of) the input.
        return x.copy() if np.may_share_memory(x, inputs) else x

    def _forward(self, x, training=False, logits=False):
        for layer in self.layers[:-1]:
            x = layer.forward(x, training=training)
        last = self.layers[-1]
        if logits:
            return last.forward(x, training=training, return_logits=True)
        return last.forward(x, training=training)

    def _buffer(self, key, shape):
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape, self.dtype)
        return buf

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

    # ------------------------------------------------------------ fit

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

    # ------------------------------------------------------------ inference

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

    def _rows(self, x):
        """A block of rows as the kernels take it (a memory map's rows are read here)."""
        return np.ascontiguousarray(x, dtype=self.dtype)

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

    def __call__(self, x, training=False):
        """The model's output for a batch ``x``, as ``model(x)`` in Keras.

        ``training=False`` is inference, as safe as ``predict``;
        ``training=True`` runs the training forward pass (Dropout masks) on
        the layers' own state, so it is refused while ``fit`` runs.
        """
        x = self._check_x(x, scan=False)
        if not self.built:
            self.build((None, *x.shape[1:]))
        if not training:
            with weights_lock(self).reading():
                return self._infer(x)
        with one_call_lock(self, "__call__(training=True)"):
            return self._forward(x, training=True).copy()

    # ------------------------------------------------------------ Keras's Sequential API

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at ``index``, with Keras's errors."""
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"index must be an int. Received: index={index!r}")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}."
        )

    @property
    def input_shape(self):
        """``(None, ...)``; an AttributeError until the input size is known, as in Keras."""
        shape = self._sample_input_shape()
        if shape is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")
        return (None, *shape)

    @property
    def output_shape(self):
        """``(None, units)`` of the last layer; an AttributeError while that is unknown."""
        units = self.layers[-1].units if self.layers else None
        if units is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape yet.")
        return (None, units)

    @property
    def metrics_names(self):
        """Keras 3's names of the logged groups: ``["loss", "compile_metrics"]`` once
        compiled with metrics, ``["loss"]`` without, ``[]`` before compile."""
        if self.loss is None:
            return []
        return ["loss", "compile_metrics"] if self.metrics else ["loss"]

    def pop(self, rebuild=True):
        """Removes and returns the last layer, as Keras's ``Sequential.pop``."""
        if not self.layers:
            raise IndexError(f"Sequential model '{self.name}' has no layers to pop.")
        layer = self.layers.pop()
        self._buffers.clear()
        return layer

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

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch without updating, as Keras's."""
        logs = self.evaluate(
            x, y, batch_size=len(x), verbose=0, sample_weight=sample_weight, return_dict=True
        )
        return self._keras_result(logs, return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch, as Keras's (``predict`` without chunks or output)."""
        return self.predict(x, batch_size=max(len(x), 1), verbose=0)

    # ------------------------------------------------------------ display and files

    def summary(self, print_fn=print):
        """Prints each layer's output shape and parameter count, then Keras's
        total / trainable / non-trainable lines (non-trainable: BatchNormalization's
        moving statistics)."""
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(layer.output_shape) if layer.built else f"(None, {layer.units or '?'})",
                f"{layer.count_params():,}" if layer.built else "0 (unbuilt)",
            )
            for layer in self.layers
        ]
        widths = [
            max(len(h), *(len(r[i]) for r in rows))
            for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
        ]
        line = "  ".join(
            h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths)
        )
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        print_fn("=" * len(line))
        for row in rows:
            print_fn("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        print_fn("=" * len(line))
        total = self.count_params() if self.built else 0
        frozen = sum(w.size for w in self.non_trainable_weights)
        itemsize = self.dtype.itemsize if self.built else 4
        for label, count in (("Total", total), ("Trainable", total - frozen)):
            print_fn(f"{label} params: {count:,} ({_byte_size(count * itemsize)})")
        print_fn(f"Non-trainable params: {frozen:,} ({_byte_size(frozen * itemsize)})")

    # The file format lives in serialization.py, which builds Sequential models
    # when loading and so imports this module: these three methods import it
    # when called, and this module never depends on it at import time.

    def save(self, path):
        """Writes architecture, weights and optimizer state to one ``.npz`` file, atomically."""
        from denseops.nn.serialization import save_model

        save_model(self, path)

    def save_weights(self, path):
        """Writes only the weights to one ``.npz`` file, atomically."""
        from denseops.nn.serialization import save_weights

        save_weights(self, path)

    def load_weights(self, path):
        """Reads weights written by ``save_weights`` into this (built) model."""
        from denseops.nn.serialization import load_weights

        with weights_lock(self).writing("load_weights()"):
            load_weights(self, path)


# Rows per chunk of predict/evaluate when batch_size is None: large enough for
# the GEMM to run at full speed, small enough that the layers' buffers stay a
# few MB (1024 x 512 float32 = 2 MB).
INFERENCE_BATCH = 1024


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


# The names Keras gives layers of each class (dense, dense_1, ...); others are layer_<n>.
def _byte_size(count):
    """Keras's summary sizes: 1.55 MB, 0.00 B (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.2f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def resolve_verbose(verbose):
    """Keras's verbose: "auto" is 1 (a progress bar) in a terminal and 2 (one
    line per epoch) otherwise, so log files get no carriage returns."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def _refuse_non_finite(argument, rows, first_row):
    """A ValueError naming the first NaN or Inf of ``rows`` (row ``first_row`` onwards)."""
    if not np.isfinite(rows).all():
        bad = np.argwhere(~np.isfinite(rows))[0]
        index = (int(bad[0]) + first_row, *(int(i) for i in bad[1:]))
        raise ValueError(f"{argument} contains NaN or Inf, first at index {index}")


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
