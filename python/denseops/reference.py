"""Plain references for the kernels: what each one computes, stated once.

Two kinds live here.

* The textbook loops (``naive_relu``, ``naive_add``, ``naive_vector_dot``,
  ``naive_matmul``): pure Python, one element at a time. They are the slowest
  rung of the benchmark ladder and the plainest statement of the four core
  kernels. They take and return NumPy arrays (or anything indexable the same
  way).
* NumPy references, one per kernel and named after it (``reference.softmax``
  is the twin of ``denseops.softmax``): readable whole-array NumPy written
  from the formulas of Keras 3, scikit-learn and NumPy, not from the C++
  kernels. The tests compare every kernel with its twin.

The NumPy references compute in float64 whatever the inputs' dtype, except
the ones that are a single IEEE operation per element (``relu``,
``relu_backward``, ``add``), which give the inputs' dtype and so the exact
answer.
They never update their arguments: where a kernel works in place (the
optimizer updates, ``axpy``, ``weight_penalty``'s gradient) its twin returns
the new values instead.
"""

import math

import numpy as np

# ------------------------------------------------------------ textbook loops


def naive_relu(x):
    """max(x, 0) for a 2-D array, element by element."""
    assert len(x.shape) == 2
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x


def naive_add(x, y):
    """x + y for two 2-D arrays of the same shape, element by element."""
    assert len(x.shape) == 2
    assert x.shape == y.shape
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[i, j]
    return x


def naive_vector_dot(x, y):
    """The dot product of two 1-D arrays of the same length."""
    assert len(x.shape) == 1
    assert len(y.shape) == 1
    assert x.shape[0] == y.shape[0]
    z = 0.0
    for i in range(x.shape[0]):
        z += x[i] * y[i]
    return z


def naive_matmul(a, b):
    """a @ b for 2-D arrays a (m, k) and b (k, n): three nested loops."""
    assert len(a.shape) == 2 and len(b.shape) == 2
    assert a.shape[1] == b.shape[0]
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    for i in range(m):
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += a[i, p] * b[p, j]
            out[i, j] = total
    return out


# ------------------------------------------------------------ core kernels


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def relu(x):
    """``np.maximum(x, 0)``: NaN stays NaN, and the dtype is x's (an array even for 0-d x)."""
    return np.asarray(np.maximum(x, np.zeros((), np.asarray(x).dtype)))


def relu_backward(dout, y):
    """relu's gradient from its output y = relu(x): dout where y > 0, else 0."""
    dout = np.asarray(dout)
    return np.asarray(np.where(np.asarray(y) > 0, dout, np.zeros((), dout.dtype)))


def add(x, y):
    """``x + y`` for equal shapes, or y (n,) added to every row of x (..., n);
    one IEEE addition per element, in x's dtype."""
    return np.asarray(np.add(x, y))


def dot(x, y):
    """sum(x * y) of two 1-D arrays, as a Python float."""
    return float(np.dot(_f64(x), _f64(y)))


def column_sums(x):
    """x (m, n) summed over its rows: (n,)."""
    return _f64(x).sum(axis=0)


def matmul(a, b, trans_a=False, trans_b=False):
    """``a @ b``, with a (or b) transposed first when trans_a (trans_b) is set."""
    a, b = _f64(a), _f64(b)
    return (a.T if trans_a else a) @ (b.T if trans_b else b)


def axpy(alpha, x, y):
    """BLAS's axpy: the new y, ``y + alpha * x``."""
    return _f64(y) + alpha * _f64(x)


# ------------------------------------------------- softmax and cross-entropy


def log_softmax(x):
    """log(softmax(x)) over each row of x (batch, classes), without overflow."""
    z = _f64(x)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(x):
    """Row-wise softmax of x (batch, classes): exp(x) / sum(exp(x)) per row."""
    return np.exp(log_softmax(x))


def softmax_backward(dout, y):
    """The softmax Jacobian applied to dout, per row: ``J = diag(y) - y y^T``,
    so ``dx = y * (dout - sum(dout * y))``."""
    dout, y = _f64(dout), _f64(y)
    return y * (dout - (dout * y).sum(axis=1, keepdims=True))


def _argmax_hits(logits, classes):
    """How many rows have np.argmax(logits) == classes (first of ties, NaN wins)."""
    return int((np.argmax(np.asarray(logits), axis=1) == classes).sum())


def softmax_cross_entropy(logits, targets):
    """Softmax then categorical cross-entropy, for (batch, classes) targets.

    Returns ``(mean loss, correct, dlogits)``: the mean over rows of
    ``-sum(targets * log(softmax(logits)))``; how many rows have the argmax of
    the logits at the argmax of the targets; and the gradient of the mean
    loss, ``(softmax(logits) * sum(targets) - targets) / batch``.
    """
    t = _f64(targets)
    logp = log_softmax(logits)
    batch = len(t)
    loss = float(-(t * logp).sum(axis=1).mean())
    correct = _argmax_hits(logits, np.argmax(t, axis=1))
    dlogits = (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / batch
    return loss, correct, dlogits


def sparse_softmax_cross_entropy(logits, labels):
    """``softmax_cross_entropy`` with integer class labels (batch,) for targets."""
    labels = np.asarray(labels).astype(np.int64)
    one_hot = np.eye(np.shape(logits)[1])[labels]
    loss, _, dlogits = softmax_cross_entropy(logits, one_hot)
    return loss, _argmax_hits(logits, labels), dlogits


# ------------------------------------------------------------- activations

ACTIVATIONS = (
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "leaky_relu",
    "softplus",
    "swish",
)
SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(z):
    # exp of -|z| only: no overflow, and exact 0 / 1 far out.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def activation(x, kind, bias=None, alpha=0.0):
    """Keras 3's activation `kind` of ``x + bias`` (bias (n,) added to every row).

    ``alpha`` is elu's alpha and leaky_relu's negative slope, as the kernel
    takes them (Keras's defaults: elu 1.0, leaky_relu 0.2).
    """
    z = _f64(x) if bias is None else _f64(x) + _f64(bias)
    if kind == "linear":
        return z
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "sigmoid":
        return _sigmoid(z)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "elu":
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))
    if kind == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))
    if kind == "gelu":  # exact: z * Phi(z), Phi the standard normal CDF
        return 0.5 * z * (1 + _erf(z / math.sqrt(2)))
    if kind == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    if kind == "softplus":  # log(1 + e^z) = max(z, 0) + log1p(e^-|z|)
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    if kind == "swish":
        return z * _sigmoid(z)
    raise ValueError(f"unknown activation {kind!r}; expected one of {ACTIVATIONS}")


def activation_backward(dout, z, kind, alpha=0.0):
    """``dout * act'(z)``: the derivative of `kind` at its input z, times dout.

    At a kink (relu, elu, leaky_relu at 0) the slope of the left side is
    taken, as the kernel and the backends Keras runs on do.
    """
    z = _f64(z)
    if kind == "linear":
        slope = np.ones_like(z)
    elif kind == "relu":
        slope = (z > 0).astype(np.float64)
    elif kind == "sigmoid":
        s = _sigmoid(z)
        slope = s * (1 - s)
    elif kind == "tanh":
        slope = 1 - np.tanh(z) ** 2
    elif kind == "elu":
        slope = np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))
    elif kind == "selu":
        slope = SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0)))
    elif kind == "gelu":  # Phi(z) + z phi(z)
        slope = 0.5 * (1 + _erf(z / math.sqrt(2))) + z * np.exp(-0.5 * z**2) / math.sqrt(
            2 * math.pi
        )
    elif kind == "leaky_relu":
        slope = np.where(z > 0, 1.0, alpha)
    elif kind == "softplus":
        slope = _sigmoid(z)
    elif kind == "swish":
        s = _sigmoid(z)
        slope = s * (1 + z * (1 - s))
    else:
        raise ValueError(f"unknown activation {kind!r}; expected one of {ACTIVATIONS}")
    return _f64(dout) * slope


# ------------------------------------------------------------------ losses

LOSSES = (
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
)
KERAS_EPSILON = 1e-7  # keras.config.epsilon(): the clip of probabilities


def _per_sample_loss(kind, p, t, from_logits, delta):
    """Each row's Keras loss and its derivative w.r.t. that row of p (float64)."""
    eps = KERAS_EPSILON
    outputs = p.shape[1]
    if kind == "mean_squared_error":
        e = p - t
        return np.mean(e**2, axis=1), 2 * e / outputs
    if kind == "mean_absolute_error":
        e = p - t
        return np.mean(np.abs(e), axis=1), np.sign(e) / outputs
    if kind == "huber":
        e = p - t
        inside = np.abs(e) <= delta
        # The linear piece only where it applies: with delta = inf it is inf - inf.
        linear = np.abs(e) if math.isinf(delta) else delta * np.abs(e) - 0.5 * delta**2
        value = np.where(inside, 0.5 * e**2, linear)
        return np.mean(value, axis=1), np.where(inside, e, delta * np.sign(e)) / outputs
    if kind == "binary_crossentropy":
        if from_logits:
            # -t log s(z) - (1 - t) log(1 - s(z)), written with no positive exponent.
            value = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
            return np.mean(value, axis=1), (_sigmoid(p) - t) / outputs
        # Keras clips the probabilities to [eps, 1 - eps]; the clip passes no gradient.
        q = np.clip(p, eps, 1 - eps)
        value = -(t * np.log(q) + (1 - t) * np.log(1 - q))
        slope = np.where((p > eps) & (p < 1 - eps), (q - t) / (q * (1 - q)), 0.0)
        return np.mean(value, axis=1), slope / outputs
    if kind in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        if kind.startswith("sparse"):
            t = np.eye(outputs)[np.asarray(t).astype(np.int64)]
        if from_logits:
            logq = log_softmax(p)
            return -(t * logq).sum(axis=1), np.exp(logq) * t.sum(axis=1, keepdims=True) - t
        # Keras divides by the row sum first, then clips: q = clip(p / sum(p)).
        total = p.sum(axis=1, keepdims=True)
        raw = p / total
        q = np.clip(raw, eps, 1 - eps)
        dq = np.where((raw > eps) & (raw < 1 - eps), -t / q, 0.0)
        # d/dp_j of q_c = p_c / sum(p): (dq_j - sum_c dq_c raw_c) / sum(p).
        dp = (dq - (dq * raw).sum(axis=1, keepdims=True)) / total
        return -(t * np.log(q)).sum(axis=1), dp
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")


def loss(pred, target, kind, from_logits=False, sample_weight=None, delta=1.0):
    """A Keras 3 loss reduced as "sum_over_batch_size", and its gradient.

    Each sample's loss is the mean over its outputs (mse, mae, huber, binary
    cross-entropy) or the sum over the classes (categorical cross-entropies);
    the result is ``sum(sample_weight * per_sample) / batch``. Returns
    ``(loss, d loss / d pred)``. ``target`` holds integer labels (batch,) for
    the sparse kind, else pred's shape.
    """
    p = _f64(pred)
    t = np.asarray(target) if kind.startswith("sparse") else _f64(target)
    batch = len(p)
    w = np.ones(batch) if sample_weight is None else _f64(sample_weight)
    per_sample, slope = _per_sample_loss(kind, p, t, from_logits, delta)
    return float(np.sum(w * per_sample) / batch), w[:, None] * slope / batch


def metric(pred, target, kind, sample_weight=None, threshold=0.5, k=5):
    """The weighted sum over the batch of a Keras metric's per-sample value."""
    p = _f64(pred)
    w = np.ones(len(p)) if sample_weight is None else _f64(sample_weight)
    if kind in ("sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        labels = np.asarray(target).astype(np.int64)
    elif kind in ("categorical_accuracy", "top_k_categorical_accuracy"):
        labels = np.argmax(np.asarray(target), axis=1)
    if kind == "binary_accuracy":
        per_sample = ((p > threshold) == _f64(target)).mean(axis=1)
    elif kind.endswith("categorical_accuracy") and "top_k" not in kind:
        per_sample = np.argmax(p, axis=1) == labels
    elif "top_k" in kind:
        # In the top k when fewer than k entries are strictly larger (ties count for it).
        label_value = p[np.arange(len(p)), labels][:, None]
        per_sample = (p > label_value).sum(axis=1) < k
    elif kind == "mean_absolute_error":
        per_sample = np.abs(p - _f64(target)).mean(axis=1)
    elif kind == "mean_squared_error":
        per_sample = ((p - _f64(target)) ** 2).mean(axis=1)
    else:
        raise ValueError(f"unknown metric {kind!r}")
    return float(np.sum(w * per_sample))


# -------------------------------------------------------------- optimizers


def sgd_update(weights, grad, velocity=None, *, learning_rate, momentum=0.0, nesterov=False):
    """One step of keras.optimizers.SGD; returns ``(new weights, new velocity)``.

    Without velocity: ``w - lr * g`` (and velocity stays None). With it:
    ``v = momentum * v - lr * g``, then ``w + v``, or with nesterov
    ``w + momentum * v - lr * g``.
    """
    w, g = _f64(weights), _f64(grad)
    if velocity is None:
        return w - learning_rate * g, None
    v = momentum * _f64(velocity) - learning_rate * g
    return w + (momentum * v - learning_rate * g if nesterov else v), v


def rmsprop_update(weights, grad, velocity, *, learning_rate, rho, epsilon):
    """One step of keras.optimizers.RMSprop; returns ``(new weights, new velocity)``.

    ``v = rho * v + (1 - rho) * g**2``; ``w - lr * g / sqrt(v + epsilon)``
    (Keras puts epsilon inside the square root; PyTorch outside).
    """
    w, g = _f64(weights), _f64(grad)
    v = rho * _f64(velocity) + (1 - rho) * g**2
    return w - learning_rate * g / np.sqrt(v + epsilon), v


def adam_update(weights, grad, m, v, *, learning_rate, beta_1, beta_2, epsilon, step):
    """Step number `step` (1 for the first) of keras.optimizers.Adam; returns
    ``(new weights, new m, new v)``.

    ``m += (g - m) * (1 - beta_1)``; ``v += (g**2 - v) * (1 - beta_2)``;
    ``w -= alpha * m / (sqrt(v) + epsilon)`` with the bias corrections folded
    into ``alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)``.
    """
    w, g = _f64(weights), _f64(grad)
    m = _f64(m) + (g - _f64(m)) * (1 - beta_1)
    v = _f64(v) + (g**2 - _f64(v)) * (1 - beta_2)
    alpha = learning_rate * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    return w - alpha * m / (np.sqrt(v) + epsilon), m, v


def adagrad_update(weights, grad, accumulator, *, learning_rate, epsilon):
    """One step of keras.optimizers.Adagrad; returns ``(new weights, new accumulator)``.

    ``a += g**2``; ``w - lr * g / sqrt(a + epsilon)`` (Keras starts ``a`` at
    ``initial_accumulator_value``).
    """
    w, g = _f64(weights), _f64(grad)
    a = _f64(accumulator) + g**2
    return w - learning_rate * g / np.sqrt(a + epsilon), a


def adamax_update(weights, grad, m, u, *, learning_rate, beta_1, beta_2, epsilon, step):
    """Step number `step` of keras.optimizers.Adamax; returns ``(new weights, new m, new u)``.

    ``m += (g - m) * (1 - beta_1)``; ``u = max(beta_2 * u, |g|)``;
    ``w -= lr * m / ((1 - beta_1**step) * (u + epsilon))``.
    """
    w, g = _f64(weights), _f64(grad)
    m = _f64(m) + (g - _f64(m)) * (1 - beta_1)
    u = np.maximum(beta_2 * _f64(u), np.abs(g))
    return w - learning_rate * m / ((1 - beta_1**step) * (u + epsilon)), m, u


def nadam_update(weights, grad, m, v, *, learning_rate, beta_1, beta_2, epsilon, step):
    """Step number `step` of keras.optimizers.Nadam; returns ``(new weights, new m, new v)``.

    Keras's momentum schedule ``u_s = beta_1 * (1 - 0.5 * 0.96**s)`` and its
    running product (Keras's ``u_product``), multiplied out term by term:
    ``m_hat = u_{t+1} * m / (1 - prod u_1..u_{t+1}) + (1 - u_t) * g / (1 - prod u_1..u_t)``,
    ``v_hat = v / (1 - beta_2**t)``; ``w -= lr * m_hat / (sqrt(v_hat) + epsilon)``.
    """
    w, g = _f64(weights), _f64(grad)
    m = _f64(m) + (g - _f64(m)) * (1 - beta_1)
    v = _f64(v) + (g**2 - _f64(v)) * (1 - beta_2)
    u = [beta_1 * (1 - 0.5 * 0.96**s) for s in range(1, step + 2)]  # u_1 .. u_{t+1}
    product = math.prod(u[:step])
    m_hat = u[step] * m / (1 - product * u[step]) + (1 - u[step - 1]) * g / (1 - product)
    v_hat = v / (1 - beta_2**step)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), m, v


def adamw_update(
    weights,
    grad,
    m,
    v,
    v_hat=None,
    *,
    learning_rate,
    weight_decay,
    beta_1,
    beta_2,
    epsilon,
    step,
):
    """Step number `step` of keras.optimizers.AdamW; returns ``(new weights, new m,
    new v, new v_hat)`` (v_hat stays None without amsgrad).

    Keras first decays the weights, ``w -= w * weight_decay * lr``, then takes
    Adam's step (:func:`adam_update`); amsgrad divides by
    ``sqrt(max(v_hat, v))`` instead of ``sqrt(v)``.
    """
    w = _f64(weights)
    w = w - w * weight_decay * learning_rate
    g = _f64(grad)
    m = _f64(m) + (g - _f64(m)) * (1 - beta_1)
    v = _f64(v) + (g**2 - _f64(v)) * (1 - beta_2)
    denominator = v
    if v_hat is not None:
        v_hat = denominator = np.maximum(_f64(v_hat), v)
    alpha = learning_rate * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    return w - alpha * m / (np.sqrt(denominator) + epsilon), m, v, v_hat


# ------------------------------------------------------------ normalization


def batch_normalization(x, gamma, beta, *, epsilon, mean=None, variance=None):
    """keras.layers.BatchNormalization on (batch, features); returns ``(out, mean, variance)``.

    Without ``mean`` / ``variance`` (training) they are the batch's, the
    variance biased; ``out = gamma * (x - mean) / sqrt(variance + epsilon) + beta``.
    """
    x = _f64(x)
    if mean is None:
        mean, variance = x.mean(axis=0), x.var(axis=0)
    mean, variance = _f64(mean), _f64(variance)
    return _f64(gamma) * (x - mean) / np.sqrt(variance + epsilon) + _f64(beta), mean, variance


def _normalization_backward(dout, x, gamma, mean, variance, epsilon, axis):
    """The chain rule through ``(x - mean) / sqrt(variance + epsilon)`` step by
    step (as in CS231n's batch-norm derivation), statistics taken along `axis`."""
    dout, x, gamma = _f64(dout), _f64(x), _f64(gamma)
    keep = (lambda v: _f64(v)) if axis == 0 else (lambda v: _f64(v)[:, None])
    mean, variance = keep(mean), keep(variance)
    n = x.shape[axis]
    centered = x - mean
    inv_std = 1.0 / np.sqrt(variance + epsilon)
    xhat = centered * inv_std
    dxhat = dout * gamma
    dvariance = np.sum(dxhat * centered, axis=axis, keepdims=True) * -0.5 * inv_std**3
    dmean = np.sum(-dxhat * inv_std, axis=axis, keepdims=True) + dvariance * np.mean(
        -2.0 * centered, axis=axis, keepdims=True
    )
    dx = dxhat * inv_std + dvariance * 2.0 * centered / n + dmean / n
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def batch_normalization_backward(dout, x, gamma, mean, variance, *, epsilon):
    """``(dx, dgamma, dbeta)`` of :func:`batch_normalization` with batch statistics."""
    return _normalization_backward(dout, x, gamma, mean, variance, epsilon, axis=0)


def layer_normalization(x, gamma, beta, *, epsilon):
    """keras.layers.LayerNormalization on (batch, features); returns ``(out, mean, variance)``,
    each row normalized by its own mean and biased variance."""
    x = _f64(x)
    mean, variance = x.mean(axis=1), x.var(axis=1)
    out = _f64(gamma) * (x - mean[:, None]) / np.sqrt(variance[:, None] + epsilon) + _f64(beta)
    return out, mean, variance


def layer_normalization_backward(dout, x, gamma, mean, variance, *, epsilon):
    """``(dx, dgamma, dbeta)`` of :func:`layer_normalization`."""
    return _normalization_backward(dout, x, gamma, mean, variance, epsilon, axis=1)


# ---------------------------------------------------- dropout and penalties


def dropout(x, rate, keep):
    """Inverted dropout with a given mask: ``x / (1 - rate)`` where `keep` is
    true, 0 elsewhere. (The kernel draws the mask itself, from a counter-based
    generator; the tests check its statistics and reproducibility.)"""
    return np.where(keep, _f64(x) / (1 - rate), 0.0)


def weight_penalty(weights, l1=0.0, l2=0.0):
    """Keras's L1L2 regularizer: ``(l1 * sum|w| + l2 * sum(w**2), its gradient)``,
    the gradient being ``l1 * sign(w) + 2 * l2 * w`` (sign(0) = 0)."""
    w = _f64(weights)
    return float(l1 * np.abs(w).sum() + l2 * (w**2).sum()), l1 * np.sign(w) + 2 * l2 * w


# ---------------------------------------------- scikit-learn's output layer

LINKS = ("identity", "logistic", "softmax", "exp")


def link_activation(z, link):
    """The output activation of scikit-learn's MLP for a canonical link."""
    z = _f64(z)
    if link == "identity":
        return z.copy()
    if link == "logistic":
        return _sigmoid(z)
    if link == "softmax":
        return softmax(z)
    if link == "exp":
        return np.exp(z)
    raise ValueError(f"unknown link {link!r}; expected one of {LINKS}")


def link_loss(z, targets, link, sample_weight=None):
    """scikit-learn's MLP loss for `link` and the gradient it back-propagates.

    Losses as in sklearn.neural_network._base, averaged over samples with
    weights w: half squared error (mean over outputs) for identity, binary
    log loss for logistic, log loss for softmax, half Poisson deviance for
    exp; probabilities inside logarithms are clipped to [eps, 1 - eps] with
    eps the dtype's machine epsilon. The gradient w.r.t. z is scikit-learn's
    ``w * (activation(z) - y) / sum(w)`` (for identity with several outputs
    that is not the derivative of the mean over outputs: scikit-learn's own
    convention). Returns ``(loss, dz)``.
    """
    dtype = np.asarray(z).dtype
    y = _f64(targets)
    p = link_activation(z, link)
    w = np.ones(len(p)) if sample_weight is None else _f64(sample_weight)
    eps = np.finfo(dtype).eps
    pc = np.clip(p, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log(0) terms are masked
        if link == "identity":
            per_sample = 0.5 * ((p - y) ** 2).mean(axis=1)
        elif link == "logistic":
            per_sample = -(
                np.where(y != 0, y * np.log(pc), 0) + np.where(y != 1, (1 - y) * np.log(1 - pc), 0)
            ).sum(axis=1)
        elif link == "softmax":
            per_sample = -np.where(y != 0, y * np.log(pc), 0).sum(axis=1)
        else:
            per_sample = (np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / p), 0) - y + p).sum(
                axis=1
            )
    return float((w * per_sample).sum() / w.sum()), w[:, None] * (p - y) / w.sum()
