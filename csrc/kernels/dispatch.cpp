#include "dispatch.hpp"

#include <atomic>
#include <cstdlib>

namespace denseops {
namespace {

enum class Arch { generic, avx2 };

std::atomic<Arch>& active() {
  static std::atomic<Arch> chosen = [] {
    const char* env = std::getenv("DENSEOPS_ARCH");
    const std::string wanted = env ? env : "auto";
    if (wanted == "generic" || !cpu_has_avx2_fma()) return Arch::generic;
    return Arch::avx2;
  }();
  return chosen;
}

}  // namespace

bool cpu_has_avx2_fma() {
#if defined(DENSEOPS_HAVE_AVX2_BUILD) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const KernelTable<float>& kernels_f32() {
#ifdef DENSEOPS_HAVE_AVX2_BUILD
  if (active().load(std::memory_order_relaxed) == Arch::avx2) return avx2::table_f32();
#endif
  return generic::table_f32();
}

const KernelTable<double>& kernels_f64() {
#ifdef DENSEOPS_HAVE_AVX2_BUILD
  if (active().load(std::memory_order_relaxed) == Arch::avx2) return avx2::table_f64();
#endif
  return generic::table_f64();
}

std::string set_arch(const std::string& name) {
  if (name == "generic") {
    active().store(Arch::generic);
  } else if (name == "avx2" || name == "auto") {
    if (!cpu_has_avx2_fma()) {
      if (name == "avx2") return "this CPU (or this build) has no AVX2+FMA kernels";
      active().store(Arch::generic);
    } else {
      active().store(Arch::avx2);
    }
  } else {
    return "expected one of 'auto', 'generic', 'avx2', got '" + name + "'";
  }
  return {};
}

std::string arch() { return active().load() == Arch::avx2 ? "avx2" : "generic"; }

}  // namespace denseops
