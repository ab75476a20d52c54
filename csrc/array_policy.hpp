// The input policy every binding applies (README "Guarantees"), in one place.
// Included only by bindings.cpp, the one file that includes pybind11.
//
//   * array arguments must be numpy.ndarray of float32 or float64 (or
//     ml_dtypes.bfloat16 where a kernel takes it: matmul), all of one dtype; nothing is converted behind the caller's back (no lists, scalars,
//     ints, or float64 -> float32 casts): anything else is a TypeError.
//   * any layout is accepted for inputs (strided, negative strides, Fortran
//     order); a contiguous copy is made only when a kernel needs one.
//   * numpy.ma.MaskedArray is refused (its mask would be silently ignored);
//     other ndarray subclasses are read as plain arrays.
//   * `out` must be a writable, C-contiguous ndarray of the result's exact
//     shape and dtype; it is written in place and returned. Nothing is ever
//     written into a temporary copy, so a read-only `out` (np.broadcast_to
//     views are read-only) or a strided one is a ValueError.
//   * overlap, one rule (read_apart): an input that shares memory with an
//     array the kernel writes is read from a private copy, so the result is
//     always the one computed from the inputs as they were before the call.
//     The one exception is an input that is the very same view as what is
//     written, for a kernel that reads each element before writing that same
//     element (InPlace::allowed): there no copy is needed.
//   * arrays updated in place by the optimizers (weights, velocity, m, v)
//     must not share memory with each other (ValueError).
// Errors name the function, the argument, and what was expected versus
// received, in NumPy's words where NumPy has them.
#pragma once

#include <pybind11/gil_safe_call_once.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/dispatch.hpp"

namespace denseops::binding {

namespace py = pybind11;

// ---------------------------------------------------------------- messages

inline std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (std::size_t d = 0; d < shape.size(); ++d) s << (d ? ", " : "") << shape[d];
  s << (shape.size() == 1 ? ",)" : ")");
  return s.str();
}

inline std::vector<py::ssize_t> shape_vec(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

inline std::string shape_str(const py::array& a) { return shape_str(shape_vec(a)); }

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

inline std::string type_name(const py::handle& obj) {
  return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

inline std::string strides_str(const py::array& a) {
  return py::str(py::tuple(a.attr("strides"))).cast<std::string>();
}

// "fn: " + the rest, the prefix of every message.
inline std::string message(const char* fn, const std::string& rest) {
  return std::string(fn) + ": " + rest;
}

// ---------------------------------------------------------------- taking arrays

inline bool is_masked_array(const py::handle& obj) {
  // Looked up once. The first lookup imports numpy.ma (numpy does not), and
  // an import runs Python code that lets other threads take the GIL; a plain
  // function-local static would then leave a second thread waiting for the
  // initialisation while holding the GIL the first one needs (a deadlock on
  // the first calls from several threads). gil_safe_call_once_and_store
  // waits without the GIL.
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> masked;
  return py::isinstance(obj, masked
                                 .call_once_and_store_result([] {
                                   return py::module_::import("numpy.ma").attr("MaskedArray");
                                 })
                                 .get_stored());
}

// ml_dtypes.bfloat16's dtype (the bfloat16 NumPy arrays of JAX and
// TensorFlow), looked up the first time an array of 2-byte items arrives, so
// float kernels never import ml_dtypes. Held for the life of the process
// (gil_safe_call_once, as in is_masked_array). None if ml_dtypes is missing.
inline py::object bf16_dtype_or_none() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> dtype;
  return dtype
      .call_once_and_store_result([]() -> py::object {
        try {
          return py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16"));
        } catch (py::error_already_set&) {
          return py::none();
        }
      })
      .get_stored();
}

inline py::dtype bf16_dtype() {
  py::object d = bf16_dtype_or_none();
  if (d.is_none()) throw py::type_error("bfloat16 arrays need the ml_dtypes package");
  return py::reinterpret_borrow<py::dtype>(d);
}

// By type number and byte order, not dtype.equal(): NumPy's equivalence test
// between a user dtype and another one goes through its casting tables, which
// cost several microseconds per call (a third of a 1 x 784 x 512 bf16 product).
inline bool is_bf16(const py::array& a) {
  if (a.itemsize() != 2) return false;
  py::object d = bf16_dtype_or_none();
  if (d.is_none()) return false;
  const auto bf16 = py::reinterpret_borrow<py::dtype>(d);
  const char order = a.dtype().byteorder();
  return a.dtype().num() == bf16.num() && (order == '=' || order == '|' || order == bf16.byteorder());
}

// Only arrays of 4- or 8-byte items are compared with float32 / float64 (see above).
inline bool is_float(const py::array& a) {
  const py::ssize_t item = a.itemsize();
  return (item == 4 && a.dtype().equal(py::dtype::of<float>())) ||
         (item == 8 && a.dtype().equal(py::dtype::of<double>()));
}

// Which dtypes an argument may have: every kernel takes float32 and float64;
// those that also take ml_dtypes.bfloat16 say so.
enum class Dtypes { floats, floats_and_bf16 };

// The one gate every array argument passes: an ndarray of float32/float64
// (or bfloat16 where the kernel takes it).
inline py::array take_array(const char* fn, const char* arg, const py::handle& obj,
                            Dtypes dtypes = Dtypes::floats) {
  const std::string expected = dtypes == Dtypes::floats
                                   ? "float32 or float64"
                                   : "float32, float64 or bfloat16 (ml_dtypes.bfloat16)";
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(message(
        fn, std::string(arg) + " must be a numpy.ndarray of " + expected + ", got " +
                type_name(obj) + "; convert with numpy.asarray(" + arg + ", dtype=numpy.float32)"));
  }
  if (is_masked_array(obj)) {
    throw py::type_error(message(fn, std::string(arg) +
                                         " must be a plain numpy.ndarray, got numpy.ma.MaskedArray "
                                         "(its mask would be ignored); pass " +
                                         arg + ".filled(0) or " + arg + ".data"));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!is_float(a) && !(dtypes == Dtypes::floats_and_bf16 && is_bf16(a))) {
    throw py::type_error(message(fn, std::string(arg) + " must have dtype " + expected + ", got " +
                                         dtype_str(a) + "; convert with " + arg +
                                         ".astype(numpy.float32)"));
  }
  return a;
}

inline void require_same_dtype(const char* fn, const char* an, const py::array& a, const char* bn,
                               const py::array& b) {
  if (!a.dtype().equal(b.dtype())) {
    throw py::type_error(message(fn, std::string(an) + " and " + bn +
                                         " must have the same dtype, got " + dtype_str(a) +
                                         " and " + dtype_str(b) + "; cast one with .astype()"));
  }
}

inline bool same_shape(const py::array& a, const py::array& b) {
  return std::equal(a.shape(), a.shape() + a.ndim(), b.shape(), b.shape() + b.ndim());
}

// A second array argument of `like`'s dtype and exact shape.
inline py::array take_array_like(const char* fn, const char* arg, const py::object& obj,
                                 const char* like_name, const py::array& like) {
  py::array a = take_array(fn, arg, obj);
  require_same_dtype(fn, like_name, like, arg, a);
  if (!same_shape(a, like)) {
    throw py::value_error(message(fn, std::string(arg) + " must have the shape of " + like_name +
                                          " " + shape_str(like) + ", got " + shape_str(a)));
  }
  return a;
}

// Per-sample weights: one per row of `like`, of its dtype.
inline py::array take_sample_weight(const char* fn, const py::object& obj, const char* like_name,
                                    const py::array& like) {
  py::array w = take_array(fn, "sample_weight", obj);
  require_same_dtype(fn, like_name, like, "sample_weight", w);
  if (w.ndim() != 1 || w.shape(0) != like.shape(0)) {
    throw py::value_error(
        message(fn, "sample_weight must have shape (" + std::to_string(like.shape(0)) +
                        ",), one weight per row of " + like_name + ", got " + shape_str(w)));
  }
  return w;
}

// Integer class labels, copied into an int64 array this call owns and
// checked there to lie in [0, classes). The kernel selects memory by these
// values with the GIL released, so it must read exactly the values that were
// checked: never the caller's buffer, which another Python thread may change
// meanwhile, or which may alias an array being written.
inline py::array_t<std::int64_t> take_labels(const char* fn, const py::object& obj,
                                             py::ssize_t batch, py::ssize_t classes) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(
        message(fn, "labels must be a 1-D numpy.ndarray of integers, got " + type_name(obj)));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(message(fn, "labels must have an integer dtype, got " + dtype_str(a) +
                                         "; class indices are whole numbers in [0, " +
                                         std::to_string(classes) + ")"));
  }
  if (a.ndim() != 1 || a.shape(0) != batch) {
    throw py::value_error(message(fn, "labels must have shape (" + std::to_string(batch) +
                                          ",) to match logits' batch, got " + shape_str(a)));
  }
  // A fresh array, filled under the GIL. Unsigned values past INT64_MAX wrap
  // to negative ones here and are refused below like any other negative.
  py::array_t<std::int64_t> labels(batch);
  py::module_::import("numpy").attr("copyto")(labels, a, py::arg("casting") = "unsafe");
  const std::int64_t* p = labels.data();
  for (py::ssize_t i = 0; i < batch; ++i) {
    if (p[i] < 0 || p[i] >= classes) {
      throw py::value_error(message(fn, "labels must be in [0, " + std::to_string(classes) +
                                            ") for " + std::to_string(classes) + " classes, got " +
                                            std::to_string(p[i]) + " at index " +
                                            std::to_string(i)));
    }
  }
  return labels;
}

// ---------------------------------------------------------------- layout and overlap

// Byte range [lo, hi) an array can touch, for overlap tests.
inline std::pair<const char*, const char*> byte_span(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo;
  if (a.size() == 0) return {lo, lo};
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    const py::ssize_t extent = (a.shape(d) - 1) * a.strides(d);
    (extent < 0 ? lo : hi) += extent;
  }
  return {lo, hi + a.itemsize()};
}

inline bool overlaps(const py::array& a, const py::array& b) {
  auto [alo, ahi] = byte_span(a);
  auto [blo, bhi] = byte_span(b);
  return alo < bhi && blo < ahi;
}

// True when a and b are the very same elements in the same order: the same
// start, shape and strides.
inline bool same_view(const py::array& a, const py::array& b) {
  if (a.data() != b.data() || !same_shape(a, b)) return false;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) > 1 && a.strides(d) != b.strides(d)) return false;
  return true;
}

// NumPy's ALIGNED flag: the data address and strides are multiples of the
// item size. Views into byte buffers (np.frombuffer(..., offset=1), packed
// record fields) can be contiguous yet unaligned, and a kernel dereferencing
// them as T* is undefined behaviour (UBSan reports it).
inline bool is_aligned(const py::array& a) {
  return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
}

// A C-contiguous copy of a in a plain ndarray: NumPy copies the elements
// (PyArray_CopyInto), so no method of an ndarray subclass runs. Fresh arrays
// are aligned.
inline py::array copy_of(const py::array& a) {
  py::array c(a.dtype(), shape_vec(a));
  if (py::detail::npy_api::get().PyArray_CopyInto_(c.ptr(), a.ptr()) != 0) {
    throw py::error_already_set();
  }
  return c;
}

// A C-contiguous, aligned array with a's data: a itself when it already is
// one. a's dtype is T's (take_array and require_same_dtype saw to it).
template <class T>
py::array_t<T> contiguous(const py::array& a) {
  if ((a.flags() & py::array::c_style) && is_aligned(a)) {
    return py::reinterpret_borrow<py::array_t<T>>(a);  // the common case: no NumPy call
  }
  auto c = py::array_t<T, py::array::c_style>::ensure(a);
  if (!is_aligned(c)) return py::reinterpret_steal<py::array_t<T>>(copy_of(c).release());
  return c;
}

// No array: an optional argument that was not given (its pointer is null).
// Not py::array_t<T>(), which allocates an empty array.
template <class T>
py::array_t<T> absent() {
  return py::reinterpret_borrow<py::array_t<T>>(py::handle());
}

template <class T>
const T* data_or_null(const py::array_t<T>& a) {
  return a ? a.data() : nullptr;
}

// Whether a kernel may read an input that is the very same view as the array
// it writes: only when it reads each element before writing that element.
enum class InPlace { allowed, refused };

// The overlap rule: `in` as the kernel may read it while it writes `written`
// (a private copy when the two share memory, see the top of this file).
inline py::array read_apart(const py::array& in, const py::array& written, InPlace mode) {
  if (!overlaps(in, written)) return in;
  if (mode == InPlace::allowed && same_view(in, written)) return in;
  return copy_of(in);
}

// An input, contiguous, read apart from `written` (null: nothing is written
// while it is read).
template <class T>
py::array_t<T> readable(const py::array& a, const py::array* written,
                        InPlace mode = InPlace::refused) {
  py::array_t<T> c = contiguous<T>(a);
  if (!written) return c;
  return py::reinterpret_steal<py::array_t<T>>(read_apart(c, *written, mode).release());
}

// ---------------------------------------------------------------- written arrays

// Either a fresh array of `shape` or the caller's `out`, checked.
template <class T>
py::array_t<T> output(const char* fn, const py::object& out, const std::vector<py::ssize_t>& shape,
                      const py::array& like) {
  if (out.is_none()) return py::array_t<T>(shape);
  if (!py::isinstance<py::array>(out)) {
    throw py::type_error(message(
        fn, std::string("out") + " must be a numpy.ndarray or None, got " + type_name(out)));
  }
  auto o = py::reinterpret_borrow<py::array>(out);
  if (!o.dtype().equal(like.dtype())) {
    throw py::type_error(message(fn, std::string("out") + " must have dtype " + dtype_str(like) +
                                         " (the inputs' dtype), got " + dtype_str(o)));
  }
  if (!std::equal(shape.begin(), shape.end(), o.shape(), o.shape() + o.ndim())) {
    throw py::value_error(message(fn, std::string("out") + " has shape " + shape_str(o) +
                                          " but the result has shape " + shape_str(shape)));
  }
  // Writability first: np.broadcast_to views are read-only and zero-strided,
  // and "read-only" is the message that points at the real problem.
  if (!o.writeable()) {
    throw py::value_error(message(fn, std::string("out") +
                                          " is read-only (flags.writeable is False, as for "
                                          "np.broadcast_to views); expected a writable array, e.g. "
                                          "numpy.empty(" +
                                          shape_str(shape) + ", " + dtype_str(like) + ")"));
  }
  if (!(o.flags() & py::array::c_style)) {
    throw py::value_error(message(fn, std::string("out") +
                                          " must be C-contiguous (a fresh array or a contiguous "
                                          "slice), got strides " +
                                          strides_str(o)));
  }
  if (!is_aligned(o)) {
    throw py::value_error(message(fn, std::string("out") + " must be aligned to its " +
                                          std::to_string(o.itemsize()) +
                                          "-byte items, got an unaligned view (e.g. np.frombuffer "
                                          "with an odd offset); pass a fresh array such as "
                                          "numpy.empty(" +
                                          shape_str(shape) + ", " + dtype_str(like) + ")"));
  }
  return py::reinterpret_borrow<py::array_t<T>>(o);  // same object: dtype and layout match
}

// An array updated in place: it must be exactly `like`'s dtype and shape,
// C-contiguous and writable, because a silent copy would drop the update.
template <class T>
py::array_t<T> inplace(const char* fn, const char* arg, const py::object& obj,
                       const py::array& like) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(
        message(fn, std::string(arg) + " must be a numpy.ndarray, got " + type_name(obj)));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().equal(like.dtype())) {
    throw py::type_error(message(
        fn, std::string(arg) + " must have dtype " + dtype_str(like) + ", got " + dtype_str(a)));
  }
  if (!same_shape(a, like)) {
    throw py::value_error(message(
        fn, std::string(arg) + " must have shape " + shape_str(like) + ", got " + shape_str(a)));
  }
  if (!a.writeable() || !(a.flags() & py::array::c_style) || !is_aligned(a)) {
    const std::string received = !a.writeable() ? "a read-only one"
                                 : !is_aligned(a)
                                     ? "an unaligned one"
                                     : "a non-contiguous one with strides " + strides_str(a);
    throw py::value_error(message(fn, std::string(arg) +
                                          " is updated in place and must be a writable, aligned, "
                                          "C-contiguous array, got " +
                                          received));
  }
  return py::reinterpret_borrow<py::array_t<T>>(a);  // same object: dtype and layout match
}

// The arrays one update writes in place, by argument name. Two of them
// sharing memory has no meaning (which write should win?), so it is refused.
using InPlaceArgs = std::vector<std::pair<const char*, py::array>>;

inline void require_disjoint(const char* fn, const InPlaceArgs& args) {
  for (std::size_t i = 0; i < args.size(); ++i)
    for (std::size_t j = i + 1; j < args.size(); ++j)
      if (overlaps(args[i].second, args[j].second)) {
        throw py::value_error(
            message(fn, std::string(args[i].first) + " and " + args[j].first +
                            " are both updated in place and must not share memory; "
                            "pass separate arrays (e.g. numpy.zeros_like(weights))"));
      }
}

// ---------------------------------------------------------------- calling a kernel

template <class T>
const KernelTable<T>& kernels();
template <>
inline const KernelTable<float>& kernels<float>() {
  return kernels_f32();
}
template <>
inline const KernelTable<double>& kernels<double>() {
  return kernels_f64();
}

// Calls f(float{}) or f(double{}) by a's dtype (already checked by take_array).
template <class F>
auto by_dtype(const py::array& a, F&& f) {
  return a.dtype().equal(py::dtype::of<float>()) ? f(float{}) : f(double{});
}

// Runs `kernel` with the GIL released and returns what it returns. Every
// Python object it needs was taken, checked and copied before this point.
template <class F>
auto without_gil(F&& kernel) {
  py::gil_scoped_release nogil;
  return kernel();
}

}  // namespace denseops::binding
