// AMX tile registers and vdpbf16ps on plain arrays: the amx-emulated and
// avx512-bf16-emulated test paths, which run the same packing, tile shapes
// and order of operations as the hardware on any CPU (slowly).
// Included inside a bf16 arch namespace.
//
// The arithmetic follows the pseudo-code of Intel's SDM for TDPBF16PS and
// VDPBF16PS: each product of two bf16 values is exact in float32 and is added
// to the float32 accumulator with one rounding (to nearest even), the even
// element of a pair first for TDPBF16PS, the odd one first for VDPBF16PS;
// bf16 inputs that are subnormal count as zero (DAZ) and subnormal results are
// flushed to zero (FTZ), as both instructions do whatever MXCSR says.

inline float bf16_daz(bf16_t h) { return (h & 0x7F80u) == 0 ? 0.0f : bf16_to_float(h); }

inline float f32_ftz(float x) {
  const std::uint32_t u = float_bits(x);
  return (u & 0x7F800000u) == 0 ? bits_float(u & 0x80000000u) : x;
}

// acc + a * b, then acc + c * d: the two halves of one pair, in that order.
inline float bf16_pair_step(float acc, bf16_t a, bf16_t b, bf16_t c, bf16_t d) {
  acc = f32_ftz(acc + bf16_daz(a) * bf16_daz(b));
  return f32_ftz(acc + bf16_daz(c) * bf16_daz(d));
}

// Eight tiles of 16 rows x 64 bytes; tiles 0-3 hold C (float32 16 x 16),
// 4-5 A (bf16 16 x 32), 6-7 B (16 pair rows x 16 columns).
struct EmulatedAmx {
  static constexpr const char* kind = "emulated AMX tiles";
  struct Tile {
    alignas(64) unsigned char bytes[16 * 64];
  };
  Tile t[8];

  void configure() {}
  void release() {}
  void zero(int c) { std::memset(t[c].bytes, 0, sizeof t[c].bytes); }
  void load(int tile, const void* p, index_t stride_bytes) {
    for (int r = 0; r < 16; ++r)
      std::memcpy(t[tile].bytes + r * 64, static_cast<const char*>(p) + r * stride_bytes, 64);
  }
  void store(int tile, void* p, index_t stride_bytes) const {
    for (int r = 0; r < 16; ++r)
      std::memcpy(static_cast<char*>(p) + r * stride_bytes, t[tile].bytes + r * 64, 64);
  }
  // C[m][n] += sum over pairs p of A[m][2p..2p+1] . B[p][2n..2n+1]
  void dp(int c, int a, int b) {
    float C[16][16];
    bf16_t A[16][32], B[16][32];
    std::memcpy(C, t[c].bytes, sizeof C);
    std::memcpy(A, t[a].bytes, sizeof A);
    std::memcpy(B, t[b].bytes, sizeof B);
    for (int m = 0; m < 16; ++m)
      for (int p = 0; p < 16; ++p)
        for (int n = 0; n < 16; ++n)
          C[m][n] = bf16_pair_step(C[m][n], A[m][2 * p], B[p][2 * n], A[m][2 * p + 1],
                                   B[p][2 * n + 1]);
    std::memcpy(t[c].bytes, C, sizeof C);
  }
};

// A zmm of 16 float32 lanes, and 32 bf16 values (16 pairs) as vdpbf16ps reads them.
struct EmulatedDp {
  static constexpr const char* kind = "emulated AVX512-BF16 micro-kernel";
  struct V {
    float lane[16];
  };
  struct Pairs {
    bf16_t h[32];
  };
  static V zero() { return V{}; }
  static Pairs load_pairs(const bf16_t* p) {
    Pairs r;
    std::memcpy(r.h, p, sizeof r.h);
    return r;
  }
  static Pairs broadcast_pair(const bf16_t* p) {
    Pairs r;
    for (int j = 0; j < 16; ++j) r.h[2 * j] = p[0], r.h[2 * j + 1] = p[1];
    return r;
  }
  static V dp(V acc, Pairs a, Pairs b) {
    for (int j = 0; j < 16; ++j)
      acc.lane[j] = bf16_pair_step(acc.lane[j], a.h[2 * j + 1], b.h[2 * j + 1], a.h[2 * j],
                                   b.h[2 * j]);
    return acc;
  }
  static void store(float* p, V v) { std::memcpy(p, v.lane, sizeof v.lane); }
};
