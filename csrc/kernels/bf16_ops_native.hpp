// The AMX tile instructions and vdpbf16ps, under the names the bf16 tiles
// use (gemm_bf16_tiles.hpp); bf16_ops_emulated.hpp has the same on arrays.
// Included inside the amx / avx512_bf16 arch namespaces, whose files are
// compiled with -mamx-tile -mamx-bf16 / -mavx512bf16.

#if DENSEOPS_BF16_IS_AMX
// The tile number is part of each instruction (GCC's intrinsics paste it into
// the assembly text), so each operation switches over the literal numbers.
struct NativeAmx {
  static constexpr const char* kind = "AMX tiles (tdpbf16ps)";
  // Palette 1, all eight tiles 16 rows x 64 bytes; the layout ldtilecfg reads.
  struct alignas(64) Config {
    std::uint8_t palette, start_row, reserved[14];
    std::uint16_t colsb[16];
    std::uint8_t rows[16];
  };
  // Tile state belongs to the thread: each thread configures its own, and
  // releases it when done so the kernel need not save 8 KiB of tiles on
  // every context switch.
  void configure() {
    Config c{};
    c.palette = 1;
    for (int i = 0; i < 8; ++i) c.colsb[i] = 64, c.rows[i] = 16;
    _tile_loadconfig(&c);
  }
  void release() { _tile_release(); }
  void zero(int c) {
    switch (c) {
      case 0: _tile_zero(0); break;
      case 1: _tile_zero(1); break;
      case 2: _tile_zero(2); break;
      default: _tile_zero(3); break;
    }
  }
  void load(int tile, const void* p, index_t stride) {
    switch (tile) {
      case 4: _tile_loadd(4, p, stride); break;
      case 5: _tile_loadd(5, p, stride); break;
      case 6: _tile_loadd(6, p, stride); break;
      default: _tile_loadd(7, p, stride); break;
    }
  }
  void store(int tile, void* p, index_t stride) const {
    switch (tile) {
      case 0: _tile_stored(0, p, stride); break;
      case 1: _tile_stored(1, p, stride); break;
      case 2: _tile_stored(2, p, stride); break;
      default: _tile_stored(3, p, stride); break;
    }
  }
  // Only the four products of the 2 x 2 block: C[i][j] += A[i] B[j].
  void dp(int c, int, int) {
    switch (c) {
      case 0: _tile_dpbf16ps(0, 4, 6); break;
      case 1: _tile_dpbf16ps(1, 4, 7); break;
      case 2: _tile_dpbf16ps(2, 5, 6); break;
      default: _tile_dpbf16ps(3, 5, 7); break;
    }
  }
};
#endif

#if DENSEOPS_BF16_IS_DP
struct NativeDp {
  static constexpr const char* kind = "AVX512-BF16 micro-kernel (vdpbf16ps)";
  using V = __m512;
  using Pairs = __m512bh;
  static V zero() { return _mm512_setzero_ps(); }
  static Pairs load_pairs(const bf16_t* p) { return (Pairs)_mm512_loadu_si512(p); }
  static Pairs broadcast_pair(const bf16_t* p) {
    std::uint32_t pair;
    std::memcpy(&pair, p, sizeof pair);
    return (Pairs)_mm512_set1_epi32(static_cast<int>(pair));
  }
  static V dp(V acc, Pairs a, Pairs b) { return _mm512_dpbf16_ps(acc, a, b); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
};
#endif
