// Softmax and cross-entropy over rows. Included inside an arch namespace.
//
// Sizes: B rows (the batch), C columns (the classes).

// One row: out = exp(x - max(x)) / sum(exp(x - max(x))). Subtracting the max
// keeps every exponent <= 0, so nothing overflows.
template <class T>
void softmax_row(const T* x, T* out, index_t C) {
  T peak = x[0];
  for (index_t c = 1; c < C; ++c) peak = x[c] > peak ? x[c] : peak;
  T sum = 0;
  for (index_t c = 0; c < C; ++c) {
    out[c] = std::exp(x[c] - peak);
    sum += out[c];
  }
  const T inv = T(1) / sum;
  for (index_t c = 0; c < C; ++c) out[c] *= inv;
}

// x is (B, C), out is (B, C); out may be x.
template <class T>
void softmax(const T* x, T* out, index_t B, index_t C) {
  if (C == 0) return;
  for (index_t b = 0; b < B; ++b) softmax_row(x + b * C, out + b * C, C);
}

// y = softmax(x) is (B, C); dout, dx are (B, C):
// dx = y * (dout - sum(dout * y, per row)), the softmax Jacobian applied to dout.
template <class T>
void softmax_backward(const T* dout, const T* y, T* dx, index_t B, index_t C) {
  for (index_t b = 0; b < B; ++b) {
    const T* d = dout + b * C;
    const T* yr = y + b * C;
    T* o = dx + b * C;
    T inner = 0;
    for (index_t c = 0; c < C; ++c) inner += d[c] * yr[c];
    for (index_t c = 0; c < C; ++c) o[c] = yr[c] * (d[c] - inner);
  }
}

// Index of the largest entry of a row; the first one on ties, like np.argmax.
// NaN counts as the largest, as in np.argmax: the first NaN wins (x != x only for NaN).
template <class T>
index_t argmax_row(const T* x, index_t C) {
  index_t best = 0;
  if (C > 0 && x[0] != x[0]) return 0;
  for (index_t c = 1; c < C; ++c) {
    if (x[c] != x[c]) return c;
    if (x[c] > x[best]) best = c;
  }
  return best;
}

// log(sum(exp(x))) of one row, computed as max + log(sum(exp(x - max))) so
// no exponent is positive. The cross-entropies below take it from here and
// form their gradients as exp(x - lse), so they need no softmax_row.
template <class T>
T log_sum_exp_row(const T* x, index_t C) {
  T peak = x[0];
  for (index_t c = 1; c < C; ++c) peak = x[c] > peak ? x[c] : peak;
  T sum = 0;
  for (index_t c = 0; c < C; ++c) sum += std::exp(x[c] - peak);
  return std::log(sum) + peak;
}

// Fused softmax + sparse categorical cross-entropy.
// logits (B, C), labels (B,) in [0, C) (checked by the caller), dlogits (B, C)
// or null. Returns the summed loss over the batch and counts correct argmaxes.
// The gradient of the *mean* loss w.r.t. the logits is (softmax - onehot) / B;
// fusing avoids the 1/p blow-up of differentiating log(softmax) separately.
template <class T>
double sparse_softmax_cross_entropy(const T* logits, const std::int64_t* labels, T* dlogits,
                                    index_t B, index_t C, index_t* correct) {
  double total = 0;
  index_t hits = 0;
  const T inv_batch = T(1) / static_cast<T>(B);
  for (index_t b = 0; b < B; ++b) {
    const T* x = logits + b * C;
    const index_t label = static_cast<index_t>(labels[b]);
    const T lse = log_sum_exp_row(x, C);
    total += static_cast<double>(lse - x[label]);
    hits += argmax_row(x, C) == label;
    if (dlogits) {
      T* d = dlogits + b * C;
      for (index_t c = 0; c < C; ++c) d[c] = std::exp(x[c] - lse) * inv_batch;
      d[label] -= inv_batch;
    }
  }
  *correct = hits;
  return total;
}

// Fused softmax + categorical cross-entropy with target distributions
// (one-hot or soft) of shape (B, C): loss = -sum(t * log softmax(x)) per row,
// gradient of the mean loss = (softmax * sum(t) - t) / B.
template <class T>
double softmax_cross_entropy(const T* logits, const T* targets, T* dlogits, index_t B, index_t C,
                             index_t* correct) {
  double total = 0;
  index_t hits = 0;
  const T inv_batch = T(1) / static_cast<T>(B);
  for (index_t b = 0; b < B; ++b) {
    const T* x = logits + b * C;
    const T* t = targets + b * C;
    const T lse = log_sum_exp_row(x, C);
    T row_loss = 0, mass = 0;
    for (index_t c = 0; c < C; ++c) {
      row_loss += t[c] * (lse - x[c]);
      mass += t[c];
    }
    total += static_cast<double>(row_loss);
    hits += argmax_row(x, C) == argmax_row(t, C);
    if (dlogits) {
      T* d = dlogits + b * C;
      for (index_t c = 0; c < C; ++c) d[c] = (std::exp(x[c] - lse) * mass - t[c]) * inv_batch;
    }
  }
  *correct = hits;
  return total;
}
