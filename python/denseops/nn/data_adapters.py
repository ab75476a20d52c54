"""Where the batches of ``fit``, ``evaluate`` and ``predict`` come from.

Three kinds of data, as Keras takes them:

* NumPy arrays, held in memory, or memory-mapped (``np.memmap``,
  ``np.load(path, mmap_mode="r")``): those are read batch by batch and never
  copied whole, so a data set larger than memory trains;
* a Python generator (or any iterator) yielding ``(x, y)`` or
  ``(x, y, sample_weight)`` batches (``x`` alone, or ``(x,)``, for predict);
* a ``PyDataset``: ``len(dataset)`` batches, ``dataset[i]`` the i-th, and
  ``on_epoch_end()`` called after each epoch (Keras's own
  ``keras.utils.PyDataset`` objects work too: the same three methods).

An adapter yields raw batches; the model checks and converts each one (the
same checks as for whole arrays), so what reaches the kernels is always a
C-contiguous array of the model's dtype.
"""

import warnings

import numpy as np

# Rows per chunk of predict/evaluate when batch_size is None: large enough for
# the GEMM to run at full speed, small enough that the layers' buffers stay a
# few MB (1024 x 512 float32 = 2 MB).
INFERENCE_BATCH = 1024


class PyDataset:
    """Base class of a data set served batch by batch, as ``keras.utils.PyDataset``.

    Subclasses implement ``__len__`` (batches per epoch) and
    ``__getitem__(index)`` (a batch ``(x, y)`` or ``(x, y, sample_weight)``),
    and may override ``on_epoch_end``.

    Args:
        workers: Keras's parallel loading option; accepted, and batches are
            read in the calling thread (the kernels are the parallel part).
        use_multiprocessing: accepted likewise.
        max_queue_size: accepted likewise.

    Example:
        >>> import numpy as np
        >>> class Squares(PyDataset):
        ...     def __len__(self):
        ...         return 3
        ...     def __getitem__(self, i):
        ...         x = np.full((4, 1), float(i), np.float32)
        ...         return x, x**2
        >>> x, y = Squares()[2]
        >>> len(Squares()), float(y[0, 0])
        (3, 4.0)
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


def is_py_dataset(data):
    """A PyDataset, ours or Keras's (anything with __len__, __getitem__ and on_epoch_end)."""
    return isinstance(data, PyDataset) or (
        not isinstance(data, np.ndarray)
        and all(hasattr(data, name) for name in ("__len__", "__getitem__", "on_epoch_end"))
    )


def is_iterator(data):
    """A generator or other one-pass iterator of batches."""
    return hasattr(data, "__next__") and hasattr(data, "__iter__")


def is_stream(data):
    """Batches come from ``data`` one at a time (not one array)."""
    return is_py_dataset(data) or is_iterator(data)


def is_memory_mapped(array):
    """Whether reading ``array`` whole would pull a file into memory."""
    return isinstance(array, np.memmap)


def unpack(batch, what):
    """``(x, y, sample_weight)`` from a batch a stream yielded (y, weight may be None)."""
    if isinstance(batch, np.ndarray):
        return batch, None, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 3:
        return (*batch, *(None,) * (3 - len(batch)))
    raise ValueError(
        f"{what} must yield x, (x,), (x, y) or (x, y, sample_weight) batches. "
        f"Received: {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


class StreamBatches:
    """The raw batches of one epoch of a generator or PyDataset.

    Args:
        data: the generator or PyDataset.
        steps: batches per epoch; None: a PyDataset's length, or a
            generator until it ends (it then has nothing for later epochs).
        what: how errors name the data ("x", "validation_data").
        training: warn when a generator runs dry (fit then stops, as
            Keras's does); evaluate and predict just end there.
    """

    def __init__(self, data, steps, what, training=False):
        self.data = data
        self.training = training
        self.dataset = is_py_dataset(data)
        self.steps = steps if steps is not None else (len(data) if self.dataset else None)
        self.what = what
        self.exhausted = False  # a generator that ran dry (fit then stops, as Keras)

    def epoch(self, order=None):
        """Yields ``(x, y, sample_weight)`` for each batch of one epoch; a PyDataset's
        batches in ``order`` (a permutation of its indices) when given."""
        if self.dataset:
            self.data.on_epoch_begin()
            for index in range(self.steps) if order is None else order:
                yield unpack(self.data[int(index)], self.what)
            self.data.on_epoch_end()
            return
        taken = 0
        while self.steps is None or taken < self.steps:
            try:
                batch = next(self.data)
            except StopIteration:
                if self.training and (self.steps is not None or taken == 0):
                    self.exhausted = True
                    warnings.warn(
                        f"{self.what} ran out of data after {taken} batch(es) of this epoch; "
                        "training stops here. Pass a generator that loops forever (with "
                        "steps_per_epoch), or a PyDataset",
                        UserWarning,
                        stacklevel=4,
                    )
                return
            taken += 1
            yield unpack(batch, self.what)


def array_chunks(x, size):
    """Row blocks of ``x`` of at most ``size`` rows (a memory map is read block by block)."""
    for start in range(0, len(x), size):
        yield start, x[start : start + size]
