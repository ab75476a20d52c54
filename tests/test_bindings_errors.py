"""Every way to call a kernel wrongly, and what the error says.

The input policy (csrc/bindings.cpp, top comment): array arguments must be
numpy.ndarray of float32 or float64, all of one dtype, and nothing is converted
behind the caller's back; a wrong dtype is a TypeError, a wrong shape a
ValueError, and every message names the function, the argument and the
offending shapes or dtypes.
"""

import re

import denseops
import numpy as np
import pytest
from denseops import add, column_sums, dot, matmul, reference, relu, relu_backward
from helpers import assert_close, random_array, unaligned

F32, F64 = np.float32, np.float64


def good_args(name, dtype=F32):
    """Valid positional arguments for each kernel; tests spoil one at a time."""
    return {
        "relu": [np.ones((2, 3), dtype)],
        "relu_backward": [np.ones((2, 3), dtype), np.ones((2, 3), dtype)],
        "add": [np.ones((2, 3), dtype), np.ones((2, 3), dtype)],
        "dot": [np.ones(3, dtype), np.ones(3, dtype)],
        "column_sums": [np.ones((2, 3), dtype)],
        "matmul": [np.ones((2, 3), dtype), np.ones((3, 4), dtype)],
    }[name]


KERNELS = {
    "relu": relu,
    "relu_backward": relu_backward,
    "add": add,
    "dot": dot,
    "column_sums": column_sums,
    "matmul": matmul,
}
ARG_NAMES = {
    "relu": ["x"],
    "relu_backward": ["dout", "y"],
    "add": ["x", "y"],
    "dot": ["x", "y"],
    "column_sums": ["x"],
    "matmul": ["a", "b"],
}
# (kernel, position of the argument) for every array argument of every kernel.
ARRAY_ARGUMENTS = [(name, i) for name, args in ARG_NAMES.items() for i in range(len(args))]
# Result shape of good_args(name), for out= tests.
OUT_SHAPES = {
    "relu": (2, 3),
    "relu_backward": (2, 3),
    "add": (2, 3),
    "column_sums": (3,),
    "matmul": (2, 4),
}


def with_argument(name, position, value):
    args = good_args(name)
    args[position] = value
    return args


def message(*parts):
    """A regex matching a message that contains each part, in order."""
    return ".*".join(re.escape(p) for p in parts)


def argument_id(case):
    return f"{case[0]}-{ARG_NAMES[case[0]][case[1]]}" if isinstance(case, tuple) else None


# --------------------------------------------------------- not an ndarray

NOT_ARRAYS = {
    "list": ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "list"),
    "tuple": ((1.0, 2.0, 3.0), "tuple"),
    "float": (1.5, "float"),
    "int": (2, "int"),
    "numpy_float64_scalar": (np.float64(1.5), "float64"),
    "numpy_float32_scalar": (np.float32(1.5), "float32"),
    "none": (None, "NoneType"),
    "string": ("1.0", "str"),
}


@pytest.mark.parametrize("kind", NOT_ARRAYS)
@pytest.mark.parametrize("case", ARRAY_ARGUMENTS, ids=argument_id)
def test_kernels_reject_non_ndarray_inputs(case, kind):
    name, position = case
    value, type_name = NOT_ARRAYS[kind]
    arg = ARG_NAMES[name][position]
    with pytest.raises(
        TypeError, match=message(f"{name}: {arg} must be a numpy.ndarray", f"got {type_name}")
    ):
        KERNELS[name](*with_argument(name, position, value))


# ------------------------------------------------------------ wrong dtype

WRONG_DTYPES = [
    np.int32,
    np.int64,
    np.bool_,
    np.complex64,
    np.complex128,
    np.float16,
    np.longdouble,
    np.object_,
    np.uint8,
    ">f4",
    ">f8",
]


def dtype_id(d):
    return np.dtype(d).str if isinstance(d, str) else np.dtype(d).name


@pytest.mark.parametrize("wrong", WRONG_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("case", ARRAY_ARGUMENTS, ids=argument_id)
def test_kernels_reject_non_float_dtypes(case, wrong):
    name, position = case
    arg = ARG_NAMES[name][position]
    good = good_args(name)[position]
    bad = good.astype(wrong)
    # matmul, relu and add take bfloat16 too (tests/test_bf16.py), and say so.
    takes_bf16 = name in ("matmul", "relu", "add")
    expected = "float32, float64 or bfloat16" if takes_bf16 else "float32 or float64"
    with pytest.raises(
        TypeError,
        match=message(f"{name}: {arg} must have dtype {expected}", f", got {bad.dtype}"),
    ):
        KERNELS[name](*with_argument(name, position, bad))


@pytest.mark.parametrize("first,second", [(F32, F64), (F64, F32)], ids=["f32-f64", "f64-f32"])
@pytest.mark.parametrize("name", ["relu_backward", "add", "dot", "matmul"])
def test_kernels_reject_mixed_float32_float64(name, first, second):
    a, b = good_args(name, first)[0], good_args(name, second)[1]
    arg_a, arg_b = ARG_NAMES[name]
    with pytest.raises(
        TypeError,
        match=message(
            f"{name}: {arg_a} and {arg_b} must have the same dtype",
            f"got {np.dtype(first).name} and {np.dtype(second).name}",
        ),
    ):
        KERNELS[name](a, b)


# ------------------------------------------------------------ wrong shape


@pytest.mark.parametrize(
    "x_shape,y_shape",
    [
        ((2, 3), (3, 2)),
        ((2, 3), (2,)),
        ((2, 3), (1, 3)),
        ((2, 3), (6,)),
        ((3,), (4,)),
        ((2, 3), (2, 3, 1)),
        ((), (3,)),
        ((0, 3), (0,)),
        ((2, 3), ()),
    ],
)
def test_add_rejects_shapes_that_are_neither_equal_nor_bias(x_shape, y_shape):
    x, y = np.ones(x_shape, F32), np.ones(y_shape, F32)
    with pytest.raises(
        ValueError,
        match=message(
            "add: operands could not be broadcast together with shapes", f"{x.shape} {y.shape}"
        ),
    ):
        add(x, y)


def test_add_message_prints_shapes_like_numpy():
    with pytest.raises(ValueError) as info:
        add(np.ones((2, 3), F64), np.ones((4,), F64))
    assert "shapes (2, 3) (4,)" in str(info.value)


@pytest.mark.parametrize("dout_shape,y_shape", [((2, 3), (3, 2)), ((6,), (2, 3)), ((3,), (4,))])
def test_relu_backward_rejects_mismatched_shapes(dout_shape, y_shape):
    with pytest.raises(
        ValueError,
        match=message(
            "relu_backward: dout and y must have the same shape", f"got {dout_shape} and {y_shape}"
        ),
    ):
        relu_backward(np.ones(dout_shape, F32), np.ones(y_shape, F32))


@pytest.mark.parametrize(
    "x_shape,y_shape", [((3,), (4,)), ((3, 1), (3,)), ((3,), (1, 3)), ((2, 3), (2, 3)), ((), ())]
)
def test_dot_rejects_anything_but_two_equal_length_vectors(x_shape, y_shape):
    with pytest.raises(
        ValueError,
        match=message(
            "dot: expected two 1-D arrays of the same length", f"got shapes {x_shape} and {y_shape}"
        ),
    ):
        dot(np.ones(x_shape, F64), np.ones(y_shape, F64))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_column_sums_rejects_non_2d_input(shape):
    with pytest.raises(
        ValueError, match=message("column_sums: x must be 2-D", f"got shape {shape}")
    ):
        column_sums(np.ones(shape, F32))


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [((3,), (3, 2)), ((2, 3), (3,)), ((), ()), ((2, 3, 4), (4, 5)), ((1, 2, 3), (1, 3, 2))],
)
def test_matmul_rejects_non_2d_operands(a_shape, b_shape):
    with pytest.raises(
        ValueError,
        match=message("matmul: a and b must be 2-D", f"got shapes {a_shape} and {b_shape}"),
    ):
        matmul(np.ones(a_shape, F32), np.ones(b_shape, F32))


@pytest.mark.parametrize(
    "a_shape,b_shape,trans_a,trans_b,logical",
    [
        ((2, 3), (4, 5), False, False, "a is (2, 3) and b is (4, 5); size 3 is different from 4"),
        ((3, 2), (4, 5), True, False, "a.T is (2, 3) and b is (4, 5); size 3 is different from 4"),
        ((2, 3), (5, 4), False, True, "a is (2, 3) and b.T is (4, 5); size 3 is different from 4"),
        ((3, 2), (5, 4), True, True, "a.T is (2, 3) and b.T is (4, 5); size 3 is different from 4"),
        ((2, 3), (2, 3), False, False, "a is (2, 3) and b is (2, 3); size 3 is different from 2"),
        ((0, 3), (0, 4), False, False, "a is (0, 3) and b is (0, 4); size 3 is different from 0"),
    ],
)
def test_matmul_rejects_inner_sizes_that_differ(a_shape, b_shape, trans_a, trans_b, logical):
    with pytest.raises(
        ValueError, match=message(f"matmul: shapes {a_shape} and {b_shape} do not fit", logical)
    ):
        matmul(np.ones(a_shape, F64), np.ones(b_shape, F64), trans_a=trans_a, trans_b=trans_b)


def test_matmul_transposes_are_keyword_only():
    a, b = good_args("matmul")
    with pytest.raises(TypeError):
        matmul(a, b, None, True)


# ------------------------------------------------------------------- out=
# Every kernel that takes `out`, called with good float32 arguments: the
# out= policy is one rule in the bindings and is checked here for all of them.

_X = np.full((2, 3), 0.5, F32)
# The kernels above that take out, then the others.
CORE_OUT_KERNELS = list(OUT_SHAPES)


def core_out_call(name):
    return lambda out: KERNELS[name](*good_args(name), out=out)


OUT_CALLS = {
    **{name: core_out_call(name) for name in CORE_OUT_KERNELS},
    "softmax": lambda out: denseops.softmax(_X, out=out),
    "softmax_backward": lambda out: denseops.softmax_backward(_X, _X.copy(), out=out),
    "activation": lambda out: denseops.activation(_X, "tanh", out=out),
    "activation_backward": lambda out: denseops.activation_backward(_X, _X, "tanh", out=out),
    "dropout": lambda out: denseops.dropout(_X, 0.5, seed=1, counter=1, out=out),
    "link_activation": lambda out: denseops.link_activation(_X, "softmax", out=out),
}
OUT_SHAPES = {**OUT_SHAPES, **{name: (2, 3) for name in OUT_CALLS if name not in OUT_SHAPES}}
OUT_KERNELS = list(OUT_CALLS)


def test_every_kernel_taking_out_is_in_the_out_tests():
    import inspect

    takes_out = {
        name
        for name in denseops.__all__
        if callable(getattr(denseops._kernels, name, None))
        and "out" in inspect.signature(getattr(denseops, name)).parameters
    }
    assert takes_out == set(OUT_CALLS)


@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_rejects_non_ndarray(name):
    with pytest.raises(
        TypeError, match=message(f"{name}: out must be a numpy.ndarray or None", "got list")
    ):
        OUT_CALLS[name](np.zeros(OUT_SHAPES[name]).tolist())


# float64 for float32 inputs (another precision), >f4 (the right one in another byte order)
@pytest.mark.parametrize("out_dtype", [F64, np.int32, np.float16, ">f4"], ids=dtype_id)
@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_rejects_wrong_dtype(name, out_dtype):
    out = np.zeros(OUT_SHAPES[name], out_dtype)
    with pytest.raises(
        TypeError,
        match=message(f"{name}: out must have dtype float32", f"got {np.dtype(out_dtype)}"),
    ):
        OUT_CALLS[name](out)


@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_rejects_wrong_shape(name):
    expected = OUT_SHAPES[name]
    for wrong in [expected[::-1] + (1,), (7,), (), tuple(s + 1 for s in expected)]:
        with pytest.raises(
            ValueError,
            match=message(f"{name}: out has shape {wrong}", f"the result has shape {expected}"),
        ):
            OUT_CALLS[name](np.zeros(wrong, F32))


@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_rejects_non_contiguous(name):
    shape = OUT_SHAPES[name]
    strided = np.zeros(tuple(2 * s for s in shape), F32)[tuple(slice(None, None, 2) for _ in shape)]
    reversed_ = np.zeros(shape, F32)[tuple(slice(None, None, -1) for _ in shape)]
    for out in (strided, reversed_):
        with pytest.raises(
            ValueError,
            match=message(f"{name}: out must be C-contiguous", f"got strides {out.strides}"),
        ):
            OUT_CALLS[name](out)


def test_out_rejects_fortran_order():
    out = np.zeros((2, 4), F32, order="F")
    with pytest.raises(ValueError, match=message("matmul: out must be C-contiguous")):
        matmul(*good_args("matmul"), out=out)


@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_rejects_read_only(name):
    out = np.zeros(OUT_SHAPES[name], F32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=message(f"{name}: out is read-only")):
        OUT_CALLS[name](out)
    np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("shape", [(2, 3), (3,)])
def test_broadcast_out_is_refused_as_read_only_and_its_source_is_untouched(shape):
    source = np.zeros(shape[-1:], F32)
    out = np.broadcast_to(source, shape)
    x = np.ones(shape, F32)
    with pytest.raises(
        ValueError,
        match=message(
            "relu: out is read-only", "np.broadcast_to", f"numpy.empty({shape}, float32)"
        ),
    ):
        relu(x, out=out)
    np.testing.assert_array_equal(source, 0)


def test_writable_zero_stride_out_is_refused_as_non_contiguous():
    # as_strided can make a writable array whose rows are all the same memory;
    # writing the result there would keep only the last row.
    source = np.zeros(3, F32)
    out = np.lib.stride_tricks.as_strided(source, shape=(4, 3), strides=(0, 4))
    with pytest.raises(
        ValueError, match=message("add: out must be C-contiguous", "got strides (0, 4)")
    ):
        add(np.ones((4, 3), F32), np.ones(3, F32), out=out)
    np.testing.assert_array_equal(source, 0)


@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_rejects_unaligned(name):
    out = unaligned(np.zeros(OUT_SHAPES[name], F32))
    with pytest.raises(
        ValueError, match=message(f"{name}: out must be aligned to its", "got an unaligned view")
    ):
        OUT_CALLS[name](out)
    np.testing.assert_array_equal(out, 0)


def test_out_with_odd_strides_on_size_one_axes_is_contiguous_and_filled(rng, dtype):
    # Strides of length-1 axes never matter: NumPy calls such arrays
    # C-contiguous, and so does denseops.
    out = np.zeros((5, 3), dtype)[::4][:1]
    assert out.strides[0] != 3 * out.itemsize and out.flags.c_contiguous
    x = random_array(rng, (1, 3), dtype)
    assert relu(x, out=out) is out
    assert_close(out, reference.relu(x), k=0)


def test_dot_takes_no_out():
    with pytest.raises(TypeError):
        dot(*good_args("dot"), out=np.zeros((), F32))


# ---------------------------------------------------- failures change nothing


@pytest.mark.parametrize("name", CORE_OUT_KERNELS)
def test_rejected_call_leaves_out_untouched(name):
    # A bad second argument (or a bad shape) is found before anything is written.
    out = np.full(OUT_SHAPES[name], 7.0, F32)
    args = good_args(name)
    args[-1] = args[-1].astype(F64) if len(args) > 1 else np.ones((2, 3), np.int64)
    with pytest.raises(TypeError):
        KERNELS[name](*args, out=out)
    np.testing.assert_array_equal(out, 7.0)


# ---- calls that do not fit the signature: which argument, never the arrays

BIG = np.arange(10_000, dtype=F64).reshape(100, 100)  # its repr would be pages long


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: denseops.matmul(BIG), r"^matmul\(\) missing 1 required positional argument: 'b'$"),
        (
            lambda: denseops.sgd_update(BIG, BIG),
            r"^sgd_update\(\) missing 1 required keyword-only argument: 'learning_rate'$",
        ),
        (
            lambda: denseops.rmsprop_update(BIG, BIG, BIG, learning_rate=0.1, rho=0.9),
            r"^rmsprop_update\(\) missing 1 required keyword-only argument: 'epsilon'$",
        ),
        (
            lambda: denseops.add(BIG, BIG, BIG, BIG),
            r"^add\(\) takes from 2 to 3 positional arguments but 4 were given$",
        ),
        (lambda: denseops.relu(BIG, output=BIG), r"^relu\(\) got an unexpected keyword argument"),
        (
            lambda: denseops.sgd_update(BIG, BIG, learning_rate="fast"),
            r"^sgd_update\(\): learning_rate must be float, got str$",
        ),
        (
            lambda: denseops.matmul(BIG, BIG, trans_a=1),
            r"^matmul\(\): trans_a must be bool, got int$",
        ),
    ],
    ids=[
        "missing-positional",
        "missing-keyword",
        "missing-last-keyword",
        "too-many",
        "unknown-keyword",
        "wrong-scalar-type",
        "int-for-bool",
    ],
)
def test_a_call_that_does_not_fit_the_signature_names_the_argument_not_the_arrays(call, message):
    with pytest.raises(TypeError, match=message) as raised:
        call()
    assert "array(" not in str(raised.value) and "Invoked with" not in str(raised.value)


def test_every_exported_kernel_keeps_its_documented_signature():
    import inspect

    for name in denseops.__all__:
        if name in ("__version__", "show_config", "local_threads"):  # Python, not kernels
            continue
        function = getattr(denseops, name)
        documented = function.__doc__.splitlines()[0]
        assert f"{name}{inspect.signature(function)}" == documented
        assert getattr(denseops._kernels, name).__doc__ == function.__doc__


def _documented(first_line):
    def function():
        pass

    function.__name__, function.__doc__ = first_line.split("(")[0], first_line + "\n\nMore."
    return function


def test_documented_signatures_are_read_as_data_with_literal_defaults_only():
    from denseops.argument_errors import parameters_from_docstring

    assert parameters_from_docstring(_documented("f(a, b=None, *, c=-1.5e-3, d='x', e=True)")) == (
        ["a", "b"],
        ["c", "d", "e"],
        "a, b=None, *, c=-1.5e-3, d='x', e=True",
    )
    for bad in ["f(a, b=os.system('x'))", "f(*args)", "f(a, **kw)", "f(a, *, *, b)", "f(a, /)"]:
        with pytest.raises(ValueError, match="literal defaults"):
            parameters_from_docstring(_documented(bad))
    with pytest.raises(ValueError, match="does not start with its signature"):
        parameters_from_docstring(_documented("g"))
