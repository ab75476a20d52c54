// bfloat16 <-> float32, the one rounding rule every bf16 path uses.
// A bfloat16 is the top 16 bits of a float32 (sign, 8 exponent bits, 7
// mantissa bits), stored as std::uint16_t: NumPy's ml_dtypes.bfloat16.
#pragma once
#include <cstdint>
#include <cstring>

#include "common.hpp"

namespace denseops {

using bf16_t = std::uint16_t;

inline std::uint32_t float_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Exact: every bfloat16 is a float32.
inline float bf16_to_float(bf16_t h) { return bits_float(static_cast<std::uint32_t>(h) << 16); }

// Round to nearest, ties to even (vcvtne2ps2bf16's rule and ml_dtypes'):
// adding 0x7FFF plus the lowest kept bit carries into the kept bits exactly
// when the dropped half is above one half, or equal to it with an odd kept
// part. Infinities and overflow to infinity fall out of the same add. A NaN
// stays a NaN (the add could carry it into infinity): the quiet NaN of its
// sign, as ml_dtypes gives. Subnormals round like any other value (the
// hardware instruction flushes them to zero; ml_dtypes and NumPy do not).
// Branch-free, so loops of it vectorize.
inline bf16_t float_to_bf16(float x) {
  const std::uint32_t u = float_bits(x);
  const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  return static_cast<bf16_t>(nan ? ((u >> 16) & 0x8000u) | 0x7FC0u : rounded);
}

// x as the nearest bfloat16, kept in a float32 (the low 16 bits zero).
inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

}  // namespace denseops
