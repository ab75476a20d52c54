// A test path: the AMX bf16 packing, 2 x 2 tile blocks and rounding with the
// tile registers held in arrays, compiled for the baseline ISA, so it runs
// (slowly) on any CPU. Forced with set_arch("amx-emulated").
#define DENSEOPS_BF16_ARCH amx_emulated
#define DENSEOPS_BF16_ARCH_NAME "amx-emulated"
#define DENSEOPS_BF16_IS_AMX 1
#define DENSEOPS_BF16_NATIVE 0
#include "arch_bf16_impl.inc"
