"""Sequential: a stack of layers with Keras 3's compile / fit / evaluate / predict."""

import math
import signal
import sys
import threading
import time

import numpy as np

from denseops.argument_errors import check_count
from denseops.nn import losses, optimizers
from denseops.nn import metrics as metrics_module
from denseops.nn.callbacks import Callback, CallbackList, History, ProgbarLogger, TerminateOnNaN
from denseops.nn.exclusive import one_call_at_a_time, one_call_lock
from denseops.nn.layers import InputLayer, Layer, input_size_from_shape, set_weight_list
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

    def __init__(self, layers=None, name="sequential"):
        self.name = name
        self.layers = []
        self._input_dim = None
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
            self._input_dim, self._input_dtype = layer.input_dim, layer.dtype
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes denseops.nn layers. Received: {layer!r}")
        # input_shape counts on the first layer only, as in Keras.
        if not self.layers and self._input_dim is None and layer.declared_input_dim is not None:
            self._input_dim = layer.declared_input_dim
        if layer.name is None:
            kind = _KERAS_LAYER_NAMES.get(type(layer).__name__)
            layer.name = f"{kind or 'layer'}_{len(self.layers)}"
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
        if self._input_dim is not None:
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
        return self.layers[0].input_dim if self.built else self._input_dim

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
            if self._input_dim is None:
                raise ValueError(
                    "build() needs input_shape=(None, features), or an Input(shape=(features,)) "
                    "first in the model"
                )
            input_dim = self._input_dim
        else:
            input_dim = input_size_from_shape("input_shape", input_shape)
        rng = global_generator() if seed is None else np.random.default_rng(seed)
        with weights_lock(self).writing("build()"):
            self._build_layers(input_dim, rng)

    def _build_layers(self, input_dim, rng):
        """Builds the unbuilt layers in the model's dtype, all or none: a layer
        that cannot be built leaves the model as it was."""
        size, dtype = input_dim, self.dtype
        built_here = []
        try:
            for layer in self.layers:
                if not layer.built:
                    layer.build(size, dtype, rng)
                    built_here.append(layer)
                elif layer.input_dim != size:
                    raise ValueError(
                        f"Layer {layer.name!r} expects {layer.input_dim} input features but "
                        f"the previous layer gives {size}"
                    )
                size = layer.units
        except BaseException:
            for layer in built_here:
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
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{argument} must hold real numbers. Received: dtype {x.dtype}")
        if x.ndim != 2 or x.shape[0] == 0:
            hint = "; flatten images with x.reshape(len(x), -1)" if x.ndim > 2 else ""
            raise ValueError(
                f"{argument} must be a non-empty 2-D array (samples, features). "
                f"Received: shape {x.shape}{hint}"
            )
        if self.built:
            self.layers[0].check_input(x)
        elif self._input_dim is not None and x.shape[1] != self._input_dim:
            raise ValueError(
                f"The model's input is declared as (None, {self._input_dim}). "
                f"Received: {argument} of shape {x.shape}"
            )
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if scan and x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ValueError(f"{argument} contains NaN or Inf, first at index {bad}")
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

    def _targets(self, y):
        """(targets for the loss, targets for the metrics), checked against the outputs."""
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

    def _infer(self, x, logits=False):
        """Inference into new arrays: the layers' saved state and buffers, which a
        training step in another thread may be using, are left alone. Call it
        holding the weights lock for reading."""
        inputs = x
        for layer in self.layers[:-1]:
            x = layer.infer(x)
        x = self.layers[-1].infer(x, return_logits=True) if logits else self.layers[-1].infer(x)
        return x.copy() if x is inputs else x  # a model of identity layers: never the input

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
        if self._fused:
            g = last.backward(grad, need_dx=depth > 1, from_logits=True)
        else:
            g = last.backward(grad, need_dx=depth > 1)
        for i in range(depth - 2, -1, -1):
            g = self.layers[i].backward(g, need_dx=i > 0)
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
            self.build(x_batch.shape[1])
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
            x: (samples, features) real array.
            y: targets: (samples,) integer labels for sparse categorical
                cross-entropy; (samples, classes) one-hot for categorical;
                (samples,) or (samples, outputs) for the others.
            batch_size: samples per update. Default 32.
            epochs: the index of the last epoch (from ``initial_epoch``).
            verbose: "auto" (1 in a terminal, 2 otherwise), 0 silent,
                1 progress bar, 2 one line per epoch.
            callbacks: list of ``denseops.nn.callbacks.Callback``.
            validation_split: fraction in [0, 1) of the *last* samples held
                out for validation (taken before shuffling, as Keras does).
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, weights)``,
                evaluated after each epoch; logged with a ``val_`` prefix.
            shuffle: reshuffle the samples every epoch.
            class_weight: ``{class: weight}`` scaling each sample's loss by its class.
            sample_weight: (samples,) weights of each sample's loss.
            initial_epoch: epoch to start from (to resume a run).
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
        batch_size = 32 if batch_size is None else check_count("batch_size", batch_size)
        epochs = check_count("epochs", epochs)
        verbose = resolve_verbose(verbose)
        initial_epoch = check_count("initial_epoch", initial_epoch, minimum=0)
        validation_freq = check_count("validation_freq", validation_freq)
        validation_batch_size = (
            batch_size
            if validation_batch_size is None
            else check_count("validation_batch_size", validation_batch_size)
        )
        _arrays_only("fit", steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(
                "validation_split must be in [0, 1). "
                f"Received: validation_split={validation_split!r}"
            )
        callbacks = list(callbacks or [])
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be denseops.nn.callbacks.Callback objects. "
                    f"Received: {callback!r}"
                )
        x, y = self._check_xy(x, y)
        weights = self._sample_weights(y, sample_weight, class_weight)
        val_weights = None
        if validation_data is None and validation_split > 0:
            keep = len(x) - int(len(x) * validation_split)
            if keep <= 0 or keep == len(x):
                raise ValueError(
                    f"validation_split={validation_split} of {len(x)} samples leaves an empty "
                    "training or validation set"
                )
            validation_data = (x[keep:], y[keep:])
            x, y = x[:keep], y[:keep]
            if weights is not None:
                weights, val_weights = weights[:keep], weights[keep:]
        rng = np.random.default_rng(seed)
        if not self.built:
            self.build(x.shape[1], seed=rng.integers(2**63))
        self._plan_fusion()
        y_loss, y_metric = self._targets(y)
        metric_list = self._new_metrics(y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be (x_val, y_val) or (x_val, y_val, val_sample_weight)"
                )
            x_val, y_val = self._check_xy(*validation_data[:2], argument="validation x")
            if len(validation_data) == 3:
                val_weights = self._sample_weights(
                    y_val, validation_data[2], None, "validation sample_weight"
                )
            val_targets = self._targets(y_val)
            val_metrics = self._new_metrics(y_val)

        history = History()
        self.history = history
        progress = [ProgbarLogger(verbose)] if verbose else []
        callback_list = CallbackList(
            [*callbacks, history, *progress],
            self,  # Keras: History after the user's
            {
                "verbose": verbose,
                "epochs": epochs,
                "steps": -(-len(x) // batch_size),
                "batch_size": batch_size,
                "samples": len(x),
            },
        )
        skip_non_finite = any(isinstance(c, TerminateOnNaN) for c in callbacks)
        samples = len(x)
        x_batch = np.empty((min(batch_size, samples), x.shape[1]), self.dtype)
        self.stop_training = False
        finished = False
        with _StopOnInterrupt() as interrupt:
            try:
                callback_list.call("on_train_begin", {})
                for epoch in range(initial_epoch, epochs):
                    for metric in metric_list:
                        metric.reset_state()
                    callback_list.call("on_epoch_begin", epoch, {})
                    order = rng.permutation(samples) if shuffle else np.arange(samples)
                    loss_sum = 0.0
                    seen = 0
                    for step, start in enumerate(range(0, samples, batch_size)):
                        if interrupt.requested:
                            raise TrainingInterrupted(
                                f"training interrupted in epoch {epoch + 1}, before batch "
                                f"{step + 1}; {len(history.epoch)} whole epoch(s) recorded",
                                history,
                            )
                        callback_list.call("on_train_batch_begin", step, {})
                        idx = order[start : start + batch_size]
                        # mode="clip": idx is a permutation slice, always in range, and
                        # skipping the bounds pass makes the gather ~10x faster.
                        xb = np.take(x, idx, axis=0, out=x_batch[: len(idx)], mode="clip")
                        wb = None if weights is None else weights[idx]
                        try:
                            loss = self._train_batch(
                                xb, y_loss[idx], y_metric[idx], wb, metric_list, skip_non_finite
                            )
                        except FloatingPointError as error:
                            raise FloatingPointError(
                                f"training stopped in epoch {epoch + 1}, batch {step + 1}: "
                                f"{error}; the weights are those before this batch (try a lower "
                                "learning_rate)"
                            ) from None
                        loss_sum += loss * len(idx)
                        seen += len(idx)
                        logs = self._logs(loss_sum / seen, metric_list)
                        callback_list.call("on_train_batch_end", step, logs)
                        if self.stop_training:
                            break
                    logs = self._logs(loss_sum / max(seen, 1), metric_list)
                    if validation_data is not None and (epoch + 1) % validation_freq == 0:
                        val_logs = self._evaluate(
                            x_val, *val_targets, val_weights, validation_batch_size, val_metrics
                        )
                        logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    callback_list.call("on_epoch_end", epoch, logs)
                    if self.stop_training:
                        break
                if interrupt.requested:
                    # Ctrl-C during the last batch or the last validation: nothing
                    # is left to train, but the user still asked to stop.
                    raise TrainingInterrupted(
                        f"training interrupted after the last epoch; {len(history.epoch)} whole "
                        "epoch(s) recorded",
                        history,
                    )
                finished = True
            finally:
                if not finished:  # an exception: close bars and files, nothing else
                    for callback in callback_list.callbacks:
                        if hasattr(callback, "close"):
                            callback.close()
        callback_list.call("on_train_end", {})
        return history

    def _logs(self, loss, metric_list):
        logs = {"loss": float(loss)}
        for metric in metric_list:
            logs[metric.name] = float(metric.result())
        return logs

    # ------------------------------------------------------------ inference

    def _evaluate(self, x, y_loss, y_metric, weights, batch_size, metric_list, callback_list=None):
        """Mean loss (with the weight penalties) and metrics over (x, y).

        With ``callback_list``, each batch calls Keras's ``on_test_batch_begin``
        and ``on_test_batch_end`` (with the running loss and metrics).
        """
        for metric in metric_list:
            metric.reset_state()
        loss_sum = 0.0
        for step, start in enumerate(range(0, len(x), batch_size)):
            if callback_list:
                callback_list.call("on_test_batch_begin", step, {})
            end = start + batch_size
            out = self._infer(x[start:end], logits=self._fused)
            wb = None if weights is None else weights[start:end]
            loss_sum += self.loss.compute(out, y_loss[start:end], wb, logits=self._fused) * len(out)
            self._update_metrics(metric_list, out, y_metric[start:end], wb)
            if callback_list:
                running = self._logs(loss_sum / min(end, len(x)), metric_list)
                callback_list.call("on_test_batch_end", step, running)
        return self._logs(loss_sum / len(x) + self._penalty(), metric_list)

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
        _arrays_only("evaluate", steps=steps)
        x, y = self._check_xy(x, y, scan=False)
        if not self.built:
            raise ValueError("evaluate() needs a built model: fit it or build(input_dim) first")
        self._plan_fusion()
        y_loss, y_metric = self._targets(y)
        weights = self._sample_weights(y, sample_weight, None)
        callback_list = CallbackList(callbacks or [], self, {"verbose": verbose})
        callback_list.call("on_test_begin", {})
        start = time.perf_counter()
        with weights_lock(self).reading():
            logs = self._evaluate(
                x,
                y_loss,
                y_metric,
                weights,
                batch_size,
                self._new_metrics(y),
                callback_list if callbacks else None,
            )
        callback_list.call("on_test_end", logs)
        if verbose:
            steps_run = -(-len(x) // batch_size)
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

        One batch (``len(x) <= batch_size``) costs its matmuls and the
        arrays they write; the input is not scanned for NaN. Safe from several
        threads at once, and beside ``fit`` in another thread: each call
        computes in arrays of its own, on the weights as they are between two
        updates (an update waits for running predictions, and the other way
        round).

        ``batch_size=None`` (here and in ``evaluate``) runs chunks of up to
        1024 rows rather than Keras's 32: the batch size of inference changes
        only speed and memory, and 32-row products leave the kernels idle.
        """
        batch_size = (
            INFERENCE_BATCH if batch_size is None else check_count("batch_size", batch_size)
        )
        verbose = resolve_verbose(verbose)
        _arrays_only("predict", steps=steps)
        x = self._check_x(x, scan=False)
        if not self.built:
            self.build(x.shape[1])
        callback_list = CallbackList(callbacks, self, {"verbose": verbose}) if callbacks else None
        if callback_list:
            callback_list.call("on_predict_begin", {})
        start = time.perf_counter()
        with weights_lock(self).reading():
            if len(x) <= batch_size and not callback_list:
                out = self._infer(x)
            else:
                out = np.empty((len(x), self.output_dim), self.dtype)
                for step, first in enumerate(range(0, len(x), batch_size)):
                    if callback_list:
                        callback_list.call("on_predict_batch_begin", step, {})
                    batch = out[first : first + batch_size]
                    batch[...] = self._infer(x[first : first + batch_size])
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

    def __call__(self, x, training=False):
        """The model's output for a batch ``x``, as ``model(x)`` in Keras.

        ``training=False`` is inference, as safe as ``predict``;
        ``training=True`` runs the training forward pass (Dropout masks) on
        the layers' own state, so it is refused while ``fit`` runs.
        """
        x = self._check_x(x, scan=False)
        if not self.built:
            self.build(x.shape[1])
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
        """``(None, features)``; an AttributeError until the input size is known, as in Keras."""
        if self.input_dim is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")
        return (None, self.input_dim)

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
                f"(None, {layer.units if layer.units is not None else '?'})",
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
_KERAS_LAYER_NAMES = {
    "Dense": "dense",
    "Dropout": "dropout",
    "BatchNormalization": "batch_normalization",
    "LayerNormalization": "layer_normalization",
}


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


def _arrays_only(method, **step_counts):
    """Refuses Keras's step counts: they are for generators and datasets."""
    for argument, value in step_counts.items():
        if value is not None:
            raise ValueError(
                f"{argument} is for generators and datasets; {method}() here takes arrays "
                f"and always uses all of them. Received: {argument}={value!r}"
            )


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
