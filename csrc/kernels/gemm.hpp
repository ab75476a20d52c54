// The GEMM entry point: picks the serial textbook loop, the serial blocked
// loops, or a way for a team of threads to share the blocked loops.
// Included inside an arch namespace, after gemm_loops.hpp.
//
// On a machine shared with other processes a thread can start late or lose
// its core for a while. With a fixed split the whole call then waits for
// that thread, so the threads claim work from counters instead: a slowed
// thread does less and the others do more, and a thread waits only for
// work another thread is doing at that moment.

// Below this many multiply-adds (16^3) products take the textbook loop.
// Measured on Zen 4 (f32, one thread, matmul against _kernels._gemm_naive):
// below ~2000 the two cost the same through the binding (0.6-1.0 us); at
// 4096 the AVX2 / AVX-512 paths take 0.43-0.63 us where the loop takes
// 1.0-2.5 us, while the portable path (1.5 us) still trails it (1.1 us). The
// cut is where the portable path stops losing by much; moving it would change
// how the products between the old and new cut are rounded.
constexpr double kGemmTinyMacs = 4096;
// Work per thread (multiply-adds) below which a second thread does not pay
// for waking it (~5 us). Measured on the MNIST shapes.
constexpr double kGemmMacsPerThread = 1 << 18;
// N up to this: packing A would cost as much as the product itself (each A
// element is used only N times), so the micro-kernel reads rows of A in place.
constexpr index_t kGemmUnpackedMaxN = 32;
// Hand-out granularity: a claim takes 1 / (kGemmClaimDivisor * threads) of
// the work still left, at least one micro-panel. Early claims are large
// (full-speed blocked products); the last ones are single panels, so the
// threads finish within about one panel's time of each other even when one
// of them was slowed, instead of within one large chunk.
constexpr index_t kGemmClaimDivisor = 2;

// Products with at most this many rows take the small-M path: B read in
// place, not packed. Packing costs a full pass over B (read and write) that
// only pays when the packed panel is reused by many row panels; with one
// or two row panels it doubles the memory traffic of what is a
// matrix-vector product bound by reading B. Measured crossover on the
// AVX-512 and AVX2 paths: see gemm_small_m.
constexpr index_t kGemmSmallMaxM = 16;

// How a team shares one product.
enum class GemmSchedule {
  // Claims of whole column micro-panels; each claim packs its own slice of
  // B and multiplies all rows of an A read in place. No packed data crosses
  // cores and nothing waits. For few rows, or an A that fits in L2 (the
  // MNIST forward product).
  kColumnChunks,
  // B is tiny (N <= kGemmUnpackedMaxN) and packed whole in one pass: each
  // thread packs its own copy, then claims rows and never waits.
  kRowChunksOwnB,
  // Every other product, in phases: one per B panel (a column panel and
  // the K blocks packed together). In each phase the team packs the panel
  // in claims, each thread waits until the last claim is packed, then
  // claims rows; before the next phase refills the buffer, a thread waits
  // until the rows another thread is still multiplying are done
  // (a.T @ b and 1024^2 have one phase; 2048^2 f32 has 8).
  kRowChunksSharedB,
};

// The counters threads claim work from: one set per call, or per phase of
// kRowChunksSharedB. Units are micro-panels: of B's columns (NR wide) or of
// C's rows (MR tall).
struct GemmHandOut {
  std::atomic<index_t> next_b_panel{0};
  std::atomic<index_t> b_panels_packed{0};
  std::atomic<index_t> next_row_panel{0};
  std::atomic<index_t> row_panels_done{0};
};

// Waits until `count` reaches `target`: the other threads' claims in flight
// are short, so spin; past a few thousand spins the thread being waited for
// has probably lost its core (more threads than cores, e.g. several Python
// threads each running a product, or another busy process), so offer ours
// to it; and past a few hundred offers, sleep: a thread that only yields
// stays runnable and keeps taking time slices from the one it waits for.
// Measured on Zen 4: a PAUSE takes 24 ns, so 4096 spins are ~0.1 ms (many
// claims' worth of work, a small part of a 1-4 ms time slice); a yield
// takes 0.5 us alone and longer when another thread runs, so 256 of them
// are another ~0.14 ms or more.
inline void gemm_wait_for(const std::atomic<index_t>& count, index_t target) {
  constexpr int kSpins = 4096, kYields = 256;
  for (int round = 0; count.load(std::memory_order_acquire) < target; ++round) {
    if (round < kSpins)
      gemm_detail::spin_pause();
    else if (round < kSpins + kYields)
      gemm_detail::yield_core();
    else
      gemm_detail::sleep_briefly();
  }
}

// Claims [begin, end) from the `total` units that `next` hands out (see
// kGemmClaimDivisor); false once everything has been claimed.
inline bool gemm_claim(std::atomic<index_t>& next, index_t total, int threads, index_t& begin,
                       index_t& end) {
  index_t first = next.load(std::memory_order_relaxed);
  for (;;) {
    if (first >= total) return false;
    const index_t size = std::max<index_t>(1, (total - first) / (kGemmClaimDivisor * threads));
    const index_t last = std::min(total, first + size);
    if (next.compare_exchange_weak(first, last, std::memory_order_relaxed)) {
      begin = first, end = last;
      return true;
    }
  }
}

// One thread's part of a product. `b_own` is this thread's B buffer,
// `b_shared` the team's; `work` holds one GemmHandOut per phase (one for
// the other schedules). Claims are sized for the `threads` the buffers were
// sized for, even if the team that OpenMP gave is smaller (OMP_THREAD_LIMIT).
template <class Kern, class T>
void gemm_team_member(GemmSchedule schedule, const GemmProblem<T>& p, const GemmBlocks<Kern>& bl,
                      int threads, GemmHandOut* work, T* b_shared, T* b_own, T* a_slot) {
  constexpr index_t MR = Kern::MR, NR = Kern::NR;
  const index_t row_panels = ceil_div(p.M, MR);
  index_t begin, end;
  if (schedule == GemmSchedule::kColumnChunks) {
    while (gemm_claim(work->next_b_panel, ceil_div(p.N, NR), threads, begin, end)) {
      const index_t j0 = begin * NR, j1 = std::min(p.N, end * NR);
      GemmProblem<T> slice = p;
      slice.N = j1 - j0, slice.B = p.B + j0 * p.csb, slice.C = p.C + j0;
      gemm_loops<Kern>(slice, bl, b_own, a_slot);
    }
    return;
  }
  if (schedule == GemmSchedule::kRowChunksOwnB) {
    gemm_pack_b_panels(p, bl, 0, p.N, 0, p.K, 0, ceil_div(p.N, NR), b_own);
    while (gemm_claim(work->next_row_panel, row_panels, threads, begin, end))
      gemm_multiply_rows(p, bl, 0, p.N, 0, p.K, begin * MR, std::min(p.M, end * MR), b_own,
                         a_slot);
    return;
  }
  const index_t pack_depth = bl.pack_depth();
  GemmHandOut* previous = nullptr;
  for (index_t jc = 0; jc < p.N; jc += bl.nc) {
    const index_t nc = std::min(bl.nc, p.N - jc), b_panels = ceil_div(nc, NR);
    for (index_t pp = 0; pp < p.K; pp += pack_depth, previous = work++) {
      const index_t pp_end = std::min(p.K, pp + pack_depth);
      if (previous) gemm_wait_for(previous->row_panels_done, row_panels);
      while (gemm_claim(work->next_b_panel, b_panels, threads, begin, end)) {
        gemm_pack_b_panels(p, bl, jc, nc, pp, pp_end, begin, end, b_shared);
        work->b_panels_packed.fetch_add(end - begin, std::memory_order_release);
      }
      gemm_wait_for(work->b_panels_packed, b_panels);
      while (gemm_claim(work->next_row_panel, row_panels, threads, begin, end)) {
        gemm_multiply_rows(p, bl, jc, nc, pp, pp_end, begin * MR, std::min(p.M, end * MR),
                           b_shared, a_slot);
        work->row_panels_done.fetch_add(end - begin, std::memory_order_release);
      }
    }
  }
}

// The small-M path over columns [j_begin, j_end): each column strip of B
// (row-major, csb == 1) is streamed straight from the caller's memory
// through the micro-kernel with all of K at once; A is read in place. Up to
// GemmSmallMKernel's MR rows B is read exactly once, through the wide,
// short tile; more rows use the main tile, reading each strip once per MR
// rows. (One row takes gemv below.)
template <class Tile, class T>
void gemm_small_m_strips(const GemmProblem<T>& p, index_t j_begin, index_t j_end) {
  // Tried and not kept (AVX-512, Zen 4, M = 1..16): K blocks of 16-256 rows
  // so each strip's rows stay in L1, and software prefetch of B 4-16 rows
  // ahead; both were slower than one pass over all of K.
  for (index_t j = j_begin; j < j_end; j += Tile::NR) {
    const index_t cols = std::min(Tile::NR, j_end - j);
    for (index_t i = 0; i < p.M; i += Tile::MR)
      Tile::run(std::min(Tile::MR, p.M - i), cols, p.K, p.A + i * p.rsa, p.rsa, p.csa,
                p.B + j, p.rsb, p.C + i * p.ldc + j, p.ldc, false);
  }
}

template <class Tile, class T>
void gemm_small_m(const GemmProblem<T>& p, int threads) {
  if (threads <= 1) return gemm_small_m_strips<Tile>(p, 0, p.N);
  // Threads claim column strips: each owns its columns of C, nothing waits.
  GemmHandOut work;
  const index_t strips = ceil_div(p.N, Tile::NR);
#pragma omp parallel num_threads(threads)
  {
    index_t begin, end;
    while (gemm_claim(work.next_b_panel, strips, threads, begin, end))
      gemm_small_m_strips<Tile>(p, begin * Tile::NR, std::min(p.N, end * Tile::NR));
  }
}

// One row of A: C = a @ B as a sum of scaled rows of B (gemv_rows), which
// measured 1.02-1.04x NumPy's sgemv on 1 x 784 x 512 against 0.86-0.99x
// for the same product through the 4 x 64 tile (AVX-512, Zen 4). Threads
// claim ranges of columns, each a multiple of 64 so c's pieces stay whole
// cache lines.
template <class T>
void gemv(const GemmProblem<T>& p, int threads) {
  using Vec = typename GemmKernel<T>::VecType;
  if (threads <= 1) return gemv_rows<Vec>(p.K, p.N, p.A, p.csa, p.B, p.rsb, p.C);
  constexpr index_t kUnit = 64;
  GemmHandOut work;
#pragma omp parallel num_threads(threads)
  {
    index_t begin, end;
    while (gemm_claim(work.next_b_panel, ceil_div(p.N, kUnit), threads, begin, end)) {
      const index_t j0 = begin * kUnit, j1 = std::min(p.N, end * kUnit);
      gemv_rows<Vec>(p.K, j1 - j0, p.A, p.csa, p.B + j0, p.rsb, p.C + j0);
    }
  }
}

// The whole product with micro-kernel Kern: the textbook loop, gemv, the
// small-M path or the blocked loops, on one thread or shared by a team.
template <class Kern, class T>
void gemm_with_tile(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa,
                    const T* B, index_t rsb, index_t csb, T* C, index_t ldc) {
  constexpr index_t MR = Kern::MR, NR = Kern::NR;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (index_t i = 0; i < M; ++i)
      for (index_t j = 0; j < N; ++j) C[i * ldc + j] = T(0);
    return;
  }
  const double macs = static_cast<double>(M) * N * K;
  if (macs < kGemmTinyMacs) return gemm_naive(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc);
  const int threads = threads_for(macs, kGemmMacsPerThread);
  const index_t m_panels = ceil_div(M, MR), n_panels = ceil_div(N, NR);

  if (M <= kGemmSmallMaxM && csb == 1) {
    const GemmProblem<T> p{M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, false};
    using Small = GemmSmallMKernel<T>;
    if (M == 1) return gemv(p, threads);
    return M <= Small::MR ? gemm_small_m<Small>(p, threads) : gemm_small_m<Kern>(p, threads);
  }

  // Rows of A read in place (csa == 1) instead of packed: always for skinny
  // N, and when all of A fits in L2 for one K pass (then it stays cached
  // and packing it is pure overhead: +4 % on the MNIST forward product).
  const bool a_in_l2 = static_cast<std::size_t>(M) * K * sizeof(T) <= kGemmOneKBlockABytes;
  const GemmProblem<T> p{M, N, K, A, rsa, csa, B, rsb, csb, C, ldc,
                         !(csa == 1 && (N <= kGemmUnpackedMaxN || a_in_l2))};

  // Columns when there are few rows or A is read in place, and enough
  // column panels: on 128x784x512 f32, 2 threads, 25 interleaved rounds the
  // column split measured 117 GFLOP/s against 104 with a shared B (NumPy 115).
  // "Enough" and "few" are 4 panels per thread (derived, not tuned): claims
  // then start at 2 panels (kGemmClaimDivisor) and end at 1, so the threads
  // finish within one panel, at most a quarter of each one's share.
  GemmSchedule schedule = GemmSchedule::kRowChunksSharedB;
  if (threads > 1 && n_panels >= 4 * threads && (m_panels < 4 * threads || !p.pack_a))
    schedule = GemmSchedule::kColumnChunks;
  // The largest column claim (the first) sizes the per-thread B buffers.
  const index_t first_claim = std::max<index_t>(1, n_panels / (kGemmClaimDivisor * threads));
  const index_t slice_n =
      schedule == GemmSchedule::kColumnChunks ? std::min(N, first_claim * NR) : N;
  const GemmBlocks<Kern> bl(M, slice_n, K, sizeof(T));
  if (schedule != GemmSchedule::kColumnChunks && N <= kGemmUnpackedMaxN && bl.one_pass(N, K))
    schedule = GemmSchedule::kRowChunksOwnB;

  // B buffers (one shared, or one per thread) and an A block per thread,
  // each starting on a cache line.
  const bool shared_b = schedule == GemmSchedule::kRowChunksSharedB;
  const index_t b_stride = round_up(bl.b_elems(slice_n), 64 / sizeof(T));
  const index_t a_stride = round_up(bl.a_elems(M), 64 / sizeof(T));
  const int b_slots = threads <= 1 || shared_b ? 1 : threads;
  T* work = static_cast<T*>(
      gemm_detail::workspace(sizeof(T) * (b_slots * b_stride + threads * a_stride)));
  T* const a_base = work + b_slots * b_stride;

  if (threads <= 1) return gemm_loops<Kern>(p, bl, work, a_base);

  // One set of counters per phase (B panel) of the shared-B schedule.
  const index_t phases = shared_b ? ceil_div(N, bl.nc) * ceil_div(K, bl.pack_depth()) : 1;
  std::unique_ptr<GemmHandOut[]> hand_out(new GemmHandOut[phases]);
#pragma omp parallel num_threads(threads)
  {
    const int t = gemm_detail::team_thread();
    T* const b_own = work + (shared_b ? 0 : t * b_stride);
    gemm_team_member<Kern>(schedule, p, bl, threads, hand_out.get(), work, b_own,
                           a_base + t * a_stride);
  }
}

// The entry point of every path: the main tile, or the narrow one for
// products with at most its NR columns.
template <class T>
void gemm(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa, const T* B,
          index_t rsb, index_t csb, T* C, index_t ldc) {
  using Narrow = GemmNarrowKernel<T>;
  if (Narrow::NR < GemmKernel<T>::NR && N <= Narrow::NR)
    return gemm_with_tile<Narrow>(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc);
  gemm_with_tile<GemmKernel<T>>(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc);
}
