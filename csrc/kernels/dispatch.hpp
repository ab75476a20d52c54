// Run-time choice of instruction set: made once, in one place.
#pragma once
#include <string>

#include "kernel_table.hpp"

namespace denseops {

// True when this build contains AVX2 kernels and the CPU can run them.
bool cpu_has_avx2_fma();

// The active tables. Chosen at first use from $DENSEOPS_ARCH ("auto",
// "generic" or "avx2"; default "auto" = the best the CPU supports).
const KernelTable<float>& kernels_f32();
const KernelTable<double>& kernels_f64();

// Force a path ("auto", "generic", "avx2"). Returns an error message, empty on
// success (e.g. asking for avx2 on a CPU without it).
std::string set_arch(const std::string& name);
std::string arch();

}  // namespace denseops
