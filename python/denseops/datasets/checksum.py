"""SHA-256 checks of data set files, with errors that say what to do."""

from __future__ import annotations

import hashlib

import numpy as np

from denseops.datasets.idx import GZIP_MAGIC, decompress, parse_idx
from denseops.datasets.spec import IdxFile


def check_sha256(data: bytes, expected: str, source: str, what: str) -> None:
    """Raise ValueError unless ``sha256(data)`` is ``expected``.

    Args:
        data: The bytes to hash.
        expected: Hex digest they must have.
        source: The file name or URL, used in the message.
        what: What was hashed, e.g. ``"uncompressed data"``.

    Example:
        >>> check_sha256(b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ...              "empty", "file")
    """
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ValueError(
            f"{source}: SHA-256 mismatch of the {what}: expected {expected}, got {actual}. "
            "The file is corrupt or is not the published data set; delete or replace it."
        )


def decode_idx_file(
    stored: bytes, idx_file: IdxFile, source: str, check_gz_sha256: bool
) -> np.ndarray:
    """Decompress, parse and verify one IDX file of a data set.

    The checksum of the published ``.gz``, when known and ``check_gz_sha256``
    is true (the bytes came from a mirror, directly or through the cache), is
    checked before anything is unpacked; a user's recompressed copy is
    legitimate, so local files skip it. Then the structure is checked, so a
    truncated file is reported as truncated, and then the raw-payload
    checksum, when known, for every source. Unpacking itself is bounded by
    the header's declared size (see ``idx.decompress``).

    Args:
        stored: File contents as stored (raw or gzip).
        idx_file: What the file must be.
        source: The file name or URL, used in error messages.
        check_gz_sha256: Whether to check ``idx_file.gz_sha256``.

    Returns:
        The parsed array.

    Raises:
        ValueError: Corrupt, truncated, wrong magic, or checksum mismatch.
    """
    if check_gz_sha256 and idx_file.gz_sha256 is not None and stored[:2] == GZIP_MAGIC:
        # Published bytes are verified before they are unpacked: nothing else is trusted.
        check_sha256(stored, idx_file.gz_sha256, source, "compressed file")
    raw = decompress(stored, source)
    array = parse_idx(raw, source, idx_file.magic)
    if idx_file.raw_sha256 is not None:
        check_sha256(raw, idx_file.raw_sha256, source, "uncompressed data")
    return array
