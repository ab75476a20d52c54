// Keras 3's Adagrad, Adamax, Nadam and AdamW as fused in-place updates: one
// pass over the weights, reading the gradient and each state array once.
// Included inside an arch namespace, like optim.hpp. Every array has n
// elements; step-dependent scalars (bias corrections, Nadam's momentum
// schedule) are computed once per call by the binding, in double precision,
// and arrive here folded into the coefficients.

// Keras Adagrad: accumulator += g^2;  w -= lr * g / sqrt(accumulator + epsilon).
template <class T>
void adagrad_update(T* w, const T* g, T* accumulator, index_t n, T lr, T epsilon) {
  for (index_t i = 0; i < n; ++i) {
    const T a = accumulator[i] + g[i] * g[i];
    accumulator[i] = a;
    w[i] -= lr * g[i] / std::sqrt(a + epsilon);
  }
}

// Keras Adamax, with the bias correction folded into the step size by the
// caller: step_size = learning_rate / (1 - beta_1^t).
//   m += (g - m) * (1 - beta_1);  u = max(beta_2 * u, |g|)
//   w -= step_size * m / (u + epsilon)
template <class T>
void adamax_update(T* w, const T* g, T* m, T* u, index_t n, T step_size, T beta_1, T beta_2,
                   T epsilon) {
  const T one_minus_b1 = T(1) - beta_1;
  for (index_t i = 0; i < n; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * one_minus_b1;
    const T ui = std::max(beta_2 * u[i], std::abs(g[i]));
    m[i] = mi;
    u[i] = ui;
    w[i] -= step_size * mi / (ui + epsilon);
  }
}

// Keras Nadam. The caller folds the momentum schedule into two coefficients,
//   m_coef = u_{t+1} / (1 - prod_{s<=t+1} u_s),  g_coef = (1 - u_t) / (1 - prod_{s<=t} u_s)
// and the second-moment bias correction into v_scale = 1 / (1 - beta_2^t):
//   m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
//   w -= lr * (m_coef * m + g_coef * g) / (sqrt(v * v_scale) + epsilon)
template <class T>
void nadam_update(T* w, const T* g, T* m, T* v, index_t n, T lr, T beta_1, T beta_2, T epsilon,
                  T m_coef, T g_coef, T v_scale) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
  for (index_t i = 0; i < n; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * one_minus_b1;
    const T vi = v[i] + (g[i] * g[i] - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    const T m_hat = m_coef * mi + g_coef * g[i];
    w[i] -= lr * m_hat / (std::sqrt(vi * v_scale) + epsilon);
  }
}

// Keras AdamW: the decoupled decay w -= w * (weight_decay * lr) Keras applies
// before the step, then Adam's step (adam_update's step_size). With amsgrad,
// v_hat = max(v_hat, v) replaces v in the denominator; v_hat is null without.
template <class T>
void adamw_update(T* w, const T* g, T* m, T* v, T* v_hat, index_t n, T decay, T step_size,
                  T beta_1, T beta_2, T epsilon) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
  for (index_t i = 0; i < n; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * one_minus_b1;
    T vi = v[i] + (g[i] * g[i] - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    if (v_hat != nullptr) {
      vi = std::max(v_hat[i], vi);
      v_hat[i] = vi;
    }
    const T decayed = w[i] - w[i] * decay;
    w[i] = decayed - step_size * mi / (std::sqrt(vi) + epsilon);
  }
}
