// Weight penalties of denseops.nn (Keras's L1, L2, L1L2). Included inside an
// arch namespace.

// w, grad are (n,); grad may be null. Returns l1 * sum|w| + l2 * sum(w^2) and
// adds its gradient, l1 * sign(w) + 2 * l2 * w, to grad (sign(0) = 0).
template <class T>
double weight_penalty(const T* w, T* grad, index_t n, T l1, T l2) {
  T abs_sum = 0, square_sum = 0;
  for (index_t i = 0; i < n; ++i) {
    abs_sum += std::fabs(w[i]);
    square_sum += w[i] * w[i];
  }
  if (grad) {
    const T twice_l2 = T(2) * l2;
    for (index_t i = 0; i < n; ++i)
      grad[i] += l1 * (w[i] > T(0) ? T(1) : w[i] < T(0) ? T(-1) : T(0)) + twice_l2 * w[i];
  }
  return static_cast<double>(l1) * abs_sum + static_cast<double>(l2) * square_sum;
}
