// The portable build of every kernel: the baseline ISA of the target (SSE2 on
// x86-64, NEON on arm64). Correct on every CPU.
#define DENSEOPS_ARCH generic
#define DENSEOPS_ARCH_NAME "generic"
#include "arch_impl.inc"
