// The set of kernels one instruction-set build provides. dispatch.cpp picks
// one table per dtype at import; bindings.cpp calls through it. Every entry
// takes contiguous memory unless it says otherwise, decides its own threads,
// and never touches Python.
#pragma once
#include <cstdint>

#include "common.hpp"

namespace denseops {

template <class T>
struct KernelTable {
  const char* arch;  // "generic", "avx2", "avx512" or "avx512-emulated"
  const char* gemm_kind;  // e.g. "packed 6x16 FMA micro-kernel"

  // Elementwise (n elements).
  void (*relu)(const T* x, T* out, index_t n);
  void (*relu_backward)(const T* dout, const T* y, T* dx, index_t n);
  void (*add)(const T* x, const T* y, T* out, index_t n);
  void (*bias_add)(const T* x, const T* bias, T* out, index_t rows, index_t cols);

  // Reductions.
  T (*dot)(const T* x, const T* y, index_t n);
  void (*column_sums)(const T* x, T* out, index_t rows, index_t cols);

  // matmul's kernel, under BLAS's name (gemm.hpp): C (M, N) = A (M, K) @ B (K, N) with
  // element strides as in gemm_naive.hpp.
  void (*gemm)(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa,
               const T* B, index_t rsb, index_t csb, T* C, index_t ldc);

  // Softmax over rows of (B, C); see loss.hpp.
  void (*softmax)(const T* x, T* out, index_t B, index_t C);
  void (*softmax_backward)(const T* dout, const T* y, T* dx, index_t B, index_t C);
  // Fused softmax + cross-entropy: summed loss; dlogits may be null.
  double (*sparse_softmax_cross_entropy)(const T* logits, const std::int64_t* labels,
                                         T* dlogits, index_t B, index_t C, index_t* correct);
  double (*softmax_cross_entropy)(const T* logits, const T* targets, T* dlogits, index_t B,
                                  index_t C, index_t* correct);

  // In-place optimizer updates over n weights; see optim.hpp.
  void (*sgd_update)(T* w, const T* g, T* velocity, index_t n, T lr, T momentum, bool nesterov);
  void (*rmsprop_update)(T* w, const T* g, T* v, index_t n, T lr, T rho, T epsilon);
  void (*adam_update)(T* w, const T* g, T* m, T* v, index_t n, T step_size, T beta_1, T beta_2,
                      T epsilon);

  // Peak-rate probe: `threads` threads each run `iterations` steps of
  // independent FMA chains on this path's GEMM vector type; returns flops.
  double (*fma_probe)(index_t iterations, int threads);

  // denseops.nn kernels. `kind` is an ActivationKind, LossKind or MetricKind
  // (nn_kinds.hpp) passed as an int; see activations.hpp, losses.hpp,
  // nn_metrics.hpp, dropout.hpp and regularizers.hpp for the formulas.
  // out (rows, cols) = act(x + bias); bias (cols,) may be null; out may be x.
  void (*activation)(int kind, const T* x, const T* bias, T* out, index_t rows,
                     index_t cols, T alpha);
  // dx (n,) = dout * act'(z); z may be null unless the kind needs it.
  void (*activation_backward)(int kind, const T* dout, const T* z, const T* y, T* dx, index_t n,
                              T alpha);
  // Weighted sum of per-sample losses; grad (may be null) of the mean over B.
  double (*loss)(int kind, const T* pred, const T* target, const std::int64_t* labels,
                 const T* weight, T* grad, index_t B, index_t D, T param);
  // Weighted sum of a per-sample metric.
  double (*metric)(int kind, const T* pred, const T* target, const std::int64_t* labels,
                   const T* weight, index_t B, index_t D, T param);
  // out (n,) = x * mask of call `counter` of the generator seeded `seed`.
  void (*dropout)(const T* x, T* out, index_t n, std::uint64_t seed, std::uint64_t counter,
                  double rate);
  // l1 sum|w| + l2 sum(w^2), its gradient added to grad (may be null).
  double (*weight_penalty)(const T* w, T* grad, index_t n, T l1, T l2);
  // scikit-learn's MLP output layer: link is a LinkKind (link_loss.hpp).
  void (*link_activation)(int link, const T* z, T* out, index_t B, index_t K);
  double (*link_loss)(int link, const T* z, const T* y, const T* w, T* dz, index_t B, index_t K,
                      T scale);
  void (*axpy)(T alpha, const T* x, T* y, index_t n);
  // The textbook GEMM of gemm_naive.hpp, same arguments as gemm: the
  // reference the tests hold the blocked one to (_kernels._gemm_naive).
  void (*gemm_naive)(index_t M, index_t N, index_t K, const T* A, index_t rsa, index_t csa,
                     const T* B, index_t rsb, index_t csb, T* C, index_t ldc);

  // More of Keras's optimizers, in place over n weights; see optim_more.hpp.
  void (*adagrad_update)(T* w, const T* g, T* accumulator, index_t n, T lr, T epsilon);
  void (*adamax_update)(T* w, const T* g, T* m, T* u, index_t n, T step_size, T beta_1,
                        T beta_2, T epsilon);
  void (*nadam_update)(T* w, const T* g, T* m, T* v, index_t n, T lr, T beta_1, T beta_2,
                       T epsilon, T m_coef, T g_coef, T v_scale);
  // v_hat (amsgrad's running maximum) may be null.
  void (*adamw_update)(T* w, const T* g, T* m, T* v, T* v_hat, index_t n, T decay, T step_size,
                       T beta_1, T beta_2, T epsilon);

  // Keras's BatchNormalization and LayerNormalization over x (B, F); see
  // normalization.hpp. Batch statistics are (F,), layer statistics (B,).
  void (*batch_normalization_stats)(const T* x, T* mean, T* variance, index_t B, index_t F);
  void (*batch_normalization)(const T* x, const T* gamma, const T* beta, const T* mean,
                              const T* variance, T* out, index_t B, index_t F, T epsilon);
  void (*batch_normalization_backward)(const T* dout, const T* x, const T* gamma,
                                       const T* mean, const T* variance, T* dx, T* dgamma,
                                       T* dbeta, index_t B, index_t F, T epsilon);
  void (*layer_normalization)(const T* x, const T* gamma, const T* beta, T* out, T* mean,
                              T* variance, index_t B, index_t F, T epsilon);
  void (*layer_normalization_backward)(const T* dout, const T* x, const T* gamma,
                                       const T* mean, const T* variance, T* dx, T* dgamma,
                                       T* dbeta, index_t B, index_t F, T epsilon);
};

namespace generic {
const KernelTable<float>& table_f32();
const KernelTable<double>& table_f64();
}  // namespace generic

namespace avx2 {
const KernelTable<float>& table_f32();
const KernelTable<double>& table_f64();
}  // namespace avx2

namespace avx512 {
const KernelTable<float>& table_f32();
const KernelTable<double>& table_f64();
}  // namespace avx512

namespace avx512_emulated {
const KernelTable<float>& table_f32();
const KernelTable<double>& table_f64();
}  // namespace avx512_emulated

}  // namespace denseops
