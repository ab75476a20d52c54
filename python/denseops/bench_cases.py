"""What the benchmarks time: operations, sizes and implementations.

One table shared by `denseops bench`, `denseops demo`, the pytest-benchmark
suite and ``benchmarks/targets.py``, so all time exactly the same calls on the
same inputs: SIZES (operation -> tier and shape), INPUT_SHAPES (operation ->
the arrays it reads) and KITS (implementation -> what it calls for each
operation). `make_call` turns a case, an implementation and inputs built once
outside any timed region into a zero-argument callable doing one call. Every
implementation allocates its result, as NumPy's operators do, so the
comparison is like for like.

Shapes are per operation:
    relu, add, bias_add, textbook   (rows, cols) of x
    dot                             (n,)
    matmul, matmul_ta, matmul_tb    (m, k, n): the product is (m, k) @ (k, n);
                                    matmul_ta stores a as (k, m) and computes
                                    a.T @ b, matmul_tb stores b as (n, k) and
                                    computes a @ b.T (the backward-pass forms).
"""

import importlib.util
import math
from dataclasses import dataclass

import numpy as np

import denseops
from denseops import _naive_cy, reference

SINGLE_THREADED = ("python loops", "cython")  # timed once, with 1 thread

# Textbook loops cost ~0.3-0.6 us per element on the project's machine, so
# 1.5e6 inner iterations keep one call under ~1 s; bigger cases are skipped.
PYTHON_LOOPS_MAX_WORK = 1.5e6
# Cython's naive matmul walks b by columns: ~2-5 ns per multiply-add, so
# 1.5e8 keeps one call under ~1 s (512^3 and the MNIST shapes, not 1024^3).
CYTHON_MAX_WORK = 1.5e8

TEXTBOOK_ITERATIONS = 1000  # the textbook's loop count for relu(add(x, y))

TIERS = ("tiny", "quick", "default", "large")


@dataclass(frozen=True)
class Case:
    """One operation at one shape and dtype."""

    operation: str
    shape: tuple
    dtype: str
    tier: str  # the smallest run that includes it: tiny < quick < default < large
    iterations: int = 1  # only the textbook case repeats its body

    @property
    def work(self) -> int:
        """Inner-loop iterations of the textbook version of one call."""
        if self.operation.startswith("matmul"):
            m, k, n = self.shape
            return m * k * n
        elements = math.prod(self.shape)
        return 2 * elements * self.iterations if self.operation == "textbook" else elements

    @property
    def flops(self):
        """Floating-point operations of one matmul call (None for the others)."""
        return 2 * self.work if self.operation.startswith("matmul") else None

    @property
    def size_label(self) -> str:
        if self.operation.startswith("matmul"):
            return "x".join(str(d) for d in self.shape)
        if self.operation == "textbook":
            return f"{self.iterations}x{self.shape}"
        return str(self.shape)

    def __str__(self) -> str:
        return f"{self.operation}-{self.size_label}-{self.dtype}".replace(" ", "")


# operation -> (tier, shape) of each size. Sizes about 4x apart in the default
# run, so each plotted series has enough points to show where the cache levels
# and thread start-up bend it.
_ELEMENTWISE_SIZES = (
    ("tiny", (20, 100)),  # the textbook's arrays
    ("quick", (128, 512)),  # the MNIST MLP's hidden activations
    ("default", (512, 512)),
    ("default", (1000, 1000)),
    ("default", (2000, 2000)),
    ("large", (10000, 1000)),  # 1e7 elements: memory-bound
)
_SQUARE_SIZES = (("default", (256,) * 3), ("default", (512,) * 3), ("default", (1024,) * 3))
SIZES = {
    "relu": _ELEMENTWISE_SIZES,
    "add": _ELEMENTWISE_SIZES,
    "bias_add": _ELEMENTWISE_SIZES,
    "dot": (
        ("tiny", (1000,)),
        ("default", (30_000,)),
        ("tiny", (320000,)),  # the textbook's long vectors
        ("default", (1_000_000,)),
        ("default", (4_000_000,)),
        ("large", (10_000_000,)),
    ),
    # x @ W1 and h @ W2 of the MNIST MLP (batch 128), then square.
    "matmul": (
        ("tiny", (20, 100, 10)),
        ("quick", (128, 512, 10)),
        ("quick", (128, 784, 512)),
        *_SQUARE_SIZES,
        ("large", (2048, 2048, 2048)),
    ),
    # x.T @ dh and h.T @ dlogits (the MNIST weight gradients), then square.
    "matmul_ta": (("quick", (784, 128, 512)), ("quick", (512, 128, 10)), *_SQUARE_SIZES),
    # dlogits @ W2.T (the MNIST hidden gradient), then square.
    "matmul_tb": (("quick", (128, 10, 512)), *_SQUARE_SIZES),
}


def all_cases(dtypes=("float32", "float64")):
    """Every case of the ladder, tiny (the textbook's arrays) to large."""
    return [
        Case(operation, shape, dtype, tier)
        for operation, sizes in SIZES.items()
        for tier, shape in sizes
        for dtype in dtypes
    ]


def textbook_cases():
    """The textbook's demonstration: 1000 x relu(add(x, y)) and the long dot."""
    return [
        Case("textbook", (20, 100), "float64", "tiny", iterations=TEXTBOOK_ITERATIONS),
        Case("dot", (320000,), "float64", "tiny"),
    ]


def select(cases, tier):
    """The cases that a run of the given tier includes."""
    limit = TIERS.index(tier)
    return [c for c in cases if TIERS.index(c.tier) <= limit]


def torch_available() -> bool:
    # find_spec does not import torch: importing it loads a second OpenMP
    # runtime and MKL, which can slow NumPy's small matmuls in this process.
    return importlib.util.find_spec("torch") is not None


def skip_reason(case, impl):
    """Why `impl` is not timed on `case`, or None when it is."""
    if (
        impl == "python loops"
        and case.operation != "textbook"
        and case.work > PYTHON_LOOPS_MAX_WORK
    ):
        return f"python loops: {case.work:.1e} iterations would take over ~1 s per call"
    if impl == "cython" and case.work > CYTHON_MAX_WORK:
        return f"cython loops: {case.work:.1e} iterations would take over ~1 s per call"
    if impl == "torch" and not torch_available():
        return "torch is not installed (pip install torch==2.13.0)"
    return None


# ---------------------------------------------------------------- the call table
# Per implementation, how each operation binds its inputs (built outside the
# timed region) into the zero-argument callable that is timed: one lambda
# around the bare call, the same shape of harness for every implementation,
# so none pays more Python overhead per call than another.


@dataclass(frozen=True)
class Kit:
    """One implementation's binders: each takes arrays, returns the timed callable."""

    relu: object  # relu(x)
    add: object  # add(x, y), y of x's shape or a (cols,) bias
    dot: object  # dot(x, y) of two vectors
    matmul: object  # matmul(a, b, trans_a, trans_b): a.T / b.T in the product if set
    textbook: object  # textbook(x, y, iterations): the loop of relu(add(x, y))
    step: object  # step(x, y): one relu(add(x, y)), no loop (a textbook case of 1 iteration)
    # True: a bias is passed as a (rows, cols) view of row stride 0 (the loops index it 2-D).
    broadcasts_bias: bool = False
    convert: object = None  # array -> what the calls take (torch: a tensor)


def _transposed(a, b, trans_a, trans_b):
    # The transposes are views made once, outside the timed call.
    return (a.T if trans_a else a), (b.T if trans_b else b)


# The textbook loops differ only in what they call; each is written out, as
# its reader would write it, so no implementation pays an extra call per
# iteration (one call of the case is the whole loop).
def _loops_textbook(module, x, y, iterations):
    for _ in range(iterations):
        module.naive_relu(module.naive_add(x, y))


def _numpy_textbook(x, y, iterations):
    for _ in range(iterations):
        np.maximum(x + y, 0)


def _denseops_textbook(x, y, iterations):
    for _ in range(iterations):
        denseops.relu(denseops.add(x, y))


def _torch_textbook(x, y, iterations):
    import torch

    for _ in range(iterations):
        torch.relu(x + y)


def _loops_kit(module):
    def matmul(a, b, trans_a, trans_b):
        a, b = _transposed(a, b, trans_a, trans_b)
        return lambda: module.naive_matmul(a, b)

    return Kit(
        relu=lambda x: lambda: module.naive_relu(x),
        add=lambda x, y: lambda: module.naive_add(x, y),
        dot=lambda x, y: lambda: module.naive_vector_dot(x, y),
        matmul=matmul,
        textbook=lambda x, y, n: lambda: _loops_textbook(module, x, y, n),
        step=lambda x, y: lambda: module.naive_relu(module.naive_add(x, y)),
        broadcasts_bias=True,
    )


def _numpy_kit():
    def matmul(a, b, trans_a, trans_b):
        a, b = _transposed(a, b, trans_a, trans_b)
        return lambda: a @ b

    return Kit(
        relu=lambda x: lambda: np.maximum(x, 0),
        add=lambda x, y: lambda: x + y,
        dot=lambda x, y: lambda: np.dot(x, y),
        matmul=matmul,
        textbook=lambda x, y, n: lambda: _numpy_textbook(x, y, n),
        step=lambda x, y: lambda: np.maximum(x + y, 0),
    )


def _denseops_kit():
    def matmul(a, b, trans_a, trans_b):
        return lambda: denseops.matmul(a, b, trans_a=trans_a, trans_b=trans_b)

    return Kit(
        relu=lambda x: lambda: denseops.relu(x),
        add=lambda x, y: lambda: denseops.add(x, y),
        dot=lambda x, y: lambda: denseops.dot(x, y),
        matmul=matmul,
        textbook=lambda x, y, n: lambda: _denseops_textbook(x, y, n),
        step=lambda x, y: lambda: denseops.relu(denseops.add(x, y)),
    )


def _torch_kit():
    import torch  # imported only when torch is timed (see torch_available)

    numpy = _numpy_kit()  # tensors take NumPy's operators
    return Kit(
        relu=lambda x: lambda: torch.relu(x),
        add=numpy.add,
        dot=lambda x, y: lambda: torch.dot(x, y),
        matmul=numpy.matmul,
        textbook=lambda x, y, n: lambda: _torch_textbook(x, y, n),
        step=lambda x, y: lambda: torch.relu(x + y),
        convert=lambda x: torch.from_numpy(np.ascontiguousarray(x)),
    )


KITS = {
    "python loops": lambda: _loops_kit(reference),
    "cython": lambda: _loops_kit(_naive_cy),
    "numpy": _numpy_kit,
    "denseops": _denseops_kit,
    "torch": _torch_kit,
}
IMPLEMENTATIONS = tuple(KITS)  # the ladder, slowest rung first

OPERATIONS = ("relu", "add", "bias_add", "dot", "matmul", "matmul_ta", "matmul_tb", "textbook")

# operation -> the shapes of its inputs, from the case's shape (see the module docstring).
INPUT_SHAPES = {
    "relu": lambda s: [s],
    "add": lambda s: [s, s],
    "bias_add": lambda s: [s, s[1:]],
    "dot": lambda s: [s, s],
    "matmul": lambda s: [(s[0], s[1]), (s[1], s[2])],
    "matmul_ta": lambda s: [(s[1], s[0]), (s[1], s[2])],
    "matmul_tb": lambda s: [(s[0], s[1]), (s[2], s[1])],
    "textbook": lambda s: [s, s],
}


def make_inputs(case, seed=0):
    """The NumPy arrays one call of `case` reads, uniform in [-1, 1)."""
    if case.operation not in INPUT_SHAPES:
        raise ValueError(f"unknown operation {case.operation!r}; expected one of {OPERATIONS}")
    rng = np.random.default_rng(seed)
    dtype = np.dtype(case.dtype)
    return tuple(
        rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
        for shape in INPUT_SHAPES[case.operation](case.shape)
    )


def _broadcast_rows(b, rows):
    # A (rows, cols) view of the bias with row stride 0: the loops read b[j]
    # for every row without a tiled copy. Writable so Cython's typed
    # memoryviews accept it; nothing writes through it.
    return np.lib.stride_tricks.as_strided(b, shape=(rows, b.shape[0]), strides=(0, b.strides[0]))


def make_call(case, impl, inputs):
    """A zero-argument callable doing one call of `case` with `impl`."""
    if impl not in KITS:
        raise ValueError(f"unknown implementation {impl!r}; expected one of {IMPLEMENTATIONS}")
    kit = KITS[impl]()
    op = case.operation
    if op == "bias_add" and kit.broadcasts_bias:
        inputs = (inputs[0], _broadcast_rows(inputs[1], inputs[0].shape[0]))
    if kit.convert is not None:
        inputs = tuple(kit.convert(x) for x in inputs)
    if op == "textbook" and case.iterations == 1:
        return kit.step(*inputs)
    if op == "textbook":
        return kit.textbook(*inputs, case.iterations)
    if op.startswith("matmul"):
        return kit.matmul(*inputs, trans_a=op == "matmul_ta", trans_b=op == "matmul_tb")
    return {"relu": kit.relu, "add": kit.add, "bias_add": kit.add, "dot": kit.dot}[op](*inputs)
