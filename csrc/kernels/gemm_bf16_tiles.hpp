// The two bf16 micro-kernels, each written once over its operations (native
// in bf16_ops_native.hpp, emulated in bf16_ops_emulated.hpp). A call
// computes rows x cols of C (at row i, column j) from a packed A panel and a
// packed B panel (gemm_bf16_pack.hpp) over the whole padded depth kpad, so
// the accumulators stay in registers from the first k to the last and C is
// written once. Included inside a bf16 arch namespace.

// AMX: a 2 x 2 block of 16 x 16 float32 tiles (32 x 32 of C). Per step of 32
// in k: two A tiles (16 rows x 32 bf16) and two B tiles (16 pair rows x 16
// columns) feed four tdpbf16ps, each reusing a loaded tile twice: 4 C + 2 A +
// 2 B = all 8 tile registers. Edge blocks use 1 x 2, 2 x 1 or 1 x 1 tiles;
// the packed panels are zero-padded to 32 x 32, so loads stay inside them.
template <class Amx>
struct AmxKernel {
  static constexpr index_t MR = 32, NR = 32, KSTEP = 32;
  static constexpr const char* kind = Amx::kind;
  Amx amx;
  // A block's C waits in one of two buffers until the next block's products
  // are issued: the AVX-512 stores of one block then run beside the tile
  // products of the next instead of after them (CPU time per call, one
  // thread, on a busy machine: 128 x 784 x 512 145 -> 125 us, 1024^3
  // 2.40 -> 2.23 ms).
  alignas(64) float tiles[2][MR * NR];
  struct Pending {
    index_t rows = 0, cols = 0, i = 0, j = 0;
    const Bf16Result* C = nullptr;  // null: nothing pending
  } pending;
  int current = 0;

  void begin() { amx.configure(); }
  void end() {
    flush();
    amx.release();
  }
  void flush() {
    if (pending.C)
      bf16_store_tile(pending.rows, pending.cols, tiles[1 - current], NR, *pending.C, pending.i,
                      pending.j);
    pending.C = nullptr;
  }

  void block(index_t rows, index_t cols, index_t kpad, const bf16_t* a, const bf16_t* b,
             const Bf16Result& C, index_t i, index_t j) {
    if (rows > 16)
      cols > 16 ? run<2, 2>(rows, cols, kpad, a, b, C, i, j)
                : run<2, 1>(rows, cols, kpad, a, b, C, i, j);
    else
      cols > 16 ? run<1, 2>(rows, cols, kpad, a, b, C, i, j)
                : run<1, 1>(rows, cols, kpad, a, b, C, i, j);
  }

  template <int TM, int TN>
  void run(index_t rows, index_t cols, index_t kpad, const bf16_t* a, const bf16_t* b,
           const Bf16Result& C, index_t i, index_t j) {
    const index_t a_stride = kpad * index_t(sizeof(bf16_t)), b_stride = 2 * NR * 2;
    for (int im = 0; im < TM; ++im)
      for (int jn = 0; jn < TN; ++jn) amx.zero(2 * im + jn);
    for (index_t k = 0; k < kpad; k += KSTEP) {
      const bf16_t* bk = b + k * NR;  // pair row k / 2
      // Each load as late as its first use: tiles are not renamed, so a
      // load waits for the products still reading the tile it overwrites.
      amx.load(4, a + k, a_stride);
      amx.load(6, bk, b_stride);
      amx.dp(0, 4, 6);
      if constexpr (TN == 2) {
        amx.load(7, bk + 32, b_stride);
        amx.dp(1, 4, 7);
      }
      if constexpr (TM == 2) {
        amx.load(5, a + 16 * kpad + k, a_stride);
        amx.dp(2, 5, 6);
        if constexpr (TN == 2) amx.dp(3, 5, 7);
      }
    }
    flush();  // the previous block's C, while the last products run
    // Through an L1 buffer even for whole float32 blocks: tile stores
    // straight to C measured 30 % slower (784 x 128 x 512, float32 out).
    float* const tile = tiles[current];
    for (int im = 0; im < TM; ++im)
      for (int jn = 0; jn < TN; ++jn)
        amx.store(2 * im + jn, tile + im * 16 * NR + jn * 16, NR * index_t(sizeof(float)));
    pending = Pending{rows, cols, i, j, &C};
    current = 1 - current;
  }
};

// vdpbf16ps: 12 rows x 2 zmm (12 x 32 of C), as the float32 AVX-512 tile:
// 24 accumulators + 2 B vectors + 1 broadcast. Per pair of k: two loads of
// B's pair row and one 32-bit broadcast of each row's pair of A feed 24
// vdpbf16ps (768 multiply-adds).
template <class Ops>
struct DpKernel {
  static constexpr index_t MR = 12, NR = 32, KSTEP = 2;
  static constexpr const char* kind = Ops::kind;

  void begin() {}
  void end() {}

  using Fn = void (*)(index_t, index_t, const bf16_t*, const bf16_t*, const Bf16Result&, index_t,
                      index_t, index_t);
  template <std::size_t... R>
  static constexpr std::array<Fn, MR> table(std::index_sequence<R...>) {
    return {&run<int(R) + 1>...};
  }

  void block(index_t rows, index_t cols, index_t kpad, const bf16_t* a, const bf16_t* b,
             const Bf16Result& C, index_t i, index_t j) {
    static constexpr std::array<Fn, MR> fns = table(std::make_index_sequence<MR>{});
    fns[rows - 1](cols, kpad, a, b, C, i, j, rows);
  }

  template <int ROWS>
  static void run(index_t cols, index_t kpad, const bf16_t* a, const bf16_t* b,
                  const Bf16Result& C, index_t i, index_t j, index_t) {
    using V = typename Ops::V;
    V acc[ROWS][2];
#pragma GCC unroll 12
    for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = Ops::zero();
    for (index_t k = 0; k < kpad; k += 2, b += 2 * NR) {
      const auto b0 = Ops::load_pairs(b), b1 = Ops::load_pairs(b + NR);
#pragma GCC unroll 12
      for (int r = 0; r < ROWS; ++r) {
        const auto ar = Ops::broadcast_pair(a + r * kpad + k);
        acc[r][0] = Ops::dp(acc[r][0], ar, b0);
        acc[r][1] = Ops::dp(acc[r][1], ar, b1);
      }
    }
    if (C.f32 && cols == NR) {
      for (int r = 0; r < ROWS; ++r) {
        float* c = C.f32 + (i + r) * C.ldc + j;
        Ops::store(c, acc[r][0]), Ops::store(c + 16, acc[r][1]);
      }
      return;
    }
    alignas(64) float tile[MR * NR];
    for (int r = 0; r < ROWS; ++r) Ops::store(tile + r * NR, acc[r][0]), Ops::store(tile + r * NR + 16, acc[r][1]);
    bf16_store_tile(ROWS, cols, tile, NR, C, i, j);
  }
};
