"""Softmax, its backward, the fused softmax + cross-entropy kernels and the
Loss classes: values (mean loss, correct count, dlogits) vs their twins in
denseops.reference, and their errors. (The references' gradients are checked
against finite differences in test_reference.py; the nn `loss` kernel's
kinds are in test_nn_kernels.py.)"""

import inspect

import denseops
import numpy as np
import pytest
from denseops import reference
from denseops.nn import Dense, Sequential, losses
from helpers import assert_close, assert_loss_close, loss_operands, tolerance

SHAPES = [(1, 1), (1, 10), (7, 3), (128, 10), (3, 1000)]


# ------------------------------------------------------------------ softmax


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (64, 10), (3, 300)])
def test_softmax_matches_the_reference(rng, dtype, shape):
    z = (rng.normal(size=shape) * 5).astype(dtype)
    assert_close(denseops.softmax(z), reference.softmax(z).astype(dtype), k=shape[1] + 4)


def test_softmax_of_huge_logits_stays_finite(dtype):
    # exp(1000) overflows; subtracting the row max first must keep it exact.
    z = np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]], dtype)
    out = denseops.softmax(z)
    expected = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype)
    assert_close(out, expected, k=4)


@pytest.mark.parametrize("shape", [(1, 1), (4, 5), (64, 10)])
def test_softmax_backward_matches_the_reference(rng, dtype, shape):
    y = denseops.softmax(rng.normal(size=shape).astype(dtype))
    dout = rng.normal(size=shape).astype(dtype)
    expected = reference.softmax_backward(dout, y)
    assert_close(denseops.softmax_backward(dout, y), expected.astype(dtype), k=shape[1] + 4)


# ------------------------------------------------------------ cross-entropy


@pytest.mark.parametrize("batch, classes", SHAPES)
def test_sparse_cross_entropy_matches_the_reference(rng, dtype, batch, classes):
    logits = (rng.normal(size=(batch, classes)) * 3).astype(dtype)
    labels = rng.integers(0, classes, size=batch)
    dlogits = np.full_like(logits, np.nan)
    loss, correct = denseops.sparse_softmax_cross_entropy(logits, labels, dlogits)

    expected_loss, expected_correct, expected_dlogits = reference.sparse_softmax_cross_entropy(
        logits, labels
    )
    assert_loss_close(loss, expected_loss, dtype, classes + 4)
    assert isinstance(correct, int) and correct == expected_correct
    assert_close(dlogits, expected_dlogits.astype(dtype), k=classes + 4)


@pytest.mark.parametrize("labels_dtype", [np.int64, np.int32, np.uint8, np.uint64])
def test_sparse_cross_entropy_accepts_every_integer_label_dtype(rng, labels_dtype):
    logits = rng.normal(size=(6, 10))
    labels = rng.integers(0, 10, size=6)
    reference = denseops.sparse_softmax_cross_entropy(logits, labels)
    assert denseops.sparse_softmax_cross_entropy(logits, labels.astype(labels_dtype)) == reference


def test_sparse_cross_entropy_without_dlogits_gives_the_same_loss(rng, dtype):
    logits = rng.normal(size=(9, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=9)
    with_grad = denseops.sparse_softmax_cross_entropy(logits, labels, np.empty_like(logits))
    assert denseops.sparse_softmax_cross_entropy(logits, labels) == with_grad


def test_sparse_cross_entropy_counts_ties_as_numpy_argmax_does(dtype):
    # argmax takes the first of equal maxima, as np.argmax does.
    logits = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 2.0, 2.0]], dtype)
    _, correct = denseops.sparse_softmax_cross_entropy(logits, np.array([0, 1, 1]))
    assert correct == 2
    _, correct = denseops.sparse_softmax_cross_entropy(logits, np.array([1, 1, 2]))
    assert correct == 0


def test_sparse_cross_entropy_of_huge_logits_is_finite_and_exact(dtype):
    # A naive log(softmax) gives log(0) = -inf here.
    logits = np.array([[1000.0, 0.0], [0.0, -1000.0]], dtype)
    dlogits = np.empty_like(logits)
    loss, correct = denseops.sparse_softmax_cross_entropy(logits, np.array([1, 0]), dlogits)
    assert loss == pytest.approx(500.0, rel=1e-6)
    assert correct == 1
    assert_close(dlogits, np.array([[0.5, -0.5], [0.0, 0.0]], dtype), k=4)


@pytest.mark.parametrize("batch, classes", SHAPES)
@pytest.mark.parametrize("kind", ["one_hot", "soft", "unnormalised"])
def test_categorical_cross_entropy_matches_the_reference(rng, dtype, batch, classes, kind):
    logits = (rng.normal(size=(batch, classes)) * 3).astype(dtype)
    if kind == "one_hot":
        targets = np.eye(classes)[rng.integers(0, classes, size=batch)]
    else:
        targets = rng.uniform(0.1, 1, size=(batch, classes))
        if kind == "soft":
            targets /= targets.sum(axis=1, keepdims=True)
    targets = targets.astype(dtype)
    dlogits = np.full_like(logits, np.nan)
    loss, correct = denseops.softmax_cross_entropy(logits, targets, dlogits)

    expected_loss, expected_correct, expected_dlogits = reference.softmax_cross_entropy(
        logits, targets
    )
    # Unnormalised rows sum to up to `classes`: the loss and gradient scale with them.
    scale = float(targets.astype(np.float64).sum(axis=1).max()) if kind == "unnormalised" else 1.0
    assert_loss_close(loss, expected_loss, dtype, (classes + 4) * max(scale, 1.0))
    assert isinstance(correct, int) and correct == expected_correct
    assert_close(dlogits, expected_dlogits.astype(dtype), k=classes + 4, scale=max(scale, 1.0))


def test_categorical_and_sparse_cross_entropy_agree_on_one_hot_targets(rng, dtype):
    logits = rng.normal(size=(32, 10)).astype(dtype)
    labels = rng.integers(0, 10, size=32)
    d_sparse, d_dense = np.empty_like(logits), np.empty_like(logits)
    loss_s, correct_s = denseops.sparse_softmax_cross_entropy(logits, labels, d_sparse)
    loss_d, correct_d = denseops.softmax_cross_entropy(
        logits, np.eye(10, dtype=dtype)[labels], d_dense
    )
    assert loss_d == pytest.approx(loss_s, rel=tolerance(dtype, 14))
    assert correct_d == correct_s
    assert_close(d_dense, d_sparse, k=4)


# ------------------------------------------------------------- kernel errors


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (np.array([0.0, 1.0]), TypeError, r"labels must have an integer dtype, got float64"),
        ([0, 1], TypeError, r"labels must be a 1-D numpy.ndarray of integers, got list"),
        (np.array([0, 1, 2]), ValueError, r"labels must have shape \(2,\).*got \(3,\)"),
        (np.array([[0, 1]]), ValueError, r"labels must have shape \(2,\)"),
        (
            np.array([0, 3]),
            ValueError,
            r"labels must be in \[0, 3\) for 3 classes, got 3 at index 1",
        ),
        (np.array([-1, 0]), ValueError, r"got -1 at index 0"),
    ],
)
def test_sparse_cross_entropy_rejects_bad_labels(labels, error, message):
    logits = np.zeros((2, 3))
    with pytest.raises(error, match=message):
        denseops.sparse_softmax_cross_entropy(logits, labels)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (6,), (2, 3, 1)])
def test_cross_entropy_rejects_logits_that_are_not_a_batch_of_rows(shape):
    with pytest.raises(ValueError, match=r"logits must be 2-D \(batch, classes\).*got shape"):
        denseops.sparse_softmax_cross_entropy(np.zeros(shape), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"logits must be 2-D"):
        denseops.softmax_cross_entropy(np.zeros(shape), np.zeros(shape))


def test_categorical_cross_entropy_rejects_mismatched_targets():
    with pytest.raises(
        ValueError, match=r"targets must have the logits' shape \(2, 3\), got \(2, 4\)"
    ):
        denseops.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(TypeError, match=r"float64.*float32|float32.*float64"):
        denseops.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 3), np.float32))


def test_cross_entropy_rejects_a_wrong_dlogits_buffer():
    logits, labels = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        denseops.sparse_softmax_cross_entropy(logits, labels, np.empty((3, 2)))
    with pytest.raises(TypeError, match=r"float32|float64"):
        denseops.sparse_softmax_cross_entropy(logits, labels, np.empty((2, 3), np.float32))


def test_dlogits_may_alias_the_logits(rng, dtype):
    logits = rng.normal(size=(4, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=4)
    expected_grad = np.empty_like(logits)
    expected = denseops.sparse_softmax_cross_entropy(logits, labels, expected_grad)
    assert denseops.sparse_softmax_cross_entropy(logits, labels, logits) == expected
    np.testing.assert_array_equal(logits, expected_grad)


# ------------------------------------------------------------- Loss classes


@pytest.mark.parametrize(
    "name, cls",
    [
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("mse", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("huber", losses.Huber),
    ],
)
def test_loss_get_by_name(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls and loss.from_logits is False
    assert losses.get(loss) is loss


def test_loss_get_accepts_keras_loss_functions():
    assert type(losses.get(losses.mse)) is losses.MeanSquaredError
    assert type(losses.get(losses.binary_crossentropy)) is losses.BinaryCrossentropy


def test_loss_get_rejects_unknown_names():
    with pytest.raises(
        ValueError,
        match=r"Unknown loss: 'msee'. Expected one of "
        r"\['binary_crossentropy', ",
    ):
        losses.get("msee")


def test_loss_objects_take_keras_argument_order(rng):
    logits = rng.normal(size=(8, 4))
    labels = rng.integers(0, 4, size=8)
    one_hot = np.eye(4)[labels]
    sparse = losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    assert sparse == pytest.approx(denseops.sparse_softmax_cross_entropy(logits, labels)[0])
    dense = losses.CategoricalCrossentropy(from_logits=True)(one_hot, logits)
    assert dense == pytest.approx(denseops.softmax_cross_entropy(logits, one_hot)[0])


# Keras 3's constructor parameters, in order.
_CROSSENTROPY_PARAMETERS = ["from_logits", "label_smoothing", "axis", "reduction", "name", "dtype"]
KERAS_PARAMETERS = {
    losses.MeanSquaredError: ["reduction", "name", "dtype"],
    losses.MeanAbsoluteError: ["reduction", "name", "dtype"],
    losses.Huber: ["delta", "reduction", "name", "dtype"],
    losses.BinaryCrossentropy: _CROSSENTROPY_PARAMETERS,
    losses.CategoricalCrossentropy: _CROSSENTROPY_PARAMETERS,
    losses.SparseCategoricalCrossentropy: [
        "from_logits",
        "ignore_class",
        "reduction",
        "axis",
        "name",
        "dtype",
    ],
}


@pytest.mark.parametrize("cls", list(KERAS_PARAMETERS))
def test_loss_constructors_take_keras_parameters_in_keras_order(cls):
    assert list(inspect.signature(cls).parameters) == KERAS_PARAMETERS[cls]


def test_positional_loss_arguments_mean_what_they_mean_in_keras():
    assert losses.Huber(2.0, "sum_over_batch_size", "h").name == "h"
    with pytest.raises(ValueError, match="reduction='sum_over_batch_size'"):
        losses.MeanSquaredError("sum")  # Keras's first argument is the reduction
    with pytest.raises(ValueError, match=r"axis=-1 .* Received: axis=0"):
        losses.CategoricalCrossentropy(False, 0.0, 0)
    with pytest.raises(ValueError, match="ignore_class is not supported"):
        losses.SparseCategoricalCrossentropy(True, 3)
    assert losses.CategoricalCrossentropy(axis=1).get_config()["axis"] == -1


@pytest.mark.parametrize("cls", list(KERAS_PARAMETERS))
def test_a_loss_built_with_a_dtype_computes_in_it(cls, rng):
    y_pred = rng.uniform(0.05, 0.95, size=(6, 3))
    y_true = rng.integers(0, 3, size=6) if cls is losses.SparseCategoricalCrossentropy else None
    if y_true is None:
        y_true = np.eye(3)[rng.integers(0, 3, size=6)]
    in_float32 = cls(dtype="float32")(y_true, y_pred)
    assert in_float32 == cls()(y_true, y_pred.astype(np.float32))
    assert in_float32 != cls()(y_true, y_pred)  # float64 rounds differently
    assert cls(dtype=np.float64)(y_true, y_pred) == cls()(y_true, y_pred)
    assert cls(dtype="float32").get_config()["dtype"] == "float32"
    assert cls().get_config()["dtype"] is None


@pytest.mark.parametrize("dtype", ["float16", "int32", "mixed_float16", 3])
def test_a_loss_dtype_the_kernels_cannot_compute_in_is_refused(dtype):
    with pytest.raises(ValueError, match=r"dtype must be None, 'float32' or 'float64'\. "):
        losses.MeanSquaredError(dtype=dtype)


def test_a_model_refuses_a_loss_built_for_another_dtype(rng):
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=16)
    model = Sequential([Dense(3, activation="softmax")])
    model.compile(loss=losses.SparseCategoricalCrossentropy(dtype="float64"))
    with pytest.raises(ValueError, match=r"dtype='float64', but the model computes in float32"):
        model.fit(x, y, epochs=1, verbose=0)
    model.compile(loss=losses.SparseCategoricalCrossentropy(dtype="float32"))
    model.fit(x, y, epochs=1, verbose=0)


def test_loss_functions_return_one_loss_per_sample_as_keras_does(rng):
    y_true, y_pred = rng.uniform(size=(5, 3)), rng.uniform(size=(5, 3))

    def reference_per_sample(kind, y_true, y_pred):
        return [reference.loss(p[None], t[None], kind)[0] for t, p in zip(y_true, y_pred)]

    per_sample = losses.mean_squared_error(y_true, y_pred)
    assert per_sample.shape == (5,)
    expected = reference_per_sample("mean_squared_error", y_true, y_pred)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-12)
    expected = reference_per_sample("mean_absolute_error", y_true, y_pred)
    np.testing.assert_allclose(losses.mae(y_true, y_pred), expected, rtol=1e-12)
    # 1-D arrays are the outputs of one sample: one number.
    assert losses.mse(y_true[0], y_pred[0]) == pytest.approx(per_sample[0])
    probabilities = np.array([[0.6, 0.4], [0.3, 0.7]])
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(np.array([0, 1]), probabilities),
        -np.log([0.6, 0.7]),
        rtol=1e-12,
    )
    reduced = losses.CategoricalCrossentropy()(np.eye(2), probabilities)
    per_row = losses.categorical_crossentropy(np.eye(2), probabilities)
    assert reduced == pytest.approx(per_row.mean())


@pytest.mark.parametrize(
    "targets, message",
    [
        (np.array([0.5, 1.0, 2.0]), r"needs integer class labels. Received: y of dtype float64"),
        (
            np.array([0, 1]),
            r"needs labels of shape \(3,\), one per sample. Received: y of shape \(2,\)",
        ),
        (np.array([[0, 1], [1, 1], [2, 1]]), r"Received: y of shape \(3, 2\)"),
        (
            np.array([0, 1, 10]),
            r"Labels must be in \[0, 10\) for a last layer of 10 units. "
            r"Received: labels from 0 to 10",
        ),
        (np.array([-2, 1, 3]), r"Received: labels from -2 to 3"),
        # Whole-number floats: the values as given, not wrapped by a cast to int64.
        (np.array([0.0, 1e20, 2.0]), r"Received: labels from 0.0 to 1e\+20"),
        (np.array([-1e19, 1.0, 2.0]), r"Received: labels from -1e\+19 to 2.0"),
        (np.array([0.0, np.inf, 2.0]), r"Received: labels from 0.0 to inf"),
        (np.array([0, 2**63, 1], np.uint64), r"Received: labels from 0 to 9223372036854775808"),
        ([0, 1, 2], r"needs integer class labels. Received: y of dtype list"),
    ],
)
def test_sparse_loss_prepare_targets_names_the_problem(targets, message):
    with pytest.raises(ValueError, match=message):
        losses.SparseCategoricalCrossentropy().prepare_targets(targets, 3, 10, np.float32)


def test_sparse_loss_accepts_whole_float_labels_and_a_trailing_axis_as_keras_does():
    loss = losses.SparseCategoricalCrossentropy()
    out = loss.prepare_targets(np.array([[0.0], [3.0], [9.0]]), 3, 10, np.float32)
    np.testing.assert_array_equal(out, [0, 3, 9])


def test_categorical_loss_prepare_targets_names_the_problem():
    loss = losses.CategoricalCrossentropy()
    assert loss.prepare_targets(np.zeros((3, 10)), 3, 10, np.float32).dtype == np.float32
    with pytest.raises(
        ValueError,
        match=r"needs one-hot targets of shape \(3, 10\). "
        r"Received: y of shape \(3,\); use "
        r"loss='sparse_categorical_crossentropy'",
    ):
        loss.prepare_targets(np.zeros(3, np.int64), 3, 10, np.float32)
    with pytest.raises(ValueError, match=r"needs numeric targets"):
        loss.prepare_targets(np.array([["a"] * 10] * 3), 3, 10, np.float32)


# ---- NaN logits and bad dense targets


def test_correct_count_with_nan_logits_agrees_with_numpy_argmax(dtype):
    # np.argmax treats NaN as the largest value: the first NaN of a row wins.
    nan = np.nan
    logits = np.array(
        [[1, nan, 3, nan], [nan, 0, 0, 0], [1, 5, 2, 5], [2, 1, 0, nan], [0, 0, 0, 0]], dtype
    )
    labels = np.array([1, 0, 1, 3, 0])
    expected = int((np.argmax(logits, axis=1) == labels).sum())
    assert expected == 5
    _, correct = denseops.sparse_softmax_cross_entropy(logits, labels)
    assert correct == expected
    one_hot = np.eye(4, dtype=dtype)[labels]
    _, correct = denseops.softmax_cross_entropy(logits, one_hot)
    assert correct == expected


@pytest.mark.parametrize("bad,shown", [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")])
def test_categorical_crossentropy_refuses_negative_or_non_finite_targets(bad, shown):
    from denseops.nn import Dense, Sequential

    model = Sequential([Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.ones((4, 2), np.float32)
    targets = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    targets[2, 1] = bad
    with pytest.raises(
        ValueError,
        match=rf"categorical_crossentropy needs finite, non-negative "
        rf"targets .*Received: y\[2, 1\] = {shown}",
    ):
        model.fit(x, targets, verbose=0)
    with pytest.raises(ValueError, match=r"y\[2, 1\]"):
        model.evaluate(x, targets)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize(
    "cls, kind, spread",
    [
        (losses.BinaryCrossentropy, "binary_crossentropy", lambda classes: 0.5),
        (losses.CategoricalCrossentropy, "categorical_crossentropy", lambda classes: 1 / classes),
    ],
)
def test_label_smoothing_over_its_whole_range_is_keras_formula(
    rng, cls, kind, spread, smoothing, from_logits
):
    # Keras: targets become t * (1 - s) + s * 0.5 (binary) or s / classes.
    pred, target = loss_operands(rng, kind, from_logits)
    smoothed = target * (1 - smoothing) + smoothing * spread(target.shape[1])
    expected, _ = reference.loss(pred, smoothed, kind, from_logits=from_logits)
    got = cls(from_logits=from_logits, label_smoothing=smoothing)(target, pred)
    assert got == pytest.approx(expected, rel=1e-12)
