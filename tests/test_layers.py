"""Activations, Dense and whole-model backprop: forward values vs NumPy, and
every gradient vs central finite differences in float64. (Softmax, the
cross-entropies and the Loss classes: test_losses.py.)

Every backward pass is checked the same way: pick a scalar function
f = sum(G * forward(...)) (or the model's loss), differentiate it with the
backward pass, and compare with (f(p + h) - f(p - h)) / 2h for each
parameter entry p. With h = 1e-6 in float64 the truncation error is
O(h^2) ~ 1e-12 and the rounding error O(eps / h) ~ 1e-10, so a correct
backward pass lands far below the 1e-6 relative error required (helpers.py,
assert_gradient_close), and a wrong
one (a missing transpose, a factor of 2, a dropped term) lands far above it.
"""

import ast
import pathlib

import denseops
import numpy as np
import pytest
from denseops import nn, reference
from denseops.nn import Dense, Sequential, activations, losses
from helpers import assert_close, assert_gradient_close, away_from_zero, numeric_gradient

STEP = 1e-6  # numeric_gradient's step


def assert_away_from_relu_kink(z):
    """Finite differences across relu's kink at 0 mix two slopes. Moving one
    parameter by STEP moves a pre-activation by a few STEPs at most with these
    small weights and inputs, so a margin of 100 STEPs keeps every difference
    on one side. The data are seeded: this holds (or fails) on every run alike."""
    assert np.abs(z).min() > 100 * STEP, f"test data too close to relu's kink: {np.abs(z).min()}"


# ------------------------------------------------------------- activations


def test_relu_gradient_matches_finite_differences(rng):
    z = away_from_zero(rng, (4, 7), 0.01, 1.0)
    weights = rng.normal(size=z.shape)  # f(z) = sum(weights * relu(z))
    analytic = denseops.relu_backward(weights, denseops.relu(z))
    numeric = numeric_gradient(lambda: float(np.sum(weights * denseops.relu(z))), z)
    assert_gradient_close(analytic, numeric, "relu dz")


@pytest.mark.parametrize(
    "name, expected",
    [("relu", activations.relu), ("SOFTMAX", activations.softmax), (None, activations.linear)],
)
def test_activation_get_by_name(name, expected):
    assert activations.get(name) is expected


def test_activation_get_rejects_unknown_name_and_type():
    with pytest.raises(ValueError, match=r"Unknown activation: 'tanhh'.*\['elu', 'gelu', "):
        activations.get("tanhh")
    with pytest.raises(TypeError, match=r"activation must be .* Received: 3"):
        activations.get(3)


# ------------------------------------------------------------------- Dense


def dense_reference(x, kernel, bias, activation):
    """y = activation(x @ kernel + bias), in float64 NumPy."""
    z = reference.matmul(x, kernel) + bias
    if activation == "softmax":
        return reference.softmax(z)
    return reference.activation(z, activation or "linear")


@pytest.mark.parametrize("activation", ["relu", "softmax", None])
@pytest.mark.parametrize("batch, inputs, units", [(1, 3, 2), (16, 784, 10), (33, 20, 64)])
def test_dense_forward_matches_numpy(rng, dtype, activation, batch, inputs, units):
    layer = Dense(
        inputs, units, activation=activation, bias_initializer="glorot_uniform", dtype=dtype, seed=1
    )
    x = rng.uniform(-1, 1, size=(batch, inputs)).astype(dtype)
    expected = dense_reference(x, layer.kernel, layer.bias, activation)
    assert_close(layer.forward(x), expected.astype(dtype), k=inputs + units + 4)


def test_dense_without_bias_matches_numpy(rng, dtype):
    layer = Dense(6, 4, use_bias=False, dtype=dtype, seed=0)
    x = rng.uniform(-1, 1, size=(5, 6)).astype(dtype)
    assert layer.weights == [layer.kernel] and layer.bias is None
    expected = reference.matmul(x, layer.kernel)
    assert_close(layer.forward(x), expected.astype(dtype), k=6)


@pytest.mark.parametrize("activation", ["relu", "softmax", None])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients_match_finite_differences(rng, activation, use_bias):
    layer = Dense(
        5,
        4,
        activation=activation,
        use_bias=use_bias,
        dtype="float64",
        bias_initializer="glorot_uniform",
        seed=2,
    )
    x = rng.uniform(-1, 1, size=(6, 5))
    if activation == "relu":
        assert_away_from_relu_kink(layer.forward(x, return_logits=True))
    upstream = rng.normal(size=(6, 4))  # f = sum(upstream * layer(x))

    def f():
        return float(np.sum(upstream * layer.forward(x)))

    f()
    dx = layer.backward(upstream).copy()
    grads = [g.copy() for g in layer.grads]
    assert len(grads) == (2 if use_bias else 1)
    assert_gradient_close(dx, numeric_gradient(f, x), f"Dense({activation}) dx")
    for name, w, g in zip(("d_kernel", "d_bias"), layer.weights, grads):
        assert_gradient_close(g, numeric_gradient(f, w), f"Dense({activation}) {name}")


@pytest.mark.parametrize("kind", ["elu", "leaky_relu"])
@pytest.mark.parametrize("alpha", [-1.5, -0.5, 0.0, 0.3])
def test_dense_gradients_are_exact_for_every_alpha(rng, kind, alpha):
    # A negative alpha makes the negative branch's outputs positive: the layer
    # keeps z for the backward pass (from y alone the slope would be 1).
    activation = activations.ElementwiseActivation(kind, alpha=alpha)
    assert activation.needs_input == (alpha < 0)
    layer = Dense(5, 4, activation=activation, dtype="float64", seed=3)
    x = rng.uniform(-1, 1, size=(6, 5))
    assert_away_from_relu_kink(layer.forward(x, return_logits=True))
    upstream = rng.normal(size=(6, 4))

    def f():
        return float(np.sum(upstream * layer.forward(x)))

    f()
    dx = layer.backward(upstream).copy()
    assert_gradient_close(dx, numeric_gradient(f, x), f"Dense({kind}, alpha={alpha}) dx")
    assert_gradient_close(
        layer.d_kernel.copy(), numeric_gradient(f, layer.kernel), f"{kind} d_kernel"
    )


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), "0.5", True])
def test_activation_alpha_must_be_a_finite_number(alpha):
    with pytest.raises((TypeError, ValueError), match=r"alpha must be (finite|a number)"):
        activations.ElementwiseActivation("leaky_relu", alpha=alpha)


def test_dense_backward_overwrites_gradients(rng):
    # The documented contract: each backward replaces grads, nothing accumulates.
    layer = Dense(3, 2, dtype="float64", seed=0)
    x = rng.normal(size=(4, 3))
    dout = rng.normal(size=(4, 2))
    layer.forward(x)
    layer.backward(dout)
    first = [g.copy() for g in layer.grads]
    layer.forward(x)
    layer.backward(dout)
    for g, g0 in zip(layer.grads, first):
        np.testing.assert_array_equal(g, g0)


def test_dense_backward_need_dx_false_returns_none_and_fills_grads(rng):
    layer = Dense(3, 2, dtype="float64", seed=0)
    x = rng.normal(size=(4, 3))
    dout = rng.normal(size=(4, 2))
    layer.forward(x)
    assert layer.backward(dout, need_dx=False) is None
    np.testing.assert_allclose(layer.d_kernel, x.T @ dout, rtol=1e-12)
    np.testing.assert_allclose(layer.d_bias, dout.sum(axis=0), rtol=1e-12)


def test_dense_two_constructor_styles():
    lazy = Dense(512, activation="relu")
    assert not lazy.built and lazy.units == 512 and lazy.input_dim is None
    assert lazy.weights == [] and lazy.get_weights() == []  # Keras: no variables yet
    eager = Dense(784, 512, activation="relu")
    assert eager.built and eager.input_dim == 784 and eager.units == 512
    assert eager.kernel.shape == (784, 512) and eager.bias.shape == (512,)
    assert eager.kernel.dtype == np.float32
    # glorot_uniform bound and zero bias by default. The weights are drawn in
    # float64 and rounded to float32, which can round a draw just below the
    # bound up past it, but never past the bound rounded the same way.
    limit = np.float32(np.sqrt(6 / (784 + 512)))
    assert np.abs(eager.kernel).max() <= limit and eager.kernel.std() > limit / 3
    assert not eager.bias.any()
    assert eager.count_params() == 784 * 512 + 512


def test_dense_textbook_uniform_initializer():
    # The textbook's uniform [0, 0.1) weights, and zero biases.
    layer = Dense(784, 512, kernel_initializer="textbook_uniform", seed=0)
    assert layer.kernel.min() >= 0 and layer.kernel.max() < 0.1
    assert abs(float(layer.kernel.mean()) - 0.05) < 1e-3
    assert layer.bias.shape == (512,) and not layer.bias.any()


def test_dense_same_seed_same_weights_different_seed_different():
    a, b, c = (Dense(20, 10, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.kernel, b.kernel)
    assert not np.array_equal(a.kernel, c.kernel)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"units": 0}, ValueError, r"units must be a positive integer. Received: units=0"),
        ({"units": -3}, ValueError, r"Received: units=-3"),
        ({"units": 2.5}, ValueError, r"Received: units=2.5"),
        ({"units": 3, "output_size": 0}, ValueError, r"Received: units=0"),
        ({"units": 0, "output_size": 3}, ValueError, r"Received: input_size=0"),
        (
            {"units": 3, "dtype": "int32"},
            TypeError,
            r"float32 or float64, or the policy 'mixed_bfloat16'. Received: dtype=int32",
        ),
        ({"units": 3, "activation": "tanhh"}, ValueError, r"Unknown activation: 'tanhh'"),
        ({"units": 3, "kernel_initializer": "lecun"}, ValueError, r"Unknown initializer: 'lecun'"),
    ],
)
def test_dense_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        Dense(**kwargs)


@pytest.mark.parametrize("shape, hint", [((2, 783), ""), ((2, 28, 28), "flatten"), ((784,), "")])
def test_dense_rejects_input_of_the_wrong_shape(shape, hint):
    layer = Dense(784, 10, name="first")
    with pytest.raises(
        ValueError,
        match=rf"'first' expects input of shape \(batch, 784\). "
        rf"Received: shape \({shape[0]},.*{hint}",
    ):
        layer.forward(np.zeros(shape, np.float32))


# ------------------------------------------------------------ whole model


class RecordGradients(nn.optimizers.Optimizer):
    """An optimizer that keeps a copy of the gradients and leaves the weights alone."""

    def __init__(self):
        super().__init__(learning_rate=1.0)
        self.recorded = None

    def apply(self, grads, trainable_variables=None):
        self.recorded = [g.copy() for g in grads]


def model_and_data(rng, depth, loss):
    """A float64 MLP of `depth` Dense layers, its data, and its targets."""
    sizes = [6, 5, 4, 3][: depth + 1]
    last_activation = None if loss == "from_logits" else "softmax"
    layers = [
        Dense(
            sizes[i],
            sizes[i + 1],
            activation="relu",
            dtype="float64",
            seed=i,
            bias_initializer="glorot_uniform",
        )
        for i in range(depth - 1)
    ]
    layers.append(
        Dense(
            sizes[-2],
            sizes[-1],
            activation=last_activation,
            dtype="float64",
            seed=9,
            bias_initializer="glorot_uniform",
        )
    )
    model = Sequential(layers)
    x = away_from_zero(rng, (7, sizes[0]), 0.01, 1.0)
    classes = sizes[-1]
    if loss == "categorical":
        soft = rng.uniform(0.1, 1.0, size=(7, classes))
        y = soft / soft.sum(axis=1, keepdims=True)
        loss_fn = losses.CategoricalCrossentropy()
    else:
        y = rng.integers(0, classes, size=7)
        loss_fn = losses.SparseCategoricalCrossentropy(from_logits=loss == "from_logits")
    optimizer = RecordGradients()
    model.compile(optimizer=optimizer, loss=loss_fn)
    return model, optimizer, x, y


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("loss", ["sparse", "categorical", "from_logits"])
def test_model_gradients_match_finite_differences(rng, depth, loss):
    model, optimizer, x, y = model_and_data(rng, depth, loss)
    before = [w.copy() for w in model.weights]
    model.train_step(x, y)
    for w, w0 in zip(model.weights, before):
        np.testing.assert_array_equal(w, w0)  # the recording optimizer left them alone
    assert len(optimizer.recorded) == 2 * depth

    def mean_loss():
        return model.evaluate(x, y, batch_size=len(x))

    z = x
    for layer in model.layers[:-1]:
        assert_away_from_relu_kink(layer.forward(z, return_logits=True))
        z = layer.forward(z)
    for i, (w, g) in enumerate(zip(model.weights, optimizer.recorded)):
        name = f"layer {i // 2} {'kernel' if i % 2 == 0 else 'bias'}"
        assert_gradient_close(g, numeric_gradient(mean_loss, w), name)


def test_train_step_loss_is_the_mean_over_the_batch(rng):
    # Doubling the batch with a copy of itself must not change loss or grads:
    # they are means, not sums.
    model, optimizer, x, y = model_and_data(rng, 2, "sparse")
    first = model.train_step(x, y)
    grads = optimizer.recorded
    second = model.train_step(np.concatenate([x, x]), np.concatenate([y, y]))
    assert second["loss"] == pytest.approx(first["loss"], rel=1e-12)
    for g, g2 in zip(grads, optimizer.recorded):
        np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------ no NumPy matmuls


NN_SOURCES = sorted((pathlib.Path(nn.__file__).parent).glob("*.py"))
FORBIDDEN_CALLS = {
    "dot",
    "matmul",
    "einsum",
    "tensordot",
    "inner",
    "outer",
    "vdot",
    "kron",
    "multi_dot",
}


def forbidden_uses(source, filename):
    """(line, what) for every `@` operator and every call of a NumPy product."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
            found.append((node.lineno, "@ operator"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value if isinstance(func, ast.Attribute) else None
            owner_name = getattr(owner, "id", getattr(owner, "attr", ""))
            # x.dot(y) on an array, or np.dot / np.linalg.multi_dot
            if name in FORBIDDEN_CALLS and owner_name not in ("ops", "denseops"):
                found.append((node.lineno, f"call of {name}"))
        elif (
            isinstance(node, (ast.ImportFrom,))
            and node.module
            and node.module.split(".")[0] == "numpy"
        ):
            for alias in node.names:
                if alias.name in FORBIDDEN_CALLS:
                    found.append((node.lineno, f"import of numpy {alias.name}"))
    return found


def test_static_check_finds_what_it_forbids():
    # The checker itself must be able to fail.
    bad = (
        "import numpy as np\nfrom numpy import einsum\n"
        "a = x @ w\nb = np.dot(x, w)\nc = x.dot(w)\nd = np.linalg.multi_dot([x, w])\n"
        "a @= w\ne = ops.matmul(x, w)\n"
    )
    lines = sorted(line for line, _ in forbidden_uses(bad, "<bad>"))
    assert lines == [2, 3, 4, 5, 6, 7]


def test_nn_has_no_numpy_matmul_dot_or_einsum():
    assert len(NN_SOURCES) >= 8, f"expected the nn package sources, found {NN_SOURCES}"
    found = {path.name: forbidden_uses(path.read_text(), str(path)) for path in NN_SOURCES}
    found = {name: uses for name, uses in found.items() if uses}
    assert not found, f"NumPy products in denseops.nn (the hot path must use denseops): {found}"
