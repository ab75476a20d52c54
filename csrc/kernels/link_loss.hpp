// The output layer of scikit-learn's MLP: an activation paired with its
// canonical loss, so that d(loss)/dz = activation(z) - y for every pair.
// Included inside an arch namespace.
//
//   link       activation  loss per sample (summed over the K outputs unless noted)
//   identity   z           0.5 * mean_k (z - y)^2              (half squared error)
//   logistic   1/(1+e^-z)  -(y log p + (1 - y) log(1 - p))     (binary log loss)
//   softmax    softmax(z)  -sum_k y log p                      (log loss)
//   exp        e^z         y log(y / p) - y + p                (half Poisson deviance)
//
// Probabilities inside the logarithms are clipped to [eps, 1 - eps] with eps
// the dtype's machine epsilon, exactly as scikit-learn does, so a confident
// wrong answer costs at most -log(eps) and loss curves match its own.
//
// Sizes: B rows (samples), K columns (outputs).

enum LinkKind : int { kLinkIdentity = 0, kLinkLogistic = 1, kLinkSoftmax = 2, kLinkExp = 3 };

// 1 / (1 + e^-z) without overflow: the exponent is never positive.
template <class T>
T logistic_of(T z) {
  if (z >= 0) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

// out (B, K) = activation(z (B, K)); out may be z.
template <class T>
void link_activation(int link, const T* z, T* out, index_t B, index_t K) {
  const index_t n = B * K;
  switch (link) {
    case kLinkIdentity:
      if (out != z) std::copy(z, z + n, out);
      break;
    case kLinkLogistic:
      for (index_t i = 0; i < n; ++i) out[i] = logistic_of(z[i]);
      break;
    case kLinkSoftmax:
      if (K > 0)
        for (index_t b = 0; b < B; ++b) softmax_row(z + b * K, out + b * K, K);
      break;
    case kLinkExp:
      for (index_t i = 0; i < n; ++i) out[i] = std::exp(z[i]);
      break;
  }
}

// z, y, dz are (B, K); w is (B,) sample weights or null (all ones).
// dz = w_b * (activation(z) - y) * scale; dz may not alias z or y.
// Returns sum_b w_b * loss_b, accumulated in double; the caller divides by
// the weight sum (and passes scale = 1 / that sum).
template <class T>
double link_loss(int link, const T* z, const T* y, const T* w, T* dz, index_t B, index_t K,
                 T scale) {
  const T eps = std::numeric_limits<T>::epsilon();
  const T clip_hi = T(1) - eps;
  const auto clip = [&](T p) { return p < eps ? eps : (p > clip_hi ? clip_hi : p); };
  link_activation(link, z, dz, B, K);
  double total = 0;
  for (index_t b = 0; b < B; ++b) {
    const T* yr = y + b * K;
    const T* zr = z + b * K;
    T* d = dz + b * K;  // holds the activation p until overwritten below
    double row = 0;
    for (index_t k = 0; k < K; ++k) {
      const T p = d[k];
      switch (link) {
        case kLinkIdentity: {
          const double r = static_cast<double>(p) - yr[k];
          row += 0.5 * r * r / static_cast<double>(K);
          break;
        }
        case kLinkLogistic: {
          const T pc = clip(p);
          if (yr[k] != 0) row -= static_cast<double>(yr[k]) * std::log(pc);
          if (yr[k] != 1) row -= static_cast<double>(T(1) - yr[k]) * std::log(T(1) - pc);
          break;
        }
        case kLinkSoftmax:
          if (yr[k] != 0) row -= static_cast<double>(yr[k]) * std::log(clip(p));
          break;
        case kLinkExp:
          if (yr[k] > 0) row += static_cast<double>(yr[k]) * (std::log(yr[k]) - zr[k]);
          row += static_cast<double>(p) - yr[k];
          break;
      }
    }
    const T wb = w ? w[b] : T(1);
    total += static_cast<double>(wb) * row;
    const T factor = wb * scale;
    for (index_t k = 0; k < K; ++k) d[k] = (d[k] - yr[k]) * factor;
  }
  return total;
}

// y += alpha * x over n elements (BLAS's axpy): adds the L2 penalty's
// gradient alpha * W to a weight gradient in one pass.
template <class T>
void axpy(T alpha, const T* x, T* y, index_t n) {
  for (index_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
