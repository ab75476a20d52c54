"""The MNIST MLP in PyTorch (CPU), the same model and batch loop as numpy_mlp.

784 -> Linear(512) -> ReLU -> Linear(10), cross-entropy on the logits,
torch.optim.RMSprop(lr=0.001, alpha=0.9, eps=1e-7) - Keras's rho and
epsilon, though PyTorch adds epsilon outside the square root (the cost is
the same). Glorot-uniform weights and zero biases, as Keras and denseops.
Importing this module imports torch.
"""

import numpy as np
import torch
from numpy_mlp import fit_epoch  # beside this file: the same batch loop


class TorchMLP:
    """Two dense layers trained with RMSprop, one batch at a time."""

    def __init__(self, inputs=784, hidden=512, classes=10, learning_rate=0.001, seed=0):
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
        )
        for layer in (self.model[0], self.model[2]):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.optimizer = torch.optim.RMSprop(
            self.model.parameters(), lr=learning_rate, alpha=0.9, eps=1e-7
        )
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def train_step(self, x, y):
        """Forward, backward, update on tensors x (B, 784) float32, y (B,) int64.

        Returns (mean loss, number of correct predictions) of the batch.
        """
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        loss.backward()
        self.optimizer.step()
        correct = int((logits.argmax(dim=1) == y).sum())
        return loss.item(), correct

    def fit_epoch(self, x, y, batch_size, rng):
        """One shuffled pass over tensors (x, y); returns (mean loss, accuracy)."""
        order = torch.from_numpy(rng.permutation(len(x)))
        return fit_epoch(self.train_step, x, y, batch_size, order)

    @torch.no_grad()
    def evaluate(self, x, y):
        """Accuracy on tensors (x, y)."""
        return float((self.model(x).argmax(dim=1) == y).float().mean())


def to_tensors(x, y):
    """NumPy float32 images and integer labels as the tensors TorchMLP takes."""
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))
