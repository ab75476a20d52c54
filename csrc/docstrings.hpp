// Docstrings of the public kernels (Google style: formula, Args, shapes,
// example). Kept apart so bindings.cpp reads as code.
#pragma once

namespace denseops::doc {

constexpr const char* relu = R"(relu(x, out=None)

Rectified linear unit, elementwise: ``max(x, 0)``. NaN stays NaN, as in
``np.maximum(x, 0)``.

Args:
    x: ndarray of float32, float64 or bfloat16 (ml_dtypes), any shape and
        layout.
    out: optional C-contiguous ndarray of x's shape and dtype; may be x itself.

Returns:
    The result (``out`` when given).

Example:
    >>> import numpy as np, denseops
    >>> denseops.relu(np.array([-1.0, 2.0]))
    array([0., 2.])
)";

constexpr const char* relu_backward = R"(relu_backward(dout, y, out=None)

Gradient of relu: ``dout`` where ``y > 0``, else 0, with ``y = relu(x)``.

Args:
    dout: ndarray, the gradient w.r.t. relu's output.
    y: ndarray of dout's shape and dtype, relu's output.
    out: optional C-contiguous result array; may alias dout.

Example:
    >>> import numpy as np, denseops
    >>> denseops.relu_backward(np.array([5.0, 5.0]), np.array([0.0, 2.0]))
    array([0., 5.])
)";

constexpr const char* add = R"(add(x, y, out=None)

``x + y`` for equal shapes, or a bias add: x of shape (..., n) plus y of
shape (n,) added to every row. No other broadcasting.

bfloat16 sums are computed in float32 and rounded once, as ml_dtypes does.

Args:
    x: ndarray of float32, float64 or bfloat16 (ml_dtypes).
    y: ndarray of x's dtype: x's shape, or (x.shape[-1],).
    out: optional C-contiguous ndarray of x's shape; may be x or y.

Example:
    >>> import numpy as np, denseops
    >>> denseops.add(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
    array([[1., 2., 3.],
           [1., 2., 3.]])
)";

constexpr const char* dot = R"(dot(x, y)

Dot product of two 1-D arrays of one dtype, as a Python float. Accumulates
in the arrays' dtype over 32 (float32) or 16 (float64) partial sums.

Example:
    >>> import numpy as np, denseops
    >>> denseops.dot(np.arange(3.0), np.arange(3.0))
    5.0
)";

constexpr const char* column_sums = R"(column_sums(x, out=None)

Sum over the rows of a 2-D array (the bias gradient): x (m, n) -> (n,).

Example:
    >>> import numpy as np, denseops
    >>> denseops.column_sums(np.ones((4, 2)))
    array([4., 4.])
)";

constexpr const char* matmul =
    R"(matmul(a, b, out=None, *, trans_a=False, trans_b=False, precision=None)

Matrix product of 2-D arrays: ``a @ b``, or ``a.T @ b`` / ``a @ b.T`` with
trans_a / trans_b, without making a transposed copy.

bfloat16 (``ml_dtypes.bfloat16`` arrays): the products are computed in
bfloat16 and summed in float32 (AMX or AVX512-BF16 where the CPU has them);
the result is bfloat16, rounded once at the end, unless ``out`` is float32.

Args:
    a: ndarray (M, K) (or (K, M) with trans_a), float32, float64 or
        bfloat16, any layout.
    b: ndarray (K, N) (or (N, K) with trans_b), a's dtype, any layout.
    out: optional C-contiguous (M, N) ndarray of a's dtype (float32 too for
        bfloat16 inputs). If it shares memory with a or b the product goes
        through a scratch array first.
    precision: None (compute in the inputs' dtype), "float32", or
        "bfloat16": float32 inputs rounded to bfloat16 (to nearest even),
        multiplied in bfloat16 and summed in float32, float32 result.

Returns:
    The (M, N) product (``out`` when given).

Example:
    >>> import numpy as np, denseops
    >>> a = np.ones((2, 3), np.float32)
    >>> denseops.matmul(a, a, trans_b=True)
    array([[3., 3.],
           [3., 3.]], dtype=float32)
)";

constexpr const char* softmax = R"(softmax(x, out=None)

Row-wise softmax of a (batch, classes) array, ``exp(x - max) / sum(...)``
(the max is subtracted so nothing overflows).

Example:
    >>> import numpy as np, denseops
    >>> denseops.softmax(np.zeros((1, 2)))
    array([[0.5, 0.5]])
)";

constexpr const char* softmax_backward = R"(softmax_backward(dout, y, out=None)

Gradient of a row-wise softmax with output y (batch, classes):
``y * (dout - sum(dout * y, axis=1, keepdims=True))``.
)";

constexpr const char* sparse_softmax_cross_entropy =
    R"(sparse_softmax_cross_entropy(logits, labels, dlogits=None)

Softmax fused with sparse categorical cross-entropy.

Args:
    logits: (batch, classes) float32/float64 ndarray.
    labels: (batch,) integer ndarray, each in [0, classes).
    dlogits: optional C-contiguous (batch, classes) array that receives the
        gradient of the mean loss w.r.t. logits: ``(softmax - onehot) / batch``.

Returns:
    ``(mean loss, number of rows whose argmax equals the label)``.

Example:
    >>> import numpy as np, denseops
    >>> loss, correct = denseops.sparse_softmax_cross_entropy(
    ...     np.array([[0.0, 0.0]]), np.array([1]))
    >>> round(loss, 4), correct
    (0.6931, 0)
)";

constexpr const char* softmax_cross_entropy =
    R"(softmax_cross_entropy(logits, targets, dlogits=None)

Softmax fused with categorical cross-entropy for (batch, classes) target
distributions (one-hot or soft). ``dlogits`` receives
``(softmax * sum(targets) - targets) / batch``. Returns
``(mean loss, rows whose argmax matches the targets' argmax)``.
)";

constexpr const char* sgd_update =
    R"(sgd_update(weights, grad, *, learning_rate, momentum=0.0, nesterov=False, velocity=None)

In-place SGD step (Keras's formula). Without velocity:
``w -= learning_rate * g``. With velocity (same shape as w):
``v = momentum * v - learning_rate * g``; ``w += v`` or, with nesterov,
``w += momentum * v - learning_rate * g``.
)";

constexpr const char* rmsprop_update =
    R"(rmsprop_update(weights, grad, velocity, *, learning_rate, rho, epsilon)

In-place RMSprop step (Keras 3): ``v = rho * v + (1 - rho) * g**2``;
``w -= learning_rate * g / sqrt(v + epsilon)``.
)";

constexpr const char* adam_update =
    R"(adam_update(weights, grad, m, v, *, learning_rate, beta_1, beta_2, epsilon, step)

In-place Adam step (Keras): ``m += (g - m) * (1 - beta_1)``;
``v += (g**2 - v) * (1 - beta_2)``; ``w -= alpha * m / (sqrt(v) + epsilon)``,
with Keras's bias corrections in
``alpha = learning_rate * sqrt(1 - beta_2**step) / (1 - beta_1**step)``.

Args:
    step: the number of this update, from 1 (Keras's ``iterations + 1``).
)";

constexpr const char* adagrad_update =
    R"(adagrad_update(weights, grad, accumulator, *, learning_rate, epsilon)

In-place Adagrad step (Keras 3): ``accumulator += g**2``;
``w -= learning_rate * g / sqrt(accumulator + epsilon)``. Keras starts the
accumulator at ``initial_accumulator_value`` (0.1), not 0.
)";

constexpr const char* adamax_update =
    R"(adamax_update(weights, grad, m, u, *, learning_rate, beta_1, beta_2, epsilon, step)

In-place Adamax step (Keras 3): ``m += (g - m) * (1 - beta_1)``;
``u = max(beta_2 * u, |g|)``;
``w -= learning_rate / (1 - beta_1**step) * m / (u + epsilon)``.

Args:
    step: the number of this update, from 1 (Keras's ``iterations + 1``).
)";

constexpr const char* nadam_update =
    R"(nadam_update(weights, grad, m, v, *, learning_rate, beta_1, beta_2, epsilon, step)

In-place Nadam step (Keras 3), with Keras's momentum schedule
``u_s = beta_1 * (1 - 0.5 * 0.96**s)`` and ``P_s = u_1 * ... * u_s``:
``m += (g - m) * (1 - beta_1)``; ``v += (g**2 - v) * (1 - beta_2)``;
``m_hat = u_{t+1} * m / (1 - P_{t+1}) + (1 - u_t) * g / (1 - P_t)``;
``w -= learning_rate * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``, t = step.

Args:
    step: the number of this update, from 1 (Keras's ``iterations + 1``).
)";

constexpr const char* adamw_update =
    R"(adamw_update(weights, grad, m, v, *, learning_rate, weight_decay, beta_1, beta_2, epsilon, step, v_hat=None)

In-place AdamW step (Keras 3): the decoupled decay
``w -= w * weight_decay * learning_rate``, then Adam's step (see
``adam_update``). With ``v_hat`` (amsgrad), ``v_hat = max(v_hat, v)`` takes
v's place in the denominator.

Args:
    step: the number of this update, from 1 (Keras's ``iterations + 1``).
)";

constexpr const char* batch_normalization =
    R"(batch_normalization(x, gamma, beta, *, epsilon, mean=None, variance=None)

Keras's batch normalization of x (batch, features), per feature:
``out = gamma * (x - mean) / sqrt(variance + epsilon) + beta``. Without
``mean`` and ``variance`` (training) they are the batch's, the variance
biased (divided by the batch size); with them (inference), those are used.
Returns ``(out, mean, variance)``, new arrays.
)";

constexpr const char* batch_normalization_backward =
    R"(batch_normalization_backward(dout, x, gamma, mean, variance, *, epsilon)

Gradients of ``batch_normalization`` with batch statistics, given
``dout`` = d(loss)/d(out) and the ``mean`` and ``variance`` it returned.
With ``xhat = (x - mean) / sqrt(variance + epsilon)``:
``dbeta = sum(dout)``, ``dgamma = sum(dout * xhat)`` over the batch and
``dx = gamma / sqrt(variance + epsilon) / B * (B * dout - dbeta - xhat * dgamma)``.
Returns ``(dx, dgamma, dbeta)``.
)";

constexpr const char* layer_normalization =
    R"(layer_normalization(x, gamma, beta, *, epsilon)

Keras's layer normalization of x (batch, features), per row:
``out = gamma * (x - mean) / sqrt(variance + epsilon) + beta`` with the
row's mean and biased variance. Returns ``(out, mean, variance)``, the
statistics of shape (batch,).
)";

constexpr const char* layer_normalization_backward =
    R"(layer_normalization_backward(dout, x, gamma, mean, variance, *, epsilon)

Gradients of ``layer_normalization`` given ``dout`` and the row statistics
it returned. With ``g = dout * gamma`` and xhat as in the forward pass:
``dx = (F * g - sum(g) - xhat * sum(g * xhat)) / (F * sqrt(variance + epsilon))``
per row; ``dgamma = sum(dout * xhat)``, ``dbeta = sum(dout)`` over the batch.
Returns ``(dx, dgamma, dbeta)``.
)";

constexpr const char* set_num_threads = R"(set_num_threads(n)

Use at most n >= 1 threads in the kernels: the process default (initially
OMP_NUM_THREADS, or all cores). A thread inside ``local_threads(m)`` uses its
own m instead. Small inputs always run on one thread.
)";

constexpr const char* get_num_threads = R"(get_num_threads()

The number of threads the kernels called from this thread may use: its
``local_threads`` count inside such a block, else the process default (1 in
a process forked after OpenMP started, where threads could deadlock).
)";

constexpr const char* set_arch = R"(set_arch(name)

Force the instruction-set path: "amx" (AVX-512 with an AMX bfloat16
GEMM), "avx512-bf16" (AVX-512 with a vdpbf16ps bfloat16 GEMM), "avx512"
(AVX-512 F/VL/BW/DQ), "avx2" (AVX2 + FMA), "generic" (portable C++) or
"auto" (the best the CPU and the operating system support; the default).
Without a bfloat16 GEMM of their own, paths widen bfloat16 to float32. A
path this CPU cannot run, or an unknown name, is a ValueError. Test paths,
on any CPU, slowly: "avx512-emulated" (the AVX-512 GEMM tile and blocks
with emulated vectors), "amx-emulated" and "avx512-bf16-emulated" (the
bfloat16 packing and tiles with emulated tiles and vectors).
The DENSEOPS_ARCH environment variable sets the choice at import.
)";

constexpr const char* get_arch = R"(get_arch()

The instruction-set path in use: "amx", "avx512-bf16", "avx512", "avx2",
"generic", or a test path ("avx512-emulated", "amx-emulated",
"avx512-bf16-emulated").
)";

// ---------------------------------------------------------------- denseops.nn kernels

constexpr const char* activation =
    R"(activation(x, kind, *, bias=None, out=None, alpha=0.0)

Elementwise activation by Keras name, fused with an optional bias add:
``out = act(x + bias)`` in one pass. Kinds (Keras 3 formulas): "linear",
"relu", "sigmoid" (``1 / (1 + exp(-x))``, no overflow), "tanh", "elu"
(``x`` if x > 0 else ``alpha * (exp(x) - 1)``), "selu", "gelu" (exact, with
erf), "leaky_relu" (``x`` if x > 0 else ``alpha * x``), "softplus"
(``log(1 + exp(x))``), "swish" (``x * sigmoid(x)``, also called silu).

Args:
    x: ndarray of float32 or float64; (..., n) when bias is given.
    kind: the activation's name.
    bias: optional (n,) array of x's dtype added to every row first.
    out: optional C-contiguous ndarray of x's shape and dtype; may be x.
    alpha: elu's alpha or leaky_relu's negative slope; any finite number.

Example:
    >>> import numpy as np, denseops
    >>> denseops.activation(np.array([[0.0, 2.0]]), "sigmoid", bias=np.array([0.0, -2.0]))
    array([[0.5, 0.5]])
)";

constexpr const char* activation_backward =
    R"(activation_backward(dout, y, kind, *, z=None, out=None, alpha=0.0)

Gradient of an activation: ``dout * act'(z)``, computed from the output
``y = act(z)`` for every kind but "gelu" and "swish", which need ``z`` too,
as do "elu" and "leaky_relu" with ``alpha < 0`` (their negative branch then
gives positive outputs, so y's sign no longer tells the branch).

Args:
    dout: gradient w.r.t. the activation's output; y's shape and dtype.
    y: the activation's output.
    kind: the activation's name (see ``activation``).
    z: the pre-activation (required for "gelu" and "swish", and for "elu"
        and "leaky_relu" with alpha < 0).
    out: optional C-contiguous output; may be dout.
    alpha: as given to ``activation``.
)";

constexpr const char* loss =
    R"(loss(pred, target, kind, *, from_logits=False, sample_weight=None, grad=None, delta=1.0)

A Keras loss and its gradient in one pass. Returns the loss reduced as
Keras's "sum_over_batch_size": ``sum(sample_weight * per_sample) / batch``,
where per_sample is the mean over the outputs (mse, mae, huber, binary
cross-entropy) or the sum over the classes (categorical cross-entropies).

Kinds: "mean_squared_error", "mean_absolute_error", "huber" (``delta``),
"binary_crossentropy", "categorical_crossentropy" (one-hot or soft targets),
"sparse_categorical_crossentropy" (integer labels). With ``from_logits``
the cross-entropies take logits and fuse the sigmoid / softmax (stable, and
the gradient is ``(sigmoid(z) - t) / batch`` / ``(softmax(z) - t) / batch``);
without, probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as Keras does.

Args:
    pred: (batch, outputs) predictions or logits.
    target: pred's shape and dtype, or (batch,) integer labels for the sparse kind.
    kind: the loss's name.
    from_logits: whether pred holds logits (cross-entropies only).
    sample_weight: optional (batch,) weights of pred's dtype.
    grad: optional C-contiguous (batch, outputs) array that receives
        d(loss)/d(pred).
    delta: huber's threshold between the quadratic and linear parts, > 0.
)";

constexpr const char* metric =
    R"(metric(pred, target, kind, *, sample_weight=None, threshold=0.5, k=5)

Sum over the batch of a Keras metric's per-sample value, weighted by
sample_weight: divide by the summed weights for the mean. Kinds:
"binary_accuracy" (``pred > threshold`` equals target), "categorical_accuracy",
"sparse_categorical_accuracy" (integer labels), "top_k_categorical_accuracy",
"sparse_top_k_categorical_accuracy" (``k``), "mean_absolute_error",
"mean_squared_error". Accuracies also work on logits (argmax and top-k
are the same; map the threshold with ``log(t / (1 - t))``).
)";

constexpr const char* dropout = R"(dropout(x, rate, *, seed, counter, out=None)

Inverted dropout: ``out = x / (1 - rate)`` where kept, 0 where dropped,
each element kept with probability ``1 - rate``. The mask is a pure function
of (seed, counter, element index), from a counter-based generator: the same
at any thread count, and calling again with the same seed and counter on
the gradient applies the same mask (the backward pass).

Args:
    x: ndarray of float32 or float64.
    rate: fraction dropped, in [0, 1).
    seed: an int in [0, 2**64): the layer's generator.
    counter: an int in [0, 2**64); one counter per call of a layer.
    out: optional C-contiguous output; may be x.
)";

constexpr const char* weight_penalty = R"(weight_penalty(weights, grad=None, *, l1=0.0, l2=0.0)

Keras's L1L2 regularizer: returns ``l1 * sum(|w|) + l2 * sum(w**2)`` and adds
its gradient ``l1 * sign(w) + 2 * l2 * w`` to ``grad`` in place when given.
)";

constexpr const char* link_activation = R"(link_activation(z, link, out=None)

The output activation of scikit-learn's MLP for a canonical link:
"identity" (``z``), "logistic" (``1 / (1 + exp(-z))``, computed without
overflow), "softmax" (over each row) or "exp" (``exp(z)``).

Args:
    z: (samples, outputs) ndarray of float32 or float64.
    link: "identity", "logistic", "softmax" or "exp".
    out: optional C-contiguous ndarray of z's shape and dtype; may be z.

Returns:
    The activations (``out`` when given).
)";

constexpr const char* link_loss = R"(link_loss(z, targets, link, dz=None, sample_weight=None)

Loss of scikit-learn's MLP output layer and its gradient w.r.t. the
pre-activation ``z``: for each canonical pair the gradient is
``w_i * (activation(z) - y) / sum(w)``. Losses, averaged over samples with
weights ``w`` (default all ones):

* "identity": ``0.5 * mean over outputs of (z - y)**2`` (half squared error)
* "logistic": ``-sum(y log p + (1 - y) log(1 - p))`` over outputs
* "softmax": ``-sum(y log p)`` over outputs
* "exp": ``sum(y log(y / p) - y + p)`` over outputs (half Poisson deviance)

with ``p`` clipped to ``[eps, 1 - eps]`` inside logarithms (eps: the dtype's
machine epsilon), as scikit-learn does.

Args:
    z: (samples, outputs) ndarray of float32 or float64, at least 1x1.
    targets: ndarray of z's shape and dtype.
    link: "identity", "logistic", "softmax" or "exp".
    dz: optional C-contiguous ndarray of z's shape and dtype, filled with
        the gradient.
    sample_weight: optional (samples,) ndarray of z's dtype; must sum to > 0.

Returns:
    The weighted mean loss as a Python float.
)";

constexpr const char* axpy = R"(axpy(alpha, x, y)

``y += alpha * x`` in place (BLAS's axpy), elementwise over arrays of one
shape and dtype. ``y`` must be writable and C-contiguous; ``x`` may be ``y``.
)";

constexpr const char* gemm_naive = R"(_gemm_naive(a, b, *, trans_a=False, trans_b=False)

Private, for tests: ``a @ b`` (either transposed) by the textbook triple loop
the blocked GEMM behind ``matmul`` is checked against, on the active path.
)";

constexpr const char* network_forward = R"(_network_forward(x, layers, *, chunk=1024)

Private, for Sequential's inference: ``x`` (batch, features) through a stack
of Dense layers in one call, with the GIL released. ``layers`` is a list of
``(kernel, bias, activation, alpha)``: kernel (width, units), bias (units,)
or None, a Keras activation name of ``activation`` or "softmax", and its
alpha. Rows run ``chunk`` at a time through the whole stack; each layer calls
the same kernels as ``matmul`` and ``activation`` (or ``add`` and
``softmax``), so the result is bit-identical to the layer-by-layer path on
the same chunks.
)";

}  // namespace denseops::doc
