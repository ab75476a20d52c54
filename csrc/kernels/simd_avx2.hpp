// The ymm operations the GEMM tile needs (AVX2 + FMA), for float and double:
// one definition per operation, naming its _ps and _pd intrinsic.
// Included inside the avx2 arch namespace (compiled with -mavx2 -mfma);
// <immintrin.h> is included at file scope by arch_impl.inc.

// The register type for T. Specializations, not std::conditional_t: __m256 as
// a template argument loses its vector attributes (GCC: -Wignored-attributes).
template <class T>
struct YmmRegister;
template <>
struct YmmRegister<float> {
  using type = __m256;
};
template <>
struct YmmRegister<double> {
  using type = __m256d;
};

template <class Elem>
struct Ymm {
  using T = Elem;
  static constexpr bool kF32 = std::is_same_v<T, float>;
  using V = typename YmmRegister<T>::type;
  // Lane i is live when its 32-bit (float) or 64-bit (double) integer is negative.
  using Mask = __m256i;
  static constexpr index_t kLanes = 32 / sizeof(T);

  static V zero() {
    if constexpr (kF32) return _mm256_setzero_ps(); else return _mm256_setzero_pd();
  }
  static V loadu(const T* p) {
    if constexpr (kF32) return _mm256_loadu_ps(p); else return _mm256_loadu_pd(p);
  }
  static void storeu(T* p, V v) {
    if constexpr (kF32) _mm256_storeu_ps(p, v); else _mm256_storeu_pd(p, v);
  }
  static V broadcast(const T* p) {
    if constexpr (kF32) return _mm256_broadcast_ss(p); else return _mm256_broadcast_sd(p);
  }
  static V fmadd(V a, V b, V c) {
    if constexpr (kF32) return _mm256_fmadd_ps(a, b, c); else return _mm256_fmadd_pd(a, b, c);
  }
  static V add(V a, V b) {
    if constexpr (kF32) return _mm256_add_ps(a, b); else return _mm256_add_pd(a, b);
  }
  // The low `live` lanes: lane i is live when i < live.
  static Mask mask(index_t live) {
    if constexpr (kF32)
      return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(live)),
                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    else
      return _mm256_cmpgt_epi64(_mm256_set1_epi64x(live), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  // Masked-off lanes read as zero and never fault.
  static V load_masked(const T* p, Mask m) {
    if constexpr (kF32) return _mm256_maskload_ps(p, m); else return _mm256_maskload_pd(p, m);
  }
  static void store_masked(T* p, V v, Mask m) {
    if constexpr (kF32) _mm256_maskstore_ps(p, m, v); else _mm256_maskstore_pd(p, m, v);
  }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};
