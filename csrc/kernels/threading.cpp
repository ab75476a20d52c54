#include "threading.hpp"

#include <pthread.h>

#include <atomic>

#ifdef DENSEOPS_OPENMP
#include <omp.h>
#endif

namespace denseops {
namespace {

std::atomic<int> g_requested{0};  // 0: not set, use OpenMP's default
std::atomic<bool> g_forked{false};
thread_local int t_local_threads = 0;  // 0: not set in this thread

int default_threads() {
#ifdef DENSEOPS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Registered once at load time; runs in the child of every fork().
struct ForkGuard {
  ForkGuard() { pthread_atfork(nullptr, nullptr, [] { g_forked.store(true); }); }
} const g_fork_guard;

}  // namespace

int num_threads() {
  if (g_forked.load(std::memory_order_relaxed)) return 1;
  if (t_local_threads > 0) return t_local_threads;
  const int requested = g_requested.load(std::memory_order_relaxed);
  return requested > 0 ? requested : default_threads();
}

void set_num_threads(int n) { g_requested.store(n); }

int set_thread_local_threads(int n) {
  const int previous = t_local_threads;
  t_local_threads = n;
  return previous;
}

bool openmp_enabled() {
#ifdef DENSEOPS_OPENMP
  return true;
#else
  return false;
#endif
}

bool in_forked_child() { return g_forked.load(); }

int threads_for(double work, double min_work_per_thread) {
  const int available = num_threads();
  if (available <= 1 || work < 2 * min_work_per_thread) return 1;
  const double fit = work / min_work_per_thread;
  return fit < available ? static_cast<int>(fit) : available;
}

}  // namespace denseops
