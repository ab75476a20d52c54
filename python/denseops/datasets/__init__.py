"""Data sets as Keras loads them: ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

Files are searched in ``path=`` if given, else in ``$DENSEOPS_DATA`` if set
(each may name the folder holding the files or a root holding ``<name>/``),
else in ``~/.cache/denseops/<name>/``, then downloaded into that cache::

    >>> from denseops.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
"""

from denseops.datasets import fashion_mnist, mnist
from denseops.datasets.load import DataNotFoundError

__all__ = ["DataNotFoundError", "fashion_mnist", "mnist"]
