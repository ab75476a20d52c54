// Run-time choice of instruction set: made once, in one place.
#pragma once
#include <string>

#include "kernel_table.hpp"

namespace denseops {

// True when this build contains the path's kernels and both the CPU and the
// operating system can run them (CPUID for the instructions, XCR0 for the
// register state the OS saves on a context switch).
bool cpu_has_avx2_fma();
bool cpu_has_avx512();

// The active tables: the best path the CPU supports unless set_arch chose
// another.
const KernelTable<float>& kernels_f32();
const KernelTable<double>& kernels_f64();

// Force a path: "auto", "generic", "avx2", "avx512", or the test path
// "avx512-emulated". Returns an error message, empty on success (an unknown
// name, or a path this CPU or build cannot run).
std::string set_arch(const std::string& name);
std::string arch();

}  // namespace denseops
