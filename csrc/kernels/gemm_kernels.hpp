// Which micro-kernel and which cache blocks each arch build uses. Included
// inside an arch namespace; arch_<name>.cpp sets DENSEOPS_ARCH_IS_<NAME>.
// The blocked GEMM (gemm_loops.hpp, gemm.hpp) is the same for
// every path: GemmKernel<T> is all that differs.
//
// The loops keep three things resident (gemm_loops.hpp):
//   KC: the B micro-panel (KC x NR) in L1 while every A micro-panel of the
//       block streams past it; K is cut into equal blocks <= KC.
//   MC: the packed A block (MC x KC) in L2, at most about a third of it, so
//       the B micro-panels and C tiles streaming through do not evict it.
//   NC: the packed B panel (KC x NC) in the shared L3, a few MiB, leaving
//       room for the other cores. NC is a multiple of NR.

// AVX-512 (and its emulation): 32 zmm registers. The tile is 12 rows x 2
// vectors (12 x 32 floats, 12 x 16 doubles): 24 accumulators + 2 B vectors
// + 1 broadcast = 27 registers. Per k-step 2 loads of B and 12 broadcasts
// feed 24 FMAs: FMA-bound with one or two 512-bit FMA pipes (Zen 4,
// Skylake-X to Sapphire Rapids). 12 rows rather than 14 (28 accumulators)
// leave registers for the broadcasts and masks.
// Blocks for L1d 32-48 KiB, L2 1-2 MiB per core (Zen 4, Sapphire Rapids):
//   KC = 192: the B micro-panel is 192 x 128 B = 24 KiB, inside the 32 KiB
//       L1d of Zen 4 (48 KiB on Intel) beside the A micro-panel lines
//       streaming through.
//   MC = 480 floats / 240 doubles: the A block is 360 KiB, a third of a
//       1 MiB L2 (a sixth of 2 MiB).
//   NC = 4096 floats / 2048 doubles: a 3 MiB B panel.
template <class Vec, int NV = 2>
struct Avx512ShapedKernel : GemmTile<Vec, 12, NV> {
  using T = typename Vec::T;
  static constexpr index_t MR = 12, NR = NV * Vec::kLanes, KC = 192,
                           MC = 480 * 4 / sizeof(T), NC = 4096 * 4 / sizeof(T);
};

// Besides the main kernel, each path names two more shapes of the same tile:
//   GemmNarrowKernel for products of at most its NR columns (the MNIST
//     output layer, N = 10): a full-width tile there would spend most of
//     its FMAs on masked-off lanes.
//   GemmSmallMKernel for products of at most its MR rows with B read in
//     place (gemm_small_m): one row has only NV independent FMA chains, so
//     the tile is wider and shorter, with enough chains to cover the FMA
//     latency (4 cycles) while streaming B once. Measured against 1 x 16
//     and 2 x 8 vectors for M = 1 and 2, which were slower (AVX-512, Zen 4).

#if DENSEOPS_ARCH_IS_AVX512 || DENSEOPS_ARCH_IS_AVX512_EMULATED

#if DENSEOPS_ARCH_IS_AVX512
template <class T>
using Vec512 = Zmm<T>;
constexpr const char* kVec512Kind = "AVX-512 micro-kernel";
#else
// The AVX-512 tile, masks and blocks with 512-bit vectors held in arrays:
// a test path that runs on any CPU (slowly).
template <class T>
using Vec512 = EmulatedVec<T, 64 / sizeof(T)>;
constexpr const char* kVec512Kind = "emulated AVX-512 micro-kernel";
#endif

template <class T>
struct GemmKernel : Avx512ShapedKernel<Vec512<T>> {
  static constexpr const char* kind = kVec512Kind;
};
template <class T>
struct GemmNarrowKernel : Avx512ShapedKernel<Vec512<T>, 1> {};
// 4 rows x 4 vectors: 16 accumulators, 4 B vectors, 1 broadcast.
template <class T>
struct GemmSmallMKernel : GemmTile<Vec512<T>, 4, 4> {
  static constexpr index_t MR = 4, NR = 4 * Vec512<T>::kLanes;
};

#elif DENSEOPS_ARCH_IS_AVX2

// AVX2: 16 ymm registers. A 6 x 2-vector tile (6 x 16 floats, 6 x 8
// doubles): 12 accumulators + 2 B vectors + 1 broadcast = 15 registers;
// per k-step 2 loads and 6 broadcasts feed 12 FMAs.
// Blocks for Zen 3 (L1d 32 KiB, L2 512 KiB per core, L3 32 MiB shared),
// following BLIS's Zen 3 choices and checked by measurement:
//   KC = 256: 16 KiB of B micro-panel plus 6 KiB (f32) / 12 KiB (f64) of A.
//   MC = 144 floats / 72 doubles: a 144 KiB A block, under a third of L2.
//   NC = 4080: a 4 MiB (f32) / 8 MiB (f64) B panel of the 32 MiB L3.
template <class T>
struct GemmKernel : GemmTile<Ymm<T>, 6, 2> {
  static constexpr index_t MR = 6, NR = 2 * Ymm<T>::kLanes, KC = 256,
                           MC = 144 * 4 / sizeof(T), NC = 4080;
  static constexpr const char* kind = "AVX2/FMA micro-kernel";
};
// The 2-vector tile is already narrow enough for N = 10 (16 floats).
template <class T>
using GemmNarrowKernel = GemmKernel<T>;
// 2 rows x 4 vectors: 8 accumulators, 4 B vectors, 1 broadcast.
template <class T>
struct GemmSmallMKernel : GemmTile<Ymm<T>, 2, 4> {
  static constexpr index_t MR = 2, NR = 4 * Ymm<T>::kLanes;
};

#else

// Portable: 16 SSE2/NEON registers of 4 floats / 2 doubles. A 4 x 2-vector
// tile takes 8 of them. Same cache reasoning as AVX2.
template <class T>
struct GemmKernel : GemmTile<EmulatedVec<T, 16 / sizeof(T)>, 4, 2> {
  static constexpr index_t MR = 4, NR = 2 * 16 / sizeof(T), KC = 256,
                           MC = 144 * 4 / sizeof(T), NC = 4080;
  static constexpr const char* kind = "portable C++ micro-kernel";
};
template <class T>
using GemmNarrowKernel = GemmKernel<T>;
template <class T>
using GemmSmallMKernel = GemmKernel<T>;

#endif
