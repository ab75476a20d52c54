// relu and add on bfloat16 arrays (n contiguous elements), as NumPy computes
// them on ml_dtypes.bfloat16: relu is exact (np.maximum(x, 0): NaN stays
// NaN, -0.0 becomes +0.0); a sum is computed in float32 and rounded to
// bfloat16 once (float_to_bf16), as ml_dtypes' add does. One portable copy:
// these stream memory, and the compiler vectorizes them for the baseline ISA.
#pragma once
#include "bf16.hpp"

namespace denseops {

// out = max(x, 0); out may be x.
void bf16_relu(const bf16_t* x, bf16_t* out, index_t n);
// out = x + y; out may be x or y.
void bf16_add(const bf16_t* x, const bf16_t* y, bf16_t* out, index_t n);
// x is (rows, cols), bias is (cols,): out = x + bias per row; out may be x.
void bf16_bias_add(const bf16_t* x, const bf16_t* bias, bf16_t* out, index_t rows, index_t cols);

}  // namespace denseops
