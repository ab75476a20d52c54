"""Data sets as Keras loads them: ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

Each module (``mnist``, ``fashion_mnist``) has ``load_data(path=None)``. The
files are looked for in ``path`` if given, else in ``$DENSEOPS_DATA`` if set,
else in ``~/.cache/denseops/<name>/`` (``$XDG_CACHE_HOME`` respected), and
are then downloaded into that cache. ``path`` and ``$DENSEOPS_DATA`` may name
a folder holding the four IDX files (raw or ``.gz``) or ``<name>.npz``, or a
data root holding ``<name>/`` with them; ``path`` may also be a ``.npz`` file.
Either one, when given, is the only place searched. Relative paths are taken
from the current working directory. Every file's structure is checked, and
its SHA-256 as each ``load_data`` says::

    >>> from denseops.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))

``load_data`` raises ``DataNotFoundError`` (a FileNotFoundError) when no data
is found and none can be downloaded, the message saying where to put the
files, and ValueError when a file is corrupt, truncated, of another data set
or fails its checksum, the message naming the file.
"""

from denseops.datasets import fashion_mnist, mnist
from denseops.datasets.load import DataNotFoundError

__all__ = ["DataNotFoundError", "fashion_mnist", "mnist"]
