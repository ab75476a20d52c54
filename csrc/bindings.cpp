// The only file that includes pybind11. Every argument is checked here, once;
// then the GIL is released and a kernel from csrc/kernels/ runs on raw
// pointers. Errors name the function, the argument, and what was expected
// versus received, in NumPy's words where NumPy has them.
//
// Input policy (see README "Guarantees"):
//   * array arguments must be numpy.ndarray of float32 or float64, all of one
//     dtype; nothing is converted behind the caller's back (no lists, scalars,
//     ints, or float64 -> float32 casts): anything else is a TypeError.
//   * any layout is accepted for inputs (strided, negative strides, Fortran
//     order); a contiguous copy is made only when a kernel needs one.
//   * numpy.ma.MaskedArray is refused (its mask would be silently ignored);
//     other ndarray subclasses are read as plain arrays.
//   * `out` must be a writable, C-contiguous ndarray of the result's exact
//     shape and dtype; it is written in place and returned. Nothing is ever
//     written into a temporary copy, so a read-only `out` (np.broadcast_to
//     views are read-only) or a strided one is a ValueError. `out` may be an
//     input itself or overlap one in any way (a shifted view, a row of it):
//     the result is always the one computed from the inputs as they were
//     before the call (the input, or the result, goes through a scratch copy).
//   * arrays updated in place by the optimizers (weights, velocity, m, v)
//     must not share memory with each other (ValueError); the gradient may
//     overlap any of them and is then read from a copy.
#include <pybind11/gil_safe_call_once.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "docstrings.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/threading.hpp"

namespace py = pybind11;
using denseops::index_t;

namespace {

// ---------------------------------------------------------------- messages

std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s << (d ? ", " : "") << a.shape(d);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (std::size_t d = 0; d < shape.size(); ++d) s << (d ? ", " : "") << shape[d];
  s << (shape.size() == 1 ? ",)" : ")");
  return s.str();
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

std::string type_name(const py::handle& obj) {
  return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

// ---------------------------------------------------------------- checks

enum class DType { f32, f64 };

bool is_masked_array(const py::handle& obj) {
  // Looked up once. The first lookup imports numpy.ma (numpy does not), and
  // an import runs Python code that lets other threads take the GIL; a plain
  // function-local static would then leave a second thread waiting for the
  // initialisation while holding the GIL the first one needs (a deadlock on
  // the first calls from several threads). gil_safe_call_once_and_store
  // waits without the GIL.
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> masked;
  return py::isinstance(
      obj, masked
               .call_once_and_store_result(
                   [] { return py::module_::import("numpy.ma").attr("MaskedArray"); })
               .get_stored());
}

// The one gate every array argument passes: an ndarray of float32/float64.
py::array take_array(const char* fn, const char* arg, const py::handle& obj) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": " + arg +
                         " must be a numpy.ndarray of float32 or float64, got " + type_name(obj) +
                         "; convert with numpy.asarray(" + arg + ", dtype=numpy.float32)");
  }
  if (is_masked_array(obj)) {
    throw py::type_error(std::string(fn) + ": " + arg +
                         " must be a plain numpy.ndarray, got numpy.ma.MaskedArray (its mask "
                         "would be ignored); pass " + arg + ".filled(0) or " + arg + ".data");
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().equal(py::dtype::of<float>()) && !a.dtype().equal(py::dtype::of<double>())) {
    throw py::type_error(std::string(fn) + ": " + arg +
                         " must have dtype float32 or float64, got " + dtype_str(a) +
                         "; convert with " + arg + ".astype(numpy.float32)");
  }
  return a;
}

DType dtype_of(const py::array& a) {
  return a.dtype().equal(py::dtype::of<float>()) ? DType::f32 : DType::f64;
}

void require_same_dtype(const char* fn, const char* an, const py::array& a, const char* bn,
                        const py::array& b) {
  if (!a.dtype().equal(b.dtype())) {
    throw py::type_error(std::string(fn) + ": " + an + " and " + bn +
                         " must have the same dtype, got " + dtype_str(a) + " and " +
                         dtype_str(b) + "; cast one with .astype()");
  }
}

bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) != b.shape(d)) return false;
  return true;
}

// Byte range [lo, hi) an array can touch, for overlap tests.
std::pair<const char*, const char*> byte_span(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo;
  if (a.size() == 0) return {lo, lo};
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    const py::ssize_t extent = (a.shape(d) - 1) * a.strides(d);
    (extent < 0 ? lo : hi) += extent;
  }
  return {lo, hi + a.itemsize()};
}

bool overlaps(const py::array& a, const py::array& b) {
  auto [alo, ahi] = byte_span(a);
  auto [blo, bhi] = byte_span(b);
  return alo < bhi && blo < ahi;
}

// True when a and b are the very same elements in the same order: the same
// start, shape and strides. A kernel that reads element i before writing
// element i may then take them as one buffer; any other overlap may not.
bool same_view(const py::array& a, const py::array& b) {
  if (a.data() != b.data() || !same_shape(a, b)) return false;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) > 1 && a.strides(d) != b.strides(d)) return false;
  return true;
}

// NumPy's ALIGNED flag: the data address and strides are multiples of the
// item size. Views into byte buffers (np.frombuffer(..., offset=1), packed
// record fields) can be contiguous yet unaligned, and a kernel dereferencing
// them as T* is undefined behaviour (UBSan reports it).
bool is_aligned(const py::array& a) {
  return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
}

// A C-contiguous, aligned array with a's data: a itself when it already is one.
template <class T>
py::array_t<T> contiguous(const py::array& a) {
  auto c = py::array_t<T, py::array::c_style>::ensure(a);
  if (!is_aligned(c)) return py::array_t<T>(c.attr("copy")());  // copies are aligned
  return c;
}

// An input the kernel may read while writing `out`: an independent copy
// when the two overlap in any way other than being the very same array
// (elementwise kernels read each element before writing it, so exact aliasing
// is safe, but a shifted view is not).
template <class T>
py::array_t<T> readable_input(const py::array& in, const py::object& out) {
  py::array_t<T> c = contiguous<T>(in);
  if (out.is_none()) return c;
  auto o = py::reinterpret_borrow<py::array>(out);
  if (!same_view(c, o) && overlaps(c, o)) {
    return py::array_t<T>(py::array(c.request()).attr("copy")());
  }
  return c;
}

// Either a fresh array of `shape` or the caller's `out`, checked.
template <class T>
py::array_t<T> output(const char* fn, const py::object& out, const std::vector<py::ssize_t>& shape,
                      const py::array& like) {
  if (out.is_none()) return py::array_t<T>(shape);
  if (!py::isinstance<py::array>(out)) {
    throw py::type_error(std::string(fn) + ": out must be a numpy.ndarray or None, got " +
                         type_name(out));
  }
  auto o = py::reinterpret_borrow<py::array>(out);
  if (!o.dtype().equal(like.dtype())) {
    throw py::type_error(std::string(fn) + ": out must have dtype " + dtype_str(like) +
                         " (the inputs' dtype), got " + dtype_str(o));
  }
  if (!std::equal(shape.begin(), shape.end(), o.shape(), o.shape() + o.ndim())) {
    throw py::value_error(std::string(fn) + ": out has shape " + shape_str(o) +
                          " but the result has shape " + shape_str(shape));
  }
  // Writability first: np.broadcast_to views are read-only and zero-strided,
  // and "read-only" is the message that points at the real problem.
  if (!o.writeable()) {
    throw py::value_error(std::string(fn) +
                          ": out is read-only (flags.writeable is False, as for np.broadcast_to "
                          "views); expected a writable array, e.g. numpy.empty(" +
                          shape_str(shape) + ", " + dtype_str(like) + ")");
  }
  if (!(o.flags() & py::array::c_style)) {
    throw py::value_error(std::string(fn) +
                          ": out must be C-contiguous (a fresh array or a contiguous slice), got "
                          "strides " + py::str(py::tuple(o.attr("strides"))).cast<std::string>());
  }
  if (!is_aligned(o)) {
    throw py::value_error(std::string(fn) + ": out must be aligned to its " +
                          std::to_string(o.itemsize()) +
                          "-byte items, got an unaligned view (e.g. np.frombuffer with an odd "
                          "offset); pass a fresh array such as numpy.empty(" +
                          shape_str(shape) + ", " + dtype_str(like) + ")");
  }
  return py::array_t<T>(o);  // same object, no copy: dtype and layout match
}

template <class T>
const denseops::KernelTable<T>& kernels();
template <>
const denseops::KernelTable<float>& kernels<float>() { return denseops::kernels_f32(); }
template <>
const denseops::KernelTable<double>& kernels<double>() { return denseops::kernels_f64(); }

template <class F>
auto by_dtype(const py::array& a, F&& f) {
  return dtype_of(a) == DType::f32 ? f(float{}) : f(double{});
}

std::vector<py::ssize_t> shape_vec(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// ---------------------------------------------------------------- relu

py::array relu(const py::object& x_obj, const py::object& out) {
  py::array x = take_array("relu", "x", x_obj);
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("relu", out, shape_vec(x), x);
    auto xc = readable_input<T>(x, out);
    const T* px = xc.data();
    T* po = result.mutable_data();
    const index_t n = xc.size();
    py::gil_scoped_release nogil;
    kernels<T>().relu(px, po, n);
    return result;
  });
}

py::array relu_backward(const py::object& dout_obj, const py::object& y_obj,
                        const py::object& out) {
  py::array dout = take_array("relu_backward", "dout", dout_obj);
  py::array y = take_array("relu_backward", "y", y_obj);
  require_same_dtype("relu_backward", "dout", dout, "y", y);
  if (!same_shape(dout, y)) {
    throw py::value_error("relu_backward: dout and y must have the same shape, got " +
                          shape_str(dout) + " and " + shape_str(y));
  }
  return by_dtype(y, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("relu_backward", out, shape_vec(y), y);
    auto dc = readable_input<T>(dout, out);
    auto yc = readable_input<T>(y, out);
    const T *pd = dc.data(), *py_ = yc.data();
    T* po = result.mutable_data();
    const index_t n = yc.size();
    py::gil_scoped_release nogil;
    kernels<T>().relu_backward(pd, py_, po, n);
    return result;
  });
}

// ---------------------------------------------------------------- add

py::array add(const py::object& x_obj, const py::object& y_obj, const py::object& out) {
  py::array x = take_array("add", "x", x_obj);
  py::array y = take_array("add", "y", y_obj);
  require_same_dtype("add", "x", x, "y", y);
  const bool elementwise = same_shape(x, y);
  const bool bias = !elementwise && x.ndim() >= 1 && y.ndim() == 1 &&
                    y.shape(0) == x.shape(x.ndim() - 1);
  if (!elementwise && !bias) {
    throw py::value_error("add: operands could not be broadcast together with shapes " +
                          shape_str(x) + " " + shape_str(y) +
                          "; add takes equal shapes, or x of shape (..., n) and a bias y of "
                          "shape (n,)");
  }
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("add", out, shape_vec(x), x);
    auto xc = readable_input<T>(x, out);
    auto yc = readable_input<T>(y, out);
    const T *px = xc.data(), *py_ = yc.data();
    T* po = result.mutable_data();
    const index_t n = xc.size();
    const index_t cols = bias ? y.shape(0) : 0;
    py::gil_scoped_release nogil;
    if (elementwise) {
      kernels<T>().add(px, py_, po, n);
    } else if (cols > 0) {
      kernels<T>().bias_add(px, py_, po, n / cols, cols);
    }
    return result;
  });
}

// ---------------------------------------------------------------- reductions

double dot(const py::object& x_obj, const py::object& y_obj) {
  py::array x = take_array("dot", "x", x_obj);
  py::array y = take_array("dot", "y", y_obj);
  require_same_dtype("dot", "x", x, "y", y);
  if (x.ndim() != 1 || y.ndim() != 1 || x.shape(0) != y.shape(0)) {
    throw py::value_error("dot: expected two 1-D arrays of the same length, got shapes " +
                          shape_str(x) + " and " + shape_str(y));
  }
  return by_dtype(x, [&](auto tag) -> double {
    using T = decltype(tag);
    auto xc = contiguous<T>(x);
    auto yc = contiguous<T>(y);
    const T *px = xc.data(), *py_ = yc.data();
    const index_t n = xc.size();
    py::gil_scoped_release nogil;
    return static_cast<double>(kernels<T>().dot(px, py_, n));
  });
}

py::array column_sums(const py::object& x_obj, const py::object& out) {
  py::array x = take_array("column_sums", "x", x_obj);
  if (x.ndim() != 2) {
    throw py::value_error("column_sums: x must be 2-D (rows, cols), got shape " + shape_str(x));
  }
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("column_sums", out, {x.shape(1)}, x);
    auto xc = contiguous<T>(x);
    if (overlaps(xc, result)) xc = py::array_t<T>(xc.attr("copy")());
    const T* px = xc.data();
    T* po = result.mutable_data();
    const index_t rows = x.shape(0), cols = x.shape(1);
    py::gil_scoped_release nogil;
    kernels<T>().column_sums(px, po, rows, cols);
    return result;
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
// are whole elements; the packing inside the GEMM absorbs any layout.
template <class T>
StridedMatrix<T> strided(const py::array& a, bool transpose) {
  py::array src = a;
  if (!is_aligned(a)) src = contiguous<T>(a);  // odd byte strides or address: rare, copy once
  StridedMatrix<T> m{src, static_cast<const T*>(src.data()), src.shape(0), src.shape(1),
                     src.strides(0) / static_cast<py::ssize_t>(sizeof(T)),
                     src.strides(1) / static_cast<py::ssize_t>(sizeof(T))};
  if (transpose) {
    std::swap(m.rows, m.cols);
    std::swap(m.row_stride, m.col_stride);
  }
  return m;
}

py::array matmul(const py::object& a_obj, const py::object& b_obj, const py::object& out,
                 bool trans_a, bool trans_b) {
  py::array a = take_array("matmul", "a", a_obj);
  py::array b = take_array("matmul", "b", b_obj);
  require_same_dtype("matmul", "a", a, "b", b);
  if (a.ndim() != 2 || b.ndim() != 2) {
    throw py::value_error("matmul: a and b must be 2-D, got shapes " + shape_str(a) + " and " +
                          shape_str(b));
  }
  const char* a_name = trans_a ? "a.T" : "a";
  const char* b_name = trans_b ? "b.T" : "b";
  const py::ssize_t M = trans_a ? a.shape(1) : a.shape(0);
  const py::ssize_t K = trans_a ? a.shape(0) : a.shape(1);
  const py::ssize_t Kb = trans_b ? b.shape(1) : b.shape(0);
  const py::ssize_t N = trans_b ? b.shape(0) : b.shape(1);
  if (K != Kb) {
    std::ostringstream s;
    s << "matmul: shapes " << shape_str(a) << " and " << shape_str(b) << " do not fit: "
      << a_name << " is (" << M << ", " << K << ") and " << b_name << " is (" << Kb << ", " << N
      << "); size " << K << " is different from " << Kb;
    throw py::value_error(s.str());
  }
  return by_dtype(a, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("matmul", out, {M, N}, a);
    // The kernel writes C while still reading A and B: an out that shares
    // memory with either gets the product in a scratch array first.
    const bool clash = !out.is_none() && (overlaps(result, a) || overlaps(result, b));
    py::array_t<T> target = clash ? py::array_t<T>(std::vector<py::ssize_t>{M, N}) : result;
    auto A = strided<T>(a, trans_a);
    auto B = strided<T>(b, trans_b);
    T* pc = target.mutable_data();
    // A big product runs as tiles of C, with a look for Ctrl-C between
    // tiles, so a KeyboardInterrupt is honoured within a fraction of a second
    // rather than after minutes. A tile of ~1e10 flops takes ~0.1 s and stays
    // large enough that re-packing B per tile costs < 1 %. Tiles are bands of
    // at least 64 rows; when even 64 rows are too much work (few rows and a
    // huge K or N: 64 x 150000 x 150000), the band is cut into columns too.
    constexpr double kFlopsPerTile = 1e10;
    const double flops_per_row = 2.0 * static_cast<double>(N) * static_cast<double>(K);
    const index_t band = std::max<index_t>(
        64, static_cast<index_t>(kFlopsPerTile / std::max(flops_per_row, 1.0)));
    const double flops_per_band_column = 2.0 * static_cast<double>(std::min<index_t>(band, M)) * K;
    const index_t width = std::max<index_t>(
        256, static_cast<index_t>(kFlopsPerTile / std::max(flops_per_band_column, 1.0)));
    for (index_t first = 0; first < M; first += band) {
      const index_t rows = std::min<index_t>(band, M - first);
      for (index_t col = 0; col < N; col += width) {
        const index_t cols = std::min<index_t>(width, N - col);
        {
          py::gil_scoped_release nogil;
          kernels<T>().gemm(rows, cols, K, A.data + first * A.row_stride, A.row_stride,
                            A.col_stride, B.data + col * B.col_stride, B.row_stride,
                            B.col_stride, pc + first * N + col, N);
        }
        const bool last = first + rows >= M && col + cols >= N;
        if (!last && PyErr_CheckSignals() != 0) throw py::error_already_set();
      }
    }
    if (clash) std::memcpy(result.mutable_data(), target.data(), sizeof(T) * M * N);
    return result;
  });
}

// ---------------------------------------------------------------- losses

py::array softmax(const py::object& x_obj, const py::object& out) {
  py::array x = take_array("softmax", "x", x_obj);
  if (x.ndim() != 2) {
    throw py::value_error("softmax: x must be 2-D (batch, classes), got shape " + shape_str(x));
  }
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("softmax", out, shape_vec(x), x);
    auto xc = readable_input<T>(x, out);
    const T* px = xc.data();
    T* po = result.mutable_data();
    const index_t B = x.shape(0), C = x.shape(1);
    py::gil_scoped_release nogil;
    kernels<T>().softmax(px, po, B, C);
    return result;
  });
}

py::array softmax_backward(const py::object& dout_obj, const py::object& y_obj,
                           const py::object& out) {
  py::array dout = take_array("softmax_backward", "dout", dout_obj);
  py::array y = take_array("softmax_backward", "y", y_obj);
  require_same_dtype("softmax_backward", "dout", dout, "y", y);
  if (y.ndim() != 2 || !same_shape(dout, y)) {
    throw py::value_error("softmax_backward: dout and y must be 2-D of the same shape, got " +
                          shape_str(dout) + " and " + shape_str(y));
  }
  return by_dtype(y, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>("softmax_backward", out, shape_vec(y), y);
    // Each row reads all of dout and y before writing, so copy on any overlap.
    auto dc = contiguous<T>(dout);
    auto yc = contiguous<T>(y);
    if (overlaps(dc, result)) dc = py::array_t<T>(dc.attr("copy")());
    if (overlaps(yc, result)) yc = py::array_t<T>(yc.attr("copy")());
    const T *pd = dc.data(), *py_ = yc.data();
    T* po = result.mutable_data();
    const index_t B = y.shape(0), C = y.shape(1);
    py::gil_scoped_release nogil;
    kernels<T>().softmax_backward(pd, py_, po, B, C);
    return result;
  });
}

void require_logits(const char* fn, const py::array& logits) {
  if (logits.ndim() != 2 || logits.shape(0) == 0 || logits.shape(1) == 0) {
    throw py::value_error(std::string(fn) +
                          ": logits must be 2-D (batch, classes) with at least one row and one "
                          "class, got shape " + shape_str(logits));
  }
}

// Integer class labels, copied into an int64 array this call owns and
// checked there to lie in [0, classes). The kernel selects memory by these
// values with the GIL released, so it must read exactly the values that were
// checked: never the caller's buffer, which another Python thread may change
// meanwhile, or which may alias the dlogits being written.
py::array_t<std::int64_t> take_labels(const char* fn, const py::object& obj, py::ssize_t batch,
                                      py::ssize_t classes) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": labels must be a 1-D numpy.ndarray of integers, got " +
                         type_name(obj));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(std::string(fn) + ": labels must have an integer dtype, got " +
                         dtype_str(a) + "; class indices are whole numbers in [0, " +
                         std::to_string(classes) + ")");
  }
  if (a.ndim() != 1 || a.shape(0) != batch) {
    throw py::value_error(std::string(fn) + ": labels must have shape (" + std::to_string(batch) +
                          ",) to match logits' batch, got " + shape_str(a));
  }
  // A fresh array, filled under the GIL. Unsigned values past INT64_MAX wrap
  // to negative ones here and are refused below like any other negative.
  py::array_t<std::int64_t> labels(batch);
  py::module_::import("numpy").attr("copyto")(labels, a, py::arg("casting") = "unsafe");
  const std::int64_t* p = labels.data();
  for (py::ssize_t i = 0; i < batch; ++i) {
    if (p[i] < 0 || p[i] >= classes) {
      throw py::value_error(std::string(fn) + ": labels must be in [0, " +
                            std::to_string(classes) + ") for " + std::to_string(classes) +
                            " classes, got " + std::to_string(p[i]) + " at index " +
                            std::to_string(i));
    }
  }
  return labels;
}

// Returns (mean loss, number of rows whose argmax is the label).
py::tuple sparse_softmax_cross_entropy(const py::object& logits_obj, const py::object& labels_obj,
                                       const py::object& dlogits) {
  const char* fn = "sparse_softmax_cross_entropy";
  py::array logits = take_array(fn, "logits", logits_obj);
  require_logits(fn, logits);
  auto labels = take_labels(fn, labels_obj, logits.shape(0), logits.shape(1));
  return by_dtype(logits, [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto xc = contiguous<T>(logits);
    T* pd = nullptr;
    if (!dlogits.is_none()) {
      auto d = output<T>(fn, dlogits, shape_vec(logits), logits);
      if (overlaps(d, xc)) xc = py::array_t<T>(xc.attr("copy")());
      pd = d.mutable_data();
    }
    const T* px = xc.data();
    const index_t B = logits.shape(0), C = logits.shape(1);
    index_t correct = 0;
    double total;
    {
      py::gil_scoped_release nogil;
      total = kernels<T>().sparse_cross_entropy(px, labels.data(), pd, B, C, &correct);
    }
    return py::make_tuple(total / static_cast<double>(B), correct);
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
    throw py::value_error(std::string(fn) + ": targets must have the logits' shape " +
                          shape_str(logits) + ", got " + shape_str(targets));
  }
  return by_dtype(logits, [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto xc = contiguous<T>(logits);
    auto tc = contiguous<T>(targets);
    T* pd = nullptr;
    if (!dlogits.is_none()) {
      auto d = output<T>(fn, dlogits, shape_vec(logits), logits);
      if (overlaps(d, xc)) xc = py::array_t<T>(xc.attr("copy")());
      if (overlaps(d, tc)) tc = py::array_t<T>(tc.attr("copy")());
      pd = d.mutable_data();
    }
    const T *px = xc.data(), *pt = tc.data();
    const index_t B = logits.shape(0), C = logits.shape(1);
    index_t correct = 0;
    double total;
    {
      py::gil_scoped_release nogil;
      total = kernels<T>().dense_cross_entropy(px, pt, pd, B, C, &correct);
    }
    return py::make_tuple(total / static_cast<double>(B), correct);
  });
}

// ---------------------------------------------------------------- optimizers

// An array updated in place: it must be exactly `like`'s dtype and shape,
// C-contiguous and writable, because a silent copy would drop the update.
template <class T>
T* inplace(const char* fn, const char* arg, const py::object& obj, const py::array& like) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": " + arg + " must be a numpy.ndarray, got " +
                         type_name(obj));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().equal(like.dtype())) {
    throw py::type_error(std::string(fn) + ": " + arg + " must have dtype " + dtype_str(like) +
                         ", got " + dtype_str(a));
  }
  if (!same_shape(a, like)) {
    throw py::value_error(std::string(fn) + ": " + arg + " must have shape " + shape_str(like) +
                          ", got " + shape_str(a));
  }
  if (!a.writeable() || !(a.flags() & py::array::c_style) || !is_aligned(a)) {
    const std::string received =
        !a.writeable() ? "a read-only one"
        : !is_aligned(a)
            ? "an unaligned one"
            : "a non-contiguous one with strides " +
                  py::str(py::tuple(a.attr("strides"))).cast<std::string>();
    throw py::value_error(std::string(fn) + ": " + arg +
                          " is updated in place and must be a writable, aligned, C-contiguous "
                          "array, got " + received);
  }
  return static_cast<T*>(a.mutable_data());
}

// The arrays one update writes in place, by argument name. Two of them
// sharing memory has no meaning (which write should win?), so it is refused.
using InPlaceArgs = std::vector<std::pair<const char*, py::array>>;

void require_disjoint(const char* fn, const InPlaceArgs& args) {
  for (std::size_t i = 0; i < args.size(); ++i)
    for (std::size_t j = i + 1; j < args.size(); ++j)
      if (overlaps(args[i].second, args[j].second)) {
        throw py::value_error(std::string(fn) + ": " + args[i].first + " and " + args[j].first +
                              " are both updated in place and must not share memory; pass "
                              "separate arrays (e.g. numpy.zeros_like(weights))");
      }
}

// The gradient, contiguous, and a private copy when it overlaps anything the
// update writes: the kernels read g[i] after writing state[i], so an aliased
// gradient would be read half-updated.
template <class T>
py::array_t<T> gradient_for(const char* fn, const py::object& g_obj, const py::array& w,
                            const InPlaceArgs& written) {
  py::array g = take_array(fn, "grad", g_obj);
  require_same_dtype(fn, "weights", w, "grad", g);
  if (!same_shape(g, w)) {
    throw py::value_error(std::string(fn) + ": grad has shape " + shape_str(g) +
                          " but weights have shape " + shape_str(w));
  }
  py::array_t<T> gc = contiguous<T>(g);
  for (const auto& arg : written)
    if (overlaps(gc, arg.second)) return py::array_t<T>(gc.attr("copy")());
  return gc;
}

py::array as_array(const py::object& obj) { return py::reinterpret_borrow<py::array>(obj); }

void sgd_update(const py::object& w_obj, const py::object& g_obj, double learning_rate,
                double momentum, bool nesterov, const py::object& velocity) {
  const char* fn = "sgd_update";
  py::array w = take_array(fn, "weights", w_obj);
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    T* pw = inplace<T>(fn, "weights", w_obj, w);
    T* pv = velocity.is_none() ? nullptr : inplace<T>(fn, "velocity", velocity, w);
    InPlaceArgs written{{"weights", w}};
    if (pv) written.emplace_back("velocity", as_array(velocity));
    require_disjoint(fn, written);
    auto g = gradient_for<T>(fn, g_obj, w, written);
    const T* pg = g.data();
    const index_t n = w.size();
    py::gil_scoped_release nogil;
    kernels<T>().sgd_update(pw, pg, pv, n, T(learning_rate), T(momentum), nesterov);
    return 0;
  });
}

void rmsprop_update(const py::object& w_obj, const py::object& g_obj, const py::object& v_obj,
                    double learning_rate, double rho, double epsilon) {
  const char* fn = "rmsprop_update";
  py::array w = take_array(fn, "weights", w_obj);
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    T* pw = inplace<T>(fn, "weights", w_obj, w);
    T* pv = inplace<T>(fn, "velocity", v_obj, w);
    const InPlaceArgs written{{"weights", w}, {"velocity", as_array(v_obj)}};
    require_disjoint(fn, written);
    auto g = gradient_for<T>(fn, g_obj, w, written);
    const T* pg = g.data();
    const index_t n = w.size();
    py::gil_scoped_release nogil;
    kernels<T>().rmsprop_update(pw, pg, pv, n, T(learning_rate), T(rho), T(epsilon));
    return 0;
  });
}

void adam_update(const py::object& w_obj, const py::object& g_obj, const py::object& m_obj,
                 const py::object& v_obj, double alpha, double beta1, double beta2,
                 double epsilon) {
  const char* fn = "adam_update";
  py::array w = take_array(fn, "weights", w_obj);
  by_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    T* pw = inplace<T>(fn, "weights", w_obj, w);
    T* pm = inplace<T>(fn, "m", m_obj, w);
    T* pv = inplace<T>(fn, "v", v_obj, w);
    const InPlaceArgs written{{"weights", w}, {"m", as_array(m_obj)}, {"v", as_array(v_obj)}};
    require_disjoint(fn, written);
    auto g = gradient_for<T>(fn, g_obj, w, written);
    const T* pg = g.data();
    const index_t n = w.size();
    py::gil_scoped_release nogil;
    kernels<T>().adam_update(pw, pg, pm, pv, n, T(alpha), T(beta1), T(beta2), T(epsilon));
    return 0;
  });
}

// ---------------------------------------------------------------- MLP output layer

int take_link(const char* fn, const std::string& link) {
  if (link == "identity") return 0;
  if (link == "logistic") return 1;
  if (link == "softmax") return 2;
  if (link == "exp") return 3;
  throw py::value_error(std::string(fn) +
                        ": link must be one of 'identity', 'logistic', 'softmax', 'exp', got '" +
                        link + "'");
}

void require_outputs(const char* fn, const char* arg, const py::array& a) {
  if (a.ndim() != 2) {
    throw py::value_error(std::string(fn) + ": " + arg + " must be 2-D (samples, outputs), got shape " +
                          shape_str(a));
  }
}

py::array link_activation(const py::object& z_obj, const std::string& link_name,
                          const py::object& out) {
  const char* fn = "link_activation";
  const int link = take_link(fn, link_name);
  py::array z = take_array(fn, "z", z_obj);
  require_outputs(fn, "z", z);
  return by_dtype(z, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>(fn, out, shape_vec(z), z);
    auto zc = readable_input<T>(z, out);
    const T* pz = zc.data();
    T* po = result.mutable_data();
    const index_t B = z.shape(0), K = z.shape(1);
    py::gil_scoped_release nogil;
    kernels<T>().link_activation(link, pz, po, B, K);
    return result;
  });
}

double link_loss(const py::object& z_obj, const py::object& y_obj, const std::string& link_name,
                 const py::object& dz_obj, const py::object& w_obj) {
  const char* fn = "link_loss";
  const int link = take_link(fn, link_name);
  py::array z = take_array(fn, "z", z_obj);
  py::array y = take_array(fn, "targets", y_obj);
  require_same_dtype(fn, "z", z, "targets", y);
  require_outputs(fn, "z", z);
  if (z.shape(0) == 0 || z.shape(1) == 0) {
    throw py::value_error(std::string(fn) + ": z must have at least one row and one column, got shape " +
                          shape_str(z));
  }
  if (!same_shape(z, y)) {
    throw py::value_error(std::string(fn) + ": targets must have z's shape " + shape_str(z) +
                          ", got " + shape_str(y));
  }
  const bool weighted = !w_obj.is_none();
  py::array w;
  if (weighted) {
    w = take_array(fn, "sample_weight", w_obj);
    require_same_dtype(fn, "z", z, "sample_weight", w);
    if (w.ndim() != 1 || w.shape(0) != z.shape(0)) {
      throw py::value_error(std::string(fn) + ": sample_weight must have shape (" +
                            std::to_string(z.shape(0)) + ",), one weight per row of z, got " +
                            shape_str(w));
    }
  }
  return by_dtype(z, [&](auto tag) -> double {
    using T = decltype(tag);
    auto zc = contiguous<T>(z);
    auto yc = contiguous<T>(y);
    py::array_t<T> wc;
    const T* pw = nullptr;
    double weight_sum = static_cast<double>(z.shape(0));
    if (weighted) {
      wc = contiguous<T>(w);
      pw = wc.data();
      weight_sum = 0;
      for (py::ssize_t i = 0; i < wc.size(); ++i) weight_sum += pw[i];
      if (!(weight_sum > 0) || !std::isfinite(weight_sum)) {
        throw py::value_error(std::string(fn) +
                              ": sample_weight must sum to a finite number > 0, got " +
                              std::to_string(weight_sum));
      }
    }
    auto d = dz_obj.is_none() ? py::array_t<T>(shape_vec(z)) : output<T>(fn, dz_obj, shape_vec(z), z);
    if (overlaps(d, zc)) zc = py::array_t<T>(zc.attr("copy")());
    if (overlaps(d, yc)) yc = py::array_t<T>(yc.attr("copy")());
    if (pw && overlaps(d, wc)) {
      wc = py::array_t<T>(wc.attr("copy")());
      pw = wc.data();
    }
    const T *pz = zc.data(), *py_ = yc.data();
    T* pd = d.mutable_data();
    const index_t B = z.shape(0), K = z.shape(1);
    const T scale = static_cast<T>(1.0 / weight_sum);
    double total;
    {
      py::gil_scoped_release nogil;
      total = kernels<T>().link_loss(link, pz, py_, pw, pd, B, K, scale);
    }
    return total / weight_sum;
  });
}

void axpy(double alpha, const py::object& x_obj, const py::object& y_obj) {
  const char* fn = "axpy";
  py::array y = take_array(fn, "y", y_obj);
  py::array x = take_array(fn, "x", x_obj);
  require_same_dtype(fn, "x", x, "y", y);
  if (!same_shape(x, y)) {
    throw py::value_error(std::string(fn) + ": x has shape " + shape_str(x) +
                          " but y has shape " + shape_str(y));
  }
  by_dtype(y, [&](auto tag) {
    using T = decltype(tag);
    T* py_ = inplace<T>(fn, "y", y_obj, y);
    auto xc = readable_input<T>(x, y_obj);
    const T* px = xc.data();
    const index_t n = y.size();
    py::gil_scoped_release nogil;
    kernels<T>().axpy(T(alpha), px, py_, n);
    return 0;
  });
}

// ---------------------------------------------------------------- config

void set_num_threads(py::object n) {
  if (!py::isinstance<py::int_>(n) || py::isinstance<py::bool_>(n)) {
    throw py::type_error("set_num_threads: n must be an int >= 1, got " + type_name(n));
  }
  // Not n.cast<long long>(): an int beyond 64 bits (2**70) would be a pybind11 cast error.
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(n.ptr(), &overflow);
  if (overflow != 0 || value < 1 || value > 1024) {
    throw py::value_error("set_num_threads: n must be between 1 and 1024, got " +
                          py::str(n).cast<std::string>());
  }
  denseops::set_num_threads(static_cast<int>(value));
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

// Defined at the end of this file.
void bind_nn_kernels(py::module_& m);

}  // namespace

PYBIND11_MODULE(_kernels, m) {
  m.doc() = "denseops C++ kernels. Import them from the denseops package.";
  m.attr("__version__") = DENSEOPS_VERSION;
  namespace doc = denseops::doc;
  // Each docstring starts with its Python signature; types live in _kernels.pyi.
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
        py::arg("trans_b").noconvert() = false);

  m.def("softmax", &softmax, doc::softmax, py::arg("x"), py::arg("out") = none);
  m.def("softmax_backward", &softmax_backward, doc::softmax_backward, py::arg("dout"),
        py::arg("y"), py::arg("out") = none);
  m.def("sparse_softmax_cross_entropy", &sparse_softmax_cross_entropy,
        doc::sparse_softmax_cross_entropy, py::arg("logits"), py::arg("labels"),
        py::arg("dlogits") = none);
  m.def("softmax_cross_entropy", &softmax_cross_entropy, doc::softmax_cross_entropy,
        py::arg("logits"), py::arg("targets"), py::arg("dlogits") = none);
  m.def("sgd_update", &sgd_update, doc::sgd_update, py::arg("weights"), py::arg("grad"),
        py::kw_only(), py::arg("learning_rate"), py::arg("momentum") = 0.0,
        py::arg("nesterov") = false, py::arg("velocity") = none);
  m.def("rmsprop_update", &rmsprop_update, doc::rmsprop_update, py::arg("weights"),
        py::arg("grad"), py::arg("velocity"), py::kw_only(), py::arg("learning_rate"),
        py::arg("rho"), py::arg("epsilon"));
  m.def("adam_update", &adam_update, doc::adam_update, py::arg("weights"), py::arg("grad"),
        py::arg("m"), py::arg("v"), py::kw_only(), py::arg("alpha"), py::arg("beta1"),
        py::arg("beta2"), py::arg("epsilon"));

  m.def("set_num_threads", &set_num_threads, doc::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &denseops::num_threads, doc::get_num_threads);
  m.def("set_arch", &set_arch, doc::set_arch, py::arg("name"));
  m.def("get_arch", &denseops::arch, doc::get_arch);
  m.def("_fma_probe", &fma_probe, py::arg("dtype"), py::arg("iterations"), py::arg("threads"));
  m.def("_config", &config);
  bind_nn_kernels(m);
  m.def("link_activation", &link_activation, doc::link_activation, py::arg("z"), py::arg("link"),
        py::arg("out") = none);
  m.def("link_loss", &link_loss, doc::link_loss, py::arg("z"), py::arg("targets"),
        py::arg("link"), py::arg("dz") = none, py::arg("sample_weight") = none);
  m.def("axpy", &axpy, doc::axpy, py::arg("alpha"), py::arg("x"), py::arg("y"));
}

// ---------------------------------------------------------------- denseops.nn kernels
// Activations, losses, metrics, dropout and weight penalties: the kernels the
// training layer calls. Same input policy as above.

#include "kernels/nn_kinds.hpp"

namespace {

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
  throw py::value_error(std::string(fn) + ": unknown " + what + " " + py::repr(py::str(name))
                            .cast<std::string>() + "; expected one of " + allowed);
}

// An extra input of `like`'s dtype and exact shape, C-contiguous, and a
// private copy when it overlaps `written` (the kernel reads it while writing).
template <class T>
py::array_t<T> input_like(const char* fn, const char* arg, const py::object& obj,
                          const char* like_name, const py::array& like,
                          const py::array* written) {
  py::array a = take_array(fn, arg, obj);
  require_same_dtype(fn, like_name, like, arg, a);
  if (!same_shape(a, like)) {
    throw py::value_error(std::string(fn) + ": " + arg + " must have the shape of " + like_name +
                          " " + shape_str(like) + ", got " + shape_str(a));
  }
  py::array_t<T> c = contiguous<T>(a);
  if (written && !same_view(c, *written) && overlaps(c, *written))
    return py::array_t<T>(c.attr("copy")());
  return c;
}

py::array nn_activation(const py::object& x_obj, const std::string& kind_name,
                        const py::object& bias_obj, const py::object& out, double alpha) {
  const char* fn = "activation";
  const int kind = kind_index(fn, "activation", kind_name, denseops::kActivationNames);
  py::array x = take_array(fn, "x", x_obj);
  const py::ssize_t cols = x.ndim() == 0 ? 1 : x.shape(x.ndim() - 1);
  const bool has_bias = !bias_obj.is_none();
  py::array bias;
  if (has_bias) {
    bias = take_array(fn, "bias", bias_obj);
    require_same_dtype(fn, "x", x, "bias", bias);
    if (x.ndim() == 0 || bias.ndim() != 1 || bias.shape(0) != cols) {
      throw py::value_error(std::string(fn) + ": bias must have shape (" + std::to_string(cols) +
                            ",) to match x's last axis, got x " + shape_str(x) + " and bias " +
                            shape_str(bias));
    }
  }
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>(fn, out, shape_vec(x), x);
    auto xc = readable_input<T>(x, out);
    py::array_t<T> bc;
    if (has_bias) {
      bc = contiguous<T>(bias);
      if (overlaps(bc, result)) bc = py::array_t<T>(bc.attr("copy")());
    }
    const T* px = xc.data();
    const T* pb = has_bias ? bc.data() : nullptr;
    T* po = result.mutable_data();
    const index_t rows = cols == 0 ? 0 : static_cast<index_t>(xc.size() / cols);
    py::gil_scoped_release nogil;
    kernels<T>().activation_forward(kind, px, pb, po, rows, cols, T(alpha));
    return result;
  });
}

py::array nn_activation_backward(const py::object& dout_obj, const py::object& y_obj,
                                 const std::string& kind_name, const py::object& z_obj,
                                 const py::object& out, double alpha) {
  const char* fn = "activation_backward";
  const int kind = kind_index(fn, "activation", kind_name, denseops::kActivationNames);
  py::array y = take_array(fn, "y", y_obj);
  const bool needs_z = denseops::activation_needs_input(static_cast<ActivationKind>(kind));
  if (needs_z && z_obj.is_none()) {
    throw py::value_error(std::string(fn) + ": the gradient of " + kind_name +
                          " needs its input: pass z, the pre-activation");
  }
  return by_dtype(y, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>(fn, out, shape_vec(y), y);
    // Elementwise: each element is read before it is written, so exact aliasing is fine.
    auto dc = input_like<T>(fn, "dout", dout_obj, "y", y, &result);
    auto yc = readable_input<T>(y, out);
    py::array_t<T> zc;
    if (!z_obj.is_none()) zc = input_like<T>(fn, "z", z_obj, "y", y, &result);
    const T *pd = dc.data(), *py_ = yc.data();
    const T* pz = z_obj.is_none() ? nullptr : zc.data();
    T* po = result.mutable_data();
    const index_t n = yc.size();
    py::gil_scoped_release nogil;
    kernels<T>().activation_backward(kind, pd, needs_z ? pz : nullptr, py_, po, n, T(alpha));
    return result;
  });
}

// The sample weights of a batch: (B,) of pred's dtype, or empty for all ones.
template <class T>
py::array_t<T> sample_weights(const char* fn, const py::object& obj, const py::array& pred,
                              const py::array* written) {
  if (obj.is_none()) return py::array_t<T>();
  py::array w = take_array(fn, "sample_weight", obj);
  require_same_dtype(fn, "pred", pred, "sample_weight", w);
  if (w.ndim() != 1 || w.shape(0) != pred.shape(0)) {
    throw py::value_error(std::string(fn) + ": sample_weight must have shape (" +
                          std::to_string(pred.shape(0)) + ",), one weight per row of pred, got " +
                          shape_str(w));
  }
  py::array_t<T> c = contiguous<T>(w);
  if (written && overlaps(c, *written)) return py::array_t<T>(c.attr("copy")());
  return c;
}

void require_batch(const char* fn, const py::array& pred) {
  if (pred.ndim() != 2 || pred.shape(0) == 0 || pred.shape(1) == 0) {
    throw py::value_error(std::string(fn) +
                          ": pred must be 2-D (batch, outputs) with at least one row and one "
                          "column, got shape " + shape_str(pred));
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
      throw py::value_error(std::string(fn) + ": " + name +
                            " has no from_logits form; it compares pred with target directly");
    }
    return from_logits ? e.logits : e.probabilities;
  }
  std::string allowed;
  for (const auto& e : table) allowed += (allowed.empty() ? "" : ", ") + std::string(e.name);
  throw py::value_error(std::string(fn) + ": unknown loss " +
                        py::repr(py::str(name)).cast<std::string>() + "; expected one of " +
                        allowed);
}

double nn_loss(const py::object& pred_obj, const py::object& target_obj,
               const std::string& kind_name, bool from_logits, const py::object& weight_obj,
               const py::object& grad_obj, double delta) {
  const char* fn = "loss";
  const LossKind kind = loss_kind(fn, kind_name, from_logits);
  py::array pred = take_array(fn, "pred", pred_obj);
  require_batch(fn, pred);
  if (kind == LossKind::huber && !(delta > 0)) {
    throw py::value_error(std::string(fn) + ": delta must be > 0, got " + std::to_string(delta));
  }
  const bool sparse = denseops::loss_takes_labels(kind);
  py::array_t<std::int64_t> labels;
  if (sparse) labels = take_labels(fn, target_obj, pred.shape(0), pred.shape(1));
  return by_dtype(pred, [&](auto tag) -> double {
    using T = decltype(tag);
    py::array_t<T> grad;
    if (!grad_obj.is_none()) grad = output<T>(fn, grad_obj, shape_vec(pred), pred);
    const py::array* written = grad_obj.is_none() ? nullptr : &grad;
    auto pc = contiguous<T>(pred);
    if (written && overlaps(pc, grad)) pc = py::array_t<T>(pc.attr("copy")());
    py::array_t<T> tc;
    if (!sparse) {
      tc = input_like<T>(fn, "target", target_obj, "pred", pred, nullptr);
      if (written && overlaps(tc, grad)) tc = py::array_t<T>(tc.attr("copy")());
    }
    auto wc = sample_weights<T>(fn, weight_obj, pred, written);
    const T* pp = pc.data();
    const T* pt = sparse ? nullptr : tc.data();
    const std::int64_t* pl = sparse ? labels.data() : nullptr;
    const T* pw = weight_obj.is_none() ? nullptr : wc.data();
    T* pg = written ? grad.mutable_data() : nullptr;
    const index_t B = pred.shape(0), D = pred.shape(1);
    double total;
    {
      py::gil_scoped_release nogil;
      total = kernels<T>().loss(static_cast<int>(kind), pp, pt, pl, pw, pg, B, D, T(delta));
    }
    return total / static_cast<double>(B);
  });
}

double nn_metric(const py::object& pred_obj, const py::object& target_obj,
                 const std::string& kind_name, const py::object& weight_obj, double threshold,
                 py::ssize_t k) {
  const char* fn = "metric";
  const int kind = kind_index(fn, "metric", kind_name, denseops::kMetricNames);
  py::array pred = take_array(fn, "pred", pred_obj);
  require_batch(fn, pred);
  const bool sparse = denseops::metric_takes_labels(static_cast<MetricKind>(kind));
  const bool top_k = static_cast<MetricKind>(kind) == MetricKind::top_k_categorical_accuracy ||
                     static_cast<MetricKind>(kind) == MetricKind::sparse_top_k_categorical_accuracy;
  if (top_k && k < 1) {
    throw py::value_error(std::string(fn) + ": k must be >= 1, got " + std::to_string(k));
  }
  py::array_t<std::int64_t> labels;
  if (sparse) labels = take_labels(fn, target_obj, pred.shape(0), pred.shape(1));
  return by_dtype(pred, [&](auto tag) -> double {
    using T = decltype(tag);
    auto pc = contiguous<T>(pred);
    py::array_t<T> tc;
    if (!sparse) tc = input_like<T>(fn, "target", target_obj, "pred", pred, nullptr);
    auto wc = sample_weights<T>(fn, weight_obj, pred, nullptr);
    const T* pp = pc.data();
    const T* pt = sparse ? nullptr : tc.data();
    const std::int64_t* pl = sparse ? labels.data() : nullptr;
    const T* pw = weight_obj.is_none() ? nullptr : wc.data();
    const index_t B = pred.shape(0), D = pred.shape(1);
    const T param = top_k ? T(k) : T(threshold);
    py::gil_scoped_release nogil;
    return kernels<T>().metric(kind, pp, pt, pl, pw, B, D, param);
  });
}

std::uint64_t non_negative_u64(const char* fn, const char* arg, const py::object& obj) {
  if (!py::isinstance<py::int_>(obj) || py::isinstance<py::bool_>(obj)) {
    throw py::type_error(std::string(fn) + ": " + arg + " must be an int, got " + type_name(obj));
  }
  if (obj.cast<py::int_>() < py::int_(0) ||
      obj.cast<py::int_>() > py::int_(py::reinterpret_steal<py::object>(
                                 PyLong_FromUnsignedLongLong(~0ULL)))) {
    throw py::value_error(std::string(fn) + ": " + arg + " must be in [0, 2**64), got " +
                          py::repr(obj).cast<std::string>());
  }
  return obj.cast<std::uint64_t>();
}

py::array nn_dropout(const py::object& x_obj, double rate, const py::object& seed_obj,
                     const py::object& counter_obj, const py::object& out) {
  const char* fn = "dropout";
  py::array x = take_array(fn, "x", x_obj);
  if (!(rate >= 0.0 && rate < 1.0)) {
    throw py::value_error(std::string(fn) + ": rate must be in [0, 1), got " +
                          std::to_string(rate));
  }
  const std::uint64_t seed = non_negative_u64(fn, "seed", seed_obj);
  const std::uint64_t counter = non_negative_u64(fn, "counter", counter_obj);
  return by_dtype(x, [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto result = output<T>(fn, out, shape_vec(x), x);
    auto xc = readable_input<T>(x, out);
    const T* px = xc.data();
    T* po = result.mutable_data();
    const index_t n = xc.size();
    py::gil_scoped_release nogil;
    kernels<T>().dropout(px, po, n, seed, counter, rate);
    return result;
  });
}

double nn_weight_penalty(const py::object& w_obj, const py::object& grad_obj, double l1,
                         double l2) {
  const char* fn = "weight_penalty";
  py::array w = take_array(fn, "weights", w_obj);
  if (!(l1 >= 0) || !(l2 >= 0)) {
    throw py::value_error(std::string(fn) + ": l1 and l2 must be >= 0, got l1=" +
                          std::to_string(l1) + ", l2=" + std::to_string(l2));
  }
  return by_dtype(w, [&](auto tag) -> double {
    using T = decltype(tag);
    T* pg = grad_obj.is_none() ? nullptr : inplace<T>(fn, "grad", grad_obj, w);
    auto wc = contiguous<T>(w);
    if (pg && overlaps(wc, as_array(grad_obj))) wc = py::array_t<T>(wc.attr("copy")());
    const T* pw = wc.data();
    const index_t n = wc.size();
    py::gil_scoped_release nogil;
    return kernels<T>().weight_penalty(pw, pg, n, T(l1), T(l2));
  });
}

void bind_nn_kernels(py::module_& m) {
  namespace doc = denseops::doc;
  const auto none = py::none();
  m.def("activation", &nn_activation, doc::activation, py::arg("x"), py::arg("kind"),
        py::kw_only(), py::arg("bias") = none, py::arg("out") = none, py::arg("alpha") = 0.0);
  m.def("activation_backward", &nn_activation_backward, doc::activation_backward,
        py::arg("dout"), py::arg("y"), py::arg("kind"), py::kw_only(), py::arg("z") = none,
        py::arg("out") = none, py::arg("alpha") = 0.0);
  m.def("loss", &nn_loss, doc::loss, py::arg("pred"), py::arg("target"), py::arg("kind"),
        py::kw_only(), py::arg("from_logits").noconvert() = false,
        py::arg("sample_weight") = none, py::arg("grad") = none, py::arg("delta") = 1.0);
  m.def("metric", &nn_metric, doc::metric, py::arg("pred"), py::arg("target"), py::arg("kind"),
        py::kw_only(), py::arg("sample_weight") = none, py::arg("threshold") = 0.5,
        py::arg("k") = 5);
  m.def("dropout", &nn_dropout, doc::dropout, py::arg("x"), py::arg("rate"), py::kw_only(),
        py::arg("seed"), py::arg("counter"), py::arg("out") = none);
  m.def("weight_penalty", &nn_weight_penalty, doc::weight_penalty, py::arg("weights"),
        py::arg("grad") = none, py::kw_only(), py::arg("l1") = 0.0, py::arg("l2") = 0.0);
}

}  // namespace
