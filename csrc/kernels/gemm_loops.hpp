// The BLIS/GotoBLAS GEMM loops: five loops around a micro-kernel. How a
// team of threads shares them is in gemm.hpp.
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
// micro-kernel takes its row count (1..MR) and column count (1..NR), so edge
// tiles touch only their own rows and columns (lane masks), and nothing
// outside A, B or C is ever read or written.
// Included inside an arch namespace, after gemm_kernels.hpp.

constexpr index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
constexpr index_t round_up(index_t a, index_t b) { return ceil_div(a, b) * b; }

// Rows [0, rows) x depth [0, kc) of a matrix X (X[i, k] at x[i * rsx +
// k * csx]) into R-row micro-panels: panel p holds X[p*R + r, k] at
// dst[p*R*kc + k*R + r], zero for rows past `rows`. A packs as itself (R =
// MR); B packs as B^T (R = NR: B's columns are the rows, rsx = csb, csx = rsb).
template <index_t R, class T>
void gemm_pack_panels(index_t rows, index_t kc, const T* x, index_t rsx, index_t csx, T* dst) {
  for (index_t i = 0; i < rows; i += R, dst += R * kc) {
    const index_t live = rows - i < R ? rows - i : R;
    const T* src = x + i * rsx;
    if (live == R && csx == 1) {  // R sequential streams (row-major A, transposed B)
      for (index_t k = 0; k < kc; ++k)
        for (index_t r = 0; r < R; ++r) dst[k * R + r] = src[r * rsx + k];
    } else if (live == R && rsx == 1) {  // R contiguous values per k (transposed A, row-major B)
      for (index_t k = 0; k < kc; ++k)
        for (index_t r = 0; r < R; ++r) dst[k * R + r] = src[r + k * csx];
    } else {
      for (index_t k = 0; k < kc; ++k)
        for (index_t r = 0; r < R; ++r) dst[k * R + r] = r < live ? src[r * rsx + k * csx] : T(0);
    }
  }
}

// Rows [0, mc) x depth [0, kc) of A into MR-row micro-panels.
template <index_t MR, class T>
void gemm_pack_a(index_t mc, index_t kc, const T* a, index_t rsa, index_t csa, T* dst) {
  gemm_pack_panels<MR>(mc, kc, a, rsa, csa, dst);
}

// Micro-panels [p_begin, p_end) of the depth-kc, width-nc panel of B: panel
// p holds B[k, p*NR + j] at dst[p*NR*kc + k*NR + j], zero for columns past nc.
template <index_t NR, class T>
void gemm_pack_b(index_t kc, index_t nc, index_t p_begin, index_t p_end, const T* b,
                 index_t rsb, index_t csb, T* dst) {
  const index_t j0 = p_begin * NR, j1 = nc < p_end * NR ? nc : p_end * NR;
  gemm_pack_panels<NR>(j1 - j0, kc, b + j0 * csb, csb, rsb, dst + j0 * kc);
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

// Packing all of K for a column panel at once makes one phase per panel
// instead of one per K block, and so fewer points where a thread waits for
// another (gemm.hpp), which matters when another process holds a
// core. Allowed while the packed panel stays well inside L3 (the MNIST
// shapes and 1024^2 f32 qualify).
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
// block that wastes a pass); the A block is sized for MC rows, or M if fewer.
template <class Kern>
struct GemmBlocks {
  index_t kc, nc, k_blocks_per_pack;
  GemmBlocks(index_t M, index_t N, index_t K, std::size_t elem_bytes)
      : kc(gemm_kc<Kern>(M, K, elem_bytes)),
        nc(round_up(ceil_div(N, ceil_div(N, Kern::NC)), Kern::NR)),
        k_blocks_per_pack(static_cast<std::size_t>(K) * nc * elem_bytes <= kGemmWholeKBytes
                              ? ceil_div(K, kc)
                              : 1) {}
  index_t pack_depth() const { return k_blocks_per_pack * kc; }
  // One packed B covers the whole product: a single column panel and all of
  // K, so B is packed once and never refilled.
  bool one_pass(index_t N, index_t K) const { return N <= nc && K <= pack_depth(); }
  index_t b_block_elems(index_t N) const { return kc * round_up(N < nc ? N : nc, Kern::NR); }
  index_t b_elems(index_t N) const { return k_blocks_per_pack * b_block_elems(N); }
  index_t a_elems(index_t M) const {
    return kc * round_up(M < Kern::MC ? M : Kern::MC, Kern::MR);
  }
};

// C rows [ic, ic + mc), columns [jc, jc + nc), from packed B (and packed A,
// or A itself when p.pack_a is false). The micro-kernel takes the row and
// column counts, so a short last row panel or a narrow last column panel
// costs only its own rows and is stored straight to C through lane masks.
template <class Kern, class T>
void gemm_macro_kernel(const GemmProblem<T>& p, index_t ic, index_t mc, index_t jc, index_t nc,
                       index_t pc, index_t kc, const T* a_packed, const T* b_packed) {
  constexpr index_t MR = Kern::MR, NR = Kern::NR;
  const bool accumulate = pc > 0;
  for (index_t jr = 0; jr < nc; jr += NR) {
    const T* b = b_packed + jr * kc;
    const index_t n_r = nc - jr < NR ? nc - jr : NR;
    for (index_t ir = 0; ir < mc; ir += MR) {
      const index_t m_r = mc - ir < MR ? mc - ir : MR;
      const T* a = a_packed + ir * kc;
      index_t rsa = 1, csa = MR;
      if (!p.pack_a) a = p.A + (ic + ir) * p.rsa + pc * p.csa, rsa = p.rsa, csa = p.csa;
      T* c = p.C + (ic + ir) * p.ldc + jc + jr;
      Kern::run(m_r, n_r, kc, a, rsa, csa, b, NR, c, p.ldc, accumulate);
    }
  }
}

// Packs micro-panels [p_begin, p_end) of the B panel at column jc (width
// nc) for the K blocks in [pp, pp_end): block by block, as gemm_multiply_rows
// reads them.
template <class Kern, class T>
void gemm_pack_b_panels(const GemmProblem<T>& p, const GemmBlocks<Kern>& bl, index_t jc,
                        index_t nc, index_t pp, index_t pp_end, index_t p_begin,
                        index_t p_end, T* b_packed) {
  const index_t block_elems = bl.b_block_elems(p.N);
  for (index_t pc = pp; pc < pp_end; pc += bl.kc) {
    const index_t kc = pp_end - pc < bl.kc ? pp_end - pc : bl.kc;
    gemm_pack_b<Kern::NR>(kc, nc, p_begin, p_end, p.B + pc * p.rsb + jc * p.csb, p.rsb,
                          p.csb, b_packed + (pc - pp) / bl.kc * block_elems);
  }
}

// Rows [m_begin, m_end) of C's columns [jc, jc + nc), from the K blocks in
// [pp, pp_end) that gemm_pack_b_panels packed into b_packed.
template <class Kern, class T>
void gemm_multiply_rows(const GemmProblem<T>& p, const GemmBlocks<Kern>& bl, index_t jc,
                        index_t nc, index_t pp, index_t pp_end, index_t m_begin,
                        index_t m_end, const T* b_packed, T* a_packed) {
  constexpr index_t MR = Kern::MR;
  const index_t rows = m_end - m_begin;
  if (rows <= 0) return;
  // Equal MC blocks, each a multiple of MR (512 rows -> 4 x 128, not 3 x 144 + 80).
  const index_t mc_even = round_up(ceil_div(rows, ceil_div(rows, Kern::MC)), MR);
  const index_t block_elems = bl.b_block_elems(p.N);
  for (index_t pc = pp; pc < pp_end; pc += bl.kc) {
    const index_t kc = pp_end - pc < bl.kc ? pp_end - pc : bl.kc;
    const T* b_block = b_packed + (pc - pp) / bl.kc * block_elems;
    for (index_t ic = m_begin; ic < m_end; ic += mc_even) {
      const index_t mc = m_end - ic < mc_even ? m_end - ic : mc_even;
      if (p.pack_a)
        gemm_pack_a<MR>(mc, kc, p.A + ic * p.rsa + pc * p.csa, p.rsa, p.csa, a_packed);
      gemm_macro_kernel<Kern>(p, ic, mc, jc, nc, pc, kc, a_packed, b_block);
    }
  }
}

// The whole product on one thread: each B panel packed, then every row
// multiplied against it.
template <class Kern, class T>
void gemm_loops(const GemmProblem<T>& p, const GemmBlocks<Kern>& bl, T* b_packed, T* a_packed) {
  const index_t pack_depth = bl.pack_depth();
  for (index_t jc = 0; jc < p.N; jc += bl.nc) {
    const index_t nc = p.N - jc < bl.nc ? p.N - jc : bl.nc;
    for (index_t pp = 0; pp < p.K; pp += pack_depth) {
      const index_t pp_end = p.K - pp < pack_depth ? p.K : pp + pack_depth;
      gemm_pack_b_panels(p, bl, jc, nc, pp, pp_end, 0, ceil_div(nc, Kern::NR), b_packed);
      gemm_multiply_rows(p, bl, jc, nc, pp, pp_end, 0, p.M, b_packed, a_packed);
    }
  }
}
