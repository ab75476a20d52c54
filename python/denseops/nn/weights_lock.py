"""Reads of a model's weights against in-place writes to them.

Inference (``predict``, ``evaluate``, ``model(x)``) reads the weights; the
optimizer step, ``set_weights`` and ``load_weights`` overwrite them in place.
The kernels release the GIL, so without a guard a prediction could run half
on the old weights and half on the new. Any number of readers may run at
once; a write waits until they are done and keeps new readers out until it
is over, so each call sees the weights as they were between two updates.
Writers go first (a waiting write holds back new readers), so a stream of
predictions cannot stall training; a training step holds the lock only for
its update, not for its forward and backward passes.

A thread may read inside its own read (a ``predict`` callback calling
``predict``); a write from a thread that is reading would wait for itself, so
it is refused with a RuntimeError instead.

The lock lives beside the model in a weak dictionary (as ``exclusive`` does),
so models stay picklable and copyable.
"""

import contextlib
import threading
import weakref


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes before new readers."""

    def __init__(self):
        # The condition's own lock, taken directly on the read path (a C-level
        # `with`, cheaper than Condition.__enter__); wait() releases it alike.
        self._mutex = threading.Lock()
        self._condition = threading.Condition(self._mutex)
        self._readers = {}  # thread id -> how deep its reads are nested
        self._writing = False
        self._writers_waiting = 0

    def reading(self):
        """A context manager: the weights stay as they are until it exits."""
        return _Reading(self)

    def _enter_read(self):
        me = threading.get_ident()
        with self._mutex:
            if me not in self._readers:  # a nested read never waits (no self-deadlock)
                while self._writing or self._writers_waiting:
                    self._condition.wait()
            self._readers[me] = self._readers.get(me, 0) + 1

    def _exit_read(self):
        me = threading.get_ident()
        with self._mutex:
            depth = self._readers.pop(me) - 1
            if depth:
                self._readers[me] = depth
            elif not self._readers:
                self._condition.notify_all()

    @contextlib.contextmanager
    def writing(self, what):
        with self._condition:
            if threading.get_ident() in self._readers:
                raise RuntimeError(
                    f"{what} cannot change the weights while this thread is reading them "
                    "(from inside predict or evaluate, e.g. in one of their callbacks)"
                )
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


class _Reading:
    """``ReadWriteLock.reading()`` as a plain class rather than a generator:
    predict enters it on every call, and a generator-based context manager
    costs about twice as much (~1 us more per call, measured)."""

    __slots__ = ("_lock",)

    def __init__(self, lock):
        self._lock = lock

    def __enter__(self):
        self._lock._enter_read()

    def __exit__(self, *exc_info):
        self._lock._exit_read()


_locks: weakref.WeakKeyDictionary[object, ReadWriteLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()  # held only to find or create a model's lock


def weights_lock(model):
    """The model's ReadWriteLock, created on first use."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = ReadWriteLock()
        return lock
