// Losses of denseops.nn: each returns the weighted sum of the per-sample
// losses and writes the gradient of the *reduced* loss in the same pass.
// Included inside an arch namespace.
//
// Sizes: B samples, D outputs per sample (classes for cross-entropies).
// pred (B, D); target (B, D) or labels (B,) for the sparse kinds; weight (B,)
// or null (all ones); grad (B, D) or null (evaluation needs no gradient).
//
// Reduction as in Keras 3 ("sum_over_batch_size"): each sample's loss is the
// mean over its D outputs (the sum over classes for cross-entropies), and the
// reported loss is sum(weight * loss) / B, so grad = weight * d(loss)/d(pred) / B.

// One sample of the elementwise losses: returns its loss and writes w/B * slope.
template <class T>
T elementwise_loss_row(LossKind kind, const T* p, const T* t, T* g, index_t D, T scale, T param) {
  const T eps = T(kKerasEpsilon);
  T sum = 0;
  const T inv_d = T(1) / static_cast<T>(D);
  switch (kind) {
    case LossKind::mean_squared_error:
      for (index_t d = 0; d < D; ++d) {
        const T e = p[d] - t[d];
        sum += e * e;
        if (g) g[d] = scale * inv_d * T(2) * e;
      }
      break;
    case LossKind::mean_absolute_error:
      for (index_t d = 0; d < D; ++d) {
        const T e = p[d] - t[d];
        sum += std::fabs(e);
        // sign(0) = 0, as in NumPy and the backends Keras runs on.
        if (g) g[d] = scale * inv_d * (e > T(0) ? T(1) : e < T(0) ? T(-1) : T(0));
      }
      break;
    case LossKind::huber:
      // 0.5 e^2 inside |e| <= delta, delta (|e| - 0.5 delta) outside: quadratic near
      // the target, linear (so robust to outliers) far from it.
      for (index_t d = 0; d < D; ++d) {
        const T e = p[d] - t[d];
        const T a = std::fabs(e);
        const bool inside = a <= param;
        sum += inside ? T(0.5) * e * e : param * a - T(0.5) * param * param;
        if (g) g[d] = scale * inv_d * (inside ? e : (e > T(0) ? param : -param));
      }
      break;
    case LossKind::binary_crossentropy:
      // Keras clips probabilities to [eps, 1 - eps]; the clip passes no gradient.
      for (index_t d = 0; d < D; ++d) {
        const bool clipped = !(p[d] > eps && p[d] < T(1) - eps);
        const T q = std::fmin(std::fmax(p[d], eps), T(1) - eps);
        sum -= t[d] * std::log(q) + (T(1) - t[d]) * std::log(T(1) - q);
        if (g) g[d] = clipped ? T(0) : scale * inv_d * (q - t[d]) / (q * (T(1) - q));
      }
      break;
    case LossKind::binary_crossentropy_logits:
      // -t log s(z) - (1-t) log(1 - s(z)) = max(z, 0) - z t + log1p(e^-|z|): never
      // an exponent > 0, and the gradient is simply s(z) - t.
      for (index_t d = 0; d < D; ++d) {
        const T z = p[d];
        sum += std::fmax(z, T(0)) - z * t[d] + std::log1p(std::exp(-std::fabs(z)));
        if (g) g[d] = scale * inv_d * (stable_sigmoid(z) - t[d]);
      }
      break;
    default: break;
  }
  return sum * inv_d;
}

// One sample of categorical cross-entropy on probabilities, as Keras computes
// it: q = clip(p / sum(p), eps, 1 - eps), loss = -sum(t log q). The target is
// the dense row t, or the one-hot row of `label` when t is null.
template <class T>
T probability_crossentropy_row(const T* p, const T* t, index_t label, T* g, index_t C, T scale) {
  const T eps = T(kKerasEpsilon);
  T total = 0;
  for (index_t c = 0; c < C; ++c) total += p[c];
  const T inv_total = T(1) / total;
  T loss = 0, inner = 0;  // inner = sum(dl/dq * q) for the normalisation's Jacobian
  for (index_t c = 0; c < C; ++c) {
    const T tc = t ? t[c] : T(c == label);
    const T raw = p[c] * inv_total;
    const T q = std::fmin(std::fmax(raw, eps), T(1) - eps);
    loss -= tc * std::log(q);
    const T dq = (raw > eps && raw < T(1) - eps) ? -tc / q : T(0);
    if (g) g[c] = dq;  // dl/dq for now; turned into dl/dp below
    inner += dq * raw;
  }
  // q = p / sum(p): dl/dp_j = (dl/dq_j - sum_c dl/dq_c q_c) / sum(p).
  if (g)
    for (index_t c = 0; c < C; ++c) g[c] = scale * (g[c] - inner) * inv_total;
  return loss;
}

// One sample of categorical cross-entropy on logits (the fused softmax): loss
// = sum(t) lse - sum(t z), gradient = softmax(z) sum(t) - t; see loss.hpp.
template <class T>
T logit_crossentropy_row(const T* z, const T* t, index_t label, T* g, index_t C, T scale) {
  const T lse = log_sum_exp_row(z, C);
  if (!t) {
    if (g) {
      for (index_t c = 0; c < C; ++c) g[c] = scale * std::exp(z[c] - lse);
      g[label] -= scale;
    }
    return lse - z[label];
  }
  T loss = 0, mass = 0;
  for (index_t c = 0; c < C; ++c) {
    loss += t[c] * (lse - z[c]);
    mass += t[c];
  }
  if (g)
    for (index_t c = 0; c < C; ++c) g[c] = scale * (std::exp(z[c] - lse) * mass - t[c]);
  return loss;
}

template <class T>
double loss_forward_backward(LossKind kind, const T* pred, const T* target,
                             const std::int64_t* labels, const T* weight, T* grad, index_t B,
                             index_t D, T param) {
  double total = 0;
  const T inv_batch = T(1) / static_cast<T>(B);
  for (index_t b = 0; b < B; ++b) {
    const T w = weight ? weight[b] : T(1);
    const T scale = w * inv_batch;
    const T* p = pred + b * D;
    const T* t = target ? target + b * D : nullptr;
    const index_t label = labels ? static_cast<index_t>(labels[b]) : 0;
    T* g = grad ? grad + b * D : nullptr;
    T row;
    switch (kind) {
      case LossKind::categorical_crossentropy:
      case LossKind::sparse_categorical_crossentropy:
        row = probability_crossentropy_row(p, t, label, g, D, scale);
        break;
      case LossKind::categorical_crossentropy_logits:
      case LossKind::sparse_categorical_crossentropy_logits:
        row = logit_crossentropy_row(p, t, label, g, D, scale);
        break;
      default:
        row = elementwise_loss_row(kind, p, t, g, D, scale, param);
        break;
    }
    total += static_cast<double>(w) * static_cast<double>(row);
  }
  return total;
}
