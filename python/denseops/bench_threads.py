"""Thread counts for a benchmark: every library on the same number of threads."""

import contextlib
import os
import sys

import denseops

# Each library sizes its pool from one of these when it starts, before any
# call can set it: a worker process gets them all.
POOL_SIZE_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threaded_environment(threads):
    """A copy of os.environ with every thread pool sized to `threads`."""
    return {**os.environ, **{var: str(threads) for var in POOL_SIZE_VARIABLES}}


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
