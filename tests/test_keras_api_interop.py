"""The Sequential API a reader meets, side by side with real Keras 3 (runs when
Keras is installed: the [interop] extra; skipped, saying so, without it)."""

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="Keras 3 is not installed (the [interop] extra)")

from denseops import nn  # noqa: E402


def twins(seed=0):
    """The same model in both libraries, with Keras's initial weights copied in."""

    def declare(library):
        model = library.Sequential(
            [
                library.Input(shape=(6,)),
                library.layers.Dense(8, activation="relu"),
                library.layers.Dropout(0.0),
                library.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    keras.utils.set_random_seed(seed)
    theirs = declare(keras)
    ours = declare(nn)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    return ours, theirs


def error_of(call, model):
    try:
        call(model)
    except Exception as error:  # noqa: BLE001 - compared between the libraries
        return type(error), str(error)
    return None


def test_shapes_names_counts_and_get_layer_errors_match_keras():
    ours, theirs = twins()
    assert ours.input_shape == theirs.input_shape
    assert ours.output_shape == theirs.output_shape
    assert ours.count_params() == theirs.count_params()
    assert ours.metrics_names == theirs.metrics_names
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [layer.output_shape for layer in ours.layers] == [
        tuple(layer.output.shape) for layer in theirs.layers
    ]
    for call in (
        lambda m: m.get_layer("nope"),
        lambda m: m.get_layer(),
        lambda m: m.get_layer(index=7),
    ):
        ours_error, theirs_error = error_of(call, ours), error_of(call, theirs)
        assert ours_error[0] is theirs_error[0]
        assert ours_error[1].split(".")[0] == theirs_error[1].split(".")[0]
    assert ours.get_layer(index=1).name == theirs.get_layer(index=1).name
    assert ours.pop().name == theirs.pop().name and len(ours.layers) == len(theirs.layers)


def test_batch_methods_match_keras(rng):
    ours, theirs = twins(1)
    x = rng.normal(size=(16, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=16)
    np.testing.assert_allclose(ours.test_on_batch(x, y), theirs.test_on_batch(x, y), rtol=1e-5)
    for _ in range(3):  # each returns its batch's loss, before the update
        np.testing.assert_allclose(
            ours.train_on_batch(x, y), theirs.train_on_batch(x, y), rtol=1e-4
        )
    np.testing.assert_allclose(ours.predict_on_batch(x), theirs.predict_on_batch(x), rtol=1e-4)
    ours_dict = ours.train_on_batch(x, y, return_dict=True)
    theirs_dict = theirs.train_on_batch(x, y, return_dict=True)
    assert set(ours_dict) == set(theirs_dict)
    np.testing.assert_allclose(ours_dict["loss"], float(theirs_dict["loss"]), rtol=1e-4)


def test_summary_totals_match_keras():
    ours, theirs = twins()
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.summary(print_fn=lambda line, **kwargs: lines.append(line))
    text = "\n".join(lines)
    ours_lines = []
    ours.summary(print_fn=ours_lines.append)
    for ours_line in ours_lines[-3:]:  # Total / Trainable / Non-trainable params
        label, _, figures = ours_line.partition(": ")
        assert label in text and figures in text, (ours_line, text)


def book_script(keras, data, initial_weights=None, start=None):
    """A chapter-style Keras 3 script over the API of this round: images through
    Flatten, Activation and Reshape layers, PyDatasets for training and
    validation, Adam, accuracy; the same text for either library."""
    x, y, x_val, y_val = data

    class Batches(keras.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return len(x) // 32

        def __getitem__(self, i):
            return x[32 * i : 32 * (i + 1)], y[32 * i : 32 * (i + 1)]

    class Validation(keras.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return len(x_val) // 25

        def __getitem__(self, i):
            return x_val[25 * i : 25 * (i + 1)], y_val[25 * i : 25 * (i + 1)]

    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(32),
            keras.layers.Activation("relu"),
            keras.layers.Reshape((4, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    if initial_weights is not None:
        model.set_weights(initial_weights)
    if start is not None:  # the weights it trains from, for the other library
        start.extend(np.array(w) for w in model.get_weights())
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        Batches(),
        epochs=3,
        validation_data=Validation(),
        shuffle=False,  # the batches in their order in both libraries
        verbose=0,
    )
    return model, history


def test_a_book_style_script_gives_keras_s_history_from_the_same_weights():
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    images = (images / 16).astype(np.float32).reshape(-1, 8, 8)
    data = (images[:640], labels[:640], images[1000:1100], labels[1000:1100])
    keras.utils.set_random_seed(0)
    start = []
    theirs, their_history = book_script(keras, data, start=start)
    ours, our_history = book_script(nn, data, initial_weights=start)
    assert sorted(our_history.history) == sorted(their_history.history)
    for key in their_history.history:
        # Losses to four decimals; an accuracy may differ by one sample whose two
        # top probabilities are closer than float32 rounding (1 of the 100
        # validation images).
        tolerance = 1.01 / 100 if "accuracy" in key else 5e-5
        np.testing.assert_allclose(
            our_history.history[key], their_history.history[key], atol=tolerance, err_msg=key
        )
    x_test = images[1500:1510]
    prediction = ours.predict(x_test, verbose=0)
    assert type(prediction) is np.ndarray and prediction.shape == (10, 10)
    np.testing.assert_allclose(prediction, theirs.predict(x_test, verbose=0), atol=1e-4)
