"""Sequential inference in one kernel call (nn/fused_inference.py) against the per-layer path.

``_kernels._network_forward`` calls the same kernels in the same order as
``Dense.infer`` does, on the same chunks of rows, so ``predict``,
``model(x)`` and ``evaluate`` must give exactly the bits that
``Sequential._infer_layers`` gives, on every SIMD path; a float64 NumPy
forward bounds both. The binding's own argument checks are at the end.
"""

import denseops
import numpy as np
import pytest
from denseops import _kernels, reference
from denseops.nn import Dense, Dropout, Flatten, Sequential, activations
from denseops.nn.data_adapters import INFERENCE_BATCH
from denseops.nn.fused_inference import network_steps
from helpers import assert_close, random_array

# (name, activation): every kind the kernel knows, with Keras's alphas and
# the negative ones that make elu and leaky_relu take their input path.
ACTIVATION_CASES = [(name, activations.get(name)) for name in reference.ACTIVATIONS] + [
    ("elu_negative_alpha", activations.ElementwiseActivation("elu", alpha=-0.5)),
    ("leaky_relu_negative_alpha", activations.ElementwiseActivation("leaky_relu", alpha=-0.3)),
    ("softmax", activations.softmax),
]
BATCHES = (1, 7, 128, 1500)  # 1500: two chunks of predict's default 1024 rows
FEATURES = 19


def built(layers, dtype, seed=0):
    """A model of `layers` built on FEATURES inputs, its biases random (not Keras's zeros)."""
    model = Sequential(layers)
    model.build(FEATURES, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias[...] = rng.uniform(-0.5, 0.5, layer.bias.shape)
    return model


def per_layer(model, x, logits=False, chunk=INFERENCE_BATCH):
    """The layer-by-layer path, chunk by chunk as predict runs it."""
    parts = [model._infer_layers(x[i : i + chunk], logits) for i in range(0, len(x), chunk)]
    return np.concatenate(parts)


def numpy_forward(model, x):
    """The model's forward in float64 NumPy (Dropout is the identity)."""
    h = x.astype(np.float64)
    for layer in model.layers:
        if isinstance(layer, Dropout):
            continue
        h = h @ layer.kernel.astype(np.float64)
        if layer.bias is not None:
            h = h + layer.bias
        act = layer.activation
        if act.name == "softmax":
            h = np.exp(h - h.max(axis=1, keepdims=True))
            h = h / h.sum(axis=1, keepdims=True)
        else:
            h = reference.activation(h, act.name, alpha=act.alpha)
    return h


def assert_same_bits(actual, expected, what):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    assert np.array_equal(actual, expected, equal_nan=True), (
        f"{what}: fused and per-layer paths differ, max abs difference {np.nanmax(diff):.3e}"
    )


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=[c[0] for c in ACTIVATION_CASES])
def test_fused_predict_matches_per_layer_path(rng, arch, dtype, case, batch, use_bias):
    _, activation = case
    model = built(
        [
            Dense(24, activation=activation, use_bias=use_bias, dtype=dtype),
            Dense(9, activation=activation, use_bias=use_bias, dtype=dtype),
        ],
        dtype,
    )
    assert network_steps(model.layers) is not None, "the fused path must cover this model"
    x = random_array(rng, (batch, FEATURES), dtype)
    expected = per_layer(model, x)
    assert_same_bits(model.predict(x, verbose=0), expected, "predict")
    assert_same_bits(model(x[:INFERENCE_BATCH]), expected[:INFERENCE_BATCH], "model(x)")
    assert_close(
        model.predict(x, verbose=0), numpy_forward(model, x).astype(dtype), k=FEATURES + 24
    )


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_fused_predict_runs_stacks_with_dropout(rng, arch, dtype, depth):
    kinds = ["relu", "tanh", "gelu", "elu"][: depth - 1] + ["softmax"]
    layers = []
    for i, kind in enumerate(kinds):
        layers.append(Dense(8 + 11 * i, activation=kind, dtype=dtype))
        layers.append(Dropout(0.5))  # the identity at inference, skipped by the kernel
    model = built(layers, dtype)
    x = random_array(rng, (300, FEATURES), dtype)
    for chunk in (1, 7, 300):  # predict's batch_size is the kernel's chunk
        assert_same_bits(
            model.predict(x, batch_size=chunk, verbose=0),
            per_layer(model, x, chunk=chunk),
            "predict",
        )
    # evaluate's logits: the last layer without its activation (the fused loss applies
    # it), on the same layers without the trailing Dropout
    fused_loss_model = Sequential(layers[:-1])
    assert_same_bits(
        fused_loss_model._infer(x, logits=True),
        per_layer(fused_loss_model, x, logits=True),
        "logits",
    )
    assert_close(model.predict(x, verbose=0), numpy_forward(model, x).astype(dtype), k=4 * FEATURES)


def test_images_through_a_leading_flatten_are_fused(rng, arch, dtype):
    model = Sequential(
        [
            Flatten(),
            Dense(16, activation="relu", dtype=dtype),
            Dense(5, activation="softmax", dtype=dtype),
        ]
    )
    model.build((None, 4, 5), seed=0)
    x = random_array(rng, (60, 4, 5), dtype)
    assert network_steps(model.layers, ndim=3) is not None
    for chunk in (7, 60):
        assert_same_bits(
            model.predict(x, batch_size=chunk, verbose=0),
            per_layer(model, x, chunk=chunk),
            "predict",
        )


def test_rows_of_more_than_two_axes_need_a_flatten_first():
    dense = Dense(3, 2)
    assert network_steps([Dropout(0.5), dense], ndim=3) is None
    assert network_steps([dense, Flatten()], ndim=2) is None  # a Flatten after a Dense: per layer
    assert network_steps([Dropout(0.5), Flatten(), dense], ndim=3) is not None


def test_predict_crosses_into_the_kernels_once(rng, monkeypatch):
    model = built(
        [Dense(32, activation="relu"), Dropout(0.2), Dense(3, activation="softmax")], np.float32
    )
    model.compile(loss="sparse_categorical_crossentropy")
    calls = []
    forward = _kernels._network_forward

    def counted(*args, **kwargs):
        calls.append(len(args[0]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(_kernels, "_network_forward", counted)
    monkeypatch.setattr(denseops, "matmul", None)  # the per-layer path would call it and fail
    x = random_array(rng, (2500, FEATURES), np.float32)
    model.predict(x, verbose=0)
    model(x[:5])
    model.evaluate(x[:10], np.zeros(10, np.int64), verbose=0)
    assert calls == [2500, 5, 10], "one kernel call per predict / model(x) / evaluate batch"


class Doubled(activations.Activation):
    """An activation the kernel does not know."""

    name = "doubled"

    def forward(self, z, out=None, bias=None):
        z = z if bias is None else z + bias
        return np.multiply(z, 2, out=out)


class ScaledDense(Dense):
    """A Dense subclass: its infer may compute anything, so the kernel leaves it alone."""

    def infer(self, x, return_logits=False):
        return 3 * super().infer(x, return_logits)


@pytest.mark.parametrize("model_kind", ["custom_activation", "dense_subclass"])
def test_models_the_kernel_does_not_cover_take_the_per_layer_path(rng, model_kind):
    layers = {
        "custom_activation": [Dense(6, activation=Doubled()), Dense(2)],
        "dense_subclass": [ScaledDense(6, activation="relu"), Dense(2)],
    }[model_kind]
    model = built(layers, np.float32)
    assert network_steps(model.layers) is None
    x = random_array(rng, (40, FEATURES), np.float32)
    out = model.predict(x, batch_size=16, verbose=0)  # three chunks, layer by layer
    assert_close(out, numpy_forward_uncovered(model, x).astype(np.float32), k=FEATURES + 6)


def test_a_stack_without_dense_layers_is_not_fused():
    assert network_steps([Dropout(0.5), Dropout(0.1)]) is None


def numpy_forward_uncovered(model, x):
    first, second = model.layers
    h = x.astype(np.float64) @ first.kernel + first.bias
    h = 2 * h if isinstance(first.activation, Doubled) else 3 * np.maximum(h, 0)
    return h @ second.kernel + second.bias


# ------------------------------------------------------------------ the binding's checks


def mlp_steps(dtype=np.float32):
    rng = np.random.default_rng(0)
    w1, b1 = rng.random((4, 5)).astype(dtype), rng.random(5).astype(dtype)
    w2, b2 = rng.random((5, 3)).astype(dtype), rng.random(3).astype(dtype)
    return [(w1, b1, "relu", 0.0), (w2, b2, "softmax", 0.0)]


def test_network_forward_computes_the_stack():
    steps = mlp_steps(np.float64)
    x = np.random.default_rng(1).random((6, 4))
    (w1, b1, _, _), (w2, b2, _, _) = steps
    z = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    for chunk in (1, 4, 6, 100):
        assert_close(_kernels._network_forward(x, steps, chunk=chunk), expected, k=9)


def replaced(steps, index, position, value):
    steps = list(steps)
    item = list(steps[index])
    item[position] = value
    steps[index] = tuple(item)
    return steps


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda s: replaced(s, 1, 0, s[1][0].astype(np.float64)), TypeError, r"layers\[1\] kernel"),
        (
            lambda s: replaced(s, 1, 0, s[1][0][:4]),
            ValueError,
            r"layers\[1\] kernel must have shape \(5, units\).*\(4, 3\)",
        ),
        (
            lambda s: replaced(s, 0, 1, s[0][1][:2]),
            ValueError,
            r"layers\[0\] bias must have shape \(5,\), got \(2,\)",
        ),
        (lambda s: replaced(s, 0, 2, "softsign"), ValueError, "unknown activation 'softsign'"),
        (lambda s: replaced(s, 0, 2, 3), TypeError, r"layers\[0\] activation must be a str"),
        (lambda s: replaced(s, 0, 3, float("nan")), ValueError, "alpha must be finite"),
        (lambda s: replaced(s, 0, 3, "0.1"), TypeError, r"layers\[0\] alpha must be a float"),
        (lambda s: replaced(s, 0, 3, True), TypeError, r"layers\[0\] alpha must be a float"),
        (lambda s: [list(s[0])], TypeError, r"layers\[0\] must be a tuple"),
        (lambda s: [], ValueError, "layers must not be empty"),
        (lambda s: {"a": 1}, TypeError, "layers must be a list"),
        (lambda s: replaced(s, 0, 0, [[1.0] * 5] * 4), TypeError, "numpy.ndarray"),
    ],
)
def test_network_forward_refuses_bad_layers(change, error, match):
    x = np.ones((2, 4), np.float32)
    with pytest.raises(error, match=match):
        _kernels._network_forward(x, change(mlp_steps()))


def test_network_forward_refuses_bad_input_and_chunk():
    steps = mlp_steps()
    with pytest.raises(ValueError, match=r"x must be 2-D \(batch, features\), got \(4,\)"):
        _kernels._network_forward(np.ones(4, np.float32), steps)
    with pytest.raises(ValueError, match=r"layers\[0\] kernel must have shape \(3, units\)"):
        _kernels._network_forward(np.ones((2, 3), np.float32), steps)
    with pytest.raises(TypeError, match="x must have dtype float32 or float64, got int64"):
        _kernels._network_forward(np.ones((2, 4), np.int64), steps)
    with pytest.raises(ValueError, match="chunk must be at least 1, got 0"):
        _kernels._network_forward(np.ones((2, 4), np.float32), steps, chunk=0)


def test_network_forward_takes_any_layout_and_empty_batches(rng):
    steps = mlp_steps()
    x = random_array(rng, (8, 12), np.float32)[:, ::3]  # strided, (8, 4)
    expected = _kernels._network_forward(np.ascontiguousarray(x), steps)
    assert np.array_equal(_kernels._network_forward(x, steps), expected)
    assert _kernels._network_forward(np.ones((0, 4), np.float32), steps).shape == (0, 3)
