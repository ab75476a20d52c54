// The blocked driver every packed bf16 path shares (amx, avx512-bf16 and
// their emulations): only the micro-kernel Kern differs. Included inside a
// bf16 arch namespace, after gemm_bf16_tiles.hpp.
//
//   each panel of B and A packed once, when first needed: B into 32-column
//   VNNI panels, A into MR-row panels (float32 inputs rounded on the way)
//   for each group of A panels:         (512 KiB, kept in L2)
//     for each B panel q:               (kpad x 32 bf16: 50 KiB at K = 784)
//       for each A panel p of the group: (MR x kpad, from L2)
//         micro-kernel: MR x 32 of C over the whole of K
//
// K is not blocked: the accumulators stay in registers (tiles) across all of
// K and C is written once, rounded to bf16 there if asked. A and B packed
// whole take (M + N) * K * 2 bytes (4 MiB at 1024^3), within L2 + L3.
// Threads claim strips (a group of A panels times one B panel) one at a time
// in that order and pack the panels a strip needs on first use (bf16_packed).

constexpr index_t bf16_ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

// Work per thread (multiply-adds) below which a second thread costs more
// than it saves: the float32 GEMM's 2^18 times 4, as AMX runs bf16 products
// about 4x as fast as the AVX-512 float32 tile (~1000 against ~230 GFLOP/s
// on one core of the Xeon measured).
constexpr double kBf16MacsPerThread = 1 << 20;

// B panels packed together by a team of threads: 8 x 32 columns, so each row
// of a row-major B is read 512 bytes at a time (64-byte pieces, panel by
// panel, ran at a third of the speed of whole rows: the prefetchers follow
// them poorly), and the team shares the packing of a B of 512 columns.
constexpr index_t kBf16SlabPanels = 8;

constexpr int kBf16Unpacked = 0, kBf16Packing = 1, kBf16Packed = 2;

// Runs pack() if `state` is unpacked and no other thread has started it;
// returns once the panel is packed, by this thread or another. A wait spins,
// then yields, then sleeps, as gemm_wait_for does for the float32 GEMM.
template <class Pack>
void bf16_packed(std::atomic<int>& state, Pack&& pack) {
  if (state.load(std::memory_order_acquire) == kBf16Packed) return;
  int expected = kBf16Unpacked;
  if (state.compare_exchange_strong(expected, kBf16Packing, std::memory_order_acq_rel)) {
    pack();
    state.store(kBf16Packed, std::memory_order_release);
    return;
  }
  for (int round = 0; state.load(std::memory_order_acquire) != kBf16Packed; ++round) {
    if (round < 4096)
      gemm_detail::spin_pause();
    else if (round < 4096 + 256)
      gemm_detail::yield_core();
    else
      gemm_detail::sleep_briefly();
  }
}

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

  // Work in strips: a group of A panels that stay in L2 together
  // (kBf16AGroupBytes) times one B panel, group by group, so each B panel
  // streams in once per group and passes every A panel of the group.
  // Tried and not kept: K in chunks of 256-1024 so that a chunk of the B
  // panel stays in L1 while the group's A panels pass it, the partial sums
  // waiting in a scratch: no faster at 1024^3 or 256 x 2048 x 256, and 7 %
  // slower on 128 x 784 x 512 (AMX, one thread).
  const index_t group = std::max<index_t>(
      1, static_cast<index_t>(kBf16AGroupBytes / (sizeof(bf16_t) * a_panel)));
  const index_t groups = bf16_ceil_div(m_panels, group), strips = groups * n_panels;
  const double macs = static_cast<double>(M) * N * K;
  const int threads =
      static_cast<int>(std::min<index_t>(threads_for(macs, kBf16MacsPerThread), strips));
  // B is packed in slabs of kBf16SlabPanels panels. Row-major B on a native
  // path: a slab's whole pair rows first, row pair by row pair across its
  // full panels (bf16_pack_b_pair_rows_avx512), then each panel's odd row
  // and padding.
  // One thread packs all of B as one slab: whole rows, read once, in order
  // (7 % faster on 128 x 784 x 512 than slabs of 8 panels).
  const index_t slab_panels = threads <= 1 ? n_panels : kBf16SlabPanels;
  const index_t slabs = bf16_ceil_div(n_panels, slab_panels);
  const auto pack_b_slab = [&](index_t s) {
    const index_t q0 = s * slab_panels, q1 = std::min(n_panels, q0 + slab_panels);
    const index_t full = DENSEOPS_BF16_NATIVE && B.cs == 1 ? std::min(q1, N / NR) - q0 : 0;
#if DENSEOPS_BF16_NATIVE
    if (full > 0 && B.is_f32)
      bf16_pack_b_pair_rows_avx512(0, K / 2, full, static_cast<const float*>(B.data) + q0 * NR,
                                   B.rs, b_panel, b_packed + q0 * b_panel);
    else if (full > 0)
      bf16_pack_b_pair_rows_avx512(0, K / 2, full, static_cast<const bf16_t*>(B.data) + q0 * NR,
                                   B.rs, b_panel, b_packed + q0 * b_panel);
#endif
    for (index_t q = q0; q < q1; ++q) {
      const index_t j = q * NR, cols = std::min(NR, N - j);
      bf16_t* dst = b_packed + q * b_panel;
      const bool pairs_done = q < q0 + full;
      if (B.is_f32)
        bf16_pack_b_panel(cols, K, kpad, static_cast<const float*>(B.data) + j * B.cs, B.rs,
                          B.cs, dst, pairs_done);
      else
        bf16_pack_b_panel(cols, K, kpad, static_cast<const bf16_t*>(B.data) + j * B.cs, B.rs,
                          B.cs, dst, pairs_done);
    }
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

  // Panels are packed when a block first needs them, by the thread that
  // claims them first; a thread that finds one being packed waits for it.
  // There is no barrier: on a shared machine a thread that lost its core
  // holds up the others only for the panel it is packing.
  std::unique_ptr<std::atomic<int>[]> a_state(new std::atomic<int>[m_panels]),
      b_state(new std::atomic<int>[slabs]);
  for (index_t p = 0; p < m_panels; ++p) a_state[p].store(kBf16Unpacked);
  for (index_t s = 0; s < slabs; ++s) b_state[s].store(kBf16Unpacked);

  // Within a group, B panels in an order that visits every slab before the
  // second panel of any: a team's first claims pack different slabs side by
  // side instead of waiting for one (identity for one thread: one slab).
  std::vector<index_t> q_order;
  q_order.reserve(static_cast<std::size_t>(n_panels));
  for (index_t at = 0; at < slab_panels; ++at)
    for (index_t s = 0; s < slabs; ++s)
      if (s * slab_panels + at < n_panels) q_order.push_back(s * slab_panels + at);
  const auto strip = [&](Kern& kern, index_t u) {
    const index_t g = u / n_panels, q = q_order[static_cast<std::size_t>(u % n_panels)];
    const index_t j = q * NR, p0 = g * group, rows_in_group = std::min(group, m_panels - p0);
    bf16_packed(b_state[q / slab_panels], [&] { pack_b_slab(q / slab_panels); });
    // Each strip starts at another A panel, so threads on strips of one
    // group pack different A panels first rather than queue for the same.
    for (index_t step = 0; step < rows_in_group; ++step) {
      const index_t p = p0 + (step + u) % rows_in_group;
      bf16_packed(a_state[p], [&] { pack_a(p); });
      const index_t i = p * MR;
      kern.block(std::min(MR, M - i), std::min(NR, N - j), kpad, a_packed + p * a_panel,
                 b_packed + q * b_panel, C, i, j);
    }
  };
  if (threads <= 1) {
    Kern kern;
    kern.begin();
    for (index_t u = 0; u < strips; ++u) strip(kern, u);
    kern.end();
    return;
  }
  std::atomic<index_t> next_strip{0};
#pragma omp parallel num_threads(threads)
  {
    Kern kern;
    kern.begin();
    for (index_t u; (u = next_strip.fetch_add(1, std::memory_order_relaxed)) < strips;)
      strip(kern, u);
    kern.end();
  }
}
