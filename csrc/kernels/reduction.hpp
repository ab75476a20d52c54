// Reductions: dot products and column sums. Included inside an arch namespace.

// Sum of x[i] * y[i]. Floating-point addition is not associative, so the
// compiler will not vectorize a single running sum on its own; 128 bytes of
// independent partial sums (32 floats / 16 doubles) give it four ymm
// accumulators: with a 4-cycle FMA latency and 2 loads per FMA that keeps
// the loads, not the adds, the limit for data in L1/L2. Partial sums also
// shrink rounding error, which grows like (n / kLanes) * eps, not n * eps.
template <class T>
T dot(const T* x, const T* y, index_t n) {
  constexpr index_t kLanes = 128 / sizeof(T);
  T acc[kLanes] = {};
  index_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (index_t l = 0; l < kLanes; ++l) acc[l] += x[i + l] * y[i + l];
  T tail = 0;
  for (; i < n; ++i) tail += x[i] * y[i];
  // Pairwise combination of the partial sums.
  for (index_t width = kLanes / 2; width > 0; width /= 2)
    for (index_t l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0] + tail;
}

// x is (rows, cols) with row stride ldx (a column slice of a wider matrix
// when threads split the columns), out is (cols,): out[c] = sum over r of
// x[r, c]. Row by row, so each step is a contiguous vector add.
template <class T>
void column_sums(const T* x, T* out, index_t rows, index_t cols, index_t ldx) {
  for (index_t c = 0; c < cols; ++c) out[c] = 0;
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * ldx;
    for (index_t c = 0; c < cols; ++c) out[c] += xr[c];
  }
}
