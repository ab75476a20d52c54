// Activations of denseops.nn, forward (fused with the bias add) and backward.
// Included inside an arch namespace; plain loops the compiler vectorizes
// where the math allows (erf and the branches of elu do not always).
//
// Sizes: rows x cols for the forward pass (the batch and the units), n
// elements for the backward pass. Formulas and defaults are Keras 3's.

// sigmoid without overflow: exp of -|z| only, so the exponent is never positive.
template <class T>
inline T stable_sigmoid(T z) {
  const T e = std::exp(-std::fabs(z));
  const T inv = T(1) / (T(1) + e);
  return z >= T(0) ? inv : e * inv;
}

template <class T>
inline T activate_one(ActivationKind kind, T z, T alpha) {
  constexpr T kSeluScale = T(1.0507009873554804934193349852946);
  constexpr T kSeluAlpha = T(1.6732632423543772848170429916717);
  switch (kind) {
    case ActivationKind::relu: return (z > T(0) || z != z) ? z : T(0);  // np.maximum(z, 0)
    case ActivationKind::sigmoid: return stable_sigmoid(z);
    case ActivationKind::tanh: return std::tanh(z);
    case ActivationKind::elu: return z > T(0) ? z : alpha * std::expm1(z);
    case ActivationKind::selu: return kSeluScale * (z > T(0) ? z : kSeluAlpha * std::expm1(z));
    case ActivationKind::gelu:
      return T(0.5) * z * (T(1) + std::erf(z * T(0.70710678118654752440)));
    case ActivationKind::leaky_relu: return z > T(0) ? z : alpha * z;
    // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z.
    case ActivationKind::softplus: return std::fmax(z, T(0)) + std::log1p(std::exp(-std::fabs(z)));
    case ActivationKind::swish: return z * stable_sigmoid(z);
    default: return z;
  }
}

// x is (rows, cols), bias is (cols,) or null, out is (rows, cols), out may be x:
// out = act(x + bias). One pass where an unfused layer would make two.
template <class T>
void activation_forward(ActivationKind kind, const T* x, const T* bias, T* out, index_t rows,
                        index_t cols, T alpha) {
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* o = out + r * cols;
    // One switch per row, not per element, so each case is a tight loop.
    switch (kind) {
#define DENSEOPS_ACT_CASE(KIND)                                                 \
  case ActivationKind::KIND:                                                    \
    if (bias) {                                                                 \
      for (index_t c = 0; c < cols; ++c)                                        \
        o[c] = activate_one(ActivationKind::KIND, xr[c] + bias[c], alpha);      \
    } else {                                                                    \
      for (index_t c = 0; c < cols; ++c)                                        \
        o[c] = activate_one(ActivationKind::KIND, xr[c], alpha);                \
    }                                                                           \
    break;
      DENSEOPS_ACT_CASE(relu)
      DENSEOPS_ACT_CASE(sigmoid)
      DENSEOPS_ACT_CASE(tanh)
      DENSEOPS_ACT_CASE(elu)
      DENSEOPS_ACT_CASE(selu)
      DENSEOPS_ACT_CASE(gelu)
      DENSEOPS_ACT_CASE(leaky_relu)
      DENSEOPS_ACT_CASE(softplus)
      DENSEOPS_ACT_CASE(swish)
      DENSEOPS_ACT_CASE(linear)
#undef DENSEOPS_ACT_CASE
      default: break;
    }
  }
}

// d act / dz, from the output y where that is enough (see nn_kinds.hpp),
// from the input z for gelu and swish.
template <class T>
inline T activation_slope(ActivationKind kind, T z, T y, T alpha) {
  constexpr T kSeluScale = T(1.0507009873554804934193349852946);
  constexpr T kSeluAlpha = T(1.6732632423543772848170429916717);
  switch (kind) {
    case ActivationKind::relu: return y > T(0) ? T(1) : T(0);
    case ActivationKind::sigmoid: return y * (T(1) - y);
    case ActivationKind::tanh: return T(1) - y * y;
    case ActivationKind::elu: return y > T(0) ? T(1) : y + alpha;  // alpha e^z = y + alpha
    case ActivationKind::selu: return y > T(0) ? kSeluScale : y + kSeluScale * kSeluAlpha;
    case ActivationKind::gelu:
      // Phi(z) + z phi(z), with phi the standard normal density.
      return T(0.5) * (T(1) + std::erf(z * T(0.70710678118654752440))) +
             z * T(0.39894228040143267794) * std::exp(T(-0.5) * z * z);
    case ActivationKind::leaky_relu: return y > T(0) ? T(1) : alpha;
    case ActivationKind::softplus: return -std::expm1(-y);  // sigmoid(z) = 1 - e^-y
    case ActivationKind::swish: {
      const T s = stable_sigmoid(z);
      return s * (T(1) + z * (T(1) - s));
    }
    default: return T(1);
  }
}

// dout, y, dx are (n,); z is (n,) or null when the kind does not need it.
// dx = dout * act'(z). dx may alias dout.
template <class T>
void activation_backward(ActivationKind kind, const T* dout, const T* z, const T* y, T* dx,
                         index_t n, T alpha) {
  switch (kind) {
#define DENSEOPS_ACT_BACK(KIND)                                                         \
  case ActivationKind::KIND:                                                            \
    if (z) {                                                                            \
      for (index_t i = 0; i < n; ++i)                                                   \
        dx[i] = dout[i] * activation_slope(ActivationKind::KIND, z[i], y[i], alpha);     \
    } else {                                                                            \
      for (index_t i = 0; i < n; ++i)                                                   \
        dx[i] = dout[i] * activation_slope(ActivationKind::KIND, T(0), y[i], alpha);     \
    }                                                                                   \
    break;
    DENSEOPS_ACT_BACK(relu)
    DENSEOPS_ACT_BACK(sigmoid)
    DENSEOPS_ACT_BACK(tanh)
    DENSEOPS_ACT_BACK(elu)
    DENSEOPS_ACT_BACK(selu)
    DENSEOPS_ACT_BACK(gelu)
    DENSEOPS_ACT_BACK(leaky_relu)
    DENSEOPS_ACT_BACK(softplus)
    DENSEOPS_ACT_BACK(swish)
#undef DENSEOPS_ACT_BACK
    default:
      for (index_t i = 0; i < n; ++i) dx[i] = dout[i];
      break;
  }
}
