"""Activations: Keras 3's names and formulas, forward and backward as kernels.

Each activation is an object with ``forward(z, out, bias)`` (the bias add is
fused into the same pass) and ``backward(dout, y, z, out)``. Most kinds
differentiate from their output ``y`` alone; ``needs_input`` says when the
pre-activation ``z`` must be kept too (gelu, swish).

The module-level names (``relu``, ``sigmoid``, ...) are callables, so both
``Dense(1, activation="sigmoid")`` and ``activation=activations.sigmoid`` work,
and ``activations.sigmoid(x)`` computes on an array as in Keras.
"""

import numpy as np

import denseops as ops


class Activation:
    """Base class. Subclass it to add an activation usable in ``Dense``.

    Attributes:
        name: the name used in ``summary()`` and saved models.
        needs_input: whether ``backward`` needs the pre-activation ``z``.
    """

    name = "activation"
    needs_input = False

    def forward(self, z, out=None, bias=None):
        """Returns the activation of ``z + bias``, written into ``out`` when given."""
        raise NotImplementedError

    def backward(self, dout, y, z=None, out=None):
        """Returns d(loss)/dz given d(loss)/dy ``dout``, the output ``y`` (and ``z``)."""
        raise NotImplementedError

    def __call__(self, x):
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float32)
        return self.forward(x)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return self.name


class ElementwiseActivation(Activation):
    """An activation computed by the ``activation`` kernel (see its docstring).

    ``alpha`` (elu's alpha, leaky_relu's negative slope) may be any finite
    number; with a negative one, elu and leaky_relu keep the pre-activation
    for their gradient (their output's sign no longer tells the branch).
    """

    def __init__(self, name, alpha=0.0, needs_input=False):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)):
            raise TypeError(f"{name}: alpha must be a number. Received: alpha={alpha!r}")
        if not np.isfinite(alpha):
            raise ValueError(f"{name}: alpha must be finite. Received: alpha={alpha!r}")
        self.name = name
        self.alpha = float(alpha)
        self.needs_input = needs_input or (name in ("elu", "leaky_relu") and self.alpha < 0)

    def forward(self, z, out=None, bias=None):
        return ops.activation(z, self.name, bias=bias, out=out, alpha=self.alpha)

    def backward(self, dout, y, z=None, out=None):
        return ops.activation_backward(dout, y, self.name, z=z, out=out, alpha=self.alpha)


class Softmax(Activation):
    """``exp(z) / sum(exp(z))`` over the last axis of a (batch, classes) array."""

    name = "softmax"

    def forward(self, z, out=None, bias=None):
        if bias is not None:
            z = ops.add(z, bias, out=out)
        return ops.softmax(z, out=out)

    def backward(self, dout, y, z=None, out=None):
        return ops.softmax_backward(dout, y, out=out)


class Linear(ElementwiseActivation):
    """The identity: ``activation=None`` or ``"linear"``."""

    def __init__(self):
        super().__init__("linear")

    def forward(self, z, out=None, bias=None):
        if bias is not None:
            return ops.add(z, bias, out=out)
        if out is None or out is z:
            return z
        np.copyto(out, z)
        return out

    def backward(self, dout, y, z=None, out=None):
        return dout


relu = ElementwiseActivation("relu")
sigmoid = ElementwiseActivation("sigmoid")
tanh = ElementwiseActivation("tanh")
elu = ElementwiseActivation("elu", alpha=1.0)  # Keras: elu(x, alpha=1.0)
selu = ElementwiseActivation("selu")
gelu = ElementwiseActivation("gelu", needs_input=True)  # Keras 3: approximate=False
leaky_relu = ElementwiseActivation("leaky_relu", alpha=0.2)  # Keras 3: negative_slope=0.2
softplus = ElementwiseActivation("softplus")
swish = ElementwiseActivation("swish", needs_input=True)
silu = swish  # Keras 3 names it both ways
softmax = Softmax()
linear = Linear()

_BY_NAME = {
    a.name: a
    for a in (relu, sigmoid, tanh, elu, selu, gelu, leaky_relu, softplus, swish, softmax, linear)
}
_BY_NAME["silu"] = swish


def get(identifier):
    """Returns the activation for a Keras name, ``None`` or an ``Activation``.

    >>> get("relu")
    relu
    >>> get(None)
    linear
    """
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier.lower()]
        except KeyError:
            raise ValueError(
                f"Unknown activation: {identifier!r}. Expected one of {sorted(_BY_NAME)} or None."
            ) from None
    raise TypeError(
        "activation must be a name, None or a denseops.nn.activations.Activation "
        "(which defines forward and backward; a plain function has no gradient here). "
        f"Received: {identifier!r}"
    )


def serialize(activation):
    """The name a saved model stores; refuses activations it could not restore."""
    if _BY_NAME.get(activation.name) is activation:
        return activation.name
    if isinstance(activation, ElementwiseActivation) and activation.name in _BY_NAME:
        return {"name": activation.name, "alpha": activation.alpha}
    raise ValueError(
        f"Cannot save activation {activation!r} of class {type(activation).__name__}: only the "
        f"built-in activations {sorted(_BY_NAME)} can be restored by load()"
    )


def deserialize(config):
    if isinstance(config, dict):
        base = get(config["name"])
        return ElementwiseActivation(
            base.name, alpha=config.get("alpha", 0.0), needs_input=base.needs_input
        )
    return get(config)
