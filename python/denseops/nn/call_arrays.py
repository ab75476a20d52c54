"""The arrays that Keras's standalone calls, ``loss(y_true, y_pred)`` and
``metric.update_state(y_true, y_pred)``, hand to the kernels.

Inside ``fit`` the model prepares them once per run; called by hand, these
take any array-like, as Keras does.
"""

import numpy as np


def prediction_rows(y_pred):
    """``y_pred`` as a C-contiguous float32/float64 (samples, outputs) array.

    Other dtypes become float32; a 1-D array is one output per sample.
    """
    y_pred = np.asarray(y_pred)
    if y_pred.dtype not in (np.float32, np.float64):
        y_pred = y_pred.astype(np.float32)
    if y_pred.ndim == 1:
        y_pred = y_pred.reshape(-1, 1)
    return np.ascontiguousarray(y_pred)


def sample_weights_for(y_pred, sample_weight):
    """``sample_weight`` as one weight per row of ``y_pred``, of its dtype (None stays None)."""
    if sample_weight is None:
        return None
    return np.ascontiguousarray(sample_weight, dtype=y_pred.dtype).reshape(-1)
