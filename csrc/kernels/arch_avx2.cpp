// The same kernels compiled with -mavx2 -mfma (set in CMakeLists.txt for this
// file only). Chosen at run time on CPUs that have both.
#define DENSEOPS_ARCH avx2
#define DENSEOPS_ARCH_NAME "avx2"
#define DENSEOPS_ARCH_IS_AVX2 1
#include "arch_impl.inc"
