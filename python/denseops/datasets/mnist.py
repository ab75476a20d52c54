"""MNIST handwritten digits, loaded as ``keras.datasets.mnist`` does."""

from __future__ import annotations

from os import PathLike

from denseops.datasets.load import Split, load_dataset
from denseops.datasets.spec import mnist_format

SPEC = mnist_format(
    "mnist",
    # TensorFlow's and torchvision's mirrors; yann.lecun.com no longer serves the files freely.
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
)


def load_data(path: str | PathLike | None = None) -> tuple[Split, Split]:
    """Load MNIST: 60,000 training and 10,000 test 28x28 grayscale digits.

    Where the files are looked for (``path``, ``$DENSEOPS_DATA``, the cache,
    the mirrors), what is checked and what is raised: see ``denseops.datasets``.
    The SHA-256 of each uncompressed IDX file is checked wherever it came from.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images shaped
        ``(N, 28, 28)`` with values 0-255 and uint8 labels 0-9 shaped ``(N,)``.

    Example:
        >>> from denseops.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train[:3]  # doctest: +SKIP
        ((60000, 28, 28), array([5, 0, 4], dtype=uint8))
    """
    return load_dataset(SPEC, path)
