"""What the benchmarks time: operations, sizes and implementations.

One registry shared by `denseops bench` and the pytest-benchmark suite in
``benchmarks/``, so both time exactly the same calls on the same inputs.

Every implementation is a factory: given the inputs (built once, outside any
timed region) it returns a zero-argument callable that performs one call.
Every implementation allocates its result, as NumPy's operators do, so the
comparison is like for like.

Shapes are per operation:
    relu, add, bias_add, textbook   (rows, cols) of x
    dot                             (n,)
    matmul, matmul_ta, matmul_tb    (m, k, n): the product is (m, k) @ (k, n);
                                    matmul_ta stores a as (k, m) and computes
                                    a.T @ b, matmul_tb stores b as (n, k) and
                                    computes a @ b.T (the backward-pass forms).
"""

import contextlib
import importlib.util
import math
import sys
from dataclasses import dataclass

import numpy as np

import denseops
from denseops import _naive_cy, reference

IMPLEMENTATIONS = ("python loops", "cython", "numpy", "denseops", "torch")
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


def _elementwise(operation, tiers_shapes, dtypes):
    return [Case(operation, shape, dt, tier) for tier, shape in tiers_shapes for dt in dtypes]


def all_cases(dtypes=("float32", "float64")):
    """Every case of the ladder, tiny (the textbook's arrays) to large."""
    # Sizes about 4x apart in the default run, so each plotted series has
    # enough points to show where the cache levels and thread start-up bend it.
    elementwise_shapes = [
        ("tiny", (20, 100)),  # the textbook's arrays
        ("quick", (128, 512)),  # the MNIST MLP's hidden activations
        ("default", (512, 512)),
        ("default", (1000, 1000)),
        ("default", (2000, 2000)),
        ("large", (10000, 1000)),  # 1e7 elements: memory-bound
    ]
    cases = []
    for op in ("relu", "add", "bias_add"):
        cases += _elementwise(op, elementwise_shapes, dtypes)
    cases += _elementwise(
        "dot",
        [
            ("tiny", (1000,)),
            ("default", (30_000,)),
            ("tiny", (320000,)),
            ("default", (1_000_000,)),
            ("default", (4_000_000,)),
            ("large", (10_000_000,)),
        ],
        dtypes,
    )
    cases += _elementwise(
        "matmul",
        [
            ("tiny", (20, 100, 10)),
            ("quick", (128, 512, 10)),
            ("quick", (128, 784, 512)),
            ("default", (256, 256, 256)),
            ("default", (512, 512, 512)),
            ("default", (1024, 1024, 1024)),
            ("large", (2048, 2048, 2048)),
        ],
        dtypes,
    )
    # x.T @ dh and h.T @ dlogits (the MNIST weight gradients), then square.
    cases += _elementwise(
        "matmul_ta",
        [
            ("quick", (784, 128, 512)),
            ("quick", (512, 128, 10)),
            ("default", (256, 256, 256)),
            ("default", (512, 512, 512)),
            ("default", (1024, 1024, 1024)),
        ],
        dtypes,
    )
    # dlogits @ W2.T (the MNIST hidden gradient), then square.
    cases += _elementwise(
        "matmul_tb",
        [
            ("quick", (128, 10, 512)),
            ("default", (256, 256, 256)),
            ("default", (512, 512, 512)),
            ("default", (1024, 1024, 1024)),
        ],
        dtypes,
    )
    return cases


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


# ---------------------------------------------------------------- inputs


def make_inputs(case, seed=0):
    """The NumPy arrays one call of `case` reads, uniform in [-1, 1)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(case.dtype)

    def uniform(*shape):
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)

    op = case.operation
    if op in ("relu",):
        return (uniform(*case.shape),)
    if op in ("add", "textbook"):
        return uniform(*case.shape), uniform(*case.shape)
    if op == "bias_add":
        return uniform(*case.shape), uniform(case.shape[1])
    if op == "dot":
        return uniform(*case.shape), uniform(*case.shape)
    m, k, n = case.shape
    if op == "matmul":
        return uniform(m, k), uniform(k, n)
    if op == "matmul_ta":
        return uniform(k, m), uniform(k, n)
    if op == "matmul_tb":
        return uniform(m, k), uniform(n, k)
    raise ValueError(f"unknown operation {op!r}; expected one of {OPERATIONS}")


def _broadcast_rows(b, rows):
    # A (rows, cols) view of the bias with row stride 0: the loops read b[j]
    # for every row without a tiled copy. Writable so Cython's typed
    # memoryviews accept it; nothing writes through it.
    return np.lib.stride_tricks.as_strided(b, shape=(rows, b.shape[0]), strides=(0, b.strides[0]))


# ---------------------------------------------------------------- implementations
# Each factory returns a callable doing one call on prepared inputs.


def _loops(module, case, inputs):
    op = case.operation
    if op == "relu":
        (x,) = inputs
        return lambda: module.naive_relu(x)
    if op == "add":
        x, y = inputs
        return lambda: module.naive_add(x, y)
    if op == "bias_add":
        x, b = inputs
        bb = _broadcast_rows(b, x.shape[0])
        return lambda: module.naive_add(x, bb)
    if op == "dot":
        x, y = inputs
        return lambda: module.naive_vector_dot(x, y)
    if op == "textbook":
        x, y = inputs
        iterations = case.iterations

        def run():
            for _ in range(iterations):
                module.naive_relu(module.naive_add(x, y))

        return run
    a, b = inputs
    if op == "matmul_ta":
        a = a.T
    elif op == "matmul_tb":
        b = b.T
    return lambda: module.naive_matmul(a, b)


def _numpy(case, inputs):
    op = case.operation
    if op == "relu":
        (x,) = inputs
        return lambda: np.maximum(x, 0)
    if op in ("add", "bias_add"):
        x, y = inputs
        return lambda: x + y
    if op == "dot":
        x, y = inputs
        return lambda: np.dot(x, y)
    if op == "textbook":
        x, y = inputs
        iterations = case.iterations

        def run():
            for _ in range(iterations):
                np.maximum(x + y, 0)

        return run
    a, b = inputs
    if op == "matmul":
        return lambda: a @ b
    if op == "matmul_ta":
        return lambda: a.T @ b
    return lambda: a @ b.T


def _denseops(case, inputs):
    op = case.operation
    if op == "relu":
        (x,) = inputs
        return lambda: denseops.relu(x)
    if op in ("add", "bias_add"):
        x, y = inputs
        return lambda: denseops.add(x, y)
    if op == "dot":
        x, y = inputs
        return lambda: denseops.dot(x, y)
    if op == "textbook":
        x, y = inputs
        iterations = case.iterations

        def run():
            for _ in range(iterations):
                denseops.relu(denseops.add(x, y))

        return run
    a, b = inputs
    return lambda: denseops.matmul(a, b, trans_a=op == "matmul_ta", trans_b=op == "matmul_tb")


def _torch(case, inputs):
    import torch  # imported only when torch is timed (see torch_available)

    tensors = [torch.from_numpy(np.ascontiguousarray(x)) for x in inputs]
    op = case.operation
    if op == "relu":
        (x,) = tensors
        return lambda: torch.relu(x)
    if op in ("add", "bias_add"):
        x, y = tensors
        return lambda: x + y
    if op == "dot":
        x, y = tensors
        return lambda: torch.dot(x, y)
    if op == "textbook":
        x, y = tensors
        iterations = case.iterations

        def run():
            for _ in range(iterations):
                torch.relu(x + y)

        return run
    a, b = tensors
    if op == "matmul":
        return lambda: a @ b
    if op == "matmul_ta":
        return lambda: a.T @ b
    return lambda: a @ b.T


OPERATIONS = ("relu", "add", "bias_add", "dot", "matmul", "matmul_ta", "matmul_tb", "textbook")

_FACTORIES = {
    "python loops": lambda case, inputs: _loops(reference, case, inputs),
    "cython": lambda case, inputs: _loops(_naive_cy, case, inputs),
    "numpy": _numpy,
    "denseops": _denseops,
    "torch": _torch,
}


def make_call(case, impl, inputs):
    """A zero-argument callable doing one call of `case` with `impl`."""
    if impl not in _FACTORIES:
        raise ValueError(f"unknown implementation {impl!r}; expected one of {IMPLEMENTATIONS}")
    return _FACTORIES[impl](case, inputs)


# ---------------------------------------------------------------- threads


@contextlib.contextmanager
def thread_limit(threads):
    """Run denseops, NumPy's BLAS (via threadpoolctl) and torch on `threads` threads."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    previous = denseops.get_num_threads()
    denseops.set_num_threads(threads)
    torch = sys.modules.get("torch")  # only if someone already imported it
    torch_previous = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(threads)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # without it, BLAS keeps its own default
            yield
        else:
            with threadpool_limits(limits=threads, user_api="blas"):
                yield
    finally:
        denseops.set_num_threads(previous)
        if torch:
            torch.set_num_threads(torch_previous)
