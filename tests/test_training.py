"""Sequential's Keras workflow: building, fit / evaluate / predict, History,
output, reproducibility, errors, save / load, Ctrl-C and NaN handling.
(End-to-end training on the real MNIST: the README's examples, run by
test_readme.py.)"""

import os
import signal
import threading

import helpers
import numpy as np
import pytest
from denseops.nn import (
    SGD,
    Adam,
    CategoricalCrossentropy,
    Dense,
    History,
    Sequential,
    TrainingInterrupted,
    load,
    optimizers,
)

FEATURES, CLASSES = 20, 4


def blobs(rng, samples=512, features=FEATURES, classes=CLASSES):
    return helpers.blobs(rng, samples, features, classes)


def mlp(dtype="float32", hidden=16, optimizer="rmsprop", metrics=("accuracy",)):
    model = Sequential(
        [
            Dense(hidden, activation="relu", dtype=dtype),
            Dense(CLASSES, activation="softmax", dtype=dtype),
        ]
    )
    model.compile(
        optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=list(metrics)
    )
    return model


@pytest.fixture
def data(rng):
    return blobs(rng)


# ------------------------------------------------------------ building


def test_layers_build_lazily_on_the_first_fit(data):
    x, y = data
    model = mlp()
    assert not model.built and model.layers[0].kernel is None
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    assert model.built
    assert [w.shape for w in model.weights] == [(FEATURES, 16), (16,), (16, CLASSES), (CLASSES,)]
    assert all(w.dtype == np.float32 for w in model.weights)


def test_the_two_dense_styles_mix_in_one_model(data):
    x, y = data
    model = Sequential(
        [Dense(FEATURES, 8, activation="relu"), Dense(CLASSES, activation="softmax")]
    )
    # The first layer's sizes declare the input, so the model is built at once.
    assert model.layers[0].built and model.layers[1].built
    assert model.layers[1].kernel.shape == (8, CLASSES)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)


def test_layers_get_default_names_and_summary_counts_parameters(capsys):
    model = Sequential(
        [Dense(FEATURES, 16, activation="relu"), Dense(16, 4, activation="softmax")],
        name="blobs_mlp",
    )
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]  # Keras's names
    model.summary()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == 'Model: "blobs_mlp"'
    dense_0 = next(line for line in lines if line.startswith("dense "))
    dense_1 = next(line for line in lines if line.startswith("dense_1"))
    assert "(None, 16)" in dense_0 and dense_0.split()[-1] == f"{FEATURES * 16 + 16:,}"
    assert "(None, 4)" in dense_1 and dense_1.split()[-1] == f"{16 * 4 + 4:,}"
    total = FEATURES * 16 + 16 + 16 * 4 + 4  # float32: 4 bytes each, Keras's size line
    assert total * 4 > 1024
    assert lines[-3:] == [
        f"Total params: {total:,} ({total * 4 / 1024:.2f} KB)",
        f"Trainable params: {total:,} ({total * 4 / 1024:.2f} KB)",
        "Non-trainable params: 0 (0.00 B)",
    ]
    recorded = []
    model.summary(print_fn=recorded.append)
    assert recorded == lines


def test_float64_models_train_and_predict_in_float64(data):
    x, y = data
    model = mlp(dtype="float64")
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    assert all(w.dtype == np.float64 for w in model.weights)
    assert model.predict(x).dtype == np.float64


# ------------------------------------------------------------ fit / predict / evaluate


def test_fit_learns_separable_blobs(data):
    x, y = data
    model = mlp(optimizer=Adam(learning_rate=0.01))
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    assert history.history["accuracy"][-1] > 0.9
    assert model.evaluate(x, y)[1] > 0.9


def test_predict_gives_probabilities_independent_of_batch_size(data):
    x, y = data
    model = mlp()
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    whole = model.predict(x, batch_size=len(x))
    assert whole.shape == (len(x), CLASSES) and whole.dtype == np.float32
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=7), whole, rtol=1e-6, atol=1e-7)
    assert model.predict(x[:1]).shape == (1, CLASSES)


def test_predict_accepts_integer_and_float64_input(data):
    x, y = data
    model = mlp()
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    np.testing.assert_array_equal(model.predict(x.astype(np.float64)), model.predict(x))
    assert model.predict(np.ones((2, FEATURES), np.int64)).dtype == np.float32


def test_evaluate_returns_the_mean_loss_and_accuracy_as_numpy_computes_them(data):
    x, y = data
    model = mlp()
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    result = model.evaluate(x, y, batch_size=50)
    assert isinstance(result, list) and len(result) == 2
    loss, accuracy = result
    p = model.predict(x).astype(np.float64)
    assert loss == pytest.approx(-np.log(p[np.arange(len(y)), y]).mean(), rel=1e-5)
    assert accuracy == pytest.approx((p.argmax(axis=1) == y).mean(), abs=1e-12)
    assert model.evaluate(x, y, return_dict=True) == pytest.approx(
        {"loss": loss, "accuracy": accuracy}, rel=1e-5
    )


def test_evaluate_without_metrics_returns_the_loss_alone(data):
    x, y = data
    model = mlp(metrics=())
    history = model.fit(x, y, epochs=1, verbose=0, seed=0)
    assert list(history.history) == ["loss"]
    assert isinstance(model.evaluate(x, y), float)


@pytest.mark.parametrize("targets_dtype", [np.float32, np.float64, np.int64, np.uint8])
def test_categorical_crossentropy_with_one_hot_targets_trains(data, targets_dtype):
    # One-hot targets come in any numeric dtype (np.eye(10)[y] is float64).
    x, y = data
    model = Sequential([Dense(16, activation="relu"), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    one_hot = np.eye(CLASSES, dtype=targets_dtype)[y]
    history = model.fit(x, one_hot, epochs=5, batch_size=32, verbose=0, seed=0)
    assert history.history["accuracy"][-1] > 0.9
    loss, accuracy = model.evaluate(x, one_hot)
    assert accuracy == pytest.approx((model.predict(x).argmax(axis=1) == y).mean())


def test_from_logits_with_a_linear_last_layer_predicts_logits(data):
    x, y = data
    model = Sequential([Dense(16, activation="relu"), Dense(CLASSES)])
    model.compile(
        optimizer="adam", loss=CategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(x, np.eye(CLASSES)[y], epochs=1, verbose=0, seed=0)
    logits = model.predict(x)
    assert not np.allclose(logits.sum(axis=1), 1.0)  # raw scores, not probabilities


def test_train_step_returns_loss_and_accuracy_and_updates(data):
    x, y = data
    model = mlp(optimizer=SGD(learning_rate=0.1))
    xb, yb = x[:64], y[:64]
    first = model.train_step(xb, yb)
    assert set(first) == {"loss", "accuracy"}
    assert isinstance(first["loss"], float) and 0 <= first["accuracy"] <= 1
    p = model.predict(xb)  # after the first update, so compute what step 2 sees
    second = model.train_step(xb, yb)
    assert second["loss"] == pytest.approx(-np.log(p[np.arange(64), yb]).mean(), rel=1e-5)
    assert second["accuracy"] == (p.argmax(axis=1) == yb).mean()
    for _ in range(20):
        last = model.train_step(xb, yb)
    assert last["loss"] < first["loss"]
    assert model.optimizer.iterations == 22


# ------------------------------------------------------------ History and output


def test_history_has_one_entry_per_epoch(data):
    x, y = data
    model = mlp()
    history = model.fit(x, y, epochs=3, verbose=0, seed=0)
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "accuracy"]
    assert all(
        len(v) == 3 and all(isinstance(e, float) for e in v) for v in history.history.values()
    )


def test_history_with_validation_data(data):
    x, y = data
    x_val, y_val = x[:100], y[:100]
    model = mlp()
    history = model.fit(
        x, y, epochs=2, batch_size=64, validation_data=(x_val, y_val), verbose=0, seed=0
    )
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    # The last epoch's validation figures are those of the final weights.
    loss, accuracy = model.evaluate(x_val, y_val)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)


def test_validation_split_holds_out_the_last_samples(data):
    x, y = data
    model = mlp()
    history = model.fit(x, y, epochs=2, batch_size=64, validation_split=0.25, verbose=0, seed=0)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    loss, accuracy = model.evaluate(x[384:], y[384:])
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)


def test_verbose_0_prints_nothing(data, capsys):
    x, y = data
    mlp().fit(x, y, epochs=2, validation_split=0.1, verbose=0, seed=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_2_prints_one_line_per_epoch(data, capsys):
    x, y = data
    history = mlp().fit(x, y, epochs=3, validation_split=0.1, verbose=2, seed=0)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3, captured.out
    for epoch, line in enumerate(lines):
        assert line.startswith(f"Epoch {epoch + 1}/3 - ")
        for key, values in history.history.items():
            assert f"{key}: {values[epoch]:.4f}" in line
    assert captured.err == ""


def test_verbose_1_shows_a_progress_bar_per_epoch(data, capsys):
    x, y = data
    history = mlp().fit(x, y, epochs=2, verbose=1, seed=0)
    out = capsys.readouterr().out
    # Each epoch's bar ends full, showing that epoch's figures as History records them.
    for epoch in range(2):
        figures = ", ".join(f"{k}={v[epoch]:.4f}" for k, v in history.history.items())
        assert f"Epoch {epoch + 1}/2: 100%" in out and figures + "]" in out, (figures, out)


# ------------------------------------------------------------ reproducibility


def trained_weights(x, y, seed, **fit_kwargs):
    model = mlp()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=seed, **fit_kwargs)
    return model.weights


def test_same_seed_gives_bit_identical_weights(data):
    x, y = data
    for a, b in zip(trained_weights(x, y, 3), trained_weights(x, y, 3)):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_weights(data):
    x, y = data
    first, second = trained_weights(x, y, 3), trained_weights(x, y, 4)
    assert all(not np.array_equal(a, b) for a, b in zip(first, second))


def test_seed_also_fixes_the_shuffling(data):
    # Same initial weights, then shuffled with two seeds: the orders differ.
    x, y = data
    models = []
    for seed in (1, 2):
        model = mlp()
        model.build(FEATURES, seed=0)
        model.fit(x, y, epochs=1, batch_size=32, verbose=0, seed=seed)
        models.append(model)
    assert not np.array_equal(models[0].weights[0], models[1].weights[0])


# ------------------------------------------------------------ errors


X_OK = np.zeros((8, 784), np.float32)
Y_OK = np.arange(8) % 10


def mnist_mlp():
    model = Sequential([Dense(784, 16, activation="relu"), Dense(16, 10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def with_nan(x):
    x = x.copy()
    x[3, 5] = np.nan
    return x


@pytest.mark.parametrize(
    "x, y, kwargs, error, message",
    [
        (
            X_OK.reshape(8, 28, 28),
            Y_OK,
            {},
            ValueError,
            r"x must be a non-empty 2-D array \(samples, features\). "
            r"Received: shape \(8, 28, 28\); "
            r"put a Flatten\(\) layer first, or flatten: x.reshape\(len\(x\), -1\)",
        ),
        (
            X_OK[:, :783],
            Y_OK,
            {},
            ValueError,
            r"Dense layer 'dense' expects input of shape \(batch, 784\). "
            r"Received: shape \(8, 783\)",
        ),
        (
            X_OK,
            Y_OK + 5,
            {},
            ValueError,
            r"Labels must be in \[0, 10\) for a last layer of 10 units. "
            r"Received: labels from 5 to 12",
        ),
        (X_OK, Y_OK - 1, {}, ValueError, r"Received: labels from -1 to 6"),
        (
            X_OK,
            Y_OK + 0.5,
            {},
            ValueError,
            r"needs integer class labels. Received: y of dtype float64",
        ),
        (
            X_OK,
            Y_OK[:5],
            {},
            ValueError,
            r"x and its labels must have the same length. Received: 8 samples and 5 labels",
        ),
        (X_OK[:0], Y_OK[:0], {}, ValueError, r"non-empty 2-D array.*Received: shape \(0, 784\)"),
        (with_nan(X_OK), Y_OK, {}, ValueError, r"x contains NaN or Inf, first at index \(3, 5\)"),
        (X_OK.astype(str), Y_OK, {}, TypeError, r"x must hold real numbers. Received: dtype <U"),
        (
            X_OK,
            Y_OK,
            {"batch_size": 0},
            ValueError,
            r"batch_size must be a positive integer. Received: batch_size=0",
        ),
        (X_OK, Y_OK, {"batch_size": 2.5}, ValueError, r"Received: batch_size=2.5"),
        (
            X_OK,
            Y_OK,
            {"epochs": 0},
            ValueError,
            r"epochs must be a positive integer. Received: epochs=0",
        ),
        (
            X_OK,
            Y_OK,
            {"verbose": 3},
            ValueError,
            r"verbose must be 'auto', 0, 1 or 2. Received: verbose=3",
        ),
        (
            X_OK,
            Y_OK,
            {"validation_split": 1.0},
            ValueError,
            r"validation_split must be in \[0, 1\). Received: validation_split=1.0",
        ),
        (
            X_OK,
            Y_OK,
            {"validation_split": 0.01},
            ValueError,
            r"validation_split=0.01 of 8 samples leaves an empty training or validation set",
        ),
        (
            X_OK,
            Y_OK,
            {"validation_data": (X_OK[:, :783], Y_OK)},
            ValueError,
            r"expects input of shape \(batch, 784\). Received: shape \(8, 783\)",
        ),
        (
            X_OK,
            Y_OK,
            {"validation_data": (X_OK, Y_OK + 3)},
            ValueError,
            r"Labels must be in \[0, 10\).*labels from 3 to 10",
        ),
    ],
)
def test_fit_rejects_bad_input_saying_what_was_expected(x, y, kwargs, error, message):
    model = mnist_mlp()
    weights = [w.copy() for w in model.weights]
    with pytest.raises(error, match=message):
        model.fit(x, y, **{"verbose": 0, **kwargs})
    for w, w0 in zip(model.weights, weights):  # nothing was trained
        np.testing.assert_array_equal(w, w0)


def test_fit_evaluate_and_train_step_before_compile_raise():
    model = Sequential([Dense(784, 10, activation="softmax")])
    for call in (
        lambda: model.fit(X_OK, Y_OK),
        lambda: model.evaluate(X_OK, Y_OK),
        lambda: model.train_step(X_OK, Y_OK),
    ):
        with pytest.raises(
            RuntimeError,
            match=r"You must call compile\(\) before "
            r"(fit|evaluate|train_step)\(\)",
        ):
            call()


def test_predict_and_evaluate_check_input_too():
    model = mnist_mlp()
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 784\)"):
        model.predict(X_OK[:, :783])
    with pytest.raises(ValueError, match=r"Received: labels from 5 to 12"):
        model.evaluate(X_OK, Y_OK + 5)
    unbuilt = Sequential([Dense(10, activation="softmax")])
    unbuilt.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"evaluate\(\) needs a built model"):
        unbuilt.evaluate(X_OK, Y_OK)


@pytest.mark.parametrize(
    "compile_kwargs, message",
    [
        ({"optimizer": "lion"}, r"Unknown optimizer: 'lion'. Expected one of \['adagrad', "),
        (
            {"loss": "mean_squared_eror"},
            r"Unknown loss: 'mean_squared_eror'. Expected one of \['binary_crossentropy', ",
        ),
        ({"metrics": ["acuracy"]}, r"Unknown metric: 'acuracy'. Expected 'accuracy' or one of"),
        ({"metrics": "accuracy"}, r"metrics must be a list, as in Keras"),
    ],
)
def test_compile_rejects_unknown_names(compile_kwargs, message):
    with pytest.raises(ValueError, match=message):
        mnist_mlp().compile(**compile_kwargs)


def test_sequential_rejects_non_layers_and_empty_models():
    with pytest.raises(TypeError, match=r"Sequential takes denseops.nn layers. Received: 3"):
        Sequential([3])
    with pytest.raises(ValueError, match=r"no layers"):
        Sequential().compile()


def test_mismatched_eager_layers_are_reported_when_declared():
    with pytest.raises(
        ValueError,
        match=r"Layer 'dense_1' expects 32 input features but the "
        r"previous layer gives 16",
    ):
        Sequential([Dense(784, 16), Dense(32, 10, activation="softmax")])


# ------------------------------------------------------------ save / load


def trained(data, optimizer="rmsprop"):
    x, y = data
    model = mlp(optimizer=optimizer)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=0)
    return model


def architecture(layer):
    """A layer's config without its initializers (spent once the weights exist)."""
    config = layer.get_config()
    return {k: v for k, v in config.items() if not k.endswith("_initializer")}


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", SGD(momentum=0.9, nesterov=True), "sgd"])
def test_save_load_gives_identical_predictions_and_training_continues_identically(
    data, tmp_path, optimizer
):
    x, y = data
    model = trained(data, optimizer)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [architecture(layer) for layer in loaded.layers] == [
        architecture(layer) for layer in model.layers
    ]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.metrics == model.metrics and loaded.loss.name == model.loss.name
    # The optimizer state came along: one more epoch on each stays bit-identical.
    for m in (model, loaded):
        m.fit(x, y, epochs=1, batch_size=64, verbose=0, seed=5)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a, b)


def test_save_load_an_uncompiled_model(tmp_path, rng):
    model = Sequential(
        [
            Dense(5, 3, activation="relu", dtype="float64"),
            Dense(3, 2, activation="softmax", dtype="float64"),
        ]
    )
    path = tmp_path / "plain"  # any name: save does not append .npz
    model.save(path)
    assert path.exists()
    loaded = load(path)
    assert loaded.optimizer is None and loaded.loss is None
    x = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.predict(x).dtype == np.float64


def test_save_needs_a_built_model(tmp_path):
    with pytest.raises(ValueError, match=r"save\(\) needs a built model"):
        mlp().save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(data, tmp_path, monkeypatch):
    x, _ = data
    model = trained(data)
    path = tmp_path / "model.npz"
    model.save(path)
    before = model.predict(x)
    model.fit(*data, epochs=1, verbose=0)  # new weights, so a new save would differ

    def savez_that_dies_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_that_dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    np.testing.assert_array_equal(load(path).predict(x), before)


def test_load_of_a_truncated_file_names_the_path(data, tmp_path):
    path = tmp_path / "model.npz"
    trained(data).save(path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=rf"{path}: not a readable denseops model file"):
        load(path)


def test_load_of_random_bytes_names_the_path(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match=rf"{path}: not a readable denseops model file"):
        load(path)


def test_load_of_another_npz_names_the_path(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x_train=np.zeros(3))
    with pytest.raises(ValueError, match=rf"{path}: not a denseops model file"):
        load(path)


def test_load_of_weights_with_the_wrong_shape_names_path_and_weights(data, tmp_path):
    path = tmp_path / "model.npz"
    trained(data).save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["layer0/weight0"] = arrays["layer0/weight0"][:, :5]
    np.savez(path, **arrays)
    with pytest.raises(
        ValueError,
        match=rf"{path}: weights 'layer0/weight0' of layer 'dense' "
        rf"have shape \({FEATURES}, 5\)",
    ):
        load(path)


def test_load_of_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nowhere.npz")


# ------------------------------------------------------------ Ctrl-C and NaN


class CallAfterUpdate(optimizers.RMSprop):
    """RMSprop that calls `action(iterations)` after each update."""

    def __init__(self, action):
        super().__init__()
        self.action = action

    def apply(self, grads, weights=None):
        super().apply(grads, weights)
        self.action(self.iterations)


def interrupt_self():
    os.kill(os.getpid(), signal.SIGINT)


def assert_usable_after_interrupt(model, x, y, history, handler_before):
    assert model.history is history
    assert history.epoch == list(range(len(history.epoch)))
    assert all(len(v) == len(history.epoch) for v in history.history.values())
    assert np.isfinite(model.predict(x)).all()
    assert signal.getsignal(signal.SIGINT) is handler_before  # fit put it back
    again = model.fit(x, y, epochs=1, verbose=0)
    assert again.epoch == [0] and np.isfinite(again.history["loss"][0])


def test_sigint_from_a_timer_stops_fit_and_leaves_a_usable_model(data):
    x, y = data
    timers = []

    def start_timer_once(iterations):
        if iterations == 1:  # fit is running: its Ctrl-C handler is in place
            timers.append(threading.Timer(0.2, interrupt_self))
            timers[0].start()

    model = mlp(optimizer=CallAfterUpdate(start_timer_once))
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as info:
        model.fit(x, y, epochs=10**6, batch_size=32, verbose=0, seed=0)
    timers[0].join()
    assert isinstance(info.value, KeyboardInterrupt)
    assert "training interrupted in epoch" in str(info.value)
    assert_usable_after_interrupt(model, x, y, info.value.history, handler_before)


@pytest.mark.parametrize("interrupt_at", [1, 16, 19, 24])
def test_sigint_stops_between_batches_keeping_the_finished_epochs(data, interrupt_at):
    # 512 samples in batches of 64: 8 updates per epoch, 3 epochs.
    x, y = data

    def interrupt(iterations):
        if iterations == interrupt_at:
            interrupt_self()

    model = mlp(optimizer=CallAfterUpdate(interrupt))
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as info:
        model.fit(x, y, epochs=3, batch_size=64, verbose=0, seed=0)
    # The update during which Ctrl-C arrived completes; no further one starts.
    assert model.optimizer.iterations == interrupt_at
    finished = interrupt_at // 8
    assert len(info.value.history.epoch) == finished
    model.optimizer.action = lambda iterations: None
    assert_usable_after_interrupt(model, x, y, info.value.history, handler_before)


def test_nan_loss_stops_fit_naming_epoch_and_batch(data):
    x, y = data
    model = mlp(optimizer=SGD(learning_rate=1e6))
    with pytest.raises(
        FloatingPointError, match=r"training stopped in epoch \d+, batch \d+: loss is (nan|inf)"
    ):
        model.fit(x, y, epochs=5, batch_size=32, verbose=0, seed=0)
    assert all(np.isfinite(w).all() for w in model.weights)


def test_overflowing_inputs_stop_at_the_first_batch_before_any_update(data):
    x, y = data
    model = mlp()
    model.build(FEATURES, seed=0)
    initial = [w.copy() for w in model.weights]
    huge = np.sign(x) * np.float32(3e38)  # finite, but x @ kernel overflows
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 1: loss is nan"):
        model.fit(huge, y, epochs=1, verbose=0, seed=0)
    for w, w0 in zip(model.weights, initial):
        np.testing.assert_array_equal(w, w0)
    assert model.optimizer.iterations == 0
