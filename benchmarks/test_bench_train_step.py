"""One training step of the MNIST MLP (forward + backward + RMSprop update on a
batch of 128, float32): denseops vs plain NumPy vs PyTorch, 1 and 2 threads.

Whole epochs, each framework in its own process: benchmarks/train_epoch.py.
"""

import numpy as np
import pytest
from bench_params import THREAD_COUNTS
from denseops import bench_cases
from denseops.bench_threads import thread_limit
from denseops.mnist_mlp import CLASSES, INPUTS

BATCH = 128


def _batch():
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, INPUTS), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=BATCH).astype(np.uint8)
    return x, y


def _denseops_step():
    from denseops.mnist_mlp import compiled_mlp

    model, (x, y) = compiled_mlp(seed=0), _batch()
    return lambda: model.train_step(x, y)


def _numpy_step():
    from numpy_mlp import NumpyMLP

    model, (x, y) = NumpyMLP(), _batch()
    return lambda: model.train_step(x, y)


def _torch_step():
    from torch_mlp import TorchMLP, to_tensors

    model, (x, y) = TorchMLP(), to_tensors(*_batch())
    return lambda: model.train_step(x, y)


STEPS = {"numpy": _numpy_step, "denseops": _denseops_step, "torch": _torch_step}


def _skip_reason(framework):
    if framework == "torch" and not bench_cases.torch_available():
        return "torch is not installed (pip install torch==2.13.0)"
    return None


PARAMS = [
    pytest.param(
        framework,
        threads,
        id=f"{threads}t-{framework}",
        marks=[pytest.mark.skip(reason=r)] if (r := _skip_reason(framework)) else [],
    )
    for threads in THREAD_COUNTS
    for framework in STEPS
]


@pytest.mark.parametrize(("framework", "threads"), PARAMS)
def test_train_step(benchmark, framework, threads):
    step = STEPS[framework]()  # may import torch: before the thread limit
    benchmark.group = f"train_step mlp 784-512-10 batch {BATCH} float32 {threads} thread(s)"
    benchmark.extra_info.update(implementation=framework, threads=threads, batch=BATCH)
    with thread_limit(threads):
        benchmark(step)
