"""Optimizers: hyperparameters and lazily created state here, the math in
fused C++ kernels (one pass over each weight array per step).

Names and defaults follow Keras 3.
"""

import math

import numpy as np

import denseops as ops


class Optimizer:
    """Base class: validates ``learning_rate`` and keeps per-weight state.

    ``state`` holds, for each weight, a dict of arrays shaped like it (the
    slots named by ``get_slot_names()``, e.g. Adam's ``m`` and ``v``), as
    ``torch.optim.Optimizer.state`` does per parameter. It is created by
    ``build`` (or the first ``apply``) and keyed by the position of a weight
    in the list passed there, so the same optimizer must always be given the
    same weights in the same order (``Sequential`` does this). Checkpoints
    save and restore it through ``state``, ``get_slot_names`` and ``build``.
    """

    name = "optimizer"

    def __init__(self, learning_rate):
        self.learning_rate = _check("learning_rate", learning_rate, low=0.0, low_open=True)
        self.iterations = 0
        self._state = []
        self._variables = None

    @property
    def built(self):
        """Whether ``build`` has created the state (Keras's ``optimizer.built``)."""
        return bool(self._state)

    @property
    def state(self):
        """One ``{slot name: array}`` dict per weight, in ``build``'s order; ``[]`` until built.

        The arrays are the optimizer's own: writing into them (``[...] =``)
        sets the state, as loading a checkpoint does.
        """
        return self._state

    def get_slot_names(self):
        """The names of the arrays kept for each weight (tf.keras's ``get_slot_names``)."""
        return []

    def build(self, variables):
        """Creates zeroed state for ``variables`` (the weight arrays), as Keras's
        ``optimizer.build(variables)``; ``apply`` then updates them when called
        without ``trainable_variables``."""
        self._variables = list(variables)
        self._state = [
            {name: np.zeros_like(w) for name in self.get_slot_names()} for w in self._variables
        ]

    def apply(self, grads, trainable_variables=None):
        """Updates every array of ``trainable_variables`` in place from ``grads``.

        Keras 3's signature and order: gradients first. Without
        ``trainable_variables`` the arrays given to ``build`` are updated.
        """
        if trainable_variables is None:
            if self._variables is None:
                raise ValueError(
                    "apply() needs trainable_variables (the weight arrays) the first time, "
                    "or build(variables) before it"
                )
            trainable_variables = self._variables
        if not self._state:
            self.build(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"apply() needs one gradient per variable. Received: {len(grads)} "
                f"gradients for {len(trainable_variables)} variables"
            )
        self.iterations += 1
        for w, g, state in zip(trainable_variables, grads, self._state):
            self._update(w, g, state)

    def _update(self, weight, grad, state):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    ``velocity = momentum * velocity - learning_rate * g``;
    ``w += velocity`` (or ``w += momentum * velocity - learning_rate * g``
    with ``nesterov=True``). With ``momentum=0``: ``w -= learning_rate * g``.

    Args:
        learning_rate: step size, > 0. Default 0.01.
        momentum: in [0, 1]. Default 0.
        nesterov: use Nesterov momentum.
    """

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = _check("momentum", momentum, low=0.0, high=1.0)
        self.nesterov = bool(nesterov)

    def get_slot_names(self):
        return ["velocity"] if self.momentum > 0 else []

    def _update(self, weight, grad, state):
        ops.sgd_update(
            weight,
            grad,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
            velocity=state.get("velocity"),
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop as in Keras 3.

    ``v = rho * v + (1 - rho) * g**2``; ``w -= learning_rate * g / sqrt(v + epsilon)``,
    with ``v`` starting at 0. (PyTorch puts epsilon outside the square root.)

    Args:
        learning_rate: step size, > 0. Default 0.001.
        rho: decay of the running mean of squared gradients, in [0, 1). Default 0.9.
        momentum: Keras's momentum on the updates; only 0.0 (its default) is
            supported. It stands third, as in Keras, so that
            ``RMSprop(0.001, 0.9, 0.5)`` is refused rather than read as epsilon.
        epsilon: > 0, keeps the division finite. Default 1e-7.
        centered: Keras's centered variant; only False (its default) is supported.
    """

    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        super().__init__(learning_rate)
        self.rho = _check("rho", rho, low=0.0, high=1.0, high_open=True)
        if _check("momentum", momentum) != 0.0:
            raise ValueError(
                "RMSprop's momentum is not supported: only momentum=0.0 (Keras's default). "
                f"Received: momentum={momentum!r}"
            )
        self.epsilon = _check("epsilon", epsilon, low=0.0, low_open=True)
        if centered is not False:
            raise ValueError(
                "RMSprop's centered variant is not supported: only centered=False (Keras's "
                f"default). Received: centered={centered!r}"
            )

    def get_slot_names(self):
        return ["velocity"]

    def _update(self, weight, grad, state):
        ops.rmsprop_update(
            weight,
            grad,
            state["velocity"],
            learning_rate=self.learning_rate,
            rho=self.rho,
            epsilon=self.epsilon,
        )

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam as in Keras 3.

    ``m += (g - m) * (1 - beta_1)``; ``v += (g**2 - v) * (1 - beta_2)``;
    ``w -= lr_t * m / (sqrt(v) + epsilon)`` with
    ``lr_t = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)``.

    Args:
        learning_rate: step size, > 0. Default 0.001.
        beta_1: decay rate of the first moment, in [0, 1). Default 0.9.
        beta_2: decay rate of the second moment, in [0, 1). Default 0.999.
        epsilon: > 0. Default 1e-7.
    """

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = _check("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _check("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _check("epsilon", epsilon, low=0.0, low_open=True)

    def get_slot_names(self):
        return ["m", "v"]

    def _update(self, weight, grad, state):
        ops.adam_update(
            weight,
            grad,
            state["m"],
            state["v"],
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            step=self.iterations,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adagrad(Optimizer):
    """Adagrad as in Keras 3.

    ``accumulator += g**2``; ``w -= learning_rate * g / sqrt(accumulator + epsilon)``,
    with the accumulator starting at ``initial_accumulator_value``.

    Args:
        learning_rate: step size, > 0. Default 0.001.
        initial_accumulator_value: where every accumulator starts, >= 0. Default 0.1.
        epsilon: >= 0, keeps the division finite. Default 1e-7.
    """

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = _check(
            "initial_accumulator_value", initial_accumulator_value, low=0.0
        )
        self.epsilon = _check("epsilon", epsilon, low=0.0)

    def get_slot_names(self):
        return ["accumulator"]

    def build(self, variables):
        super().build(variables)
        for state in self._state:
            state["accumulator"][...] = self.initial_accumulator_value

    def _update(self, weight, grad, state):
        ops.adagrad_update(
            weight,
            grad,
            state["accumulator"],
            learning_rate=self.learning_rate,
            epsilon=self.epsilon,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class _Moments(Optimizer):
    """The hyperparameters Adamax and Nadam share with Adam, validated alike."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon):
        super().__init__(learning_rate)
        self.beta_1 = _check("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _check("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _check("epsilon", epsilon, low=0.0, low_open=True)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adamax(_Moments):
    """Adamax (Adam with the infinity norm) as in Keras 3.

    ``m += (g - m) * (1 - beta_1)``; ``u = max(beta_2 * u, |g|)``;
    ``w -= learning_rate * m / ((1 - beta_1**t) * (u + epsilon))``.

    Args:
        learning_rate: step size, > 0. Default 0.001.
        beta_1, beta_2: decay rates in [0, 1). Defaults 0.9 and 0.999.
        epsilon: > 0. Default 1e-7.
    """

    name = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)

    def get_slot_names(self):
        return ["m", "u"]

    def _update(self, weight, grad, state):
        ops.adamax_update(
            weight,
            grad,
            state["m"],
            state["u"],
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            step=self.iterations,
        )


class Nadam(_Moments):
    """Nadam (Adam with Nesterov momentum) as in Keras 3, with its momentum schedule.

    ``u_t = beta_1 * (1 - 0.5 * 0.96**t)``; ``m += (g - m) * (1 - beta_1)``;
    ``v += (g**2 - v) * (1 - beta_2)``;
    ``m_hat = u_{t+1} * m / (1 - u_1...u_{t+1}) + (1 - u_t) * g / (1 - u_1...u_t)``;
    ``w -= learning_rate * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``.
    The product of the u's (Keras's ``u_product``) follows from the step
    number, so checkpoints need only ``iterations`` besides ``m`` and ``v``.

    Args:
        learning_rate: step size, > 0. Default 0.001.
        beta_1, beta_2: decay rates in [0, 1). Defaults 0.9 and 0.999.
        epsilon: > 0. Default 1e-7.
    """

    name = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)

    def get_slot_names(self):
        return ["m", "v"]

    def _update(self, weight, grad, state):
        ops.nadam_update(
            weight,
            grad,
            state["m"],
            state["v"],
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            step=self.iterations,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay, as in Keras 3.

    Each step first decays every weight, ``w -= w * weight_decay * learning_rate``,
    then takes Adam's step. With ``amsgrad``, ``v_hat = max(v_hat, v)``
    replaces ``v`` in the denominator (Reddi et al., 2018).

    Args:
        learning_rate: step size, > 0. Default 0.001.
        weight_decay: >= 0. Default 0.004.
        beta_1, beta_2: decay rates in [0, 1). Defaults 0.9 and 0.999.
        epsilon: > 0. Default 1e-7.
        amsgrad: keep the running maximum of ``v``. Default False.
    """

    name = "adamw"

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        if weight_decay is None:  # Keras's own check: AdamW without decay is Adam
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        self.weight_decay = _check("weight_decay", weight_decay, low=0.0)
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise ValueError(f"amsgrad must be True or False. Received: amsgrad={amsgrad!r}")
        self.amsgrad = bool(amsgrad)

    def get_slot_names(self):
        return ["m", "v", "v_hat"] if self.amsgrad else ["m", "v"]

    def _update(self, weight, grad, state):
        ops.adamw_update(
            weight,
            grad,
            state["m"],
            state["v"],
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            step=self.iterations,
            v_hat=state.get("v_hat"),
        )

    def get_config(self):
        config = super().get_config()
        return {
            "name": config.pop("name"),
            "learning_rate": config.pop("learning_rate"),
            "weight_decay": self.weight_decay,
            **config,
            "amsgrad": self.amsgrad,
        }


_BY_NAME = {c.name: c for c in (SGD, RMSprop, Adam, Adagrad, Adamax, Nadam, AdamW)}


def get(identifier):
    """Returns an Optimizer for a Keras name (default hyperparameters) or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Unknown optimizer: {identifier!r}. Expected one of {sorted(_BY_NAME)}.")


def from_config(config):
    """Rebuilds an optimizer (without its state) from ``get_config()``."""
    config = dict(config)
    return _BY_NAME[config.pop("name")](**config)


def _check(argument, value, low=None, high=None, low_open=False, high_open=False):
    """A finite float within the given bounds, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{argument} must be a number. Received: {argument}={value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        raise ValueError(f"{argument} must be finite and {bounds}. Received: {argument}={value!r}")
    return value
