"""scikit-learn's own estimator test suite on denseops' MLPClassifier and MLPRegressor.

No check is skipped or expected to fail: scikit-learn declares none for its
own MLPs either. As scikit-learn does for its MLPs in this suite
(``_test_common/instance_generator.py``), max_iter is 100 to keep it fast,
and the sample-weight equivalence check runs with the full-batch solver
L-BFGS (classifier) / SGD with tol=1e-2 (regressor), where weighting a
sample and repeating it are the same computation.
"""

import pytest

pytest.importorskip("sklearn", reason="the [sklearn] extra is not installed")

from denseops.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

_PER_CHECK_PARAMS = {
    MLPClassifier: {"check_sample_weight_equivalence_on_dense_data": dict(solver="lbfgs")},
    MLPRegressor: {
        "check_sample_weight_equivalence_on_dense_data": dict(
            solver="sgd", tol=1e-2, random_state=42
        )
    },
}


def _estimators():
    return [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)]


@parametrize_with_checks(_estimators())
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_estimator_check(estimator, check):
    name = getattr(check, "func", check).__name__
    params = _PER_CHECK_PARAMS[type(estimator)].get(name)
    if params:  # on a copy: the instance is shared by every check
        estimator = clone(estimator).set_params(**params)
    check(estimator)
