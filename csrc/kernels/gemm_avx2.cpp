// AVX2/FMA micro-kernels (see gemm_avx2.hpp). Accumulators are separate
// variables, not an array: GCC keeps them in registers that way.
#include "gemm_avx2.hpp"

#include <immintrin.h>

namespace denseops::avx2_ukernels {
namespace {

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

inline void store_f32(float* c, __m256 v, bool accumulate) {
  if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(c));
  _mm256_storeu_ps(c, v);
}

inline void store_row_f32(float* c, __m256 lo, __m256 hi, bool accumulate) {
  store_f32(c, lo, accumulate), store_f32(c + 8, hi, accumulate);
}

inline void store_f64(double* c, __m256d v, bool accumulate) {
  if (accumulate) v = _mm256_add_pd(v, _mm256_loadu_pd(c));
  _mm256_storeu_pd(c, v);
}

inline void store_row_f64(double* c, __m256d lo, __m256d hi, bool accumulate) {
  store_f64(c, lo, accumulate), store_f64(c + 4, hi, accumulate);
}

// One tile of ROWS <= 6 rows: the 6-row register plan with the unused rows
// compiled out, so an edge tile (128 rows = 21 x 6 + 2) costs its own rows
// instead of a full tile plus a copy.
template <int ROWS>
void f32_rows_x16(index_t kc, const float* a, index_t rsa, index_t csa, const float* b,
                  float* c, index_t ldc, bool accumulate) {
  prefetch_tile(c, ldc, ROWS, 16 * sizeof(float));
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // Rows 3..5 from a second base pointer so every address is base + index * {1,2}.
  const float* a3 = a + (ROWS > 3 ? 3 * rsa : 0);
  for (index_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ar = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(ar, b0, c00), c01 = _mm256_fmadd_ps(ar, b1, c01);
    if constexpr (ROWS > 1) {
      ar = _mm256_broadcast_ss(a + rsa);
      c10 = _mm256_fmadd_ps(ar, b0, c10), c11 = _mm256_fmadd_ps(ar, b1, c11);
    }
    if constexpr (ROWS > 2) {
      ar = _mm256_broadcast_ss(a + 2 * rsa);
      c20 = _mm256_fmadd_ps(ar, b0, c20), c21 = _mm256_fmadd_ps(ar, b1, c21);
    }
    if constexpr (ROWS > 3) {
      ar = _mm256_broadcast_ss(a3);
      c30 = _mm256_fmadd_ps(ar, b0, c30), c31 = _mm256_fmadd_ps(ar, b1, c31);
    }
    if constexpr (ROWS > 4) {
      ar = _mm256_broadcast_ss(a3 + rsa);
      c40 = _mm256_fmadd_ps(ar, b0, c40), c41 = _mm256_fmadd_ps(ar, b1, c41);
    }
    if constexpr (ROWS > 5) {
      ar = _mm256_broadcast_ss(a3 + 2 * rsa);
      c50 = _mm256_fmadd_ps(ar, b0, c50), c51 = _mm256_fmadd_ps(ar, b1, c51);
    }
    a += csa, a3 += csa, b += 16;
  }
  store_row_f32(c, c00, c01, accumulate);
  if constexpr (ROWS > 1) store_row_f32(c + 1 * ldc, c10, c11, accumulate);
  if constexpr (ROWS > 2) store_row_f32(c + 2 * ldc, c20, c21, accumulate);
  if constexpr (ROWS > 3) store_row_f32(c + 3 * ldc, c30, c31, accumulate);
  if constexpr (ROWS > 4) store_row_f32(c + 4 * ldc, c40, c41, accumulate);
  if constexpr (ROWS > 5) store_row_f32(c + 5 * ldc, c50, c51, accumulate);
}

template <int ROWS>
void f64_rows_x8(index_t kc, const double* a, index_t rsa, index_t csa, const double* b,
                 double* c, index_t ldc, bool accumulate) {
  prefetch_tile(c, ldc, ROWS, 8 * sizeof(double));
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
  const double* a3 = a + (ROWS > 3 ? 3 * rsa : 0);
  for (index_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
    __m256d ar = _mm256_broadcast_sd(a);
    c00 = _mm256_fmadd_pd(ar, b0, c00), c01 = _mm256_fmadd_pd(ar, b1, c01);
    if constexpr (ROWS > 1) {
      ar = _mm256_broadcast_sd(a + rsa);
      c10 = _mm256_fmadd_pd(ar, b0, c10), c11 = _mm256_fmadd_pd(ar, b1, c11);
    }
    if constexpr (ROWS > 2) {
      ar = _mm256_broadcast_sd(a + 2 * rsa);
      c20 = _mm256_fmadd_pd(ar, b0, c20), c21 = _mm256_fmadd_pd(ar, b1, c21);
    }
    if constexpr (ROWS > 3) {
      ar = _mm256_broadcast_sd(a3);
      c30 = _mm256_fmadd_pd(ar, b0, c30), c31 = _mm256_fmadd_pd(ar, b1, c31);
    }
    if constexpr (ROWS > 4) {
      ar = _mm256_broadcast_sd(a3 + rsa);
      c40 = _mm256_fmadd_pd(ar, b0, c40), c41 = _mm256_fmadd_pd(ar, b1, c41);
    }
    if constexpr (ROWS > 5) {
      ar = _mm256_broadcast_sd(a3 + 2 * rsa);
      c50 = _mm256_fmadd_pd(ar, b0, c50), c51 = _mm256_fmadd_pd(ar, b1, c51);
    }
    a += csa, a3 += csa, b += 8;
  }
  store_row_f64(c, c00, c01, accumulate);
  if constexpr (ROWS > 1) store_row_f64(c + 1 * ldc, c10, c11, accumulate);
  if constexpr (ROWS > 2) store_row_f64(c + 2 * ldc, c20, c21, accumulate);
  if constexpr (ROWS > 3) store_row_f64(c + 3 * ldc, c30, c31, accumulate);
  if constexpr (ROWS > 4) store_row_f64(c + 4 * ldc, c40, c41, accumulate);
  if constexpr (ROWS > 5) store_row_f64(c + 5 * ldc, c50, c51, accumulate);
}

}  // namespace

void gemm_avx2_f32_6x16(index_t rows, index_t kc, const float* a, index_t rsa, index_t csa,
                        const float* b, float* c, index_t ldc, bool accumulate) {
  switch (rows) {
    case 6: return f32_rows_x16<6>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 5: return f32_rows_x16<5>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 4: return f32_rows_x16<4>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 3: return f32_rows_x16<3>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 2: return f32_rows_x16<2>(kc, a, rsa, csa, b, c, ldc, accumulate);
    default: return f32_rows_x16<1>(kc, a, rsa, csa, b, c, ldc, accumulate);
  }
}

void gemm_avx2_f64_6x8(index_t rows, index_t kc, const double* a, index_t rsa, index_t csa,
                       const double* b, double* c, index_t ldc, bool accumulate) {
  switch (rows) {
    case 6: return f64_rows_x8<6>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 5: return f64_rows_x8<5>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 4: return f64_rows_x8<4>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 3: return f64_rows_x8<3>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 2: return f64_rows_x8<2>(kc, a, rsa, csa, b, c, ldc, accumulate);
    default: return f64_rows_x8<1>(kc, a, rsa, csa, b, c, ldc, accumulate);
  }
}

}  // namespace denseops::avx2_ukernels
