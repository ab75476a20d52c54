"""AUC, Precision and Recall: against a brute-force NumPy count of Keras's
definitions (always), scikit-learn's exact ROC AUC where the thresholds
separate every prediction, real Keras 3 (when installed), and inside
compile()/fit()/evaluate() as plain and weighted metrics."""

import inspect

import numpy as np
import pytest
from denseops.nn import Dense, Input, Sequential, load, metrics
from denseops.nn.metrics import AUC, Precision, Recall


def brute_counts(y, p, w, thresholds):
    """(tp, fp, tn, fn) at each threshold by direct comparison, one threshold at a time."""
    positive = np.asarray(y).ravel() != 0
    p, w = np.asarray(p, np.float64).ravel(), np.broadcast_to(w, np.shape(y)).ravel()
    rows = []
    for t in thresholds:
        above = p > t
        rows.append(
            [
                w[above & positive].sum(),
                w[above & ~positive].sum(),
                w[~above & ~positive].sum(),
                w[~above & positive].sum(),
            ]
        )
    return np.array(rows).T


def ratio(a, b):
    return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def batches(rng, samples=60, outputs=3, n=3):
    y = rng.integers(0, 2, size=(samples, outputs))
    p = rng.random((samples, outputs))
    w = rng.random(samples)
    edges = np.linspace(0, samples, n + 1).astype(int)
    return y, p, w, [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def accumulate(metric, y, p, w, parts, weighted=True):
    for part in parts:
        metric.update_state(y[part], p[part], sample_weight=w[part] if weighted else None)
    return metric.result()


@pytest.mark.parametrize("cls", [Precision, Recall])
@pytest.mark.parametrize("thresholds", [None, 0.3, [0.0, 0.25, 0.6, 1.0], [0.0, 0.5, 1.0]])
def test_precision_and_recall_match_a_brute_force_count(rng, cls, thresholds):
    y, p, w, parts = batches(rng)
    got = accumulate(cls(thresholds=thresholds), y, p, w, parts)
    ts = [0.5] if thresholds is None else np.atleast_1d(thresholds)
    tp, fp, _, fn = brute_counts(y, p, w[:, None], ts)
    expected = ratio(tp, tp + (fp if cls is Precision else fn))
    np.testing.assert_allclose(got, expected[0] if np.ndim(thresholds) == 0 else expected)


@pytest.mark.parametrize("cls", [Precision, Recall])
def test_top_k_and_class_id_count_what_keras_counts(rng, cls):
    y, p, w, parts = batches(rng, outputs=5)
    # top_k=2: only the two largest of each row can be positive (and, without
    # thresholds, both are); class_id=3 then counts only column 3.
    top2 = np.argsort(-p, axis=1)[:, :2]
    kept = np.zeros_like(p, bool)
    np.put_along_axis(kept, top2, True, axis=1)
    got = accumulate(cls(top_k=2), y, p, w, parts)
    tp, fp, _, fn = brute_counts(y, kept.astype(float), w[:, None], [0.5])
    assert got == pytest.approx(ratio(tp, tp + (fp if cls is Precision else fn))[0])
    got = accumulate(cls(class_id=3, thresholds=0.4), y, p, w, parts)
    tp, fp, _, fn = brute_counts(y[:, 3], p[:, 3], w, [0.4])
    assert got == pytest.approx(ratio(tp, tp + (fp if cls is Precision else fn))[0])


def keras_auc_from_counts(tp, fp, tn, fn):
    """The trapezoids of Keras's AUC(curve="ROC") written out from the counts."""
    tpr, fpr = ratio(tp, tp + fn), ratio(fp, fp + tn)
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


@pytest.mark.parametrize("num_thresholds", [2, 3, 50, 200])
def test_auc_roc_matches_the_trapezoids_of_a_brute_force_count(rng, num_thresholds):
    y, p, w, parts = batches(rng)
    metric = AUC(num_thresholds=num_thresholds)
    got = accumulate(metric, y, p, w, parts)
    assert len(metric.thresholds) == num_thresholds
    assert metric.thresholds[0] < 0 and metric.thresholds[-1] > 1
    expected = keras_auc_from_counts(*brute_counts(y, p, w[:, None], metric.thresholds))
    assert got == pytest.approx(expected, abs=1e-12)


def test_auc_is_the_exact_roc_auc_when_thresholds_separate_the_predictions(rng):
    roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score
    # Predictions half-way between Keras's 200 thresholds, at most one per
    # gap: the trapezoids then trace the exact ROC curve.
    p = (rng.permutation(199)[:120] + 0.5) / 199
    y = (rng.random(120) < p).astype(int)
    w = rng.random(120)
    metric = AUC()
    metric.update_state(y[:70], p[:70], sample_weight=w[:70])
    metric.update_state(y[70:], p[70:], sample_weight=w[70:])
    assert metric.result() == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)


def test_auc_of_a_perfect_and_a_reversed_ranking():
    y = np.array([0, 0, 1, 1])
    assert accumulate(AUC(), y, np.array([0.1, 0.2, 0.8, 0.9]), None, [slice(None)], False) == 1.0
    assert accumulate(AUC(), y, np.array([0.9, 0.8, 0.2, 0.1]), None, [slice(None)], False) == 0.0


def test_reset_state_forgets_the_batches(rng):
    y, p, w, parts = batches(rng)
    for metric in (AUC(), Precision(), Recall()):
        first = accumulate(metric, y, p, w, parts)
        metric.reset_state()
        assert metric.result() == 0.0
        assert accumulate(metric, y, p, w, parts) == pytest.approx(first)


# Keras 3 configurations, compared with real Keras when it is installed.
KERAS_CASES = [
    (AUC, {}),
    (AUC, {"curve": "PR"}),
    (AUC, {"curve": "PR", "summation_method": "majoring", "num_thresholds": 13}),
    (AUC, {"summation_method": "minoring", "num_thresholds": 7}),
    (AUC, {"curve": "PRGAIN"}),
    (AUC, {"multi_label": True}),
    (AUC, {"thresholds": [0.1, 0.35, 0.9]}),
    (AUC, {"label_weights": [0.2, 1.0, 3.0]}),
    (AUC, {"from_logits": True}),
    (Precision, {}),
    (Precision, {"thresholds": [0.0, 0.5, 1.0]}),
    (Precision, {"top_k": 2}),
    (Precision, {"class_id": 1, "thresholds": 0.3}),
    (Recall, {}),
    (Recall, {"top_k": 1, "class_id": 2}),
    (Recall, {"thresholds": [0.2, 0.7]}),
]


@pytest.mark.parametrize(
    "cls, kwargs", KERAS_CASES, ids=[f"{c.__name__}{k}" for c, k in KERAS_CASES]
)
def test_confusion_metrics_match_keras(rng, cls, kwargs):
    keras = pytest.importorskip("keras", reason="real Keras 3 is not installed here")
    y, p, w, parts = batches(rng)
    if kwargs.get("from_logits"):
        p = (p - 0.5) * 8
    p = p.astype(np.float32)
    ours, theirs = cls(**kwargs), getattr(keras.metrics, cls.__name__)(**kwargs)
    for part in parts:
        ours.update_state(y[part], p[part], sample_weight=w[part])
        theirs.update_state(y[part], p[part], sample_weight=w[part].astype(np.float32))
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------- Keras's signatures

KERAS_SIGNATURES = {
    AUC: [
        "num_thresholds",
        "curve",
        "summation_method",
        "name",
        "dtype",
        "thresholds",
        "multi_label",
        "num_labels",
        "label_weights",
        "from_logits",
    ],
    Precision: ["thresholds", "top_k", "class_id", "name", "dtype"],
    Recall: ["thresholds", "top_k", "class_id", "name", "dtype"],
}


@pytest.mark.parametrize("cls", list(KERAS_SIGNATURES), ids=lambda c: c.__name__)
def test_constructors_take_keras_parameters_in_keras_order(cls):
    assert list(inspect.signature(cls).parameters) == KERAS_SIGNATURES[cls]
    assert cls().name == cls.__name__.lower()


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: Precision(thresholds=1.5),
            r"Threshold values must be in \[0, 1\]. Received: \[1.5\]",
        ),
        (lambda: Recall(thresholds=[0.2, -0.1]), r"Received: \[-0.1\]"),
        (lambda: Precision(top_k=0), r"top_k"),
        (lambda: Recall(class_id=-1), r"class_id must be an integer >= 0. Received: class_id=-1"),
        (
            lambda: AUC(num_thresholds=1),
            r"`num_thresholds` must be an integer > 1. Received: num_thresholds=1",
        ),
        (
            lambda: AUC(curve="ROCK"),
            r"curve must be one of \['ROC', 'PR', 'PRGAIN'\]. Received: curve='ROCK'",
        ),
        (lambda: AUC(summation_method="mid"), r"Received: summation_method='mid'"),
        (lambda: AUC(num_labels=3), r"`num_labels` is needed only when `multi_label` is True"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_class_id_beyond_the_outputs_is_refused():
    with pytest.raises(
        ValueError, match=r"class_id=4 needs .* more than 4 classes. Received: shape \(2, 3\)"
    ):
        Precision(class_id=4).update_state(np.zeros((2, 3)), np.zeros((2, 3)))


# ---------------------------------------------------------------- in a model


def binary_data(rng, samples=96):
    x = rng.normal(size=(samples, 4)).astype(np.float32)
    y = ((x @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=samples)) > 0).astype(np.float32)
    return x, y


def classifier(**compile_args):
    model = Sequential([Input(shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", **compile_args)
    return model


def test_metrics_by_name_in_compile_accumulate_over_batches(rng):
    x, y = binary_data(rng)
    model = classifier(metrics=["auc", "precision", "recall"])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert set(history.history) == {"loss", "auc", "precision", "recall"}
    logs = model.evaluate(x, y, batch_size=10, return_dict=True, verbose=0)
    p = model.predict(x, verbose=0)
    for metric in (AUC(), Precision(), Recall()):
        metric.update_state(y, p)  # one batch of everything
        assert logs[metric.name] == pytest.approx(metric.result(), rel=1e-6), metric.name


def test_weighted_confusion_metrics_see_the_sample_weights_and_plain_ones_do_not(rng):
    x, y = binary_data(rng)
    w = rng.random(len(y)) * 2
    model = classifier(metrics=[AUC(num_thresholds=50)], weighted_metrics=[Recall(thresholds=0.4)])
    logs = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    p = model.predict(x, verbose=0)
    plain, weighted = AUC(num_thresholds=50), Recall(thresholds=0.4)
    plain.update_state(y, p)
    weighted.update_state(y, p, sample_weight=w)
    assert logs["auc"] == pytest.approx(plain.result(), rel=1e-6)
    assert logs["recall"] == pytest.approx(weighted.result(), rel=1e-6)
    unweighted = Recall(thresholds=0.4)
    unweighted.update_state(y, p)
    assert unweighted.result() != pytest.approx(weighted.result())  # the weights mattered


def test_configured_metrics_survive_save_and_load(rng, tmp_path):
    x, y = binary_data(rng)
    metric_list = [AUC(curve="PR", num_thresholds=31), Precision(thresholds=0.3, top_k=1), "recall"]
    model = classifier(metrics=metric_list)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    restored = load(tmp_path / "m.npz")
    assert [metrics.serialize(m) for m in restored.metrics] == [
        metrics.serialize(m) for m in metric_list
    ]
