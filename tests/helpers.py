"""Array layouts, operand builders, and the tolerances of kernel results.

A kernel's result is compared with its reference (denseops.reference) through
`assert_close`, so the accuracy contract of the kernels lives in `tolerance`
below. Two other comparisons have their own rule, stated once here too:
gradients against central finite differences (`assert_gradient_close`), and
scalar losses summed in double (`assert_loss_close`). Tests of whole models
(training curves, accuracy) state their own thresholds where they are made.
"""

import contextlib
import importlib.util
import pathlib

import denseops
import numpy as np
from denseops import reference

FLOAT_DTYPES = (np.float32, np.float64)

# Memory layouts an input may arrive in. Every kernel must give the same
# values whatever the layout (DESIGN.md, "Kernel conventions").
LAYOUTS = ("C", "F", "strided", "reversed", "sliced", "unaligned")

# --------------------------------------------------------------- tolerances

# A result that sums k terms (dot: k products; matmul: K products per
# element; column_sums: k rows; other kernels: the number of roundings on the
# way to each output) is compared with the float64 answer rounded to the
# kernel's dtype. Each rounding errs by at most eps times the partial sum, and
# errors of different signs mostly cancel, so whatever the summation order
# (sequential, blocked, pairwise):
#   * the absolute error stays within a few eps * sum(|term|). Inputs from
#     `random_array` lie in [-1, 1], so every term is at most `scale` = 1 and
#     sum(|term|) <= k * scale: this part catches one wrong or dropped term
#     even when the terms cancel and the result is small;
#   * the relative error grows like sqrt(k) * eps, so results far larger than
#     the terms (bigger inputs) get sqrt(k) * eps * |expected| on top.
# The proven worst case (k * eps * sum(|term|)) is never approached in
# practice; ROUNDING_SLACK leaves several standard deviations of room. k = 0
# means one IEEE operation per element (relu, add): bit-identical results.
ROUNDING_SLACK = 4


def tolerance(dtype, k, scale=1.0):
    """The absolute part of the bound: ROUNDING_SLACK * eps * k * scale."""
    return ROUNDING_SLACK * float(np.finfo(dtype).eps) * k * scale


def bound(expected, k, scale=1.0):
    """The largest |actual - expected| accepted, element by element."""
    eps = float(np.finfo(expected.dtype).eps)
    finite = np.isfinite(expected)
    magnitude = np.abs(np.where(finite, expected, 0).astype(np.float64))
    allowed = tolerance(expected.dtype, k, scale) + ROUNDING_SLACK * eps * np.sqrt(k) * magnitude
    return np.where(finite, allowed, 0.0)  # an infinity must be exact


def assert_close(actual, expected, k, scale=1.0):
    """Assert `actual` matches `expected` within the bound for sums of k terms.

    `expected` fixes the dtype (and shape) the result must have; NaNs must sit
    in the same places and infinities must match exactly. On failure the
    message prints the max abs difference, the bound, and the worst element.
    """
    expected = np.asarray(expected)
    actual_arr = np.asarray(actual)
    assert actual_arr.shape == expected.shape, (
        f"shape {actual_arr.shape} != expected {expected.shape}"
    )
    if isinstance(actual, np.ndarray):
        assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != expected {expected.dtype}"
    if expected.size == 0:
        return
    nan_mismatch = np.isnan(actual_arr) != np.isnan(expected)
    if nan_mismatch.any():
        where = np.argwhere(nan_mismatch)[:5].tolist()
        raise AssertionError(
            f"NaN in one array but not the other at indices {where}; "
            f"got {actual_arr[nan_mismatch][:5]}, "
            f"expected {expected[nan_mismatch][:5]}"
        )
    with np.errstate(invalid="ignore"):  # inf - inf: equal infinities, or NaN pairs
        diff = np.abs(actual_arr.astype(np.float64) - expected.astype(np.float64))
    diff = np.where(np.isnan(diff), 0.0, diff)  # NaN positions already agree
    allowed = bound(expected, k, scale)
    bad = diff > allowed
    if bad.any():
        worst = np.unravel_index(np.argmax(diff - allowed), diff.shape)
        raise AssertionError(
            f"max abs difference {diff.max():.3e}; {int(bad.sum())} of {diff.size} elements "
            f"out of bounds (k={k}, scale={scale}, dtype={expected.dtype}); worst at index "
            f"{tuple(map(int, worst))}: got {actual_arr[worst]!r}, expected "
            f"{expected[worst]!r}, difference {diff[worst]:.3e} > bound {allowed[worst]:.3e}"
        )


# ------------------------------------------------------------------ arrays


def random_array(rng, shape, dtype):
    """Uniform values in [-1, 1) with some exact zeros, C-contiguous."""
    x = rng.uniform(-1.0, 1.0, size=shape)
    if x.size:
        x.flat[::7] = 0.0  # exact zeros: relu's boundary, add's identity
    return x.astype(dtype)


def in_layout(x, layout):
    """A view holding the same values as `x`, laid out in memory as `layout` names.

    "C" and "F" are contiguous; "strided" takes every other element of a
    bigger buffer along each axis; "reversed" has negative strides on every
    axis; "sliced" is a window of a wider array, so rows are not adjacent;
    "unaligned" is a field of a packed record array, so its byte strides are
    not multiples of the item size.
    """
    if x.ndim == 0:
        return x.copy()  # a 0-d array has no strides to vary
    if layout == "C":
        return np.ascontiguousarray(x)
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "strided":
        big = np.full(tuple(2 * s for s in x.shape), np.nan, x.dtype)
        view = big[tuple(slice(None, None, 2) for _ in x.shape)]
        view[...] = x
        return view
    if layout == "reversed":
        flip = tuple(slice(None, None, -1) for _ in x.shape)
        return np.ascontiguousarray(x[flip])[flip]
    if layout == "sliced":
        big = np.full(x.shape[:-1] + (x.shape[-1] + 5,), np.nan, x.dtype)
        view = big[..., 2 : 2 + x.shape[-1]]
        view[...] = x
        return view
    if layout == "unaligned":
        records = np.zeros(x.shape, dtype=[("pad", np.uint8), ("value", x.dtype)])
        records["value"] = x
        return records["value"]
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


ALL_ARCHS = ("generic", "avx512-emulated", "avx2", "avx512")


def available_archs():
    """The SIMD paths this machine and build can run, slowest first.

    "avx512-emulated" (the AVX-512 tile and blocks on emulated vectors) runs
    everywhere; "avx2" and "avx512" need the CPU and the OS to support them.
    """
    config = denseops._kernels._config()
    native = {"avx2": config["cpu_avx2_fma"], "avx512": config["cpu_avx512"]}
    return tuple(a for a in ALL_ARCHS if native.get(a, True))


# The paths of the bf16 GEMM (csrc/kernels/gemm_bf16.hpp), slowest first:
# generic, avx2 and avx512 widen bf16 to float32 and run their float32 GEMM;
# the emulations run the AVX512-BF16 and AMX packing and tiles on any CPU.
BF16_ARCHS = (
    "generic",
    "avx2",
    "avx512",
    "avx512-bf16-emulated",
    "amx-emulated",
    "avx512-bf16",
    "amx",
)


def available_bf16_archs():
    """The bf16 GEMM paths this machine and build can run (BF16_ARCHS' order)."""
    config = denseops._kernels._config()
    native = {
        "avx2": config["cpu_avx2_fma"],
        "avx512": config["cpu_avx512"],
        "avx512-bf16": config["cpu_avx512_bf16"],
        "amx": config["cpu_amx"],
    }
    return tuple(a for a in BF16_ARCHS if native.get(a, True))


def fastest_arch():
    """What set_arch("auto") picks: the float paths' best, or the path that adds
    a bf16 GEMM to it (amx, avx512-bf16) where the CPU has one."""
    config = denseops._kernels._config()
    if config["cpu_amx"]:
        return "amx"
    if config["cpu_avx512_bf16"]:
        return "avx512-bf16"
    return available_archs()[-1]


def numeric_gradient(f, x, h=1e-6):
    """d f() / d x by central differences, perturbing ``x`` in place (float64 result)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, out = x.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, x), "x must be contiguous: its elements are perturbed in place"
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f()
        flat[i] = keep - h
        down = f()
        flat[i] = keep
        out[i] = (up - down) / (2 * h)
    return grad


# Finite differences of a float64 function with h = 1e-6: truncation error
# O(h^2) ~ 1e-12, rounding error O(eps / h) ~ 1e-10. A correct gradient lands
# far below this bound, a wrong one (a missing factor, a dropped term, a
# transposed index) far above it.
GRADIENT_RELATIVE_ERROR = 1e-6


def assert_gradient_close(analytic, numeric, what):
    """The analytic gradient agrees with the numeric one in two senses, both
    below GRADIENT_RELATIVE_ERROR: as a whole, ||a - n|| / (||a|| + ||n||)
    (which stays strict for small gradients), and entry by entry, relative to
    max(1, |n|) (which catches one wrong entry among many). The message names
    `what` and the worst entry."""
    analytic = np.asarray(analytic, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    assert scale > 0, f"{what}: both gradients are zero, the check would prove nothing"
    overall = np.linalg.norm(analytic - numeric) / scale
    entries = np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric))
    worst = np.unravel_index(np.argmax(entries), entries.shape)
    assert overall < GRADIENT_RELATIVE_ERROR and entries[worst] < GRADIENT_RELATIVE_ERROR, (
        f"{what}: relative error {overall:.3e} overall, {entries[worst]:.3e} at "
        f"{tuple(map(int, worst))} (analytic {analytic[worst]!r}, numeric {numeric[worst]!r}); "
        f"bound {GRADIENT_RELATIVE_ERROR:g}"
    )


def assert_loss_close(actual, expected, dtype, terms):
    """A loss returned as a Python float: summed in double, but each row's
    `terms` terms rounded in `dtype`, so within tolerance(dtype, terms) relatively."""
    assert isinstance(actual, float), f"loss should be a Python float, got {type(actual)}"
    bound = tolerance(dtype, terms) * (1 + abs(expected))
    assert abs(actual - expected) <= bound, (
        f"loss {actual!r} vs expected {expected!r}: difference {abs(actual - expected):.3e} "
        f"> bound {bound:.3e}"
    )


@contextlib.contextmanager
def labelled(**labels):
    """Prefix an AssertionError raised inside with `labels` (layout='F', ...):
    for a test that runs several cases as one pytest item, whose per-item cost
    (about a millisecond) would exceed the cases' own."""
    try:
        yield
    except AssertionError as error:
        where = ", ".join(f"{key}={value!r}" for key, value in labels.items())
        raise AssertionError(f"{where}: {error}") from None


# ------------------------------------------------------- operand builders


def away_from_zero(rng, shape, low=0.05, high=4.0):
    """Values with low <= |value| < high: finite differences stay clear of the
    kinks at 0 (relu, mae, leaky_relu, the L1 penalty)."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def loss_operands(rng, kind, from_logits, batch=5, outputs=4):
    """(pred, target) in float64 for a Keras loss, away from the kinks and clips
    of its formula, so that finite differences see one smooth piece."""
    if kind in ("mean_squared_error", "mean_absolute_error"):
        target = rng.normal(size=(batch, outputs))
        return target + away_from_zero(rng, (batch, outputs), 0.1, 2.0), target
    if kind == "huber":  # |error| of 0.5 or 1.7: clear of delta = 1 on both sides
        target = rng.normal(size=(batch, outputs))
        size = np.where(rng.random((batch, outputs)) < 0.5, 0.5, 1.7)
        return target + size * rng.choice([-1.0, 1.0], size=(batch, outputs)), target
    if from_logits:
        pred = rng.normal(size=(batch, outputs)) * 2
    elif kind == "binary_crossentropy":
        pred = rng.uniform(0.05, 0.95, size=(batch, outputs))
    else:
        pred = rng.uniform(0.05, 1.0, size=(batch, outputs))
    if kind == "binary_crossentropy":
        return pred, rng.uniform(0, 1, size=(batch, outputs))
    if kind.startswith("sparse"):
        return pred, rng.integers(0, outputs, size=batch)
    soft = rng.uniform(0.1, 1.0, size=(batch, outputs))
    return pred, soft / soft.sum(axis=1, keepdims=True)


def blobs(rng, samples, features, classes, spread=2.0):
    """Gaussian clusters (unit noise) around random centres `spread` apart on
    each axis: data a small network learns in a few epochs. Returns float32
    x (samples, features) and int64 labels (samples,)."""
    centres = rng.normal(size=(classes, features)) * spread
    labels = rng.integers(0, classes, size=samples)
    return (centres[labels] + rng.normal(size=(samples, features))).astype(np.float32), labels


def snapshot(*arrays):
    """Copies to check later, with assert_unchanged, that a call left its inputs alone."""
    return [a.copy() for a in arrays]


def assert_unchanged(arrays, copies):
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c, err_msg="an input was modified")


def offset_view(x):
    """x's values in a buffer one element past its start: C-contiguous and
    item-aligned, but not aligned to a SIMD register."""
    buffer = np.empty(x.size + 1, x.dtype)
    view = buffer[1:].reshape(x.shape)
    view[...] = x
    return view


def unaligned(values):
    """A C-contiguous array whose data starts one byte past an item boundary."""
    values = np.ascontiguousarray(values)
    raw = np.zeros(values.nbytes + 1, np.uint8)
    view = raw[1:].view(values.dtype).reshape(values.shape)
    view[...] = values
    assert view.flags.c_contiguous and not view.flags.aligned
    return view


def matmul_operands(rng, dtype, shape, trans_a, trans_b, layout_a, layout_b=None):
    """Stored operands for matmul(a, b, trans_a=, trans_b=) and the exact product.

    shape is (M, K, N). With trans_a the caller holds a as (K, M) and asks for
    a.T @ b; likewise b. The product is reference.matmul's, rounded to dtype.
    layout_b defaults to layout_a.
    """
    m, k, n = shape
    a = random_array(rng, (m, k), dtype)
    b = random_array(rng, (k, n), dtype)
    expected = reference.matmul(a, b).astype(dtype)
    stored_a = in_layout(a.T if trans_a else a, layout_a)
    stored_b = in_layout(b.T if trans_b else b, layout_a if layout_b is None else layout_b)
    return stored_a, stored_b, expected


# Every kind of the `loss` kernel, with and without logits where it takes them.
LOSS_CASES = [
    ("mean_squared_error", False),
    ("mean_absolute_error", False),
    ("huber", False),
    ("binary_crossentropy", False),
    ("binary_crossentropy", True),
    ("categorical_crossentropy", False),
    ("categorical_crossentropy", True),
    ("sparse_categorical_crossentropy", False),
    ("sparse_categorical_crossentropy", True),
]


# ---------------------------------------------------------- benchmark scripts

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


def load_benchmark_script(name):
    """benchmarks/<name>.py imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_mnist():
    """The real MNIST ``((x_train, y_train), (x_test, y_test))`` from ``$DENSEOPS_DATA``,
    or a skip that says how to get it. Never the network: without the variable
    the test skips before the loader could try its download."""
    import os

    import pytest
    from denseops.datasets import mnist

    if not os.environ.get("DENSEOPS_DATA"):
        pytest.skip(
            "needs the real MNIST: set DENSEOPS_DATA=<root> holding mnist/ "
            "(../shared/datasets on the project's machines); tests never download"
        )
    return mnist.load_data()
