// The blocked driver every packed bf16 path shares (amx, avx512-bf16 and
// their emulations): only the micro-kernel Kern differs. Included inside a
// bf16 arch namespace, after gemm_bf16_tiles.hpp.
//
//   pack all of B once into 32-column VNNI panels (rounding float32 inputs)
//   pack all of A once into MR-row panels
//   for each B panel q:                 (kpad x 32 bf16: 50 KiB at K = 784)
//     for each A panel p:               (MR x kpad, from L2)
//       micro-kernel: MR x 32 of C over the whole of K
//
// K is not blocked: the accumulators stay in registers (tiles) across all of
// K and C is written once, rounded to bf16 there if asked. A and B packed
// whole take (M + N) * K * 2 bytes (4 MiB at 1024^3), within L2 + L3.
// Threads pack B's panels, then A's, between two barriers, then claim (q, p)
// blocks in q-major order, so consecutive claims share a B panel.

constexpr index_t bf16_ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

// Work per thread (multiply-adds) below which a second thread costs more
// than it saves: the float32 GEMM's 2^18 times 4, as a bf16 multiply-add
// costs about a quarter of a float32 one on AMX.
constexpr double kBf16MacsPerThread = 1 << 20;

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

  const auto pack_b = [&](index_t q) {
    const index_t j = q * NR, cols = std::min(NR, N - j);
    bf16_t* dst = b_packed + q * b_panel;
    if (B.is_f32)
      bf16_pack_b_panel(cols, K, kpad, static_cast<const float*>(B.data) + j * B.cs, B.rs, B.cs,
                        dst);
    else
      bf16_pack_b_panel(cols, K, kpad, static_cast<const bf16_t*>(B.data) + j * B.cs, B.rs,
                        B.cs, dst);
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
  const auto multiply = [&](Kern& kern, index_t block) {
    const index_t q = block / m_panels, p = block % m_panels;
    const index_t i = p * MR, j = q * NR;
    kern.block(std::min(MR, M - i), std::min(NR, N - j), kpad, a_packed + p * a_panel,
               b_packed + q * b_panel, C, i, j);
  };
  const index_t blocks = m_panels * n_panels;

  const double macs = static_cast<double>(M) * N * K;
  const int threads = static_cast<int>(std::min<index_t>(threads_for(macs, kBf16MacsPerThread), blocks));
  if (threads <= 1) {
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
