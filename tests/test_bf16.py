"""matmul in bfloat16 on every bf16 GEMM path: results, rounding, edges, errors.

The paths (csrc/kernels/gemm_bf16.hpp; the `bf16_arch` fixture runs each):
  generic, avx2, avx512   bf16 widened to float32, then that path's float32 GEMM
  avx512-bf16             12 x 32 tiles of vdpbf16ps, A in 12-row panels, K padded to 2
  amx                     32 x 32 blocks of 2 x 2 AMX tiles, A in 32-row panels, K padded to 32
  *-emulated              the two above on plain arrays, on any CPU
Both packed paths put B in 32-column VNNI panels (packed 8 at a time by a
team of threads) and group A panels by 512 KiB. The shapes below sit on each
side of those sizes (1, odd, 2, 12, 16, 31, 32, 33 ...).

How close a result must be, derived rather than guessed. The reference is
the float64 product of the operands rounded to bf16 (`bf16_exact`): each
product of two bf16 values (8 significant bits) has at most 16 bits and is
exact in float32, so the only errors are the float32 additions. Summing K
terms in any order, each addition rounding with unit roundoff u = 2^-24,
errs by at most gamma_K * sum_k |a_ik| |b_kj|, gamma_K = K u / (1 - K u)
(Higham, Accuracy and Stability of Numerical Algorithms, 3.1); the zeros of
the padding add nothing. A bf16 result is that float32 value rounded once
more, adding at most 2^-8 of its magnitude (bf16's unit roundoff). These
bounds hold for every input, so a failure is a wrong result, never bad luck.
"""

import os
import subprocess
import sys

import denseops
import ml_dtypes
import numpy as np
import pytest
from denseops import matmul, relu, set_arch, set_num_threads
from helpers import LAYOUTS, available_bf16_archs, in_layout, labelled

BF16 = np.dtype(ml_dtypes.bfloat16)
U32 = 2.0**-24  # float32 unit roundoff
U16 = 2.0**-8  # bfloat16 unit roundoff

# (M, K, N)
SHAPES = [
    (1, 1, 1),
    (1, 1, 33),
    (2, 3, 2),
    (3, 5, 7),
    (12, 2, 32),
    (13, 3, 31),
    (16, 32, 16),
    (17, 33, 15),
    (31, 31, 31),
    (32, 32, 32),
    (33, 64, 65),
    (24, 65, 40),
    (1, 300, 47),
    (45, 100, 1),
    # K past 1024, and more rows than one group of A panels holds (512 KiB of
    # packed A: 7 AMX panels, 19 AVX512-BF16 ones at this K)
    (250, 1100, 40),
]
EMPTY_SHAPES = [(0, 5, 3), (4, 0, 3), (3, 5, 0), (0, 0, 0), (2, 0, 0)]


def bf16_exact(a, b):
    """The float64 product of a and b as bf16 values: exact up to float64 rounding."""
    return a.astype(BF16).astype(np.float64) @ b.astype(BF16).astype(np.float64)


def accumulation_bound(a, b):
    """gamma_K * (|a| @ |b|): the float32 summation error of each element."""
    k = a.shape[1]
    gamma = k * U32 / (1 - k * U32)
    return gamma * (
        np.abs(a.astype(BF16).astype(np.float64)) @ np.abs(b.astype(BF16).astype(np.float64))
    )


def assert_bf16_product(actual, a, b):
    """actual (float32 or bfloat16) is a @ b of the bf16-rounded operands, within the bound."""
    expected = bf16_exact(a, b)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    allowed = accumulation_bound(a, b)
    if actual.dtype == BF16:
        allowed = allowed * (1 + U16) + U16 * np.abs(expected)
    diff = np.abs(actual.astype(np.float64) - expected)
    if diff.size and (diff > allowed).any():
        worst = np.unravel_index(np.argmax(diff - allowed), diff.shape)
        raise AssertionError(
            f"max abs difference {diff.max():.3e}; {int((diff > allowed).sum())} of {diff.size} "
            f"out of bounds; worst at {tuple(map(int, worst))}: got {actual[worst]!r}, expected "
            f"{expected[worst]!r}, difference {diff[worst]:.3e} > bound {allowed[worst]:.3e}"
        )


def operands(rng, m, k, n, dtype=BF16):
    a = rng.uniform(-1, 1, (m, k))
    b = rng.uniform(-1, 1, (k, n))
    if a.size:
        a.flat[::7] = 0.0
    return a.astype(dtype), b.astype(dtype)


def stored(x, transpose, layout="C"):
    """x as matmul receives it with trans_a / trans_b: the transpose, in `layout`."""
    return in_layout(x.T if transpose else x, layout)


# ------------------------------------------------------------------- results


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_bf16_matches_the_float64_product_within_the_derived_bound(rng, bf16_arch, shape):
    a, b = operands(rng, *shape)
    for trans_a in (False, True):
        for trans_b in (False, True):
            sa, sb = stored(a, trans_a), stored(b, trans_b)
            with labelled(trans_a=trans_a, trans_b=trans_b, out="bfloat16"):
                result = matmul(sa, sb, trans_a=trans_a, trans_b=trans_b)
                assert result.dtype == BF16
                assert_bf16_product(result, a, b)
            with labelled(trans_a=trans_a, trans_b=trans_b, out="float32"):
                out = np.full(result.shape, np.nan, np.float32)
                assert matmul(sa, sb, out=out, trans_a=trans_a, trans_b=trans_b) is out
                assert_bf16_product(out, a, b)


def test_matmul_bf16_mnist_shapes(rng, bf16_arch):
    """The forward product (128 x 784 x 512) and the weight gradient a.T @ b
    (784 x 128 x 512): many panels of every kind, two threads where allowed."""
    a, b = operands(rng, 128, 784, 512)
    assert_bf16_product(matmul(a, b, out=np.empty((128, 512), np.float32)), a, b)
    x, dout = operands(rng, 784, 128, 512)
    assert_bf16_product(matmul(np.ascontiguousarray(x.T), dout, trans_a=True), x, dout)


def test_matmul_bf16_small_integers_are_exact(rng, bf16_arch):
    """Integers up to 8 are exact in bf16, their products and sums (below 2^24)
    exact in float32: every path must give the exact product, so any misplaced
    or dropped term shows, whatever the tolerance."""
    for m, k, n in [(33, 70, 65), (5, 1, 3), (40, 33, 17)]:
        a = rng.integers(-8, 9, (m, k)).astype(BF16)
        b = rng.integers(-8, 9, (k, n)).astype(BF16)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        for trans_a, trans_b in [(False, False), (True, False), (False, True), (True, True)]:
            out = np.empty((m, n), np.float32)
            matmul(
                stored(a, trans_a), stored(b, trans_b), out=out, trans_a=trans_a, trans_b=trans_b
            )
            with labelled(shape=(m, k, n), trans_a=trans_a, trans_b=trans_b):
                np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_matmul_bf16_any_layout(rng, bf16_arch, layout):
    a, b = operands(rng, 19, 37, 35)
    for trans_a, trans_b in [(False, False), (True, True)]:
        with labelled(trans_a=trans_a, trans_b=trans_b):
            result = matmul(
                stored(a, trans_a, layout),
                stored(b, trans_b, layout),
                trans_a=trans_a,
                trans_b=trans_b,
            )
            assert_bf16_product(result, a, b)


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_bf16_empty_and_zero_depth(bf16_arch, shape):
    m, k, n = shape
    a, b = np.ones((m, k), BF16), np.ones((k, n), BF16)
    result = matmul(a, b)
    assert result.dtype == BF16 and result.shape == (m, n)
    assert (result.astype(np.float32) == 0).all()
    out = np.full((m, n), np.nan, np.float32)
    matmul(a, b, out=out)
    assert (out == 0).all(), "K = 0 must write zeros"


def test_matmul_bf16_two_threads_give_the_one_thread_bits(rng, bf16_arch):
    """Each block of C is summed by one thread in one order: the thread count
    must not change a single bit."""
    a, b = operands(rng, 130, 300, 300)  # 10 B panels: two slabs for a team
    set_num_threads(1)
    one = matmul(a, b, out=np.empty((130, 300), np.float32))
    set_num_threads(2)
    two = matmul(a, b, out=np.empty((130, 300), np.float32))
    np.testing.assert_array_equal(one, two)


def test_matmul_bf16_out_may_alias_an_input(rng, bf16_arch):
    a, b = operands(rng, 20, 20, 20)
    expected = matmul(a, b)
    matmul(a, b, out=a)
    np.testing.assert_array_equal(a.astype(np.float32), expected.astype(np.float32))


# ----------------------------------------------------------------- precision


def test_precision_bfloat16_on_float32_rounds_the_inputs(rng, bf16_arch):
    for m, k, n in [(1, 1, 1), (17, 33, 31), (64, 200, 70)]:
        a, b = operands(rng, m, k, n, np.float32)
        for trans_a, trans_b in [(False, False), (True, False), (False, True)]:
            with labelled(shape=(m, k, n), trans_a=trans_a, trans_b=trans_b):
                result = matmul(
                    stored(a, trans_a),
                    stored(b, trans_b),
                    trans_a=trans_a,
                    trans_b=trans_b,
                    precision="bfloat16",
                )
                assert result.dtype == np.float32
                assert_bf16_product(result, a, b)
                # and it is the product of the rounded operands, bit for bit
                same = matmul(a.astype(BF16), b.astype(BF16), out=np.empty_like(result))
                np.testing.assert_array_equal(result, same)


def test_precision_float32_and_none_keep_float32_products(rng):
    a, b = operands(rng, 20, 30, 10, np.float32)
    exact = matmul(a, b)
    np.testing.assert_array_equal(matmul(a, b, precision="float32"), exact)
    np.testing.assert_array_equal(matmul(a, b, precision=None), exact)
    assert not np.array_equal(matmul(a, b, precision="bfloat16"), exact)


def test_precision_on_bfloat16_inputs_changes_nothing(rng):
    a, b = operands(rng, 20, 30, 10)
    base = matmul(a, b)
    for precision in ("float32", "bfloat16"):
        np.testing.assert_array_equal(
            matmul(a, b, precision=precision).astype(np.float32), base.astype(np.float32)
        )


# ------------------------------------------------------------------ rounding

# float32 bit patterns and what round-to-nearest-even makes of them.
ROUNDING_CASES = np.array(
    [
        0x3F800000,  # 1.0: exact
        0x3F808000,  # tie between 1.0 and the next bf16: down to the even 1.0
        0x3F818000,  # tie above an odd bf16: up to the even one
        0x3F808001,  # just above a tie: up
        0x3F807FFF,  # just below a tie: down
        0xBF818000,  # negative tie: up in magnitude, to the even
        0x7F7FFFFF,  # largest float32: rounds to infinity
        0x7F800000,  # +inf
        0xFF800000,  # -inf
        0x7FC00000,  # quiet NaN
        0x7F800001,  # signalling NaN: must stay a NaN, not become infinity
        0xFFFFFFFF,  # negative NaN with every payload bit set
        0x00800000,  # smallest normal
    ],
    dtype=np.uint32,
).view(np.float32)


def test_float32_to_bf16_rounding_is_ml_dtypes_round_to_nearest_even(bf16_arch):
    """The packing's rounding (precision='bfloat16'), seen through a product by
    1.0: a (n, 1) @ [[1]] is each rounded value exactly."""
    normal = np.random.default_rng(1).normal(size=200).astype(np.float32)
    x = np.concatenate([ROUNDING_CASES, normal])
    one = np.ones((1, 1), np.float32)
    result = matmul(x[:, None], one, precision="bfloat16")[:, 0]
    with np.errstate(invalid="ignore"):  # ml_dtypes warns as it casts a NaN
        expected = x.astype(BF16).astype(np.float32)
    # NaNs in the same places (assert_array_equal's rule), every other value equal
    np.testing.assert_array_equal(result, expected)


def test_bf16_result_is_the_float32_result_rounded_by_ml_dtypes(rng, bf16_arch):
    """A bf16 result is the float32 accumulator rounded once, by the same rule."""
    a, b = operands(rng, 37, 50, 45)
    # and ties: 1 + 2^-8 (down to 1) and 1 + 3 * 2^-8 (up to 1 + 2^-6)
    a[0, :2], b[:2, 0], b[2:, 0] = [1.0, 2.0**-8], [1.0, 1.0], 0.0
    a[1, :2] = [1.0 + 2.0**-7, 2.0**-8]
    wide = matmul(a, b, out=np.empty((37, 45), np.float32))
    narrow = matmul(a, b)
    np.testing.assert_array_equal(narrow.view(np.uint16), wide.astype(BF16).view(np.uint16))
    assert narrow[0, 0] == 1.0 and narrow[1, 0] == 1.0 + 2.0**-6


def test_subnormal_bf16_inputs_on_the_bf16_instruction_paths_count_as_zero(bf16_arch):
    """AMX and AVX512-BF16 treat subnormal inputs as zero (DAZ), whatever MXCSR
    says, and their emulations do the same; the widened paths keep them."""
    tiny = np.array([[2.0**-130]], np.float32).astype(BF16)  # a bf16 subnormal
    big = np.array([[2.0**100]], np.float32).astype(BF16)
    result = matmul(tiny, big, out=np.empty((1, 1), np.float32))[0, 0]
    if bf16_arch in ("generic", "avx2", "avx512"):
        assert result == np.float32(2.0**-30)
    else:
        assert result == 0.0


# ------------------------------------------------------------- input policy


def test_mixed_bf16_and_float32_is_a_type_error_naming_both():
    a, b = np.ones((2, 3), BF16), np.ones((3, 2), np.float32)
    with pytest.raises(
        TypeError,
        match=r"matmul: a and b must have the same dtype, got "
        r"bfloat16 and float32",
    ):
        matmul(a, b)


def test_bf16_out_of_another_dtype_is_a_type_error():
    a, b = np.ones((2, 3), BF16), np.ones((3, 2), BF16)
    with pytest.raises(
        TypeError,
        match=r"matmul: out must have dtype bfloat16 .* or float32 "
        r".*got float64",
    ):
        matmul(a, b, out=np.empty((2, 2)))


def test_precision_bfloat16_out_must_be_float32():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    with pytest.raises(TypeError, match=r"matmul: out must have dtype float32 .*got bfloat16"):
        matmul(a, b, out=np.empty((2, 2), BF16), precision="bfloat16")


def test_bf16_out_of_the_wrong_shape_is_a_value_error():
    a, b = np.ones((2, 3), BF16), np.ones((3, 2), BF16)
    with pytest.raises(
        ValueError,
        match=r"matmul: out has shape \(2, 3\) but the result has "
        r"shape \(2, 2\)",
    ):
        matmul(a, b, out=np.empty((2, 3), BF16))


def test_bf16_shapes_that_do_not_fit_are_a_value_error():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 2\) do not fit"):
        matmul(np.ones((2, 3), BF16), np.ones((4, 2), BF16))


@pytest.mark.parametrize("precision", ["float16", "bf16", "", "BFLOAT16"])
def test_unknown_precision_is_a_value_error(precision):
    a = np.ones((2, 2), np.float32)
    with pytest.raises(
        ValueError,
        match=rf"matmul: precision must be None, 'float32' or "
        rf"'bfloat16', got '{precision}'",
    ):
        matmul(a, a, precision=precision)


def test_precision_of_another_type_is_a_type_error():
    a = np.ones((2, 2), np.float32)
    with pytest.raises(
        TypeError,
        match=r"matmul: precision must be None, 'float32' or "
        r"'bfloat16', got type",
    ):
        matmul(a, a, precision=np.float32)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_precision_on_float64_inputs_is_a_value_error(precision):
    a = np.ones((2, 2))
    with pytest.raises(
        ValueError,
        match=rf"matmul: precision='{precision}' takes float32 or "
        r"bfloat16 inputs, got float64",
    ):
        matmul(a, a, precision=precision)


def test_kernels_without_bf16_refuse_it_by_name():
    with pytest.raises(
        TypeError, match=r"relu_backward: dout must have dtype float32 or float64, got bfloat16"
    ):
        denseops.relu_backward(np.ones(3, BF16), np.ones(3, BF16))


# ------------------------------------------------------------ relu and add


def bf16_values(rng, shape):
    """Random bf16 values with the edge cases mixed in: +-0, +-inf, NaN, subnormals."""
    x = rng.normal(size=shape).astype(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 2.0**-130, -(2.0**-130)], np.float32)
    picked = x.reshape(-1)[:: max(1, x.size // 7)]
    picked[...] = np.resize(specials, picked.size)
    with np.errstate(invalid="ignore"):
        return x.astype(BF16)


def relu_expected(x):
    """np.maximum(x, 0) on bf16, with relu's +0.0 for -0.0 (float32's rule here too)."""
    with np.errstate(invalid="ignore"):
        y = np.maximum(x, BF16.type(0))
    y[y == 0] = BF16.type(0)
    return y


def assert_same_bits(actual, expected):
    assert actual.dtype == BF16 and actual.shape == expected.shape
    np.testing.assert_array_equal(actual.view(np.uint16), expected.view(np.uint16))


ELEMENTWISE_BF16_SHAPES = [(0,), (1,), (7,), (3, 5), (300, 301), (70000,)]


@pytest.mark.parametrize("shape", ELEMENTWISE_BF16_SHAPES, ids=str)
def test_relu_bf16_is_numpy_maximum_bit_for_bit(rng, shape):
    x = bf16_values(rng, shape)
    for layout in LAYOUTS:
        with labelled(layout=layout):
            assert_same_bits(relu(in_layout(x, layout)), relu_expected(x))


@pytest.mark.parametrize("shape", ELEMENTWISE_BF16_SHAPES, ids=str)
def test_add_bf16_is_ml_dtypes_addition_bit_for_bit(rng, shape):
    x, y = bf16_values(rng, shape), bf16_values(rng, shape)
    with np.errstate(invalid="ignore"):
        expected = x + y
    for layout in LAYOUTS:
        with labelled(layout=layout):
            assert_same_bits(denseops.add(in_layout(x, layout), in_layout(y, layout)), expected)


def test_add_bf16_bias_rows(rng):
    x, bias = bf16_values(rng, (40, 33)), bf16_values(rng, (33,))
    with np.errstate(invalid="ignore"):
        expected = x + bias
    assert_same_bits(denseops.add(x, bias), expected)


def test_relu_and_add_bf16_in_place(rng):
    x, y = bf16_values(rng, (50, 20)), bf16_values(rng, (50, 20))
    with np.errstate(invalid="ignore"):
        expected_sum = x + y
    assert denseops.add(x, y, out=x) is x
    assert_same_bits(x, expected_sum)
    assert relu(x, out=x) is x
    assert_same_bits(x, relu_expected(expected_sum))


def test_relu_and_add_bf16_refuse_another_out_dtype_and_mixed_inputs():
    x = np.ones(4, BF16)
    with pytest.raises(TypeError, match=r"relu: out must have dtype bfloat16 .*got float32"):
        relu(x, out=np.empty(4, np.float32))
    with pytest.raises(
        TypeError, match=r"add: x and y must have the same dtype, got bfloat16 and float32"
    ):
        denseops.add(x, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"relu: out has shape \(5,\)"):
        relu(x, out=np.empty(5, BF16))


# ------------------------------------------------------------------- the paths


def test_set_arch_names_each_bf16_path_and_show_config_says_it(capsys, bf16_arch):
    assert denseops.get_arch() == bf16_arch
    denseops.show_config()
    line = next(s for s in capsys.readouterr().out.splitlines() if "matmul bfloat16" in s)
    if bf16_arch in ("generic", "avx2", "avx512"):
        assert f"{bf16_arch}: bf16 widened to float32" in line, line
    else:
        assert f"{bf16_arch}: " in line and "B packed once per call" in line, line


@pytest.mark.parametrize("name", ["amx", "avx512-bf16"])
def test_set_arch_to_a_bf16_path_this_cpu_cannot_run_is_an_error(name):
    if name in available_bf16_archs():
        pytest.skip(f"this CPU runs the {name} path; the error cannot happen here")
    with pytest.raises(ValueError, match=f"set_arch: .*cannot run the '{name}' path"):
        set_arch(name)


@pytest.mark.parametrize("name", ["amx-emulated", "avx512-bf16-emulated", "amx", "avx512-bf16"])
def test_denseops_arch_environment_variable_forces_each_bf16_path(tmp_path, name):
    if name not in available_bf16_archs():
        pytest.skip(f"this CPU (or its OS) cannot run the {name} path")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "DENSEOPS_"))}
    code = "import denseops; print(denseops.get_arch(), denseops._kernels._config()['gemm_bf16'])"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "DENSEOPS_ARCH": name},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == [name, f"{name}:"], done.stdout
