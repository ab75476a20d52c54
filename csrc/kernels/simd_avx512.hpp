// The zmm operations the GEMM tile needs (AVX-512F), for float and double.
// Edges use opmask registers: a masked load reads only the live lanes (no
// fault past the end of a row) and a masked store writes only them.
// Included inside the avx512 arch namespace (compiled with -mavx512f ...);
// <immintrin.h> is included at file scope by arch_impl.inc.

template <class T>
struct Zmm;

template <>
struct Zmm<float> {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr index_t kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static Mask mask(index_t live) {
    return live >= 16 ? Mask(0xFFFF) : static_cast<Mask>((1u << live) - 1u);
  }
  static V load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};

template <>
struct Zmm<double> {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr index_t kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static Mask mask(index_t live) {
    return live >= 8 ? Mask(0xFF) : static_cast<Mask>((1u << live) - 1u);
  }
  static V load_masked(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store_masked(double* p, V v, Mask m) { _mm512_mask_storeu_pd(p, m, v); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};
