"""The network behind the estimators: scikit-learn's MLP maths on denseops kernels.

``coefs_`` / ``intercepts_`` are bound (not copied) to ``denseops.nn.Dense``
layers, so every matmul, activation, backward pass, loss and L2 term runs in
a denseops kernel. scikit-learn's definitions are kept where they differ
from Keras's:

* the L2 penalty is ``alpha / (2 * n) * sum(||W||^2)`` added to the batch
  loss, with gradient ``alpha * W / n`` (``n``: samples, or the weight sum,
  of the batch); intercepts are not penalised;
* the output layer pairs each activation with its canonical loss (see
  ``denseops.link_loss``), so the output delta is ``activation(z) - y``.
"""

import numpy as np

import denseops as ops
from denseops.nn import Dense, activations


class _ReLU(activations.ElementwiseActivation):
    """nn's relu with the dedicated ``relu_backward`` kernel for the backward pass.

    The general ``activation_backward`` kernel takes 8-30x longer for relu
    (0.5 ms vs 18 us on a 128x512 float32 batch, one thread), a quarter of an
    MNIST epoch's time; the forward pass keeps nn's fused bias add.
    """

    def __init__(self):
        super().__init__("relu")

    def backward(self, dout, y, z=None, out=None):
        return ops.relu_backward(dout, y, out=out)


# scikit-learn's hidden activations as denseops.nn activations.
_HIDDEN = {"identity": None, "logistic": "sigmoid", "tanh": "tanh", "relu": _ReLU()}

# Rows per forward pass at prediction time: bounds the activations' memory
# for any number of samples and keeps each block's activations in cache.
_PREDICT_ROWS = 4096


def _bind_dense(kernel, bias, activation, policy=None):
    """A built Dense layer whose weights *are* ``kernel`` and ``bias`` (no copy)."""
    layer = Dense(kernel.shape[1], activation=activation, dtype=policy or kernel.dtype)
    layer.input_dim = kernel.shape[0]
    layer.kernel, layer.bias = kernel, bias
    layer.d_kernel, layer.d_bias = np.empty_like(kernel), np.empty_like(bias)
    layer.built = True
    return layer


class Network:
    """A stack of Dense layers over ``coefs`` and ``intercepts``.

    Args:
        coefs: list of (fan_in, fan_out) C-contiguous arrays of one float dtype.
        intercepts: list of (fan_out,) arrays of that dtype.
        activation: scikit-learn's hidden activation name.
        out_activation: "identity", "logistic", "softmax" or "exp".
        policy: None, or "mixed_bfloat16": the products in bfloat16 with
            float32 sums (float32 coefficients), as denseops.nn's policy.
    """

    def __init__(self, coefs, intercepts, activation, out_activation, policy=None):
        hidden = _HIDDEN[activation]
        last = len(coefs) - 1
        self.layers = [
            _bind_dense(w, b, None if i == last else hidden, policy)
            for i, (w, b) in enumerate(zip(coefs, intercepts))
        ]
        self.out_activation = out_activation
        self.dtype = coefs[0].dtype

    @property
    def params(self):
        """Coefficients then intercepts: scikit-learn's parameter order."""
        return [layer.kernel for layer in self.layers] + [layer.bias for layer in self.layers]

    @property
    def grads(self):
        return [layer.d_kernel for layer in self.layers] + [layer.d_bias for layer in self.layers]

    def _logits(self, x):
        for layer in self.layers[:-1]:
            x = layer.forward(x)
        return self.layers[-1].forward(x, return_logits=True)

    def predict(self, X):
        """Output-layer activations for X (n_samples, n_features), block by block.

        Computed in arrays of its own (``Dense.infer``), never the layers'
        training buffers: any number of threads may predict at once.
        """
        out = np.empty((X.shape[0], self.layers[-1].units), self.dtype)
        for start in range(0, X.shape[0], _PREDICT_ROWS):
            block = X[start : start + _PREDICT_ROWS]
            for layer in self.layers[:-1]:
                block = layer.infer(block)
            logits = self.layers[-1].infer(block, return_logits=True)
            ops.link_activation(logits, self.out_activation, out=out[start : start + len(block)])
        return out

    def loss_grad(self, X, Y, alpha, sample_weight=None):
        """scikit-learn's ``_backprop``: returns the batch loss, fills ``grads``.

        X (n, n_features) and Y (n, n_outputs) are C-contiguous arrays of the
        network's dtype; sample_weight is None or (n,) of that dtype.
        """
        z = self._logits(X)
        dz = self._dz_buffer(z.shape)
        loss = ops.link_loss(z, Y, self.out_activation, dz=dz, sample_weight=sample_weight)
        weight_sum = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        grad = dz
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            grad = layer.backward(grad, need_dx=i > 0, from_logits=i == len(self.layers) - 1)
            if alpha:
                # alpha / (2 n) * ||W||^2 joins the loss, alpha / n * W the gradient.
                # (dot + axpy: two vectorised passes, several times faster than
                # weight_penalty's combined L1/L2 loop on a 784x512 kernel.)
                w = layer.kernel.ravel()
                loss += 0.5 * alpha * ops.dot(w, w) / weight_sum
                ops.axpy(alpha / weight_sum, layer.kernel, layer.d_kernel)
        return loss

    def _dz_buffer(self, shape):
        buf = getattr(self, "_dz", None)
        if buf is None or buf.shape != shape:
            buf = self._dz = np.empty(shape, self.dtype)
        return buf
