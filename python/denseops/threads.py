"""A thread count that belongs to one calling thread: ``local_threads``.

``set_num_threads`` sets the process default. A caller that wants another
count for its own work only (an estimator's ``n_threads``, one Dask task
among several in a worker) must not change that default: another thread
would then run at the wrong count, and restoring a saved global from two
threads at once leaves whichever value came last. ``local_threads`` sets a
count that the kernels called from the current thread read instead; other
threads and the process default never see it.
"""

import contextlib
import numbers

from denseops import _kernels


@contextlib.contextmanager
def local_threads(n):
    """Runs the ``with`` block's kernels on at most ``n`` threads, in this thread only.

    Args:
        n: an int >= 1, or None to leave the current count as it is.

    Inside the block ``get_num_threads()`` returns ``n`` in this thread;
    other threads keep theirs, and the process default (``set_num_threads``)
    is unchanged. Blocks nest; leaving one restores the count before it.

    Example:
        >>> import denseops
        >>> with denseops.local_threads(1):
        ...     denseops.get_num_threads()
        1
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):  # NumPy's integers pass
        raise TypeError(f"local_threads: n must be an int >= 1, got {type(n).__name__}")
    if not 1 <= n <= 1024:
        raise ValueError(f"local_threads: n must be between 1 and 1024, got {n}")
    previous = _kernels._set_thread_local_threads(int(n))
    try:
        yield
    finally:
        _kernels._set_thread_local_threads(previous)
