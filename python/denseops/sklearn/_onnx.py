"""skl2onnx converts the drop-ins as it converts scikit-learn's own MLPs.

The fitted attributes are scikit-learn's (``coefs_``, ``intercepts_``,
``n_layers_``, ``activation``, ``out_activation_``, ``classes_``,
``_label_binarizer``), so skl2onnx's own MLP shape calculators and
converters apply unchanged: they are registered for the denseops classes,
not copied. skl2onnx takes over a second to import, so ``denseops.sklearn``
does not import it: the registration runs when skl2onnx is imported (or at
once if it already is), so ``skl2onnx.to_onnx(estimator, X)`` works in
either import order.
"""

import importlib.abc
import importlib.util
import sys
import warnings

from denseops.sklearn._mlp import MLPClassifier, MLPRegressor

# skl2onnx's MLP converter knows scikit-learn's activations; the Poisson
# loss's "exp" output is not among them.
_ONNX_ACTIVATIONS = {"identity", "logistic", "tanh", "relu", "softmax"}


def register_onnx_converters():
    """Registers the drop-ins with skl2onnx (idempotent); needs skl2onnx installed."""
    from skl2onnx import update_registered_converter
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
        convert_sklearn_mlp_regressor,
    )
    from skl2onnx.shape_calculators.linear_classifier import (
        calculate_linear_classifier_output_shapes,
    )
    from skl2onnx.shape_calculators.linear_regressor import (
        calculate_linear_regressor_output_shapes,
    )

    def classifier(scope, operator, container):
        _check_convertible(operator.raw_operator)
        convert_sklearn_mlp_classifier(scope, operator, container)

    def regressor(scope, operator, container):
        _check_convertible(operator.raw_operator)
        convert_sklearn_mlp_regressor(scope, operator, container)

    update_registered_converter(
        MLPClassifier,
        "DenseopsMLPClassifier",
        calculate_linear_classifier_output_shapes,
        classifier,
        # The options skl2onnx registers for scikit-learn's MLPClassifier.
        options={"zipmap": [True, False, "columns"], "output_class_labels": [False, True],
                 "nocl": [True, False]},
    )  # fmt: skip
    update_registered_converter(
        MLPRegressor, "DenseopsMLPRegressor", calculate_linear_regressor_output_shapes, regressor
    )


def _check_convertible(estimator):
    for kind in (estimator.activation, estimator.out_activation_):
        if kind not in _ONNX_ACTIVATIONS:
            raise ValueError(
                f"skl2onnx's MLP converter has no activation {kind!r} (the output of "
                f"loss={getattr(estimator, 'loss', None)!r}); it knows {sorted(_ONNX_ACTIVATIONS)}"
            )


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Finds skl2onnx through the other finders, and registers once it has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "skl2onnx":
            return None
        sys.meta_path.remove(self)  # once: the real finders locate it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def run_then_register(module):
            run(module)
            try:
                register_onnx_converters()
            except (ImportError, AttributeError) as error:  # a skl2onnx of another layout
                warnings.warn(
                    f"denseops could not register its MLPs with skl2onnx ({error})",
                    stacklevel=2,
                )

        spec.loader.exec_module = run_then_register
        return spec


def register_when_imported():
    """Registers now if skl2onnx is loaded, else as soon as it is imported."""
    if "skl2onnx" in sys.modules:
        register_onnx_converters()
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
