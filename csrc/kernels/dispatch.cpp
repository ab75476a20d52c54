#include "dispatch.hpp"

#include <atomic>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace denseops {
namespace {

enum class Arch { generic, avx2, avx512, avx512_emulated };

#if defined(__x86_64__) || defined(__i386__)
// XCR0: the register state the OS saves and restores. A CPU can have
// AVX-512 while the OS (or hypervisor) does not enable its state, and then
// the first zmm instruction faults.
std::uint64_t xcr0() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}
constexpr std::uint64_t kXmmYmmState = 0x6;        // bits 1 (SSE), 2 (AVX)
constexpr std::uint64_t kZmmOpmaskState = 0xE0;    // bits 5 (opmask), 6, 7 (zmm)
#endif

Arch best_arch() {
  if (cpu_has_avx512()) return Arch::avx512;
  if (cpu_has_avx2_fma()) return Arch::avx2;
  return Arch::generic;
}

std::atomic<Arch>& active() {
  static std::atomic<Arch> chosen{best_arch()};
  return chosen;
}

}  // namespace

bool cpu_has_avx2_fma() {
#if defined(DENSEOPS_HAVE_X86_BUILDS) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         (xcr0() & kXmmYmmState) == kXmmYmmState;
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(DENSEOPS_HAVE_X86_BUILDS) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  const bool isa = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("fma");
  const std::uint64_t state = kXmmYmmState | kZmmOpmaskState;
  return isa && (xcr0() & state) == state;
#else
  return false;
#endif
}

const KernelTable<float>& kernels_f32() {
  switch (active().load(std::memory_order_relaxed)) {
#ifdef DENSEOPS_HAVE_X86_BUILDS
    case Arch::avx512: return avx512::table_f32();
    case Arch::avx2: return avx2::table_f32();
#endif
    case Arch::avx512_emulated: return avx512_emulated::table_f32();
    default: return generic::table_f32();
  }
}

const KernelTable<double>& kernels_f64() {
  switch (active().load(std::memory_order_relaxed)) {
#ifdef DENSEOPS_HAVE_X86_BUILDS
    case Arch::avx512: return avx512::table_f64();
    case Arch::avx2: return avx2::table_f64();
#endif
    case Arch::avx512_emulated: return avx512_emulated::table_f64();
    default: return generic::table_f64();
  }
}

std::string set_arch(const std::string& name) {
  if (name == "auto") {
    active().store(best_arch());
  } else if (name == "generic") {
    active().store(Arch::generic);
  } else if (name == "avx512-emulated") {
    active().store(Arch::avx512_emulated);
  } else if (name == "avx2") {
    if (!cpu_has_avx2_fma()) return "this CPU (or this build) cannot run the 'avx2' path";
    active().store(Arch::avx2);
  } else if (name == "avx512") {
    if (!cpu_has_avx512())
      return "this CPU, its operating system or this build cannot run the 'avx512' path "
             "(needs AVX-512 F/VL/BW/DQ and the OS saving zmm and opmask state)";
    active().store(Arch::avx512);
  } else {
    return "expected one of 'auto', 'avx512', 'avx2', 'generic' (or the test path "
           "'avx512-emulated'), got '" + name + "'";
  }
  return {};
}

std::string arch() {
  switch (active().load()) {
    case Arch::avx512: return "avx512";
    case Arch::avx2: return "avx2";
    case Arch::avx512_emulated: return "avx512-emulated";
    default: return "generic";
  }
}

}  // namespace denseops
