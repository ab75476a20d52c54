// Fused, in-place optimizer updates: one pass over the weights, reading the
// gradient and the optimizer state once each. Included inside an arch
// namespace. Every array has n elements; hyperparameters use Keras's names.

// Keras SGD. Without momentum: w -= lr * g. With momentum:
//   velocity = momentum * velocity - lr * g
//   w += velocity                          (classic)
//   w += momentum * velocity - lr * g      (nesterov)
template <class T>
void sgd_update(T* w, const T* g, T* velocity, index_t n, T lr, T momentum, bool nesterov) {
  if (velocity == nullptr) {
    for (index_t i = 0; i < n; ++i) w[i] -= lr * g[i];
    return;
  }
  for (index_t i = 0; i < n; ++i) {
    const T v = momentum * velocity[i] - lr * g[i];
    velocity[i] = v;
    w[i] += nesterov ? momentum * v - lr * g[i] : v;
  }
}

// Keras 3 RMSprop: v = rho * v + (1 - rho) * g^2;  w -= lr * g / sqrt(v + epsilon).
// (PyTorch puts epsilon outside the square root; Keras's form is kept here.)
template <class T>
void rmsprop_update(T* w, const T* g, T* v, index_t n, T lr, T rho, T epsilon) {
  const T one_minus_rho = T(1) - rho;
  for (index_t i = 0; i < n; ++i) {
    const T vi = rho * v[i] + one_minus_rho * g[i] * g[i];
    v[i] = vi;
    w[i] -= lr * g[i] / std::sqrt(vi + epsilon);
  }
}

// Keras Adam, with the bias corrections folded into the step size by the
// caller: step_size = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t).
//   m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
//   w -= step_size * m / (sqrt(v) + epsilon)
template <class T>
void adam_update(T* w, const T* g, T* m, T* v, index_t n, T step_size, T beta_1, T beta_2,
                 T epsilon) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
  for (index_t i = 0; i < n; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * one_minus_b1;
    const T vi = v[i] + (g[i] * g[i] - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    w[i] -= step_size * mi / (std::sqrt(vi) + epsilon);
  }
}
