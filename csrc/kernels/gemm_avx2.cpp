// AVX2/FMA micro-kernels (see gemm_avx2.hpp). Accumulators are separate
// variables, not an array: GCC keeps them in registers that way.
#include "gemm_avx2.hpp"

#include <immintrin.h>

namespace denseops::avx2_ukernels {
namespace {

// The few ymm operations the kernel needs, for each element type.
template <class T>
struct Ymm;

template <>
struct Ymm<float> {
  using V = __m256;
  static constexpr index_t kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_load_ps(p); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
};

template <>
struct Ymm<double> {
  using V = __m256d;
  static constexpr index_t kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_load_pd(p); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
};

// The C tile's rows are touched once at the end; asking for them at entry
// hides that miss behind the k loop (measured 15-25 % single-threaded).
template <class T>
inline void prefetch_tile(const T* c, index_t ldc, index_t rows, index_t row_bytes) {
  for (index_t r = 0; r < rows; ++r) {
    const char* p = reinterpret_cast<const char*>(c + r * ldc);
    _mm_prefetch(p, _MM_HINT_T0);
    _mm_prefetch(p + row_bytes - 1, _MM_HINT_T0);
  }
}

// One row of the tile: two vectors, added to C or overwriting it.
template <class T>
inline void store_row(T* c, typename Ymm<T>::V lo, typename Ymm<T>::V hi, bool accumulate) {
  using Y = Ymm<T>;
  if (accumulate) lo = Y::add(lo, Y::loadu(c)), hi = Y::add(hi, Y::loadu(c + Y::kLanes));
  Y::storeu(c, lo), Y::storeu(c + Y::kLanes, hi);
}

// One tile of ROWS <= 6 rows by two vectors (16 floats / 8 doubles): the
// 6-row register plan with the unused rows compiled out, so an edge tile
// (128 rows = 21 x 6 + 2) costs its own rows instead of a full tile plus a
// copy.
template <int ROWS, class T>
void rows_x2v(index_t kc, const T* a, index_t rsa, index_t csa, const T* b, T* c, index_t ldc,
              bool accumulate) {
  using Y = Ymm<T>;
  using V = typename Y::V;
  constexpr index_t NR = 2 * Y::kLanes;
  prefetch_tile(c, ldc, ROWS, NR * sizeof(T));
  V c00 = Y::zero(), c01 = Y::zero();
  V c10 = Y::zero(), c11 = Y::zero();
  V c20 = Y::zero(), c21 = Y::zero();
  V c30 = Y::zero(), c31 = Y::zero();
  V c40 = Y::zero(), c41 = Y::zero();
  V c50 = Y::zero(), c51 = Y::zero();
  // Rows 3..5 from a second base pointer so every address is base + index * {1,2}.
  const T* a3 = a + (ROWS > 3 ? 3 * rsa : 0);
  for (index_t k = 0; k < kc; ++k) {
    const V b0 = Y::load(b), b1 = Y::load(b + Y::kLanes);
    V ar = Y::broadcast(a);
    c00 = Y::fmadd(ar, b0, c00), c01 = Y::fmadd(ar, b1, c01);
    if constexpr (ROWS > 1) {
      ar = Y::broadcast(a + rsa);
      c10 = Y::fmadd(ar, b0, c10), c11 = Y::fmadd(ar, b1, c11);
    }
    if constexpr (ROWS > 2) {
      ar = Y::broadcast(a + 2 * rsa);
      c20 = Y::fmadd(ar, b0, c20), c21 = Y::fmadd(ar, b1, c21);
    }
    if constexpr (ROWS > 3) {
      ar = Y::broadcast(a3);
      c30 = Y::fmadd(ar, b0, c30), c31 = Y::fmadd(ar, b1, c31);
    }
    if constexpr (ROWS > 4) {
      ar = Y::broadcast(a3 + rsa);
      c40 = Y::fmadd(ar, b0, c40), c41 = Y::fmadd(ar, b1, c41);
    }
    if constexpr (ROWS > 5) {
      ar = Y::broadcast(a3 + 2 * rsa);
      c50 = Y::fmadd(ar, b0, c50), c51 = Y::fmadd(ar, b1, c51);
    }
    a += csa, a3 += csa, b += NR;
  }
  store_row<T>(c, c00, c01, accumulate);
  if constexpr (ROWS > 1) store_row<T>(c + 1 * ldc, c10, c11, accumulate);
  if constexpr (ROWS > 2) store_row<T>(c + 2 * ldc, c20, c21, accumulate);
  if constexpr (ROWS > 3) store_row<T>(c + 3 * ldc, c30, c31, accumulate);
  if constexpr (ROWS > 4) store_row<T>(c + 4 * ldc, c40, c41, accumulate);
  if constexpr (ROWS > 5) store_row<T>(c + 5 * ldc, c50, c51, accumulate);
}

// The tile for `rows` (1..6): each row count is its own instantiation.
template <class T>
void run_rows(index_t rows, index_t kc, const T* a, index_t rsa, index_t csa, const T* b, T* c,
              index_t ldc, bool accumulate) {
  switch (rows) {
    case 6: return rows_x2v<6>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 5: return rows_x2v<5>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 4: return rows_x2v<4>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 3: return rows_x2v<3>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 2: return rows_x2v<2>(kc, a, rsa, csa, b, c, ldc, accumulate);
    default: return rows_x2v<1>(kc, a, rsa, csa, b, c, ldc, accumulate);
  }
}

}  // namespace

void gemm_avx2_f32_6x16(index_t rows, index_t kc, const float* a, index_t rsa, index_t csa,
                        const float* b, float* c, index_t ldc, bool accumulate) {
  run_rows(rows, kc, a, rsa, csa, b, c, ldc, accumulate);
}

void gemm_avx2_f64_6x8(index_t rows, index_t kc, const double* a, index_t rsa, index_t csa,
                       const double* b, double* c, index_t ldc, bool accumulate) {
  run_rows(rows, kc, a, rsa, csa, b, c, ldc, accumulate);
}

}  // namespace denseops::avx2_ukernels
