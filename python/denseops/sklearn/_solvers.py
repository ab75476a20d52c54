"""scikit-learn's stochastic solvers (``_stochastic_optimizers.py``) on denseops.nn optimizers.

The update formulas of scikit-learn and Keras agree: SGD with (Nesterov)
momentum ``v = momentum * v - lr * g`` and Adam with the bias corrections
folded into the step size, ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``
and ``epsilon`` outside the square root. What scikit-learn adds lives here:
the learning-rate schedules and what happens when training stops improving.
"""

from denseops.nn import optimizers


class _Solver:
    """What both solvers share: a denseops.nn optimizer, and stop when told to."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    @property
    def learning_rate(self):
        return self.optimizer.learning_rate

    def update_params(self, params, grads):
        self.optimizer.apply(grads, params)

    def iteration_ends(self, time_step):
        """After each epoch; ``time_step`` is the number of samples seen so far."""

    def trigger_stopping(self, msg, verbose):
        """True to stop, when training stops improving."""
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDSolver(_Solver):
    """scikit-learn's ``SGDOptimizer``: constant, invscaling or adaptive learning rate."""

    def __init__(self, learning_rate_init, lr_schedule, momentum, nesterov, power_t):
        self.learning_rate_init = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        # scikit-learn keeps a velocity even at momentum 0, where its update
        # reduces to w -= lr * g: the same as the kernel's momentum-free path.
        super().__init__(
            optimizers.SGD(
                learning_rate=self.learning_rate_init, momentum=momentum, nesterov=nesterov
            )
        )

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.optimizer.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """The adaptive schedule first divides the rate by 5 instead of stopping, until
        it is 1e-6 or less (scikit-learn's numbers)."""
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.optimizer.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.optimizer.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.optimizer.learning_rate:f}")
        return False


class AdamSolver(_Solver):
    """scikit-learn's ``AdamOptimizer``: stops as soon as training stops improving."""

    def __init__(self, learning_rate_init, beta_1, beta_2, epsilon):
        super().__init__(
            optimizers.Adam(
                learning_rate=learning_rate_init, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
            )
        )
