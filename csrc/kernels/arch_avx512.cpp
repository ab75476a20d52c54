// The same kernels compiled for AVX-512 (flags set in CMakeLists.txt for
// this file only: F, VL, BW, DQ, 512-bit vectors preferred). Chosen at run
// time on CPUs and operating systems that support it (dispatch.cpp).
#define DENSEOPS_ARCH avx512
#define DENSEOPS_ARCH_NAME "avx512"
#define DENSEOPS_ARCH_IS_AVX512 1
#include "arch_impl.inc"
