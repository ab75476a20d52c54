// The BLIS/GotoBLAS GEMM driver: five loops around a micro-kernel.
//
// Sizes: A is (M, K), B is (K, N), C is (M, N); strides as in
// gemm_naive.hpp (elements, any sign; C row-major, overwritten: C = A @ B).
//
//   for jc in N by NC:              B panel (KC x NC) -> L3
//     for pc in K by KC:            pack B panel (cooperatively)
//       for ic in my rows by MC:    pack A block (MC x KC) -> L2
//         for jr in NC by NR:       B micro-panel (KC x NR) -> L1
//           for ir in MC by MR:     micro-kernel: MR x NR tile of C
//
// Packing absorbs every stride and transpose, zero-pads the last micro-panel
// of each block to MR / NR, and leaves the micro-kernel one layout. The
// micro-kernel takes its row count (1..MR), so short row panels touch only
// their rows; narrow column edges are computed into a small local tile and
// only their valid part is copied to C, so nothing outside A, B or C is
// ever read or written.
// Included inside an arch namespace, after gemm_kernels.hpp.
constexpr index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
constexpr index_t round_up(index_t a, index_t b) { return ceil_div(a, b) * b; }

// Rows [0, mc) x depth [0, kc) of A into MR-row micro-panels: panel p holds
// A[p*MR + r, k] at dst[p*MR*kc + k*MR + r], zero for rows past mc.
template <index_t MR, class T>
void gemm_pack_a(index_t mc, index_t kc, const T* a, index_t rsa, index_t csa, T* dst) {
  for (index_t i = 0; i < mc; i += MR, dst += MR * kc) {
    const index_t rows = mc - i < MR ? mc - i : MR;
    const T* src = a + i * rsa;
    if (rows == MR && csa == 1) {  // row-major A: MR sequential streams
      for (index_t k = 0; k < kc; ++k)
        for (index_t r = 0; r < MR; ++r) dst[k * MR + r] = src[r * rsa + k];
    } else if (rows == MR && rsa == 1) {  // transposed A: MR contiguous values per k
      for (index_t k = 0; k < kc; ++k)
        for (index_t r = 0; r < MR; ++r) dst[k * MR + r] = src[r + k * csa];
    } else {
      for (index_t k = 0; k < kc; ++k)
        for (index_t r = 0; r < MR; ++r)
          dst[k * MR + r] = r < rows ? src[r * rsa + k * csa] : T(0);
    }
  }
}

// Micro-panels [p_begin, p_end) of the depth-kc, width-nc panel of B: panel
// p holds B[k, p*NR + j] at dst[p*NR*kc + k*NR + j], zero for columns past nc.
template <index_t NR, class T>
void gemm_pack_b(index_t kc, index_t nc, index_t p_begin, index_t p_end, const T* b,
                 index_t rsb, index_t csb, T* dst) {
  for (index_t p = p_begin; p < p_end; ++p) {
    const index_t j0 = p * NR, cols = nc - j0 < NR ? nc - j0 : NR;
    const T* src = b + j0 * csb;
    T* out = dst + p * NR * kc;
    if (cols == NR && csb == 1) {  // row-major B: NR contiguous values per k
      for (index_t k = 0; k < kc; ++k)
        for (index_t j = 0; j < NR; ++j) out[k * NR + j] = src[k * rsb + j];
    } else if (cols == NR && rsb == 1) {  // transposed B: NR sequential streams
      for (index_t k = 0; k < kc; ++k)
        for (index_t j = 0; j < NR; ++j) out[k * NR + j] = src[k + j * csb];
    } else {
      for (index_t k = 0; k < kc; ++k)
        for (index_t j = 0; j < NR; ++j)
          out[k * NR + j] = j < cols ? src[k * rsb + j * csb] : T(0);
    }
  }
}

// One problem (or one thread's slice of it) as the loops see it.
template <class T>
struct GemmProblem {
  index_t M, N, K;
  const T* A;
  index_t rsa, csa;
  const T* B;
  index_t rsb, csb;
  T* C;
  index_t ldc;
  bool pack_a;  // false: the micro-kernel reads rows of A in place
};

// Packing all of K for a column panel at once costs one barrier per panel
// instead of two per K block, which matters when another process holds a
// core and every barrier can wait for a time slice. Allowed while the packed
// panel stays well inside L3 (the MNIST shapes and 1024^2 f32 qualify).
constexpr index_t kGemmWholeKBytes = 4 << 20;

// A product whose whole A fits in L2 needs no K blocking at all: one pass
// writes each C tile once instead of reading and rewriting it per K block,
// while the deeper B micro-panel (up to 64 KiB) streams from L2 at a rate
// the FMAs can absorb. Measured +3-6 % on the MNIST forward product.
constexpr std::size_t kGemmOneKBlockABytes = 512 << 10;
constexpr std::size_t kGemmOneKBlockBPanelBytes = 64 << 10;

template <class Kern>
inline index_t gemm_kc(index_t M, index_t K, std::size_t elem_bytes) {
  const bool one_block =
      static_cast<std::size_t>(M) * K * elem_bytes <= kGemmOneKBlockABytes &&
      static_cast<std::size_t>(K) * Kern::NR * elem_bytes <= kGemmOneKBlockBPanelBytes;
  return one_block ? K : ceil_div(K, ceil_div(K, Kern::KC));
}

// Block sizes for one call: K and N cut into equal blocks (no thin last
// block that wastes a pass), MC capped by the rows a thread owns.
template <class Kern>
struct GemmBlocks {
  index_t kc, nc, k_blocks_per_pack;
  GemmBlocks(index_t M, index_t N, index_t K, std::size_t elem_bytes)
      : kc(gemm_kc<Kern>(M, K, elem_bytes)),
        nc(round_up(ceil_div(N, ceil_div(N, Kern::NC)), Kern::NR)),
        k_blocks_per_pack(static_cast<std::size_t>(K) * nc * elem_bytes <= kGemmWholeKBytes
                              ? ceil_div(K, kc)
                              : 1) {}
  index_t b_block_elems(index_t N) const { return kc * round_up(N < nc ? N : nc, Kern::NR); }
  index_t b_elems(index_t N) const { return k_blocks_per_pack * b_block_elems(N); }
  index_t a_elems(index_t M) const {
    return kc * round_up(M < Kern::MC ? M : Kern::MC, Kern::MR);
  }
};

// C rows [ic, ic + mc), columns [jc, jc + nc), from packed B (and packed A,
// or A itself when p.pack_a is false). The micro-kernel takes the row count,
// so a short last row panel costs only its own rows and, at full width, is
// stored straight to C; only a narrow last column panel goes through `tile`.
template <class Kern, class T>
void gemm_macro_kernel(const GemmProblem<T>& p, index_t ic, index_t mc, index_t jc, index_t nc,
                       index_t pc, index_t kc, const T* a_packed, const T* b_packed) {
  constexpr index_t MR = Kern::MR, NR = Kern::NR;
  const bool accumulate = pc > 0;
  alignas(64) T tile[MR * NR];
  for (index_t jr = 0; jr < nc; jr += NR) {
    const T* b = b_packed + jr * kc;
    const index_t n_r = nc - jr < NR ? nc - jr : NR;
    for (index_t ir = 0; ir < mc; ir += MR) {
      const index_t m_r = mc - ir < MR ? mc - ir : MR;
      const T* a = a_packed + ir * kc;
      index_t rsa = 1, csa = MR;
      if (!p.pack_a) a = p.A + (ic + ir) * p.rsa + pc * p.csa, rsa = p.rsa, csa = p.csa;
      T* c = p.C + (ic + ir) * p.ldc + jc + jr;
      if (n_r == NR) {
        Kern::run(m_r, kc, a, rsa, csa, b, c, p.ldc, accumulate);
        continue;
      }
      Kern::run(m_r, kc, a, rsa, csa, b, tile, NR, false);
      for (index_t r = 0; r < m_r; ++r)
        for (index_t j = 0; j < n_r; ++j)
          c[r * p.ldc + j] = accumulate ? c[r * p.ldc + j] + tile[r * NR + j] : tile[r * NR + j];
    }
  }
}

// The loops for rows [m_begin, m_end) of C, run by thread `tid` of a team of
// `team` threads that share `b_packed`: the team packs B together (all of K
// at once when it fits, see kGemmWholeKBytes), waits, multiplies its own
// rows, and waits again before the buffer is refilled.
// With team == 1 there are no barriers and this is the whole serial GEMM.
template <class Kern, class T>
void gemm_loops(const GemmProblem<T>& p, const GemmBlocks<Kern>& bl, index_t m_begin,
                index_t m_end, int tid, int team, T* b_packed, T* a_packed) {
  constexpr index_t MR = Kern::MR, NR = Kern::NR;
  const index_t rows = m_end - m_begin;
  // Equal MC blocks, each a multiple of MR (512 rows -> 4 x 128, not 3 x 144 + 80).
  const index_t mc_even =
      rows > 0 ? round_up(ceil_div(rows, ceil_div(rows, Kern::MC)), MR) : MR;
  const index_t pack_depth = bl.k_blocks_per_pack * bl.kc;
  const index_t block_elems = bl.b_block_elems(p.N);
  for (index_t jc = 0; jc < p.N; jc += bl.nc) {
    const index_t nc = p.N - jc < bl.nc ? p.N - jc : bl.nc;
    const index_t panels = ceil_div(nc, NR);
    for (index_t pp = 0; pp < p.K; pp += pack_depth) {
      const index_t pp_end = p.K - pp < pack_depth ? p.K : pp + pack_depth;
      for (index_t pc = pp; pc < pp_end; pc += bl.kc) {
        const index_t kc = pp_end - pc < bl.kc ? pp_end - pc : bl.kc;
        gemm_pack_b<NR>(kc, nc, panels * tid / team, panels * (tid + 1) / team,
                        p.B + pc * p.rsb + jc * p.csb, p.rsb, p.csb,
                        b_packed + (pc - pp) / bl.kc * block_elems);
      }
      gemm_detail::team_barrier(team);
      for (index_t pc = pp; pc < pp_end; pc += bl.kc) {
        const index_t kc = pp_end - pc < bl.kc ? pp_end - pc : bl.kc;
        const T* b_block = b_packed + (pc - pp) / bl.kc * block_elems;
        for (index_t ic = m_begin; ic < m_end; ic += mc_even) {
          const index_t mc = m_end - ic < mc_even ? m_end - ic : mc_even;
          if (p.pack_a) gemm_pack_a<MR>(mc, kc, p.A + ic * p.rsa + pc * p.csa, p.rsa, p.csa,
                                        a_packed);
          gemm_macro_kernel<Kern>(p, ic, mc, jc, nc, pc, kc, a_packed, b_block);
        }
      }
      // The end of the parallel region waits after the last pass.
      if (pp_end < p.K || jc + nc < p.N) gemm_detail::team_barrier(team);
    }
  }
}

// First row of thread t's share when `team` threads split M rows: whole MR
// panels (784 rows: 390 + 394). Equal shares (392 + 392) leave a 2-row
// panel in each thread's last MC block and measured slower on a.T@b
// 784x128x512 (targets.py ratio medians 0.93 vs 1.02 over 5 pairs).
template <index_t MR>
index_t gemm_row_split(index_t M, int t, int team) {
  return std::min(M, ceil_div(M, MR) * t / team * MR);
}

// Below this many multiply-adds the textbook loop beats packing.
constexpr double kGemmTinyMacs = 4096;
// Work per thread (multiply-adds) below which a second thread does not pay
// for waking it (~5 us). Measured on the MNIST shapes.
constexpr double kGemmMacsPerThread = 1 << 18;
// N up to this: packing A would cost as much as the product itself (each A
// element is used only N times), so the micro-kernel reads rows of A in place.
constexpr index_t kGemmUnpackedMaxN = 32;

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
  // How the threads share the work:
  //   split_n: few rows, or an A read in place that fits in L2 (the MNIST
  //            forward product), and many columns. Each thread owns a slice
  //            of whole column micro-panels and runs the serial loops on it,
  //            packing its own B: no barrier and no packed B crossing cores.
  //            On 128x784x512 f32, 2 threads, 25 interleaved rounds: median
  //            117 GFLOP/s vs 104 with the shared-B row split (NumPy 115).
  //   split_m, shared B: rows split in whole panels (784 rows: 390 + 394); the
  //            team packs one B panel together, so B is read once.
  //   split_m, own B (N <= kGemmUnpackedMaxN): B is tiny, each thread packs
  //            its own copy and never waits for the other.
  const bool split_n =
      threads > 1 && n_panels >= 4 * threads && (m_panels < 4 * threads || !p.pack_a);
  const bool shared_b = threads > 1 && !split_n && N > kGemmUnpackedMaxN;
  const index_t slice_n = split_n ? std::min(N, ceil_div(n_panels, threads) * NR) : N;
  const GemmBlocks<Kern> bl(M, slice_n, K, sizeof(T));

  // Per thread: a B panel and an A block, each starting on a cache line.
  const index_t b_stride = round_up(bl.b_elems(slice_n), 64 / sizeof(T));
  const index_t a_stride = round_up(bl.a_elems(M), 64 / sizeof(T));
  const int slots = shared_b ? 1 : threads;
  T* work = static_cast<T*>(
      gemm_detail::workspace(sizeof(T) * (slots * b_stride + threads * a_stride)));
  T* const a_base = work + slots * b_stride;

  if (threads <= 1) return gemm_loops<Kern>(p, bl, 0, M, 0, 1, work, a_base);

#pragma omp parallel num_threads(threads)
  {
    const int t = gemm_detail::team_thread(), team = gemm_detail::team_size();
    T* const a_slot = a_base + t * a_stride;
    if (shared_b) {
      const index_t i0 = gemm_row_split<MR>(M, t, team), i1 = gemm_row_split<MR>(M, t + 1, team);
      gemm_loops<Kern>(p, bl, i0, i1, t, team, work, a_slot);
    } else {
      // Slices were sized for `threads`; a smaller team (OMP_THREAD_LIMIT)
      // takes several each.
      for (int s = t; s < threads; s += team) {
        GemmProblem<T> slice = p;
        index_t i0 = 0, i1 = M;
        if (split_n) {
          const index_t j0 = std::min(N, n_panels * s / threads * NR);
          const index_t j1 = std::min(N, n_panels * (s + 1) / threads * NR);
          slice.N = j1 - j0, slice.B = B + j0 * csb, slice.C = C + j0;
        } else {
          i0 = gemm_row_split<MR>(M, s, threads),
          i1 = gemm_row_split<MR>(M, s + 1, threads);
        }
        if (i0 < i1 && slice.N > 0)
          gemm_loops<Kern>(slice, bl, i0, i1, 0, 1, work + t * b_stride, a_slot);
      }
    }
  }
}
