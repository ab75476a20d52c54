// The blocked driver every packed bf16 path shares (amx, avx512-bf16 and
// their emulations): only the micro-kernel Kern differs. Included inside a
// bf16 arch namespace, after gemm_bf16_tiles.hpp.
//
//   pack all of B once into 32-column VNNI panels (rounding float32 inputs)
//   pack all of A once into MR-row panels
//   for each group of A panels:         (512 KiB, kept in L2)
//     for each B panel q:               (kpad x 32 bf16: 50 KiB at K = 784)
//       for each A panel p of the group: (MR x kpad, from L2)
//         micro-kernel: MR x 32 of C over the whole of K
//
// K is not blocked: the accumulators stay in registers (tiles) across all of
// K and C is written once, rounded to bf16 there if asked. A and B packed
// whole take (M + N) * K * 2 bytes (4 MiB at 1024^3), within L2 + L3.
// Threads pack B's panels, then A's, between two barriers, then claim blocks
// in that order, so consecutive claims share a B panel.

constexpr index_t bf16_ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

// Work per thread (multiply-adds) below which a second thread costs more
// than it saves: the float32 GEMM's 2^18 times 4, as a bf16 multiply-add
// costs about a quarter of a float32 one on AMX.
constexpr double kBf16MacsPerThread = 1 << 20;

// 512 KiB of packed A per group: a quarter of a 2 MiB L2 (Sapphire and
// Emerald Rapids), leaving room for the B panel streaming past and C. With
// A streamed from L3 for every B panel instead, 1024^3 ran at 890 GFLOP/s.
constexpr std::size_t kBf16AGroupBytes = 512 << 10;

template <class Kern>
void bf16_gemm_blocked(index_t M, index_t N, index_t K, const Bf16Operand& A,
                       const Bf16Operand& B, const Bf16Result& C) {
  constexpr index_t MR = Kern::MR, NR = kBf16PanelCols;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (index_t i = 0; i < M; ++i)
      for (index_t j = 0; j < N; ++j) C.f32 ? void(C.f32[i * C.ldc + j] = 0.0f)
                                            : void(C.bf16[i * C.ldc + j] = 0);
    return;
  }
  const index_t kpad = bf16_ceil_div(K, Kern::KSTEP) * Kern::KSTEP;
  const index_t m_panels = bf16_ceil_div(M, MR), n_panels = bf16_ceil_div(N, NR);
  const index_t a_panel = MR * kpad, b_panel = NR * kpad;
  bf16_t* const b_packed = static_cast<bf16_t*>(gemm_detail::workspace(
      sizeof(bf16_t) * static_cast<std::size_t>(a_panel * m_panels + b_panel * n_panels)));
  bf16_t* const a_packed = b_packed + b_panel * n_panels;

  // Row-major B on a native path: the whole pair rows of all full panels
  // first, row pair by row pair (bf16_pack_b_pair_rows_avx512), then each
  // panel's odd row and padding. Threads split the pair rows.
  const index_t full_panels = DENSEOPS_BF16_NATIVE && B.cs == 1 ? N / NR : 0;
  const index_t pair_rows = full_panels ? K / 2 : 0;
  const auto pack_b_pairs = [&](index_t t0, index_t t1) {
#if DENSEOPS_BF16_NATIVE
    if (B.is_f32)
      bf16_pack_b_pair_rows_avx512(t0, t1, full_panels, static_cast<const float*>(B.data), B.rs,
                                   b_panel, b_packed);
    else
      bf16_pack_b_pair_rows_avx512(t0, t1, full_panels, static_cast<const bf16_t*>(B.data),
                                   B.rs, b_panel, b_packed);
#else
    (void)t0, (void)t1;
#endif
  };
  const auto pack_b = [&](index_t q) {
    const index_t j = q * NR, cols = std::min(NR, N - j);
    bf16_t* dst = b_packed + q * b_panel;
    const bool pairs_done = q < full_panels;
    if (B.is_f32)
      bf16_pack_b_panel(cols, K, kpad, static_cast<const float*>(B.data) + j * B.cs, B.rs, B.cs,
                        dst, pairs_done);
    else
      bf16_pack_b_panel(cols, K, kpad, static_cast<const bf16_t*>(B.data) + j * B.cs, B.rs,
                        B.cs, dst, pairs_done);
  };
  const auto pack_a = [&](index_t p) {
    const index_t i = p * MR, rows = std::min(MR, M - i);
    bf16_t* dst = a_packed + p * a_panel;
    if (A.is_f32)
      bf16_pack_a_panel(rows, MR, K, kpad, static_cast<const float*>(A.data) + i * A.rs, A.rs,
                        A.cs, dst);
    else
      bf16_pack_a_panel(rows, MR, K, kpad, static_cast<const bf16_t*>(A.data) + i * A.rs, A.rs,
                        A.cs, dst);
  };
  // Blocks in groups of A panels that stay in L2 together (kBf16AGroupBytes):
  // group by group, and within a group B panel by B panel, so each B panel
  // streams in once per group and is reused by every A panel of the group.
  const index_t group = std::max<index_t>(
      1, static_cast<index_t>(kBf16AGroupBytes / (sizeof(bf16_t) * a_panel)));
  const auto multiply = [&](Kern& kern, index_t block) {
    const index_t per_group = group * n_panels, g = block / per_group, r = block % per_group;
    const index_t rows_in_group = std::min(group, m_panels - g * group);
    const index_t q = r / rows_in_group, p = g * group + r % rows_in_group;
    const index_t i = p * MR, j = q * NR;
    kern.block(std::min(MR, M - i), std::min(NR, N - j), kpad, a_packed + p * a_panel,
               b_packed + q * b_panel, C, i, j);
  };
  const index_t blocks = m_panels * n_panels;

  const double macs = static_cast<double>(M) * N * K;
  const int threads = static_cast<int>(std::min<index_t>(threads_for(macs, kBf16MacsPerThread), blocks));
  if (threads <= 1) {
    pack_b_pairs(0, pair_rows);
    for (index_t q = 0; q < n_panels; ++q) pack_b(q);
    for (index_t p = 0; p < m_panels; ++p) pack_a(p);
    Kern kern;
    kern.begin();
    for (index_t b = 0; b < blocks; ++b) multiply(kern, b);
    kern.end();
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    // Chunks of 16 pair rows (32 rows of B), then the panels' tails: the two
    // write different pair rows, so neither waits for the other.
    constexpr index_t kPairChunk = 16;
#pragma omp for schedule(static) nowait
    for (index_t t = 0; t < pair_rows; t += kPairChunk)
      pack_b_pairs(t, std::min(pair_rows, t + kPairChunk));
#pragma omp for schedule(static) nowait
    for (index_t q = 0; q < n_panels; ++q) pack_b(q);
#pragma omp for schedule(static)
    for (index_t p = 0; p < m_panels; ++p) pack_a(p);
    Kern kern;
    kern.begin();
#pragma omp for schedule(dynamic, 1)
    for (index_t b = 0; b < blocks; ++b) multiply(kern, b);
    kern.end();
  }
}
