"""Type stubs for the compiled kernels (csrc/bindings.cpp)."""

from typing import TypeVar

import numpy as np
import numpy.typing as npt

_Float = TypeVar("_Float", np.float32, np.float64)
_Array = npt.NDArray[_Float]

__version__: str

def relu(x: _Array, out: _Array | None = None) -> _Array: ...
def relu_backward(dout: _Array, y: _Array, out: _Array | None = None) -> _Array: ...
def add(x: _Array, y: _Array, out: _Array | None = None) -> _Array: ...
def dot(x: _Array, y: _Array) -> float: ...
def column_sums(x: _Array, out: _Array | None = None) -> _Array: ...
def matmul(
    a: _Array,
    b: _Array,
    out: _Array | None = None,
    *,
    trans_a: bool = False,
    trans_b: bool = False,
    precision: str | None = None,
) -> _Array: ...
def softmax(x: _Array, out: _Array | None = None) -> _Array: ...
def softmax_backward(dout: _Array, y: _Array, out: _Array | None = None) -> _Array: ...
def sparse_softmax_cross_entropy(
    logits: _Array, labels: npt.NDArray[np.integer], dlogits: _Array | None = None
) -> tuple[float, int]: ...
def softmax_cross_entropy(
    logits: _Array, targets: _Array, dlogits: _Array | None = None
) -> tuple[float, int]: ...
def sgd_update(
    weights: _Array,
    grad: _Array,
    *,
    learning_rate: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    velocity: _Array | None = None,
) -> None: ...
def rmsprop_update(
    weights: _Array,
    grad: _Array,
    velocity: _Array,
    *,
    learning_rate: float,
    rho: float,
    epsilon: float,
) -> None: ...
def adam_update(
    weights: _Array,
    grad: _Array,
    m: _Array,
    v: _Array,
    *,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
) -> None: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def _set_thread_local_threads(n: int) -> int: ...
def set_arch(name: str) -> None: ...
def get_arch() -> str: ...
def _config() -> dict: ...
def _fma_probe(dtype: str, iterations: int, threads: int) -> float: ...
def activation(
    x: _Array,
    kind: str,
    *,
    bias: _Array | None = None,
    out: _Array | None = None,
    alpha: float = 0.0,
) -> _Array: ...
def activation_backward(
    dout: _Array,
    y: _Array,
    kind: str,
    *,
    z: _Array | None = None,
    out: _Array | None = None,
    alpha: float = 0.0,
) -> _Array: ...
def loss(
    pred: _Array,
    target: npt.NDArray,
    kind: str,
    *,
    from_logits: bool = False,
    sample_weight: _Array | None = None,
    grad: _Array | None = None,
    delta: float = 1.0,
) -> float: ...
def metric(
    pred: _Array,
    target: npt.NDArray,
    kind: str,
    *,
    sample_weight: _Array | None = None,
    threshold: float = 0.5,
    k: int = 5,
) -> float: ...
def dropout(
    x: _Array, rate: float, *, seed: int, counter: int, out: _Array | None = None
) -> _Array: ...
def weight_penalty(
    weights: _Array, grad: _Array | None = None, *, l1: float = 0.0, l2: float = 0.0
) -> float: ...
def link_activation(z: _Array, link: str, out: _Array | None = None) -> _Array: ...
def link_loss(
    z: _Array,
    targets: _Array,
    link: str,
    dz: _Array | None = None,
    sample_weight: _Array | None = None,
) -> float: ...
def axpy(alpha: float, x: _Array, y: _Array) -> None: ...
def _gemm_naive(
    a: _Array, b: _Array, *, trans_a: bool = False, trans_b: bool = False
) -> _Array: ...
def adagrad_update(
    weights: _Array,
    grad: _Array,
    accumulator: _Array,
    *,
    learning_rate: float,
    epsilon: float,
) -> None: ...
def adamax_update(
    weights: _Array,
    grad: _Array,
    m: _Array,
    u: _Array,
    *,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
) -> None: ...
def nadam_update(
    weights: _Array,
    grad: _Array,
    m: _Array,
    v: _Array,
    *,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
) -> None: ...
def adamw_update(
    weights: _Array,
    grad: _Array,
    m: _Array,
    v: _Array,
    *,
    learning_rate: float,
    weight_decay: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
    v_hat: _Array | None = None,
) -> None: ...
def batch_normalization(
    x: _Array,
    gamma: _Array,
    beta: _Array,
    *,
    epsilon: float,
    mean: _Array | None = None,
    variance: _Array | None = None,
) -> tuple[_Array, _Array, _Array]: ...
def batch_normalization_backward(
    dout: _Array, x: _Array, gamma: _Array, mean: _Array, variance: _Array, *, epsilon: float
) -> tuple[_Array, _Array, _Array]: ...
def layer_normalization(
    x: _Array, gamma: _Array, beta: _Array, *, epsilon: float
) -> tuple[_Array, _Array, _Array]: ...
def layer_normalization_backward(
    dout: _Array, x: _Array, gamma: _Array, mean: _Array, variance: _Array, *, epsilon: float
) -> tuple[_Array, _Array, _Array]: ...
def _network_forward(
    x: _Array,
    layers: list[tuple[_Array, _Array | None, str, float]],
    *,
    chunk: int = 1024,
) -> _Array: ...
