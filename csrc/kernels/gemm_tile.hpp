// The GEMM micro-kernel of every path: one register-blocked tile written
// once over a vector type (simd_avx512.hpp, simd_avx2.hpp,
// simd_emulated.hpp), so every path shares the tile and edge logic and only
// the vector width, MR and NR differ. Included inside an arch namespace.
//
// A call computes `rows` (1..MR) x `cols` (1..NR) of C from kc steps:
//   C[r, j] (+)= sum over k < kc of A[r, k] * B[k, j]
// A[r, k] is read at a[r * rsa + k * csa] (packed micro-panels: rsa = 1,
// csa = MR; unpacked: the matrix's own strides). B[k, j] is read at
// b[k * ldb + j]: a packed micro-panel (ldb = NR, zero-padded) or rows of B
// in place (the small-M path). C is row-major with row stride ldc;
// accumulate = false overwrites it, true adds to it.
//
// The NR columns are NV vectors, each row of the tile NV accumulators:
// per k-step NV loads of B, one broadcast of A per row, ROWS x NV FMAs.
// Only the tile's rows and columns of A, B and C are touched: a short tile
// compiles the unused rows out, and a narrow one loads and stores through
// lane masks (opmask registers on AVX-512), so there is no scalar tail and
// no temporary tile.


template <class Vec, int MR, int NV>
struct GemmTile {
  using VecType = Vec;
  using T = typename Vec::T;
  using V = typename Vec::V;
  static constexpr index_t kMR = MR, kNR = NV * Vec::kLanes;

  // ROWS rows; PARTIAL: cols < NR (masked B loads and C stores);
  // PACKED_A: rsa = 1 and csa = MR, known to the compiler.
  template <int ROWS, bool PARTIAL, bool PACKED_A>
  static void tile(index_t cols, index_t kc, const T* a, index_t rsa, index_t csa, const T* b,
                   index_t ldb, T* c, index_t ldc, bool accumulate) {
    constexpr index_t L = Vec::kLanes;
    if constexpr (PACKED_A) rsa = 1, csa = MR;
    typename Vec::Mask live[NV];
    if constexpr (PARTIAL) {
      for (int v = 0; v < NV; ++v) {
        const index_t left = cols - v * L;
        live[v] = Vec::mask(left < 0 ? 0 : left > L ? L : left);
      }
    }
    // The C rows are touched once, at the end: asking for them now hides
    // that miss behind the k loop (measured 15-25 % single-threaded).
    for (int r = 0; r < ROWS; ++r) {
      Vec::prefetch(c + r * ldc);
      Vec::prefetch(c + r * ldc + kNR - 1);
    }
    V acc[ROWS][NV];
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = Vec::zero();
    for (index_t k = 0; k < kc; ++k, a += csa, b += ldb) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = PARTIAL ? Vec::load_masked(b + v * L, live[v]) : Vec::loadu(b + v * L);
#pragma GCC unroll 16
      for (int r = 0; r < ROWS; ++r) {
        const V ar = Vec::broadcast(a + r * rsa);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec::fmadd(ar, bv[v], acc[r][v]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        T* p = c + r * ldc + v * L;
        if constexpr (PARTIAL) {
          if (accumulate) acc[r][v] = Vec::add(acc[r][v], Vec::load_masked(p, live[v]));
          Vec::store_masked(p, acc[r][v], live[v]);
        } else {
          if (accumulate) acc[r][v] = Vec::add(acc[r][v], Vec::loadu(p));
          Vec::storeu(p, acc[r][v]);
        }
      }
    }
  }

  using TileFn = void (*)(index_t, index_t, const T*, index_t, index_t, const T*, index_t, T*,
                          index_t, bool);

  template <bool PARTIAL, bool PACKED_A, std::size_t... R>
  static constexpr std::array<TileFn, MR> table(std::index_sequence<R...>) {
    return {&tile<int(R) + 1, PARTIAL, PACKED_A>...};
  }

  // The entry point: picks the instantiation for rows, cols and A's layout.
  static void run(index_t rows, index_t cols, index_t kc, const T* a, index_t rsa, index_t csa,
                  const T* b, index_t ldb, T* c, index_t ldc, bool accumulate) {
    using Rows = std::make_index_sequence<MR>;
    static constexpr std::array<TileFn, MR> full_packed = table<false, true>(Rows{}),
                                            full_strided = table<false, false>(Rows{}),
                                            part_packed = table<true, true>(Rows{}),
                                            part_strided = table<true, false>(Rows{});
    const bool packed = rsa == 1 && csa == MR;
    const auto& fns = cols >= kNR ? (packed ? full_packed : full_strided)
                                  : (packed ? part_packed : part_strided);
    fns[rows - 1](cols, kc, a, rsa, csa, b, ldb, c, ldc, accumulate);
  }
};

// One row of C from one row of A, as a sum of scaled rows of B:
//   c[j] = sum over k of a[k * csa] * B[k * rsb + j],   j < n
// B is read a few whole rows at a time, front to back (the matrix-vector
// product's only big stream, in the order the prefetchers follow best),
// and c, one row of at most a few KiB, stays in L1 between them.
template <class Vec>
void gemv_rows(index_t K, index_t n, const typename Vec::T* a, index_t csa,
               const typename Vec::T* B, index_t rsb, typename Vec::T* c) {
  using T = typename Vec::T;
  using V = typename Vec::V;
  constexpr index_t L = Vec::kLanes, kRows = 4;
  const index_t full = n / L * L;
  const typename Vec::Mask tail = Vec::mask(n - full);
  for (index_t j = 0; j < n; ++j) c[j] = T(0);
  index_t k = 0;
  for (; k + kRows <= K; k += kRows) {
    const V a0 = Vec::broadcast(a + k * csa), a1 = Vec::broadcast(a + (k + 1) * csa),
            a2 = Vec::broadcast(a + (k + 2) * csa), a3 = Vec::broadcast(a + (k + 3) * csa);
    const T *b0 = B + k * rsb, *b1 = b0 + rsb, *b2 = b1 + rsb, *b3 = b2 + rsb;
    for (index_t j = 0; j < full; j += L) {
      V acc = Vec::fmadd(a0, Vec::loadu(b0 + j), Vec::loadu(c + j));
      acc = Vec::fmadd(a1, Vec::loadu(b1 + j), acc);
      acc = Vec::fmadd(a2, Vec::loadu(b2 + j), acc);
      Vec::storeu(c + j, Vec::fmadd(a3, Vec::loadu(b3 + j), acc));
    }
    if (full < n) {
      V acc = Vec::fmadd(a0, Vec::load_masked(b0 + full, tail), Vec::load_masked(c + full, tail));
      acc = Vec::fmadd(a1, Vec::load_masked(b1 + full, tail), acc);
      acc = Vec::fmadd(a2, Vec::load_masked(b2 + full, tail), acc);
      Vec::store_masked(c + full, Vec::fmadd(a3, Vec::load_masked(b3 + full, tail), acc), tail);
    }
  }
  for (; k < K; ++k) {
    const V ak = Vec::broadcast(a + k * csa);
    const T* bk = B + k * rsb;
    for (index_t j = 0; j < full; j += L)
      Vec::storeu(c + j, Vec::fmadd(ak, Vec::loadu(bk + j), Vec::loadu(c + j)));
    if (full < n)
      Vec::store_masked(c + full,
                        Vec::fmadd(ak, Vec::load_masked(bk + full, tail),
                                   Vec::load_masked(c + full, tail)),
                        tail);
  }
}

// The highest rate of fused multiply-adds this vector type reaches: ACC
// independent chains (enough to cover the FMA latency times the FMA pipes
// of any x86 core), `iterations` steps each. Returns the flops done; the
// result goes to `sink` so the compiler cannot drop the loop.
template <class Vec, int ACC>
double fma_probe(index_t iterations, typename Vec::T* sink) {
  using T = typename Vec::T;
  using V = typename Vec::V;
  const T x = T(0.999999), y = T(1e-6);  // acc * x + y stays bounded
  const V vx = Vec::broadcast(&x), vy = Vec::broadcast(&y);
  // Each chain starts from its own value: identical chains would let the
  // compiler compute one and copy it.
  V acc[ACC];
#pragma GCC unroll 32
  for (int i = 0; i < ACC; ++i) {
    const T start = T(i) * T(1e-3);
    acc[i] = Vec::broadcast(&start);
  }
  for (index_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 32
    for (int i = 0; i < ACC; ++i) acc[i] = Vec::fmadd(acc[i], vx, vy);
  }
  V total = acc[0];
  for (int i = 1; i < ACC; ++i) total = Vec::add(total, acc[i]);
  alignas(64) T lanes[Vec::kLanes];
  Vec::storeu(lanes, total);
  *sink = lanes[0];
  return 2.0 * static_cast<double>(iterations) * ACC * Vec::kLanes;
}
