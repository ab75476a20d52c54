#include "dispatch.hpp"

#include <atomic>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace denseops {
namespace {

enum class Arch {
  generic,
  avx2,
  avx512,
  avx512_emulated,
  avx512_bf16,
  amx,
  avx512_bf16_emulated,
  amx_emulated
};

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
constexpr std::uint64_t kTileState = 0x60000;      // bits 17 (XTILECFG), 18 (XTILEDATA)

// Linux enables the 8 KiB of tile data lazily, per process: the first tile
// instruction faults (SIGILL) unless the process asked for it. Asked once;
// the answer holds for every thread of the process.
bool linux_grants_amx() {
#if defined(__linux__) && defined(__x86_64__)
  static const bool granted = [] {
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
#else
  return false;
#endif
}
#endif

Arch best_arch() {
  if (cpu_has_amx()) return Arch::amx;
  if (cpu_has_avx512_bf16()) return Arch::avx512_bf16;
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

bool cpu_has_avx512_bf16() {
#if defined(DENSEOPS_HAVE_BF16_BUILDS) && (defined(__x86_64__) || defined(__i386__))
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return cpu_has_avx512() && (eax & (1u << 5));  // CPUID.(7, 1):EAX[5] AVX512_BF16
#else
  return false;
#endif
}

bool cpu_has_amx() {
#if defined(DENSEOPS_HAVE_BF16_BUILDS) && (defined(__x86_64__) || defined(__i386__))
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool isa = (edx & (1u << 22)) && (edx & (1u << 24));  // AMX-BF16, AMX-TILE
  // The AMX file's packing is compiled for AVX-512 as well.
  return isa && cpu_has_avx512() && (xcr0() & kTileState) == kTileState && linux_grants_amx();
#else
  return false;
#endif
}

// amx and avx512-bf16 add a bf16 GEMM to the avx512 path; the bf16
// emulations run beside the portable one.
const KernelTable<float>& kernels_f32() {
  switch (active().load(std::memory_order_relaxed)) {
#ifdef DENSEOPS_HAVE_X86_BUILDS
    case Arch::amx:
    case Arch::avx512_bf16:
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
    case Arch::amx:
    case Arch::avx512_bf16:
    case Arch::avx512: return avx512::table_f64();
    case Arch::avx2: return avx2::table_f64();
#endif
    case Arch::avx512_emulated: return avx512_emulated::table_f64();
    default: return generic::table_f64();
  }
}

const Bf16Gemm& kernels_bf16() {
  switch (active().load(std::memory_order_relaxed)) {
#ifdef DENSEOPS_HAVE_BF16_BUILDS
    case Arch::amx: return amx::bf16_gemm();
    case Arch::avx512_bf16: return avx512_bf16::bf16_gemm();
#endif
    case Arch::amx_emulated: return amx_emulated::bf16_gemm();
    case Arch::avx512_bf16_emulated: return avx512_bf16_emulated::bf16_gemm();
    default: return bf16_gemm_widened();
  }
}

std::string set_arch(const std::string& name) {
  if (name == "auto") {
    active().store(best_arch());
  } else if (name == "generic") {
    active().store(Arch::generic);
  } else if (name == "avx512-emulated") {
    active().store(Arch::avx512_emulated);
  } else if (name == "amx-emulated") {
    active().store(Arch::amx_emulated);
  } else if (name == "avx512-bf16-emulated") {
    active().store(Arch::avx512_bf16_emulated);
  } else if (name == "amx") {
    if (!cpu_has_amx())
      return "this CPU, its operating system or this build cannot run the 'amx' path "
             "(needs AMX-TILE, AMX-BF16 and AVX-512, the tile state enabled by the OS and, "
             "on Linux, granted by arch_prctl(ARCH_REQ_XCOMP_PERM))";
    active().store(Arch::amx);
  } else if (name == "avx512-bf16") {
    if (!cpu_has_avx512_bf16())
      return "this CPU, its operating system or this build cannot run the 'avx512-bf16' path "
             "(needs AVX512-BF16 and AVX-512 F/VL/BW/DQ with the OS saving zmm state)";
    active().store(Arch::avx512_bf16);
  } else if (name == "avx2") {
    if (!cpu_has_avx2_fma()) return "this CPU (or this build) cannot run the 'avx2' path";
    active().store(Arch::avx2);
  } else if (name == "avx512") {
    if (!cpu_has_avx512())
      return "this CPU, its operating system or this build cannot run the 'avx512' path "
             "(needs AVX-512 F/VL/BW/DQ and the OS saving zmm and opmask state)";
    active().store(Arch::avx512);
  } else {
    return "expected one of 'auto', 'avx512', 'avx2', 'generic' (with a bf16 GEMM: 'amx', "
           "'avx512-bf16'; test paths: 'avx512-emulated', 'amx-emulated', "
           "'avx512-bf16-emulated'), got '" + name + "'";
  }
  return {};
}

std::string arch() {
  switch (active().load()) {
    case Arch::avx512: return "avx512";
    case Arch::avx2: return "avx2";
    case Arch::avx512_emulated: return "avx512-emulated";
    case Arch::amx: return "amx";
    case Arch::avx512_bf16: return "avx512-bf16";
    case Arch::amx_emulated: return "amx-emulated";
    case Arch::avx512_bf16_emulated: return "avx512-bf16-emulated";
    default: return "generic";
  }
}

}  // namespace denseops
