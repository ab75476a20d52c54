// The GEMM entry point: picks the serial textbook loop, the serial blocked
// loops, or a way for a team of threads to share the blocked loops.
// Included inside an arch namespace, after gemm_blocked.hpp.
//
// On a machine shared with other processes a thread can start late or lose
// its core for a while. With a fixed split the whole call then waits for
// that thread, so every schedule that allows it hands work out in chunks
// that the threads claim from a counter: a slowed thread does fewer chunks
// and the others do more. Only products that need B refilled several times
// (several column panels or K passes) keep the fixed row split with a
// barrier per refill.

// Below this many multiply-adds the textbook loop beats packing.
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

// First row of thread t's share when `team` threads split M rows: whole MR
// panels (784 rows: 390 + 394). Equal shares (392 + 392) leave a 2-row
// panel in each thread's last MC block and measured slower on a.T@b
// 784x128x512 (targets.py ratio medians 0.93 vs 1.02 over 5 pairs).
template <index_t MR>
index_t gemm_row_split(index_t M, int t, int team) {
  return std::min(M, ceil_div(M, MR) * t / team * MR);
}

// How a team shares one product.
enum class GemmSchedule {
  // Chunks of whole column micro-panels; each chunk packs its own slice of
  // B and multiplies all rows of an A read in place. No packed data crosses
  // cores and nothing waits. For few rows, or an A that fits in L2 (the
  // MNIST forward product).
  kColumnChunks,
  // The team packs B once, in chunks; each thread then waits for the last
  // chunk to be packed and claims chunks of rows (a.T @ b, 1024^2).
  kRowChunksSharedB,
  // B is tiny (N <= kGemmUnpackedMaxN): each thread packs its own copy, then
  // claims chunks of rows and never waits for the other.
  kRowChunksOwnB,
  // B refilled several times: fixed row split, the team packs each B panel
  // together between barriers (2048^2 f32, 1024^2 f64).
  kRowSplitSharedB,
};

// The counters threads claim work from; one set per call. Units are micro-
// panels: of B's columns (NR wide) or of C's rows (MR tall).
struct GemmHandOut {
  std::atomic<index_t> next_b_panel{0};
  std::atomic<index_t> b_panels_packed{0};
  std::atomic<index_t> next_row_panel{0};
};

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

// One thread's part of a product under a hand-out schedule. `b_own` is this
// thread's B buffer, `b_shared` the team's (kRowChunksSharedB). Claims are
// sized for the `threads` the buffers were sized for, even if the team that
// OpenMP gave is smaller (OMP_THREAD_LIMIT).
template <class Kern, class T>
void gemm_team_member(GemmSchedule schedule, const GemmProblem<T>& p, const GemmBlocks<Kern>& bl,
                      int threads, GemmHandOut& work, T* b_shared, T* b_own, T* a_slot) {
  constexpr index_t MR = Kern::MR, NR = Kern::NR;
  const int team = threads;
  const index_t b_panels = ceil_div(p.N, NR), row_panels = ceil_div(p.M, MR);
  index_t begin, end;
  if (schedule == GemmSchedule::kColumnChunks) {
    while (gemm_claim(work.next_b_panel, b_panels, team, begin, end)) {
      const index_t j0 = begin * NR, j1 = std::min(p.N, end * NR);
      GemmProblem<T> slice = p;
      slice.N = j1 - j0, slice.B = p.B + j0 * p.csb, slice.C = p.C + j0;
      gemm_loops<Kern>(slice, bl, 0, p.M, 0, 1, b_own, a_slot);
    }
    return;
  }
  // Row chunks over one packed B covering all of K and N.
  const T* b_packed = b_own;
  if (schedule == GemmSchedule::kRowChunksOwnB) {
    gemm_pack_b_panels(p, bl, 0, p.N, 0, p.K, 0, b_panels, b_own);
  } else {
    while (gemm_claim(work.next_b_panel, b_panels, team, begin, end)) {
      gemm_pack_b_panels(p, bl, 0, p.N, 0, p.K, begin, end, b_shared);
      work.b_panels_packed.fetch_add(end - begin, std::memory_order_release);
    }
    // Wait only for panels another thread is packing right now.
    while (work.b_panels_packed.load(std::memory_order_acquire) < b_panels)
      gemm_detail::spin_pause();
    b_packed = b_shared;
  }
  while (gemm_claim(work.next_row_panel, row_panels, team, begin, end))
    gemm_multiply_rows(p, bl, 0, p.N, 0, p.K, begin * MR, std::min(p.M, end * MR), b_packed,
                       a_slot);
}

template <class Kern, class T>
void gemm_blocked(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa,
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

  // Rows of A read in place (csa == 1) instead of packed: always for skinny
  // N, and when all of A fits in L2 for one K pass (then it stays cached
  // and packing it is pure overhead: +4 % on the MNIST forward product).
  const bool a_in_l2 = static_cast<std::size_t>(M) * K * sizeof(T) <= kGemmOneKBlockABytes;
  const GemmProblem<T> p{M, N, K, A, rsa, csa, B, rsb, csb, C, ldc,
                         !(csa == 1 && (N <= kGemmUnpackedMaxN || a_in_l2))};
  const int threads = threads_for(macs, kGemmMacsPerThread);
  const index_t m_panels = ceil_div(M, MR), n_panels = ceil_div(N, NR);

  // Columns when there are few rows or A is read in place, and enough
  // column panels: on 128x784x512 f32, 2 threads, 25 interleaved rounds the
  // column split measured 117 GFLOP/s against 104 with a shared B (NumPy 115).
  GemmSchedule schedule = GemmSchedule::kRowSplitSharedB;
  if (threads > 1 && n_panels >= 4 * threads && (m_panels < 4 * threads || !p.pack_a))
    schedule = GemmSchedule::kColumnChunks;
  // The largest column claim (the first) sizes the per-thread B buffers.
  const index_t first_claim = std::max<index_t>(1, n_panels / (kGemmClaimDivisor * threads));
  const index_t slice_n =
      schedule == GemmSchedule::kColumnChunks ? std::min(N, first_claim * NR) : N;
  const GemmBlocks<Kern> bl(M, slice_n, K, sizeof(T));
  if (schedule != GemmSchedule::kColumnChunks && bl.one_pass(N, K))
    schedule = N <= kGemmUnpackedMaxN ? GemmSchedule::kRowChunksOwnB
                                      : GemmSchedule::kRowChunksSharedB;

  // B buffers (one shared, or one per thread) and an A block per thread,
  // each starting on a cache line.
  const bool shared_b = schedule == GemmSchedule::kRowChunksSharedB ||
                        schedule == GemmSchedule::kRowSplitSharedB;
  const index_t b_stride = round_up(bl.b_elems(slice_n), 64 / sizeof(T));
  const index_t a_stride = round_up(bl.a_elems(M), 64 / sizeof(T));
  const int b_slots = threads <= 1 || shared_b ? 1 : threads;
  T* work = static_cast<T*>(
      gemm_detail::workspace(sizeof(T) * (b_slots * b_stride + threads * a_stride)));
  T* const a_base = work + b_slots * b_stride;

  if (threads <= 1) return gemm_loops<Kern>(p, bl, 0, M, 0, 1, work, a_base);

  GemmHandOut hand_out;
#pragma omp parallel num_threads(threads)
  {
    // A smaller team than asked for (OMP_THREAD_LIMIT) still covers every
    // chunk; the fixed split divides by the team it got.
    const int t = gemm_detail::team_thread(), team = gemm_detail::team_size();
    T* const a_slot = a_base + t * a_stride;
    if (schedule == GemmSchedule::kRowSplitSharedB) {
      gemm_loops<Kern>(p, bl, gemm_row_split<MR>(M, t, team), gemm_row_split<MR>(M, t + 1, team),
                       t, team, work, a_slot);
    } else {
      T* const b_own = work + (shared_b ? 0 : t * b_stride);
      gemm_team_member<Kern>(schedule, p, bl, threads, hand_out, work, b_own, a_slot);
    }
  }
}
