"""The denseops.nn kernels (activation, activation_backward, loss, metric,
dropout, weight_penalty): values vs NumPy statements of Keras 3's formulas,
every gradient vs central finite differences in float64, on every SIMD path,
and their errors."""

import math

import denseops
import numpy as np
import pytest
from helpers import assert_close, numeric_gradient

ACTIVATIONS = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "leaky_relu",
    "softplus",
    "swish",
]
SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772


def erf(x):
    return np.vectorize(math.erf)(x)


def numpy_activation(kind, z, alpha):
    """Keras 3's formulas in float64 NumPy."""
    z = z.astype(np.float64)
    return {
        "linear": lambda: z,
        "relu": lambda: np.maximum(z, 0),
        "sigmoid": lambda: 1 / (1 + np.exp(-z)),
        "tanh": lambda: np.tanh(z),
        "elu": lambda: np.where(z > 0, z, alpha * np.expm1(z)),
        "selu": lambda: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
        "gelu": lambda: 0.5 * z * (1 + erf(z / np.sqrt(2))),
        "leaky_relu": lambda: np.where(z > 0, z, alpha * z),
        "softplus": lambda: np.log1p(np.exp(z)),
        "swish": lambda: z / (1 + np.exp(-z)),
    }[kind]()


def alpha_of(kind):
    return {"elu": 1.0, "leaky_relu": 0.2}.get(kind, 0.0)


def away_from_zero(rng, shape, low=0.05, high=4.0):
    """Values whose magnitude avoids the kinks of relu and friends at 0."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def assert_gradient(analytic, numeric, what):
    error = np.max(np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric)))
    assert error < 1e-6, f"{what}: max relative error {error:.2e} vs finite differences"


# ------------------------------------------------------------------ activations


@pytest.mark.parametrize("kind", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (64, 130)])
def test_activation_matches_keras_formula(arch, rng, dtype, kind, shape):
    z = (rng.normal(size=shape) * 3).astype(dtype)
    bias = rng.normal(size=shape[1]).astype(dtype)
    expected = numpy_activation(kind, z + bias.astype(np.float64), alpha_of(kind))
    got = denseops.activation(z, kind, bias=bias, alpha=alpha_of(kind))
    assert got.dtype == dtype
    assert_close(got, expected.astype(dtype), k=8, scale=max(1.0, float(np.abs(expected).max())))
    unfused = denseops.activation(z + bias, kind, alpha=alpha_of(kind))
    assert_close(got, unfused, k=4, scale=max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_activation_gradient_matches_finite_differences(arch, rng, kind):
    z = away_from_zero(rng, (4, 5))
    upstream = rng.normal(size=z.shape)
    alpha = alpha_of(kind)

    def f():
        return float(np.sum(upstream * denseops.activation(z, kind, alpha=alpha)))

    y = denseops.activation(z, kind, alpha=alpha)
    dz = denseops.activation_backward(upstream, y, kind, z=z.copy(), alpha=alpha)
    assert_gradient(dz, numeric_gradient(f, z), kind)


def test_activation_is_stable_for_huge_inputs(dtype):
    z = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype)
    with np.errstate(all="raise"):
        for kind in ACTIVATIONS:
            assert np.isfinite(denseops.activation(z, kind, alpha=alpha_of(kind))).all(), kind
    np.testing.assert_array_equal(denseops.activation(z, "sigmoid")[0, [0, 4]], [0.0, 1.0])
    np.testing.assert_array_equal(denseops.activation(z, "softplus")[0, [0, 4]], [0.0, 1e4])


def test_activation_out_may_be_the_input_and_threads_agree(rng):
    z = rng.normal(size=(300, 700)).astype(np.float32)  # large enough to use threads
    bias = rng.normal(size=700).astype(np.float32)
    expected = denseops.activation(z, "tanh", bias=bias)
    denseops.set_num_threads(1)
    single = denseops.activation(z, "tanh", bias=bias)
    np.testing.assert_array_equal(single, expected)
    denseops.activation(z, "tanh", bias=bias, out=z)
    np.testing.assert_array_equal(z, expected)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: denseops.activation(np.ones((2, 3)), "tanhh"),
            ValueError,
            r"activation: unknown activation 'tanhh'; expected one of linear, relu, sigmoid",
        ),
        (
            lambda: denseops.activation(np.ones((2, 3)), "relu", bias=np.ones(4)),
            ValueError,
            r"bias must have shape \(3,\) to match x's last axis, got x \(2, 3\) and bias \(4,\)",
        ),
        (
            lambda: denseops.activation(np.ones((2, 3)), "relu", bias=np.ones(3, np.float32)),
            TypeError,
            r"x and bias must have the same dtype",
        ),
        (lambda: denseops.activation([1.0], "relu"), TypeError, r"x must be a numpy.ndarray"),
        (
            lambda: denseops.activation_backward(np.ones(3), np.ones(3), "gelu"),
            ValueError,
            r"the gradient of gelu needs its input: pass z",
        ),
        (
            lambda: denseops.activation_backward(np.ones(3), np.ones(4), "tanh"),
            ValueError,
            r"dout must have the shape of y \(4,\), got \(3,\)",
        ),
    ],
)
def test_activation_kernels_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ losses


def numpy_loss(kind, pred, target, weight, from_logits, delta=1.0):
    """Keras 3's formulas, reduced as "sum_over_batch_size", in float64."""
    p = pred.astype(np.float64)
    eps = 1e-7
    if kind == "mean_squared_error":
        per = np.mean((p - target) ** 2, axis=1)
    elif kind == "mean_absolute_error":
        per = np.mean(np.abs(p - target), axis=1)
    elif kind == "huber":
        e = np.abs(p - target)
        per = np.mean(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2), axis=1)
    elif kind == "binary_crossentropy":
        q = 1 / (1 + np.exp(-p)) if from_logits else np.clip(p, eps, 1 - eps)
        per = -np.mean(target * np.log(q) + (1 - target) * np.log(1 - q), axis=1)
    else:
        t = np.eye(p.shape[1])[target] if kind.startswith("sparse") else target
        if from_logits:
            z = p - p.max(axis=1, keepdims=True)
            logq = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        else:
            logq = np.log(np.clip(p / p.sum(axis=1, keepdims=True), eps, 1 - eps))
        per = -np.sum(t * logq, axis=1)
    return float(np.sum(weight * per) / len(p))


def loss_case(rng, kind, from_logits, batch=5, outputs=4):
    """pred, target for a loss, away from the kinks and clips of its formula."""
    if kind in ("mean_squared_error", "mean_absolute_error", "huber"):
        target = rng.normal(size=(batch, outputs))
        pred = target + away_from_zero(rng, (batch, outputs), 0.1, 2.0)
        if kind == "huber":  # away from |e| = delta = 1 too
            pred = target + np.where(rng.random((batch, outputs)) < 0.5, 0.5, 1.7) * rng.choice(
                [-1.0, 1.0], size=(batch, outputs)
            )
        return pred, target
    if kind == "binary_crossentropy":
        target = rng.uniform(0, 1, size=(batch, outputs))
        pred = (
            rng.normal(size=(batch, outputs)) * 2
            if from_logits
            else rng.uniform(0.05, 0.95, size=(batch, outputs))
        )
        return pred, target
    pred = (
        rng.normal(size=(batch, outputs)) * 2
        if from_logits
        else rng.uniform(0.05, 1.0, size=(batch, outputs))
    )
    if kind.startswith("sparse"):
        return pred, rng.integers(0, outputs, size=batch)
    soft = rng.uniform(0.1, 1.0, size=(batch, outputs))
    return pred, soft / soft.sum(axis=1, keepdims=True)


LOSS_CASES = [
    ("mean_squared_error", False),
    ("mean_absolute_error", False),
    ("huber", False),
    ("binary_crossentropy", False),
    ("binary_crossentropy", True),
    ("categorical_crossentropy", False),
    ("categorical_crossentropy", True),
    ("sparse_categorical_crossentropy", False),
    ("sparse_categorical_crossentropy", True),
]


@pytest.mark.parametrize("kind, from_logits", LOSS_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_gradient(arch, rng, kind, from_logits, weighted):
    pred, target = loss_case(rng, kind, from_logits)
    weight = rng.uniform(0.2, 2.0, size=len(pred)) if weighted else np.ones(len(pred))
    sample_weight = weight if weighted else None
    grad = np.full_like(pred, np.nan)
    value = denseops.loss(
        pred, target, kind, from_logits=from_logits, sample_weight=sample_weight, grad=grad
    )
    expected = numpy_loss(kind, pred, target, weight, from_logits)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)

    def f():
        return denseops.loss(
            pred, target, kind, from_logits=from_logits, sample_weight=sample_weight
        )

    assert_gradient(grad, numeric_gradient(f, pred), f"{kind} from_logits={from_logits}")


@pytest.mark.parametrize("kind, from_logits", LOSS_CASES)
def test_loss_float32_agrees_with_float64(rng, kind, from_logits):
    pred, target = loss_case(rng, kind, from_logits, batch=64, outputs=10)
    as32 = target if kind.startswith("sparse") else target.astype(np.float32)
    grad32 = np.empty(pred.shape, np.float32)
    grad64 = np.empty(pred.shape)
    v32 = denseops.loss(pred.astype(np.float32), as32, kind, from_logits=from_logits, grad=grad32)
    v64 = denseops.loss(pred, target, kind, from_logits=from_logits, grad=grad64)
    assert v32 == pytest.approx(v64, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-6)


def test_binary_crossentropy_from_logits_is_exact_where_probabilities_saturate():
    logits = np.array([[-200.0], [200.0]])
    target = np.array([[1.0], [0.0]])
    # Each row's loss is about 200: no clip, no overflow.
    assert denseops.loss(logits, target, "binary_crossentropy", from_logits=True) == pytest.approx(
        200.0
    )
    # Probabilities are clipped to [1e-7, 1 - 1e-7], as Keras does.
    probs = np.array([[0.0], [1.0]])
    assert denseops.loss(probs, target, "binary_crossentropy") == pytest.approx(
        -math.log(1e-7), rel=1e-6
    )


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: denseops.loss(np.ones((2, 3)), np.ones((2, 3)), "mse"),
            ValueError,
            r"loss: unknown loss 'mse'; expected one of mean_squared_error",
        ),
        (
            lambda: denseops.loss(
                np.ones((2, 3)), np.ones((2, 3)), "mean_squared_error", from_logits=True
            ),
            ValueError,
            r"has no from_logits form",
        ),
        (
            lambda: denseops.loss(np.ones((2, 3)), np.ones((2, 2)), "mean_absolute_error"),
            ValueError,
            r"target must have the shape of pred \(2, 3\), got \(2, 2\)",
        ),
        (
            lambda: denseops.loss(
                np.ones((2, 3)), np.array([0, 3]), "sparse_categorical_crossentropy"
            ),
            ValueError,
            r"labels must be in \[0, 3\)",
        ),
        (
            lambda: denseops.loss(np.ones((2, 3)), np.ones((2, 3)), "huber", delta=0.0),
            ValueError,
            r"delta must be > 0",
        ),
        (
            lambda: denseops.loss(
                np.ones((2, 3)), np.ones((2, 3)), "mean_squared_error", sample_weight=np.ones(3)
            ),
            ValueError,
            r"sample_weight must have shape \(2,\), one weight per row of pred, got \(3,\)",
        ),
        (
            lambda: denseops.loss(np.ones((0, 3)), np.ones((0, 3)), "mean_squared_error"),
            ValueError,
            r"pred must be 2-D \(batch, outputs\) with at least one row",
        ),
        (
            lambda: denseops.loss(
                np.ones((2, 3)), np.ones((2, 3)), "mean_squared_error", grad=np.ones((3, 2))
            ),
            ValueError,
            r"out has shape \(3, 2\)",
        ),
    ],
)
def test_loss_kernel_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_loss_grad_may_alias_pred(rng):
    pred, target = loss_case(rng, "mean_squared_error", False)
    expected = np.empty_like(pred)
    value = denseops.loss(pred, target, "mean_squared_error", grad=expected)
    assert denseops.loss(pred, target, "mean_squared_error", grad=pred) == value
    np.testing.assert_array_equal(pred, expected)


# ------------------------------------------------------------------ metrics


def test_metrics_match_numpy(arch, rng):
    pred = rng.normal(size=(50, 6))
    labels = rng.integers(0, 6, size=50)
    one_hot = np.eye(6)[labels]
    weight = rng.uniform(0, 2, size=50)
    top3 = np.argsort(-pred, axis=1)[:, :3]
    in_top3 = (top3 == labels[:, None]).any(axis=1)
    cases = {
        "sparse_categorical_accuracy": (labels, pred.argmax(1) == labels),
        "categorical_accuracy": (one_hot, pred.argmax(1) == labels),
        "top_k_categorical_accuracy": (one_hot, in_top3),
        "sparse_top_k_categorical_accuracy": (labels, in_top3),
        "mean_absolute_error": (one_hot, np.abs(pred - one_hot).mean(1)),
        "mean_squared_error": (one_hot, ((pred - one_hot) ** 2).mean(1)),
    }
    for kind, (target, per_sample) in cases.items():
        got = denseops.metric(pred, target, kind, sample_weight=weight, k=3)
        assert got == pytest.approx(float(np.sum(weight * per_sample)), rel=1e-12), kind
    binary_target = (rng.random((50, 2)) < 0.5).astype(np.float64)
    got = denseops.metric(pred[:, :2], binary_target, "binary_accuracy", threshold=0.3)
    assert got == pytest.approx(float(((pred[:, :2] > 0.3) == binary_target).mean(1).sum()))


# ------------------------------------------------------------------ dropout


def test_dropout_keeps_the_expected_fraction_and_scales(rng, dtype):
    x = np.ones(200_000, dtype)
    out = denseops.dropout(x, 0.3, seed=7, counter=1)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.005  # 0.7 +- 5 standard deviations
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert denseops.dropout(x, 0.0, seed=7, counter=1).min() == 1  # rate 0 keeps all


def test_dropout_masks_depend_on_seed_and_counter_only():
    x = np.ones(300_000, np.float32)  # large enough for several threads
    reference = denseops.dropout(x, 0.5, seed=3, counter=2)
    for threads in (1, 2, 3):
        denseops.set_num_threads(threads)
        np.testing.assert_array_equal(denseops.dropout(x, 0.5, seed=3, counter=2), reference)
    for other in ({"seed": 4, "counter": 2}, {"seed": 3, "counter": 3}):
        assert (denseops.dropout(x, 0.5, **other) != reference).mean() > 0.4
    # A slice of the stream is the same slice of the mask.
    np.testing.assert_array_equal(
        denseops.dropout(x[:1000], 0.5, seed=3, counter=2), reference[:1000]
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"rate": 1.0}, ValueError, r"rate must be in \[0, 1\), got 1"),
        ({"rate": -0.1}, ValueError, r"rate must be in \[0, 1\)"),
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        ({"counter": 2**64}, ValueError, r"counter must be in \[0, 2\*\*64\)"),
        ({"seed": 1.5}, TypeError, r"seed must be an int, got float"),
    ],
)
def test_dropout_rejects_bad_arguments(kwargs, error, message):
    args = {"rate": 0.5, "seed": 1, "counter": 1, **kwargs}
    with pytest.raises(error, match=message):
        denseops.dropout(np.ones(4), args.pop("rate"), **args)


# ------------------------------------------------------------------ weight penalty


@pytest.mark.parametrize("n", [1, 100, 100_000])
def test_weight_penalty_value_and_gradient(arch, rng, n):
    w = away_from_zero(rng, n, 0.01, 1.0)
    grad = rng.normal(size=n)
    before = grad.copy()
    value = denseops.weight_penalty(w, grad, l1=0.01, l2=0.003)
    assert value == pytest.approx(0.01 * np.abs(w).sum() + 0.003 * (w**2).sum(), rel=1e-12)
    np.testing.assert_allclose(grad - before, 0.01 * np.sign(w) + 0.006 * w, rtol=1e-12, atol=1e-15)
    if n <= 100:

        def f():
            return denseops.weight_penalty(w, l1=0.01, l2=0.003)

        assert_gradient(grad - before, numeric_gradient(f, w), "l1_l2 penalty")


def test_weight_penalty_is_the_same_at_any_thread_count(rng):
    w = rng.normal(size=1_000_003).astype(np.float32)
    values = set()
    for threads in (1, 2, 3):
        denseops.set_num_threads(threads)
        values.add(denseops.weight_penalty(w, l2=0.01))
    assert len(values) == 1, values


def test_weight_penalty_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"l1 and l2 must be >= 0, got l1=-1"):
        denseops.weight_penalty(np.ones(3), l1=-1.0)
    with pytest.raises(ValueError, match=r"grad is updated in place and must be a writable"):
        denseops.weight_penalty(np.ones(3), np.ones(6)[::2], l2=1.0)
