// The ymm operations the GEMM tile needs (AVX2 + FMA), for float and double.
// Included inside the avx2 arch namespace (compiled with -mavx2 -mfma);
// <immintrin.h> is included at file scope by arch_impl.inc.

template <class T>
struct Ymm;

template <>
struct Ymm<float> {
  using T = float;
  using V = __m256;
  using Mask = __m256i;  // lane i live when its 32-bit integer is negative
  static constexpr index_t kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static Mask mask(index_t live) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(live)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // Masked-off lanes read as zero and never fault.
  static V load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store_masked(float* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};

template <>
struct Ymm<double> {
  using T = double;
  using V = __m256d;
  using Mask = __m256i;  // lane i live when its 64-bit integer is negative
  static constexpr index_t kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static Mask mask(index_t live) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(live), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V load_masked(const double* p, Mask m) { return _mm256_maskload_pd(p, m); }
  static void store_masked(double* p, V v, Mask m) { _mm256_maskstore_pd(p, m, v); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};
