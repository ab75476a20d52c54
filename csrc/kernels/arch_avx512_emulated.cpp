// A test path: the AVX-512 GEMM tile, masks and block sizes with 512-bit
// vectors emulated in plain arrays, compiled for the baseline ISA, so they
// run (slowly) on CPUs without AVX-512. Never chosen automatically; forced
// with set_arch("avx512-emulated") or DENSEOPS_ARCH=avx512-emulated.
#define DENSEOPS_ARCH avx512_emulated
#define DENSEOPS_ARCH_NAME "avx512-emulated"
#define DENSEOPS_ARCH_IS_AVX512_EMULATED 1
#include "arch_impl.inc"
