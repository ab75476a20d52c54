// Run-time choice of instruction set: made once, in one place.
#pragma once
#include <string>

#include "gemm_bf16.hpp"
#include "kernel_table.hpp"

namespace denseops {

// True when this build contains the path's kernels and both the CPU and the
// operating system can run them (CPUID for the instructions, XCR0 for the
// register state the OS saves on a context switch).
bool cpu_has_avx2_fma();
bool cpu_has_avx512();
// AVX512-BF16 (vdpbf16ps) with AVX-512's state; AMX-TILE and AMX-BF16 with
// the tile state enabled in XCR0 and, on Linux, granted to this process
// (arch_prctl(ARCH_REQ_XCOMP_PERM), asked once; see dispatch.cpp).
bool cpu_has_avx512_bf16();
bool cpu_has_amx();

// The active tables: the best path the CPU supports unless set_arch chose
// another.
const KernelTable<float>& kernels_f32();
const KernelTable<double>& kernels_f64();
// The bf16 GEMM of the active path: AMX, AVX512-BF16, one of their
// emulations, or the float32 GEMM on widened operands.
const Bf16Gemm& kernels_bf16();

// Force a path: "auto", "generic", "avx2", "avx512", "avx512-bf16", "amx", or
// the test paths "avx512-emulated", "avx512-bf16-emulated", "amx-emulated".
// "amx" and "avx512-bf16" run every float kernel on the avx512 path, and the
// bf16 emulations on the generic one. Returns an error message, empty on
// success (an unknown name, or a path this CPU or build cannot run).
std::string set_arch(const std::string& name);
std::string arch();

}  // namespace denseops
