"""The blocked GEMM behind matmul against its naive C++ twin, at every block edge.

`_kernels._gemm_naive` runs the textbook triple loop of
csrc/kernels/gemm_naive.hpp on the active path. Each case below puts one
dimension on a block edge of that path (csrc/kernels/gemm_kernels.hpp,
csrc/kernels/gemm.hpp) and one below and above it, keeps the other two small,
and compares matmul with the naive loop for every transposition, f32 and f64.
Both sum K products per element in different orders, so each is within
`assert_close(k=K)` of the exact product and within `k=2*K` of the other.
"""

import re

import denseops
import numpy as np
import pytest
from denseops import _kernels
from helpers import assert_close, random_array

F32, F64 = np.float32, np.float64

# Per path and dtype: the main tile (MR x NR), the narrow tile's NR (products
# of at most that many columns), the small-M tile (MR x NR, M <= 16 with
# row-major B), and the cache blocks KC / MC / NC.
TILES = {
    "generic": {
        F32: dict(MR=4, NR=8, narrow_NR=8, small=(4, 8), KC=256, MC=144, NC=4080),
        F64: dict(MR=4, NR=4, narrow_NR=4, small=(4, 4), KC=256, MC=72, NC=4080),
    },
    "avx2": {
        F32: dict(MR=6, NR=16, narrow_NR=16, small=(2, 32), KC=256, MC=144, NC=4080),
        F64: dict(MR=6, NR=8, narrow_NR=8, small=(2, 16), KC=256, MC=72, NC=4080),
    },
    "avx512": {
        F32: dict(MR=12, NR=32, narrow_NR=16, small=(4, 64), KC=192, MC=480, NC=4096),
        F64: dict(MR=12, NR=16, narrow_NR=8, small=(4, 32), KC=192, MC=240, NC=2048),
    },
}
TILES["avx512-emulated"] = TILES["avx512"]

# csrc/kernels/gemm.hpp: below kGemmTinyMacs the naive loop runs; up to
# kGemmSmallMaxM rows with row-major B take the small-M path; up to
# kGemmUnpackedMaxN columns A is read unpacked. gemm_loops.hpp: K is taken in
# one block while K * NR fits in 64 KiB (and A in 512 KiB).
TINY_MACS, SMALL_MAX_M, UNPACKED_MAX_N, ONE_BLOCK_PANEL_BYTES = 4096, 16, 32, 64 << 10

# The two small dimensions beside the one on an edge: M above the small-M
# path, N past the narrow tile, K a few micro-steps.
BASE = dict(M=20, N=40, K=24)


def blocked_k(t, dtype):
    """A multiple of KC large enough that K is cut into KC blocks on this path."""
    one_block_limit = ONE_BLOCK_PANEL_BYTES // (t["NR"] * np.dtype(dtype).itemsize)
    return (one_block_limit // t["KC"] + 1) * t["KC"]


def edges(path, dtype):
    """{name: (dimension, edge value)} for one path and dtype."""
    t = TILES[path][dtype]
    small_mr, small_nr = t["small"]
    return {
        "MR": ("M", t["MR"]),
        "2MR": ("M", 2 * t["MR"]),
        "MC": ("M", t["MC"]),
        "small-M crossover": ("M", SMALL_MAX_M),
        "small-M tile MR": ("M", small_mr),
        "one row (gemv)": ("M", 1),
        "NR": ("N", t["NR"]),
        "narrow NR": ("N", t["narrow_NR"]),
        "small-M tile NR": ("N", small_nr),
        "unpacked-A N": ("N", UNPACKED_MAX_N),
        "NC": ("N", t["NC"]),
        "KC": ("K", t["KC"]),
        "K in KC blocks": ("K", blocked_k(t, dtype)),
        "one K step": ("K", 1),
    }


EDGE_NAMES = list(edges("avx512", F32))


def shapes_around(dimension, value):
    """(M, K, N) with `dimension` at value - 1, value, value + 1 (at least 1)."""
    for v in sorted({max(1, value - 1), value, value + 1}):
        size = {**BASE, dimension: v}
        # A product under the naive cut-off would compare the naive loop with
        # itself: widen K (or N, when K is the edge) until it is past it.
        if size["M"] * size["N"] * size["K"] < TINY_MACS:
            grow = "N" if dimension == "K" else "K"
            rest = size["M"] * size["N"] * size["K"] // size[grow]
            size[grow] = TINY_MACS // rest + 1
        yield size["M"], size["K"], size["N"]


def test_the_edge_table_describes_the_tiles_each_path_reports(arch):
    for key, dtype in (("gemm_f32", F32), ("gemm_f64", F64)):
        t = TILES[arch][dtype]
        kind = _kernels._config()[key]
        assert kind.startswith(f"{arch}: ") and f"{t['MR']}x{t['NR']} " in kind, kind
        narrow = re.search(r"(\d+)x(\d+) for N <= (\d+)", kind)
        assert (int(narrow.group(2)) if narrow else t["NR"]) == t["narrow_NR"], kind
        small = re.search(r"\((\d+)x(\d+) up to M = \d+\)", kind)
        small_tile = tuple(map(int, small.groups())) if small else (t["MR"], t["NR"])
        assert small_tile == t["small"], kind
        assert f"M <= {SMALL_MAX_M} reads B in place" in kind, kind


def test_gemm_naive_is_the_textbook_product(rng, dtype, arch):
    a = random_array(rng, (7, 300), dtype)
    b = random_array(rng, (300, 5), dtype)
    expected = (a.astype(F64) @ b.astype(F64)).astype(dtype)
    assert_close(_kernels._gemm_naive(a, b), expected, k=300)
    assert_close(_kernels._gemm_naive(a.T.copy(), b, trans_a=True), expected, k=300)
    assert_close(_kernels._gemm_naive(a, b.T.copy(), trans_b=True), expected, k=300)


@pytest.mark.parametrize("edge", EDGE_NAMES)
def test_matmul_matches_gemm_naive_around_each_block_edge(rng, dtype, arch, edge):
    dimension, value = edges(arch, dtype)[edge]
    for m, k, n in shapes_around(dimension, value):
        a = random_array(rng, (m, k), dtype)
        b = random_array(rng, (k, n), dtype)
        for trans_a in (False, True):
            for trans_b in (False, True):
                stored_a = np.ascontiguousarray(a.T) if trans_a else a
                stored_b = np.ascontiguousarray(b.T) if trans_b else b
                kw = dict(trans_a=trans_a, trans_b=trans_b)
                naive = _kernels._gemm_naive(stored_a, stored_b, **kw)
                blocked = denseops.matmul(stored_a, stored_b, **kw)
                try:
                    assert_close(blocked, naive, k=2 * k)
                except AssertionError as failure:
                    raise AssertionError(f"{edge}: {(m, k, n)} {kw}: {failure}") from None


def test_gemm_naive_checks_its_operands():
    with pytest.raises(ValueError, match=r"^_gemm_naive: shapes \(2, 3\) and \(4, 5\) do not fit"):
        _kernels._gemm_naive(np.zeros((2, 3)), np.zeros((4, 5)))
    with pytest.raises(TypeError, match=r"^_gemm_naive: a and b must have the same dtype"):
        _kernels._gemm_naive(np.zeros((2, 3)), np.zeros((3, 5), F32))
