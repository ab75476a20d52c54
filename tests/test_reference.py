"""The textbook loops (pure Python and Cython) against NumPy, on small inputs.

They are the benchmarks' baselines and the plainest statement of what each
kernel computes, so they must agree with NumPy themselves before anything is
compared with them.
"""

import denseops
import numpy as np
import pytest
from denseops import _naive_cy, reference
from helpers import (
    LOSS_CASES,
    assert_close,
    assert_gradient_close,
    away_from_zero,
    in_layout,
    loss_operands,
    numeric_gradient,
    random_array,
)

IMPLEMENTATIONS = {"python": reference, "cython": _naive_cy}
# Small, since the pure-Python loops take microseconds per element.
MATRIX_SHAPES = [(0, 3), (3, 0), (1, 1), (2, 3), (5, 7)]
MATMUL_SHAPES = [(1, 1, 1), (0, 2, 3), (2, 0, 3), (2, 3, 0), (3, 4, 5), (7, 5, 3)]
# The Cython loops read strided memoryviews; Python indexes element by element.
LAYOUTS = ("C", "F", "strided", "reversed")


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request):
    return IMPLEMENTATIONS[request.param]


def shape_id(shape):
    return "x".join(map(str, shape))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", MATRIX_SHAPES, ids=shape_id)
def test_naive_relu_matches_numpy(impl, rng, dtype, shape, layout):
    x = in_layout(random_array(rng, shape, dtype), layout)
    assert_close(impl.naive_relu(x), np.maximum(x, 0), k=0)


def test_naive_relu_keeps_nan_like_numpy(impl, dtype):
    x = np.array([[np.nan, -1.0, 2.0], [np.inf, -np.inf, np.nan]], dtype)
    assert_close(impl.naive_relu(x), np.maximum(x, 0), k=0)


def test_naive_relu_leaves_its_input_alone(impl, rng, dtype):
    x = random_array(rng, (3, 4), dtype)
    before = x.copy()
    impl.naive_relu(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", MATRIX_SHAPES, ids=shape_id)
def test_naive_add_matches_numpy(impl, rng, dtype, shape, layout):
    x = in_layout(random_array(rng, shape, dtype), layout)
    y = random_array(rng, shape, dtype)
    before = x.copy()
    assert_close(impl.naive_add(x, y), x + y, k=0)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [0, 1, 2, 17, 100])
def test_naive_vector_dot_matches_numpy(impl, rng, dtype, n, layout):
    x = in_layout(random_array(rng, (n,), dtype), layout)
    y = random_array(rng, (n,), dtype)
    expected = np.dot(x.astype(np.float64), y.astype(np.float64))
    got = impl.naive_vector_dot(x, y)
    assert_close(np.asarray(got, dtype), np.asarray(expected, dtype), k=n)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", MATMUL_SHAPES, ids=shape_id)
def test_naive_matmul_matches_numpy(impl, rng, dtype, shape, layout):
    m, k, n = shape
    a = in_layout(random_array(rng, (m, k), dtype), layout)
    b = random_array(rng, (k, n), dtype)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(dtype)
    assert_close(impl.naive_matmul(a, b), expected, k=k)


def test_cython_loops_reject_mismatched_shapes(dtype):
    a, b = np.ones((2, 3), dtype), np.ones((4, 5), dtype)
    with pytest.raises(ValueError, match=r"naive_add: shapes \(2, 3\) and \(4, 5\) differ"):
        _naive_cy.naive_add(a, b)
    with pytest.raises(ValueError, match=r"naive_matmul: shapes \(2, 3\) and \(4, 5\) do not fit"):
        _naive_cy.naive_matmul(a, b)
    with pytest.raises(ValueError, match="naive_vector_dot: lengths 3 and 4 differ"):
        _naive_cy.naive_vector_dot(np.ones(3, dtype), np.ones(4, dtype))


# ------------------------------------------------------- the NumPy references
# They are the oracles of test_kernels.py, test_losses.py, test_nn_kernels.py,
# test_optimizers.py and test_link_loss.py, so each is checked here against
# something independent of it: the textbook loops, an explicit Jacobian, or
# central finite differences of its own forward formula in float64.


def test_every_kernel_has_a_reference_twin_of_its_name():
    kernels = {
        name
        for name in denseops.__all__
        if callable(getattr(denseops._kernels, name, None))
        and name not in {"set_arch", "get_arch", "set_num_threads", "get_num_threads"}
    }
    assert kernels, "no kernels found in denseops.__all__"
    missing = sorted(name for name in kernels if not callable(getattr(reference, name, None)))
    assert not missing, f"kernels without a twin in denseops.reference: {missing}"


def test_numpy_core_references_agree_with_the_textbook_loops(rng, dtype):
    x, y = random_array(rng, (6, 5), dtype), random_array(rng, (6, 5), dtype)
    assert_close(reference.relu(x), reference.naive_relu(x), k=0)
    assert_close(reference.add(x, y), reference.naive_add(x, y), k=0)
    assert_close(reference.relu_backward(y, reference.relu(x)), y * (x > 0), k=0)
    a, b = random_array(rng, (4, 7), dtype), random_array(rng, (7, 3), dtype)
    naive = reference.naive_matmul(a.astype(np.float64), b.astype(np.float64))
    assert_close(reference.matmul(a, b), naive, k=7)
    assert_close(reference.matmul(a.T, b.T, trans_a=True, trans_b=True), naive, k=7)
    v, w = x[0], y[0]
    naive_dot = reference.naive_vector_dot(v.astype(np.float64), w.astype(np.float64))
    assert reference.dot(v, w) == pytest.approx(naive_dot, rel=1e-12, abs=1e-15)
    total = np.zeros((1, 5))
    for row in x.astype(np.float64):
        total = reference.naive_add(total, row[None, :])
    assert_close(reference.column_sums(x), total[0], k=6)


def test_reference_relu_keeps_nan_and_the_dtype(dtype):
    x = np.array([np.nan, -1.0, 0.5], dtype)
    got = reference.relu(x)
    assert got.dtype == dtype and np.isnan(got[0]) and list(got[1:]) == [0.0, 0.5]


def test_reference_softmax_backward_is_the_jacobian_product(rng):
    y = reference.softmax(rng.normal(size=(4, 5)) * 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-15)
    dout = rng.normal(size=y.shape)
    jacobian = np.stack([(np.diag(r) - np.outer(r, r)) @ d for r, d in zip(y, dout)])
    np.testing.assert_allclose(reference.softmax_backward(dout, y), jacobian, rtol=1e-12)


def test_reference_softmax_of_huge_logits_is_exact():
    got = reference.softmax(np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]]))
    np.testing.assert_array_equal(got[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(got[1], 1 / 3, rtol=1e-15)


@pytest.mark.parametrize("targets", ["one_hot", "soft", "unnormalised"])
def test_reference_cross_entropy_gradient_matches_finite_differences(rng, targets):
    logits = rng.normal(size=(5, 4)) * 2
    labels = rng.integers(0, 4, size=5)
    t = np.eye(4)[labels] if targets == "one_hot" else rng.uniform(0.1, 1.0, size=(5, 4))
    if targets == "soft":
        t /= t.sum(axis=1, keepdims=True)
    _, _, dlogits = reference.softmax_cross_entropy(logits, t)
    numeric = numeric_gradient(lambda: reference.softmax_cross_entropy(logits, t)[0], logits)
    assert_gradient_close(dlogits, numeric, f"cross-entropy ({targets})")
    if targets == "one_hot":
        sparse = reference.sparse_softmax_cross_entropy(logits, labels)
        dense = reference.softmax_cross_entropy(logits, t)
        assert sparse[:2] == pytest.approx(dense[:2], rel=1e-15)
        np.testing.assert_array_equal(sparse[2], dense[2])


@pytest.mark.parametrize("kind", reference.ACTIVATIONS)
def test_reference_activation_backward_matches_finite_differences(rng, kind):
    z = away_from_zero(rng, (4, 5))
    dout = rng.normal(size=z.shape)
    alpha = {"elu": 1.0, "leaky_relu": 0.2}.get(kind, 0.0)
    numeric = numeric_gradient(
        lambda: float(np.sum(dout * reference.activation(z, kind, alpha=alpha))), z
    )
    assert_gradient_close(reference.activation_backward(dout, z, kind, alpha=alpha), numeric, kind)


def test_reference_activations_match_their_textbook_definitions(rng):
    z = rng.normal(size=50) * 3
    act = reference.activation
    np.testing.assert_allclose(act(z, "sigmoid"), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(act(z, "softplus"), np.log(1 + np.exp(z)), rtol=1e-12)
    np.testing.assert_allclose(act(z, "swish"), z / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(act(z, "elu", alpha=1.0), np.where(z > 0, z, np.exp(z) - 1))
    np.testing.assert_allclose(
        act(z, "selu"), 1.0507009873554805 * act(z, "elu", alpha=1.6732632423543772)
    )
    np.testing.assert_allclose(act(np.array([0.0, 1.0]), "gelu"), [0.0, 0.8413447460685429])


@pytest.mark.parametrize("kind, from_logits", LOSS_CASES)
def test_reference_loss_gradient_matches_finite_differences(rng, kind, from_logits):
    pred, target = loss_operands(rng, kind, from_logits)
    weight = rng.uniform(0.2, 2.0, size=len(pred))
    value, grad = reference.loss(pred, target, kind, from_logits, sample_weight=weight)
    numeric = numeric_gradient(
        lambda: reference.loss(pred, target, kind, from_logits, sample_weight=weight)[0], pred
    )
    assert_gradient_close(grad, numeric, f"{kind} from_logits={from_logits}")
    unweighted, _ = reference.loss(pred, target, kind, from_logits)
    assert value != pytest.approx(unweighted), "the sample weights were ignored"


def test_reference_huber_gradient_matches_finite_differences_for_any_delta(rng):
    # |error| is 0.5 or 1.7 (loss_operands): with delta = 0.8 both pieces are used.
    pred, target = loss_operands(rng, "huber", False)
    for delta in (0.8, 2.5):
        _, grad = reference.loss(pred, target, "huber", delta=delta)
        numeric = numeric_gradient(
            lambda delta=delta: reference.loss(pred, target, "huber", delta=delta)[0], pred
        )
        assert_gradient_close(grad, numeric, f"huber delta={delta}")


def test_reference_cross_entropies_agree_across_their_forms(rng):
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    one_hot = np.eye(4)[labels]
    probs = reference.softmax(logits)
    from_logits = reference.loss(logits, one_hot, "categorical_crossentropy", True)[0]
    assert reference.loss(probs, one_hot, "categorical_crossentropy")[0] == pytest.approx(
        from_logits, rel=1e-12
    )
    assert reference.loss(logits, labels, "sparse_categorical_crossentropy", True)[
        0
    ] == pytest.approx(from_logits, rel=1e-12)
    assert reference.softmax_cross_entropy(logits, one_hot)[0] == pytest.approx(from_logits)
    # binary on logits equals binary on their sigmoid, away from the clip
    t = rng.uniform(0, 1, size=(6, 4))
    assert reference.loss(logits, t, "binary_crossentropy", True)[0] == pytest.approx(
        reference.loss(reference.activation(logits, "sigmoid"), t, "binary_crossentropy")[0],
        rel=1e-9,
    )


def test_reference_losses_clip_probabilities_as_keras_does():
    t = np.array([[1.0], [0.0]])
    value, grad = reference.loss(np.array([[0.0], [1.0]]), t, "binary_crossentropy")
    assert value == pytest.approx(-np.log(1e-7), rel=1e-6)
    np.testing.assert_array_equal(grad, 0.0)  # the clip passes no gradient


def test_reference_metrics_match_their_definitions(rng):
    pred = rng.normal(size=(40, 6))
    labels = rng.integers(0, 6, size=40)
    top3 = (np.argsort(-pred, axis=1)[:, :3] == labels[:, None]).any(axis=1)
    assert reference.metric(pred, labels, "sparse_top_k_categorical_accuracy", k=3) == top3.sum()
    assert (
        reference.metric(pred, np.eye(6)[labels], "top_k_categorical_accuracy", k=3) == top3.sum()
    )
    hits = (pred.argmax(1) == labels).sum()
    assert reference.metric(pred, labels, "sparse_categorical_accuracy") == hits


def test_reference_weight_penalty_gradient_matches_finite_differences(rng):
    w = away_from_zero(rng, 30, 0.01, 1.0)
    value, grad = reference.weight_penalty(w, l1=0.01, l2=0.003)
    numeric = numeric_gradient(lambda: reference.weight_penalty(w, l1=0.01, l2=0.003)[0], w)
    assert_gradient_close(grad, numeric, "l1_l2")
    assert value == pytest.approx(0.01 * sum(abs(w)) + 0.003 * sum(w * w), rel=1e-12)


@pytest.mark.parametrize("link", reference.LINKS)
def test_reference_link_loss_gradient_is_the_loss_derivative(rng, link):
    # One output (and softmax's one-hot rows summing to 1): there scikit-learn's
    # back-propagated p - y is the exact derivative of its loss.
    outputs = 3 if link == "softmax" else 1
    z = rng.normal(size=(7, outputs))
    y = np.eye(3)[rng.integers(0, 3, 7)] if link == "softmax" else rng.uniform(0.1, 1, (7, 1))
    w = rng.uniform(0.5, 2.0, size=7)
    _, dz = reference.link_loss(z, y, link, sample_weight=w)
    numeric = numeric_gradient(lambda: reference.link_loss(z, y, link, sample_weight=w)[0], z)
    assert_gradient_close(dz, numeric, link)


def test_reference_optimizer_steps_follow_keras(rng):
    w, g = rng.normal(size=5), rng.normal(size=5)
    # RMSprop: epsilon inside the square root.
    new_w, v = reference.rmsprop_update(w, g, np.zeros(5), learning_rate=1.0, rho=0.9, epsilon=1e-4)
    np.testing.assert_allclose(new_w, w - g / np.sqrt(0.1 * g**2 + 1e-4), rtol=1e-15)
    # Adam's first step moves each weight by about lr, whatever the gradient's scale.
    new_w, m, v = reference.adam_update(
        w,
        g * 100,
        np.zeros(5),
        np.zeros(5),
        learning_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        step=1,
    )
    np.testing.assert_allclose(new_w - w, -0.01 * np.sign(g), rtol=1e-6)
    # SGD with momentum 0.5, two steps: v1 = -lr g, v2 = 0.5 v1 - lr g; nesterov adds 0.5 v - lr g.
    w1, v1 = reference.sgd_update(w, g, np.zeros(5), learning_rate=0.1, momentum=0.5)
    w2, v2 = reference.sgd_update(w1, g, v1, learning_rate=0.1, momentum=0.5)
    np.testing.assert_allclose(w2, w - 0.1 * g - 0.15 * g, rtol=1e-15)
    wn, _ = reference.sgd_update(w, g, np.zeros(5), learning_rate=0.1, momentum=0.5, nesterov=True)
    np.testing.assert_allclose(wn, w - 0.15 * g, rtol=1e-15)
