"""denseops.sklearn's MLPs against scikit-learn's own: same weights and batches, same curves."""

import inspect
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the [sklearn] extra is not installed")

import denseops  # noqa: E402
from denseops.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def _fit_quietly(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **kwargs)


def _assert_same_model(ours, theirs, rtol):
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(
        ours.loss_curve_, theirs.loss_curve_, rtol=rtol, err_msg="loss curves differ"
    )
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(
            a, b, rtol=rtol, atol=rtol * 10, err_msg=f"max abs diff {np.abs(a - b).max()}"
        )


SOLVERS = [
    dict(solver="adam"),
    dict(solver="adam", alpha=0.1, beta_1=0.8, epsilon=1e-6),
    dict(solver="sgd", learning_rate_init=0.05),
    dict(solver="sgd", learning_rate_init=0.05, nesterovs_momentum=False),
    dict(solver="sgd", learning_rate_init=0.05, momentum=0.0),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1, power_t=0.3),
    dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=1, tol=0.5),
    dict(solver="adam", shuffle=False, batch_size=64),
]


@pytest.mark.parametrize(
    "params", SOLVERS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items())
)
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_sklearn_mlp_classifier_loss_curve_matches_scikit_learn(digits, params, activation):
    X, y = digits
    common = dict(
        hidden_layer_sizes=(32, 16), activation=activation, max_iter=6, random_state=3, **params
    )
    ours = _fit_quietly(MLPClassifier(**common), X, y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    assert ours.coefs_[0].dtype == np.float64
    _assert_same_model(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-12
    )


def test_sklearn_mlp_classifier_float32_matches_scikit_learn_to_float32_tolerance(digits):
    X, y = digits
    X = X.astype(np.float32)
    common = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    ours = _fit_quietly(MLPClassifier(**common), X, y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    assert ours.coefs_[0].dtype == np.float32 and ours.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)


def test_sklearn_mlp_same_curve_from_the_same_given_coefs(digits):
    """Feed both libraries scikit-learn's weights, then train both on the same batches."""
    X, y = digits
    common = dict(
        hidden_layer_sizes=(24,), max_iter=1, random_state=0, solver="sgd", learning_rate_init=0.05
    )
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    ours = _fit_quietly(MLPClassifier(**{**common, "random_state": 99}), X, y)
    assert not np.allclose(ours.coefs_[0], theirs.coefs_[0])
    ours.coefs_ = [c.copy() for c in theirs.coefs_]
    ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
    for model in (ours, theirs):
        model.set_params(warm_start=True, max_iter=5, random_state=7)
        _fit_quietly(model, X, y)
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-9)


def test_sklearn_mlp_classifier_early_stopping_matches_scikit_learn(digits):
    X, y = digits
    common = dict(
        hidden_layer_sizes=(16,),
        max_iter=60,
        random_state=1,
        early_stopping=True,
        n_iter_no_change=3,
        tol=1e-2,
        learning_rate_init=0.01,
    )
    ours = _fit_quietly(MLPClassifier(**common), X, y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    assert ours.n_iter_ < 60, "early stopping should stop before max_iter here"
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.best_loss_ is None
    _assert_same_model(ours, theirs, rtol=1e-9)


def test_sklearn_mlp_lbfgs_matches_scikit_learn(digits):
    X, y = digits
    common = dict(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=30, random_state=0, alpha=1e-3)
    ours = _fit_quietly(MLPClassifier(**common), X, y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-6)


def test_sklearn_mlp_multilabel_matches_scikit_learn():
    X, Y = make_multilabel_classification(n_samples=300, n_classes=4, random_state=0)
    common = dict(hidden_layer_sizes=(20,), max_iter=8, random_state=0)
    ours = _fit_quietly(MLPClassifier(**common), X, Y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, Y)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    _assert_same_model(ours, theirs, rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_sklearn_mlp_binary_uses_one_logistic_output(digits):
    X, y = digits
    y = np.where(y > 4, "big", "small")
    common = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    ours = _fit_quietly(MLPClassifier(**common), X, y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    assert ours.n_outputs_ == 1 and ours.out_activation_ == "logistic"
    _assert_same_model(ours, theirs, rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X), rtol=1e-9)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_sklearn_mlp_regressor_matches_scikit_learn(loss, n_targets):
    pytest.importorskip("sklearn", minversion="1.7")  # MLPRegressor's `loss` is new in 1.7
    X, y = make_regression(n_samples=250, n_features=8, n_targets=n_targets, random_state=0)
    y = y / np.abs(y).max()
    if loss == "poisson":
        y = np.exp(y)
    common = dict(loss=loss, hidden_layer_sizes=(16,), max_iter=6, random_state=0, alpha=0.01)
    ours = _fit_quietly(MLPRegressor(**common), X, y)
    theirs = _fit_quietly(sk.MLPRegressor(**common), X, y)
    _assert_same_model(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)
    assert ours.predict(X).shape == y.shape


def test_sklearn_mlp_sample_weight_matches_scikit_learn(digits):
    pytest.importorskip("sklearn", minversion="1.7")  # MLP's fit(sample_weight=) is new in 1.7
    X, y = digits
    weights = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    common = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0)
    ours = _fit_quietly(MLPClassifier(**common), X, y, sample_weight=weights)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y, sample_weight=weights)
    _assert_same_model(ours, theirs, rtol=1e-9)


def test_sklearn_mlp_partial_fit_matches_scikit_learn(digits):
    X, y = digits
    ours, theirs = (
        cls(hidden_layer_sizes=(16,), random_state=0) for cls in (MLPClassifier, sk.MLPClassifier)
    )
    for model in (ours, theirs):
        model.partial_fit(X[:300], y[:300], classes=np.arange(10))
        model.partial_fit(X[300:], y[300:])
    _assert_same_model(ours, theirs, rtol=1e-9)
    with pytest.raises(ValueError, match="classes not in"):
        ours.partial_fit(X, y + 20)


def test_sklearn_mlp_warns_convergence_like_scikit_learn(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "given, dtype, expected",
    [
        (np.float64, None, np.float64),
        (np.float32, None, np.float32),
        (np.uint8, None, np.float32),
        (np.int64, None, np.float32),
        (np.float64, "float32", np.float32),
        (np.float32, "float64", np.float64),
        (np.float64, np.float32, np.float32),
        (np.uint8, np.dtype("float64"), np.float64),
    ],
)
def test_sklearn_mlp_training_dtype(digits, given, dtype, expected):
    X, y = digits
    X = (X * 16).astype(given)
    model = _fit_quietly(
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0, dtype=dtype), X, y
    )
    assert all(c.dtype == expected for c in model.coefs_ + model.intercepts_)
    assert model.predict_proba(X).dtype == expected
    assert model.predict_proba(X.astype(np.float64)).dtype == expected


def test_sklearn_mlp_n_threads_caps_and_restores_the_kernels_threads(digits, monkeypatch):
    X, y = digits
    denseops.set_num_threads(2)
    seen = []
    original = denseops.link_loss

    def spy(*args, **kwargs):
        seen.append(denseops.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(denseops, "link_loss", spy)
    _fit_quietly(MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, n_threads=1), X, y)
    assert seen and set(seen) == {1}
    assert denseops.get_num_threads() == 2


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(dtype="int8"), "dtype"),
        (dict(n_threads=0), "n_threads"),
        (dict(solver="newton"), "solver"),
        (dict(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes must be > 0"),
        (dict(momentum=1.5), "momentum"),
    ],
)
def test_sklearn_mlp_rejects_bad_parameters_with_their_name(digits, params, match):
    X, y = digits
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        MLPClassifier(**params).fit(X, y)


def test_sklearn_mlp_refuses_sparse_input_with_scikit_learns_message(digits):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = digits
    with pytest.raises(TypeError, match="dense data is required"):
        MLPClassifier(max_iter=1).fit(sparse.csr_matrix(X), y)


def test_sklearn_mlp_user_guide_examples_run_with_only_the_import_changed():
    """The examples of scikit-learn's user guide, "Neural network models (supervised)"."""
    X = [[0.0, 0.0], [1.0, 1.0]]
    y = [0, 1]
    clf = MLPClassifier(solver="lbfgs", alpha=1e-5, hidden_layer_sizes=(5, 2), random_state=1)
    clf.fit(X, y)
    assert clf.predict([[2.0, 2.0], [-1.0, -2.0]]).tolist() == [1, 0]
    assert [coef.shape for coef in clf.coefs_] == [(2, 5), (5, 2), (2, 1)]
    proba = clf.predict_proba([[2.0, 2.0], [1.0, 2.0]])
    np.testing.assert_allclose(proba, [[1.967e-04, 9.998e-01], [1.967e-04, 9.998e-01]], rtol=1e-3)

    y = [[0, 1], [1, 1]]
    clf = MLPClassifier(solver="lbfgs", alpha=1e-5, hidden_layer_sizes=(15,), random_state=1)
    clf.fit(X, y)
    assert clf.predict([[1.0, 2.0]]).tolist() == [[1, 1]]
    assert clf.predict([[0.0, 0.0]]).tolist() == [[0, 1]]

    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    scores = []
    for cls in (MLPClassifier, sk.MLPClassifier):
        search = GridSearchCV(
            make_pipeline(StandardScaler(), cls(max_iter=20, random_state=0)),
            {"mlpclassifier__alpha": 10.0 ** -np.arange(1, 3)},
            cv=2,
        )
        scores.append(_fit_quietly(search, X[:400], y[:400]).cv_results_["mean_test_score"])
    np.testing.assert_allclose(scores[0], scores[1])


def test_sklearn_mlp_predicts_many_rows_block_by_block_like_scikit_learn(digits):
    X, y = digits
    common = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    ours = _fit_quietly(MLPClassifier(**common), X, y)
    theirs = _fit_quietly(sk.MLPClassifier(**common), X, y)
    many = np.random.default_rng(0).random((9001, X.shape[1]))  # spans three 4096-row blocks
    np.testing.assert_allclose(ours.predict_proba(many), theirs.predict_proba(many), rtol=1e-9)


@pytest.mark.parametrize(
    "ours, theirs", [(MLPClassifier, sk.MLPClassifier), (MLPRegressor, sk.MLPRegressor)]
)
def test_sklearn_mlp_signature_is_scikit_learns_plus_dtype_and_n_threads(ours, theirs):
    if ours is MLPRegressor:
        pytest.importorskip("sklearn", minversion="1.7")  # MLPRegressor's `loss` is new in 1.7
    ours_parameters = list(inspect.signature(ours).parameters.values())
    theirs_parameters = list(inspect.signature(theirs).parameters.values())
    assert [(p.name, p.kind, p.default) for p in ours_parameters[:-2]] == [
        (p.name, p.kind, p.default) for p in theirs_parameters
    ]
    assert [p.name for p in ours_parameters[-2:]] == ["dtype", "n_threads"]
    assert ours().get_params() == {**theirs().get_params(), "dtype": None, "n_threads": None}


def test_sklearn_mlp_pickle_carries_the_denseops_version_and_warns_on_another(digits):
    import pickle

    from denseops.sklearn import InconsistentVersionWarning

    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    state = clf.__getstate__()
    assert state["_denseops_version"] == denseops.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same release loads it silently
        same = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(same.predict(X), clf.predict(X))
    for stored, shown in (("0.0.1", "0.0.1"), (None, "unknown")):
        changed = dict(state)
        if stored is None:
            del changed["_denseops_version"]
        else:
            changed["_denseops_version"] = stored
        other = MLPClassifier.__new__(MLPClassifier)
        with pytest.warns(InconsistentVersionWarning, match=rf"from denseops version {shown}"):
            other.__setstate__(changed)
        assert "_denseops_version" not in other.__dict__
        np.testing.assert_array_equal(other.predict(X), clf.predict(X))
