"""MNIST handwritten digits, loaded as ``keras.datasets.mnist`` does."""

from __future__ import annotations

from os import PathLike

import numpy as np

from denseops.datasets.load import load_dataset
from denseops.datasets.spec import IMAGES_MAGIC, LABELS_MAGIC, DatasetSpec, IdxFile

# Raw-payload SHA-256 (after gunzip): the same for every mirror and for
# recompressed copies, so one check covers every source.
SPEC = DatasetSpec(
    name="mnist",
    train_images=IdxFile(
        "train-images-idx3-ubyte",
        IMAGES_MAGIC,
        raw_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    train_labels=IdxFile(
        "train-labels-idx1-ubyte",
        LABELS_MAGIC,
        raw_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    test_images=IdxFile(
        "t10k-images-idx3-ubyte",
        IMAGES_MAGIC,
        raw_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    test_labels=IdxFile(
        "t10k-labels-idx1-ubyte",
        LABELS_MAGIC,
        raw_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    image_shape=(28, 28),
    # TensorFlow's and torchvision's mirrors; yann.lecun.com no longer serves the files freely.
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    npz_name="mnist.npz",
)


def load_data(
    path: str | PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST: 60,000 training and 10,000 test 28x28 grayscale digits.

    Looks in ``path`` if given (a folder with the four IDX files, raw or
    ``.gz``, or with ``mnist.npz``; a folder holding ``mnist/`` with them;
    or a ``.npz`` file), else in ``$DENSEOPS_DATA`` if set (either folder
    form), else in ``~/.cache/denseops/mnist/`` (``$XDG_CACHE_HOME``
    respected), else downloads into that cache. Relative paths are taken
    from the current working directory. The SHA-256 of each uncompressed
    IDX file is checked wherever it came from.

    Args:
        path: Optional folder or ``.npz`` file; when given, nowhere else is
            searched. A set ``$DENSEOPS_DATA`` is likewise the only place
            searched.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images shaped
        ``(N, 28, 28)`` with values 0-255 and uint8 labels 0-9 shaped ``(N,)``.

    Raises:
        FileNotFoundError: No data found and none could be downloaded; the
            message says where to put the files.
        ValueError: A file is corrupt, truncated, not MNIST, or fails its
            checksum; the message names the file.

    Example:
        >>> from denseops.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train[:3]  # doctest: +SKIP
        ((60000, 28, 28), array([5, 0, 4], dtype=uint8))
    """
    return load_dataset(SPEC, path)
