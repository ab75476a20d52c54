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
