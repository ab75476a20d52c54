"""Activations: a forward function and the backward it needs, both kernels.

Each activation is an object with ``forward(z, out)`` and
``backward(dout, y, out)``, where ``y`` is the forward output: relu and
softmax can both differentiate from their output alone, so layers never
keep the pre-activation around.
"""

import denseops as ops


class Activation:
    """Base class. Subclass it to add an activation usable in ``Dense``.

    Args:
        name: the name used in ``summary()`` and saved models.
    """

    name = "activation"

    def forward(self, z, out=None):
        """Returns the activation of ``z``, written into ``out`` when given."""
        raise NotImplementedError

    def backward(self, dout, y, out=None):
        """Returns d(loss)/dz given d(loss)/dy ``dout`` and the output ``y``."""
        raise NotImplementedError

    def __call__(self, z):
        return self.forward(z)

    def __repr__(self):
        return self.name


class ReLU(Activation):
    """``max(z, 0)``; its gradient passes ``dout`` where ``y > 0``."""

    name = "relu"

    def forward(self, z, out=None):
        return ops.relu(z, out=out)

    def backward(self, dout, y, out=None):
        return ops.relu_backward(dout, y, out=out)


class Softmax(Activation):
    """``exp(z) / sum(exp(z))`` over the last axis of a (batch, classes) array."""

    name = "softmax"

    def forward(self, z, out=None):
        return ops.softmax(z, out=out)

    def backward(self, dout, y, out=None):
        return ops.softmax_backward(dout, y, out=out)


class Linear(Activation):
    """The identity: ``activation=None``."""

    name = "linear"

    def forward(self, z, out=None):
        return z

    def backward(self, dout, y, out=None):
        return dout


relu = ReLU()
softmax = Softmax()
linear = Linear()

_BY_NAME = {"relu": relu, "softmax": softmax, "linear": linear}


def get(identifier):
    """Returns the activation for a name, ``None`` or an ``Activation``.

    >>> get("relu")
    relu
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
                f"Unknown activation: {identifier!r}. Expected one of "
                f"{sorted(_BY_NAME)} or None.") from None
    raise TypeError(
        "activation must be a name, None or a denseops.nn.activations.Activation "
        f"(which defines forward and backward). Received: {identifier!r}")
