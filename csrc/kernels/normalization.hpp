// Keras's BatchNormalization and LayerNormalization over (batch, features)
// arrays, forward and backward. Included inside an arch namespace.
//
//   x, dout, out, dx are (B, F), row-major.
//   Batch normalization: per feature; mean, variance, gamma, beta are (F,).
//   Layer normalization: per sample; mean, variance are (B,), gamma, beta (F,).
//
// Both compute xhat = (x - mean) / sqrt(variance + epsilon) and
// out = gamma * xhat + beta, with the biased variance (divided by the count,
// as Keras's ops.moments). Statistics are summed in double and in two passes
// (mean, then squared deviations), so a large mean does not cancel the
// variance away. Every function takes a range of the dimension it reduces
// over whole ([c0, c1) of columns, [r0, r1) of rows), so a thread owns what
// it writes.

// mean, variance (F,) of the columns c0..c1 of x (B, F).
template <class T>
void batch_norm_stats(const T* x, T* mean, T* variance, index_t B, index_t F, index_t c0,
                      index_t c1) {
  constexpr index_t kColumns = 64;  // a strip of column sums stays in registers/L1
  for (index_t c = c0; c < c1; c += kColumns) {
    const index_t w = std::min(kColumns, c1 - c);
    double sum[kColumns] = {}, squares[kColumns] = {};
    for (index_t i = 0; i < B; ++i)
      for (index_t j = 0; j < w; ++j) sum[j] += x[i * F + c + j];
    for (index_t j = 0; j < w; ++j) sum[j] /= static_cast<double>(B);
    for (index_t i = 0; i < B; ++i)
      for (index_t j = 0; j < w; ++j) {
        const double d = x[i * F + c + j] - sum[j];
        squares[j] += d * d;
      }
    for (index_t j = 0; j < w; ++j) {
      mean[c + j] = static_cast<T>(sum[j]);
      variance[c + j] = static_cast<T>(squares[j] / static_cast<double>(B));
    }
  }
}

// out (rows r0..r1) = x * scale + shift per feature: batch normalization's
// output, with scale = gamma / sqrt(variance + epsilon) and
// shift = beta - mean * scale computed once per call (as Keras's
// ops.batch_normalization folds them), from batch or moving statistics.
template <class T>
void batch_norm_apply(const T* x, const T* scale, const T* shift, T* out, index_t F, index_t r0,
                      index_t r1) {
  for (index_t i = r0; i < r1; ++i)
    for (index_t j = 0; j < F; ++j) out[i * F + j] = x[i * F + j] * scale[j] + shift[j];
}

// For the columns c0..c1, with xhat and inv_std as above:
//   dbeta = sum_i dout;  dgamma = sum_i dout * xhat
//   dx = gamma * inv_std / B * (B * dout - dbeta - xhat * dgamma)
// (the mean and variance depend on every row of the column).
template <class T>
void batch_norm_backward(const T* dout, const T* x, const T* gamma, const T* mean,
                         const T* variance, T* dx, T* dgamma, T* dbeta, index_t B, index_t F,
                         T epsilon, index_t c0, index_t c1) {
  constexpr index_t kColumns = 64;
  for (index_t c = c0; c < c1; c += kColumns) {
    const index_t w = std::min(kColumns, c1 - c);
    double sum_d[kColumns] = {}, sum_dx[kColumns] = {}, inv[kColumns];
    for (index_t j = 0; j < w; ++j) inv[j] = 1.0 / std::sqrt(double(variance[c + j]) + epsilon);
    for (index_t i = 0; i < B; ++i)
      for (index_t j = 0; j < w; ++j) {
        const double d = dout[i * F + c + j];
        sum_d[j] += d;
        sum_dx[j] += d * (x[i * F + c + j] - double(mean[c + j])) * inv[j];
      }
    for (index_t i = 0; i < B; ++i)
      for (index_t j = 0; j < w; ++j) {
        const double xhat = (x[i * F + c + j] - double(mean[c + j])) * inv[j];
        const double scale = double(gamma[c + j]) * inv[j] / static_cast<double>(B);
        dx[i * F + c + j] = static_cast<T>(
            scale * (static_cast<double>(B) * dout[i * F + c + j] - sum_d[j] - xhat * sum_dx[j]));
      }
    for (index_t j = 0; j < w; ++j) {
      dbeta[c + j] = static_cast<T>(sum_d[j]);
      dgamma[c + j] = static_cast<T>(sum_dx[j]);
    }
  }
}

// Rows r0..r1: mean, variance (B,) of each row, and out = gamma * xhat + beta.
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, T* out, T* mean, T* variance,
                        index_t F, T epsilon, index_t r0, index_t r1) {
  for (index_t i = r0; i < r1; ++i) {
    const T* row = x + i * F;
    double sum = 0, squares = 0;
    for (index_t j = 0; j < F; ++j) sum += row[j];
    const double m = sum / static_cast<double>(F);
    for (index_t j = 0; j < F; ++j) squares += (row[j] - m) * (row[j] - m);
    const double var = squares / static_cast<double>(F);
    mean[i] = static_cast<T>(m);
    variance[i] = static_cast<T>(var);
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (index_t j = 0; j < F; ++j)
      out[i * F + j] = static_cast<T>((row[j] - m) * inv * gamma[j] + beta[j]);
  }
}

// dx for rows r0..r1: with g = dout * gamma (the gradient w.r.t. xhat),
//   dx = inv_std / F * (F * g - sum_j g - xhat * sum_j g * xhat)
template <class T>
void layer_norm_backward_dx(const T* dout, const T* x, const T* gamma, const T* mean,
                            const T* variance, T* dx, index_t F, T epsilon, index_t r0,
                            index_t r1) {
  for (index_t i = r0; i < r1; ++i) {
    const double m = mean[i], inv = 1.0 / std::sqrt(double(variance[i]) + epsilon);
    double sum_g = 0, sum_gx = 0;
    for (index_t j = 0; j < F; ++j) {
      const double g = double(dout[i * F + j]) * gamma[j];
      sum_g += g;
      sum_gx += g * (x[i * F + j] - m) * inv;
    }
    const double n = static_cast<double>(F);
    for (index_t j = 0; j < F; ++j) {
      const double g = double(dout[i * F + j]) * gamma[j];
      const double xhat = (x[i * F + j] - m) * inv;
      dx[i * F + j] = static_cast<T>(inv / n * (n * g - sum_g - xhat * sum_gx));
    }
  }
}

// Columns c0..c1: dgamma = sum_i dout * xhat, dbeta = sum_i dout.
template <class T>
void layer_norm_backward_params(const T* dout, const T* x, const T* mean, const T* variance,
                                T* dgamma, T* dbeta, index_t B, index_t F, T epsilon, index_t c0,
                                index_t c1) {
  constexpr index_t kColumns = 64;
  for (index_t c = c0; c < c1; c += kColumns) {
    const index_t w = std::min(kColumns, c1 - c);
    double sum_d[kColumns] = {}, sum_dx[kColumns] = {};
    for (index_t i = 0; i < B; ++i) {
      const double m = mean[i], inv = 1.0 / std::sqrt(double(variance[i]) + epsilon);
      for (index_t j = 0; j < w; ++j) {
        const double d = dout[i * F + c + j];
        sum_d[j] += d;
        sum_dx[j] += d * (x[i * F + c + j] - m) * inv;
      }
    }
    for (index_t j = 0; j < w; ++j) {
      dbeta[c + j] = static_cast<T>(sum_d[j]);
      dgamma[c + j] = static_cast<T>(sum_dx[j]);
    }
  }
}
