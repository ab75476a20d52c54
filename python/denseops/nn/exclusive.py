"""One call at a time per object: a second concurrent call is an error, not a race.

``fit`` updates the weights, the optimizer state and the layers' scratch
buffers in place; two threads fitting one model at once would interleave
those updates and silently corrupt training. Waiting would hide the mistake,
so the second caller gets a RuntimeError instead. The lock is per object
(other models train in parallel undisturbed) and lives beside it in a
weak dictionary, so models stay picklable and copyable.
"""

import contextlib
import functools
import threading
import weakref

# object -> its threading.Lock
_locks: weakref.WeakKeyDictionary[object, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()  # held only to find or create an object's lock


def _lock_of(obj):
    with _locks_guard:
        lock = _locks.get(obj)
        if lock is None:
            lock = _locks[obj] = threading.Lock()
        return lock


def one_call_at_a_time(method):
    """Decorates a method so that it refuses to run while it already runs on the object."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        lock = _lock_of(self)
        if not lock.acquire(blocking=False):
            raise RuntimeError(
                f"{method.__name__}() is already running on this model (another thread, or "
                f"a call from inside {method.__name__}()); train one model from one thread "
                "at a time, or give each thread its own model"
            )
        try:
            return method(self, *args, **kwargs)
        finally:
            lock.release()

    return wrapper


@contextlib.contextmanager
def one_call_lock(obj, what):
    """The lock of ``one_call_at_a_time`` as a ``with`` block, for a call that
    needs it only in one of its modes (``model(x, training=True)``)."""
    lock = _lock_of(obj)
    if not lock.acquire(blocking=False):
        raise RuntimeError(
            f"{what} cannot run while fit() or train_step() runs on this model; give each "
            "thread its own model"
        )
    try:
        yield
    finally:
        lock.release()
