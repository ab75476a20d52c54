// Types shared by every kernel.
#pragma once
#include <cstddef>

namespace denseops {

// Sizes and strides are signed 64-bit end to end (NumPy's npy_intp), so no
// index can overflow above 2^31 elements and negative strides are natural.
using index_t = std::ptrdiff_t;

}  // namespace denseops
