"""Inference through a whole Sequential of Dense layers in one kernel call.

``_kernels._network_forward`` runs every layer's product, bias and
activation for a batch in C++ with the GIL released: one crossing from
Python per call instead of two or three per layer. It calls the same kernels
in the same order as ``Dense.infer``, so the results are bit-identical to
the per-layer path on the same batch; models it does not cover (a layer of
another type, a subclass, a custom activation) keep that path.
"""

from denseops import _kernels
from denseops.nn.activations import ElementwiseActivation, Linear, Softmax
from denseops.nn.layers import Dense, Dropout, Flatten

# The exact classes the kernel knows: a subclass may compute something else.
_ELEMENTWISE = (ElementwiseActivation, Linear)


def network_steps(layers, logits=False, ndim=2):
    """``[(kernel, bias, activation, alpha)]`` of the Dense layers, or None.

    Dropout is the identity at inference and is skipped; Flatten layers
    before the first Dense are a reshape of the rows the caller makes
    (``ndim`` is that of the input: above 2 needs such a Flatten). None
    means the per-layer path must run: a layer of another kind, an
    activation the kernel does not know, or no Dense layer at all. With
    ``logits`` the last layer's activation is left out (the fused loss
    applies it), as ``Dense.infer(return_logits=True)`` does.
    """
    steps = []
    flattened = ndim == 2
    for layer in layers:  # plain loops and type checks: this runs on every predict
        kind = type(layer)
        if kind is Dropout:
            continue
        if kind is Flatten and not steps:
            flattened = True
            continue
        if kind is not Dense or not flattened or layer._precision is not None:
            return None  # (a bfloat16 policy: its products run in matmul's bf16 path)
        activation = layer.activation
        if type(activation) in _ELEMENTWISE:
            steps.append((layer.kernel, layer.bias, activation.name, activation.alpha))
        elif type(activation) is Softmax:
            steps.append((layer.kernel, layer.bias, "softmax", 0.0))
        else:
            return None
    if not steps:
        return None
    if logits:
        if type(layers[-1]) is not Dense:
            return None
        kernel, bias, _, _ = steps[-1]
        steps[-1] = (kernel, bias, "linear", 0.0)
    return steps


def network_forward(x, steps, chunk):
    """``x`` (batch, features) through ``steps``, ``chunk`` rows at a time, into a new array."""
    return _kernels._network_forward(x, steps, chunk=chunk)
