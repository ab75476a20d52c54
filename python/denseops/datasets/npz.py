"""Reading Keras's ``mnist.npz`` layout: x_train, y_train, x_test, y_test."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from denseops import npz_entries
from denseops.datasets.idx import describe_start, expansion_limit, read_stored

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path, image_shape: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """Read the four Keras arrays from an ``.npz`` file.

    Only those four entries are read, each after its sizes are checked (see
    ``denseops.npz_entries``), its dtype is uint8 and its shape is that of
    images (``(N, *image_shape)``) or labels (``(N,)``), so a crafted file
    is refused before its data is unpacked.

    Args:
        path: The ``.npz`` file.
        image_shape: ``(rows, cols)`` the images must have, or None.

    Returns:
        A dict with keys ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    Raises:
        ValueError: The file is not a readable ``.npz``, lacks a key, or an
            entry is not what it should be.

    Example:
        >>> arrays = read_npz(Path("mnist.npz"))  # doctest: +SKIP
        >>> arrays["x_train"].shape  # doctest: +SKIP
        (60000, 28, 28)
    """
    stored = read_stored(path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(stored))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(
            f"{path}: not a readable .npz file ({err}); it {describe_start(stored)}"
        ) from None
    with archive:
        found = sorted(n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy"))
        missing = [key for key in NPZ_KEYS if key not in found]
        if missing:
            raise ValueError(
                f"{path}: missing array(s) {missing}; expected {list(NPZ_KEYS)}, found {found}"
            )
        try:
            return _read_entries(archive, len(stored), image_shape)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


def _read_entries(archive, stored_bytes, image_shape):
    infos = [archive.getinfo(f"{key}.npy") for key in NPZ_KEYS]
    unpacked = sum(info.file_size for info in infos)
    if sum(info.compress_size for info in infos) > stored_bytes or unpacked > expansion_limit(
        stored_bytes
    ):
        raise ValueError(
            f"its arrays declare {unpacked} bytes, more than a {stored_bytes}-byte file may "
            f"hold ({expansion_limit(stored_bytes)}): not a real data set"
        )
    arrays = {}
    for key in NPZ_KEYS:
        stream, shape, _, dtype = npz_entries.open_npy(archive, f"{key}.npy")
        stream.close()
        images = key.startswith("x_")
        wanted = (
            f"(N, {image_shape[0]}, {image_shape[1]})"
            if images and image_shape
            else ("(N, rows, cols)" if images else "(N,)")
        )
        fits = len(shape) == (3 if images else 1) and (
            not images or image_shape is None or tuple(shape[1:]) == tuple(image_shape)
        )
        if dtype != np.uint8 or not fits:
            raise ValueError(f"[{key!r}]: expected uint8 shaped {wanted}, got {dtype} {shape}")
        arrays[key] = npz_entries.read_npy(archive, f"{key}.npy")
    return arrays
