// A test path: the AVX512-BF16 packing, 12 x 32 tile and rounding with zmm
// registers held in arrays, compiled for the baseline ISA, so it runs
// (slowly) on any CPU. Forced with set_arch("avx512-bf16-emulated").
#define DENSEOPS_BF16_ARCH avx512_bf16_emulated
#define DENSEOPS_BF16_ARCH_NAME "avx512-bf16-emulated"
#define DENSEOPS_BF16_IS_DP 1
#define DENSEOPS_BF16_NATIVE 0
#include "arch_bf16_impl.inc"
