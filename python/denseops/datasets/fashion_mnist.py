"""Fashion-MNIST (Zalando article images), loaded as ``keras.datasets.fashion_mnist`` does."""

from __future__ import annotations

from os import PathLike

import numpy as np

from denseops.datasets.load import load_dataset
from denseops.datasets.spec import IMAGES_MAGIC, LABELS_MAGIC, DatasetSpec, IdxFile

# No trusted raw-payload checksums are published for Fashion-MNIST. These are
# SHA-256 of the published .gz files (the official MD5s are in the
# zalandoresearch/fashion-mnist README), so they are checked on downloads and
# on the cache; user-supplied copies get structural checks only.
SPEC = DatasetSpec(
    name="fashion-mnist",
    train_images=IdxFile(
        "train-images-idx3-ubyte",
        IMAGES_MAGIC,
        gz_sha256="08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    ),
    train_labels=IdxFile(
        "train-labels-idx1-ubyte",
        LABELS_MAGIC,
        gz_sha256="b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    ),
    test_images=IdxFile(
        "t10k-images-idx3-ubyte",
        IMAGES_MAGIC,
        gz_sha256="78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    ),
    test_labels=IdxFile(
        "t10k-labels-idx1-ubyte",
        LABELS_MAGIC,
        gz_sha256="42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    ),
    image_shape=(28, 28),
    # The authors' GitHub repository, Keras's mirror, then the authors' S3 site (http only,
    # safe because the bytes are checksummed).
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    npz_name="fashion-mnist.npz",
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


def load_data(
    path: str | PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images.

    Labels 0-9 name the classes in ``CLASS_NAMES``. Looks in ``path`` if
    given (a folder with the four IDX files, raw or ``.gz``, or with
    ``fashion-mnist.npz``; a folder holding ``fashion-mnist/`` with them; or
    a ``.npz`` file), else in ``$DENSEOPS_DATA`` if set (either folder
    form), else in ``~/.cache/denseops/fashion-mnist/``, else downloads into
    that cache. Relative paths are taken from the current working directory.

    Args:
        path: Optional folder or ``.npz`` file; when given, nowhere else is
            searched. A set ``$DENSEOPS_DATA`` is likewise the only place
            searched.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images shaped
        ``(N, 28, 28)`` and uint8 labels shaped ``(N,)``.

    Raises:
        FileNotFoundError: No data found and none could be downloaded; the
            message says where to put the files.
        ValueError: A file is corrupt, truncated, has the wrong magic number
            or checksum; the message names the file.

    Example:
        >>> from denseops.datasets import fashion_mnist
        >>> (x_train, y_train), _ = fashion_mnist.load_data()  # doctest: +SKIP
        >>> fashion_mnist.CLASS_NAMES[y_train[0]]  # doctest: +SKIP
        'Ankle boot'
    """
    return load_dataset(SPEC, path)
