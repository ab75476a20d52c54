// Inference through a stack of Dense layers in one call: for each chunk of
// rows, every layer's product, bias and activation, without returning to
// Python between layers. Used by Sequential.predict / __call__ / evaluate.
//
// Sizes: B rows of input (the batch), layer l maps (rows, D_l) to
// (rows, D_{l+1}); D_0 is the input width and D_L the output width.
//
// It calls the same table entries, in the same order and on the same row
// ranges, as the per-layer path (Dense.infer: matmul, then the activation
// with the bias fused, or bias_add then softmax), so its results are
// bit-identical to that path's for the same chunking and thread count:
// Sequential._infer_layers is its twin, and tests/test_fused_inference.py
// holds the two to the same bits. Threads: each entry decides its own
// (threads_for), as it does when called from Python.
#pragma once
#include <algorithm>

#include "kernel_table.hpp"
#include "nn_kinds.hpp"

namespace denseops {

// The activation code of the final softmax: not an ActivationKind, since
// softmax is a row operation with its own kernel (loss.hpp), not elementwise.
constexpr int kSoftmaxActivation = -1;

// One Dense layer as the kernel reads it: kernel is (in, out), row-major;
// bias is (out,) or null; activation an ActivationKind or kSoftmaxActivation.
template <class T>
struct DenseStep {
  const T* kernel;
  const T* bias;
  index_t in, out;
  int activation;
  T alpha;
};

// z (rows, N) = act(z + bias), in place, exactly as Dense.infer computes it:
// the kinds that keep their input for backward add the bias first (add, then
// the activation), the others fuse it into the activation's pass.
template <class T>
void dense_step_epilogue(const KernelTable<T>& k, const DenseStep<T>& s, T* z, index_t rows) {
  const index_t N = s.out;
  if (s.activation == kSoftmaxActivation) {
    if (s.bias) k.bias_add(z, s.bias, z, rows, N);
    k.softmax(z, z, rows, N);
    return;
  }
  const auto kind = static_cast<ActivationKind>(s.activation);
  if (kind == ActivationKind::linear) {
    if (s.bias) k.bias_add(z, s.bias, z, rows, N);
  } else if (activation_needs_input(kind, s.alpha)) {
    if (s.bias) k.bias_add(z, s.bias, z, rows, N);
    k.activation(s.activation, z, nullptr, z, rows, N, s.alpha);
  } else {
    k.activation(s.activation, z, s.bias, z, rows, N, s.alpha);
  }
}

// Elements of scratch network_forward needs for chunks of up to `rows`
// rows: two buffers as tall as the chunk and as wide as the widest hidden
// layer (the last layer writes straight into `out`).
template <class T>
index_t network_scratch_elems(const DenseStep<T>* steps, index_t count, index_t rows) {
  index_t widest = 0;
  for (index_t l = 0; l + 1 < count; ++l) widest = std::max(widest, steps[l].out);
  return 2 * rows * widest;
}

// x is (rows, D_0), out is (rows, D_L); steps[0..count) chain (D_l, D_{l+1})
// and count >= 1 (the binding checks both). scratch holds
// network_scratch_elems(steps, count, rows) elements and belongs to this call
// alone, so concurrent calls share nothing but the (read-only) weights.
// The caller runs a long batch in chunks through this, so hidden activations
// take 2 x chunk x widest elements instead of B x widest per layer.
template <class T>
void network_forward(const KernelTable<T>& k, const DenseStep<T>* steps, index_t count,
                     const T* x, T* out, index_t rows, T* scratch) {
  T* const ping = scratch;
  T* const pong = scratch + network_scratch_elems(steps, count, rows) / 2;
  const T* src = x;
  for (index_t l = 0; l < count; ++l) {
    const DenseStep<T>& s = steps[l];
    T* dst = l + 1 == count ? out : (l % 2 ? pong : ping);
    // dst (rows, out) = src (rows, in) @ kernel (in, out)
    k.gemm(rows, s.out, s.in, src, s.in, 1, s.kernel, s.out, 1, dst, s.out);
    dense_step_epilogue(k, s, dst, rows);
    src = dst;
  }
}

}  // namespace denseops
