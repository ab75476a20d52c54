// How many threads a kernel may use, and the one helper that spawns them.
#pragma once
#include "common.hpp"

namespace denseops {

// Threads a kernel may use: the calling thread's own count if one is set
// (set_thread_local_threads), else the process default: set_num_threads() if
// called, else OpenMP's default (which honours OMP_NUM_THREADS). Always 1 in a
// child forked after the parent used OpenMP: GNU libgomp's thread pool does
// not survive fork() and entering a parallel region there can deadlock.
// Kernels read it in the calling thread, before they open a parallel region.
int num_threads();
void set_num_threads(int n);

// The calling thread's own count (0: none, follow the process default).
// It belongs to that thread alone, so concurrent callers with different
// counts (two estimators' n_threads) never change each other's or the
// process's setting. Returns the previous value, for restoring it.
int set_thread_local_threads(int n);
bool openmp_enabled();
bool in_forked_child();

// Threads worth using for `work` units (multiply-adds or elements) when one
// thread should get at least `min_work_per_thread` of them.
int threads_for(double work, double min_work_per_thread);

// Runs body(begin, end) over [0, n) split into `threads` contiguous chunks,
// each chunk a multiple of `align` (the last takes the rest). With one thread
// no OpenMP construct is entered at all, which keeps forked children safe.
template <class Body>
void parallel_for(index_t n, int threads, index_t align, Body&& body);

}  // namespace denseops

#include "threading_impl.hpp"
