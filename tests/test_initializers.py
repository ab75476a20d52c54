"""Weight initializers: Keras's distributions (bounds, spread, truncation) for
each name, checked on large draws."""

import math

import numpy as np
import pytest
from denseops.nn import initializers

SHAPE = (400, 300)  # 120000 draws: sample std within ~0.5 % of the true one
FAN_IN, FAN_OUT = SHAPE


@pytest.mark.parametrize(
    "name, limit",
    [
        ("glorot_uniform", math.sqrt(6.0 / (FAN_IN + FAN_OUT))),
        ("he_uniform", math.sqrt(6.0 / FAN_IN)),
        ("random_uniform", 0.05),
    ],
)
def test_uniform_initializers_fill_their_interval(rng, name, limit):
    # float64: a float32 draw may round just past the float64 limit
    w = initializers.get(name)(SHAPE, np.float64, rng)
    assert w.shape == SHAPE and w.dtype == np.float64
    assert -limit <= w.min() < -0.99 * limit and 0.99 * limit < w.max() <= limit
    assert w.std() == pytest.approx(limit / math.sqrt(3.0), rel=0.02)


@pytest.mark.parametrize(
    "name, std",
    [
        ("glorot_normal", math.sqrt(2.0 / (FAN_IN + FAN_OUT))),
        ("he_normal", math.sqrt(2.0 / FAN_IN)),
    ],
)
def test_normal_initializers_are_keras_truncated_normals(rng, name, std):
    w = initializers.get(name)(SHAPE, np.float64, rng)
    # Keras: a normal of stddev std / 0.8796 truncated at two of those stddevs,
    # which leaves exactly `std` as the spread of what is drawn.
    bound = 2.0 * std / 0.87962566103423978
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 0.02 * std


def test_initializers_are_reproducible_from_the_generator():
    draw = initializers.get("he_normal")
    first = draw((50, 20), np.float32, np.random.default_rng(7))
    again = draw((50, 20), np.float32, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)


def test_constant_initializers(rng):
    assert (initializers.get("zeros")((3, 2), np.float32, rng) == 0).all()
    assert (initializers.get("ones")((4,), np.float64, rng) == 1).all()
