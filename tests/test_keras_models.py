"""Keras 3 scripts for Dense networks, run with denseops.nn: the book's binary,
multiclass and regression models on scikit-learn's bundled data sets, MNIST
with Dropout and L2, Keras's signatures and argument semantics, and
finite-difference checks of whole-model gradients for every activation and
loss."""

import io
import math

import denseops
import helpers
import numpy as np
import pytest
from denseops import reference
from denseops.nn import (
    SGD,
    Adam,
    BinaryCrossentropy,
    Dense,
    Dropout,
    Input,
    RMSprop,
    Sequential,
    load,
    losses,
    metrics,
    optimizers,
    regularizers,
    to_categorical,
)
from helpers import numeric_gradient
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import KFold, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor


def standardized(x_train, x_test):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1
    return ((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32)


# ------------------------------------------------------------ the book's models, real data


def test_breast_cancer_binary_classifier_matches_scikit_learn():
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    x_train, x_test = standardized(x_train, x_test)
    model = Sequential(
        [Dense(16, activation="relu"), Dense(16, activation="relu"), Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=30, batch_size=16, verbose=0, seed=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    reference = MLPClassifier(hidden_layer_sizes=(16, 16), max_iter=500, random_state=0).fit(
        x_train, y_train
    )
    sklearn_accuracy = reference.score(x_test, y_test)
    # The data set is nearly separable: both reach ~0.96-0.98 on these 143 tumours.
    # One or two more mistakes than scikit-learn's network is within seed noise.
    assert accuracy >= 0.95 and accuracy >= sklearn_accuracy - 0.015, (accuracy, sklearn_accuracy)
    probabilities = model.predict(x_test, verbose=0)
    assert probabilities.shape == (len(x_test), 1)
    assert accuracy == pytest.approx(((probabilities[:, 0] > 0.5) == y_test).mean())


def test_digits_multiclass_with_one_hot_targets_matches_scikit_learn():
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    x_train, x_test = standardized(x_train, x_test)
    model = Sequential(
        [Input(shape=(64,)), Dense(64, activation="relu"), Dense(10, activation="softmax")]
    )
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, to_categorical(y_train), epochs=20, batch_size=32, verbose=0, seed=0)
    loss, accuracy = model.evaluate(x_test, to_categorical(y_test), verbose=0)
    reference = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=0).fit(
        x_train, y_train
    )
    sklearn_accuracy = reference.score(x_test, y_test)
    # 8x8 digits: a one-hidden-layer network gets ~0.97; chance is 0.1.
    assert accuracy >= 0.95 and accuracy >= sklearn_accuracy - 0.02, (accuracy, sklearn_accuracy)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_diabetes_regression_with_k_fold_as_in_the_book():
    x, y = load_diabetes(return_X_y=True)
    maes, sklearn_maes = [], []
    for fold, (train, test) in enumerate(KFold(4, shuffle=True, random_state=0).split(x)):
        x_train, x_test = standardized(x[train], x[test])
        model = Sequential([Dense(64, activation="relu"), Dense(64, activation="relu"), Dense(1)])
        model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
        model.fit(x_train, y[train], epochs=60, batch_size=16, verbose=0, seed=fold)
        mse, mae = model.evaluate(x_test, y[test], verbose=0)
        prediction = model.predict(x_test, verbose=0)[:, 0]
        assert mae == pytest.approx(np.abs(prediction - y[test]).mean(), rel=1e-5)
        assert mse == pytest.approx(((prediction - y[test]) ** 2).mean(), rel=1e-5)
        maes.append(mae)
        reference = MLPRegressor(
            hidden_layer_sizes=(64, 64), max_iter=200, learning_rate_init=0.01, random_state=fold
        )
        reference.fit(x_train, y[train])
        sklearn_maes.append(np.abs(reference.predict(x_test) - y[test]).mean())
    baseline = np.abs(y - y.mean()).mean()  # always predicting the mean: ~64
    # Disease progression is noisy: good models get a mean absolute error of ~43-47.
    assert np.mean(maes) < 50 < baseline, (maes, baseline)
    assert np.mean(maes) <= np.mean(sklearn_maes) + 3, (maes, sklearn_maes)


def test_regression_with_mae_and_huber_losses_learns_the_targets():
    x, y = load_diabetes(return_X_y=True)
    x = standardized(x, x)[0]
    for loss in ("mae", losses.Huber(delta=20.0)):
        model = Sequential([Dense(32, activation="relu"), Dense(1)])
        model.compile(optimizer=RMSprop(0.01), loss=loss, metrics=["mae"])
        history = model.fit(x, y, epochs=40, batch_size=16, verbose=0, seed=0)
        assert history.history["mae"][-1] < 50, (loss, history.history["mae"][-1])


@pytest.mark.slow
def test_mnist_with_dropout_and_l2():
    from denseops.datasets import mnist
    from denseops.mnist_mlp import load_flat

    helpers.real_mnist()  # skips, saying why, without DENSEOPS_DATA
    (x_train, y_train), (x_test, y_test) = load_flat(mnist)
    model = Sequential(
        [
            Input(shape=(784,)),
            Dense(512, activation="relu", kernel_regularizer=regularizers.l2(1e-4)),
            Dropout(0.5),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train,
        y_train,
        epochs=2,
        batch_size=128,
        validation_data=(x_test[:2000], y_test[:2000]),
        verbose=0,
        seed=0,
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    # The book's MLP reaches ~0.98 after 5 epochs; with Dropout(0.5), 2 epochs give ~0.97.
    assert accuracy >= 0.96, accuracy
    # Dropout: the training loss (with masks) stays above the validation loss (without).
    assert history.history["loss"][-1] > history.history["val_loss"][-1]
    penalty = 1e-4 * float(np.sum(model.layers[0].kernel.astype(np.float64) ** 2))
    data_loss = losses.SparseCategoricalCrossentropy()(y_test, model.predict(x_test, verbose=0))
    assert loss == pytest.approx(data_loss + penalty, rel=1e-4)


# ------------------------------------------------------------ Keras signatures


def blobs(rng, n=256, features=6, classes=3):
    return helpers.blobs(rng, n, features, classes, spread=3.0)


def classifier(classes=3, **compile_kwargs):
    model = Sequential([Dense(16, activation="relu"), Dense(classes, activation="softmax")])
    model.compile(
        **{
            "optimizer": "adam",
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            **compile_kwargs,
        }
    )
    return model


def test_fit_takes_batch_size_then_epochs_positionally(rng):
    x, y = blobs(rng, n=300)
    model = classifier()
    history = model.fit(x, y, 128, 2, 0)
    assert history.epoch == [0, 1]
    assert model.optimizer.iterations == 2 * 3  # ceil(300 / 128) batches per epoch


def test_fit_defaults_are_keras_s(rng):
    x, y = blobs(rng, n=70)
    model = classifier()
    model.fit(x, y, verbose=0)
    assert model.optimizer.iterations == 3  # batch_size=32, epochs=1
    assert classifier().fit(x, y, verbose=0, initial_epoch=0, epochs=3).epoch == [0, 1, 2]
    assert classifier().fit(x, y, verbose=0, initial_epoch=2, epochs=3).epoch == [2]


def test_evaluate_and_predict_take_verbose_and_print_like_keras(rng, capsys):
    x, y = blobs(rng)
    model = classifier()
    model.fit(x, y, verbose=0)
    capsys.readouterr()
    result = model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    assert model.evaluate(x, y, batch_size=64, verbose=2) == result
    out = capsys.readouterr().out
    assert out.startswith("4/4 - ") and f"loss: {result[0]:.4f} - accuracy: {result[1]:.4f}" in out
    model.predict(x, batch_size=32, verbose=2)
    assert "8/8 - " in capsys.readouterr().out
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {
        "loss": result[0],
        "accuracy": result[1],
    }


def test_verbose_auto_is_one_line_per_epoch_when_not_a_terminal(rng, capsys):
    x, y = blobs(rng)
    classifier().fit(x, y, epochs=2)  # pytest's captured stdout is not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]
    assert "\r" not in "".join(lines)


def test_verbose_auto_is_a_progress_bar_on_a_terminal(rng, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    x, y = blobs(rng)
    classifier().fit(x, y, epochs=1)
    assert "\r" in terminal.getvalue() and "Epoch 1/1" in terminal.getvalue()


def test_build_takes_keras_input_shapes_and_input_declares_the_size(rng):
    for shape in ((None, 64), [None, 64], 64, (64,)):
        model = Sequential([Dense(8, activation="relu"), Dense(2)])
        model.build(shape)
        assert model.layers[0].kernel.shape == (64, 8)
    for model in (
        Sequential([Input(shape=(64,)), Dense(8), Dense(2)]),
        Sequential([Dense(8, input_shape=(64,)), Dense(2)]),
    ):
        model.build()
        assert model.layers[0].kernel.shape == (64, 8) and len(model.layers) == 2
    with pytest.raises(ValueError, match=r"build\(\) needs input_shape=\(None, features\)"):
        Sequential([Dense(2)]).build()
    with pytest.raises(
        ValueError,
        match=r"takes \(batch, features\) inputs; the layer before "
        r"gives \(batch, 28, 28\). Put a Flatten\(\) layer before it",
    ):
        Sequential([Dense(2)]).build((None, 28, 28))
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 64\). Received: shape"):
        model = Sequential([Input(shape=(64,)), Dense(2, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy")
        model.fit(np.zeros((4, 63), np.float32), np.zeros(4, int), verbose=0)
    with pytest.raises(ValueError, match=r"Input\(shape=...\) must be the first element"):
        Sequential([Dense(2), Input(shape=(3,))])


def test_get_and_set_weights_on_models_and_layers(rng):
    x, y = blobs(rng)
    model = classifier()
    model.fit(x, y, verbose=0, seed=0)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(6, 16), (16,), (16, 3), (3,)]
    other = classifier()
    other.build((None, 6))
    other.set_weights(weights)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    weights[0][...] = 0  # copies: the model is unchanged
    assert np.abs(model.layers[0].kernel).sum() > 0
    other.layers[1].set_weights([np.ones((16, 3)), np.zeros(3)])
    np.testing.assert_array_equal(other.layers[1].get_weights()[0], np.ones((16, 3)))
    with pytest.raises(ValueError, match=r"weight 0 must have shape \(16, 3\). Received: shape"):
        other.layers[1].set_weights([np.ones((3, 16)), np.zeros(3)])
    with pytest.raises(ValueError, match=r"expects 4 weight arrays. Received: 2"):
        other.set_weights(weights[:2])


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.ones((16, 3)) * (1 + 2j), TypeError, r"weight 2 must hold real numbers. .*complex128"),
        (np.array([["a"] * 3] * 16), TypeError, r"weight 2 must hold real numbers"),
        (
            np.full((16, 3), 1e300),
            ValueError,
            r"weight 2 holds 48 value\(s\) that are not finite in float32; the first, "
            r"1e\+300 at index \(0, 0\), overflows float32 \(largest 3.403e\+38\)",
        ),
        (
            np.where(np.eye(16, 3) > 0, np.nan, 0.5),
            ValueError,
            r"weight 2 holds 3 value\(s\) that are not finite .* at index \(0, 0\), is not finite",
        ),
        (np.full((16, 3), -np.inf), ValueError, r"is not finite"),
    ],
)
def test_set_weights_refuses_complex_and_non_finite_values_and_changes_nothing(
    rng, bad, error, message
):
    model = classifier()
    model.build((None, 6), seed=0)
    before = model.get_weights()
    weights = [*before[:2], bad, before[3]]
    with pytest.raises(error, match=message):
        model.set_weights(weights)
    with pytest.raises(error, match=message.replace("weight 2", "weight 0")):
        model.layers[1].set_weights([bad, before[3]])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing half-set


def test_an_input_dtype_does_not_change_the_layers_dtype_as_in_keras(rng):
    # Keras: Input's dtype is the data's; each layer computes in its own
    # (float32 unless given), casting its input.
    x = rng.normal(size=(40, 4))
    y = rng.normal(size=40)
    model = Sequential([Input((4,), dtype="float64"), Dense(8, activation="relu"), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert model.predict(x, verbose=0).dtype == np.float32  # first call: predict
    model.fit(x, y, verbose=0)
    assert [w.dtype for w in model.weights] == [np.float32] * 4
    fresh = Sequential([Input((4,), dtype="float64"), Dense(8), Dense(1)])
    fresh.compile(optimizer="sgd", loss="mse")
    fresh.fit(x, y, verbose=0)  # first call: fit
    assert fresh.predict(x, verbose=0).dtype == np.float32


def test_dense_layers_of_other_dtypes_in_one_model_are_refused_when_added():
    with pytest.raises(
        ValueError,
        match=r"Layer 'dense_1' has dtype float32 but layer 'dense' has float64: all the Dense "
        r"layers of a model share one dtype. Pass dtype='float64' to every Dense",
    ):
        Sequential([Dense(4, dtype="float64"), Dropout(0.1), Dense(2)])
    model = Sequential([Dense(4, dtype="float64"), Dropout(0.1), Dense(2, dtype="float64")])
    model.build((None, 3))
    assert [w.dtype for w in model.weights] == [np.float64] * 4
    assert model.layers[1].dtype == np.float64  # Dropout takes the model's


def test_a_layer_that_cannot_be_built_names_itself_and_leaves_the_model_unbuilt(rng):
    model = Sequential([Dense(4), Dense(2**62)])
    with pytest.raises(ValueError, match=r"Dense layer 'dense_1' cannot allocate its kernel "):
        model.predict(rng.normal(size=(2, 3)), verbose=0)
    assert not model.built and not any(layer.built for layer in model.layers)
    assert model.layers[0].kernel is None


def test_to_categorical_as_keras():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert to_categorical([1, 0]).dtype == np.float64
    with pytest.raises(
        ValueError, match=r"labels must be in \[0, 2\). Received: labels from 0 to 5"
    ):
        to_categorical([0, 5], num_classes=2)
    for labels, shown in (([0.0, 1e20], r"0.0 to 1e\+20"), ([0.0, np.inf], r"0.0 to inf")):
        with pytest.raises(
            ValueError, match=r"class indices >= 0 .*Received: labels from " + shown
        ):
            to_categorical(labels)


def test_dense_accepts_keras_positional_activation_and_rejects_the_unsupported():
    assert Dense(4, "tanh").activation.name == "tanh"
    assert Dense(4, activation=denseops.nn.activations.gelu).activation.name == "gelu"
    with pytest.raises(ValueError, match=r"does not support kernel_constraint"):
        Dense(4, kernel_constraint="non_neg")
    with pytest.raises(TypeError, match=r"a plain function has no gradient here"):
        Dense(4, activation=lambda z: z)


# ------------------------------------------------------------ metrics like Keras


@pytest.mark.parametrize(
    "last_units, y_kind, loss, expected",
    [
        (1, "binary", "binary_crossentropy", metrics.BinaryAccuracy),
        (3, "sparse", "sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
        (3, "one_hot", "categorical_crossentropy", metrics.CategoricalAccuracy),
    ],
)
def test_accuracy_resolves_from_the_shapes_and_keeps_the_user_s_name(
    rng, last_units, y_kind, loss, expected
):
    x, y = blobs(rng)
    if y_kind == "binary":
        y = (y > 0).astype(np.int64)
    elif y_kind == "one_hot":
        y = to_categorical(y)
    activation = "sigmoid" if last_units == 1 else "softmax"
    model = Sequential([Dense(16, activation="relu"), Dense(last_units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, metrics=["acc", "accuracy"])
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, seed=0)
    assert list(history.history) == [
        "loss",
        "acc",
        "accuracy",
        "val_loss",
        "val_acc",
        "val_accuracy",
    ]
    assert all(type(m) is expected for m in model._new_metrics(y))
    p = model.predict(x, verbose=0)
    truth = y if y_kind == "binary" else (y.argmax(1) if y_kind == "one_hot" else y)
    guess = (p[:, 0] > 0.5) if last_units == 1 else p.argmax(1)
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx((guess == truth).mean())


def test_several_metrics_and_metric_objects(rng):
    x, y = blobs(rng, classes=5)
    model = classifier(
        classes=5,
        metrics=[
            "accuracy",
            "sparse_top_k_categorical_accuracy",
            metrics.SparseTopKCategoricalAccuracy(k=2, name="top2"),
        ],
    )
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    loss, accuracy, top5, top2 = model.evaluate(x, y, verbose=0)
    p = model.predict(x, verbose=0)
    ranks = np.argsort(-p, axis=1)
    assert top5 == 1.0  # five classes: every label is in the top 5
    assert top2 == pytest.approx((ranks[:, :2] == y[:, None]).any(1).mean())
    assert top2 >= accuracy


def test_mse_metric_on_a_fused_classifier_sees_probabilities(rng):
    x, y = blobs(rng)
    model = classifier(loss="categorical_crossentropy", metrics=["mse"])
    model.fit(x, to_categorical(y), epochs=1, verbose=0, seed=0)
    p = model.predict(x, verbose=0)
    assert model.evaluate(x, to_categorical(y), verbose=0)[1] == pytest.approx(
        ((p - to_categorical(y)) ** 2).mean(), rel=1e-5
    )


def test_metric_that_does_not_fit_the_targets_is_a_clear_error(rng):
    x, y = blobs(rng)
    model = classifier(metrics=["categorical_accuracy"])
    with pytest.raises(
        ValueError,
        match=r"Metric 'categorical_accuracy' needs targets shaped "
        r"like the outputs, but the loss",
    ):
        model.fit(x, y, verbose=0)


# ------------------------------------------------------------ weights of samples and classes


def test_class_weight_equals_the_same_sample_weight(rng):
    x, y = blobs(rng)
    runs = []
    for kwargs in (
        {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}},
        {"sample_weight": np.array([1.0, 3.0, 0.5])[y]},
    ):
        model = classifier()
        history = model.fit(x, y, epochs=2, verbose=0, seed=0, **kwargs)
        runs.append((history.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    unweighted = classifier().fit(x, y, epochs=2, verbose=0, seed=0)
    assert unweighted.history["loss"] != runs[0][0]["loss"]
    with pytest.raises(ValueError, match=r"cannot pass class_weight and sample_weight"):
        classifier().fit(x, y, class_weight={0: 1}, sample_weight=np.ones(len(y)), verbose=0)


def test_class_weight_shifts_the_decision_toward_the_heavy_class(rng):
    x, y = load_breast_cancer(return_X_y=True)
    x = standardized(x, x)[0]
    recall = {}
    for weight in (1.0, 20.0):
        model = Sequential([Dense(1, activation="sigmoid")])
        model.compile(optimizer=SGD(0.01), loss="binary_crossentropy")
        model.fit(x, y, epochs=3, verbose=0, seed=0, class_weight={0: weight, 1: 1.0})
        recall[weight] = ((model.predict(x, verbose=0)[:, 0] < 0.5) & (y == 0)).sum() / (
            y == 0
        ).sum()
    assert recall[20.0] > recall[1.0]


def test_sample_weight_scales_the_loss_as_keras_sum_over_batch_size(rng):
    x, y = blobs(rng)
    model = classifier()
    model.fit(x, y, verbose=0, seed=0)
    plain = model.evaluate(x, y, verbose=0)[0]
    weights = np.where(np.arange(len(y)) % 2 == 0, 2.0, 0.0)
    weighted = model.evaluate(x, y, sample_weight=weights, batch_size=len(x), verbose=0)[0]
    probabilities = model.predict(x, verbose=0)
    kind = "sparse_categorical_crossentropy"
    expected, _ = reference.loss(probabilities, y, kind, sample_weight=weights)
    assert weighted == pytest.approx(expected, rel=1e-5)
    assert plain == pytest.approx(reference.loss(probabilities, y, kind)[0], rel=1e-5)


# ------------------------------------------------------------ Dropout and regularizers


def test_dropout_is_seeded_and_only_active_in_training(rng):
    x, y = blobs(rng)

    def run(seed):
        model = Sequential(
            [Dense(32, activation="relu"), Dropout(0.5, seed=seed), Dense(3, activation="softmax")]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.build((None, 6), seed=0)
        model.fit(x, y, epochs=2, verbose=0, seed=1)
        return model

    a, b, c = run(5), run(5), run(6)
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    plain = Sequential([Dense(32, activation="relu"), Dense(3, activation="softmax")])
    plain.build((None, 6))
    plain.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict(x, verbose=0), plain.predict(x, verbose=0))


def test_dropout_layer_backward_applies_the_forward_mask(rng):
    layer = Dropout(0.4, seed=11)
    layer.build(50, np.float64, rng)
    x = rng.normal(size=(8, 50))
    y = layer.forward(x, training=True).copy()
    dout = rng.normal(size=(8, 50))
    dx = layer.backward(dout)
    mask = y / x
    assert set(np.round(np.unique(mask), 12)) == {0.0, round(1 / 0.6, 12)}
    np.testing.assert_allclose(dx, dout * mask, rtol=1e-12)
    assert layer.forward(x) is x  # inference: the identity


def test_regularizers_add_their_penalty_to_the_loss_and_gradient(rng):
    x, y = blobs(rng)
    model = Sequential(
        [
            Dense(
                8,
                activation="relu",
                kernel_regularizer=regularizers.l1_l2(l1=0.01, l2=0.02),
                bias_regularizer="l2",
            ),
            Dense(3, activation="softmax", kernel_regularizer=regularizers.L1(0.005)),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, verbose=0, seed=0)
    k0, b0, k1, _ = (w.astype(np.float64) for w in model.get_weights())
    penalty = (
        0.01 * np.abs(k0).sum()
        + 0.02 * (k0**2).sum()
        + 0.01 * (b0**2).sum()
        + 0.005 * np.abs(k1).sum()
    )
    data = losses.SparseCategoricalCrossentropy()(y, model.predict(x, verbose=0))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(data + penalty, rel=1e-5)
    assert regularizers.get("l2").l2 == 0.01 and regularizers.L1().l1 == 0.01
    with pytest.raises(ValueError, match=r"l2 must be a finite number >= 0. Received: l2=-1"):
        regularizers.l2(-1)


# ------------------------------------------------------------ whole-model gradients


class RecordGradients(optimizers.Optimizer):
    """Keeps a copy of the gradients and leaves the weights alone."""

    def __init__(self):
        super().__init__(learning_rate=1.0)
        self.recorded = None

    def apply(self, grads, trainable_variables=None):
        self.recorded = [g.copy() for g in grads]


HIDDEN = list(reference.ACTIVATIONS)  # every activation a hidden layer can have
HEADS = [  # (last activation, units, loss, target kind)
    ("sigmoid", 1, "binary_crossentropy", "binary"),
    ("linear", 1, BinaryCrossentropy(from_logits=True), "binary"),
    ("softmax", 3, "categorical_crossentropy", "soft"),
    ("softmax", 3, "sparse_categorical_crossentropy", "labels"),
    ("relu", 3, "sparse_categorical_crossentropy", "labels"),
    ("linear", 2, "mse", "real"),
    ("tanh", 2, "mae", "real"),
    ("linear", 2, losses.Huber(delta=0.5), "real"),
]


def targets(rng, kind, n, units):
    if kind == "binary":
        return rng.integers(0, 2, size=n).astype(np.float64)
    if kind == "labels":
        return rng.integers(0, units, size=n)
    if kind == "soft":
        soft = rng.uniform(0.1, 1, size=(n, units))
        return soft / soft.sum(1, keepdims=True)
    return rng.normal(size=(n, units))


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", HEADS, ids=lambda h: f"{h[0]}-{getattr(h[2], 'name', h[2])}")
def test_model_gradient_matches_finite_differences(rng, hidden, head):
    last, units, loss, kind = head
    model = Sequential(
        [
            Dense(
                5,
                activation=hidden,
                dtype="float64",
                bias_initializer="glorot_uniform",
                kernel_regularizer=regularizers.l2(0.01),
            ),
            Dense(units, activation=last, dtype="float64", bias_initializer="glorot_uniform"),
        ]
    )
    optimizer = RecordGradients()
    model.compile(optimizer=optimizer, loss=loss)
    x = rng.uniform(0.2, 1.0, size=(6, 4)) * rng.choice([-1, 1], size=(6, 4))
    y = targets(rng, kind, 6, units)
    weights = rng.uniform(0.5, 2.0, size=6)
    model.build((None, 4), seed=3)
    model.train_step(x, y, sample_weight=weights)

    def mean_loss():
        return model.evaluate(x, y, sample_weight=weights, batch_size=len(x), verbose=0)

    for i, (w, g) in enumerate(zip(model.weights, optimizer.recorded)):
        numeric = numeric_gradient(mean_loss, w)
        error = np.max(np.abs(g - numeric) / np.maximum(1.0, np.abs(numeric)))
        # Kinks (relu at 0, |e| at 0, huber at delta) can sit within h of a point;
        # the inputs keep that rare, and 1e-5 (not helpers' 1e-6) still catches
        # any wrong formula.
        assert error < 1e-5, f"weight {i}: max relative error {error:.2e}"


# ------------------------------------------------------------ save / load of the new pieces


def test_save_and_load_round_trip_every_new_piece(tmp_path, rng):
    x, y = blobs(rng)
    model = Sequential(
        [
            Input(shape=(6,)),
            Dense(16, activation="selu", kernel_regularizer=regularizers.l1_l2(0.001, 0.002)),
            Dropout(0.25),
            Dense(8, activation=denseops.nn.activations.ElementwiseActivation("leaky_relu", 0.1)),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=Adam(0.003),
        loss=losses.CategoricalCrossentropy(label_smoothing=0.1, dtype="float32"),
        metrics=["acc", metrics.TopKCategoricalAccuracy(k=2, name="top2")],
    )
    model.fit(x, to_categorical(y), epochs=2, verbose=0, seed=0)
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert [repr(layer) for layer in loaded.layers] == [repr(layer) for layer in model.layers]
    assert loaded.layers[2].activation.alpha == 0.1
    assert loaded.loss.label_smoothing == 0.1 and loaded.loss.dtype == np.float32
    assert loaded.layers[0].kernel_regularizer.get_config() == {"l1": 0.001, "l2": 0.002}
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # Training resumes exactly: optimizer state, dropout generator and metrics all restored.
    a = model.fit(x, to_categorical(y), epochs=1, verbose=0, shuffle=False)
    b = loaded.fit(x, to_categorical(y), epochs=1, verbose=0, shuffle=False)
    assert a.history == b.history and list(a.history) == ["loss", "acc", "top2"]
    for wa, wb in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_save_refuses_what_load_could_not_restore(tmp_path):
    class Custom(denseops.nn.activations.Activation):
        name = "custom"

    model = Sequential([Dense(2, activation=Custom(), input_shape=(3,))])
    model.build()
    with pytest.raises(ValueError, match=r"Cannot save activation custom of class Custom"):
        model.save(tmp_path / "m.npz")

    class MyLoss(losses.MeanSquaredError):
        pass

    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(loss=MyLoss())
    model.build()
    with pytest.raises(ValueError, match=r"Cannot save loss .* of class MyLoss"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_save_weights_and_load_weights(tmp_path, rng):
    x, y = blobs(rng)
    model = classifier()
    model.fit(x, y, verbose=0, seed=0)
    model.save_weights(tmp_path / "w.npz")
    other = classifier()
    other.build((None, 6))
    other.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    wider = Sequential([Dense(17, activation="relu"), Dense(3)])
    wider.build((None, 6))
    before = wider.get_weights()
    with pytest.raises(
        ValueError,
        match=r"w.npz: weights 'weight0' of the model have shape "
        r"\(6, 16\)",
    ):
        wider.load_weights(tmp_path / "w.npz")
    for a, b in zip(before, wider.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing changed


# ------------------------------------------------------------ inference overhead


def test_predict_leaves_the_layers_state_alone_and_returns_independent_arrays(rng):
    # Inference computes in arrays of its own (so it can run beside fit in
    # another thread): nothing a backward pass reads is touched.
    model = Sequential([Dense(16, activation="relu"), Dense(3, activation="softmax")])
    model.build((None, 6), seed=0)
    x = rng.normal(size=(1, 6)).astype(np.float32)
    first = model.predict(x, verbose=0)
    second = model.predict(x * 2, verbose=0)
    model(x)
    assert all(not layer._buffers and layer._x is None for layer in model.layers)
    assert not np.shares_memory(first, second) and not np.array_equal(first, second)


def test_predict_and_evaluate_do_not_scan_for_nan_but_fit_does(rng):
    x, y = blobs(rng)
    model = classifier()
    model.fit(x, y, verbose=0, seed=0)
    bad = x.copy()
    bad[3, 2] = np.nan
    out = model.predict(bad, verbose=0)
    assert np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, axis=0)).all()
    assert math.isnan(model.evaluate(bad, y, verbose=0)[0])
    with pytest.raises(ValueError, match=r"x contains NaN or Inf, first at index \(3, 2\)"):
        model.fit(bad, y, verbose=0)


# ------------------------------------------------------------ built at declaration


def test_a_declared_input_builds_the_model_at_once_as_in_keras(tmp_path):
    declared = Sequential([Input(shape=(3,)), Dense(64)])
    assert declared.built and declared.count_params() == 256  # Keras's figures
    first_layer = Sequential([Dense(16, input_shape=(20,)), Dense(1)])
    assert first_layer.count_params() == 353
    assert [w.shape for w in first_layer.layers[0].get_weights()] == [(20, 16), (16,)]
    lines = []
    first_layer.summary(print_fn=lines.append)
    assert lines[-3].startswith("Total params: 353 ")
    # Weights can be set, saved and loaded before any fit or predict.
    first_layer.set_weights([np.full(w.shape, 0.5, np.float32) for w in first_layer.weights])
    first_layer.save_weights(tmp_path / "w.npz")
    other = Sequential([Input(shape=(20,)), Dense(16), Dense(1)])
    other.load_weights(tmp_path / "w.npz")
    assert all((w == 0.5).all() for w in other.get_weights())
    # A layer added later is built too.
    declared.add(Dense(2))
    assert declared.layers[-1].kernel.shape == (64, 2)


def test_an_unbuilt_model_behaves_as_keras_s():
    model = Sequential([Dense(4), Dense(2)])
    assert model.get_weights() == [] and model.weights == []
    assert model.layers[0].get_weights() == []
    with pytest.raises(
        ValueError, match=r"You tried to call `count_params` on layer 'sequential', "
    ):
        model.count_params()
    with pytest.raises(ValueError, match=r"on layer 'dense', but the layer isn't built"):
        model.layers[0].count_params()
    lines = []
    model.summary(print_fn=lines.append)
    assert any("0 (unbuilt)" in line for line in lines)
    assert lines[-3] == "Total params: 0 (0.00 B)"


def test_set_random_seed_makes_declared_models_reproducible():
    from denseops.nn import utils

    def weights():
        model = Sequential([Input(shape=(5,)), Dense(8, activation="relu"), Dropout(0.5), Dense(2)])
        return model.get_weights(), model.layers[1].seed

    utils.set_random_seed(7)
    first = weights()
    utils.set_random_seed(7)
    second = weights()
    assert first[1] == second[1]
    for a, b in zip(first[0], second[0]):
        np.testing.assert_array_equal(a, b)
    utils.set_random_seed(8)
    assert not np.array_equal(weights()[0][0], first[0][0])
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0"):
            utils.set_random_seed(bad)


# ------------------------------------------------------------ the rest of the Sequential API


def small_classifier(**compile_kwargs):
    model = Sequential(
        [Input(shape=(3,)), Dense(4, activation="relu"), Dense(2, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", **compile_kwargs)
    return model


def test_get_layer_shapes_and_pop_as_keras(rng):
    model = small_classifier(metrics=["accuracy"])
    assert model.get_layer(index=0) is model.layers[0]
    assert model.get_layer(index=-1) is model.layers[1]
    assert model.get_layer("dense_1") is model.layers[1]
    with pytest.raises(ValueError, match=r"No such layer: nope. Existing layers are: \['dense', "):
        model.get_layer("nope")
    with pytest.raises(
        ValueError, match=r"Provide either a layer name or layer index at `get_layer`"
    ):
        model.get_layer()
    with pytest.raises(ValueError, match=r"retrieve layer at index 5 but model only has 2 layers"):
        model.get_layer(index=5)
    assert (model.input_shape, model.output_shape) == ((None, 3), (None, 2))
    assert model.metrics_names == ["loss", "compile_metrics"]  # Keras 3's grouping
    last = model.pop()
    assert last.units == 2 and len(model.layers) == 1 and model.output_shape == (None, 4)
    with pytest.raises(AttributeError, match=r"has no defined input shape yet"):
        _ = Sequential([Dense(2)]).input_shape
    empty = Sequential([Dense(2)])
    empty.pop()
    with pytest.raises(IndexError, match=r"has no layers to pop"):
        empty.pop()
    assert Sequential([Dense(2)]).metrics_names == []


def test_train_test_and_predict_on_batch_as_keras(rng):
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    model = small_classifier(metrics=["accuracy"])
    twin = small_classifier(metrics=["accuracy"])
    twin.set_weights(model.get_weights())
    before = model.test_on_batch(x, y)
    assert before == pytest.approx(model.evaluate(x, y, verbose=0))  # no update
    loss, accuracy = model.train_on_batch(x, y)
    assert loss == pytest.approx(before[0]) and accuracy == before[1]  # the batch before its update
    twin.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)  # one update, as fit's
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"} and logs["loss"] < loss
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
    weighted = model.train_on_batch(x, y, class_weight={0: 1.0, 1: 3.0})
    assert weighted[0] > model.test_on_batch(x, y)[0]  # class 1 counts three times


def test_metrics_ignore_sample_weights_and_weighted_metrics_use_them(rng):
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    weights = np.array([5.0, 0, 0, 0, 0, 0, 0, 1])
    model = small_classifier(metrics=["accuracy"], weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    hits = model.predict(x, verbose=0).argmax(axis=1) == y
    assert logs["accuracy"] == pytest.approx(hits.mean())  # Keras: metrics are unweighted
    assert logs["weighted_accuracy"] == pytest.approx((hits * weights).sum() / weights.sum())
    history = model.fit(
        x, y, sample_weight=weights, validation_data=(x, y, weights), verbose=0, epochs=1
    )
    assert set(history.history) == {
        "loss", "accuracy", "weighted_accuracy", "val_loss", "val_accuracy",
        "val_weighted_accuracy",
    }  # fmt: skip
    only_weighted = small_classifier(weighted_metrics=["accuracy"])
    logs = only_weighted.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}  # no clash, no prefix


def test_weighted_metrics_survive_save_and_load(tmp_path):
    model = small_classifier(metrics=["accuracy"], weighted_metrics=["accuracy"])
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert loaded.metrics == ["accuracy"] and loaded.weighted_metrics == ["accuracy"]


def test_the_keras_modules_a_reader_imports(tmp_path, rng):
    from denseops import nn as keras

    assert keras.__version__ == denseops.__version__
    model = keras.models.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(loss="mse", metrics=[keras.metrics.mean_absolute_error])
    keras.saving.save_model(model, tmp_path / "m.npz")
    with pytest.raises(FileExistsError, match=r"overwrite=False"):
        keras.saving.save_model(model, tmp_path / "m.npz", overwrite=False)
    again = keras.models.load_model(tmp_path / "m.npz")
    assert again.metrics == ["mean_absolute_error"]
    assert keras.saving.load_model(tmp_path / "m.npz", compile=False).loss is None
    y_true = rng.normal(size=(4, 2))
    y_pred = rng.normal(size=(4, 2))
    np.testing.assert_allclose(
        keras.metrics.mean_absolute_error(y_true, y_pred), np.abs(y_true - y_pred).mean(axis=1)
    )
    np.testing.assert_allclose(
        keras.metrics.mean_squared_error(y_true, y_pred), ((y_true - y_pred) ** 2).mean(axis=1)
    )
    labels = np.array([1, 0, 1, 1])
    np.testing.assert_array_equal(
        keras.metrics.sparse_categorical_accuracy(labels, y_pred),
        (y_pred.argmax(axis=1) == labels).astype(float),
    )
    np.testing.assert_array_equal(
        keras.metrics.binary_accuracy(np.array([[1.0], [0.0]]), np.array([[0.7], [0.7]])), [1, 0]
    )
    p = np.clip(np.abs(y_pred[:, :1]), 0.05, 0.95)
    t = (y_true[:, :1] > 0).astype(float)
    np.testing.assert_allclose(
        keras.losses.binary_crossentropy(t, p),
        -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(axis=1),
        rtol=1e-6,
    )


# ------------------------------------------------------------ Activation layers


@pytest.mark.parametrize("hidden", ["relu", "gelu", "tanh"])
@pytest.mark.parametrize("last", ["softmax", "sigmoid", None])
def test_activation_layers_train_exactly_as_dense_activations(rng, tmp_path, hidden, last):
    from denseops.nn import Activation

    x = rng.normal(size=(48, 5)).astype(np.float32)
    classes = 1 if last in ("sigmoid", None) else 3
    y = rng.integers(0, 2 if last == "sigmoid" else 3, size=48)
    loss = {
        "softmax": "sparse_categorical_crossentropy",
        "sigmoid": "binary_crossentropy",
        None: "mse",
    }[last]
    separate = Sequential(
        [Input(shape=(5,)), Dense(8), Activation(hidden), Dense(classes), Activation(last)]
    )
    fused = Sequential(
        [Input(shape=(5,)), Dense(8, activation=hidden), Dense(classes, activation=last)]
    )
    for model in (separate, fused):
        model.compile(optimizer="sgd", loss=loss)
    fused.set_weights(separate.get_weights())
    targets = y.astype(np.float32) if last is None else y
    a = separate.fit(x, targets, epochs=2, batch_size=16, verbose=0, seed=1)
    b = fused.fit(x, targets, epochs=2, batch_size=16, verbose=0, seed=1)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    for wa, wb in zip(separate.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)
    separate.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Dense", "Activation", "Dense", "Activation",
    ]  # fmt: skip
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), separate.predict(x, verbose=0))


def test_activation_layer_gradient_matches_finite_differences(rng):
    from denseops.nn import Activation, activations

    layer = Activation(activations.ElementwiseActivation("elu", alpha=-0.7))
    layer.build(4, np.float64, None)
    x = helpers.away_from_zero(rng, (3, 4))
    upstream = rng.normal(size=(3, 4))

    def f():
        return float(np.sum(upstream * layer.forward(x)))

    f()
    helpers.assert_gradient_close(layer.backward(upstream), numeric_gradient(f, x), "Activation")
    assert layer.count_params() == 0 and layer.weights == []


# ------------------------------------------------------------ Keras's names


def build_names_sequence(keras):
    """The same declarations in either library; returns (model names, layer names)."""
    first = keras.Sequential(
        [keras.layers.Dense(4), keras.layers.Dropout(0.1), keras.layers.Dense(2)]
    )
    second = keras.Sequential([keras.layers.Dense(3), keras.layers.Activation("relu")])
    return [first.name, second.name], [layer.name for layer in [*first.layers, *second.layers]]


def test_layers_and_models_get_keras_s_automatic_names():
    from denseops import nn

    models, layers = build_names_sequence(nn)
    assert models == ["sequential", "sequential_1"]
    assert layers == ["dense", "dropout", "dense_1", "dense_2", "activation"]
    nn.utils.clear_session()
    assert build_names_sequence(nn)[1][0] == "dense"  # numbering starts again
    from denseops.nn.naming import snake_case

    assert snake_case("BatchNormalization") == "batch_normalization"
    assert snake_case("InputLayer") == "input_layer"
    with pytest.raises(ValueError, match=r"should have unique names. Name 'a' is already"):
        Sequential([Dense(2, name="a"), Dense(2, name="a")])


def test_automatic_names_are_those_of_real_keras():
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (the interop extra)")
    from denseops import nn

    keras.utils.clear_session()
    assert build_names_sequence(nn) == build_names_sequence(keras)


# ------------------------------------------------------------ images: Flatten and Reshape


def images(rng, n=48):
    x = rng.uniform(0, 1, size=(n, 6, 5)).astype(np.float32)
    return x, rng.integers(0, 3, size=n)


def test_flatten_first_trains_on_images_exactly_as_flat_rows(rng, tmp_path):
    from denseops.nn import Flatten

    x, y = images(rng)
    on_images = Sequential([Flatten(input_shape=(6, 5)), Dense(8, activation="relu"), Dense(3)])
    on_rows = Sequential([Input(shape=(30,)), Dense(8, activation="relu"), Dense(3)])
    for model in (on_images, on_rows):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    on_rows.set_weights(on_images.get_weights())
    assert on_images.input_shape == (None, 6, 5) and on_images.layers[0].output_shape == (None, 30)
    a = on_images.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    b = on_rows.fit(x.reshape(len(x), -1), y, epochs=2, batch_size=16, verbose=0, seed=0)
    assert a.history == b.history
    for wa, wb in zip(on_images.get_weights(), on_rows.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    on_images.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert loaded.input_shape == (None, 6, 5)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), on_images.predict(x, verbose=0))
    with pytest.raises(ValueError, match=r"Flatten layer 'flatten' expects input of shape "):
        on_images.predict(x[:, :5], verbose=0)


def test_reshape_and_flatten_shapes_and_errors(rng, tmp_path):
    from denseops.nn import Flatten, Reshape

    x, y = images(rng)
    model = Sequential(
        [Input(shape=(6, 5)), Reshape((-1,)), Dropout(0.2), Reshape((3, 10)), Flatten(), Dense(3)]
    )
    assert [layer.output_shape for layer in model.layers] == [
        (None, 30), (None, 30), (None, 3, 10), (None, 30), (None, 3),
    ]  # fmt: skip
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(
        load(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0)
    )
    with pytest.raises(ValueError, match=r"cannot give samples of 30 values the shape \(7, -1\)"):
        Sequential([Input(shape=(6, 5)), Reshape((7, -1))])
    with pytest.raises(ValueError, match=r"target_shape must be a tuple of positive ints"):
        Reshape((-1, -1))
    unfinished = Sequential([Input(shape=(30,)), Dense(4), Reshape((2, 2))])
    with pytest.raises(ValueError, match=r"the losses and predict take rows \(batch, units\)"):
        unfinished.predict(x.reshape(len(x), -1), verbose=0)
    with pytest.raises(ValueError, match=r"takes \(batch, features\) inputs.*Put a Flatten"):
        Sequential([Input(shape=(6, 5)), Dense(4)])


def test_flatten_models_are_those_of_real_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (the interop extra)")
    from denseops import nn

    def declare(library):
        return library.Sequential(
            [
                library.Input(shape=(6, 5)),
                library.layers.Flatten(),
                library.layers.Dense(4, activation="relu"),
                library.layers.Reshape((2, 2)),
                library.layers.Flatten(),
                library.layers.Dense(3, activation="softmax"),
            ]
        )

    ours, theirs = declare(nn), declare(keras)
    assert [layer.output_shape for layer in ours.layers] == [
        tuple(layer.output.shape) for layer in theirs.layers
    ]
    ours.set_weights(theirs.get_weights())
    x = images(rng)[0]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5)
