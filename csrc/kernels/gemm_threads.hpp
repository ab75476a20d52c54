// What the GEMM driver needs from outside its arch namespace: the per-thread
// packing scratch, the OpenMP thread number and the steps of a wait. Included
// at file scope (system headers must not land inside a namespace), shared by
// both arch builds.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <chrono>
#include <thread>

#ifdef DENSEOPS_OPENMP
#include <omp.h>
#endif

namespace denseops::gemm_detail {

// 64-byte-aligned packing scratch owned by the calling thread and reused
// between calls: no allocation (or page faults) in the steady state, and no
// sharing between Python threads that call matmul at once with the GIL
// released. Called before any OpenMP region, so a failure is a plain
// std::bad_alloc that the binding turns into MemoryError.
inline void* workspace(std::size_t bytes) {
  struct Buffer {
    void* data = nullptr;
    std::size_t bytes = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (bytes > buffer.bytes) {
    std::free(buffer.data);
    buffer.bytes = (bytes + 63) / 64 * 64;
    buffer.data = std::aligned_alloc(64, buffer.bytes);
    if (!buffer.data) {
      buffer.bytes = 0;
      throw std::bad_alloc();
    }
  }
  return buffer.data;
}

inline int team_thread() {
#ifdef DENSEOPS_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// One step of a busy wait: tells an x86 core to ease off (and a sibling
// hyperthread to go ahead) without giving up the time slice.
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Lets another runnable thread have this core.
inline void yield_core() { std::this_thread::yield(); }

// Leaves the run queue for a moment (50 us: short beside a time slice, long
// beside a claim of GEMM work).
inline void sleep_briefly() { std::this_thread::sleep_for(std::chrono::microseconds(50)); }

}  // namespace denseops::gemm_detail
