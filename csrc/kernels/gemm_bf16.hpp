// The bfloat16 GEMM: bf16 products with float32 accumulation. What every
// bf16 path provides, and the paths there are (dispatch.cpp picks one):
//   amx                   AMX tiles (tdpbf16ps), 32 x 32 blocks of C
//   avx512-bf16           AVX512-BF16 dot products (vdpbf16ps), 12 x 32 tiles
//   amx-emulated,         the same packing, tiles and rounding with the
//   avx512-bf16-emulated  tile registers / vectors held in plain arrays
//   widened               any other path: bf16 widened to float32 (exact),
//                         then that path's float32 GEMM
// Sizes: A is (M, K), B is (K, N), C is (M, N), C = A @ B.
#pragma once
#include "bf16.hpp"
#include "common.hpp"

namespace denseops {

// An operand as the product sees it: X[i, k] at data[i * rs + k * cs]
// (element strides, any sign). float32 values are rounded to bfloat16 as
// they are packed (matmul's precision="bfloat16"); bf16 ones are read as is.
struct Bf16Operand {
  const void* data;
  bool is_f32;
  index_t rs, cs;
};

// C, row-major with row stride ldc: float32 (the accumulators as they are)
// or bfloat16 (rounded once, at the end). Exactly one pointer is set.
struct Bf16Result {
  float* f32;
  bf16_t* bf16;
  index_t ldc;
};

struct Bf16Gemm {
  const char* arch;  // "amx", "avx512-bf16", ... or "widened"
  const char* kind;  // what show_config says of it
  void (*gemm)(index_t M, index_t N, index_t K, const Bf16Operand& A, const Bf16Operand& B,
               const Bf16Result& C);
};

namespace amx {
const Bf16Gemm& bf16_gemm();
}
namespace avx512_bf16 {
const Bf16Gemm& bf16_gemm();
}
namespace amx_emulated {
const Bf16Gemm& bf16_gemm();
}
namespace avx512_bf16_emulated {
const Bf16Gemm& bf16_gemm();
}
// Widens to float32 and runs the active float32 path's GEMM (kernels_f32()).
const Bf16Gemm& bf16_gemm_widened();

}  // namespace denseops
