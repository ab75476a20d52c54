"""Optimizers vs their twins in denseops.reference (Keras 3's update rules,
in float64 whatever the weights' dtype) over several steps, float32 and
float64; hyperparameter validation; the update kernels' own checks.
"""

import inspect
import math

import denseops
import numpy as np
import pytest
from denseops import reference
from denseops.nn import SGD, Adam, RMSprop, optimizers
from helpers import assert_close

STEPS = 6
SHAPES = [(3,), (784, 16), (1, 1), (5, 7)]


def reference_run(name, w, grads, **hyperparameters):
    """reference.<name>_update once per gradient, from zero state; returns
    the final weights and state (a tuple: velocity, or m and v)."""
    state = {"sgd": 1, "rmsprop": 1, "adam": 2}[name] * (np.zeros(w.shape),)
    if name == "sgd" and not hyperparameters.get("momentum"):
        state = (None,)
    update = getattr(reference, f"{name}_update")
    for step, g in enumerate(grads, start=1):
        extra = {"step": step} if name == "adam" else {}
        w, *state = update(w, g, *state, **hyperparameters, **extra)
    return w, state


def run(optimizer, weights, grads_per_step):
    """Applies `optimizer` to copies of `weights`, one list of grads per step."""
    weights = [w.copy() for w in weights]
    for grads in grads_per_step:
        optimizer.apply(grads, weights)
    return weights


# keras.optimizers' defaults: the reference runs take every hyperparameter explicitly.
KERAS_DEFAULTS = {
    SGD: {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    RMSprop: {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7},
    Adam: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}


def problem(rng, dtype, shapes=SHAPES):
    """Weights and STEPS lists of gradients, of varied sizes and signs."""
    weights = [rng.uniform(-1, 1, size=s).astype(dtype) for s in shapes]
    grads = [
        [(rng.normal(size=s) * 10.0 ** rng.integers(-3, 2)).astype(dtype) for s in shapes]
        for _ in range(STEPS)
    ]
    return weights, grads


# Each step adds a few roundings of the update to w: 8 per step is generous
# and still far below what a wrong formula (eps outside the sqrt, a missing
# bias correction, (1 - rho) swapped for rho) produces.
K = 8 * STEPS


@pytest.mark.parametrize(
    "momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True), (1.0, False)]
)
def test_sgd_matches_keras_formula(rng, dtype, momentum, nesterov):
    weights, grads = problem(rng, dtype)
    optimizer = SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    updated = run(optimizer, weights, grads)
    for i, (w, w_new) in enumerate(zip(weights, updated)):
        expected, (velocity,) = reference_run(
            "sgd",
            w,
            [g[i] for g in grads],
            learning_rate=0.05,
            momentum=momentum,
            nesterov=nesterov,
        )
        assert_close(w_new, expected.astype(dtype), k=K)
        if momentum > 0:
            assert_close(optimizer.state[i]["velocity"], velocity.astype(dtype), k=K)
    assert optimizer.iterations == STEPS


@pytest.mark.parametrize(
    "kwargs", [{}, {"learning_rate": 0.01, "rho": 0.5, "epsilon": 1e-3}, {"rho": 0.0}]
)
def test_rmsprop_matches_keras_formula(rng, dtype, kwargs):
    weights, grads = problem(rng, dtype)
    optimizer = RMSprop(**kwargs)
    updated = run(optimizer, weights, grads)
    for i, (w, w_new) in enumerate(zip(weights, updated)):
        expected, (v,) = reference_run(
            "rmsprop", w, [g[i] for g in grads], **{**KERAS_DEFAULTS[type(optimizer)], **kwargs}
        )
        assert_close(w_new, expected.astype(dtype), k=K)
        assert_close(optimizer.state[i]["velocity"], v.astype(dtype), k=K)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4}, {"beta_1": 0.0}],
)
def test_adam_matches_keras_formula(rng, dtype, kwargs):
    weights, grads = problem(rng, dtype)
    optimizer = Adam(**kwargs)
    updated = run(optimizer, weights, grads)
    for i, (w, w_new) in enumerate(zip(weights, updated)):
        expected, (m, v) = reference_run(
            "adam", w, [g[i] for g in grads], **{**KERAS_DEFAULTS[type(optimizer)], **kwargs}
        )
        assert_close(w_new, expected.astype(dtype), k=K)
        assert_close(optimizer.state[i]["m"], m.astype(dtype), k=K)
        assert_close(optimizer.state[i]["v"], v.astype(dtype), k=K)
    assert optimizer.iterations == STEPS


def test_rmsprop_puts_epsilon_inside_the_square_root():
    # With g = 0.01 and epsilon = 1e-4 the two placements differ by 6x:
    # Keras: 0.01 / sqrt(1e-5 + 1e-4) = 0.953; PyTorch: 0.01 / (sqrt(1e-5) + 1e-4) = 3.07.
    w = np.zeros(1)
    RMSprop(learning_rate=1.0, rho=0.9, epsilon=1e-4).apply([np.array([0.01])], [w])
    assert w[0] == pytest.approx(-0.01 / math.sqrt(0.1 * 1e-4 + 1e-4), rel=1e-12)


def test_adam_first_step_moves_each_weight_by_about_the_learning_rate():
    # Bias correction makes step 1 lr * g / (|g| + epsilon / sqrt(1 - beta_2)):
    # lr * sign(g) whatever the scale of g, as long as |g| >> 3e-6.
    w = np.zeros(4)
    g = np.array([0.1, -2.0, 50.0, -1e2])
    Adam(learning_rate=0.01).apply([g], [w])
    np.testing.assert_allclose(w, -0.01 * np.sign(g), rtol=1e-4)


def test_optimizer_state_is_per_weight_and_created_lazily(rng):
    optimizer = RMSprop()
    assert optimizer.state == [] and optimizer.iterations == 0
    a, b = np.zeros(3), np.zeros((2, 2))
    optimizer.apply([np.ones(3), np.full((2, 2), 2.0)], [a, b])
    assert [s["velocity"].shape for s in optimizer.state] == [(3,), (2, 2)]
    np.testing.assert_allclose(optimizer.state[1]["velocity"], 0.1 * 4.0)


def test_apply_takes_gradients_first_and_the_built_variables_by_default():
    # Keras 3: optimizer.apply(grads, trainable_variables=None).
    w = np.zeros(2)
    optimizer = SGD(learning_rate=0.5)
    optimizer.apply([np.array([1.0, -2.0])], [w])
    np.testing.assert_array_equal(w, [-0.5, 1.0])
    optimizer.apply([np.array([1.0, 0.0])])  # the arrays it was built with
    np.testing.assert_array_equal(w, [-1.0, 1.0])
    with pytest.raises(ValueError, match="trainable_variables"):
        SGD().apply([np.ones(2)])
    with pytest.raises(ValueError, match="one gradient per variable. Received: 2 gradients for 1"):
        SGD().apply([np.ones(2), np.ones(2)], [np.zeros(2)])


def test_sgd_without_momentum_keeps_no_state():
    optimizer = SGD()
    optimizer.apply([np.ones(3)], [np.zeros(3)])
    assert optimizer.state == [{}]


@pytest.mark.parametrize(
    "optimizer, slots",
    [
        (SGD(), []),
        (SGD(momentum=0.9), ["velocity"]),
        (RMSprop(), ["velocity"]),
        (Adam(), ["m", "v"]),
    ],
)
def test_optimizer_build_creates_zeroed_slots_named_by_get_slot_names(optimizer, slots):
    weights = [np.ones(3, np.float32), np.ones((2, 2))]
    assert optimizer.get_slot_names() == slots and not optimizer.built
    optimizer.build(weights)
    assert optimizer.built and len(optimizer.state) == len(weights)
    for w, state in zip(weights, optimizer.state):
        assert list(state) == slots
        for array in state.values():
            assert array.shape == w.shape and array.dtype == w.dtype and not array.any()


@pytest.mark.parametrize(
    "cls, defaults", KERAS_DEFAULTS.items(), ids=[cls.__name__ for cls in KERAS_DEFAULTS]
)
def test_keras_defaults_and_config_round_trip(cls, defaults):
    optimizer = cls()
    config = optimizer.get_config()
    assert config == {"name": cls.name, **defaults}
    again = optimizers.from_config(config)
    assert type(again) is cls and again.get_config() == config
    assert repr(optimizer).startswith(f"{cls.__name__}(learning_rate=")


@pytest.mark.parametrize("name, cls", [("sgd", SGD), ("RMSprop", RMSprop), ("adam", Adam)])
def test_optimizer_get_by_name(name, cls):
    assert type(optimizers.get(name)) is cls
    instance = cls()
    assert optimizers.get(instance) is instance


def test_optimizer_get_rejects_unknown_names():
    with pytest.raises(
        ValueError,
        match=r"Unknown optimizer: 'lion'. "
        r"Expected one of \['adagrad', 'adam', 'adamax', 'adamw', 'nadam', 'rmsprop', 'sgd'\]",
    ):
        optimizers.get("lion")


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: SGD(learning_rate=0),
            r"learning_rate must be finite and > 0.0. "
            r"Received: learning_rate=0.0",
        ),
        (lambda: SGD(learning_rate=-0.1), r"Received: learning_rate=-0.1"),
        (lambda: RMSprop(learning_rate=float("nan")), r"Received: learning_rate=nan"),
        (lambda: Adam(learning_rate=float("inf")), r"Received: learning_rate=inf"),
        (
            lambda: Adam(learning_rate="0.1"),
            r"learning_rate must be a number. "
            r"Received: learning_rate='0.1'",
        ),
        (lambda: SGD(learning_rate=True), r"Received: learning_rate=True"),
        (
            lambda: SGD(momentum=-0.1),
            r"momentum must be finite and >= 0.0 and <= 1.0. "
            r"Received: momentum=-0.1",
        ),
        (lambda: SGD(momentum=1.5), r"Received: momentum=1.5"),
        (lambda: RMSprop(rho=1.0), r"rho must be finite and >= 0.0 and < 1.0. Received: rho=1.0"),
        (lambda: RMSprop(rho=-0.5), r"Received: rho=-0.5"),
        (lambda: RMSprop(epsilon=0), r"epsilon must be finite and > 0.0. Received: epsilon=0.0"),
        (
            lambda: Adam(beta_1=1.0),
            r"beta_1 must be finite and >= 0.0 and < 1.0. "
            r"Received: beta_1=1.0",
        ),
        (lambda: Adam(beta_2=float("nan")), r"Received: beta_2=nan"),
        (lambda: Adam(epsilon=-1e-7), r"Received: epsilon=-1e-07"),
    ],
)
def test_bad_hyperparameters_name_the_argument_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------ update kernels


def test_update_kernels_refuse_weights_they_cannot_update_in_place(dtype):
    strided = np.zeros((4, 6), dtype)[:, ::2]
    with pytest.raises(
        ValueError,
        match=r"sgd_update: weights is updated in place and must be "
        r"a writable.* C-contiguous array",
    ):
        denseops.sgd_update(strided, np.ones((4, 3), dtype), learning_rate=0.1)
    read_only = np.zeros(3, dtype)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"rmsprop_update: weights is updated in place"):
        denseops.rmsprop_update(
            read_only,
            np.ones(3, dtype),
            np.zeros(3, dtype),
            learning_rate=0.1,
            rho=0.9,
            epsilon=1e-7,
        )


def test_update_kernels_check_shapes_and_dtypes():
    w = np.zeros((2, 3))
    with pytest.raises(
        ValueError, match=r"grad has shape \(3, 2\) but weights have shape \(2, 3\)"
    ):
        denseops.sgd_update(w, np.zeros((3, 2)), learning_rate=0.1)
    with pytest.raises(TypeError, match=r"float32|float64"):
        denseops.sgd_update(w, np.zeros((2, 3), np.float32), learning_rate=0.1)
    with pytest.raises(ValueError, match=r"velocity must have shape \(2, 3\), got \(6,\)"):
        denseops.sgd_update(
            w, np.zeros((2, 3)), learning_rate=0.1, momentum=0.9, velocity=np.zeros(6)
        )
    with pytest.raises(TypeError, match=r"m must have dtype float64, got float32"):
        denseops.adam_update(
            w,
            np.zeros((2, 3)),
            np.zeros((2, 3), np.float32),
            np.zeros((2, 3)),
            learning_rate=0.1,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-7,
            step=1,
        )


def test_update_kernels_accept_a_non_contiguous_gradient(rng, dtype):
    w = rng.uniform(-1, 1, size=(4, 3)).astype(dtype)
    g_big = rng.normal(size=(4, 6)).astype(dtype)
    g = g_big[:, ::2]
    expected = w.astype(np.float64) - 0.5 * g.astype(np.float64)
    denseops.sgd_update(w, g, learning_rate=0.5)
    assert_close(w, expected.astype(dtype), k=2)


# Keras 3's leading constructor parameters, in order (its later ones, from
# weight_decay on, are not offered and are a TypeError here).
KERAS_PARAMETERS = {
    SGD: ["learning_rate", "momentum", "nesterov"],
    RMSprop: ["learning_rate", "rho", "momentum", "epsilon", "centered"],
    Adam: ["learning_rate", "beta_1", "beta_2", "epsilon"],
}


@pytest.mark.parametrize("cls", list(KERAS_PARAMETERS))
def test_optimizer_constructors_take_keras_parameters_in_keras_order(cls):
    assert list(inspect.signature(cls).parameters) == KERAS_PARAMETERS[cls]


def test_positional_rmsprop_arguments_mean_what_they_mean_in_keras():
    optimizer = RMSprop(0.01, 0.8, 0.0, 1e-5)
    assert (optimizer.learning_rate, optimizer.rho, optimizer.epsilon) == (0.01, 0.8, 1e-5)
    with pytest.raises(ValueError, match=r"momentum is not supported.*Received: momentum=0.5"):
        RMSprop(0.001, 0.9, 0.5)  # Keras's third argument is the momentum, not epsilon
    with pytest.raises(ValueError, match=r"centered variant is not supported"):
        RMSprop(centered=True)
    with pytest.raises(ValueError, match=r"momentum must be a number"):
        RMSprop(momentum="0")
