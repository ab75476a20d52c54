// Elementwise kernels over contiguous arrays of n elements.
//
// Written as plain loops the compiler vectorizes: arch_avx2.cpp compiles them
// with -mavx2 -mfma (8 floats / 4 doubles a step), arch_generic.cpp with the
// baseline ISA (SSE2 on x86-64, NEON on arm64). Included inside an arch
// namespace, so each instruction set gets its own copy.
//
// NaN semantics follow NumPy: relu(NaN) is NaN, as in np.maximum(x, 0).

// out = max(x, 0) as np.maximum(x, 0) computes it: NaN stays NaN and -0.0
// becomes +0.0 (hence not `x < 0 ? 0 : x`). Still a branch-free select
// that vectorizes (compare, compare-unordered, or, and). out may be x.
template <class T>
void relu(const T* x, T* out, index_t n) {
  for (index_t i = 0; i < n; ++i) {
    const T v = x[i];
    out[i] = (v > T(0) || v != v) ? v : T(0);
  }
}

// dx = dout where y > 0, else 0. y is the layer's output (relu(x) > 0 exactly
// where x > 0), so the forward pass need not keep its input. dx may alias dout.
template <class T>
void relu_backward(const T* dout, const T* y, T* dx, index_t n) {
  for (index_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dout[i] : T(0);
}

// out = x + y; out may be x or y.
template <class T>
void add(const T* x, const T* y, T* out, index_t n) {
  for (index_t i = 0; i < n; ++i) out[i] = x[i] + y[i];
}

// x is (rows, cols), bias is (cols,), out is (rows, cols): out = x + bias per row.
template <class T>
void bias_add(const T* x, const T* bias, T* out, index_t rows, index_t cols) {
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* outr = out + r * cols;
    for (index_t c = 0; c < cols; ++c) outr[c] = xr[c] + bias[c];
  }
}
