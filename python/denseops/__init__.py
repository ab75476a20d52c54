"""denseops: small, fast, honest deep-learning kernels.

Hand-written C++ kernels (SIMD + OpenMP) for the building blocks of a dense
neural network, taking and returning NumPy arrays::

    >>> import numpy as np
    >>> from denseops import matmul, relu
    >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
    >>> relu(matmul(a, b)).shape
    (2, 4)
"""

import os as _os

# Idle OpenMP threads: libgomp's default spins 300000 times (a few ms) before
# sleeping, after every parallel region. Training runs thousands of short
# regions, so on a shared machine the idle thread keeps its core busy in every
# gap and steals the time another process (or our own other thread) needs: an
# MNIST epoch went from 0.9 s to ~5 s next to one busy process. 3000 spins
# (tens of microseconds) still bridge the gaps between the kernels of one
# training step, so a quiet machine rarely pays for a wake-up. Set here, before
# the extension module loads libgomp (which reads it once, at load), and only
# if the user chose no wait policy. See README "Guarantees".
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "3000"

from denseops._kernels import (  # noqa: E402 - after the OpenMP setting above
    __version__,
    activation,
    activation_backward,
    adagrad_update,
    adam_update,
    adamax_update,
    adamw_update,
    add,
    axpy,
    batch_normalization,
    batch_normalization_backward,
    column_sums,
    dot,
    dropout,
    get_arch,
    get_num_threads,
    layer_normalization,
    layer_normalization_backward,
    link_activation,
    link_loss,
    loss,
    matmul,
    metric,
    nadam_update,
    relu,
    relu_backward,
    rmsprop_update,
    set_arch,
    set_num_threads,
    sgd_update,
    softmax,
    softmax_backward,
    softmax_cross_entropy,
    sparse_softmax_cross_entropy,
    weight_penalty,
)
from denseops.argument_errors import explain_argument_errors as _explain_argument_errors
from denseops.config import apply_arch_from_environment, show_config
from denseops.threads import local_threads

apply_arch_from_environment()

__all__ = [
    "__version__",
    "activation",
    "activation_backward",
    "adam_update",
    "add",
    "column_sums",
    "dot",
    "dropout",
    "get_arch",
    "get_num_threads",
    "local_threads",
    "loss",
    "matmul",
    "metric",
    "relu",
    "relu_backward",
    "rmsprop_update",
    "set_arch",
    "set_num_threads",
    "sgd_update",
    "show_config",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
    "weight_penalty",
    "link_activation",
    "link_loss",
    "axpy",
    "adagrad_update",
    "adamax_update",
    "nadam_update",
    "adamw_update",
    "batch_normalization",
    "batch_normalization_backward",
    "layer_normalization",
    "layer_normalization_backward",
]

# A missing or mistyped argument says which one, instead of pybind11's dump of every array.
for _name in __all__:
    if _name not in ("__version__", "show_config", "local_threads"):
        globals()[_name] = _explain_argument_errors(globals()[_name])
del _name
