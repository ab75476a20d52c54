// What the GEMM driver needs from outside its arch namespace: the per-thread
// packing scratch, the OpenMP team queries and a busy-wait step. Included at file scope (system
// headers must not land inside a namespace), shared by both arch builds.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

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

inline int team_size() {
#ifdef DENSEOPS_OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// Waits for the whole team; a no-op for a team of one (no OpenMP construct
// entered, which keeps forked children safe).
inline void team_barrier(int team) {
#ifdef DENSEOPS_OPENMP
  if (team > 1) {
#pragma omp barrier
  }
#else
  (void)team;
#endif
}

// One step of a busy wait: tells an x86 core to ease off (and a sibling
// hyperthread to go ahead) without giving up the time slice.
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace denseops::gemm_detail
