#include "elementwise_bf16.hpp"

#include "threading.hpp"

namespace denseops {
namespace {

// The float32 kernels' threshold (arch_impl.inc): below 2^16 elements per
// thread a second thread costs more than it saves.
constexpr double kElementsPerThread = 1 << 16;
constexpr index_t kAlign = 32;  // whole cache lines of bf16

}  // namespace

void bf16_relu(const bf16_t* x, bf16_t* out, index_t n) {
  parallel_for(n, threads_for(n, kElementsPerThread), kAlign, [=](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      // On the bits: a positive value (sign clear, not zero) or a NaN stays.
      const bf16_t h = x[i];
      const bool nan = (h & 0x7FFFu) > 0x7F80u;
      const bool positive = !(h & 0x8000u) && (h & 0x7FFFu) != 0;
      out[i] = positive || nan ? h : bf16_t(0);
    }
  });
}

void bf16_add(const bf16_t* x, const bf16_t* y, bf16_t* out, index_t n) {
  parallel_for(n, threads_for(n, kElementsPerThread), kAlign, [=](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) out[i] = float_to_bf16(bf16_to_float(x[i]) + bf16_to_float(y[i]));
  });
}

void bf16_bias_add(const bf16_t* x, const bf16_t* bias, bf16_t* out, index_t rows, index_t cols) {
  const double work = static_cast<double>(rows) * cols;
  parallel_for(rows, threads_for(work, kElementsPerThread), 1, [=](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r)
      for (index_t c = 0; c < cols; ++c)
        out[r * cols + c] = float_to_bf16(bf16_to_float(x[r * cols + c]) + bf16_to_float(bias[c]));
  });
}

}  // namespace denseops
