// The only file that includes pybind11 (with array_policy.hpp, the input
// policy it applies). Every argument is checked here, once; then the GIL is
// released and a kernel from csrc/kernels/ runs on raw pointers. Each binding
// below is that sequence for one op: take and check the arguments, then
// by_dtype -> into_result (or the scalar form) -> the kernel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <memory>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "array_policy.hpp"
#include "docstrings.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/elementwise_bf16.hpp"
#include "kernels/network_forward.hpp"
#include "kernels/nn_kinds.hpp"
#include "kernels/threading.hpp"

using denseops::Bf16Operand;
using denseops::Bf16Result;
using denseops::index_t;
using namespace denseops::binding;

namespace {

// ---------------------------------------------------------------- the skeleton

// One input of a kernel that writes an array: how it may share memory with
// that array (see read_apart), or absent (an optional argument not given,
// read as a null pointer).
struct Read {
  py::handle array;  // null when absent; the caller's argument keeps it alive
  InPlace mode;

  // Read element by element, each before the same element is written.
  static Read elementwise(const py::array& a) { return {a, InPlace::allowed}; }
  // Read anywhere while anything is written (rows, columns, a whole vector).
  static Read whole(const py::array& a) { return {a, InPlace::refused}; }
  static Read optional(bool present, const py::array& a, InPlace mode = InPlace::refused) {
    return {present ? py::handle(a) : py::handle(), mode};
  }

  template <class T>
  py::array_t<T> take(const py::array* written) const {
    if (!array) return absent<T>();
    return readable<T>(py::reinterpret_borrow<py::array>(array), written, mode);
  }
};

// kernel(const T* input..., T* out) on `result` with the GIL released, each
// input read apart from `result` (unless `fresh`: then nothing can share its memory).
template <class T, class Kernel, class... Reads>
py::array write_into(py::array_t<T> result, bool fresh, Kernel kernel, const Reads&... reads) {
  const py::array* written = fresh ? nullptr : &result;
  const auto held = std::make_tuple(reads.template take<T>(written)...);
  T* const po = result.mutable_data();
  std::apply(
      [&](const auto&... h) {
        const auto pointers = std::make_tuple(data_or_null<T>(h)...);
        without_gil([&] { std::apply([&](auto... p) { kernel(p..., po); }, pointers); });
      },
      held);
  return std::move(result);
}

// The skeleton of every binding that returns an array: the caller's `out`
// (checked) or a fresh array of `shape`, then write_into it.
template <class T, class Kernel, class... Reads>
py::array into_result(const char* fn, const py::object& out, const std::vector<py::ssize_t>& shape,
                      const py::array& like, Kernel kernel, const Reads&... reads) {
  return write_into<T>(output<T>(fn, out, shape, like), out.is_none(), kernel, reads...);
}

// ---------------------------------------------------------------- bfloat16 arrays

// A bf16 input as the elementwise kernels read it: C-contiguous and aligned,
// copied when it is not (a copy, never a cast: pybind11's array_t<uint16_t>
// would convert the values), and read apart from `written`.
py::array bf16_readable(const py::array& a, const py::array* written, InPlace mode) {
  py::array c = (a.flags() & py::array::c_style) && is_aligned(a) ? a : copy_of(a);
  return written ? read_apart(c, *written, mode) : c;
}

// The result of an elementwise kernel on bf16 arrays: a fresh bf16 array,
// or the caller's `out`, which must be bf16 too (output() checks the rest;
// its array_t<bf16_t> is only a handle here, never a conversion).
py::array bf16_elementwise_output(const char* fn, const py::object& out,
                                  const std::vector<py::ssize_t>& shape, const py::array& like) {
  if (out.is_none()) return py::array(like.dtype(), shape);
  if (py::isinstance<py::array>(out) && !is_bf16(py::reinterpret_borrow<py::array>(out))) {
    throw py::type_error(message(fn, "out must have dtype bfloat16 (the inputs' dtype), got " +
                                         dtype_str(py::reinterpret_borrow<py::array>(out))));
  }
  return output<denseops::bf16_t>(fn, out, shape, like);
}

const denseops::bf16_t* bf16_data(const py::array& a) {
  return static_cast<const denseops::bf16_t*>(a.data());
}

denseops::bf16_t* bf16_mutable_data(py::array& a) {
  return static_cast<denseops::bf16_t*>(a.mutable_data());
}

// ---------------------------------------------------------------- relu, add, dot, column_sums

py::array relu(const py::object& x_obj, const py::object& out) {
  py::array x = take_array("relu", "x", x_obj, Dtypes::floats_and_bf16);
  if (is_bf16(x)) {
    py::array result = bf16_elementwise_output("relu", out, shape_vec(x), x);
    const py::array xc = bf16_readable(x, out.is_none() ? nullptr : &result, InPlace::allowed);
    const denseops::bf16_t* px = bf16_data(xc);
    denseops::bf16_t* po = bf16_mutable_data(result);
    without_gil([&, n = x.size()] { denseops::bf16_relu(px, po, n); });
    return result;
  }
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        "relu", out, shape_vec(x), x,
        [n = x.size()](const T* px, T* po) { kernels<T>().relu(px, po, n); }, Read::elementwise(x));
  });
}

py::array relu_backward(const py::object& dout_obj, const py::object& y_obj,
                        const py::object& out) {
  const char* fn = "relu_backward";
  py::array dout = take_array(fn, "dout", dout_obj);
  py::array y = take_array(fn, "y", y_obj);
  require_same_dtype(fn, "dout", dout, "y", y);
  if (!same_shape(dout, y)) {
    throw py::value_error(message(fn, "dout and y must have the same shape, got " +
                                          shape_str(dout) + " and " + shape_str(y)));
  }
  return by_dtype(y, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, shape_vec(y), y,
        [n = y.size()](const T* pd, const T* py_, T* po) {
          kernels<T>().relu_backward(pd, py_, po, n);
        },
        Read::elementwise(dout), Read::elementwise(y));
  });
}

py::array add(const py::object& x_obj, const py::object& y_obj, const py::object& out) {
  const char* fn = "add";
  py::array x = take_array(fn, "x", x_obj, Dtypes::floats_and_bf16);
  py::array y = take_array(fn, "y", y_obj, Dtypes::floats_and_bf16);
  require_same_dtype(fn, "x", x, "y", y);
  const bool elementwise = same_shape(x, y);
  const bool bias =
      !elementwise && x.ndim() >= 1 && y.ndim() == 1 && y.shape(0) == x.shape(x.ndim() - 1);
  if (!elementwise && !bias) {
    throw py::value_error(message(fn, "operands could not be broadcast together with shapes " +
                                          shape_str(x) + " " + shape_str(y) +
                                          "; add takes equal shapes, or x of shape (..., n) and a "
                                          "bias y of shape (n,)"));
  }
  const index_t n = x.size(), cols = bias ? y.shape(0) : 0;
  if (is_bf16(x)) {
    py::array result = bf16_elementwise_output(fn, out, shape_vec(x), x);
    const py::array* written = out.is_none() ? nullptr : &result;
    const py::array xc = bf16_readable(x, written, InPlace::allowed);
    const py::array yc = bf16_readable(y, written, elementwise ? InPlace::allowed : InPlace::refused);
    const denseops::bf16_t *px = bf16_data(xc), *py_ = bf16_data(yc);
    denseops::bf16_t* po = bf16_mutable_data(result);
    without_gil([&] {
      if (elementwise)
        denseops::bf16_add(px, py_, po, n);
      else if (cols > 0)
        denseops::bf16_bias_add(px, py_, po, n / cols, cols);
    });
    return result;
  }
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, shape_vec(x), x,
        [=](const T* px, const T* py_, T* po) {
          if (elementwise) {
            kernels<T>().add(px, py_, po, n);
          } else if (cols > 0) {
            kernels<T>().bias_add(px, py_, po, n / cols, cols);
          }
        },
        Read::elementwise(x), Read::elementwise(y));
  });
}

double dot(const py::object& x_obj, const py::object& y_obj) {
  const char* fn = "dot";
  py::array x = take_array(fn, "x", x_obj);
  py::array y = take_array(fn, "y", y_obj);
  require_same_dtype(fn, "x", x, "y", y);
  if (x.ndim() != 1 || y.ndim() != 1 || x.shape(0) != y.shape(0)) {
    throw py::value_error(message(fn, "expected two 1-D arrays of the same length, got shapes " +
                                          shape_str(x) + " and " + shape_str(y)));
  }
  return by_dtype(x, [&](auto tag) -> double {
    using T = decltype(tag);
    auto xc = readable<T>(x, nullptr);
    auto yc = readable<T>(y, nullptr);
    const T *px = xc.data(), *py_ = yc.data();
    return without_gil([&, n = x.size()] { return double(kernels<T>().dot(px, py_, n)); });
  });
}

py::array column_sums(const py::object& x_obj, const py::object& out) {
  const char* fn = "column_sums";
  py::array x = take_array(fn, "x", x_obj);
  if (x.ndim() != 2) {
    throw py::value_error(message(fn, "x must be 2-D (rows, cols), got shape " + shape_str(x)));
  }
  const index_t rows = x.shape(0), cols = x.shape(1);
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, {cols}, x,
        [=](const T* px, T* po) { kernels<T>().column_sums(px, po, rows, cols); }, Read::whole(x));
  });
}

// ---------------------------------------------------------------- matmul

// An operand as the GEMM kernels see it: a pointer and element strides.
template <class T>
struct StridedMatrix {
  py::array keep_alive;  // owns a copy when one was needed
  const T* data;
  index_t rows, cols, row_stride, col_stride;
};

// View `a` (2-D, possibly transposed) without copying when its byte strides
// are whole elements; the packing inside the GEMM absorbs any layout. Read
// apart from `written` (null: a fresh result) like every other input.
template <class T>
StridedMatrix<T> strided(const py::array& a, bool transpose, const py::array* written) {
  py::array src = a;
  if (!is_aligned(a)) src = contiguous<T>(a);  // odd byte strides or address: rare, copy once
  if (written) src = read_apart(src, *written, InPlace::refused);
  StridedMatrix<T> m{src,
                     static_cast<const T*>(src.data()),
                     src.shape(0),
                     src.shape(1),
                     src.strides(0) / static_cast<py::ssize_t>(sizeof(T)),
                     src.strides(1) / static_cast<py::ssize_t>(sizeof(T))};
  if (transpose) {
    std::swap(m.rows, m.cols);
    std::swap(m.row_stride, m.col_stride);
  }
  return m;
}

// The operands of a product, checked: a @ b with either transposed.
struct Product {
  py::array a, b;
  py::ssize_t M, N, K;
};

Product take_product(const char* fn, const py::object& a_obj, const py::object& b_obj, bool trans_a,
                     bool trans_b, Dtypes dtypes = Dtypes::floats) {
  py::array a = take_array(fn, "a", a_obj, dtypes);
  py::array b = take_array(fn, "b", b_obj, dtypes);
  require_same_dtype(fn, "a", a, "b", b);
  if (a.ndim() != 2 || b.ndim() != 2) {
    throw py::value_error(
        message(fn, "a and b must be 2-D, got shapes " + shape_str(a) + " and " + shape_str(b)));
  }
  const py::ssize_t M = trans_a ? a.shape(1) : a.shape(0);
  const py::ssize_t K = trans_a ? a.shape(0) : a.shape(1);
  const py::ssize_t Kb = trans_b ? b.shape(1) : b.shape(0);
  const py::ssize_t N = trans_b ? b.shape(0) : b.shape(1);
  if (K != Kb) {
    std::ostringstream s;
    s << fn << ": shapes " << shape_str(a) << " and " << shape_str(b)
      << " do not fit: " << (trans_a ? "a.T" : "a") << " is (" << M << ", " << K << ") and "
      << (trans_b ? "b.T" : "b") << " is (" << Kb << ", " << N << "); size " << K
      << " is different from " << Kb;
    throw py::value_error(s.str());
  }
  return {std::move(a), std::move(b), M, N, K};
}

// A big product runs as tiles of C, with a look for Ctrl-C between tiles, so
// a KeyboardInterrupt is honoured within a fraction of a second rather than
// after minutes. A tile of ~1e10 flops takes ~0.1 s and stays large enough
// that re-packing B per tile costs < 1 %. Tiles are bands of at least 64
// rows; when even 64 rows are too much work (few rows and a huge K or N:
// 64 x 150000 x 150000), the band is cut into columns too.
template <class T>
void gemm_in_interruptible_tiles(const StridedMatrix<T>& A, const StridedMatrix<T>& B, T* C,
                                 index_t M, index_t N, index_t K) {
  constexpr double kFlopsPerTile = 1e10;
  const double flops_per_row = 2.0 * static_cast<double>(N) * static_cast<double>(K);
  const index_t band =
      std::max<index_t>(64, static_cast<index_t>(kFlopsPerTile / std::max(flops_per_row, 1.0)));
  const double flops_per_band_column = 2.0 * static_cast<double>(std::min<index_t>(band, M)) * K;
  const index_t width = std::max<index_t>(
      256, static_cast<index_t>(kFlopsPerTile / std::max(flops_per_band_column, 1.0)));
  for (index_t first = 0; first < M; first += band) {
    const index_t rows = std::min<index_t>(band, M - first);
    for (index_t col = 0; col < N; col += width) {
      const index_t cols = std::min<index_t>(width, N - col);
      without_gil([&] {
        kernels<T>().gemm(rows, cols, K, A.data + first * A.row_stride, A.row_stride, A.col_stride,
                          B.data + col * B.col_stride, B.row_stride, B.col_stride,
                          C + first * N + col, N);
      });
      const bool last = first + rows >= M && col + cols >= N;
      if (!last && PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }
}

// ---------------------------------------------------------------- matmul in bfloat16

// matmul's precision: None (the inputs' own), "float32" or "bfloat16".
enum class Precision { inputs, float32, bfloat16 };

Precision take_precision(const char* fn, const py::object& precision) {
  if (precision.is_none()) return Precision::inputs;
  if (!py::isinstance<py::str>(precision)) {
    throw py::type_error(message(fn, "precision must be None, 'float32' or 'bfloat16', got " +
                                         type_name(precision)));
  }
  const auto name = precision.cast<std::string>();
  if (name == "float32") return Precision::float32;
  if (name == "bfloat16") return Precision::bfloat16;
  throw py::value_error(
      message(fn, "precision must be None, 'float32' or 'bfloat16', got '" + name + "'"));
}

// An operand of the bf16 GEMM: bfloat16 or float32 (rounded as it is
// packed), with its element strides, read apart from `written` like every
// other input. Odd byte strides or addresses (rare) are copied once.
Bf16Operand bf16_operand(const py::array& a, bool transpose, const py::array* written,
                         py::array& keep_alive) {
  keep_alive = is_aligned(a) ? a : copy_of(a);
  if (written) keep_alive = read_apart(keep_alive, *written, InPlace::refused);
  const py::ssize_t item = keep_alive.itemsize();
  Bf16Operand m{keep_alive.data(), item == 4, keep_alive.strides(0) / item,
                keep_alive.strides(1) / item};
  if (transpose) std::swap(m.rs, m.cs);
  return m;
}

// X advanced by `rows` rows and `cols` columns.
Bf16Operand bf16_offset(Bf16Operand x, index_t rows, index_t cols) {
  const index_t item = x.is_f32 ? 4 : 2;
  x.data = static_cast<const char*>(x.data) + (rows * x.rs + cols * x.cs) * item;
  return x;
}

// matmul's result when it computes in bfloat16: bfloat16 for bfloat16 inputs
// (NumPy's and JAX's rule: the inputs' dtype), float32 for float32 inputs
// with precision="bfloat16". A given `out` may also be float32 for
// bfloat16 inputs: it then receives the float32 accumulators unrounded.
py::array bf16_product_output(const char* fn, const py::object& out, py::ssize_t M, py::ssize_t N,
                              bool bf16_inputs) {
  const std::vector<py::ssize_t> shape{M, N};
  if (out.is_none()) return bf16_inputs ? py::array(bf16_dtype(), shape) : py::array_t<float>(shape);
  if (py::isinstance<py::array>(out)) {
    auto o = py::reinterpret_borrow<py::array>(out);
    const bool f32_out = o.itemsize() == 4 && o.dtype().equal(py::dtype::of<float>());
    if (!f32_out && !(bf16_inputs && is_bf16(o))) {
      throw py::type_error(message(
          fn, bf16_inputs ? "out must have dtype bfloat16 (the inputs' dtype) or float32 (the "
                            "accumulators unrounded), got " + dtype_str(o)
                          : "out must have dtype float32 (precision='bfloat16' takes float32 "
                            "inputs to a float32 result), got " + dtype_str(o)));
    }
    // The dtype is settled above; output() checks the shape, writability and
    // layout (its array_t<float> is read here only as a plain array).
    return output<float>(fn, out, shape, o);
  }
  return output<float>(fn, out, shape, py::array_t<float>(shape));  // its TypeError for non-arrays
}

// The bf16 product in tiles between looks for Ctrl-C, as
// gemm_in_interruptible_tiles does for float32 (bands of rows here: a bf16
// product runs several times faster, so the same flops make shorter tiles).
void bf16_gemm_in_interruptible_tiles(const Bf16Operand& A, const Bf16Operand& B,
                                      const py::array& result, index_t M, index_t N, index_t K) {
  constexpr double kFlopsPerTile = 4e10;
  const double flops_per_row = 2.0 * static_cast<double>(N) * static_cast<double>(K);
  const index_t band =
      std::max<index_t>(64, static_cast<index_t>(kFlopsPerTile / std::max(flops_per_row, 1.0)));
  const bool f32 = result.itemsize() == 4;
  char* const c = static_cast<char*>(const_cast<void*>(result.data()));
  for (index_t first = 0; first < M; first += band) {
    const index_t rows = std::min<index_t>(band, M - first);
    const Bf16Result C{f32 ? reinterpret_cast<float*>(c) + first * N : nullptr,
                       f32 ? nullptr : reinterpret_cast<denseops::bf16_t*>(c) + first * N, N};
    without_gil([&] {
      denseops::kernels_bf16().gemm(rows, N, K, bf16_offset(A, first, 0), B, C);
    });
    if (first + rows < M && PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

py::array matmul_bf16(const Product& p, const py::object& out, bool trans_a, bool trans_b) {
  const bool bf16_inputs = is_bf16(p.a);
  py::array result = bf16_product_output("matmul", out, p.M, p.N, bf16_inputs);
  const py::array* written = out.is_none() ? nullptr : &result;
  py::array keep_a, keep_b;
  const Bf16Operand A = bf16_operand(p.a, trans_a, written, keep_a);
  const Bf16Operand B = bf16_operand(p.b, trans_b, written, keep_b);
  bf16_gemm_in_interruptible_tiles(A, B, result, p.M, p.N, p.K);
  return result;
}

py::array matmul(const py::object& a_obj, const py::object& b_obj, const py::object& out,
                 bool trans_a, bool trans_b, const py::object& precision_obj) {
  const Precision precision = take_precision("matmul", precision_obj);
  const Product p = take_product("matmul", a_obj, b_obj, trans_a, trans_b, Dtypes::floats_and_bf16);
  const bool f64 = p.a.itemsize() == 8;  // take_product allowed float32, float64 and bfloat16
  if (f64 && precision != Precision::inputs) {
    throw py::value_error(message(
        "matmul", std::string("precision='") +
                      (precision == Precision::bfloat16 ? "bfloat16" : "float32") +
                      "' takes float32 or bfloat16 inputs, got float64; cast them with "
                      ".astype(numpy.float32) or leave precision=None"));
  }
  if (is_bf16(p.a) || precision == Precision::bfloat16) return matmul_bf16(p, out, trans_a, trans_b);
  return by_dtype(p.a, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("matmul", out, {p.M, p.N}, p.a);
    // The kernel writes C while still reading A and B anywhere.
    const py::array* written = out.is_none() ? nullptr : &result;
    const auto A = strided<T>(p.a, trans_a, written);
    const auto B = strided<T>(p.b, trans_b, written);
    gemm_in_interruptible_tiles(A, B, result.mutable_data(), p.M, p.N, p.K);
    return result;
  });
}

// The textbook triple loop the blocked GEMM is tested against (private).
py::array gemm_naive(const py::object& a_obj, const py::object& b_obj, bool trans_a, bool trans_b) {
  const Product p = take_product("_gemm_naive", a_obj, b_obj, trans_a, trans_b);
  return by_dtype(p.a, [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> result({p.M, p.N});
    const auto A = strided<T>(p.a, trans_a, nullptr);
    const auto B = strided<T>(p.b, trans_b, nullptr);
    T* const pc = result.mutable_data();
    without_gil([&] {
      kernels<T>().gemm_naive(p.M, p.N, p.K, A.data, A.row_stride, A.col_stride, B.data,
                              B.row_stride, B.col_stride, pc, p.N);
    });
    return result;
  });
}

// ---------------------------------------------------------------- softmax and cross-entropy

py::array softmax(const py::object& x_obj, const py::object& out) {
  py::array x = take_array("softmax", "x", x_obj);
  if (x.ndim() != 2) {
    throw py::value_error("softmax: x must be 2-D (batch, classes), got shape " + shape_str(x));
  }
  const index_t B = x.shape(0), C = x.shape(1);
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        "softmax", out, shape_vec(x), x,
        [=](const T* px, T* po) { kernels<T>().softmax(px, po, B, C); }, Read::elementwise(x));
  });
}

py::array softmax_backward(const py::object& dout_obj, const py::object& y_obj,
                           const py::object& out) {
  const char* fn = "softmax_backward";
  py::array dout = take_array(fn, "dout", dout_obj);
  py::array y = take_array(fn, "y", y_obj);
  require_same_dtype(fn, "dout", dout, "y", y);
  if (y.ndim() != 2 || !same_shape(dout, y)) {
    throw py::value_error(message(fn, "dout and y must be 2-D of the same shape, got " +
                                          shape_str(dout) + " and " + shape_str(y)));
  }
  const index_t B = y.shape(0), C = y.shape(1);
  return by_dtype(y, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, shape_vec(y), y,
        [=](const T* pd, const T* py_, T* po) { kernels<T>().softmax_backward(pd, py_, po, B, C); },
        Read::whole(dout), Read::whole(y));
  });
}

void require_logits(const char* fn, const py::array& logits) {
  if (logits.ndim() != 2 || logits.shape(0) == 0 || logits.shape(1) == 0) {
    throw py::value_error(
        message(fn,
                "logits must be 2-D (batch, classes) with at least one row and one "
                "class, got shape " +
                    shape_str(logits)));
  }
}

// The fused softmax + cross-entropy skeleton: the gradient into `dlogits`
// when given, `kernel(logits, dlogits or null, &correct)` -> summed loss.
// Returns (mean loss, number of rows whose argmax is the label).
template <class T, class Kernel>
py::tuple cross_entropy(const char* fn, const py::array& logits, const py::object& dlogits,
                        const py::array* targets, Kernel kernel) {
  const bool with_grad = !dlogits.is_none();
  auto grad = with_grad ? output<T>(fn, dlogits, shape_vec(logits), logits) : absent<T>();
  const py::array* written = with_grad ? &grad : nullptr;
  auto xc = readable<T>(logits, written);
  auto tc = targets ? readable<T>(*targets, written) : absent<T>();
  const T* px = xc.data();
  const T* pt = data_or_null(tc);
  T* pd = with_grad ? grad.mutable_data() : nullptr;
  index_t correct = 0;
  const double total = without_gil([&] { return kernel(px, pt, pd, &correct); });
  return py::make_tuple(total / static_cast<double>(logits.shape(0)), correct);
}

py::tuple sparse_softmax_cross_entropy(const py::object& logits_obj, const py::object& labels_obj,
                                       const py::object& dlogits) {
  const char* fn = "sparse_softmax_cross_entropy";
  py::array logits = take_array(fn, "logits", logits_obj);
  require_logits(fn, logits);
  const index_t B = logits.shape(0), C = logits.shape(1);
  auto labels = take_labels(fn, labels_obj, B, C);
  const std::int64_t* pl = labels.data();
  return by_dtype(logits, [&](auto tag) {
    using T = decltype(tag);
    return cross_entropy<T>(
        fn, logits, dlogits, nullptr, [=](const T* px, const T*, T* pd, index_t* correct) {
          return kernels<T>().sparse_softmax_cross_entropy(px, pl, pd, B, C, correct);
        });
  });
}

py::tuple softmax_cross_entropy(const py::object& logits_obj, const py::object& targets_obj,
                                const py::object& dlogits) {
  const char* fn = "softmax_cross_entropy";
  py::array logits = take_array(fn, "logits", logits_obj);
  py::array targets = take_array(fn, "targets", targets_obj);
  require_same_dtype(fn, "logits", logits, "targets", targets);
  require_logits(fn, logits);
  if (!same_shape(logits, targets)) {
    throw py::value_error(message(fn, "targets must have the logits' shape " + shape_str(logits) +
                                          ", got " + shape_str(targets)));
  }
  const index_t B = logits.shape(0), C = logits.shape(1);
  return by_dtype(logits, [&](auto tag) {
    using T = decltype(tag);
    return cross_entropy<T>(fn, logits, dlogits, &targets,
                            [=](const T* px, const T* pt, T* pd, index_t* correct) {
                              return kernels<T>().softmax_cross_entropy(px, pt, pd, B, C, correct);
                            });
  });
}

// ---------------------------------------------------------------- optimizers

// A state array an optimizer updates in place: its name and the argument
// (None for an optional one not given).
using StateArg = std::pair<const char*, py::object>;

// kernel(w, g, state[0], ..., state[S - 1], n).
template <class Kernel, class T, std::size_t... I>
void call_update(Kernel& kernel, T* w, const T* g, T* const* state, index_t n,
                 std::index_sequence<I...>) {
  kernel(w, g, state[I]..., n);
}

// The optimizer skeleton: `weights` and the state arrays are updated in
// place (exact dtype, shape, layout; no two sharing memory); the gradient is
// read apart from all of them, because the kernels read g[i] after writing
// state[i]. Then kernel(w, g, state (null when None)..., n) without the GIL.
template <class T, class Kernel, class... State>
void update_in_place(const char* fn, const py::object& w_obj, const py::array& w,
                     const py::object& g_obj, Kernel kernel, const State&... state) {
  InPlaceArgs written{{"weights", inplace<T>(fn, "weights", w_obj, w)}};
  std::array<T*, sizeof...(State)> state_data{};  // null for an optional one not given
  std::size_t i = 0;
  for (const StateArg& arg : {StateArg(state)...}) {
    if (!arg.second.is_none()) {
      written.emplace_back(arg.first, inplace<T>(fn, arg.first, arg.second, w));
      state_data[i] = static_cast<T*>(written.back().second.mutable_data());
    }
    ++i;
  }
  require_disjoint(fn, written);
  py::array g = take_array(fn, "grad", g_obj);
  require_same_dtype(fn, "weights", w, "grad", g);
  if (!same_shape(g, w)) {
    throw py::value_error(
        message(fn, "grad has shape " + shape_str(g) + " but weights have shape " + shape_str(w)));
  }
  py::array gc = contiguous<T>(g);
  for (const auto& arg : written) gc = read_apart(gc, arg.second, InPlace::refused);
  T* const pw = static_cast<T*>(written.front().second.mutable_data());
  const T* const pg = static_cast<const T*>(gc.data());
  const index_t n = w.size();
  without_gil([&] {
    call_update(kernel, pw, pg, state_data.data(), n, std::index_sequence_for<State...>{});
  });
}

void sgd_update(const py::object& w_obj, const py::object& g_obj, double learning_rate,
                double momentum, bool nesterov, const py::object& velocity) {
  py::array w = take_array("sgd_update", "weights", w_obj);
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        "sgd_update", w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pv, index_t n) {
          kernels<T>().sgd_update(pw, pg, pv, n, T(learning_rate), T(momentum), nesterov);
        },
        StateArg{"velocity", velocity});
    return 0;
  });
}

void rmsprop_update(const py::object& w_obj, const py::object& g_obj, const py::object& v_obj,
                    double learning_rate, double rho, double epsilon) {
  py::array w = take_array("rmsprop_update", "weights", w_obj);
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        "rmsprop_update", w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pv, index_t n) {
          kernels<T>().rmsprop_update(pw, pg, pv, n, T(learning_rate), T(rho), T(epsilon));
        },
        StateArg{"velocity", v_obj});
    return 0;
  });
}

void adam_update(const py::object& w_obj, const py::object& g_obj, const py::object& m_obj,
                 const py::object& v_obj, double learning_rate, double beta_1, double beta_2,
                 double epsilon, long long step) {
  const char* fn = "adam_update";
  py::array w = take_array(fn, "weights", w_obj);
  if (step < 1) {
    throw py::value_error(
        message(fn, "step must be >= 1 (the first update is step 1), got " + std::to_string(step)));
  }
  // Keras's bias corrections, folded into the step size in double precision:
  // alpha = learning_rate * sqrt(1 - beta_2**step) / (1 - beta_1**step).
  const double t = static_cast<double>(step);
  const double alpha =
      learning_rate * std::sqrt(1 - std::pow(beta_2, t)) / (1 - std::pow(beta_1, t));
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        fn, w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pm, T* pv, index_t n) {
          kernels<T>().adam_update(pw, pg, pm, pv, n, T(alpha), T(beta_1), T(beta_2), T(epsilon));
        },
        StateArg{"m", m_obj}, StateArg{"v", v_obj});
    return 0;
  });
}

// ------------------------------------------------------- more optimizers
// Adagrad, Adamax, Nadam and AdamW (optim_more.hpp): the skeleton above, with
// the step-dependent scalars computed here in double precision.

void require_step(const char* fn, long long step) {
  if (step < 1) {
    throw py::value_error(
        message(fn, "step must be >= 1 (the first update is step 1), got " + std::to_string(step)));
  }
}

void adagrad_update(const py::object& w_obj, const py::object& g_obj,
                    const py::object& accumulator, double learning_rate, double epsilon) {
  const char* fn = "adagrad_update";
  py::array w = take_array(fn, "weights", w_obj);
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        fn, w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pa, index_t n) {
          kernels<T>().adagrad_update(pw, pg, pa, n, T(learning_rate), T(epsilon));
        },
        StateArg{"accumulator", accumulator});
    return 0;
  });
}

void adamax_update(const py::object& w_obj, const py::object& g_obj, const py::object& m_obj,
                   const py::object& u_obj, double learning_rate, double beta_1, double beta_2,
                   double epsilon, long long step) {
  const char* fn = "adamax_update";
  py::array w = take_array(fn, "weights", w_obj);
  require_step(fn, step);
  const double step_size = learning_rate / (1 - std::pow(beta_1, static_cast<double>(step)));
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        fn, w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pm, T* pu, index_t n) {
          kernels<T>().adamax_update(pw, pg, pm, pu, n, T(step_size), T(beta_1), T(beta_2),
                                     T(epsilon));
        },
        StateArg{"m", m_obj}, StateArg{"u", u_obj});
    return 0;
  });
}

// Keras's Nadam momentum schedule, u_s = beta_1 * (1 - 0.5 * 0.96**s), and
// the product of its first `step` terms (Keras's u_product variable). From
// s = 1000 on, 0.5 * 0.96**s < 1e-18 and u_s is beta_1 exactly in double, so
// the product needs at most 1000 multiplications whatever the step.
double nadam_momentum(double beta_1, double s) { return beta_1 * (1 - 0.5 * std::pow(0.96, s)); }

double nadam_momentum_product(double beta_1, long long step) {
  constexpr long long kExact = 1000;
  double product = 1;
  for (long long s = 1; s <= std::min(step, kExact); ++s)
    product *= nadam_momentum(beta_1, static_cast<double>(s));
  if (step > kExact) product *= std::pow(beta_1, static_cast<double>(step - kExact));
  return product;
}

void nadam_update(const py::object& w_obj, const py::object& g_obj, const py::object& m_obj,
                  const py::object& v_obj, double learning_rate, double beta_1, double beta_2,
                  double epsilon, long long step) {
  const char* fn = "nadam_update";
  py::array w = take_array(fn, "weights", w_obj);
  require_step(fn, step);
  const double t = static_cast<double>(step);
  const double u_t = nadam_momentum(beta_1, t), u_next = nadam_momentum(beta_1, t + 1);
  const double product = nadam_momentum_product(beta_1, step);
  const double m_coef = u_next / (1 - product * u_next);
  const double g_coef = (1 - u_t) / (1 - product);
  const double v_scale = 1 / (1 - std::pow(beta_2, t));
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        fn, w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pm, T* pv, index_t n) {
          kernels<T>().nadam_update(pw, pg, pm, pv, n, T(learning_rate), T(beta_1), T(beta_2),
                                    T(epsilon), T(m_coef), T(g_coef), T(v_scale));
        },
        StateArg{"m", m_obj}, StateArg{"v", v_obj});
    return 0;
  });
}

void adamw_update(const py::object& w_obj, const py::object& g_obj, const py::object& m_obj,
                  const py::object& v_obj, double learning_rate, double weight_decay,
                  double beta_1, double beta_2, double epsilon, long long step,
                  const py::object& v_hat) {
  const char* fn = "adamw_update";
  py::array w = take_array(fn, "weights", w_obj);
  require_step(fn, step);
  // Adam's bias corrections folded into the step size, as in adam_update.
  const double t = static_cast<double>(step);
  const double alpha =
      learning_rate * std::sqrt(1 - std::pow(beta_2, t)) / (1 - std::pow(beta_1, t));
  const double decay = learning_rate * weight_decay;
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    update_in_place<T>(
        fn, w_obj, w, g_obj,
        [&](T* pw, const T* pg, T* pm, T* pv, T* ph, index_t n) {
          kernels<T>().adamw_update(pw, pg, pm, pv, ph, n, T(decay), T(alpha), T(beta_1),
                                    T(beta_2), T(epsilon));
        },
        StateArg{"m", m_obj}, StateArg{"v", v_obj}, StateArg{"v_hat", v_hat});
    return 0;
  });
}

// ------------------------------------------------------- normalization
// BatchNormalization and LayerNormalization (normalization.hpp): inputs
// checked and made contiguous, results in fresh arrays (nothing the caller
// holds is written), statistics returned for the backward pass.

// x (B, F): a 2-D array, the first argument of every normalization kernel.
py::array take_rows(const char* fn, const char* arg, const py::object& obj) {
  py::array a = take_array(fn, arg, obj);
  if (a.ndim() != 2) {
    throw py::value_error(message(
        fn, std::string(arg) + " must be 2-D (batch, features), got shape " + shape_str(a)));
  }
  return a;
}

// A (n,) array of x's dtype: one value per feature or per row of x.
py::array take_vector(const char* fn, const char* arg, const py::object& obj, const py::array& x,
                      py::ssize_t n, const char* per) {
  py::array a = take_array(fn, arg, obj);
  require_same_dtype(fn, "x", x, arg, a);
  if (a.ndim() != 1 || a.shape(0) != n) {
    throw py::value_error(message(fn, std::string(arg) + " must have shape (" + std::to_string(n) +
                                          ",), one value per " + per + " of x " + shape_str(x) +
                                          ", got " + shape_str(a)));
  }
  return a;
}

// out (B, F), mean (F,), variance (F,): with batch statistics when mean and
// variance are None (training), else with the given ones (inference).
py::tuple batch_normalization(const py::object& x_obj, const py::object& gamma_obj,
                              const py::object& beta_obj, double epsilon,
                              const py::object& mean_obj, const py::object& variance_obj) {
  const char* fn = "batch_normalization";
  py::array x = take_rows(fn, "x", x_obj);
  const py::ssize_t B = x.shape(0), F = x.shape(1);
  py::array gamma = take_vector(fn, "gamma", gamma_obj, x, F, "feature");
  py::array beta = take_vector(fn, "beta", beta_obj, x, F, "feature");
  if (mean_obj.is_none() != variance_obj.is_none()) {
    throw py::value_error(message(fn, "mean and variance go together: give both (inference) or "
                                      "neither (batch statistics)"));
  }
  const bool given = !mean_obj.is_none();
  if (!given && B == 0) {
    throw py::value_error(message(fn, "batch statistics need at least one row, got x of shape " +
                                          shape_str(x)));
  }
  py::array mean_in = given ? take_vector(fn, "mean", mean_obj, x, F, "feature") : x;
  py::array var_in = given ? take_vector(fn, "variance", variance_obj, x, F, "feature") : x;
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    auto xc = contiguous<T>(x), gc = contiguous<T>(gamma), bc = contiguous<T>(beta);
    // Given statistics come back as copies: the results never alias the inputs.
    py::array_t<T> out({B, F});
    auto mean = given ? py::array_t<T>::ensure(copy_of(mean_in)) : py::array_t<T>(F);
    auto variance = given ? py::array_t<T>::ensure(copy_of(var_in)) : py::array_t<T>(F);
    const T *px = xc.data(), *pg = gc.data(), *pb = bc.data();
    T *po = out.mutable_data(), *pm = mean.mutable_data(), *pv = variance.mutable_data();
    without_gil([&] {
      if (!given) kernels<T>().batch_normalization_stats(px, pm, pv, B, F);
      kernels<T>().batch_normalization(px, pg, pb, pm, pv, po, B, F, T(epsilon));
    });
    return py::tuple(py::make_tuple(out, mean, variance));
  });
}

// The arguments both backward kernels share: dout and x (B, F), gamma (F,),
// mean and variance (F,) or (B,); returns (dx, dgamma, dbeta).
template <class Kernel>
py::tuple normalization_backward(const char* fn, const py::object& dout_obj,
                                 const py::object& x_obj, const py::object& gamma_obj,
                                 const py::object& mean_obj, const py::object& variance_obj,
                                 bool per_feature, Kernel kernel) {
  py::array x = take_rows(fn, "x", x_obj);
  const py::ssize_t B = x.shape(0), F = x.shape(1);
  py::array dout = take_array(fn, "dout", dout_obj);
  require_same_dtype(fn, "x", x, "dout", dout);
  if (!same_shape(dout, x)) {
    throw py::value_error(message(fn, "dout must have the shape of x " + shape_str(x) + ", got " +
                                          shape_str(dout)));
  }
  py::array gamma = take_vector(fn, "gamma", gamma_obj, x, F, "feature");
  const py::ssize_t n = per_feature ? F : B;
  const char* per = per_feature ? "feature" : "row";
  py::array mean = take_vector(fn, "mean", mean_obj, x, n, per);
  py::array variance = take_vector(fn, "variance", variance_obj, x, n, per);
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    auto dc = contiguous<T>(dout), xc = contiguous<T>(x), gc = contiguous<T>(gamma);
    auto mc = contiguous<T>(mean), vc = contiguous<T>(variance);
    py::array_t<T> dx({B, F}), dgamma(F), dbeta(F);
    const T *pd = dc.data(), *px = xc.data(), *pg = gc.data(), *pm = mc.data(), *pv = vc.data();
    T *pdx = dx.mutable_data(), *pdg = dgamma.mutable_data(), *pdb = dbeta.mutable_data();
    without_gil([&] { kernel(tag, pd, px, pg, pm, pv, pdx, pdg, pdb, B, F); });
    return py::tuple(py::make_tuple(dx, dgamma, dbeta));
  });
}

py::tuple batch_normalization_backward(const py::object& dout, const py::object& x,
                                       const py::object& gamma, const py::object& mean,
                                       const py::object& variance, double epsilon) {
  return normalization_backward(
      "batch_normalization_backward", dout, x, gamma, mean, variance, true,
      [=](auto tag, auto... args) {
        using T = decltype(tag);
        kernels<T>().batch_normalization_backward(args..., T(epsilon));
      });
}

// out (B, F), mean (B,), variance (B,): each row normalized over its features.
py::tuple layer_normalization(const py::object& x_obj, const py::object& gamma_obj,
                              const py::object& beta_obj, double epsilon) {
  const char* fn = "layer_normalization";
  py::array x = take_rows(fn, "x", x_obj);
  const py::ssize_t B = x.shape(0), F = x.shape(1);
  py::array gamma = take_vector(fn, "gamma", gamma_obj, x, F, "feature");
  py::array beta = take_vector(fn, "beta", beta_obj, x, F, "feature");
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    auto xc = contiguous<T>(x), gc = contiguous<T>(gamma), bc = contiguous<T>(beta);
    py::array_t<T> out({B, F}), mean(B), variance(B);
    const T *px = xc.data(), *pg = gc.data(), *pb = bc.data();
    T *po = out.mutable_data(), *pm = mean.mutable_data(), *pv = variance.mutable_data();
    without_gil(
        [&] { kernels<T>().layer_normalization(px, pg, pb, po, pm, pv, B, F, T(epsilon)); });
    return py::tuple(py::make_tuple(out, mean, variance));
  });
}

py::tuple layer_normalization_backward(const py::object& dout, const py::object& x,
                                       const py::object& gamma, const py::object& mean,
                                       const py::object& variance, double epsilon) {
  return normalization_backward(
      "layer_normalization_backward", dout, x, gamma, mean, variance, false,
      [=](auto tag, auto... args) {
        using T = decltype(tag);
        kernels<T>().layer_normalization_backward(args..., T(epsilon));
      });
}

void axpy(double alpha, const py::object& x_obj, const py::object& y_obj) {
  const char* fn = "axpy";
  py::array y = take_array(fn, "y", y_obj);
  py::array x = take_array(fn, "x", x_obj);
  require_same_dtype(fn, "x", x, "y", y);
  if (!same_shape(x, y)) {
    throw py::value_error(
        message(fn, "x has shape " + shape_str(x) + " but y has shape " + shape_str(y)));
  }
  by_dtype(y, [&](auto tag) {
    using T = decltype(tag);
    auto yc = inplace<T>(fn, "y", y_obj, y);
    auto xc = readable<T>(x, &yc, InPlace::allowed);
    const T* px = xc.data();
    T* py_ = yc.mutable_data();
    without_gil([&, n = y.size()] { kernels<T>().axpy(T(alpha), px, py_, n); });
    return 0;
  });
}

// ---------------------------------------------------------------- MLP output layer

int take_link(const char* fn, const std::string& link) {
  if (link == "identity") return 0;
  if (link == "logistic") return 1;
  if (link == "softmax") return 2;
  if (link == "exp") return 3;
  throw py::value_error(message(
      fn, "link must be one of 'identity', 'logistic', 'softmax', 'exp', got '" + link + "'"));
}

void require_outputs(const char* fn, const py::array& z) {
  if (z.ndim() != 2) {
    throw py::value_error(
        message(fn, "z must be 2-D (samples, outputs), got shape " + shape_str(z)));
  }
}

py::array link_activation(const py::object& z_obj, const std::string& link_name,
                          const py::object& out) {
  const char* fn = "link_activation";
  const int link = take_link(fn, link_name);
  py::array z = take_array(fn, "z", z_obj);
  require_outputs(fn, z);
  const index_t B = z.shape(0), K = z.shape(1);
  return by_dtype(z, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, shape_vec(z), z,
        [=](const T* pz, T* po) { kernels<T>().link_activation(link, pz, po, B, K); },
        Read::elementwise(z));
  });
}

double link_loss(const py::object& z_obj, const py::object& y_obj, const std::string& link_name,
                 const py::object& dz_obj, const py::object& w_obj) {
  const char* fn = "link_loss";
  const int link = take_link(fn, link_name);
  py::array z = take_array(fn, "z", z_obj);
  py::array y = take_array(fn, "targets", y_obj);
  require_same_dtype(fn, "z", z, "targets", y);
  require_outputs(fn, z);
  if (z.shape(0) == 0 || z.shape(1) == 0) {
    throw py::value_error(
        message(fn, "z must have at least one row and one column, got shape " + shape_str(z)));
  }
  if (!same_shape(z, y)) {
    throw py::value_error(
        message(fn, "targets must have z's shape " + shape_str(z) + ", got " + shape_str(y)));
  }
  const bool weighted = !w_obj.is_none();
  const py::array w = weighted ? take_sample_weight(fn, w_obj, "z", z) : py::array(z);
  return by_dtype(z, [&](auto tag) -> double {
    using T = decltype(tag);
    double weight_sum = static_cast<double>(z.shape(0));
    if (weighted) {
      auto wc = readable<T>(w, nullptr);
      weight_sum = 0;
      for (py::ssize_t i = 0; i < wc.size(); ++i) weight_sum += wc.data()[i];
      if (!(weight_sum > 0) || !std::isfinite(weight_sum)) {
        throw py::value_error(message(fn, "sample_weight must sum to a finite number > 0, got " +
                                              std::to_string(weight_sum)));
      }
    }
    const T scale = static_cast<T>(1.0 / weight_sum);
    double total = 0;
    // The kernel always writes the gradient: into dz, or a scratch array.
    into_result<T>(
        fn, dz_obj, shape_vec(z), z,
        [&](const T* pz, const T* py_, const T* pw, T* pd) {
          total = kernels<T>().link_loss(link, pz, py_, pw, pd, z.shape(0), z.shape(1), scale);
        },
        Read::whole(z), Read::whole(y), Read::optional(weighted, w));
    return total / weight_sum;
  });
}

// ---------------------------------------------------------------- config

// A thread count from Python: an int in [lowest, 1024]; anything else names fn.
int thread_count(const char* fn, const py::object& n, long long lowest) {
  if (!py::isinstance<py::int_>(n) || py::isinstance<py::bool_>(n)) {
    throw py::type_error(std::string(fn) + ": n must be an int >= " + std::to_string(lowest) +
                         ", got " + type_name(n));
  }
  // Not n.cast<long long>(): an int beyond 64 bits (2**70) would be a pybind11 cast error.
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(n.ptr(), &overflow);
  if (overflow != 0 || value < lowest || value > 1024) {
    throw py::value_error(std::string(fn) + ": n must be between " + std::to_string(lowest) +
                          " and 1024, got " + py::str(n).cast<std::string>());
  }
  return static_cast<int>(value);
}

void set_num_threads(const py::object& n) {
  denseops::set_num_threads(thread_count("set_num_threads", n, 1));
}

// 0 clears the calling thread's own count; denseops.local_threads() wraps it.
int set_thread_local_threads(const py::object& n) {
  return denseops::set_thread_local_threads(thread_count("local_threads", n, 0));
}

void set_arch(const std::string& name) {
  const std::string error = denseops::set_arch(name);
  if (!error.empty()) throw py::value_error("set_arch: " + error);
}

py::dict config() {
  py::dict c;
  c["version"] = DENSEOPS_VERSION;
  c["compiler"] = DENSEOPS_COMPILER;
  c["openmp"] = denseops::openmp_enabled();
  c["num_threads"] = denseops::num_threads();
  c["cpu_avx2_fma"] = denseops::cpu_has_avx2_fma();
  c["cpu_avx512"] = denseops::cpu_has_avx512();
  c["arch"] = denseops::arch();
  const auto& t = denseops::kernels_f32();
  const auto& t64 = denseops::kernels_f64();
  c["gemm_f32"] = std::string(t.arch) + ": " + t.gemm_kind;
  c["gemm_f64"] = std::string(t64.arch) + ": " + t64.gemm_kind;
  c["cpu_avx512_bf16"] = denseops::cpu_has_avx512_bf16();
  c["cpu_amx"] = denseops::cpu_has_amx();
  const auto& bf = denseops::kernels_bf16();
  // The widened path names the float32 path it runs on.
  c["gemm_bf16"] = std::string(bf.arch) == "widened"
                       ? std::string(t.arch) + ": " + bf.kind + " (" + t.gemm_kind + ")"
                       : std::string(bf.arch) + ": " + bf.kind;
  return c;
}

// Flops done by `threads` threads running independent FMA chains on the
// active path's GEMM vector type (benchmarks/peak.py times it).
double fma_probe(const std::string& dtype, long long iterations, int threads) {
  if (iterations < 0 || threads < 1 || threads > 64)
    throw py::value_error("_fma_probe: needs iterations >= 0 and 1 <= threads <= 64");
  py::gil_scoped_release nogil;
  if (dtype == "float64") return denseops::kernels_f64().fma_probe(iterations, threads);
  return denseops::kernels_f32().fma_probe(iterations, threads);
}

// ---------------------------------------------------------------- denseops.nn kernels
// Activations, losses, metrics, dropout and weight penalties: the kernels the
// training layer calls.

using denseops::ActivationKind;
using denseops::LossKind;
using denseops::MetricKind;

template <std::size_t N>
int kind_index(const char* fn, const char* what, const std::string& name,
               const char* const (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    if (name == names[i]) return static_cast<int>(i);
  std::string allowed;
  for (std::size_t i = 0; i < N; ++i) allowed += (i ? ", " : "") + std::string(names[i]);
  throw py::value_error(message(fn, std::string("unknown ") + what + " " +
                                        py::repr(py::str(name)).cast<std::string>() +
                                        "; expected one of " + allowed));
}

// alpha scales a branch of elu and leaky_relu: any finite number (the gradient
// of a negative one is exact too, from z); NaN or inf would poison every output.
void check_alpha(const char* fn, double alpha) {
  if (!std::isfinite(alpha))
    throw py::value_error(message(fn, "alpha must be finite, got " + std::to_string(alpha)));
}

py::array activation(const py::object& x_obj, const std::string& kind_name,
                     const py::object& bias_obj, const py::object& out, double alpha) {
  const char* fn = "activation";
  const int kind = kind_index(fn, "activation", kind_name, denseops::kActivationNames);
  check_alpha(fn, alpha);
  py::array x = take_array(fn, "x", x_obj);
  const py::ssize_t cols = x.ndim() == 0 ? 1 : x.shape(x.ndim() - 1);
  const bool has_bias = !bias_obj.is_none();
  py::array bias = x;
  if (has_bias) {
    bias = take_array(fn, "bias", bias_obj);
    require_same_dtype(fn, "x", x, "bias", bias);
    if (x.ndim() == 0 || bias.ndim() != 1 || bias.shape(0) != cols) {
      throw py::value_error(message(fn, "bias must have shape (" + std::to_string(cols) +
                                            ",) to match x's last axis, got x " + shape_str(x) +
                                            " and bias " + shape_str(bias)));
    }
  }
  const index_t rows = cols == 0 ? 0 : static_cast<index_t>(x.size() / cols);
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, shape_vec(x), x,
        [=](const T* px, const T* pb, T* po) {
          kernels<T>().activation(kind, px, pb, po, rows, cols, T(alpha));
        },
        Read::elementwise(x), Read::optional(has_bias, bias));
  });
}

py::array activation_backward(const py::object& dout_obj, const py::object& y_obj,
                              const std::string& kind_name, const py::object& z_obj,
                              const py::object& out, double alpha) {
  const char* fn = "activation_backward";
  const int kind = kind_index(fn, "activation", kind_name, denseops::kActivationNames);
  check_alpha(fn, alpha);
  py::array y = take_array(fn, "y", y_obj);
  const bool needs_z = denseops::activation_needs_input(static_cast<ActivationKind>(kind), alpha);
  if (needs_z && z_obj.is_none()) {
    throw py::value_error(message(
        fn, "the gradient of " + kind_name + (alpha < 0 ? " with alpha < 0" : "") +
                " needs its input: pass z, the pre-activation"));
  }
  return by_dtype(y, [&](auto tag) {
    using T = decltype(tag);
    // Checked after `out`, as the arguments come: dout, then z.
    auto result = output<T>(fn, out, shape_vec(y), y);
    py::array dout = take_array_like(fn, "dout", dout_obj, "y", y);
    const bool has_z = !z_obj.is_none();
    py::array z = has_z ? take_array_like(fn, "z", z_obj, "y", y) : y;
    return write_into<T>(
        result, out.is_none(),
        [=, n = y.size()](const T* pd, const T* pz, const T* py_, T* po) {
          kernels<T>().activation_backward(kind, pd, needs_z ? pz : nullptr, py_, po, n, T(alpha));
        },
        Read::elementwise(dout), Read::optional(has_z, z, InPlace::allowed), Read::elementwise(y));
  });
}

void require_batch(const char* fn, const py::array& pred) {
  if (pred.ndim() != 2 || pred.shape(0) == 0 || pred.shape(1) == 0) {
    throw py::value_error(message(fn,
                                  "pred must be 2-D (batch, outputs) with at least one row and one "
                                  "column, got shape " +
                                      shape_str(pred)));
  }
}

LossKind loss_kind(const char* fn, const std::string& name, bool from_logits) {
  struct Entry {
    const char* name;
    LossKind probabilities, logits;
    bool has_logits;
  };
  static const Entry table[] = {
      {"mean_squared_error", LossKind::mean_squared_error, LossKind::mean_squared_error, false},
      {"mean_absolute_error", LossKind::mean_absolute_error, LossKind::mean_absolute_error, false},
      {"huber", LossKind::huber, LossKind::huber, false},
      {"binary_crossentropy", LossKind::binary_crossentropy, LossKind::binary_crossentropy_logits,
       true},
      {"categorical_crossentropy", LossKind::categorical_crossentropy,
       LossKind::categorical_crossentropy_logits, true},
      {"sparse_categorical_crossentropy", LossKind::sparse_categorical_crossentropy,
       LossKind::sparse_categorical_crossentropy_logits, true},
  };
  for (const auto& e : table) {
    if (name != e.name) continue;
    if (from_logits && !e.has_logits) {
      throw py::value_error(
          message(fn, name + " has no from_logits form; it compares pred with target directly"));
    }
    return from_logits ? e.logits : e.probabilities;
  }
  std::string allowed;
  for (const auto& e : table) allowed += (allowed.empty() ? "" : ", ") + std::string(e.name);
  throw py::value_error(message(fn, "unknown loss " + py::repr(py::str(name)).cast<std::string>() +
                                        "; expected one of " + allowed));
}

// The target of a loss or metric: integer labels (taken before, `labels`),
// or an array of pred's shape; and optional per-row weights. Checked in
// argument order, after `grad` when there is one.
template <class T>
std::pair<py::array_t<T>, py::array_t<T>> target_and_weight(const char* fn, const py::array& pred,
                                                            bool sparse,
                                                            const py::object& target_obj,
                                                            const py::object& weight_obj,
                                                            const py::array* written) {
  auto target = sparse
                    ? absent<T>()
                    : readable<T>(take_array_like(fn, "target", target_obj, "pred", pred), written);
  auto weight = weight_obj.is_none()
                    ? absent<T>()
                    : readable<T>(take_sample_weight(fn, weight_obj, "pred", pred), written);
  return {target, weight};
}

double loss(const py::object& pred_obj, const py::object& target_obj, const std::string& kind_name,
            bool from_logits, const py::object& weight_obj, const py::object& grad_obj,
            double delta) {
  const char* fn = "loss";
  const LossKind kind = loss_kind(fn, kind_name, from_logits);
  py::array pred = take_array(fn, "pred", pred_obj);
  require_batch(fn, pred);
  if (kind == LossKind::huber && !(delta > 0)) {
    throw py::value_error(message(fn, "delta must be > 0, got " + std::to_string(delta)));
  }
  const bool sparse = denseops::loss_takes_labels(kind);
  const index_t B = pred.shape(0), D = pred.shape(1);
  auto labels = sparse ? take_labels(fn, target_obj, B, D) : absent<std::int64_t>();
  return by_dtype(pred, [&](auto tag) -> double {
    using T = decltype(tag);
    const bool with_grad = !grad_obj.is_none();
    auto grad = with_grad ? output<T>(fn, grad_obj, shape_vec(pred), pred) : absent<T>();
    const py::array* written = with_grad ? &grad : nullptr;
    auto pc = readable<T>(pred, written);
    auto [tc, wc] = target_and_weight<T>(fn, pred, sparse, target_obj, weight_obj, written);
    const T *pp = pc.data(), *pt = data_or_null(tc), *pw = data_or_null(wc);
    const std::int64_t* pl = data_or_null(labels);
    T* pg = with_grad ? grad.mutable_data() : nullptr;
    const double total = without_gil([&] {
      return kernels<T>().loss(static_cast<int>(kind), pp, pt, pl, pw, pg, B, D, T(delta));
    });
    return total / static_cast<double>(B);
  });
}

double metric(const py::object& pred_obj, const py::object& target_obj,
              const std::string& kind_name, const py::object& weight_obj, double threshold,
              py::ssize_t k) {
  const char* fn = "metric";
  const int kind = kind_index(fn, "metric", kind_name, denseops::kMetricNames);
  py::array pred = take_array(fn, "pred", pred_obj);
  require_batch(fn, pred);
  const auto mk = static_cast<MetricKind>(kind);
  const bool top_k = mk == MetricKind::top_k_categorical_accuracy ||
                     mk == MetricKind::sparse_top_k_categorical_accuracy;
  if (top_k && k < 1) {
    throw py::value_error(message(fn, "k must be >= 1, got " + std::to_string(k)));
  }
  const bool sparse = denseops::metric_takes_labels(mk);
  const index_t B = pred.shape(0), D = pred.shape(1);
  auto labels = sparse ? take_labels(fn, target_obj, B, D) : absent<std::int64_t>();
  return by_dtype(pred, [&](auto tag) -> double {
    using T = decltype(tag);
    auto pc = readable<T>(pred, nullptr);
    auto [tc, wc] = target_and_weight<T>(fn, pred, sparse, target_obj, weight_obj, nullptr);
    const T *pp = pc.data(), *pt = data_or_null(tc), *pw = data_or_null(wc);
    const std::int64_t* pl = data_or_null(labels);
    const T param = top_k ? T(k) : T(threshold);
    return without_gil([&] { return kernels<T>().metric(kind, pp, pt, pl, pw, B, D, param); });
  });
}

std::uint64_t non_negative_u64(const char* fn, const char* arg, const py::object& obj) {
  if (!py::isinstance<py::int_>(obj) || py::isinstance<py::bool_>(obj)) {
    throw py::type_error(message(fn, std::string(arg) + " must be an int, got " + type_name(obj)));
  }
  if (obj.cast<py::int_>() < py::int_(0) ||
      obj.cast<py::int_>() >
          py::int_(py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(~0ULL)))) {
    throw py::value_error(message(
        fn, std::string(arg) + " must be in [0, 2**64), got " + py::repr(obj).cast<std::string>()));
  }
  return obj.cast<std::uint64_t>();
}

py::array dropout(const py::object& x_obj, double rate, const py::object& seed_obj,
                  const py::object& counter_obj, const py::object& out) {
  const char* fn = "dropout";
  py::array x = take_array(fn, "x", x_obj);
  if (!(rate >= 0.0 && rate < 1.0)) {
    throw py::value_error(message(fn, "rate must be in [0, 1), got " + std::to_string(rate)));
  }
  const std::uint64_t seed = non_negative_u64(fn, "seed", seed_obj);
  const std::uint64_t counter = non_negative_u64(fn, "counter", counter_obj);
  return by_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    return into_result<T>(
        fn, out, shape_vec(x), x,
        [=, n = x.size()](const T* px, T* po) {
          kernels<T>().dropout(px, po, n, seed, counter, rate);
        },
        Read::elementwise(x));
  });
}

double weight_penalty(const py::object& w_obj, const py::object& grad_obj, double l1, double l2) {
  const char* fn = "weight_penalty";
  py::array w = take_array(fn, "weights", w_obj);
  if (!(l1 >= 0) || !(l2 >= 0)) {
    throw py::value_error(message(
        fn, "l1 and l2 must be >= 0, got l1=" + std::to_string(l1) + ", l2=" + std::to_string(l2)));
  }
  return by_dtype(w, [&](auto tag) -> double {
    using T = decltype(tag);
    const bool with_grad = !grad_obj.is_none();
    auto grad = with_grad ? inplace<T>(fn, "grad", grad_obj, w) : absent<T>();
    auto wc = readable<T>(w, with_grad ? &grad : nullptr);
    const T* pw = wc.data();
    T* pg = with_grad ? grad.mutable_data() : nullptr;
    return without_gil(
        [&, n = w.size()] { return kernels<T>().weight_penalty(pw, pg, n, T(l1), T(l2)); });
  });
}

// ---------------------------------------------------------------- a stack of Dense layers

// One layer of _network_forward's `layers`, checked: (kernel, bias or None,
// activation name, alpha), kernel (width, units) of x's dtype.
struct TakenStep {
  py::array kernel, bias;  // bias is valid only when has_bias
  bool has_bias;
  int activation;
  double alpha;
};

TakenStep take_step(const char* fn, const py::handle& item, std::size_t l, const py::array& x,
                    py::ssize_t width) {
  const std::string at = "layers[" + std::to_string(l) + "]";
  if (!py::isinstance<py::tuple>(item) || py::len(item) != 4) {
    throw py::type_error(message(fn, at + " must be a tuple (kernel, bias, activation, alpha), "
                                          "got " + type_name(item)));
  }
  const auto t = py::reinterpret_borrow<py::tuple>(item);
  const std::string kernel_name = at + " kernel", bias_name = at + " bias";
  py::array kernel = take_array(fn, kernel_name.c_str(), t[0]);
  require_same_dtype(fn, "x", x, kernel_name.c_str(), kernel);
  if (kernel.ndim() != 2 || kernel.shape(0) != width) {
    throw py::value_error(message(fn, kernel_name + " must have shape (" + std::to_string(width) +
                                          ", units) to take the previous width " +
                                          std::to_string(width) + ", got " + shape_str(kernel)));
  }
  TakenStep step{kernel, kernel, !t[1].is_none(), 0, 0.0};
  if (step.has_bias) {
    step.bias = take_array(fn, bias_name.c_str(), t[1]);
    require_same_dtype(fn, "x", x, bias_name.c_str(), step.bias);
    if (step.bias.ndim() != 1 || step.bias.shape(0) != kernel.shape(1)) {
      throw py::value_error(message(fn, bias_name + " must have shape (" +
                                            std::to_string(kernel.shape(1)) + ",), got " +
                                            shape_str(step.bias)));
    }
  }
  if (!py::isinstance<py::str>(t[2])) {
    throw py::type_error(message(fn, at + " activation must be a str, got " + type_name(t[2])));
  }
  const auto name = t[2].cast<std::string>();
  step.activation = name == "softmax" ? denseops::kSoftmaxActivation
                                      : kind_index(fn, "activation", name, denseops::kActivationNames);
  const bool number = py::isinstance<py::float_>(t[3]) ||
                      (py::isinstance<py::int_>(t[3]) && !py::isinstance<py::bool_>(t[3]));
  if (!number) {
    throw py::type_error(message(fn, at + " alpha must be a float, got " + type_name(t[3])));
  }
  step.alpha = t[3].cast<double>();
  check_alpha(fn, step.alpha);
  return step;
}

// Runs x through every layer, `chunk` rows at a time; between chunks the GIL
// is taken back to look for Ctrl-C (as matmul does between its tiles).
py::array network_forward(const py::object& x_obj, const py::object& layers_obj,
                          py::ssize_t chunk) {
  const char* fn = "_network_forward";
  py::array x = take_array(fn, "x", x_obj);
  if (x.ndim() != 2) {
    throw py::value_error(message(fn, "x must be 2-D (batch, features), got " + shape_str(x)));
  }
  if (!py::isinstance<py::list>(layers_obj) && !py::isinstance<py::tuple>(layers_obj)) {
    throw py::type_error(message(fn, "layers must be a list of (kernel, bias, activation, alpha) "
                                     "tuples, got " + type_name(layers_obj)));
  }
  const auto layers = py::reinterpret_borrow<py::sequence>(layers_obj);
  if (py::len(layers) == 0) throw py::value_error(message(fn, "layers must not be empty"));
  if (chunk < 1) {
    throw py::value_error(message(fn, "chunk must be at least 1, got " + std::to_string(chunk)));
  }
  std::vector<TakenStep> taken;
  py::ssize_t width = x.shape(1);
  for (std::size_t l = 0; l < py::len(layers); ++l) {
    taken.push_back(take_step(fn, layers[l], l, x, width));
    width = taken.back().kernel.shape(1);
  }
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    const index_t B = x.shape(0);
    // Contiguous views (copies only for odd layouts) that live until the end.
    const py::array_t<T> xc = contiguous<T>(x);
    std::vector<py::array_t<T>> held;
    std::vector<denseops::DenseStep<T>> steps;
    for (const TakenStep& t : taken) {
      held.push_back(contiguous<T>(t.kernel));
      const T* kernel = held.back().data();
      const T* bias = nullptr;
      if (t.has_bias) {
        held.push_back(contiguous<T>(t.bias));
        bias = held.back().data();
      }
      steps.push_back({kernel, bias, static_cast<index_t>(t.kernel.shape(0)),
                       static_cast<index_t>(t.kernel.shape(1)), t.activation, T(t.alpha)});
    }
    const auto count = static_cast<index_t>(steps.size());
    const index_t D0 = steps.front().in, DL = steps.back().out;
    py::array_t<T> result({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(DL)});
    const index_t rows = std::min<index_t>(chunk, B);
    // Uninitialised (a std::vector would zero it: a memset of 512 KB per call
    // at batch 128 on the MNIST model, for values the products overwrite).
    std::unique_ptr<T[]> scratch(new T[denseops::network_scratch_elems(steps.data(), count, rows)]);
    const T* px = xc.data();
    T* po = result.mutable_data();
    for (index_t r0 = 0; r0 < B; r0 += rows) {
      const index_t n = std::min(rows, B - r0);
      without_gil([&] {
        denseops::network_forward(kernels<T>(), steps.data(), count, px + r0 * D0, po + r0 * DL, n,
                                  scratch.get());
      });
      if (r0 + n < B && PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
    return std::move(result);
  });
}

}  // namespace

// Each docstring starts with its Python signature (tests/test_signatures.py
// holds these m.def lines, csrc/docstrings.hpp and _kernels.pyi to one another).
PYBIND11_MODULE(_kernels, m) {
  m.doc() = "denseops C++ kernels. Import them from the denseops package.";
  m.attr("__version__") = DENSEOPS_VERSION;
  namespace doc = denseops::doc;
  py::options options;
  options.disable_function_signatures();
  const auto none = py::none();

  m.def("relu", &relu, doc::relu, py::arg("x"), py::arg("out") = none);
  m.def("relu_backward", &relu_backward, doc::relu_backward, py::arg("dout"), py::arg("y"),
        py::arg("out") = none);
  m.def("add", &add, doc::add, py::arg("x"), py::arg("y"), py::arg("out") = none);
  m.def("dot", &dot, doc::dot, py::arg("x"), py::arg("y"));
  m.def("column_sums", &column_sums, doc::column_sums, py::arg("x"), py::arg("out") = none);
  m.def("matmul", &matmul, doc::matmul, py::arg("a"), py::arg("b"), py::arg("out") = none,
        py::kw_only(), py::arg("trans_a").noconvert() = false,
        py::arg("trans_b").noconvert() = false, py::arg("precision") = none);

  m.def("softmax", &softmax, doc::softmax, py::arg("x"), py::arg("out") = none);
  m.def("softmax_backward", &softmax_backward, doc::softmax_backward, py::arg("dout"), py::arg("y"),
        py::arg("out") = none);
  m.def("sparse_softmax_cross_entropy", &sparse_softmax_cross_entropy,
        doc::sparse_softmax_cross_entropy, py::arg("logits"), py::arg("labels"),
        py::arg("dlogits") = none);
  m.def("softmax_cross_entropy", &softmax_cross_entropy, doc::softmax_cross_entropy,
        py::arg("logits"), py::arg("targets"), py::arg("dlogits") = none);
  m.def("sgd_update", &sgd_update, doc::sgd_update, py::arg("weights"), py::arg("grad"),
        py::kw_only(), py::arg("learning_rate"), py::arg("momentum") = 0.0,
        py::arg("nesterov") = false, py::arg("velocity") = none);
  m.def("rmsprop_update", &rmsprop_update, doc::rmsprop_update, py::arg("weights"), py::arg("grad"),
        py::arg("velocity"), py::kw_only(), py::arg("learning_rate"), py::arg("rho"),
        py::arg("epsilon"));
  m.def("adam_update", &adam_update, doc::adam_update, py::arg("weights"), py::arg("grad"),
        py::arg("m"), py::arg("v"), py::kw_only(), py::arg("learning_rate"), py::arg("beta_1"),
        py::arg("beta_2"), py::arg("epsilon"), py::arg("step"));

  m.def("set_num_threads", &set_num_threads, doc::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &denseops::num_threads, doc::get_num_threads);
  m.def("_set_thread_local_threads", &set_thread_local_threads, py::arg("n"));
  m.def("set_arch", &set_arch, doc::set_arch, py::arg("name"));
  m.def("get_arch", &denseops::arch, doc::get_arch);
  m.def("_fma_probe", &fma_probe, py::arg("dtype"), py::arg("iterations"), py::arg("threads"));
  m.def("_config", &config);

  m.def("activation", &activation, doc::activation, py::arg("x"), py::arg("kind"), py::kw_only(),
        py::arg("bias") = none, py::arg("out") = none, py::arg("alpha") = 0.0);
  m.def("activation_backward", &activation_backward, doc::activation_backward, py::arg("dout"),
        py::arg("y"), py::arg("kind"), py::kw_only(), py::arg("z") = none, py::arg("out") = none,
        py::arg("alpha") = 0.0);
  m.def("loss", &loss, doc::loss, py::arg("pred"), py::arg("target"), py::arg("kind"),
        py::kw_only(), py::arg("from_logits").noconvert() = false, py::arg("sample_weight") = none,
        py::arg("grad") = none, py::arg("delta") = 1.0);
  m.def("metric", &metric, doc::metric, py::arg("pred"), py::arg("target"), py::arg("kind"),
        py::kw_only(), py::arg("sample_weight") = none, py::arg("threshold") = 0.5,
        py::arg("k") = 5);
  m.def("dropout", &dropout, doc::dropout, py::arg("x"), py::arg("rate"), py::kw_only(),
        py::arg("seed"), py::arg("counter"), py::arg("out") = none);
  m.def("weight_penalty", &weight_penalty, doc::weight_penalty, py::arg("weights"),
        py::arg("grad") = none, py::kw_only(), py::arg("l1") = 0.0, py::arg("l2") = 0.0);
  m.def("link_activation", &link_activation, doc::link_activation, py::arg("z"), py::arg("link"),
        py::arg("out") = none);
  m.def("link_loss", &link_loss, doc::link_loss, py::arg("z"), py::arg("targets"), py::arg("link"),
        py::arg("dz") = none, py::arg("sample_weight") = none);
  m.def("axpy", &axpy, doc::axpy, py::arg("alpha"), py::arg("x"), py::arg("y"));
  m.def("_gemm_naive", &gemm_naive, doc::gemm_naive, py::arg("a"), py::arg("b"), py::kw_only(),
        py::arg("trans_a").noconvert() = false, py::arg("trans_b").noconvert() = false);

  m.def("adagrad_update", &adagrad_update, doc::adagrad_update, py::arg("weights"),
        py::arg("grad"), py::arg("accumulator"), py::kw_only(), py::arg("learning_rate"),
        py::arg("epsilon"));
  m.def("adamax_update", &adamax_update, doc::adamax_update, py::arg("weights"), py::arg("grad"),
        py::arg("m"), py::arg("u"), py::kw_only(), py::arg("learning_rate"), py::arg("beta_1"),
        py::arg("beta_2"), py::arg("epsilon"), py::arg("step"));
  m.def("nadam_update", &nadam_update, doc::nadam_update, py::arg("weights"), py::arg("grad"),
        py::arg("m"), py::arg("v"), py::kw_only(), py::arg("learning_rate"), py::arg("beta_1"),
        py::arg("beta_2"), py::arg("epsilon"), py::arg("step"));
  m.def("adamw_update", &adamw_update, doc::adamw_update, py::arg("weights"), py::arg("grad"),
        py::arg("m"), py::arg("v"), py::kw_only(), py::arg("learning_rate"),
        py::arg("weight_decay"), py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"),
        py::arg("step"), py::arg("v_hat") = none);

  m.def("batch_normalization", &batch_normalization, doc::batch_normalization, py::arg("x"),
        py::arg("gamma"), py::arg("beta"), py::kw_only(), py::arg("epsilon"),
        py::arg("mean") = none, py::arg("variance") = none);
  m.def("batch_normalization_backward", &batch_normalization_backward,
        doc::batch_normalization_backward, py::arg("dout"), py::arg("x"), py::arg("gamma"),
        py::arg("mean"), py::arg("variance"), py::kw_only(), py::arg("epsilon"));
  m.def("layer_normalization", &layer_normalization, doc::layer_normalization, py::arg("x"),
        py::arg("gamma"), py::arg("beta"), py::kw_only(), py::arg("epsilon"));
  m.def("layer_normalization_backward", &layer_normalization_backward,
        doc::layer_normalization_backward, py::arg("dout"), py::arg("x"), py::arg("gamma"),
        py::arg("mean"), py::arg("variance"), py::kw_only(), py::arg("epsilon"));
  m.def("_network_forward", &network_forward, doc::network_forward, py::arg("x"),
        py::arg("layers"), py::kw_only(), py::arg("chunk") = 1024);
}
