// Metrics of denseops.nn: the weighted sum over the batch of one value per
// sample (the caller divides by the summed weights). Included inside an arch
// namespace. Sizes and arguments as in losses.hpp; pred may be logits for the
// accuracies (argmax and top-k are unchanged by softmax, and the caller maps
// a probability threshold to its logit).

// Whether class `c` is among the k largest entries of a row: fewer than k
// entries are strictly larger (ties count in its favour).
template <class T>
bool in_top_k(const T* x, index_t C, index_t c, index_t k) {
  index_t larger = 0;
  for (index_t j = 0; j < C; ++j) larger += x[j] > x[c];
  return larger < k;
}

template <class T>
double metric_sum(MetricKind kind, const T* pred, const T* target, const std::int64_t* labels,
                  const T* weight, index_t B, index_t D, T param) {
  double total = 0;
  const T inv_d = T(1) / static_cast<T>(D);
  const index_t k = static_cast<index_t>(param);
  for (index_t b = 0; b < B; ++b) {
    const T* p = pred + b * D;
    const T* t = target ? target + b * D : nullptr;
    T value = 0;
    switch (kind) {
      case MetricKind::binary_accuracy:
        for (index_t d = 0; d < D; ++d) value += T(p[d] > param) == t[d];
        value *= inv_d;
        break;
      case MetricKind::categorical_accuracy:
        value = argmax_row(p, D) == argmax_row(t, D);
        break;
      case MetricKind::sparse_categorical_accuracy:
        value = argmax_row(p, D) == static_cast<index_t>(labels[b]);
        break;
      case MetricKind::top_k_categorical_accuracy:
        value = in_top_k(p, D, argmax_row(t, D), k);
        break;
      case MetricKind::sparse_top_k_categorical_accuracy:
        value = in_top_k(p, D, static_cast<index_t>(labels[b]), k);
        break;
      case MetricKind::mean_absolute_error:
        for (index_t d = 0; d < D; ++d) value += std::fabs(p[d] - t[d]);
        value *= inv_d;
        break;
      case MetricKind::mean_squared_error:
        for (index_t d = 0; d < D; ++d) value += (p[d] - t[d]) * (p[d] - t[d]);
        value *= inv_d;
        break;
      default: break;
    }
    total += static_cast<double>(weight ? weight[b] : T(1)) * static_cast<double>(value);
  }
  return total;
}
