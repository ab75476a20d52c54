"""Callbacks with Keras 3's hooks, names and defaults.

``fit`` calls ``on_train_begin``, then per epoch ``on_epoch_begin``, per
batch ``on_train_batch_begin`` / ``on_train_batch_end`` (logs: the running
means of the epoch so far), and ``on_epoch_end`` (logs: the epoch's loss and
metrics, with ``val_`` ones after validation), then ``on_train_end``.
``evaluate`` calls ``on_test_begin``, per batch ``on_test_batch_begin`` /
``on_test_batch_end`` (logs: the running loss and metrics), and
``on_test_end``; ``predict`` calls ``on_predict_begin``, per batch
``on_predict_batch_begin`` / ``on_predict_batch_end`` (logs: ``{"outputs":
the batch's predictions}``), and ``on_predict_end``. A callback sees the model
as ``self.model`` and stops training by setting
``self.model.stop_training = True``.

Example:
    >>> from denseops.nn.callbacks import EarlyStopping
    >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> # model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])
"""

import csv
import math
import os
import sys

import numpy as np


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class CallbackList:
    """Calls one hook on every callback, in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def __bool__(self):
        return bool(self.callbacks)

    def call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


class History(Callback):
    """Records the logs of every epoch: ``history.history["loss"][i]`` is
    epoch i's mean loss. ``fit`` returns it (and keeps it as ``model.history``)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.append(epoch, logs or {})

    def append(self, epoch, logs):
        """Records one epoch's logs (what ``on_epoch_end`` does; handy for own loops)."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _monitor_op(mode, monitor, caller):
    """np.less for a quantity to minimise, np.greater for one to maximise."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{caller} mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "auto":
        # Keras: accuracies and AUC go up, everything else (losses, errors) down.
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return np.less if mode == "min" else np.greater


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has stopped improving.

    Args:
        monitor: the logged quantity to watch. Default "val_loss".
        min_delta: smallest change that counts as an improvement. Default 0.
        patience: epochs without improvement before stopping. Default 0.
        verbose: 1 prints a line when it stops.
        mode: "min", "max" or "auto" (from the name).
        baseline: training stops if the quantity does not beat it within
            ``patience`` epochs.
        restore_best_weights: at the end, set the weights of the best epoch.
        start_from_epoch: epochs to wait before watching at all.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.monitor_op = _monitor_op(mode, monitor, "EarlyStopping")
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.monitor_op is np.less else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def _improved(self, current, reference):
        if reference is None:
            return True
        delta = -self.min_delta if self.monitor_op is np.less else self.min_delta
        return bool(self.monitor_op(current - delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            _warn_missing(self, self.monitor, logs)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # the first epoch watched
        self.wait += 1
        if self._improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) after every epoch, atomically.

    Args:
        filepath: a path that may hold ``{epoch}`` (1-based, as in Keras) and
            log keys, e.g. ``"model-{epoch:02d}-{val_loss:.4f}.npz"``.
        monitor: the quantity ``save_best_only`` compares. Default "val_loss".
        verbose: 1 prints a line per save.
        save_best_only: save only when ``monitor`` improved (the last file
            written is then the best model).
        save_weights_only: save only the weights (``model.load_weights``).
        mode: "min", "max" or "auto".
        save_freq: "epoch" (only this is supported).
        initial_value_threshold: a value ``monitor`` must beat for the first save.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(
                f"ModelCheckpoint supports save_freq='epoch' only. "
                f"Received: save_freq={save_freq!r}"
            )
        self.filepath = _checked_path_template(os.fspath(filepath))
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.monitor_op = _monitor_op(mode, monitor, "ModelCheckpoint")
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = math.inf if self.monitor_op is np.less else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} names {error}, which "
                f"is not in the logs: {sorted(logs)}"
            ) from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                _warn_missing(self, self.monitor, logs)
                return
            if not self.monitor_op(current, self.best):
                return
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class _SampleLogs(dict):
    """Stands for the logs of an epoch: every key a float, as the real ones are."""

    def __missing__(self, key):
        return 0.5


def _checked_path_template(filepath):
    """Refuses a ModelCheckpoint path that ``str.format`` could never fill (positional
    fields, a bad format spec or conversion) now, not after the first epoch's training.
    A log key the run does not produce can only show at the end of an epoch."""
    if not isinstance(filepath, str):
        raise TypeError(f"ModelCheckpoint filepath must be a str or path. Received: {filepath!r}")
    try:
        filepath.format_map(_SampleLogs(epoch=1))
    except (ValueError, TypeError, IndexError, AttributeError) as error:
        raise ValueError(
            f"ModelCheckpoint filepath {filepath!r} cannot be filled in by str.format: "
            f"{error}. It may name {{epoch}} (an int) and log keys such as {{val_loss}} "
            "(floats), with format specs such as {epoch:02d} or {val_loss:.4f}; write a "
            "literal brace as {{ or }}"
        ) from None
    return filepath


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stops improving.

    Args:
        monitor: default "val_loss".
        factor: in (0, 1). Default 0.1.
        patience: epochs without improvement before a reduction. Default 10.
        verbose: 1 prints a line per reduction.
        mode: "min", "max" or "auto".
        min_delta: smallest change that counts as an improvement. Default 1e-4.
        cooldown: epochs to wait after a reduction. Default 0.
        min_lr: lower bound of the rate. Default 0.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(
                f"ReduceLROnPlateau factor must be in (0, 1). Received: factor={factor!r}"
            )
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.min_delta = float(min_delta)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.monitor_op = _monitor_op(mode, monitor, "ReduceLROnPlateau")

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.monitor_op is np.less else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self.model.optimizer.learning_rate
        current = logs.get(self.monitor)
        if current is None:
            _warn_missing(self, self.monitor, logs)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        delta = -self.min_delta if self.monitor_op is np.less else self.min_delta
        if self.monitor_op(current - delta, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(
                            f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch from ``schedule(epoch, lr)``.

    Args:
        schedule: a function of the 0-based epoch and the current rate
            returning the new rate.
        verbose: 1 prints the rate it sets.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.schedule(epoch, self.model.optimizer.learning_rate)
        if (
            isinstance(lr, bool)
            or not isinstance(lr, (int, float, np.floating))
            or not math.isfinite(lr)
            or lr <= 0
        ):
            raise ValueError(
                f"LearningRateScheduler: the schedule must return a finite "
                f"number > 0. Received: {lr!r} for epoch {epoch}"
            )
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` then the logs' keys, sorted.

    Args:
        filename: the CSV file.
        separator: default ",".
        append: add to an existing file instead of replacing it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys = None
        self._file = self._writer = None

    def on_train_begin(self, logs=None):
        has_rows = (
            self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        )
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._append_header = not has_rows
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(
                self._file, fieldnames=["epoch", *self.keys], delimiter=self.separator
            )
            if self._append_header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Closes the file; fit calls it when training ends with an exception."""
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite.

    Without it, ``fit`` raises ``FloatingPointError`` at such a batch; with
    it, ``fit`` skips that update and stops as Keras does: by default
    gracefully (``fit`` returns, every callback's ``on_train_end`` runs),
    with ``raise_error=True`` by raising ``RuntimeError`` at once (no
    ``on_train_end``: a backup another callback keeps is left as it was).

    Args:
        raise_error: raise instead of stopping gracefully. Default False.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        if not isinstance(raise_error, (bool, np.bool_)):
            raise TypeError(
                f"raise_error must be True or False. Received: raise_error={raise_error!r}"
            )
        self.raise_error = bool(raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
    ):
        super().__init__()
        for name, function in (
            ("on_epoch_begin", on_epoch_begin),
            ("on_epoch_end", on_epoch_end),
            ("on_train_begin", on_train_begin),
            ("on_train_end", on_train_end),
            ("on_train_batch_begin", on_train_batch_begin),
            ("on_train_batch_end", on_train_batch_end),
        ):
            if function is not None:
                setattr(self, name, function)


class ProgbarLogger(Callback):
    """What ``verbose`` shows: a tqdm bar per epoch (1) or one line per epoch (2).

    ``fit`` adds it by itself when ``verbose`` is not 0, as Keras does.
    """

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._progress = None

    def on_epoch_begin(self, epoch, logs=None):
        from denseops.nn.progress import EpochProgress

        self._progress = EpochProgress(
            epoch + 1, self.params.get("epochs", 1), self.params.get("samples", 0), self.verbose
        )
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        if self._progress is not None:
            size = self.params["batch_size"]
            step = min(size, self.params["samples"] - self._seen)
            self._seen += step
            self._progress.update(step, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self._progress is not None:
            self._progress.close(logs or {})
            self._progress = None

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Closes a bar of an epoch cut short (interrupt, NaN)."""
        if self._progress is not None:
            self._progress.close({})
            self._progress = None


def _warn_missing(callback, monitor, logs):
    print(
        f"{type(callback).__name__}: {monitor!r} is not in the logs "
        f"(available: {sorted(logs or {})}); skipping this epoch. Pass validation data "
        "for val_ quantities.",
        file=sys.stderr,
    )
