"""BatchNormalization and LayerNormalization: the kernels against their
twins in denseops.reference on every SIMD path, their gradients against
finite differences, the layers' Keras 3 behaviour (moving statistics,
weights order, summary, inference that leaves the state alone), checkpoints,
and real Keras when it is installed."""

import inspect

import denseops
import numpy as np
import pytest
from denseops import reference
from denseops.nn import Adam, BatchNormalization, Dense, Input, LayerNormalization, Sequential, load
from helpers import assert_close, numeric_gradient

# (1, 5): a batch of one (zero variance); (128, 300) splits over threads.
SHAPES = [(1, 5), (7, 1), (9, 13), (128, 300)]
EPSILON = 1e-3


def operands(rng, shape, dtype):
    """x with an offset and a spread per feature, gamma, beta and an upstream gradient."""
    x = rng.normal(size=shape) * rng.uniform(0.5, 3, size=shape[1]) + rng.normal(size=shape[1])
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    dout = rng.normal(size=shape)
    return [a.astype(dtype) for a in (x, gamma, beta, dout)]


def kernels(kind):
    return getattr(denseops, f"{kind}_normalization"), getattr(
        denseops, f"{kind}_normalization_backward"
    )


def twins(kind):
    return getattr(reference, f"{kind}_normalization"), getattr(
        reference, f"{kind}_normalization_backward"
    )


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_normalization_kernels_match_their_twins(arch, rng, dtype, kind, shape):
    (forward, backward), (twin_forward, twin_backward) = kernels(kind), twins(kind)
    x, gamma, beta, dout = operands(rng, shape, dtype)
    out, mean, variance = forward(x, gamma, beta, epsilon=EPSILON)
    expected, expected_mean, expected_variance = twin_forward(x, gamma, beta, epsilon=EPSILON)
    terms = shape[0] if kind == "batch" else shape[1]
    # Keras's form, x * scale + (beta - mean * scale), rounds relative to x * scale.
    spread = np.sqrt(
        (expected_variance if kind == "batch" else expected_variance[:, None]) + EPSILON
    )
    folded = np.abs(x * gamma.astype(np.float64) / spread).max()
    scale = max(1.0, float(np.abs(expected).max()), float(folded))
    assert_close(out, expected.astype(dtype), k=4 * terms, scale=scale)
    assert_close(mean, expected_mean.astype(dtype), k=terms, scale=float(np.abs(x).max()))
    assert_close(variance, expected_variance.astype(dtype), k=4 * terms, scale=scale**2)
    # The backward pass from the same statistics.
    dx, dgamma, dbeta = backward(dout, x, gamma, mean, variance, epsilon=EPSILON)
    want = twin_backward(dout, x, gamma, mean, variance, epsilon=EPSILON)
    for name, got, expected in zip(("dx", "dgamma", "dbeta"), (dx, dgamma, dbeta), want):
        bound = max(1.0, float(np.abs(expected).max()))
        assert_close(got, expected.astype(dtype), k=16 * terms, scale=bound), name


def test_batch_normalization_with_given_statistics_uses_them(arch, rng, dtype):
    x, gamma, beta, _ = operands(rng, (6, 4), dtype)
    mean, variance = rng.normal(size=4).astype(dtype), rng.uniform(0.1, 2, 4).astype(dtype)
    out, m, v = denseops.batch_normalization(
        x, gamma, beta, epsilon=EPSILON, mean=mean, variance=variance
    )
    expected, _, _ = reference.batch_normalization(
        x, gamma, beta, epsilon=EPSILON, mean=mean, variance=variance
    )
    assert_close(out, expected.astype(dtype), k=8, scale=float(np.abs(expected).max()))
    np.testing.assert_array_equal(m, mean)
    assert not np.shares_memory(m, mean) and not np.shares_memory(v, variance)


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_normalization_gradients_match_finite_differences(rng, kind):
    forward, backward = kernels(kind)
    x, gamma, beta, dout = operands(rng, (5, 4), np.float64)

    _, mean, variance = forward(x, gamma, beta, epsilon=EPSILON)
    dx, dgamma, dbeta = backward(dout, x, gamma, mean, variance, epsilon=EPSILON)
    perturbed = [x.copy(), gamma.copy(), beta.copy()]

    def loss():
        return float(np.sum(forward(*perturbed, epsilon=EPSILON)[0] * dout))

    numeric = [numeric_gradient(loss, a) for a in perturbed]
    for name, got, expected in zip(("dx", "dgamma", "dbeta"), (dx, dgamma, dbeta), numeric):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_normalization_kernels_name_bad_shapes():
    x, f = np.zeros((4, 3)), np.ones(3)
    with pytest.raises(ValueError, match=r"batch_normalization: x must be 2-D .* got shape \(3,\)"):
        denseops.batch_normalization(f, f, f, epsilon=1e-3)
    with pytest.raises(
        ValueError,
        match=r"gamma must have shape \(3,\), one value per feature of x \(4, 3\), got \(4,\)",
    ):
        denseops.batch_normalization(x, np.ones(4), f, epsilon=1e-3)
    with pytest.raises(ValueError, match=r"mean and variance go together"):
        denseops.batch_normalization(x, f, f, epsilon=1e-3, mean=f)
    with pytest.raises(ValueError, match=r"batch statistics need at least one row"):
        denseops.batch_normalization(np.zeros((0, 3)), f, f, epsilon=1e-3)
    with pytest.raises(ValueError, match=r"mean must have shape \(4,\), one value per row"):
        denseops.layer_normalization_backward(x, x, f, f, f, epsilon=1e-3)
    with pytest.raises(ValueError, match=r"dout must have the shape of x \(4, 3\), got \(3, 4\)"):
        denseops.batch_normalization_backward(x.T, x, f, f, f, epsilon=1e-3)


# ------------------------------------------------------------------ the layers


def built(layer, features=4, dtype=np.float64):
    layer.build(features, dtype, np.random.default_rng(0))
    return layer


def test_batch_normalization_trains_on_batch_statistics_and_moves_its_averages(rng):
    layer = built(BatchNormalization(momentum=0.9))
    x = rng.normal(size=(8, 4)) * 3 + 1
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-3))
    np.testing.assert_allclose(layer.moving_mean, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(layer.moving_variance, 0.9 + 0.1 * x.var(axis=0))


def test_batch_normalization_inference_uses_the_moving_statistics_and_changes_nothing(rng):
    layer = built(BatchNormalization())
    layer.forward(rng.normal(size=(8, 4)) + 2, training=True)
    state = [w.copy() for w in layer.weights]
    x = rng.normal(size=(5, 4))
    expected = (x - layer.moving_mean) / np.sqrt(layer.moving_variance + 1e-3)
    np.testing.assert_allclose(layer.infer(x), expected)
    np.testing.assert_allclose(layer.forward(x, training=False), expected)
    for before, after in zip(state, layer.weights):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "center, scale", [(True, True), (False, True), (True, False), (False, False)]
)
def test_weights_come_in_keras_order_and_only_gamma_beta_train(center, scale):
    bn = built(BatchNormalization(center=center, scale=scale, moving_variance_initializer="ones"))
    ln = built(LayerNormalization(center=center, scale=scale))
    trainable = [a for a, keep in ((bn.gamma, scale), (bn.beta, center)) if keep]
    assert [id(w) for w in bn.weights] == [
        id(w) for w in trainable + [bn.moving_mean, bn.moving_variance]
    ]
    assert [id(w) for w in bn.trainable_weights] == [id(w) for w in trainable]
    assert len(bn.grads) == len(bn.trainable_weights) == len(ln.weights) == center + scale
    assert bn.count_params() == 4 * (center + scale + 2)


def test_model_summary_counts_the_moving_statistics_as_non_trainable():
    model = Sequential(
        [Input(shape=(3,)), Dense(4), BatchNormalization(), Dense(2), LayerNormalization()]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    names = [layer.name for layer in model.layers]  # Keras's automatic names
    assert names == ["dense", "batch_normalization", "dense_1", "layer_normalization"]
    assert "Total params: 46 " in text  # 16 + 16 + 10 + 4
    assert "Trainable params: 38 " in text
    assert "Non-trainable params: 8 " in text
    assert len(model.get_weights()) == 2 + 4 + 2 + 2
    assert len(model.trainable_weights) == len(model.grads) == 2 + 2 + 2 + 2


def small_model(optimizer="adam", layer=BatchNormalization):
    model = Sequential([Input(shape=(3,)), Dense(6, activation="relu"), layer(), Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def data(rng, samples=32):
    x = rng.normal(size=(samples, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -1.0, 2.0]) + 0.3).astype(np.float32)


@pytest.mark.parametrize("layer", [BatchNormalization, LayerNormalization])
def test_model_with_normalization_learns(rng, layer):
    from denseops.nn import utils

    x, y = data(rng, 128)
    utils.set_random_seed(0)  # the initial weights: an unlucky draw learns slower
    model = small_model(optimizer=Adam(learning_rate=0.01), layer=layer)
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 4


@pytest.mark.parametrize("layer", [BatchNormalization, LayerNormalization])
def test_checkpoint_restores_weights_statistics_and_optimizer_state(rng, tmp_path, layer):
    x, y = data(rng)
    model = small_model(layer=layer)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    restored = load(tmp_path / "m.npz")
    assert [type(a) for a in restored.layers] == [type(a) for a in model.layers]
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(restored.optimizer.state) == len(model.trainable_weights)
    model.train_on_batch(x, y)
    restored.train_on_batch(x, y)
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


KERAS_SIGNATURES = {
    BatchNormalization: [
        "axis",
        "momentum",
        "epsilon",
        "center",
        "scale",
        "beta_initializer",
        "gamma_initializer",
        "moving_mean_initializer",
        "moving_variance_initializer",
        "beta_regularizer",
        "gamma_regularizer",
        "beta_constraint",
        "gamma_constraint",
        "renorm",
        "renorm_clipping",
        "renorm_momentum",
        "synchronized",
    ],
    LayerNormalization: [
        "axis",
        "epsilon",
        "center",
        "scale",
        "beta_initializer",
        "gamma_initializer",
        "beta_regularizer",
        "gamma_regularizer",
        "beta_constraint",
        "gamma_constraint",
    ],
}


@pytest.mark.parametrize("cls", list(KERAS_SIGNATURES), ids=lambda c: c.__name__)
def test_layers_take_keras_parameters_in_keras_order_with_keras_defaults(cls):
    parameters = list(inspect.signature(cls).parameters.values())
    keras_part = [p.name for p in parameters[: len(KERAS_SIGNATURES[cls])]]
    assert keras_part == KERAS_SIGNATURES[cls]
    defaults = {p.name: p.default for p in parameters}
    assert defaults["epsilon"] == 1e-3 and defaults["axis"] == -1
    assert defaults["center"] is True and defaults["scale"] is True
    if cls is BatchNormalization:
        assert defaults["momentum"] == 0.99


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BatchNormalization(axis=0), r"axis must be -1 or 1. Received: axis=0"),
        (lambda: LayerNormalization(axis=2), r"Received: axis=2"),
        (
            lambda: BatchNormalization(momentum=1.5),
            r"momentum must be a finite number in \[0.0, 1.0\]. Received: momentum=1.5",
        ),
        (lambda: LayerNormalization(epsilon=-1.0), r"Received: epsilon=-1.0"),
        (lambda: BatchNormalization(renorm=True), r"does not support renorm"),
        (
            lambda: LayerNormalization(gamma_constraint="non_neg"),
            r"Received: gamma_constraint='non_neg'",
        ),
        (lambda: BatchNormalization(gamma_initializer="twos"), r"Unknown initializer: 'twos'"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_input_of_the_wrong_width_is_refused():
    layer = built(LayerNormalization(), features=4)
    with pytest.raises(
        ValueError, match=r"expects input of shape \(batch, 4\). Received: shape \(2, 3\)"
    ):
        layer.forward(np.zeros((2, 3)))


# ------------------------------------------------------------------ real Keras


@pytest.mark.parametrize("cls", [BatchNormalization, LayerNormalization], ids=lambda c: c.__name__)
def test_layer_matches_keras_in_training_and_inference(rng, cls):
    keras = pytest.importorskip("keras", reason="real Keras 3 is not installed here")
    kwargs = {"epsilon": 1e-2, **({"momentum": 0.8} if cls is BatchNormalization else {})}
    ours = built(cls(**kwargs), features=5, dtype=np.float32)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    theirs.build((None, 5))
    start = [rng.normal(size=5).astype(np.float32) for _ in ours.weights]
    if cls is BatchNormalization:
        start[3] = np.abs(start[3]) + 0.5  # a variance
    ours.set_weights(start)
    theirs.set_weights(start)
    for _ in range(3):
        x = (rng.normal(size=(16, 5)) * 2 + 1).astype(np.float32)
        got = ours.forward(x, training=True)
        want = np.asarray(theirs(x, training=True))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours.infer(x), np.asarray(theirs(x, training=False)), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("cls", [BatchNormalization, LayerNormalization], ids=lambda c: c.__name__)
def test_model_trains_as_keras_does(rng, cls):
    keras = pytest.importorskip("keras", reason="real Keras 3 is not installed here")
    x, y = data(rng)
    model = small_model(optimizer="sgd", layer=cls)
    keras_model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(6, activation="relu"),
            getattr(keras.layers, cls.__name__)(),
            keras.layers.Dense(1),
        ]
    )
    keras_model.compile(optimizer="sgd", loss="mse")
    keras_model.set_weights(model.get_weights())
    for start in range(0, 32, 8):
        loss = model.train_on_batch(x[start : start + 8], y[start : start + 8])
        keras_loss = keras_model.train_on_batch(x[start : start + 8], y[start : start + 8])
        assert loss == pytest.approx(float(keras_loss), rel=1e-4)
    for a, b in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), keras_model.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )


def test_layer_normalization_of_one_row_worked_by_hand():
    # [1, 2, 3]: mean 2, variance 2/3; out = (x - 2) / sqrt(2/3 + 1e-3) * gamma + beta.
    x = np.array([[1.0, 2.0, 3.0]])
    out, mean, variance = denseops.layer_normalization(
        x, np.array([1.0, 2.0, 1.0]), np.array([0.0, 0.0, 5.0]), epsilon=1e-3
    )
    assert mean[0] == 2.0 and variance[0] == pytest.approx(2 / 3, rel=1e-15)
    s = np.sqrt(2 / 3 + 1e-3)
    np.testing.assert_allclose(out, [[-1 / s, 0.0, 5 + 1 / s]], rtol=1e-14)


def test_normalization_before_the_first_dense_takes_the_model_dtype(rng):
    # Built at once by Input in the default float32, then rebuilt in float64
    # when the first Dense (float64) sets the model's dtype.
    model = Sequential(
        [Input(shape=(3,)), BatchNormalization(), LayerNormalization(), Dense(2, dtype="float64")]
    )
    assert {w.dtype for w in model.get_weights()} == {np.dtype(np.float64)}
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(8, 3))
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    assert model.predict(x, verbose=0).dtype == np.float64
