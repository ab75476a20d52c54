"""The blocked GEMM at every edge of its blocking, on each SIMD path and thread count.

Block sizes (csrc/kernels/gemm_kernels.hpp), MR x NR and KC / MC / NC:
  generic          4 x 8 (f32) / 4 x 4 (f64),    KC 256, MC 144 / 72,  NC 4080
  avx2             6 x 16 / 6 x 8,               KC 256, MC 144 / 72,  NC 4080
  avx512 and
  avx512-emulated  12 x 32 / 12 x 16,            KC 192, MC 480 / 240, NC 4096 / 2048
K is cut into equal blocks <= KC, or taken in one pass when A fits in 512
KiB and K * NR in 64 KiB. Products of up to 32 columns read A unpacked; below
4096 multiply-adds the textbook loop runs; rows of A are read in place (no
packing) when they are contiguous and A fits in 512 KiB; products of at most
16 rows with row-major B take the small-M path (B read in place, not packed);
from 2 x 2**18 multiply-adds two threads share the work as
csrc/kernels/gemm.hpp describes. The shapes below sit on each side of
those edges (csrc/kernels/gemm_loops.hpp).

Each product is compared with the exact one rounded to its dtype by
`assert_close(..., k=K)` (K products per element), which accepts
ROUNDING_SLACK * eps * (K + sqrt(K) * |expected|) per element: inputs lie in
[-1, 1], so that is a few eps per term summed (helpers.py, beside `tolerance`).
"""

import functools
import os
import subprocess
import sys
import zlib

import denseops
import numpy as np
import pytest
from denseops import matmul
from helpers import assert_close, labelled, matmul_operands

# (M, K, N)
EDGE_SHAPES = [
    # micro-tile edges: MR +- 1 rows (4, 6, 12), NR +- 1 columns (4, 8, 16, 32),
    # one-element K
    (1, 1, 1),
    (4, 5, 8),
    (5, 3, 7),
    (6, 16, 16),
    (7, 9, 17),
    (12, 40, 33),
    (13, 1, 15),
    (3, 70, 9),
    (25, 20, 4),
    (11, 30, 31),
    (23, 20, 32),
    (24, 17, 65),
    (36, 9, 47),
    # small-M path: one row (gemv: K in steps of 4 and the rest), 2..16 rows
    # with B read in place, and 17 rows (packed),
    # with masked column edges
    (1, 784, 512),
    (1, 300, 47),
    (1, 301, 17),
    (1, 7, 600),
    (3, 50, 65),
    (4, 64, 129),
    (4, 100, 100),
    (16, 200, 95),
    (17, 200, 95),
    # KC edges: K = 255, 256, 257 in one pass (A fits in L2), K = 1024 / 1025
    # at the one-pass limit, and A too big for one pass: 3 K blocks; 576 / 577:
    # 3 or 4 K blocks of <= 192 where K x NR is over 64 KiB (AVX-512 f32)
    (7, 255, 17),
    (6, 256, 16),
    (13, 257, 31),
    (9, 513, 5),
    (13, 1024, 31),
    (7, 1025, 17),
    (300, 513, 20),
    (30, 576, 40),
    (29, 577, 70),
    # MC edges (72, 144, 240 and 480 rows) with partial micro-tiles
    (71, 30, 20),
    (73, 64, 40),
    (143, 20, 17),
    (144, 33, 16),
    (145, 70, 41),
    (239, 20, 33),
    (241, 9, 40),
    (479, 10, 33),
    (481, 9, 37),
    # NC edges: 2048 / 4080 / 4096 columns and one past them
    (2, 3, 4080),
    (7, 5, 4081),
    (18, 3, 2049),
    (20, 2, 4097),
    # unpacked-A edge: 32 and 33 columns, several MR panels
    (50, 300, 32),
    (50, 300, 33),
]

# Products big enough for two threads, covering each schedule of
# csrc/kernels/gemm.hpp and the edges of its chunks (4 per thread).
THREADED_SHAPES = [
    (150, 513, 300),  # A read in place: column chunks of 2 panels, last one 12 wide;
    # aT: one packed B, row chunks of 24 (last 6)
    (130, 784, 500),  # MNIST-like: column chunks, last panel 4 wide; aT: row chunks
    (151, 1100, 41),  # A too big to read in place: packed, one B, row chunks
    (131, 520, 10),  # skinny N: B packed per thread, row chunks of 18 (last 5)
    (13, 300, 700),  # few rows: column chunks of 5 panels, 9 chunks
    (293, 70, 4100),  # two NC blocks: two phases, B refilled once
    (100, 2100, 520),  # B too big to pack whole: a phase per K block (9)
    (1, 3000, 1000),  # small-M: threads claim column strips of B read in place
    (16, 784, 512),  # small-M at its largest M: two row groups per strip (AVX2)
]


def shape_id(shape):
    return "x".join(map(str, shape))


@functools.lru_cache(maxsize=200)  # a test function's cases, ~0.3 GB at most
def operands(dtype, shape, trans_a, trans_b, layout):
    """Stored a, b for matmul(a, b, trans_a=, trans_b=), and the expected product.

    Built once per case and shared, read-only, by every SIMD path and thread
    count: the float64 reference product costs more than the kernel under test.
    """
    key = repr((np.dtype(dtype).name, shape, trans_a, trans_b, layout)).encode()
    arrays = matmul_operands(
        np.random.default_rng(zlib.crc32(key)), dtype, shape, trans_a, trans_b, layout
    )
    for array in arrays:
        array.flags.writeable = False
    return arrays


@pytest.fixture(scope="module", autouse=True)
def _drop_shared_operands():
    yield
    operands.cache_clear()


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    denseops.set_num_threads(request.param)
    return request.param


# Each test runs every transposition in turn, as one test item (helpers.labelled).
def assert_every_transposition_matches(dtype, shape, transpositions, layout="C"):
    for trans_a, trans_b in transpositions:
        a, b, expected = operands(dtype, shape, trans_a, trans_b, layout)
        with labelled(trans_a=trans_a, trans_b=trans_b):
            assert_close(matmul(a, b, trans_a=trans_a, trans_b=trans_b), expected, k=shape[1])


@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=shape_id)
def test_gemm_edge_shapes_match_numpy(dtype, arch, threads, shape):
    transpositions = [(False, False), (True, False), (False, True), (True, True)]
    assert_every_transposition_matches(dtype, shape, transpositions)


@pytest.mark.parametrize("shape", THREADED_SHAPES, ids=shape_id)
def test_gemm_threaded_shapes_match_numpy(dtype, arch, threads, shape):
    assert_every_transposition_matches(dtype, shape, [(False, False), (True, False), (False, True)])


@pytest.mark.parametrize("layout", ["F", "strided", "reversed", "sliced"])
@pytest.mark.parametrize("shape", [(13, 257, 31), (50, 300, 20), (150, 513, 300)], ids=shape_id)
def test_gemm_strided_inputs_match_numpy(dtype, arch, threads, shape, layout):
    # Both transposes at once: every packing routine sees a non-unit stride.
    assert_every_transposition_matches(dtype, shape, [(False, False), (True, True)], layout)


def test_gemm_overwrites_out_whatever_it_held(dtype, arch, threads):
    # The first K block must write C, not add to it.
    a, b, expected = operands(dtype, (145, 513, 41), False, False, "C")
    out = np.full(expected.shape, np.nan, dtype)
    assert matmul(a, b, out=out) is out
    assert_close(out, expected, k=513)


def test_gemm_edge_tiles_do_not_write_outside_c(dtype, arch, threads):
    # out is a C-contiguous window of a bigger buffer: the guard cells on
    # either side must keep their value (a full tile stored at an edge would not).
    m, k, n, guard = 13, 257, 33, 64
    a, b, expected = operands(dtype, (m, k, n), False, False, "C")
    canvas = np.full(guard + m * n + guard, 7.0, dtype)
    out = canvas[guard : guard + m * n].reshape(m, n)
    matmul(a, b, out=out)
    assert_close(out, expected, k=k)
    np.testing.assert_array_equal(canvas[:guard], 7.0)
    np.testing.assert_array_equal(canvas[guard + m * n :], 7.0)


def test_gemm_covers_every_chunk_when_the_team_is_smaller_than_asked(tmp_path):
    # OMP_THREAD_LIMIT=1 gives a team of one thread although two were asked
    # for: that thread must claim every chunk of every schedule by itself.
    code = (
        "import numpy as np, denseops\n"
        "denseops.set_num_threads(2)\n"
        "rng = np.random.default_rng(0)\n"
        f"for m, k, n in {THREADED_SHAPES!r}:\n"
        "    for ta in (False, True):\n"
        "        a = rng.standard_normal((k, m) if ta else (m, k))\n"
        "        b = rng.standard_normal((k, n))\n"
        "        got = denseops.matmul(a, b, trans_a=ta)\n"
        "        want = (a.T if ta else a) @ b\n"
        "        assert np.allclose(got, want, rtol=1e-12, atol=1e-9), (m, k, n, ta)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_gemm_is_deterministic_across_thread_counts(dtype, arch):
    # Each C element is summed in the same order whatever the split.
    a, b, _ = operands(dtype, (150, 513, 300), False, False, "C")
    denseops.set_num_threads(1)
    one = matmul(a, b)
    denseops.set_num_threads(2)
    np.testing.assert_array_equal(matmul(a, b), one)


def test_gemm_kind_names_the_micro_kernel(arch):
    config = denseops._kernels._config()
    for key in ("gemm_f32", "gemm_f64"):
        assert config[key].startswith(arch + ":"), config[key]
        assert "micro-kernel" in config[key], config[key]
