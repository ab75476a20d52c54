"""Adagrad, Adamax, Nadam and AdamW: their fused kernels against the twins in
denseops.reference on every SIMD path over several steps, the classes'
Keras 3 signatures, defaults, validation and checkpoints, and a tiny model
trained a few steps against the twin (always) and against real Keras (when
it is installed)."""

import inspect

import denseops
import numpy as np
import pytest
from denseops import reference
from denseops.nn import Adagrad, Adam, Adamax, AdamW, Dense, Input, Nadam, Sequential, optimizers
from helpers import assert_close

STEPS = 6
# (784, 64) is above the size where the updates split over threads.
SHAPES = [(3,), (1, 1), (5, 7), (784, 64)]
K = 8 * STEPS  # a few roundings per step, as in test_optimizers.py

# Kernel name -> (state arrays, their starting value, hyperparameters). The
# hyperparameters are not Keras's defaults, so a default wired in the wrong
# place shows; Nadam and AdamW run past the steps where their schedules bend.
KERNELS = {
    "adagrad": (["accumulator"], 0.1, {"learning_rate": 0.05, "epsilon": 1e-6}),
    "adamax": (
        ["m", "u"],
        0.0,
        {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
    ),
    "nadam": (
        ["m", "v"],
        0.0,
        {"learning_rate": 0.02, "beta_1": 0.85, "beta_2": 0.99, "epsilon": 1e-6},
    ),
    "adamw": (
        ["m", "v"],
        0.0,
        {
            "learning_rate": 0.02,
            "weight_decay": 0.1,
            "beta_1": 0.8,
            "beta_2": 0.95,
            "epsilon": 1e-6,
        },
    ),
    "adamw_amsgrad": (
        ["m", "v", "v_hat"],
        0.0,
        {
            "learning_rate": 0.02,
            "weight_decay": 0.1,
            "beta_1": 0.8,
            "beta_2": 0.95,
            "epsilon": 1e-6,
        },
    ),
}


def gradients(rng, shape, dtype, steps=STEPS):
    """Gradients of varied scale; shrinking ones make amsgrad's maximum matter."""
    scales = 10.0 ** rng.integers(-3, 2, size=steps)
    return [(rng.normal(size=shape) * s).astype(dtype) for s in np.sort(scales)[::-1]]


def kernel_step(name, w, g, state, hyperparameters, step):
    kernel = getattr(denseops, f"{name.split('_')[0]}_update")
    extra = {} if name == "adagrad" else {"step": step}
    if name == "adamw_amsgrad":
        kernel(w, g, state[0], state[1], **hyperparameters, **extra, v_hat=state[2])
    else:
        kernel(w, g, *state, **hyperparameters, **extra)


def twin_step(name, w, g, state, hyperparameters, step):
    twin = getattr(reference, f"{name.split('_')[0]}_update")
    extra = {} if name == "adagrad" else {"step": step}
    if name == "adamw":
        w, m, v, _ = twin(w, g, *state, **hyperparameters, **extra)
        return w, [m, v]
    w, *state = twin(w, g, *state, **hyperparameters, **extra)
    return w, state


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_update_kernel_matches_its_twin_over_several_steps(arch, rng, dtype, name, shape):
    slots, start, hyperparameters = KERNELS[name]
    w = rng.uniform(-1, 1, size=shape).astype(dtype)
    state = [np.full(shape, start, dtype) for _ in slots]
    expected_w, expected_state = w.astype(np.float64), [s.astype(np.float64) for s in state]
    for step, g in enumerate(gradients(rng, shape, dtype), start=1):
        kernel_step(name, w, g, state, hyperparameters, step)
        expected_w, expected_state = twin_step(
            name, expected_w, g, expected_state, hyperparameters, step
        )
    assert_close(w, expected_w.astype(dtype), k=K)
    for got, expected in zip(state, expected_state):
        assert_close(
            got, expected.astype(dtype), k=K, scale=max(1.0, float(np.abs(expected).max()))
        )


def test_nadam_kernel_follows_the_momentum_schedule_at_late_steps(rng):
    # The binding multiplies out Keras's u_product up to step 1000 and uses
    # beta_1**(t - 1000) beyond; the twin multiplies every term.
    hyperparameters = KERNELS["nadam"][2]
    for step in (1, 2, 999, 1000, 1001, 5000):
        w, g = rng.normal(size=8), rng.normal(size=8)
        m, v = rng.normal(size=8) * 0.1, np.abs(rng.normal(size=8)) * 0.1
        expected, _, _ = reference.nadam_update(w, g, m, v, **hyperparameters, step=step)
        denseops.nadam_update(w, g, m, v, **hyperparameters, step=step)
        assert_close(w, expected, k=64)


@pytest.mark.parametrize("name", ["adamax", "nadam", "adamw"])
def test_step_counted_kernels_refuse_step_zero(name):
    w = np.zeros(2)
    hyperparameters = KERNELS[name][2]
    state = [np.zeros(2) for _ in KERNELS[name][0]]
    with pytest.raises(ValueError, match=rf"{name}_update: step must be >= 1.*got 0"):
        getattr(denseops, f"{name}_update")(w, np.ones(2), *state, **hyperparameters, step=0)


def test_adamw_kernel_checks_v_hat_like_the_other_state():
    w, g = np.zeros((2, 3)), np.ones((2, 3))
    args = KERNELS["adamw"][2]
    with pytest.raises(ValueError, match=r"v_hat must have shape \(2, 3\), got \(6,\)"):
        denseops.adamw_update(
            w, g, np.zeros_like(w), np.zeros_like(w), **args, step=1, v_hat=np.zeros(6)
        )
    with pytest.raises(ValueError, match=r"adamw_update: .*v_hat"):
        m = np.zeros_like(w)
        denseops.adamw_update(w, g, m, np.zeros_like(w), **args, step=1, v_hat=m)


# ------------------------------------------------------------ the classes

KERAS_DEFAULTS = {
    Adagrad: {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    Adamax: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    Nadam: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    AdamW: {
        "learning_rate": 0.001,
        "weight_decay": 0.004,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    },
}
SLOTS = {Adagrad: ["accumulator"], Adamax: ["m", "u"], Nadam: ["m", "v"], AdamW: ["m", "v"]}
CLASSES = list(KERAS_DEFAULTS)
IDS = [cls.__name__ for cls in CLASSES]


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_constructor_takes_keras_parameters_in_keras_order_with_keras_defaults(cls):
    parameters = inspect.signature(cls).parameters
    assert {name: p.default for name, p in parameters.items()} == KERAS_DEFAULTS[cls]
    config = cls().get_config()
    assert config == {"name": cls.name, **KERAS_DEFAULTS[cls]}
    again = optimizers.from_config(config)
    assert type(again) is cls and again.get_config() == config


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_get_by_keras_name(cls):
    assert type(optimizers.get(cls.name.upper())) is cls


def test_adamw_is_an_adam_and_amsgrad_adds_a_slot():
    assert isinstance(AdamW(), Adam)
    assert AdamW(amsgrad=True).get_slot_names() == ["m", "v", "v_hat"]


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_build_creates_keras_starting_state(cls):
    optimizer = cls()
    weights = [np.ones(3, np.float32), np.ones((2, 2))]
    optimizer.build(weights)
    start = 0.1 if cls is Adagrad else 0.0
    for w, state in zip(weights, optimizer.state):
        assert list(state) == SLOTS[cls]
        for array in state.values():
            assert array.dtype == w.dtype and array.shape == w.shape
            np.testing.assert_array_equal(array, np.full_like(w, start))


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: Adagrad(initial_accumulator_value=-0.1),
            r"initial_accumulator_value must be finite and >= 0.0. "
            r"Received: initial_accumulator_value=-0.1",
        ),
        (lambda: Adagrad(epsilon=float("nan")), r"Received: epsilon=nan"),
        (
            lambda: Adamax(beta_2=1.0),
            r"beta_2 must be finite and >= 0.0 and < 1.0. Received: beta_2=1.0",
        ),
        (lambda: Nadam(beta_1=-0.5), r"Received: beta_1=-0.5"),
        (lambda: Nadam(learning_rate=0), r"Received: learning_rate=0.0"),
        (
            lambda: AdamW(weight_decay=None),
            r"`weight_decay` must be a float. Received: weight_decay=None",
        ),
        (lambda: AdamW(weight_decay=-1e-3), r"Received: weight_decay=-0.001"),
        (lambda: AdamW(amsgrad="yes"), r"amsgrad must be True or False. Received: amsgrad='yes'"),
        (lambda: AdamW(0.001, 0.004, 0.9, 0.999, 0.0), r"Received: epsilon=0.0"),
    ],
)
def test_bad_hyperparameters_name_the_argument_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------ a tiny model

TWIN_ARGS = {
    "adagrad": lambda o: {"learning_rate": o.learning_rate, "epsilon": o.epsilon},
    "adamax": lambda o: {
        "learning_rate": o.learning_rate,
        "beta_1": o.beta_1,
        "beta_2": o.beta_2,
        "epsilon": o.epsilon,
    },
    "nadam": lambda o: {
        "learning_rate": o.learning_rate,
        "beta_1": o.beta_1,
        "beta_2": o.beta_2,
        "epsilon": o.epsilon,
    },
    "adamw": lambda o: {
        "learning_rate": o.learning_rate,
        "weight_decay": o.weight_decay,
        "beta_1": o.beta_1,
        "beta_2": o.beta_2,
        "epsilon": o.epsilon,
    },
}
OPTIMIZERS = [
    lambda: Adagrad(learning_rate=0.1),
    lambda: Adamax(learning_rate=0.05),
    lambda: Nadam(learning_rate=0.05),
    lambda: AdamW(learning_rate=0.05, weight_decay=0.5),
    lambda: AdamW(learning_rate=0.05, weight_decay=0.5, amsgrad=True),
]
OPTIMIZER_IDS = ["adagrad", "adamax", "nadam", "adamw", "adamw_amsgrad"]


def tiny_problem():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(16, 3))
    y = x @ rng.normal(size=(3, 2)) + 0.5
    return x, y


def tiny_model(optimizer):
    model = Sequential([Input(shape=(3,)), Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def twin_training(optimizer, weights, x, y, steps):
    """Full-batch steps of a linear layer under mse: gradients in NumPy, updates by the twin."""
    name = optimizer.name
    twin = getattr(reference, f"{name}_update")
    params = [w.astype(np.float64) for w in weights]
    start = 0.1 if name == "adagrad" else 0.0
    state = [[np.full(w.shape, start) for _ in optimizer.get_slot_names()] for w in params]
    for step in range(1, steps + 1):
        kernel, bias = params
        dpred = 2 * (x @ kernel + bias - y) / y.size  # Keras's mse: the mean over every entry
        grads = [x.T @ dpred, dpred.sum(axis=0)]
        extra = {} if name == "adagrad" else {"step": step}
        for i, (w, g) in enumerate(zip(params, grads)):
            params[i], *new = twin(w, g, *state[i], **TWIN_ARGS[name](optimizer), **extra)
            state[i] = new[: len(state[i])]  # adamw's twin returns v_hat=None without amsgrad
    return params


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_tiny_model_trains_as_the_twin_says(make):
    x, y = tiny_problem()
    model = tiny_model(make())
    start = model.get_weights()
    for _ in range(4):
        model.train_on_batch(x, y)
    expected = twin_training(make(), start, x, y, steps=4)
    for got, want in zip(model.get_weights(), expected):
        assert_close(got, want.astype(got.dtype), k=64, scale=max(1.0, float(np.abs(want).max())))
    assert model.optimizer.iterations == 4


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_tiny_model_trains_as_keras_does(make):
    keras = pytest.importorskip("keras", reason="real Keras 3 is not installed here")
    x, y = tiny_problem()
    model = tiny_model(make())
    config = {k: v for k, v in make().get_config().items() if k != "name"}
    keras_optimizer = getattr(keras.optimizers, type(model.optimizer).__name__)(**config)
    keras_model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    keras_model.compile(optimizer=keras_optimizer, loss="mse")
    keras_model.set_weights(model.get_weights())
    for _ in range(4):
        loss = model.train_on_batch(x, y)
        keras_loss = keras_model.train_on_batch(x, y)
        assert loss == pytest.approx(float(keras_loss), rel=1e-4)
    for got, want in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_checkpoint_restores_the_state_and_training_continues_identically(tmp_path, make):
    x, y = tiny_problem()
    model = tiny_model(make())
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(tmp_path / "model.npz")
    restored = denseops.nn.load(tmp_path / "model.npz")
    assert restored.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(restored.optimizer.state, model.optimizer.state):
        assert list(a) == list(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    for _ in range(2):
        model.train_on_batch(x, y)
        restored.train_on_batch(x, y)
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_adagrad_and_adamax_first_steps_worked_by_hand():
    # Adagrad from Keras's 0.1: a = 0.1 + 0.3**2 = 0.19; w = 1 - 0.5 * 0.3 / sqrt(0.19 + 1e-7).
    w, accumulator = np.array([1.0]), np.array([0.1])
    denseops.adagrad_update(w, np.array([0.3]), accumulator, learning_rate=0.5, epsilon=1e-7)
    assert accumulator[0] == pytest.approx(0.19, rel=1e-15)
    assert w[0] == pytest.approx(1 - 0.15 / np.sqrt(0.19 + 1e-7), rel=1e-15)
    # Adamax step 1: m = 0.1 * g, u = |g|, w -= lr * m / ((1 - 0.9) * (u + eps)) = lr * sign(g).
    w, m, u = np.zeros(2), np.zeros(2), np.zeros(2)
    args = {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "step": 1}
    denseops.adamax_update(w, np.array([2.0, -4.0]), m, u, **args)
    np.testing.assert_allclose(u, [2.0, 4.0])
    np.testing.assert_allclose(w, [-0.01, 0.01], rtol=1e-6)
