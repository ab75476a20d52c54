// Dropout's mask from a counter-based generator. Included inside an arch
// namespace.
//
// Element i of call `counter` is kept when a hash of (seed, counter, i) says
// so: no generator state is carried from one element to the next, so the
// mask is the same however the elements are split between threads, and the
// backward pass recomputes the mask instead of storing it.

// SplitMix64's finaliser: a bijection of 64-bit words whose output bits each
// depend on every input bit (Steele, Lea & Flood 2014). Two rounds over
// (seed, counter, i) decorrelate neighbouring indices and calls.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t dropout_stream(std::uint64_t seed, std::uint64_t counter) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (counter * 0xd1b54a32d192ed03ULL));
}

// x, out are (n,) (out may be x): elements first .. first + n of the call's
// stream. out = x * scale (scale = 1 / (1 - rate)) where kept, else 0. An
// element is kept when the top 32 bits of its hash are >= drop_below =
// rate * 2^32, so the keep probability is 1 - rate to within 2^-32.
template <class T>
void dropout_apply(const T* x, T* out, index_t n, std::uint64_t stream, std::uint64_t first,
                   std::uint64_t drop_below, T scale) {
  for (index_t i = 0; i < n; ++i) {
    const std::uint64_t bits = mix64(stream + (first + static_cast<std::uint64_t>(i)) *
                                                  0x9e3779b97f4a7c15ULL) >> 32;
    out[i] = bits >= drop_below ? x[i] * scale : T(0);
  }
}
