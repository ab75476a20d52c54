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
