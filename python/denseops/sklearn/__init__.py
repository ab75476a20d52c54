"""scikit-learn drop-ins on denseops kernels: ``MLPClassifier`` and ``MLPRegressor``.

Replace the import and keep the code::

    from denseops.sklearn import MLPClassifier   # was: from sklearn.neural_network import ...
    clf = MLPClassifier(hidden_layer_sizes=(512,), batch_size=128, max_iter=5)
    clf.fit(X_train, y_train).score(X_test, y_test)

Needs scikit-learn: ``pip install "denseops[sklearn]"``. With skl2onnx installed,
``skl2onnx.to_onnx(clf, X)`` converts them as it converts scikit-learn's MLPs.
"""

try:
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'denseops.sklearn needs scikit-learn; install it with pip install "denseops[sklearn]"'
    ) from error

from denseops.sklearn._mlp import MLPClassifier, MLPRegressor
from denseops.sklearn._onnx import register_onnx_converters, register_when_imported
from denseops.sklearn._versions import InconsistentVersionWarning

# skl2onnx.to_onnx(estimator, X) converts them once skl2onnx is imported.
register_when_imported()

__all__ = [
    "InconsistentVersionWarning",
    "MLPClassifier",
    "MLPRegressor",
    "register_onnx_converters",
]
