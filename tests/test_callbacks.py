"""Callbacks: the hooks fit calls and in what order, and each Keras callback
doing its job in a run that would go differently without it.

Where a callback reacts to a monitored quantity, a scripted callback placed
before it writes that quantity into the epoch's logs, so the test decides
exactly when the quantity improves."""

import csv
import math
import re

import numpy as np
import pytest
from denseops.nn import SGD, Dense, Sequential, callbacks, load


def data(n=128, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def model(learning_rate=0.05):
    m = Sequential([Dense(8, activation="relu"), Dense(2, activation="softmax")])
    m.compile(
        optimizer=SGD(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return m


class Script(callbacks.Callback):
    """Writes scripted values of ``key`` into each epoch's logs and records
    the weights at the end of every epoch."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


class Record(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):

            def hook(*args):
                self.calls.append((name, *args[:-1]) if args else (name,))
                self.logs = args[-1] if args else None

            return hook
        return super().__getattribute__(name)


# ------------------------------------------------------------ hooks


def test_fit_calls_the_keras_hooks_in_order_with_logs():
    x, y = data(n=40)
    record = Record()
    m = model()
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y), callbacks=[record])
    batches = [("on_train_batch_begin", b) for b in range(3)]
    expected = [("on_train_begin",)]
    for epoch in range(2):
        expected += [("on_epoch_begin", epoch)]
        for begin in batches:
            expected += [begin, ("on_train_batch_end", begin[1])]
        expected += [("on_epoch_end", epoch)]
    expected += [("on_train_end",)]
    assert record.calls == expected
    assert record.model is m and record.params["epochs"] == 2


def test_evaluate_and_predict_call_their_batch_hooks_with_keras_logs():
    x, y = data(n=40)
    m = model()
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    record, seen = Record(), []

    class Outputs(callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(("test", batch, logs["loss"], logs["accuracy"]))

        def on_predict_batch_end(self, batch, logs=None):
            seen.append(("predict", batch, logs["outputs"].copy()))

    loss, accuracy = m.evaluate(x, y, batch_size=16, verbose=0, callbacks=[record, Outputs()])
    expected = [("on_test_begin",)]
    for batch in range(3):
        expected += [("on_test_batch_begin", batch), ("on_test_batch_end", batch)]
    assert record.calls == expected + [("on_test_end",)]
    # The last batch's running logs are the whole set's (no weight penalties here).
    assert seen[-1][2:] == pytest.approx((loss, accuracy))
    assert seen[0][2:] == pytest.approx(tuple(m.evaluate(x[:16], y[:16], verbose=0)))

    record.calls.clear()
    predictions = m.predict(x, batch_size=32, verbose=0, callbacks=[record, Outputs()])
    assert record.calls == [
        ("on_predict_begin",),
        ("on_predict_batch_begin", 0),
        ("on_predict_batch_end", 0),
        ("on_predict_batch_begin", 1),
        ("on_predict_batch_end", 1),
        ("on_predict_end",),
    ]
    outputs = [entry[2] for entry in seen if entry[0] == "predict"]
    np.testing.assert_array_equal(np.concatenate(outputs), predictions)
    assert [len(o) for o in outputs] == [32, 8]


def test_batch_and_epoch_logs_hold_running_means_and_val_quantities():
    x, y = data(n=40)
    seen = []
    m = model()
    history = m.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        validation_data=(x, y),
        callbacks=[
            callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(dict(logs)))
        ],
    )
    assert [sorted(logs) for logs in seen] == [["accuracy", "loss"]] * 3
    assert seen[-1]["loss"] == history.history["loss"][0]
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_stop_training_from_a_batch_hook_ends_fit_after_that_batch():
    x, y = data()

    class StopAfterTwo(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    m = model()
    history = m.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[StopAfterTwo()])
    assert m.optimizer.iterations == 2 and history.epoch == [0]


def test_callbacks_must_be_callback_objects():
    x, y = data()
    with pytest.raises(TypeError, match=r"callbacks must be denseops.nn.callbacks.Callback"):
        model().fit(x, y, verbose=0, callbacks=[print])


# ------------------------------------------------------------ EarlyStopping


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    x, y = data()
    script = Script("val_loss", [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3])
    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    m = model()
    history = m.fit(x, y, epochs=10, verbose=0, callbacks=[script, stop])
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3
    for got, best in zip(m.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(got, best)
    # Without it all ten epochs run and the weights are the last epoch's.
    script = Script("val_loss", script.values)
    m = model()
    assert m.fit(x, y, epochs=10, verbose=0, callbacks=[script]).epoch == list(range(10))
    assert not np.array_equal(m.get_weights()[0], script.weights[1][0])


def test_early_stopping_min_delta_mode_and_start_from_epoch():
    x, y = data()
    # Gains of 0.01 are below min_delta: no improvement after epoch 0.
    script = Script("accuracy_x", [0.5, 0.51, 0.52, 0.53, 0.54, 0.55])
    stop = callbacks.EarlyStopping(monitor="accuracy_x", min_delta=0.05, patience=1, mode="max")
    assert model().fit(x, y, epochs=6, verbose=0, callbacks=[script, stop]).epoch == [0, 1]
    # "acc" in the name: mode auto maximises. Start watching at epoch 3.
    script = Script("val_acc", [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    stop = callbacks.EarlyStopping(monitor="val_acc", patience=1, start_from_epoch=3)
    assert model().fit(x, y, epochs=6, verbose=0, callbacks=[script, stop]).epoch == [0, 1, 2, 3, 4]


# ------------------------------------------------------------ ModelCheckpoint


def test_model_checkpoint_keeps_the_best_model_under_a_formatted_name(tmp_path):
    x, y = data()
    script = Script("val_loss", [0.9, 0.5, 0.7, 0.4, 0.6])
    checkpoint = callbacks.ModelCheckpoint(
        str(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.npz"), save_best_only=True
    )
    m = model()
    m.fit(x, y, epochs=5, verbose=0, callbacks=[script, checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m-01-0.90.npz",
        "m-02-0.50.npz",
        "m-04-0.40.npz",
    ]
    best = load(tmp_path / "m-04-0.40.npz")
    for got, expected in zip(best.get_weights(), script.weights[3]):
        np.testing.assert_array_equal(got, expected)


def test_model_checkpoint_every_epoch_and_weights_only(tmp_path):
    x, y = data()
    path = tmp_path / "last.npz"
    m = model()
    m.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[callbacks.ModelCheckpoint(path, save_weights_only=True)],
    )
    other = model()
    other.build((None, 4))
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), m.predict(x, verbose=0))
    with pytest.raises(KeyError, match=r"names 'val_loss', which is not in the logs"):
        model().fit(
            x, y, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{val_loss}.npz"))]
        )


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("run{}/m.npz", r"Format string contains positional fields"),
        ("run{0}/m.npz", r"Format string contains positional fields"),
        ("m-{epoch:q}.npz", r"Unknown format code 'q'"),
        ("m-{loss:d}.npz", r"Unknown format code 'd' for object of type 'float'"),
        ("m-{epoch.npz", r"expected '\}' before end of string"),
        ("m-}.npz", r"Single '\}' encountered"),
        ("m-{epoch!z}.npz", r"Unknown conversion specifier z"),
    ],
)
def test_model_checkpoint_path_that_cannot_be_filled_is_refused_at_creation(
    tmp_path, template, reason
):
    path = str(tmp_path / template)
    with pytest.raises(ValueError, match=re.escape(repr(path)) + r" cannot be filled .*" + reason):
        callbacks.ModelCheckpoint(path)


def test_model_checkpoint_path_with_literal_braces_works(tmp_path):
    x, y = data()
    model().fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{{run}}-{epoch}.npz"))],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["{run}-1.npz", "{run}-2.npz"]


# ------------------------------------------------------------ learning rate


def test_reduce_lr_on_plateau_lowers_the_rate_after_patience_and_respects_min_lr():
    x, y = data()
    script = Script("val_loss", [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.02)
    m = model(learning_rate=0.1)
    history = m.fit(x, y, epochs=8, verbose=0, callbacks=[script, reduce])
    # Plateau from epoch 2: reduced at the end of epochs 3 (to 0.05), 5 (0.025) and 7
    # (0.0125, held at min_lr); the logs show the rate each epoch ran with, as in Keras.
    assert history.history["learning_rate"] == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert m.optimizer.learning_rate == 0.02
    m = model(learning_rate=0.1)
    m.fit(x, y, epochs=8, verbose=0, callbacks=[Script("val_loss", script.values)])
    assert m.optimizer.learning_rate == 0.1


def test_learning_rate_scheduler_sets_the_rate_each_epoch_and_it_takes_effect():
    x, y = data()
    m = model(learning_rate=0.1)
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else 1e-9)
    history = m.fit(x, y, epochs=3, verbose=0, seed=0, callbacks=[schedule])
    assert history.history["learning_rate"] == [0.1, 1e-9, 1e-9]
    after_first = model(learning_rate=0.1)
    after_first.fit(x, y, epochs=1, verbose=0, seed=0)
    # Epochs 2 and 3 barely moved the weights.
    np.testing.assert_allclose(m.get_weights()[0], after_first.get_weights()[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"the schedule must return a finite number > 0"):
        model().fit(
            x, y, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: -1)]
        )


# ------------------------------------------------------------ CSVLogger, TerminateOnNaN


def read_csv(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    history = model().fit(
        x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)]
    )
    rows = read_csv(path)
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert [float(r["loss"]) for r in rows] == history.history["loss"]
    model().fit(
        x,
        y,
        epochs=1,
        verbose=0,
        validation_split=0.25,
        callbacks=[callbacks.CSVLogger(path, append=True)],
    )
    rows = read_csv(path)
    assert len(rows) == 3 and rows[2]["epoch"] == "0"


def test_terminate_on_nan_stops_training_instead_of_raising(capsys):
    x, y = data()
    m = model(learning_rate=1e8)
    history = m.fit(
        x, y, epochs=5, batch_size=16, verbose=0, callbacks=[callbacks.TerminateOnNaN()]
    )
    assert len(history.epoch) == 1 and not math.isfinite(history.history["loss"][0])
    assert all(np.isfinite(w).all() for w in m.get_weights())  # the bad update was skipped
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(FloatingPointError, match=r"loss is (nan|inf)"):
        model(learning_rate=1e8).fit(x, y, epochs=5, batch_size=16, verbose=0)


def test_terminate_on_nan_with_raise_error_raises_at_once_without_on_train_end():
    x, y = data()
    m = model(learning_rate=1e8)
    ended = []
    watcher = callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(logs))
    stop = callbacks.TerminateOnNaN(raise_error=True)
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch \d+\. Loss"):
        m.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[stop, watcher])
    assert ended == []  # as in Keras: the error bypasses the callbacks' clean-up
    assert all(np.isfinite(w).all() for w in m.get_weights())  # the bad update was skipped
    with pytest.raises(TypeError, match=r"raise_error must be True or False"):
        callbacks.TerminateOnNaN(raise_error="no")
