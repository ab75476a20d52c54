"""Layers with explicit forward and backward passes.

Gradients overwrite: every ``backward`` call replaces ``grads`` with the
gradients of the current batch (nothing accumulates across calls), which is
what one optimizer step per batch needs.
"""

import numpy as np

import denseops as ops
from denseops.argument_errors import check_count, kernel_dtype
from denseops.nn import activations, initializers, regularizers
from denseops.nn.mixed_precision import policy_of
from denseops.nn.naming import snake_case, unique_name


class Layer:
    """Base class of the layers of a ``Sequential`` model.

    A layer maps a (batch, features) array to a (batch, units) array.
    ``forward`` caches only what ``backward`` needs; ``backward(dout)`` fills
    the gradients (overwriting the previous ones) and returns ``dx``.

    Args:
        name: the layer's name in ``summary()`` and error messages.
        input_shape: ``(features,)`` on the first layer of a model, as in
            Keras (the same as putting ``Input(shape=(features,))`` first).
    """

    def __init__(self, name=None, input_shape=None, input_dim=None):
        # Keras's automatic name (dense, dense_1, ...) unless one is given.
        self.name = name if name is not None else unique_name(snake_case(type(self).__name__))
        self.built = False
        # One sample's shape, declared on the first layer of a model (Keras's input_shape).
        self.declared_input_shape = None
        if input_shape is not None:
            self.declared_input_shape = input_shape_tuple("input_shape", input_shape)
        elif input_dim is not None:
            self.declared_input_shape = (check_count("input_dim", input_dim),)
        self._sample_shape = None  # one input sample's shape, once built

    @property
    def declared_input_dim(self):
        """The declared number of input features (None: none declared, or not 1-D)."""
        shape = self.declared_input_shape
        return shape[0] if shape is not None and len(shape) == 1 else None

    @property
    def input_shape(self):
        """``(None, ...)``: the batch axis, then one input sample's shape."""
        return (None, *self.sample_input_shape)

    @property
    def sample_input_shape(self):
        return self._sample_shape if self._sample_shape is not None else (self.input_dim,)

    @property
    def output_shape(self):
        """``(None, units)``: the batch axis, then one output sample's shape."""
        return (None, self.units)

    def build_shape(self, shape, dtype, rng):
        """Builds for input samples of ``shape`` (a tuple, no batch axis) and returns
        the output samples' shape. This base serves layers of (batch, features)
        inputs: any other shape is refused, naming the Flatten that is missing."""
        if len(shape) != 1:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} takes (batch, features) inputs; "
                f"the layer before gives (batch, {', '.join(map(str, shape))}). Put a "
                "Flatten() layer before it"
            )
        if not self.built:
            self.build(shape[0], dtype, rng)
        elif self.input_dim != shape[0]:
            raise ValueError(
                f"Layer {self.name!r} expects {self.input_dim} input features but the "
                f"previous layer gives {shape[0]}"
            )
        return (self.units,)

    @property
    def weights(self):
        """Every array of the layer, as Keras's ``weights``: the trainable ones,
        then the non-trainable ones (BatchNormalization's moving statistics)."""
        return []

    @property
    def trainable_weights(self):
        """The arrays optimizers update in place (all of ``weights`` unless a layer
        says otherwise)."""
        return self.weights

    @property
    def non_trainable_weights(self):
        """The arrays the layer updates itself, never the optimizer."""
        return []

    @property
    def grads(self):
        """The gradients of the last ``backward`` call, aligned with ``trainable_weights``."""
        return []

    def build(self, input_dim, dtype, rng):
        """Creates the weights for inputs of ``input_dim`` features."""
        self.built = True

    def unbuild(self):
        """Drops what ``build`` made (the model undoing a build that failed later)."""
        self.built = False

    def check_input(self, x):
        """Raises a ValueError unless ``x`` is a batch of this layer's input samples."""
        expected = self.sample_input_shape
        if x.shape[1:] != tuple(expected):
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} expects input of shape (batch, "
                f"{', '.join(map(str, expected))}). Received: shape {x.shape}"
            )

    def forward(self, x, training=False):
        raise NotImplementedError

    def infer(self, x):
        """The inference output for ``x`` in new arrays, leaving the layer's saved
        state and buffers alone: safe beside a training step, or another call,
        in another thread (the weights themselves are guarded by the model)."""
        raise NotImplementedError

    def backward(self, dout, need_dx=True):
        raise NotImplementedError

    def regularization_penalty(self, add_gradients=False):
        """The weight penalties of this layer; with ``add_gradients`` their
        gradients are added to ``grads`` (after ``backward`` filled them)."""
        return 0.0

    def get_weights(self):
        """Copies of the weights, as Keras's ``get_weights``."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copies ``weights`` (arrays of the layer's shapes) into the layer."""
        set_weight_list(self.name, self.weights, weights)

    def count_params(self):
        """The number of weights; a ValueError before the layer is built, as in Keras."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                f"built. You can build it manually via: `{self.name}.build(batch_input_shape)`."
            )
        return sum(w.size for w in self.weights)


class _AnyShape:
    """For layers that keep their input's shape (Dropout, Activation): any sample shape."""

    def build_shape(self, shape, dtype, rng):
        if self.built and tuple(self.sample_input_shape) != tuple(shape):
            raise ValueError(
                f"Layer {self.name!r} was built for input samples of shape "
                f"{tuple(self.sample_input_shape)}; the previous layer gives {tuple(shape)}"
            )
        self.build(shape[0] if len(shape) == 1 else None, dtype, rng)
        self._sample_shape = tuple(shape)
        return tuple(shape)

    @property
    def output_shape(self):
        return self.input_shape


class Dense(Layer):
    """A fully connected layer: ``y = activation(x @ kernel + bias)``.

    Built lazily on its first input, as in Keras, or eagerly when the input
    size is given first, as in the from-scratch textbook::

        Dense(512, activation="relu")          # input size taken from the data
        Dense(784, 512, activation="relu")     # input_size, output_size

    Args:
        units: output size (or, with two sizes, the input size).
        output_size: when an int, ``units`` is the input size and this the
            output size; a name or an Activation here is the activation, so
            Keras's positional ``Dense(16, "relu")`` works too.
        activation: a Keras name ("relu", "sigmoid", "tanh", "softmax",
            "elu", "selu", "gelu", "leaky_relu", "softplus", "swish"/"silu",
            "linear"), None (linear), or an ``Activation``.
        use_bias: whether to add a bias vector.
        kernel_initializer: Keras name ("glorot_uniform", "he_normal",
            "random_uniform", "textbook_uniform", "zeros", ...) or a callable
            ``f(shape, dtype, rng)``.
        bias_initializer: the same, for the bias (default "zeros").
        kernel_regularizer: None, "l1", "l2", "l1_l2" or a
            ``denseops.nn.regularizers`` object (e.g. ``regularizers.l2(0.001)``).
        bias_regularizer: the same, for the bias.
        dtype: None (the global policy, float32 unless
            ``mixed_precision.set_global_policy`` changed it), "float32",
            "float64", or "mixed_bfloat16" (float32 weights, products in
            bfloat16 with float32 sums).
        seed: seeds the initializers when the layer is built eagerly.
        name: the layer's name in ``summary()`` and error messages.
        input_shape: ``(features,)``, for the first layer of a model.

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

    def __init__(
        self,
        units,
        output_size=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dtype=None,
        seed=None,
        name=None,
        input_shape=None,
        input_dim=None,
    ):
        super().__init__(name, input_shape=input_shape, input_dim=input_dim)
        if output_size is not None and not isinstance(output_size, (int, np.integer)):
            if activation is not None:
                raise TypeError(
                    f"Dense got two activations: {output_size!r} (second positional argument) "
                    f"and activation={activation!r}"
                )
            output_size, activation = None, output_size
        if output_size is not None:
            self.declared_input_shape = (check_count("input_size", units),)
            units = output_size
        for argument, value in (
            ("activity_regularizer", activity_regularizer),
            ("kernel_constraint", kernel_constraint),
            ("bias_constraint", bias_constraint),
        ):
            if value is not None:
                raise ValueError(
                    f"Dense does not support {argument} yet. Received: {argument}={value!r}"
                )
        self.units = check_count("units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        try:
            self.dtype_policy = policy_of(dtype)
        except (TypeError, ValueError):
            raise TypeError(
                "Dense dtype must be float32 or float64, or the policy 'mixed_bfloat16'. "
                f"Received: dtype={dtype}"
            ) from None
        # The weights' dtype; under "mixed_bfloat16" they stay float32 and only
        # the three products of the layer run in bfloat16 (float32 sums).
        self.dtype = np.dtype(self.dtype_policy.variable_dtype)
        self._precision = self.dtype_policy.matmul_precision
        self.input_dim = None
        self.kernel = self.bias = None
        self.d_kernel = self.d_bias = None
        self._x = self._y = self._z = None
        self._buffers = {}
        if output_size is not None:  # the textbook form builds at once
            self.build(self.declared_input_dim, self.dtype, np.random.default_rng(seed))

    def build(self, input_dim, dtype, rng):
        self.input_dim = input_dim
        self.dtype = np.dtype(dtype)
        shape = (input_dim, self.units)
        try:
            self.kernel = np.ascontiguousarray(
                self.kernel_initializer(shape, self.dtype, rng), dtype=self.dtype
            )
            self.d_kernel = np.zeros_like(self.kernel)
            if self.use_bias:
                self.bias = np.ascontiguousarray(
                    self.bias_initializer((self.units,), self.dtype, rng), dtype=self.dtype
                )
                self.d_bias = np.zeros_like(self.bias)
        except (MemoryError, ValueError) as error:
            self.unbuild()
            gib = 2 * input_dim * self.units * self.dtype.itemsize / 2**30
            raise type(error)(
                f"Dense layer {self.name!r} cannot allocate its kernel of shape {shape} "
                f"{self.dtype.name} and its gradient ({gib:.3g} GiB): {error}"
            ) from error
        self._buffers.clear()
        self.built = True

    def unbuild(self):
        self.kernel = self.bias = self.d_kernel = self.d_bias = None
        self._buffers.clear()
        self.built = False

    @property
    def weights(self):
        if not self.built:
            return []  # Keras: no variables before build
        return [self.kernel, self.bias] if self.use_bias else [self.kernel]

    @property
    def grads(self):
        if not self.built:
            return []
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
            if self.activation.needs_input:  # z and y both live until backward
                buffers["a"] = np.empty((batch, self.units), self.dtype)
            self._buffers[batch] = buffers
        return buffers

    def check_input(self, x):
        """Raises a ValueError unless ``x`` is (batch, input_dim) of this layer's dtype."""
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            hint = ""
            if x.ndim > 2:
                hint = "; put a Flatten() layer first, or flatten: x.reshape(len(x), -1)"
            raise ValueError(
                f"Dense layer {self.name!r} expects input of shape (batch, {self.input_dim}). "
                f"Received: shape {x.shape}{hint}"
            )

    def forward(self, x, training=False, return_logits=False):
        """Returns the layer output for ``x`` (batch, input_dim).

        With ``return_logits`` the activation is skipped and the
        pre-activation is returned; the model uses this to fuse a final
        softmax or sigmoid into the cross-entropy loss. The returned array is
        a buffer of the layer, overwritten by the next call with the same
        batch size.
        """
        self.check_input(x)
        buffers = self._scratch(x.shape[0])
        # z (batch, units) = x (batch, input_dim) @ kernel (input_dim, units) [+ bias]
        z = ops.matmul(x, self.kernel, out=buffers["y"], precision=self._precision)
        self._x = x
        if return_logits:
            if self.use_bias:
                ops.add(z, self.bias, out=z)
            self._y = z
        elif self.activation.needs_input:
            if self.use_bias:
                ops.add(z, self.bias, out=z)
            self._z = z
            self._y = self.activation.forward(z, out=buffers["a"])
        else:
            # The bias add and the activation in one pass over z.
            self._y = self.activation.forward(z, out=z, bias=self.bias)
        return self._y

    def infer(self, x, return_logits=False):
        self.check_input(x)
        # z (batch, units) = x (batch, input_dim) @ kernel (input_dim, units), a new array
        z = ops.matmul(x, self.kernel, precision=self._precision)
        if return_logits or self.activation.needs_input:
            if self.use_bias:
                ops.add(z, self.bias, out=z)
            return z if return_logits else self.activation.forward(z, out=z)
        return self.activation.forward(z, out=z, bias=self.bias)

    def backward(self, dout, need_dx=True, from_logits=False):
        """Fills ``grads`` from ``dout`` = d(loss)/d(output) and returns d(loss)/dx.

        ``from_logits`` says ``dout`` is already the gradient w.r.t. the
        pre-activation (the fused softmax + cross-entropy path). The first
        layer passes ``need_dx=False`` and skips one matmul.
        """
        buffers = self._scratch(dout.shape[0])
        dz = (
            dout
            if from_logits
            else self.activation.backward(dout, self._y, z=self._z, out=buffers["dz"])
        )
        # d_kernel (input_dim, units) = x.T (input_dim, batch) @ dz (batch, units)
        ops.matmul(self._x, dz, out=self.d_kernel, trans_a=True, precision=self._precision)
        if self.use_bias:
            ops.column_sums(dz, out=self.d_bias)
        if not need_dx:
            return None
        # dx (batch, input_dim) = dz (batch, units) @ kernel.T (units, input_dim)
        return ops.matmul(
            dz, self.kernel, out=buffers["dx"], trans_b=True, precision=self._precision
        )

    def regularization_penalty(self, add_gradients=False):
        total = 0.0
        for regularizer, w, g in (
            (self.kernel_regularizer, self.kernel, self.d_kernel),
            (self.bias_regularizer, self.bias, self.d_bias),
        ):
            if regularizer is not None and w is not None:
                total += regularizer.penalty(w, g if add_gradients else None)
        return total

    def get_config(self):
        return {
            "class": "Dense",
            "name": self.name,
            "units": self.units,
            "input_dim": self.input_dim,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "dtype": self.dtype_policy.name,
            "kernel_initializer": initializers.name_of(self.kernel_initializer),
            "bias_initializer": initializers.name_of(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }

    def __repr__(self):
        return (
            f"Dense(units={self.units}, activation={self.activation.name!r}, "
            f"input_dim={self.input_dim})"
        )


class Dropout(_AnyShape, Layer):
    """Sets a fraction ``rate`` of its inputs to 0 while training, scaling the
    rest by ``1 / (1 - rate)``; the identity in ``evaluate`` and ``predict``.

    The mask comes from a counter-based generator in C++ (the ``dropout``
    kernel): a pure function of (seed, call number, element index), so a seed
    gives the same masks at any thread count, and ``backward`` recomputes the
    mask rather than storing it.

    Args:
        rate: fraction of the inputs to drop, in [0, 1).
        noise_shape: not supported (must be None).
        seed: seeds the masks; by default drawn from the model's generator
            when the model is built (so ``fit(seed=...)`` fixes it too).
        name: the layer's name.

    Example:
        >>> import numpy as np
        >>> layer = Dropout(0.5, seed=1)
        >>> layer.build(4, np.float32, np.random.default_rng(0))
        >>> layer.forward(np.ones((1, 4), np.float32), training=True)
        array([[0., 0., 0., 2.]], dtype=float32)
    """

    def __init__(self, rate, noise_shape=None, seed=None, name=None, input_shape=None):
        super().__init__(name, input_shape=input_shape)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float, np.floating))
            or not 0 <= rate < 1
        ):
            raise ValueError(f"Dropout rate must be a number in [0, 1). Received: rate={rate!r}")
        if noise_shape is not None:
            raise ValueError(
                f"Dropout does not support noise_shape yet. Received: noise_shape={noise_shape!r}"
            )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(
                f"Dropout seed must be a non-negative integer or None. Received: seed={seed!r}"
            )
        self.rate = float(rate)
        self.seed = None if seed is None else int(seed)
        self.units = self.input_dim = None
        self.dtype = np.dtype(np.float32)
        self.calls = 0  # the generator's counter: one per training forward pass
        self._masked = False
        self._buffers = {}

    def build(self, input_dim, dtype, rng):
        self.input_dim = self.units = input_dim
        self.dtype = np.dtype(dtype)
        if self.seed is None:
            self.seed = int(rng.integers(2**63))
        self._buffers.clear()
        self.built = True

    def _buffer(self, key, shape):
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape, self.dtype)
        return buf

    def forward(self, x, training=False):
        self._masked = bool(training) and self.rate > 0
        if not self._masked:
            return x
        self.calls += 1
        return ops.dropout(
            x, self.rate, seed=self.seed, counter=self.calls, out=self._buffer("y", x.shape)
        )

    def infer(self, x):
        return x  # the identity outside training

    def backward(self, dout, need_dx=True):
        if not need_dx:
            return None
        if not self._masked:
            return dout
        # The same (seed, counter) gives the same mask: d(x * mask)/dx = mask.
        return ops.dropout(
            dout, self.rate, seed=self.seed, counter=self.calls, out=self._buffer("dx", dout.shape)
        )

    def get_config(self):
        return {
            "class": "Dropout",
            "name": self.name,
            "rate": self.rate,
            "seed": self.seed,
            "input_dim": self.input_dim,
            "input_shape": list(self.sample_input_shape),
            "dtype": self.dtype.name,
            "calls": self.calls,
        }

    def __repr__(self):
        return f"Dropout(rate={self.rate})"


class Activation(_AnyShape, Layer):
    """Applies an activation to its input, as ``keras.layers.Activation``.

    ``Dense(10), Activation("softmax")`` is ``Dense(10, activation="softmax")``
    (and fuses with the cross-entropy the same way when it comes last).

    Args:
        activation: a Keras name, None (linear) or an ``Activation`` object.
        name: the layer's name.
        input_shape: ``(features,)``, for the first layer of a model.

    Example:
        >>> import numpy as np
        >>> layer = Activation("relu")
        >>> layer.build(3, np.float64, None)
        >>> layer.forward(np.array([[-1.0, 0.5, 2.0]]))
        array([[0. , 0.5, 2. ]])
    """

    def __init__(self, activation, name=None, input_shape=None):
        super().__init__(name, input_shape=input_shape)
        self.activation = activations.get(activation)
        self.units = self.input_dim = None
        self.dtype = np.dtype(np.float32)
        self._x = self._y = None

    def build(self, input_dim, dtype, rng):
        self.input_dim = self.units = input_dim
        self.dtype = np.dtype(dtype)
        self.built = True

    def forward(self, x, training=False, return_logits=False):
        # The input stays as it is (a buffer of the layer before) until backward.
        self._x = x
        self._y = x if return_logits else self.activation.forward(x)
        return self._y

    def infer(self, x, return_logits=False):
        return x if return_logits else self.activation.forward(x)

    def backward(self, dout, need_dx=True, from_logits=False):
        """``dout * act'(x)``; with ``from_logits`` (the fused loss) ``dout`` is that already."""
        if not need_dx:
            return None
        if from_logits:
            return dout
        return self.activation.backward(dout, self._y, z=self._x)

    def get_config(self):
        return {
            "class": "Activation",
            "name": self.name,
            "activation": activations.serialize(self.activation),
            "input_dim": self.input_dim,
            "input_shape": list(self.sample_input_shape),
            "dtype": self.dtype.name,
        }

    def __repr__(self):
        return f"Activation({self.activation.name!r})"


class Flatten(Layer):
    """Turns each sample into one row of features, as ``keras.layers.Flatten``:
    (batch, 28, 28) images become (batch, 784) for the Dense layers after it.

    A view of its input, not a copy (the model hands it C-contiguous batches).

    Args:
        data_format: Keras's argument; only None / "channels_last" (the
            order makes no difference for Dense models).
        name: the layer's name.
        input_shape: one sample's shape, e.g. ``(28, 28)``, on the first layer.

    Example:
        >>> import numpy as np
        >>> layer = Flatten()
        >>> layer.build_shape((2, 3), np.float32, None)
        (6,)
        >>> layer.forward(np.zeros((4, 2, 3), np.float32)).shape
        (4, 6)
    """

    def __init__(self, data_format=None, name=None, input_shape=None):
        super().__init__(name, input_shape=input_shape)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Flatten supports data_format=None or 'channels_last' only. "
                f"Received: data_format={data_format!r}"
            )
        self.units = self.input_dim = None
        self.dtype = np.dtype(np.float32)

    def build(self, input_dim, dtype, rng):
        self.build_shape((input_dim,), dtype, rng)

    def build_shape(self, shape, dtype, rng):
        shape = tuple(shape)
        if self.built and self._sample_shape != shape:
            raise ValueError(
                f"Layer {self.name!r} was built for input samples of shape "
                f"{self._sample_shape}; the previous layer gives {shape}"
            )
        self._sample_shape = shape
        self.input_dim = shape[0] if len(shape) == 1 else None
        self.units = int(np.prod(shape))
        self.dtype = np.dtype(dtype)
        self.built = True
        return (self.units,)

    def forward(self, x, training=False):
        return x.reshape(len(x), self.units)

    def infer(self, x):
        return x.reshape(len(x), self.units)

    def backward(self, dout, need_dx=True):
        return dout.reshape(len(dout), *self._sample_shape) if need_dx else None

    def get_config(self):
        return {
            "class": "Flatten",
            "name": self.name,
            "input_shape": list(self._sample_shape),
            "dtype": self.dtype.name,
        }

    def __repr__(self):
        return "Flatten()"


class Reshape(Layer):
    """Gives each sample the shape ``target_shape``, as ``keras.layers.Reshape``;
    one entry may be -1 (inferred from the sample's size).

    Args:
        target_shape: one sample's new shape, e.g. ``(784,)`` or ``(28, 28)``.
        name: the layer's name.
        input_shape: one sample's shape, on the first layer of a model.

    Example:
        >>> import numpy as np
        >>> layer = Reshape((-1,))
        >>> layer.build_shape((28, 28), np.float32, None)
        (784,)
    """

    def __init__(self, target_shape, name=None, input_shape=None):
        super().__init__(name, input_shape=input_shape)
        target = tuple(target_shape) if isinstance(target_shape, (tuple, list)) else None
        if (
            not target
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in target)
            or any(d == 0 or d < -1 for d in target)
            or target.count(-1) > 1
        ):
            raise ValueError(
                "target_shape must be a tuple of positive ints, one of which may be -1. "
                f"Received: target_shape={target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in target)
        self.units = self.input_dim = None
        self.dtype = np.dtype(np.float32)
        self._out_shape = None

    def build(self, input_dim, dtype, rng):
        self.build_shape((input_dim,), dtype, rng)

    def build_shape(self, shape, dtype, rng):
        shape = tuple(shape)
        size = int(np.prod(shape))
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        out = tuple(size // known if d == -1 else d for d in self.target_shape)
        if int(np.prod(out)) != size or (-1 in self.target_shape and size % known):
            raise ValueError(
                f"Reshape layer {self.name!r} cannot give samples of {size} values the shape "
                f"{self.target_shape}. Received: input samples of shape {shape}"
            )
        self._sample_shape, self._out_shape = shape, out
        self.input_dim = shape[0] if len(shape) == 1 else None
        self.units = out[0] if len(out) == 1 else None
        self.dtype = np.dtype(dtype)
        self.built = True
        return out

    @property
    def output_shape(self):
        return (None, *self._out_shape)

    def forward(self, x, training=False):
        return x.reshape(len(x), *self._out_shape)

    def infer(self, x):
        return x.reshape(len(x), *self._out_shape)

    def backward(self, dout, need_dx=True):
        return dout.reshape(len(dout), *self._sample_shape) if need_dx else None

    def get_config(self):
        return {
            "class": "Reshape",
            "name": self.name,
            "target_shape": list(self.target_shape),
            "input_shape": list(self._sample_shape),
            "dtype": self.dtype.name,
        }

    def __repr__(self):
        return f"Reshape({self.target_shape})"


class InputLayer:
    """What ``Input(shape=(features,))`` returns: declares the input size of a
    ``Sequential`` model when placed first. Not a layer of ``model.layers``,
    as in Keras."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None):
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("Input needs shape=(features,)")
        self.shape = input_shape_tuple("shape", shape)
        self.input_dim = self.shape[0] if len(self.shape) == 1 else None
        self.dtype = None if dtype is None else kernel_dtype(dtype)
        if dtype is not None and self.dtype is None:
            raise TypeError(f"Input dtype must be float32 or float64. Received: dtype={dtype}")
        self.name = name

    def __repr__(self):
        return f"Input(shape={self.shape})"


def Input(shape=None, batch_size=None, dtype=None, name=None):  # noqa: N802 (Keras's name)
    """Declares a model's input size: ``Sequential([Input(shape=(64,)), Dense(...)])``.

    Args:
        shape: ``(features,)``; Dense models take rows of ``features`` numbers.
        batch_size: accepted for Keras compatibility; batches may have any size.
        dtype: float32 or float64; default the first layer's.
        name: unused, as the input is not a layer here.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)


def input_shape_tuple(argument, shape):
    """One sample's shape from ``(features,)``, ``(28, 28)``, a Keras shape with the
    batch axis first as None (``(None, 784)``), or ``features``."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (check_count(argument, shape),)
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else None
    if dims and len(dims) >= 2 and dims[0] is None:
        dims = dims[1:]
    if not dims:
        raise ValueError(
            f"{argument} must be a sample's shape such as (features,) or (28, 28). "
            f"Received: {argument}={shape!r}"
        )
    return tuple(check_count(argument, d) for d in dims)


def input_size_from_shape(argument, shape):
    """``features`` from ``(features,)``, ``(None, features)`` or ``features``."""
    dims = input_shape_tuple(argument, shape)
    if len(dims) != 1:
        raise ValueError(
            f"{argument} must be (features,) for a Dense model (flatten images first). "
            f"Received: {argument}={shape!r}"
        )
    return dims[0]


def set_weight_list(owner, targets, weights):
    """Copies arrays into ``targets`` after checking count, shapes and values.

    Real numbers only (a complex array would lose its imaginary part), and
    every value must be finite once in the target's dtype: NaN and inf are
    refused, and so are values that overflow it (``1e300`` into float32), so
    a model never holds weights that poison every prediction.
    """
    weights = list(weights)
    if len(weights) != len(targets):
        raise ValueError(f"{owner} expects {len(targets)} weight arrays. Received: {len(weights)}")
    arrays = []
    for i, (target, w) in enumerate(zip(targets, weights)):
        w = np.asarray(w)
        if w.dtype.kind not in "biuf":
            raise TypeError(
                f"{owner}: weight {i} must hold real numbers. Received: dtype {w.dtype}"
            )
        if w.shape != target.shape:
            raise ValueError(
                f"{owner}: weight {i} must have shape {target.shape}. Received: shape {w.shape}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            cast = w.astype(target.dtype)
        bad = ~np.isfinite(cast)
        if bad.any():
            where = tuple(int(j) for j in np.argwhere(bad)[0])
            value = w[where].item()  # a Python number: the same text with any NumPy
            reason = (
                f"overflows {target.dtype.name} (largest {np.finfo(target.dtype).max:.4g})"
                if np.isfinite(value)
                else "is not finite"
            )
            raise ValueError(
                f"{owner}: weight {i} holds {int(bad.sum())} value(s) that are not finite in "
                f"{target.dtype.name}; the first, {value!r} at index {where}, {reason}"
            )
        arrays.append(cast)
    for target, w in zip(targets, arrays):  # all checked first: nothing half-set
        target[...] = w


# Keras's layers module holds every layer (keras.layers.BatchNormalization); the
# normalization layers live in a module of their own, which builds on Layer above.
from denseops.nn.normalization import BatchNormalization, LayerNormalization  # noqa: E402, F401
