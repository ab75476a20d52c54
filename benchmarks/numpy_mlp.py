"""The MNIST MLP in plain NumPy: the baseline denseops' training is timed against.

784 -> Dense(512, relu) -> Dense(10, softmax), sparse categorical
cross-entropy, RMSprop with Keras's formula and defaults
(v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v + epsilon)), float32.
Forward and backward written by hand, the way one writes them in NumPy:
idiomatic (in-place where it reads naturally), not tuned.

Shapes: B batch, D=784 inputs, H=512 hidden units, C=10 classes.
"""

import numpy as np


def fit_epoch(train_step, x, y, batch_size, order):
    """One pass over (x, y) in `order`, a batch at a time; returns (mean loss, accuracy).

    `train_step(x_batch, y_batch)` returns the batch's (mean loss, correct
    predictions); the batch loop of numpy_mlp.py and torch_mlp.py alike.
    """
    loss_sum = correct = 0.0
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        loss, right = train_step(x[idx], y[idx])
        loss_sum += loss * len(idx)
        correct += right
    return loss_sum / len(x), correct / len(x)


def glorot_uniform(fan_in, fan_out, rng):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


class NumpyMLP:
    """Two dense layers trained with RMSprop, one batch at a time."""

    def __init__(
        self, inputs=784, hidden=512, classes=10, learning_rate=0.001, rho=0.9, epsilon=1e-7, seed=0
    ):
        rng = np.random.default_rng(seed)
        self.W1 = glorot_uniform(inputs, hidden, rng)  # (D, H)
        self.b1 = np.zeros(hidden, np.float32)  # (H,)
        self.W2 = glorot_uniform(hidden, classes, rng)  # (H, C)
        self.b2 = np.zeros(classes, np.float32)  # (C,)
        self.learning_rate, self.rho, self.epsilon = learning_rate, rho, epsilon
        self.velocities = [np.zeros_like(w) for w in self.weights]

    @property
    def weights(self):
        return [self.W1, self.b1, self.W2, self.b2]

    def forward(self, x):
        """Class probabilities (B, C) for inputs x (B, D); caches the hidden layer."""
        self.h = np.maximum(x @ self.W1 + self.b1, 0)  # (B, H)
        logits = self.h @ self.W2 + self.b2  # (B, C)
        logits -= logits.max(axis=1, keepdims=True)  # stable softmax
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p

    def train_step(self, x, y):
        """Forward, backward and one RMSprop update on x (B, D), labels y (B,).

        Returns (mean loss, number of correct predictions) of the batch.
        """
        batch = len(x)
        p = self.forward(x)  # (B, C)
        rows = np.arange(batch)
        loss = -np.log(p[rows, y] + 1e-7).mean()
        correct = int((p.argmax(axis=1) == y).sum())
        dlogits = p
        dlogits[rows, y] -= 1
        dlogits /= batch  # (B, C)
        dW2 = self.h.T @ dlogits  # (H, C)
        db2 = dlogits.sum(axis=0)  # (C,)
        dh = dlogits @ self.W2.T  # (B, H)
        dh[self.h <= 0] = 0  # relu backward
        dW1 = x.T @ dh  # (D, H)
        db1 = dh.sum(axis=0)  # (H,)
        for w, g, v in zip(self.weights, (dW1, db1, dW2, db2), self.velocities):
            v *= self.rho
            v += (1 - self.rho) * g * g
            w -= self.learning_rate * g / np.sqrt(v + self.epsilon)
        return float(loss), correct

    def fit_epoch(self, x, y, batch_size, rng):
        """One shuffled pass over (x, y); returns (mean loss, accuracy)."""
        return fit_epoch(self.train_step, x, y, batch_size, rng.permutation(len(x)))

    def evaluate(self, x, y, batch_size=1000):
        """Accuracy on (x, y)."""
        correct = sum(
            int((self.forward(x[s : s + batch_size]).argmax(axis=1) == y[s : s + batch_size]).sum())
            for s in range(0, len(x), batch_size)
        )
        return correct / len(x)
