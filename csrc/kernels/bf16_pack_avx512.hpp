// AVX-512 (F/BW) forms of the packing's two costly cases, for the native
// bf16 paths only (the emulations run the scalar loops of
// gemm_bf16_pack.hpp, which produce the same bytes). Included inside a bf16
// arch namespace compiled with AVX-512, before gemm_bf16_pack.hpp uses it.

// 16 float32 -> 16 bf16 in the low halves of 32-bit lanes: float_to_bf16's
// arithmetic, lane by lane.
inline __m512i bf16_round16(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(
      _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
  const __m512i quiet = _mm512_or_si512(
      _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x8000)),
      _mm512_set1_epi32(0x7FC0));
  return _mm512_mask_blend_epi32(nan, rounded, quiet);
}

// The low 16 bits of the 16 lanes of lo32, then of hi32, as 32 bf16: one
// vpermt2w. (Not two vpmovdw halves joined by _mm512_inserti64x4 over a
// cast: GCC 12 then warns -Wmaybe-uninitialized inside its own intrinsic
// headers, an error in the -Werror builds.)
inline __m512i bf16_join(__m512i lo32, __m512i hi32) {
  alignas(64) static constexpr std::uint16_t kLowHalves[32] = {
      0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
      32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
  return _mm512_permutex2var_epi16(lo32, _mm512_load_si512(kLowHalves), hi32);
}

// 32 consecutive values as 32 bf16.
inline __m512i bf16x32(const bf16_t* p) { return _mm512_loadu_si512(p); }
inline __m512i bf16x32(const float* p) {
  return bf16_join(bf16_round16(_mm512_loadu_si512(p)),
                   bf16_round16(_mm512_loadu_si512(p + 16)));
}

// Rows k and k + 1 (32 values each) as 32 pairs: lo holds pairs 0-15, hi 16-31.
inline void bf16_interleave(__m512i r0, __m512i r1, __m512i& lo, __m512i& hi) {
  alignas(64) static constexpr std::uint16_t kLo[32] = {
      0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
      8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  alignas(64) static constexpr std::uint16_t kHi[32] = {
      16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
      24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
  lo = _mm512_permutex2var_epi16(r0, _mm512_load_si512(kLo), r1);
  hi = _mm512_permutex2var_epi16(r0, _mm512_load_si512(kHi), r1);
}

// Pair rows [t0, t1) of the first `panels` (full, 32-column) panels of a
// row-major B (cs == 1), panel q at dst + q * panel_elems. Row pair by row
// pair across all panels, so B is read front to back: panel by panel, its
// 64-byte pieces 1 KiB apart (N = 512) ran at ~20 GB/s, the prefetchers
// following them poorly.
template <class Src>
void bf16_pack_b_pair_rows_avx512(index_t t0, index_t t1, index_t panels, const Src* x,
                                  index_t rs, index_t panel_elems, bf16_t* dst) {
  for (index_t t = t0; t < t1; ++t) {
    const Src* r0 = x + 2 * t * rs;
    for (index_t q = 0; q < panels; ++q) {
      __m512i lo, hi;
      bf16_interleave(bf16x32(r0 + 32 * q), bf16x32(r0 + rs + 32 * q), lo, hi);
      bf16_t* d = dst + q * panel_elems + t * 64;
      _mm512_storeu_si512(d, lo);
      _mm512_storeu_si512(d + 32, hi);
    }
  }
}

// r[i] := column i of the 16 x 16 matrix of 32-bit values whose rows are r[]:
// pairs within 128-bit lanes, then 4 x 4 blocks, then the lanes themselves.
inline void transpose16x16_epi32(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // u[4 i + c], lane L: rows 4i..4i+3 of column 4L + c.
  for (int c = 0; c < 4; ++c) {
    const __m512i x0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
    const __m512i x1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
    const __m512i y0 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
    const __m512i y1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(x0, y0, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(x1, y1, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
  }
}

// 32 rows of a.T (A stored (K, M): row r of the panel is column r, rs == 1)
// for k in [k0, k0 + 32): pairs of source rows interleaved, so each 32-bit
// value is row r's pair (k, k + 1), then 16 x 16 transposes of those pairs
// give each panel row its 32 consecutive k.
template <class Src>
void bf16_pack_a_transposed_avx512(index_t k0, const Src* x, index_t cs, index_t kpad,
                                   bf16_t* dst) {
  __m512i lo[16], hi[16];
  for (int t = 0; t < 16; ++t) {
    const index_t k = k0 + 2 * t;
    bf16_interleave(bf16x32(x + k * cs), bf16x32(x + (k + 1) * cs), lo[t], hi[t]);
  }
  transpose16x16_epi32(lo);
  transpose16x16_epi32(hi);
  for (int r = 0; r < 16; ++r) {
    _mm512_storeu_si512(dst + r * kpad + k0, lo[r]);
    _mm512_storeu_si512(dst + (16 + r) * kpad + k0, hi[r]);
  }
}

// A full-width (32-column) C tile of `rows` rows into C: float32 copied, or
// rounded to bf16 16 lanes at a time.
inline void bf16_store_rows_avx512(index_t rows, const float* tile, index_t ld, float* c32,
                                   bf16_t* c16, index_t ldc) {
  for (index_t r = 0; r < rows; ++r) {
    const __m512i lo = _mm512_loadu_si512(tile + r * ld);
    const __m512i hi = _mm512_loadu_si512(tile + r * ld + 16);
    if (c32) {
      _mm512_storeu_si512(c32 + r * ldc, lo);
      _mm512_storeu_si512(c32 + r * ldc + 16, hi);
    } else {
      _mm512_storeu_si512(c16 + r * ldc, bf16_join(bf16_round16(lo), bf16_round16(hi)));
    }
  }
}
