"""BatchNormalization and LayerNormalization for (batch, features) inputs,
with Keras 3's arguments, defaults and formulas; forward and backward are
the C++ normalization kernels.

Both keep gamma (scale) and beta (center) as trainable weights;
BatchNormalization also keeps the non-trainable moving mean and variance,
updated by every training forward pass. ``get_weights()`` lists them in
Keras's order: gamma, beta, moving_mean, moving_variance.
"""

import math

import numpy as np

import denseops as ops
from denseops.nn import initializers, regularizers
from denseops.nn.layers import Layer


class _Normalization(Layer):
    """What the two layers share: the features axis, epsilon, gamma and beta."""

    def __init__(
        self,
        axis,
        epsilon,
        center,
        scale,
        beta_initializer,
        gamma_initializer,
        beta_regularizer,
        gamma_regularizer,
        beta_constraint,
        gamma_constraint,
        name,
        input_shape,
    ):
        super().__init__(name, input_shape=input_shape)
        kind = type(self).__name__
        if isinstance(axis, bool) or axis not in (-1, 1):
            raise ValueError(
                f"{kind} normalizes the features of (batch, features) inputs: axis must be -1 "
                f"or 1. Received: axis={axis!r}"
            )
        for argument, value in (
            ("beta_constraint", beta_constraint),
            ("gamma_constraint", gamma_constraint),
        ):
            if value is not None:
                raise ValueError(
                    f"{kind} does not support {argument} yet. Received: {argument}={value!r}"
                )
        self.axis = int(axis)
        self.epsilon = _number("epsilon", epsilon, 0.0, math.inf)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.units = self.input_dim = None
        self.dtype = np.dtype(np.float32)
        self.gamma = self.beta = self.d_gamma = self.d_beta = None
        self._ones = self._zeros = None  # gamma / beta stand-ins without scale / center
        self._cache = None

    def build(self, input_dim, dtype, rng):
        self.input_dim = self.units = input_dim
        self.dtype = np.dtype(dtype)
        shape = (input_dim,)
        self._ones, self._zeros = np.ones(shape, self.dtype), np.zeros(shape, self.dtype)
        if self.scale:
            self.gamma = np.ascontiguousarray(
                self.gamma_initializer(shape, self.dtype, rng), dtype=self.dtype
            )
            self.d_gamma = np.zeros_like(self.gamma)
        if self.center:
            self.beta = np.ascontiguousarray(
                self.beta_initializer(shape, self.dtype, rng), dtype=self.dtype
            )
            self.d_beta = np.zeros_like(self.beta)
        self._cache = None
        self.built = True

    def unbuild(self):
        self.gamma = self.beta = self.d_gamma = self.d_beta = None
        self._ones = self._zeros = self._cache = None
        self.built = False

    @property
    def trainable_weights(self):
        if not self.built:
            return []
        return [w for w in (self.gamma, self.beta) if w is not None]

    @property
    def weights(self):
        return self.trainable_weights

    @property
    def grads(self):
        if not self.built:
            return []
        return [g for g in (self.d_gamma, self.d_beta) if g is not None]

    def _gamma_beta(self):
        gamma = self.gamma if self.scale else self._ones
        return gamma, self.beta if self.center else self._zeros

    def check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} expects input of shape "
                f"(batch, {self.input_dim}). Received: shape {x.shape}"
            )

    def _store_grads(self, dgamma, dbeta):
        if self.scale:
            self.d_gamma[...] = dgamma
        if self.center:
            self.d_beta[...] = dbeta

    def regularization_penalty(self, add_gradients=False):
        total = 0.0
        for regularizer, w, g in (
            (self.gamma_regularizer, self.gamma, self.d_gamma),
            (self.beta_regularizer, self.beta, self.d_beta),
        ):
            if regularizer is not None and w is not None:
                total += regularizer.penalty(w, g if add_gradients else None)
        return total

    def get_config(self):
        return {
            "class": type(self).__name__,
            "name": self.name,
            "input_dim": self.input_dim,
            "dtype": self.dtype.name,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.name_of(self.beta_initializer),
            "gamma_initializer": initializers.name_of(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }


class BatchNormalization(_Normalization):
    """Normalizes each feature by the batch's statistics while training and by
    their moving averages otherwise, as Keras's BatchNormalization.

    Training: ``out = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with
    the batch's mean and biased variance, and
    ``moving_mean = moving_mean * momentum + mean * (1 - momentum)`` (the
    same for ``moving_variance``). Inference (``evaluate``, ``predict``):
    the moving statistics take the batch's place.

    Args:
        axis: the features axis: -1 (default) or 1.
        momentum: of the moving averages, in [0, 1]. Default 0.99.
        epsilon: added to the variance, >= 0. Default 1e-3.
        center: learn beta. Default True.
        scale: learn gamma. Default True.
        beta_initializer, gamma_initializer: Keras names or callables
            (defaults "zeros" and "ones").
        moving_mean_initializer, moving_variance_initializer: the same
            (defaults "zeros" and "ones").
        beta_regularizer, gamma_regularizer: as Dense's regularizers.
        beta_constraint, gamma_constraint: Keras's; only None is supported.
        renorm, renorm_clipping, renorm_momentum: Keras's; only the defaults are supported.
        synchronized: Keras's; only False is supported.
        name: the layer's name.
        input_shape: ``(features,)``, for the first layer of a model.

    Input shape:
        ``(batch, features)``.

    Output shape:
        ``(batch, features)``.

    Example:
        >>> import numpy as np
        >>> layer = BatchNormalization()
        >>> layer.build(2, np.float32, np.random.default_rng(0))
        >>> layer.forward(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), training=True)
        array([[-0.9995004, -0.9995004],
               [ 0.9995004,  0.9995004]], dtype=float32)
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        name=None,
        input_shape=None,
    ):
        super().__init__(
            axis,
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            beta_constraint,
            gamma_constraint,
            name,
            input_shape,
        )
        if renorm or renorm_clipping is not None or synchronized:
            raise ValueError(
                "BatchNormalization does not support renorm, renorm_clipping or synchronized "
                f"yet. Received: renorm={renorm!r}, renorm_clipping={renorm_clipping!r}, "
                f"synchronized={synchronized!r}"
            )
        self.momentum = _number("momentum", momentum, 0.0, 1.0)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.moving_mean = self.moving_variance = None

    def build(self, input_dim, dtype, rng):
        super().build(input_dim, dtype, rng)
        shape, dtype = (input_dim,), self.dtype
        self.moving_mean = np.ascontiguousarray(
            self.moving_mean_initializer(shape, dtype, rng), dtype=dtype
        )
        self.moving_variance = np.ascontiguousarray(
            self.moving_variance_initializer(shape, dtype, rng), dtype=dtype
        )

    def unbuild(self):
        super().unbuild()
        self.moving_mean = self.moving_variance = None

    @property
    def non_trainable_weights(self):
        return [self.moving_mean, self.moving_variance] if self.built else []

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    def forward(self, x, training=False):
        self.check_input(x)
        gamma, beta = self._gamma_beta()
        if not training:
            self._cache = None
            return self.infer(x)
        # out (batch, features); mean, variance (features,) of this batch
        out, mean, variance = ops.batch_normalization(x, gamma, beta, epsilon=self.epsilon)
        m = self.momentum
        self.moving_mean[...] = self.moving_mean * m + mean * (1 - m)
        self.moving_variance[...] = self.moving_variance * m + variance * (1 - m)
        self._cache = (x, mean, variance)
        return out

    def infer(self, x):
        self.check_input(x)
        gamma, beta = self._gamma_beta()
        out, _, _ = ops.batch_normalization(
            x,
            gamma,
            beta,
            epsilon=self.epsilon,
            mean=self.moving_mean,
            variance=self.moving_variance,
        )
        return out

    def backward(self, dout, need_dx=True):
        if self._cache is None:
            raise RuntimeError(
                f"BatchNormalization layer {self.name!r}: backward() needs a training "
                "forward pass (forward(x, training=True)) first"
            )
        x, mean, variance = self._cache
        gamma, _ = self._gamma_beta()
        dx, dgamma, dbeta = ops.batch_normalization_backward(
            dout, x, gamma, mean, variance, epsilon=self.epsilon
        )
        self._store_grads(dgamma, dbeta)
        return dx if need_dx else None

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "moving_mean_initializer": initializers.name_of(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.name_of(self.moving_variance_initializer),
        }

    def __repr__(self):
        return f"BatchNormalization(momentum={self.momentum}, epsilon={self.epsilon})"


class LayerNormalization(_Normalization):
    """Normalizes each sample over its features, as Keras's LayerNormalization:
    ``out = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the row's
    mean and biased variance, the same in training and inference.

    Args:
        axis: the features axis: -1 (default) or 1.
        epsilon: added to the variance, >= 0. Default 1e-3.
        center: learn beta. Default True.
        scale: learn gamma. Default True.
        beta_initializer, gamma_initializer: defaults "zeros" and "ones".
        beta_regularizer, gamma_regularizer: as Dense's regularizers.
        beta_constraint, gamma_constraint: Keras's; only None is supported.
        name: the layer's name.
        input_shape: ``(features,)``, for the first layer of a model.

    Input shape:
        ``(batch, features)``.

    Output shape:
        ``(batch, features)``.
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        name=None,
        input_shape=None,
    ):
        super().__init__(
            axis,
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            beta_constraint,
            gamma_constraint,
            name,
            input_shape,
        )

    def forward(self, x, training=False):
        self.check_input(x)
        gamma, beta = self._gamma_beta()
        # out (batch, features); mean, variance (batch,) of each row
        out, mean, variance = ops.layer_normalization(x, gamma, beta, epsilon=self.epsilon)
        self._cache = (x, mean, variance)
        return out

    def infer(self, x):
        self.check_input(x)
        gamma, beta = self._gamma_beta()
        return ops.layer_normalization(x, gamma, beta, epsilon=self.epsilon)[0]

    def backward(self, dout, need_dx=True):
        if self._cache is None:
            raise RuntimeError(
                f"LayerNormalization layer {self.name!r}: backward() needs forward() first"
            )
        x, mean, variance = self._cache
        gamma, _ = self._gamma_beta()
        dx, dgamma, dbeta = ops.layer_normalization_backward(
            dout, x, gamma, mean, variance, epsilon=self.epsilon
        )
        self._store_grads(dgamma, dbeta)
        return dx if need_dx else None

    def __repr__(self):
        return f"LayerNormalization(epsilon={self.epsilon})"


def _number(argument, value, low, high):
    """A finite float in [low, high], or a ValueError naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not low <= value <= high
        or not math.isfinite(value)
    ):
        raise ValueError(
            f"{argument} must be a finite number in [{low}, {high}]. Received: {argument}={value!r}"
        )
    return float(value)
