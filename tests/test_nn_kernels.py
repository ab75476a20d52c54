"""The denseops.nn kernels (activation, activation_backward, loss, metric,
dropout, weight_penalty): values and gradients vs their twins in
denseops.reference (Keras 3's formulas; test_reference.py checks those
against finite differences), on every SIMD path, and their errors."""

import math

import denseops
import numpy as np
import pytest
from denseops import reference
from helpers import LOSS_CASES, assert_close, away_from_zero, labelled, loss_operands

ACTIVATIONS = reference.ACTIVATIONS


def alpha_of(kind):
    return {"elu": 1.0, "leaky_relu": 0.2}.get(kind, 0.0)


# ------------------------------------------------------------------ activations


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (64, 130)])
def test_activation_matches_keras_formula(arch, rng, dtype, shape):
    for kind in ACTIVATIONS:  # one test item for all kinds, labelled on failure
        with labelled(kind=kind):
            z = (rng.normal(size=shape) * 3).astype(dtype)
            bias = rng.normal(size=shape[1]).astype(dtype)
            expected = reference.activation(z, kind, bias=bias, alpha=alpha_of(kind))
            got = denseops.activation(z, kind, bias=bias, alpha=alpha_of(kind))
            assert got.dtype == dtype
            scale = max(1.0, float(np.abs(expected).max()))
            assert_close(got, expected.astype(dtype), k=8, scale=scale)
            unfused = denseops.activation(z + bias, kind, alpha=alpha_of(kind))
            assert_close(got, unfused, k=4, scale=scale)


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_activation_gradient_matches_the_reference(arch, rng, kind):
    z = away_from_zero(rng, (4, 5))
    upstream = rng.normal(size=z.shape)
    alpha = alpha_of(kind)
    y = denseops.activation(z, kind, alpha=alpha)
    dz = denseops.activation_backward(upstream, y, kind, z=z.copy(), alpha=alpha)
    expected = reference.activation_backward(upstream, z, kind, alpha=alpha)
    assert_close(dz, expected, k=16, scale=max(1.0, float(np.abs(expected).max())))


# Every value elu's alpha and leaky_relu's negative slope accept: negative
# ones flip the sign of the negative branch's outputs, so the branch must come
# from z, not from y.
ALPHAS = [-2.5, -0.5, -1e-3, 0.0, 0.2, 1.0, 3.0]


@pytest.mark.parametrize("kind", ["elu", "leaky_relu"])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_alpha_kinds_are_exact_for_every_alpha(arch, rng, kind, alpha):
    z = away_from_zero(rng, (6, 9))
    upstream = rng.normal(size=z.shape)
    y = denseops.activation(z, kind, alpha=alpha)
    np.testing.assert_allclose(y, reference.activation(z, kind, alpha=alpha), rtol=1e-14)
    expected = reference.activation_backward(upstream, z, kind, alpha=alpha)
    with_z = denseops.activation_backward(upstream, y, kind, z=z, alpha=alpha)
    np.testing.assert_allclose(with_z, expected, rtol=1e-14, atol=1e-300)
    # Central differences of the kernel's own forward pass.
    h = 1e-6
    numeric = (
        denseops.activation(z + h, kind, alpha=alpha)
        - denseops.activation(z - h, kind, alpha=alpha)
    ) / (2 * h)
    np.testing.assert_allclose(with_z, upstream * numeric, rtol=1e-6, atol=1e-8)
    if alpha >= 0:  # y alone tells the branch: z is optional
        from_y = denseops.activation_backward(upstream, y, kind, alpha=alpha)
        np.testing.assert_allclose(from_y, expected, rtol=1e-12, atol=1e-300)
    else:
        with pytest.raises(ValueError, match=rf"{kind} with alpha < 0 needs its input: pass z"):
            denseops.activation_backward(upstream, y, kind, alpha=alpha)


@pytest.mark.parametrize("call", ["activation", "activation_backward"])
@pytest.mark.parametrize("alpha", [math.nan, math.inf, -math.inf])
def test_activation_kernels_refuse_a_non_finite_alpha(call, alpha):
    z = np.ones((2, 3))
    args = (z, "elu") if call == "activation" else (z, z, "elu")
    with pytest.raises(ValueError, match=r"alpha must be finite, got"):
        getattr(denseops, call)(*args, alpha=alpha)


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


@pytest.mark.parametrize("kind, from_logits", LOSS_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_gradient_match_the_reference(arch, rng, kind, from_logits, weighted):
    pred, target = loss_operands(rng, kind, from_logits)
    sample_weight = rng.uniform(0.2, 2.0, size=len(pred)) if weighted else None
    grad = np.full_like(pred, np.nan)
    value = denseops.loss(
        pred, target, kind, from_logits=from_logits, sample_weight=sample_weight, grad=grad
    )
    expected, expected_grad = reference.loss(pred, target, kind, from_logits, sample_weight)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert_close(grad, expected_grad, k=pred.shape[1] + 8)


# Every delta the kernel accepts (> 0): tiny ones make every error linear,
# huge ones and inf every error quadratic.
@pytest.mark.parametrize("delta", [1e-3, 0.8, 2.5, 1e6, math.inf])
def test_huber_loss_matches_the_reference_for_any_delta(arch, rng, delta):
    pred, target = loss_operands(rng, "huber", False)
    # Errors clear of the kink at |e| = delta, for the finite differences.
    pred = np.where(np.abs(np.abs(pred - target) - delta) < 0.01, pred + 0.05, pred)
    grad = np.full_like(pred, np.nan)
    value = denseops.loss(pred, target, "huber", delta=delta, grad=grad)
    expected, expected_grad = reference.loss(pred, target, "huber", delta=delta)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert_close(grad, expected_grad, k=pred.shape[1] + 8)
    h = 1e-7
    numeric = np.empty_like(pred)
    for i in np.ndindex(pred.shape):
        up, down = pred.copy(), pred.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (
            denseops.loss(up, target, "huber", delta=delta)
            - denseops.loss(down, target, "huber", delta=delta)
        ) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind, from_logits", LOSS_CASES)
def test_loss_float32_agrees_with_float64(rng, kind, from_logits):
    pred, target = loss_operands(rng, kind, from_logits, batch=64, outputs=10)
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
    expected, _ = reference.loss(probs, target, "binary_crossentropy")
    assert expected == pytest.approx(-math.log(1e-7), rel=1e-6)
    assert denseops.loss(probs, target, "binary_crossentropy") == pytest.approx(expected, rel=1e-12)


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
    pred, target = loss_operands(rng, "mean_squared_error", False)
    expected = np.empty_like(pred)
    value = denseops.loss(pred, target, "mean_squared_error", grad=expected)
    assert denseops.loss(pred, target, "mean_squared_error", grad=pred) == value
    np.testing.assert_array_equal(pred, expected)


# ------------------------------------------------------------------ metrics


def test_metrics_match_the_reference(arch, rng):
    pred = rng.normal(size=(50, 6))
    labels = rng.integers(0, 6, size=50)
    one_hot = np.eye(6)[labels]
    weight = rng.uniform(0, 2, size=50)
    cases = {
        "sparse_categorical_accuracy": labels,
        "categorical_accuracy": one_hot,
        "top_k_categorical_accuracy": one_hot,
        "sparse_top_k_categorical_accuracy": labels,
        "mean_absolute_error": one_hot,
        "mean_squared_error": one_hot,
    }
    for kind, target in cases.items():
        got = denseops.metric(pred, target, kind, sample_weight=weight, k=3)
        expected = reference.metric(pred, target, kind, sample_weight=weight, k=3)
        assert got == pytest.approx(expected, rel=1e-12), kind
    binary_target = (rng.random((50, 2)) < 0.5).astype(np.float64)
    got = denseops.metric(pred[:, :2], binary_target, "binary_accuracy", threshold=0.3)
    assert got == reference.metric(pred[:, :2], binary_target, "binary_accuracy", threshold=0.3)


# ------------------------------------------------------------------ dropout


def test_dropout_keeps_the_expected_fraction_and_scales(rng, dtype):
    x = np.ones(200_000, dtype)
    out = denseops.dropout(x, 0.3, seed=7, counter=1)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.005  # 0.7 +- 5 standard deviations
    assert_close(out, reference.dropout(x, 0.3, kept).astype(dtype), k=2)
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
    expected, expected_grad = reference.weight_penalty(w, l1=0.01, l2=0.003)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad - before, expected_grad, rtol=1e-12, atol=1e-15)


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
