// The zmm operations the GEMM tile needs (AVX-512F), for float and double:
// one definition per operation, naming its _ps and _pd intrinsic.
// Edges use opmask registers: a masked load reads only the live lanes (no
// fault past the end of a row) and a masked store writes only them.
// Included inside the avx512 arch namespace (compiled with -mavx512f ...);
// <immintrin.h> is included at file scope by arch_impl.inc.

// The register type for T. Specializations, not std::conditional_t: __m512 as
// a template argument loses its vector attributes (GCC: -Wignored-attributes).
template <class T>
struct ZmmRegister;
template <>
struct ZmmRegister<float> {
  using type = __m512;
};
template <>
struct ZmmRegister<double> {
  using type = __m512d;
};

template <class Elem>
struct Zmm {
  using T = Elem;
  static constexpr bool kF32 = std::is_same_v<T, float>;
  using V = typename ZmmRegister<T>::type;
  using Mask = std::conditional_t<kF32, __mmask16, __mmask8>;
  static constexpr index_t kLanes = 64 / sizeof(T);

  static V zero() {
    if constexpr (kF32) return _mm512_setzero_ps(); else return _mm512_setzero_pd();
  }
  static V loadu(const T* p) {
    if constexpr (kF32) return _mm512_loadu_ps(p); else return _mm512_loadu_pd(p);
  }
  static void storeu(T* p, V v) {
    if constexpr (kF32) _mm512_storeu_ps(p, v); else _mm512_storeu_pd(p, v);
  }
  static V broadcast(const T* p) {
    if constexpr (kF32) return _mm512_set1_ps(*p); else return _mm512_set1_pd(*p);
  }
  static V fmadd(V a, V b, V c) {
    if constexpr (kF32) return _mm512_fmadd_ps(a, b, c); else return _mm512_fmadd_pd(a, b, c);
  }
  static V add(V a, V b) {
    if constexpr (kF32) return _mm512_add_ps(a, b); else return _mm512_add_pd(a, b);
  }
  // The low `live` lanes.
  static Mask mask(index_t live) {
    return live >= kLanes ? static_cast<Mask>(~0u) : static_cast<Mask>((1u << live) - 1u);
  }
  static V load_masked(const T* p, Mask m) {
    if constexpr (kF32) return _mm512_maskz_loadu_ps(m, p); else return _mm512_maskz_loadu_pd(m, p);
  }
  static void store_masked(T* p, V v, Mask m) {
    if constexpr (kF32) _mm512_mask_storeu_ps(p, m, v); else _mm512_mask_storeu_pd(p, m, v);
  }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};
