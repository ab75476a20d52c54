// The kinds of activation, loss and metric the denseops.nn kernels know.
// Shared by the kernels (which switch on them) and bindings.cpp (which maps
// Keras's names onto them); KernelTable passes them as plain ints.
#pragma once

namespace denseops {

enum class ActivationKind : int {
  linear = 0,
  relu,
  sigmoid,
  tanh,
  elu,         // alpha
  selu,
  gelu,        // exact, with erf (Keras 3's default approximate=False)
  leaky_relu,  // alpha = negative_slope
  softplus,
  swish,       // x * sigmoid(x), also called silu
  count
};

// Whether the backward pass needs the pre-activation z; every other kind
// differentiates from its output y alone. elu and leaky_relu tell their
// branch from the sign of y only while alpha >= 0: with alpha < 0 the
// negative branch gives positive outputs too (leaky_relu(-1) = -alpha > 0),
// so the branch must come from z.
constexpr bool activation_needs_input(ActivationKind k, double alpha) {
  return k == ActivationKind::gelu || k == ActivationKind::swish ||
         ((k == ActivationKind::elu || k == ActivationKind::leaky_relu) && alpha < 0);
}

enum class LossKind : int {
  mean_squared_error = 0,
  mean_absolute_error,
  huber,                        // param = delta
  binary_crossentropy,          // on probabilities, clipped to [eps, 1 - eps]
  binary_crossentropy_logits,   // on logits: the fused sigmoid
  categorical_crossentropy,     // on probabilities, rows normalised then clipped
  categorical_crossentropy_logits,         // the fused softmax
  sparse_categorical_crossentropy,         // labels instead of targets
  sparse_categorical_crossentropy_logits,  // labels, fused softmax
  count
};

constexpr bool loss_takes_labels(LossKind k) {
  return k == LossKind::sparse_categorical_crossentropy ||
         k == LossKind::sparse_categorical_crossentropy_logits;
}

enum class MetricKind : int {
  binary_accuracy = 0,     // param = threshold
  categorical_accuracy,
  sparse_categorical_accuracy,            // labels
  top_k_categorical_accuracy,             // param = k
  sparse_top_k_categorical_accuracy,      // labels, param = k
  mean_absolute_error,
  mean_squared_error,
  count
};

constexpr bool metric_takes_labels(MetricKind k) {
  return k == MetricKind::sparse_categorical_accuracy ||
         k == MetricKind::sparse_top_k_categorical_accuracy;
}

// Keras's backend.epsilon(): the clip that keeps log() of a probability finite.
constexpr double kKerasEpsilon = 1e-7;

}  // namespace denseops

namespace denseops {

// Keras's names, in the order of the enums above.
inline constexpr const char* kActivationNames[] = {
    "linear", "relu", "sigmoid", "tanh", "elu", "selu", "gelu", "leaky_relu", "softplus", "swish"};
inline constexpr const char* kMetricNames[] = {
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_absolute_error",
    "mean_squared_error"};

static_assert(sizeof(kActivationNames) / sizeof(*kActivationNames) ==
              static_cast<int>(ActivationKind::count));
static_assert(sizeof(kMetricNames) / sizeof(*kMetricNames) == static_cast<int>(MetricKind::count));

}  // namespace denseops
