"""Real Keras 3 opens what denseops writes, and denseops opens what Keras writes.

Keras runs on its JAX backend (conftest.py); these tests skip, saying why,
where Keras is not installed (the [interop] extra brings it). Each direction
covers a binary classifier, a softmax classifier with Dropout and a
regressor, in float32 and float64, with their compile settings and optimizer
state, and every activation both share.
"""

import numpy as np
import pytest
from denseops.nn import SGD, Adam, Dense, Dropout, Input, RMSprop, Sequential, load, regularizers
from denseops.nn import losses as denseops_losses
from denseops.nn import metrics as denseops_metrics

keras = pytest.importorskip(
    "keras", reason="real Keras 3 is optional: pip install 'denseops[interop]'"
)
pytest.importorskip("h5py", reason="Keras's files need h5py: pip install 'denseops[keras]'")

FEATURES = 5
ACTIVATIONS = ["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "leaky_relu", "softplus",
               "swish", "softmax", "linear"]  # fmt: skip


def tolerance(dtype):
    """Float32 rounding of two implementations of the same sums and functions,
    the promise for every dtype (Keras may round a float64 model's data to its
    float32 floatx on the way in or out; the weights stay float64)."""
    return {"rtol": 2e-5, "atol": 2e-6}


# Each kind as the two libraries spell it: (denseops model, Keras model, targets).


def denseops_model(kind, dtype):
    hidden = {
        "binary": [Dense(8, "relu", kernel_regularizer=regularizers.l2(0.01), dtype=dtype)],
        "softmax": [Dense(16, "tanh", dtype=dtype), Dropout(0.3, seed=3)],
        "regressor": [Dense(8, "gelu", bias_regularizer=regularizers.l1(0.01), dtype=dtype)],
    }[kind]
    out = {
        "binary": Dense(1, "sigmoid", dtype=dtype),
        "softmax": Dense(3, "softmax", dtype=dtype),
        "regressor": Dense(2, dtype=dtype),
    }[kind]
    model = Sequential([Input(shape=(FEATURES,), dtype=dtype), *hidden, out])
    model.compile(**COMPILE[kind](denseops=True))
    return model


def keras_model(kind, dtype):
    layers = keras.layers
    hidden = {
        "binary": [
            layers.Dense(8, "relu", kernel_regularizer=keras.regularizers.L2(0.01), dtype=dtype)
        ],
        # Dropout keeps the default float32 policy: it only casts in Keras.
        "softmax": [layers.Dense(16, "tanh", dtype=dtype), layers.Dropout(0.3, seed=3)],
        "regressor": [
            layers.Dense(8, "gelu", bias_regularizer=keras.regularizers.L1(0.01), dtype=dtype)
        ],
    }[kind]
    out = {
        "binary": layers.Dense(1, "sigmoid", dtype=dtype),
        "softmax": layers.Dense(3, "softmax", dtype=dtype),
        "regressor": layers.Dense(2, dtype=dtype),
    }[kind]
    model = keras.Sequential([keras.Input(shape=(FEATURES,), dtype=dtype), *hidden, out])
    model.compile(**COMPILE[kind](denseops=False))
    return model


COMPILE = {
    "binary": lambda denseops: {
        "optimizer": Adam(0.01) if denseops else keras.optimizers.Adam(0.01),
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
    },
    "softmax": lambda denseops: {
        "optimizer": SGD(0.05, momentum=0.9)
        if denseops
        else keras.optimizers.SGD(0.05, momentum=0.9),
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "regressor": lambda denseops: {
        "optimizer": RMSprop(0.002, rho=0.8) if denseops else keras.optimizers.RMSprop(0.002, 0.8),
        "loss": "mse",
        "metrics": ["mae"],
    },
}
KINDS = sorted(COMPILE)


def data_for(kind, rng, dtype, samples=30):
    x = rng.normal(size=(samples, FEATURES)).astype(dtype)
    y = {
        "binary": rng.integers(0, 2, samples),
        "softmax": rng.integers(0, 3, samples),
        "regressor": rng.normal(size=(samples, 2)),
    }[kind]
    return x, y


def keras_optimizer_arrays(model):
    """The optimizer's variables as Keras orders them: iteration, learning rate, slots."""
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in model.optimizer.variables]


def denseops_optimizer_arrays(model):
    optimizer = model.optimizer
    arrays = [np.array(optimizer.iterations), np.array(optimizer.learning_rate, np.float32)]
    for slots in optimizer.state:
        arrays.extend(slots[name] for name in optimizer.get_slot_names())
    return arrays


# ------------------------------------------------------------------ denseops -> Keras


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_keras_loads_what_denseops_saved_and_predicts_the_same(kind, dtype, rng, tmp_path):
    model = denseops_model(kind, dtype)
    model.fit(*data_for(kind, rng, dtype), epochs=2, batch_size=8, verbose=0, seed=0)
    model.save(tmp_path / "model.keras")
    theirs = keras.models.load_model(tmp_path / "model.keras")
    x, _ = data_for(kind, rng, dtype)
    np.testing.assert_allclose(
        theirs.predict(x, verbose=0), model.predict(x, verbose=0), **tolerance(dtype)
    )
    assert [type(layer).__name__ for layer in theirs.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert theirs.layers[0].dtype_policy.name == dtype
    assert type(theirs.optimizer).__name__ == type(model.optimizer).__name__
    stored = keras_optimizer_arrays(theirs)
    assert len(stored) == len(denseops_optimizer_arrays(model))
    for theirs_array, ours in zip(stored, denseops_optimizer_arrays(model)):
        np.testing.assert_array_equal(theirs_array, ours)


def test_keras_loads_denseops_weights_files(rng, tmp_path):
    model = denseops_model("softmax", "float32")
    model.fit(*data_for("softmax", rng, "float32"), epochs=1, verbose=0, seed=0)
    model.save_weights(tmp_path / "model.weights.h5")
    theirs = keras_model("softmax", "float32")
    # A Keras model that has trained (its optimizer built) takes the optimizer
    # state too; one never fitted refuses it, for Keras's own files as well.
    theirs.optimizer.build(theirs.trainable_variables)
    theirs.load_weights(tmp_path / "model.weights.h5")
    for theirs_array, ours in zip(theirs.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(theirs_array, ours)
    for theirs_array, ours in zip(keras_optimizer_arrays(theirs), denseops_optimizer_arrays(model)):
        np.testing.assert_array_equal(theirs_array, ours)


# ------------------------------------------------------------------ Keras -> denseops


def keras_with_state(kind, dtype, rng):
    """A Keras model with random weights and optimizer state, as training would
    have left it (random values check the order of every slot)."""
    model = keras_model(kind, dtype)
    model.optimizer.build(model.trainable_variables)
    for variable in model.optimizer.variables[2:]:
        variable.assign(np.abs(rng.normal(size=variable.shape)).astype(variable.dtype))
    model.optimizer.iterations.assign(17)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_denseops_loads_what_keras_saved_and_predicts_the_same(kind, dtype, rng, tmp_path):
    theirs = keras_with_state(kind, dtype, rng)
    theirs.save(tmp_path / "model.keras")
    model = load(tmp_path / "model.keras")
    x, _ = data_for(kind, rng, dtype)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), theirs.predict(x, verbose=0), **tolerance(dtype)
    )
    assert model.dtype == np.dtype(dtype)
    assert [layer.name for layer in model.layers] == [layer.name for layer in theirs.layers]
    assert model.loss.name == COMPILE[kind](denseops=True)["loss"].replace(
        "mse", "mean_squared_error"
    )
    assert model.metrics == COMPILE[kind](denseops=True)["metrics"]
    expected_optimizer = COMPILE[kind](denseops=True)["optimizer"]
    assert type(model.optimizer) is type(expected_optimizer)
    assert model.optimizer.iterations == 17
    for theirs_array, ours in zip(keras_optimizer_arrays(theirs), denseops_optimizer_arrays(model)):
        np.testing.assert_array_equal(ours, theirs_array)


def test_denseops_reads_keras_regularizers_and_initializers(tmp_path):
    theirs = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(
                4,
                kernel_initializer="he_uniform",
                bias_initializer="ones",
                kernel_regularizer=keras.regularizers.L1L2(0.1, 0.2),
            ),
        ]
    )
    theirs.save(tmp_path / "model.keras")
    layer = load(tmp_path / "model.keras").layers[0]
    assert layer.get_config()["kernel_initializer"] == "he_uniform"
    assert layer.get_config()["bias_initializer"] == "ones"
    assert layer.get_config()["kernel_regularizer"] == {"class": "L1L2", "l1": 0.1, "l2": 0.2}


def test_denseops_loads_keras_weights_files(rng, tmp_path):
    theirs = keras_with_state("regressor", "float32", rng)
    theirs.save_weights(tmp_path / "model.weights.h5")
    model = denseops_model("regressor", "float32")
    model.build(seed=0)
    model.load_weights(tmp_path / "model.weights.h5")
    for theirs_array, ours in zip(theirs.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs_array)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_shared_activation_computes_the_same_both_ways(activation, rng, tmp_path):
    theirs = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation)])
    theirs.save(tmp_path / "keras.keras")
    model = load(tmp_path / "keras.keras")
    x = (3 * rng.normal(size=(6, 4))).astype(np.float32)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), theirs.predict(x, verbose=0), **tolerance("float32")
    )
    model.save(tmp_path / "denseops.keras")
    back = keras.models.load_model(tmp_path / "denseops.keras")
    np.testing.assert_allclose(
        back.predict(x, verbose=0), model.predict(x, verbose=0), **tolerance("float32")
    )


@pytest.mark.parametrize(
    "layer, name",
    [
        (lambda: keras.layers.BatchNormalization(name="norm"), "'norm'"),
        (lambda: keras.layers.Dense(3, activation="relu6", name="six"), "'relu6'"),
        (lambda: keras.layers.Dense(3, kernel_constraint="non_neg", name="pos"), "'pos'"),
    ],
    ids=["batch-norm", "relu6", "constraint"],
)
def test_keras_models_denseops_cannot_express_are_refused_naming_the_layer(layer, name, tmp_path):
    theirs = keras.Sequential([keras.Input(shape=(4,)), layer(), keras.layers.Dense(1)])
    theirs.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match=name):
        load(tmp_path / "model.keras")


def test_compile_settings_cross_both_ways(tmp_path):
    theirs = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(3, "softmax")])
    theirs.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.5, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=2), "accuracy"],
        weighted_metrics=["accuracy"],
    )
    theirs.save(tmp_path / "keras.keras")
    model = load(tmp_path / "keras.keras")
    assert model.loss.from_logits is True
    assert model.metrics[0].k == 2 and model.metrics[1] == "accuracy"
    assert model.weighted_metrics == ["accuracy"]
    assert (model.optimizer.momentum, model.optimizer.nesterov) == (0.5, True)

    model.compile(
        optimizer=Adam(0.003, beta_1=0.8),
        loss=denseops_losses.BinaryCrossentropy(label_smoothing=0.1),
        metrics=[denseops_metrics.BinaryAccuracy(threshold=0.3)],
        weighted_metrics=["mae"],
    )
    model.save(tmp_path / "denseops.keras")
    back = keras.models.load_model(tmp_path / "denseops.keras")
    assert back.optimizer.beta_1 == 0.8
    assert float(back.optimizer.learning_rate) == pytest.approx(0.003)
    assert back.loss.get_config()["label_smoothing"] == 0.1
    assert back.get_compile_config()["metrics"][0]["config"]["threshold"] == 0.3
    assert back.get_compile_config()["weighted_metrics"] == ["mae"]


def test_a_float64_policy_model_with_keras_float32_input_reads_as_float64(rng, tmp_path):
    keras.config.set_dtype_policy("float64")
    try:
        theirs = keras.Sequential(
            [keras.Input(shape=(4,)), keras.layers.Dense(3, "elu"), keras.layers.Dense(2)]
        )
    finally:
        keras.config.set_dtype_policy("float32")
    assert theirs.inputs[0].dtype == "float32"  # keras.Input takes floatx, not the policy
    theirs.save(tmp_path / "model.keras")
    model = load(tmp_path / "model.keras")
    assert model.dtype == np.float64
    x = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        model.predict(x.astype(np.float64), verbose=0),
        theirs.predict(x, verbose=0),
        **tolerance("float64"),
    )


def test_reshape_flatten_and_activation_layers_cross_both_ways(rng, tmp_path):
    theirs = keras.Sequential(
        [
            keras.Input(shape=(4, 3)),
            keras.layers.Reshape((3, 4)),
            keras.layers.Flatten(),
            keras.layers.Dense(5),
            keras.layers.Activation("swish"),
            keras.layers.Dense(2),
        ]
    )
    theirs.save(tmp_path / "keras.keras")
    model = load(tmp_path / "keras.keras")
    x = rng.normal(size=(6, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), theirs.predict(x, verbose=0), **tolerance("float32")
    )
    model.save(tmp_path / "denseops.keras")
    back = keras.models.load_model(tmp_path / "denseops.keras")
    assert [type(layer).__name__ for layer in back.layers] == [
        "Reshape", "Flatten", "Dense", "Activation", "Dense"
    ]  # fmt: skip
    np.testing.assert_allclose(
        back.predict(x, verbose=0), model.predict(x, verbose=0), **tolerance("float32")
    )
