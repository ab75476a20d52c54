// The textbook GEMM: correct for any strides, the oracle for the blocked
// kernels and the path for products too small to be worth packing.
//
// Sizes: A is (M, K), B is (K, N), C is (M, N).
// A[i, k] lives at A[i * rsa + k * csa], B[k, j] at B[k * rsb + j * csb]
// (row and column strides in elements, any sign); C is row-major with row
// stride ldc. C is overwritten: C = A @ B. Included inside an arch namespace.

// Rows [row_begin, row_end) of C. The i-k-j order streams along a row of B
// and a row of C, so when csb == 1 the inner loop is a contiguous axpy.
template <class T>
void gemm_naive_rows(index_t row_begin, index_t row_end, index_t N, index_t K,
                     const T* A, index_t rsa, index_t csa,
                     const T* B, index_t rsb, index_t csb, T* C, index_t ldc) {
  for (index_t i = row_begin; i < row_end; ++i) {
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

template <class T>
void gemm_naive(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa,
                const T* B, index_t rsb, index_t csb, T* C, index_t ldc) {
  gemm_naive_rows(0, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc);
}
