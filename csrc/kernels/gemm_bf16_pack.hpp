// Packing for the bf16 GEMM: float32 -> bf16 rounding happens here, once per
// element, and every stride and transpose is absorbed here, so the tiles
// read one layout. Included inside a bf16 arch namespace.
//
// A panel (R rows): row r at dst + r * kpad, K values then zeros up to kpad;
// rows past the live ones are zero. AMX loads 16 of these rows as one tile
// (row stride kpad * 2 bytes); the vdpbf16ps tile broadcasts pairs of them.
//
// B panel (32 columns, the "VNNI" pair layout AMX and vdpbf16ps read): pair
// row t holds B[2t, j] and B[2t + 1, j] side by side for each column j, at
// dst + t * 64 + 2 * j + {0, 1}; kpad / 2 pair rows; zero past K and past
// the live columns. AMX loads 16 pair rows x 16 columns as one tile (row
// stride 128 bytes), vdpbf16ps one pair row as two zmm.
//
// Padded panels are what keep every tile load inside the buffer.

constexpr index_t kBf16PanelCols = 32;

inline bf16_t bf16_from(float x) { return float_to_bf16(x); }
inline bf16_t bf16_from(bf16_t x) { return x; }

// rows (<= R) live rows of X (X[i, k] at x[i * rs + k * cs]), K deep.
template <class Src>
void bf16_pack_a_panel(index_t rows, index_t R, index_t K, index_t kpad, const Src* x,
                       index_t rs, index_t cs, bf16_t* dst) {
  if (cs == 1) {  // rows of A contiguous: one stream per row
    for (index_t r = 0; r < rows; ++r) {
      const Src* src = x + r * rs;
      bf16_t* d = dst + r * kpad;
      for (index_t k = 0; k < K; ++k) d[k] = bf16_from(src[k]);
    }
  } else {  // a.T (rs == 1) and other strides: read along rows, write down columns
    index_t k = 0;
#if DENSEOPS_BF16_NATIVE
    if (rs == 1 && rows == 32 && R == 32)
      for (; k + 32 <= K; k += 32) bf16_pack_a_transposed_avx512(k, x, cs, kpad, dst);
#endif
    for (; k < K; ++k)
      for (index_t r = 0; r < rows; ++r) dst[r * kpad + k] = bf16_from(x[r * rs + k * cs]);
  }
  for (index_t r = 0; r < R; ++r)
    for (index_t k = r < rows ? K : 0; k < kpad; ++k) dst[r * kpad + k] = 0;
}

// cols (<= 32) live columns of B (B[k, j] at x[k * rs + j * cs]), K deep.
// pairs_done: the whole pair rows of a full row-major panel are already
// packed (bf16_pack_b_pair_rows_avx512); only the odd row and padding remain.
template <class Src>
void bf16_pack_b_panel(index_t cols, index_t K, index_t kpad, const Src* x, index_t rs,
                       index_t cs, bf16_t* dst, bool pairs_done = false) {
  constexpr index_t W = kBf16PanelCols;
  const index_t k_even = K & ~index_t(1);
  if (cs == 1 && cols == W) {  // row-major B: interleave rows 2t and 2t + 1
    for (index_t k = 0; k < (pairs_done ? 0 : k_even); k += 2) {
      const Src *r0 = x + k * rs, *r1 = r0 + rs;
      bf16_t* d = dst + k * W;
      for (index_t j = 0; j < W; ++j) d[2 * j] = bf16_from(r0[j]), d[2 * j + 1] = bf16_from(r1[j]);
    }
  } else if (rs == 1) {  // b.T: each column of B is contiguous, pairs are adjacent
    for (index_t j = 0; j < cols; ++j) {
      const Src* col = x + j * cs;
      for (index_t k = 0; k < k_even; k += 2)
        dst[k * W + 2 * j] = bf16_from(col[k]), dst[k * W + 2 * j + 1] = bf16_from(col[k + 1]);
    }
    for (index_t k = 0; k < k_even; k += 2)
      for (index_t j = cols; j < W; ++j) dst[k * W + 2 * j] = dst[k * W + 2 * j + 1] = 0;
  } else {
    for (index_t k = 0; k < k_even; ++k)
      for (index_t j = 0; j < W; ++j)
        dst[(k / 2) * 2 * W + 2 * j + (k & 1)] = j < cols ? bf16_from(x[k * rs + j * cs]) : 0;
  }
  // An odd K's last row pairs with a zero; then zero pair rows up to kpad.
  if (K & 1) {
    bf16_t* d = dst + k_even * W;
    for (index_t j = 0; j < W; ++j)
      d[2 * j] = j < cols ? bf16_from(x[k_even * rs + j * cs]) : 0, d[2 * j + 1] = 0;
  }
  for (index_t e = (K + 1) / 2 * 2 * W; e < kpad * W; ++e) dst[e] = 0;
}

// C tile (rows x cols live of an MR x NR float tile, row stride ld) into C
// at row i, column j: copied, or rounded to bf16.
inline void bf16_store_tile(index_t rows, index_t cols, const float* tile, index_t ld,
                            const Bf16Result& C, index_t i, index_t j) {
#if DENSEOPS_BF16_NATIVE
  if (cols == kBf16PanelCols)
    return bf16_store_rows_avx512(rows, tile, ld, C.f32 ? C.f32 + i * C.ldc + j : nullptr,
                                  C.bf16 ? C.bf16 + i * C.ldc + j : nullptr, C.ldc);
#endif
  for (index_t r = 0; r < rows; ++r) {
    const float* t = tile + r * ld;
    if (C.f32) {
      float* c = C.f32 + (i + r) * C.ldc + j;
      for (index_t q = 0; q < cols; ++q) c[q] = t[q];
    } else {
      bf16_t* c = C.bf16 + (i + r) * C.ldc + j;
      for (index_t q = 0; q < cols; ++q) c[q] = float_to_bf16(t[q]);
    }
  }
}
