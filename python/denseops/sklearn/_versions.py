"""A denseops version in every pickled estimator, and a warning when it differs.

scikit-learn stores its own version in a pickle and warns when another
release loads it (``InconsistentVersionWarning``): the fitted attributes of
one release may not mean the same in another. denseops estimators hold
state that denseops defines, so they carry denseops' version the same way.
"""

import warnings

import denseops

_KEY = "_denseops_version"


class InconsistentVersionWarning(UserWarning):
    """An estimator pickled by another denseops release (or one too old to say) was loaded."""

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from denseops version "
            f"{self.original_version} when using version {self.current_version}. This might "
            "lead to breaking code or invalid results. Use at your own risk."
        )


class VersionedPickle:
    """Mixin for the estimators: puts denseops' version in the pickled state."""

    def __getstate__(self):
        state = super().__getstate__()
        return {**state, _KEY: denseops.__version__}

    def __setstate__(self, state):
        state = dict(state)
        original = state.pop(_KEY, "unknown (a release that did not record it)")
        if original != denseops.__version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=denseops.__version__,
                    original_version=original,
                ),
                stacklevel=2,
            )
        super().__setstate__(state)
