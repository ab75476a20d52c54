// parallel_for's template body (included by threading.hpp).
#pragma once
#include <algorithm>

namespace denseops {

template <class Body>
void parallel_for(index_t n, int threads, index_t align, Body&& body) {
  if (n <= 0) return;
  index_t chunks = std::min<index_t>(threads, (n + align - 1) / align);
  if (chunks <= 1) {
    body(index_t{0}, n);
    return;
  }
  // Whole `align` blocks per chunk, spread as evenly as possible.
  const index_t blocks = (n + align - 1) / align;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (index_t c = 0; c < chunks; ++c) {
    const index_t first = blocks * c / chunks * align;
    const index_t last = std::min(n, blocks * (c + 1) / chunks * align);
    if (first < last) body(first, last);
  }
}

}  // namespace denseops
