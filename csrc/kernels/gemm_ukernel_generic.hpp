// The portable micro-kernel: the same contract as the AVX2 ones in
// gemm_avx2.hpp, written as plain loops over a small accumulator tile that
// the compiler keeps in vector registers (SSE2 on x86-64, NEON on arm64).
// Included inside an arch namespace.
//
// C[r, j] (+)= sum over k < kc of a[r * rsa + k * csa] * b[k * NR + j]

template <class T, int MR, int NR>
void gemm_generic_ukernel(index_t kc, const T* a, index_t rsa, index_t csa, const T* b, T* c,
                          index_t ldc, bool accumulate) {
  T acc[MR][NR] = {};
  for (index_t k = 0; k < kc; ++k, a += csa, b += NR) {
    for (int r = 0; r < MR; ++r) {
      const T ar = a[r * rsa];
      for (int j = 0; j < NR; ++j) acc[r][j] += ar * b[j];
    }
  }
  for (int r = 0; r < MR; ++r) {
    T* cr = c + r * ldc;
    if (accumulate) {
      for (int j = 0; j < NR; ++j) cr[j] += acc[r][j];
    } else {
      for (int j = 0; j < NR; ++j) cr[j] = acc[r][j];
    }
  }
}
