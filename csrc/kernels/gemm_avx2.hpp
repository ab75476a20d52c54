// AVX2/FMA GEMM micro-kernels, defined in gemm_avx2.cpp (compiled with
// -mavx2 -mfma for that file only). Call them only after dispatch.cpp has
// seen AVX2 and FMA on the CPU.
//
// A micro-kernel computes `rows` (1..MR) rows x NR columns of C from kc steps:
//   C[r, j] (+)= sum over k of A[r, k] * Bp[k, j]     r < rows, j < NR
// Only those rows of A and C are touched.
// A[r, k] is read at a[r * rsa + k * csa]: packed panels pass rsa = 1,
// csa = MR; the unpacked path passes the matrix's own strides.
// Bp is a packed micro-panel: kc rows of NR contiguous elements, 32-byte
// aligned. C is row-major with row stride ldc; accumulate = false overwrites
// it (the first K block), true adds to it (later K blocks).
#pragma once
#include "common.hpp"

namespace denseops::avx2_ukernels {

// 6x16: 12 ymm accumulators + 2 B vectors + 1 broadcast A = 15 of 16 ymm.
// Per k-step 2 loads of B, 6 broadcasts, 12 FMAs: FMA-bound on Zen 3.
void gemm_avx2_f32_6x16(index_t rows, index_t kc, const float* a, index_t rsa, index_t csa,
                        const float* b, float* c, index_t ldc, bool accumulate);

// 6x8: the same register plan with 4 doubles per ymm.
void gemm_avx2_f64_6x8(index_t rows, index_t kc, const double* a, index_t rsa, index_t csa,
                       const double* b, double* c, index_t ldc, bool accumulate);

}  // namespace denseops::avx2_ukernels
