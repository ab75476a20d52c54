"""Fashion-MNIST (Zalando article images), loaded as ``keras.datasets.fashion_mnist`` does."""

from __future__ import annotations

from os import PathLike

from denseops.datasets.load import Split, load_dataset
from denseops.datasets.spec import mnist_format

SPEC = mnist_format(
    "fashion-mnist",
    # The authors' GitHub repository, Keras's mirror, then the authors' S3 site (http only,
    # safe because the bytes are checksummed).
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
)

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_data(path: str | PathLike | None = None) -> tuple[Split, Split]:
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images
    of clothing, their labels 0-9 naming the classes in ``CLASS_NAMES``.

    Where the files are looked for and what is raised: see ``denseops.datasets``.
    Only the ``.gz`` files have published checksums, so downloads and the cache
    are checked against them and other copies get the structural checks only.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images shaped
        ``(N, 28, 28)`` and uint8 labels shaped ``(N,)``.

    Example:
        >>> from denseops.datasets import fashion_mnist
        >>> (x_train, y_train), _ = fashion_mnist.load_data()  # doctest: +SKIP
        >>> fashion_mnist.CLASS_NAMES[y_train[0]]  # doctest: +SKIP
        'Ankle boot'
    """
    return load_dataset(SPEC, path)
