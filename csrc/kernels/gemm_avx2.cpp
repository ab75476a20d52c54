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

inline void store_f64(double* c, __m256d v, bool accumulate) {
  if (accumulate) v = _mm256_add_pd(v, _mm256_loadu_pd(c));
  _mm256_storeu_pd(c, v);
}

}  // namespace

void gemm_avx2_f32_6x16(index_t kc, const float* a, index_t rsa, index_t csa, const float* b,
                        float* c, index_t ldc, bool accumulate) {
  prefetch_tile(c, ldc, 6, 16 * sizeof(float));
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // Rows 3..5 from a second base pointer so every address is base + index * {1,2}.
  const float* a3 = a + 3 * rsa;
  for (index_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ar = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(ar, b0, c00), c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + rsa);
    c10 = _mm256_fmadd_ps(ar, b0, c10), c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2 * rsa);
    c20 = _mm256_fmadd_ps(ar, b0, c20), c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a3);
    c30 = _mm256_fmadd_ps(ar, b0, c30), c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a3 + rsa);
    c40 = _mm256_fmadd_ps(ar, b0, c40), c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a3 + 2 * rsa);
    c50 = _mm256_fmadd_ps(ar, b0, c50), c51 = _mm256_fmadd_ps(ar, b1, c51);
    a += csa, a3 += csa, b += 16;
  }
  store_f32(c, c00, accumulate), store_f32(c + 8, c01, accumulate), c += ldc;
  store_f32(c, c10, accumulate), store_f32(c + 8, c11, accumulate), c += ldc;
  store_f32(c, c20, accumulate), store_f32(c + 8, c21, accumulate), c += ldc;
  store_f32(c, c30, accumulate), store_f32(c + 8, c31, accumulate), c += ldc;
  store_f32(c, c40, accumulate), store_f32(c + 8, c41, accumulate), c += ldc;
  store_f32(c, c50, accumulate), store_f32(c + 8, c51, accumulate);
}

void gemm_avx2_f64_6x8(index_t kc, const double* a, index_t rsa, index_t csa, const double* b,
                       double* c, index_t ldc, bool accumulate) {
  prefetch_tile(c, ldc, 6, 8 * sizeof(double));
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
  const double* a3 = a + 3 * rsa;
  for (index_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
    __m256d ar = _mm256_broadcast_sd(a);
    c00 = _mm256_fmadd_pd(ar, b0, c00), c01 = _mm256_fmadd_pd(ar, b1, c01);
    ar = _mm256_broadcast_sd(a + rsa);
    c10 = _mm256_fmadd_pd(ar, b0, c10), c11 = _mm256_fmadd_pd(ar, b1, c11);
    ar = _mm256_broadcast_sd(a + 2 * rsa);
    c20 = _mm256_fmadd_pd(ar, b0, c20), c21 = _mm256_fmadd_pd(ar, b1, c21);
    ar = _mm256_broadcast_sd(a3);
    c30 = _mm256_fmadd_pd(ar, b0, c30), c31 = _mm256_fmadd_pd(ar, b1, c31);
    ar = _mm256_broadcast_sd(a3 + rsa);
    c40 = _mm256_fmadd_pd(ar, b0, c40), c41 = _mm256_fmadd_pd(ar, b1, c41);
    ar = _mm256_broadcast_sd(a3 + 2 * rsa);
    c50 = _mm256_fmadd_pd(ar, b0, c50), c51 = _mm256_fmadd_pd(ar, b1, c51);
    a += csa, a3 += csa, b += 8;
  }
  store_f64(c, c00, accumulate), store_f64(c + 4, c01, accumulate), c += ldc;
  store_f64(c, c10, accumulate), store_f64(c + 4, c11, accumulate), c += ldc;
  store_f64(c, c20, accumulate), store_f64(c + 4, c21, accumulate), c += ldc;
  store_f64(c, c30, accumulate), store_f64(c + 4, c31, accumulate), c += ldc;
  store_f64(c, c40, accumulate), store_f64(c + 4, c41, accumulate), c += ldc;
  store_f64(c, c50, accumulate), store_f64(c + 4, c51, accumulate);
}

}  // namespace denseops::avx2_ukernels
