"""Keras's .keras and .weights.h5 files written and read by denseops (no Keras needed).

Round trips keep predictions, layer settings, compile settings and optimizer
state; models with no Keras equivalent are refused when saving. Crafted
files (truncated, oversized or inflating members, member paths outside the
archive, unknown layer classes, Lambda and custom objects, shapes that do not
fit the config, links, compressed or unwritten HDF5 data, Python objects) are
refused with one ValueError naming the file and the fault, after allocating
little (tracemalloc sees NumPy's and h5py's buffers) and writing nothing.
"""

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from denseops.nn import (
    SGD,
    Activation,
    Adam,
    Dense,
    Dropout,
    Flatten,
    Input,
    Reshape,
    RMSprop,
    Sequential,
    load,
    metrics,
    regularizers,
)
from denseops.nn.activations import ElementwiseActivation

h5py = pytest.importorskip("h5py", reason="Keras's files need h5py: pip install 'denseops[keras]'")

FEATURES = 6
MEMORY_BOUND = 100 << 20  # bytes: what refusing any crafted file below may allocate


def binary_classifier(dtype="float32"):
    model = Sequential(
        [
            Input(shape=(FEATURES,), dtype=dtype),
            Dense(8, activation="relu", kernel_regularizer=regularizers.l2(0.01), dtype=dtype),
            Dense(1, activation="sigmoid", dtype=dtype),
        ]
    )
    model.compile(optimizer=Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def softmax_classifier(dtype="float32"):
    model = Sequential(
        [
            Input(shape=(FEATURES,), dtype=dtype),
            Dense(16, activation="tanh", kernel_initializer="he_normal", dtype=dtype),
            Dropout(0.25, seed=7),
            Dense(3, activation="softmax", use_bias=False, dtype=dtype),
        ]
    )
    model.compile(
        optimizer=SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["acc"]
    )
    return model


def regressor(dtype="float32"):
    model = Sequential(
        [
            Input(shape=(FEATURES,), dtype=dtype),
            Dense(8, "gelu", bias_regularizer=regularizers.L1L2(0.01, 0.02), dtype=dtype),
            Dense(2, dtype=dtype),
        ]
    )
    model.compile(
        optimizer=RMSprop(0.002, rho=0.8), loss="mse", metrics=["mae"], weighted_metrics=["mse"]
    )
    return model


MODELS = {"binary": binary_classifier, "softmax": softmax_classifier, "regressor": regressor}


def data_for(kind, rng, dtype="float32", samples=40):
    x = rng.normal(size=(samples, FEATURES)).astype(dtype)
    y = {
        "binary": rng.integers(0, 2, samples),
        "softmax": rng.integers(0, 3, samples),
        "regressor": rng.normal(size=(samples, 2)),
    }[kind]
    return x, y


def trained(kind, rng, dtype="float32"):
    model = MODELS[kind](dtype)
    model.fit(*data_for(kind, rng, dtype), epochs=2, batch_size=8, verbose=0, seed=0)
    return model


# ------------------------------------------------------------------ round trips


def layer_config(layer):
    return {k: v for k, v in layer.get_config().items() if k != "calls"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_keras_file_round_trip_keeps_predictions_settings_and_optimizer_state(
    kind, dtype, rng, tmp_path
):
    model = trained(kind, rng, dtype)
    model.save(tmp_path / "model.keras")
    again = load(tmp_path / "model.keras")
    x, _ = data_for(kind, rng, dtype)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.dtype == np.dtype(dtype)
    # Keras's Dropout has no mask counter: a reloaded one counts from 0.
    assert [layer_config(layer) for layer in again.layers] == [
        layer_config(layer) for layer in model.layers
    ]
    assert again.loss.get_config() == model.loss.get_config()
    assert again.metrics == model.metrics
    assert again.weighted_metrics == model.weighted_metrics
    # Keras keeps the learning rate as a float32 variable.
    expected = {**model.optimizer.get_config()}
    expected["learning_rate"] = float(np.float32(expected["learning_rate"]))
    assert again.optimizer.get_config() == expected
    assert again.optimizer.iterations == model.optimizer.iterations > 0
    for old, new in zip(model.optimizer.state, again.optimizer.state):
        assert old.keys() == new.keys()
        for slot in old:
            np.testing.assert_array_equal(new[slot], old[slot])


def test_a_reloaded_model_trains_on_as_the_original(rng, tmp_path):
    model = trained("regressor", rng)
    model.optimizer.learning_rate = float(np.float32(model.optimizer.learning_rate))
    model.save(tmp_path / "model.keras")
    again = load(tmp_path / "model.keras")
    x, y = data_for("regressor", rng)
    for m in (model, again):
        m.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for old, new in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(new, old)


def image_model():
    model = Sequential(
        [
            Input(shape=(4, 3)),
            Reshape((3, 4)),
            Flatten(),
            Dense(5),
            Activation("tanh"),
            Dropout(0.2, seed=1),
            Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_model_of_images_with_reshape_flatten_and_activation_layers_round_trips(rng, tmp_path):
    model = image_model()
    x = rng.normal(size=(16, 4, 3)).astype(np.float32)
    model.fit(x, rng.integers(0, 2, 16), epochs=1, batch_size=4, verbose=0, seed=0)
    model.save(tmp_path / "model.keras")
    again = load(tmp_path / "model.keras")
    assert [type(layer).__name__ for layer in again.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert again.input_shape == (None, 4, 3) and again.layers[0].target_shape == (3, 4)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_dense_layer_on_images_is_refused_naming_the_fix(tmp_path):
    image_model().save(tmp_path / "model.keras")

    def drop_flatten(config):
        del config["config"]["layers"][2]

    message = refusal(with_config(tmp_path / "model.keras", drop_flatten))
    assert "Dense on samples of shape (3, 4)" in message and "put a Flatten before it" in message


def test_an_uncompiled_model_round_trips_uncompiled(rng, tmp_path):
    model = Sequential([Input(shape=(FEATURES,)), Dense(4, activation="selu")])
    model.build(seed=0)
    model.save(tmp_path / "model.keras")
    again = load(tmp_path / "model.keras")
    assert again.loss is None and again.optimizer is None
    x = rng.normal(size=(5, FEATURES)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_model_compiled_but_never_fitted_starts_with_fresh_optimizer_state(tmp_path):
    model = binary_classifier()
    model.build(seed=0)
    model.save(tmp_path / "model.keras")
    again = load(tmp_path / "model.keras")
    assert again.optimizer.iterations == 0
    assert all(not slots[s].any() for slots in again.optimizer.state for s in slots)


@pytest.mark.parametrize(
    "activation",
    ["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "leaky_relu", "softplus", "swish",
     "softmax", "linear"],
)  # fmt: skip
def test_every_activation_round_trips(activation, tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(2, activation=activation)])
    model.build(seed=0)
    model.save(tmp_path / "model.keras")
    assert load(tmp_path / "model.keras").layers[0].activation.name == activation


def test_weights_file_round_trip_into_a_fresh_model(rng, tmp_path):
    model = trained("softmax", rng)
    model.save_weights(tmp_path / "model.weights.h5")
    fresh = softmax_classifier()
    fresh.build(seed=1)
    fresh.load_weights(tmp_path / "model.weights.h5")
    for old, new in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(new, old)


def test_weights_file_restores_the_optimizer_state_of_a_compiled_model(rng, tmp_path):
    model = trained("binary", rng)
    model.save_weights(tmp_path / "model.weights.h5")
    fresh = binary_classifier()
    fresh.build(seed=1)
    fresh.load_weights(tmp_path / "model.weights.h5")
    assert fresh.optimizer.iterations == model.optimizer.iterations > 0
    for old, new in zip(model.optimizer.state, fresh.optimizer.state):
        for slot in ("m", "v"):
            np.testing.assert_array_equal(new[slot], old[slot])


def test_weights_file_of_another_optimizer_is_refused_and_changes_nothing(rng, tmp_path):
    trained("binary", rng).save_weights(tmp_path / "model.weights.h5")  # Adam: two slots
    other = binary_classifier()
    other.compile(optimizer=SGD(momentum=0.5), loss="binary_crossentropy")
    other.build(seed=0)
    before = other.get_weights()
    with pytest.raises(ValueError, match="does not use.*optimizer/vars"):
        other.load_weights(tmp_path / "model.weights.h5")
    assert other.optimizer.iterations == 0 and not other.optimizer.built
    for old, new in zip(before, other.get_weights()):
        np.testing.assert_array_equal(new, old)


def test_weights_file_of_another_architecture_is_refused_and_changes_nothing(rng, tmp_path):
    trained("binary", rng).save_weights(tmp_path / "model.weights.h5")
    other = Sequential([Input(shape=(FEATURES,)), Dense(9), Dense(1)])
    other.build(seed=0)
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"model\.weights\.h5: .*layers/dense/vars/0.*\(6, 9\)"):
        other.load_weights(tmp_path / "model.weights.h5")
    for old, new in zip(before, other.get_weights()):
        np.testing.assert_array_equal(new, old)


# ------------------------------------------------------------------ what cannot be written


@pytest.mark.parametrize(
    "layer, fault",
    [
        (Dense(2, activation=ElementwiseActivation("leaky_relu", alpha=0.05)), "alpha=0.05"),
        (Dense(2, kernel_initializer=lambda shape, dtype, rng: np.ones(shape, dtype)), "kernel_"),
    ],
    ids=["activation-alpha", "custom-initializer"],
)
def test_save_refuses_what_keras_cannot_rebuild(layer, fault, tmp_path):
    model = Sequential([Input(shape=(3,)), layer])
    model.build(seed=0)
    with pytest.raises(ValueError, match=fault):
        model.save(tmp_path / "model.keras")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "compile_args, fault",
    [
        ({"optimizer": "nadam", "loss": "mse"}, "Cannot write optimizer Nadam"),
        (
            {"optimizer": "sgd", "loss": "mse", "metrics": [metrics.Precision()]},
            "Cannot write metric",
        ),
    ],
    ids=["optimizer", "metric"],
)
def test_save_refuses_compile_settings_not_checked_against_keras(compile_args, fault, tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(1, activation="sigmoid")])
    model.compile(**compile_args)
    with pytest.raises(ValueError, match=fault):
        model.save(tmp_path / "model.keras")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ crafted files


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_members(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def h5_bytes(build):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        build(f)
    return buffer.getvalue()


@pytest.fixture
def saved(rng, tmp_path):
    path = tmp_path / "model.keras"
    trained("binary", rng).save(path)
    return path


def refusal(path):
    """load(path)'s ValueError message, checking the load allocated little and wrote nothing."""
    before = sorted(p.name for p in path.parent.iterdir())
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as raised:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"load allocated {peak / 2**20:.0f} MB before refusing {path}"
    assert sorted(p.name for p in path.parent.iterdir()) == before
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    return message


def with_config(path, change):
    entries = members(path)
    config = json.loads(entries["config.json"])
    change(config)
    entries["config.json"] = json.dumps(config)
    write_members(path, entries)
    return path


def dense_config(config, i=1):
    return config["config"]["layers"][i]["config"]


def test_a_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    assert "not a readable .keras file" in refusal(saved)


def test_a_member_path_leaving_the_archive_is_refused(saved, tmp_path):
    entries = members(saved)
    entries["../../escaped.txt"] = b"x"
    write_members(saved, entries)
    assert "'../../escaped.txt' has an unsafe path" in refusal(saved)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_an_extra_member_is_refused(saved):
    entries = members(saved)
    entries["assets/payload.pkl"] = b"\x80\x04K\x01."  # a pickle is never read
    write_members(saved, entries)
    assert "'assets/payload.pkl' is not part of a Keras model" in refusal(saved)


def test_a_duplicated_member_is_refused(saved):
    entries = members(saved)
    with zipfile.ZipFile(saved, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("config.json", entries["config.json"])
    assert "'config.json' appears twice" in refusal(saved)


def test_a_weights_member_larger_than_the_config_accounts_for_is_refused(saved):
    entries = members(saved)
    entries["model.weights.h5"] += bytes(8 << 20)
    write_members(saved, entries)
    assert "more than the" in refusal(saved)


def test_a_member_declaring_a_huge_inflated_size_is_refused_before_inflating(saved):
    entries = members(saved)
    write_members(saved, entries, zipfile.ZIP_DEFLATED)
    data = bytearray(saved.read_bytes())
    # The central directory entry of model.weights.h5: its uncompressed size
    # (offset 24) claims 4 GB.
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46 : entry + 46 + 16] != b"model.weights.h5":
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 0xFFFFFFF0)
    saved.write_bytes(bytes(data))
    assert "'model.weights.h5' inflates" in refusal(saved)


@pytest.mark.parametrize(
    "change, fault",
    [
        (lambda c: c.update(class_name="Functional"), "class 'Functional' cannot be expressed"),
        (
            lambda c: c["config"]["layers"].insert(
                2,
                {
                    "module": "keras.layers",
                    "class_name": "Lambda",
                    "config": {
                        "name": "evil",
                        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAA=="}},
                    },
                    "registered_name": None,
                },
            ),
            "layer 2 ('evil'): class 'Lambda' cannot be expressed",
        ),
        (
            lambda c: c["config"]["layers"][1].update(class_name="BatchNormalization"),
            "class 'BatchNormalization' cannot be expressed",
        ),
        (
            lambda c: c["config"]["layers"][1].update(registered_name="Custom>Dense"),
            "is a custom object",
        ),
        (
            lambda c: dense_config(c)["dtype"]["config"].update(name="mixed_float16"),
            "dtype policy 'mixed_float16' cannot be expressed",
        ),
        (
            lambda c: dense_config(c, 2)["dtype"]["config"].update(name="float64"),
            "dtype float64 differs from the model's float32",
        ),
        (lambda c: dense_config(c).update(trainable=False), "trainable=False cannot be"),
        (lambda c: c["config"].update(trainable=False), "the model is frozen"),
        (
            lambda c: dense_config(c).update(kernel_constraint={"class_name": "NonNeg"}),
            "kernel_constraint=",
        ),
        (lambda c: dense_config(c).update(activation="hard_sigmoid"), "'hard_sigmoid'"),
        (lambda c: c["config"]["layers"][0]["config"].update(batch_shape=[None, 28, 28]), "(batch"),
        (
            lambda c: c["compile_config"]["optimizer"]["config"].update(weight_decay=0.01),
            "weight_decay=0.01 cannot be expressed",
        ),
        (
            lambda c: c["compile_config"]["optimizer"]["config"].update(
                learning_rate={"class_name": "ExponentialDecay", "config": {}}
            ),
            "learning rate is a schedule ('ExponentialDecay')",
        ),
        (lambda c: c["compile_config"].update(loss="poisson"), "Unknown loss: 'poisson'"),
        (
            lambda c: c["compile_config"]["optimizer"].update(class_name="Nadam"),
            "class 'Nadam' cannot be expressed",
        ),
    ],
    ids=[
        "functional",
        "lambda",
        "unknown-layer",
        "custom-object",
        "mixed-precision",
        "two-dtypes",
        "frozen-layer",
        "frozen-model",
        "constraint",
        "activation",
        "image-input",
        "weight-decay",
        "schedule",
        "loss",
        "optimizer",
    ],
)
def test_a_config_denseops_cannot_express_is_refused_naming_what(saved, change, fault):
    assert fault in refusal(with_config(saved, change))


def test_a_huge_layer_declared_without_its_weights_is_refused_cheaply(saved):
    def huge(config):
        dense_config(config, 2)["units"] = 10**9

    assert "layers/dense_1/vars/0" in refusal(with_config(saved, huge))


def rewrite_weights(path, change):
    """Rewrites model.weights.h5 of ``path`` with ``change(f)`` applied to its HDF5 file."""
    entries = members(path)

    def build(f):
        with h5py.File(io.BytesIO(entries["model.weights.h5"]), "r") as old:
            for name in old:
                old.copy(old[name], f, name=name)
        change(f)

    entries["model.weights.h5"] = h5_bytes(build)
    write_members(path, entries)
    return path


def replace(f, name, **dataset):
    kernel = f[name][()]
    del f[name]
    return f.create_dataset(name, **{"data": kernel, **dataset})


@pytest.mark.parametrize(
    "change, fault",
    [
        (
            lambda f: replace(f, "layers/dense/vars/0", data=np.zeros((6, 9), np.float32)),
            "has shape (6, 9) and dtype float32; expected (6, 8) float32",
        ),
        (
            lambda f: replace(f, "layers/dense/vars/0", compression="gzip", chunks=(6, 8)),
            "compressed or unwritten data is refused",
        ),
        (
            lambda f: replace(f, "layers/dense/vars/0", data=None, shape=(6, 8), dtype="f4"),
            "compressed or unwritten data is refused",
        ),
        (
            lambda f: replace(
                f,
                "layers/dense/vars/0",
                data=np.frombuffer(b"\x80\x04\x95" + bytes(189), dtype="V4").reshape(6, 8),
            ),
            "dtype |V4",
        ),
        (lambda f: f.__setitem__("layers/dense/vars/2", h5py.SoftLink("/vars")), "SoftLink"),
        (
            lambda f: f.__setitem__("layers/extra", h5py.ExternalLink("/etc/passwd", "/")),
            "ExternalLink at 'layers/extra'",
        ),
        (lambda f: f.create_dataset("layers/dense/vars/2", data=[1.0]), "does not use"),
        (lambda f: f.__delitem__("layers/dense_1/vars/1"), "lack ['layers/dense_1/vars/1']"),
    ],
    ids=[
        "shape",
        "compressed",
        "unwritten",
        "opaque-bytes",
        "soft-link",
        "external-link",
        "extra",
        "missing",
    ],
)
def test_weights_that_do_not_fit_the_config_are_refused_before_reading(saved, change, fault):
    assert fault in refusal(rewrite_weights(saved, change))


def test_a_dataset_declaring_a_huge_shape_over_no_data_is_refused_cheaply(saved):
    def huge(config):
        dense_config(config, 2)["units"] = 10**9

    def bomb(f):
        replace(f, "layers/dense_1/vars/0", data=None, shape=(8, 10**9), dtype="f4")
        replace(f, "layers/dense_1/vars/1", data=None, shape=(10**9,), dtype="f4")
        del f["optimizer"]

    with_config(saved, huge)
    with_config(saved, lambda c: c.pop("compile_config"))
    assert "compressed or unwritten data is refused" in refusal(rewrite_weights(saved, bomb))


@pytest.mark.parametrize(
    "member, data, fault",
    [
        ("config.json", b"[1, 2]", "config.json must hold a JSON object"),
        ("config.json", b"{" * 100_000, "config.json is not valid JSON"),
        ("metadata.json", b"\x80\x04K\x01.", "metadata.json is not valid JSON"),
        ("config.json", b" " * (5 << 20), "more than the 4194304"),
    ],
    ids=["not-object", "deep", "pickle", "huge"],
)
def test_json_members_are_checked(saved, member, data, fault):
    entries = members(saved)
    entries[member] = data
    write_members(saved, entries)
    assert fault in refusal(saved)
