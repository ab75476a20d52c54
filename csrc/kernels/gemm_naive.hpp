// The textbook GEMM: correct for any strides. The reference the tests hold
// the blocked GEMM to (tests/test_gemm_edges.py, through _kernels._gemm_naive),
// and the path for products too small to be worth packing (kGemmTinyMacs).
//
// Sizes: A is (M, K), B is (K, N), C is (M, N).
// A[i, k] lives at A[i * rsa + k * csa], B[k, j] at B[k * rsb + j * csb]
// (row and column strides in elements, any sign); C is row-major with row
// stride ldc. C is overwritten: C = A @ B. Included inside an arch namespace.
//
// The i-k-j order streams along a row of B and a row of C, so when csb == 1
// the inner loop is a contiguous axpy.
template <class T>
void gemm_naive(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa,
                const T* B, index_t rsb, index_t csb, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    for (index_t j = 0; j < N; ++j) c[j] = 0;
    for (index_t k = 0; k < K; ++k) {
      const T a = A[i * rsa + k * csa];
      const T* b = B + k * rsb;
      if (csb == 1) {
        for (index_t j = 0; j < N; ++j) c[j] += a * b[j];
      } else {
        for (index_t j = 0; j < N; ++j) c[j] += a * b[j * csb];
      }
    }
  }
}
