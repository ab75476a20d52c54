"""Sequential: a stack of layers with Keras's compile / fit / evaluate / predict."""

import math
import signal
import threading

import numpy as np

from denseops.nn import activations, losses, optimizers
from denseops.nn.exclusive import one_call_at_a_time
from denseops.nn.layers import Layer
from denseops.nn.progress import EpochProgress


class History:
    """Per-epoch metrics of ``fit``: ``history["loss"][i]`` is epoch i's mean loss."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


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
        >>> from denseops.nn import Sequential, Dense
        >>> model = Sequential([Dense(512, activation="relu"),
        ...                     Dense(10, activation="softmax")])
        >>> model.compile(optimizer="rmsprop",
        ...               loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> # model.fit(x_train, y_train, epochs=5, batch_size=128)
    """

    def __init__(self, layers=None, name="sequential"):
        self.name = name
        self.layers = []
        for layer in layers or []:
            self.add(layer)
        self.optimizer = self.loss = None
        self.metrics = []
        self.history = None

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes denseops.nn layers. Received: {layer!r}")
        if layer.name is None:
            layer.name = f"dense_{len(self.layers)}" if type(layer).__name__ == "Dense" else \
                f"layer_{len(self.layers)}"
        self.layers.append(layer)

    # ------------------------------------------------------------ building

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def dtype(self):
        return self.layers[0].dtype

    @property
    def input_dim(self):
        return self.layers[0].input_dim

    def build(self, input_dim, seed=None):
        """Creates every layer's weights for inputs of ``input_dim`` features."""
        if not self.layers:
            raise ValueError("Sequential model has no layers; add some before building it")
        rng = np.random.default_rng(seed)
        size, dtype = input_dim, self.layers[0].dtype
        for layer in self.layers:
            if not layer.built:
                layer.build(size, dtype, rng)
            elif layer.input_dim != size:
                raise ValueError(
                    f"Layer {layer.name!r} expects {layer.input_dim} input features but the "
                    f"previous layer gives {size}")
            size, dtype = layer.units, layer.dtype

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # ------------------------------------------------------------ compile

    def compile(self, optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=None):
        """Chooses the optimizer, the loss and the metrics (only "accuracy" exists).

        The final softmax and the cross-entropy run as one fused kernel on the
        last layer's logits, so the last layer must use ``activation="softmax"``
        (or ``None`` with a loss built with ``from_logits=True``).
        """
        if not self.layers:
            raise ValueError("Sequential model has no layers to compile")
        loss = losses.get(loss)
        last = self.layers[-1].activation
        wanted = activations.linear if loss.from_logits else activations.softmax
        if last is not wanted:
            raise ValueError(
                f"{loss.name} with from_logits={loss.from_logits} needs the last layer's "
                f"activation to be {wanted.name!r}. Received: {last.name!r}")
        metrics = list(metrics or [])
        for metric in metrics:
            if metric not in ("accuracy", "acc"):
                raise ValueError(f"Unknown metric: {metric!r}. Expected 'accuracy'.")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self.metrics = ["accuracy"] if metrics else []

    def _require_compiled(self, method):
        if self.loss is None:
            raise RuntimeError(
                f"You must call compile() before {method}(): the model has no loss or optimizer")

    # ------------------------------------------------------------ data checks

    def _check_x(self, x, argument="x"):
        """x as a C-contiguous array of the model's dtype, checked against the first layer."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{argument} must hold real numbers. Received: dtype {x.dtype}")
        if x.ndim != 2 or x.shape[0] == 0:
            hint = "; flatten images with x.reshape(len(x), -1)" if x.ndim > 2 else ""
            raise ValueError(
                f"{argument} must be a non-empty 2-D array (samples, features). "
                f"Received: shape {x.shape}{hint}")
        if self.built:
            self.layers[0].check_input(x)
        x = np.ascontiguousarray(x, dtype=self.layers[0].dtype)
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ValueError(f"{argument} contains NaN or Inf, first at index {bad}")
        return x

    def _check_xy(self, x, y, argument="x"):
        x = self._check_x(x, argument)
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(
                f"{argument} and its labels must have the same length. "
                f"Received: {len(x)} samples and {len(y)} labels")
        return x, y

    def _check_targets(self, y):
        self.loss.check_targets(y, len(y), self.layers[-1].units)

    # ------------------------------------------------------------ one step

    def _forward(self, x, logits):
        for layer in self.layers[:-1]:
            x = layer.forward(x)
        return self.layers[-1].forward(x, return_logits=logits)

    def _train_batch(self, x, y):
        """Forward, loss, backward, update; returns (loss, correct). x, y already checked."""
        logits = self._forward(x, logits=True)
        dlogits = self._dlogits_buffer(logits.shape)
        loss, correct = self.loss(logits, y, dlogits)
        if not math.isfinite(loss):
            # Stop before the update: the weights stay those that gave a finite loss.
            raise FloatingPointError(f"loss is {loss}")
        grad = self.layers[-1].backward(dlogits, need_dx=len(self.layers) > 1, from_logits=True)
        for i in range(len(self.layers) - 2, -1, -1):
            grad = self.layers[i].backward(grad, need_dx=i > 0)
        self.optimizer.apply(self.weights, self.grads)
        return loss, correct

    def _dlogits_buffer(self, shape):
        buf = getattr(self, "_dlogits", None)
        if buf is None or buf.shape != shape:
            buf = self._dlogits = np.empty(shape, self.dtype)
        return buf

    def train_step(self, x_batch, y_batch):
        """One forward/backward/update on a batch; returns ``{"loss", "accuracy"}``.

        For writing your own training loop, as in the from-scratch textbook.
        """
        self._require_compiled("train_step")
        x_batch, y_batch = self._check_xy(x_batch, y_batch)
        if not self.built:
            self.build(x_batch.shape[1])
        self._check_targets(y_batch)
        loss, correct = self._train_batch(x_batch, y_batch)
        return {"loss": loss, "accuracy": correct / len(x_batch)}

    # ------------------------------------------------------------ fit

    @one_call_at_a_time
    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, validation_split=0.0,
            shuffle=True, verbose=1, seed=None):
        """Trains for ``epochs`` passes over ``(x, y)``; returns a ``History``.

        Args:
            x: (samples, features) real array.
            y: labels: (samples,) integers for sparse categorical cross-entropy,
                (samples, classes) for categorical.
            epochs: passes over the data, >= 1.
            batch_size: samples per update, >= 1.
            validation_data: ``(x_val, y_val)`` evaluated after each epoch.
            validation_split: fraction in [0, 1) of the *last* samples held
                out for validation (taken before shuffling, as Keras does).
            shuffle: reshuffle the samples every epoch.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            seed: seeds weight initialization (if not built yet) and shuffling;
                the same seed and thread count give bit-identical weights.

        Ctrl-C stops between batches (never inside an update) and raises
        ``TrainingInterrupted`` (a KeyboardInterrupt) carrying the History of
        the finished epochs; the model stays usable.
        """
        self._require_compiled("fit")
        epochs = _count("epochs", epochs)
        batch_size = _count("batch_size", batch_size)
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2. Received: verbose={verbose!r}")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(
                f"validation_split must be in [0, 1). Received: validation_split={validation_split!r}")
        x, y = self._check_xy(x, y)
        if validation_data is None and validation_split > 0:
            keep = len(x) - int(len(x) * validation_split)
            if keep <= 0 or keep == len(x):
                raise ValueError(
                    f"validation_split={validation_split} of {len(x)} samples leaves an empty "
                    "training or validation set")
            validation_data = (x[keep:], y[keep:])
            x, y = x[:keep], y[:keep]
        rng = np.random.default_rng(seed)
        if not self.built:
            self.build(x.shape[1], seed=rng.integers(2**63))
        self._check_targets(y)
        if validation_data is not None:
            x_val, y_val = self._check_xy(*validation_data, argument="validation x")
            self._check_targets(y_val)

        history = self.history = History()
        samples = len(x)
        x_batch = np.empty((min(batch_size, samples), x.shape[1]), self.dtype)
        with _StopOnInterrupt() as interrupt:
            for epoch in range(epochs):
                order = rng.permutation(samples) if shuffle else np.arange(samples)
                progress = EpochProgress(epoch + 1, epochs, samples, verbose)
                loss_sum = correct_sum = 0.0
                for step, start in enumerate(range(0, samples, batch_size)):
                    if interrupt.requested:
                        progress.close({})
                        raise TrainingInterrupted(
                            f"training interrupted in epoch {epoch + 1}, before batch {step + 1}; "
                            f"{len(history.epoch)} whole epoch(s) recorded", history)
                    idx = order[start:start + batch_size]
                    # mode="clip": idx is a permutation slice, always in range, and
                    # skipping the bounds pass makes the gather ~10x faster.
                    xb = np.take(x, idx, axis=0, out=x_batch[:len(idx)], mode="clip")
                    try:
                        loss, correct = self._train_batch(xb, y[idx])
                    except FloatingPointError as error:
                        progress.close({})
                        raise FloatingPointError(
                            f"training stopped in epoch {epoch + 1}, batch {step + 1}: {error}; "
                            "the weights are those before this batch (try a lower "
                            "learning_rate)") from None
                    loss_sum += loss * len(idx)
                    correct_sum += correct
                    seen = start + len(idx)
                    progress.update(len(idx), self._logs(loss_sum / seen, correct_sum / seen))
                logs = self._logs(loss_sum / samples, correct_sum / samples)
                if validation_data is not None:
                    val_loss, val_correct = self._evaluate(x_val, y_val, batch_size)
                    logs.update(self._logs(val_loss, val_correct, prefix="val_"))
                progress.close(logs)
                history.append(epoch, logs)
            if interrupt.requested:
                # Ctrl-C during the last batch or the last validation: nothing
                # is left to train, but the user still asked to stop.
                raise TrainingInterrupted(
                    f"training interrupted after the last epoch; {len(history.epoch)} whole "
                    "epoch(s) recorded", history)
        return history

    def _logs(self, loss, accuracy, prefix=""):
        logs = {f"{prefix}loss": float(loss)}
        if self.metrics:
            logs[f"{prefix}accuracy"] = float(accuracy)
        return logs

    # ------------------------------------------------------------ inference

    def _evaluate(self, x, y, batch_size):
        loss_sum = correct = 0.0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            batch_loss, batch_correct = self.loss(self._forward(xb, logits=True), yb)
            loss_sum += batch_loss * len(xb)
            correct += batch_correct
        return loss_sum / len(x), correct / len(x)

    def evaluate(self, x, y, batch_size=128, return_dict=False):
        """Mean loss (and accuracy) on ``(x, y)``: ``[loss, accuracy]`` as in Keras."""
        self._require_compiled("evaluate")
        batch_size = _count("batch_size", batch_size)
        x, y = self._check_xy(x, y)
        if not self.built:
            raise ValueError("evaluate() needs a built model: fit it or build(input_dim) first")
        self._check_targets(y)
        loss, accuracy = self._evaluate(x, y, batch_size)
        logs = self._logs(loss, accuracy)
        if return_dict:
            return logs
        return list(logs.values()) if len(logs) > 1 else logs["loss"]

    def predict(self, x, batch_size=128):
        """The last layer's outputs (class probabilities for softmax) for ``x``."""
        batch_size = _count("batch_size", batch_size)
        x = self._check_x(x)
        if not self.built:
            self.build(x.shape[1])
        out = np.empty((len(x), self.layers[-1].units), self.dtype)
        for start in range(0, len(x), batch_size):
            out[start:start + batch_size] = self._forward(x[start:start + batch_size], logits=False)
        return out

    # ------------------------------------------------------------ display and files

    def summary(self, print_fn=print):
        """Prints each layer's output shape and parameter count."""
        rows = [(f"{layer.name} ({type(layer).__name__})", f"(None, {layer.units})",
                 f"{layer.count_params():,}") for layer in self.layers]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in
                  enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "  ".join(h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"),
                                                      widths))
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        print_fn("=" * len(line))
        for row in rows:
            print_fn("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        print_fn("=" * len(line))
        print_fn(f"Total params: {self.count_params():,}")

    def save(self, path):
        """Writes architecture, weights and optimizer state to one ``.npz`` file, atomically."""
        from denseops.nn.serialization import save_model
        save_model(self, path)


def _count(argument, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer. Received: {argument}={value!r}")
    return int(value)


class _StopOnInterrupt:
    """Turns Ctrl-C into a flag checked between batches, so an update is never
    cut in half. Only the main thread can own signal handlers; elsewhere
    Ctrl-C behaves as usual."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
