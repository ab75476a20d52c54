"""Keras's mixed precision in denseops.nn: mixed_precision.set_global_policy("mixed_bfloat16")
and Dense(dtype="mixed_bfloat16"): float32 weights and optimizer state, the
products in bfloat16 with float32 sums, the rest (bias, activations, loss,
softmax) in float32."""

import denseops
import numpy as np
import pytest
from denseops.nn import Dense, DTypePolicy, Input, Sequential, load, mixed_precision


@pytest.fixture(autouse=True)
def _float32_policy_after_each_test():
    yield
    mixed_precision.set_global_policy("float32")


def test_the_global_policy_applies_to_layers_created_after_it():
    assert mixed_precision.global_policy().name == "float32"
    before = Dense(4)
    mixed_precision.set_global_policy("mixed_bfloat16")
    after = Dense(4)
    assert before.dtype_policy == DTypePolicy("float32")
    assert (after.dtype_policy.variable_dtype, after.dtype_policy.compute_dtype) == (
        "float32",
        "bfloat16",
    )
    assert after.dtype == np.float32 and Dense(4, dtype="float32").dtype_policy.name == "float32"
    with pytest.raises(ValueError, match=r"Unknown dtype policy 'mixed_float16'"):
        mixed_precision.set_global_policy("mixed_float16")
    with pytest.raises(TypeError, match=r"or the policy 'mixed_bfloat16'. Received: dtype=int8"):
        Dense(4, dtype="int8")


def test_a_mixed_dense_multiplies_in_bfloat16_and_adds_the_bias_in_float32(rng):
    layer = Dense(3, 5, activation="relu", dtype="mixed_bfloat16", seed=0)
    layer.bias[...] = rng.normal(size=5)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    product = denseops.matmul(x, layer.kernel, precision="bfloat16")
    expected = np.maximum(product + layer.bias, 0)
    np.testing.assert_array_equal(layer.forward(x), expected)
    np.testing.assert_array_equal(layer.infer(x), expected)
    float32_product = x @ layer.kernel
    assert not np.array_equal(product, float32_product)  # the products really are bf16


def test_mixed_training_keeps_float32_state_and_follows_the_float32_run(rng, tmp_path):
    x = rng.normal(size=(256, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)

    def model(policy):
        m = Sequential(
            [Input(shape=(20,)), Dense(32, activation="relu", dtype=policy), Dense(2, "softmax")]
        )
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m

    mixed, plain = model("mixed_bfloat16"), model("float32")
    plain.set_weights(mixed.get_weights())
    a = mixed.fit(x, y, epochs=5, batch_size=32, verbose=0, seed=0).history["loss"]
    b = plain.fit(x, y, epochs=5, batch_size=32, verbose=0, seed=0).history["loss"]
    assert a != b  # bfloat16 products change the last digits
    np.testing.assert_allclose(a, b, rtol=0.02)
    assert a[-1] < a[0] * 0.8  # it learns
    assert all(w.dtype == np.float32 for w in mixed.weights)
    assert all(s.dtype == np.float32 for slots in mixed.optimizer.state for s in slots.values())
    assert mixed.predict(x, verbose=0).dtype == np.float32
    mixed.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert loaded.layers[0].dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), mixed.predict(x, verbose=0))


@pytest.mark.slow
def test_mnist_in_mixed_bfloat16_reaches_the_float32_accuracy():
    from helpers import real_mnist

    (x, y), (x_test, y_test) = real_mnist()
    x = x.reshape(len(x), -1).astype(np.float32) / 255
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = Sequential([Input(shape=(784,)), Dense(512, "relu"), Dense(10, "softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=128, verbose=0, seed=0)
    assert model.evaluate(x_test, y_test, verbose=0)[1] >= 0.978


def test_the_scikit_learn_drop_ins_take_mixed_bfloat16_as_their_dtype():
    pytest.importorskip("sklearn", reason="the [sklearn] extra is not installed")
    import warnings

    from denseops.sklearn import MLPClassifier
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 30 iterations suffice here
        mixed = MLPClassifier((64,), max_iter=30, random_state=0, dtype="mixed_bfloat16")
        plain = MLPClassifier((64,), max_iter=30, random_state=0, dtype="float32")
        mixed.fit(X[:1400], y[:1400])
        plain.fit(X[:1400], y[:1400])
    assert all(c.dtype == np.float32 for c in mixed.coefs_)
    assert [layer.dtype_policy.name for layer in mixed._network().layers] == ["mixed_bfloat16"] * 2
    assert not np.array_equal(mixed.coefs_[0], plain.coefs_[0])  # bf16 products
    assert mixed.score(X[1400:], y[1400:]) > plain.score(X[1400:], y[1400:]) - 0.02


def test_mixed_bfloat16_crosses_keras_files_both_ways(rng, tmp_path):
    x = rng.normal(size=(8, 6)).astype(np.float32)
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = Sequential([Input(shape=(6,)), Dense(5, "relu"), Dense(3, "softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mixed_precision.set_global_policy("float32")
    model.save(tmp_path / "m.keras")
    again = load(tmp_path / "m.keras")
    assert [layer.dtype_policy.name for layer in again.layers] == ["mixed_bfloat16"] * 2
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (the [interop] extra)")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert [layer.dtype_policy.name for layer in theirs.layers] == ["mixed_bfloat16"] * 2
    # Keras computes in bfloat16 throughout, denseops only its products: close, not equal.
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.02)
    theirs.save(tmp_path / "from_keras.keras")
    back = load(tmp_path / "from_keras.keras")
    assert [layer.dtype_policy.name for layer in back.layers] == ["mixed_bfloat16"] * 2
    for ours, their in zip(back.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(ours, np.asarray(their))
