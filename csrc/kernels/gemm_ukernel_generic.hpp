// The portable micro-kernel: the same contract as the AVX2 ones in
// gemm_avx2.hpp, written as plain loops over a small accumulator tile that
// the compiler keeps in vector registers (SSE2 on x86-64, NEON on arm64).
// Included inside an arch namespace.
//
// C[r, j] (+)= sum over k < kc of a[r * rsa + k * csa] * b[k * NR + j],
// for r < ROWS <= MR.

template <class T, int ROWS, int NR>
void gemm_generic_rows(index_t kc, const T* a, index_t rsa, index_t csa, const T* b, T* c,
                       index_t ldc, bool accumulate) {
  T acc[ROWS][NR] = {};
  for (index_t k = 0; k < kc; ++k, a += csa, b += NR) {
    for (int r = 0; r < ROWS; ++r) {
      const T ar = a[r * rsa];
      for (int j = 0; j < NR; ++j) acc[r][j] += ar * b[j];
    }
  }
  for (int r = 0; r < ROWS; ++r) {
    T* cr = c + r * ldc;
    if (accumulate) {
      for (int j = 0; j < NR; ++j) cr[j] += acc[r][j];
    } else {
      for (int j = 0; j < NR; ++j) cr[j] = acc[r][j];
    }
  }
}

// `rows` (1..MR) rows of the tile; only those rows of A and C are touched.
template <class T, int MR, int NR>
void gemm_generic_ukernel(index_t rows, index_t kc, const T* a, index_t rsa, index_t csa,
                          const T* b, T* c, index_t ldc, bool accumulate) {
  static_assert(MR == 4, "one case per row count below");
  switch (rows) {
    case 4: return gemm_generic_rows<T, 4, NR>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 3: return gemm_generic_rows<T, 3, NR>(kc, a, rsa, csa, b, c, ldc, accumulate);
    case 2: return gemm_generic_rows<T, 2, NR>(kc, a, rsa, csa, b, c, ldc, accumulate);
    default: return gemm_generic_rows<T, 1, NR>(kc, a, rsa, csa, b, c, ldc, accumulate);
  }
}
