"""Weight initializers by Keras name. Each is ``f(shape, dtype, rng) -> array``."""

import math

import numpy as np


def glorot_uniform(shape, dtype, rng):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = shape[0], shape[-1]
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


# The standard deviation of a standard normal truncated to [-2, 2]: Keras
# divides by it so the truncated draws keep the variance asked for.
_TRUNCATED_STD = 0.87962566103423978


def _truncated_normal(shape, std, rng):
    """Normal draws with standard deviation ``std`` after truncation to two
    (untruncated) standard deviations, as Keras's VarianceScaling draws them:
    values beyond 2 are drawn again."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return z * (std / _TRUNCATED_STD)


def glorot_normal(shape, dtype, rng):
    """Truncated normal with std = sqrt(2 / (fan_in + fan_out)), Keras's GlorotNormal."""
    std = math.sqrt(2.0 / (shape[0] + shape[-1]))
    return _truncated_normal(shape, std, rng).astype(dtype)


def he_uniform(shape, dtype, rng):
    """Uniform in [-limit, limit], limit = sqrt(6 / fan_in): suits relu."""
    limit = math.sqrt(6.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, dtype, rng):
    """Truncated normal with std = sqrt(2 / fan_in), Keras's HeNormal: suits relu."""
    return _truncated_normal(shape, math.sqrt(2.0 / shape[0]), rng).astype(dtype)


def random_uniform(shape, dtype, rng, minval=-0.05, maxval=0.05):
    """Uniform in [minval, maxval), Keras's RandomUniform defaults."""
    return rng.uniform(minval, maxval, size=shape).astype(dtype)


def textbook_uniform(shape, dtype, rng):
    """Uniform in [0, 0.1): the from-scratch textbook's ``np.random.uniform(0, 1e-1)``."""
    return rng.uniform(0.0, 0.1, size=shape).astype(dtype)


def zeros(shape, dtype, rng):
    """All zeros (the default bias)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype, rng):
    """All ones."""
    return np.ones(shape, dtype=dtype)


_BY_NAME = {
    f.__name__: f
    for f in (
        glorot_uniform,
        glorot_normal,
        he_uniform,
        he_normal,
        random_uniform,
        textbook_uniform,
        zeros,
        ones,
    )
}


def get(identifier):
    """Returns the initializer for a Keras name or a callable ``f(shape, dtype, rng)``."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(
        f"Unknown initializer: {identifier!r}. Expected one of {sorted(_BY_NAME)} "
        "or a callable f(shape, dtype, rng)."
    )


def name_of(initializer):
    """The registered name of an initializer, or None for a custom callable."""
    for name, f in _BY_NAME.items():
        if f is initializer:
            return name
    return None
