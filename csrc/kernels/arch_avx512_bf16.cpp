// The AVX512-BF16 bf16 GEMM (vdpbf16ps), compiled with -mavx512bf16 and
// AVX-512 (set in CMakeLists.txt for this file only). Offered where the CPU
// has AVX512-BF16 and the OS saves zmm state (dispatch.cpp).
#define DENSEOPS_BF16_ARCH avx512_bf16
#define DENSEOPS_BF16_ARCH_NAME "avx512-bf16"
#define DENSEOPS_BF16_IS_DP 1
#define DENSEOPS_BF16_NATIVE 1
#include "arch_bf16_impl.inc"
