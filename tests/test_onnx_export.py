"""ONNX export: ONNX Runtime predicts what denseops predicts, and skl2onnx converts the drop-ins.

Every activation in float32 and float64, batches of 1 and 7 through one
exported graph (its batch dimension is dynamic); Dropout leaves no node. The
scikit-learn drop-ins convert through skl2onnx's own MLP converters, in
either import order.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from denseops.nn import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    Reshape,
    Sequential,
    activations,
)
from denseops.nn.activations import ElementwiseActivation

onnx = pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install 'denseops[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="running the graph needs onnxruntime")

ACTIVATIONS = sorted(activations._BY_NAME.keys() - {"silu"})


def tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-13}


def run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def model_with(activation, dtype, rng):
    model = Sequential(
        [
            Input(shape=(6,), dtype=dtype),
            Dense(9, activation=activation, dtype=dtype),
            Dropout(0.4),
            Dense(4, activation=activation, use_bias=False, dtype=dtype),
        ]
    )
    model.build(seed=int(rng.integers(1000)))
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_onnx_runtime_predicts_what_predict_does(activation, dtype, rng, tmp_path):
    model = model_with(activation, dtype, rng)
    model.export(tmp_path / "model.onnx", format="onnx")
    for batch in (1, 7):
        x = (3 * rng.normal(size=(batch, 6))).astype(dtype)
        got, expected = run(tmp_path / "model.onnx", x), model.predict(x, verbose=0)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        # gelu's erf runs in float32 in ONNX Runtime, for float64 models too.
        tol = tolerance("float32" if activation == "gelu" else dtype)
        np.testing.assert_allclose(got, expected, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_model_of_images_with_reshape_flatten_and_activation_layers_exports(dtype, rng, tmp_path):
    model = Sequential(
        [
            Input(shape=(4, 3), dtype=dtype),
            Reshape((3, 2, 2)),
            Activation("elu"),
            Flatten(),
            Dense(5, dtype=dtype),
            Activation("softmax"),
        ]
    )
    model.export(tmp_path / "model.onnx", format="onnx")
    for batch in (1, 7):
        x = rng.normal(size=(batch, 4, 3)).astype(dtype)
        np.testing.assert_allclose(
            run(tmp_path / "model.onnx", x), model.predict(x, verbose=0), **tolerance(dtype)
        )


def test_the_graph_has_a_dynamic_batch_and_no_dropout_node(rng, tmp_path):
    model_with("relu", "float32", rng).export(tmp_path / "model.onnx", format="onnx")
    proto = onnx.load(tmp_path / "model.onnx")
    (graph_input,) = proto.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[1].dim_value) == ("batch", 6)
    assert [node.op_type for node in proto.graph.node] == [
        "MatMul", "Add", "Relu", "MatMul", "Relu", "Identity"
    ]  # fmt: skip


def test_a_custom_leaky_relu_slope_is_exported(rng, tmp_path):
    model = model_with(ElementwiseActivation("leaky_relu", alpha=0.05), "float32", rng)
    model.export(tmp_path / "model.onnx", format="onnx")
    x = rng.normal(size=(7, 6)).astype(np.float32)
    np.testing.assert_allclose(
        run(tmp_path / "model.onnx", x), model.predict(x, verbose=0), **tolerance("float32")
    )


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({}, ValueError, "format='onnx' only.*Received: format='tf_saved_model'"),
        ({"format": "onnx", "input_signature": [1]}, ValueError, "input_signature=None only"),
        ({"format": "onnx", "opset_version": 9}, ValueError, r"opset_version must be .*>= 13"),
    ],
    ids=["keras-default-format", "signature", "old-opset"],
)
def test_export_refuses_what_it_cannot_write(arguments, error, message, rng, tmp_path):
    with pytest.raises(error, match=message):
        model_with("relu", "float32", rng).export(tmp_path / "model.onnx", **arguments)
    assert list(tmp_path.iterdir()) == []


def test_export_of_an_unbuilt_model_or_custom_activation_is_refused(tmp_path):
    class Cube(activations.Activation):
        name = "cube"

    with pytest.raises(ValueError, match="needs a built model"):
        Sequential([Dense(2)]).export(tmp_path / "model.onnx", format="onnx")
    model = Sequential([Input(shape=(3,)), Dense(2, activation=Cube())])
    model.build(seed=0)
    with pytest.raises(ValueError, match="activation cube of class Cube"):
        model.export(tmp_path / "model.onnx", format="onnx")


# ------------------------------------------------------------------ skl2onnx


@pytest.fixture
def skl2onnx():
    pytest.importorskip("sklearn", reason="the drop-ins need scikit-learn")
    return pytest.importorskip("skl2onnx", reason="converting the drop-ins needs skl2onnx")


def fitted(estimator, x, y):
    """``estimator`` fitted for a few epochs: far from converged, which it need not be here."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(x, y)


def blobs(rng, classes):
    x = rng.normal(size=(80, 5)).astype(np.float32)
    return x, rng.integers(0, classes, 80)


@pytest.mark.parametrize("classes", [2, 3])
def test_skl2onnx_converts_the_classifier(classes, skl2onnx, rng):
    from denseops.sklearn import MLPClassifier

    x, y = blobs(rng, classes)
    clf = fitted(MLPClassifier((7,), activation="tanh", max_iter=5, random_state=0), x, y)
    proto = skl2onnx.to_onnx(clf, x[:1], options={"zipmap": False})
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_array_equal(labels, clf.predict(x))
    np.testing.assert_allclose(probabilities, clf.predict_proba(x), rtol=1e-5, atol=1e-6)


def test_skl2onnx_converts_the_regressor(skl2onnx, rng):
    from denseops.sklearn import MLPRegressor

    x = rng.normal(size=(80, 5)).astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(7, 3), max_iter=5, random_state=0)
    fitted(reg, x, x @ rng.normal(size=5))
    proto = skl2onnx.to_onnx(reg, x[:1])
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (predicted,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(predicted.ravel(), reg.predict(x), rtol=1e-5, atol=1e-5)


def test_skl2onnx_refuses_the_poisson_output_by_name(skl2onnx, rng):
    from denseops.sklearn import MLPRegressor

    x = rng.normal(size=(40, 5)).astype(np.float32)
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    fitted(reg, x, rng.poisson(2.0, size=40))
    with pytest.raises(ValueError, match="no activation 'exp'"):
        skl2onnx.to_onnx(reg, x[:1])


@pytest.mark.parametrize("first", ["denseops.sklearn", "skl2onnx"])
def test_skl2onnx_knows_the_drop_ins_in_either_import_order(first, skl2onnx):
    # A fresh interpreter: in this one, both modules are imported already.
    second = {"denseops.sklearn": "skl2onnx", "skl2onnx": "denseops.sklearn"}[first]
    script = textwrap.dedent(f"""
        import {first}, {second}
        import numpy as np
        from denseops.sklearn import MLPRegressor
        x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
        reg = MLPRegressor(hidden_layer_sizes=(2,), max_iter=2).fit(x, x[:, 0])
        print(type(skl2onnx.to_onnx(reg, x[:1])).__name__)
    """)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ModelProto"


def test_importing_the_drop_ins_does_not_import_skl2onnx(skl2onnx):
    code = "import sys, denseops.sklearn; print('skl2onnx' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
