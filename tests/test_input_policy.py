"""The input policy of csrc/bindings.cpp, for the kernels test_bindings_errors.py does not cover.

test_bindings_errors.py checks relu, relu_backward, add, dot, column_sums
and matmul against wrong types, dtypes and shapes, and every kernel's `out`
argument; test_kernels.py the plain aliasing cases. Here: the same policy for
the loss and optimizer kernels' inputs, masked arrays, `out` that is a
rearranged view of an input, and arrays updated in place that share memory.
Each case either gives NumPy's answer or raises TypeError/ValueError naming
the function, the argument and what was expected versus received.
"""

import re

import denseops
import numpy as np
import pytest
from denseops import (
    adam_update,
    add,
    column_sums,
    matmul,
    reference,
    relu,
    relu_backward,
    rmsprop_update,
    sgd_update,
    softmax,
    softmax_backward,
    softmax_cross_entropy,
    sparse_softmax_cross_entropy,
)
from helpers import assert_close, random_array, unaligned

F32, F64 = np.float32, np.float64


def message(*parts):
    """A regex matching a message that contains each part, in order."""
    return ".*".join(re.escape(p) for p in parts)


# Every kernel outside test_bindings_errors.py with valid arguments, and the
# name each array argument has in its error messages.
def loss_and_optimizer_calls(dtype=F32):
    x = np.full((2, 3), 0.5, dtype)
    labels = np.array([0, 2])
    w = np.ones(4, dtype)
    return {
        "softmax": (softmax, [x], {}, ["x"]),
        "softmax_backward": (softmax_backward, [x, x.copy()], {}, ["dout", "y"]),
        "sparse_softmax_cross_entropy": (sparse_softmax_cross_entropy, [x, labels], {}, ["logits"]),
        "softmax_cross_entropy": (softmax_cross_entropy, [x, x.copy()], {}, ["logits", "targets"]),
        "sgd_update": (sgd_update, [w, w.copy()], {"learning_rate": 0.1}, ["weights", "grad"]),
        "rmsprop_update": (
            rmsprop_update,
            [w, w.copy(), np.zeros_like(w)],
            {"learning_rate": 0.1, "rho": 0.9, "epsilon": 1e-7},
            ["weights", "grad", "velocity"],
        ),
        "adam_update": (
            adam_update,
            [w, w.copy(), np.zeros_like(w), np.zeros_like(w)],
            {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "step": 1},
            ["weights", "grad", "m", "v"],
        ),
        "activation": (denseops.activation, [x, "tanh"], {}, ["x"]),
        "activation_backward": (
            denseops.activation_backward,
            [x, x.copy(), "tanh"],
            {},
            ["dout", "y"],
        ),
        "loss": (denseops.loss, [x, x.copy(), "mean_squared_error"], {}, ["pred", "target"]),
        "metric": (denseops.metric, [x, x.copy(), "mean_absolute_error"], {}, ["pred", "target"]),
        "dropout": (denseops.dropout, [x, 0.5], {"seed": 1, "counter": 1}, ["x"]),
        "weight_penalty": (
            denseops.weight_penalty,
            [w, w.copy()],
            {"l2": 0.1},
            ["weights", "grad"],
        ),
        "link_activation": (denseops.link_activation, [x], {"link": "softmax"}, ["z"]),
        "link_loss": (denseops.link_loss, [x, x.copy()], {"link": "logistic"}, ["z", "targets"]),
        "axpy": (lambda x, y: denseops.axpy(0.5, x, y), [w, w.copy()], {}, ["x", "y"]),
        **more_optimizer_calls(w),
        **normalization_calls(x),
    }


def normalization_calls(x):
    """BatchNormalization and LayerNormalization, forward and backward, as the calls above."""
    features, rows = np.ones(x.shape[1], x.dtype), np.ones(x.shape[0], x.dtype)
    backward_names = ["dout", "x", "gamma", "mean", "variance"]
    return {
        "batch_normalization": (
            denseops.batch_normalization,
            [x, features, features.copy()],
            {"epsilon": 1e-3},
            ["x", "gamma", "beta"],
        ),
        "batch_normalization_backward": (
            denseops.batch_normalization_backward,
            [x, x.copy(), features, features.copy(), features.copy()],
            {"epsilon": 1e-3},
            backward_names,
        ),
        "layer_normalization": (
            denseops.layer_normalization,
            [x, features, features.copy()],
            {"epsilon": 1e-3},
            ["x", "gamma", "beta"],
        ),
        "layer_normalization_backward": (
            denseops.layer_normalization_backward,
            [x, x.copy(), features, rows, rows.copy()],
            {"epsilon": 1e-3},
            backward_names,
        ),
    }


def more_optimizer_calls(w):
    """Adagrad, Adamax, Nadam and AdamW, as the calls above."""
    moments = {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "step": 1}
    state = [np.zeros_like(w), np.zeros_like(w)]
    return {
        "adagrad_update": (
            denseops.adagrad_update,
            [w, w.copy(), np.full_like(w, 0.1)],
            {"learning_rate": 0.1, "epsilon": 1e-7},
            ["weights", "grad", "accumulator"],
        ),
        "adamax_update": (
            denseops.adamax_update,
            [w, w.copy(), *state],
            moments,
            ["weights", "grad", "m", "u"],
        ),
        "nadam_update": (
            denseops.nadam_update,
            [w, w.copy(), *state],
            moments,
            ["weights", "grad", "m", "v"],
        ),
        "adamw_update": (
            lambda w, g, m, v, v_hat: denseops.adamw_update(
                w, g, m, v, **moments, weight_decay=0.004, v_hat=v_hat
            ),
            [w, w.copy(), *state, np.zeros_like(w)],
            {},
            ["weights", "grad", "m", "v", "v_hat"],
        ),
    }


CALLS = loss_and_optimizer_calls()
# (kernel name, position) of every float array argument.
ARRAY_ARGUMENTS = [(name, i) for name, (_, _, _, names) in CALLS.items() for i in range(len(names))]


def argument_id(case):
    return f"{case[0]}-{CALLS[case[0]][3][case[1]]}"


def call_with(name, position, value):
    fn, args, kwargs, _ = loss_and_optimizer_calls()[name]
    args[position] = value
    return fn(*args, **kwargs)


# ------------------------------------------------------- what is refused


@pytest.mark.parametrize("case", ARRAY_ARGUMENTS, ids=argument_id)
@pytest.mark.parametrize("kind", ["list", "bool", "complex", "object", "int64", "float16"])
def test_loss_and_optimizer_kernels_reject_non_float_arrays(case, kind):
    name, position = case
    arg = CALLS[name][3][position]
    good = CALLS[name][1][position]
    bad = {
        "list": good.tolist(),
        "bool": good.astype(bool),
        "complex": good.astype(np.complex64),
        "object": good.astype(object),
        "int64": good.astype(np.int64),
        "float16": good.astype(np.float16),
    }[kind]
    if kind == "list":
        expected = (f"{name}: {arg} must be a numpy.ndarray", "got list")
    else:
        expected = (f"{name}: {arg} must have dtype float32", f"got {bad.dtype}")
    with pytest.raises(TypeError, match=message(*expected)):
        call_with(name, position, bad)


@pytest.mark.parametrize("case", [c for c in ARRAY_ARGUMENTS if c[1] > 0], ids=argument_id)
def test_loss_and_optimizer_kernels_never_cast_float64_to_float32(case):
    name, position = case
    arg = CALLS[name][3][position]
    good = CALLS[name][1][position]
    with pytest.raises(TypeError, match=message(f"{name}: ", arg, "got", "float64")):
        call_with(name, position, good.astype(F64))


@pytest.mark.parametrize(
    "case",
    [(n, 0) for n in ("relu", "add", "matmul", "column_sums")] + ARRAY_ARGUMENTS[:1],
    ids=lambda c: c[0],
)
def test_masked_arrays_are_refused_because_the_mask_would_be_ignored(case):
    name = case[0]
    x = np.ma.masked_array(np.ones((3, 3), F32), mask=np.eye(3, dtype=bool))
    fn = {
        "relu": lambda: relu(x),
        "add": lambda: add(x, np.ones((3, 3), F32)),
        "matmul": lambda: matmul(x, np.ones((3, 3), F32)),
        "column_sums": lambda: column_sums(x),
        "softmax": lambda: softmax(x),
    }[name]
    first_arg = {"matmul": "a"}.get(name, "x")
    with pytest.raises(
        TypeError,
        match=message(
            f"{name}: {first_arg} must be a plain numpy.ndarray, got numpy.ma.MaskedArray"
        ),
    ):
        fn()


def test_plain_ndarray_subclasses_are_read_as_arrays(rng, dtype):
    class Tagged(np.ndarray):
        pass

    x = random_array(rng, (4, 5), dtype).view(Tagged)
    assert_close(relu(x), reference.relu(np.asarray(x)), k=0)


def test_contiguous_but_unaligned_inputs_are_read_through_an_aligned_copy(rng, dtype):
    # Dereferencing a misaligned float* is undefined behaviour in C++ (UBSan
    # flags it); the binding copies such inputs, as it copies strided ones.
    x, y = random_array(rng, (5, 9), dtype), random_array(rng, (5, 9), dtype)
    v = random_array(rng, (9,), dtype)
    assert_close(relu(unaligned(x)), reference.relu(x), k=0)
    assert_close(add(unaligned(x), unaligned(v)), x + v, k=0)
    assert_close(
        matmul(unaligned(x), unaligned(y), trans_b=True),
        reference.matmul(x, y, trans_b=True).astype(dtype),
        k=9,
    )
    assert_close(softmax(unaligned(x)), reference.softmax(x).astype(dtype), k=9)
    labels = np.array([0, 8, 3, 3, 1])
    expected, _ = sparse_softmax_cross_entropy(x, labels)
    assert sparse_softmax_cross_entropy(x, unaligned(labels))[0] == expected


def test_unaligned_arrays_updated_in_place_are_refused(dtype):
    w = unaligned(np.ones(4, dtype))
    with pytest.raises(
        ValueError, match=message("sgd_update: weights is updated in place", "got an unaligned one")
    ):
        sgd_update(w, np.ones(4, dtype), learning_rate=0.5)
    np.testing.assert_array_equal(w, 1)


# ------------------------------------------ out as a rearranged view of an input


@pytest.mark.parametrize("view", ["reversed", "transposed"])
@pytest.mark.parametrize("op", ["relu", "add", "relu_backward"])
def test_elementwise_out_that_is_a_rearranged_view_of_an_input(rng, dtype, op, view):
    # out and x are the same memory in another order: an element written early
    # is read later, so the kernel must read from a copy to match NumPy.
    out = random_array(rng, (9, 9), dtype)
    x = out[::-1, ::-1] if view == "reversed" else out.T
    other = random_array(rng, (9, 9), dtype)
    expected = {
        "relu": lambda: reference.relu(x),
        "add": lambda: x + other,
        "relu_backward": lambda: reference.relu_backward(x, other),
    }[op]()
    got = {
        "relu": lambda: relu(x, out=out),
        "add": lambda: add(x, other, out=out),
        "relu_backward": lambda: relu_backward(x, other, out=out),
    }[op]()
    assert got is out
    assert_close(out, expected, k=0)


@pytest.mark.parametrize("trans_a", [False, True])
def test_matmul_out_that_is_the_transpose_of_an_input(rng, dtype, trans_a):
    n = 20
    out = random_array(rng, (n, n), dtype)
    a = out.T
    b = random_array(rng, (n, n), dtype)
    a_used = a.T if trans_a else a
    expected = reference.matmul(a_used, b).astype(dtype)
    assert matmul(a, b, out=out, trans_a=trans_a) is out
    assert_close(out, expected, k=n)


@pytest.mark.parametrize("shift", [0, 1, 3, -2])
def test_softmax_out_aliasing_or_shifted_over_its_input(rng, dtype, shift):
    rows, cols = 6, 5
    buffer = random_array(rng, (rows * cols + 2 * abs(shift),), dtype) * 10
    x = buffer[abs(shift) : abs(shift) + rows * cols].reshape(rows, cols)
    out = buffer[abs(shift) + shift : abs(shift) + shift + rows * cols].reshape(rows, cols)
    expected = reference.softmax(x).astype(dtype)
    assert softmax(x, out=out) is out
    assert_close(out, expected, k=cols)


@pytest.mark.parametrize("which", ["dout", "y"])
def test_softmax_backward_out_aliasing_an_input(rng, dtype, which):
    y = reference.softmax(random_array(rng, (5, 7), dtype)).astype(dtype)
    dout = random_array(rng, (5, 7), dtype)
    expected = reference.softmax_backward(dout, y).astype(dtype)
    out = dout if which == "dout" else y
    assert softmax_backward(dout, y, out=out) is out
    assert_close(out, expected, k=7)


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
def test_cross_entropy_gradient_written_over_its_logits(rng, dtype, sparse):
    logits = random_array(rng, (6, 4), dtype) * 3
    labels = rng.integers(0, 4, size=6)
    onehot = np.eye(4, dtype=dtype)[labels]
    expected_loss, _, expected_grad = reference.sparse_softmax_cross_entropy(logits, labels)
    expected_grad = expected_grad.astype(dtype)
    if sparse:
        loss, _ = sparse_softmax_cross_entropy(logits, labels, dlogits=logits)
    else:
        loss, _ = softmax_cross_entropy(logits, onehot, dlogits=logits)
    assert abs(loss - expected_loss) <= 1e-5 * (1 + expected_loss)
    assert_close(logits, expected_grad, k=4)


# --------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "labels,error,expected",
    [
        (np.array([0.0, 2.0]), TypeError, "labels must have an integer dtype, got float64"),
        (np.array([True, False]), TypeError, "labels must have an integer dtype, got bool"),
        (np.array([0, 3]), ValueError, "labels must be in [0, 3) for 3 classes, got 3 at index 1"),
        (
            np.array([-1, 0]),
            ValueError,
            "labels must be in [0, 3) for 3 classes, got -1 at index 0",
        ),
        (np.array([0, 2**64 - 1], np.uint64), ValueError, "labels must be in [0, 3)"),
        (np.array([[0, 1]]), ValueError, "labels must have shape (2,) to match logits' batch"),
        ([0, 1], TypeError, "labels must be a 1-D numpy.ndarray of integers, got list"),
    ],
)
def test_sparse_cross_entropy_label_policy(labels, error, expected):
    with pytest.raises(error, match=message("sparse_softmax_cross_entropy: " + expected)):
        sparse_softmax_cross_entropy(np.zeros((2, 3), F32), labels)


def test_sparse_cross_entropy_takes_any_integer_width_and_layout():
    logits = np.log(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]], F64))
    expected = -np.log([0.8, 0.6, 0.5]).mean()  # the tie in row 3 goes to class 0, as argmax
    for labels in (np.array([1, 0, 0], np.uint8), np.array([9, 1, 7, 0, 5, 0], np.int32)[1::2]):
        loss, correct = sparse_softmax_cross_entropy(logits, labels)
        assert abs(loss - expected) < 1e-12 and correct == 3


# ---------------------------------------------------- in-place optimizer arrays


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_gradient_that_is_the_weights_array(dtype, momentum):
    w = np.linspace(-1, 1, 37).astype(dtype)
    velocity = np.full_like(w, 0.5) if momentum else None
    expected_w, _ = reference.sgd_update(w, w, velocity, learning_rate=0.1, momentum=momentum)
    sgd_update(w, w, learning_rate=0.1, momentum=momentum, velocity=velocity)
    assert_close(w, expected_w.astype(dtype), k=2)


def test_rmsprop_gradient_that_is_its_velocity_is_read_before_the_update(dtype):
    # The kernel writes v[i] before it reads g[i] for the weight step; a
    # gradient sharing v's memory must be read from a copy.
    w = np.linspace(-1, 1, 41).astype(dtype)
    v = np.linspace(0.5, 2, 41).astype(dtype)
    g = v
    expected_w, v_new = reference.rmsprop_update(w, g, v, learning_rate=0.01, rho=0.9, epsilon=1e-7)
    expected_w = expected_w.astype(dtype)
    rmsprop_update(w, g, v, learning_rate=0.01, rho=0.9, epsilon=1e-7)
    assert_close(v, v_new.astype(dtype), k=3)
    assert_close(w, expected_w, k=3)


@pytest.mark.parametrize(
    "case",
    [
        ("rmsprop_update", (0, 2), "weights and velocity"),
        ("adam_update", (0, 2), "weights and m"),
        ("adam_update", (2, 3), "m and v"),
        ("sgd_update", (0, "velocity"), "weights and velocity"),
    ],
    ids=lambda c: f"{c[0]}-{c[2].replace(' ', '_')}",
)
def test_arrays_updated_in_place_must_not_share_memory(case):
    name, (first, second), names = case
    fn, args, kwargs, _ = loss_and_optimizer_calls(F64)[name]
    shared = np.ones(8, F64)
    args = [a for a in args]
    args[first] = shared[:4]
    if second == "velocity":
        kwargs = {**kwargs, "momentum": 0.9, "velocity": shared[2:6]}
    else:
        args[second] = shared[2:6]
    args[1] = args[1].astype(F64)
    with pytest.raises(
        ValueError,
        match=message(f"{name}: {names} are both updated in place and must not share memory"),
    ):
        fn(*args, **kwargs)
    np.testing.assert_array_equal(shared, 1.0)


@pytest.mark.parametrize(
    "spoil,received",
    [("read_only", "got a read-only one"), ("strided", "got a non-contiguous one with strides")],
)
def test_weights_updated_in_place_must_be_writable_and_contiguous(spoil, received):
    if spoil == "read_only":
        w = np.ones(4, F32)
        w.flags.writeable = False
    else:
        w = np.ones(8, F32)[::2]
    with pytest.raises(
        ValueError, match=message("sgd_update: weights is updated in place", received)
    ):
        sgd_update(w, np.ones(4, F32), learning_rate=0.1)
    np.testing.assert_array_equal(w, 1.0)


def test_every_array_kernel_is_covered_by_some_policy_test():
    # A new kernel added to the package must join one of the two files.
    covered = set(CALLS) | {"relu", "relu_backward", "add", "dot", "column_sums", "matmul"}
    kernels = {
        name
        for name in denseops.__all__
        if callable(getattr(denseops._kernels, name, None))
        and name not in {"set_arch", "get_arch", "set_num_threads", "get_num_threads"}
    }
    assert kernels == covered


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_cross_entropy_labels_that_alias_the_gradient_being_written(dtype):
    # The labels are a view of the very buffer dlogits is written into: the
    # kernel must select rows by the labels that were checked, not by the
    # gradient values that overwrite them as it runs.
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((100, 10)).astype(dtype)
    raw = np.zeros(1000, dtype=dtype)
    labels = raw.view(np.int64)[:100]
    labels[:] = np.arange(100) % 10
    checked = labels.copy()
    dlogits = raw.reshape(100, 10)
    loss, correct = denseops.sparse_softmax_cross_entropy(logits, labels, dlogits=dlogits)
    expected_loss, expected_correct = denseops.sparse_softmax_cross_entropy(
        logits, checked, dlogits=np.empty_like(logits)
    )
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert correct == expected_correct


def test_an_overlapping_subclass_input_is_copied_without_calling_its_methods(rng, dtype):
    # The private copy made for an input that overlaps `out` is NumPy's copy
    # of the elements, not the subclass's own copy() (which may do anything).
    class NoCopy(np.ndarray):
        def copy(self, *args, **kwargs):
            raise AssertionError("the subclass's copy() was called")

    buffer = random_array(rng, (6, 6), dtype)
    a = buffer.view(NoCopy)
    expected = buffer[:, :5].astype(np.float64) @ buffer[:5, :].astype(np.float64)
    out = buffer[1:, :]  # overlaps both operands, shifted by a row
    matmul(a[:, :5][:5], a[:5, :], out=out)
    assert_close(out, expected[:5].astype(dtype), k=5)
    x = buffer.copy()
    shifted = x.view(NoCopy)
    reference = np.maximum(x[:-1], 0)
    relu(shifted[:-1], out=x[1:])
    assert_close(x[1:], reference, k=0)
