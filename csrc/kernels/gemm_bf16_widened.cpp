// The bf16 GEMM of paths without bf16 instructions (generic, avx2, avx512):
// both operands widened to float32 (rounded to bf16 first when they are
// float32), then the active float32 GEMM. A product of two bf16 values is
// exact in float32, so this computes what the bf16 hardware does: exact
// products, float32 accumulation (with FMA's single rounding per step).
#include <memory>

#include "dispatch.hpp"
#include "gemm_bf16.hpp"

namespace denseops {
namespace {

// X (rows, cols) as a C-contiguous float32 array of bf16 values.
std::unique_ptr<float[]> widened(const Bf16Operand& x, index_t rows, index_t cols) {
  std::unique_ptr<float[]> out(new float[static_cast<std::size_t>(rows * cols)]);
  float* o = out.get();
  for (index_t i = 0; i < rows; ++i) {
    if (x.is_f32) {
      const float* src = static_cast<const float*>(x.data) + i * x.rs;
      for (index_t k = 0; k < cols; ++k) o[i * cols + k] = round_to_bf16(src[k * x.cs]);
    } else {
      const bf16_t* src = static_cast<const bf16_t*>(x.data) + i * x.rs;
      for (index_t k = 0; k < cols; ++k) o[i * cols + k] = bf16_to_float(src[k * x.cs]);
    }
  }
  return out;
}

void gemm_widened(index_t M, index_t N, index_t K, const Bf16Operand& A, const Bf16Operand& B,
                  const Bf16Result& C) {
  if (M <= 0 || N <= 0) return;
  const auto a = widened(A, M, K), b = widened(B, K, N);
  std::unique_ptr<float[]> c_scratch;
  float* c = C.f32;
  index_t ldc = C.ldc;
  if (!c) {
    c_scratch.reset(new float[static_cast<std::size_t>(M * N)]);
    c = c_scratch.get(), ldc = N;
  }
  kernels_f32().gemm(M, N, K, a.get(), K, 1, b.get(), N, 1, c, ldc);
  if (C.bf16)
    for (index_t i = 0; i < M; ++i)
      for (index_t j = 0; j < N; ++j) C.bf16[i * C.ldc + j] = float_to_bf16(c[i * N + j]);
}

}  // namespace

const Bf16Gemm& bf16_gemm_widened() {
  static const Bf16Gemm gemm{"widened", "bf16 widened to float32, then the float32 GEMM",
                             &gemm_widened};
  return gemm;
}

}  // namespace denseops
