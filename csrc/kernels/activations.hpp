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

// One struct per kind: value(z) and slope(z, y) = d act / dz, the latter from
// the output y where that is enough (see nn_kinds.hpp), from z for gelu and
// swish. Tiny static functions, so each loop below inlines its kind's math
// and vectorizes where the math allows (erf and expm1 do not always).
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

struct ReluOp {
  template <class T> static T value(T z, T) { return (z > T(0) || z != z) ? z : T(0); }  // np.maximum
  template <class T> static T slope(T, T y, T) { return y > T(0) ? T(1) : T(0); }
  // A select rather than dout * slope: the same result but for dout = inf
  // or NaN where y <= 0 (0, as relu_backward gives), and one instruction.
  template <class T> static T grad(T dout, T, T y, T) { return y > T(0) ? dout : T(0); }
};
struct SigmoidOp {
  template <class T> static T value(T z, T) { return stable_sigmoid(z); }
  template <class T> static T slope(T, T y, T) { return y * (T(1) - y); }
};
struct TanhOp {
  template <class T> static T value(T z, T) { return std::tanh(z); }
  template <class T> static T slope(T, T y, T) { return T(1) - y * y; }
};
// From y while alpha >= 0 (y > 0 exactly where z > 0); the FromInput twin
// below takes the branch from z, for alpha < 0 (see activation_needs_input).
struct EluOp {
  template <class T> static T value(T z, T alpha) { return z > T(0) ? z : alpha * std::expm1(z); }
  template <class T> static T slope(T, T y, T alpha) { return y > T(0) ? T(1) : y + alpha; }  // alpha e^z
};
struct EluFromInputOp : EluOp {
  template <class T> static T slope(T z, T, T alpha) { return z > T(0) ? T(1) : alpha * std::exp(z); }
};
struct SeluOp {
  template <class T> static T value(T z, T) {
    return T(kSeluScale) * (z > T(0) ? z : T(kSeluAlpha) * std::expm1(z));
  }
  template <class T> static T slope(T, T y, T) {
    return y > T(0) ? T(kSeluScale) : y + T(kSeluScale * kSeluAlpha);
  }
};
struct GeluOp {  // Phi(z) z, exact; slope Phi(z) + z phi(z), phi the normal density
  template <class T> static T value(T z, T) {
    return T(0.5) * z * (T(1) + std::erf(z * T(0.70710678118654752440)));
  }
  template <class T> static T slope(T z, T, T) {
    return T(0.5) * (T(1) + std::erf(z * T(0.70710678118654752440))) +
           z * T(0.39894228040143267794) * std::exp(T(-0.5) * z * z);
  }
};
struct LeakyReluOp {
  template <class T> static T value(T z, T alpha) { return z > T(0) ? z : alpha * z; }
  template <class T> static T slope(T, T y, T alpha) { return y > T(0) ? T(1) : alpha; }
};
struct LeakyReluFromInputOp : LeakyReluOp {
  template <class T> static T slope(T z, T, T alpha) { return z > T(0) ? T(1) : alpha; }
};
struct SoftplusOp {  // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z
  template <class T> static T value(T z, T) {
    return std::fmax(z, T(0)) + std::log1p(std::exp(-std::fabs(z)));
  }
  template <class T> static T slope(T, T y, T) { return -std::expm1(-y); }  // sigmoid(z) = 1 - e^-y
};
struct SwishOp {
  template <class T> static T value(T z, T) { return z * stable_sigmoid(z); }
  template <class T> static T slope(T z, T, T) {
    const T s = stable_sigmoid(z);
    return s * (T(1) + z * (T(1) - s));
  }
};
struct LinearOp {
  template <class T> static T value(T z, T) { return z; }
  template <class T> static T slope(T, T, T) { return T(1); }
};

// x is (rows, cols), bias is (cols,) or null, out is (rows, cols), out may be x:
// out = act(x + bias). One pass where an unfused layer would make two.
template <class Op, class T>
void activation_forward_op(const T* x, const T* bias, T* out, index_t rows, index_t cols,
                           T alpha) {
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* o = out + r * cols;
    if (bias) {
      for (index_t c = 0; c < cols; ++c) o[c] = Op::value(xr[c] + bias[c], alpha);
    } else {
      for (index_t c = 0; c < cols; ++c) o[c] = Op::value(xr[c], alpha);
    }
  }
}

// dout, y, dx are (n,); z is (n,) for the kinds that need it, else unused.
// dx = dout * act'(z). dx may alias dout.
// dout * slope, unless Op has a grad() of its own (relu).
template <class Op, class T>
inline auto op_grad(int, T dout, T z, T y, T alpha) -> decltype(Op::grad(dout, z, y, alpha)) {
  return Op::grad(dout, z, y, alpha);
}
template <class Op, class T>
inline T op_grad(long, T dout, T z, T y, T alpha) {
  return dout * Op::slope(z, y, alpha);
}

template <class Op, class T>
void activation_backward_op(const T* dout, const T* z, const T* y, T* dx, index_t n, T alpha) {
  if (z) {
    for (index_t i = 0; i < n; ++i) dx[i] = op_grad<Op>(0, dout[i], z[i], y[i], alpha);
  } else {
    for (index_t i = 0; i < n; ++i) dx[i] = op_grad<Op>(0, dout[i], T(0), y[i], alpha);
  }
}

// Calls f(Op{}) for the struct of `kind` (and of alpha's sign, for the two
// kinds whose gradient then needs z).
template <class F>
void with_activation_op(ActivationKind kind, double alpha, F&& f) {
  switch (kind) {
    case ActivationKind::relu: return f(ReluOp{});
    case ActivationKind::sigmoid: return f(SigmoidOp{});
    case ActivationKind::tanh: return f(TanhOp{});
    case ActivationKind::elu: return alpha < 0 ? f(EluFromInputOp{}) : f(EluOp{});
    case ActivationKind::selu: return f(SeluOp{});
    case ActivationKind::gelu: return f(GeluOp{});
    case ActivationKind::leaky_relu:
      return alpha < 0 ? f(LeakyReluFromInputOp{}) : f(LeakyReluOp{});
    case ActivationKind::softplus: return f(SoftplusOp{});
    case ActivationKind::swish: return f(SwishOp{});
    default: return f(LinearOp{});
  }
}

template <class T>
void activation_forward(ActivationKind kind, const T* x, const T* bias, T* out, index_t rows,
                        index_t cols, T alpha) {
  with_activation_op(kind, alpha, [&](auto op) {
    activation_forward_op<decltype(op)>(x, bias, out, rows, cols, alpha);
  });
}

template <class T>
void activation_backward(ActivationKind kind, const T* dout, const T* z, const T* y, T* dx,
                         index_t n, T alpha) {
  with_activation_op(kind, alpha, [&](auto op) {
    activation_backward_op<decltype(op)>(dout, z, y, dx, n, alpha);
  });
}
