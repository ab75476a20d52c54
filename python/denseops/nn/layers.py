"""Layers with explicit forward and backward passes.

Gradients overwrite: every ``backward`` call replaces ``grads`` with the
gradients of the current batch (nothing accumulates across calls), which is
what one optimizer step per batch needs.
"""

import numpy as np

import denseops as ops
from denseops.nn import activations, initializers


class Layer:
    """Base class of the layers of a ``Sequential`` model.

    A layer maps a (batch, features) array to a (batch, units) array.
    ``forward`` caches only what ``backward`` needs; ``backward(dout)`` fills
    the gradients (overwriting the previous ones) and returns ``dx``.
    """

    def __init__(self, name=None):
        self.name = name
        self.built = False

    @property
    def weights(self):
        """The trainable arrays, updated in place by optimizers."""
        return []

    @property
    def grads(self):
        """The gradients of the last ``backward`` call, aligned with ``weights``."""
        return []

    def build(self, input_dim, dtype, rng):
        """Creates the weights for inputs of ``input_dim`` features."""
        self.built = True

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout, need_dx=True):
        raise NotImplementedError


class Dense(Layer):
    """A fully connected layer: ``y = activation(x @ kernel + bias)``.

    Built lazily on its first input, as in Keras, or eagerly when the input
    size is given first, as in the from-scratch textbook::

        Dense(512, activation="relu")          # input size taken from the data
        Dense(784, 512, activation="relu")     # input_size, output_size

    Args:
        units: output size (or, with two sizes, the input size).
        output_size: when given, ``units`` is the input size and this the output size.
        activation: "relu", "softmax", None (linear), or an ``Activation``.
        use_bias: whether to add a bias vector.
        kernel_initializer: Keras name ("glorot_uniform", "he_normal",
            "random_uniform", "textbook_uniform", "zeros", ...) or a callable
            ``f(shape, dtype, rng)``.
        bias_initializer: the same, for the bias (default "zeros").
        dtype: float32 (default) or float64.
        seed: seeds the initializers when the layer is built eagerly.
        name: the layer's name in ``summary()`` and error messages.

    Input shape:
        ``(batch, input_dim)``.

    Output shape:
        ``(batch, units)``.

    Example:
        >>> import numpy as np
        >>> layer = Dense(3, 2, activation="relu", seed=0)
        >>> layer.forward(np.ones((4, 3), np.float32)).shape
        (4, 2)
    """

    def __init__(self, units, output_size=None, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 dtype="float32", seed=None, name=None):
        super().__init__(name)
        input_dim = None
        if output_size is not None:
            input_dim, units = units, output_size
        self.units = _positive_int("units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"Dense dtype must be float32 or float64. Received: dtype={dtype}")
        self.input_dim = None
        self.kernel = self.bias = None
        self.d_kernel = self.d_bias = None
        self._x = self._y = None
        self._buffers = {}
        if input_dim is not None:
            self.build(_positive_int("input_size", input_dim), self.dtype,
                       np.random.default_rng(seed))

    def build(self, input_dim, dtype, rng):
        self.input_dim = input_dim
        self.dtype = np.dtype(dtype)
        shape = (input_dim, self.units)
        self.kernel = np.ascontiguousarray(self.kernel_initializer(shape, self.dtype, rng),
                                           dtype=self.dtype)
        self.d_kernel = np.zeros_like(self.kernel)
        if self.use_bias:
            self.bias = np.ascontiguousarray(
                self.bias_initializer((self.units,), self.dtype, rng), dtype=self.dtype)
            self.d_bias = np.zeros_like(self.bias)
        self._buffers.clear()
        self.built = True

    @property
    def weights(self):
        return [self.kernel, self.bias] if self.use_bias else [self.kernel]

    @property
    def grads(self):
        return [self.d_kernel, self.d_bias] if self.use_bias else [self.d_kernel]

    def _scratch(self, batch):
        """Output and dx arrays for this batch size, allocated once and reused."""
        buffers = self._buffers.get(batch)
        if buffers is None:
            if len(self._buffers) > 4:  # a handful of batch sizes is all fit/predict use
                self._buffers.clear()
            buffers = {
                "y": np.empty((batch, self.units), self.dtype),
                "dz": np.empty((batch, self.units), self.dtype),
                "dx": np.empty((batch, self.input_dim), self.dtype),
            }
            self._buffers[batch] = buffers
        return buffers

    def check_input(self, x):
        """Raises a ValueError unless ``x`` is (batch, input_dim) of this layer's dtype."""
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            hint = ""
            if x.ndim > 2:
                hint = "; flatten images first, e.g. x.reshape(len(x), -1)"
            raise ValueError(
                f"Dense layer {self.name!r} expects input of shape (batch, {self.input_dim}). "
                f"Received: shape {x.shape}{hint}")

    def forward(self, x, return_logits=False):
        """Returns the layer output for ``x`` (batch, input_dim).

        With ``return_logits`` the activation is skipped and the
        pre-activation is returned; the model uses this to fuse a final
        softmax into the cross-entropy loss. The returned array is a buffer
        of the layer, overwritten by the next call with the same batch size.
        """
        self.check_input(x)
        buffers = self._scratch(x.shape[0])
        # z (batch, units) = x (batch, input_dim) @ kernel (input_dim, units) [+ bias]
        z = ops.matmul(x, self.kernel, out=buffers["y"])
        if self.use_bias:
            ops.add(z, self.bias, out=z)
        self._x = x
        self._y = z if return_logits else self.activation.forward(z, out=z)
        return self._y

    def backward(self, dout, need_dx=True, from_logits=False):
        """Fills ``grads`` from ``dout`` = d(loss)/d(output) and returns d(loss)/dx.

        ``from_logits`` says ``dout`` is already the gradient w.r.t. the
        pre-activation (the fused softmax + cross-entropy path). The first
        layer passes ``need_dx=False`` and skips one matmul.
        """
        buffers = self._scratch(dout.shape[0])
        dz = dout if from_logits else self.activation.backward(dout, self._y, out=buffers["dz"])
        # d_kernel (input_dim, units) = x.T (input_dim, batch) @ dz (batch, units)
        ops.matmul(self._x, dz, out=self.d_kernel, trans_a=True)
        if self.use_bias:
            ops.column_sums(dz, out=self.d_bias)
        if not need_dx:
            return None
        # dx (batch, input_dim) = dz (batch, units) @ kernel.T (units, input_dim)
        return ops.matmul(dz, self.kernel, out=buffers["dx"], trans_b=True)

    def count_params(self):
        return 0 if not self.built else sum(w.size for w in self.weights)

    def get_config(self):
        return {
            "class": "Dense",
            "name": self.name,
            "units": self.units,
            "input_dim": self.input_dim,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
            "dtype": self.dtype.name,
            "kernel_initializer": initializers.name_of(self.kernel_initializer),
            "bias_initializer": initializers.name_of(self.bias_initializer),
        }

    def __repr__(self):
        return (f"Dense(units={self.units}, activation={self.activation.name!r}, "
                f"input_dim={self.input_dim})")


def _positive_int(argument, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer. Received: {argument}={value!r}")
    return int(value)
