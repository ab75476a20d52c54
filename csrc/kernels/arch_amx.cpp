// The AMX bf16 GEMM, compiled with -mamx-tile -mamx-bf16 and AVX-512 (set in
// CMakeLists.txt for this file only). Offered only where the CPU has AMX and
// Linux granted the tile state (dispatch.cpp).
#define DENSEOPS_BF16_ARCH amx
#define DENSEOPS_BF16_ARCH_NAME "amx"
#define DENSEOPS_BF16_IS_AMX 1
#define DENSEOPS_BF16_NATIVE 1
#include "arch_bf16_impl.inc"
