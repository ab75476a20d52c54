"""What a data set is made of: four IDX files, their checksums and mirrors."""

from __future__ import annotations

from dataclasses import dataclass

IMAGES_MAGIC = 0x00000803  # uint8, 3 dims (count, rows, cols)
LABELS_MAGIC = 0x00000801  # uint8, 1 dim (count)

# The folder name of every data set the package ships (DatasetSpec.name of each
# module's SPEC; tests/test_datasets.py checks the two agree).
DATASET_NAMES = ("mnist", "fashion-mnist")


@dataclass(frozen=True)
class IdxFile:
    """One IDX file of a data set.

    Args:
        filename: Name without the ``.gz`` suffix, e.g.
            ``"train-images-idx3-ubyte"``. Both ``filename`` and
            ``filename + ".gz"`` are accepted on disk.
        magic: The IDX magic number the file must start with.
        raw_sha256: SHA-256 of the uncompressed file (header + data), or
            ``None`` when no trusted value is known. Checked for every
            source, so a recompressed copy still verifies.
        gz_sha256: SHA-256 of the ``.gz`` file as published on the mirrors,
            or ``None``. Only meaningful for bytes that came from a mirror,
            so it is checked on download and for files in the cache.
    """

    filename: str
    magic: int
    raw_sha256: str | None = None
    gz_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A Keras-style image classification data set stored as IDX files.

    Args:
        name: Folder name under the data root and the cache, e.g. ``"mnist"``.
        train_images, train_labels, test_images, test_labels: The four files.
        image_shape: ``(rows, cols)`` every image must have.
        mirrors: Base URLs (ending in ``/``) tried in order for downloads.
        npz_name: File name of a Keras-style ``.npz`` holding ``x_train``,
            ``y_train``, ``x_test``, ``y_test``, accepted instead of the IDX
            files.
    """

    name: str
    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile
    image_shape: tuple[int, int]
    mirrors: tuple[str, ...]
    npz_name: str

    @property
    def files(self) -> tuple[IdxFile, IdxFile, IdxFile, IdxFile]:
        """The four files in Keras's order: train images, train labels, test images, test labels."""
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# The four files of an MNIST-format data set, in Keras's order. Fashion-MNIST
# uses MNIST's very names, to be a drop-in replacement for it.
_MNIST_FORMAT_FILES = (
    ("train-images-idx3-ubyte", IMAGES_MAGIC),
    ("train-labels-idx1-ubyte", LABELS_MAGIC),
    ("t10k-images-idx3-ubyte", IMAGES_MAGIC),
    ("t10k-labels-idx1-ubyte", LABELS_MAGIC),
)

# SHA-256 of each data set's files as ``sha256sum`` prints them in its folder
# (so ``sha256sum -c`` checks a copy); a name without ``.gz`` is the sum of the
# uncompressed file.
_SHA256SUMS = {
    # Sums of the raw payloads (after gunzip): the same for every mirror and
    # for recompressed copies, so one check covers every source.
    "mnist": """\
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
""",
    # No trusted raw-payload sums are published for Fashion-MNIST: these are of
    # the published .gz files (the official MD5s are in the
    # zalandoresearch/fashion-mnist README), so they are checked on downloads
    # and on the cache; user-supplied copies get structural checks only.
    "fashion-mnist": """\
08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc  train-images-idx3-ubyte.gz
b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc  train-labels-idx1-ubyte.gz
78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229  t10k-images-idx3-ubyte.gz
42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf  t10k-labels-idx1-ubyte.gz
""",
}


def mnist_format(name: str, mirrors: tuple[str, ...]) -> DatasetSpec:
    """The spec of the MNIST-format data set ``name``: 28x28 images in the four
    files of ``_MNIST_FORMAT_FILES``, checked against ``_SHA256SUMS[name]``, or
    in ``<name>.npz``; downloads are tried from ``mirrors`` in order."""
    sums = {file: digest for digest, file in map(str.split, _SHA256SUMS[name].splitlines())}
    files = [
        IdxFile(
            filename,
            magic,
            raw_sha256=sums.get(filename),
            gz_sha256=sums.get(filename + ".gz"),
        )
        for filename, magic in _MNIST_FORMAT_FILES
    ]
    return DatasetSpec(name, *files, image_shape=(28, 28), mirrors=mirrors, npz_name=f"{name}.npz")
