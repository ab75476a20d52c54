// A vector of LANES elements held in a plain array, with the operations the
// GEMM tile needs written as loops. Two uses:
//   - the portable micro-kernel (generic build): LANES = one SSE2/NEON
//     register, and the compiler turns each loop into one instruction;
//   - the AVX-512 tile on CPUs without AVX-512 (the avx512-emulated test
//     path): LANES = 16 floats / 8 doubles, so the exact tile sizes, column
//     masks and block sizes of the AVX-512 path run on any CPU.
// Included inside an arch namespace.

template <class Elem, int LANES>
struct EmulatedVec {
  using T = Elem;
  struct V {
    T lane[LANES];
  };
  using Mask = index_t;  // lanes [0, Mask) are live
  static constexpr index_t kLanes = LANES;

  static V zero() {
    V r;
    for (int i = 0; i < LANES; ++i) r.lane[i] = T(0);
    return r;
  }
  static V loadu(const T* p) {
    V r;
    for (int i = 0; i < LANES; ++i) r.lane[i] = p[i];
    return r;
  }
  static void storeu(T* p, V v) {
    for (int i = 0; i < LANES; ++i) p[i] = v.lane[i];
  }
  static V broadcast(const T* p) {
    V r;
    for (int i = 0; i < LANES; ++i) r.lane[i] = *p;
    return r;
  }
  static V fmadd(V a, V b, V c) {
    for (int i = 0; i < LANES; ++i) c.lane[i] += a.lane[i] * b.lane[i];
    return c;
  }
  static V add(V a, V b) {
    for (int i = 0; i < LANES; ++i) a.lane[i] += b.lane[i];
    return a;
  }
  static Mask mask(index_t live) { return live; }
  // Lanes past the mask are zero and their memory is never touched.
  static V load_masked(const T* p, Mask live) {
    V r;
    for (int i = 0; i < LANES; ++i) r.lane[i] = i < live ? p[i] : T(0);
    return r;
  }
  static void store_masked(T* p, V v, Mask live) {
    for (int i = 0; i < LANES; ++i)
      if (i < live) p[i] = v.lane[i];
  }
  static void prefetch(const void*) {}
};
