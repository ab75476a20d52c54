// Which micro-kernel and which cache blocks each arch build uses. Included
// inside an arch namespace; DENSEOPS_ARCH_IS_AVX2 is set by arch_avx2.cpp.
//
// Cache blocking for Zen 3 (L1d 32 KiB, L2 512 KiB per core, L3 32 MiB
// shared), following BLIS's Zen 3 choices and checked by measurement:
//   KC: the B micro-panel (KC x NR) stays in L1 while every A micro-panel of
//       the block streams past it; KC = 256 gives 16 KiB of B plus 6 KiB
//       (f32) / 12 KiB (f64) of A micro-panel, inside 32 KiB with room for
//       the C tile. K is cut into equal blocks <= KC (784 -> 4 x 196).
//   MC: the packed A block (MC x KC) stays in L2: 144 x 256 x 4 B (f32) and
//       72 x 256 x 8 B (f64) are both 144 KiB, under a third of L2, so the
//       B micro-panels and C tiles streaming through do not evict it.
//   NC: the packed B panel (KC x NC) lives in L3: 256 x 4080 x 4 B = 4 MiB
//       (8 MiB for f64) of the 32 MiB shared L3, leaving room for the other
//       core and other processes. NC is a multiple of NR.

#if DENSEOPS_ARCH_IS_AVX2

template <class T>
struct GemmKernel;

template <>
struct GemmKernel<float> {
  static constexpr index_t MR = 6, NR = 16, KC = 256, MC = 144, NC = 4080;
  static constexpr const char* kind = "packed BLIS-style, 6x16 AVX2/FMA micro-kernel";
  static void run(index_t rows, index_t kc, const float* a, index_t rsa, index_t csa,
                  const float* b, float* c, index_t ldc, bool accumulate) {
    avx2_ukernels::gemm_avx2_f32_6x16(rows, kc, a, rsa, csa, b, c, ldc, accumulate);
  }
};

template <>
struct GemmKernel<double> {
  static constexpr index_t MR = 6, NR = 8, KC = 256, MC = 72, NC = 4080;
  static constexpr const char* kind = "packed BLIS-style, 6x8 AVX2/FMA micro-kernel";
  static void run(index_t rows, index_t kc, const double* a, index_t rsa, index_t csa,
                  const double* b, double* c, index_t ldc, bool accumulate) {
    avx2_ukernels::gemm_avx2_f64_6x8(rows, kc, a, rsa, csa, b, c, ldc, accumulate);
  }
};

#else

// 16 xmm registers of 4 floats / 2 doubles: a 4 x 8 (f32) or 4 x 4 (f64)
// accumulator tile takes 8 of them. Same cache reasoning as above.
template <class T>
struct GemmKernel {
  static constexpr index_t MR = 4, NR = 16 / sizeof(T) * 2, KC = 256,
                           MC = 144 * 4 / sizeof(T), NC = 4080;
  static constexpr const char* kind = sizeof(T) == 4
                                          ? "packed BLIS-style, 4x8 portable C++ micro-kernel"
                                          : "packed BLIS-style, 4x4 portable C++ micro-kernel";
  static void run(index_t rows, index_t kc, const T* a, index_t rsa, index_t csa, const T* b,
                  T* c, index_t ldc, bool accumulate) {
    gemm_generic_ukernel<T, MR, NR>(rows, kc, a, rsa, csa, b, c, ldc, accumulate);
  }
};

#endif
