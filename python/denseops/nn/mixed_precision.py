"""Keras's dtype policies: ``mixed_precision.set_global_policy("mixed_bfloat16")``.

A policy names the dtype of a layer's variables and the dtype it computes in.
Under ``"mixed_bfloat16"`` the weights and the optimizer's state stay float32;
the products of the layer (``x @ kernel`` and the two of its backward pass)
are computed in bfloat16 with float32 sums, on the AMX or AVX512-BF16 units
where the CPU has them (``denseops.show_config()`` says which path); the bias,
the activations, the loss and softmax stay float32, as Keras keeps its loss
and softmax in float32.

    >>> from denseops.nn import mixed_precision, Dense
    >>> mixed_precision.set_global_policy("mixed_bfloat16")
    >>> Dense(4).dtype_policy.compute_dtype
    'bfloat16'
    >>> mixed_precision.set_global_policy("float32")
"""

import threading

import numpy as np

# policy name -> (variable dtype, compute dtype)
_POLICIES = {
    "float32": ("float32", "float32"),
    "float64": ("float64", "float64"),
    "mixed_bfloat16": ("float32", "bfloat16"),
}


class DTypePolicy:
    """A dtype policy, as ``keras.DTypePolicy``.

    Args:
        name: "float32", "float64" or "mixed_bfloat16".
    """

    def __init__(self, name="float32"):
        if isinstance(name, DTypePolicy):
            name = name.name
        if not isinstance(name, str) or name not in _POLICIES:
            raise ValueError(
                f"Unknown dtype policy {name!r}; expected one of {sorted(_POLICIES)} "
                "('mixed_float16' and 'bfloat16' variables are not supported)"
            )
        self.name = name
        self.variable_dtype, self.compute_dtype = _POLICIES[name]

    @property
    def matmul_precision(self):
        """What a layer passes to ``matmul(..., precision=)``: None or "bfloat16"."""
        return "bfloat16" if self.compute_dtype == "bfloat16" else None

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


Policy = DTypePolicy  # Keras 2's name, still in keras.mixed_precision

_global = DTypePolicy("float32")
_lock = threading.Lock()


def set_global_policy(policy):
    """Sets the policy of the layers created after it without a ``dtype`` of their own.

    Args:
        policy: a policy name or a ``DTypePolicy``.
    """
    global _global
    new = DTypePolicy(policy)
    with _lock:
        _global = new


def global_policy():
    """The policy of layers created without a ``dtype``."""
    return _global


def policy_of(dtype):
    """The policy for a layer's ``dtype`` argument: None (the global policy), a
    policy name, a ``DTypePolicy``, or a NumPy float32/float64 dtype."""
    if dtype is None:
        return _global
    if isinstance(dtype, (str, DTypePolicy)) and (
        isinstance(dtype, DTypePolicy) or dtype in _POLICIES
    ):
        return DTypePolicy(dtype)
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name in ("float32", "float64"):
        return DTypePolicy(name)
    raise TypeError(
        f"dtype must be float32, float64, 'mixed_bfloat16' or a DTypePolicy. Received: "
        f"dtype={dtype}"
    )
